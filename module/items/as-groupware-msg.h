#ifndef AS_GROUPWARE_MSG_H
#define AS_GROUPWARE_MSG_H

/* The message that carries one groupware item (DESIGN.md,
   GroupWare-as-Email): multipart/mixed with a readable text/plain summary
   that any mail client shows, and the item itself (a vCard, an iCalendar
   object) as an attachment. Contacts and tasks are stored this way;
   other clients' messages are read whatever their layout, as long as
   one part has the object's type. */

struct mail;

/* Largest object read from a message: a contact with a big photo still
   fits, a stray video attachment does not. */
#define AS_GROUPWARE_MSG_MAX_OBJECT_SIZE (8 * 1024 * 1024)

struct as_groupware_msg {
	/* The user's address (From:) */
	const char *from;
	/* Subject: the item's title (UTF-8, may be NULL) */
	const char *subject;
	/* The readable part, UTF-8 (may be NULL or "") */
	const char *summary;
	/* "text/vcard", "text/calendar" */
	const char *content_type;
	/* "contact.vcf", "task.ics" */
	const char *filename;
	/* The object's text (UTF-8, CRLF or LF lines) */
	const char *object;
	/* Date: header; 0 = now */
	time_t date;
};

/* Write the whole message into dest (CRLF lines). */
void as_groupware_msg_build(const struct as_groupware_msg *msg,
			    string_t *dest);

/* The object a message carries: the first part whose Content-Type is one
   of content_types (NULL-terminated, compared without case and
   parameters; the whole message counts when it is a single part of such
   a type), decoded from its transfer encoding and made valid UTF-8, from
   the data stack. Returns 1 and object_r, 0 if the message has no such
   part or the object is larger than AS_GROUPWARE_MSG_MAX_OBJECT_SIZE
   (error_r says which, for the log), -1 if the message can't be read
   now (error_r). */
int as_groupware_msg_read(struct mail *mail, const char *const *content_types,
			  const char **object_r, const char **error_r);

#endif
