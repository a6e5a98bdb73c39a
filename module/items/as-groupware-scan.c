/* Copyright (c) dovecot-activesync authors, see the included COPYING file */

#include "lib.h"
#include "mail-namespace.h"
#include "mail-storage.h"
#include "mail-search-build.h"
#include "mailbox-list-iter.h"
#include "as-folders.h"
#include "items/as-groupware-msg.h"
#include "items/as-groupware-scan.h"

int as_groupware_scan_mailbox(struct mailbox *box,
			      const struct as_groupware_scan *scan,
			      const char **error_r)
{
	struct mailbox_transaction_context *trans;
	struct mail_search_args *search_args;
	struct mail_search_arg *arg;
	struct mail_search_context *search;
	struct mail *mail;
	const char *object, *error;
	int ret = 1;

	trans = mailbox_transaction_begin(box, 0, "activesync groupware scan");
	search_args = mail_search_build_init();
	if (scan->text != NULL && *scan->text != '\0') {
		arg = mail_search_build_add(search_args, SEARCH_TEXT);
		arg->value.str = p_strdup(search_args->pool, scan->text);
	} else {
		mail_search_build_add_all(search_args);
	}
	search = mailbox_search_init(trans, search_args, NULL,
				     MAIL_FETCH_STREAM_BODY, NULL);
	mail_search_args_unref(&search_args);
	while (ret > 0 && mailbox_search_next(search, &mail)) T_BEGIN {
		/* deleted but not yet expunged: gone */
		if ((mail_get_flags(mail) & MAIL_DELETED) == 0) {
			if (as_groupware_msg_read(mail, scan->content_types,
						  &object, &error) <= 0)
				object = NULL;
			else
				error = NULL;
			if (!scan->item(mail, object, error, scan->context))
				ret = 0;
		}
	} T_END;
	if (mailbox_search_deinit(&search) < 0) {
		*error_r = t_strdup_printf("reading %s failed: %s",
			mailbox_get_vname(box),
			mailbox_get_last_internal_error(box, NULL));
		ret = -1;
	}
	(void)mailbox_transaction_commit(&trans);
	return ret;
}

/* Returns 1 to go on, 0 if the item callback stopped, -1 on error */
static int groupware_scan_folder(const struct as_groupware_scan *scan,
				 struct mail_namespace *ns, const char *vname,
				 const char **error_r)
{
	struct mailbox *box;
	int ret;

	box = mailbox_alloc(ns->list, vname, MAILBOX_FLAG_READONLY);
	if (mailbox_sync(box, 0) < 0) {
		*error_r = t_strdup_printf("opening %s failed: %s", vname,
			mailbox_get_last_internal_error(box, NULL));
		mailbox_free(&box);
		return -1;
	}
	ret = as_groupware_scan_mailbox(box, scan, error_r);
	mailbox_free(&box);
	return ret;
}

int as_groupware_scan(struct mail_user *user, struct event *event,
		      const struct as_groupware_scan *scan,
		      const char **error_r)
{
	struct mail_namespace *ns;
	struct mailbox_list_iterate_context *iter;
	const struct mailbox_info *info;
	const char *folder_type;
	int folders = 0, ret = 1;

	ns = mail_namespace_find_inbox(user->namespaces);
	iter = mailbox_list_iter_init(ns->list, "*", 0);
	while (ret > 0 && (info = mailbox_list_iter_next(iter)) != NULL) {
		if ((info->flags & (MAILBOX_NOSELECT |
				    MAILBOX_NONEXISTENT)) != 0)
			continue;
		folder_type = as_folders_kolab_type(event, ns, info->vname);
		if (folder_type == NULL ||
		    strcmp(t_strcut(folder_type, '.'),
			   scan->folder_class) != 0)
			continue;
		folders++;
		ret = groupware_scan_folder(scan, ns, info->vname, error_r);
	}
	if (mailbox_list_iter_deinit(&iter) < 0 && ret >= 0) {
		*error_r = t_strdup_printf("listing folders failed: %s",
			mailbox_list_get_last_internal_error(ns->list, NULL));
		ret = -1;
	}
	return ret < 0 ? -1 : folders;
}
