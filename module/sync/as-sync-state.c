/* Copyright (c) the dovecot-activesync authors, see AUTHORS */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "strnum.h"
#include "imap-seqset.h"
#include "imap-util.h"
#include "sync/as-sync-state.h"

const char *as_sync_state_extra_write(const struct as_sync_state_extra *extra)
{
	string_t *str = t_str_new(128);

	as_sync_options_write(str, &extra->options);
	if (extra->full)
		str_append(str, " full=1");
	if (extra->max_age > 0)
		str_printfa(str, " ma=%u", extra->max_age);
	if (array_is_created(&extra->pending_changes) &&
	    array_count(&extra->pending_changes) > 0) {
		str_append(str, " pc=");
		imap_write_seq_range(str, &extra->pending_changes);
	}
	return str_c(str);
}

void as_sync_state_extra_read(const char *str,
			      struct as_sync_state_extra *extra_r)
{
	const char *const *args;

	i_zero(extra_r);
	as_sync_options_read(str, &extra_r->options);
	t_array_init(&extra_r->pending_changes, 8);
	for (args = t_strsplit_spaces(str, " "); *args != NULL; args++) {
		if (strcmp(*args, "full=1") == 0)
			extra_r->full = TRUE;
		else if (str_begins(*args, "ma=")) {
			if (str_to_uint(*args + 3, &extra_r->max_age) < 0)
				extra_r->max_age = 0;
		} else if (str_begins(*args, "pc=")) {
			if (imap_seq_set_nostar_parse(*args + 3,
					&extra_r->pending_changes) < 0)
				array_clear(&extra_r->pending_changes);
		}
	}
}

time_t as_sync_state_since(unsigned int filter_type, unsigned int max_age,
			   time_t now)
{
	time_t since = as_sync_filter_since(filter_type, now);
	time_t limit;

	if (max_age == 0)
		return since;
	limit = now - (time_t)max_age;
	return since == 0 || limit > since ? limit : since;
}
