/* Copyright (c) the dovecot-activesync authors, see AUTHORS */

#include "lib.h"
#include "str.h"
#include "test-common.h"
#include "oof/as-oof.h"

static void test_oof_round_trip(void)
{
	struct as_oof oof, parsed;
	const char *const known[] = { "friend@example.org", NULL };
	string_t *script = t_str_new(1024);

	test_begin("oof script round trip");
	i_zero(&oof);
	oof.state = AS_OOF_STATE_TIME_BASED;
	oof.start = 1700000000;
	oof.end = 1700086400;
	oof.previous_script = "my \"rules\"";
	oof.messages[AS_OOF_AUDIENCE_INTERNAL] = (struct as_oof_message){
		.present = TRUE, .enabled = TRUE,
		.message = "Back \"soon\"\\\nline two" };
	oof.messages[AS_OOF_AUDIENCE_EXTERNAL_KNOWN] = (struct as_oof_message){
		.present = TRUE, .enabled = TRUE, .html = TRUE,
		.message = "<p>Known</p>" };
	oof.messages[AS_OOF_AUDIENCE_EXTERNAL_UNKNOWN] = (struct as_oof_message){
		.present = TRUE, .enabled = FALSE, .message = "" };
	as_oof_script_write(&oof, "example.com", known, script);

	test_assert(as_oof_script_parse(str_c(script), &parsed) == 1);
	test_assert(parsed.state == AS_OOF_STATE_TIME_BASED);
	test_assert(parsed.start == oof.start && parsed.end == oof.end);
	test_assert_strcmp(parsed.previous_script, "my \"rules\"");
	test_assert_strcmp(parsed.messages[0].message,
			   "Back \"soon\"\\\nline two");
	test_assert(parsed.messages[0].enabled && !parsed.messages[0].html);
	test_assert(parsed.messages[1].html && parsed.messages[1].enabled);
	test_assert(parsed.messages[2].present && !parsed.messages[2].enabled);

	/* the Sieve side: quoting, the window, the audiences */
	test_assert(strstr(str_c(script),
		"\"Back \\\"soon\\\"\\\\\nline two\"") != NULL);
	test_assert(strstr(str_c(script), "\"2023-11-14T22:13:20Z\"") != NULL);
	test_assert(strstr(str_c(script),
		"address :domain :is \"from\" \"example.com\"") != NULL);
	test_assert(strstr(str_c(script),
		"elsif address :is \"from\" [\"friend@example.org\"]") != NULL);
	test_assert(strstr(str_c(script), " else {") == NULL);
	test_assert(strstr(str_c(script),
		"include :personal :optional \"my \\\"rules\\\"\"") != NULL);
	test_end();
}

static void test_oof_not_ours(void)
{
	struct as_oof oof;

	test_begin("oof script not ours");
	test_assert(as_oof_script_parse("require \"vacation\";\n", &oof) == 0);
	test_assert(as_oof_script_parse(AS_OOF_SCRIPT_MAGIC"1\n"
					"# state: 9\n", &oof) == 0);
	test_assert(as_oof_script_parse(AS_OOF_SCRIPT_MAGIC"1\n"
					"# state: 1\n"
					"# internal: 1 text !!!\n", &oof) == 0);
	test_assert(as_oof_script_parse(AS_OOF_SCRIPT_MAGIC"1\n"
					"# state: 2\n# start: 5\n# end: 4\n",
					&oof) == 0);
	test_assert(as_oof_script_parse(AS_OOF_SCRIPT_MAGIC"1\n"
					"# state: 0\n# future-key: x\n",
					&oof) == 1);
	test_assert(oof.state == AS_OOF_STATE_DISABLED);
	test_end();
}

static void test_oof_message_as(void)
{
	struct as_oof_message text = { .present = TRUE,
		.message = "a < b & c\nnext" };
	struct as_oof_message html = { .present = TRUE, .html = TRUE,
		.message = "<p>Hello <b>there</b></p>" };
	const char *out;

	test_begin("oof message conversion");
	test_assert_strcmp(as_oof_message_as(&text, FALSE), text.message);
	test_assert_strcmp(as_oof_message_as(&text, TRUE),
		"<html><body>a &lt; b &amp; c<br>\nnext</body></html>");
	out = as_oof_message_as(&html, FALSE);
	test_assert(strstr(out, "Hello there") != NULL);
	test_assert(strchr(out, '<') == NULL);
	test_end();
}

int main(void)
{
	static void (*const tests[])(void) = {
		test_oof_round_trip,
		test_oof_not_ours,
		test_oof_message_as,
		NULL
	};
	return test_run(tests);
}
