/* Copyright (c) the dovecot-activesync authors, see AUTHORS */

#include "lib.h"
#include "base64.h"
#include "buffer.h"
#include "str.h"
#include "test-common.h"
#include "as-request.h"

static void test_as_request_plain(void)
{
	struct as_request req;
	const char *error;

	test_begin("as_request plain query");
	test_assert(as_request_parse_query(pool_datastack_create(),
		"Cmd=Sync&User=user%40example.com&DeviceId=ABC123&DeviceType=iPhone",
		&req, &error) == 0);
	test_assert_strcmp(req.cmd, "Sync");
	test_assert_strcmp(req.user, "user@example.com");
	test_assert_strcmp(req.device_id, "ABC123");
	test_assert_strcmp(req.device_type, "iPhone");
	test_assert(!req.base64_form);

	test_assert(as_request_parse_query(pool_datastack_create(),
		"Cmd=SendMail&DeviceId=A&DeviceType=B&SaveInSent=T&ItemId=5%3A7",
		&req, &error) == 0);
	test_assert(req.save_in_sent);
	test_assert_strcmp(req.item_id, "5:7");

	/* case of parameter names doesn't matter, unknown ones are ignored */
	test_assert(as_request_parse_query(pool_datastack_create(),
		"cmd=Ping&deviceid=X&devicetype=Y&Foo=bar",
		&req, &error) == 0);
	test_assert_strcmp(req.cmd, "Ping");
	test_end();
}

static void test_as_request_plain_invalid(void)
{
	static const char *const bad[] = {
		"",
		"Cmd=Sync",
		"Cmd=Sync&DeviceId=A",
		"Cmd=Sync&DeviceType=B",
		"Cmd=&DeviceId=A&DeviceType=B",
		"Cmd=Sync&DeviceId=A&DeviceType=B&Bad%zz=1",
		"Cmd=Sync&DeviceId=A%0d%0aX&DeviceType=B",
		"Cmd=Sync&DeviceId&DeviceType=B",
	};
	struct as_request req;
	const char *error;
	unsigned int i;

	test_begin("as_request plain query: invalid");
	for (i = 0; i < N_ELEMENTS(bad); i++) {
		error = NULL;
		test_assert_idx(as_request_parse_query(pool_datastack_create(),
			bad[i], &req, &error) < 0, i);
		test_assert_idx(error != NULL, i);
	}
	test_end();
}

static const char *
test_base64_query(const unsigned char *data, size_t size)
{
	string_t *str = t_str_new(128);

	base64_encode(data, size, str);
	return str_c(str);
}

static void test_as_request_base64(void)
{
	/* 14.1, FolderSync (9), locale 0x0409, device id "DEV1", policy key
	   0x01020304, device type "SP", options SaveInSent, ItemId "3:9" */
	static const unsigned char query[] = {
		141, 9, 0x09, 0x04,
		4, 'D', 'E', 'V', '1',
		4, 0x04, 0x03, 0x02, 0x01,
		2, 'S', 'P',
		7, 1, 0x01,
		3, 3, '3', ':', '9',
	};
	struct as_request req;
	const char *error;

	test_begin("as_request base64 query");
	test_assert(as_request_parse_query(pool_datastack_create(),
		test_base64_query(query, sizeof(query)), &req, &error) == 0);
	test_assert(req.base64_form);
	test_assert(req.version == AS_VERSION_14_1);
	test_assert_strcmp(req.cmd, "FolderSync");
	test_assert_strcmp(req.device_id, "DEV1");
	test_assert_strcmp(req.device_type, "SP");
	test_assert(req.has_policy_key);
	test_assert(req.policy_key == 0x01020304);
	test_assert(req.save_in_sent);
	test_assert_strcmp(req.item_id, "3:9");
	test_end();
}

static void test_as_request_base64_invalid(void)
{
	static const unsigned char query[] = {
		141, 9, 0x09, 0x04,
		4, 'D', 'E', 'V', '1',
		4, 0x04, 0x03, 0x02, 0x01,
		2, 'S', 'P',
		7, 1, 0x01,
	};
	struct as_request req;
	const char *error;
	size_t len;

	test_begin("as_request base64 query: every truncation fails");
	/* cutting inside a field must fail; cutting exactly between the
	   device type and the parameters is a complete query */
	for (len = 1; len < sizeof(query); len++) {
		int ret = as_request_parse_query(pool_datastack_create(),
			test_base64_query(query, len), &req, &error);
		if (len == 17)
			test_assert_idx(ret == 0, len);
		else
			test_assert_idx(ret < 0, len);
	}
	test_assert(as_request_parse_query(pool_datastack_create(),
		"!!!notbase64", &req, &error) < 0);
	test_end();
}

static void test_as_request_base64_plus(void)
{
	/* device id bytes chosen so that the base64 text contains '+' and
	   '/': clients send '+' unescaped or as %2B, both must work */
	static const unsigned char query[] = {
		141, 18, 0x09, 0x04,
		4, 0x00, 0xfb, 0xff, 0xbf,
		0,
		2, 'S', 'P',
	};
	const char *b64, *escaped;
	struct as_request req;
	const char *error;

	test_begin("as_request base64 query with '+'");
	b64 = test_base64_query(query, sizeof(query));
	test_assert(strchr(b64, '+') != NULL && strchr(b64, '/') != NULL);
	test_assert(as_request_parse_query(pool_datastack_create(), b64,
					   &req, &error) == 0);
	test_assert_strcmp(req.cmd, "Ping");
	test_assert_strcmp(req.device_id, "00fbffbf");
	escaped = t_strconcat(t_strcut(b64, '+'), "%2B",
			      strchr(b64, '+') + 1, NULL);
	test_assert(as_request_parse_query(pool_datastack_create(), escaped,
					   &req, &error) == 0);
	test_assert_strcmp(req.device_id, "00fbffbf");
	test_end();
}

static void test_as_request_version(void)
{
	struct as_request req;

	test_begin("as_request versions");
	i_zero(&req);
	test_assert(as_request_set_version(&req, "16.1") == 0 &&
		    req.version == AS_VERSION_16_1);
	test_assert(as_request_set_version(&req, "12.0") == 0 &&
		    req.version == AS_VERSION_12_0);
	test_assert(as_request_set_version(&req, "2.5") < 0);
	test_assert(as_request_set_version(&req, "14") < 0);
	test_assert(as_request_set_version(&req, NULL) < 0);
	test_assert_strcmp(as_version_to_str(AS_VERSION_14_1), "14.1");
	test_assert(as_request_set_policy_key(&req, "3942919513") == 0 &&
		    req.has_policy_key && req.policy_key == 3942919513U);
	test_assert(as_request_set_policy_key(&req, "x1") < 0);
	test_assert(as_request_set_policy_key(&req, "99999999999") < 0);
	test_end();
}

static void test_as_version_list(void)
{
	test_begin("as_version_list (version cap)");
	test_assert_strcmp(as_version_list(AS_VERSION_16_1),
			   AS_SUPPORTED_VERSIONS);
	test_assert_strcmp(as_version_list(AS_VERSION_14_1),
			   "12.0,12.1,14.0,14.1");
	test_assert_strcmp(as_version_list(AS_VERSION_12_0), "12.0");
	test_assert_strcmp(as_version_list(as_version_parse("14.0")),
			   "12.0,12.1,14.0");
	test_end();
}

int main(void)
{
	static void (*const test_functions[])(void) = {
		test_as_request_plain,
		test_as_request_plain_invalid,
		test_as_request_base64,
		test_as_request_base64_invalid,
		test_as_request_base64_plus,
		test_as_request_version,
		test_as_version_list,
		NULL
	};
	return test_run(test_functions);
}
