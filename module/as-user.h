#ifndef AS_USER_H
#define AS_USER_H

#include "net.h"

struct mail_user;
struct mail_user_settings;
struct mail_storage_settings;
struct mail_storage_service_user;
struct mail_storage_service_ctx;
struct as_settings;

/* Settings are asked for without a module, i.e. all of them: module
   "activesync" exists only while doveconf has our settings module, and
   "lda" (the mail and submission settings) leaves ours out. */
#define AS_USER_SETTINGS_MODULE NULL
/* Indexes in mail_storage_service_user_get_set(), after the mail user
   settings (main.c's set_roots) */
#define AS_USER_SET_INDEX_SMTP_SUBMIT 1
#define AS_USER_SET_INDEX_ACTIVESYNC 2

/* A device may retry a user this process can't serve after this long */
#define AS_USER_UNAVAILABLE_RETRY_SECS 300

/* A mail user opened for one request (or one held Ping). */
struct as_user {
	struct mail_storage_service_user *service_user;
	struct mail_user *mail_user;
	/* set when opened through as-user-cache.h: what it needs to keep
	   the user warm after the request */
	struct as_user_warm *warm;
};

struct as_user_lookup {
	const char *username;
	const char *session_id;
	struct ip_addr local_ip, remote_ip;
	in_port_t local_port, remote_port;
	bool secured;
	struct event *event_parent;
};

void as_user_service_init(struct mail_storage_service_ctx *storage_service);
/* The userdb connection the users are looked up through (for listing
   them: the GAL) */
struct auth_master_connection *as_user_auth_conn(void);
/* The address a user is known by (Settings UserInformation, GAL,
   Autodiscover): the user name, with activesync_sender_domain (or the
   host name) added when it has no '@'. From the data stack. */
const char *as_user_primary_address(const struct as_settings *set,
				    const char *username);

/* TRUE if the default mail_location or a namespace location names the
   mbox driver. An empty (autodetected) location gives FALSE. */
bool as_user_settings_use_mbox(const struct mail_user_settings *user_set,
			       const struct mail_storage_settings *mail_set);

/* Returns 1 if ok, 0 if the user doesn't exist, -1 on error, -2 if this
   process can't serve the user's storage (mbox while serving more than
   one client): answer 503, error_r says what to change. */
int as_user_open(const struct as_user_lookup *lookup, struct as_user *user_r,
		 const char **error_r);
void as_user_close(struct as_user *user);

/* as_user_open() in its two steps. The lookup (userdb, settings, the
   mbox check) returns as as_user_open(); with userdb_fields_r the
   userdb reply's fields are returned too, allocated from fields_pool.
   as_user_open_service() takes over service_user, also on failure. */
int as_user_lookup_service(const struct as_user_lookup *lookup,
			   pool_t fields_pool,
			   const char *const **userdb_fields_r,
			   struct mail_storage_service_user **service_user_r,
			   const char **error_r);
/* The user's mail_log_prefix for this lookup's session, or NULL */
const char *
as_user_service_log_prefix(struct mail_storage_service_user *service_user);
int as_user_open_service(struct mail_storage_service_user *service_user,
			 struct as_user *user_r, const char **error_r);

/* The user's activesync settings (userdb fields applied), allocated from
   pool so that they outlive the user. Returns -1 with error_r if a value
   is invalid. */
int as_user_get_settings(struct as_user *user, pool_t pool,
			 const struct as_settings **set_r,
			 const char **error_r);

#endif
