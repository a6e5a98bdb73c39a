/* Copyright (c) dovecot-activesync authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "seq-range-array.h"
#include "mail-storage-private.h"
#include "mail-search-build.h"
#include "as-store.h"
#include "sync/as-sync-changes.h"

bool as_sync_changes_none(const struct as_sync_changes_input *in)
{
	if (in->full)
		return FALSE;
	if (in->pending_changes != NULL &&
	    array_is_created(in->pending_changes) &&
	    array_count(in->pending_changes) > 0)
		return FALSE;
	return in->status->uidnext == in->state->uid_next &&
		in->status->highest_modseq == in->state->highest_modseq;
}

static int
index_status(struct mailbox *box, const guid_128_t guid,
	     struct mailbox_status *status_r, const char **reason_r)
{
	const struct mail_storage_settings *set = mailbox_get_settings(box);
	struct mailbox_metadata metadata;

	if (box->opened) {
		*reason_r = "mailbox is open";
		return 0;
	}
	if (!set->mailbox_list_index) {
		*reason_r = "mailbox_list_index = no";
		return 0;
	}
	if (mailbox_is_any_inbox(box) &&
	    !set->mailbox_list_index_include_inbox) {
		*reason_r = "INBOX is not in the mailbox list index "
			"(mailbox_list_index_include_inbox = no)";
		return 0;
	}
	if (mailbox_get_status(box, STATUS_UIDVALIDITY | STATUS_UIDNEXT |
			       STATUS_HIGHESTMODSEQ, status_r) < 0)
		return -1;
	if (box->opened) {
		/* Dovecot found the record out of date (or missing) and
		   opened and synced the mailbox instead */
		*reason_r = "list index record not current";
		return 0;
	}
	if (mailbox_get_metadata(box, MAILBOX_METADATA_GUID, &metadata) < 0)
		return -1;
	if (box->opened) {
		*reason_r = "GUID not in the list index";
		return 0;
	}
	if (!guid_128_equals(metadata.guid, guid)) {
		*reason_r = "mailbox GUID differs";
		return 0;
	}
	return 1;
}

int as_sync_changes_index_status(struct mailbox *box,
				 const guid_128_t guid,
				 struct mailbox_status *status_r,
				 bool *opened_r, const char **reason_r)
{
	int ret;

	i_zero(status_r);
	*reason_r = NULL;
	ret = index_status(box, guid, status_r, reason_r);
	*opened_r = box->opened;
	return ret;
}

int as_sync_changes_folder_index_status(struct mailbox_list *list,
					const char *vname,
					const guid_128_t guid,
					struct mailbox_status *status_r,
					const char **reason_r)
{
	struct mailbox *box;
	bool opened;
	int ret;

	box = mailbox_alloc(list, vname, MAILBOX_FLAG_READONLY);
	ret = as_sync_changes_index_status(box, guid, status_r, &opened,
					   reason_r);
	if (ret < 0)
		*reason_r = t_strdup(mailbox_get_last_internal_error(box, NULL));
	mailbox_free(&box);
	return ret;
}

/* UIDs matching uidset (NULL = all) AND modseq >= min_modseq (0 = any)
   AND received >= since (0 = any). Only index data is looked at, except
   for the received date, which comes from the cache. */
static int
search_uids(struct mailbox *box, const ARRAY_TYPE(seq_range) *uidset,
	    uint64_t min_modseq, time_t since,
	    const struct as_sync_changes_input *filter,
	    ARRAY_TYPE(seq_range) *result, const char **error_r)
{
	bool (*in_range)(struct mail *mail, time_t since) =
		since > 0 && filter != NULL ? filter->in_range : NULL;
	struct mailbox_transaction_context *t;
	struct mail_search_args *args;
	struct mail_search_arg *arg;
	struct mail_search_context *search_ctx;
	struct mail *mail;
	int ret;

	if (uidset != NULL && array_count(uidset) == 0)
		return 0;

	args = mail_search_build_init();
	if (uidset != NULL) {
		arg = mail_search_build_add(args, SEARCH_UIDSET);
		p_array_init(&arg->value.seqset, args->pool,
			     array_count(uidset));
		array_append_array(&arg->value.seqset, uidset);
	} else {
		mail_search_build_add_all(args);
	}
	if (min_modseq > 0) {
		arg = mail_search_build_add(args, SEARCH_MODSEQ);
		arg->value.modseq = p_new(args->pool,
					  struct mail_search_modseq, 1);
		arg->value.modseq->modseq = min_modseq;
	}
	if (since > 0 && in_range == NULL) {
		arg = mail_search_build_add(args, SEARCH_SINCE);
		arg->value.time = since;
		arg->value.date_type = MAIL_SEARCH_DATE_TYPE_RECEIVED;
		arg->value.search_flags = MAIL_SEARCH_ARG_FLAG_UTC_TIMES;
	}

	mail_search_args_init(args, box, FALSE, NULL);
	t = mailbox_transaction_begin(box, 0, "activesync sync changes");
	search_ctx = mailbox_search_init(t, args, NULL, in_range == NULL ? 0 :
					 filter->in_range_fields, NULL);
	mail_search_args_unref(&args);
	while (mailbox_search_next(search_ctx, &mail)) {
		bool keep;

		if (in_range == NULL)
			keep = TRUE;
		else T_BEGIN {
			keep = in_range(mail, since);
		} T_END;
		if (keep)
			seq_range_array_add(result, mail->uid);
	}
	ret = mailbox_search_deinit(&search_ctx);
	(void)mailbox_transaction_commit(&t);
	if (ret < 0) {
		*error_r = mailbox_get_last_internal_error(box, NULL);
		return -1;
	}
	return 0;
}

static void
uids_to_array(const ARRAY_TYPE(seq_range) *uids, bool newest_first,
	      ARRAY_TYPE(uint32_t) *dest)
{
	struct seq_range_iter iter;
	unsigned int n = 0, count = seq_range_count(uids);
	uint32_t uid;

	seq_range_array_iter_init(&iter, uids);
	while (seq_range_array_iter_nth(&iter, n++, &uid))
		array_push_back(dest, &uid);
	if (newest_first && count > 1) {
		uint32_t *u = array_front_modifiable(dest);
		unsigned int i;

		for (i = 0; i < count / 2; i++) {
			uint32_t tmp = u[i];
			u[i] = u[count - 1 - i];
			u[count - 1 - i] = tmp;
		}
	}
}

static void
seq_range_array_intersect_range(ARRAY_TYPE(seq_range) *dest,
				uint32_t min_uid, uint32_t max_uid)
{
	if (min_uid > 1)
		seq_range_array_remove_range(dest, 1, min_uid - 1);
	if (max_uid < (uint32_t)-1)
		seq_range_array_remove_range(dest, max_uid + 1, (uint32_t)-1);
}

/* Every UID of the folder, from the index's record map. A search would
   set up each mail in turn, and a first sync's windows each need the
   whole list: at 100,000 messages that made a window cost with the
   folder's size instead of its own. */
static void all_uids(struct mailbox *box, ARRAY_TYPE(seq_range) *uids)
{
	struct mailbox_status status;
	ARRAY_TYPE(seq_range) seqs;

	mailbox_get_open_status(box, STATUS_MESSAGES, &status);
	if (status.messages == 0)
		return;
	t_array_init(&seqs, 1);
	seq_range_array_add_range(&seqs, 1, status.messages);
	mailbox_get_uid_range(box, &seqs, uids);
}

int as_sync_changes_compute(pool_t pool,
			    const struct as_sync_changes_input *in,
			    struct as_sync_changes *changes_r,
			    const char **error_r)
{
	const struct as_collection_state *state = in->state;
	ARRAY_TYPE(seq_range) existing, filtered, adds, deletes, soft, remaining;
	ARRAY_TYPE(seq_range) changed;
	/* only UIDs below the UIDNEXT we store in the new state */
	uint32_t max_uid = in->status->uidnext - 1;

	i_zero(changes_r);
	p_array_init(&changes_r->adds, pool, 16);
	p_array_init(&changes_r->changes, pool, 16);
	p_array_init(&changes_r->deletes, pool, 16);
	p_array_init(&changes_r->soft_deletes, pool, 4);
	if (as_sync_changes_none(in))
		return 0;

	t_array_init(&adds, 16);
	t_array_init(&deletes, 16);
	t_array_init(&soft, 4);
	t_array_init(&changed, 16);

	if (in->full) {
		t_array_init(&existing, 64);
		if (max_uid > 0)
			all_uids(in->box, &existing);
		seq_range_array_intersect_range(&existing, 1, max_uid);
		/* device has it, folder doesn't */
		array_append_array(&deletes, &state->uids);
		seq_range_array_remove_seq_range(&deletes, &existing);
		if (in->since != 0) {
			t_array_init(&filtered, 64);
			if (max_uid > 0 &&
			    search_uids(in->box, NULL, 0, in->since, in,
					&filtered, error_r) < 0)
				return -1;
			seq_range_array_intersect_range(&filtered, 1, max_uid);
			/* device has it, but it fell out of the filter */
			array_append_array(&soft, &state->uids);
			seq_range_array_remove_seq_range(&soft, &deletes);
			seq_range_array_remove_seq_range(&soft, &filtered);
		} else {
			filtered = existing;
		}
		array_append_array(&adds, &filtered);
		seq_range_array_remove_seq_range(&adds, &state->uids);
	} else {
		uint32_t first_new = I_MAX(state->uid_next, 1);

		if (array_count(&state->uids) > 0 &&
		    !mailbox_get_expunged_uids(in->box, state->highest_modseq,
					       &state->uids, &deletes)) {
			/* the expunge history doesn't reach back that far:
			   check which of the device's UIDs still exist */
			t_array_init(&existing, 64);
			if (search_uids(in->box, &state->uids, 0, 0, NULL,
					&existing, error_r) < 0)
				return -1;
			array_clear(&deletes);
			array_append_array(&deletes, &state->uids);
			seq_range_array_remove_seq_range(&deletes, &existing);
		}
		if (first_new <= max_uid) {
			ARRAY_TYPE(seq_range) range;

			t_array_init(&range, 1);
			seq_range_array_add_range(&range, first_new, max_uid);
			if (search_uids(in->box, &range, 0, in->since, in,
					&adds, error_r) < 0)
				return -1;
			seq_range_array_remove_seq_range(&adds, &state->uids);
		}
	}

	/* flag changes of what the device keeps */
	t_array_init(&remaining, 16);
	array_append_array(&remaining, &state->uids);
	seq_range_array_remove_seq_range(&remaining, &deletes);
	seq_range_array_remove_seq_range(&remaining, &soft);
	if (in->status->highest_modseq > state->highest_modseq &&
	    array_count(&remaining) > 0) {
		if (search_uids(in->box, &remaining,
				state->highest_modseq + 1, 0, NULL,
				&changed, error_r) < 0)
			return -1;
	}
	if (in->pending_changes != NULL &&
	    array_is_created(in->pending_changes)) {
		ARRAY_TYPE(seq_range) pending;

		t_array_init(&pending, 8);
		array_append_array(&pending, in->pending_changes);
		seq_range_array_intersect(&pending, &remaining);
		seq_range_array_merge(&changed, &pending);
	}
	if (in->exclude_changes != NULL &&
	    array_is_created(in->exclude_changes))
		seq_range_array_remove_seq_range(&changed,
						 in->exclude_changes);

	uids_to_array(&adds, TRUE, &changes_r->adds);
	uids_to_array(&changed, FALSE, &changes_r->changes);
	uids_to_array(&deletes, FALSE, &changes_r->deletes);
	uids_to_array(&soft, FALSE, &changes_r->soft_deletes);
	return 0;
}

unsigned int as_sync_changes_count(const struct as_sync_changes *changes)
{
	return array_count(&changes->adds) + array_count(&changes->changes) +
		array_count(&changes->deletes) +
		array_count(&changes->soft_deletes);
}
