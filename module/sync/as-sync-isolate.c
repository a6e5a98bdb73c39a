/* Copyright (c) dovecot-activesync authors, see the included COPYING file */

/* Items a device keeps failing on: a window of one, then left out
   with a notice to the user, instead of a sync loop. */

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
#include "items/as-note.h"
#include "send/as-send-draft.h"
#include "items/as-mail-save.h"
#include "as-store-itemprops.h"
#include "sync/as-sync-notice.h"

#include "sync/as-sync-run.h"

#include <time.h>


/* ---- item isolation ---- */

static void
sync_skipped_load(struct sync_mail_run *run, ARRAY_TYPE(seq_range) *uids)
{
	struct as_cmd_context *ctx = run->sctx->ctx;
	const char *value, *error, *p;
	uint32_t uid_validity;

	if (as_store_device_prop_get(ctx->store, pool_datastack_create(),
			ctx->username, ctx->req->device_id,
			t_strconcat(AS_SYNC_PROP_SKIPPED,
				    run->coll->collection_id, NULL),
			&value, &error) < 0) {
		e_error(ctx->event, "Sync: reading skipped items: %s", error);
		return;
	}
	if (value == NULL || (p = strchr(value, ' ')) == NULL ||
	    str_to_uint32(t_strdup_until(value, p), &uid_validity) < 0 ||
	    uid_validity != run->state.uid_validity)
		return;
	if (imap_seq_set_nostar_parse(p + 1, uids) < 0)
		array_clear(uids);
}

/* Items isolated before are never sent to this device again */
void
as_sync_skipped_remove(struct sync_mail_run *run, struct as_sync_changes *changes)
{
	ARRAY_TYPE(seq_range) skipped;
	unsigned int i;

	if (array_count(&changes->adds) == 0)
		return;
	t_array_init(&skipped, 4);
	sync_skipped_load(run, &skipped);
	if (array_count(&skipped) == 0)
		return;
	for (i = array_count(&changes->adds); i > 0; i--) {
		const uint32_t *uid = array_idx(&changes->adds, i - 1);

		if (seq_range_exists(&skipped, *uid))
			array_delete(&changes->adds, i - 1, 1);
	}
}

static void sync_isolation_notice(struct sync_mail_run *run, uint32_t uid)
{
	struct as_cmd_context *ctx = run->sctx->ctx;
	struct mailbox_transaction_context *t;
	struct mail *mail;
	const char *subject = NULL, *date_str = "unknown date";
	time_t date;
	int tz;

	t = mailbox_transaction_begin(run->box, 0, "activesync isolate");
	mail = mail_alloc(t, 0, NULL);
	if (mail_set_uid(mail, uid)) {
		/* copied: the mail's memory goes with mail_free() */
		if (mail_get_first_header_utf8(mail, "Subject", &subject) <= 0)
			subject = NULL;
		else
			subject = t_strdup(subject);
		if (mail_get_date(mail, &date, &tz) == 0 && date > 0) {
			struct tm *tm = gmtime(&date);
			char buf[64];

			if (strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M UTC",
				     tm) > 0)
				date_str = t_strdup(buf);
		}
	}
	mail_free(&mail);
	(void)mailbox_transaction_commit(&t);
	subject = subject == NULL || *subject == '\0' ? "(no subject)" :
		str_sanitize_utf8(subject, 200);
	(void)as_sync_notice_once(ctx,
		t_strdup_printf("item:%s:%u:%u", run->coll->collection_id,
				run->state.uid_validity, uid),
		"A message could not be delivered to your device",
		t_strdup_printf(
"Your device %s failed several times to take the message\n"
"\n"
"  \"%s\"\n"
"  dated %s, in the folder \"%s\"\n"
"\n"
"so it is no longer offered to that device, and the rest of the folder\n"
"syncs again. The message itself is still in your mailbox: read it with\n"
"webmail or another mail program.\n",
		str_sanitize(ctx->req->device_id, 64), subject, date_str,
		str_sanitize_utf8(mailbox_get_vname(run->box), 200)));
}

static void sync_isolate_skip(struct sync_mail_run *run, uint32_t uid)
{
	struct as_cmd_context *ctx = run->sctx->ctx;
	ARRAY_TYPE(seq_range) skipped;
	string_t *str = t_str_new(64);
	const char *error, *coll_id = run->coll->collection_id;

	t_array_init(&skipped, 4);
	sync_skipped_load(run, &skipped);
	seq_range_array_add(&skipped, uid);
	str_printfa(str, "%u ", run->state.uid_validity);
	imap_write_seq_range(str, &skipped);
	if (as_store_device_prop_put(ctx->store, ctx->username,
			ctx->req->device_id,
			t_strconcat(AS_SYNC_PROP_SKIPPED, coll_id, NULL),
			str_c(str), &error) < 0 ||
	    as_store_device_prop_put(ctx->store, ctx->username,
			ctx->req->device_id,
			t_strconcat(AS_SYNC_PROP_ISOLATE, coll_id, NULL),
			NULL, &error) < 0) {
		e_error(ctx->event, "Sync: isolating UID %u: %s", uid, error);
		return;
	}
	e_warning(ctx->event, "Sync: device keeps failing on UID %u of %s: "
		  "no longer sent to it", uid, mailbox_get_vname(run->box));
	sync_isolation_notice(run, uid);
}

/* A device that sends the same SyncKey again and again with the same
   first Add is most likely failing on that item: give it one item at a
   time, then leave the item out (and tell the user) instead of looping
   forever. Only repeated keys (replays) are counted, so a normal Sync
   writes nothing here. */
void
as_sync_isolation(struct sync_mail_run *run, struct as_sync_changes *changes,
	       struct sync_window *win)
{
	struct as_cmd_context *ctx = run->sctx->ctx;
	const char *prop, *value, *error, *const *f;
	unsigned int key = 0, count = 0;
	uint32_t first, uid = 0;

	if (!run->replay || array_count(&changes->adds) == 0)
		return;
	first = *array_front(&changes->adds);
	prop = t_strconcat(AS_SYNC_PROP_ISOLATE, run->coll->collection_id,
			   NULL);
	if (as_store_device_prop_get(ctx->store, pool_datastack_create(),
				     ctx->username, ctx->req->device_id,
				     prop, &value, &error) < 0) {
		e_error(ctx->event, "Sync: isolation state: %s", error);
		return;
	}
	f = value == NULL ? NULL : t_strsplit(value, " ");
	if (f == NULL || str_array_length(f) != 3 ||
	    str_to_uint(f[0], &key) < 0 || str_to_uint32(f[1], &uid) < 0 ||
	    str_to_uint(f[2], &count) < 0 ||
	    key != run->coll->sync_key || uid != first) {
		/* the first answer to this key was attempt 1 */
		count = 1;
	}
	count++;
	if (count >= AS_SYNC_ISOLATE_SKIP_AFTER) {
		sync_isolate_skip(run, first);
		array_delete(&changes->adds, 0, 1);
		return;
	}
	if (as_store_device_prop_put(ctx->store, ctx->username,
			ctx->req->device_id, prop,
			t_strdup_printf("%u %u %u", run->coll->sync_key,
					first, count), &error) < 0)
		e_error(ctx->event, "Sync: isolation state: %s", error);
	if (count >= AS_SYNC_ISOLATE_WINDOW_AFTER) {
		e_info(ctx->event, "Sync: SyncKey %u of %s sent %u times "
		       "with UID %u first: window of 1",
		       run->coll->sync_key, run->coll->collection_id, count,
		       first);
		win->left = 1;
	}
}

