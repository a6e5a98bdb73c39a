#ifndef AS_NOTIFY_H
#define AS_NOTIFY_H

#include "as-notify-proto.h"

/* The service's end of the change notifications sent by the activesync
   mail plugin (hooks/): one unix datagram socket per process in the
   notify directory, datagrams validated and dispatched to subscribers by
   user name. Datagrams for users nobody here subscribed to are dropped
   at once; invalid ones are counted and logged once per interval. */

struct mail_user;
struct as_notify_sub;

/* AS_NOTIFY_LOST (internal): notifications may have been lost (a queue
   was full); everyone re-checks everything. */
#define AS_NOTIFY_LOST '!'

typedef void as_notify_callback_t(const struct as_notify_msg *msg,
				  void *context);

/* Bind this process's socket in dir (created if missing). On failure the
   error is logged and as_notify_available() stays FALSE: watches fall
   back to mailbox list notifications. */
void as_notify_init(const char *dir, struct event *event);
void as_notify_deinit(void);

bool as_notify_available(void);
/* TRUE if the user's changes are announced by the plugin: the listener
   runs and "activesync" is in the user's mail_plugins (the same setting
   that loads it into lmtp, imap, ...). */
bool as_notify_user_enabled(struct mail_user *user);

struct as_notify_sub *
as_notify_subscribe(const char *username, as_notify_callback_t *callback,
		    void *context);
#define as_notify_subscribe(username, callback, context) \
	as_notify_subscribe(username - \
		CALLBACK_TYPECHECK(callback, void (*)( \
			const struct as_notify_msg *, typeof(context))), \
		(as_notify_callback_t *)callback, context)
/* Safe to call from the subscriber's own callback. */
void as_notify_unsubscribe(struct as_notify_sub **_sub);

/* Tell the other service processes a request of this device started
   (kind AS_NOTIFY_PING_STARTED or AS_NOTIFY_SYNC_STARTED): its held
   requests there end (as-hold.c). */
void as_notify_request_started(const char *username, const char *device_id,
			       enum as_notify_kind kind,
			       const struct timeval *start_time);

#endif
