#ifndef AS_BODY_H
#define AS_BODY_H

struct mail;
struct message_part;

/* AirSyncBase body types (MS-ASAIRS 2.2.2.22) */
enum as_body_type {
	AS_BODY_TYPE_PLAIN = 1,
	AS_BODY_TYPE_HTML = 2,
	AS_BODY_TYPE_RTF = 3,
	AS_BODY_TYPE_MIME = 4,
};

/* One attachment as EAS lists it. part_number is the IMAP section
   ("2", "1.3"), so GetAttachment / ItemOperations can open it with
   lib-imap's imap_msgpart. */
struct as_body_attachment {
	const char *part_number;
	const char *display_name;
	const char *content_type;	/* "image/png" */
	const char *content_id;		/* without <>, NULL if none */
	const char *content_location;	/* NULL if none */
	/* decoded size in bytes: exact once as_body_attachment_sizes()
	   ran (well-formed base64: from the encoded length), a rough
	   estimate from the encoded size before */
	uoff_t size;
	bool is_inline;
	/* the part in as_body_info's structure, NULL after a streaming
	   parse */
	const struct message_part *part;
};
ARRAY_DEFINE_TYPE(as_body_attachment, struct as_body_attachment);

/* What one pass over a message found. */
struct as_body_info {
	/* The first text/plain and text/html parts that are not
	   attachments, decoded to UTF-8. At most max_text_size bytes are
	   kept; *_size is the full decoded size. NULL if no such part. */
	string_t *plain, *html;
	uoff_t plain_size, html_size;
	ARRAY_TYPE(as_body_attachment) attachments;
	/* S/MIME: multipart/signed, or application/pkcs7-mime */
	bool smime_signed, smime_encrypted;
	/* the message has a (non-attachment) text/plain / text/html part,
	   whether or not its text was read */
	bool has_plain, has_html;

	/* as_body_structure(): the part tree with MIME data (from the
	   pool), and the text parts in it */
	struct message_part *parts;
	const struct message_part *plain_part, *html_part;
	/* parts has positions in the message (from Dovecot's part tree) */
	bool have_positions;
};

/* The message's MIME structure without reading its body: Dovecot's
   cached BODYSTRUCTURE and message parts (computed by one parse when not
   cached). Fills everything but the texts (plain/html stay NULL); attachment
   sizes are rough until as_body_attachment_sizes(). Returns 0 or -1 (mail
   could not be read) with error_r. */
int as_body_structure(pool_t pool, struct mail *mail, bool want_attachments,
		      struct as_body_info *info_r, const char **error_r);
/* Decoded attachment sizes: base64 parts from their encoded length (two
   small reads per part), others from their size. */
int as_body_attachment_sizes(struct mail *mail, struct as_body_info *info,
			     const char **error_r);
/* Read and decode the text parts as_body_structure() found (at most
   max_text_size bytes kept of each), and mark attachments the HTML shows
   by cid: as inline. */
int as_body_texts(pool_t pool, struct mail *mail, size_t max_text_size,
		  struct as_body_info *info, const char **error_r);

/* All of the above: structure, attachment sizes (if wanted) and texts.
   With want_attachments FALSE the attachment list stays empty. Returns 0
   or -1 (mail could not be read) with error_r. */
int as_body_parse(pool_t pool, struct mail *mail, size_t max_text_size,
		  bool want_attachments, struct as_body_info *info_r,
		  const char **error_r);

/* The message's own body type: HTML if it has an HTML body part. */
enum as_body_type as_body_native_type(const struct as_body_info *info);

/* Body text of the wanted type (PLAIN or HTML), converting from the
   other type when the message doesn't have it. full_size_r is the size of
   the complete converted text (an estimate when the source was cut at
   max_text_size). */
const char *as_body_text(const struct as_body_info *info,
			 enum as_body_type type, uoff_t *full_size_r);

/* Cut a UTF-8 string to at most max_size bytes without splitting a
   character. Returns the new length. */
size_t as_body_utf8_truncate(const char *str, size_t len, size_t max_size);

/* TRUE if data is valid UTF-8 (RFC 3629: no overlong forms, surrogates
   or code points above U+10FFFF). ASCII runs are checked a word at a
   time. */
bool as_body_utf8_is_valid(const unsigned char *data, size_t size);

/* HTML as plain text (Dovecot's html2text), from the data stack */
const char *as_body_html_to_plain(const char *html);

#endif
