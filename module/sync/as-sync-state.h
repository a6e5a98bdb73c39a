#ifndef AS_SYNC_STATE_H
#define AS_SYNC_STATE_H

#include "seq-range-array.h"
#include "sync/as-sync-options.h"

/* What Sync keeps in a collection state's options string besides the
   Options themselves: "full=1" (compare the whole folder next time),
   "ma=<secs>" (the server-side mail age limit in effect) and
   "pc=<uid set>" (flag changes still to send). Sync writes it; Sync and
   GetItemEstimate read it. */
struct as_sync_state_extra {
	struct as_sync_options options;
	bool full;
	/* seconds, 0 = none */
	unsigned int max_age;
	ARRAY_TYPE(seq_range) pending_changes;
};

const char *as_sync_state_extra_write(const struct as_sync_state_extra *extra);
/* Unknown or malformed fields are ignored: an old state stays usable. */
void as_sync_state_extra_read(const char *str,
			      struct as_sync_state_extra *extra_r);

/* Oldest received date to sync: the FilterType, narrowed by a mail age
   limit (seconds, 0 = none). 0 = no limit at all. */
time_t as_sync_state_since(unsigned int filter_type, unsigned int max_age,
			   time_t now);

#endif
