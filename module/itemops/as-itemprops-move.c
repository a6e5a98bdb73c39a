/* Copyright (c) dovecot-activesync authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "seq-range-array.h"
#include "mail-storage.h"
#include "as-command.h"
#include "as-store-itemprops.h"
#include "itemops/as-itemprops-move.h"

static int box_guid(struct mailbox *box, guid_128_t guid_r)
{
	struct mailbox_metadata metadata;

	if (mailbox_get_metadata(box, MAILBOX_METADATA_GUID, &metadata) < 0)
		return -1;
	memcpy(guid_r, metadata.guid, GUID_128_SIZE);
	return 0;
}

void as_itemprops_move(struct as_cmd_context *ctx, struct mailbox *src,
		       struct mailbox *dst, const ARRAY_TYPE(uint32_t) *src_uids,
		       const ARRAY_TYPE(seq_range) *dst_uids,
		       bool src_expunged)
{
	struct seq_range_iter iter;
	guid_128_t src_guid, dst_guid;
	const char *value, *error;
	unsigned int i, count = array_count(src_uids);
	uint32_t src_uid, dst_uid;
	int ret;

	if (count == 0)
		return;
	if (seq_range_count(dst_uids) != count) {
		/* can't pair them: the flags stay without their dates */
		e_error(ctx->event, "Moving item properties from %s to %s: "
			"%u messages moved but %u UIDs assigned",
			mailbox_get_vname(src), mailbox_get_vname(dst),
			count, seq_range_count(dst_uids));
		return;
	}
	if (box_guid(src, src_guid) < 0 || box_guid(dst, dst_guid) < 0) {
		e_error(ctx->event, "Moving item properties from %s to %s: "
			"no mailbox GUID: %s", mailbox_get_vname(src),
			mailbox_get_vname(dst),
			mailbox_get_last_internal_error(src, NULL));
		return;
	}
	seq_range_array_iter_init(&iter, dst_uids);
	for (i = 0; i < count; i++) {
		src_uid = *array_idx(src_uids, i);
		if (!seq_range_array_iter_nth(&iter, i, &dst_uid))
			i_unreached();
		/* a read transaction for the (usual) message without any */
		ret = as_store_itemprops_get(ctx->store,
					     pool_datastack_create(),
					     ctx->username, src_guid, src_uid,
					     &value, &error);
		if (ret > 0) {
			ret = as_store_itemprops_put(ctx->store, ctx->username,
						     dst_guid, dst_uid, value,
						     &error);
		}
		if (ret > 0 && src_expunged) {
			ret = as_store_itemprops_delete(ctx->store,
							ctx->username,
							src_guid, src_uid,
							&error);
		}
		if (ret < 0) {
			e_error(ctx->event, "Moving item properties of UID %u "
				"in %s to UID %u in %s failed: %s", src_uid,
				mailbox_get_vname(src), dst_uid,
				mailbox_get_vname(dst), error);
		} else if (ret > 0) {
			e_debug(ctx->event, "Item properties of UID %u in %s "
				"moved to UID %u in %s", src_uid,
				mailbox_get_vname(src), dst_uid,
				mailbox_get_vname(dst));
		}
	}
}
