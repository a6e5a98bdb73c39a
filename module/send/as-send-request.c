/* Copyright (c) the dovecot-activesync authors, see AUTHORS */

/* The two request forms (MS-ASCMD SendMail/SmartReply/SmartForward):
   from 14.0 a ComposeMail WBXML document; before 14.0 the message itself
   is the HTTP body (message/rfc822) and SaveInSent, ItemId, CollectionId
   and LongId come from the query. */

#include "lib.h"
#include "buffer.h"
#include "send/as-send.h"

/* MS-ASCMD allows 40 characters; be lenient but keep LMDB keys small */
#define AS_SEND_MAX_CLIENT_ID_LEN 128
#define AS_SEND_MAX_ID_LEN 256

static int
send_request_parse_source(const struct wbxml_node *source,
			  struct as_send_request *req, const char **error_r)
{
	const struct wbxml_node *child;

	wbxml_node_foreach_child(source, child) {
		const char *value = wbxml_node_text(child);

		if (strlen(value) > AS_SEND_MAX_ID_LEN) {
			*error_r = "Source id too long";
			return -1;
		}
		switch (child->tag) {
		case EAS_COMPOSEMAIL_FOLDERID:
			req->folder_id = value;
			break;
		case EAS_COMPOSEMAIL_ITEMID:
			req->item_id = value;
			break;
		case EAS_COMPOSEMAIL_LONGID:
			req->long_id = value;
			break;
		case EAS_COMPOSEMAIL_INSTANCEID:
			req->instance_id = value;
			break;
		default:
			*error_r = t_strdup_printf("Unexpected %s in Source",
				wbxml_tag_describe(child->tag));
			return -1;
		}
	}
	return 0;
}

static int
send_request_parse_wbxml(struct as_cmd_context *ctx,
			 struct as_send_request *req, unsigned int *status_r,
			 const char **error_r)
{
	const struct wbxml_node *child, *mime = NULL;

	*status_r = AS_STATUS_INVALID_CONTENT;
	wbxml_node_foreach_child(ctx->root, child) {
		switch (child->tag) {
		case EAS_COMPOSEMAIL_CLIENTID:
			req->client_id = wbxml_node_text(child);
			break;
		case EAS_COMPOSEMAIL_SAVEINSENTITEMS:
			req->save_in_sent = TRUE;
			break;
		case EAS_COMPOSEMAIL_REPLACEMIME:
			req->replace_mime = TRUE;
			break;
		case EAS_COMPOSEMAIL_SOURCE:
			if (req->kind == AS_SEND_KIND_MAIL) {
				*error_r = "Source in SendMail";
				return -1;
			}
			if (send_request_parse_source(child, req, error_r) < 0)
				return -1;
			break;
		case EAS_COMPOSEMAIL_MIME:
			mime = child;
			break;
		case EAS_COMPOSEMAIL_ACCOUNTID:
			/* only the primary account is served */
			break;
		case EAS_COMPOSEMAIL_FORWARDEES:
			/* 16.x meeting forwards: not supported, the MIME
			   recipients are used */
			break;
		default:
			*error_r = t_strdup_printf("Unexpected element %s",
				wbxml_tag_describe(child->tag));
			return -1;
		}
	}
	if (mime == NULL || mime->data_size == 0) {
		*error_r = "No Mime element";
		return -1;
	}
	if (req->client_id != NULL &&
	    (req->client_id[0] == '\0' ||
	     strlen(req->client_id) > AS_SEND_MAX_CLIENT_ID_LEN)) {
		*error_r = "Invalid ClientId";
		return -1;
	}
	req->mime = mime->data;
	req->mime_size = mime->data_size;
	return 0;
}

static void
send_request_parse_query(struct as_cmd_context *ctx,
			 struct as_send_request *req)
{
	req->save_in_sent = ctx->req->save_in_sent;
	if (req->kind != AS_SEND_KIND_MAIL) {
		req->folder_id = ctx->req->collection_id;
		req->item_id = ctx->req->item_id;
		req->long_id = ctx->req->long_id;
		req->instance_id = ctx->req->occurrence;
	}
	req->mime = ctx->raw_body->data;
	req->mime_size = ctx->raw_body->used;
}

int as_send_request_parse(struct as_cmd_context *ctx, enum as_send_kind kind,
			  struct as_send_request *req_r,
			  unsigned int *status_r, const char **error_r)
{
	i_zero(req_r);
	req_r->kind = kind;

	if (ctx->root != NULL) {
		if (send_request_parse_wbxml(ctx, req_r, status_r,
					     error_r) < 0)
			return -1;
	} else if (ctx->raw_body != NULL && ctx->raw_body->used > 0) {
		send_request_parse_query(ctx, req_r);
	} else {
		*status_r = AS_STATUS_INVALID_CONTENT;
		*error_r = "Empty request";
		return -1;
	}
	if (kind != AS_SEND_KIND_MAIL && req_r->item_id == NULL &&
	    req_r->long_id == NULL) {
		*status_r = AS_STATUS_INVALID_CONTENT;
		*error_r = "No source message (ItemId or LongId)";
		return -1;
	}
	return 0;
}
