/* Copyright (c) the dovecot-activesync authors, see AUTHORS */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "buffer.h"
#include "mail-namespace.h"
#include "mail-storage.h"
#include "mail-search-build.h"
#include "mailbox-list-iter.h"
#include "as-folders.h"
#include "as-store-gal.h"
#include "items/as-vcard.h"
#include "items/as-groupware-msg.h"
#include "resolve/as-contact-lookup.h"

static const char *const contact_lookup_types[] = {
	"text/vcard", "text/x-vcard", "text/directory", NULL
};

struct contact_lookup {
	struct event *event;
	pool_t pool;
	/* case-folded, NULL = all */
	const char *query;
	unsigned int max;
	ARRAY_TYPE(as_contact_match) *matches;
};

static bool contact_lookup_full(const struct contact_lookup *ctx)
{
	return ctx->max > 0 && array_count(ctx->matches) >= ctx->max;
}

static bool contact_words_match(const char *text, const char *query)
{
	const char *const *words;

	if (text == NULL || *text == '\0')
		return FALSE;
	words = t_strsplit_spaces(as_store_gal_fold(text), " \t,;-.");
	for (; *words != NULL; words++) {
		if (str_begins(*words, query))
			return TRUE;
	}
	return FALSE;
}

static bool contact_prop_is(const struct as_vcard_property *prop,
			    const char *name)
{
	return strcasecmp(prop->name, name) == 0;
}

static void contact_card(struct contact_lookup *ctx, const char *object)
{
	struct as_contact_match match;
	struct as_vcard_property *prop;
	struct as_vcard *card;
	const char *error, *fn = NULL, *first_email = NULL, *email = NULL;
	const char *name_parts = NULL, *value;
	bool exact = FALSE, name_match;
	buffer_t *buf;

	if (as_vcard_parse(pool_datastack_create(), object, NULL, &card,
			   &error) < 0) {
		e_debug(ctx->event, "Contact lookup: not a vCard: %s", error);
		return;
	}
	i_zero(&match);
	array_foreach_elem(&card->props, prop) {
		if (contact_prop_is(prop, "FN")) {
			fn = as_vcard_prop_text(prop);
		} else if (contact_prop_is(prop, "N")) {
			name_parts = t_strconcat(
				as_vcard_prop_component(prop, 1), " ",
				as_vcard_prop_component(prop, 0), NULL);
		} else if (contact_prop_is(prop, "EMAIL")) {
			value = as_vcard_prop_text(prop);
			if (value == NULL || strchr(value, '@') == NULL)
				continue;
			if (first_email == NULL)
				first_email = value;
			if (ctx->query == NULL || email != NULL)
				continue;
			const char *folded = as_store_gal_fold(value);
			if (strcmp(folded, ctx->query) == 0) {
				email = value;
				exact = TRUE;
			} else if (str_begins(folded, ctx->query)) {
				email = value;
			}
		} else if (contact_prop_is(prop, "PHOTO") &&
			   match.photo == NULL) {
			buf = buffer_create_dynamic(ctx->pool, 1024);
			if (as_vcard_prop_binary(prop, buf, &value) > 0 &&
			    buf->used > 0)
				match.photo = buf;
		} else if (contact_prop_is(prop, "KEY")) {
			buf = buffer_create_dynamic(ctx->pool, 1024);
			if (as_vcard_prop_binary(prop, buf, &value) <= 0 ||
			    buf->used == 0)
				continue;
			if (!array_is_created(&match.certificates))
				p_array_init(&match.certificates, ctx->pool, 2);
			const buffer_t *cert = buf;
			array_push_back(&match.certificates, &cert);
		}
	}
	if (first_email == NULL)
		return;
	name_match = ctx->query == NULL ||
		contact_words_match(fn, ctx->query) ||
		contact_words_match(name_parts, ctx->query);
	if (email == NULL && !name_match)
		return;
	match.email = p_strdup(ctx->pool, email != NULL ? email : first_email);
	match.exact = exact;
	if (fn == NULL || *fn == '\0')
		fn = name_parts != NULL && *name_parts != ' ' ?
			name_parts : match.email;
	match.display_name = p_strdup(ctx->pool, t_str_trim(fn, " "));
	array_push_back(ctx->matches, &match);
}

static int contact_folder(struct contact_lookup *ctx,
			  struct mail_namespace *ns, const char *vname,
			  const char *raw_query, const char **error_r)
{
	struct mailbox *box;
	struct mailbox_transaction_context *trans;
	struct mail_search_args *search_args;
	struct mail_search_arg *arg;
	struct mail_search_context *search;
	struct mail *mail;
	const char *object, *error;
	int ret = 0;

	box = mailbox_alloc(ns->list, vname, MAILBOX_FLAG_READONLY);
	if (mailbox_sync(box, 0) < 0) {
		*error_r = t_strdup_printf("Contacts: opening %s failed: %s",
			vname, mailbox_get_last_internal_error(box, NULL));
		mailbox_free(&box);
		return -1;
	}
	trans = mailbox_transaction_begin(box, 0, "activesync contacts");
	search_args = mail_search_build_init();
	/* the storage (or its FTS index) narrows the cards down first:
	   the readable part of each has the names and addresses */
	if (raw_query != NULL && *raw_query != '\0') {
		arg = mail_search_build_add(search_args, SEARCH_TEXT);
		arg->value.str = p_strdup(search_args->pool, raw_query);
	} else {
		mail_search_build_add_all(search_args);
	}
	search = mailbox_search_init(trans, search_args, NULL,
				     MAIL_FETCH_STREAM_BODY, NULL);
	mail_search_args_unref(&search_args);
	while (!contact_lookup_full(ctx) &&
	       mailbox_search_next(search, &mail)) T_BEGIN {
		if ((mail_get_flags(mail) & MAIL_DELETED) != 0)
			;
		else if (as_groupware_msg_read(mail, contact_lookup_types,
					       &object, &error) > 0)
			contact_card(ctx, object);
		else {
			e_debug(ctx->event, "Contacts: %s UID %u left out",
				vname, mail->uid);
		}
	} T_END;
	if (mailbox_search_deinit(&search) < 0) {
		*error_r = t_strdup_printf("Contacts: reading %s failed: %s",
			vname, mailbox_get_last_internal_error(box, NULL));
		ret = -1;
	}
	(void)mailbox_transaction_commit(&trans);
	mailbox_free(&box);
	return ret;
}

int as_contact_lookup(struct mail_user *user, struct event *event,
		      pool_t pool, const char *query, unsigned int max,
		      ARRAY_TYPE(as_contact_match) *matches_r,
		      const char **error_r)
{
	struct contact_lookup ctx;
	struct mail_namespace *ns;
	struct mailbox_list_iterate_context *iter;
	const struct mailbox_info *info;
	const char *folder_type;
	int ret = 0;

	i_zero(&ctx);
	ctx.event = event;
	ctx.pool = pool;
	ctx.query = query == NULL ? NULL : as_store_gal_fold(query);
	ctx.max = max;
	ctx.matches = matches_r;

	ns = mail_namespace_find_inbox(user->namespaces);
	iter = mailbox_list_iter_init(ns->list, "*", 0);
	while (ret == 0 && !contact_lookup_full(&ctx) &&
	       (info = mailbox_list_iter_next(iter)) != NULL) {
		if ((info->flags & (MAILBOX_NOSELECT |
				    MAILBOX_NONEXISTENT)) != 0)
			continue;
		folder_type = as_folders_kolab_type(event, ns, info->vname);
		/* "contact" and "contact.default" */
		if (folder_type == NULL ||
		    strcmp(t_strcut(folder_type, '.'), "contact") != 0)
			continue;
		ret = contact_folder(&ctx, ns, info->vname, query, error_r);
	}
	if (mailbox_list_iter_deinit(&iter) < 0 && ret == 0) {
		*error_r = t_strdup_printf("Contacts: listing folders "
			"failed: %s",
			mailbox_list_get_last_internal_error(ns->list, NULL));
		ret = -1;
	}
	return ret;
}
