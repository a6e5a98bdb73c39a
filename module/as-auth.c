/* Copyright (c) the dovecot-activesync authors, see AUTHORS */

#include "lib.h"
#include "array.h"
#include "base64.h"
#include "safe-memset.h"
#include "hash.h"
#include "ioloop.h"
#include "str.h"
#include "llist.h"
#include "auth-client.h"
#include "as-auth.h"

#include <sodium.h>
#include <unistd.h>

#define AS_AUTH_CACHE_MAX_ENTRIES 10000

/* A verified login: the key is the login name as the client sent it,
   the password is only kept as a keyed BLAKE2b digest. */
struct as_auth_cache_entry {
	char *login;
	char *username;
	unsigned char digest[crypto_generichash_BYTES];
	time_t expires;
};

struct as_auth_request {
	struct as_auth_request *prev, *next;
	char *login;
	char *password;
	char *session_id;
	struct as_auth_conn_info info;
	struct auth_client_request *auth_request;
	/* we called auth_client_request_abort(): ignore its callback */
	bool aborting;

	as_auth_callback_t *callback;
	void *context;
};

static struct auth_client *auth_client;
static struct event *as_auth_event;
static unsigned int as_auth_cache_ttl;
static HASH_TABLE(char *, struct as_auth_cache_entry *) as_auth_cache;
static unsigned char as_auth_cache_key[crypto_generichash_KEYBYTES];
/* Requests waiting for the auth connection handshake */
static struct as_auth_request *queued_requests;
/* Requests sent to the auth service */
static struct as_auth_request *running_requests;

static void as_auth_request_free(struct as_auth_request **_request)
{
	struct as_auth_request *request = *_request;

	*_request = NULL;
	safe_memset(request->password, 0, strlen(request->password));
	i_free(request->password);
	i_free(request->login);
	i_free(request->session_id);
	i_free(request);
}

static void
as_auth_digest(const char *login, const char *password,
	       unsigned char digest[crypto_generichash_BYTES])
{
	crypto_generichash_state state;

	crypto_generichash_init(&state, as_auth_cache_key,
				sizeof(as_auth_cache_key), crypto_generichash_BYTES);
	crypto_generichash_update(&state, (const void *)login,
				  strlen(login) + 1);
	crypto_generichash_update(&state, (const void *)password,
				  strlen(password));
	crypto_generichash_final(&state, digest, crypto_generichash_BYTES);
}

static void as_auth_cache_entry_free(struct as_auth_cache_entry *entry)
{
	i_free(entry->login);
	i_free(entry->username);
	i_free(entry);
}

static void as_auth_cache_remove(const char *login)
{
	struct as_auth_cache_entry *entry;
	char *key;

	if (hash_table_lookup_full(as_auth_cache, login, &key, &entry)) {
		hash_table_remove(as_auth_cache, login);
		as_auth_cache_entry_free(entry);
	}
}

static void as_auth_cache_expire_all(void)
{
	struct hash_iterate_context *iter;
	struct as_auth_cache_entry *entry;
	ARRAY(struct as_auth_cache_entry *) expired;
	char *key;

	t_array_init(&expired, 16);
	iter = hash_table_iterate_init(as_auth_cache);
	while (hash_table_iterate(iter, as_auth_cache, &key, &entry)) {
		if (entry->expires <= ioloop_time)
			array_push_back(&expired, &entry);
	}
	hash_table_iterate_deinit(&iter);
	array_foreach_elem(&expired, entry) {
		hash_table_remove(as_auth_cache, entry->login);
		as_auth_cache_entry_free(entry);
	}
}

static const char *
as_auth_cache_lookup(const char *login, const char *password)
{
	struct as_auth_cache_entry *entry;
	unsigned char digest[crypto_generichash_BYTES];

	if (as_auth_cache_ttl == 0)
		return NULL;
	entry = hash_table_lookup(as_auth_cache, login);
	if (entry == NULL)
		return NULL;
	if (entry->expires <= ioloop_time) {
		as_auth_cache_remove(login);
		return NULL;
	}
	as_auth_digest(login, password, digest);
	if (sodium_memcmp(digest, entry->digest, sizeof(digest)) != 0) {
		/* a changed password must go to the auth service again */
		as_auth_cache_remove(login);
		return NULL;
	}
	return entry->username;
}

static void
as_auth_cache_add(const char *login, const char *password,
		  const char *username)
{
	struct as_auth_cache_entry *entry;

	if (as_auth_cache_ttl == 0)
		return;
	as_auth_cache_remove(login);
	if (hash_table_count(as_auth_cache) >= AS_AUTH_CACHE_MAX_ENTRIES) {
		T_BEGIN {
			as_auth_cache_expire_all();
		} T_END;
		if (hash_table_count(as_auth_cache) >= AS_AUTH_CACHE_MAX_ENTRIES)
			return;
	}
	entry = i_new(struct as_auth_cache_entry, 1);
	entry->login = i_strdup(login);
	entry->username = i_strdup(username);
	entry->expires = ioloop_time + as_auth_cache_ttl;
	as_auth_digest(login, password, entry->digest);
	hash_table_insert(as_auth_cache, entry->login, entry);
}

static void
as_auth_callback(struct auth_client_request *auth_request ATTR_UNUSED,
		 enum auth_request_status status,
		 const char *data_base64 ATTR_UNUSED,
		 const char *const *args, void *context)
{
	struct as_auth_request *request = context;
	enum as_auth_result result;
	const char *username = request->login, *error = NULL;

	if (request->aborting)
		return;
	if (status == AUTH_REQUEST_STATUS_CONTINUE) {
		/* PLAIN never continues */
		request->aborting = TRUE;
		auth_client_request_abort(&request->auth_request,
					  "Unexpected continue");
		request->aborting = FALSE;
		status = AUTH_REQUEST_STATUS_INTERNAL_FAIL;
	}
	request->auth_request = NULL;
	DLLIST_REMOVE(&running_requests, request);

	switch (status) {
	case AUTH_REQUEST_STATUS_OK:
		result = AS_AUTH_RESULT_OK;
		for (; args != NULL && *args != NULL; args++) {
			if (str_begins(*args, "user="))
				username = t_strdup(*args + 5);
		}
		as_auth_cache_add(request->login, request->password, username);
		break;
	case AUTH_REQUEST_STATUS_FAIL:
		result = AS_AUTH_RESULT_FAILED;
		error = "Authentication failed";
		for (; args != NULL && *args != NULL; args++) {
			if (str_begins(*args, "reason="))
				error = t_strdup(*args + 7);
		}
		break;
	case AUTH_REQUEST_STATUS_ABORT:
	case AUTH_REQUEST_STATUS_INTERNAL_FAIL:
	default:
		result = AS_AUTH_RESULT_INTERNAL_FAILURE;
		error = "Internal authentication failure";
		break;
	}
	request->callback(result, username, error, request->context);
	as_auth_request_free(&request);
}

static void as_auth_request_send(struct as_auth_request *request)
{
	struct auth_request_info info;
	string_t *resp, *resp_base64;
	size_t login_len = strlen(request->login);

	resp = t_str_new(128);
	str_append_data(resp, request->login, login_len);
	str_append_c(resp, '\0');
	str_append_data(resp, request->login, login_len);
	str_append_c(resp, '\0');
	str_append(resp, request->password);
	resp_base64 = t_str_new(MAX_BASE64_ENCODED_SIZE(str_len(resp)) + 1);
	base64_encode(str_data(resp), str_len(resp), resp_base64);
	safe_memset(buffer_get_modifiable_data(resp, NULL), 0, str_len(resp));

	i_zero(&info);
	info.mech = "PLAIN";
	info.service = "activesync";
	info.session_id = request->info.session_id;
	info.local_ip = request->info.local_ip;
	info.local_port = request->info.local_port;
	info.remote_ip = request->info.remote_ip;
	info.remote_port = request->info.remote_port;
	info.real_local_ip = request->info.real_local_ip;
	info.real_local_port = request->info.real_local_port;
	info.real_remote_ip = request->info.real_remote_ip;
	info.real_remote_port = request->info.real_remote_port;
	if (request->info.secured)
		info.flags |= AUTH_REQUEST_FLAG_SECURED;
	if (request->info.tls)
		info.flags |= AUTH_REQUEST_FLAG_TRANSPORT_SECURITY_TLS;
	if (event_want_debug_log(as_auth_event))
		info.flags |= AUTH_REQUEST_FLAG_DEBUG;
	info.initial_resp_base64 = str_c(resp_base64);

	DLLIST_PREPEND(&running_requests, request);
	request->auth_request = auth_client_request_new(auth_client, &info,
							as_auth_callback,
							request);
	safe_memset(buffer_get_modifiable_data(resp_base64, NULL), 0,
		    str_len(resp_base64));
}

static void as_auth_fail_all(struct as_auth_request **list, const char *error)
{
	struct as_auth_request *request;

	while (*list != NULL) {
		request = *list;
		DLLIST_REMOVE(list, request);
		if (request->auth_request != NULL) {
			request->aborting = TRUE;
			auth_client_request_abort(&request->auth_request, error);
		}
		request->callback(AS_AUTH_RESULT_INTERNAL_FAILURE, NULL,
				  error, request->context);
		as_auth_request_free(&request);
	}
}

static void
as_auth_connect_notify(struct auth_client *client ATTR_UNUSED,
		       bool connected, void *context ATTR_UNUSED)
{
	struct as_auth_request *request;

	if (!connected) {
		/* requests in flight were lost with the connection */
		as_auth_fail_all(&queued_requests,
				 "Lost connection to the auth service");
		return;
	}
	while (queued_requests != NULL) {
		request = queued_requests;
		DLLIST_REMOVE(&queued_requests, request);
		T_BEGIN {
			as_auth_request_send(request);
		} T_END;
	}
}

#undef as_auth_verify
struct as_auth_request *
as_auth_verify(const char *login, const char *password,
	       const struct as_auth_conn_info *info,
	       as_auth_callback_t *callback, void *context)
{
	struct as_auth_request *request;
	const char *username;

	username = as_auth_cache_lookup(login, password);
	if (username != NULL) {
		e_debug(as_auth_event, "Credentials of %s verified from cache",
			login);
		callback(AS_AUTH_RESULT_OK, username, NULL, context);
		return NULL;
	}

	request = i_new(struct as_auth_request, 1);
	request->login = i_strdup(login);
	request->password = i_strdup(password);
	request->info = *info;
	/* the request may outlive the caller's string (queued until auth
	   connects) */
	request->session_id = i_strdup(info->session_id);
	request->info.session_id = request->session_id;
	request->callback = callback;
	request->context = context;

	if (auth_client_is_connected(auth_client))
		as_auth_request_send(request);
	else {
		DLLIST_PREPEND(&queued_requests, request);
		if (auth_client_is_disconnected(auth_client))
			auth_client_connect(auth_client);
	}
	return request;
}

void as_auth_request_abort(struct as_auth_request **_request)
{
	struct as_auth_request *request = *_request;

	if (request == NULL)
		return;
	*_request = NULL;
	if (request->auth_request != NULL) {
		DLLIST_REMOVE(&running_requests, request);
		request->aborting = TRUE;
		auth_client_request_abort(&request->auth_request, "Aborted");
	} else {
		DLLIST_REMOVE(&queued_requests, request);
	}
	as_auth_request_free(&request);
}

unsigned int as_auth_cache_count(void)
{
	return hash_table_count(as_auth_cache);
}

void as_auth_init(const char *auth_socket_path, unsigned int cache_ttl_secs,
		  struct event *parent_event)
{
	if (sodium_init() < 0)
		i_fatal("sodium_init() failed");
	crypto_generichash_keygen(as_auth_cache_key);
	as_auth_cache_ttl = cache_ttl_secs;
	hash_table_create(&as_auth_cache, default_pool, 0, str_hash, strcmp);

	as_auth_event = event_create(parent_event);
	event_set_append_log_prefix(as_auth_event, "auth: ");

	auth_client = auth_client_init(auth_socket_path, getpid(), FALSE);
	auth_client_set_connect_notify(auth_client, as_auth_connect_notify, NULL);
	auth_client_connect(auth_client);
}

void as_auth_deinit(void)
{
	struct hash_iterate_context *iter;
	struct as_auth_cache_entry *entry;
	char *key;

	as_auth_fail_all(&queued_requests, "Shutting down");
	as_auth_fail_all(&running_requests, "Shutting down");
	auth_client_set_connect_notify(auth_client, NULL, NULL);
	auth_client_deinit(&auth_client);

	iter = hash_table_iterate_init(as_auth_cache);
	while (hash_table_iterate(iter, as_auth_cache, &key, &entry))
		as_auth_cache_entry_free(entry);
	hash_table_iterate_deinit(&iter);
	hash_table_destroy(&as_auth_cache);
	sodium_memzero(as_auth_cache_key, sizeof(as_auth_cache_key));
	event_unref(&as_auth_event);
}
