/* Copyright (c) dovecot-activesync authors, see the included COPYING file */

/* as_sync_changes_compute() against a real, temporary mail user (Dovecot's
   test mail storage: a maildir in a temporary home, no configuration):
   what a device is sent after deliveries, flag changes, expunges, a
   date filter, and the exclusions Sync passes in. */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "istream.h"
#include "ioloop.h"
#include "test-common.h"
#include "mail-storage.h"
#include "as-store.h"
#include "sync/as-sync-changes.h"
#include "test-as-mail-user.h"

#define DAY (24*60*60)

/* Save a message received "age" seconds ago; returns its UID */
static uint32_t test_save(struct mailbox *box, const char *subject,
			  time_t age)
{
	const char *msg = t_strdup_printf(
		"From: <a@example.test>\r\nSubject: %s\r\n"
		"\r\nBody of %s\r\n", subject, subject);

	return test_as_mail_save(box, msg, strlen(msg), ioloop_time - age,
				 NULL);
}

/* Set a flag on / expunge one UID */
static void test_modify(struct mailbox *box, uint32_t uid, bool expunge)
{
	struct mailbox_transaction_context *t;
	struct mail *mail;

	t = mailbox_transaction_begin(box, 0, __func__);
	mail = mail_alloc(t, 0, NULL);
	test_assert(mail_set_uid(mail, uid));
	if (expunge)
		mail_expunge(mail);
	else
		mail_update_flags(mail, MODIFY_ADD, MAIL_FLAGGED);
	mail_free(&mail);
	if (mailbox_transaction_commit(&t) < 0)
		i_fatal("commit: %s", mailbox_get_last_internal_error(box, NULL));
	if (mailbox_sync(box, 0) < 0)
		i_fatal("mailbox_sync failed");
}

static void test_status(struct mailbox *box, struct mailbox_status *status_r)
{
	mailbox_get_open_status(box, STATUS_UIDVALIDITY | STATUS_UIDNEXT |
				STATUS_HIGHESTMODSEQ, status_r);
}

/* The state a device has after it got everything up to now */
static void test_state_now(struct mailbox *box,
			   struct as_collection_state *state,
			   const uint32_t *uids, unsigned int count)
{
	struct mailbox_status status;
	unsigned int i;

	test_status(box, &status);
	i_zero(state);
	state->uid_validity = status.uidvalidity;
	state->uid_next = status.uidnext;
	state->highest_modseq = status.highest_modseq;
	t_array_init(&state->uids, 8);
	for (i = 0; i < count; i++)
		seq_range_array_add(&state->uids, uids[i]);
}

static bool test_uids_are(const ARRAY_TYPE(uint32_t) *arr,
			  const uint32_t *uids, unsigned int count)
{
	const uint32_t *got;
	unsigned int i, got_count;

	got = array_get(arr, &got_count);
	if (got_count != count)
		return FALSE;
	for (i = 0; i < count; i++) {
		if (got[i] != uids[i])
			return FALSE;
	}
	return TRUE;
}

static void
test_compute(struct mailbox *box, const struct as_collection_state *state,
	     bool full, time_t since, const ARRAY_TYPE(seq_range) *exclude,
	     const ARRAY_TYPE(seq_range) *pending,
	     struct as_sync_changes *changes_r)
{
	struct as_sync_changes_input in;
	struct mailbox_status status;
	const char *error = NULL;

	test_status(box, &status);
	i_zero(&in);
	in.box = box;
	in.status = &status;
	in.state = state;
	in.full = full;
	in.since = since;
	in.exclude_changes = exclude;
	in.pending_changes = pending;
	if (as_sync_changes_compute(pool_datastack_create(), &in, changes_r,
				    &error) < 0)
		i_fatal("as_sync_changes_compute: %s", error);
}

static void test_changes_first_sync(void)
{
	struct as_collection_state state;
	struct as_sync_changes changes;
	struct mailbox *box;
	uint32_t uids[3];

	test_begin("sync changes: first sync sends everything, newest first");
	box = test_as_mailbox_open("first");
	uids[0] = test_save(box, "one", 3 * DAY);
	uids[1] = test_save(box, "two", 2 * DAY);
	uids[2] = test_save(box, "three", DAY);
	/* the state a SyncKey 0 leaves: nothing sent yet */
	test_state_now(box, &state, NULL, 0);
	test_compute(box, &state, TRUE, 0, NULL, NULL, &changes);
	test_assert(test_uids_are(&changes.adds, (const uint32_t[]){
		uids[2], uids[1], uids[0] }, 3));
	test_assert(array_count(&changes.changes) == 0);
	test_assert(array_count(&changes.deletes) == 0);
	test_assert(as_sync_changes_count(&changes) == 3);

	/* with a date filter: the old one is left out */
	test_compute(box, &state, TRUE, ioloop_time - (2 * DAY + DAY / 2),
		     NULL, NULL, &changes);
	test_assert(test_uids_are(&changes.adds, (const uint32_t[]){
		uids[2], uids[1] }, 2));
	mailbox_free(&box);
	test_end();
}

static void test_changes_incremental(void)
{
	struct as_collection_state state;
	struct as_sync_changes_input in;
	struct as_sync_changes changes;
	struct mailbox_status status;
	ARRAY_TYPE(seq_range) exclude;
	struct mailbox *box;
	uint32_t uids[4];

	test_begin("sync changes: delivery, flag change, expunge");
	box = test_as_mailbox_open("incr");
	uids[0] = test_save(box, "one", DAY);
	uids[1] = test_save(box, "two", DAY);
	uids[2] = test_save(box, "three", DAY);
	test_state_now(box, &state, uids, 3);

	/* nothing happened: the O(1) check says so */
	test_status(box, &status);
	i_zero(&in);
	in.box = box;
	in.status = &status;
	in.state = &state;
	test_assert(as_sync_changes_none(&in));
	test_compute(box, &state, FALSE, 0, NULL, NULL, &changes);
	test_assert(as_sync_changes_count(&changes) == 0);

	uids[3] = test_save(box, "four", 0);
	test_modify(box, uids[1], FALSE);
	test_modify(box, uids[0], TRUE);
	test_status(box, &status);
	in.status = &status;
	test_assert(!as_sync_changes_none(&in));

	test_compute(box, &state, FALSE, 0, NULL, NULL, &changes);
	test_assert(test_uids_are(&changes.adds, &uids[3], 1));
	test_assert(test_uids_are(&changes.changes, &uids[1], 1));
	test_assert(test_uids_are(&changes.deletes, &uids[0], 1));

	/* the whole-folder comparison finds the same */
	test_compute(box, &state, TRUE, 0, NULL, NULL, &changes);
	test_assert(test_uids_are(&changes.adds, &uids[3], 1));
	test_assert(test_uids_are(&changes.deletes, &uids[0], 1));

	/* the device's own flag change is not echoed back */
	t_array_init(&exclude, 2);
	seq_range_array_add(&exclude, uids[1]);
	test_compute(box, &state, FALSE, 0, &exclude, NULL, &changes);
	test_assert(array_count(&changes.changes) == 0);
	test_assert(test_uids_are(&changes.adds, &uids[3], 1));

	/* a change a previous window left over is sent even though the
	   state's modseq is past it */
	test_state_now(box, &state, (const uint32_t[]){
		uids[1], uids[2], uids[3] }, 3);
	test_compute(box, &state, FALSE, 0, NULL, NULL, &changes);
	test_assert(as_sync_changes_count(&changes) == 0);
	t_array_init(&exclude, 2);
	seq_range_array_add(&exclude, uids[2]);
	test_compute(box, &state, FALSE, 0, NULL, &exclude, &changes);
	test_assert(test_uids_are(&changes.changes, &uids[2], 1));
	mailbox_free(&box);
	test_end();
}

static void test_changes_window_of_filter(void)
{
	struct as_collection_state state;
	struct as_sync_changes changes;
	struct mailbox *box;
	uint32_t uids[2];

	test_begin("sync changes: a narrower filter soft-deletes");
	box = test_as_mailbox_open("filter");
	uids[0] = test_save(box, "old", 10 * DAY);
	uids[1] = test_save(box, "new", DAY);
	test_state_now(box, &state, uids, 2);
	/* the device narrows its FilterType: the old one goes away
	   without being deleted from the folder */
	test_compute(box, &state, TRUE, ioloop_time - 5 * DAY, NULL, NULL,
		     &changes);
	test_assert(array_count(&changes.adds) == 0);
	test_assert(array_count(&changes.deletes) == 0);
	test_assert(test_uids_are(&changes.soft_deletes, &uids[0], 1));
	mailbox_free(&box);
	test_end();
}

int main(int argc, char **argv)
{
	static void (*const test_functions[])(void) = {
		test_changes_first_sync,
		test_changes_incremental,
		test_changes_window_of_filter,
		NULL
	};

	return test_as_mail_user_run("test-as-sync-changes", test_functions,
				     argc, argv);
}
