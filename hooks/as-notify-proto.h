#ifndef AS_NOTIFY_PROTO_H
#define AS_NOTIFY_PROTO_H

#include "guid.h"

/* The datagrams the activesync mail plugin (lib90_activesync_plugin.so,
   loaded into lmtp, imap, pop3, doveadm, ...) sends to the activesync
   service processes when a user's mail changed.

   Every service process binds one unix datagram socket named after its
   pid in a shared directory (plugin setting activesync_notify_socket,
   default <base_dir>/activesync-notify); a sender sends each event to
   every socket found there, never blocking. Next to each socket,
   "<pid>.lost" is a file the sender touches when that process's receive
   queue was full, so the process knows it has to re-check everything.

   One datagram is one line of text, fields separated by tabs:

     EAS1 <kind> <arg> <value> <username>

   kind  M: messages added, expunged or flags/keywords changed in the
            mailbox whose GUID (32 hex digits) is arg; value is the
            mailbox's new HIGHESTMODSEQ, or 0 if unknown.
         C, D, R: a mailbox was created, deleted or renamed; arg is its
            GUID or 32 zeros if unknown; value 0.
         P: (service to service, doveadm) a request of the device whose
            id is arg, hex-encoded, started at value (microseconds since
            the epoch) that ends every held request (Ping, Sync with
            Wait) of the device started before.
         S: (service to service) the same for a Sync: it ends the
            device's held Syncs only (a held Ping stays).
   username is last, so it may contain anything but control
   characters. */

#define AS_NOTIFY_MAGIC "EAS1"
#define AS_NOTIFY_MAX_DATAGRAM 1024
#define AS_NOTIFY_MAX_USERNAME 255
#define AS_NOTIFY_MAX_DEVICE_ID 128
#define AS_NOTIFY_DEFAULT_DIR_NAME "activesync-notify"
#define AS_NOTIFY_LOST_SUFFIX ".lost"

enum as_notify_kind {
	AS_NOTIFY_MAIL = 'M',
	AS_NOTIFY_MAILBOX_CREATE = 'C',
	AS_NOTIFY_MAILBOX_DELETE = 'D',
	AS_NOTIFY_MAILBOX_RENAME = 'R',
	AS_NOTIFY_PING_STARTED = 'P',
	AS_NOTIFY_SYNC_STARTED = 'S',
};

/* P and S name a device instead of a mailbox */
#define AS_NOTIFY_KIND_HAS_DEVICE(kind) \
	((kind) == AS_NOTIFY_PING_STARTED || (kind) == AS_NOTIFY_SYNC_STARTED)

struct as_notify_msg {
	enum as_notify_kind kind;
	const char *username;
	/* M, C, D, R */
	guid_128_t guid;
	/* P, S */
	const char *device_id;
	/* M: HIGHESTMODSEQ; P, S: start time in usecs */
	uint64_t value;
	/* Not on the wire: the receiver fills it in from the kernel's
	   SCM_CREDENTIALS (the uid the sending process runs as), or
	   (uid_t)-1 if unknown. */
	uid_t sender_uid;
	/* Not on the wire: when the datagram reached the receiving socket
	   (kernel timestamp), or zero if unknown, and when the receiving
	   process read it. */
	struct timeval arrived, read;
};

void as_notify_msg_format(string_t *dest, const struct as_notify_msg *msg);
/* Strict parser. Strings are allocated from the data stack. Returns 0, or
   -1 with a short reason in error_r. */
int as_notify_msg_parse(const void *data, size_t size,
			struct as_notify_msg *msg_r, const char **error_r);

/* Sends to every service socket in a directory. The directory listing is
   cached and re-read when its mtime changes or a socket turned out
   stale. */
struct as_notify_sender_result {
	/* sockets that received the datagram */
	unsigned int sent;
	/* sockets whose queue was full (their .lost marker was touched) */
	unsigned int full;
	/* other errors; error is the last one */
	unsigned int failed;
	const char *error;
};

struct as_notify_sender *as_notify_sender_init(const char *dir);
void as_notify_sender_deinit(struct as_notify_sender **_sender);
const char *as_notify_sender_get_dir(const struct as_notify_sender *sender);
/* A full queue is counted but the receiver's .lost marker is left alone:
   for messages whose loss costs less than making the receiver re-check
   every held request (the service's "a Ping started" messages). */
void as_notify_sender_no_lost_marker(struct as_notify_sender *sender);
/* Send to all sockets but the one of skip_pid (0 = none). A missing
   directory or stale sockets (service not running) are not errors. */
void as_notify_send(struct as_notify_sender *sender, const void *data,
		    size_t size, pid_t skip_pid,
		    struct as_notify_sender_result *result_r);

/* "<dir>/<pid>" into dest; FALSE if too long for a unix socket path */
bool as_notify_socket_path(const char *dir, pid_t pid, string_t *dest);

#endif
