#ifndef AS_GROUPWARE_SCAN_H
#define AS_GROUPWARE_SCAN_H

/* Reading every item of a user's groupware folders of one class (free/busy
   from the calendars, ResolveRecipients from the contacts), with the mail
   user alone: no device, no command context. */

struct mail;
struct mailbox;
struct mail_user;
struct event;

struct as_groupware_scan {
	/* folder-type class: "event", "contact" (".default" included) */
	const char *folder_class;
	/* of the part that carries the object (as_groupware_msg_read()) */
	const char *const *content_types;
	/* narrows the messages by the storage's text search; NULL = all */
	const char *text;
	/* Each message not flagged \Deleted: its object, or NULL with
	   error when it has none that can be read. FALSE stops the scan. */
	bool (*item)(struct mail *mail, const char *object, const char *error,
		     void *context);
	void *context;
};

/* Returns the number of folders of the class (read), or -1 with error_r
   if one of them or the folder list can't be read. */
int as_groupware_scan(struct mail_user *user, struct event *event,
		      const struct as_groupware_scan *scan,
		      const char **error_r);

/* The same for one mailbox, opened and synced by the caller (a GAL
   folder in a public namespace). Returns 1, 0 if the item callback
   stopped, -1 with error_r. */
int as_groupware_scan_mailbox(struct mailbox *box,
			      const struct as_groupware_scan *scan,
			      const char **error_r);

#endif
