#ifndef AS_SEARCH_RUN_H
#define AS_SEARCH_RUN_H

#include "as-folders.h"
#include "search/as-search-query.h"

/* A mailbox search over the folders in scope, run from the ioloop in
   steps (Dovecot's non-blocking search yields about every quarter
   second, and at the end of each folder) so that the process serves its
   other clients meanwhile, within activesync_search_timeout. Search
   (Store Mailbox) and Find share it; each writes its own response. */

enum as_search_run_status {
	AS_SEARCH_RUN_OK = 0,
	AS_SEARCH_RUN_SERVER_ERROR,
	AS_SEARCH_RUN_TIMED_OUT,
	/* a CollectionId the device named is not one of the folders */
	AS_SEARCH_RUN_UNKNOWN_FOLDER,
};

struct as_search_match {
	time_t received;
	unsigned int scope_idx;
	uint32_t uid;
};
ARRAY_DEFINE_TYPE(as_search_match, struct as_search_match);

struct as_search_run {
	struct as_cmd_context *ctx;
	/* the caller parses it; freed with the run */
	struct as_search_query query;
	/* Called for each message the query matched, FALSE drops it
	   (NULL = keep all) */
	bool (*filter)(struct as_search_run *run, struct mail *mail);
	/* Called once at the end: the matches are sorted newest first
	   (status OK), or status and error say why not. The run is freed
	   and the command finished right after. */
	void (*finished)(struct as_search_run *run,
			 enum as_search_run_status status, const char *error);
	void *context;

	ARRAY_TYPE(as_folder_info) folders;
	/* the folders searched, indexes into folders */
	ARRAY(unsigned int) scope;
	ARRAY_TYPE(as_search_match) matches;
	struct timeval start_time;

	/* internal */
	unsigned int scope_pos;
	struct mailbox *box;
	struct mailbox_transaction_context *t;
	struct mail_search_context *search;
	bool args_initialized;
	struct timeout *to;
};

/* The folders to search: the query's CollectionIds (with their
   subfolders when deep), or every mail folder. Returns 0, or -1 with
   status_r and error_r. */
int as_search_run_build_scope(struct as_search_run *run, bool deep,
			      enum as_search_run_status *status_r,
			      const char **error_r);
/* The folder of a match's scope_idx */
const struct as_folder_info *
as_search_run_folder(struct as_search_run *run, unsigned int scope_idx);

/* Start the search: the command is pending until finished() has run.
   run->ctx, query, finished and the scope must be set. */
void as_search_run_start(struct as_search_run *run);

#endif
