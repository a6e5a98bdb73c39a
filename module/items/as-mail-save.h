#ifndef AS_MAIL_SAVE_H
#define AS_MAIL_SAVE_H

#include "mail-types.h"

struct mailbox;
struct mail_keywords;

/* Save a complete RFC 822 message (CRLF or LF lines) into an open
   mailbox in a transaction of its own. uid_r is the new UID (0 if the
   backend couldn't tell). Returns 0, or -1 with error_r. */
int as_mail_save(struct mailbox *box, const void *data, size_t size,
		 enum mail_flags flags, struct mail_keywords *keywords,
		 uint32_t *uid_r, const char **error_r);

#endif
