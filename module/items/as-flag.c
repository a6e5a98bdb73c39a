/* Copyright (c) dovecot-activesync authors, see the included COPYING file */

#include "lib.h"
#include "str.h"
#include "strescape.h"
#include "strnum.h"
#include "wbxml.h"
#include "items/as-flag.h"

/* Stored form: one line per child element, "f<TAB>tag<TAB>escaped text",
   in the order the device sent them. */
#define AS_FLAG_LINE "f"
#define AS_FLAG_TYPE_DEFAULT "Flag for follow up"
#define AS_FLAG_MAX_CHILDREN 32
#define AS_FLAG_MAX_VALUE 1024

/* Elements a Flag may hold (MS-ASEMAIL 2.2.2.34) */
static const unsigned int flag_children[] = {
	EAS_EMAIL_STATUS, EAS_EMAIL_FLAGTYPE, EAS_EMAIL_COMPLETETIME,
	EAS_TASKS_STARTDATE, EAS_TASKS_UTCSTARTDATE, EAS_TASKS_DUEDATE,
	EAS_TASKS_UTCDUEDATE, EAS_TASKS_DATECOMPLETED, EAS_TASKS_REMINDERSET,
	EAS_TASKS_REMINDERTIME, EAS_TASKS_ORDINALDATE,
	EAS_TASKS_SUBORDINALDATE, EAS_TASKS_SUBJECT,
};

static bool flag_child_known(unsigned int tag)
{
	unsigned int i;

	for (i = 0; i < N_ELEMENTS(flag_children); i++) {
		if (flag_children[i] == tag)
			return TRUE;
	}
	return FALSE;
}

int as_flag_parse(const struct wbxml_node *flag, const char **props_r,
		  enum as_flag_status *status_r, const char **error_r)
{
	const struct wbxml_node *child;
	string_t *str = t_str_new(256);
	unsigned int count = 0, status = 0;
	const char *value;

	*props_r = NULL;
	*status_r = AS_FLAG_STATUS_CLEARED;
	wbxml_node_foreach_child(flag, child) {
		if (!flag_child_known(child->tag)) {
			/* something newer: ignored, not an error */
			continue;
		}
		if (child->children != NULL || child->opaque ||
		    ++count > AS_FLAG_MAX_CHILDREN) {
			*error_r = "Malformed Flag";
			return -1;
		}
		value = wbxml_node_text(child);
		if (strlen(value) > AS_FLAG_MAX_VALUE) {
			*error_r = "Flag value too long";
			return -1;
		}
		if (child->tag == EAS_EMAIL_STATUS &&
		    (str_to_uint(value, &status) < 0 ||
		     status > AS_FLAG_STATUS_ACTIVE)) {
			*error_r = "Invalid FlagStatus";
			return -1;
		}
		str_printfa(str, "%s\t%u\t%s\n", AS_FLAG_LINE, child->tag,
			    str_tabescape(value));
	}
	*status_r = status;
	if (status != AS_FLAG_STATUS_CLEARED)
		*props_r = str_c(str);
	return 0;
}

static unsigned int flag_props_status(const char *const *lines)
{
	const char *const *f;
	unsigned int status;

	for (; *lines != NULL; lines++) {
		f = t_strsplit_tabescaped(*lines);
		if (str_array_length(f) == 3 &&
		    strcmp(f[0], AS_FLAG_LINE) == 0 &&
		    strcmp(f[1], dec2str(EAS_EMAIL_STATUS)) == 0 &&
		    str_to_uint(f[2], &status) == 0)
			return status;
	}
	return AS_FLAG_STATUS_CLEARED;
}

void as_flag_write(struct wbxml_writer *w, bool flagged, const char *props)
{
	const char *const *lines, *const *f;
	unsigned int status, tag;

	lines = props == NULL ? NULL : t_strsplit(props, "\n");
	status = lines == NULL ? AS_FLAG_STATUS_CLEARED :
		flag_props_status(lines);
	if ((flagged && status != AS_FLAG_STATUS_ACTIVE) ||
	    (!flagged && status == AS_FLAG_STATUS_ACTIVE)) {
		/* changed over IMAP since: IMAP wins, dates are gone */
		lines = NULL;
	}
	if (lines == NULL || status == AS_FLAG_STATUS_CLEARED) {
		if (!flagged) {
			wbxml_empty(w, EAS_EMAIL_FLAG);
			return;
		}
		wbxml_start(w, EAS_EMAIL_FLAG);
		wbxml_elem_uint(w, EAS_EMAIL_STATUS, AS_FLAG_STATUS_ACTIVE);
		wbxml_elem_str(w, EAS_EMAIL_FLAGTYPE, AS_FLAG_TYPE_DEFAULT);
		wbxml_end(w);
		return;
	}
	wbxml_start(w, EAS_EMAIL_FLAG);
	for (; *lines != NULL; lines++) {
		f = t_strsplit_tabescaped(*lines);
		if (str_array_length(f) != 3 ||
		    strcmp(f[0], AS_FLAG_LINE) != 0 ||
		    str_to_uint(f[1], &tag) < 0 || !flag_child_known(tag))
			continue;
		wbxml_elem_str(w, tag, f[2]);
	}
	wbxml_end(w);
}
