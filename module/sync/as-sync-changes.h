#ifndef AS_SYNC_CHANGES_H
#define AS_SYNC_CHANGES_H

#include "guid.h"
#include "seq-range-array.h"

struct mailbox;
struct mailbox_status;
struct as_collection_state;

/* What the server changed in a mail folder since a collection state,
   from CONDSTORE/QRESYNC data:
   - new mail: UIDs from the state's UIDNEXT up (SEARCH_UIDSET, SINCE)
   - expunges: mailbox_get_expunged_uids() since the state's modseq
   - flag changes: SEARCH_MODSEQ over the UIDs the device has
   A folder whose UIDNEXT and HIGHESTMODSEQ equal the state's has no
   changes: that is answered without any search.

   "full" compares the whole folder instead (UID listing from the index,
   no message is opened): used after SyncKey 0, when a window left work
   behind, and when the FilterType changed. */
struct as_sync_changes_input {
	struct mailbox *box;
	/* current UIDVALIDITY, UIDNEXT and HIGHESTMODSEQ */
	const struct mailbox_status *status;
	const struct as_collection_state *state;
	bool full;
	/* flag changes a previous window could not send, may be NULL */
	const ARRAY_TYPE(seq_range) *pending_changes;
	/* UIDs the client changed itself in this request (not echoed) */
	const ARRAY_TYPE(seq_range) *exclude_changes;
	/* received-date filter, 0 = none */
	time_t since;
	/* The class's own date filter (as_item_class.in_range): replaces
	   the received date; the mails have in_range_fields fetched */
	bool (*in_range)(struct mail *mail, time_t since);
	enum mail_fetch_field in_range_fields;
};

struct as_sync_changes {
	ARRAY_TYPE(uint32_t) adds;	/* newest (highest UID) first */
	ARRAY_TYPE(uint32_t) changes;
	ARRAY_TYPE(uint32_t) deletes;	/* expunged */
	ARRAY_TYPE(uint32_t) soft_deletes; /* now outside the filter */
};

/* TRUE if nothing can have changed (the O(1) check). */
bool as_sync_changes_none(const struct as_sync_changes_input *in);

/* UIDVALIDITY, UIDNEXT and HIGHESTMODSEQ of a folder that is allocated
   but not opened, from Dovecot's mailbox list index. Dovecot answers from
   there only while the list index record is current (it compares the
   mailbox's index log size and mtime, and for maildir the mtimes of new/
   and cur/, with what it recorded); otherwise it opens and syncs the
   mailbox itself. Returns 1 if the status came from the list index (the
   mailbox is still not opened), 0 if it did not (reason_r says why; the
   mailbox may be open now: *opened_r), -1 on error. The mailbox's GUID
   (also from the list index) must be guid, else 0 (renamed or
   replaced). INBOX is in the list index only
   with mailbox_list_index_include_inbox = yes: without it, 0 is returned
   without asking, so the mailbox isn't opened twice. */
int as_sync_changes_index_status(struct mailbox *box,
				 const guid_128_t guid,
				 struct mailbox_status *status_r,
				 bool *opened_r, const char **reason_r);

/* The same for a folder by name, in a read-only mailbox that is freed
   again: for callers that open the folder themselves if this can't
   answer. Returns 1 with the status, 0 with reason_r, -1 on error. */
int as_sync_changes_folder_index_status(struct mailbox_list *list,
					const char *vname,
					const guid_128_t guid,
					struct mailbox_status *status_r,
					const char **reason_r);

/* Arrays are allocated from pool. Returns 0 or -1 with error_r. */
int as_sync_changes_compute(pool_t pool,
			    const struct as_sync_changes_input *in,
			    struct as_sync_changes *changes_r,
			    const char **error_r);

unsigned int as_sync_changes_count(const struct as_sync_changes *changes);

#endif
