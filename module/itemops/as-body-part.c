/* Copyright (c) dovecot-activesync authors, see the included COPYING file */

#include "lib.h"
#include "str.h"
#include "strnum.h"
#include "unichar.h"
#include "mail-storage.h"
#include "wbxml.h"
#include "items/as-body.h"
#include "items/as-body-prefs.h"
#include "itemops/as-body-part.h"

/* MS-ASAIRS BodyPart Status */
#define BODY_PART_STATUS_OK 1
#define BODY_PART_STATUS_TOO_LARGE 176
#define BODY_PART_MAX_PREVIEW 255

enum as_body_part_parse_result
as_body_part_pref_parse(const struct wbxml_node *node,
			struct as_body_part_pref *pref_r,
			const char **error_r)
{
	const char *value;
	uintmax_t size;
	unsigned int num;

	i_zero(pref_r);
	pref_r->truncation_size = AS_TRUNCATION_NONE;
	value = wbxml_node_child_text(node, EAS_AIRSYNCBASE_TYPE);
	if (value == NULL || str_to_uint(value, &num) < 0) {
		*error_r = "BodyPartPreference without a valid Type";
		return AS_BODY_PART_PREF_INVALID;
	}
	if (num != AS_BODY_TYPE_HTML) {
		*error_r = t_strdup_printf("BodyPartPreference Type %u "
					   "(only 2, HTML, is served)", num);
		return AS_BODY_PART_PREF_TYPE_NOT_SUPPORTED;
	}
	value = wbxml_node_child_text(node, EAS_AIRSYNCBASE_TRUNCATIONSIZE);
	if (value != NULL) {
		if (str_to_uintmax(value, &size) < 0) {
			*error_r = "Invalid BodyPartPreference TruncationSize";
			return AS_BODY_PART_PREF_INVALID;
		}
		pref_r->truncation_size = size >= 0xffffffffU ?
			AS_TRUNCATION_NONE : (uoff_t)size;
	}
	value = wbxml_node_child_text(node, EAS_AIRSYNCBASE_ALLORNONE);
	if (value != NULL) {
		if (str_to_uint(value, &num) < 0 || num > 1) {
			*error_r = "Invalid BodyPartPreference AllOrNone";
			return AS_BODY_PART_PREF_INVALID;
		}
		pref_r->all_or_none = num == 1;
	}
	value = wbxml_node_child_text(node, EAS_AIRSYNCBASE_PREVIEW);
	if (value != NULL) {
		if (str_to_uint(value, &num) < 0 ||
		    num > BODY_PART_MAX_PREVIEW) {
			*error_r = "Invalid BodyPartPreference Preview";
			return AS_BODY_PART_PREF_INVALID;
		}
		pref_r->preview = num;
	}
	return AS_BODY_PART_PREF_OK;
}

/* The first chars characters of text with runs of white space as one
   space */
static const char *body_part_preview(const char *text, unsigned int chars)
{
	string_t *dest = t_str_new(chars + 16);
	const unsigned char *p = (const unsigned char *)text;
	unsigned int count = 0;
	bool space = FALSE;
	int len;

	while (*p != '\0' && count < chars) {
		if (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') {
			space = str_len(dest) > 0;
			p++;
			continue;
		}
		if (space) {
			str_append_c(dest, ' ');
			space = FALSE;
			if (++count == chars)
				break;
		}
		len = uni_utf8_char_bytes(*p);
		if (len <= 0 || strnlen((const char *)p, len) < (size_t)len)
			break;
		str_append_data(dest, p, len);
		p += len;
		count++;
	}
	return str_c(dest);
}

int as_body_part_write(struct wbxml_writer *w, struct mail *mail,
		       const struct as_body_part_pref *pref,
		       const char **error_r)
{
	struct as_body_info info;
	const char *html;
	uoff_t full_size;
	size_t len, kept;
	bool truncated = FALSE, have_data = TRUE;
	unsigned int status = BODY_PART_STATUS_OK;

	if (as_body_parse(pool_datastack_create(), mail,
			  AS_BODY_PART_MAX_SIZE, FALSE, &info, error_r) < 0)
		return -1;
	html = as_body_text(&info, AS_BODY_TYPE_HTML, &full_size);
	if (html == NULL)
		html = "";
	kept = strlen(html);
	len = kept;
	if (full_size > kept &&
	    (pref->truncation_size == AS_TRUNCATION_NONE ||
	     pref->truncation_size > kept)) {
		/* more than this server converts was asked for */
		status = BODY_PART_STATUS_TOO_LARGE;
		have_data = FALSE;
	} else if (pref->truncation_size != AS_TRUNCATION_NONE &&
		   full_size > pref->truncation_size) {
		truncated = TRUE;
		if (pref->all_or_none)
			have_data = FALSE;
		else {
			len = as_body_utf8_truncate(html, kept,
						    pref->truncation_size);
		}
	}

	wbxml_start(w, EAS_AIRSYNCBASE_BODYPART);
	wbxml_elem_uint(w, EAS_AIRSYNCBASE_STATUS, status);
	wbxml_elem_uint(w, EAS_AIRSYNCBASE_TYPE, AS_BODY_TYPE_HTML);
	wbxml_elem_str(w, EAS_AIRSYNCBASE_ESTIMATEDDATASIZE,
		       dec2str(full_size));
	if (truncated)
		wbxml_elem_uint(w, EAS_AIRSYNCBASE_TRUNCATED, 1);
	if (have_data) {
		wbxml_start(w, EAS_AIRSYNCBASE_DATA);
		wbxml_text_n(w, html, len);
		wbxml_end(w);
	}
	if (pref->preview > 0 && status == BODY_PART_STATUS_OK) {
		uoff_t plain_size;
		const char *plain = as_body_text(&info, AS_BODY_TYPE_PLAIN,
						 &plain_size);

		wbxml_elem_str(w, EAS_AIRSYNCBASE_PREVIEW,
			       body_part_preview(plain == NULL ? "" : plain,
						 pref->preview));
	}
	wbxml_end(w);
	return 0;
}
