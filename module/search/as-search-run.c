/* Copyright (c) dovecot-activesync authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "hash.h"
#include "ioloop.h"
#include "time-util.h"
#include "mail-storage.h"
#include "mail-search.h"
#include "as-command.h"
#include "as-folders.h"
#include "items/as-item.h"
#include "items/as-conversation.h"
#include "search/as-search-run.h"

/* (moved from cmd-search.c: Search and Find share the engine) */

static bool search_folder_is_mail(const struct as_folder_info *folder)
{
	switch (folder->type) {
	case AS_FOLDER_TYPE_INBOX:
	case AS_FOLDER_TYPE_DRAFTS:
	case AS_FOLDER_TYPE_DELETED:
	case AS_FOLDER_TYPE_SENT:
	case AS_FOLDER_TYPE_OUTBOX:
	case AS_FOLDER_TYPE_USER_MAIL:
		return TRUE;
	default:
		return FALSE;
	}
}

/* The folders to search: the CollectionIds (with their subfolders for
   DeepTraversal), or every mail folder. Returns 0, or -1 with the store
   status set in status_r. */
int as_search_run_build_scope(struct as_search_run *run, bool deep,
			      enum as_search_run_status *status_r,
			      const char **error_r)
{
	struct as_cmd_context *ctx = run->ctx;
	const struct as_folder_info *folders;
	HASH_TABLE(const char *, void *) ids;
	const char *const *idp;
	unsigned int i, count;
	bool *in_scope;
	void *value;

	if (as_folders_list(ctx, &run->folders, error_r) < 0) {
		*status_r = AS_SEARCH_RUN_SERVER_ERROR;
		return -1;
	}
	folders = array_get(&run->folders, &count);
	p_array_init(&run->scope, ctx->pool, I_MAX(count, 1));
	in_scope = t_new(bool, count + 1);

	if (array_count(&run->query.collection_ids) == 0) {
		for (i = 0; i < count; i++)
			in_scope[i] = TRUE;
	} else {
		hash_table_create(&ids, pool_datastack_create(), count,
				  str_hash, strcmp);
		for (i = 0; i < count; i++) {
			hash_table_update(ids, folders[i].server_id,
					  POINTER_CAST(i + 1));
		}
		array_foreach(&run->query.collection_ids, idp) {
			value = hash_table_lookup(ids, *idp);
			if (value == NULL) {
				hash_table_destroy(&ids);
				*status_r = AS_SEARCH_RUN_UNKNOWN_FOLDER;
				*error_r = t_strdup_printf(
					"Unknown CollectionId %s", *idp);
				return -1;
			}
			in_scope[POINTER_CAST_TO(value, unsigned int) - 1] = TRUE;
		}
		/* parents come before their children in the list */
		for (i = 0; i < count && deep; i++) {
			if (in_scope[i])
				continue;
			value = hash_table_lookup(ids, folders[i].parent_id);
			if (value != NULL &&
			    in_scope[POINTER_CAST_TO(value, unsigned int) - 1])
				in_scope[i] = TRUE;
		}
		hash_table_destroy(&ids);
	}
	/* Without CollectionIds mail folders are searched; named ones
	   may be of any class Sync serves (notes, contacts, ...) */
	for (i = 0; i < count; i++) {
		if (in_scope[i] && !folders[i].noselect &&
		    (array_count(&run->query.collection_ids) == 0 ?
		     search_folder_is_mail(&folders[i]) :
		     as_item_class_get(&folders[i]) != NULL))
			array_push_back(&run->scope, &i);
	}
	return 0;
}

/* ---- searching ---- */

const struct as_folder_info *
as_search_run_folder(struct as_search_run *run, unsigned int scope_idx)
{
	const unsigned int *idx = array_idx(&run->scope, scope_idx);

	return array_idx(&run->folders, *idx);
}

static int search_folder_close(struct as_search_run *run, const char **error_r)
{
	int ret = 0;

	if (run->search != NULL && mailbox_search_deinit(&run->search) < 0) {
		*error_r = t_strdup_printf("Search in %s failed: %s",
			mailbox_get_vname(run->box),
			mailbox_get_last_internal_error(run->box, NULL));
		ret = -1;
	}
	if (run->args_initialized) {
		mail_search_args_deinit(run->query.args);
		run->args_initialized = FALSE;
	}
	if (run->t != NULL)
		mailbox_transaction_rollback(&run->t);
	if (run->box != NULL)
		mailbox_free(&run->box);
	return ret;
}

/* Returns 1 if opened, 0 if the folder is gone (skipped), -1 on error */
static int search_folder_open(struct as_search_run *run, const char **error_r)
{
	const struct as_folder_info *folder =
		as_search_run_folder(run, run->scope_pos);
	struct mailbox_header_lookup_ctx *headers = NULL;
	const char *error;

	if (as_folders_open(run->ctx, folder, MAILBOX_FLAG_READONLY,
			    &run->box, &error) < 0) {
		/* deleted since the list was made: nothing to find there */
		e_debug(run->ctx->event, "Skipping folder %s: %s",
			folder->vname, error);
		return 0;
	}
	if (mailbox_sync(run->box, 0) < 0) {
		*error_r = t_strdup_printf("Sync of %s failed: %s",
			folder->vname,
			mailbox_get_last_internal_error(run->box, NULL));
		mailbox_free(&run->box);
		return -1;
	}
	mail_search_args_init(run->query.args, run->box, FALSE, NULL);
	run->args_initialized = TRUE;
	run->t = mailbox_transaction_begin(run->box, 0, "activesync search");
	if (run->query.conversation_ids != NULL) {
		/* what as_conversation_get() reads, from the cache */
		static const char *const conversation_headers[] = {
			"Thread-Index", "References", "In-Reply-To",
			"Message-ID", NULL
		};
		headers = mailbox_header_lookup_init(run->box,
						     conversation_headers);
	}
	run->search = mailbox_search_init(run->t, run->query.args, NULL,
					  MAIL_FETCH_RECEIVED_DATE, headers);
	mailbox_header_lookup_unref(&headers);
	return 1;
}

/* The query's ConversationId terms, checked with the id Sync reports */
static bool search_conversation_match(struct as_search_run *run,
				      struct mail *mail)
{
	unsigned char id[AS_CONVERSATION_ID_SIZE];
	bool match;

	if (run->query.conversation_ids == NULL)
		return TRUE;
	T_BEGIN {
		buffer_t *index = t_buffer_create(32);

		/* unreadable headers (expunged meanwhile): no match */
		match = as_conversation_get(mail, id, index) == 0 &&
			as_search_query_conversation_match(&run->query, id);
	} T_END;
	return match;
}

static bool search_timed_out(struct as_search_run *run)
{
	struct timeval now;

	/* not ioloop_timeval: a step may have taken a quarter second */
	i_gettimeofday(&now);
	return timeval_diff_msecs(&now, &run->start_time) >=
		(long long)run->ctx->set->search_timeout_msecs;
}

/* Returns 1 when all folders are done, 0 to be called again, -1 with
   status_r on failure. */
static int search_continue(struct as_search_run *run,
			   enum as_search_run_status *status_r,
			   const char **error_r)
{
	struct as_search_match *match;
	struct mail *mail;
	bool tryagain;
	time_t received;
	int ret;

	if (run->box == NULL) {
		while (run->scope_pos < array_count(&run->scope)) {
			ret = search_folder_open(run, error_r);
			if (ret < 0) {
				*status_r = AS_SEARCH_RUN_SERVER_ERROR;
				return -1;
			}
			if (ret > 0)
				break;
			run->scope_pos++;
		}
		if (run->box == NULL)
			return 1;
	}
	while (mailbox_search_next_nonblock(run->search, &mail, &tryagain)) {
		if (mail_get_received_date(mail, &received) < 0) {
			/* expunged meanwhile */
			continue;
		}
		if (!search_conversation_match(run, mail))
			continue;
		if (run->filter != NULL && !run->filter(run, mail))
			continue;
		match = array_append_space(&run->matches);
		match->received = received;
		match->scope_idx = run->scope_pos;
		match->uid = mail->uid;
	}
	if (!tryagain) {
		if (search_folder_close(run, error_r) < 0) {
			*status_r = AS_SEARCH_RUN_SERVER_ERROR;
			return -1;
		}
		run->scope_pos++;
		if (run->scope_pos == array_count(&run->scope))
			return 1;
	}
	/* more to do: within the time limit? */
	if (search_timed_out(run)) {
		*status_r = AS_SEARCH_RUN_TIMED_OUT;
		*error_r = t_strdup_printf(
			"activesync_search_timeout (%u ms) reached, "
			"%u of %u folders done",
			run->ctx->set->search_timeout_msecs,
			run->scope_pos, array_count(&run->scope));
		return -1;
	}
	return 0;
}

/* Newest first; the same date in folder order, then newest UID */
static int search_match_cmp(const struct as_search_match *a,
			    const struct as_search_match *b)
{
	if (a->received != b->received)
		return a->received < b->received ? 1 : -1;
	if (a->scope_idx != b->scope_idx)
		return a->scope_idx < b->scope_idx ? -1 : 1;
	if (a->uid != b->uid)
		return a->uid < b->uid ? 1 : -1;
	return 0;
}

static void search_run_deinit(struct as_search_run *run)
{
	const char *error;

	timeout_remove(&run->to);
	(void)search_folder_close(run, &error);
	if (run->query.args != NULL)
		mail_search_args_unref(&run->query.args);
	array_free(&run->matches);
}

static void search_abort(struct as_cmd_context *ctx)
{
	struct as_search_run *run = ctx->cmd_context;

	e_debug(ctx->event, "Client went away, search stopped");
	search_run_deinit(run);
}

static void search_step(struct as_search_run *run)
{
	struct as_cmd_context *ctx = run->ctx;
	enum as_search_run_status status = AS_SEARCH_RUN_OK;
	const char *error = NULL;
	int ret;

	timeout_remove(&run->to);
	T_BEGIN {
		ret = search_continue(run, &status, &error);
		if (ret < 0) {
			if (status == AS_SEARCH_RUN_SERVER_ERROR)
				e_error(ctx->event, "%s", error);
			run->finished(run, status, error);
		} else if (ret > 0) {
			array_sort(&run->matches, search_match_cmp);
			run->finished(run, AS_SEARCH_RUN_OK, NULL);
		}
	} T_END;
	if (ret == 0) {
		run->to = timeout_add_short(0, search_step, run);
		return;
	}
	search_run_deinit(run);
	as_cmd_finish(ctx);
}


void as_search_run_start(struct as_search_run *run)
{
	struct as_cmd_context *ctx = run->ctx;

	i_assert(run->finished != NULL);
	i_array_init(&run->matches, 64);
	run->start_time = ioloop_timeval;
	run->to = timeout_add_short(0, search_step, run);
	ctx->cmd_context = run;
	ctx->abort = search_abort;
}
