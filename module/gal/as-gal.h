#ifndef AS_GAL_H
#define AS_GAL_H

#include "as-store-gal.h"

struct as_cmd_context;
struct wbxml_writer;
struct wbxml_node;

/* The global address list: the users of the userdb (where it can be
   listed: passwd-file, SQL with iterate_query, LDAP with iterate_attrs),
   each with the display name and directory fields of its userdb entry,
   plus the vCards (people and groups) of the GAL folders named by
   activesync_gal_folders that the searching user can read. All of it is
   kept in the state store: the userdb side is compared with the userdb's
   list when older than activesync_gal_refresh_interval (only users added
   or removed are written), every user is looked up again after
   activesync_gal_full_refresh_interval; a GAL folder is read again when
   its mailbox changed. Users with activesync_gal_hidden=yes are left
   out. */

/* A search counts its matches up to this */
#define AS_GAL_MAX_TOTAL 1000
/* Larger contact photos are left out of the index */
#define AS_GAL_MAX_PHOTO_SIZE (256 * 1024)

/* userdb fields read for an entry */
#define AS_GAL_FIELD_DISPLAY_NAME "activesync_user_display_name"
#define AS_GAL_FIELD_HIDDEN "activesync_gal_hidden"
#define AS_GAL_FIELD_COMPANY "activesync_gal_company"
#define AS_GAL_FIELD_TITLE "activesync_gal_title"
#define AS_GAL_FIELD_OFFICE "activesync_gal_office"
#define AS_GAL_FIELD_PHONE "activesync_gal_phone"
#define AS_GAL_FIELD_MOBILE_PHONE "activesync_gal_mobile_phone"
/* a JPEG file's absolute path, or the picture as base64 */
#define AS_GAL_FIELD_PICTURE "activesync_gal_picture"

/* Prefix search (names' words, addresses); brings the index up to date
   first. Returns 0, or -1 with error_r. */
int as_gal_search(struct as_cmd_context *ctx, const char *query,
		  unsigned int start, unsigned int count,
		  ARRAY_TYPE(as_gal_entry) *results_r,
		  unsigned int *total_r, const char **error_r);

/* The same in two steps, for several searches in one request: bring
   the index up to date and find the user's GAL folders once, then
   search */
int as_gal_prepare(struct as_cmd_context *ctx,
		   ARRAY_TYPE(const_string) *folders_r, const char **error_r);
int as_gal_search_in(struct as_cmd_context *ctx,
		     const ARRAY_TYPE(const_string) *folders,
		     const char *query, unsigned int start,
		     unsigned int count, ARRAY_TYPE(as_gal_entry) *results_r,
		     unsigned int *total_r, const char **error_r);

/* Bring the userdb side up to date now: rebuild = empty the index first,
   full = look every user up again (else only the added ones). Returns
   the number of userdb entries, or -1 with error_r. */
int as_gal_refresh(struct as_cmd_context *ctx, bool rebuild, bool full,
		   const char **error_r);

/* An entry's <Properties> children (GAL code page) */
void as_gal_write_entry(struct wbxml_writer *w, const struct as_gal_entry *e);

/* as-gal-folders.c: the GAL folders the user can read (mailbox GUIDs),
   each read again into the index if its mailbox changed since. A folder
   that can't be read is logged and left out. */
int as_gal_folders_sync(struct as_cmd_context *ctx,
			ARRAY_TYPE(const_string) *guids_r,
			const char **error_r);

/* as-gal-picture.c: Picture in Search, Find and ResolveRecipients */
/* the response's elements */
struct as_gal_picture_tags {
	unsigned int picture, status, data;
};
struct as_gal_picture_opts {
	bool requested;
	unsigned int max_size;		/* 0: no limit */
	unsigned int max_pictures;
	bool max_pictures_set;
	unsigned int sent;
};
/* Options/Picture (NULL: not requested). FALSE if a limit isn't a
   number. */
bool as_gal_picture_parse(const struct wbxml_node *picture,
			  unsigned int max_size_tag,
			  unsigned int max_pictures_tag,
			  struct as_gal_picture_opts *opts_r);
/* The picture of an entry: the contact's PHOTO or the user's
   activesync_gal_picture; NULL if none (or it can't be read: logged) */
const buffer_t *as_gal_entry_photo(struct as_cmd_context *ctx,
				   const struct as_gal_entry *e);
/* <Picture> with Status 1 and Data, or 173 (none), 174 (larger than
   MaxSize), 175 (MaxPictures reached) */
void as_gal_picture_write(struct wbxml_writer *w,
			  const struct as_gal_picture_tags *tags,
			  struct as_gal_picture_opts *opts,
			  const buffer_t *photo);

extern const struct as_gal_picture_tags as_gal_picture_tags_gal;

#endif
