/* Copyright (c) the dovecot-activesync authors, see AUTHORS */

#include "lib.h"
#include "array.h"
#include "hash.h"
#include "ioloop.h"
#include "str.h"
#include "time-util.h"
#include "mail-namespace.h"
#include "mail-storage-settings.h"
#include "mailbox-list-notify.h"
#include "as-watch.h"

/* One mailbox_list_notify per user and process, shared by all watches of
   that user (e.g. the held Pings of several devices). Dovecot's inotify
   glue keys watches by inotify descriptor: a second io_add_notify() on the
   same index log in one process is never called, and removing either
   removes the kernel watch of both. Sharing avoids both problems.

   The notify borrows the mail_user of one watch (the owner). When the
   owner goes away while others remain, the notify is re-created on
   another watch's mail_user and everyone re-checks, which covers changes
   that happened in between. */

/* Poll interval when notifications are not available and
   mailbox_idle_check_interval is 0 */
#define AS_WATCH_DEFAULT_POLL_SECS 30

/* Everything that can make a watched folder differ from the device's
   sync state, plus the hierarchy changes that make a folder go away. */
#define AS_WATCH_EVENTS \
	(MAILBOX_LIST_NOTIFY_STATUS | MAILBOX_LIST_NOTIFY_UIDVALIDITY | \
	 MAILBOX_LIST_NOTIFY_DELETE | MAILBOX_LIST_NOTIFY_RENAME)

struct as_watch_user {
	char *username;
	int refcount;

	/* the watch whose mail_user the notify uses */
	struct as_watch *owner;
	struct mailbox_list_notify *notify;
	struct timeout *to_debounce;
	struct timeout *to_poll;
	unsigned int debounce_msecs;
	/* next delivery must make everyone re-check everything */
	bool recheck_all;

	ARRAY(struct as_watch *) watches;
};

struct as_watch {
	struct as_watch_user *wuser;
	struct mail_user *mail_user;
	struct event *event;

	as_watch_callback_t *callback;
	void *context;
};

static HASH_TABLE(char *, struct as_watch_user *) as_watch_users;

static void as_watch_user_notify_callback(struct as_watch_user *wuser);
static void as_watch_user_fire(struct as_watch_user *wuser);

static void as_watch_user_unref(struct as_watch_user **_wuser)
{
	struct as_watch_user *wuser = *_wuser;

	*_wuser = NULL;
	i_assert(wuser->refcount > 0);
	if (--wuser->refcount > 0)
		return;

	i_assert(array_count(&wuser->watches) == 0);
	i_assert(wuser->notify == NULL);
	timeout_remove(&wuser->to_debounce);
	timeout_remove(&wuser->to_poll);
	hash_table_remove(as_watch_users, wuser->username);
	if (hash_table_count(as_watch_users) == 0)
		hash_table_destroy(&as_watch_users);
	array_free(&wuser->watches);
	i_free(wuser->username);
	i_free(wuser);
}

static void as_watch_user_poll(struct as_watch_user *wuser)
{
	wuser->recheck_all = TRUE;
	as_watch_user_fire(wuser);
}

/* Start notifications using owner's mail_user. */
static void as_watch_user_start(struct as_watch_user *wuser,
				struct as_watch *owner)
{
	struct mail_namespace *ns;

	i_assert(wuser->notify == NULL);
	wuser->owner = owner;
	timeout_remove(&wuser->to_poll);

	ns = mail_namespace_find_inbox(owner->mail_user->namespaces);
	if (ns != NULL &&
	    mailbox_list_notify_init(ns->list, AS_WATCH_EVENTS,
				     &wuser->notify) >= 0) {
		mailbox_list_notify_wait(wuser->notify,
					 as_watch_user_notify_callback, wuser);
	} else {
		const struct mail_storage_settings *mail_set =
			mail_user_set_get_storage_set(owner->mail_user);
		unsigned int secs = mail_set->mailbox_idle_check_interval;

		wuser->notify = NULL;
		if (secs == 0)
			secs = AS_WATCH_DEFAULT_POLL_SECS;
		e_warning(owner->event, "Mailbox change notifications "
			  "unavailable (set mailbox_list_index = yes): "
			  "polling every %u s", secs);
		wuser->to_poll = timeout_add(secs * 1000, as_watch_user_poll,
					     wuser);
	}
}

static void as_watch_user_stop(struct as_watch_user *wuser)
{
	if (wuser->notify != NULL)
		mailbox_list_notify_deinit(&wuser->notify);
	timeout_remove(&wuser->to_poll);
	wuser->owner = NULL;
}

static bool
as_watch_user_has(struct as_watch_user *wuser, struct as_watch *watch)
{
	struct as_watch *w;

	array_foreach_elem(&wuser->watches, w) {
		if (w == watch)
			return TRUE;
	}
	return FALSE;
}

static void as_watch_user_fire(struct as_watch_user *wuser)
{
	const struct mailbox_list_notify_rec *rec;
	ARRAY_TYPE(const_string) changed;
	ARRAY(struct as_watch *) watches;
	struct as_watch *watch;
	const char *vname;
	bool unknown = wuser->recheck_all;
	int ret;

	timeout_remove(&wuser->to_debounce);
	wuser->recheck_all = FALSE;

	t_array_init(&changed, 8);
	if (wuser->notify != NULL) {
		/* Drain all records, also to move the notify's view forward
		   so the next burst starts from here. */
		while ((ret = mailbox_list_notify_next(wuser->notify,
						       &rec)) > 0) {
			if (rec->vname == NULL) {
				unknown = TRUE;
				continue;
			}
			vname = t_strdup(rec->vname);
			array_push_back(&changed, &vname);
			if (rec->old_vname != NULL) {
				vname = t_strdup(rec->old_vname);
				array_push_back(&changed, &vname);
			}
		}
		if (ret < 0)
			unknown = TRUE;
	} else {
		unknown = TRUE;
	}
	/* The index logs changed but nothing was reported (e.g. a change
	   the list index doesn't track): let the watchers look at all. */
	if (array_count(&changed) == 0)
		unknown = TRUE;

	if (wuser->owner != NULL && event_want_debug_log(wuser->owner->event)) {
		string_t *str = t_str_new(128);

		array_foreach_elem(&changed, vname) {
			if (str_len(str) > 0)
				str_append(str, ", ");
			str_append(str, vname);
		}
		e_debug(wuser->owner->event, "Mailbox change notification "
			"for %u watch(es): %s", array_count(&wuser->watches),
			unknown ? "(check all)" : str_c(str));
	}

	/* Callbacks may remove any watch (their own, or another by
	   finishing a request) and add new ones: walk a copy and skip
	   those gone meanwhile. */
	t_array_init(&watches, array_count(&wuser->watches));
	array_append_array(&watches, &wuser->watches);
	wuser->refcount++;
	array_foreach_elem(&watches, watch) {
		if (!as_watch_user_has(wuser, watch))
			continue;
		watch->callback(unknown ? NULL : &changed, watch->context);
	}
	as_watch_user_unref(&wuser);
}

static void as_watch_user_notify_callback(struct as_watch_user *wuser)
{
	/* Coalesce a burst of events (e.g. a delivery touches INBOX's log
	   and the list index log) into one re-check. */
	if (wuser->to_debounce == NULL) {
		wuser->to_debounce = timeout_add_short(wuser->debounce_msecs,
			as_watch_user_fire, wuser);
	}
}

#undef as_watch_init
struct as_watch *
as_watch_init(struct mail_user *user, struct event *event,
	      unsigned int debounce_msecs,
	      as_watch_callback_t *callback, void *context)
{
	struct as_watch_user *wuser = NULL;
	struct as_watch *watch;

	watch = i_new(struct as_watch, 1);
	watch->mail_user = user;
	watch->event = event;
	watch->callback = callback;
	watch->context = context;

	if (!hash_table_is_created(as_watch_users)) {
		hash_table_create(&as_watch_users, default_pool, 0,
				  str_hash, strcmp);
	} else {
		wuser = hash_table_lookup(as_watch_users, user->username);
	}
	if (wuser == NULL) {
		wuser = i_new(struct as_watch_user, 1);
		wuser->username = i_strdup(user->username);
		wuser->refcount = 1;
		wuser->debounce_msecs = debounce_msecs;
		i_array_init(&wuser->watches, 4);
		hash_table_insert(as_watch_users, wuser->username, wuser);
	} else {
		wuser->refcount++;
	}
	watch->wuser = wuser;
	array_push_back(&wuser->watches, &watch);
	if (wuser->owner == NULL)
		as_watch_user_start(wuser, watch);
	return watch;
}

void as_watch_deinit(struct as_watch **_watch)
{
	struct as_watch *watch = *_watch;
	struct as_watch_user *wuser;
	struct as_watch *const *watches;
	unsigned int i, count;

	if (watch == NULL)
		return;
	*_watch = NULL;
	wuser = watch->wuser;

	watches = array_get(&wuser->watches, &count);
	for (i = 0; i < count; i++) {
		if (watches[i] == watch) {
			array_delete(&wuser->watches, i, 1);
			break;
		}
	}
	if (wuser->owner == watch) {
		/* its mail_user goes away with it */
		as_watch_user_stop(wuser);
		if (array_count(&wuser->watches) > 0) {
			as_watch_user_start(wuser,
				array_idx_elem(&wuser->watches, 0));
			/* changes while no notify existed: everyone
			   re-checks */
			wuser->recheck_all = TRUE;
			as_watch_user_notify_callback(wuser);
		}
	}
	if (array_count(&wuser->watches) == 0)
		timeout_remove(&wuser->to_debounce);
	i_free(watch);
	as_watch_user_unref(&wuser);
}

bool as_watch_is_polling(const struct as_watch *watch)
{
	return watch->wuser->notify == NULL;
}
