/* Copyright (c) dovecot-activesync authors, see the included COPYING file */

#include "lib.h"
#include "buffer.h"
#include "as-store-record.h"
#include "as-store-private.h"
#include "as-store-itemprops.h"

/* Both record types, version 1: u8 version, str value.
   item_props    user\0 guid(16) uid(BE u32)  -> value
   device_props  user\0 device\0 name\0       -> value */
#define AS_STORE_PROP_VERSION 1

struct as_store_prop_ctx {
	pool_t pool;
	enum as_store_db db;
	buffer_t *key;
	const char *value;
	const char **value_r;
	/* put only if there is no value yet */
	bool if_absent;
};

static buffer_t *
as_store_key_item(const char *user, const guid_128_t guid, uint32_t uid)
{
	buffer_t *key = as_store_key_new();

	as_store_key_add_str(key, user);
	buffer_append(key, guid, GUID_128_SIZE);
	as_store_key_add_u32(key, uid);
	return key;
}

static int
as_store_prop_get_txn(struct as_store_txn *txn, void *context,
		      const char **error_r)
{
	struct as_store_prop_ctx *ctx = context;
	struct as_record_reader r;
	const char *error;
	MDB_val data;
	int ret;

	ret = as_store_txn_get(txn, ctx->db, ctx->key, &data, error_r);
	if (ret <= 0)
		return ret;
	as_record_reader_init(&r, data.mv_data, data.mv_size);
	(void)as_record_read_version(&r, AS_STORE_PROP_VERSION);
	*ctx->value_r = as_record_read_str(&r, ctx->pool);
	if (as_record_reader_finish(&r, &error) < 0) {
		*error_r = t_strdup_printf("Corrupted %s record: %s",
					   as_store_db_names[ctx->db], error);
		return -1;
	}
	return 1;
}

static int
as_store_prop_put_txn(struct as_store_txn *txn, void *context,
		      const char **error_r)
{
	struct as_store_prop_ctx *ctx = context;
	buffer_t *data;
	MDB_val old;
	int ret;

	if (ctx->value == NULL)
		return as_store_txn_del(txn, ctx->db, ctx->key, error_r);
	if (ctx->if_absent) {
		/* the write transaction is the lock: of two processes
		   claiming at once, the second sees the first one's value */
		ret = as_store_txn_get(txn, ctx->db, ctx->key, &old, error_r);
		if (ret != 0)
			return ret < 0 ? -1 : 0;
	}
	data = t_buffer_create(strlen(ctx->value) + 8);
	as_record_write_version(data, AS_STORE_PROP_VERSION);
	as_record_write_str(data, ctx->value);
	if (as_store_txn_put(txn, ctx->db, ctx->key, data, error_r) < 0)
		return -1;
	return 1;
}

static int
as_store_prop_get(struct as_store *store, pool_t pool, enum as_store_db db,
		  buffer_t *key, const char **value_r, const char **error_r)
{
	struct as_store_prop_ctx ctx = {
		.pool = pool,
		.db = db,
		.key = key,
		.value_r = value_r,
	};

	*value_r = NULL;
	return as_store_read(store, as_store_prop_get_txn, &ctx, error_r);
}

static int
as_store_prop_put(struct as_store *store, enum as_store_db db, buffer_t *key,
		  const char *value, const char **error_r)
{
	struct as_store_prop_ctx ctx = {
		.db = db,
		.key = key,
		.value = value,
	};

	return as_store_write(store, as_store_prop_put_txn, &ctx, error_r);
}

int as_store_itemprops_get(struct as_store *store, pool_t pool,
			   const char *user, const guid_128_t box_guid,
			   uint32_t uid, const char **value_r,
			   const char **error_r)
{
	return as_store_prop_get(store, pool, AS_STORE_DB_ITEM_PROPS,
				 as_store_key_item(user, box_guid, uid),
				 value_r, error_r);
}

int as_store_itemprops_put(struct as_store *store, const char *user,
			   const guid_128_t box_guid, uint32_t uid,
			   const char *value, const char **error_r)
{
	i_assert(value != NULL);
	return as_store_prop_put(store, AS_STORE_DB_ITEM_PROPS,
				 as_store_key_item(user, box_guid, uid),
				 value, error_r);
}

int as_store_itemprops_delete(struct as_store *store, const char *user,
			      const guid_128_t box_guid, uint32_t uid,
			      const char **error_r)
{
	return as_store_prop_put(store, AS_STORE_DB_ITEM_PROPS,
				 as_store_key_item(user, box_guid, uid),
				 NULL, error_r);
}

int as_store_device_prop_get(struct as_store *store, pool_t pool,
			     const char *user, const char *device_id,
			     const char *name, const char **value_r,
			     const char **error_r)
{
	buffer_t *key = as_store_key_device(user, device_id);

	as_store_key_add_str(key, name);
	return as_store_prop_get(store, pool, AS_STORE_DB_DEVICE_PROPS, key,
				 value_r, error_r);
}

int as_store_device_prop_put(struct as_store *store, const char *user,
			     const char *device_id, const char *name,
			     const char *value, const char **error_r)
{
	buffer_t *key = as_store_key_device(user, device_id);

	as_store_key_add_str(key, name);
	return as_store_prop_put(store, AS_STORE_DB_DEVICE_PROPS, key, value,
				 error_r);
}

int as_store_device_prop_claim(struct as_store *store, const char *user,
			       const char *device_id, const char *name,
			       const char *value, const char **error_r)
{
	struct as_store_prop_ctx ctx = {
		.db = AS_STORE_DB_DEVICE_PROPS,
		.key = as_store_key_device(user, device_id),
		.value = value,
		.if_absent = TRUE,
	};

	i_assert(value != NULL);
	as_store_key_add_str(ctx.key, name);
	return as_store_write(store, as_store_prop_put_txn, &ctx, error_r);
}
