/* Hierarchy (FolderSync) states: what folder tree a device knows at
   which SyncKey. */

#include "lib.h"
#include "array.h"
#include "strnum.h"
#include "as-command.h"
#include "as-folders.h"
#include "as-hierarchy.h"

int as_hierarchy_parse_key(const char *str, unsigned int *key_r)
{
	/* canonical decimal only: "01" or "+1" would name the same state
	   as "1", but no server ever handed them out */
	if (str_to_uint(str, key_r) < 0 || strcmp(dec2str(*key_r), str) != 0)
		return -1;
	return 0;
}

int as_hierarchy_latest(struct as_cmd_context *ctx, unsigned int *key_r,
			const char **error_r)
{
	if (as_store_hierarchy_latest(ctx->store, ctx->username,
				      ctx->req->device_id, key_r,
				      error_r) < 0)
		return -1;
	return 0;
}

int as_hierarchy_get(struct as_cmd_context *ctx, unsigned int key,
		     ARRAY_TYPE(as_folder) *folders_r, const char **error_r)
{
	return as_store_hierarchy_get(ctx->store, ctx->pool, ctx->username,
				      ctx->req->device_id, key, folders_r,
				      error_r);
}

int as_hierarchy_put(struct as_cmd_context *ctx, unsigned int key,
		     const ARRAY_TYPE(as_folder) *folders,
		     const char **error_r)
{
	const char *error;

	if (as_store_hierarchy_put(ctx->store, ctx->username,
				   ctx->req->device_id, key, folders,
				   error_r) < 0)
		return -1;
	/* keep this state and the one before it (the device may repeat
	   its previous key if it lost our answer); a failed purge only
	   leaves a few stale bytes */
	if (key > 1 &&
	    as_store_hierarchy_purge(ctx->store, ctx->username,
				     ctx->req->device_id, key - 1,
				     &error) < 0)
		e_warning(ctx->event, "Purging old hierarchy states: %s",
			  error);
	return 0;
}

void as_hierarchy_from_infos(pool_t pool,
			     const ARRAY_TYPE(as_folder_info) *infos,
			     ARRAY_TYPE(as_folder) *folders_r)
{
	const struct as_folder_info *info;
	struct as_folder *folder;

	if (!array_is_created(folders_r))
		p_array_init(folders_r, pool, array_count(infos) + 1);
	else
		array_clear(folders_r);
	array_foreach(infos, info) {
		folder = array_append_space(folders_r);
		folder->server_id = info->server_id;
		folder->parent_id = info->parent_id;
		folder->display_name = info->display_name;
		folder->type = info->type;
	}
}

int as_hierarchy_find(const ARRAY_TYPE(as_folder) *folders,
		      const char *server_id)
{
	const struct as_folder *folder;

	array_foreach(folders, folder) {
		if (strcmp(folder->server_id, server_id) == 0)
			return (int)array_foreach_idx(folders, folder);
	}
	return -1;
}

static bool as_hierarchy_is_below(const ARRAY_TYPE(as_folder) *folders,
				  const struct as_folder *folder,
				  const char *ancestor_id)
{
	unsigned int depth = 0, count = array_count(folders);
	int idx;

	/* walk up the parents; depth bound guards against loops in a
	   (corrupted) state */
	while (strcmp(folder->parent_id, "0") != 0 && depth++ < count) {
		if (strcmp(folder->parent_id, ancestor_id) == 0)
			return TRUE;
		idx = as_hierarchy_find(folders, folder->parent_id);
		if (idx < 0)
			break;
		folder = array_idx(folders, idx);
	}
	return FALSE;
}

void as_hierarchy_remove_tree(ARRAY_TYPE(as_folder) *folders,
			      const char *server_id)
{
	ARRAY_TYPE(as_folder) kept;
	const struct as_folder *folder;

	t_array_init(&kept, array_count(folders) + 1);
	array_foreach(folders, folder) {
		if (strcmp(folder->server_id, server_id) != 0 &&
		    !as_hierarchy_is_below(folders, folder, server_id))
			array_push_back(&kept, folder);
	}
	array_clear(folders);
	array_append_array(folders, &kept);
}

int as_hierarchy_begin_change(struct as_cmd_context *ctx,
			      const char *sync_key_str, unsigned int *key_r,
			      ARRAY_TYPE(as_folder) *folders_r,
			      const char **error_r)
{
	unsigned int key, latest;
	int ret;

	if (as_hierarchy_parse_key(sync_key_str, &key) < 0 || key == 0) {
		e_info(ctx->event, "Invalid hierarchy SyncKey '%s'",
		       sync_key_str);
		return 0;
	}
	if (as_hierarchy_latest(ctx, &latest, error_r) < 0)
		return -1;
	if (key != latest) {
		e_info(ctx->event, "Hierarchy SyncKey %u is not the current "
		       "one (%u)", key, latest);
		return 0;
	}
	ret = as_hierarchy_get(ctx, key, folders_r, error_r);
	if (ret == 0) {
		e_info(ctx->event, "Hierarchy state %u not found", key);
		return 0;
	}
	if (ret < 0)
		return -1;
	*key_r = key;
	return 1;
}
