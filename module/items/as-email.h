#ifndef AS_EMAIL_H
#define AS_EMAIL_H

struct mail;
struct mailbox;
struct wbxml_writer;
struct as_body_options;
struct as_item_params;
struct as_store;

struct as_email;

/* What as_email_read() looks up, for mail_alloc(): Dovecot then gets the
   headers in one cache lookup (or one header parse when not cached). */
#define AS_EMAIL_WANTED_FIELDS \
	(MAIL_FETCH_FLAGS | MAIL_FETCH_RECEIVED_DATE | MAIL_FETCH_DATE | \
	 MAIL_FETCH_VIRTUAL_SIZE | MAIL_FETCH_IMAP_BODYSTRUCTURE)
/* Unref with mailbox_header_lookup_unref() */
/* The headers read() looks at (NULL-terminated) */
extern const char *const as_email_header_names[];
struct mailbox_header_lookup_ctx *as_email_wanted_headers(struct mailbox *box);

/* Read everything an Add or Fetch needs, from the data stack. Returns 0,
   or -1 with error_r (mail unreadable, e.g. expunged meanwhile). Reading
   is separate from writing so that a failed item leaves no half-written
   element behind. */
int as_email_read(struct mail *mail, const struct as_item_params *params,
		  struct as_email **email_r, const char **error_r);
/* The Email class's read() and body_data(), for classes whose items are
   read as emails (notes) */
struct as_item;
int as_email_class_read(struct mail *mail,
			const struct as_item_params *params,
			struct as_item **item_r, const char **error_r);
bool as_email_class_body_data(const struct as_item *item, const void **data_r,
			      size_t *size_r);
/* Write <ApplicationData> with the whole email. */
void as_email_write(struct wbxml_writer *w, const struct as_email *email);
/* The same elements without the ApplicationData wrapper (Search
   results carry them in search:Properties). */
void as_email_write_properties(struct wbxml_writer *w,
			       const struct as_email *email);

/* What a note (items/as-note.c) takes of a message read as an email:
   Subject (NULL if none), INTERNALDATE, categories, and the <Body>
   element chosen by the BodyPreference. */
const char *as_email_get_subject(const struct as_email *email);
time_t as_email_get_received(const struct as_email *email);
/* The invitation the mail carries (items/as-meeting-request.h), NULL if
   none */
struct as_meeting_request;
const struct as_meeting_request *
as_email_get_meeting_request(const struct as_email *email);
const char *const *as_email_get_categories(const struct as_email *email);
void as_email_write_body(struct wbxml_writer *w, const struct as_email *email);

/* The body data the email carries (text or MIME), FALSE if none
   (e.g. AllOrNone and too large). */
bool as_email_body_data(const struct as_email *email, const void **data_r,
			size_t *size_r);

/* Write <ApplicationData> with the changeable properties only (Read,
   Flag, and from 14.0 Categories) for a Sync Change. */
void as_email_write_change(struct wbxml_writer *w, struct mail *mail);
void as_email_write_change_params(struct wbxml_writer *w, struct mail *mail,
				  const struct as_item_params *params);

/* The message's categories (from its IMAP keywords), data stack */
const char *const *as_email_categories(struct mail *mail);

/* "<folder id>:<uid>" item ServerIds */
const char *as_email_server_id(const char *folder_id, uint32_t uid);
/* Parse a ServerId; returns FALSE if it is malformed or of another
   folder. */
bool as_email_parse_server_id(const char *server_id, const char *folder_id,
			      uint32_t *uid_r);

#endif
