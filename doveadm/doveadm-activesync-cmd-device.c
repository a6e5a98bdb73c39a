/* Copyright (c) the dovecot-activesync authors, see AUTHORS */

#include "lib.h"
#include "array.h"
#include "strnum.h"
#include "settings-parser.h"
#include "as-store.h"
#include "as-store-itemprops.h"
#include "doveadm-activesync.h"

#include <stdio.h>
#include <time.h>

/* doveadm activesync device list|show|remove|resync|wipe|account-wipe|
   wipe-cancel|allow|block|quarantine|debug|set */

struct device_column {
	const char *key, *title;
	const char *(*get)(const struct as_device *dev);
};

static const char *dev_user(const struct as_device *d) { return d->user; }
static const char *dev_id(const struct as_device *d) { return d->device_id; }
static const char *dev_type(const struct as_device *d) { return d->device_type; }
static const char *dev_model(const struct as_device *d) { return d->model; }
static const char *dev_os(const struct as_device *d) { return d->os; }
static const char *dev_protocol(const struct as_device *d) { return d->protocol_version; }
static const char *dev_imei(const struct as_device *d) { return d->imei; }
static const char *dev_friendly(const struct as_device *d) { return d->friendly_name; }
static const char *dev_os_lang(const struct as_device *d) { return d->os_language; }
static const char *dev_phone(const struct as_device *d) { return d->phone_number; }
static const char *dev_operator(const struct as_device *d) { return d->mobile_operator; }
static const char *dev_user_agent(const struct as_device *d) { return d->user_agent; }

static const char *dev_first(const struct as_device *d)
{
	return doveadm_activesync_time_str(d->first_seen);
}

static const char *dev_last(const struct as_device *d)
{
	return doveadm_activesync_time_str(d->last_seen);
}

static const char *dev_state(const struct as_device *d)
{
	/* what the admin set wins over what the rules gave */
	if (as_device_wipe_done(d->wipe))
		return "block";
	if (d->access_override != AS_DEVICE_ACCESS_UNSET)
		return as_device_access_str(d->access_override);
	return d->access == AS_DEVICE_ACCESS_UNSET ? "allow" :
		as_device_access_str(d->access);
}

static const char *dev_override(const struct as_device *d)
{
	return as_device_access_str(d->access_override);
}

static const char *dev_wipe(const struct as_device *d)
{
	return as_device_wipe_str(d->wipe);
}

static const char *dev_policy(const struct as_device *d)
{
	return d->policy_key == 0 ? "" : dec2str(d->policy_key);
}

static const char *dev_debug(const struct as_device *d)
{
	return d->debug ? "on" : "off";
}

static const char *dev_wipe_requested(const struct as_device *d)
{
	return doveadm_activesync_time_str(d->wipe_requested);
}

static const char *dev_wipe_acked(const struct as_device *d)
{
	return doveadm_activesync_time_str(d->wipe_acked);
}

static const struct device_column list_columns[] = {
	{ "user", "user", dev_user },
	{ "device_id", "device id", dev_id },
	{ "type", "type", dev_type },
	{ "model", "model", dev_model },
	{ "os", "OS", dev_os },
	{ "protocol", "protocol", dev_protocol },
	{ "first_sync", "first sync", dev_first },
	{ "last_sync", "last sync", dev_last },
	{ "state", "state", dev_state },
	{ "wipe", "wipe state", dev_wipe },
	{ "policy", "policy", dev_policy },
};

/* device show: everything, one field per line */
static const struct device_column show_columns[] = {
	{ "user", "user", dev_user },
	{ "device_id", "device id", dev_id },
	{ "type", "type", dev_type },
	{ "model", "model", dev_model },
	{ "imei", "IMEI", dev_imei },
	{ "friendly_name", "friendly name", dev_friendly },
	{ "os", "OS", dev_os },
	{ "os_language", "OS language", dev_os_lang },
	{ "phone_number", "phone number", dev_phone },
	{ "mobile_operator", "mobile operator", dev_operator },
	{ "user_agent", "user agent", dev_user_agent },
	{ "protocol", "protocol", dev_protocol },
	{ "first_sync", "first sync", dev_first },
	{ "last_sync", "last sync", dev_last },
	{ "state", "state", dev_state },
	{ "access_override", "access set by admin", dev_override },
	{ "wipe", "wipe state", dev_wipe },
	{ "wipe_requested", "wipe requested", dev_wipe_requested },
	{ "wipe_acked", "wipe acknowledged", dev_wipe_acked },
	{ "policy", "policy", dev_policy },
	{ "debug", "debug", dev_debug },
};

static void
device_print(const struct device_column *columns, unsigned int count,
	     const struct as_device *dev)
{
	unsigned int i;

	for (i = 0; i < count; i++)
		doveadm_print(columns[i].get(dev));
}

static void
device_print_headers(const struct device_column *columns, unsigned int count)
{
	unsigned int i;

	for (i = 0; i < count; i++)
		doveadm_print_header(columns[i].key, columns[i].title, 0);
}

static void device_list_headers(void)
{
	device_print_headers(list_columns, N_ELEMENTS(list_columns));
}

static void device_show_headers(void)
{
	device_print_headers(show_columns, N_ELEMENTS(show_columns));
}

static const struct doveadm_activesync_output device_list_output = {
	DOVEADM_PRINT_TYPE_TABLE, device_list_headers
};
static const struct doveadm_activesync_output device_show_output = {
	DOVEADM_PRINT_TYPE_FLOW, device_show_headers
};

static void cmd_device_list(struct doveadm_cmd_context *cctx)
{
	struct as_store *store;
	ARRAY_TYPE(as_device) devices;
	struct as_device *dev;
	const char *user = NULL, *error;
	pool_t pool;

	(void)doveadm_cmd_param_str(cctx, "user", &user);
	doveadm_activesync_print_start(&device_list_output);
	if (doveadm_activesync_store_open(&store) < 0 || store == NULL)
		return;

	pool = pool_alloconly_create("activesync device list", 4096);
	p_array_init(&devices, pool, 16);
	if (as_store_device_list_full(store, pool, user, &devices,
				      &error) < 0) {
		doveadm_activesync_fail(EX_TEMPFAIL, "%s", error);
	} else {
		array_foreach_modifiable(&devices, dev) {
			if (as_store_device_admin_read(store, dev,
						       &error) < 0) {
				doveadm_activesync_fail(EX_TEMPFAIL, "%s",
							error);
				break;
			}
			device_print(list_columns, N_ELEMENTS(list_columns),
				     dev);
		}
	}
	pool_unref(&pool);
	doveadm_activesync_store_close(&store);
}

/* Look up the device of user; not found is reported and fails the
   command. Returns 1 if found, 0/-1 on failure. */
static int
device_lookup(struct as_store *store, pool_t pool, const char *user,
	      const char *device_id, struct as_device *dev_r)
{
	const char *error;
	int ret;

	ret = as_store_device_get(store, pool, user, device_id, dev_r, &error);
	if (ret > 0 && as_store_device_admin_read(store, dev_r, &error) < 0)
		ret = -1;
	if (ret < 0)
		doveadm_activesync_fail(EX_TEMPFAIL, "%s", error);
	else if (ret == 0 && doveadm_activesync_iterating) {
		/* -A or a wildcard: the users who have this device */
		i_debug("activesync: user %s has no device %s", user,
			device_id);
	} else if (ret == 0) {
		doveadm_activesync_fail(DOVEADM_EX_NOTFOUND,
			"User %s has no device %s", user, device_id);
	}
	return ret;
}

static bool
device_args(struct doveadm_cmd_context *cctx, const char **user_r,
	    const char **device_id_r)
{
	if (!doveadm_cmd_param_str(cctx, "user", user_r) ||
	    !doveadm_cmd_param_str(cctx, "device-id", device_id_r)) {
		doveadm_activesync_fail(EX_USAGE, "Usage: doveadm %s %s",
					cctx->cmd->name, cctx->cmd->usage);
		return FALSE;
	}
	return TRUE;
}

static void cmd_device_show(struct doveadm_cmd_context *cctx)
{
	struct as_store *store;
	struct as_device dev;
	const char *user, *device_id;
	pool_t pool;

	if (!device_args(cctx, &user, &device_id))
		return;
	doveadm_activesync_print_start(&device_show_output);
	if (doveadm_activesync_store_open(&store) < 0)
		return;
	if (store == NULL) {
		if (!doveadm_activesync_iterating)
			doveadm_activesync_fail(DOVEADM_EX_NOTFOUND,
				"User %s has no device %s", user, device_id);
		return;
	}
	pool = pool_alloconly_create("activesync device show", 1024);
	if (device_lookup(store, pool, user, device_id, &dev) > 0)
		device_print(show_columns, N_ELEMENTS(show_columns), &dev);
	pool_unref(&pool);
	doveadm_activesync_store_close(&store);
}

/* Open the store and look up the device named by the arguments. Returns
   the store (close it) or NULL after reporting the failure. */
static struct as_store *
device_open(struct doveadm_cmd_context *cctx, pool_t pool,
	    struct as_device *dev_r)
{
	struct as_store *store;
	const char *user, *device_id;

	if (!device_args(cctx, &user, &device_id))
		return NULL;
	if (doveadm_activesync_store_open(&store) < 0)
		return NULL;
	if (store == NULL) {
		if (!doveadm_activesync_iterating)
			doveadm_activesync_fail(DOVEADM_EX_NOTFOUND,
				"User %s has no device %s", user, device_id);
		return NULL;
	}
	if (device_lookup(store, pool, user, device_id, dev_r) <= 0) {
		as_store_close(&store);
		return NULL;
	}
	return store;
}

static void
device_admin_save(struct as_store *store, const struct as_device *dev,
		  const char *what)
{
	const char *error;

	if (as_store_device_admin_write(store, dev, &error) < 0)
		doveadm_activesync_fail(EX_TEMPFAIL, "%s", error);
	else
		i_info("activesync: user %s device %s: %s", dev->user,
		       dev->device_id, what);
}

static void cmd_device_remove(struct doveadm_cmd_context *cctx)
{
	struct as_store *store;
	struct as_device dev;
	const char *error;

	store = device_open(cctx, pool_datastack_create(), &dev);
	if (store == NULL)
		return;
	/* the device starts over: Provision, FolderSync 0, Sync 0 */
	if (as_store_device_remove(store, dev.user, dev.device_id,
				   &error) < 0)
		doveadm_activesync_fail(EX_TEMPFAIL, "%s", error);
	as_store_close(&store);
}

static void cmd_device_resync(struct doveadm_cmd_context *cctx)
{
	struct as_store *store;
	struct as_device dev;
	const char *folder = NULL, *error;
	int ret;

	store = device_open(cctx, pool_datastack_create(), &dev);
	if (store == NULL)
		return;
	/* a folder: only that collection starts over (the device gets
	   Status 3, invalid SyncKey); else the whole hierarchy */
	if (doveadm_cmd_param_str(cctx, "folder", &folder)) {
		ret = as_store_collection_reset(store, dev.user,
						dev.device_id, folder, &error);
	} else {
		ret = as_store_device_reset(store, dev.user, dev.device_id,
					    &error);
	}
	if (ret < 0)
		doveadm_activesync_fail(EX_TEMPFAIL, "%s", error);
	as_store_close(&store);
}

static bool device_supports_account_wipe(const struct as_device *dev)
{
	unsigned int major, minor;

	return sscanf(dev->protocol_version, "%u.%u", &major, &minor) == 2 &&
		(major > 16 || (major == 16 && minor >= 1));
}

static void
device_set_wipe(struct doveadm_cmd_context *cctx, enum as_device_wipe wipe)
{
	struct as_store *store;
	struct as_device dev;

	store = device_open(cctx, pool_datastack_create(), &dev);
	if (store == NULL)
		return;
	if (wipe == AS_DEVICE_WIPE_NONE) {
		if (!as_device_wipe_pending(dev.wipe)) {
			doveadm_activesync_fail(DOVEADM_EX_NOTPOSSIBLE,
				"User %s device %s: no wipe is pending "
				"(wipe state %s)", dev.user, dev.device_id,
				as_device_wipe_str(dev.wipe));
		} else {
			dev.wipe = AS_DEVICE_WIPE_NONE;
			dev.wipe_requested = 0;
			device_admin_save(store, &dev, "wipe cancelled");
		}
	} else if (wipe == AS_DEVICE_WIPE_ACCOUNT_PENDING &&
		   !device_supports_account_wipe(&dev)) {
		/* AccountOnlyRemoteWipe came with 16.1; older devices would
		   not understand it (use "device block" instead) */
		doveadm_activesync_fail(DOVEADM_EX_NOTPOSSIBLE,
			"User %s device %s speaks ActiveSync %s: "
			"account-only wipe needs 16.1", dev.user,
			dev.device_id, dev.protocol_version);
	} else if (as_device_wipe_done(dev.wipe)) {
		doveadm_activesync_fail(DOVEADM_EX_NOTPOSSIBLE,
			"User %s device %s was wiped already", dev.user,
			dev.device_id);
	} else {
		dev.wipe = wipe;
		dev.wipe_requested = time(NULL);
		dev.wipe_acked = 0;
		device_admin_save(store, &dev, t_strdup_printf(
			"%s requested", wipe == AS_DEVICE_WIPE_PENDING ?
			"remote wipe" : "account-only remote wipe"));
		doveadm_activesync_wake_device(dev.user, dev.device_id);
	}
	as_store_close(&store);
}

static void cmd_device_wipe(struct doveadm_cmd_context *cctx)
{
	device_set_wipe(cctx, AS_DEVICE_WIPE_PENDING);
}

static void cmd_device_account_wipe(struct doveadm_cmd_context *cctx)
{
	device_set_wipe(cctx, AS_DEVICE_WIPE_ACCOUNT_PENDING);
}

static void cmd_device_wipe_cancel(struct doveadm_cmd_context *cctx)
{
	device_set_wipe(cctx, AS_DEVICE_WIPE_NONE);
}

static void
device_set_access(struct doveadm_cmd_context *cctx,
		  enum as_device_access access)
{
	struct as_store *store;
	struct as_device dev;

	store = device_open(cctx, pool_datastack_create(), &dev);
	if (store == NULL)
		return;
	dev.access_override = access;
	device_admin_save(store, &dev, t_strconcat(
		"access set to ", as_device_access_str(access), NULL));
	if (access != AS_DEVICE_ACCESS_ALLOW)
		doveadm_activesync_wake_device(dev.user, dev.device_id);
	as_store_close(&store);
}

static void cmd_device_allow(struct doveadm_cmd_context *cctx)
{
	device_set_access(cctx, AS_DEVICE_ACCESS_ALLOW);
}

static void cmd_device_block(struct doveadm_cmd_context *cctx)
{
	device_set_access(cctx, AS_DEVICE_ACCESS_BLOCK);
}

static void cmd_device_quarantine(struct doveadm_cmd_context *cctx)
{
	device_set_access(cctx, AS_DEVICE_ACCESS_QUARANTINE);
}

static void cmd_device_debug(struct doveadm_cmd_context *cctx)
{
	struct as_store *store;
	struct as_device dev;
	const char *onoff;

	if (!doveadm_cmd_param_str(cctx, "switch", &onoff) ||
	    (strcmp(onoff, "on") != 0 && strcmp(onoff, "off") != 0)) {
		doveadm_activesync_fail(EX_USAGE, "Usage: doveadm %s %s",
					cctx->cmd->name, cctx->cmd->usage);
		return;
	}
	store = device_open(cctx, pool_datastack_create(), &dev);
	if (store == NULL)
		return;
	dev.debug = strcmp(onoff, "on") == 0;
	device_admin_save(store, &dev, t_strconcat("debug ", onoff, NULL));
	as_store_close(&store);
}

/* Device properties an admin may set: what the service reads per device
   (module/as-folders.c, module/sync/), and how a value is checked */
static bool device_prop_words_valid(const char *value, const char **error_r)
{
	static const char *const words[] = {
		"calendar", "contacts", "tasks", "notes", "journal",
		"all", "yes", "none", "no", NULL
	};
	const char *const *w;

	for (w = t_strsplit_spaces(value, " ,"); *w != NULL; w++) {
		if (!str_array_icase_find(words, *w)) {
			*error_r = t_strdup_printf("unknown class '%s' (use "
				"calendar, contacts, tasks, notes, journal, "
				"all or none)", *w);
			return FALSE;
		}
	}
	return TRUE;
}

static bool device_prop_time_valid(const char *value, const char **error_r)
{
	unsigned int secs;

	return str_to_uint(value, &secs) == 0 ||
		settings_get_time(value, &secs, error_r) == 0;
}

static const struct {
	const char *name;
	bool (*valid)(const char *value, const char **error_r);
} device_props[] = {
	/* GroupWare-as-Email classes for this device only */
	{ "groupware_as_email", device_prop_words_valid },
	/* mail older than this isn't synced to this device */
	{ "max_mail_age", device_prop_time_valid },
	/* calendar events that ended longer ago aren't synced to it */
	{ "max_calendar_age", device_prop_time_valid },
};

static void cmd_device_set(struct doveadm_cmd_context *cctx)
{
	struct as_store *store;
	struct as_device dev;
	const char *name, *value = NULL, *error = NULL;
	unsigned int i;

	if (!doveadm_cmd_param_str(cctx, "name", &name)) {
		doveadm_activesync_fail(EX_USAGE, "Usage: doveadm %s %s",
					cctx->cmd->name, cctx->cmd->usage);
		return;
	}
	(void)doveadm_cmd_param_str(cctx, "value", &value);
	for (i = 0; i < N_ELEMENTS(device_props); i++) {
		if (strcmp(device_props[i].name, name) == 0)
			break;
	}
	if (i == N_ELEMENTS(device_props)) {
		doveadm_activesync_fail(EX_USAGE, "Unknown device property "
			"'%s' (known: groupware_as_email, max_mail_age, "
			"max_calendar_age)",
			name);
		return;
	}
	if (value != NULL && *value == '\0')
		value = NULL;
	if (value != NULL && !device_props[i].valid(value, &error)) {
		doveadm_activesync_fail(EX_USAGE, "Invalid %s '%s': %s",
					name, value, error);
		return;
	}
	store = device_open(cctx, pool_datastack_create(), &dev);
	if (store == NULL)
		return;
	if (as_store_device_prop_put(store, dev.user, dev.device_id, name,
				     value, &error) < 0)
		doveadm_activesync_fail(EX_TEMPFAIL, "%s", error);
	else {
		i_info("activesync: user %s device %s: %s %s", dev.user,
		       dev.device_id, name, value == NULL ? "unset" :
		       t_strconcat("set to ", value, NULL));
	}
	as_store_close(&store);
}

#define DEVICE_PARAMS \
	DOVEADM_ACTIVESYNC_USER_PARAMS \
	DOVEADM_CMD_PARAM('\0', "device-id", CMD_PARAM_STR, \
			  CMD_PARAM_FLAG_POSITIONAL)
#define DEVICE_USAGE DOVEADM_ACTIVESYNC_USER_USAGE "<device id>"

static struct doveadm_cmd_ver2 device_cmds[] = {
{
	.name = "activesync device list",
	.cmd = cmd_device_list,
	.usage = DOVEADM_ACTIVESYNC_USER_USAGE,
DOVEADM_CMD_PARAMS_START
DOVEADM_ACTIVESYNC_USER_PARAMS
DOVEADM_CMD_PARAMS_END
},
{
	.name = "activesync device show",
	.cmd = cmd_device_show,
	.usage = DEVICE_USAGE,
DOVEADM_CMD_PARAMS_START
DEVICE_PARAMS
DOVEADM_CMD_PARAMS_END
},
#define DEVICE_CMD(verb, func) \
{ \
	.name = "activesync device "verb, \
	.cmd = func, \
	.usage = DEVICE_USAGE, \
DOVEADM_CMD_PARAMS_START \
DEVICE_PARAMS \
DOVEADM_CMD_PARAMS_END \
}
	DEVICE_CMD("remove", cmd_device_remove),
	DEVICE_CMD("wipe", cmd_device_wipe),
	DEVICE_CMD("account-wipe", cmd_device_account_wipe),
	DEVICE_CMD("wipe-cancel", cmd_device_wipe_cancel),
	DEVICE_CMD("allow", cmd_device_allow),
	DEVICE_CMD("block", cmd_device_block),
	DEVICE_CMD("quarantine", cmd_device_quarantine),
#undef DEVICE_CMD
{
	.name = "activesync device resync",
	.cmd = cmd_device_resync,
	.usage = DEVICE_USAGE " [<folder id>]",
DOVEADM_CMD_PARAMS_START
DEVICE_PARAMS
DOVEADM_CMD_PARAM('\0', "folder", CMD_PARAM_STR, CMD_PARAM_FLAG_POSITIONAL)
DOVEADM_CMD_PARAMS_END
},
{
	.name = "activesync device set",
	.cmd = cmd_device_set,
	.usage = DEVICE_USAGE " <property> [<value>]",
DOVEADM_CMD_PARAMS_START
DEVICE_PARAMS
DOVEADM_CMD_PARAM('\0', "name", CMD_PARAM_STR, CMD_PARAM_FLAG_POSITIONAL)
DOVEADM_CMD_PARAM('\0', "value", CMD_PARAM_STR, CMD_PARAM_FLAG_POSITIONAL)
DOVEADM_CMD_PARAMS_END
},
{
	.name = "activesync device debug",
	.cmd = cmd_device_debug,
	.usage = DEVICE_USAGE " on|off",
DOVEADM_CMD_PARAMS_START
DEVICE_PARAMS
DOVEADM_CMD_PARAM('\0', "switch", CMD_PARAM_STR, CMD_PARAM_FLAG_POSITIONAL)
DOVEADM_CMD_PARAMS_END
},
};

void doveadm_activesync_cmds_device_register(void)
{
	const struct doveadm_activesync_output *
		outputs[N_ELEMENTS(device_cmds)];
	unsigned int i;

	for (i = 0; i < N_ELEMENTS(device_cmds); i++) {
		outputs[i] = device_cmds[i].cmd == cmd_device_list ?
			&device_list_output :
			device_cmds[i].cmd == cmd_device_show ?
			&device_show_output : NULL;
	}
	doveadm_activesync_register_user_cmds(device_cmds, outputs,
					      N_ELEMENTS(device_cmds));
}
