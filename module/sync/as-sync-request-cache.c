/* Copyright (c) dovecot-activesync authors, see the included COPYING file */

/* The last Sync request of a device, for empty and partial requests. */

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


/* ---- the cached request (empty and partial Syncs) ---- */

/* The last Sync request of a device, without SyncKeys and Commands. An
   empty request repeats it, a partial one adds to it (MS-ASCMD 4.5.10,
   4.5.11). It is kept as the options string of a pseudo collection, so
   it needs nothing new in the store and goes away with the device. */
#define AS_SYNC_REQUEST_CACHE_ID "#sync-request"
#define AS_SYNC_REQUEST_CACHE_VERSION "1"

void as_sync_request_cache_save(struct sync_context *sctx)
{
	struct as_cmd_context *ctx = sctx->ctx;
	struct as_collection_state state;
	const struct sync_collection *coll;
	string_t *str = t_str_new(256), *opts = t_str_new(128);
	const char *error;

	str_printfa(str, "%s\t%u\t%u\n", AS_SYNC_REQUEST_CACHE_VERSION,
		    sctx->wait_given ? sctx->wait_secs : 0,
		    sctx->req_window_size);
	array_foreach(&sctx->colls, coll) {
		str_truncate(opts, 0);
		if (coll->have_options)
			as_sync_options_write(opts, &coll->options);
		str_printfa(str, "%s\t%s\t%u\t%s\t%d\t%s\n",
			    str_tabescape(coll->collection_id),
			    coll->class_name == NULL ? "" :
			    str_tabescape(coll->class_name),
			    coll->req_window_size,
			    !coll->get_changes_set ? "-" :
			    coll->get_changes ? "1" : "0",
			    coll->deletes_as_moves ? 1 : 0,
			    coll->have_options ? str_tabescape(str_c(opts)) :
			    "-");
	}
	/* a device usually sends the same request again and again: a read
	   is much cheaper than a durable write */
	i_zero(&state);
	if (as_store_collection_get(ctx->store, pool_datastack_create(),
				    ctx->username, ctx->req->device_id,
				    AS_SYNC_REQUEST_CACHE_ID, 1, &state,
				    &error) > 0 &&
	    strcmp(state.options, str_c(str)) == 0)
		return;
	i_zero(&state);
	t_array_init(&state.uids, 1);
	state.options = str_c(str);
	if (as_store_collection_put(ctx->store, ctx->username,
				    ctx->req->device_id,
				    AS_SYNC_REQUEST_CACHE_ID, 1, &state,
				    &error) < 0)
		e_error(ctx->event, "Sync: caching the request failed: %s",
			error);
}

static bool
sync_colls_have(struct sync_context *sctx, const char *collection_id)
{
	const struct sync_collection *coll;

	array_foreach(&sctx->colls, coll) {
		if (strcmp(coll->collection_id, collection_id) == 0)
			return TRUE;
	}
	return FALSE;
}

/* Add the cached collections the request doesn't name, each with the
   SyncKey the device holds (the latest). Returns 1 if there was a cached
   request, 0 if not, -1 on error. */
int as_sync_request_cache_load(struct sync_context *sctx)
{
	struct as_cmd_context *ctx = sctx->ctx;
	struct as_collection_state state;
	struct sync_collection *coll;
	const char *const *lines, *const *f, *error;
	unsigned int num, latest;
	int ret;

	ret = as_store_collection_get(ctx->store, pool_datastack_create(),
				      ctx->username, ctx->req->device_id,
				      AS_SYNC_REQUEST_CACHE_ID, 1, &state,
				      &error);
	if (ret <= 0) {
		if (ret < 0)
			e_error(ctx->event, "Sync: reading the cached "
				"request failed: %s", error);
		return ret;
	}
	lines = t_strsplit(state.options, "\n");
	f = t_strsplit_tabescaped(lines[0]);
	if (str_array_length(f) != 3 ||
	    strcmp(f[0], AS_SYNC_REQUEST_CACHE_VERSION) != 0)
		return 0;
	if (!sctx->wait_given && str_to_uint(f[1], &num) == 0 && num > 0) {
		sctx->wait_secs = num;
		sctx->wait_given = TRUE;
	}
	if (sctx->req_window_size == 0 && str_to_uint(f[2], &num) == 0 &&
	    num > 0 && num <= 512) {
		sctx->req_window_size = num;
		sctx->default_window_size = num;
	}
	for (lines++; *lines != NULL; lines++) {
		if (**lines == '\0')
			continue;
		f = t_strsplit_tabescaped(*lines);
		if (str_array_length(f) != 6 || sync_colls_have(sctx, f[0]))
			continue;
		if (as_store_collection_latest(ctx->store, ctx->username,
					       ctx->req->device_id, f[0],
					       &latest, &error) <= 0)
			continue; /* never synced (or reset): skip */
		coll = array_append_space(&sctx->colls);
		coll->collection_id = p_strdup(ctx->pool, f[0]);
		if (*f[1] != '\0')
			coll->class_name = p_strdup(ctx->pool, f[1]);
		coll->sync_key_str = p_strdup(ctx->pool, dec2str(latest));
		if (str_to_uint(f[2], &coll->req_window_size) < 0 ||
		    coll->req_window_size > 512)
			coll->req_window_size = 0;
		if (strcmp(f[3], "-") != 0) {
			coll->get_changes_set = TRUE;
			coll->get_changes = strcmp(f[3], "1") == 0;
		}
		coll->deletes_as_moves = strcmp(f[4], "1") == 0;
		if (strcmp(f[5], "-") != 0) {
			coll->have_options = TRUE;
			as_sync_options_read(f[5], &coll->options);
		}
		as_sync_collection_finish(sctx, coll);
	}
	return 1;
}

