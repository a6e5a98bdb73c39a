#ifndef AS_GROUPWARE_FOLDERS_H
#define AS_GROUPWARE_FOLDERS_H

struct as_cmd_context;
struct mail_namespace;

/* Create the default Calendar, Contacts, Tasks and Notes folders a user
   lacks, for the classes the device's protocol version syncs natively,
   and type them with the folder-type METADATA ("contact.default", ...).
   Names come from activesync_calendar_folder & co. ("" or "no" = none); a folder
   of that name that exists untyped and empty is typed, one holding mail
   is left alone (logged). Errors are logged; the FolderSync goes on. */
void as_groupware_folders_ensure(struct as_cmd_context *ctx,
				 struct mail_namespace *ns);

#endif
