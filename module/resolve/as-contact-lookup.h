#ifndef AS_CONTACT_LOOKUP_H
#define AS_CONTACT_LOOKUP_H

/* Finding people in the user's own contact folders (folder type
   "contact"): ResolveRecipients' Type 2 recipients, and the senders an
   out-of-office reply counts as known. */

struct mail_user;
ARRAY_DEFINE_TYPE(const_buffer_p, const buffer_t *);
struct event;

struct as_contact_match {
	const char *display_name;
	/* the address that matched, else the card's first one */
	const char *email;
	/* the query is this address (compared without case) */
	bool exact;
	/* PHOTO as binary (NULL if none or a link) */
	const buffer_t *photo;
	/* KEY properties with inline data (DER certificates) */
	ARRAY_TYPE(const_buffer_p) certificates;
};
ARRAY_DEFINE_TYPE(as_contact_match, struct as_contact_match);

/* Cards with an e-mail address where a word of the name or an address
   starts with query (compared case-folded); query NULL: every card with
   an address. At most max matches (0 = no limit), allocated from pool.
   Cards that can't be read are logged and left out. Returns 0, or -1
   with error_r when a folder can't be read. */
int as_contact_lookup(struct mail_user *user, struct event *event,
		      pool_t pool, const char *query, unsigned int max,
		      ARRAY_TYPE(as_contact_match) *matches_r,
		      const char **error_r);

#endif
