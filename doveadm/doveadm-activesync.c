/* Copyright (c) the dovecot-activesync authors, see AUTHORS */

#include "lib.h"
#include "array.h"
#include "time-util.h"
#include "time-util.h"
#include "master-service.h"
#include "master-service-settings.h"
#include "as-settings.h"
#include "as-store.h"
#include "str.h"
#include "as-notify-proto.h"
#include "doveadm-activesync.h"

#include <sys/stat.h>

void doveadm_activesync_register(struct doveadm_cmd_ver2 *cmds,
				 unsigned int count)
{
	unsigned int i;

	for (i = 0; i < count; i++)
		doveadm_cmd_register_ver2(&cmds[i]);
}

void doveadm_activesync_settings_init(void)
{
	doveadm_setting_roots_add(&as_setting_parser_info);
}

const char *doveadm_activesync_state_dir(void)
{
	const struct as_settings *set =
		doveadm_setting_roots_get_settings(&as_setting_parser_info);
	const struct master_service_settings *master_set =
		master_service_settings_get(master_service);

	/* a host-wide setting: the service reads it the same way (see
	   as_settings_read()) */
	if (set != NULL && set->state_dir != NULL && *set->state_dir != '\0')
		return set->state_dir;
	return t_strconcat(master_set->state_dir, "/activesync", NULL);
}

void doveadm_activesync_fail(int exit_code, const char *fmt, ...)
{
	va_list args;

	va_start(args, fmt);
	i_error("activesync: %s", t_strdup_vprintf(fmt, args));
	va_end(args);
	doveadm_exit_code = exit_code;
}

int doveadm_activesync_store_open(struct as_store **store_r)
{
	struct as_store_settings set;
	struct stat st;
	const char *error;

	*store_r = NULL;
	i_zero(&set);
	set.dir = doveadm_activesync_state_dir();
	if (stat(set.dir, &st) < 0) {
		if (errno == ENOENT) {
			/* no device has connected yet */
			return 0;
		}
		doveadm_activesync_fail(EX_TEMPFAIL, "stat(%s) failed: %m",
					set.dir);
		return -1;
	}
	if (as_store_open(&set, store_r, &error) < 0) {
		doveadm_activesync_fail(EX_TEMPFAIL,
			"Can't open the state store %s: %s", set.dir, error);
		return -1;
	}
	return 0;
}

void doveadm_activesync_store_close(struct as_store **store)
{
	if (*store != NULL)
		as_store_close(store);
}

const char *doveadm_activesync_time_str(time_t t)
{
	return t == 0 ? "" : t_strfgmtime("%Y-%m-%dT%H:%M:%SZ", t);
}

/* plugin { activesync_notify_socket } as the mail plugin and the
   service read it (as_settings_read()) */
static const char *doveadm_activesync_notify_dir(void)
{
	const char *const *envs;
	unsigned int i, count;

	if (array_is_created(&doveadm_settings->plugin_envs)) {
		envs = array_get(&doveadm_settings->plugin_envs, &count);
		for (i = 0; i + 1 < count; i += 2) {
			if (strcmp(envs[i], "activesync_notify_socket") == 0 &&
			    *envs[i + 1] != '\0')
				return envs[i + 1];
		}
	}
	return t_strconcat(doveadm_settings->base_dir, "/",
			   AS_NOTIFY_DEFAULT_DIR_NAME, NULL);
}

void doveadm_activesync_wake_device(const char *user, const char *device_id)
{
	struct as_notify_sender *sender;
	struct as_notify_sender_result result;
	struct as_notify_msg msg;
	struct timeval now;
	string_t *str;

	/* "a newer Ping of the device started": the held one ends */
	i_gettimeofday(&now);
	i_zero(&msg);
	msg.kind = AS_NOTIFY_PING_STARTED;
	msg.username = user;
	msg.device_id = device_id;
	msg.value = (uint64_t)now.tv_sec * 1000000 + now.tv_usec;
	str = t_str_new(256);
	as_notify_msg_format(str, &msg);
	if (str_len(str) > AS_NOTIFY_MAX_DATAGRAM)
		return;
	sender = as_notify_sender_init(doveadm_activesync_notify_dir());
	as_notify_sender_no_lost_marker(sender);
	as_notify_send(sender, str_data(str), str_len(str), 0, &result);
	if (result.failed > 0) {
		i_warning("activesync: waking the device's Ping failed: %s",
			  result.error);
	}
	as_notify_sender_deinit(&sender);
}
