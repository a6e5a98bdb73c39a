#ifndef AS_TNEF_H
#define AS_TNEF_H

/* TNEF (winmail.dat, application/ms-tnef; MS-OXTNEF): what Outlook
   sends instead of iCalendar when it thinks the peer is Exchange. Only
   the message-level attributes a meeting shows are read (class,
   subject, start, end); the MAPI property block with the meeting's
   GlobalObjectId and location is not decoded, so a TNEF invitation can
   be recognised and logged, not answered. */

struct as_tnef_info {
	const char *message_class;	/* "IPM.Microsoft Schedule.MtgReq" */
	const char *subject;
	bool have_start, have_end;
	time_t start, end;		/* UTC */
};

/* Read the attributes of a TNEF stream. -1 with error_r if it isn't
   TNEF or is cut short; what was read before stays in info_r. Strings
   from the data stack. */
int as_tnef_read(const unsigned char *data, size_t size,
		 struct as_tnef_info *info_r, const char **error_r);

/* Is the class one of Outlook's meeting messages? */
bool as_tnef_is_meeting(const struct as_tnef_info *info);

#endif
