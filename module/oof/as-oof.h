#ifndef AS_OOF_H
#define AS_OOF_H

/* Out of office (MS-ASCMD Settings Oof) as a Sieve vacation script.
   This file turns the EAS values into the script text and back; the
   script's header comment carries the values so that Get answers what
   the device set, whatever Sieve syntax the script body uses. */

/* The name of our script in the user's Sieve storage */
#define AS_OOF_SCRIPT_NAME "activesync-oof"
/* First line of every script we write */
#define AS_OOF_SCRIPT_MAGIC "# activesync-oof "
/* A script larger than this is not ours (nor read) */
#define AS_OOF_SCRIPT_MAX_SIZE (1024 * 1024)

enum as_oof_state {
	AS_OOF_STATE_DISABLED = 0,
	AS_OOF_STATE_GLOBAL = 1,
	AS_OOF_STATE_TIME_BASED = 2,
};

/* The OofMessage audiences, in the order Get answers them */
enum as_oof_audience {
	AS_OOF_AUDIENCE_INTERNAL = 0,
	AS_OOF_AUDIENCE_EXTERNAL_KNOWN,
	AS_OOF_AUDIENCE_EXTERNAL_UNKNOWN,

	AS_OOF_AUDIENCE_COUNT
};

struct as_oof_message {
	/* the device sent (or the script has) this audience */
	bool present;
	bool enabled;
	/* message is HTML (else plain text) */
	bool html;
	const char *message;
};

struct as_oof {
	enum as_oof_state state;
	/* AS_OOF_STATE_TIME_BASED: [start, end) */
	time_t start, end;
	struct as_oof_message messages[AS_OOF_AUDIENCE_COUNT];
	/* The script that was active before ours, run after the reply
	   (NULL = none) */
	const char *previous_script;
};

/* The header comment's key for an audience ("internal", ...) */
const char *as_oof_audience_key(enum as_oof_audience audience);

/* The whole script: header comment with the values, the vacation rules
   and the include of previous_script. domain: the user's own mail
   domain (senders from it are internal). known_senders: the addresses
   answered with the AppliesToExternalKnown message (NULL-terminated,
   may be NULL). */
void as_oof_script_write(const struct as_oof *oof, const char *domain,
			 const char *const *known_senders, string_t *dest);

/* Reads the values back from a script's header comment (data stack).
   Returns 1 if the script is one of ours, 0 if it has no (or a broken)
   header: a script the user replaced over ManageSieve. */
int as_oof_script_parse(const char *script, struct as_oof *oof_r);

/* The message converted to the body type the device asked for (data
   stack): HTML to text, or text to HTML. */
const char *as_oof_message_as(const struct as_oof_message *msg, bool html);

#endif
