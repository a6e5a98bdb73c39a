/* Copyright (c) dovecot-activesync authors, see the included COPYING file */

/* Benchmark (bench/utf8.sh): the UTF-8 validation every synced text
   body goes through, ours (as_body_utf8_is_valid: ASCII a word at a
   time) against Dovecot's uni_utf8_data_is_valid(), and our truncation
   against uni_utf8_data_truncate(). Prints one JSON object. */

#include "lib.h"
#include "str.h"
#include "unichar.h"
#include "items/as-body.h"

#include <stdio.h>
#include <time.h>

#define BENCH_SIZE (32 * 1024 * 1024)
#define BENCH_ROUNDS 8

static double bench_now(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0)
		i_fatal("clock_gettime() failed: %m");
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Mail-like text: ASCII lines, every tenth with Latin-1 letters and
   every hundredth with CJK and an emoji */
static void bench_text(buffer_t *buf, bool ascii_only)
{
	static const char *const lines[] = {
		"Hello team, the quarterly figures are attached below.\r\n",
		"Gr\xc3\xbc\xc3\x9f" "e aus M\xc3\xbcnchen, \xc3\xa0 bient\xc3\xb4t!\r\n",
		"\xe4\xbc\x9a\xe8\xae\xae\xe8\xae\xb0\xe5\xbd\x95 \xf0\x9f\x98\x80\r\n",
	};
	unsigned int i;

	for (i = 0; buf->used < BENCH_SIZE; i++) {
		const char *line = ascii_only || i % 10 != 0 ? lines[0] :
			i % 100 == 0 ? lines[2] : lines[1];
		buffer_append(buf, line, strlen(line));
	}
}

static double bench_valid(const buffer_t *buf, bool ours)
{
	double start = bench_now();
	unsigned int i;
	bool valid = TRUE;

	for (i = 0; i < BENCH_ROUNDS; i++) {
		valid = valid && (ours ?
			as_body_utf8_is_valid(buf->data, buf->used) :
			uni_utf8_data_is_valid(buf->data, buf->used));
	}
	if (!valid)
		i_fatal("test text is not valid UTF-8");
	/* MB/s */
	return (double)buf->used * BENCH_ROUNDS / (bench_now() - start) / 1e6;
}

int main(void)
{
	buffer_t *mixed, *ascii;
	unsigned int i, agree = 0;

	lib_init();
	mixed = buffer_create_dynamic(default_pool, BENCH_SIZE + 128);
	ascii = buffer_create_dynamic(default_pool, BENCH_SIZE + 128);
	bench_text(mixed, FALSE);
	bench_text(ascii, TRUE);
	/* the truncations agree at every cut of the mixed text's start */
	for (i = 0; i < 4096; i++) {
		if (as_body_utf8_truncate(mixed->data, 4096, i) ==
		    uni_utf8_data_truncate(mixed->data, 4096, i))
			agree++;
	}
	printf("{\"bytes\": %zu, \"rounds\": %u,\n"
	       " \"mixed_ours_mb_s\": %.0f, \"mixed_dovecot_mb_s\": %.0f,\n"
	       " \"ascii_ours_mb_s\": %.0f, \"ascii_dovecot_mb_s\": %.0f,\n"
	       " \"truncate_agree\": \"%u/4096\"}\n",
	       mixed->used, BENCH_ROUNDS,
	       bench_valid(mixed, TRUE), bench_valid(mixed, FALSE),
	       bench_valid(ascii, TRUE), bench_valid(ascii, FALSE), agree);
	buffer_free(&mixed);
	buffer_free(&ascii);
	lib_deinit();
	return 0;
}
