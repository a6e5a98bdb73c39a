#ifndef AS_SYNC_RUN_H
#define AS_SYNC_RUN_H

/* What the files of the Sync command share: the request's collections,
   one collection's run, and the functions between them.
   commands/cmd-sync.c: the request, Wait; sync/as-sync-collection.c: one
   collection; as-sync-client.c: the device's Commands; as-sync-write.c:
   the server's changes; as-sync-isolate.c: items a device keeps failing
   on; as-sync-request-cache.c: empty and partial requests. */

#include "seq-range-array.h"
#include "hash.h"
#include "mail-storage.h"
#include "as-command.h"
#include "as-folders.h"
#include "as-store.h"
#include "as-store-itemuid.h"
#include "sync/as-sync-options.h"
#include "sync/as-sync-state.h"

struct as_hold;
struct as_sync_changes;
struct as_item_class;
struct as_item_params;

/* Sync status codes (MS-ASCMD 2.2.3.177.16) */
enum as_sync_status {
	AS_SYNC_STATUS_OK = 1,
	AS_SYNC_STATUS_INVALID_SYNC_KEY = 3,
	AS_SYNC_STATUS_PROTOCOL_ERROR = 4,
	AS_SYNC_STATUS_SERVER_ERROR = 5,
	AS_SYNC_STATUS_CONVERSION_ERROR = 6,
	AS_SYNC_STATUS_CONFLICT = 7,
	AS_SYNC_STATUS_OBJECT_NOT_FOUND = 8,
	AS_SYNC_STATUS_HIERARCHY_CHANGED = 12,
	AS_SYNC_STATUS_INCOMPLETE_REQUEST = 13,
	AS_SYNC_STATUS_INVALID_WAIT = 14,
	AS_SYNC_STATUS_TOO_MANY_COLLECTIONS = 15,
	AS_SYNC_STATUS_RETRY = 16,
};

/* device property (as-store-itemprops.h), same syntax ("30 days") */
#define AS_SYNC_DEVICE_PROP_MAX_MAIL_AGE "max_mail_age"
#define AS_SYNC_DEVICE_PROP_MAX_CALENDAR_AGE "max_calendar_age"

/* Item isolation: the same SyncKey sent again this often with the same
   first Add gets a window of one item; this often and the item is left
   out for the device (the user gets a notice). */
#define AS_SYNC_ISOLATE_WINDOW_AFTER 3
#define AS_SYNC_ISOLATE_SKIP_AFTER 5
/* device properties: "<SyncKey> <UID> <count>" and
   "<UIDVALIDITY> <UID set>" per collection */
#define AS_SYNC_PROP_ISOLATE "iso:"
#define AS_SYNC_PROP_SKIPPED "skip:"

#define AS_SYNC_DEFAULT_WINDOW_SIZE 100
#define AS_SYNC_MAX_COLLECTIONS 1000
/* Wait is in minutes, HeartbeatInterval in seconds */
#define AS_SYNC_WAIT_MIN 1
#define AS_SYNC_WAIT_MAX 59
#define AS_SYNC_HEARTBEAT_MIN 60
#define AS_SYNC_HEARTBEAT_MAX 3540

/* One entry of the collection's <Responses> */
struct sync_response {
	unsigned int tag;	/* EAS_AIRSYNC_ADD/CHANGE/DELETE/FETCH */
	const char *server_id;
	const char *client_id;
	unsigned int status;
	uint32_t uid;		/* Fetch */
	/* 16.x: the InstanceId of the Change or Delete, echoed beside
	   the ServerId (MS-ASAIRS 2.2.2.25) */
	const char *instance_id;
};

struct sync_collection {
	const char *sync_key_str;
	unsigned int sync_key;
	const char *collection_id;
	const char *class_name;
	bool deletes_as_moves;
	bool get_changes, get_changes_set;
	/* WindowSize as requested (0 = not given) and as used */
	unsigned int req_window_size, window_size;
	bool have_options;
	struct as_sync_options options;
	const struct wbxml_node *commands;
	/* <Supported> (SyncKey 0 only): the tags listed */
	bool have_supported;
	ARRAY_TYPE(uint) supported;
};

struct sync_context {
	struct as_cmd_context *ctx;
	struct wbxml_writer *w;
	unsigned int default_window_size;
	/* top-level WindowSize as requested, 0 = not given */
	unsigned int req_window_size;
	ARRAY(struct sync_collection) colls;

	/* Wait / HeartbeatInterval: the request is held (push/as-hold.c)
	   until a collection has changes or wait_secs pass (then an empty
	   response) */
	unsigned int wait_secs;
	bool wait_given;
	struct as_hold *hold;

	/* The server's age limits of mail and of calendar items (seconds,
	   0 = unlimited): the smallest of the user's setting, the device's
	   own and the policy's; FilterType can only narrow them */
	unsigned int max_mail_age, max_calendar_age;

	/* A new state could not be stored: the response must not reach
	   the device (its SyncKeys would be unknown), 503 goes instead (or,
	   once a streamed response has begun, the connection is cut) */
	bool state_failed;
};

struct sync_props_update {
	uint32_t uid;
	const char *props;	/* NULL = delete */
};

struct sync_meeting_change {
	const char *old_ical;	/* NULL: an Add */
	uint32_t new_uid;	/* 0: a Delete */
};

struct sync_mail_run {
	struct sync_context *sctx;
	struct sync_collection *coll;
	struct as_folder_info folder;
	struct mailbox *box;
	struct as_collection_state state;
	struct as_sync_state_extra extra;
	bool replay;

	ARRAY(struct sync_response) responses;
	/* UIDs the client changed / deleted / added in this request */
	ARRAY_TYPE(seq_range) client_changed, client_deleted, client_added;
	/* item properties to store once the mailbox change is committed */
	ARRAY(struct sync_props_update) props_updates;
	guid_128_t box_guid;
	bool have_box_guid;
	/* how the folder's items are read, written and saved */
	const struct as_item_class *item_class;
	/* item UIDs of the groupware items sent or saved in this run, for
	   the store's history (as-sync-relink.c) */
	ARRAY_TYPE(as_store_itemuid_update) itemuid_updates;
	HASH_TABLE(const char *, void *) itemuids_sent;
	/* calendar: the device's changes of events, for the meetings the
	   user organizes (meeting/as-meeting-organizer.c), handled after
	   the commit; new_uid: the new message, its object read then */
	ARRAY(struct sync_meeting_change) meeting_changes;
	/* InstanceId of the client command being applied (NULL = none) */
	const char *cmd_instance_id;
};

struct sync_window {
	unsigned int left;
	bool more;
	/* what was sent */
	ARRAY_TYPE(seq_range) sent_adds, sent_removes;
	ARRAY_TYPE(seq_range) unsent_changes;
	bool unsent_other;
};

/* commands/cmd-sync.c */
void as_sync_collection_finish(struct sync_context *sctx,
			       struct sync_collection *coll);

/* sync/as-sync-collection.c */
void as_sync_collection(struct sync_context *sctx,
			struct sync_collection *coll);
bool as_sync_collection_has_work(struct sync_context *sctx,
				 struct sync_collection *coll);
/* The server's age limit of the folder's items (seconds, 0 = none) */
unsigned int as_sync_max_age(const struct sync_context *sctx,
			     const struct as_folder_info *folder);

/* sync/as-sync-client.c */
int as_sync_client_commands(struct sync_mail_run *run);
void as_sync_props_forget(struct sync_mail_run *run,
			  const ARRAY_TYPE(uint32_t) *uids);

/* sync/as-sync-write.c */
void as_sync_write_collection_start(struct sync_context *sctx,
				    const struct sync_collection *coll,
				    const char *sync_key, unsigned int status);
void as_sync_write_collection_status(struct sync_context *sctx,
				     const struct sync_collection *coll,
				     unsigned int status);
void as_sync_response_add(struct sync_mail_run *run, unsigned int tag,
			  const char *server_id, const char *client_id,
			  unsigned int status, uint32_t uid);
/* The ServerId of the message with this UID */
const char *as_sync_server_id(struct sync_mail_run *run, uint32_t uid);
void as_sync_write_responses(struct sync_mail_run *run,
			     const struct as_item_params *params,
			     struct mailbox_transaction_context *t);
void as_sync_write_changes(struct sync_mail_run *run, struct sync_window *win,
			   const struct as_sync_changes *changes,
			   const struct as_item_params *params,
			   struct mailbox_transaction_context *t);

/* sync/as-sync-isolate.c */
void as_sync_skipped_remove(struct sync_mail_run *run,
			    struct as_sync_changes *changes);
void as_sync_isolation(struct sync_mail_run *run,
		       struct as_sync_changes *changes,
		       struct sync_window *win);

/* sync/as-sync-relink.c */
/* Adds whose item replaces a deleted message the device has become
   Changes of that item (before anything is written) */
void as_sync_relink(struct sync_mail_run *run, struct as_sync_changes *changes,
		    const struct as_item_params *params,
		    struct mailbox_transaction_context *t,
		    ARRAY_TYPE(seq_range) *state_uids);
/* An item the device now has (sent, or saved from its Add/Change) */
void as_sync_itemuid_sent(struct sync_mail_run *run,
			  const struct as_item *item, uint32_t uid);
/* The items the device's own Adds and Changes saved */
void as_sync_itemuid_client_added(struct sync_mail_run *run,
				  const struct as_item_params *params,
				  struct mailbox_transaction_context *t);
/* Record them in the store, after the response is written */
void as_sync_itemuid_store(struct sync_mail_run *run);

/* sync/as-sync-request-cache.c */
void as_sync_request_cache_save(struct sync_context *sctx);
int as_sync_request_cache_load(struct sync_context *sctx);

#endif
