#include "lib.h"
#include "array.h"
#include "buffer.h"
#include "as-store-record.h"
#include "as-store-private.h"

/* Collection state record, version 1:
   u8 version, u32 uid_validity, u64 highest_modseq, u32 uid_next,
   u32 range_count, range_count * (u32 seq1, u32 seq2), str options
   The UID ranges are sorted, non-overlapping and never contain 0. */
#define AS_STORE_COLLECTION_VERSION 1
#define AS_STORE_RANGE_SIZE (2 * sizeof(uint32_t))

static int
as_store_uids_check(const struct seq_range *range, unsigned int count,
		    const char **error_r)
{
	unsigned int i;

	for (i = 0; i < count; i++) {
		if (range[i].seq1 == 0 || range[i].seq1 > range[i].seq2 ||
		    (i > 0 && range[i].seq1 <= range[i-1].seq2)) {
			*error_r = t_strdup_printf(
				"Invalid UID range %u:%u at index %u",
				range[i].seq1, range[i].seq2, i);
			return -1;
		}
	}
	return 0;
}

void as_store_collection_encode(buffer_t *buf,
				const struct as_collection_state *state)
{
	const struct seq_range *range;
	unsigned int i, count = 0;

	as_record_write_version(buf, AS_STORE_COLLECTION_VERSION);
	as_record_write_u32(buf, state->uid_validity);
	as_record_write_u64(buf, state->highest_modseq);
	as_record_write_u32(buf, state->uid_next);
	if (array_is_created(&state->uids))
		range = array_get(&state->uids, &count);
	else
		range = NULL;
	as_record_write_u32(buf, count);
	for (i = 0; i < count; i++) {
		as_record_write_u32(buf, range[i].seq1);
		as_record_write_u32(buf, range[i].seq2);
	}
	as_record_write_str(buf, state->options);
}

int as_store_collection_decode(const void *data, size_t size, pool_t pool,
			       struct as_collection_state *state_r,
			       const char **error_r)
{
	struct as_record_reader r;
	struct seq_range range;
	unsigned int i, count;

	as_record_reader_init(&r, data, size);
	(void)as_record_read_version(&r, AS_STORE_COLLECTION_VERSION);
	state_r->uid_validity = as_record_read_u32(&r);
	state_r->highest_modseq = as_record_read_u64(&r);
	state_r->uid_next = as_record_read_u32(&r);
	count = as_record_read_count(&r, AS_STORE_RANGE_SIZE);
	/* count was checked against the record size */
	for (i = 0; i < count; i++) {
		range.seq1 = as_record_read_u32(&r);
		range.seq2 = as_record_read_u32(&r);
		array_push_back(&state_r->uids, &range);
	}
	state_r->options = as_record_read_str(&r, pool);
	if (!as_record_reader_failed(&r)) {
		const struct seq_range *ranges;
		const char *error;

		ranges = array_get(&state_r->uids, &count);
		if (as_store_uids_check(ranges, count, &error) < 0)
			as_record_reader_fail(&r, error);
	}
	if (as_record_reader_finish(&r, error_r) < 0) {
		array_clear(&state_r->uids);
		return -1;
	}
	return 0;
}

static buffer_t *
as_store_key_collection(const char *user, const char *device_id,
			const char *collection_id)
{
	buffer_t *key = as_store_key_device(user, device_id);

	as_store_key_add_str(key, collection_id);
	return key;
}

struct as_store_collection_ctx {
	pool_t pool;
	const char *user, *device_id, *collection_id;
	unsigned int sync_key;
	/* put: also delete the keys below this one (0/1 = none) */
	unsigned int keep_from;
	const struct as_collection_state *state;
	struct as_collection_state *state_r;
};

static int
as_store_collection_del_below(struct as_store_txn *txn,
			      const struct as_store_collection_ctx *ctx,
			      unsigned int below, const char **error_r);

static const char *
as_store_collection_name(const struct as_store_collection_ctx *ctx)
{
	return t_strdup_printf("user=%s, device=%s, collection=%s, synckey=%u",
			       ctx->user, ctx->device_id, ctx->collection_id,
			       ctx->sync_key);
}

static int
as_store_collection_put_txn(struct as_store_txn *txn, void *context,
			    const char **error_r)
{
	struct as_store_collection_ctx *ctx = context;
	buffer_t *key, *data;
	size_t size = 64;

	if (array_is_created(&ctx->state->uids))
		size += array_count(&ctx->state->uids) * AS_STORE_RANGE_SIZE;
	if (ctx->state->options != NULL)
		size += strlen(ctx->state->options);

	key = as_store_key_collection(ctx->user, ctx->device_id,
				      ctx->collection_id);
	as_store_key_add_u32(key, ctx->sync_key);
	data = t_buffer_create(size);
	as_store_collection_encode(data, ctx->state);
	if (as_store_txn_put(txn, AS_STORE_DB_COLLECTIONS, key, data,
			     error_r) < 0)
		return -1;
	if (ctx->keep_from > 1 &&
	    as_store_collection_del_below(txn, ctx, ctx->keep_from,
					  error_r) < 0)
		return -1;
	return 1;
}

int as_store_collection_put(struct as_store *store, const char *user,
			    const char *device_id, const char *collection_id,
			    unsigned int sync_key,
			    const struct as_collection_state *state,
			    const char **error_r)
{
	return as_store_collection_advance(store, user, device_id,
					   collection_id, sync_key, state, 0,
					   error_r);
}

int as_store_collection_advance(struct as_store *store, const char *user,
				const char *device_id,
				const char *collection_id,
				unsigned int sync_key,
				const struct as_collection_state *state,
				unsigned int keep_from, const char **error_r)
{
	struct as_store_collection_ctx ctx = {
		.user = user,
		.device_id = device_id,
		.collection_id = collection_id,
		.sync_key = sync_key,
		.keep_from = keep_from,
		.state = state,
	};
	const struct seq_range *range;
	unsigned int count;
	const char *error;

	if (sync_key == 0) {
		*error_r = "Collection SyncKey 0 can't be stored";
		return -1;
	}
	if (array_is_created(&state->uids)) {
		range = array_get(&state->uids, &count);
		if (as_store_uids_check(range, count, &error) < 0) {
			*error_r = t_strdup_printf("Can't store state (%s): %s",
				as_store_collection_name(&ctx), error);
			return -1;
		}
	}
	return as_store_write(store, as_store_collection_put_txn, &ctx,
			      error_r);
}

static int
as_store_collection_get_txn(struct as_store_txn *txn, void *context,
			    const char **error_r)
{
	struct as_store_collection_ctx *ctx = context;
	const char *error;
	buffer_t *key;
	MDB_val data;
	int ret;

	key = as_store_key_collection(ctx->user, ctx->device_id,
				      ctx->collection_id);
	as_store_key_add_u32(key, ctx->sync_key);
	ret = as_store_txn_get(txn, AS_STORE_DB_COLLECTIONS, key, &data,
			       error_r);
	if (ret <= 0)
		return ret;
	if (as_store_collection_decode(data.mv_data, data.mv_size, ctx->pool,
				       ctx->state_r, &error) < 0) {
		*error_r = t_strdup_printf(
			"Corrupted collection state (%s): %s",
			as_store_collection_name(ctx), error);
		return -1;
	}
	return 1;
}

int as_store_collection_get(struct as_store *store, pool_t pool,
			    const char *user, const char *device_id,
			    const char *collection_id, unsigned int sync_key,
			    struct as_collection_state *state_r,
			    const char **error_r)
{
	struct as_store_collection_ctx ctx = {
		.pool = pool,
		.user = user,
		.device_id = device_id,
		.collection_id = collection_id,
		.sync_key = sync_key,
		.state_r = state_r,
	};

	i_zero(state_r);
	state_r->options = "";
	p_array_init(&state_r->uids, pool, 16);
	if (sync_key == 0)
		return 0;
	return as_store_read(store, as_store_collection_get_txn, &ctx,
			     error_r);
}

static int
as_store_collection_latest_txn(struct as_store_txn *txn, void *context,
			       const char **error_r)
{
	struct as_store_collection_ctx *ctx = context;
	uint32_t sync_key;
	int ret;

	ret = as_store_txn_last_u32(txn, AS_STORE_DB_COLLECTIONS,
				    as_store_key_collection(ctx->user,
							    ctx->device_id,
							    ctx->collection_id),
				    &sync_key, error_r);
	ctx->sync_key = sync_key;
	return ret;
}

int as_store_collection_latest(struct as_store *store, const char *user,
			       const char *device_id, const char *collection_id,
			       unsigned int *sync_key_r, const char **error_r)
{
	struct as_store_collection_ctx ctx = {
		.user = user,
		.device_id = device_id,
		.collection_id = collection_id,
	};
	int ret;

	ret = as_store_read(store, as_store_collection_latest_txn, &ctx,
			    error_r);
	*sync_key_r = ret > 0 ? ctx.sync_key : 0;
	return ret;
}

/* Deletes keys of the collection below `below`, or all of them if it
   is 0. */
static int
as_store_collection_del_below(struct as_store_txn *txn,
			      const struct as_store_collection_ctx *ctx,
			      unsigned int below, const char **error_r)
{
	buffer_t *prefix, *end_key = NULL;
	unsigned int count;

	prefix = as_store_key_collection(ctx->user, ctx->device_id,
					 ctx->collection_id);
	if (below != 0) {
		end_key = as_store_key_new();
		buffer_append_buf(end_key, prefix, 0, SIZE_MAX);
		as_store_key_add_u32(end_key, below);
	}
	return as_store_txn_del_prefix(txn, AS_STORE_DB_COLLECTIONS, prefix,
				       end_key, &count, error_r);
}

static int
as_store_collection_purge_txn(struct as_store_txn *txn, void *context,
			      const char **error_r)
{
	struct as_store_collection_ctx *ctx = context;

	if (as_store_collection_del_below(txn, ctx, ctx->sync_key,
					  error_r) < 0)
		return -1;
	return 1;
}

int as_store_collection_purge(struct as_store *store, const char *user,
			      const char *device_id, const char *collection_id,
			      unsigned int keep_from, const char **error_r)
{
	struct as_store_collection_ctx ctx = {
		.user = user,
		.device_id = device_id,
		.collection_id = collection_id,
		.sync_key = keep_from,
	};

	if (keep_from <= 1)
		return 1; /* nothing is below it */
	return as_store_write(store, as_store_collection_purge_txn, &ctx,
			      error_r);
}

int as_store_collection_reset(struct as_store *store, const char *user,
			      const char *device_id, const char *collection_id,
			      const char **error_r)
{
	struct as_store_collection_ctx ctx = {
		.user = user,
		.device_id = device_id,
		.collection_id = collection_id,
		.sync_key = 0,
	};

	return as_store_write(store, as_store_collection_purge_txn, &ctx,
			      error_r);
}
