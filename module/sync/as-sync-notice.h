#ifndef AS_SYNC_NOTICE_H
#define AS_SYNC_NOTICE_H

struct as_cmd_context;

/* Short notices to the user, delivered into INBOX, when a device is stuck
   in a way only the user can fix. Each is sent at most once per device
   (remembered as a device property). */

/* Returns 1 if sent now, 0 if it was sent before, -1 on error (logged). */
int as_sync_notice_once(struct as_cmd_context *ctx, const char *name,
			const char *subject, const char *body);

/* Count a request for a collection the folder hierarchy no longer has
   (Sync Status 12, Ping Status 7). A device that keeps asking without a
   FolderSync in between gets a notice to its user after
   AS_SYNC_HIERARCHY_IGNORED_MAX such answers. */
#define AS_SYNC_HIERARCHY_IGNORED_MAX 3
void as_sync_hierarchy_ignored(struct as_cmd_context *ctx,
			       const char *collection_id);

#endif
