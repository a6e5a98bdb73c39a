/* Copyright (c) dovecot-activesync authors, see the included COPYING file */

/* A message's MIME structure, attachment list (with IMAP part numbers)
   and text bodies decoded to UTF-8.

   The structure comes from what Dovecot caches: the message part tree
   (positions and sizes) and BODYSTRUCTURE (types, parameters,
   dispositions), so nothing of the body is read for it. Only the text
   parts that are wanted are read and decoded, at their offsets;
   attachments are never decoded (their size follows from the encoded
   length). If BODYSTRUCTURE can't be used, the part headers are parsed
   at their offsets instead. */

#include "lib.h"
#include "str.h"
#include "array.h"
#include "istream.h"
#include "unichar.h"
#include "base64.h"
#include "qp-decoder.h"
#include "charset-utf8.h"
#include "message-parser.h"
#include "message-header-parser.h"
#include "message-part-data.h"
#include "message-decoder.h"
#include "message-header-decode.h"
#include "mail-html2text.h"
#include "imap-parser.h"
#include "imap-bodystructure.h"
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

/* RFC 2231 extended value: charset'language'percent-encoded. Dovecot's
   rfc2231_parse() (which filled the part's params) joins continuations
   but leaves this form encoded, and message_part_data_get_filename()
   looks only at "filename" of an "attachment" disposition: inline images
   and Content-Type "name" would lose their names, so both stay here. */
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

enum part_cte {
	PART_CTE_IDENTITY = 0,
	PART_CTE_QP,
	PART_CTE_BASE64,
};

static enum part_cte part_cte(const struct message_part *part)
{
	const char *cte = part->data == NULL ? NULL :
		part->data->content_transfer_encoding;

	if (cte == NULL)
		return PART_CTE_IDENTITY;
	if (strcasecmp(cte, "base64") == 0)
		return PART_CTE_BASE64;
	if (strcasecmp(cte, "quoted-printable") == 0)
		return PART_CTE_QP;
	return PART_CTE_IDENTITY;
}

/* Decoded size from the sizes alone: base64 assumed in lines of 76
   characters. as_body_attachment_sizes() makes it exact. */
static uoff_t attachment_size_rough(const struct message_part *part)
{
	uoff_t vsize = part->body_size.virtual_size, chars;

	if ((part->flags & MESSAGE_PART_FLAG_MESSAGE_RFC822) != 0)
		return vsize;
	switch (part_cte(part)) {
	case PART_CTE_BASE64:
		chars = vsize - 2 * (vsize / 78);
		return chars / 4 * 3;
	case PART_CTE_QP:
	case PART_CTE_IDENTITY:
		break;
	}
	return vsize;
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
		if (ctx->info->has_plain)
			return PART_KIND_IGNORE;
		ctx->info->has_plain = TRUE;
		return PART_KIND_PLAIN;
	} else if (strcasecmp(type, "text") == 0 &&
		   strcasecmp(subtype, "html") == 0) {
		if (ctx->info->has_html)
			return PART_KIND_IGNORE;
		ctx->info->has_html = TRUE;
		return PART_KIND_HTML;
	} else {
		is_attachment = TRUE;
	}
	i_assert(is_attachment);
	if (!ctx->want_attachments)
		return PART_KIND_IGNORE;

	ctx->cur_att_idx = array_count(&ctx->info->attachments);
	att = array_append_space(&ctx->info->attachments);
	if (array_is_created(&ctx->att_parts))
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
	att->part = part;
	att->size = attachment_size_rough(part);
	return PART_KIND_ATTACHMENT;
}

/* Length of data without a trailing incomplete UTF-8 sequence.
   uni_utf8_data_truncate() needs the byte after the cut, which a block
   that ends inside a character doesn't have. */
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
	const unsigned char *nul;
	size_t start = 0;
	bool cut = FALSE;

	if (*full || str_len(dest) >= max_size)
		return;
	if (size > max_size - str_len(dest)) {
		size = max_size - str_len(dest);
		cut = TRUE;
	}
	/* NULs can't travel in WBXML inline strings */
	while ((nul = memchr(data + start, '\0', size - start)) != NULL) {
		str_append_data(dest, data + start, nul - (data + start));
		start = nul - data + 1;
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
	if (as_body_utf8_is_valid(str_data(*text), str_len(*text)))
		return;
	valid = str_new(pool, str_len(*text) + 16);
	if (!uni_utf8_get_valid_data(str_data(*text), str_len(*text), valid))
		*text = valid;
}

static void body_parse_part_start(struct body_parse_ctx *ctx)
{
	struct as_body_attachment *att;

	switch (ctx->cur_kind) {
	case PART_KIND_IGNORE:
		break;
	case PART_KIND_PLAIN:
		ctx->info->plain = str_new(ctx->pool, 1024);
		break;
	case PART_KIND_HTML:
		ctx->info->html = str_new(ctx->pool, 1024);
		break;
	case PART_KIND_ATTACHMENT:
		/* counted while decoding */
		att = array_idx_modifiable(&ctx->info->attachments,
					   ctx->cur_att_idx);
		att->size = 0;
		break;
	}
}

static void info_init(pool_t pool, struct as_body_info *info_r)
{
	i_zero(info_r);
	p_array_init(&info_r->attachments, pool, 4);
}

/* The whole message through message-parser and message-decoder: used
   when the cached structure can't be. */
static int
body_parse_stream(pool_t pool, struct mail *mail, size_t max_text_size,
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

	info_init(pool, info_r);
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
			body_parse_part_start(&ctx);
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
		/* the parts go with part_pool */
		atts[i].part = NULL;
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

/* ---- structure from the cached part tree and BODYSTRUCTURE ---- */

/* A copy of Dovecot's part tree (positions, sizes, flags) that our MIME
   data can be attached to without touching the mail's own tree. */
static struct message_part *
parts_copy(pool_t pool, const struct message_part *src,
	   struct message_part *parent)
{
	struct message_part *first = NULL, **dest = &first, *part;

	for (; src != NULL; src = src->next) {
		part = p_new(pool, struct message_part, 1);
		*part = *src;
		part->parent = parent;
		part->next = NULL;
		part->data = NULL;
		part->context = NULL;
		part->children = parts_copy(pool, src->children, part);
		*dest = part;
		dest = &part->next;
	}
	return first;
}

/* Without a usable BODYSTRUCTURE: each part's header, parsed at its
   offset. Parts inside attached messages are never looked at. */
static int
parts_data_from_headers(pool_t pool, struct istream *input,
			struct message_part *part)
{
	struct message_part_data_limits limits = MESSAGE_PART_DATA_LIMITS_INIT;
	struct message_header_parser_ctx *parser;
	struct message_header_line *hdr;
	struct istream *hdr_input;
	int ret;

	for (; part != NULL; part = part->next) {
		i_stream_seek(input, part->physical_pos);
		hdr_input = i_stream_create_limit(input,
			part->header_size.physical_size);
		parser = message_parse_header_init(hdr_input, NULL,
			MESSAGE_HEADER_PARSER_FLAG_SKIP_INITIAL_LWSP |
			MESSAGE_HEADER_PARSER_FLAG_DROP_CR);
		while ((ret = message_parse_header_next(parser, &hdr)) > 0)
			message_part_data_parse_from_header(pool, part,
							    &limits, hdr);
		message_parse_header_deinit(&parser);
		if (hdr_input->stream_errno != 0)
			ret = -1;
		i_stream_unref(&hdr_input);
		if (ret < 0)
			return -1;
		message_part_data_parse_from_header(pool, part, &limits, NULL);
		if ((part->flags & MESSAGE_PART_FLAG_MESSAGE_RFC822) == 0 &&
		    parts_data_from_headers(pool, input, part->children) < 0)
			return -1;
	}
	return 0;
}

/* imap_bodystructure_parse_full() into a new tree, without its data
   stack frame: the pool may be a data stack pool. */
static int
bodystructure_parse(const char *bodystructure, pool_t pool,
		    struct message_part **parts_r, const char **error_r)
{
	struct istream *input;
	struct imap_parser *parser;
	const struct imap_arg *args;
	int ret;

	input = i_stream_create_from_data(bodystructure, strlen(bodystructure));
	(void)i_stream_read(input);
	parser = imap_parser_create(input, NULL, SIZE_MAX, NULL);
	ret = imap_parser_finish_line(parser, 0, IMAP_PARSE_FLAG_LITERAL_TYPE,
				      &args);
	if (ret <= 0) {
		*error_r = "BODYSTRUCTURE is not valid IMAP";
		ret = -1;
	} else {
		*parts_r = NULL;
		ret = imap_bodystructure_parse_args(args, pool, parts_r,
						    error_r);
	}
	imap_parser_unref(&parser);
	i_stream_destroy(&input);
	return ret;
}

/* Classify the parts in the order a streaming parse meets them. */
static void structure_walk(struct body_parse_ctx *ctx,
			   struct message_part *part)
{
	for (; part != NULL; part = part->next) {
		switch (body_part_classify(ctx, part)) {
		case PART_KIND_PLAIN:
			ctx->info->plain_part = part;
			break;
		case PART_KIND_HTML:
			ctx->info->html_part = part;
			break;
		case PART_KIND_IGNORE:
		case PART_KIND_ATTACHMENT:
			break;
		}
		if ((part->flags & MESSAGE_PART_FLAG_MESSAGE_RFC822) == 0)
			structure_walk(ctx, part->children);
	}
}

int as_body_structure(pool_t pool, struct mail *mail, bool want_attachments,
		      struct as_body_info *info_r, const char **error_r)
{
	struct body_parse_ctx ctx;
	struct message_part *parts;
	struct istream *input;
	const char *bodystructure, *error;

	info_init(pool, info_r);
	if (mail_get_special(mail, MAIL_FETCH_IMAP_BODYSTRUCTURE,
			     &bodystructure) < 0) {
		*error_r = mailbox_get_last_internal_error(mail->box, NULL);
		return -1;
	}
	if (bodystructure_parse(bodystructure, pool, &info_r->parts,
				&error) < 0) {
		/* not expected: Dovecot made it. Parse the part headers. */
		if (mail_get_parts(mail, &parts) < 0 ||
		    mail_get_stream(mail, NULL, NULL, &input) < 0) {
			*error_r = mailbox_get_last_internal_error(mail->box,
								   NULL);
			return -1;
		}
		info_r->parts = parts_copy(pool, parts, NULL);
		info_r->have_positions = TRUE;
		if (parts_data_from_headers(pool, input, info_r->parts) < 0) {
			*error_r = t_strdup_printf("read(%s) failed: %s",
				i_stream_get_name(input),
				i_stream_get_error(input));
			return -1;
		}
	}

	i_zero(&ctx);
	ctx.pool = pool;
	ctx.info = info_r;
	ctx.want_attachments = want_attachments;
	structure_walk(&ctx, info_r->parts);
	return 0;
}

/* Positions and physical sizes from the mail's part tree, which has the
   same shape. FALSE if it doesn't. */
static bool
positions_copy(struct message_part *dest, const struct message_part *src)
{
	const enum message_part_flags shape =
		MESSAGE_PART_FLAG_MULTIPART | MESSAGE_PART_FLAG_MESSAGE_RFC822;

	for (; dest != NULL && src != NULL;
	     dest = dest->next, src = src->next) {
		if ((dest->flags & shape) != (src->flags & shape))
			return FALSE;
		if ((dest->flags & MESSAGE_PART_FLAG_MULTIPART) == 0 &&
		    dest->body_size.virtual_size !=
		    src->body_size.virtual_size)
			return FALSE;
		dest->physical_pos = src->physical_pos;
		dest->header_size = src->header_size;
		dest->body_size = src->body_size;
		if (!positions_copy(dest->children, src->children))
			return FALSE;
	}
	return dest == NULL && src == NULL;
}

/* Where the parts are in the message: Dovecot's part tree (cached, or
   one parse without decoding). */
static int body_positions(struct mail *mail, struct as_body_info *info,
			  bool only_cached, const char **error_r)
{
	enum mail_lookup_abort old_abort = mail->lookup_abort;
	struct message_part *parts;
	enum mail_error error;
	int ret;

	if (info->have_positions)
		return 1;
	if (only_cached) {
		/* and have it cached from the next parse on */
		mail->lookup_abort =
			MAIL_LOOKUP_ABORT_NOT_IN_CACHE_START_CACHING;
	}
	ret = mail_get_parts(mail, &parts);
	mail->lookup_abort = old_abort;
	if (ret < 0) {
		*error_r = mailbox_get_last_internal_error(mail->box, &error);
		return only_cached && error == MAIL_ERROR_LOOKUP_ABORTED ?
			0 : -1;
	}
	if (!positions_copy(info->parts, parts)) {
		*error_r = "BODYSTRUCTURE doesn't match the message parts";
		return -1;
	}
	info->have_positions = TRUE;
	return 1;
}

/* ---- reading parts at their offsets ---- */

struct part_decoder {
	enum part_cte cte;
	struct qp_decoder *qp;
	struct base64_decoder b64;
	buffer_t *buf;
	bool broken;
};

static void part_decoder_init(struct part_decoder *dec,
			      const struct message_part *part)
{
	i_zero(dec);
	dec->cte = part_cte(part);
	dec->buf = t_buffer_create(8192);
	switch (dec->cte) {
	case PART_CTE_IDENTITY:
		break;
	case PART_CTE_QP:
		dec->qp = qp_decoder_init(dec->buf);
		break;
	case PART_CTE_BASE64:
		base64_decode_init(&dec->b64, &base64_scheme, 0);
		break;
	}
}

static void part_decoder_deinit(struct part_decoder *dec)
{
	const char *error;

	if (dec->qp != NULL) {
		(void)qp_decoder_finish(dec->qp, &error);
		qp_decoder_deinit(&dec->qp);
	}
}

/* Decode one block of the encoded body; the result is valid until the
   next call. A broken base64 body is cut where it breaks, like
   message-decoder does. */
static void
part_decoder_more(struct part_decoder *dec, const unsigned char *data,
		  size_t size, const unsigned char **out_r, size_t *out_size_r)
{
	const char *error;
	size_t pos;

	switch (dec->cte) {
	case PART_CTE_IDENTITY:
		*out_r = data;
		*out_size_r = size;
		return;
	case PART_CTE_QP:
		buffer_set_used_size(dec->buf, 0);
		(void)qp_decoder_more(dec->qp, data, size, &pos, &error);
		break;
	case PART_CTE_BASE64:
		buffer_set_used_size(dec->buf, 0);
		if (!dec->broken &&
		    base64_decode_more(&dec->b64, data, size, &pos,
				       dec->buf) <= 0) {
			dec->broken = TRUE;
			(void)base64_decode_finish(&dec->b64);
		}
		break;
	}
	*out_r = dec->buf->data;
	*out_size_r = dec->buf->used;
}

/* The text of one part, decoded and converted to UTF-8 */
struct text_sink {
	string_t *dest;
	size_t max_size;
	bool full;
	uoff_t size;
	/* NULL = UTF-8 (checked once at the end) */
	struct charset_translation *trans;
	buffer_t *conv;
	unsigned char pending[CHARSET_MAX_PENDING_BUF_SIZE];
	size_t pending_size;
};

static void text_sink_put(struct text_sink *sink, const unsigned char *data,
			  size_t size)
{
	sink->size += size;
	text_append(sink->dest, sink->max_size, &sink->full, data, size);
}

static void text_sink_more(struct text_sink *sink, const unsigned char *data,
			   size_t size)
{
	buffer_t *src;
	size_t pos;

	if (size == 0)
		return;
	if (sink->trans == NULL) {
		text_sink_put(sink, data, size);
		return;
	}
	if (sink->pending_size > 0) {
		src = t_buffer_create(sink->pending_size + size);
		buffer_append(src, sink->pending, sink->pending_size);
		buffer_append(src, data, size);
		data = src->data;
		size = src->used;
		sink->pending_size = 0;
	}
	buffer_set_used_size(sink->conv, 0);
	pos = size;
	(void)charset_to_utf8(sink->trans, data, &pos, sink->conv);
	if (pos < size) {
		/* an incomplete character at the end */
		sink->pending_size = I_MIN(size - pos, sizeof(sink->pending));
		memcpy(sink->pending, data + pos, sink->pending_size);
	}
	text_sink_put(sink, sink->conv->data, sink->conv->used);
}

static bool charset_is_passthrough(const char *charset)
{
	/* missing and unknown charsets are taken as UTF-8 (and made valid
	   at the end), as message-decoder does; so is US-ASCII: the same
	   bytes when it really is */
	return charset == NULL || charset_is_utf8(charset) ||
		strcasecmp(charset, "us-ascii") == 0;
}

static const char *part_charset(const struct message_part *part)
{
	const struct message_part_data *data = part->data;
	unsigned int i;

	for (i = 0; i < data->content_type_params_count; i++) {
		if (strcasecmp(data->content_type_params[i].name,
			       "charset") == 0)
			return data->content_type_params[i].value;
	}
	return NULL;
}

/* Read a part's body from the message stream, decode it and give the
   decoded data to callback. */
static int
part_body_read(struct istream *input, const struct message_part *part,
	       void (*callback)(const unsigned char *data, size_t size,
				void *context),
	       void *context, const char **error_r)
{
	struct part_decoder dec;
	const unsigned char *data, *out;
	size_t size, out_size;
	uoff_t left = part->body_size.physical_size;
	int ret = 0;

	part_decoder_init(&dec, part);
	i_stream_seek(input, part->physical_pos +
		      part->header_size.physical_size);
	while (left > 0 &&
	       (ret = i_stream_read_more(input, &data, &size)) > 0) {
		if (size > left)
			size = left;
		part_decoder_more(&dec, data, size, &out, &out_size);
		if (out_size > 0)
			callback(out, out_size, context);
		i_stream_skip(input, size);
		left -= size;
	}
	part_decoder_deinit(&dec);
	if (input->stream_errno != 0) {
		*error_r = t_strdup_printf("read(%s) failed: %s",
					   i_stream_get_name(input),
					   i_stream_get_error(input));
		return -1;
	}
	if (left > 0) {
		*error_r = t_strdup_printf("read(%s) failed: "
			"message shorter than its cached structure",
			i_stream_get_name(input));
		return -1;
	}
	return 0;
}

static void text_sink_callback(const unsigned char *data, size_t size,
			       void *context)
{
	text_sink_more(context, data, size);
}

static void text_sink_init(struct text_sink *sink, pool_t pool,
			   const struct message_part *part,
			   size_t max_text_size)
{
	const char *charset = part_charset(part);
	uoff_t size = part->body_size.physical_size > 0 ?
		part->body_size.physical_size : part->body_size.virtual_size;

	i_zero(sink);
	sink->max_size = max_text_size;
	/* the whole text when it's small: no reallocations */
	sink->dest = str_new(pool, I_MIN(size, max_text_size) + 1);
	if (!charset_is_passthrough(charset) &&
	    charset_to_utf8_begin(charset, NULL, &sink->trans) == 0)
		sink->conv = t_buffer_create(8192);
}

static void text_sink_finish(struct text_sink *sink, string_t **text_r,
			     uoff_t *size_r)
{
	if (sink->trans != NULL) {
		if (sink->pending_size > 0) {
			/* a character cut at the end of the part */
			text_sink_put(sink, (const unsigned char *)
				      UNICODE_REPLACEMENT_CHAR_UTF8,
				      strlen(UNICODE_REPLACEMENT_CHAR_UTF8));
		}
		charset_to_utf8_end(&sink->trans);
	}
	*text_r = sink->dest;
	*size_r = sink->size;
}

static int
text_part_read(pool_t pool, struct istream *input,
	       const struct message_part *part, size_t max_text_size,
	       string_t **text_r, uoff_t *size_r, const char **error_r)
{
	struct text_sink sink;
	int ret;

	text_sink_init(&sink, pool, part, max_text_size);
	ret = part_body_read(input, part, text_sink_callback, &sink, error_r);
	text_sink_finish(&sink, text_r, size_r);
	return ret;
}

/* Preorder index of part in the tree (as a parser meets the parts) */
static bool part_preorder_idx(const struct message_part *tree,
			      const struct message_part *part,
			      unsigned int *idx)
{
	for (; tree != NULL; tree = tree->next) {
		if (tree == part)
			return TRUE;
		(*idx)++;
		if (part_preorder_idx(tree->children, part, idx))
			return TRUE;
	}
	return FALSE;
}

struct stream_text {
	const struct message_part *part;
	unsigned int idx;
	struct text_sink sink;
	struct part_decoder dec;
	string_t **text_r;
	uoff_t *size_r;
};

/* Without the part positions cached: one pass of message-parser from
   the start, decoding the text parts' blocks as they come, and stopping
   after the last of them (attachments usually follow the text). */
static int body_texts_stream(pool_t pool, struct mail *mail,
			     size_t max_text_size, struct as_body_info *info,
			     const char **error_r)
{
	const struct message_parser_settings parser_set = {
		.hdr_flags = MESSAGE_HEADER_PARSER_FLAG_SKIP_INITIAL_LWSP |
			MESSAGE_HEADER_PARSER_FLAG_DROP_CR,
	};
	struct stream_text texts[2], *cur = NULL;
	struct message_parser_ctx *parser;
	struct message_block block;
	struct message_part *parts, *cur_part = NULL;
	struct istream *input;
	const unsigned char *out;
	size_t out_size;
	const enum message_part_flags shape =
		MESSAGE_PART_FLAG_MULTIPART | MESSAGE_PART_FLAG_MESSAGE_RFC822;
	unsigned int i, count = 0, idx = 0, last_idx = 0, seen = 0;
	bool mismatch = FALSE;
	pool_t part_pool;
	int ret;

	if (mail_get_stream(mail, NULL, NULL, &input) < 0) {
		*error_r = mailbox_get_last_internal_error(mail->box, NULL);
		return -1;
	}
	i_zero(&texts);
	if (info->plain_part != NULL) {
		texts[count].part = info->plain_part;
		texts[count].text_r = &info->plain;
		texts[count++].size_r = &info->plain_size;
	}
	if (info->html_part != NULL) {
		texts[count].part = info->html_part;
		texts[count].text_r = &info->html;
		texts[count++].size_r = &info->html_size;
	}
	for (i = 0; i < count; i++) {
		idx = 0;
		if (!part_preorder_idx(info->parts, texts[i].part, &idx))
			i_unreached();
		texts[i].idx = idx;
		last_idx = I_MAX(last_idx, idx);
		text_sink_init(&texts[i].sink, pool, texts[i].part,
			       max_text_size);
		part_decoder_init(&texts[i].dec, texts[i].part);
	}

	part_pool = pool_alloconly_create("activesync text parts", 1024);
	parser = message_parser_init(part_pool, input, &parser_set);
	while ((ret = message_parser_parse_next_block(parser, &block)) > 0) {
		if (block.part != cur_part) {
			cur_part = block.part;
			cur = NULL;
			if (cur_part->context == NULL) {
				/* a new part (not a multipart's epilogue) */
				cur_part->context = POINTER_CAST(1);
				if (seen > last_idx)
					break;
				for (i = 0; i < count; i++) {
					if (texts[i].idx == seen)
						cur = &texts[i];
				}
				seen++;
				if (cur != NULL &&
				    (cur_part->flags & shape) !=
				    (cur->part->flags & shape)) {
					mismatch = TRUE;
					break;
				}
			}
		}
		if (cur == NULL || block.hdr != NULL || block.size == 0)
			continue;
		part_decoder_more(&cur->dec, block.data, block.size,
				  &out, &out_size);
		text_sink_more(&cur->sink, out, out_size);
	}
	(void)message_parser_deinit(&parser, &parts);
	pool_unref(&part_pool);
	for (i = 0; i < count; i++) {
		part_decoder_deinit(&texts[i].dec);
		text_sink_finish(&texts[i].sink, texts[i].text_r,
				 texts[i].size_r);
	}
	if (input->stream_errno != 0) {
		*error_r = t_strdup_printf("read(%s) failed: %s",
					   i_stream_get_name(input),
					   i_stream_get_error(input));
		return -1;
	}
	if (mismatch) {
		*error_r = "BODYSTRUCTURE doesn't match the message parts";
		return -1;
	}
	return 0;
}

int as_body_texts(pool_t pool, struct mail *mail, size_t max_text_size,
		  struct as_body_info *info, const char **error_r)
{
	struct as_body_attachment *att;
	struct istream *input;

	int ret;

	if (info->plain_part == NULL && info->html_part == NULL)
		return 0;
	if ((ret = body_positions(mail, info, TRUE, error_r)) < 0)
		return -1;
	if (ret == 0) {
		if (body_texts_stream(pool, mail, max_text_size, info,
				      error_r) < 0)
			return -1;
	} else if (mail_get_stream(mail, NULL, NULL, &input) < 0) {
		*error_r = mailbox_get_last_internal_error(mail->box, NULL);
		return -1;
	}
	if (ret > 0 && info->plain_part != NULL &&
	    text_part_read(pool, input, info->plain_part, max_text_size,
			   &info->plain, &info->plain_size, error_r) < 0)
		return -1;
	if (ret > 0 && info->html_part != NULL &&
	    text_part_read(pool, input, info->html_part, max_text_size,
			   &info->html, &info->html_size, error_r) < 0)
		return -1;
	/* unknown charsets, broken encodings: what goes out is valid
	   UTF-8 (replacement characters), never dropped */
	body_text_make_valid(pool, &info->plain);
	body_text_make_valid(pool, &info->html);

	/* the HTML shows it: inline whatever the disposition says */
	if (info->html == NULL)
		return 0;
	array_foreach_modifiable(&info->attachments, att) {
		if (att->content_id != NULL &&
		    strstr(str_c(info->html),
			   t_strconcat("cid:", att->content_id,
				       NULL)) != NULL)
			att->is_inline = TRUE;
	}
	return 0;
}

/* ---- attachment sizes ---- */

static bool is_base64_space(unsigned char c)
{
	return c == '\r' || c == '\n' || c == ' ' || c == '\t';
}

/* The decoded size of a base64 body from its length, the length of its
   first line and its last characters (padding): exact for the usual
   layout (lines of one length, the last one shorter). FALSE if the layout
   isn't that. */
static bool
base64_size_from_layout(struct istream *input,
			const struct message_part *part, uoff_t *size_r)
{
	uoff_t start = part->physical_pos + part->header_size.physical_size;
	uoff_t len = part->body_size.physical_size, line, full, rem, chars;
	const unsigned char *data, *nl;
	size_t size, i, tail, pad = 0, eol;

	if (len == 0) {
		*size_r = 0;
		return TRUE;
	}
	/* the end: trailing line breaks and padding */
	tail = I_MIN(len, 16);
	i_stream_seek(input, start + len - tail);
	if (i_stream_read_bytes(input, &data, &size, tail) <= 0 ||
	    size < tail)
		return FALSE;
	for (i = tail; i > 0 && is_base64_space(data[i-1]); i--)
		len--;
	if (i == 0)
		return FALSE;
	for (; i > 0 && data[i-1] == '=' && pad < 2; i--)
		pad++;

	/* the first line */
	i_stream_seek(input, start);
	if (i_stream_read_bytes(input, &data, &size, I_MIN(len, 1024)) <= 0)
		return FALSE;
	size = I_MIN(size, len);
	nl = memchr(data, '\n', size);
	if (nl == NULL) {
		if (size < len)
			return FALSE; /* a line over 1 KB: not the layout */
		chars = len;
	} else {
		eol = nl > data && nl[-1] == '\r' ? 2 : 1;
		line = (nl - data) + 1 - eol;
		if (line == 0)
			return FALSE;
		full = len / (line + eol);
		rem = len - full * (line + eol);
		chars = full * line + I_MIN(rem, line);
	}
	if (chars / 4 * 3 < pad)
		return FALSE;
	*size_r = chars / 4 * 3 - pad;
	return TRUE;
}

static void size_callback(const unsigned char *data ATTR_UNUSED,
			  size_t size, void *context)
{
	uoff_t *total = context;

	*total += size;
}

int as_body_attachment_sizes(struct mail *mail, struct as_body_info *info,
			     const char **error_r)
{
	struct as_body_attachment *att;
	struct istream *input = NULL;
	uoff_t size;

	if (array_count(&info->attachments) == 0 || info->parts == NULL)
		return 0;
	array_foreach_modifiable(&info->attachments, att) {
		if (att->part == NULL ||
		    (att->part->flags & MESSAGE_PART_FLAG_MESSAGE_RFC822) != 0)
			continue;
		switch (part_cte(att->part)) {
		case PART_CTE_IDENTITY:
			/* as IMAP BINARY gives it: CRLF line ends */
			att->size = att->part->body_size.virtual_size;
			continue;
		case PART_CTE_BASE64:
		case PART_CTE_QP:
			break;
		}
		if (input == NULL) {
			if (body_positions(mail, info, FALSE, error_r) < 0)
				return -1;
			if (mail_get_stream(mail, NULL, NULL, &input) < 0) {
				*error_r = mailbox_get_last_internal_error(
					mail->box, NULL);
				return -1;
			}
		}
		if (part_cte(att->part) == PART_CTE_BASE64 &&
		    base64_size_from_layout(input, att->part, &size)) {
			att->size = size;
			continue;
		}
		/* quoted-printable, or base64 laid out unusually: decode
		   and count */
		size = 0;
		if (part_body_read(input, att->part, size_callback, &size,
				   error_r) < 0)
			return -1;
		att->size = size > 0 ? size :
			att->part->body_size.virtual_size;
	}
	return 0;
}

int as_body_parse(pool_t pool, struct mail *mail, size_t max_text_size,
		  bool want_attachments, struct as_body_info *info_r,
		  const char **error_r)
{
	if (as_body_structure(pool, mail, want_attachments, info_r,
			      error_r) < 0)
		return -1;
	if ((want_attachments &&
	     as_body_attachment_sizes(mail, info_r, error_r) < 0) ||
	    as_body_texts(pool, mail, max_text_size, info_r, error_r) < 0) {
		/* a structure that doesn't match the message: read it */
		if (mail->expunged)
			return -1;
		return body_parse_stream(pool, mail, max_text_size,
					 want_attachments, info_r, error_r);
	}
	return 0;
}

/* ---- UTF-8 ---- */

/* Not uni_utf8_data_is_valid(): every text body of a Sync passes here,
   and checking ASCII a word at a time measured 2.4 GB/s on mail-like
   text and 6.3 GB/s on ASCII against Dovecot's 0.8 GB/s
   (bench/utf8.sh, bench/RESULTS.md). */
bool as_body_utf8_is_valid(const unsigned char *data, size_t size)
{
	const uint64_t high = 0x8080808080808080ULL;
	size_t i = 0, n;
	uint64_t word;
	unsigned char c;

	while (i < size) {
		/* ASCII a word at a time */
		while (i + 8 <= size) {
			memcpy(&word, data + i, 8);
			if ((word & high) != 0)
				break;
			i += 8;
		}
		if (i >= size)
			break;
		c = data[i];
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			n = 2;
		else if (c >= 0xe0 && c <= 0xef)
			n = 3;
		else if (c >= 0xf0 && c <= 0xf4)
			n = 4;
		else
			return FALSE;
		if (size - i < n)
			return FALSE;
		if ((data[i+1] & 0xc0) != 0x80)
			return FALSE;
		/* overlong forms, surrogates, beyond U+10FFFF */
		if ((c == 0xe0 && data[i+1] < 0xa0) ||
		    (c == 0xed && data[i+1] > 0x9f) ||
		    (c == 0xf0 && data[i+1] < 0x90) ||
		    (c == 0xf4 && data[i+1] > 0x8f))
			return FALSE;
		if (n > 2 && (data[i+2] & 0xc0) != 0x80)
			return FALSE;
		if (n > 3 && (data[i+3] & 0xc0) != 0x80)
			return FALSE;
		i += n;
	}
	return TRUE;
}

enum as_body_type as_body_native_type(const struct as_body_info *info)
{
	return info->has_html ? AS_BODY_TYPE_HTML : AS_BODY_TYPE_PLAIN;
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

const char *as_body_html_to_plain(const char *html)
{
	string_t *str = t_str_new(strlen(html) + 1);

	str_append(str, html);
	return html_to_plain(str);
}

static const char *plain_to_html(string_t *plain)
{
	/* the text has no NULs (text_append drops them) */
	const char *p = str_c(plain);
	size_t len = str_len(plain), run;
	string_t *out = t_str_new(len + len/8 + 128);

	str_append(out, "<html><head><meta http-equiv=\"Content-Type\" "
		   "content=\"text/html; charset=utf-8\"></head><body>");
	for (;;) {
		/* runs of ordinary text at once */
		run = strcspn(p, "<>&\"\r\n");
		str_append_data(out, p, run);
		p += run;
		if (*p == '\0')
			break;
		switch (*p) {
		case '<': str_append(out, "&lt;"); break;
		case '>': str_append(out, "&gt;"); break;
		case '&': str_append(out, "&amp;"); break;
		case '"': str_append(out, "&quot;"); break;
		case '\r': break;
		case '\n': str_append(out, "<br>\n"); break;
		}
		p++;
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

/* Not uni_utf8_data_truncate(): Dovecot 2.3's drops the character
   before the cut as well when the cut falls between two multibyte
   characters ("Grüße" cut after "ü" loses the "ü"; 10 of 4096 cut points
   of mail-like text in bench/utf8.sh) */
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
