/* Copyright (c) dovecot-activesync authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "buffer.h"
#include "base64.h"
#include "ioloop.h"
#include "test-common.h"
#include "wbxml.h"
#include "http/as-request.h"
#include "items/as-body-prefs.h"
#include "items/as-datetime.h"
#include "items/as-calendar.h"

#include <libical/ical.h>

/* 2026-03-29 is the day central Europe goes to summer time, 2026-03-08
   the day the US does */
#define T_2026_06_01_0800Z 1780300800	/* Mon 2026-06-01 08:00 UTC */

static time_t parse_dt(const char *str)
{
	time_t t;

	if (!as_datetime_parse(str, &t))
		i_fatal("bad date %s", str);
	return t;
}

/* <ApplicationData> as a device sends it: written, then decoded */
static struct wbxml_node *cal_tree(void (*fill)(struct wbxml_writer *w))
{
	buffer_t *buf = t_buffer_create(1024);
	struct wbxml_writer *w = wbxml_writer_init(buf);
	struct wbxml_node *root = NULL;
	const char *error = NULL;

	wbxml_start(w, EAS_AIRSYNC_APPLICATIONDATA);
	fill(w);
	wbxml_end(w);
	wbxml_writer_deinit(&w);
	if (wbxml_decode(pool_datastack_create(), buf->data, buf->used, NULL,
			 &root, &error) < 0)
		i_fatal("wbxml_decode: %s", error);
	return root;
}

/* The XML without xmlns attributes, for plain searches */
static const char *strip_xmlns(const char *xml)
{
	string_t *str = t_str_new(strlen(xml));
	const char *p;

	while ((p = strstr(xml, " xmlns=\"")) != NULL) {
		str_append_data(str, xml, p - xml);
		p = strchr(p + 8, '"');
		xml = p + 1;
	}
	str_append(str, xml);
	return str_c(str);
}

static const char *cal_out_xml(const struct as_event *event,
			       unsigned int version)
{
	buffer_t *buf = t_buffer_create(1024);
	struct wbxml_writer *w = wbxml_writer_init(buf);
	struct as_body_options opts;
	string_t *xml = t_str_new(1024);
	const char *error = NULL;

	as_body_options_init(&opts);
	wbxml_start(w, EAS_AIRSYNC_APPLICATIONDATA);
	as_calendar_write(w, event, version, &opts);
	wbxml_end(w);
	wbxml_writer_deinit(&w);
	if (wbxml_to_xml(xml, buf->data, buf->used, &error) < 0)
		i_fatal("wbxml_to_xml: %s", error);
	return strip_xmlns(str_c(xml));
}

/* device -> event -> iCalendar -> event */
static const char *
cal_roundtrip(void (*fill)(struct wbxml_writer *w), unsigned int version,
	      struct as_event *dev_r, struct as_event *back_r)
{
	const char *ical, *warning, *error;

	if (as_calendar_parse(cal_tree(fill), version, dev_r, &warning,
			      &error) < 0)
		i_fatal("as_calendar_parse: %s", error);
	if (as_calendar_ical_write(NULL, dev_r, &ical, &warning, &error) < 0)
		i_fatal("as_calendar_ical_write: %s", error);
	if (as_calendar_ical_read(ical, back_r, &warning, &error) < 0)
		i_fatal("as_calendar_ical_read: %s: %s", error, ical);
	return ical;
}

/* ---- time zones ---- */

static void test_tz_blobs(void)
{
	static const char *const zones[] = {
		"Europe/Berlin", "America/New_York", "Australia/Sydney",
		"Asia/Tokyo",
	};
	const struct as_calendar_tz *tz, *tz2;
	const char *warning, *error, *b64;
	unsigned int i;

	test_begin("calendar tz blobs round trip");
	for (i = 0; i < N_ELEMENTS(zones); i++) {
		tz = as_calendar_tz_from_name(zones[i], 2026);
		test_assert_idx(tz != NULL, i);
		if (tz == NULL)
			continue;
		b64 = as_calendar_tz_blob_base64(tz);
		test_assert_idx(strlen(b64) == 232, i);
		test_assert_idx(as_calendar_tz_from_blob(b64, 2026, &tz2,
			&warning, &error) == 0, i);
		test_assert_idx(warning == NULL, i);
		test_assert_strcmp_idx(tz2->name, zones[i], i);
	}
	test_end();

	test_begin("calendar tz blob contents");
	/* Berlin: bias -60, DST from the last Sunday of March 02:00, back
	   the last Sunday of October 03:00, 60 minutes */
	tz = as_calendar_tz_from_name("Europe/Berlin", 2026);
	test_assert(tz->blob[0] == 0xc4 && tz->blob[1] == 0xff &&
		    tz->blob[2] == 0xff && tz->blob[3] == 0xff);
	test_assert(tz->blob[68 + 2] == 10 && tz->blob[68 + 4] == 0 &&
		    tz->blob[68 + 6] == 5 && tz->blob[68 + 8] == 3);
	test_assert(tz->blob[152 + 2] == 3 && tz->blob[152 + 4] == 0 &&
		    tz->blob[152 + 6] == 5 && tz->blob[152 + 8] == 2);
	test_assert(tz->blob[168] == 0xc4 && tz->blob[169] == 0xff);
	/* New York: bias 300, DST the 2nd Sunday of March 02:00 to the
	   1st Sunday of November 02:00 */
	tz = as_calendar_tz_from_name("America/New_York", 2026);
	test_assert(tz->blob[0] == 0x2c && tz->blob[1] == 0x01);
	test_assert(tz->blob[68 + 2] == 11 && tz->blob[68 + 6] == 1 &&
		    tz->blob[68 + 8] == 2);
	test_assert(tz->blob[152 + 2] == 3 && tz->blob[152 + 6] == 2 &&
		    tz->blob[152 + 8] == 2);
	test_end();

	test_begin("calendar tz blob UTC and zero");
	test_assert(as_calendar_tz_from_blob(as_calendar_tz_blob_base64(
		as_calendar_tz_utc()), 2026, &tz, &warning, &error) == 0);
	test_assert(tz == as_calendar_tz_utc());
	test_assert(strcmp(as_calendar_tz_blob_base64(
		as_calendar_tz_from_name("UTC", 2026)),
		as_calendar_tz_blob_base64(as_calendar_tz_utc())) == 0);
	test_end();
}

static void put_u16(unsigned char *p, unsigned int v)
{
	p[0] = v & 0xff;
	p[1] = v >> 8;
}

static const char *blob_b64(const unsigned char *blob)
{
	string_t *str = t_str_new(256);

	base64_encode(blob, AS_CALENDAR_TZ_BLOB_SIZE, str);
	return str_c(str);
}

static void test_tz_foreign_blobs(void)
{
	unsigned char blob[AS_CALENDAR_TZ_BLOB_SIZE];
	const struct as_calendar_tz *tz;
	const char *warning, *error;
	const char *name = "W. Europe Standard Time";
	unsigned int i;

	test_begin("calendar tz blob of another client");
	/* as Windows writes Berlin: its own name, SYSTEMTIME rules */
	memset(blob, 0, sizeof(blob));
	blob[0] = 0xc4; blob[1] = 0xff; blob[2] = 0xff; blob[3] = 0xff;
	for (i = 0; name[i] != '\0'; i++)
		put_u16(blob + 4 + i * 2, name[i]);
	put_u16(blob + 68 + 2, 10); put_u16(blob + 68 + 6, 5);
	put_u16(blob + 68 + 8, 3);
	put_u16(blob + 152 + 2, 3); put_u16(blob + 152 + 6, 5);
	put_u16(blob + 152 + 8, 2);
	blob[168] = 0xc4; blob[169] = 0xff; blob[170] = 0xff; blob[171] = 0xff;
	test_assert(as_calendar_tz_from_blob(blob_b64(blob), 2026, &tz,
					     &warning, &error) == 0);
	test_assert_strcmp(tz->name, "Europe/Berlin");
	test_assert(warning == NULL);

	/* unnamed, US rules: a zone with these rules */
	memset(blob + 4, 0, 64);
	blob[0] = 0x2c; blob[1] = 0x01; blob[2] = 0; blob[3] = 0;
	put_u16(blob + 68 + 2, 11); put_u16(blob + 68 + 6, 1);
	put_u16(blob + 68 + 8, 2);
	put_u16(blob + 152 + 2, 3); put_u16(blob + 152 + 6, 2);
	put_u16(blob + 152 + 8, 2);
	test_assert(as_calendar_tz_from_blob(blob_b64(blob), 2026, &tz,
					     &warning, &error) == 0);
	test_assert_strcmp(tz->name, "America/New_York");
	test_end();

	test_begin("calendar tz blob impossible dates");
	put_u16(blob + 152 + 2, 13);	/* month 13 */
	test_assert(as_calendar_tz_from_blob(blob_b64(blob), 2026, &tz,
					     &warning, &error) == 0);
	test_assert(warning != NULL);
	/* -5 hours without DST: a zone of that bias all year */
	test_assert(as_calendar_tz_to_wall(tz, parse_dt("20260701T120000Z")) ==
		    parse_dt("20260701T070000Z"));
	test_assert(as_calendar_tz_from_blob("AAAA", 2026, &tz, &warning,
					     &error) < 0);
	memset(blob, 0, sizeof(blob));
	blob[0] = 0x10; blob[1] = 0x27;	/* 10000 minutes */
	test_assert(as_calendar_tz_from_blob(blob_b64(blob), 2026, &tz,
					     &warning, &error) < 0);
	test_end();
}

/* ---- fields ---- */

static const char *fields_tz;

static void fill_fields(struct wbxml_writer *w)
{
	wbxml_elem_str(w, EAS_CALENDAR_TIMEZONE, fields_tz);
	wbxml_elem_uint(w, EAS_CALENDAR_ALLDAYEVENT, 0);
	wbxml_start(w, EAS_AIRSYNCBASE_BODY);
	wbxml_elem_uint(w, EAS_AIRSYNCBASE_TYPE, 1);
	wbxml_elem_str(w, EAS_AIRSYNCBASE_DATA, "Agenda:\nall of it");
	wbxml_end(w);
	wbxml_elem_uint(w, EAS_CALENDAR_BUSYSTATUS, 3);
	wbxml_elem_str(w, EAS_CALENDAR_ORGANIZERNAME, "Ann Organizer");
	wbxml_elem_str(w, EAS_CALENDAR_ORGANIZEREMAIL, "ann@example.com");
	wbxml_elem_str(w, EAS_CALENDAR_DTSTAMP, "20260501T100000Z");
	wbxml_elem_str(w, EAS_CALENDAR_ENDTIME, "20260601T090000Z");
	wbxml_elem_str(w, EAS_CALENDAR_LOCATION, "Room 1, Floor 2; east");
	wbxml_elem_uint(w, EAS_CALENDAR_REMINDER, 15);
	wbxml_elem_uint(w, EAS_CALENDAR_SENSITIVITY, 1);
	wbxml_elem_str(w, EAS_CALENDAR_SUBJECT, "Planning");
	wbxml_elem_str(w, EAS_CALENDAR_STARTTIME, "20260601T080000Z");
	wbxml_elem_str(w, EAS_CALENDAR_UID, "uid-1@example.com");
	wbxml_elem_uint(w, EAS_CALENDAR_MEETINGSTATUS, 1);
	wbxml_start(w, EAS_CALENDAR_ATTENDEES);
	wbxml_start(w, EAS_CALENDAR_ATTENDEE);
	wbxml_elem_str(w, EAS_CALENDAR_EMAIL, "bob@example.com");
	wbxml_elem_str(w, EAS_CALENDAR_NAME, "Bob");
	wbxml_elem_uint(w, EAS_CALENDAR_ATTENDEESTATUS, 3);
	wbxml_elem_uint(w, EAS_CALENDAR_ATTENDEETYPE, 1);
	wbxml_end(w);
	wbxml_start(w, EAS_CALENDAR_ATTENDEE);
	wbxml_elem_str(w, EAS_CALENDAR_EMAIL, "carol@example.com");
	wbxml_elem_str(w, EAS_CALENDAR_NAME, "Carol");
	wbxml_elem_uint(w, EAS_CALENDAR_ATTENDEESTATUS, 4);
	wbxml_elem_uint(w, EAS_CALENDAR_ATTENDEETYPE, 2);
	wbxml_end(w);
	wbxml_start(w, EAS_CALENDAR_ATTENDEE);
	wbxml_elem_str(w, EAS_CALENDAR_EMAIL, "room@example.com");
	wbxml_elem_str(w, EAS_CALENDAR_NAME, "Room");
	wbxml_elem_uint(w, EAS_CALENDAR_ATTENDEESTATUS, 2);
	wbxml_elem_uint(w, EAS_CALENDAR_ATTENDEETYPE, 3);
	wbxml_end(w);
	wbxml_end(w);
	wbxml_start(w, EAS_CALENDAR_CATEGORIES);
	wbxml_elem_str(w, EAS_CALENDAR_CATEGORY, "Work");
	wbxml_elem_str(w, EAS_CALENDAR_CATEGORY, "Blue");
	wbxml_end(w);
	wbxml_elem_uint(w, EAS_CALENDAR_RESPONSEREQUESTED, 1);
	wbxml_elem_uint(w, EAS_CALENDAR_RESPONSETYPE, 1);
	wbxml_elem_uint(w, EAS_CALENDAR_DISALLOWNEWTIMEPROPOSAL, 1);
}

static void test_fields(void)
{
	static const char *const zones[] = {
		"Europe/Berlin", "America/New_York", "UTC",
	};
	const struct as_event_attendee *att;
	struct as_event dev, back;
	const char *ical, *xml;
	unsigned int i;

	for (i = 0; i < N_ELEMENTS(zones); i++) {
		test_begin(t_strdup_printf("calendar fields round trip (%s)",
					   zones[i]));
		fields_tz = as_calendar_tz_blob_base64(
			as_calendar_tz_from_name(zones[i], 2026));
		ical = cal_roundtrip(fill_fields, AS_VERSION_14_1, &dev, &back);
		test_assert_strcmp(back.subject, "Planning");
		test_assert_strcmp(back.location, "Room 1, Floor 2; east");
		test_assert_strcmp(back.body, "Agenda:\nall of it");
		test_assert(back.start == T_2026_06_01_0800Z);
		test_assert(back.end == T_2026_06_01_0800Z + 3600);
		test_assert(!back.all_day);
		test_assert_strcmp(back.uid, "uid-1@example.com");
		test_assert(back.busy_status == 3);
		test_assert(back.sensitivity == 1);
		test_assert(back.reminder == 15);
		test_assert_strcmp(back.categories[0], "Work");
		test_assert_strcmp(back.categories[1], "Blue");
		test_assert(back.categories[2] == NULL);
		test_assert_strcmp(back.organizer_email, "ann@example.com");
		test_assert_strcmp(back.organizer_name, "Ann Organizer");
		test_assert(array_count(&back.attendees) == 3);
		att = array_idx(&back.attendees, 0);
		test_assert_strcmp(att->email, "bob@example.com");
		test_assert_strcmp(att->name, "Bob");
		test_assert(att->type == 1 && att->status == 3);
		att = array_idx(&back.attendees, 1);
		test_assert(att->type == 2 && att->status == 4);
		att = array_idx(&back.attendees, 2);
		test_assert(att->type == 3 && att->status == 2);
		test_assert(back.meeting_status == 1);
		test_assert(back.response_requested == 1);
		test_assert(back.response_type == 1);
		test_assert(back.disallow_new_time == 1);
		test_assert(back.have_dtstamp);
		if (i < 2) {
			test_assert(back.tz != NULL &&
				    strcmp(back.tz->name, zones[i]) == 0);
			test_assert(strstr(ical, t_strdup_printf(
				"DTSTART;TZID=%s:", zones[i])) != NULL);
			test_assert(strstr(ical, "BEGIN:VTIMEZONE") != NULL);
		} else {
			test_assert(strstr(ical,
				"DTSTART:20260601T080000Z") != NULL);
		}
		/* the device gets what it sent */
		xml = cal_out_xml(&back, AS_VERSION_14_1);
		test_assert(strstr(xml, t_strdup_printf(
			"<Timezone>%s</Timezone>", fields_tz)) != NULL);
		test_assert(strstr(xml,
			"<StartTime>20260601T080000Z</StartTime>") != NULL);
		test_assert(strstr(xml, "<Location>Room 1, Floor 2; east"
				   "</Location>") != NULL);
		test_assert(strstr(xml, "<AttendeeType>3</AttendeeType>") !=
			    NULL);
		test_assert(strstr(xml, "<DisallowNewTimeProposal>1"
				   "</DisallowNewTimeProposal>") != NULL);
		xml = cal_out_xml(&back, AS_VERSION_16_1);
		test_assert(strstr(xml, "<DisplayName>Room 1, Floor 2; east"
				   "</DisplayName>") != NULL);
		test_end();
	}
}

/* ---- all-day events ---- */

static const char *allday_tz, *allday_start, *allday_end;

static void fill_allday(struct wbxml_writer *w)
{
	wbxml_elem_str(w, EAS_CALENDAR_TIMEZONE, allday_tz);
	wbxml_elem_uint(w, EAS_CALENDAR_ALLDAYEVENT, 1);
	wbxml_elem_str(w, EAS_CALENDAR_SUBJECT, "Trip");
	wbxml_elem_str(w, EAS_CALENDAR_STARTTIME, allday_start);
	wbxml_elem_str(w, EAS_CALENDAR_ENDTIME, allday_end);
}

static void test_allday(void)
{
	struct as_event dev, back;
	const char *ical, *xml;

	test_begin("calendar all-day across DST, 14.1 (local midnights)");
	/* Berlin: 2026-03-28 00:00 CET .. 2026-03-30 00:00 CEST */
	allday_tz = as_calendar_tz_blob_base64(
		as_calendar_tz_from_name("Europe/Berlin", 2026));
	allday_start = "20260327T230000Z";
	allday_end = "20260329T220000Z";
	ical = cal_roundtrip(fill_allday, AS_VERSION_14_1, &dev, &back);
	test_assert(strstr(ical, "DTSTART;VALUE=DATE:20260328") != NULL);
	test_assert(strstr(ical, "DTEND;VALUE=DATE:20260330") != NULL);
	test_assert(back.all_day);
	xml = cal_out_xml(&back, AS_VERSION_14_1);
	test_assert(strstr(xml, "<StartTime>20260327T230000Z</StartTime>") !=
		    NULL);
	test_assert(strstr(xml, "<EndTime>20260329T220000Z</EndTime>") !=
		    NULL);
	xml = cal_out_xml(&back, AS_VERSION_16_1);
	test_assert(strstr(xml, "<StartTime>20260328T000000</StartTime>") !=
		    NULL);
	test_assert(strstr(xml, "<EndTime>20260330T000000</EndTime>") !=
		    NULL);

	/* New York: 2026-03-07 00:00 EST .. 2026-03-09 00:00 EDT */
	allday_tz = as_calendar_tz_blob_base64(
		as_calendar_tz_from_name("America/New_York", 2026));
	allday_start = "20260307T050000Z";
	allday_end = "20260309T040000Z";
	ical = cal_roundtrip(fill_allday, AS_VERSION_14_1, &dev, &back);
	test_assert(strstr(ical, "DTSTART;VALUE=DATE:20260307") != NULL);
	test_assert(strstr(ical, "DTEND;VALUE=DATE:20260309") != NULL);
	xml = cal_out_xml(&back, AS_VERSION_14_1);
	test_assert(strstr(xml, "<StartTime>20260307T050000Z</StartTime>") !=
		    NULL);
	test_assert(strstr(xml, "<EndTime>20260309T040000Z</EndTime>") !=
		    NULL);
	test_end();

	test_begin("calendar all-day, 16.1 (floating dates)");
	allday_start = "20260307T000000";
	allday_end = "20260309T000000";
	ical = cal_roundtrip(fill_allday, AS_VERSION_16_1, &dev, &back);
	test_assert(strstr(ical, "DTSTART;VALUE=DATE:20260307") != NULL);
	test_assert(strstr(ical, "DTEND;VALUE=DATE:20260309") != NULL);
	test_end();
}

/* ---- recurrence ---- */

static void test_recurrence_read(void)
{
	static const struct {
		const char *rrule;
		unsigned int type, interval, dow, dom, wom, moy, occ;
		bool until;
	} cases[] = {
		{ "FREQ=DAILY;INTERVAL=2;COUNT=10", 0, 2, 0, 0, 0, 0, 10, FALSE },
		{ "FREQ=WEEKLY;BYDAY=MO,WE;UNTIL=20260801T080000Z",
		  1, 1, 2 | 8, 0, 0, 0, 0, TRUE },
		{ "FREQ=MONTHLY;BYMONTHDAY=15", 2, 1, 0, 15, 0, 0, 0, FALSE },
		{ "FREQ=MONTHLY;BYDAY=2TU", 3, 1, 4, 0, 2, 0, 0, FALSE },
		{ "FREQ=MONTHLY;BYDAY=-1FR", 3, 1, 32, 0, 5, 0, 0, FALSE },
		{ "FREQ=YEARLY;BYMONTH=6;BYMONTHDAY=1", 5, 1, 0, 1, 0, 6, 0,
		  FALSE },
		{ "FREQ=YEARLY;BYMONTH=11;BYDAY=4TH", 6, 1, 16, 0, 4, 11, 0,
		  FALSE },
	};
	struct as_event ev, back;
	const char *ical, *ical2, *warning, *error;
	unsigned int i;

	test_begin("calendar recurrence patterns both ways");
	for (i = 0; i < N_ELEMENTS(cases); i++) {
		ical = t_strdup_printf(
			"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\n"
			"BEGIN:VEVENT\r\nUID:r%u\r\nDTSTAMP:20260501T000000Z\r\n"
			"DTSTART:20260601T080000Z\r\nDTEND:20260601T090000Z\r\n"
			"RRULE:%s\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
			i, cases[i].rrule);
		test_assert_idx(as_calendar_ical_read(ical, &ev, &warning,
						      &error) == 0, i);
		test_assert_idx(ev.have_recurrence, i);
		test_assert_idx(ev.recur.type == cases[i].type, i);
		test_assert_idx(ev.recur.interval == cases[i].interval, i);
		test_assert_idx(ev.recur.day_of_week == cases[i].dow, i);
		test_assert_idx(ev.recur.day_of_month == cases[i].dom, i);
		test_assert_idx(ev.recur.week_of_month == cases[i].wom, i);
		test_assert_idx(ev.recur.month_of_year == cases[i].moy, i);
		test_assert_idx(ev.recur.occurrences == cases[i].occ, i);
		test_assert_idx(ev.recur.have_until == cases[i].until, i);
		/* written again and read back: the same pattern */
		test_assert_idx(as_calendar_ical_write(NULL, &ev, &ical2,
			&warning, &error) == 0, i);
		test_assert_idx(as_calendar_ical_read(ical2, &back, &warning,
						      &error) == 0, i);
		test_assert_idx(memcmp(&ev.recur, &back.recur,
				       sizeof(ev.recur)) == 0, i);
	}
	test_end();
}

static void test_online_and_wkst(void)
{
	static const char *const links[] = {
		/* ours first; then Teams, RFC 7986, Google */
		"X-MICROSOFT-ONLINEMEETINGEXTERNALLINK:https://a.test/x\r\n"
		"CONFERENCE;VALUE=URI:https://b.test/y\r\n",
		"X-MICROSOFT-SKYPETEAMSMEETINGURL:https://a.test/x\r\n",
		"CONFERENCE;VALUE=URI;FEATURE=VIDEO:https://a.test/x\r\n",
		"X-GOOGLE-CONFERENCE:https://a.test/x\r\n",
	};
	struct as_event ev, back;
	const char *ical, *ical2, *xml, *warning, *error;
	unsigned int i;

	test_begin("calendar online meeting links, WKST=MO");
	for (i = 0; i < N_ELEMENTS(links); i++) {
		ical = t_strdup_printf(
			"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\n"
			"BEGIN:VEVENT\r\nUID:o%u\r\nDTSTAMP:20260501T000000Z\r\n"
			"DTSTART:20260601T080000Z\r\nDTEND:20260601T090000Z\r\n"
			"X-MICROSOFT-ONLINEMEETINGCONFLINK:conf:sip:a@b.test\r\n"
			"%sEND:VEVENT\r\nEND:VCALENDAR\r\n", i, links[i]);
		test_assert_idx(as_calendar_ical_read(ical, &ev, &warning,
						      &error) == 0, i);
		test_assert_strcmp_idx(ev.online_external_link,
				       "https://a.test/x", i);
		xml = cal_out_xml(&ev, AS_VERSION_14_1);
		test_assert_idx(strstr(xml, "<OnlineMeetingConfLink>conf:sip:"
				       "a@b.test</OnlineMeetingConfLink>") !=
				NULL, i);
		test_assert_idx(strstr(xml, "<OnlineMeetingExternalLink>"
				       "https://a.test/x</Online") != NULL, i);
		/* not before 14.1 */
		xml = cal_out_xml(&ev, AS_VERSION_14_0);
		test_assert_idx(strstr(xml, "OnlineMeeting") == NULL, i);
		/* an edit keeps them: the device never sends them */
		test_assert_idx(as_calendar_ical_write(ical, &ev, &ical2,
			&warning, &error) == 0, i);
		test_assert_idx(as_calendar_ical_read(ical2, &back, &warning,
						      &error) == 0, i);
		test_assert_strcmp_idx(back.online_external_link,
				       "https://a.test/x", i);
		test_assert_strcmp_idx(back.online_conf_link,
				       "conf:sip:a@b.test", i);
	}

	/* an explicit Monday is a FirstDayOfWeek, none is none; both ways */
	ical = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\n"
		"BEGIN:VEVENT\r\nUID:w1\r\nDTSTAMP:20260501T000000Z\r\n"
		"DTSTART:20260601T080000Z\r\nDTEND:20260601T090000Z\r\n"
		"RRULE:FREQ=WEEKLY;BYDAY=MO,WE;WKST=MO\r\n"
		"END:VEVENT\r\nEND:VCALENDAR\r\n";
	test_assert(as_calendar_ical_read(ical, &ev, &warning, &error) == 0);
	test_assert(ev.recur.first_day_of_week == 1);
	test_assert(as_calendar_ical_write(NULL, &ev, &ical2, &warning,
					   &error) == 0);
	test_assert(strstr(ical2, "WKST=MO\r\n") != NULL);
	test_assert(as_calendar_ical_read(ical2, &back, &warning,
					  &error) == 0);
	test_assert(back.recur.first_day_of_week == 1);
	ical = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\n"
		"BEGIN:VEVENT\r\nUID:w2\r\nDTSTAMP:20260501T000000Z\r\n"
		"DTSTART:20260601T080000Z\r\nDTEND:20260601T090000Z\r\n"
		"RRULE:FREQ=WEEKLY;BYDAY=MO,WE\r\n"
		"END:VEVENT\r\nEND:VCALENDAR\r\n";
	test_assert(as_calendar_ical_read(ical, &ev, &warning, &error) == 0);
	test_assert(ev.recur.first_day_of_week == -1);
	test_assert(as_calendar_ical_write(NULL, &ev, &ical2, &warning,
					   &error) == 0);
	test_assert(strstr(ical2, "WKST") == NULL);
	test_end();
}

static void fill_weekly(struct wbxml_writer *w)
{
	wbxml_elem_str(w, EAS_CALENDAR_TIMEZONE, as_calendar_tz_blob_base64(
		as_calendar_tz_from_name("Europe/Berlin", 2026)));
	wbxml_elem_str(w, EAS_CALENDAR_SUBJECT, "Weekly");
	wbxml_elem_str(w, EAS_CALENDAR_STARTTIME, "20260601T080000Z");
	wbxml_elem_str(w, EAS_CALENDAR_ENDTIME, "20260601T090000Z");
	wbxml_start(w, EAS_CALENDAR_RECURRENCE);
	wbxml_elem_uint(w, EAS_CALENDAR_TYPE, 1);
	wbxml_elem_uint(w, EAS_CALENDAR_INTERVAL, 1);
	wbxml_elem_uint(w, EAS_CALENDAR_DAYOFWEEK, 2);
	wbxml_elem_uint(w, EAS_CALENDAR_OCCURRENCES, 10);
	wbxml_elem_uint(w, EAS_CALENDAR_FIRSTDAYOFWEEK, 0);
	wbxml_elem_uint(w, EAS_CALENDAR_CALENDARTYPE, 1);
	wbxml_end(w);
	wbxml_start(w, EAS_CALENDAR_EXCEPTIONS);
	/* the 2nd occurrence moved by two hours, with its own subject */
	wbxml_start(w, EAS_CALENDAR_EXCEPTION);
	wbxml_elem_str(w, EAS_CALENDAR_EXCEPTIONSTARTTIME, "20260608T080000Z");
	wbxml_elem_str(w, EAS_CALENDAR_SUBJECT, "Weekly (moved)");
	wbxml_elem_str(w, EAS_CALENDAR_STARTTIME, "20260608T100000Z");
	wbxml_elem_str(w, EAS_CALENDAR_ENDTIME, "20260608T110000Z");
	wbxml_end(w);
	/* the 3rd deleted */
	wbxml_start(w, EAS_CALENDAR_EXCEPTION);
	wbxml_elem_uint(w, EAS_CALENDAR_DELETED, 1);
	wbxml_elem_str(w, EAS_CALENDAR_EXCEPTIONSTARTTIME, "20260615T080000Z");
	wbxml_end(w);
	/* no such occurrence (a Tuesday): left out */
	wbxml_start(w, EAS_CALENDAR_EXCEPTION);
	wbxml_elem_uint(w, EAS_CALENDAR_DELETED, 1);
	wbxml_elem_str(w, EAS_CALENDAR_EXCEPTIONSTARTTIME, "20260616T080000Z");
	wbxml_end(w);
	wbxml_end(w);
}

static void test_exceptions(void)
{
	struct as_event dev, back;
	const struct as_event_exception *exc;
	const char *ical, *xml, *warning, *error;

	test_begin("calendar exceptions both ways");
	test_assert(as_calendar_parse(cal_tree(fill_weekly), AS_VERSION_14_1,
				      &dev, &warning, &error) == 0);
	test_assert(as_calendar_ical_write(NULL, &dev, &ical, &warning,
					   &error) == 0);
	test_assert(warning != NULL &&
		    strstr(warning, "no occurrence") != NULL);
	test_assert(strstr(ical, "RRULE:FREQ=WEEKLY;COUNT=10;BYDAY=MO;"
			   "WKST=SU") != NULL);
	test_assert(strstr(ical, "EXDATE;TZID=Europe/Berlin:20260615T100000")
		    != NULL);
	test_assert(strstr(ical, "RECURRENCE-ID;TZID=Europe/Berlin:"
			   "20260608T100000") != NULL);
	test_assert(strstr(ical, "DTSTART;TZID=Europe/Berlin:20260608T120000")
		    != NULL);
	test_assert(strstr(ical, "20260616") == NULL);
	test_assert(strstr(ical, "X-ACTIVESYNC-CALENDARTYPE:1") != NULL);

	test_assert(as_calendar_ical_read(ical, &back, &warning, &error) == 0);
	test_assert(back.recur.first_day_of_week == 0);
	test_assert(back.recur.calendar_type == 1);
	test_assert(array_count(&back.exceptions) == 2);
	array_foreach(&back.exceptions, exc) {
		if (exc->deleted) {
			test_assert(exc->start_orig ==
				    parse_dt("20260615T080000Z"));
			continue;
		}
		test_assert(exc->start_orig == parse_dt("20260608T080000Z"));
		/* only what changed */
		test_assert_strcmp(exc->subject, "Weekly (moved)");
		test_assert(exc->location == NULL && exc->body == NULL);
		test_assert(exc->have_start &&
			    exc->start == parse_dt("20260608T100000Z"));
		test_assert(exc->have_end &&
			    exc->end == parse_dt("20260608T110000Z"));
		test_assert(exc->busy_status == -1);
	}
	xml = cal_out_xml(&back, AS_VERSION_14_1);
	test_assert(strstr(xml, "<ExceptionStartTime>20260615T080000Z"
			   "</ExceptionStartTime>") != NULL);
	test_assert(strstr(xml, "<Deleted>1</Deleted>") != NULL);
	test_assert(strstr(xml, "<FirstDayOfWeek>0</FirstDayOfWeek>") != NULL);
	xml = cal_out_xml(&back, AS_VERSION_16_1);
	test_assert(strstr(xml, "<InstanceId>20260608T080000Z</InstanceId>")
		    != NULL);
	test_assert(strstr(xml, "ExceptionStartTime") == NULL);
	test_end();
}

/* ---- bad input and the date filter ---- */

static void test_bad_input(void)
{
	struct as_event ev;
	const char *warning, *error;
	const char *ical;

	test_begin("calendar bad input");
	test_assert(as_calendar_ical_read("garbage", &ev, &warning,
					  &error) < 0);
	test_assert(as_calendar_ical_read(
		"BEGIN:VCALENDAR\r\nBEGIN:VTODO\r\nUID:x\r\nEND:VTODO\r\n"
		"END:VCALENDAR\r\n", &ev, &warning, &error) < 0);
	test_assert(as_calendar_ical_read(
		"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:x\r\nSUMMARY:no start\r\n"
		"END:VEVENT\r\nEND:VCALENDAR\r\n", &ev, &warning, &error) < 0);
	/* an unknown TZID without VTIMEZONE: read as UTC, said so */
	test_assert(as_calendar_ical_read(
		"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:x\r\n"
		"DTSTART;TZID=Nowhere/Special:20260601T080000\r\n"
		"END:VEVENT\r\nEND:VCALENDAR\r\n", &ev, &warning, &error) == 0);
	test_assert(warning != NULL && ev.start ==
		    parse_dt("20260601T080000Z"));
	/* a VTIMEZONE of the object's own under a private name */
	test_assert(as_calendar_ical_read(
		"BEGIN:VCALENDAR\r\nBEGIN:VTIMEZONE\r\nTZID:My Zone\r\n"
		"BEGIN:STANDARD\r\nDTSTART:19701025T030000\r\n"
		"RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\n"
		"TZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nEND:STANDARD\r\n"
		"BEGIN:DAYLIGHT\r\nDTSTART:19700329T020000\r\n"
		"RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\n"
		"TZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nEND:DAYLIGHT\r\n"
		"END:VTIMEZONE\r\nBEGIN:VEVENT\r\nUID:x\r\n"
		"DTSTART;TZID=My Zone:20260601T100000\r\n"
		"END:VEVENT\r\nEND:VCALENDAR\r\n", &ev, &warning, &error) == 0);
	test_assert(ev.start == T_2026_06_01_0800Z);
	test_assert(ev.tz != NULL && strcmp(ev.tz->name, "Europe/Berlin") == 0);
	/* an override of no occurrence is left out */
	ical = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:y\r\n"
		"DTSTART:20260601T080000Z\r\nDTEND:20260601T090000Z\r\n"
		"RRULE:FREQ=WEEKLY;COUNT=3\r\nEND:VEVENT\r\n"
		"BEGIN:VEVENT\r\nUID:y\r\nRECURRENCE-ID:20260602T080000Z\r\n"
		"DTSTART:20260602T100000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
	test_assert(as_calendar_ical_read(ical, &ev, &warning, &error) == 0);
	test_assert(array_count(&ev.exceptions) == 0 && warning != NULL);
	/* an RRULE of every second forever: not expanded, not dropped */
	ical = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:z\r\n"
		"DTSTART:20000101T000000Z\r\nRRULE:FREQ=SECONDLY\r\n"
		"END:VEVENT\r\nEND:VCALENDAR\r\n";
	test_assert(as_calendar_ical_read(ical, &ev, &warning, &error) == 0);
	test_assert(!ev.have_recurrence && warning != NULL);
	test_end();
}

static const char *single(const char *rrule)
{
	return t_strconcat("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:a\r\n"
		"DTSTART:20260101T080000Z\r\nDTEND:20260101T090000Z\r\n",
		rrule, "END:VEVENT\r\nEND:VCALENDAR\r\n", NULL);
}

static void test_in_range(void)
{
	time_t since = parse_dt("20260601T000000Z");

	test_begin("calendar date filter");
	test_assert(!as_calendar_ical_in_range(
		single(""), since));
	test_assert(as_calendar_ical_in_range(
		single(""), since - 200 * 86400));
	/* endless: kept */
	test_assert(as_calendar_ical_in_range(single(
		"RRULE:FREQ=DAILY\r\n"), since));
	/* the 30th weekly occurrence reaches July */
	test_assert(as_calendar_ical_in_range(single(
		"RRULE:FREQ=WEEKLY;COUNT=30\r\n"), since));
	test_assert(!as_calendar_ical_in_range(single(
		"RRULE:FREQ=WEEKLY;COUNT=5\r\n"), since));
	test_assert(!as_calendar_ical_in_range(single(
		"RRULE:FREQ=WEEKLY;UNTIL=20260301T000000Z\r\n"), since));
	/* daily for 20 years by count: expansion stops at the limit and
	   keeps it */
	test_assert(as_calendar_ical_in_range(single(
		"RRULE:FREQ=DAILY;COUNT=7300\r\n"), since));
	/* every second, by count: no EAS form, but still a series */
	test_assert(as_calendar_ical_in_range(single(
		"RRULE:FREQ=SECONDLY;COUNT=100000000\r\n"), since));
	/* an override moved into the range keeps the series */
	test_assert(as_calendar_ical_in_range(t_strconcat(
		"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:a\r\n"
		"DTSTART:20260101T080000Z\r\nDTEND:20260101T090000Z\r\n"
		"RRULE:FREQ=WEEKLY;COUNT=3\r\nEND:VEVENT\r\n"
		"BEGIN:VEVENT\r\nUID:a\r\nRECURRENCE-ID:20260108T080000Z\r\n"
		"DTSTART:20260701T080000Z\r\nDTEND:20260701T090000Z\r\n"
		"END:VEVENT\r\nEND:VCALENDAR\r\n", NULL), since));
	test_end();
}

int main(void)
{
	static void (*const test_functions[])(void) = {
		test_tz_blobs,
		test_tz_foreign_blobs,
		test_fields,
		test_allday,
		test_recurrence_read,
		test_online_and_wkst,
		test_exceptions,
		test_bad_input,
		test_in_range,
		NULL
	};
	int ret;

	ioloop_time = 1780000000;
	ret = test_run(test_functions);
	icaltimezone_free_builtin_timezones();
	icalmemory_free_ring();
	return ret;
}
