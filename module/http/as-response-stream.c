/* Copyright (c) the dovecot-activesync authors, see AUTHORS */

#include "lib.h"
#include "ostream.h"
#include "http-server.h"
#include "wbxml.h"
#include "as-command.h"
#include "as-commands-private.h"
#include "http/as-response-stream.h"

struct as_response_stream {
	struct as_cmd_context *ctx;
	struct http_server_response *resp;
	struct ostream *output;
	bool failed:1;
};

static void as_response_stream_start(struct as_response_stream *rs)
{
	struct as_cmd_context *ctx = rs->ctx;

	rs->resp = as_client_request_response_create(ctx);
	/* blocking: a write waits until the connection took it, so at most
	   one piece is buffered; no Content-Length means chunked */
	rs->output = http_server_response_get_payload_output(rs->resp,
		AS_RESPONSE_STREAM_BUFFER, TRUE);
	e_debug(ctx->event, "Response: streaming (more than %u bytes)",
		AS_RESPONSE_STREAM_BUFFER);
}

static void
as_response_stream_sink(const void *data, size_t size, void *context)
{
	struct as_response_stream *rs = context;

	if (rs->failed)
		return;
	if (rs->output == NULL)
		as_response_stream_start(rs);
	if (o_stream_send(rs->output, data, size) < 0) {
		/* the client went away: the rest is discarded */
		e_info(rs->ctx->event, "Streamed response failed after "
		       "%"PRIuUOFF_T" bytes: %s", rs->output->offset,
		       o_stream_get_error(rs->output));
		rs->failed = TRUE;
	}
}

void as_response_stream_enable(struct as_cmd_context *ctx)
{
	struct as_response_stream *rs;

	if (ctx->response_stream != NULL ||
	    (ctx->device != NULL && ctx->device->debug))
		return;
	rs = p_new(ctx->pool, struct as_response_stream, 1);
	rs->ctx = ctx;
	ctx->response_stream = rs;
	wbxml_writer_set_sink(ctx->writer, AS_RESPONSE_STREAM_BUFFER,
			      as_response_stream_sink, rs);
}

void as_response_stream_disable(struct as_cmd_context *ctx)
{
	if (ctx->response_stream == NULL)
		return;
	i_assert(ctx->response_stream->output == NULL);
	wbxml_writer_set_sink(ctx->writer, 0, NULL, NULL);
	ctx->response_stream = NULL;
}

bool as_response_stream_enabled(const struct as_cmd_context *ctx)
{
	return ctx->response_stream != NULL;
}

bool as_response_stream_started(const struct as_cmd_context *ctx)
{
	return ctx->response_stream != NULL &&
		ctx->response_stream->output != NULL;
}

uoff_t as_response_stream_finish(struct as_cmd_context *ctx)
{
	struct as_response_stream *rs = ctx->response_stream;
	uoff_t size;

	i_assert(rs->output != NULL);

	if (ctx->http_status != 0 && ctx->http_status != 200) {
		size = rs->output->offset;
		if (!rs->failed && rs->output->stream_errno == 0) {
			/* too late for the status: no complete response
			   at all is the next best, the device repeats */
			e_error(ctx->event, "Response must become HTTP %u "
				"after %"PRIuUOFF_T" bytes were sent: "
				"closing the connection", ctx->http_status,
				size);
			http_server_response_abort_payload(&rs->resp);
		}
	} else {
		wbxml_writer_flush(ctx->writer);
		size = rs->output->offset;
		if (!rs->failed && o_stream_finish(rs->output) < 0) {
			e_info(ctx->event, "Streamed response failed after "
			       "%"PRIuUOFF_T" bytes: %s", rs->output->offset,
			       o_stream_get_error(rs->output));
			rs->failed = TRUE;
		}
		if (!rs->failed) {
			e_debug(ctx->event, "Response: %"PRIuUOFF_T
				" bytes (streamed)", size);
		}
	}
	as_response_stream_free(ctx);
	return size;
}

void as_response_stream_free(struct as_cmd_context *ctx)
{
	struct as_response_stream *rs = ctx->response_stream;

	if (rs == NULL)
		return;
	/* unreferencing an unfinished stream aborts the request */
	o_stream_unref(&rs->output);
	rs->resp = NULL;
}
