/* Copyright (c) the dovecot-activesync authors, see AUTHORS */

/* The settings definitions. Built twice: into the service, and as the
   settings module doveconf loads from its modules/settings directory
   (libactivesync_settings.so), so only Dovecot's settings symbols may be
   used here, which doveconf has too. */

#include "lib.h"
#include "settings-parser.h"
#include "mail-storage-settings.h"
#include "smtp-submit-settings.h"
#include "as-settings.h"

#include <stddef.h>

#undef DEF
#define DEF(name, field) \
	SETTING_DEFINE_STRUCT_STR("activesync_"name, field, struct as_settings)

static const struct setting_define as_setting_defines[] = {
	DEF("state_dir", state_dir),
	DEF("state_max_size", text.state_max_size),
	DEF("auth_socket_path", auth_socket_path),
	DEF("realm", realm),
	DEF("ping_min_heartbeat", text.ping_min_heartbeat),
	DEF("ping_max_heartbeat", text.ping_max_heartbeat),
	DEF("ping_max_folders", text.ping_max_folders),
	DEF("max_request_size", text.max_request_size),
	DEF("max_send_size", text.max_send_size),
	DEF("sender_domain", sender_domain),
	DEF("user_addresses", user_addresses),
	DEF("user_display_name", user_display_name),
	DEF("max_window_size", text.max_window_size),
	DEF("max_mail_age", text.max_mail_age),
	DEF("max_calendar_age", text.max_calendar_age),
	DEF("auth_cache_ttl", text.auth_cache_ttl),
	DEF("search_timeout", text.search_timeout),
	DEF("provisioning", text.provisioning),
	DEF("special_folders", text.special_folders),
	DEF("calendar_folder", calendar_folder),
	DEF("contacts_folder", contacts_folder),
	DEF("tasks_folder", tasks_folder),
	DEF("notes_folder", notes_folder),
	DEF("groupware_as_email", groupware_as_email),
	DEF("autodiscover_url", autodiscover_url),
	DEF("autodiscover_imap_port", text.autodiscover_imap_port),
	DEF("autodiscover_smtp_port", text.autodiscover_smtp_port),
	DEF("gal", text.gal),
	DEF("gal_refresh_interval", text.gal_refresh_interval),
	DEF("gal_full_refresh_interval", text.gal_full_refresh_interval),
	DEF("gal_folders", gal_folders),
	DEF("debug", text.debug),
	DEF("enabled", text.enabled),
	DEF("max_devices", text.max_devices),
	DEF("device_access", device_access),
	DEF("wipe_notify_address", wipe_notify_address),
	DEF("trusted_ca_file", trusted_ca_file),

	SETTING_DEFINE_LIST_END
};
#undef DEF

const struct as_settings as_default_settings = {
	.text = {
		.state_max_size = "0",
		.ping_min_heartbeat = "1 min",
		.ping_max_heartbeat = "30 mins",
		.ping_max_folders = "300",
		.max_request_size = "32M",
		.max_send_size = "25M",
		.max_window_size = "512",
		.max_mail_age = "0",
		.max_calendar_age = "0",
		.auth_cache_ttl = "5 mins",
		.search_timeout = "45 s",
		.provisioning = "yes",
		.special_folders = "yes",
		.autodiscover_imap_port = "993",
		.autodiscover_smtp_port = "587",
		.gal = "yes",
		.gal_refresh_interval = "1 hour",
		.gal_full_refresh_interval = "1 day",
		.debug = "no",
		.enabled = "yes",
		.max_devices = "0",
	},
	.state_dir = "",
	.auth_socket_path = "",
	.realm = "ActiveSync",
	.sender_domain = "",
	.user_addresses = "",
	.user_display_name = "",
	.calendar_folder = "Calendar",
	.contacts_folder = "Contacts",
	.tasks_folder = "Tasks",
	.notes_folder = "Notes",
	.groupware_as_email = "",
	.autodiscover_url = "",
	.gal_folders = "",
	.device_access = "allow",
	.wipe_notify_address = "",
	.trusted_ca_file = "",
};

/* How the text of each non-string setting is parsed, and into which
   field */
const struct as_setting_value as_setting_values[] = {
#define VALUE(type, name, field) \
	{ type, "activesync_"#name, offsetof(struct as_settings, text.name), \
	  offsetof(struct as_settings, field) }
	VALUE(SET_SIZE, state_max_size, state_max_size),
	VALUE(SET_TIME, ping_min_heartbeat, ping_min_heartbeat),
	VALUE(SET_TIME, ping_max_heartbeat, ping_max_heartbeat),
	VALUE(SET_UINT, ping_max_folders, ping_max_folders),
	VALUE(SET_SIZE, max_request_size, max_request_size),
	VALUE(SET_SIZE, max_send_size, max_send_size),
	VALUE(SET_UINT, max_window_size, max_window_size),
	VALUE(SET_TIME, max_mail_age, max_mail_age),
	VALUE(SET_TIME, max_calendar_age, max_calendar_age),
	VALUE(SET_TIME, auth_cache_ttl, auth_cache_ttl),
	VALUE(SET_TIME_MSECS, search_timeout, search_timeout_msecs),
	VALUE(SET_BOOL, provisioning, provisioning),
	VALUE(SET_BOOL, special_folders, special_folders),
	VALUE(SET_UINT, autodiscover_imap_port, autodiscover_imap_port),
	VALUE(SET_UINT, autodiscover_smtp_port, autodiscover_smtp_port),
	VALUE(SET_BOOL, gal, gal),
	VALUE(SET_TIME, gal_refresh_interval, gal_refresh_interval),
	VALUE(SET_TIME, gal_full_refresh_interval, gal_full_refresh_interval),
	VALUE(SET_BOOL, debug, debug),
	VALUE(SET_BOOL, enabled, enabled),
	VALUE(SET_UINT, max_devices, max_devices),
	{ 0, NULL, 0, 0 }
#undef VALUE
};

static int
as_setting_value_parse(const struct as_setting_value *v, const char *text,
		       struct as_settings *set, const char **error_r)
{
	void *ptr = PTR_OFFSET(set, v->value_offset);
	unsigned int secs;

	switch (v->type) {
	case SET_UINT:
		if (str_to_uint(text, ptr) < 0) {
			*error_r = t_strconcat("Invalid number: ", text, NULL);
			return -1;
		}
		return 0;
	case SET_TIME:
		/* a bare number is seconds, as in the plugin { } form */
		if (str_to_uint(text, ptr) == 0)
			return 0;
		return settings_get_time(text, ptr, error_r);
	case SET_TIME_MSECS:
		if (str_to_uint(text, &secs) == 0) {
			if (secs > UINT_MAX / 1000) {
				*error_r = t_strconcat(
					"Time interval is too large: ",
					text, NULL);
				return -1;
			}
			*(unsigned int *)ptr = secs * 1000;
			return 0;
		}
		return settings_get_time_msecs(text, ptr, error_r);
	case SET_SIZE:
		return settings_get_size(text, ptr, error_r);
	case SET_BOOL:
		if (strcasecmp(text, "yes") == 0)
			*(bool *)ptr = TRUE;
		else if (strcasecmp(text, "no") == 0)
			*(bool *)ptr = FALSE;
		else {
			*error_r = t_strdup_printf(
				"Invalid boolean value: %s (use yes or no)",
				text);
			return -1;
		}
		return 0;
	default:
		i_unreached();
	}
}

/* Parses the texts and checks what involves more than one value; run by
   doveconf at start-up and by the service for every settings read
   (userdb fields included) */
static bool
as_settings_check(void *_set, pool_t pool ATTR_UNUSED, const char **error_r)
{
	struct as_settings *set = _set;
	const struct as_setting_value *v;
	const char *text, *error;

	for (v = as_setting_values; v->key != NULL; v++) {
		text = *(const char *const *)CONST_PTR_OFFSET(set,
							      v->text_offset);
		if (as_setting_value_parse(v, text, set, &error) < 0) {
			*error_r = t_strdup_printf("%s: %s", v->key, error);
			return FALSE;
		}
	}
	if (set->ping_min_heartbeat == 0) {
		*error_r = "activesync_ping_min_heartbeat must be > 0";
		return FALSE;
	}
	if (set->ping_min_heartbeat > set->ping_max_heartbeat) {
		*error_r = t_strdup_printf(
			"activesync_ping_min_heartbeat (%u s) must not be "
			"larger than activesync_ping_max_heartbeat (%u s)",
			set->ping_min_heartbeat, set->ping_max_heartbeat);
		return FALSE;
	}
	if (set->ping_max_folders == 0) {
		*error_r = "activesync_ping_max_folders must be > 0";
		return FALSE;
	}
	if (set->max_window_size == 0) {
		*error_r = "activesync_max_window_size must be > 0";
		return FALSE;
	}
	if (set->search_timeout_msecs == 0) {
		*error_r = "activesync_search_timeout must be > 0";
		return FALSE;
	}
	if (strcasecmp(set->device_access, "allow") != 0 &&
	    strcasecmp(set->device_access, "block") != 0 &&
	    strcasecmp(set->device_access, "quarantine") != 0) {
		*error_r = t_strdup_printf("activesync_device_access: "
			"must be allow, block or quarantine, not '%s'",
			set->device_access);
		return FALSE;
	}
	return TRUE;
}

/* Not used by the parser; doveconf -m activesync then shows what the
   service reads besides its own settings */
static const struct setting_parser_info *as_setting_dependencies[] = {
	&mail_user_setting_parser_info,
	&smtp_submit_setting_parser_info,
	NULL
};

const struct setting_parser_info as_setting_parser_info = {
	.module_name = "activesync",
	.defines = as_setting_defines,
	.defaults = &as_default_settings,

	.type_offset = (size_t)-1,
	.struct_size = sizeof(struct as_settings),

	.parent_offset = (size_t)-1,
	.parent = NULL,

	.check_func = as_settings_check,
	.dependencies = as_setting_dependencies,
};

/* What doveconf looks up in a settings module named
   libactivesync_settings.so */
extern const struct setting_parser_info *activesync_settings_set_roots[];
extern const char *activesync_settings_version;

const struct setting_parser_info *activesync_settings_set_roots[] = {
	&as_setting_parser_info,
	NULL
};
const char *activesync_settings_version = DOVECOT_ABI_VERSION;
