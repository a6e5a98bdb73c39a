/* Copyright (c) dovecot-activesync authors, see the included COPYING file */

/* Search (Mailbox store) Query -> mail_search_args. */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "unichar.h"
#include "iso8601-date.h"
#include "mail-search-build.h"
#include "wbxml.h"
#include "items/as-conversation.h"
#include "search/as-search-query.h"

struct query_parser {
	pool_t pool;		/* the search args' pool */
	pool_t id_pool;		/* the caller's, for collection_ids */
	struct as_search_query *query;
	unsigned int terms;
	const char *error;
	enum as_search_query_result result;
};

static bool
parse_fail(struct query_parser *p, enum as_search_query_result result,
	   const char *error)
{
	if (p->result == AS_SEARCH_QUERY_OK) {
		p->result = result;
		p->error = error;
	}
	return FALSE;
}

static bool invalid(struct query_parser *p, const char *error)
{
	return parse_fail(p, AS_SEARCH_QUERY_INVALID, error);
}

static struct mail_search_arg *
arg_append(struct query_parser *p, struct mail_search_arg ***tailp,
	   enum mail_search_arg_type type)
{
	struct mail_search_arg *arg;

	arg = p_new(p->pool, struct mail_search_arg, 1);
	arg->type = type;
	**tailp = arg;
	*tailp = &arg->next;
	return arg;
}

static bool count_term(struct query_parser *p)
{
	if (++p->terms > AS_SEARCH_MAX_TERMS) {
		return parse_fail(p, AS_SEARCH_QUERY_TOO_COMPLEX,
			t_strdup_printf("More than %u search terms",
					AS_SEARCH_MAX_TERMS));
	}
	return TRUE;
}

static bool is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Every word must occur somewhere in the message (headers or body). */
static bool
parse_freetext(struct query_parser *p, const struct wbxml_node *node,
	       struct mail_search_arg ***tailp)
{
	struct mail_search_arg *sub, **subtail;
	const char *text = wbxml_node_text(node), *start;
	bool have_word = FALSE;

	if (node->opaque || node->data_size != strlen(text))
		return invalid(p, "FreeText is not a text string");
	if (node->data_size > AS_SEARCH_MAX_FREETEXT) {
		return parse_fail(p, AS_SEARCH_QUERY_TOO_COMPLEX,
			t_strdup_printf("FreeText longer than %u bytes",
					AS_SEARCH_MAX_FREETEXT));
	}
	if (!uni_utf8_str_is_valid(text))
		return invalid(p, "FreeText is not valid UTF-8");

	sub = arg_append(p, tailp, SEARCH_SUB);
	subtail = &sub->value.subargs;
	while (*text != '\0') {
		struct mail_search_arg *arg;

		while (is_space(*text))
			text++;
		if (*text == '\0')
			break;
		start = text;
		while (*text != '\0' && !is_space(*text))
			text++;
		if (!count_term(p))
			return FALSE;
		arg = arg_append(p, &subtail, SEARCH_TEXT);
		arg->value.str = p_strndup(p->pool, start, text - start);
		have_word = TRUE;
	}
	if (!have_word)
		return invalid(p, "Empty FreeText");
	return TRUE;
}

static bool
parse_class(struct query_parser *p, const struct wbxml_node *node,
	    struct mail_search_arg ***tailp)
{
	struct mail_search_arg *arg;

	if (!count_term(p))
		return FALSE;
	arg = arg_append(p, tailp, SEARCH_ALL);
	/* every message of a mail folder is an Email; other classes (SMS,
	   Calendar, ...) have nothing in this store */
	arg->match_not = strcmp(wbxml_node_text(node), "Email") != 0;
	return TRUE;
}

/* GreaterThan / LessThan: <email:DateReceived/> and <Value>date</Value> */
static bool
parse_compare(struct query_parser *p, const struct wbxml_node *node,
	      struct mail_search_arg ***tailp)
{
	const struct wbxml_node *child;
	const char *value = NULL;
	bool have_property = FALSE;
	struct mail_search_arg *arg;
	time_t t;
	int tz;

	wbxml_node_foreach_child(node, child) {
		switch (child->tag) {
		case EAS_EMAIL_DATERECEIVED:
			if (have_property)
				return invalid(p, "Repeated DateReceived");
			have_property = TRUE;
			break;
		case EAS_SEARCH_VALUE:
			if (value != NULL)
				return invalid(p, "Repeated Value");
			value = wbxml_node_text(child);
			break;
		default:
			return invalid(p, t_strdup_printf(
				"Unsupported %s property %s",
				wbxml_tag_describe(node->tag),
				wbxml_tag_describe(child->tag)));
		}
	}
	if (!have_property || value == NULL) {
		return invalid(p, t_strdup_printf(
			"%s needs email:DateReceived and Value",
			wbxml_tag_describe(node->tag)));
	}
	if (!iso8601_date_parse((const unsigned char *)value, strlen(value),
				&t, &tz))
		return invalid(p, "Invalid date Value");
	if (!count_term(p))
		return FALSE;
	if (node->tag == EAS_SEARCH_GREATERTHAN) {
		/* received dates are whole seconds: > t is >= t+1 */
		arg = arg_append(p, tailp, SEARCH_SINCE);
		arg->value.time = t + 1;
	} else {
		arg = arg_append(p, tailp, SEARCH_BEFORE);
		arg->value.time = t;
	}
	arg->value.date_type = MAIL_SEARCH_DATE_TYPE_RECEIVED;
	arg->value.search_flags = MAIL_SEARCH_ARG_FLAG_UTC_TIMES;
	return TRUE;
}

/* ConversationId: Dovecot can't compute it (for messages without a
   Thread-Index it is a digest of the thread root's Message-ID), so it is
   no search argument: the id is kept and every match of the rest of the
   query is checked with as_conversation_get(), the function Sync uses.
   That needs the term in the conjunction, never under an Or. */
static bool
parse_conversation(struct query_parser *p, const struct wbxml_node *node,
		   bool top)
{
	if (node->data_size != AS_CONVERSATION_ID_SIZE) {
		return invalid(p, t_strdup_printf(
			"ConversationId of %zu bytes", node->data_size));
	}
	if (!top) {
		return parse_fail(p, AS_SEARCH_QUERY_TOO_COMPLEX,
				  "ConversationId inside an Or");
	}
	if (!count_term(p))
		return FALSE;
	if (p->query->conversation_ids == NULL) {
		p->query->conversation_ids =
			buffer_create_dynamic(p->id_pool,
					      AS_CONVERSATION_ID_SIZE);
	}
	buffer_append(p->query->conversation_ids, node->data,
		      AS_CONVERSATION_ID_SIZE);
	return TRUE;
}

static bool
parse_terms(struct query_parser *p, const struct wbxml_node *parent,
	    struct mail_search_arg **list, unsigned int depth, bool top);

static bool
parse_term(struct query_parser *p, const struct wbxml_node *node,
	   struct mail_search_arg ***tailp, unsigned int depth, bool top)
{
	struct mail_search_arg *arg;
	const char *id;

	switch (node->tag) {
	case EAS_SEARCH_AND:
	case EAS_SEARCH_OR:
		if (depth >= AS_SEARCH_MAX_DEPTH) {
			return parse_fail(p, AS_SEARCH_QUERY_TOO_COMPLEX,
				t_strdup_printf("And/Or nested deeper than %u",
						AS_SEARCH_MAX_DEPTH));
		}
		arg = arg_append(p, tailp, node->tag == EAS_SEARCH_AND ?
				 SEARCH_SUB : SEARCH_OR);
		/* the scope may be given in the top-level And (or an And
		   inside it: still a conjunction), never under an Or */
		return parse_terms(p, node, &arg->value.subargs, depth + 1,
				   top && node->tag == EAS_SEARCH_AND);
	case EAS_SEARCH_FREETEXT:
		return parse_freetext(p, node, tailp);
	case EAS_AIRSYNC_CLASS:
		return parse_class(p, node, tailp);
	case EAS_AIRSYNC_COLLECTIONID:
		if (!top)
			return invalid(p, "CollectionId inside an Or");
		id = wbxml_node_text(node);
		if (*id == '\0')
			return invalid(p, "Empty CollectionId");
		if (array_count(&p->query->collection_ids) >=
		    AS_SEARCH_MAX_COLLECTIONS) {
			return parse_fail(p, AS_SEARCH_QUERY_TOO_COMPLEX,
				t_strdup_printf("More than %u CollectionIds",
						AS_SEARCH_MAX_COLLECTIONS));
		}
		id = p_strdup(p->id_pool, id);
		array_push_back(&p->query->collection_ids, &id);
		return TRUE;
	case EAS_SEARCH_GREATERTHAN:
	case EAS_SEARCH_LESSTHAN:
		return parse_compare(p, node, tailp);
	case EAS_SEARCH_CONVERSATIONID:
		return parse_conversation(p, node, top);
	case EAS_SEARCH_EQUALTO:
		return invalid(p, "EqualTo is for DocumentLibrary searches");
	default:
		return invalid(p, t_strdup_printf("Unexpected %s in Query",
			wbxml_tag_describe(node->tag)));
	}
}

static bool
parse_terms(struct query_parser *p, const struct wbxml_node *parent,
	    struct mail_search_arg **list, unsigned int depth, bool top)
{
	const struct wbxml_node *child;
	struct mail_search_arg **tail = list;

	if (parent->children == NULL) {
		return invalid(p, t_strdup_printf("Empty %s",
			wbxml_tag_describe(parent->tag)));
	}
	wbxml_node_foreach_child(parent, child) {
		if (!parse_term(p, child, &tail, depth, top))
			return FALSE;
	}
	if (*list == NULL) {
		/* only CollectionIds: everything in the scope */
		(void)arg_append(p, &tail, SEARCH_ALL);
	}
	return TRUE;
}

enum as_search_query_result
as_search_query_parse(pool_t pool, const struct wbxml_node *query,
		      struct as_search_query *query_r, const char **error_r)
{
	struct query_parser p;
	struct mail_search_args *args;
	struct mail_search_arg *root = NULL;

	i_zero(query_r);
	p_array_init(&query_r->collection_ids, pool, 4);

	args = mail_search_build_init();
	i_zero(&p);
	p.pool = args->pool;
	p.id_pool = pool;
	p.query = query_r;
	/* Query's own children are an implicit And (it normally has one) */
	if (!parse_terms(&p, query, &root, 0, TRUE)) {
		mail_search_args_unref(&args);
		*error_r = p.error;
		return p.result;
	}
	args->args = root;
	query_r->args = args;
	return AS_SEARCH_QUERY_OK;
}

bool as_search_query_conversation_match(const struct as_search_query *query,
					const unsigned char *conversation_id)
{
	const unsigned char *ids;
	size_t pos;

	if (query->conversation_ids == NULL)
		return TRUE;
	ids = query->conversation_ids->data;
	for (pos = 0; pos < query->conversation_ids->used;
	     pos += AS_CONVERSATION_ID_SIZE) {
		if (memcmp(ids + pos, conversation_id,
			   AS_CONVERSATION_ID_SIZE) != 0)
			return FALSE;
	}
	return TRUE;
}
