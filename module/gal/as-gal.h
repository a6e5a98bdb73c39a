#ifndef AS_GAL_H
#define AS_GAL_H

#include "as-store-gal.h"

struct as_cmd_context;
struct wbxml_writer;

/* The global address list: the users of the userdb (where it can be
   listed: passwd-file, SQL with iterate_query, LDAP with iterate_attrs),
   each with the display name and directory fields of its userdb entry,
   kept in the state store and refreshed from the userdb when older than
   activesync_gal_refresh_interval. Users with activesync_gal_hidden=yes
   are left out. */

/* A search counts its matches up to this */
#define AS_GAL_MAX_TOTAL 1000

/* userdb fields read for an entry */
#define AS_GAL_FIELD_DISPLAY_NAME "activesync_user_display_name"
#define AS_GAL_FIELD_HIDDEN "activesync_gal_hidden"
#define AS_GAL_FIELD_COMPANY "activesync_gal_company"
#define AS_GAL_FIELD_TITLE "activesync_gal_title"
#define AS_GAL_FIELD_OFFICE "activesync_gal_office"
#define AS_GAL_FIELD_PHONE "activesync_gal_phone"
#define AS_GAL_FIELD_MOBILE_PHONE "activesync_gal_mobile_phone"

/* Prefix search (names' words, addresses); refreshes the list first if
   it is stale. Returns 0, or -1 with error_r. */
int as_gal_search(struct as_cmd_context *ctx, const char *query,
		  unsigned int start, unsigned int count,
		  ARRAY_TYPE(as_gal_entry) *results_r,
		  unsigned int *total_r, const char **error_r);

/* Rebuild the list from the userdb now. Returns the number of entries,
   or -1 with error_r. */
int as_gal_refresh(struct as_cmd_context *ctx, const char **error_r);

/* An entry's <Properties> children (GAL code page) */
void as_gal_write_entry(struct wbxml_writer *w, const struct as_gal_entry *e);

#endif
