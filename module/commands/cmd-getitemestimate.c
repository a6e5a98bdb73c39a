/* Copyright (c) dovecot-activesync authors, see the included COPYING file */

/* GetItemEstimate (MS-ASCMD 2.2.1.9): how many changes the next Sync of
   each collection would send, computed the way Sync computes them
   (module/sync/as-sync-changes.c, CONDSTORE data and UID lists from the
   index) against the state of the given SyncKey, without reading any
   message. A folder without changes is answered by the O(1) check.

   Request forms: 12.x has Class, CollectionId, FilterType and SyncKey
   directly in the Collection; 14.x and 16.x have SyncKey, CollectionId,
   ConversationMode and an Options element (FilterType, Class). */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "strnum.h"
#include "str-sanitize.h"
#include "ioloop.h"
#include "imap-seqset.h"
#include "mail-storage.h"
#include "as-command.h"
#include "as-folders.h"
#include "items/as-item.h"
#include "sync/as-sync-options.h"
#include "sync/as-sync-changes.h"
#include "sync/as-sync-state.h"

/* GetItemEstimate status codes (MS-ASCMD 2.2.3.177.7) */
enum estimate_status {
	ESTIMATE_STATUS_OK = 1,
	ESTIMATE_STATUS_INVALID_COLLECTION = 2,
	ESTIMATE_STATUS_NOT_PRIMED = 3,
	ESTIMATE_STATUS_INVALID_SYNC_KEY = 4,
};

#define ESTIMATE_MAX_COLLECTIONS 1000

struct estimate_collection {
	const char *collection_id;
	const char *class_name;
	const char *sync_key;
	/* FilterType from the request, if any */
	bool have_filter;
	unsigned int filter_type;
};

ARRAY_DEFINE_TYPE(estimate_collection, struct estimate_collection);

/* ---- parsing ---- */

static int estimate_parse_filter(const char *value, unsigned int *filter_r)
{
	/* the same range Sync accepts */
	return str_to_uint(value, filter_r) < 0 || *filter_r > 8 ? -1 : 0;
}

static int
estimate_parse_options(const struct wbxml_node *options,
		       struct estimate_collection *coll, const char **error_r)
{
	const char *class_name, *value;

	class_name = wbxml_node_child_text(options, EAS_AIRSYNC_CLASS);
	if (class_name != NULL && strcmp(class_name, "Email") != 0) {
		/* SMS options of a 14.x Inbox: no SMS here */
		return 0;
	}
	value = wbxml_node_child_text(options, EAS_AIRSYNC_FILTERTYPE);
	if (value != NULL) {
		if (estimate_parse_filter(value, &coll->filter_type) < 0) {
			*error_r = "Invalid FilterType";
			return -1;
		}
		coll->have_filter = TRUE;
	}
	return 0;
}

static int
estimate_parse_collection(const struct wbxml_node *node,
			  struct estimate_collection *coll,
			  const char **error_r)
{
	const struct wbxml_node *child;
	const char *value;

	wbxml_node_foreach_child(node, child) {
		value = wbxml_node_text(child);
		switch (child->tag) {
		case EAS_GETITEMESTIMATE_COLLECTIONID:
			coll->collection_id = value;
			break;
		case EAS_GETITEMESTIMATE_CLASS:
		case EAS_AIRSYNC_CLASS:
			coll->class_name = value;
			break;
		case EAS_AIRSYNC_SYNCKEY:
			coll->sync_key = value;
			break;
		case EAS_AIRSYNC_FILTERTYPE:
			/* 12.x form */
			if (estimate_parse_filter(value,
						  &coll->filter_type) < 0) {
				*error_r = "Invalid FilterType";
				return -1;
			}
			coll->have_filter = TRUE;
			break;
		case EAS_AIRSYNC_OPTIONS:
			if (estimate_parse_options(child, coll, error_r) < 0)
				return -1;
			break;
		default:
			/* ConversationMode, MaxItems: no effect on the
			   count */
			break;
		}
	}
	return 0;
}

/* ---- the estimate ---- */

/* TRUE if the mailbox list index shows the folder just as the last
   Sync left it (and nothing else is pending): the estimate is 0
   without opening the folder. */
static bool
estimate_index_unchanged(struct as_cmd_context *ctx,
			 const struct as_folder_info *folder,
			 struct as_sync_changes_input *in)
{
	struct mailbox_status status;
	const char *reason;
	bool unchanged;

	unchanged = as_sync_changes_folder_index_status(
			as_folders_namespace(ctx)->list, folder->vname,
			folder->guid, &status, &reason) > 0 &&
		status.uidvalidity == in->state->uid_validity;
	if (unchanged) {
		in->status = &status;
		unchanged = as_sync_changes_none(in);
		in->status = NULL;
	}
	if (unchanged) {
		e_debug(ctx->event, "GetItemEstimate: folder %s unchanged "
			"(mailbox list index status)", folder->server_id);
	}
	return unchanged;
}

static unsigned int
estimate_compute(struct as_cmd_context *ctx,
		 const struct estimate_collection *coll,
		 const struct as_folder_info *folder,
		 const struct as_collection_state *state,
		 unsigned int *estimate_r)
{
	struct as_sync_state_extra extra;
	struct as_sync_changes_input in;
	struct as_sync_changes changes;
	struct mailbox *box;
	struct mailbox_status status;
	const char *error;
	unsigned int filter_type;
	bool filter_changed = FALSE;
	unsigned int ret = ESTIMATE_STATUS_OK;

	*estimate_r = 0;
	if (as_item_class_get(folder) == NULL) {
		/* Sync sends no items for these (yet) */
		return ESTIMATE_STATUS_OK;
	}
	as_sync_state_extra_read(state->options, &extra);
	filter_type = extra.options.filter_type;
	if (coll->have_filter && coll->filter_type != filter_type) {
		/* Sync with this filter compares the whole folder */
		filter_changed = TRUE;
		filter_type = coll->filter_type;
	}

	i_zero(&in);
	in.state = state;
	in.full = extra.full || filter_changed;
	in.pending_changes = &extra.pending_changes;
	if (estimate_index_unchanged(ctx, folder, &in)) {
		/* nothing new since the last Sync, the folder not opened */
		return ESTIMATE_STATUS_OK;
	}

	if (as_folders_open(ctx, folder, 0, &box, &error) < 0) {
		e_info(ctx->event, "GetItemEstimate: folder %s: %s",
		       folder->server_id, error);
		return ESTIMATE_STATUS_INVALID_COLLECTION;
	}
	if (mailbox_enable(box, MAILBOX_FEATURE_CONDSTORE) < 0 ||
	    mailbox_sync(box, 0) < 0) {
		e_error(ctx->event, "GetItemEstimate: folder %s: %s",
			folder->server_id,
			mailbox_get_last_internal_error(box, NULL));
		mailbox_free(&box);
		return ESTIMATE_STATUS_INVALID_COLLECTION;
	}
	mailbox_get_open_status(box, STATUS_UIDVALIDITY | STATUS_UIDNEXT |
				STATUS_HIGHESTMODSEQ, &status);
	if (status.uidvalidity != state->uid_validity) {
		/* Sync answers this key with "invalid SyncKey" too */
		e_info(ctx->event, "GetItemEstimate: UIDVALIDITY of %s "
		       "changed", folder->vname);
		mailbox_free(&box);
		return ESTIMATE_STATUS_INVALID_SYNC_KEY;
	}

	in.box = box;
	in.status = &status;
	/* the mail age limit in effect at the last Sync narrows it too,
	   where the class filters by date (as in Sync) */
	if (as_item_class_get(folder)->date_filter) {
		in.since = as_sync_state_since(filter_type, extra.max_age,
					       ioloop_time);
		in.in_range = as_item_class_get(folder)->in_range;
		in.in_range_fields = as_item_class_get(folder)->wanted_fields;
	}
	if (as_sync_changes_none(&in))
		*estimate_r = 0;
	else if (as_sync_changes_compute(pool_datastack_create(), &in,
					 &changes, &error) < 0) {
		e_error(ctx->event, "GetItemEstimate: computing changes of "
			"%s failed: %s", folder->vname, error);
		ret = ESTIMATE_STATUS_INVALID_COLLECTION;
	} else {
		*estimate_r = as_sync_changes_count(&changes);
	}
	mailbox_free(&box);
	return ret;
}

/* Returns the status and *estimate_r for one collection. */
static unsigned int
estimate_collection(struct as_cmd_context *ctx,
		    const struct estimate_collection *coll,
		    unsigned int *estimate_r)
{
	struct as_folder_info folder;
	struct as_collection_state state;
	const char *error;
	unsigned int key, latest;
	int ret;

	*estimate_r = 0;
	if (coll->collection_id == NULL || *coll->collection_id == '\0') {
		e_info(ctx->event, "GetItemEstimate: Collection without "
		       "CollectionId");
		return ESTIMATE_STATUS_INVALID_COLLECTION;
	}
	if (coll->class_name != NULL &&
	    strcmp(coll->class_name, "Email") != 0 &&
	    strcmp(coll->class_name, "SMS") != 0 &&
	    strcmp(coll->class_name, "Calendar") != 0 &&
	    strcmp(coll->class_name, "Contacts") != 0 &&
	    strcmp(coll->class_name, "Tasks") != 0 &&
	    strcmp(coll->class_name, "Notes") != 0) {
		e_info(ctx->event, "GetItemEstimate: unknown Class %s",
		       str_sanitize(coll->class_name, 32));
		return ESTIMATE_STATUS_INVALID_COLLECTION;
	}
	ret = as_folders_lookup(ctx, coll->collection_id, &folder, &error);
	if (ret < 0) {
		e_error(ctx->event, "GetItemEstimate: folder lookup failed: "
			"%s", error);
		return ESTIMATE_STATUS_INVALID_COLLECTION;
	}
	if (ret == 0) {
		e_info(ctx->event, "GetItemEstimate: unknown CollectionId %s",
		       str_sanitize(coll->collection_id, 64));
		return ESTIMATE_STATUS_INVALID_COLLECTION;
	}
	if (coll->sync_key == NULL || strcmp(coll->sync_key, "0") == 0) {
		e_info(ctx->event, "GetItemEstimate: collection %s: SyncKey "
		       "%s, not primed", folder.server_id,
		       coll->sync_key == NULL ? "missing" : "0");
		return ESTIMATE_STATUS_NOT_PRIMED;
	}
	ret = as_store_collection_latest(ctx->store, ctx->username,
					 ctx->req->device_id,
					 coll->collection_id, &latest, &error);
	if (ret < 0) {
		e_error(ctx->event, "GetItemEstimate: state store: %s", error);
		return ESTIMATE_STATUS_INVALID_COLLECTION;
	}
	if (ret == 0 || latest == 0) {
		e_info(ctx->event, "GetItemEstimate: collection %s was never "
		       "synced by this device", folder.server_id);
		return ESTIMATE_STATUS_NOT_PRIMED;
	}
	/* the device's key, or the one before it (a lost Sync response
	   that the next Sync will repeat) */
	if (str_to_uint(coll->sync_key, &key) < 0 ||
	    (key != latest && key + 1 != latest)) {
		e_info(ctx->event, "GetItemEstimate: invalid SyncKey %s for "
		       "collection %s", str_sanitize(coll->sync_key, 32),
		       folder.server_id);
		return ESTIMATE_STATUS_INVALID_SYNC_KEY;
	}
	ret = as_store_collection_get(ctx->store, pool_datastack_create(),
				      ctx->username, ctx->req->device_id,
				      coll->collection_id, key, &state,
				      &error);
	if (ret <= 0) {
		if (ret < 0) {
			e_error(ctx->event, "GetItemEstimate: state store: %s",
				error);
			return ESTIMATE_STATUS_INVALID_COLLECTION;
		}
		e_info(ctx->event, "GetItemEstimate: no state for SyncKey %s "
		       "of collection %s", str_sanitize(coll->sync_key, 32),
		       folder.server_id);
		return ESTIMATE_STATUS_INVALID_SYNC_KEY;
	}
	if (!array_is_created(&state.uids))
		t_array_init(&state.uids, 1);
	return estimate_compute(ctx, coll, &folder, &state, estimate_r);
}

static void
estimate_write_response(struct as_cmd_context *ctx,
			const struct estimate_collection *coll,
			unsigned int status, unsigned int estimate)
{
	struct wbxml_writer *w = ctx->writer;

	wbxml_start(w, EAS_GETITEMESTIMATE_RESPONSE);
	wbxml_elem_uint(w, EAS_GETITEMESTIMATE_STATUS, status);
	if (coll->collection_id != NULL && *coll->collection_id != '\0') {
		wbxml_start(w, EAS_GETITEMESTIMATE_COLLECTION);
		if (ctx->req->version < AS_VERSION_14_0) {
			wbxml_elem_str(w, EAS_GETITEMESTIMATE_CLASS,
				       coll->class_name != NULL ?
				       coll->class_name : "Email");
		}
		wbxml_elem_str(w, EAS_GETITEMESTIMATE_COLLECTIONID,
			       coll->collection_id);
		if (status == ESTIMATE_STATUS_OK) {
			wbxml_elem_uint(w, EAS_GETITEMESTIMATE_ESTIMATE,
					estimate);
		}
		wbxml_end(w);
	}
	wbxml_end(w);
}

static int
estimate_parse(struct as_cmd_context *ctx,
	       ARRAY_TYPE(estimate_collection) *colls, const char **error_r)
{
	const struct wbxml_node *collections, *node;
	struct estimate_collection *coll;

	collections = wbxml_node_child(ctx->root,
				       EAS_GETITEMESTIMATE_COLLECTIONS);
	if (collections == NULL) {
		*error_r = "No Collections";
		return -1;
	}
	wbxml_node_foreach_child(collections, node) {
		if (node->tag != EAS_GETITEMESTIMATE_COLLECTION) {
			*error_r = t_strdup_printf("Unexpected element %s",
				wbxml_tag_describe(node->tag));
			return -1;
		}
		if (array_count(colls) >= ESTIMATE_MAX_COLLECTIONS) {
			*error_r = "Too many collections";
			return -1;
		}
		coll = array_append_space(colls);
		if (estimate_parse_collection(node, coll, error_r) < 0)
			return -1;
	}
	if (array_count(colls) == 0) {
		*error_r = "No Collection";
		return -1;
	}
	return 0;
}

enum as_command_result cmd_getitemestimate(struct as_cmd_context *ctx)
{
	ARRAY_TYPE(estimate_collection) colls;
	const struct estimate_collection *coll;
	unsigned int status, estimate;
	const char *error;

	t_array_init(&colls, 8);
	if (estimate_parse(ctx, &colls, &error) < 0) {
		e_info(ctx->event, "GetItemEstimate: malformed request: %s",
		       error);
		if (ctx->req->version < AS_VERSION_14_0) {
			ctx->http_status = 400;
			ctx->http_reason = "Bad Request";
		} else {
			as_cmd_write_status(ctx, AS_STATUS_INVALID_XML);
		}
		return AS_CMD_DONE;
	}

	wbxml_start(ctx->writer, EAS_GETITEMESTIMATE_GETITEMESTIMATE);
	array_foreach(&colls, coll) T_BEGIN {
		status = estimate_collection(ctx, coll, &estimate);
		estimate_write_response(ctx, coll, status, estimate);
	} T_END;
	wbxml_end(ctx->writer);
	return AS_CMD_DONE;
}
