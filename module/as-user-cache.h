#ifndef AS_USER_CACHE_H
#define AS_USER_CACHE_H

#include "guid.h"

struct mailbox;
struct as_user;
struct as_user_warm;
struct as_user_lookup;

/* Warm mail users: a device's requests come back to back (the windows
   of a first Sync, Sync after Ping), and opening the user, its storage
   and its folders again for each of them redoes the same work (for
   Maildir a re-read of dovecot-uidlist and a rescan of cur/ per
   request). A user closed by a request therefore stays open in the
   process for a short while, with the few folders it used, and the
   next request of the same user (same connection addresses, same
   userdb reply) takes it over.

   A warm user belongs to one request at a time: it is taken out of the
   cache while in use, so two requests never share one. The cache is
   bounded by AS_USER_CACHE_MAX_USERS (least recently used goes first)
   and an entry is closed after AS_USER_CACHE_IDLE_SECS unused. */
#define AS_USER_CACHE_MAX_USERS 32
#define AS_USER_CACHE_IDLE_SECS 15
/* Open folders kept per warm user */
#define AS_USER_CACHE_MAX_BOXES 4

void as_user_cache_init(void);
/* Closes every warm user; before the storage service is deinitialized */
void as_user_cache_deinit(void);

/* Like as_user_open(), but reuses a warm user when its userdb reply is
   unchanged. The user must be closed with as_user_cache_close(). */
int as_user_cache_open(const struct as_user_lookup *lookup,
		       struct as_user *user_r, const char **error_r);
/* Put the user back into the cache (or close it when it can't be
   kept). The as_user struct is emptied either way. */
void as_user_cache_close(struct as_user *user);

/* An open folder kept by this user with the given name and GUID, taken
   out of the user's kept folders and synced; NULL if there is none (or
   it no longer syncs). */
struct mailbox *as_user_cache_take_box(struct as_user *user,
				       const char *vname,
				       const guid_128_t guid);
/* Keep the folder open with the user for the next request, or free it
   when it can't be kept (the user is not cacheable, or transactions
   are still open). *_box is NULL afterwards either way. */
void as_user_cache_keep_box(struct as_user *user, struct mailbox **_box,
			    const guid_128_t guid);

/* Free the cache's part of a user (its kept folders): as_user_close()
   calls this before closing the mail user */
void as_user_warm_free(struct as_user_warm **warm);

/* Number of warm users in the cache (tests and statistics) */
unsigned int as_user_cache_count(void);

#endif
