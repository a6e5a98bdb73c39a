#ifndef AS_HIERARCHY_H
#define AS_HIERARCHY_H

#include "as-store.h"

struct as_cmd_context;
struct as_folder_info;

/* Hierarchy SyncKeys are decimal counters: "0" (initial) or 1..n.
   Returns 0 and the key, -1 if str is not a valid key. */
int as_hierarchy_parse_key(const char *str, unsigned int *key_r);

/* The device's latest hierarchy SyncKey (0 = none yet). */
int as_hierarchy_latest(struct as_cmd_context *ctx, unsigned int *key_r,
			const char **error_r);
/* The folders the device knew at key. Returns 1, 0 if there is no such
   state, -1 on error. */
int as_hierarchy_get(struct as_cmd_context *ctx, unsigned int key,
		     ARRAY_TYPE(as_folder) *folders_r, const char **error_r);
int as_hierarchy_put(struct as_cmd_context *ctx, unsigned int key,
		     const ARRAY_TYPE(as_folder) *folders,
		     const char **error_r);

/* Current folder listing in the store's form. */
void as_hierarchy_from_infos(pool_t pool,
			     const ARRAY_TYPE(as_folder_info) *infos,
			     ARRAY_TYPE(as_folder) *folders_r);
/* Index of the folder with server_id, -1 if none. */
int as_hierarchy_find(const ARRAY_TYPE(as_folder) *folders,
		      const char *server_id);
/* Remove the folder and everything below it. */
void as_hierarchy_remove_tree(ARRAY_TYPE(as_folder) *folders,
			      const char *server_id);

/* For FolderCreate/FolderUpdate/FolderDelete: check the request's
   SyncKey against the current hierarchy state and load it. Returns 1 if
   it is current (folders_r filled), 0 if not (answer Status 9), -1 on
   error (error_r set). */
int as_hierarchy_begin_change(struct as_cmd_context *ctx,
			      const char *sync_key_str, unsigned int *key_r,
			      ARRAY_TYPE(as_folder) *folders_r,
			      const char **error_r);

#endif
