/* Copyright (c) the dovecot-activesync authors, see AUTHORS */

#include "lib.h"
#include "ioloop.h"
#include "randgen.h"
#include "strnum.h"
#include "str-sanitize.h"
#include <stddef.h>
#include "as-command.h"
#include "policy/as-policy.h"
#include "as-device-notice.h"

/* Provision (MS-ASPROV 3.1.5.1): the device first asks for the policy and
   gets it with a temporary policy key, then acknowledges that key and
   gets the final one, which it sends in X-MS-PolicyKey from then on. */

#define AS_POLICY_TYPE_WBXML "MS-EAS-Provisioning-WBXML"
/* Only EAS 2.5 used the XML policy format; we don't serve 2.5. */
#define AS_POLICY_TYPE_XML "MS-WAP-Provisioning-XML"

/* Provision/Status */
enum provision_status {
	PROVISION_STATUS_SUCCESS = 1,
	PROVISION_STATUS_PROTOCOL_ERROR = 2,
	PROVISION_STATUS_SERVER_ERROR = 3,
};

/* Policies/Policy/Status in responses */
enum provision_policy_status {
	PROVISION_POLICY_STATUS_SUCCESS = 1,
	PROVISION_POLICY_STATUS_NO_POLICY = 2,
	PROVISION_POLICY_STATUS_UNKNOWN_TYPE = 3,
	PROVISION_POLICY_STATUS_CORRUPTED = 4,
	PROVISION_POLICY_STATUS_WRONG_KEY = 5,
};

/* Policies/Policy/Status the device sends in its acknowledgement */
enum provision_ack_status {
	PROVISION_ACK_APPLIED = 1,
	PROVISION_ACK_PARTIAL = 2,
	PROVISION_ACK_NOT_APPLIED = 3,
	PROVISION_ACK_THIRD_PARTY = 4,
};

struct provision_request {
	const struct wbxml_node *device_info;
	const struct wbxml_node *remote_wipe;
	const struct wbxml_node *account_only_remote_wipe;
	const char *policy_type;
	/* acknowledgement phase */
	bool have_ack;
	uint32_t ack_key;
	unsigned int ack_status;
};

static uint32_t provision_new_key(uint32_t avoid)
{
	uint32_t key;

	/* 0 means "no key" everywhere, so never hand it out */
	do {
		random_fill(&key, sizeof(key));
	} while (key == 0 || key == avoid);
	return key;
}

static int
provision_parse(struct as_cmd_context *ctx, struct provision_request *req_r,
		const char **error_r)
{
	const struct wbxml_node *root = ctx->root, *policies, *policy;
	const char *key, *status;

	i_zero(req_r);
	if (root == NULL || root->tag != EAS_PROVISION_PROVISION) {
		*error_r = "Request is not a Provision document";
		return -1;
	}
	req_r->device_info =
		wbxml_node_child(root, EAS_SETTINGS_DEVICEINFORMATION);
	req_r->remote_wipe = wbxml_node_child(root, EAS_PROVISION_REMOTEWIPE);
	req_r->account_only_remote_wipe =
		wbxml_node_child(root, EAS_PROVISION_ACCOUNTONLYREMOTEWIPE);

	policies = wbxml_node_child(root, EAS_PROVISION_POLICIES);
	if (policies == NULL) {
		if (req_r->remote_wipe == NULL &&
		    req_r->account_only_remote_wipe == NULL &&
		    req_r->device_info == NULL) {
			*error_r = "Provision without Policies or RemoteWipe";
			return -1;
		}
		return 0;
	}
	policy = wbxml_node_child(policies, EAS_PROVISION_POLICY);
	if (policy == NULL) {
		*error_r = "Policies without Policy";
		return -1;
	}
	req_r->policy_type =
		wbxml_node_child_text(policy, EAS_PROVISION_POLICYTYPE);
	if (req_r->policy_type == NULL) {
		*error_r = "Policy without PolicyType";
		return -1;
	}

	key = wbxml_node_child_text(policy, EAS_PROVISION_POLICYKEY);
	status = wbxml_node_child_text(policy, EAS_PROVISION_STATUS);
	if (key == NULL && status == NULL)
		return 0;
	if (key == NULL || status == NULL) {
		*error_r = "Policy acknowledgement needs PolicyKey and Status";
		return -1;
	}
	if (str_to_uint32(key, &req_r->ack_key) < 0) {
		*error_r = t_strdup_printf("Invalid PolicyKey '%s'",
					   str_sanitize(key, 32));
		return -1;
	}
	if (str_to_uint(status, &req_r->ack_status) < 0 ||
	    req_r->ack_status < PROVISION_ACK_APPLIED ||
	    req_r->ack_status > PROVISION_ACK_THIRD_PARTY) {
		*error_r = t_strdup_printf("Invalid Policy Status '%s'",
					   str_sanitize(status, 32));
		return -1;
	}
	req_r->have_ack = TRUE;
	return 0;
}

/* Device-supplied text for the log */
static const char *provision_log_str(const char *value)
{
	return value == NULL ? "-" : str_sanitize(value, 128);
}

/* settings:DeviceInformation/Set fields kept in the device record, for
   admins (doveadm activesync device list/show) and the ABQ rules */
static const struct {
	unsigned int tag;
	size_t offset;
} provision_device_info_fields[] = {
#define FIELD(tag, field) { tag, offsetof(struct as_device, field) }
	FIELD(EAS_SETTINGS_MODEL, model),
	FIELD(EAS_SETTINGS_IMEI, imei),
	FIELD(EAS_SETTINGS_FRIENDLYNAME, friendly_name),
	FIELD(EAS_SETTINGS_OS, os),
	FIELD(EAS_SETTINGS_OSLANGUAGE, os_language),
	FIELD(EAS_SETTINGS_PHONENUMBER, phone_number),
	FIELD(EAS_SETTINGS_MOBILEOPERATOR, mobile_operator),
	FIELD(EAS_SETTINGS_USERAGENT, user_agent),
#undef FIELD
};

void provision_device_info(struct as_cmd_context *ctx,
			   const struct wbxml_node *device_info)
{
	const struct wbxml_node *set;
	const char *value, **field;
	unsigned int i;

	set = wbxml_node_child(device_info, EAS_SETTINGS_SET);
	if (set == NULL)
		return;
	for (i = 0; i < N_ELEMENTS(provision_device_info_fields); i++) {
		value = wbxml_node_child_text(set,
			provision_device_info_fields[i].tag);
		if (value == NULL)
			continue;
		field = PTR_OFFSET(ctx->device,
				   provision_device_info_fields[i].offset);
		*field = p_strdup(ctx->pool, value);
	}
	e_debug(ctx->event, "DeviceInformation: model=%s os=%s "
		"user-agent=%s friendly-name=%s os-language=%s "
		"mobile-operator=%s",
		provision_log_str(ctx->device->model),
		provision_log_str(ctx->device->os),
		provision_log_str(ctx->device->user_agent),
		provision_log_str(ctx->device->friendly_name),
		provision_log_str(ctx->device->os_language),
		provision_log_str(ctx->device->mobile_operator));
}

/* RemoteWipe / AccountOnlyRemoteWipe acknowledgement (MS-ASPROV
   3.2.5.1.2.2): the device reports whether it wiped itself. Success is
   recorded (the device is blocked from then on); failure gets the
   directive again. Returns the Provision status to answer. */
static unsigned int
provision_wipe_ack(struct as_cmd_context *ctx, const struct wbxml_node *wipe,
		   bool account_only)
{
	struct as_device *dev = ctx->device;
	const char *what = account_only ? "AccountOnlyRemoteWipe" :
		"RemoteWipe", *status, *error;
	enum as_device_wipe expected = account_only ?
		AS_DEVICE_WIPE_ACCOUNT_PENDING : AS_DEVICE_WIPE_PENDING;

	status = wbxml_node_child_text(wipe, EAS_PROVISION_STATUS);
	if (dev->wipe != expected) {
		e_info(ctx->event, "%s acknowledgement with status %s "
		       "ignored: no such wipe is pending", what,
		       provision_log_str(status));
		return PROVISION_STATUS_SUCCESS;
	}
	if (status == NULL || strcmp(status, "1") != 0) {
		e_warning(ctx->event, "Device reports that the %s failed "
			  "(status %s): sending it again", what,
			  provision_log_str(status));
		return PROVISION_STATUS_PROTOCOL_ERROR;
	}
	dev->wipe = account_only ? AS_DEVICE_WIPE_ACCOUNT_DONE :
		AS_DEVICE_WIPE_DONE;
	dev->wipe_acked = ioloop_time;
	if (as_store_device_admin_write(ctx->store, dev, &error) < 0) {
		e_error(ctx->event, "Failed to record the wipe: %s", error);
		return PROVISION_STATUS_SERVER_ERROR;
	}
	e_info(ctx->event, "Device acknowledged the %s; it is blocked "
	       "from now on", what);
	as_wipe_notice_send(ctx);
	return PROVISION_STATUS_SUCCESS;
}

/* The pending wipe directive instead of the policy */
static void provision_write_wipe(struct as_cmd_context *ctx)
{
	wbxml_empty(ctx->writer,
			 ctx->device->wipe == AS_DEVICE_WIPE_ACCOUNT_PENDING ?
			 EAS_PROVISION_ACCOUNTONLYREMOTEWIPE :
			 EAS_PROVISION_REMOTEWIPE);
}

static int provision_device_save(struct as_cmd_context *ctx)
{
	const char *error;

	if (as_store_device_put(ctx->store, ctx->device, &error) < 0) {
		e_error(ctx->event, "Failed to save device: %s",
			error);
		return -1;
	}
	return 0;
}

static void
provision_write_policy(struct as_cmd_context *ctx, const char *policy_type,
		       unsigned int status, uint32_t key, bool with_doc)
{
	wbxml_start(ctx->writer, EAS_PROVISION_POLICIES);
	wbxml_start(ctx->writer, EAS_PROVISION_POLICY);
	wbxml_elem_str(ctx->writer, EAS_PROVISION_POLICYTYPE, policy_type);
	wbxml_elem_uint(ctx->writer, EAS_PROVISION_STATUS, status);
	if (key != 0)
		wbxml_elem_uint(ctx->writer, EAS_PROVISION_POLICYKEY, key);
	if (with_doc) {
		/* read by provision_initial() already */
		i_assert(ctx->policy != NULL);
		wbxml_start(ctx->writer, EAS_PROVISION_DATA);
		as_policy_write_doc(ctx->writer, ctx->req->version,
				    ctx->policy->values);
		wbxml_end(ctx->writer);
	}
	wbxml_end(ctx->writer); /* Policy */
	wbxml_end(ctx->writer); /* Policies */
}

/* Phase 1: a new temporary key for the policy we hand out. */
static int provision_initial(struct as_cmd_context *ctx)
{
	struct as_device *dev = ctx->device;
	const struct as_policy *policy;
	struct as_store_policy_state state;
	const char *error;

	if (as_cmd_get_policy(ctx, &policy, &error) < 0 ||
	    as_store_policy_state_get(ctx->store, ctx->username,
				      ctx->req->device_id, &state,
				      &error) < 0) {
		e_error(ctx->event, "State store: %s", error);
		return -1;
	}
	/* the acknowledgement confirms this document, even if the policy
	   changes before it arrives (then the next command gets 143) */
	state.pending_hash = as_policy_hash(policy->values);
	if (as_store_policy_state_put(ctx->store, ctx->username,
				      ctx->req->device_id, &state,
				      &error) < 0) {
		e_error(ctx->event, "Failed to save policy state: %s", error);
		return -1;
	}
	dev->pending_policy_key = provision_new_key(dev->policy_key);
	e_debug(ctx->event, "Sending policy %08x, temporary key %u",
		state.pending_hash, dev->pending_policy_key);
	return 0;
}

/* Phase 2: the device acknowledges the temporary key. Returns the
   Policy status to answer, or 0 when the device is refused because it
   could not apply the policy (*refused_r), -1 on a store error. */
static int
provision_acknowledge(struct as_cmd_context *ctx,
		      const struct provision_request *req, bool *refused_r)
{
	struct as_device *dev = ctx->device;
	const struct as_policy *policy;
	struct as_store_policy_state state;
	const char *error;

	*refused_r = FALSE;
	if (as_cmd_get_policy(ctx, &policy, &error) < 0) {
		e_error(ctx->event, "State store: %s", error);
		return -1;
	}

	if (dev->pending_policy_key == 0 ||
	    req->ack_key != dev->pending_policy_key) {
		e_info(ctx->event, "Device acknowledged unknown "
		       "policy key %u (expected %u)", req->ack_key,
		       dev->pending_policy_key);
		return PROVISION_POLICY_STATUS_WRONG_KEY;
	}
	if (req->ack_status == PROVISION_ACK_PARTIAL ||
	    req->ack_status == PROVISION_ACK_NOT_APPLIED) {
		bool allow = as_policy_get_bool(policy,
				AS_POLICY_IDX_ALLOW_NON_PROVISIONABLE);

		e_info(ctx->event, "Device applied the policy %s "
		       "(status %u), %s by AllowNonProvisionableDevices "
		       "(level %s)", req->ack_status == PROVISION_ACK_PARTIAL ?
		       "only partly" : "not at all", req->ack_status,
		       allow ? "allowed" : "refused",
		       as_policy_level_name(policy->sources[
				AS_POLICY_IDX_ALLOW_NON_PROVISIONABLE]));
		if (!allow) {
			/* it has to ask for the policy again */
			dev->pending_policy_key = 0;
			*refused_r = TRUE;
			return 0;
		}
	}
	if (as_store_policy_state_get(ctx->store, ctx->username,
				      ctx->req->device_id, &state,
				      &error) < 0) {
		e_error(ctx->event, "State store: %s", error);
		return -1;
	}
	/* what phase 1 handed out (none for a temporary key handed out
	   before this server kept policy states: then the current policy) */
	state.policy_hash = state.pending_hash != 0 ? state.pending_hash :
		as_policy_hash(policy->values);
	state.pending_hash = 0;
	state.provisioned = ioloop_time;
	if (as_store_policy_state_put(ctx->store, ctx->username,
				      ctx->req->device_id, &state,
				      &error) < 0) {
		e_error(ctx->event, "Failed to save policy state: %s", error);
		return -1;
	}
	dev->policy_key = provision_new_key(dev->pending_policy_key);
	dev->pending_policy_key = 0;
	e_info(ctx->event, "Device provisioned with policy key %u "
	       "(policy %08x)", dev->policy_key, state.policy_hash);
	return PROVISION_POLICY_STATUS_SUCCESS;
}

enum as_command_result cmd_provision(struct as_cmd_context *ctx)
{
	struct provision_request req;
	unsigned int policy_status = 0, status;
	const char *error;
	bool policy_ok, refused = FALSE;
	int ret;

	if (provision_parse(ctx, &req, &error) < 0) {
		e_info(ctx->event, "%s", error);
		as_cmd_write_status(ctx, PROVISION_STATUS_PROTOCOL_ERROR);
		return AS_CMD_DONE;
	}

	if (req.device_info != NULL)
		provision_device_info(ctx, req.device_info);
	if (req.remote_wipe != NULL || req.account_only_remote_wipe != NULL) {
		/* an acknowledgement is answered on its own */
		status = provision_wipe_ack(ctx, req.remote_wipe != NULL ?
			req.remote_wipe : req.account_only_remote_wipe,
			req.remote_wipe == NULL);
		wbxml_start(ctx->writer, EAS_PROVISION_PROVISION);
		wbxml_elem_uint(ctx->writer, EAS_PROVISION_STATUS,
				status == PROVISION_STATUS_PROTOCOL_ERROR ?
				PROVISION_STATUS_PROTOCOL_ERROR : status);
		if (status == PROVISION_STATUS_PROTOCOL_ERROR)
			provision_write_wipe(ctx);
		wbxml_end(ctx->writer);
		return AS_CMD_DONE;
	}
	if (as_device_wipe_pending(ctx->device->wipe)) {
		/* MS-ASPROV 3.2.5.1.2.1: the directive, no policy */
		if (req.device_info != NULL)
			(void)provision_device_save(ctx);
		e_info(ctx->event, "Sending the pending %s directive",
		       ctx->device->wipe == AS_DEVICE_WIPE_ACCOUNT_PENDING ?
		       "AccountOnlyRemoteWipe" : "RemoteWipe");
		wbxml_start(ctx->writer, EAS_PROVISION_PROVISION);
		wbxml_elem_uint(ctx->writer, EAS_PROVISION_STATUS,
				PROVISION_STATUS_SUCCESS);
		provision_write_wipe(ctx);
		wbxml_end(ctx->writer);
		return AS_CMD_DONE;
	}

	policy_ok = req.policy_type != NULL &&
		strcmp(req.policy_type, AS_POLICY_TYPE_WBXML) == 0;
	if (req.policy_type == NULL) {
		/* wipe acknowledgement or device information only */
	} else if (!policy_ok) {
		e_info(ctx->event, "Unsupported PolicyType '%s'%s",
		       str_sanitize(req.policy_type, 64),
		       strcmp(req.policy_type, AS_POLICY_TYPE_XML) == 0 ?
		       " (EAS 2.5 only)" : "");
		policy_status = PROVISION_POLICY_STATUS_UNKNOWN_TYPE;
	} else if (!req.have_ack) {
		if (provision_initial(ctx) < 0) {
			as_cmd_write_status(ctx, PROVISION_STATUS_SERVER_ERROR);
			return AS_CMD_DONE;
		}
		policy_status = PROVISION_POLICY_STATUS_SUCCESS;
	} else {
		ret = provision_acknowledge(ctx, &req, &refused);
		if (ret < 0) {
			as_cmd_write_status(ctx, PROVISION_STATUS_SERVER_ERROR);
			return AS_CMD_DONE;
		}
		policy_status = ret;
	}

	/* The new keys are stored before the device sees them. */
	if ((req.device_info != NULL || policy_ok) &&
	    provision_device_save(ctx) < 0) {
		as_cmd_write_status(ctx, PROVISION_STATUS_SERVER_ERROR);
		return AS_CMD_DONE;
	}

	if (refused) {
		/* 14.0+: Status 139, the device can't comply with the policy;
		   12.x has no such status and gets HTTP 403 */
		if (ctx->req->version < AS_VERSION_14_0) {
			ctx->http_status = 403;
			ctx->http_reason = "Forbidden";
			return AS_CMD_DONE;
		}
		as_cmd_write_status(ctx,
				    AS_STATUS_DEVICE_NOT_FULLY_PROVISIONABLE);
		return AS_CMD_DONE;
	}

	wbxml_start(ctx->writer, EAS_PROVISION_PROVISION);
	if (req.device_info != NULL) {
		wbxml_start(ctx->writer, EAS_SETTINGS_DEVICEINFORMATION);
		wbxml_elem_uint(ctx->writer, EAS_SETTINGS_STATUS, 1);
		wbxml_end(ctx->writer);
	}
	wbxml_elem_uint(ctx->writer, EAS_PROVISION_STATUS,
			PROVISION_STATUS_SUCCESS);
	if (policy_status == 0) {
		/* no Policies asked for */
	} else if (policy_status != PROVISION_POLICY_STATUS_SUCCESS) {
		provision_write_policy(ctx, req.policy_type, policy_status,
				       0, FALSE);
	} else if (!req.have_ack) {
		provision_write_policy(ctx, req.policy_type, policy_status,
				       ctx->device->pending_policy_key, TRUE);
	} else {
		provision_write_policy(ctx, req.policy_type, policy_status,
				       ctx->device->policy_key, FALSE);
	}
	wbxml_end(ctx->writer);
	return AS_CMD_DONE;
}
