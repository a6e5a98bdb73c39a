/* Copyright (c) the dovecot-activesync authors, see AUTHORS */

/* Debian's stock namespace lists Drafts/Sent/Trash/Junk with special_use
   but without auto = create: a new user has none of them, and a phone
   then has nowhere to keep sent mail or drafts. */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "mail-namespace.h"
#include "mail-storage.h"
#include "mail-storage-settings.h"
#include "mailbox-list-iter.h"
#include "as-command.h"
#include "as-folders.h"
#include "as-special-folders.h"

static const struct {
	const char *special_use;
	const char *default_name;
} as_special_folders[] = {
	{ "\\Drafts", "Drafts" },
	{ "\\Sent", "Sent" },
	{ "\\Trash", "Trash" },
	{ "\\Junk", "Junk" },
};

const char *as_special_folder_default_name(const char *special_use)
{
	unsigned int i;

	for (i = 0; i < N_ELEMENTS(as_special_folders); i++) {
		if (strcasecmp(as_special_folders[i].special_use,
			       special_use) == 0)
			return as_special_folders[i].default_name;
	}
	return NULL;
}

/* Which of the flags an existing mailbox has: bit i = as_special_folders[i] */
static int
as_special_folders_existing(struct mail_namespace *ns, unsigned int *mask_r,
			    const char **error_r)
{
	struct mailbox_list_iterate_context *iter;
	const struct mailbox_info *info;
	unsigned int i;

	*mask_r = 0;
	iter = mailbox_list_iter_init(ns->list, "*",
				      MAILBOX_LIST_ITER_SELECT_SPECIALUSE |
				      MAILBOX_LIST_ITER_RETURN_SPECIALUSE);
	while ((info = mailbox_list_iter_next(iter)) != NULL) {
		if ((info->flags & (MAILBOX_NOSELECT |
				    MAILBOX_NONEXISTENT)) != 0)
			continue;
		for (i = 0; i < N_ELEMENTS(as_special_folders); i++) {
			if (as_folders_has_special_use(info->special_use,
					as_special_folders[i].special_use))
				*mask_r |= 1U << i;
		}
	}
	if (mailbox_list_iter_deinit(&iter) < 0) {
		*error_r = mailbox_list_get_last_internal_error(ns->list, NULL);
		return -1;
	}
	return 0;
}

/* The full name of the namespace's configured mailbox for the flag, or
   the default name. */
static const char *
as_special_folder_vname(struct mail_namespace *ns, unsigned int idx)
{
	struct mailbox_settings *const *setp;
	const char *name = as_special_folders[idx].default_name;

	if (ns->set != NULL && array_is_created(&ns->set->mailboxes)) {
		array_foreach(&ns->set->mailboxes, setp) {
			if (as_folders_has_special_use((*setp)->special_use,
					as_special_folders[idx].special_use)) {
				name = (*setp)->name;
				break;
			}
		}
	}
	if (strcasecmp(name, "INBOX") == 0)
		return NULL;
	return t_strconcat(ns->prefix, name, NULL);
}

static void
as_special_folder_create(struct as_cmd_context *ctx, struct mail_namespace *ns,
			 unsigned int idx)
{
	const char *vname = as_special_folder_vname(ns, idx);
	struct mailbox *box;
	enum mail_error error;
	const char *errstr;

	if (vname == NULL)
		return;
	box = mailbox_alloc(ns->list, vname, 0);
	if (mailbox_create(box, NULL, FALSE) == 0) {
		e_info(ctx->event, "Created the missing %s folder %s",
		       as_special_folders[idx].special_use, vname);
		if (mailbox_set_subscribed(box, TRUE) < 0) {
			e_warning(ctx->event, "Subscribing to %s failed: %s",
				  vname, mailbox_get_last_internal_error(box,
									 NULL));
		}
	} else {
		errstr = mailbox_get_last_internal_error(box, &error);
		/* a folder of that name without the flag: left as it is */
		if (error != MAIL_ERROR_EXISTS) {
			e_error(ctx->event, "Creating the %s folder %s "
				"failed: %s", as_special_folders[idx].special_use,
				vname, errstr);
		}
	}
	mailbox_free(&box);
}

void as_special_folders_ensure(struct as_cmd_context *ctx,
			       struct mail_namespace *ns)
{
	const char *error;
	unsigned int i, mask;

	if (as_special_folders_existing(ns, &mask, &error) < 0) {
		e_error(ctx->event, "Listing special-use folders failed: %s",
			error);
		return;
	}
	for (i = 0; i < N_ELEMENTS(as_special_folders); i++) {
		if ((mask & (1U << i)) == 0)
			as_special_folder_create(ctx, ns, i);
	}
}
