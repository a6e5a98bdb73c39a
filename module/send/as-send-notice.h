#ifndef AS_SEND_NOTICE_H
#define AS_SEND_NOTICE_H

struct as_cmd_context;
struct as_send_mime;

/* A message went out, but the SMTP server refused some recipients
   (refused: "<address>: <reply>" lines): tell the user, like a bounce,
   with a short mail into INBOX naming them. Failures are logged only. */
void as_send_refused_notice(struct as_cmd_context *ctx,
			    const struct as_send_mime *mime,
			    const char *const *refused);

#endif
