/* Copyright (c) dovecot-activesync authors, see the included COPYING file */

/* Search (MS-ASCMD 2.2.1.16) in the Mailbox store: the query becomes a
   Dovecot search (an FTS plugin answers the text terms when the admin
   has one), run over the folders in scope, newest first across folders.

   Results are identified by LongId "<folder ServerId>:<UID>", the same
   form as Sync's item ServerIds, so ItemOperations Fetch, SmartReply and
   SmartForward can take a LongId and parse it with
   as_email_parse_server_id(). It stays valid as long as the message
   stays in its folder.

   The search runs from the ioloop in steps (Dovecot's non-blocking
   search yields about every quarter second, and at the end of each
   folder), so other clients of this process are served meanwhile; a
   search still running after activesync_search_timeout answers Store
   Status 10. The time is checked at every step, so a limit is kept to
   about a quarter second. */

#include "lib.h"
#include "array.h"
#include "hash.h"
#include "str.h"
#include "strnum.h"
#include "ioloop.h"
#include "time-util.h"
#include "mail-storage.h"
#include "mail-search.h"
#include "as-command.h"
#include "as-folders.h"
#include "items/as-item.h"
#include "items/as-email.h"
#include "items/as-conversation.h"
#include "sync/as-sync-options.h"
#include "search/as-search-query.h"
#include "search/as-search-run.h"
#include "gal/as-gal.h"

/* Mailbox store: default Range 0-99, at most 100 results per request */
#define AS_SEARCH_DEFAULT_RANGE_END 99
#define AS_SEARCH_MAX_RESULTS 100

/* Search element Status (MS-ASCMD 2.2.3.177.13) */
#define SEARCH_STATUS_OK 1
/* Store element Status */
enum search_store_status {
	STORE_STATUS_OK = 1,
	STORE_STATUS_INVALID_REQUEST = 2,
	STORE_STATUS_SERVER_ERROR = 3,
	STORE_STATUS_TOO_COMPLEX = 8,
	STORE_STATUS_TIMED_OUT = 10,
	STORE_STATUS_FOLDERSYNC_REQUIRED = 11,
	STORE_STATUS_END_OF_RANGE = 12,
	STORE_STATUS_ACCESS_BLOCKED = 13,
};

/* A Mailbox store search: the engine and what the response needs */
struct search_run {
	struct as_search_run engine;
	struct as_cmd_context *ctx;
	struct as_sync_options options;
	unsigned int range_start, range_count;
};

/* The stores. DocumentLibrary is not served. */
struct search_store {
	const char *name;
	enum as_command_result (*search)(struct as_cmd_context *ctx,
					 const struct wbxml_node *store);
	enum search_store_status unsupported_status;
};

static enum as_command_result
search_mailbox(struct as_cmd_context *ctx, const struct wbxml_node *store);

static enum as_command_result
search_gal(struct as_cmd_context *ctx, const struct wbxml_node *store);

static const struct search_store search_stores[] = {
	{ "Mailbox", search_mailbox, 0 },
	{ "GAL", search_gal, 0 },
	/* UNC/SharePoint access is off on this server */
	{ "DocumentLibrary", NULL, STORE_STATUS_ACCESS_BLOCKED },
};

static const char *search_store_status_names[] = {
	[STORE_STATUS_OK] = "success",
	[STORE_STATUS_INVALID_REQUEST] = "invalid request",
	[STORE_STATUS_SERVER_ERROR] = "server error",
	[STORE_STATUS_TOO_COMPLEX] = "query too complex",
	[STORE_STATUS_TIMED_OUT] = "timed out",
	[STORE_STATUS_FOLDERSYNC_REQUIRED] = "FolderSync required",
	[STORE_STATUS_END_OF_RANGE] = "end of retrievable range",
	[STORE_STATUS_ACCESS_BLOCKED] = "access blocked",
};

static void search_write_head(struct as_cmd_context *ctx,
			      enum search_store_status status)
{
	wbxml_start(ctx->writer, EAS_SEARCH_SEARCH);
	wbxml_elem_uint(ctx->writer, EAS_SEARCH_STATUS, SEARCH_STATUS_OK);
	wbxml_start(ctx->writer, EAS_SEARCH_RESPONSE);
	wbxml_start(ctx->writer, EAS_SEARCH_STORE);
	wbxml_elem_uint(ctx->writer, EAS_SEARCH_STATUS, status);
}

static void search_write_tail(struct as_cmd_context *ctx)
{
	wbxml_end(ctx->writer);	/* Store */
	wbxml_end(ctx->writer);	/* Response */
	wbxml_end(ctx->writer);	/* Search */
}

/* The whole answer for a store that failed; one log line says why. */
static void search_store_failed(struct as_cmd_context *ctx,
				enum search_store_status status,
				const char *reason)
{
	e_info(ctx->event, "Store Status %u (%s): %s", status,
	       search_store_status_names[status], reason);
	search_write_head(ctx, status);
	search_write_tail(ctx);
}

/* ---- request ---- */

static bool search_parse_range(const char *value, unsigned int *start_r,
			       unsigned int *count_r)
{
	const char *p = strchr(value, '-');
	unsigned int start, end;

	if (p == NULL ||
	    str_to_uint(t_strdup_until(value, p), &start) < 0 ||
	    str_to_uint(p + 1, &end) < 0 || end < start)
		return FALSE;
	/* a bigger window is served in pages of the store's maximum */
	*start_r = start;
	*count_r = I_MIN(end - start + 1, AS_SEARCH_MAX_RESULTS);
	return TRUE;
}

static int search_parse_options(struct search_run *run,
				const struct wbxml_node *options,
				bool *deep_r, const char **error_r)
{
	const struct wbxml_node *child;
	bool have_range = FALSE;

	*deep_r = FALSE;
	as_sync_options_init(&run->options);
	if (options == NULL)
		return 0;
	wbxml_node_foreach_child(options, child) {
		switch (child->tag) {
		case EAS_SEARCH_RANGE:
			if (have_range) {
				*error_r = "Repeated Range";
				return -1;
			}
			have_range = TRUE;
			if (!search_parse_range(wbxml_node_text(child),
						&run->range_start,
						&run->range_count)) {
				*error_r = t_strdup_printf(
					"Invalid Range '%s'",
					wbxml_node_text(child));
				return -1;
			}
			break;
		case EAS_SEARCH_DEEPTRAVERSAL:
			*deep_r = TRUE;
			break;
		default:
			/* RebuildResults: every search is built afresh.
			   Body options are read below; GAL-only and
			   RightsManagementSupport elements are ignored. */
			break;
		}
	}
	if (as_sync_options_parse(options, &run->options, error_r) < 0)
		return -1;
	return 0;
}

/* ---- response ---- */

struct search_box {
	struct mailbox *box;
	struct mailbox_transaction_context *t;
	struct mail *mail;
	const struct as_item_class *class;
	struct as_item_params params;
};

static bool
search_write_result(struct search_run *run, struct search_box *sbox,
		    const struct as_search_match *match)
{
	struct as_cmd_context *ctx = run->ctx;
	const struct as_folder_info *folder =
		as_search_run_folder(&run->engine, match->scope_idx);
	struct as_item *item;
	const char *error;

	if (sbox->box == NULL) {
		if (as_folders_open(ctx, folder, MAILBOX_FLAG_READONLY,
				    &sbox->box, &error) < 0) {
			e_debug(ctx->event, "Folder %s went away: %s",
				folder->vname, error);
			return FALSE;
		}
		sbox->t = mailbox_transaction_begin(sbox->box, 0,
						    "activesync search");
		sbox->mail = mail_alloc(sbox->t, 0, NULL);
		sbox->params.version = ctx->req->version;
		sbox->params.folder_id = folder->server_id;
		sbox->params.body = &run->options.body;
		sbox->class = as_item_class_get(folder);
		i_assert(sbox->class != NULL);
	}
	if (!mail_set_uid(sbox->mail, match->uid))
		return FALSE;	/* expunged meanwhile */
	if (sbox->class->read(sbox->mail, &sbox->params, &item, &error) < 0) {
		e_warning(ctx->event, "Skipping UID %u of %s: %s",
			  match->uid, folder->vname, error);
		return FALSE;
	}
	ctx->items++;
	wbxml_start(ctx->writer, EAS_SEARCH_RESULT);
	wbxml_elem_str(ctx->writer, EAS_AIRSYNC_CLASS, sbox->class->name);
	wbxml_elem_str(ctx->writer, EAS_SEARCH_LONGID,
		       as_email_server_id(folder->server_id, match->uid));
	wbxml_elem_str(ctx->writer, EAS_AIRSYNC_COLLECTIONID,
		       folder->server_id);
	wbxml_start(ctx->writer, EAS_SEARCH_PROPERTIES);
	sbox->class->write(ctx->writer, item);
	wbxml_end(ctx->writer);
	wbxml_end(ctx->writer);
	return TRUE;
}

static void search_write_results(struct search_run *run)
{
	struct as_cmd_context *ctx = run->ctx;
	const struct as_search_match *matches;
	struct search_box *boxes;
	unsigned int i, count, end, written = 0;

	matches = array_get(&run->engine.matches, &count);
	if (count > 0 && run->range_start >= count) {
		search_store_failed(ctx, STORE_STATUS_END_OF_RANGE,
			t_strdup_printf("Range starts at %u, %u matches",
					run->range_start, count));
		return;
	}
	search_write_head(ctx, STORE_STATUS_OK);
	end = I_MIN(count, run->range_start + run->range_count);
	boxes = t_new(struct search_box, array_count(&run->engine.scope));
	for (i = run->range_start; i < end; i++) {
		T_BEGIN {
			if (search_write_result(run,
						&boxes[matches[i].scope_idx],
						&matches[i]))
				written++;
		} T_END;
	}
	for (i = 0; i < array_count(&run->engine.scope); i++) {
		if (boxes[i].box == NULL)
			continue;
		mail_free(&boxes[i].mail);
		mailbox_transaction_rollback(&boxes[i].t);
		mailbox_free(&boxes[i].box);
	}
	if (written == 0)
		wbxml_empty(ctx->writer, EAS_SEARCH_RESULT);
	else {
		wbxml_elem_str(ctx->writer, EAS_SEARCH_RANGE,
			       t_strdup_printf("%u-%u", run->range_start,
					       run->range_start + written - 1));
	}
	wbxml_elem_uint(ctx->writer, EAS_SEARCH_TOTAL, count);
	search_write_tail(ctx);
	e_debug(ctx->event, "%u matches in %u folders, "
		"returned %u from %u in %d ms", count,
		array_count(&run->engine.scope), written, run->range_start,
		timeval_diff_msecs(&ioloop_timeval, &run->engine.start_time));
}

static enum search_store_status
search_store_status(enum as_search_run_status status)
{
	switch (status) {
	case AS_SEARCH_RUN_OK:
		return STORE_STATUS_OK;
	case AS_SEARCH_RUN_SERVER_ERROR:
		break;
	case AS_SEARCH_RUN_TIMED_OUT:
		return STORE_STATUS_TIMED_OUT;
	case AS_SEARCH_RUN_UNKNOWN_FOLDER:
		return STORE_STATUS_FOLDERSYNC_REQUIRED;
	}
	return STORE_STATUS_SERVER_ERROR;
}

static void search_finished(struct as_search_run *engine,
			    enum as_search_run_status status,
			    const char *error)
{
	struct search_run *run = engine->context;

	if (status != AS_SEARCH_RUN_OK)
		search_store_failed(run->ctx, search_store_status(status),
				    error);
	else
		search_write_results(run);
}

static enum as_command_result
search_mailbox(struct as_cmd_context *ctx, const struct wbxml_node *store)
{
	const struct wbxml_node *query;
	struct search_run *run;
	enum search_store_status status;
	enum as_search_run_status run_status;
	const char *error;
	bool deep;

	query = wbxml_node_child(store, EAS_SEARCH_QUERY);
	if (query == NULL) {
		search_store_failed(ctx, STORE_STATUS_INVALID_REQUEST,
				    "Mailbox search without a Query");
		return AS_CMD_DONE;
	}
	run = p_new(ctx->pool, struct search_run, 1);
	run->ctx = ctx;
	run->range_count = AS_SEARCH_DEFAULT_RANGE_END + 1;
	if (search_parse_options(run, wbxml_node_child(store,
						       EAS_SEARCH_OPTIONS),
				 &deep, &error) < 0) {
		search_store_failed(ctx, STORE_STATUS_INVALID_REQUEST, error);
		return AS_CMD_DONE;
	}
	switch (as_search_query_parse(ctx->pool, query, &run->engine.query, &error)) {
	case AS_SEARCH_QUERY_OK:
		break;
	case AS_SEARCH_QUERY_INVALID:
		search_store_failed(ctx, STORE_STATUS_INVALID_REQUEST, error);
		return AS_CMD_DONE;
	case AS_SEARCH_QUERY_TOO_COMPLEX:
		search_store_failed(ctx, STORE_STATUS_TOO_COMPLEX, error);
		return AS_CMD_DONE;
	}
	run->engine.ctx = ctx;
	run->engine.context = run;
	run->engine.finished = search_finished;
	if (as_search_run_build_scope(&run->engine, deep, &run_status,
				      &error) < 0) {
		mail_search_args_unref(&run->engine.query.args);
		status = search_store_status(run_status);
		if (status == STORE_STATUS_SERVER_ERROR)
			e_error(ctx->event, "%s", error);
		search_store_failed(ctx, status, error);
		return AS_CMD_DONE;
	}
	as_search_run_start(&run->engine);
	return AS_CMD_PENDING;
}

/* ---- GAL ---- */

/* Options of a GAL search: Range, and Picture */
static int
search_gal_options(const struct wbxml_node *options, unsigned int *start_r,
		   unsigned int *count_r,
		   struct as_gal_picture_opts *picture_r,
		   const char **error_r)
{
	const struct wbxml_node *child;

	*start_r = 0;
	*count_r = AS_SEARCH_DEFAULT_RANGE_END + 1;
	i_zero(picture_r);
	if (options == NULL)
		return 0;
	wbxml_node_foreach_child(options, child) {
		if (child->tag == EAS_SEARCH_RANGE) {
			if (!search_parse_range(wbxml_node_text(child),
						start_r, count_r)) {
				*error_r = t_strdup_printf("Invalid Range '%s'",
					wbxml_node_text(child));
				return -1;
			}
		} else if (child->tag == EAS_SEARCH_PICTURE) {
			if (!as_gal_picture_parse(child, EAS_SEARCH_MAXSIZE,
						  EAS_SEARCH_MAXPICTURES,
						  picture_r)) {
				*error_r = "Invalid Picture limits";
				return -1;
			}
		}
	}
	return 0;
}

static enum as_command_result
search_gal(struct as_cmd_context *ctx, const struct wbxml_node *store)
{
	ARRAY_TYPE(as_gal_entry) results;
	const struct as_gal_entry *e;
	const struct wbxml_node *query;
	const char *text, *error;
	unsigned int start, count, total;
	struct timeval start_time, end_time;
	struct as_gal_picture_opts picture;

	i_gettimeofday(&start_time);
	if (!ctx->set->gal) {
		search_store_failed(ctx, STORE_STATUS_ACCESS_BLOCKED,
				    "GAL is off (activesync_gal = no)");
		return AS_CMD_DONE;
	}
	query = wbxml_node_child(store, EAS_SEARCH_QUERY);
	text = query == NULL ? NULL : t_str_trim(wbxml_node_text(query),
						 " \t\r\n");
	if (text == NULL || *text == '\0') {
		search_store_failed(ctx, STORE_STATUS_INVALID_REQUEST,
				    "GAL search without a Query");
		return AS_CMD_DONE;
	}
	if (search_gal_options(wbxml_node_child(store, EAS_SEARCH_OPTIONS),
			       &start, &count, &picture, &error) < 0) {
		search_store_failed(ctx, STORE_STATUS_INVALID_REQUEST, error);
		return AS_CMD_DONE;
	}
	if (as_gal_search(ctx, text, start, count, &results, &total,
			  &error) < 0) {
		e_error(ctx->event, "GAL search: %s", error);
		search_store_failed(ctx, STORE_STATUS_SERVER_ERROR, error);
		return AS_CMD_DONE;
	}
	if (total > 0 && start >= total) {
		search_store_failed(ctx, STORE_STATUS_END_OF_RANGE,
			t_strdup_printf("Range starts at %u, %u matches",
					start, total));
		return AS_CMD_DONE;
	}
	search_write_head(ctx, STORE_STATUS_OK);
	array_foreach(&results, e) {
		ctx->items++;
		wbxml_start(ctx->writer, EAS_SEARCH_RESULT);
		wbxml_start(ctx->writer, EAS_SEARCH_PROPERTIES);
		as_gal_write_entry(ctx->writer, e);
		if (picture.requested &&
		    ctx->req->version >= AS_VERSION_14_1) {
			as_gal_picture_write(ctx->writer,
					     &as_gal_picture_tags_gal,
					     &picture,
					     as_gal_entry_photo(ctx, e));
		}
		wbxml_end(ctx->writer);
		wbxml_end(ctx->writer);
	}
	if (array_count(&results) == 0)
		wbxml_empty(ctx->writer, EAS_SEARCH_RESULT);
	else {
		wbxml_elem_str(ctx->writer, EAS_SEARCH_RANGE,
			t_strdup_printf("%u-%u", start,
					start + array_count(&results) - 1));
	}
	wbxml_elem_uint(ctx->writer, EAS_SEARCH_TOTAL, total);
	search_write_tail(ctx);
	i_gettimeofday(&end_time);
	e_debug(ctx->event, "GAL: %u matches, returned %u from %u in %lld us",
		total, array_count(&results), start,
		timeval_diff_usecs(&end_time, &start_time));
	return AS_CMD_DONE;
}

enum as_command_result cmd_search(struct as_cmd_context *ctx)
{
	const struct wbxml_node *store, *child;
	const char *name;
	unsigned int i, stores = 0;

	store = NULL;
	wbxml_node_foreach_child(ctx->root, child) {
		if (child->tag == EAS_SEARCH_STORE) {
			store = child;
			stores++;
		}
	}
	if (stores != 1) {
		search_store_failed(ctx, STORE_STATUS_INVALID_REQUEST,
			t_strdup_printf("%u Store elements", stores));
		return AS_CMD_DONE;
	}
	name = wbxml_node_child_text(store, EAS_SEARCH_NAME);
	if (name == NULL) {
		search_store_failed(ctx, STORE_STATUS_INVALID_REQUEST,
				    "Store without a Name");
		return AS_CMD_DONE;
	}
	for (i = 0; i < N_ELEMENTS(search_stores); i++) {
		if (strcasecmp(search_stores[i].name, name) != 0)
			continue;
		if (search_stores[i].search != NULL)
			return search_stores[i].search(ctx, store);
		search_store_failed(ctx, search_stores[i].unsupported_status,
			t_strdup_printf("%s searches are not served",
					search_stores[i].name));
		return AS_CMD_DONE;
	}
	search_store_failed(ctx, STORE_STATUS_INVALID_REQUEST,
		t_strdup_printf("Unknown store '%s'", name));
	return AS_CMD_DONE;
}
