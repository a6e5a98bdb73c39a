/* Copyright (c) dovecot-activesync authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "ioloop.h"
#include "hostpid.h"
#include "time-util.h"
#include "auth-master.h"
#include "wbxml.h"
#include "as-command.h"
#include "as-user.h"
#include "gal/as-gal.h"

#include <ctype.h>

/* The userdb fields of an entry, by where they go */
static const struct {
	const char *field;
	size_t offset;
} gal_fields[] = {
	{ AS_GAL_FIELD_DISPLAY_NAME,
	  offsetof(struct as_gal_entry, display_name) },
	{ AS_GAL_FIELD_COMPANY, offsetof(struct as_gal_entry, company) },
	{ AS_GAL_FIELD_TITLE, offsetof(struct as_gal_entry, title) },
	{ AS_GAL_FIELD_OFFICE, offsetof(struct as_gal_entry, office) },
	{ AS_GAL_FIELD_PHONE, offsetof(struct as_gal_entry, phone) },
	{ AS_GAL_FIELD_MOBILE_PHONE,
	  offsetof(struct as_gal_entry, mobile_phone) },
	{ AS_GAL_FIELD_PICTURE, offsetof(struct as_gal_entry, picture) },
};

/* Without a display name in the userdb (passwd-file can't hold one with
   spaces), "anna.smith@..." reads as "Anna Smith" */
static const char *gal_name_from_address(pool_t pool, const char *email)
{
	const char *local = t_strcut(email, '@');
	string_t *name = t_str_new(strlen(local) + 1);
	bool word_start = TRUE;

	for (; *local != '\0'; local++) {
		if (*local == '.' || *local == '_' || *local == '-') {
			if (str_len(name) > 0 && !word_start)
				str_append_c(name, ' ');
			word_start = TRUE;
		} else if (word_start) {
			str_append_c(name, i_toupper(*local));
			word_start = FALSE;
		} else {
			str_append_c(name, *local);
		}
	}
	return p_strdup(pool, str_len(name) > 0 ? str_c(name) : email);
}

/* One user's entry from its userdb fields; FALSE if it is hidden */
static bool
gal_entry_from_fields(struct as_cmd_context *ctx, pool_t pool,
		      const char *user, const char *const *fields,
		      struct as_gal_entry *e_r)
{
	const char *key, *value;
	unsigned int i;

	i_zero(e_r);
	e_r->user = p_strdup(pool, user);
	e_r->email = p_strdup(pool, as_user_primary_address(ctx->set, user));
	for (; fields != NULL && *fields != NULL; fields++) {
		value = strchr(*fields, '=');
		if (value == NULL)
			continue;
		key = t_strdup_until(*fields, value++);
		if (strcmp(key, AS_GAL_FIELD_HIDDEN) == 0) {
			if (strcasecmp(value, "yes") == 0 ||
			    strcmp(value, "1") == 0)
				return FALSE;
			continue;
		}
		for (i = 0; i < N_ELEMENTS(gal_fields); i++) {
			if (strcmp(key, gal_fields[i].field) == 0 &&
			    *value != '\0') {
				*(const char **)PTR_OFFSET(e_r,
					gal_fields[i].offset) =
					p_strdup(pool, value);
			}
		}
	}
	if (e_r->display_name == NULL)
		e_r->display_name = gal_name_from_address(pool, e_r->email);
	return TRUE;
}

/* The userdb's list, sorted */
static int gal_list_users(pool_t pool, ARRAY_TYPE(const_string) *users_r,
			  const char **error_r)
{
	struct auth_master_user_list_ctx *iter;
	struct auth_user_info info;
	const char *user;

	i_zero(&info);
	info.service = "activesync";
	p_array_init(users_r, pool, 256);
	iter = auth_master_user_list_init(as_user_auth_conn(), "", &info);
	while ((user = auth_master_user_list_next(iter)) != NULL) {
		user = p_strdup(pool, user);
		array_push_back(users_r, &user);
	}
	if (auth_master_user_list_deinit(&iter) < 0) {
		*error_r = "Listing the userdb's users failed (does the "
			"userdb support iteration?)";
		return -1;
	}
	array_sort(users_r, i_strcmp_p);
	return 0;
}

/* Looks the users up; their entries go to entries, the hidden ones to
   hidden */
static void
gal_lookup_users(struct as_cmd_context *ctx, pool_t pool,
		 const ARRAY_TYPE(const_string) *users,
		 ARRAY_TYPE(as_gal_entry) *entries,
		 ARRAY_TYPE(const_string) *hidden)
{
	struct auth_master_connection *conn = as_user_auth_conn();
	struct auth_user_info info;
	const char *user, *username, *const *fields;
	pool_t lookup_pool;
	int ret;

	i_zero(&info);
	info.service = "activesync";
	/* not a data stack pool: the lookup runs an ioloop of its own,
	   with data stack frames of its own */
	lookup_pool = pool_alloconly_create("gal lookup", 1024);
	array_foreach_elem(users, user) T_BEGIN {
		struct as_gal_entry entry;

		p_clear(lookup_pool);
		ret = auth_master_user_lookup(conn, user, &info, lookup_pool,
					      &username, &fields);
		if (ret > 0) {
			if (gal_entry_from_fields(ctx, pool, user, fields,
						  &entry))
				array_push_back(entries, &entry);
			else
				array_push_back(hidden, &user);
		} else if (ret < 0) {
			e_warning(ctx->event, "GAL: userdb lookup of %s "
				  "failed, left out", user);
		}
	} T_END;
	pool_unref(&lookup_pool);
}

int as_gal_refresh(struct as_cmd_context *ctx, bool rebuild, bool full,
		   const char **error_r)
{
	ARRAY_TYPE(const_string) listed, stored, lookup, removed, hidden;
	ARRAY_TYPE(as_gal_entry) entries;
	struct as_gal_update_stats stats;
	const struct as_gal_entry *entries_arr;
	const char *const *l, *const *s, *const *removed_arr;
	unsigned int li, si, lcount, scount, users;
	struct timeval start, end;
	pool_t pool;
	int cmp;

	i_gettimeofday(&start);
	pool = pool_alloconly_create("gal refresh", 64 * 1024);
	if (gal_list_users(pool, &listed, error_r) < 0) {
		pool_unref(&pool);
		return -1;
	}
	if (rebuild)
		p_array_init(&stored, pool, 1);
	else if (as_store_gal_users(ctx->store, pool, &stored, error_r) < 0) {
		pool_unref(&pool);
		return -1;
	}

	/* both sorted: one walk tells the added and the removed */
	p_array_init(&lookup, pool, full ? array_count(&listed) + 1 : 16);
	p_array_init(&removed, pool, 16);
	l = array_get(&listed, &lcount);
	s = array_get(&stored, &scount);
	for (li = si = 0; li < lcount || si < scount; ) {
		cmp = li == lcount ? 1 : si == scount ? -1 :
			strcmp(l[li], s[si]);
		if (cmp < 0) {
			array_push_back(&lookup, &l[li++]);
		} else if (cmp > 0) {
			array_push_back(&removed, &s[si++]);
		} else {
			if (full)
				array_push_back(&lookup, &l[li]);
			li++; si++;
		}
	}

	p_array_init(&entries, pool, array_count(&lookup) + 1);
	p_array_init(&hidden, pool, 8);
	gal_lookup_users(ctx, pool, &lookup, &entries, &hidden);
	/* a stored user that is hidden now goes too */
	array_append_array(&removed, &hidden);
	users = full ? array_count(&entries) :
		scount - array_count(&removed) + array_count(&hidden) +
		array_count(&entries);
	/* (array_get(): either may be empty) */
	entries_arr = array_get(&entries, &li);
	removed_arr = array_get(&removed, &si);
	if (as_store_gal_update_users(ctx->store, entries_arr, li,
				      removed_arr, si, rebuild, full,
				      ioloop_time, users, &stats,
				      error_r) < 0) {
		pool_unref(&pool);
		return -1;
	}
	i_gettimeofday(&end);
	e_info(ctx->event, "GAL: %s refresh: %u userdb users listed, "
	       "%u looked up, %u added, %u changed, %u removed "
	       "(%u in the list, %d ms)",
	       rebuild ? "first" : full ? "full" : "incremental",
	       lcount, array_count(&lookup), stats.added, stats.changed,
	       stats.removed, users, timeval_diff_msecs(&end, &start));
	pool_unref(&pool);
	return users;
}

static bool gal_stale(time_t when, unsigned int interval)
{
	return when + (time_t)interval <= ioloop_time || when > ioloop_time;
}

int as_gal_prepare(struct as_cmd_context *ctx,
		   ARRAY_TYPE(const_string) *folders_r, const char **error_r)
{
	struct as_gal_info info;
	bool rebuild, full;
	int ret;

	ret = as_store_gal_info(ctx->store, &info, error_r);
	if (ret < 0)
		return -1;
	rebuild = ret == 0;
	if (rebuild || gal_stale(info.refreshed, ctx->set->gal_refresh_interval)) {
		full = rebuild || gal_stale(info.full_refreshed,
				ctx->set->gal_full_refresh_interval);
		if (as_gal_refresh(ctx, rebuild, full, error_r) < 0)
			return -1;
	}
	p_array_init(folders_r, ctx->pool, 4);
	return as_gal_folders_sync(ctx, folders_r, error_r);
}

int as_gal_search_in(struct as_cmd_context *ctx,
		     const ARRAY_TYPE(const_string) *folders,
		     const char *query, unsigned int start,
		     unsigned int count, ARRAY_TYPE(as_gal_entry) *results_r,
		     unsigned int *total_r, const char **error_r)
{
	/* counting stops somewhere: a one-letter query in a big directory
	   needs no exact total */
	return as_store_gal_search(ctx->store, ctx->pool, query, folders,
				   start, count, AS_GAL_MAX_TOTAL, results_r,
				   total_r, error_r);
}

int as_gal_search(struct as_cmd_context *ctx, const char *query,
		  unsigned int start, unsigned int count,
		  ARRAY_TYPE(as_gal_entry) *results_r,
		  unsigned int *total_r, const char **error_r)
{
	ARRAY_TYPE(const_string) folders;

	if (as_gal_prepare(ctx, &folders, error_r) < 0)
		return -1;
	return as_gal_search_in(ctx, &folders, query, start, count,
				results_r, total_r, error_r);
}

static void gal_elem(struct wbxml_writer *w, unsigned int tag,
		     const char *value)
{
	if (value != NULL)
		wbxml_elem_str(w, tag, value);
}

void as_gal_write_entry(struct wbxml_writer *w, const struct as_gal_entry *e)
{
	gal_elem(w, EAS_GAL_DISPLAYNAME, e->display_name);
	gal_elem(w, EAS_GAL_PHONE, e->phone);
	gal_elem(w, EAS_GAL_OFFICE, e->office);
	gal_elem(w, EAS_GAL_TITLE, e->title);
	gal_elem(w, EAS_GAL_COMPANY, e->company);
	gal_elem(w, EAS_GAL_ALIAS, e->alias);
	gal_elem(w, EAS_GAL_FIRSTNAME, e->first_name);
	gal_elem(w, EAS_GAL_LASTNAME, e->last_name);
	gal_elem(w, EAS_GAL_HOMEPHONE, e->home_phone);
	gal_elem(w, EAS_GAL_MOBILEPHONE, e->mobile_phone);
	gal_elem(w, EAS_GAL_EMAILADDRESS, e->email);
}
