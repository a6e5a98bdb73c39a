/* Copyright (c) the dovecot-activesync authors, see AUTHORS */

#include "lib.h"
#include "array.h"
#include "base64.h"
#include "randgen.h"
#include "time-util.h"
#include "safe-memset.h"
#include "buffer.h"
#include "llist.h"
#include "str.h"
#include "str-sanitize.h"
#include "strescape.h"
#include "ioloop.h"
#include "istream.h"
#include "master-service.h"
#include "http-url.h"
#include "http-auth.h"
#include "http-server.h"
#include "as-auth.h"
#include "policy/as-policy.h"
#include "as-settings.h"
#include "as-command.h"
#include "as-commands-private.h"
#include "as-client.h"
#include "http/as-response-stream.h"
#include "discover/as-autodiscover.h"
#include "discover/as-autodiscover-request.h"

#define AS_PATH "/Microsoft-Server-ActiveSync"
#define AS_CONTENT_TYPE_WBXML "application/vnd.ms-sync.wbxml"

struct as_service *as_service;

static struct as_client *as_clients;
static unsigned int as_clients_num;

static const struct http_server_callbacks as_client_http_callbacks;

/* One HTTP request while it is being authenticated, read and handled. */
struct as_client_request {
	struct as_client *client;
	struct http_server_request *http_req;
	pool_t pool;
	struct event *event;

	struct as_request req;
	const char *login;
	char *password;
	struct as_auth_request *auth;
	const char *username;
	buffer_t *payload;
	struct istream *payload_input;
	struct io *payload_io;
	struct as_cmd_context *cmd;
	struct timeout *to_destroy;
	bool options:1;
	bool get:1;
	bool autodiscover:1;
};

static void as_client_request_free_password(struct as_client_request *creq)
{
	if (creq->password != NULL) {
		safe_memset(creq->password, 0, strlen(creq->password));
		creq->password = NULL;
	}
}

static void as_client_request_destroyed(struct as_client_request *creq);

static void as_client_request_destroyed_later(struct as_client_request *creq)
{
	timeout_remove(&creq->to_destroy);
	as_client_request_destroyed(creq);
}

static void as_client_request_destroyed(struct as_client_request *creq)
{
	if (creq->cmd != NULL && as_response_stream_started(creq->cmd)) {
		/* gone while its streamed response waited for the socket:
		   the command is still on the stack, free it after */
		if (creq->to_destroy == NULL) {
			creq->to_destroy = timeout_add_short_to(
				io_loop_get_root(), 0,
				as_client_request_destroyed_later, creq);
		}
		return;
	}
	/* the request is gone: sent, or the connection died */
	io_remove(&creq->payload_io);
	i_stream_unref(&creq->payload_input);
	as_auth_request_abort(&creq->auth);
	as_client_request_free_password(creq);
	if (creq->cmd != NULL)
		as_cmd_context_destroy(&creq->cmd);
	event_unref(&creq->event);
	http_server_request_unref(&creq->http_req);
	pool_unref(&creq->pool);
}

static void
as_client_request_fail(struct as_client_request *creq, unsigned int status,
		       const char *reason, const char *log_reason)
{
	if (log_reason != NULL)
		e_info(creq->event, "%u %s: %s", status, reason, log_reason);
	http_server_request_fail_close(creq->http_req, status, reason);
}

static void
as_client_add_common_headers(struct http_server_response *resp)
{
	http_server_response_add_header(resp, "MS-Server-ActiveSync", "14.3");
	http_server_response_add_header(resp, "Cache-Control", "private");
}

static void
as_client_request_fail_auth(struct as_client_request *creq,
			    const char *log_reason)
{
	struct http_server_response *resp;

	if (log_reason != NULL)
		e_info(creq->event, "401 Unauthorized: %s", log_reason);
	/* the realm quoted, as browsers and some devices expect */
	resp = http_server_response_create(creq->http_req, 401, "Unauthorized");
	as_client_add_common_headers(resp);
	http_server_response_add_header(resp, "WWW-Authenticate",
		t_strdup_printf("Basic realm=\"%s\", charset=\"UTF-8\"",
				str_escape(as_service->set->realm)));
	http_server_response_add_header(resp, "Content-Type",
					"text/plain; charset=utf-8");
	http_server_response_set_payload_data(resp,
		(const unsigned char *)"Unauthorized\r\n", 14);
	http_server_response_submit(resp);
}


/* The versions offered to the user: up to the MaxProtocolVersion of
   its effective policy (OPTIONS names no device, so the device level
   does not count here; it does when the device sends a command). */
static const char *as_client_user_versions(struct as_client_request *creq)
{
	struct as_store_policy_target target = {
		.level = AS_STORE_POLICY_LEVEL_USER,
		.user = creq->username,
	};
	struct as_policy policy;
	const char *error;

	if (as_service->store == NULL)
		return AS_SUPPORTED_VERSIONS;
	if (creq->req.device_id != NULL) {
		target.level = AS_STORE_POLICY_LEVEL_DEVICE;
		target.device_id = creq->req.device_id;
	}
	if (as_policy_lookup(as_service->store, pool_datastack_create(),
			     &target, &policy, &error) < 0) {
		e_error(creq->event, "State store: %s", error);
		return AS_SUPPORTED_VERSIONS;
	}
	return as_version_list(as_version_parse(
		policy.values[AS_POLICY_IDX_MAX_PROTOCOL_VERSION]));
}

static void as_client_send_options(struct as_client_request *creq)
{
	struct http_server_response *resp;

	resp = http_server_response_create(creq->http_req, 200, "OK");
	as_client_add_common_headers(resp);
	http_server_response_add_header(resp, "Allow", "OPTIONS,POST");
	http_server_response_add_header(resp, "Public", "OPTIONS,POST");
	http_server_response_add_header(resp, "MS-ASProtocolVersions",
					as_client_user_versions(creq));
	http_server_response_add_header(resp, "MS-ASProtocolCommands",
					as_command_list());
	http_server_response_set_payload_data(resp, (const unsigned char *)"", 0);
	http_server_response_submit(resp);
}

static void as_client_send_get(struct as_client_request *creq)
{
	static const char page[] =
		"<html><head><title>ActiveSync</title></head><body>"
		"<p>Exchange ActiveSync is enabled for this account. "
		"Configure your device with this server's address.</p>"
		"</body></html>\n";
	struct http_server_response *resp;

	/* a browser check from the admin's troubleshooting guide: it proves
	   the URL and the credentials work */
	resp = http_server_response_create(creq->http_req, 200, "OK");
	as_client_add_common_headers(resp);
	http_server_response_add_header(resp, "Content-Type",
					"text/html; charset=utf-8");
	http_server_response_set_payload_data(resp,
		(const unsigned char *)page, sizeof(page) - 1);
	http_server_response_submit(resp);
}

struct http_server_response *
as_client_request_response_create(struct as_cmd_context *ctx)
{
	struct http_server_response *resp;

	resp = http_server_response_create(ctx->http_req, 200, "OK");
	as_client_add_common_headers(resp);
	http_server_response_add_header(resp, "Content-Type",
					AS_CONTENT_TYPE_WBXML);
	return resp;
}

static void as_client_response_payload_free(buffer_t *payload)
{
	buffer_free(&payload);
}

void as_client_request_send_response(struct as_cmd_context *ctx)
{
	struct as_client_request *creq = ctx->client_request;
	struct http_server_response *resp;
	unsigned int status = ctx->http_status == 0 ? 200 : ctx->http_status;
	const char *reason = ctx->http_reason != NULL ? ctx->http_reason :
		(status == 200 ? "OK" : "Error");

	if (status >= 400 && status != 449 && ctx->http_retry_after_secs > 0) {
		resp = http_server_response_create(creq->http_req, status,
						   reason);
		as_client_add_common_headers(resp);
		http_server_response_add_header(resp, "Retry-After",
			dec2str(ctx->http_retry_after_secs));
		http_server_response_submit(resp);
		return;
	}
	if (status >= 400 && status != 449 &&
	    ctx->http_protocol_versions != NULL) {
		resp = http_server_response_create(creq->http_req, status,
						   reason);
		as_client_add_common_headers(resp);
		http_server_response_add_header(resp, "MS-ASProtocolVersions",
						ctx->http_protocol_versions);
		http_server_response_submit(resp);
		return;
	}
	if (status >= 400 && status != 449) {
		http_server_request_fail(creq->http_req, status, reason);
		return;
	}
	resp = http_server_response_create(creq->http_req, status, reason);
	as_client_add_common_headers(resp);
	if (ctx->http_protocol_versions != NULL) {
		/* a Status 138 answer: the versions this device may use */
		http_server_response_add_header(resp, "MS-ASProtocolVersions",
						ctx->http_protocol_versions);
	}
	if (ctx->response_input != NULL) {
		/* streamed body (large attachments) */
		http_server_response_add_header(resp, "Content-Type",
			ctx->response_content_type != NULL ?
			ctx->response_content_type : AS_CONTENT_TYPE_WBXML);
		http_server_response_set_payload(resp, ctx->response_input);
		http_server_response_submit(resp);
		return;
	}
	if (ctx->response->used > 0) {
		buffer_t *payload = ctx->response;
		struct istream *input;

		http_server_response_add_header(resp, "Content-Type",
						AS_CONTENT_TYPE_WBXML);
		/* The payload stream takes the buffer over instead of a copy
		   (http_server_response_set_payload_data() copies, and a Sync
		   window can be megabytes); freed with the stream. */
		ctx->response = NULL;
		input = i_stream_create_from_data(payload->data,
						  payload->used);
		i_stream_add_destroy_callback(input,
					      as_client_response_payload_free,
					      payload);
		http_server_response_set_payload(resp, input);
		i_stream_unref(&input);
	}
	http_server_response_submit(resp);
}

static void as_client_request_authenticate(struct as_client_request *creq);

static void as_client_request_run(struct as_client_request *creq)
{
	struct as_cmd_context *ctx;
	const char *error;

	creq->cmd = ctx = as_cmd_context_create(creq->pool, creq->event);
	ctx->client_request = creq;
	ctx->client = creq->client;
	ctx->http_req = creq->http_req;
	ctx->req = &creq->req;
	ctx->username = creq->username;
	if (as_cmd_context_run(ctx, creq->payload, &creq->client->remote_ip,
			       creq->client->ssl, &error) < 0) {
		/* nothing was handled: error already logged */
		return;
	}
}

static void
as_client_auth_callback(enum as_auth_result result, const char *username,
			const char *error, struct as_client_request *creq)
{
	creq->auth = NULL;
	as_client_request_free_password(creq);

	switch (result) {
	case AS_AUTH_RESULT_INTERNAL_FAILURE:
		as_client_request_fail(creq, 503, "Service Unavailable", error);
		return;
	case AS_AUTH_RESULT_FAILED:
		as_client_request_fail_auth(creq, t_strdup_printf(
			"login=%s, session=<%s>: %s",
			str_sanitize(creq->login, 128),
			creq->client->session_id, error));
		return;
	case AS_AUTH_RESULT_OK:
		break;
	}
	creq->username = p_strdup(creq->pool, username);
	if (creq->req.device_id == NULL) {
		event_set_append_log_prefix(creq->event,
			t_strdup_printf("%s: ", str_sanitize(username, 128)));
	} else {
		event_set_append_log_prefix(creq->event, t_strdup_printf(
			"%s<%s>%s: ", str_sanitize(username, 128),
			str_sanitize(creq->req.device_id, 64),
			str_sanitize(creq->req.cmd, 32)));
	}

	if (creq->autodiscover) {
		struct as_autodiscover_http http = {
			.client = creq->client,
			.http_req = creq->http_req,
			.event = creq->event,
			.username = creq->username,
			.payload = creq->get ? NULL : creq->payload,
		};

		as_autodiscover_request_run(&http);
		return;
	}
	if (creq->options) {
		as_client_send_options(creq);
		return;
	}
	if (creq->get) {
		as_client_send_get(creq);
		return;
	}
	as_client_request_run(creq);
}

static void as_client_request_payload_stop(struct as_client_request *creq)
{
	io_remove(&creq->payload_io);
	i_stream_unref(&creq->payload_input);
}

static void as_client_request_payload_input(struct as_client_request *creq)
{
	const unsigned char *data;
	size_t size;
	int ret;

	while ((ret = i_stream_read_more(creq->payload_input,
					 &data, &size)) > 0) {
		if (creq->autodiscover && creq->payload->used + size >
		    AS_AUTODISCOVER_MAX_REQUEST_SIZE) {
			as_client_request_payload_stop(creq);
			as_client_request_fail(creq, 413, "Payload Too Large",
				t_strdup_printf("Autodiscover request body "
					"larger than %d bytes",
					AS_AUTODISCOVER_MAX_REQUEST_SIZE));
			return;
		}
		if (creq->payload->used + size >
		    as_service->set->max_request_size) {
			as_client_request_payload_stop(creq);
			as_client_request_fail(creq, 413, "Payload Too Large",
				t_strdup_printf("Request body larger than "
					"activesync_max_request_size=%"PRIuUOFF_T,
					as_service->set->max_request_size));
			return;
		}
		buffer_append(creq->payload, data, size);
		i_stream_skip(creq->payload_input, size);
	}
	if (ret == 0)
		return;
	if (creq->payload_input->stream_errno != 0) {
		const char *error = i_stream_get_error(creq->payload_input);

		as_client_request_payload_stop(creq);
		as_client_request_fail(creq, 400, "Bad Request",
			t_strdup_printf("Reading request body failed: %s", error));
		return;
	}
	as_client_request_payload_stop(creq);
	as_client_request_authenticate(creq);
}

static bool
as_client_request_get_credentials(struct as_client_request *creq)
{
	struct http_auth_credentials creds;
	const buffer_t *decoded;
	const char *p, *userpass, *login;

	if (http_server_request_get_auth(creq->http_req, &creds) <= 0)
		return FALSE;
	if (strcasecmp(creds.scheme, "Basic") != 0 || creds.data == NULL)
		return FALSE;
	decoded = t_base64_decode_str(creds.data);
	userpass = t_strndup(decoded->data, decoded->used);
	p = strchr(userpass, ':');
	if (p == NULL || strlen(userpass) != decoded->used)
		return FALSE;
	login = t_strdup_until(userpass, p);
	/* "DOMAIN\user": Windows clients prefix a domain Dovecot doesn't know */
	if (strchr(login, '\\') != NULL)
		login = strrchr(login, '\\') + 1;
	if (login[0] == '\0')
		return FALSE;
	creq->login = p_strdup(creq->pool, login);
	creq->password = p_strdup(creq->pool, p + 1);
	safe_memset(buffer_get_modifiable_data(decoded, NULL), 0, decoded->used);
	return TRUE;
}

static void as_client_request_authenticate(struct as_client_request *creq)
{
	struct as_client *client = creq->client;
	struct as_auth_conn_info info;

	if (!as_client_request_get_credentials(creq)) {
		as_client_request_fail_auth(creq, creq->get ? NULL :
					    "No Basic credentials");
		return;
	}

	i_zero(&info);
	info.local_ip = client->local_ip;
	info.remote_ip = client->remote_ip;
	info.local_port = client->local_port;
	info.remote_port = client->remote_port;
	info.real_local_ip = client->real_local_ip;
	info.real_remote_ip = client->real_remote_ip;
	info.real_local_port = client->real_local_port;
	info.real_remote_port = client->real_remote_port;
	info.session_id = client->session_id;
	info.tls = client->ssl;
	info.secured = client->ssl || net_ip_compare(&client->remote_ip,
						     &client->local_ip);
	creq->auth = as_auth_verify(creq->login, creq->password, &info,
				    as_client_auth_callback, creq);
}

/* The service could not start: answer at once, so that devices retry
   later instead of waiting on a connection nobody serves. */
static void as_client_request_unavailable(struct as_client_request *creq)
{
	struct http_server_response *resp;

	/* the reason once a minute, not once per request */
	if (as_service->unavailable_last_log + 60 <= ioloop_time) {
		as_service->unavailable_last_log = ioloop_time;
		e_error(creq->event, "503 Service Unavailable: %s",
			as_service->unavailable_reason);
	}
	resp = http_server_response_create(creq->http_req, 503,
					   "Service Unavailable");
	as_client_add_common_headers(resp);
	http_server_response_add_header(resp, "Retry-After", "300");
	http_server_response_add_header(resp, "Content-Type",
					"text/plain; charset=utf-8");
	http_server_response_set_payload_data(resp,
		(const unsigned char *)"Service Unavailable\r\n", 21);
	http_server_response_submit_close(resp);
}

static bool as_client_path_matches(const char *path, const char *prefix)
{
	size_t len = strlen(prefix);

	return strncasecmp(path, prefix, len) == 0 &&
		(path[len] == '\0' || (path[len] == '/' && path[len + 1] == '\0'));
}

static void as_client_request_read_payload(struct as_client_request *creq)
{
	/* lib-http wants the body claimed before the request callback
	   returns, so it is read first and authentication follows */
	creq->payload = buffer_create_dynamic(creq->pool, 1024);
	creq->payload_input =
		http_server_request_get_payload_input(creq->http_req, FALSE);
	creq->payload_io = io_add_istream(creq->payload_input,
					  as_client_request_payload_input, creq);
	as_client_request_payload_input(creq);
}

/* /autodiscover/autodiscover.xml: POST with the XML request, or GET */
static void as_client_autodiscover(struct as_client_request *creq)
{
	const struct http_request *hreq = http_server_request_get(creq->http_req);

	creq->autodiscover = TRUE;
	event_set_append_log_prefix(creq->event, "autodiscover: ");
	if (http_request_method_is(hreq, "GET")) {
		creq->get = TRUE;
		as_client_request_authenticate(creq);
	} else if (http_request_method_is(hreq, "POST")) {
		as_client_request_read_payload(creq);
	} else {
		http_server_request_fail_bad_method(creq->http_req,
						    "GET, POST");
	}
}

static void
as_client_handle_request(void *context, struct http_server_request *req)
{
	struct as_client *client = context;
	const struct http_request *hreq = http_server_request_get(req);
	struct as_client_request *creq;
	const char *path, *error, *value;
	pool_t pool;

	/* one block holds a whole Ping or Sync request (decoded body,
	   settings, device, policy, command state): a held one would keep a
	   grown second block for its whole wait */
	pool = pool_alloconly_create("activesync request", 8192);
	creq = p_new(pool, struct as_client_request, 1);
	creq->pool = pool;
	creq->client = client;
	creq->http_req = req;
	creq->event = event_create(client->event);
	http_server_request_ref(req);
	http_server_request_set_destroy_callback(req,
		as_client_request_destroyed, creq);

	if (as_service->unavailable_reason != NULL) {
		as_client_request_unavailable(creq);
		return;
	}
	path = hreq->target.url == NULL ? "" : hreq->target.url->path;
	if (path != NULL &&
	    as_client_path_matches(path, AS_AUTODISCOVER_PATH)) {
		as_client_autodiscover(creq);
		return;
	}
	if (path == NULL || !as_client_path_matches(path, AS_PATH)) {
		as_client_request_fail(creq, 404, "Not Found", t_strdup_printf(
			"Unknown path %s", str_sanitize(hreq->target_raw, 128)));
		return;
	}

	if (http_request_method_is(hreq, "OPTIONS")) {
		creq->options = TRUE;
		as_client_request_authenticate(creq);
		return;
	}
	if (http_request_method_is(hreq, "GET")) {
		creq->get = TRUE;
		as_client_request_authenticate(creq);
		return;
	}
	if (!http_request_method_is(hreq, "POST")) {
		http_server_request_fail_bad_method(req, "OPTIONS, POST");
		return;
	}

	if (as_request_parse_query(pool, hreq->target.url->enc_query,
				   &creq->req, &error) < 0) {
		as_client_request_fail(creq, 400, "Bad Request", error);
		return;
	}
	event_set_append_log_prefix(creq->event, t_strdup_printf(
		"<%s>%s: ", str_sanitize(creq->req.device_id, 64),
		str_sanitize(creq->req.cmd, 32)));
	event_add_str(creq->event, "device_id", creq->req.device_id);
	event_add_str(creq->event, "command", creq->req.cmd);

	if (!creq->req.base64_form) {
		value = http_request_header_get(hreq, "MS-ASProtocolVersion");
		if (value == NULL) {
			as_client_request_fail(creq, 400, "Bad Request",
					       "Missing MS-ASProtocolVersion");
			return;
		}
		(void)as_request_set_version(&creq->req, p_strdup(pool, value));
		value = http_request_header_get(hreq, "X-MS-PolicyKey");
		if (as_request_set_policy_key(&creq->req, value) < 0) {
			as_client_request_fail(creq, 400, "Bad Request",
				t_strdup_printf("Invalid X-MS-PolicyKey: %s",
						str_sanitize(value, 32)));
			return;
		}
	}
	if (creq->req.version == 0) {
		as_client_request_fail(creq, 400, "Bad Request",
			t_strdup_printf("Unsupported protocol version %s "
					"(supported: "AS_SUPPORTED_VERSIONS")",
					str_sanitize(creq->req.version_str, 16)));
		return;
	}
	value = http_request_header_get(hreq, "User-Agent");
	creq->req.user_agent = value == NULL ? NULL : p_strdup(pool, value);
	value = http_request_header_get(hreq, "MS-ASAcceptMultiPart");
	if (value != NULL && strcasecmp(value, "T") == 0)
		creq->req.accept_multipart = TRUE;
	as_client_request_read_payload(creq);
}

static void as_client_destroy(struct as_client *client)
{
	if (client->destroyed)
		return;
	client->destroyed = TRUE;
	DLLIST_REMOVE(&as_clients, client);
	as_clients_num--;
	event_unref(&client->event);
	i_free(client->session_id);
	i_free(client);
	master_service_client_connection_destroyed(master_service);
}

static void as_client_connection_destroy(void *context, const char *reason)
{
	struct as_client *client = context;

	e_debug(client->event, "Disconnected: %s", reason);
	as_client_destroy(client);
}

static const struct http_server_callbacks as_client_http_callbacks = {
	.handle_request = as_client_handle_request,
	.connection_destroy = as_client_connection_destroy,
};

/* A connection's id as imap-login makes them: the time in microseconds
   (48 bits) and the client's port, plus random bytes because one process
   of ours accepts many connections at once; base64, 16 characters. */
static char *as_client_session_id(const struct master_service_connection *conn)
{
	unsigned char data[12];
	string_t *str = t_str_new(24);
	struct timeval tv;
	unsigned long long usecs;
	unsigned int i;

	i_gettimeofday(&tv);
	usecs = (unsigned long long)tv.tv_sec * 1000000ULL + tv.tv_usec;
	for (i = 0; i < 6; i++)
		data[i] = (usecs >> (i * 8)) & 0xff;
	data[6] = conn->remote_port & 0xff;
	data[7] = (conn->remote_port >> 8) & 0xff;
	random_fill(data + 8, 4);
	base64_encode(data, sizeof(data), str);
	return i_strdup(str_c(str));
}

struct as_client *as_client_create(const struct master_service_connection *conn)
{
	struct as_client *client;

	client = i_new(struct as_client, 1);
	client->local_ip = conn->local_ip;
	client->remote_ip = conn->remote_ip;
	client->local_port = conn->local_port;
	client->remote_port = conn->remote_port;
	client->real_local_ip = conn->real_local_ip;
	client->real_remote_ip = conn->real_remote_ip;
	client->real_local_port = conn->real_local_port;
	client->real_remote_port = conn->real_remote_port;
	client->ssl = conn->ssl;
	client->session_id = as_client_session_id(conn);
	client->event = event_create(as_service->event);
	event_add_str(client->event, "remote_ip", net_ip2addr(&conn->remote_ip));
	event_add_str(client->event, "session", client->session_id);
	DLLIST_PREPEND(&as_clients, client);
	as_clients_num++;

	client->http_conn = http_server_connection_create(
		as_service->http_server, conn->fd, conn->fd, conn->ssl,
		&as_client_http_callbacks, client);
	return client;
}

void as_clients_destroy_all(void)
{
	while (as_clients != NULL) {
		struct as_client *client = as_clients;
		struct http_server_connection *conn = client->http_conn;

		/* closing calls connection_destroy, which frees the client */
		http_server_connection_close(&conn, "Shutting down");
		if (as_clients == client)
			as_client_destroy(client);
	}
}

unsigned int as_clients_count(void)
{
	return as_clients_num;
}
