/* Copyright (c) dovecot-activesync authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "strnum.h"
#include "unichar.h"
#include "utc-mktime.h"
#include "mail-search.h"
#include "mail-search-build.h"
#include "search/as-search-kql.h"

#include <time.h>

struct kql_parser {
	struct mail_search_args *args;
	enum as_search_kql_attachments attachments;
	unsigned int terms;
	const char *error;
};

/* property: -> header searched */
static const struct {
	const char *name;
	enum mail_search_arg_type type;
	const char *header;
} kql_properties[] = {
	{ "from", SEARCH_HEADER_ADDRESS, "From" },
	{ "to", SEARCH_HEADER_ADDRESS, "To" },
	{ "cc", SEARCH_HEADER_ADDRESS, "Cc" },
	{ "bcc", SEARCH_HEADER_ADDRESS, "Bcc" },
	{ "subject", SEARCH_HEADER, "Subject" },
	{ "body", SEARCH_BODY, NULL },
};

static bool kql_is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static struct mail_search_arg *
kql_add(struct kql_parser *p, enum mail_search_arg_type type)
{
	return mail_search_build_add(p->args, type);
}

static bool kql_count(struct kql_parser *p)
{
	if (++p->terms > AS_SEARCH_MAX_TERMS) {
		p->error = t_strdup_printf("more than %u terms",
					   AS_SEARCH_MAX_TERMS);
		return FALSE;
	}
	return TRUE;
}

/* YYYY-MM-DD or M/D/YYYY, the start of that UTC day */
static bool kql_parse_date(const char *value, time_t *t_r)
{
	struct tm tm;
	unsigned int a, b, c;
	const char *const *parts;

	i_zero(&tm);
	if (strchr(value, '-') != NULL) {
		parts = t_strsplit(value, "-");
		if (str_array_length(parts) != 3 ||
		    str_to_uint(parts[0], &a) < 0 ||
		    str_to_uint(parts[1], &b) < 0 ||
		    str_to_uint(parts[2], &c) < 0)
			return FALSE;
		tm.tm_year = (int)a - 1900; tm.tm_mon = (int)b - 1;
		tm.tm_mday = (int)c;
	} else {
		parts = t_strsplit(value, "/");
		if (str_array_length(parts) != 3 ||
		    str_to_uint(parts[0], &a) < 0 ||
		    str_to_uint(parts[1], &b) < 0 ||
		    str_to_uint(parts[2], &c) < 0)
			return FALSE;
		tm.tm_year = (int)c - 1900; tm.tm_mon = (int)a - 1;
		tm.tm_mday = (int)b;
	}
	if (tm.tm_year < 0 || tm.tm_year > 8000 || tm.tm_mon < 0 ||
	    tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31)
		return FALSE;
	*t_r = utc_mktime(&tm);
	return *t_r != (time_t)-1;
}

static void kql_add_date(struct kql_parser *p, bool since, time_t t)
{
	struct mail_search_arg *arg;

	arg = kql_add(p, since ? SEARCH_SINCE : SEARCH_BEFORE);
	arg->value.time = t;
	arg->value.date_type = MAIL_SEARCH_DATE_TYPE_RECEIVED;
	arg->value.search_flags = MAIL_SEARCH_ARG_FLAG_UTC_TIMES;
}

#define KQL_DAY (24 * 60 * 60)

/* value after "received": ">=D", ">D", "<=D", "<D", ":D", "=D",
   ":D..D" */
static bool kql_received(struct kql_parser *p, const char *value)
{
	const char *op, *date, *dots;
	time_t t, t2;

	if (str_begins(value, ">=") || str_begins(value, "<=")) {
		op = t_strndup(value, 2);
		date = value + 2;
	} else if (*value == '>' || *value == '<' || *value == ':' ||
		   *value == '=') {
		op = t_strndup(value, 1);
		date = value + 1;
	} else {
		p->error = "received needs >=, >, <=, <, = or :";
		return FALSE;
	}
	dots = strstr(date, "..");
	if (dots != NULL && *op == ':') {
		if (!kql_parse_date(t_strdup_until(date, dots), &t) ||
		    !kql_parse_date(dots + 2, &t2) || t2 < t) {
			p->error = "invalid received date range";
			return FALSE;
		}
		if (!kql_count(p) || !kql_count(p))
			return FALSE;
		kql_add_date(p, TRUE, t);
		kql_add_date(p, FALSE, t2 + KQL_DAY);
		return TRUE;
	}
	if (!kql_parse_date(date, &t)) {
		p->error = t_strdup_printf("invalid received date '%s'", date);
		return FALSE;
	}
	if (!kql_count(p))
		return FALSE;
	if (strcmp(op, ">=") == 0)
		kql_add_date(p, TRUE, t);
	else if (strcmp(op, ">") == 0)
		kql_add_date(p, TRUE, t + KQL_DAY);
	else if (strcmp(op, "<=") == 0)
		kql_add_date(p, FALSE, t + KQL_DAY);
	else if (strcmp(op, "<") == 0)
		kql_add_date(p, FALSE, t);
	else {
		if (!kql_count(p))
			return FALSE;
		kql_add_date(p, TRUE, t);
		kql_add_date(p, FALSE, t + KQL_DAY);
	}
	return TRUE;
}

static bool kql_attachments(struct kql_parser *p, const char *value)
{
	if (strcasecmp(value, "true") == 0 || strcasecmp(value, "yes") == 0)
		p->attachments = AS_SEARCH_KQL_ATTACHMENTS_SOME;
	else if (strcasecmp(value, "false") == 0 ||
		 strcasecmp(value, "no") == 0)
		p->attachments = AS_SEARCH_KQL_ATTACHMENTS_NONE;
	else {
		p->error = "hasattachments needs true or false";
		return FALSE;
	}
	return TRUE;
}

static bool kql_word(struct kql_parser *p, enum mail_search_arg_type type,
		     const char *header, const char *value)
{
	struct mail_search_arg *arg;

	if (*value == '\0') {
		p->error = "empty search term";
		return FALSE;
	}
	if (!kql_count(p))
		return FALSE;
	arg = kql_add(p, type);
	arg->value.str = p_strdup(p->args->pool, value);
	if (header != NULL)
		arg->hdr_field_name = p_strdup(p->args->pool, header);
	return TRUE;
}

static const char *kql_unquote(const char *value)
{
	size_t len = strlen(value);

	if (len >= 2 && value[0] == '"' && value[len - 1] == '"')
		return t_strndup(value + 1, len - 2);
	return value;
}

static bool kql_token(struct kql_parser *p, const char *token)
{
	const char *colon, *name;
	unsigned int i;

	if (strcmp(token, "AND") == 0)
		return TRUE;
	if (strcmp(token, "OR") == 0 || strcmp(token, "NOT") == 0) {
		p->error = t_strdup_printf("%s is not supported", token);
		return FALSE;
	}
	if (strncasecmp(token, "received", 8) == 0 &&
	    strchr(":<>=", token[8]) != NULL && token[8] != '\0')
		return kql_received(p, token + 8);
	colon = token[0] == '"' ? NULL : strchr(token, ':');
	if (colon != NULL) {
		name = t_strdup_until(token, colon);
		if (strcasecmp(name, "hasattachment") == 0 ||
		    strcasecmp(name, "hasattachments") == 0)
			return kql_attachments(p, colon + 1);
		for (i = 0; i < N_ELEMENTS(kql_properties); i++) {
			if (strcasecmp(name, kql_properties[i].name) == 0) {
				return kql_word(p, kql_properties[i].type,
						kql_properties[i].header,
						kql_unquote(colon + 1));
			}
		}
	}
	return kql_word(p, SEARCH_TEXT, NULL, kql_unquote(token));
}

enum as_search_query_result
as_search_kql_parse(struct mail_search_args *args, const char *text,
		    enum as_search_kql_attachments *attachments_r,
		    const char **error_r)
{
	struct kql_parser p;
	const char *start;
	bool quoted;

	i_zero(&p);
	p.args = args;
	p.attachments = AS_SEARCH_KQL_ATTACHMENTS_ANY;
	*attachments_r = p.attachments;
	if (strlen(text) > AS_SEARCH_MAX_FREETEXT) {
		*error_r = t_strdup_printf("FreeText longer than %u bytes",
					   AS_SEARCH_MAX_FREETEXT);
		return AS_SEARCH_QUERY_TOO_COMPLEX;
	}
	if (!uni_utf8_str_is_valid(text)) {
		*error_r = "FreeText is not valid UTF-8";
		return AS_SEARCH_QUERY_INVALID;
	}
	while (*text != '\0') {
		while (kql_is_space(*text))
			text++;
		if (*text == '\0')
			break;
		/* a token ends at a space outside quotes */
		start = text;
		quoted = FALSE;
		for (; *text != '\0'; text++) {
			if (*text == '"')
				quoted = !quoted;
			else if (!quoted && kql_is_space(*text))
				break;
		}
		if (quoted) {
			*error_r = "unbalanced quotes";
			return AS_SEARCH_QUERY_INVALID;
		}
		if (!kql_token(&p, t_strdup_until(start, text))) {
			*error_r = p.error;
			return p.terms > AS_SEARCH_MAX_TERMS ?
				AS_SEARCH_QUERY_TOO_COMPLEX :
				AS_SEARCH_QUERY_INVALID;
		}
	}
	if (p.terms == 0 && p.attachments == AS_SEARCH_KQL_ATTACHMENTS_ANY) {
		*error_r = "empty FreeText";
		return AS_SEARCH_QUERY_INVALID;
	}
	*attachments_r = p.attachments;
	return AS_SEARCH_QUERY_OK;
}
