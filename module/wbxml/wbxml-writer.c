/* WBXML 1.3 encoder writing EAS documents into a buffer_t. */

#include "lib.h"
#include "array.h"
#include "buffer.h"
#include "istream.h"
#include "strnum.h"
#include "wbxml.h"

#define WBXML_SWITCH_PAGE 0x00
#define WBXML_END 0x01
#define WBXML_STR_I 0x03
#define WBXML_OPAQUE 0xc3
#define WBXML_TAG_CONTENT 0x40

/* version 1.3, public id "unknown", UTF-8, empty string table */
static const unsigned char wbxml_header[] = { 0x03, 0x01, 0x6a, 0x00 };

struct wbxml_writer {
	buffer_t *out;
	/* wbxml_writer_set_sink(): out is a staging buffer emptied into the
	   sink whenever it reaches sink_threshold */
	wbxml_writer_sink_t *sink;
	void *sink_context;
	size_t sink_threshold;
	uoff_t sink_written;
	/* >0: flushing is held (a length is inserted into out later) */
	unsigned int sink_hold;
	unsigned int page;
	ARRAY(unsigned int) stack;
	/* wbxml_writer_watch() */
	unsigned int watch_tag, watch_depth;
	uintmax_t watch_value;
	bool watch_seen;
};

struct wbxml_writer *wbxml_writer_init(buffer_t *out)
{
	struct wbxml_writer *w;

	w = i_new(struct wbxml_writer, 1);
	w->out = out;
	i_array_init(&w->stack, 16);
	buffer_append(out, wbxml_header, sizeof(wbxml_header));
	return w;
}

void wbxml_writer_deinit(struct wbxml_writer **_w)
{
	struct wbxml_writer *w = *_w;

	*_w = NULL;
	i_assert(array_count(&w->stack) == 0);
	array_free(&w->stack);
	i_free(w);
}

void wbxml_writer_abort(struct wbxml_writer **_w)
{
	struct wbxml_writer *w = *_w;

	*_w = NULL;
	array_free(&w->stack);
	i_free(w);
}

static size_t wbxml_mb_u_int32_encode(uint32_t value, unsigned char buf[5])
{
	unsigned char tmp[5];
	size_t i, len = 0;

	do {
		tmp[len++] = value & 0x7f;
		value >>= 7;
	} while (value > 0);
	/* most significant group first, continuation bit on all but last */
	for (i = 0; i < len; i++) {
		buf[i] = tmp[len - 1 - i];
		if (i + 1 < len)
			buf[i] |= 0x80;
	}
	return len;
}

void wbxml_writer_set_sink(struct wbxml_writer *w, size_t threshold,
			   wbxml_writer_sink_t *sink, void *context)
{
	i_assert(sink == NULL || threshold > 0);
	i_assert(w->sink_hold == 0);
	w->sink = sink;
	w->sink_context = context;
	w->sink_threshold = threshold;
}

uoff_t wbxml_writer_get_size(const struct wbxml_writer *w)
{
	return w->sink_written + w->out->used;
}

bool wbxml_writer_flushed(const struct wbxml_writer *w)
{
	return w->sink_written > 0;
}

void wbxml_writer_flush(struct wbxml_writer *w)
{
	if (w->sink == NULL || w->out->used == 0)
		return;
	i_assert(w->sink_hold == 0);
	w->sink(w->out->data, w->out->used, w->sink_context);
	w->sink_written += w->out->used;
	buffer_set_used_size(w->out, 0);
}

static void wbxml_writer_flush_if_full(struct wbxml_writer *w)
{
	if (w->sink != NULL && w->sink_hold == 0 &&
	    w->out->used >= w->sink_threshold)
		wbxml_writer_flush(w);
}

/* Append data; with a sink, data of the threshold's size or more goes
   straight to it after what is staged, without a copy. */
static void wbxml_put(struct wbxml_writer *w, const void *data, size_t size)
{
	if (w->sink != NULL && w->sink_hold == 0 &&
	    size >= w->sink_threshold) {
		wbxml_writer_flush(w);
		w->sink(data, size, w->sink_context);
		w->sink_written += size;
		return;
	}
	buffer_append(w->out, data, size);
	wbxml_writer_flush_if_full(w);
}

static void wbxml_put_c(struct wbxml_writer *w, unsigned char c)
{
	buffer_append_c(w->out, c);
	wbxml_writer_flush_if_full(w);
}

static void wbxml_write_tag(struct wbxml_writer *w, unsigned int tag,
			    bool content)
{
	unsigned int page = EAS_TAG_PAGE(tag);

	/* writing an unknown tag is a programming error */
	i_assert(wbxml_tag_name(tag) != NULL);
	if (page != w->page) {
		wbxml_put_c(w, WBXML_SWITCH_PAGE);
		wbxml_put_c(w, page);
		w->page = page;
	}
	wbxml_put_c(w, EAS_TAG_TOKEN(tag) |
		    (content ? WBXML_TAG_CONTENT : 0));
}

void wbxml_start(struct wbxml_writer *w, unsigned int tag)
{
	wbxml_write_tag(w, tag, TRUE);
	array_push_back(&w->stack, &tag);
}

void wbxml_end(struct wbxml_writer *w)
{
	i_assert(array_count(&w->stack) > 0);
	array_pop_back(&w->stack);
	wbxml_put_c(w, WBXML_END);
}

void wbxml_empty(struct wbxml_writer *w, unsigned int tag)
{
	wbxml_write_tag(w, tag, FALSE);
}

void wbxml_text(struct wbxml_writer *w, const char *str)
{
	wbxml_text_n(w, str, strlen(str));
}

void wbxml_text_n(struct wbxml_writer *w, const void *data, size_t size)
{
	const unsigned char *p = data, *end = p + size, *nul;

	i_assert(array_count(&w->stack) > 0);
	/* STR_I is NUL-terminated: NUL bytes in the input cannot be sent,
	   so they are dropped (consecutive STR_I items concatenate) */
	do {
		nul = memchr(p, '\0', end - p);
		if (nul == NULL)
			nul = end;
		wbxml_put_c(w, WBXML_STR_I);
		wbxml_put(w, p, nul - p);
		wbxml_put_c(w, '\0');
		p = nul + 1;
	} while (p < end);
}

void wbxml_opaque(struct wbxml_writer *w, const void *data, size_t size)
{
	unsigned char len[5];

	i_assert(array_count(&w->stack) > 0);
	i_assert(size <= UINT32_MAX);
	wbxml_put_c(w, WBXML_OPAQUE);
	wbxml_put(w, len, wbxml_mb_u_int32_encode(size, len));
	wbxml_put(w, data, size);
}

void wbxml_writer_watch(struct wbxml_writer *w, unsigned int tag,
			unsigned int depth)
{
	w->watch_tag = tag;
	w->watch_depth = depth;
	w->watch_seen = FALSE;
}

bool wbxml_writer_watched(const struct wbxml_writer *w, uintmax_t *value_r)
{
	*value_r = w->watch_value;
	return w->watch_seen;
}

void wbxml_elem_str(struct wbxml_writer *w, unsigned int tag,
		    const char *str)
{
	if (tag == w->watch_tag && !w->watch_seen &&
	    array_count(&w->stack) == w->watch_depth &&
	    str_to_uintmax(str, &w->watch_value) == 0)
		w->watch_seen = TRUE;
	if (*str == '\0') {
		wbxml_empty(w, tag);
		return;
	}
	wbxml_start(w, tag);
	wbxml_text(w, str);
	wbxml_end(w);
}

void wbxml_elem_uint(struct wbxml_writer *w, unsigned int tag,
		     uintmax_t value)
{
	wbxml_elem_str(w, tag, dec2str(value));
}

void wbxml_elem_opaque(struct wbxml_writer *w, unsigned int tag,
		       const void *data, size_t size)
{
	if (size == 0) {
		wbxml_empty(w, tag);
		return;
	}
	wbxml_start(w, tag);
	wbxml_opaque(w, data, size);
	wbxml_end(w);
}

int wbxml_elem_opaque_stream(struct wbxml_writer *w, unsigned int tag,
			     struct istream *input, uoff_t max_size)
{
	size_t start_pos = w->out->used, len_pos, size;
	unsigned int start_page = w->page;
	const unsigned char *data;
	unsigned char len[5];
	uoff_t total = 0;

	if (max_size == 0 || max_size > UINT32_MAX)
		max_size = UINT32_MAX;

	/* the length comes before the data but is known only after reading
	   the stream: write the data first and insert the length after
	   (nothing goes to a sink meanwhile) */
	w->sink_hold++;
	wbxml_write_tag(w, tag, TRUE);
	buffer_append_c(w->out, WBXML_OPAQUE);
	len_pos = w->out->used;
	while (total < max_size &&
	       i_stream_read_more(input, &data, &size) > 0) {
		if (size > max_size - total)
			size = max_size - total;
		buffer_append(w->out, data, size);
		i_stream_skip(input, size);
		total += size;
	}
	if (input->stream_errno != 0 ||
	    (total < max_size && i_stream_have_bytes_left(input))) {
		/* read error, or a non-blocking stream that had no data */
		buffer_set_used_size(w->out, start_pos);
		w->page = start_page;
		w->sink_hold--;
		return -1;
	}
	if (total == 0) {
		buffer_set_used_size(w->out, start_pos);
		w->page = start_page;
		w->sink_hold--;
		wbxml_empty(w, tag);
		return 0;
	}
	buffer_insert(w->out, len_pos, len,
		      wbxml_mb_u_int32_encode(total, len));
	buffer_append_c(w->out, WBXML_END);
	w->sink_hold--;
	wbxml_writer_flush_if_full(w);
	return 0;
}

int wbxml_text_istream(struct wbxml_writer *w, struct istream *input)
{
	const unsigned char *data;
	size_t size;
	int ret;

	i_assert(array_count(&w->stack) > 0);
	wbxml_put_c(w, WBXML_STR_I);
	while ((ret = i_stream_read_more(input, &data, &size)) > 0) {
		/* NULs would end the string early (base64 has none) */
		i_assert(memchr(data, '\0', size) == NULL);
		wbxml_put(w, data, size);
		i_stream_skip(input, size);
	}
	wbxml_put_c(w, '\0');
	if (input->stream_errno != 0 || i_stream_have_bytes_left(input))
		return -1;
	return 0;
}
