/* Copyright (c) the dovecot-activesync authors, see AUTHORS */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "ioloop.h"
#include "istream.h"
#include "ostream.h"
#include "net.h"
#include "smtp-address.h"
#include "smtp-reply.h"
#include "smtp-client.h"
#include "smtp-client-connection.h"
#include "smtp-client-transaction.h"
#include "smtp-submit.h"
#include "send/as-send-smtp.h"

#define AS_SEND_SMTP_DEFAULT_PORT 25

struct as_send_smtp {
	pool_t pool;
	struct event *event;
	as_send_smtp_callback_t *callback;
	void *context;

	/* submission_host: our own transaction */
	struct smtp_client *client;
	struct smtp_client_transaction *trans;
	unsigned int accepted;
	ARRAY_TYPE(const_string) refused;
	bool refused_temp;	/* a refusal was temporary */
	const char *error;	/* first failure */
	bool data_ok;

	/* sendmail_path: smtp-submit */
	struct smtp_submit *submit;

	struct as_send_smtp_result result;
	struct timeout *to_result;
	bool finished;
};

struct as_send_smtp_rcpt {
	struct as_send_smtp *smtp;
	const struct smtp_address *address;
};

static bool reply_temp(const struct smtp_reply *reply)
{
	/* failures that never reached the server count as temporary */
	return smtp_reply_is_temp_fail(reply) || !smtp_reply_is_remote(reply);
}

static void as_send_smtp_result_callback(struct as_send_smtp *smtp)
{
	timeout_remove(&smtp->to_result);
	smtp->callback(&smtp->result, smtp->context);
}

/* Report from the ioloop (lib-smtp's callbacks may run inside its own
   calls, and the caller may want to free us from its callback). */
static void as_send_smtp_finish(struct as_send_smtp *smtp)
{
	i_assert(!smtp->finished);
	smtp->finished = TRUE;
	smtp->to_result = timeout_add_short(0, as_send_smtp_result_callback,
					    smtp);
}

static void
as_send_smtp_rcpt_callback(const struct smtp_reply *reply,
			   struct as_send_smtp_rcpt *rcpt)
{
	struct as_send_smtp *smtp = rcpt->smtp;
	const char *line;

	if (smtp_reply_is_success(reply)) {
		smtp->accepted++;
		return;
	}
	line = p_strdup_printf(smtp->pool, "%s: %s",
			       smtp_address_encode(rcpt->address),
			       smtp_reply_log(reply));
	array_push_back(&smtp->refused, &line);
	if (reply_temp(reply))
		smtp->refused_temp = TRUE;
	if (smtp->error == NULL) {
		smtp->error = p_strdup_printf(smtp->pool,
					      "RCPT TO refused: %s", line);
	}
}

static void
as_send_smtp_rcpt_data_callback(const struct smtp_reply *reply ATTR_UNUSED,
				struct as_send_smtp_rcpt *rcpt ATTR_UNUSED)
{
	/* plain SMTP: one DATA reply for all, as_send_smtp_data_callback */
}

static void
as_send_smtp_data_callback(const struct smtp_reply *reply,
			   struct as_send_smtp *smtp)
{
	if (smtp_reply_is_success(reply)) {
		smtp->data_ok = TRUE;
		return;
	}
	smtp->data_ok = FALSE;
	/* the DATA reply decides: it overrides an RCPT refusal's class */
	smtp->refused_temp = reply_temp(reply);
	smtp->error = p_strdup_printf(smtp->pool, "DATA failed: %s",
				      smtp_reply_log(reply));
}

static void as_send_smtp_trans_finished(struct as_send_smtp *smtp)
{
	struct as_send_smtp_result *result = &smtp->result;

	/* lib-smtp frees the transaction after this */
	smtp->trans = NULL;
	if (smtp->finished) {
		/* aborted by as_send_smtp_deinit() */
		return;
	}
	if (smtp->data_ok && array_count(&smtp->refused) == 0)
		result->status = AS_SEND_SMTP_SENT;
	else if (smtp->data_ok && smtp->accepted > 0) {
		result->status = AS_SEND_SMTP_PARTIAL;
		array_append_zero(&smtp->refused);
		result->refused = array_front(&smtp->refused);
	} else {
		/* every RCPT refused (lib-smtp then sends no DATA), or
		   DATA refused: nobody got it */
		result->status = smtp->refused_temp || smtp->error == NULL ?
			AS_SEND_SMTP_TEMPFAIL : AS_SEND_SMTP_REFUSED;
	}
	result->error = result->status == AS_SEND_SMTP_SENT ? NULL :
		(smtp->error != NULL ? smtp->error :
		 "SMTP transaction failed");
	as_send_smtp_finish(smtp);
}

static void
as_send_smtp_submit_callback(const struct smtp_submit_result *sresult,
			     struct as_send_smtp *smtp)
{
	smtp->result.status = sresult->status > 0 ? AS_SEND_SMTP_SENT :
		(sresult->status == 0 ? AS_SEND_SMTP_REFUSED :
		 AS_SEND_SMTP_TEMPFAIL);
	smtp->result.error = p_strdup(smtp->pool, sresult->error);
	as_send_smtp_finish(smtp);
}

static void as_send_smtp_start_error(struct as_send_smtp *smtp,
				     const char *error)
{
	smtp->result.status = AS_SEND_SMTP_TEMPFAIL;
	smtp->result.error = p_strdup(smtp->pool, error);
	as_send_smtp_finish(smtp);
}

static enum smtp_client_connection_ssl_mode
as_send_smtp_ssl_mode(const char *submission_ssl)
{
	if (submission_ssl == NULL)
		return SMTP_CLIENT_SSL_MODE_NONE;
	if (strcasecmp(submission_ssl, "smtps") == 0 ||
	    strcasecmp(submission_ssl, "submissions") == 0)
		return SMTP_CLIENT_SSL_MODE_IMMEDIATE;
	if (strcasecmp(submission_ssl, "starttls") == 0)
		return SMTP_CLIENT_SSL_MODE_STARTTLS;
	return SMTP_CLIENT_SSL_MODE_NONE;
}

static void
as_send_smtp_start_host(struct as_send_smtp *smtp,
			const struct smtp_submit_settings *set,
			const struct ssl_iostream_settings *ssl_set,
			const struct smtp_address *sender,
			const ARRAY_TYPE(smtp_address_const) *rcpts,
			struct istream *input)
{
	struct smtp_client_settings client_set;
	struct smtp_client_connection *conn;
	const struct smtp_address *const *addrp;
	struct as_send_smtp_rcpt *rcpt;
	const char *host;
	in_port_t port;

	if (net_str2hostport(set->submission_host, AS_SEND_SMTP_DEFAULT_PORT,
			     &host, &port) < 0) {
		as_send_smtp_start_error(smtp, t_strdup_printf(
			"Invalid submission_host: %s", set->submission_host));
		return;
	}
	i_zero(&client_set);
	client_set.my_hostname = set->hostname;
	client_set.connect_timeout_msecs = set->submission_timeout * 1000;
	client_set.command_timeout_msecs = set->submission_timeout * 1000;
	client_set.ssl = ssl_set;
	client_set.debug = set->mail_debug;
	client_set.event_parent = smtp->event;
	smtp->client = smtp_client_init(&client_set);
	conn = smtp_client_connection_create(smtp->client, SMTP_PROTOCOL_SMTP,
		host, port, as_send_smtp_ssl_mode(set->submission_ssl), NULL);
	smtp->trans = smtp_client_transaction_create(conn, sender, NULL, 0,
		as_send_smtp_trans_finished, smtp);
	smtp_client_connection_unref(&conn);
	array_foreach(rcpts, addrp) {
		rcpt = p_new(smtp->pool, struct as_send_smtp_rcpt, 1);
		rcpt->smtp = smtp;
		rcpt->address = *addrp;
		smtp_client_transaction_add_rcpt(smtp->trans, *addrp, NULL,
			as_send_smtp_rcpt_callback,
			as_send_smtp_rcpt_data_callback, rcpt);
	}
	smtp_client_transaction_send(smtp->trans, input,
				     as_send_smtp_data_callback, smtp);
}

#undef as_send_smtp_start
struct as_send_smtp *
as_send_smtp_start(const struct smtp_submit_settings *set,
		   const struct ssl_iostream_settings *ssl_set,
		   struct event *event_parent,
		   const struct smtp_address *sender,
		   const ARRAY_TYPE(smtp_address_const) *rcpts,
		   const void *data, size_t size,
		   as_send_smtp_callback_t *callback, void *context)
{
	struct as_send_smtp *smtp;
	const struct smtp_address *const *addrp;
	struct smtp_submit_input input;
	struct istream *data_input;
	struct ostream *output;
	pool_t pool;

	i_assert(array_count(rcpts) > 0);
	pool = pool_alloconly_create("activesync smtp", 1024);
	smtp = p_new(pool, struct as_send_smtp, 1);
	smtp->pool = pool;
	smtp->event = event_create(event_parent);
	smtp->callback = callback;
	smtp->context = context;
	p_array_init(&smtp->refused, pool, 4);

	if (set->submission_host != NULL && *set->submission_host != '\0') {
		/* a copy: the caller's request may be freed before the
		   transaction ends (the client went away) */
		data_input = i_stream_create_copy_from_data(data, size);
		as_send_smtp_start_host(smtp, set, ssl_set, sender, rcpts,
					data_input);
		i_stream_unref(&data_input);
		return smtp;
	}
	i_zero(&input);
	input.ssl = ssl_set;
	input.event_parent = smtp->event;
	smtp->submit = smtp_submit_init_simple(&input, set, sender);
	array_foreach(rcpts, addrp)
		smtp_submit_add_rcpt(smtp->submit, *addrp);
	output = smtp_submit_send(smtp->submit);
	o_stream_nsend(output, data, size);
	smtp_submit_run_async(smtp->submit, as_send_smtp_submit_callback,
			      smtp);
	return smtp;
}

void as_send_smtp_deinit(struct as_send_smtp **_smtp)
{
	struct as_send_smtp *smtp = *_smtp;

	*_smtp = NULL;
	timeout_remove(&smtp->to_result);
	if (smtp->trans != NULL) {
		/* abort calls the finished callback: not ours any more */
		smtp->finished = TRUE;
		smtp_client_transaction_destroy(&smtp->trans);
	}
	if (smtp->client != NULL)
		smtp_client_deinit(&smtp->client);
	if (smtp->submit != NULL)
		smtp_submit_deinit(&smtp->submit);
	event_unref(&smtp->event);
	pool_unref(&smtp->pool);
}

struct as_send_smtp_wait {
	pool_t pool;
	struct ioloop *ioloop;
	struct as_send_smtp_result *result;
};

static void
as_send_smtp_wait_callback(const struct as_send_smtp_result *result,
			   struct as_send_smtp_wait *wait)
{
	ARRAY_TYPE(const_string) copy;
	const char *const *refused, *line;

	wait->result->status = result->status;
	wait->result->error = p_strdup(wait->pool, result->error);
	wait->result->refused = NULL;
	if (result->refused != NULL) {
		p_array_init(&copy, wait->pool, 4);
		for (refused = result->refused; *refused != NULL; refused++) {
			line = p_strdup(wait->pool, *refused);
			array_push_back(&copy, &line);
		}
		array_append_zero(&copy);
		wait->result->refused = array_front(&copy);
	}
	io_loop_stop(wait->ioloop);
}

void as_send_smtp_run(pool_t pool, const struct smtp_submit_settings *set,
		      const struct ssl_iostream_settings *ssl_set,
		      struct event *event_parent,
		      const struct smtp_address *sender,
		      const ARRAY_TYPE(smtp_address_const) *rcpts,
		      const void *data, size_t size,
		      struct as_send_smtp_result *result_r)
{
	struct as_send_smtp_wait wait;
	struct as_send_smtp *smtp;

	i_zero(result_r);
	i_zero(&wait);
	wait.pool = pool;
	wait.result = result_r;
	wait.ioloop = io_loop_create();
	smtp = as_send_smtp_start(set, ssl_set, event_parent, sender, rcpts,
				  data, size,
				  (as_send_smtp_callback_t *)
				  as_send_smtp_wait_callback, &wait);
	io_loop_run(wait.ioloop);
	as_send_smtp_deinit(&smtp);
	io_loop_destroy(&wait.ioloop);
}
