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
