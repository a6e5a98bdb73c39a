/* Copyright (c) dovecot-activesync authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "buffer.h"
#include "str.h"
#include "strnum.h"
#include "mail-html2text.h"
#include "mail-storage.h"
#include "wbxml.h"
#include "http/as-request.h"
#include "items/as-body-prefs.h"
#include "items/as-categories.h"
#include "items/as-datetime.h"
#include "items/as-draft.h"
#include "items/as-groupware-msg.h"
#include "items/as-item.h"
#include "items/as-task.h"

#include <time.h>

/* The EAS elements of each field group: a device's Change leaves a group
   alone when it is ghosted (none of its elements in <Supported>). The
   iCalendar side of each group is in as-task.h. */
static const struct task_field {
	enum as_task_field field;
	unsigned int tags[2];
} task_fields[] = {
	{ AS_TASK_FIELD_SUBJECT, { EAS_TASKS_SUBJECT, 0 } },
	{ AS_TASK_FIELD_BODY, { EAS_AIRSYNCBASE_BODY, 0 } },
	{ AS_TASK_FIELD_START, { EAS_TASKS_STARTDATE,
				 EAS_TASKS_UTCSTARTDATE } },
	{ AS_TASK_FIELD_DUE, { EAS_TASKS_DUEDATE, EAS_TASKS_UTCDUEDATE } },
	{ AS_TASK_FIELD_COMPLETE, { EAS_TASKS_COMPLETE,
				    EAS_TASKS_DATECOMPLETED } },
	{ AS_TASK_FIELD_IMPORTANCE, { EAS_TASKS_IMPORTANCE, 0 } },
	{ AS_TASK_FIELD_SENSITIVITY, { EAS_TASKS_SENSITIVITY, 0 } },
	{ AS_TASK_FIELD_REMINDER, { EAS_TASKS_REMINDERSET,
				    EAS_TASKS_REMINDERTIME } },
	{ AS_TASK_FIELD_CATEGORIES, { EAS_TASKS_CATEGORIES, 0 } },
	{ AS_TASK_FIELD_RECURRENCE, { EAS_TASKS_RECURRENCE, 0 } },
	{ AS_TASK_FIELD_ORDINAL, { EAS_TASKS_ORDINALDATE,
				   EAS_TASKS_SUBORDINALDATE } },
};

static const char *const task_content_types[] = {
	"text/calendar", "application/ics", NULL
};

struct task_item {
	struct as_task task;
	unsigned int version;
	const struct as_body_options *body;
};

/* ---- WBXML out ---- */

static void task_write_recurrence(struct wbxml_writer *w,
				  const struct as_task_recurrence *rec,
				  unsigned int version)
{
	wbxml_start(w, EAS_TASKS_RECURRENCE);
	wbxml_elem_uint(w, EAS_TASKS_TYPE, rec->type);
	wbxml_elem_str(w, EAS_TASKS_START, as_datetime_format(rec->start));
	if (rec->have_until)
		wbxml_elem_str(w, EAS_TASKS_UNTIL,
			       as_datetime_format(rec->until));
	if (rec->occurrences > 0)
		wbxml_elem_uint(w, EAS_TASKS_OCCURRENCES, rec->occurrences);
	wbxml_elem_uint(w, EAS_TASKS_INTERVAL,
			rec->interval > 0 ? rec->interval : 1);
	if (rec->day_of_week != 0)
		wbxml_elem_uint(w, EAS_TASKS_DAYOFWEEK, rec->day_of_week);
	if (rec->day_of_month != 0)
		wbxml_elem_uint(w, EAS_TASKS_DAYOFMONTH, rec->day_of_month);
	if (rec->week_of_month != 0)
		wbxml_elem_uint(w, EAS_TASKS_WEEKOFMONTH, rec->week_of_month);
	if (rec->month_of_year != 0)
		wbxml_elem_uint(w, EAS_TASKS_MONTHOFYEAR, rec->month_of_year);
	if (rec->regenerate >= 0)
		wbxml_elem_uint(w, EAS_TASKS_REGENERATE, rec->regenerate);
	if (rec->dead_occur >= 0)
		wbxml_elem_uint(w, EAS_TASKS_DEADOCCUR, rec->dead_occur);
	if (version >= AS_VERSION_14_0) {
		if (rec->calendar_type >= 0)
			wbxml_elem_uint(w, EAS_TASKS_CALENDARTYPE,
					rec->calendar_type);
		if (rec->is_leap_month >= 0)
			wbxml_elem_uint(w, EAS_TASKS_ISLEAPMONTH,
					rec->is_leap_month);
	}
	/* required in responses for weekly recurrences (14.1+); RFC 5545's
	   default week start is Monday */
	if (version >= AS_VERSION_14_1 &&
	    (rec->first_day_of_week >= 0 || rec->type == 1)) {
		wbxml_elem_uint(w, EAS_TASKS_FIRSTDAYOFWEEK,
				rec->first_day_of_week >= 0 ?
				rec->first_day_of_week : 1);
	}
	wbxml_end(w);
}

static void task_write_time(struct wbxml_writer *w,
			    const struct as_task_time *t,
			    unsigned int utc_tag, unsigned int local_tag)
{
	if (t->have_utc)
		wbxml_elem_str(w, utc_tag, as_datetime_format(t->utc));
	if (t->have_local)
		wbxml_elem_str(w, local_tag, as_datetime_format(t->local));
}

/* One field group's elements (the body apart) */
static void task_write_field(struct wbxml_writer *w, const struct as_task *task,
			     enum as_task_field field, unsigned int version)
{
	const char *const *cat;

	switch (field) {
	case AS_TASK_FIELD_SUBJECT:
		if (task->subject != NULL)
			wbxml_elem_str(w, EAS_TASKS_SUBJECT, task->subject);
		break;
	case AS_TASK_FIELD_BODY:
		break;
	case AS_TASK_FIELD_IMPORTANCE:
		if (task->importance >= 0)
			wbxml_elem_uint(w, EAS_TASKS_IMPORTANCE,
					task->importance);
		break;
	case AS_TASK_FIELD_START:
		task_write_time(w, &task->start, EAS_TASKS_UTCSTARTDATE,
				EAS_TASKS_STARTDATE);
		break;
	case AS_TASK_FIELD_DUE:
		task_write_time(w, &task->due, EAS_TASKS_UTCDUEDATE,
				EAS_TASKS_DUEDATE);
		break;
	case AS_TASK_FIELD_CATEGORIES:
		if (task->categories[0] == NULL)
			break;
		wbxml_start(w, EAS_TASKS_CATEGORIES);
		for (cat = task->categories; *cat != NULL; cat++)
			wbxml_elem_str(w, EAS_TASKS_CATEGORY, *cat);
		wbxml_end(w);
		break;
	case AS_TASK_FIELD_RECURRENCE:
		if (task->have_recurrence)
			task_write_recurrence(w, &task->recur, version);
		break;
	case AS_TASK_FIELD_COMPLETE:
		wbxml_elem_uint(w, EAS_TASKS_COMPLETE, task->complete ? 1 : 0);
		if (task->complete && task->have_date_completed)
			wbxml_elem_str(w, EAS_TASKS_DATECOMPLETED,
				       as_datetime_format(task->date_completed));
		break;
	case AS_TASK_FIELD_SENSITIVITY:
		if (task->sensitivity >= 0)
			wbxml_elem_uint(w, EAS_TASKS_SENSITIVITY,
					task->sensitivity);
		break;
	case AS_TASK_FIELD_REMINDER:
		if (task->reminder_set && task->have_reminder_time)
			wbxml_elem_str(w, EAS_TASKS_REMINDERTIME,
				       as_datetime_format(task->reminder_time));
		wbxml_elem_uint(w, EAS_TASKS_REMINDERSET,
				task->reminder_set ? 1 : 0);
		break;
	case AS_TASK_FIELD_ORDINAL:
		if (task->have_ordinal_date)
			wbxml_elem_str(w, EAS_TASKS_ORDINALDATE,
				       as_datetime_format(task->ordinal_date));
		if (task->sub_ordinal_date != NULL)
			wbxml_elem_str(w, EAS_TASKS_SUBORDINALDATE,
				       task->sub_ordinal_date);
		break;
	}
}

/* The order of MS-ASTASK's schema */
static const enum as_task_field task_write_order[] = {
	AS_TASK_FIELD_SUBJECT, AS_TASK_FIELD_IMPORTANCE, AS_TASK_FIELD_START,
	AS_TASK_FIELD_DUE, AS_TASK_FIELD_CATEGORIES, AS_TASK_FIELD_RECURRENCE,
	AS_TASK_FIELD_COMPLETE, AS_TASK_FIELD_SENSITIVITY,
	AS_TASK_FIELD_REMINDER, AS_TASK_FIELD_ORDINAL,
};

void as_task_write(struct wbxml_writer *w, const struct as_task *task,
		   unsigned int version, const struct as_body_options *body)
{
	struct as_body_options default_body;
	unsigned int i;

	if (task->body != NULL) {
		if (body == NULL) {
			as_body_options_init(&default_body);
			body = &default_body;
		}
		as_body_write_text(w, task->body, body);
	}
	for (i = 0; i < N_ELEMENTS(task_write_order); i++)
		task_write_field(w, task, task_write_order[i], version);
}

/* ---- WBXML in ---- */

static int task_uint(const struct wbxml_node *node, unsigned int max,
		     unsigned int *value_r, const char **error_r)
{
	if (str_to_uint(wbxml_node_text(node), value_r) < 0 ||
	    *value_r > max) {
		*error_r = t_strdup_printf("invalid %s: %s",
					   wbxml_tag_name(node->tag),
					   wbxml_node_text(node));
		return -1;
	}
	return 0;
}

static int task_int(const struct wbxml_node *node, unsigned int max,
		    int *value_r, const char **error_r)
{
	unsigned int value;

	if (task_uint(node, max, &value, error_r) < 0)
		return -1;
	*value_r = (int)value;
	return 0;
}

static int task_date(const struct wbxml_node *node, time_t *t_r,
		     const char **error_r)
{
	if (!as_datetime_parse(wbxml_node_text(node), t_r)) {
		*error_r = t_strdup_printf("invalid %s: %s",
					   wbxml_tag_name(node->tag),
					   wbxml_node_text(node));
		return -1;
	}
	return 0;
}

static int task_parse_recurrence(const struct wbxml_node *recur,
				 struct as_task_recurrence *rec,
				 const char **error_r)
{
	const struct wbxml_node *child;
	bool have_type = FALSE, have_start = FALSE;
	int ret = 0;

	wbxml_node_foreach_child(recur, child) {
		switch (child->tag) {
		case EAS_TASKS_TYPE:
			ret = task_uint(child, 6, &rec->type, error_r);
			if (ret == 0 && rec->type == 4) {
				*error_r = "invalid recurrence Type 4";
				ret = -1;
			}
			have_type = TRUE;
			break;
		case EAS_TASKS_START:
			ret = task_date(child, &rec->start, error_r);
			have_start = TRUE;
			break;
		case EAS_TASKS_UNTIL:
			ret = task_date(child, &rec->until, error_r);
			rec->have_until = TRUE;
			break;
		case EAS_TASKS_OCCURRENCES:
			ret = task_uint(child, 999, &rec->occurrences,
					error_r);
			break;
		case EAS_TASKS_INTERVAL:
			ret = task_uint(child, 999, &rec->interval, error_r);
			break;
		case EAS_TASKS_DAYOFWEEK:
			ret = task_uint(child, 127, &rec->day_of_week, error_r);
			break;
		case EAS_TASKS_DAYOFMONTH:
			ret = task_uint(child, 31, &rec->day_of_month, error_r);
			break;
		case EAS_TASKS_WEEKOFMONTH:
			ret = task_uint(child, 5, &rec->week_of_month, error_r);
			break;
		case EAS_TASKS_MONTHOFYEAR:
			ret = task_uint(child, 12, &rec->month_of_year,
					error_r);
			break;
		case EAS_TASKS_REGENERATE:
			ret = task_int(child, 1, &rec->regenerate, error_r);
			break;
		case EAS_TASKS_DEADOCCUR:
			ret = task_int(child, 1, &rec->dead_occur, error_r);
			break;
		case EAS_TASKS_CALENDARTYPE:
			ret = task_int(child, 99, &rec->calendar_type,
				       error_r);
			break;
		case EAS_TASKS_ISLEAPMONTH:
			ret = task_int(child, 1, &rec->is_leap_month, error_r);
			break;
		case EAS_TASKS_FIRSTDAYOFWEEK:
			ret = task_int(child, 6, &rec->first_day_of_week,
				       error_r);
			break;
		}
		if (ret < 0)
			return -1;
	}
	if (!have_type) {
		*error_r = "Recurrence without Type";
		return -1;
	}
	if (!have_start) {
		*error_r = "Recurrence without Start";
		return -1;
	}
	if ((rec->type == 1 || rec->type == 3 || rec->type == 6) &&
	    rec->day_of_week == 0) {
		*error_r = "Recurrence without DayOfWeek";
		return -1;
	}
	if ((rec->type == 3 || rec->type == 6) && rec->week_of_month == 0) {
		*error_r = "Recurrence without WeekOfMonth";
		return -1;
	}
	return 0;
}

static const char *task_html_to_plain(const char *html)
{
	struct mail_html2text *ht;
	buffer_t *out = t_buffer_create(strlen(html) + 1);

	ht = mail_html2text_init(0);
	mail_html2text_more(ht, (const void *)html, strlen(html), out);
	mail_html2text_deinit(&ht);
	return t_strndup(out->data, out->used);
}

static int task_parse_categories(const struct wbxml_node *cats,
				 struct as_task *task, const char **error_r)
{
	ARRAY_TYPE(const_string) list;
	const struct wbxml_node *cat;
	const char *name;

	t_array_init(&list, 4);
	wbxml_node_foreach_child(cats, cat) {
		if (cat->tag != EAS_TASKS_CATEGORY)
			continue;
		name = wbxml_node_text(cat);
		if (as_category_to_keyword(name) == NULL) {
			*error_r = "invalid Category";
			return -1;
		}
		array_push_back(&list, &name);
	}
	array_append_zero(&list);
	task->categories = array_front(&list);
	return 0;
}

static int task_parse_child(const struct wbxml_node *child,
			    struct as_task *task, unsigned int *sent,
			    const char **error_r)
{
	const char *text;
	unsigned int value;
	bool html;

	switch (child->tag) {
	case EAS_TASKS_SUBJECT:
		task->subject = as_draft_utf8_valid(wbxml_node_text(child));
		*sent |= AS_TASK_FIELD_SUBJECT;
		return 0;
	case EAS_AIRSYNCBASE_BODY:
		if (as_draft_body_text(child, &text, &html, error_r) < 0)
			return -1;
		text = as_draft_utf8_valid(text);
		task->body = html ? task_html_to_plain(text) : text;
		*sent |= AS_TASK_FIELD_BODY;
		return 0;
	case EAS_TASKS_STARTDATE:
		task->start.have_local = TRUE;
		*sent |= AS_TASK_FIELD_START;
		return task_date(child, &task->start.local, error_r);
	case EAS_TASKS_UTCSTARTDATE:
		task->start.have_utc = TRUE;
		*sent |= AS_TASK_FIELD_START;
		return task_date(child, &task->start.utc, error_r);
	case EAS_TASKS_DUEDATE:
		task->due.have_local = TRUE;
		*sent |= AS_TASK_FIELD_DUE;
		return task_date(child, &task->due.local, error_r);
	case EAS_TASKS_UTCDUEDATE:
		task->due.have_utc = TRUE;
		*sent |= AS_TASK_FIELD_DUE;
		return task_date(child, &task->due.utc, error_r);
	case EAS_TASKS_COMPLETE:
		*sent |= AS_TASK_FIELD_COMPLETE;
		if (task_uint(child, 1, &value, error_r) < 0)
			return -1;
		task->complete = value == 1;
		return 0;
	case EAS_TASKS_DATECOMPLETED:
		*sent |= AS_TASK_FIELD_COMPLETE;
		task->have_date_completed = TRUE;
		return task_date(child, &task->date_completed, error_r);
	case EAS_TASKS_IMPORTANCE:
		*sent |= AS_TASK_FIELD_IMPORTANCE;
		return task_int(child, 2, &task->importance, error_r);
	case EAS_TASKS_SENSITIVITY:
		*sent |= AS_TASK_FIELD_SENSITIVITY;
		return task_int(child, 3, &task->sensitivity, error_r);
	case EAS_TASKS_REMINDERSET:
		*sent |= AS_TASK_FIELD_REMINDER;
		if (task_uint(child, 1, &value, error_r) < 0)
			return -1;
		task->reminder_set = value == 1;
		return 0;
	case EAS_TASKS_REMINDERTIME:
		*sent |= AS_TASK_FIELD_REMINDER;
		task->have_reminder_time = TRUE;
		return task_date(child, &task->reminder_time, error_r);
	case EAS_TASKS_CATEGORIES:
		*sent |= AS_TASK_FIELD_CATEGORIES;
		return task_parse_categories(child, task, error_r);
	case EAS_TASKS_RECURRENCE:
		*sent |= AS_TASK_FIELD_RECURRENCE;
		task->have_recurrence = TRUE;
		return task_parse_recurrence(child, &task->recur, error_r);
	case EAS_TASKS_ORDINALDATE:
		*sent |= AS_TASK_FIELD_ORDINAL;
		task->have_ordinal_date = TRUE;
		return task_date(child, &task->ordinal_date, error_r);
	case EAS_TASKS_SUBORDINALDATE:
		*sent |= AS_TASK_FIELD_ORDINAL;
		task->sub_ordinal_date =
			as_draft_utf8_valid(wbxml_node_text(child));
		return 0;
	}
	/* a contact or a mail in a tasks folder is refused, not saved as
	   an empty task; other Tasks elements are legacy or read-only */
	if (EAS_TAG_PAGE(child->tag) != EAS_TAG_PAGE(EAS_TASKS_SUBJECT) &&
	    EAS_TAG_PAGE(child->tag) != EAS_TAG_PAGE(EAS_AIRSYNCBASE_BODY)) {
		*error_r = t_strdup_printf("%s isn't a task element",
					   wbxml_tag_describe(child->tag));
		return -1;
	}
	return 0;
}

int as_task_parse(const struct wbxml_node *data, struct as_task *task_r,
		  unsigned int *sent_fields_r, const char **error_r)
{
	const struct wbxml_node *child;

	as_task_init(task_r);
	*sent_fields_r = 0;
	wbxml_node_foreach_child(data, child) {
		if (task_parse_child(child, task_r, sent_fields_r,
				     error_r) < 0)
			return -1;
	}
	/* a reminder set without a time takes the one given, and ReminderSet
	   0 with a time is no reminder */
	if (!task_r->reminder_set)
		task_r->have_reminder_time = FALSE;
	return 0;
}

/* ---- merge ---- */

static bool task_field_ghosted(const struct task_field *field,
			       bool have_supported,
			       const unsigned int *supported,
			       unsigned int supported_count)
{
	unsigned int i, j;

	if (!have_supported)
		return FALSE;
	for (i = 0; i < N_ELEMENTS(field->tags) && field->tags[i] != 0; i++) {
		for (j = 0; j < supported_count; j++) {
			if (supported[j] == field->tags[i])
				return FALSE;
		}
	}
	return TRUE;
}

static const buffer_t *
task_field_wbxml(const struct as_task *task, enum as_task_field field,
		 unsigned int version)
{
	buffer_t *buf = t_buffer_create(128);
	struct wbxml_writer *w = wbxml_writer_init(buf);

	task_write_field(w, task, field, version);
	wbxml_writer_deinit(&w);
	return buf;
}

/* Does the device's value differ from what the base gives the device? */
static bool task_field_changed(const struct as_task *dev,
			       const struct as_task *base,
			       enum as_task_field field, unsigned int version)
{
	if (field == AS_TASK_FIELD_BODY)
		return null_strcmp(dev->body, base->body) != 0;
	return !buffer_cmp(task_field_wbxml(dev, field, version),
			   task_field_wbxml(base, field, version));
}

int as_task_build_ical(const struct wbxml_node *data, const char *base,
		       unsigned int version, bool have_supported,
		       const unsigned int *supported,
		       unsigned int supported_count,
		       const char **ical_r, const char **error_r)
{
	struct as_task dev, base_task;
	unsigned int i, sent, fields = 0;
	const char *error;

	if (as_task_parse(data, &dev, &sent, error_r) < 0)
		return -1;
	if (base != NULL && as_task_ical_read(base, &base_task, &error) < 0)
		base = NULL;
	if (base == NULL) {
		/* a new task: everything the device sent */
		return as_task_ical_merge(NULL, &dev, sent, ical_r, error_r);
	}

	for (i = 0; i < N_ELEMENTS(task_fields); i++) {
		enum as_task_field field = task_fields[i].field;

		if ((sent & field) == 0) {
			/* omitted: deleted unless ghosted (MS-ASCMD
			   2.2.3.168). The body and the completion are kept:
			   devices leave out what they didn't change there */
			if (field == AS_TASK_FIELD_BODY ||
			    field == AS_TASK_FIELD_COMPLETE ||
			    task_field_ghosted(&task_fields[i], have_supported,
					       supported, supported_count))
				continue;
		}
		/* the same value as the base's: its properties stay as they
		   are written (TZID, VALUE=DATE, relative alarms, ...) */
		if (task_field_changed(&dev, &base_task, field, version))
			fields |= field;
	}
	return as_task_ical_merge(base, &dev, fields, ical_r, error_r);
}

/* ---- the item class ---- */

static const char *task_summary(const struct as_task *task)
{
	static const char *const importance[] = { "low", "normal", "high" };
	string_t *str = t_str_new(256);
	const char *const *cat;

	str_printfa(str, "Task: %s\n",
		    task->subject == NULL ? "" : task->subject);
	if (task->start.have_local)
		str_printfa(str, "Start: %s\n", t_strcut(
			as_datetime_format(task->start.local), '.'));
	if (task->due.have_local)
		str_printfa(str, "Due: %s\n", t_strcut(
			as_datetime_format(task->due.local), '.'));
	if (task->complete) {
		str_append(str, "Status: completed");
		if (task->have_date_completed)
			str_printfa(str, " %s UTC", t_strcut(
				as_datetime_format(task->date_completed), '.'));
		str_append_c(str, '\n');
	} else {
		str_append(str, "Status: not completed\n");
	}
	if (task->importance >= 0 && task->importance <= 2)
		str_printfa(str, "Priority: %s\n",
			    importance[task->importance]);
	if (task->have_recurrence)
		str_append(str, "Recurring\n");
	if (task->categories[0] != NULL) {
		str_append(str, "Categories:");
		for (cat = task->categories; *cat != NULL; cat++)
			str_printfa(str, " %s", *cat);
		str_append_c(str, '\n');
	}
	if (task->body != NULL && *task->body != '\0')
		str_printfa(str, "\n%s\n", task->body);
	return str_c(str);
}

/* A task we can't read (no VTODO, iCalendar that doesn't parse, an
   event in a task folder) is still sent with the message's Subject, so
   the device shows it and one bad message doesn't keep the folder busy:
   it is logged once, when it is sent. */
static void
task_unreadable(struct mail *mail, const char *error, struct as_task *task_r)
{
	const char *subject;

	e_warning(mail_event(mail), "Tasks: UID %u: %s, sent with its "
		  "Subject only", mail->uid, error);
	as_task_init(task_r);
	if (mail_get_first_header_utf8(mail, "Subject", &subject) <= 0 ||
	    *subject == '\0')
		subject = "?";
	task_r->subject = subject;
}

static int
task_read(struct mail *mail, const struct as_item_params *params,
	  struct as_item **item_r, const char **error_r)
{
	struct task_item *item;
	const char *object, *error;
	int ret;

	ret = as_groupware_msg_read(mail, task_content_types, &object,
				    error_r);
	if (ret < 0)
		return -1;
	item = t_new(struct task_item, 1);
	if (ret == 0)
		task_unreadable(mail, *error_r, &item->task);
	else if (as_task_ical_read(object, &item->task, &error) < 0)
		task_unreadable(mail, error, &item->task);
	item->version = params->version;
	item->body = params->body;
	*item_r = (struct as_item *)item;
	return 0;
}

static void task_write(struct wbxml_writer *w, const struct as_item *_item)
{
	const struct task_item *item = (const struct task_item *)_item;

	as_task_write(w, &item->task, item->version, item->body);
}

/* FilterType 8: incomplete tasks only (MS-ASCMD FilterType) */
#define TASK_FILTER_INCOMPLETE 8

static bool task_filtered_out(const struct as_item *_item,
			      unsigned int filter_type)
{
	const struct task_item *item = (const struct task_item *)_item;

	return filter_type == TASK_FILTER_INCOMPLETE && item->task.complete;
}

static const char *task_item_uid(const struct as_item *_item)
{
	return ((const struct task_item *)_item)->task.uid;
}

static int
task_build(const struct as_item_build *build, string_t *dest,
	   const char *const **keywords_r, const char **error_r)
{
	const struct as_item_params *params = build->params;
	ARRAY_TYPE(const_string) keywords;
	struct as_groupware_msg msg;
	struct as_task task;
	const char *base = NULL, *ical, *error, *keyword;
	const char *const *cat;
	int ret;

	if (build->base != NULL) {
		/* a message without a calendar part is replaced by a new
		   task; one that can't be read now is left as it is, rather
		   than losing what the device doesn't show */
		ret = as_groupware_msg_read(build->base, task_content_types,
					    &base, &error);
		if (ret < 0) {
			*error_r = t_strdup_printf(
				"the task being changed can't be read: %s",
				error);
			return -1;
		}
		if (ret == 0)
			base = NULL;
	}
	if (as_task_build_ical(build->data, base, params->version,
			       params->have_supported, params->supported,
			       params->supported_count, &ical, error_r) < 0)
		return -1;
	if (as_task_ical_read(ical, &task, &error) < 0) {
		*error_r = t_strdup_printf("the new task doesn't read: %s",
					   error);
		return -1;
	}

	/* categories as keywords too, so mail clients can search them */
	t_array_init(&keywords, 4);
	for (cat = task.categories; *cat != NULL; cat++) {
		keyword = as_category_to_keyword(*cat);
		if (keyword != NULL)
			array_push_back(&keywords, &keyword);
	}
	array_append_zero(&keywords);
	*keywords_r = array_front(&keywords);

	i_zero(&msg);
	msg.from = build->from;
	msg.subject = task.subject;
	msg.summary = task_summary(&task);
	msg.content_type = "text/calendar";
	msg.filename = "task.ics";
	msg.object = ical;
	as_groupware_msg_build(&msg, dest);
	return 0;
}

const struct as_item_class as_item_class_task = {
	.name = "Tasks",
	.folder_class = AS_FOLDER_CLASS_TASKS,
	.wanted_fields = MAIL_FETCH_STREAM_HEADER | MAIL_FETCH_STREAM_BODY |
		MAIL_FETCH_IMAP_BODYSTRUCTURE,
	.read = task_read,
	.write = task_write,
	.build = task_build,
	.item_uid = task_item_uid,
	.filtered_out = task_filtered_out,
	/* the date FilterTypes don't apply to tasks: only 8 does */
	.date_filter = FALSE,
	.change_in_place = FALSE,
};
