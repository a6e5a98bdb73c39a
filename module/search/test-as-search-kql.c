/* Copyright (c) dovecot-activesync authors, see the included COPYING file */

#include "lib.h"
#include "str.h"
#include "test-common.h"
#include "mail-search.h"
#include "mail-search-build.h"
#include "search/as-search-kql.h"

static enum as_search_query_result
kql(const char *text, struct mail_search_args **args_r,
    enum as_search_kql_attachments *att_r)
{
	const char *error;

	*args_r = mail_search_build_init();
	return as_search_kql_parse(*args_r, text, att_r, &error);
}

static unsigned int arg_count(const struct mail_search_arg *arg)
{
	unsigned int n = 0;

	for (; arg != NULL; arg = arg->next)
		n++;
	return n;
}

/* mail_search_build_add() prepends: look terms up by type */
static const struct mail_search_arg *
arg_find(const struct mail_search_args *args, enum mail_search_arg_type type)
{
	const struct mail_search_arg *arg;

	for (arg = args->args; arg != NULL; arg = arg->next) {
		if (arg->type == type)
			return arg;
	}
	return NULL;
}

static void test_kql_terms(void)
{
	struct mail_search_args *args;
	enum as_search_kql_attachments att;
	const struct mail_search_arg *arg;

	test_begin("kql terms");
	test_assert(kql("from:bob@x.test subject:\"two words\" plain",
			&args, &att) == AS_SEARCH_QUERY_OK);
	test_assert(att == AS_SEARCH_KQL_ATTACHMENTS_ANY);
	test_assert(arg_count(args->args) == 3);
	arg = arg_find(args, SEARCH_HEADER_ADDRESS);
	test_assert(arg != NULL && strcmp(arg->hdr_field_name, "From") == 0 &&
		    strcmp(arg->value.str, "bob@x.test") == 0);
	arg = arg_find(args, SEARCH_HEADER);
	test_assert(arg != NULL && strcmp(arg->hdr_field_name, "Subject") == 0 &&
		    strcmp(arg->value.str, "two words") == 0);
	arg = arg_find(args, SEARCH_TEXT);
	test_assert(arg != NULL && strcmp(arg->value.str, "plain") == 0);
	mail_search_args_unref(&args);

	/* a property we don't know stays a word */
	test_assert(kql("http://x.test AND hasattachments:yes", &args,
			&att) == AS_SEARCH_QUERY_OK);
	test_assert(att == AS_SEARCH_KQL_ATTACHMENTS_SOME);
	test_assert(arg_count(args->args) == 1 &&
		    args->args->type == SEARCH_TEXT &&
		    strcmp(args->args->value.str, "http://x.test") == 0);
	mail_search_args_unref(&args);
	test_end();
}

static void test_kql_dates(void)
{
	struct mail_search_args *args;
	enum as_search_kql_attachments att;
	const struct mail_search_arg *arg;

	test_begin("kql received dates");
	/* 2025-01-15 00:00 UTC = 1736899200 */
	test_assert(kql("received>2025-01-15", &args, &att) ==
		    AS_SEARCH_QUERY_OK);
	arg = args->args;
	test_assert(arg->type == SEARCH_SINCE &&
		    arg->value.time == 1736899200 + 86400 &&
		    arg->value.date_type == MAIL_SEARCH_DATE_TYPE_RECEIVED);
	mail_search_args_unref(&args);

	test_assert(kql("received:1/15/2025", &args, &att) ==
		    AS_SEARCH_QUERY_OK);
	test_assert(arg_count(args->args) == 2);
	arg = arg_find(args, SEARCH_SINCE);
	test_assert(arg != NULL && arg->value.time == 1736899200);
	arg = arg_find(args, SEARCH_BEFORE);
	test_assert(arg != NULL && arg->value.time == 1736899200 + 86400);
	mail_search_args_unref(&args);

	test_assert(kql("received:2025-01-15..2025-01-14", &args, &att) ==
		    AS_SEARCH_QUERY_INVALID);
	mail_search_args_unref(&args);
	test_end();
}

static void test_kql_bad(void)
{
	static const char *const bad[] = {
		"", "   ", "\"open", "a OR b", "NOT a", "received>=soon",
		"received<", "hasattachments:maybe", "from:",
		"received>=2025-13-01",
	};
	struct mail_search_args *args;
	enum as_search_kql_attachments att;
	string_t *many = t_str_new(256);
	unsigned int i;

	test_begin("kql bad input");
	for (i = 0; i < N_ELEMENTS(bad); i++) {
		test_assert_idx(kql(bad[i], &args, &att) ==
				AS_SEARCH_QUERY_INVALID, i);
		mail_search_args_unref(&args);
	}
	for (i = 0; i <= AS_SEARCH_MAX_TERMS; i++)
		str_append(many, "w ");
	test_assert(kql(str_c(many), &args, &att) ==
		    AS_SEARCH_QUERY_TOO_COMPLEX);
	mail_search_args_unref(&args);
	test_assert(kql("caf\xc3", &args, &att) == AS_SEARCH_QUERY_INVALID);
	mail_search_args_unref(&args);
	test_end();
}

int main(void)
{
	static void (*const tests[])(void) = {
		test_kql_terms,
		test_kql_dates,
		test_kql_bad,
		NULL
	};
	return test_run(tests);
}
