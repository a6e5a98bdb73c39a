/* Copyright (c) dovecot-activesync authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "buffer.h"
#include "hash.h"
#include "str.h"
#include "unichar.h"
#include "as-store-record.h"
#include "as-store-private.h"
#include "as-store-gal.h"

/* gal  "e\0" user\0                -> u8 version, the entry's strings
        "t\0" token\0 user\0         -> u8 version
        "m\0"                        -> u8 version, u64 refreshed, u32 count */
#define AS_STORE_GAL_VERSION 1
/* LMDB keys are at most 511 bytes: longer tokens are cut (on a UTF-8
   character boundary) */
#define AS_STORE_GAL_MAX_TOKEN 100

static const char *gal_entry_str(const char *str)
{
	return str == NULL ? "" : str;
}

static buffer_t *gal_key(char kind, const char *a, const char *b)
{
	buffer_t *key = as_store_key_new();
	char kind_str[2] = { kind, '\0' };

	as_store_key_add_str(key, kind_str);
	if (a != NULL)
		as_store_key_add_str(key, a);
	if (b != NULL)
		as_store_key_add_str(key, b);
	return key;
}

const char *as_store_gal_fold(const char *text)
{
	buffer_t *buf = t_buffer_create(strlen(text) + 8);

	/* invalid UTF-8 is replaced, not refused: it still finds itself */
	(void)uni_utf8_to_decomposed_titlecase(text, strlen(text), buf);
	return t_strndup(buf->data, buf->used);
}

static void gal_token_add(ARRAY_TYPE(const_string) *tokens, const char *text)
{
	const char *token;
	size_t len;

	if (text == NULL || *text == '\0')
		return;
	token = as_store_gal_fold(text);
	len = strlen(token);
	if (len > AS_STORE_GAL_MAX_TOKEN) {
		len = uni_utf8_data_truncate((const unsigned char *)token, len,
					     AS_STORE_GAL_MAX_TOKEN);
		token = t_strndup(token, len);
	}
	if (!array_lsearch(tokens, &token, i_strcmp_p))
		array_push_back(tokens, &token);
}

const char *const *as_store_gal_tokens(const struct as_gal_entry *entry)
{
	ARRAY_TYPE(const_string) tokens;
	const char *const *words, *at;

	t_array_init(&tokens, 8);
	/* each word of the names, so "sm" finds "Anna Smith" */
	words = t_strsplit_spaces(t_strdup_printf("%s %s %s %s",
		gal_entry_str(entry->display_name),
		gal_entry_str(entry->first_name),
		gal_entry_str(entry->last_name), gal_entry_str(entry->alias)),
		" \t,;()\"");
	for (; *words != NULL; words++)
		gal_token_add(&tokens, *words);
	/* the whole name too, so "anna sm" narrows it down */
	if (entry->display_name != NULL && strchr(entry->display_name, ' '))
		gal_token_add(&tokens, entry->display_name);
	gal_token_add(&tokens, entry->email);
	if (entry->email != NULL && (at = strchr(entry->email, '@')) != NULL) {
		/* the local part, and its words: "smi" finds
		   bob.smithers@ */
		const char *local = t_strdup_until(entry->email, at);

		gal_token_add(&tokens, local);
		for (words = t_strsplit_spaces(local, "._-+"); *words != NULL;
		     words++)
			gal_token_add(&tokens, *words);
	}
	array_append_zero(&tokens);
	return array_front(&tokens);
}

static void gal_entry_write(buffer_t *data, const struct as_gal_entry *e)
{
	as_record_write_version(data, AS_STORE_GAL_VERSION);
	as_record_write_str(data, gal_entry_str(e->display_name));
	as_record_write_str(data, gal_entry_str(e->email));
	as_record_write_str(data, gal_entry_str(e->first_name));
	as_record_write_str(data, gal_entry_str(e->last_name));
	as_record_write_str(data, gal_entry_str(e->company));
	as_record_write_str(data, gal_entry_str(e->title));
	as_record_write_str(data, gal_entry_str(e->office));
	as_record_write_str(data, gal_entry_str(e->phone));
	as_record_write_str(data, gal_entry_str(e->mobile_phone));
	as_record_write_str(data, gal_entry_str(e->home_phone));
	as_record_write_str(data, gal_entry_str(e->alias));
}

static const char *gal_read_str(struct as_record_reader *r, pool_t pool)
{
	const char *str = as_record_read_str(r, pool);

	return str == NULL || *str == '\0' ? NULL : str;
}

static int gal_entry_read(const MDB_val *data, pool_t pool, const char *user,
			  struct as_gal_entry *e_r, const char **error_r)
{
	struct as_record_reader r;
	const char *error;

	i_zero(e_r);
	e_r->user = p_strdup(pool, user);
	as_record_reader_init(&r, data->mv_data, data->mv_size);
	(void)as_record_read_version(&r, AS_STORE_GAL_VERSION);
	e_r->display_name = gal_read_str(&r, pool);
	e_r->email = gal_read_str(&r, pool);
	e_r->first_name = gal_read_str(&r, pool);
	e_r->last_name = gal_read_str(&r, pool);
	e_r->company = gal_read_str(&r, pool);
	e_r->title = gal_read_str(&r, pool);
	e_r->office = gal_read_str(&r, pool);
	e_r->phone = gal_read_str(&r, pool);
	e_r->mobile_phone = gal_read_str(&r, pool);
	e_r->home_phone = gal_read_str(&r, pool);
	e_r->alias = gal_read_str(&r, pool);
	if (as_record_reader_finish(&r, &error) < 0) {
		*error_r = t_strdup_printf("Corrupted gal record: %s", error);
		return -1;
	}
	return 0;
}

/* ---- replace ---- */

struct gal_replace_ctx {
	const struct as_gal_entry *entries;
	unsigned int count;
	time_t now;
};

static int gal_replace_txn(struct as_store_txn *txn, void *context,
			   const char **error_r)
{
	struct gal_replace_ctx *ctx = context;
	buffer_t *empty, *data;
	unsigned int i;
	int rc, ret = 0;

	/* empty the whole list (kept as a database, just without keys) */
	rc = mdb_drop(txn->txn, txn->store->dbi[AS_STORE_DB_GAL], 0);
	if (rc != 0) {
		*error_r = as_store_mdb_error(txn->store, rc, "mdb_drop");
		return -1;
	}
	empty = t_buffer_create(1);
	as_record_write_version(empty, AS_STORE_GAL_VERSION);
	for (i = 0; i < ctx->count && ret == 0; i++) T_BEGIN {
		const struct as_gal_entry *e = &ctx->entries[i];
		const char *const *token;

		data = t_buffer_create(256);
		gal_entry_write(data, e);
		ret = as_store_txn_put(txn, AS_STORE_DB_GAL,
				       gal_key('e', e->user, NULL), data,
				       error_r);
		for (token = as_store_gal_tokens(e);
		     *token != NULL && ret == 0; token++) {
			ret = as_store_txn_put(txn, AS_STORE_DB_GAL,
					       gal_key('t', *token, e->user),
					       empty, error_r);
		}
	} T_END_PASS_STR_IF(ret < 0, error_r);
	if (ret < 0)
		return -1;
	data = t_buffer_create(16);
	as_record_write_version(data, AS_STORE_GAL_VERSION);
	as_record_write_u64(data, (uint64_t)ctx->now);
	as_record_write_u32(data, ctx->count);
	if (as_store_txn_put(txn, AS_STORE_DB_GAL, gal_key('m', NULL, NULL),
			     data, error_r) < 0)
		return -1;
	return 1;
}

int as_store_gal_replace(struct as_store *store,
			 const struct as_gal_entry *entries,
			 unsigned int count, time_t now,
			 const char **error_r)
{
	struct gal_replace_ctx ctx = {
		.entries = entries,
		.count = count,
		.now = now,
	};

	return as_store_write(store, gal_replace_txn, &ctx, error_r) < 0 ?
		-1 : 0;
}

/* ---- info ---- */

struct gal_info_ctx {
	time_t refreshed;
	unsigned int count;
};

static int gal_info_txn(struct as_store_txn *txn, void *context,
			const char **error_r)
{
	struct gal_info_ctx *ctx = context;
	struct as_record_reader r;
	const char *error;
	MDB_val data;
	int ret;

	ret = as_store_txn_get(txn, AS_STORE_DB_GAL, gal_key('m', NULL, NULL),
			       &data, error_r);
	if (ret <= 0)
		return ret;
	as_record_reader_init(&r, data.mv_data, data.mv_size);
	(void)as_record_read_version(&r, AS_STORE_GAL_VERSION);
	ctx->refreshed = (time_t)as_record_read_u64(&r);
	ctx->count = as_record_read_u32(&r);
	if (as_record_reader_finish(&r, &error) < 0) {
		*error_r = t_strdup_printf("Corrupted gal record: %s", error);
		return -1;
	}
	return 1;
}

int as_store_gal_info(struct as_store *store, time_t *refreshed_r,
		      unsigned int *count_r, const char **error_r)
{
	struct gal_info_ctx ctx;
	int ret;

	i_zero(&ctx);
	ret = as_store_read(store, gal_info_txn, &ctx, error_r);
	*refreshed_r = ctx.refreshed;
	*count_r = ctx.count;
	return ret;
}

/* ---- search ---- */

struct gal_search_ctx {
	pool_t pool;
	buffer_t *prefix;
	unsigned int start, max, max_total;
	ARRAY_TYPE(as_gal_entry) *results;
	unsigned int total;
	HASH_TABLE(const char *, void *) seen;
	ARRAY_TYPE(const_string) users;	/* the page's, in order */
	struct as_store_txn *txn;
};

static int gal_search_token(const MDB_val *key, const MDB_val *data ATTR_UNUSED,
			    void *context, const char **error_r ATTR_UNUSED)
{
	struct gal_search_ctx *ctx = context;
	const unsigned char *k = key->mv_data;
	const char *user;
	size_t i;

	/* "t\0" token\0 user\0: the user is after the second NUL */
	for (i = 2; i < key->mv_size && k[i] != '\0'; i++) ;
	if (i + 1 >= key->mv_size || k[key->mv_size - 1] != '\0')
		return 0;
	user = (const char *)k + i + 1;
	if (hash_table_lookup(ctx->seen, user) != NULL)
		return 0;
	user = p_strdup(ctx->pool, user);
	hash_table_insert(ctx->seen, user, POINTER_CAST(1));
	if (ctx->total >= ctx->start && ctx->total < ctx->start + ctx->max)
		array_push_back(&ctx->users, &user);
	ctx->total++;
	return ctx->total >= ctx->max_total ? 1 : 0;
}

static int gal_search_txn(struct as_store_txn *txn, void *context,
			  const char **error_r)
{
	struct gal_search_ctx *ctx = context;
	const char *const *userp;
	struct as_gal_entry *e;
	MDB_val data;
	int ret;

	if (as_store_txn_foreach_prefix(txn, AS_STORE_DB_GAL, ctx->prefix,
					gal_search_token, ctx, error_r) < 0)
		return -1;
	array_foreach(&ctx->users, userp) {
		ret = as_store_txn_get(txn, AS_STORE_DB_GAL,
				       gal_key('e', *userp, NULL), &data,
				       error_r);
		if (ret < 0)
			return -1;
		if (ret == 0)
			continue;
		e = array_append_space(ctx->results);
		if (gal_entry_read(&data, ctx->pool, *userp, e, error_r) < 0)
			return -1;
	}
	return 1;
}

int as_store_gal_search(struct as_store *store, pool_t pool,
			const char *prefix, unsigned int start,
			unsigned int max, unsigned int max_total,
			ARRAY_TYPE(as_gal_entry) *results_r,
			unsigned int *total_r, const char **error_r)
{
	struct gal_search_ctx ctx;
	int ret;

	i_zero(&ctx);
	ctx.pool = pool;
	ctx.start = start;
	ctx.max = max;
	ctx.max_total = max_total;
	ctx.results = results_r;
	p_array_init(results_r, pool, I_MIN(max, 64) + 1);
	p_array_init(&ctx.users, pool, I_MIN(max, 64) + 1);
	hash_table_create(&ctx.seen, pool, 0, str_hash, strcmp);
	/* "t\0" and the prefix, without its NUL: every longer token */
	ctx.prefix = gal_key('t', NULL, NULL);
	prefix = as_store_gal_fold(prefix);
	buffer_append(ctx.prefix, prefix, I_MIN(strlen(prefix),
						AS_STORE_GAL_MAX_TOKEN));
	ret = as_store_read(store, gal_search_txn, &ctx, error_r);
	hash_table_destroy(&ctx.seen);
	*total_r = ctx.total;
	return ret < 0 ? -1 : 0;
}
