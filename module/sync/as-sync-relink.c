/* Copyright (c) dovecot-activesync authors, see the included COPYING file */

/* Groupware items whose message was replaced. An edit of a contact or a
   task (over IMAP by another client, or by another device) expunges the
   message and saves a new one with the same vCard/iCalendar UID. The
   store keeps, per item UID, the IMAP UIDs its message had; a device
   that has the old message gets a Change of the item under the ServerId
   it knows, not a Delete and an Add (which would lose what the phone
   keeps about the item, and flicker in its lists). */

#include "lib.h"
#include "array.h"
#include "hash.h"
#include "seq-range-array.h"
#include "mail-storage.h"
#include "as-command.h"
#include "as-store-itemuid.h"
#include "items/as-item.h"
#include "sync/as-sync-changes.h"
#include "sync/as-sync-state.h"

#include "sync/as-sync-run.h"

struct sync_relink {
	uint32_t old_uid, new_uid;
};

static bool uid_array_remove(ARRAY_TYPE(uint32_t) *uids, uint32_t uid)
{
	const uint32_t *u;
	unsigned int i, count;

	u = array_get(uids, &count);
	for (i = 0; i < count; i++) {
		if (u[i] == uid) {
			array_delete(uids, i, 1);
			return TRUE;
		}
	}
	return FALSE;
}

static bool uid_array_has(const ARRAY_TYPE(uint32_t) *uids, uint32_t uid)
{
	const uint32_t *u;

	array_foreach(uids, u) {
		if (*u == uid)
			return TRUE;
	}
	return FALSE;
}

/* The expunged message the item with this UID replaces, 0 if none */
static uint32_t
sync_relink_find(struct sync_mail_run *run, const char *item_uid,
		 const ARRAY_TYPE(uint32_t) *deletes)
{
	struct as_cmd_context *ctx = run->sctx->ctx;
	ARRAY_TYPE(uint32_t) history;
	const uint32_t *h;
	const char *error;
	unsigned int i;
	int ret;

	ret = as_store_itemuid_get(ctx->store, pool_datastack_create(),
				   ctx->username, run->box_guid, item_uid,
				   &history, &error);
	if (ret < 0) {
		e_error(ctx->event, "Sync: reading the item UID history of "
			"%s failed: %s", mailbox_get_vname(run->box), error);
		return 0;
	}
	/* newest first: the message replaced last */
	for (i = array_count(&history); i > 0; i--) {
		h = array_idx(&history, i - 1);
		if (uid_array_has(deletes, *h))
			return *h;
	}
	return 0;
}

void as_sync_relink(struct sync_mail_run *run, struct as_sync_changes *changes,
		    const struct as_item_params *params,
		    struct mailbox_transaction_context *t,
		    ARRAY_TYPE(seq_range) *state_uids)
{
	struct as_cmd_context *ctx = run->sctx->ctx;
	const struct as_item_class *class = run->item_class;
	struct mailbox_header_lookup_ctx *headers;
	ARRAY(struct sync_relink) relinks;
	const struct sync_relink *rl;
	struct mail *mail;
	const uint32_t *uidp;

	if (class->item_uid == NULL || !run->have_box_guid ||
	    array_count(&changes->deletes) == 0 ||
	    array_count(&changes->adds) == 0)
		return;

	t_array_init(&relinks, 4);
	headers = class->wanted_headers == NULL ? NULL :
		class->wanted_headers(run->box);
	mail = mail_alloc(t, class->wanted_fields, headers);
	if (headers != NULL)
		mailbox_header_lookup_unref(&headers);
	array_foreach(&changes->adds, uidp) {
		struct as_item *item;
		const char *item_uid, *error;
		uint32_t old_uid = 0;

		if (!mail_set_uid(mail, *uidp))
			continue;
		T_BEGIN {
			if (class->read(mail, params, &item, &error) == 0 &&
			    (item_uid = class->item_uid(item)) != NULL)
				old_uid = sync_relink_find(run, item_uid,
							   &changes->deletes);
		} T_END;
		if (old_uid != 0) {
			struct sync_relink *new_rl =
				array_append_space(&relinks);

			new_rl->old_uid = old_uid;
			new_rl->new_uid = *uidp;
		}
	}
	mail_free(&mail);

	array_foreach(&relinks, rl) {
		uint32_t id = as_sync_state_alias_id(&run->extra, rl->old_uid);

		/* one old message can't be claimed twice (duplicate item
		   UIDs): the second one stays an Add */
		if (!uid_array_remove(&changes->deletes, rl->old_uid))
			continue;
		(void)uid_array_remove(&changes->adds, rl->new_uid);
		array_push_back(&changes->changes, &rl->new_uid);
		/* the device's ServerId now names the new message */
		as_sync_state_alias_move(&run->extra, id, rl->new_uid);
		seq_range_array_remove(state_uids, rl->old_uid);
		seq_range_array_add(state_uids, rl->new_uid);
		e_debug(ctx->event, "Sync: %s UID %u replaces UID %u "
			"(same item): sent as a Change of %s",
			mailbox_get_vname(run->box), rl->new_uid, rl->old_uid,
			as_sync_server_id(run, rl->new_uid));
	}
}

void as_sync_itemuid_sent(struct sync_mail_run *run,
			  const struct as_item *item, uint32_t uid)
{
	struct as_cmd_context *ctx = run->sctx->ctx;
	struct as_store_itemuid_update *upd;
	ARRAY_TYPE(uint32_t) history;
	const char *item_uid, *error;
	const uint32_t *h;
	uint32_t other = 0;
	void *value;

	if (run->item_class->item_uid == NULL || !run->have_box_guid ||
	    (item_uid = run->item_class->item_uid(item)) == NULL)
		return;
	if (!array_is_created(&run->itemuid_updates)) {
		p_array_init(&run->itemuid_updates, ctx->pool, 16);
		hash_table_create(&run->itemuids_sent, ctx->pool, 0,
				  str_hash, strcmp);
	}

	/* Two messages with the same item UID are two items for the device
	   (each has its own ServerId): say so, once, when the second one is
	   sent. */
	value = hash_table_lookup(run->itemuids_sent, item_uid);
	if (value != NULL) {
		other = POINTER_CAST_TO(value, uint32_t);
	} else if (as_store_itemuid_get(ctx->store, pool_datastack_create(),
					ctx->username, run->box_guid, item_uid,
					&history, &error) < 0) {
		e_error(ctx->event, "Sync: reading the item UID history of "
			"%s failed: %s", mailbox_get_vname(run->box), error);
	} else {
		array_foreach(&history, h) {
			if (*h != uid &&
			    seq_range_exists(&run->state.uids, *h))
				other = *h;
		}
	}
	if (other != 0 && other != uid) {
		e_warning(ctx->event, "Sync: %s: UIDs %u and %u hold the same "
			  "item (UID %s); the device gets both",
			  mailbox_get_vname(run->box), other, uid, item_uid);
	}

	item_uid = p_strdup(ctx->pool, item_uid);
	hash_table_update(run->itemuids_sent, item_uid,
			  POINTER_CAST(uid));
	upd = array_append_space(&run->itemuid_updates);
	upd->item_uid = item_uid;
	upd->uid = uid;
}

void as_sync_itemuid_client_added(struct sync_mail_run *run,
				  const struct as_item_params *params,
				  struct mailbox_transaction_context *t)
{
	const struct as_item_class *class = run->item_class;
	struct seq_range_iter iter;
	struct as_item *item;
	struct mail *mail;
	const char *error;
	unsigned int n = 0;
	uint32_t uid;

	if (class->item_uid == NULL || !run->have_box_guid ||
	    array_count(&run->client_added) == 0)
		return;
	mail = mail_alloc(t, class->wanted_fields, NULL);
	seq_range_array_iter_init(&iter, &run->client_added);
	while (seq_range_array_iter_nth(&iter, n++, &uid)) {
		if (!mail_set_uid(mail, uid))
			continue;
		T_BEGIN {
			if (class->read(mail, params, &item, &error) == 0)
				as_sync_itemuid_sent(run, item, uid);
		} T_END;
	}
	mail_free(&mail);
}

void as_sync_itemuid_store(struct sync_mail_run *run)
{
	struct as_cmd_context *ctx = run->sctx->ctx;
	const struct as_store_itemuid_update *upd;
	unsigned int count;
	const char *error;

	if (!array_is_created(&run->itemuid_updates))
		return;
	upd = array_get(&run->itemuid_updates, &count);
	if (as_store_itemuid_record(ctx->store, ctx->username, run->box_guid,
				    upd, count, &error) < 0) {
		/* only costs a Delete and an Add after a later edit */
		e_error(ctx->event, "Sync: recording item UIDs of %s failed: "
			"%s", mailbox_get_vname(run->box), error);
	}
	hash_table_destroy(&run->itemuids_sent);
	array_free(&run->itemuid_updates);
}
