#ifndef AS_SEND_MIME_H
#define AS_SEND_MIME_H

#include "smtp-address.h"


/* The device's message, split for sending: its top-level header lines
   sorted into what goes out, what only the Sent copy keeps (Bcc) and the
   content headers (needed apart when the message is wrapped into a
   multipart/mixed with the original's text and attachments). Lines are
   kept byte for byte. */
struct as_send_mime {
	string_t *headers;		/* all other header lines */
	string_t *content_headers;	/* Content-*, MIME-Version */
	string_t *bcc_headers;		/* Bcc */
	const unsigned char *body;	/* after the empty line */
	size_t body_size;

	/* To, Cc and Bcc, each address once */
	ARRAY_TYPE(smtp_address_const) rcpts;
	const char *message_id;		/* NULL if none */
	bool have_from:1;
	bool have_date:1;
	bool have_in_reply_to:1;
	bool have_references:1;
};

/* Split data (allocated from pool, pointing into data). Returns 0, or -1
   with error_r if the header is not a header (no field name, no fields
   at all): the caller answers InvalidMIME. */
int as_send_mime_parse(pool_t pool, const unsigned char *data, size_t size,
		       struct as_send_mime *mime_r, const char **error_r);

/* Append "Name: value\r\n" with the value folded nowhere (short values). */
void as_send_mime_add_header(string_t *dest, const char *name,
			     const char *value);
/* A new Message-ID "<random@domain>" */
const char *as_send_mime_new_message_id(const char *domain);

#endif
