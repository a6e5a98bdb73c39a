/* Copyright (c) dovecot-activesync authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "istream.h"
#include "seq-range-array.h"
#include "mail-storage.h"
#include "items/as-mail-save.h"

int as_mail_save(struct mailbox *box, const void *data, size_t size,
		 enum mail_flags flags, struct mail_keywords *keywords,
		 uint32_t *uid_r, const char **error_r)
{
	struct mailbox_transaction_context *t;
	struct mail_transaction_commit_changes changes;
	struct mail_save_context *save_ctx;
	struct istream *input;
	const struct seq_range *range;
	int ret = 0;

	*uid_r = 0;
	t = mailbox_transaction_begin(box, MAILBOX_TRANSACTION_FLAG_EXTERNAL |
				      MAILBOX_TRANSACTION_FLAG_ASSIGN_UIDS,
				      "activesync save");
	save_ctx = mailbox_save_alloc(t);
	mailbox_save_set_flags(save_ctx, flags, keywords);
	input = i_stream_create_from_data(data, size);
	if (mailbox_save_begin(&save_ctx, input) < 0)
		ret = -1;
	else {
		ssize_t n;

		do {
			if (mailbox_save_continue(save_ctx) < 0) {
				ret = -1;
				break;
			}
		} while ((n = i_stream_read(input)) > 0 || n == -2);
		if (ret < 0)
			mailbox_save_cancel(&save_ctx);
		else if (mailbox_save_finish(&save_ctx) < 0)
			ret = -1;
	}
	i_stream_unref(&input);
	if (ret < 0) {
		*error_r = mailbox_get_last_internal_error(box, NULL);
		mailbox_transaction_rollback(&t);
		return -1;
	}
	if (mailbox_transaction_commit_get_changes(&t, &changes) < 0) {
		*error_r = mailbox_get_last_internal_error(box, NULL);
		return -1;
	}
	range = array_count(&changes.saved_uids) == 0 ? NULL :
		array_front(&changes.saved_uids);
	if (range != NULL)
		*uid_r = range->seq1;
	pool_unref(&changes.pool);
	return 0;
}
