#ifndef AS_BODY_PART_H
#define AS_BODY_PART_H

struct mail;
struct wbxml_node;
struct wbxml_writer;

/* AirSyncBase BodyPart (MS-ASAIRS 2.2.2.10/2.2.2.11, 14.1+): the
   message's body as HTML, asked for with BodyPartPreference. The part
   unique to one message of a conversation is the whole body here: the
   server does not strip quoted history. */

struct as_body_part_pref {
	uoff_t truncation_size;		/* AS_TRUNCATION_NONE if absent */
	bool all_or_none;
	unsigned int preview;		/* characters, 0 = none */
};

enum as_body_part_parse_result {
	AS_BODY_PART_PREF_OK = 0,
	/* malformed (Status 2) */
	AS_BODY_PART_PREF_INVALID,
	/* a Type other than HTML (2): common Status 164 */
	AS_BODY_PART_PREF_TYPE_NOT_SUPPORTED,
};

enum as_body_part_parse_result
as_body_part_pref_parse(const struct wbxml_node *node,
			struct as_body_part_pref *pref_r,
			const char **error_r);

/* Write <airsyncbase:BodyPart>: Status 1 with the (converted,
   truncated at a character boundary) HTML, or Status 176 when the body
   is larger than the server converts (AS_BODY_PART_MAX_SIZE) and the
   client wants more of it than that. Returns 0, or -1 with error_r
   when the mail couldn't be read (nothing written). */
#define AS_BODY_PART_MAX_SIZE (4 * 1024 * 1024)
int as_body_part_write(struct wbxml_writer *w, struct mail *mail,
		       const struct as_body_part_pref *pref,
		       const char **error_r);

#endif
