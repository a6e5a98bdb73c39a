/* Copyright (c) dovecot-activesync authors, see the included COPYING file */

#include "lib.h"
#include "str.h"
#include "wbxml.h"
#include "items/as-body.h"
#include "sync/as-sync-options.h"

/* FilterType -> age in days (MS-ASCMD 2.2.3.71.2); 0 = everything.
   Email officially stops at 5 (one month); 6 and 7 (three and six
   months) are accepted too since some clients send them, 8 (incomplete
   tasks) means nothing for mail and is treated as "all". */
static const unsigned int filter_days[] = {
	0, 1, 3, 7, 14, 30, 90, 180, 0
};

/* 12.x MIMETruncation / Truncation codes -> bytes */
static const uoff_t legacy_truncation_sizes[] = {
	0, 4096, 5120, 7168, 10240, 20480, 51200, 102400,
	AS_TRUNCATION_NONE, AS_TRUNCATION_NONE
};

void as_sync_options_init(struct as_sync_options *opts_r)
{
	i_zero(opts_r);
	opts_r->conflict = 1;
	as_body_options_init(&opts_r->body);
}

static int parse_uint(const char *str, unsigned int max, unsigned int *num_r)
{
	if (str_to_uint(str, num_r) < 0 || *num_r > max)
		return -1;
	return 0;
}

static int
parse_body_pref(const struct wbxml_node *node, struct as_body_pref *pref,
		const char **error_r)
{
	const char *value;
	unsigned int num;

	i_zero(pref);
	pref->truncation_size = AS_TRUNCATION_NONE;
	value = wbxml_node_child_text(node, EAS_AIRSYNCBASE_TYPE);
	if (value == NULL || parse_uint(value, AS_BODY_TYPE_MIME, &num) < 0 ||
	    num == 0) {
		*error_r = "BodyPreference without a valid Type";
		return -1;
	}
	pref->type = num;
	value = wbxml_node_child_text(node, EAS_AIRSYNCBASE_TRUNCATIONSIZE);
	if (value != NULL) {
		uintmax_t size;

		if (str_to_uintmax(value, &size) < 0) {
			*error_r = "Invalid TruncationSize";
			return -1;
		}
		/* 4294967295 is used by some clients for "everything" */
		pref->truncation_size = size >= 0xffffffffU ?
			AS_TRUNCATION_NONE : (uoff_t)size;
	}
	value = wbxml_node_child_text(node, EAS_AIRSYNCBASE_ALLORNONE);
	if (value != NULL) {
		if (parse_uint(value, 1, &num) < 0) {
			*error_r = "Invalid AllOrNone";
			return -1;
		}
		pref->all_or_none = num == 1;
	}
	value = wbxml_node_child_text(node, EAS_AIRSYNCBASE_PREVIEW);
	if (value != NULL) {
		if (parse_uint(value, 255, &num) < 0) {
			*error_r = "Invalid Preview";
			return -1;
		}
		pref->preview = num;
	}
	return 0;
}

int as_sync_options_parse(const struct wbxml_node *options,
			  struct as_sync_options *opts, const char **error_r)
{
	const struct wbxml_node *child;
	const char *value, *class_name;
	unsigned int num;

	class_name = wbxml_node_child_text(options, EAS_AIRSYNC_CLASS);
	if (class_name != NULL && strcmp(class_name, "Email") != 0) {
		/* e.g. SMS options of a 14.x Inbox: not synced here */
		return 0;
	}
	as_sync_options_init(opts);
	wbxml_node_foreach_child(options, child) {
		value = wbxml_node_text(child);
		switch (child->tag) {
		case EAS_AIRSYNC_CLASS:
			break;
		case EAS_AIRSYNC_FILTERTYPE:
			if (parse_uint(value, N_ELEMENTS(filter_days) - 1,
				       &opts->filter_type) < 0) {
				*error_r = t_strdup_printf(
					"Invalid FilterType '%s'", value);
				return -1;
			}
			break;
		case EAS_AIRSYNC_CONFLICT:
			if (parse_uint(value, 1, &opts->conflict) < 0) {
				*error_r = "Invalid Conflict";
				return -1;
			}
			break;
		case EAS_AIRSYNC_MIMESUPPORT:
			if (parse_uint(value, 2, &opts->body.mime_support) < 0) {
				*error_r = "Invalid MIMESupport";
				return -1;
			}
			opts->body.have_mime_support = TRUE;
			break;
		case EAS_AIRSYNC_MIMETRUNCATION:
			if (parse_uint(value, 8, &num) < 0) {
				*error_r = "Invalid MIMETruncation";
				return -1;
			}
			opts->body.mime_truncation = legacy_truncation_sizes[num];
			break;
		case EAS_AIRSYNC_TRUNCATION:
			if (parse_uint(value, 9, &num) < 0) {
				*error_r = "Invalid Truncation";
				return -1;
			}
			opts->body.truncation = legacy_truncation_sizes[num];
			break;
		case EAS_AIRSYNCBASE_BODYPREFERENCE:
			if (opts->body.pref_count == AS_MAX_BODY_PREFS) {
				*error_r = "Too many BodyPreference elements";
				return -1;
			}
			if (parse_body_pref(child,
				&opts->body.prefs[opts->body.pref_count],
				error_r) < 0)
				return -1;
			opts->body.pref_count++;
			break;
		default:
			/* RightsManagementSupport, BodyPartPreference,
			   MaxItems, ...: not used for mail here */
			break;
		}
	}
	return 1;
}

static void write_size(string_t *dest, uoff_t size)
{
	if (size == AS_TRUNCATION_NONE)
		str_append_c(dest, '-');
	else
		str_printfa(dest, "%"PRIuUOFF_T, size);
}

static uoff_t read_size(const char *str)
{
	uoff_t size;

	if (strcmp(str, "-") == 0 || str_to_uoff(str, &size) < 0)
		return AS_TRUNCATION_NONE;
	return size;
}

void as_sync_options_write(string_t *dest, const struct as_sync_options *opts)
{
	unsigned int i;

	str_printfa(dest, "f=%u c=%u", opts->filter_type, opts->conflict);
	if (opts->body.have_mime_support)
		str_printfa(dest, " ms=%u", opts->body.mime_support);
	str_append(dest, " mt=");
	write_size(dest, opts->body.mime_truncation);
	str_append(dest, " t=");
	write_size(dest, opts->body.truncation);
	for (i = 0; i < opts->body.pref_count; i++) {
		const struct as_body_pref *pref = &opts->body.prefs[i];

		str_printfa(dest, " b=%u,", pref->type);
		write_size(dest, pref->truncation_size);
		str_printfa(dest, ",%u,%u", pref->all_or_none ? 1 : 0,
			    pref->preview);
	}
}

void as_sync_options_read(const char *str, struct as_sync_options *opts_r)
{
	const char *const *args, *key, *value, *const *fields;
	unsigned int num;

	as_sync_options_init(opts_r);
	for (args = t_strsplit_spaces(str, " "); *args != NULL; args++) {
		value = strchr(*args, '=');
		if (value == NULL)
			continue;
		key = t_strdup_until(*args, value++);
		if (strcmp(key, "f") == 0) {
			if (parse_uint(value, N_ELEMENTS(filter_days) - 1,
				       &num) == 0)
				opts_r->filter_type = num;
		} else if (strcmp(key, "c") == 0) {
			if (parse_uint(value, 1, &num) == 0)
				opts_r->conflict = num;
		} else if (strcmp(key, "ms") == 0) {
			if (parse_uint(value, 2, &num) == 0) {
				opts_r->body.mime_support = num;
				opts_r->body.have_mime_support = TRUE;
			}
		} else if (strcmp(key, "mt") == 0) {
			opts_r->body.mime_truncation = read_size(value);
		} else if (strcmp(key, "t") == 0) {
			opts_r->body.truncation = read_size(value);
		} else if (strcmp(key, "b") == 0 &&
			   opts_r->body.pref_count < AS_MAX_BODY_PREFS) {
			struct as_body_pref *pref;

			fields = t_strsplit(value, ",");
			if (str_array_length(fields) != 4 ||
			    parse_uint(fields[0], AS_BODY_TYPE_MIME, &num) < 0)
				continue;
			pref = &opts_r->body.prefs[opts_r->body.pref_count++];
			pref->type = num;
			pref->truncation_size = read_size(fields[1]);
			pref->all_or_none = strcmp(fields[2], "1") == 0;
			if (parse_uint(fields[3], 255, &num) == 0)
				pref->preview = num;
		}
	}
}

bool as_sync_options_filter_equals(const struct as_sync_options *a,
				   const struct as_sync_options *b)
{
	/* 8 (incomplete tasks) selects by content, not by date */
	return filter_days[a->filter_type] == filter_days[b->filter_type] &&
		(a->filter_type == AS_SYNC_FILTER_INCOMPLETE_TASKS) ==
		(b->filter_type == AS_SYNC_FILTER_INCOMPLETE_TASKS);
}

time_t as_sync_filter_since(unsigned int filter_type, time_t now)
{
	i_assert(filter_type < N_ELEMENTS(filter_days));
	if (filter_days[filter_type] == 0)
		return 0;
	return now - (time_t)filter_days[filter_type] * 24 * 3600;
}
