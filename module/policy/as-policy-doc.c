/* Copyright (c) the dovecot-activesync authors, see AUTHORS */

#include "lib.h"
#include "wbxml.h"
#include "as-request.h"
#include "as-policy.h"

/* The EASProvisionDoc writer (the service only; the table and the
   levels are also linked into the doveadm plugin). */

static void
as_policy_write_list(struct wbxml_writer *w,
		     const struct as_policy_setting *setting,
		     const char *value)
{
	const char *const *items;

	if (*value == '\0') {
		wbxml_empty(w, setting->tag);
		return;
	}
	wbxml_start(w, setting->tag);
	for (items = t_strsplit(value, ","); *items != NULL; items++) {
		const char *item = t_str_trim(*items, " \t");

		if (*item != '\0')
			wbxml_elem_str(w, setting->item_tag, item);
	}
	wbxml_end(w);
}

void as_policy_write_doc(struct wbxml_writer *w, unsigned int version,
			 const char *const *values)
{
	unsigned int i;

	wbxml_start(w, EAS_PROVISION_EASPROVISIONDOC);
	for (i = 0; i < as_policy_settings_count; i++) {
		const struct as_policy_setting *setting = &as_policy_settings[i];
		const char *value = as_policy_get(values, i);

		if ((setting->flags & AS_POLICY_FLAG_SERVER) != 0 ||
		    version < setting->min_version)
			continue;
		if (setting->type == AS_POLICY_TYPE_LIST) T_BEGIN {
			as_policy_write_list(w, setting, value);
		} T_END;
		else if (*value == '\0') {
			/* not set / no limit: an empty element */
			wbxml_empty(w, setting->tag);
		} else {
			wbxml_elem_str(w, setting->tag, value);
		}
	}
	wbxml_end(w);
}
