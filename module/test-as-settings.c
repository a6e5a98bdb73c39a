/* Copyright (c) the dovecot-activesync authors, see AUTHORS */

#include "lib.h"
#include "array.h"
#include "settings-parser.h"
#include "mail-storage-settings.h"
#include "test-common.h"
#include "as-settings.h"

/* Parse key=value lines with Dovecot's parser over our definitions, the
   way doveconf and the service do; returns the parser's error or NULL */
static const char *
parse_lines(pool_t pool, const char *const *lines, struct as_settings **set_r)
{
	struct setting_parser_context *parser;
	const char *error = NULL;

	parser = settings_parser_init(pool, &as_setting_parser_info, 0);
	for (; *lines != NULL; lines++) {
		if (settings_parse_line(parser, *lines) <= 0) {
			error = p_strdup(pool, settings_parser_get_error(parser));
			break;
		}
	}
	if (error == NULL && !settings_parser_check(parser, pool, &error))
		error = p_strdup(pool, error);
	*set_r = settings_parser_get(parser);
	settings_parser_deinit(&parser);
	return error;
}

static void test_as_settings_parse(void)
{
	static const char *const ok[] = {
		"activesync_ping_min_heartbeat=2 mins",
		"activesync_max_send_size=10M",
		"activesync_search_timeout=500 ms",
		/* a bare number is seconds */
		"activesync_ping_max_heartbeat=900",
		"activesync_max_mail_age=2 weeks",
		"activesync_special_folders=no",
		"activesync_max_devices=3",
		"activesync_device_access=Quarantine",
		NULL
	};
	static const struct {
		const char *line, *name;
	} bad[] = {
		{ "activesync_max_send_size=-1", "activesync_max_send_size" },
		{ "activesync_max_request_size=10 parsecs",
		  "activesync_max_request_size" },
		{ "activesync_ping_max_heartbeat=10 parsecs",
		  "activesync_ping_max_heartbeat" },
		{ "activesync_search_timeout=-1 s", "activesync_search_timeout" },
		{ "activesync_max_window_size=many", "activesync_max_window_size" },
		{ "activesync_provisioning=maybe", "activesync_provisioning" },
		{ "activesync_enabled=perhaps", "activesync_enabled" },
		{ "activesync_max_devices=-2", "activesync_max_devices" },
		{ "activesync_device_access=deny", "activesync_device_access" },
	};
	pool_t pool = pool_alloconly_create("test settings", 4096);
	struct as_settings *set;
	const char *line[2] = { NULL, NULL };
	unsigned int i;

	test_begin("settings parse");
	test_assert(parse_lines(pool, ok, &set) == NULL);
	test_assert(set->ping_min_heartbeat == 120);
	test_assert(set->ping_max_heartbeat == 900);
	test_assert(set->max_request_size == 32 * 1024 * 1024);
	test_assert(set->auth_cache_ttl == 300);
	test_assert(set->max_window_size == 512);
	test_assert(!set->debug);
	test_assert(set->max_send_size == 10 * 1024 * 1024);
	test_assert(set->search_timeout_msecs == 500);
	test_assert(set->max_mail_age == 14 * 24 * 3600);
	test_assert(!set->special_folders);
	test_assert(set->provisioning);
	test_assert(set->enabled);
	test_assert(set->max_devices == 3);
	test_assert_strcmp(set->device_access, "Quarantine");
	for (i = 0; i < N_ELEMENTS(bad); i++) {
		const char *error;

		line[0] = bad[i].line;
		error = parse_lines(pool, line, &set);
		test_assert_idx(error != NULL &&
				strstr(error, bad[i].name) != NULL, i);
	}
	pool_unref(&pool);
	test_end();
}

static void test_as_settings_tables(void)
{
	const struct as_setting_value *v;
	const struct setting_define *def;
	unsigned int n_text = 0;

	test_begin("settings tables");
	for (v = as_setting_values; v->key != NULL; v++) {
		for (def = as_setting_parser_info.defines; def->key != NULL;
		     def++) {
			if (strcmp(def->key, v->key) == 0)
				break;
		}
		test_assert_idx(def->key != NULL &&
				def->offset == v->text_offset, n_text);
		n_text++;
	}
	test_assert(n_text == sizeof(as_default_settings.text) /
		    sizeof(const char *));
	test_end();
}

static void test_as_settings_check(void)
{
	static const struct {
		const char *const lines[3];
		const char *error;
	} tests[] = {
		{ { "activesync_ping_min_heartbeat=10 mins",
		    "activesync_ping_max_heartbeat=5 mins" },
		  "activesync_ping_min_heartbeat (600 s) must not be larger "
		  "than activesync_ping_max_heartbeat (300 s)" },
		/* equal bounds are fine */
		{ { "activesync_ping_min_heartbeat=5 mins",
		    "activesync_ping_max_heartbeat=5 mins" }, NULL },
		{ { "activesync_ping_min_heartbeat=0" },
		  "activesync_ping_min_heartbeat must be > 0" },
		{ { "activesync_ping_max_folders=0" },
		  "activesync_ping_max_folders must be > 0" },
		{ { "activesync_max_window_size=0" },
		  "activesync_max_window_size must be > 0" },
		{ { "activesync_search_timeout=0" },
		  "activesync_search_timeout must be > 0" },
	};
	pool_t pool = pool_alloconly_create("test settings", 4096);
	struct as_settings *set;
	unsigned int i;

	test_begin("settings check");
	for (i = 0; i < N_ELEMENTS(tests); i++) {
		const char *error = parse_lines(pool, tests[i].lines, &set);

		test_assert_idx(null_strcmp(error, tests[i].error) == 0, i);
	}
	pool_unref(&pool);
	test_end();
}

static void test_as_settings_plugin(void)
{
	static const char *const userdb_fields[] = {
		"activesync_ping_min_heartbeat=1 min", "home=/h", NULL
	};
	pool_t pool = pool_alloconly_create("test settings", 4096);
	struct mail_user_settings user_set;
	struct as_settings parsed, set;
	const char *error;

	i_zero(&user_set);
	p_array_init(&user_set.plugin_envs, pool, 8);
	parsed = as_default_settings;
	/* top-level: changed, so plugin { } is not read for it */
	parsed.text.max_window_size = "100";

	test_begin("settings plugin { } fallback");
	array_push_back(&user_set.plugin_envs,
			&(const char *){ "activesync_max_window_size" });
	array_push_back(&user_set.plugin_envs, &(const char *){ "7" });
	/* a bare number is seconds there */
	array_push_back(&user_set.plugin_envs,
			&(const char *){ "activesync_ping_min_heartbeat" });
	array_push_back(&user_set.plugin_envs, &(const char *){ "90" });
	array_push_back(&user_set.plugin_envs,
			&(const char *){ "activesync_notify_socket" });
	array_push_back(&user_set.plugin_envs, &(const char *){ "/run/n" });
	test_expect_error_string("activesync_ping_min_heartbeat");
	test_assert(as_settings_read(&parsed, &user_set, NULL, "/base",
				     "/state", pool, &set, &error) == 0);
	test_expect_no_more_errors();
	test_assert(set.max_window_size == 100);
	test_assert(set.ping_min_heartbeat == 90);
	test_assert(strcmp(set.notify_socket, "/run/n") == 0);
	test_assert(strcmp(set.state_dir, "/state/activesync") == 0);
	test_assert(strcmp(set.auth_socket_path, "/base/auth-activesync") == 0);
	test_assert(set.sender_domain == NULL);

	/* a userdb field wins over plugin { }, even with the default */
	parsed.text.ping_min_heartbeat = "1 min";
	test_assert(as_settings_read(&parsed, &user_set, userdb_fields,
				     "/base", "/state", pool, &set,
				     &error) == 0);
	test_assert(set.ping_min_heartbeat == 60);

	/* plugin { } values are checked too; warned only once */
	array_push_back(&user_set.plugin_envs,
			&(const char *){ "activesync_ping_max_heartbeat" });
	array_push_back(&user_set.plugin_envs, &(const char *){ "1m" });
	test_assert(as_settings_read(&parsed, &user_set, NULL, "/base",
				     "/state", pool, &set, &error) < 0 &&
		    strstr(error, "activesync_ping_max_heartbeat") != NULL);
	pool_unref(&pool);
	test_end();
}

int main(void)
{
	static void (*const test_functions[])(void) = {
		test_as_settings_tables,
		test_as_settings_parse,
		test_as_settings_check,
		test_as_settings_plugin,
		NULL
	};
	return test_run(test_functions);
}
