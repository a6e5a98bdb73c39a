/* Copyright (c) dovecot-activesync authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "strnum.h"
#include "ioloop.h"
#include "guid.h"
#include "utc-mktime.h"
#include "items/as-calendar.h"
#include "items/as-ical-time.h"

#include <time.h>
#include <libical/ical.h>

/* VCALENDAR <-> struct as_event. libical allocates with malloc: every
   component parsed here is freed before returning, and what is returned
   is copied to the data stack. */

#define CAL_X_BUSYSTATUS "X-MICROSOFT-CDO-BUSYSTATUS"
#define CAL_X_DISALLOW_COUNTER "X-MICROSOFT-DISALLOW-COUNTER"
#define CAL_X_TZID "X-ACTIVESYNC-TZID"
#define CAL_X_MEETINGSTATUS "X-ACTIVESYNC-MEETINGSTATUS"
#define CAL_X_RESPONSE_REQUESTED "X-ACTIVESYNC-RESPONSE-REQUESTED"
#define CAL_X_RESPONSETYPE "X-ACTIVESYNC-RESPONSETYPE"
#define CAL_X_CALENDARTYPE "X-ACTIVESYNC-CALENDARTYPE"
#define CAL_X_ISLEAPMONTH "X-ACTIVESYNC-ISLEAPMONTH"
#define CAL_X_ONLINE_CONF_LINK "X-MICROSOFT-ONLINEMEETINGCONFLINK"
#define CAL_CLASS_PERSONAL "X-PERSONAL"
#define CAL_PRODID "-//dovecot-activesync//Calendar//EN"

static const char *const cal_busy_names[] = {
	"FREE", "TENTATIVE", "BUSY", "OOF", "WORKINGELSEWHERE"
};

/* The X- properties this file owns: rewritten on every save */
static const char *const cal_own_x[] = {
	CAL_X_BUSYSTATUS, CAL_X_DISALLOW_COUNTER, CAL_X_TZID,
	CAL_X_MEETINGSTATUS, CAL_X_RESPONSE_REQUESTED, CAL_X_RESPONSETYPE,
	CAL_X_CALENDARTYPE, CAL_X_ISLEAPMONTH,
};

/* The properties the event's fields make; the others of an edited
   event are kept */
static const icalproperty_kind cal_own_kinds[] = {
	ICAL_UID_PROPERTY, ICAL_DTSTAMP_PROPERTY, ICAL_SUMMARY_PROPERTY,
	ICAL_LOCATION_PROPERTY, ICAL_DESCRIPTION_PROPERTY,
	ICAL_DTSTART_PROPERTY, ICAL_DTEND_PROPERTY, ICAL_DURATION_PROPERTY,
	ICAL_TRANSP_PROPERTY, ICAL_CLASS_PROPERTY, ICAL_CATEGORIES_PROPERTY,
	ICAL_ORGANIZER_PROPERTY, ICAL_ATTENDEE_PROPERTY, ICAL_RRULE_PROPERTY,
	ICAL_EXDATE_PROPERTY, ICAL_RECURRENCEID_PROPERTY,
	ICAL_SEQUENCE_PROPERTY, ICAL_LASTMODIFIED_PROPERTY,
	ICAL_CREATED_PROPERTY, ICAL_XLICERROR_PROPERTY, ICAL_STATUS_PROPERTY,
};

void as_event_init(struct as_event *event_r)
{
	static const char *const no_categories[] = { NULL };

	i_zero(event_r);
	event_r->busy_status = -1;
	event_r->sensitivity = -1;
	event_r->reminder = -1;
	event_r->categories = no_categories;
	event_r->meeting_status = -1;
	event_r->response_requested = -1;
	event_r->disallow_new_time = -1;
	event_r->response_type = -1;
	event_r->recur.calendar_type = -1;
	event_r->recur.is_leap_month = -1;
	event_r->recur.first_day_of_week = -1;
	t_array_init(&event_r->attendees, 4);
	t_array_init(&event_r->exceptions, 4);
}

void as_event_exception_init(struct as_event_exception *exc_r)
{
	i_zero(exc_r);
	exc_r->all_day = -1;
	exc_r->busy_status = -1;
	exc_r->sensitivity = -1;
	exc_r->meeting_status = -1;
	exc_r->reminder = -1;
}

/* ---- small helpers ---- */

static struct icaltimetype cal_floating(time_t wall, bool is_date)
{
	struct icaltimetype tt = icaltime_from_timet_with_zone(wall, is_date,
							       NULL);

	tt.zone = NULL;
	return tt;
}

static icalproperty *cal_x_prop(icalcomponent *comp, const char *name)
{
	icalproperty *prop;

	for (prop = icalcomponent_get_first_property(comp, ICAL_X_PROPERTY);
	     prop != NULL;
	     prop = icalcomponent_get_next_property(comp, ICAL_X_PROPERTY)) {
		const char *xname = icalproperty_get_x_name(prop);

		if (xname != NULL && strcasecmp(xname, name) == 0)
			return prop;
	}
	return NULL;
}

static const char *cal_x_get(icalcomponent *comp, const char *name)
{
	icalproperty *prop = cal_x_prop(comp, name);

	return prop == NULL ? NULL : icalproperty_get_x(prop);
}

static int cal_x_int(icalcomponent *comp, const char *name)
{
	const char *value = cal_x_get(comp, name);
	int n;

	if (value == NULL || str_to_int(value, &n) < 0 || n < 0)
		return -1;
	return n;
}

static void cal_x_set(icalcomponent *comp, const char *name,
		      const char *value)
{
	icalproperty *prop;

	if (value == NULL)
		return;
	prop = icalproperty_new_x(value);
	icalproperty_set_x_name(prop, name);
	icalcomponent_add_property(comp, prop);
}

static void cal_x_set_int(icalcomponent *comp, const char *name, int value)
{
	if (value >= 0)
		cal_x_set(comp, name, dec2str(value));
}

static const char *cal_text(icalcomponent *comp, icalproperty_kind kind)
{
	icalproperty *prop = icalcomponent_get_first_property(comp, kind);
	const char *value;

	if (prop == NULL)
		return NULL;
	value = icalvalue_get_text(icalproperty_get_value(prop));
	return value == NULL ? NULL : t_strdup(value);
}

static void cal_add_text(icalcomponent *comp, icalproperty_kind kind,
			 const char *text)
{
	icalproperty *prop;

	if (text == NULL || *text == '\0')
		return;
	prop = icalproperty_new(kind);
	icalproperty_set_value(prop, icalvalue_new_text(text));
	icalcomponent_add_property(comp, prop);
}

static const char *cal_mailto(const char *value)
{
	if (value == NULL)
		return NULL;
	if (strncasecmp(value, "mailto:", 7) == 0)
		value += 7;
	return t_strdup(value);
}

static const char *cal_param_text(icalproperty *prop,
				  icalparameter_kind kind)
{
	icalparameter *param = icalproperty_get_first_parameter(prop, kind);

	if (param == NULL)
		return NULL;
	return t_strdup(icalparameter_get_xvalue(param) != NULL ?
			icalparameter_get_xvalue(param) :
			icalparameter_as_ical_string(param));
}

/* ---- times ---- */

struct cal_zones {
	icalcomponent *cal;
	const char *warning;
	/* the object's RRULE names its WKST (libical reads a missing one
	   as Monday and writes Monday as none) */
	bool rrule_wkst;
};

/* Does an RRULE line of the object's text have a WKST part? */
static bool cal_raw_rrule_has_wkst(const char *ical)
{
	const char *line = ical, *end;

	while (line != NULL && *line != '\0') {
		end = strchr(line, '\n');
		if (strncasecmp(line, "RRULE", 5) == 0 &&
		    (line[5] == ':' || line[5] == ';')) {
			const char *p = line;

			/* a folded line goes on after CRLF + space */
			while (end != NULL && (end[1] == ' ' || end[1] == '\t'))
				end = strchr(end + 1, '\n');
			for (; *p != '\0' && (end == NULL || p < end); p++) {
				if (strncasecmp(p, "WKST=", 5) == 0)
					return TRUE;
			}
		}
		line = end == NULL ? NULL : end + 1;
	}
	return FALSE;
}

/* A DATE-TIME/DATE property as UTC (dates: floating midnight), and its
   zone (NULL for UTC, floating and dates). An unknown TZID counts as
   UTC, with a warning. */
static bool
cal_prop_time(struct cal_zones *zones, icalproperty *prop,
	      struct icaltimetype tt, time_t *t_r, bool *is_date_r,
	      const struct as_calendar_tz **tz_r)
{
	const struct as_calendar_tz *tz = NULL;
	icalparameter *param;
	const char *tzid;
	icaltimezone *zone;

	*tz_r = NULL;
	if (icaltime_is_null_time(tt) || !icaltime_is_valid_time(tt))
		return FALSE;
	*is_date_r = tt.is_date != 0;
	if (tt.is_date || icaltime_is_utc(tt)) {
		*t_r = as_ical_wall(tt);
		return TRUE;
	}
	param = icalproperty_get_first_parameter(prop, ICAL_TZID_PARAMETER);
	tzid = param == NULL ? NULL : icalparameter_get_tzid(param);
	if (tzid == NULL) {
		/* floating: read as UTC */
		*t_r = as_ical_wall(tt);
		return TRUE;
	}
	tz = as_calendar_tz_from_name(tzid, tt.year);
	if (tz == NULL) {
		zone = icalcomponent_get_timezone(zones->cal, tzid);
		if (zone != NULL)
			tz = as_calendar_tz_from_zone(zone, tzid, tt.year);
	}
	if (tz == NULL) {
		zones->warning = t_strdup_printf(
			"unknown TZID %s: times read as UTC", tzid);
		*t_r = as_ical_wall(tt);
		return TRUE;
	}
	*t_r = as_calendar_tz_from_wall(tz, as_ical_wall(tt));
	*tz_r = tz;
	return TRUE;
}

static bool cal_get_time(struct cal_zones *zones, icalcomponent *vevent,
			 icalproperty_kind kind, time_t *t_r, bool *is_date_r,
			 const struct as_calendar_tz **tz_r)
{
	icalproperty *prop = icalcomponent_get_first_property(vevent, kind);

	if (prop == NULL)
		return FALSE;
	return cal_prop_time(zones, prop, kind == ICAL_DTEND_PROPERTY ?
			     icalproperty_get_dtend(prop) :
			     icalproperty_get_dtstart(prop),
			     t_r, is_date_r, tz_r);
}

/* ---- reading ---- */

static const char *const *cal_categories(icalcomponent *vevent)
{
	ARRAY_TYPE(const_string) cats;
	icalproperty *prop;
	const char *value;

	t_array_init(&cats, 4);
	for (prop = icalcomponent_get_first_property(vevent,
						     ICAL_CATEGORIES_PROPERTY);
	     prop != NULL;
	     prop = icalcomponent_get_next_property(vevent,
						    ICAL_CATEGORIES_PROPERTY)) {
		value = icalproperty_get_categories(prop);
		if (value != NULL && *value != '\0') {
			value = t_strdup(value);
			array_push_back(&cats, &value);
		}
	}
	array_append_zero(&cats);
	return array_front(&cats);
}

static int cal_busy_status(icalcomponent *vevent)
{
	const char *value = cal_x_get(vevent, CAL_X_BUSYSTATUS);
	icalproperty *prop;
	unsigned int i;

	if (value != NULL) {
		for (i = 0; i < N_ELEMENTS(cal_busy_names); i++) {
			if (strcasecmp(value, cal_busy_names[i]) == 0)
				return i;
		}
	}
	prop = icalcomponent_get_first_property(vevent, ICAL_STATUS_PROPERTY);
	if (prop != NULL &&
	    icalproperty_get_status(prop) == ICAL_STATUS_TENTATIVE)
		return 1;
	prop = icalcomponent_get_first_property(vevent, ICAL_TRANSP_PROPERTY);
	if (prop != NULL &&
	    icalproperty_get_transp(prop) == ICAL_TRANSP_TRANSPARENT)
		return 0;
	return 2;
}

static int cal_sensitivity(icalcomponent *vevent)
{
	icalproperty *prop;
	const char *value;

	prop = icalcomponent_get_first_property(vevent, ICAL_CLASS_PROPERTY);
	if (prop == NULL)
		return -1;
	switch (icalproperty_get_class(prop)) {
	case ICAL_CLASS_PUBLIC:
		return 0;
	case ICAL_CLASS_PRIVATE:
		return 2;
	case ICAL_CLASS_CONFIDENTIAL:
		return 3;
	default:
		value = icalproperty_get_value_as_string(prop);
		if (value != NULL && strcasecmp(value, CAL_CLASS_PERSONAL) == 0)
			return 1;
		/* RFC 5545: an unknown class is private */
		return 2;
	}
}

/* The first display alarm before the start, in minutes */
static int cal_reminder(icalcomponent *vevent)
{
	icalcomponent *valarm;
	icalproperty *prop;
	struct icaltriggertype trigger;
	int secs;

	for (valarm = icalcomponent_get_first_component(vevent,
			ICAL_VALARM_COMPONENT);
	     valarm != NULL;
	     valarm = icalcomponent_get_next_component(vevent,
			ICAL_VALARM_COMPONENT)) {
		prop = icalcomponent_get_first_property(valarm,
			ICAL_TRIGGER_PROPERTY);
		if (prop == NULL)
			continue;
		trigger = icalproperty_get_trigger(prop);
		if (!icaltime_is_null_time(trigger.time))
			continue;
		secs = icaldurationtype_as_int(trigger.duration);
		if (secs > 0)
			continue;
		return -secs / 60;
	}
	return -1;
}

static void cal_attendees(icalcomponent *vevent, struct as_event *event)
{
	struct as_event_attendee *att;
	icalproperty *prop;
	icalparameter *param;

	for (prop = icalcomponent_get_first_property(vevent,
						     ICAL_ATTENDEE_PROPERTY);
	     prop != NULL;
	     prop = icalcomponent_get_next_property(vevent,
						    ICAL_ATTENDEE_PROPERTY)) {
		att = array_append_space(&event->attendees);
		att->email = cal_mailto(icalproperty_get_attendee(prop));
		att->name = cal_param_text(prop, ICAL_CN_PARAMETER);
		att->type = 1;
		param = icalproperty_get_first_parameter(prop,
			ICAL_CUTYPE_PARAMETER);
		if (param != NULL && icalparameter_get_cutype(param) ==
		    ICAL_CUTYPE_RESOURCE)
			att->type = 3;
		else {
			param = icalproperty_get_first_parameter(prop,
				ICAL_ROLE_PARAMETER);
			if (param != NULL &&
			    (icalparameter_get_role(param) ==
			     ICAL_ROLE_OPTPARTICIPANT ||
			     icalparameter_get_role(param) ==
			     ICAL_ROLE_NONPARTICIPANT))
				att->type = 2;
		}
		att->status = -1;
		param = icalproperty_get_first_parameter(prop,
			ICAL_PARTSTAT_PARAMETER);
		if (param != NULL) {
			switch (icalparameter_get_partstat(param)) {
			case ICAL_PARTSTAT_ACCEPTED: att->status = 3; break;
			case ICAL_PARTSTAT_DECLINED: att->status = 4; break;
			case ICAL_PARTSTAT_TENTATIVE: att->status = 2; break;
			case ICAL_PARTSTAT_NEEDSACTION: att->status = 5; break;
			default: att->status = 0; break;
			}
		}
	}
}

static void cal_recur_read(struct icalrecurrencetype r, icalproperty *prop,
			   const struct as_event *event,
			   const struct as_calendar_tz *tz, bool raw_wkst,
			   struct as_event_recurrence *rec, bool *have_r)
{
	time_t wall = event->all_day || tz == NULL ? event->start :
		as_calendar_tz_to_wall(tz, event->start);
	struct tm tm = *gmtime(&wall);
	int week = 0;
	unsigned int i;
	char *value;

	*have_r = FALSE;
	for (i = 0; i < ICAL_BY_DAY_SIZE &&
	     r.by_day[i] != ICAL_RECURRENCE_ARRAY_MAX; i++) {
		int dow = icalrecurrencetype_day_day_of_week(r.by_day[i]);
		int pos = icalrecurrencetype_day_position(r.by_day[i]);

		if (dow >= ICAL_SUNDAY_WEEKDAY && dow <= ICAL_SATURDAY_WEEKDAY)
			rec->day_of_week |= 1U << (dow - ICAL_SUNDAY_WEEKDAY);
		if (pos != 0)
			week = pos;
	}
	if (r.by_set_pos[0] != ICAL_RECURRENCE_ARRAY_MAX)
		week = r.by_set_pos[0];
	if (week == -1)
		week = 5;
	switch (r.freq) {
	case ICAL_DAILY_RECURRENCE:
		rec->type = 0;
		break;
	case ICAL_WEEKLY_RECURRENCE:
		rec->type = 1;
		if (rec->day_of_week == 0)
			rec->day_of_week = 1U << tm.tm_wday;
		break;
	case ICAL_MONTHLY_RECURRENCE:
		rec->type = rec->day_of_week != 0 ? 3 : 2;
		break;
	case ICAL_YEARLY_RECURRENCE:
		rec->type = rec->day_of_week != 0 ? 6 : 5;
		rec->month_of_year =
			r.by_month[0] != ICAL_RECURRENCE_ARRAY_MAX ?
			(unsigned int)r.by_month[0] :
			(unsigned int)tm.tm_mon + 1;
		break;
	default:
		/* hourly and finer: EAS can't say it */
		return;
	}
	if (rec->type == 2 || rec->type == 5) {
		rec->day_of_month =
			r.by_month_day[0] != ICAL_RECURRENCE_ARRAY_MAX &&
			r.by_month_day[0] > 0 ?
			(unsigned int)r.by_month_day[0] :
			(unsigned int)tm.tm_mday;
	}
	if (rec->type == 3 || rec->type == 6) {
		if (week < 1 || week > 5)
			return;
		rec->week_of_month = week;
	}
	rec->interval = r.interval > 0 ? r.interval : 1;
	rec->occurrences = r.count > 0 ? r.count : 0;
	if (!icaltime_is_null_time(r.until)) {
		rec->have_until = TRUE;
		if (icaltime_is_utc(r.until) || r.until.is_date ||
		    tz == NULL)
			rec->until = as_ical_wall(r.until);
		else
			rec->until = as_calendar_tz_from_wall(tz,
				as_ical_wall(r.until));
		/* an all-day series' UNTIL is a date; a timed one's is read
		   as the end of that day if it came as a date */
		if (r.until.is_date && !event->all_day)
			rec->until += 86400 - 1;
	}
	/* libical fills in Monday when there is no WKST (and writes an
	   explicit Monday as none): the object's text says which */
	value = icalproperty_get_value_as_string_r(prop);
	if (r.week_start >= ICAL_SUNDAY_WEEKDAY &&
	    r.week_start <= ICAL_SATURDAY_WEEKDAY &&
	    (raw_wkst || (value != NULL && strstr(value, "WKST") != NULL)))
		rec->first_day_of_week = r.week_start - ICAL_SUNDAY_WEEKDAY;
	free(value);
	*have_r = TRUE;
}

/* Calls func with each occurrence start of the vevent's RRULE (UTC, or
   a floating date for DATE events), in order, until func returns FALSE.
   Returns 1 if the series ended or func stopped it, 0 if
   AS_CALENDAR_MAX_EXPAND occurrences were looked at, -1 if the vevent
   has no series that can be expanded. */
static int
cal_series_foreach(struct cal_zones *zones, icalcomponent *vevent,
		   bool (*func)(time_t occ, void *context), void *context)
{
	icalproperty *rprop, *sprop;
	struct icalrecurrencetype r;
	struct icaltimetype dtstart, next;
	const struct as_calendar_tz *tz;
	icalrecur_iterator *iter;
	unsigned int n;
	time_t start, occ;
	bool is_date;

	rprop = icalcomponent_get_first_property(vevent, ICAL_RRULE_PROPERTY);
	sprop = icalcomponent_get_first_property(vevent,
						 ICAL_DTSTART_PROPERTY);
	if (rprop == NULL || sprop == NULL)
		return -1;
	dtstart = icalproperty_get_dtstart(sprop);
	if (!cal_prop_time(zones, sprop, dtstart, &start, &is_date, &tz))
		return -1;
	r = icalproperty_get_rrule(rprop);
	if (r.freq == ICAL_NO_RECURRENCE)
		return -1;
	/* the iterator works on the wall clock */
	dtstart.zone = NULL;
	iter = icalrecur_iterator_new(r, dtstart);
	if (iter == NULL)
		return -1;
	for (n = 0; n < AS_CALENDAR_MAX_EXPAND; n++) {
		next = icalrecur_iterator_next(iter);
		if (icaltime_is_null_time(next))
			break;
		occ = as_ical_wall(next);
		if (!is_date && tz != NULL)
			occ = as_calendar_tz_from_wall(tz, occ);
		if (!func(occ, context))
			break;
	}
	icalrecur_iterator_free(iter);
	return n < AS_CALENDAR_MAX_EXPAND ? 1 : 0;
}

struct cal_find_occurrence {
	time_t t;
	bool found;
};

static bool cal_find_occurrence(time_t occ, void *context)
{
	struct cal_find_occurrence *ctx = context;

	if (occ == ctx->t)
		ctx->found = TRUE;
	return occ < ctx->t;
}

/* Is t (UTC, or a floating date) one of the series' occurrences?
   Looks at no more than AS_CALENDAR_MAX_EXPAND of them. */
static bool cal_is_occurrence(icalcomponent *vevent, struct cal_zones *zones,
			      time_t t)
{
	struct cal_find_occurrence ctx = { .t = t };

	(void)cal_series_foreach(zones, vevent, cal_find_occurrence, &ctx);
	return ctx.found;
}

static bool cal_str_differs(const char *a, const char *b)
{
	return null_strcmp(a, b) != 0;
}

static void cal_override_read(struct cal_zones *zones, icalcomponent *vevent,
			      icalproperty *rid_prop,
			      const struct as_event *master,
			      struct as_event_exception *exc_r)
{
	const struct as_calendar_tz *tz;
	const char *text;
	time_t start, end;
	bool is_date, end_is_date;
	int value;

	as_event_exception_init(exc_r);
	(void)cal_prop_time(zones, rid_prop,
			    icalproperty_get_recurrenceid(rid_prop),
			    &exc_r->start_orig, &is_date, &tz);
	if ((text = cal_text(vevent, ICAL_SUMMARY_PROPERTY)) != NULL &&
	    cal_str_differs(text, master->subject))
		exc_r->subject = text;
	if ((text = cal_text(vevent, ICAL_LOCATION_PROPERTY)) != NULL &&
	    cal_str_differs(text, master->location))
		exc_r->location = text;
	if ((text = cal_text(vevent, ICAL_DESCRIPTION_PROPERTY)) != NULL &&
	    cal_str_differs(text, master->body))
		exc_r->body = text;
	if (cal_get_time(zones, vevent, ICAL_DTSTART_PROPERTY, &start,
			 &is_date, &tz)) {
		if (start != exc_r->start_orig) {
			exc_r->have_start = TRUE;
			exc_r->start = start;
		}
		if (is_date != master->all_day)
			exc_r->all_day = is_date ? 1 : 0;
		if (cal_get_time(zones, vevent, ICAL_DTEND_PROPERTY, &end,
				 &end_is_date, &tz) &&
		    end - start != master->end - master->start) {
			exc_r->have_end = TRUE;
			exc_r->end = end;
			/* EAS wants both when one moves */
			exc_r->have_start = TRUE;
			exc_r->start = start;
		} else if (exc_r->have_start) {
			exc_r->have_end = TRUE;
			exc_r->end = start + (master->end - master->start);
		}
	}
	value = cal_busy_status(vevent);
	if (value != master->busy_status)
		exc_r->busy_status = value;
	value = cal_sensitivity(vevent);
	if (value >= 0 && value != master->sensitivity)
		exc_r->sensitivity = value;
	value = cal_reminder(vevent);
	if (value >= 0 && value != master->reminder)
		exc_r->reminder = value;
}

/* Online meeting links, as the clients that make them write them: the
   SIP conference of Outlook (Lync/Skype), and a join URL from Outlook's
   X- property, Teams', RFC 7986 CONFERENCE or Google's. Read only: a
   device never sends them, and an edit keeps the properties. */
static const char *const cal_external_link_props[] = {
	"X-MICROSOFT-ONLINEMEETINGEXTERNALLINK",
	"X-MICROSOFT-SKYPETEAMSMEETINGURL",
	NULL,	/* CONFERENCE */
	"X-GOOGLE-CONFERENCE",
};

static void cal_online_meeting_read(icalcomponent *vevent,
				    struct as_event *event)
{
	const char *value;
	icalproperty *prop;
	unsigned int i;

	value = cal_x_get(vevent, CAL_X_ONLINE_CONF_LINK);
	if (value != NULL && *value != '\0')
		event->online_conf_link = t_strdup(value);
	for (i = 0; i < N_ELEMENTS(cal_external_link_props); i++) {
		if (cal_external_link_props[i] != NULL)
			value = cal_x_get(vevent, cal_external_link_props[i]);
		else {
			prop = icalcomponent_get_first_property(vevent,
				ICAL_CONFERENCE_PROPERTY);
			value = prop == NULL ? NULL :
				icalproperty_get_conference(prop);
		}
		if (value != NULL && *value != '\0') {
			event->online_external_link = t_strdup(value);
			break;
		}
	}
}

static void cal_event_read(struct cal_zones *zones, icalcomponent *vevent,
			   struct as_event *event)
{
	const struct as_calendar_tz *tz = NULL, *end_tz;
	icalproperty *prop;
	struct icalrecurrencetype r;
	const char *tzname;
	bool is_date, end_is_date;
	int value;

	event->uid = cal_text(vevent, ICAL_UID_PROPERTY);
	event->subject = cal_text(vevent, ICAL_SUMMARY_PROPERTY);
	event->location = cal_text(vevent, ICAL_LOCATION_PROPERTY);
	event->body = cal_text(vevent, ICAL_DESCRIPTION_PROPERTY);
	if (cal_get_time(zones, vevent, ICAL_DTSTART_PROPERTY, &event->start,
			 &is_date, &tz)) {
		event->have_start = TRUE;
		event->all_day = is_date;
	}
	if (cal_get_time(zones, vevent, ICAL_DTEND_PROPERTY, &event->end,
			 &end_is_date, &end_tz)) {
		event->have_end = TRUE;
	} else if ((prop = icalcomponent_get_first_property(vevent,
			ICAL_DURATION_PROPERTY)) != NULL && event->have_start) {
		event->have_end = TRUE;
		event->end = event->start + icaldurationtype_as_int(
			icalproperty_get_duration(prop));
	} else if (event->have_start) {
		/* RFC 5545 3.6.1: a day, or no time at all */
		event->have_end = TRUE;
		event->end = event->start + (event->all_day ? 86400 : 0);
	}
	if (event->all_day) {
		tzname = cal_x_get(vevent, CAL_X_TZID);
		if (tzname != NULL)
			tz = as_calendar_tz_from_name(tzname,
				as_calendar_year(event->start));
		if (event->end <= event->start)
			event->end = event->start + 86400;
	}
	event->tz = tz;
	if ((prop = icalcomponent_get_first_property(vevent,
			ICAL_DTSTAMP_PROPERTY)) != NULL) {
		event->have_dtstamp = TRUE;
		event->dtstamp = icaltime_as_timet_with_zone(
			icalproperty_get_dtstamp(prop),
			icaltimezone_get_utc_timezone());
	}
	event->busy_status = cal_busy_status(vevent);
	event->sensitivity = cal_sensitivity(vevent);
	event->reminder = cal_reminder(vevent);
	event->categories = cal_categories(vevent);
	if ((prop = icalcomponent_get_first_property(vevent,
			ICAL_ORGANIZER_PROPERTY)) != NULL) {
		event->organizer_email =
			cal_mailto(icalproperty_get_organizer(prop));
		event->organizer_name = cal_param_text(prop,
						       ICAL_CN_PARAMETER);
	}
	cal_attendees(vevent, event);
	value = cal_x_int(vevent, CAL_X_MEETINGSTATUS);
	if (value < 0) {
		/* not written here: a meeting if it has attendees */
		value = array_count(&event->attendees) > 0 ? 1 : 0;
		prop = icalcomponent_get_first_property(vevent,
			ICAL_STATUS_PROPERTY);
		if (prop != NULL && icalproperty_get_status(prop) ==
		    ICAL_STATUS_CANCELLED)
			value = 5;
	}
	event->meeting_status = value;
	event->response_requested = cal_x_int(vevent,
					      CAL_X_RESPONSE_REQUESTED);
	event->response_type = cal_x_int(vevent, CAL_X_RESPONSETYPE);
	if (cal_x_get(vevent, CAL_X_DISALLOW_COUNTER) != NULL)
		event->disallow_new_time = strcasecmp(cal_x_get(vevent,
			CAL_X_DISALLOW_COUNTER), "TRUE") == 0 ? 1 : 0;

	cal_online_meeting_read(vevent, event);

	prop = icalcomponent_get_first_property(vevent, ICAL_RRULE_PROPERTY);
	if (prop != NULL && event->have_start) {
		r = icalproperty_get_rrule(prop);
		if (r.freq == ICAL_NO_RECURRENCE) {
			zones->warning = "RRULE doesn't parse: the event is "
				"read without recurrence";
		} else {
			cal_recur_read(r, prop, event, tz, zones->rrule_wkst,
				       &event->recur,
				       &event->have_recurrence);
			if (!event->have_recurrence) {
				zones->warning = "RRULE has no EAS form: the "
					"event is read without recurrence";
			}
		}
		event->recur.calendar_type =
			cal_x_int(vevent, CAL_X_CALENDARTYPE);
		event->recur.is_leap_month =
			cal_x_int(vevent, CAL_X_ISLEAPMONTH);
	}
}

static void cal_exdates_read(struct cal_zones *zones, icalcomponent *vevent,
			     struct as_event *event)
{
	struct as_event_exception *exc;
	const struct as_calendar_tz *tz;
	icalproperty *prop;
	time_t t;
	bool is_date;

	for (prop = icalcomponent_get_first_property(vevent,
						     ICAL_EXDATE_PROPERTY);
	     prop != NULL;
	     prop = icalcomponent_get_next_property(vevent,
						    ICAL_EXDATE_PROPERTY)) {
		if (!cal_prop_time(zones, prop, icalproperty_get_exdate(prop),
				   &t, &is_date, &tz))
			continue;
		exc = array_append_space(&event->exceptions);
		as_event_exception_init(exc);
		exc->start_orig = t;
		exc->deleted = TRUE;
	}
}

/* The VCALENDAR of ical (a bare VEVENT is wrapped) and its master
   VEVENT: the first without RECURRENCE-ID. NULL with error_r if none. */
static icalcomponent *
cal_parse(const char *ical, icalcomponent **master_r, const char **error_r)
{
	icalcomponent *cal, *vevent;

	cal = as_ical_parse(ical, ICAL_VEVENT_COMPONENT, error_r);
	if (cal == NULL)
		return NULL;
	*master_r = NULL;
	for (vevent = icalcomponent_get_first_component(cal,
			ICAL_VEVENT_COMPONENT);
	     vevent != NULL;
	     vevent = icalcomponent_get_next_component(cal,
			ICAL_VEVENT_COMPONENT)) {
		if (icalcomponent_get_first_property(vevent,
				ICAL_RECURRENCEID_PROPERTY) == NULL) {
			*master_r = vevent;
			break;
		}
	}
	if (*master_r == NULL) {
		icalcomponent_free(cal);
		*error_r = "no VEVENT (without RECURRENCE-ID) in the "
			"iCalendar object";
		return NULL;
	}
	return cal;
}

int as_calendar_ical_read(const char *ical, struct as_event *event_r,
			  const char **warning_r, const char **error_r)
{
	struct cal_zones zones;
	struct as_event_exception *exc;
	icalcomponent *cal, *master, *vevent;
	icalproperty *rid;

	*warning_r = NULL;
	as_event_init(event_r);
	cal = cal_parse(ical, &master, error_r);
	if (cal == NULL)
		return -1;
	i_zero(&zones);
	zones.cal = cal;
	zones.rrule_wkst = cal_raw_rrule_has_wkst(ical);
	cal_event_read(&zones, master, event_r);
	if (!event_r->have_start) {
		icalcomponent_free(cal);
		*error_r = "VEVENT without a valid DTSTART";
		return -1;
	}
	if (event_r->have_recurrence) {
		cal_exdates_read(&zones, master, event_r);
		for (vevent = icalcomponent_get_first_component(cal,
				ICAL_VEVENT_COMPONENT);
		     vevent != NULL;
		     vevent = icalcomponent_get_next_component(cal,
				ICAL_VEVENT_COMPONENT)) {
			rid = icalcomponent_get_first_property(vevent,
				ICAL_RECURRENCEID_PROPERTY);
			if (rid == NULL || null_strcmp(cal_text(vevent,
					ICAL_UID_PROPERTY), event_r->uid) != 0)
				continue;
			exc = array_append_space(&event_r->exceptions);
			cal_override_read(&zones, vevent, rid, event_r, exc);
			if (!cal_is_occurrence(master, &zones,
					       exc->start_orig)) {
				zones.warning = "RECURRENCE-ID of no "
					"occurrence: override left out";
				array_pop_back(&event_r->exceptions);
			}
		}
	}
	*warning_r = zones.warning;
	icalcomponent_free(cal);
	return 0;
}

/* ---- writing ---- */

/* A time as the event's DTSTART says it: a DATE, UTC or the zone's
   wall clock with TZID */
static icalproperty *cal_new_time_prop(icalproperty_kind kind, time_t t,
				       bool all_day,
				       const struct as_calendar_tz *tz)
{
	icalproperty *prop = icalproperty_new(kind);
	struct icaltimetype tt;

	if (all_day)
		tt = cal_floating(t, TRUE);
	else if (tz == NULL || tz == as_calendar_tz_utc())
		tt = as_ical_utc(t);
	else
		tt = cal_floating(as_calendar_tz_to_wall(tz, t), FALSE);
	icalproperty_set_value(prop, all_day ? icalvalue_new_date(tt) :
			       icalvalue_new_datetime(tt));
	if (!all_day && tz != NULL && tz != as_calendar_tz_utc()) {
		icalproperty_add_parameter(prop,
			icalparameter_new_tzid(tz->name));
	}
	return prop;
}

static short cal_encode_day(unsigned int dow, int pos)
{
	/* libical's BYDAY encoding: weekday + 8 * position, signed */
	short day = (short)(dow + 8 * (pos < 0 ? -pos : pos));

	return pos < 0 ? -day : day;
}

static void cal_recur_write(icalcomponent *vevent, const struct as_event *event)
{
	const struct as_event_recurrence *rec = &event->recur;
	struct icalrecurrencetype r;
	unsigned int i, n = 0, days = 0;
	int week;

	icalrecurrencetype_clear(&r);
	switch (rec->type) {
	case 0: r.freq = ICAL_DAILY_RECURRENCE; break;
	case 1: r.freq = ICAL_WEEKLY_RECURRENCE; break;
	case 2: case 3: r.freq = ICAL_MONTHLY_RECURRENCE; break;
	case 5: case 6: r.freq = ICAL_YEARLY_RECURRENCE; break;
	default: i_unreached();
	}
	r.interval = rec->interval > 0 ? rec->interval : 1;
	if (rec->occurrences > 0)
		r.count = rec->occurrences;
	else if (rec->have_until) {
		/* RFC 5545: UNTIL is a date for an all-day series */
		r.until = event->all_day ? cal_floating(rec->until, TRUE) :
			as_ical_utc(rec->until);
	}
	for (i = 0; i < 7; i++) {
		if ((rec->day_of_week & (1U << i)) != 0)
			days++;
	}
	week = rec->week_of_month == 5 ? -1 : (int)rec->week_of_month;
	for (i = 0; i < 7; i++) {
		if ((rec->day_of_week & (1U << i)) == 0)
			continue;
		r.by_day[n++] = cal_encode_day(ICAL_SUNDAY_WEEKDAY + i,
			(rec->type == 3 || rec->type == 6) && days == 1 ?
			week : 0);
	}
	if ((rec->type == 3 || rec->type == 6) && days > 1 && week != 0)
		r.by_set_pos[0] = week;
	if ((rec->type == 2 || rec->type == 5) && rec->day_of_month > 0)
		r.by_month_day[0] = rec->day_of_month;
	if ((rec->type == 5 || rec->type == 6) && rec->month_of_year > 0)
		r.by_month[0] = rec->month_of_year;
	if (rec->first_day_of_week >= 0)
		r.week_start = ICAL_SUNDAY_WEEKDAY + rec->first_day_of_week;
	icalcomponent_add_property(vevent, icalproperty_new_rrule(r));
	cal_x_set_int(vevent, CAL_X_CALENDARTYPE, rec->calendar_type);
	cal_x_set_int(vevent, CAL_X_ISLEAPMONTH, rec->is_leap_month);
}

static void cal_busy_write(icalcomponent *vevent, int busy_status)
{
	if (busy_status < 0 || busy_status >= (int)N_ELEMENTS(cal_busy_names))
		return;
	icalcomponent_add_property(vevent, icalproperty_new_transp(
		busy_status == 0 ? ICAL_TRANSP_TRANSPARENT :
		ICAL_TRANSP_OPAQUE));
	cal_x_set(vevent, CAL_X_BUSYSTATUS, cal_busy_names[busy_status]);
}

static void cal_class_write(icalcomponent *vevent, int sensitivity)
{
	icalproperty *prop;

	switch (sensitivity) {
	case 0:
		prop = icalproperty_new_class(ICAL_CLASS_PUBLIC);
		break;
	case 1:
		prop = icalproperty_new_class(ICAL_CLASS_X);
		icalproperty_set_value(prop, icalvalue_new_class(ICAL_CLASS_X));
		icalvalue_set_x(icalproperty_get_value(prop),
				CAL_CLASS_PERSONAL);
		break;
	case 2:
		prop = icalproperty_new_class(ICAL_CLASS_PRIVATE);
		break;
	case 3:
		prop = icalproperty_new_class(ICAL_CLASS_CONFIDENTIAL);
		break;
	default:
		return;
	}
	icalcomponent_add_property(vevent, prop);
}

static void cal_reminder_write(icalcomponent *vevent, int minutes,
			       const char *summary)
{
	icalcomponent *valarm;
	struct icaltriggertype trigger;

	if (minutes < 0)
		return;
	i_zero(&trigger);
	trigger.time = icaltime_null_time();
	trigger.duration = icaldurationtype_from_int(-minutes * 60);
	valarm = icalcomponent_new_valarm();
	icalcomponent_add_property(valarm,
		icalproperty_new_action(ICAL_ACTION_DISPLAY));
	icalcomponent_add_property(valarm, icalproperty_new_trigger(trigger));
	icalcomponent_add_property(valarm, icalproperty_new_description(
		summary != NULL && *summary != '\0' ? summary : "Reminder"));
	icalcomponent_add_component(vevent, valarm);
}

static void cal_remove_alarms(icalcomponent *vevent)
{
	icalcomponent *valarm;

	while ((valarm = icalcomponent_get_first_component(vevent,
			ICAL_VALARM_COMPONENT)) != NULL) {
		icalcomponent_remove_component(vevent, valarm);
		icalcomponent_free(valarm);
	}
}

static void cal_people_write(icalcomponent *vevent,
			     const struct as_event *event)
{
	const struct as_event_attendee *att;
	icalproperty *prop;
	icalparameter_partstat partstat;

	if (event->organizer_email != NULL) {
		prop = icalproperty_new_organizer(t_strconcat(
			"mailto:", event->organizer_email, NULL));
		if (event->organizer_name != NULL &&
		    *event->organizer_name != '\0')
			icalproperty_add_parameter(prop,
				icalparameter_new_cn(event->organizer_name));
		icalcomponent_add_property(vevent, prop);
	}
	array_foreach(&event->attendees, att) {
		if (att->email == NULL)
			continue;
		prop = icalproperty_new_attendee(t_strconcat(
			"mailto:", att->email, NULL));
		if (att->name != NULL && *att->name != '\0')
			icalproperty_add_parameter(prop,
				icalparameter_new_cn(att->name));
		if (att->type == 3) {
			icalproperty_add_parameter(prop,
				icalparameter_new_cutype(ICAL_CUTYPE_RESOURCE));
		}
		icalproperty_add_parameter(prop, icalparameter_new_role(
			att->type == 2 ? ICAL_ROLE_OPTPARTICIPANT :
			att->type == 3 ? ICAL_ROLE_NONPARTICIPANT :
			ICAL_ROLE_REQPARTICIPANT));
		switch (att->status) {
		case 2: partstat = ICAL_PARTSTAT_TENTATIVE; break;
		case 3: partstat = ICAL_PARTSTAT_ACCEPTED; break;
		case 4: partstat = ICAL_PARTSTAT_DECLINED; break;
		case 5: partstat = ICAL_PARTSTAT_NEEDSACTION; break;
		default: partstat = ICAL_PARTSTAT_NONE; break;
		}
		if (partstat != ICAL_PARTSTAT_NONE)
			icalproperty_add_parameter(prop,
				icalparameter_new_partstat(partstat));
		icalcomponent_add_property(vevent, prop);
	}
}

static void cal_categories_write(icalcomponent *vevent,
				 const char *const *cats)
{
	for (; *cats != NULL; cats++)
		icalcomponent_add_property(vevent,
			icalproperty_new_categories(*cats));
}

/* An occurrence's own VEVENT: everything the series says, with what the
   exception changes */
static icalcomponent *
cal_override_write(const struct as_event *event,
		   const struct as_event_exception *exc, const char *uid)
{
	icalcomponent *vevent = icalcomponent_new_vevent();
	bool all_day = exc->all_day >= 0 ? exc->all_day == 1 : event->all_day;
	time_t start, end;

	icalcomponent_add_property(vevent, icalproperty_new_uid(uid));
	icalcomponent_add_property(vevent,
		icalproperty_new_dtstamp(as_ical_utc(ioloop_time)));
	icalcomponent_add_property(vevent, cal_new_time_prop(
		ICAL_RECURRENCEID_PROPERTY, exc->start_orig, event->all_day,
		event->tz));
	start = exc->have_start ? exc->start : exc->start_orig;
	end = exc->have_end ? exc->end :
		start + (event->end - event->start);
	icalcomponent_add_property(vevent, cal_new_time_prop(
		ICAL_DTSTART_PROPERTY, start, all_day, event->tz));
	icalcomponent_add_property(vevent, cal_new_time_prop(
		ICAL_DTEND_PROPERTY, end, all_day, event->tz));
	cal_add_text(vevent, ICAL_SUMMARY_PROPERTY, exc->subject != NULL ?
		     exc->subject : event->subject);
	cal_add_text(vevent, ICAL_LOCATION_PROPERTY, exc->location != NULL ?
		     exc->location : event->location);
	cal_add_text(vevent, ICAL_DESCRIPTION_PROPERTY, exc->body != NULL ?
		     exc->body : event->body);
	cal_busy_write(vevent, exc->busy_status >= 0 ? exc->busy_status :
		       event->busy_status);
	cal_class_write(vevent, exc->sensitivity >= 0 ? exc->sensitivity :
			event->sensitivity);
	cal_categories_write(vevent, event->categories);
	cal_people_write(vevent, event);
	cal_reminder_write(vevent, exc->reminder >= 0 ? exc->reminder :
			   event->reminder, exc->subject != NULL ?
			   exc->subject : event->subject);
	return vevent;
}

static bool cal_kind_is_own(icalproperty *prop)
{
	icalproperty_kind kind = icalproperty_isa(prop);
	const char *xname;
	unsigned int i;

	for (i = 0; i < N_ELEMENTS(cal_own_kinds); i++) {
		if (cal_own_kinds[i] == kind)
			return TRUE;
	}
	if (kind != ICAL_X_PROPERTY)
		return FALSE;
	xname = icalproperty_get_x_name(prop);
	for (i = 0; i < N_ELEMENTS(cal_own_x); i++) {
		if (xname != NULL && strcasecmp(xname, cal_own_x[i]) == 0)
			return TRUE;
	}
	return FALSE;
}

/* What the base's master VEVENT has that the event doesn't say: kept */
static void cal_keep_base(icalcomponent *base_master, icalcomponent *vevent,
			  int *sequence_r, const char **created_r)
{
	icalproperty *prop;

	/* no SEQUENCE is 0: an edit makes it 1 */
	*sequence_r = 1;
	*created_r = NULL;
	for (prop = icalcomponent_get_first_property(base_master,
						     ICAL_ANY_PROPERTY);
	     prop != NULL;
	     prop = icalcomponent_get_next_property(base_master,
						    ICAL_ANY_PROPERTY)) {
		if (icalproperty_isa(prop) == ICAL_SEQUENCE_PROPERTY)
			*sequence_r = icalproperty_get_sequence(prop) + 1;
		else if (icalproperty_isa(prop) == ICAL_CREATED_PROPERTY)
			*created_r = t_strdup(
				icalproperty_get_value_as_string(prop));
		if (!cal_kind_is_own(prop))
			icalcomponent_add_property(vevent,
						   icalproperty_new_clone(prop));
	}
}

/* libical never writes WKST=MO (Monday is RFC 5545's default), but a
   device that said Monday wants it back: added to the RRULE's logical
   line (unfolded: before the CRLF not followed by white space) */
static const char *cal_rrule_add_wkst_mo(const char *ical)
{
	const char *rrule = strstr(ical, "\r\nRRULE:"), *end;

	if (rrule == NULL || strstr(rrule, "WKST=") != NULL)
		return t_strdup(ical);
	end = rrule + 2;
	while ((end = strstr(end, "\r\n")) != NULL &&
	       (end[2] == ' ' || end[2] == '\t'))
		end += 2;
	if (end == NULL)
		return t_strdup(ical);
	return t_strconcat(t_strdup_until(ical, end), ";WKST=MO", end, NULL);
}

static const char *cal_new_uid(void)
{
	guid_128_t guid;

	guid_128_generate(guid);
	return t_strdup(guid_128_to_uuid_string(guid, FORMAT_RECORD));
}

static bool cal_exception_valid(icalcomponent *vevent, icalcomponent *cal,
				const struct as_event_exception *exc)
{
	struct cal_zones zones;

	i_zero(&zones);
	zones.cal = cal;
	return cal_is_occurrence(vevent, &zones, exc->start_orig);
}

int as_calendar_ical_write(const char *base, const struct as_event *event,
			   const char **ical_r, const char **warning_r,
			   const char **error_r)
{
	icalcomponent *cal, *vevent, *base_cal = NULL, *base_master = NULL;
	icalcomponent *vtz;
	const struct as_event_exception *exc;
	const char *uid = event->uid, *created = NULL, *error;
	bool tz_timed;
	char *str;
	int sequence = 0;

	*warning_r = NULL;
	if (!event->have_start) {
		*error_r = "event without StartTime";
		return -1;
	}
	if (base != NULL) {
		base_cal = cal_parse(base, &base_master, &error);
		if (base_cal != NULL && uid == NULL)
			uid = cal_text(base_master, ICAL_UID_PROPERTY);
	}
	if (uid == NULL || *uid == '\0')
		uid = cal_new_uid();

	cal = icalcomponent_new_vcalendar();
	icalcomponent_add_property(cal, icalproperty_new_version("2.0"));
	icalcomponent_add_property(cal, icalproperty_new_prodid(CAL_PRODID));
	tz_timed = !event->all_day && event->tz != NULL &&
		event->tz != as_calendar_tz_utc();
	if (tz_timed) {
		vtz = icalparser_parse_string(as_calendar_tz_vtimezone(
			event->tz, as_calendar_year(event->start)));
		i_assert(vtz != NULL);
		icalcomponent_add_component(cal, vtz);
	}
	vevent = icalcomponent_new_vevent();
	icalcomponent_add_component(cal, vevent);

	icalcomponent_add_property(vevent, icalproperty_new_uid(uid));
	icalcomponent_add_property(vevent,
		icalproperty_new_dtstamp(as_ical_utc(ioloop_time)));
	if (base_master != NULL) {
		cal_keep_base(base_master, vevent, &sequence, &created);
		icalcomponent_add_property(vevent,
			icalproperty_new_sequence(sequence));
		icalcomponent_add_property(vevent,
			icalproperty_new_lastmodified(as_ical_utc(ioloop_time)));
	}
	if (created != NULL) {
		icalcomponent_add_property(vevent, icalproperty_new_created(
			icaltime_from_string(created)));
	} else {
		icalcomponent_add_property(vevent,
			icalproperty_new_created(as_ical_utc(ioloop_time)));
	}
	cal_add_text(vevent, ICAL_SUMMARY_PROPERTY, event->subject);
	cal_add_text(vevent, ICAL_LOCATION_PROPERTY, event->location);
	cal_add_text(vevent, ICAL_DESCRIPTION_PROPERTY, event->body);
	icalcomponent_add_property(vevent, cal_new_time_prop(
		ICAL_DTSTART_PROPERTY, event->start, event->all_day,
		event->tz));
	if (event->have_end) {
		time_t end = event->end;

		if (event->all_day && end <= event->start)
			end = event->start + 86400;
		icalcomponent_add_property(vevent, cal_new_time_prop(
			ICAL_DTEND_PROPERTY, end, event->all_day, event->tz));
	}
	if (event->all_day && event->tz != NULL &&
	    event->tz != as_calendar_tz_utc())
		cal_x_set(vevent, CAL_X_TZID, event->tz->name);
	cal_busy_write(vevent, event->busy_status);
	cal_class_write(vevent, event->sensitivity);
	cal_categories_write(vevent, event->categories);
	cal_people_write(vevent, event);
	cal_x_set_int(vevent, CAL_X_MEETINGSTATUS, event->meeting_status);
	cal_x_set_int(vevent, CAL_X_RESPONSE_REQUESTED,
		      event->response_requested);
	cal_x_set_int(vevent, CAL_X_RESPONSETYPE, event->response_type);
	if (event->disallow_new_time >= 0) {
		cal_x_set(vevent, CAL_X_DISALLOW_COUNTER,
			  event->disallow_new_time == 1 ? "TRUE" : "FALSE");
	}
	if (event->meeting_status == 5 || event->meeting_status == 7 ||
	    event->meeting_status == 13 || event->meeting_status == 15) {
		icalcomponent_add_property(vevent,
			icalproperty_new_status(ICAL_STATUS_CANCELLED));
	}
	cal_remove_alarms(vevent);
	cal_reminder_write(vevent, event->reminder, event->subject);

	if (event->have_recurrence) {
		cal_recur_write(vevent, event);
		array_foreach(&event->exceptions, exc) {
			if (!cal_exception_valid(vevent, cal, exc)) {
				*warning_r = t_strdup_printf(
					"exception for %s is no occurrence "
					"of the series: left out",
					t_strcut(icaltime_as_ical_string(
						as_ical_utc(exc->start_orig)),
						'\0'));
				continue;
			}
			if (exc->deleted) {
				icalcomponent_add_property(vevent,
					cal_new_time_prop(ICAL_EXDATE_PROPERTY,
						exc->start_orig,
						event->all_day, event->tz));
			} else {
				icalcomponent_add_component(cal,
					cal_override_write(event, exc, uid));
			}
		}
	} else if (array_count(&event->exceptions) > 0) {
		*warning_r = "exceptions of an event without recurrence: "
			"left out";
	}

	str = icalcomponent_as_ical_string_r(cal);
	*ical_r = event->have_recurrence &&
		event->recur.first_day_of_week == 1 ?
		cal_rrule_add_wkst_mo(str) : t_strdup(str);
	free(str);
	icalcomponent_free(cal);
	if (base_cal != NULL)
		icalcomponent_free(base_cal);
	return 0;
}

/* ---- the date filter ---- */

struct cal_reaches {
	time_t since, duration;
	bool found;
};

static bool cal_reaches_since(time_t occ, void *context)
{
	struct cal_reaches *ctx = context;

	if (occ + ctx->duration >= ctx->since) {
		ctx->found = TRUE;
		return FALSE;
	}
	return TRUE;
}

bool as_calendar_ical_in_range(const char *ical, time_t since)
{
	struct as_event event;
	const struct as_event_exception *exc;
	const char *warning, *error;
	icalcomponent *cal, *master;
	struct cal_zones zones;
	icalproperty *rprop;
	struct icalrecurrencetype r;
	struct cal_reaches ctx;

	if (as_calendar_ical_read(ical, &event, &warning, &error) < 0) {
		/* shown rather than lost: the device sees it as it is */
		return TRUE;
	}
	if (event.end >= since || event.start >= since)
		return TRUE;
	array_foreach(&event.exceptions, exc) {
		if (!exc->deleted && exc->have_end && exc->end >= since)
			return TRUE;
	}

	/* the RRULE as it is (also one EAS can't say): its occurrences up
	   to since, at most so many */
	cal = cal_parse(ical, &master, &error);
	if (cal == NULL)
		return TRUE;
	i_zero(&zones);
	zones.cal = cal;
	i_zero(&ctx);
	ctx.since = since;
	ctx.duration = event.end - event.start;
	rprop = icalcomponent_get_first_property(master, ICAL_RRULE_PROPERTY);
	if (rprop != NULL) {
		r = icalproperty_get_rrule(rprop);
		if (r.freq != ICAL_NO_RECURRENCE && r.count == 0 &&
		    icaltime_is_null_time(r.until)) {
			/* endless */
			ctx.found = TRUE;
		} else if (cal_series_foreach(&zones, master, cal_reaches_since,
					      &ctx) == 0) {
			/* expanding stopped before since: kept rather
			   than lost */
			ctx.found = TRUE;
		}
	}
	icalcomponent_free(cal);
	return ctx.found;
}

/* ---- occurrences (free/busy) ---- */

struct cal_occurrences {
	const struct as_event *event;
	time_t from, to, duration;
	as_calendar_occurrence_func_t *func;
	void *context;
	bool stopped;
};

/* UTC of an event time: all-day dates are midnights of the device's
   zone where the event says which, else of UTC */
static time_t cal_occ_utc(const struct as_event *event, bool all_day,
			  time_t t)
{
	if (all_day && event->tz != NULL)
		return as_calendar_tz_from_wall(event->tz, t);
	return t;
}

static bool cal_occ_emit(struct cal_occurrences *ctx, time_t start,
			 time_t end, bool all_day, int busy_status)
{
	struct as_calendar_occurrence occ;

	i_zero(&occ);
	occ.start = cal_occ_utc(ctx->event, all_day, start);
	occ.end = cal_occ_utc(ctx->event, all_day, end);
	occ.all_day = all_day;
	occ.busy_status = busy_status;
	if (occ.end <= ctx->from || occ.start >= ctx->to)
		return TRUE;
	if (!ctx->func(&occ, ctx->context)) {
		ctx->stopped = TRUE;
		return FALSE;
	}
	return TRUE;
}

static const struct as_event_exception *
cal_occ_exception(const struct as_event *event, time_t occ)
{
	const struct as_event_exception *exc;

	array_foreach(&event->exceptions, exc) {
		if (exc->start_orig == occ)
			return exc;
	}
	return NULL;
}

static bool cal_occ_series(time_t occ, void *context)
{
	struct cal_occurrences *ctx = context;

	/* an all-day date may be a day off UTC: look one day further */
	if (occ >= ctx->to + 24 * 3600)
		return FALSE;
	/* exceptions are emitted on their own: moved ones may have left
	   or entered the range */
	if (cal_occ_exception(ctx->event, occ) != NULL)
		return TRUE;
	return cal_occ_emit(ctx, occ, occ + ctx->duration,
			    ctx->event->all_day, ctx->event->busy_status);
}

int as_calendar_ical_occurrences(const char *ical, time_t from, time_t to,
				 as_calendar_occurrence_func_t *func,
				 void *context, const char **error_r)
{
	struct as_event event;
	const struct as_event_exception *exc;
	struct cal_occurrences ctx;
	struct cal_zones zones;
	icalcomponent *cal, *master;
	icalproperty *prop;
	const char *warning;
	time_t start, end;
	int ret = 1;

	if (as_calendar_ical_read(ical, &event, &warning, error_r) < 0)
		return -1;
	cal = cal_parse(ical, &master, error_r);
	if (cal == NULL)
		return -1;
	prop = icalcomponent_get_first_property(master, ICAL_STATUS_PROPERTY);
	if (prop != NULL &&
	    icalproperty_get_status(prop) == ICAL_STATUS_CANCELLED) {
		/* a cancelled meeting takes no time */
		icalcomponent_free(cal);
		return 1;
	}
	i_zero(&ctx);
	ctx.event = &event;
	ctx.from = from;
	ctx.to = to;
	ctx.func = func;
	ctx.context = context;
	ctx.duration = !event.have_end ? (event.all_day ? 24 * 3600 : 0) :
		event.end - event.start;
	i_zero(&zones);
	zones.cal = cal;
	if (!event.have_recurrence) {
		(void)cal_occ_emit(&ctx, event.start, event.start + ctx.duration,
				   event.all_day, event.busy_status);
	} else if (cal_series_foreach(&zones, master, cal_occ_series,
				      &ctx) == 0 && !ctx.stopped) {
		ret = 0;
	}
	icalcomponent_free(cal);

	array_foreach(&event.exceptions, exc) {
		if (exc->deleted || ctx.stopped)
			continue;
		start = exc->have_start ? exc->start : exc->start_orig;
		end = exc->have_end ? exc->end : start + ctx.duration;
		(void)cal_occ_emit(&ctx, start, end,
				   exc->all_day >= 0 ? exc->all_day != 0 :
				   event.all_day,
				   exc->busy_status >= 0 ? exc->busy_status :
				   event.busy_status);
	}
	return ret;
}
