/* FolderCreate (MS-ASCMD 2.2.1.3): create a mailbox. */

#include "lib.h"
#include "array.h"
#include "strnum.h"
#include "mail-namespace.h"
#include "mail-storage.h"
#include "as-command.h"
#include "as-folders.h"
#include "http/as-request.h"
#include "as-hierarchy.h"

/* MS-ASCMD 2.2.3.177.3 */
enum foldercreate_status {
	FOLDERCREATE_STATUS_OK = 1,
	FOLDERCREATE_STATUS_EXISTS = 2,
	FOLDERCREATE_STATUS_SPECIAL_PARENT = 3,
	FOLDERCREATE_STATUS_PARENT_NOT_FOUND = 5,
	FOLDERCREATE_STATUS_SERVER_ERROR = 6,
	FOLDERCREATE_STATUS_INVALID_SYNC_KEY = 9,
	FOLDERCREATE_STATUS_MALFORMED = 10,
};

struct foldercreate_request {
	const char *sync_key, *parent_id, *display_name;
	unsigned int type;
};

static int foldercreate_parse(struct as_cmd_context *ctx,
			      struct foldercreate_request *req_r)
{
	const struct wbxml_node *root = ctx->root;
	const char *type_str;

	if (root == NULL || root->tag != EAS_FOLDERHIERARCHY_FOLDERCREATE) {
		e_info(ctx->event, "FolderCreate: wrong or missing root element");
		return -1;
	}
	req_r->sync_key = wbxml_node_child_text(root,
						EAS_FOLDERHIERARCHY_SYNCKEY);
	req_r->parent_id = wbxml_node_child_text(root,
						 EAS_FOLDERHIERARCHY_PARENTID);
	req_r->display_name = wbxml_node_child_text(root,
					EAS_FOLDERHIERARCHY_DISPLAYNAME);
	type_str = wbxml_node_child_text(root, EAS_FOLDERHIERARCHY_TYPE);
	if (req_r->sync_key == NULL || req_r->parent_id == NULL ||
	    req_r->display_name == NULL || type_str == NULL) {
		e_info(ctx->event, "FolderCreate: SyncKey, ParentId, "
		       "DisplayName or Type missing");
		return -1;
	}
	if (str_to_uint(type_str, &req_r->type) < 0) {
		e_info(ctx->event, "FolderCreate: invalid Type '%s'", type_str);
		return -1;
	}
	return 0;
}

/* Mail folders, and groupware folders of the classes served natively
   to this version (notes from 14.0: the folder gets the folder-type
   METADATA). Journal folders wait for their converter. The default types (2-11, 19) can't be created by a client
   at all. The others are answered as a malformed request. */
static bool foldercreate_type_supported(struct as_cmd_context *ctx,
					unsigned int type)
{
	return type == AS_FOLDER_TYPE_USER_MAIL ||
		type == AS_FOLDER_TYPE_USER_GENERIC ||
		as_folders_groupware_create_value(type,
						  ctx->req->version) != NULL;
}

/* Type the new mailbox; on failure it is deleted again, so a failed
   FolderCreate leaves nothing behind. */
static int foldercreate_set_type(struct as_cmd_context *ctx,
				 struct mailbox *box, unsigned int type)
{
	const char *value, *error;

	value = as_folders_groupware_create_value(type, ctx->req->version);
	if (value == NULL)
		return 0;
	if (as_folders_set_groupware_type(box, value, &error) == 0)
		return 0;
	e_error(ctx->event, "FolderCreate: setting the folder type of %s "
		"failed: %s", mailbox_get_vname(box), error);
	if (mailbox_delete(box) < 0) {
		e_error(ctx->event, "FolderCreate: deleting %s again failed: "
			"%s", mailbox_get_vname(box),
			mailbox_get_last_internal_error(box, NULL));
	}
	return -1;
}

static bool foldercreate_name_valid(struct mail_namespace *ns,
				    const char *name)
{
	return *name != '\0' && strchr(name, mail_namespace_get_sep(ns)) == NULL &&
		strcmp(name, ".") != 0 && strcmp(name, "..") != 0;
}

static enum foldercreate_status
foldercreate_run(struct as_cmd_context *ctx,
		 const struct foldercreate_request *req,
		 unsigned int *new_key_r, const char **server_id_r)
{
	struct mail_namespace *ns = as_folders_namespace(ctx);
	ARRAY_TYPE(as_folder) folders;
	struct as_folder_info parent, created;
	struct as_folder *folder;
	struct mailbox *box;
	enum mail_error error_code;
	const char *vname, *error;
	unsigned int key;
	int ret;

	if (!foldercreate_type_supported(ctx, req->type)) {
		e_info(ctx->event, "FolderCreate: folder type %u can't be "
		       "created", req->type);
		return FOLDERCREATE_STATUS_MALFORMED;
	}
	if (!foldercreate_name_valid(ns, req->display_name)) {
		e_info(ctx->event, "FolderCreate: invalid DisplayName '%s'",
		       req->display_name);
		return FOLDERCREATE_STATUS_MALFORMED;
	}

	i_zero(&folders);
	ret = as_hierarchy_begin_change(ctx, req->sync_key, &key, &folders,
					&error);
	if (ret == 0)
		return FOLDERCREATE_STATUS_INVALID_SYNC_KEY;
	if (ret < 0) {
		e_error(ctx->event, "FolderCreate: %s", error);
		return FOLDERCREATE_STATUS_SERVER_ERROR;
	}

	if (strcmp(req->parent_id, "0") == 0)
		vname = t_strconcat(ns->prefix, req->display_name, NULL);
	else {
		ret = as_folders_lookup(ctx, req->parent_id, &parent, &error);
		if (ret < 0) {
			e_error(ctx->event, "FolderCreate: %s", error);
			return FOLDERCREATE_STATUS_SERVER_ERROR;
		}
		if (ret == 0) {
			e_info(ctx->event, "FolderCreate: parent folder %s "
			       "not found", req->parent_id);
			return FOLDERCREATE_STATUS_PARENT_NOT_FOUND;
		}
		if (parent.type == AS_FOLDER_TYPE_RECIPIENT_CACHE) {
			e_info(ctx->event, "FolderCreate: parent folder %s "
			       "is the recipient information cache",
			       req->parent_id);
			return FOLDERCREATE_STATUS_SPECIAL_PARENT;
		}
		vname = t_strdup_printf("%s%c%s", parent.vname,
					mail_namespace_get_sep(ns),
					req->display_name);
	}

	/* mailbox first, then the state */
	box = mailbox_alloc(ns->list, vname, 0);
	if (mailbox_verify_create_name(box) < 0) {
		e_info(ctx->event, "FolderCreate: invalid mailbox name %s: %s",
		       vname, mailbox_get_last_error(box, NULL));
		mailbox_free(&box);
		return FOLDERCREATE_STATUS_MALFORMED;
	}
	if (mailbox_create(box, NULL, FALSE) < 0) {
		error = mailbox_get_last_internal_error(box, &error_code);
		mailbox_free(&box);
		switch (error_code) {
		case MAIL_ERROR_EXISTS:
			e_info(ctx->event, "FolderCreate: mailbox %s "
			       "already exists", vname);
			return FOLDERCREATE_STATUS_EXISTS;
		case MAIL_ERROR_PARAMS:
		case MAIL_ERROR_NOTPOSSIBLE:
			e_info(ctx->event, "FolderCreate: can't create "
			       "mailbox %s: %s", vname, error);
			return FOLDERCREATE_STATUS_MALFORMED;
		default:
			e_error(ctx->event, "FolderCreate: creating mailbox "
				"%s failed: %s", vname, error);
			return FOLDERCREATE_STATUS_SERVER_ERROR;
		}
	}
	if (foldercreate_set_type(ctx, box, req->type) < 0) {
		mailbox_free(&box);
		return FOLDERCREATE_STATUS_SERVER_ERROR;
	}
	mailbox_free(&box);
	e_info(ctx->event, "FolderCreate: created mailbox %s", vname);

	ret = as_folders_lookup_vname(ctx, vname, &created, &error);
	if (ret == 0)
		error = "created mailbox vanished";
	if (ret <= 0) {
		e_error(ctx->event, "FolderCreate: %s: %s", vname, error);
		return FOLDERCREATE_STATUS_SERVER_ERROR;
	}

	/* The new state is the device's view: the old one plus the folder
	   as the device asked for it. Anything else that changed meanwhile
	   still comes with the next FolderSync. */
	if (as_hierarchy_find(&folders, created.server_id) < 0) {
		folder = array_append_space(&folders);
		folder->server_id = created.server_id;
		folder->parent_id = p_strdup(ctx->pool, req->parent_id);
		folder->display_name = p_strdup(ctx->pool, req->display_name);
		/* as asked: if the listing types it differently (e.g. a
		   top-level "Outbox"), the next FolderSync updates it */
		folder->type = req->type;
	}
	if (as_hierarchy_put(ctx, key + 1, &folders, &error) < 0) {
		e_error(ctx->event, "FolderCreate: %s", error);
		return FOLDERCREATE_STATUS_SERVER_ERROR;
	}
	*new_key_r = key + 1;
	*server_id_r = created.server_id;
	return FOLDERCREATE_STATUS_OK;
}

enum as_command_result cmd_foldercreate(struct as_cmd_context *ctx)
{
	struct foldercreate_request req;
	enum foldercreate_status status;
	const char *server_id = NULL;
	unsigned int new_key = 0;

	i_zero(&req);
	if (foldercreate_parse(ctx, &req) < 0)
		status = FOLDERCREATE_STATUS_MALFORMED;
	else
		status = foldercreate_run(ctx, &req, &new_key, &server_id);
	if (status != FOLDERCREATE_STATUS_OK) {
		as_cmd_write_status(ctx, status);
		return AS_CMD_DONE;
	}
	wbxml_start(ctx->writer, EAS_FOLDERHIERARCHY_FOLDERCREATE);
	wbxml_elem_uint(ctx->writer, EAS_FOLDERHIERARCHY_STATUS, status);
	wbxml_elem_uint(ctx->writer, EAS_FOLDERHIERARCHY_SYNCKEY, new_key);
	wbxml_elem_str(ctx->writer, EAS_FOLDERHIERARCHY_SERVERID, server_id);
	wbxml_end(ctx->writer);
	return AS_CMD_DONE;
}
