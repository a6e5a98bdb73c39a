/* Copyright (c) dovecot-activesync authors, see the included COPYING file */

/* Sync (MS-ASCMD 2.2.1.21) for mail folders.

   A SyncKey names a stored collection state (UIDVALIDITY, HIGHESTMODSEQ,
   UIDNEXT, the UIDs the device has, the Options). For each collection:
   check the key, apply the client's commands to the mailbox (committed
   before the new state), compute the server's changes from CONDSTORE
   data (module/sync/as-sync-changes.c), send at most WindowSize of them,
   store state N+1 and drop states older than N. A client that lost our
   answer repeats key N: the answer is computed again from state N and
   replaces state N+1. */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "strnum.h"
#include "str-sanitize.h"
#include "strescape.h"
#include "ioloop.h"
#include "hostpid.h"
#include "seq-range-array.h"
#include "imap-seqset.h"
#include "imap-util.h"
#include "mail-storage.h"
#include "mail-user.h"
#include "settings-parser.h"
#include "as-command.h"
#include "as-folders.h"
#include "push/as-watch.h"
#include "sync/as-sync-options.h"
#include "sync/as-sync-changes.h"
#include "sync/as-sync-state.h"
#include "items/as-email.h"
#include "items/as-flag.h"
#include "items/as-categories.h"
#include "items/as-draft.h"
#include "items/as-note.h"
#include "send/as-send-draft.h"
#include "items/as-mail-save.h"
#include "as-store-itemprops.h"
#include "sync/as-sync-notice.h"

#include <time.h>

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
};

struct sync_context {
	struct as_cmd_context *ctx;
	struct wbxml_writer *w;
	unsigned int default_window_size;
	/* top-level WindowSize as requested, 0 = not given */
	unsigned int req_window_size;
	ARRAY(struct sync_collection) colls;

	/* Wait / HeartbeatInterval: the request is held until a collection
	   has changes or wait_secs pass (then an empty response) */
	unsigned int wait_secs;
	bool wait_given;
	struct as_watch *watch;
	struct timeout *to_wait;

	/* activesync_max_mail_age of the user and the device's own limit,
	   the smaller one (seconds, 0 = unlimited); FilterType can only
	   narrow it */
	unsigned int max_age;

	/* A new state could not be stored: the response must not reach
	   the device (its SyncKeys would be unknown), 503 goes instead */
	bool state_failed;
};

/* Changes arriving in a burst are looked at once */
#define AS_SYNC_WAIT_DEBOUNCE_MSECS 500

struct sync_props_update {
	uint32_t uid;
	const char *props;	/* NULL = delete */
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
	/* a notes folder: items are written and saved as notes */
	bool note;
};

/* Oldest received date to sync: the device's FilterType, narrowed by
   the server's mail age limit */
static time_t sync_since(struct sync_context *sctx,
			 const struct as_folder_info *folder,
			 unsigned int filter_type)
{
	/* FilterType and the mail age limit are about mail: notes are
	   kept whatever their age */
	if (as_folder_class(folder) != AS_FOLDER_CLASS_MAIL)
		return 0;
	return as_sync_state_since(filter_type, sctx->max_age, ioloop_time);
}

static int sync_parse_age(struct as_cmd_context *ctx, const char *what,
			  const char *value, unsigned int *secs_r)
{
	const char *error;

	*secs_r = 0;
	if (value == NULL || *value == '\0')
		return 0;
	if (settings_get_time(value, secs_r, &error) < 0) {
		e_error(ctx->event, "Sync: invalid %s '%s' ignored: %s", what,
			str_sanitize(value, 64), error);
		*secs_r = 0;
		return -1;
	}
	return 0;
}

/* activesync_max_mail_age (per user through userdb fields) and the
   device's "max_mail_age" property: the smaller non-zero one applies */
static unsigned int sync_max_age(struct as_cmd_context *ctx)
{
	const char *value, *error;
	unsigned int user_age = ctx->set->max_mail_age, dev_age;

	if (as_store_device_prop_get(ctx->store, pool_datastack_create(),
				     ctx->username, ctx->req->device_id,
				     AS_SYNC_DEVICE_PROP_MAX_MAIL_AGE,
				     &value, &error) < 0) {
		e_error(ctx->event, "Sync: reading the device's mail age "
			"limit failed: %s", error);
		value = NULL;
	}
	(void)sync_parse_age(ctx, "device max_mail_age", value, &dev_age);
	e_debug(ctx->event, "Sync: mail age limit: user %u, device %u secs",
		user_age, dev_age);
	if (user_age == 0 || (dev_age != 0 && dev_age < user_age))
		return dev_age;
	return user_age;
}

/* ---- request parsing ---- */

static int parse_bool_elem(const char *value, bool *result_r)
{
	/* an empty element means TRUE (e.g. <GetChanges/>) */
	if (*value == '\0' || strcmp(value, "1") == 0)
		*result_r = TRUE;
	else if (strcmp(value, "0") == 0)
		*result_r = FALSE;
	else
		return -1;
	return 0;
}

/* Defaults that depend on the SyncKey and the request's WindowSize */
static void sync_collection_finish(struct sync_context *sctx,
				   struct sync_collection *coll)
{
	if (str_to_uint(coll->sync_key_str, &coll->sync_key) < 0) {
		/* not one of ours: answered with Status 3 */
		coll->sync_key = UINT_MAX;
	}
	/* GetChanges defaults to TRUE, except with SyncKey 0 */
	if (!coll->get_changes_set)
		coll->get_changes = coll->sync_key != 0;
	coll->window_size = coll->req_window_size != 0 ?
		coll->req_window_size : sctx->default_window_size;
	if (coll->window_size > sctx->ctx->set->max_window_size)
		coll->window_size = sctx->ctx->set->max_window_size;
	if (coll->window_size == 0)
		coll->window_size = 1;
}

static int
sync_collection_parse(struct sync_context *sctx, const struct wbxml_node *node,
		      struct sync_collection *coll, const char **error_r)
{
	const struct wbxml_node *child;
	const char *value;

	i_zero(coll);
	coll->deletes_as_moves = TRUE;
	wbxml_node_foreach_child(node, child) {
		value = wbxml_node_text(child);
		switch (child->tag) {
		case EAS_AIRSYNC_SYNCKEY:
			coll->sync_key_str = value;
			break;
		case EAS_AIRSYNC_COLLECTIONID:
			coll->collection_id = value;
			break;
		case EAS_AIRSYNC_CLASS:
			coll->class_name = value;
			break;
		case EAS_AIRSYNC_DELETESASMOVES:
			if (parse_bool_elem(value, &coll->deletes_as_moves) < 0) {
				*error_r = "Invalid DeletesAsMoves";
				return -1;
			}
			break;
		case EAS_AIRSYNC_GETCHANGES:
			if (parse_bool_elem(value, &coll->get_changes) < 0) {
				*error_r = "Invalid GetChanges";
				return -1;
			}
			coll->get_changes_set = TRUE;
			break;
		case EAS_AIRSYNC_WINDOWSIZE:
			if (str_to_uint(value, &coll->req_window_size) < 0 ||
			    coll->req_window_size > 512) {
				*error_r = "Invalid WindowSize";
				return -1;
			}
			break;
		case EAS_AIRSYNC_OPTIONS: {
			int ret = as_sync_options_parse(child, &coll->options,
							error_r);
			if (ret < 0)
				return -1;
			if (ret > 0)
				coll->have_options = TRUE;
			break;
		}
		case EAS_AIRSYNC_COMMANDS:
			coll->commands = child;
			break;
		default:
			/* ConversationMode, Supported: nothing to do */
			break;
		}
	}
	if (coll->sync_key_str == NULL) {
		*error_r = "Collection without SyncKey";
		return -1;
	}
	if (coll->collection_id == NULL || *coll->collection_id == '\0') {
		*error_r = "Collection without CollectionId";
		return -1;
	}
	sync_collection_finish(sctx, coll);
	return 0;
}

/* ---- response helpers ---- */

static void
sync_write_collection_start(struct sync_context *sctx,
			    const struct sync_collection *coll,
			    const char *sync_key, unsigned int status)
{
	struct wbxml_writer *w = sctx->w;

	wbxml_start(w, EAS_AIRSYNC_COLLECTION);
	if (sctx->ctx->req->version < AS_VERSION_14_0)
		wbxml_elem_str(w, EAS_AIRSYNC_CLASS,
			       coll->class_name != NULL ? coll->class_name :
			       "Email");
	wbxml_elem_str(w, EAS_AIRSYNC_SYNCKEY, sync_key);
	wbxml_elem_str(w, EAS_AIRSYNC_COLLECTIONID, coll->collection_id);
	wbxml_elem_uint(w, EAS_AIRSYNC_STATUS, status);
}

static void
sync_write_collection_status(struct sync_context *sctx,
			     const struct sync_collection *coll,
			     unsigned int status)
{
	/* after an invalid key the device starts over from 0 */
	sync_write_collection_start(sctx, coll,
		status == AS_SYNC_STATUS_INVALID_SYNC_KEY ? "0" :
		coll->sync_key_str, status);
	wbxml_end(sctx->w);
}

static void sync_response_add(struct sync_mail_run *run, unsigned int tag,
			      const char *server_id, const char *client_id,
			      unsigned int status, uint32_t uid)
{
	struct sync_response *resp = array_append_space(&run->responses);

	resp->tag = tag;
	resp->server_id = server_id == NULL ? NULL :
		p_strdup(run->sctx->ctx->pool, server_id);
	resp->client_id = client_id == NULL ? NULL :
		p_strdup(run->sctx->ctx->pool, client_id);
	resp->status = status;
	resp->uid = uid;
}

/* ---- state keys ---- */

static int
sync_state_put(struct sync_context *sctx, const struct sync_collection *coll,
	       unsigned int key, const struct as_collection_state *state,
	       const char **error_r)
{
	struct as_cmd_context *ctx = sctx->ctx;

	/* keep key-1 (the key the device sent) for a replay; one commit */
	if (as_store_collection_advance(ctx->store, ctx->username,
					ctx->req->device_id,
					coll->collection_id, key, state,
					key - 1, error_r) < 0) {
		sctx->state_failed = TRUE;
		return -1;
	}
	return 0;
}

/* Checks the SyncKey. Returns 1 and the state if it's usable, 0 if it
   isn't (Status 3), -1 on error. */
static int
sync_state_get(struct sync_context *sctx, const struct sync_collection *coll,
	       pool_t pool, struct as_collection_state *state_r,
	       bool *replay_r, const char **error_r)
{
	struct as_cmd_context *ctx = sctx->ctx;
	unsigned int latest;
	int ret;

	*replay_r = FALSE;
	if (coll->sync_key == UINT_MAX)
		return 0;
	ret = as_store_collection_latest(ctx->store, ctx->username,
					 ctx->req->device_id,
					 coll->collection_id, &latest,
					 error_r);
	if (ret <= 0)
		return ret;
	if (coll->sync_key == latest)
		;
	else if (coll->sync_key + 1 == latest)
		*replay_r = TRUE;
	else
		return 0;
	return as_store_collection_get(ctx->store, pool, ctx->username,
				       ctx->req->device_id,
				       coll->collection_id, coll->sync_key,
				       state_r, error_r);
}

/* ---- client commands ---- */

static bool
sync_client_uid(struct sync_mail_run *run, const char *server_id,
		uint32_t *uid_r)
{
	return server_id != NULL &&
		as_email_parse_server_id(server_id, run->folder.server_id,
					 uid_r);
}

static void
sync_props_update_add(struct sync_mail_run *run, uint32_t uid,
		      const char *props)
{
	struct sync_props_update *upd;

	if (!array_is_created(&run->props_updates))
		t_array_init(&run->props_updates, 8);
	upd = array_append_space(&run->props_updates);
	upd->uid = uid;
	upd->props = t_strdup(props);
}

/* After the mailbox commit: the flag details for what was changed */
static void sync_props_updates_store(struct sync_mail_run *run)
{
	struct as_cmd_context *ctx = run->sctx->ctx;
	const struct sync_props_update *upd;
	const char *error;
	int ret;

	if (!array_is_created(&run->props_updates) || !run->have_box_guid)
		return;
	array_foreach(&run->props_updates, upd) {
		if (upd->props != NULL) {
			ret = as_store_itemprops_put(ctx->store, ctx->username,
						     run->box_guid, upd->uid,
						     upd->props, &error);
		} else {
			ret = as_store_itemprops_delete(ctx->store,
				ctx->username, run->box_guid, upd->uid,
				&error);
		}
		if (ret < 0) {
			e_error(ctx->event, "Sync: storing item properties "
				"of UID %u failed: %s", upd->uid, error);
		}
	}
}

/* Expunged messages: drop their item properties (only read
   transactions unless there is something to drop) */
static void
sync_props_forget(struct sync_mail_run *run, const ARRAY_TYPE(uint32_t) *uids)
{
	struct as_cmd_context *ctx = run->sctx->ctx;
	const uint32_t *uidp;
	const char *value, *error;

	if (!run->have_box_guid)
		return;
	array_foreach(uids, uidp) {
		if (as_store_itemprops_get(ctx->store, pool_datastack_create(),
					   ctx->username, run->box_guid,
					   *uidp, &value, &error) > 0 &&
		    as_store_itemprops_delete(ctx->store, ctx->username,
					      run->box_guid, *uidp,
					      &error) < 0) {
			e_error(ctx->event, "Sync: dropping item properties "
				"of UID %u failed: %s", *uidp, error);
		}
	}
}

/* Replace the mail's category keywords with the device's list */
static void
sync_client_categories(struct sync_mail_run *run, struct mail *mail,
		       const struct wbxml_node *cats)
{
	ARRAY_TYPE(const_string) want, drop;
	const struct wbxml_node *child;
	const char *const *kw, *keyword, *const *w;
	struct mail_keywords *keywords;
	bool keep;

	t_array_init(&want, 8);
	t_array_init(&drop, 8);
	wbxml_node_foreach_child(cats, child) {
		if (child->tag != EAS_EMAIL_CATEGORY)
			continue;
		keyword = as_category_to_keyword(wbxml_node_text(child));
		if (keyword == NULL) {
			e_info(run->sctx->ctx->event, "Sync: category '%s' "
			       "can't be stored, ignored",
			       str_sanitize(wbxml_node_text(child), 64));
			continue;
		}
		array_push_back(&want, &keyword);
	}
	for (kw = mail_get_keywords(mail); *kw != NULL; kw++) {
		if (as_keyword_to_category(*kw) == NULL)
			continue;
		keep = FALSE;
		array_foreach(&want, w) {
			if (strcasecmp(*w, *kw) == 0)
				keep = TRUE;
		}
		if (!keep) {
			keyword = t_strdup(*kw);
			array_push_back(&drop, &keyword);
		}
	}
	array_append_zero(&want);
	array_append_zero(&drop);
	if (array_count(&drop) > 1) {
		keywords = mailbox_keywords_create_valid(run->box,
							 array_front(&drop));
		mail_update_keywords(mail, MODIFY_REMOVE, keywords);
		mailbox_keywords_unref(&keywords);
	}
	if (array_count(&want) > 1) {
		keywords = mailbox_keywords_create_valid(run->box,
							 array_front(&want));
		mail_update_keywords(mail, MODIFY_ADD, keywords);
		mailbox_keywords_unref(&keywords);
	}
}

/* Did the server change this item since the state the device has? With
   the server-wins policy (Conflict 1, the default) the client's change
   is then not applied. A repeated request (replay) is not a conflict:
   its own first run changed the item. */
static bool
sync_client_change_conflicts(struct sync_mail_run *run, struct mail *mail)
{
	if (run->replay || run->extra.options.conflict == 0)
		return FALSE;
	if (!seq_range_exists(&run->state.uids, mail->uid))
		return FALSE;
	if (array_is_created(&run->extra.pending_changes) &&
	    seq_range_exists(&run->extra.pending_changes, mail->uid))
		return TRUE;
	return mail_get_modseq(mail) > run->state.highest_modseq;
}

/* ---- drafts (16.x) ---- */

/* device property: ClientId of an Add -> the UID it was saved as, so a
   repeated request gets the same ServerId instead of a second draft */
#define AS_SYNC_PROP_CLIENT_ID "cid:"

static bool sync_client_is_draft_folder(struct sync_mail_run *run)
{
	return run->sctx->ctx->req->version >= AS_VERSION_16_0 &&
		run->folder.type == AS_FOLDER_TYPE_DRAFTS;
}

static const char *sync_user_address(struct as_cmd_context *ctx)
{
	if (strchr(ctx->username, '@') != NULL)
		return ctx->username;
	return t_strconcat(ctx->username, "@", my_hostname, NULL);
}

/* Save a message the device created (a draft, a note) into the folder */
static int
sync_save_message(struct sync_mail_run *run, const string_t *msg,
		  enum mail_flags flags, const char *const *keywords,
		  const char *what, uint32_t *uid_r, unsigned int *status_r)
{
	struct mail_keywords *kw = NULL;
	const char *error;
	int ret;

	if (keywords != NULL && keywords[0] != NULL)
		kw = mailbox_keywords_create_valid(run->box, keywords);
	ret = as_mail_save(run->box, str_data(msg), str_len(msg), flags, kw,
			   uid_r, &error);
	if (kw != NULL)
		mailbox_keywords_unref(&kw);
	if (ret < 0 || *uid_r == 0) {
		e_error(run->sctx->ctx->event, "Sync: saving a %s to %s "
			"failed: %s", what, mailbox_get_vname(run->box),
			ret < 0 ? error : "no UID assigned");
		*status_r = AS_SYNC_STATUS_SERVER_ERROR;
		return -1;
	}
	return 0;
}

static int
sync_draft_save(struct sync_mail_run *run, const struct wbxml_node *data,
		struct mail *base, enum mail_flags flags,
		const char *const *keywords, uint32_t *uid_r,
		unsigned int *status_r)
{
	struct as_cmd_context *ctx = run->sctx->ctx;
	string_t *msg = t_str_new(1024);
	const char *error;

	if (as_draft_build(data, base, sync_user_address(ctx), msg,
			   &error) < 0) {
		e_info(ctx->event, "Sync: draft refused: %s", error);
		*status_r = AS_SYNC_STATUS_CONVERSION_ERROR;
		return -1;
	}
	return sync_save_message(run, msg, flags | MAIL_DRAFT, keywords,
				 "draft", uid_r, status_r);
}

/* ---- notes ---- */

static int
sync_note_save(struct sync_mail_run *run, const struct wbxml_node *data,
	       enum mail_flags flags, uint32_t *uid_r,
	       unsigned int *status_r)
{
	struct as_cmd_context *ctx = run->sctx->ctx;
	string_t *msg = t_str_new(1024);
	const char *const *keywords, *error;

	if (as_note_build(data, sync_user_address(ctx), msg, &keywords,
			  &error) < 0) {
		e_info(ctx->event, "Sync: note refused: %s", error);
		*status_r = AS_SYNC_STATUS_CONVERSION_ERROR;
		return -1;
	}
	return sync_save_message(run, msg, flags, keywords, "note", uid_r,
				 status_r);
}

/* A note's Change carries the whole note: save it as a new message and
   expunge the old one. As with drafts, the rest of this response then
   deletes the old ServerId and adds the new one on the device. */
static void
sync_client_note_replace(struct sync_mail_run *run, struct mail *mail,
			 const struct wbxml_node *data, const char *server_id)
{
	unsigned int status;
	uint32_t uid;

	if (sync_client_change_conflicts(run, mail)) {
		e_debug(run->sctx->ctx->event, "Sync: conflict on note UID %u "
			"of %s, server wins", mail->uid,
			mailbox_get_vname(run->box));
		sync_response_add(run, EAS_AIRSYNC_CHANGE, server_id, NULL,
				  AS_SYNC_STATUS_CONFLICT, 0);
		return;
	}
	if (sync_note_save(run, data, mail_get_flags(mail) &
			   ENUM_NEGATE(MAIL_RECENT), &uid, &status) < 0) {
		sync_response_add(run, EAS_AIRSYNC_CHANGE, server_id, NULL,
				  status, 0);
		return;
	}
	mail_expunge(mail);
	e_debug(run->sctx->ctx->event, "Sync: note UID %u replaced by UID %u",
		mail->uid, uid);
}

static void
sync_client_add(struct sync_mail_run *run, const struct wbxml_node *cmd,
		const char *client_id)
{
	struct as_cmd_context *ctx = run->sctx->ctx;
	const struct wbxml_node *data;
	struct mailbox_transaction_context *t;
	struct mail *mail;
	const char *prop, *value, *error;
	unsigned int status;
	uint32_t uid = 0;
	bool exists = FALSE;

	if (client_id == NULL || *client_id == '\0') {
		e_info(ctx->event, "Sync: Add without ClientId");
		sync_response_add(run, EAS_AIRSYNC_ADD, NULL, "",
				  AS_SYNC_STATUS_PROTOCOL_ERROR, 0);
		return;
	}
	if (!run->note && !sync_client_is_draft_folder(run)) {
		/* mail arrives by delivery; only 16.x drafts (and notes)
		   are created by Sync */
		e_info(ctx->event, "Sync: client Add to mail folder %s "
		       "refused", run->folder.server_id);
		sync_response_add(run, EAS_AIRSYNC_ADD, NULL, client_id,
				  AS_SYNC_STATUS_CONVERSION_ERROR, 0);
		return;
	}
	data = wbxml_node_child(cmd, EAS_AIRSYNC_APPLICATIONDATA);
	if (data == NULL) {
		sync_response_add(run, EAS_AIRSYNC_ADD, NULL, client_id,
				  AS_SYNC_STATUS_PROTOCOL_ERROR, 0);
		return;
	}
	prop = t_strdup_printf("%s%s:%s", AS_SYNC_PROP_CLIENT_ID,
			       run->coll->collection_id, client_id);
	if (as_store_device_prop_get(ctx->store, pool_datastack_create(),
				     ctx->username, ctx->req->device_id,
				     prop, &value, &error) < 0) {
		e_error(ctx->event, "Sync: ClientId lookup: %s", error);
		sync_response_add(run, EAS_AIRSYNC_ADD, NULL, client_id,
				  AS_SYNC_STATUS_SERVER_ERROR, 0);
		return;
	}
	if (value != NULL && str_to_uint32(value, &uid) == 0 && uid != 0) {
		t = mailbox_transaction_begin(run->box, 0, "activesync add");
		mail = mail_alloc(t, 0, NULL);
		exists = mail_set_uid(mail, uid);
		mail_free(&mail);
		(void)mailbox_transaction_commit(&t);
	}
	if (!exists) {
		if (run->note ?
		    sync_note_save(run, data, MAIL_SEEN, &uid, &status) < 0 :
		    sync_draft_save(run, data, NULL, MAIL_SEEN, NULL, &uid,
				    &status) < 0) {
			sync_response_add(run, EAS_AIRSYNC_ADD, NULL,
					  client_id, status, 0);
			return;
		}
		if (as_store_device_prop_put(ctx->store, ctx->username,
					     ctx->req->device_id, prop,
					     dec2str(uid), &error) < 0)
			e_error(ctx->event, "Sync: ClientId record: %s", error);
		e_debug(ctx->event, "Sync: %s %s saved as UID %u",
			run->note ? "note" : "draft",
			str_sanitize(client_id, 64), uid);
	}
	if (!run->note &&
	    wbxml_node_child(data, EAS_EMAIL2_SEND) != NULL &&
	    (status = as_send_draft(ctx, run->box, uid, client_id)) !=
	    AS_SYNC_STATUS_OK) {
		/* saved but not sent: the device keeps it to retry */
		sync_response_add(run, EAS_AIRSYNC_ADD, NULL, client_id,
				  status, 0);
		return;
	}
	seq_range_array_add(&run->client_added, uid);
	sync_response_add(run, EAS_AIRSYNC_ADD,
			  as_email_server_id(run->folder.server_id, uid),
			  client_id, AS_SYNC_STATUS_OK, 0);
}

/* A draft's content changed: save the new version, expunge the old one.
   The new message has a new UID and so a new ServerId: this response
   deletes the old ServerId and adds the new one on the device (the
   Change itself can't carry a new ServerId). */
static void
sync_client_draft_replace(struct sync_mail_run *run, struct mail *mail,
			  const struct wbxml_node *data,
			  const char *server_id, enum mail_flags flags)
{
	const char *const *keywords;
	unsigned int status;
	uint32_t uid;

	keywords = mail_get_keywords(mail);
	if (sync_draft_save(run, data, mail, flags & ENUM_NEGATE(MAIL_RECENT),
			    keywords, &uid, &status) < 0) {
		sync_response_add(run, EAS_AIRSYNC_CHANGE, server_id, NULL,
				  status, 0);
		return;
	}
	mail_expunge(mail);
	e_debug(run->sctx->ctx->event, "Sync: draft UID %u replaced by "
		"UID %u", mail->uid, uid);
}

/* email2:Send (16.x): the draft, with the content of this Change, goes
   out and leaves Drafts (module/send/as-send-draft.c) */
static void
sync_client_draft_send(struct sync_mail_run *run, struct mail *mail,
		       const struct wbxml_node *data, const char *server_id,
		       enum mail_flags flags)
{
	unsigned int status;
	uint32_t uid = mail->uid;

	if (as_draft_has_content(data)) {
		if (sync_draft_save(run, data, mail,
				    flags & ENUM_NEGATE(MAIL_RECENT),
				    mail_get_keywords(mail), &uid,
				    &status) < 0) {
			sync_response_add(run, EAS_AIRSYNC_CHANGE, server_id,
					  NULL, status, 0);
			return;
		}
		mail_expunge(mail);
	}
	status = as_send_draft(run->sctx->ctx, run->box, uid, NULL);
	if (status != AS_SYNC_STATUS_OK) {
		sync_response_add(run, EAS_AIRSYNC_CHANGE, server_id, NULL,
				  status, 0);
	}
}

static void
sync_client_change(struct sync_mail_run *run, struct mail *mail,
		   const struct wbxml_node *cmd, const char *server_id)
{
	const struct wbxml_node *data, *flag, *cats;
	const char *value;
	enum mail_flags add = 0, remove = 0;
	uint32_t uid;

	if (!sync_client_uid(run, server_id, &uid) ||
	    !mail_set_uid(mail, uid)) {
		sync_response_add(run, EAS_AIRSYNC_CHANGE, server_id, NULL,
				  AS_SYNC_STATUS_OBJECT_NOT_FOUND, 0);
		return;
	}
	data = wbxml_node_child(cmd, EAS_AIRSYNC_APPLICATIONDATA);
	if (data == NULL) {
		sync_response_add(run, EAS_AIRSYNC_CHANGE, server_id, NULL,
				  AS_SYNC_STATUS_PROTOCOL_ERROR, 0);
		return;
	}
	if (run->note) {
		sync_client_note_replace(run, mail, data, server_id);
		return;
	}
	value = wbxml_node_child_text(data, EAS_EMAIL_READ);
	if (value != NULL) {
		if (strcmp(value, "1") == 0)
			add |= MAIL_SEEN;
		else if (strcmp(value, "0") == 0)
			remove |= MAIL_SEEN;
		else {
			sync_response_add(run, EAS_AIRSYNC_CHANGE, server_id,
					  NULL,
					  AS_SYNC_STATUS_CONVERSION_ERROR, 0);
			return;
		}
	}
	if (sync_client_change_conflicts(run, mail)) {
		/* server wins: the device gets the server's version as a
		   Change in this response */
		e_debug(run->sctx->ctx->event, "Sync: conflict on UID %u of "
			"%s, server wins", uid, mailbox_get_vname(run->box));
		sync_response_add(run, EAS_AIRSYNC_CHANGE, server_id, NULL,
				  AS_SYNC_STATUS_CONFLICT, 0);
		return;
	}
	flag = wbxml_node_child(data, EAS_EMAIL_FLAG);
	if (flag != NULL) {
		const char *props, *error;
		enum as_flag_status status;

		if (as_flag_parse(flag, &props, &status, &error) < 0) {
			e_info(run->sctx->ctx->event, "Sync: %s: %s",
			       str_sanitize(server_id, 64), error);
			sync_response_add(run, EAS_AIRSYNC_CHANGE, server_id,
					  NULL,
					  AS_SYNC_STATUS_CONVERSION_ERROR, 0);
			return;
		}
		/* only an active flag is \Flagged; complete and cleared
		   both mean "no longer needs attention" in IMAP terms */
		if (status == AS_FLAG_STATUS_ACTIVE)
			add |= MAIL_FLAGGED;
		else
			remove |= MAIL_FLAGGED;
		sync_props_update_add(run, uid, props);
	}
	cats = wbxml_node_child(data, EAS_EMAIL_CATEGORIES);
	if (cats != NULL)
		sync_client_categories(run, mail, cats);
	if (sync_client_is_draft_folder(run) &&
	    wbxml_node_child(data, EAS_EMAIL2_SEND) != NULL) {
		sync_client_draft_send(run, mail, data, server_id,
			(mail_get_flags(mail) & ENUM_NEGATE(remove)) | add);
		return;
	}
	if (sync_client_is_draft_folder(run) &&
	    as_draft_has_content(data)) {
		sync_client_draft_replace(run, mail, data, server_id,
			(mail_get_flags(mail) & ENUM_NEGATE(remove)) | add);
		return;
	}
	if (add != 0)
		mail_update_flags(mail, MODIFY_ADD, add);
	if (remove != 0)
		mail_update_flags(mail, MODIFY_REMOVE, remove);
	seq_range_array_add(&run->client_changed, uid);
}

static void
sync_client_delete(struct sync_mail_run *run, struct mail *mail,
		   struct mail_save_context **trash_save,
		   struct mailbox_transaction_context *trash_trans,
		   const char *server_id)
{
	uint32_t uid;

	if (!sync_client_uid(run, server_id, &uid)) {
		sync_response_add(run, EAS_AIRSYNC_DELETE, server_id, NULL,
				  AS_SYNC_STATUS_OBJECT_NOT_FOUND, 0);
		return;
	}
	/* the device has dropped it either way */
	seq_range_array_add(&run->client_deleted, uid);
	if (!mail_set_uid(mail, uid)) {
		/* already gone: fine for a repeated request */
		if (!run->replay) {
			sync_response_add(run, EAS_AIRSYNC_DELETE, server_id,
					  NULL,
					  AS_SYNC_STATUS_OBJECT_NOT_FOUND, 0);
		}
		return;
	}
	if (trash_trans != NULL) {
		*trash_save = mailbox_save_alloc(trash_trans);
		if (mailbox_move(trash_save, mail) < 0) {
			e_error(run->sctx->ctx->event,
				"Moving UID %u of %s to Trash failed: %s", uid,
				mailbox_get_vname(run->box),
				mailbox_get_last_internal_error(
					mailbox_transaction_get_mailbox(
						trash_trans), NULL));
			sync_response_add(run, EAS_AIRSYNC_DELETE, server_id,
					  NULL, AS_SYNC_STATUS_SERVER_ERROR, 0);
		}
	} else {
		mail_expunge(mail);
	}
}

static int
sync_trash_open(struct sync_mail_run *run, struct mailbox **trash_r)
{
	struct as_cmd_context *ctx = run->sctx->ctx;
	ARRAY_TYPE(as_folder_info) folders;
	const struct as_folder_info *folder;
	const char *error;

	*trash_r = NULL;
	if (run->folder.type == AS_FOLDER_TYPE_DELETED)
		return 0;
	t_array_init(&folders, 32);
	if (as_folders_list(ctx, &folders, &error) < 0) {
		e_error(ctx->event, "Listing folders failed: %s", error);
		return -1;
	}
	array_foreach(&folders, folder) {
		if (folder->type != AS_FOLDER_TYPE_DELETED)
			continue;
		if (as_folders_open(ctx, folder, 0, trash_r, &error) < 0) {
			e_error(ctx->event, "Opening Trash failed: %s", error);
			return -1;
		}
		return 0;
	}
	/* no Trash: deletes expunge */
	return 0;
}

static bool sync_commands_have(const struct wbxml_node *commands,
			       bool (*match)(unsigned int tag))
{
	const struct wbxml_node *cmd;

	wbxml_node_foreach_child(commands, cmd) {
		if (match(cmd->tag))
			return TRUE;
	}
	return FALSE;
}

static bool sync_tag_is_delete(unsigned int tag)
{
	return tag == EAS_AIRSYNC_DELETE;
}

static bool sync_tag_changes_mail(unsigned int tag)
{
	return tag != EAS_AIRSYNC_FETCH;
}

/* Apply the client's Commands. Returns 0, or -1 if the changes couldn't
   be committed (collection Status 5, no new state). */
static int sync_client_commands(struct sync_mail_run *run)
{
	struct as_cmd_context *ctx = run->sctx->ctx;
	const struct wbxml_node *commands = run->coll->commands, *cmd;
	struct mailbox_transaction_context *t, *trash_t = NULL;
	struct mailbox *trash = NULL;
	struct mail_save_context *save_ctx = NULL;
	struct mail *mail;
	const char *server_id, *client_id, *error;
	int ret = 0;

	if (commands == NULL)
		return 0;
	if (sync_commands_have(commands, sync_tag_changes_mail) &&
	    as_folders_check_writable(run->box, &error) < 0) {
		/* nothing applied, no new state: the device retries */
		e_error(ctx->event, "Sync: the client's changes can't be "
			"applied: %s", error);
		return -1;
	}
	if (run->coll->deletes_as_moves &&
	    sync_commands_have(commands, sync_tag_is_delete)) {
		if (sync_trash_open(run, &trash) < 0)
			return -1;
		if (trash != NULL) {
			trash_t = mailbox_transaction_begin(trash,
				MAILBOX_TRANSACTION_FLAG_EXTERNAL,
				"activesync sync delete");
		}
	}

	t = mailbox_transaction_begin(run->box, 0, "activesync sync");
	mail = mail_alloc(t, 0, NULL);
	wbxml_node_foreach_child(commands, cmd) {
		server_id = wbxml_node_child_text(cmd, EAS_AIRSYNC_SERVERID);
		client_id = wbxml_node_child_text(cmd, EAS_AIRSYNC_CLIENTID);
		switch (cmd->tag) {
		case EAS_AIRSYNC_CHANGE:
			sync_client_change(run, mail, cmd, server_id);
			break;
		case EAS_AIRSYNC_DELETE:
			sync_client_delete(run, mail, &save_ctx, trash_t,
					   server_id);
			break;
		case EAS_AIRSYNC_FETCH: {
			uint32_t uid = 0;

			if (!sync_client_uid(run, server_id, &uid) ||
			    !mail_set_uid(mail, uid))
				uid = 0;
			sync_response_add(run, EAS_AIRSYNC_FETCH, server_id,
				NULL, uid == 0 ?
				AS_SYNC_STATUS_OBJECT_NOT_FOUND :
				AS_SYNC_STATUS_OK, uid);
			break;
		}
		case EAS_AIRSYNC_ADD:
			sync_client_add(run, cmd, client_id);
			break;
		default:
			e_info(ctx->event, "Sync: unknown command %s ignored",
			       str_sanitize(wbxml_tag_name(cmd->tag) == NULL ?
					    "?" : wbxml_tag_name(cmd->tag), 32));
			break;
		}
	}
	mail_free(&mail);

	/* the copy in Trash first, then the expunge in the source */
	if (trash_t != NULL && mailbox_transaction_commit(&trash_t) < 0) {
		e_error(ctx->event, "Committing to Trash failed: %s",
			mailbox_get_last_internal_error(trash, NULL));
		mailbox_transaction_rollback(&t);
		ret = -1;
	} else if (mailbox_transaction_commit(&t) < 0) {
		e_error(ctx->event, "Committing changes to %s failed: %s",
			mailbox_get_vname(run->box),
			mailbox_get_last_internal_error(run->box, NULL));
		ret = -1;
	} else {
		sync_props_updates_store(run);
	}
	if (trash_t != NULL)
		mailbox_transaction_rollback(&trash_t);
	if (trash != NULL)
		mailbox_free(&trash);
	return ret;
}

/* ---- output ---- */

/* <ApplicationData> of an item in the folder's class */
static void sync_write_item(struct sync_mail_run *run,
			    const struct as_email *email)
{
	if (run->note)
		as_note_write(run->sctx->w, email);
	else
		as_email_write(run->sctx->w, email);
}

static void
sync_write_responses(struct sync_mail_run *run,
		     const struct as_email_params *params,
		     struct mailbox_transaction_context *t)
{
	struct wbxml_writer *w = run->sctx->w;
	const struct sync_response *resp;
	struct as_email *email;
	struct mail *mail;
	const char *error;

	if (array_count(&run->responses) == 0)
		return;
	mail = mail_alloc(t, 0, NULL);
	wbxml_start(w, EAS_AIRSYNC_RESPONSES);
	array_foreach(&run->responses, resp) {
		unsigned int status = resp->status;

		email = NULL;
		if (resp->tag == EAS_AIRSYNC_FETCH &&
		    status == AS_SYNC_STATUS_OK) {
			if (!mail_set_uid(mail, resp->uid) ||
			    as_email_read(mail, params, &email, &error) < 0)
				status = AS_SYNC_STATUS_OBJECT_NOT_FOUND;
		}
		wbxml_start(w, resp->tag);
		if (resp->client_id != NULL)
			wbxml_elem_str(w, EAS_AIRSYNC_CLIENTID,
				       resp->client_id);
		if (resp->server_id != NULL)
			wbxml_elem_str(w, EAS_AIRSYNC_SERVERID,
				       resp->server_id);
		wbxml_elem_uint(w, EAS_AIRSYNC_STATUS, status);
		if (email != NULL)
			sync_write_item(run, email);
		wbxml_end(w);
	}
	wbxml_end(w);
	mail_free(&mail);
}

struct sync_window {
	unsigned int left;
	bool more;
	/* what was sent */
	ARRAY_TYPE(seq_range) sent_adds, sent_removes;
	ARRAY_TYPE(seq_range) unsent_changes;
	bool unsent_other;
};

static void
sync_write_removes(struct sync_mail_run *run, struct sync_window *win,
		   const ARRAY_TYPE(uint32_t) *uids, unsigned int tag)
{
	const uint32_t *uidp;

	array_foreach(uids, uidp) {
		if (win->left == 0) {
			win->unsent_other = TRUE;
			break;
		}
		wbxml_start(run->sctx->w, tag);
		wbxml_elem_str(run->sctx->w, EAS_AIRSYNC_SERVERID,
			       as_email_server_id(run->folder.server_id,
						  *uidp));
		wbxml_end(run->sctx->w);
		seq_range_array_add(&win->sent_removes, *uidp);
		win->left--;
	}
}

/* Changed notes, each written whole (mail has the fields to read) */
static void
sync_write_note_changes(struct sync_mail_run *run, struct sync_window *win,
			const ARRAY_TYPE(seq_range) *uids,
			const struct as_email_params *params, struct mail *mail)
{
	struct wbxml_writer *w = run->sctx->w;
	struct seq_range_iter iter;
	struct as_email *email;
	const char *error;
	unsigned int n = 0;
	uint32_t uid;
	bool sent;

	seq_range_array_iter_init(&iter, uids);
	while (seq_range_array_iter_nth(&iter, n++, &uid)) {
		if (win->left == 0) {
			seq_range_array_add(&win->unsent_changes, uid);
			continue;
		}
		if (!mail_set_uid(mail, uid))
			continue;
		/* the window's arrays live in the caller's data stack frame:
		   they may only grow outside this item's frame */
		T_BEGIN {
			if (as_email_read(mail, params, &email, &error) < 0) {
				e_warning(run->sctx->ctx->event,
					  "Sync: note UID %u of %s: %s", uid,
					  mailbox_get_vname(run->box), error);
				sent = FALSE;
			} else {
				wbxml_start(w, EAS_AIRSYNC_CHANGE);
				wbxml_elem_str(w, EAS_AIRSYNC_SERVERID,
					as_email_server_id(
						run->folder.server_id, uid));
				as_note_write(w, email);
				wbxml_end(w);
				sent = TRUE;
			}
		} T_END;
		if (sent)
			win->left--;
		else
			seq_range_array_add(&win->unsent_changes, uid);
	}
}

static void
sync_write_changes(struct sync_mail_run *run, struct sync_window *win,
		   const struct as_sync_changes *changes,
		   const struct as_email_params *params,
		   struct mailbox_transaction_context *t)
{
	struct as_cmd_context *ctx = run->sctx->ctx;
	struct wbxml_writer *w = run->sctx->w;
	struct mailbox_header_lookup_ctx *headers;
	struct mail *mail;
	struct as_email *email;
	const uint32_t *uidp;
	ARRAY_TYPE(seq_range) note_changes;
	const char *error;
	bool sent;

	if (as_sync_changes_count(changes) == 0)
		return;
	t_array_init(&note_changes, 4);
	wbxml_start(w, EAS_AIRSYNC_COMMANDS);
	sync_write_removes(run, win, &changes->deletes, EAS_AIRSYNC_DELETE);
	sync_write_removes(run, win, &changes->soft_deletes,
			   EAS_AIRSYNC_SOFTDELETE);

	mail = mail_alloc(t, MAIL_FETCH_FLAGS, NULL);
	array_foreach(&changes->changes, uidp) {
		if (win->left == 0) {
			seq_range_array_add(&win->unsent_changes, *uidp);
			continue;
		}
		if (!mail_set_uid(mail, *uidp))
			continue;
		if (run->note) {
			/* a note's Change is the whole note: like an Add */
			seq_range_array_add(&note_changes, *uidp);
			continue;
		}
		wbxml_start(w, EAS_AIRSYNC_CHANGE);
		wbxml_elem_str(w, EAS_AIRSYNC_SERVERID,
			       as_email_server_id(run->folder.server_id,
						  *uidp));
		as_email_write_change_params(w, mail, params);
		wbxml_end(w);
		win->left--;
	}
	/* Adds read much more: tell Dovecot what, so it is fetched at once */
	mail_free(&mail);
	headers = as_email_wanted_headers(run->box);
	mail = mail_alloc(t, AS_EMAIL_WANTED_FIELDS, headers);
	mailbox_header_lookup_unref(&headers);
	sync_write_note_changes(run, win, &note_changes, params, mail);
	array_foreach(&changes->adds, uidp) {
		if (win->left == 0) {
			win->unsent_other = TRUE;
			break;
		}
		if (!mail_set_uid(mail, *uidp))
			continue; /* expunged meanwhile */
		T_BEGIN {
			if (as_email_read(mail, params, &email, &error) < 0) {
				e_warning(ctx->event,
					  "Sync: skipping UID %u of %s for now: "
					  "%s", *uidp,
					  mailbox_get_vname(run->box), error);
				/* not in the state: the next Sync compares
				   the whole folder and sends it then */
				win->unsent_other = TRUE;
				sent = FALSE;
			} else {
				wbxml_start(w, EAS_AIRSYNC_ADD);
				wbxml_elem_str(w, EAS_AIRSYNC_SERVERID,
					as_email_server_id(
						run->folder.server_id, *uidp));
				sync_write_item(run, email);
				wbxml_end(w);
				sent = TRUE;
			}
		} T_END;
		/* grown outside the item's data stack frame: sent_adds lives
		   in the caller's (more than 64 gappy UIDs used to panic) */
		if (sent) {
			seq_range_array_add(&win->sent_adds, *uidp);
			win->left--;
		}
	}
	mail_free(&mail);
	wbxml_end(w);
}

/* ---- item isolation ---- */

static void
sync_skipped_load(struct sync_mail_run *run, ARRAY_TYPE(seq_range) *uids)
{
	struct as_cmd_context *ctx = run->sctx->ctx;
	const char *value, *error, *p;
	uint32_t uid_validity;

	if (as_store_device_prop_get(ctx->store, pool_datastack_create(),
			ctx->username, ctx->req->device_id,
			t_strconcat(AS_SYNC_PROP_SKIPPED,
				    run->coll->collection_id, NULL),
			&value, &error) < 0) {
		e_error(ctx->event, "Sync: reading skipped items: %s", error);
		return;
	}
	if (value == NULL || (p = strchr(value, ' ')) == NULL ||
	    str_to_uint32(t_strdup_until(value, p), &uid_validity) < 0 ||
	    uid_validity != run->state.uid_validity)
		return;
	if (imap_seq_set_nostar_parse(p + 1, uids) < 0)
		array_clear(uids);
}

/* Items isolated before are never sent to this device again */
static void
sync_skipped_remove(struct sync_mail_run *run, struct as_sync_changes *changes)
{
	ARRAY_TYPE(seq_range) skipped;
	unsigned int i;

	if (array_count(&changes->adds) == 0)
		return;
	t_array_init(&skipped, 4);
	sync_skipped_load(run, &skipped);
	if (array_count(&skipped) == 0)
		return;
	for (i = array_count(&changes->adds); i > 0; i--) {
		const uint32_t *uid = array_idx(&changes->adds, i - 1);

		if (seq_range_exists(&skipped, *uid))
			array_delete(&changes->adds, i - 1, 1);
	}
}

static void sync_isolation_notice(struct sync_mail_run *run, uint32_t uid)
{
	struct as_cmd_context *ctx = run->sctx->ctx;
	struct mailbox_transaction_context *t;
	struct mail *mail;
	const char *subject = NULL, *date_str = "unknown date";
	time_t date;
	int tz;

	t = mailbox_transaction_begin(run->box, 0, "activesync isolate");
	mail = mail_alloc(t, 0, NULL);
	if (mail_set_uid(mail, uid)) {
		/* copied: the mail's memory goes with mail_free() */
		if (mail_get_first_header_utf8(mail, "Subject", &subject) <= 0)
			subject = NULL;
		else
			subject = t_strdup(subject);
		if (mail_get_date(mail, &date, &tz) == 0 && date > 0) {
			struct tm *tm = gmtime(&date);
			char buf[64];

			if (strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M UTC",
				     tm) > 0)
				date_str = t_strdup(buf);
		}
	}
	mail_free(&mail);
	(void)mailbox_transaction_commit(&t);
	subject = subject == NULL || *subject == '\0' ? "(no subject)" :
		str_sanitize_utf8(subject, 200);
	(void)as_sync_notice_once(ctx,
		t_strdup_printf("item:%s:%u:%u", run->coll->collection_id,
				run->state.uid_validity, uid),
		"A message could not be delivered to your device",
		t_strdup_printf(
"Your device %s failed several times to take the message\n"
"\n"
"  \"%s\"\n"
"  dated %s, in the folder \"%s\"\n"
"\n"
"so it is no longer offered to that device, and the rest of the folder\n"
"syncs again. The message itself is still in your mailbox: read it with\n"
"webmail or another mail program.\n",
		str_sanitize(ctx->req->device_id, 64), subject, date_str,
		str_sanitize_utf8(mailbox_get_vname(run->box), 200)));
}

static void sync_isolate_skip(struct sync_mail_run *run, uint32_t uid)
{
	struct as_cmd_context *ctx = run->sctx->ctx;
	ARRAY_TYPE(seq_range) skipped;
	string_t *str = t_str_new(64);
	const char *error, *coll_id = run->coll->collection_id;

	t_array_init(&skipped, 4);
	sync_skipped_load(run, &skipped);
	seq_range_array_add(&skipped, uid);
	str_printfa(str, "%u ", run->state.uid_validity);
	imap_write_seq_range(str, &skipped);
	if (as_store_device_prop_put(ctx->store, ctx->username,
			ctx->req->device_id,
			t_strconcat(AS_SYNC_PROP_SKIPPED, coll_id, NULL),
			str_c(str), &error) < 0 ||
	    as_store_device_prop_put(ctx->store, ctx->username,
			ctx->req->device_id,
			t_strconcat(AS_SYNC_PROP_ISOLATE, coll_id, NULL),
			NULL, &error) < 0) {
		e_error(ctx->event, "Sync: isolating UID %u: %s", uid, error);
		return;
	}
	e_warning(ctx->event, "Sync: device keeps failing on UID %u of %s: "
		  "no longer sent to it", uid, mailbox_get_vname(run->box));
	sync_isolation_notice(run, uid);
}

/* A device that sends the same SyncKey again and again with the same
   first Add is most likely failing on that item: give it one item at a
   time, then leave the item out (and tell the user) instead of looping
   forever. Only repeated keys (replays) are counted, so a normal Sync
   writes nothing here. */
static void
sync_isolation(struct sync_mail_run *run, struct as_sync_changes *changes,
	       struct sync_window *win)
{
	struct as_cmd_context *ctx = run->sctx->ctx;
	const char *prop, *value, *error, *const *f;
	unsigned int key = 0, count = 0;
	uint32_t first, uid = 0;

	if (!run->replay || array_count(&changes->adds) == 0)
		return;
	first = *array_front(&changes->adds);
	prop = t_strconcat(AS_SYNC_PROP_ISOLATE, run->coll->collection_id,
			   NULL);
	if (as_store_device_prop_get(ctx->store, pool_datastack_create(),
				     ctx->username, ctx->req->device_id,
				     prop, &value, &error) < 0) {
		e_error(ctx->event, "Sync: isolation state: %s", error);
		return;
	}
	f = value == NULL ? NULL : t_strsplit(value, " ");
	if (f == NULL || str_array_length(f) != 3 ||
	    str_to_uint(f[0], &key) < 0 || str_to_uint32(f[1], &uid) < 0 ||
	    str_to_uint(f[2], &count) < 0 ||
	    key != run->coll->sync_key || uid != first) {
		/* the first answer to this key was attempt 1 */
		count = 1;
	}
	count++;
	if (count >= AS_SYNC_ISOLATE_SKIP_AFTER) {
		sync_isolate_skip(run, first);
		array_delete(&changes->adds, 0, 1);
		return;
	}
	if (as_store_device_prop_put(ctx->store, ctx->username,
			ctx->req->device_id, prop,
			t_strdup_printf("%u %u %u", run->coll->sync_key,
					first, count), &error) < 0)
		e_error(ctx->event, "Sync: isolation state: %s", error);
	if (count >= AS_SYNC_ISOLATE_WINDOW_AFTER) {
		e_info(ctx->event, "Sync: SyncKey %u of %s sent %u times "
		       "with UID %u first: window of 1",
		       run->coll->sync_key, run->coll->collection_id, count,
		       first);
		win->left = 1;
	}
}

/* ---- one mail collection ---- */

static int sync_mailbox_status(struct mailbox *box,
			       struct mailbox_status *status_r)
{
	if (mailbox_sync(box, 0) < 0)
		return -1;
	mailbox_get_open_status(box, STATUS_UIDVALIDITY | STATUS_UIDNEXT |
				STATUS_HIGHESTMODSEQ, status_r);
	return 0;
}

static unsigned int sync_mail_collection_run(struct sync_mail_run *run)
{
	struct sync_context *sctx = run->sctx;
	struct as_cmd_context *ctx = sctx->ctx;
	struct sync_collection *coll = run->coll;
	struct wbxml_writer *w = sctx->w;
	struct as_sync_changes_input in;
	struct as_sync_changes changes;
	struct as_collection_state new_state;
	struct as_sync_state_extra new_extra;
	struct mailbox_status status;
	struct mailbox_metadata metadata;
	struct mailbox_transaction_context *t;
	struct as_email_params params;
	struct sync_window win;
	const char *error;
	unsigned int new_key = coll->sync_key + 1;
	bool filter_changed = FALSE;

	if (coll->have_options) {
		filter_changed = !as_sync_options_filter_equals(
			&coll->options, &run->extra.options);
		run->extra.options = coll->options;
	}
	if (run->extra.max_age != sctx->max_age) {
		/* the admin changed the limit: compare the whole folder */
		filter_changed = TRUE;
	}
	if (sync_mailbox_status(run->box, &status) < 0) {
		e_error(ctx->event, "Sync of %s failed: %s",
			mailbox_get_vname(run->box),
			mailbox_get_last_internal_error(run->box, NULL));
		return AS_SYNC_STATUS_SERVER_ERROR;
	}
	if (status.uidvalidity != run->state.uid_validity) {
		e_info(ctx->event, "Sync: UIDVALIDITY of %s changed "
		       "(%u -> %u): device must resync",
		       mailbox_get_vname(run->box), run->state.uid_validity,
		       status.uidvalidity);
		return AS_SYNC_STATUS_INVALID_SYNC_KEY;
	}

	if (mailbox_get_metadata(run->box, MAILBOX_METADATA_GUID,
				 &metadata) == 0) {
		memcpy(run->box_guid, metadata.guid, sizeof(run->box_guid));
		run->have_box_guid = TRUE;
	}
	p_array_init(&run->responses, ctx->pool, 4);
	t_array_init(&run->client_changed, 8);
	t_array_init(&run->client_deleted, 8);
	t_array_init(&run->client_added, 4);
	if (sync_client_commands(run) < 0)
		return AS_SYNC_STATUS_SERVER_ERROR;
	/* our own changes are in the mailbox now: the state we store
	   includes them */
	if (sync_mailbox_status(run->box, &status) < 0) {
		e_error(ctx->event, "Sync of %s failed: %s",
			mailbox_get_vname(run->box),
			mailbox_get_last_internal_error(run->box, NULL));
		return AS_SYNC_STATUS_SERVER_ERROR;
	}

	/* the state the device has after our client command handling */
	i_zero(&new_state);
	new_state.uid_validity = status.uidvalidity;
	t_array_init(&new_state.uids, 64);
	array_append_array(&new_state.uids, &run->state.uids);
	seq_range_array_remove_seq_range(&new_state.uids,
					 &run->client_deleted);
	/* the device has the drafts it just added */
	seq_range_array_merge(&new_state.uids, &run->client_added);
	run->state.uids = new_state.uids;
	new_extra = run->extra;
	new_extra.max_age = sctx->max_age;
	t_array_init(&new_extra.pending_changes, 8);

	i_zero(&win);
	win.left = coll->window_size;
	t_array_init(&win.sent_adds, 64);
	t_array_init(&win.sent_removes, 16);
	t_array_init(&win.unsent_changes, 8);

	i_zero(&changes);
	if (coll->get_changes) {
		i_zero(&in);
		in.box = run->box;
		in.status = &status;
		in.state = &run->state;
		in.full = run->extra.full || filter_changed;
		in.pending_changes = &run->extra.pending_changes;
		in.exclude_changes = &run->client_changed;
		in.since = sync_since(sctx, &run->folder,
				      run->extra.options.filter_type);
		if (as_sync_changes_compute(pool_datastack_create(), &in,
					    &changes, &error) < 0) {
			e_error(ctx->event, "Sync: computing changes of %s "
				"failed: %s", mailbox_get_vname(run->box),
				error);
			return AS_SYNC_STATUS_SERVER_ERROR;
		}
		new_state.highest_modseq = status.highest_modseq;
		new_state.uid_next = status.uidnext;
	} else {
		/* nothing sent: keep what is still to be sent */
		new_state.highest_modseq = run->state.highest_modseq;
		new_state.uid_next = run->state.uid_next;
		array_append_array(&new_extra.pending_changes,
				   &run->extra.pending_changes);
		new_extra.full = run->extra.full || filter_changed;
	}

	i_zero(&params);
	params.version = ctx->req->version;
	params.folder_id = run->folder.server_id;
	params.body = &run->extra.options.body;
	if (run->have_box_guid) {
		params.store = ctx->store;
		params.user = ctx->username;
		params.box_guid = run->box_guid;
	}

	sync_write_collection_start(sctx, coll, dec2str(new_key),
				    AS_SYNC_STATUS_OK);
	t = mailbox_transaction_begin(run->box, 0, "activesync sync fetch");
	sync_write_responses(run, &params, t);
	if (coll->get_changes) {
		unsigned int total;

		sync_skipped_remove(run, &changes);
		sync_isolation(run, &changes, &win);
		total = as_sync_changes_count(&changes);

		if (total > win.left)
			wbxml_empty(w, EAS_AIRSYNC_MOREAVAILABLE);
		sync_write_changes(run, &win, &changes, &params, t);
		seq_range_array_remove_seq_range(&new_state.uids,
						 &win.sent_removes);
		seq_range_array_merge(&new_state.uids, &win.sent_adds);
		new_extra.full = win.unsent_other;
		array_append_array(&new_extra.pending_changes,
				   &win.unsent_changes);
		if (total > 0) {
			e_debug(ctx->event, "Sync %s: %u adds, %u changes, "
				"%u deletes, %u soft deletes, window %u%s",
				coll->collection_id,
				array_count(&changes.adds),
				array_count(&changes.changes),
				array_count(&changes.deletes),
				array_count(&changes.soft_deletes),
				coll->window_size,
				win.unsent_other ||
				array_count(&win.unsent_changes) > 0 ?
				", more available" : "");
		}
	}
	(void)mailbox_transaction_commit(&t);
	wbxml_end(w);

	if (coll->get_changes)
		sync_props_forget(run, &changes.deletes);
	new_state.options = as_sync_state_extra_write(&new_extra);
	if (sync_state_put(sctx, coll, new_key, &new_state, &error) < 0) {
		/* the whole response is replaced by 503 (state_failed):
		   the device retries with the key it has */
		e_error(ctx->event, "Sync: storing state %u of %s failed, "
			"answering 503: %s", new_key, coll->collection_id,
			error);
	}
	return AS_SYNC_STATUS_OK;
}

/* SyncKey 0: forget the collection's states and start with an empty
   device, so the next Sync sends everything as Adds. */
static unsigned int
sync_collection_prime(struct sync_context *sctx, struct sync_collection *coll,
		       const struct as_folder_info *folder)
{
	struct as_cmd_context *ctx = sctx->ctx;
	struct as_collection_state state;
	struct as_sync_state_extra extra;
	struct mailbox *box;
	struct mailbox_status status;
	const char *error;

	i_zero(&state);
	t_array_init(&state.uids, 1);
	i_zero(&extra);
	if (coll->have_options)
		extra.options = coll->options;
	else
		as_sync_options_init(&extra.options);
	extra.full = TRUE;
	extra.max_age = sctx->max_age;

	if (as_folder_is_synced(folder)) {
		if (as_folders_open(ctx, folder, 0, &box, &error) < 0) {
			e_info(ctx->event, "Sync: folder %s: %s",
			       folder->server_id, error);
			return AS_SYNC_STATUS_HIERARCHY_CHANGED;
		}
		if (mailbox_enable(box, MAILBOX_FEATURE_CONDSTORE) < 0 ||
		    sync_mailbox_status(box, &status) < 0) {
			e_error(ctx->event, "Sync: folder %s: %s",
				folder->server_id,
				mailbox_get_last_internal_error(box, NULL));
			mailbox_free(&box);
			return AS_SYNC_STATUS_SERVER_ERROR;
		}
		state.uid_validity = status.uidvalidity;
		mailbox_free(&box);
	}
	state.options = as_sync_state_extra_write(&extra);

	if (as_store_collection_reset(ctx->store, ctx->username,
				      ctx->req->device_id,
				      coll->collection_id, &error) < 0 ||
	    as_store_collection_put(ctx->store, ctx->username,
				    ctx->req->device_id, coll->collection_id,
				    1, &state, &error) < 0) {
		e_error(ctx->event, "Sync: state store: %s", error);
		return AS_SYNC_STATUS_SERVER_ERROR;
	}
	sync_write_collection_start(sctx, coll, "1", AS_SYNC_STATUS_OK);
	wbxml_end(sctx->w);
	return AS_SYNC_STATUS_OK;
}

/* A folder without mail sync (no-select parents; calendar, contacts,
   tasks and notes until their converters exist): keys advance, no items. */
static unsigned int
sync_collection_empty(struct sync_context *sctx, struct sync_collection *coll,
		      const struct as_collection_state *state)
{
	const char *error;
	unsigned int new_key = coll->sync_key + 1;

	sync_write_collection_start(sctx, coll, dec2str(new_key),
				    AS_SYNC_STATUS_OK);
	wbxml_end(sctx->w);
	if (sync_state_put(sctx, coll, new_key, state, &error) < 0) {
		e_error(sctx->ctx->event, "Sync: state store: %s", error);
	}
	return AS_SYNC_STATUS_OK;
}

/* ---- no changes, answered without opening the folder ---- */

/* Could a Sync of this collection be nothing but "no changes" if the
   folder's UIDVALIDITY, UIDNEXT and HIGHESTMODSEQ equal the state's? Not
   with client Commands, without GetChanges, when the state has work left
   (a whole-folder compare after a window or a filter change, flag changes
   a window could not send) or when the filter or the mail age limit
   changed. Isolation and skipped items only act on Adds, so they need
   nothing here. */
static bool
sync_collection_may_be_unchanged(struct sync_context *sctx,
				 const struct sync_collection *coll,
				 const struct as_sync_state_extra *extra)
{
	if (coll->commands != NULL || !coll->get_changes)
		return FALSE;
	if (extra->full || array_count(&extra->pending_changes) > 0)
		return FALSE;
	if (extra->max_age != sctx->max_age)
		return FALSE;
	if (coll->have_options &&
	    !as_sync_options_filter_equals(&coll->options, &extra->options))
		return FALSE;
	return TRUE;
}

/* TRUE if the folder's status from the mailbox list index equals the
   state: the folder has not changed since, and it is not opened (on a
   large maildir, opening re-reads the whole uidlist). FALSE when that
   is not known: the caller opens the folder and compares as usual;
   *box_r is the folder if Dovecot opened it already, else NULL. */
static bool
sync_folder_unchanged(struct sync_context *sctx,
		      const struct sync_collection *coll,
		      const struct as_folder_info *folder,
		      const struct as_collection_state *state,
		      struct mailbox **box_r)
{
	struct as_cmd_context *ctx = sctx->ctx;
	struct mailbox *box;
	struct mailbox_status status;
	struct mailbox_metadata metadata;
	const char *reason = NULL;
	bool unchanged = FALSE, opened;
	int ret;

	*box_r = NULL;
	box = mailbox_alloc(as_folders_namespace(ctx)->list, folder->vname, 0);
	/* recorded for the open that may follow; opens nothing */
	(void)mailbox_enable(box, MAILBOX_FEATURE_CONDSTORE);
	ret = as_sync_changes_index_status(box, folder->guid, &status,
					   &opened, &reason);
	if (ret < 0) {
		reason = t_strdup(mailbox_get_last_internal_error(box, NULL));
		opened = FALSE;
	} else if (ret > 0) {
		unchanged = status.uidvalidity == state->uid_validity &&
			status.uidnext == state->uid_next &&
			status.highest_modseq == state->highest_modseq;
		if (!unchanged) {
			reason = t_strdup_printf("index status differs "
				"(UIDNEXT %u, HIGHESTMODSEQ %"PRIu64")",
				status.uidnext, status.highest_modseq);
		}
	}
	if (unchanged) {
		e_debug(ctx->event, "Sync %s: no changes (answered from the "
			"mailbox list index status, folder not opened)",
			coll->collection_id);
	} else {
		e_debug(ctx->event, "Sync %s: opening the folder: %s",
			coll->collection_id, reason);
	}
	if (opened && !unchanged &&
	    mailbox_get_metadata(box, MAILBOX_METADATA_GUID, &metadata) == 0 &&
	    guid_128_equals(metadata.guid, folder->guid)) {
		/* Dovecot opened and synced it to answer: use it */
		*box_r = box;
		return FALSE;
	}
	mailbox_free(&box);
	return unchanged;
}

/* What sync_mail_collection_run() answers and stores when nothing
   changed and the client sent no Commands */
static void sync_collection_unchanged(struct sync_mail_run *run)
{
	struct sync_context *sctx = run->sctx;
	struct sync_collection *coll = run->coll;
	struct as_collection_state new_state;
	struct as_sync_state_extra new_extra;
	unsigned int new_key = coll->sync_key + 1;
	const char *error;

	new_extra = run->extra;
	if (coll->have_options)
		new_extra.options = coll->options;
	new_extra.max_age = sctx->max_age;
	new_state = run->state;
	new_state.options = as_sync_state_extra_write(&new_extra);

	sync_write_collection_start(sctx, coll, dec2str(new_key),
				    AS_SYNC_STATUS_OK);
	wbxml_end(sctx->w);
	if (sync_state_put(sctx, coll, new_key, &new_state, &error) < 0) {
		e_error(sctx->ctx->event, "Sync: storing state %u of %s "
			"failed: %s", new_key, coll->collection_id, error);
	}
}

static void sync_collection(struct sync_context *sctx,
			    struct sync_collection *coll)
{
	struct as_cmd_context *ctx = sctx->ctx;
	struct sync_mail_run run;
	const char *error;
	unsigned int status;
	int ret;

	i_zero(&run);
	run.sctx = sctx;
	run.coll = coll;
	ret = as_folders_lookup(ctx, coll->collection_id, &run.folder, &error);
	if (ret < 0) {
		e_error(ctx->event, "Sync: folder lookup %s failed: %s",
			str_sanitize(coll->collection_id, 64), error);
		sync_write_collection_status(sctx, coll,
					     AS_SYNC_STATUS_SERVER_ERROR);
		return;
	}
	if (ret == 0) {
		/* not in the current hierarchy: FolderSync needed */
		e_info(ctx->event, "Sync: unknown CollectionId %s",
		       str_sanitize(coll->collection_id, 64));
		sync_write_collection_status(sctx, coll,
					     AS_SYNC_STATUS_HIERARCHY_CHANGED);
		as_sync_hierarchy_ignored(ctx, coll->collection_id);
		return;
	}
	if (coll->sync_key == 0) {
		status = sync_collection_prime(sctx, coll, &run.folder);
		if (status != AS_SYNC_STATUS_OK)
			sync_write_collection_status(sctx, coll, status);
		return;
	}

	ret = sync_state_get(sctx, coll, pool_datastack_create(), &run.state,
			     &run.replay, &error);
	if (ret <= 0) {
		if (ret < 0) {
			e_error(ctx->event, "Sync: state store: %s", error);
			status = AS_SYNC_STATUS_SERVER_ERROR;
		} else {
			e_info(ctx->event, "Sync: invalid SyncKey %s for "
			       "collection %s",
			       str_sanitize(coll->sync_key_str, 32),
			       str_sanitize(coll->collection_id, 64));
			status = AS_SYNC_STATUS_INVALID_SYNC_KEY;
		}
		sync_write_collection_status(sctx, coll, status);
		return;
	}
	if (!array_is_created(&run.state.uids))
		t_array_init(&run.state.uids, 1);
	as_sync_state_extra_read(run.state.options, &run.extra);

	if (!as_folder_is_synced(&run.folder)) {
		(void)sync_collection_empty(sctx, coll, &run.state);
		return;
	}
	run.note = as_folder_class(&run.folder) == AS_FOLDER_CLASS_NOTES;
	if (sync_collection_may_be_unchanged(sctx, coll, &run.extra) &&
	    sync_folder_unchanged(sctx, coll, &run.folder, &run.state,
				  &run.box)) {
		sync_collection_unchanged(&run);
		return;
	}
	if (run.box == NULL &&
	    as_folders_open(ctx, &run.folder, 0, &run.box, &error) < 0) {
		e_info(ctx->event, "Sync: folder %s: %s",
		       run.folder.server_id, error);
		sync_write_collection_status(sctx, coll,
					     AS_SYNC_STATUS_HIERARCHY_CHANGED);
		return;
	}
	if (mailbox_enable(run.box, MAILBOX_FEATURE_CONDSTORE) < 0) {
		e_error(ctx->event, "Sync: enabling CONDSTORE on %s: %s",
			mailbox_get_vname(run.box),
			mailbox_get_last_internal_error(run.box, NULL));
		status = AS_SYNC_STATUS_SERVER_ERROR;
	} else {
		status = sync_mail_collection_run(&run);
	}
	mailbox_free(&run.box);
	if (status != AS_SYNC_STATUS_OK)
		sync_write_collection_status(sctx, coll, status);
}

/* ---- the cached request (empty and partial Syncs) ---- */

/* The last Sync request of a device, without SyncKeys and Commands. An
   empty request repeats it, a partial one adds to it (MS-ASCMD 4.5.10,
   4.5.11). It is kept as the options string of a pseudo collection, so
   it needs nothing new in the store and goes away with the device. */
#define AS_SYNC_REQUEST_CACHE_ID "#sync-request"
#define AS_SYNC_REQUEST_CACHE_VERSION "1"

static void sync_request_cache_save(struct sync_context *sctx)
{
	struct as_cmd_context *ctx = sctx->ctx;
	struct as_collection_state state;
	const struct sync_collection *coll;
	string_t *str = t_str_new(256), *opts = t_str_new(128);
	const char *error;

	str_printfa(str, "%s\t%u\t%u\n", AS_SYNC_REQUEST_CACHE_VERSION,
		    sctx->wait_given ? sctx->wait_secs : 0,
		    sctx->req_window_size);
	array_foreach(&sctx->colls, coll) {
		str_truncate(opts, 0);
		if (coll->have_options)
			as_sync_options_write(opts, &coll->options);
		str_printfa(str, "%s\t%s\t%u\t%s\t%d\t%s\n",
			    str_tabescape(coll->collection_id),
			    coll->class_name == NULL ? "" :
			    str_tabescape(coll->class_name),
			    coll->req_window_size,
			    !coll->get_changes_set ? "-" :
			    coll->get_changes ? "1" : "0",
			    coll->deletes_as_moves ? 1 : 0,
			    coll->have_options ? str_tabescape(str_c(opts)) :
			    "-");
	}
	/* a device usually sends the same request again and again: a read
	   is much cheaper than a durable write */
	i_zero(&state);
	if (as_store_collection_get(ctx->store, pool_datastack_create(),
				    ctx->username, ctx->req->device_id,
				    AS_SYNC_REQUEST_CACHE_ID, 1, &state,
				    &error) > 0 &&
	    strcmp(state.options, str_c(str)) == 0)
		return;
	i_zero(&state);
	t_array_init(&state.uids, 1);
	state.options = str_c(str);
	if (as_store_collection_put(ctx->store, ctx->username,
				    ctx->req->device_id,
				    AS_SYNC_REQUEST_CACHE_ID, 1, &state,
				    &error) < 0)
		e_error(ctx->event, "Sync: caching the request failed: %s",
			error);
}

static bool
sync_colls_have(struct sync_context *sctx, const char *collection_id)
{
	const struct sync_collection *coll;

	array_foreach(&sctx->colls, coll) {
		if (strcmp(coll->collection_id, collection_id) == 0)
			return TRUE;
	}
	return FALSE;
}

/* Add the cached collections the request doesn't name, each with the
   SyncKey the device holds (the latest). Returns 1 if there was a cached
   request, 0 if not, -1 on error. */
static int sync_request_cache_load(struct sync_context *sctx)
{
	struct as_cmd_context *ctx = sctx->ctx;
	struct as_collection_state state;
	struct sync_collection *coll;
	const char *const *lines, *const *f, *error;
	unsigned int num, latest;
	int ret;

	ret = as_store_collection_get(ctx->store, pool_datastack_create(),
				      ctx->username, ctx->req->device_id,
				      AS_SYNC_REQUEST_CACHE_ID, 1, &state,
				      &error);
	if (ret <= 0) {
		if (ret < 0)
			e_error(ctx->event, "Sync: reading the cached "
				"request failed: %s", error);
		return ret;
	}
	lines = t_strsplit(state.options, "\n");
	f = t_strsplit_tabescaped(lines[0]);
	if (str_array_length(f) != 3 ||
	    strcmp(f[0], AS_SYNC_REQUEST_CACHE_VERSION) != 0)
		return 0;
	if (!sctx->wait_given && str_to_uint(f[1], &num) == 0 && num > 0) {
		sctx->wait_secs = num;
		sctx->wait_given = TRUE;
	}
	if (sctx->req_window_size == 0 && str_to_uint(f[2], &num) == 0 &&
	    num > 0 && num <= 512) {
		sctx->req_window_size = num;
		sctx->default_window_size = num;
	}
	for (lines++; *lines != NULL; lines++) {
		if (**lines == '\0')
			continue;
		f = t_strsplit_tabescaped(*lines);
		if (str_array_length(f) != 6 || sync_colls_have(sctx, f[0]))
			continue;
		if (as_store_collection_latest(ctx->store, ctx->username,
					       ctx->req->device_id, f[0],
					       &latest, &error) <= 0)
			continue; /* never synced (or reset): skip */
		coll = array_append_space(&sctx->colls);
		coll->collection_id = p_strdup(ctx->pool, f[0]);
		if (*f[1] != '\0')
			coll->class_name = p_strdup(ctx->pool, f[1]);
		coll->sync_key_str = p_strdup(ctx->pool, dec2str(latest));
		if (str_to_uint(f[2], &coll->req_window_size) < 0 ||
		    coll->req_window_size > 512)
			coll->req_window_size = 0;
		if (strcmp(f[3], "-") != 0) {
			coll->get_changes_set = TRUE;
			coll->get_changes = strcmp(f[3], "1") == 0;
		}
		coll->deletes_as_moves = strcmp(f[4], "1") == 0;
		if (strcmp(f[5], "-") != 0) {
			coll->have_options = TRUE;
			as_sync_options_read(f[5], &coll->options);
		}
		sync_collection_finish(sctx, coll);
	}
	return 1;
}

/* ---- the command ---- */

static void sync_write_top_status(struct sync_context *sctx,
				  unsigned int status, int limit)
{
	struct as_cmd_context *ctx = sctx->ctx;

	/* nothing may have been written yet (the dispatcher's writer
	   holds only the header) */
	wbxml_start(ctx->writer, EAS_AIRSYNC_SYNC);
	wbxml_elem_uint(ctx->writer, EAS_AIRSYNC_STATUS, status);
	if (limit >= 0)
		wbxml_elem_uint(ctx->writer, EAS_AIRSYNC_LIMIT, limit);
	wbxml_end(ctx->writer);
}

/* Wait (minutes) / HeartbeatInterval (seconds) range check. Returns -1
   and writes Status 14 with the violated limit (4 if both are given). */
static int sync_check_wait(struct sync_context *sctx,
			   const struct wbxml_node *root)
{
	const char *value;
	unsigned int num;

	if (wbxml_node_child(root, EAS_AIRSYNC_WAIT) != NULL &&
	    wbxml_node_child(root, EAS_AIRSYNC_HEARTBEATINTERVAL) != NULL) {
		e_info(sctx->ctx->event, "Sync: both Wait and "
		       "HeartbeatInterval");
		sync_write_top_status(sctx, AS_SYNC_STATUS_PROTOCOL_ERROR, -1);
		return -1;
	}
	value = wbxml_node_child_text(root, EAS_AIRSYNC_WAIT);
	if (value != NULL) {
		if (str_to_uint(value, &num) < 0 || num < AS_SYNC_WAIT_MIN) {
			sync_write_top_status(sctx, AS_SYNC_STATUS_INVALID_WAIT,
					      AS_SYNC_WAIT_MIN);
			return -1;
		}
		if (num > AS_SYNC_WAIT_MAX) {
			sync_write_top_status(sctx, AS_SYNC_STATUS_INVALID_WAIT,
					      AS_SYNC_WAIT_MAX);
			return -1;
		}
		sctx->wait_secs = num * 60;
		sctx->wait_given = TRUE;
	}
	value = wbxml_node_child_text(root, EAS_AIRSYNC_HEARTBEATINTERVAL);
	if (value != NULL) {
		if (str_to_uint(value, &num) < 0 ||
		    num < AS_SYNC_HEARTBEAT_MIN) {
			sync_write_top_status(sctx, AS_SYNC_STATUS_INVALID_WAIT,
					      AS_SYNC_HEARTBEAT_MIN);
			return -1;
		}
		if (num > AS_SYNC_HEARTBEAT_MAX) {
			sync_write_top_status(sctx, AS_SYNC_STATUS_INVALID_WAIT,
					      AS_SYNC_HEARTBEAT_MAX);
			return -1;
		}
		sctx->wait_secs = num;
		sctx->wait_given = TRUE;
	}
	return 0;
}

/* ---- Wait / HeartbeatInterval ---- */

/* Would a Sync of this collection now send or do anything? Errors count
   as "yes": they are answered at once. */
static bool sync_collection_has_work(struct sync_context *sctx,
				     struct sync_collection *coll)
{
	struct as_cmd_context *ctx = sctx->ctx;
	struct as_folder_info folder;
	struct as_collection_state state;
	struct as_sync_state_extra extra;
	struct as_sync_changes_input in;
	struct as_sync_changes changes;
	struct mailbox *box;
	struct mailbox_status status;
	const char *error;
	bool replay, work;

	if (coll->sync_key == 0 || coll->commands != NULL)
		return TRUE;
	if (as_folders_lookup(ctx, coll->collection_id, &folder, &error) <= 0)
		return TRUE;
	if (sync_state_get(sctx, coll, pool_datastack_create(), &state,
			   &replay, &error) <= 0 || replay)
		return TRUE;
	if (!as_folder_is_synced(&folder) || !coll->get_changes)
		return FALSE;
	as_sync_state_extra_read(state.options, &extra);
	if (coll->have_options &&
	    !as_sync_options_filter_equals(&coll->options, &extra.options))
		return TRUE;
	if (extra.max_age != sctx->max_age)
		return TRUE;
	if (!array_is_created(&state.uids))
		t_array_init(&state.uids, 1);
	box = NULL;
	if (sync_collection_may_be_unchanged(sctx, coll, &extra) &&
	    sync_folder_unchanged(sctx, coll, &folder, &state, &box))
		return FALSE;

	if (box == NULL &&
	    as_folders_open(ctx, &folder, 0, &box, &error) < 0)
		return TRUE;
	if (mailbox_enable(box, MAILBOX_FEATURE_CONDSTORE) < 0 ||
	    sync_mailbox_status(box, &status) < 0 ||
	    status.uidvalidity != state.uid_validity)
		work = TRUE;
	else {
		i_zero(&in);
		in.box = box;
		in.status = &status;
		in.state = &state;
		in.full = extra.full;
		in.pending_changes = &extra.pending_changes;
		in.since = sync_since(sctx, &folder, extra.options.filter_type);
		if (as_sync_changes_none(&in))
			work = FALSE;
		else if (as_sync_changes_compute(pool_datastack_create(), &in,
						 &changes, &error) < 0)
			work = TRUE;
		else
			work = as_sync_changes_count(&changes) > 0;
	}
	mailbox_free(&box);
	return work;
}

static bool sync_have_work(struct sync_context *sctx)
{
	struct sync_collection *coll;
	bool work = FALSE;

	array_foreach_modifiable(&sctx->colls, coll) {
		T_BEGIN {
			work = sync_collection_has_work(sctx, coll);
		} T_END;
		if (work)
			break;
	}
	return work;
}

static void sync_write_response(struct sync_context *sctx)
{
	struct sync_collection *coll;

	wbxml_start(sctx->w, EAS_AIRSYNC_SYNC);
	wbxml_start(sctx->w, EAS_AIRSYNC_COLLECTIONS);
	array_foreach_modifiable(&sctx->colls, coll) T_BEGIN {
		sync_collection(sctx, coll);
	} T_END;
	wbxml_end(sctx->w);
	wbxml_end(sctx->w);
}

static void sync_wait_free(struct sync_context *sctx)
{
	if (sctx->watch != NULL)
		as_watch_deinit(&sctx->watch);
	timeout_remove(&sctx->to_wait);
	sctx->ctx->abort = NULL;
}

static void sync_wait_finish(struct sync_context *sctx, bool work)
{
	sync_wait_free(sctx);
	/* nothing changed: an empty response, the device keeps its keys */
	if (work) T_BEGIN {
		sync_write_response(sctx);
	} T_END;
	if (sctx->state_failed)
		as_cmd_set_retry_later(sctx->ctx);
	as_cmd_finish(sctx->ctx);
}

static void
sync_wait_changed(const ARRAY_TYPE(const_string) *changed_vnames ATTR_UNUSED,
		  struct sync_context *sctx)
{
	if (sync_have_work(sctx))
		sync_wait_finish(sctx, TRUE);
}

static void sync_wait_timeout(struct sync_context *sctx)
{
	sync_wait_finish(sctx, sync_have_work(sctx));
}

static void sync_wait_abort(struct as_cmd_context *ctx)
{
	sync_wait_free(ctx->cmd_context);
}

static void sync_wait_start(struct sync_context *sctx)
{
	struct as_cmd_context *ctx = sctx->ctx;

	e_debug(ctx->event, "Sync: no changes, waiting up to %u secs",
		sctx->wait_secs);
	sctx->watch = as_watch_init(ctx->mail_user, ctx->event,
				    AS_SYNC_WAIT_DEBOUNCE_MSECS,
				    sync_wait_changed, sctx);
	sctx->to_wait = timeout_add(sctx->wait_secs * 1000,
				    sync_wait_timeout, sctx);
	ctx->cmd_context = sctx;
	ctx->abort = sync_wait_abort;
}

/* Returns -1 after writing the error status. */
static int sync_parse_collections(struct sync_context *sctx,
				  const struct wbxml_node *collections)
{
	struct as_cmd_context *ctx = sctx->ctx;
	const struct wbxml_node *node;
	struct sync_collection *coll;
	const char *error;

	wbxml_node_foreach_child(collections, node) {
		if (node->tag != EAS_AIRSYNC_COLLECTION) {
			e_info(ctx->event, "Sync: unexpected element in "
			       "Collections");
			sync_write_top_status(sctx,
				AS_SYNC_STATUS_PROTOCOL_ERROR, -1);
			return -1;
		}
		if (array_count(&sctx->colls) >= AS_SYNC_MAX_COLLECTIONS) {
			e_info(ctx->event, "Sync: too many collections");
			sync_write_top_status(sctx,
				AS_SYNC_STATUS_TOO_MANY_COLLECTIONS, -1);
			return -1;
		}
		coll = array_append_space(&sctx->colls);
		if (sync_collection_parse(sctx, node, coll, &error) < 0) {
			e_info(ctx->event, "Sync: protocol error: %s", error);
			sync_write_top_status(sctx,
				AS_SYNC_STATUS_PROTOCOL_ERROR, -1);
			return -1;
		}
	}
	return 0;
}

enum as_command_result cmd_sync(struct as_cmd_context *ctx)
{
	struct sync_context *sctx;
	const struct wbxml_node *root = ctx->root, *collections = NULL;
	const char *value;
	bool partial;

	/* lives as long as the request (held Syncs) */
	sctx = p_new(ctx->pool, struct sync_context, 1);
	sctx->ctx = ctx;
	sctx->w = ctx->writer;
	sctx->default_window_size = AS_SYNC_DEFAULT_WINDOW_SIZE;
	p_array_init(&sctx->colls, ctx->pool, 8);
	T_BEGIN {
		sctx->max_age = sync_max_age(ctx);
	} T_END;

	if (root == NULL) {
		/* an empty request repeats the cached one */
		partial = TRUE;
	} else {
		if (root->tag != EAS_AIRSYNC_SYNC) {
			e_info(ctx->event, "Sync: wrong root element");
			sync_write_top_status(sctx,
				AS_SYNC_STATUS_PROTOCOL_ERROR, -1);
			return AS_CMD_DONE;
		}
		if (sync_check_wait(sctx, root) < 0)
			return AS_CMD_DONE;
		value = wbxml_node_child_text(root, EAS_AIRSYNC_WINDOWSIZE);
		if (value != NULL) {
			if (str_to_uint(value, &sctx->req_window_size) < 0 ||
			    sctx->req_window_size > 512) {
				e_info(ctx->event, "Sync: invalid WindowSize");
				sync_write_top_status(sctx,
					AS_SYNC_STATUS_PROTOCOL_ERROR, -1);
				return AS_CMD_DONE;
			}
			if (sctx->req_window_size > 0)
				sctx->default_window_size =
					sctx->req_window_size;
		}
		collections = wbxml_node_child(root, EAS_AIRSYNC_COLLECTIONS);
		/* without Collections it's a partial request too */
		partial = collections == NULL ||
			wbxml_node_child(root, EAS_AIRSYNC_PARTIAL) != NULL;
	}

	if (collections != NULL &&
	    sync_parse_collections(sctx, collections) < 0)
		return AS_CMD_DONE;
	if (partial) {
		if (sync_request_cache_load(sctx) <= 0) {
			e_debug(ctx->event, "Sync: %s request without a "
				"cached one, asking for a full one",
				root == NULL ? "empty" : "partial");
			sync_write_top_status(sctx,
				AS_SYNC_STATUS_INCOMPLETE_REQUEST, -1);
			return AS_CMD_DONE;
		}
	}
	if (array_count(&sctx->colls) == 0) {
		e_info(ctx->event, "Sync: no collections");
		sync_write_top_status(sctx, partial ?
				      AS_SYNC_STATUS_INCOMPLETE_REQUEST :
				      AS_SYNC_STATUS_PROTOCOL_ERROR, -1);
		return AS_CMD_DONE;
	}
	if (array_count(&sctx->colls) > AS_SYNC_MAX_COLLECTIONS) {
		sync_write_top_status(sctx,
				      AS_SYNC_STATUS_TOO_MANY_COLLECTIONS, -1);
		return AS_CMD_DONE;
	}
	sync_request_cache_save(sctx);

	if (sctx->wait_secs > 0 && !sync_have_work(sctx)) {
		sync_wait_start(sctx);
		return AS_CMD_PENDING;
	}
	sync_write_response(sctx);
	if (sctx->state_failed)
		as_cmd_set_retry_later(ctx);
	return AS_CMD_DONE;
}
