/* Copyright (c) the dovecot-activesync authors, see AUTHORS */

/* SmartReply (MS-ASCMD): the work is shared with the other sending commands in
   module/send/as-send.c. */

#include "lib.h"
#include "send/as-send.h"

enum as_command_result cmd_smartreply(struct as_cmd_context *ctx)
{
	return as_send_run(ctx, AS_SEND_KIND_REPLY);
}
