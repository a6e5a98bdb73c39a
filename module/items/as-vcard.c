/* Copyright (c) dovecot-activesync authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "base64.h"
#include "str-sanitize.h"
#include "charset-utf8.h"
#include "qp-decoder.h"
#include "items/as-vcard.h"

#include <ctype.h>

struct vcard_parser {
	struct as_vcard *card;
	const struct as_vcard_limits *limits;
	const char *p, *end;
	string_t *line;
};

struct as_vcard *as_vcard_new(pool_t pool, unsigned int version)
{
	struct as_vcard *card;

	card = p_new(pool, struct as_vcard, 1);
	card->pool = pool;
	card->version = version;
	p_array_init(&card->props, pool, 32);
	return card;
}

/* ---- reading ---- */

/* The next physical line without its line break; FALSE at the end */
static bool vcard_next_physical(struct vcard_parser *parser,
				const char **start_r, size_t *len_r)
{
	const char *p = parser->p, *nl;

	if (p >= parser->end)
		return FALSE;
	nl = memchr(p, '\n', parser->end - p);
	if (nl == NULL)
		nl = parser->end;
	*start_r = p;
	*len_r = nl - p;
	if (*len_r > 0 && p[*len_r - 1] == '\r')
		(*len_r)--;
	parser->p = nl < parser->end ? nl + 1 : nl;
	return TRUE;
}

/* Where the name and parameters end (the first ':' outside quotes) */
static const char *vcard_value_start(const char *line)
{
	bool quoted = FALSE;

	for (; *line != '\0'; line++) {
		if (*line == '"')
			quoted = !quoted;
		else if (*line == ':' && !quoted)
			return line;
	}
	return NULL;
}

static bool vcard_line_is_qp(const char *line)
{
	const char *colon = vcard_value_start(line);
	const char *head = t_str_ucase(colon == NULL ? line :
				       t_strdup_until(line, colon));

	return strstr(head, "QUOTED-PRINTABLE") != NULL;
}

/* The next logical line into parser->line: folded lines unfolded, and
   the soft line breaks of 2.1 quoted-printable values joined. Empty
   lines are skipped. */
static int vcard_next_line(struct vcard_parser *parser, bool *eof_r,
			   const char **error_r)
{
	const char *start;
	size_t len;

	*eof_r = FALSE;
	str_truncate(parser->line, 0);
	do {
		if (!vcard_next_physical(parser, &start, &len)) {
			*eof_r = TRUE;
			return 0;
		}
	} while (len == 0);
	str_append_data(parser->line, start, len);

	for (;;) {
		if (parser->p < parser->end &&
		    (*parser->p == ' ' || *parser->p == '\t')) {
			(void)vcard_next_physical(parser, &start, &len);
			str_append_data(parser->line, start + 1, len - 1);
		} else if (str_len(parser->line) > 0 &&
			   str_c(parser->line)[str_len(parser->line)-1] == '=' &&
			   parser->p < parser->end &&
			   vcard_line_is_qp(str_c(parser->line))) {
			/* soft line break */
			str_truncate(parser->line, str_len(parser->line) - 1);
			(void)vcard_next_physical(parser, &start, &len);
			str_append_data(parser->line, start, len);
		} else {
			break;
		}
		if (str_len(parser->line) > parser->limits->max_line_length) {
			*error_r = "line too long";
			return -1;
		}
	}
	if (str_len(parser->line) > parser->limits->max_line_length) {
		*error_r = "line too long";
		return -1;
	}
	return 0;
}

static bool vcard_name_char(char c)
{
	return i_isalnum(c) || c == '-' || c == '_';
}

static void
vcard_add_param_raw(pool_t pool, struct as_vcard_property *prop,
		    const char *name, const char *value)
{
	struct as_vcard_param *param;

	param = array_append_space(&prop->params);
	param->name = p_strdup(pool, name);
	param->value = p_strdup(pool, value);
}

/* Parse "[group.]NAME;params" (up to the value's ':') */
static int
vcard_parse_head(pool_t pool, const char *head,
		 struct as_vcard_property *prop, const char **error_r)
{
	const char *p = head, *start, *dot = NULL, *pname;
	bool quoted;

	start = p;
	while (vcard_name_char(*p) || *p == '.') {
		if (*p == '.')
			dot = p;
		p++;
	}
	if (p == start || (*p != ';' && *p != '\0')) {
		*error_r = t_strdup_printf("invalid property name '%s'",
					   t_strcut(head, ';'));
		return -1;
	}
	if (dot != NULL) {
		prop->group = p_strdup_until(pool, start, dot);
		start = dot + 1;
		if (*start == '\0' || start == p) {
			*error_r = "empty property name";
			return -1;
		}
	}
	prop->name = p_strdup(pool, t_strdup_until(start, p));
	p_array_init(&prop->params, pool, 2);

	while (*p == ';') {
		p++;
		start = p;
		while (vcard_name_char(*p))
			p++;
		if (p == start) {
			if (*p == ';' || *p == '\0')
				continue; /* empty parameter */
			*error_r = "invalid parameter name";
			return -1;
		}
		pname = t_strdup_until(start, p);
		if (*p != '=') {
			/* 2.1: "TEL;HOME;VOICE:" */
			vcard_add_param_raw(pool, prop, "TYPE", pname);
			continue;
		}
		p++;
		start = p;
		quoted = FALSE;
		while (*p != '\0' && (quoted || *p != ';')) {
			if (*p == '"')
				quoted = !quoted;
			p++;
		}
		if (quoted) {
			*error_r = "unterminated quoted parameter";
			return -1;
		}
		vcard_add_param_raw(pool, prop, pname,
				    t_strdup_until(start, p));
	}
	if (*p != '\0') {
		*error_r = "invalid parameters";
		return -1;
	}
	return 0;
}

static const char *vcard_unquote(const char *value)
{
	size_t len = strlen(value);

	if (len >= 2 && value[0] == '"' && value[len-1] == '"')
		return t_strndup(value + 1, len - 2);
	return value;
}

/* 2.1 quoted-printable value: decoded, in UTF-8 */
static const char *
vcard_decode_qp(const struct as_vcard_property *prop, const char *value)
{
	const char *charset = as_vcard_prop_param(prop, "CHARSET");
	buffer_t *decoded = t_buffer_create(strlen(value));
	string_t *utf8;
	enum charset_result result;
	struct qp_decoder *qp = qp_decoder_init(decoded);
	const char *error;
	size_t pos;

	/* invalid sequences are skipped: the rest is still worth having */
	(void)qp_decoder_more(qp, (const unsigned char *)value,
			      strlen(value), &pos, &error);
	(void)qp_decoder_finish(qp, &error);
	qp_decoder_deinit(&qp);
	if (charset != NULL && strcasecmp(charset, "UTF-8") != 0) {
		utf8 = t_str_new(decoded->used + 16);
		if (charset_to_utf8_str(charset, NULL, str_c(decoded),
					utf8, &result) == 0)
			return str_c(utf8);
	}
	return str_c(decoded);
}

static int vcard_parse_line(struct vcard_parser *parser, const char *line,
			    const char **error_r)
{
	struct as_vcard *card = parser->card;
	struct as_vcard_property *prop, *const *last;
	const char *colon, *encoding, *value;

	colon = vcard_value_start(line);
	if (colon == NULL) {
		/* 2.1 base64 data that isn't folded with a space */
		if (card->version < 30 && array_count(&card->props) > 0) {
			last = array_back(&card->props);
			encoding = as_vcard_prop_param(*last, "ENCODING");
			if (encoding != NULL &&
			    strcasecmp(encoding, "b") == 0) {
				(*last)->value = p_strconcat(card->pool,
					(*last)->value, line, NULL);
				return 0;
			}
		}
		*error_r = t_strdup_printf("line without ':': %s",
					   str_sanitize(line, 60));
		return -1;
	}
	prop = p_new(card->pool, struct as_vcard_property, 1);
	if (vcard_parse_head(card->pool, t_strdup_until(line, colon),
			     prop, error_r) < 0)
		return -1;
	value = colon + 1;

	encoding = as_vcard_prop_param(prop, "ENCODING");
	if (encoding != NULL &&
	    strcasecmp(encoding, "QUOTED-PRINTABLE") == 0) {
		value = vcard_decode_qp(prop, value);
		as_vcard_prop_remove_param(prop, "ENCODING");
		as_vcard_prop_remove_param(prop, "CHARSET");
	} else if (encoding != NULL && strcasecmp(encoding, "BASE64") == 0) {
		as_vcard_prop_remove_param(prop, "ENCODING");
		vcard_add_param_raw(card->pool, prop, "ENCODING", "b");
	}
	prop->value = p_strdup(card->pool, value);

	if (strcasecmp(prop->name, "BEGIN") == 0) {
		*error_r = "nested BEGIN";
		return -1;
	}
	if (strcasecmp(prop->name, "VERSION") == 0) {
		if (strcmp(value, "2.1") == 0)
			card->version = 21;
		else if (strcmp(value, "3.0") == 0)
			card->version = 30;
		else if (strcmp(value, "4.0") == 0)
			card->version = 40;
		else {
			*error_r = t_strdup_printf("unknown VERSION %s",
						   str_sanitize(value, 20));
			return -1;
		}
		return 0;
	}
	if (array_count(&card->props) >= parser->limits->max_properties) {
		*error_r = "too many properties";
		return -1;
	}
	array_push_back(&card->props, &prop);
	return 0;
}

int as_vcard_parse(pool_t pool, const char *text,
		   const struct as_vcard_limits *limits,
		   struct as_vcard **card_r, const char **error_r)
{
	struct as_vcard_limits lim;
	struct vcard_parser parser;
	const char *line;
	bool eof, begun = FALSE;
	int ret = -1;

	i_zero(&lim);
	if (limits != NULL)
		lim = *limits;
	if (lim.max_properties == 0)
		lim.max_properties = AS_VCARD_MAX_PROPERTIES;
	if (lim.max_line_length == 0)
		lim.max_line_length = AS_VCARD_MAX_LINE_LENGTH;
	if (lim.max_size == 0)
		lim.max_size = AS_VCARD_MAX_SIZE;
	if (strlen(text) > lim.max_size) {
		*error_r = "vCard too large";
		return -1;
	}

	i_zero(&parser);
	parser.card = as_vcard_new(pool, 30);
	parser.limits = &lim;
	parser.p = text;
	parser.end = text + strlen(text);
	/* 0 until VERSION says (it often comes second) */
	parser.card->version = 0;
	parser.line = t_str_new(256);
	for (;;) {
		if (vcard_next_line(&parser, &eof, error_r) < 0)
			break;
		if (eof) {
			*error_r = begun ? "no END:VCARD" :
				"no BEGIN:VCARD";
			break;
		}
		line = str_c(parser.line);
		if (!begun) {
			if (strcasecmp(line, "BEGIN:VCARD") != 0) {
				*error_r = "no BEGIN:VCARD";
				break;
			}
			begun = TRUE;
			continue;
		}
		if (strcasecmp(line, "END:VCARD") == 0) {
			ret = 0;
			break;
		}
		if (vcard_parse_line(&parser, line, error_r) < 0)
			break;
	}
	if (ret < 0) {
		*error_r = t_strdup_printf("invalid vCard: %s", *error_r);
		return -1;
	}
	if (parser.card->version == 0 || parser.card->version == 21) {
		/* a 2.1 card has been converted while reading; no VERSION
		   at all is read as 3.0 */
		parser.card->version = 30;
	}
	*card_r = parser.card;
	return 0;
}

/* ---- writing ---- */

/* Append line with CRLF, folded at AS_VCARD_FOLD_OCTETS octets */
static void vcard_append_folded(string_t *dest, const char *line)
{
	size_t len = strlen(line), pos = 0, max = AS_VCARD_FOLD_OCTETS, n;

	while (len - pos > max) {
		n = max;
		/* don't cut a UTF-8 character */
		while (n > 1 && ((unsigned char)line[pos + n] & 0xc0) == 0x80)
			n--;
		str_append_data(dest, line + pos, n);
		str_append(dest, "\r\n ");
		pos += n;
		/* the space counts */
		max = AS_VCARD_FOLD_OCTETS - 1;
	}
	str_append(dest, line + pos);
	str_append(dest, "\r\n");
}

void as_vcard_write(const struct as_vcard *card, unsigned int version,
		    string_t *dest)
{
	struct as_vcard_property *const *propp;
	const struct as_vcard_param *param;
	string_t *line;

	i_assert(version == 30 || version == 40);
	str_append(dest, "BEGIN:VCARD\r\n");
	str_append(dest, version == 40 ? "VERSION:4.0\r\n" :
		   "VERSION:3.0\r\n");
	/* dest may be on the data stack: it grows in this frame only */
	line = t_str_new(256);
	array_foreach(&card->props, propp) {
		const struct as_vcard_property *prop = *propp;

		str_truncate(line, 0);
		if (prop->group != NULL)
			str_printfa(line, "%s.", prop->group);
		str_append(line, prop->name);
		array_foreach(&prop->params, param)
			str_printfa(line, ";%s=%s", param->name, param->value);
		str_append_c(line, ':');
		str_append(line, prop->value);
		vcard_append_folded(dest, str_c(line));
	}
	str_append(dest, "END:VCARD\r\n");
}

/* ---- properties ---- */

struct as_vcard_property *
as_vcard_add(struct as_vcard *card, const char *group, const char *name)
{
	struct as_vcard_property *prop;

	prop = p_new(card->pool, struct as_vcard_property, 1);
	prop->group = p_strdup(card->pool, group);
	prop->name = p_strdup(card->pool, name);
	p_array_init(&prop->params, card->pool, 2);
	prop->value = "";
	array_push_back(&card->props, &prop);
	return prop;
}

void as_vcard_remove(struct as_vcard *card, struct as_vcard_property *prop)
{
	struct as_vcard_property *const *props;
	unsigned int i, count;

	props = array_get(&card->props, &count);
	for (i = 0; i < count; i++) {
		if (props[i] == prop) {
			array_delete(&card->props, i, 1);
			return;
		}
	}
	i_unreached();
}

static bool vcard_param_needs_quotes(const char *value)
{
	return strpbrk(value, ":;,\"") != NULL;
}

void as_vcard_prop_add_param(struct as_vcard *card,
			     struct as_vcard_property *prop,
			     const char *name, const char *value)
{
	/* a double quote can't be in a parameter value (4.0 has ^'
	   for it; plain text is safer) */
	value = t_str_replace(value, '"', '\'');
	if (vcard_param_needs_quotes(value) && strcasecmp(name, "TYPE") != 0)
		value = t_strdup_printf("\"%s\"", value);
	vcard_add_param_raw(card->pool, prop, name, value);
}

void as_vcard_prop_remove_param(struct as_vcard_property *prop,
				const char *name)
{
	const struct as_vcard_param *params;
	unsigned int i, count;

	params = array_get(&prop->params, &count);
	for (i = count; i > 0; i--) {
		if (strcasecmp(params[i-1].name, name) == 0)
			array_delete(&prop->params, i-1, 1);
	}
}

const char *as_vcard_prop_param(const struct as_vcard_property *prop,
				const char *name)
{
	const struct as_vcard_param *param;
	string_t *str = NULL;

	array_foreach(&prop->params, param) {
		if (strcasecmp(param->name, name) != 0)
			continue;
		if (str == NULL)
			str = t_str_new(32);
		else
			str_append_c(str, ',');
		str_append(str, vcard_unquote(param->value));
	}
	return str == NULL ? NULL : str_c(str);
}

bool as_vcard_prop_has_type(const struct as_vcard_property *prop,
			    const char *type)
{
	const char *types = as_vcard_prop_param(prop, "TYPE");
	const char *const *list;

	if (types == NULL)
		return FALSE;
	for (list = t_strsplit(types, ",\""); *list != NULL; list++) {
		if (strcasecmp(*list, type) == 0)
			return TRUE;
	}
	return FALSE;
}

bool as_vcard_prop_untyped(const struct as_vcard_property *prop)
{
	return as_vcard_prop_param(prop, "TYPE") == NULL;
}

/* Unescape value[0..len) */
static void vcard_unescape(string_t *dest, const char *value, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (value[i] != '\\' || i + 1 == len) {
			str_append_c(dest, value[i]);
			continue;
		}
		i++;
		if (value[i] == 'n' || value[i] == 'N')
			str_append_c(dest, '\n');
		else
			str_append_c(dest, value[i]);
	}
}

void as_vcard_escape(string_t *dest, const char *text)
{
	for (; *text != '\0'; text++) {
		switch (*text) {
		case '\\':
			str_append(dest, "\\\\");
			break;
		case '\n':
			str_append(dest, "\\n");
			break;
		case '\r':
			if (text[1] != '\n')
				str_append(dest, "\\n");
			break;
		case ',':
			str_append(dest, "\\,");
			break;
		case ';':
			str_append(dest, "\\;");
			break;
		default:
			str_append_c(dest, *text);
		}
	}
}

const char *as_vcard_prop_text(const struct as_vcard_property *prop)
{
	string_t *str = t_str_new(strlen(prop->value) + 1);

	vcard_unescape(str, prop->value, strlen(prop->value));
	return str_c(str);
}

/* Split the raw value at unescaped sep: the pieces still escaped */
static const char *const *
vcard_split_raw(const char *value, char sep)
{
	ARRAY_TYPE(const_string) parts;
	const char *p, *start, *part;

	t_array_init(&parts, 8);
	for (p = start = value;; p++) {
		if (*p == '\\' && p[1] != '\0') {
			p++;
			continue;
		}
		if (*p == sep || *p == '\0') {
			part = t_strdup_until(start, p);
			array_push_back(&parts, &part);
			if (*p == '\0')
				break;
			start = p + 1;
		}
	}
	array_append_zero(&parts);
	return array_front(&parts);
}

const char *as_vcard_prop_component(const struct as_vcard_property *prop,
				    unsigned int idx)
{
	const char *const *parts = vcard_split_raw(prop->value, ';');
	string_t *str;

	if (idx >= str_array_length(parts))
		return "";
	str = t_str_new(strlen(parts[idx]) + 1);
	vcard_unescape(str, parts[idx], strlen(parts[idx]));
	return str_c(str);
}

const char *const *as_vcard_prop_list(const struct as_vcard_property *prop)
{
	const char *const *parts = vcard_split_raw(prop->value, ',');
	ARRAY_TYPE(const_string) items;
	string_t *str;
	const char *item;

	t_array_init(&items, 8);
	for (; *parts != NULL; parts++) {
		str = t_str_new(strlen(*parts) + 1);
		vcard_unescape(str, *parts, strlen(*parts));
		item = t_str_trim(str_c(str), " \t");
		if (*item != '\0')
			array_push_back(&items, &item);
	}
	array_append_zero(&items);
	return array_front(&items);
}

void as_vcard_prop_set_text(struct as_vcard *card,
			    struct as_vcard_property *prop, const char *text)
{
	string_t *str = t_str_new(strlen(text) + 16);

	as_vcard_escape(str, text);
	prop->value = p_strdup(card->pool, str_c(str));
}

void as_vcard_prop_set_component(struct as_vcard *card,
				 struct as_vcard_property *prop,
				 unsigned int idx, const char *text)
{
	const char *const *parts = vcard_split_raw(prop->value, ';');
	unsigned int i, count = str_array_length(parts);
	string_t *str = t_str_new(strlen(prop->value) + strlen(text) + 16);

	if (count == 1 && *parts[0] == '\0')
		count = 0;
	for (i = 0; i < count || i <= idx; i++) {
		if (i > 0)
			str_append_c(str, ';');
		if (i == idx)
			as_vcard_escape(str, text);
		else if (i < count)
			str_append(str, parts[i]);
	}
	prop->value = p_strdup(card->pool, str_c(str));
}

void as_vcard_prop_set_list(struct as_vcard *card,
			    struct as_vcard_property *prop,
			    const char *const *items)
{
	string_t *str = t_str_new(128);

	for (; *items != NULL; items++) {
		if (str_len(str) > 0)
			str_append_c(str, ',');
		as_vcard_escape(str, *items);
	}
	prop->value = p_strdup(card->pool, str_c(str));
}

/* ---- binary values ---- */

static const struct {
	const char *type;	/* 3.0 TYPE */
	const char *media_type;
} vcard_image_types[] = {
	{ "JPEG", "image/jpeg" },
	{ "PNG", "image/png" },
	{ "GIF", "image/gif" },
	{ "BMP", "image/bmp" },
};

int as_vcard_prop_binary(const struct as_vcard_property *prop,
			 buffer_t *dest, const char **media_type_r)
{
	const char *encoding = as_vcard_prop_param(prop, "ENCODING");
	const char *type, *value = prop->value, *comma;
	unsigned int i;

	*media_type_r = NULL;
	if (encoding != NULL && strcasecmp(encoding, "b") == 0) {
		type = as_vcard_prop_param(prop, "TYPE");
		for (i = 0; type != NULL &&
			    i < N_ELEMENTS(vcard_image_types); i++) {
			if (strcasecmp(type, vcard_image_types[i].type) == 0 ||
			    strcasecmp(type, vcard_image_types[i].media_type) == 0)
				*media_type_r = vcard_image_types[i].media_type;
		}
		return base64_decode(value, strlen(value), NULL, dest) < 0 ?
			-1 : 1;
	}
	if (strncasecmp(value, "data:", 5) != 0)
		return 0;
	comma = strchr(value, ',');
	if (comma == NULL)
		return -1;
	type = t_strdup_until(value + 5, comma);
	if (strlen(type) < 7 ||
	    strcasecmp(type + strlen(type) - 7, ";base64") != 0)
		return -1; /* only base64 data makes sense for images */
	*media_type_r = t_strcut(type, ';');
	if (**media_type_r == '\0')
		*media_type_r = NULL;
	comma++;
	return base64_decode(comma, strlen(comma), NULL, dest) < 0 ? -1 : 1;
}

void as_vcard_prop_set_binary(struct as_vcard *card,
			      struct as_vcard_property *prop,
			      unsigned int version, const void *data,
			      size_t size, const char *media_type)
{
	string_t *str = t_str_new(MAX_BASE64_ENCODED_SIZE(size) + 64);
	unsigned int i;

	as_vcard_prop_remove_param(prop, "ENCODING");
	as_vcard_prop_remove_param(prop, "TYPE");
	as_vcard_prop_remove_param(prop, "VALUE");
	as_vcard_prop_remove_param(prop, "MEDIATYPE");
	if (version == 40) {
		str_printfa(str, "data:%s;base64,", media_type);
		base64_encode(data, size, str);
	} else {
		vcard_add_param_raw(card->pool, prop, "ENCODING", "b");
		for (i = 0; i < N_ELEMENTS(vcard_image_types); i++) {
			if (strcmp(media_type,
				   vcard_image_types[i].media_type) == 0) {
				vcard_add_param_raw(card->pool, prop, "TYPE",
						    vcard_image_types[i].type);
			}
		}
		base64_encode(data, size, str);
	}
	prop->value = p_strdup(card->pool, str_c(str));
}
