#ifndef AS_NOTE_H
#define AS_NOTE_H

struct wbxml_writer;
struct wbxml_node;
struct as_email;

/* Notes (MS-ASNOTE, protocol 14.0+) stored as ordinary messages in a
   folder typed "note" (DESIGN.md, GroupWare-as-Email): the Subject header
   is the note's subject, the text (plain or HTML) body is the note, the
   categories are IMAP keywords as for mail, and the message's INTERNALDATE
   is when it was last modified (an edit saves a new message). */

#define AS_NOTE_MESSAGE_CLASS "IPM.StickyNote"

/* Write <ApplicationData> with the note read by as_email_read() (its
   body per the collection's BodyPreference). */
void as_note_write(struct wbxml_writer *w, const struct as_email *email);

/* Build the message for a device's note ApplicationData into dest;
   keywords_r is the categories as IMAP keywords (NULL-terminated, data
   stack). Returns 0, or -1 with error_r (a Body of another type than
   plain text or HTML, an invalid category). */
int as_note_build(const struct wbxml_node *data, const char *from,
		  string_t *dest, const char *const **keywords_r,
		  const char **error_r);

#endif
