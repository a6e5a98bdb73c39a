#ifndef AS_STREAM_RESPONSE_H
#define AS_STREAM_RESPONSE_H

/* A WBXML response with large binary content spliced in as streams, so
   that attachments of any size are sent with bounded memory.

   Inline form: the document is written with ctx->writer as usual; at
   each as_stream_response_add() the element's text is a hole that the
   base64 encoding of the stream fills when the response is sent.

   Multipart form (MS-ASAcceptMultiPart: T, MS-ASCMD 2.2.1.10.1): the
   element is replaced by <itemoperations:Part>N</Part> and the stream's
   raw bytes become part N of an application/vnd.ms-sync.multipart body:
   a part count, (offset, length) for each part, then the parts; part 0
   is the WBXML document. Integers are 32 bit little-endian. */

struct as_cmd_context;
struct istream;

struct as_stream_response;

struct as_stream_response *
as_stream_response_init(struct as_cmd_context *ctx, bool multipart);
/* Drop everything (error paths before as_stream_response_finish()). */
void as_stream_response_deinit(struct as_stream_response **_sr);

bool as_stream_response_is_multipart(const struct as_stream_response *sr);

/* Write the data of input (size bytes from its current offset) as the
   content of a new <tag> element (inline form) or as a new part with
   <itemoperations:Part>N</Part> in its place (multipart form; tag is
   not used). The response keeps a reference to input. */
void as_stream_response_add(struct as_stream_response *sr, unsigned int tag,
			    struct istream *input, uoff_t size);
/* The part number the next multipart add will use */
unsigned int as_stream_response_next_part(const struct as_stream_response *sr);
/* Add a part without writing an element (the caller wrote the Part
   element itself, e.g. inside an email body). Multipart form only. */
void as_stream_response_add_part(struct as_stream_response *sr,
				 struct istream *input, uoff_t size);

/* After the document is complete (all elements closed): sets
   ctx->response_input/response_content_type when streams were added or
   the multipart form was asked for; otherwise ctx->response is sent
   as it is. Frees sr. */
void as_stream_response_finish(struct as_stream_response **_sr);

#endif
