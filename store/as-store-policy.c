/* Copyright (c) the dovecot-activesync authors, see AUTHORS */

#include "lib.h"
#include "array.h"
#include "buffer.h"
#include "as-store-record.h"
#include "as-store-private.h"

/* Policy levels: each level keeps only the fields it customises, as
   (name, value) pairs, so that the field table can grow or be reordered
   without touching stored records.

   policies      "g"\0                       -> level record (global)
   policies      "d"\0 domain\0              -> level record
   policies      "u"\0 user\0                -> level record
   device_props  user\0 device\0 "policy"\0  -> level record (device)
   device_props  user\0 device\0 "policy-state"\0 -> state record

   The device's records live among its properties, so they go away with
   as_store_device_remove() like the rest of the device.

   Level record, version 1: u8 version, u32 count, count x (str name,
   str value). State record, version 1: u8 version, u32 policy hash,
   u64 provisioned time, u32 pending hash. */
#define AS_STORE_POLICY_VERSION 1
#define AS_STORE_POLICY_STATE_VERSION 1

static void
as_store_policy_key(const struct as_store_policy_target *target,
		    enum as_store_db *db_r, buffer_t **key_r)
{
	buffer_t *key;

	if (target->level == AS_STORE_POLICY_LEVEL_DEVICE) {
		key = as_store_key_device(target->user, target->device_id);
		as_store_key_add_str(key, "policy");
		*db_r = AS_STORE_DB_DEVICE_PROPS;
		*key_r = key;
		return;
	}
	key = as_store_key_new();
	switch (target->level) {
	case AS_STORE_POLICY_LEVEL_GLOBAL:
		as_store_key_add_str(key, "g");
		break;
	case AS_STORE_POLICY_LEVEL_DOMAIN:
		as_store_key_add_str(key, "d");
		as_store_key_add_str(key, target->domain);
		break;
	case AS_STORE_POLICY_LEVEL_USER:
		as_store_key_add_str(key, "u");
		as_store_key_add_str(key, target->user);
		break;
	case AS_STORE_POLICY_LEVEL_DEVICE:
	case AS_STORE_POLICY_LEVEL_COUNT:
		i_unreached();
	}
	*db_r = AS_STORE_DB_POLICIES;
	*key_r = key;
}

void as_store_policy_encode(buffer_t *buf,
			    const ARRAY_TYPE(const_string) *fields)
{
	const char *const *f;
	unsigned int i, count;

	f = array_get(fields, &count);
	i_assert(count % 2 == 0);
	as_record_write_version(buf, AS_STORE_POLICY_VERSION);
	as_record_write_u32(buf, count / 2);
	for (i = 0; i < count; i++)
		as_record_write_str(buf, f[i]);
}

int as_store_policy_decode(const void *data, size_t size, pool_t pool,
			   ARRAY_TYPE(const_string) *fields_r,
			   const char **error_r)
{
	struct as_record_reader r;
	uint32_t i, count;

	as_record_reader_init(&r, data, size);
	(void)as_record_read_version(&r, AS_STORE_POLICY_VERSION);
	/* each pair has two u32 lengths at least */
	count = as_record_read_count(&r, 8);
	for (i = 0; i < count && !as_record_reader_failed(&r); i++) {
		const char *name = as_record_read_str(&r, pool);
		const char *value = as_record_read_str(&r, pool);

		array_push_back(fields_r, &name);
		array_push_back(fields_r, &value);
	}
	return as_record_reader_finish(&r, error_r);
}

struct as_store_policy_ctx {
	pool_t pool;
	const struct as_store_policy_target *targets;
	unsigned int targets_count;
	ARRAY_TYPE(const_string) *fields;
	const char *user, *device_id;
	struct as_store_policy_state *state;
};

static int
as_store_policy_get_txn(struct as_store_txn *txn, void *context,
			const char **error_r)
{
	struct as_store_policy_ctx *ctx = context;
	unsigned int i;
	const char *error;
	enum as_store_db db;
	buffer_t *key;
	MDB_val data;
	int ret, found = 0;

	for (i = 0; i < ctx->targets_count; i++) {
		if (array_is_created(&ctx->fields[i]))
			array_clear(&ctx->fields[i]);
		else
			p_array_init(&ctx->fields[i], ctx->pool, 16);
		/* a level the caller can't name (no domain) is empty */
		if (ctx->targets[i].level == AS_STORE_POLICY_LEVEL_COUNT)
			continue;
		as_store_policy_key(&ctx->targets[i], &db, &key);
		ret = as_store_txn_get(txn, db, key, &data, error_r);
		if (ret < 0)
			return -1;
		if (ret == 0)
			continue;
		if (as_store_policy_decode(data.mv_data, data.mv_size,
					   ctx->pool, &ctx->fields[i],
					   &error) < 0) {
			*error_r = t_strdup_printf(
				"Corrupted policy record: %s", error);
			return -1;
		}
		found = 1;
	}
	return found;
}

int as_store_policy_get_levels(struct as_store *store, pool_t pool,
			       const struct as_store_policy_target *targets,
			       unsigned int count,
			       ARRAY_TYPE(const_string) *fields_r,
			       const char **error_r)
{
	struct as_store_policy_ctx ctx = {
		.pool = pool,
		.targets = targets,
		.targets_count = count,
		.fields = fields_r,
	};

	return as_store_read(store, as_store_policy_get_txn, &ctx, error_r);
}

int as_store_policy_get(struct as_store *store, pool_t pool,
			const struct as_store_policy_target *target,
			ARRAY_TYPE(const_string) *fields_r,
			const char **error_r)
{
	return as_store_policy_get_levels(store, pool, target, 1, fields_r,
					  error_r);
}

static int
as_store_policy_put_txn(struct as_store_txn *txn, void *context,
			const char **error_r)
{
	struct as_store_policy_ctx *ctx = context;
	enum as_store_db db;
	buffer_t *key, *data;

	as_store_policy_key(ctx->targets, &db, &key);
	if (array_count(ctx->fields) == 0) {
		if (as_store_txn_del(txn, db, key, error_r) < 0)
			return -1;
		return 1;
	}
	data = t_buffer_create(256);
	as_store_policy_encode(data, ctx->fields);
	if (as_store_txn_put(txn, db, key, data, error_r) < 0)
		return -1;
	return 1;
}

int as_store_policy_put(struct as_store *store,
			const struct as_store_policy_target *target,
			const ARRAY_TYPE(const_string) *fields,
			const char **error_r)
{
	struct as_store_policy_ctx ctx = {
		.targets = target,
		.targets_count = 1,
		/* not modified by the put */
		.fields = (ARRAY_TYPE(const_string) *)fields,
	};

	i_assert(target->level < AS_STORE_POLICY_LEVEL_COUNT);
	return as_store_write(store, as_store_policy_put_txn, &ctx, error_r);
}

static buffer_t *
as_store_policy_state_key(const char *user, const char *device_id)
{
	buffer_t *key = as_store_key_device(user, device_id);

	as_store_key_add_str(key, "policy-state");
	return key;
}

static int
as_store_policy_state_get_txn(struct as_store_txn *txn, void *context,
			      const char **error_r)
{
	struct as_store_policy_ctx *ctx = context;
	struct as_record_reader r;
	const char *error;
	MDB_val data;
	int ret;

	i_zero(ctx->state);
	ret = as_store_txn_get(txn, AS_STORE_DB_DEVICE_PROPS,
			       as_store_policy_state_key(ctx->user,
							 ctx->device_id),
			       &data, error_r);
	if (ret <= 0)
		return ret;
	as_record_reader_init(&r, data.mv_data, data.mv_size);
	(void)as_record_read_version(&r, AS_STORE_POLICY_STATE_VERSION);
	ctx->state->policy_hash = as_record_read_u32(&r);
	ctx->state->provisioned = (time_t)(int64_t)as_record_read_u64(&r);
	ctx->state->pending_hash = as_record_read_u32(&r);
	if (as_record_reader_finish(&r, &error) < 0) {
		*error_r = t_strdup_printf("Corrupted policy state record: %s",
					   error);
		return -1;
	}
	return 1;
}

int as_store_policy_state_get(struct as_store *store, const char *user,
			      const char *device_id,
			      struct as_store_policy_state *state_r,
			      const char **error_r)
{
	struct as_store_policy_ctx ctx = {
		.user = user,
		.device_id = device_id,
		.state = state_r,
	};

	return as_store_read(store, as_store_policy_state_get_txn, &ctx,
			     error_r);
}

static int
as_store_policy_state_put_txn(struct as_store_txn *txn, void *context,
			      const char **error_r)
{
	struct as_store_policy_ctx *ctx = context;
	buffer_t *data = t_buffer_create(16);

	as_record_write_version(data, AS_STORE_POLICY_STATE_VERSION);
	as_record_write_u32(data, ctx->state->policy_hash);
	as_record_write_u64(data, (uint64_t)(int64_t)ctx->state->provisioned);
	as_record_write_u32(data, ctx->state->pending_hash);
	if (as_store_txn_put(txn, AS_STORE_DB_DEVICE_PROPS,
			     as_store_policy_state_key(ctx->user,
						       ctx->device_id),
			     data, error_r) < 0)
		return -1;
	return 1;
}

int as_store_policy_state_put(struct as_store *store, const char *user,
			      const char *device_id,
			      const struct as_store_policy_state *state,
			      const char **error_r)
{
	struct as_store_policy_ctx ctx = {
		.user = user,
		.device_id = device_id,
		.state = (struct as_store_policy_state *)state,
	};

	return as_store_write(store, as_store_policy_state_put_txn, &ctx,
			      error_r);
}
