#ifndef AS_STORE_H
#define AS_STORE_H

#include "guid.h"
#include "seq-range-array.h"

/* The LMDB state store: devices, folder id maps and collection states.
   One environment per host; every call is a short transaction of its own
   (never held across I/O waits). Records start with a version byte.
   Commits are durable. Callers commit the mailbox change first and store
   the new state after it, so a crash leaves an older state (the device
   resyncs) rather than a state ahead of the mailbox. Open the store in
   the process that uses it (not before fork()); one handle per process. */

struct as_store;

struct as_store_settings {
	const char *dir;	/* created if missing (0700) */
	/* Initial size of the memory map (0 = default 32 MiB, or the data
	   file's size when that is larger). The map doubles when it fills. */
	size_t map_size;
	/* The map never grows past this (0 = no limit). It is address
	   space: the service derives it from its vsz_limit. */
	size_t max_map_size;
	/* Where max_map_size comes from, for error messages (e.g. "half of
	   service activesync { vsz_limit = 512 MB }") */
	const char *max_map_size_source;
};

enum as_device_access {
	/* override: none set; access: not evaluated yet */
	AS_DEVICE_ACCESS_UNSET = 0,
	AS_DEVICE_ACCESS_ALLOW,
	AS_DEVICE_ACCESS_BLOCK,
	AS_DEVICE_ACCESS_QUARANTINE,
};
#define AS_DEVICE_ACCESS_COUNT (AS_DEVICE_ACCESS_QUARANTINE + 1)

enum as_device_wipe {
	AS_DEVICE_WIPE_NONE = 0,
	/* requested, delivered at the device's next request */
	AS_DEVICE_WIPE_PENDING,
	AS_DEVICE_WIPE_ACCOUNT_PENDING,
	/* the device acknowledged it; it is blocked from then on */
	AS_DEVICE_WIPE_DONE,
	AS_DEVICE_WIPE_ACCOUNT_DONE,
};
#define AS_DEVICE_WIPE_COUNT (AS_DEVICE_WIPE_ACCOUNT_DONE + 1)

/* "allow", "block", "quarantine", "" for UNSET; parse returns -1 for
   anything else */
const char *as_device_access_str(enum as_device_access access);
int as_device_access_parse(const char *str, enum as_device_access *access_r);
/* "none", "pending", "account-pending", "wiped", "account-wiped" */
const char *as_device_wipe_str(enum as_device_wipe wipe);
static inline bool as_device_wipe_pending(enum as_device_wipe wipe)
{
	return wipe == AS_DEVICE_WIPE_PENDING ||
		wipe == AS_DEVICE_WIPE_ACCOUNT_PENDING;
}
static inline bool as_device_wipe_done(enum as_device_wipe wipe)
{
	return wipe == AS_DEVICE_WIPE_DONE ||
		wipe == AS_DEVICE_WIPE_ACCOUNT_DONE;
}

struct as_device {
	const char *user;
	const char *device_id;
	const char *device_type;
	const char *model;
	const char *os;
	const char *user_agent;
	const char *protocol_version;
	time_t first_seen, last_seen;
	/* Policy key the device acknowledged in its last Provision (0 = none) */
	uint32_t policy_key;
	/* Temporary key handed out in Provision's first phase, waiting for
	   the device's acknowledgement (0 = none) */
	uint32_t pending_policy_key;
	/* Folders remembered from the last Ping with folders ("id" strings,
	   separated by ','), and its heartbeat; "" / 0 if none */
	const char *ping_folders;
	unsigned int ping_heartbeat;

	/* The rest of Provision's settings:DeviceInformation ("" = not
	   sent; model, os and user_agent above are from it too) */
	const char *imei;
	const char *friendly_name;
	const char *os_language;
	const char *phone_number;
	const char *mobile_operator;

	/* Access the rules (or the admin) gave at the last request */
	enum as_device_access access;
	/* Quarantine notice mail sent to the user (records of older
	   versions; the service now claims the notice through the device
	   property quarantine_notice, which concurrent writes of this
	   record can't undo) */
	bool quarantine_notified;

	/* Admin state: kept as device properties, so that the service's
	   device record writes and doveadm's changes never overwrite each
	   other. Filled by as_store_device_admin_read(), changed with
	   as_store_device_admin_set(). */
	/* Access the admin set for this device; overrides the rules */
	enum as_device_access access_override;
	/* Log each request and response of this device */
	bool debug;
	enum as_device_wipe wipe;
	time_t wipe_requested, wipe_acked;
};
ARRAY_DEFINE_TYPE(as_device, struct as_device);

/* One folder as the device knows it (hierarchy state). */
struct as_folder {
	const char *server_id;	/* short stable id, e.g. "5" */
	const char *parent_id;	/* "0" for top level */
	const char *display_name;
	unsigned int type;	/* EAS folder type (2 = Inbox, ...) */
};
ARRAY_DEFINE_TYPE(as_folder, struct as_folder);

/* State of one mail collection at one SyncKey. */
struct as_collection_state {
	uint32_t uid_validity;
	uint64_t highest_modseq;
	uint32_t uid_next;
	/* UIDs the device has */
	ARRAY_TYPE(seq_range) uids;
	/* Options in effect (FilterType etc.), opaque to the store */
	const char *options;
};

int as_store_open(const struct as_store_settings *set,
		  struct as_store **store_r, const char **error_r);
/* "12 MB" / "256 KB", for messages */
const char *as_store_size_str(uoff_t size);
/* Size of the map now and of the data file, in bytes. */
void as_store_get_sizes(struct as_store *store, size_t *map_size_r,
			uoff_t *file_size_r);
void as_store_close(struct as_store **_store);

/* All functions return 1 = found/ok, 0 = not found, -1 = error with
   error_r set. Strings in output records are allocated from pool; output
   arrays are created from pool if not created yet, otherwise cleared
   first. NULL strings are stored as "" and read back as "". */

/* Fill the admin state fields of dev (dev->user, dev->device_id set). */
int as_store_device_admin_read(struct as_store *store, struct as_device *dev,
			       const char **error_r);
/* Store the admin state fields of dev. */
int as_store_device_admin_write(struct as_store *store,
				const struct as_device *dev,
				const char **error_r);

/* Devices, keyed by (user, device_id) */
int as_store_device_get(struct as_store *store, pool_t pool,
			const char *user, const char *device_id,
			struct as_device *dev_r, const char **error_r);
int as_store_device_put(struct as_store *store, const struct as_device *dev,
			const char **error_r);
/* Device ids of user, sorted. With user NULL all devices of all users are
   listed, each as "user\tdevice_id". Returns 1 if any, 0 if none. */
int as_store_device_list(struct as_store *store, pool_t pool,
			 const char *user, ARRAY_TYPE(const_string) *ids_r,
			 const char **error_r); /* user NULL = all users */
/* Like as_store_device_list(), but returns the full records (user and
   device_id filled in), sorted by user, then device_id. */
int as_store_device_list_full(struct as_store *store, pool_t pool,
			      const char *user,
			      ARRAY_TYPE(as_device) *devices_r,
			      const char **error_r);
/* Removes the device and all its states. Returns 0 if there was no device
   record (its states, if any, are removed anyway). */
int as_store_device_remove(struct as_store *store, const char *user,
			   const char *device_id, const char **error_r);
/* Drops all hierarchy and collection states of the device but keeps the
   device record: the device has to start over with SyncKey 0. */
int as_store_device_reset(struct as_store *store, const char *user,
			  const char *device_id, const char **error_r);

/* Folder ids: a mailbox GUID maps to a short id, unique per user and never
   reused. folder_id_get allocates a new id if the GUID is new. */
int as_store_folder_id_get(struct as_store *store, const char *user,
			   const guid_128_t guid, unsigned int *id_r,
			   const char **error_r);
int as_store_folder_guid_get(struct as_store *store, const char *user,
			     unsigned int id, guid_128_t guid_r,
			     const char **error_r);

/* Hierarchy (FolderSync) state per device and SyncKey (a counter >= 1). */
int as_store_hierarchy_put(struct as_store *store, const char *user,
			   const char *device_id, unsigned int sync_key,
			   const ARRAY_TYPE(as_folder) *folders,
			   const char **error_r);
int as_store_hierarchy_get(struct as_store *store, pool_t pool,
			   const char *user, const char *device_id,
			   unsigned int sync_key, ARRAY_TYPE(as_folder) *folders_r,
			   const char **error_r);
/* Latest hierarchy SyncKey of the device, 0 if none. */
int as_store_hierarchy_latest(struct as_store *store, const char *user,
			      const char *device_id, unsigned int *sync_key_r,
			      const char **error_r);
/* Delete hierarchy states with sync_key < keep_from. */
int as_store_hierarchy_purge(struct as_store *store, const char *user,
			     const char *device_id, unsigned int keep_from,
			     const char **error_r);

/* Collection states per (user, device, collection id, SyncKey). Keeps
   any number of keys; callers purge older ones. */
int as_store_collection_put(struct as_store *store, const char *user,
			    const char *device_id, const char *collection_id,
			    unsigned int sync_key,
			    const struct as_collection_state *state,
			    const char **error_r);
/* Store the state of sync_key and delete the keys below keep_from in
   one durable commit (keep_from 0 or 1: delete nothing). */
int as_store_collection_advance(struct as_store *store, const char *user,
				const char *device_id,
				const char *collection_id,
				unsigned int sync_key,
				const struct as_collection_state *state,
				unsigned int keep_from, const char **error_r);
int as_store_collection_get(struct as_store *store, pool_t pool,
			    const char *user, const char *device_id,
			    const char *collection_id, unsigned int sync_key,
			    struct as_collection_state *state_r,
			    const char **error_r);
int as_store_collection_latest(struct as_store *store, const char *user,
			       const char *device_id, const char *collection_id,
			       unsigned int *sync_key_r, const char **error_r);
/* Delete states with sync_key < keep_from (the current and previous key
   stay, so a lost response can be replayed). */
int as_store_collection_purge(struct as_store *store, const char *user,
			      const char *device_id, const char *collection_id,
			      unsigned int keep_from, const char **error_r);
/* Drop all states of a collection (SyncKey 0 / folder reset). */
int as_store_collection_reset(struct as_store *store, const char *user,
			      const char *device_id, const char *collection_id,
			      const char **error_r);

/* ClientIds of messages the device sent (SendMail, SmartReply,
   SmartForward), kept for 30 days. exists returns 1 if the ClientId was
   recorded, 0 if not. add records it (and drops the device's expired
   ones); call it after the message was submitted. */
int as_store_clientid_exists(struct as_store *store, const char *user,
			     const char *device_id, const char *client_id,
			     const char **error_r);
int as_store_clientid_add(struct as_store *store, const char *user,
			  const char *device_id, const char *client_id,
			  time_t now, const char **error_r);

/* Security policy levels (see module/policy/as-policy.h for the fields).
   A level holds only the fields it customises, as name/value pairs. The
   device level and the per-device policy state go with
   as_store_device_remove(). */
enum as_store_policy_level {
	AS_STORE_POLICY_LEVEL_GLOBAL,
	AS_STORE_POLICY_LEVEL_DOMAIN,
	AS_STORE_POLICY_LEVEL_USER,
	AS_STORE_POLICY_LEVEL_DEVICE,

	/* in as_store_policy_get_levels(): a level that does not apply
	   (e.g. the domain of a user name without '@'), read as empty */
	AS_STORE_POLICY_LEVEL_COUNT
};
struct as_store_policy_target {
	enum as_store_policy_level level;
	const char *domain;	/* DOMAIN */
	const char *user;	/* USER, DEVICE */
	const char *device_id;	/* DEVICE */
};
/* What the device was last provisioned with. */
struct as_store_policy_state {
	/* as_policy_hash() of the effective policy it acknowledged */
	uint32_t policy_hash;
	time_t provisioned;
	/* hash of the policy handed out with the temporary key, waiting
	   for the acknowledgement (0 = none) */
	uint32_t pending_hash;
};

/* fields_r: name, value, name, value... Returns 1 if the level has a
   record, 0 if not (fields_r empty). */
int as_store_policy_get(struct as_store *store, pool_t pool,
			const struct as_store_policy_target *target,
			ARRAY_TYPE(const_string) *fields_r,
			const char **error_r);
/* Several levels in one read transaction: fields_r[i] for targets[i].
   Returns 1 if any level has a record. */
int as_store_policy_get_levels(struct as_store *store, pool_t pool,
			       const struct as_store_policy_target *targets,
			       unsigned int count,
			       ARRAY_TYPE(const_string) *fields_r,
			       const char **error_r);
/* Replace the level's fields; no fields deletes the level. */
int as_store_policy_put(struct as_store *store,
			const struct as_store_policy_target *target,
			const ARRAY_TYPE(const_string) *fields,
			const char **error_r);
/* Returns 0 with state_r zeroed if the device was never provisioned. */
int as_store_policy_state_get(struct as_store *store, const char *user,
			      const char *device_id,
			      struct as_store_policy_state *state_r,
			      const char **error_r);
int as_store_policy_state_put(struct as_store *store, const char *user,
			      const char *device_id,
			      const struct as_store_policy_state *state,
			      const char **error_r);

#endif
