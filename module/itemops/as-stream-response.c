/* Copyright (c) dovecot-activesync authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "buffer.h"
#include "istream.h"
#include "istream-base64.h"
#include "istream-concat.h"
#include "wbxml.h"
#include "as-command.h"
#include "itemops/as-stream-response.h"
#include "http/as-response-stream.h"

#define AS_MULTIPART_CONTENT_TYPE "application/vnd.ms-sync.multipart"

ARRAY_DEFINE_TYPE(as_istream, struct istream *);

struct as_stream_hole {
	/* inline: where in ctx->response the stream's text goes */
	size_t offset;
	struct istream *input;
	uoff_t size;
};

struct as_stream_response {
	struct as_cmd_context *ctx;
	bool multipart;
	ARRAY(struct as_stream_hole) holes;
};

struct as_stream_response *
as_stream_response_init(struct as_cmd_context *ctx, bool multipart)
{
	struct as_stream_response *sr;

	sr = i_new(struct as_stream_response, 1);
	sr->ctx = ctx;
	sr->multipart = multipart;
	i_array_init(&sr->holes, 4);
	return sr;
}

void as_stream_response_deinit(struct as_stream_response **_sr)
{
	struct as_stream_response *sr = *_sr;
	struct as_stream_hole *hole;

	if (sr == NULL)
		return;
	*_sr = NULL;
	array_foreach_modifiable(&sr->holes, hole)
		i_stream_unref(&hole->input);
	array_free(&sr->holes);
	i_free(sr);
}

bool as_stream_response_is_multipart(const struct as_stream_response *sr)
{
	return sr->multipart;
}

unsigned int as_stream_response_next_part(const struct as_stream_response *sr)
{
	i_assert(sr->multipart);
	/* part 0 is the WBXML document */
	return array_count(&sr->holes) + 1;
}

void as_stream_response_add_part(struct as_stream_response *sr,
				 struct istream *input, uoff_t size)
{
	struct as_stream_hole *hole;

	i_assert(sr->multipart);
	hole = array_append_space(&sr->holes);
	hole->input = input;
	hole->size = size;
	i_stream_ref(input);
}

static void
as_stream_response_write_inline(struct as_stream_response *sr,
				unsigned int tag, struct istream *input)
{
	struct as_cmd_context *ctx = sr->ctx;
	struct istream *b64;

	wbxml_start(ctx->writer, tag);
	/* base64 without line breaks: WBXML text, not MIME */
	b64 = i_stream_create_base64_encoder(input, 0, FALSE);
	if (wbxml_text_istream(ctx->writer, b64) < 0) {
		/* the document is broken: no answer is better */
		e_error(ctx->event, "%s: read(%s) failed: %s", ctx->cmd->name,
			i_stream_get_name(input), i_stream_get_error(b64));
		ctx->http_status = 500;
		ctx->http_reason = "Internal Server Error";
	}
	i_stream_unref(&b64);
	wbxml_end(ctx->writer);
}

void as_stream_response_add(struct as_stream_response *sr, unsigned int tag,
			    struct istream *input, uoff_t size)
{
	struct wbxml_writer *w = sr->ctx->writer;
	struct as_stream_hole *hole;

	if (sr->multipart) {
		wbxml_elem_uint(w, EAS_ITEMOPERATIONS_PART,
				as_stream_response_next_part(sr));
		as_stream_response_add_part(sr, input, size);
		return;
	}
	if (size == 0) {
		wbxml_empty(w, tag);
		return;
	}
	if (as_response_stream_started(sr->ctx)) {
		/* the response is going out while it is written: the
		   base64 text follows right away, piece by piece */
		as_stream_response_write_inline(sr, tag, input);
		return;
	}
	/* not begun yet: the holes below keep the document in memory
	   (small; the attachments are streams) and its length known */
	as_response_stream_disable(sr->ctx);
	/* an empty inline string (STR_I, NUL) marks the place: the base64
	   text goes right before its terminating NUL */
	wbxml_start(w, tag);
	wbxml_text_n(w, "", 0);
	hole = array_append_space(&sr->holes);
	hole->offset = sr->ctx->response->used - 1;
	hole->input = input;
	hole->size = size;
	i_stream_ref(input);
	wbxml_end(w);
}

static void le32_append(buffer_t *buf, uint32_t value)
{
	unsigned char b[4];

	b[0] = value & 0xff;
	b[1] = (value >> 8) & 0xff;
	b[2] = (value >> 16) & 0xff;
	b[3] = (value >> 24) & 0xff;
	buffer_append(buf, b, sizeof(b));
}

static struct istream *data_stream(const void *data, size_t size)
{
	return i_stream_create_copy_from_data(data, size);
}

static void
as_stream_response_set_input(struct as_stream_response *sr,
			     ARRAY_TYPE(as_istream) *inputs)
{
	struct istream **inputp;

	array_append_zero(inputs);
	sr->ctx->response_input =
		i_stream_create_concat(array_front_modifiable(inputs));
	i_stream_set_name(sr->ctx->response_input,
			  t_strdup_printf("%s response", sr->ctx->cmd->name));
	/* the concat stream holds its own references */
	array_foreach_modifiable(inputs, inputp) {
		if (*inputp != NULL)
			i_stream_unref(inputp);
	}
}

static void as_stream_response_finish_inline(struct as_stream_response *sr)
{
	const buffer_t *resp = sr->ctx->response;
	const unsigned char *data = resp->data;
	const struct as_stream_hole *hole;
	ARRAY_TYPE(as_istream) inputs;
	struct istream *input;
	size_t pos = 0;

	t_array_init(&inputs, array_count(&sr->holes) * 2 + 2);
	array_foreach(&sr->holes, hole) {
		input = data_stream(data + pos, hole->offset - pos);
		array_push_back(&inputs, &input);
		/* base64 without line breaks: WBXML text, not MIME */
		input = i_stream_create_base64_encoder(hole->input, 0, FALSE);
		array_push_back(&inputs, &input);
		pos = hole->offset;
	}
	input = data_stream(data + pos, resp->used - pos);
	array_push_back(&inputs, &input);
	as_stream_response_set_input(sr, &inputs);
}

static void
as_stream_response_finish_multipart(struct as_stream_response *sr)
{
	const buffer_t *resp = sr->ctx->response;
	const struct as_stream_hole *hole;
	ARRAY_TYPE(as_istream) inputs;
	struct istream *input;
	unsigned int count = array_count(&sr->holes) + 1;
	buffer_t *header;
	uoff_t offset;

	/* PartsCount, then (Offset, Length) per part; offsets count from
	   the start of the body */
	header = t_buffer_create(4 + 8 * count);
	le32_append(header, count);
	offset = 4 + 8 * (uoff_t)count;
	le32_append(header, offset);
	le32_append(header, resp->used);
	offset += resp->used;
	array_foreach(&sr->holes, hole) {
		/* the parts' sizes were checked to fit */
		le32_append(header, offset);
		le32_append(header, hole->size);
		offset += hole->size;
	}

	t_array_init(&inputs, count + 2);
	input = data_stream(header->data, header->used);
	array_push_back(&inputs, &input);
	input = data_stream(resp->data, resp->used);
	array_push_back(&inputs, &input);
	array_foreach(&sr->holes, hole) {
		input = hole->input;
		i_stream_ref(input);
		array_push_back(&inputs, &input);
	}
	as_stream_response_set_input(sr, &inputs);
	sr->ctx->response_content_type = AS_MULTIPART_CONTENT_TYPE;
}

void as_stream_response_finish(struct as_stream_response **_sr)
{
	struct as_stream_response *sr = *_sr;

	i_assert(sr->ctx->response_input == NULL);
	T_BEGIN {
		if (sr->multipart)
			as_stream_response_finish_multipart(sr);
		else if (array_count(&sr->holes) > 0)
			as_stream_response_finish_inline(sr);
	} T_END;
	as_stream_response_deinit(_sr);
}
