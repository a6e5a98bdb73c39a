/* Copyright (c) dovecot-activesync authors, see the included COPYING file */

/* One streaming pass over a message: finds the text bodies (decoded to
   UTF-8 through lib-mail's message-decoder) and the attachment list with
   IMAP part numbers. Nothing but the text bodies is kept in memory. */

#include "lib.h"
#include "str.h"
#include "array.h"
#include "istream.h"
#include "unichar.h"
#include "charset-utf8.h"
#include "message-parser.h"
#include "message-part-data.h"
#include "message-decoder.h"
#include "message-header-decode.h"
#include "mail-html2text.h"
#include "mail-storage.h"
#include "items/as-body.h"

#include <ctype.h>

enum part_kind {
	PART_KIND_IGNORE = 0,
	PART_KIND_PLAIN,
	PART_KIND_HTML,
	PART_KIND_ATTACHMENT,
};

struct body_parse_ctx {
	pool_t pool;
	struct as_body_info *info;
	size_t max_text_size;
	bool want_attachments;

	struct message_part *cur_part;
	enum part_kind cur_kind;
	unsigned int cur_att_idx;
	bool plain_full, html_full;
	/* message parts of the attachments (same index), for sizes of
	   attached messages */
	ARRAY(struct message_part *) att_parts;
};

static bool part_inside_message(const struct message_part *part)
{
	for (part = part->parent; part != NULL; part = part->parent) {
		if ((part->flags & MESSAGE_PART_FLAG_MESSAGE_RFC822) != 0)
			return TRUE;
	}
	return FALSE;
}

static bool part_in_related(const struct message_part *part)
{
	const struct message_part_data *data;

	if (part->parent == NULL)
		return FALSE;
	data = part->parent->data;
	return data != NULL && data->content_subtype != NULL &&
		strcasecmp(data->content_subtype, "related") == 0;
}

/* IMAP section number of a part (RFC 3501 6.4.5). */
static void part_number_append(const struct message_part *part,
			       string_t *dest)
{
	const struct message_part *parent = part->parent, *p;
	bool multipart = (part->flags & MESSAGE_PART_FLAG_MULTIPART) != 0;
	unsigned int idx = 1;

	if (parent == NULL) {
		/* the message itself: a single-part message's body is 1 */
		if (!multipart)
			str_append_c(dest, '1');
		return;
	}
	if ((parent->flags & MESSAGE_PART_FLAG_MESSAGE_RFC822) != 0) {
		/* the body of an attached message: a multipart shares the
		   message's number, a single part is its ".1" */
		part_number_append(parent, dest);
		if (!multipart)
			str_append(dest, ".1");
		return;
	}
	for (p = parent->children; p != NULL && p != part; p = p->next)
		idx++;
	part_number_append(parent, dest);
	if (str_len(dest) > 0)
		str_append_c(dest, '.');
	str_printfa(dest, "%u", idx);
}

static const char *part_number(const struct message_part *part)
{
	string_t *str = t_str_new(16);

	part_number_append(part, str);
	return str_c(str);
}

/* RFC 2231 extended value: charset'language'percent-encoded */
static const char *rfc2231_value_decode(const char *value)
{
	const char *p, *charset;
	string_t *raw, *out;

	p = strchr(value, '\'');
	if (p == NULL)
		return value;
	charset = t_strdup_until(value, p);
	p = strchr(p + 1, '\'');
	if (p == NULL)
		return value;
	raw = t_str_new(strlen(p));
	for (p++; *p != '\0'; p++) {
		if (*p == '%' && i_isxdigit(p[1]) && i_isxdigit(p[2])) {
			char hex[3] = { p[1], p[2], '\0' };
			str_append_c(raw, (char)strtoul(hex, NULL, 16));
			p += 2;
		} else {
			str_append_c(raw, *p);
		}
	}
	if (*charset == '\0')
		charset = "us-ascii";
	out = t_str_new(str_len(raw) + 16);
	if (charset_to_utf8_str(charset, NULL, str_c(raw), out, NULL) < 0)
		return str_c(raw);
	return str_c(out);
}

static const char *
param_find(const struct message_part_param *params, unsigned int count,
	   const char *name)
{
	const char *ext_name = t_strconcat(name, "*", NULL);
	unsigned int i;

	for (i = 0; i < count; i++) {
		if (params[i].value == NULL)
			continue;
		if (strcasecmp(params[i].name, ext_name) == 0)
			return rfc2231_value_decode(params[i].value);
	}
	for (i = 0; i < count; i++) {
		if (params[i].value != NULL &&
		    strcasecmp(params[i].name, name) == 0) {
			string_t *str = t_str_new(64);

			message_header_decode_utf8(
				(const unsigned char *)params[i].value,
				strlen(params[i].value), str, NULL);
			return str_c(str);
		}
	}
	return NULL;
}

static const char *part_filename(const struct message_part_data *data)
{
	const char *name;

	name = param_find(data->content_disposition_params,
			  data->content_disposition_params_count, "filename");
	if (name == NULL) {
		name = param_find(data->content_type_params,
				  data->content_type_params_count, "name");
	}
	if (name != NULL && *name == '\0')
		name = NULL;
	return name;
}

static const char *default_filename(const char *type, const char *subtype,
				    const char *number)
{
	/* a few common types get a useful extension */
	static const struct {
		const char *type, *ext;
	} exts[] = {
		{ "message/rfc822", "eml" },
		{ "text/calendar", "ics" },
		{ "text/vcard", "vcf" },
		{ "text/x-vcard", "vcf" },
		{ "text/plain", "txt" },
		{ "text/html", "html" },
		{ "image/jpeg", "jpg" },
		{ "image/png", "png" },
		{ "image/gif", "gif" },
		{ "application/pdf", "pdf" },
		{ "application/pkcs7-signature", "p7s" },
		{ "application/pkcs7-mime", "p7m" },
	};
	const char *full = t_strconcat(type, "/", subtype, NULL);
	const char *ext = "bin";
	unsigned int i;

	for (i = 0; i < N_ELEMENTS(exts); i++) {
		if (strcasecmp(exts[i].type, full) == 0) {
			ext = exts[i].ext;
			break;
		}
	}
	return t_strdup_printf("attachment-%s.%s", number, ext);
}

static const char *strip_angle_brackets(const char *id)
{
	size_t len = strlen(id);

	if (len >= 2 && id[0] == '<' && id[len-1] == '>')
		return t_strndup(id + 1, len - 2);
	return id;
}

static enum part_kind
body_part_classify(struct body_parse_ctx *ctx, struct message_part *part)
{
	const struct message_part_data *data = part->data;
	struct as_body_attachment *att;
	const char *type, *subtype, *disposition, *filename;
	bool is_attachment;

	if (part_inside_message(part))
		return PART_KIND_IGNORE;
	type = data == NULL || data->content_type == NULL ? "text" :
		data->content_type;
	subtype = data == NULL || data->content_subtype == NULL ? "plain" :
		data->content_subtype;
	disposition = data == NULL ? NULL : data->content_disposition;

	if ((part->flags & MESSAGE_PART_FLAG_MULTIPART) != 0) {
		if (strcasecmp(subtype, "signed") == 0)
			ctx->info->smime_signed = TRUE;
		else if (strcasecmp(subtype, "encrypted") == 0)
			ctx->info->smime_encrypted = TRUE;
		return PART_KIND_IGNORE;
	}
	if (strcasecmp(type, "application") == 0 &&
	    (strcasecmp(subtype, "pkcs7-mime") == 0 ||
	     strcasecmp(subtype, "x-pkcs7-mime") == 0))
		ctx->info->smime_encrypted = TRUE;

	filename = data == NULL ? NULL : part_filename(data);
	if ((part->flags & MESSAGE_PART_FLAG_MESSAGE_RFC822) != 0)
		is_attachment = TRUE;
	else if (disposition != NULL &&
		 strcasecmp(disposition, "attachment") == 0)
		is_attachment = TRUE;
	else if (filename != NULL)
		is_attachment = TRUE;
	else if (strcasecmp(type, "text") == 0 &&
		 strcasecmp(subtype, "plain") == 0) {
		if (ctx->info->plain != NULL)
			return PART_KIND_IGNORE;
		ctx->info->plain = str_new(ctx->pool, 1024);
		return PART_KIND_PLAIN;
	} else if (strcasecmp(type, "text") == 0 &&
		   strcasecmp(subtype, "html") == 0) {
		if (ctx->info->html != NULL)
			return PART_KIND_IGNORE;
		ctx->info->html = str_new(ctx->pool, 1024);
		return PART_KIND_HTML;
	} else {
		is_attachment = TRUE;
	}
	i_assert(is_attachment);
	if (!ctx->want_attachments)
		return PART_KIND_IGNORE;

	ctx->cur_att_idx = array_count(&ctx->info->attachments);
	att = array_append_space(&ctx->info->attachments);
	array_push_back(&ctx->att_parts, &part);
	att->part_number = p_strdup(ctx->pool, part_number(part));
	if (filename == NULL)
		filename = default_filename(type, subtype, att->part_number);
	att->display_name = p_strdup(ctx->pool, filename);
	att->content_type = p_strdup_printf(ctx->pool, "%s/%s",
					    t_str_lcase(type),
					    t_str_lcase(subtype));
	if (data != NULL && data->content_id != NULL) {
		att->content_id = p_strdup(ctx->pool,
			strip_angle_brackets(data->content_id));
	}
	if (data != NULL && data->content_location != NULL)
		att->content_location = p_strdup(ctx->pool,
						 data->content_location);
	/* Inline means "shown inside the body": an image with a Content-ID
	   in a multipart/related or marked inline. Parts the HTML refers to
	   by cid: are found after the parse (as_body_inline_refs). A part
	   with only "inline; filename=..." (no Content-ID) is a normal
	   attachment to the device: nothing in the body shows it. */
	att->is_inline = att->content_id != NULL &&
		(disposition == NULL ?
		 part_in_related(part) :
		 strcasecmp(disposition, "inline") == 0);
	return PART_KIND_ATTACHMENT;
}

/* Length of data without a trailing incomplete UTF-8 sequence */
static size_t utf8_complete_len(const unsigned char *data, size_t len)
{
	size_t start = len, need;

	/* find the lead byte of the last character (at most 4 back) */
	while (start > 0 && len - start < 4 && (data[start-1] & 0xc0) == 0x80)
		start--;
	if (start == 0)
		return len;
	start--;
	if (data[start] < 0x80)
		return len;
	need = (data[start] & 0xe0) == 0xc0 ? 2 :
		(data[start] & 0xf0) == 0xe0 ? 3 :
		(data[start] & 0xf8) == 0xf0 ? 4 : 1;
	return len - start < need ? start : len;
}

static void text_append(string_t *dest, size_t max_size, bool *full,
			const unsigned char *data, size_t size)
{
	size_t i, start = 0;
	bool cut = FALSE;

	if (*full || str_len(dest) >= max_size)
		return;
	if (size > max_size - str_len(dest)) {
		size = max_size - str_len(dest);
		cut = TRUE;
	}
	/* NULs can't travel in WBXML inline strings */
	for (i = 0; i < size; i++) {
		if (data[i] == '\0') {
			str_append_data(dest, data + start, i - start);
			start = i + 1;
		}
	}
	str_append_data(dest, data + start, size - start);
	if (cut) {
		/* the kept text must not end inside a character; nothing
		   more is appended after this */
		str_truncate(dest, utf8_complete_len(str_data(dest),
						     str_len(dest)));
		/* the rest is counted, not kept */
		*full = TRUE;
	}
}

static void body_parse_block(struct body_parse_ctx *ctx,
			     const struct message_block *decoded)
{
	struct as_body_attachment *att;

	switch (ctx->cur_kind) {
	case PART_KIND_IGNORE:
		break;
	case PART_KIND_PLAIN:
		ctx->info->plain_size += decoded->size;
		text_append(ctx->info->plain, ctx->max_text_size,
			    &ctx->plain_full, decoded->data, decoded->size);
		break;
	case PART_KIND_HTML:
		ctx->info->html_size += decoded->size;
		text_append(ctx->info->html, ctx->max_text_size,
			    &ctx->html_full, decoded->data, decoded->size);
		break;
	case PART_KIND_ATTACHMENT:
		att = array_idx_modifiable(&ctx->info->attachments,
					   ctx->cur_att_idx);
		att->size += decoded->size;
		break;
	}
}

static void body_text_make_valid(pool_t pool, string_t **text)
{
	string_t *valid;

	if (*text == NULL)
		return;
	valid = str_new(pool, str_len(*text) + 16);
	if (!uni_utf8_get_valid_data(str_data(*text), str_len(*text), valid))
		*text = valid;
}

int as_body_parse(pool_t pool, struct mail *mail, size_t max_text_size,
		  bool want_attachments, struct as_body_info *info_r,
		  const char **error_r)
{
	const struct message_parser_settings parser_set = {
		.hdr_flags = MESSAGE_HEADER_PARSER_FLAG_SKIP_INITIAL_LWSP |
			MESSAGE_HEADER_PARSER_FLAG_DROP_CR,
		.flags = 0,
	};
	struct message_part_data_limits limits = MESSAGE_PART_DATA_LIMITS_INIT;
	struct body_parse_ctx ctx;
	struct message_parser_ctx *parser;
	struct message_decoder_context *decoder;
	struct message_block block, decoded;
	struct message_part *parts, *const *att_parts;
	struct as_body_attachment *atts;
	struct istream *input;
	pool_t part_pool;
	unsigned int i, count;
	int ret;

	i_zero(info_r);
	p_array_init(&info_r->attachments, pool, 4);
	if (mail_get_stream(mail, NULL, NULL, &input) < 0) {
		*error_r = mailbox_get_last_internal_error(mail->box, NULL);
		return -1;
	}

	i_zero(&ctx);
	ctx.pool = pool;
	ctx.info = info_r;
	ctx.max_text_size = max_text_size;
	ctx.want_attachments = want_attachments;
	part_pool = pool_alloconly_create("activesync body parts", 4096);
	p_array_init(&ctx.att_parts, part_pool, 4);

	parser = message_parser_init(part_pool, input, &parser_set);
	decoder = message_decoder_init(NULL, MESSAGE_DECODER_FLAG_RETURN_BINARY);
	while ((ret = message_parser_parse_next_block(parser, &block)) > 0) {
		if (block.part != ctx.cur_part) {
			ctx.cur_part = block.part;
			ctx.cur_kind = PART_KIND_IGNORE;
		}
		if (block.hdr != NULL) {
			message_part_data_parse_from_header(part_pool,
				block.part, &limits, block.hdr);
		} else if (block.size == 0) {
			/* end of this part's header */
			message_part_data_parse_from_header(part_pool,
				block.part, &limits, NULL);
			/* no data stack frame here: the caller may pass a
			   data stack pool */
			ctx.cur_kind = body_part_classify(&ctx, block.part);
		}
		if (!message_decoder_decode_next_block(decoder, &block,
						       &decoded))
			continue;
		if (decoded.hdr == NULL && decoded.size > 0)
			body_parse_block(&ctx, &decoded);
	}
	message_decoder_deinit(&decoder);
	message_parser_deinit(&parser, &parts);

	if (input->stream_errno != 0) {
		*error_r = t_strdup_printf("read(%s) failed: %s",
					   i_stream_get_name(input),
					   i_stream_get_error(input));
		pool_unref(&part_pool);
		return -1;
	}
	/* attached messages are not decoded: use their raw size */
	atts = array_get_modifiable(&info_r->attachments, &count);
	att_parts = array_get(&ctx.att_parts, &i);
	i_assert(i == count);
	for (i = 0; i < count; i++) {
		const struct message_part *part = att_parts[i];

		if ((part->flags & MESSAGE_PART_FLAG_MESSAGE_RFC822) != 0 ||
		    atts[i].size == 0)
			atts[i].size = part->body_size.virtual_size;
		/* the HTML shows it: inline whatever the disposition says */
		if (atts[i].content_id != NULL && info_r->html != NULL &&
		    strstr(str_c(info_r->html),
			   t_strconcat("cid:", atts[i].content_id,
				       NULL)) != NULL)
			atts[i].is_inline = TRUE;
	}
	pool_unref(&part_pool);
	/* unknown charsets, broken encodings: what goes out is valid
	   UTF-8 (replacement characters), never dropped */
	body_text_make_valid(pool, &info_r->plain);
	body_text_make_valid(pool, &info_r->html);
	return 0;
}

enum as_body_type as_body_native_type(const struct as_body_info *info)
{
	return info->html != NULL ? AS_BODY_TYPE_HTML : AS_BODY_TYPE_PLAIN;
}

static const char *html_to_plain(const string_t *html)
{
	struct mail_html2text *ht;
	buffer_t *out = t_buffer_create(str_len(html) + 1);

	ht = mail_html2text_init(0);
	mail_html2text_more(ht, str_data(html), str_len(html), out);
	mail_html2text_deinit(&ht);
	return t_strndup(out->data, out->used);
}

static const char *plain_to_html(const string_t *plain)
{
	const unsigned char *p = str_data(plain);
	size_t i, len = str_len(plain);
	string_t *out = t_str_new(len + len/8 + 64);

	str_append(out, "<html><head><meta http-equiv=\"Content-Type\" "
		   "content=\"text/html; charset=utf-8\"></head><body>");
	for (i = 0; i < len; i++) {
		switch (p[i]) {
		case '<': str_append(out, "&lt;"); break;
		case '>': str_append(out, "&gt;"); break;
		case '&': str_append(out, "&amp;"); break;
		case '"': str_append(out, "&quot;"); break;
		case '\r': break;
		case '\n': str_append(out, "<br>\n"); break;
		default: str_append_c(out, p[i]); break;
		}
	}
	str_append(out, "</body></html>");
	return str_c(out);
}

/* Scale a converted text's size by how much of the source we had. */
static uoff_t estimate_size(size_t converted, size_t have, uoff_t full)
{
	if (have == 0 || have >= full)
		return converted;
	return (uoff_t)((double)converted * full / have);
}

const char *as_body_text(const struct as_body_info *info,
			 enum as_body_type type, uoff_t *full_size_r)
{
	const char *text;

	if (type == AS_BODY_TYPE_HTML) {
		if (info->html != NULL) {
			*full_size_r = info->html_size;
			return str_c(info->html);
		}
		if (info->plain == NULL) {
			*full_size_r = 0;
			return "";
		}
		text = plain_to_html(info->plain);
		*full_size_r = estimate_size(strlen(text),
					     str_len(info->plain),
					     info->plain_size);
		return text;
	}
	if (info->plain != NULL) {
		*full_size_r = info->plain_size;
		return str_c(info->plain);
	}
	if (info->html == NULL) {
		*full_size_r = 0;
		return "";
	}
	text = html_to_plain(info->html);
	*full_size_r = estimate_size(strlen(text), str_len(info->html),
				     info->html_size);
	return text;
}

size_t as_body_utf8_truncate(const char *str, size_t len, size_t max_size)
{
	const unsigned char *p = (const unsigned char *)str;

	if (len <= max_size)
		return len;
	len = max_size;
	/* back off to the start of a character */
	while (len > 0 && (p[len] & 0xc0) == 0x80)
		len--;
	return len;
}
