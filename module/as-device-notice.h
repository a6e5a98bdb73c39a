#ifndef AS_DEVICE_NOTICE_H
#define AS_DEVICE_NOTICE_H

struct as_cmd_context;

/* Short mails about the device of the request: saved into the user's
   INBOX (like the notice about refused recipients), and for a wipe also
   submitted to activesync_wipe_notify_address when set. Failures are
   logged only. */

/* The device acknowledged a remote wipe (ctx->device->wipe says which) */
void as_wipe_notice_send(struct as_cmd_context *ctx);
/* The device is quarantined until the admin allows it */
void as_quarantine_notice_send(struct as_cmd_context *ctx);

#endif
