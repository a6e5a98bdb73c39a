/* Copyright (c) the dovecot-activesync authors, see AUTHORS */

#include "lib.h"
#include "array.h"
#include "safe-memset.h"
#include "as-store.h"
#include "policy/as-policy.h"
#include "policy/as-recovery-password.h"
#include "doveadm-activesync.h"

/* doveadm activesync policy show|set|inherit: the security policy levels
   (global, domain, user, device) and the effective policy with the level
   each field comes from. */

/* -g | -D domain | -u user [-d device]. Returns FALSE (usage error set)
   when the arguments name no level or more than one. */
static bool
policy_target(struct doveadm_cmd_context *cctx, bool default_global,
	      struct as_store_policy_target *target_r)
{
	const char *domain = NULL, *user = NULL, *device_id = NULL;
	bool global = FALSE;
	unsigned int levels = 0;

	i_zero(target_r);
	(void)doveadm_cmd_param_bool(cctx, "global", &global);
	(void)doveadm_cmd_param_str(cctx, "domain", &domain);
	(void)doveadm_cmd_param_str(cctx, "user", &user);
	(void)doveadm_cmd_param_str(cctx, "device-id", &device_id);

	if (global)
		levels++;
	if (domain != NULL)
		levels++;
	if (user != NULL)
		levels++;
	if (device_id != NULL && user == NULL)
		levels = 99;
	if (levels == 0 && default_global) {
		global = TRUE;
		levels = 1;
	}
	if (levels != 1 || (domain != NULL && *domain == '\0') ||
	    (user != NULL && *user == '\0') ||
	    (device_id != NULL && *device_id == '\0')) {
		doveadm_activesync_fail(EX_USAGE, "Usage: doveadm %s %s",
					cctx->cmd->name, cctx->cmd->usage);
		return FALSE;
	}
	if (device_id != NULL) {
		target_r->level = AS_STORE_POLICY_LEVEL_DEVICE;
		target_r->user = user;
		target_r->device_id = device_id;
	} else if (user != NULL) {
		target_r->level = AS_STORE_POLICY_LEVEL_USER;
		target_r->user = user;
	} else if (domain != NULL) {
		target_r->level = AS_STORE_POLICY_LEVEL_DOMAIN;
		target_r->domain = domain;
	} else {
		target_r->level = AS_STORE_POLICY_LEVEL_GLOBAL;
	}
	return TRUE;
}

/* A device level exists only for a device that has connected: a
   mistyped device id is an error, not a new level nobody uses. */
static bool
policy_device_known(struct as_store *store,
		    const struct as_store_policy_target *target)
{
	struct as_device dev;
	const char *error;
	pool_t pool;
	int ret;

	if (target->level != AS_STORE_POLICY_LEVEL_DEVICE)
		return TRUE;
	pool = pool_alloconly_create("activesync policy device", 1024);
	ret = store == NULL ? 0 :
		as_store_device_get(store, pool, target->user,
				    target->device_id, &dev, &error);
	pool_unref(&pool);
	if (ret < 0)
		doveadm_activesync_fail(EX_TEMPFAIL, "%s", error);
	else if (ret == 0 && doveadm_activesync_iterating) {
		/* -A or a wildcard: the users who have this device */
		i_debug("activesync: user %s has no device %s", target->user,
			target->device_id);
	} else if (ret == 0) {
		doveadm_activesync_fail(DOVEADM_EX_NOTFOUND,
			"User %s has no device %s", target->user,
			target->device_id);
	}
	return ret > 0;
}

static void policy_show_headers(void)
{
	doveadm_print_header_simple("field");
	doveadm_print_header_simple("value");
	doveadm_print_header_simple("level");
}

static const struct doveadm_activesync_output policy_show_output = {
	DOVEADM_PRINT_TYPE_TABLE, policy_show_headers
};

static void recovery_password_headers(void)
{
	doveadm_print_header_simple("recovery_password");
}

static const struct doveadm_activesync_output recovery_password_output = {
	DOVEADM_PRINT_TYPE_FLOW, recovery_password_headers
};

static void cmd_policy_show(struct doveadm_cmd_context *cctx)
{
	struct as_store_policy_target target;
	struct as_policy policy;
	struct as_store *store;
	const char *error;
	unsigned int i;
	pool_t pool;

	if (!policy_target(cctx, TRUE, &target))
		return;
	doveadm_activesync_print_start(&policy_show_output);
	if (doveadm_activesync_store_open(&store) < 0)
		return;
	if (!policy_device_known(store, &target)) {
		doveadm_activesync_store_close(&store);
		return;
	}

	pool = pool_alloconly_create("activesync policy show", 4096);
	if (store == NULL) {
		/* nothing stored yet: the built-in defaults */
		const char *const *levels[AS_POLICY_LEVEL_COUNT] = { NULL };

		as_policy_resolve(levels, pool, &policy);
	} else if (as_policy_lookup(store, pool, &target, &policy,
				    &error) < 0) {
		doveadm_activesync_fail(EX_TEMPFAIL, "%s", error);
		pool_unref(&pool);
		doveadm_activesync_store_close(&store);
		return;
	}
	for (i = 0; i < as_policy_settings_count; i++) {
		doveadm_print(as_policy_settings[i].name);
		doveadm_print(policy.values[i]);
		doveadm_print(as_policy_level_name(policy.sources[i]));
	}
	pool_unref(&pool);
	doveadm_activesync_store_close(&store);
}

static void
cmd_policy_update(struct doveadm_cmd_context *cctx, bool inherit)
{
	struct as_store_policy_target target;
	const char *const *fields = NULL, *error;
	struct as_store *store;

	if (!policy_target(cctx, FALSE, &target))
		return;
	(void)doveadm_cmd_param_array(cctx, "fields", &fields);
	if (!inherit && (fields == NULL || fields[0] == NULL)) {
		doveadm_activesync_fail(EX_USAGE, "Usage: doveadm %s %s",
					cctx->cmd->name, cctx->cmd->usage);
		return;
	}
	if (doveadm_activesync_store_open(&store) < 0)
		return;
	if (store == NULL) {
		doveadm_activesync_fail(EX_TEMPFAIL, "The state directory %s "
			"does not exist yet (the activesync service creates "
			"it when it starts)", doveadm_activesync_state_dir());
		return;
	}
	if (!policy_device_known(store, &target))
		;
	else if (as_policy_level_update(store, &target, fields, inherit,
					&error) < 0)
		doveadm_activesync_fail(EX_DATAERR, "%s", error);
	doveadm_activesync_store_close(&store);
}

static void cmd_policy_set(struct doveadm_cmd_context *cctx)
{
	cmd_policy_update(cctx, FALSE);
}

static void cmd_policy_inherit(struct doveadm_cmd_context *cctx)
{
	cmd_policy_update(cctx, TRUE);
}

/* The recovery password a device stored with Settings DevicePassword,
   for an admin helping a user who forgot the device's password. */
static void cmd_policy_recovery_password(struct doveadm_cmd_context *cctx)
{
	struct as_store_policy_target target;
	struct as_store *store;
	const char *password, *error;
	pool_t pool;
	int ret;

	if (!policy_target(cctx, FALSE, &target))
		return;
	if (target.level != AS_STORE_POLICY_LEVEL_DEVICE) {
		doveadm_activesync_fail(EX_USAGE, "Usage: doveadm %s %s",
					cctx->cmd->name, cctx->cmd->usage);
		return;
	}
	doveadm_activesync_print_start(&recovery_password_output);
	if (doveadm_activesync_store_open(&store) < 0)
		return;
	if (!policy_device_known(store, &target)) {
		doveadm_activesync_store_close(&store);
		return;
	}
	pool = pool_alloconly_create("activesync recovery password", 256);
	ret = as_recovery_password_get(store, doveadm_activesync_state_dir(),
				       pool, target.user, target.device_id,
				       &password, &error);
	if (ret < 0)
		doveadm_activesync_fail(EX_TEMPFAIL, "%s", error);
	else if (ret == 0 && doveadm_activesync_iterating)
		;
	else if (ret == 0) {
		doveadm_activesync_fail(DOVEADM_EX_NOTFOUND,
			"Device %s of %s has stored no recovery password",
			target.device_id, target.user);
	} else {
		doveadm_print(password);
	}
	/* the clear text goes no further than the output */
	if (ret > 0)
		safe_memset((void *)password, 0, strlen(password));
	pool_unref(&pool);
	doveadm_activesync_store_close(&store);
}

#define POLICY_LEVEL_PARAMS \
	DOVEADM_CMD_PARAM('g', "global", CMD_PARAM_BOOL, 0) \
	DOVEADM_CMD_PARAM('D', "domain", CMD_PARAM_STR, 0) \
	DOVEADM_ACTIVESYNC_USER_PARAMS \
	DOVEADM_CMD_PARAM('d', "device-id", CMD_PARAM_STR, 0)
#define POLICY_LEVEL_USAGE "-g | -D <domain> | -A | -u <user> " \
	"[-d <device id>] [-S <socket>]"

static struct doveadm_cmd_ver2 policy_cmds[] = {
{
	.name = "activesync policy show",
	.cmd = cmd_policy_show,
	.usage = "[" POLICY_LEVEL_USAGE "]",
DOVEADM_CMD_PARAMS_START
POLICY_LEVEL_PARAMS
DOVEADM_CMD_PARAMS_END
},
{
	.name = "activesync policy set",
	.cmd = cmd_policy_set,
	.usage = POLICY_LEVEL_USAGE " <field>=<value> [...]",
DOVEADM_CMD_PARAMS_START
POLICY_LEVEL_PARAMS
DOVEADM_CMD_PARAM('\0', "fields", CMD_PARAM_ARRAY, CMD_PARAM_FLAG_POSITIONAL)
DOVEADM_CMD_PARAMS_END
},
{
	.name = "activesync policy inherit",
	.cmd = cmd_policy_inherit,
	.usage = POLICY_LEVEL_USAGE " [<field> ...]",
DOVEADM_CMD_PARAMS_START
POLICY_LEVEL_PARAMS
DOVEADM_CMD_PARAM('\0', "fields", CMD_PARAM_ARRAY, CMD_PARAM_FLAG_POSITIONAL)
DOVEADM_CMD_PARAMS_END
},
{
	.name = "activesync policy recovery-password",
	.cmd = cmd_policy_recovery_password,
	.usage = "-A | -u <user> -d <device id> [-S <socket>]",
DOVEADM_CMD_PARAMS_START
POLICY_LEVEL_PARAMS
DOVEADM_CMD_PARAMS_END
},
};

void doveadm_activesync_cmds_policy_register(void)
{
	const struct doveadm_activesync_output *
		outputs[N_ELEMENTS(policy_cmds)];
	unsigned int i;

	/* the user and device levels are per user: -A, -S and a wildcard
	   -u work for them (see doveadm_activesync_register_user_cmds()) */
	for (i = 0; i < N_ELEMENTS(policy_cmds); i++) {
		outputs[i] = policy_cmds[i].cmd == cmd_policy_show ?
			&policy_show_output :
			policy_cmds[i].cmd == cmd_policy_recovery_password ?
			&recovery_password_output : NULL;
	}
	doveadm_activesync_register_user_cmds(policy_cmds, outputs,
					      N_ELEMENTS(policy_cmds));
}
