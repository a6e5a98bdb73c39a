/* Copyright (c) dovecot-activesync authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "buffer.h"
#include "hash.h"
#include "strnum.h"
#include "str.h"
#include "unichar.h"
#include "as-store-record.h"
#include "as-store-private.h"
#include "as-store-gal.h"

/* gal  "e\0" id\0              -> u8 version, the entry's strings, u32 flags
        "t\0" token\0 id\0       -> u8 version, the entry's folded address
        "p\0" id\0              -> a contact's PHOTO as it is
        "f\0" folder GUID\0     -> u8 version, u32 uidvalidity,
                                   u64 highest modseq, u32 count
        "m\0"                    -> u8 version, u64 refreshed,
                                   u64 full_refreshed, u32 users
   An id is "u" and the userdb user name, or "c", the folder's GUID, "/"
   and the contact's UID: a folder's contacts are one key range. */
#define AS_STORE_GAL_VERSION 2
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

#define GAL_FLAG_PHOTO 0x01
#define GAL_FLAG_GROUP 0x02

static const char *gal_entry_id(const struct as_gal_entry *e)
{
	if (e->user != NULL)
		return t_strconcat("u", e->user, NULL);
	i_assert(e->folder_guid != NULL);
	return t_strdup_printf("c%s/%u", e->folder_guid, e->uid);
}

/* Fills user or folder_guid/uid from an id; FALSE if it is neither */
static bool gal_entry_set_id(pool_t pool, const char *id,
			     struct as_gal_entry *e)
{
	const char *slash;

	if (id[0] == 'u' && id[1] != '\0') {
		e->user = p_strdup(pool, id + 1);
		return TRUE;
	}
	if (id[0] != 'c' || (slash = strchr(id, '/')) == NULL ||
	    str_to_uint32(slash + 1, &e->uid) < 0)
		return FALSE;
	e->folder_guid = p_strdup_until(pool, id + 1, slash);
	return TRUE;
}

static void gal_entry_write(buffer_t *data, const struct as_gal_entry *e)
{
	uint32_t flags = 0;

	if (e->photo != NULL && e->photo->used > 0)
		flags |= GAL_FLAG_PHOTO;
	if (e->group)
		flags |= GAL_FLAG_GROUP;
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
	as_record_write_str(data, gal_entry_str(e->picture));
	as_record_write_u32(data, flags);
}

static const char *gal_read_str(struct as_record_reader *r, pool_t pool)
{
	const char *str = as_record_read_str(r, pool);

	return str == NULL || *str == '\0' ? NULL : str;
}

static int gal_entry_read(const MDB_val *data, pool_t pool, const char *id,
			  struct as_gal_entry *e_r, const char **error_r)
{
	struct as_record_reader r;
	const char *error;
	uint32_t flags;

	i_zero(e_r);
	if (!gal_entry_set_id(pool, id, e_r)) {
		*error_r = t_strdup_printf("Corrupted gal key: %s", id);
		return -1;
	}
	as_record_reader_init(&r, data->mv_data, data->mv_size);
	if (as_record_read_version(&r, AS_STORE_GAL_VERSION) !=
	    AS_STORE_GAL_VERSION)
		as_record_reader_fail(&r, "Old gal record version");
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
	e_r->picture = gal_read_str(&r, pool);
	flags = as_record_read_u32(&r);
	e_r->has_photo = (flags & GAL_FLAG_PHOTO) != 0;
	e_r->group = (flags & GAL_FLAG_GROUP) != 0;
	if (as_record_reader_finish(&r, &error) < 0) {
		*error_r = t_strdup_printf("Corrupted gal record: %s", error);
		return -1;
	}
	return 0;
}

/* ---- writing entries ---- */

/* Remove an entry with its tokens and photo: 1 if it was there */
static int gal_entry_del(struct as_store_txn *txn, const char *id,
			 const char **error_r)
{
	struct as_gal_entry e;
	const char *const *token;
	MDB_val data;
	int ret;

	ret = as_store_txn_get(txn, AS_STORE_DB_GAL, gal_key('e', id, NULL),
			       &data, error_r);
	if (ret <= 0)
		return ret;
	if (gal_entry_read(&data, pool_datastack_create(), id, &e,
			   error_r) < 0)
		return -1;
	for (token = as_store_gal_tokens(&e); *token != NULL; token++) {
		if (as_store_txn_del(txn, AS_STORE_DB_GAL,
				     gal_key('t', *token, id), error_r) < 0)
			return -1;
	}
	if (as_store_txn_del(txn, AS_STORE_DB_GAL, gal_key('e', id, NULL),
			     error_r) < 0 ||
	    as_store_txn_del(txn, AS_STORE_DB_GAL, gal_key('p', id, NULL),
			     error_r) < 0)
		return -1;
	return 1;
}

static int gal_entry_put(struct as_store_txn *txn, const char *id,
			 const struct as_gal_entry *e, const buffer_t *data,
			 const char **error_r)
{
	const char *const *token;
	buffer_t *token_data;

	if (as_store_txn_put(txn, AS_STORE_DB_GAL, gal_key('e', id, NULL),
			     data, error_r) < 0)
		return -1;
	/* each token knows the address, so a search drops duplicates
	   without reading entries */
	token_data = t_buffer_create(64);
	as_record_write_version(token_data, AS_STORE_GAL_VERSION);
	as_record_write_str(token_data, as_store_gal_fold(
		gal_entry_str(e->email)));
	for (token = as_store_gal_tokens(e); *token != NULL; token++) {
		if (as_store_txn_put(txn, AS_STORE_DB_GAL,
				     gal_key('t', *token, id), token_data,
				     error_r) < 0)
			return -1;
	}
	if (e->photo != NULL && e->photo->used > 0 &&
	    as_store_txn_put(txn, AS_STORE_DB_GAL, gal_key('p', id, NULL),
			     e->photo, error_r) < 0)
		return -1;
	return 0;
}

/* Add an entry or replace a different one. Returns 0 unchanged, 1 added,
   2 replaced, -1 error. */
static int gal_entry_update(struct as_store_txn *txn,
			    const struct as_gal_entry *e, const char **error_r)
{
	const char *id = gal_entry_id(e);
	buffer_t *data = t_buffer_create(256);
	MDB_val old, photo;
	int ret;

	gal_entry_write(data, e);
	ret = as_store_txn_get(txn, AS_STORE_DB_GAL, gal_key('e', id, NULL),
			       &old, error_r);
	if (ret < 0)
		return -1;
	if (ret > 0 && old.mv_size == data->used &&
	    memcmp(old.mv_data, data->data, data->used) == 0) {
		if (e->photo == NULL || e->photo->used == 0)
			return 0;
		ret = as_store_txn_get(txn, AS_STORE_DB_GAL,
				       gal_key('p', id, NULL), &photo,
				       error_r);
		if (ret < 0)
			return -1;
		if (ret > 0 && photo.mv_size == e->photo->used &&
		    memcmp(photo.mv_data, e->photo->data, photo.mv_size) == 0)
			return 0;
		ret = 1;
	}
	if (ret > 0 && gal_entry_del(txn, id, error_r) < 0)
		return -1;
	if (gal_entry_put(txn, id, e, data, error_r) < 0)
		return -1;
	return ret > 0 ? 2 : 1;
}

/* ---- info ---- */

static int gal_info_get(struct as_store_txn *txn, struct as_gal_info *info_r,
			const char **error_r)
{
	struct as_record_reader r;
	const char *error;
	MDB_val data;
	int ret;

	i_zero(info_r);
	ret = as_store_txn_get(txn, AS_STORE_DB_GAL, gal_key('m', NULL, NULL),
			       &data, error_r);
	if (ret <= 0)
		return ret;
	as_record_reader_init(&r, data.mv_data, data.mv_size);
	if (as_record_read_version(&r, UINT8_MAX) != AS_STORE_GAL_VERSION) {
		/* an older layout: rebuilt from scratch */
		return 0;
	}
	info_r->refreshed = (time_t)as_record_read_u64(&r);
	info_r->full_refreshed = (time_t)as_record_read_u64(&r);
	info_r->users = as_record_read_u32(&r);
	if (as_record_reader_finish(&r, &error) < 0) {
		*error_r = t_strdup_printf("Corrupted gal record: %s", error);
		return -1;
	}
	return 1;
}

static int gal_info_txn(struct as_store_txn *txn, void *context,
			const char **error_r)
{
	return gal_info_get(txn, context, error_r);
}

int as_store_gal_info(struct as_store *store, struct as_gal_info *info_r,
		      const char **error_r)
{
	int ret;

	ret = as_store_read(store, gal_info_txn, info_r, error_r);
	if (ret <= 0)
		i_zero(info_r);
	return ret;
}

/* ---- the userdb users ---- */

struct gal_users_ctx {
	pool_t pool;
	ARRAY_TYPE(const_string) *users;
};

static int gal_users_key(const MDB_val *key, const MDB_val *data ATTR_UNUSED,
			 void *context, const char **error_r ATTR_UNUSED)
{
	struct gal_users_ctx *ctx = context;
	const char *k = key->mv_data, *user;

	/* "e\0u" user "\0" */
	if (key->mv_size < 5 || k[key->mv_size - 1] != '\0')
		return 0;
	user = p_strndup(ctx->pool, k + 3, key->mv_size - 4);
	array_push_back(ctx->users, &user);
	return 0;
}

static int gal_users_txn(struct as_store_txn *txn, void *context,
			 const char **error_r)
{
	buffer_t *prefix = gal_key('e', NULL, NULL);

	buffer_append_c(prefix, 'u');
	return as_store_txn_foreach_prefix(txn, AS_STORE_DB_GAL, prefix,
					   gal_users_key, context, error_r);
}

int as_store_gal_users(struct as_store *store, pool_t pool,
		       ARRAY_TYPE(const_string) *users_r,
		       const char **error_r)
{
	struct gal_users_ctx ctx = { .pool = pool, .users = users_r };

	p_array_init(users_r, pool, 256);
	return as_store_read(store, gal_users_txn, &ctx, error_r) < 0 ?
		-1 : 0;
}

struct gal_update_ctx {
	const struct as_gal_entry *entries;
	unsigned int count;
	const char *const *removed;
	unsigned int removed_count;
	bool rebuild, full;
	time_t now;
	unsigned int users_count;
	struct as_gal_update_stats stats;
};

static int gal_update_txn(struct as_store_txn *txn, void *context,
			  const char **error_r)
{
	struct gal_update_ctx *ctx = context;
	struct as_gal_info info;
	buffer_t *data;
	unsigned int i;
	int rc, ret = 0;

	i_zero(&ctx->stats);
	if (ctx->rebuild) {
		rc = mdb_drop(txn->txn, txn->store->dbi[AS_STORE_DB_GAL], 0);
		if (rc != 0) {
			*error_r = as_store_mdb_error(txn->store, rc,
						      "mdb_drop");
			return -1;
		}
		i_zero(&info);
	} else if (gal_info_get(txn, &info, error_r) < 0) {
		return -1;
	}
	for (i = 0; i < ctx->removed_count && ret >= 0; i++) T_BEGIN {
		ret = gal_entry_del(txn, t_strconcat("u", ctx->removed[i],
						     NULL), error_r);
		if (ret > 0)
			ctx->stats.removed++;
	} T_END_PASS_STR_IF(ret < 0, error_r);
	for (i = 0; i < ctx->count && ret >= 0; i++) T_BEGIN {
		i_assert(ctx->entries[i].user != NULL);
		ret = gal_entry_update(txn, &ctx->entries[i], error_r);
		if (ret == 0)
			ctx->stats.unchanged++;
		else if (ret == 1)
			ctx->stats.added++;
		else if (ret == 2)
			ctx->stats.changed++;
	} T_END_PASS_STR_IF(ret < 0, error_r);
	if (ret < 0)
		return -1;
	data = t_buffer_create(32);
	as_record_write_version(data, AS_STORE_GAL_VERSION);
	as_record_write_u64(data, (uint64_t)ctx->now);
	as_record_write_u64(data, (uint64_t)(ctx->full ? ctx->now :
					     info.full_refreshed));
	as_record_write_u32(data, ctx->users_count);
	if (as_store_txn_put(txn, AS_STORE_DB_GAL, gal_key('m', NULL, NULL),
			     data, error_r) < 0)
		return -1;
	return 1;
}

int as_store_gal_update_users(struct as_store *store,
			      const struct as_gal_entry *entries,
			      unsigned int count,
			      const char *const *removed,
			      unsigned int removed_count,
			      bool rebuild, bool full, time_t now,
			      unsigned int users_count,
			      struct as_gal_update_stats *stats_r,
			      const char **error_r)
{
	struct gal_update_ctx ctx = {
		.entries = entries,
		.count = count,
		.removed = removed,
		.removed_count = removed_count,
		.rebuild = rebuild,
		.full = full || rebuild,
		.now = now,
		.users_count = users_count,
	};
	int ret;

	ret = as_store_write(store, gal_update_txn, &ctx, error_r);
	*stats_r = ctx.stats;
	return ret < 0 ? -1 : 0;
}

/* ---- GAL folders ---- */

struct gal_folder_ctx {
	const char *guid;
	struct as_gal_folder_state state;
	const struct as_gal_entry *entries;
	unsigned int count;
	pool_t pool;
	ARRAY_TYPE(const_string) ids;
};

static int gal_folder_state_txn(struct as_store_txn *txn, void *context,
				const char **error_r)
{
	struct gal_folder_ctx *ctx = context;
	struct as_record_reader r;
	const char *error;
	MDB_val data;
	int ret;

	ret = as_store_txn_get(txn, AS_STORE_DB_GAL,
			       gal_key('f', ctx->guid, NULL), &data, error_r);
	if (ret <= 0)
		return ret;
	as_record_reader_init(&r, data.mv_data, data.mv_size);
	(void)as_record_read_version(&r, AS_STORE_GAL_VERSION);
	ctx->state.uidvalidity = as_record_read_u32(&r);
	ctx->state.highest_modseq = as_record_read_u64(&r);
	ctx->state.count = as_record_read_u32(&r);
	if (as_record_reader_finish(&r, &error) < 0) {
		*error_r = t_strdup_printf("Corrupted gal record: %s", error);
		return -1;
	}
	return 1;
}

int as_store_gal_folder_state(struct as_store *store, const char *guid,
			      struct as_gal_folder_state *state_r,
			      const char **error_r)
{
	struct gal_folder_ctx ctx;
	int ret;

	i_zero(&ctx);
	ctx.guid = guid;
	ret = as_store_read(store, gal_folder_state_txn, &ctx, error_r);
	*state_r = ctx.state;
	return ret;
}

static int gal_folder_key(const MDB_val *key, const MDB_val *data ATTR_UNUSED,
			  void *context, const char **error_r ATTR_UNUSED)
{
	struct gal_folder_ctx *ctx = context;
	const char *k = key->mv_data, *id;

	/* "e\0" id "\0" */
	if (key->mv_size < 4 || k[key->mv_size - 1] != '\0')
		return 0;
	id = p_strndup(ctx->pool, k + 2, key->mv_size - 3);
	array_push_back(&ctx->ids, &id);
	return 0;
}

static int gal_folder_replace_txn(struct as_store_txn *txn, void *context,
				  const char **error_r)
{
	struct gal_folder_ctx *ctx = context;
	const char *id;
	buffer_t *prefix, *data;
	unsigned int i;
	int ret = 0;

	/* the folder's entries: "e\0c" guid "/" */
	prefix = gal_key('e', NULL, NULL);
	buffer_append(prefix, "c", 1);
	buffer_append(prefix, ctx->guid, strlen(ctx->guid));
	buffer_append_c(prefix, '/');
	ctx->pool = pool_datastack_create();
	t_array_init(&ctx->ids, 64);
	if (as_store_txn_foreach_prefix(txn, AS_STORE_DB_GAL, prefix,
					gal_folder_key, ctx, error_r) < 0)
		return -1;
	array_foreach_elem(&ctx->ids, id) {
		T_BEGIN {
			ret = gal_entry_del(txn, id, error_r);
		} T_END_PASS_STR_IF(ret < 0, error_r);
		if (ret < 0)
			return -1;
	}
	for (i = 0; i < ctx->count && ret >= 0; i++) T_BEGIN {
		const struct as_gal_entry *e = &ctx->entries[i];

		i_assert(e->user == NULL &&
			 strcmp(e->folder_guid, ctx->guid) == 0);
		data = t_buffer_create(256);
		gal_entry_write(data, e);
		ret = gal_entry_put(txn, gal_entry_id(e), e, data, error_r);
	} T_END_PASS_STR_IF(ret < 0, error_r);
	if (ret < 0)
		return -1;
	data = t_buffer_create(32);
	as_record_write_version(data, AS_STORE_GAL_VERSION);
	as_record_write_u32(data, ctx->state.uidvalidity);
	as_record_write_u64(data, ctx->state.highest_modseq);
	as_record_write_u32(data, ctx->count);
	if (as_store_txn_put(txn, AS_STORE_DB_GAL,
			     gal_key('f', ctx->guid, NULL), data,
			     error_r) < 0)
		return -1;
	return 1;
}

int as_store_gal_folder_replace(struct as_store *store, const char *guid,
				const struct as_gal_folder_state *state,
				const struct as_gal_entry *entries,
				unsigned int count, const char **error_r)
{
	struct gal_folder_ctx ctx;

	i_zero(&ctx);
	ctx.guid = guid;
	ctx.state = *state;
	ctx.entries = entries;
	ctx.count = count;
	return as_store_write(store, gal_folder_replace_txn, &ctx,
			      error_r) < 0 ? -1 : 0;
}

/* ---- search ---- */

struct gal_match {
	const char *id;
	bool contact;
};
ARRAY_DEFINE_TYPE(gal_match, struct gal_match);

struct gal_search_ctx {
	pool_t pool;
	buffer_t *prefix;
	const ARRAY_TYPE(const_string) *folders;
	unsigned int start, max, max_total;
	ARRAY_TYPE(as_gal_entry) *results;
	HASH_TABLE(const char *, void *) seen_ids;
	/* folded address -> index in matches + 1 */
	HASH_TABLE(const char *, void *) seen_emails;
	ARRAY_TYPE(gal_match) matches;
};

static bool gal_search_folder_allowed(struct gal_search_ctx *ctx,
				      const char *id)
{
	const char *guid;
	size_t len;

	if (ctx->folders == NULL)
		return FALSE;
	/* "c" guid "/" uid */
	len = strcspn(id + 1, "/");
	array_foreach_elem(ctx->folders, guid) {
		if (strlen(guid) == len && memcmp(guid, id + 1, len) == 0)
			return TRUE;
	}
	return FALSE;
}

static int gal_search_token(const MDB_val *key, const MDB_val *data,
			    void *context, const char **error_r ATTR_UNUSED)
{
	struct gal_search_ctx *ctx = context;
	const unsigned char *k = key->mv_data;
	struct as_record_reader r;
	struct gal_match match;
	const char *id, *email, *error;
	void *value;
	size_t i;

	/* "t\0" token\0 id\0: the id is after the second NUL */
	for (i = 2; i < key->mv_size && k[i] != '\0'; i++) ;
	if (i + 2 >= key->mv_size || k[key->mv_size - 1] != '\0')
		return 0;
	id = (const char *)k + i + 1;
	if (hash_table_lookup(ctx->seen_ids, id) != NULL)
		return 0;
	i_zero(&match);
	match.contact = id[0] == 'c';
	if (match.contact && !gal_search_folder_allowed(ctx, id))
		return 0;
	match.id = p_strdup(ctx->pool, id);
	hash_table_insert(ctx->seen_ids, match.id, POINTER_CAST(1));

	as_record_reader_init(&r, data->mv_data, data->mv_size);
	(void)as_record_read_version(&r, AS_STORE_GAL_VERSION);
	email = as_record_read_str(&r, ctx->pool);
	if (as_record_reader_finish(&r, &error) < 0 || *email == '\0') {
		/* no address to tell duplicates by */
		array_push_back(&ctx->matches, &match);
	} else if ((value = hash_table_lookup(ctx->seen_emails,
					      email)) == NULL) {
		array_push_back(&ctx->matches, &match);
		hash_table_insert(ctx->seen_emails, email,
				  POINTER_CAST(array_count(&ctx->matches)));
	} else {
		/* the same address again: a user of the userdb stands for
		   it rather than a contact card */
		struct gal_match *prev = array_idx_modifiable(&ctx->matches,
			POINTER_CAST_TO(value, unsigned int) - 1);
		if (prev->contact && !match.contact)
			*prev = match;
	}
	return array_count(&ctx->matches) >= ctx->max_total ? 1 : 0;
}

static int gal_search_txn(struct as_store_txn *txn, void *context,
			  const char **error_r)
{
	struct gal_search_ctx *ctx = context;
	const struct gal_match *match;
	struct as_gal_entry *e;
	unsigned int i, end;
	MDB_val data;
	int ret;

	if (as_store_txn_foreach_prefix(txn, AS_STORE_DB_GAL, ctx->prefix,
					gal_search_token, ctx, error_r) < 0)
		return -1;
	end = I_MIN(array_count(&ctx->matches), ctx->start + ctx->max);
	for (i = ctx->start; i < end; i++) {
		match = array_idx(&ctx->matches, i);
		ret = as_store_txn_get(txn, AS_STORE_DB_GAL,
				       gal_key('e', match->id, NULL), &data,
				       error_r);
		if (ret < 0)
			return -1;
		if (ret == 0)
			continue;
		e = array_append_space(ctx->results);
		if (gal_entry_read(&data, ctx->pool, match->id, e,
				   error_r) < 0)
			return -1;
	}
	return 1;
}

int as_store_gal_search(struct as_store *store, pool_t pool,
			const char *prefix,
			const ARRAY_TYPE(const_string) *folders,
			unsigned int start, unsigned int max,
			unsigned int max_total,
			ARRAY_TYPE(as_gal_entry) *results_r,
			unsigned int *total_r, const char **error_r)
{
	struct gal_search_ctx ctx;
	int ret;

	i_zero(&ctx);
	ctx.pool = pool;
	ctx.folders = folders;
	ctx.start = start;
	ctx.max = max;
	ctx.max_total = max_total;
	ctx.results = results_r;
	p_array_init(results_r, pool, I_MIN(max, 64) + 1);
	p_array_init(&ctx.matches, pool, 64);
	hash_table_create(&ctx.seen_ids, pool, 0, str_hash, strcmp);
	hash_table_create(&ctx.seen_emails, pool, 0, str_hash, strcmp);
	/* "t\0" and the prefix, without its NUL: every longer token */
	ctx.prefix = gal_key('t', NULL, NULL);
	prefix = as_store_gal_fold(prefix);
	buffer_append(ctx.prefix, prefix, I_MIN(strlen(prefix),
						AS_STORE_GAL_MAX_TOKEN));
	ret = as_store_read(store, gal_search_txn, &ctx, error_r);
	hash_table_destroy(&ctx.seen_ids);
	hash_table_destroy(&ctx.seen_emails);
	*total_r = array_count(&ctx.matches);
	return ret < 0 ? -1 : 0;
}

/* ---- photos ---- */

struct gal_photo_ctx {
	pool_t pool;
	const char *id;
	buffer_t *photo;
};

static int gal_photo_txn(struct as_store_txn *txn, void *context,
			 const char **error_r)
{
	struct gal_photo_ctx *ctx = context;
	MDB_val data;
	int ret;

	ret = as_store_txn_get(txn, AS_STORE_DB_GAL,
			       gal_key('p', ctx->id, NULL), &data, error_r);
	if (ret <= 0)
		return ret;
	ctx->photo = buffer_create_dynamic(ctx->pool, data.mv_size);
	buffer_append(ctx->photo, data.mv_data, data.mv_size);
	return 1;
}

int as_store_gal_photo(struct as_store *store, pool_t pool,
		       const struct as_gal_entry *entry, buffer_t **photo_r,
		       const char **error_r)
{
	struct gal_photo_ctx ctx = {
		.pool = pool,
		.id = gal_entry_id(entry),
	};
	int ret;

	ret = as_store_read(store, gal_photo_txn, &ctx, error_r);
	*photo_r = ctx.photo;
	return ret;
}
