/* Copyright (c) dovecot-activesync authors, see the included COPYING file */

/* Writing a collection's response: its Responses to the device's
   Commands, then the server's changes within the window. */

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
#include "items/as-meeting-request.h"
#include "meeting/as-meeting-calendar.h"

#include "sync/as-sync-run.h"

#include <time.h>


/* ---- response helpers ---- */

void
as_sync_write_collection_start(struct sync_context *sctx,
			    const struct sync_collection *coll,
			    const char *sync_key, unsigned int status)
{
	struct wbxml_writer *w = sctx->w;

	wbxml_start(w, EAS_AIRSYNC_COLLECTION);
	if (sctx->ctx->req->version < AS_VERSION_14_0)
		wbxml_elem_str(w, EAS_AIRSYNC_CLASS,
			       coll->class_name != NULL ? coll->class_name :
			       "Email");
	wbxml_elem_str(w, EAS_AIRSYNC_SYNCKEY, sync_key);
	wbxml_elem_str(w, EAS_AIRSYNC_COLLECTIONID, coll->collection_id);
	wbxml_elem_uint(w, EAS_AIRSYNC_STATUS, status);
}

void
as_sync_write_collection_status(struct sync_context *sctx,
			     const struct sync_collection *coll,
			     unsigned int status)
{
	/* after an invalid key the device starts over from 0 */
	as_sync_write_collection_start(sctx, coll,
		status == AS_SYNC_STATUS_INVALID_SYNC_KEY ? "0" :
		coll->sync_key_str, status);
	wbxml_end(sctx->w);
}

void as_sync_response_add(struct sync_mail_run *run, unsigned int tag,
			      const char *server_id, const char *client_id,
			      unsigned int status, uint32_t uid)
{
	struct sync_response *resp = array_append_space(&run->responses);

	resp->tag = tag;
	resp->server_id = server_id == NULL ? NULL :
		p_strdup(run->sctx->ctx->pool, server_id);
	resp->client_id = client_id == NULL ? NULL :
		p_strdup(run->sctx->ctx->pool, client_id);
	resp->status = status;
	resp->uid = uid;
}

/* ---- output ---- */

/* <ApplicationData> of an item in the folder's class */
static void sync_write_item(struct sync_mail_run *run,
			    const struct as_item *item)
{
	wbxml_start(run->sctx->w, EAS_AIRSYNC_APPLICATIONDATA);
	run->item_class->write(run->sctx->w, item);
	wbxml_end(run->sctx->w);
}

/* The item is outside the collection's content FilterType */
static bool sync_filtered_out(struct sync_mail_run *run,
			      const struct as_item *item)
{
	return run->item_class->filtered_out != NULL &&
		run->item_class->filtered_out(item,
			run->extra.options.filter_type);
}

const char *as_sync_server_id(struct sync_mail_run *run, uint32_t uid)
{
	return as_email_server_id(run->folder.server_id,
				  as_sync_state_alias_id(&run->extra, uid));
}

void
as_sync_write_responses(struct sync_mail_run *run,
		     const struct as_item_params *params,
		     struct mailbox_transaction_context *t)
{
	struct wbxml_writer *w = run->sctx->w;
	const struct sync_response *resp;
	struct as_item *item;
	struct mail *mail;
	const char *error;

	if (array_count(&run->responses) == 0)
		return;
	mail = mail_alloc(t, 0, NULL);
	wbxml_start(w, EAS_AIRSYNC_RESPONSES);
	array_foreach(&run->responses, resp) {
		unsigned int status = resp->status;

		item = NULL;
		if (resp->tag == EAS_AIRSYNC_FETCH &&
		    status == AS_SYNC_STATUS_OK) {
			if (!mail_set_uid(mail, resp->uid) ||
			    run->item_class->read(mail, params, &item,
						  &error) < 0)
				status = AS_SYNC_STATUS_OBJECT_NOT_FOUND;
		}
		wbxml_start(w, resp->tag);
		if (resp->client_id != NULL)
			wbxml_elem_str(w, EAS_AIRSYNC_CLIENTID,
				       resp->client_id);
		if (resp->server_id != NULL)
			wbxml_elem_str(w, EAS_AIRSYNC_SERVERID,
				       resp->server_id);
		wbxml_elem_uint(w, EAS_AIRSYNC_STATUS, status);
		if (item != NULL)
			sync_write_item(run, item);
		wbxml_end(w);
	}
	wbxml_end(w);
	mail_free(&mail);
}


static void
sync_write_removes(struct sync_mail_run *run, struct sync_window *win,
		   const ARRAY_TYPE(uint32_t) *uids, unsigned int tag)
{
	const uint32_t *uidp;

	array_foreach(uids, uidp) {
		if (win->left == 0) {
			win->unsent_other = TRUE;
			break;
		}
		wbxml_start(run->sctx->w, tag);
		wbxml_elem_str(run->sctx->w, EAS_AIRSYNC_SERVERID,
			       as_sync_server_id(run, *uidp));
		wbxml_end(run->sctx->w);
		/* the state written next shares run->extra's aliases */
		as_sync_state_alias_move(&run->extra,
			as_sync_state_alias_id(&run->extra, *uidp), 0);
		seq_range_array_add(&win->sent_removes, *uidp);
		win->left--;
		run->sctx->ctx->items++;
	}
}

/* Changed items of a class whose Change is the whole item */
static void
sync_write_whole_changes(struct sync_mail_run *run, struct sync_window *win,
			const ARRAY_TYPE(seq_range) *uids,
			const struct as_item_params *params, struct mail *mail)
{
	struct wbxml_writer *w = run->sctx->w;
	struct seq_range_iter iter;
	struct as_item *item;
	const char *error;
	unsigned int n = 0;
	uint32_t uid;
	bool sent, removed;

	seq_range_array_iter_init(&iter, uids);
	while (seq_range_array_iter_nth(&iter, n++, &uid)) {
		if (win->left == 0) {
			seq_range_array_add(&win->unsent_changes, uid);
			continue;
		}
		if (!mail_set_uid(mail, uid))
			continue;
		/* the window's arrays live in the caller's data stack frame:
		   they may only grow outside this item's frame */
		removed = FALSE;
		T_BEGIN {
			if (run->item_class->read(mail, params, &item,
						  &error) < 0) {
				e_warning(run->sctx->ctx->event,
					  "Sync: UID %u of %s: %s", uid,
					  mailbox_get_vname(run->box), error);
				sent = FALSE;
			} else if (sync_filtered_out(run, item)) {
				/* it left the FilterType (a task completed):
				   the device drops it */
				wbxml_start(w, EAS_AIRSYNC_SOFTDELETE);
				wbxml_elem_str(w, EAS_AIRSYNC_SERVERID,
					       as_sync_server_id(run, uid));
				wbxml_end(w);
				sent = removed = TRUE;
			} else {
				wbxml_start(w, EAS_AIRSYNC_CHANGE);
				wbxml_elem_str(w, EAS_AIRSYNC_SERVERID,
					       as_sync_server_id(run, uid));
				sync_write_item(run, item);
				wbxml_end(w);
				as_sync_itemuid_sent(run, item, uid);
				sent = TRUE;
			}
		} T_END;
		if (removed) {
			as_sync_state_alias_move(&run->extra,
				as_sync_state_alias_id(&run->extra, uid), 0);
			seq_range_array_add(&win->sent_removes, uid);
		}
		if (sent) {
			win->left--;
			run->sctx->ctx->items++;
		} else
			seq_range_array_add(&win->unsent_changes, uid);
	}
}

/* An invitation the Inbox sends: its event goes into the calendar
   (meeting/as-meeting-calendar.c says why here) */
static void sync_meeting_place(struct sync_mail_run *run,
			       const struct as_item *item, uint32_t uid)
{
	const struct as_meeting_request *mr;
	const char *error;

	if (run->item_class != &as_item_class_email ||
	    run->folder.type != AS_FOLDER_TYPE_INBOX)
		return;
	mr = as_email_get_meeting_request((const struct as_email *)item);
	if (mr != NULL && as_meeting_place(run->sctx->ctx, mr, &error) < 0) {
		e_error(run->sctx->ctx->event, "Placing the meeting of UID %u "
			"in the calendar failed: %s",
			uid, error);
	}
}

void
as_sync_write_changes(struct sync_mail_run *run, struct sync_window *win,
		   const struct as_sync_changes *changes,
		   const struct as_item_params *params,
		   struct mailbox_transaction_context *t)
{
	struct as_cmd_context *ctx = run->sctx->ctx;
	struct wbxml_writer *w = run->sctx->w;
	struct mailbox_header_lookup_ctx *headers;
	struct mail *mail;
	struct as_item *item;
	const uint32_t *uidp;
	ARRAY_TYPE(seq_range) whole_changes;
	const char *error;
	bool sent;

	if (as_sync_changes_count(changes) == 0)
		return;
	t_array_init(&whole_changes, 4);
	wbxml_start(w, EAS_AIRSYNC_COMMANDS);
	sync_write_removes(run, win, &changes->deletes, EAS_AIRSYNC_DELETE);
	sync_write_removes(run, win, &changes->soft_deletes,
			   EAS_AIRSYNC_SOFTDELETE);

	mail = mail_alloc(t, MAIL_FETCH_FLAGS, NULL);
	array_foreach(&changes->changes, uidp) {
		if (win->left == 0) {
			seq_range_array_add(&win->unsent_changes, *uidp);
			continue;
		}
		if (!mail_set_uid(mail, *uidp))
			continue;
		if (run->item_class->write_change == NULL) {
			/* the whole item, read like an Add */
			seq_range_array_add(&whole_changes, *uidp);
			continue;
		}
		wbxml_start(w, EAS_AIRSYNC_CHANGE);
		wbxml_elem_str(w, EAS_AIRSYNC_SERVERID,
			       as_sync_server_id(run, *uidp));
		wbxml_start(w, EAS_AIRSYNC_APPLICATIONDATA);
		run->item_class->write_change(w, mail, params);
		wbxml_end(w);
		wbxml_end(w);
		win->left--;
		run->sctx->ctx->items++;
	}
	/* Adds read much more: tell Dovecot what, so it is fetched at once */
	mail_free(&mail);
	headers = run->item_class->wanted_headers == NULL ? NULL :
		run->item_class->wanted_headers(run->box);
	mail = mail_alloc(t, run->item_class->wanted_fields, headers);
	if (headers != NULL)
		mailbox_header_lookup_unref(&headers);
	sync_write_whole_changes(run, win, &whole_changes, params, mail);
	array_foreach(&changes->adds, uidp) {
		if (win->left == 0) {
			win->unsent_other = TRUE;
			break;
		}
		if (!mail_set_uid(mail, *uidp))
			continue; /* expunged meanwhile */
		T_BEGIN {
			if (run->item_class->read(mail, params, &item,
						  &error) < 0) {
				e_warning(ctx->event,
					  "Sync: skipping UID %u of %s for now: "
					  "%s", *uidp,
					  mailbox_get_vname(run->box), error);
				/* not in the state: the next Sync compares
				   the whole folder and sends it then */
				win->unsent_other = TRUE;
				sent = FALSE;
			} else if (sync_filtered_out(run, item)) {
				/* not in the state, and older than the
				   state's UIDNEXT: not looked at again
				   unless it changes */
				sent = FALSE;
			} else {
				wbxml_start(w, EAS_AIRSYNC_ADD);
				wbxml_elem_str(w, EAS_AIRSYNC_SERVERID,
					       as_sync_server_id(run, *uidp));
				sync_write_item(run, item);
				wbxml_end(w);
				as_sync_itemuid_sent(run, item, *uidp);
				sync_meeting_place(run, item, *uidp);
				sent = TRUE;
			}
		} T_END;
		/* grown outside the item's data stack frame: sent_adds lives
		   in the caller's (more than 64 gappy UIDs used to panic) */
		if (sent) {
			seq_range_array_add(&win->sent_adds, *uidp);
			win->left--;
			run->sctx->ctx->items++;
		}
	}
	mail_free(&mail);
	wbxml_end(w);
}

