#ifndef AS_HOLD_H
#define AS_HOLD_H

#include "guid.h"

/* Holding a request (Ping, Sync with Wait/HeartbeatInterval) until one of
   its folders changes or its time ends.

   - Arm first (as_hold_init()), then compare the folders with the
     device's state, then wait (as_hold_wait()): a change in between
     wakes the hold, it is never missed.
   - Changes arrive as datagrams of the activesync mail plugin
     (as-notify.c) when it is loaded for the user; then nothing of the
     user stays open while idle (the mail user is released and opened
     again on wake). Otherwise the mailbox list index watch (as-watch.c)
     keeps the user open.
   - A datagram from a process that can change the user's mail anyway
     (root, our uid, the user's mail uid) announcing a HIGHESTMODSEQ above
     a folder's known_modseq is believed: the folder is marked changed
     and the owner is woken without opening the user. Others are hints
     that make the owner check.
   - One held request per device: a newer request of the same device
     supersedes the held one (as_hold_supersede()), in this process and,
     through a datagram, in the other service processes. */

struct as_cmd_context;
struct as_hold;

/* Which held requests a new request ends */
enum as_hold_kind {
	AS_HOLD_KIND_PING = 0x01,
	AS_HOLD_KIND_SYNC = 0x02,
};
#define AS_HOLD_KIND_ALL (AS_HOLD_KIND_PING | AS_HOLD_KIND_SYNC)

enum as_hold_wake {
	/* A trusted notification names a folder with a HIGHESTMODSEQ above
	   its known_modseq: it is marked changed (known_modseq raised).
	   The mail user is not open. */
	AS_HOLD_WAKE_CHANGED,
	/* Something may have changed: check the folders marked pending.
	   The mail user is open. */
	AS_HOLD_WAKE_CHECK,
	/* Folders may have been deleted or renamed: look them up again by
	   id, then check them all (all are pending). The user is open. */
	AS_HOLD_WAKE_RESOLVE,
	/* The time is up: a last check, then answer. The user is open. */
	AS_HOLD_WAKE_TIMEOUT,
	/* A newer request of the device: answer as if nothing changed.
	   The user is not open. */
	AS_HOLD_WAKE_SUPERSEDED,
	/* The user could not be opened again (logged): answer with a
	   server error. */
	AS_HOLD_WAKE_ERROR,
	/* The client went away or the process stops: free what the owner
	   has, don't answer (no as_cmd_finish()). */
	AS_HOLD_WAKE_ABORTED,
};

struct as_hold_folder {
	guid_128_t guid;
	/* the folder's name (owned by the caller; kept current by it on
	   renames), to match list index watch notifications */
	const char *vname;
	/* HIGHESTMODSEQ the device is known to have seen; 0 = unknown (every
	   notification for the folder makes the owner check) */
	uint64_t known_modseq;
	/* to report */
	bool changed:1;
	/* to check */
	bool pending:1;
	/* never changes (no mail of its own, or nothing kept by Sync):
	   notifications for it are ignored */
	bool inert:1;
};
ARRAY_DEFINE_TYPE(as_hold_folder, struct as_hold_folder);

/* Returns TRUE to keep holding, FALSE after as_hold_deinit() (and, unless
   aborted, answering the request). */
typedef bool as_hold_callback_t(enum as_hold_wake wake, void *context);

/* Arm: subscribe to the user's notifications (or start the list index
   watch). ctx->mail_user must be open. debounce_msecs: the least time
   between two checks (and the list watch's burst coalescing). */
struct as_hold *
as_hold_init(struct as_cmd_context *ctx, enum as_hold_kind kind,
	     unsigned int debounce_msecs,
	     as_hold_callback_t *callback, void *context);
#define as_hold_init(ctx, kind, debounce_msecs, callback, context) \
	as_hold_init(ctx, kind, debounce_msecs - \
		CALLBACK_TYPECHECK(callback, bool (*)( \
			enum as_hold_wake, typeof(context))), \
		(as_hold_callback_t *)callback, context)
/* Free the hold (idempotent on NULL). The owner calls it when it answers,
   also from its callback. */
void as_hold_deinit(struct as_hold **_hold);

/* Watch a folder. Returns its entry, valid until the next add. */
struct as_hold_folder *
as_hold_add_folder(struct as_hold *hold, const guid_128_t guid,
		   const char *vname);
/* The folders, in the order added */
ARRAY_TYPE(as_hold_folder) *as_hold_get_folders(struct as_hold *hold);

/* Hold the request for up to secs: registers it as the device's held
   request (ending an older one), and releases the mail user when the
   plugin announces the user's changes. Sets ctx->abort; the command
   returns AS_CMD_PENDING. */
void as_hold_wait(struct as_hold *hold, unsigned int secs);
/* TRUE if the user's changes come from the plugin (the user is released
   while waiting) */
bool as_hold_is_notify_mode(const struct as_hold *hold);

/* A new request of ctx's device started: end its held requests of the
   given kinds, in this process and in the other service processes. */
void as_hold_supersede(struct as_cmd_context *ctx, enum as_hold_kind kinds);

#endif
