#include "lib.h"
#include "buffer.h"
#include "as-store-record.h"
#include "as-store-private.h"

/* Folder id maps, all version 1 records:
   folder_ids    user\0 guid(16)    -> u8 version, u32 id
   folder_guids  user\0 id(BE u32)  -> u8 version, guid(16)
   folder_next   user\0             -> u8 version, u32 next id
   Ids start at 1 ("0" is the EAS root parent) and are never reused. */
#define AS_STORE_FOLDER_VERSION 1
#define AS_STORE_FOLDER_FIRST_ID 1

struct as_store_folder_ctx {
	const char *user;
	const unsigned char *guid;
	unsigned int id;
	guid_128_t guid_r;
};

static buffer_t *as_store_key_folder_guid(const char *user,
					  const guid_128_t guid)
{
	buffer_t *key = as_store_key_new();

	as_store_key_add_str(key, user);
	buffer_append(key, guid, GUID_128_SIZE);
	return key;
}

static buffer_t *as_store_key_folder_id(const char *user, unsigned int id)
{
	buffer_t *key = as_store_key_new();

	as_store_key_add_str(key, user);
	as_store_key_add_u32(key, id);
	return key;
}

/* Decode an id / counter record; 0 is never a valid value. */
static int as_store_decode_id(const MDB_val *data, uint32_t *id_r,
			      const char **error_r)
{
	struct as_record_reader r;

	as_record_reader_init(&r, data->mv_data, data->mv_size);
	(void)as_record_read_version(&r, AS_STORE_FOLDER_VERSION);
	*id_r = as_record_read_u32(&r);
	if (*id_r < AS_STORE_FOLDER_FIRST_ID)
		as_record_reader_fail(&r, "Invalid folder id 0");
	return as_record_reader_finish(&r, error_r);
}

static buffer_t *as_store_encode_u32(uint32_t num)
{
	buffer_t *buf = t_buffer_create(8);

	as_record_write_version(buf, AS_STORE_FOLDER_VERSION);
	as_record_write_u32(buf, num);
	return buf;
}

/* Look up the id of ctx->guid: 1 found (ctx->id set), 0 not, -1 error */
static int
as_store_folder_id_lookup(struct as_store_txn *txn,
			  struct as_store_folder_ctx *ctx,
			  const char **error_r)
{
	const char *error;
	MDB_val data;
	uint32_t id;
	int ret;

	ret = as_store_txn_get(txn, AS_STORE_DB_FOLDER_IDS,
			       as_store_key_folder_guid(ctx->user, ctx->guid),
			       &data, error_r);
	if (ret <= 0)
		return ret;
	if (as_store_decode_id(&data, &id, &error) < 0) {
		*error_r = t_strdup_printf(
			"Corrupted folder id record (user=%s, guid=%s): %s",
			ctx->user, guid_128_to_string(ctx->guid), error);
		return -1;
	}
	ctx->id = id;
	return 1;
}

static int
as_store_folder_id_read_txn(struct as_store_txn *txn, void *context,
			    const char **error_r)
{
	return as_store_folder_id_lookup(txn, context, error_r);
}

static int
as_store_folder_id_alloc_txn(struct as_store_txn *txn, void *context,
			     const char **error_r)
{
	struct as_store_folder_ctx *ctx = context;
	buffer_t *next_key, *guid_data;
	const char *error;
	MDB_val data;
	uint32_t next;
	int ret;

	/* another process may have allocated it meanwhile */
	if ((ret = as_store_folder_id_lookup(txn, ctx, error_r)) != 0)
		return ret;

	next_key = as_store_key_new();
	as_store_key_add_str(next_key, ctx->user);
	ret = as_store_txn_get(txn, AS_STORE_DB_FOLDER_NEXT, next_key,
			       &data, error_r);
	if (ret < 0)
		return -1;
	if (ret == 0)
		next = AS_STORE_FOLDER_FIRST_ID;
	else if (as_store_decode_id(&data, &next, &error) < 0) {
		*error_r = t_strdup_printf(
			"Corrupted folder counter record (user=%s): %s",
			ctx->user, error);
		return -1;
	}
	if (next == UINT32_MAX) {
		*error_r = t_strdup_printf("Folder ids exhausted (user=%s)",
					   ctx->user);
		return -1;
	}

	guid_data = t_buffer_create(GUID_128_SIZE + 1);
	as_record_write_version(guid_data, AS_STORE_FOLDER_VERSION);
	as_record_write_data(guid_data, ctx->guid, GUID_128_SIZE);
	if (as_store_txn_put(txn, AS_STORE_DB_FOLDER_IDS,
			     as_store_key_folder_guid(ctx->user, ctx->guid),
			     as_store_encode_u32(next), error_r) < 0 ||
	    as_store_txn_put(txn, AS_STORE_DB_FOLDER_GUIDS,
			     as_store_key_folder_id(ctx->user, next),
			     guid_data, error_r) < 0 ||
	    as_store_txn_put(txn, AS_STORE_DB_FOLDER_NEXT, next_key,
			     as_store_encode_u32(next + 1), error_r) < 0)
		return -1;
	ctx->id = next;
	return 1;
}

int as_store_folder_id_get(struct as_store *store, const char *user,
			   const guid_128_t guid, unsigned int *id_r,
			   const char **error_r)
{
	struct as_store_folder_ctx ctx = {
		.user = user,
		.guid = guid,
	};
	int ret;

	*id_r = 0;
	/* usually known already: a read transaction doesn't serialize
	   with other writers */
	ret = as_store_read(store, as_store_folder_id_read_txn, &ctx, error_r);
	if (ret == 0) {
		ret = as_store_write(store, as_store_folder_id_alloc_txn,
				     &ctx, error_r);
	}
	if (ret > 0)
		*id_r = ctx.id;
	return ret;
}

static int
as_store_folder_guid_get_txn(struct as_store_txn *txn, void *context,
			     const char **error_r)
{
	struct as_store_folder_ctx *ctx = context;
	struct as_record_reader r;
	const char *error;
	MDB_val data;
	int ret;

	ret = as_store_txn_get(txn, AS_STORE_DB_FOLDER_GUIDS,
			       as_store_key_folder_id(ctx->user, ctx->id),
			       &data, error_r);
	if (ret <= 0)
		return ret;
	as_record_reader_init(&r, data.mv_data, data.mv_size);
	(void)as_record_read_version(&r, AS_STORE_FOLDER_VERSION);
	as_record_read_data(&r, ctx->guid_r, GUID_128_SIZE);
	if (as_record_reader_finish(&r, &error) < 0) {
		*error_r = t_strdup_printf(
			"Corrupted folder guid record (user=%s, id=%u): %s",
			ctx->user, ctx->id, error);
		return -1;
	}
	return 1;
}

int as_store_folder_guid_get(struct as_store *store, const char *user,
			     unsigned int id, guid_128_t guid_r,
			     const char **error_r)
{
	struct as_store_folder_ctx ctx = {
		.user = user,
		.id = id,
	};
	int ret;

	guid_128_empty(guid_r);
	if (id < AS_STORE_FOLDER_FIRST_ID)
		return 0;
	ret = as_store_read(store, as_store_folder_guid_get_txn, &ctx,
			    error_r);
	if (ret > 0)
		memcpy(guid_r, ctx.guid_r, GUID_128_SIZE);
	return ret;
}
