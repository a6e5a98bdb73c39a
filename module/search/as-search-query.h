#ifndef AS_SEARCH_QUERY_H
#define AS_SEARCH_QUERY_H

/* The Query of a Search command for the Mailbox store (MS-ASCMD
   2.2.3.142.2) as Dovecot search arguments. */

struct wbxml_node;
struct mail_search_args;

/* Limits on what one query may ask for; beyond them the Store answers
   "too complex" (8). Real devices send an And of three or four terms. */
#define AS_SEARCH_MAX_DEPTH 4		/* nested And/Or */
#define AS_SEARCH_MAX_TERMS 32		/* leaf terms, FreeText words count */
#define AS_SEARCH_MAX_FREETEXT 1024	/* bytes of one FreeText */
#define AS_SEARCH_MAX_COLLECTIONS 256	/* CollectionId scope entries */

enum as_search_query_result {
	AS_SEARCH_QUERY_OK = 0,
	/* malformed: Store Status 2 */
	AS_SEARCH_QUERY_INVALID,
	/* over the limits above: Store Status 8 */
	AS_SEARCH_QUERY_TOO_COMPLEX,
};

struct as_search_query {
	/* Never NULL on success; free with mail_search_args_unref() */
	struct mail_search_args *args;
	/* airsync:CollectionId values of the top level (the folder scope);
	   empty = all mail folders */
	ARRAY_TYPE(const_string) collection_ids;
	/* ConversationId terms (16 bytes each, concatenated), NULL if none:
	   a message that matches args matches the query only if
	   as_search_query_conversation_match() accepts its conversation id */
	buffer_t *conversation_ids;
};

/* Parse the Query element. The query's terms:
   - And / Or: all / any of the children
   - FreeText: each whitespace-separated word must occur in the headers
     or the body (SEARCH_TEXT; an FTS plugin answers it when configured)
   - airsync:Class: "Email" matches, any other class matches nothing
   - airsync:CollectionId: folder scope; directly under Query or in an
     And that is not inside an Or
   - GreaterThan / LessThan with email:DateReceived and Value: received
     date after / before the ISO 8601 time (whole seconds, UTC)
   - ConversationId (16 bytes): messages whose ConversationId (as Sync
     reports it, as_conversation_get()) is that one. Not a Dovecot search
     argument: checked per match, so only allowed where CollectionId is
     (under an Or it is "too complex")
   EqualTo is a DocumentLibrary term and is refused (invalid).
   Allocates from pool; on error error_r says why (for the log). */
enum as_search_query_result
as_search_query_parse(pool_t pool, const struct wbxml_node *query,
		      struct as_search_query *query_r, const char **error_r);

/* TRUE if a message with this conversation id (AS_CONVERSATION_ID_SIZE
   bytes) satisfies the query's ConversationId terms (always TRUE when
   the query has none). */
bool as_search_query_conversation_match(const struct as_search_query *query,
					const unsigned char *conversation_id);

#endif
