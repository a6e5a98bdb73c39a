#include "lib.h"
#include "array.h"
#include "buffer.h"
#include "as-store-record.h"
#include "as-store-private.h"

/* Hierarchy record, version 1:
   u8 version, u32 count, count * (str server_id, str parent_id,
   str display_name, u32 type) */
#define AS_STORE_HIERARCHY_VERSION 1
/* smallest encoded folder: three empty strings and the type */
#define AS_STORE_FOLDER_MIN_SIZE (4 * sizeof(uint32_t))

void as_store_hierarchy_encode(buffer_t *buf,
			       const ARRAY_TYPE(as_folder) *folders)
{
	const struct as_folder *folder;

	as_record_write_version(buf, AS_STORE_HIERARCHY_VERSION);
	if (!array_is_created(folders)) {
		as_record_write_u32(buf, 0);
		return;
	}
	as_record_write_u32(buf, array_count(folders));
	array_foreach(folders, folder) {
		as_record_write_str(buf, folder->server_id);
		as_record_write_str(buf, folder->parent_id);
		as_record_write_str(buf, folder->display_name);
		as_record_write_u32(buf, folder->type);
	}
}

int as_store_hierarchy_decode(const void *data, size_t size, pool_t pool,
			      ARRAY_TYPE(as_folder) *folders_r,
			      const char **error_r)
{
	struct as_record_reader r;
	struct as_folder *folder;
	uint32_t i, count;

	as_record_reader_init(&r, data, size);
	(void)as_record_read_version(&r, AS_STORE_HIERARCHY_VERSION);
	count = as_record_read_count(&r, AS_STORE_FOLDER_MIN_SIZE);
	for (i = 0; i < count && !as_record_reader_failed(&r); i++) {
		folder = array_append_space(folders_r);
		folder->server_id = as_record_read_str(&r, pool);
		folder->parent_id = as_record_read_str(&r, pool);
		folder->display_name = as_record_read_str(&r, pool);
		folder->type = as_record_read_u32(&r);
	}
	if (as_record_reader_finish(&r, error_r) < 0) {
		array_clear(folders_r);
		return -1;
	}
	return 0;
}

static buffer_t *as_store_key_hierarchy(const char *user,
					const char *device_id)
{
	return as_store_key_device(user, device_id);
}

struct as_store_hierarchy_ctx {
	pool_t pool;
	const char *user, *device_id;
	unsigned int sync_key;
	const ARRAY_TYPE(as_folder) *folders;
	ARRAY_TYPE(as_folder) *folders_r;
};

static int
as_store_hierarchy_put_txn(struct as_store_txn *txn, void *context,
			   const char **error_r)
{
	struct as_store_hierarchy_ctx *ctx = context;
	buffer_t *key, *data;

	key = as_store_key_hierarchy(ctx->user, ctx->device_id);
	as_store_key_add_u32(key, ctx->sync_key);
	data = t_buffer_create(256);
	as_store_hierarchy_encode(data, ctx->folders);
	if (as_store_txn_put(txn, AS_STORE_DB_HIERARCHY, key, data,
			     error_r) < 0)
		return -1;
	return 1;
}

int as_store_hierarchy_put(struct as_store *store, const char *user,
			   const char *device_id, unsigned int sync_key,
			   const ARRAY_TYPE(as_folder) *folders,
			   const char **error_r)
{
	struct as_store_hierarchy_ctx ctx = {
		.user = user,
		.device_id = device_id,
		.sync_key = sync_key,
		.folders = folders,
	};

	if (sync_key == 0) {
		*error_r = "Hierarchy SyncKey 0 can't be stored";
		return -1;
	}
	return as_store_write(store, as_store_hierarchy_put_txn, &ctx,
			      error_r);
}

static int
as_store_hierarchy_get_txn(struct as_store_txn *txn, void *context,
			   const char **error_r)
{
	struct as_store_hierarchy_ctx *ctx = context;
	const char *error;
	buffer_t *key;
	MDB_val data;
	int ret;

	key = as_store_key_hierarchy(ctx->user, ctx->device_id);
	as_store_key_add_u32(key, ctx->sync_key);
	ret = as_store_txn_get(txn, AS_STORE_DB_HIERARCHY, key, &data,
			       error_r);
	if (ret <= 0)
		return ret;
	if (as_store_hierarchy_decode(data.mv_data, data.mv_size, ctx->pool,
				      ctx->folders_r, &error) < 0) {
		*error_r = t_strdup_printf(
			"Corrupted hierarchy record "
			"(user=%s, device=%s, synckey=%u): %s",
			ctx->user, ctx->device_id, ctx->sync_key, error);
		return -1;
	}
	return 1;
}

int as_store_hierarchy_get(struct as_store *store, pool_t pool,
			   const char *user, const char *device_id,
			   unsigned int sync_key, ARRAY_TYPE(as_folder) *folders_r,
			   const char **error_r)
{
	struct as_store_hierarchy_ctx ctx = {
		.pool = pool,
		.user = user,
		.device_id = device_id,
		.sync_key = sync_key,
		.folders_r = folders_r,
	};

	if (!array_is_created(folders_r))
		p_array_init(folders_r, pool, 16);
	else
		array_clear(folders_r);
	if (sync_key == 0)
		return 0;
	return as_store_read(store, as_store_hierarchy_get_txn, &ctx, error_r);
}

static int
as_store_hierarchy_latest_txn(struct as_store_txn *txn, void *context,
			      const char **error_r)
{
	struct as_store_hierarchy_ctx *ctx = context;
	uint32_t sync_key;
	int ret;

	ret = as_store_txn_last_u32(txn, AS_STORE_DB_HIERARCHY,
				    as_store_key_hierarchy(ctx->user,
							   ctx->device_id),
				    &sync_key, error_r);
	ctx->sync_key = sync_key;
	return ret;
}

int as_store_hierarchy_latest(struct as_store *store, const char *user,
			      const char *device_id, unsigned int *sync_key_r,
			      const char **error_r)
{
	struct as_store_hierarchy_ctx ctx = {
		.user = user,
		.device_id = device_id,
	};
	int ret;

	ret = as_store_read(store, as_store_hierarchy_latest_txn, &ctx,
			    error_r);
	*sync_key_r = ret > 0 ? ctx.sync_key : 0;
	return ret;
}

static int
as_store_hierarchy_purge_txn(struct as_store_txn *txn, void *context,
			     const char **error_r)
{
	struct as_store_hierarchy_ctx *ctx = context;
	buffer_t *prefix, *end_key;
	unsigned int count;

	prefix = as_store_key_hierarchy(ctx->user, ctx->device_id);
	end_key = as_store_key_new();
	buffer_append_buf(end_key, prefix, 0, SIZE_MAX);
	as_store_key_add_u32(end_key, ctx->sync_key);
	if (as_store_txn_del_prefix(txn, AS_STORE_DB_HIERARCHY, prefix,
				    end_key, &count, error_r) < 0)
		return -1;
	return 1;
}

int as_store_hierarchy_purge(struct as_store *store, const char *user,
			     const char *device_id, unsigned int keep_from,
			     const char **error_r)
{
	struct as_store_hierarchy_ctx ctx = {
		.user = user,
		.device_id = device_id,
		.sync_key = keep_from,
	};

	if (keep_from <= 1)
		return 1; /* nothing is below it */
	return as_store_write(store, as_store_hierarchy_purge_txn, &ctx,
			      error_r);
}
