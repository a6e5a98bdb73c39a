#ifndef AS_USER_H
#define AS_USER_H

#include "net.h"

struct mail_user;
struct mail_user_settings;
struct mail_storage_settings;
struct mail_storage_service_user;
struct mail_storage_service_ctx;

/* A device may retry a user this process can't serve after this long */
#define AS_USER_UNAVAILABLE_RETRY_SECS 300

/* A mail user opened for one request (or one held Ping). */
struct as_user {
	struct mail_storage_service_user *service_user;
	struct mail_user *mail_user;
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

#endif
