/* FolderUpdate (MS-ASCMD 2.2.1.6): rename and/or move a mailbox. Its
   server id stays: it comes from the mailbox GUID, which a rename keeps. */

#include "lib.h"
#include "array.h"
#include "mail-namespace.h"
#include "mail-storage.h"
#include "as-command.h"
#include "as-folders.h"
#include "as-hierarchy.h"

/* MS-ASCMD 2.2.3.177.6 */
enum folderupdate_status {
	FOLDERUPDATE_STATUS_OK = 1,
	FOLDERUPDATE_STATUS_EXISTS_OR_SPECIAL = 2,
	FOLDERUPDATE_STATUS_RECIPIENT_CACHE = 3,
	FOLDERUPDATE_STATUS_NOT_FOUND = 4,
	FOLDERUPDATE_STATUS_PARENT_NOT_FOUND = 5,
	FOLDERUPDATE_STATUS_SERVER_ERROR = 6,
	FOLDERUPDATE_STATUS_INVALID_SYNC_KEY = 9,
	FOLDERUPDATE_STATUS_MALFORMED = 10,
};

struct folderupdate_request {
	const char *sync_key, *server_id, *parent_id, *display_name;
};

static int folderupdate_parse(struct as_cmd_context *ctx,
			      struct folderupdate_request *req_r)
{
	const struct wbxml_node *root = ctx->root;

	if (root == NULL || root->tag != EAS_FOLDERHIERARCHY_FOLDERUPDATE) {
		e_info(ctx->event, "FolderUpdate: wrong or missing root element");
		return -1;
	}
	req_r->sync_key = wbxml_node_child_text(root,
						EAS_FOLDERHIERARCHY_SYNCKEY);
	req_r->server_id = wbxml_node_child_text(root,
						 EAS_FOLDERHIERARCHY_SERVERID);
	req_r->parent_id = wbxml_node_child_text(root,
						 EAS_FOLDERHIERARCHY_PARENTID);
	req_r->display_name = wbxml_node_child_text(root,
					EAS_FOLDERHIERARCHY_DISPLAYNAME);
	if (req_r->sync_key == NULL || req_r->server_id == NULL ||
	    req_r->parent_id == NULL || req_r->display_name == NULL) {
		e_info(ctx->event, "FolderUpdate: SyncKey, ServerId, ParentId "
		       "or DisplayName missing");
		return -1;
	}
	return 0;
}

static enum folderupdate_status
folderupdate_rename(struct as_cmd_context *ctx,
		    const struct as_folder_info *folder, const char *new_vname)
{
	struct mail_namespace *ns = as_folders_namespace(ctx);
	struct mailbox *src, *dest;
	enum folderupdate_status status = FOLDERUPDATE_STATUS_OK;
	enum mail_error error_code;
	const char *error;

	src = mailbox_alloc(ns->list, folder->vname, 0);
	dest = mailbox_alloc(ns->list, new_vname, 0);
	if (mailbox_verify_create_name(dest) < 0) {
		e_info(ctx->event, "FolderUpdate: invalid mailbox name %s: %s",
		       new_vname, mailbox_get_last_error(dest, NULL));
		status = FOLDERUPDATE_STATUS_MALFORMED;
	} else if (mailbox_rename(src, dest) < 0) {
		error = mailbox_get_last_internal_error(src, &error_code);
		switch (error_code) {
		case MAIL_ERROR_EXISTS:
			e_info(ctx->event, "FolderUpdate: mailbox %s already "
			       "exists", new_vname);
			status = FOLDERUPDATE_STATUS_EXISTS_OR_SPECIAL;
			break;
		case MAIL_ERROR_NOTFOUND:
			e_info(ctx->event, "FolderUpdate: mailbox %s "
			       "vanished", folder->vname);
			status = FOLDERUPDATE_STATUS_NOT_FOUND;
			break;
		case MAIL_ERROR_PARAMS:
		case MAIL_ERROR_NOTPOSSIBLE:
			/* e.g. moving a folder below itself */
			e_info(ctx->event, "FolderUpdate: can't rename %s to "
			       "%s: %s", folder->vname, new_vname, error);
			status = FOLDERUPDATE_STATUS_MALFORMED;
			break;
		default:
			e_error(ctx->event, "FolderUpdate: renaming %s to %s "
				"failed: %s", folder->vname, new_vname, error);
			status = FOLDERUPDATE_STATUS_SERVER_ERROR;
			break;
		}
	} else {
		e_info(ctx->event, "FolderUpdate: renamed mailbox %s to %s",
		       folder->vname, new_vname);
	}
	mailbox_free(&dest);
	mailbox_free(&src);
	return status;
}

static enum folderupdate_status
folderupdate_run(struct as_cmd_context *ctx,
		 const struct folderupdate_request *req,
		 unsigned int *new_key_r)
{
	struct mail_namespace *ns = as_folders_namespace(ctx);
	char sep = mail_namespace_get_sep(ns);
	ARRAY_TYPE(as_folder) folders;
	struct as_folder_info folder, parent;
	struct as_folder *state;
	enum folderupdate_status status;
	const char *new_vname, *error;
	unsigned int key;
	int ret, idx;

	if (*req->display_name == '\0' ||
	    strchr(req->display_name, sep) != NULL) {
		e_info(ctx->event, "FolderUpdate: invalid DisplayName '%s'",
		       req->display_name);
		return FOLDERUPDATE_STATUS_MALFORMED;
	}
	i_zero(&folders);
	ret = as_hierarchy_begin_change(ctx, req->sync_key, &key, &folders,
					&error);
	if (ret == 0)
		return FOLDERUPDATE_STATUS_INVALID_SYNC_KEY;
	if (ret < 0) {
		e_error(ctx->event, "FolderUpdate: %s", error);
		return FOLDERUPDATE_STATUS_SERVER_ERROR;
	}

	ret = as_folders_lookup(ctx, req->server_id, &folder, &error);
	if (ret < 0) {
		e_error(ctx->event, "FolderUpdate: %s", error);
		return FOLDERUPDATE_STATUS_SERVER_ERROR;
	}
	if (ret == 0) {
		e_info(ctx->event, "FolderUpdate: folder %s not found",
		       req->server_id);
		return FOLDERUPDATE_STATUS_NOT_FOUND;
	}
	if (folder.type == AS_FOLDER_TYPE_RECIPIENT_CACHE) {
		e_info(ctx->event, "FolderUpdate: folder %s is the recipient "
		       "information cache", req->server_id);
		return FOLDERUPDATE_STATUS_RECIPIENT_CACHE;
	}
	if (as_folder_type_is_default(folder.type)) {
		e_info(ctx->event, "FolderUpdate: folder %s (%s) is a "
		       "special folder", req->server_id, folder.vname);
		return FOLDERUPDATE_STATUS_EXISTS_OR_SPECIAL;
	}

	if (strcmp(req->parent_id, "0") == 0)
		new_vname = t_strconcat(ns->prefix, req->display_name, NULL);
	else {
		ret = as_folders_lookup(ctx, req->parent_id, &parent, &error);
		if (ret < 0) {
			e_error(ctx->event, "FolderUpdate: %s", error);
			return FOLDERUPDATE_STATUS_SERVER_ERROR;
		}
		if (ret == 0) {
			e_info(ctx->event, "FolderUpdate: parent folder %s "
			       "not found", req->parent_id);
			return FOLDERUPDATE_STATUS_PARENT_NOT_FOUND;
		}
		new_vname = t_strdup_printf("%s%c%s", parent.vname, sep,
					    req->display_name);
	}

	if (strcmp(new_vname, folder.vname) != 0) {
		/* mailbox first, then the state */
		status = folderupdate_rename(ctx, &folder, new_vname);
		if (status != FOLDERUPDATE_STATUS_OK)
			return status;
	}

	idx = as_hierarchy_find(&folders, folder.server_id);
	if (idx < 0) {
		/* not synced to the device yet; it will get it with its
		   next FolderSync */
	} else {
		state = array_idx_modifiable(&folders, idx);
		state->parent_id = p_strdup(ctx->pool, req->parent_id);
		state->display_name = p_strdup(ctx->pool, req->display_name);
	}
	if (as_hierarchy_put(ctx, key + 1, &folders, &error) < 0) {
		e_error(ctx->event, "FolderUpdate: %s", error);
		return FOLDERUPDATE_STATUS_SERVER_ERROR;
	}
	*new_key_r = key + 1;
	return FOLDERUPDATE_STATUS_OK;
}

enum as_command_result cmd_folderupdate(struct as_cmd_context *ctx)
{
	struct folderupdate_request req;
	enum folderupdate_status status;
	unsigned int new_key = 0;

	i_zero(&req);
	if (folderupdate_parse(ctx, &req) < 0)
		status = FOLDERUPDATE_STATUS_MALFORMED;
	else
		status = folderupdate_run(ctx, &req, &new_key);
	if (status != FOLDERUPDATE_STATUS_OK) {
		as_cmd_write_status(ctx, status);
		return AS_CMD_DONE;
	}
	wbxml_start(ctx->writer, EAS_FOLDERHIERARCHY_FOLDERUPDATE);
	wbxml_elem_uint(ctx->writer, EAS_FOLDERHIERARCHY_STATUS, status);
	wbxml_elem_uint(ctx->writer, EAS_FOLDERHIERARCHY_SYNCKEY, new_key);
	wbxml_end(ctx->writer);
	return AS_CMD_DONE;
}
