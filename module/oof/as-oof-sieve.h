#ifndef AS_OOF_SIEVE_H
#define AS_OOF_SIEVE_H

#include "oof/as-oof.h"

struct mail_user;
struct event;

/* The out-of-office reply kept in the user's Sieve storage (the `sieve`
   setting, as LMTP's Sieve plugin and ManageSieve read it), through
   Pigeonhole's storage API. */

/* Reads our script. The state is DISABLED when our script is not the
   active one (the user activated another script over ManageSieve, or
   OOF was switched off); messages are those last set. Returns 0, or -1
   with error_r (storage unavailable). */
int as_oof_sieve_get(struct mail_user *user, struct event *event,
		     struct as_oof *oof_r, const char **error_r);

/* Writes our script and activates it (or, for DISABLED, gives the
   activation back to the script that was active before). domain: the
   user's mail domain; known_senders: see as_oof_script_write(). Returns
   0, or -1 with error_r. */
int as_oof_sieve_set(struct mail_user *user, struct event *event,
		     const struct as_oof *oof, const char *domain,
		     const char *const *known_senders, const char **error_r);

#endif
