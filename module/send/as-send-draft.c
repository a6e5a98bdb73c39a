/* Copyright (c) the dovecot-activesync authors, see AUTHORS */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "buffer.h"
#include "ioloop.h"
#include "istream.h"
#include "str-sanitize.h"
#include "message-date.h"
#include "smtp-address.h"
#include "iostream-ssl.h"
#include "mail-user.h"
#include "mail-storage.h"
#include "mail-namespace.h"
#include "as-command.h"
#include "send/as-send.h"
#include "send/as-send-mime.h"
#include "send/as-send-compose.h"
#include "send/as-send-draft.h"
#include "send/as-send-smtp.h"
#include "send/as-send-notice.h"

/* Sync Status values (MS-ASCMD 2.2.3.177.17) this returns */
#define DRAFT_STATUS_OK 1
#define DRAFT_STATUS_RETRY 5
#define DRAFT_STATUS_REFUSED 6
#define DRAFT_STATUS_NOT_FOUND 8

/* ClientIds of sent drafts share the SendMail ClientId table */
#define DRAFT_CLIENT_ID_PREFIX "draft:"

/* The draft's bytes, at most max_size. Returns 1, 0 if larger, -1 if it
   couldn't be read (error_r). */
static int
draft_read(struct mail *mail, uoff_t max_size, buffer_t *dest,
	   const char **error_r)
{
	struct istream *input;
	const unsigned char *data;
	size_t size;
	int ret;

	if (mail_get_stream(mail, NULL, NULL, &input) < 0) {
		*error_r = mailbox_get_last_internal_error(mail->box, NULL);
		return -1;
	}
	while ((ret = i_stream_read_more(input, &data, &size)) > 0) {
		if (dest->used + size > max_size)
			return 0;
		buffer_append(dest, data, size);
		i_stream_skip(input, size);
	}
	if (input->stream_errno != 0) {
		*error_r = i_stream_get_error(input);
		return -1;
	}
	return 1;
}

static void
draft_submit(struct as_cmd_context *ctx,
	     const struct smtp_submit_settings *smtp_set,
	     const struct smtp_address *sender,
	     const struct as_send_mime *mime, const buffer_t *data,
	     struct as_send_smtp_result *result_r)
{
	struct ssl_iostream_settings ssl_set;

	mail_user_init_ssl_client_settings(ctx->mail_user, &ssl_set);
	/* runs an ioloop of its own until the server answered */
	as_send_smtp_run(ctx->pool, smtp_set, &ssl_set, ctx->event, sender,
			 &mime->rcpts, data->data, data->used, result_r);
}

static void draft_expunge(struct as_cmd_context *ctx, struct mailbox *box,
			  uint32_t uid)
{
	struct mailbox_transaction_context *t;
	struct mail *mail;

	t = mailbox_transaction_begin(box, 0, "activesync draft sent");
	mail = mail_alloc(t, 0, NULL);
	if (mail_set_uid(mail, uid))
		mail_expunge(mail);
	mail_free(&mail);
	if (mailbox_transaction_commit(&t) < 0) {
		e_error(ctx->event, "Sent draft UID %u stays in %s: "
			"expunging failed: %s", uid, mailbox_get_vname(box),
			mailbox_get_last_internal_error(box, NULL));
	}
}

/* Read, check and compose the draft. Returns DRAFT_STATUS_OK with
   mime_r/msg_r filled, or the status to answer (logged). */
static unsigned int
draft_prepare(struct as_cmd_context *ctx, struct mailbox *box, uint32_t uid,
	      const struct smtp_address *sender, struct as_send_mime *mime_r,
	      struct as_send_composed *msg_r)
{
	struct mailbox_transaction_context *t;
	struct as_send_compose_input in;
	struct mail *mail;
	buffer_t *raw;
	const char *error;
	unsigned int status = DRAFT_STATUS_OK;
	int ret;

	raw = buffer_create_dynamic(ctx->pool, 4096);
	t = mailbox_transaction_begin(box, 0, "activesync draft send");
	mail = mail_alloc(t, 0, NULL);
	if (!mail_set_uid(mail, uid)) {
		e_info(ctx->event, "Sending draft: UID %u is not in %s",
		       uid, mailbox_get_vname(box));
		status = DRAFT_STATUS_NOT_FOUND;
	} else if ((ret = draft_read(mail, ctx->set->max_send_size, raw,
				     &error)) < 0) {
		e_error(ctx->event, "Sending draft: reading UID %u failed: %s",
			uid, error);
		status = DRAFT_STATUS_RETRY;
	} else if (ret == 0) {
		e_info(ctx->event, "Sending draft: UID %u is larger than "
		       "activesync_max_send_size=%"PRIuUOFF_T, uid,
		       ctx->set->max_send_size);
		status = DRAFT_STATUS_REFUSED;
	}
	mail_free(&mail);
	(void)mailbox_transaction_commit(&t);
	if (status != DRAFT_STATUS_OK)
		return status;

	if (as_send_mime_parse(ctx->pool, raw->data, raw->used, mime_r,
			       &error) < 0) {
		e_info(ctx->event, "Sending draft: UID %u is not a message: "
		       "%s", uid, error);
		return DRAFT_STATUS_REFUSED;
	}
	if (array_count(&mime_r->rcpts) == 0) {
		e_info(ctx->event, "Sending draft: UID %u has no recipients "
		       "in To, Cc or Bcc", uid);
		return DRAFT_STATUS_REFUSED;
	}
	i_zero(&in);
	in.kind = AS_SEND_KIND_MAIL;
	in.mime = mime_r;
	in.from = smtp_address_encode_path(sender);
	in.date = message_date_create(ioloop_time);
	in.message_id = as_send_mime_new_message_id(sender->domain);
	in.max_size = ctx->set->max_send_size;
	ret = as_send_compose(ctx->pool, &in, msg_r, &error);
	if (ret <= 0) {
		e_info(ctx->event, "Sending draft: UID %u can't be composed: "
		       "%s", uid, ret < 0 ? error : "too large");
		return DRAFT_STATUS_REFUSED;
	}
	return DRAFT_STATUS_OK;
}

static unsigned int
as_send_draft_box(struct as_cmd_context *ctx, struct mailbox *box,
		  uint32_t uid, const char *client_id);

unsigned int as_send_draft(struct as_cmd_context *ctx,
			   struct mailbox *drafts_box, uint32_t uid,
			   const char *client_id)
{
	struct mailbox *box;
	unsigned int status;

	/* a mailbox of its own, synced: the caller's view may not have
	   the draft it just saved yet, and isn't disturbed */
	box = mailbox_alloc(mailbox_get_namespace(drafts_box)->list,
			    mailbox_get_vname(drafts_box), 0);
	if (mailbox_open(box) < 0 || mailbox_sync(box, 0) < 0) {
		e_error(ctx->event, "Sending draft: opening %s failed: %s",
			mailbox_get_vname(box),
			mailbox_get_last_internal_error(box, NULL));
		mailbox_free(&box);
		return DRAFT_STATUS_RETRY;
	}
	status = as_send_draft_box(ctx, box, uid, client_id);
	mailbox_free(&box);
	return status;
}

static unsigned int
as_send_draft_box(struct as_cmd_context *ctx, struct mailbox *box,
		  uint32_t uid, const char *client_id)
{
	const struct smtp_submit_settings *smtp_set;
	const struct smtp_address *sender;
	struct as_send_mime mime;
	struct as_send_composed msg;
	struct as_send_smtp_result result;
	const char *store_id = NULL, *error;
	unsigned int status;
	int ret;

	if (client_id != NULL) {
		store_id = t_strconcat(DRAFT_CLIENT_ID_PREFIX, client_id,
				       NULL);
		ret = as_store_clientid_exists(ctx->store, ctx->username,
					       ctx->req->device_id, store_id,
					       &error);
		if (ret < 0) {
			e_error(ctx->event, "Sending draft: %s", error);
			return DRAFT_STATUS_RETRY;
		}
		if (ret > 0) {
			/* a repeated Add: sent before, don't again */
			e_info(ctx->event, "Sending draft: ClientId %s was "
			       "sent before", str_sanitize(client_id, 64));
			draft_expunge(ctx, box, uid);
			return DRAFT_STATUS_OK;
		}
	}
	smtp_set = as_send_smtp_settings(ctx);
	sender = smtp_set == NULL ? NULL : as_send_sender(ctx, smtp_set);
	if (sender == NULL)
		return DRAFT_STATUS_RETRY;
	status = draft_prepare(ctx, box, uid, sender, &mime, &msg);
	if (status != DRAFT_STATUS_OK)
		return status;

	draft_submit(ctx, smtp_set, sender, &mime, msg.data, &result);
	if (result.status == AS_SEND_SMTP_REFUSED ||
	    result.status == AS_SEND_SMTP_TEMPFAIL) {
		/* nobody got it: the draft stays, a retry is safe */
		e_error(ctx->event, "Sending draft UID %u failed (%s): %s",
			uid, result.status == AS_SEND_SMTP_REFUSED ?
			"permanent" : "temporary", result.error);
		return result.status == AS_SEND_SMTP_REFUSED ?
			DRAFT_STATUS_REFUSED : DRAFT_STATUS_RETRY;
	}
	e_info(ctx->event, "Draft sent: UID %u, %u recipients, %zu bytes",
	       uid, array_count(&mime.rcpts) - (result.refused == NULL ? 0 :
		str_array_length(result.refused)), msg.data->used);
	/* mailboxes first, then the state */
	if (result.status == AS_SEND_SMTP_PARTIAL) {
		/* it went out: sent for the device, a notice for the user */
		e_warning(ctx->event, "Recipients refused by the SMTP server, "
			  "the others got the draft: %s",
			  t_strarray_join(result.refused, ", "));
		as_send_refused_notice(ctx, &mime, result.refused);
	}
	as_send_save_sent_copy(ctx, &mime, &msg);
	draft_expunge(ctx, box, uid);
	if (store_id != NULL &&
	    as_store_clientid_add(ctx->store, ctx->username,
				  ctx->req->device_id, store_id, ioloop_time,
				  &error) < 0)
		e_error(ctx->event, "Sending draft: %s", error);
	return DRAFT_STATUS_OK;
}
