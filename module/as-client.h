#ifndef AS_CLIENT_H
#define AS_CLIENT_H

#include "net.h"

struct master_service_connection;
struct http_server;
struct as_settings;
struct as_store;

/* Process-wide state shared by all clients. */
struct as_service {
	const struct as_settings *set;
	struct as_store *store;
	struct http_server *http_server;
	struct event *event;
	/* Set when the service could not start (the state store didn't
	   open): every request gets 503 with this logged */
	const char *unavailable_reason;
	time_t unavailable_last_log;
};
extern struct as_service *as_service;

/* One HTTP connection from a device. */
struct as_client {
	struct as_client *prev, *next;
	struct http_server_connection *http_conn;
	struct event *event;

	struct ip_addr local_ip, remote_ip, real_local_ip, real_remote_ip;
	in_port_t local_port, remote_port, real_local_port, real_remote_port;
	/* Like imap's session=<...>: passed to auth and the userdb lookup
	   (%{session}, mail_log_prefix) and set on the event */
	char *session_id;
	bool ssl;
	bool destroyed;
};

struct as_client *as_client_create(const struct master_service_connection *conn);
void as_clients_destroy_all(void);
unsigned int as_clients_count(void);

#endif
