#ifndef AS_COMMANDS_PRIVATE_H
#define AS_COMMANDS_PRIVATE_H

#include "as-command.h"

struct http_server_response;

struct as_cmd_context *as_cmd_context_create(pool_t pool, struct event *event);
/* Decode the body, open the user and the device, check the policy key and
   run the command. Returns -1 if a response was already sent for an error
   that happened before the command ran. */
int as_cmd_context_run(struct as_cmd_context *ctx, const buffer_t *payload,
		       const struct ip_addr *remote_ip, bool ssl,
		       const char **error_r);
/* Called when the HTTP request is gone: aborts a pending command. */
void as_cmd_context_destroy(struct as_cmd_context **_ctx);

/* as-client.c */
void as_client_request_send_response(struct as_cmd_context *ctx);
/* A 200 response with the common headers and the WBXML content type
   (for a streamed response: http/as-response-stream.c) */
struct http_server_response *
as_client_request_response_create(struct as_cmd_context *ctx);

#endif
