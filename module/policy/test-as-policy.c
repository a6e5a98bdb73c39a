/* Copyright (c) the dovecot-activesync authors, see AUTHORS */

#include "lib.h"
#include "array.h"
#include "buffer.h"
#include "unlink-directory.h"
#include "test-common.h"
#include "as-store.h"
#include "as-store-itemprops.h"
#include "as-recovery-password.h"
#include "wbxml.h"
#include "as-request.h"
#include "as-policy.h"

#include <unistd.h>
#include <sys/stat.h>

static unsigned int count_children(const struct wbxml_node *node)
{
	const struct wbxml_node *child;
	unsigned int count = 0;

	wbxml_node_foreach_child(node, child)
		count++;
	return count;
}

/* Encode the policy document and decode it again with our decoder. */
static const struct wbxml_node *
write_and_decode(pool_t pool, unsigned int version, const char *const *values)
{
	buffer_t *buf = buffer_create_dynamic(pool, 1024);
	struct wbxml_writer *w = wbxml_writer_init(buf);
	struct wbxml_node *root = NULL;
	const char *error = NULL;

	as_policy_write_doc(w, version, values);
	wbxml_writer_deinit(&w);
	if (wbxml_decode(pool, buf->data, buf->used, NULL, &root, &error) < 0)
		i_fatal("decode failed: %s", error);
	return root;
}

static void test_policy_table(void)
{
	unsigned int i, j;

	test_begin("policy table");
	/* every EASProvisionDoc element, then the server-side rows */
	test_assert(AS_POLICY_DOC_COUNT == 42);
	test_assert(as_policy_settings_count == AS_POLICY_IDX_NEUTRAL + 1);
	test_assert_strcmp(as_policy_settings[AS_POLICY_IDX_NEUTRAL].name,
			   "Neutral");
	test_assert_strcmp(as_policy_settings[
		AS_POLICY_IDX_MAX_PROTOCOL_VERSION].name, "MaxProtocolVersion");
	for (i = 0; i < as_policy_settings_count; i++) {
		const struct as_policy_setting *s = &as_policy_settings[i];
		const char *error;

		if (i >= AS_POLICY_DOC_COUNT) {
			test_assert_idx(s->tag == 0 &&
				(s->flags & AS_POLICY_FLAG_SERVER) != 0, i);
			test_assert_idx(as_policy_value_check(s,
				s->default_value, &error) == 0, i);
			continue;
		}
		test_assert_idx((s->flags & AS_POLICY_FLAG_SERVER) == 0, i);
		/* the name is the codec's element name */
		test_assert_idx(strcmp(wbxml_tag_name(s->tag), s->name) == 0,
				i);
		/* every default is valid */
		test_assert_idx(as_policy_value_check(s, s->default_value,
						      &error) == 0, i);
		test_assert_idx(s->min_version == AS_VERSION_12_0 ||
				s->min_version == AS_VERSION_12_1, i);
		for (j = i + 1; j < AS_POLICY_DOC_COUNT; j++)
			test_assert_idx(s->tag != as_policy_settings[j].tag, j);
	}
	test_end();
}

static void test_policy_values(void)
{
	pool_t pool = pool_alloconly_create("test policy", 1024);
	const char **values = as_policy_values_init(pool);
	const char *error;
	int idx;

	test_begin("policy values");
	idx = as_policy_find("devicepasswordenabled");
	test_assert(idx >= 0 &&
		    as_policy_settings[idx].tag == EAS_PROVISION_DEVICEPASSWORDENABLED);
	test_assert(as_policy_find("NoSuchSetting") == -1);
	test_assert(strcmp(as_policy_get(values, idx), "0") == 0);
	test_assert(strcmp(as_policy_get(NULL, idx), "0") == 0);

	test_assert(as_policy_set(values, pool, "DevicePasswordEnabled", "1",
				  &error) == 0);
	test_assert(strcmp(as_policy_get(values, idx), "1") == 0);
	test_assert(as_policy_set(values, pool, "DevicePasswordEnabled", "2",
				  &error) < 0);
	test_assert(as_policy_set(values, pool, "AllowBluetooth", "x",
				  &error) < 0);
	test_assert(as_policy_set(values, pool, "AllowBluetooth", "1",
				  &error) == 0);
	/* empty allowed only where the spec allows it */
	test_assert(as_policy_set(values, pool, "MaxAttachmentSize", "",
				  &error) == 0);
	test_assert(as_policy_set(values, pool, "DevicePasswordHistory", "",
				  &error) < 0);
	/* -1 = no truncation */
	test_assert(as_policy_set(values, pool, "MaxEmailBodyTruncationSize",
				  "-1", &error) == 0);
	test_assert(as_policy_set(values, pool, "MaxEmailBodyTruncationSize",
				  "-2", &error) < 0);
	test_assert(as_policy_set(values, pool, "Bogus", "1", &error) < 0);
	test_end();
	pool_unref(&pool);
}

static void test_policy_doc(void)
{
	pool_t pool = pool_alloconly_create("test policy doc", 8192);
	const char **values = as_policy_values_init(pool);
	const struct wbxml_node *root, *list, *child;
	const char *error;
	unsigned int items = 0;

	test_begin("policy document");
	/* 12.0 clients only get the twelve settings 12.0 knows */
	root = write_and_decode(pool, AS_VERSION_12_0, NULL);
	test_assert(root->tag == EAS_PROVISION_EASPROVISIONDOC);
	test_assert(count_children(root) == 12);
	test_assert(wbxml_node_child(root, EAS_PROVISION_ALLOWBLUETOOTH) == NULL);
	test_assert_strcmp(wbxml_node_child_text(root,
			   EAS_PROVISION_DEVICEPASSWORDENABLED), "0");
	test_assert_strcmp(wbxml_node_child_text(root,
			   EAS_PROVISION_MAXATTACHMENTSIZE), "");

	/* 16.1 gets them all */
	root = write_and_decode(pool, AS_VERSION_16_1, NULL);
	test_assert(count_children(root) == AS_POLICY_DOC_COUNT);
	test_assert_strcmp(wbxml_node_child_text(root,
			   EAS_PROVISION_ALLOWBLUETOOTH), "2");
	test_assert_strcmp(wbxml_node_child_text(root,
			   EAS_PROVISION_MAXEMAILBODYTRUNCATIONSIZE), "-1");

	/* values override defaults; lists become items */
	test_assert(as_policy_set(values, pool, "DevicePasswordEnabled", "1",
				  &error) == 0);
	test_assert(as_policy_set(values, pool, "MinDevicePasswordLength",
				  "6", &error) == 0);
	test_assert(as_policy_set(values, pool,
				  "UnapprovedInROMApplicationList",
				  "Games, Browser", &error) == 0);
	root = write_and_decode(pool, AS_VERSION_14_1, values);
	test_assert_strcmp(wbxml_node_child_text(root,
			   EAS_PROVISION_DEVICEPASSWORDENABLED), "1");
	test_assert_strcmp(wbxml_node_child_text(root,
			   EAS_PROVISION_MINDEVICEPASSWORDLENGTH), "6");
	list = wbxml_node_child(root, EAS_PROVISION_UNAPPROVEDINROMAPPLICATIONLIST);
	test_assert(list != NULL);
	if (list != NULL) {
		wbxml_node_foreach_child(list, child) {
			test_assert(child->tag == EAS_PROVISION_APPLICATIONNAME);
			items++;
		}
		test_assert(items == 2);
		test_assert_strcmp(wbxml_node_child_text(list,
				   EAS_PROVISION_APPLICATIONNAME), "Games");
	}
	test_end();
	pool_unref(&pool);
}

/* Per-version encoding, one row per case: the element as the version
   sees it. expected NULL = the element is absent, "" = empty element. */
static const struct {
	unsigned int version;
	const char *set_name, *set_value;
	const char *name;
	const char *expected;
	bool empty_element;
} encoding_cases[] = {
	/* 12.0 knows only the first twelve */
	{ AS_VERSION_12_0, NULL, NULL, "DevicePasswordEnabled", "0", FALSE },
	{ AS_VERSION_12_0, NULL, NULL, "DevicePasswordHistory", "0", FALSE },
	{ AS_VERSION_12_0, NULL, NULL, "AllowStorageCard", NULL, FALSE },
	{ AS_VERSION_12_0, NULL, NULL, "ApprovedApplicationList", NULL, FALSE },
	/* no limit = an empty element in every version */
	{ AS_VERSION_12_0, NULL, NULL, "MaxAttachmentSize", "", TRUE },
	{ AS_VERSION_14_1, NULL, NULL, "MaxInactivityTimeDeviceLock", "", TRUE },
	{ AS_VERSION_16_1, NULL, NULL, "DevicePasswordExpiration", "", TRUE },
	{ AS_VERSION_16_1, "MaxAttachmentSize", "1048576",
	  "MaxAttachmentSize", "1048576", FALSE },
	/* 12.1 and later know all of them */
	{ AS_VERSION_12_1, NULL, NULL, "AllowBluetooth", "2", FALSE },
	{ AS_VERSION_12_1, "AllowCamera", "0", "AllowCamera", "0", FALSE },
	{ AS_VERSION_14_0, NULL, NULL, "MaxEmailHTMLBodyTruncationSize", "-1",
	  FALSE },
	{ AS_VERSION_14_1, "RequireDeviceEncryption", "1",
	  "RequireDeviceEncryption", "1", FALSE },
	{ AS_VERSION_16_0, NULL, NULL, "AllowSMIMESoftCerts", "1", FALSE },
	{ AS_VERSION_16_1, "MinDevicePasswordComplexCharacters", "4",
	  "MinDevicePasswordComplexCharacters", "4", FALSE },
	/* an empty list is an empty container */
	{ AS_VERSION_16_1, NULL, NULL, "ApprovedApplicationList", "", TRUE },
	/* a 12.0 device is not sent a 12.1 field even when set */
	{ AS_VERSION_12_0, "AllowWiFi", "0", "AllowWiFi", NULL, FALSE },
};

static void test_policy_encoding_versions(void)
{
	unsigned int i;

	test_begin("policy encoding per version");
	for (i = 0; i < N_ELEMENTS(encoding_cases); i++) T_BEGIN {
		pool_t pool = pool_alloconly_create("test enc", 8192);
		const char **values = as_policy_values_init(pool);
		const struct wbxml_node *root, *node;
		const char *error;
		int idx = as_policy_find(encoding_cases[i].name);

		test_assert_idx(idx >= 0, i);
		if (encoding_cases[i].set_name != NULL) {
			test_assert_idx(as_policy_set(values, pool,
				encoding_cases[i].set_name,
				encoding_cases[i].set_value, &error) == 0, i);
		}
		root = write_and_decode(pool, encoding_cases[i].version, values);
		node = wbxml_node_child(root, as_policy_settings[idx].tag);
		if (encoding_cases[i].expected == NULL)
			test_assert_idx(node == NULL, i);
		else if (encoding_cases[i].empty_element) {
			test_assert_idx(node != NULL &&
					node->data_size == 0 &&
					node->children == NULL, i);
		} else {
			test_assert_idx(node != NULL &&
				null_strcmp(wbxml_node_child_text(root,
					as_policy_settings[idx].tag),
					encoding_cases[i].expected) == 0, i);
		}
		/* server-side rows never reach the device */
		test_assert_idx(count_children(root) <= AS_POLICY_DOC_COUNT, i);
		pool_unref(&pool);
	} T_END;
	test_end();
}

/* A valid value other than the default, from the table's type and
   range. */
static const char *
test_other_value(const struct as_policy_setting *setting)
{
	switch (setting->type) {
	case AS_POLICY_TYPE_BOOL:
		return strcmp(setting->default_value, "1") == 0 ? "0" : "1";
	case AS_POLICY_TYPE_UINT:
	case AS_POLICY_TYPE_UINT_OR_EMPTY:
	case AS_POLICY_TYPE_INT:
		if (strcmp(setting->default_value,
			   dec2str(setting->max)) == 0)
			return t_strdup_printf("%lld", setting->min);
		return t_strdup_printf("%lld", setting->max);
	case AS_POLICY_TYPE_LIST:
		return "First,Second";
	case AS_POLICY_TYPE_VERSION:
		return "14.0";
	}
	i_unreached();
}

/* Every EASProvisionDoc field: set to a value other than its default,
   it reaches each version that knows the field with that value, and
   none that doesn't. */
static void test_policy_every_field(void)
{
	static const unsigned int versions[] = {
		AS_VERSION_12_0, AS_VERSION_12_1, AS_VERSION_14_0,
		AS_VERSION_14_1, AS_VERSION_16_0, AS_VERSION_16_1,
	};
	unsigned int i, v;

	test_begin("policy every field, every version");
	for (i = 0; i < AS_POLICY_DOC_COUNT; i++) T_BEGIN {
		const struct as_policy_setting *setting = &as_policy_settings[i];
		pool_t pool = pool_alloconly_create("test field", 8192);
		const char **values = as_policy_values_init(pool);
		const char *value = test_other_value(setting), *error;

		test_assert_idx(strcmp(value, setting->default_value) != 0, i);
		test_assert_idx(as_policy_set(values, pool, setting->name, value,
					      &error) == 0, i);
		for (v = 0; v < N_ELEMENTS(versions); v++) {
			const struct wbxml_node *root, *node;

			root = write_and_decode(pool, versions[v], values);
			node = wbxml_node_child(root, setting->tag);
			if (versions[v] < setting->min_version) {
				test_assert_idx(node == NULL, i);
				continue;
			}
			test_assert_idx(node != NULL, i);
			if (node == NULL)
				continue;
			if (setting->type == AS_POLICY_TYPE_LIST) {
				test_assert_idx(count_children(node) == 2, i);
				test_assert_idx(null_strcmp(
					wbxml_node_child_text(node,
						setting->item_tag),
					"First") == 0, i);
			} else {
				test_assert_idx(null_strcmp(
					wbxml_node_child_text(root,
						setting->tag), value) == 0, i);
			}
		}
		pool_unref(&pool);
	} T_END;
	test_end();
}

/* Inheritance: levels as "Name=value,Name=value" (NULL = no record);
   the expected effective value of one field and its source level. */
static const struct {
	const char *levels[AS_POLICY_LEVEL_COUNT];
	const char *name;
	const char *value;
	enum as_policy_level source;
} resolve_cases[] = {
	/* nothing set: the built-in default */
	{ { NULL, NULL, NULL, NULL, NULL }, "DevicePasswordEnabled", "0",
	  AS_POLICY_LEVEL_DEFAULT },
	/* global only */
	{ { NULL, "DevicePasswordEnabled=1", NULL, NULL, NULL },
	  "DevicePasswordEnabled", "1", AS_POLICY_LEVEL_GLOBAL },
	/* the most specific level wins */
	{ { NULL, "MinDevicePasswordLength=4", "MinDevicePasswordLength=6",
	    NULL, NULL }, "MinDevicePasswordLength", "6",
	  AS_POLICY_LEVEL_DOMAIN },
	{ { NULL, "MinDevicePasswordLength=4", "MinDevicePasswordLength=6",
	    "MinDevicePasswordLength=8", "MinDevicePasswordLength=10" },
	  "MinDevicePasswordLength", "10", AS_POLICY_LEVEL_DEVICE },
	/* a level that customises another field inherits this one */
	{ { NULL, "AllowCamera=0", "AllowWiFi=0", "AllowBluetooth=1", NULL },
	  "AllowCamera", "0", AS_POLICY_LEVEL_GLOBAL },
	{ { NULL, "AllowCamera=0", "AllowWiFi=0", "AllowBluetooth=1", NULL },
	  "AllowWiFi", "0", AS_POLICY_LEVEL_DOMAIN },
	/* neutral at the user level cancels global and domain... */
	{ { NULL, "DevicePasswordEnabled=1", "AllowCamera=0", "Neutral=1",
	    NULL }, "DevicePasswordEnabled", "0", AS_POLICY_LEVEL_DEFAULT },
	{ { NULL, "DevicePasswordEnabled=1", "AllowCamera=0", "Neutral=1",
	    NULL }, "AllowCamera", "1", AS_POLICY_LEVEL_DEFAULT },
	{ { NULL, NULL, NULL, "Neutral=1", NULL }, "Neutral", "1",
	  AS_POLICY_LEVEL_USER },
	/* ...and its own fields, but a level below still applies */
	{ { NULL, NULL, NULL, "Neutral=1,AllowCamera=0", "AllowWiFi=0" },
	  "AllowCamera", "1", AS_POLICY_LEVEL_DEFAULT },
	{ { NULL, NULL, NULL, "Neutral=1", "AllowWiFi=0" },
	  "AllowWiFi", "0", AS_POLICY_LEVEL_DEVICE },
	/* Neutral=0 below a neutral level re-enables nothing above */
	{ { NULL, "AllowCamera=0", "Neutral=1", "Neutral=0", NULL },
	  "AllowCamera", "1", AS_POLICY_LEVEL_DEFAULT },
	{ { NULL, "AllowCamera=0", "Neutral=0", NULL, NULL },
	  "AllowCamera", "0", AS_POLICY_LEVEL_GLOBAL },
	/* the version cap is not cancelled by neutral */
	{ { NULL, "MaxProtocolVersion=14.1", NULL, "Neutral=1", NULL },
	  "MaxProtocolVersion", "14.1", AS_POLICY_LEVEL_GLOBAL },
	{ { NULL, NULL, "MaxProtocolVersion=12.1", NULL,
	    "MaxProtocolVersion=14.0" }, "MaxProtocolVersion", "14.0",
	  AS_POLICY_LEVEL_DEVICE },
	/* server-side rows inherit like the others */
	{ { NULL, "AllowNonProvisionableDevices=0", NULL, NULL, NULL },
	  "AllowNonProvisionableDevices", "0", AS_POLICY_LEVEL_GLOBAL },
	{ { NULL, NULL, "RefreshInterval=3600", NULL, NULL },
	  "RefreshInterval", "3600", AS_POLICY_LEVEL_DOMAIN },
	{ { NULL, "RefreshInterval=3600", NULL, "Neutral=1", NULL },
	  "RefreshInterval", "0", AS_POLICY_LEVEL_DEFAULT },
};

static const char **
test_level_values(pool_t pool, const char *spec)
{
	const char **values = as_policy_values_init(pool);
	const char *const *a, *error;

	for (a = t_strsplit(spec, ","); *a != NULL; a++) {
		const char *p = strchr(*a, '=');

		if (as_policy_set(values, pool, t_strdup_until(*a, p), p + 1,
				  &error) < 0)
			i_fatal("bad test case: %s", error);
	}
	return values;
}

static void test_policy_resolve(void)
{
	unsigned int i, l;

	test_begin("policy inheritance");
	for (i = 0; i < N_ELEMENTS(resolve_cases); i++) T_BEGIN {
		pool_t pool = pool_alloconly_create("test resolve", 4096);
		const char *const *levels[AS_POLICY_LEVEL_COUNT];
		struct as_policy policy;
		int idx = as_policy_find(resolve_cases[i].name);

		for (l = 0; l < AS_POLICY_LEVEL_COUNT; l++) {
			levels[l] = resolve_cases[i].levels[l] == NULL ? NULL :
				test_level_values(pool,
						  resolve_cases[i].levels[l]);
		}
		as_policy_resolve(levels, pool, &policy);
		test_assert_idx(idx >= 0, i);
		test_assert_idx(strcmp(policy.values[idx],
				       resolve_cases[i].value) == 0, i);
		test_assert_idx(policy.sources[idx] ==
				resolve_cases[i].source, i);
		pool_unref(&pool);
	} T_END;
	test_end();
}

static void test_policy_hash(void)
{
	pool_t pool = pool_alloconly_create("test hash", 4096);
	const char **values = as_policy_values_init(pool);
	const char *error;
	uint32_t h0 = as_policy_hash(NULL);

	test_begin("policy hash");
	test_assert(h0 != 0);
	/* only what the device applies counts */
	test_assert(as_policy_hash(values) == h0);
	test_assert(as_policy_set(values, pool, "RefreshInterval", "60",
				  &error) == 0);
	test_assert(as_policy_hash(values) == h0);
	/* an explicit default is the same policy */
	test_assert(as_policy_set(values, pool, "AllowCamera", "1",
				  &error) == 0);
	test_assert(as_policy_hash(values) == h0);
	test_assert(as_policy_set(values, pool, "AllowCamera", "0",
				  &error) == 0);
	test_assert(as_policy_hash(values) != h0);
	test_end();
	pool_unref(&pool);
}

/* The levels through the store: set, lookup, inherit. */
static void test_policy_store(void)
{
	const char *dir = t_strdup_printf("/tmp/test-as-policy.%s",
					  dec2str(getpid()));
	struct as_store_settings set = { .dir = dir };
	struct as_store_policy_target global = {
		.level = AS_STORE_POLICY_LEVEL_GLOBAL };
	struct as_store_policy_target domain = {
		.level = AS_STORE_POLICY_LEVEL_DOMAIN, .domain = "example.com" };
	struct as_store_policy_target user = {
		.level = AS_STORE_POLICY_LEVEL_USER, .user = "u@example.com" };
	struct as_store_policy_target device = {
		.level = AS_STORE_POLICY_LEVEL_DEVICE, .user = "u@example.com",
		.device_id = "DEV1" };
	const char *set1[] = { "DevicePasswordEnabled=1",
			       "MinDevicePasswordLength=4", NULL };
	const char *set2[] = { "MinDevicePasswordLength=6", NULL };
	const char *set3[] = { "AllowCamera=0", "MinDevicePasswordLength=8",
			       NULL };
	const char *bad[] = { "AllowCamera=0", "MinDevicePasswordLength=99",
			      NULL };
	const char *inherit1[] = { "MinDevicePasswordLength", NULL };
	struct as_store_policy_state state;
	struct as_policy policy;
	struct as_store *store;
	const char *error, *password, *value;
	pool_t pool = pool_alloconly_create("test store", 8192);
	int cam = as_policy_find("AllowCamera");
	int len = as_policy_find("MinDevicePasswordLength");
	int pwd = as_policy_find("DevicePasswordEnabled");

	test_begin("policy levels in the store");
	(void)unlink_directory(dir, UNLINK_DIRECTORY_FLAG_RMDIR, &error);
	if (as_store_open(&set, &store, &error) < 0)
		i_fatal("as_store_open: %s", error);

	test_assert(as_policy_level_update(store, &global, set1, FALSE,
					   &error) == 0);
	test_assert(as_policy_level_update(store, &domain, set2, FALSE,
					   &error) == 0);
	test_assert(as_policy_level_update(store, &device, set3, FALSE,
					   &error) == 0);
	/* an invalid value changes nothing */
	test_assert(as_policy_level_update(store, &user, bad, FALSE,
					   &error) < 0);

	test_assert(as_policy_lookup(store, pool, &device, &policy,
				     &error) == 0);
	test_assert_strcmp(policy.values[len], "8");
	test_assert(policy.sources[len] == AS_POLICY_LEVEL_DEVICE);
	test_assert_strcmp(policy.values[pwd], "1");
	test_assert(policy.sources[pwd] == AS_POLICY_LEVEL_GLOBAL);
	test_assert_strcmp(policy.values[cam], "0");
	/* the user level has nothing: the invalid set wrote nothing */
	test_assert(as_policy_lookup(store, pool, &user, &policy,
				     &error) == 0);
	test_assert_strcmp(policy.values[len], "6");
	test_assert(policy.sources[len] == AS_POLICY_LEVEL_DOMAIN);
	test_assert_strcmp(policy.values[cam], "1");
	/* another domain's user does not see example.com's level */
	user.user = "x@example.org";
	test_assert(as_policy_lookup(store, pool, &user, &policy,
				     &error) == 0);
	test_assert_strcmp(policy.values[len], "4");
	user.user = "u@example.com";

	/* inherit one field of the device level, then the domain level */
	test_assert(as_policy_level_update(store, &device, inherit1, TRUE,
					   &error) == 0);
	test_assert(as_policy_lookup(store, pool, &device, &policy,
				     &error) == 0);
	test_assert_strcmp(policy.values[len], "6");
	test_assert_strcmp(policy.values[cam], "0");
	test_assert(as_policy_level_update(store, &domain, NULL, TRUE,
					   &error) == 0);
	test_assert(as_policy_lookup(store, pool, &device, &policy,
				     &error) == 0);
	test_assert_strcmp(policy.values[len], "4");
	test_assert(policy.sources[len] == AS_POLICY_LEVEL_GLOBAL);

	/* state of the device */
	test_assert(as_store_policy_state_get(store, "u@example.com", "DEV1",
					      &state, &error) == 0);
	state.policy_hash = 1234;
	state.provisioned = 5678;
	state.pending_hash = 91011;
	test_assert(as_store_policy_state_put(store, "u@example.com", "DEV1",
					      &state, &error) == 1);
	i_zero(&state);
	test_assert(as_store_policy_state_get(store, "u@example.com", "DEV1",
					      &state, &error) == 1);
	test_assert(state.policy_hash == 1234 && state.provisioned == 5678 &&
		    state.pending_hash == 91011);

	/* recovery password: encrypted at rest, key file 0600 */
	test_assert(as_recovery_password_put(store, dir, "u@example.com",
					     "DEV1", "Secret-1234",
					     &error) == 0);
	test_assert(as_store_device_prop_get(store, pool, "u@example.com",
		"DEV1", AS_RECOVERY_PASSWORD_PROP, &value, &error) == 1);
	test_assert(strstr(value, "Secret") == NULL);
	test_assert(as_recovery_password_get(store, dir, pool,
					     "u@example.com", "DEV1",
					     &password, &error) == 1);
	test_assert_strcmp(password, "Secret-1234");
	{
		struct stat st;
		const char *path = t_strconcat(dir, "/",
			AS_RECOVERY_PASSWORD_KEY_FILE, NULL);

		test_assert(stat(path, &st) == 0 &&
			    (st.st_mode & 0777) == 0600);
	}

	/* removing the device removes its level, state and password */
	test_assert(as_store_device_remove(store, "u@example.com", "DEV1",
					   &error) >= 0);
	test_assert(as_policy_lookup(store, pool, &device, &policy,
				     &error) == 0);
	test_assert_strcmp(policy.values[cam], "1");
	test_assert(as_store_policy_state_get(store, "u@example.com", "DEV1",
					      &state, &error) == 0);
	test_assert(as_recovery_password_get(store, dir, pool,
					     "u@example.com", "DEV1",
					     &password, &error) == 0);
	as_store_close(&store);
	(void)unlink_directory(dir, UNLINK_DIRECTORY_FLAG_RMDIR, &error);
	pool_unref(&pool);
	test_end();
}

int main(void)
{
	static void (*const test_functions[])(void) = {
		test_policy_table,
		test_policy_values,
		test_policy_doc,
		test_policy_encoding_versions,
		test_policy_every_field,
		test_policy_resolve,
		test_policy_hash,
		test_policy_store,
		NULL
	};
	return test_run(test_functions);
}
