/* Copyright (c) the dovecot-activesync authors, see AUTHORS */

/* Phones sync a class only into its default folder (iOS and Android add
   new contacts, events, tasks there), so a user without one has no
   contacts on the phone at all. */

#include "lib.h"
#include "str.h"
#include "mail-namespace.h"
#include "mail-storage.h"
#include "mailbox-list-iter.h"
#include "as-command.h"
#include "as-settings.h"
#include "as-folders.h"
#include "as-groupware-folders.h"

#include <stddef.h>

static const struct {
	/* folder-type METADATA value of the default folder */
	const char *folder_type;
	/* its name in struct as_settings */
	size_t name_offset;
} as_groupware_folders[] = {
	{ "event.default", offsetof(struct as_settings, calendar_folder) },
	{ "contact.default", offsetof(struct as_settings, contacts_folder) },
	{ "task.default", offsetof(struct as_settings, tasks_folder) },
	{ "note.default", offsetof(struct as_settings, notes_folder) },
};
#define AS_GROUPWARE_FOLDERS_COUNT N_ELEMENTS(as_groupware_folders)

/* Which default types some folder already has: bit i =
   as_groupware_folders[i] */
static int
as_groupware_folders_existing(struct as_cmd_context *ctx,
			      struct mail_namespace *ns, unsigned int *mask_r,
			      const char **error_r)
{
	struct mailbox_list_iterate_context *iter;
	const struct mailbox_info *info;
	const char *folder_type;
	unsigned int i;

	*mask_r = 0;
	iter = mailbox_list_iter_init(ns->list, "*", 0);
	while ((info = mailbox_list_iter_next(iter)) != NULL) {
		if ((info->flags & (MAILBOX_NOSELECT |
				    MAILBOX_NONEXISTENT)) != 0)
			continue;
		folder_type = as_folders_kolab_type(ctx->event, ns,
						    info->vname);
		if (folder_type == NULL)
			continue;
		for (i = 0; i < AS_GROUPWARE_FOLDERS_COUNT; i++) {
			if (strcmp(folder_type,
				   as_groupware_folders[i].folder_type) == 0)
				*mask_r |= 1U << i;
		}
	}
	if (mailbox_list_iter_deinit(&iter) < 0) {
		*error_r = mailbox_list_get_last_internal_error(ns->list, NULL);
		return -1;
	}
	return 0;
}

/* A folder of the name exists already: it becomes the default folder
   only if nothing would change for its messages (untyped and empty). */
static int
as_groupware_folder_adopt(struct as_cmd_context *ctx, struct mailbox *box,
			  const char *folder_type)
{
	struct mailbox_status status;
	const char *vname = mailbox_get_vname(box), *error;

	if (as_folders_kolab_type(ctx->event, mailbox_get_namespace(box),
				  vname) != NULL) {
		e_info(ctx->event, "Folder %s has another folder type: no "
		       "default %s folder created", vname, folder_type);
		return 0;
	}
	if (mailbox_get_status(box, STATUS_MESSAGES, &status) < 0) {
		e_error(ctx->event, "Folder %s: %s", vname,
			mailbox_get_last_internal_error(box, NULL));
		return -1;
	}
	if (status.messages > 0) {
		e_info(ctx->event, "Folder %s holds mail: not made the %s "
		       "folder (set another name for it in the activesync_*"
		       "_folder settings)", vname, folder_type);
		return 0;
	}
	if (as_folders_set_groupware_type(box, folder_type, &error) < 0) {
		e_error(ctx->event, "Typing folder %s as %s failed: %s",
			vname, folder_type, error);
		return -1;
	}
	e_info(ctx->event, "Folder %s is now the %s folder", vname,
	       folder_type);
	return 0;
}

static void
as_groupware_folder_create(struct as_cmd_context *ctx,
			   struct mail_namespace *ns, const char *name,
			   const char *folder_type)
{
	const char *vname = t_strconcat(ns->prefix, name, NULL);
	struct mailbox *box;
	enum mail_error error;
	const char *errstr;

	box = mailbox_alloc(ns->list, vname, 0);
	if (mailbox_create(box, NULL, FALSE) < 0) {
		errstr = mailbox_get_last_internal_error(box, &error);
		if (error == MAIL_ERROR_EXISTS)
			(void)as_groupware_folder_adopt(ctx, box, folder_type);
		else {
			e_error(ctx->event, "Creating the %s folder %s "
				"failed: %s", folder_type, vname, errstr);
		}
	} else if (as_folders_set_groupware_type(box, folder_type,
						 &errstr) < 0) {
		/* an untyped folder is still a mail folder: harmless */
		e_error(ctx->event, "Typing the new folder %s as %s failed: "
			"%s", vname, folder_type, errstr);
	} else {
		e_info(ctx->event, "Created the missing %s folder %s",
		       folder_type, vname);
		if (mailbox_set_subscribed(box, TRUE) < 0) {
			e_warning(ctx->event, "Subscribing to %s failed: %s",
				  vname, mailbox_get_last_internal_error(
					box, NULL));
		}
	}
	mailbox_free(&box);
}

/* "" turns the folder off; so does "no", the only way to say it in a
   userdb field (an empty one reads as "yes") */
static const char *
as_groupware_folder_name(struct as_cmd_context *ctx, unsigned int idx)
{
	const char *name = *(const char *const *)CONST_PTR_OFFSET(
		ctx->set, as_groupware_folders[idx].name_offset);

	return *name == '\0' || strcasecmp(name, "no") == 0 ? NULL : name;
}

void as_groupware_folders_ensure(struct as_cmd_context *ctx,
				 struct mail_namespace *ns)
{
	const char *name, *error;
	unsigned int i, type, mask, wanted = 0;

	for (i = 0; i < AS_GROUPWARE_FOLDERS_COUNT; i++) {
		name = as_groupware_folder_name(ctx, i);
		/* a class the device gets as mail needs no default */
		if (name != NULL &&
		    !as_folders_groupware_as_email(ctx,
				as_groupware_folders[i].folder_type) &&
		    as_folders_groupware_type(as_groupware_folders[i].folder_type,
					      ctx->req->version, &type))
			wanted |= 1U << i;
	}
	if (wanted == 0)
		return;
	if (as_groupware_folders_existing(ctx, ns, &mask, &error) < 0) {
		e_error(ctx->event, "Listing groupware folders failed: %s",
			error);
		return;
	}
	for (i = 0; i < AS_GROUPWARE_FOLDERS_COUNT; i++) {
		if ((wanted & ~mask & (1U << i)) == 0)
			continue;
		name = as_groupware_folder_name(ctx, i);
		as_groupware_folder_create(ctx, ns, name,
					   as_groupware_folders[i].folder_type);
	}
}
