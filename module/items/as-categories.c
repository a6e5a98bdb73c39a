/* Copyright (c) dovecot-activesync authors, see the included COPYING file */

#include "lib.h"
#include "str.h"
#include "hex-dec.h"
#include "unichar.h"
#include "items/as-categories.h"

#include <ctype.h>

/* keywords other IMAP software sets without a '$' */
static const char *const protocol_keywords[] = {
	"Junk", "NonJunk", "NotJunk", "Forwarded", "Redirected",
};

static bool category_char_is_plain(unsigned char c)
{
	return i_isalnum(c) || strchr("-_.+,;:!?@#/&'~^|", c) != NULL;
}

static bool is_protocol_keyword(const char *keyword)
{
	unsigned int i;

	for (i = 0; i < N_ELEMENTS(protocol_keywords); i++) {
		if (strcasecmp(keyword, protocol_keywords[i]) == 0)
			return TRUE;
	}
	return FALSE;
}

const char *as_category_to_keyword(const char *name)
{
	const unsigned char *p;
	string_t *str;
	bool plain = TRUE;

	if (*name == '\0' || strlen(name) > AS_CATEGORY_MAX_LEN ||
	    !uni_utf8_str_is_valid(name))
		return NULL;
	for (p = (const unsigned char *)name; *p != '\0'; p++) {
		if (*p < 0x20 || *p == 0x7f)
			return NULL;
		if (!category_char_is_plain(*p))
			plain = FALSE;
	}
	if (plain && !is_protocol_keyword(name))
		return name;

	str = t_str_new(strlen(name) * 3 + 8);
	str_append(str, AS_CATEGORY_KEYWORD_PREFIX);
	for (p = (const unsigned char *)name; *p != '\0'; p++) {
		if (category_char_is_plain(*p))
			str_append_c(str, *p);
		else
			str_printfa(str, "=%02X", *p);
	}
	return str_c(str);
}

const char *as_keyword_to_category(const char *keyword)
{
	const char *p;
	string_t *str;

	if (!str_begins(keyword, AS_CATEGORY_KEYWORD_PREFIX)) {
		if (keyword[0] == '$' || keyword[0] == '\\' ||
		    keyword[0] == '\0' || is_protocol_keyword(keyword))
			return NULL;
		return keyword;
	}
	p = keyword + strlen(AS_CATEGORY_KEYWORD_PREFIX);
	str = t_str_new(strlen(p));
	for (; *p != '\0'; p++) {
		if (*p != '=') {
			str_append_c(str, *p);
			continue;
		}
		if (!i_isxdigit(p[1]) || !i_isxdigit(p[2]))
			return NULL;
		str_append_c(str, (char)hex2dec((const unsigned char *)p + 1, 2));
		p += 2;
	}
	if (str_len(str) == 0 ||
	    memchr(str_data(str), '\0', str_len(str)) != NULL ||
	    !uni_utf8_data_is_valid(str_data(str), str_len(str)))
		return NULL;
	return str_c(str);
}
