#ifndef AS_FOLDERS_H
#define AS_FOLDERS_H

#include "guid.h"
#include "mail-storage.h"

struct as_cmd_context;
struct mailbox;

/* EAS folder types (MS-ASCMD 2.2.3.186.3) */
enum as_folder_type {
	AS_FOLDER_TYPE_USER_GENERIC = 1,
	AS_FOLDER_TYPE_INBOX = 2,
	AS_FOLDER_TYPE_DRAFTS = 3,
	AS_FOLDER_TYPE_DELETED = 4,
	AS_FOLDER_TYPE_SENT = 5,
	AS_FOLDER_TYPE_OUTBOX = 6,
	AS_FOLDER_TYPE_TASKS = 7,
	AS_FOLDER_TYPE_CALENDAR = 8,
	AS_FOLDER_TYPE_CONTACTS = 9,
	AS_FOLDER_TYPE_NOTES = 10,
	AS_FOLDER_TYPE_JOURNAL = 11,
	AS_FOLDER_TYPE_USER_MAIL = 12,
	AS_FOLDER_TYPE_USER_CALENDAR = 13,
	AS_FOLDER_TYPE_USER_CONTACTS = 14,
	AS_FOLDER_TYPE_USER_TASKS = 15,
	AS_FOLDER_TYPE_USER_JOURNAL = 16,
	AS_FOLDER_TYPE_USER_NOTES = 17,
	AS_FOLDER_TYPE_UNKNOWN = 18,
	AS_FOLDER_TYPE_RECIPIENT_CACHE = 19,
};

/* What a folder holds: folders of one class exchange items (MoveItems),
   and the class picks the item format Sync uses. */
enum as_folder_class {
	AS_FOLDER_CLASS_NONE = 0, /* \NoSelect parent, recipient cache */
	AS_FOLDER_CLASS_MAIL,
	AS_FOLDER_CLASS_CALENDAR,
	AS_FOLDER_CLASS_CONTACTS,
	AS_FOLDER_CLASS_TASKS,
	AS_FOLDER_CLASS_NOTES,
	AS_FOLDER_CLASS_JOURNAL,
};

/* One folder of the user's private namespace as EAS sees it. */
struct as_folder_info {
	const char *server_id;	/* short stable id from the mailbox GUID */
	const char *parent_id;	/* "0" at the top level */
	const char *display_name; /* last hierarchy component */
	const char *vname;	/* full mailbox name, for mailbox_alloc() */
	unsigned int type;	/* enum as_folder_type */
	/* Mailbox GUID; for \NoSelect parents (which have none) a stable
	   id derived from the name, see as-folders.c */
	guid_128_t guid;
	/* \NoSelect parent: listed so its children have a parent, but it
	   holds no messages and can't be opened */
	bool noselect:1;
	/* A groupware folder listed as a mail folder (the device's
	   GroupWare-as-Email view): its items go to the device as the
	   messages they are, one way (a device's delete doesn't remove
	   them) */
	bool groupware_as_email:1;
};
ARRAY_DEFINE_TYPE(as_folder_info, struct as_folder_info);

/* All folders of the private namespace (selectable ones; parents that
   are \NoSelect are included so children have a parent). Returns 0 or -1
   with error_r. Allocated from ctx->pool. */
int as_folders_list(struct as_cmd_context *ctx,
		    ARRAY_TYPE(as_folder_info) *folders_r,
		    const char **error_r);
/* Find a folder by its server id. Returns 1 found, 0 not found (unknown
   id or the mailbox no longer exists), -1 error. */
int as_folders_lookup(struct as_cmd_context *ctx, const char *server_id,
		      struct as_folder_info *folder_r, const char **error_r);
/* Open the folder's mailbox (mailbox_alloc + mailbox_open). Returns 0 or
   -1 (mailbox deleted meanwhile, or error) with error_r. */
int as_folders_open(struct as_cmd_context *ctx,
		    const struct as_folder_info *folder,
		    enum mailbox_flags flags, struct mailbox **box_r,
		    const char **error_r);

/* Done with a folder from as_folders_open(): it stays open with the
   (warm) user for the device's next request when it can, else it is
   freed. *box is NULL afterwards. */
void as_folders_close(struct as_cmd_context *ctx,
		      const struct as_folder_info *folder,
		      struct mailbox **box);

/* Open the Deleted Items folder (\Trash). Returns 0 with box_r NULL if
   the user has none, -1 with error_r on error. */
int as_folders_open_trash(struct as_cmd_context *ctx, struct mailbox **box_r,
			  const char **error_r);

/* -1 with error_r if Dovecot opened the folder read-only (no write
   permission): its expunges and flag changes would be lost, so a
   command must not report them done. */
int as_folders_check_writable(struct mailbox *box, const char **error_r);

/* Does a SPECIAL-USE list (space-separated, NULL for none) hold flag? */
bool as_folders_has_special_use(const char *special_use, const char *flag);

/* The inbox namespace, where all EAS folders live. */
struct mail_namespace *as_folders_namespace(struct as_cmd_context *ctx);
/* The folder that has this full mailbox name. Returns 1 found, 0 no such
   mailbox, -1 error. */
int as_folders_lookup_vname(struct as_cmd_context *ctx, const char *vname,
			    struct as_folder_info *folder_r,
			    const char **error_r);
/* Default folders (Inbox, Drafts, Deleted Items, Sent Items, Outbox,
   ...) can't be renamed, moved or deleted by the client. */
bool as_folder_type_is_default(unsigned int type);
/* The class of the folder's items; NONE if it holds none */
enum as_folder_class as_folder_class(const struct as_folder_info *folder);
/* The class of an EAS folder type */
enum as_folder_class as_folder_type_class(unsigned int type);

/* EAS folder type for a /private/vendor/kolab/folder-type METADATA value
   ("event", "note.default", ...) when a device of this protocol version
   is served that class natively. Returns FALSE for "mail", unknown
   values and classes served as mail folders (no converter yet, or the
   version lacks the class): the folder is then a mail folder. */
bool as_folders_groupware_type(const char *folder_type, unsigned int version,
			       unsigned int *type_r);
/* The folder-type METADATA value for a folder a device creates with
   this EAS type, NULL if the type is not a natively served groupware
   type for this version. */
const char *as_folders_groupware_create_value(unsigned int type,
					      unsigned int version);
/* The folder-type METADATA value of a mailbox, NULL if it has none (or
   attributes are not enabled: mail_attribute_dict unset). */
const char *as_folders_kolab_type(struct event *event,
				  struct mail_namespace *ns, const char *vname);
/* Device property and setting value naming the groupware classes a
   device gets as mail folders */
#define AS_FOLDERS_PROP_GROUPWARE_AS_EMAIL "groupware_as_email"
/* Parse such a value: bit i = the i-th class of the groupware table.
   Returns 0, or -1 with error_r for an unknown word (the known ones are
   still in mask_r). */
int as_folders_groupware_as_email_parse(const char *value,
					unsigned int *mask_r,
					const char **error_r);
/* Is the class of this folder-type value ("task.default") one the
   device gets as mail folders (setting, device property)? */
bool as_folders_groupware_as_email(struct as_cmd_context *ctx,
				   const char *folder_type);
/* Set the folder-type METADATA of a mailbox (open or not). */
int as_folders_set_groupware_type(struct mailbox *box, const char *value,
				  const char **error_r);

#endif
