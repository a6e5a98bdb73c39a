#ifndef AS_STORE_GAL_H
#define AS_STORE_GAL_H

#include "as-store.h"

/* The global address list (GAL) index: one entry per directory user and
   per contact of a GAL folder, and case-folded search tokens (name words,
   the address and its local part) pointing at them, so a prefix search
   is one cursor walk. Userdb users and each GAL folder's contacts are
   updated separately, each change in one transaction. */

struct as_gal_entry {
	/* userdb user name; NULL for a contact of a GAL folder */
	const char *user;
	/* a contact: its folder's mailbox GUID (hex) and message UID */
	const char *folder_guid;
	uint32_t uid;

	const char *display_name;
	const char *email;
	const char *first_name, *last_name;
	const char *company, *title, *office;
	const char *phone, *mobile_phone, *home_phone;
	const char *alias;
	/* userdb users: the activesync_gal_picture field (a file's path, or
	   base64 data) */
	const char *picture;
	/* contacts: PHOTO, kept beside the entry (written when not NULL;
	   has_photo tells when read) */
	const buffer_t *photo;
	bool has_photo;
	/* a contact group (distribution list): found by its own address */
	bool group;
};
ARRAY_DEFINE_TYPE(as_gal_entry, struct as_gal_entry);

struct as_gal_info {
	/* the userdb users were last compared with the userdb's list, and
	   last looked up one by one */
	time_t refreshed, full_refreshed;
	unsigned int users;
};

/* What the index knows of a GAL folder's mailbox when it read it */
struct as_gal_folder_state {
	uint32_t uidvalidity;
	uint64_t highest_modseq;
	unsigned int count;
};

struct as_gal_update_stats {
	unsigned int added, changed, removed, unchanged;
};

/* The userdb side: *info_r, returns 1, 0 if never built (or built by an
   older version), -1 with error_r */
int as_store_gal_info(struct as_store *store, struct as_gal_info *info_r,
		      const char **error_r);
/* The userdb users in the index, sorted (strcmp order) */
int as_store_gal_users(struct as_store *store, pool_t pool,
		       ARRAY_TYPE(const_string) *users_r,
		       const char **error_r);
/* One transaction: the users removed go (their tokens too), entries are
   added or, if stored differently, replaced; unchanged ones aren't
   written. rebuild empties the whole index first (folders included).
   full: the entries are all users (the full lookup time is set). The
   users count becomes users_count. */
int as_store_gal_update_users(struct as_store *store,
			      const struct as_gal_entry *entries,
			      unsigned int count,
			      const char *const *removed,
			      unsigned int removed_count,
			      bool rebuild, bool full, time_t now,
			      unsigned int users_count,
			      struct as_gal_update_stats *stats_r,
			      const char **error_r);

/* A GAL folder's state as last read: 1, 0 if never, -1 on error */
int as_store_gal_folder_state(struct as_store *store, const char *guid,
			      struct as_gal_folder_state *state_r,
			      const char **error_r);
/* Replace the folder's contacts (entries with folder_guid = guid) and
   its state, in one transaction */
int as_store_gal_folder_replace(struct as_store *store, const char *guid,
				const struct as_gal_folder_state *state,
				const struct as_gal_entry *entries,
				unsigned int count, const char **error_r);

/* Entries with a token starting with prefix (compared case-folded), in
   token order, each address once (a userdb user before a contact with
   the same address): entries [start, start+max) and the number of
   matches (*total_r; counting stops at max_total). Contacts count only
   from the folders (GUIDs) listed in folders (NULL: none). */
int as_store_gal_search(struct as_store *store, pool_t pool,
			const char *prefix,
			const ARRAY_TYPE(const_string) *folders,
			unsigned int start, unsigned int max,
			unsigned int max_total,
			ARRAY_TYPE(as_gal_entry) *results_r,
			unsigned int *total_r, const char **error_r);
/* The PHOTO kept for a contact entry: 1 with photo_r, 0 if none */
int as_store_gal_photo(struct as_store *store, pool_t pool,
		       const struct as_gal_entry *entry, buffer_t **photo_r,
		       const char **error_r);

/* Text as tokens are kept: Unicode case-folded (titlecase, decomposed),
   so "ö" finds "Öberg"; from the data stack */
const char *as_store_gal_fold(const char *text);
/* The tokens an entry is found by (folded, from the data stack) */
const char *const *as_store_gal_tokens(const struct as_gal_entry *entry);

#endif
