/* Copyright (c) the dovecot-activesync authors, see AUTHORS */

#include "lib.h"
#include "array.h"
#include "test-common.h"
#include "as-abq.h"

#define A AS_DEVICE_ACCESS_ALLOW
#define B AS_DEVICE_ACCESS_BLOCK
#define Q AS_DEVICE_ACCESS_QUARANTINE
#define UNSET AS_DEVICE_ACCESS_UNSET

/* The rule set every case is evaluated against */
static const struct as_abq_rule test_rules[] = {
	{ 1, AS_ABQ_KIND_TYPE, "iPhone", Q, TRUE, "" },
	{ 2, AS_ABQ_KIND_MODEL, "Pixel 9", B, TRUE, "" },
	{ 3, AS_ABQ_KIND_OS, "Android 15", A, TRUE, "" },
	{ 4, AS_ABQ_KIND_DOMAIN, "blocked.test", B, TRUE, "" },
	{ 5, AS_ABQ_KIND_USER, "vip@blocked.test", A, TRUE, "" },
	{ 6, AS_ABQ_KIND_TYPE, "WindowsMail", B, FALSE, "disabled" },
	{ 7, AS_ABQ_KIND_USER, "quarantined@example.test", Q, TRUE, "" },
	{ 8, AS_ABQ_KIND_OS, "Android", Q, TRUE, "" },
};

static const struct {
	const char *user, *type, *model, *os;
	enum as_device_access override, global;
	enum as_device_access expected;
	uint32_t matched_id;
} test_cases[] = {
	/* nothing matches: the global default */
	{ "a@example.test", "Other", "m", "o", UNSET, A, A, 0 },
	{ "a@example.test", "Other", "m", "o", UNSET, Q, Q, 0 },
	/* server rules: type, case-insensitively */
	{ "a@example.test", "IPHONE", "m", "o", UNSET, A, Q, 1 },
	/* model before type */
	{ "a@example.test", "iPhone", "pixel 9", "o", UNSET, A, B, 2 },
	/* OS before model */
	{ "a@example.test", "iPhone", "Pixel 9", "android 15", UNSET, B, A, 3 },
	/* domain before OS */
	{ "b@Blocked.Test", "x", "m", "Android 15", UNSET, A, B, 4 },
	/* user before domain */
	{ "VIP@blocked.test", "iPhone", "Pixel 9", "o", UNSET, B, A, 5 },
	{ "quarantined@example.test", "x", "y", "z", UNSET, A, Q, 7 },
	/* a disabled rule is skipped */
	{ "a@example.test", "WindowsMail", "m", "o", UNSET, A, A, 0 },
	/* the admin's device setting beats every rule */
	{ "vip@blocked.test", "x", "y", "z", B, A, B, 0 },
	{ "b@blocked.test", "iPhone", "y", "z", A, B, A, 0 },
	{ "a@example.test", "x", "y", "z", Q, A, Q, 0 },
	/* an unknown model/OS (no DeviceInformation) matches nothing */
	{ "a@example.test", "x", "", "", UNSET, B, B, 0 },
	/* server rules match the start of the device's value, the longest
	   rule deciding */
	{ "a@example.test", "iPhone2", "m", "o", UNSET, A, Q, 1 },
	{ "a@example.test", "x", "m", "ANDROID 14", UNSET, A, Q, 8 },
	{ "a@example.test", "x", "m", "Android 15.1", UNSET, B, A, 3 },
	/* a device value shorter than the rule's matches nothing */
	{ "a@example.test", "iPho", "Pixel", "Andro", UNSET, A, A, 0 },
	/* user and domain rules: whole values */
	{ "vip@blocked.test.example", "x", "y", "z", UNSET, A, A, 0 },
	{ "vip@blocked.testing", "x", "y", "z", UNSET, A, A, 0 },
	/* a user without domain matches no domain rule */
	{ "blocked.test", "x", "y", "z", UNSET, A, A, 0 },
};

static void test_abq_evaluate(void)
{
	ARRAY_TYPE(as_abq_rule) rules;
	const struct as_abq_rule *matched;
	struct as_device dev;
	unsigned int i;

	test_begin("ABQ rule evaluation order");
	t_array_init(&rules, N_ELEMENTS(test_rules));
	array_append(&rules, test_rules, N_ELEMENTS(test_rules));
	for (i = 0; i < N_ELEMENTS(test_cases); i++) {
		i_zero(&dev);
		dev.user = test_cases[i].user;
		dev.device_id = "dev";
		dev.device_type = test_cases[i].type;
		dev.model = test_cases[i].model;
		dev.os = test_cases[i].os;
		dev.access_override = test_cases[i].override;
		test_assert_idx(as_abq_evaluate(&rules, &dev,
				test_cases[i].global, &matched) ==
				test_cases[i].expected, i);
		test_assert_idx((matched == NULL ? 0 : matched->id) ==
				test_cases[i].matched_id, i);
	}
	test_end();
}

static void test_abq_names(void)
{
	enum as_abq_kind kind;
	enum as_device_access access;
	unsigned int i;

	test_begin("ABQ names");
	for (i = 0; i < AS_ABQ_KIND_COUNT; i++) {
		test_assert_idx(as_abq_kind_parse(as_abq_kind_str(i),
						  &kind) == 0 && kind == i, i);
	}
	test_assert(as_abq_kind_parse("Model", &kind) == 0 &&
		    kind == AS_ABQ_KIND_MODEL);
	test_assert(as_abq_kind_parse("imei", &kind) < 0);
	test_assert(as_device_access_parse("Quarantine", &access) == 0 &&
		    access == Q);
	test_assert(as_device_access_parse("", &access) < 0);
	test_assert(as_device_access_parse("deny", &access) < 0);
	test_end();
}

int main(void)
{
	static void (*const test_functions[])(void) = {
		test_abq_evaluate,
		test_abq_names,
		NULL
	};
	return test_run(test_functions);
}
