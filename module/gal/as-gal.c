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

int as_gal_refresh(struct as_cmd_context *ctx, const char **error_r)
{
	struct auth_master_connection *conn = as_user_auth_conn();
	struct auth_master_user_list_ctx *iter;
	struct auth_user_info info;
	ARRAY_TYPE(as_gal_entry) entries;
	ARRAY_TYPE(const_string) users;
	struct as_gal_entry *e;
	const char *const *userp, *user, *const *fields, *username;
	struct timeval start;
	pool_t pool, lookup_pool;
	int ret = 0;

	i_gettimeofday(&start);
	i_zero(&info);
	info.service = "activesync";
	pool = pool_alloconly_create("gal refresh", 64 * 1024);
	p_array_init(&users, pool, 256);
	iter = auth_master_user_list_init(conn, "", &info);
	while ((user = auth_master_user_list_next(iter)) != NULL) {
		user = p_strdup(pool, user);
		array_push_back(&users, &user);
	}
	if (auth_master_user_list_deinit(&iter) < 0) {
		*error_r = "Listing the userdb's users failed (does the "
			"userdb support iteration?)";
		pool_unref(&pool);
		return -1;
	}

	p_array_init(&entries, pool, array_count(&users) + 1);
	/* not a data stack pool: the lookup runs an ioloop of its own,
	   with data stack frames of its own */
	lookup_pool = pool_alloconly_create("gal lookup", 1024);
	array_foreach(&users, userp) T_BEGIN {
		struct as_gal_entry entry;

		p_clear(lookup_pool);
		ret = auth_master_user_lookup(conn, *userp, &info,
					      lookup_pool, &username,
					      &fields);
		if (ret > 0 &&
		    gal_entry_from_fields(ctx, pool, *userp, fields, &entry)) {
			e = array_append_space(&entries);
			*e = entry;
		} else if (ret < 0) {
			e_warning(ctx->event, "GAL: userdb lookup of %s "
				  "failed, left out", *userp);
		}
	} T_END;
	pool_unref(&lookup_pool);

	ret = as_store_gal_replace(ctx->store, array_front(&entries),
				   array_count(&entries), ioloop_time,
				   error_r);
	if (ret == 0) {
		struct timeval end;

		i_gettimeofday(&end);
		ret = array_count(&entries);
		e_info(ctx->event, "GAL: %u of %u userdb users listed "
		       "(refreshed in %d ms)", array_count(&entries),
		       array_count(&users),
		       timeval_diff_msecs(&end, &start));
	}
	pool_unref(&pool);
	return ret;
}

int as_gal_search(struct as_cmd_context *ctx, const char *query,
		  unsigned int start, unsigned int count,
		  ARRAY_TYPE(as_gal_entry) *results_r,
		  unsigned int *total_r, const char **error_r)
{
	time_t refreshed;
	unsigned int entries;
	int ret;

	ret = as_store_gal_info(ctx->store, &refreshed, &entries, error_r);
	if (ret < 0)
		return -1;
	if (ret == 0 ||
	    refreshed + (time_t)ctx->set->gal_refresh_interval <= ioloop_time ||
	    refreshed > ioloop_time) {
		if (as_gal_refresh(ctx, error_r) < 0)
			return -1;
	}
	/* counting stops somewhere: a one-letter query in a big directory
	   needs no exact total */
	return as_store_gal_search(ctx->store, ctx->pool, query, start, count,
				   AS_GAL_MAX_TOTAL, results_r, total_r,
				   error_r);
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
