#ifndef AS_TASK_H
#define AS_TASK_H

/* Tasks (MS-ASTASK) stored as iCalendar VTODOs (RFC 5545) in messages of
   a folder typed "task" (DESIGN.md, GroupWare-as-Email). The class itself
   is as_item_class_task (items/as-item.h).

   Between the two sides stands struct as_task, the task's EAS values:
   as-task-ical.c reads it from a VTODO and merges it into one, as-task.c
   reads it from and writes it to WBXML. Where a value has no iCalendar
   property it is kept in an X- property or parameter:

   X-ACTIVESYNC-UTC-OFFSET      (parameter of a floating DTSTART/DUE) the
                                device's local time minus UTC, so that
                                StartDate and UtcStartDate both come back
   CLASS:X-PERSONAL             Sensitivity 1 (personal); RFC 5545 has
                                clients treat an unknown class as PRIVATE
   X-ACTIVESYNC-RECURRENCE-START  the recurrence's Start when it isn't
                                the task's DTSTART
   X-ACTIVESYNC-REGENERATE, X-ACTIVESYNC-DEADOCCUR,
   X-ACTIVESYNC-CALENDARTYPE, X-ACTIVESYNC-ISLEAPMONTH
                                recurrence elements RRULE can't say
   X-ACTIVESYNC-ORDINALDATE, X-ACTIVESYNC-SUBORDINALDATE
                                the device's sort order

   Everything else in the VTODO (other properties, VALARMs after the
   first, RELATED-TO, X- properties of other clients) is kept as it is
   when a device edits the task. */

struct wbxml_writer;
struct wbxml_node;
struct as_body_options;
struct as_item_class;

extern const struct as_item_class as_item_class_task;

/* The field groups a device sets together, also the unit of the merge:
   a group the device leaves alone keeps the VTODO's properties as they
   are (whatever their form: TZID, VALUE=DATE, relative alarms). */
enum as_task_field {
	AS_TASK_FIELD_SUBJECT		= 0x0001, /* SUMMARY */
	AS_TASK_FIELD_BODY		= 0x0002, /* DESCRIPTION */
	AS_TASK_FIELD_START		= 0x0004, /* DTSTART */
	AS_TASK_FIELD_DUE		= 0x0008, /* DUE */
	AS_TASK_FIELD_COMPLETE		= 0x0010, /* STATUS, COMPLETED,
						     PERCENT-COMPLETE */
	AS_TASK_FIELD_IMPORTANCE	= 0x0020, /* PRIORITY */
	AS_TASK_FIELD_SENSITIVITY	= 0x0040, /* CLASS */
	AS_TASK_FIELD_REMINDER		= 0x0080, /* VALARM TRIGGER */
	AS_TASK_FIELD_CATEGORIES	= 0x0100, /* CATEGORIES */
	AS_TASK_FIELD_RECURRENCE	= 0x0200, /* RRULE + X- */
	AS_TASK_FIELD_ORDINAL		= 0x0400, /* X- */
};

/* A date the device gives as local ("floating") and UTC time. local is
   the wall clock read as if it were UTC. */
struct as_task_time {
	bool have_local, have_utc;
	time_t local, utc;
};

struct as_task_recurrence {
	unsigned int type;		/* 0 daily, 1 weekly, 2 monthly,
					   3 monthly nth, 5 yearly,
					   6 yearly nth */
	time_t start;			/* wall clock, as local above */
	bool have_until;
	time_t until;
	unsigned int occurrences;	/* 0 = none */
	unsigned int interval;		/* 0 = none */
	unsigned int day_of_week;	/* bitmask: 1 Sunday .. 64 Saturday */
	unsigned int day_of_month, week_of_month, month_of_year; /* 0 none */
	/* -1 = none */
	int regenerate, dead_occur, calendar_type, is_leap_month;
	int first_day_of_week;
};

struct as_task {
	const char *uid;		/* read only; NULL = none */
	const char *subject;		/* NULL = none */
	const char *body;		/* NULL = none */
	struct as_task_time start, due;
	bool complete;
	bool have_date_completed;
	time_t date_completed;
	int importance;			/* 0 low, 1 normal, 2 high, -1 none */
	int sensitivity;		/* 0..3, -1 none */
	bool reminder_set, have_reminder_time;
	time_t reminder_time;		/* UTC */
	const char *const *categories;	/* NULL-terminated */
	bool have_recurrence;
	struct as_task_recurrence recur;
	bool have_ordinal_date;
	time_t ordinal_date;
	const char *sub_ordinal_date;	/* NULL = none */
};

void as_task_init(struct as_task *task_r);

/* --- as-task-ical.c --- */

/* The task of an iCalendar object (its first VTODO), from the data
   stack. -1 with error_r if it doesn't parse or has no VTODO. */
int as_task_ical_read(const char *ical, struct as_task *task_r,
		      const char **error_r);
/* Merge the fields (enum as_task_field) of task into base (an iCalendar
   object, NULL for a new task) and return the new object: the base's
   VTODO with those fields replaced and everything else kept, UID kept
   or made, DTSTAMP, LAST-MODIFIED and (for an edit) SEQUENCE updated.
   A base without a readable VTODO is started anew. */
int as_task_ical_merge(const char *base, const struct as_task *task,
		       unsigned int fields, const char **ical_r,
		       const char **error_r);

/* --- as-task.c --- */

/* The task's elements (children of ApplicationData) for a device of
   version (enum as_protocol_version). */
void as_task_write(struct wbxml_writer *w, const struct as_task *task,
		   unsigned int version, const struct as_body_options *body);
/* A device's task: the values it sent and the fields (groups) it sent
   anything of. -1 with error_r for values that can't be a task. */
int as_task_parse(const struct wbxml_node *data, struct as_task *task_r,
		  unsigned int *sent_fields_r, const char **error_r);
/* The iCalendar object of a device's Add (base NULL) or Change (base =
   the current object, may be NULL or unreadable). supported: the tags
   of the collection's <Supported> (have_supported FALSE: none given). */
int as_task_build_ical(const struct wbxml_node *data, const char *base,
		       unsigned int version, bool have_supported,
		       const unsigned int *supported,
		       unsigned int supported_count,
		       const char **ical_r, const char **error_r);

#endif
