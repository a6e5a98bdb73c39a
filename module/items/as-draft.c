/* Copyright (c) dovecot-activesync authors, see the included COPYING file */

#include "lib.h"
#include "str.h"
#include "strnum.h"
#include "ioloop.h"
#include "hostpid.h"
#include "unichar.h"
#include "message-date.h"
#include "message-address.h"
#include "message-header-encode.h"
#include "qp-encoder.h"
#include "mail-storage.h"
#include "wbxml.h"
#include "items/as-body.h"
#include "items/as-draft.h"

#define AS_DRAFT_MAX_ADDRESSES 1000
#define AS_DRAFT_MAX_BODY (16*1024*1024)

static const unsigned int draft_content_tags[] = {
	EAS_EMAIL_TO, EAS_EMAIL_CC, EAS_EMAIL2_BCC, EAS_EMAIL_SUBJECT,
	EAS_EMAIL_IMPORTANCE, EAS_AIRSYNCBASE_BODY,
};

bool as_draft_has_content(const struct wbxml_node *data)
{
	unsigned int i;

	for (i = 0; i < N_ELEMENTS(draft_content_tags); i++) {
		if (wbxml_node_child(data, draft_content_tags[i]) != NULL)
			return TRUE;
	}
	return FALSE;
}

static bool str_is_ascii(const char *str)
{
	for (; *str != '\0'; str++) {
		if ((unsigned char)*str >= 0x80)
			return FALSE;
	}
	return TRUE;
}

const char *as_draft_utf8_valid(const char *value)
{
	string_t *valid = t_str_new(strlen(value) + 8);

	if (uni_utf8_get_valid_data((const unsigned char *)value,
				    strlen(value), valid))
		return value;
	return str_c(valid);
}

const char *as_draft_header_text(const char *value)
{
	string_t *out;
	const char *p;

	value = as_draft_utf8_valid(value);
	out = t_str_new(strlen(value) + 1);
	for (p = value; *p != '\0'; p++)
		str_append_c(out, *p == '\r' || *p == '\n' ? ' ' : *p);
	return str_c(out);
}

static void address_list_append(string_t *dest, const char *name,
				const char *value)
{
	struct message_address *addr;
	bool first = TRUE;

	value = as_draft_header_text(value);
	addr = message_address_parse(pool_datastack_create(),
				     (const unsigned char *)value,
				     strlen(value), AS_DRAFT_MAX_ADDRESSES, 0);
	for (; addr != NULL; addr = addr->next) {
		if (addr->mailbox == NULL || *addr->mailbox == '\0' ||
		    addr->domain == NULL)
			continue;
		str_append(dest, first ? name : ",\r\n\t");
		if (first)
			str_append(dest, ": ");
		first = FALSE;
		if (addr->name != NULL && *addr->name != '\0') {
			if (str_is_ascii(addr->name)) {
				str_append_c(dest, '"');
				for (const char *p = addr->name; *p != '\0';
				     p++) {
					if (*p == '"' || *p == '\\')
						str_append_c(dest, '\\');
					str_append_c(dest, *p);
				}
				str_append_c(dest, '"');
			} else {
				message_header_encode(addr->name, dest);
			}
			str_append_c(dest, ' ');
		}
		str_printfa(dest, "<%s%s%s>", addr->mailbox,
			    *addr->domain == '\0' ? "" : "@", addr->domain);
	}
	if (!first)
		str_append(dest, "\r\n");
}

static const char *base_header(struct mail *base, const char *name)
{
	const char *value;

	if (base == NULL || mail_get_first_header_utf8(base, name, &value) <= 0)
		return NULL;
	return value;
}

/* The device's value, or the base message's, or NULL */
static const char *
draft_field(const struct wbxml_node *data, unsigned int tag,
	    struct mail *base, const char *header)
{
	const struct wbxml_node *node = wbxml_node_child(data, tag);

	if (node != NULL)
		return wbxml_node_text(node);
	return base_header(base, header);
}

static const char *importance_header(const char *value)
{
	unsigned int num;

	if (value == NULL || str_to_uint(value, &num) < 0 || num == 1)
		return NULL;
	return num == 0 ? "low" : "high";
}

int as_draft_body_text(const struct wbxml_node *body, const char **text_r,
		       bool *html_r, const char **error_r)
{
	const char *type;
	unsigned int num;

	type = wbxml_node_child_text(body, EAS_AIRSYNCBASE_TYPE);
	if (type == NULL || str_to_uint(type, &num) < 0 ||
	    (num != AS_BODY_TYPE_PLAIN && num != AS_BODY_TYPE_HTML)) {
		*error_r = "Body must be plain text or HTML";
		return -1;
	}
	*html_r = num == AS_BODY_TYPE_HTML;
	body = wbxml_node_child(body, EAS_AIRSYNCBASE_DATA);
	*text_r = body == NULL ? "" : wbxml_node_text(body);
	return 0;
}

void as_draft_append_qp(string_t *dest, const char *text)
{
	struct qp_encoder *qp;

	text = as_draft_utf8_valid(text);
	qp = qp_encoder_init(dest, 76, 0);
	qp_encoder_more(qp, text, strlen(text));
	qp_encoder_finish(qp);
	qp_encoder_deinit(&qp);
	str_append(dest, "\r\n");
}

void as_draft_append_text_body(string_t *dest, const char *text, bool html)
{
	str_printfa(dest, "MIME-Version: 1.0\r\n"
		    "Content-Type: text/%s; charset=utf-8\r\n"
		    "Content-Transfer-Encoding: quoted-printable\r\n\r\n",
		    html ? "html" : "plain");
	as_draft_append_qp(dest, text);
}

static int
draft_body(const struct wbxml_node *data, struct mail *base,
	   const char **text_r, bool *html_r, const char **error_r)
{
	const struct wbxml_node *body;
	struct as_body_info info;
	uoff_t full;

	body = wbxml_node_child(data, EAS_AIRSYNCBASE_BODY);
	if (body != NULL)
		return as_draft_body_text(body, text_r, html_r, error_r);
	*html_r = FALSE;
	*text_r = "";
	if (base == NULL)
		return 0;
	/* keep the current draft's text */
	if (as_body_parse(pool_datastack_create(), base, AS_DRAFT_MAX_BODY,
			  FALSE, &info, error_r) < 0)
		return -1;
	*html_r = info.html != NULL;
	*text_r = as_body_text(&info, *html_r ? AS_BODY_TYPE_HTML :
			       AS_BODY_TYPE_PLAIN, &full);
	return 0;
}

int as_draft_build(const struct wbxml_node *data, struct mail *base,
		   const char *from, string_t *dest, const char **error_r)
{
	const char *value, *text;
	bool html;

	if (draft_body(data, base, &text, &html, error_r) < 0)
		return -1;

	str_printfa(dest, "From: <%s>\r\n", as_draft_header_text(from));
	if ((value = draft_field(data, EAS_EMAIL_TO, base, "To")) != NULL)
		address_list_append(dest, "To", value);
	if ((value = draft_field(data, EAS_EMAIL_CC, base, "Cc")) != NULL)
		address_list_append(dest, "Cc", value);
	if ((value = draft_field(data, EAS_EMAIL2_BCC, base, "Bcc")) != NULL)
		address_list_append(dest, "Bcc", value);
	value = draft_field(data, EAS_EMAIL_SUBJECT, base, "Subject");
	if (value != NULL && *value != '\0') {
		str_append(dest, "Subject: ");
		message_header_encode(as_draft_header_text(value), dest);
		str_append(dest, "\r\n");
	}
	value = wbxml_node_child_text(data, EAS_EMAIL_IMPORTANCE);
	value = value != NULL ? importance_header(value) :
		base_header(base, "Importance");
	if (value != NULL)
		str_printfa(dest, "Importance: %s\r\n",
			    as_draft_header_text(value));
	str_printfa(dest, "Date: %s\r\n", message_date_create(ioloop_time));
	str_printfa(dest, "Message-ID: <%s.%s@%s>\r\n", dec2str(ioloop_time),
		    dec2str(ioloop_timeval.tv_usec ^ (unsigned int)getpid()),
		    my_hostname);
	as_draft_append_text_body(dest, text, html);
	return 0;
}
