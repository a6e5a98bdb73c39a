/* Copyright (c) dovecot-activesync authors, see the included COPYING file */

#include "lib.h"
#include "utc-mktime.h"
#include "items/as-ical-time.h"

#include <time.h>

time_t as_ical_wall(struct icaltimetype tt)
{
	struct tm tm;

	i_zero(&tm);
	tm.tm_year = tt.year - 1900;
	tm.tm_mon = tt.month - 1;
	tm.tm_mday = tt.day;
	if (!tt.is_date) {
		tm.tm_hour = tt.hour;
		tm.tm_min = tt.minute;
		tm.tm_sec = tt.second;
	}
	return utc_mktime(&tm);
}

struct icaltimetype as_ical_utc(time_t t)
{
	return icaltime_from_timet_with_zone(t, 0,
		icaltimezone_get_utc_timezone());
}

icalcomponent *as_ical_parse(const char *ical, icalcomponent_kind kind,
			     const char **error_r)
{
	icalcomponent *comp, *cal;

	comp = icalparser_parse_string(ical);
	if (comp == NULL) {
		*error_r = "iCalendar object doesn't parse";
		return NULL;
	}
	if (icalcomponent_isa(comp) == ICAL_VCALENDAR_COMPONENT)
		cal = comp;
	else if (icalcomponent_isa(comp) == kind) {
		cal = icalcomponent_new_vcalendar();
		icalcomponent_add_component(cal, comp);
	} else {
		icalcomponent_free(comp);
		*error_r = "not an iCalendar object";
		return NULL;
	}
	if (icalcomponent_get_first_component(cal, kind) == NULL) {
		icalcomponent_free(cal);
		*error_r = t_strdup_printf("no %s in the iCalendar object",
					   icalcomponent_kind_to_string(kind));
		return NULL;
	}
	return cal;
}
