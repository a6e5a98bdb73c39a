#ifndef AS_SEARCH_KQL_H
#define AS_SEARCH_KQL_H

#include "search/as-search-query.h"

/* The FreeText of a Find query (MS-ASCMD Find, 16.1): the subset of
   KQL (Keyword Query Language) mail clients send, as Dovecot search
   arguments, all of them required (AND):
   - word or "quoted phrase": in the headers or the body
   - from: to: cc: bcc: (an address or a name in that header),
     subject:, body:
   - received>=DATE, received>DATE, received<=DATE, received<DATE,
     received:DATE (that day), received:DATE..DATE; DATE is YYYY-MM-DD
     or M/D/YYYY (UTC days)
   - hasattachment(s):true|false (not a Dovecot search argument: the
     caller checks it per match, see has_attachments_r)
   - AND between terms is accepted; OR and NOT are not (invalid).
   A property name that is not one of these leaves the token a word. */

/* -1: not asked, 0: must have none, 1: must have some */
enum as_search_kql_attachments {
	AS_SEARCH_KQL_ATTACHMENTS_ANY = -1,
	AS_SEARCH_KQL_ATTACHMENTS_NONE = 0,
	AS_SEARCH_KQL_ATTACHMENTS_SOME = 1,
};

/* Adds the terms to args (allocated from its pool). Returns
   AS_SEARCH_QUERY_OK, or INVALID / TOO_COMPLEX (more than
   AS_SEARCH_MAX_TERMS terms or AS_SEARCH_MAX_FREETEXT bytes) with
   error_r. */
enum as_search_query_result
as_search_kql_parse(struct mail_search_args *args, const char *text,
		    enum as_search_kql_attachments *attachments_r,
		    const char **error_r);

#endif
