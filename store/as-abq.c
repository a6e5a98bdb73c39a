/* Copyright (c) the dovecot-activesync authors, see AUTHORS */

#include "lib.h"
#include "array.h"
#include "as-abq.h"

static const char *const as_abq_kind_names[AS_ABQ_KIND_COUNT] = {
	[AS_ABQ_KIND_USER] = "user",
	[AS_ABQ_KIND_DOMAIN] = "domain",
	[AS_ABQ_KIND_OS] = "os",
	[AS_ABQ_KIND_MODEL] = "model",
	[AS_ABQ_KIND_TYPE] = "type",
};

const char *as_abq_kind_str(enum as_abq_kind kind)
{
	i_assert(kind < AS_ABQ_KIND_COUNT);
	return as_abq_kind_names[kind];
}

int as_abq_kind_parse(const char *str, enum as_abq_kind *kind_r)
{
	unsigned int i;

	for (i = 0; i < AS_ABQ_KIND_COUNT; i++) {
		if (strcasecmp(str, as_abq_kind_names[i]) == 0) {
			*kind_r = i;
			return 0;
		}
	}
	return -1;
}

/* What of the device a rule of kind compares with ("" if unknown) */
static const char *
as_abq_device_value(const struct as_device *dev, enum as_abq_kind kind)
{
	const char *p;

	switch (kind) {
	case AS_ABQ_KIND_USER:
		return dev->user;
	case AS_ABQ_KIND_DOMAIN:
		p = dev->user == NULL ? NULL : strrchr(dev->user, '@');
		return p == NULL ? "" : p + 1;
	case AS_ABQ_KIND_OS:
		return dev->os;
	case AS_ABQ_KIND_MODEL:
		return dev->model;
	case AS_ABQ_KIND_TYPE:
		return dev->device_type;
	}
	i_unreached();
}

enum as_device_access
as_abq_evaluate(const ARRAY_TYPE(as_abq_rule) *rules,
		const struct as_device *dev,
		enum as_device_access global_default,
		const struct as_abq_rule **matched_r)
{
	const struct as_abq_rule *rule, *best;
	const char *value;
	unsigned int kind;
	size_t len;

	*matched_r = NULL;
	if (dev->access_override != AS_DEVICE_ACCESS_UNSET)
		return dev->access_override;
	for (kind = 0; kind < AS_ABQ_KIND_COUNT; kind++) {
		value = as_abq_device_value(dev, kind);
		if (value == NULL || *value == '\0')
			continue;
		best = NULL;
		array_foreach(rules, rule) {
			if (rule->kind != kind || !rule->enabled)
				continue;
			if (kind == AS_ABQ_KIND_USER ||
			    kind == AS_ABQ_KIND_DOMAIN) {
				if (strcasecmp(rule->value, value) == 0) {
					best = rule;
					break;
				}
				continue;
			}
			/* server rules: the device's value is compared
			   shortened step by step, so the longest rule
			   value it starts with decides ("iOS" matches
			   "iOS 17.2", "iOS 17" is preferred to it) */
			len = strlen(rule->value);
			if (len > 0 && strncasecmp(rule->value, value, len) == 0 &&
			    (best == NULL || len > strlen(best->value)))
				best = rule;
		}
		if (best != NULL) {
			*matched_r = best;
			return best->access;
		}
	}
	return global_default;
}
