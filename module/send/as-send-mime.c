/* Copyright (c) the dovecot-activesync authors, see AUTHORS */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "istream.h"
#include "guid.h"
#include "message-size.h"
#include "message-header-parser.h"
#include "message-address.h"
#include "smtp-address.h"
#include "send/as-send-mime.h"

struct mime_parse_ctx {
	pool_t pool;
	struct as_send_mime *mime;
	unsigned int fields;
	const char *error;
};

static bool hdr_is_content(const char *name)
{
	return strncasecmp(name, "Content-", 8) == 0 ||
		strcasecmp(name, "MIME-Version") == 0;
}

static bool
rcpt_exists(const struct as_send_mime *mime, const struct smtp_address *addr)
{
	const struct smtp_address *const *rcptp;

	array_foreach(&mime->rcpts, rcptp) {
		if (smtp_address_equals_icase(*rcptp, addr))
			return TRUE;
	}
	return FALSE;
}

static void
mime_add_rcpts(struct mime_parse_ctx *ctx, const unsigned char *value,
	       size_t size)
{
	struct message_address *addr;
	struct smtp_address *rcpt;
	const char *error;

	addr = message_address_parse(pool_datastack_create(), value, size,
				     UINT_MAX, 0);
	for (; addr != NULL; addr = addr->next) {
		/* group start/end markers have no domain; a bare name
		   without domain can't be sent to either */
		if (addr->mailbox == NULL || addr->domain == NULL ||
		    addr->mailbox[0] == '\0' || addr->domain[0] == '\0')
			continue;
		if (smtp_address_create_from_msg(ctx->pool, addr, &rcpt) < 0) {
			error = t_strdup_printf("Invalid recipient address %s@%s",
						addr->mailbox, addr->domain);
			if (ctx->error == NULL)
				ctx->error = p_strdup(ctx->pool, error);
			continue;
		}
		if (!rcpt_exists(ctx->mime, rcpt))
			array_push_back(&ctx->mime->rcpts,
					(const struct smtp_address **)&rcpt);
	}
}

static void
mime_parse_field(struct mime_parse_ctx *ctx, struct message_header_line *hdr)
{
	struct as_send_mime *mime = ctx->mime;
	const char *name = hdr->name;

	if (strcasecmp(name, "To") == 0 || strcasecmp(name, "Cc") == 0 ||
	    strcasecmp(name, "Bcc") == 0)
		mime_add_rcpts(ctx, hdr->full_value, hdr->full_value_len);
	else if (strcasecmp(name, "From") == 0)
		mime->have_from = TRUE;
	else if (strcasecmp(name, "Date") == 0)
		mime->have_date = TRUE;
	else if (strcasecmp(name, "In-Reply-To") == 0)
		mime->have_in_reply_to = TRUE;
	else if (strcasecmp(name, "References") == 0)
		mime->have_references = TRUE;
	else if (strcasecmp(name, "Message-ID") == 0) {
		mime->message_id = p_strndup(ctx->pool, hdr->full_value,
					     hdr->full_value_len);
		mime->message_id = p_strdup(ctx->pool,
					    t_str_trim(mime->message_id, " \t\r\n"));
	}
}

int as_send_mime_parse(pool_t pool, const unsigned char *data, size_t size,
		       struct as_send_mime *mime_r, const char **error_r)
{
	struct mime_parse_ctx ctx;
	struct message_header_parser_ctx *parser;
	struct message_header_line *hdr;
	struct message_size hdr_size;
	struct istream *input;
	string_t *dest;
	int ret;

	i_zero(mime_r);
	mime_r->headers = str_new(pool, 1024);
	mime_r->content_headers = str_new(pool, 256);
	mime_r->bcc_headers = str_new(pool, 64);
	p_array_init(&mime_r->rcpts, pool, 8);

	i_zero(&ctx);
	ctx.pool = pool;
	ctx.mime = mime_r;

	input = i_stream_create_from_data(data, size);
	parser = message_parse_header_init(input, &hdr_size, 0);
	while ((ret = message_parse_header_next(parser, &hdr)) > 0) {
		if (hdr->eoh)
			continue;
		if (!hdr->continued && hdr->name_len == 0) {
			/* not "Name: value", e.g. a body without header */
			if (ctx.error == NULL) {
				ctx.error = t_strdup_printf(
					"Header line without a field name: %s",
					t_strndup(hdr->value,
						  I_MIN(hdr->value_len, 80)));
			}
			break;
		}
		if (!hdr->continued)
			ctx.fields++;
		if (strcasecmp(hdr->name, "Bcc") == 0)
			dest = mime_r->bcc_headers;
		else if (hdr_is_content(hdr->name))
			dest = mime_r->content_headers;
		else
			dest = mime_r->headers;
		message_header_line_write(dest, hdr);
		if (hdr->continues) {
			hdr->use_full_value = TRUE;
			continue;
		}
		/* no data stack frame here: pool may be a data stack pool */
		mime_parse_field(&ctx, hdr);
	}
	i_assert(ret != 0);
	message_parse_header_deinit(&parser);
	i_stream_unref(&input);

	if (ctx.error == NULL && ctx.fields == 0)
		ctx.error = "No header fields";
	if (ctx.error != NULL) {
		*error_r = ctx.error;
		return -1;
	}
	if (hdr_size.physical_size > size)
		hdr_size.physical_size = size;
	mime_r->body = data + hdr_size.physical_size;
	mime_r->body_size = size - hdr_size.physical_size;
	return 0;
}

void as_send_mime_add_header(string_t *dest, const char *name,
			     const char *value)
{
	str_printfa(dest, "%s: %s\r\n", name, value);
}

const char *as_send_mime_new_message_id(const char *domain)
{
	guid_128_t guid;

	guid_128_generate(guid);
	return t_strdup_printf("<%s@%s>", guid_128_to_string(guid), domain);
}
