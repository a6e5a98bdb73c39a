#ifndef AS_STORE_PRIVATE_H
#define AS_STORE_PRIVATE_H

#include <lmdb.h>

#include "as-store.h"

/* Named databases. Keys are built from NUL-terminated string parts
   followed (where a SyncKey is involved) by a big-endian u32, so that
   keys of one device / collection are adjacent and ordered by SyncKey:
   a prefix cursor walk gives "latest" and "purge" cheaply.

   devices       user\0 device\0                           -> device record
   folder_ids    user\0 guid(16)                           -> id record
   folder_guids  user\0 id(BE u32)                         -> guid record
   folder_next   user\0                                    -> next id record
   hierarchy     user\0 device\0 synckey(BE u32)           -> folder list
   collections   user\0 device\0 collection\0 synckey(BE)  -> state
   item_props    user\0 mailbox guid(16) uid(BE u32)       -> value
   device_props  user\0 device\0 name\0                     -> value
   client_ids    user\0 device\0 client id\0             -> sent time
   item_uids     user\0 guid(16) item uid\0                -> UIDs
   gal           see as-store-gal.c
   policies      level\0 [domain or user\0]              -> policy level */
enum as_store_db {
	AS_STORE_DB_DEVICES,
	AS_STORE_DB_FOLDER_IDS,
	AS_STORE_DB_FOLDER_GUIDS,
	AS_STORE_DB_FOLDER_NEXT,
	AS_STORE_DB_HIERARCHY,
	AS_STORE_DB_COLLECTIONS,
	AS_STORE_DB_ITEM_PROPS,
	AS_STORE_DB_DEVICE_PROPS,
	AS_STORE_DB_CLIENT_IDS,
	AS_STORE_DB_ITEM_UIDS,
	AS_STORE_DB_GAL,
	AS_STORE_DB_POLICIES,
	AS_STORE_DB_ABQ_RULES,

	AS_STORE_DB_COUNT
};

extern const char *const as_store_db_names[AS_STORE_DB_COUNT];

struct as_store {
	char *dir;
	char *max_map_size_source;
	size_t max_map_size;
	MDB_env *env;
	MDB_dbi dbi[AS_STORE_DB_COUNT];
	/* LMDB return code of the last failed mdb call in the current
	   transaction (lets the write wrapper notice MDB_MAP_FULL) */
	int last_rc;
	/* How many times the map was grown (for tests / logging) */
	unsigned int map_grow_count;
};

struct as_store_txn {
	struct as_store *store;
	MDB_txn *txn;
};

/* Transaction body. Returns 1/0 (committed for write transactions) or -1
   with error_r set (aborted). A write body may run more than once (after
   the map was grown), so it must reset its outputs on every run. */
typedef int as_store_txn_func_t(struct as_store_txn *txn, void *context,
				const char **error_r);

int as_store_read(struct as_store *store, as_store_txn_func_t *func,
		  void *context, const char **error_r);
int as_store_write(struct as_store *store, as_store_txn_func_t *func,
		   void *context, const char **error_r);

/* Format an LMDB error and remember its code for the retry logic. */
const char *as_store_mdb_error(struct as_store *store, int rc,
			       const char *func);

/* Primitive operations inside a transaction. get/del return 1 found,
   0 not found, -1 error; put returns 0 / -1. */
int as_store_txn_get(struct as_store_txn *txn, enum as_store_db db,
		     const buffer_t *key, MDB_val *data_r,
		     const char **error_r);
int as_store_txn_put(struct as_store_txn *txn, enum as_store_db db,
		     const buffer_t *key, const buffer_t *data,
		     const char **error_r);
int as_store_txn_del(struct as_store_txn *txn, enum as_store_db db,
		     const buffer_t *key, const char **error_r);
/* Delete all keys that start with prefix and sort before end_key
   (end_key NULL = no upper limit). Returns 0 / -1. */
int as_store_txn_del_prefix(struct as_store_txn *txn, enum as_store_db db,
			    const buffer_t *prefix, const buffer_t *end_key,
			    unsigned int *deleted_count_r,
			    const char **error_r);
/* Call func for every key that starts with prefix (prefix NULL or empty =
   all keys) in key order. func returns 0 to continue, 1 to stop or -1 on
   error. Returns 0 / -1. */
typedef int as_store_foreach_func_t(const MDB_val *key, const MDB_val *data,
				    void *context, const char **error_r);
int as_store_txn_foreach_prefix(struct as_store_txn *txn, enum as_store_db db,
				const buffer_t *prefix,
				as_store_foreach_func_t *func, void *context,
				const char **error_r);
/* Find the greatest key that is prefix + a big-endian u32 and return the
   number. Returns 1 found, 0 none, -1 error. */
int as_store_txn_last_u32(struct as_store_txn *txn, enum as_store_db db,
			  const buffer_t *prefix, uint32_t *num_r,
			  const char **error_r);

/* Key building (data stack buffers) */
buffer_t *as_store_key_new(void);
/* Append a string part followed by NUL */
void as_store_key_add_str(buffer_t *key, const char *str);
/* Append a big-endian u32 (keeps numeric order == byte order) */
void as_store_key_add_u32(buffer_t *key, uint32_t num);
/* Split a key that consists only of NUL-terminated string parts into
   exactly count strings (allocated from pool). Returns 0 / -1 if the key
   has another shape. */
int as_store_key_split(const MDB_val *key, pool_t pool, unsigned int count,
		       const char **parts_r);

/* Keys used by more than one file */
buffer_t *as_store_key_device(const char *user, const char *device_id);

/* Record coders per type (also used by the unit tests) */
void as_store_device_encode(buffer_t *buf, const struct as_device *dev);
int as_store_device_decode(const void *data, size_t size, pool_t pool,
			   struct as_device *dev_r, const char **error_r);
void as_store_hierarchy_encode(buffer_t *buf,
			       const ARRAY_TYPE(as_folder) *folders);
int as_store_hierarchy_decode(const void *data, size_t size, pool_t pool,
			      ARRAY_TYPE(as_folder) *folders_r,
			      const char **error_r);
void as_store_collection_encode(buffer_t *buf,
				const struct as_collection_state *state);
int as_store_collection_decode(const void *data, size_t size, pool_t pool,
			       struct as_collection_state *state_r,
			       const char **error_r);
void as_store_policy_encode(buffer_t *buf,
			    const ARRAY_TYPE(const_string) *fields);
int as_store_policy_decode(const void *data, size_t size, pool_t pool,
			   ARRAY_TYPE(const_string) *fields_r,
			   const char **error_r);

#endif
