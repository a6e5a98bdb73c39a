#ifndef AS_DRAFT_H
#define AS_DRAFT_H

struct mail;
struct wbxml_node;

/* Drafts a 16.x device creates or edits with Sync (MS-ASEMAIL 16.0:
   To, Cc, Bcc, Subject, Importance, Body in ApplicationData) as RFC 822
   messages. */

/* TRUE if the ApplicationData changes the draft's content (not only
   flags or categories). */
bool as_draft_has_content(const struct wbxml_node *data);

/* Build the message into dest. base is the current draft for a Change
   (fields the device didn't send are kept from it), NULL for an Add.
   from is the user's address. Returns 0, or -1 with error_r for data
   that can't be a message (a Body of an unsupported type). */
int as_draft_build(const struct wbxml_node *data, struct mail *base,
		   const char *from, string_t *dest, const char **error_r);

/* Text and type of an airsyncbase:Body the device sent (plain or HTML).
   Returns 0, or -1 with error_r for another type. */
int as_draft_body_text(const struct wbxml_node *body, const char **text_r,
		       bool *html_r, const char **error_r);
/* The text (made valid UTF-8) quoted-printable encoded, and a CRLF */
void as_draft_append_qp(string_t *dest, const char *text);
/* MIME-Version, Content-Type and the text as quoted-printable: the end
   of the header and the whole body of a one-part text message */
void as_draft_append_text_body(string_t *dest, const char *text, bool html);

/* Valid UTF-8 (invalid sequences replaced), data stack */
const char *as_draft_utf8_valid(const char *value);
/* Header-safe text: valid UTF-8, no CR/LF (also for notes) */
const char *as_draft_header_text(const char *value);

#endif
