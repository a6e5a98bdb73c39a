#ifndef AS_ATTACHMENT_H
#define AS_ATTACHMENT_H

/* Attachments by their FileReference "<folder id>:<uid>:<IMAP section>"
   as module/items/as-email.c lists them (GetAttachment, ItemOperations
   Fetch). The decoded content is copied to an unlinked temporary file
   first, so the response can stream it with bounded memory after the
   mailbox is closed again. */

struct as_cmd_context;
struct istream;

struct as_attachment {
	const char *content_type;	/* "image/png" */
	const char *display_name;
	/* the decoded content, positioned at 0 */
	struct istream *input;
	uoff_t size;
};

/* Returns 1 and att_r (unref att_r->input when done), 0 if the reference
   doesn't name an attachment (error_r says why, for the log), -1 on a
   server error (error_r). */
int as_attachment_open(struct as_cmd_context *ctx, const char *file_reference,
		       struct as_attachment *att_r, const char **error_r);

/* Parse "m-n" (MS-ASCMD Range, zero-based, inclusive). Returns -1 if
   malformed (m > n, not numbers). */
int as_attachment_parse_range(const char *str, uoff_t *first_r,
			      uoff_t *last_r);

#endif
