/* Copyright (c) dovecot-activesync authors, see the included COPYING file */

#include "lib.h"
#include "utc-mktime.h"
#include "items/as-tnef.h"

#include <time.h>

#define TNEF_SIGNATURE 0x223E9F78U
/* attribute ids (MS-OXTNEF 2.1.3.1): type << 16 | id */
#define TNEF_ATT_SUBJECT 0x00018004U
#define TNEF_ATT_DATE_START 0x00030006U
#define TNEF_ATT_DATE_END 0x00030007U
#define TNEF_ATT_MESSAGE_CLASS 0x00078008U
/* level, id, size before the data; checksum after */
#define TNEF_ATT_HEADER_SIZE (1 + 4 + 4)
#define TNEF_ATT_TRAILER_SIZE 2
#define TNEF_DATE_SIZE 14

static uint32_t tnef_le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 |
		(uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static unsigned int tnef_le16(const unsigned char *p)
{
	return (unsigned int)p[0] | (unsigned int)p[1] << 8;
}

/* A string attribute: NUL-terminated within its size */
static const char *tnef_string(const unsigned char *data, uint32_t size)
{
	size_t len = 0;

	while (len < size && data[len] != '\0')
		len++;
	return t_strndup(data, len);
}

/* A DTR (year, month, day, hour, minute, second, weekday; 16 bits
   each) as UTC */
static bool tnef_date(const unsigned char *data, uint32_t size, time_t *t_r)
{
	struct tm tm;

	if (size < TNEF_DATE_SIZE)
		return FALSE;
	i_zero(&tm);
	tm.tm_year = (int)tnef_le16(data) - 1900;
	tm.tm_mon = (int)tnef_le16(data + 2) - 1;
	tm.tm_mday = tnef_le16(data + 4);
	tm.tm_hour = tnef_le16(data + 6);
	tm.tm_min = tnef_le16(data + 8);
	tm.tm_sec = tnef_le16(data + 10);
	if (tm.tm_year < 0 || tm.tm_mon < 0 || tm.tm_mon > 11 ||
	    tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
	    tm.tm_min > 59 || tm.tm_sec > 60)
		return FALSE;
	*t_r = utc_mktime(&tm);
	return *t_r != (time_t)-1;
}

int as_tnef_read(const unsigned char *data, size_t size,
		 struct as_tnef_info *info_r, const char **error_r)
{
	size_t pos = 6;
	uint32_t id, len;
	const unsigned char *value;

	i_zero(info_r);
	if (size < 6 || tnef_le32(data) != TNEF_SIGNATURE) {
		*error_r = "not TNEF (no signature)";
		return -1;
	}
	while (pos < size) {
		if (size - pos < TNEF_ATT_HEADER_SIZE) {
			*error_r = "TNEF attribute cut short";
			return -1;
		}
		id = tnef_le32(data + pos + 1);
		len = tnef_le32(data + pos + 5);
		value = data + pos + TNEF_ATT_HEADER_SIZE;
		if (len > size - pos - TNEF_ATT_HEADER_SIZE ||
		    size - pos - TNEF_ATT_HEADER_SIZE - len <
		    TNEF_ATT_TRAILER_SIZE) {
			*error_r = "TNEF attribute longer than the stream";
			return -1;
		}
		/* attachments follow the message's own attributes */
		if (data[pos] != 1)
			break;
		switch (id) {
		case TNEF_ATT_MESSAGE_CLASS:
			info_r->message_class = tnef_string(value, len);
			break;
		case TNEF_ATT_SUBJECT:
			info_r->subject = tnef_string(value, len);
			break;
		case TNEF_ATT_DATE_START:
			info_r->have_start = tnef_date(value, len,
						       &info_r->start);
			break;
		case TNEF_ATT_DATE_END:
			info_r->have_end = tnef_date(value, len, &info_r->end);
			break;
		}
		pos += TNEF_ATT_HEADER_SIZE + len + TNEF_ATT_TRAILER_SIZE;
	}
	return 0;
}

bool as_tnef_is_meeting(const struct as_tnef_info *info)
{
	return info->message_class != NULL &&
		(str_begins(info->message_class, "IPM.Microsoft Schedule.") ||
		 str_begins(info->message_class, "IPM.Schedule.Meeting."));
}
