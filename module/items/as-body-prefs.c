/* Copyright (c) dovecot-activesync authors, see the included COPYING file */

#include "lib.h"
#include "str.h"
#include "wbxml.h"
#include "items/as-body.h"
#include "items/as-body-prefs.h"

void as_body_options_init(struct as_body_options *opts_r)
{
	i_zero(opts_r);
	opts_r->mime_truncation = AS_TRUNCATION_NONE;
	opts_r->truncation = AS_TRUNCATION_NONE;
}

static const struct as_body_pref *
body_pref_find(const struct as_body_options *opts, unsigned int type)
{
	unsigned int i;

	for (i = 0; i < opts->pref_count; i++) {
		if (opts->prefs[i].type == type)
			return &opts->prefs[i];
	}
	return NULL;
}

static void html_escape(string_t *dest, const char *text)
{
	for (; *text != '\0'; text++) {
		switch (*text) {
		case '<': str_append(dest, "&lt;"); break;
		case '>': str_append(dest, "&gt;"); break;
		case '&': str_append(dest, "&amp;"); break;
		case '"': str_append(dest, "&quot;"); break;
		case '\n': str_append(dest, "<br>\n"); break;
		case '\r': break;
		default: str_append_c(dest, *text); break;
		}
	}
}

void as_body_write_text(struct wbxml_writer *w, const char *text,
			const struct as_body_options *opts)
{
	const struct as_body_pref *pref;
	unsigned int type = AS_BODY_TYPE_PLAIN;
	uoff_t truncation = opts->truncation;
	size_t full_size, size;
	bool all_or_none = FALSE;

	pref = body_pref_find(opts, AS_BODY_TYPE_PLAIN);
	if (pref == NULL && (pref = body_pref_find(opts,
						   AS_BODY_TYPE_HTML)) != NULL) {
		string_t *html = t_str_new(strlen(text) + 64);

		str_append(html, "<html><body>");
		html_escape(html, text);
		str_append(html, "</body></html>");
		text = str_c(html);
		type = AS_BODY_TYPE_HTML;
	}
	if (pref == NULL && opts->pref_count > 0)
		pref = &opts->prefs[0];
	if (pref != NULL) {
		truncation = pref->truncation_size;
		all_or_none = pref->all_or_none;
	}
	full_size = size = strlen(text);
	if (truncation != AS_TRUNCATION_NONE && full_size > truncation) {
		size = all_or_none ? 0 :
			as_body_utf8_truncate(text, full_size, truncation);
	}

	wbxml_start(w, EAS_AIRSYNCBASE_BODY);
	wbxml_elem_uint(w, EAS_AIRSYNCBASE_TYPE, type);
	wbxml_elem_uint(w, EAS_AIRSYNCBASE_ESTIMATEDDATASIZE, full_size);
	if (size < full_size)
		wbxml_elem_uint(w, EAS_AIRSYNCBASE_TRUNCATED, 1);
	if (size == 0 && full_size > 0)
		; /* AllOrNone and too large: no data */
	else if (size == 0)
		wbxml_empty(w, EAS_AIRSYNCBASE_DATA);
	else {
		wbxml_start(w, EAS_AIRSYNCBASE_DATA);
		wbxml_text_n(w, text, size);
		wbxml_end(w);
	}
	wbxml_end(w);
}
