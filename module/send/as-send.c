/* Copyright (c) the dovecot-activesync authors, see AUTHORS */

/* SendMail / SmartReply / SmartForward. Order of things:
   1. checks that change nothing: request form, ClientId replay (118),
      size (122), MIME (107), recipients (119), source item (150);
   2. the message is composed and submitted asynchronously through
      lib-smtp's smtp-submit (the user's submission_host or sendmail_path);
   3. only after the submission succeeded: the Sent copy, \Answered or
      $Forwarded on the original, then the ClientId in LMDB (mailbox
      first, state last); then the empty 200 response.
   A failed submission answers 120 (HTTP 500 before 14.0) and saves
   nothing, so the device keeps the message in its outbox: it is only
   answered so when nobody got the message (module/send/as-send-smtp.c
   tells the cases apart), so the retry is safe. When the SMTP server
   refused some recipients but took it for the others, the message went
   out: it is answered and recorded as sent (a retry of the ClientId is
   118, not a second copy) and the user gets a notice naming the refused
   recipients (as-send-notice.c), as with a bounce. */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "ioloop.h"
#include "istream.h"
#include "istream-concat.h"
#include "ostream.h"
#include "str-sanitize.h"
#include "message-date.h"
#include "settings-parser.h"
#include "smtp-address.h"
#include "smtp-submit.h"
#include "iostream-ssl.h"
#include "mail-user.h"
#include "mail-storage.h"
#include "mail-storage-service.h"
#include "as-user.h"
#include "as-folders.h"
#include "items/as-email.h"
#include "send/as-send.h"
#include "send/as-send-mime.h"
#include "send/as-send-compose.h"
#include "send/as-send-smtp.h"
#include "send/as-send-notice.h"

/* The SMTP submission, kept apart from the request: when the client goes
   away meanwhile, the submission finishes on its own (stopping it half
   way could leave the message sent to some recipients) and only records
   the ClientId. */
struct as_send_submission {
	pool_t pool;
	struct as_send *send;	/* NULL once the client went away */
	struct as_store *store;
	const char *username, *device_id, *client_id;
	struct event *event;

	struct as_send_smtp *smtp;
	/* the outcome, handled from a timeout */
	struct timeout *to_finish;
	enum as_send_smtp_status status;
	const char *error;
	/* AS_SEND_SMTP_PARTIAL: the refused recipients */
	const char *const *refused;
};

struct as_send {
	struct as_cmd_context *ctx;
	struct as_send_request req;
	struct as_send_mime mime;
	struct as_send_composed msg;

	const struct smtp_address *sender;
	struct as_send_submission *submission;

	/* the original of SmartReply/SmartForward */
	struct as_folder_info source_folder;
	uint32_t source_uid;
};

/* HTTP status for versions before 14.0, which have no Status element */
static unsigned int as_send_http_status(unsigned int status)
{
	switch (status) {
	case AS_STATUS_ATTACHMENT_IS_TOO_LARGE:
		return 413;
	case AS_STATUS_MAIL_SUBMISSION_FAILED:
	case AS_STATUS_SERVER_ERROR:
		return 500;
	default:
		return 400;
	}
}

static void
as_send_status(struct as_cmd_context *ctx, unsigned int status,
	       const char *reason)
{
	e_info(ctx->event, "Status %u: %s", status, reason);
	if (ctx->req->version >= AS_VERSION_14_0) {
		as_cmd_write_status(ctx, status);
		return;
	}
	ctx->http_status = as_send_http_status(status);
	ctx->http_reason = ctx->http_status == 500 ? "Internal Server Error" :
		ctx->http_status == 413 ? "Request Entity Too Large" :
		"Bad Request";
}

const struct smtp_address *
as_send_sender(struct as_cmd_context *ctx,
	       const struct smtp_submit_settings *smtp_set)
{
	struct smtp_address *addr;
	const char *username = ctx->username, *domain, *error;

	if (strchr(username, '@') == NULL) {
		domain = ctx->set->sender_domain != NULL ?
			ctx->set->sender_domain : smtp_set->hostname;
		username = t_strconcat(username, "@", domain, NULL);
	}
	if (smtp_address_parse_username(ctx->pool, username, &addr,
					&error) < 0) {
		e_error(ctx->event, "Can't use %s as sender address: %s",
			str_sanitize(username, 128), error);
		return NULL;
	}
	return addr;
}

const struct smtp_submit_settings *
as_send_smtp_settings(struct as_cmd_context *ctx)
{
	struct smtp_submit_settings *set;
	const char *error;
	void **sets;

	sets = mail_storage_service_user_get_set(ctx->user->service_user);
	set = settings_dup(&smtp_submit_setting_parser_info,
			   sets[AS_USER_SET_INDEX_SMTP_SUBMIT], ctx->pool);
	if (settings_var_expand(&smtp_submit_setting_parser_info, set,
				ctx->pool,
				mail_user_var_expand_table(ctx->mail_user),
				&error) <= 0) {
		e_error(ctx->event, "Failed to expand submission settings: %s",
			error);
		return NULL;
	}
	return set;
}

/* Find the source item. Returns 1 found (mail_r set, box_r open), 0 not
   found (status answered), -1 error. */
static int
as_send_source_open(struct as_send *send, struct mailbox **box_r,
		    struct mailbox_transaction_context **trans_r,
		    struct mail **mail_r)
{
	struct as_cmd_context *ctx = send->ctx;
	const struct as_send_request *req = &send->req;
	const char *folder_id = req->folder_id, *item_id = req->item_id;
	const char *error, *colon;
	int ret;

	*box_r = NULL;
	if (item_id == NULL) {
		/* LongId: a Search result. Search hands out item ServerIds
		   as LongIds; anything else is unknown here. */
		item_id = req->long_id;
		folder_id = NULL;
	}
	if (folder_id == NULL || folder_id[0] == '\0') {
		/* the ServerId names its folder ("<folder>:<uid>") */
		colon = strchr(item_id, ':');
		if (colon == NULL) {
			as_send_status(ctx, AS_STATUS_ITEM_NOT_FOUND,
				t_strdup_printf("Unknown source item %s",
					str_sanitize(item_id, 64)));
			return 0;
		}
		folder_id = t_strdup_until(item_id, colon);
	}
	ret = as_folders_lookup(ctx, folder_id, &send->source_folder, &error);
	if (ret < 0) {
		e_error(ctx->event, "Folder lookup failed: %s", error);
		return -1;
	}
	if (ret == 0 || send->source_folder.noselect ||
	    !as_email_parse_server_id(item_id, send->source_folder.server_id,
				      &send->source_uid)) {
		as_send_status(ctx, AS_STATUS_ITEM_NOT_FOUND,
			t_strdup_printf("Unknown source item %s in folder %s",
					str_sanitize(item_id, 64),
					str_sanitize(folder_id, 64)));
		return 0;
	}
	send->source_folder.server_id =
		p_strdup(ctx->pool, send->source_folder.server_id);
	send->source_folder.vname =
		p_strdup(ctx->pool, send->source_folder.vname);
	send->source_folder.display_name =
		p_strdup(ctx->pool, send->source_folder.display_name);
	send->source_folder.parent_id =
		p_strdup(ctx->pool, send->source_folder.parent_id);

	if (as_folders_open(ctx, &send->source_folder, 0, box_r,
			    &error) < 0) {
		as_send_status(ctx, AS_STATUS_ITEM_NOT_FOUND,
			t_strdup_printf("Source folder not available: %s",
					error));
		return 0;
	}
	if (mailbox_sync(*box_r, 0) < 0) {
		e_error(ctx->event, "Syncing the source folder failed: %s",
			mailbox_get_last_internal_error(*box_r, NULL));
		mailbox_free(box_r);
		return -1;
	}
	*trans_r = mailbox_transaction_begin(*box_r, 0, __func__);
	*mail_r = mail_alloc(*trans_r, 0, NULL);
	if (!mail_set_uid(*mail_r, send->source_uid)) {
		mail_free(mail_r);
		(void)mailbox_transaction_commit(trans_r);
		mailbox_free(box_r);
		as_send_status(ctx, AS_STATUS_ITEM_NOT_FOUND,
			t_strdup_printf("Source item %s no longer exists",
					str_sanitize(item_id, 64)));
		return 0;
	}
	return 1;
}

static void
as_send_source_close(struct mailbox **box, struct mailbox_transaction_context **trans,
		     struct mail **mail)
{
	if (*box == NULL)
		return;
	mail_free(mail);
	(void)mailbox_transaction_commit(trans);
	mailbox_free(box);
}

/* Compose the outgoing message. Returns 1 ok, 0 status answered, -1 error */
static int as_send_prepare(struct as_send *send)
{
	struct as_cmd_context *ctx = send->ctx;
	struct as_send_compose_input in;
	struct mailbox *box = NULL;
	struct mailbox_transaction_context *trans = NULL;
	struct mail *original = NULL;
	const char *error;
	int ret;

	if (send->req.kind != AS_SEND_KIND_MAIL) {
		ret = as_send_source_open(send, &box, &trans, &original);
		if (ret <= 0)
			return ret;
	}

	i_zero(&in);
	in.kind = send->req.kind;
	in.mime = &send->mime;
	in.original = send->req.replace_mime ? NULL : original;
	in.from = smtp_address_encode_path(send->sender);
	in.date = message_date_create(ioloop_time);
	in.message_id = as_send_mime_new_message_id(send->sender->domain);
	in.max_size = ctx->set->max_send_size;
	ret = as_send_compose(ctx->pool, &in, &send->msg, &error);
	as_send_source_close(&box, &trans, &original);
	if (ret < 0) {
		e_error(ctx->event, "Reading the source message failed: %s",
			error);
		as_send_status(ctx, AS_STATUS_MESSAGE_REPLY_FAILED,
			       "Source message could not be read");
		return 0;
	}
	if (ret == 0) {
		as_send_status(ctx, AS_STATUS_ATTACHMENT_IS_TOO_LARGE,
			t_strdup_printf("Message larger than "
				"activesync_max_send_size=%"PRIuUOFF_T,
				ctx->set->max_send_size));
		return 0;
	}
	return 1;
}

/* The Sent copy: the message as sent plus its Bcc lines. */
static void as_send_save_sent(struct as_send *send)
{
	as_send_save_sent_copy(send->ctx, &send->mime, &send->msg);
}

void as_send_save_sent_copy(struct as_cmd_context *ctx,
			    const struct as_send_mime *mime,
			    const struct as_send_composed *msg)
{
	ARRAY_TYPE(as_folder_info) folders;
	const struct as_folder_info *folder, *sent = NULL;
	struct mailbox *box;
	struct mailbox_transaction_context *trans;
	struct mail_save_context *save_ctx;
	struct istream *inputs[4], *input;
	buffer_t *bcc;
	const char *error;
	ssize_t ret;

	t_array_init(&folders, 32);
	if (as_folders_list(ctx, &folders, &error) < 0) {
		e_error(ctx->event, "Sent copy not saved: "
			"listing folders failed: %s", error);
		return;
	}
	array_foreach(&folders, folder) {
		if (folder->type == AS_FOLDER_TYPE_SENT) {
			sent = folder;
			break;
		}
	}
	if (sent == NULL) {
		e_warning(ctx->event, "Sent copy not saved: "
			  "the user has no \\Sent folder");
		return;
	}
	if (as_folders_open(ctx, sent, 0, &box, &error) < 0) {
		e_error(ctx->event, "Sent copy not saved: %s", error);
		return;
	}

	bcc = t_buffer_create(str_len(mime->bcc_headers) + 16);
	as_send_crlf_append(bcc, str_data(mime->bcc_headers),
			    str_len(mime->bcc_headers));
	inputs[0] = i_stream_create_from_data(msg->data->data,
					      msg->header_end);
	inputs[1] = i_stream_create_from_data(bcc->data, bcc->used);
	inputs[2] = i_stream_create_from_data(
		CONST_PTR_OFFSET(msg->data->data, msg->header_end),
		msg->data->used - msg->header_end);
	inputs[3] = NULL;
	input = i_stream_create_concat(inputs);
	i_stream_unref(&inputs[0]);
	i_stream_unref(&inputs[1]);
	i_stream_unref(&inputs[2]);

	trans = mailbox_transaction_begin(box,
		MAILBOX_TRANSACTION_FLAG_EXTERNAL, __func__);
	save_ctx = mailbox_save_alloc(trans);
	mailbox_save_set_flags(save_ctx, MAIL_SEEN, NULL);
	if (mailbox_save_begin(&save_ctx, input) < 0) {
		error = mailbox_get_last_internal_error(box, NULL);
		mailbox_transaction_rollback(&trans);
	} else {
		do {
			if (mailbox_save_continue(save_ctx) < 0)
				break;
		} while ((ret = i_stream_read(input)) > 0);
		if (input->stream_errno != 0 || !input->eof) {
			mailbox_save_cancel(&save_ctx);
			error = mailbox_get_last_internal_error(box, NULL);
			mailbox_transaction_rollback(&trans);
		} else if (mailbox_save_finish(&save_ctx) < 0 ||
			   mailbox_transaction_commit(&trans) < 0) {
			error = mailbox_get_last_internal_error(box, NULL);
			if (trans != NULL)
				mailbox_transaction_rollback(&trans);
		} else {
			error = NULL;
		}
	}
	if (error != NULL)
		e_error(ctx->event, "Saving the Sent copy failed: %s", error);
	else
		e_debug(ctx->event, "Sent copy saved to %s", sent->vname);
	i_stream_unref(&input);
	mailbox_free(&box);
}

/* \Answered for a reply, $Forwarded for a forward */
static void as_send_flag_source(struct as_send *send)
{
	static const char *const forwarded[] = { "$Forwarded", NULL };
	struct as_cmd_context *ctx = send->ctx;
	struct mailbox *box;
	struct mailbox_transaction_context *trans;
	struct mail_keywords *kw;
	struct mail *mail;
	const char *error;

	if (as_folders_open(ctx, &send->source_folder, 0, &box, &error) < 0) {
		e_error(ctx->event, "Flagging the original failed: %s", error);
		return;
	}
	if (mailbox_sync(box, 0) < 0) {
		e_error(ctx->event, "Flagging the original failed: %s",
			mailbox_get_last_internal_error(box, NULL));
		mailbox_free(&box);
		return;
	}
	/* not EXTERNAL: that would mark the change as already done in the
	   backend (maildir would not rename the file and then undo it) */
	trans = mailbox_transaction_begin(box, 0, __func__);
	mail = mail_alloc(trans, 0, NULL);
	if (!mail_set_uid(mail, send->source_uid)) {
		e_info(ctx->event, "The original (UID %u) was expunged "
		       "meanwhile: not flagged", send->source_uid);
	} else if (send->req.kind == AS_SEND_KIND_REPLY)
		mail_update_flags(mail, MODIFY_ADD, MAIL_ANSWERED);
	else if (mailbox_keywords_create(box, forwarded, &kw) == 0) {
		mail_update_keywords(mail, MODIFY_ADD, kw);
		mailbox_keywords_unref(&kw);
	}
	mail_free(&mail);
	if (mailbox_transaction_commit(&trans) < 0) {
		e_error(ctx->event, "Flagging the original failed: %s",
			mailbox_get_last_internal_error(box, NULL));
	}
	mailbox_free(&box);
}

static void as_send_submission_free(struct as_send_submission *subm)
{
	timeout_remove(&subm->to_finish);
	if (subm->smtp != NULL)
		as_send_smtp_deinit(&subm->smtp);
	event_unref(&subm->event);
	pool_unref(&subm->pool);
}

static void as_send_abort(struct as_cmd_context *ctx)
{
	struct as_send *send = ctx->cmd_context;

	e_warning(ctx->event, "Client went away while the message was being "
		  "submitted; finishing the submission without it");
	send->submission->send = NULL;
	send->submission = NULL;
}

/* The submission ended after the client went away: nobody to answer,
   no mail user for the Sent copy; remember the ClientId so that the
   device's retry is answered 118 rather than sent twice. */
static void as_send_detached_finish(struct as_send_submission *subm)
{
	const char *error;

	if (subm->status != AS_SEND_SMTP_SENT &&
	    subm->status != AS_SEND_SMTP_PARTIAL) {
		e_info(subm->event, "Submission abandoned by the client "
		       "failed too: %s", subm->error);
		return;
	}
	if (subm->status == AS_SEND_SMTP_PARTIAL) {
		e_warning(subm->event, "Message sent to some recipients only: "
			  "%s", t_strarray_join(subm->refused, ", "));
	}
	e_warning(subm->event, "Message submitted after the client went "
		  "away: no Sent copy, original not flagged");
	if (subm->client_id != NULL &&
	    as_store_clientid_add(subm->store, subm->username,
				  subm->device_id, subm->client_id,
				  ioloop_time, &error) < 0)
		e_error(subm->event, "State store: %s", error);
}

static void
as_send_submitted(struct as_send *send, const char *const *refused)
{
	struct as_cmd_context *ctx = send->ctx;
	const char *error;

	e_info(ctx->event, "Message sent: %u recipients, %zu bytes%s",
	       array_count(&send->mime.rcpts) -
	       (refused == NULL ? 0 : str_array_length(refused)),
	       send->msg.data->used,
	       send->req.client_id == NULL ? "" : t_strdup_printf(
		       ", ClientId %s", str_sanitize(send->req.client_id, 64)));
	if (refused != NULL) {
		/* it went out: answered as sent, remembered as sent (a retry
		   would reach the others twice); the user learns who did
		   not get it from a notice, as from a bounce */
		e_warning(ctx->event, "Recipients refused by the SMTP server, "
			  "the others got the message: %s",
			  t_strarray_join(refused, ", "));
		as_send_refused_notice(ctx, &send->mime, refused);
	}
	if (send->req.save_in_sent)
		as_send_save_sent(send);
	if (send->req.kind != AS_SEND_KIND_MAIL)
		as_send_flag_source(send);
	if (send->req.client_id != NULL &&
	    as_store_clientid_add(ctx->store, ctx->username,
				  ctx->req->device_id, send->req.client_id,
				  ioloop_time, &error) < 0)
		e_error(ctx->event, "State store: %s", error);
}

static void
as_send_finish(struct as_send *send, enum as_send_smtp_status status,
	       const char *error, const char *const *refused)
{
	struct as_cmd_context *ctx = send->ctx;

	T_BEGIN {
		if (status == AS_SEND_SMTP_SENT)
			as_send_submitted(send, NULL);
		else if (status == AS_SEND_SMTP_PARTIAL)
			as_send_submitted(send, refused);
		else {
			/* nobody got it: a retry is safe */
			e_error(ctx->event, "Submitting the message failed "
				"(%s): %s", status == AS_SEND_SMTP_REFUSED ?
				"permanent" : "temporary", error);
			as_send_status(ctx, AS_STATUS_MAIL_SUBMISSION_FAILED,
				       "Mail submission failed");
		}
	} T_END;
	as_cmd_finish(ctx);
}

static void as_send_submission_finish(struct as_send_submission *subm)
{
	struct as_send *send = subm->send;

	timeout_remove(&subm->to_finish);
	as_send_smtp_deinit(&subm->smtp);
	if (send == NULL)
		as_send_detached_finish(subm);
	else {
		send->submission = NULL;
		as_send_finish(send, subm->status, subm->error,
			       subm->refused);
	}
	as_send_submission_free(subm);
}

static void
as_send_submit_callback(const struct as_send_smtp_result *result,
			struct as_send_submission *subm)
{
	ARRAY_TYPE(const_string) refused;
	const char *const *r, *line;

	subm->status = result->status;
	subm->error = p_strdup(subm->pool, result->error);
	if (result->refused != NULL) {
		p_array_init(&refused, subm->pool, 4);
		for (r = result->refused; *r != NULL; r++) {
			line = p_strdup(subm->pool, *r);
			array_push_back(&refused, &line);
		}
		array_append_zero(&refused);
		subm->refused = array_front(&refused);
	}
	/* as_send_smtp can't be freed from inside its callback */
	subm->to_finish = timeout_add_short(0, as_send_submission_finish,
					    subm);
}

static int
as_send_submit(struct as_send *send,
	       const struct smtp_submit_settings *smtp_set)
{
	struct as_cmd_context *ctx = send->ctx;
	struct ssl_iostream_settings ssl_set;
	struct as_send_submission *subm;
	pool_t pool;

	pool = pool_alloconly_create("activesync submission", 512);
	subm = p_new(pool, struct as_send_submission, 1);
	subm->pool = pool;
	subm->send = send;
	subm->store = ctx->store;
	subm->username = p_strdup(pool, ctx->username);
	subm->device_id = p_strdup(pool, ctx->req->device_id);
	subm->client_id = p_strdup(pool, send->req.client_id);
	subm->event = event_create(ctx->event);
	send->submission = subm;

	mail_user_init_ssl_client_settings(ctx->mail_user, &ssl_set);
	ctx->cmd_context = send;
	ctx->abort = as_send_abort;
	subm->smtp = as_send_smtp_start(smtp_set, &ssl_set, subm->event,
					send->sender, &send->mime.rcpts,
					send->msg.data->data,
					send->msg.data->used,
					as_send_submit_callback, subm);
	return 0;
}

enum as_command_result as_send_run(struct as_cmd_context *ctx,
				   enum as_send_kind kind)
{
	const struct smtp_submit_settings *smtp_set;
	struct as_send *send;
	unsigned int status;
	const char *error;
	int ret;

	send = p_new(ctx->pool, struct as_send, 1);
	send->ctx = ctx;
	if (as_send_request_parse(ctx, kind, &send->req, &status,
				  &error) < 0) {
		as_send_status(ctx, status, error);
		return AS_CMD_DONE;
	}
	if (send->req.client_id != NULL) {
		ret = as_store_clientid_exists(ctx->store, ctx->username,
					       ctx->req->device_id,
					       send->req.client_id, &error);
		if (ret < 0) {
			e_error(ctx->event, "State store: %s", error);
			return AS_CMD_FAILED;
		}
		if (ret > 0) {
			as_send_status(ctx, AS_STATUS_MESSAGE_PREVIOUSLY_SENT,
				t_strdup_printf("ClientId %s was sent before",
					str_sanitize(send->req.client_id, 64)));
			return AS_CMD_DONE;
		}
	}
	if (send->req.mime_size > ctx->set->max_send_size) {
		as_send_status(ctx, AS_STATUS_ATTACHMENT_IS_TOO_LARGE,
			t_strdup_printf("Message of %zu bytes is larger than "
				"activesync_max_send_size=%"PRIuUOFF_T,
				send->req.mime_size, ctx->set->max_send_size));
		return AS_CMD_DONE;
	}
	if (as_send_mime_parse(ctx->pool, send->req.mime, send->req.mime_size,
			       &send->mime, &error) < 0) {
		as_send_status(ctx, AS_STATUS_INVALID_MIME,
			       t_strdup_printf("Invalid MIME: %s", error));
		return AS_CMD_DONE;
	}
	if (array_count(&send->mime.rcpts) == 0) {
		as_send_status(ctx, AS_STATUS_MESSAGE_HAS_NO_RECIPIENT,
			       "No recipients in To, Cc or Bcc");
		return AS_CMD_DONE;
	}
	smtp_set = as_send_smtp_settings(ctx);
	if (smtp_set == NULL)
		return AS_CMD_FAILED;
	send->sender = as_send_sender(ctx, smtp_set);
	if (send->sender == NULL)
		return AS_CMD_FAILED;

	ret = as_send_prepare(send);
	if (ret < 0)
		return AS_CMD_FAILED;
	if (ret == 0)
		return AS_CMD_DONE;
	if (as_send_submit(send, smtp_set) < 0)
		return AS_CMD_FAILED;
	return AS_CMD_PENDING;
}
