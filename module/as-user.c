/* Copyright (c) the dovecot-activesync authors, see AUTHORS */

#include "lib.h"
#include "mail-user.h"
#include "mail-storage-service.h"
#include "as-user.h"

static struct mail_storage_service_ctx *as_storage_service;

void as_user_service_init(struct mail_storage_service_ctx *storage_service)
{
	as_storage_service = storage_service;
}

int as_user_open(const struct as_user_lookup *lookup, struct as_user *user_r,
		 const char **error_r)
{
	struct mail_storage_service_input input;
	int ret;

	i_zero(user_r);
	i_zero(&input);
	input.event_parent = lookup->event_parent;
	/* "lda": the mail settings plus smtp-submit's (submission_host,
	   sendmail_path) for SendMail; must equal main.c's module */
	input.module = "lda";
	input.service = "activesync";
	input.username = lookup->username;
	input.session_id = lookup->session_id;
	input.local_ip = lookup->local_ip;
	input.remote_ip = lookup->remote_ip;
	input.local_port = lookup->local_port;
	input.remote_port = lookup->remote_port;
	input.conn_secured = lookup->secured;

	ret = mail_storage_service_lookup_next(as_storage_service, &input,
					       &user_r->service_user,
					       &user_r->mail_user, error_r);
	if (ret <= 0)
		return ret;
	/* One process serves many users, so the service does no log init
	   per user (NO_LOG_INIT); the user's own lines (lib-storage errors,
	   mail_log) still get mail_log_prefix, with %{session} and %{lip},
	   as in imap. */
	event_replace_log_prefix(user_r->mail_user->event,
		mail_storage_service_user_get_log_prefix(user_r->service_user));
	return 1;
}

void as_user_close(struct as_user *user)
{
	if (user->mail_user != NULL)
		mail_user_deinit(&user->mail_user);
	if (user->service_user != NULL)
		mail_storage_service_user_unref(&user->service_user);
}
