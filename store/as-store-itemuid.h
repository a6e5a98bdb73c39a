#ifndef AS_STORE_ITEMUID_H
#define AS_STORE_ITEMUID_H

#include "as-store.h"

/* Item UID history: for each groupware item (its vCard / iCalendar UID)
   in a folder, the IMAP UIDs its message had, oldest first. An edit
   (from a device or over IMAP) replaces the message; with this history a
   device that saw the old message is sent a Change of the item it has
   instead of a Delete and an Add. One record per item, not per message:
   edits don't make it grow past AS_STORE_ITEMUID_HISTORY_MAX UIDs. */
#define AS_STORE_ITEMUID_HISTORY_MAX 8

struct as_store_itemuid_update {
	const char *item_uid;
	uint32_t uid;
};
ARRAY_DEFINE_TYPE(as_store_itemuid_update, struct as_store_itemuid_update);

/* The UIDs recorded for item_uid (oldest first). Returns 1 found, 0 not
   found (uids_r empty), -1 with error_r. uids_r is allocated from pool. */
int as_store_itemuid_get(struct as_store *store, pool_t pool,
			 const char *user, const guid_128_t box_guid,
			 const char *item_uid, ARRAY_TYPE(uint32_t) *uids_r,
			 const char **error_r);
/* Append each update's UID to its item's history (unless it is there
   already), all in one transaction. Returns 0 or -1 with error_r. */
int as_store_itemuid_record(struct as_store *store, const char *user,
			    const guid_128_t box_guid,
			    const struct as_store_itemuid_update *updates,
			    unsigned int count, const char **error_r);

#endif
