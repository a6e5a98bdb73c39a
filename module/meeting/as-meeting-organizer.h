#ifndef AS_MEETING_ORGANIZER_H
#define AS_MEETING_ORGANIZER_H

/* Meetings the user organizes from the device: an event with attendees
   that a device adds or changes in a calendar folder goes to them as an
   iMIP REQUEST, one it deletes (or marks cancelled) as a CANCEL. Only
   when the user is the ORGANIZER: events that came by invitation have
   another organizer and are never sent on. Called after the device's
   change is committed: a failure to send is logged and loses nothing. */

struct as_cmd_context;

/* One device change of an event: the object before (NULL for an Add)
   and after (NULL for a Delete) */
struct as_meeting_change {
	const char *old_ical, *new_ical;
};
ARRAY_DEFINE_TYPE(as_meeting_change, struct as_meeting_change);

void as_meeting_organizer_changed(struct as_cmd_context *ctx,
				  const struct as_meeting_change *change);

#endif
