/* Copyright (c) the dovecot-activesync authors, see AUTHORS */

#include "lib.h"
#include "array.h"
#include "hash.h"
#include "ioloop.h"
#include "str.h"
#include "strnum.h"
#include "str-sanitize.h"
#include "time-util.h"
#include "mail-storage.h"
#include "as-command.h"
#include "as-folders.h"
#include "push/as-hold.h"
#include "sync/as-sync-changes.h"
#include "sync/as-sync-notice.h"

/* Ping (MS-ASCMD 2.2.1.13): hold the request until one of the listed
   folders differs from the state the device last synced, or until the
   heartbeat interval expires.

   A folder "has changes" when its UIDVALIDITY, UIDNEXT or HIGHESTMODSEQ
   differs from the device's latest collection state for it, or when the
   device has no state for it at all (Exchange reports such folders too:
   the device has to Sync them). A state without UIDVALIDITY (Sync of a
   folder class it has no items for) never reports changes. The watch is
   armed before the first comparison, so a change between the two is
   never missed.

   The hold engine (push/as-hold.c) waits: plugin datagrams with the
   user released while idle (a trusted datagram naming a watched folder
   with a newer HIGHESTMODSEQ answers at once, without opening the
   user), or the mailbox list index watch. One held request per device:
   a new Ping ends the device's held Ping or Sync, and a held Ping ended
   by a newer request answers Status 1. */

/* Ping/Status */
enum ping_status {
	PING_STATUS_EXPIRED = 1,
	PING_STATUS_CHANGES = 2,
	PING_STATUS_MISSING_PARAMETERS = 3,
	PING_STATUS_PROTOCOL_ERROR = 4,
	PING_STATUS_HEARTBEAT_OUT_OF_RANGE = 5,
	PING_STATUS_TOO_MANY_FOLDERS = 6,
	PING_STATUS_FOLDER_SYNC_REQUIRED = 7,
	PING_STATUS_SERVER_ERROR = 8,
};

/* The least time between two checks (and the list watch's burst
   coalescing) */
#define PING_DEBOUNCE_MSECS 100

enum ping_check_result {
	PING_CHECK_ERROR = -1,
	PING_CHECK_UNCHANGED = 0,
	PING_CHECK_CHANGED = 1,
	PING_CHECK_GONE = 2,
};

/* One watched folder; its entry in the hold (changed, pending, the
   known HIGHESTMODSEQ) has the same index. */
struct ping_folder {
	struct as_folder_info info;
};

struct ping_context {
	struct as_cmd_context *cmd;
	unsigned int heartbeat;
	ARRAY(struct ping_folder) folders;
	struct as_hold *hold;
	struct timeval start_time;
};

static void ping_write_status(struct as_cmd_context *ctx, unsigned int status)
{
	wbxml_start(ctx->writer, EAS_PING_PING);
	wbxml_elem_uint(ctx->writer, EAS_PING_STATUS, status);
	wbxml_end(ctx->writer);
}

static void
ping_write_limit(struct as_cmd_context *ctx, unsigned int status,
		 unsigned int tag, unsigned int limit)
{
	wbxml_start(ctx->writer, EAS_PING_PING);
	wbxml_elem_uint(ctx->writer, EAS_PING_STATUS, status);
	wbxml_elem_uint(ctx->writer, tag, limit);
	wbxml_end(ctx->writer);
}

static struct as_hold_folder *
ping_hold_folder(struct ping_context *ping, unsigned int idx)
{
	return array_idx_modifiable(as_hold_get_folders(ping->hold), idx);
}

static void ping_write_changes(struct ping_context *ping)
{
	struct as_cmd_context *ctx = ping->cmd;
	const struct ping_folder *folder;
	unsigned int i;

	wbxml_start(ctx->writer, EAS_PING_PING);
	wbxml_elem_uint(ctx->writer, EAS_PING_STATUS, PING_STATUS_CHANGES);
	wbxml_start(ctx->writer, EAS_PING_FOLDERS);
	array_foreach(&ping->folders, folder) {
		i = array_foreach_idx(&ping->folders, folder);
		if (ping_hold_folder(ping, i)->changed) {
			wbxml_elem_str(ctx->writer, EAS_PING_FOLDER,
				       folder->info.server_id);
		}
	}
	wbxml_end(ctx->writer);
	wbxml_end(ctx->writer);
}

/* The folder's status from the mailbox list index, without opening it
   (a large maildir's open re-reads its whole uidlist). FALSE if the
   index can't answer for sure; then the folder is opened. */
static bool
ping_index_status(struct ping_context *ping, const struct ping_folder *folder,
		  struct mailbox_status *status_r)
{
	struct as_cmd_context *ctx = ping->cmd;
	const char *reason;

	if (as_sync_changes_folder_index_status(
		as_folders_namespace(ctx)->list, folder->info.vname,
		folder->info.guid, status_r, &reason) > 0) {
		e_debug(ctx->event, "Folder %s: status from the mailbox list "
			"index", folder->info.server_id);
		return TRUE;
	}
	e_debug(ctx->event, "Folder %s: opening it: %s",
		folder->info.server_id, reason);
	return FALSE;
}

/* Compare one folder with the device's latest sync state. */
static enum ping_check_result
ping_check_folder(struct ping_context *ping, struct ping_folder *folder,
		  struct as_hold_folder *hfolder)
{
	struct as_cmd_context *ctx = ping->cmd;
	struct as_collection_state state;
	struct mailbox_status status;
	struct as_folder_info info;
	struct mailbox *box;
	unsigned int sync_key;
	const char *error;
	int ret;

	if (folder->info.noselect) {
		/* a parent without mail of its own never changes */
		hfolder->inert = TRUE;
		return PING_CHECK_UNCHANGED;
	}
	ret = as_store_collection_latest(ctx->store, ctx->username,
					 ctx->device->device_id,
					 folder->info.server_id, &sync_key,
					 &error);
	if (ret < 0) {
		e_error(ctx->event, "%s", error);
		return PING_CHECK_ERROR;
	}
	if (ret == 0 || sync_key == 0) {
		/* never synced: the device has to Sync it */
		return PING_CHECK_CHANGED;
	}
	ret = as_store_collection_get(ctx->store, pool_datastack_create(),
				      ctx->username, ctx->device->device_id,
				      folder->info.server_id, sync_key,
				      &state, &error);
	if (ret < 0) {
		e_error(ctx->event, "%s", error);
		return PING_CHECK_ERROR;
	}
	if (ret == 0)
		return PING_CHECK_CHANGED;
	if (state.uid_validity == 0) {
		/* Sync keeps no mailbox position for this folder (classes
		   without a converter yet: the device has all Sync can give
		   it); reporting it would make the device loop. */
		hfolder->inert = TRUE;
		return PING_CHECK_UNCHANGED;
	}

	if (ping_index_status(ping, folder, &status))
		goto compare;
	if (as_folders_open(ctx, &folder->info, MAILBOX_FLAG_READONLY,
			    &box, &error) < 0) {
		/* deleted or renamed away meanwhile? */
		ret = as_folders_lookup(ctx, folder->info.server_id, &info,
					&error);
		if (ret == 0)
			return PING_CHECK_GONE;
		if (ret < 0) {
			e_error(ctx->event, "%s", error);
			return PING_CHECK_ERROR;
		}
		if (strcmp(info.vname, folder->info.vname) == 0 ||
		    as_folders_open(ctx, &info, MAILBOX_FLAG_READONLY,
				    &box, &error) < 0) {
			e_error(ctx->event, "Opening folder %s failed: %s",
				info.vname, error);
			return PING_CHECK_ERROR;
		}
		/* renamed: same folder id, new name */
		folder->info = info;
		hfolder->vname = folder->info.vname;
	}
	/* pick up changes not yet in the index (e.g. maildir files put
	   there by other software); cheap when nothing changed */
	if (mailbox_sync(box, MAILBOX_SYNC_FLAG_FAST) < 0) {
		e_error(ctx->event, "Syncing folder %s failed: %s",
			folder->info.vname,
			mailbox_get_last_internal_error(box, NULL));
		mailbox_free(&box);
		return PING_CHECK_ERROR;
	}
	mailbox_get_open_status(box, STATUS_UIDVALIDITY | STATUS_UIDNEXT |
				STATUS_HIGHESTMODSEQ, &status);
	mailbox_free(&box);

compare:
	if (status.uidvalidity != state.uid_validity ||
	    status.uidnext != state.uid_next ||
	    status.highest_modseq != state.highest_modseq) {
		e_debug(ctx->event, "Folder %s (%s) changed: "
			"uidvalidity %u/%u uidnext %u/%u modseq %"PRIu64
			"/%"PRIu64, folder->info.server_id, folder->info.vname,
			status.uidvalidity, state.uid_validity,
			status.uidnext, state.uid_next,
			status.highest_modseq, state.highest_modseq);
		return PING_CHECK_CHANGED;
	}
	hfolder->known_modseq = status.highest_modseq;
	return PING_CHECK_UNCHANGED;
}

/* Check the folders (all, or those marked pending). Returns the status
   to answer, or 0 if nothing changed. Needs the mail user open. */
static unsigned int ping_check(struct ping_context *ping, bool all)
{
	struct ping_folder *folder;
	struct as_hold_folder *hfolder;
	unsigned int status = 0;

	i_assert(ping->cmd->mail_user != NULL);
	array_foreach_modifiable(&ping->folders, folder) {
		hfolder = ping_hold_folder(ping,
			array_foreach_idx(&ping->folders, folder));
		if (!all && !hfolder->pending)
			continue;
		hfolder->pending = FALSE;
		T_BEGIN {
			switch (ping_check_folder(ping, folder, hfolder)) {
			case PING_CHECK_UNCHANGED:
				break;
			case PING_CHECK_CHANGED:
				hfolder->changed = TRUE;
				if (status == 0)
					status = PING_STATUS_CHANGES;
				break;
			case PING_CHECK_GONE:
				e_info(ping->cmd->event, "Ping: folder %s "
				       "no longer exists", folder->info.server_id);
				as_sync_hierarchy_ignored(ping->cmd,
					folder->info.server_id);
				status = PING_STATUS_FOLDER_SYNC_REQUIRED;
				break;
			case PING_CHECK_ERROR:
				if (status != PING_STATUS_FOLDER_SYNC_REQUIRED)
					status = PING_STATUS_SERVER_ERROR;
				break;
			}
		} T_END;
	}
	/* a folder that went away needs a FolderSync before anything
	   else; a server error hides partial results */
	return status;
}

static void ping_write_answer(struct ping_context *ping, unsigned int status)
{
	if (status == PING_STATUS_CHANGES)
		ping_write_changes(ping);
	else
		ping_write_status(ping->cmd, status);
}

/* Answer the held Ping. */
static void ping_finish(struct ping_context *ping, unsigned int status)
{
	struct as_cmd_context *ctx = ping->cmd;

	ping_write_answer(ping, status);
	as_hold_deinit(&ping->hold);
	e_debug(ctx->event, "Answered Status %u after %d ms", status,
		timeval_diff_msecs(&ioloop_timeval, &ping->start_time));
	as_cmd_finish(ctx);
}

/* After a mailbox was deleted or renamed: find the folders by id again.
   Returns 0, or the status to answer. */
static unsigned int ping_reresolve(struct ping_context *ping)
{
	struct as_cmd_context *ctx = ping->cmd;
	struct ping_folder *folder;
	struct as_folder_info info;
	const char *error;
	int ret;

	array_foreach_modifiable(&ping->folders, folder) {
		ret = as_folders_lookup(ctx, folder->info.server_id, &info,
					&error);
		if (ret < 0) {
			e_error(ctx->event, "%s", error);
			return PING_STATUS_SERVER_ERROR;
		}
		if (ret == 0) {
			e_info(ctx->event, "Ping: folder %s no longer exists",
			       folder->info.server_id);
			as_sync_hierarchy_ignored(ctx, folder->info.server_id);
			return PING_STATUS_FOLDER_SYNC_REQUIRED;
		}
		folder->info = info;
		ping_hold_folder(ping, array_foreach_idx(&ping->folders,
							 folder))->vname =
			folder->info.vname;
	}
	return 0;
}

static bool ping_hold_callback(enum as_hold_wake wake, struct ping_context *ping)
{
	unsigned int status = 0;

	switch (wake) {
	case AS_HOLD_WAKE_CHANGED:
		/* trusted: the folder is marked changed */
		status = PING_STATUS_CHANGES;
		break;
	case AS_HOLD_WAKE_RESOLVE:
		status = ping_reresolve(ping);
		/* fall through */
	case AS_HOLD_WAKE_CHECK:
		if (status == 0)
			status = ping_check(ping, FALSE);
		break;
	case AS_HOLD_WAKE_TIMEOUT:
		status = ping_check(ping, FALSE);
		if (status == 0)
			status = PING_STATUS_EXPIRED;
		break;
	case AS_HOLD_WAKE_SUPERSEDED:
		/* the device has a newer request: this one ends as if
		   its heartbeat had passed */
		status = PING_STATUS_EXPIRED;
		break;
	case AS_HOLD_WAKE_ERROR:
		status = PING_STATUS_SERVER_ERROR;
		break;
	case AS_HOLD_WAKE_ABORTED:
		as_hold_deinit(&ping->hold);
		return FALSE;
	}
	if (status == 0)
		return TRUE;
	ping_finish(ping, status);
	return FALSE;
}

/* --- request parsing --- */

struct ping_request {
	unsigned int heartbeat; /* 0 = not given */
	bool heartbeat_given;
	ARRAY_TYPE(const_string) folder_ids; /* empty = not given */
};

/* Returns 0 if ok, or the status to answer. */
static unsigned int
ping_parse(struct as_cmd_context *ctx, struct ping_request *req_r)
{
	const struct wbxml_node *root = ctx->root, *folders, *folder;
	const char *value, *id;

	i_zero(req_r);
	p_array_init(&req_r->folder_ids, ctx->pool, 8);
	if (root == NULL)
		return 0;
	if (root->tag != EAS_PING_PING) {
		e_info(ctx->event, "Request is not a Ping document");
		return PING_STATUS_PROTOCOL_ERROR;
	}
	value = wbxml_node_child_text(root, EAS_PING_HEARTBEATINTERVAL);
	if (value != NULL) {
		if (str_to_uint(value, &req_r->heartbeat) < 0) {
			e_info(ctx->event,
			       "Invalid HeartbeatInterval '%s'",
			       str_sanitize(value, 32));
			return PING_STATUS_PROTOCOL_ERROR;
		}
		req_r->heartbeat_given = TRUE;
	}
	folders = wbxml_node_child(root, EAS_PING_FOLDERS);
	if (folders == NULL)
		return 0;
	wbxml_node_foreach_child(folders, folder) {
		if (folder->tag != EAS_PING_FOLDER)
			continue;
		id = wbxml_node_child_text(folder, EAS_PING_ID);
		if (id == NULL || *id == '\0' || strchr(id, ',') != NULL) {
			e_info(ctx->event, "Folder without a valid Id");
			return PING_STATUS_PROTOCOL_ERROR;
		}
		id = p_strdup(ctx->pool, id);
		array_push_back(&req_r->folder_ids, &id);
	}
	return 0;
}

/* Fill in what the request left out from the last Ping of the device,
   and remember what it gave. Returns 0 if ok, or the status to answer. */
static unsigned int
ping_apply_cache(struct as_cmd_context *ctx, struct ping_request *req)
{
	struct as_device *dev = ctx->device;
	const char *const *ids, *id, *error;
	string_t *folders_str;
	bool changed = FALSE;

	if (array_count(&req->folder_ids) > 0) {
		folders_str = t_str_new(128);
		array_foreach_elem(&req->folder_ids, id) {
			if (str_len(folders_str) > 0)
				str_append_c(folders_str, ',');
			str_append(folders_str, id);
		}
		if (null_strcmp(str_c(folders_str), dev->ping_folders) != 0) {
			dev->ping_folders = p_strdup(ctx->pool,
						     str_c(folders_str));
			changed = TRUE;
		}
	} else if (dev->ping_folders != NULL && *dev->ping_folders != '\0') {
		for (ids = t_strsplit(dev->ping_folders, ","); *ids != NULL;
		     ids++) {
			id = p_strdup(ctx->pool, *ids);
			array_push_back(&req->folder_ids, &id);
		}
	}

	if (req->heartbeat != 0) {
		if (req->heartbeat != dev->ping_heartbeat) {
			dev->ping_heartbeat = req->heartbeat;
			changed = TRUE;
		}
	} else {
		req->heartbeat = dev->ping_heartbeat;
	}

	if (changed &&
	    as_store_device_put(ctx->store, dev, &error) < 0) {
		e_error(ctx->event, "Failed to save device: %s", error);
		return PING_STATUS_SERVER_ERROR;
	}
	if (req->heartbeat == 0 || array_count(&req->folder_ids) == 0) {
		e_debug(ctx->event, "No %s given or remembered",
			req->heartbeat == 0 ? "heartbeat" : "folders");
		return PING_STATUS_MISSING_PARAMETERS;
	}
	return 0;
}

/* Resolve the folder ids. Returns 0 if ok, or the status to answer. */
static unsigned int
ping_resolve_folders(struct ping_context *ping,
		     const ARRAY_TYPE(const_string) *folder_ids)
{
	struct as_cmd_context *ctx = ping->cmd;
	struct ping_folder *folder;
	const char *id, *error;
	bool dup;
	int ret;

	p_array_init(&ping->folders, ctx->pool, array_count(folder_ids));
	array_foreach_elem(folder_ids, id) {
		/* a device may list a folder twice */
		dup = FALSE;
		array_foreach_modifiable(&ping->folders, folder) {
			if (strcmp(folder->info.server_id, id) == 0)
				dup = TRUE;
		}
		if (dup)
			continue;

		folder = array_append_space(&ping->folders);
		ret = as_folders_lookup(ctx, id, &folder->info, &error);
		if (ret < 0) {
			e_error(ctx->event, "%s", error);
			return PING_STATUS_SERVER_ERROR;
		}
		if (ret == 0) {
			/* Status 7; a device that keeps ignoring it gets
			   the same notice as for Sync Status 12 */
			e_info(ctx->event, "Ping: unknown folder id %s",
			       str_sanitize(id, 32));
			as_sync_hierarchy_ignored(ctx, id);
			return PING_STATUS_FOLDER_SYNC_REQUIRED;
		}
	}
	return 0;
}

enum as_command_result cmd_ping(struct as_cmd_context *ctx)
{
	const struct as_settings *set = ctx->set;
	struct ping_context *ping;
	struct ping_folder *folder;
	struct ping_request req;
	unsigned int status;

	ping = p_new(ctx->pool, struct ping_context, 1);
	ping->cmd = ctx;
	ping->start_time = ioloop_timeval;
	/* the device's held Ping or Sync ends (Status 1 for a Ping) */
	as_hold_supersede(ctx, AS_HOLD_KIND_ALL);

	status = ping_parse(ctx, &req);
	if (status != 0) {
		ping_write_status(ctx, status);
		return AS_CMD_DONE;
	}
	if (req.heartbeat_given && req.heartbeat < set->ping_min_heartbeat) {
		ping_write_limit(ctx, PING_STATUS_HEARTBEAT_OUT_OF_RANGE,
				 EAS_PING_HEARTBEATINTERVAL,
				 set->ping_min_heartbeat);
		return AS_CMD_DONE;
	}
	if (req.heartbeat > set->ping_max_heartbeat) {
		ping_write_limit(ctx, PING_STATUS_HEARTBEAT_OUT_OF_RANGE,
				 EAS_PING_HEARTBEATINTERVAL,
				 set->ping_max_heartbeat);
		return AS_CMD_DONE;
	}
	if (array_count(&req.folder_ids) > set->ping_max_folders) {
		ping_write_limit(ctx, PING_STATUS_TOO_MANY_FOLDERS,
				 EAS_PING_MAXFOLDERS, set->ping_max_folders);
		return AS_CMD_DONE;
	}
	status = ping_apply_cache(ctx, &req);
	if (status == 0) {
		/* remembered values may predate changed limits */
		if (req.heartbeat < set->ping_min_heartbeat)
			req.heartbeat = set->ping_min_heartbeat;
		if (req.heartbeat > set->ping_max_heartbeat)
			req.heartbeat = set->ping_max_heartbeat;
		if (array_count(&req.folder_ids) > set->ping_max_folders) {
			ping_write_limit(ctx, PING_STATUS_TOO_MANY_FOLDERS,
					 EAS_PING_MAXFOLDERS,
					 set->ping_max_folders);
			return AS_CMD_DONE;
		}
		ping->heartbeat = req.heartbeat;
		status = ping_resolve_folders(ping, &req.folder_ids);
	}
	if (status != 0) {
		ping_write_status(ctx, status);
		return AS_CMD_DONE;
	}

	/* Arm first, then compare: a change in between wakes the hold
	   (and a datagram announcing it has a HIGHESTMODSEQ above what the
	   comparison saw). */
	ping->hold = as_hold_init(ctx, AS_HOLD_KIND_PING, PING_DEBOUNCE_MSECS,
				  ping_hold_callback, ping);
	array_foreach_modifiable(&ping->folders, folder)
		(void)as_hold_add_folder(ping->hold, folder->info.guid,
					 folder->info.vname);
	status = ping_check(ping, TRUE);
	if (status != 0) {
		ping_write_answer(ping, status);
		as_hold_deinit(&ping->hold);
		return AS_CMD_DONE;
	}
	as_hold_wait(ping->hold, ping->heartbeat);
	return AS_CMD_PENDING;
}
