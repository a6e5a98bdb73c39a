#ifndef TEST_AS_MAIL_USER_H
#define TEST_AS_MAIL_USER_H

/* A temporary mail user for unit tests: Dovecot's test mail storage
   (maildir, no configuration) in a directory of the test's own below the
   current one, so tests run side by side (make -j). */

struct mailbox;

/* Run tests (NULL-terminated) with the user set up before the first and
   removed after the last; name is the program's (and its directory's).
   Returns test_run()'s result. */
int test_as_mail_user_run(const char *name,
			  void (*const tests[])(void), int argc, char **argv);

/* Create and open a mailbox of the user, with per-message modseqs as
   Sync enables them; mailbox_free() it when done. */
struct mailbox *test_as_mailbox_open(const char *name);

/* Save a message (received_date 0 = now) with keywords (NULL = none);
   returns its UID. */
uint32_t test_as_mail_save(struct mailbox *box, const void *data,
			   size_t size, time_t received_date,
			   const char *const *keywords);

#endif
