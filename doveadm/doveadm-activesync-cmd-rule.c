/* Copyright (c) the dovecot-activesync authors, see AUTHORS */

#include "lib.h"
#include "array.h"
#include "strnum.h"
#include "as-store.h"
#include "as-abq.h"
#include "doveadm-activesync.h"

/* doveadm activesync rule add|list|remove|enable|disable: the ABQ rules
   (as-abq.h). They apply to each device's next request. */

static void rule_usage(struct doveadm_cmd_context *cctx)
{
	doveadm_activesync_fail(EX_USAGE, "Usage: doveadm %s %s",
				cctx->cmd->name, cctx->cmd->usage);
}

static void cmd_rule_add(struct doveadm_cmd_context *cctx)
{
	struct as_store *store;
	struct as_abq_rule rule;
	const char *kind, *access, *error;
	uint32_t id;

	i_zero(&rule);
	rule.enabled = TRUE;
	rule.description = "";
	if (!doveadm_cmd_param_str(cctx, "kind", &kind) ||
	    !doveadm_cmd_param_str(cctx, "value", &rule.value) ||
	    !doveadm_cmd_param_str(cctx, "access", &access)) {
		rule_usage(cctx);
		return;
	}
	(void)doveadm_cmd_param_str(cctx, "description", &rule.description);
	if (as_abq_kind_parse(kind, &rule.kind) < 0) {
		doveadm_activesync_fail(EX_USAGE, "Unknown rule kind '%s' "
			"(user, domain, os, model or type)", kind);
		return;
	}
	if (as_device_access_parse(access, &rule.access) < 0) {
		doveadm_activesync_fail(EX_USAGE, "Unknown access '%s' "
			"(allow, block or quarantine)", access);
		return;
	}
	if (*rule.value == '\0') {
		doveadm_activesync_fail(EX_USAGE, "Empty rule value");
		return;
	}
	if (doveadm_activesync_store_open(&store) < 0)
		return;
	if (store == NULL) {
		/* the service creates it with its own owner; created here
		   (doveadm runs as root) the service could not open it */
		doveadm_activesync_fail(DOVEADM_EX_NOTPOSSIBLE,
			"The state store %s does not exist yet: start Dovecot "
			"with the activesync service first",
			doveadm_activesync_state_dir());
		return;
	}
	if (as_store_rule_add(store, &rule, &id, &error) < 0)
		doveadm_activesync_fail(EX_TEMPFAIL, "%s", error);
	else {
		doveadm_print_init(DOVEADM_PRINT_TYPE_TABLE);
		doveadm_print_header("id", "id",
				     DOVEADM_PRINT_HEADER_FLAG_NUMBER);
		doveadm_print_num(id);
	}
	as_store_close(&store);
}

static void cmd_rule_list(struct doveadm_cmd_context *cctx ATTR_UNUSED)
{
	struct as_store *store;
	ARRAY_TYPE(as_abq_rule) rules;
	const struct as_abq_rule *rule;
	const char *error;
	unsigned int kind;

	doveadm_print_init(DOVEADM_PRINT_TYPE_TABLE);
	doveadm_print_header("id", "id", DOVEADM_PRINT_HEADER_FLAG_NUMBER);
	doveadm_print_header_simple("kind");
	doveadm_print_header_simple("value");
	doveadm_print_header_simple("access");
	doveadm_print_header_simple("enabled");
	doveadm_print_header_simple("description");
	if (doveadm_activesync_store_open(&store) < 0 || store == NULL)
		return;
	t_array_init(&rules, 16);
	if (as_store_rule_list(store, pool_datastack_create(), &rules,
			       &error) < 0) {
		doveadm_activesync_fail(EX_TEMPFAIL, "%s", error);
		as_store_close(&store);
		return;
	}
	/* in evaluation order */
	for (kind = 0; kind < AS_ABQ_KIND_COUNT; kind++) {
		array_foreach(&rules, rule) {
			if (rule->kind != kind)
				continue;
			doveadm_print_num(rule->id);
			doveadm_print(as_abq_kind_str(rule->kind));
			doveadm_print(rule->value);
			doveadm_print(as_device_access_str(rule->access));
			doveadm_print(rule->enabled ? "yes" : "no");
			doveadm_print(rule->description);
		}
	}
	as_store_close(&store);
}

/* Look up the rule named by the "id" argument; returns the store or
   NULL after reporting the failure. */
static struct as_store *
rule_open(struct doveadm_cmd_context *cctx, struct as_abq_rule *rule_r)
{
	struct as_store *store;
	ARRAY_TYPE(as_abq_rule) rules;
	const struct as_abq_rule *rule;
	const char *id_str, *error;
	uint32_t id;

	if (!doveadm_cmd_param_str(cctx, "id", &id_str)) {
		rule_usage(cctx);
		return NULL;
	}
	if (str_to_uint32(id_str, &id) < 0 || id == 0) {
		doveadm_activesync_fail(EX_USAGE, "Invalid rule id '%s'",
					id_str);
		return NULL;
	}
	if (doveadm_activesync_store_open(&store) < 0)
		return NULL;
	if (store == NULL) {
		doveadm_activesync_fail(DOVEADM_EX_NOTFOUND,
					"No rule %u", id);
		return NULL;
	}
	t_array_init(&rules, 16);
	if (as_store_rule_list(store, pool_datastack_create(), &rules,
			       &error) < 0) {
		doveadm_activesync_fail(EX_TEMPFAIL, "%s", error);
		as_store_close(&store);
		return NULL;
	}
	array_foreach(&rules, rule) {
		if (rule->id == id) {
			*rule_r = *rule;
			return store;
		}
	}
	doveadm_activesync_fail(DOVEADM_EX_NOTFOUND, "No rule %u", id);
	as_store_close(&store);
	return NULL;
}

static void cmd_rule_remove(struct doveadm_cmd_context *cctx)
{
	struct as_store *store;
	struct as_abq_rule rule;
	const char *error;

	store = rule_open(cctx, &rule);
	if (store == NULL)
		return;
	if (as_store_rule_remove(store, rule.id, &error) < 0)
		doveadm_activesync_fail(EX_TEMPFAIL, "%s", error);
	as_store_close(&store);
}

static void rule_set_enabled(struct doveadm_cmd_context *cctx, bool enabled)
{
	struct as_store *store;
	struct as_abq_rule rule;
	const char *error;

	store = rule_open(cctx, &rule);
	if (store == NULL)
		return;
	rule.enabled = enabled;
	if (as_store_rule_update(store, &rule, &error) < 0)
		doveadm_activesync_fail(EX_TEMPFAIL, "%s", error);
	as_store_close(&store);
}

static void cmd_rule_enable(struct doveadm_cmd_context *cctx)
{
	rule_set_enabled(cctx, TRUE);
}

static void cmd_rule_disable(struct doveadm_cmd_context *cctx)
{
	rule_set_enabled(cctx, FALSE);
}

#define RULE_ID_CMD(verb, func) \
{ \
	.name = "activesync rule "verb, \
	.cmd = func, \
	.usage = "<rule id>", \
DOVEADM_CMD_PARAMS_START \
DOVEADM_CMD_PARAM('\0', "id", CMD_PARAM_STR, CMD_PARAM_FLAG_POSITIONAL) \
DOVEADM_CMD_PARAMS_END \
}

static struct doveadm_cmd_ver2 rule_cmds[] = {
{
	.name = "activesync rule add",
	.cmd = cmd_rule_add,
	.usage = "[-d <description>] user|domain|os|model|type <value> "
		"allow|block|quarantine",
DOVEADM_CMD_PARAMS_START
DOVEADM_CMD_PARAM('d', "description", CMD_PARAM_STR, 0)
DOVEADM_CMD_PARAM('\0', "kind", CMD_PARAM_STR, CMD_PARAM_FLAG_POSITIONAL)
DOVEADM_CMD_PARAM('\0', "value", CMD_PARAM_STR, CMD_PARAM_FLAG_POSITIONAL)
DOVEADM_CMD_PARAM('\0', "access", CMD_PARAM_STR, CMD_PARAM_FLAG_POSITIONAL)
DOVEADM_CMD_PARAMS_END
},
{
	.name = "activesync rule list",
	.cmd = cmd_rule_list,
	.usage = "",
DOVEADM_CMD_PARAMS_START
DOVEADM_CMD_PARAMS_END
},
	RULE_ID_CMD("remove", cmd_rule_remove),
	RULE_ID_CMD("enable", cmd_rule_enable),
	RULE_ID_CMD("disable", cmd_rule_disable),
};

void doveadm_activesync_cmds_rule_register(void)
{
	doveadm_activesync_register(rule_cmds, N_ELEMENTS(rule_cmds));
}
