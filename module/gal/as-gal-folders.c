/* Copyright (c) dovecot-activesync authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "buffer.h"
#include "guid.h"
#include "time-util.h"
#include "mail-namespace.h"
#include "mail-storage.h"
#include "mailbox-list-iter.h"
#include "as-command.h"
#include "items/as-vcard.h"
#include "items/as-groupware-scan.h"
#include "gal/as-gal.h"

/* GAL folders: mailboxes named by activesync_gal_folders (usually in a
   public or shared namespace), whose vCards join the GAL. A folder
   counts for the users who can list and read it (ACL), and is read into
   the index again only when its UIDVALIDITY or HIGHESTMODSEQ moved. */

/* Contacts kept from one folder */
#define AS_GAL_FOLDER_MAX_CONTACTS 100000

static const char *const gal_folder_types[] = {
	"text/vcard", "text/x-vcard", "text/directory", NULL
};

struct gal_folder_read {
	struct as_cmd_context *ctx;
	pool_t pool;
	const char *guid;
	ARRAY_TYPE(as_gal_entry) entries;
	unsigned int groups, skipped;
};

static bool gal_prop_is(const struct as_vcard_property *prop,
			const char *name)
{
	return strcasecmp(prop->name, name) == 0;
}

static const char *gal_text(pool_t pool, const struct as_vcard_property *prop)
{
	const char *text = t_str_trim(as_vcard_prop_text(prop), " \t");

	return *text == '\0' ? NULL : p_strdup(pool, text);
}

static void gal_set(pool_t pool, const char **field,
		    const struct as_vcard_property *prop)
{
	if (*field == NULL)
		*field = gal_text(pool, prop);
}

static void gal_card_tel(pool_t pool, struct as_gal_entry *e,
			 const struct as_vcard_property *prop)
{
	if (as_vcard_prop_has_type(prop, "cell"))
		gal_set(pool, &e->mobile_phone, prop);
	else if (as_vcard_prop_has_type(prop, "home"))
		gal_set(pool, &e->home_phone, prop);
	else if (!as_vcard_prop_has_type(prop, "fax"))
		gal_set(pool, &e->phone, prop);
}

static void gal_card_photo(struct gal_folder_read *rd, struct as_gal_entry *e,
			   const struct as_vcard_property *prop)
{
	const char *media_type;
	buffer_t *buf;

	if (e->photo != NULL)
		return;
	buf = buffer_create_dynamic(rd->pool, 4096);
	if (as_vcard_prop_binary(prop, buf, &media_type) <= 0 ||
	    buf->used == 0)
		return;
	if (buf->used > AS_GAL_MAX_PHOTO_SIZE) {
		e_debug(rd->ctx->event, "GAL: a photo of %zu bytes left out",
			buf->used);
		return;
	}
	e->photo = buf;
}

/* One card: a person or a group with an address; FALSE if it has none */
static bool gal_card_entry(struct gal_folder_read *rd, const char *object,
			   struct as_gal_entry *e)
{
	struct as_vcard_property *prop;
	struct as_vcard *card;
	const char *error, *value;
	pool_t pool = rd->pool;

	if (as_vcard_parse(pool_datastack_create(), object, NULL, &card,
			   &error) < 0) {
		e_debug(rd->ctx->event, "GAL: not a vCard: %s", error);
		return FALSE;
	}
	array_foreach_elem(&card->props, prop) {
		if (gal_prop_is(prop, "FN"))
			gal_set(pool, &e->display_name, prop);
		else if (gal_prop_is(prop, "N")) {
			if (e->last_name == NULL && e->first_name == NULL) {
				value = as_vcard_prop_component(prop, 0);
				if (*value != '\0')
					e->last_name = p_strdup(pool, value);
				value = as_vcard_prop_component(prop, 1);
				if (*value != '\0')
					e->first_name = p_strdup(pool, value);
			}
		} else if (gal_prop_is(prop, "EMAIL")) {
			value = as_vcard_prop_text(prop);
			if (e->email == NULL && strchr(value, '@') != NULL)
				e->email = p_strdup(pool, t_str_trim(value, " "));
		} else if (gal_prop_is(prop, "ORG")) {
			value = as_vcard_prop_component(prop, 0);
			if (e->company == NULL && *value != '\0')
				e->company = p_strdup(pool, value);
		} else if (gal_prop_is(prop, "TITLE"))
			gal_set(pool, &e->title, prop);
		else if (gal_prop_is(prop, "NICKNAME"))
			gal_set(pool, &e->alias, prop);
		else if (gal_prop_is(prop, "TEL"))
			gal_card_tel(pool, e, prop);
		else if (gal_prop_is(prop, "PHOTO"))
			gal_card_photo(rd, e, prop);
		else if (gal_prop_is(prop, "KIND") ||
			 gal_prop_is(prop, "X-ADDRESSBOOKSERVER-KIND")) {
			/* vCard 4, and the vCard 3 form Apple's clients
			   write */
			if (strcasecmp(as_vcard_prop_text(prop), "group") == 0)
				e->group = TRUE;
		}
	}
	if (e->email == NULL) {
		/* nothing to send to (a group of members without an
		   address of its own too) */
		return FALSE;
	}
	if (e->display_name == NULL) {
		e->display_name = e->first_name == NULL && e->last_name == NULL ?
			e->email : p_strdup(pool, t_str_trim(t_strconcat(
				e->first_name == NULL ? "" : e->first_name, " ",
				e->last_name == NULL ? "" : e->last_name,
				NULL), " "));
	}
	return TRUE;
}

static bool gal_folder_item(struct mail *mail, const char *object,
			    const char *error ATTR_UNUSED, void *context)
{
	struct gal_folder_read *rd = context;
	struct as_gal_entry e;

	i_zero(&e);
	if (object == NULL || !gal_card_entry(rd, object, &e)) {
		rd->skipped++;
		return TRUE;
	}
	e.folder_guid = rd->guid;
	e.uid = mail->uid;
	if (e.group)
		rd->groups++;
	array_push_back(&rd->entries, &e);
	return array_count(&rd->entries) < AS_GAL_FOLDER_MAX_CONTACTS;
}

static int gal_folder_read(struct as_cmd_context *ctx, struct mailbox *box,
			   const char *guid,
			   const struct as_gal_folder_state *state,
			   const char **error_r)
{
	struct as_groupware_scan scan = {
		.folder_class = "contact",
		.content_types = gal_folder_types,
		.item = gal_folder_item,
	};
	struct gal_folder_read rd;
	struct timeval start, end;
	int ret;

	i_gettimeofday(&start);
	i_zero(&rd);
	rd.ctx = ctx;
	rd.guid = guid;
	rd.pool = pool_alloconly_create("gal folder", 16 * 1024);
	p_array_init(&rd.entries, rd.pool, 64);
	scan.context = &rd;
	ret = as_groupware_scan_mailbox(box, &scan, error_r);
	if (ret == 0) {
		e_warning(ctx->event, "GAL: folder %s has more than %u "
			  "contacts, the rest left out",
			  mailbox_get_vname(box), AS_GAL_FOLDER_MAX_CONTACTS);
	}
	if (ret >= 0) {
		const struct as_gal_entry *entries;
		unsigned int count;

		entries = array_get(&rd.entries, &count);
		ret = as_store_gal_folder_replace(ctx->store, guid, state,
						  entries, count, error_r);
	}
	if (ret >= 0) {
		i_gettimeofday(&end);
		e_info(ctx->event, "GAL: folder %s read: %u contacts "
		       "(%u groups), %u without an address left out, %d ms",
		       mailbox_get_vname(box), array_count(&rd.entries),
		       rd.groups, rd.skipped, timeval_diff_msecs(&end, &start));
	}
	pool_unref(&rd.pool);
	return ret < 0 ? -1 : 0;
}

/* Returns 1 if the user can read it (guid_r), 0 if not, -1 on error */
static int gal_folder_check(struct as_cmd_context *ctx,
			    struct mail_namespace *ns, const char *vname,
			    const char **guid_r, const char **error_r)
{
	struct mailbox *box;
	struct mailbox_metadata metadata;
	struct mailbox_status status;
	struct as_gal_folder_state state, stored;
	enum mail_error error;
	const char *errstr;
	int ret;

	box = mailbox_alloc(ns->list, vname, MAILBOX_FLAG_READONLY);
	if (mailbox_enable(box, MAILBOX_FEATURE_CONDSTORE) < 0 ||
	    mailbox_sync(box, 0) < 0 ||
	    mailbox_get_metadata(box, MAILBOX_METADATA_GUID, &metadata) < 0 ||
	    mailbox_get_status(box, STATUS_UIDVALIDITY | STATUS_HIGHESTMODSEQ,
			       &status) < 0) {
		errstr = mailbox_get_last_error(box, &error);
		if (error == MAIL_ERROR_PERM || error == MAIL_ERROR_NOTFOUND) {
			/* the ACL says no: not this user's GAL */
			e_debug(ctx->event, "GAL: folder %s not readable: %s",
				vname, errstr);
			mailbox_free(&box);
			return 0;
		}
		*error_r = t_strdup_printf("GAL folder %s: %s", vname,
			mailbox_get_last_internal_error(box, NULL));
		mailbox_free(&box);
		return -1;
	}
	*guid_r = t_strdup(guid_128_to_string(metadata.guid));
	i_zero(&state);
	state.uidvalidity = status.uidvalidity;
	state.highest_modseq = status.highest_modseq;
	ret = as_store_gal_folder_state(ctx->store, *guid_r, &stored, error_r);
	if (ret == 0 || (ret > 0 && (stored.uidvalidity != state.uidvalidity ||
				     stored.highest_modseq !=
				     state.highest_modseq)))
		ret = gal_folder_read(ctx, box, *guid_r, &state, error_r);
	else if (ret > 0) {
		e_debug(ctx->event, "GAL: folder %s unchanged (%u contacts)",
			vname, stored.count);
		ret = 0;
	}
	mailbox_free(&box);
	return ret < 0 ? -1 : 1;
}

int as_gal_folders_sync(struct as_cmd_context *ctx,
			ARRAY_TYPE(const_string) *guids_r,
			const char **error_r)
{
	struct mailbox_list_iterate_context *iter;
	const struct mailbox_info *info;
	const char *const *patterns, *guid, *error;
	int ret;

	patterns = t_strsplit_spaces(ctx->set->gal_folders, " ");
	if (patterns[0] == NULL)
		return 0;
	iter = mailbox_list_iter_init_namespaces(ctx->mail_user->namespaces,
		patterns, MAIL_NAMESPACE_TYPE_MASK_ALL, 0);
	while ((info = mailbox_list_iter_next(iter)) != NULL) {
		if ((info->flags & (MAILBOX_NOSELECT |
				    MAILBOX_NONEXISTENT)) != 0)
			continue;
		T_BEGIN {
			ret = gal_folder_check(ctx, info->ns, info->vname,
					       &guid, &error);
			if (ret > 0) {
				guid = p_strdup(ctx->pool, guid);
				if (!array_lsearch(guids_r, &guid,
						   i_strcmp_p))
					array_push_back(guids_r, &guid);
			} else if (ret < 0) {
				/* one broken folder doesn't stop the
				   search */
				e_error(ctx->event, "%s", error);
			}
		} T_END;
	}
	if (mailbox_list_iter_deinit(&iter) < 0) {
		*error_r = "Listing the GAL folders failed";
		return -1;
	}
	return 0;
}
