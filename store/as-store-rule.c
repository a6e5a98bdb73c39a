/* Copyright (c) the dovecot-activesync authors, see AUTHORS */

#include "lib.h"
#include "array.h"
#include "buffer.h"
#include "as-store-record.h"
#include "as-store-private.h"
#include "as-abq.h"

/* ABQ rule record, version 1, keyed by the big-endian u32 id:
   u8 version, u32 kind, str value, u32 access, u32 enabled,
   str description */
#define AS_STORE_RULE_VERSION 1

static buffer_t *as_store_key_rule(uint32_t id)
{
	buffer_t *key = as_store_key_new();

	as_store_key_add_u32(key, id);
	return key;
}

static void as_store_rule_encode(buffer_t *buf, const struct as_abq_rule *rule)
{
	as_record_write_version(buf, AS_STORE_RULE_VERSION);
	as_record_write_u32(buf, rule->kind);
	as_record_write_str(buf, rule->value);
	as_record_write_u32(buf, rule->access);
	as_record_write_u32(buf, rule->enabled ? 1 : 0);
	as_record_write_str(buf, rule->description);
}

static int
as_store_rule_decode(const MDB_val *key, const MDB_val *data, pool_t pool,
		     struct as_abq_rule *rule_r, const char **error_r)
{
	struct as_record_reader r;
	const unsigned char *k = key->mv_data;
	uint32_t num;

	if (key->mv_size != 4) {
		*error_r = "Corrupted ABQ rule key";
		return -1;
	}
	i_zero(rule_r);
	rule_r->id = ((uint32_t)k[0] << 24) | ((uint32_t)k[1] << 16) |
		((uint32_t)k[2] << 8) | k[3];
	as_record_reader_init(&r, data->mv_data, data->mv_size);
	(void)as_record_read_version(&r, AS_STORE_RULE_VERSION);
	num = as_record_read_u32(&r);
	if (num >= AS_ABQ_KIND_COUNT)
		as_record_reader_fail(&r, "Invalid rule kind");
	else
		rule_r->kind = num;
	rule_r->value = as_record_read_str(&r, pool);
	num = as_record_read_u32(&r);
	if (num == AS_DEVICE_ACCESS_UNSET || num >= AS_DEVICE_ACCESS_COUNT)
		as_record_reader_fail(&r, "Invalid rule access");
	else
		rule_r->access = num;
	rule_r->enabled = as_record_read_u32(&r) != 0;
	rule_r->description = as_record_read_str(&r, pool);
	if (as_record_reader_finish(&r, error_r) < 0) {
		*error_r = t_strdup_printf("Corrupted ABQ rule %u: %s",
					   rule_r->id, *error_r);
		return -1;
	}
	return 0;
}

struct as_store_rule_ctx {
	pool_t pool;
	ARRAY_TYPE(as_abq_rule) *rules;
	const struct as_abq_rule *rule;
	uint32_t id;
};

static int
as_store_rule_list_item(const MDB_val *key, const MDB_val *data,
			void *context, const char **error_r)
{
	struct as_store_rule_ctx *ctx = context;
	struct as_abq_rule *rule = array_append_space(ctx->rules);

	return as_store_rule_decode(key, data, ctx->pool, rule, error_r);
}

static int
as_store_rule_list_txn(struct as_store_txn *txn, void *context,
		       const char **error_r)
{
	struct as_store_rule_ctx *ctx = context;

	if (as_store_txn_foreach_prefix(txn, AS_STORE_DB_ABQ_RULES, NULL,
					as_store_rule_list_item, ctx,
					error_r) < 0)
		return -1;
	return array_count(ctx->rules) > 0 ? 1 : 0;
}

int as_store_rule_list(struct as_store *store, pool_t pool,
		       ARRAY_TYPE(as_abq_rule) *rules_r, const char **error_r)
{
	struct as_store_rule_ctx ctx = {
		.pool = pool,
		.rules = rules_r,
	};

	if (!array_is_created(rules_r))
		p_array_init(rules_r, pool, 8);
	else
		array_clear(rules_r);
	return as_store_read(store, as_store_rule_list_txn, &ctx, error_r);
}

static int
as_store_rule_put_txn(struct as_store_txn *txn, uint32_t id,
		      const struct as_abq_rule *rule, const char **error_r)
{
	buffer_t *data = t_buffer_create(128);

	as_store_rule_encode(data, rule);
	return as_store_txn_put(txn, AS_STORE_DB_ABQ_RULES,
				as_store_key_rule(id), data, error_r);
}

static int
as_store_rule_add_txn(struct as_store_txn *txn, void *context,
		      const char **error_r)
{
	struct as_store_rule_ctx *ctx = context;
	ARRAY_TYPE(as_abq_rule) rules;
	const struct as_abq_rule *old;
	uint32_t last = 0;

	ctx->rules = &rules;
	t_array_init(&rules, 8);
	if (as_store_txn_foreach_prefix(txn, AS_STORE_DB_ABQ_RULES, NULL,
					as_store_rule_list_item, ctx,
					error_r) < 0)
		return -1;
	ctx->id = 0;
	array_foreach(&rules, old) {
		last = I_MAX(last, old->id);
		/* one rule per user and per domain */
		if (old->kind == ctx->rule->kind &&
		    (old->kind == AS_ABQ_KIND_USER ||
		     old->kind == AS_ABQ_KIND_DOMAIN) &&
		    strcasecmp(old->value, ctx->rule->value) == 0)
			ctx->id = old->id;
	}
	if (ctx->id == 0) {
		if (last == (uint32_t)-1) {
			*error_r = "Out of ABQ rule ids";
			return -1;
		}
		ctx->id = last + 1;
	}
	if (as_store_rule_put_txn(txn, ctx->id, ctx->rule, error_r) < 0)
		return -1;
	return 1;
}

int as_store_rule_add(struct as_store *store, const struct as_abq_rule *rule,
		      uint32_t *id_r, const char **error_r)
{
	struct as_store_rule_ctx ctx = {
		.pool = pool_datastack_create(),
		.rule = rule,
	};
	int ret;

	ret = as_store_write(store, as_store_rule_add_txn, &ctx, error_r);
	*id_r = ctx.id;
	return ret;
}

static int
as_store_rule_update_txn(struct as_store_txn *txn, void *context,
			 const char **error_r)
{
	struct as_store_rule_ctx *ctx = context;
	MDB_val data;
	int ret;

	ret = as_store_txn_get(txn, AS_STORE_DB_ABQ_RULES,
			       as_store_key_rule(ctx->rule->id), &data,
			       error_r);
	if (ret <= 0)
		return ret;
	if (as_store_rule_put_txn(txn, ctx->rule->id, ctx->rule, error_r) < 0)
		return -1;
	return 1;
}

int as_store_rule_update(struct as_store *store,
			 const struct as_abq_rule *rule, const char **error_r)
{
	struct as_store_rule_ctx ctx = {
		.rule = rule,
	};

	return as_store_write(store, as_store_rule_update_txn, &ctx, error_r);
}

static int
as_store_rule_remove_txn(struct as_store_txn *txn, void *context,
			 const char **error_r)
{
	struct as_store_rule_ctx *ctx = context;

	return as_store_txn_del(txn, AS_STORE_DB_ABQ_RULES,
				as_store_key_rule(ctx->id), error_r);
}

int as_store_rule_remove(struct as_store *store, uint32_t id,
			 const char **error_r)
{
	struct as_store_rule_ctx ctx = {
		.id = id,
	};

	return as_store_write(store, as_store_rule_remove_txn, &ctx, error_r);
}
