/* Copyright (c) the dovecot-activesync authors, see AUTHORS */

#include "lib.h"
#include "array.h"
#include "ioloop.h"
#include "as-store-itemprops.h"
#include "as-command.h"
#include "as-settings.h"
#include "as-abq.h"
#include "as-device-notice.h"
#include "as-device-access.h"

/* Device property: when the quarantine notice went out (unset while the
   device is not quarantined) */
#define AS_DEVICE_PROP_QUARANTINE_NOTICE "quarantine_notice"

static int
as_device_count_check(struct as_cmd_context *ctx, const char **reason_r)
{
	ARRAY_TYPE(const_string) ids;
	const char *error;

	if (ctx->set->max_devices == 0)
		return 0;
	t_array_init(&ids, 8);
	if (as_store_device_list(ctx->store, pool_datastack_create(),
				 ctx->username, &ids, &error) < 0) {
		e_error(ctx->event, "State store: %s", error);
		return -1;
	}
	if (array_count(&ids) <= ctx->set->max_devices)
		return 0;
	/* forget the new device again, so it doesn't take a slot */
	if (as_store_device_remove(ctx->store, ctx->username,
				   ctx->device->device_id, &error) < 0) {
		e_error(ctx->event, "State store: %s", error);
		return -1;
	}
	*reason_r = t_strdup_printf("User already has %u devices "
		"(activesync_max_devices)", ctx->set->max_devices);
	return 1;
}

static enum as_device_access
as_device_evaluate(struct as_cmd_context *ctx, const char **reason_r)
{
	ARRAY_TYPE(as_abq_rule) rules;
	const struct as_abq_rule *matched;
	enum as_device_access global, access;
	const char *error;

	if (as_device_access_parse(ctx->set->device_access, &global) < 0)
		i_unreached(); /* checked by the settings */
	t_array_init(&rules, 8);
	if (as_store_rule_list(ctx->store, pool_datastack_create(), &rules,
			       &error) < 0) {
		/* unreadable rules must not let a blocked device in */
		e_error(ctx->event, "State store: %s", error);
		*reason_r = "ABQ rules unreadable";
		return AS_DEVICE_ACCESS_BLOCK;
	}
	access = as_abq_evaluate(&rules, ctx->device, global, &matched);
	if (ctx->device->access_override != AS_DEVICE_ACCESS_UNSET)
		*reason_r = "set by the admin";
	else if (matched != NULL) {
		*reason_r = t_strdup_printf("%s rule %u (%s)",
			as_abq_kind_str(matched->kind), matched->id,
			matched->value);
	} else {
		*reason_r = "activesync_device_access";
	}
	return access;
}

enum as_device_gate
as_device_access_check(struct as_cmd_context *ctx, bool new_device,
		       const char **reason_r)
{
	struct as_device *dev = ctx->device;
	enum as_device_access access;
	const char *error, *why;
	int ret;

	*reason_r = "";
	if (new_device) {
		ret = as_device_count_check(ctx, reason_r);
		if (ret != 0) {
			return ret < 0 ? AS_DEVICE_GATE_ERROR :
				AS_DEVICE_GATE_TOO_MANY;
		}
	}
	if (as_store_device_admin_read(ctx->store, dev, &error) < 0) {
		e_error(ctx->event, "State store: %s", error);
		return AS_DEVICE_GATE_ERROR;
	}
	if (as_device_wipe_done(dev->wipe)) {
		*reason_r = "Device was remotely wiped";
		return AS_DEVICE_GATE_BLOCKED;
	}
	if (as_device_wipe_pending(dev->wipe)) {
		*reason_r = "Remote wipe pending";
		return AS_DEVICE_GATE_WIPE_PENDING;
	}

	access = as_device_evaluate(ctx, &why);
	if (access != dev->access) {
		e_info(ctx->event, "Device access: %s (%s)",
		       as_device_access_str(access), why);
		if (dev->access == AS_DEVICE_ACCESS_QUARANTINE &&
		    as_store_device_prop_put(ctx->store, dev->user,
					     dev->device_id,
					     AS_DEVICE_PROP_QUARANTINE_NOTICE,
					     NULL, &error) < 0) {
			/* out of quarantine: a later one notifies again */
			e_error(ctx->event, "State store: %s", error);
			return AS_DEVICE_GATE_ERROR;
		}
		dev->access = access;
		if (as_store_device_put(ctx->store, dev, &error) < 0) {
			e_error(ctx->event, "State store: %s", error);
			return AS_DEVICE_GATE_ERROR;
		}
	}
	if (access == AS_DEVICE_ACCESS_QUARANTINE) {
		/* one notice per quarantine, however many requests and
		   processes race here: the store's write transaction
		   decides which one sends it */
		ret = as_store_device_prop_claim(ctx->store, dev->user,
			dev->device_id, AS_DEVICE_PROP_QUARANTINE_NOTICE,
			dec2str(ioloop_time), &error);
		if (ret < 0) {
			e_error(ctx->event, "State store: %s", error);
			return AS_DEVICE_GATE_ERROR;
		}
		if (ret > 0)
			as_quarantine_notice_send(ctx);
	}
	if (access == AS_DEVICE_ACCESS_BLOCK) {
		*reason_r = t_strconcat("Device blocked: ", why, NULL);
		return AS_DEVICE_GATE_BLOCKED;
	}
	return AS_DEVICE_GATE_OK;
}
