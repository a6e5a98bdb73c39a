#ifndef AS_STORE_GAL_H
#define AS_STORE_GAL_H

#include "as-store.h"

/* The global address list (GAL) index: one entry per directory user,
   and case-folded search tokens (name words, the address and its local
   part) pointing at them, so a prefix search is one cursor walk. The
   whole list is replaced at each refresh, in one transaction. */

struct as_gal_entry {
	const char *user;		/* the key: userdb user name */
	const char *display_name;
	const char *email;
	const char *first_name, *last_name;
	const char *company, *title, *office;
	const char *phone, *mobile_phone, *home_phone;
	const char *alias;
};
ARRAY_DEFINE_TYPE(as_gal_entry, struct as_gal_entry);

/* Replace the list with these entries, refreshed at now. Returns 0 or -1
   with error_r. */
int as_store_gal_replace(struct as_store *store,
			 const struct as_gal_entry *entries,
			 unsigned int count, time_t now,
			 const char **error_r);
/* When the list was last replaced, and how many entries it has. Returns
   1, 0 if it never was, -1 with error_r. */
int as_store_gal_info(struct as_store *store, time_t *refreshed_r,
		      unsigned int *count_r, const char **error_r);
/* Entries with a token starting with prefix (compared case-folded), in
   token order, each once: entries [start, start+max) and the number
   of matches (*total_r; counting stops at max_total). */
int as_store_gal_search(struct as_store *store, pool_t pool,
			const char *prefix, unsigned int start,
			unsigned int max, unsigned int max_total,
			ARRAY_TYPE(as_gal_entry) *results_r,
			unsigned int *total_r, const char **error_r);

/* Text as tokens are kept: Unicode case-folded (titlecase, decomposed),
   so "ö" finds "Öberg"; from the data stack */
const char *as_store_gal_fold(const char *text);
/* The tokens an entry is found by (folded, from the data stack) */
const char *const *as_store_gal_tokens(const struct as_gal_entry *entry);

#endif
