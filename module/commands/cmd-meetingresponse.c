/* Copyright (c) dovecot-activesync authors, see the included COPYING file */

/* MeetingResponse (MS-ASCMD 2.2.1.11): the user accepts, tentatively
   accepts or declines a meeting, named by the invitation in a mail
   folder or by its event in a calendar folder (and from 14.1 one
   occurrence of it by InstanceId). The answer goes into the calendar
   event (the user's ATTENDEE PARTSTAT, busy status, ResponseType); a
   declined meeting leaves the calendar (a declined occurrence leaves its
   series), as Exchange does, so no CalendarId is answered for it.

   The organizer is told by an iMIP REPLY only when the device asks for
   it: from 16.0 with SendResponse. Older devices send their answer with
   SendMail themselves (MS-ASCMD 2.2.1.11); a second one from us would
   reach the organizer twice. */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "str-sanitize.h"
#include "mail-storage.h"
#include "as-command.h"
#include "as-folders.h"
#include "seq-range-array.h"
#include "as-store-itemuid.h"
#include "items/as-body.h"
#include "items/as-datetime.h"
#include "items/as-draft.h"
#include "items/as-email.h"
#include "items/as-groupware-msg.h"
#include "items/as-imip.h"
#include "items/as-meeting-request.h"
#include "meeting/as-meeting-calendar.h"
#include "meeting/as-meeting-send.h"

/* MeetingResponse Status (MS-ASCMD 2.2.3.177.9) */
enum meetingresponse_status {
	MEETINGRESPONSE_STATUS_OK = 1,
	MEETINGRESPONSE_STATUS_INVALID_REQUEST = 2,
	MEETINGRESPONSE_STATUS_MAILBOX_ERROR = 3,
	MEETINGRESPONSE_STATUS_SERVER_ERROR = 4,
};

#define MEETINGRESPONSE_MAX_REQUESTS 100

static const char *const mr_content_types[] = {
	"text/calendar", "application/ics", NULL
};

struct mr_request {
	enum as_imip_response response;
	const char *collection_id, *request_id, *instance_id;
	const struct wbxml_node *send_response;
};

struct mr_result {
	unsigned int status;
	const char *calendar_id;	/* NULL: none */
};

/* What the request names: an invitation or an event */
struct mr_source {
	const struct as_meeting_request *invitation;
	const char *event;
};

static void mr_invalid(struct as_cmd_context *ctx, struct mr_result *result,
		       const char *reason)
{
	e_info(ctx->event, "MeetingResponse: Status 2: %s", reason);
	result->status = MEETINGRESPONSE_STATUS_INVALID_REQUEST;
}

static int mr_parse(struct as_cmd_context *ctx, const struct wbxml_node *node,
		    struct mr_request *req_r, const char **error_r)
{
	const char *value;
	unsigned int response;

	i_zero(req_r);
	value = wbxml_node_child_text(node, EAS_MEETINGRESPONSE_USERRESPONSE);
	if (value == NULL || str_to_uint(value, &response) < 0 ||
	    response < AS_IMIP_RESPONSE_ACCEPT ||
	    response > AS_IMIP_RESPONSE_DECLINE) {
		*error_r = t_strdup_printf("invalid UserResponse %s",
			value == NULL ? "(none)" : str_sanitize(value, 16));
		return -1;
	}
	req_r->response = response;
	req_r->collection_id = wbxml_node_child_text(node,
		EAS_MEETINGRESPONSE_COLLECTIONID);
	req_r->request_id = wbxml_node_child_text(node,
		EAS_MEETINGRESPONSE_REQUESTID);
	if (req_r->request_id == NULL || *req_r->request_id == '\0') {
		*error_r = "no RequestId";
		return -1;
	}
	if (ctx->req->version >= AS_VERSION_14_1) {
		req_r->instance_id = wbxml_node_child_text(node,
			EAS_MEETINGRESPONSE_INSTANCEID);
	}
	if (ctx->req->version >= AS_VERSION_16_0) {
		req_r->send_response = wbxml_node_child(node,
			EAS_MEETINGRESPONSE_SENDRESPONSE);
	}
	return 0;
}

/* Read the invitation or event the request names. Returns 1, 0 (result
   set), -1 internal error. */
static int mr_source_read(struct as_cmd_context *ctx,
			  const struct mr_request *req,
			  struct mr_source *src_r, struct mr_result *result)
{
	struct as_folder_info folder;
	struct mailbox *box;
	struct mailbox_transaction_context *t;
	struct mail *mail;
	struct as_body_info info;
	const char *folder_id = req->collection_id, *error;
	uint32_t uid;
	int ret;

	i_zero(src_r);
	if (folder_id == NULL || *folder_id == '\0') {
		/* the ServerId names its folder */
		const char *colon = strchr(req->request_id, ':');

		folder_id = colon == NULL ? "" :
			t_strdup_until(req->request_id, colon);
	}
	ret = as_folders_lookup(ctx, folder_id, &folder, &error);
	if (ret < 0) {
		e_error(ctx->event, "MeetingResponse: folder lookup: %s", error);
		return -1;
	}
	if (ret == 0 || folder.noselect ||
	    !as_email_parse_server_id(req->request_id, folder.server_id, &uid)) {
		mr_invalid(ctx, result, t_strdup_printf(
			"unknown item %s in folder %s",
			str_sanitize(req->request_id, 64),
			str_sanitize(folder_id, 64)));
		return 0;
	}
	if (as_folder_class(&folder) != AS_FOLDER_CLASS_MAIL &&
	    as_folder_class(&folder) != AS_FOLDER_CLASS_CALENDAR) {
		mr_invalid(ctx, result, t_strdup_printf(
			"folder %s holds neither mail nor events",
			folder.server_id));
		return 0;
	}
	if (as_folders_open(ctx, &folder, 0, &box, &error) < 0) {
		mr_invalid(ctx, result, t_strdup_printf(
			"folder %s: %s", folder.server_id, error));
		return 0;
	}
	t = mailbox_transaction_begin(box, 0, __func__);
	mail = mail_alloc(t, 0, NULL);
	if (!mail_set_uid(mail, uid)) {
		mr_invalid(ctx, result, t_strdup_printf(
			"item %s doesn't exist",
			str_sanitize(req->request_id, 64)));
		ret = 0;
	} else if (as_folder_class(&folder) == AS_FOLDER_CLASS_MAIL) {
		ret = as_body_structure(pool_datastack_create(), mail, TRUE,
					&info, &error);
		if (ret == 0) {
			ret = as_meeting_request_read(mail, &info,
						      &src_r->invitation,
						      &error);
		}
		if (ret < 0) {
			e_error(ctx->event, "MeetingResponse: reading %s: %s",
				req->request_id, error);
			result->status = MEETINGRESPONSE_STATUS_MAILBOX_ERROR;
			ret = 0;
		} else if (ret == 0 || src_r->invitation->imip.method !=
			   AS_IMIP_METHOD_REQUEST) {
			mr_invalid(ctx, result, t_strdup_printf(
				"%s is no meeting request%s%s",
				str_sanitize(req->request_id, 64),
				error == NULL ? "" : ": ",
				error == NULL ? "" : error));
			ret = 0;
		} else if (req->instance_id != NULL) {
			mr_invalid(ctx, result, "InstanceId for a meeting "
				   "request mail");
			ret = 0;
		}
	} else {
		ret = as_groupware_msg_read(mail, mr_content_types,
					    &src_r->event, &error);
		if (ret < 0) {
			e_error(ctx->event, "MeetingResponse: reading %s: %s",
				req->request_id, error);
			result->status = MEETINGRESPONSE_STATUS_MAILBOX_ERROR;
			ret = 0;
		} else if (ret == 0) {
			mr_invalid(ctx, result, t_strdup_printf(
				"%s is no event: %s",
				str_sanitize(req->request_id, 64), error));
		}
	}
	mail_free(&mail);
	(void)mailbox_transaction_commit(&t);
	mailbox_free(&box);
	return ret;
}

/* The occurrence InstanceId names, as the event's times are kept (a
   floating date for an all-day series) */
static bool mr_instance(struct as_cmd_context *ctx, const char *event,
			const char *instance_id, time_t *instance_r)
{
	struct as_event ev;
	const char *warning, *error;
	time_t t;

	if (!as_datetime_parse(instance_id, &t) ||
	    as_calendar_ical_read(event, &ev, &warning, &error) < 0)
		return FALSE;
	if (ev.all_day) {
		if (ctx->req->version < AS_VERSION_16_0 && ev.tz != NULL)
			t = as_calendar_tz_to_wall(ev.tz, t);
		t -= ((t % 86400) + 86400) % 86400;
	}
	*instance_r = t;
	return TRUE;
}

static const char *mr_subject_prefix(enum as_imip_response response)
{
	switch (response) {
	case AS_IMIP_RESPONSE_ACCEPT:
		return "Accepted";
	case AS_IMIP_RESPONSE_TENTATIVE:
		return "Tentative";
	case AS_IMIP_RESPONSE_DECLINE:
		return "Declined";
	}
	i_unreached();
}

/* The CalendarId: the ServerId this device already has for the event
   (its message was replaced; the next calendar Sync sends a Change under
   that id), else the new message's. Answering the new one to a device
   that has the old would leave it with the event twice. */
static const char *
mr_calendar_id(struct as_cmd_context *ctx, struct as_meeting_calendar *cal,
	       const char *item_uid, uint32_t new_uid)
{
	struct as_collection_state state;
	ARRAY_TYPE(uint32_t) history;
	const uint32_t *uidp;
	unsigned int latest;
	const char *error;
	pool_t pool = pool_datastack_create();

	if (as_store_collection_latest(ctx->store, ctx->username,
				       ctx->req->device_id,
				       cal->folder.server_id, &latest,
				       &error) <= 0 || latest == 0 ||
	    as_store_collection_get(ctx->store, pool, ctx->username,
				    ctx->req->device_id, cal->folder.server_id,
				    latest, &state, &error) <= 0 ||
	    !array_is_created(&state.uids) ||
	    as_store_itemuid_get(ctx->store, pool, ctx->username,
				 cal->folder.guid, item_uid, &history,
				 &error) <= 0)
		return as_email_server_id(cal->folder.server_id, new_uid);
	array_foreach(&history, uidp) {
		if (seq_range_exists(&state.uids, *uidp))
			return as_email_server_id(cal->folder.server_id, *uidp);
	}
	return as_email_server_id(cal->folder.server_id, new_uid);
}

/* The iMIP REPLY to the organizer (16.x SendResponse) */
static void mr_send_reply(struct as_cmd_context *ctx,
			  const struct mr_request *req, const char *event,
			  const char *attendee, bool have_instance,
			  time_t instance)
{
	struct as_meeting_mail mail;
	const struct wbxml_node *body;
	struct as_event ev;
	const char *reply, *warning, *error, *text = NULL, *to[2];
	bool html;

	if (as_calendar_ical_read(event, &ev, &warning, &error) < 0 ||
	    ev.organizer_email == NULL) {
		e_warning(ctx->event, "MeetingResponse: no reply sent: the "
			  "event has no organizer");
		return;
	}
	if (attendee == NULL) {
		attendee = as_meeting_user_addresses(ctx)[0];
		e_info(ctx->event, "MeetingResponse: %s isn't an attendee of "
		       "%s: answering as it anyway", attendee,
		       str_sanitize(ev.uid, 80));
	}
	if (as_imip_reply_build(event, attendee, ctx->set->user_display_name,
				req->response, have_instance, instance,
				&reply, &error) < 0) {
		e_error(ctx->event, "MeetingResponse: reply not built: %s",
			error);
		return;
	}
	body = wbxml_node_child(req->send_response, EAS_AIRSYNCBASE_BODY);
	if (body != NULL &&
	    as_draft_body_text(body, &text, &html, &error) == 0 && html)
		text = as_body_html_to_plain(text);
	if (text == NULL || *text == '\0') {
		text = t_strdup_printf("%s has %s the meeting \"%s\".\n",
			attendee, req->response == AS_IMIP_RESPONSE_ACCEPT ?
			"accepted" : req->response == AS_IMIP_RESPONSE_DECLINE ?
			"declined" : "tentatively accepted",
			ev.subject == NULL ? "" : ev.subject);
	}
	to[0] = ev.organizer_email;
	to[1] = NULL;
	i_zero(&mail);
	mail.method = AS_IMIP_METHOD_REPLY;
	mail.to = to;
	mail.subject = t_strdup_printf("%s: %s",
		mr_subject_prefix(req->response),
		ev.subject == NULL ? "" : ev.subject);
	mail.text = as_draft_utf8_valid(text);
	mail.ical = reply;
	if (as_meeting_send(ctx, &mail, &error) < 0) {
		e_error(ctx->event, "MeetingResponse: the reply to %s was "
			"not sent: %s", str_sanitize(ev.organizer_email, 128),
			error);
	} else {
		e_info(ctx->event, "MeetingResponse: %s sent to %s",
		       mr_subject_prefix(req->response),
		       str_sanitize(ev.organizer_email, 128));
	}
}

static int mr_respond(struct as_cmd_context *ctx, const struct mr_request *req,
		      struct mr_result *result)
{
	struct as_meeting_calendar cal;
	struct mr_source src;
	const char *const *addrs = as_meeting_user_addresses(ctx);
	const char *event, *item_uid, *ical, *attendee, *error;
	uint32_t old_uid = 0, new_uid;
	time_t instance = 0;
	bool have_instance = req->instance_id != NULL;
	int ret, seq;

	ret = mr_source_read(ctx, req, &src, result);
	if (ret <= 0)
		return ret;
	if (src.event != NULL) {
		if (!as_imip_uid(src.event, &item_uid, &seq)) {
			mr_invalid(ctx, result, "the event has no UID");
			return 0;
		}
		if (as_imip_is_organizer(src.event, addrs)) {
			mr_invalid(ctx, result, "the user organizes this "
				   "meeting");
			return 0;
		}
	} else {
		if (as_imip_is_organizer(src.invitation->ical, addrs)) {
			mr_invalid(ctx, result, "the user organizes this "
				   "meeting");
			return 0;
		}
		item_uid = src.invitation->imip.uid;
	}

	ret = as_meeting_calendar_open(ctx, &cal, &error);
	if (ret <= 0) {
		if (ret < 0)
			e_error(ctx->event, "MeetingResponse: %s", error);
		else
			e_info(ctx->event, "MeetingResponse: the user has no "
			       "calendar folder");
		result->status = MEETINGRESPONSE_STATUS_MAILBOX_ERROR;
		return 0;
	}
	/* the one event of this UID, placed now if the Inbox Sync hasn't
	   yet (or the user removed it and now accepts after all) */
	ret = as_meeting_calendar_find(&cal, item_uid, &old_uid, &event,
				       &error);
	if (ret == 0 && src.invitation != NULL) {
		ret = as_imip_event_from_request(src.invitation->ical, addrs,
						 &event, &error) < 0 ? -1 : 1;
		old_uid = 0;
	} else if (ret == 0) {
		/* an event in another calendar folder: answered there */
		event = src.event;
		ret = 1;
	}
	if (ret < 0) {
		e_error(ctx->event, "MeetingResponse: %s", error);
		result->status = MEETINGRESPONSE_STATUS_MAILBOX_ERROR;
		as_meeting_calendar_close(&cal);
		return 0;
	}
	if (have_instance &&
	    !mr_instance(ctx, event, req->instance_id, &instance)) {
		mr_invalid(ctx, result, t_strdup_printf("invalid InstanceId %s",
			str_sanitize(req->instance_id, 64)));
		as_meeting_calendar_close(&cal);
		return 0;
	}
	if (as_imip_event_respond(event, addrs, req->response, have_instance,
				  instance, &ical, &attendee, &error) < 0) {
		mr_invalid(ctx, result, error);
		as_meeting_calendar_close(&cal);
		return 0;
	}
	if (req->response == AS_IMIP_RESPONSE_DECLINE && !have_instance) {
		/* declined: the meeting leaves the calendar */
		if (old_uid != 0 &&
		    as_meeting_calendar_delete(&cal, old_uid, &error) < 0) {
			e_error(ctx->event, "MeetingResponse: %s", error);
			result->status = MEETINGRESPONSE_STATUS_MAILBOX_ERROR;
			as_meeting_calendar_close(&cal);
			return 0;
		}
	} else if (as_meeting_calendar_save(&cal, ical, old_uid, &new_uid,
					    &error) < 0) {
		e_error(ctx->event, "MeetingResponse: saving the event: %s",
			error);
		result->status = MEETINGRESPONSE_STATUS_MAILBOX_ERROR;
		as_meeting_calendar_close(&cal);
		return 0;
	} else if (req->response != AS_IMIP_RESPONSE_DECLINE) {
		result->calendar_id = mr_calendar_id(ctx, &cal, item_uid,
						     new_uid);
	}
	as_meeting_calendar_close(&cal);
	e_debug(ctx->event, "MeetingResponse: %s %s%s%s",
		mr_subject_prefix(req->response), str_sanitize(item_uid, 80),
		have_instance ? " instance " : "",
		have_instance ? req->instance_id : "");
	result->status = MEETINGRESPONSE_STATUS_OK;
	if (req->send_response != NULL)
		mr_send_reply(ctx, req, ical, attendee, have_instance, instance);
	return 0;
}

enum as_command_result cmd_meetingresponse(struct as_cmd_context *ctx)
{
	const struct wbxml_node *node;
	struct wbxml_writer *w = ctx->writer;
	struct mr_request req;
	struct mr_result result;
	const char *error;
	unsigned int count = 0;
	int ret;

	if (ctx->root == NULL || ctx->root->tag !=
	    EAS_MEETINGRESPONSE_MEETINGRESPONSE) {
		e_info(ctx->event, "MeetingResponse: not a MeetingResponse "
		       "request");
		as_cmd_write_status(ctx, MEETINGRESPONSE_STATUS_INVALID_REQUEST);
		return AS_CMD_DONE;
	}
	wbxml_node_foreach_child(ctx->root, node) {
		if (node->tag == EAS_MEETINGRESPONSE_REQUEST)
			count++;
	}
	if (count == 0 || count > MEETINGRESPONSE_MAX_REQUESTS) {
		e_info(ctx->event, "MeetingResponse: %u Requests", count);
		as_cmd_write_status(ctx, MEETINGRESPONSE_STATUS_INVALID_REQUEST);
		return AS_CMD_DONE;
	}

	wbxml_start(w, EAS_MEETINGRESPONSE_MEETINGRESPONSE);
	wbxml_node_foreach_child(ctx->root, node) {
		if (node->tag != EAS_MEETINGRESPONSE_REQUEST)
			continue;
		i_zero(&result);
		ret = 0;
		T_BEGIN {
			if (mr_parse(ctx, node, &req, &error) < 0)
				mr_invalid(ctx, &result, error);
			else
				ret = mr_respond(ctx, &req, &result);
			if (ret < 0)
				result.status = MEETINGRESPONSE_STATUS_SERVER_ERROR;
			wbxml_start(w, EAS_MEETINGRESPONSE_RESULT);
			if (req.request_id != NULL) {
				wbxml_elem_str(w, EAS_MEETINGRESPONSE_REQUESTID,
					       req.request_id);
			}
			wbxml_elem_uint(w, EAS_MEETINGRESPONSE_STATUS,
					result.status);
			if (result.calendar_id != NULL) {
				wbxml_elem_str(w,
					EAS_MEETINGRESPONSE_CALENDARID,
					result.calendar_id);
			}
			wbxml_end(w);
		} T_END;
	}
	wbxml_end(w);
	return AS_CMD_DONE;
}
