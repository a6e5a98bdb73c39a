#ifndef AS_WATCH_H
#define AS_WATCH_H

/* Change notifications for a user's mailboxes from the mailbox list
   index, for held requests (as-hold.c) when the activesync mail plugin
   does not announce the user's changes.

   Wraps mailbox_list_notify on the namespace that holds INBOX (inotify on
   the mailbox list index and INBOX's index log; needs
   mailbox_list_index = yes), one per user and process, shared by all
   watches of the user. Without list index support it falls back to
   polling every mailbox_idle_check_interval. Notifications are coalesced:
   the callbacks run once per burst, debounce_msecs after the first
   event. The mail_user passed to as_watch_init() must stay valid until
   as_watch_deinit(). */

struct mail_user;
struct as_watch;

/* changed_vnames: the mailboxes that reported a change, or NULL when
   that is unknown (poll fallback, or an event without a name); then the
   caller re-checks everything it watches. The callback may call
   as_watch_deinit(). */
typedef void as_watch_callback_t(const ARRAY_TYPE(const_string) *changed_vnames,
				 void *context);

struct as_watch *
as_watch_init(struct mail_user *user, struct event *event,
	      unsigned int debounce_msecs,
	      as_watch_callback_t *callback, void *context);
#define as_watch_init(user, event, debounce_msecs, callback, context) \
	as_watch_init(user, event, debounce_msecs - \
		CALLBACK_TYPECHECK(callback, void (*)( \
			const ARRAY_TYPE(const_string) *, typeof(context))), \
		(as_watch_callback_t *)callback, context)
void as_watch_deinit(struct as_watch **_watch);

/* TRUE if the watch polls instead of getting notifications. */
bool as_watch_is_polling(const struct as_watch *watch);

#endif
