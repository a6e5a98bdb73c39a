#ifndef AS_SEND_COMPOSE_H
#define AS_SEND_COMPOSE_H

#include "send/as-send.h"
#include "send/as-send-mime.h"

struct mail;

struct as_send_compose_input {
	enum as_send_kind kind;
	const struct as_send_mime *mime;
	/* The original of SmartReply/SmartForward whose text (and for a
	   forward, attachments) is added; NULL = the device's message is
	   sent as it is (SendMail, ReplaceMime). */
	struct mail *original;
	/* Header values added when the device's message lacks them */
	const char *from, *date, *message_id;
	/* Stop once the message grows beyond this */
	uoff_t max_size;
};

struct as_send_composed {
	/* The message as it goes out (no Bcc) */
	buffer_t *data;
	/* Where its header ends (before the empty line): the Sent copy
	   gets the Bcc lines there */
	size_t header_end;
};

/* Returns 1 if composed, 0 if the message exceeds max_size, -1 if the
   original could not be read (error_r). */
int as_send_compose(pool_t pool, const struct as_send_compose_input *in,
		    struct as_send_composed *out_r, const char **error_r);

/* Append data with every bare LF turned into CRLF. */
void as_send_crlf_append(buffer_t *dest, const void *data, size_t size);

#endif
