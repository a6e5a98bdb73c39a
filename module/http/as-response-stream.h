#ifndef AS_RESPONSE_STREAM_H
#define AS_RESPONSE_STREAM_H

/* A command's WBXML response sent while it is written, so that memory
   per request stays bounded whatever the WindowSize and the message
   sizes, and the first bytes leave early.

   The writer stages at most AS_RESPONSE_STREAM_BUFFER bytes. A response
   that stays smaller goes out as before, whole, with Content-Length.
   Once it grows past that, the HTTP response (200, chunked) starts and
   every further piece is written to the connection as it comes; a
   write waits (blocking) while the client's socket is full, so nothing
   piles up in memory. Data of a piece's size or more (a message body)
   goes from the item to the socket without another copy.

   What must be known before the first byte (HTTP status, the command's
   top-level Status) is written first by the commands that use this.
   If the response can't stand once it has started (the state store
   failed, a read error), the connection is cut instead of finishing
   it: the device never sees a complete response and repeats the
   request with the keys it has (a Sync replays from its old state). */

struct as_cmd_context;

/* Responses up to this size are sent as before: whole, with
   Content-Length, while the process serves other devices. Writes of a
   streamed response block the process until the client took them, so
   only the rare big window (full MIME bodies, big fetches) streams:
   its memory stays bounded by about twice this. */
#define AS_RESPONSE_STREAM_BUFFER (2 * 1024 * 1024)

/* Stream ctx's response from now on. Not for devices with per-device
   debugging (their responses are logged whole): a no-op then. */
void as_response_stream_enable(struct as_cmd_context *ctx);
/* Keep the whole response in memory after all (before it began) */
void as_response_stream_disable(struct as_cmd_context *ctx);
/* TRUE if as_response_stream_enable() took effect */
bool as_response_stream_enabled(const struct as_cmd_context *ctx);
/* TRUE once the HTTP response has begun */
bool as_response_stream_started(const struct as_cmd_context *ctx);
/* From as_cmd_finish() after the response has begun: send the rest and
   finish it, or cut the connection if ctx->http_status is an error.
   Returns the number of bytes of the WBXML document written. */
uoff_t as_response_stream_finish(struct as_cmd_context *ctx);
/* The request is gone before as_response_stream_finish() */
void as_response_stream_free(struct as_cmd_context *ctx);

#endif
