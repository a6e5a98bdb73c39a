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
#include "master-service.h"
#include "test-common.h"
#include "test-mail-storage-common.h"
#include "mail-namespace.h"
#include "mail-storage.h"
#include "as-store.h"
#include "sync/as-sync-changes.h"

#include <sys/stat.h>
#include <unistd.h>

#define DAY (24*60*60)

static struct test_mail_storage_ctx *test_storage;

static struct mailbox *test_box_open(const char *name)
{
	struct mail_namespace *ns =
		mail_namespace_find_inbox(test_storage->user->namespaces);
	struct mailbox *box = mailbox_alloc(ns->list, name, 0);

	if (mailbox_create(box, NULL, FALSE) < 0)
		i_fatal("mailbox_create(%s): %s", name,
			mailbox_get_last_internal_error(box, NULL));
	/* as Sync does: per-message modseqs */
	if (mailbox_enable(box, MAILBOX_FEATURE_CONDSTORE) < 0)
		i_fatal("mailbox_enable(%s): %s", name,
			mailbox_get_last_internal_error(box, NULL));
	return box;
}

/* Save a message received "age" seconds ago; returns its UID */
static uint32_t test_save(struct mailbox *box, const char *subject,
			  time_t age)
{
	struct mailbox_transaction_context *t;
	struct mail_save_context *save;
	struct mail_transaction_commit_changes changes;
	struct istream *input;
	const char *msg;
	uint32_t uid;

	msg = t_strdup_printf("From: <a@example.test>\r\nSubject: %s\r\n"
			      "\r\nBody of %s\r\n", subject, subject);
	input = i_stream_create_from_data(msg, strlen(msg));
	t = mailbox_transaction_begin(box, MAILBOX_TRANSACTION_FLAG_EXTERNAL |
				      MAILBOX_TRANSACTION_FLAG_ASSIGN_UIDS,
				      __func__);
	save = mailbox_save_alloc(t);
	mailbox_save_set_received_date(save, ioloop_time - age, 0);
	if (mailbox_save_begin(&save, input) < 0)
		i_fatal("mailbox_save_begin: %s",
			mailbox_get_last_internal_error(box, NULL));
	while (i_stream_read(input) > 0) {
		if (mailbox_save_continue(save) < 0)
			i_fatal("mailbox_save_continue failed");
	}
	if (mailbox_save_finish(&save) < 0)
		i_fatal("mailbox_save_finish: %s",
			mailbox_get_last_internal_error(box, NULL));
	i_stream_unref(&input);
	if (mailbox_transaction_commit_get_changes(&t, &changes) < 0)
		i_fatal("commit: %s", mailbox_get_last_internal_error(box, NULL));
	test_assert(seq_range_count(&changes.saved_uids) == 1);
	{
		const struct seq_range *range =
			array_front(&changes.saved_uids);
		uid = range->seq1;
	}
	pool_unref(&changes.pool);
	if (mailbox_sync(box, 0) < 0)
		i_fatal("mailbox_sync failed");
	return uid;
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
	box = test_box_open("first");
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
	box = test_box_open("incr");
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
	box = test_box_open("filter");
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

static void test_changes_init(void)
{
	const struct test_mail_storage_settings set = {
		.username = "changes",
		.driver = "maildir",
		.hierarchy_sep = "/",
	};

	/* the test storage lives in <cwd>/.test-home: a directory of
	   our own, so tests running in parallel (make -j) don't share it */
	if (mkdir(".test-as-sync-changes.tmp", 0700) < 0 && errno != EEXIST)
		i_fatal("mkdir(.test-as-sync-changes.tmp) failed: %m");
	if (chdir(".test-as-sync-changes.tmp") < 0)
		i_fatal("chdir(.test-as-sync-changes.tmp) failed: %m");
	test_storage = test_mail_storage_init();
	test_mail_storage_init_user(test_storage, &set);
}

static void test_changes_deinit(void)
{
	test_mail_storage_deinit_user(test_storage);
	test_mail_storage_deinit(&test_storage);
	if (chdir("..") < 0)
		i_fatal("chdir(..) failed: %m");
	if (rmdir(".test-as-sync-changes.tmp") < 0)
		i_error("rmdir(.test-as-sync-changes.tmp) failed: %m");
}

int main(int argc, char **argv)
{
	static void (*const test_functions[])(void) = {
		test_changes_init,
		test_changes_first_sync,
		test_changes_incremental,
		test_changes_window_of_filter,
		test_changes_deinit,
		NULL
	};
	int ret;

	master_service = master_service_init("test-as-sync-changes",
		MASTER_SERVICE_FLAG_STANDALONE |
		MASTER_SERVICE_FLAG_DONT_SEND_STATS |
		MASTER_SERVICE_FLAG_NO_CONFIG_SETTINGS |
		MASTER_SERVICE_FLAG_NO_SSL_INIT |
		MASTER_SERVICE_FLAG_NO_INIT_DATASTACK_FRAME,
		&argc, &argv, "");
	ret = test_run(test_functions);
	master_service_deinit(&master_service);
	return ret;
}
