/* Copyright (c) dovecot-activesync authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "ioloop.h"
#include "guid.h"
#include "mail-storage.h"
#include "message-date.h"
#include "message-header-encode.h"
#include "wbxml.h"
#include "items/as-email.h"
#include "items/as-categories.h"
#include "items/as-datetime.h"
#include "items/as-draft.h"
#include "items/as-item.h"
#include "items/as-note.h"

#include <time.h>

/* IMAP notes apps (Apple Notes) mark a note's messages with these; a
   note edited there is a new message with the same identifier. */
#define NOTE_TYPE_HEADER "X-Uniform-Type-Identifier"
#define NOTE_TYPE_VALUE "com.apple.mail-note"
#define NOTE_UID_HEADER "X-Universally-Unique-Identifier"

struct note_item {
	struct as_email *email;
	const char *uid;	/* NOTE_UID_HEADER, NULL if none */
};

static struct mailbox_header_lookup_ctx *note_wanted_headers(struct mailbox *box)
{
	/* the Email class's, and the note's identifier */
	ARRAY_TYPE(const_string) headers;
	const char *name = NOTE_UID_HEADER;

	t_array_init(&headers, 16);
	array_append(&headers, as_email_header_names,
		     str_array_length(as_email_header_names));
	array_push_back(&headers, &name);
	array_append_zero(&headers);
	return mailbox_header_lookup_init(box, array_front(&headers));
}

static const char *note_mail_uid(struct mail *mail)
{
	const char *value;

	if (mail_get_first_header(mail, NOTE_UID_HEADER, &value) <= 0)
		return NULL;
	value = t_str_trim(value, " \t");
	return *value == '\0' ? NULL : value;
}

static int
note_read(struct mail *mail, const struct as_item_params *params,
	  struct as_item **item_r, const char **error_r)
{
	struct note_item *item = t_new(struct note_item, 1);
	struct as_item *email;

	if (as_email_class_read(mail, params, &email, error_r) < 0)
		return -1;
	item->email = (struct as_email *)email;
	item->uid = note_mail_uid(mail);
	*item_r = (struct as_item *)item;
	return 0;
}

static const char *note_item_uid(const struct as_item *item)
{
	return ((const struct note_item *)item)->uid;
}

static bool
note_body_data(const struct as_item *item, const void **data_r,
	       size_t *size_r)
{
	return as_email_class_body_data(
		(const struct as_item *)((const struct note_item *)item)->email,
		data_r, size_r);
}

static void note_write(struct wbxml_writer *w, const struct as_item *item)
{
	const struct as_email *email =
		((const struct note_item *)item)->email;
	const char *const *cats = as_email_get_categories(email);
	const char *subject = as_email_get_subject(email);

	wbxml_elem_str(w, EAS_NOTES_SUBJECT, subject == NULL ? "" : subject);
	as_email_write_body(w, email);
	wbxml_elem_str(w, EAS_NOTES_MESSAGECLASS, AS_NOTE_MESSAGE_CLASS);
	wbxml_elem_str(w, EAS_NOTES_LASTMODIFIEDDATE,
		       as_datetime_format_compact(
				as_email_get_received(email)));
	if (cats[0] == NULL)
		wbxml_empty(w, EAS_NOTES_CATEGORIES);
	else {
		wbxml_start(w, EAS_NOTES_CATEGORIES);
		for (; *cats != NULL; cats++)
			wbxml_elem_str(w, EAS_NOTES_CATEGORY, *cats);
		wbxml_end(w);
	}
}

static int
note_keywords(const struct wbxml_node *data, const char *const **keywords_r,
	      const char **error_r)
{
	const struct wbxml_node *cats, *cat;
	ARRAY_TYPE(const_string) keywords;
	const char *keyword;

	t_array_init(&keywords, 4);
	cats = wbxml_node_child(data, EAS_NOTES_CATEGORIES);
	if (cats != NULL) {
		wbxml_node_foreach_child(cats, cat) {
			if (cat->tag != EAS_NOTES_CATEGORY)
				continue;
			keyword = as_category_to_keyword(wbxml_node_text(cat));
			if (keyword == NULL) {
				*error_r = "invalid Category";
				return -1;
			}
			array_push_back(&keywords, &keyword);
		}
	}
	array_append_zero(&keywords);
	*keywords_r = array_front(&keywords);
	return 0;
}

static int
note_build(const struct as_item_build *build, string_t *dest,
	   const char *const **keywords_r, const char **error_r)
{
	const struct wbxml_node *data = build->data, *body;
	const char *from = build->from;
	const char *subject, *uid, *text = "";
	bool html = FALSE;

	body = wbxml_node_child(data, EAS_AIRSYNCBASE_BODY);
	if (body != NULL &&
	    as_draft_body_text(body, &text, &html, error_r) < 0)
		return -1;
	if (note_keywords(data, keywords_r, error_r) < 0)
		return -1;

	str_printfa(dest, "From: <%s>\r\n", as_draft_header_text(from));
	subject = wbxml_node_child_text(data, EAS_NOTES_SUBJECT);
	if (subject != NULL && *subject != '\0') {
		str_append(dest, "Subject: ");
		message_header_encode(as_draft_header_text(subject), dest);
		str_append(dest, "\r\n");
	}
	str_printfa(dest, "Date: %s\r\n", message_date_create(ioloop_time));
	/* the same note in IMAP notes apps: its identifier stays the same
	   through edits */
	str_append(dest, NOTE_TYPE_HEADER": "NOTE_TYPE_VALUE"\r\n");
	uid = build->base == NULL ? NULL : note_mail_uid(build->base);
	if (uid == NULL) {
		guid_128_t guid;

		guid_128_generate(guid);
		uid = t_str_ucase(guid_128_to_uuid_string(guid,
							  FORMAT_RECORD));
	}
	str_printfa(dest, NOTE_UID_HEADER": %s\r\n",
		    as_draft_header_text(uid));
	as_draft_append_text_body(dest, text, html);
	return 0;
}

const struct as_item_class as_item_class_note = {
	.name = "Notes",
	.folder_class = AS_FOLDER_CLASS_NOTES,
	.wanted_fields = AS_EMAIL_WANTED_FIELDS,
	.wanted_headers = note_wanted_headers,
	.read = note_read,
	.write = note_write,
	.body_data = note_body_data,
	.build = note_build,
	.item_uid = note_item_uid,
};
