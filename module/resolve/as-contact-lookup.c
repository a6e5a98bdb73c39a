/* Copyright (c) the dovecot-activesync authors, see AUTHORS */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "buffer.h"
#include "mail-storage.h"
#include "as-store-gal.h"
#include "items/as-vcard.h"
#include "items/as-groupware-scan.h"
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

static bool contact_item(struct mail *mail, const char *object,
			 const char *error ATTR_UNUSED, void *context)
{
	struct contact_lookup *ctx = context;

	if (object != NULL)
		contact_card(ctx, object);
	else {
		e_debug(ctx->event, "Contacts: %s UID %u left out",
			mailbox_get_vname(mail->box), mail->uid);
	}
	return !contact_lookup_full(ctx);
}

int as_contact_lookup(struct mail_user *user, struct event *event,
		      pool_t pool, const char *query, unsigned int max,
		      ARRAY_TYPE(as_contact_match) *matches_r,
		      const char **error_r)
{
	/* "contact" and "contact.default"; the storage (or its FTS index)
	   narrows the cards down first: the readable part of each has the
	   names and addresses */
	struct as_groupware_scan scan = {
		.folder_class = "contact",
		.content_types = contact_lookup_types,
		.text = query,
		.item = contact_item,
	};
	struct contact_lookup ctx;

	i_zero(&ctx);
	ctx.event = event;
	ctx.pool = pool;
	ctx.query = query == NULL ? NULL : as_store_gal_fold(query);
	ctx.max = max;
	ctx.matches = matches_r;
	scan.context = &ctx;
	if (as_groupware_scan(user, event, &scan, error_r) < 0) {
		*error_r = t_strconcat("Contacts: ", *error_r, NULL);
		return -1;
	}
	return 0;
}
