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
#include "doveadm-mail.h"
#include "doveadm-activesync.h"

#include <sys/stat.h>

struct doveadm_activesync_user_cmd {
	const char *name;
	doveadm_command_ver2_t *run;
	const struct doveadm_activesync_output *output;
};

static ARRAY(struct doveadm_activesync_user_cmd) user_cmds;
static bool print_started;
bool doveadm_activesync_iterating;

void doveadm_activesync_register(struct doveadm_cmd_ver2 *cmds,
				 unsigned int count)
{
	unsigned int i;

	for (i = 0; i < count; i++)
		doveadm_cmd_register_ver2(&cmds[i]);
}

static const struct doveadm_activesync_user_cmd *
user_cmd_find(const char *name)
{
	const struct doveadm_activesync_user_cmd *ucmd;

	array_foreach(&user_cmds, ucmd) {
		if (strcmp(ucmd->name, name) == 0)
			return ucmd;
	}
	i_unreached();
}

void doveadm_activesync_print_start(
	const struct doveadm_activesync_output *output)
{
	/* no-op when -f or an earlier call chose the formatter */
	doveadm_print_init(output->type);
	if (print_started)
		return;
	print_started = TRUE;
	output->headers();
}

static void
user_mail_cmd_preinit(struct doveadm_mail_cmd_context *mctx)
{
	const struct doveadm_activesync_user_cmd *ucmd =
		user_cmd_find(mctx->cmd->name);

	/* before doveadm adds its username column for many users */
	if (ucmd->output != NULL)
		doveadm_print_init(ucmd->output->type);
}

static void
user_mail_cmd_init(struct doveadm_mail_cmd_context *mctx,
		   const char *const args[] ATTR_UNUSED)
{
	const struct doveadm_activesync_user_cmd *ucmd =
		user_cmd_find(mctx->cmd->name);

	/* also where a doveadm server does the work: the output of its
	   rows is formatted here */
	if (ucmd->output != NULL)
		doveadm_activesync_print_start(ucmd->output);
}

static bool
user_mail_cmd_parse_arg(struct doveadm_mail_cmd_context *mctx ATTR_UNUSED,
			int c ATTR_UNUSED)
{
	/* the command's own options: read from the parameters in run(),
	   passed on as they are to a doveadm server */
	return TRUE;
}

/* The command for one user: its own function, with "user" set */
static int
user_mail_cmd_run(struct doveadm_mail_cmd_context *mctx,
		  struct mail_user *user)
{
	const struct doveadm_activesync_user_cmd *ucmd =
		user_cmd_find(mctx->cmd->name);
	struct doveadm_cmd_context cctx = *mctx->cctx;
	ARRAY(struct doveadm_cmd_param) params;
	struct doveadm_cmd_param *param;
	int prev_exit_code = doveadm_exit_code;
	bool have_user = FALSE;
	int i;

	t_array_init(&params, cctx.argc + 1);
	for (i = 0; i < cctx.argc; i++) {
		param = array_append_space(&params);
		*param = cctx.argv[i];
		if (strcmp(param->name, "user") == 0) {
			param->value_set = TRUE;
			param->value.v_string = user->username;
			have_user = TRUE;
		}
	}
	i_assert(have_user);
	cctx.argv = array_front(&params);
	cctx.username = user->username;
	doveadm_activesync_iterating =
		!mctx->iterate_single_user || mctx->add_username_header;
	doveadm_exit_code = 0;
	ucmd->run(&cctx);
	if (doveadm_exit_code != 0) {
		mctx->exit_code = doveadm_exit_code;
		doveadm_exit_code = prev_exit_code;
		return -1;
	}
	doveadm_exit_code = prev_exit_code;
	return 0;
}

static struct doveadm_mail_cmd_context *user_mail_cmd_alloc(void)
{
	struct doveadm_mail_cmd_context *mctx;

	mctx = doveadm_mail_cmd_alloc(struct doveadm_mail_cmd_context);
	mctx->v.preinit = user_mail_cmd_preinit;
	mctx->v.init = user_mail_cmd_init;
	mctx->v.parse_arg = user_mail_cmd_parse_arg;
	mctx->v.run = user_mail_cmd_run;
	return mctx;
}

static void user_cmd_dispatch(struct doveadm_cmd_context *cctx)
{
	const struct doveadm_activesync_user_cmd *ucmd =
		user_cmd_find(cctx->cmd->name);
	const char *user = NULL, *socket_path = NULL;
	bool all_users = FALSE;

	print_started = FALSE;
	doveadm_activesync_iterating = FALSE;
	(void)doveadm_cmd_param_bool(cctx, "all-users", &all_users);
	(void)doveadm_cmd_param_str(cctx, "socket-path", &socket_path);
	(void)doveadm_cmd_param_str(cctx, "user", &user);
	if (cctx->conn_type == DOVEADM_CONNECTION_TYPE_CLI && !all_users &&
	    socket_path == NULL &&
	    (user == NULL || strpbrk(user, "*?") == NULL)) {
		/* the local state store, as named */
		ucmd->run(cctx);
		return;
	}
	if (all_users && user != NULL) {
		doveadm_activesync_fail(EX_USAGE, "-A and -u exclude "
					"each other");
		return;
	}
	doveadm_cmd_ver2_to_mail_cmd_wrapper(cctx);
}

void doveadm_activesync_register_user_cmds(
	struct doveadm_cmd_ver2 *cmds,
	const struct doveadm_activesync_output *const *outputs,
	unsigned int count)
{
	struct doveadm_activesync_user_cmd *ucmd;
	unsigned int i;

	if (!array_is_created(&user_cmds))
		i_array_init(&user_cmds, 16);
	for (i = 0; i < count; i++) {
		i_assert(cmds[i].cmd != NULL);
		ucmd = array_append_space(&user_cmds);
		ucmd->name = cmds[i].name;
		ucmd->run = cmds[i].cmd;
		ucmd->output = outputs[i];
		cmds[i].cmd = user_cmd_dispatch;
		cmds[i].mail_cmd = user_mail_cmd_alloc;
		doveadm_cmd_register_ver2(&cmds[i]);
	}
}

void doveadm_activesync_deinit(void)
{
	if (array_is_created(&user_cmds))
		array_free(&user_cmds);
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

	/* "a newer request of the device started": its held Ping or Sync
	   ends */
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
