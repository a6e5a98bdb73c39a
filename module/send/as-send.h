#ifndef AS_SEND_H
#define AS_SEND_H

#include "as-command.h"

/* SendMail, SmartReply and SmartForward share one engine: read the
   request (WBXML from 14.0, the raw MIME message with query parameters
   before), check it, add the original message where asked, submit it
   through Dovecot's lib-smtp (submission_host or sendmail_path), then
   save the Sent copy, flag the original and remember the ClientId. */

enum as_send_kind {
	AS_SEND_KIND_MAIL = 0,
	AS_SEND_KIND_REPLY,
	AS_SEND_KIND_FORWARD,
};

struct as_send_request {
	enum as_send_kind kind;
	/* NULL when the device sent none (always before 14.0) */
	const char *client_id;
	bool save_in_sent;
	/* the device's MIME is the whole message: add nothing */
	bool replace_mime;
	/* Source of SmartReply/SmartForward */
	const char *folder_id, *item_id, *long_id, *instance_id;
	/* the device's RFC 822 message */
	const unsigned char *mime;
	size_t mime_size;
};

/* Parse the request into req_r (strings point into the request).
   Returns 0, or -1 with the EAS status to answer in status_r. */
int as_send_request_parse(struct as_cmd_context *ctx, enum as_send_kind kind,
			  struct as_send_request *req_r,
			  unsigned int *status_r, const char **error_r);

struct smtp_submit_settings;
struct as_send_mime;
struct as_send_composed;

/* The user's submission settings (submission_host, sendmail_path, ...)
   expanded for the user, NULL on error (logged). */
const struct smtp_submit_settings *
as_send_smtp_settings(struct as_cmd_context *ctx);
/* The envelope sender: the user name, with activesync_sender_domain (or
   the hostname) added when it has no domain. NULL on error (logged). */
const struct smtp_address *
as_send_sender(struct as_cmd_context *ctx,
	       const struct smtp_submit_settings *smtp_set);
/* Save the message as sent, plus its Bcc lines, to the user's \Sent
   folder. Failures are logged only (the message is gone already). */
void as_send_save_sent_copy(struct as_cmd_context *ctx,
			    const struct as_send_mime *mime,
			    const struct as_send_composed *msg);

/* The whole command for the handlers in cmd-sendmail.c, cmd-smartreply.c
   and cmd-smartforward.c. */
enum as_command_result as_send_run(struct as_cmd_context *ctx,
				   enum as_send_kind kind);

#endif
