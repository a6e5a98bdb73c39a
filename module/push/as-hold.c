/* Copyright (c) the dovecot-activesync authors, see AUTHORS */

#include "lib.h"
#include "array.h"
#include "hash.h"
#include "ioloop.h"
#include "str.h"
#include "time-util.h"
#include "mail-storage.h"
#include "mail-namespace.h"
#include "mailbox-guid-cache.h"
#include "as-command.h"
#include "as-folders.h"
#include "as-notify.h"
#include "as-watch.h"
#include "as-hold.h"

/* After lost notifications every held request re-checks, at random times
   over this much per held request (at most a minute): ~200 checks/s */
#define AS_HOLD_LOST_SPREAD_MSECS_PER_HOLD 5
#define AS_HOLD_LOST_SPREAD_MAX_MSECS 60000

struct as_hold {
	struct as_cmd_context *cmd;
	enum as_hold_kind kind;
	/* "user\tdevice_id", key in the registry */
	const char *key;
	struct timeval start_time;
	unsigned int debounce_msecs;
	ARRAY_TYPE(as_hold_folder) folders;

	as_hold_callback_t *callback;
	void *context;

	/* datagrams of the plugin and of other processes (NULL if the
	   listener is unavailable) */
	struct as_notify_sub *sub;
	/* TRUE: the plugin announces the user's changes; the user is
	   released while idle */
	bool notify_mode;
	/* the uid the user's mail processes run as: their datagrams are
	   believed (as are root's and ours) */
	uid_t mail_uid;
	/* list index watch, when not in notify_mode */
	struct as_watch *watch;

	struct timeout *to_check;
	struct timeval last_check;
	struct timeout *to_end;
	bool recheck_all:1;
	bool resolve:1;
	bool registered:1;
};

/* The held request of each device in this process, by "user\tdevice_id" */
static HASH_TABLE(const char *, struct as_hold *) as_hold_registry;

static void as_hold_registry_add(struct as_hold *hold)
{
	if (!hash_table_is_created(as_hold_registry))
		hash_table_create(&as_hold_registry, default_pool, 0,
				  str_hash, strcmp);
	hash_table_insert(as_hold_registry, hold->key, hold);
	hold->registered = TRUE;
}

static void as_hold_registry_remove(struct as_hold *hold)
{
	if (!hold->registered)
		return;
	hash_table_remove(as_hold_registry, hold->key);
	hold->registered = FALSE;
	if (hash_table_count(as_hold_registry) == 0)
		hash_table_destroy(&as_hold_registry);
}

static struct as_hold *as_hold_registry_lookup(const char *key)
{
	if (!hash_table_is_created(as_hold_registry))
		return NULL;
	return hash_table_lookup(as_hold_registry, key);
}

static const char *as_hold_key(struct as_cmd_context *ctx)
{
	return t_strconcat(ctx->username, "\t", ctx->device->device_id, NULL);
}

static uint64_t as_hold_start_usecs(const struct as_hold *hold)
{
	return (uint64_t)hold->start_time.tv_sec * 1000000 +
		hold->start_time.tv_usec;
}

static void as_hold_end_superseded(struct as_hold *hold, const char *where)
{
	e_debug(hold->cmd->event, "Ended by a newer request of the same "
		"device%s", where);
	(void)hold->callback(AS_HOLD_WAKE_SUPERSEDED, hold->context);
}

/* Open the user again if the hold released it. FALSE after the owner
   answered the error. */
static bool as_hold_reopen_user(struct as_hold *hold)
{
	const char *error;

	if (as_cmd_reopen_user(hold->cmd, &error) < 0) {
		e_error(hold->cmd->event, "Reopening the user failed: %s",
			error);
		(void)hold->callback(AS_HOLD_WAKE_ERROR, hold->context);
		return FALSE;
	}
	return TRUE;
}

/* Call the owner with the user open; release the user again afterwards
   if it keeps holding and the plugin tells about changes. */
static void as_hold_wake_open(struct as_hold *hold, enum as_hold_wake wake)
{
	struct as_cmd_context *ctx = hold->cmd;

	if (!as_hold_reopen_user(hold))
		return;
	if (!hold->callback(wake, hold->context))
		return;
	if (hold->notify_mode)
		as_cmd_release_user(ctx);
}

static void as_hold_mark_all_pending(struct as_hold *hold)
{
	struct as_hold_folder *folder;

	array_foreach_modifiable(&hold->folders, folder)
		folder->pending = TRUE;
}

static void as_hold_check(struct as_hold *hold)
{
	enum as_hold_wake wake = hold->resolve ? AS_HOLD_WAKE_RESOLVE :
		AS_HOLD_WAKE_CHECK;

	timeout_remove(&hold->to_check);
	hold->last_check = ioloop_timeval;
	if (hold->recheck_all || hold->resolve)
		as_hold_mark_all_pending(hold);
	e_debug(hold->cmd->event, "Re-checking %s after a change notification",
		hold->recheck_all || hold->resolve ? "all folders" :
		"the announced folder(s)");
	hold->recheck_all = FALSE;
	hold->resolve = FALSE;
	as_hold_wake_open(hold, wake);
}

/* The first check runs after delay, further ones at most once per
   debounce_msecs (a flood for one user costs a bounded number of
   checks) */
static void as_hold_schedule_check(struct as_hold *hold, unsigned int delay)
{
	long long elapsed;

	if (hold->to_check != NULL)
		return;
	if (hold->last_check.tv_sec != 0) {
		elapsed = timeval_diff_usecs(&ioloop_timeval,
					     &hold->last_check) / 1000;
		if (elapsed >= 0 && elapsed < hold->debounce_msecs)
			delay = I_MAX(delay, hold->debounce_msecs - elapsed);
	}
	hold->to_check = timeout_add_short(delay, as_hold_check, hold);
}

static struct as_hold_folder *
as_hold_folder_find_guid(struct as_hold *hold, const guid_128_t guid)
{
	struct as_hold_folder *folder;

	array_foreach_modifiable(&hold->folders, folder) {
		if (!folder->inert && guid_128_equals(folder->guid, guid))
			return folder;
	}
	return NULL;
}

static unsigned int as_hold_lost_delay(void)
{
	unsigned int held = hash_table_is_created(as_hold_registry) ?
		hash_table_count(as_hold_registry) : 0;
	unsigned int spread = I_MIN(held * AS_HOLD_LOST_SPREAD_MSECS_PER_HOLD,
				    AS_HOLD_LOST_SPREAD_MAX_MSECS);

	return spread == 0 ? 0 : i_rand_limit(spread);
}

/* A process that can change the user's mail anyway: root, our own uid
   (a vmail setup) or the user's. */
static bool as_hold_sender_trusted(const struct as_hold *hold, uid_t uid)
{
	return uid == 0 || uid == geteuid() || uid == hold->mail_uid;
}

static void
as_hold_notify_callback(const struct as_notify_msg *msg, struct as_hold *hold)
{
	struct as_cmd_context *ctx = hold->cmd;
	struct as_hold_folder *folder;

	switch (msg->kind) {
	case AS_NOTIFY_SYNC_STARTED:
		if ((hold->kind & AS_HOLD_KIND_SYNC) == 0)
			return;
		/* fall through */
	case AS_NOTIFY_PING_STARTED:
		if (strcmp(msg->device_id, ctx->device->device_id) == 0 &&
		    msg->value > as_hold_start_usecs(hold))
			as_hold_end_superseded(hold, " in another process");
		return;
	case AS_NOTIFY_MAIL:
		folder = as_hold_folder_find_guid(hold, msg->guid);
		if (folder == NULL)
			return;
		if (msg->value != 0 && folder->known_modseq != 0) {
			if (msg->value <= folder->known_modseq) {
				/* the last check already saw it */
				return;
			}
			/* The plugin sends the folder's HIGHESTMODSEQ after a
			   committed change, and known_modseq is the device's
			   synced position: a higher value is exactly what a
			   check would find. Wake the owner now, without
			   opening the user: that is the whole push latency.
			   Datagrams of other senders are only hints. */
			if (as_hold_sender_trusted(hold, msg->sender_uid)) {
				e_debug(ctx->event, "Folder changed: modseq "
					"%"PRIu64" > %"PRIu64" (notification)",
					msg->value, folder->known_modseq);
				folder->changed = TRUE;
				folder->known_modseq = msg->value;
				if (ctx->push_arrived.tv_sec == 0 &&
				    msg->arrived.tv_sec != 0) {
					ctx->push_arrived = msg->arrived;
					ctx->push_read = msg->read;
				}
				if (!hold->callback(AS_HOLD_WAKE_CHANGED,
						    hold->context))
					return;
				if (hold->notify_mode)
					as_cmd_release_user(ctx);
				return;
			}
		}
		folder->pending = TRUE;
		break;
	case AS_NOTIFY_MAILBOX_DELETE:
	case AS_NOTIFY_MAILBOX_RENAME:
		hold->resolve = TRUE;
		/* fall through */
	default:
		/* mailbox created, or notifications lost */
		hold->recheck_all = TRUE;
		if ((int)msg->kind == AS_NOTIFY_LOST) {
			/* every held request of the process re-checks:
			   spread them out, or thousands of user reopens at
			   once stall the process */
			as_hold_schedule_check(hold, as_hold_lost_delay());
			return;
		}
		break;
	}
	as_hold_schedule_check(hold, 0);
}

/* A watched folder's name no longer exists (deleted or renamed away).
   The user stays open while the list watch runs, so its mailbox GUID
   cache still maps the folder's GUID to the old name: refresh it, or
   looking the folder up by GUID fails instead of finding it renamed or
   gone. */
static void as_hold_folder_check_vanished(struct as_hold *hold,
					  const struct as_hold_folder *folder)
{
	struct mail_namespace *ns = as_folders_namespace(hold->cmd);
	enum mailbox_existence existence;
	struct mailbox *box;

	if (folder->inert || folder->vname == NULL)
		return;
	box = mailbox_alloc(ns->list, folder->vname, 0);
	if (mailbox_exists(box, FALSE, &existence) == 0 &&
	    existence != MAILBOX_EXISTENCE_SELECT)
		mailbox_guid_cache_refresh(ns->list);
	mailbox_free(&box);
}

static bool
as_hold_vname_in_list(const char *vname,
		      const ARRAY_TYPE(const_string) *vnames)
{
	const char *name;

	if (vname == NULL)
		return FALSE;
	array_foreach_elem(vnames, name) {
		if (strcmp(name, vname) == 0)
			return TRUE;
	}
	return FALSE;
}

/* list index watch (the user is open all the time) */
static void
as_hold_watch_callback(const ARRAY_TYPE(const_string) *vnames,
		       struct as_hold *hold)
{
	struct as_hold_folder *folder;

	array_foreach_modifiable(&hold->folders, folder) {
		if (vnames == NULL ||
		    as_hold_vname_in_list(folder->vname, vnames)) {
			folder->pending = TRUE;
			as_hold_folder_check_vanished(hold, folder);
		}
	}
	hold->last_check = ioloop_timeval;
	(void)hold->callback(AS_HOLD_WAKE_CHECK, hold->context);
}

static void as_hold_timeout(struct as_hold *hold)
{
	/* a last look, in case a notification got lost */
	as_hold_mark_all_pending(hold);
	if (as_hold_reopen_user(hold))
		(void)hold->callback(AS_HOLD_WAKE_TIMEOUT, hold->context);
}

static void as_hold_abort(struct as_cmd_context *ctx)
{
	struct as_hold *hold = ctx->cmd_context;

	e_debug(ctx->event, "Client went away, releasing held %s",
		ctx->cmd->name);
	(void)hold->callback(AS_HOLD_WAKE_ABORTED, hold->context);
}

#undef as_hold_init
struct as_hold *
as_hold_init(struct as_cmd_context *ctx, enum as_hold_kind kind,
	     unsigned int debounce_msecs,
	     as_hold_callback_t *callback, void *context)
{
	struct as_hold *hold;

	i_assert(ctx->mail_user != NULL);

	hold = p_new(ctx->pool, struct as_hold, 1);
	hold->cmd = ctx;
	hold->kind = kind;
	hold->key = p_strdup(ctx->pool, as_hold_key(ctx));
	hold->start_time = ioloop_timeval;
	hold->debounce_msecs = debounce_msecs;
	hold->callback = callback;
	hold->context = context;
	p_array_init(&hold->folders, ctx->pool, 4);

	hold->notify_mode = as_notify_user_enabled(ctx->mail_user);
	hold->mail_uid = ctx->mail_user->uid;
	hold->sub = as_notify_subscribe(ctx->username,
					as_hold_notify_callback, hold);
	if (!hold->notify_mode) {
		hold->watch = as_watch_init(ctx->mail_user, ctx->event,
					    debounce_msecs,
					    as_hold_watch_callback, hold);
	}
	return hold;
}

void as_hold_deinit(struct as_hold **_hold)
{
	struct as_hold *hold = *_hold;

	if (hold == NULL)
		return;
	*_hold = NULL;
	as_hold_registry_remove(hold);
	as_notify_unsubscribe(&hold->sub);
	as_watch_deinit(&hold->watch);
	timeout_remove(&hold->to_check);
	timeout_remove(&hold->to_end);
	if (hold->cmd->cmd_context == hold) {
		hold->cmd->cmd_context = NULL;
		hold->cmd->abort = NULL;
	}
}

struct as_hold_folder *
as_hold_add_folder(struct as_hold *hold, const guid_128_t guid,
		   const char *vname)
{
	struct as_hold_folder *folder;

	folder = array_append_space(&hold->folders);
	guid_128_copy(folder->guid, guid);
	folder->vname = vname;
	return folder;
}

ARRAY_TYPE(as_hold_folder) *as_hold_get_folders(struct as_hold *hold)
{
	return &hold->folders;
}

bool as_hold_is_notify_mode(const struct as_hold *hold)
{
	return hold->notify_mode;
}

void as_hold_wait(struct as_hold *hold, unsigned int secs)
{
	struct as_cmd_context *ctx = hold->cmd;
	struct as_hold *old;

	/* one held request per device */
	old = as_hold_registry_lookup(hold->key);
	if (old != NULL)
		as_hold_end_superseded(old, "");
	i_assert(as_hold_registry_lookup(hold->key) == NULL);
	as_hold_registry_add(hold);

	hold->to_end = timeout_add(secs * 1000, as_hold_timeout, hold);
	ctx->cmd_context = hold;
	ctx->abort = as_hold_abort;
	if (hold->notify_mode) {
		/* idle: nothing of the user stays open */
		as_cmd_release_user(ctx);
	}
	e_debug(ctx->event, "Holding for %u s on %u folder(s) (%s; "
		"request pool %zu of %zu bytes used)",
		secs, array_count(&hold->folders),
		hold->notify_mode ? "plugin notifications, user released" :
		"mailbox list watch",
		pool_alloconly_get_total_used_size(ctx->pool),
		pool_alloconly_get_total_alloc_size(ctx->pool));
}

void as_hold_supersede(struct as_cmd_context *ctx, enum as_hold_kind kinds)
{
	struct as_hold *old;

	old = as_hold_registry_lookup(as_hold_key(ctx));
	if (old != NULL && (old->kind & kinds) != 0)
		as_hold_end_superseded(old, "");
	as_notify_request_started(ctx->username, ctx->device->device_id,
		(kinds & AS_HOLD_KIND_PING) != 0 ? AS_NOTIFY_PING_STARTED :
		AS_NOTIFY_SYNC_STARTED, &ioloop_timeval);
}
