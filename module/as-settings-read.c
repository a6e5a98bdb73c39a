/* Copyright (c) the dovecot-activesync authors, see AUTHORS */

#include "lib.h"
#include "str.h"
#include "settings-parser.h"
#include "mail-user.h"
#include "as-settings.h"

#define AS_NOTIFY_SOCKET_SETTING "activesync_notify_socket"

static bool as_settings_plugin_warned = FALSE;

static bool
as_userdb_has_field(const char *const *userdb_fields, const char *key)
{
	size_t len = strlen(key);

	if (userdb_fields == NULL)
		return FALSE;
	for (; *userdb_fields != NULL; userdb_fields++) {
		if (strncmp(*userdb_fields, key, len) == 0 &&
		    (*userdb_fields)[len] == '=')
			return TRUE;
	}
	return FALSE;
}

/* plugin { activesync_* }, the form before doveconf knew the settings:
   still read for settings left at their default and not given by
   userdb (which may set the default value on purpose) */
static void
as_settings_read_plugin(const struct mail_user_settings *user_set,
			const char *const *userdb_fields,
			pool_t pool, struct as_settings *set)
{
	const struct setting_define *def;
	const char *value, **field, *dvalue;
	string_t *keys = t_str_new(128);

	for (def = as_setting_parser_info.defines; def->key != NULL; def++) {
		i_assert(def->type == SET_STR);
		value = mail_user_set_plugin_getenv(user_set, def->key);
		if (value == NULL || value[0] == '\0')
			continue;
		field = PTR_OFFSET(set, def->offset);
		dvalue = *(const char *const *)
			CONST_PTR_OFFSET(&as_default_settings, def->offset);
		if (strcmp(*field, dvalue) != 0 ||
		    as_userdb_has_field(userdb_fields, def->key))
			continue;
		*field = p_strdup(pool, value);
		if (str_len(keys) > 0)
			str_append(keys, ", ");
		str_append(keys, def->key);
	}
	if (str_len(keys) > 0 && !as_settings_plugin_warned) {
		as_settings_plugin_warned = TRUE;
		i_warning("Settings in plugin { } are deprecated, set them at "
			  "top level instead: %s", str_c(keys));
	}
}

int as_settings_read(const struct as_settings *set_in,
		     const struct mail_user_settings *user_set,
		     const char *const *userdb_fields, const char *base_dir, const char *state_dir,
		     pool_t pool, struct as_settings *set_r,
		     const char **error_r)
{
	const char *value, *error;

	/* a copy of the settings' strings: set_in may live in the pool of
	   a user that is closed before the request ends */
	*set_r = *(const struct as_settings *)
		settings_dup(&as_setting_parser_info, set_in, pool);
	as_settings_read_plugin(user_set, userdb_fields, pool, set_r);
	/* parses the texts (settings_dup() copied only those) */
	if (!as_setting_parser_info.check_func(set_r, pool, &error)) {
		*error_r = error;
		return -1;
	}
	if (*set_r->state_dir == '\0')
		set_r->state_dir = p_strconcat(pool, state_dir, "/activesync", NULL);
	if (*set_r->auth_socket_path == '\0') {
		set_r->auth_socket_path =
			p_strconcat(pool, base_dir, "/auth-activesync", NULL);
	}
	if (*set_r->sender_domain == '\0')
		set_r->sender_domain = NULL;
	value = mail_user_set_plugin_getenv(user_set, AS_NOTIFY_SOCKET_SETTING);
	set_r->notify_socket = value != NULL && *value != '\0' ?
		p_strdup(pool, value) :
		p_strconcat(pool, base_dir, "/activesync-notify", NULL);
	return 0;
}
