/* Copyright (c) the dovecot-activesync authors, see AUTHORS */

#include "lib.h"
#include "module-dir.h"
#include "doveadm-activesync.h"

/* doveadm loads <moduledir>/doveadm/lib20_doveadm_activesync_plugin.so:
   these names follow from the file name. */
const char *doveadm_activesync_plugin_version = DOVECOT_ABI_VERSION;

void doveadm_activesync_plugin_init(struct module *module);
void doveadm_activesync_plugin_deinit(void);

void doveadm_activesync_plugin_init(struct module *module ATTR_UNUSED)
{
	/* doveadm reads settings after loading plugins, so activesync_*
	   are known by the time a command runs */
	doveadm_activesync_settings_init();
	doveadm_activesync_cmds_device_register();
	doveadm_activesync_cmds_policy_register();
	doveadm_activesync_cmds_rule_register();
}

void doveadm_activesync_plugin_deinit(void)
{
	doveadm_activesync_deinit();
}
