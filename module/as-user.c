/* Copyright (c) the dovecot-activesync authors, see AUTHORS */

#include "lib.h"
#include "hostpid.h"
#include "array.h"
#include "master-service.h"
#include "str.h"
#include "var-expand.h"
#include "settings-parser.h"
#include "mail-user.h"
#include "mail-storage-settings.h"
#include "mail-storage-service.h"
#include "master-service.h"
#include "master-service-settings.h"
#include "as-settings.h"
#include "as-user.h"
#include "as-user-cache.h"

/* The storage's refusal when it finds mbox in a process serving many
   clients (mbox-storage.c); seen for autodetected locations only, the
   others are recognised from the settings before. */
#define AS_MBOX_CLIENT_LIMIT_ERROR "mbox requires client_limit=1"

static struct mail_storage_service_ctx *as_storage_service;

void as_user_service_init(struct mail_storage_service_ctx *storage_service)
{
	as_storage_service = storage_service;
}

struct auth_master_connection *as_user_auth_conn(void)
{
	return mail_storage_service_get_auth_conn(as_storage_service);
}

const char *as_user_primary_address(const struct as_settings *set,
				    const char *username)
{
	if (strchr(username, '@') != NULL)
		return username;
	return t_strconcat(username, "@", set->sender_domain != NULL ?
			   set->sender_domain : my_hostname, NULL);
}

/* A string setting's value: those not yet var-expanded carry a marker
   in front */
static const char *as_setting_str(const char *value)
{
	if (value[0] == SETTING_STRVAR_UNEXPANDED[0] ||
	    value[0] == SETTING_STRVAR_EXPANDED[0])
		return value + 1;
	return value;
}

static bool as_mail_location_is_mbox(const char *location)
{
	/* "driver:data", like mail_storage_set_autodetection() */
	return location != NULL &&
		str_begins(as_setting_str(location), "mbox:");
}

bool as_user_settings_use_mbox(const struct mail_user_settings *user_set,
			       const struct mail_storage_settings *mail_set)
{
	struct mail_namespace_settings *const *ns_set;

	if (as_mail_location_is_mbox(mail_set->mail_location))
		return TRUE;
	if (!array_is_created(&user_set->namespaces))
		return FALSE;
	array_foreach(&user_set->namespaces, ns_set) {
		if (!(*ns_set)->disabled &&
		    as_mail_location_is_mbox((*ns_set)->location))
			return TRUE;
	}
	return FALSE;
}

static const char *as_user_mbox_error(const char *location)
{
	return t_strdup_printf(
		"The user's mail storage is mbox (mail_location=%s), which "
		"Dovecot serves only in a process with one client, but this "
		"activesync process serves client_limit=%u: use mbox in the "
		"default mail_location (the service then runs one device per "
		"process by itself) or set client_limit = 1 in "
		"service activesync { }", location,
		master_service_get_client_limit(master_service));
}

int as_user_lookup_service(const struct as_user_lookup *lookup,
			   pool_t fields_pool,
			   const char *const **userdb_fields_r,
			   struct mail_storage_service_user **service_user_r,
			   const char **error_r)
{
	struct mail_storage_service_input input;
	const struct mail_storage_settings *mail_set;
	void **sets;
	int ret;

	*service_user_r = NULL;
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

	if (userdb_fields_r != NULL) {
		*userdb_fields_r = NULL;
		mail_storage_service_save_userdb_fields(as_storage_service,
			fields_pool, userdb_fields_r);
	}
	ret = mail_storage_service_lookup(as_storage_service, &input,
					  service_user_r, error_r);
	/* -2 there is an invalid userdb setting: an error of this user's,
	   not the temporary condition our -2 means */
	if (ret == -2)
		return -1;
	if (ret <= 0)
		return ret;

	/* userdb may give this user mbox while the process serves many
	   clients: the storage would refuse it, a temporary failure for
	   the device (another process or a config change serves it) */
	if (master_service_get_client_limit(master_service) > 1) {
		sets = mail_storage_service_user_get_set(*service_user_r);
		mail_set = mail_storage_service_user_get_mail_set(
			*service_user_r);
		if (as_user_settings_use_mbox(sets[0], mail_set)) {
			*error_r = as_user_mbox_error(
				as_setting_str(mail_set->mail_location));
			mail_storage_service_user_unref(service_user_r);
			return -2;
		}
	}
	return 1;
}

const char *
as_user_service_log_prefix(struct mail_storage_service_user *service_user)
{
	const struct mail_user_settings *user_set =
		mail_storage_service_user_get_set(service_user)[0];
	const struct mail_storage_service_input *input =
		mail_storage_service_user_get_input(service_user);
	const struct var_expand_table *table;
	string_t *str = t_str_new(128);
	const char *error;

	table = mail_storage_service_get_var_expand_table(as_storage_service,
		(struct mail_storage_service_input *)input);
	if (var_expand(str, as_setting_str(user_set->mail_log_prefix),
		       table, &error) <= 0)
		return NULL;
	return str_c(str);
}

int as_user_open_service(struct mail_storage_service_user *service_user,
			 struct as_user *user_r, const char **error_r)
{
	int ret;

	i_zero(user_r);
	user_r->service_user = service_user;
	ret = mail_storage_service_next(as_storage_service,
					user_r->service_user,
					&user_r->mail_user, error_r);
	if (ret < 0) {
		mail_storage_service_user_unref(&user_r->service_user);
		if (strstr(*error_r, AS_MBOX_CLIENT_LIMIT_ERROR) != NULL) {
			/* autodetected mbox */
			*error_r = as_user_mbox_error("(autodetected)");
			return -2;
		}
		return -1;
	}
	/* One process serves many users, so the service does no log init
	   per user (NO_LOG_INIT); the user's own lines (lib-storage errors)
	   still get mail_log_prefix, with %{session} and %{lip},
	   as in imap. */
	event_replace_log_prefix(user_r->mail_user->event,
		mail_storage_service_user_get_log_prefix(user_r->service_user));
	return 1;
}

int as_user_open(const struct as_user_lookup *lookup, struct as_user *user_r,
		 const char **error_r)
{
	struct mail_storage_service_user *service_user;
	int ret;

	i_zero(user_r);
	ret = as_user_lookup_service(lookup, NULL, NULL, &service_user,
				     error_r);
	if (ret <= 0)
		return ret;
	return as_user_open_service(service_user, user_r, error_r);
}

void as_user_close(struct as_user *user)
{
	if (user->warm != NULL)
		as_user_warm_free(&user->warm);
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
