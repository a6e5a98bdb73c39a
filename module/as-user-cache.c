/* Copyright (c) the dovecot-activesync authors, see AUTHORS */

#include "lib.h"
#include "array.h"
#include "llist.h"
#include "str.h"
#include "ioloop.h"
#include "mail-storage-private.h"
#include "mail-storage-service.h"
#include "mail-user.h"
#include "mail-namespace.h"
#include "mailbox-list.h"

#include <unistd.h>
#include "as-user.h"
#include "as-user-cache.h"

struct as_user_kept_box {
	struct mailbox *box;
	guid_128_t guid;
};

/* What a user opened through the cache carries besides the user; while
   in the cache it also holds the user itself */
struct as_user_warm {
	struct as_user_warm *prev, *next;
	pool_t pool;
	/* username, connection addresses: what the settings may depend
	   on besides the userdb reply */
	const char *key;
	const char *const *userdb_fields;
	ARRAY(struct as_user_kept_box) boxes;

	/* while cached */
	struct mail_storage_service_user *service_user;
	struct mail_user *mail_user;
	time_t last_used;
};

/* most recently used first */
static struct as_user_warm *as_warm_head, *as_warm_tail;
static unsigned int as_warm_count;
static struct timeout *as_warm_to;

static void as_user_warm_free_boxes(struct as_user_warm *warm)
{
	struct as_user_kept_box *kept;

	array_foreach_modifiable(&warm->boxes, kept)
		mailbox_free(&kept->box);
	array_clear(&warm->boxes);
}

void as_user_warm_free(struct as_user_warm **_warm)
{
	struct as_user_warm *warm = *_warm;

	*_warm = NULL;
	as_user_warm_free_boxes(warm);
	pool_unref(&warm->pool);
}

static void as_user_cache_remove(struct as_user_warm *warm)
{
	DLLIST2_REMOVE(&as_warm_head, &as_warm_tail, warm);
	i_assert(as_warm_count > 0);
	as_warm_count--;
}

/* Close a cached entry: folders first, they belong to the user */
static void as_user_cache_drop(struct as_user_warm *warm)
{
	struct as_user user;

	as_user_cache_remove(warm);
	i_zero(&user);
	user.service_user = warm->service_user;
	user.mail_user = warm->mail_user;
	user.warm = warm;
	as_user_close(&user);
}

static void as_user_cache_expire(void *context ATTR_UNUSED)
{
	time_t limit = ioloop_time - AS_USER_CACHE_IDLE_SECS;

	while (as_warm_tail != NULL && as_warm_tail->last_used <= limit)
		as_user_cache_drop(as_warm_tail);
	if (as_warm_tail == NULL)
		timeout_remove(&as_warm_to);
}

void as_user_cache_init(void)
{
}

void as_user_cache_deinit(void)
{
	while (as_warm_head != NULL)
		as_user_cache_drop(as_warm_head);
	timeout_remove(&as_warm_to);
}

unsigned int as_user_cache_count(void)
{
	return as_warm_count;
}

static const char *as_user_cache_key(const struct as_user_lookup *lookup)
{
	return t_strdup_printf("%s\t%s:%u\t%s\t%c", lookup->username,
			       net_ip2addr(&lookup->local_ip),
			       lookup->local_port,
			       net_ip2addr(&lookup->remote_ip),
			       lookup->secured ? 's' : '-');
}

static bool as_user_fields_equal(const char *const *a, const char *const *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	for (; *a != NULL && *b != NULL; a++, b++) {
		if (strcmp(*a, *b) != 0)
			return FALSE;
	}
	return *a == NULL && *b == NULL;
}

/* Dovecot trusts what it has cached for an open user: with the mail
   root made unreadable since (a permissions change, a restore in
   progress) a GUID lookup answers with an empty GUID and asserts. A
   freshly opened user meets the error at once and reports it, so a
   warm one is used only while its roots are still there to read. */
static bool as_user_cache_roots_accessible(struct mail_user *user)
{
	static const enum mailbox_list_path_type types[] = {
		MAILBOX_LIST_PATH_TYPE_MAILBOX,
		MAILBOX_LIST_PATH_TYPE_INDEX,
	};
	struct mail_namespace *ns = mail_namespace_find_inbox(user->namespaces);
	const char *path;
	unsigned int i;

	if (ns == NULL)
		return FALSE;
	for (i = 0; i < N_ELEMENTS(types); i++) {
		if (mailbox_list_get_root_path(ns->list, types[i], &path) &&
		    access(path, R_OK | X_OK) < 0)
			return FALSE;
	}
	return TRUE;
}

static struct as_user_warm *as_user_cache_find(const char *key)
{
	struct as_user_warm *warm;

	for (warm = as_warm_head; warm != NULL; warm = warm->next) {
		if (strcmp(warm->key, key) == 0)
			return warm;
	}
	return NULL;
}

/* No user is active in the ioloop between requests: the storage service
   activates one at mail_storage_service_next() and deactivates it only
   when it is freed. */
static void as_user_cache_deactivate_current(void)
{
	struct ioloop_context *cur = io_loop_get_current_context(current_ioloop);

	if (cur != NULL)
		io_loop_context_deactivate(cur);
}

int as_user_cache_open(const struct as_user_lookup *lookup,
		       struct as_user *user_r, const char **error_r)
{
	struct mail_storage_service_user *service_user;
	struct as_user_warm *warm, *cached;
	const char *const *fields;
	const char *key;
	pool_t pool;
	int ret;

	i_zero(user_r);
	pool = pool_alloconly_create("activesync warm user", 1024);
	/* the userdb lookup runs every time: a changed reply (a disabled
	   user, other settings) must not be served from the cache */
	ret = as_user_lookup_service(lookup, pool, &fields, &service_user,
				     error_r);
	if (ret <= 0) {
		pool_unref(&pool);
		return ret;
	}

	key = as_user_cache_key(lookup);
	cached = as_user_cache_find(key);
	if (cached != NULL) {
		as_user_cache_remove(cached);
		if (as_user_fields_equal(cached->userdb_fields, fields) &&
		    as_user_cache_roots_accessible(cached->mail_user)) {
			const char *prefix =
				as_user_service_log_prefix(service_user);

			pool_unref(&pool);
			mail_storage_service_user_unref(&service_user);
			user_r->service_user = cached->service_user;
			user_r->mail_user = cached->mail_user;
			user_r->warm = cached;
			cached->service_user = NULL;
			cached->mail_user = NULL;
			as_user_cache_deactivate_current();
			mail_storage_service_io_activate_user(
				user_r->service_user);
			/* this request's session in the user's log lines */
			if (prefix != NULL) {
				event_replace_log_prefix(
					user_r->mail_user->event, prefix);
			}
			return 1;
		}
		/* the userdb reply changed (or the roots can't be read):
		   that user is stale */
		as_warm_count++;
		DLLIST2_PREPEND(&as_warm_head, &as_warm_tail, cached);
		as_user_cache_drop(cached);
	}

	ret = as_user_open_service(service_user, user_r, error_r);
	if (ret <= 0) {
		pool_unref(&pool);
		return ret;
	}
	warm = p_new(pool, struct as_user_warm, 1);
	warm->pool = pool;
	warm->key = p_strdup(pool, key);
	warm->userdb_fields = fields;
	p_array_init(&warm->boxes, pool, AS_USER_CACHE_MAX_BOXES);
	user_r->warm = warm;
	return 1;
}

void as_user_cache_close(struct as_user *user)
{
	struct as_user_warm *warm = user->warm;

	if (warm == NULL || user->mail_user == NULL ||
	    AS_USER_CACHE_MAX_USERS == 0) {
		as_user_close(user);
		i_zero(user);
		return;
	}
	as_user_cache_deactivate_current();
	/* another request of the same user may have put its own back
	   meanwhile: the newer one stays */
	struct as_user_warm *old = as_user_cache_find(warm->key);
	if (old != NULL)
		as_user_cache_drop(old);

	warm->service_user = user->service_user;
	warm->mail_user = user->mail_user;
	warm->last_used = ioloop_time;
	i_zero(user);
	DLLIST2_PREPEND(&as_warm_head, &as_warm_tail, warm);
	as_warm_count++;
	while (as_warm_count > AS_USER_CACHE_MAX_USERS)
		as_user_cache_drop(as_warm_tail);
	if (as_warm_to == NULL) {
		as_warm_to = timeout_add_short(AS_USER_CACHE_IDLE_SECS * 1000,
					       as_user_cache_expire, NULL);
	}
}

struct mailbox *as_user_cache_take_box(struct as_user *user,
				       const char *vname,
				       const guid_128_t guid)
{
	struct as_user_kept_box *kept;
	struct mailbox *box;
	unsigned int i, count;

	if (user->warm == NULL)
		return NULL;
	kept = array_get_modifiable(&user->warm->boxes, &count);
	for (i = 0; i < count; i++) {
		if (guid_128_equals(kept[i].guid, guid) &&
		    strcmp(mailbox_get_vname(kept[i].box), vname) == 0)
			break;
	}
	if (i == count)
		return NULL;
	box = kept[i].box;
	array_delete(&user->warm->boxes, i, 1);
	/* deleted or renamed meanwhile: the caller opens it afresh and
	   reports what it finds */
	if (mailbox_sync(box, 0) < 0) {
		mailbox_free(&box);
		return NULL;
	}
	return box;
}

void as_user_cache_keep_box(struct as_user *user, struct mailbox **_box,
			    const guid_128_t guid)
{
	struct mailbox *box = *_box;
	struct as_user_kept_box *kept;

	*_box = NULL;
	if (box == NULL)
		return;
	if (user->warm == NULL || box->transaction_count > 0 ||
	    box->flags != 0 || mailbox_is_inconsistent(box) ||
	    box->storage->user != user->mail_user) {
		mailbox_free(&box);
		return;
	}
	if (array_count(&user->warm->boxes) >= AS_USER_CACHE_MAX_BOXES) {
		/* the oldest one goes */
		kept = array_front_modifiable(&user->warm->boxes);
		mailbox_free(&kept->box);
		array_pop_front(&user->warm->boxes);
	}
	kept = array_append_space(&user->warm->boxes);
	kept->box = box;
	guid_128_copy(kept->guid, guid);
}
