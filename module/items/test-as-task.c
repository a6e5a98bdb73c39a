/* Copyright (c) dovecot-activesync authors, see the included COPYING file */

#include "lib.h"
#include "str.h"
#include "buffer.h"
#include "ioloop.h"
#include "test-common.h"
#include "wbxml.h"
#include "http/as-request.h"
#include "items/as-body-prefs.h"
#include "items/as-task.h"

#include <libical/ical.h>

/* <ApplicationData> as a device sends it: written, then decoded */
static struct wbxml_node *task_tree(void (*fill)(struct wbxml_writer *w))
{
	buffer_t *buf = t_buffer_create(512);
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

/* What a device gets for the task an iCalendar object holds, as XML */
static const char *task_out(const char *ical, unsigned int version)
{
	buffer_t *buf = t_buffer_create(512);
	struct wbxml_writer *w = wbxml_writer_init(buf);
	struct as_body_options opts;
	struct as_task task;
	string_t *xml = t_str_new(512);
	const char *error = NULL;

	as_body_options_init(&opts);
	if (as_task_ical_read(ical, &task, &error) < 0)
		i_fatal("as_task_ical_read: %s", error);
	wbxml_start(w, EAS_AIRSYNC_APPLICATIONDATA);
	as_task_write(w, &task, version, &opts);
	wbxml_end(w);
	wbxml_writer_deinit(&w);
	if (wbxml_to_xml(xml, buf->data, buf->used, &error) < 0)
		i_fatal("wbxml_to_xml: %s", error);
	return str_c(xml);
}

static const char *tree_xml(void (*fill)(struct wbxml_writer *w))
{
	buffer_t *buf = t_buffer_create(512);
	struct wbxml_writer *w = wbxml_writer_init(buf);
	string_t *xml = t_str_new(512);
	const char *error = NULL;

	wbxml_start(w, EAS_AIRSYNC_APPLICATIONDATA);
	fill(w);
	wbxml_end(w);
	wbxml_writer_deinit(&w);
	if (wbxml_to_xml(xml, buf->data, buf->used, &error) < 0)
		i_fatal("wbxml_to_xml: %s", error);
	return str_c(xml);
}

static const char *
task_build(void (*fill)(struct wbxml_writer *w), const char *base)
{
	const char *ical, *error;

	if (as_task_build_ical(task_tree(fill), base, AS_VERSION_16_1,
			       FALSE, NULL, 0, &ical, &error) < 0)
		i_fatal("as_task_build_ical: %s", error);
	return ical;
}

/* The device's elements come back unchanged through the VTODO */
static const char *
task_roundtrip(void (*fill)(struct wbxml_writer *w), const char **ical_r)
{
	const char *ical = task_build(fill, NULL);
	const char *in = tree_xml(fill), *out = task_out(ical, AS_VERSION_16_1);

	if (strcmp(in, out) != 0)
		i_warning("in:\n%s\nout:\n%s\nical:\n%s", in, out, ical);
	test_assert(strcmp(in, out) == 0);
	if (ical_r != NULL)
		*ical_r = ical;
	return ical;
}

static bool has(const char *ical, const char *line)
{
	return strstr(ical, line) != NULL;
}

/* <name>value</name> in task_out()'s XML, with or without xmlns */
static bool elem(const char *xml, const char *name, const char *value)
{
	return has(xml, t_strdup_printf("<%s>%s</%s>", name, value, name)) ||
		has(xml, t_strdup_printf("<%s xmlns=\"Tasks:\">%s</%s>",
					 name, value, name));
}

/* ---- every scalar field ---- */

static unsigned int fill_sensitivity;

static void fill_all(struct wbxml_writer *w)
{
	wbxml_elem_str(w, EAS_TASKS_SUBJECT, "Pay the rent, now; really");
	wbxml_elem_uint(w, EAS_TASKS_IMPORTANCE, 2);
	wbxml_elem_str(w, EAS_TASKS_UTCSTARTDATE, "2024-03-01T08:00:00.000Z");
	wbxml_elem_str(w, EAS_TASKS_STARTDATE, "2024-03-01T09:00:00.000Z");
	wbxml_elem_str(w, EAS_TASKS_UTCDUEDATE, "2024-03-05T16:30:00.000Z");
	wbxml_elem_str(w, EAS_TASKS_DUEDATE, "2024-03-05T11:30:00.000Z");
	wbxml_start(w, EAS_TASKS_CATEGORIES);
	wbxml_elem_str(w, EAS_TASKS_CATEGORY, "Home");
	wbxml_elem_str(w, EAS_TASKS_CATEGORY, "Money, bills");
	wbxml_end(w);
	wbxml_elem_uint(w, EAS_TASKS_COMPLETE, 1);
	wbxml_elem_str(w, EAS_TASKS_DATECOMPLETED, "2024-03-04T10:00:00.000Z");
	wbxml_elem_uint(w, EAS_TASKS_SENSITIVITY, fill_sensitivity);
	wbxml_elem_str(w, EAS_TASKS_REMINDERTIME, "2024-03-05T07:45:00.000Z");
	wbxml_elem_uint(w, EAS_TASKS_REMINDERSET, 1);
	wbxml_elem_str(w, EAS_TASKS_ORDINALDATE, "2024-02-29T12:00:00.000Z");
	wbxml_elem_str(w, EAS_TASKS_SUBORDINALDATE, "5000000000000000000");
}

static void test_task_fields(void)
{
	static const char *const classes[] = {
		"CLASS:PUBLIC", "CLASS:X-PERSONAL", "CLASS:PRIVATE",
		"CLASS:CONFIDENTIAL"
	};
	const char *ical;

	test_begin("task fields WBXML -> VTODO -> WBXML");
	for (fill_sensitivity = 0; fill_sensitivity < 4; fill_sensitivity++) {
		ical = task_roundtrip(fill_all, NULL);
		test_assert_idx(has(ical, classes[fill_sensitivity]),
				fill_sensitivity);
	}
	test_assert(has(ical, "BEGIN:VTODO"));
	test_assert(has(ical, "SUMMARY:Pay the rent\\, now\\; really"));
	test_assert(has(ical, "PRIORITY:1\r\n"));
	/* local time floating, with the device's offset from UTC */
	test_assert(has(ical, "DTSTART;X-ACTIVESYNC-UTC-OFFSET=+0100:"
			"20240301T090000\r\n"));
	test_assert(has(ical, "DUE;X-ACTIVESYNC-UTC-OFFSET=-0500:"
			"20240305T113000\r\n"));
	test_assert(has(ical, "STATUS:COMPLETED"));
	test_assert(has(ical, "COMPLETED:20240304T100000Z"));
	test_assert(has(ical, "PERCENT-COMPLETE:100"));
	test_assert(has(ical, "CATEGORIES:Home\r\n"));
	test_assert(has(ical, "CATEGORIES:Money\\, bills\r\n"));
	test_assert(has(ical, "BEGIN:VALARM"));
	test_assert(has(ical, "TRIGGER;VALUE=DATE-TIME:20240305T074500Z"));
	test_assert(has(ical, "ACTION:DISPLAY"));
	test_assert(has(ical, "X-ACTIVESYNC-ORDINALDATE:20240229T120000Z"));
	test_assert(has(ical, "UID:"));
	test_assert(has(ical, "DTSTAMP:"));
	test_assert(!has(ical, "SEQUENCE"));
	test_end();
}

/* ---- dates given one way only ---- */

static void fill_utc_only(struct wbxml_writer *w)
{
	wbxml_elem_str(w, EAS_TASKS_SUBJECT, "utc");
	wbxml_elem_str(w, EAS_TASKS_UTCDUEDATE, "2024-03-05T16:30:00.000Z");
	wbxml_elem_uint(w, EAS_TASKS_COMPLETE, 0);
}

static void fill_local_only(struct wbxml_writer *w)
{
	wbxml_elem_str(w, EAS_TASKS_SUBJECT, "local");
	wbxml_elem_str(w, EAS_TASKS_STARTDATE, "20240301T090000Z");
	wbxml_elem_uint(w, EAS_TASKS_COMPLETE, 0);
}

static void test_task_dates(void)
{
	const char *ical, *out;

	test_begin("task dates local or UTC alone");
	ical = task_build(fill_utc_only, NULL);
	test_assert(has(ical, "DUE:20240305T163000Z\r\n"));
	test_assert(has(ical, "STATUS:NEEDS-ACTION"));
	out = task_out(ical, AS_VERSION_14_1);
	test_assert(elem(out, "UtcDueDate", "2024-03-05T16:30:00.000Z"));
	test_assert(elem(out, "DueDate", "2024-03-05T16:30:00.000Z"));
	test_assert(elem(out, "Complete", "0"));
	test_assert(!has(out, "DateCompleted"));
	test_assert(!has(out, "StartDate"));

	/* the compact form is read too; floating without offset */
	ical = task_build(fill_local_only, NULL);
	test_assert(has(ical, "DTSTART:20240301T090000\r\n"));
	out = task_out(ical, AS_VERSION_14_1);
	test_assert(elem(out, "UtcStartDate", "2024-03-01T09:00:00.000Z"));
	test_assert(elem(out, "StartDate", "2024-03-01T09:00:00.000Z"));
	test_end();
}

/* ---- recurrence ---- */

static unsigned int recur_case;

static void fill_recurrence(struct wbxml_writer *w)
{
	wbxml_elem_str(w, EAS_TASKS_SUBJECT, "recurring");
	wbxml_elem_uint(w, EAS_TASKS_IMPORTANCE, 1);
	wbxml_elem_str(w, EAS_TASKS_UTCSTARTDATE, "2024-03-01T09:00:00.000Z");
	wbxml_elem_str(w, EAS_TASKS_STARTDATE, "2024-03-01T09:00:00.000Z");
	wbxml_start(w, EAS_TASKS_RECURRENCE);
	switch (recur_case) {
	case 0: /* every 2 days, 10 times, regenerating */
		wbxml_elem_uint(w, EAS_TASKS_TYPE, 0);
		wbxml_elem_str(w, EAS_TASKS_START, "2024-03-01T09:00:00.000Z");
		wbxml_elem_uint(w, EAS_TASKS_OCCURRENCES, 10);
		wbxml_elem_uint(w, EAS_TASKS_INTERVAL, 2);
		wbxml_elem_uint(w, EAS_TASKS_REGENERATE, 1);
		wbxml_elem_uint(w, EAS_TASKS_DEADOCCUR, 0);
		break;
	case 1: /* Monday, Wednesday, Friday until the end of June */
		wbxml_elem_uint(w, EAS_TASKS_TYPE, 1);
		wbxml_elem_str(w, EAS_TASKS_START, "2024-03-04T00:00:00.000Z");
		wbxml_elem_str(w, EAS_TASKS_UNTIL, "2024-06-30T00:00:00.000Z");
		wbxml_elem_uint(w, EAS_TASKS_INTERVAL, 1);
		wbxml_elem_uint(w, EAS_TASKS_DAYOFWEEK, 2 | 8 | 32);
		wbxml_elem_uint(w, EAS_TASKS_DEADOCCUR, 1);
		wbxml_elem_uint(w, EAS_TASKS_FIRSTDAYOFWEEK, 0);
		break;
	case 2: /* the 15th of every 3rd month */
		wbxml_elem_uint(w, EAS_TASKS_TYPE, 2);
		wbxml_elem_str(w, EAS_TASKS_START, "2024-03-01T09:00:00.000Z");
		wbxml_elem_uint(w, EAS_TASKS_INTERVAL, 3);
		wbxml_elem_uint(w, EAS_TASKS_DAYOFMONTH, 15);
		wbxml_elem_uint(w, EAS_TASKS_CALENDARTYPE, 1);
		break;
	case 3: /* the 2nd Tuesday */
		wbxml_elem_uint(w, EAS_TASKS_TYPE, 3);
		wbxml_elem_str(w, EAS_TASKS_START, "2024-03-01T09:00:00.000Z");
		wbxml_elem_uint(w, EAS_TASKS_INTERVAL, 1);
		wbxml_elem_uint(w, EAS_TASKS_DAYOFWEEK, 4);
		wbxml_elem_uint(w, EAS_TASKS_WEEKOFMONTH, 2);
		break;
	case 4: /* the last weekday of the month */
		wbxml_elem_uint(w, EAS_TASKS_TYPE, 3);
		wbxml_elem_str(w, EAS_TASKS_START, "2024-03-01T09:00:00.000Z");
		wbxml_elem_uint(w, EAS_TASKS_INTERVAL, 1);
		wbxml_elem_uint(w, EAS_TASKS_DAYOFWEEK, 62);
		wbxml_elem_uint(w, EAS_TASKS_WEEKOFMONTH, 5);
		break;
	case 5: /* every 24 December */
		wbxml_elem_uint(w, EAS_TASKS_TYPE, 5);
		wbxml_elem_str(w, EAS_TASKS_START, "2024-03-01T09:00:00.000Z");
		wbxml_elem_uint(w, EAS_TASKS_INTERVAL, 1);
		wbxml_elem_uint(w, EAS_TASKS_DAYOFMONTH, 24);
		wbxml_elem_uint(w, EAS_TASKS_MONTHOFYEAR, 12);
		wbxml_elem_uint(w, EAS_TASKS_ISLEAPMONTH, 0);
		break;
	case 6: /* the last Sunday of March */
		wbxml_elem_uint(w, EAS_TASKS_TYPE, 6);
		wbxml_elem_str(w, EAS_TASKS_START, "2024-03-01T09:00:00.000Z");
		wbxml_elem_uint(w, EAS_TASKS_INTERVAL, 1);
		wbxml_elem_uint(w, EAS_TASKS_DAYOFWEEK, 1);
		wbxml_elem_uint(w, EAS_TASKS_WEEKOFMONTH, 5);
		wbxml_elem_uint(w, EAS_TASKS_MONTHOFYEAR, 3);
		break;
	}
	wbxml_end(w);
	wbxml_elem_uint(w, EAS_TASKS_COMPLETE, 0);
	wbxml_elem_uint(w, EAS_TASKS_SENSITIVITY, 0);
	wbxml_elem_uint(w, EAS_TASKS_REMINDERSET, 0);
}

static void test_task_recurrence(void)
{
	static const char *const rrules[] = {
		"RRULE:FREQ=DAILY;COUNT=10;INTERVAL=2\r\n",
		"RRULE:FREQ=WEEKLY;UNTIL=20240630T000000Z;BYDAY=MO,WE,FR;"
			"WKST=SU\r\n",
		"RRULE:FREQ=MONTHLY;INTERVAL=3;BYMONTHDAY=15\r\n",
		"RRULE:FREQ=MONTHLY;BYDAY=2TU\r\n",
		"RRULE:FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1\r\n",
		"RRULE:FREQ=YEARLY;BYMONTHDAY=24;BYMONTH=12\r\n",
		"RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3\r\n",
	};
	const char *ical;

	test_begin("task recurrence <-> RRULE");
	for (recur_case = 0; recur_case < N_ELEMENTS(rrules); recur_case++) {
		ical = task_roundtrip(fill_recurrence, NULL);
		if (!has(ical, rrules[recur_case]))
			i_warning("case %u: %s", recur_case, ical);
		test_assert_idx(has(ical, rrules[recur_case]), recur_case);
		/* a recurrence starting when the task does says nothing
		   more; one that doesn't keeps its start */
		test_assert_idx(has(ical, "X-ACTIVESYNC-RECURRENCE-START") ==
				(recur_case == 1), recur_case);
	}
	recur_case = 0;
	ical = task_build(fill_recurrence, NULL);
	test_assert(has(ical, "X-ACTIVESYNC-REGENERATE:1\r\n"));
	test_assert(has(ical, "X-ACTIVESYNC-DEADOCCUR:0\r\n"));
	/* ReminderSet 0: no alarm */
	test_assert(!has(ical, "VALARM"));
	/* 12.1 devices get no 14.x elements */
	recur_case = 1;
	ical = task_build(fill_recurrence, NULL);
	test_assert(!has(task_out(ical, AS_VERSION_12_1), "FirstDayOfWeek"));
	test_assert(elem(task_out(ical, AS_VERSION_14_1),
			 "FirstDayOfWeek", "0"));
	test_end();
}

/* ---- a task another client wrote ---- */

static const char *const foreign_ical =
	"BEGIN:VCALENDAR\r\n"
	"PRODID:-//Mozilla.org/NONSGML Mozilla Calendar V1.1//EN\r\n"
	"VERSION:2.0\r\n"
	"BEGIN:VTIMEZONE\r\n"
	"TZID:Europe/Berlin\r\n"
	"BEGIN:DAYLIGHT\r\n"
	"TZOFFSETFROM:+0100\r\n"
	"TZOFFSETTO:+0200\r\n"
	"TZNAME:CEST\r\n"
	"DTSTART:19700329T020000\r\n"
	"RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3\r\n"
	"END:DAYLIGHT\r\n"
	"BEGIN:STANDARD\r\n"
	"TZOFFSETFROM:+0200\r\n"
	"TZOFFSETTO:+0100\r\n"
	"TZNAME:CET\r\n"
	"DTSTART:19701025T030000\r\n"
	"RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10\r\n"
	"END:STANDARD\r\n"
	"END:VTIMEZONE\r\n"
	"BEGIN:VTODO\r\n"
	"CREATED:20240201T100000Z\r\n"
	"LAST-MODIFIED:20240201T100500Z\r\n"
	"DTSTAMP:20240201T100500Z\r\n"
	"UID:7d1c9e4a-1111-4b4b-9c9c-0123456789ab\r\n"
	"SUMMARY:Write the report\r\n"
	"STATUS:IN-PROCESS\r\n"
	"PERCENT-COMPLETE:40\r\n"
	"PRIORITY:3\r\n"
	"CATEGORIES:Work,Q1\r\n"
	"DTSTART;TZID=Europe/Berlin:20240610T090000\r\n"
	"DUE;TZID=Europe/Berlin:20240614T170000\r\n"
	"RELATED-TO;RELTYPE=PARENT:aaaa-bbbb\r\n"
	"X-MOZ-GENERATION:3\r\n"
	"SEQUENCE:2\r\n"
	"DESCRIPTION:Numbers from\\nthe sales team\r\n"
	"BEGIN:VALARM\r\n"
	"ACTION:DISPLAY\r\n"
	"TRIGGER;VALUE=DURATION;RELATED=END:-PT30M\r\n"
	"DESCRIPTION:Default Mozilla Description\r\n"
	"END:VALARM\r\n"
	"BEGIN:VALARM\r\n"
	"ACTION:AUDIO\r\n"
	"TRIGGER:-P1D\r\n"
	"END:VALARM\r\n"
	"END:VTODO\r\n"
	"END:VCALENDAR\r\n";

static const char *foreign_subject;

/* What the device sends back after reading foreign_ical, with a new
   subject */
static void fill_foreign_edit(struct wbxml_writer *w)
{
	wbxml_start(w, EAS_AIRSYNCBASE_BODY);
	wbxml_elem_uint(w, EAS_AIRSYNCBASE_TYPE, 1);
	wbxml_elem_str(w, EAS_AIRSYNCBASE_DATA, "Numbers from\nthe sales team");
	wbxml_end(w);
	wbxml_elem_str(w, EAS_TASKS_SUBJECT, foreign_subject);
	wbxml_elem_uint(w, EAS_TASKS_IMPORTANCE, 2);
	wbxml_elem_str(w, EAS_TASKS_UTCSTARTDATE, "2024-06-10T07:00:00.000Z");
	wbxml_elem_str(w, EAS_TASKS_STARTDATE, "2024-06-10T09:00:00.000Z");
	wbxml_elem_str(w, EAS_TASKS_UTCDUEDATE, "2024-06-14T15:00:00.000Z");
	wbxml_elem_str(w, EAS_TASKS_DUEDATE, "2024-06-14T17:00:00.000Z");
	wbxml_start(w, EAS_TASKS_CATEGORIES);
	wbxml_elem_str(w, EAS_TASKS_CATEGORY, "Work");
	wbxml_elem_str(w, EAS_TASKS_CATEGORY, "Q1");
	wbxml_end(w);
	wbxml_elem_uint(w, EAS_TASKS_COMPLETE, 0);
	wbxml_elem_uint(w, EAS_TASKS_SENSITIVITY, 0);
	wbxml_elem_str(w, EAS_TASKS_REMINDERTIME, "2024-06-14T14:30:00.000Z");
	wbxml_elem_uint(w, EAS_TASKS_REMINDERSET, 1);
}

/* Only the due date moves, an hour later */
static void fill_foreign_due(struct wbxml_writer *w)
{
	wbxml_elem_str(w, EAS_TASKS_SUBJECT, "Write the report");
	wbxml_elem_str(w, EAS_TASKS_UTCDUEDATE, "2024-06-14T16:00:00.000Z");
	wbxml_elem_str(w, EAS_TASKS_DUEDATE, "2024-06-14T18:00:00.000Z");
	wbxml_elem_uint(w, EAS_TASKS_COMPLETE, 1);
	wbxml_elem_str(w, EAS_TASKS_DATECOMPLETED, "2024-06-13T08:00:00.000Z");
}

static void test_task_foreign(void)
{
	const unsigned int supported[] = {
		EAS_TASKS_SUBJECT, EAS_TASKS_DUEDATE, EAS_TASKS_UTCDUEDATE,
		EAS_TASKS_COMPLETE, EAS_TASKS_DATECOMPLETED,
	};
	struct as_task task;
	const char *out, *ical, *error;

	test_begin("task from another client, edited by a device");
	test_assert(as_task_ical_read(foreign_ical, &task, &error) == 0);
	test_assert(null_strcmp(task.subject, "Write the report") == 0);
	test_assert(null_strcmp(task.body,
				"Numbers from\nthe sales team") == 0);
	test_assert(task.importance == 2);
	test_assert(!task.complete);
	/* 09:00 in Berlin in June is 07:00 UTC */
	out = task_out(foreign_ical, AS_VERSION_16_1);
	test_assert(elem(out, "UtcStartDate", "2024-06-10T07:00:00.000Z"));
	test_assert(elem(out, "StartDate", "2024-06-10T09:00:00.000Z"));
	test_assert(elem(out, "UtcDueDate", "2024-06-14T15:00:00.000Z"));
	/* 30 minutes before the due date */
	test_assert(elem(out, "ReminderTime", "2024-06-14T14:30:00.000Z"));
	test_assert(elem(out, "Category", "Q1"));

	/* the same task back with a new subject: only SUMMARY changes */
	foreign_subject = "Write the final report";
	ical = task_build(fill_foreign_edit, foreign_ical);
	test_assert(has(ical, "SUMMARY:Write the final report"));
	test_assert(has(ical, "UID:7d1c9e4a-1111-4b4b-9c9c-0123456789ab"));
	test_assert(has(ical, "SEQUENCE:3"));
	test_assert(has(ical, "RELATED-TO;RELTYPE=PARENT:aaaa-bbbb"));
	test_assert(has(ical, "X-MOZ-GENERATION:3"));
	test_assert(has(ical, "PRIORITY:3"));
	test_assert(has(ical, "STATUS:IN-PROCESS"));
	test_assert(has(ical, "PERCENT-COMPLETE:40"));
	test_assert(has(ical, "DTSTART;TZID=Europe/Berlin:20240610T090000"));
	test_assert(has(ical, "DUE;TZID=Europe/Berlin:20240614T170000"));
	test_assert(has(ical, "TRIGGER;VALUE=DURATION;RELATED=END:-PT30M") ||
		    has(ical, "TRIGGER;RELATED=END:-PT30M"));
	test_assert(has(ical, "ACTION:AUDIO"));
	test_assert(has(ical, "BEGIN:VTIMEZONE"));
	test_assert(has(ical, "PRODID:-//Mozilla.org/"));
	test_assert(!has(ical, "CLASS"));
	test_assert(!has(ical, "X-ACTIVESYNC"));
	test_assert(!has(ical, "DTSTAMP:20240201T100500Z"));

	/* a new due date stays in the task's zone; with <Supported>, the
	   omitted start, reminder, categories are ghosted and kept */
	test_assert(as_task_build_ical(task_tree(fill_foreign_due),
				       foreign_ical,
				       AS_VERSION_16_1, TRUE, supported,
				       N_ELEMENTS(supported), &ical,
				       &error) == 0);
	test_assert(has(ical, "DUE;TZID=Europe/Berlin:20240614T180000"));
	test_assert(has(ical, "DTSTART;TZID=Europe/Berlin:20240610T090000"));
	test_assert(has(ical, "CATEGORIES:Work"));
	test_assert(has(ical, "RELATED-TO"));
	test_assert(has(ical, "TRIGGER;VALUE=DURATION;RELATED=END:-PT30M") ||
		    has(ical, "TRIGGER;RELATED=END:-PT30M"));
	test_assert(has(ical, "STATUS:COMPLETED"));
	test_assert(has(ical, "COMPLETED:20240613T080000Z"));
	test_assert(has(ical, "PERCENT-COMPLETE:100"));
	test_assert(has(ical, "DESCRIPTION:Numbers from"));

	/* without <Supported>, what's omitted is deleted (the body stays) */
	test_assert(as_task_build_ical(task_tree(fill_foreign_due),
				       foreign_ical,
				       AS_VERSION_16_1, FALSE, NULL, 0, &ical,
				       &error) == 0);
	test_assert(!has(ical, "DTSTART;TZID"));
	test_assert(!has(ical, "CATEGORIES"));
	test_assert(!has(ical, "VALARM"));
	test_assert(!has(ical, "PRIORITY"));
	test_assert(has(ical, "RELATED-TO"));
	test_assert(has(ical, "X-MOZ-GENERATION:3"));
	test_assert(has(ical, "DESCRIPTION:Numbers from"));
	test_end();
}

/* ---- completion, importance, reminders read from VTODOs ---- */

static const char *vtodo(const char *props)
{
	return t_strdup_printf("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n"
			       "PRODID:-//test//EN\r\nBEGIN:VTODO\r\n"
			       "UID:x1\r\nDTSTAMP:20240101T000000Z\r\n"
			       "%sEND:VTODO\r\nEND:VCALENDAR\r\n", props);
}

static void fill_reopen(struct wbxml_writer *w)
{
	wbxml_elem_str(w, EAS_TASKS_SUBJECT, "done");
	wbxml_elem_uint(w, EAS_TASKS_COMPLETE, 0);
}

static void test_task_read_values(void)
{
	static const struct {
		int priority, importance;
	} priorities[] = {
		{ 0, 1 }, { 1, 2 }, { 4, 2 }, { 5, 1 }, { 6, 0 }, { 9, 0 },
	};
	struct as_task task;
	const char *error, *ical;
	unsigned int i;

	test_begin("task values read from VTODOs");
	for (i = 0; i < N_ELEMENTS(priorities); i++) {
		test_assert_idx(as_task_ical_read(vtodo(t_strdup_printf(
			"PRIORITY:%d\r\n", priorities[i].priority)), &task,
			&error) == 0, i);
		test_assert_idx(task.importance == priorities[i].importance, i);
	}
	test_assert(as_task_ical_read(vtodo(""), &task, &error) == 0);
	test_assert(task.importance == 1 && task.sensitivity == 0);
	test_assert(!task.complete && !task.reminder_set);
	test_assert(task.subject == NULL && !task.have_recurrence);

	/* an unknown class is private (RFC 5545) */
	test_assert(as_task_ical_read(vtodo("CLASS:X-SECRET\r\n"), &task,
				      &error) == 0);
	test_assert(task.sensitivity == 2);

	/* completed without a date: the last change */
	test_assert(as_task_ical_read(vtodo("STATUS:COMPLETED\r\n"
		"LAST-MODIFIED:20240202T101010Z\r\n"), &task, &error) == 0);
	test_assert(task.complete && task.have_date_completed);
	test_assert(elem(task_out(vtodo("STATUS:COMPLETED\r\n"
		"LAST-MODIFIED:20240202T101010Z\r\n"), AS_VERSION_14_1),
		"DateCompleted", "2024-02-02T10:10:10.000Z"));

	/* an all-day due date */
	test_assert(elem(task_out(vtodo("DUE;VALUE=DATE:20240705\r\n"),
			      AS_VERSION_14_1),
			 "DueDate", "2024-07-05T00:00:00.000Z"));
	/* a reminder relative to the start */
	test_assert(elem(task_out(vtodo("DTSTART:20240705T100000Z\r\n"
		"BEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT15M\r\n"
		"END:VALARM\r\n"), AS_VERSION_14_1),
		"ReminderTime", "2024-07-05T09:45:00.000Z"));
	/* a bare VTODO without VCALENDAR */
	test_assert(as_task_ical_read("BEGIN:VTODO\r\nUID:b\r\nSUMMARY:bare\r\n"
				      "END:VTODO\r\n", &task, &error) == 0);
	test_assert(null_strcmp(task.subject, "bare") == 0);
	/* hourly: EAS can't say it, no Recurrence, but it stays */
	test_assert(as_task_ical_read(vtodo("DTSTART:20240705T100000Z\r\n"
		"RRULE:FREQ=HOURLY;INTERVAL=4\r\n"), &task, &error) == 0);
	test_assert(!task.have_recurrence);
	ical = task_build(fill_reopen, vtodo("DTSTART:20240705T100000Z\r\n"
		"RRULE:FREQ=HOURLY;INTERVAL=4\r\n"));
	test_assert(has(ical, "RRULE:FREQ=HOURLY;INTERVAL=4"));

	/* opened again */
	ical = task_build(fill_reopen, vtodo("SUMMARY:done\r\n"
		"STATUS:COMPLETED\r\nCOMPLETED:20240101T000000Z\r\n"
		"PERCENT-COMPLETE:100\r\n"));
	test_assert(has(ical, "STATUS:NEEDS-ACTION"));
	test_assert(!has(ical, "COMPLETED:"));
	test_assert(!has(ical, "PERCENT-COMPLETE"));
	test_end();
}

/* ---- all-day dates, long categories ---- */

static void fill_allday(struct wbxml_writer *w)
{
	wbxml_elem_str(w, EAS_TASKS_SUBJECT, "all day");
	wbxml_elem_str(w, EAS_TASKS_UTCDUEDATE, "2024-07-05T22:00:00.000Z");
	wbxml_elem_str(w, EAS_TASKS_DUEDATE, "2024-07-06T00:00:00.000Z");
	wbxml_start(w, EAS_TASKS_CATEGORIES);
	wbxml_elem_str(w, EAS_TASKS_CATEGORY,
		       "A very long category name, with commas; semicolons "
		       "and \xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9 to fold "
		       "somewhere in the middle of it");
	wbxml_end(w);
	wbxml_elem_uint(w, EAS_TASKS_COMPLETE, 0);
}

static void test_task_allday(void)
{
	struct as_task task;
	const char *ical, *error, *out;

	test_begin("task all-day dates and folded categories");
	/* a date moved by a day stays a date */
	ical = task_build(fill_allday, vtodo("SUMMARY:all day\r\n"
		"DUE;VALUE=DATE:20240705\r\n"));
	test_assert(has(ical, "DUE;VALUE=DATE;X-ACTIVESYNC-UTC-OFFSET=+0200:"
			"20240706\r\n"));
	out = task_out(ical, AS_VERSION_16_1);
	test_assert(elem(out, "DueDate", "2024-07-06T00:00:00.000Z"));
	test_assert(elem(out, "UtcDueDate", "2024-07-05T22:00:00.000Z"));
	/* the category's line is folded and reads back whole */
	test_assert(has(ical, "\r\n "));
	test_assert(as_task_ical_read(ical, &task, &error) == 0);
	test_assert(task.categories[0] != NULL &&
		    strcmp(task.categories[0],
			   "A very long category name, with commas; semicolons "
			   "and \xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9 to fold "
			   "somewhere in the middle of it") == 0);
	test_assert(task.categories[0] != NULL &&
		    task.categories[1] == NULL);
	test_end();
}

/* ---- bad input ---- */

static const char *bad_value;
static unsigned int bad_tag;

static void fill_bad(struct wbxml_writer *w)
{
	wbxml_elem_str(w, EAS_TASKS_SUBJECT, "bad");
	wbxml_elem_str(w, bad_tag, bad_value);
}

static void fill_bad_recurrence(struct wbxml_writer *w)
{
	wbxml_elem_str(w, EAS_TASKS_SUBJECT, "bad");
	wbxml_start(w, EAS_TASKS_RECURRENCE);
	wbxml_elem_uint(w, EAS_TASKS_INTERVAL, 1);
	wbxml_end(w);
}

static void fill_bad_body(struct wbxml_writer *w)
{
	wbxml_start(w, EAS_AIRSYNCBASE_BODY);
	wbxml_elem_uint(w, EAS_AIRSYNCBASE_TYPE, 3);
	wbxml_elem_str(w, EAS_AIRSYNCBASE_DATA, "xx");
	wbxml_end(w);
}

static void fill_contact(struct wbxml_writer *w)
{
	wbxml_elem_str(w, EAS_CONTACTS_FIRSTNAME, "Ann");
	wbxml_elem_str(w, EAS_CONTACTS_LASTNAME, "Smith");
}

static void test_task_malformed(void)
{
	static const struct {
		unsigned int tag;
		const char *value;
	} bad[] = {
		{ EAS_TASKS_DUEDATE, "tomorrow" },
		{ EAS_TASKS_UTCSTARTDATE, "2024-13-01T00:00:00.000Z" },
		{ EAS_TASKS_REMINDERTIME, "2024-01-01T00:00:00.000Zjunk" },
		{ EAS_TASKS_IMPORTANCE, "7" },
		{ EAS_TASKS_SENSITIVITY, "-1" },
		{ EAS_TASKS_COMPLETE, "yes" },
	};
	static const char *const bad_ical[] = {
		"",
		"this is not a calendar",
		"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n",
		"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:e\r\nEND:VEVENT\r\n"
			"END:VCALENDAR\r\n",
		"BEGIN:VCARD\r\nFN:x\r\nEND:VCARD\r\n",
	};
	struct as_task task;
	const char *ical, *error;
	unsigned int i;

	test_begin("task bad input");
	for (i = 0; i < N_ELEMENTS(bad); i++) {
		bad_tag = bad[i].tag;
		bad_value = bad[i].value;
		error = NULL;
		test_assert_idx(as_task_build_ical(task_tree(fill_bad), NULL,
			AS_VERSION_16_1, FALSE, NULL, 0, &ical, &error) < 0, i);
		test_assert_idx(error != NULL, i);
	}
	test_assert(as_task_build_ical(task_tree(fill_bad_recurrence), NULL,
		AS_VERSION_16_1, FALSE, NULL, 0, &ical, &error) < 0);
	test_assert(as_task_build_ical(task_tree(fill_bad_body), NULL,
		AS_VERSION_16_1, FALSE, NULL, 0, &ical, &error) < 0);
	/* a contact sent to a tasks folder */
	test_assert(as_task_build_ical(task_tree(fill_contact), NULL,
		AS_VERSION_16_1, FALSE, NULL, 0, &ical, &error) < 0);
	test_assert(error != NULL && strstr(error, "FirstName") != NULL);
	for (i = 0; i < N_ELEMENTS(bad_ical); i++) {
		error = NULL;
		test_assert_idx(as_task_ical_read(bad_ical[i], &task,
						  &error) < 0, i);
		test_assert_idx(error != NULL, i);
	}
	/* an edit of a task whose object is broken starts a new one */
	ical = task_build(fill_reopen, "BEGIN:VCALENDAR\r\ngarbage");
	test_assert(has(ical, "SUMMARY:done"));
	test_assert(as_task_ical_read(ical, &task, &error) == 0);
	/* a property libical can't read is dropped, not fatal */
	test_assert(as_task_ical_read(vtodo("DUE:notadate\r\n"
					    "SUMMARY:still here\r\n"),
				      &task, &error) == 0);
	test_assert(null_strcmp(task.subject, "still here") == 0);
	test_assert(!task.due.have_local);
	test_end();
}

int main(void)
{
	static void (*const test_functions[])(void) = {
		test_task_fields,
		test_task_dates,
		test_task_recurrence,
		test_task_foreign,
		test_task_read_values,
		test_task_allday,
		test_task_malformed,
		NULL
	};
	int ret;

	ioloop_time = 1717000000;
	ret = test_run(test_functions);
	icaltimezone_free_builtin_timezones();
	icalmemory_free_ring();
	return ret;
}
