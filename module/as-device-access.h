#ifndef AS_DEVICE_ACCESS_H
#define AS_DEVICE_ACCESS_H

struct as_cmd_context;

/* What the dispatcher does with a request, from the device's admin
   state (doveadm activesync device ...), the ABQ rules and the device
   limit. */
enum as_device_gate {
	AS_DEVICE_GATE_OK = 0,
	/* blocked (by a rule, the admin or after a remote wipe) */
	AS_DEVICE_GATE_BLOCKED,
	/* a remote wipe waits: everything but Provision is sent back to
	   Provision, which hands out the wipe directive */
	AS_DEVICE_GATE_WIPE_PENDING,
	/* a new device beyond activesync_max_devices (its record is
	   dropped again) */
	AS_DEVICE_GATE_TOO_MANY,
	/* state store failure, logged */
	AS_DEVICE_GATE_ERROR,
};

/* Fills the admin fields of ctx->device, evaluates its access (stored
   in the device record when it changed). new_device: the record was
   created by this request. reason_r is for the log. */
enum as_device_gate
as_device_access_check(struct as_cmd_context *ctx, bool new_device,
		       const char **reason_r);

#endif
