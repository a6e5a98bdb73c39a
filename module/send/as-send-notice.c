/* Copyright (c) the dovecot-activesync authors, see AUTHORS */

#include "lib.h"
#include "str.h"
#include "ioloop.h"
#include "hostpid.h"
#include "str-sanitize.h"
#include "message-date.h"
#include "message-header-decode.h"
#include "message-header-encode.h"
#include "mail-storage.h"
#include "mail-namespace.h"
#include "mail-user.h"
#include "as-command.h"
#include "items/as-mail-save.h"
#include "send/as-send-mime.h"
#include "send/as-send-notice.h"

#define REFUSED_NOTICE_SUBJECT "Not delivered to all recipients: "

/* The Subject of the device's message (decoded), or "" */
static const char *mime_subject(const struct as_send_mime *mime)
{
	const char *const *lines = t_strsplit(str_c(mime->headers), "\n");
	string_t *value = NULL, *decoded;

	for (; *lines != NULL; lines++) {
		const char *line = t_strcut(*lines, '\r');

		if (value != NULL && (line[0] == ' ' || line[0] == '\t'))
			str_append(value, line);
		else if (value != NULL)
			break;
		else if (strncasecmp(line, "Subject:", 8) == 0) {
			value = t_str_new(128);
			str_append(value, line + 8);
		}
	}
	if (value == NULL)
		return "";
	decoded = t_str_new(str_len(value) + 16);
	message_header_decode_utf8(str_data(value), str_len(value), decoded,
				   NULL);
	return t_str_trim(str_c(decoded), " \t");
}

static const char *
notice_build(struct as_cmd_context *ctx, const char *subject,
	     const char *const *refused)
{
	string_t *str = t_str_new(1024);
	const char *domain = strchr(ctx->username, '@');

	domain = domain == NULL ? my_hostname : domain + 1;
	str_printfa(str, "From: Mail Delivery <postmaster@%s>\r\n", domain);
	str_printfa(str, "To: <%s>\r\n", ctx->username);
	str_append(str, "Subject: ");
	message_header_encode(t_strconcat(REFUSED_NOTICE_SUBJECT,
					  str_sanitize_utf8(subject, 200),
					  NULL), str);
	str_printfa(str, "\r\nDate: %s\r\n",
		    message_date_create(ioloop_time));
	str_printfa(str, "Message-ID: <activesync.refused.%s.%ld@%s>\r\n",
		    dec2str(ioloop_timeval.tv_usec), (long)ioloop_time,
		    my_hostname);
	str_append(str, "MIME-Version: 1.0\r\n"
		   "Content-Type: text/plain; charset=utf-8\r\n"
		   "Content-Transfer-Encoding: 8bit\r\n"
		   "Auto-Submitted: auto-replied\r\n\r\n");
	str_append(str, "Your message was sent, but the mail server refused "
		   "these recipients,\r\nso they did not get it:\r\n\r\n");
	for (; *refused != NULL; refused++)
		str_printfa(str, "  %s\r\n", str_sanitize_utf8(*refused, 512));
	str_append(str, "\r\nThe other recipients got the message. Sending it "
		   "again would reach them\r\na second time: send it only to "
		   "the recipients above, after checking\r\nthe addresses.\r\n");
	return str_c(str);
}

void as_send_refused_notice(struct as_cmd_context *ctx,
			    const struct as_send_mime *mime,
			    const char *const *refused)
{
	struct mail_namespace *ns;
	struct mailbox *box;
	const char *text, *error = NULL;
	uint32_t uid;

	text = notice_build(ctx, mime_subject(mime), refused);
	ns = mail_namespace_find_inbox(ctx->mail_user->namespaces);
	box = mailbox_alloc(ns->list, "INBOX", 0);
	if (mailbox_open(box) < 0)
		error = mailbox_get_last_internal_error(box, NULL);
	else if (as_mail_save(box, text, strlen(text), 0, NULL, &uid,
			      &error) < 0)
		;
	else
		e_info(ctx->event, "Told the user which recipients were "
		       "refused");
	if (error != NULL) {
		e_error(ctx->event, "Saving the notice about refused "
			"recipients failed: %s", error);
	}
	mailbox_free(&box);
}
