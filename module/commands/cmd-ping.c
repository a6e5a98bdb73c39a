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
#include "mailbox-guid-cache.h"
#include "as-command.h"
#include "as-folders.h"
#include "push/as-watch.h"
#include "push/as-notify.h"
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

   Two ways to learn about changes:
   - The activesync mail plugin (hooks/) is loaded for the user: every
     change arrives as a datagram naming the mailbox GUID and its new
     HIGHESTMODSEQ. While idle the Ping keeps only the folder ids and
     their last seen HIGHESTMODSEQ, no mail user and no mailbox: the
     user is opened again only when a datagram names a watched folder
     with a newer HIGHESTMODSEQ (or at the heartbeat).
   - Otherwise the mailbox list index watch (as_watch, inotify), which
     needs the user open for as long as the Ping is held.

   One Ping per device: a new Ping from the same user and device ends the
   previous one (Status 1), in this process through the registry, in the
   other activesync processes through a datagram to their sockets. */

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

/* Coalesce list index notification bursts before re-checking folders */
#define PING_DEBOUNCE_MSECS 100
/* Plugin datagrams: the first re-check runs at once, further ones at most
   this often (a flood for one user costs at most 10 checks a second) */
#define PING_NOTIFY_MIN_INTERVAL_MSECS 100
/* After lost notifications every held Ping re-checks, at random times
   over this much per held Ping (at most a minute): ~200 checks/s */
#define PING_LOST_SPREAD_MSECS_PER_PING 5
#define PING_LOST_SPREAD_MAX_MSECS 60000

enum ping_check_result {
	PING_CHECK_ERROR = -1,
	PING_CHECK_UNCHANGED = 0,
	PING_CHECK_CHANGED = 1,
	PING_CHECK_GONE = 2,
};

struct ping_folder {
	struct as_folder_info info;
	/* HIGHESTMODSEQ at the last check; a notification not above it
	   announces nothing the check didn't see */
	uint64_t known_modseq;
	/* to report */
	bool changed:1;
	/* to re-check */
	bool pending:1;
	/* never reports changes (\NoSelect, or no position kept by Sync) */
	bool inert:1;
};

struct ping_context {
	struct as_cmd_context *cmd;
	/* "user\tdevice_id", key in the registry */
	const char *key;
	unsigned int heartbeat;
	ARRAY(struct ping_folder) folders;

	/* datagrams of the plugin and of other processes (NULL if the
	   listener is unavailable) */
	struct as_notify_sub *sub;
	/* TRUE: the plugin announces the user's changes; the user is closed
	   while idle */
	bool notify_mode;
	/* the uid the user's mail processes run as: their datagrams are
	   believed (as are root's and ours) */
	uid_t mail_uid;
	struct timeout *to_check;
	struct timeval last_check;
	bool recheck_all:1;
	bool reresolve:1;

	/* list index watch, when not in notify_mode */
	struct as_watch *watch;
	struct timeout *to_heartbeat;
	struct timeval start_time;
	bool registered:1;
};

/* Held Pings of this process by "user\tdevice_id" */
static HASH_TABLE(const char *, struct ping_context *) ping_registry;

static void ping_registry_add(struct ping_context *ping)
{
	if (!hash_table_is_created(ping_registry))
		hash_table_create(&ping_registry, default_pool, 0,
				  str_hash, strcmp);
	hash_table_insert(ping_registry, ping->key, ping);
	ping->registered = TRUE;
}

static void ping_registry_remove(struct ping_context *ping)
{
	if (!ping->registered)
		return;
	hash_table_remove(ping_registry, ping->key);
	ping->registered = FALSE;
	if (hash_table_count(ping_registry) == 0)
		hash_table_destroy(&ping_registry);
}

static struct ping_context *ping_registry_lookup(const char *key)
{
	if (!hash_table_is_created(ping_registry))
		return NULL;
	return hash_table_lookup(ping_registry, key);
}

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

static void ping_write_changes(struct ping_context *ping)
{
	struct as_cmd_context *ctx = ping->cmd;
	const struct ping_folder *folder;

	wbxml_start(ctx->writer, EAS_PING_PING);
	wbxml_elem_uint(ctx->writer, EAS_PING_STATUS, PING_STATUS_CHANGES);
	wbxml_start(ctx->writer, EAS_PING_FOLDERS);
	array_foreach(&ping->folders, folder) {
		if (folder->changed) {
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
ping_check_folder(struct ping_context *ping, struct ping_folder *folder)
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
		folder->inert = TRUE;
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
		folder->inert = TRUE;
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
	folder->known_modseq = status.highest_modseq;
	return PING_CHECK_UNCHANGED;
}

static bool
ping_folder_in_list(const struct ping_folder *folder,
		    const ARRAY_TYPE(const_string) *vnames)
{
	const char *vname;

	array_foreach_elem(vnames, vname) {
		if (strcmp(vname, folder->info.vname) == 0)
			return TRUE;
	}
	return FALSE;
}

/* Check the folders (all, or those marked pending). Returns the status
   to answer, or 0 if nothing changed. Needs the mail user open. */
static unsigned int ping_check(struct ping_context *ping, bool all)
{
	struct ping_folder *folder;
	unsigned int status = 0;

	i_assert(ping->cmd->mail_user != NULL);
	array_foreach_modifiable(&ping->folders, folder) {
		if (!all && !folder->pending)
			continue;
		folder->pending = FALSE;
		T_BEGIN {
			switch (ping_check_folder(ping, folder)) {
			case PING_CHECK_UNCHANGED:
				break;
			case PING_CHECK_CHANGED:
				folder->changed = TRUE;
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

/* Free what the held Ping owns; the command context stays. */
static void ping_cleanup(struct ping_context *ping)
{
	ping_registry_remove(ping);
	as_notify_unsubscribe(&ping->sub);
	as_watch_deinit(&ping->watch);
	timeout_remove(&ping->to_check);
	timeout_remove(&ping->to_heartbeat);
}

static void ping_finish(struct ping_context *ping, unsigned int status)
{
	struct as_cmd_context *ctx = ping->cmd;

	ping_cleanup(ping);
	if (status == PING_STATUS_CHANGES)
		ping_write_changes(ping);
	else
		ping_write_status(ctx, status);
	e_debug(ctx->event, "Answered Status %u after %d ms", status,
		timeval_diff_msecs(&ioloop_timeval, &ping->start_time));
	as_cmd_finish(ctx);
}

static void ping_abort(struct as_cmd_context *ctx)
{
	struct ping_context *ping = ctx->cmd_context;

	e_debug(ctx->event, "Client went away, releasing held Ping");
	ping_cleanup(ping);
}

/* A watched folder's name no longer exists (deleted or renamed away).
   The user stays open while the watch runs, so its mailbox GUID cache
   still maps the folder's GUID to the old name: refresh it, otherwise
   looking the folder up by GUID fails instead of finding it renamed or
   gone. */
static void ping_folder_check_vanished(struct ping_context *ping,
				       const struct ping_folder *folder)
{
	struct mail_namespace *ns = as_folders_namespace(ping->cmd);
	enum mailbox_existence existence;
	struct mailbox *box;

	if (folder->info.noselect)
		return;
	box = mailbox_alloc(ns->list, folder->info.vname, 0);
	if (mailbox_exists(box, FALSE, &existence) == 0 &&
	    existence != MAILBOX_EXISTENCE_SELECT)
		mailbox_guid_cache_refresh(ns->list);
	mailbox_free(&box);
}

/* list index watch (user open all the time) */
static void
ping_changed_callback(const ARRAY_TYPE(const_string) *vnames,
		      struct ping_context *ping)
{
	struct ping_folder *folder;
	unsigned int status;

	array_foreach_modifiable(&ping->folders, folder) {
		if (vnames == NULL || ping_folder_in_list(folder, vnames)) {
			folder->pending = TRUE;
			ping_folder_check_vanished(ping, folder);
		}
	}
	status = ping_check(ping, FALSE);
	if (status != 0)
		ping_finish(ping, status);
}

/* Open the user again if the Ping released it. */
static bool ping_reopen_user(struct ping_context *ping)
{
	const char *error;

	if (as_cmd_reopen_user(ping->cmd, &error) < 0) {
		e_error(ping->cmd->event, "Reopening the user failed: %s",
			error);
		ping_finish(ping, PING_STATUS_SERVER_ERROR);
		return FALSE;
	}
	return TRUE;
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
	}
	return 0;
}

static void ping_notify_check(struct ping_context *ping)
{
	unsigned int status = 0;
	bool all = ping->recheck_all;

	timeout_remove(&ping->to_check);
	ping->last_check = ioloop_timeval;
	ping->recheck_all = FALSE;
	e_debug(ping->cmd->event, "Re-checking %s after a change notification",
		all ? "all folders" : "the announced folder(s)");
	if (!ping_reopen_user(ping))
		return;
	if (ping->reresolve) {
		ping->reresolve = FALSE;
		status = ping_reresolve(ping);
	}
	if (status == 0)
		status = ping_check(ping, all);
	if (status != 0) {
		ping_finish(ping, status);
		return;
	}
	if (ping->notify_mode)
		as_cmd_release_user(ping->cmd);
}

static void
ping_schedule_check(struct ping_context *ping, unsigned int delay)
{
	long long elapsed;

	if (ping->to_check != NULL)
		return;
	if (ping->last_check.tv_sec != 0) {
		elapsed = timeval_diff_usecs(&ioloop_timeval,
					     &ping->last_check) / 1000;
		if (elapsed >= 0 && elapsed < PING_NOTIFY_MIN_INTERVAL_MSECS)
			delay = I_MAX(delay, PING_NOTIFY_MIN_INTERVAL_MSECS -
				      elapsed);
	}
	ping->to_check = timeout_add_short(delay, ping_notify_check, ping);
}

static struct ping_folder *
ping_folder_find_guid(struct ping_context *ping, const guid_128_t guid)
{
	struct ping_folder *folder;

	array_foreach_modifiable(&ping->folders, folder) {
		if (!folder->inert && guid_128_equals(folder->info.guid, guid))
			return folder;
	}
	return NULL;
}

static unsigned int ping_lost_delay(void)
{
	unsigned int held = hash_table_is_created(ping_registry) ?
		hash_table_count(ping_registry) : 0;
	unsigned int spread = I_MIN(held * PING_LOST_SPREAD_MSECS_PER_PING,
				    PING_LOST_SPREAD_MAX_MSECS);

	return spread == 0 ? 0 : i_rand_limit(spread);
}

/* A process that can change the user's mail anyway: root, our own uid
   (a vmail setup) or the user's. */
static bool ping_sender_trusted(const struct ping_context *ping, uid_t uid)
{
	return uid == 0 || uid == geteuid() || uid == ping->mail_uid;
}

static void
ping_notify_callback(const struct as_notify_msg *msg,
		     struct ping_context *ping)
{
	struct as_cmd_context *ctx = ping->cmd;
	struct ping_folder *folder;
	uint64_t start_usecs;

	switch (msg->kind) {
	case AS_NOTIFY_PING_STARTED:
		start_usecs = (uint64_t)ping->start_time.tv_sec * 1000000 +
			ping->start_time.tv_usec;
		if (strcmp(msg->device_id, ctx->device->device_id) == 0 &&
		    msg->value > start_usecs) {
			e_debug(ctx->event, "Ended by a newer Ping of the "
				"same device in another process");
			ping_finish(ping, PING_STATUS_EXPIRED);
		}
		return;
	case AS_NOTIFY_MAIL:
		folder = ping_folder_find_guid(ping, msg->guid);
		if (folder == NULL)
			return;
		if (msg->value != 0 && folder->known_modseq != 0) {
			if (msg->value <= folder->known_modseq) {
				/* the last check already saw it */
				return;
			}
			/* The plugin sends the folder's HIGHESTMODSEQ after a
			   committed change, and known_modseq is the device's
			   synced position: a higher value is exactly what the
			   check would find. Answer now, without opening the
			   user: that is the whole push latency. Datagrams
			   of other senders are only hints, re-checked. */
			if (ping_sender_trusted(ping, msg->sender_uid)) {
				e_debug(ctx->event, "Folder %s changed: modseq "
					"%"PRIu64" > %"PRIu64" (notification)",
					folder->info.server_id, msg->value,
					folder->known_modseq);
				folder->changed = TRUE;
				ping_finish(ping, PING_STATUS_CHANGES);
				return;
			}
		}
		folder->pending = TRUE;
		break;
	case AS_NOTIFY_MAILBOX_DELETE:
	case AS_NOTIFY_MAILBOX_RENAME:
		ping->reresolve = TRUE;
		/* fall through */
	default:
		/* mailbox created, or notifications lost */
		ping->recheck_all = TRUE;
		if ((int)msg->kind == AS_NOTIFY_LOST) {
			/* every held Ping of the process re-checks: spread
			   them out, or thousands of user reopens at once
			   stall the process */
			ping_schedule_check(ping, ping_lost_delay());
			return;
		}
		break;
	}
	ping_schedule_check(ping, 0);
}

static void ping_heartbeat_timeout(struct ping_context *ping)
{
	unsigned int status;

	/* A last look, in case a notification got lost. */
	if (!ping_reopen_user(ping))
		return;
	status = ping_check(ping, TRUE);
	ping_finish(ping, status != 0 ? status : PING_STATUS_EXPIRED);
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

/* A new Ping from the device ends the one it still has open. */
static void ping_supersede(const char *key)
{
	struct ping_context *old = ping_registry_lookup(key);

	if (old != NULL) {
		e_debug(old->cmd->event,
			"Ended by a newer Ping of the same device");
		ping_finish(old, PING_STATUS_EXPIRED);
	}
}

enum as_command_result cmd_ping(struct as_cmd_context *ctx)
{
	const struct as_settings *set = ctx->set;
	struct ping_context *ping;
	struct ping_request req;
	unsigned int status;

	ping = p_new(ctx->pool, struct ping_context, 1);
	ping->cmd = ctx;
	ping->key = p_strconcat(ctx->pool, ctx->username, "\t",
				ctx->device->device_id, NULL);
	ping->start_time = ioloop_timeval;
	ping_supersede(ping->key);
	as_notify_ping_started(ctx->username, ctx->device->device_id,
			       &ping->start_time);

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

	/* Arm first, then compare: a change in between wakes the watch
	   (and a datagram announcing it has a HIGHESTMODSEQ above what the
	   comparison saw). */
	ping->notify_mode = as_notify_user_enabled(ctx->mail_user);
	ping->mail_uid = ctx->mail_user->uid;
	ping->sub = as_notify_subscribe(ctx->username, ping_notify_callback,
					ping);
	if (!ping->notify_mode) {
		ping->watch = as_watch_init(ctx->mail_user, ctx->event,
					    PING_DEBOUNCE_MSECS,
					    ping_changed_callback, ping);
	}
	status = ping_check(ping, TRUE);
	if (status != 0) {
		as_notify_unsubscribe(&ping->sub);
		as_watch_deinit(&ping->watch);
		if (status == PING_STATUS_CHANGES)
			ping_write_changes(ping);
		else
			ping_write_status(ctx, status);
		return AS_CMD_DONE;
	}

	ping->to_heartbeat = timeout_add(ping->heartbeat * 1000,
					 ping_heartbeat_timeout, ping);
	ping_registry_add(ping);
	ctx->cmd_context = ping;
	ctx->abort = ping_abort;
	if (ping->notify_mode) {
		/* idle: nothing of the user stays open */
		as_cmd_release_user(ctx);
	}
	e_debug(ctx->event, "Holding for %u s on %u folder(s) (%s)",
		ping->heartbeat, array_count(&ping->folders),
		ping->notify_mode ? "plugin notifications, user released" :
		"mailbox list watch");
	return AS_CMD_PENDING;
}
