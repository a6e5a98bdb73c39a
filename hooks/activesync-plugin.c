/* Copyright (c) the dovecot-activesync authors, see AUTHORS */

#include "lib.h"
#include "str.h"
#include "ioloop.h"
#include "mail-user.h"
#include "mail-namespace.h"
#include "mail-storage-private.h"
#include "mail-index-private.h"
#include "mail-transaction-log-private.h"
#include "mail-storage-hooks.h"
#include "notify-plugin.h"
#include "as-notify-proto.h"
#include "activesync-plugin.h"

/* Tells the activesync service at once when a user's mail changed, so a
   held Ping answers within milliseconds instead of waiting for the
   mailbox list index notification. One small datagram per committed
   transaction that changed messages, and per mailbox create, delete or
   rename; sent without blocking, so mail delivery is never slowed or
   failed, whether the service runs or not. */

#define ACTIVESYNC_SETTING_SOCKET "activesync_notify_socket"
/* At most one warning per this many seconds per process */
#define ACTIVESYNC_WARN_INTERVAL_SECS 60

#define ACTIVESYNC_USER_CONTEXT(obj) \
	MODULE_CONTEXT(obj, activesync_user_module)

struct activesync_user {
	union mail_user_module_context module_ctx;
	const char *socket_dir;
};

struct activesync_txn {
	struct mailbox *box;
	bool changed:1;
};

const char *activesync_plugin_version = DOVECOT_ABI_VERSION;
const char *activesync_plugin_dependencies[] = { "notify", NULL };

static MODULE_CONTEXT_DEFINE_INIT(activesync_user_module,
				  &mail_user_module_register);
static struct notify_context *activesync_notify_ctx;
/* One per process: the directory is the same for all users in practice;
   re-created if a user's setting differs. */
static struct as_notify_sender *activesync_sender;
static time_t activesync_last_warning;
static unsigned int activesync_suppressed;

static void
activesync_warn(struct mail_user *user, const char *fmt, ...)
	ATTR_FORMAT(2, 3);
static void activesync_warn(struct mail_user *user, const char *fmt, ...)
{
	va_list args;
	const char *msg;

	if (activesync_last_warning + ACTIVESYNC_WARN_INTERVAL_SECS >
	    ioloop_time) {
		activesync_suppressed++;
		return;
	}
	va_start(args, fmt);
	msg = t_strdup_vprintf(fmt, args);
	va_end(args);
	if (activesync_suppressed > 0) {
		msg = t_strdup_printf("%s (%u more suppressed)", msg,
				      activesync_suppressed);
	}
	e_warning(user->event, "activesync: %s", msg);
	activesync_last_warning = ioloop_time;
	activesync_suppressed = 0;
}

static struct mail_user *activesync_box_user(struct mailbox *box)
{
	struct mail_namespace *ns = mailbox_get_namespace(box);

	/* only the user's own folders are EAS folders */
	if (ns->type != MAIL_NAMESPACE_TYPE_PRIVATE || ns->owner == NULL)
		return NULL;
	if (ACTIVESYNC_USER_CONTEXT(ns->owner) == NULL)
		return NULL;
	return ns->owner;
}

static void
activesync_send(struct mail_user *user, const struct as_notify_msg *msg)
{
	struct activesync_user *auser = ACTIVESYNC_USER_CONTEXT(user);
	struct as_notify_sender_result result;
	string_t *str;

	if (activesync_sender == NULL ||
	    strcmp(as_notify_sender_get_dir(activesync_sender),
		   auser->socket_dir) != 0) {
		as_notify_sender_deinit(&activesync_sender);
		activesync_sender = as_notify_sender_init(auser->socket_dir);
	}
	str = t_str_new(128);
	as_notify_msg_format(str, msg);
	if (str_len(str) > AS_NOTIFY_MAX_DATAGRAM) {
		e_debug(user->event, "activesync: user name too long "
			"for a change notification");
		return;
	}
	as_notify_send(activesync_sender, str_data(str), str_len(str), 0,
		       &result);
	if (result.full > 0) {
		activesync_warn(user, "%u activesync process(es) had a full "
				"notification queue; they re-check all held "
				"requests", result.full);
	}
	if (result.failed > 0) {
		activesync_warn(user, "Notifying %u activesync process(es) "
				"failed: %s", result.failed, result.error);
	}
	e_debug(user->event, "activesync: %c notification sent to %u "
		"process(es)", (char)msg->kind, result.sent);
}

static void activesync_box_guid(struct mailbox *box, guid_128_t guid_r)
{
	struct mailbox_metadata metadata;

	if (mailbox_get_metadata(box, MAILBOX_METADATA_GUID, &metadata) < 0)
		guid_128_empty(guid_r);
	else
		guid_128_copy(guid_r, metadata.guid);
}

/* The HIGHESTMODSEQ the commit just produced: the index log head knows it
   right after the append, before any view is synced. */
static uint64_t activesync_box_modseq(struct mailbox *box)
{
	if (box->index == NULL || box->index->log == NULL ||
	    box->index->log->head == NULL)
		return 0;
	return box->index->log->head->sync_highest_modseq;
}

static void
activesync_send_box(struct mailbox *box, enum as_notify_kind kind)
{
	struct mail_user *user = activesync_box_user(box);
	struct as_notify_msg msg;

	if (user == NULL)
		return;
	i_zero(&msg);
	msg.kind = kind;
	msg.username = user->username;
	T_BEGIN {
		if (kind == AS_NOTIFY_MAIL) {
			activesync_box_guid(box, msg.guid);
			msg.value = activesync_box_modseq(box);
		} else if (kind != AS_NOTIFY_MAILBOX_DELETE) {
			activesync_box_guid(box, msg.guid);
		}
		activesync_send(user, &msg);
	} T_END;
}

static void *
activesync_mail_transaction_begin(struct mailbox_transaction_context *t)
{
	struct activesync_txn *txn = i_new(struct activesync_txn, 1);

	txn->box = mailbox_transaction_get_mailbox(t);
	return txn;
}

static void activesync_mail_changed(void *txn)
{
	((struct activesync_txn *)txn)->changed = TRUE;
}

static void activesync_mail_save(void *txn, struct mail *mail ATTR_UNUSED)
{
	activesync_mail_changed(txn);
}

static void
activesync_mail_copy(void *txn, struct mail *src ATTR_UNUSED,
		     struct mail *dst ATTR_UNUSED)
{
	activesync_mail_changed(txn);
}

static void
activesync_mail_expunge(void *txn, struct mail *mail ATTR_UNUSED)
{
	activesync_mail_changed(txn);
}

static void
activesync_mail_update_flags(void *txn, struct mail *mail ATTR_UNUSED,
			     enum mail_flags old_flags ATTR_UNUSED)
{
	activesync_mail_changed(txn);
}

static void
activesync_mail_update_keywords(void *txn, struct mail *mail ATTR_UNUSED,
				const char *const *old_keywords ATTR_UNUSED)
{
	activesync_mail_changed(txn);
}

static void
activesync_mail_transaction_commit(void *_txn,
	struct mail_transaction_commit_changes *changes ATTR_UNUSED)
{
	struct activesync_txn *txn = _txn;

	if (txn->changed)
		activesync_send_box(txn->box, AS_NOTIFY_MAIL);
	i_free(txn);
}

static void activesync_mail_transaction_rollback(void *txn)
{
	i_free(txn);
}

static void activesync_mailbox_create(struct mailbox *box)
{
	activesync_send_box(box, AS_NOTIFY_MAILBOX_CREATE);
}

static void
activesync_mailbox_delete_commit(void *txn ATTR_UNUSED, struct mailbox *box)
{
	activesync_send_box(box, AS_NOTIFY_MAILBOX_DELETE);
}

static void
activesync_mailbox_rename(struct mailbox *src ATTR_UNUSED,
			  struct mailbox *dest)
{
	activesync_send_box(dest, AS_NOTIFY_MAILBOX_RENAME);
}

static const struct notify_vfuncs activesync_notify_vfuncs = {
	.mail_transaction_begin = activesync_mail_transaction_begin,
	.mail_save = activesync_mail_save,
	.mail_copy = activesync_mail_copy,
	.mail_expunge = activesync_mail_expunge,
	.mail_update_flags = activesync_mail_update_flags,
	.mail_update_keywords = activesync_mail_update_keywords,
	.mail_transaction_commit = activesync_mail_transaction_commit,
	.mail_transaction_rollback = activesync_mail_transaction_rollback,
	.mailbox_create = activesync_mailbox_create,
	.mailbox_delete_commit = activesync_mailbox_delete_commit,
	.mailbox_rename = activesync_mailbox_rename,
};

static void activesync_mail_user_created(struct mail_user *user)
{
	struct activesync_user *auser;
	const char *dir;

	if (user->autocreated)
		return;
	dir = mail_user_plugin_getenv(user, ACTIVESYNC_SETTING_SOCKET);
	if (dir == NULL || dir[0] == '\0') {
		dir = t_strconcat(user->set->base_dir, "/",
				  AS_NOTIFY_DEFAULT_DIR_NAME, NULL);
	}
	auser = p_new(user->pool, struct activesync_user, 1);
	auser->module_ctx.super = *user->vlast;
	auser->socket_dir = p_strdup(user->pool, dir);
	MODULE_CONTEXT_SET(user, activesync_user_module, auser);
}

static struct mail_storage_hooks activesync_mail_storage_hooks = {
	.mail_user_created = activesync_mail_user_created,
};

void activesync_plugin_init(struct module *module)
{
	activesync_notify_ctx = notify_register(&activesync_notify_vfuncs);
	mail_storage_hooks_add(module, &activesync_mail_storage_hooks);
}

void activesync_plugin_deinit(void)
{
	mail_storage_hooks_remove(&activesync_mail_storage_hooks);
	notify_unregister(activesync_notify_ctx);
	as_notify_sender_deinit(&activesync_sender);
}
