/* Copyright (c) dovecot-activesync authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "strnum.h"
#include "ioloop.h"
#include "guid.h"
#include "utc-mktime.h"
#include "items/as-task.h"
#include "items/as-ical-time.h"

#include <time.h>
#include <libical/ical.h>

/* VTODO <-> struct as_task. libical allocates with malloc: every
   component parsed here is freed before returning, and what is returned
   is copied to the data stack. */

#define TASK_X_UTC_OFFSET "X-ACTIVESYNC-UTC-OFFSET"
#define TASK_X_RECUR_START "X-ACTIVESYNC-RECURRENCE-START"
#define TASK_X_REGENERATE "X-ACTIVESYNC-REGENERATE"
#define TASK_X_DEADOCCUR "X-ACTIVESYNC-DEADOCCUR"
#define TASK_X_CALENDARTYPE "X-ACTIVESYNC-CALENDARTYPE"
#define TASK_X_ISLEAPMONTH "X-ACTIVESYNC-ISLEAPMONTH"
#define TASK_X_ORDINALDATE "X-ACTIVESYNC-ORDINALDATE"
#define TASK_X_SUBORDINALDATE "X-ACTIVESYNC-SUBORDINALDATE"
#define TASK_CLASS_PERSONAL "X-PERSONAL"
#define TASK_PRODID "-//dovecot-activesync//Tasks//EN"

/* The recurrence's integer elements without an RRULE part */
static const struct {
	const char *name;
	size_t offset;
} task_recur_x_ints[] = {
	{ TASK_X_REGENERATE,
	  offsetof(struct as_task_recurrence, regenerate) },
	{ TASK_X_DEADOCCUR,
	  offsetof(struct as_task_recurrence, dead_occur) },
	{ TASK_X_CALENDARTYPE,
	  offsetof(struct as_task_recurrence, calendar_type) },
	{ TASK_X_ISLEAPMONTH,
	  offsetof(struct as_task_recurrence, is_leap_month) },
};

void as_task_init(struct as_task *task_r)
{
	static const char *const no_categories[] = { NULL };

	i_zero(task_r);
	task_r->importance = -1;
	task_r->sensitivity = -1;
	task_r->categories = no_categories;
	task_r->recur.regenerate = -1;
	task_r->recur.dead_occur = -1;
	task_r->recur.calendar_type = -1;
	task_r->recur.is_leap_month = -1;
	task_r->recur.first_day_of_week = -1;
}

/* ---- times ---- */

static struct icaltimetype ical_floating(time_t wall, bool is_date)
{
	struct icaltimetype tt = icaltime_null_time();
	struct tm *tm = gmtime(&wall);

	tt.year = tm->tm_year + 1900;
	tt.month = tm->tm_mon + 1;
	tt.day = tm->tm_mday;
	tt.is_date = is_date ? 1 : 0;
	if (!is_date) {
		tt.hour = tm->tm_hour;
		tt.minute = tm->tm_min;
		tt.second = tm->tm_sec;
	}
	return tt;
}

static icalparameter *ical_x_param(icalproperty *prop, const char *name)
{
	icalparameter *param;

	for (param = icalproperty_get_first_parameter(prop, ICAL_X_PARAMETER);
	     param != NULL;
	     param = icalproperty_get_next_parameter(prop, ICAL_X_PARAMETER)) {
		const char *xname = icalparameter_get_xname(param);

		if (xname != NULL && strcasecmp(xname, name) == 0)
			return param;
	}
	return NULL;
}

/* "+HHMM[SS]" / "-HHMM[SS]" in seconds */
static bool ical_offset_parse(const char *str, long *offset_r)
{
	unsigned int i, digits[6];
	size_t len;
	int sign;

	if (str == NULL || (str[0] != '+' && str[0] != '-'))
		return FALSE;
	sign = str[0] == '-' ? -1 : 1;
	len = strlen(++str);
	if (len != 4 && len != 6)
		return FALSE;
	for (i = 0; i < len; i++) {
		if (str[i] < '0' || str[i] > '9')
			return FALSE;
		digits[i] = str[i] - '0';
	}
	*offset_r = sign * (long)((digits[0] * 10 + digits[1]) * 3600 +
				  (digits[2] * 10 + digits[3]) * 60 +
				  (len == 6 ? digits[4] * 10 + digits[5] : 0));
	return TRUE;
}

static const char *ical_offset_format(long offset)
{
	unsigned long abs_off = offset < 0 ? -offset : offset;
	unsigned long sec = abs_off % 60;

	return t_strdup_printf("%c%02lu%02lu%s", offset < 0 ? '-' : '+',
			       abs_off / 3600, abs_off / 60 % 60,
			       sec == 0 ? "" : t_strdup_printf("%02lu", sec));
}

/* The zone a DATE-TIME with TZID is in: the calendar's VTIMEZONE, or
   libical's own zone of that name */
static struct icaltimetype
ical_prop_time(icalcomponent *vtodo, icalproperty *prop)
{
	struct icaltimetype tt;
	icalparameter *tzid_param;
	icaltimezone *zone;
	const char *tzid;

	tt = icalproperty_get_datetime_with_component(prop, vtodo);
	if (icaltime_is_null_time(tt) || tt.is_date || tt.zone != NULL)
		return tt;
	tzid_param = icalproperty_get_first_parameter(prop,
						      ICAL_TZID_PARAMETER);
	if (tzid_param == NULL)
		return tt;
	tzid = icalparameter_get_tzid(tzid_param);
	zone = icaltimezone_get_builtin_timezone_from_tzid(tzid);
	if (zone == NULL)
		zone = icaltimezone_get_builtin_timezone(tzid);
	if (zone != NULL)
		tt.zone = zone;
	return tt;
}

static bool
ical_time_read(icalcomponent *vtodo, icalproperty_kind kind,
	       struct as_task_time *time_r)
{
	icalproperty *prop;
	icalparameter *param;
	struct icaltimetype tt;
	long offset = 0;

	i_zero(time_r);
	prop = icalcomponent_get_first_property(vtodo, kind);
	if (prop == NULL)
		return FALSE;
	tt = ical_prop_time(vtodo, prop);
	if (icaltime_is_null_time(tt) || !icaltime_is_valid_time(tt))
		return FALSE;
	param = ical_x_param(prop, TASK_X_UTC_OFFSET);
	if (param != NULL &&
	    !ical_offset_parse(icalparameter_get_xvalue(param), &offset))
		offset = 0;

	if (icaltime_is_utc(tt)) {
		time_r->utc = icaltime_as_timet(tt);
		time_r->local = time_r->utc + offset;
	} else if (tt.zone != NULL && !tt.is_date) {
		time_r->local = as_ical_wall(tt);
		time_r->utc = icaltime_as_timet_with_zone(tt, tt.zone);
	} else {
		/* floating or a date: the device's local time */
		time_r->local = as_ical_wall(tt);
		time_r->utc = time_r->local - offset;
	}
	time_r->have_local = time_r->have_utc = TRUE;
	return TRUE;
}

static void ical_remove_props(icalcomponent *comp, icalproperty_kind kind)
{
	icalproperty *prop;

	while ((prop = icalcomponent_get_first_property(comp, kind)) != NULL) {
		icalcomponent_remove_property(comp, prop);
		icalproperty_free(prop);
	}
}

static icalproperty *ical_new_time_prop(icalproperty_kind kind,
					struct icaltimetype tt)
{
	switch (kind) {
	case ICAL_DTSTART_PROPERTY:
		return icalproperty_new_dtstart(tt);
	case ICAL_DUE_PROPERTY:
		return icalproperty_new_due(tt);
	default:
		i_unreached();
	}
}

/* Replace the DTSTART/DUE. A zone the old value had is kept when the
   device's local and UTC time agree with it; otherwise the local time is
   written floating with the device's UTC offset as a parameter, and a
   UTC time alone as UTC. An all-day value stays a date at midnight. */
static void ical_time_apply(icalcomponent *vtodo, icalproperty_kind kind,
			    const struct as_task_time *t)
{
	icalproperty *prop;
	struct icaltimetype tt, base_tt = icaltime_null_time();
	const char *tzid = NULL;
	bool base_date = FALSE;

	prop = icalcomponent_get_first_property(vtodo, kind);
	if (prop != NULL) {
		icalparameter *p = icalproperty_get_first_parameter(prop,
			ICAL_TZID_PARAMETER);

		base_tt = ical_prop_time(vtodo, prop);
		base_date = base_tt.is_date != 0;
		if (p != NULL)
			tzid = t_strdup(icalparameter_get_tzid(p));
	}
	ical_remove_props(vtodo, kind);
	if (!t->have_local && !t->have_utc)
		return;

	if (!t->have_local) {
		icalcomponent_add_property(vtodo,
			ical_new_time_prop(kind, as_ical_utc(t->utc)));
		return;
	}
	if (t->have_utc && tzid != NULL && base_tt.zone != NULL &&
	    !icaltime_is_utc(base_tt) && !base_date) {
		tt = icaltime_from_timet_with_zone(t->utc, 0,
			(icaltimezone *)base_tt.zone);
		if (as_ical_wall(tt) == t->local) {
			prop = ical_new_time_prop(kind, tt);
			icalproperty_add_parameter(prop,
				icalparameter_new_tzid(tzid));
			icalcomponent_add_property(vtodo, prop);
			return;
		}
	}
	prop = ical_new_time_prop(kind, ical_floating(t->local,
		base_date && t->local % (24*3600) == 0));
	if (t->have_utc && t->local != t->utc &&
	    t->local - t->utc < 24*3600 && t->utc - t->local < 24*3600) {
		icalparameter *param = icalparameter_new_x(
			ical_offset_format((long)(t->local - t->utc)));

		icalparameter_set_xname(param, TASK_X_UTC_OFFSET);
		icalproperty_add_parameter(prop, param);
	}
	icalcomponent_add_property(vtodo, prop);
}

/* ---- X- properties ---- */

static icalproperty *ical_x_prop(icalcomponent *comp, const char *name)
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

static const char *ical_x_get(icalcomponent *comp, const char *name)
{
	icalproperty *prop = ical_x_prop(comp, name);

	return prop == NULL ? NULL : icalproperty_get_x(prop);
}

static void ical_x_remove(icalcomponent *comp, const char *name)
{
	icalproperty *prop;

	while ((prop = ical_x_prop(comp, name)) != NULL) {
		icalcomponent_remove_property(comp, prop);
		icalproperty_free(prop);
	}
}

static void ical_x_set(icalcomponent *comp, const char *name,
		       const char *value)
{
	icalproperty *prop;

	ical_x_remove(comp, name);
	if (value == NULL)
		return;
	prop = icalproperty_new_x(value);
	icalproperty_set_x_name(prop, name);
	icalcomponent_add_property(comp, prop);
}

static const char *ical_compact_date(time_t t, bool utc)
{
	struct tm *tm = gmtime(&t);

	return t_strdup_printf("%04d%02d%02dT%02d%02d%02d%s",
			       tm->tm_year + 1900, tm->tm_mon + 1,
			       tm->tm_mday, tm->tm_hour, tm->tm_min,
			       tm->tm_sec, utc ? "Z" : "");
}

static bool ical_compact_date_parse(const char *str, time_t *t_r)
{
	struct icaltimetype tt;

	if (str == NULL)
		return FALSE;
	tt = icaltime_from_string(str);
	if (icaltime_is_null_time(tt) || !icaltime_is_valid_time(tt))
		return FALSE;
	*t_r = as_ical_wall(tt);
	return TRUE;
}

/* ---- recurrence ---- */

static void
ical_recur_read(icalcomponent *vtodo, const struct as_task *task,
		struct as_task_recurrence *rec_r, bool *have_r)
{
	icalproperty *prop;
	struct icalrecurrencetype r;
	struct as_task_recurrence rec = task->recur;
	int week = 0;
	unsigned int i;
	char *value;
	struct tm tm;

	*have_r = FALSE;
	prop = icalcomponent_get_first_property(vtodo, ICAL_RRULE_PROPERTY);
	if (prop == NULL)
		return;
	r = icalproperty_get_rrule(prop);

	if (!ical_compact_date_parse(ical_x_get(vtodo, TASK_X_RECUR_START),
				     &rec.start)) {
		rec.start = task->start.have_local ? task->start.local :
			task->due.have_local ? task->due.local : 0;
	}
	tm = *gmtime(&rec.start);

	for (i = 0; i < ICAL_BY_DAY_SIZE &&
	     r.by_day[i] != ICAL_RECURRENCE_ARRAY_MAX; i++) {
		int dow = icalrecurrencetype_day_day_of_week(r.by_day[i]);
		int pos = icalrecurrencetype_day_position(r.by_day[i]);

		if (dow >= ICAL_SUNDAY_WEEKDAY && dow <= ICAL_SATURDAY_WEEKDAY)
			rec.day_of_week |= 1U << (dow - ICAL_SUNDAY_WEEKDAY);
		if (pos != 0)
			week = pos;
	}
	if (r.by_set_pos[0] != ICAL_RECURRENCE_ARRAY_MAX)
		week = r.by_set_pos[0];
	if (week == -1)
		week = 5;

	switch (r.freq) {
	case ICAL_DAILY_RECURRENCE:
		rec.type = 0;
		break;
	case ICAL_WEEKLY_RECURRENCE:
		rec.type = 1;
		if (rec.day_of_week == 0)
			rec.day_of_week = 1U << tm.tm_wday;
		break;
	case ICAL_MONTHLY_RECURRENCE:
		rec.type = rec.day_of_week != 0 ? 3 : 2;
		break;
	case ICAL_YEARLY_RECURRENCE:
		rec.type = rec.day_of_week != 0 ? 6 : 5;
		rec.month_of_year =
			r.by_month[0] != ICAL_RECURRENCE_ARRAY_MAX ?
			(unsigned int)r.by_month[0] :
			(unsigned int)tm.tm_mon + 1;
		break;
	default:
		/* hourly and finer: nothing EAS can say; the RRULE stays */
		return;
	}
	if (rec.type == 2 || rec.type == 5) {
		rec.day_of_month =
			r.by_month_day[0] != ICAL_RECURRENCE_ARRAY_MAX &&
			r.by_month_day[0] > 0 ?
			(unsigned int)r.by_month_day[0] :
			(unsigned int)tm.tm_mday;
	}
	if (rec.type == 3 || rec.type == 6) {
		if (week < 1 || week > 5)
			return;
		rec.week_of_month = week;
	}
	rec.interval = r.interval > 0 ? r.interval : 1;
	rec.occurrences = r.count > 0 ? r.count : 0;
	if (!icaltime_is_null_time(r.until)) {
		rec.have_until = TRUE;
		rec.until = icaltime_is_utc(r.until) ?
			icaltime_as_timet(r.until) : as_ical_wall(r.until);
	}
	/* libical fills in Monday when there is no WKST */
	value = icalproperty_get_value_as_string_r(prop);
	if (r.week_start >= ICAL_SUNDAY_WEEKDAY &&
	    r.week_start <= ICAL_SATURDAY_WEEKDAY && value != NULL &&
	    strstr(value, "WKST") != NULL)
		rec.first_day_of_week = r.week_start - ICAL_SUNDAY_WEEKDAY;
	free(value);
	for (i = 0; i < N_ELEMENTS(task_recur_x_ints); i++) {
		const char *x = ical_x_get(vtodo, task_recur_x_ints[i].name);
		int *field = PTR_OFFSET(&rec, task_recur_x_ints[i].offset);

		if (x == NULL || str_to_int(x, field) < 0)
			*field = -1;
	}
	*rec_r = rec;
	*have_r = TRUE;
}

static short ical_encode_day(unsigned int dow, int pos)
{
	/* libical's BYDAY encoding: weekday + 8 * position, signed */
	short day = (short)(dow + 8 * (pos < 0 ? -pos : pos));

	return pos < 0 ? -day : day;
}

static void
ical_recur_apply(icalcomponent *vtodo, const struct as_task *task)
{
	const struct as_task_recurrence *rec = &task->recur;
	struct icalrecurrencetype r;
	struct as_task_time start;
	unsigned int i, n = 0, days = 0;
	int week;

	ical_remove_props(vtodo, ICAL_RRULE_PROPERTY);
	ical_x_remove(vtodo, TASK_X_RECUR_START);
	for (i = 0; i < N_ELEMENTS(task_recur_x_ints); i++)
		ical_x_remove(vtodo, task_recur_x_ints[i].name);
	if (!task->have_recurrence)
		return;

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
	if (rec->have_until)
		r.until = as_ical_utc(rec->until);
	for (i = 0; i < 7; i++) {
		if ((rec->day_of_week & (1U << i)) != 0)
			days++;
	}
	week = rec->week_of_month == 5 ? -1 : (int)rec->week_of_month;
	for (i = 0; i < 7; i++) {
		if ((rec->day_of_week & (1U << i)) == 0)
			continue;
		/* "the 2nd Tuesday" as 2TU, the way most clients write it;
		   several days with BYSETPOS */
		r.by_day[n++] = ical_encode_day(ICAL_SUNDAY_WEEKDAY + i,
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
	icalcomponent_add_property(vtodo, icalproperty_new_rrule(r));

	for (i = 0; i < N_ELEMENTS(task_recur_x_ints); i++) {
		const int *field =
			CONST_PTR_OFFSET(rec, task_recur_x_ints[i].offset);

		if (*field >= 0)
			ical_x_set(vtodo, task_recur_x_ints[i].name,
				   dec2str(*field));
	}
	/* the recurrence starts with the task unless the device says
	   otherwise */
	if (!ical_time_read(vtodo, ICAL_DTSTART_PROPERTY, &start) ||
	    start.local != rec->start) {
		ical_x_set(vtodo, TASK_X_RECUR_START,
			   ical_compact_date(rec->start, FALSE));
	}
}

/* ---- reading ---- */

static const char *const *ical_categories(icalcomponent *vtodo)
{
	ARRAY_TYPE(const_string) cats;
	icalproperty *prop;
	const char *value;

	t_array_init(&cats, 4);
	for (prop = icalcomponent_get_first_property(vtodo,
						     ICAL_CATEGORIES_PROPERTY);
	     prop != NULL;
	     prop = icalcomponent_get_next_property(vtodo,
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

static void ical_reminder_read(icalcomponent *vtodo, struct as_task *task)
{
	icalcomponent *alarm;
	icalproperty *prop;
	icalparameter *related;
	struct icaltriggertype trigger;
	const struct as_task_time *base;

	alarm = icalcomponent_get_first_component(vtodo,
						  ICAL_VALARM_COMPONENT);
	if (alarm == NULL)
		return;
	task->reminder_set = TRUE;
	prop = icalcomponent_get_first_property(alarm, ICAL_TRIGGER_PROPERTY);
	if (prop == NULL)
		return;
	trigger = icalproperty_get_trigger(prop);
	if (!icaltime_is_null_time(trigger.time)) {
		task->have_reminder_time = TRUE;
		task->reminder_time = icaltime_is_utc(trigger.time) ?
			icaltime_as_timet(trigger.time) :
			as_ical_wall(trigger.time);
		return;
	}
	/* relative to the start, or to the due date with RELATED=END */
	related = icalproperty_get_first_parameter(prop,
						   ICAL_RELATED_PARAMETER);
	base = related != NULL &&
		icalparameter_get_related(related) == ICAL_RELATED_END ?
		&task->due : &task->start;
	if (!base->have_utc)
		base = task->due.have_utc ? &task->due : &task->start;
	if (base->have_utc) {
		task->have_reminder_time = TRUE;
		task->reminder_time = base->utc +
			icaldurationtype_as_int(trigger.duration);
	}
}

static void ical_complete_read(icalcomponent *vtodo, struct as_task *task)
{
	icalproperty *prop;
	struct icaltimetype tt;

	prop = icalcomponent_get_first_property(vtodo, ICAL_STATUS_PROPERTY);
	if (prop != NULL &&
	    icalproperty_get_status(prop) == ICAL_STATUS_COMPLETED)
		task->complete = TRUE;
	prop = icalcomponent_get_first_property(vtodo,
						ICAL_COMPLETED_PROPERTY);
	if (prop == NULL) {
		/* completed without a date: the last change is closest */
		if (!task->complete)
			return;
		prop = icalcomponent_get_first_property(vtodo,
			ICAL_LASTMODIFIED_PROPERTY);
		if (prop == NULL)
			prop = icalcomponent_get_first_property(vtodo,
				ICAL_DTSTAMP_PROPERTY);
		if (prop == NULL)
			return;
	} else {
		task->complete = TRUE;
	}
	tt = icalvalue_get_datetime(icalproperty_get_value(prop));
	if (icaltime_is_null_time(tt))
		return;
	task->have_date_completed = TRUE;
	task->date_completed = icaltime_is_utc(tt) ? icaltime_as_timet(tt) :
		as_ical_wall(tt);
}

static int ical_importance(int priority)
{
	/* RFC 5545 3.8.1.9: 1-4 high, 5 medium, 6-9 low, 0 undefined */
	if (priority >= 1 && priority <= 4)
		return 2;
	if (priority >= 6 && priority <= 9)
		return 0;
	return 1;
}

static int ical_sensitivity(icalproperty *prop)
{
	const char *value;

	switch (icalproperty_get_class(prop)) {
	case ICAL_CLASS_PUBLIC:
	case ICAL_CLASS_NONE:
		return 0;
	case ICAL_CLASS_CONFIDENTIAL:
		return 3;
	case ICAL_CLASS_X:
		value = icalvalue_get_x(icalproperty_get_value(prop));
		if (value != NULL &&
		    strcasecmp(value, TASK_CLASS_PERSONAL) == 0)
			return 1;
		/* RFC 5545: an unknown class is taken as PRIVATE */
		return 2;
	default:
		return 2;
	}
}

static void ical_task_read(icalcomponent *vtodo, struct as_task *task)
{
	icalproperty *prop;
	const char *value;

	as_task_init(task);
	value = icalcomponent_get_uid(vtodo);
	if (value != NULL && *value != '\0')
		task->uid = t_strdup(value);
	prop = icalcomponent_get_first_property(vtodo, ICAL_SUMMARY_PROPERTY);
	if (prop != NULL && (value = icalproperty_get_summary(prop)) != NULL)
		task->subject = t_strdup(value);
	prop = icalcomponent_get_first_property(vtodo,
						ICAL_DESCRIPTION_PROPERTY);
	if (prop != NULL &&
	    (value = icalproperty_get_description(prop)) != NULL)
		task->body = t_strdup(value);
	(void)ical_time_read(vtodo, ICAL_DTSTART_PROPERTY, &task->start);
	(void)ical_time_read(vtodo, ICAL_DUE_PROPERTY, &task->due);
	ical_complete_read(vtodo, task);
	prop = icalcomponent_get_first_property(vtodo, ICAL_PRIORITY_PROPERTY);
	task->importance = ical_importance(prop == NULL ? 0 :
					   icalproperty_get_priority(prop));
	prop = icalcomponent_get_first_property(vtodo, ICAL_CLASS_PROPERTY);
	task->sensitivity = prop == NULL ? 0 : ical_sensitivity(prop);
	ical_reminder_read(vtodo, task);
	task->categories = ical_categories(vtodo);
	ical_recur_read(vtodo, task, &task->recur, &task->have_recurrence);
	if (ical_compact_date_parse(ical_x_get(vtodo, TASK_X_ORDINALDATE),
				    &task->ordinal_date))
		task->have_ordinal_date = TRUE;
	value = ical_x_get(vtodo, TASK_X_SUBORDINALDATE);
	if (value != NULL)
		task->sub_ordinal_date = t_strdup(value);
}

/* The VCALENDAR and its first VTODO; a bare VTODO is wrapped. NULL with
   error_r if there is none. */
static icalcomponent *
ical_parse(const char *ical, icalcomponent **vtodo_r, const char **error_r)
{
	icalcomponent *cal;

	cal = as_ical_parse(ical, ICAL_VTODO_COMPONENT, error_r);
	if (cal != NULL) {
		*vtodo_r = icalcomponent_get_first_component(cal,
						ICAL_VTODO_COMPONENT);
	}
	return cal;
}

int as_task_ical_read(const char *ical, struct as_task *task_r,
		      const char **error_r)
{
	icalcomponent *cal, *vtodo;

	cal = ical_parse(ical, &vtodo, error_r);
	if (cal == NULL)
		return -1;
	ical_task_read(vtodo, task_r);
	icalcomponent_free(cal);
	return 0;
}

/* ---- merging ---- */

static void ical_text_apply(icalcomponent *vtodo, icalproperty_kind kind,
			    const char *text)
{
	icalproperty *prop;

	ical_remove_props(vtodo, kind);
	if (text == NULL || *text == '\0')
		return;
	prop = icalproperty_new(kind);
	icalproperty_set_value(prop, icalvalue_new_text(text));
	icalcomponent_add_property(vtodo, prop);
}

static void ical_complete_apply(icalcomponent *vtodo,
				const struct as_task *task)
{
	icalproperty *prop;
	enum icalproperty_status status = ICAL_STATUS_NONE;

	prop = icalcomponent_get_first_property(vtodo, ICAL_STATUS_PROPERTY);
	if (prop != NULL)
		status = icalproperty_get_status(prop);
	ical_remove_props(vtodo, ICAL_COMPLETED_PROPERTY);
	if (task->complete) {
		ical_remove_props(vtodo, ICAL_STATUS_PROPERTY);
		icalcomponent_add_property(vtodo,
			icalproperty_new_status(ICAL_STATUS_COMPLETED));
		icalcomponent_add_property(vtodo, icalproperty_new_completed(
			as_ical_utc(task->have_date_completed ?
				 task->date_completed : ioloop_time)));
		ical_remove_props(vtodo, ICAL_PERCENTCOMPLETE_PROPERTY);
		icalcomponent_add_property(vtodo,
			icalproperty_new_percentcomplete(100));
		return;
	}
	/* open again: in progress and cancelled stay what they are */
	if (status == ICAL_STATUS_COMPLETED || status == ICAL_STATUS_NONE) {
		ical_remove_props(vtodo, ICAL_STATUS_PROPERTY);
		icalcomponent_add_property(vtodo,
			icalproperty_new_status(ICAL_STATUS_NEEDSACTION));
	}
	prop = icalcomponent_get_first_property(vtodo,
						ICAL_PERCENTCOMPLETE_PROPERTY);
	if (prop != NULL && icalproperty_get_percentcomplete(prop) >= 100)
		ical_remove_props(vtodo, ICAL_PERCENTCOMPLETE_PROPERTY);
}

static void ical_remove_alarms(icalcomponent *vtodo)
{
	icalcomponent *alarm;

	while ((alarm = icalcomponent_get_first_component(vtodo,
			ICAL_VALARM_COMPONENT)) != NULL) {
		icalcomponent_remove_component(vtodo, alarm);
		icalcomponent_free(alarm);
	}
}

/* The first alarm gets the device's time; others stay */
static void ical_reminder_apply(icalcomponent *vtodo,
				const struct as_task *task)
{
	icalcomponent *alarm;
	struct icaltriggertype trigger;

	if (!task->reminder_set) {
		ical_remove_alarms(vtodo);
		return;
	}
	alarm = icalcomponent_get_first_component(vtodo,
						  ICAL_VALARM_COMPONENT);
	if (alarm == NULL) {
		const char *text = task->subject != NULL &&
			*task->subject != '\0' ? task->subject : "Reminder";

		alarm = icalcomponent_new_valarm();
		icalcomponent_add_property(alarm,
			icalproperty_new_action(ICAL_ACTION_DISPLAY));
		icalcomponent_add_property(alarm,
			icalproperty_new_description(text));
		icalcomponent_add_component(vtodo, alarm);
	}
	ical_remove_props(alarm, ICAL_TRIGGER_PROPERTY);
	if (task->have_reminder_time) {
		trigger.time = as_ical_utc(task->reminder_time);
		trigger.duration = icaldurationtype_null_duration();
	} else {
		/* set without a time: at the start */
		trigger = icaltriggertype_from_int(0);
	}
	icalcomponent_add_property(alarm, icalproperty_new_trigger(trigger));
}

static void ical_categories_apply(icalcomponent *vtodo,
				  const char *const *categories)
{
	ical_remove_props(vtodo, ICAL_CATEGORIES_PROPERTY);
	/* one property each: a comma in a name stays part of it */
	for (; *categories != NULL; categories++) {
		icalcomponent_add_property(vtodo,
			icalproperty_new_categories(*categories));
	}
}

static void ical_priority_apply(icalcomponent *vtodo, int importance)
{
	static const int priorities[] = { 9, 5, 1 };

	ical_remove_props(vtodo, ICAL_PRIORITY_PROPERTY);
	if (importance >= 0 && importance <= 2) {
		icalcomponent_add_property(vtodo,
			icalproperty_new_priority(priorities[importance]));
	}
}

static void ical_class_apply(icalcomponent *vtodo, int sensitivity)
{
	static const enum icalproperty_class classes[] = {
		ICAL_CLASS_PUBLIC, ICAL_CLASS_X, ICAL_CLASS_PRIVATE,
		ICAL_CLASS_CONFIDENTIAL
	};
	icalproperty *prop;

	ical_remove_props(vtodo, ICAL_CLASS_PROPERTY);
	if (sensitivity < 0 || sensitivity > 3)
		return;
	if (classes[sensitivity] == ICAL_CLASS_X) {
		icalvalue *value = icalvalue_new_class(ICAL_CLASS_X);

		icalvalue_set_x(value, TASK_CLASS_PERSONAL);
		prop = icalproperty_new(ICAL_CLASS_PROPERTY);
		icalproperty_set_value(prop, value);
	} else {
		prop = icalproperty_new_class(classes[sensitivity]);
	}
	icalcomponent_add_property(vtodo, prop);
}

static void ical_ordinal_apply(icalcomponent *vtodo,
			       const struct as_task *task)
{
	ical_x_set(vtodo, TASK_X_ORDINALDATE, !task->have_ordinal_date ? NULL :
		   ical_compact_date(task->ordinal_date, TRUE));
	ical_x_set(vtodo, TASK_X_SUBORDINALDATE, task->sub_ordinal_date);
}

static void ical_stamp(icalcomponent *cal, icalcomponent *vtodo, bool edit)
{
	icalproperty *prop;
	int sequence = 0;

	prop = icalcomponent_get_first_property(vtodo, ICAL_UID_PROPERTY);
	if (prop == NULL) {
		guid_128_t guid;

		guid_128_generate(guid);
		icalcomponent_add_property(vtodo, icalproperty_new_uid(
			guid_128_to_uuid_string(guid, FORMAT_RECORD)));
	}
	ical_remove_props(vtodo, ICAL_DTSTAMP_PROPERTY);
	icalcomponent_add_property(vtodo,
		icalproperty_new_dtstamp(as_ical_utc(ioloop_time)));
	ical_remove_props(vtodo, ICAL_LASTMODIFIED_PROPERTY);
	icalcomponent_add_property(vtodo,
		icalproperty_new_lastmodified(as_ical_utc(ioloop_time)));
	if (edit) {
		prop = icalcomponent_get_first_property(vtodo,
			ICAL_SEQUENCE_PROPERTY);
		if (prop != NULL)
			sequence = icalproperty_get_sequence(prop);
		ical_remove_props(vtodo, ICAL_SEQUENCE_PROPERTY);
		icalcomponent_add_property(vtodo,
			icalproperty_new_sequence(sequence + 1));
	} else if (icalcomponent_get_first_property(vtodo,
			ICAL_CREATED_PROPERTY) == NULL) {
		icalcomponent_add_property(vtodo,
			icalproperty_new_created(as_ical_utc(ioloop_time)));
	}
	/* the parser's notes about lines it didn't understand */
	ical_remove_props(vtodo, ICAL_XLICERROR_PROPERTY);
	ical_remove_props(cal, ICAL_XLICERROR_PROPERTY);
	if (icalcomponent_get_first_property(cal,
					     ICAL_VERSION_PROPERTY) == NULL) {
		icalcomponent_add_property(cal,
					   icalproperty_new_version("2.0"));
	}
	if (icalcomponent_get_first_property(cal,
					     ICAL_PRODID_PROPERTY) == NULL) {
		icalcomponent_add_property(cal,
			icalproperty_new_prodid(TASK_PRODID));
	}
}

/* One content line, escaped as TEXT and folded at 75 octets (not inside
   a UTF-8 character) */
static void ical_append_text_line(string_t *dest, const char *name,
				  const char *value)
{
	string_t *line = t_str_new(128);
	const unsigned char *p;
	size_t i, start, len;

	str_append(line, name);
	str_append_c(line, ':');
	for (p = (const unsigned char *)value; *p != '\0'; p++) {
		switch (*p) {
		case '\\': case ';': case ',':
			str_append_c(line, '\\');
			str_append_c(line, *p);
			break;
		case '\n':
			str_append(line, "\\n");
			break;
		case '\r':
			break;
		default:
			str_append_c(line, *p);
		}
	}
	p = str_data(line);
	len = str_len(line);
	for (start = 0, i = 0; i < len; i++) {
		if (i - start >= (start == 0 ? 75 : 74) &&
		    (p[i] & 0xc0) != 0x80) {
			str_append_data(dest, p + start, i - start);
			str_append(dest, "\r\n ");
			start = i;
		}
	}
	str_append_data(dest, p + start, len - start);
	str_append(dest, "\r\n");
}

/* The object as text. libical writes a comma inside a category
   unescaped, which splits it when read again: the VTODO's CATEGORIES
   are written here instead. */
static const char *ical_serialize(icalcomponent *cal, icalcomponent *vtodo)
{
	const char *const *cats = ical_categories(vtodo);
	string_t *dest;
	const char *begin;
	char *str;

	ical_remove_props(vtodo, ICAL_CATEGORIES_PROPERTY);
	str = icalcomponent_as_ical_string_r(cal);
	dest = t_str_new(strlen(str) + 256);
	begin = strstr(str, "BEGIN:VTODO\r\n");
	i_assert(begin != NULL);
	begin += strlen("BEGIN:VTODO\r\n");
	str_append_data(dest, str, begin - str);
	for (; *cats != NULL; cats++)
		ical_append_text_line(dest, "CATEGORIES", *cats);
	str_append(dest, begin);
	free(str);
	return str_c(dest);
}

int as_task_ical_merge(const char *base, const struct as_task *task,
		       unsigned int fields, const char **ical_r,
		       const char **error_r ATTR_UNUSED)
{
	icalcomponent *cal = NULL, *vtodo = NULL;
	const char *error;
	bool edit = FALSE;

	if (base != NULL) {
		cal = ical_parse(base, &vtodo, &error);
		edit = cal != NULL;
	}
	if (cal == NULL) {
		cal = icalcomponent_new_vcalendar();
		vtodo = icalcomponent_new_vtodo();
		icalcomponent_add_component(cal, vtodo);
	}

	if ((fields & AS_TASK_FIELD_SUBJECT) != 0)
		ical_text_apply(vtodo, ICAL_SUMMARY_PROPERTY, task->subject);
	if ((fields & AS_TASK_FIELD_BODY) != 0)
		ical_text_apply(vtodo, ICAL_DESCRIPTION_PROPERTY, task->body);
	if ((fields & AS_TASK_FIELD_START) != 0)
		ical_time_apply(vtodo, ICAL_DTSTART_PROPERTY, &task->start);
	if ((fields & AS_TASK_FIELD_DUE) != 0)
		ical_time_apply(vtodo, ICAL_DUE_PROPERTY, &task->due);
	if ((fields & AS_TASK_FIELD_COMPLETE) != 0)
		ical_complete_apply(vtodo, task);
	if ((fields & AS_TASK_FIELD_IMPORTANCE) != 0)
		ical_priority_apply(vtodo, task->importance);
	if ((fields & AS_TASK_FIELD_SENSITIVITY) != 0)
		ical_class_apply(vtodo, task->sensitivity);
	if ((fields & AS_TASK_FIELD_REMINDER) != 0)
		ical_reminder_apply(vtodo, task);
	if ((fields & AS_TASK_FIELD_CATEGORIES) != 0)
		ical_categories_apply(vtodo, task->categories);
	if ((fields & AS_TASK_FIELD_ORDINAL) != 0)
		ical_ordinal_apply(vtodo, task);
	/* last: the recurrence's Start is compared with the new DTSTART */
	if ((fields & AS_TASK_FIELD_RECURRENCE) != 0)
		ical_recur_apply(vtodo, task);
	ical_stamp(cal, vtodo, edit);

	*ical_r = ical_serialize(cal, vtodo);
	icalcomponent_free(cal);
	return 0;
}
