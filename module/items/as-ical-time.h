#ifndef AS_ICAL_TIME_H
#define AS_ICAL_TIME_H

#include <libical/ical.h>

/* iCalendar helpers the task, calendar and iMIP converters share: reading
   an object, and its times */

/* The VCALENDAR of an iCalendar object, a bare component of kind
   wrapped in one; it must hold a component of kind. NULL with error_r if
   it doesn't parse or has none; the caller icalcomponent_free()s it. */
icalcomponent *as_ical_parse(const char *ical, icalcomponent_kind kind,
			     const char **error_r);

/* An iCalendar time's wall clock (date and time as written, zone
   ignored) as if it were UTC: the form the converters compute with */
time_t as_ical_wall(struct icaltimetype tt);
/* A UTC date-time */
struct icaltimetype as_ical_utc(time_t t);

#endif
