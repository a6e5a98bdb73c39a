#ifndef AS_ICAL_TIME_H
#define AS_ICAL_TIME_H

#include <libical/ical.h>

/* An iCalendar time's wall clock (date and time as written, zone
   ignored) as if it were UTC: the form the converters compute with */
time_t as_ical_wall(struct icaltimetype tt);
/* A UTC date-time */
struct icaltimetype as_ical_utc(time_t t);

#endif
