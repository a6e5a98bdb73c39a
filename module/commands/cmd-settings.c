/* Copyright (c) the dovecot-activesync authors, see AUTHORS */

#include "lib.h"
#include "array.h"
#include "hostpid.h"
#include "str-sanitize.h"
#include "as-command.h"
#include "as-user.h"
#include "policy/as-policy.h"
#include "policy/as-recovery-password.h"
#include "commands/cmd-settings-oof.h"

/* Settings (MS-ASCMD 2.2.1.18): each child of the request is answered in
   the response, in the request's order, with its own Status. */


static void
settings_write_status(struct as_cmd_context *ctx, unsigned int tag,
		      unsigned int status)
{
	wbxml_start(ctx->writer, tag);
	wbxml_elem_uint(ctx->writer, EAS_SETTINGS_STATUS, status);
	wbxml_end(ctx->writer);
}

static unsigned int
settings_device_information(struct as_cmd_context *ctx,
			    const struct wbxml_node *node)
{
	const char *error;

	if (wbxml_node_child(node, EAS_SETTINGS_SET) == NULL) {
		e_info(ctx->event, "DeviceInformation without Set");
		return SETTINGS_STATUS_PROTOCOL_ERROR;
	}
	/* the same fields Provision's DeviceInformation carries */
	provision_device_info(ctx, node);
	if (as_store_device_put(ctx->store, ctx->device, &error) < 0) {
		e_error(ctx->event, "Failed to save device: %s", error);
		return SETTINGS_STATUS_SERVER_UNAVAILABLE;
	}
	return SETTINGS_STATUS_SUCCESS;
}

static unsigned int
settings_device_password(struct as_cmd_context *ctx,
			 const struct wbxml_node *node)
{
	const struct wbxml_node *set;
	const struct as_policy *policy;
	const char *password, *error;

	set = wbxml_node_child(node, EAS_SETTINGS_SET);
	if (set == NULL || wbxml_node_child(set, EAS_SETTINGS_PASSWORD) == NULL) {
		e_info(ctx->event, "DevicePassword without Set/Password");
		return SETTINGS_STATUS_PROTOCOL_ERROR;
	}
	password = wbxml_node_child_text(set, EAS_SETTINGS_PASSWORD);
	if (as_cmd_get_policy(ctx, &policy, &error) < 0) {
		e_error(ctx->event, "State store: %s", error);
		return SETTINGS_STATUS_SERVER_UNAVAILABLE;
	}
	if (!as_policy_get_bool(policy, as_policy_find(
			"PasswordRecoveryEnabled"))) {
		e_info(ctx->event, "Recovery password not stored: the "
		       "policy does not enable password recovery");
		return SETTINGS_STATUS_DENIED_BY_POLICY;
	}
	if (password != NULL && strlen(password) !=
	    wbxml_node_child(set, EAS_SETTINGS_PASSWORD)->data_size) {
		e_info(ctx->event, "Recovery password contains NUL");
		return SETTINGS_STATUS_INVALID_ARGUMENTS;
	}
	if (as_recovery_password_put(ctx->store, ctx->set->state_dir,
				     ctx->username, ctx->req->device_id,
				     password, &error) < 0) {
		e_error(ctx->event, "Can't store the recovery password: %s",
			error);
		return SETTINGS_STATUS_SERVER_UNAVAILABLE;
	}
	e_info(ctx->event, "Recovery password %s",
	       password == NULL || *password == '\0' ? "removed" : "stored");
	return SETTINGS_STATUS_SUCCESS;
}

/* The login if it is an address, else login@activesync_sender_domain
   (or @hostname), as SendMail uses it as the sender. */
static bool
settings_address_listed(const ARRAY_TYPE(const_string) *addrs,
			const char *addr)
{
	const char *listed;

	array_foreach_elem(addrs, listed) {
		if (strcasecmp(listed, addr) == 0)
			return TRUE;
	}
	return FALSE;
}

static void
settings_user_addresses(struct as_cmd_context *ctx, const char *primary,
			ARRAY_TYPE(const_string) *addrs)
{
	const char *const *list;

	array_push_back(addrs, &primary);
	list = t_strsplit_spaces(ctx->set->user_addresses, ", \t");
	for (; *list != NULL; list++) {
		const char *addr = *list;

		if (strchr(addr, '@') == NULL) {
			e_warning(ctx->event, "activesync_user_addresses: "
				  "not an address: %s",
				  str_sanitize(addr, 128));
			continue;
		}
		if (!settings_address_listed(addrs, addr))
			array_push_back(addrs, &addr);
	}
}

static void
settings_write_addresses(struct as_cmd_context *ctx,
			 const ARRAY_TYPE(const_string) *addrs)
{
	const char *addr;

	array_foreach_elem(addrs, addr)
		wbxml_elem_str(ctx->writer, EAS_SETTINGS_SMTPADDRESS, addr);
}

static void
settings_user_information(struct as_cmd_context *ctx,
			  const struct wbxml_node *node)
{
	ARRAY_TYPE(const_string) addrs;
	const char *primary, *display_name;

	if (wbxml_node_child(node, EAS_SETTINGS_GET) == NULL) {
		e_info(ctx->event, "UserInformation without Get");
		settings_write_status(ctx, EAS_SETTINGS_USERINFORMATION,
				      SETTINGS_STATUS_PROTOCOL_ERROR);
		return;
	}
	primary = as_user_primary_address(ctx->set, ctx->username);
	t_array_init(&addrs, 4);
	settings_user_addresses(ctx, primary, &addrs);

	wbxml_start(ctx->writer, EAS_SETTINGS_USERINFORMATION);
	wbxml_elem_uint(ctx->writer, EAS_SETTINGS_STATUS,
			SETTINGS_STATUS_SUCCESS);
	wbxml_start(ctx->writer, EAS_SETTINGS_GET);
	if (ctx->req->version < AS_VERSION_14_1) {
		wbxml_start(ctx->writer, EAS_SETTINGS_EMAILADDRESSES);
		settings_write_addresses(ctx, &addrs);
		wbxml_end(ctx->writer);
	} else {
		/* 14.1+: the addresses go per account; we have one, the
		   user's own, which needs no AccountId */
		display_name = *ctx->set->user_display_name != '\0' ?
			ctx->set->user_display_name : ctx->username;
		wbxml_start(ctx->writer, EAS_SETTINGS_ACCOUNTS);
		wbxml_start(ctx->writer, EAS_SETTINGS_ACCOUNT);
		wbxml_elem_str(ctx->writer, EAS_SETTINGS_USERDISPLAYNAME,
			       display_name);
		wbxml_start(ctx->writer, EAS_SETTINGS_EMAILADDRESSES);
		settings_write_addresses(ctx, &addrs);
		wbxml_elem_str(ctx->writer, EAS_SETTINGS_PRIMARYSMTPADDRESS,
			       primary);
		wbxml_end(ctx->writer); /* EmailAddresses */
		wbxml_end(ctx->writer); /* Account */
		wbxml_end(ctx->writer); /* Accounts */
	}
	wbxml_end(ctx->writer); /* Get */
	wbxml_end(ctx->writer); /* UserInformation */
}

static bool settings_known_child(unsigned int tag)
{
	switch (tag) {
	case EAS_SETTINGS_OOF:
	case EAS_SETTINGS_DEVICEPASSWORD:
	case EAS_SETTINGS_DEVICEINFORMATION:
	case EAS_SETTINGS_USERINFORMATION:
	case EAS_SETTINGS_RIGHTSMANAGEMENTINFORMATION:
		return TRUE;
	default:
		return FALSE;
	}
}

enum as_command_result cmd_settings(struct as_cmd_context *ctx)
{
	const struct wbxml_node *child;
	unsigned int count = 0;

	/* check the whole request before answering any of it */
	wbxml_node_foreach_child(ctx->root, child) {
		if (!settings_known_child(child->tag)) {
			e_info(ctx->event, "Status 2: unknown setting %s",
			       t_strdup(wbxml_tag_name(child->tag)));
			as_cmd_write_status(ctx, SETTINGS_STATUS_PROTOCOL_ERROR);
			return AS_CMD_DONE;
		}
		count++;
	}
	if (count == 0) {
		e_info(ctx->event, "Status 2: empty Settings request");
		as_cmd_write_status(ctx, SETTINGS_STATUS_PROTOCOL_ERROR);
		return AS_CMD_DONE;
	}

	wbxml_start(ctx->writer, EAS_SETTINGS_SETTINGS);
	wbxml_elem_uint(ctx->writer, EAS_SETTINGS_STATUS,
			SETTINGS_STATUS_SUCCESS);
	wbxml_node_foreach_child(ctx->root, child) {
		switch (child->tag) {
		case EAS_SETTINGS_OOF:
			settings_oof(ctx, child);
			break;
		case EAS_SETTINGS_RIGHTSMANAGEMENTINFORMATION:
			/* no Information Rights Management on this server */
			settings_write_status(ctx, child->tag,
					      AS_STATUS_IRM_FEATURE_DISABLED);
			break;
		case EAS_SETTINGS_DEVICEINFORMATION:
			settings_write_status(ctx, child->tag,
				settings_device_information(ctx, child));
			break;
		case EAS_SETTINGS_DEVICEPASSWORD:
			settings_write_status(ctx, child->tag,
				settings_device_password(ctx, child));
			break;
		case EAS_SETTINGS_USERINFORMATION:
			settings_user_information(ctx, child);
			break;
		default:
			i_unreached();
		}
	}
	wbxml_end(ctx->writer);
	return AS_CMD_DONE;
}
