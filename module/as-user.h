#ifndef AS_USER_H
#define AS_USER_H

#include "net.h"

struct mail_user;
struct mail_storage_service_user;
struct mail_storage_service_ctx;

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

/* Returns 1 if ok, 0 if the user doesn't exist, -1 on error. */
int as_user_open(const struct as_user_lookup *lookup, struct as_user *user_r,
		 const char **error_r);
void as_user_close(struct as_user *user);

#endif
