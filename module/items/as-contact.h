#ifndef AS_CONTACT_H
#define AS_CONTACT_H

/* Contacts (MS-ASCNTC, with the Contacts2 fields) stored as vCards in a
   folder typed "contact" (DESIGN.md, GroupWare-as-Email): each contact
   is a message made by as_groupware_msg_build() with the vCard attached.

   The map between EAS elements and vCard properties is one table in
   as-contact.c. Properties the table doesn't know are never touched: a
   device's Change starts from the vCard it replaces and rewrites only
   the mapped properties, so what Thunderbird, iOS or Android put into a
   card survives an edit on the phone. */

struct as_vcard;
struct wbxml_writer;
struct wbxml_node;
struct as_body_options;
struct as_item_params;
struct as_item_class;

/* MS-ASCNTC 2.2.2.58: larger Pictures from a device are refused; a
   larger PHOTO read from IMAP is not sent (and kept). Counted in
   base64 characters. */
#define AS_CONTACT_MAX_PICTURE_BASE64 (48 * 1024)

/* The contact's EAS fields, from the data stack */
struct as_contact;

/* Read the fields out of a card */
struct as_contact *as_contact_from_vcard(const struct as_vcard *card,
					 const struct as_body_options *body);
/* Write them as the children of <ApplicationData> */
void as_contact_write(struct wbxml_writer *w,
		      const struct as_contact *contact);
/* A readable summary (name, e-mail addresses, phone numbers) and the
   title (FileAs, else the formatted name) for the message */
const char *as_contact_summary(const struct as_contact *contact);
const char *as_contact_title(const struct as_contact *contact);

/* Apply a device's <ApplicationData> to card: card is the replaced
   item's vCard on a Change (only the mapped properties the device may
   change are rewritten, ghosted ones kept as params says) or a new
   card on an Add (is_change = FALSE). Makes sure the card has FN and
   UID. Returns 0, or -1 with error_r for data that can't be stored
   (Sync Status 6). */
int as_contact_apply(struct as_vcard *card, const struct wbxml_node *data,
		     bool is_change, const struct as_item_params *params,
		     const char **error_r);

/* The class itself is as_item_class_contact */
extern const struct as_item_class as_item_class_contact;

#endif
