/* Copyright (c) dovecot-activesync authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "buffer.h"
#include "str.h"
#include "strnum.h"
#include "mail-html2text.h"
#include "mail-storage.h"
#include "wbxml.h"
#include "http/as-request.h"
#include "items/as-body-prefs.h"
#include "items/as-categories.h"
#include "items/as-datetime.h"
#include "items/as-draft.h"
#include "items/as-groupware-msg.h"
#include "items/as-item.h"
#include "items/as-calendar.h"

#include <time.h>

/* Calendar items <-> WBXML (MS-ASCAL), and the item class. Times on the
   wire are UTC, except an all-day event's in 16.x: its dates come and go
   without time zone ("floating"), while older devices send the local
   midnights of their TimeZone as UTC. */

const char *const as_calendar_content_types[] = {
	"text/calendar", "application/ics", NULL
};

struct cal_item {
	struct as_event event;
	unsigned int version;
	const struct as_body_options *body;
};

/* ---- times on the wire ---- */

static time_t cal_day_floor(time_t t)
{
	return t - ((t % 86400) + 86400) % 86400;
}

static time_t cal_day_ceil(time_t t)
{
	time_t floor = cal_day_floor(t);

	return floor == t ? t : floor + 86400;
}

static const struct as_calendar_tz *cal_tz(const struct as_event *event)
{
	return event->tz != NULL ? event->tz : as_calendar_tz_utc();
}

/* A time of the event as the device gets it; all_day: t is a floating
   date */
static const char *cal_time_out(const struct as_event *event, time_t t,
				bool all_day, unsigned int version)
{
	if (!all_day)
		return as_datetime_format_compact(t);
	if (version >= AS_VERSION_16_0) {
		/* no zone: the date as it is, without Z */
		return t_strcut(as_datetime_format_compact(t), 'Z');
	}
	return as_datetime_format_compact(
		as_calendar_tz_from_wall(cal_tz(event), t));
}

/* A device's time of an all-day event as a floating date: the local
   midnight before it (end: after it) */
static time_t cal_all_day_in(const struct as_event *event, time_t t,
			     bool end, unsigned int version)
{
	if (version < AS_VERSION_16_0)
		t = as_calendar_tz_to_wall(cal_tz(event), t);
	return end ? cal_day_ceil(t) : cal_day_floor(t);
}

/* ---- WBXML out ---- */

static void cal_write_recurrence(struct wbxml_writer *w,
				 const struct as_event *event,
				 unsigned int version)
{
	const struct as_event_recurrence *rec = &event->recur;

	wbxml_start(w, EAS_CALENDAR_RECURRENCE);
	wbxml_elem_uint(w, EAS_CALENDAR_TYPE, rec->type);
	if (rec->occurrences > 0)
		wbxml_elem_uint(w, EAS_CALENDAR_OCCURRENCES, rec->occurrences);
	wbxml_elem_uint(w, EAS_CALENDAR_INTERVAL,
			rec->interval > 0 ? rec->interval : 1);
	if (rec->week_of_month != 0)
		wbxml_elem_uint(w, EAS_CALENDAR_WEEKOFMONTH,
				rec->week_of_month);
	if (rec->day_of_month != 0)
		wbxml_elem_uint(w, EAS_CALENDAR_DAYOFMONTH, rec->day_of_month);
	if (rec->day_of_week != 0)
		wbxml_elem_uint(w, EAS_CALENDAR_DAYOFWEEK, rec->day_of_week);
	if (rec->month_of_year != 0)
		wbxml_elem_uint(w, EAS_CALENDAR_MONTHOFYEAR,
				rec->month_of_year);
	if (rec->have_until && rec->occurrences == 0) {
		wbxml_elem_str(w, EAS_CALENDAR_UNTIL,
			       cal_time_out(event, rec->until, event->all_day,
					    version));
	}
	if (version >= AS_VERSION_14_0) {
		if (rec->calendar_type >= 0)
			wbxml_elem_uint(w, EAS_CALENDAR_CALENDARTYPE,
					rec->calendar_type);
		if (rec->is_leap_month >= 0)
			wbxml_elem_uint(w, EAS_CALENDAR_ISLEAPMONTH,
					rec->is_leap_month);
	}
	/* required in responses for weekly recurrences (14.1+); RFC 5545's
	   default week start is Monday */
	if (version >= AS_VERSION_14_1 &&
	    (rec->first_day_of_week >= 0 || rec->type == 1)) {
		wbxml_elem_uint(w, EAS_CALENDAR_FIRSTDAYOFWEEK,
				rec->first_day_of_week >= 0 ?
				rec->first_day_of_week : 1);
	}
	wbxml_end(w);
}

static void cal_write_location(struct wbxml_writer *w, const char *location,
			       unsigned int version)
{
	if (location == NULL)
		return;
	if (version >= AS_VERSION_16_0) {
		wbxml_start(w, EAS_AIRSYNCBASE_LOCATION);
		wbxml_elem_str(w, EAS_AIRSYNCBASE_DISPLAYNAME, location);
		wbxml_end(w);
	} else {
		wbxml_elem_str(w, EAS_CALENDAR_LOCATION, location);
	}
}

static void cal_write_exception(struct wbxml_writer *w,
				const struct as_event *event,
				const struct as_event_exception *exc,
				unsigned int version,
				const struct as_body_options *body)
{
	bool all_day = exc->all_day >= 0 ? exc->all_day == 1 : event->all_day;
	const char *orig = cal_time_out(event, exc->start_orig,
					event->all_day, version);

	wbxml_start(w, EAS_CALENDAR_EXCEPTION);
	if (exc->deleted)
		wbxml_elem_uint(w, EAS_CALENDAR_DELETED, 1);
	if (version >= AS_VERSION_16_0)
		wbxml_elem_str(w, EAS_AIRSYNCBASE_INSTANCEID, orig);
	else
		wbxml_elem_str(w, EAS_CALENDAR_EXCEPTIONSTARTTIME, orig);
	if (exc->deleted) {
		wbxml_end(w);
		return;
	}
	if (exc->subject != NULL)
		wbxml_elem_str(w, EAS_CALENDAR_SUBJECT, exc->subject);
	if (exc->have_start)
		wbxml_elem_str(w, EAS_CALENDAR_STARTTIME,
			       cal_time_out(event, exc->start, all_day,
					    version));
	if (exc->have_end)
		wbxml_elem_str(w, EAS_CALENDAR_ENDTIME,
			       cal_time_out(event, exc->end, all_day,
					    version));
	if (exc->body != NULL)
		as_body_write_text(w, exc->body, body);
	cal_write_location(w, exc->location, version);
	if (exc->busy_status >= 0)
		wbxml_elem_uint(w, EAS_CALENDAR_BUSYSTATUS, exc->busy_status);
	if (exc->sensitivity >= 0)
		wbxml_elem_uint(w, EAS_CALENDAR_SENSITIVITY, exc->sensitivity);
	if (exc->reminder >= 0)
		wbxml_elem_uint(w, EAS_CALENDAR_REMINDER, exc->reminder);
	if (exc->all_day >= 0)
		wbxml_elem_uint(w, EAS_CALENDAR_ALLDAYEVENT, exc->all_day);
	if (exc->meeting_status >= 0)
		wbxml_elem_uint(w, EAS_CALENDAR_MEETINGSTATUS,
				exc->meeting_status);
	wbxml_end(w);
}

void as_calendar_write(struct wbxml_writer *w, const struct as_event *event,
		       unsigned int version, const struct as_body_options *body)
{
	struct as_body_options default_body;
	const struct as_event_attendee *att;
	const struct as_event_exception *exc;
	const char *const *cat;

	if (body == NULL) {
		as_body_options_init(&default_body);
		body = &default_body;
	}
	wbxml_elem_str(w, EAS_CALENDAR_TIMEZONE,
		       as_calendar_tz_blob_base64(cal_tz(event)));
	wbxml_elem_uint(w, EAS_CALENDAR_ALLDAYEVENT, event->all_day ? 1 : 0);
	if (event->body != NULL)
		as_body_write_text(w, event->body, body);
	if (event->busy_status >= 0)
		wbxml_elem_uint(w, EAS_CALENDAR_BUSYSTATUS, event->busy_status);
	if (event->organizer_name != NULL)
		wbxml_elem_str(w, EAS_CALENDAR_ORGANIZERNAME,
			       event->organizer_name);
	if (event->organizer_email != NULL)
		wbxml_elem_str(w, EAS_CALENDAR_ORGANIZEREMAIL,
			       event->organizer_email);
	if (event->have_dtstamp)
		wbxml_elem_str(w, EAS_CALENDAR_DTSTAMP,
			       as_datetime_format_compact(event->dtstamp));
	if (event->have_end)
		wbxml_elem_str(w, EAS_CALENDAR_ENDTIME,
			       cal_time_out(event, event->end, event->all_day,
					    version));
	cal_write_location(w, event->location, version);
	if (event->reminder >= 0)
		wbxml_elem_uint(w, EAS_CALENDAR_REMINDER, event->reminder);
	if (event->sensitivity >= 0)
		wbxml_elem_uint(w, EAS_CALENDAR_SENSITIVITY,
				event->sensitivity);
	if (event->subject != NULL)
		wbxml_elem_str(w, EAS_CALENDAR_SUBJECT, event->subject);
	wbxml_elem_str(w, EAS_CALENDAR_STARTTIME,
		       cal_time_out(event, event->start, event->all_day,
				    version));
	if (event->uid != NULL)
		wbxml_elem_str(w, EAS_CALENDAR_UID, event->uid);
	if (event->meeting_status >= 0)
		wbxml_elem_uint(w, EAS_CALENDAR_MEETINGSTATUS,
				event->meeting_status);
	if (array_count(&event->attendees) > 0) {
		wbxml_start(w, EAS_CALENDAR_ATTENDEES);
		array_foreach(&event->attendees, att) {
			wbxml_start(w, EAS_CALENDAR_ATTENDEE);
			wbxml_elem_str(w, EAS_CALENDAR_EMAIL,
				       att->email == NULL ? "" : att->email);
			wbxml_elem_str(w, EAS_CALENDAR_NAME,
				       att->name != NULL ? att->name :
				       att->email == NULL ? "" : att->email);
			if (att->status >= 0)
				wbxml_elem_uint(w, EAS_CALENDAR_ATTENDEESTATUS,
						att->status);
			if (att->type >= 0)
				wbxml_elem_uint(w, EAS_CALENDAR_ATTENDEETYPE,
						att->type);
			wbxml_end(w);
		}
		wbxml_end(w);
	}
	if (event->categories[0] != NULL) {
		wbxml_start(w, EAS_CALENDAR_CATEGORIES);
		for (cat = event->categories; *cat != NULL; cat++)
			wbxml_elem_str(w, EAS_CALENDAR_CATEGORY, *cat);
		wbxml_end(w);
	}
	if (event->have_recurrence) {
		cal_write_recurrence(w, event, version);
		if (array_count(&event->exceptions) > 0) {
			wbxml_start(w, EAS_CALENDAR_EXCEPTIONS);
			array_foreach(&event->exceptions, exc)
				cal_write_exception(w, event, exc, version,
						    body);
			wbxml_end(w);
		}
	}
	if (event->response_requested >= 0)
		wbxml_elem_uint(w, EAS_CALENDAR_RESPONSEREQUESTED,
				event->response_requested);
	if (version >= AS_VERSION_14_0) {
		if (event->response_type >= 0)
			wbxml_elem_uint(w, EAS_CALENDAR_RESPONSETYPE,
					event->response_type);
		if (event->disallow_new_time >= 0)
			wbxml_elem_uint(w,
				EAS_CALENDAR_DISALLOWNEWTIMEPROPOSAL,
				event->disallow_new_time);
	}
	if (version >= AS_VERSION_14_1) {
		if (event->online_conf_link != NULL)
			wbxml_elem_str(w, EAS_CALENDAR_ONLINEMEETINGCONFLINK,
				       event->online_conf_link);
		if (event->online_external_link != NULL)
			wbxml_elem_str(w,
				EAS_CALENDAR_ONLINEMEETINGEXTERNALLINK,
				event->online_external_link);
	}
}

/* ---- WBXML in ---- */

static int cal_uint(const struct wbxml_node *node, unsigned int max,
		    unsigned int *value_r, const char **error_r)
{
	if (str_to_uint(wbxml_node_text(node), value_r) < 0 ||
	    *value_r > max) {
		*error_r = t_strdup_printf("invalid %s: %s",
					   wbxml_tag_name(node->tag),
					   wbxml_node_text(node));
		return -1;
	}
	return 0;
}

static int cal_int(const struct wbxml_node *node, unsigned int max,
		   int *value_r, const char **error_r)
{
	unsigned int value;

	if (cal_uint(node, max, &value, error_r) < 0)
		return -1;
	*value_r = (int)value;
	return 0;
}

static int cal_date(const struct wbxml_node *node, time_t *t_r,
		    const char **error_r)
{
	if (!as_datetime_parse(wbxml_node_text(node), t_r)) {
		*error_r = t_strdup_printf("invalid %s: %s",
					   wbxml_tag_name(node->tag),
					   wbxml_node_text(node));
		return -1;
	}
	return 0;
}

static const char *cal_html_to_plain(const char *html)
{
	struct mail_html2text *ht;
	buffer_t *out = t_buffer_create(strlen(html) + 1);

	ht = mail_html2text_init(0);
	mail_html2text_more(ht, (const void *)html, strlen(html), out);
	mail_html2text_deinit(&ht);
	return t_strndup(out->data, out->used);
}

static int cal_body(const struct wbxml_node *node, const char **body_r,
		    const char **error_r)
{
	const char *text;
	bool html;

	if (as_draft_body_text(node, &text, &html, error_r) < 0)
		return -1;
	text = as_draft_utf8_valid(text);
	*body_r = html ? cal_html_to_plain(text) : text;
	return 0;
}

static const char *cal_location(const struct wbxml_node *node)
{
	const char *name;

	if (node->tag == EAS_CALENDAR_LOCATION)
		return as_draft_utf8_valid(wbxml_node_text(node));
	name = wbxml_node_child_text(node, EAS_AIRSYNCBASE_DISPLAYNAME);
	return name == NULL ? "" : as_draft_utf8_valid(name);
}

static int cal_parse_recurrence(const struct wbxml_node *recur,
				struct as_event_recurrence *rec,
				const char **error_r)
{
	const struct wbxml_node *child;
	bool have_type = FALSE;
	int ret = 0;

	wbxml_node_foreach_child(recur, child) {
		switch (child->tag) {
		case EAS_CALENDAR_TYPE:
			ret = cal_uint(child, 6, &rec->type, error_r);
			if (ret == 0 && rec->type == 4) {
				*error_r = "invalid recurrence Type 4";
				ret = -1;
			}
			have_type = TRUE;
			break;
		case EAS_CALENDAR_UNTIL:
			ret = cal_date(child, &rec->until, error_r);
			rec->have_until = TRUE;
			break;
		case EAS_CALENDAR_OCCURRENCES:
			ret = cal_uint(child, 999, &rec->occurrences, error_r);
			break;
		case EAS_CALENDAR_INTERVAL:
			ret = cal_uint(child, 999, &rec->interval, error_r);
			break;
		case EAS_CALENDAR_DAYOFWEEK:
			ret = cal_uint(child, 127, &rec->day_of_week, error_r);
			break;
		case EAS_CALENDAR_DAYOFMONTH:
			ret = cal_uint(child, 31, &rec->day_of_month, error_r);
			break;
		case EAS_CALENDAR_WEEKOFMONTH:
			ret = cal_uint(child, 5, &rec->week_of_month, error_r);
			break;
		case EAS_CALENDAR_MONTHOFYEAR:
			ret = cal_uint(child, 12, &rec->month_of_year, error_r);
			break;
		case EAS_CALENDAR_CALENDARTYPE:
			ret = cal_int(child, 99, &rec->calendar_type, error_r);
			break;
		case EAS_CALENDAR_ISLEAPMONTH:
			ret = cal_int(child, 1, &rec->is_leap_month, error_r);
			break;
		case EAS_CALENDAR_FIRSTDAYOFWEEK:
			ret = cal_int(child, 6, &rec->first_day_of_week,
				      error_r);
			break;
		}
		if (ret < 0)
			return -1;
	}
	if (!have_type) {
		*error_r = "Recurrence without Type";
		return -1;
	}
	if ((rec->type == 1 || rec->type == 3 || rec->type == 6) &&
	    rec->day_of_week == 0) {
		*error_r = "Recurrence without DayOfWeek";
		return -1;
	}
	if ((rec->type == 3 || rec->type == 6) && rec->week_of_month == 0) {
		*error_r = "Recurrence without WeekOfMonth";
		return -1;
	}
	if ((rec->type == 5 || rec->type == 6) && rec->month_of_year == 0) {
		*error_r = "Recurrence without MonthOfYear";
		return -1;
	}
	return 0;
}

static int cal_parse_exception(const struct wbxml_node *node,
			       struct as_event_exception *exc,
			       const char **error_r)
{
	const struct wbxml_node *child;
	bool have_orig = FALSE;
	unsigned int value;
	int ret = 0;

	as_event_exception_init(exc);
	wbxml_node_foreach_child(node, child) {
		switch (child->tag) {
		case EAS_CALENDAR_DELETED:
			ret = cal_uint(child, 1, &value, error_r);
			exc->deleted = value == 1;
			break;
		case EAS_CALENDAR_EXCEPTIONSTARTTIME:
		case EAS_AIRSYNCBASE_INSTANCEID:
			ret = cal_date(child, &exc->start_orig, error_r);
			have_orig = TRUE;
			break;
		case EAS_CALENDAR_SUBJECT:
			exc->subject = as_draft_utf8_valid(
				wbxml_node_text(child));
			break;
		case EAS_CALENDAR_LOCATION:
		case EAS_AIRSYNCBASE_LOCATION:
			exc->location = cal_location(child);
			break;
		case EAS_AIRSYNCBASE_BODY:
			ret = cal_body(child, &exc->body, error_r);
			break;
		case EAS_CALENDAR_STARTTIME:
			exc->have_start = TRUE;
			ret = cal_date(child, &exc->start, error_r);
			break;
		case EAS_CALENDAR_ENDTIME:
			exc->have_end = TRUE;
			ret = cal_date(child, &exc->end, error_r);
			break;
		case EAS_CALENDAR_BUSYSTATUS:
			ret = cal_int(child, 4, &exc->busy_status, error_r);
			break;
		case EAS_CALENDAR_SENSITIVITY:
			ret = cal_int(child, 3, &exc->sensitivity, error_r);
			break;
		case EAS_CALENDAR_REMINDER:
			ret = cal_int(child, 60 * 24 * 365, &exc->reminder,
				      error_r);
			break;
		case EAS_CALENDAR_ALLDAYEVENT:
			ret = cal_int(child, 1, &exc->all_day, error_r);
			break;
		case EAS_CALENDAR_MEETINGSTATUS:
			ret = cal_int(child, 15, &exc->meeting_status,
				      error_r);
			break;
		}
		if (ret < 0)
			return -1;
	}
	if (!have_orig) {
		*error_r = "Exception without ExceptionStartTime";
		return -1;
	}
	return 0;
}

static int cal_parse_attendee(const struct wbxml_node *node,
			      struct as_event_attendee *att,
			      const char **error_r)
{
	const struct wbxml_node *child;
	int ret = 0;

	att->type = -1;
	att->status = -1;
	wbxml_node_foreach_child(node, child) {
		switch (child->tag) {
		case EAS_CALENDAR_EMAIL:
			att->email = as_draft_utf8_valid(
				wbxml_node_text(child));
			break;
		case EAS_CALENDAR_NAME:
			att->name = as_draft_utf8_valid(wbxml_node_text(child));
			break;
		case EAS_CALENDAR_ATTENDEETYPE:
			ret = cal_int(child, 3, &att->type, error_r);
			break;
		case EAS_CALENDAR_ATTENDEESTATUS:
			ret = cal_int(child, 5, &att->status, error_r);
			break;
		}
		if (ret < 0)
			return -1;
	}
	if (att->email == NULL || *att->email == '\0') {
		*error_r = "Attendee without Email";
		return -1;
	}
	return 0;
}

static int cal_parse_categories(const struct wbxml_node *cats,
				struct as_event *event, const char **error_r)
{
	ARRAY_TYPE(const_string) list;
	const struct wbxml_node *cat;
	const char *name;

	t_array_init(&list, 4);
	wbxml_node_foreach_child(cats, cat) {
		if (cat->tag != EAS_CALENDAR_CATEGORY)
			continue;
		name = wbxml_node_text(cat);
		if (as_category_to_keyword(name) == NULL) {
			*error_r = "invalid Category";
			return -1;
		}
		array_push_back(&list, &name);
	}
	array_append_zero(&list);
	event->categories = array_front(&list);
	return 0;
}

struct cal_parse_ctx {
	bool occurrence;		/* set by the caller */
	const char *timezone;
	unsigned int all_day;
	bool sent_body, sent_exceptions, sent_attendees, sent_organizer;
};

static int cal_parse_child(const struct wbxml_node *child,
			   struct as_event *event, struct cal_parse_ctx *ctx,
			   const char **error_r)
{
	const struct wbxml_node *sub;
	struct as_event_attendee *att;
	struct as_event_exception *exc;

	switch (child->tag) {
	case EAS_CALENDAR_TIMEZONE:
		ctx->timezone = wbxml_node_text(child);
		return 0;
	case EAS_CALENDAR_ALLDAYEVENT:
		return cal_uint(child, 1, &ctx->all_day, error_r);
	case EAS_AIRSYNCBASE_BODY:
		ctx->sent_body = TRUE;
		return cal_body(child, &event->body, error_r);
	case EAS_CALENDAR_BUSYSTATUS:
		return cal_int(child, 4, &event->busy_status, error_r);
	case EAS_CALENDAR_ORGANIZERNAME:
		ctx->sent_organizer = TRUE;
		event->organizer_name =
			as_draft_utf8_valid(wbxml_node_text(child));
		return 0;
	case EAS_CALENDAR_ORGANIZEREMAIL:
		ctx->sent_organizer = TRUE;
		event->organizer_email =
			as_draft_utf8_valid(wbxml_node_text(child));
		return 0;
	case EAS_CALENDAR_DTSTAMP:
		event->have_dtstamp = TRUE;
		return cal_date(child, &event->dtstamp, error_r);
	case EAS_CALENDAR_ENDTIME:
		event->have_end = TRUE;
		return cal_date(child, &event->end, error_r);
	case EAS_CALENDAR_LOCATION:
	case EAS_AIRSYNCBASE_LOCATION:
		event->location = cal_location(child);
		return 0;
	case EAS_CALENDAR_REMINDER:
		return cal_int(child, 60 * 24 * 365, &event->reminder,
			       error_r);
	case EAS_CALENDAR_SENSITIVITY:
		return cal_int(child, 3, &event->sensitivity, error_r);
	case EAS_CALENDAR_SUBJECT:
		event->subject = as_draft_utf8_valid(wbxml_node_text(child));
		return 0;
	case EAS_CALENDAR_STARTTIME:
		event->have_start = TRUE;
		return cal_date(child, &event->start, error_r);
	case EAS_CALENDAR_UID:
	case EAS_CALENDAR_CLIENTUID:
		if (event->uid == NULL || child->tag == EAS_CALENDAR_UID)
			event->uid = as_draft_utf8_valid(
				wbxml_node_text(child));
		return 0;
	case EAS_CALENDAR_MEETINGSTATUS:
		return cal_int(child, 15, &event->meeting_status, error_r);
	case EAS_CALENDAR_ATTENDEES:
		ctx->sent_attendees = TRUE;
		wbxml_node_foreach_child(child, sub) {
			if (sub->tag != EAS_CALENDAR_ATTENDEE)
				continue;
			att = array_append_space(&event->attendees);
			if (cal_parse_attendee(sub, att, error_r) < 0)
				return -1;
		}
		return 0;
	case EAS_CALENDAR_CATEGORIES:
		return cal_parse_categories(child, event, error_r);
	case EAS_CALENDAR_RECURRENCE:
		event->have_recurrence = TRUE;
		return cal_parse_recurrence(child, &event->recur, error_r);
	case EAS_CALENDAR_EXCEPTIONS:
		ctx->sent_exceptions = TRUE;
		wbxml_node_foreach_child(child, sub) {
			if (sub->tag != EAS_CALENDAR_EXCEPTION)
				continue;
			if (array_count(&event->exceptions) >= 256) {
				*error_r = "more than 256 Exceptions";
				return -1;
			}
			exc = array_append_space(&event->exceptions);
			if (cal_parse_exception(sub, exc, error_r) < 0)
				return -1;
		}
		return 0;
	case EAS_CALENDAR_RESPONSEREQUESTED:
		return cal_int(child, 1, &event->response_requested, error_r);
	case EAS_CALENDAR_RESPONSETYPE:
		return cal_int(child, 5, &event->response_type, error_r);
	case EAS_CALENDAR_DISALLOWNEWTIMEPROPOSAL:
		return cal_int(child, 1, &event->disallow_new_time, error_r);
	}
	/* a contact or a mail in a calendar folder is refused, not saved as
	   an empty event; other Calendar elements are legacy or read-only */
	if (EAS_TAG_PAGE(child->tag) != EAS_TAG_PAGE(EAS_CALENDAR_SUBJECT) &&
	    EAS_TAG_PAGE(child->tag) != EAS_TAG_PAGE(EAS_AIRSYNCBASE_BODY)) {
		*error_r = t_strdup_printf("%s isn't a calendar element",
					   wbxml_tag_describe(child->tag));
		return -1;
	}
	return 0;
}

/* All-day dates to floating dates, now that the zone is known */
static void cal_fix_all_day(struct as_event *event, unsigned int version)
{
	struct as_event_exception *exc;

	if (event->all_day) {
		event->start = cal_all_day_in(event, event->start, FALSE,
					      version);
		event->end = event->have_end ?
			cal_all_day_in(event, event->end, TRUE, version) :
			event->start + 86400;
		event->have_end = TRUE;
		if (event->end <= event->start)
			event->end = event->start + 86400;
		if (event->recur.have_until)
			event->recur.until = cal_all_day_in(event,
				event->recur.until, FALSE, version);
	}
	array_foreach_modifiable(&event->exceptions, exc) {
		bool all_day = exc->all_day >= 0 ? exc->all_day == 1 :
			event->all_day;

		if (event->all_day)
			exc->start_orig = cal_all_day_in(event,
				exc->start_orig, FALSE, version);
		if (!all_day)
			continue;
		if (exc->have_start)
			exc->start = cal_all_day_in(event, exc->start, FALSE,
						    version);
		if (exc->have_end)
			exc->end = cal_all_day_in(event, exc->end, TRUE,
						  version);
	}
}

static int cal_parse_full(const struct wbxml_node *data, unsigned int version,
			  struct as_event *event_r,
			  struct cal_parse_ctx *ctx, const char **warning_r,
			  const char **error_r)
{
	const struct wbxml_node *child;
	const char *error;

	bool occurrence = ctx->occurrence;

	as_event_init(event_r);
	i_zero(ctx);
	ctx->occurrence = occurrence;
	*warning_r = NULL;
	wbxml_node_foreach_child(data, child) {
		if (cal_parse_child(child, event_r, ctx, error_r) < 0)
			return -1;
	}
	if (!event_r->have_start && ctx->occurrence) {
		/* one occurrence's change may leave its times alone */
		return 0;
	}
	if (!event_r->have_start) {
		*error_r = "event without StartTime";
		return -1;
	}
	if (event_r->have_end && event_r->end < event_r->start) {
		*error_r = "EndTime before StartTime";
		return -1;
	}
	event_r->all_day = ctx->all_day == 1;
	if (ctx->timezone != NULL && *ctx->timezone != '\0') {
		if (as_calendar_tz_from_blob(ctx->timezone,
				as_calendar_year(event_r->start),
				&event_r->tz, warning_r, &error) < 0) {
			/* the times are UTC anyway: the event is kept */
			*warning_r = t_strdup_printf("%s: UTC used", error);
			event_r->tz = NULL;
		}
	}
	cal_fix_all_day(event_r, version);
	return 0;
}

int as_calendar_parse(const struct wbxml_node *data, unsigned int version,
		      struct as_event *event_r, const char **warning_r,
		      const char **error_r)
{
	struct cal_parse_ctx ctx;

	i_zero(&ctx);
	return cal_parse_full(data, version, event_r, &ctx, warning_r,
			      error_r);
}

/* 16.x: a Change (data) or Delete (data NULL) of the occurrence of base
   that instance_id names becomes an exception of the series */
static int cal_build_instance(const struct wbxml_node *data, const char *base,
			      const char *instance_id, unsigned int version,
			      const char **ical_r, const char **warning_r,
			      const char **error_r)
{
	struct as_event event, dev;
	struct as_event_exception *exc, new_exc;
	struct cal_parse_ctx ctx;
	const char *warning, *error;
	time_t orig;
	bool replaced;

	*warning_r = NULL;
	if (base == NULL ||
	    as_calendar_ical_read(base, &event, &warning, &error) < 0) {
		*error_r = "InstanceId for an item that isn't a readable "
			"event";
		return -1;
	}
	if (!event.have_recurrence) {
		*error_r = "InstanceId for an event without recurrence";
		return -1;
	}
	if (!as_datetime_parse(instance_id, &orig)) {
		*error_r = t_strdup_printf("invalid InstanceId: %s",
					   instance_id);
		return -1;
	}
	if (event.all_day)
		orig = cal_all_day_in(&event, orig, FALSE, version);
	as_event_exception_init(&new_exc);
	new_exc.start_orig = orig;
	if (data == NULL)
		new_exc.deleted = TRUE;
	else {
		i_zero(&ctx);
		ctx.occurrence = TRUE;
		if (cal_parse_full(data, version, &dev, &ctx, warning_r,
				   error_r) < 0)
			return -1;
		if (dev.subject != NULL &&
		    null_strcmp(dev.subject, event.subject) != 0)
			new_exc.subject = dev.subject;
		if (dev.location != NULL &&
		    null_strcmp(dev.location, event.location) != 0)
			new_exc.location = dev.location;
		if (ctx.sent_body && null_strcmp(dev.body, event.body) != 0)
			new_exc.body = dev.body;
		if (dev.have_start) {
			new_exc.have_start = TRUE;
			new_exc.start = dev.start;
			new_exc.have_end = TRUE;
			new_exc.end = dev.have_end ? dev.end :
				dev.start + (event.end - event.start);
			if (dev.all_day != event.all_day)
				new_exc.all_day = dev.all_day ? 1 : 0;
		}
		if (dev.busy_status >= 0 &&
		    dev.busy_status != event.busy_status)
			new_exc.busy_status = dev.busy_status;
		if (dev.sensitivity >= 0 &&
		    dev.sensitivity != event.sensitivity)
			new_exc.sensitivity = dev.sensitivity;
		if (dev.reminder >= 0 && dev.reminder != event.reminder)
			new_exc.reminder = dev.reminder;
	}
	/* the occurrence's earlier exception is replaced */
	replaced = FALSE;
	array_foreach_modifiable(&event.exceptions, exc) {
		if (exc->start_orig == orig) {
			*exc = new_exc;
			replaced = TRUE;
		}
	}
	if (!replaced)
		array_push_back(&event.exceptions, &new_exc);
	if (as_calendar_ical_write(base, &event, ical_r, &warning,
				   error_r) < 0)
		return -1;
	if (warning != NULL) {
		/* the occurrence doesn't exist: nothing to change */
		*error_r = t_strdup_printf("InstanceId %s: %s", instance_id,
					   warning);
		return -1;
	}
	return 0;
}

/* The iCalendar object of a device's Add (base NULL) or Change. What a
   device leaves out of a Change and doesn't edit there (the body, the
   organizer and attendees, 16.x exceptions) stays as it is. */
static int cal_build_ical(const struct wbxml_node *data, const char *base,
			  unsigned int version, const char *from,
			  const char **ical_r, const char **warning_r,
			  const char **error_r)
{
	struct as_event event, base_event;
	struct cal_parse_ctx ctx;
	const char *warning, *error;

	i_zero(&ctx);
	if (cal_parse_full(data, version, &event, &ctx, warning_r,
			   error_r) < 0)
		return -1;
	if (base == NULL && event.organizer_email == NULL &&
	    event.meeting_status == 1 && array_count(&event.attendees) > 0) {
		/* a meeting the device's user organizes: devices leave the
		   organizer out, the attendees' answers need it */
		event.organizer_email = from;
	}
	if (base != NULL &&
	    as_calendar_ical_read(base, &base_event, &warning, &error) == 0) {
		/* the object's UID stays, whatever the device says */
		if (base_event.uid != NULL)
			event.uid = base_event.uid;
		if (!ctx.sent_body)
			event.body = base_event.body;
		if (!ctx.sent_organizer) {
			event.organizer_email = base_event.organizer_email;
			event.organizer_name = base_event.organizer_name;
		}
		if (!ctx.sent_attendees)
			event.attendees = base_event.attendees;
		if (!ctx.sent_exceptions && event.have_recurrence &&
		    base_event.have_recurrence &&
		    memcmp(&event.recur, &base_event.recur,
			   sizeof(event.recur)) == 0 &&
		    event.start == base_event.start)
			event.exceptions = base_event.exceptions;
	}
	if (as_calendar_ical_write(base, &event, ical_r, &warning,
				   error_r) < 0)
		return -1;
	if (warning != NULL) {
		*warning_r = *warning_r == NULL ? warning :
			t_strdup_printf("%s; %s", *warning_r, warning);
	}
	return 0;
}

/* ---- the item class ---- */

const char *as_calendar_summary(const struct as_event *event)
{
	string_t *str = t_str_new(256);
	const char *const *cat;
	time_t start = event->start, end = event->end;

	str_printfa(str, "Event: %s\n",
		    event->subject == NULL ? "" : event->subject);
	if (event->all_day) {
		str_printfa(str, "When: %s", t_strcut(
			as_datetime_format(start), 'T'));
		if (end - start > 86400)
			str_printfa(str, " - %s", t_strcut(
				as_datetime_format(end - 86400), 'T'));
		str_append(str, " (all day)\n");
	} else {
		const struct as_calendar_tz *tz = cal_tz(event);

		str_printfa(str, "When: %s - %s (%s)\n", t_strcut(
			as_datetime_format(as_calendar_tz_to_wall(tz, start)),
			'.'), t_strcut(as_datetime_format(
				as_calendar_tz_to_wall(tz, end)), '.'),
			tz->name);
	}
	if (event->location != NULL && *event->location != '\0')
		str_printfa(str, "Location: %s\n", event->location);
	if (event->have_recurrence)
		str_append(str, "Recurring\n");
	if (event->categories[0] != NULL) {
		str_append(str, "Categories:");
		for (cat = event->categories; *cat != NULL; cat++)
			str_printfa(str, " %s", *cat);
		str_append_c(str, '\n');
	}
	if (event->body != NULL && *event->body != '\0')
		str_printfa(str, "\n%s\n", event->body);
	return str_c(str);
}

static int
cal_read(struct mail *mail, const struct as_item_params *params,
	 struct as_item **item_r, const char **error_r)
{
	struct cal_item *item;
	const char *object, *warning;

	if (as_groupware_msg_read(mail, as_calendar_content_types, &object,
				  error_r) <= 0)
		return -1;
	item = t_new(struct cal_item, 1);
	if (as_calendar_ical_read(object, &item->event, &warning,
				  error_r) < 0)
		return -1;
	if (warning != NULL) {
		i_warning("activesync: calendar item %s UID %u: %s",
			  mailbox_get_vname(mail->box), mail->uid, warning);
	}
	item->version = params->version;
	item->body = params->body;
	*item_r = (struct as_item *)item;
	return 0;
}

static const char *cal_item_uid(const struct as_item *_item)
{
	return ((const struct cal_item *)_item)->event.uid;
}

static void cal_write(struct wbxml_writer *w, const struct as_item *_item)
{
	const struct cal_item *item = (const struct cal_item *)_item;

	as_calendar_write(w, &item->event, item->version, item->body);
}

static int
cal_build(const struct as_item_build *build, string_t *dest,
	  const char *const **keywords_r, const char **error_r)
{
	const struct as_item_params *params = build->params;
	ARRAY_TYPE(const_string) keywords;
	struct as_groupware_msg msg;
	struct as_event event;
	const char *base = NULL, *ical, *error, *warning, *keyword;
	const char *const *cat;
	int ret;

	if (build->base != NULL) {
		/* a message without a calendar part is replaced by a new
		   event; one that can't be read now is left as it is */
		ret = as_groupware_msg_read(build->base, as_calendar_content_types,
					    &base, &error);
		if (ret < 0) {
			*error_r = t_strdup_printf(
				"the event being changed can't be read: %s",
				error);
			return -1;
		}
		if (ret == 0)
			base = NULL;
	}
	if (build->instance_id != NULL) {
		if (cal_build_instance(build->delete_instance ? NULL :
				       build->data, base, build->instance_id,
				       params->version, &ical, &warning,
				       error_r) < 0)
			return -1;
	} else if (cal_build_ical(build->data, base, params->version,
				  build->from, &ical, &warning, error_r) < 0)
		return -1;
	if (warning != NULL)
		i_warning("activesync: calendar item from the device: %s",
			  warning);
	if (as_calendar_ical_read(ical, &event, &warning, &error) < 0) {
		*error_r = t_strdup_printf("the new event doesn't read: %s",
					   error);
		return -1;
	}

	/* categories as keywords too, so mail clients can search them */
	t_array_init(&keywords, 4);
	for (cat = event.categories; *cat != NULL; cat++) {
		keyword = as_category_to_keyword(*cat);
		if (keyword != NULL)
			array_push_back(&keywords, &keyword);
	}
	array_append_zero(&keywords);
	*keywords_r = array_front(&keywords);

	i_zero(&msg);
	msg.from = build->from;
	msg.subject = event.subject;
	msg.summary = as_calendar_summary(&event);
	msg.content_type = "text/calendar";
	msg.filename = "event.ics";
	msg.object = ical;
	as_groupware_msg_build(&msg, dest);
	return 0;
}

static bool cal_in_range(struct mail *mail, time_t since)
{
	const char *object, *error;

	if (as_groupware_msg_read(mail, as_calendar_content_types, &object,
				  &error) <= 0) {
		/* not an event (yet): shown as the engine would */
		return TRUE;
	}
	return as_calendar_ical_in_range(object, since);
}

const struct as_item_class as_item_class_calendar = {
	.name = "Calendar",
	.folder_class = AS_FOLDER_CLASS_CALENDAR,
	.wanted_fields = MAIL_FETCH_STREAM_HEADER | MAIL_FETCH_STREAM_BODY |
		MAIL_FETCH_IMAP_BODYSTRUCTURE,
	.read = cal_read,
	.write = cal_write,
	.build = cal_build,
	.item_uid = cal_item_uid,
	/* FilterType selects events by their dates (occurrences
	   included), not by when the message was saved */
	.date_filter = TRUE,
	.in_range = cal_in_range,
	.change_in_place = FALSE,
	.instances = TRUE,
};
