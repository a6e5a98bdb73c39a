#ifndef AS_MEETING_CALENDAR_H
#define AS_MEETING_CALENDAR_H

/* The user's default calendar as meetings see it: one event per
   iCalendar UID, found, placed, replaced and removed by that UID. Every
   path that touches a meeting's event (an invitation seen in the Inbox,
   MeetingResponse, a cancellation) goes through here, so the same UID
   always resolves to the one calendar item and crossing paths make no
   duplicates. */

#include "as-folders.h"

struct as_cmd_context;
struct as_meeting_request;

struct as_meeting_calendar {
	struct as_cmd_context *ctx;
	struct as_folder_info folder;
	struct mailbox *box;
};

/* The addresses that are the user (the primary address, the login and
   activesync_user_addresses), NULL-terminated, from the data stack */
const char *const *as_meeting_user_addresses(struct as_cmd_context *ctx);

/* Open the default calendar folder (type 8). Returns 1, 0 if the user
   has none (nothing to do), -1 with error_r. */
int as_meeting_calendar_open(struct as_cmd_context *ctx,
			     struct as_meeting_calendar *cal_r,
			     const char **error_r);
void as_meeting_calendar_close(struct as_meeting_calendar *cal);

/* The event with this iCalendar UID: 1 with its IMAP UID and object,
   0 if none, -1 with error_r. */
int as_meeting_calendar_find(struct as_meeting_calendar *cal,
			     const char *item_uid, uint32_t *uid_r,
			     const char **ical_r, const char **error_r);
/* Save ical as the event, replacing the message old_uid (0: a new
   event). The item UID is recorded in the state store's history. */
int as_meeting_calendar_save(struct as_meeting_calendar *cal,
			     const char *ical, uint32_t old_uid,
			     uint32_t *uid_r, const char **error_r);
/* Remove the event's message */
int as_meeting_calendar_delete(struct as_meeting_calendar *cal, uint32_t uid,
			       const char **error_r);

/* An invitation (or cancellation) seen in the Inbox: its event placed
   tentatively in the default calendar, updated by a newer SEQUENCE, or
   marked cancelled; an attendee's reply to a meeting the user organizes
   recorded in its event (one from someone not invited is logged and
   ignored). Idempotent: an event already there with the same or
   a newer SEQUENCE is left alone, and one the user removed (declined)
   is not brought back by the same invitation. Returns 0 (also when
   nothing was to be done) or -1 with error_r. */
int as_meeting_place(struct as_cmd_context *ctx,
		     const struct as_meeting_request *mr,
		     const char **error_r);
int as_meeting_place_in(struct as_meeting_calendar *cal,
			const struct as_meeting_request *mr,
			const char **error_r);

#endif
