/* Copyright (c) dovecot-activesync authors, see the included COPYING file */

#include "lib.h"
#include "utc-mktime.h"
#include "items/as-datetime.h"

#include <time.h>

const char *as_datetime_format(time_t t)
{
	struct tm *tm = gmtime(&t);

	return t_strdup_printf("%04d-%02d-%02dT%02d:%02d:%02d.000Z",
			       tm->tm_year + 1900, tm->tm_mon + 1,
			       tm->tm_mday, tm->tm_hour, tm->tm_min,
			       tm->tm_sec);
}

const char *as_datetime_format_compact(time_t t)
{
	struct tm *tm = gmtime(&t);

	return t_strdup_printf("%04d%02d%02dT%02d%02d%02dZ",
			       tm->tm_year + 1900, tm->tm_mon + 1,
			       tm->tm_mday, tm->tm_hour, tm->tm_min,
			       tm->tm_sec);
}

static bool datetime_digits(const char **p, unsigned int n, int *value_r)
{
	unsigned int i;

	*value_r = 0;
	for (i = 0; i < n; i++) {
		if ((*p)[i] < '0' || (*p)[i] > '9')
			return FALSE;
		*value_r = *value_r * 10 + ((*p)[i] - '0');
	}
	*p += n;
	return TRUE;
}

static bool datetime_sep(const char **p, char c, bool extended)
{
	if (!extended)
		return TRUE;
	if (**p != c)
		return FALSE;
	(*p)++;
	return TRUE;
}

/* The extended form, and the compact one (20240301T090000Z) some
   devices send */
bool as_datetime_parse(const char *str, time_t *t_r)
{
	const char *p = str;
	struct tm tm;
	bool ext;
	int ms;

	i_zero(&tm);
	ext = strlen(str) > 4 && str[4] == '-';
	if (!datetime_digits(&p, 4, &tm.tm_year) ||
	    !datetime_sep(&p, '-', ext) ||
	    !datetime_digits(&p, 2, &tm.tm_mon) ||
	    !datetime_sep(&p, '-', ext) ||
	    !datetime_digits(&p, 2, &tm.tm_mday) || *p++ != 'T' ||
	    !datetime_digits(&p, 2, &tm.tm_hour) ||
	    !datetime_sep(&p, ':', ext) ||
	    !datetime_digits(&p, 2, &tm.tm_min) ||
	    !datetime_sep(&p, ':', ext) ||
	    !datetime_digits(&p, 2, &tm.tm_sec))
		return FALSE;
	if (*p == '.') {
		p++;
		if (!datetime_digits(&p, 3, &ms))
			return FALSE;
	}
	if (*p == 'Z')
		p++;
	if (*p != '\0' || tm.tm_year < 1601 || tm.tm_mon < 1 ||
	    tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 ||
	    tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
		return FALSE;
	tm.tm_year -= 1900;
	tm.tm_mon--;
	*t_r = utc_mktime(&tm);
	return TRUE;
}
