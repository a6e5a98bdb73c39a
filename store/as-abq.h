#ifndef AS_ABQ_H
#define AS_ABQ_H

#include "as-store.h"

/* Allow/Block/Quarantine rules. A device the admin set explicitly
   (device allow|block|quarantine) keeps that; otherwise the first
   enabled rule that matches decides, in this order: the user's rule,
   the user's domain's rule, server rules on the Operating System, the
   Device Model, the Device Type, then the global default
   (activesync_device_access). Values compare case-insensitively. A
   user or domain rule matches its value exactly; a server rule matches
   a device whose value starts with the rule's, the longest such rule
   deciding (the device's value is shortened step by step until it
   equals a rule's: "Android" is tried as "android", "androi", ...,
   "a").

   When: on every request, not only for a new device. The seeds describe
   how a new device's state is found; evaluating again each time gives
   the same answer for it, lets a rule added later (a model found
   unsafe) reach the devices already in use, and lets the OS and model
   rules apply once DeviceInformation arrives (Provision 14.1+, or
   Settings after the first requests). What the admin decides for one
   device is the exception that never changes by itself. */
enum as_abq_kind {
	AS_ABQ_KIND_USER = 0,
	AS_ABQ_KIND_DOMAIN,
	AS_ABQ_KIND_OS,
	AS_ABQ_KIND_MODEL,
	AS_ABQ_KIND_TYPE,
};
#define AS_ABQ_KIND_COUNT (AS_ABQ_KIND_TYPE + 1)

struct as_abq_rule {
	uint32_t id;
	enum as_abq_kind kind;
	const char *value;
	enum as_device_access access;
	bool enabled;
	const char *description;
};
ARRAY_DEFINE_TYPE(as_abq_rule, struct as_abq_rule);

/* "user", "domain", "os", "model", "type" */
const char *as_abq_kind_str(enum as_abq_kind kind);
int as_abq_kind_parse(const char *str, enum as_abq_kind *kind_r);

/* The access of dev (its user, os, model and device_type). matched_r is
   the deciding rule, NULL for the admin's device setting or the global
   default. */
enum as_device_access
as_abq_evaluate(const ARRAY_TYPE(as_abq_rule) *rules,
		const struct as_device *dev,
		enum as_device_access global_default,
		const struct as_abq_rule **matched_r);

/* Rules in the state store, in id order. */
int as_store_rule_list(struct as_store *store, pool_t pool,
		       ARRAY_TYPE(as_abq_rule) *rules_r, const char **error_r);
/* Add a rule with a new id (returned in id_r). There is one user and
   one domain rule per value: adding another replaces it (same id). */
int as_store_rule_add(struct as_store *store, const struct as_abq_rule *rule,
		      uint32_t *id_r, const char **error_r);
/* Change the rule with rule->id. Returns 0 if there is none. */
int as_store_rule_update(struct as_store *store,
			 const struct as_abq_rule *rule, const char **error_r);
/* Returns 0 if there is no such rule. */
int as_store_rule_remove(struct as_store *store, uint32_t id,
			 const char **error_r);

#endif
