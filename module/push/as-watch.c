/* Copyright (c) the dovecot-activesync authors, see AUTHORS */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "ioloop.h"
#include "mail-namespace.h"
#include "mail-storage-settings.h"
#include "mailbox-list-notify.h"
#include "as-watch.h"

/* Poll interval when notifications are not available and
   mailbox_idle_check_interval is 0 */
#define AS_WATCH_DEFAULT_POLL_SECS 30

/* Everything that can make a watched folder differ from the device's
   sync state, plus the hierarchy changes that make a Ping folder go
   away. */
#define AS_WATCH_EVENTS \
	(MAILBOX_LIST_NOTIFY_STATUS | MAILBOX_LIST_NOTIFY_UIDVALIDITY | \
	 MAILBOX_LIST_NOTIFY_DELETE | MAILBOX_LIST_NOTIFY_RENAME)

struct as_watch {
	struct mail_user *user;
	struct event *event;
	unsigned int debounce_msecs;

	struct mailbox_list_notify *notify;
	struct timeout *to_debounce;
	struct timeout *to_poll;

	as_watch_callback_t *callback;
	void *context;
};

static void as_watch_fire(struct as_watch *watch)
{
	const struct mailbox_list_notify_rec *rec;
	ARRAY_TYPE(const_string) changed;
	bool unknown = FALSE;
	int ret;

	timeout_remove(&watch->to_debounce);

	t_array_init(&changed, 8);
	if (watch->notify != NULL) {
		/* Drain all records, also to move the notify's view forward
		   so the next burst starts from here. */
		while ((ret = mailbox_list_notify_next(watch->notify,
						       &rec)) > 0) {
			if (rec->vname == NULL) {
				unknown = TRUE;
				continue;
			}
			const char *vname = t_strdup(rec->vname);
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
	   the list index doesn't track): let the caller look at all. */
	if (array_count(&changed) == 0)
		unknown = TRUE;
	if (unknown)
		e_debug(watch->event, "Mailbox change notification");
	else {
		string_t *str = t_str_new(128);
		const char *vname;

		array_foreach_elem(&changed, vname) {
			if (str_len(str) > 0)
				str_append(str, ", ");
			str_append(str, vname);
		}
		e_debug(watch->event, "Mailbox change notification: %s",
			str_c(str));
	}
	/* last: the callback may free the watch */
	watch->callback(unknown ? NULL : &changed, watch->context);
}

static void as_watch_notify_callback(struct as_watch *watch)
{
	/* Coalesce a burst of events (e.g. a delivery touches INBOX's log
	   and the list index log) into one re-check. */
	if (watch->to_debounce == NULL) {
		watch->to_debounce = timeout_add_short(watch->debounce_msecs,
						       as_watch_fire, watch);
	}
}

static void as_watch_poll(struct as_watch *watch)
{
	as_watch_fire(watch);
}

#undef as_watch_init
struct as_watch *
as_watch_init(struct mail_user *user, struct event *event,
	      unsigned int debounce_msecs,
	      as_watch_callback_t *callback, void *context)
{
	struct as_watch *watch;
	struct mail_namespace *ns;

	watch = i_new(struct as_watch, 1);
	watch->user = user;
	watch->event = event;
	watch->debounce_msecs = debounce_msecs;
	watch->callback = callback;
	watch->context = context;

	ns = mail_namespace_find_inbox(user->namespaces);
	if (ns != NULL &&
	    mailbox_list_notify_init(ns->list, AS_WATCH_EVENTS,
				     &watch->notify) >= 0) {
		mailbox_list_notify_wait(watch->notify,
					 as_watch_notify_callback, watch);
	} else {
		const struct mail_storage_settings *mail_set =
			mail_user_set_get_storage_set(user);
		unsigned int secs = mail_set->mailbox_idle_check_interval;

		watch->notify = NULL;
		if (secs == 0)
			secs = AS_WATCH_DEFAULT_POLL_SECS;
		e_warning(event, "Mailbox change notifications unavailable "
			  "(set mailbox_list_index = yes): polling every %u s",
			  secs);
		watch->to_poll = timeout_add(secs * 1000, as_watch_poll, watch);
	}
	return watch;
}

void as_watch_deinit(struct as_watch **_watch)
{
	struct as_watch *watch = *_watch;

	if (watch == NULL)
		return;
	*_watch = NULL;

	timeout_remove(&watch->to_debounce);
	timeout_remove(&watch->to_poll);
	if (watch->notify != NULL)
		mailbox_list_notify_deinit(&watch->notify);
	i_free(watch);
}

bool as_watch_is_polling(const struct as_watch *watch)
{
	return watch->notify == NULL;
}
