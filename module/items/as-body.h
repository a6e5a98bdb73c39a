#ifndef AS_BODY_H
#define AS_BODY_H

struct mail;

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
	uoff_t size;			/* decoded size in bytes */
	bool is_inline;
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
};

/* Parse the message's MIME structure and text bodies. With
   want_attachments FALSE the attachment list stays empty. Returns 0 or -1
   (mail could not be read) with error_r. */
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

#endif
