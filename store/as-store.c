#include "lib.h"
#include "buffer.h"
#include "byteorder.h"
#include "mkdir-parents.h"
#include "as-store-private.h"

#include <sys/stat.h>
#include <unistd.h>

/* Crash safety: LMDB commits are durable (we never use MDB_NOSYNC or
   MDB_NOMETASYNC), and each API call is one short transaction. Callers
   must commit the mailbox change first and store the new state after it:
   a crash in between then leaves an older state, which makes the device
   resync or re-fetch, never lose or skip mail. */

/* The map is address space, counted against the process's vsz_limit:
   start small and double it when it fills (as_store_write()). */
#define AS_STORE_DEFAULT_MAP_SIZE (32ULL * 1024 * 1024)
/* Room for our named databases and a few future ones */
#define AS_STORE_MAX_DBS 16
/* Every service process and doveadm holds at most one reader slot at a
   time (MDB_NOTLS + short transactions); allow plenty of processes. */
#define AS_STORE_MAX_READERS 1024
/* MDB_MAP_FULL: double the map and retry the transaction this often */
#define AS_STORE_MAP_GROW_RETRIES 3

const char *const as_store_db_names[AS_STORE_DB_COUNT] = {
	[AS_STORE_DB_DEVICES] = "devices",
	[AS_STORE_DB_FOLDER_IDS] = "folder_ids",
	[AS_STORE_DB_FOLDER_GUIDS] = "folder_guids",
	[AS_STORE_DB_FOLDER_NEXT] = "folder_next",
	[AS_STORE_DB_HIERARCHY] = "hierarchy",
	[AS_STORE_DB_COLLECTIONS] = "collections",
	[AS_STORE_DB_ITEM_PROPS] = "item_props",
	[AS_STORE_DB_DEVICE_PROPS] = "device_props",
	[AS_STORE_DB_CLIENT_IDS] = "client_ids",
	[AS_STORE_DB_ITEM_UIDS] = "item_uids",
	[AS_STORE_DB_GAL] = "gal",
	[AS_STORE_DB_POLICIES] = "policies",
	[AS_STORE_DB_ABQ_RULES] = "abq_rules",
};

const char *as_store_size_str(uoff_t size)
{
	if (size >= 1024 * 1024)
		return t_strdup_printf("%"PRIuUOFF_T" MB", size / (1024 * 1024));
	return t_strdup_printf("%"PRIuUOFF_T" KB", size / 1024);
}

const char *as_store_mdb_error(struct as_store *store, int rc,
			       const char *func)
{
	store->last_rc = rc;
	return t_strdup_printf("LMDB %s(%s) failed: %s", func, store->dir,
			       mdb_strerror(rc));
}

static int
as_store_txn_begin(struct as_store *store, unsigned int flags,
		   MDB_txn **txn_r, const char **error_r)
{
	int rc;

	rc = mdb_txn_begin(store->env, NULL, flags, txn_r);
	if (rc == MDB_MAP_RESIZED) {
		/* another process grew the map: adopt its size */
		rc = mdb_env_set_mapsize(store->env, 0);
		if (rc == 0)
			rc = mdb_txn_begin(store->env, NULL, flags, txn_r);
	}
	if (rc != 0) {
		*error_r = as_store_mdb_error(store, rc, "mdb_txn_begin");
		return -1;
	}
	return 0;
}

static int as_store_grow(struct as_store *store, const char **error_r)
{
	MDB_envinfo info;
	size_t new_size;
	int rc;

	rc = mdb_env_info(store->env, &info);
	if (rc != 0) {
		*error_r = as_store_mdb_error(store, rc, "mdb_env_info");
		return -1;
	}
	if (info.me_mapsize > SIZE_MAX / 2)
		new_size = SIZE_MAX;
	else
		new_size = info.me_mapsize * 2;
	if (store->max_map_size != 0 && new_size > store->max_map_size)
		new_size = store->max_map_size;
	if (new_size <= info.me_mapsize) {
		*error_r = t_strdup_printf(
			"LMDB map of %s is full at %s, the most it may use "
			"(%s)", store->dir, as_store_size_str(info.me_mapsize),
			store->max_map_size_source != NULL ?
			store->max_map_size_source : "address space");
		return -1;
	}
	rc = mdb_env_set_mapsize(store->env, new_size);
	if (rc != 0) {
		*error_r = t_strdup_printf(
			"LMDB map of %s is full at %s and can't grow to "
			"%s: %s", store->dir, as_store_size_str(info.me_mapsize),
			as_store_size_str(new_size), mdb_strerror(rc));
		store->last_rc = rc;
		return -1;
	}
	store->map_grow_count++;
	return 0;
}

void as_store_get_sizes(struct as_store *store, size_t *map_size_r,
			uoff_t *file_size_r)
{
	MDB_envinfo info;
	struct stat st;

	*map_size_r = mdb_env_info(store->env, &info) == 0 ?
		info.me_mapsize : 0;
	*file_size_r = stat(t_strconcat(store->dir, "/data.mdb", NULL),
			    &st) == 0 ? (uoff_t)st.st_size : 0;
}

int as_store_read(struct as_store *store, as_store_txn_func_t *func,
		  void *context, const char **error_r)
{
	struct as_store_txn txn = { .store = store };
	int ret;

	if (as_store_txn_begin(store, MDB_RDONLY, &txn.txn, error_r) < 0)
		return -1;
	ret = func(&txn, context, error_r);
	mdb_txn_abort(txn.txn);
	return ret;
}

int as_store_write(struct as_store *store, as_store_txn_func_t *func,
		   void *context, const char **error_r)
{
	struct as_store_txn txn = { .store = store };
	unsigned int attempt;
	int ret, rc;

	for (attempt = 0;; attempt++) {
		if (as_store_txn_begin(store, 0, &txn.txn, error_r) < 0)
			return -1;
		store->last_rc = 0;
		ret = func(&txn, context, error_r);
		if (ret < 0)
			mdb_txn_abort(txn.txn);
		else {
			/* commit can need new pages too (freelist) */
			rc = mdb_txn_commit(txn.txn);
			if (rc == 0)
				return ret;
			*error_r = as_store_mdb_error(store, rc,
						      "mdb_txn_commit");
		}
		if (store->last_rc != MDB_MAP_FULL ||
		    attempt >= AS_STORE_MAP_GROW_RETRIES)
			return -1;
		/* no transaction of ours is open now, so the map may be
		   resized; the body runs again from scratch */
		if (as_store_grow(store, error_r) < 0)
			return -1;
	}
}

static int
as_store_check_key(struct as_store_txn *txn, const buffer_t *key,
		   const char **error_r)
{
	int max = mdb_env_get_maxkeysize(txn->store->env);

	if (key->used == 0 || key->used > (size_t)max) {
		*error_r = t_strdup_printf(
			"State store key size %zu not in 1..%d "
			"(user/device/collection id too long)", key->used, max);
		return -1;
	}
	return 0;
}

int as_store_txn_get(struct as_store_txn *txn, enum as_store_db db,
		     const buffer_t *key, MDB_val *data_r,
		     const char **error_r)
{
	MDB_val k;
	int rc;

	if (as_store_check_key(txn, key, error_r) < 0)
		return -1;
	k.mv_data = (void *)key->data;
	k.mv_size = key->used;
	rc = mdb_get(txn->txn, txn->store->dbi[db], &k, data_r);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc != 0) {
		*error_r = as_store_mdb_error(txn->store, rc, "mdb_get");
		return -1;
	}
	return 1;
}

int as_store_txn_put(struct as_store_txn *txn, enum as_store_db db,
		     const buffer_t *key, const buffer_t *data,
		     const char **error_r)
{
	MDB_val k, v;
	int rc;

	if (as_store_check_key(txn, key, error_r) < 0)
		return -1;
	k.mv_data = (void *)key->data;
	k.mv_size = key->used;
	v.mv_data = (void *)data->data;
	v.mv_size = data->used;
	rc = mdb_put(txn->txn, txn->store->dbi[db], &k, &v, 0);
	if (rc != 0) {
		*error_r = as_store_mdb_error(txn->store, rc, "mdb_put");
		return -1;
	}
	return 0;
}

int as_store_txn_del(struct as_store_txn *txn, enum as_store_db db,
		     const buffer_t *key, const char **error_r)
{
	MDB_val k;
	int rc;

	if (as_store_check_key(txn, key, error_r) < 0)
		return -1;
	k.mv_data = (void *)key->data;
	k.mv_size = key->used;
	rc = mdb_del(txn->txn, txn->store->dbi[db], &k, NULL);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc != 0) {
		*error_r = as_store_mdb_error(txn->store, rc, "mdb_del");
		return -1;
	}
	return 1;
}

static bool as_store_key_has_prefix(const MDB_val *key, const buffer_t *prefix)
{
	return key->mv_size >= prefix->used &&
		memcmp(key->mv_data, prefix->data, prefix->used) == 0;
}

int as_store_txn_del_prefix(struct as_store_txn *txn, enum as_store_db db,
			    const buffer_t *prefix, const buffer_t *end_key,
			    unsigned int *deleted_count_r,
			    const char **error_r)
{
	MDB_dbi dbi = txn->store->dbi[db];
	MDB_cursor *cursor;
	MDB_val k, v, end;
	int rc;

	*deleted_count_r = 0;
	if (as_store_check_key(txn, prefix, error_r) < 0)
		return -1;
	if (end_key != NULL) {
		end.mv_data = (void *)end_key->data;
		end.mv_size = end_key->used;
	}

	rc = mdb_cursor_open(txn->txn, dbi, &cursor);
	if (rc != 0) {
		*error_r = as_store_mdb_error(txn->store, rc,
					      "mdb_cursor_open");
		return -1;
	}
	k.mv_data = (void *)prefix->data;
	k.mv_size = prefix->used;
	rc = mdb_cursor_get(cursor, &k, &v, MDB_SET_RANGE);
	while (rc == 0) {
		if (!as_store_key_has_prefix(&k, prefix))
			break;
		if (end_key != NULL && mdb_cmp(txn->txn, dbi, &k, &end) >= 0)
			break;
		rc = mdb_cursor_del(cursor, 0);
		if (rc != 0)
			break;
		*deleted_count_r += 1;
		/* after a delete the cursor already points to the following
		   item; MDB_NEXT returns it without skipping */
		rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(cursor);
	if (rc != 0 && rc != MDB_NOTFOUND) {
		*error_r = as_store_mdb_error(txn->store, rc,
					      "mdb_cursor_del");
		return -1;
	}
	return 0;
}

int as_store_txn_foreach_prefix(struct as_store_txn *txn, enum as_store_db db,
				const buffer_t *prefix,
				as_store_foreach_func_t *func, void *context,
				const char **error_r)
{
	MDB_cursor *cursor;
	MDB_val k, v;
	int rc, ret = 0;

	rc = mdb_cursor_open(txn->txn, txn->store->dbi[db], &cursor);
	if (rc != 0) {
		*error_r = as_store_mdb_error(txn->store, rc,
					      "mdb_cursor_open");
		return -1;
	}
	if (prefix != NULL && prefix->used > 0) {
		if (as_store_check_key(txn, prefix, error_r) < 0) {
			mdb_cursor_close(cursor);
			return -1;
		}
		k.mv_data = (void *)prefix->data;
		k.mv_size = prefix->used;
		rc = mdb_cursor_get(cursor, &k, &v, MDB_SET_RANGE);
	} else {
		prefix = NULL;
		rc = mdb_cursor_get(cursor, &k, &v, MDB_FIRST);
	}
	for (; rc == 0; rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)) {
		if (prefix != NULL && !as_store_key_has_prefix(&k, prefix))
			break;
		ret = func(&k, &v, context, error_r);
		if (ret != 0)
			break;
	}
	mdb_cursor_close(cursor);
	if (ret < 0)
		return -1;
	if (rc != 0 && rc != MDB_NOTFOUND) {
		*error_r = as_store_mdb_error(txn->store, rc,
					      "mdb_cursor_get");
		return -1;
	}
	return 0;
}

int as_store_txn_last_u32(struct as_store_txn *txn, enum as_store_db db,
			  const buffer_t *prefix, uint32_t *num_r,
			  const char **error_r)
{
	MDB_cursor *cursor;
	buffer_t *seek;
	MDB_val k, v;
	int rc, ret = 0;

	*num_r = 0;
	/* seek to prefix + UINT32_MAX: either that key exists, or the item
	   just before the one found is the greatest one with our prefix */
	seek = as_store_key_new();
	buffer_append_buf(seek, prefix, 0, SIZE_MAX);
	as_store_key_add_u32(seek, UINT32_MAX);
	if (as_store_check_key(txn, seek, error_r) < 0)
		return -1;

	rc = mdb_cursor_open(txn->txn, txn->store->dbi[db], &cursor);
	if (rc != 0) {
		*error_r = as_store_mdb_error(txn->store, rc,
					      "mdb_cursor_open");
		return -1;
	}
	k.mv_data = (void *)seek->data;
	k.mv_size = seek->used;
	rc = mdb_cursor_get(cursor, &k, &v, MDB_SET_RANGE);
	if (rc == 0) {
		if (k.mv_size != seek->used ||
		    memcmp(k.mv_data, seek->data, seek->used) != 0)
			rc = mdb_cursor_get(cursor, &k, &v, MDB_PREV);
	} else if (rc == MDB_NOTFOUND) {
		rc = mdb_cursor_get(cursor, &k, &v, MDB_LAST);
	}
	if (rc == 0) {
		if (k.mv_size == prefix->used + sizeof(uint32_t) &&
		    as_store_key_has_prefix(&k, prefix)) {
			*num_r = be32_to_cpu_unaligned(
				CONST_PTR_OFFSET(k.mv_data, prefix->used));
			ret = 1;
		}
	} else if (rc != MDB_NOTFOUND) {
		*error_r = as_store_mdb_error(txn->store, rc,
					      "mdb_cursor_get");
		ret = -1;
	}
	mdb_cursor_close(cursor);
	return ret;
}

static int
as_store_open_dbs(struct as_store_txn *txn, void *context ATTR_UNUSED,
		  const char **error_r)
{
	unsigned int i;
	int rc;

	for (i = 0; i < AS_STORE_DB_COUNT; i++) {
		rc = mdb_dbi_open(txn->txn, as_store_db_names[i], MDB_CREATE,
				  &txn->store->dbi[i]);
		if (rc != 0) {
			*error_r = as_store_mdb_error(txn->store, rc,
						      "mdb_dbi_open");
			return -1;
		}
	}
	return 1;
}

/* An mdb_env_open() failure in words an admin can act on. */
static const char *
as_store_open_error(struct as_store *store, int rc, size_t map_size)
{
	const char *error = as_store_mdb_error(store, rc, "mdb_env_open");

	switch (rc) {
	case ENOMEM:
		return t_strdup_printf("%s: can't map %s of address "
			"space for it (%s)", error, as_store_size_str(map_size),
			store->max_map_size_source != NULL ?
			store->max_map_size_source : "no limit set");
	case EACCES:
	case EPERM:
	case EROFS:
		return t_strdup_printf("%s (the process runs as uid %s, "
			"gid %s: it must be able to write the directory)",
			error, dec2str(geteuid()), dec2str(getegid()));
	case MDB_VERSION_MISMATCH:
	case MDB_INVALID:
		return t_strdup_printf("%s: %s/data.mdb is not a state store "
			"this LMDB can read (written by a newer version, or "
			"not LMDB): move the directory away to start afresh "
			"(devices then resync; no mail is lost)",
			error, store->dir);
	default:
		return error;
	}
}

int as_store_open(const struct as_store_settings *set,
		  struct as_store **store_r, const char **error_r)
{
	struct as_store *store;
	size_t map_size;
	int rc, dead;

	*store_r = NULL;
	if (set->dir == NULL || set->dir[0] == '\0') {
		*error_r = "State store directory not set";
		return -1;
	}
	if (mkdir_parents(set->dir, 0700) < 0 && errno != EEXIST) {
		*error_r = t_strdup_printf("mkdir(%s) failed: %m (the process "
					   "runs as uid %s)", set->dir,
					   dec2str(geteuid()));
		return -1;
	}

	store = i_new(struct as_store, 1);
	store->dir = i_strdup(set->dir);
	store->max_map_size = set->max_map_size;
	store->max_map_size_source = i_strdup(set->max_map_size_source);
	map_size = set->map_size != 0 ? set->map_size :
		AS_STORE_DEFAULT_MAP_SIZE;
	if (store->max_map_size != 0 && map_size > store->max_map_size)
		map_size = store->max_map_size;

	if ((rc = mdb_env_create(&store->env)) != 0) {
		*error_r = as_store_mdb_error(store, rc, "mdb_env_create");
		store->env = NULL;
		as_store_close(&store);
		return -1;
	}
	if ((rc = mdb_env_set_maxdbs(store->env, AS_STORE_MAX_DBS)) != 0 ||
	    (rc = mdb_env_set_maxreaders(store->env,
					 AS_STORE_MAX_READERS)) != 0 ||
	    (rc = mdb_env_set_mapsize(store->env, map_size)) != 0) {
		*error_r = as_store_mdb_error(store, rc, "mdb_env_set");
		as_store_close(&store);
		return -1;
	}
	/* MDB_NOTLS: reader slots belong to transactions, not threads.
	   LMDB raises the map to the data file's size if that is larger. */
	rc = mdb_env_open(store->env, store->dir, MDB_NOTLS, 0600);
	if (rc != 0) {
		*error_r = as_store_open_error(store, rc, map_size);
		as_store_close(&store);
		return -1;
	}
	if (store->max_map_size != 0) {
		size_t cur_map;
		uoff_t file_size;

		as_store_get_sizes(store, &cur_map, &file_size);
		if (cur_map > store->max_map_size) {
			*error_r = t_strdup_printf(
				"%s holds %s of state, more than the "
				"%s it may map (%s)", store->dir,
				as_store_size_str(cur_map),
				as_store_size_str(store->max_map_size),
				store->max_map_size_source != NULL ?
				store->max_map_size_source : "limit");
			as_store_close(&store);
			return -1;
		}
	}
	/* free reader slots left behind by crashed processes */
	(void)mdb_reader_check(store->env, &dead);

	if (as_store_write(store, as_store_open_dbs, NULL, error_r) < 0) {
		as_store_close(&store);
		return -1;
	}
	*store_r = store;
	return 0;
}

void as_store_close(struct as_store **_store)
{
	struct as_store *store = *_store;

	if (store == NULL)
		return;
	*_store = NULL;
	if (store->env != NULL)
		mdb_env_close(store->env);
	i_free(store->dir);
	i_free(store->max_map_size_source);
	i_free(store);
}
