#ifndef AS_FREEBUSY_H
#define AS_FREEBUSY_H

/* A user's merged free/busy (MS-ASCMD MergedFreeBusy, used by
   ResolveRecipients Availability) from the events of their calendar
   folders (folder type "event"). */

struct mail_user;
struct event;

/* One digit per slot, the strongest status of any event in it */
enum as_freebusy_status {
	AS_FREEBUSY_FREE = '0',
	AS_FREEBUSY_TENTATIVE = '1',
	AS_FREEBUSY_BUSY = '2',
	AS_FREEBUSY_OOF = '3',
	AS_FREEBUSY_NO_DATA = '4',
};

/* Slots asked for at most: 42 days of half hours, as Exchange allows */
#define AS_FREEBUSY_MAX_SLOTS (42 * 48)

/* Append the digits for [start, end) in slots of slot_secs to dest:
   the last slot may end after end. A user without calendar folders gets
   "no data" everywhere. Events that can't be read are logged to event
   and left out. Returns 0, or -1 with error_r for an invalid range or a
   folder that can't be read. */
int as_freebusy_merged(struct mail_user *user, struct event *event,
		       time_t start, time_t end, unsigned int slot_secs,
		       string_t *dest, const char **error_r);

#endif
