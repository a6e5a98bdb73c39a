/* Copyright (c) dovecot-activesync authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "wbxml.h"
#include "http/as-request.h"
#include "items/as-body.h"
#include "items/as-datetime.h"
#include "items/as-groupware-msg.h"
#include "items/as-meeting-request.h"
#include "items/as-tnef.h"
#include "istream.h"
#include "mail-storage.h"
#include "imap-msgpart.h"

/* A winmail.dat larger than this is left unread */
#define MEETING_TNEF_MAX_SIZE (1024 * 1024)

static const char *const meeting_content_types[] = {
	"text/calendar", "application/ics", NULL
};

static bool meeting_has_calendar_part(const struct as_body_info *info)
{
	const struct as_body_attachment *att;
	const char *const *type;

	array_foreach(&info->attachments, att) {
		for (type = meeting_content_types; *type != NULL; type++) {
			if (att->content_type != NULL &&
			    strcasecmp(att->content_type, *type) == 0)
				return TRUE;
		}
	}
	return FALSE;
}

static const struct as_body_attachment *
meeting_tnef_part(const struct as_body_info *info)
{
	const struct as_body_attachment *att;

	array_foreach(&info->attachments, att) {
		if (att->content_type != NULL &&
		    strcasecmp(att->content_type, "application/ms-tnef") == 0)
			return att;
	}
	return NULL;
}

/* Outlook's TNEF invitations carry no iCalendar: recognised and
   described for the log (error_r), the mail stays plain mail. Returns
   0, or -1 if the mail can't be read now. */
static int meeting_tnef_check(struct mail *mail,
			      const struct as_body_attachment *att,
			      const char **error_r)
{
	struct imap_msgpart *msgpart;
	struct imap_msgpart_open_result result;
	struct as_tnef_info tnef;
	const unsigned char *data;
	buffer_t *buf;
	size_t size;
	const char *error;

	if (imap_msgpart_parse(att->part_number, &msgpart) < 0)
		return 0;
	imap_msgpart_set_decode_to_binary(msgpart);
	if (imap_msgpart_open(mail, msgpart, &result) < 0) {
		imap_msgpart_free(&msgpart);
		*error_r = mailbox_get_last_internal_error(mail->box, NULL);
		return -1;
	}
	imap_msgpart_free(&msgpart);
	buf = t_buffer_create(I_MIN(result.size, MEETING_TNEF_MAX_SIZE) + 1);
	while (i_stream_read_more(result.input, &data, &size) > 0 &&
	       buf->used < MEETING_TNEF_MAX_SIZE) {
		size = I_MIN(size, MEETING_TNEF_MAX_SIZE - buf->used);
		buffer_append(buf, data, size);
		i_stream_skip(result.input, size);
	}
	if (result.input->stream_errno != 0) {
		*error_r = t_strdup_printf("reading winmail.dat: %s",
			i_stream_get_error(result.input));
		i_stream_unref(&result.input);
		return -1;
	}
	i_stream_unref(&result.input);
	if (as_tnef_read(buf->data, buf->used, &tnef, &error) < 0 &&
	    tnef.message_class == NULL) {
		*error_r = t_strdup_printf("winmail.dat not read: %s", error);
		return 0;
	}
	if (!as_tnef_is_meeting(&tnef))
		return 0;
	*error_r = t_strdup_printf("TNEF meeting message %s \"%s\" (%s - %s) "
		"shown as plain mail: winmail.dat carries no iCalendar UID",
		tnef.message_class, tnef.subject == NULL ? "" : tnef.subject,
		tnef.have_start ? as_datetime_format(tnef.start) : "?",
		tnef.have_end ? as_datetime_format(tnef.end) : "?");
	return 0;
}

int as_meeting_request_read(struct mail *mail,
			    const struct as_body_info *info,
			    const struct as_meeting_request **mr_r,
			    const char **error_r)
{
	struct as_meeting_request *mr;
	const char *ical;
	int ret;

	*error_r = NULL;
	if (!meeting_has_calendar_part(info)) {
		const struct as_body_attachment *tnef = meeting_tnef_part(info);

		return tnef == NULL ? 0 : meeting_tnef_check(mail, tnef,
							     error_r);
	}
	ret = as_groupware_msg_read(mail, meeting_content_types, &ical,
				    error_r);
	if (ret <= 0)
		return ret;
	mr = t_new(struct as_meeting_request, 1);
	if (as_imip_parse(ical, &mr->imip, error_r) < 0) {
		*error_r = t_strdup_printf("invitation not read: %s",
					   *error_r);
		return 0;
	}
	if (mr->imip.method != AS_IMIP_METHOD_REQUEST &&
	    mr->imip.method != AS_IMIP_METHOD_CANCEL &&
	    mr->imip.method != AS_IMIP_METHOD_REPLY) {
		/* published calendars and the like stay plain mail */
		*error_r = NULL;
		return 0;
	}
	mr->ical = ical;
	*mr_r = mr;
	return 1;
}

const char *
as_meeting_request_message_class(const struct as_meeting_request *mr)
{
	switch (mr->imip.method) {
	case AS_IMIP_METHOD_CANCEL:
		return "IPM.Schedule.Meeting.Canceled";
	case AS_IMIP_METHOD_REPLY:
		switch (mr->imip.reply_response) {
		case AS_IMIP_RESPONSE_ACCEPT:
			return "IPM.Schedule.Meeting.Resp.Pos";
		case AS_IMIP_RESPONSE_TENTATIVE:
			return "IPM.Schedule.Meeting.Resp.Tent";
		case AS_IMIP_RESPONSE_DECLINE:
			return "IPM.Schedule.Meeting.Resp.Neg";
		}
		return "IPM.Note";
	default:
		return "IPM.Schedule.Meeting.Request";
	}
}

/* Email times are UTC; an all-day event's floating dates are its local
   midnights */
static const char *meeting_time(const struct as_event *event, time_t t)
{
	if (event->all_day && event->tz != NULL)
		t = as_calendar_tz_from_wall(event->tz, t);
	return as_datetime_format(t);
}

static void meeting_write_recurrence(struct wbxml_writer *w,
				     const struct as_event *event,
				     unsigned int version)
{
	const struct as_event_recurrence *rec = &event->recur;

	wbxml_start(w, EAS_EMAIL_RECURRENCES);
	wbxml_start(w, EAS_EMAIL_RECURRENCE);
	wbxml_elem_uint(w, EAS_EMAIL_TYPE, rec->type);
	wbxml_elem_uint(w, EAS_EMAIL_INTERVAL,
			rec->interval > 0 ? rec->interval : 1);
	if (rec->occurrences > 0)
		wbxml_elem_uint(w, EAS_EMAIL_OCCURRENCES, rec->occurrences);
	else if (rec->have_until)
		wbxml_elem_str(w, EAS_EMAIL_UNTIL,
			       meeting_time(event, rec->until));
	if (rec->day_of_week != 0)
		wbxml_elem_uint(w, EAS_EMAIL_DAYOFWEEK, rec->day_of_week);
	if (rec->day_of_month != 0)
		wbxml_elem_uint(w, EAS_EMAIL_DAYOFMONTH, rec->day_of_month);
	if (rec->week_of_month != 0)
		wbxml_elem_uint(w, EAS_EMAIL_WEEKOFMONTH, rec->week_of_month);
	if (rec->month_of_year != 0)
		wbxml_elem_uint(w, EAS_EMAIL_MONTHOFYEAR, rec->month_of_year);
	if (version >= AS_VERSION_14_0) {
		wbxml_elem_uint(w, EAS_EMAIL2_CALENDARTYPE,
				rec->calendar_type >= 0 ?
				rec->calendar_type : 1);
		if (rec->is_leap_month >= 0)
			wbxml_elem_uint(w, EAS_EMAIL2_ISLEAPMONTH,
					rec->is_leap_month);
	}
	if (version >= AS_VERSION_14_1 &&
	    (rec->first_day_of_week >= 0 || rec->type == 1)) {
		wbxml_elem_uint(w, EAS_EMAIL2_FIRSTDAYOFWEEK,
				rec->first_day_of_week >= 0 ?
				rec->first_day_of_week : 1);
	}
	wbxml_end(w);
	wbxml_end(w);
}

void as_meeting_request_write(struct wbxml_writer *w,
			      const struct as_meeting_request *mr,
			      unsigned int version)
{
	const struct as_imip *imip = &mr->imip;
	const struct as_event *event = &imip->event;
	const struct as_calendar_tz *tz =
		event->tz != NULL ? event->tz : as_calendar_tz_utc();
	unsigned int instance_type;

	if (imip->method == AS_IMIP_METHOD_REPLY) {
		/* an answer: its class says it, it has nothing to accept */
		return;
	}
	if (imip->have_recurrence_id)
		instance_type = 3;	/* an exception of a series */
	else if (event->have_recurrence)
		instance_type = 1;	/* the series */
	else
		instance_type = 0;	/* a single meeting */

	wbxml_start(w, EAS_EMAIL_MEETINGREQUEST);
	wbxml_elem_uint(w, EAS_EMAIL_ALLDAYEVENT, event->all_day ? 1 : 0);
	wbxml_elem_str(w, EAS_EMAIL_STARTTIME,
		       meeting_time(event, event->start));
	wbxml_elem_str(w, EAS_EMAIL_DTSTAMP, as_datetime_format(
		event->have_dtstamp ? event->dtstamp : event->start));
	wbxml_elem_str(w, EAS_EMAIL_ENDTIME, meeting_time(event,
		event->have_end ? event->end : event->start));
	wbxml_elem_uint(w, EAS_EMAIL_INSTANCETYPE, instance_type);
	if (event->location != NULL) {
		if (version >= AS_VERSION_16_0) {
			wbxml_start(w, EAS_AIRSYNCBASE_LOCATION);
			wbxml_elem_str(w, EAS_AIRSYNCBASE_DISPLAYNAME,
				       event->location);
			wbxml_end(w);
		} else {
			wbxml_elem_str(w, EAS_EMAIL_LOCATION, event->location);
		}
	}
	if (event->organizer_email != NULL) {
		wbxml_elem_str(w, EAS_EMAIL_ORGANIZER,
			event->organizer_name == NULL ||
			*event->organizer_name == '\0' ?
			event->organizer_email :
			t_strdup_printf("\"%s\" <%s>", event->organizer_name,
					event->organizer_email));
	}
	if (imip->have_recurrence_id)
		wbxml_elem_str(w, EAS_EMAIL_RECURRENCEID,
			       meeting_time(event, imip->recurrence_id));
	if (event->reminder >= 0)
		wbxml_elem_uint(w, EAS_EMAIL_REMINDER, event->reminder * 60);
	wbxml_elem_uint(w, EAS_EMAIL_RESPONSEREQUESTED,
			imip->method == AS_IMIP_METHOD_REQUEST && imip->rsvp ?
			1 : 0);
	if (event->have_recurrence && !imip->have_recurrence_id)
		meeting_write_recurrence(w, event, version);
	wbxml_elem_uint(w, EAS_EMAIL_SENSITIVITY,
			event->sensitivity >= 0 ? event->sensitivity : 0);
	/* what the organizer means the time to be (busy, free...) */
	wbxml_elem_uint(w, EAS_EMAIL_BUSYSTATUS,
			event->busy_status >= 0 ? event->busy_status : 2);
	wbxml_elem_str(w, EAS_EMAIL_TIMEZONE, as_calendar_tz_blob_base64(tz));
	wbxml_elem_str(w, EAS_EMAIL_GLOBALOBJID, as_imip_global_obj_id(
		imip->uid, imip->have_recurrence_id, imip->recurrence_id));
	if (version >= AS_VERSION_14_0) {
		wbxml_elem_uint(w, EAS_EMAIL_DISALLOWNEWTIMEPROPOSAL,
				event->disallow_new_time == 1 ? 1 : 0);
	}
	if (version >= AS_VERSION_14_1) {
		/* 1 a new request, 2 an update of one already sent; a
		   cancellation has no type of its own */
		wbxml_elem_uint(w, EAS_EMAIL2_MEETINGMESSAGETYPE,
				imip->method == AS_IMIP_METHOD_CANCEL ? 0 :
				imip->sequence > 0 ? 2 : 1);
	}
	wbxml_end(w);
}
