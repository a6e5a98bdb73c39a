/* Copyright (c) dovecot-activesync authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "str-sanitize.h"
#include "as-command.h"
#include "items/as-calendar.h"
#include "items/as-imip.h"
#include "meeting/as-meeting-calendar.h"
#include "meeting/as-meeting-send.h"
#include "meeting/as-meeting-organizer.h"

static bool meeting_status_cancelled(int status)
{
	/* MS-ASCAL MeetingStatus 5, 7, 13, 15: cancelled */
	return status >= 0 && (status & 4) != 0 && (status & 1) != 0;
}

static bool addr_in(const char *addr, const char *const *addrs)
{
	for (; *addrs != NULL; addrs++) {
		if (strcasecmp(addr, *addrs) == 0)
			return TRUE;
	}
	return FALSE;
}

/* The attendees other than the user */
static const char *const *
meeting_recipients(const char *ical, const char *const *user_addrs)
{
	ARRAY_TYPE(const_string) rcpts;
	const char *const *att;

	t_array_init(&rcpts, 8);
	for (att = as_imip_attendees(ical); *att != NULL; att++) {
		if (!addr_in(*att, user_addrs))
			array_push_back(&rcpts, att);
	}
	array_append_zero(&rcpts);
	return array_front(&rcpts);
}

static bool str_differs(const char *a, const char *b)
{
	return null_strcmp(a, b) != 0;
}

/* Does the change matter to the attendees (when, where, what, who)? A
   new reminder or category is the organizer's own business. */
static bool meeting_changed(const struct as_event *a, const struct as_event *b)
{
	const struct as_event_attendee *aa, *ba;
	unsigned int i, count;

	if (a->start != b->start || a->end != b->end ||
	    a->all_day != b->all_day ||
	    str_differs(a->subject, b->subject) ||
	    str_differs(a->location, b->location) ||
	    a->have_recurrence != b->have_recurrence ||
	    (a->have_recurrence &&
	     memcmp(&a->recur, &b->recur, sizeof(a->recur)) != 0) ||
	    array_count(&a->exceptions) != array_count(&b->exceptions))
		return TRUE;
	count = array_count(&a->attendees);
	if (count != array_count(&b->attendees))
		return TRUE;
	for (i = 0; i < count; i++) {
		aa = array_idx(&a->attendees, i);
		ba = array_idx(&b->attendees, i);
		if (null_strcasecmp(aa->email, ba->email) != 0)
			return TRUE;
	}
	return FALSE;
}

void as_meeting_organizer_changed(struct as_cmd_context *ctx,
				  const struct as_meeting_change *change)
{
	const char *const *addrs = as_meeting_user_addresses(ctx);
	const char *ical = change->new_ical != NULL ? change->new_ical :
		change->old_ical;
	const char *const *rcpts, *warning, *error, *out;
	struct as_event old_event, new_event;
	struct as_meeting_mail mail;
	enum as_imip_method method;

	if (ical == NULL || !as_imip_is_organizer(ical, addrs))
		return;
	rcpts = meeting_recipients(ical, addrs);
	if (rcpts[0] == NULL)
		return;
	if (change->new_ical == NULL) {
		if (as_calendar_ical_read(change->old_ical, &old_event,
					  &warning, &error) < 0 ||
		    meeting_status_cancelled(old_event.meeting_status))
			return;
		method = AS_IMIP_METHOD_CANCEL;
		new_event = old_event;
	} else {
		if (as_calendar_ical_read(change->new_ical, &new_event,
					  &warning, &error) < 0)
			return;
		if (new_event.meeting_status == 0)
			return;	/* an appointment after all */
		if (change->old_ical != NULL &&
		    as_calendar_ical_read(change->old_ical, &old_event,
					  &warning, &error) == 0) {
			if (meeting_status_cancelled(new_event.meeting_status)) {
				if (meeting_status_cancelled(
					old_event.meeting_status))
					return;
				method = AS_IMIP_METHOD_CANCEL;
			} else if (meeting_changed(&old_event, &new_event)) {
				method = AS_IMIP_METHOD_REQUEST;
			} else {
				return;
			}
		} else {
			method = meeting_status_cancelled(
				new_event.meeting_status) ?
				AS_IMIP_METHOD_CANCEL : AS_IMIP_METHOD_REQUEST;
		}
	}
	if (as_imip_request_build(ical, method, &out, &error) < 0) {
		e_error(ctx->event, "Meeting %s: not sent: %s",
			str_sanitize(new_event.uid, 80), error);
		return;
	}
	i_zero(&mail);
	mail.method = method;
	mail.to = rcpts;
	mail.subject = method == AS_IMIP_METHOD_CANCEL ?
		t_strdup_printf("Cancelled: %s", new_event.subject == NULL ?
				"" : new_event.subject) :
		(new_event.subject == NULL ? "" : new_event.subject);
	mail.text = as_calendar_summary(&new_event);
	mail.ical = out;
	if (as_meeting_send(ctx, &mail, &error) < 0) {
		/* the device's change stays; the attendees weren't told */
		e_error(ctx->event, "Meeting %s: the %s to the attendees "
			"was not sent: %s", str_sanitize(new_event.uid, 80),
			method == AS_IMIP_METHOD_CANCEL ? "cancellation" :
			"invitation", error);
		return;
	}
	e_info(ctx->event, "Meeting %s: %s sent to %u attendees",
	       str_sanitize(new_event.uid, 80),
	       method == AS_IMIP_METHOD_CANCEL ? "cancellation" : "invitation",
	       str_array_length(rcpts));
}
