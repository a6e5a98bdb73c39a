/* FolderSync (MS-ASCMD 2.2.1.5): the folder hierarchy and its changes
   since the device's hierarchy SyncKey. */

#include "lib.h"
#include "array.h"
#include "hash.h"
#include "as-command.h"
#include "as-folders.h"
#include "as-hierarchy.h"
#include "as-special-folders.h"
#include "as-groupware-folders.h"

/* MS-ASCMD 2.2.3.177.5 */
enum foldersync_status {
	FOLDERSYNC_STATUS_OK = 1,
	FOLDERSYNC_STATUS_SERVER_ERROR = 6,
	FOLDERSYNC_STATUS_INVALID_SYNC_KEY = 9,
	FOLDERSYNC_STATUS_MALFORMED = 10,
};

enum foldersync_change_type {
	FOLDERSYNC_CHANGE_ADD,
	FOLDERSYNC_CHANGE_UPDATE,
	FOLDERSYNC_CHANGE_DELETE,
};

struct foldersync_change {
	enum foldersync_change_type type;
	const struct as_folder *folder;
};
ARRAY_DEFINE_TYPE(foldersync_change, struct foldersync_change);

static bool foldersync_folder_changed(const struct as_folder *old,
				      const struct as_folder *cur)
{
	return strcmp(old->parent_id, cur->parent_id) != 0 ||
		strcmp(old->display_name, cur->display_name) != 0 ||
		old->type != cur->type;
}

/* Changes that take a device from old to cur: Adds (in cur's order,
   parents first), then Updates, then Deletes (children first). The
   result depends only on the two lists, so a repeated request gets the
   same answer. */
static void foldersync_diff(const ARRAY_TYPE(as_folder) *old,
			    const ARRAY_TYPE(as_folder) *cur,
			    ARRAY_TYPE(foldersync_change) *changes)
{
	HASH_TABLE(const char *, const struct as_folder *) old_ids, cur_ids;
	const struct as_folder *folder, *old_folder;
	struct foldersync_change *change;
	unsigned int i;

	hash_table_create(&old_ids, default_pool, 0, str_hash, strcmp);
	hash_table_create(&cur_ids, default_pool, 0, str_hash, strcmp);
	array_foreach(old, folder)
		hash_table_update(old_ids, folder->server_id, folder);
	array_foreach(cur, folder)
		hash_table_update(cur_ids, folder->server_id, folder);

	array_foreach(cur, folder) {
		if (hash_table_lookup(old_ids, folder->server_id) == NULL) {
			change = array_append_space(changes);
			change->type = FOLDERSYNC_CHANGE_ADD;
			change->folder = folder;
		}
	}
	array_foreach(cur, folder) {
		old_folder = hash_table_lookup(old_ids, folder->server_id);
		if (old_folder != NULL &&
		    foldersync_folder_changed(old_folder, folder)) {
			change = array_append_space(changes);
			change->type = FOLDERSYNC_CHANGE_UPDATE;
			change->folder = folder;
		}
	}
	for (i = array_count(old); i > 0; i--) {
		folder = array_idx(old, i - 1);
		if (hash_table_lookup(cur_ids, folder->server_id) == NULL) {
			change = array_append_space(changes);
			change->type = FOLDERSYNC_CHANGE_DELETE;
			change->folder = folder;
		}
	}
	hash_table_destroy(&old_ids);
	hash_table_destroy(&cur_ids);
}

static void foldersync_write(struct as_cmd_context *ctx, unsigned int key,
			     const ARRAY_TYPE(foldersync_change) *changes)
{
	static const unsigned int change_tags[] = {
		[FOLDERSYNC_CHANGE_ADD] = EAS_FOLDERHIERARCHY_ADD,
		[FOLDERSYNC_CHANGE_UPDATE] = EAS_FOLDERHIERARCHY_UPDATE,
		[FOLDERSYNC_CHANGE_DELETE] = EAS_FOLDERHIERARCHY_DELETE,
	};
	struct wbxml_writer *w = ctx->writer;
	const struct foldersync_change *change;

	wbxml_start(w, EAS_FOLDERHIERARCHY_FOLDERSYNC);
	wbxml_elem_uint(w, EAS_FOLDERHIERARCHY_STATUS, FOLDERSYNC_STATUS_OK);
	wbxml_elem_uint(w, EAS_FOLDERHIERARCHY_SYNCKEY, key);
	wbxml_start(w, EAS_FOLDERHIERARCHY_CHANGES);
	wbxml_elem_uint(w, EAS_FOLDERHIERARCHY_COUNT, array_count(changes));
	array_foreach(changes, change) {
		wbxml_start(w, change_tags[change->type]);
		wbxml_elem_str(w, EAS_FOLDERHIERARCHY_SERVERID,
			       change->folder->server_id);
		if (change->type != FOLDERSYNC_CHANGE_DELETE) {
			wbxml_elem_str(w, EAS_FOLDERHIERARCHY_PARENTID,
				       change->folder->parent_id);
			wbxml_elem_str(w, EAS_FOLDERHIERARCHY_DISPLAYNAME,
				       change->folder->display_name);
			wbxml_elem_uint(w, EAS_FOLDERHIERARCHY_TYPE,
					change->folder->type);
		}
		wbxml_end(w);
	}
	wbxml_end(w);
	wbxml_end(w);
}

static int foldersync_current(struct as_cmd_context *ctx,
			      ARRAY_TYPE(as_folder) *folders_r,
			      const char **error_r)
{
	ARRAY_TYPE(as_folder_info) infos;

	i_zero(&infos);
	if (as_folders_list(ctx, &infos, error_r) < 0)
		return -1;
	as_hierarchy_from_infos(ctx->pool, &infos, folders_r);
	return 0;
}

/* Returns the status; on success changes_r and new_key_r are set. */
static enum foldersync_status
foldersync_run(struct as_cmd_context *ctx, unsigned int key,
	       unsigned int *new_key_r,
	       ARRAY_TYPE(foldersync_change) *changes_r)
{
	ARRAY_TYPE(as_folder) old, cur;
	unsigned int latest;
	const char *error;
	int ret;

	p_array_init(&old, ctx->pool, 32);
	p_array_init(&cur, ctx->pool, 32);
	if (as_hierarchy_latest(ctx, &latest, &error) < 0) {
		e_error(ctx->event, "FolderSync: %s", error);
		return FOLDERSYNC_STATUS_SERVER_ERROR;
	}

	if (key == 0) {
		/* full resync: everything is new; a fresh key so states
		   the device had before can't be confused with it */
		if (ctx->set->special_folders) T_BEGIN {
			as_special_folders_ensure(ctx,
				as_folders_namespace(ctx));
		} T_END;
		T_BEGIN {
			as_groupware_folders_ensure(ctx,
				as_folders_namespace(ctx));
		} T_END;
		if (foldersync_current(ctx, &cur, &error) < 0) {
			e_error(ctx->event, "FolderSync: %s", error);
			return FOLDERSYNC_STATUS_SERVER_ERROR;
		}
		*new_key_r = latest + 1;
	} else if (key == latest || key + 1 == latest) {
		ret = as_hierarchy_get(ctx, key, &old, &error);
		if (ret == 0) {
			e_info(ctx->event, "FolderSync: hierarchy state %u "
			       "not found", key);
			return FOLDERSYNC_STATUS_INVALID_SYNC_KEY;
		}
		if (ret > 0 && key == latest)
			ret = foldersync_current(ctx, &cur, &error);
		else if (ret > 0) {
			/* The device repeats its previous key (it lost our
			   answer): answer again from the two stored states */
			e_debug(ctx->event, "FolderSync: repeated SyncKey %u, "
				"replaying changes up to %u", key, latest);
			ret = as_hierarchy_get(ctx, latest, &cur, &error);
			if (ret == 0)
				error = "latest hierarchy state vanished";
			if (ret <= 0)
				ret = -1;
		}
		if (ret < 0) {
			e_error(ctx->event, "FolderSync: %s", error);
			return FOLDERSYNC_STATUS_SERVER_ERROR;
		}
		*new_key_r = key == latest ? key + 1 : latest;
	} else {
		e_info(ctx->event, "FolderSync: SyncKey %u is not current "
		       "(latest %u)", key, latest);
		return FOLDERSYNC_STATUS_INVALID_SYNC_KEY;
	}

	foldersync_diff(&old, &cur, changes_r);
	if (key == latest && array_count(changes_r) == 0) {
		/* nothing changed: the same key stays valid */
		*new_key_r = key;
		return FOLDERSYNC_STATUS_OK;
	}
	if (*new_key_r > latest &&
	    as_hierarchy_put(ctx, *new_key_r, &cur, &error) < 0) {
		e_error(ctx->event, "FolderSync: %s", error);
		return FOLDERSYNC_STATUS_SERVER_ERROR;
	}
	return FOLDERSYNC_STATUS_OK;
}

enum as_command_result cmd_foldersync(struct as_cmd_context *ctx)
{
	ARRAY_TYPE(foldersync_change) changes;
	enum foldersync_status status;
	const char *key_str;
	unsigned int key, new_key;

	key_str = ctx->root == NULL ||
		ctx->root->tag != EAS_FOLDERHIERARCHY_FOLDERSYNC ? NULL :
		wbxml_node_child_text(ctx->root, EAS_FOLDERHIERARCHY_SYNCKEY);
	if (key_str == NULL) {
		e_info(ctx->event, "FolderSync: request without "
		       "FolderSync/SyncKey");
		status = FOLDERSYNC_STATUS_MALFORMED;
	} else if (as_hierarchy_parse_key(key_str, &key) < 0) {
		e_info(ctx->event, "FolderSync: invalid SyncKey '%s'",
		       key_str);
		status = FOLDERSYNC_STATUS_INVALID_SYNC_KEY;
	} else {
		p_array_init(&changes, ctx->pool, 16);
		status = foldersync_run(ctx, key, &new_key, &changes);
		if (status == FOLDERSYNC_STATUS_OK) {
			e_debug(ctx->event, "FolderSync: SyncKey %u -> %u, "
				"%u changes", key, new_key,
				array_count(&changes));
			foldersync_write(ctx, new_key, &changes);
			return AS_CMD_DONE;
		}
	}
	as_cmd_write_status(ctx, status);
	return AS_CMD_DONE;
}
