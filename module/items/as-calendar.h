#ifndef AS_CALENDAR_H
#define AS_CALENDAR_H

/* Calendar items (MS-ASCAL) stored as iCalendar VEVENTs (RFC 5545) in
   messages of a folder typed "event" (DESIGN.md, GroupWare-as-Email).
   The class itself is as_item_class_calendar (items/as-item.h).

   struct as_event holds the event's EAS values: as-calendar-ical.c reads
   it from a VCALENDAR and writes a VCALENDAR from it, as-calendar.c
   reads it from and writes it to WBXML, as-calendar-tz.c turns the
   device's TimeZone blobs into time zones and back.

   Times are UTC (time_t). An all-day event's dates are the wall-clock
   midnights read as if they were UTC ("floating" dates); tz says which
   zone the device meant them in (pre-16.0 devices send local midnight
   as UTC).

   The fields and their properties:
   Subject SUMMARY, Location (16.x airsyncbase:Location/DisplayName)
   LOCATION, Body DESCRIPTION, StartTime/EndTime DTSTART/DTEND (TZID of
   the TimeZone's zone, VTIMEZONE included; VALUE=DATE when AllDayEvent),
   UID UID, DtStamp DTSTAMP, Sensitivity CLASS, Reminder the first
   VALARM's TRIGGER, Categories CATEGORIES, OrganizerName/Email
   ORGANIZER;CN, Attendees ATTENDEE (CN, ROLE/CUTYPE for AttendeeType,
   PARTSTAT for AttendeeStatus), Recurrence RRULE, Exceptions EXDATE
   (deleted) and VEVENTs with RECURRENCE-ID (changed).
   Where EAS has no iCalendar property, X- properties keep the value:
   X-MICROSOFT-CDO-BUSYSTATUS   BusyStatus (as other Exchange-speaking
                                clients write it; TRANSP too)
   X-MICROSOFT-DISALLOW-COUNTER DisallowNewTimeProposal (Outlook's)
   X-ACTIVESYNC-TZID            the device's zone of an all-day event
   X-ACTIVESYNC-MEETINGSTATUS, X-ACTIVESYNC-RESPONSE-REQUESTED,
   X-ACTIVESYNC-RESPONSETYPE, X-ACTIVESYNC-CALENDARTYPE,
   X-ACTIVESYNC-ISLEAPMONTH
   CLASS:X-PERSONAL             Sensitivity 1
   OnlineMeetingConfLink and OnlineMeetingExternalLink (14.1+, server
   to device) come from X-MICROSOFT-ONLINEMEETINGCONFLINK and from
   X-MICROSOFT-ONLINEMEETINGEXTERNALLINK, X-MICROSOFT-SKYPETEAMSMEETINGURL,
   CONFERENCE (RFC 7986) or X-GOOGLE-CONFERENCE, the first present
   Other properties of an edited event's VEVENT are kept. */

struct wbxml_writer;
struct wbxml_node;
struct as_body_options;
struct as_item_class;
struct _icaltimezone;

extern const struct as_item_class as_item_class_calendar;
/* Content types of the part that carries the iCalendar object */
extern const char *const as_calendar_content_types[];

/* The bytes of a TIME_ZONE_INFORMATION (MS-ASDTYPE 2.7.4) */
#define AS_CALENDAR_TZ_BLOB_SIZE 172

/* Occurrences looked at at most when expanding a recurrence (date
   filter, checking an exception's occurrence): an RRULE without end is
   never expanded further */
#define AS_CALENDAR_MAX_EXPAND 5000

struct as_event_attendee {
	const char *email, *name;
	int type;			/* 1 required, 2 optional, 3 resource;
					   -1 none */
	int status;			/* 0 unknown, 2 tentative, 3 accept,
					   4 decline, 5 not responded; -1 */
};

struct as_event_recurrence {
	unsigned int type;		/* 0 daily, 1 weekly, 2 monthly,
					   3 monthly nth, 5 yearly,
					   6 yearly nth */
	bool have_until;
	time_t until;			/* UTC */
	unsigned int occurrences;	/* 0 = none */
	unsigned int interval;		/* 0 = none */
	unsigned int day_of_week;	/* bitmask: 1 Sunday .. 64 Saturday */
	unsigned int day_of_month, week_of_month, month_of_year; /* 0 none */
	int calendar_type, is_leap_month, first_day_of_week; /* -1 none */
};

/* What an exception changes; a field not set is the series' value */
struct as_event_exception {
	time_t start_orig;		/* the occurrence's original start */
	bool deleted;
	const char *subject, *location, *body;	/* NULL = unchanged */
	bool have_start, have_end;
	time_t start, end;
	int all_day, busy_status, sensitivity, meeting_status; /* -1 */
	int reminder;			/* minutes, -1 unchanged */
};
ARRAY_DEFINE_TYPE(as_event_exception, struct as_event_exception);
ARRAY_DEFINE_TYPE(as_event_attendee, struct as_event_attendee);

struct as_event {
	const char *uid;		/* NULL = none yet */
	const char *subject, *location, *body; /* NULL = none */
	bool have_start, have_end;
	time_t start, end;
	bool all_day;
	/* the device's time zone; NULL = UTC */
	const struct as_calendar_tz *tz;
	bool have_dtstamp;
	time_t dtstamp;
	int busy_status;		/* 0 free .. 4 working elsewhere; -1 */
	int sensitivity;		/* 0..3; -1 */
	int reminder;			/* minutes before; -1 none */
	const char *const *categories;	/* NULL-terminated */
	const char *organizer_email, *organizer_name;
	ARRAY_TYPE(as_event_attendee) attendees;
	int meeting_status;		/* -1 none */
	int response_requested;		/* 0/1, -1 none */
	int disallow_new_time;		/* 0/1, -1 none */
	int response_type;		/* -1 none */
	/* 14.1+, read only (server to device) */
	const char *online_conf_link, *online_external_link; /* NULL none */
	bool have_recurrence;
	struct as_event_recurrence recur;
	ARRAY_TYPE(as_event_exception) exceptions;
};

void as_event_init(struct as_event *event_r);
void as_event_exception_init(struct as_event_exception *exc_r);

/* --- as-calendar-tz.c --- */

/* A time zone as EAS sees it: the libical zone conversions use and the
   blob the device gets. */
struct as_calendar_tz {
	/* IANA name ("Europe/Berlin"), or a name made from the blob */
	const char *name;
	struct _icaltimezone *zone;	/* never NULL; libical owns it */
	unsigned char blob[AS_CALENDAR_TZ_BLOB_SIZE];
};

/* The zone of a base64 TimeZone blob as of year (for the DST rules):
   a builtin IANA zone with the same rules where one exists, else a zone
   made from the blob. The all-zero blob is UTC. -1 with error_r for
   what isn't a blob at all; impossible dates are logged (warning_r)
   and the zone keeps its bias without DST. */
int as_calendar_tz_from_blob(const char *base64, int year,
			     const struct as_calendar_tz **tz_r,
			     const char **warning_r, const char **error_r);
/* The zone named name (IANA) or given by a libical zone, with the blob
   of its rules in year; NULL if unknown */
const struct as_calendar_tz *as_calendar_tz_from_name(const char *name,
						      int year);
const struct as_calendar_tz *
as_calendar_tz_from_zone(struct _icaltimezone *zone, const char *name,
			 int year);
const struct as_calendar_tz *as_calendar_tz_utc(void);
/* The blob in base64, data stack */
const char *as_calendar_tz_blob_base64(const struct as_calendar_tz *tz);
/* A VTIMEZONE (TZID = tz->name) with the zone's rules of year, as text
   (data stack), for the object written */
const char *as_calendar_tz_vtimezone(const struct as_calendar_tz *tz,
				     int year);
/* UTC <-> wall clock (wall read as UTC) in the zone */
time_t as_calendar_tz_to_wall(const struct as_calendar_tz *tz, time_t utc);
time_t as_calendar_tz_from_wall(const struct as_calendar_tz *tz, time_t wall);
/* The year of a UTC time */
int as_calendar_year(time_t t);

/* --- as-calendar-ical.c --- */

/* The event of an iCalendar object (its master VEVENT, overrides as
   exceptions), from the data stack. -1 with error_r if it doesn't parse
   or has no VEVENT. Problems that leave a usable event (an RRULE libical
   can't read, an override of no occurrence) are in warning_r. */
int as_calendar_ical_read(const char *ical, struct as_event *event_r,
			  const char **warning_r, const char **error_r);
/* The iCalendar object of event: base (the current object, NULL for a
   new event) keeps its UID, its other properties and SEQUENCE + 1. */
int as_calendar_ical_write(const char *base, const struct as_event *event,
			   const char **ical_r, const char **warning_r,
			   const char **error_r);
/* Does the event (or one of its occurrences, looking at no more than
   AS_CALENDAR_MAX_EXPAND) end at or after since? */
bool as_calendar_ical_in_range(const char *ical, time_t since);

/* One occurrence of an event, exceptions applied. Times are UTC (an
   all-day event's midnights are those of its device's zone, else UTC). */
struct as_calendar_occurrence {
	time_t start, end;
	bool all_day;
	int busy_status;		/* 0 free .. 4 working elsewhere */
};
/* Returns FALSE to stop */
typedef bool as_calendar_occurrence_func_t(
	const struct as_calendar_occurrence *occ, void *context);
/* Calls func for each occurrence of the event that overlaps [from, to):
   the series' (in order, looking at no more than AS_CALENDAR_MAX_EXPAND
   of them), then the changed exceptions at their new times. Deleted
   occurrences and cancelled events (STATUS:CANCELLED) have none.
   Returns 1 if every occurrence was seen, 0 if expanding stopped at the
   limit, -1 with error_r if the object doesn't parse. */
int as_calendar_ical_occurrences(const char *ical, time_t from, time_t to,
				 as_calendar_occurrence_func_t *func,
				 void *context, const char **error_r);

/* --- as-calendar.c --- */

void as_calendar_write(struct wbxml_writer *w, const struct as_event *event,
		       unsigned int version, const struct as_body_options *body);
/* A device's event (its ApplicationData). -1 with error_r for values
   that can't be an event. */
int as_calendar_parse(const struct wbxml_node *data, unsigned int version,
		      struct as_event *event_r, const char **warning_r,
		      const char **error_r);
/* The readable text part of an event's message (when, where, ...) */
const char *as_calendar_summary(const struct as_event *event);

#endif
