#ifndef AS_SEND_DRAFT_H
#define AS_SEND_DRAFT_H

struct as_cmd_context;
struct mailbox;

/* Sending a draft (16.x). MS-ASCMD's SendMail has no form that names a
   stored item (Source belongs to SmartReply/SmartForward only); a 16.x
   device sends a draft with a Sync Add or Change in the Drafts folder
   carrying email2:Send (MS-ASEMAIL 2.2.2.69), after the draft's content
   was saved as usual.

   The draft with this UID in box (the Drafts folder, open) is submitted
   as it is (Bcc lines kept for the Sent copy only), saved to \Sent, and
   expunged from Drafts: the device's next Sync of Drafts deletes it.
   The submission waits for the SMTP server (bounded by
   submission_timeout); a Sync is answered only afterwards.

   client_id: the Add's ClientId (NULL for a Change). A repeated Add
   whose draft went out already is not sent again.

   Returns the Sync Status for the item: 1 sent (also when the SMTP
   server refused some recipients but took it for the others: a retry
   would reach them twice, so the user gets a notice naming the refused
   ones, module/send/as-send-notice.c); 5 submission failed
   temporarily (nothing sent, the draft stays, a retry is safe); 6 the
   draft can't be sent (no recipients, not a message, over
   activesync_max_send_size, refused by the SMTP server; the draft
   stays); 8 no such draft. One log line says why. */
unsigned int as_send_draft(struct as_cmd_context *ctx, struct mailbox *box,
			   uint32_t uid, const char *client_id);

#endif
