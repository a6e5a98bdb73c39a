#ifndef AS_ITEMPROPS_MOVE_H
#define AS_ITEMPROPS_MOVE_H

#include "seq-range-array.h"

struct as_cmd_context;
struct mailbox;

/* Item properties (the EAS flag with its dates and type, kept in the
   state store by mailbox GUID + UID) follow messages that were moved:
   call after the destination's transaction committed. src_uids are the
   moved UIDs in the order they were saved, dst_uids what the
   destination assigned (mail_transaction_commit_changes.saved_uids, in
   the same order). The old keys are dropped only if src_expunged (the
   source transaction committed too); otherwise the message is in both
   folders and both keep them. Store failures are logged only: the
   mailbox is already right and \Flagged went along with the message. */
void as_itemprops_move(struct as_cmd_context *ctx, struct mailbox *src,
		       struct mailbox *dst, const ARRAY_TYPE(uint32_t) *src_uids,
		       const ARRAY_TYPE(seq_range) *dst_uids,
		       bool src_expunged);

#endif
