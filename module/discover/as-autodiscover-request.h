#ifndef AS_AUTODISCOVER_REQUEST_H
#define AS_AUTODISCOVER_REQUEST_H

struct as_client;
struct http_server_request;

/* An authenticated Autodiscover request */
struct as_autodiscover_http {
	struct as_client *client;
	struct http_server_request *http_req;
	struct event *event;
	const char *username;
	/* the request body; NULL for GET */
	const buffer_t *payload;
};

/* Answer it (always submits a response) */
void as_autodiscover_request_run(const struct as_autodiscover_http *http);

#endif
