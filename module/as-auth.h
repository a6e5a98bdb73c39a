#ifndef AS_AUTH_H
#define AS_AUTH_H

#include "net.h"

/* HTTP Basic credentials verified through Dovecot's auth service
   (mechanism PLAIN), with a short-lived cache of verified credentials
   kept only as keyed hashes. */

struct as_auth_request;

enum as_auth_result {
	AS_AUTH_RESULT_INTERNAL_FAILURE = -1,
	AS_AUTH_RESULT_FAILED = 0,
	AS_AUTH_RESULT_OK = 1,
};

struct as_auth_conn_info {
	struct ip_addr local_ip, remote_ip, real_local_ip, real_remote_ip;
	in_port_t local_port, remote_port, real_local_port, real_remote_port;
	const char *session_id;
	bool secured; /* TLS or a local connection */
	bool tls;
};

/* username_r is the canonical user name returned by the auth service. */
typedef void as_auth_callback_t(enum as_auth_result result,
				const char *username, const char *error,
				void *context);

void as_auth_init(const char *auth_socket_path, unsigned int cache_ttl_secs,
		  struct event *parent_event);
void as_auth_deinit(void);

/* Verify credentials. The callback may be called before this returns
   (cache hit); in that case NULL is returned. */
struct as_auth_request *
as_auth_verify(const char *login, const char *password,
	       const struct as_auth_conn_info *info,
	       as_auth_callback_t *callback, void *context);
#define as_auth_verify(login, password, info, callback, context) \
	as_auth_verify(login, password, info, \
		(as_auth_callback_t *)callback, TRUE ? context : \
		CALLBACK_TYPECHECK(callback, void (*)( \
			enum as_auth_result, const char *, const char *, \
			typeof(context))))
/* Abort without calling the callback. */
void as_auth_request_abort(struct as_auth_request **_request);

/* Number of cached credential entries (for tests and stats). */
unsigned int as_auth_cache_count(void);

#endif
