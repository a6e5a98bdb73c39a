#include "lib.h"
#include "array.h"
#include "buffer.h"
#include "str.h"
#include "unlink-directory.h"
#include "mkdir-parents.h"
#include "test-common.h"
#include "as-store-record.h"
#include "as-abq.h"
#include "as-store-itemprops.h"
#include "as-store-private.h"
#include "as-store-itemuid.h"
#include "as-store-gal.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

static const char *test_root;
static const char *test_argv0;
static unsigned int test_dir_counter;

/* A fresh, not yet existing store directory below the test root */
static const char *test_store_dir(void)
{
	return t_strdup_printf("%s/store%u/sub", test_root,
			       ++test_dir_counter);
}

static struct as_store *test_store_open_dir(const char *dir, size_t map_size)
{
	struct as_store_settings set = {
		.dir = dir,
		.map_size = map_size,
	};
	struct as_store *store;
	const char *error;

	if (as_store_open(&set, &store, &error) < 0)
		i_fatal("as_store_open(%s) failed: %s", dir, error);
	return store;
}

static struct as_store *test_store_open(void)
{
	return test_store_open_dir(test_store_dir(), 0);
}

/* Deterministic pseudo random numbers for reproducible garbage */
static uint32_t test_rand_state = 12345;
static uint32_t test_rand(void)
{
	test_rand_state = test_rand_state * 1103515245 + 12345;
	return test_rand_state >> 8;
}

static size_t test_db_entries(struct as_store *store, enum as_store_db db)
{
	MDB_txn *txn;
	MDB_stat st;

	if (mdb_txn_begin(store->env, NULL, MDB_RDONLY, &txn) != 0)
		i_fatal("mdb_txn_begin failed");
	if (mdb_stat(txn, store->dbi[db], &st) != 0)
		i_fatal("mdb_stat failed");
	mdb_txn_abort(txn);
	return st.ms_entries;
}

/* Overwrite a value behind the API's back */
static void test_raw_put(struct as_store *store, enum as_store_db db,
			 const buffer_t *key, const void *data, size_t size)
{
	MDB_val k = { .mv_size = key->used, .mv_data = (void *)key->data };
	MDB_val v = { .mv_size = size, .mv_data = (void *)data };
	MDB_txn *txn;

	if (mdb_txn_begin(store->env, NULL, 0, &txn) != 0 ||
	    mdb_put(txn, store->dbi[db], &k, &v, 0) != 0 ||
	    mdb_txn_commit(txn) != 0)
		i_fatal("raw mdb put failed");
}

static const char *test_long_string(unsigned int len)
{
	char *str = t_malloc0(len + 1);

	memset(str, 'x', len);
	return str;
}

static void test_fill_state(struct as_collection_state *state, pool_t pool,
			    uint32_t seed)
{
	i_zero(state);
	state->uid_validity = 1000 + seed;
	state->highest_modseq = 0x100000000ULL + seed;
	state->uid_next = 50 + seed;
	p_array_init(&state->uids, pool, 4);
	seq_range_array_add_range(&state->uids, 1, 10 + seed);
	seq_range_array_add(&state->uids, 40 + seed);
	state->options = p_strdup_printf(pool, "filter=%u", seed);
}

static bool test_state_equals(const struct as_collection_state *a,
			      const struct as_collection_state *b)
{
	const struct seq_range *ra, *rb;
	unsigned int ca, cb;

	ra = array_get(&a->uids, &ca);
	rb = array_get(&b->uids, &cb);
	return a->uid_validity == b->uid_validity &&
		a->highest_modseq == b->highest_modseq &&
		a->uid_next == b->uid_next &&
		strcmp(a->options, b->options) == 0 &&
		ca == cb && memcmp(ra, rb, ca * sizeof(*ra)) == 0;
}

static void test_store_open_close(void)
{
	struct as_store_settings set;
	struct as_store *store;
	const char *dir, *error;
	struct stat st;

	test_begin("store open/close");
	dir = test_store_dir();
	store = test_store_open_dir(dir, 0);
	test_assert(stat(dir, &st) == 0 && S_ISDIR(st.st_mode) &&
		    (st.st_mode & 0777) == 0700);
	test_assert(stat(t_strconcat(dir, "/data.mdb", NULL), &st) == 0 &&
		    (st.st_mode & 0077) == 0);
	test_assert(stat(t_strconcat(dir, "/lock.mdb", NULL), &st) == 0);
	as_store_close(&store);
	test_assert(store == NULL);
	as_store_close(&store);

	/* reopening an existing store works */
	store = test_store_open_dir(dir, 0);
	as_store_close(&store);

	i_zero(&set);
	set.dir = "";
	error = NULL;
	test_assert(as_store_open(&set, &store, &error) < 0);
	test_assert(store == NULL && error != NULL);

	/* a file where the directory should be */
	set.dir = t_strconcat(dir, "/data.mdb/x", NULL);
	error = NULL;
	test_assert(as_store_open(&set, &store, &error) < 0);
	test_assert(store == NULL && error != NULL);
	test_end();
}

static void test_store_device(void)
{
	struct as_store *store = test_store_open();
	pool_t pool = pool_alloconly_create("test devices", 4096);
	ARRAY_TYPE(const_string) ids;
	ARRAY_TYPE(as_device) devs;
	struct as_device dev, dev2;
	const char *error, *const *idp;
	unsigned int count;

	test_begin("store devices");
	i_zero(&dev);
	dev.user = "alice";
	dev.device_id = "DEV1";
	dev.device_type = "iPhone";
	dev.model = "iPhone12,1";
	dev.os = "iOS 17";
	dev.user_agent = "Apple-iPhone/1";
	dev.protocol_version = "16.1";
	dev.first_seen = 1700000000;
	dev.last_seen = (time_t)0x1ffffffffLL;
	dev.policy_key = 0xdeadbeef;
	dev.ping_folders = NULL;
	dev.ping_heartbeat = 900;
	test_assert(as_store_device_put(store, &dev, &error) == 1);

	test_assert(as_store_device_get(store, pool, "alice", "DEV1", &dev2,
					&error) == 1);
	test_assert_strcmp(dev2.user, "alice");
	test_assert_strcmp(dev2.device_id, "DEV1");
	test_assert_strcmp(dev2.device_type, "iPhone");
	test_assert_strcmp(dev2.model, "iPhone12,1");
	test_assert_strcmp(dev2.os, "iOS 17");
	test_assert_strcmp(dev2.user_agent, "Apple-iPhone/1");
	test_assert_strcmp(dev2.protocol_version, "16.1");
	test_assert(dev2.first_seen == 1700000000);
	test_assert(dev2.last_seen == (time_t)0x1ffffffffLL);
	test_assert(dev2.policy_key == 0xdeadbeef);
	test_assert_strcmp(dev2.ping_folders, "");
	test_assert(dev2.ping_heartbeat == 900);

	/* unknown device / user */
	test_assert(as_store_device_get(store, pool, "alice", "DEV2", &dev2,
					&error) == 0);
	test_assert(as_store_device_get(store, pool, "bob", "DEV1", &dev2,
					&error) == 0);
	test_assert(as_store_device_get(store, pool, "alic", "DEV1", &dev2,
					&error) == 0);

	/* update */
	dev.ping_folders = "1,5,7";
	dev.last_seen = 1700000500;
	dev.policy_key = 0;
	test_assert(as_store_device_put(store, &dev, &error) == 1);
	test_assert(as_store_device_get(store, pool, "alice", "DEV1", &dev2,
					&error) == 1);
	test_assert_strcmp(dev2.ping_folders, "1,5,7");
	test_assert(dev2.last_seen == 1700000500);
	test_assert(dev2.policy_key == 0);
	test_assert(dev2.first_seen == 1700000000);

	/* more devices, including ids that are prefixes of each other */
	dev.device_id = "DEV10";
	test_assert(as_store_device_put(store, &dev, &error) == 1);
	dev.device_id = "ABC";
	test_assert(as_store_device_put(store, &dev, &error) == 1);
	dev.user = "alic";
	dev.device_id = "X";
	test_assert(as_store_device_put(store, &dev, &error) == 1);
	dev.user = "bob";
	dev.device_id = "DEV1";
	dev.device_type = "Android";
	test_assert(as_store_device_put(store, &dev, &error) == 1);

	i_zero(&ids);
	test_assert(as_store_device_list(store, pool, "alice", &ids,
					 &error) == 1);
	idp = array_get(&ids, &count);
	test_assert(count == 3);
	if (count == 3) {
		test_assert_strcmp(idp[0], "ABC");
		test_assert_strcmp(idp[1], "DEV1");
		test_assert_strcmp(idp[2], "DEV10");
	}
	test_assert(as_store_device_list(store, pool, "bob", &ids,
					 &error) == 1);
	idp = array_get(&ids, &count);
	test_assert(count == 1 && strcmp(idp[0], "DEV1") == 0);
	test_assert(as_store_device_list(store, pool, "carol", &ids,
					 &error) == 0);
	test_assert(array_count(&ids) == 0);

	test_assert(as_store_device_list(store, pool, NULL, &ids,
					 &error) == 1);
	idp = array_get(&ids, &count);
	test_assert(count == 5);
	if (count == 5) {
		test_assert_strcmp(idp[0], "alic\tX");
		test_assert_strcmp(idp[1], "alice\tABC");
		test_assert_strcmp(idp[2], "alice\tDEV1");
		test_assert_strcmp(idp[3], "alice\tDEV10");
		test_assert_strcmp(idp[4], "bob\tDEV1");
	}

	i_zero(&devs);
	test_assert(as_store_device_list_full(store, pool, "bob", &devs,
					      &error) == 1);
	test_assert(array_count(&devs) == 1);
	if (array_count(&devs) == 1) {
		const struct as_device *d = array_front(&devs);
		test_assert_strcmp(d->user, "bob");
		test_assert_strcmp(d->device_id, "DEV1");
		test_assert_strcmp(d->device_type, "Android");
	}
	test_assert(as_store_device_list_full(store, pool, NULL, &devs,
					      &error) == 1);
	test_assert(array_count(&devs) == 5);

	/* remove */
	test_assert(as_store_device_remove(store, "alice", "DEV1",
					   &error) == 1);
	test_assert(as_store_device_get(store, pool, "alice", "DEV1", &dev2,
					&error) == 0);
	test_assert(as_store_device_remove(store, "alice", "DEV1",
					   &error) == 0);
	test_assert(as_store_device_get(store, pool, "alice", "DEV10", &dev2,
					&error) == 1);
	test_assert(as_store_device_get(store, pool, "bob", "DEV1", &dev2,
					&error) == 1);
	test_assert(as_store_device_list(store, pool, "alice", &ids,
					 &error) == 1);
	test_assert(array_count(&ids) == 2);
	test_end();

	as_store_close(&store);
	pool_unref(&pool);
}

static void test_store_device_remove_cascade(void)
{
	struct as_store *store = test_store_open();
	pool_t pool = pool_alloconly_create("test cascade", 4096);
	ARRAY_TYPE(as_folder) folders;
	struct as_collection_state state;
	struct as_folder *folder;
	struct as_device dev;
	const char *error, *const *dp;
	const char *const devices[] = { "D1", "D10", "D" };
	unsigned int sync_key;

	test_begin("store device remove cascade");
	p_array_init(&folders, pool, 2);
	folder = array_append_space(&folders);
	folder->server_id = "1";
	folder->parent_id = "0";
	folder->display_name = "Inbox";
	folder->type = 2;
	test_fill_state(&state, pool, 1);

	i_zero(&dev);
	dev.user = "u";
	for (dp = devices; dp < devices + N_ELEMENTS(devices); dp++) {
		dev.device_id = *dp;
		test_assert(as_store_device_put(store, &dev, &error) == 1);
		test_assert(as_store_hierarchy_put(store, "u", *dp, 1,
						   &folders, &error) == 1);
		test_assert(as_store_hierarchy_put(store, "u", *dp, 2,
						   &folders, &error) == 1);
		test_assert(as_store_collection_put(store, "u", *dp, "1", 1,
						    &state, &error) == 1);
		test_assert(as_store_collection_put(store, "u", *dp, "7", 3,
						    &state, &error) == 1);
	}
	/* same device id, other user */
	dev.user = "v";
	dev.device_id = "D1";
	test_assert(as_store_device_put(store, &dev, &error) == 1);
	test_assert(as_store_hierarchy_put(store, "v", "D1", 1, &folders,
					   &error) == 1);
	test_assert(as_store_collection_put(store, "v", "D1", "1", 1,
					    &state, &error) == 1);

	test_assert(test_db_entries(store, AS_STORE_DB_HIERARCHY) == 7);
	test_assert(test_db_entries(store, AS_STORE_DB_COLLECTIONS) == 7);
	test_assert(as_store_device_remove(store, "u", "D1", &error) == 1);
	test_assert(test_db_entries(store, AS_STORE_DB_HIERARCHY) == 5);
	test_assert(test_db_entries(store, AS_STORE_DB_COLLECTIONS) == 5);

	test_assert(as_store_hierarchy_latest(store, "u", "D1", &sync_key,
					      &error) == 0 && sync_key == 0);
	test_assert(as_store_collection_latest(store, "u", "D1", "1",
					       &sync_key, &error) == 0);
	test_assert(as_store_collection_latest(store, "u", "D1", "7",
					       &sync_key, &error) == 0);
	/* neighbours untouched */
	test_assert(as_store_hierarchy_latest(store, "u", "D10", &sync_key,
					      &error) == 1 && sync_key == 2);
	test_assert(as_store_hierarchy_latest(store, "u", "D", &sync_key,
					      &error) == 1 && sync_key == 2);
	test_assert(as_store_collection_latest(store, "u", "D10", "7",
					       &sync_key, &error) == 1 &&
		    sync_key == 3);
	test_assert(as_store_collection_latest(store, "v", "D1", "1",
					       &sync_key, &error) == 1 &&
		    sync_key == 1);

	/* reset drops the states but keeps the device */
	test_assert(as_store_device_reset(store, "u", "D10", &error) == 1);
	test_assert(as_store_device_get(store, pool, "u", "D10", &dev,
					&error) == 1);
	test_assert(as_store_hierarchy_latest(store, "u", "D10", &sync_key,
					      &error) == 0);
	test_assert(as_store_collection_latest(store, "u", "D10", "7",
					       &sync_key, &error) == 0);
	test_assert(as_store_hierarchy_latest(store, "u", "D", &sync_key,
					      &error) == 1 && sync_key == 2);
	test_assert(test_db_entries(store, AS_STORE_DB_HIERARCHY) == 3);
	test_assert(test_db_entries(store, AS_STORE_DB_COLLECTIONS) == 3);

	/* removing an unknown device still drops stray states */
	test_assert(as_store_hierarchy_put(store, "u", "GHOST", 4, &folders,
					   &error) == 1);
	test_assert(as_store_device_remove(store, "u", "GHOST", &error) == 0);
	test_assert(as_store_hierarchy_latest(store, "u", "GHOST", &sync_key,
					      &error) == 0);
	test_end();

	as_store_close(&store);
	pool_unref(&pool);
}

static void test_store_folder_ids(void)
{
	const char *dir = test_store_dir();
	struct as_store *store = test_store_open_dir(dir, 0);
	guid_128_t g1, g2, g3, g;
	unsigned int id, i;
	const char *error;

	test_begin("store folder ids");
	guid_128_generate(g1);
	guid_128_generate(g2);
	guid_128_generate(g3);

	test_assert(as_store_folder_id_get(store, "u", g1, &id, &error) == 1 &&
		    id == 1);
	test_assert(as_store_folder_id_get(store, "u", g2, &id, &error) == 1 &&
		    id == 2);
	/* stable */
	test_assert(as_store_folder_id_get(store, "u", g1, &id, &error) == 1 &&
		    id == 1);
	test_assert(as_store_folder_id_get(store, "u", g2, &id, &error) == 1 &&
		    id == 2);
	/* per user counters */
	test_assert(as_store_folder_id_get(store, "w", g2, &id, &error) == 1 &&
		    id == 1);
	test_assert(as_store_folder_id_get(store, "u2", g3, &id, &error) == 1 &&
		    id == 1);

	/* reverse lookups */
	test_assert(as_store_folder_guid_get(store, "u", 1, g, &error) == 1 &&
		    guid_128_equals(g, g1));
	test_assert(as_store_folder_guid_get(store, "u", 2, g, &error) == 1 &&
		    guid_128_equals(g, g2));
	test_assert(as_store_folder_guid_get(store, "w", 1, g, &error) == 1 &&
		    guid_128_equals(g, g2));
	test_assert(as_store_folder_guid_get(store, "u", 3, g, &error) == 0 &&
		    guid_128_is_empty(g));
	test_assert(as_store_folder_guid_get(store, "u", 0, g, &error) == 0);
	test_assert(as_store_folder_guid_get(store, "nobody", 1, g,
					     &error) == 0);

	/* the counter survives reopening: ids are never handed out twice */
	as_store_close(&store);
	store = test_store_open_dir(dir, 0);
	test_assert(as_store_folder_id_get(store, "u", g3, &id, &error) == 1 &&
		    id == 3);
	test_assert(as_store_folder_id_get(store, "u", g1, &id, &error) == 1 &&
		    id == 1);
	/* many: sequential, and all reverse lookups agree */
	for (i = 0; i < 300; i++) {
		guid_128_generate(g);
		if (as_store_folder_id_get(store, "many", g, &id, &error) != 1 ||
		    id != i + 1) {
			test_assert_idx(FALSE, i);
			break;
		}
		if (as_store_folder_guid_get(store, "many", id, g1,
					     &error) != 1 ||
		    !guid_128_equals(g, g1)) {
			test_assert_idx(FALSE, i);
			break;
		}
	}
	test_assert(test_db_entries(store, AS_STORE_DB_FOLDER_IDS) ==
		    test_db_entries(store, AS_STORE_DB_FOLDER_GUIDS));
	test_end();
	as_store_close(&store);
}

static void test_store_hierarchy(void)
{
	struct as_store *store = test_store_open();
	pool_t pool = pool_alloconly_create("test hierarchy", 4096);
	ARRAY_TYPE(as_folder) folders, folders2, empty;
	const struct as_folder *f;
	struct as_folder *folder;
	const char *error;
	unsigned int sync_key, i, count;
	const char *names[] = { "Inbox", "Sent Items", "Ünïcödé/Sub" };

	test_begin("store hierarchy");
	p_array_init(&folders, pool, 4);
	for (i = 0; i < N_ELEMENTS(names); i++) {
		folder = array_append_space(&folders);
		folder->server_id = p_strdup_printf(pool, "%u", i + 1);
		folder->parent_id = i == 2 ? "1" : "0";
		folder->display_name = names[i];
		folder->type = i == 0 ? 2 : 12;
	}
	test_assert(as_store_hierarchy_latest(store, "u", "d", &sync_key,
					      &error) == 0 && sync_key == 0);
	test_assert(as_store_hierarchy_put(store, "u", "d", 1, &folders,
					   &error) == 1);
	array_delete(&folders, 1, 1);
	test_assert(as_store_hierarchy_put(store, "u", "d", 2, &folders,
					   &error) == 1);

	i_zero(&folders2);
	test_assert(as_store_hierarchy_get(store, pool, "u", "d", 1,
					   &folders2, &error) == 1);
	f = array_get(&folders2, &count);
	test_assert(count == 3);
	for (i = 0; i < count && i < N_ELEMENTS(names); i++) {
		test_assert_strcmp_idx(f[i].display_name, names[i], i);
		test_assert_idx(f[i].type == (i == 0 ? 2U : 12U), i);
		test_assert_strcmp_idx(f[i].server_id,
				       t_strdup_printf("%u", i + 1), i);
	}
	if (count == 3)
		test_assert_strcmp(f[2].parent_id, "1");

	test_assert(as_store_hierarchy_get(store, pool, "u", "d", 2,
					   &folders2, &error) == 1);
	f = array_get(&folders2, &count);
	test_assert(count == 2);
	if (count == 2) {
		test_assert_strcmp(f[0].display_name, "Inbox");
		test_assert_strcmp(f[1].display_name, names[2]);
	}
	test_assert(as_store_hierarchy_get(store, pool, "u", "d", 3,
					   &folders2, &error) == 0);
	test_assert(array_count(&folders2) == 0);
	test_assert(as_store_hierarchy_get(store, pool, "u", "d", 0,
					   &folders2, &error) == 0);
	test_assert(as_store_hierarchy_latest(store, "u", "d", &sync_key,
					      &error) == 1 && sync_key == 2);

	/* numeric, not string order: 300 > 256 > 2 */
	test_assert(as_store_hierarchy_put(store, "u", "d", 300, &folders,
					   &error) == 1);
	test_assert(as_store_hierarchy_put(store, "u", "d", 256, &folders,
					   &error) == 1);
	test_assert(as_store_hierarchy_latest(store, "u", "d", &sync_key,
					      &error) == 1 && sync_key == 300);
	test_assert(as_store_hierarchy_put(store, "u", "d", UINT32_MAX,
					   &folders, &error) == 1);
	test_assert(as_store_hierarchy_latest(store, "u", "d", &sync_key,
					      &error) == 1 &&
		    sync_key == UINT32_MAX);

	/* other devices: a prefix and an extension of "d" */
	test_assert(as_store_hierarchy_latest(store, "u", "", &sync_key,
					      &error) == 0);
	test_assert(as_store_hierarchy_latest(store, "u", "dd", &sync_key,
					      &error) == 0);
	test_assert(as_store_hierarchy_latest(store, "uu", "d", &sync_key,
					      &error) == 0);

	/* empty and not-created folder lists */
	i_zero(&empty);
	test_assert(as_store_hierarchy_put(store, "u", "e", 1, &empty,
					   &error) == 1);
	p_array_init(&empty, pool, 1);
	test_assert(as_store_hierarchy_put(store, "u", "e", 2, &empty,
					   &error) == 1);
	test_assert(as_store_hierarchy_get(store, pool, "u", "e", 1,
					   &folders2, &error) == 1 &&
		    array_count(&folders2) == 0);
	test_assert(as_store_hierarchy_get(store, pool, "u", "e", 2,
					   &folders2, &error) == 1 &&
		    array_count(&folders2) == 0);

	/* purge keeps keep_from and newer, only of this device */
	test_assert(test_db_entries(store, AS_STORE_DB_HIERARCHY) == 7);
	test_assert(as_store_hierarchy_purge(store, "u", "d", 1,
					     &error) == 1);
	test_assert(test_db_entries(store, AS_STORE_DB_HIERARCHY) == 7);
	test_assert(as_store_hierarchy_purge(store, "u", "d", 256,
					     &error) == 1);
	test_assert(test_db_entries(store, AS_STORE_DB_HIERARCHY) == 5);
	test_assert(as_store_hierarchy_get(store, pool, "u", "d", 2,
					   &folders2, &error) == 0);
	test_assert(as_store_hierarchy_get(store, pool, "u", "d", 256,
					   &folders2, &error) == 1 &&
		    array_count(&folders2) == 2);
	test_assert(as_store_hierarchy_latest(store, "u", "d", &sync_key,
					      &error) == 1 &&
		    sync_key == UINT32_MAX);
	test_assert(as_store_hierarchy_latest(store, "u", "e", &sync_key,
					      &error) == 1 && sync_key == 2);

	/* SyncKey 0 is not a state */
	error = NULL;
	test_assert(as_store_hierarchy_put(store, "u", "d", 0, &folders,
					   &error) == -1 && error != NULL);
	/* too long ids are an error, not a crash */
	error = NULL;
	test_assert(as_store_hierarchy_put(store, "u",
					   test_long_string(600), 1, &folders,
					   &error) == -1 && error != NULL);
	test_end();

	as_store_close(&store);
	pool_unref(&pool);
}

static void test_store_collection(void)
{
	struct as_store *store = test_store_open();
	pool_t pool = pool_alloconly_create("test collection", 4096);
	struct as_collection_state state, state2;
	ARRAY_TYPE(seq_range) bad;
	const char *error;
	unsigned int sync_key, i;

	test_begin("store collection");
	test_assert(as_store_collection_latest(store, "u", "d", "5",
					       &sync_key, &error) == 0 &&
		    sync_key == 0);
	for (i = 1; i <= 5; i++) {
		test_fill_state(&state, pool, i);
		test_assert_idx(as_store_collection_put(store, "u", "d", "5", i,
							&state, &error) == 1, i);
	}
	/* neighbouring collection ids */
	test_fill_state(&state, pool, 77);
	test_assert(as_store_collection_put(store, "u", "d", "50", 9,
					    &state, &error) == 1);
	test_assert(as_store_collection_put(store, "u", "d", "", 8,
					    &state, &error) == 1);

	for (i = 1; i <= 5; i++) {
		test_fill_state(&state, pool, i);
		test_assert_idx(as_store_collection_get(store, pool, "u", "d",
				"5", i, &state2, &error) == 1, i);
		test_assert_idx(test_state_equals(&state, &state2), i);
	}
	test_assert(as_store_collection_get(store, pool, "u", "d", "5", 6,
					    &state2, &error) == 0);
	test_assert(as_store_collection_get(store, pool, "u", "d", "5", 0,
					    &state2, &error) == 0);
	test_assert(as_store_collection_get(store, pool, "u", "e", "5", 1,
					    &state2, &error) == 0);
	test_assert(as_store_collection_latest(store, "u", "d", "5",
					       &sync_key, &error) == 1 &&
		    sync_key == 5);
	test_assert(as_store_collection_latest(store, "u", "d", "50",
					       &sync_key, &error) == 1 &&
		    sync_key == 9);
	test_assert(as_store_collection_latest(store, "u", "d", "",
					       &sync_key, &error) == 1 &&
		    sync_key == 8);

	/* overwrite one key */
	test_fill_state(&state, pool, 55);
	state.options = NULL;
	test_assert(as_store_collection_put(store, "u", "d", "5", 5,
					    &state, &error) == 1);
	test_assert(as_store_collection_get(store, pool, "u", "d", "5", 5,
					    &state2, &error) == 1);
	state.options = "";
	test_assert(test_state_equals(&state, &state2));

	/* purge keeps keep_from and newer */
	test_assert(as_store_collection_purge(store, "u", "d", "5", 4,
					      &error) == 1);
	for (i = 1; i <= 5; i++) {
		test_assert_idx(as_store_collection_get(store, pool, "u", "d",
				"5", i, &state2, &error) == (i >= 4 ? 1 : 0), i);
	}
	test_assert(as_store_collection_latest(store, "u", "d", "5",
					       &sync_key, &error) == 1 &&
		    sync_key == 5);
	/* purging below everything is a no-op */
	test_assert(as_store_collection_purge(store, "u", "d", "5", 1,
					      &error) == 1);
	test_assert(as_store_collection_purge(store, "u", "d", "5", 0,
					      &error) == 1);
	test_assert(as_store_collection_get(store, pool, "u", "d", "5", 4,
					    &state2, &error) == 1);
	/* purging above everything drops all */
	test_assert(as_store_collection_purge(store, "u", "d", "50", 100,
					      &error) == 1);
	test_assert(as_store_collection_latest(store, "u", "d", "50",
					       &sync_key, &error) == 0);

	/* reset */
	test_assert(as_store_collection_reset(store, "u", "d", "5",
					      &error) == 1);
	test_assert(as_store_collection_latest(store, "u", "d", "5",
					       &sync_key, &error) == 0);
	test_assert(as_store_collection_get(store, pool, "u", "d", "5", 5,
					    &state2, &error) == 0);
	test_assert(as_store_collection_reset(store, "u", "d", "5",
					      &error) == 1);
	test_assert(as_store_collection_latest(store, "u", "d", "",
					       &sync_key, &error) == 1 &&
		    sync_key == 8);

	/* state without a UID array */
	i_zero(&state);
	state.uid_validity = 1;
	test_assert(as_store_collection_put(store, "u", "d", "5", 1,
					    &state, &error) == 1);
	test_assert(as_store_collection_get(store, pool, "u", "d", "5", 1,
					    &state2, &error) == 1);
	test_assert(array_count(&state2.uids) == 0 &&
		    strcmp(state2.options, "") == 0 &&
		    state2.uid_validity == 1);

	/* invalid UID sets are refused, not stored */
	t_array_init(&bad, 2);
	array_push_back(&bad, &((struct seq_range){ 5, 9 }));
	array_push_back(&bad, &((struct seq_range){ 3, 4 }));
	state.uids = bad;
	error = NULL;
	test_assert(as_store_collection_put(store, "u", "d", "5", 2,
					    &state, &error) == -1 &&
		    error != NULL);
	array_clear(&bad);
	array_push_back(&bad, &((struct seq_range){ 0, 4 }));
	test_assert(as_store_collection_put(store, "u", "d", "5", 2,
					    &state, &error) == -1);
	test_assert(as_store_collection_get(store, pool, "u", "d", "5", 2,
					    &state2, &error) == 0);
	error = NULL;
	i_zero(&state);
	test_assert(as_store_collection_put(store, "u", "d", "5", 0,
					    &state, &error) == -1 &&
		    error != NULL);
	test_end();

	as_store_close(&store);
	pool_unref(&pool);
}

static void test_store_collection_purge_many(void)
{
	struct as_store *store = test_store_open();
	pool_t pool = pool_alloconly_create("test purge", 1024*64);
	struct as_collection_state state, state2;
	const char *error;
	unsigned int i, sync_key;

	test_begin("store collection purge over many pages");
	test_fill_state(&state, pool, 3);
	for (i = 1; i <= 3000; i++) {
		if (as_store_collection_put(store, "u", "d", "c", i, &state,
					    &error) != 1) {
			test_assert_idx(FALSE, i);
			break;
		}
	}
	test_assert(as_store_collection_put(store, "u", "d", "c2", 1, &state,
					    &error) == 1);
	test_assert(test_db_entries(store, AS_STORE_DB_COLLECTIONS) == 3001);
	test_assert(as_store_collection_purge(store, "u", "d", "c", 2999,
					      &error) == 1);
	test_assert(test_db_entries(store, AS_STORE_DB_COLLECTIONS) == 3);
	test_assert(as_store_collection_get(store, pool, "u", "d", "c", 2998,
					    &state2, &error) == 0);
	test_assert(as_store_collection_get(store, pool, "u", "d", "c", 2999,
					    &state2, &error) == 1);
	test_assert(as_store_collection_latest(store, "u", "d", "c",
					       &sync_key, &error) == 1 &&
		    sync_key == 3000);
	test_assert(as_store_collection_latest(store, "u", "d", "c2",
					       &sync_key, &error) == 1 &&
		    sync_key == 1);
	test_end();

	as_store_close(&store);
	pool_unref(&pool);
}

static void test_store_collection_advance(void)
{
	struct as_store *store = test_store_open();
	pool_t pool = pool_alloconly_create("test advance", 1024*16);
	struct as_collection_state state, state2;
	const char *error;
	unsigned int i, sync_key;

	test_begin("store collection advance (put and purge in one commit)");
	test_fill_state(&state, pool, 3);
	test_assert(as_store_collection_advance(store, "u", "d", "a", 1,
						&state, 0, &error) == 1);
	/* like Sync: store key i, keep i-1 for a replay */
	for (i = 2; i <= 5; i++) {
		test_assert_idx(as_store_collection_advance(store, "u", "d",
			"a", i, &state, i - 1, &error) == 1, i);
	}
	test_assert(test_db_entries(store, AS_STORE_DB_COLLECTIONS) == 2);
	test_assert(as_store_collection_get(store, pool, "u", "d", "a", 3,
					    &state2, &error) == 0);
	test_assert(as_store_collection_get(store, pool, "u", "d", "a", 4,
					    &state2, &error) == 1);
	test_assert(as_store_collection_latest(store, "u", "d", "a",
					       &sync_key, &error) == 1 &&
		    sync_key == 5);
	/* an invalid state fails and deletes nothing */
	test_assert(as_store_collection_advance(store, "u", "d", "a", 0,
						&state, 5, &error) == -1);
	test_assert(test_db_entries(store, AS_STORE_DB_COLLECTIONS) == 2);
	test_end();

	as_store_close(&store);
	pool_unref(&pool);
}

static void test_store_big_uid_sets(void)
{
	struct as_store *store = test_store_open();
	pool_t pool = pool_alloconly_create("test big uids", 1024*1024);
	struct as_collection_state state, state2;
	const char *error;
	uint32_t uid;

	test_begin("store big UID sets");
	/* 100k UIDs in 1000 ranges of 100 with gaps */
	i_zero(&state);
	state.uid_validity = 7;
	state.options = "";
	p_array_init(&state.uids, pool, 1024);
	for (uid = 1; uid < 200000; uid += 200)
		seq_range_array_add_range(&state.uids, uid, uid + 99);
	test_assert(seq_range_count(&state.uids) == 100000);
	test_assert(array_count(&state.uids) == 1000);
	state.uid_next = 200001;
	test_assert(as_store_collection_put(store, "u", "d", "1", 1, &state,
					    &error) == 1);
	test_assert(as_store_collection_get(store, pool, "u", "d", "1", 1,
					    &state2, &error) == 1);
	test_assert(test_state_equals(&state, &state2));
	test_assert(seq_range_count(&state2.uids) == 100000);

	/* one range of 100k */
	array_clear(&state.uids);
	seq_range_array_add_range(&state.uids, 1, 100000);
	test_assert(as_store_collection_put(store, "u", "d", "1", 2, &state,
					    &error) == 1);
	test_assert(as_store_collection_get(store, pool, "u", "d", "1", 2,
					    &state2, &error) == 1);
	test_assert(test_state_equals(&state, &state2) &&
		    array_count(&state2.uids) == 1);

	/* sparse: 10k single UIDs */
	array_clear(&state.uids);
	for (uid = 3; uid < 3 + 10000 * 7; uid += 7)
		seq_range_array_add(&state.uids, uid);
	test_assert(array_count(&state.uids) == 10000);
	test_assert(as_store_collection_put(store, "u", "d", "1", 3, &state,
					    &error) == 1);
	test_assert(as_store_collection_get(store, pool, "u", "d", "1", 3,
					    &state2, &error) == 1);
	test_assert(test_state_equals(&state, &state2));
	test_assert(seq_range_exists(&state2.uids, 3 + 9999 * 7));
	test_assert(!seq_range_exists(&state2.uids, 4));

	/* UIDs near the top of the range */
	array_clear(&state.uids);
	seq_range_array_add_range(&state.uids, 1, 5);
	seq_range_array_add_range(&state.uids, UINT32_MAX - 10, UINT32_MAX);
	test_assert(as_store_collection_put(store, "u", "d", "1", 4, &state,
					    &error) == 1);
	test_assert(as_store_collection_get(store, pool, "u", "d", "1", 4,
					    &state2, &error) == 1);
	test_assert(test_state_equals(&state, &state2));
	test_end();

	as_store_close(&store);
	pool_unref(&pool);
}

/* Every strict prefix of a valid record, a record with extra bytes and a
   future version must all be refused with an error. */
typedef int test_decode_func_t(const void *data, size_t size, pool_t pool,
			       const char **error_r);

static int test_decode_device(const void *data, size_t size, pool_t pool,
			      const char **error_r)
{
	struct as_device dev;

	i_zero(&dev);
	return as_store_device_decode(data, size, pool, &dev, error_r);
}

static int test_decode_hierarchy(const void *data, size_t size, pool_t pool,
				 const char **error_r)
{
	ARRAY_TYPE(as_folder) folders;

	p_array_init(&folders, pool, 4);
	return as_store_hierarchy_decode(data, size, pool, &folders, error_r);
}

static int test_decode_collection(const void *data, size_t size, pool_t pool,
				  const char **error_r)
{
	struct as_collection_state state;

	i_zero(&state);
	p_array_init(&state.uids, pool, 4);
	return as_store_collection_decode(data, size, pool, &state, error_r);
}

static void test_decode_damaged(const char *name, const buffer_t *valid,
				test_decode_func_t *decode)
{
	pool_t pool = pool_alloconly_create("test decode", 4096);
	buffer_t *buf = t_buffer_create(valid->used + 16);
	const char *error;
	unsigned char *p;
	size_t i, j;
	int ret;

	error = NULL;
	test_assert(decode(valid->data, valid->used, pool, &error) == 0);
	test_assert(error == NULL);
	for (i = 0; i < valid->used; i++) {
		error = NULL;
		ret = decode(valid->data, i, pool, &error);
		if (ret != -1 || error == NULL) {
			test_assert_idx(FALSE, i);
			i_error("%s: truncated record at %zu accepted",
				name, i);
			break;
		}
	}
	buffer_append_buf(buf, valid, 0, SIZE_MAX);
	buffer_append_c(buf, 0);
	test_assert(decode(buf->data, buf->used, pool, &error) == -1);

	p = buffer_get_modifiable_data(buf, NULL);
	p[0] = 0xff; /* a future version */
	test_assert(decode(buf->data, buf->used - 1, pool, &error) == -1);
	test_assert(strstr(error, "version") != NULL);
	p[0] = 0;
	test_assert(decode(buf->data, buf->used - 1, pool, &error) == -1);

	/* random garbage behind a valid version byte: must not crash */
	for (i = 0; i < 2000; i++) {
		size_t size = test_rand() % (valid->used + 8) + 1;

		buffer_set_used_size(buf, 0);
		buffer_append_c(buf, 1);
		for (j = 1; j < size; j++)
			buffer_append_c(buf, test_rand() & 0xff);
		(void)decode(buf->data, buf->used, pool, &error);
		p_clear(pool);
	}
	/* flipping bytes of a valid record must not crash either */
	for (i = 0; i < valid->used; i++) {
		buffer_set_used_size(buf, 0);
		buffer_append_buf(buf, valid, 0, SIZE_MAX);
		p = buffer_get_modifiable_data(buf, NULL);
		p[i] ^= 0xa5;
		(void)decode(buf->data, buf->used, pool, &error);
		p_clear(pool);
	}
	pool_unref(&pool);
}

/* Records written before the device record had DeviceInformation
   details and admin state (version 1) still read. */
static void test_store_device_record_v1(void)
{
	struct as_device dev;
	const char *error = NULL;
	buffer_t *buf;
	pool_t pool;

	test_begin("store device record version 1 still reads");
	buf = t_buffer_create(128);
	as_record_write_version(buf, 1);
	as_record_write_str(buf, "iPhone");
	as_record_write_str(buf, "model");
	as_record_write_str(buf, "iOS 17");
	as_record_write_str(buf, "ua");
	as_record_write_str(buf, "16.1");
	as_record_write_u64(buf, 100);
	as_record_write_u64(buf, 200);
	as_record_write_u32(buf, 42);
	as_record_write_u32(buf, 0);
	as_record_write_str(buf, "1,2");
	as_record_write_u32(buf, 480);
	pool = pool_alloconly_create("test", 1024);
	i_zero(&dev);
	test_assert(as_store_device_decode(buf->data, buf->used, pool, &dev,
					   &error) == 0);
	test_assert_strcmp(dev.device_type, "iPhone");
	test_assert_strcmp(dev.os, "iOS 17");
	test_assert(dev.last_seen == 200 && dev.policy_key == 42);
	test_assert(dev.ping_heartbeat == 480);
	test_assert_strcmp(dev.imei, "");
	test_assert(dev.access == AS_DEVICE_ACCESS_UNSET);
	pool_unref(&pool);
	test_end();
}

static void test_store_record_decode(void)
{
	struct as_device dev;
	struct as_collection_state state;
	ARRAY_TYPE(as_folder) folders;
	struct as_folder *folder;
	buffer_t *buf;

	test_begin("store record decoding rejects damage");
	i_zero(&dev);
	dev.user = "u";
	dev.device_id = "d";
	dev.device_type = "t";
	dev.model = "m";
	dev.ping_folders = "1,2";
	buf = t_buffer_create(128);
	as_store_device_encode(buf, &dev);
	test_decode_damaged("device", buf, test_decode_device);

	t_array_init(&folders, 2);
	folder = array_append_space(&folders);
	folder->server_id = "1";
	folder->parent_id = "0";
	folder->display_name = "Inbox";
	folder->type = 2;
	folder = array_append_space(&folders);
	folder->server_id = "2";
	folder->parent_id = "1";
	folder->display_name = "Sub";
	folder->type = 12;
	buf = t_buffer_create(128);
	as_store_hierarchy_encode(buf, &folders);
	test_decode_damaged("hierarchy", buf, test_decode_hierarchy);

	i_zero(&state);
	t_array_init(&state.uids, 4);
	seq_range_array_add_range(&state.uids, 1, 10);
	seq_range_array_add_range(&state.uids, 20, 30);
	state.options = "x";
	buf = t_buffer_create(128);
	as_store_collection_encode(buf, &state);
	test_decode_damaged("collection", buf, test_decode_collection);

	/* a huge count in a tiny record must fail without allocating */
	buf = t_buffer_create(32);
	buffer_append_c(buf, 1);
	buffer_append(buf, "\xff\xff\xff\xff", 4);
	test_assert(test_decode_hierarchy(buf->data, buf->used,
					  pool_datastack_create(), &dev.user) < 0);
	test_end();
}

static void test_store_corrupted(void)
{
	struct as_store *store = test_store_open();
	pool_t pool = pool_alloconly_create("test corrupted", 4096);
	ARRAY_TYPE(as_folder) folders;
	struct as_collection_state state;
	struct as_device dev;
	ARRAY_TYPE(const_string) ids;
	ARRAY_TYPE(as_device) devs;
	guid_128_t guid, guid2;
	const char *error;
	buffer_t *key;
	unsigned int id;
	static const unsigned char garbage[] = {
		0x01, 0xff, 0xff, 0x00, 0x13, 0x37
	};

	test_begin("store corrupted records");
	i_zero(&folders);
	i_zero(&dev);
	dev.user = "u";
	dev.device_id = "d";
	test_assert(as_store_device_put(store, &dev, &error) == 1);
	key = as_store_key_device("u", "d");
	test_raw_put(store, AS_STORE_DB_DEVICES, key, garbage,
		     sizeof(garbage));
	error = NULL;
	test_assert(as_store_device_get(store, pool, "u", "d", &dev,
					&error) == -1);
	test_assert(error != NULL && strstr(error, "Corrupted") != NULL);
	error = NULL;
	i_zero(&ids);
	test_assert(as_store_device_list(store, pool, "u", &ids, &error) == 1);
	i_zero(&devs);
	test_assert(as_store_device_list_full(store, pool, "u", &devs,
					      &error) == -1 && error != NULL);
	/* a corrupted record can still be removed */
	test_assert(as_store_device_remove(store, "u", "d", &error) == 1);

	key = as_store_key_device("u", "d");
	as_store_key_add_u32(key, 1);
	test_raw_put(store, AS_STORE_DB_HIERARCHY, key, garbage,
		     sizeof(garbage));
	error = NULL;
	test_assert(as_store_hierarchy_get(store, pool, "u", "d", 1, &folders,
					   &error) == -1 && error != NULL);
	/* empty value */
	test_raw_put(store, AS_STORE_DB_HIERARCHY, key, "", 0);
	error = NULL;
	test_assert(as_store_hierarchy_get(store, pool, "u", "d", 1, &folders,
					   &error) == -1 && error != NULL);

	key = as_store_key_device("u", "d");
	as_store_key_add_str(key, "c");
	as_store_key_add_u32(key, 1);
	test_raw_put(store, AS_STORE_DB_COLLECTIONS, key, garbage,
		     sizeof(garbage));
	error = NULL;
	test_assert(as_store_collection_get(store, pool, "u", "d", "c", 1,
					    &state, &error) == -1 &&
		    error != NULL);
	test_assert(array_count(&state.uids) == 0);

	/* folder maps */
	guid_128_generate(guid);
	test_assert(as_store_folder_id_get(store, "u", guid, &id, &error) == 1);
	key = as_store_key_new();
	as_store_key_add_str(key, "u");
	as_store_key_add_u32(key, id);
	test_raw_put(store, AS_STORE_DB_FOLDER_GUIDS, key, garbage,
		     sizeof(garbage));
	error = NULL;
	test_assert(as_store_folder_guid_get(store, "u", id, guid2,
					     &error) == -1 && error != NULL);

	key = as_store_key_new();
	as_store_key_add_str(key, "u");
	buffer_append(key, guid, GUID_128_SIZE);
	test_raw_put(store, AS_STORE_DB_FOLDER_IDS, key, "\x01\0\0\0\0", 5);
	error = NULL;
	test_assert(as_store_folder_id_get(store, "u", guid, &id,
					   &error) == -1 && error != NULL);

	key = as_store_key_new();
	as_store_key_add_str(key, "u");
	test_raw_put(store, AS_STORE_DB_FOLDER_NEXT, key, garbage, 3);
	guid_128_generate(guid);
	error = NULL;
	test_assert(as_store_folder_id_get(store, "u", guid, &id,
					   &error) == -1 && error != NULL);
	test_end();

	as_store_close(&store);
	pool_unref(&pool);
}

static void test_store_map_growth(void)
{
	const char *dir = test_store_dir();
	struct as_store *store;
	pool_t pool = pool_alloconly_create("test map", 1024*1024);
	struct as_collection_state state, state2;
	const char *error;
	unsigned int i, sync_key;
	uint32_t uid;
	MDB_envinfo info;

	test_begin("store map growth");
	/* 64 KiB: a few records fill it */
	store = test_store_open_dir(dir, 64 * 1024);
	i_zero(&state);
	state.options = "";
	p_array_init(&state.uids, pool, 2048);
	for (uid = 1; uid < 2 * 2000; uid += 2)
		seq_range_array_add(&state.uids, uid);
	/* 2000 ranges = 16 KB per record, 100 records = 1.6 MB */
	for (i = 1; i <= 100; i++) {
		state.uid_validity = i;
		if (as_store_collection_put(store, "u", "d", "c", i, &state,
					    &error) != 1) {
			i_error("put %u: %s", i, error);
			test_assert_idx(FALSE, i);
			break;
		}
	}
	test_assert(store->map_grow_count >= 4);
	test_assert(mdb_env_info(store->env, &info) == 0 &&
		    info.me_mapsize >= 1024 * 1024);
	for (i = 1; i <= 100; i++) {
		state.uid_validity = i;
		test_assert_idx(as_store_collection_get(store, pool, "u", "d",
				"c", i, &state2, &error) == 1 &&
				test_state_equals(&state, &state2), i);
	}

	/* a record far larger than a few doublings fails cleanly ... */
	as_store_close(&store);
	dir = test_store_dir();
	store = test_store_open_dir(dir, 64 * 1024);
	array_clear(&state.uids);
	for (uid = 1; uid < 2 * 200000; uid += 2)
		seq_range_array_add(&state.uids, uid);
	error = NULL;
	test_assert(as_store_collection_put(store, "u", "d", "c", 1, &state,
					    &error) == -1);
	test_assert(error != NULL && strstr(error, "MDB_MAP_FULL") != NULL);
	test_assert(as_store_collection_latest(store, "u", "d", "c",
					       &sync_key, &error) == 0);
	/* ... and the next try continues growing and succeeds */
	test_assert(as_store_collection_put(store, "u", "d", "c", 1, &state,
					    &error) == 1);
	test_assert(as_store_collection_get(store, pool, "u", "d", "c", 1,
					    &state2, &error) == 1 &&
		    test_state_equals(&state, &state2));
	as_store_close(&store);

	/* reopening with a too small map_size still sees all data */
	store = test_store_open_dir(dir, 64 * 1024);
	test_assert(as_store_collection_get(store, pool, "u", "d", "c", 1,
					    &state2, &error) == 1 &&
		    test_state_equals(&state, &state2));
	as_store_close(&store);
	test_end();
	pool_unref(&pool);
}

/* A map bounded by max_map_size fills with a clear error that names the
   limit, keeps what was stored, and a store whose data outgrew a lower
   limit refuses to open instead of failing later. */
static void test_store_itemuid_history(void)
{
	struct as_store *store = test_store_open();
	pool_t pool = pool_alloconly_create("itemuid", 1024);
	guid_128_t g1, g2;
	ARRAY_TYPE(uint32_t) uids;
	struct as_store_itemuid_update upd[3];
	const char *error;
	unsigned int i;

	test_begin("store item uid history");
	guid_128_generate(g1);
	guid_128_generate(g2);
	test_assert(as_store_itemuid_get(store, pool, "u", g1, "x", &uids,
					 &error) == 0 &&
		    array_count(&uids) == 0);
	upd[0] = (struct as_store_itemuid_update){ "x", 5 };
	upd[1] = (struct as_store_itemuid_update){ "y@example.org", 6 };
	upd[2] = (struct as_store_itemuid_update){ "x", 9 };
	test_assert(as_store_itemuid_record(store, "u", g1, upd, 3,
					    &error) == 0);
	test_assert(as_store_itemuid_get(store, pool, "u", g1, "x", &uids,
					 &error) == 1 &&
		    array_count(&uids) == 2 &&
		    *array_idx(&uids, 0) == 5 &&
		    *array_idx(&uids, 1) == 9);
	/* recording a UID again changes nothing */
	test_assert(as_store_itemuid_record(store, "u", g1, upd, 1,
					    &error) == 0);
	test_assert(as_store_itemuid_get(store, pool, "u", g1, "x", &uids,
					 &error) == 1 &&
		    array_count(&uids) == 2);
	/* other folders and users are apart */
	test_assert(as_store_itemuid_get(store, pool, "u", g2, "x", &uids,
					 &error) == 0);
	test_assert(as_store_itemuid_get(store, pool, "v", g1, "x", &uids,
					 &error) == 0);
	/* the history keeps the newest UIDs only */
	for (i = 0; i < 20; i++) {
		upd[0] = (struct as_store_itemuid_update){ "y@example.org",
							   100 + i };
		test_assert_idx(as_store_itemuid_record(store, "u", g1, upd,
							1, &error) == 0, i);
	}
	test_assert(as_store_itemuid_get(store, pool, "u", g1,
					 "y@example.org", &uids,
					 &error) == 1 &&
		    array_count(&uids) == AS_STORE_ITEMUID_HISTORY_MAX &&
		    *array_idx(&uids, 0) ==
			120 - AS_STORE_ITEMUID_HISTORY_MAX &&
		    *array_idx(&uids, AS_STORE_ITEMUID_HISTORY_MAX - 1) ==
			119);
	test_assert(as_store_itemuid_record(store, "u", g1, upd, 0,
					    &error) == 0);
	as_store_close(&store);
	pool_unref(&pool);
	test_end();
}

static void test_store_gal(void)
{
	struct as_store *store = test_store_open();
	pool_t pool = pool_alloconly_create("gal", 4096);
	struct as_gal_entry entries[3], contacts[3];
	struct as_gal_folder_state state;
	struct as_gal_update_stats stats;
	struct as_gal_info info;
	ARRAY_TYPE(as_gal_entry) results;
	ARRAY_TYPE(const_string) users, folders;
	const struct as_gal_entry *e;
	const char *removed[] = { "anna@example.com", "carl@example.com" };
	const char *guid = "0123456789abcdef0123456789abcdef";
	buffer_t *photo;
	unsigned int total;
	const char *error;

	test_begin("store gal");
	test_assert(as_store_gal_info(store, &info, &error) == 0);
	i_zero(&entries);
	entries[0].user = "anna@example.com";
	entries[0].display_name = "Anna Smith";
	entries[0].email = "anna@example.com";
	entries[0].phone = "+1 555 0100";
	entries[1].user = "bob";
	entries[1].display_name = "Bob Smithers";
	entries[1].email = "bob@example.com";
	entries[2].user = "carl@example.com";
	entries[2].display_name = "Carl \xc3\x96""berg";
	entries[2].email = "carl@example.com";
	test_assert(as_store_gal_update_users(store, entries, 3, NULL, 0,
					      TRUE, TRUE, 1000, 3, &stats,
					      &error) == 0);
	test_assert(stats.added == 3);
	test_assert(as_store_gal_info(store, &info, &error) == 1 &&
		    info.refreshed == 1000 && info.full_refreshed == 1000 &&
		    info.users == 3);

	/* a word of the name, both users, each once */
	test_assert(as_store_gal_search(store, pool, "smith", NULL, 0, 10,
					100, &results, &total, &error) == 0);
	test_assert(total == 2 && array_count(&results) == 2);
	e = array_idx(&results, 0);
	test_assert_strcmp(e->display_name, "Anna Smith");
	test_assert_strcmp(e->user, "anna@example.com");
	test_assert_strcmp(e->phone, "+1 555 0100");
	test_assert(e->company == NULL);
	/* the address, its local part, UTF-8 lowercased */
	test_assert(as_store_gal_search(store, pool, "bob@", NULL, 0, 10, 100,
					&results, &total, &error) == 0 &&
		    total == 1);
	test_assert(as_store_gal_search(store, pool, "\xc3\xb6""b", NULL, 0,
					10, 100, &results, &total,
					&error) == 0 && total == 1);
	test_assert(as_store_gal_search(store, pool, "anna sm", NULL, 0, 10,
					100, &results, &total, &error) == 0 &&
		    total == 1);
	/* a page */
	test_assert(as_store_gal_search(store, pool, "", NULL, 1, 1, 100,
					&results, &total, &error) == 0 &&
		    total == 3 && array_count(&results) == 1);
	test_assert(as_store_gal_search(store, pool, "zz", NULL, 0, 10, 100,
					&results, &total, &error) == 0 &&
		    total == 0 && array_count(&results) == 0);

	/* incremental: two users go, one changes, one stays untouched */
	entries[1].title = "Boss";
	test_assert(as_store_gal_update_users(store, entries + 1, 1, removed,
					      2, FALSE, FALSE, 2000, 1,
					      &stats, &error) == 0);
	test_assert(stats.removed == 2 && stats.changed == 1 &&
		    stats.added == 0);
	test_assert(as_store_gal_update_users(store, entries + 1, 1, NULL, 0,
					      FALSE, FALSE, 2001, 1,
					      &stats, &error) == 0);
	test_assert(stats.unchanged == 1 && stats.changed == 0);
	test_assert(as_store_gal_search(store, pool, "smith", NULL, 0, 10,
					100, &results, &total, &error) == 0 &&
		    total == 1);
	test_assert(as_store_gal_search(store, pool, "carl", NULL, 0, 10, 100,
					&results, &total, &error) == 0 &&
		    total == 0);
	test_assert(as_store_gal_info(store, &info, &error) == 1 &&
		    info.refreshed == 2001 && info.full_refreshed == 1000 &&
		    info.users == 1);
	test_assert(as_store_gal_users(store, pool, &users, &error) == 0 &&
		    array_count(&users) == 1 &&
		    strcmp(array_idx_elem(&users, 0), "bob") == 0);

	/* a GAL folder's contacts: only found where the folder is allowed,
	   one entry per address (the user before the card) */
	i_zero(&contacts);
	photo = buffer_create_dynamic(pool, 16);
	buffer_append(photo, "\xff\xd8jpeg", 6);
	contacts[0].folder_guid = guid;
	contacts[0].uid = 1;
	contacts[0].display_name = "Dora Smith";
	contacts[0].email = "dora@example.org";
	contacts[0].photo = photo;
	contacts[1].folder_guid = guid;
	contacts[1].uid = 2;
	contacts[1].display_name = "Bob at home";
	contacts[1].email = "BOB@example.com";
	contacts[2].folder_guid = guid;
	contacts[2].uid = 3;
	contacts[2].display_name = "Sales";
	contacts[2].email = "sales@example.org";
	contacts[2].group = TRUE;
	i_zero(&state);
	state.uidvalidity = 7;
	state.highest_modseq = 9;
	test_assert(as_store_gal_folder_replace(store, guid, &state,
						contacts, 3, &error) == 0);
	test_assert(as_store_gal_folder_state(store, guid, &state,
					      &error) == 1 &&
		    state.uidvalidity == 7 && state.highest_modseq == 9 &&
		    state.count == 3);
	test_assert(as_store_gal_search(store, pool, "smith", NULL, 0, 10,
					100, &results, &total, &error) == 0 &&
		    total == 1);
	t_array_init(&folders, 1);
	array_push_back(&folders, &guid);
	test_assert(as_store_gal_search(store, pool, "smith", &folders, 0, 10,
					100, &results, &total, &error) == 0 &&
		    total == 2);
	test_assert(as_store_gal_search(store, pool, "dora", &folders, 0, 10,
					100, &results, &total, &error) == 0 &&
		    total == 1);
	e = array_idx(&results, 0);
	test_assert(e->user == NULL && e->uid == 1 && e->has_photo &&
		    strcmp(e->folder_guid, guid) == 0);
	test_assert(as_store_gal_photo(store, pool, e, &photo, &error) == 1 &&
		    photo->used == 6);
	test_assert(as_store_gal_search(store, pool, "bob", &folders, 0, 10,
					100, &results, &total, &error) == 0 &&
		    total == 1);
	e = array_idx(&results, 0);
	test_assert_strcmp(e->user, "bob");
	test_assert(as_store_gal_search(store, pool, "sales", &folders, 0, 10,
					100, &results, &total, &error) == 0 &&
		    total == 1);
	e = array_idx(&results, 0);
	test_assert(e->group);
	/* read again: the old cards go */
	test_assert(as_store_gal_folder_replace(store, guid, &state,
						contacts + 2, 1,
						&error) == 0);
	test_assert(as_store_gal_search(store, pool, "dora", &folders, 0, 10,
					100, &results, &total, &error) == 0 &&
		    total == 0);
	test_assert(as_store_gal_photo(store, pool, &contacts[0], &photo,
				       &error) == 0);
	as_store_close(&store);
	pool_unref(&pool);
	test_end();
}

static void test_store_map_limit(void)
{
	const char *dir = test_store_dir();
	struct as_store_settings set = {
		.dir = dir,
		.map_size = 64 * 1024,
		.max_map_size = 256 * 1024,
		.max_map_size_source = "the test's limit",
	};
	pool_t pool = pool_alloconly_create("map limit", 1024*256);
	struct as_collection_state state, state2;
	struct as_store *store;
	const char *error = NULL;
	unsigned int i, stored = 0;
	uint32_t uid;
	size_t map_size;
	uoff_t file_size;

	test_begin("store map limit");
	test_assert(as_store_open(&set, &store, &error) == 0);
	i_zero(&state);
	state.options = "";
	p_array_init(&state.uids, pool, 2048);
	for (uid = 1; uid < 2 * 2000; uid += 2)
		seq_range_array_add(&state.uids, uid);
	/* 16 KB records: 256 KiB holds about a dozen */
	for (i = 1; i <= 100; i++) {
		state.uid_validity = i;
		if (as_store_collection_put(store, "u", "d", "c", i, &state,
					    &error) != 1)
			break;
		stored = i;
	}
	test_assert(stored > 0 && stored < 100);
	test_assert(error != NULL &&
		    strstr(error, "the most it may use (the test's limit)") != NULL);
	as_store_get_sizes(store, &map_size, &file_size);
	test_assert(map_size == 256 * 1024);
	/* what was stored before the map filled is all there */
	for (i = 1; i <= stored; i++) {
		state.uid_validity = i;
		test_assert_idx(as_store_collection_get(store, pool, "u", "d",
				"c", i, &state2, &error) == 1 &&
				test_state_equals(&state, &state2), i);
	}
	as_store_close(&store);

	/* the data no longer fits a lower limit: refused at open */
	set.max_map_size = 64 * 1024;
	error = NULL;
	test_assert(as_store_open(&set, &store, &error) < 0 && store == NULL);
	test_assert(error != NULL && strstr(error, "holds") != NULL &&
		    strstr(error, "the test's limit") != NULL);
	/* and opens again with room */
	set.max_map_size = 0;
	test_assert(as_store_open(&set, &store, &error) == 0);
	as_store_close(&store);

	/* a data file that isn't LMDB: a message that says what to do */
	dir = test_store_dir();
	if (mkdir_parents(dir, 0700) < 0)
		i_fatal("mkdir(%s) failed: %m", dir);
	{
		int fd = open(t_strconcat(dir, "/data.mdb", NULL),
			      O_WRONLY | O_CREAT, 0600);
		char junk[8192];

		memset(junk, 'x', sizeof(junk));
		if (fd == -1 || write(fd, junk, sizeof(junk)) != sizeof(junk))
			i_fatal("write(%s/data.mdb) failed: %m", dir);
		i_close_fd(&fd);
	}
	set.dir = dir;
	error = NULL;
	test_assert(as_store_open(&set, &store, &error) < 0);
	test_assert(error != NULL && strstr(error, "move the directory away") != NULL);
	test_end();
	pool_unref(&pool);
}

/* The child process: open its own handle, verify the parent's write,
   write enough to grow the map, and answer with a device and a folder id.
   Returns the number of failed checks. */
static int test_store_child(const char *dir, const guid_128_t guid)
{
	pool_t pool = pool_alloconly_create("child", 1024*256);
	struct as_collection_state state;
	struct as_store *store;
	struct as_device dev;
	const char *error;
	unsigned int i, id, failures = 0;
	uint32_t uid;

	store = test_store_open_dir(dir, 64 * 1024);
	if (as_store_device_get(store, pool, "u", "parent", &dev,
				&error) != 1 ||
	    strcmp(dev.model, "from parent") != 0)
		failures++;

	i_zero(&state);
	state.options = "";
	p_array_init(&state.uids, pool, 2048);
	for (uid = 1; uid < 2 * 2000; uid += 2)
		seq_range_array_add(&state.uids, uid);
	for (i = 1; i <= 40; i++) {
		if (as_store_collection_put(store, "u", "child", "c", i,
					    &state, &error) != 1)
			failures++;
	}
	if (store->map_grow_count == 0)
		failures++;

	i_zero(&dev);
	dev.user = "u";
	dev.device_id = "child";
	dev.model = "from child";
	if (as_store_device_put(store, &dev, &error) != 1)
		failures++;
	if (as_store_folder_id_get(store, "u", guid, &id, &error) != 1 ||
	    id != 2)
		failures++;
	as_store_close(&store);
	pool_unref(&pool);
	return failures;
}

static void test_store_two_processes(void)
{
	const char *dir = test_store_dir();
	pool_t pool = pool_alloconly_create("test two", 4096);
	struct as_store *store;
	struct as_device dev;
	guid_128_t g1, g2, g;
	const char *error;
	unsigned int id, sync_key;
	int status;
	pid_t pid;

	test_begin("store shared by two processes");
	store = test_store_open_dir(dir, 64 * 1024);
	i_zero(&dev);
	dev.user = "u";
	dev.device_id = "parent";
	dev.model = "from parent";
	test_assert(as_store_device_put(store, &dev, &error) == 1);
	guid_128_generate(g1);
	guid_128_generate(g2);
	test_assert(as_store_folder_id_get(store, "u", g1, &id, &error) == 1 &&
		    id == 1);

	/* a fresh process image (like doveadm next to the service): LMDB
	   environments must not be used across fork() */
	pid = fork();
	if (pid < 0)
		i_fatal("fork() failed: %m");
	if (pid == 0) {
		execl(test_argv0, test_argv0, "child", dir,
		      guid_128_to_string(g2), NULL);
		i_fatal("execl(%s) failed: %m", test_argv0);
	}
	if (waitpid(pid, &status, 0) < 0)
		i_fatal("waitpid() failed: %m");
	test_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	/* the child grew the map beyond ours: our handle must adopt it */
	test_assert(as_store_device_get(store, pool, "u", "child", &dev,
					&error) == 1);
	test_assert_strcmp(dev.model, "from child");
	test_assert(as_store_folder_guid_get(store, "u", 2, g, &error) == 1 &&
		    guid_128_equals(g, g2));
	test_assert(as_store_folder_id_get(store, "u", g2, &id, &error) == 1 &&
		    id == 2);
	test_assert(as_store_collection_latest(store, "u", "child", "c",
					       &sync_key, &error) == 1 &&
		    sync_key == 40);
	/* and we can still write */
	guid_128_generate(g);
	test_assert(as_store_folder_id_get(store, "u", g, &id, &error) == 1 &&
		    id == 3);
	test_end();

	as_store_close(&store);
	pool_unref(&pool);
}

/* Admin state (device properties) and ABQ rules */
static void test_store_device_admin_and_rules(void)
{
	struct as_store *store = test_store_open();
	pool_t pool = pool_alloconly_create("test", 1024);
	ARRAY_TYPE(as_abq_rule) rules;
	const struct as_abq_rule *r;
	struct as_abq_rule rule;
	struct as_device dev, dev2;
	const char *error, *value;
	uint32_t id1, id2, id3;

	test_begin("store device admin state and ABQ rules");
	i_zero(&rules);
	i_zero(&dev);
	dev.user = "alice";
	dev.device_id = "DEV1";
	dev.access = AS_DEVICE_ACCESS_QUARANTINE;
	dev.quarantine_notified = TRUE;
	dev.imei = "123";
	test_assert(as_store_device_put(store, &dev, &error) == 1);
	dev.access_override = AS_DEVICE_ACCESS_BLOCK;
	dev.debug = TRUE;
	dev.wipe = AS_DEVICE_WIPE_ACCOUNT_PENDING;
	dev.wipe_requested = 1700000000;
	test_assert(as_store_device_admin_write(store, &dev, &error) == 0);
	/* the service's record write doesn't touch the admin state */
	test_assert(as_store_device_put(store, &dev, &error) == 1);
	test_assert(as_store_device_get(store, pool, "alice", "DEV1", &dev2,
					&error) == 1);
	test_assert(dev2.access == AS_DEVICE_ACCESS_QUARANTINE);
	test_assert(dev2.quarantine_notified);
	test_assert_strcmp(dev2.imei, "123");
	test_assert(dev2.access_override == AS_DEVICE_ACCESS_UNSET);
	test_assert(as_store_device_admin_read(store, &dev2, &error) == 0);
	test_assert(dev2.access_override == AS_DEVICE_ACCESS_BLOCK);
	test_assert(dev2.debug);
	test_assert(dev2.wipe == AS_DEVICE_WIPE_ACCOUNT_PENDING);
	test_assert(dev2.wipe_requested == 1700000000);
	test_assert(dev2.wipe_acked == 0);
	/* cleared again */
	dev.access_override = AS_DEVICE_ACCESS_UNSET;
	dev.debug = FALSE;
	dev.wipe = AS_DEVICE_WIPE_NONE;
	dev.wipe_requested = 0;
	test_assert(as_store_device_admin_write(store, &dev, &error) == 0);
	test_assert(as_store_device_admin_read(store, &dev2, &error) == 0);
	test_assert(dev2.access_override == AS_DEVICE_ACCESS_UNSET &&
		    !dev2.debug && dev2.wipe == AS_DEVICE_WIPE_NONE &&
		    dev2.wipe_requested == 0);
	/* a claim succeeds once until the property is cleared */
	test_assert(as_store_device_prop_claim(store, "alice", "DEV1",
					       "notice", "1", &error) == 1);
	test_assert(as_store_device_prop_claim(store, "alice", "DEV1",
					       "notice", "2", &error) == 0);
	test_assert(as_store_device_prop_get(store, pool, "alice", "DEV1",
					     "notice", &value, &error) == 1);
	test_assert_strcmp(value, "1");
	test_assert(as_store_device_prop_put(store, "alice", "DEV1",
					     "notice", NULL, &error) == 1);
	test_assert(as_store_device_prop_claim(store, "alice", "DEV1",
					       "notice", "3", &error) == 1);

	i_zero(&rule);
	rule.kind = AS_ABQ_KIND_TYPE;
	rule.value = "iPhone";
	rule.access = AS_DEVICE_ACCESS_BLOCK;
	rule.enabled = TRUE;
	test_assert(as_store_rule_add(store, &rule, &id1, &error) == 1);
	test_assert(as_store_rule_add(store, &rule, &id2, &error) == 1);
	/* server rules may repeat; user and domain rules replace */
	test_assert(id1 == 1 && id2 == 2);
	rule.kind = AS_ABQ_KIND_DOMAIN;
	rule.value = "example.test";
	rule.description = "first";
	test_assert(as_store_rule_add(store, &rule, &id3, &error) == 1);
	rule.value = "EXAMPLE.TEST";
	rule.access = AS_DEVICE_ACCESS_ALLOW;
	rule.description = "second";
	test_assert(as_store_rule_add(store, &rule, &id1, &error) == 1);
	test_assert(id1 == id3 && id3 == 3);
	test_assert(as_store_rule_list(store, pool, &rules, &error) == 1);
	test_assert(array_count(&rules) == 3);
	r = array_idx(&rules, 2);
	test_assert(r->access == AS_DEVICE_ACCESS_ALLOW);
	test_assert_strcmp(r->description, "second");
	rule = *array_idx(&rules, 0);
	rule.enabled = FALSE;
	test_assert(as_store_rule_update(store, &rule, &error) == 1);
	rule.id = 99;
	test_assert(as_store_rule_update(store, &rule, &error) == 0);
	test_assert(as_store_rule_remove(store, 2, &error) == 1);
	test_assert(as_store_rule_remove(store, 2, &error) == 0);
	test_assert(as_store_rule_list(store, pool, &rules, &error) == 1);
	test_assert(array_count(&rules) == 2);
	r = array_idx(&rules, 0);
	test_assert(!r->enabled);
	/* ids are not reused below the highest one in use */
	rule.kind = AS_ABQ_KIND_OS;
	rule.value = "x";
	test_assert(as_store_rule_add(store, &rule, &id1, &error) == 1);
	test_assert(id1 == 4);
	test_end();
	pool_unref(&pool);
	as_store_close(&store);
}

int main(int argc, char *argv[])
{
	static void (*const test_functions[])(void) = {
		test_store_open_close,
		test_store_device,
		test_store_device_remove_cascade,
		test_store_folder_ids,
		test_store_hierarchy,
		test_store_collection,
		test_store_collection_purge_many,
		test_store_collection_advance,
		test_store_big_uid_sets,
		test_store_record_decode,
		test_store_device_record_v1,
		test_store_device_admin_and_rules,
		test_store_corrupted,
		test_store_map_growth,
		test_store_map_limit,
		test_store_itemuid_history,
		test_store_gal,
		test_store_two_processes,
		NULL
	};
	char tmpl[] = "/tmp/test-store.XXXXXX";
	const char *error;
	int ret;

	lib_init();
	if (argc == 4 && strcmp(argv[1], "child") == 0) {
		guid_128_t guid;

		if (guid_128_from_string(argv[3], guid) < 0)
			i_fatal("invalid guid %s", argv[3]);
		ret = test_store_child(argv[2], guid) == 0 ? 0 : 1;
		lib_deinit();
		return ret;
	}
	test_argv0 = argv[0];
	if (mkdtemp(tmpl) == NULL)
		i_fatal("mkdtemp() failed: %m");
	test_root = tmpl;
	ret = test_run(test_functions);
	if (unlink_directory(test_root, UNLINK_DIRECTORY_FLAG_RMDIR,
			     &error) < 0)
		i_error("unlink_directory(%s) failed: %s", test_root, error);
	lib_deinit();
	return ret;
}
