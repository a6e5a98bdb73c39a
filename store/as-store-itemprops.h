#ifndef AS_STORE_ITEMPROPS_H
#define AS_STORE_ITEMPROPS_H

#include "as-store.h"

/* Small text values the mailbox can't hold, in the same LMDB store.
   Return values as in as-store.h: 1 found/ok, 0 not found, -1 error.

   Item properties: one value per message, keyed by (user, mailbox GUID,
   UID), e.g. the EAS flag with its dates (IMAP keeps only \Flagged).
   A new UID is a new message: values of expunged UIDs are garbage that
   callers delete when they see the expunge. */
int as_store_itemprops_get(struct as_store *store, pool_t pool,
			   const char *user, const guid_128_t box_guid,
			   uint32_t uid, const char **value_r,
			   const char **error_r);
int as_store_itemprops_put(struct as_store *store, const char *user,
			   const guid_128_t box_guid, uint32_t uid,
			   const char *value, const char **error_r);
int as_store_itemprops_delete(struct as_store *store, const char *user,
			      const guid_128_t box_guid, uint32_t uid,
			      const char **error_r);

/* Device properties: named values per (user, device), e.g. a per-device
   mail age limit or the counters of item isolation. They survive a
   device reset and go with as_store_device_remove(). */
int as_store_device_prop_get(struct as_store *store, pool_t pool,
			     const char *user, const char *device_id,
			     const char *name, const char **value_r,
			     const char **error_r);
/* value NULL deletes */
int as_store_device_prop_put(struct as_store *store, const char *user,
			     const char *device_id, const char *name,
			     const char *value, const char **error_r);
/* Set name to value only if it has no value yet, atomically across
   processes: returns 1 if this call set it, 0 if it was set already. */
int as_store_device_prop_claim(struct as_store *store, const char *user,
			       const char *device_id, const char *name,
			       const char *value, const char **error_r);

#endif
