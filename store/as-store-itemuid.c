/* Copyright (c) dovecot-activesync authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "buffer.h"
#include "sort.h"
#include "as-store-record.h"
#include "as-store-private.h"
#include "as-store-itemuid.h"

/* item_uids  user\0 guid(16) item-uid\0  ->  u8 version, u32 count,
   count * u32 UID (oldest first) */
#define AS_STORE_ITEMUID_VERSION 1

struct as_store_itemuid_ctx {
	pool_t pool;
	const char *user;
	const unsigned char *box_guid;
	const char *item_uid;
	ARRAY_TYPE(uint32_t) *uids_r;

	const struct as_store_itemuid_update *updates;
	unsigned int count;
};

static buffer_t *
as_store_key_itemuid(const char *user, const guid_128_t guid,
		     const char *item_uid)
{
	buffer_t *key = as_store_key_new();

	as_store_key_add_str(key, user);
	buffer_append(key, guid, GUID_128_SIZE);
	as_store_key_add_str(key, item_uid);
	return key;
}

static int
as_store_itemuid_read(struct as_store_txn *txn, const buffer_t *key,
		      ARRAY_TYPE(uint32_t) *uids, const char **error_r)
{
	struct as_record_reader r;
	const char *error;
	MDB_val data;
	uint32_t i, count, uid;
	int ret;

	ret = as_store_txn_get(txn, AS_STORE_DB_ITEM_UIDS, key, &data,
			       error_r);
	if (ret <= 0)
		return ret;
	as_record_reader_init(&r, data.mv_data, data.mv_size);
	(void)as_record_read_version(&r, AS_STORE_ITEMUID_VERSION);
	count = as_record_read_count(&r, sizeof(uint32_t));
	for (i = 0; i < count; i++) {
		uid = as_record_read_u32(&r);
		array_push_back(uids, &uid);
	}
	if (as_record_reader_finish(&r, &error) < 0) {
		*error_r = t_strdup_printf("Corrupted %s record: %s",
			as_store_db_names[AS_STORE_DB_ITEM_UIDS], error);
		return -1;
	}
	return 1;
}

static int
as_store_itemuid_get_txn(struct as_store_txn *txn, void *context,
			 const char **error_r)
{
	struct as_store_itemuid_ctx *ctx = context;

	array_clear(ctx->uids_r);
	return as_store_itemuid_read(txn,
		as_store_key_itemuid(ctx->user, ctx->box_guid, ctx->item_uid),
		ctx->uids_r, error_r);
}

int as_store_itemuid_get(struct as_store *store, pool_t pool,
			 const char *user, const guid_128_t box_guid,
			 const char *item_uid, ARRAY_TYPE(uint32_t) *uids_r,
			 const char **error_r)
{
	struct as_store_itemuid_ctx ctx = {
		.pool = pool,
		.user = user,
		.box_guid = box_guid,
		.item_uid = item_uid,
		.uids_r = uids_r,
	};

	p_array_init(uids_r, pool, 4);
	return as_store_read(store, as_store_itemuid_get_txn, &ctx, error_r);
}

static int
as_store_itemuid_record_txn(struct as_store_txn *txn, void *context,
			    const char **error_r)
{
	struct as_store_itemuid_ctx *ctx = context;
	ARRAY_TYPE(uint32_t) uids;
	const uint32_t *uidp;
	buffer_t *key, *data;
	unsigned int i, j, n, first;
	int ret = 0;

	for (i = 0; i < ctx->count && ret >= 0; i++) T_BEGIN {
		const struct as_store_itemuid_update *upd = &ctx->updates[i];

		t_array_init(&uids, AS_STORE_ITEMUID_HISTORY_MAX + 1);
		key = as_store_key_itemuid(ctx->user, ctx->box_guid,
					   upd->item_uid);
		ret = as_store_itemuid_read(txn, key, &uids, error_r);
		if (ret >= 0 &&
		    (array_count(&uids) == 0 ||
		     !array_lsearch(&uids, &upd->uid, uint32_cmp))) {
			array_push_back(&uids, &upd->uid);
			first = array_count(&uids) >
				AS_STORE_ITEMUID_HISTORY_MAX ?
				array_count(&uids) -
				AS_STORE_ITEMUID_HISTORY_MAX : 0;
			data = t_buffer_create(64);
			as_record_write_version(data,
						AS_STORE_ITEMUID_VERSION);
			as_record_write_u32(data, array_count(&uids) - first);
			uidp = array_get(&uids, &n);
			for (j = first; j < n; j++)
				as_record_write_u32(data, uidp[j]);
			ret = as_store_txn_put(txn, AS_STORE_DB_ITEM_UIDS,
					       key, data, error_r);
		}
	} T_END_PASS_STR_IF(ret < 0, error_r);
	return ret < 0 ? -1 : 1;
}

int as_store_itemuid_record(struct as_store *store, const char *user,
			    const guid_128_t box_guid,
			    const struct as_store_itemuid_update *updates,
			    unsigned int count, const char **error_r)
{
	struct as_store_itemuid_ctx ctx = {
		.user = user,
		.box_guid = box_guid,
		.updates = updates,
		.count = count,
	};

	if (count == 0)
		return 0;
	return as_store_write(store, as_store_itemuid_record_txn, &ctx,
			      error_r) < 0 ? -1 : 0;
}
