/* Copyright (c) dovecot-activesync authors, see the included COPYING file */

/* Sync (MS-ASCMD 2.2.1.21) for mail folders.

   A SyncKey names a stored collection state (UIDVALIDITY, HIGHESTMODSEQ,
   UIDNEXT, the UIDs the device has, the Options). For each collection:
   check the key, apply the client's commands to the mailbox (committed
   before the new state), compute the server's changes from CONDSTORE
   data (module/sync/as-sync-changes.c), send at most WindowSize of them,
   store state N+1 and drop states older than N. A client that lost our
   answer repeats key N: the answer is computed again from state N and
   replaces state N+1. */

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
#include "policy/as-policy.h"
#include "push/as-hold.h"
#include "http/as-response-stream.h"
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


/* Changes arriving in a burst are looked at once: the least time
   between two checks of a held Sync */
#define AS_SYNC_WAIT_DEBOUNCE_MSECS 500

static int sync_parse_age(struct as_cmd_context *ctx, const char *what,
			  const char *value, unsigned int *secs_r)
{
	const char *error;

	*secs_r = 0;
	if (value == NULL || *value == '\0')
		return 0;
	if (settings_get_time(value, secs_r, &error) < 0) {
		e_error(ctx->event, "Sync: invalid %s '%s' ignored: %s", what,
			str_sanitize(value, 64), error);
		*secs_r = 0;
		return -1;
	}
	return 0;
}

/* The policy's FilterType limit (MaxEmailAgeFilter,
   MaxCalendarAgeFilter) in seconds, 0 = none */
static unsigned int sync_policy_age(struct as_cmd_context *ctx,
				    const char *field)
{
	const struct as_policy *policy;
	const char *error;
	unsigned int filter_type;
	int idx = as_policy_find(field);

	i_assert(idx >= 0);
	if (as_cmd_get_policy(ctx, &policy, &error) < 0) {
		e_error(ctx->event, "Sync: reading the policy failed: %s",
			error);
		return 0;
	}
	filter_type = as_policy_get_uint(policy, idx);
	/* 8 (incomplete tasks) is no age */
	if (filter_type == 0 ||
	    filter_type >= AS_SYNC_FILTER_INCOMPLETE_TASKS)
		return 0;
	return ioloop_time - as_sync_filter_since(filter_type, ioloop_time);
}

/* The smallest non-zero of the limits */
static unsigned int sync_age_min(unsigned int a, unsigned int b)
{
	if (a == 0 || (b != 0 && b < a))
		return b;
	return a;
}

/* An age limit of a class: the setting (per user through userdb
   fields), the device's property of the same name and the policy's
   FilterType field; the smallest non-zero one applies */
static unsigned int sync_max_age(struct as_cmd_context *ctx,
				 unsigned int user_age, const char *prop,
				 const char *policy_field)
{
	const char *value, *error;
	unsigned int dev_age, policy_age;

	if (as_store_device_prop_get(ctx->store, pool_datastack_create(),
				     ctx->username, ctx->req->device_id,
				     prop, &value, &error) < 0) {
		e_error(ctx->event, "Sync: reading the device's %s failed: %s",
			prop, error);
		value = NULL;
	}
	(void)sync_parse_age(ctx, t_strconcat("device ", prop, NULL),
			     value, &dev_age);
	policy_age = sync_policy_age(ctx, policy_field);
	e_debug(ctx->event, "Sync: %s: user %u, device %u, policy %u secs",
		prop, user_age, dev_age, policy_age);
	return sync_age_min(sync_age_min(user_age, dev_age), policy_age);
}

/* ---- request parsing ---- */

static int parse_bool_elem(const char *value, bool *result_r)
{
	/* an empty element means TRUE (e.g. <GetChanges/>) */
	if (*value == '\0' || strcmp(value, "1") == 0)
		*result_r = TRUE;
	else if (strcmp(value, "0") == 0)
		*result_r = FALSE;
	else
		return -1;
	return 0;
}

/* Defaults that depend on the SyncKey and the request's WindowSize */
void as_sync_collection_finish(struct sync_context *sctx,
				   struct sync_collection *coll)
{
	if (str_to_uint(coll->sync_key_str, &coll->sync_key) < 0) {
		/* not one of ours: answered with Status 3 */
		coll->sync_key = UINT_MAX;
	}
	/* GetChanges defaults to TRUE, except with SyncKey 0 */
	if (!coll->get_changes_set)
		coll->get_changes = coll->sync_key != 0;
	coll->window_size = coll->req_window_size != 0 ?
		coll->req_window_size : sctx->default_window_size;
	if (coll->window_size > sctx->ctx->set->max_window_size)
		coll->window_size = sctx->ctx->set->max_window_size;
	if (coll->window_size == 0)
		coll->window_size = 1;
}

static int
sync_collection_parse(struct sync_context *sctx, const struct wbxml_node *node,
		      struct sync_collection *coll, const char **error_r)
{
	const struct wbxml_node *child;
	const char *value;

	i_zero(coll);
	coll->deletes_as_moves = TRUE;
	wbxml_node_foreach_child(node, child) {
		value = wbxml_node_text(child);
		switch (child->tag) {
		case EAS_AIRSYNC_SYNCKEY:
			coll->sync_key_str = value;
			break;
		case EAS_AIRSYNC_COLLECTIONID:
			coll->collection_id = value;
			break;
		case EAS_AIRSYNC_CLASS:
			coll->class_name = value;
			break;
		case EAS_AIRSYNC_DELETESASMOVES:
			if (parse_bool_elem(value, &coll->deletes_as_moves) < 0) {
				*error_r = "Invalid DeletesAsMoves";
				return -1;
			}
			break;
		case EAS_AIRSYNC_GETCHANGES:
			if (parse_bool_elem(value, &coll->get_changes) < 0) {
				*error_r = "Invalid GetChanges";
				return -1;
			}
			coll->get_changes_set = TRUE;
			break;
		case EAS_AIRSYNC_WINDOWSIZE:
			if (str_to_uint(value, &coll->req_window_size) < 0 ||
			    coll->req_window_size > 512) {
				*error_r = "Invalid WindowSize";
				return -1;
			}
			break;
		case EAS_AIRSYNC_OPTIONS: {
			int ret = as_sync_options_parse(child, &coll->options,
							error_r);
			if (ret < 0)
				return -1;
			if (ret > 0)
				coll->have_options = TRUE;
			break;
		}
		case EAS_AIRSYNC_COMMANDS:
			coll->commands = child;
			break;
		case EAS_AIRSYNC_SUPPORTED: {
			const struct wbxml_node *elem;

			coll->have_supported = TRUE;
			p_array_init(&coll->supported, sctx->ctx->pool, 32);
			wbxml_node_foreach_child(child, elem)
				array_push_back(&coll->supported, &elem->tag);
			break;
		}
		default:
			/* ConversationMode: nothing to do */
			break;
		}
	}
	if (coll->sync_key_str == NULL) {
		*error_r = "Collection without SyncKey";
		return -1;
	}
	if (coll->collection_id == NULL || *coll->collection_id == '\0') {
		*error_r = "Collection without CollectionId";
		return -1;
	}
	as_sync_collection_finish(sctx, coll);
	return 0;
}

/* ---- the command ---- */

static void sync_write_top_status(struct sync_context *sctx,
				  unsigned int status, int limit)
{
	struct as_cmd_context *ctx = sctx->ctx;

	/* nothing may have been written yet (the dispatcher's writer
	   holds only the header) */
	wbxml_start(ctx->writer, EAS_AIRSYNC_SYNC);
	wbxml_elem_uint(ctx->writer, EAS_AIRSYNC_STATUS, status);
	if (limit >= 0)
		wbxml_elem_uint(ctx->writer, EAS_AIRSYNC_LIMIT, limit);
	wbxml_end(ctx->writer);
}

/* Wait (minutes) / HeartbeatInterval (seconds) range check. Returns -1
   and writes Status 14 with the violated limit (4 if both are given). */
static int sync_check_wait(struct sync_context *sctx,
			   const struct wbxml_node *root)
{
	const char *value;
	unsigned int num;

	if (wbxml_node_child(root, EAS_AIRSYNC_WAIT) != NULL &&
	    wbxml_node_child(root, EAS_AIRSYNC_HEARTBEATINTERVAL) != NULL) {
		e_info(sctx->ctx->event, "Sync: both Wait and "
		       "HeartbeatInterval");
		sync_write_top_status(sctx, AS_SYNC_STATUS_PROTOCOL_ERROR, -1);
		return -1;
	}
	value = wbxml_node_child_text(root, EAS_AIRSYNC_WAIT);
	if (value != NULL) {
		if (str_to_uint(value, &num) < 0 || num < AS_SYNC_WAIT_MIN) {
			sync_write_top_status(sctx, AS_SYNC_STATUS_INVALID_WAIT,
					      AS_SYNC_WAIT_MIN);
			return -1;
		}
		if (num > AS_SYNC_WAIT_MAX) {
			sync_write_top_status(sctx, AS_SYNC_STATUS_INVALID_WAIT,
					      AS_SYNC_WAIT_MAX);
			return -1;
		}
		sctx->wait_secs = num * 60;
		sctx->wait_given = TRUE;
	}
	value = wbxml_node_child_text(root, EAS_AIRSYNC_HEARTBEATINTERVAL);
	if (value != NULL) {
		if (str_to_uint(value, &num) < 0 ||
		    num < AS_SYNC_HEARTBEAT_MIN) {
			sync_write_top_status(sctx, AS_SYNC_STATUS_INVALID_WAIT,
					      AS_SYNC_HEARTBEAT_MIN);
			return -1;
		}
		if (num > AS_SYNC_HEARTBEAT_MAX) {
			sync_write_top_status(sctx, AS_SYNC_STATUS_INVALID_WAIT,
					      AS_SYNC_HEARTBEAT_MAX);
			return -1;
		}
		sctx->wait_secs = num;
		sctx->wait_given = TRUE;
	}
	return 0;
}

/* ---- Wait / HeartbeatInterval ---- */

/* Would a Sync of this collection now send or do anything? Errors count
   as "yes": they are answered at once. */
static bool sync_have_work(struct sync_context *sctx)
{
	struct sync_collection *coll;
	bool work = FALSE;

	array_foreach_modifiable(&sctx->colls, coll) {
		T_BEGIN {
			work = as_sync_collection_has_work(sctx, coll);
		} T_END;
		if (work)
			break;
	}
	return work;
}

static void sync_write_response(struct sync_context *sctx)
{
	struct sync_collection *coll;

	/* each collection's Status precedes its items, so the response can
	   go out while it is written; a state store failure after that
	   cuts the connection instead of the 503 (see state_failed) */
	as_response_stream_enable(sctx->ctx);
	wbxml_start(sctx->w, EAS_AIRSYNC_SYNC);
	wbxml_start(sctx->w, EAS_AIRSYNC_COLLECTIONS);
	array_foreach_modifiable(&sctx->colls, coll) T_BEGIN {
		as_sync_collection(sctx, coll);
	} T_END;
	wbxml_end(sctx->w);
	wbxml_end(sctx->w);
}

/* Answer the held Sync: the changes, or (work FALSE) an empty response,
   with which the device keeps its keys. */
static void sync_wait_finish(struct sync_context *sctx, bool work)
{
	as_hold_deinit(&sctx->hold);
	if (work) T_BEGIN {
		sync_write_response(sctx);
	} T_END;
	if (sctx->state_failed)
		as_cmd_set_retry_later(sctx->ctx);
	as_cmd_finish(sctx->ctx);
}

static bool
sync_hold_callback(enum as_hold_wake wake, struct sync_context *sctx)
{
	struct as_cmd_context *ctx = sctx->ctx;
	const char *error;

	switch (wake) {
	case AS_HOLD_WAKE_CHANGED:
		if (as_cmd_reopen_user(ctx, &error) < 0) {
			e_error(ctx->event, "Reopening the user failed: %s",
				error);
			break;
		}
		/* fall through */
	case AS_HOLD_WAKE_CHECK:
	case AS_HOLD_WAKE_RESOLVE:
		/* a change that gives the device nothing (e.g. outside its
		   filter) keeps it waiting */
		if (!sync_have_work(sctx))
			return TRUE;
		sync_wait_finish(sctx, TRUE);
		return FALSE;
	case AS_HOLD_WAKE_TIMEOUT:
		sync_wait_finish(sctx, sync_have_work(sctx));
		return FALSE;
	case AS_HOLD_WAKE_SUPERSEDED:
		/* the device sent a newer request, which may use the same
		   SyncKeys: answer "no changes", the device keeps its keys
		   and the newer request (or the next) gets the changes */
		sync_wait_finish(sctx, FALSE);
		return FALSE;
	case AS_HOLD_WAKE_ERROR:
		break;
	case AS_HOLD_WAKE_ABORTED:
		as_hold_deinit(&sctx->hold);
		return FALSE;
	}
	as_hold_deinit(&sctx->hold);
	sync_write_top_status(sctx, AS_SYNC_STATUS_SERVER_ERROR, -1);
	as_cmd_finish(ctx);
	return FALSE;
}

/* Arm the hold on the collections' folders. Folders that can't be found
   are left out: their collection has work (an error to answer). */
static void sync_wait_arm(struct sync_context *sctx)
{
	struct as_cmd_context *ctx = sctx->ctx;
	const struct sync_collection *coll;
	struct as_folder_info folder;
	const char *error;

	sctx->hold = as_hold_init(ctx, AS_HOLD_KIND_SYNC,
				  AS_SYNC_WAIT_DEBOUNCE_MSECS,
				  sync_hold_callback, sctx);
	array_foreach(&sctx->colls, coll) {
		if (as_folders_lookup(ctx, coll->collection_id, &folder,
				      &error) > 0) {
			(void)as_hold_add_folder(sctx->hold, folder.guid,
				p_strdup(ctx->pool, folder.vname));
		}
	}
}

/* Returns -1 after writing the error status. */
static int sync_parse_collections(struct sync_context *sctx,
				  const struct wbxml_node *collections)
{
	struct as_cmd_context *ctx = sctx->ctx;
	const struct wbxml_node *node;
	struct sync_collection *coll;
	const char *error;

	wbxml_node_foreach_child(collections, node) {
		if (node->tag != EAS_AIRSYNC_COLLECTION) {
			e_info(ctx->event, "Sync: unexpected element in "
			       "Collections");
			sync_write_top_status(sctx,
				AS_SYNC_STATUS_PROTOCOL_ERROR, -1);
			return -1;
		}
		if (array_count(&sctx->colls) >= AS_SYNC_MAX_COLLECTIONS) {
			e_info(ctx->event, "Sync: too many collections");
			sync_write_top_status(sctx,
				AS_SYNC_STATUS_TOO_MANY_COLLECTIONS, -1);
			return -1;
		}
		coll = array_append_space(&sctx->colls);
		if (sync_collection_parse(sctx, node, coll, &error) < 0) {
			e_info(ctx->event, "Sync: protocol error: %s", error);
			sync_write_top_status(sctx,
				AS_SYNC_STATUS_PROTOCOL_ERROR, -1);
			return -1;
		}
	}
	return 0;
}

enum as_command_result cmd_sync(struct as_cmd_context *ctx)
{
	struct sync_context *sctx;
	const struct wbxml_node *root = ctx->root, *collections = NULL;
	const char *value;
	bool partial;

	/* lives as long as the request (held Syncs) */
	sctx = p_new(ctx->pool, struct sync_context, 1);
	sctx->ctx = ctx;
	sctx->w = ctx->writer;
	sctx->default_window_size = AS_SYNC_DEFAULT_WINDOW_SIZE;
	p_array_init(&sctx->colls, ctx->pool, 8);
	T_BEGIN {
		sctx->max_mail_age = sync_max_age(ctx,
			ctx->set->max_mail_age,
			AS_SYNC_DEVICE_PROP_MAX_MAIL_AGE, "MaxEmailAgeFilter");
		sctx->max_calendar_age = sync_max_age(ctx,
			ctx->set->max_calendar_age,
			AS_SYNC_DEVICE_PROP_MAX_CALENDAR_AGE,
			"MaxCalendarAgeFilter");
	} T_END;

	if (root == NULL) {
		/* an empty request repeats the cached one */
		partial = TRUE;
	} else {
		if (root->tag != EAS_AIRSYNC_SYNC) {
			e_info(ctx->event, "Sync: wrong root element");
			sync_write_top_status(sctx,
				AS_SYNC_STATUS_PROTOCOL_ERROR, -1);
			return AS_CMD_DONE;
		}
		if (sync_check_wait(sctx, root) < 0)
			return AS_CMD_DONE;
		value = wbxml_node_child_text(root, EAS_AIRSYNC_WINDOWSIZE);
		if (value != NULL) {
			if (str_to_uint(value, &sctx->req_window_size) < 0 ||
			    sctx->req_window_size > 512) {
				e_info(ctx->event, "Sync: invalid WindowSize");
				sync_write_top_status(sctx,
					AS_SYNC_STATUS_PROTOCOL_ERROR, -1);
				return AS_CMD_DONE;
			}
			if (sctx->req_window_size > 0)
				sctx->default_window_size =
					sctx->req_window_size;
		}
		collections = wbxml_node_child(root, EAS_AIRSYNC_COLLECTIONS);
		/* without Collections it's a partial request too */
		partial = collections == NULL ||
			wbxml_node_child(root, EAS_AIRSYNC_PARTIAL) != NULL;
	}

	if (collections != NULL &&
	    sync_parse_collections(sctx, collections) < 0)
		return AS_CMD_DONE;
	if (partial) {
		if (as_sync_request_cache_load(sctx) <= 0) {
			e_debug(ctx->event, "Sync: %s request without a "
				"cached one, asking for a full one",
				root == NULL ? "empty" : "partial");
			sync_write_top_status(sctx,
				AS_SYNC_STATUS_INCOMPLETE_REQUEST, -1);
			return AS_CMD_DONE;
		}
	}
	if (array_count(&sctx->colls) == 0) {
		e_info(ctx->event, "Sync: no collections");
		sync_write_top_status(sctx, partial ?
				      AS_SYNC_STATUS_INCOMPLETE_REQUEST :
				      AS_SYNC_STATUS_PROTOCOL_ERROR, -1);
		return AS_CMD_DONE;
	}
	if (array_count(&sctx->colls) > AS_SYNC_MAX_COLLECTIONS) {
		sync_write_top_status(sctx,
				      AS_SYNC_STATUS_TOO_MANY_COLLECTIONS, -1);
		return AS_CMD_DONE;
	}
	as_sync_request_cache_save(sctx);

	/* a held Sync of the device may hold the same SyncKeys: it ends
	   first; a Sync that will wait also ends a held Ping (one held
	   request per device) */
	as_hold_supersede(ctx, sctx->wait_secs > 0 ? AS_HOLD_KIND_ALL :
			  AS_HOLD_KIND_SYNC);
	if (sctx->wait_secs > 0) {
		/* arm first, then compare: a change in between wakes it */
		sync_wait_arm(sctx);
		if (!sync_have_work(sctx)) {
			e_debug(ctx->event, "Sync: no changes, waiting up to "
				"%u secs", sctx->wait_secs);
			as_hold_wait(sctx->hold, sctx->wait_secs);
			return AS_CMD_PENDING;
		}
		as_hold_deinit(&sctx->hold);
	}
	sync_write_response(sctx);
	if (sctx->state_failed)
		as_cmd_set_retry_later(ctx);
	return AS_CMD_DONE;
}

