/* Copyright (c) dovecot-activesync authors, see the included COPYING file */

/* ItemOperations (MS-ASCMD 2.2.1.10) on the mailbox store:
   - Fetch of a whole email by CollectionId + ServerId (or a Search
     LongId of the same "<folder>:<uid>" form) with body preferences,
   - Fetch of an attachment by its FileReference, optionally a byte
     Range of it,
   - EmptyFolderContents, optionally with DeleteSubFolders,
   - Move of a conversation (14.0+): every mail whose ConversationId
     (module/items/as-conversation.c, as Sync sends it) matches, from all
     mail folders but Deleted Items, goes to the destination; the device
     sees the moves in its next Syncs.

   The whole request is parsed first: a malformed one is answered with
   the global Status 2 and nothing is done. Attachments are streamed
   (module/itemops/as-stream-response.c): base64 text inline, or raw
   parts when the client asked for a multipart response. */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "str-sanitize.h"
#include "seq-range-array.h"
#include "istream.h"
#include "mail-storage.h"
#include "mail-namespace.h"
#include "mail-search-build.h"
#include "as-command.h"
#include "as-folders.h"
#include "sync/as-sync-options.h"
#include "sync/as-sync-state.h"
#include "items/as-email.h"
#include "items/as-item.h"
#include "items/as-conversation.h"
#include "itemops/as-attachment.h"
#include "itemops/as-stream-response.h"
#include "http/as-response-stream.h"
#include "itemops/as-itemprops-move.h"
#include "itemops/as-body-part.h"
#include "itemops/as-fetch-schema.h"

/* ItemOperations status codes (MS-ASCMD 2.2.3.177.8) */
enum itemops_status {
	ITEMOPS_STATUS_OK = 1,
	ITEMOPS_STATUS_PROTOCOL_ERROR = 2,
	ITEMOPS_STATUS_SERVER_ERROR = 3,
	ITEMOPS_STATUS_NOT_FOUND = 6,
	ITEMOPS_STATUS_BYTE_RANGE_INVALID = 8,
	ITEMOPS_STATUS_STORE_UNKNOWN = 9,
	ITEMOPS_STATUS_DATA_TOO_LARGE = 11,
	ITEMOPS_STATUS_CONVERSION_FAILED = 14,
	ITEMOPS_STATUS_ATTACHMENT_INVALID = 15,
	ITEMOPS_STATUS_ACTION_NOT_SUPPORTED = 156,
};

#define ITEMOPS_MAX_OPERATIONS 100
/* Attachment bytes one response may carry: each one is a temporary
   file until the response is sent */
#define ITEMOPS_MAX_ATTACHMENT_BYTES (1024ULL * 1024 * 1024)

enum itemops_op_type {
	ITEMOPS_OP_FETCH,
	ITEMOPS_OP_EMPTY_FOLDER,
	ITEMOPS_OP_MOVE,
};

struct itemops_op {
	enum itemops_op_type type;

	/* Fetch */
	const char *store;
	const char *file_reference;
	const char *collection_id, *server_id, *long_id;
	bool have_range;
	uoff_t range_first, range_last;
	struct as_sync_options options;
	/* Options/Schema: only these properties (NULL = all) */
	const struct wbxml_node *schema;
	/* Options/BodyPartPreference (14.1+) */
	bool have_body_part;
	struct as_body_part_pref body_part;

	/* EmptyFolderContents (collection_id), Move */
	bool delete_subfolders;
	const struct wbxml_node *conversation_id;
	const char *dst_folder_id;
};

struct itemops_context {
	struct as_cmd_context *ctx;
	struct wbxml_writer *w;
	struct as_stream_response *sr;
	ARRAY(struct itemops_op) ops;
	uoff_t attachment_bytes;
	/* the Status for a request that can't be parsed */
	unsigned int parse_status;
};

/* EmptyFolderContents and Move act on mail folders; Fetch on any folder
   with an item class */
static bool itemops_is_mail_folder(const struct as_folder_info *folder)
{
	return as_folder_class(folder) == AS_FOLDER_CLASS_MAIL;
}

/* ---- parsing ---- */

static int
itemops_parse_body_part(struct itemops_context *ictx,
			const struct wbxml_node *node, struct itemops_op *op,
			const char **error_r)
{
	unsigned int version = ictx->ctx->req->version;

	if (version < AS_VERSION_14_1) {
		*error_r = t_strdup_printf("BodyPartPreference is not part "
					   "of protocol %u.%u", version / 10,
					   version % 10);
		return -1;
	}
	if (op->have_body_part) {
		*error_r = "Repeated BodyPartPreference";
		return -1;
	}
	switch (as_body_part_pref_parse(node, &op->body_part, error_r)) {
	case AS_BODY_PART_PREF_OK:
		break;
	case AS_BODY_PART_PREF_INVALID:
		return -1;
	case AS_BODY_PART_PREF_TYPE_NOT_SUPPORTED:
		ictx->parse_status =
			AS_STATUS_BODY_PART_PREFERENCE_TYPE_NOT_SUPPORTED;
		return -1;
	}
	op->have_body_part = TRUE;
	return 0;
}

static int
itemops_parse_fetch_options(struct itemops_context *ictx,
			    const struct wbxml_node *options,
			    struct itemops_op *op, const char **error_r)
{
	const struct wbxml_node *child;
	const char *range;

	if (as_sync_options_parse(options, &op->options, error_r) < 0)
		return -1;
	wbxml_node_foreach_child(options, child) {
		if (child->tag == EAS_ITEMOPERATIONS_SCHEMA) {
			if (op->schema != NULL) {
				*error_r = "Repeated Schema";
				return -1;
			}
			op->schema = child;
		} else if (child->tag == EAS_AIRSYNCBASE_BODYPARTPREFERENCE) {
			if (itemops_parse_body_part(ictx, child, op,
						    error_r) < 0)
				return -1;
		}
	}
	range = wbxml_node_child_text(options, EAS_ITEMOPERATIONS_RANGE);
	if (range != NULL) {
		if (as_attachment_parse_range(range, &op->range_first,
					      &op->range_last) < 0) {
			*error_r = t_strdup_printf("Invalid Range '%s'",
						   str_sanitize(range, 32));
			return -1;
		}
		op->have_range = TRUE;
	}
	return 0;
}

static int
itemops_parse_fetch(struct itemops_context *ictx,
		    const struct wbxml_node *node, struct itemops_op *op,
		    const char **error_r)
{
	const struct wbxml_node *child;

	as_sync_options_init(&op->options);
	wbxml_node_foreach_child(node, child) {
		switch (child->tag) {
		case EAS_ITEMOPERATIONS_STORE:
			op->store = wbxml_node_text(child);
			break;
		case EAS_AIRSYNCBASE_FILEREFERENCE:
			op->file_reference = wbxml_node_text(child);
			break;
		case EAS_AIRSYNC_COLLECTIONID:
			op->collection_id = wbxml_node_text(child);
			break;
		case EAS_AIRSYNC_SERVERID:
			op->server_id = wbxml_node_text(child);
			break;
		case EAS_SEARCH_LONGID:
			op->long_id = wbxml_node_text(child);
			break;
		case EAS_ITEMOPERATIONS_OPTIONS:
			if (itemops_parse_fetch_options(ictx, child, op,
							error_r) < 0)
				return -1;
			break;
		default:
			/* LinkId, RemoveRightsManagementProtection, ...:
			   nothing this server offers */
			break;
		}
	}
	if (op->store == NULL) {
		*error_r = "Fetch without Store";
		return -1;
	}
	if (op->file_reference == NULL && op->long_id == NULL &&
	    (op->collection_id == NULL || op->server_id == NULL) &&
	    strcasecmp(op->store, "Mailbox") == 0) {
		*error_r = "Fetch without FileReference, LongId or "
			"CollectionId and ServerId";
		return -1;
	}
	return 0;
}

static int
itemops_parse_empty(const struct wbxml_node *node, struct itemops_op *op,
		    const char **error_r)
{
	const struct wbxml_node *options;

	op->collection_id = wbxml_node_child_text(node,
						  EAS_AIRSYNC_COLLECTIONID);
	if (op->collection_id == NULL || *op->collection_id == '\0') {
		*error_r = "EmptyFolderContents without CollectionId";
		return -1;
	}
	options = wbxml_node_child(node, EAS_ITEMOPERATIONS_OPTIONS);
	if (options != NULL) {
		const char *value = wbxml_node_child_text(options,
				EAS_ITEMOPERATIONS_DELETESUBFOLDERS);

		/* present (empty) or 1 means yes */
		op->delete_subfolders = value != NULL &&
			strcmp(value, "0") != 0;
	}
	return 0;
}

static int
itemops_parse_move(struct itemops_context *ictx, const struct wbxml_node *node,
		   struct itemops_op *op, const char **error_r)
{
	if (ictx->ctx->req->version < AS_VERSION_14_0) {
		*error_r = "Move is not part of protocol 12.x";
		return -1;
	}
	op->conversation_id = wbxml_node_child(node,
					       EAS_ITEMOPERATIONS_CONVERSATIONID);
	op->dst_folder_id = wbxml_node_child_text(node,
						  EAS_ITEMOPERATIONS_DSTFLDID);
	if (op->conversation_id == NULL || op->dst_folder_id == NULL) {
		*error_r = "Move without ConversationId or DstFldId";
		return -1;
	}
	if (op->conversation_id->data_size != AS_CONVERSATION_ID_SIZE) {
		*error_r = t_strdup_printf("ConversationId of %zu bytes",
					   op->conversation_id->data_size);
		return -1;
	}
	return 0;
}

static int itemops_parse(struct itemops_context *ictx, const char **error_r)
{
	const struct wbxml_node *node;
	struct itemops_op *op;
	int ret;

	wbxml_node_foreach_child(ictx->ctx->root, node) {
		if (array_count(&ictx->ops) >= ITEMOPS_MAX_OPERATIONS) {
			*error_r = "Too many operations";
			return -1;
		}
		op = array_append_space(&ictx->ops);
		switch (node->tag) {
		case EAS_ITEMOPERATIONS_FETCH:
			op->type = ITEMOPS_OP_FETCH;
			ret = itemops_parse_fetch(ictx, node, op, error_r);
			break;
		case EAS_ITEMOPERATIONS_EMPTYFOLDERCONTENTS:
			op->type = ITEMOPS_OP_EMPTY_FOLDER;
			ret = itemops_parse_empty(node, op, error_r);
			break;
		case EAS_ITEMOPERATIONS_MOVE:
			op->type = ITEMOPS_OP_MOVE;
			ret = itemops_parse_move(ictx, node, op, error_r);
			break;
		default:
			*error_r = t_strdup_printf("Unexpected element %s",
				wbxml_tag_describe(node->tag));
			ret = -1;
			break;
		}
		if (ret < 0)
			return -1;
	}
	if (array_count(&ictx->ops) == 0) {
		*error_r = "No operations";
		return -1;
	}
	return 0;
}

/* ---- Fetch of an attachment ---- */

static void
itemops_fetch_attachment(struct itemops_context *ictx,
			 const struct itemops_op *op)
{
	struct as_cmd_context *ctx = ictx->ctx;
	struct wbxml_writer *w = ictx->w;
	struct as_attachment att;
	struct istream *input;
	const char *error;
	unsigned int status = ITEMOPS_STATUS_OK;
	uoff_t first = 0, last = 0;
	int ret;

	if (*op->file_reference == '\0') {
		/* MS-ASAIRS: an empty reference is Status 15 */
		ret = 0;
		error = "empty FileReference";
	} else {
		ret = as_attachment_open(ctx, op->file_reference, &att,
					 &error);
	}
	if (ret < 0) {
		e_error(ctx->event, "ItemOperations: fetching %s failed: %s",
			str_sanitize(op->file_reference, 128), error);
		status = ITEMOPS_STATUS_SERVER_ERROR;
	} else if (ret == 0) {
		e_info(ctx->event, "ItemOperations: attachment %s: %s",
		       str_sanitize(op->file_reference, 128), error);
		status = ITEMOPS_STATUS_ATTACHMENT_INVALID;
	} else if (ictx->attachment_bytes + att.size >
		   ITEMOPS_MAX_ATTACHMENT_BYTES) {
		e_info(ctx->event, "ItemOperations: attachment %s: the "
		       "response would carry more than %llu bytes",
		       str_sanitize(op->file_reference, 128),
		       ITEMOPS_MAX_ATTACHMENT_BYTES);
		status = ITEMOPS_STATUS_DATA_TOO_LARGE;
		i_stream_unref(&att.input);
	} else if (op->have_range) {
		first = op->range_first;
		last = op->range_last;
		if (first >= att.size) {
			e_info(ctx->event, "ItemOperations: Range %"PRIuUOFF_T
			       "-%"PRIuUOFF_T" of %s is past its end (%"
			       PRIuUOFF_T" bytes)", first, last,
			       str_sanitize(op->file_reference, 128),
			       att.size);
			status = ITEMOPS_STATUS_BYTE_RANGE_INVALID;
			i_stream_unref(&att.input);
		} else if (last >= att.size) {
			/* best effort: up to the end */
			last = att.size - 1;
		}
	}

	if (status == ITEMOPS_STATUS_OK)
		ictx->ctx->items++;
	wbxml_start(w, EAS_ITEMOPERATIONS_FETCH);
	wbxml_elem_uint(w, EAS_ITEMOPERATIONS_STATUS, status);
	wbxml_elem_str(w, EAS_AIRSYNCBASE_FILEREFERENCE, op->file_reference);
	if (status == ITEMOPS_STATUS_OK) {
		ictx->attachment_bytes += att.size;
		wbxml_start(w, EAS_ITEMOPERATIONS_PROPERTIES);
		wbxml_elem_str(w, EAS_AIRSYNCBASE_CONTENTTYPE,
			       att.content_type);
		if (op->have_range) {
			wbxml_elem_str(w, EAS_ITEMOPERATIONS_RANGE,
				t_strdup_printf("%"PRIuUOFF_T"-%"PRIuUOFF_T,
						first, last));
			wbxml_elem_uint(w, EAS_ITEMOPERATIONS_TOTAL,
					att.size);
			input = i_stream_create_range(att.input, first,
						      last - first + 1);
			as_stream_response_add(ictx->sr,
				EAS_ITEMOPERATIONS_DATA, input,
				last - first + 1);
			i_stream_unref(&input);
		} else {
			as_stream_response_add(ictx->sr,
				EAS_ITEMOPERATIONS_DATA, att.input, att.size);
		}
		i_stream_unref(&att.input);
		wbxml_end(w);
	}
	wbxml_end(w);
}

/* ---- Fetch of an item ---- */

static unsigned int
itemops_fetch_item_read(struct itemops_context *ictx,
			 const struct itemops_op *op,
			 const char *collection_id, const char *server_id,
			 struct as_item_params *params,
			 struct mailbox **box_r, struct mail **mail_r,
			 const struct as_item_class **class_r,
			 struct as_item **item_r)
{
	struct as_cmd_context *ctx = ictx->ctx;
	struct as_folder_info folder;
	struct mailbox_transaction_context *t;
	const char *error;
	uint32_t uid;
	int ret;

	ret = as_folders_lookup(ctx, collection_id, &folder, &error);
	if (ret < 0) {
		e_error(ctx->event, "ItemOperations: folder lookup %s "
			"failed: %s", str_sanitize(collection_id, 64), error);
		return ITEMOPS_STATUS_SERVER_ERROR;
	}
	if (ret > 0)
		*class_r = as_item_class_get(&folder);
	if (ret == 0 || *class_r == NULL ||
	    !as_email_parse_server_id(server_id, folder.server_id, &uid)) {
		e_info(ctx->event, "ItemOperations: Fetch of unknown item "
		       "%s in collection %s", str_sanitize(server_id, 64),
		       str_sanitize(collection_id, 64));
		return ITEMOPS_STATUS_NOT_FOUND;
	}
	/* an item the device edited lives on in a new message */
	if (!(*class_r)->change_in_place &&
	    as_sync_state_device_uid(ctx->store, ctx->username,
				     ctx->req->device_id, folder.server_id,
				     uid, &uid, &error) < 0) {
		e_error(ctx->event, "ItemOperations: reading the state of "
			"%s failed: %s", folder.server_id, error);
	}
	if (as_folders_open(ctx, &folder, 0, box_r, &error) < 0) {
		e_info(ctx->event, "ItemOperations: folder %s: %s",
		       folder.server_id, error);
		return ITEMOPS_STATUS_NOT_FOUND;
	}
	t = mailbox_transaction_begin(*box_r, 0, "activesync itemops fetch");
	*mail_r = mail_alloc(t, 0, NULL);
	if (!mail_set_uid(*mail_r, uid)) {
		e_info(ctx->event, "ItemOperations: Fetch of %s: no such "
		       "message", str_sanitize(server_id, 64));
		return ITEMOPS_STATUS_NOT_FOUND;
	}
	params->version = ctx->req->version;
	params->folder_id = p_strdup(ctx->pool, folder.server_id);
	params->body = &op->options.body;
	if ((*class_r)->read(*mail_r, params, item_r, &error) < 0) {
		enum mail_error mail_error;

		(void)mailbox_get_last_internal_error(*box_r, &mail_error);
		if (mail_error == MAIL_ERROR_EXPUNGED) {
			e_info(ctx->event, "ItemOperations: Fetch of %s: "
			       "expunged", str_sanitize(server_id, 64));
			return ITEMOPS_STATUS_NOT_FOUND;
		}
		e_error(ctx->event, "ItemOperations: reading %s failed: %s",
			str_sanitize(server_id, 64), error);
		return ITEMOPS_STATUS_CONVERSION_FAILED;
	}
	return ITEMOPS_STATUS_OK;
}

/* The properties (those of the Schema), the body as a multipart part
   when asked, and the BodyPart. */
static void
itemops_fetch_item_write(struct itemops_context *ictx,
			 const struct itemops_op *op,
			 struct as_item_params *params, struct mail *mail,
			 const struct as_item_class *class,
			 const struct as_item *item)
{
	struct as_cmd_context *ctx = ictx->ctx;
	struct wbxml_writer *w = ictx->w, *pw;
	struct istream *input;
	const void *data;
	size_t size;
	buffer_t *props;
	const char *error;

	if (as_stream_response_is_multipart(ictx->sr) &&
	    as_fetch_schema_allows(op->schema, EAS_AIRSYNCBASE_BODY) &&
	    class->body_data != NULL &&
	    class->body_data(item, &data, &size)) {
		params->body_part = as_stream_response_next_part(ictx->sr);
		input = i_stream_create_copy_from_data(data, size);
		as_stream_response_add_part(ictx->sr, input, size);
		i_stream_unref(&input);
	}
	if (op->schema == NULL)
		class->write(w, item);
	else {
		/* all of it into a scratch document, the listed ones out */
		props = t_buffer_create(1024);
		pw = wbxml_writer_init(props);
		wbxml_start(pw, EAS_ITEMOPERATIONS_PROPERTIES);
		class->write(pw, item);
		wbxml_end(pw);
		wbxml_writer_deinit(&pw);
		if (as_fetch_schema_write(w, op->schema, props, &error) < 0) {
			e_error(ctx->event, "ItemOperations: Schema: %s",
				error);
		}
	}
	if (op->have_body_part &&
	    as_body_part_write(w, mail, &op->body_part, &error) < 0) {
		e_error(ctx->event, "ItemOperations: BodyPart of UID %u: %s",
			mail->uid, error);
	}
}

static void
itemops_fetch_item(struct itemops_context *ictx, const struct itemops_op *op)
{
	struct wbxml_writer *w = ictx->w;
	struct as_item_params params;
	const struct as_item_class *class = NULL;
	struct as_item *item = NULL;
	struct mailbox *box = NULL;
	struct mail *mail = NULL;
	struct mailbox_transaction_context *t;
	const char *collection_id = op->collection_id;
	const char *server_id = op->server_id, *p;
	unsigned int status;

	if (op->long_id != NULL) {
		/* Search results: "<folder>:<uid>" like a ServerId */
		p = strchr(op->long_id, ':');
		collection_id = p == NULL ? "" :
			t_strdup_until(op->long_id, p);
		server_id = op->long_id;
	}
	i_zero(&params);
	status = itemops_fetch_item_read(ictx, op, collection_id, server_id,
					 &params, &box, &mail, &class, &item);

	if (status == ITEMOPS_STATUS_OK)
		ictx->ctx->items++;
	wbxml_start(w, EAS_ITEMOPERATIONS_FETCH);
	wbxml_elem_uint(w, EAS_ITEMOPERATIONS_STATUS, status);
	if (op->long_id != NULL)
		wbxml_elem_str(w, EAS_SEARCH_LONGID, op->long_id);
	else {
		wbxml_elem_str(w, EAS_AIRSYNC_COLLECTIONID, collection_id);
		wbxml_elem_str(w, EAS_AIRSYNC_SERVERID, server_id);
	}
	if (status == ITEMOPS_STATUS_OK) {
		wbxml_elem_str(w, EAS_AIRSYNC_CLASS, class->name);
		wbxml_start(w, EAS_ITEMOPERATIONS_PROPERTIES);
		itemops_fetch_item_write(ictx, op, &params, mail, class, item);
		wbxml_end(w);
	}
	wbxml_end(w);

	if (mail != NULL) {
		t = mail->transaction;
		mail_free(&mail);
		(void)mailbox_transaction_commit(&t);
	}
	if (box != NULL)
		mailbox_free(&box);
}

static void
itemops_fetch(struct itemops_context *ictx, const struct itemops_op *op)
{
	struct as_cmd_context *ctx = ictx->ctx;
	struct wbxml_writer *w = ictx->w;

	if (strcasecmp(op->store, "Mailbox") != 0) {
		e_info(ctx->event, "ItemOperations: unsupported Store %s",
		       str_sanitize(op->store, 32));
		wbxml_start(w, EAS_ITEMOPERATIONS_FETCH);
		wbxml_elem_uint(w, EAS_ITEMOPERATIONS_STATUS,
				ITEMOPS_STATUS_STORE_UNKNOWN);
		wbxml_end(w);
		return;
	}
	if (op->file_reference != NULL)
		itemops_fetch_attachment(ictx, op);
	else
		itemops_fetch_item(ictx, op);
}

/* ---- EmptyFolderContents ---- */

static int itemops_expunge_all(struct mailbox *box, const char **error_r)
{
	struct mailbox_transaction_context *t;
	struct mail_search_args *args;
	struct mail_search_context *search;
	struct mail *mail;
	int ret;

	args = mail_search_build_init();
	mail_search_build_add_all(args);
	t = mailbox_transaction_begin(box, 0, "activesync empty folder");
	search = mailbox_search_init(t, args, NULL, 0, NULL);
	mail_search_args_unref(&args);
	while (mailbox_search_next(search, &mail))
		mail_expunge(mail);
	ret = mailbox_search_deinit(&search);
	if (ret < 0) {
		mailbox_transaction_rollback(&t);
	} else {
		ret = mailbox_transaction_commit(&t);
	}
	if (ret < 0)
		*error_r = mailbox_get_last_internal_error(box, NULL);
	return ret;
}

static int
itemops_subfolder_cmp(const struct as_folder_info *f1,
		      const struct as_folder_info *f2)
{
	/* deepest first */
	size_t l1 = strlen(f1->vname), l2 = strlen(f2->vname);

	return l1 < l2 ? 1 : (l1 > l2 ? -1 : 0);
}

static int
itemops_delete_subfolders(struct as_cmd_context *ctx,
			  const struct as_folder_info *parent,
			  const char **error_r)
{
	ARRAY_TYPE(as_folder_info) folders, children;
	const struct as_folder_info *folder;
	struct mail_namespace *ns = as_folders_namespace(ctx);
	struct mailbox *box;
	const char *prefix;
	int ret = 0;

	t_array_init(&folders, 32);
	if (as_folders_list(ctx, &folders, error_r) < 0)
		return -1;
	prefix = t_strdup_printf("%s%c", parent->vname,
				 mail_namespace_get_sep(ns));
	t_array_init(&children, 8);
	array_foreach(&folders, folder) {
		if (!str_begins(folder->vname, prefix))
			continue;
		if (as_folder_type_is_default(folder->type)) {
			e_info(ctx->event, "ItemOperations: not deleting "
			       "default folder %s", folder->vname);
			continue;
		}
		array_push_back(&children, folder);
	}
	array_sort(&children, itemops_subfolder_cmp);
	array_foreach(&children, folder) {
		box = mailbox_alloc(ns->list, folder->vname, 0);
		if (mailbox_delete(box) < 0) {
			enum mail_error error;
			const char *errstr =
				mailbox_get_last_internal_error(box, &error);

			/* a parent that has a default folder below it
			   stays */
			if (error != MAIL_ERROR_EXISTS &&
			    error != MAIL_ERROR_NOTFOUND) {
				*error_r = t_strdup_printf("delete(%s): %s",
					folder->vname, errstr);
				ret = -1;
			}
		}
		mailbox_free(&box);
		if (ret < 0)
			break;
	}
	return ret;
}

static void
itemops_empty_folder(struct itemops_context *ictx,
		     const struct itemops_op *op)
{
	struct as_cmd_context *ctx = ictx->ctx;
	struct wbxml_writer *w = ictx->w;
	struct as_folder_info folder;
	struct mailbox *box;
	const char *error;
	unsigned int status = ITEMOPS_STATUS_OK;
	int ret;

	ret = as_folders_lookup(ctx, op->collection_id, &folder, &error);
	if (ret < 0) {
		e_error(ctx->event, "ItemOperations: folder lookup %s "
			"failed: %s", str_sanitize(op->collection_id, 64),
			error);
		status = ITEMOPS_STATUS_SERVER_ERROR;
	} else if (ret == 0 || folder.noselect) {
		e_info(ctx->event, "ItemOperations: EmptyFolderContents of "
		       "unknown folder %s",
		       str_sanitize(op->collection_id, 64));
		status = ITEMOPS_STATUS_NOT_FOUND;
	} else if (as_folders_open(ctx, &folder, 0, &box, &error) < 0) {
		e_info(ctx->event, "ItemOperations: folder %s: %s",
		       folder.server_id, error);
		status = ITEMOPS_STATUS_NOT_FOUND;
	} else {
		if (as_folders_check_writable(box, &error) < 0 ||
		    itemops_expunge_all(box, &error) < 0) {
			e_error(ctx->event, "ItemOperations: emptying %s "
				"failed: %s", folder.vname, error);
			status = ITEMOPS_STATUS_SERVER_ERROR;
		}
		mailbox_free(&box);
		if (status == ITEMOPS_STATUS_OK && op->delete_subfolders &&
		    itemops_delete_subfolders(ctx, &folder, &error) < 0) {
			e_error(ctx->event, "ItemOperations: deleting "
				"subfolders of %s failed: %s",
				folder.vname, error);
			status = ITEMOPS_STATUS_SERVER_ERROR;
		}
		if (status == ITEMOPS_STATUS_OK) {
			e_info(ctx->event, "ItemOperations: emptied %s%s",
			       folder.vname, op->delete_subfolders ?
			       " and deleted its subfolders" : "");
		}
	}
	wbxml_start(w, EAS_ITEMOPERATIONS_EMPTYFOLDERCONTENTS);
	wbxml_elem_uint(w, EAS_ITEMOPERATIONS_STATUS, status);
	wbxml_elem_str(w, EAS_AIRSYNC_COLLECTIONID, op->collection_id);
	wbxml_end(w);
}

/* ---- Move (conversations) ---- */

/* UIDs of box's mails in the conversation */
static int
itemops_conversation_uids(struct mailbox *box, const unsigned char *id,
			  ARRAY_TYPE(seq_range) *uids, const char **error_r)
{
	struct mailbox_transaction_context *t;
	struct mail_search_args *args;
	struct mail_search_context *search;
	struct mail *mail;
	unsigned char mail_id[AS_CONVERSATION_ID_SIZE];
	buffer_t *index = t_buffer_create(32);
	int ret;

	args = mail_search_build_init();
	mail_search_build_add_all(args);
	t = mailbox_transaction_begin(box, 0, "activesync conversation");
	search = mailbox_search_init(t, args, NULL, 0, NULL);
	mail_search_args_unref(&args);
	while (mailbox_search_next(search, &mail)) {
		buffer_set_used_size(index, 0);
		if (as_conversation_get(mail, mail_id, index) == 0 &&
		    memcmp(mail_id, id, sizeof(mail_id)) == 0)
			seq_range_array_add(uids, mail->uid);
	}
	ret = mailbox_search_deinit(&search);
	(void)mailbox_transaction_commit(&t);
	if (ret < 0)
		*error_r = mailbox_get_last_internal_error(box, NULL);
	return ret;
}

/* Move the UIDs from src to dst. */
static int
itemops_move_uids(struct as_cmd_context *ctx, struct mailbox *src,
		  struct mailbox *dst, const ARRAY_TYPE(seq_range) *uids,
		  const char **error_r)
{
	struct mailbox_transaction_context *src_t, *dst_t;
	struct mail_save_context *save_ctx;
	struct seq_range_iter iter;
	struct mail *mail;
	unsigned int n = 0;
	uint32_t uid;
	int ret = 0;

	struct mail_transaction_commit_changes changes;
	ARRAY_TYPE(uint32_t) moved;

	if (as_folders_check_writable(src, error_r) < 0)
		return -1;
	t_array_init(&moved, seq_range_count(uids));
	src_t = mailbox_transaction_begin(src, 0, "activesync conversation");
	dst_t = mailbox_transaction_begin(dst,
		MAILBOX_TRANSACTION_FLAG_EXTERNAL |
		MAILBOX_TRANSACTION_FLAG_ASSIGN_UIDS,
		"activesync conversation");
	mail = mail_alloc(src_t, 0, NULL);
	seq_range_array_iter_init(&iter, uids);
	while (ret == 0 && seq_range_array_iter_nth(&iter, n++, &uid)) {
		if (!mail_set_uid(mail, uid))
			continue;	/* gone meanwhile */
		save_ctx = mailbox_save_alloc(dst_t);
		mailbox_save_copy_flags(save_ctx, mail);
		if (mailbox_move(&save_ctx, mail) < 0) {
			*error_r = mailbox_get_last_internal_error(dst, NULL);
			ret = -1;
		} else {
			array_push_back(&moved, &uid);
		}
	}
	mail_free(&mail);
	if (ret < 0) {
		mailbox_transaction_rollback(&dst_t);
		mailbox_transaction_rollback(&src_t);
		return -1;
	}
	if (mailbox_transaction_commit_get_changes(&dst_t, &changes) < 0) {
		*error_r = mailbox_get_last_internal_error(dst, NULL);
		mailbox_transaction_rollback(&src_t);
		return -1;
	}
	if (mailbox_transaction_commit(&src_t) < 0) {
		*error_r = mailbox_get_last_internal_error(src, NULL);
		ret = -1;
	}
	/* mailbox first, then the flag dates follow the messages */
	as_itemprops_move(ctx, src, dst, &moved, &changes.saved_uids,
			  ret == 0);
	pool_unref(&changes.pool);
	return ret;
}

/* Move every mail of the conversation into dst_folder. Deleted Items
   keeps what was deleted. The device learns the new places from its
   next Syncs (the response names no items). Returns the number of mails
   moved, or -1. */
static int
itemops_move_conversation(struct as_cmd_context *ctx, const unsigned char *id,
			  const struct as_folder_info *dst_folder,
			  const char **error_r)
{
	ARRAY_TYPE(as_folder_info) folders;
	ARRAY_TYPE(seq_range) uids;
	const struct as_folder_info *folder;
	struct mailbox *dst, *src;
	int count = 0, ret = 0;

	t_array_init(&folders, 32);
	if (as_folders_list(ctx, &folders, error_r) < 0)
		return -1;
	if (as_folders_open(ctx, dst_folder, 0, &dst, error_r) < 0)
		return -1;
	t_array_init(&uids, 8);
	array_foreach(&folders, folder) {
		if (!itemops_is_mail_folder(folder) ||
		    folder->type == AS_FOLDER_TYPE_DELETED ||
		    strcmp(folder->server_id, dst_folder->server_id) == 0)
			continue;
		if (as_folders_open(ctx, folder, 0, &src, error_r) < 0) {
			/* deleted meanwhile */
			continue;
		}
		array_clear(&uids);
		ret = itemops_conversation_uids(src, id, &uids, error_r);
		if (ret == 0 && array_count(&uids) > 0) {
			ret = itemops_move_uids(ctx, src, dst, &uids, error_r);
			if (ret == 0)
				count += seq_range_count(&uids);
		}
		mailbox_free(&src);
		if (ret < 0)
			break;
	}
	mailbox_free(&dst);
	return ret < 0 ? -1 : count;
}

static void
itemops_move(struct itemops_context *ictx, const struct itemops_op *op)
{
	struct as_cmd_context *ctx = ictx->ctx;
	struct wbxml_writer *w = ictx->w;
	struct as_folder_info folder;
	const char *error;
	unsigned int status;
	int ret;

	ret = as_folders_lookup(ctx, op->dst_folder_id, &folder, &error);
	if (ret < 0) {
		e_error(ctx->event, "ItemOperations: folder lookup %s "
			"failed: %s", str_sanitize(op->dst_folder_id, 64),
			error);
		status = ITEMOPS_STATUS_SERVER_ERROR;
	} else if (ret == 0) {
		e_info(ctx->event, "ItemOperations: Move to unknown folder %s",
		       str_sanitize(op->dst_folder_id, 64));
		status = ITEMOPS_STATUS_NOT_FOUND;
	} else if (!itemops_is_mail_folder(&folder)) {
		e_info(ctx->event, "ItemOperations: Move to folder %s, which "
		       "is not a mail folder", folder.server_id);
		status = ITEMOPS_STATUS_ACTION_NOT_SUPPORTED;
	} else if ((ret = itemops_move_conversation(ctx,
			op->conversation_id->data, &folder, &error)) < 0) {
		e_error(ctx->event, "ItemOperations: moving a conversation "
			"to %s failed: %s", folder.vname, error);
		status = ITEMOPS_STATUS_SERVER_ERROR;
	} else if (ret == 0) {
		e_info(ctx->event, "ItemOperations: Move of an unknown "
		       "conversation (no mail outside %s has it)",
		       folder.vname);
		status = ITEMOPS_STATUS_NOT_FOUND;
	} else {
		e_info(ctx->event, "ItemOperations: moved a conversation of %d "
		       "mails to %s", ret, folder.vname);
		status = ITEMOPS_STATUS_OK;
	}
	wbxml_start(w, EAS_ITEMOPERATIONS_MOVE);
	wbxml_elem_uint(w, EAS_ITEMOPERATIONS_STATUS, status);
	wbxml_elem_opaque(w, EAS_ITEMOPERATIONS_CONVERSATIONID,
			  op->conversation_id->data,
			  op->conversation_id->data_size);
	wbxml_end(w);
}

/* ---- the command ---- */

static void itemops_run(struct itemops_context *ictx)
{
	const struct itemops_op *op;

	wbxml_start(ictx->w, EAS_ITEMOPERATIONS_ITEMOPERATIONS);
	wbxml_elem_uint(ictx->w, EAS_ITEMOPERATIONS_STATUS, ITEMOPS_STATUS_OK);
	wbxml_start(ictx->w, EAS_ITEMOPERATIONS_RESPONSE);
	array_foreach(&ictx->ops, op) T_BEGIN {
		switch (op->type) {
		case ITEMOPS_OP_FETCH:
			itemops_fetch(ictx, op);
			break;
		case ITEMOPS_OP_EMPTY_FOLDER:
			itemops_empty_folder(ictx, op);
			break;
		case ITEMOPS_OP_MOVE:
			itemops_move(ictx, op);
			break;
		}
	} T_END;
	wbxml_end(ictx->w);
	wbxml_end(ictx->w);
}

enum as_command_result cmd_itemoperations(struct as_cmd_context *ctx)
{
	struct itemops_context ictx;
	const char *error;

	i_zero(&ictx);
	ictx.ctx = ctx;
	ictx.w = ctx->writer;
	t_array_init(&ictx.ops, 4);
	ictx.parse_status = ITEMOPS_STATUS_PROTOCOL_ERROR;
	if (itemops_parse(&ictx, &error) < 0) {
		if (ictx.parse_status == ITEMOPS_STATUS_PROTOCOL_ERROR) {
			e_info(ctx->event, "ItemOperations: protocol error: "
			       "%s", error);
		} else {
			e_info(ctx->event, "ItemOperations: Status %u: %s",
			       ictx.parse_status, error);
		}
		as_cmd_write_status(ctx, ictx.parse_status);
		return AS_CMD_DONE;
	}
	ictx.sr = as_stream_response_init(ctx, ctx->req->accept_multipart);
	/* the multipart form needs the document's size before its first
	   byte (the parts stream after it); the inline form is written
	   straight to the client (each Fetch's Status precedes its data) */
	if (!ctx->req->accept_multipart)
		as_response_stream_enable(ctx);
	itemops_run(&ictx);
	as_stream_response_finish(&ictx.sr);
	return AS_CMD_DONE;
}
