/* Copyright (c) dovecot-activesync authors, see the included COPYING file */

#include "lib.h"
#include "base64.h"
#include "buffer.h"
#include "str.h"
#include "unichar.h"
#include "utc-mktime.h"
#include "items/as-calendar.h"
#include "items/as-ical-time.h"

#include <time.h>
#include <libical/ical.h>

/* TimeZone blobs (MS-ASDTYPE 2.7.4, TIME_ZONE_INFORMATION) <-> libical
   zones. A blob says a zone's rules for one year only: it is matched
   with the IANA zone that has the same rules in the event's year, so the
   object written carries a real zone name. Zones are kept for the
   process's life (libical zones are not cheap to load). */

/* blob layout, little endian */
#define TZ_OFF_BIAS 0
#define TZ_OFF_STD_NAME 4
#define TZ_OFF_STD_DATE 68
#define TZ_OFF_STD_BIAS 84
#define TZ_OFF_DST_NAME 88
#define TZ_OFF_DST_DATE 152
#define TZ_OFF_DST_BIAS 168
#define TZ_NAME_CHARS 32

/* A yearly transition as SYSTEMTIME says it: month 0 = none; week 5 =
   the last such weekday of the month */
struct tz_transition {
	unsigned int month, dow, week, hour, minute;
};

struct tz_rules {
	int bias;		/* minutes, UTC = local + bias */
	int dst_bias;		/* added to bias in daylight time */
	struct tz_transition to_std, to_dst;
};

struct tz_cache {
	struct tz_cache *next;
	int year;
	struct as_calendar_tz tz;
	bool custom;
};

/* Windows' names of common zones, tried first for a blob that has them */
static const struct {
	const char *windows, *iana;
} tz_windows_names[] = {
	{ "W. Europe Standard Time", "Europe/Berlin" },
	{ "Romance Standard Time", "Europe/Paris" },
	{ "Central Europe Standard Time", "Europe/Budapest" },
	{ "Central European Standard Time", "Europe/Warsaw" },
	{ "GMT Standard Time", "Europe/London" },
	{ "FLE Standard Time", "Europe/Helsinki" },
	{ "GTB Standard Time", "Europe/Athens" },
	{ "Russian Standard Time", "Europe/Moscow" },
	{ "Eastern Standard Time", "America/New_York" },
	{ "Central Standard Time", "America/Chicago" },
	{ "Mountain Standard Time", "America/Denver" },
	{ "US Mountain Standard Time", "America/Phoenix" },
	{ "Pacific Standard Time", "America/Los_Angeles" },
	{ "Alaskan Standard Time", "America/Anchorage" },
	{ "Hawaiian Standard Time", "Pacific/Honolulu" },
	{ "Atlantic Standard Time", "America/Halifax" },
	{ "E. South America Standard Time", "America/Sao_Paulo" },
	{ "Tokyo Standard Time", "Asia/Tokyo" },
	{ "China Standard Time", "Asia/Shanghai" },
	{ "India Standard Time", "Asia/Kolkata" },
	{ "Singapore Standard Time", "Asia/Singapore" },
	{ "AUS Eastern Standard Time", "Australia/Sydney" },
	{ "New Zealand Standard Time", "Pacific/Auckland" },
};

/* Zones tried before all others when a blob has no known name: several
   IANA zones share rules, the most used one should win */
static const char *const tz_preferred[] = {
	"Europe/Berlin", "Europe/London", "America/New_York",
	"America/Chicago", "America/Denver", "America/Los_Angeles",
	"America/Phoenix", "Europe/Helsinki", "Europe/Moscow", "Asia/Tokyo",
	"Asia/Shanghai", "Asia/Kolkata", "Australia/Sydney",
	"Pacific/Auckland", "America/Sao_Paulo",
};

static struct tz_cache *tz_cache_head = NULL;
static struct as_calendar_tz tz_utc;

int as_calendar_year(time_t t)
{
	struct tm *tm = gmtime(&t);

	return tm->tm_year + 1900;
}

/* ---- wall clock ---- */

time_t as_calendar_tz_to_wall(const struct as_calendar_tz *tz, time_t utc)
{
	return as_ical_wall(icaltime_from_timet_with_zone(utc, 0, tz->zone));
}

time_t as_calendar_tz_from_wall(const struct as_calendar_tz *tz, time_t wall)
{
	struct icaltimetype tt;

	tt = icaltime_from_timet_with_zone(wall, 0, NULL);
	tt.zone = tz->zone;
	return icaltime_as_timet_with_zone(tt, tz->zone);
}

/* UTC offset in seconds at UTC time t */
static int tz_offset(icaltimezone *zone, time_t t)
{
	struct icaltimetype tt;
	int is_daylight;

	tt = icaltime_from_timet_with_zone(t, 0,
					   icaltimezone_get_utc_timezone());
	return icaltimezone_get_utc_offset_of_utc_time(zone, &tt,
						       &is_daylight);
}

/* ---- rules ---- */

static unsigned int tz_days_in_month(int year, unsigned int month)
{
	static const unsigned int days[] =
		{ 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	if (month == 2 && (year % 4 == 0 &&
			   (year % 100 != 0 || year % 400 == 0)))
		return 29;
	return days[month - 1];
}

/* The day of month of the transition's weekday in year */
static unsigned int tz_transition_mday(const struct tz_transition *tr,
				       int year)
{
	struct tm tm;
	time_t t;
	unsigned int first_dow, mday;

	i_zero(&tm);
	tm.tm_year = year - 1900;
	tm.tm_mon = tr->month - 1;
	tm.tm_mday = 1;
	t = utc_mktime(&tm);
	first_dow = gmtime(&t)->tm_wday;
	mday = 1 + (tr->dow + 7 - first_dow) % 7 + 7 * (tr->week - 1);
	while (mday > tz_days_in_month(year, tr->month))
		mday -= 7;
	return mday;
}

static void tz_transition_from_wall(time_t wall, struct tz_transition *tr_r)
{
	struct tm *tm = gmtime(&wall);
	int year = tm->tm_year + 1900;

	tr_r->month = tm->tm_mon + 1;
	tr_r->dow = tm->tm_wday;
	tr_r->week = (tm->tm_mday - 1) / 7 + 1;
	if ((unsigned int)tm->tm_mday + 7 > tz_days_in_month(year, tr_r->month))
		tr_r->week = 5;
	tr_r->hour = tm->tm_hour;
	tr_r->minute = tm->tm_min;
}

/* The first UTC time in (from, to] whose offset differs from from's */
static time_t tz_find_change(icaltimezone *zone, time_t from, time_t to)
{
	int off = tz_offset(zone, from);

	while (to - from > 60) {
		time_t mid = from + (to - from) / 2;

		if (tz_offset(zone, mid) == off)
			from = mid;
		else
			to = mid;
	}
	return to;
}

static void tz_zone_rules(icaltimezone *zone, int year, struct tz_rules *r_r)
{
	struct tm tm;
	time_t t, start, end, change;
	int off, next_off, std, dst;

	i_zero(r_r);
	i_zero(&tm);
	tm.tm_year = year - 1900;
	tm.tm_mday = 1;
	start = utc_mktime(&tm);
	tm.tm_year++;
	end = utc_mktime(&tm);

	/* standard time has the smaller offset, north and south */
	std = dst = tz_offset(zone, start);
	for (t = start; t < end; t += 86400) {
		off = tz_offset(zone, t);
		std = I_MIN(std, off);
		dst = I_MAX(dst, off);
	}
	r_r->bias = -std / 60;
	if (std == dst)
		return;
	r_r->dst_bias = -(dst - std) / 60;
	off = tz_offset(zone, start);
	for (t = start; t < end; t += 86400) {
		next_off = tz_offset(zone, t + 86400);
		if (next_off == off)
			continue;
		change = tz_find_change(zone, t, t + 86400);
		/* the transition as the clock before it shows it */
		tz_transition_from_wall(change + off,
			next_off == dst ? &r_r->to_dst : &r_r->to_std);
		off = next_off;
	}
	if (r_r->to_dst.month == 0 || r_r->to_std.month == 0) {
		/* a one-off change (the zone's rules changed that year):
		   no yearly rule to say */
		r_r->dst_bias = 0;
		i_zero(&r_r->to_dst);
		i_zero(&r_r->to_std);
		r_r->bias = -tz_offset(zone, start) / 60;
	}
}

static bool tz_rules_equal(const struct tz_rules *a, const struct tz_rules *b)
{
	if (a->bias != b->bias || a->dst_bias != b->dst_bias)
		return FALSE;
	if (a->dst_bias == 0)
		return TRUE;
	return memcmp(&a->to_std, &b->to_std, sizeof(a->to_std)) == 0 &&
		memcmp(&a->to_dst, &b->to_dst, sizeof(a->to_dst)) == 0;
}

/* ---- blobs ---- */

static void tz_put_u16(unsigned char *p, unsigned int v)
{
	p[0] = v & 0xff;
	p[1] = (v >> 8) & 0xff;
}

static unsigned int tz_get_u16(const unsigned char *p)
{
	return p[0] | (p[1] << 8);
}

static void tz_put_i32(unsigned char *p, int v)
{
	uint32_t u = (uint32_t)v;

	p[0] = u & 0xff;
	p[1] = (u >> 8) & 0xff;
	p[2] = (u >> 16) & 0xff;
	p[3] = (u >> 24) & 0xff;
}

static int tz_get_i32(const unsigned char *p)
{
	return (int)(uint32_t)(p[0] | (p[1] << 8) | (p[2] << 16) |
			       ((uint32_t)p[3] << 24));
}

static void tz_put_name(unsigned char *p, const char *name)
{
	unsigned int i;

	/* zone names are ASCII; 31 characters and the terminating 0 */
	for (i = 0; name[i] != '\0' && i < TZ_NAME_CHARS - 1; i++)
		tz_put_u16(p + i * 2, (unsigned char)name[i] & 0x7f);
}

static const char *tz_get_name(const unsigned char *p)
{
	string_t *str = t_str_new(TZ_NAME_CHARS);
	unsigned int i, c;

	for (i = 0; i < TZ_NAME_CHARS; i++) {
		c = tz_get_u16(p + i * 2);
		if (c == 0)
			break;
		if (c >= 0x20 && c < 0x7f)
			str_append_c(str, c);
		else
			uni_ucs4_to_utf8_c(c, str);
	}
	return str_c(str);
}

static void tz_put_transition(unsigned char *p, const struct tz_transition *tr)
{
	if (tr->month == 0)
		return;
	tz_put_u16(p + 2, tr->month);
	tz_put_u16(p + 4, tr->dow);
	tz_put_u16(p + 6, tr->week);
	tz_put_u16(p + 8, tr->hour);
	tz_put_u16(p + 10, tr->minute);
}

static void tz_make_blob(const struct tz_rules *r, const char *name,
			 unsigned char blob[AS_CALENDAR_TZ_BLOB_SIZE])
{
	memset(blob, 0, AS_CALENDAR_TZ_BLOB_SIZE);
	tz_put_i32(blob + TZ_OFF_BIAS, r->bias);
	tz_put_name(blob + TZ_OFF_STD_NAME, name);
	tz_put_name(blob + TZ_OFF_DST_NAME, name);
	if (r->dst_bias != 0) {
		tz_put_transition(blob + TZ_OFF_STD_DATE, &r->to_std);
		tz_put_transition(blob + TZ_OFF_DST_DATE, &r->to_dst);
		tz_put_i32(blob + TZ_OFF_DST_BIAS, r->dst_bias);
	}
}

/* A SYSTEMTIME of the blob as a yearly transition; FALSE if impossible */
static bool tz_get_transition(const unsigned char *p, int year,
			      struct tz_transition *tr_r)
{
	unsigned int wyear = tz_get_u16(p);

	tr_r->month = tz_get_u16(p + 2);
	tr_r->dow = tz_get_u16(p + 4);
	tr_r->week = tz_get_u16(p + 6);
	tr_r->hour = tz_get_u16(p + 8);
	tr_r->minute = tz_get_u16(p + 10);
	if (tr_r->month < 1 || tr_r->month > 12 || tr_r->hour > 23 ||
	    tr_r->minute > 59)
		return FALSE;
	if (wyear != 0) {
		/* an absolute date (wDay is the day of month): as the
		   weekday rule that gives it this year */
		struct tm tm;
		time_t t;

		if (tr_r->week < 1 ||
		    tr_r->week > tz_days_in_month(year, tr_r->month))
			return FALSE;
		i_zero(&tm);
		tm.tm_year = year - 1900;
		tm.tm_mon = tr_r->month - 1;
		tm.tm_mday = tr_r->week;
		tm.tm_hour = tr_r->hour;
		tm.tm_min = tr_r->minute;
		t = utc_mktime(&tm);
		tz_transition_from_wall(t, tr_r);
		return TRUE;
	}
	return tr_r->dow <= 6 && tr_r->week >= 1 && tr_r->week <= 5;
}

/* ---- zones ---- */

static const char *tz_offset_str(int minutes)
{
	int a = minutes < 0 ? -minutes : minutes;

	return t_strdup_printf("%c%02d%02d", minutes < 0 ? '-' : '+',
			       a / 60, a % 60);
}

static void tz_append_rule(string_t *str, const char *kind,
			   const struct tz_transition *tr, int off_from,
			   int off_to)
{
	unsigned int mday;

	str_printfa(str, "BEGIN:%s\r\n", kind);
	if (tr == NULL) {
		str_append(str, "DTSTART:19700101T000000\r\n");
	} else {
		mday = tz_transition_mday(tr, 1970);
		str_printfa(str, "DTSTART:1970%02u%02uT%02u%02u00\r\n",
			    tr->month, mday, tr->hour, tr->minute);
	}
	str_printfa(str, "TZOFFSETFROM:%s\r\nTZOFFSETTO:%s\r\n",
		    tz_offset_str(off_from), tz_offset_str(off_to));
	if (tr != NULL) {
		static const char *const days[] =
			{ "SU", "MO", "TU", "WE", "TH", "FR", "SA" };

		str_printfa(str, "RRULE:FREQ=YEARLY;BYMONTH=%u;BYDAY=%d%s\r\n",
			    tr->month, tr->week == 5 ? -1 : (int)tr->week,
			    days[tr->dow]);
	}
	str_printfa(str, "END:%s\r\n", kind);
}

static const char *tz_rules_vtimezone(const struct tz_rules *r,
				      const char *name)
{
	string_t *str = t_str_new(512);
	int std = -r->bias, dst = -(r->bias + r->dst_bias);

	str_printfa(str, "BEGIN:VTIMEZONE\r\nTZID:%s\r\n", name);
	if (r->dst_bias == 0) {
		tz_append_rule(str, "STANDARD", NULL, std, std);
	} else {
		tz_append_rule(str, "STANDARD", &r->to_std, dst, std);
		tz_append_rule(str, "DAYLIGHT", &r->to_dst, std, dst);
	}
	str_append(str, "END:VTIMEZONE\r\n");
	return str_c(str);
}

static icaltimezone *tz_zone_from_rules(const struct tz_rules *r,
					const char *name)
{
	icalcomponent *comp;
	icaltimezone *zone;

	comp = icalparser_parse_string(tz_rules_vtimezone(r, name));
	i_assert(comp != NULL);
	zone = icaltimezone_new();
	if (icaltimezone_set_component(zone, comp) == 0)
		i_unreached();
	return zone;
}

/* libical's builtin TZIDs carry a prefix (the function that says it
   isn't exported) */
static const char *tz_strip_prefix(const char *tzid)
{
	static const char *const prefixes[] = {
		"/freeassociation.sourceforge.net/Tzfile/",
		"/freeassociation.sourceforge.net/",
		"/citadel.org/",
	};
	unsigned int i;

	for (i = 0; i < N_ELEMENTS(prefixes); i++) {
		if (str_begins(tzid, prefixes[i]))
			return tzid + strlen(prefixes[i]);
	}
	return tzid;
}

static struct tz_cache *tz_cache_find(const char *name, int year)
{
	struct tz_cache *c;

	for (c = tz_cache_head; c != NULL; c = c->next) {
		if (c->year == year && strcmp(c->tz.name, name) == 0)
			return c;
	}
	return NULL;
}

static struct tz_cache *
tz_cache_add(icaltimezone *zone, const char *name, int year,
	     const struct tz_rules *r, bool custom)
{
	struct tz_cache *c = i_new(struct tz_cache, 1);

	c->year = year;
	c->custom = custom;
	c->tz.name = i_strdup(name);
	c->tz.zone = zone;
	tz_make_blob(r, name, c->tz.blob);
	c->next = tz_cache_head;
	tz_cache_head = c;
	return c;
}

/* A builtin zone (libical keeps it for the process's life) */
static const struct as_calendar_tz *
tz_builtin(icaltimezone *zone, const char *name, int year)
{
	struct tz_cache *c;
	struct tz_rules r;

	c = tz_cache_find(name, year);
	if (c != NULL && !c->custom)
		return &c->tz;
	tz_zone_rules(zone, year, &r);
	return &tz_cache_add(zone, name, year, &r, FALSE)->tz;
}

const struct as_calendar_tz *as_calendar_tz_from_name(const char *name,
						      int year)
{
	icaltimezone *zone;

	if (strcasecmp(name, "UTC") == 0 || strcasecmp(name, "GMT") == 0 ||
	    strcmp(name, "Etc/UTC") == 0 || strcmp(name, "Z") == 0)
		return as_calendar_tz_utc();
	name = tz_strip_prefix(name);
	zone = icaltimezone_get_builtin_timezone(name);
	if (zone == NULL)
		return NULL;
	return tz_builtin(zone, name, year);
}

const struct as_calendar_tz *as_calendar_tz_utc(void)
{
	if (tz_utc.zone == NULL) {
		tz_utc.name = "UTC";
		tz_utc.zone = icaltimezone_get_utc_timezone();
		/* the all-zero blob: what devices send for UTC */
		memset(tz_utc.blob, 0, sizeof(tz_utc.blob));
	}
	return &tz_utc;
}

/* The builtin zone of this name if its rules are r's */
static const struct as_calendar_tz *
tz_try_name(const char *name, int year, const struct tz_rules *r)
{
	const struct as_calendar_tz *tz;
	struct tz_rules zr;

	if (name == NULL || *name == '\0')
		return NULL;
	tz = as_calendar_tz_from_name(name, year);
	if (tz == NULL || tz->zone == icaltimezone_get_utc_timezone())
		return NULL;
	tz_zone_rules(tz->zone, year, &zr);
	return tz_rules_equal(&zr, r) ? tz : NULL;
}

static const struct as_calendar_tz *
tz_match(const char *blob_name, int year, const struct tz_rules *r)
{
	const struct as_calendar_tz *tz;
	icalarray *builtins;
	icaltimezone *zone;
	struct tz_rules zr;
	unsigned int i;
	size_t n;
	time_t jan, jul;
	struct tm tm;

	if ((tz = tz_try_name(blob_name, year, r)) != NULL)
		return tz;
	for (i = 0; i < N_ELEMENTS(tz_windows_names); i++) {
		if (strcasecmp(blob_name, tz_windows_names[i].windows) == 0 &&
		    (tz = tz_try_name(tz_windows_names[i].iana, year,
				      r)) != NULL)
			return tz;
	}
	for (i = 0; i < N_ELEMENTS(tz_preferred); i++) {
		if ((tz = tz_try_name(tz_preferred[i], year, r)) != NULL)
			return tz;
	}
	/* all zones: a quick look at two offsets first */
	i_zero(&tm);
	tm.tm_year = year - 1900;
	tm.tm_mday = 15;
	jan = utc_mktime(&tm);
	tm.tm_mon = 6;
	jul = utc_mktime(&tm);
	builtins = icaltimezone_get_builtin_timezones();
	for (n = 0; n < builtins->num_elements; n++) {
		int a, b, std;

		zone = icalarray_element_at(builtins, n);
		a = tz_offset(zone, jan);
		b = tz_offset(zone, jul);
		std = I_MIN(a, b);
		if (-std / 60 != r->bias ||
		    (a == b) != (r->dst_bias == 0))
			continue;
		tz_zone_rules(zone, year, &zr);
		if (tz_rules_equal(&zr, r)) {
			return tz_builtin(zone,
				tz_strip_prefix(icaltimezone_get_tzid(zone)),
				year);
		}
	}
	return NULL;
}

const struct as_calendar_tz *
as_calendar_tz_from_zone(icaltimezone *zone, const char *name, int year)
{
	const struct as_calendar_tz *tz;
	struct tz_cache *c;
	struct tz_rules r;

	/* the zone belongs to its object: the builtin zone of the name or
	   the rules is used, else a copy of its rules in that year */
	tz_zone_rules(zone, year, &r);
	if ((tz = tz_match(name, year, &r)) != NULL)
		return tz;
	if (r.bias == 0 && r.dst_bias == 0)
		return as_calendar_tz_utc();
	c = tz_cache_find(name, year);
	if (c == NULL) {
		c = tz_cache_add(tz_zone_from_rules(&r, name), name, year,
				 &r, TRUE);
	}
	return &c->tz;
}

int as_calendar_tz_from_blob(const char *base64, int year,
			     const struct as_calendar_tz **tz_r,
			     const char **warning_r, const char **error_r)
{
	static const unsigned char zero[AS_CALENDAR_TZ_BLOB_SIZE] = { 0 };
	const unsigned char *blob;
	const struct as_calendar_tz *tz;
	struct tz_cache *c;
	struct tz_rules r;
	const char *name;
	buffer_t *buf;

	*warning_r = NULL;
	buf = t_base64_decode_str(base64);
	if (buf->used != AS_CALENDAR_TZ_BLOB_SIZE) {
		*error_r = t_strdup_printf("TimeZone is %zu bytes, not %d",
					   buf->used,
					   AS_CALENDAR_TZ_BLOB_SIZE);
		return -1;
	}
	blob = buf->data;
	if (memcmp(blob, zero, sizeof(zero)) == 0) {
		*tz_r = as_calendar_tz_utc();
		return 0;
	}

	i_zero(&r);
	r.bias = tz_get_i32(blob + TZ_OFF_BIAS);
	if (r.bias < -14 * 60 || r.bias > 14 * 60) {
		*error_r = t_strdup_printf("TimeZone bias %d minutes is "
					   "impossible", r.bias);
		return -1;
	}
	/* StandardBias is 0 in practice: folded into the bias */
	r.bias += tz_get_i32(blob + TZ_OFF_STD_BIAS);
	if (tz_get_u16(blob + TZ_OFF_STD_DATE + 2) != 0 &&
	    tz_get_i32(blob + TZ_OFF_DST_BIAS) != 0) {
		r.dst_bias = tz_get_i32(blob + TZ_OFF_DST_BIAS) -
			tz_get_i32(blob + TZ_OFF_STD_BIAS);
		if (!tz_get_transition(blob + TZ_OFF_STD_DATE, year,
				       &r.to_std) ||
		    !tz_get_transition(blob + TZ_OFF_DST_DATE, year,
				       &r.to_dst) ||
		    r.dst_bias < -180 || r.dst_bias > 180) {
			*warning_r = "TimeZone has impossible daylight "
				"saving dates: used without daylight saving";
			i_zero(&r.to_std);
			i_zero(&r.to_dst);
			r.dst_bias = 0;
		}
	}
	name = tz_get_name(blob + TZ_OFF_STD_NAME);
	if ((tz = tz_match(name, year, &r)) != NULL) {
		*tz_r = tz;
		return 0;
	}
	if (r.bias == 0 && r.dst_bias == 0) {
		*tz_r = as_calendar_tz_utc();
		return 0;
	}
	/* no IANA zone has these rules: a zone of the blob's own, named
	   after its offsets (the blob's name may be anything) */
	name = t_strdup_printf("GMT%s%s", tz_offset_str(-r.bias),
		r.dst_bias == 0 ? "" : t_strdup_printf(
			"-DST%02u%u%u%02u-%02u%u%u%02u", r.to_dst.month,
			r.to_dst.week, r.to_dst.dow, r.to_dst.hour,
			r.to_std.month, r.to_std.week, r.to_std.dow,
			r.to_std.hour));
	c = tz_cache_find(name, year);
	if (c == NULL) {
		c = tz_cache_add(tz_zone_from_rules(&r, name), name, year,
				 &r, TRUE);
	}
	*tz_r = &c->tz;
	return 0;
}

const char *as_calendar_tz_blob_base64(const struct as_calendar_tz *tz)
{
	string_t *str = t_str_new(256);

	base64_encode(tz->blob, sizeof(tz->blob), str);
	return str_c(str);
}

const char *as_calendar_tz_vtimezone(const struct as_calendar_tz *tz,
				     int year)
{
	struct tz_rules r;

	tz_zone_rules(tz->zone, year, &r);
	return tz_rules_vtimezone(&r, tz->name);
}
