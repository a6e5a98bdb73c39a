/* Copyright (c) dovecot-activesync authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "istream.h"
#include "ioloop.h"
#include "master-service.h"
#include "test-common.h"
#include "test-mail-storage-common.h"
#include "mail-namespace.h"
#include "mail-storage.h"
#include "test-as-mail-user.h"

#include <sys/stat.h>
#include <unistd.h>

typedef void test_as_fn_t(void);
ARRAY_DEFINE_TYPE(test_as_fn, test_as_fn_t *);

static struct test_mail_storage_ctx *test_storage;
static char *test_dir;

static void test_as_mail_user_init(void)
{
	static const char *const extra_input[] = {
		"mail_attribute_dict=file:%h/dovecot-attributes", NULL
	};
	const struct test_mail_storage_settings set = {
		.username = "testuser",
		.driver = "maildir",
		.hierarchy_sep = "/",
		/* folder types (groupware folders) are METADATA */
		.extra_input = extra_input,
	};

	/* the test storage lives in <cwd>/.test-home */
	if (mkdir(test_dir, 0700) < 0 && errno != EEXIST)
		i_fatal("mkdir(%s) failed: %m", test_dir);
	if (chdir(test_dir) < 0)
		i_fatal("chdir(%s) failed: %m", test_dir);
	test_storage = test_mail_storage_init();
	test_mail_storage_init_user(test_storage, &set);
}

static void test_as_mail_user_deinit(void)
{
	test_mail_storage_deinit_user(test_storage);
	test_mail_storage_deinit(&test_storage);
	if (chdir("..") < 0)
		i_fatal("chdir(..) failed: %m");
	if (rmdir(test_dir) < 0)
		i_error("rmdir(%s) failed: %m", test_dir);
}

int test_as_mail_user_run(const char *name,
			  void (*const tests[])(void), int argc, char **argv)
{
	ARRAY_TYPE(test_as_fn) all;
	test_as_fn_t *fn;
	int ret;

	master_service = master_service_init(name,
		MASTER_SERVICE_FLAG_STANDALONE |
		MASTER_SERVICE_FLAG_DONT_SEND_STATS |
		MASTER_SERVICE_FLAG_NO_CONFIG_SETTINGS |
		MASTER_SERVICE_FLAG_NO_SSL_INIT |
		MASTER_SERVICE_FLAG_NO_INIT_DATASTACK_FRAME,
		&argc, &argv, "");
	test_dir = i_strdup_printf(".%s.tmp", name);

	i_array_init(&all, 8);
	fn = test_as_mail_user_init;
	array_push_back(&all, &fn);
	for (; *tests != NULL; tests++)
		array_push_back(&all, tests);
	fn = test_as_mail_user_deinit;
	array_push_back(&all, &fn);
	fn = NULL;
	array_push_back(&all, &fn);
	ret = test_run(array_front(&all));
	array_free(&all);

	i_free(test_dir);
	master_service_deinit(&master_service);
	return ret;
}

struct mailbox *test_as_mailbox_open(const char *name)
{
	struct mail_namespace *ns =
		mail_namespace_find_inbox(test_storage->user->namespaces);
	struct mailbox *box = mailbox_alloc(ns->list, name, 0);

	if (mailbox_create(box, NULL, FALSE) < 0)
		i_fatal("mailbox_create(%s): %s", name,
			mailbox_get_last_internal_error(box, NULL));
	if (mailbox_open(box) < 0 ||
	    mailbox_enable(box, MAILBOX_FEATURE_CONDSTORE) < 0)
		i_fatal("mailbox_enable(%s): %s", name,
			mailbox_get_last_internal_error(box, NULL));
	return box;
}

uint32_t test_as_mail_save(struct mailbox *box, const void *data,
			   size_t size, time_t received_date,
			   const char *const *keywords)
{
	struct mailbox_transaction_context *t;
	struct mail_save_context *save;
	struct mail_transaction_commit_changes changes;
	struct mail_keywords *kw = NULL;
	const struct seq_range *range;
	struct istream *input;
	uint32_t uid;

	input = i_stream_create_from_data(data, size);
	t = mailbox_transaction_begin(box, MAILBOX_TRANSACTION_FLAG_EXTERNAL |
				      MAILBOX_TRANSACTION_FLAG_ASSIGN_UIDS,
				      __func__);
	if (keywords != NULL && keywords[0] != NULL &&
	    mailbox_keywords_create(box, keywords, &kw) < 0)
		i_fatal("invalid keywords");
	save = mailbox_save_alloc(t);
	mailbox_save_set_flags(save, 0, kw);
	if (received_date != 0)
		mailbox_save_set_received_date(save, received_date, 0);
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
	if (kw != NULL)
		mailbox_keywords_unref(&kw);
	i_stream_unref(&input);
	if (mailbox_transaction_commit_get_changes(&t, &changes) < 0)
		i_fatal("commit: %s", mailbox_get_last_internal_error(box, NULL));
	test_assert(seq_range_count(&changes.saved_uids) == 1);
	range = array_front(&changes.saved_uids);
	uid = range->seq1;
	pool_unref(&changes.pool);
	if (mailbox_sync(box, 0) < 0)
		i_fatal("mailbox_sync: %s",
			mailbox_get_last_internal_error(box, NULL));
	return uid;
}
