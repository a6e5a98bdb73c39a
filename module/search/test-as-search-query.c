/* Copyright (c) dovecot-activesync authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "buffer.h"
#include "base64.h"
#include "test-common.h"
#include "mail-search.h"
#include "wbxml.h"
#include "search/as-search-query.h"

/* Encode <Query>...</Query> with the writer and decode it again. */
static struct wbxml_node *
query_tree(pool_t pool, void (*fill)(struct wbxml_writer *w, void *context),
	   void *context)
{
	buffer_t *buf = t_buffer_create(256);
	struct wbxml_writer *w = wbxml_writer_init(buf);
	struct wbxml_node *root = NULL;
	const char *error = NULL;

	wbxml_start(w, EAS_SEARCH_QUERY);
	fill(w, context);
	wbxml_end(w);
	wbxml_writer_deinit(&w);
	if (wbxml_decode(pool, buf->data, buf->used, NULL, &root,
			 &error) < 0)
		i_fatal("wbxml_decode: %s", error);
	return root;
}

/* Each test function has its own pool for trees and collection ids */
static pool_t test_pool;

static enum as_search_query_result
parse(void (*fill)(struct wbxml_writer *w, void *context), void *context,
      struct as_search_query *query_r)
{
	struct wbxml_node *query = query_tree(test_pool, fill, context);
	enum as_search_query_result ret;
	const char *error = NULL;

	ret = as_search_query_parse(test_pool, query, query_r, &error);
	test_assert((ret == AS_SEARCH_QUERY_OK) == (error == NULL));
	test_assert(ret == AS_SEARCH_QUERY_OK || query_r->args == NULL);
	return ret;
}

static void query_test_begin(const char *name)
{
	test_begin(name);
	test_pool = pool_alloconly_create("test search query", 4096);
}

static void query_test_end(void)
{
	pool_unref(&test_pool);
	test_end();
}

static void date_term(struct wbxml_writer *w, unsigned int tag,
		      const char *value)
{
	wbxml_start(w, tag);
	wbxml_empty(w, EAS_EMAIL_DATERECEIVED);
	wbxml_elem_str(w, EAS_SEARCH_VALUE, value);
	wbxml_end(w);
}

static void fill_device_query(struct wbxml_writer *w,
			      void *context ATTR_UNUSED)
{
	wbxml_start(w, EAS_SEARCH_AND);
	wbxml_elem_str(w, EAS_AIRSYNC_CLASS, "Email");
	wbxml_elem_str(w, EAS_AIRSYNC_COLLECTIONID, "5");
	wbxml_elem_str(w, EAS_AIRSYNC_COLLECTIONID, "7");
	wbxml_elem_str(w, EAS_SEARCH_FREETEXT, "  budget\tplan ");
	date_term(w, EAS_SEARCH_GREATERTHAN, "2024-01-02T03:04:05.000Z");
	date_term(w, EAS_SEARCH_LESSTHAN, "2024-02-01T00:00:00.000Z");
	wbxml_end(w);
}

static void test_device_query(void)
{
	struct as_search_query q;
	const struct mail_search_arg *and, *arg, *word;
	const char *const *ids;

	query_test_begin("search query: And of class, scope, words, dates");
	test_assert(parse(fill_device_query, NULL, &q) == AS_SEARCH_QUERY_OK);
	ids = array_front(&q.collection_ids);
	test_assert(array_count(&q.collection_ids) == 2 &&
		    strcmp(ids[0], "5") == 0 && strcmp(ids[1], "7") == 0);
	and = q.args->args;
	test_assert(and->type == SEARCH_SUB && and->next == NULL);
	arg = and->value.subargs;
	/* Class Email: matches everything */
	test_assert(arg->type == SEARCH_ALL && !arg->match_not);
	arg = arg->next;
	/* FreeText: every word */
	test_assert(arg->type == SEARCH_SUB);
	word = arg->value.subargs;
	test_assert(word->type == SEARCH_TEXT &&
		    strcmp(word->value.str, "budget") == 0);
	word = word->next;
	test_assert(word->type == SEARCH_TEXT &&
		    strcmp(word->value.str, "plan") == 0 &&
		    word->next == NULL);
	arg = arg->next;
	/* GreaterThan is strict: since one second later */
	test_assert(arg->type == SEARCH_SINCE &&
		    arg->value.time == 1704164645 + 1 &&
		    arg->value.date_type == MAIL_SEARCH_DATE_TYPE_RECEIVED &&
		    (arg->value.search_flags &
		     MAIL_SEARCH_ARG_FLAG_UTC_TIMES) != 0);
	arg = arg->next;
	test_assert(arg->type == SEARCH_BEFORE &&
		    arg->value.time == 1706745600 && arg->next == NULL);
	mail_search_args_unref(&q.args);
	query_test_end();
}

static void fill_other_class(struct wbxml_writer *w, void *context ATTR_UNUSED)
{
	wbxml_elem_str(w, EAS_AIRSYNC_CLASS, "SMS");
	wbxml_elem_str(w, EAS_AIRSYNC_COLLECTIONID, "3");
}

static void fill_scope_only(struct wbxml_writer *w, void *context ATTR_UNUSED)
{
	wbxml_start(w, EAS_SEARCH_AND);
	wbxml_elem_str(w, EAS_AIRSYNC_COLLECTIONID, "3");
	wbxml_end(w);
}

static void fill_conversation(struct wbxml_writer *w,
			      void *context ATTR_UNUSED)
{
	unsigned char id[16];
	unsigned int i;

	for (i = 0; i < sizeof(id); i++)
		id[i] = 0xf0 + i;
	wbxml_elem_opaque(w, EAS_SEARCH_CONVERSATIONID, id, sizeof(id));
}

static void fill_conversation_in_or(struct wbxml_writer *w, void *context)
{
	wbxml_start(w, EAS_SEARCH_OR);
	wbxml_elem_str(w, EAS_SEARCH_FREETEXT, "x");
	fill_conversation(w, context);
	wbxml_end(w);
}

static void test_single_terms(void)
{
	struct as_search_query q;
	const struct mail_search_arg *arg;
	unsigned char id[16];
	unsigned int i;

	query_test_begin("search query: class, scope only, conversation");
	test_assert(parse(fill_other_class, NULL, &q) == AS_SEARCH_QUERY_OK);
	arg = q.args->args;
	test_assert(arg->type == SEARCH_ALL && arg->match_not &&
		    arg->next == NULL);
	test_assert(array_count(&q.collection_ids) == 1);
	mail_search_args_unref(&q.args);

	test_assert(parse(fill_scope_only, NULL, &q) == AS_SEARCH_QUERY_OK);
	arg = q.args->args;
	test_assert(arg->type == SEARCH_SUB &&
		    arg->value.subargs->type == SEARCH_ALL &&
		    !arg->value.subargs->match_not);
	mail_search_args_unref(&q.args);

	/* ConversationId: no search argument (everything else in scope),
	   the id is checked per message */
	test_assert(parse(fill_conversation, NULL, &q) == AS_SEARCH_QUERY_OK);
	for (i = 0; i < sizeof(id); i++)
		id[i] = 0xf0 + i;
	arg = q.args->args;
	test_assert(arg->type == SEARCH_ALL && !arg->match_not &&
		    arg->next == NULL);
	test_assert(q.conversation_ids != NULL &&
		    q.conversation_ids->used == sizeof(id) &&
		    memcmp(q.conversation_ids->data, id, sizeof(id)) == 0);
	test_assert(as_search_query_conversation_match(&q, id));
	id[15] ^= 1;
	test_assert(!as_search_query_conversation_match(&q, id));
	mail_search_args_unref(&q.args);

	/* a query without one accepts any conversation */
	test_assert(parse(fill_scope_only, NULL, &q) == AS_SEARCH_QUERY_OK);
	test_assert(q.conversation_ids == NULL &&
		    as_search_query_conversation_match(&q, id));
	mail_search_args_unref(&q.args);

	/* under an Or it can't be checked per message: too complex */
	test_assert(parse(fill_conversation_in_or, NULL, &q) ==
		    AS_SEARCH_QUERY_TOO_COMPLEX);
	query_test_end();
}

/* Nested And, *context levels deep, around one FreeText */
static void fill_nested(struct wbxml_writer *w, void *context)
{
	unsigned int i, depth = *(unsigned int *)context;

	for (i = 0; i < depth; i++)
		wbxml_start(w, i % 2 == 0 ? EAS_SEARCH_AND : EAS_SEARCH_OR);
	wbxml_elem_str(w, EAS_SEARCH_FREETEXT, "x");
	for (i = 0; i < depth; i++)
		wbxml_end(w);
}

static void fill_words(struct wbxml_writer *w, void *context)
{
	unsigned int i, count = *(unsigned int *)context;
	string_t *str = t_str_new(256);

	for (i = 0; i < count; i++)
		str_printfa(str, "w%u ", i);
	wbxml_elem_str(w, EAS_SEARCH_FREETEXT, str_c(str));
}

static void fill_long_text(struct wbxml_writer *w, void *context)
{
	unsigned int size = *(unsigned int *)context;
	string_t *str = t_str_new(size);

	while (str_len(str) < size)
		str_append_c(str, 'a');
	wbxml_elem_str(w, EAS_SEARCH_FREETEXT, str_c(str));
}

static void test_limits(void)
{
	struct as_search_query q;
	unsigned int n;

	query_test_begin("search query: limits answer too complex");
	n = AS_SEARCH_MAX_DEPTH;
	test_assert(parse(fill_nested, &n, &q) == AS_SEARCH_QUERY_OK);
	mail_search_args_unref(&q.args);
	n = AS_SEARCH_MAX_DEPTH + 1;
	test_assert(parse(fill_nested, &n, &q) ==
		    AS_SEARCH_QUERY_TOO_COMPLEX);
	n = AS_SEARCH_MAX_TERMS;
	test_assert(parse(fill_words, &n, &q) == AS_SEARCH_QUERY_OK);
	mail_search_args_unref(&q.args);
	n = AS_SEARCH_MAX_TERMS + 1;
	test_assert(parse(fill_words, &n, &q) == AS_SEARCH_QUERY_TOO_COMPLEX);
	n = AS_SEARCH_MAX_FREETEXT;
	test_assert(parse(fill_long_text, &n, &q) == AS_SEARCH_QUERY_OK);
	mail_search_args_unref(&q.args);
	n = AS_SEARCH_MAX_FREETEXT + 1;
	test_assert(parse(fill_long_text, &n, &q) ==
		    AS_SEARCH_QUERY_TOO_COMPLEX);
	query_test_end();
}

static void fill_bad(struct wbxml_writer *w, void *context)
{
	static const unsigned char bad_utf8[] = { 'a', 0xff, 'b' };
	static const unsigned char short_id[] = { 1, 2, 3 };

	switch (*(unsigned int *)context) {
	case 0:		/* empty Query */
		break;
	case 1:
		wbxml_empty(w, EAS_SEARCH_AND);
		break;
	case 2:
		wbxml_elem_str(w, EAS_SEARCH_FREETEXT, " \t ");
		break;
	case 3:
		wbxml_start(w, EAS_SEARCH_FREETEXT);
		wbxml_text_n(w, bad_utf8, sizeof(bad_utf8));
		wbxml_end(w);
		break;
	case 4:
		date_term(w, EAS_SEARCH_LESSTHAN, "2024-13-45");
		break;
	case 5:
		wbxml_start(w, EAS_SEARCH_GREATERTHAN);
		wbxml_empty(w, EAS_EMAIL_DATERECEIVED);
		wbxml_end(w);
		break;
	case 6:
		wbxml_start(w, EAS_SEARCH_LESSTHAN);
		wbxml_empty(w, EAS_EMAIL_SUBJECT);
		wbxml_elem_str(w, EAS_SEARCH_VALUE, "x");
		wbxml_end(w);
		break;
	case 7:
		wbxml_start(w, EAS_SEARCH_OR);
		wbxml_elem_str(w, EAS_AIRSYNC_COLLECTIONID, "1");
		wbxml_end(w);
		break;
	case 8:
		wbxml_start(w, EAS_SEARCH_EQUALTO);
		wbxml_elem_str(w, EAS_SEARCH_VALUE, "x");
		wbxml_end(w);
		break;
	case 9:
		wbxml_elem_opaque(w, EAS_SEARCH_CONVERSATIONID, short_id,
				  sizeof(short_id));
		break;
	case 10:
		wbxml_elem_str(w, EAS_SEARCH_RANGE, "0-9");
		break;
	case 11:
		wbxml_empty(w, EAS_AIRSYNC_COLLECTIONID);
		break;
	}
}

static void test_invalid(void)
{
	struct as_search_query q;
	unsigned int i;

	query_test_begin("search query: malformed queries are invalid");
	for (i = 0; i <= 11; i++) {
		test_assert_idx(parse(fill_bad, &i, &q) ==
				AS_SEARCH_QUERY_INVALID, i);
	}
	query_test_end();
}

int main(void)
{
	static void (*const test_functions[])(void) = {
		test_device_query,
		test_single_terms,
		test_limits,
		test_invalid,
		NULL
	};
	return test_run(test_functions);
}
