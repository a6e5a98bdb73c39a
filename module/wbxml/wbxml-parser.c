/* Streaming WBXML 1.3 push parser restricted to what EAS uses.

   Input arrives in chunks of any size; the parser is a byte-driven state
   machine that keeps only the open-element stack and the string/opaque item
   being read, so it never recurses on input depth and never looks past the
   bytes it was given. Everything EAS does not use (attributes, LITERAL,
   extensions, processing instructions, string table references) is
   rejected. */

#include "lib.h"
#include "array.h"
#include "buffer.h"
#include "unichar.h"
#include "wbxml.h"

#define WBXML_DEFAULT_MAX_DEPTH 32
#define WBXML_DEFAULT_MAX_ELEMENTS 100000
#define WBXML_DEFAULT_MAX_STRING_SIZE (16*1024*1024)

#define WBXML_VERSION_1_3 0x03
#define WBXML_PUBLIC_ID_UNKNOWN 0x01
#define WBXML_CHARSET_UTF8 106

/* global tokens (WAP-192-WBXML section 7.1) */
#define WBXML_SWITCH_PAGE 0x00
#define WBXML_END 0x01
#define WBXML_ENTITY 0x02
#define WBXML_STR_I 0x03
#define WBXML_LITERAL 0x04
#define WBXML_EXT_I_0 0x40
#define WBXML_EXT_I_2 0x42
#define WBXML_PI 0x43
#define WBXML_LITERAL_C 0x44
#define WBXML_EXT_T_0 0x80
#define WBXML_EXT_T_2 0x82
#define WBXML_STR_T 0x83
#define WBXML_LITERAL_A 0x84
#define WBXML_EXT_0 0xc0
#define WBXML_EXT_2 0xc2
#define WBXML_OPAQUE 0xc3
#define WBXML_LITERAL_AC 0xc4

#define WBXML_TAG_ATTRIBUTES 0x80
#define WBXML_TAG_CONTENT 0x40

enum wbxml_parser_state {
	WBXML_STATE_VERSION = 0,
	WBXML_STATE_PUBLIC_ID,
	WBXML_STATE_CHARSET,
	WBXML_STATE_STRTBL_LEN,
	WBXML_STATE_STRTBL_SKIP,
	WBXML_STATE_TOKEN,
	WBXML_STATE_SWITCH_PAGE,
	WBXML_STATE_STR_I,
	WBXML_STATE_ENTITY,
	WBXML_STATE_OPAQUE_LEN,
	WBXML_STATE_OPAQUE_DATA,
	WBXML_STATE_DONE,
	WBXML_STATE_ERROR
};

struct wbxml_open_element {
	unsigned int tag;
	/* text + opaque bytes seen so far in this element */
	size_t content_size;
};

struct wbxml_parser {
	struct wbxml_limits limits;
	const struct wbxml_parser_callbacks *callbacks;
	void *context;

	enum wbxml_parser_state state;
	uoff_t offset; /* of the next input byte */

	/* mb_u_int32 being read */
	uint32_t mb_value;
	unsigned int mb_len;

	/* string table bytes to skip or opaque bytes still to read */
	uint32_t remaining;

	unsigned int page;
	unsigned int element_count;
	ARRAY(struct wbxml_open_element) stack;
	buffer_t *item; /* STR_I / OPAQUE / ENTITY being collected */

	char *error;
};

static void ATTR_FORMAT(2, 3)
wbxml_parser_set_error(struct wbxml_parser *parser, const char *fmt, ...)
{
	va_list args;

	if (parser->state == WBXML_STATE_ERROR)
		return;
	va_start(args, fmt);
	parser->error = i_strdup_printf("WBXML error at offset %"PRIuUOFF_T": %s",
					parser->offset,
					t_strdup_vprintf(fmt, args));
	va_end(args);
	parser->state = WBXML_STATE_ERROR;
}

struct wbxml_parser *
wbxml_parser_init(const struct wbxml_limits *limits,
		  const struct wbxml_parser_callbacks *callbacks,
		  void *context)
{
	struct wbxml_parser *parser;

	parser = i_new(struct wbxml_parser, 1);
	if (limits != NULL)
		parser->limits = *limits;
	if (parser->limits.max_depth == 0)
		parser->limits.max_depth = WBXML_DEFAULT_MAX_DEPTH;
	if (parser->limits.max_elements == 0)
		parser->limits.max_elements = WBXML_DEFAULT_MAX_ELEMENTS;
	if (parser->limits.max_string_size == 0)
		parser->limits.max_string_size = WBXML_DEFAULT_MAX_STRING_SIZE;
	/* opaque lengths are mb_u_int32s */
	if (parser->limits.max_string_size > UINT32_MAX)
		parser->limits.max_string_size = UINT32_MAX;
	parser->callbacks = callbacks;
	parser->context = context;
	i_array_init(&parser->stack, 16);
	parser->item = buffer_create_dynamic(default_pool, 256);
	return parser;
}

void wbxml_parser_deinit(struct wbxml_parser **_parser)
{
	struct wbxml_parser *parser = *_parser;

	*_parser = NULL;
	array_free(&parser->stack);
	buffer_free(&parser->item);
	i_free(parser->error);
	i_free(parser);
}

/* Feed one byte of a mb_u_int32. Returns 1 when the value is complete,
   0 if more bytes are needed, -1 on error. */
static int wbxml_parser_mb_byte(struct wbxml_parser *parser, unsigned char c)
{
	if (parser->mb_value > (UINT32_MAX >> 7)) {
		wbxml_parser_set_error(parser, "mb_u_int32 overflow");
		return -1;
	}
	parser->mb_value = (parser->mb_value << 7) | (c & 0x7f);
	parser->mb_len++;
	if ((c & 0x80) == 0)
		return 1;
	if (parser->mb_len >= 5) {
		wbxml_parser_set_error(parser, "mb_u_int32 longer than 5 bytes");
		return -1;
	}
	return 0;
}

static void wbxml_parser_mb_reset(struct wbxml_parser *parser)
{
	parser->mb_value = 0;
	parser->mb_len = 0;
}

static unsigned int wbxml_parser_depth(struct wbxml_parser *parser)
{
	return array_count(&parser->stack);
}

/* Account for content bytes of the innermost open element. */
static int wbxml_parser_add_content(struct wbxml_parser *parser, size_t size)
{
	struct wbxml_open_element *open = array_back_modifiable(&parser->stack);

	if (size > parser->limits.max_string_size - open->content_size) {
		wbxml_parser_set_error(parser,
			"content of %s exceeds %zu bytes",
			wbxml_tag_describe(open->tag),
			parser->limits.max_string_size);
		return -1;
	}
	open->content_size += size;
	return 0;
}

static void wbxml_parser_emit_text(struct wbxml_parser *parser)
{
	size_t size = parser->item->used;

	buffer_append_c(parser->item, '\0');
	if (parser->callbacks->text != NULL) {
		parser->callbacks->text(parser->context,
					parser->item->data, size);
	}
	buffer_set_used_size(parser->item, 0);
}

static void wbxml_parser_emit_opaque(struct wbxml_parser *parser)
{
	size_t size = parser->item->used;

	buffer_append_c(parser->item, '\0');
	if (parser->callbacks->opaque != NULL) {
		parser->callbacks->opaque(parser->context,
					  parser->item->data, size);
	}
	buffer_set_used_size(parser->item, 0);
}

static void wbxml_parser_element_end(struct wbxml_parser *parser)
{
	const struct wbxml_open_element *open = array_back(&parser->stack);
	unsigned int tag = open->tag;

	array_pop_back(&parser->stack);
	if (parser->callbacks->element_end != NULL)
		parser->callbacks->element_end(parser->context, tag);
	if (wbxml_parser_depth(parser) == 0)
		parser->state = WBXML_STATE_DONE;
}

static void wbxml_parser_tag(struct wbxml_parser *parser, unsigned char c)
{
	struct wbxml_open_element *open;
	unsigned int token = c & 0x3f;
	unsigned int tag = EAS_TAG(parser->page, token);
	bool has_content = (c & WBXML_TAG_CONTENT) != 0;

	if ((c & WBXML_TAG_ATTRIBUTES) != 0) {
		wbxml_parser_set_error(parser,
			"tag 0x%02x has attributes (not used by EAS)", c);
		return;
	}
	if (wbxml_tag_name(tag) == NULL) {
		wbxml_parser_set_error(parser,
			"unknown tag token 0x%02x in code page %u (%s)",
			token, parser->page, wbxml_page_name(parser->page));
		return;
	}
	if (wbxml_parser_depth(parser) >= parser->limits.max_depth) {
		wbxml_parser_set_error(parser,
			"elements nested deeper than %u",
			parser->limits.max_depth);
		return;
	}
	if (parser->element_count >= parser->limits.max_elements) {
		wbxml_parser_set_error(parser, "more than %u elements",
				       parser->limits.max_elements);
		return;
	}
	parser->element_count++;

	open = array_append_space(&parser->stack);
	open->tag = tag;
	if (parser->callbacks->element_start != NULL) {
		parser->callbacks->element_start(parser->context, tag,
						 has_content);
	}
	if (!has_content)
		wbxml_parser_element_end(parser);
}

static void wbxml_parser_token(struct wbxml_parser *parser, unsigned char c)
{
	bool in_element = wbxml_parser_depth(parser) > 0;

	switch (c) {
	case WBXML_SWITCH_PAGE:
		parser->state = WBXML_STATE_SWITCH_PAGE;
		return;
	case WBXML_END:
		if (!in_element) {
			wbxml_parser_set_error(parser,
				"END without an open element");
			return;
		}
		wbxml_parser_element_end(parser);
		return;
	case WBXML_ENTITY:
	case WBXML_STR_I:
	case WBXML_OPAQUE:
		if (!in_element) {
			wbxml_parser_set_error(parser,
				"content outside the root element");
			return;
		}
		buffer_set_used_size(parser->item, 0);
		wbxml_parser_mb_reset(parser);
		parser->state = c == WBXML_STR_I ? WBXML_STATE_STR_I :
			c == WBXML_ENTITY ? WBXML_STATE_ENTITY :
			WBXML_STATE_OPAQUE_LEN;
		return;
	case WBXML_LITERAL:
	case WBXML_LITERAL_A:
	case WBXML_LITERAL_C:
	case WBXML_LITERAL_AC:
		wbxml_parser_set_error(parser,
			"LITERAL token 0x%02x not supported", c);
		return;
	case WBXML_PI:
		wbxml_parser_set_error(parser,
			"processing instructions not supported");
		return;
	case WBXML_STR_T:
		wbxml_parser_set_error(parser,
			"string table references not supported");
		return;
	default:
		break;
	}
	if ((c >= WBXML_EXT_I_0 && c <= WBXML_EXT_I_2) ||
	    (c >= WBXML_EXT_T_0 && c <= WBXML_EXT_T_2) ||
	    (c >= WBXML_EXT_0 && c <= WBXML_EXT_2)) {
		wbxml_parser_set_error(parser,
			"extension token 0x%02x not supported", c);
		return;
	}
	wbxml_parser_tag(parser, c);
}

static void wbxml_parser_entity(struct wbxml_parser *parser, uint32_t chr)
{
	if (chr == 0 || chr > 0x10ffff || (chr >= 0xd800 && chr <= 0xdfff)) {
		wbxml_parser_set_error(parser,
			"ENTITY 0x%x is not a valid character", chr);
		return;
	}
	uni_ucs4_to_utf8_c(chr, parser->item);
	if (wbxml_parser_add_content(parser, parser->item->used) < 0)
		return;
	wbxml_parser_emit_text(parser);
	parser->state = WBXML_STATE_TOKEN;
}

static void wbxml_parser_opaque_len(struct wbxml_parser *parser, uint32_t len)
{
	if (wbxml_parser_add_content(parser, len) < 0)
		return;
	parser->remaining = len;
	if (len == 0) {
		wbxml_parser_emit_opaque(parser);
		parser->state = WBXML_STATE_TOKEN;
	} else {
		parser->state = WBXML_STATE_OPAQUE_DATA;
	}
}

/* Handle a header field or token argument that is a mb_u_int32. */
static void wbxml_parser_mb_done(struct wbxml_parser *parser)
{
	uint32_t value = parser->mb_value;

	wbxml_parser_mb_reset(parser);
	switch (parser->state) {
	case WBXML_STATE_PUBLIC_ID:
		if (value != WBXML_PUBLIC_ID_UNKNOWN) {
			wbxml_parser_set_error(parser,
				"unsupported public id 0x%x (EAS uses 0x01)",
				value);
			return;
		}
		parser->state = WBXML_STATE_CHARSET;
		break;
	case WBXML_STATE_CHARSET:
		if (value != WBXML_CHARSET_UTF8) {
			wbxml_parser_set_error(parser,
				"unsupported charset %u (EAS uses UTF-8, 106)",
				value);
			return;
		}
		parser->state = WBXML_STATE_STRTBL_LEN;
		break;
	case WBXML_STATE_STRTBL_LEN:
		/* EAS never references the string table; skip it */
		if (value > parser->limits.max_string_size) {
			wbxml_parser_set_error(parser,
				"string table too large (%u bytes)", value);
			return;
		}
		parser->remaining = value;
		parser->state = value == 0 ? WBXML_STATE_TOKEN :
			WBXML_STATE_STRTBL_SKIP;
		break;
	case WBXML_STATE_ENTITY:
		wbxml_parser_entity(parser, value);
		break;
	case WBXML_STATE_OPAQUE_LEN:
		wbxml_parser_opaque_len(parser, value);
		break;
	default:
		i_unreached();
	}
}

static size_t
wbxml_parser_feed_bytes(struct wbxml_parser *parser,
			const unsigned char *data, size_t size)
{
	const unsigned char *nul;
	size_t n;

	switch (parser->state) {
	case WBXML_STATE_VERSION:
		if (data[0] != WBXML_VERSION_1_3) {
			wbxml_parser_set_error(parser,
				"unsupported WBXML version 0x%02x "
				"(EAS uses 1.3, 0x03)", data[0]);
			return 0;
		}
		parser->state = WBXML_STATE_PUBLIC_ID;
		return 1;
	case WBXML_STATE_PUBLIC_ID:
	case WBXML_STATE_CHARSET:
	case WBXML_STATE_STRTBL_LEN:
	case WBXML_STATE_ENTITY:
	case WBXML_STATE_OPAQUE_LEN:
		switch (wbxml_parser_mb_byte(parser, data[0])) {
		case -1:
			return 0;
		case 1:
			wbxml_parser_mb_done(parser);
			break;
		}
		return 1;
	case WBXML_STATE_STRTBL_SKIP:
		n = I_MIN(size, parser->remaining);
		parser->remaining -= n;
		if (parser->remaining == 0)
			parser->state = WBXML_STATE_TOKEN;
		return n;
	case WBXML_STATE_TOKEN:
		wbxml_parser_token(parser, data[0]);
		return 1;
	case WBXML_STATE_SWITCH_PAGE:
		if (data[0] >= WBXML_PAGE_COUNT) {
			wbxml_parser_set_error(parser,
				"unknown code page %u", data[0]);
			return 0;
		}
		parser->page = data[0];
		parser->state = WBXML_STATE_TOKEN;
		return 1;
	case WBXML_STATE_STR_I:
		nul = memchr(data, '\0', size);
		n = nul == NULL ? size : (size_t)(nul - data);
		if (wbxml_parser_add_content(parser, n) < 0)
			return 0;
		buffer_append(parser->item, data, n);
		if (nul == NULL)
			return n;
		wbxml_parser_emit_text(parser);
		parser->state = WBXML_STATE_TOKEN;
		return n + 1;
	case WBXML_STATE_OPAQUE_DATA:
		n = I_MIN(size, parser->remaining);
		buffer_append(parser->item, data, n);
		parser->remaining -= n;
		if (parser->remaining == 0) {
			wbxml_parser_emit_opaque(parser);
			parser->state = WBXML_STATE_TOKEN;
		}
		return n;
	case WBXML_STATE_DONE:
		wbxml_parser_set_error(parser,
			"trailing data after the root element");
		return 0;
	case WBXML_STATE_ERROR:
		return 0;
	}
	i_unreached();
}

int wbxml_parser_feed(struct wbxml_parser *parser,
		      const unsigned char *data, size_t size,
		      const char **error_r)
{
	size_t n;

	while (size > 0 && parser->state != WBXML_STATE_ERROR) {
		n = wbxml_parser_feed_bytes(parser, data, size);
		i_assert(n <= size);
		data += n;
		size -= n;
		parser->offset += n;
	}
	if (parser->state == WBXML_STATE_ERROR) {
		*error_r = parser->error;
		return -1;
	}
	return 0;
}

int wbxml_parser_finish(struct wbxml_parser *parser, const char **error_r)
{
	switch (parser->state) {
	case WBXML_STATE_DONE:
		return 0;
	case WBXML_STATE_ERROR:
		break;
	case WBXML_STATE_VERSION:
		wbxml_parser_set_error(parser, "empty document");
		break;
	case WBXML_STATE_PUBLIC_ID:
	case WBXML_STATE_CHARSET:
	case WBXML_STATE_STRTBL_LEN:
	case WBXML_STATE_STRTBL_SKIP:
		wbxml_parser_set_error(parser, "truncated header");
		break;
	case WBXML_STATE_TOKEN:
		if (wbxml_parser_depth(parser) == 0) {
			wbxml_parser_set_error(parser, "no root element");
			break;
		}
		/* fall through */
	default:
		wbxml_parser_set_error(parser,
			"truncated document (%u elements still open)",
			wbxml_parser_depth(parser));
		break;
	}
	*error_r = parser->error;
	return -1;
}
