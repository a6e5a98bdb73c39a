/* Copyright (c) the dovecot-activesync authors, see AUTHORS */

#include "lib.h"
#include "settings-parser.h"
#include "mail-user.h"
#include "as-settings.h"

const struct as_settings as_default_settings = {
	.state_dir = NULL,
	.auth_socket_path = NULL,
	.realm = "ActiveSync",
	.ping_min_heartbeat = 60,
	.ping_max_heartbeat = 1800,
	.ping_max_folders = 300,
	.max_request_size = 32 * 1024 * 1024,
	.max_send_size = 25 * 1024 * 1024,
	.max_window_size = 512,
	.auth_cache_ttl = 300,
	.search_timeout_msecs = 45 * 1000,
	.provisioning = TRUE,
	.special_folders = TRUE,
	.debug = FALSE,
};

enum as_setting_type {
	AS_SET_STR,
	AS_SET_UINT,
	AS_SET_TIME,
	/* like AS_SET_TIME, stored in milliseconds ("200 ms" allowed) */
	AS_SET_TIME_MSECS,
	AS_SET_SIZE,
	AS_SET_BOOL,
};

struct as_setting_def {
	const char *key;
	enum as_setting_type type;
	size_t offset;
};

#define DEF(type, key, field) \
	{ "activesync_"key, type, offsetof(struct as_settings, field) }
static const struct as_setting_def as_setting_defs[] = {
	DEF(AS_SET_STR, "state_dir", state_dir),
	DEF(AS_SET_SIZE, "state_max_size", state_max_size),
	DEF(AS_SET_STR, "auth_socket_path", auth_socket_path),
	DEF(AS_SET_STR, "notify_socket", notify_socket),
	DEF(AS_SET_STR, "realm", realm),
	DEF(AS_SET_TIME, "ping_min_heartbeat", ping_min_heartbeat),
	DEF(AS_SET_TIME, "ping_max_heartbeat", ping_max_heartbeat),
	DEF(AS_SET_UINT, "ping_max_folders", ping_max_folders),
	DEF(AS_SET_SIZE, "max_request_size", max_request_size),
	DEF(AS_SET_SIZE, "max_send_size", max_send_size),
	DEF(AS_SET_STR, "sender_domain", sender_domain),
	DEF(AS_SET_UINT, "max_window_size", max_window_size),
	DEF(AS_SET_TIME, "auth_cache_ttl", auth_cache_ttl),
	DEF(AS_SET_TIME_MSECS, "search_timeout", search_timeout_msecs),
	DEF(AS_SET_BOOL, "provisioning", provisioning),
	DEF(AS_SET_BOOL, "special_folders", special_folders),
	DEF(AS_SET_BOOL, "debug", debug),
};
#undef DEF

static int
as_setting_parse(const struct as_setting_def *def, const char *value,
		 pool_t pool, struct as_settings *set, const char **error_r)
{
	void *ptr = PTR_OFFSET(set, def->offset);
	const char *error;
	unsigned int secs;

	switch (def->type) {
	case AS_SET_STR:
		*(const char **)ptr = p_strdup(pool, value);
		return 0;
	case AS_SET_UINT:
		if (str_to_uint(value, ptr) < 0) {
			*error_r = "not a number";
			return -1;
		}
		return 0;
	case AS_SET_TIME:
		/* a bare number is seconds (the conf.d examples use that);
		   Dovecot's parser insists on a unit */
		if (str_to_uint(value, ptr) == 0)
			return 0;
		if (settings_get_time(value, ptr, &error) < 0) {
			*error_r = error;
			return -1;
		}
		return 0;
	case AS_SET_TIME_MSECS:
		/* a bare number is seconds here too */
		if (str_to_uint(value, &secs) == 0) {
			if (secs > UINT_MAX / 1000) {
				*error_r = "too large";
				return -1;
			}
			*(unsigned int *)ptr = secs * 1000;
			return 0;
		}
		if (settings_get_time_msecs(value, ptr, &error) < 0) {
			*error_r = error;
			return -1;
		}
		return 0;
	case AS_SET_SIZE:
		if (settings_get_size(value, ptr, &error) < 0) {
			*error_r = error;
			return -1;
		}
		return 0;
	case AS_SET_BOOL:
		if (strcasecmp(value, "yes") == 0)
			*(bool *)ptr = TRUE;
		else if (strcasecmp(value, "no") == 0)
			*(bool *)ptr = FALSE;
		else {
			*error_r = "expected yes or no";
			return -1;
		}
		return 0;
	}
	i_unreached();
}

int as_settings_read(const struct mail_user_settings *user_set,
		     const char *base_dir, const char *state_dir,
		     pool_t pool, struct as_settings *set_r,
		     const char **error_r)
{
	unsigned int i;

	*set_r = as_default_settings;
	for (i = 0; i < N_ELEMENTS(as_setting_defs); i++) {
		const struct as_setting_def *def = &as_setting_defs[i];
		const char *value, *error;

		value = mail_user_set_plugin_getenv(user_set, def->key);
		if (value == NULL || value[0] == '\0')
			continue;
		if (as_setting_parse(def, value, pool, set_r, &error) < 0) {
			*error_r = t_strdup_printf("Invalid %s=%s: %s",
						   def->key, value, error);
			return -1;
		}
	}
	if (set_r->state_dir == NULL)
		set_r->state_dir = p_strconcat(pool, state_dir, "/activesync", NULL);
	if (set_r->auth_socket_path == NULL) {
		set_r->auth_socket_path =
			p_strconcat(pool, base_dir, "/auth-activesync", NULL);
	}
	if (set_r->notify_socket == NULL) {
		set_r->notify_socket =
			p_strconcat(pool, base_dir, "/activesync-notify", NULL);
	}
	if (set_r->ping_min_heartbeat == 0 ||
	    set_r->ping_min_heartbeat > set_r->ping_max_heartbeat) {
		*error_r = "activesync_ping_min_heartbeat must be > 0 and "
			"<= activesync_ping_max_heartbeat";
		return -1;
	}
	if (set_r->search_timeout_msecs == 0) {
		*error_r = "activesync_search_timeout must be > 0";
		return -1;
	}
	if (set_r->max_window_size == 0) {
		*error_r = "activesync_max_window_size must be > 0";
		return -1;
	}
	return 0;
}
