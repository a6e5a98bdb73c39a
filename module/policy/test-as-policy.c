/* Copyright (c) the dovecot-activesync authors, see AUTHORS */

#include "lib.h"
#include "buffer.h"
#include "test-common.h"
#include "wbxml.h"
#include "as-request.h"
#include "as-policy.h"

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
	test_assert(as_policy_settings_count == 42);
	for (i = 0; i < as_policy_settings_count; i++) {
		const struct as_policy_setting *s = &as_policy_settings[i];
		const char *error;

		/* the name is the codec's element name */
		test_assert_idx(strcmp(wbxml_tag_name(s->tag), s->name) == 0,
				i);
		/* every default is valid */
		test_assert_idx(as_policy_value_check(s, s->default_value,
						      &error) == 0, i);
		test_assert_idx(s->min_version == AS_VERSION_12_0 ||
				s->min_version == AS_VERSION_12_1, i);
		for (j = i + 1; j < as_policy_settings_count; j++)
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
	test_assert(count_children(root) == as_policy_settings_count);
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

int main(void)
{
	static void (*const test_functions[])(void) = {
		test_policy_table,
		test_policy_values,
		test_policy_doc,
		NULL
	};
	return test_run(test_functions);
}
