#ifndef AS_MEETING_SEND_H
#define AS_MEETING_SEND_H

#include "items/as-imip.h"

struct as_cmd_context;

/* An iMIP message (RFC 6047) from the user: multipart/alternative with
   a readable text and the object as text/calendar; method=...; a
   REQUEST or CANCEL also carries the object as an invite.ics
   attachment, which many mail clients look for. */
struct as_meeting_mail {
	enum as_imip_method method;
	const char *const *to;		/* addresses, NULL-terminated */
	const char *subject;
	const char *text;		/* the readable part, UTF-8 */
	const char *ical;		/* the object, with METHOD */
};

/* The whole message (CRLF lines) into dest */
void as_meeting_mail_build(const struct as_meeting_mail *mail,
			   const char *from, string_t *dest);

/* Build and submit it through the user's submission settings (as
   SendMail does), waiting for the outcome. Returns 0 when every
   recipient got it, -1 with error_r otherwise (nothing is retried: the
   caller logs it). */
int as_meeting_send(struct as_cmd_context *ctx,
		    const struct as_meeting_mail *mail, const char **error_r);

#endif
