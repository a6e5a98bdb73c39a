/* Copyright (c) the dovecot-activesync authors, see AUTHORS */

#include "lib.h"
#include "str.h"
#include "base64.h"
#include "strnum.h"
#include "mail-html2text.h"
#include "oof/as-oof.h"

#include <time.h>

/* The script's header comment, one "# key: value" line each; messages
   and the previous script's name in base64 so that any text fits on a
   comment line. The body below it is what Sieve runs. */
#define AS_OOF_KEY_STATE "state"
#define AS_OOF_KEY_START "start"
#define AS_OOF_KEY_END "end"
#define AS_OOF_KEY_PREVIOUS "previous"

static const char *const as_oof_audience_keys[AS_OOF_AUDIENCE_COUNT] = {
	[AS_OOF_AUDIENCE_INTERNAL] = "internal",
	[AS_OOF_AUDIENCE_EXTERNAL_KNOWN] = "external-known",
	[AS_OOF_AUDIENCE_EXTERNAL_UNKNOWN] = "external-unknown",
};

/* A device that sets OOF again within a day does not re-send the reply
   to the same sender (Pigeonhole keeps the per-sender memory) */
#define AS_OOF_VACATION_DAYS 1

const char *as_oof_audience_key(enum as_oof_audience audience)
{
	i_assert(audience < AS_OOF_AUDIENCE_COUNT);
	return as_oof_audience_keys[audience];
}

/* The restricted ISO 8601 form Sieve's currentdate "iso8601" part gives
   in zone +0000 (RFC 5260: "Z" for a zero offset), so that string
   comparison is time comparison */
static const char *as_oof_sieve_time(time_t t)
{
	struct tm *tm = gmtime(&t);

	return t_strdup_printf("%04d-%02d-%02dT%02d:%02d:%02dZ",
			       tm->tm_year + 1900, tm->tm_mon + 1,
			       tm->tm_mday, tm->tm_hour, tm->tm_min,
			       tm->tm_sec);
}

static void as_oof_sieve_string(string_t *dest, const char *value)
{
	str_append_c(dest, '"');
	for (; *value != '\0'; value++) {
		if (*value == '"' || *value == '\\')
			str_append_c(dest, '\\');
		str_append_c(dest, *value);
	}
	str_append_c(dest, '"');
}

static void as_oof_header_b64(string_t *dest, const char *value)
{
	base64_encode(value, strlen(value), dest);
}

static void
as_oof_write_header(const struct as_oof *oof, string_t *dest)
{
	unsigned int i;

	str_append(dest, AS_OOF_SCRIPT_MAGIC"1\n");
	str_append(dest,
		"# The out-of-office reply set from an ActiveSync device.\n"
		"# The device reads the values below back and rewrites the\n"
		"# whole script when the reply is changed there.\n");
	str_printfa(dest, "# "AS_OOF_KEY_STATE": %u\n", oof->state);
	if (oof->state == AS_OOF_STATE_TIME_BASED) {
		str_printfa(dest, "# "AS_OOF_KEY_START": %ld\n",
			    (long)oof->start);
		str_printfa(dest, "# "AS_OOF_KEY_END": %ld\n",
			    (long)oof->end);
	}
	if (oof->previous_script != NULL) {
		str_append(dest, "# "AS_OOF_KEY_PREVIOUS": ");
		as_oof_header_b64(dest, oof->previous_script);
		str_append_c(dest, '\n');
	}
	for (i = 0; i < AS_OOF_AUDIENCE_COUNT; i++) {
		const struct as_oof_message *msg = &oof->messages[i];

		if (!msg->present)
			continue;
		str_printfa(dest, "# %s: %d %s ", as_oof_audience_keys[i],
			    msg->enabled ? 1 : 0, msg->html ? "html" : "text");
		as_oof_header_b64(dest, msg->message == NULL ? "" :
				  msg->message);
		str_append_c(dest, '\n');
	}
}

static bool as_oof_message_active(const struct as_oof_message *msg)
{
	return msg->present && msg->enabled && msg->message != NULL;
}

static void
as_oof_write_vacation(const struct as_oof_message *msg, const char *indent,
		      string_t *dest)
{
	str_printfa(dest, "%svacation :days %d", indent, AS_OOF_VACATION_DAYS);
	if (msg->html) {
		/* :mime: the reason is a MIME entity with its own header */
		str_append(dest, " :mime ");
		as_oof_sieve_string(dest, t_strconcat(
			"Content-Type: text/html; charset=utf-8\n\n",
			msg->message, NULL));
	} else {
		str_append_c(dest, ' ');
		as_oof_sieve_string(dest, msg->message);
	}
	str_append(dest, ";\n");
}

/* internal: the sender's domain is the user's; known: one of the
   addresses given; unknown: everyone else */
static void
as_oof_write_rules(const struct as_oof *oof, const char *domain,
		   const char *const *known_senders, const char *indent,
		   string_t *dest)
{
	const struct as_oof_message *internal =
		&oof->messages[AS_OOF_AUDIENCE_INTERNAL];
	const struct as_oof_message *known =
		&oof->messages[AS_OOF_AUDIENCE_EXTERNAL_KNOWN];
	const struct as_oof_message *unknown =
		&oof->messages[AS_OOF_AUDIENCE_EXTERNAL_UNKNOWN];
	const char *inner = t_strconcat(indent, "\t", NULL);
	unsigned int i;

	str_printfa(dest, "%sif address :domain :is \"from\" ", indent);
	as_oof_sieve_string(dest, domain);
	str_append(dest, " {\n");
	if (as_oof_message_active(internal))
		as_oof_write_vacation(internal, inner, dest);
	str_printfa(dest, "%s}", indent);
	if (as_oof_message_active(known) && known_senders != NULL &&
	    known_senders[0] != NULL) {
		str_append(dest, " elsif address :is \"from\" [");
		for (i = 0; known_senders[i] != NULL; i++) {
			if (i > 0)
				str_append(dest, ", ");
			as_oof_sieve_string(dest, known_senders[i]);
		}
		str_append(dest, "] {\n");
		as_oof_write_vacation(known, inner, dest);
		str_printfa(dest, "%s}", indent);
	}
	if (as_oof_message_active(unknown)) {
		str_append(dest, " else {\n");
		as_oof_write_vacation(unknown, inner, dest);
		str_printfa(dest, "%s}", indent);
	}
	str_append_c(dest, '\n');
}

void as_oof_script_write(const struct as_oof *oof, const char *domain,
			 const char *const *known_senders, string_t *dest)
{
	bool replies = oof->state != AS_OOF_STATE_DISABLED;
	bool window = oof->state == AS_OOF_STATE_TIME_BASED;
	const char *indent = "";

	as_oof_write_header(oof, dest);
	str_append(dest, "\nrequire [\"vacation\"");
	if (window)
		str_append(dest, ", \"date\", \"relational\"");
	if (oof->previous_script != NULL)
		str_append(dest, ", \"include\"");
	str_append(dest, "];\n\n");

	if (replies && window) {
		str_printfa(dest, "if allof (currentdate :zone \"+0000\" "
			    ":value \"ge\" \"iso8601\" \"%s\",\n"
			    "          currentdate :zone \"+0000\" "
			    ":value \"lt\" \"iso8601\" \"%s\") {\n",
			    as_oof_sieve_time(oof->start),
			    as_oof_sieve_time(oof->end));
		indent = "\t";
	}
	if (replies)
		as_oof_write_rules(oof, domain, known_senders, indent, dest);
	if (replies && window)
		str_append(dest, "}\n");

	if (oof->previous_script != NULL) {
		/* The user's own rules run after the reply, whatever they
		   do with the message; :optional: a script deleted over
		   ManageSieve later does not make delivery fail */
		str_append(dest, "\n# the script that was active before\n"
			   "include :personal :optional ");
		as_oof_sieve_string(dest, oof->previous_script);
		str_append(dest, ";\n");
	}
}

static bool as_oof_b64_decode(const char *value, const char **result_r)
{
	buffer_t *buf = t_buffer_create(strlen(value));

	if (base64_decode(value, strlen(value), NULL, buf) < 0 ||
	    memchr(buf->data, '\0', buf->used) != NULL)
		return FALSE;
	*result_r = t_strndup(buf->data, buf->used);
	return TRUE;
}

static bool
as_oof_parse_message(const char *value, struct as_oof_message *msg_r)
{
	const char *const *args = t_strsplit(value, " ");

	if (str_array_length(args) != 3 ||
	    (strcmp(args[0], "0") != 0 && strcmp(args[0], "1") != 0))
		return FALSE;
	if (strcmp(args[1], "html") == 0)
		msg_r->html = TRUE;
	else if (strcmp(args[1], "text") != 0)
		return FALSE;
	if (!as_oof_b64_decode(args[2], &msg_r->message))
		return FALSE;
	msg_r->enabled = args[0][0] == '1';
	msg_r->present = TRUE;
	return TRUE;
}

static bool
as_oof_parse_line(const char *key, const char *value, struct as_oof *oof)
{
	unsigned int i, state;
	long long t;

	if (strcmp(key, AS_OOF_KEY_STATE) == 0) {
		if (str_to_uint(value, &state) < 0 ||
		    state > AS_OOF_STATE_TIME_BASED)
			return FALSE;
		oof->state = state;
		return TRUE;
	}
	if (strcmp(key, AS_OOF_KEY_START) == 0 ||
	    strcmp(key, AS_OOF_KEY_END) == 0) {
		if (str_to_llong(value, &t) < 0 || t < 0)
			return FALSE;
		if (key[0] == 's')
			oof->start = (time_t)t;
		else
			oof->end = (time_t)t;
		return TRUE;
	}
	if (strcmp(key, AS_OOF_KEY_PREVIOUS) == 0)
		return as_oof_b64_decode(value, &oof->previous_script);
	for (i = 0; i < AS_OOF_AUDIENCE_COUNT; i++) {
		if (strcmp(key, as_oof_audience_keys[i]) == 0)
			return as_oof_parse_message(value, &oof->messages[i]);
	}
	/* a key of a later version: not an error */
	return TRUE;
}

int as_oof_script_parse(const char *script, struct as_oof *oof_r)
{
	const char *const *lines, *line, *p;
	bool have_state = FALSE;

	i_zero(oof_r);
	if (!str_begins(script, AS_OOF_SCRIPT_MAGIC))
		return 0;
	lines = t_strsplit(script, "\n");
	for (lines++; *lines != NULL && (*lines)[0] == '#'; lines++) {
		line = *lines;
		if (!str_begins(line, "# "))
			continue;
		p = strstr(line + 2, ": ");
		if (p == NULL)
			continue;
		const char *key = t_strdup_until(line + 2, p);
		if (!as_oof_parse_line(key, p + 2, oof_r)) {
			i_zero(oof_r);
			return 0;
		}
		if (strcmp(key, AS_OOF_KEY_STATE) == 0)
			have_state = TRUE;
	}
	if (!have_state ||
	    (oof_r->state == AS_OOF_STATE_TIME_BASED &&
	     oof_r->start >= oof_r->end)) {
		i_zero(oof_r);
		return 0;
	}
	return 1;
}

static void as_oof_html_escape(string_t *dest, const char *text)
{
	for (; *text != '\0'; text++) {
		switch (*text) {
		case '<':
			str_append(dest, "&lt;");
			break;
		case '>':
			str_append(dest, "&gt;");
			break;
		case '&':
			str_append(dest, "&amp;");
			break;
		case '"':
			str_append(dest, "&quot;");
			break;
		case '\r':
			break;
		case '\n':
			str_append(dest, "<br>\n");
			break;
		default:
			str_append_c(dest, *text);
		}
	}
}

const char *as_oof_message_as(const struct as_oof_message *msg, bool html)
{
	struct mail_html2text *ht;
	string_t *str;

	if (msg->message == NULL)
		return "";
	if (msg->html == html)
		return msg->message;
	str = t_str_new(strlen(msg->message) + 64);
	if (html) {
		str_append(str, "<html><body>");
		as_oof_html_escape(str, msg->message);
		str_append(str, "</body></html>");
	} else {
		ht = mail_html2text_init(0);
		mail_html2text_more(ht, (const void *)msg->message,
				    strlen(msg->message), str);
		mail_html2text_deinit(&ht);
	}
	return str_c(str);
}
