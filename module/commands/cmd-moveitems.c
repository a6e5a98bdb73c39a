/* Copyright (c) dovecot-activesync authors, see the included COPYING file */

/* MoveItems (MS-ASCMD 2.2.1.12): move mails between folders with
   Dovecot's mailbox_move() (copy + expunge in one go, keeping flags and
   dates), answering each Move with its new ServerId, taken from the
   UID the destination assigned when the transaction was committed.

   The device knows the item under its new ServerId from our answer, so
   its Sync state learns about the move too: after the mailbox commit
   the new UID is added to the destination collection's latest state and
   the old one removed from the source's. The next Sync then neither
   sends the item again as an Add nor asks the device to delete the old
   one. (It may send one Change for it: the move raised the destination
   folder's modseq.)

   The request is parsed first; a malformed one changes nothing. */

#include "lib.h"
#include "array.h"
#include "str-sanitize.h"
#include "seq-range-array.h"
#include "mail-storage.h"
#include "as-command.h"
#include "as-folders.h"
#include "items/as-item.h"
#include "items/as-email.h"
#include "sync/as-sync-state.h"
#include "itemops/as-itemprops-move.h"

/* MoveItems status codes (MS-ASCMD 2.2.3.177.10) */
enum moveitems_status {
	MOVEITEMS_STATUS_INVALID_SOURCE = 1,
	MOVEITEMS_STATUS_INVALID_DESTINATION = 2,
	MOVEITEMS_STATUS_OK = 3,
	MOVEITEMS_STATUS_SAME_FOLDER = 4,
	MOVEITEMS_STATUS_FAILED = 5,
	MOVEITEMS_STATUS_LOCKED = 7,
};

#define MOVEITEMS_MAX_MOVES 512

struct moveitems_move {
	const char *src_msg_id, *src_folder_id, *dst_folder_id;
};

ARRAY_DEFINE_TYPE(moveitems_move, struct moveitems_move);

struct moveitems_result {
	unsigned int status;
	const char *dst_msg_id;
};

/* ---- the collection states ---- */

/* Add or remove uid in the device's latest state of the collection (if
   it has one). Failures are logged only: the mailbox is already right,
   and the worst outcome is an item the device gets once more. */
static void
moveitems_state_update(struct as_cmd_context *ctx, const char *collection_id,
		       uint32_t uid, bool add)
{
	struct as_collection_state state;
	unsigned int latest;
	const char *error;
	int ret;

	ret = as_store_collection_latest(ctx->store, ctx->username,
					 ctx->req->device_id, collection_id,
					 &latest, &error);
	if (ret == 0 || (ret > 0 && latest == 0))
		return;
	if (ret > 0) {
		ret = as_store_collection_get(ctx->store,
					      pool_datastack_create(),
					      ctx->username,
					      ctx->req->device_id,
					      collection_id, latest, &state,
					      &error);
	}
	if (ret == 0)
		return;
	if (ret > 0) {
		if (!array_is_created(&state.uids))
			t_array_init(&state.uids, 4);
		if (add)
			seq_range_array_add(&state.uids, uid);
		else
			seq_range_array_remove(&state.uids, uid);
		ret = as_store_collection_put(ctx->store, ctx->username,
					      ctx->req->device_id,
					      collection_id, latest, &state,
					      &error);
	}
	if (ret < 0) {
		e_error(ctx->event, "MoveItems: updating the state of "
			"collection %s failed: %s", collection_id, error);
	}
}

/* ---- one move ---- */

static unsigned int moveitems_mail_error_status(struct mailbox *box)
{
	enum mail_error error;

	(void)mailbox_get_last_internal_error(box, &error);
	switch (error) {
	case MAIL_ERROR_TEMP:
		/* maildir reports a lock it waited for in vain this way */
		if (strcmp(mailbox_get_last_error(box, NULL),
			   MAIL_ERRSTR_LOCK_TIMEOUT) == 0)
			return MOVEITEMS_STATUS_LOCKED;
		return MOVEITEMS_STATUS_FAILED;
	case MAIL_ERROR_INUSE:
		return MOVEITEMS_STATUS_LOCKED;
	case MAIL_ERROR_EXPUNGED:
	case MAIL_ERROR_NOTFOUND:
		return MOVEITEMS_STATUS_INVALID_SOURCE;
	default:
		return MOVEITEMS_STATUS_FAILED;
	}
}

/* Move uid from src to dst; the new UID in *new_uid_r. */
static unsigned int
moveitems_mailbox_move(struct as_cmd_context *ctx,
		       const struct as_folder_info *src,
		       const struct as_folder_info *dst, uint32_t uid,
		       uint32_t *new_uid_r)
{
	struct mailbox *src_box, *dst_box;
	struct mailbox_transaction_context *src_t, *dst_t;
	struct mail_transaction_commit_changes changes;
	struct mail_save_context *save_ctx;
	struct mail *mail;
	const char *error;
	unsigned int status = MOVEITEMS_STATUS_OK;

	if (as_folders_open(ctx, src, 0, &src_box, &error) < 0) {
		e_info(ctx->event, "MoveItems: source folder %s: %s",
		       src->server_id, error);
		return MOVEITEMS_STATUS_INVALID_SOURCE;
	}
	if (as_folders_open(ctx, dst, 0, &dst_box, &error) < 0) {
		e_info(ctx->event, "MoveItems: destination folder %s: %s",
		       dst->server_id, error);
		mailbox_free(&src_box);
		return MOVEITEMS_STATUS_INVALID_DESTINATION;
	}
	if (as_folders_check_writable(src_box, &error) < 0) {
		/* the copy would be made, the original never removed */
		e_error(ctx->event, "MoveItems: %s", error);
		mailbox_free(&dst_box);
		mailbox_free(&src_box);
		return MOVEITEMS_STATUS_FAILED;
	}

	src_t = mailbox_transaction_begin(src_box, 0, "activesync move");
	dst_t = mailbox_transaction_begin(dst_box,
		MAILBOX_TRANSACTION_FLAG_EXTERNAL |
		MAILBOX_TRANSACTION_FLAG_ASSIGN_UIDS, "activesync move");
	mail = mail_alloc(src_t, 0, NULL);
	if (!mail_set_uid(mail, uid)) {
		e_info(ctx->event, "MoveItems: UID %u not in %s (moved or "
		       "deleted already)", uid, src->vname);
		status = MOVEITEMS_STATUS_INVALID_SOURCE;
	} else {
		save_ctx = mailbox_save_alloc(dst_t);
		/* flags and keywords go along, as with IMAP MOVE */
		mailbox_save_copy_flags(save_ctx, mail);
		if (mailbox_move(&save_ctx, mail) < 0) {
			status = moveitems_mail_error_status(dst_box);
			e_error(ctx->event, "MoveItems: moving UID %u from %s "
				"to %s failed: %s", uid, src->vname,
				dst->vname, mailbox_get_last_internal_error(
					dst_box, NULL));
		}
	}
	mail_free(&mail);

	if (status != MOVEITEMS_STATUS_OK) {
		mailbox_transaction_rollback(&dst_t);
		mailbox_transaction_rollback(&src_t);
	} else if (mailbox_transaction_commit_get_changes(&dst_t,
							  &changes) < 0) {
		/* the copy first, as IMAP MOVE does: nothing changed */
		status = moveitems_mail_error_status(dst_box);
		e_error(ctx->event, "MoveItems: saving to %s failed: %s",
			dst->vname,
			mailbox_get_last_internal_error(dst_box, NULL));
		mailbox_transaction_rollback(&src_t);
	} else {
		if (seq_range_count(&changes.saved_uids) != 1) {
			status = MOVEITEMS_STATUS_FAILED;
			e_error(ctx->event, "MoveItems: %s assigned %u UIDs "
				"for one message", dst->vname,
				seq_range_count(&changes.saved_uids));
		} else {
			const struct seq_range *range =
				array_front(&changes.saved_uids);

			*new_uid_r = range->seq1;
		}
		if (mailbox_transaction_commit(&src_t) < 0) {
			/* now in both folders: the device sees the copy at
			   its next Sync of the destination */
			e_error(ctx->event, "MoveItems: expunging UID %u "
				"from %s failed: %s", uid, src->vname,
				mailbox_get_last_internal_error(src_box,
								NULL));
			status = MOVEITEMS_STATUS_FAILED;
		}
		/* mailbox first, then the flag dates follow */
		if (seq_range_count(&changes.saved_uids) == 1) T_BEGIN {
			ARRAY_TYPE(uint32_t) src_uids;

			t_array_init(&src_uids, 1);
			array_push_back(&src_uids, &uid);
			as_itemprops_move(ctx, src_box, dst_box, &src_uids,
					  &changes.saved_uids,
					  status == MOVEITEMS_STATUS_OK);
		} T_END;
		pool_unref(&changes.pool);
	}
	mailbox_free(&dst_box);
	mailbox_free(&src_box);
	return status;
}

static void
moveitems_move(struct as_cmd_context *ctx, const struct moveitems_move *move,
	       struct moveitems_result *result_r)
{
	struct as_folder_info src, dst;
	enum as_folder_class src_class, dst_class;
	const char *error;
	uint32_t uid, new_uid = 0;
	int ret;

	i_zero(result_r);
	ret = as_folders_lookup(ctx, move->src_folder_id, &src, &error);
	if (ret < 0) {
		e_error(ctx->event, "MoveItems: folder lookup failed: %s",
			error);
		result_r->status = MOVEITEMS_STATUS_FAILED;
		return;
	}
	if (ret == 0 || src.noselect ||
	    !as_email_parse_server_id(move->src_msg_id, src.server_id, &uid)) {
		e_info(ctx->event, "MoveItems: invalid source %s in "
		       "folder %s", str_sanitize(move->src_msg_id, 64),
		       str_sanitize(move->src_folder_id, 64));
		result_r->status = MOVEITEMS_STATUS_INVALID_SOURCE;
		return;
	}
	ret = as_folders_lookup(ctx, move->dst_folder_id, &dst, &error);
	if (ret < 0) {
		e_error(ctx->event, "MoveItems: folder lookup failed: %s",
			error);
		result_r->status = MOVEITEMS_STATUS_FAILED;
		return;
	}
	if (ret == 0 || dst.noselect) {
		e_info(ctx->event, "MoveItems: invalid destination folder %s",
		       str_sanitize(move->dst_folder_id, 64));
		result_r->status = MOVEITEMS_STATUS_INVALID_DESTINATION;
		return;
	}
	if (strcmp(src.server_id, dst.server_id) == 0) {
		e_info(ctx->event, "MoveItems: %s: source and destination "
		       "are the same folder", str_sanitize(move->src_msg_id, 64));
		result_r->status = MOVEITEMS_STATUS_SAME_FOLDER;
		return;
	}
	/* groupware seen as mail is a one-way view: its items stay where
	   they are, and mail doesn't go into groupware folders */
	if (src.groupware_as_email) {
		e_info(ctx->event, "MoveItems: %s: folder %s is groupware "
		       "seen as mail, its items can't be moved",
		       str_sanitize(move->src_msg_id, 64), src.server_id);
		result_r->status = MOVEITEMS_STATUS_FAILED;
		return;
	}
	if (dst.groupware_as_email) {
		e_info(ctx->event, "MoveItems: %s: folder %s is groupware "
		       "seen as mail, nothing can be moved into it",
		       str_sanitize(move->src_msg_id, 64), dst.server_id);
		result_r->status = MOVEITEMS_STATUS_INVALID_DESTINATION;
		return;
	}
	/* items move only within one class */
	src_class = as_folder_class(&src);
	dst_class = as_folder_class(&dst);
	if (src_class != dst_class) {
		e_info(ctx->event, "MoveItems: %s: folder %s is of another "
		       "class (type %u) than folder %s (type %u)",
		       str_sanitize(move->src_msg_id, 64), dst.server_id,
		       dst.type, src.server_id, src.type);
		result_r->status = MOVEITEMS_STATUS_FAILED;
		return;
	}
	if (as_item_class_get(&src) == NULL) {
		/* no items of this class are served yet */
		e_info(ctx->event, "MoveItems: %s: no such item in folder %s",
		       str_sanitize(move->src_msg_id, 64), src.server_id);
		result_r->status = MOVEITEMS_STATUS_INVALID_SOURCE;
		return;
	}

	/* an item the device edited lives on in a new message */
	if (!as_item_class_get(&src)->change_in_place &&
	    as_sync_state_device_uid(ctx->store, ctx->username,
				     ctx->req->device_id, src.server_id,
				     uid, &uid, &error) < 0) {
		e_error(ctx->event, "MoveItems: reading the state of %s "
			"failed: %s", src.server_id, error);
	}
	result_r->status = moveitems_mailbox_move(ctx, &src, &dst, uid,
						  &new_uid);
	if (result_r->status != MOVEITEMS_STATUS_OK)
		return;
	result_r->dst_msg_id = p_strdup(ctx->pool,
		as_email_server_id(dst.server_id, new_uid));
	e_debug(ctx->event, "MoveItems: %s -> %s", move->src_msg_id,
		result_r->dst_msg_id);
	/* mailbox first, then the states */
	moveitems_state_update(ctx, src.server_id, uid, FALSE);
	moveitems_state_update(ctx, dst.server_id, new_uid, TRUE);
}

/* ---- the command ---- */

static int
moveitems_parse(struct as_cmd_context *ctx,
		ARRAY_TYPE(moveitems_move) *moves, const char **error_r)
{
	const struct wbxml_node *node;
	struct moveitems_move *move;

	wbxml_node_foreach_child(ctx->root, node) {
		if (node->tag != EAS_MOVE_MOVE) {
			*error_r = t_strdup_printf("Unexpected element %s",
				wbxml_tag_describe(node->tag));
			return -1;
		}
		if (array_count(moves) >= MOVEITEMS_MAX_MOVES) {
			*error_r = "Too many Move elements";
			return -1;
		}
		move = array_append_space(moves);
		move->src_msg_id = wbxml_node_child_text(node, EAS_MOVE_SRCMSGID);
		move->src_folder_id = wbxml_node_child_text(node,
							    EAS_MOVE_SRCFLDID);
		move->dst_folder_id = wbxml_node_child_text(node,
							    EAS_MOVE_DSTFLDID);
		if (move->src_msg_id == NULL || move->src_folder_id == NULL ||
		    move->dst_folder_id == NULL) {
			*error_r = "Move without SrcMsgId, SrcFldId or DstFldId";
			return -1;
		}
	}
	if (array_count(moves) == 0) {
		*error_r = "No Move elements";
		return -1;
	}
	return 0;
}

enum as_command_result cmd_moveitems(struct as_cmd_context *ctx)
{
	ARRAY_TYPE(moveitems_move) moves;
	const struct moveitems_move *move;
	struct moveitems_result result;
	struct wbxml_writer *w = ctx->writer;
	const char *error;

	t_array_init(&moves, 8);
	if (moveitems_parse(ctx, &moves, &error) < 0) {
		e_info(ctx->event, "MoveItems: malformed request: %s", error);
		if (ctx->req->version < AS_VERSION_14_0) {
			ctx->http_status = 400;
			ctx->http_reason = "Bad Request";
		} else {
			as_cmd_write_status(ctx, AS_STATUS_INVALID_XML);
		}
		return AS_CMD_DONE;
	}

	wbxml_start(w, EAS_MOVE_MOVEITEMS);
	array_foreach(&moves, move) T_BEGIN {
		moveitems_move(ctx, move, &result);
		wbxml_start(w, EAS_MOVE_RESPONSE);
		wbxml_elem_str(w, EAS_MOVE_SRCMSGID, move->src_msg_id);
		wbxml_elem_uint(w, EAS_MOVE_STATUS, result.status);
		if (result.dst_msg_id != NULL)
			wbxml_elem_str(w, EAS_MOVE_DSTMSGID, result.dst_msg_id);
		wbxml_end(w);
	} T_END;
	wbxml_end(w);
	return AS_CMD_DONE;
}
