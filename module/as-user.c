/* Copyright (c) the dovecot-activesync authors, see AUTHORS */

#include "lib.h"
#include "mail-user.h"
#include "mail-storage-service.h"
#include "master-service.h"
#include "master-service-settings.h"
#include "as-settings.h"
#include "as-user.h"

static struct mail_storage_service_ctx *as_storage_service;

void as_user_service_init(struct mail_storage_service_ctx *storage_service)
{
	as_storage_service = storage_service;
}

int as_user_open(const struct as_user_lookup *lookup, struct as_user *user_r,
		 const char **error_r)
{
	struct mail_storage_service_input input;
	int ret;

	i_zero(user_r);
	i_zero(&input);
	input.event_parent = lookup->event_parent;
	/* must equal main.c's module: one settings cache */
	input.module = AS_USER_SETTINGS_MODULE;
	input.service = "activesync";
	input.username = lookup->username;
	input.session_id = lookup->session_id;
	input.local_ip = lookup->local_ip;
	input.remote_ip = lookup->remote_ip;
	input.local_port = lookup->local_port;
	input.remote_port = lookup->remote_port;
	input.conn_secured = lookup->secured;

	ret = mail_storage_service_lookup_next(as_storage_service, &input,
					       &user_r->service_user,
					       &user_r->mail_user, error_r);
	if (ret <= 0)
		return ret;
	return 1;
}

void as_user_close(struct as_user *user)
{
	if (user->mail_user != NULL)
		mail_user_deinit(&user->mail_user);
	if (user->service_user != NULL)
		mail_storage_service_user_unref(&user->service_user);
}

int as_user_get_settings(struct as_user *user, pool_t pool,
			 const struct as_settings **set_r,
			 const char **error_r)
{
	const struct master_service_settings *master_set =
		master_service_settings_get(master_service);
	struct as_settings *set;
	void **sets;

	sets = mail_storage_service_user_get_set(user->service_user);
	set = p_new(pool, struct as_settings, 1);
	if (as_settings_read(sets[AS_USER_SET_INDEX_ACTIVESYNC],
			     user->mail_user->set,
			     user->mail_user->userdb_fields,
			     user->mail_user->set->base_dir,
			     master_set->state_dir, pool, set, error_r) < 0)
		return -1;
	*set_r = set;
	return 0;
}
