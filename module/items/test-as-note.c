/* Copyright (c) dovecot-activesync authors, see the included COPYING file */

/* The Notes class round trip: a device's ApplicationData -> the message
   the class builds -> saved in a temporary maildir (Dovecot's test mail
   storage) -> read and written back as ApplicationData, every field
   unchanged. */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "buffer.h"
#include "test-common.h"
#include "mail-storage.h"
#include "wbxml.h"
#include "items/as-body.h"
#include "items/as-body-prefs.h"
#include "items/as-item.h"
#include "test-as-mail-user.h"

static struct mailbox *test_box;

static struct wbxml_node *test_decode(const buffer_t *buf)
{
	struct wbxml_node *root = NULL;
	const char *error = NULL;

	if (wbxml_decode(pool_datastack_create(), buf->data, buf->used, NULL,
			 &root, &error) < 0)
		i_fatal("wbxml_decode: %s", error);
	return root;
}

/* <ApplicationData> a device sends */
static struct wbxml_node *
test_device_data(const char *subject, const char *text, unsigned int type,
		 const char *const *categories)
{
	buffer_t *buf = t_buffer_create(256);
	struct wbxml_writer *w = wbxml_writer_init(buf);

	wbxml_start(w, EAS_AIRSYNC_APPLICATIONDATA);
	wbxml_elem_str(w, EAS_NOTES_SUBJECT, subject);
	wbxml_start(w, EAS_AIRSYNCBASE_BODY);
	wbxml_elem_uint(w, EAS_AIRSYNCBASE_TYPE, type);
	wbxml_elem_str(w, EAS_AIRSYNCBASE_DATA, text);
	wbxml_end(w);
	if (categories != NULL) {
		wbxml_start(w, EAS_NOTES_CATEGORIES);
		for (; *categories != NULL; categories++)
			wbxml_elem_str(w, EAS_NOTES_CATEGORY, *categories);
		wbxml_end(w);
	}
	wbxml_elem_str(w, EAS_NOTES_MESSAGECLASS, "IPM.StickyNote");
	wbxml_end(w);
	wbxml_writer_deinit(&w);
	return test_decode(buf);
}

static uint32_t test_save(const string_t *msg, const char *const *keywords)
{
	return test_as_mail_save(test_box, str_data(msg), str_len(msg), 0,
				 keywords);
}

/* The class reads the message and writes its ApplicationData again */
static struct wbxml_node *
test_read_back(uint32_t uid, unsigned int pref_type)
{
	const struct as_item_class *class = &as_item_class_note;
	struct mailbox_header_lookup_ctx *headers;
	struct mailbox_transaction_context *t;
	struct as_body_options body;
	struct as_item_params params;
	struct as_item *item;
	struct wbxml_writer *w;
	struct mail *mail;
	buffer_t *buf = t_buffer_create(256);
	const char *error = NULL;

	as_body_options_init(&body);
	body.prefs[0].type = pref_type;
	body.prefs[0].truncation_size = AS_TRUNCATION_NONE;
	body.pref_count = 1;
	i_zero(&params);
	params.version = 141;
	params.folder_id = "7";
	params.body = &body;

	headers = class->wanted_headers == NULL ? NULL :
		class->wanted_headers(test_box);
	t = mailbox_transaction_begin(test_box, 0, __func__);
	mail = mail_alloc(t, class->wanted_fields, headers);
	test_assert(mail_set_uid(mail, uid));
	if (class->read(mail, &params, &item, &error) < 0)
		i_fatal("read: %s", error);
	w = wbxml_writer_init(buf);
	wbxml_start(w, EAS_AIRSYNC_APPLICATIONDATA);
	class->write(w, item);
	wbxml_end(w);
	wbxml_writer_deinit(&w);
	mail_free(&mail);
	mailbox_transaction_rollback(&t);
	if (headers != NULL)
		mailbox_header_lookup_unref(&headers);
	return test_decode(buf);
}

static const char *
test_child(const struct wbxml_node *node, unsigned int tag)
{
	const char *text = wbxml_node_child_text(node, tag);

	return text == NULL ? "" : text;
}

static void test_note_round_trip(void)
{
	static const char *const cats[] = { "Work", "Home Stuff", NULL };
	const struct wbxml_node *data, *back, *body, *node;
	struct as_item_build build;
	struct as_item_params params;
	const char *const *keywords, *error, *date;
	string_t *msg;
	unsigned int i = 0;

	test_begin("note: every field device -> message -> device");
	data = test_device_data("Trip \xC3\xA9t\xC3\xA9", "Passport\nTickets",
				1, cats);
	i_zero(&params);
	params.version = 141;
	i_zero(&build);
	build.data = data;
	build.from = "owner@example.test";
	build.params = &params;
	msg = t_str_new(512);
	test_assert(as_item_class_note.build(&build, msg, &keywords,
					     &error) == 0);
	test_assert(str_array_length(keywords) == 2);

	back = test_read_back(test_save(msg, keywords), 1);
	test_assert_strcmp(test_child(back, EAS_NOTES_SUBJECT),
			   "Trip \xC3\xA9t\xC3\xA9");
	test_assert_strcmp(test_child(back, EAS_NOTES_MESSAGECLASS),
			   "IPM.StickyNote");
	body = wbxml_node_child(back, EAS_AIRSYNCBASE_BODY);
	test_assert(body != NULL);
	if (body != NULL) {
		test_assert_strcmp(test_child(body, EAS_AIRSYNCBASE_TYPE), "1");
		/* stored with CRLF line ends, as mail is */
		test_assert(strstr(test_child(body, EAS_AIRSYNCBASE_DATA),
				   "Passport") != NULL);
		test_assert(strstr(test_child(body, EAS_AIRSYNCBASE_DATA),
				   "Tickets") != NULL);
	}
	node = wbxml_node_child(back, EAS_NOTES_CATEGORIES);
	test_assert(node != NULL);
	if (node != NULL) {
		const struct wbxml_node *cat;

		wbxml_node_foreach_child(node, cat) {
			test_assert(cat->tag == EAS_NOTES_CATEGORY);
			if (i < 2) {
				test_assert_strcmp(wbxml_node_text(cat),
						   cats[i]);
			}
			i++;
		}
	}
	test_assert(i == 2);
	/* MS-ASDTYPE compact form: 20261206T120000Z */
	date = test_child(back, EAS_NOTES_LASTMODIFIEDDATE);
	test_assert(strlen(date) == 16 && date[8] == 'T' && date[15] == 'Z');
	test_end();
}

static void test_note_html(void)
{
	const struct wbxml_node *data, *back, *body;
	struct as_item_build build;
	struct as_item_params params;
	const char *const *keywords, *error;
	string_t *msg;
	uint32_t uid;

	test_begin("note: an HTML note stays HTML, and reads as text too");
	data = test_device_data("Rich", "<p>Bold <b>move</b></p>", 2, NULL);
	i_zero(&params);
	params.version = 161;
	i_zero(&build);
	build.data = data;
	build.from = "owner@example.test";
	build.params = &params;
	msg = t_str_new(512);
	test_assert(as_item_class_note.build(&build, msg, &keywords,
					     &error) == 0);
	test_assert(keywords[0] == NULL);
	uid = test_save(msg, keywords);
	back = test_read_back(uid, 2);
	body = wbxml_node_child(back, EAS_AIRSYNCBASE_BODY);
	test_assert(body != NULL &&
		    strcmp(test_child(body, EAS_AIRSYNCBASE_TYPE), "2") == 0 &&
		    strstr(test_child(body, EAS_AIRSYNCBASE_DATA),
			   "<b>move</b>") != NULL);
	back = test_read_back(uid, 1);
	body = wbxml_node_child(back, EAS_AIRSYNCBASE_BODY);
	test_assert(body != NULL &&
		    strcmp(test_child(body, EAS_AIRSYNCBASE_TYPE), "1") == 0 &&
		    strstr(test_child(body, EAS_AIRSYNCBASE_DATA),
			   "Bold move") != NULL);
	/* no Categories element content: an empty one */
	test_assert(wbxml_node_child(back, EAS_NOTES_CATEGORIES) != NULL);
	test_end();
}

static void test_note_refused(void)
{
	struct as_item_build build;
	struct as_item_params params;
	const char *const *keywords, *error = NULL;
	string_t *msg;

	test_begin("note: a Body of another type is refused");
	i_zero(&params);
	params.version = 141;
	i_zero(&build);
	build.data = test_device_data("Bad", "x", 4, NULL);
	build.from = "owner@example.test";
	build.params = &params;
	msg = t_str_new(128);
	test_assert(as_item_class_note.build(&build, msg, &keywords,
					     &error) < 0);
	test_assert(error != NULL);
	test_end();
}

static void test_note_open(void)
{
	test_box = test_as_mailbox_open("Notes");
}

static void test_note_close(void)
{
	mailbox_free(&test_box);
}

int main(int argc, char **argv)
{
	static void (*const test_functions[])(void) = {
		test_note_open,
		test_note_round_trip,
		test_note_html,
		test_note_refused,
		test_note_close,
		NULL
	};

	return test_as_mail_user_run("test-as-note", test_functions,
				     argc, argv);
}
