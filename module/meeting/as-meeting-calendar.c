/* Copyright (c) dovecot-activesync authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "str-sanitize.h"
#include "mail-storage.h"
#include "mail-search-build.h"
#include "as-command.h"
#include "as-user.h"
#include "as-store-itemuid.h"
#include "items/as-calendar.h"
#include "items/as-groupware-msg.h"
#include "items/as-mail-save.h"
#include "items/as-imip.h"
#include "items/as-meeting-request.h"
#include "meeting/as-meeting-calendar.h"

/* Where an invitation becomes an event: when the Inbox Sync of the
   first device sends the invitation (sync/as-sync-write.c). Delivery
   (LMTP) runs no code of ours that could write the calendar, and doing
   it at the Sync keeps it in the one process that owns the user's
   state. The event is found by its iCalendar UID: first the message
   the state store's item UID history (as-store-itemuid.c) last
   recorded for it, else in the folder itself (a body search narrowed
   by the UID, then the object's UID compared), so events other clients
   put there count too. The same history tells an event the user
   removed (declined, deleted) from one never seen, so the next device's
   Inbox Sync of the same invitation does not bring it back. */

static const char *const meeting_content_types[] = {
	"text/calendar", "application/ics", NULL
};

/* Longest part of a UID searched for: an iCalendar line is folded at 75
   octets, and "UID:" + this stays within one line */
#define MEETING_UID_SEARCH_MAX 40

const char *const *as_meeting_user_addresses(struct as_cmd_context *ctx)
{
	ARRAY_TYPE(const_string) addrs;
	const char *const *list, *addr;

	t_array_init(&addrs, 4);
	addr = as_user_primary_address(ctx->set, ctx->username);
	array_push_back(&addrs, &addr);
	if (strcmp(addr, ctx->username) != 0)
		array_push_back(&addrs, &ctx->username);
	if (ctx->set->user_addresses != NULL) {
		list = t_strsplit_spaces(ctx->set->user_addresses, ", \t");
		for (; *list != NULL; list++) {
			if (strchr(*list, '@') != NULL)
				array_push_back(&addrs, list);
		}
	}
	array_append_zero(&addrs);
	return array_front(&addrs);
}

int as_meeting_calendar_open(struct as_cmd_context *ctx,
			     struct as_meeting_calendar *cal_r,
			     const char **error_r)
{
	ARRAY_TYPE(as_folder_info) folders;
	const struct as_folder_info *folder;

	i_zero(cal_r);
	cal_r->ctx = ctx;
	t_array_init(&folders, 32);
	if (as_folders_list(ctx, &folders, error_r) < 0)
		return -1;
	array_foreach(&folders, folder) {
		if (folder->type == AS_FOLDER_TYPE_CALENDAR &&
		    !folder->noselect) {
			cal_r->folder = *folder;
			break;
		}
	}
	if (cal_r->folder.vname == NULL)
		return 0;
	if (as_folders_open(ctx, &cal_r->folder, 0, &cal_r->box,
			    error_r) < 0)
		return -1;
	if (mailbox_sync(cal_r->box, 0) < 0) {
		*error_r = mailbox_get_last_internal_error(cal_r->box, NULL);
		mailbox_free(&cal_r->box);
		return -1;
	}
	return 1;
}

void as_meeting_calendar_close(struct as_meeting_calendar *cal)
{
	if (cal->box != NULL)
		mailbox_free(&cal->box);
}

/* The message the state store last recorded for the UID, if it is
   still there and still that event: no search needed */
static bool
meeting_calendar_find_recorded(struct as_meeting_calendar *cal,
			       const char *item_uid, uint32_t *uid_r,
			       const char **ical_r)
{
	ARRAY_TYPE(uint32_t) uids;
	struct mailbox_transaction_context *t;
	struct mail *mail;
	const uint32_t *last;
	const char *ical, *uid, *error;
	bool found = FALSE;
	int seq;

	if (as_store_itemuid_get(cal->ctx->store, pool_datastack_create(),
				 cal->ctx->username, cal->folder.guid,
				 item_uid, &uids, &error) <= 0 ||
	    array_count(&uids) == 0)
		return FALSE;
	last = array_back(&uids);
	t = mailbox_transaction_begin(cal->box, 0, __func__);
	mail = mail_alloc(t, 0, NULL);
	if (mail_set_uid(mail, *last) &&
	    as_groupware_msg_read(mail, meeting_content_types, &ical,
				  &error) > 0 &&
	    as_imip_uid(ical, &uid, &seq) && strcmp(uid, item_uid) == 0) {
		*uid_r = *last;
		*ical_r = ical;
		found = TRUE;
	}
	mail_free(&mail);
	(void)mailbox_transaction_commit(&t);
	return found;
}

int as_meeting_calendar_find(struct as_meeting_calendar *cal,
			     const char *item_uid, uint32_t *uid_r,
			     const char **ical_r, const char **error_r)
{
	struct mailbox_transaction_context *t;
	struct mail_search_args *args;
	struct mail_search_arg *arg;
	struct mail_search_context *search;
	struct mail *mail;
	const char *ical, *uid, *error;
	int seq, ret, found = 0;

	*uid_r = 0;
	*ical_r = NULL;
	if (meeting_calendar_find_recorded(cal, item_uid, uid_r, ical_r))
		return 1;
	args = mail_search_build_init();
	arg = mail_search_build_add(args, SEARCH_BODY);
	arg->value.str = p_strndup(args->pool, item_uid,
		I_MIN(strlen(item_uid), MEETING_UID_SEARCH_MAX));
	t = mailbox_transaction_begin(cal->box, 0, __func__);
	search = mailbox_search_init(t, args, NULL, 0, NULL);
	mail_search_args_unref(&args);
	while (mailbox_search_next(search, &mail)) {
		ret = as_groupware_msg_read(mail, meeting_content_types,
					    &ical, &error);
		if (ret <= 0)
			continue;
		if (!as_imip_uid(ical, &uid, &seq) ||
		    strcmp(uid, item_uid) != 0)
			continue;
		if (found > 0) {
			/* two messages with one UID: the newest counts */
			e_warning(cal->ctx->event, "Calendar %s has UID %s "
				  "in messages %u and %u",
				  cal->folder.vname,
				  str_sanitize(item_uid, 80), *uid_r,
				  mail->uid);
		}
		*uid_r = mail->uid;
		*ical_r = ical;
		found = 1;
	}
	if (mailbox_search_deinit(&search) < 0) {
		*error_r = mailbox_get_last_internal_error(cal->box, NULL);
		found = -1;
	}
	(void)mailbox_transaction_commit(&t);
	return found;
}

int as_meeting_calendar_save(struct as_meeting_calendar *cal,
			     const char *ical, uint32_t old_uid,
			     uint32_t *uid_r, const char **error_r)
{
	struct as_cmd_context *ctx = cal->ctx;
	struct as_store_itemuid_update upd;
	struct as_groupware_msg msg;
	struct as_event event;
	const char *warning, *error;
	string_t *dest = t_str_new(2048);

	if (as_calendar_ical_read(ical, &event, &warning, error_r) < 0)
		return -1;
	i_zero(&msg);
	msg.from = as_user_primary_address(ctx->set, ctx->username);
	msg.subject = event.subject;
	msg.summary = as_calendar_summary(&event);
	msg.content_type = "text/calendar";
	msg.filename = "event.ics";
	msg.object = ical;
	as_groupware_msg_build(&msg, dest);
	/* new message first, then the old one goes: a failure between the
	   two leaves two copies (found as one by UID), never none */
	if (as_mail_save(cal->box, str_data(dest), str_len(dest), MAIL_SEEN,
			 NULL, uid_r, error_r) < 0)
		return -1;
	if (old_uid != 0 &&
	    as_meeting_calendar_delete(cal, old_uid, &error) < 0) {
		e_error(ctx->event, "Removing the old version of %s failed: "
			"%s", event.uid == NULL ? "" : event.uid, error);
	}
	if (event.uid != NULL && *uid_r != 0) {
		upd.item_uid = event.uid;
		upd.uid = *uid_r;
		if (as_store_itemuid_record(ctx->store, ctx->username,
					    cal->folder.guid, &upd, 1,
					    &error) < 0) {
			e_error(ctx->event, "Recording the calendar item %s "
				"failed: %s", str_sanitize(event.uid, 80),
				error);
		}
	}
	return 0;
}

int as_meeting_calendar_delete(struct as_meeting_calendar *cal, uint32_t uid,
			       const char **error_r)
{
	struct mailbox_transaction_context *t;
	struct mail *mail;
	int ret = 0;

	t = mailbox_transaction_begin(cal->box, 0, __func__);
	mail = mail_alloc(t, 0, NULL);
	if (mail_set_uid(mail, uid))
		mail_expunge(mail);
	mail_free(&mail);
	if (mailbox_transaction_commit(&t) < 0) {
		*error_r = mailbox_get_last_internal_error(cal->box, NULL);
		ret = -1;
	}
	return ret;
}

/* Was an event with this UID ever in the calendar? */
static bool meeting_was_there(struct as_meeting_calendar *cal,
			      const char *item_uid)
{
	ARRAY_TYPE(uint32_t) uids;
	const char *error;
	int ret;

	ret = as_store_itemuid_get(cal->ctx->store, pool_datastack_create(),
				   cal->ctx->username, cal->folder.guid,
				   item_uid, &uids, &error);
	if (ret < 0) {
		e_error(cal->ctx->event, "Item UID lookup failed: %s", error);
		return FALSE;
	}
	return ret > 0;
}

/* An attendee answered a meeting the user organizes: their PARTSTAT in
   the event. A reply from someone not invited, or to no event of the
   user's, is logged and changes nothing. */
static int meeting_apply_reply(struct as_meeting_calendar *cal,
			       const struct as_meeting_request *mr,
			       int found, uint32_t old_uid, const char *event,
			       const char **error_r)
{
	struct as_cmd_context *ctx = cal->ctx;
	const char *ical, *attendee, *error;
	uint32_t new_uid;

	if (found == 0 ||
	    !as_imip_is_organizer(event, as_meeting_user_addresses(ctx))) {
		e_info(ctx->event, "Meeting %s: a reply to no meeting the user "
		       "organizes: ignored", str_sanitize(mr->imip.uid, 80));
		return 0;
	}
	if (as_imip_event_apply_reply(event, mr->ical, &ical, &attendee,
				      &error) < 0) {
		e_info(ctx->event, "Meeting %s: %s: ignored",
		       str_sanitize(mr->imip.uid, 80), error);
		return 0;
	}
	if (as_meeting_calendar_save(cal, ical, old_uid, &new_uid,
				     error_r) < 0)
		return -1;
	e_debug(ctx->event, "Meeting %s: the answer of %s recorded",
		str_sanitize(mr->imip.uid, 80), attendee);
	return 0;
}

int as_meeting_place_in(struct as_meeting_calendar *cal,
			const struct as_meeting_request *mr,
			const char **error_r)
{
	struct as_cmd_context *ctx = cal->ctx;
	const struct as_imip *imip = &mr->imip;
	const char *event, *ical, *uid;
	uint32_t old_uid, new_uid;
	int ret, seq;

	ret = as_meeting_calendar_find(cal, imip->uid, &old_uid, &event,
				       error_r);
	if (ret < 0)
		return -1;
	if (imip->method == AS_IMIP_METHOD_REPLY)
		return meeting_apply_reply(cal, mr, ret, old_uid, event,
					   error_r);
	if (imip->method == AS_IMIP_METHOD_CANCEL) {
		if (ret == 0)
			return 0;
		if (as_imip_event_cancel(event, imip, &ical, error_r) < 0)
			return -1;
		if (as_meeting_calendar_save(cal, ical, old_uid, &new_uid,
					     error_r) < 0)
			return -1;
		e_info(ctx->event, "Meeting %s cancelled by the organizer",
		       str_sanitize(imip->uid, 80));
		return 0;
	}
	if (ret > 0 && imip->have_recurrence_id) {
		/* one occurrence of the series that is there */
		bool changed;

		if (as_imip_event_merge_occurrence(event, mr->ical,
				as_meeting_user_addresses(ctx), &ical,
				&changed, error_r) < 0)
			return -1;
		if (!changed)
			return 0;
		if (as_meeting_calendar_save(cal, ical, old_uid, &new_uid,
					     error_r) < 0)
			return -1;
		e_debug(ctx->event, "Meeting %s: occurrence %s merged",
			str_sanitize(imip->uid, 80),
			dec2str(imip->recurrence_id));
		return 0;
	}
	if (ret > 0) {
		if (!as_imip_uid(event, &uid, &seq) || seq >= imip->sequence)
			return 0;
	} else if (meeting_was_there(cal, imip->uid)) {
		/* the user declined or deleted it already */
		return 0;
	} else if (imip->have_recurrence_id) {
		e_info(ctx->event, "Meeting %s: invitation to one occurrence "
		       "of a series not in the calendar: not placed",
		       str_sanitize(imip->uid, 80));
		return 0;
	}
	if (as_imip_event_from_request(mr->ical, as_meeting_user_addresses(ctx),
				       &ical, error_r) < 0)
		return -1;
	if (as_meeting_calendar_save(cal, ical, ret > 0 ? old_uid : 0,
				     &new_uid, error_r) < 0)
		return -1;
	e_debug(ctx->event, "Meeting %s placed in %s as UID %u",
		str_sanitize(imip->uid, 80), cal->folder.vname, new_uid);
	return 0;
}

int as_meeting_place(struct as_cmd_context *ctx,
		     const struct as_meeting_request *mr,
		     const char **error_r)
{
	struct as_meeting_calendar cal;
	int ret;

	ret = as_meeting_calendar_open(ctx, &cal, error_r);
	if (ret <= 0)
		return ret;
	ret = as_meeting_place_in(&cal, mr, error_r);
	as_meeting_calendar_close(&cal);
	return ret;
}
