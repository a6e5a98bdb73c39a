#ifndef AS_SEND_SMTP_H
#define AS_SEND_SMTP_H

#include "smtp-address.h"

struct event;
struct ssl_iostream_settings;
struct smtp_submit_settings;

/* Submission that knows what each recipient got.

   Dovecot's smtp-submit reports a transaction with one refused RCPT TO
   as failed even when the server accepted the others and lib-smtp went
   on to send DATA to them: the message went out, and a retry would send
   it to them twice. With submission_host this module runs the lib-smtp
   client transaction itself and tells the cases apart. With
   sendmail_path (no per-recipient answer; the program takes all or
   nothing) it uses smtp-submit. */

enum as_send_smtp_status {
	/* the server took the message for every recipient */
	AS_SEND_SMTP_SENT = 1,
	/* it went out to some recipients; the others are in refused */
	AS_SEND_SMTP_PARTIAL = 2,
	/* nothing was sent; a retry is safe */
	AS_SEND_SMTP_REFUSED = 0,	/* permanently */
	AS_SEND_SMTP_TEMPFAIL = -1,	/* try again later */
};

struct as_send_smtp_result {
	enum as_send_smtp_status status;
	/* why nothing (or not everything) was sent; NULL if SENT */
	const char *error;
	/* PARTIAL: "<address>: <server reply>" of each refused recipient */
	const char *const *refused;
};

typedef void as_send_smtp_callback_t(const struct as_send_smtp_result *result,
				     void *context);

struct as_send_smtp;

/* Start submitting data (a complete message with CRLF line ends, which
   must stay valid until the callback) to rcpts. The callback is called
   once, from the ioloop, never from inside this call. */
struct as_send_smtp *
as_send_smtp_start(const struct smtp_submit_settings *set,
		   const struct ssl_iostream_settings *ssl_set,
		   struct event *event_parent,
		   const struct smtp_address *sender,
		   const ARRAY_TYPE(smtp_address_const) *rcpts,
		   const void *data, size_t size,
		   as_send_smtp_callback_t *callback, void *context);
#define as_send_smtp_start(set, ssl_set, event_parent, sender, rcpts, \
			   data, size, callback, context) \
	as_send_smtp_start(set, ssl_set, event_parent, sender, rcpts, \
		data, size, (as_send_smtp_callback_t *)(callback), \
		(char *)(context) - CALLBACK_TYPECHECK(callback, \
			void (*)(const struct as_send_smtp_result *, \
				 typeof(context))))
/* Free; must not be called from inside the callback. A submission not
   finished yet is aborted (nothing or not everything may be sent). */
void as_send_smtp_deinit(struct as_send_smtp **smtp);

/* The same, waiting for the outcome in an ioloop of its own. The result
   strings are allocated from pool. */
void as_send_smtp_run(pool_t pool, const struct smtp_submit_settings *set,
		      const struct ssl_iostream_settings *ssl_set,
		      struct event *event_parent,
		      const struct smtp_address *sender,
		      const ARRAY_TYPE(smtp_address_const) *rcpts,
		      const void *data, size_t size,
		      struct as_send_smtp_result *result_r);

#endif
