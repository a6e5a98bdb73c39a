#ifndef AS_FLAG_H
#define AS_FLAG_H

struct wbxml_node;
struct wbxml_writer;

/* The EAS follow-up flag (MS-ASEMAIL Flag) kept losslessly. IMAP holds
   only \Flagged (set while FlagStatus is 2); the whole Flag element
   (FlagStatus, FlagType, the Tasks dates, reminder, ordinal dates,
   CompleteTime) is kept as item properties text and written back as the
   device sent it, as long as \Flagged still agrees with it. */

enum as_flag_status {
	AS_FLAG_STATUS_CLEARED = 0,
	AS_FLAG_STATUS_COMPLETE = 1,
	AS_FLAG_STATUS_ACTIVE = 2,
};

/* Parse a client's <Flag>. props_r is the text to store, NULL for an
   empty (cleared) flag. Returns 0, or -1 for a malformed Flag. */
int as_flag_parse(const struct wbxml_node *flag, const char **props_r,
		  enum as_flag_status *status_r, const char **error_r);

/* Write <Flag> from \Flagged and the stored properties (NULL if none). */
void as_flag_write(struct wbxml_writer *w, bool flagged, const char *props);

#endif
