/* Copyright (c) the dovecot-activesync authors, see AUTHORS */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "ioloop.h"
#include "hostpid.h"
#include "str-sanitize.h"
#include "message-date.h"
#include "smtp-address.h"
#include "iostream-ssl.h"
#include "mail-storage.h"
#include "mail-namespace.h"
#include "mail-user.h"
#include "as-command.h"
#include "as-settings.h"
#include "items/as-mail-save.h"
#include "send/as-send.h"
#include "send/as-send-smtp.h"
#include "as-device-notice.h"

static const char *
notice_build(struct as_cmd_context *ctx, const char *to,
	     const char *subject, const char *body)
{
	const struct as_device *dev = ctx->device;
	string_t *str = t_str_new(1024);
	const char *domain = strchr(ctx->username, '@');

	domain = domain == NULL ? my_hostname : domain + 1;
	str_printfa(str, "From: Mobile devices <postmaster@%s>\r\n", domain);
	str_printfa(str, "To: <%s>\r\n", to);
	str_printfa(str, "Subject: %s\r\n", subject);
	str_printfa(str, "Date: %s\r\n", message_date_create(ioloop_time));
	str_printfa(str, "Message-ID: <activesync.device.%s.%ld@%s>\r\n",
		    dec2str(ioloop_timeval.tv_usec), (long)ioloop_time,
		    my_hostname);
	str_append(str, "MIME-Version: 1.0\r\n"
		   "Content-Type: text/plain; charset=utf-8\r\n"
		   "Content-Transfer-Encoding: 8bit\r\n"
		   "Auto-Submitted: auto-generated\r\n\r\n");
	str_append(str, body);
	str_printfa(str, "\r\n\r\nUser:        %s\r\n", ctx->username);
	str_printfa(str, "Device id:   %s\r\n",
		    str_sanitize_utf8(dev->device_id, 64));
	str_printfa(str, "Device type: %s\r\n",
		    str_sanitize_utf8(dev->device_type, 64));
	if (dev->model != NULL && *dev->model != '\0')
		str_printfa(str, "Model:       %s\r\n",
			    str_sanitize_utf8(dev->model, 64));
	if (dev->os != NULL && *dev->os != '\0')
		str_printfa(str, "OS:          %s\r\n",
			    str_sanitize_utf8(dev->os, 64));
	return str_c(str);
}

static int notice_save(struct as_cmd_context *ctx, const char *text)
{
	struct mail_namespace *ns;
	struct mailbox *box;
	const char *error = NULL;
	uint32_t uid;

	ns = mail_namespace_find_inbox(ctx->mail_user->namespaces);
	box = mailbox_alloc(ns->list, "INBOX", 0);
	if (mailbox_open(box) < 0)
		error = mailbox_get_last_internal_error(box, NULL);
	else
		(void)as_mail_save(box, text, strlen(text), 0, NULL, &uid,
				   &error);
	mailbox_free(&box);
	if (error != NULL) {
		e_error(ctx->event, "Saving the device notice failed: %s",
			error);
		return -1;
	}
	return 0;
}

static void notice_submit(struct as_cmd_context *ctx, const char *to,
			  const char *text)
{
	const struct smtp_submit_settings *smtp_set;
	const struct smtp_address *sender;
	struct smtp_address *rcpt;
	ARRAY_TYPE(smtp_address_const) rcpts;
	struct ssl_iostream_settings ssl_set;
	struct as_send_smtp_result result;
	const char *error;

	if (smtp_address_parse_path(ctx->pool, to,
				    SMTP_ADDRESS_PARSE_FLAG_BRACKETS_OPTIONAL,
				    &rcpt, &error) < 0) {
		e_error(ctx->event, "activesync_wipe_notify_address %s: %s",
			str_sanitize(to, 128), error);
		return;
	}
	smtp_set = as_send_smtp_settings(ctx);
	if (smtp_set == NULL)
		return;
	sender = as_send_sender(ctx, smtp_set);
	if (sender == NULL)
		return;
	t_array_init(&rcpts, 1);
	array_push_back(&rcpts, (const struct smtp_address **)&rcpt);
	mail_user_init_ssl_client_settings(ctx->mail_user, &ssl_set);
	/* rare (once per wipe): waiting here is simpler than a callback */
	as_send_smtp_run(ctx->pool, smtp_set, &ssl_set, ctx->event, sender,
			 &rcpts, text, strlen(text), &result);
	if (result.status != AS_SEND_SMTP_SENT) {
		e_error(ctx->event, "Sending the wipe notice to %s failed: %s",
			str_sanitize(to, 128),
			result.error == NULL ? "refused" : result.error);
	}
}

void as_wipe_notice_send(struct as_cmd_context *ctx)
{
	bool account = ctx->device->wipe == AS_DEVICE_WIPE_ACCOUNT_DONE;
	const char *subject = account ?
		"Your account was removed from a mobile device" :
		"Your mobile device was wiped";
	const char *body = account ?
		"An administrator removed your account from the mobile device\r\n"
		"below, and the device confirmed it. The device can no longer\r\n"
		"sync with this server." :
		"An administrator wiped the mobile device below, and the device\r\n"
		"confirmed it: its data was erased. The device can no longer\r\n"
		"sync with this server.";

	if (notice_save(ctx, notice_build(ctx, ctx->username, subject,
					  body)) == 0)
		e_info(ctx->event, "Told the user about the wipe");
	if (*ctx->set->wipe_notify_address != '\0') {
		notice_submit(ctx, ctx->set->wipe_notify_address,
			      notice_build(ctx, ctx->set->wipe_notify_address,
					   subject, body));
	}
}

void as_quarantine_notice_send(struct as_cmd_context *ctx)
{
	const char *text = notice_build(ctx, ctx->username,
		"Your mobile device is waiting for approval",
		"A mobile device connected to your account and waits for\r\n"
		"an administrator's approval. Until then it sees only your\r\n"
		"default folders (Inbox, Drafts, Sent, Trash, Calendar,\r\n"
		"Contacts, Tasks, Notes): it can't send mail, search, or\r\n"
		"see your other folders.");

	if (notice_save(ctx, text) == 0)
		e_info(ctx->event, "Told the user that the device is "
		       "quarantined");
}
