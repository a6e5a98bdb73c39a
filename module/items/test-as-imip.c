/* Copyright (c) dovecot-activesync authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "buffer.h"
#include "base64.h"
#include "hex-binary.h"
#include "ioloop.h"
#include "test-common.h"
#include "items/as-datetime.h"
#include "items/as-calendar.h"
#include "items/as-imip.h"
#include "items/as-tnef.h"
#include "meeting/as-meeting-send.h"

#include <libical/ical.h>

static const char *const user_addrs[] = { "bob@example.com", NULL };

#define REQUEST_SINGLE \
	"BEGIN:VCALENDAR\r\n" \
	"VERSION:2.0\r\n" \
	"PRODID:-//Test//Test//EN\r\n" \
	"METHOD:REQUEST\r\n" \
	"BEGIN:VEVENT\r\n" \
	"UID:meeting-1@example.org\r\n" \
	"SEQUENCE:2\r\n" \
	"DTSTAMP:20260601T080000Z\r\n" \
	"DTSTART:20260610T090000Z\r\n" \
	"DTEND:20260610T100000Z\r\n" \
	"SUMMARY:Planning\r\n" \
	"LOCATION:Room 1\r\n" \
	"ORGANIZER;CN=Alice:mailto:alice@example.org\r\n" \
	"ATTENDEE;CN=Bob;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:" \
	"mailto:Bob@Example.com\r\n" \
	"ATTENDEE;CN=Carol;PARTSTAT=ACCEPTED:mailto:carol@example.net\r\n" \
	"END:VEVENT\r\n" \
	"END:VCALENDAR\r\n"

#define REQUEST_WEEKLY \
	"BEGIN:VCALENDAR\r\n" \
	"VERSION:2.0\r\n" \
	"PRODID:-//Test//Test//EN\r\n" \
	"METHOD:REQUEST\r\n" \
	"BEGIN:VTIMEZONE\r\n" \
	"TZID:Europe/Berlin\r\n" \
	"BEGIN:STANDARD\r\n" \
	"DTSTART:19701025T030000\r\n" \
	"RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\n" \
	"TZOFFSETFROM:+0200\r\n" \
	"TZOFFSETTO:+0100\r\n" \
	"END:STANDARD\r\n" \
	"BEGIN:DAYLIGHT\r\n" \
	"DTSTART:19700329T020000\r\n" \
	"RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\n" \
	"TZOFFSETFROM:+0100\r\n" \
	"TZOFFSETTO:+0200\r\n" \
	"END:DAYLIGHT\r\n" \
	"END:VTIMEZONE\r\n" \
	"BEGIN:VEVENT\r\n" \
	"UID:weekly-1@example.org\r\n" \
	"DTSTAMP:20260601T080000Z\r\n" \
	"DTSTART;TZID=Europe/Berlin:20260601T100000\r\n" \
	"DTEND;TZID=Europe/Berlin:20260601T110000\r\n" \
	"RRULE:FREQ=WEEKLY;COUNT=5\r\n" \
	"SUMMARY:Weekly\r\n" \
	"ORGANIZER:mailto:alice@example.org\r\n" \
	"ATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:bob@example.com\r\n" \
	"END:VEVENT\r\n" \
	"END:VCALENDAR\r\n"

static icalcomponent *parse_ok(const char *ical)
{
	icalcomponent *comp = icalparser_parse_string(ical);

	test_assert(comp != NULL);
	return comp;
}

static icalcomponent *first_vevent(icalcomponent *cal)
{
	return icalcomponent_get_first_component(cal, ICAL_VEVENT_COMPONENT);
}

static unsigned int count_vevents(icalcomponent *cal)
{
	return icalcomponent_count_components(cal, ICAL_VEVENT_COMPONENT);
}

static icalparameter_partstat attendee_partstat(icalcomponent *vevent,
						const char *mailto)
{
	icalproperty *prop;
	icalparameter *param;

	for (prop = icalcomponent_get_first_property(vevent,
			ICAL_ATTENDEE_PROPERTY); prop != NULL;
	     prop = icalcomponent_get_next_property(vevent,
			ICAL_ATTENDEE_PROPERTY)) {
		if (strcasecmp(icalproperty_get_attendee(prop), mailto) != 0)
			continue;
		param = icalproperty_get_first_parameter(prop,
			ICAL_PARTSTAT_PARAMETER);
		return param == NULL ? ICAL_PARTSTAT_NONE :
			icalparameter_get_partstat(param);
	}
	return ICAL_PARTSTAT_X;
}

static void test_global_obj_id(void)
{
	static const unsigned char class_id[16] = {
		0x04, 0x00, 0x00, 0x00, 0x82, 0x00, 0xE0, 0x00,
		0x74, 0xC5, 0xB7, 0x10, 0x1A, 0x82, 0xE0, 0x08
	};
	const char *uid = "meeting-1@example.org", *b64, *hex;
	buffer_t *blob = t_buffer_create(128);
	const unsigned char *p;
	time_t instance;

	test_begin("imip GlobalObjId");
	b64 = as_imip_global_obj_id(uid, FALSE, 0);
	test_assert(base64_decode(b64, strlen(b64), NULL, blob) == 0);
	p = blob->data;
	test_assert(blob->used == 40 + 12 + strlen(uid) + 1);
	test_assert(memcmp(p, class_id, 16) == 0);
	/* no instance date, creation time, reserved */
	for (unsigned int i = 16; i < 36; i++)
		test_assert_idx(p[i] == 0, i);
	test_assert(p[36] == 12 + strlen(uid) + 1 && p[37] == 0 &&
		    p[38] == 0 && p[39] == 0);
	test_assert(memcmp(p + 40, "vCal-Uid\x01\x00\x00\x00", 12) == 0);
	test_assert(memcmp(p + 52, uid, strlen(uid)) == 0);
	test_assert(p[blob->used - 1] == '\0');

	/* one occurrence: its date in the blob */
	test_assert(as_datetime_parse("2026-06-08T08:00:00.000Z", &instance));
	b64 = as_imip_global_obj_id(uid, TRUE, instance);
	buffer_set_used_size(blob, 0);
	test_assert(base64_decode(b64, strlen(b64), NULL, blob) == 0);
	p = blob->data;
	test_assert(p[16] == (2026 >> 8) && p[17] == (2026 & 0xff) &&
		    p[18] == 6 && p[19] == 8);

	/* an Outlook id as UID is the blob itself */
	hex = "040000008200E00074C5B7101A82E00800000000"
		"B0B1E3A4B2F2DA01000000000000000010000000"
		"0123456789ABCDEF0123456789ABCDEF";
	b64 = as_imip_global_obj_id(hex, FALSE, 0);
	buffer_set_used_size(blob, 0);
	test_assert(base64_decode(b64, strlen(b64), NULL, blob) == 0);
	test_assert(strcasecmp(binary_to_hex(blob->data, blob->used),
			       hex) == 0);
	test_end();
}

static void test_parse(void)
{
	struct as_imip imip;
	const char *error, *uid;
	int seq;

	test_begin("imip parse");
	test_assert(as_imip_parse(REQUEST_SINGLE, &imip, &error) == 0);
	test_assert(imip.method == AS_IMIP_METHOD_REQUEST);
	test_assert_strcmp(imip.uid, "meeting-1@example.org");
	test_assert(imip.sequence == 2);
	test_assert(imip.rsvp);
	test_assert(!imip.have_recurrence_id);
	test_assert_strcmp(imip.event.subject, "Planning");
	test_assert_strcmp(imip.event.location, "Room 1");
	test_assert_strcmp(imip.event.organizer_email, "alice@example.org");
	test_assert(imip.event.end - imip.event.start == 3600);
	test_assert(as_imip_uid(REQUEST_SINGLE, &uid, &seq) &&
		    strcmp(uid, "meeting-1@example.org") == 0 && seq == 2);
	test_assert(as_imip_is_attendee(REQUEST_SINGLE, user_addrs));
	test_assert(!as_imip_is_organizer(REQUEST_SINGLE, user_addrs));

	/* bad input */
	test_assert(as_imip_parse("not a calendar", &imip, &error) < 0);
	test_assert(as_imip_parse("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n"
		"BEGIN:VEVENT\r\nDTSTART:20260610T090000Z\r\n"
		"END:VEVENT\r\nEND:VCALENDAR\r\n", &imip, &error) < 0);
	test_assert(as_imip_parse("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n"
		"BEGIN:VTODO\r\nUID:x\r\nEND:VTODO\r\nEND:VCALENDAR\r\n",
		&imip, &error) < 0);
	test_end();
}

static void test_attendee_copy(void)
{
	struct as_event event;
	icalcomponent *cal;
	const char *ical, *error, *warning;

	test_begin("imip attendee's copy");
	test_assert(as_imip_event_from_request(REQUEST_SINGLE, user_addrs,
					       &ical, &error) == 0);
	cal = parse_ok(ical);
	test_assert(icalcomponent_get_first_property(cal,
		ICAL_METHOD_PROPERTY) == NULL);
	test_assert(attendee_partstat(first_vevent(cal),
		"mailto:Bob@Example.com") == ICAL_PARTSTAT_NEEDSACTION);
	icalcomponent_free(cal);
	test_assert(as_calendar_ical_read(ical, &event, &warning,
					  &error) == 0);
	test_assert(event.busy_status == 1);
	test_assert(event.meeting_status == 3);
	test_assert(event.response_type == 5);
	test_assert(event.response_requested == 1);
	test_assert_strcmp(event.uid, "meeting-1@example.org");
	test_end();
}

static void test_respond_and_reply(void)
{
	struct as_event event;
	icalcomponent *cal, *vevent;
	icalproperty *prop;
	const char *copy, *ical, *attendee, *reply, *error, *warning;

	test_begin("imip respond + REPLY");
	test_assert(as_imip_event_from_request(REQUEST_SINGLE, user_addrs,
					       &copy, &error) == 0);
	test_assert(as_imip_event_respond(copy, user_addrs,
		AS_IMIP_RESPONSE_ACCEPT, FALSE, 0, &ical, &attendee,
		&error) == 0);
	test_assert_strcmp(attendee, "Bob@Example.com");
	test_assert(as_calendar_ical_read(ical, &event, &warning,
					  &error) == 0);
	test_assert(event.busy_status == 2);
	test_assert(event.response_type == 3);
	cal = parse_ok(ical);
	test_assert(attendee_partstat(first_vevent(cal),
		"mailto:Bob@Example.com") == ICAL_PARTSTAT_ACCEPTED);
	/* the others' answers stay theirs */
	test_assert(attendee_partstat(first_vevent(cal),
		"mailto:carol@example.net") == ICAL_PARTSTAT_ACCEPTED);
	icalcomponent_free(cal);

	test_assert(as_imip_reply_build(ical, attendee, "Bob",
		AS_IMIP_RESPONSE_ACCEPT, FALSE, 0, &reply, &error) == 0);
	cal = parse_ok(reply);
	prop = icalcomponent_get_first_property(cal, ICAL_METHOD_PROPERTY);
	test_assert(prop != NULL &&
		    icalproperty_get_method(prop) == ICAL_METHOD_REPLY);
	test_assert(count_vevents(cal) == 1);
	vevent = first_vevent(cal);
	test_assert_strcmp(icalcomponent_get_uid(vevent),
			   "meeting-1@example.org");
	test_assert(icalcomponent_count_properties(vevent,
		ICAL_ATTENDEE_PROPERTY) == 1);
	test_assert(attendee_partstat(vevent, "mailto:Bob@Example.com") ==
		    ICAL_PARTSTAT_ACCEPTED);
	prop = icalcomponent_get_first_property(vevent,
						ICAL_SEQUENCE_PROPERTY);
	test_assert(prop != NULL && icalproperty_get_sequence(prop) == 2);
	test_assert(icalcomponent_get_first_property(vevent,
		ICAL_ORGANIZER_PROPERTY) != NULL);
	test_assert(icalcomponent_get_first_property(vevent,
		ICAL_RECURRENCEID_PROPERTY) == NULL);
	icalcomponent_free(cal);

	/* decline */
	test_assert(as_imip_event_respond(copy, user_addrs,
		AS_IMIP_RESPONSE_DECLINE, FALSE, 0, &ical, &attendee,
		&error) == 0);
	test_assert(as_imip_reply_build(ical, attendee, NULL,
		AS_IMIP_RESPONSE_DECLINE, FALSE, 0, &reply, &error) == 0);
	cal = parse_ok(reply);
	test_assert(attendee_partstat(first_vevent(cal),
		"mailto:Bob@Example.com") == ICAL_PARTSTAT_DECLINED);
	icalcomponent_free(cal);

	/* no organizer: nobody to answer */
	test_assert(as_imip_reply_build("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n"
		"BEGIN:VEVENT\r\nUID:x\r\nDTSTART:20260610T090000Z\r\n"
		"END:VEVENT\r\nEND:VCALENDAR\r\n", "bob@example.com", NULL,
		AS_IMIP_RESPONSE_ACCEPT, FALSE, 0, &reply, &error) < 0);
	test_end();
}

static void test_instance(void)
{
	struct as_event event;
	icalcomponent *cal, *vevent;
	icalproperty *rid;
	struct icaltimetype tt;
	const char *copy, *ical, *attendee, *reply, *error, *warning;
	time_t instance;

	test_begin("imip one occurrence");
	test_assert(as_imip_event_from_request(REQUEST_WEEKLY, user_addrs,
					       &copy, &error) == 0);
	/* the second occurrence, 2026-06-08 10:00 Berlin = 08:00 UTC */
	test_assert(as_datetime_parse("2026-06-08T08:00:00.000Z", &instance));
	test_assert(as_imip_event_respond(copy, user_addrs,
		AS_IMIP_RESPONSE_ACCEPT, TRUE, instance, &ical, &attendee,
		&error) == 0);
	cal = parse_ok(ical);
	test_assert(count_vevents(cal) == 2);
	icalcomponent_free(cal);
	test_assert(as_calendar_ical_read(ical, &event, &warning,
					  &error) == 0);
	test_assert(event.have_recurrence);
	test_assert(array_count(&event.exceptions) == 1);

	test_assert(as_imip_reply_build(ical, attendee, NULL,
		AS_IMIP_RESPONSE_ACCEPT, TRUE, instance, &reply,
		&error) == 0);
	cal = parse_ok(reply);
	vevent = first_vevent(cal);
	rid = icalcomponent_get_first_property(vevent,
					       ICAL_RECURRENCEID_PROPERTY);
	test_assert(rid != NULL);
	if (rid != NULL) {
		tt = icalproperty_get_recurrenceid(rid);
		test_assert(tt.year == 2026 && tt.month == 6 &&
			    tt.day == 8 && tt.hour == 10);
	}
	test_assert(icalcomponent_get_first_property(vevent,
		ICAL_RRULE_PROPERTY) == NULL);
	test_assert(attendee_partstat(vevent, "mailto:bob@example.com") ==
		    ICAL_PARTSTAT_ACCEPTED);
	icalcomponent_free(cal);

	/* declined: the occurrence leaves the series */
	test_assert(as_imip_event_respond(copy, user_addrs,
		AS_IMIP_RESPONSE_DECLINE, TRUE, instance, &ical, &attendee,
		&error) == 0);
	test_assert(as_calendar_ical_read(ical, &event, &warning,
					  &error) == 0);
	test_assert(array_count(&event.exceptions) == 1);
	if (array_count(&event.exceptions) == 1) {
		const struct as_event_exception *exc =
			array_front(&event.exceptions);

		test_assert(exc->deleted && exc->start_orig == instance);
	}

	/* an instance of an event without recurrence */
	test_assert(as_imip_event_respond(REQUEST_SINGLE, user_addrs,
		AS_IMIP_RESPONSE_ACCEPT, TRUE, instance, &ical, &attendee,
		&error) < 0);
	test_end();
}

#define REQUEST_OCCURRENCE \
	"BEGIN:VCALENDAR\r\n" \
	"VERSION:2.0\r\n" \
	"PRODID:-//Test//Test//EN\r\n" \
	"METHOD:REQUEST\r\n" \
	"BEGIN:VEVENT\r\n" \
	"UID:weekly-1@example.org\r\n" \
	"SEQUENCE:1\r\n" \
	"DTSTAMP:20260602T080000Z\r\n" \
	"RECURRENCE-ID:20260608T080000Z\r\n" \
	"DTSTART:20260608T120000Z\r\n" \
	"DTEND:20260608T130000Z\r\n" \
	"SUMMARY:Weekly (moved)\r\n" \
	"ORGANIZER:mailto:alice@example.org\r\n" \
	"ATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:bob@example.com\r\n" \
	"END:VEVENT\r\n" \
	"END:VCALENDAR\r\n"

static void test_merge_occurrence(void)
{
	struct as_imip imip;
	struct as_event event;
	const struct as_event_exception *exc;
	const char *copy, *ical, *again, *error, *warning;
	bool changed;
	time_t t;

	test_begin("imip occurrence merged into the series");
	test_assert(as_imip_parse(REQUEST_OCCURRENCE, &imip, &error) == 0);
	test_assert(imip.have_recurrence_id);
	test_assert(as_datetime_parse("2026-06-08T08:00:00.000Z", &t) &&
		    imip.recurrence_id == t);
	test_assert_strcmp(imip.event.subject, "Weekly (moved)");

	test_assert(as_imip_event_from_request(REQUEST_WEEKLY, user_addrs,
					       &copy, &error) == 0);
	test_assert(as_imip_event_merge_occurrence(copy, REQUEST_OCCURRENCE,
		user_addrs, &ical, &changed, &error) == 0);
	test_assert(changed);
	test_assert(as_calendar_ical_read(ical, &event, &warning,
					  &error) == 0);
	test_assert(array_count(&event.exceptions) == 1);
	if (array_count(&event.exceptions) == 1) {
		exc = array_front(&event.exceptions);
		test_assert(exc->start_orig == t && !exc->deleted);
		test_assert_strcmp(exc->subject, "Weekly (moved)");
		test_assert(exc->have_start && exc->start == t + 4 * 3600);
	}
	/* the same again: nothing newer */
	test_assert(as_imip_event_merge_occurrence(ical, REQUEST_OCCURRENCE,
		user_addrs, &again, &changed, &error) == 0);
	test_assert(!changed);
	test_end();
}

static void test_apply_reply(void)
{
	static const char *const alice[] = { "alice@example.org", NULL };
	struct as_imip imip;
	icalcomponent *cal;
	const char *copy, *reply, *ical, *attendee, *error;

	test_begin("imip REPLY applied to the organizer's event");
	/* the organizer's own copy: the request without METHOD */
	test_assert(as_imip_event_from_request(REQUEST_SINGLE, alice,
					       &copy, &error) == 0);
	test_assert(as_imip_reply_build(copy, "carol@example.net", NULL,
		AS_IMIP_RESPONSE_DECLINE, FALSE, 0, &reply, &error) == 0);
	test_assert(as_imip_parse(reply, &imip, &error) == 0);
	test_assert(imip.method == AS_IMIP_METHOD_REPLY);
	test_assert(imip.reply_response == AS_IMIP_RESPONSE_DECLINE);
	test_assert(as_imip_event_apply_reply(copy, reply, &ical, &attendee,
					      &error) == 0);
	test_assert_strcmp(attendee, "carol@example.net");
	cal = parse_ok(ical);
	test_assert(attendee_partstat(first_vevent(cal),
		"mailto:carol@example.net") == ICAL_PARTSTAT_DECLINED);
	test_assert(attendee_partstat(first_vevent(cal),
		"mailto:Bob@Example.com") == ICAL_PARTSTAT_NEEDSACTION);
	icalcomponent_free(cal);

	/* someone not invited: refused, nothing changed */
	test_assert(as_imip_reply_build(copy, "mallory@example.com", NULL,
		AS_IMIP_RESPONSE_ACCEPT, FALSE, 0, &reply, &error) == 0);
	test_assert(as_imip_event_apply_reply(copy, reply, &ical, &attendee,
					      &error) < 0);
	test_assert(strstr(error, "mallory@example.com") != NULL);
	test_end();
}

static void test_cancel_and_request(void)
{
	struct as_imip cancel;
	struct as_event event;
	icalcomponent *cal;
	icalproperty *prop;
	const char *copy, *ical, *error, *warning;

	test_begin("imip CANCEL and REQUEST out");
	test_assert(as_imip_event_from_request(REQUEST_SINGLE, user_addrs,
					       &copy, &error) == 0);
	i_zero(&cancel);
	cancel.method = AS_IMIP_METHOD_CANCEL;
	test_assert(as_imip_event_cancel(copy, &cancel, &ical, &error) == 0);
	test_assert(as_calendar_ical_read(ical, &event, &warning,
					  &error) == 0);
	test_assert(event.meeting_status == 7);
	test_assert(event.busy_status == 0);

	test_assert(as_imip_request_build(copy, AS_IMIP_METHOD_CANCEL,
					  &ical, &error) == 0);
	cal = parse_ok(ical);
	prop = icalcomponent_get_first_property(cal, ICAL_METHOD_PROPERTY);
	test_assert(prop != NULL &&
		    icalproperty_get_method(prop) == ICAL_METHOD_CANCEL);
	prop = icalcomponent_get_first_property(first_vevent(cal),
						ICAL_STATUS_PROPERTY);
	test_assert(prop != NULL &&
		    icalproperty_get_status(prop) == ICAL_STATUS_CANCELLED);
	icalcomponent_free(cal);

	test_assert(as_imip_request_build(copy, AS_IMIP_METHOD_REQUEST,
					  &ical, &error) == 0);
	cal = parse_ok(ical);
	prop = icalcomponent_get_first_property(cal, ICAL_METHOD_PROPERTY);
	test_assert(prop != NULL &&
		    icalproperty_get_method(prop) == ICAL_METHOD_REQUEST);
	icalcomponent_free(cal);
	test_assert(strcmp(as_imip_attendees(copy)[0], "Bob@Example.com") == 0);
	test_assert(strcmp(as_imip_attendees(copy)[1],
			   "carol@example.net") == 0);
	test_assert(as_imip_attendees(copy)[2] == NULL);
	test_end();
}

static void test_mail_build(void)
{
	static const char *const to[] = { "alice@example.org", NULL };
	struct as_meeting_mail mail;
	string_t *dest = t_str_new(1024);

	test_begin("imip mail");
	i_zero(&mail);
	mail.method = AS_IMIP_METHOD_REPLY;
	mail.to = to;
	mail.subject = "Accepted: Planning";
	mail.text = "Bob has accepted.";
	mail.ical = "BEGIN:VCALENDAR\r\nMETHOD:REPLY\r\nEND:VCALENDAR\r\n";
	as_meeting_mail_build(&mail, "bob@example.com", dest);
	test_assert(strstr(str_c(dest), "To: <alice@example.org>\r\n") != NULL);
	test_assert(strstr(str_c(dest), "multipart/alternative") != NULL);
	test_assert(strstr(str_c(dest), "text/calendar; charset=utf-8; "
			   "method=REPLY") != NULL);
	test_assert(strstr(str_c(dest), "invite.ics") == NULL);

	str_truncate(dest, 0);
	mail.method = AS_IMIP_METHOD_REQUEST;
	as_meeting_mail_build(&mail, "bob@example.com", dest);
	test_assert(strstr(str_c(dest), "multipart/mixed") != NULL);
	test_assert(strstr(str_c(dest), "method=REQUEST") != NULL);
	test_assert(strstr(str_c(dest), "application/ics") != NULL);
	test_end();
}

static void tnef_le32(buffer_t *buf, uint32_t v)
{
	buffer_append_c(buf, v & 0xff);
	buffer_append_c(buf, (v >> 8) & 0xff);
	buffer_append_c(buf, (v >> 16) & 0xff);
	buffer_append_c(buf, (v >> 24) & 0xff);
}

static void tnef_att(buffer_t *buf, uint8_t level, uint32_t id,
		     const void *data, uint32_t size)
{
	buffer_append_c(buf, level);
	tnef_le32(buf, id);
	tnef_le32(buf, size);
	buffer_append(buf, data, size);
	/* checksum: not checked */
	buffer_append_zero(buf, 2);
}

static void test_tnef(void)
{
	static const char class[] = "IPM.Microsoft Schedule.MtgReq";
	static const char subject[] = "Quarterly review";
	/* 2026-06-10 09:30:00, a Wednesday */
	static const unsigned char start[14] = {
		0xEA, 0x07, 6, 0, 10, 0, 9, 0, 30, 0, 0, 0, 3, 0
	};
	struct as_tnef_info info;
	buffer_t *buf = t_buffer_create(256);
	const char *error;
	time_t t;

	test_begin("tnef meeting attributes");
	tnef_le32(buf, 0x223E9F78);
	buffer_append_zero(buf, 2);
	tnef_att(buf, 1, 0x00078008, class, sizeof(class));
	tnef_att(buf, 1, 0x00018004, subject, sizeof(subject));
	tnef_att(buf, 1, 0x00030006, start, sizeof(start));
	/* an attachment's attributes end the message's */
	tnef_att(buf, 2, 0x00018004, "x", 2);
	test_assert(as_tnef_read(buf->data, buf->used, &info, &error) == 0);
	test_assert_strcmp(info.message_class, class);
	test_assert_strcmp(info.subject, subject);
	test_assert(info.have_start && !info.have_end);
	test_assert(as_datetime_parse("2026-06-10T09:30:00.000Z", &t) &&
		    info.start == t);
	test_assert(as_tnef_is_meeting(&info));

	/* cut short: what was read stays, the rest is an error */
	test_assert(as_tnef_read(buf->data, buf->used - 5, &info,
				 &error) < 0);
	test_assert_strcmp(info.message_class, class);
	/* not TNEF at all */
	test_assert(as_tnef_read((const void *)"hello!", 6, &info,
				 &error) < 0);
	test_assert(!as_tnef_is_meeting(&info));
	test_end();
}

int main(void)
{
	static void (*const test_functions[])(void) = {
		test_global_obj_id,
		test_parse,
		test_attendee_copy,
		test_respond_and_reply,
		test_instance,
		test_merge_occurrence,
		test_apply_reply,
		test_cancel_and_request,
		test_mail_build,
		test_tnef,
		NULL
	};
	int ret;

	ioloop_time = 1780000000;
	ret = test_run(test_functions);
	icaltimezone_free_builtin_timezones();
	icalmemory_free_ring();
	return ret;
}
