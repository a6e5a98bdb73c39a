/* Copyright (c) dovecot-activesync authors, see the included COPYING file */

#include "lib.h"
#include "str.h"
#include "buffer.h"
#include "test-common.h"
#include "wbxml.h"
#include "items/as-body.h"
#include "items/as-email.h"
#include "items/as-categories.h"
#include "sync/as-sync-options.h"

/* Encode <Options>...</Options> with the writer and decode it again. */
static struct wbxml_node *
options_tree(pool_t pool, void (*fill)(struct wbxml_writer *w))
{
	buffer_t *buf = t_buffer_create(256);
	struct wbxml_writer *w = wbxml_writer_init(buf);
	struct wbxml_node *root = NULL;
	const char *error = NULL;

	wbxml_start(w, EAS_AIRSYNC_OPTIONS);
	fill(w);
	wbxml_end(w);
	wbxml_writer_deinit(&w);
	if (wbxml_decode(pool, buf->data, buf->used, NULL, &root,
			 &error) < 0)
		i_fatal("wbxml_decode: %s", error);
	return root;
}

static void fill_full(struct wbxml_writer *w)
{
	wbxml_elem_uint(w, EAS_AIRSYNC_FILTERTYPE, 3);
	wbxml_elem_uint(w, EAS_AIRSYNC_MIMESUPPORT, 2);
	wbxml_elem_uint(w, EAS_AIRSYNC_MIMETRUNCATION, 1);
	wbxml_start(w, EAS_AIRSYNCBASE_BODYPREFERENCE);
	wbxml_elem_uint(w, EAS_AIRSYNCBASE_TYPE, 2);
	wbxml_elem_uint(w, EAS_AIRSYNCBASE_TRUNCATIONSIZE, 200);
	wbxml_elem_uint(w, EAS_AIRSYNCBASE_ALLORNONE, 1);
	wbxml_end(w);
	wbxml_start(w, EAS_AIRSYNCBASE_BODYPREFERENCE);
	wbxml_elem_uint(w, EAS_AIRSYNCBASE_TYPE, 4);
	wbxml_elem_uint(w, EAS_AIRSYNCBASE_PREVIEW, 100);
	wbxml_end(w);
}

static void fill_bad_filter(struct wbxml_writer *w)
{
	wbxml_elem_uint(w, EAS_AIRSYNC_FILTERTYPE, 9);
}

static void fill_bad_type(struct wbxml_writer *w)
{
	wbxml_start(w, EAS_AIRSYNCBASE_BODYPREFERENCE);
	wbxml_elem_uint(w, EAS_AIRSYNCBASE_TYPE, 7);
	wbxml_end(w);
}

static void fill_sms(struct wbxml_writer *w)
{
	wbxml_elem_str(w, EAS_AIRSYNC_CLASS, "SMS");
	wbxml_elem_uint(w, EAS_AIRSYNC_FILTERTYPE, 1);
}

static void test_sync_options_parse(void)
{
	pool_t pool = pool_alloconly_create("test", 1024);
	struct as_sync_options opts, opts2;
	const char *error;
	string_t *str = t_str_new(128);

	test_begin("sync options parse and round trip");
	as_sync_options_init(&opts);
	test_assert(as_sync_options_parse(options_tree(pool, fill_full),
					  &opts, &error) == 1);
	test_assert(opts.filter_type == 3);
	test_assert(opts.body.have_mime_support && opts.body.mime_support == 2);
	test_assert(opts.body.mime_truncation == 4096);
	test_assert(opts.body.truncation == AS_TRUNCATION_NONE);
	test_assert(opts.body.pref_count == 2);
	test_assert(opts.body.prefs[0].type == 2 &&
		    opts.body.prefs[0].truncation_size == 200 &&
		    opts.body.prefs[0].all_or_none);
	test_assert(opts.body.prefs[1].type == 4 &&
		    opts.body.prefs[1].truncation_size == AS_TRUNCATION_NONE &&
		    opts.body.prefs[1].preview == 100);

	as_sync_options_write(str, &opts);
	as_sync_options_read(str_c(str), &opts2);
	test_assert(memcmp(&opts, &opts2, sizeof(opts)) == 0);
	/* unknown keys are ignored */
	as_sync_options_read(t_strconcat(str_c(str), " x=1 full=1", NULL),
			     &opts2);
	test_assert(memcmp(&opts, &opts2, sizeof(opts)) == 0);
	test_end();

	test_begin("sync options errors");
	test_assert(as_sync_options_parse(options_tree(pool, fill_bad_filter),
					  &opts, &error) < 0);
	test_assert(as_sync_options_parse(options_tree(pool, fill_bad_type),
					  &opts, &error) < 0);
	as_sync_options_init(&opts);
	opts.filter_type = 5;
	test_assert(as_sync_options_parse(options_tree(pool, fill_sms),
					  &opts, &error) == 0);
	test_assert(opts.filter_type == 5);
	test_end();
	pool_unref(&pool);
}

static void test_sync_filter_since(void)
{
	struct as_sync_options a, b;

	test_begin("sync filter type");
	test_assert(as_sync_filter_since(0, 1000000) == 0);
	test_assert(as_sync_filter_since(1, 1000000) == 1000000 - 86400);
	test_assert(as_sync_filter_since(3, 1000000) == 1000000 - 7*86400);
	test_assert(as_sync_filter_since(8, 1000000) == 0);
	as_sync_options_init(&a);
	as_sync_options_init(&b);
	b.filter_type = 8;
	test_assert(!as_sync_options_filter_equals(&a, &b));
	a.filter_type = 8;
	test_assert(as_sync_options_filter_equals(&a, &b));
	a.filter_type = 0;
	b.filter_type = 2;
	test_assert(!as_sync_options_filter_equals(&a, &b));
	test_end();
}

static void test_email_server_id(void)
{
	uint32_t uid;

	test_begin("email server ids");
	test_assert(strcmp(as_email_server_id("5", 12), "5:12") == 0);
	test_assert(as_email_parse_server_id("5:12", "5", &uid) && uid == 12);
	test_assert(!as_email_parse_server_id("51:2", "5", &uid));
	test_assert(!as_email_parse_server_id("5:0", "5", &uid));
	test_assert(!as_email_parse_server_id("5:x", "5", &uid));
	test_assert(!as_email_parse_server_id("5:", "5", &uid));
	test_assert(!as_email_parse_server_id("5", "5", &uid));
	test_end();
}

static void test_utf8_truncate(void)
{
	const char *s = "a\xc3\xa9z"; /* a, e-acute, z */

	test_begin("utf-8 truncation");
	test_assert(as_body_utf8_truncate(s, 4, 10) == 4);
	test_assert(as_body_utf8_truncate(s, 4, 3) == 3);
	test_assert(as_body_utf8_truncate(s, 4, 2) == 1);
	test_assert(as_body_utf8_truncate(s, 4, 1) == 1);
	test_assert(as_body_utf8_truncate(s, 4, 0) == 0);
	test_end();
}

static void test_categories(void)
{
	static const struct {
		const char *name, *keyword;
	} tests[] = {
		{ "Project", "Project" },
		{ "Work Items", "$Cat:Work=20Items" },
		{ "M\xc3\xbcll", "$Cat:M=C3=BCll" },
		{ "a=b", "$Cat:a=3Db" },
		{ "Junk", "$Cat:Junk" },
		{ "$label1", "$Cat:=24label1" },
		{ "50%", "$Cat:50=25" },
		{ "(x)", "$Cat:=28x=29" },
	};
	unsigned int i;

	test_begin("categories <-> keywords");
	for (i = 0; i < N_ELEMENTS(tests); i++) {
		const char *kw = as_category_to_keyword(tests[i].name);

		test_assert_idx(kw != NULL &&
				strcmp(kw, tests[i].keyword) == 0, i);
		kw = as_keyword_to_category(tests[i].keyword);
		test_assert_idx(kw != NULL && strcmp(kw, tests[i].name) == 0,
				i);
	}
	/* not categories */
	test_assert(as_keyword_to_category("$Forwarded") == NULL);
	test_assert(as_keyword_to_category("\\Seen") == NULL);
	test_assert(as_keyword_to_category("NonJunk") == NULL);
	test_assert(as_keyword_to_category("$Cat:=ZZ") == NULL);
	test_assert(as_keyword_to_category("$Cat:=FF") == NULL);
	test_assert(as_keyword_to_category("$Cat:") == NULL);
	/* can't be categories */
	test_assert(as_category_to_keyword("") == NULL);
	test_assert(as_category_to_keyword("a\tb") == NULL);
	test_assert(as_category_to_keyword("\xff") == NULL);
	test_end();
}

int main(void)
{
	static void (*const test_functions[])(void) = {
		test_categories,
		test_sync_options_parse,
		test_sync_filter_since,
		test_email_server_id,
		test_utf8_truncate,
		NULL
	};
	return test_run(test_functions);
}
