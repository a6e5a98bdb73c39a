/* Copyright (c) dovecot-activesync authors, see the included COPYING file */

#include "lib.h"
#include "str.h"
#include "mail-namespace.h"
#include "mail-storage.h"
#include "mail-search-build.h"
#include "mailbox-list-iter.h"
#include "as-folders.h"
#include "items/as-calendar.h"
#include "items/as-groupware-msg.h"
#include "items/as-freebusy.h"

struct freebusy_context {
	struct event *event;
	time_t start;
	unsigned int slot_secs;
	/* one digit per slot */
	char *slots;
	unsigned int count;
};

/* BusyStatus (MS-ASCAL) to the digit: working elsewhere is time the
   user can still be asked for, as Exchange shows it */
static char freebusy_digit(int busy_status)
{
	switch (busy_status) {
	case 0:
	case 4:
		return AS_FREEBUSY_FREE;
	case 1:
		return AS_FREEBUSY_TENTATIVE;
	case 3:
		return AS_FREEBUSY_OOF;
	default:
		return AS_FREEBUSY_BUSY;
	}
}

static bool
freebusy_add(const struct as_calendar_occurrence *occ, void *context)
{
	struct freebusy_context *ctx = context;
	char digit = freebusy_digit(occ->busy_status);
	time_t first, last;
	unsigned int i;

	if (occ->end <= occ->start)
		return TRUE;
	first = occ->start <= ctx->start ? 0 :
		(occ->start - ctx->start) / ctx->slot_secs;
	/* the slot holding the event's last second */
	last = (occ->end - 1 - ctx->start) / ctx->slot_secs;
	if (last >= (time_t)ctx->count)
		last = ctx->count - 1;
	/* the digits are ordered by strength (free < tentative < busy <
	   OOF) */
	for (i = first; (time_t)i <= last; i++) {
		if (ctx->slots[i] < digit)
			ctx->slots[i] = digit;
	}
	return TRUE;
}

static void freebusy_mail(struct freebusy_context *ctx, struct mail *mail)
{
	const char *object, *error;
	time_t end = ctx->start + (time_t)ctx->count * ctx->slot_secs;
	int ret;

	ret = as_groupware_msg_read(mail, as_calendar_content_types,
				    &object, &error);
	if (ret <= 0) {
		e_warning(ctx->event, "Free/busy: %s UID %u: %s",
			  mailbox_get_vname(mail->box), mail->uid, error);
		return;
	}
	if (as_calendar_ical_occurrences(object, ctx->start, end,
					 freebusy_add, ctx, &error) < 0) {
		e_warning(ctx->event, "Free/busy: %s UID %u left out: %s",
			  mailbox_get_vname(mail->box), mail->uid, error);
	}
}

static int freebusy_folder(struct freebusy_context *ctx,
			   struct mail_namespace *ns, const char *vname,
			   const char **error_r)
{
	struct mailbox *box;
	struct mailbox_transaction_context *trans;
	struct mail_search_args *search_args;
	struct mail_search_context *search;
	struct mail *mail;
	int ret = 0;

	box = mailbox_alloc(ns->list, vname, MAILBOX_FLAG_READONLY);
	if (mailbox_sync(box, 0) < 0) {
		*error_r = t_strdup_printf("Free/busy: opening %s failed: %s",
			vname, mailbox_get_last_internal_error(box, NULL));
		mailbox_free(&box);
		return -1;
	}
	trans = mailbox_transaction_begin(box, 0, "activesync free/busy");
	search_args = mail_search_build_init();
	mail_search_build_add_all(search_args);
	search = mailbox_search_init(trans, search_args, NULL,
				     MAIL_FETCH_STREAM_BODY, NULL);
	mail_search_args_unref(&search_args);
	while (mailbox_search_next(search, &mail)) T_BEGIN {
		/* an event deleted but not yet expunged is gone */
		if ((mail_get_flags(mail) & MAIL_DELETED) == 0)
			freebusy_mail(ctx, mail);
	} T_END;
	if (mailbox_search_deinit(&search) < 0) {
		*error_r = t_strdup_printf("Free/busy: reading %s failed: %s",
			vname, mailbox_get_last_internal_error(box, NULL));
		ret = -1;
	}
	(void)mailbox_transaction_commit(&trans);
	mailbox_free(&box);
	return ret;
}

int as_freebusy_merged(struct mail_user *user, struct event *event,
		       time_t start, time_t end, unsigned int slot_secs,
		       string_t *dest, const char **error_r)
{
	struct freebusy_context ctx;
	struct mail_namespace *ns;
	struct mailbox_list_iterate_context *iter;
	const struct mailbox_info *info;
	const char *folder_type;
	unsigned int folders = 0;
	int ret = 0;

	if (slot_secs == 0 || end <= start) {
		*error_r = "empty free/busy range";
		return -1;
	}
	if ((end - start - 1) / slot_secs >= AS_FREEBUSY_MAX_SLOTS) {
		*error_r = t_strdup_printf(
			"free/busy range of more than %u slots",
			AS_FREEBUSY_MAX_SLOTS);
		return -1;
	}
	i_zero(&ctx);
	ctx.event = event;
	ctx.start = start;
	ctx.slot_secs = slot_secs;
	ctx.count = (end - start - 1) / slot_secs + 1;
	ctx.slots = t_malloc_no0(ctx.count);
	memset(ctx.slots, AS_FREEBUSY_FREE, ctx.count);

	ns = mail_namespace_find_inbox(user->namespaces);
	iter = mailbox_list_iter_init(ns->list, "*",
				      0);
	while (ret == 0 && (info = mailbox_list_iter_next(iter)) != NULL) {
		if ((info->flags & (MAILBOX_NOSELECT |
				    MAILBOX_NONEXISTENT)) != 0)
			continue;
		folder_type = as_folders_kolab_type(event, ns, info->vname);
		/* "event" and "event.default": the user's calendars */
		if (folder_type == NULL ||
		    strcmp(t_strcut(folder_type, '.'), "event") != 0)
			continue;
		folders++;
		ret = freebusy_folder(&ctx, ns, info->vname, error_r);
	}
	if (mailbox_list_iter_deinit(&iter) < 0 && ret == 0) {
		*error_r = t_strdup_printf("Free/busy: listing folders "
			"failed: %s",
			mailbox_list_get_last_internal_error(ns->list, NULL));
		ret = -1;
	}
	if (ret < 0)
		return -1;
	if (folders == 0)
		memset(ctx.slots, AS_FREEBUSY_NO_DATA, ctx.count);
	str_append_data(dest, ctx.slots, ctx.count);
	return 0;
}
