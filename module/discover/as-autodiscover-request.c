/* Copyright (c) dovecot-activesync authors, see the included COPYING file */

/* Autodiscover over HTTP: POST /autodiscover/autodiscover.xml (and GET,
   which some clients try first), authenticated like every EAS request.
   The answer comes from the user's own settings (userdb fields apply), so
   a domain or a user can be sent to another server's URL. */

#include "lib.h"
#include "str.h"
#include "str-sanitize.h"
#include "buffer.h"
#include "hostpid.h"
#include "http-server.h"
#include "as-client.h"
#include "as-settings.h"
#include "as-user.h"
#include "discover/as-autodiscover.h"
#include "discover/as-autodiscover-request.h"

#include <ctype.h>

#define AS_AUTODISCOVER_EAS_PATH "/Microsoft-Server-ActiveSync"

/* The Host header if it is a plain host[:port], else our host name: the
   URL built from it is given to the device */
static const char *autodiscover_host(struct http_server_request *req)
{
	const struct http_request *hreq = http_server_request_get(req);
	const char *host = http_request_header_get(hreq, "Host");
	const char *p;

	if (host == NULL || *host == '\0')
		return my_hostname;
	for (p = host; *p != '\0'; p++) {
		if (!i_isalnum(*p) && strchr(".-:[]", *p) == NULL)
			return my_hostname;
	}
	return host;
}

/* The host of an http(s) URL (without the port) */
static const char *autodiscover_url_host(const char *url)
{
	const char *p = strstr(url, "://");
	const char *end;

	p = p == NULL ? url : p + 3;
	if (*p == '[') {
		end = strchr(p, ']');
		return end == NULL ? p : t_strdup_until(p + 1, end);
	}
	end = p + strcspn(p, ":/");
	return t_strdup_until(p, end);
}

static const char *autodiscover_domain(const char *address)
{
	const char *p = strrchr(address, '@');

	return p == NULL ? "" : p + 1;
}

static void
autodiscover_send(struct http_server_request *req, const string_t *body)
{
	struct http_server_response *resp;

	resp = http_server_response_create(req, 200, "OK");
	http_server_response_add_header(resp, "Content-Type",
					"text/xml; charset=utf-8");
	http_server_response_add_header(resp, "Cache-Control", "private");
	http_server_response_set_payload_data(resp, str_data(body),
					      str_len(body));
	http_server_response_submit(resp);
}

static int
autodiscover_user_settings(const struct as_autodiscover_http *http,
			   pool_t pool, const struct as_settings **set_r,
			   const char **error_r)
{
	const struct as_client *client = http->client;
	struct as_user_lookup lookup;
	struct as_user user;
	int ret;

	i_zero(&lookup);
	lookup.username = http->username;
	lookup.session_id = client->session_id;
	lookup.local_ip = client->local_ip;
	lookup.remote_ip = client->remote_ip;
	lookup.local_port = client->local_port;
	lookup.remote_port = client->remote_port;
	lookup.secured = client->ssl;
	lookup.event_parent = http->event;
	i_zero(&user);
	ret = as_user_open(&lookup, &user, error_r);
	if (ret <= 0) {
		if (ret == 0)
			*error_r = "User not found in userdb";
		return -1;
	}
	ret = as_user_get_settings(&user, pool, set_r, error_r);
	as_user_close(&user);
	return ret;
}

void as_autodiscover_request_run(const struct as_autodiscover_http *http)
{
	struct as_autodiscover_request req;
	struct as_autodiscover_settings set;
	const struct as_settings *user_set;
	string_t *body = t_str_new(1024);
	const char *error, *primary;
	pool_t pool;

	if (http->payload == NULL) {
		/* GET: nothing asked, the user's own settings for phones */
		i_zero(&req);
		req.schema = AS_AUTODISCOVER_SCHEMA_MOBILESYNC;
	} else if (as_autodiscover_parse(http->payload->data,
					 http->payload->used, &req,
					 &error) < 0) {
		e_info(http->event, "Autodiscover: invalid request: %s", error);
		as_autodiscover_write_error(body, 600, "Invalid Request");
		autodiscover_send(http->http_req, body);
		return;
	} else if (req.schema == AS_AUTODISCOVER_SCHEMA_UNKNOWN) {
		e_info(http->event, "Autodiscover: no provider for the "
		       "schema %s", str_sanitize(req.schema_name, 128));
		as_autodiscover_write_error(body, 601,
			"Provider is not available for the requested schema");
		autodiscover_send(http->http_req, body);
		return;
	}

	pool = pool_alloconly_create("autodiscover settings", 2048);
	if (autodiscover_user_settings(http, pool, &user_set, &error) < 0) {
		e_error(http->event, "Autodiscover: %s", error);
		http_server_request_fail(http->http_req, 503,
					 "Service Unavailable");
		pool_unref(&pool);
		return;
	}

	primary = as_user_primary_address(user_set, http->username);
	if (req.email == NULL)
		req.email = primary;
	if (strcasecmp(req.email, primary) != 0 &&
	    strcasecmp(req.email, http->username) != 0 &&
	    strcasecmp(autodiscover_domain(req.email),
		       autodiscover_domain(primary)) != 0) {
		/* an address of another domain: the client asks again for
		   the user's own, where that domain's autodiscover says */
		e_info(http->event, "Autodiscover: %s redirected to %s",
		       str_sanitize(req.email, 128), primary);
		as_autodiscover_write_redirect(body, req.schema, req.email,
					       primary);
		autodiscover_send(http->http_req, body);
		pool_unref(&pool);
		return;
	}

	i_zero(&set);
	set.email = req.email;
	set.url = *user_set->autodiscover_url != '\0' ?
		user_set->autodiscover_url :
		t_strconcat("https://", autodiscover_host(http->http_req),
			    AS_AUTODISCOVER_EAS_PATH, NULL);
	set.imap_host = set.smtp_host = autodiscover_url_host(set.url);
	set.imap_port = user_set->autodiscover_imap_port;
	set.smtp_port = user_set->autodiscover_smtp_port;
	as_autodiscover_write_settings(body, req.schema, &set);
	e_debug(http->event, "Autodiscover: %s: %s", req.email,
		req.schema == AS_AUTODISCOVER_SCHEMA_OUTLOOK ?
		"IMAP/SMTP settings" : set.url);
	autodiscover_send(http->http_req, body);
	pool_unref(&pool);
}
