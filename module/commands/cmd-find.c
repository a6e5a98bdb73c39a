/* Copyright (c) the dovecot-activesync authors, see AUTHORS */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "strnum.h"
#include "ioloop.h"
#include "mail-storage.h"
#include "mail-search.h"
#include "mail-search-build.h"
#include "as-command.h"
#include "as-folders.h"
#include "gal/as-gal.h"
#include "items/as-body.h"
#include "items/as-datetime.h"
#include "items/as-email.h"
#include "search/as-search-kql.h"
#include "search/as-search-run.h"

/* Find (MS-ASCMD 2.2.1.2, 16.1): a mailbox search given as KQL
   FreeText (search/as-search-kql.c) over the folders in scope, run by
   the engine Search uses (search/as-search-run.c), or a GAL search;
   the results in the 16.1 shape (Properties with Preview,
   HasAttachments, DisplayCc, DisplayBcc). */

#define FIND_STATUS_SUCCESS 1
#define FIND_STATUS_INVALID_REQUEST 2
#define FIND_STATUS_FOLDERSYNC_REQUIRED 3
#define FIND_STATUS_INVALID_RANGE 4
/* common status (MS-ASCMD 2.2.2): ServerError */
#define FIND_STATUS_SERVER_ERROR 110

/* Range m-n: 0 <= m <= n <= 999; 100 results at most per request */
#define FIND_MAX_RANGE_END 999
#define FIND_MAX_RESULTS 100
#define FIND_DEFAULT_RANGE_END 99
/* Preview characters (the spec's maximum is 255) */
#define FIND_PREVIEW_SIZE 255
#define FIND_MAX_SEARCHID_LEN 256

struct find_run {
	struct as_search_run engine;
	struct as_cmd_context *ctx;
	unsigned int range_start, range_count;
	enum as_search_kql_attachments attachments;
};

struct find_box {
	struct mailbox *box;
	struct mailbox_transaction_context *t;
	struct mail *mail;
};

static void find_write_status(struct as_cmd_context *ctx, unsigned int status,
			      const char *reason)
{
	e_info(ctx->event, "Find Status %u: %s", status, reason);
	as_cmd_write_status(ctx, status);
}

static bool find_parse_range(const struct wbxml_node *options,
			     unsigned int *start_r, unsigned int *count_r)
{
	const char *value, *p;
	unsigned int start, end;

	*start_r = 0;
	*count_r = FIND_DEFAULT_RANGE_END + 1;
	value = options == NULL ? NULL :
		wbxml_node_child_text(options, EAS_FIND_RANGE);
	if (value == NULL)
		return TRUE;
	p = strchr(value, '-');
	if (p == NULL || str_to_uint(t_strdup_until(value, p), &start) < 0 ||
	    str_to_uint(p + 1, &end) < 0 || end < start ||
	    end > FIND_MAX_RANGE_END)
		return FALSE;
	*start_r = start;
	*count_r = I_MIN(end - start + 1, FIND_MAX_RESULTS);
	return TRUE;
}

/* ---- mailbox ---- */

static bool find_attachments_filter(struct as_search_run *engine,
				    struct mail *mail)
{
	struct find_run *run = engine->context;
	struct as_body_info info;
	const char *error;
	bool has;

	if (run->attachments == AS_SEARCH_KQL_ATTACHMENTS_ANY)
		return TRUE;
	T_BEGIN {
		has = as_body_structure(pool_datastack_create(), mail, TRUE,
					&info, &error) == 0 &&
			array_count(&info.attachments) > 0;
	} T_END;
	return has == (run->attachments == AS_SEARCH_KQL_ATTACHMENTS_SOME);
}

static void find_header(struct mail *mail, const char *name,
			unsigned int tag, struct wbxml_writer *w)
{
	const char *value;

	if (mail_get_first_header_utf8(mail, name, &value) > 0)
		wbxml_elem_str(w, tag, value);
}

static void find_write_preview(struct mail *mail, struct wbxml_writer *w,
			       bool *has_attachments_r)
{
	struct as_body_info info;
	const char *error, *text;
	uoff_t full_size;
	size_t len;

	*has_attachments_r = FALSE;
	if (as_body_parse(pool_datastack_create(), mail, 4096, TRUE, &info,
			  &error) < 0)
		return;
	*has_attachments_r = array_count(&info.attachments) > 0;
	text = as_body_text(&info, AS_BODY_TYPE_PLAIN, &full_size);
	if (text == NULL)
		return;
	text = t_str_trim(text, " \t\r\n");
	len = as_body_utf8_truncate(text, strlen(text), FIND_PREVIEW_SIZE);
	wbxml_elem_str(w, EAS_FIND_PREVIEW, t_strndup(text, len));
}

static bool
find_write_result(struct find_run *run, struct find_box *fbox,
		  const struct as_search_match *match)
{
	struct as_cmd_context *ctx = run->ctx;
	const struct as_folder_info *folder =
		as_search_run_folder(&run->engine, match->scope_idx);
	struct wbxml_writer *w = ctx->writer;
	const char *error;
	bool has_attachments;

	if (fbox->box == NULL) {
		if (as_folders_open(ctx, folder, MAILBOX_FLAG_READONLY,
				    &fbox->box, &error) < 0) {
			e_debug(ctx->event, "Folder %s went away: %s",
				folder->vname, error);
			return FALSE;
		}
		fbox->t = mailbox_transaction_begin(fbox->box, 0,
						    "activesync find");
		fbox->mail = mail_alloc(fbox->t, MAIL_FETCH_FLAGS, NULL);
	}
	if (!mail_set_uid(fbox->mail, match->uid))
		return FALSE;	/* expunged meanwhile */

	wbxml_start(w, EAS_FIND_RESULT);
	wbxml_elem_str(w, EAS_AIRSYNC_CLASS, "Email");
	wbxml_elem_str(w, EAS_AIRSYNC_SERVERID,
		       as_email_server_id(folder->server_id, match->uid));
	wbxml_elem_str(w, EAS_AIRSYNC_COLLECTIONID, folder->server_id);
	wbxml_start(w, EAS_FIND_PROPERTIES);
	find_header(fbox->mail, "Subject", EAS_EMAIL_SUBJECT, w);
	wbxml_elem_str(w, EAS_EMAIL_DATERECEIVED,
		       as_datetime_format(match->received));
	find_header(fbox->mail, "To", EAS_EMAIL_DISPLAYTO, w);
	find_header(fbox->mail, "Cc", EAS_FIND_DISPLAYCC, w);
	find_header(fbox->mail, "Bcc", EAS_FIND_DISPLAYBCC, w);
	find_header(fbox->mail, "From", EAS_EMAIL_FROM, w);
	wbxml_elem_uint(w, EAS_EMAIL_READ,
			(mail_get_flags(fbox->mail) & MAIL_SEEN) != 0 ? 1 : 0);
	find_write_preview(fbox->mail, w, &has_attachments);
	wbxml_elem_uint(w, EAS_FIND_HASATTACHMENTS, has_attachments ? 1 : 0);
	wbxml_end(w); /* Properties */
	wbxml_end(w); /* Result */
	return TRUE;
}

static void find_write_head(struct as_cmd_context *ctx, const char *store)
{
	wbxml_start(ctx->writer, EAS_FIND_FIND);
	wbxml_elem_uint(ctx->writer, EAS_FIND_STATUS, FIND_STATUS_SUCCESS);
	wbxml_start(ctx->writer, EAS_FIND_RESPONSE);
	wbxml_elem_str(ctx->writer, EAS_ITEMOPERATIONS_STORE, store);
	wbxml_elem_uint(ctx->writer, EAS_FIND_STATUS, FIND_STATUS_SUCCESS);
}

static void find_write_tail(struct as_cmd_context *ctx, unsigned int start,
			    unsigned int written, unsigned int total)
{
	if (written > 0) {
		wbxml_elem_str(ctx->writer, EAS_FIND_RANGE,
			       t_strdup_printf("%u-%u", start,
					       start + written - 1));
	}
	wbxml_elem_uint(ctx->writer, EAS_FIND_TOTAL, total);
	wbxml_end(ctx->writer); /* Response */
	wbxml_end(ctx->writer); /* Find */
}

static void find_finished(struct as_search_run *engine,
			  enum as_search_run_status status, const char *error)
{
	struct find_run *run = engine->context;
	struct as_cmd_context *ctx = run->ctx;
	const struct as_search_match *matches;
	struct find_box *boxes;
	unsigned int i, count, end, written = 0;

	switch (status) {
	case AS_SEARCH_RUN_OK:
		break;
	case AS_SEARCH_RUN_UNKNOWN_FOLDER:
		find_write_status(ctx, FIND_STATUS_FOLDERSYNC_REQUIRED, error);
		return;
	case AS_SEARCH_RUN_SERVER_ERROR:
	case AS_SEARCH_RUN_TIMED_OUT:
		find_write_status(ctx, FIND_STATUS_SERVER_ERROR, error);
		return;
	}
	matches = array_get(&engine->matches, &count);
	find_write_head(ctx, "Mailbox");
	end = I_MIN(count, run->range_start + run->range_count);
	boxes = t_new(struct find_box, array_count(&engine->scope));
	for (i = run->range_start; i < end; i++) {
		T_BEGIN {
			if (find_write_result(run,
					      &boxes[matches[i].scope_idx],
					      &matches[i]))
				written++;
		} T_END;
	}
	for (i = 0; i < array_count(&engine->scope); i++) {
		if (boxes[i].box == NULL)
			continue;
		mail_free(&boxes[i].mail);
		mailbox_transaction_rollback(&boxes[i].t);
		mailbox_free(&boxes[i].box);
	}
	find_write_tail(ctx, run->range_start, written, count);
	e_debug(ctx->event, "Find: %u matches, returned %u", count, written);
}

static enum as_command_result
find_mailbox(struct as_cmd_context *ctx, const struct wbxml_node *criterion)
{
	const struct wbxml_node *query, *options, *child;
	enum as_search_run_status run_status;
	enum as_search_query_result qret;
	struct find_run *run;
	const char *text = NULL, *error;

	query = wbxml_node_child(criterion, EAS_FIND_QUERY);
	options = wbxml_node_child(criterion, EAS_FIND_OPTIONS);
	if (query == NULL) {
		find_write_status(ctx, FIND_STATUS_INVALID_REQUEST,
				  "MailBoxSearchCriterion without a Query");
		return AS_CMD_DONE;
	}
	run = p_new(ctx->pool, struct find_run, 1);
	run->ctx = ctx;
	if (!find_parse_range(options, &run->range_start, &run->range_count)) {
		find_write_status(ctx, FIND_STATUS_INVALID_RANGE,
				  "Range is not m-n with m <= n <= 999");
		return AS_CMD_DONE;
	}
	p_array_init(&run->engine.query.collection_ids, ctx->pool, 4);
	wbxml_node_foreach_child(query, child) {
		switch (child->tag) {
		case EAS_AIRSYNC_CLASS:
			if (strcmp(wbxml_node_text(child), "Email") != 0) {
				find_write_status(ctx,
					FIND_STATUS_INVALID_REQUEST,
					"Only Class Email can be found");
				return AS_CMD_DONE;
			}
			break;
		case EAS_AIRSYNC_COLLECTIONID: {
			const char *id = p_strdup(ctx->pool,
						  wbxml_node_text(child));
			array_push_back(&run->engine.query.collection_ids,
					&id);
			break;
		}
		case EAS_FIND_FREETEXT:
			text = wbxml_node_text(child);
			if (strlen(text) != child->data_size) {
				find_write_status(ctx,
					FIND_STATUS_INVALID_REQUEST,
					"FreeText is not text");
				return AS_CMD_DONE;
			}
			break;
		default:
			find_write_status(ctx, FIND_STATUS_INVALID_REQUEST,
				t_strdup_printf("Unexpected %s in Query",
					wbxml_tag_describe(child->tag)));
			return AS_CMD_DONE;
		}
	}
	if (text == NULL) {
		find_write_status(ctx, FIND_STATUS_INVALID_REQUEST,
				  "Query without FreeText");
		return AS_CMD_DONE;
	}
	run->engine.query.args = mail_search_build_init();
	qret = as_search_kql_parse(run->engine.query.args, text,
				   &run->attachments, &error);
	if (qret != AS_SEARCH_QUERY_OK) {
		mail_search_args_unref(&run->engine.query.args);
		find_write_status(ctx, FIND_STATUS_INVALID_REQUEST,
				  t_strdup_printf("FreeText: %s", error));
		return AS_CMD_DONE;
	}
	if (run->engine.query.args->args == NULL)
		mail_search_build_add_all(run->engine.query.args);

	run->engine.ctx = ctx;
	run->engine.context = run;
	run->engine.filter = find_attachments_filter;
	run->engine.finished = find_finished;
	if (as_search_run_build_scope(&run->engine,
			options != NULL && wbxml_node_child(options,
					EAS_FIND_DEEPTRAVERSAL) != NULL,
			&run_status, &error) < 0) {
		mail_search_args_unref(&run->engine.query.args);
		if (run_status == AS_SEARCH_RUN_UNKNOWN_FOLDER) {
			find_write_status(ctx, FIND_STATUS_FOLDERSYNC_REQUIRED,
					  error);
		} else {
			e_error(ctx->event, "Find: %s", error);
			find_write_status(ctx, FIND_STATUS_SERVER_ERROR,
					  error);
		}
		return AS_CMD_DONE;
	}
	as_search_run_start(&run->engine);
	return AS_CMD_PENDING;
}

/* ---- GAL ---- */

static enum as_command_result
find_gal(struct as_cmd_context *ctx, const struct wbxml_node *criterion)
{
	const struct wbxml_node *query, *options;
	ARRAY_TYPE(as_gal_entry) entries;
	const struct as_gal_entry *e;
	struct as_gal_picture_opts picture;
	unsigned int start, count, total;
	const char *text, *error;

	query = wbxml_node_child(criterion, EAS_FIND_QUERY);
	options = wbxml_node_child(criterion, EAS_FIND_OPTIONS);
	text = query == NULL ? NULL :
		wbxml_node_child_text(query, EAS_FIND_FREETEXT);
	if (text == NULL || *t_str_trim(text, " \t") == '\0') {
		find_write_status(ctx, FIND_STATUS_INVALID_REQUEST,
				  "GalSearchCriterion without FreeText");
		return AS_CMD_DONE;
	}
	if (!find_parse_range(options, &start, &count)) {
		find_write_status(ctx, FIND_STATUS_INVALID_RANGE,
				  "Range is not m-n with m <= n <= 999");
		return AS_CMD_DONE;
	}
	if (!as_gal_picture_parse(options == NULL ? NULL :
				  wbxml_node_child(options, EAS_FIND_PICTURE),
				  EAS_FIND_MAXSIZE, EAS_FIND_MAXPICTURES,
				  &picture)) {
		find_write_status(ctx, FIND_STATUS_INVALID_REQUEST,
				  "Picture limits are not numbers");
		return AS_CMD_DONE;
	}
	t_array_init(&entries, count);
	if (as_gal_search(ctx, t_str_trim(text, " \t"), start, count,
			  &entries, &total, &error) < 0) {
		e_error(ctx->event, "Find: GAL: %s", error);
		find_write_status(ctx, FIND_STATUS_SERVER_ERROR, error);
		return AS_CMD_DONE;
	}
	find_write_head(ctx, "GAL");
	array_foreach(&entries, e) {
		wbxml_start(ctx->writer, EAS_FIND_RESULT);
		wbxml_start(ctx->writer, EAS_FIND_PROPERTIES);
		as_gal_write_entry(ctx->writer, e);
		if (picture.requested) {
			as_gal_picture_write(ctx->writer,
					     &as_gal_picture_tags_gal,
					     &picture,
					     as_gal_entry_photo(ctx, e));
		}
		wbxml_end(ctx->writer);
		wbxml_end(ctx->writer);
	}
	find_write_tail(ctx, start, array_count(&entries), total);
	return AS_CMD_DONE;
}

enum as_command_result cmd_find(struct as_cmd_context *ctx)
{
	const struct wbxml_node *execute, *mailbox, *gal;
	const char *search_id;

	search_id = wbxml_node_child_text(ctx->root, EAS_FIND_SEARCHID);
	execute = wbxml_node_child(ctx->root, EAS_FIND_EXECUTESEARCH);
	if (search_id == NULL || *search_id == '\0' ||
	    strlen(search_id) > FIND_MAX_SEARCHID_LEN || execute == NULL) {
		find_write_status(ctx, FIND_STATUS_INVALID_REQUEST,
				  "Find needs a SearchId and ExecuteSearch");
		return AS_CMD_DONE;
	}
	mailbox = wbxml_node_child(execute, EAS_FIND_MAILBOXSEARCHCRITERION);
	gal = wbxml_node_child(execute, EAS_FIND_GALSEARCHCRITERION);
	if ((mailbox == NULL) == (gal == NULL)) {
		find_write_status(ctx, FIND_STATUS_INVALID_REQUEST,
				  "ExecuteSearch needs one search criterion");
		return AS_CMD_DONE;
	}
	return mailbox != NULL ? find_mailbox(ctx, mailbox) :
		find_gal(ctx, gal);
}
