/* Copyright (c) dovecot-activesync authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "ioloop.h"
#include "randgen.h"
#include "hex-binary.h"
#include "message-date.h"
#include "message-header-encode.h"
#include "smtp-address.h"
#include "smtp-submit-settings.h"
#include "iostream-ssl.h"
#include "mail-user.h"
#include "as-command.h"
#include "as-user.h"
#include "items/as-draft.h"
#include "send/as-send.h"
#include "send/as-send-mime.h"
#include "send/as-send-smtp.h"
#include "send/as-send-compose.h"
#include "meeting/as-meeting-send.h"

static const char *meeting_method_name(enum as_imip_method method)
{
	switch (method) {
	case AS_IMIP_METHOD_REQUEST:
		return "REQUEST";
	case AS_IMIP_METHOD_CANCEL:
		return "CANCEL";
	case AS_IMIP_METHOD_REPLY:
		return "REPLY";
	case AS_IMIP_METHOD_NONE:
	case AS_IMIP_METHOD_OTHER:
		break;
	}
	i_unreached();
}

static const char *meeting_boundary(void)
{
	unsigned char rnd[8];

	random_fill(rnd, sizeof(rnd));
	return t_strdup_printf("=_as_%s", binary_to_hex(rnd, sizeof(rnd)));
}

void as_meeting_mail_build(const struct as_meeting_mail *mail,
			   const char *from, string_t *dest)
{
	const char *method = meeting_method_name(mail->method);
	const char *outer = meeting_boundary(), *alt = meeting_boundary();
	const char *const *to;
	bool attach = mail->method != AS_IMIP_METHOD_REPLY;

	str_printfa(dest, "From: <%s>\r\n", as_draft_header_text(from));
	str_append(dest, "To: ");
	for (to = mail->to; *to != NULL; to++) {
		if (to != mail->to)
			str_append(dest, ",\r\n ");
		str_printfa(dest, "<%s>", as_draft_header_text(*to));
	}
	str_append(dest, "\r\nSubject: ");
	message_header_encode(as_draft_header_text(mail->subject), dest);
	str_printfa(dest, "\r\nDate: %s\r\n", message_date_create(ioloop_time));
	str_printfa(dest, "Message-ID: %s\r\n", as_send_mime_new_message_id(
		strchr(from, '@') != NULL ? strchr(from, '@') + 1 :
		"localhost"));
	str_append(dest, "MIME-Version: 1.0\r\n");
	if (attach) {
		str_printfa(dest, "Content-Type: multipart/mixed; "
			    "boundary=\"%s\"\r\n\r\n--%s\r\n", outer, outer);
	}
	str_printfa(dest, "Content-Type: multipart/alternative; "
		    "boundary=\"%s\"\r\n\r\n", alt);
	str_printfa(dest, "--%s\r\nContent-Type: text/plain; charset=utf-8\r\n"
		    "Content-Transfer-Encoding: quoted-printable\r\n\r\n", alt);
	as_draft_append_qp(dest, mail->text);
	str_printfa(dest, "\r\n--%s\r\nContent-Type: text/calendar; "
		    "charset=utf-8; method=%s\r\n"
		    "Content-Transfer-Encoding: quoted-printable\r\n\r\n",
		    alt, method);
	as_draft_append_qp(dest, mail->ical);
	str_printfa(dest, "\r\n--%s--\r\n", alt);
	if (attach) {
		str_printfa(dest, "\r\n--%s\r\nContent-Type: application/ics; "
			    "name=\"invite.ics\"\r\n"
			    "Content-Disposition: attachment; "
			    "filename=\"invite.ics\"\r\n"
			    "Content-Transfer-Encoding: quoted-printable\r\n"
			    "\r\n", outer);
		as_draft_append_qp(dest, mail->ical);
		str_printfa(dest, "\r\n--%s--\r\n", outer);
	}
}

/* A copy in Sent, as for mail the device sends */
static void meeting_save_sent(struct as_cmd_context *ctx, string_t *msg)
{
	struct as_send_mime mime;
	struct as_send_composed composed;
	const char *end = strstr(str_c(msg), "\r\n\r\n");

	if (end == NULL)
		return;
	i_zero(&mime);
	mime.bcc_headers = t_str_new(1);
	i_zero(&composed);
	composed.data = msg;
	composed.header_end = end - str_c(msg) + 2;
	as_send_save_sent_copy(ctx, &mime, &composed);
}

int as_meeting_send(struct as_cmd_context *ctx,
		    const struct as_meeting_mail *mail, const char **error_r)
{
	const struct smtp_submit_settings *smtp_set;
	const struct smtp_address *sender;
	struct smtp_address *rcpt;
	ARRAY_TYPE(smtp_address_const) rcpts;
	struct ssl_iostream_settings ssl_set;
	struct as_send_smtp_result result;
	const char *const *to, *error;
	string_t *msg = t_str_new(4096);

	smtp_set = as_send_smtp_settings(ctx);
	if (smtp_set == NULL) {
		*error_r = "no submission settings";
		return -1;
	}
	sender = as_send_sender(ctx, smtp_set);
	if (sender == NULL) {
		*error_r = "no sender address";
		return -1;
	}
	t_array_init(&rcpts, 8);
	for (to = mail->to; *to != NULL; to++) {
		if (smtp_address_parse_path(ctx->pool, *to,
				SMTP_ADDRESS_PARSE_FLAG_BRACKETS_OPTIONAL,
				&rcpt, &error) < 0) {
			e_warning(ctx->event, "Meeting mail: recipient %s "
				  "left out: %s", *to, error);
			continue;
		}
		array_push_back(&rcpts, (const struct smtp_address **)&rcpt);
	}
	if (array_count(&rcpts) == 0) {
		*error_r = "no valid recipient";
		return -1;
	}
	as_meeting_mail_build(mail, as_user_primary_address(ctx->set,
							    ctx->username),
			      msg);
	mail_user_init_ssl_client_settings(ctx->mail_user, &ssl_set);
	/* one small message, rarely: waiting is simpler than a callback */
	as_send_smtp_run(ctx->pool, smtp_set, &ssl_set, ctx->event, sender,
			 &rcpts, str_data(msg), str_len(msg), &result);
	if (result.status != AS_SEND_SMTP_SENT) {
		*error_r = result.error != NULL ? result.error :
			"some recipients refused";
		return -1;
	}
	e_debug(ctx->event, "Meeting %s sent to %u recipients",
		meeting_method_name(mail->method), array_count(&rcpts));
	meeting_save_sent(ctx, msg);
	return 0;
}
