#ifndef AS_MEETING_REQUEST_H
#define AS_MEETING_REQUEST_H

/* A mail that carries an invitation (iMIP METHOD:REQUEST or CANCEL in a
   text/calendar part) is an Email with a MeetingRequest element
   (MS-ASEMAIL 2.2.2.48), its own MessageClass and ContentClass. The
   event's fields come from the calendar converter (as-calendar.h). An
   attendee's answer (METHOD:REPLY) has only its MessageClass
   (IPM.Schedule.Meeting.Resp.Pos/Tent/Neg). */

#include "items/as-imip.h"

struct mail;
struct wbxml_writer;
struct as_body_info;

struct as_meeting_request {
	struct as_imip imip;
	/* the text/calendar object as the mail carries it */
	const char *ical;
};

/* The invitation of a mail whose structure (info) lists a text/calendar
   part. Returns 1 with mr_r, 0 if the mail is no invitation (no such
   part, another METHOD, an object that doesn't read: logged by the
   caller through error_r, the mail is then plain mail), -1 if the mail
   can't be read now. From the data stack. */
int as_meeting_request_read(struct mail *mail,
			    const struct as_body_info *info,
			    const struct as_meeting_request **mr_r,
			    const char **error_r);

/* IPM.Schedule.Meeting.Request, .Canceled, .Resp.Pos/Tent/Neg */
const char *as_meeting_request_message_class(const struct as_meeting_request *mr);
/* <email:MeetingRequest> with its children for the protocol version
   (nothing for a REPLY) */
void as_meeting_request_write(struct wbxml_writer *w,
			      const struct as_meeting_request *mr,
			      unsigned int version);

#define AS_MEETING_CONTENT_CLASS "urn:content-classes:calendarmessage"

#endif
