#ifndef AS_CONVERSATION_H
#define AS_CONVERSATION_H

struct mail;

#define AS_CONVERSATION_ID_SIZE 16

/* ConversationId and ConversationIndex (MS-ASCON) of a message.

   A message with an Outlook Thread-Index header uses it: the GUID in it
   is the ConversationId, its time and response levels the index.
   Otherwise the ConversationId is the MD5 of the thread root's
   Message-ID: the first id in References, else In-Reply-To, else the
   message's own Message-ID (else its mail GUID), so every message of a
   thread gets the same id. The index is the 5-byte time of the
   message's Date plus one 5-byte response level per ancestor.
   Returns 0, or -1 if the mail's headers couldn't be read. */
int as_conversation_get(struct mail *mail,
			unsigned char id_r[AS_CONVERSATION_ID_SIZE],
			buffer_t *index_r);

#endif
