#ifndef AS_IMIP_H
#define AS_IMIP_H

#include "items/as-calendar.h"

/* Meeting invitations by mail (iMIP, RFC 6047; iTIP methods RFC 5546).
   Pure iCalendar work with libical, no mailbox: reading the object an
   invitation carries, turning it into the attendee's calendar copy,
   recording the attendee's answer in it, and building the REPLY,
   REQUEST and CANCEL objects that go out. Objects are text (UTF-8,
   CRLF lines) from the data stack. */

enum as_imip_method {
	AS_IMIP_METHOD_NONE = 0,	/* a plain calendar object */
	AS_IMIP_METHOD_REQUEST,
	AS_IMIP_METHOD_CANCEL,
	AS_IMIP_METHOD_REPLY,
	AS_IMIP_METHOD_OTHER,		/* PUBLISH, COUNTER, ... */
};

/* MeetingResponse UserResponse values (MS-ASCMD 2.2.3.194) */
enum as_imip_response {
	AS_IMIP_RESPONSE_ACCEPT = 1,
	AS_IMIP_RESPONSE_TENTATIVE = 2,
	AS_IMIP_RESPONSE_DECLINE = 3,
};

struct as_imip {
	enum as_imip_method method;
	const char *uid;
	int sequence;			/* 0 when absent */
	/* the object is about one occurrence (its VEVENTs all carry a
	   RECURRENCE-ID): its original start, UTC (or a floating date) */
	bool have_recurrence_id;
	time_t recurrence_id;
	/* the master VEVENT (or the occurrence's) as EAS sees it */
	struct as_event event;
	/* the organizer asks for an answer (RSVP=TRUE on an attendee) */
	bool rsvp;
	/* METHOD:REPLY: the answering attendee's PARTSTAT as a
	   MeetingResponse UserResponse, 0 if it isn't one of them */
	int reply_response;
};

/* Read an iMIP object. -1 with error_r if it doesn't parse, has no
   VEVENT or no UID. */
int as_imip_parse(const char *ical, struct as_imip *imip_r,
		  const char **error_r);

/* The UID and SEQUENCE of the first VEVENT of a calendar object; FALSE
   if it has none. */
bool as_imip_uid(const char *ical, const char **uid_r, int *sequence_r);

/* MS-OXOCAL PidLidGlobalObjectId for an iCalendar UID, base64 (the
   email:GlobalObjId). A UID that is an Outlook id in hex is that blob;
   any other UID is wrapped in the "vCal-Uid" form. With an instance
   (a floating date or UTC time), its year/month/day go into the blob,
   as Outlook marks one occurrence. */
const char *as_imip_global_obj_id(const char *uid, bool have_instance,
				  time_t instance);

/* Is one of addrs (NULL-terminated) an ATTENDEE / the ORGANIZER of the
   first VEVENT? Compared without case and "mailto:". */
bool as_imip_is_attendee(const char *ical, const char *const *addrs);
bool as_imip_is_organizer(const char *ical, const char *const *addrs);

/* The attendee's calendar copy of an invitation: the VEVENTs and
   VTIMEZONEs without METHOD, the user's ATTENDEE PARTSTAT=NEEDS-ACTION,
   busy status tentative, MeetingStatus "received", ResponseType "not
   responded". */
int as_imip_event_from_request(const char *request,
			       const char *const *user_addrs,
			       const char **ical_r, const char **error_r);
/* An invitation to one occurrence (VEVENTs with RECURRENCE-ID) merged
   into the stored series: each replaces the series' override of that
   occurrence unless that one has the same or a newer SEQUENCE.
   changed_r: something was merged. */
int as_imip_event_merge_occurrence(const char *event, const char *request,
				   const char *const *user_addrs,
				   const char **ical_r, bool *changed_r,
				   const char **error_r);
/* A CANCEL applied to the stored event: STATUS:CANCELLED and
   MeetingStatus "received and cancelled"; for one occurrence, that
   occurrence leaves the series (EXDATE). */
int as_imip_event_cancel(const char *event, const struct as_imip *cancel,
			 const char **ical_r, const char **error_r);

/* An attendee's REPLY recorded in the event the user organizes: that
   ATTENDEE's PARTSTAT (in the occurrence's override for a reply with
   RECURRENCE-ID). -1 with error_r if the one answering isn't invited
   (nothing changed). attendee_r: who answered. */
int as_imip_event_apply_reply(const char *event, const char *reply,
			      const char **ical_r, const char **attendee_r,
			      const char **error_r);
/* The user's answer recorded in the stored event: the ATTENDEE's
   PARTSTAT, the busy status and ResponseType. With an instance only
   that occurrence (an override VEVENT is made for it); an instance
   declined leaves the series (EXDATE). attendee_r: the ATTENDEE
   address that matched (NULL if the user isn't listed: the event is
   still updated, without a PARTSTAT). */
int as_imip_event_respond(const char *event, const char *const *user_addrs,
			  enum as_imip_response response, bool have_instance,
			  time_t instance, const char **ical_r,
			  const char **attendee_r, const char **error_r);

/* METHOD:REPLY for the organizer: the event's UID, SEQUENCE, times,
   SUMMARY and ORGANIZER, and only the replying ATTENDEE with its
   PARTSTAT; RECURRENCE-ID for an instance. -1 with error_r if the event
   has no ORGANIZER. */
int as_imip_reply_build(const char *event, const char *attendee,
			const char *attendee_name,
			enum as_imip_response response, bool have_instance,
			time_t instance, const char **reply_r,
			const char **error_r);

/* METHOD:REQUEST or CANCEL of an event the user organizes: the whole
   object with METHOD; a CANCEL has STATUS:CANCELLED. */
int as_imip_request_build(const char *event, enum as_imip_method method,
			  const char **ical_r, const char **error_r);

/* The ATTENDEE addresses of the first VEVENT, NULL-terminated */
const char *const *as_imip_attendees(const char *ical);

#endif
