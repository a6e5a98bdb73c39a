/* Copyright (c) dovecot-activesync authors, see the included COPYING file */

#include "lib.h"
#include "buffer.h"
#include "base64.h"
#include "md5.h"
#include "message-id.h"
#include "mail-storage.h"
#include "items/as-conversation.h"

/* Thread-Index / PidTagConversationIndex: 1 reserved byte, 5 bytes of
   time, 16 bytes GUID, then 5-byte response levels */
#define THREAD_INDEX_HEADER_SIZE 22
#define THREAD_INDEX_TIME_OFFSET 1
#define THREAD_INDEX_TIME_SIZE 5
#define THREAD_INDEX_GUID_OFFSET 6
#define CONVERSATION_LEVEL_SIZE 5
#define CONVERSATION_MAX_LEVELS 32
/* seconds from 1601-01-01 (FILETIME epoch) to 1970-01-01 */
#define FILETIME_UNIX_OFFSET 11644473600ULL

static bool
conversation_from_thread_index(struct mail *mail,
			       unsigned char id_r[AS_CONVERSATION_ID_SIZE],
			       buffer_t *index_r)
{
	const char *value;
	buffer_t *raw;
	size_t levels;

	if (mail_get_first_header(mail, "Thread-Index", &value) <= 0)
		return FALSE;
	raw = t_buffer_create(64);
	if (base64_decode(value, strlen(value), NULL, raw) < 0 ||
	    raw->used < THREAD_INDEX_HEADER_SIZE ||
	    (raw->used - THREAD_INDEX_HEADER_SIZE) %
	    CONVERSATION_LEVEL_SIZE != 0)
		return FALSE;
	levels = raw->used - THREAD_INDEX_HEADER_SIZE;
	memcpy(id_r, CONST_PTR_OFFSET(raw->data, THREAD_INDEX_GUID_OFFSET),
	       AS_CONVERSATION_ID_SIZE);
	buffer_append(index_r, CONST_PTR_OFFSET(raw->data,
			THREAD_INDEX_TIME_OFFSET), THREAD_INDEX_TIME_SIZE);
	buffer_append(index_r, CONST_PTR_OFFSET(raw->data,
			THREAD_INDEX_HEADER_SIZE), levels);
	return TRUE;
}

/* First Message-ID in a header value, NULL if none */
static const char *first_msgid(const char *value)
{
	if (value == NULL)
		return NULL;
	return message_id_get_next(&value);
}

static unsigned int count_msgids(const char *value)
{
	unsigned int count = 0;

	while (value != NULL && message_id_get_next(&value) != NULL)
		count++;
	return count;
}

static void index_time_append(buffer_t *index, time_t t)
{
	uint64_t ft;
	unsigned char bytes[8];
	unsigned int i;

	if (t < 0)
		t = 0;
	ft = ((uint64_t)t + FILETIME_UNIX_OFFSET) * 10000000ULL;
	for (i = 0; i < 8; i++)
		bytes[i] = (ft >> (8 * (7 - i))) & 0xff;
	/* the 40 most significant bits, big-endian */
	buffer_append(index, bytes, THREAD_INDEX_TIME_SIZE);
}

int as_conversation_get(struct mail *mail,
			unsigned char id_r[AS_CONVERSATION_ID_SIZE],
			buffer_t *index_r)
{
	static const unsigned char zero_level[CONVERSATION_LEVEL_SIZE];
	const char *references, *in_reply_to, *message_id, *root;
	unsigned int levels;
	time_t date;
	int tz;

	buffer_set_used_size(index_r, 0);
	if (conversation_from_thread_index(mail, id_r, index_r))
		return 0;
	if (mail_get_first_header(mail, "References", &references) < 0 ||
	    mail_get_first_header(mail, "In-Reply-To", &in_reply_to) < 0 ||
	    mail_get_first_header(mail, "Message-ID", &message_id) < 0)
		return -1;
	root = first_msgid(references);
	levels = count_msgids(references);
	if (root == NULL) {
		root = first_msgid(in_reply_to);
		levels = root == NULL ? 0 : 1;
	}
	if (root == NULL)
		root = first_msgid(message_id);
	if (root == NULL) {
		/* no ids at all: the message is its own thread */
		if (mail_get_special(mail, MAIL_FETCH_GUID, &root) < 0)
			return -1;
		root = t_strconcat("guid:", root, NULL);
	}
	md5_get_digest(root, strlen(root), id_r);

	if (mail_get_date(mail, &date, &tz) < 0 || date <= 0) {
		if (mail_get_received_date(mail, &date) < 0)
			return -1;
	}
	index_time_append(index_r, date);
	for (levels = I_MIN(levels, CONVERSATION_MAX_LEVELS); levels > 0;
	     levels--)
		buffer_append(index_r, zero_level, sizeof(zero_level));
	return 0;
}
