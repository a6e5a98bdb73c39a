/* FolderDelete (MS-ASCMD 2.2.1.4): delete a mailbox with all its
   subfolders (a device removes the whole subtree too). */

#include "lib.h"
#include "array.h"
#include "mail-namespace.h"
#include "mail-storage.h"
#include "as-command.h"
#include "as-folders.h"
#include "as-hierarchy.h"

/* MS-ASCMD 2.2.3.177.4 */
enum folderdelete_status {
	FOLDERDELETE_STATUS_OK = 1,
	FOLDERDELETE_STATUS_SPECIAL = 3,
	FOLDERDELETE_STATUS_NOT_FOUND = 4,
	FOLDERDELETE_STATUS_SERVER_ERROR = 6,
	FOLDERDELETE_STATUS_INVALID_SYNC_KEY = 9,
	FOLDERDELETE_STATUS_MALFORMED = 10,
};

/* Returns 0, or -1 with error_r. A mailbox already gone is fine. */
static int folderdelete_mailbox(struct mail_namespace *ns, const char *vname,
				const char **error_r)
{
	struct mailbox *box;
	enum mail_error error_code;
	const char *error;
	int ret = 0;

	box = mailbox_alloc(ns->list, vname, 0);
	if (mailbox_delete(box) < 0) {
		error = mailbox_get_last_internal_error(box, &error_code);
		if (error_code != MAIL_ERROR_NOTFOUND) {
			*error_r = t_strdup_printf("Deleting mailbox %s "
						   "failed: %s", vname, error);
			ret = -1;
		}
	}
	mailbox_free(&box);
	return ret;
}

/* The folder's subtree, deepest first. */
static int folderdelete_tree(struct as_cmd_context *ctx,
			     const struct as_folder_info *folder,
			     const char **error_r)
{
	struct mail_namespace *ns = as_folders_namespace(ctx);
	ARRAY_TYPE(as_folder_info) all;
	const struct as_folder_info *child;
	const char *prefix;
	unsigned int i;

	prefix = t_strdup_printf("%s%c", folder->vname,
				 mail_namespace_get_sep(ns));
	i_zero(&all);
	if (as_folders_list(ctx, &all, error_r) < 0)
		return -1;
	/* the listing has parents first: walk it backwards */
	for (i = array_count(&all); i > 0; i--) {
		child = array_idx(&all, i - 1);
		if (!str_begins(child->vname, prefix))
			continue;
		if (folderdelete_mailbox(ns, child->vname, error_r) < 0)
			return -1;
		e_info(ctx->event, "FolderDelete: deleted mailbox %s",
		       child->vname);
	}
	if (folderdelete_mailbox(ns, folder->vname, error_r) < 0)
		return -1;
	e_info(ctx->event, "FolderDelete: deleted mailbox %s", folder->vname);
	return 0;
}

static enum folderdelete_status
folderdelete_run(struct as_cmd_context *ctx, const char *sync_key,
		 const char *server_id, unsigned int *new_key_r)
{
	ARRAY_TYPE(as_folder) folders;
	struct as_folder_info folder;
	const char *error;
	unsigned int key;
	int ret;

	i_zero(&folders);
	ret = as_hierarchy_begin_change(ctx, sync_key, &key, &folders, &error);
	if (ret == 0)
		return FOLDERDELETE_STATUS_INVALID_SYNC_KEY;
	if (ret < 0) {
		e_error(ctx->event, "FolderDelete: %s", error);
		return FOLDERDELETE_STATUS_SERVER_ERROR;
	}

	ret = as_folders_lookup(ctx, server_id, &folder, &error);
	if (ret < 0) {
		e_error(ctx->event, "FolderDelete: %s", error);
		return FOLDERDELETE_STATUS_SERVER_ERROR;
	}
	if (ret == 0) {
		e_info(ctx->event, "FolderDelete: folder %s not found",
		       server_id);
		return FOLDERDELETE_STATUS_NOT_FOUND;
	}
	if (as_folder_type_is_default(folder.type)) {
		e_info(ctx->event, "FolderDelete: folder %s (%s) is a "
		       "special folder", server_id, folder.vname);
		return FOLDERDELETE_STATUS_SPECIAL;
	}

	/* mailboxes first, then the state */
	if (folderdelete_tree(ctx, &folder, &error) < 0) {
		e_error(ctx->event, "FolderDelete: %s", error);
		return FOLDERDELETE_STATUS_SERVER_ERROR;
	}
	as_hierarchy_remove_tree(&folders, folder.server_id);
	if (as_hierarchy_put(ctx, key + 1, &folders, &error) < 0) {
		e_error(ctx->event, "FolderDelete: %s", error);
		return FOLDERDELETE_STATUS_SERVER_ERROR;
	}
	*new_key_r = key + 1;
	return FOLDERDELETE_STATUS_OK;
}

enum as_command_result cmd_folderdelete(struct as_cmd_context *ctx)
{
	const struct wbxml_node *root = ctx->root;
	enum folderdelete_status status;
	const char *sync_key = NULL, *server_id = NULL;
	unsigned int new_key = 0;

	if (root != NULL && root->tag == EAS_FOLDERHIERARCHY_FOLDERDELETE) {
		sync_key = wbxml_node_child_text(root,
						 EAS_FOLDERHIERARCHY_SYNCKEY);
		server_id = wbxml_node_child_text(root,
						  EAS_FOLDERHIERARCHY_SERVERID);
	}
	if (sync_key == NULL || server_id == NULL) {
		e_info(ctx->event, "FolderDelete: request without "
		       "FolderDelete/SyncKey or ServerId");
		status = FOLDERDELETE_STATUS_MALFORMED;
	} else {
		status = folderdelete_run(ctx, sync_key, server_id, &new_key);
	}
	if (status != FOLDERDELETE_STATUS_OK) {
		as_cmd_write_status(ctx, status);
		return AS_CMD_DONE;
	}
	wbxml_start(ctx->writer, EAS_FOLDERHIERARCHY_FOLDERDELETE);
	wbxml_elem_uint(ctx->writer, EAS_FOLDERHIERARCHY_STATUS, status);
	wbxml_elem_uint(ctx->writer, EAS_FOLDERHIERARCHY_SYNCKEY, new_key);
	wbxml_end(ctx->writer);
	return AS_CMD_DONE;
}
