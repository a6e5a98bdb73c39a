/* Copyright (c) dovecot-activesync authors, see the included COPYING file */

#include "lib.h"
#include "str.h"
#include "strnum.h"
#include "str-sanitize.h"
#include "ioloop.h"
#include "hostpid.h"
#include "message-date.h"
#include "message-header-encode.h"
#include "mail-storage.h"
#include "mail-namespace.h"
#include "mail-user.h"
#include "as-command.h"
#include "as-store-itemprops.h"
#include "items/as-mail-save.h"
#include "sync/as-sync-notice.h"

#define NOTICE_PROP_PREFIX "notice:"
#define HIERARCHY_PROP_PREFIX "h12:"
#define HIERARCHY_NOTICE "hierarchy"

static const char *notice_device_name(struct as_cmd_context *ctx)
{
	const struct as_device *dev = ctx->device;
	const char *name = dev == NULL ? NULL :
		(dev->model != NULL && *dev->model != '\0' ? dev->model :
		 dev->device_type);

	if (name == NULL || *name == '\0')
		name = "device";
	return t_strdup_printf("%s (%s)", str_sanitize(name, 64),
			       str_sanitize(ctx->req->device_id, 64));
}

static const char *
notice_build(struct as_cmd_context *ctx, const char *subject,
	     const char *body)
{
	string_t *str = t_str_new(1024);
	const char *domain = strchr(ctx->username, '@');

	domain = domain == NULL ? my_hostname : domain + 1;
	str_printfa(str, "From: Mail synchronization <postmaster@%s>\r\n",
		    domain);
	str_printfa(str, "To: <%s>\r\n", ctx->username);
	str_append(str, "Subject: ");
	message_header_encode(subject, str);
	str_printfa(str, "\r\nDate: %s\r\n",
		    message_date_create(ioloop_time));
	str_printfa(str, "Message-ID: <activesync.%s.%ld@%s>\r\n",
		    dec2str(ioloop_timeval.tv_usec), (long)ioloop_time,
		    my_hostname);
	str_append(str, "MIME-Version: 1.0\r\n"
		   "Content-Type: text/plain; charset=utf-8\r\n"
		   "Content-Transfer-Encoding: 8bit\r\n"
		   "Auto-Submitted: auto-generated\r\n\r\n");
	for (; *body != '\0'; body++) {
		if (*body == '\n')
			str_append_c(str, '\r');
		str_append_c(str, *body);
	}
	str_append(str, "\r\n");
	return str_c(str);
}

static int notice_save(struct as_cmd_context *ctx, const char *text,
		       const char **error_r)
{
	struct mail_namespace *ns;
	struct mailbox *box;
	uint32_t uid;
	int ret;

	ns = mail_namespace_find_inbox(ctx->mail_user->namespaces);
	box = mailbox_alloc(ns->list, "INBOX", 0);
	if (mailbox_open(box) < 0) {
		*error_r = mailbox_get_last_internal_error(box, NULL);
		mailbox_free(&box);
		return -1;
	}
	ret = as_mail_save(box, text, strlen(text), 0, NULL, &uid, error_r);
	mailbox_free(&box);
	return ret;
}

int as_sync_notice_once(struct as_cmd_context *ctx, const char *name,
			const char *subject, const char *body)
{
	const char *prop = t_strconcat(NOTICE_PROP_PREFIX, name, NULL);
	const char *value, *error;
	int ret;

	ret = as_store_device_prop_get(ctx->store, pool_datastack_create(),
				       ctx->username, ctx->req->device_id,
				       prop, &value, &error);
	if (ret != 0) {
		if (ret < 0)
			e_error(ctx->event, "Notice %s: %s", name, error);
		return ret < 0 ? -1 : 0;
	}
	/* recorded first: a failed save is not retried in a loop */
	if (as_store_device_prop_put(ctx->store, ctx->username,
				     ctx->req->device_id, prop,
				     dec2str(ioloop_time), &error) < 0) {
		e_error(ctx->event, "Notice %s: %s", name, error);
		return -1;
	}
	if (notice_save(ctx, notice_build(ctx, subject, body), &error) < 0) {
		e_error(ctx->event, "Notice %s: saving to INBOX failed: %s",
			name, error);
		return -1;
	}
	e_info(ctx->event, "Sent the user a notice: %s", subject);
	return 1;
}

void as_sync_hierarchy_ignored(struct as_cmd_context *ctx,
			       const char *collection_id)
{
	const char *prop = t_strconcat(HIERARCHY_PROP_PREFIX, collection_id,
				       NULL);
	const char *value, *error, *const *f;
	unsigned int hier_key = 0, stored_key, count = 0;

	if (as_store_hierarchy_latest(ctx->store, ctx->username,
				      ctx->req->device_id, &hier_key,
				      &error) < 0 ||
	    as_store_device_prop_get(ctx->store, pool_datastack_create(),
				     ctx->username, ctx->req->device_id,
				     prop, &value, &error) < 0) {
		e_error(ctx->event, "Counting requests for a missing "
			"folder: %s", error);
		return;
	}
	/* "<hierarchy SyncKey> <count>": a FolderSync in between starts
	   the count again */
	f = value == NULL ? NULL : t_strsplit(value, " ");
	if (f == NULL || str_array_length(f) != 2 ||
	    str_to_uint(f[0], &stored_key) < 0 || stored_key != hier_key ||
	    str_to_uint(f[1], &count) < 0)
		count = 0;
	count++;
	if (as_store_device_prop_put(ctx->store, ctx->username,
				     ctx->req->device_id, prop,
				     t_strdup_printf("%u %u", hier_key, count),
				     &error) < 0) {
		e_error(ctx->event, "Counting requests for a missing "
			"folder: %s", error);
		return;
	}
	if (count <= AS_SYNC_HIERARCHY_IGNORED_MAX)
		return;
	e_info(ctx->event, "Device keeps asking for folder %s that no "
	       "longer exists (%u times)", str_sanitize(collection_id, 64),
	       count);
	(void)as_sync_notice_once(ctx, HIERARCHY_NOTICE,
		"Your device needs to be set up again",
		t_strdup_printf(
"Your %s keeps asking this server for a folder that no longer\n"
"exists, and it did not update its folder list when told so. Until that\n"
"is fixed it may not show new mail.\n"
"\n"
"To fix it, remove this mail account from the device and add it again.\n"
"Your mail stays on the server; nothing is lost.\n",
		notice_device_name(ctx)));
}
