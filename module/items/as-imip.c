/* Copyright (c) dovecot-activesync authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "buffer.h"
#include "base64.h"
#include "hex-binary.h"
#include "ioloop.h"
#include "items/as-calendar.h"
#include "items/as-ical-time.h"
#include "items/as-imip.h"

#include <time.h>
#include <libical/ical.h>

/* libical allocates with malloc: every component made here is freed
   before returning; what is returned is copied to the data stack. The
   X- properties are the calendar converter's (as-calendar.h). */

#define IMIP_X_BUSYSTATUS "X-MICROSOFT-CDO-BUSYSTATUS"
#define IMIP_X_INTENDED "X-MICROSOFT-CDO-INTENDEDSTATUS"
#define IMIP_X_MEETINGSTATUS "X-ACTIVESYNC-MEETINGSTATUS"
#define IMIP_X_RESPONSETYPE "X-ACTIVESYNC-RESPONSETYPE"
#define IMIP_X_RESPONSE_REQUESTED "X-ACTIVESYNC-RESPONSE-REQUESTED"
#define IMIP_PRODID "-//dovecot-activesync//Calendar//EN"

/* MeetingStatus (MS-ASCAL 2.2.2.29): received from an organizer, and
   received then cancelled */
#define IMIP_MEETING_RECEIVED "3"
#define IMIP_MEETING_RECEIVED_CANCELLED "7"
/* ResponseType (MS-ASCAL 2.2.2.38) */
#define IMIP_RESPONSE_NONE "5"

/* The class id every Outlook GlobalObjectId starts with (MS-OXOCAL
   2.2.1.27) */
static const unsigned char imip_goid_class[16] = {
	0x04, 0x00, 0x00, 0x00, 0x82, 0x00, 0xE0, 0x00,
	0x74, 0xC5, 0xB7, 0x10, 0x1A, 0x82, 0xE0, 0x08
};
/* What follows it before the data: instance date (4), creation time
   (8), reserved (8), data size (4) */
#define IMIP_GOID_HEADER_SIZE (16 + 4 + 8 + 8 + 4)

/* ---- parsing ---- */

static icalcomponent *imip_parse(const char *ical, const char **error_r)
{
	return as_ical_parse(ical, ICAL_VEVENT_COMPONENT, error_r);
}

static const char *imip_ical_string(icalcomponent *cal)
{
	char *str = icalcomponent_as_ical_string_r(cal);
	const char *ret = t_strdup(str);

	free(str);
	return ret;
}

/* The VEVENT without RECURRENCE-ID, else the first one */
static icalcomponent *imip_master(icalcomponent *cal)
{
	icalcomponent *vevent;

	for (vevent = icalcomponent_get_first_component(cal,
			ICAL_VEVENT_COMPONENT);
	     vevent != NULL;
	     vevent = icalcomponent_get_next_component(cal,
			ICAL_VEVENT_COMPONENT)) {
		if (icalcomponent_get_first_property(vevent,
				ICAL_RECURRENCEID_PROPERTY) == NULL)
			return vevent;
	}
	return icalcomponent_get_first_component(cal, ICAL_VEVENT_COMPONENT);
}

static const char *imip_mailto(const char *value)
{
	if (value == NULL)
		return NULL;
	if (strncasecmp(value, "mailto:", 7) == 0)
		value += 7;
	return value;
}

static bool imip_addr_in(const char *value, const char *const *addrs)
{
	value = imip_mailto(value);
	if (value == NULL)
		return FALSE;
	for (; *addrs != NULL; addrs++) {
		if (strcasecmp(value, *addrs) == 0)
			return TRUE;
	}
	return FALSE;
}

static icalproperty *
imip_find_attendee(icalcomponent *vevent, const char *const *addrs)
{
	icalproperty *prop;

	for (prop = icalcomponent_get_first_property(vevent,
						     ICAL_ATTENDEE_PROPERTY);
	     prop != NULL;
	     prop = icalcomponent_get_next_property(vevent,
						    ICAL_ATTENDEE_PROPERTY)) {
		if (imip_addr_in(icalproperty_get_attendee(prop), addrs))
			return prop;
	}
	return NULL;
}

static void imip_x_set(icalcomponent *comp, const char *name,
		       const char *value)
{
	icalproperty *prop, *next;

	for (prop = icalcomponent_get_first_property(comp, ICAL_X_PROPERTY);
	     prop != NULL; prop = next) {
		next = icalcomponent_get_next_property(comp, ICAL_X_PROPERTY);
		if (strcasecmp(icalproperty_get_x_name(prop), name) == 0) {
			icalcomponent_remove_property(comp, prop);
			icalproperty_free(prop);
		}
	}
	if (value == NULL)
		return;
	prop = icalproperty_new_x(value);
	icalproperty_set_x_name(prop, name);
	icalcomponent_add_property(comp, prop);
}

static const char *imip_x_get(icalcomponent *comp, const char *name)
{
	icalproperty *prop;

	for (prop = icalcomponent_get_first_property(comp, ICAL_X_PROPERTY);
	     prop != NULL;
	     prop = icalcomponent_get_next_property(comp, ICAL_X_PROPERTY)) {
		if (strcasecmp(icalproperty_get_x_name(prop), name) == 0)
			return icalproperty_get_x(prop);
	}
	return NULL;
}

static void imip_remove_all(icalcomponent *comp, icalproperty_kind kind)
{
	icalproperty *prop;

	while ((prop = icalcomponent_get_first_property(comp, kind)) != NULL) {
		icalcomponent_remove_property(comp, prop);
		icalproperty_free(prop);
	}
}

static void imip_set_partstat(icalproperty *attendee,
			      icalparameter_partstat partstat)
{
	icalproperty_remove_parameter_by_kind(attendee,
					      ICAL_PARTSTAT_PARAMETER);
	icalproperty_add_parameter(attendee,
				   icalparameter_new_partstat(partstat));
}

static void imip_set_method(icalcomponent *cal, icalproperty_method method)
{
	imip_remove_all(cal, ICAL_METHOD_PROPERTY);
	if (method != ICAL_METHOD_NONE)
		icalcomponent_add_property(cal,
					   icalproperty_new_method(method));
}

/* ---- times ---- */

/* The zone a TZID names: a builtin IANA zone or the object's VTIMEZONE */
static const struct as_calendar_tz *
imip_prop_tz(icalcomponent *cal, icalproperty *prop, int year)
{
	const struct as_calendar_tz *tz;
	icalparameter *param;
	icaltimezone *zone;
	const char *tzid;

	param = icalproperty_get_first_parameter(prop, ICAL_TZID_PARAMETER);
	tzid = param == NULL ? NULL : icalparameter_get_tzid(param);
	if (tzid == NULL)
		return NULL;
	tz = as_calendar_tz_from_name(tzid, year);
	if (tz == NULL) {
		zone = icalcomponent_get_timezone(cal, tzid);
		if (zone != NULL)
			tz = as_calendar_tz_from_zone(zone, tzid, year);
	}
	return tz;
}

/* A time property as UTC (a DATE: its floating midnight) */
static time_t imip_prop_time(icalcomponent *cal, icalproperty *prop,
			     struct icaltimetype tt)
{
	const struct as_calendar_tz *tz;
	time_t wall = as_ical_wall(tt);

	if (tt.is_date || icaltime_is_utc(tt))
		return wall;
	tz = imip_prop_tz(cal, prop, tt.year);
	return tz == NULL ? wall : as_calendar_tz_from_wall(tz, wall);
}

/* A new property of kind at t, in the form of the master's DTSTART
   (DATE, UTC, or the wall clock of its TZID) */
static icalproperty *
imip_time_like(icalcomponent *cal, icalproperty *dtstart,
	       icalproperty_kind kind, time_t t)
{
	struct icaltimetype like = icalproperty_get_dtstart(dtstart), tt;
	const struct as_calendar_tz *tz = NULL;
	icalproperty *prop = icalproperty_new(kind);
	icalparameter *param;

	if (like.is_date) {
		tt = icaltime_from_timet_with_zone(t, 1, NULL);
		tt.zone = NULL;
		icalproperty_set_value(prop, icalvalue_new_date(tt));
		return prop;
	}
	if (!icaltime_is_utc(like))
		tz = imip_prop_tz(cal, dtstart, like.year);
	if (tz == NULL) {
		tt = as_ical_utc(t);
	} else {
		tt = icaltime_from_timet_with_zone(
			as_calendar_tz_to_wall(tz, t), 0, NULL);
		tt.zone = NULL;
		param = icalproperty_get_first_parameter(dtstart,
			ICAL_TZID_PARAMETER);
		icalproperty_add_parameter(prop, icalparameter_new_clone(param));
	}
	icalproperty_set_value(prop, icalvalue_new_datetime(tt));
	return prop;
}

/* ---- reading an invitation ---- */

static enum as_imip_method imip_method(icalcomponent *cal)
{
	icalproperty *prop;

	prop = icalcomponent_get_first_property(cal, ICAL_METHOD_PROPERTY);
	if (prop == NULL)
		return AS_IMIP_METHOD_NONE;
	switch (icalproperty_get_method(prop)) {
	case ICAL_METHOD_REQUEST:
		return AS_IMIP_METHOD_REQUEST;
	case ICAL_METHOD_CANCEL:
		return AS_IMIP_METHOD_CANCEL;
	case ICAL_METHOD_REPLY:
		return AS_IMIP_METHOD_REPLY;
	default:
		return AS_IMIP_METHOD_OTHER;
	}
}

static int imip_response_of(icalproperty *attendee)
{
	icalparameter *param = icalproperty_get_first_parameter(attendee,
		ICAL_PARTSTAT_PARAMETER);

	if (param == NULL)
		return 0;
	switch (icalparameter_get_partstat(param)) {
	case ICAL_PARTSTAT_ACCEPTED:
		return AS_IMIP_RESPONSE_ACCEPT;
	case ICAL_PARTSTAT_TENTATIVE:
		return AS_IMIP_RESPONSE_TENTATIVE;
	case ICAL_PARTSTAT_DECLINED:
		return AS_IMIP_RESPONSE_DECLINE;
	default:
		return 0;
	}
}

int as_imip_parse(const char *ical, struct as_imip *imip_r,
		  const char **error_r)
{
	icalcomponent *cal, *master, *copy, *comp;
	icalproperty *prop;
	const char *text, *warning;
	int ret;

	i_zero(imip_r);
	cal = imip_parse(ical, error_r);
	if (cal == NULL)
		return -1;
	imip_r->method = imip_method(cal);
	master = imip_master(cal);
	text = icalcomponent_get_uid(master);
	if (text == NULL || *text == '\0') {
		icalcomponent_free(cal);
		*error_r = "VEVENT without UID";
		return -1;
	}
	imip_r->uid = t_strdup(text);
	prop = icalcomponent_get_first_property(master,
						ICAL_SEQUENCE_PROPERTY);
	imip_r->sequence = prop == NULL ? 0 : icalproperty_get_sequence(prop);
	for (prop = icalcomponent_get_first_property(master,
						     ICAL_ATTENDEE_PROPERTY);
	     prop != NULL;
	     prop = icalcomponent_get_next_property(master,
						    ICAL_ATTENDEE_PROPERTY)) {
		icalparameter *param = icalproperty_get_first_parameter(prop,
			ICAL_RSVP_PARAMETER);

		if (param != NULL &&
		    icalparameter_get_rsvp(param) == ICAL_RSVP_TRUE)
			imip_r->rsvp = TRUE;
	}
	if (imip_r->method == AS_IMIP_METHOD_REPLY) {
		prop = icalcomponent_get_first_property(master,
			ICAL_ATTENDEE_PROPERTY);
		imip_r->reply_response = prop == NULL ? 0 :
			imip_response_of(prop);
	}
	prop = icalcomponent_get_first_property(master,
						ICAL_RECURRENCEID_PROPERTY);
	if (prop != NULL) {
		/* one occurrence: read it as an event of its own */
		imip_r->have_recurrence_id = TRUE;
		imip_r->recurrence_id = imip_prop_time(cal, prop,
			icalproperty_get_recurrenceid(prop));
		copy = icalcomponent_new_vcalendar();
		for (comp = icalcomponent_get_first_component(cal,
				ICAL_VTIMEZONE_COMPONENT);
		     comp != NULL;
		     comp = icalcomponent_get_next_component(cal,
				ICAL_VTIMEZONE_COMPONENT))
			icalcomponent_add_component(copy,
				icalcomponent_new_clone(comp));
		comp = icalcomponent_new_clone(master);
		imip_remove_all(comp, ICAL_RECURRENCEID_PROPERTY);
		icalcomponent_add_component(copy, comp);
		text = imip_ical_string(copy);
		icalcomponent_free(copy);
	} else {
		text = ical;
	}
	icalcomponent_free(cal);
	ret = as_calendar_ical_read(text, &imip_r->event, &warning, error_r);
	return ret;
}

bool as_imip_uid(const char *ical, const char **uid_r, int *sequence_r)
{
	icalcomponent *cal, *master;
	icalproperty *prop;
	const char *uid, *error;

	cal = imip_parse(ical, &error);
	if (cal == NULL)
		return FALSE;
	master = imip_master(cal);
	uid = icalcomponent_get_uid(master);
	*uid_r = uid == NULL ? NULL : t_strdup(uid);
	prop = icalcomponent_get_first_property(master,
						ICAL_SEQUENCE_PROPERTY);
	*sequence_r = prop == NULL ? 0 : icalproperty_get_sequence(prop);
	icalcomponent_free(cal);
	return *uid_r != NULL;
}

/* ---- GlobalObjId ---- */

static bool imip_uid_is_outlook(const char *uid, buffer_t *blob)
{
	size_t len = strlen(uid);

	if (len < IMIP_GOID_HEADER_SIZE * 2 || len % 2 != 0)
		return FALSE;
	if (hex_to_binary(uid, blob) < 0)
		return FALSE;
	return memcmp(blob->data, imip_goid_class,
		      sizeof(imip_goid_class)) == 0;
}

const char *as_imip_global_obj_id(const char *uid, bool have_instance,
				  time_t instance)
{
	static const unsigned char vcal_tag[] = {
		'v', 'C', 'a', 'l', '-', 'U', 'i', 'd', 0x01, 0x00, 0x00, 0x00
	};
	size_t uid_len = strlen(uid);
	buffer_t *blob = t_buffer_create(IMIP_GOID_HEADER_SIZE + uid_len + 16);
	string_t *out;
	unsigned char *date;
	uint32_t size;
	struct tm tm;

	buffer_set_used_size(blob, 0);
	if (!imip_uid_is_outlook(uid, blob)) {
		buffer_set_used_size(blob, 0);
		buffer_append(blob, imip_goid_class, sizeof(imip_goid_class));
		/* instance date, creation time, reserved: zero */
		buffer_append_zero(blob, 4 + 8 + 8);
		size = sizeof(vcal_tag) + uid_len + 1;
		buffer_append_c(blob, size & 0xff);
		buffer_append_c(blob, (size >> 8) & 0xff);
		buffer_append_c(blob, (size >> 16) & 0xff);
		buffer_append_c(blob, (size >> 24) & 0xff);
		buffer_append(blob, vcal_tag, sizeof(vcal_tag));
		buffer_append(blob, uid, uid_len);
		buffer_append_c(blob, '\0');
	}
	date = buffer_get_space_unsafe(blob, 16, 4);
	if (have_instance) {
		tm = *gmtime(&instance);
		date[0] = ((tm.tm_year + 1900) >> 8) & 0xff;
		date[1] = (tm.tm_year + 1900) & 0xff;
		date[2] = tm.tm_mon + 1;
		date[3] = tm.tm_mday;
	} else {
		memset(date, 0, 4);
	}
	out = t_str_new(MAX_BASE64_ENCODED_SIZE(blob->used) + 1);
	base64_encode(blob->data, blob->used, out);
	return str_c(out);
}

/* ---- people ---- */

bool as_imip_is_attendee(const char *ical, const char *const *addrs)
{
	icalcomponent *cal;
	const char *error;
	bool ret;

	cal = imip_parse(ical, &error);
	if (cal == NULL)
		return FALSE;
	ret = imip_find_attendee(imip_master(cal), addrs) != NULL;
	icalcomponent_free(cal);
	return ret;
}

bool as_imip_is_organizer(const char *ical, const char *const *addrs)
{
	icalcomponent *cal;
	icalproperty *prop;
	const char *error;
	bool ret;

	cal = imip_parse(ical, &error);
	if (cal == NULL)
		return FALSE;
	prop = icalcomponent_get_first_property(imip_master(cal),
						ICAL_ORGANIZER_PROPERTY);
	ret = prop != NULL &&
		imip_addr_in(icalproperty_get_organizer(prop), addrs);
	icalcomponent_free(cal);
	return ret;
}

const char *const *as_imip_attendees(const char *ical)
{
	ARRAY_TYPE(const_string) addrs;
	icalcomponent *cal, *master;
	icalproperty *prop;
	const char *error, *addr;

	t_array_init(&addrs, 8);
	cal = imip_parse(ical, &error);
	if (cal != NULL) {
		master = imip_master(cal);
		for (prop = icalcomponent_get_first_property(master,
				ICAL_ATTENDEE_PROPERTY);
		     prop != NULL;
		     prop = icalcomponent_get_next_property(master,
				ICAL_ATTENDEE_PROPERTY)) {
			addr = imip_mailto(icalproperty_get_attendee(prop));
			if (addr != NULL && *addr != '\0') {
				addr = t_strdup(addr);
				array_push_back(&addrs, &addr);
			}
		}
		icalcomponent_free(cal);
	}
	array_append_zero(&addrs);
	return array_front(&addrs);
}

/* ---- the attendee's copy ---- */

int as_imip_event_from_request(const char *request,
			       const char *const *user_addrs,
			       const char **ical_r, const char **error_r)
{
	icalcomponent *cal, *vevent;
	icalproperty *att;
	bool rsvp = FALSE;

	cal = imip_parse(request, error_r);
	if (cal == NULL)
		return -1;
	imip_set_method(cal, ICAL_METHOD_NONE);
	for (vevent = icalcomponent_get_first_component(cal,
			ICAL_VEVENT_COMPONENT);
	     vevent != NULL;
	     vevent = icalcomponent_get_next_component(cal,
			ICAL_VEVENT_COMPONENT)) {
		att = imip_find_attendee(vevent, user_addrs);
		if (att != NULL) {
			icalparameter *param = icalproperty_get_first_parameter(
				att, ICAL_RSVP_PARAMETER);

			rsvp = param != NULL && icalparameter_get_rsvp(param) ==
				ICAL_RSVP_TRUE;
			imip_set_partstat(att, ICAL_PARTSTAT_NEEDSACTION);
		}
		/* what the organizer means (busy) stays for the answer */
		if (imip_x_get(vevent, IMIP_X_INTENDED) == NULL &&
		    imip_x_get(vevent, IMIP_X_BUSYSTATUS) != NULL) {
			imip_x_set(vevent, IMIP_X_INTENDED, t_strdup(
				imip_x_get(vevent, IMIP_X_BUSYSTATUS)));
		}
		imip_x_set(vevent, IMIP_X_BUSYSTATUS, "TENTATIVE");
		imip_x_set(vevent, IMIP_X_MEETINGSTATUS, IMIP_MEETING_RECEIVED);
		imip_x_set(vevent, IMIP_X_RESPONSETYPE, IMIP_RESPONSE_NONE);
		imip_x_set(vevent, IMIP_X_RESPONSE_REQUESTED,
			   rsvp ? "1" : "0");
	}
	*ical_r = imip_ical_string(cal);
	icalcomponent_free(cal);
	return 0;
}

/* The override VEVENT of the occurrence at instance, NULL if none */
static icalcomponent *
imip_find_override(icalcomponent *cal, time_t instance)
{
	icalcomponent *vevent;
	icalproperty *rid;

	for (vevent = icalcomponent_get_first_component(cal,
			ICAL_VEVENT_COMPONENT);
	     vevent != NULL;
	     vevent = icalcomponent_get_next_component(cal,
			ICAL_VEVENT_COMPONENT)) {
		rid = icalcomponent_get_first_property(vevent,
			ICAL_RECURRENCEID_PROPERTY);
		if (rid != NULL && imip_prop_time(cal, rid,
				icalproperty_get_recurrenceid(rid)) == instance)
			return vevent;
	}
	return NULL;
}

/* The occurrence at instance leaves the series: an EXDATE, and its
   override (if any) goes */
static void imip_exclude(icalcomponent *cal, icalcomponent *master,
			 time_t instance)
{
	icalcomponent *override = imip_find_override(cal, instance);
	icalproperty *dtstart, *exdate;

	if (override != NULL) {
		icalcomponent_remove_component(cal, override);
		icalcomponent_free(override);
	}
	dtstart = icalcomponent_get_first_property(master,
						   ICAL_DTSTART_PROPERTY);
	if (dtstart == NULL)
		return;
	exdate = imip_time_like(cal, dtstart, ICAL_EXDATE_PROPERTY, instance);
	icalcomponent_add_property(master, exdate);
}

/* An override VEVENT for the occurrence at instance: a copy of the
   master without recurrence, moved to the occurrence */
static icalcomponent *
imip_make_override(icalcomponent *cal, icalcomponent *master, time_t instance,
		   const char **error_r)
{
	icalcomponent *vevent;
	icalproperty *dtstart, *dtend;
	time_t start, end;

	dtstart = icalcomponent_get_first_property(master,
						   ICAL_DTSTART_PROPERTY);
	if (dtstart == NULL ||
	    icalcomponent_get_first_property(master,
					     ICAL_RRULE_PROPERTY) == NULL) {
		*error_r = "the event has no recurrence";
		return NULL;
	}
	start = imip_prop_time(cal, dtstart, icalproperty_get_dtstart(dtstart));
	dtend = icalcomponent_get_first_property(master, ICAL_DTEND_PROPERTY);
	end = dtend == NULL ? start :
		imip_prop_time(cal, dtend, icalproperty_get_dtend(dtend));

	vevent = icalcomponent_new_clone(master);
	imip_remove_all(vevent, ICAL_RRULE_PROPERTY);
	imip_remove_all(vevent, ICAL_RDATE_PROPERTY);
	imip_remove_all(vevent, ICAL_EXDATE_PROPERTY);
	imip_remove_all(vevent, ICAL_DTSTART_PROPERTY);
	imip_remove_all(vevent, ICAL_DTEND_PROPERTY);
	icalcomponent_add_property(vevent, imip_time_like(cal, dtstart,
		ICAL_RECURRENCEID_PROPERTY, instance));
	icalcomponent_add_property(vevent, imip_time_like(cal, dtstart,
		ICAL_DTSTART_PROPERTY, instance));
	if (dtend != NULL) {
		icalcomponent_add_property(vevent, imip_time_like(cal, dtstart,
			ICAL_DTEND_PROPERTY, instance + (end - start)));
	}
	icalcomponent_add_component(cal, vevent);
	return vevent;
}

int as_imip_event_cancel(const char *event, const struct as_imip *cancel,
			 const char **ical_r, const char **error_r)
{
	icalcomponent *cal, *master, *vevent;

	cal = imip_parse(event, error_r);
	if (cal == NULL)
		return -1;
	master = imip_master(cal);
	if (cancel->have_recurrence_id &&
	    icalcomponent_get_first_property(master,
					     ICAL_RRULE_PROPERTY) != NULL) {
		imip_exclude(cal, master, cancel->recurrence_id);
	} else {
		for (vevent = icalcomponent_get_first_component(cal,
				ICAL_VEVENT_COMPONENT);
		     vevent != NULL;
		     vevent = icalcomponent_get_next_component(cal,
				ICAL_VEVENT_COMPONENT)) {
			imip_remove_all(vevent, ICAL_STATUS_PROPERTY);
			icalcomponent_add_property(vevent,
				icalproperty_new_status(ICAL_STATUS_CANCELLED));
			imip_x_set(vevent, IMIP_X_MEETINGSTATUS,
				   IMIP_MEETING_RECEIVED_CANCELLED);
			imip_x_set(vevent, IMIP_X_BUSYSTATUS, "FREE");
		}
	}
	*ical_r = imip_ical_string(cal);
	icalcomponent_free(cal);
	return 0;
}

static icalparameter_partstat imip_partstat(enum as_imip_response response)
{
	switch (response) {
	case AS_IMIP_RESPONSE_ACCEPT:
		return ICAL_PARTSTAT_ACCEPTED;
	case AS_IMIP_RESPONSE_TENTATIVE:
		return ICAL_PARTSTAT_TENTATIVE;
	case AS_IMIP_RESPONSE_DECLINE:
		return ICAL_PARTSTAT_DECLINED;
	}
	i_unreached();
}

static void imip_respond_vevent(icalcomponent *vevent,
				const char *const *user_addrs,
				enum as_imip_response response,
				const char **attendee_r)
{
	icalproperty *att = imip_find_attendee(vevent, user_addrs);
	const char *busy;

	if (att != NULL) {
		imip_set_partstat(att, imip_partstat(response));
		icalproperty_remove_parameter_by_kind(att,
						      ICAL_RSVP_PARAMETER);
		if (*attendee_r == NULL)
			*attendee_r = t_strdup(imip_mailto(
				icalproperty_get_attendee(att)));
	}
	switch (response) {
	case AS_IMIP_RESPONSE_ACCEPT:
		busy = imip_x_get(vevent, IMIP_X_INTENDED);
		busy = busy == NULL ? "BUSY" : t_strdup(busy);
		imip_x_set(vevent, IMIP_X_RESPONSETYPE, "3");
		break;
	case AS_IMIP_RESPONSE_TENTATIVE:
		busy = "TENTATIVE";
		imip_x_set(vevent, IMIP_X_RESPONSETYPE, "2");
		break;
	case AS_IMIP_RESPONSE_DECLINE:
	default:
		busy = "FREE";
		imip_x_set(vevent, IMIP_X_RESPONSETYPE, "4");
		break;
	}
	imip_x_set(vevent, IMIP_X_BUSYSTATUS, busy);
	/* TRANSP follows the busy status, as the converter writes it */
	imip_remove_all(vevent, ICAL_TRANSP_PROPERTY);
	icalcomponent_add_property(vevent, icalproperty_new_transp(
		strcmp(busy, "FREE") == 0 ? ICAL_TRANSP_TRANSPARENT :
		ICAL_TRANSP_OPAQUE));
}

int as_imip_event_respond(const char *event, const char *const *user_addrs,
			  enum as_imip_response response, bool have_instance,
			  time_t instance, const char **ical_r,
			  const char **attendee_r, const char **error_r)
{
	icalcomponent *cal, *master, *vevent;

	*attendee_r = NULL;
	cal = imip_parse(event, error_r);
	if (cal == NULL)
		return -1;
	master = imip_master(cal);
	if (have_instance) {
		vevent = imip_find_override(cal, instance);
		if (vevent == NULL) {
			vevent = imip_make_override(cal, master, instance,
						    error_r);
			if (vevent == NULL) {
				icalcomponent_free(cal);
				return -1;
			}
		}
		imip_respond_vevent(vevent, user_addrs, response, attendee_r);
		if (response == AS_IMIP_RESPONSE_DECLINE)
			imip_exclude(cal, master, instance);
	} else {
		for (vevent = icalcomponent_get_first_component(cal,
				ICAL_VEVENT_COMPONENT);
		     vevent != NULL;
		     vevent = icalcomponent_get_next_component(cal,
				ICAL_VEVENT_COMPONENT))
			imip_respond_vevent(vevent, user_addrs, response,
					    attendee_r);
	}
	*ical_r = imip_ical_string(cal);
	icalcomponent_free(cal);
	return 0;
}

/* The user's copy of one invited VEVENT: PARTSTAT=NEEDS-ACTION and
   the X- properties of a received, unanswered meeting */
static void imip_mark_received(icalcomponent *vevent,
			       const char *const *user_addrs)
{
	icalproperty *att = imip_find_attendee(vevent, user_addrs);

	if (att != NULL)
		imip_set_partstat(att, ICAL_PARTSTAT_NEEDSACTION);
	imip_x_set(vevent, IMIP_X_BUSYSTATUS, "TENTATIVE");
	imip_x_set(vevent, IMIP_X_MEETINGSTATUS, IMIP_MEETING_RECEIVED);
	imip_x_set(vevent, IMIP_X_RESPONSETYPE, IMIP_RESPONSE_NONE);
}

static bool imip_has_timezone(icalcomponent *cal, const char *tzid)
{
	icalcomponent *comp;

	for (comp = icalcomponent_get_first_component(cal,
			ICAL_VTIMEZONE_COMPONENT);
	     comp != NULL;
	     comp = icalcomponent_get_next_component(cal,
			ICAL_VTIMEZONE_COMPONENT)) {
		icalproperty *prop = icalcomponent_get_first_property(comp,
			ICAL_TZID_PROPERTY);

		if (prop != NULL && null_strcmp(icalproperty_get_tzid(prop),
						tzid) == 0)
			return TRUE;
	}
	return FALSE;
}

int as_imip_event_merge_occurrence(const char *event, const char *request,
				   const char *const *user_addrs,
				   const char **ical_r, bool *changed_r,
				   const char **error_r)
{
	icalcomponent *cal, *req, *vevent, *old, *copy, *comp;
	icalproperty *rid, *prop;
	int old_seq, new_seq;

	*changed_r = FALSE;
	cal = imip_parse(event, error_r);
	if (cal == NULL)
		return -1;
	req = imip_parse(request, error_r);
	if (req == NULL) {
		icalcomponent_free(cal);
		return -1;
	}
	for (vevent = icalcomponent_get_first_component(req,
			ICAL_VEVENT_COMPONENT);
	     vevent != NULL;
	     vevent = icalcomponent_get_next_component(req,
			ICAL_VEVENT_COMPONENT)) {
		rid = icalcomponent_get_first_property(vevent,
			ICAL_RECURRENCEID_PROPERTY);
		if (rid == NULL)
			continue;
		prop = icalcomponent_get_first_property(vevent,
			ICAL_SEQUENCE_PROPERTY);
		new_seq = prop == NULL ? 0 : icalproperty_get_sequence(prop);
		old = imip_find_override(cal, imip_prop_time(req, rid,
			icalproperty_get_recurrenceid(rid)));
		if (old != NULL) {
			prop = icalcomponent_get_first_property(old,
				ICAL_SEQUENCE_PROPERTY);
			old_seq = prop == NULL ? 0 :
				icalproperty_get_sequence(prop);
			if (old_seq >= new_seq)
				continue;
			icalcomponent_remove_component(cal, old);
			icalcomponent_free(old);
		}
		copy = icalcomponent_new_clone(vevent);
		imip_mark_received(copy, user_addrs);
		icalcomponent_add_component(cal, copy);
		*changed_r = TRUE;
	}
	/* the zones the new occurrences name */
	for (comp = icalcomponent_get_first_component(req,
			ICAL_VTIMEZONE_COMPONENT);
	     comp != NULL && *changed_r;
	     comp = icalcomponent_get_next_component(req,
			ICAL_VTIMEZONE_COMPONENT)) {
		prop = icalcomponent_get_first_property(comp,
							ICAL_TZID_PROPERTY);
		if (prop != NULL &&
		    !imip_has_timezone(cal, icalproperty_get_tzid(prop)))
			icalcomponent_add_component(cal,
				icalcomponent_new_clone(comp));
	}
	*ical_r = imip_ical_string(cal);
	icalcomponent_free(req);
	icalcomponent_free(cal);
	return 0;
}

int as_imip_event_apply_reply(const char *event, const char *reply,
			      const char **ical_r, const char **attendee_r,
			      const char **error_r)
{
	icalcomponent *cal, *rcal, *rvevent, *vevent;
	icalproperty *ratt, *att, *rid;
	icalparameter *param;
	const char *addrs[2];
	int ret = 0;

	*attendee_r = NULL;
	rcal = imip_parse(reply, error_r);
	if (rcal == NULL)
		return -1;
	rvevent = imip_master(rcal);
	ratt = icalcomponent_get_first_property(rvevent,
						ICAL_ATTENDEE_PROPERTY);
	param = ratt == NULL ? NULL :
		icalproperty_get_first_parameter(ratt, ICAL_PARTSTAT_PARAMETER);
	if (param == NULL) {
		icalcomponent_free(rcal);
		*error_r = "REPLY without an ATTENDEE and its PARTSTAT";
		return -1;
	}
	addrs[0] = t_strdup(imip_mailto(icalproperty_get_attendee(ratt)));
	addrs[1] = NULL;
	*attendee_r = addrs[0];
	cal = imip_parse(event, error_r);
	if (cal == NULL) {
		icalcomponent_free(rcal);
		return -1;
	}
	vevent = imip_master(cal);
	rid = icalcomponent_get_first_property(rvevent,
					       ICAL_RECURRENCEID_PROPERTY);
	if (imip_find_attendee(vevent, addrs) == NULL) {
		*error_r = t_strdup_printf("REPLY from %s, who isn't invited",
					   addrs[0]);
		ret = -1;
	} else if (rid != NULL) {
		time_t instance = imip_prop_time(rcal, rid,
			icalproperty_get_recurrenceid(rid));

		vevent = imip_find_override(cal, instance);
		if (vevent == NULL)
			vevent = imip_make_override(cal, imip_master(cal),
						    instance, error_r);
		if (vevent == NULL)
			ret = -1;
	}
	if (ret == 0 && (att = imip_find_attendee(vevent, addrs)) != NULL) {
		imip_set_partstat(att, icalparameter_get_partstat(param));
		icalproperty_remove_parameter_by_kind(att,
						      ICAL_RSVP_PARAMETER);
		*ical_r = imip_ical_string(cal);
	} else if (ret == 0) {
		*error_r = t_strdup_printf("REPLY from %s, who isn't invited "
					   "to that occurrence", addrs[0]);
		ret = -1;
	}
	icalcomponent_free(cal);
	icalcomponent_free(rcal);
	return ret;
}

/* ---- what goes out ---- */

static void imip_copy_prop(icalcomponent *dest, icalcomponent *src,
			   icalproperty_kind kind)
{
	icalproperty *prop = icalcomponent_get_first_property(src, kind);

	if (prop != NULL)
		icalcomponent_add_property(dest, icalproperty_new_clone(prop));
}

static void imip_copy_timezones(icalcomponent *dest, icalcomponent *src)
{
	icalcomponent *comp;

	for (comp = icalcomponent_get_first_component(src,
			ICAL_VTIMEZONE_COMPONENT);
	     comp != NULL;
	     comp = icalcomponent_get_next_component(src,
			ICAL_VTIMEZONE_COMPONENT))
		icalcomponent_add_component(dest,
					    icalcomponent_new_clone(comp));
}

static icalcomponent *imip_new_calendar(icalproperty_method method)
{
	icalcomponent *cal = icalcomponent_new_vcalendar();

	icalcomponent_add_property(cal, icalproperty_new_version("2.0"));
	icalcomponent_add_property(cal, icalproperty_new_prodid(IMIP_PRODID));
	icalcomponent_add_property(cal, icalproperty_new_method(method));
	return cal;
}

int as_imip_reply_build(const char *event, const char *attendee,
			const char *attendee_name,
			enum as_imip_response response, bool have_instance,
			time_t instance, const char **reply_r,
			const char **error_r)
{
	icalcomponent *cal, *master, *src, *reply, *vevent;
	icalproperty *dtstart, *prop;
	const char *addrs[2] = { attendee, NULL };
	time_t start, end;

	cal = imip_parse(event, error_r);
	if (cal == NULL)
		return -1;
	master = imip_master(cal);
	if (icalcomponent_get_first_property(master,
			ICAL_ORGANIZER_PROPERTY) == NULL) {
		icalcomponent_free(cal);
		*error_r = "the event has no ORGANIZER to answer";
		return -1;
	}
	src = have_instance ? imip_find_override(cal, instance) : NULL;
	if (src == NULL)
		src = master;

	reply = imip_new_calendar(ICAL_METHOD_REPLY);
	imip_copy_timezones(reply, cal);
	vevent = icalcomponent_new_vevent();
	icalcomponent_add_component(reply, vevent);
	imip_copy_prop(vevent, master, ICAL_UID_PROPERTY);
	icalcomponent_add_property(vevent,
		icalproperty_new_dtstamp(as_ical_utc(ioloop_time)));
	prop = icalcomponent_get_first_property(src, ICAL_SEQUENCE_PROPERTY);
	icalcomponent_add_property(vevent, icalproperty_new_sequence(
		prop == NULL ? 0 : icalproperty_get_sequence(prop)));
	dtstart = icalcomponent_get_first_property(master,
						   ICAL_DTSTART_PROPERTY);
	if (have_instance && src == master && dtstart != NULL) {
		/* the occurrence's own times */
		start = imip_prop_time(cal, dtstart,
				       icalproperty_get_dtstart(dtstart));
		prop = icalcomponent_get_first_property(master,
			ICAL_DTEND_PROPERTY);
		end = prop == NULL ? start :
			imip_prop_time(cal, prop, icalproperty_get_dtend(prop));
		icalcomponent_add_property(vevent, imip_time_like(cal, dtstart,
			ICAL_RECURRENCEID_PROPERTY, instance));
		icalcomponent_add_property(vevent, imip_time_like(cal, dtstart,
			ICAL_DTSTART_PROPERTY, instance));
		if (prop != NULL) {
			icalcomponent_add_property(vevent, imip_time_like(cal,
				dtstart, ICAL_DTEND_PROPERTY,
				instance + (end - start)));
		}
	} else {
		imip_copy_prop(vevent, src, ICAL_RECURRENCEID_PROPERTY);
		imip_copy_prop(vevent, src, ICAL_DTSTART_PROPERTY);
		imip_copy_prop(vevent, src, ICAL_DTEND_PROPERTY);
		imip_copy_prop(vevent, src, ICAL_DURATION_PROPERTY);
	}
	imip_copy_prop(vevent, src, ICAL_SUMMARY_PROPERTY);
	imip_copy_prop(vevent, master, ICAL_ORGANIZER_PROPERTY);

	prop = imip_find_attendee(src, addrs);
	prop = prop != NULL ? icalproperty_new_clone(prop) :
		icalproperty_new_attendee(t_strconcat("mailto:", attendee,
						      NULL));
	icalproperty_remove_parameter_by_kind(prop, ICAL_RSVP_PARAMETER);
	if (attendee_name != NULL && *attendee_name != '\0' &&
	    icalproperty_get_first_parameter(prop, ICAL_CN_PARAMETER) == NULL)
		icalproperty_add_parameter(prop,
			icalparameter_new_cn(attendee_name));
	imip_set_partstat(prop, imip_partstat(response));
	icalcomponent_add_property(vevent, prop);

	*reply_r = imip_ical_string(reply);
	icalcomponent_free(reply);
	icalcomponent_free(cal);
	return 0;
}

int as_imip_request_build(const char *event, enum as_imip_method method,
			  const char **ical_r, const char **error_r)
{
	icalcomponent *cal, *vevent;

	i_assert(method == AS_IMIP_METHOD_REQUEST ||
		 method == AS_IMIP_METHOD_CANCEL);
	cal = imip_parse(event, error_r);
	if (cal == NULL)
		return -1;
	imip_set_method(cal, method == AS_IMIP_METHOD_REQUEST ?
			ICAL_METHOD_REQUEST : ICAL_METHOD_CANCEL);
	for (vevent = icalcomponent_get_first_component(cal,
			ICAL_VEVENT_COMPONENT);
	     vevent != NULL;
	     vevent = icalcomponent_get_next_component(cal,
			ICAL_VEVENT_COMPONENT)) {
		if (method == AS_IMIP_METHOD_CANCEL) {
			icalproperty *seq = icalcomponent_get_first_property(
				vevent, ICAL_SEQUENCE_PROPERTY);
			int sequence = seq == NULL ? 0 :
				icalproperty_get_sequence(seq);

			/* a deleted event's last version is the one
			   attendees have: the cancellation is newer */
			imip_remove_all(vevent, ICAL_SEQUENCE_PROPERTY);
			icalcomponent_add_property(vevent,
				icalproperty_new_sequence(sequence + 1));
			imip_remove_all(vevent, ICAL_STATUS_PROPERTY);
			icalcomponent_add_property(vevent,
				icalproperty_new_status(ICAL_STATUS_CANCELLED));
		}
		/* alarms are the organizer's own */
		while (icalcomponent_get_first_component(vevent,
				ICAL_VALARM_COMPONENT) != NULL) {
			icalcomponent *valarm =
				icalcomponent_get_first_component(vevent,
					ICAL_VALARM_COMPONENT);

			icalcomponent_remove_component(vevent, valarm);
			icalcomponent_free(valarm);
		}
	}
	*ical_r = imip_ical_string(cal);
	icalcomponent_free(cal);
	return 0;
}
