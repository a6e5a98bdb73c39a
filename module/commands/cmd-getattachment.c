/* Copyright (c) dovecot-activesync authors, see the included COPYING file */

/* GetAttachment (MS-ASCMD 2.2.1.7): the attachment named by the
   AttachmentName query parameter (a FileReference from Sync) as the raw
   HTTP body with its own Content-Type. A reference that names nothing
   is answered with HTTP 500, as the spec says. Protocol 14.0 and later
   replaced the command by ItemOperations; it is still served for them,
   since some clients keep using it. */

#include "lib.h"
#include "str-sanitize.h"
#include "istream.h"
#include "as-command.h"
#include "itemops/as-attachment.h"

enum as_command_result cmd_getattachment(struct as_cmd_context *ctx)
{
	struct as_attachment att;
	const char *name = ctx->req->attachment_name, *error;
	int ret;

	if (name == NULL || *name == '\0') {
		e_info(ctx->event, "GetAttachment: no AttachmentName");
		ctx->http_status = 400;
		ctx->http_reason = "Bad Request";
		return AS_CMD_DONE;
	}
	ret = as_attachment_open(ctx, name, &att, &error);
	if (ret < 0) {
		e_error(ctx->event, "GetAttachment %s failed: %s",
			str_sanitize(name, 128), error);
		return AS_CMD_FAILED;
	}
	if (ret == 0) {
		e_info(ctx->event, "GetAttachment: unknown attachment %s: %s",
		       str_sanitize(name, 128), error);
		ctx->http_status = 500;
		ctx->http_reason = "Internal Server Error";
		return AS_CMD_DONE;
	}
	e_debug(ctx->event, "GetAttachment %s: %"PRIuUOFF_T" bytes",
		str_sanitize(name, 128), att.size);
	ctx->response_input = att.input;
	ctx->response_content_type = att.content_type;
	return AS_CMD_DONE;
}
