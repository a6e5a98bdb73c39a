#include "lib.h"
#include "array.h"
#include "buffer.h"
#include "as-store-record.h"
#include "as-store-private.h"

/* ClientIds of messages a device sent (SendMail, SmartReply,
   SmartForward): a device that lost the response sends the same ClientId
   again and must not send the message twice.

   client_ids  user\0 device\0 client id\0  ->  u8 version, u64 sent time

   Entries older than AS_STORE_CLIENTID_MAX_AGE are dropped whenever the
   device records a new one, so the list stays short. */
#define AS_STORE_CLIENTID_VERSION 1
#define AS_STORE_CLIENTID_MAX_AGE (30 * 24 * 3600)

static buffer_t *
as_store_key_clientid(const char *user, const char *device_id,
		      const char *client_id)
{
	buffer_t *key = as_store_key_device(user, device_id);

	as_store_key_add_str(key, client_id);
	return key;
}

struct as_store_clientid_ctx {
	const char *user, *device_id, *client_id;
	time_t now;
	ARRAY(buffer_t *) expired;
};

static int
as_store_clientid_exists_txn(struct as_store_txn *txn, void *context,
			     const char **error_r)
{
	struct as_store_clientid_ctx *ctx = context;
	MDB_val data;

	return as_store_txn_get(txn, AS_STORE_DB_CLIENT_IDS,
				as_store_key_clientid(ctx->user, ctx->device_id,
						      ctx->client_id),
				&data, error_r);
}

int as_store_clientid_exists(struct as_store *store, const char *user,
			     const char *device_id, const char *client_id,
			     const char **error_r)
{
	struct as_store_clientid_ctx ctx = {
		.user = user,
		.device_id = device_id,
		.client_id = client_id,
	};

	return as_store_read(store, as_store_clientid_exists_txn, &ctx,
			     error_r);
}

static int
as_store_clientid_expired_cb(const MDB_val *key, const MDB_val *data,
			     void *context, const char **error_r ATTR_UNUSED)
{
	struct as_store_clientid_ctx *ctx = context;
	struct as_record_reader r;
	const char *error;
	uint64_t sent;
	buffer_t *copy;

	as_record_reader_init(&r, data->mv_data, data->mv_size);
	(void)as_record_read_version(&r, AS_STORE_CLIENTID_VERSION);
	sent = as_record_read_u64(&r);
	/* an unreadable record is dropped like an expired one */
	if (as_record_reader_finish(&r, &error) == 0 &&
	    (time_t)sent + AS_STORE_CLIENTID_MAX_AGE > ctx->now)
		return 0;
	copy = t_buffer_create(key->mv_size);
	buffer_append(copy, key->mv_data, key->mv_size);
	array_push_back(&ctx->expired, &copy);
	return 0;
}

static int
as_store_clientid_add_txn(struct as_store_txn *txn, void *context,
			  const char **error_r)
{
	struct as_store_clientid_ctx *ctx = context;
	buffer_t *data, *const *keyp;

	/* the body may run again after the map grew: start over */
	t_array_init(&ctx->expired, 8);
	if (as_store_txn_foreach_prefix(txn, AS_STORE_DB_CLIENT_IDS,
			as_store_key_device(ctx->user, ctx->device_id),
			as_store_clientid_expired_cb, ctx, error_r) < 0)
		return -1;
	array_foreach(&ctx->expired, keyp) {
		if (as_store_txn_del(txn, AS_STORE_DB_CLIENT_IDS, *keyp,
				     error_r) < 0)
			return -1;
	}

	data = t_buffer_create(16);
	as_record_write_version(data, AS_STORE_CLIENTID_VERSION);
	as_record_write_u64(data, (uint64_t)ctx->now);
	if (as_store_txn_put(txn, AS_STORE_DB_CLIENT_IDS,
			     as_store_key_clientid(ctx->user, ctx->device_id,
						   ctx->client_id),
			     data, error_r) < 0)
		return -1;
	return 1;
}

int as_store_clientid_add(struct as_store *store, const char *user,
			  const char *device_id, const char *client_id,
			  time_t now, const char **error_r)
{
	struct as_store_clientid_ctx ctx = {
		.user = user,
		.device_id = device_id,
		.client_id = client_id,
		.now = now,
	};

	return as_store_write(store, as_store_clientid_add_txn, &ctx,
			      error_r);
}
