/* Copyright (c) dovecot-activesync authors, see the included COPYING file */

/* as_freebusy_merged() against a real, temporary mail user: the calendar
   folders found by their folder type, single, recurring, moved, deleted,
   cancelled and transparent events merged into MergedFreeBusy digits. */

#include "lib.h"
#include "str.h"
#include "test-common.h"
#include "mail-namespace.h"
#include "mail-storage.h"
#include "as-folders.h"
#include "items/as-freebusy.h"
#include "test-as-mail-user.h"

/* Monday 2026-03-02 09:00 UTC: the first slot of the tests */
#define T0 1772442000
#define HALF_HOUR 1800
#define DAY (24 * 3600)
#define WEEK (7 * DAY)

static struct mailbox *test_calendar;

static void test_save_event(const char *vevents)
{
	const char *msg = t_strdup_printf(
		"From: <testuser@example.test>\r\n"
		"Subject: event\r\n"
		"MIME-Version: 1.0\r\n"
		"Content-Type: text/calendar; charset=utf-8\r\n"
		"\r\n"
		"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n"
		"%sEND:VCALENDAR\r\n", vevents);

	(void)test_as_mail_save(test_calendar, msg, strlen(msg), 0, NULL);
}

static const char *test_merged(time_t start, unsigned int slots)
{
	string_t *str = t_str_new(64);
	const char *error;
	struct mail_user *user =
		mailbox_get_namespace(test_calendar)->user;

	if (as_freebusy_merged(user, user->event, start,
			       start + (time_t)slots * HALF_HOUR, HALF_HOUR,
			       str, &error) < 0) {
		i_error("as_freebusy_merged: %s", error);
		return "error";
	}
	return str_c(str);
}

static void test_freebusy_no_calendar(void)
{
	struct mailbox *box = test_as_mailbox_open("INBOX");
	struct mail_user *user = mailbox_get_namespace(box)->user;
	string_t *str = t_str_new(16);
	const char *error;

	test_begin("free/busy without a calendar folder");
	test_assert(as_freebusy_merged(user, user->event, T0,
				       T0 + 2 * HALF_HOUR, HALF_HOUR,
				       str, &error) == 0);
	test_assert_strcmp(str_c(str), "44");
	/* bad ranges */
	test_assert(as_freebusy_merged(user, user->event, T0, T0,
				       HALF_HOUR, str, &error) < 0);
	test_assert(as_freebusy_merged(user, user->event, T0,
				       T0 + 43 * DAY, HALF_HOUR,
				       str, &error) < 0);
	test_assert(as_freebusy_merged(user, user->event, T0, T0 + 10, 0,
				       str, &error) < 0);
	mailbox_free(&box);
	test_end();
}

static void test_freebusy_single(void)
{
	const char *error;

	test_begin("free/busy single events");
	test_calendar = test_as_mailbox_open("Calendar");
	test_assert(as_folders_set_groupware_type(test_calendar,
						  "event.default",
						  &error) == 0);
	test_assert_strcmp(test_merged(T0, 8), "00000000");
	/* busy 10:00-11:00 UTC */
	test_save_event("BEGIN:VEVENT\r\nUID:single-1\r\n"
			"DTSTAMP:20260301T000000Z\r\n"
			"DTSTART:20260302T100000Z\r\n"
			"DTEND:20260302T110000Z\r\nSUMMARY:busy\r\n"
			"END:VEVENT\r\n");
	test_assert_strcmp(test_merged(T0, 8), "00220000");
	/* tentative 10:30-12:00 in Berlin (UTC+1): 9:30-11:00 UTC */
	test_save_event("BEGIN:VEVENT\r\nUID:single-2\r\n"
			"DTSTAMP:20260301T000000Z\r\n"
			"DTSTART;TZID=Europe/Berlin:20260302T103000\r\n"
			"DTEND;TZID=Europe/Berlin:20260302T120000\r\n"
			"X-MICROSOFT-CDO-BUSYSTATUS:TENTATIVE\r\n"
			"END:VEVENT\r\n");
	test_assert_strcmp(test_merged(T0, 8), "01220000");
	/* transparent and cancelled events take no time; a partial slot
	   counts whole */
	test_save_event("BEGIN:VEVENT\r\nUID:single-3\r\n"
			"DTSTAMP:20260301T000000Z\r\n"
			"DTSTART:20260302T120000Z\r\n"
			"DTEND:20260302T130000Z\r\nTRANSP:TRANSPARENT\r\n"
			"END:VEVENT\r\n"
			"BEGIN:VEVENT\r\nUID:single-4\r\n"
			"DTSTAMP:20260301T000000Z\r\n"
			"DTSTART:20260302T120000Z\r\n"
			"DTEND:20260302T130000Z\r\nSTATUS:CANCELLED\r\n"
			"END:VEVENT\r\n");
	test_save_event("BEGIN:VEVENT\r\nUID:single-5\r\n"
			"DTSTAMP:20260301T000000Z\r\n"
			"DTSTART:20260302T124500Z\r\n"
			"DTEND:20260302T125000Z\r\n"
			"X-MICROSOFT-CDO-BUSYSTATUS:OOF\r\n"
			"END:VEVENT\r\n");
	test_assert_strcmp(test_merged(T0, 8), "01220003");
	/* starting inside an event */
	test_assert_strcmp(test_merged(T0 + 3 * HALF_HOUR, 2), "20");
	test_end();
}

static void test_freebusy_recurring(void)
{
	test_begin("free/busy recurring events with exceptions");
	/* weekly on Mondays 9:00-9:30 UTC from 2026-03-02: the second
	   occurrence deleted, the third moved to Tuesday as OOF */
	test_save_event("BEGIN:VEVENT\r\nUID:weekly-1\r\n"
			"DTSTAMP:20260301T000000Z\r\n"
			"DTSTART:20260302T090000Z\r\n"
			"DTEND:20260302T093000Z\r\n"
			"RRULE:FREQ=WEEKLY;COUNT=4\r\n"
			"EXDATE:20260309T090000Z\r\n"
			"END:VEVENT\r\n"
			"BEGIN:VEVENT\r\nUID:weekly-1\r\n"
			"DTSTAMP:20260301T000000Z\r\n"
			"RECURRENCE-ID:20260316T090000Z\r\n"
			"DTSTART:20260317T090000Z\r\n"
			"DTEND:20260317T093000Z\r\n"
			"X-MICROSOFT-CDO-BUSYSTATUS:OOF\r\n"
			"END:VEVENT\r\n");
	/* first occurrence, merged with the day's other events */
	test_assert_strcmp(test_merged(T0, 2), "21");
	test_assert_strcmp(test_merged(T0 + WEEK, 2), "00");
	test_assert_strcmp(test_merged(T0 + 2 * WEEK, 2), "00");
	test_assert_strcmp(test_merged(T0 + 2 * WEEK + DAY, 2), "30");
	test_assert_strcmp(test_merged(T0 + 3 * WEEK, 2), "20");
	/* COUNT=4 ended it */
	test_assert_strcmp(test_merged(T0 + 4 * WEEK, 2), "00");
	/* an endless daily series far from its start */
	test_save_event("BEGIN:VEVENT\r\nUID:daily-1\r\n"
			"DTSTAMP:20260301T000000Z\r\n"
			"DTSTART:20260302T150000Z\r\n"
			"DTEND:20260302T160000Z\r\n"
			"RRULE:FREQ=DAILY\r\n"
			"END:VEVENT\r\n");
	test_assert_strcmp(test_merged(T0 + 300 * DAY + 6 * 3600, 2), "22");
	test_end();
}

static void test_freebusy_bad(void)
{
	test_begin("free/busy with an unreadable event");
	test_save_event("BEGIN:VEVENT\r\nUID:bad-1\r\nSUMMARY:no start\r\n"
			"END:VEVENT\r\n");
	test_expect_errors(1);
	test_assert_strcmp(test_merged(T0, 2), "21");
	test_expect_no_more_errors();
	mailbox_free(&test_calendar);
	test_end();
}

int main(int argc, char **argv)
{
	static void (*const test_functions[])(void) = {
		test_freebusy_no_calendar,
		test_freebusy_single,
		test_freebusy_recurring,
		test_freebusy_bad,
		NULL
	};

	return test_as_mail_user_run("test-as-freebusy", test_functions,
				     argc, argv);
}
