#ifndef AS_SYNC_STATE_H
#define AS_SYNC_STATE_H

#include "seq-range-array.h"
#include "sync/as-sync-options.h"

/* What Sync keeps in a collection state's options string besides the
   Options themselves: "full=1" (compare the whole folder next time),
   "ma=<secs>" (the server-side mail age limit in effect) and
   "pc=<uid set>" (flag changes still to send), "ids=<uid>:<n>,..." (the
   ServerId numbers of items whose message was replaced). Sync writes it;
   Sync and GetItemEstimate read it. */

/* An edit from the device saves a groupware item as a new message (a new
   UID); the device keeps the ServerId it has, whose number is the UID it
   was first sent with. */
struct as_sync_alias {
	uint32_t uid;		/* the message now */
	uint32_t id;		/* the number in the device's ServerId */
};
ARRAY_DEFINE_TYPE(as_sync_alias, struct as_sync_alias);

struct as_sync_state_extra {
	struct as_sync_options options;
	bool full;
	/* seconds, 0 = none */
	unsigned int max_age;
	ARRAY_TYPE(seq_range) pending_changes;
	/* sorted by uid */
	ARRAY_TYPE(as_sync_alias) aliases;
	/* The <Supported> of the first Sync (SyncKey 0): the class's
	   elements the device knows; the others are ghosted, kept as they
	   are when the device's Change omits them. "sup=<tag>,..." */
	bool have_supported;
	ARRAY_TYPE(uint) supported;
};

const char *as_sync_state_extra_write(const struct as_sync_state_extra *extra);
/* Unknown or malformed fields are ignored: an old state stays usable. */
void as_sync_state_extra_read(const char *str,
			      struct as_sync_state_extra *extra_r);

struct as_item_params;
/* The ghosted elements for a device's Change (as_item_params) */
void as_sync_state_supported(const struct as_sync_state_extra *extra,
			     struct as_item_params *params);

/* The ServerId number of the message with this UID */
uint32_t as_sync_state_alias_id(const struct as_sync_state_extra *extra,
				uint32_t uid);
/* The UID of the message a ServerId number names */
uint32_t as_sync_state_alias_uid(const struct as_sync_state_extra *extra,
				 uint32_t id);
/* The UID of the message a device's ServerId number names in a folder,
   by the device's latest collection state of it (an item the device
   edited lives on in a new message). Returns 0, or -1 with error_r (then
   *uid_r = id). */
struct as_store;
int as_sync_state_device_uid(struct as_store *store, const char *user,
			     const char *device_id, const char *folder_id,
			     uint32_t id, uint32_t *uid_r,
			     const char **error_r);
/* The message with ServerId number id is now new_uid (0: gone) */
void as_sync_state_alias_move(struct as_sync_state_extra *extra,
			      uint32_t id, uint32_t new_uid);

/* Oldest received date to sync: the FilterType, narrowed by a mail age
   limit (seconds, 0 = none). 0 = no limit at all. */
time_t as_sync_state_since(unsigned int filter_type, unsigned int max_age,
			   time_t now);

#endif
