/* Copyright (c) the dovecot-activesync authors, see AUTHORS */

#include "lib.h"
#include "time-util.h"
#include "master-service.h"
#include "master-service-settings.h"
#include "as-settings.h"
#include "as-store.h"
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
