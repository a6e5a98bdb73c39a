#ifndef AS_SPECIAL_FOLDERS_H
#define AS_SPECIAL_FOLDERS_H

struct as_cmd_context;
struct mail_namespace;

/* The name a missing special-use folder is created with when the
   namespace configuration names none ("Sent" for \Sent), NULL if the
   flag is not one of the folders a device needs. */
const char *as_special_folder_default_name(const char *special_use);

/* Create the \Drafts, \Sent, \Trash and \Junk folders the user lacks, so
   that a device has somewhere to keep drafts, sent and deleted mail. The
   name is the namespace's configured mailbox with that special_use (which
   then carries the flag for every client) or the default name. Errors
   are logged; the FolderSync goes on without the folder. */
void as_special_folders_ensure(struct as_cmd_context *ctx,
			       struct mail_namespace *ns);

#endif
