/* Copyright (c) the dovecot-activesync authors, see AUTHORS */

/* SmartReply / SmartForward without ReplaceMime: the device sends only
   its new text and the server adds the original. The device's message
   is kept intact as the first part of a multipart/mixed; a text/plain
   part with the original's text (quoted for a reply, below a forward
   header for a forward) follows, and a forward carries the original's
   attachments as they were (MIME header and encoded body copied). */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "istream.h"
#include "guid.h"
#include "qp-encoder.h"
#include "mail-storage.h"
#include "imap-msgpart.h"
#include "items/as-body.h"
#include "send/as-send-compose.h"

#define AS_SEND_BOUNDARY_PREFIX "=_as-"

static void
compose_add_missing_headers(const struct as_send_compose_input *in,
			    string_t *dest)
{
	const struct as_send_mime *mime = in->mime;
	const char *msgid;

	if (!mime->have_from && in->from != NULL)
		as_send_mime_add_header(dest, "From", in->from);
	if (!mime->have_date)
		as_send_mime_add_header(dest, "Date", in->date);
	if (mime->message_id == NULL)
		as_send_mime_add_header(dest, "Message-ID", in->message_id);
	if (in->kind != AS_SEND_KIND_REPLY || in->original == NULL)
		return;
	/* thread the reply under the original if the device didn't */
	if (mail_get_first_header(in->original, "Message-ID", &msgid) <= 0)
		return;
	msgid = t_str_trim(msgid, " \t\r\n");
	if (!mime->have_in_reply_to)
		as_send_mime_add_header(dest, "In-Reply-To", msgid);
	if (!mime->have_references)
		as_send_mime_add_header(dest, "References", msgid);
}

static const char *original_header(struct mail *mail, const char *name)
{
	const char *value;

	if (mail_get_first_header_utf8(mail, name, &value) <= 0)
		return NULL;
	return value;
}

/* The original's text as the new text part's plain content. */
static void
compose_original_text(const struct as_send_compose_input *in,
		      const struct as_body_info *info, string_t *text)
{
	struct mail *mail = in->original;
	const char *body, *from, *date, *p, *line_end;
	uoff_t full_size;

	from = original_header(mail, "From");
	date = original_header(mail, "Date");
	body = as_body_text(info, AS_BODY_TYPE_PLAIN, &full_size);

	if (in->kind == AS_SEND_KIND_REPLY) {
		str_printfa(text, "On %s, %s wrote:\n",
			    date != NULL ? date : "an earlier date",
			    from != NULL ? from : "the sender");
		/* quote each line */
		for (p = body; *p != '\0'; p = line_end) {
			line_end = strchr(p, '\n');
			line_end = line_end == NULL ? p + strlen(p) :
				line_end + 1;
			str_append(text, *p == '>' ? ">" : "> ");
			str_append_data(text, p, line_end - p);
		}
	} else {
		const char *subject = original_header(mail, "Subject");
		const char *to = original_header(mail, "To");
		const char *cc = original_header(mail, "Cc");

		str_append(text, "---------- Forwarded message ----------\n");
		if (from != NULL)
			str_printfa(text, "From: %s\n", from);
		if (date != NULL)
			str_printfa(text, "Date: %s\n", date);
		if (subject != NULL)
			str_printfa(text, "Subject: %s\n", subject);
		if (to != NULL)
			str_printfa(text, "To: %s\n", to);
		if (cc != NULL)
			str_printfa(text, "Cc: %s\n", cc);
		str_append_c(text, '\n');
		str_append(text, body);
	}
	if (str_len(text) > 0 && str_data(text)[str_len(text)-1] != '\n')
		str_append_c(text, '\n');
}

static int
stream_append(struct istream *input, buffer_t *dest, uoff_t max_size,
	      const char **error_r)
{
	const unsigned char *data;
	size_t size;
	int ret;

	while ((ret = i_stream_read_more(input, &data, &size)) > 0) {
		if (dest->used + size > max_size)
			return 0;
		buffer_append(dest, data, size);
		i_stream_skip(input, size);
	}
	i_assert(ret == -1);
	if (input->stream_errno != 0) {
		*error_r = t_strdup_printf("read(%s) failed: %s",
					   i_stream_get_name(input),
					   i_stream_get_error(input));
		return -1;
	}
	return 1;
}

static int
msgpart_append(struct mail *mail, const char *section, buffer_t *dest,
	       uoff_t max_size, const char **error_r)
{
	struct imap_msgpart *msgpart;
	struct imap_msgpart_open_result result;
	int ret;

	if (imap_msgpart_parse(section, &msgpart) < 0) {
		*error_r = t_strdup_printf("Invalid section %s", section);
		return -1;
	}
	if (imap_msgpart_open(mail, msgpart, &result) < 0) {
		*error_r = mailbox_get_last_internal_error(mail->box, NULL);
		imap_msgpart_free(&msgpart);
		return -1;
	}
	ret = stream_append(result.input, dest, max_size, error_r);
	i_stream_unref(&result.input);
	imap_msgpart_free(&msgpart);
	return ret;
}

/* Copy one attachment of the original: its MIME header and its body as
   they are encoded. */
static int
compose_attachment(struct mail *mail, const struct as_body_attachment *att,
		   const char *boundary, buffer_t *dest, uoff_t max_size,
		   const char **error_r)
{
	int ret;

	str_printfa(dest, "\r\n--%s\r\n", boundary);
	ret = msgpart_append(mail, t_strconcat(att->part_number, ".MIME",
					       NULL), dest, max_size, error_r);
	if (ret <= 0)
		return ret;
	return msgpart_append(mail, att->part_number, dest, max_size,
			      error_r);
}

static void compose_text_part(string_t *dest, const string_t *text)
{
	struct qp_encoder *qp;

	str_append(dest, "Content-Type: text/plain; charset=utf-8\r\n"
		   "Content-Transfer-Encoding: quoted-printable\r\n"
		   "Content-Disposition: inline\r\n\r\n");
	qp = qp_encoder_init(dest, 76, 0);
	qp_encoder_more(qp, str_data(text), str_len(text));
	qp_encoder_finish(qp);
	qp_encoder_deinit(&qp);
}

static int
compose_with_original(pool_t pool, const struct as_send_compose_input *in,
		      struct as_send_composed *out, const char **error_r)
{
	const struct as_send_mime *mime = in->mime;
	const struct as_body_attachment *att;
	struct as_body_info info;
	buffer_t *dest = out->data;
	string_t *text;
	const char *boundary;
	guid_128_t guid;
	int ret;

	if (as_body_parse(pool, in->original, in->max_size,
			  in->kind == AS_SEND_KIND_FORWARD, &info,
			  error_r) < 0)
		return -1;

	guid_128_generate(guid);
	boundary = t_strconcat(AS_SEND_BOUNDARY_PREFIX,
			       guid_128_to_string(guid), NULL);
	str_append(dest, "MIME-Version: 1.0\r\n");
	str_printfa(dest, "Content-Type: multipart/mixed;\r\n"
		    "\tboundary=\"%s\"\r\n", boundary);
	out->header_end = dest->used;
	str_append(dest, "\r\nThis is a multi-part message in MIME format.\r\n");

	/* 1: the device's own message body with its content headers */
	str_printfa(dest, "\r\n--%s\r\n", boundary);
	if (str_len(mime->content_headers) > 0) {
		buffer_append(dest, str_data(mime->content_headers),
			      str_len(mime->content_headers));
	} else {
		str_append(dest, "Content-Type: text/plain; charset=us-ascii\r\n");
	}
	str_append(dest, "\r\n");
	buffer_append(dest, mime->body, mime->body_size);

	/* 2: the original's text */
	text = t_str_new(1024);
	compose_original_text(in, &info, text);
	str_printfa(dest, "\r\n--%s\r\n", boundary);
	compose_text_part(dest, text);
	if (dest->used > in->max_size)
		return 0;

	/* 3..: a forward's attachments */
	if (in->kind == AS_SEND_KIND_FORWARD) {
		array_foreach(&info.attachments, att) {
			ret = compose_attachment(in->original, att, boundary,
						 dest, in->max_size, error_r);
			if (ret <= 0)
				return ret;
		}
	}
	str_printfa(dest, "\r\n--%s--\r\n", boundary);
	return dest->used > in->max_size ? 0 : 1;
}

/* The device's lines may end in LF, ours in CRLF: make them all CRLF
   (what SMTP wants; the Sent copy then matches what was sent). */
void as_send_crlf_append(buffer_t *dest, const void *_data, size_t size)
{
	const unsigned char *data = _data;
	size_t i, start = 0;

	for (i = 0; i < size; i++) {
		if (data[i] != '\n' || (i > 0 && data[i-1] == '\r'))
			continue;
		buffer_append(dest, data + start, i - start);
		buffer_append(dest, "\r\n", 2);
		start = i + 1;
	}
	buffer_append(dest, data + start, size - start);
}

static void crlf_normalize(pool_t pool, struct as_send_composed *out)
{
	size_t header_end = out->header_end;
	buffer_t *dest;

	dest = buffer_create_dynamic(pool, out->data->used + 1024);
	as_send_crlf_append(dest, out->data->data, header_end);
	out->header_end = dest->used;
	as_send_crlf_append(dest, CONST_PTR_OFFSET(out->data->data, header_end),
		    out->data->used - header_end);
	buffer_free(&out->data);
	out->data = dest;
}

static int
as_send_compose_body(pool_t pool, const struct as_send_compose_input *in,
		     struct as_send_composed *out_r, const char **error_r)
{
	const struct as_send_mime *mime = in->mime;
	buffer_t *dest;

	i_zero(out_r);
	dest = out_r->data = buffer_create_dynamic(pool,
		str_len(mime->headers) + mime->body_size + 1024);
	buffer_append(dest, str_data(mime->headers), str_len(mime->headers));
	compose_add_missing_headers(in, dest);

	if (in->original != NULL)
		return compose_with_original(pool, in, out_r, error_r);

	buffer_append(dest, str_data(mime->content_headers),
		      str_len(mime->content_headers));
	out_r->header_end = dest->used;
	str_append(dest, "\r\n");
	buffer_append(dest, mime->body, mime->body_size);
	return dest->used > in->max_size ? 0 : 1;
}

int as_send_compose(pool_t pool, const struct as_send_compose_input *in,
		    struct as_send_composed *out_r, const char **error_r)
{
	int ret;

	ret = as_send_compose_body(pool, in, out_r, error_r);
	if (ret <= 0)
		return ret;
	crlf_normalize(pool, out_r);
	return out_r->data->used > in->max_size ? 0 : 1;
}
