#ifndef AS_SYNC_OPTIONS_H
#define AS_SYNC_OPTIONS_H

#include "items/as-body-prefs.h"

struct wbxml_node;

/* The Options of a Sync collection. They are kept with the collection
   state, so a later Sync without Options uses the same ones. */
struct as_sync_options {
	/* 0 = all ... 7 = six months, 8 = incomplete tasks */
	unsigned int filter_type;
	unsigned int conflict;		/* 0 = client wins, 1 = server wins */
	struct as_body_options body;
};

void as_sync_options_init(struct as_sync_options *opts_r);

/* Parse a collection's Options element. Returns 1 if opts were set, 0 if
   the Options are for another class (SMS in 14.x; opts untouched), or -1
   with error_r when they are malformed (the caller answers Status 4). */
int as_sync_options_parse(const struct wbxml_node *options,
			  struct as_sync_options *opts, const char **error_r);

/* Serialize for the collection state and back. Unknown keys are ignored
   when reading, so later versions can add fields. */
void as_sync_options_write(string_t *dest, const struct as_sync_options *opts);
void as_sync_options_read(const char *str, struct as_sync_options *opts_r);

bool as_sync_options_filter_equals(const struct as_sync_options *a,
				   const struct as_sync_options *b);

/* Oldest received date the filter lets through, 0 for no filter. */
/* FilterType 8 (MS-ASCMD): tasks only, by content (items/as-task.c) */
#define AS_SYNC_FILTER_INCOMPLETE_TASKS 8

time_t as_sync_filter_since(unsigned int filter_type, time_t now);

#endif
