/* Copyright (c) the dovecot-activesync authors, see AUTHORS */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "buffer.h"
#include "smtp-address.h"
#include "test-common.h"
#include "send/as-send-mime.h"
#include "send/as-send-compose.h"

static int mime_parse(const char *text, struct as_send_mime *mime_r,
		      const char **error_r)
{
	return as_send_mime_parse(pool_datastack_create(),
				  (const unsigned char *)text, strlen(text),
				  mime_r, error_r);
}

static const char *rcpt(const struct as_send_mime *mime, unsigned int i)
{
	return smtp_address_encode(array_idx_elem(&mime->rcpts, i));
}

static void test_mime_split(void)
{
	struct as_send_mime mime;
	const char *error;

	test_begin("as_send_mime_parse: header lines sorted, body found");
	test_assert(mime_parse(
		"From: a@example.test\r\n"
		"To: Bob <bob@example.test>,\r\n"
		"  carol@example.test\r\n"
		"Bcc: dave@example.test, BOB@example.test\r\n"
		"Subject: hi\r\n"
		"MIME-Version: 1.0\r\n"
		"Content-Type: text/plain\r\n"
		"\r\n"
		"body\r\n", &mime, &error) == 0);
	test_assert_strcmp(str_c(mime.headers),
		"From: a@example.test\r\n"
		"To: Bob <bob@example.test>,\r\n"
		"  carol@example.test\r\n"
		"Subject: hi\r\n");
	test_assert_strcmp(str_c(mime.bcc_headers),
			   "Bcc: dave@example.test, BOB@example.test\r\n");
	test_assert_strcmp(str_c(mime.content_headers),
			   "MIME-Version: 1.0\r\nContent-Type: text/plain\r\n");
	test_assert(mime.body_size == 6 &&
		    memcmp(mime.body, "body\r\n", 6) == 0);
	/* folded To read whole; BOB is bob again */
	test_assert(array_count(&mime.rcpts) == 3);
	test_assert_strcmp(rcpt(&mime, 0), "bob@example.test");
	test_assert_strcmp(rcpt(&mime, 1), "carol@example.test");
	test_assert_strcmp(rcpt(&mime, 2), "dave@example.test");
	test_assert(mime.have_from && !mime.have_date &&
		    mime.message_id == NULL);
	test_end();

	test_begin("as_send_mime_parse: LF only, no body, Message-ID");
	test_assert(mime_parse("To: x@example.test\nMessage-ID:  <m@x> \n",
			       &mime, &error) == 0);
	test_assert_strcmp(mime.message_id, "<m@x>");
	test_assert(mime.body_size == 0);
	test_end();

	test_begin("as_send_mime_parse: groups and names without domain");
	test_assert(mime_parse("To: undisclosed-recipients:;\r\n"
			       "Cc: bob, list: x@example.test;\r\n\r\n",
			       &mime, &error) == 0);
	test_assert(array_count(&mime.rcpts) == 1);
	test_assert_strcmp(rcpt(&mime, 0), "x@example.test");
	test_end();
}

static void test_mime_invalid(void)
{
	static const char *const invalid[] = {
		"",
		"\r\nbody only\r\n",
		"not a header line\r\n\r\nbody\r\n",
		"To: a@example.test\r\nno colon here\r\n\r\n",
	};
	struct as_send_mime mime;
	const char *error;
	unsigned int i;

	test_begin("as_send_mime_parse: not a message");
	for (i = 0; i < N_ELEMENTS(invalid); i++) {
		error = NULL;
		test_assert_idx(mime_parse(invalid[i], &mime, &error) < 0 &&
				error != NULL, i);
	}
	test_end();
}

static void test_crlf(void)
{
	static const char *in = "a\nb\r\nc\n\nd";
	static const char *out = "a\r\nb\r\nc\r\n\r\nd";
	buffer_t *buf = t_buffer_create(64);

	test_begin("as_send_crlf_append");
	as_send_crlf_append(buf, in, strlen(in));
	test_assert(buf->used == strlen(out) &&
		    memcmp(buf->data, out, buf->used) == 0);
	test_end();
}

int main(void)
{
	static void (*const test_functions[])(void) = {
		test_mime_split,
		test_mime_invalid,
		test_crlf,
		NULL
	};
	return test_run(test_functions);
}
