/* Copyright (c) dovecot-activesync authors, see the included COPYING file */

/* One collection of a Sync: check the SyncKey, apply the device's
   Commands, send the server's changes, store the next state. */

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

#include "sync/as-sync-run.h"

#include <time.h>


unsigned int as_sync_max_age(const struct sync_context *sctx,
			     const struct as_folder_info *folder)
{
	switch (as_folder_class(folder)) {
	case AS_FOLDER_CLASS_MAIL:
		return sctx->max_mail_age;
	case AS_FOLDER_CLASS_CALENDAR:
		return sctx->max_calendar_age;
	default:
		/* no date filter */
		return 0;
	}
}

/* Oldest received date to sync: the device's FilterType, narrowed by
   the server's age limit of the class */
static time_t sync_since(struct sync_context *sctx,
			 const struct as_folder_info *folder,
			 unsigned int filter_type)
{
	/* FilterType and the mail age limit select by date only where the
	   class says so: notes, contacts are kept whatever their age */
	const struct as_item_class *class = as_item_class_get(folder);

	if (class == NULL || !class->date_filter)
		return 0;
	return as_sync_state_since(filter_type, as_sync_max_age(sctx, folder),
				   ioloop_time);
}

/* The class's own date filter, where it has one */
static void sync_set_in_range(struct as_sync_changes_input *in,
			      const struct as_folder_info *folder)
{
	const struct as_item_class *class = as_item_class_get(folder);

	if (class != NULL && class->date_filter && class->in_range != NULL) {
		in->in_range = class->in_range;
		in->in_range_fields = class->wanted_fields;
	}
}

/* ---- state keys ---- */

static int
sync_state_put(struct sync_context *sctx, const struct sync_collection *coll,
	       unsigned int key, const struct as_collection_state *state,
	       const char **error_r)
{
	struct as_cmd_context *ctx = sctx->ctx;

	/* keep key-1 (the key the device sent) for a replay; one commit */
	if (as_store_collection_advance(ctx->store, ctx->username,
					ctx->req->device_id,
					coll->collection_id, key, state,
					key - 1, error_r) < 0) {
		sctx->state_failed = TRUE;
		return -1;
	}
	return 0;
}

/* Checks the SyncKey. Returns 1 and the state if it's usable, 0 if it
   isn't (Status 3), -1 on error. */
static int
sync_state_get(struct sync_context *sctx, const struct sync_collection *coll,
	       pool_t pool, struct as_collection_state *state_r,
	       bool *replay_r, const char **error_r)
{
	struct as_cmd_context *ctx = sctx->ctx;
	unsigned int latest;
	int ret;

	*replay_r = FALSE;
	if (coll->sync_key == UINT_MAX)
		return 0;
	ret = as_store_collection_latest(ctx->store, ctx->username,
					 ctx->req->device_id,
					 coll->collection_id, &latest,
					 error_r);
	if (ret <= 0)
		return ret;
	if (coll->sync_key == latest)
		;
	else if (coll->sync_key + 1 == latest)
		*replay_r = TRUE;
	else
		return 0;
	return as_store_collection_get(ctx->store, pool, ctx->username,
				       ctx->req->device_id,
				       coll->collection_id, coll->sync_key,
				       state_r, error_r);
}

/* ---- one mail collection ---- */

static int sync_mailbox_status(struct mailbox *box,
			       struct mailbox_status *status_r)
{
	if (mailbox_sync(box, 0) < 0)
		return -1;
	mailbox_get_open_status(box, STATUS_UIDVALIDITY | STATUS_UIDNEXT |
				STATUS_HIGHESTMODSEQ, status_r);
	return 0;
}

static unsigned int sync_mail_collection_run(struct sync_mail_run *run)
{
	struct sync_context *sctx = run->sctx;
	struct as_cmd_context *ctx = sctx->ctx;
	struct sync_collection *coll = run->coll;
	struct wbxml_writer *w = sctx->w;
	struct as_sync_changes_input in;
	struct as_sync_changes changes;
	struct as_collection_state new_state;
	struct as_sync_state_extra new_extra;
	struct mailbox_status status;
	struct mailbox_metadata metadata;
	struct mailbox_transaction_context *t;
	struct as_item_params params;
	struct sync_window win;
	const char *error;
	unsigned int new_key = coll->sync_key + 1;
	bool filter_changed = FALSE;

	if (coll->have_options) {
		filter_changed = !as_sync_options_filter_equals(
			&coll->options, &run->extra.options);
		run->extra.options = coll->options;
	}
	if (run->extra.max_age != as_sync_max_age(sctx, &run->folder)) {
		/* the admin changed the limit: compare the whole folder */
		filter_changed = TRUE;
	}
	if (sync_mailbox_status(run->box, &status) < 0) {
		e_error(ctx->event, "Sync of %s failed: %s",
			mailbox_get_vname(run->box),
			mailbox_get_last_internal_error(run->box, NULL));
		return AS_SYNC_STATUS_SERVER_ERROR;
	}
	if (status.uidvalidity != run->state.uid_validity) {
		e_info(ctx->event, "Sync: UIDVALIDITY of %s changed "
		       "(%u -> %u): device must resync",
		       mailbox_get_vname(run->box), run->state.uid_validity,
		       status.uidvalidity);
		return AS_SYNC_STATUS_INVALID_SYNC_KEY;
	}

	if (mailbox_get_metadata(run->box, MAILBOX_METADATA_GUID,
				 &metadata) == 0) {
		memcpy(run->box_guid, metadata.guid, sizeof(run->box_guid));
		run->have_box_guid = TRUE;
	}
	p_array_init(&run->responses, ctx->pool, 4);
	t_array_init(&run->client_changed, 8);
	t_array_init(&run->client_deleted, 8);
	t_array_init(&run->client_added, 4);
	if (as_sync_client_commands(run) < 0)
		return AS_SYNC_STATUS_SERVER_ERROR;
	/* our own changes are in the mailbox now: the state we store
	   includes them */
	if (sync_mailbox_status(run->box, &status) < 0) {
		e_error(ctx->event, "Sync of %s failed: %s",
			mailbox_get_vname(run->box),
			mailbox_get_last_internal_error(run->box, NULL));
		return AS_SYNC_STATUS_SERVER_ERROR;
	}

	/* the state the device has after our client command handling */
	i_zero(&new_state);
	new_state.uid_validity = status.uidvalidity;
	t_array_init(&new_state.uids, 64);
	array_append_array(&new_state.uids, &run->state.uids);
	seq_range_array_remove_seq_range(&new_state.uids,
					 &run->client_deleted);
	/* the device has the drafts it just added */
	seq_range_array_merge(&new_state.uids, &run->client_added);
	run->state.uids = new_state.uids;
	new_extra = run->extra;
	new_extra.max_age = as_sync_max_age(sctx, &run->folder);
	t_array_init(&new_extra.pending_changes, 8);

	i_zero(&win);
	win.left = coll->window_size;
	t_array_init(&win.sent_adds, 64);
	t_array_init(&win.sent_removes, 16);
	t_array_init(&win.unsent_changes, 8);

	i_zero(&changes);
	if (coll->get_changes) {
		i_zero(&in);
		in.box = run->box;
		in.status = &status;
		in.state = &run->state;
		in.full = run->extra.full || filter_changed;
		in.pending_changes = &run->extra.pending_changes;
		in.exclude_changes = &run->client_changed;
		in.since = sync_since(sctx, &run->folder,
				      run->extra.options.filter_type);
		sync_set_in_range(&in, &run->folder);
		if (as_sync_changes_compute(pool_datastack_create(), &in,
					    &changes, &error) < 0) {
			e_error(ctx->event, "Sync: computing changes of %s "
				"failed: %s", mailbox_get_vname(run->box),
				error);
			return AS_SYNC_STATUS_SERVER_ERROR;
		}
		new_state.highest_modseq = status.highest_modseq;
		new_state.uid_next = status.uidnext;
	} else {
		/* nothing sent: keep what is still to be sent */
		new_state.highest_modseq = run->state.highest_modseq;
		new_state.uid_next = run->state.uid_next;
		array_append_array(&new_extra.pending_changes,
				   &run->extra.pending_changes);
		new_extra.full = run->extra.full || filter_changed;
	}

	i_zero(&params);
	params.version = ctx->req->version;
	params.folder_id = run->folder.server_id;
	params.body = &run->extra.options.body;
	if (run->have_box_guid) {
		params.store = ctx->store;
		params.user = ctx->username;
		params.box_guid = run->box_guid;
	}

	as_sync_write_collection_start(sctx, coll, dec2str(new_key),
				    AS_SYNC_STATUS_OK);
	t = mailbox_transaction_begin(run->box, 0, "activesync sync fetch");
	as_sync_write_responses(run, &params, t);
	as_sync_itemuid_client_added(run, &params, t);
	if (coll->get_changes) {
		unsigned int total;

		as_sync_skipped_remove(run, &changes);
		as_sync_relink(run, &changes, &params, t, &new_state.uids);
		as_sync_isolation(run, &changes, &win);
		total = as_sync_changes_count(&changes);

		if (total > win.left)
			wbxml_empty(w, EAS_AIRSYNC_MOREAVAILABLE);
		as_sync_write_changes(run, &win, &changes, &params, t);
		seq_range_array_remove_seq_range(&new_state.uids,
						 &win.sent_removes);
		seq_range_array_merge(&new_state.uids, &win.sent_adds);
		new_extra.full = win.unsent_other;
		array_append_array(&new_extra.pending_changes,
				   &win.unsent_changes);
		if (total > 0) {
			e_debug(ctx->event, "Sync %s: %u adds, %u changes, "
				"%u deletes, %u soft deletes, window %u%s",
				coll->collection_id,
				array_count(&changes.adds),
				array_count(&changes.changes),
				array_count(&changes.deletes),
				array_count(&changes.soft_deletes),
				coll->window_size,
				win.unsent_other ||
				array_count(&win.unsent_changes) > 0 ?
				", more available" : "");
		}
	}
	if (new_extra.full) {
		/* A first sync with more windows to come. This transaction
		   only read; what committing it would write (cache
		   decisions and offsets) makes Dovecot's next sync of a
		   Maildir a pass over every uidlist record, so each window
		   would cost with the folder's size. The last window
		   commits. */
		mailbox_transaction_rollback(&t);
	} else {
		(void)mailbox_transaction_commit(&t);
	}
	wbxml_end(w);

	as_sync_itemuid_store(run);
	if (coll->get_changes)
		as_sync_props_forget(run, &changes.deletes);
	new_state.options = as_sync_state_extra_write(&new_extra);
	if (sync_state_put(sctx, coll, new_key, &new_state, &error) < 0) {
		/* the whole response is replaced by 503 (state_failed):
		   the device retries with the key it has */
		e_error(ctx->event, "Sync: storing state %u of %s failed, "
			"answering 503: %s", new_key, coll->collection_id,
			error);
	}
	return AS_SYNC_STATUS_OK;
}

/* SyncKey 0: forget the collection's states and start with an empty
   device, so the next Sync sends everything as Adds. */
static unsigned int
sync_collection_prime(struct sync_context *sctx, struct sync_collection *coll,
		       const struct as_folder_info *folder)
{
	struct as_cmd_context *ctx = sctx->ctx;
	struct as_collection_state state;
	struct as_sync_state_extra extra;
	struct mailbox *box;
	struct mailbox_status status;
	const char *error;

	i_zero(&state);
	t_array_init(&state.uids, 1);
	i_zero(&extra);
	if (coll->have_options)
		extra.options = coll->options;
	else
		as_sync_options_init(&extra.options);
	extra.full = TRUE;
	extra.max_age = as_sync_max_age(sctx, folder);
	extra.have_supported = coll->have_supported;
	if (coll->have_supported)
		extra.supported = coll->supported;

	if (as_item_class_get(folder) != NULL) {
		if (as_folders_open(ctx, folder, 0, &box, &error) < 0) {
			e_info(ctx->event, "Sync: folder %s: %s",
			       folder->server_id, error);
			return AS_SYNC_STATUS_HIERARCHY_CHANGED;
		}
		if (mailbox_enable(box, MAILBOX_FEATURE_CONDSTORE) < 0 ||
		    sync_mailbox_status(box, &status) < 0) {
			e_error(ctx->event, "Sync: folder %s: %s",
				folder->server_id,
				mailbox_get_last_internal_error(box, NULL));
			mailbox_free(&box);
			return AS_SYNC_STATUS_SERVER_ERROR;
		}
		state.uid_validity = status.uidvalidity;
		as_folders_close(ctx, folder, &box);
	}
	state.options = as_sync_state_extra_write(&extra);

	if (as_store_collection_reset(ctx->store, ctx->username,
				      ctx->req->device_id,
				      coll->collection_id, &error) < 0 ||
	    as_store_collection_put(ctx->store, ctx->username,
				    ctx->req->device_id, coll->collection_id,
				    1, &state, &error) < 0) {
		e_error(ctx->event, "Sync: state store: %s", error);
		return AS_SYNC_STATUS_SERVER_ERROR;
	}
	as_sync_write_collection_start(sctx, coll, "1", AS_SYNC_STATUS_OK);
	wbxml_end(sctx->w);
	return AS_SYNC_STATUS_OK;
}

/* A folder without mail sync (no-select parents; calendar, contacts,
   tasks and notes until their converters exist): keys advance, no items. */
static unsigned int
sync_collection_empty(struct sync_context *sctx, struct sync_collection *coll,
		      const struct as_collection_state *state)
{
	const char *error;
	unsigned int new_key = coll->sync_key + 1;

	as_sync_write_collection_start(sctx, coll, dec2str(new_key),
				    AS_SYNC_STATUS_OK);
	wbxml_end(sctx->w);
	if (sync_state_put(sctx, coll, new_key, state, &error) < 0) {
		e_error(sctx->ctx->event, "Sync: state store: %s", error);
	}
	return AS_SYNC_STATUS_OK;
}

/* ---- no changes, answered without opening the folder ---- */

/* Could a Sync of this collection be nothing but "no changes" if the
   folder's UIDVALIDITY, UIDNEXT and HIGHESTMODSEQ equal the state's? Not
   with client Commands, without GetChanges, when the state has work left
   (a whole-folder compare after a window or a filter change, flag changes
   a window could not send) or when the filter or the mail age limit
   changed. Isolation and skipped items only act on Adds, so they need
   nothing here. */
static bool
sync_collection_may_be_unchanged(struct sync_context *sctx,
				 const struct sync_collection *coll,
				 const struct as_folder_info *folder,
				 const struct as_sync_state_extra *extra)
{
	if (coll->commands != NULL || !coll->get_changes)
		return FALSE;
	if (extra->full || array_count(&extra->pending_changes) > 0)
		return FALSE;
	if (extra->max_age != as_sync_max_age(sctx, folder))
		return FALSE;
	if (coll->have_options &&
	    !as_sync_options_filter_equals(&coll->options, &extra->options))
		return FALSE;
	return TRUE;
}

/* TRUE if the folder's status from the mailbox list index equals the
   state: the folder has not changed since, and it is not opened (on a
   large maildir, opening re-reads the whole uidlist). FALSE when that
   is not known: the caller opens the folder and compares as usual;
   *box_r is the folder if Dovecot opened it already, else NULL. */
static bool
sync_folder_unchanged(struct sync_context *sctx,
		      const struct sync_collection *coll,
		      const struct as_folder_info *folder,
		      const struct as_collection_state *state,
		      struct mailbox **box_r)
{
	struct as_cmd_context *ctx = sctx->ctx;
	struct mailbox *box;
	struct mailbox_status status;
	struct mailbox_metadata metadata;
	const char *reason = NULL;
	bool unchanged = FALSE, opened;
	int ret;

	*box_r = NULL;
	box = mailbox_alloc(as_folders_namespace(ctx)->list, folder->vname, 0);
	/* recorded for the open that may follow; opens nothing */
	(void)mailbox_enable(box, MAILBOX_FEATURE_CONDSTORE);
	ret = as_sync_changes_index_status(box, folder->guid, &status,
					   &opened, &reason);
	if (ret < 0) {
		reason = t_strdup(mailbox_get_last_internal_error(box, NULL));
		opened = FALSE;
	} else if (ret > 0) {
		unchanged = status.uidvalidity == state->uid_validity &&
			status.uidnext == state->uid_next &&
			status.highest_modseq == state->highest_modseq;
		if (!unchanged) {
			reason = t_strdup_printf("index status differs "
				"(UIDNEXT %u, HIGHESTMODSEQ %"PRIu64")",
				status.uidnext, status.highest_modseq);
		}
	}
	if (unchanged) {
		e_debug(ctx->event, "Sync %s: no changes (answered from the "
			"mailbox list index status, folder not opened)",
			coll->collection_id);
	} else {
		e_debug(ctx->event, "Sync %s: opening the folder: %s",
			coll->collection_id, reason);
	}
	if (opened && !unchanged &&
	    mailbox_get_metadata(box, MAILBOX_METADATA_GUID, &metadata) == 0 &&
	    guid_128_equals(metadata.guid, folder->guid)) {
		/* Dovecot opened and synced it to answer: use it */
		*box_r = box;
		return FALSE;
	}
	mailbox_free(&box);
	return unchanged;
}

/* What sync_mail_collection_run() answers and stores when nothing
   changed and the client sent no Commands */
static void sync_collection_unchanged(struct sync_mail_run *run)
{
	struct sync_context *sctx = run->sctx;
	struct sync_collection *coll = run->coll;
	struct as_collection_state new_state;
	struct as_sync_state_extra new_extra;
	unsigned int new_key = coll->sync_key + 1;
	const char *error;

	new_extra = run->extra;
	if (coll->have_options)
		new_extra.options = coll->options;
	new_extra.max_age = as_sync_max_age(sctx, &run->folder);
	new_state = run->state;
	new_state.options = as_sync_state_extra_write(&new_extra);

	as_sync_write_collection_start(sctx, coll, dec2str(new_key),
				    AS_SYNC_STATUS_OK);
	wbxml_end(sctx->w);
	if (sync_state_put(sctx, coll, new_key, &new_state, &error) < 0) {
		e_error(sctx->ctx->event, "Sync: storing state %u of %s "
			"failed: %s", new_key, coll->collection_id, error);
	}
}

void as_sync_collection(struct sync_context *sctx,
			    struct sync_collection *coll)
{
	struct as_cmd_context *ctx = sctx->ctx;
	struct sync_mail_run run;
	const char *error;
	unsigned int status;
	int ret;

	i_zero(&run);
	run.sctx = sctx;
	run.coll = coll;
	ret = as_folders_lookup(ctx, coll->collection_id, &run.folder, &error);
	if (ret < 0) {
		e_error(ctx->event, "Sync: folder lookup %s failed: %s",
			str_sanitize(coll->collection_id, 64), error);
		as_sync_write_collection_status(sctx, coll,
					     AS_SYNC_STATUS_SERVER_ERROR);
		return;
	}
	if (ret == 0) {
		/* not in the current hierarchy: FolderSync needed */
		e_info(ctx->event, "Sync: unknown CollectionId %s",
		       str_sanitize(coll->collection_id, 64));
		as_sync_write_collection_status(sctx, coll,
					     AS_SYNC_STATUS_HIERARCHY_CHANGED);
		as_sync_hierarchy_ignored(ctx, coll->collection_id);
		return;
	}
	if (coll->sync_key == 0) {
		status = sync_collection_prime(sctx, coll, &run.folder);
		if (status != AS_SYNC_STATUS_OK)
			as_sync_write_collection_status(sctx, coll, status);
		return;
	}

	ret = sync_state_get(sctx, coll, pool_datastack_create(), &run.state,
			     &run.replay, &error);
	if (ret <= 0) {
		if (ret < 0) {
			e_error(ctx->event, "Sync: state store: %s", error);
			status = AS_SYNC_STATUS_SERVER_ERROR;
		} else {
			e_info(ctx->event, "Sync: invalid SyncKey %s for "
			       "collection %s",
			       str_sanitize(coll->sync_key_str, 32),
			       str_sanitize(coll->collection_id, 64));
			status = AS_SYNC_STATUS_INVALID_SYNC_KEY;
		}
		as_sync_write_collection_status(sctx, coll, status);
		return;
	}
	if (!array_is_created(&run.state.uids))
		t_array_init(&run.state.uids, 1);
	as_sync_state_extra_read(run.state.options, &run.extra);

	run.item_class = as_item_class_get(&run.folder);
	if (run.item_class == NULL) {
		(void)sync_collection_empty(sctx, coll, &run.state);
		return;
	}
	if (sync_collection_may_be_unchanged(sctx, coll, &run.folder,
					     &run.extra) &&
	    sync_folder_unchanged(sctx, coll, &run.folder, &run.state,
				  &run.box)) {
		sync_collection_unchanged(&run);
		return;
	}
	if (run.box == NULL &&
	    as_folders_open(ctx, &run.folder, 0, &run.box, &error) < 0) {
		e_info(ctx->event, "Sync: folder %s: %s",
		       run.folder.server_id, error);
		as_sync_write_collection_status(sctx, coll,
					     AS_SYNC_STATUS_HIERARCHY_CHANGED);
		return;
	}
	if (mailbox_enable(run.box, MAILBOX_FEATURE_CONDSTORE) < 0) {
		e_error(ctx->event, "Sync: enabling CONDSTORE on %s: %s",
			mailbox_get_vname(run.box),
			mailbox_get_last_internal_error(run.box, NULL));
		status = AS_SYNC_STATUS_SERVER_ERROR;
	} else {
		status = sync_mail_collection_run(&run);
	}
	/* a folder that failed is not kept for the next request */
	if (status == AS_SYNC_STATUS_OK)
		as_folders_close(ctx, &run.folder, &run.box);
	else
		mailbox_free(&run.box);
	if (status != AS_SYNC_STATUS_OK)
		as_sync_write_collection_status(sctx, coll, status);
}

bool as_sync_collection_has_work(struct sync_context *sctx,
				     struct sync_collection *coll)
{
	struct as_cmd_context *ctx = sctx->ctx;
	struct as_folder_info folder;
	struct as_collection_state state;
	struct as_sync_state_extra extra;
	struct as_sync_changes_input in;
	struct as_sync_changes changes;
	struct mailbox *box;
	struct mailbox_status status;
	const char *error;
	bool replay, work;

	if (coll->sync_key == 0 || coll->commands != NULL)
		return TRUE;
	if (as_folders_lookup(ctx, coll->collection_id, &folder, &error) <= 0)
		return TRUE;
	if (sync_state_get(sctx, coll, pool_datastack_create(), &state,
			   &replay, &error) <= 0 || replay)
		return TRUE;
	if (as_item_class_get(&folder) == NULL || !coll->get_changes)
		return FALSE;
	as_sync_state_extra_read(state.options, &extra);
	if (coll->have_options &&
	    !as_sync_options_filter_equals(&coll->options, &extra.options))
		return TRUE;
	if (extra.max_age != as_sync_max_age(sctx, &folder))
		return TRUE;
	if (!array_is_created(&state.uids))
		t_array_init(&state.uids, 1);
	box = NULL;
	if (sync_collection_may_be_unchanged(sctx, coll, &folder, &extra) &&
	    sync_folder_unchanged(sctx, coll, &folder, &state, &box))
		return FALSE;

	if (box == NULL &&
	    as_folders_open(ctx, &folder, 0, &box, &error) < 0)
		return TRUE;
	if (mailbox_enable(box, MAILBOX_FEATURE_CONDSTORE) < 0 ||
	    sync_mailbox_status(box, &status) < 0 ||
	    status.uidvalidity != state.uid_validity)
		work = TRUE;
	else {
		i_zero(&in);
		in.box = box;
		in.status = &status;
		in.state = &state;
		in.full = extra.full;
		in.pending_changes = &extra.pending_changes;
		in.since = sync_since(sctx, &folder, extra.options.filter_type);
		sync_set_in_range(&in, &folder);
		if (as_sync_changes_none(&in))
			work = FALSE;
		else if (as_sync_changes_compute(pool_datastack_create(), &in,
						 &changes, &error) < 0)
			work = TRUE;
		else
			work = as_sync_changes_count(&changes) > 0;
	}
	as_folders_close(ctx, &folder, &box);
	return work;
}

