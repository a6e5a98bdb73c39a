/* Copyright (c) dovecot-activesync authors, see the included COPYING file */

/* The device's Commands of one collection: Change, Delete, Fetch, Add
   (16.x drafts, groupware items), applied to the mailbox in one
   transaction. */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "strnum.h"
#include "str-sanitize.h"
#include "strescape.h"
#include "ioloop.h"
#include "hostpid.h"
#include "seq-range-array.h"
#include "imap-seqset.h"
#include "imap-util.h"
#include "mail-storage.h"
#include "mail-user.h"
#include "settings-parser.h"
#include "as-command.h"
#include "as-folders.h"
#include "push/as-watch.h"
#include "sync/as-sync-options.h"
#include "sync/as-sync-changes.h"
#include "sync/as-sync-state.h"
#include "items/as-email.h"
#include "items/as-flag.h"
#include "items/as-categories.h"
#include "items/as-draft.h"
#include "items/as-item.h"
#include "send/as-send-draft.h"
#include "items/as-mail-save.h"
#include "as-store-itemprops.h"
#include "sync/as-sync-notice.h"
#include "items/as-calendar.h"
#include "items/as-groupware-msg.h"
#include "meeting/as-meeting-organizer.h"

#include "sync/as-sync-run.h"

#include <time.h>


/* ---- client commands ---- */

/* The message a ServerId names now (an edited groupware item has a new
   UID under the ServerId the device has) */
static bool
sync_client_uid(struct sync_mail_run *run, const char *server_id,
		uint32_t *uid_r)
{
	uint32_t id;

	if (server_id == NULL ||
	    !as_email_parse_server_id(server_id, run->folder.server_id, &id))
		return FALSE;
	*uid_r = as_sync_state_alias_uid(&run->extra, id);
	return TRUE;
}

static uint32_t sync_client_id(struct sync_mail_run *run, uint32_t uid)
{
	return as_sync_state_alias_id(&run->extra, uid);
}

static void
sync_props_update_add(struct sync_mail_run *run, uint32_t uid,
		      const char *props)
{
	struct sync_props_update *upd;

	if (!array_is_created(&run->props_updates))
		t_array_init(&run->props_updates, 8);
	upd = array_append_space(&run->props_updates);
	upd->uid = uid;
	upd->props = t_strdup(props);
}

/* After the mailbox commit: the flag details for what was changed */
static void sync_props_updates_store(struct sync_mail_run *run)
{
	struct as_cmd_context *ctx = run->sctx->ctx;
	const struct sync_props_update *upd;
	const char *error;
	int ret;

	if (!array_is_created(&run->props_updates) || !run->have_box_guid)
		return;
	array_foreach(&run->props_updates, upd) {
		if (upd->props != NULL) {
			ret = as_store_itemprops_put(ctx->store, ctx->username,
						     run->box_guid, upd->uid,
						     upd->props, &error);
		} else {
			ret = as_store_itemprops_delete(ctx->store,
				ctx->username, run->box_guid, upd->uid,
				&error);
		}
		if (ret < 0) {
			e_error(ctx->event, "Sync: storing item properties "
				"of UID %u failed: %s", upd->uid, error);
		}
	}
}

/* Expunged messages: drop their item properties (only read
   transactions unless there is something to drop) */
void
as_sync_props_forget(struct sync_mail_run *run, const ARRAY_TYPE(uint32_t) *uids)
{
	struct as_cmd_context *ctx = run->sctx->ctx;
	const uint32_t *uidp;
	const char *value, *error;

	if (!run->have_box_guid)
		return;
	array_foreach(uids, uidp) {
		if (as_store_itemprops_get(ctx->store, pool_datastack_create(),
					   ctx->username, run->box_guid,
					   *uidp, &value, &error) > 0 &&
		    as_store_itemprops_delete(ctx->store, ctx->username,
					      run->box_guid, *uidp,
					      &error) < 0) {
			e_error(ctx->event, "Sync: dropping item properties "
				"of UID %u failed: %s", *uidp, error);
		}
	}
}

/* Replace the mail's category keywords with the device's list */
static void
sync_client_categories(struct sync_mail_run *run, struct mail *mail,
		       const struct wbxml_node *cats)
{
	ARRAY_TYPE(const_string) want, drop;
	const struct wbxml_node *child;
	const char *const *kw, *keyword, *const *w;
	struct mail_keywords *keywords;
	bool keep;

	t_array_init(&want, 8);
	t_array_init(&drop, 8);
	wbxml_node_foreach_child(cats, child) {
		if (child->tag != EAS_EMAIL_CATEGORY)
			continue;
		keyword = as_category_to_keyword(wbxml_node_text(child));
		if (keyword == NULL) {
			e_info(run->sctx->ctx->event, "Sync: category '%s' "
			       "can't be stored, ignored",
			       str_sanitize(wbxml_node_text(child), 64));
			continue;
		}
		array_push_back(&want, &keyword);
	}
	for (kw = mail_get_keywords(mail); *kw != NULL; kw++) {
		if (as_keyword_to_category(*kw) == NULL)
			continue;
		keep = FALSE;
		array_foreach(&want, w) {
			if (strcasecmp(*w, *kw) == 0)
				keep = TRUE;
		}
		if (!keep) {
			keyword = t_strdup(*kw);
			array_push_back(&drop, &keyword);
		}
	}
	array_append_zero(&want);
	array_append_zero(&drop);
	if (array_count(&drop) > 1) {
		keywords = mailbox_keywords_create_valid(run->box,
							 array_front(&drop));
		mail_update_keywords(mail, MODIFY_REMOVE, keywords);
		mailbox_keywords_unref(&keywords);
	}
	if (array_count(&want) > 1) {
		keywords = mailbox_keywords_create_valid(run->box,
							 array_front(&want));
		mail_update_keywords(mail, MODIFY_ADD, keywords);
		mailbox_keywords_unref(&keywords);
	}
}

/* Did the server change this item since the state the device has? With
   the server-wins policy (Conflict 1, the default) the client's change
   is then not applied. A repeated request (replay) is not a conflict:
   its own first run changed the item. */
static bool
sync_client_change_conflicts(struct sync_mail_run *run, struct mail *mail)
{
	if (run->replay || run->extra.options.conflict == 0)
		return FALSE;
	if (!seq_range_exists(&run->state.uids, mail->uid))
		return FALSE;
	if (array_is_created(&run->extra.pending_changes) &&
	    seq_range_exists(&run->extra.pending_changes, mail->uid))
		return TRUE;
	return mail_get_modseq(mail) > run->state.highest_modseq;
}

/* ---- drafts (16.x) ---- */

/* device property: ClientId of an Add -> the UID it was saved as, so a
   repeated request gets the same ServerId instead of a second draft */
#define AS_SYNC_PROP_CLIENT_ID "cid:"

static bool sync_client_is_draft_folder(struct sync_mail_run *run)
{
	return run->sctx->ctx->req->version >= AS_VERSION_16_0 &&
		run->folder.type == AS_FOLDER_TYPE_DRAFTS;
}

static const char *sync_user_address(struct as_cmd_context *ctx)
{
	if (strchr(ctx->username, '@') != NULL)
		return ctx->username;
	return t_strconcat(ctx->username, "@", my_hostname, NULL);
}

/* Save a message the device created (a draft, a note) into the folder */
static int
sync_save_message(struct sync_mail_run *run, const string_t *msg,
		  enum mail_flags flags, const char *const *keywords,
		  const char *what, uint32_t *uid_r, unsigned int *status_r)
{
	struct mail_keywords *kw = NULL;
	const char *error;
	int ret;

	if (keywords != NULL && keywords[0] != NULL)
		kw = mailbox_keywords_create_valid(run->box, keywords);
	ret = as_mail_save(run->box, str_data(msg), str_len(msg), flags, kw,
			   uid_r, &error);
	if (kw != NULL)
		mailbox_keywords_unref(&kw);
	if (ret < 0 || *uid_r == 0) {
		e_error(run->sctx->ctx->event, "Sync: saving a %s to %s "
			"failed: %s", what, mailbox_get_vname(run->box),
			ret < 0 ? error : "no UID assigned");
		*status_r = AS_SYNC_STATUS_SERVER_ERROR;
		return -1;
	}
	return 0;
}

static int
sync_draft_save(struct sync_mail_run *run, const struct wbxml_node *data,
		struct mail *base, enum mail_flags flags,
		const char *const *keywords, uint32_t *uid_r,
		unsigned int *status_r)
{
	struct as_cmd_context *ctx = run->sctx->ctx;
	string_t *msg = t_str_new(1024);
	const char *error;

	if (as_draft_build(data, base, sync_user_address(ctx), msg,
			   &error) < 0) {
		e_info(ctx->event, "Sync: draft refused: %s", error);
		*status_r = AS_SYNC_STATUS_CONVERSION_ERROR;
		return -1;
	}
	return sync_save_message(run, msg, flags | MAIL_DRAFT, keywords,
				 "draft", uid_r, status_r);
}

/* ---- meetings the user organizes ---- */

static const char *const sync_calendar_types[] = {
	"text/calendar", "application/ics", NULL
};

/* Remember a device's change of an event (old: the message before, NULL
   for an Add; new_uid 0 for a Delete) for after the commit */
static void
sync_meeting_change_add(struct sync_mail_run *run, struct mail *old,
			uint32_t new_uid)
{
	struct as_cmd_context *ctx = run->sctx->ctx;
	struct sync_meeting_change *change;
	const char *ical = NULL, *error;

	if (run->item_class != &as_item_class_calendar)
		return;
	if (old != NULL &&
	    as_groupware_msg_read(old, sync_calendar_types, &ical,
				  &error) <= 0) {
		if (new_uid == 0)
			return;
		ical = NULL;
	}
	if (!array_is_created(&run->meeting_changes))
		p_array_init(&run->meeting_changes, ctx->pool, 4);
	change = array_append_space(&run->meeting_changes);
	change->old_ical = p_strdup(ctx->pool, ical);
	change->new_uid = new_uid;
}

/* After the commit: invitations and cancellations to the attendees */
static void sync_meeting_changes_send(struct sync_mail_run *run)
{
	struct as_cmd_context *ctx = run->sctx->ctx;
	const struct sync_meeting_change *change;
	struct as_meeting_change mc;
	struct mailbox_transaction_context *t;
	struct mail *mail;
	const char *error;

	if (!array_is_created(&run->meeting_changes))
		return;
	(void)mailbox_sync(run->box, 0);
	t = mailbox_transaction_begin(run->box, 0, __func__);
	mail = mail_alloc(t, 0, NULL);
	array_foreach(&run->meeting_changes, change) T_BEGIN {
		i_zero(&mc);
		mc.old_ical = change->old_ical;
		if (change->new_uid != 0 &&
		    (!mail_set_uid(mail, change->new_uid) ||
		     as_groupware_msg_read(mail, sync_calendar_types,
					   &mc.new_ical, &error) <= 0))
			mc.new_ical = NULL;
		if (mc.new_ical != NULL || change->new_uid == 0)
			as_meeting_organizer_changed(ctx, &mc);
	} T_END;
	mail_free(&mail);
	(void)mailbox_transaction_commit(&t);
	array_clear(&run->meeting_changes);
}

/* ---- items a device creates and edits (notes, contacts, tasks) ---- */

static int
sync_item_save(struct sync_mail_run *run, const struct wbxml_node *data,
	       struct mail *base, const char *instance_id,
	       bool delete_instance, enum mail_flags flags, uint32_t *uid_r,
	       unsigned int *status_r)
{
	struct as_cmd_context *ctx = run->sctx->ctx;
	const struct as_item_class *class = run->item_class;
	string_t *msg = t_str_new(1024);
	struct as_item_params params;
	struct as_item_build build;
	const char *const *keywords = NULL, *error;

	i_zero(&params);
	params.version = ctx->req->version;
	params.folder_id = run->folder.server_id;
	as_sync_state_supported(&run->extra, &params);
	i_zero(&build);
	build.data = data;
	build.base = base;
	build.from = sync_user_address(ctx);
	build.params = &params;
	build.instance_id = instance_id;
	build.delete_instance = delete_instance;
	if (class->build(&build, msg, &keywords, &error) < 0) {
		e_info(ctx->event, "Sync: %s item refused: %s", class->name,
		       error);
		*status_r = AS_SYNC_STATUS_CONVERSION_ERROR;
		return -1;
	}
	if (sync_save_message(run, msg, flags, keywords, class->name,
			      uid_r, status_r) < 0)
		return -1;
	sync_meeting_change_add(run, base, *uid_r);
	return 0;
}

/* ---- an item replaced earlier in the same request ---- */

/* The request's transaction can't see a message saved during the
   request (its view is not synced while the transaction is open), so a
   second Change or a Delete of an item this request already replaced
   reaches the replacement through a second instance of the folder. */
struct sync_fresh_mail {
	struct mailbox *box;
	struct mailbox_transaction_context *t;
	struct mail *mail;
};

static bool sync_replaced_here(struct sync_mail_run *run, uint32_t uid)
{
	return array_is_created(&run->client_added) &&
		seq_range_exists(&run->client_added, uid);
}

/* Returns 1 with the mail, 0 if it is gone, -1 on error */
static int sync_fresh_mail_open(struct sync_mail_run *run, uint32_t uid,
				struct sync_fresh_mail *fm_r)
{
	i_zero(fm_r);
	fm_r->box = mailbox_alloc(mailbox_get_namespace(run->box)->list,
				  mailbox_get_vname(run->box), 0);
	if (mailbox_sync(fm_r->box, 0) < 0) {
		e_error(run->sctx->ctx->event, "Sync: reopening %s failed: %s",
			mailbox_get_vname(run->box),
			mailbox_get_last_internal_error(fm_r->box, NULL));
		mailbox_free(&fm_r->box);
		return -1;
	}
	fm_r->t = mailbox_transaction_begin(fm_r->box, 0, __func__);
	fm_r->mail = mail_alloc(fm_r->t, 0, NULL);
	if (!mail_set_uid(fm_r->mail, uid))
		return 0;
	return 1;
}

static int sync_fresh_mail_close(struct sync_mail_run *run,
				 struct sync_fresh_mail *fm)
{
	int ret = 0;

	mail_free(&fm->mail);
	if (mailbox_transaction_commit(&fm->t) < 0) {
		e_error(run->sctx->ctx->event, "Sync: expunging from %s "
			"failed: %s", mailbox_get_vname(fm->box),
			mailbox_get_last_internal_error(fm->box, NULL));
		ret = -1;
	}
	mailbox_free(&fm->box);
	return ret;
}

/* The replacement uid of this request is replaced again (new_uid) or
   deleted (0): it never reached the device, so it leaves no trace in
   the state */
static void sync_replaced_again(struct sync_mail_run *run, uint32_t uid,
				uint32_t new_uid)
{
	uint32_t id = sync_client_id(run, uid);

	seq_range_array_remove(&run->client_added, uid);
	seq_range_array_remove(&run->client_changed, uid);
	if (new_uid != 0) {
		seq_range_array_add(&run->client_added, new_uid);
		seq_range_array_add(&run->client_changed, new_uid);
	}
	as_sync_state_alias_move(&run->extra, id, new_uid);
}

static void
sync_client_replace_again(struct sync_mail_run *run, uint32_t uid,
			  const struct wbxml_node *data, const char *server_id,
			  unsigned int cmd_tag, const char *instance_id)
{
	struct sync_fresh_mail fm;
	unsigned int status;
	uint32_t new_uid;
	int ret;

	ret = sync_fresh_mail_open(run, uid, &fm);
	if (ret <= 0) {
		if (ret == 0)
			(void)sync_fresh_mail_close(run, &fm);
		as_sync_response_add(run, cmd_tag, server_id, NULL, ret == 0 ?
			AS_SYNC_STATUS_OBJECT_NOT_FOUND :
			AS_SYNC_STATUS_SERVER_ERROR, 0);
		return;
	}
	if (sync_item_save(run, data, fm.mail, instance_id,
			   cmd_tag == EAS_AIRSYNC_DELETE,
			   mail_get_flags(fm.mail) & ENUM_NEGATE(MAIL_RECENT),
			   &new_uid, &status) < 0) {
		(void)sync_fresh_mail_close(run, &fm);
		as_sync_response_add(run, cmd_tag, server_id, NULL, status, 0);
		return;
	}
	mail_expunge(fm.mail);
	(void)sync_fresh_mail_close(run, &fm);
	sync_replaced_again(run, uid, new_uid);
	e_debug(run->sctx->ctx->event, "Sync: %s UID %u (replaced in this "
		"request) replaced by UID %u", run->item_class->name, uid,
		new_uid);
}

/* A Delete of an item this request replaced: the replacement goes */
static void
sync_client_delete_replaced(struct sync_mail_run *run, uint32_t uid,
			    const char *server_id)
{
	struct sync_fresh_mail fm;
	int ret;

	ret = sync_fresh_mail_open(run, uid, &fm);
	if (ret > 0) {
		sync_meeting_change_add(run, fm.mail, 0);
		mail_expunge(fm.mail);
	}
	if (ret >= 0 && sync_fresh_mail_close(run, &fm) < 0)
		ret = -1;
	if (ret < 0) {
		as_sync_response_add(run, EAS_AIRSYNC_DELETE, server_id, NULL,
				  AS_SYNC_STATUS_SERVER_ERROR, 0);
		return;
	}
	sync_replaced_again(run, uid, 0);
	seq_range_array_add(&run->client_deleted, uid);
}

/* A groupware Change carries the whole item: save it as a new message
   and expunge the old one. The device keeps its ServerId: the state
   maps it to the new UID, and the new message is one the device has. */
static void
sync_client_item_replace(struct sync_mail_run *run, struct mail *mail,
			 const struct wbxml_node *data, const char *server_id,
			 unsigned int cmd_tag, const char *instance_id)
{
	unsigned int status;
	uint32_t uid, id = sync_client_id(run, mail->uid);

	if (sync_client_change_conflicts(run, mail)) {
		e_debug(run->sctx->ctx->event, "Sync: conflict on UID %u "
			"of %s, server wins", mail->uid,
			mailbox_get_vname(run->box));
		as_sync_response_add(run, cmd_tag, server_id, NULL,
				  AS_SYNC_STATUS_CONFLICT, 0);
		return;
	}
	if (sync_item_save(run, data, mail, instance_id,
			   cmd_tag == EAS_AIRSYNC_DELETE,
			   mail_get_flags(mail) & ENUM_NEGATE(MAIL_RECENT),
			   &uid, &status) < 0) {
		as_sync_response_add(run, cmd_tag, server_id, NULL,
				  status, 0);
		return;
	}
	mail_expunge(mail);
	seq_range_array_add(&run->client_deleted, mail->uid);
	seq_range_array_add(&run->client_added, uid);
	/* the device has this version: no Change back for it */
	seq_range_array_add(&run->client_changed, uid);
	as_sync_state_alias_move(&run->extra, id, uid);
	e_debug(run->sctx->ctx->event, "Sync: %s UID %u replaced by UID %u",
		run->item_class->name, mail->uid, uid);
}


/* A quarantined device may keep drafts but sends nothing (see
   as_cmd_quarantine_check()): Status 6, the draft stays. */
static unsigned int
sync_client_send_draft(struct sync_mail_run *run, uint32_t uid,
		       const char *client_id)
{
	struct as_cmd_context *ctx = run->sctx->ctx;

	if (ctx->device != NULL &&
	    ctx->device->access == AS_DEVICE_ACCESS_QUARANTINE) {
		e_info(ctx->event, "Sync: draft UID %u not sent: device is "
		       "quarantined (waiting for the admin's approval)", uid);
		return AS_SYNC_STATUS_CONVERSION_ERROR;
	}
	return as_send_draft(ctx, run->box, uid, client_id);
}

static void
sync_client_add(struct sync_mail_run *run, const struct wbxml_node *cmd,
		const char *client_id)
{
	struct as_cmd_context *ctx = run->sctx->ctx;
	const struct wbxml_node *data;
	struct mailbox_transaction_context *t;
	struct mail *mail;
	const char *prop, *value, *error;
	unsigned int status;
	uint32_t uid = 0;
	bool exists = FALSE;

	if (client_id == NULL || *client_id == '\0') {
		e_info(ctx->event, "Sync: Add without ClientId");
		as_sync_response_add(run, EAS_AIRSYNC_ADD, NULL, "",
				  AS_SYNC_STATUS_PROTOCOL_ERROR, 0);
		return;
	}
	if (run->item_class->build == NULL &&
	    !sync_client_is_draft_folder(run)) {
		/* mail arrives by delivery; only 16.x drafts (and groupware
		   items) are created by Sync */
		e_info(ctx->event, "Sync: client Add to mail folder %s "
		       "refused", run->folder.server_id);
		as_sync_response_add(run, EAS_AIRSYNC_ADD, NULL, client_id,
				  AS_SYNC_STATUS_CONVERSION_ERROR, 0);
		return;
	}
	data = wbxml_node_child(cmd, EAS_AIRSYNC_APPLICATIONDATA);
	if (data == NULL) {
		as_sync_response_add(run, EAS_AIRSYNC_ADD, NULL, client_id,
				  AS_SYNC_STATUS_PROTOCOL_ERROR, 0);
		return;
	}
	prop = t_strdup_printf("%s%s:%s", AS_SYNC_PROP_CLIENT_ID,
			       run->coll->collection_id, client_id);
	if (as_store_device_prop_get(ctx->store, pool_datastack_create(),
				     ctx->username, ctx->req->device_id,
				     prop, &value, &error) < 0) {
		e_error(ctx->event, "Sync: ClientId lookup: %s", error);
		as_sync_response_add(run, EAS_AIRSYNC_ADD, NULL, client_id,
				  AS_SYNC_STATUS_SERVER_ERROR, 0);
		return;
	}
	if (value != NULL && str_to_uint32(value, &uid) == 0 && uid != 0) {
		t = mailbox_transaction_begin(run->box, 0, "activesync add");
		mail = mail_alloc(t, 0, NULL);
		exists = mail_set_uid(mail, uid);
		mail_free(&mail);
		(void)mailbox_transaction_commit(&t);
	}
	if (!exists) {
		if (run->item_class->build != NULL ?
		    sync_item_save(run, data, NULL, NULL, FALSE, MAIL_SEEN, &uid,
				   &status) < 0 :
		    sync_draft_save(run, data, NULL, MAIL_SEEN, NULL, &uid,
				    &status) < 0) {
			as_sync_response_add(run, EAS_AIRSYNC_ADD, NULL,
					  client_id, status, 0);
			return;
		}
		if (as_store_device_prop_put(ctx->store, ctx->username,
					     ctx->req->device_id, prop,
					     dec2str(uid), &error) < 0)
			e_error(ctx->event, "Sync: ClientId record: %s", error);
		e_debug(ctx->event, "Sync: %s %s saved as UID %u",
			run->item_class->build != NULL ?
			run->item_class->name : "draft",
			str_sanitize(client_id, 64), uid);
	}
	if (sync_client_is_draft_folder(run) &&
	    wbxml_node_child(data, EAS_EMAIL2_SEND) != NULL &&
	    (status = sync_client_send_draft(run, uid, client_id)) !=
	    AS_SYNC_STATUS_OK) {
		/* saved but not sent: the device keeps it to retry */
		as_sync_response_add(run, EAS_AIRSYNC_ADD, NULL, client_id,
				  status, 0);
		return;
	}
	seq_range_array_add(&run->client_added, uid);
	/* the device has this version: no Change back for it in the same
	   response (its modseq is above the state's) */
	seq_range_array_add(&run->client_changed, uid);
	as_sync_response_add(run, EAS_AIRSYNC_ADD,
			  as_sync_server_id(run, uid),
			  client_id, AS_SYNC_STATUS_OK, 0);
}

/* A draft's content changed: save the new version, expunge the old one.
   The new message has a new UID and so a new ServerId: this response
   deletes the old ServerId and adds the new one on the device (the
   Change itself can't carry a new ServerId). */
static void
sync_client_draft_replace(struct sync_mail_run *run, struct mail *mail,
			  const struct wbxml_node *data,
			  const char *server_id, enum mail_flags flags)
{
	const char *const *keywords;
	unsigned int status;
	uint32_t uid;

	keywords = mail_get_keywords(mail);
	if (sync_draft_save(run, data, mail, flags & ENUM_NEGATE(MAIL_RECENT),
			    keywords, &uid, &status) < 0) {
		as_sync_response_add(run, EAS_AIRSYNC_CHANGE, server_id, NULL,
				  status, 0);
		return;
	}
	mail_expunge(mail);
	e_debug(run->sctx->ctx->event, "Sync: draft UID %u replaced by "
		"UID %u", mail->uid, uid);
}

/* email2:Send (16.x): the draft, with the content of this Change, goes
   out and leaves Drafts (module/send/as-send-draft.c) */
static void
sync_client_draft_send(struct sync_mail_run *run, struct mail *mail,
		       const struct wbxml_node *data, const char *server_id,
		       enum mail_flags flags)
{
	unsigned int status;
	uint32_t uid = mail->uid;

	if (as_draft_has_content(data)) {
		if (sync_draft_save(run, data, mail,
				    flags & ENUM_NEGATE(MAIL_RECENT),
				    mail_get_keywords(mail), &uid,
				    &status) < 0) {
			as_sync_response_add(run, EAS_AIRSYNC_CHANGE, server_id,
					  NULL, status, 0);
			return;
		}
		mail_expunge(mail);
	}
	status = sync_client_send_draft(run, uid, NULL);
	if (status != AS_SYNC_STATUS_OK) {
		as_sync_response_add(run, EAS_AIRSYNC_CHANGE, server_id, NULL,
				  status, 0);
	}
}

static void
sync_client_change(struct sync_mail_run *run, struct mail *mail,
		   const struct wbxml_node *cmd, const char *server_id)
{
	const struct wbxml_node *data, *flag, *cats;
	const char *value;
	enum mail_flags add = 0, remove = 0;
	uint32_t uid;

	if (!sync_client_uid(run, server_id, &uid)) {
		as_sync_response_add(run, EAS_AIRSYNC_CHANGE, server_id, NULL,
				  AS_SYNC_STATUS_OBJECT_NOT_FOUND, 0);
		return;
	}
	data = wbxml_node_child(cmd, EAS_AIRSYNC_APPLICATIONDATA);
	if (!mail_set_uid(mail, uid)) {
		if (data != NULL && !run->item_class->change_in_place &&
		    sync_replaced_here(run, uid)) {
			sync_client_replace_again(run, uid, data, server_id,
				EAS_AIRSYNC_CHANGE,
				!run->item_class->instances ? NULL :
				wbxml_node_child_text(cmd,
					EAS_AIRSYNCBASE_INSTANCEID));
			return;
		}
		as_sync_response_add(run, EAS_AIRSYNC_CHANGE, server_id, NULL,
				  AS_SYNC_STATUS_OBJECT_NOT_FOUND, 0);
		return;
	}
	if (data == NULL) {
		as_sync_response_add(run, EAS_AIRSYNC_CHANGE, server_id, NULL,
				  AS_SYNC_STATUS_PROTOCOL_ERROR, 0);
		return;
	}
	if (!run->item_class->change_in_place) {
		sync_client_item_replace(run, mail, data, server_id,
			EAS_AIRSYNC_CHANGE, !run->item_class->instances ? NULL :
			wbxml_node_child_text(cmd, EAS_AIRSYNCBASE_INSTANCEID));
		return;
	}
	value = wbxml_node_child_text(data, EAS_EMAIL_READ);
	if (value != NULL) {
		if (strcmp(value, "1") == 0)
			add |= MAIL_SEEN;
		else if (strcmp(value, "0") == 0)
			remove |= MAIL_SEEN;
		else {
			as_sync_response_add(run, EAS_AIRSYNC_CHANGE, server_id,
					  NULL,
					  AS_SYNC_STATUS_CONVERSION_ERROR, 0);
			return;
		}
	}
	if (sync_client_change_conflicts(run, mail)) {
		/* server wins: the device gets the server's version as a
		   Change in this response */
		e_debug(run->sctx->ctx->event, "Sync: conflict on UID %u of "
			"%s, server wins", uid, mailbox_get_vname(run->box));
		as_sync_response_add(run, EAS_AIRSYNC_CHANGE, server_id, NULL,
				  AS_SYNC_STATUS_CONFLICT, 0);
		return;
	}
	flag = wbxml_node_child(data, EAS_EMAIL_FLAG);
	if (flag != NULL) {
		const char *props, *error;
		enum as_flag_status status;

		if (as_flag_parse(flag, &props, &status, &error) < 0) {
			e_info(run->sctx->ctx->event, "Sync: %s: %s",
			       str_sanitize(server_id, 64), error);
			as_sync_response_add(run, EAS_AIRSYNC_CHANGE, server_id,
					  NULL,
					  AS_SYNC_STATUS_CONVERSION_ERROR, 0);
			return;
		}
		/* only an active flag is \Flagged; complete and cleared
		   both mean "no longer needs attention" in IMAP terms */
		if (status == AS_FLAG_STATUS_ACTIVE)
			add |= MAIL_FLAGGED;
		else
			remove |= MAIL_FLAGGED;
		sync_props_update_add(run, uid, props);
	}
	cats = wbxml_node_child(data, EAS_EMAIL_CATEGORIES);
	if (cats != NULL)
		sync_client_categories(run, mail, cats);
	if (sync_client_is_draft_folder(run) &&
	    wbxml_node_child(data, EAS_EMAIL2_SEND) != NULL) {
		sync_client_draft_send(run, mail, data, server_id,
			(mail_get_flags(mail) & ENUM_NEGATE(remove)) | add);
		return;
	}
	if (sync_client_is_draft_folder(run) &&
	    as_draft_has_content(data)) {
		sync_client_draft_replace(run, mail, data, server_id,
			(mail_get_flags(mail) & ENUM_NEGATE(remove)) | add);
		return;
	}
	if (add != 0)
		mail_update_flags(mail, MODIFY_ADD, add);
	if (remove != 0)
		mail_update_flags(mail, MODIFY_REMOVE, remove);
	seq_range_array_add(&run->client_changed, uid);
}

static void
sync_client_delete(struct sync_mail_run *run, struct mail *mail,
		   struct mail_save_context **trash_save,
		   struct mailbox_transaction_context *trash_trans,
		   const struct wbxml_node *cmd, const char *server_id)
{
	const char *instance_id = !run->item_class->instances ? NULL :
		wbxml_node_child_text(cmd, EAS_AIRSYNCBASE_INSTANCEID);
	uint32_t uid;

	if (!sync_client_uid(run, server_id, &uid)) {
		as_sync_response_add(run, EAS_AIRSYNC_DELETE, server_id, NULL,
				  AS_SYNC_STATUS_OBJECT_NOT_FOUND, 0);
		return;
	}
	if (instance_id != NULL) {
		/* 16.x: one occurrence of a series goes, the series stays */
		if (!mail_set_uid(mail, uid)) {
			if (sync_replaced_here(run, uid)) {
				sync_client_replace_again(run, uid, NULL,
					server_id, EAS_AIRSYNC_DELETE,
					instance_id);
				return;
			}
			as_sync_response_add(run, EAS_AIRSYNC_DELETE,
					  server_id, NULL,
					  AS_SYNC_STATUS_OBJECT_NOT_FOUND, 0);
			return;
		}
		sync_client_item_replace(run, mail, NULL, server_id,
					 EAS_AIRSYNC_DELETE, instance_id);
		return;
	}
	/* the device has dropped it either way */
	seq_range_array_add(&run->client_deleted, uid);
	as_sync_state_alias_move(&run->extra, sync_client_id(run, uid), 0);
	if (run->folder.groupware_as_email) {
		/* one way: the item stays, and the device gets it back
		   (a whole-folder comparison finds it missing there) */
		run->extra.full = TRUE;
		e_debug(run->sctx->ctx->event, "Sync: UID %u of %s is a "
			"groupware item seen as mail: not deleted", uid,
			mailbox_get_vname(run->box));
		return;
	}
	if (!mail_set_uid(mail, uid)) {
		if (sync_replaced_here(run, uid)) {
			sync_client_delete_replaced(run, uid, server_id);
			return;
		}
		/* already gone: fine for a repeated request */
		if (!run->replay) {
			as_sync_response_add(run, EAS_AIRSYNC_DELETE, server_id,
					  NULL,
					  AS_SYNC_STATUS_OBJECT_NOT_FOUND, 0);
		}
		return;
	}
	sync_meeting_change_add(run, mail, 0);
	if (trash_trans != NULL) {
		*trash_save = mailbox_save_alloc(trash_trans);
		if (mailbox_move(trash_save, mail) < 0) {
			e_error(run->sctx->ctx->event,
				"Moving UID %u of %s to Trash failed: %s", uid,
				mailbox_get_vname(run->box),
				mailbox_get_last_internal_error(
					mailbox_transaction_get_mailbox(
						trash_trans), NULL));
			as_sync_response_add(run, EAS_AIRSYNC_DELETE, server_id,
					  NULL, AS_SYNC_STATUS_SERVER_ERROR, 0);
		}
	} else {
		mail_expunge(mail);
	}
}

static int
sync_trash_open(struct sync_mail_run *run, struct mailbox **trash_r)
{
	struct as_cmd_context *ctx = run->sctx->ctx;
	ARRAY_TYPE(as_folder_info) folders;
	const struct as_folder_info *folder;
	const char *error;

	*trash_r = NULL;
	if (run->folder.type == AS_FOLDER_TYPE_DELETED)
		return 0;
	t_array_init(&folders, 32);
	if (as_folders_list(ctx, &folders, &error) < 0) {
		e_error(ctx->event, "Listing folders failed: %s", error);
		return -1;
	}
	array_foreach(&folders, folder) {
		if (folder->type != AS_FOLDER_TYPE_DELETED)
			continue;
		if (as_folders_open(ctx, folder, 0, trash_r, &error) < 0) {
			e_error(ctx->event, "Opening Trash failed: %s", error);
			return -1;
		}
		return 0;
	}
	/* no Trash: deletes expunge */
	return 0;
}

static bool sync_commands_have(const struct wbxml_node *commands,
			       bool (*match)(unsigned int tag))
{
	const struct wbxml_node *cmd;

	wbxml_node_foreach_child(commands, cmd) {
		if (match(cmd->tag))
			return TRUE;
	}
	return FALSE;
}

static bool sync_tag_is_delete(unsigned int tag)
{
	return tag == EAS_AIRSYNC_DELETE;
}

static bool sync_tag_changes_mail(unsigned int tag)
{
	return tag != EAS_AIRSYNC_FETCH;
}

/* Apply the client's Commands. Returns 0, or -1 if the changes couldn't
   be committed (collection Status 5, no new state). */
int as_sync_client_commands(struct sync_mail_run *run)
{
	struct as_cmd_context *ctx = run->sctx->ctx;
	const struct wbxml_node *commands = run->coll->commands, *cmd;
	struct mailbox_transaction_context *t, *trash_t = NULL;
	struct mailbox *trash = NULL;
	struct mail_save_context *save_ctx = NULL;
	struct mail *mail;
	const char *server_id, *client_id, *error;
	int ret = 0;

	if (commands == NULL)
		return 0;
	if (sync_commands_have(commands, sync_tag_changes_mail) &&
	    as_folders_check_writable(run->box, &error) < 0) {
		/* nothing applied, no new state: the device retries */
		e_error(ctx->event, "Sync: the client's changes can't be "
			"applied: %s", error);
		return -1;
	}
	if (run->coll->deletes_as_moves &&
	    sync_commands_have(commands, sync_tag_is_delete)) {
		if (sync_trash_open(run, &trash) < 0)
			return -1;
		if (trash != NULL) {
			trash_t = mailbox_transaction_begin(trash,
				MAILBOX_TRANSACTION_FLAG_EXTERNAL,
				"activesync sync delete");
		}
	}

	t = mailbox_transaction_begin(run->box, 0, "activesync sync");
	mail = mail_alloc(t, 0, NULL);
	wbxml_node_foreach_child(commands, cmd) {
		server_id = wbxml_node_child_text(cmd, EAS_AIRSYNC_SERVERID);
		client_id = wbxml_node_child_text(cmd, EAS_AIRSYNC_CLIENTID);
		switch (cmd->tag) {
		case EAS_AIRSYNC_CHANGE:
			sync_client_change(run, mail, cmd, server_id);
			break;
		case EAS_AIRSYNC_DELETE:
			sync_client_delete(run, mail, &save_ctx, trash_t,
					   cmd, server_id);
			break;
		case EAS_AIRSYNC_FETCH: {
			uint32_t uid = 0;

			if (!sync_client_uid(run, server_id, &uid) ||
			    !mail_set_uid(mail, uid))
				uid = 0;
			as_sync_response_add(run, EAS_AIRSYNC_FETCH, server_id,
				NULL, uid == 0 ?
				AS_SYNC_STATUS_OBJECT_NOT_FOUND :
				AS_SYNC_STATUS_OK, uid);
			break;
		}
		case EAS_AIRSYNC_ADD:
			sync_client_add(run, cmd, client_id);
			break;
		default:
			e_info(ctx->event, "Sync: unknown command %s ignored",
			       str_sanitize(wbxml_tag_name(cmd->tag) == NULL ?
					    "?" : wbxml_tag_name(cmd->tag), 32));
			break;
		}
	}
	mail_free(&mail);

	/* the copy in Trash first, then the expunge in the source */
	if (trash_t != NULL && mailbox_transaction_commit(&trash_t) < 0) {
		e_error(ctx->event, "Committing to Trash failed: %s",
			mailbox_get_last_internal_error(trash, NULL));
		mailbox_transaction_rollback(&t);
		ret = -1;
	} else if (mailbox_transaction_commit(&t) < 0) {
		e_error(ctx->event, "Committing changes to %s failed: %s",
			mailbox_get_vname(run->box),
			mailbox_get_last_internal_error(run->box, NULL));
		ret = -1;
	} else {
		sync_props_updates_store(run);
		sync_meeting_changes_send(run);
	}
	if (trash_t != NULL)
		mailbox_transaction_rollback(&trash_t);
	if (trash != NULL)
		mailbox_free(&trash);
	return ret;
}

