/* The user's mailboxes as an EAS folder hierarchy. */

#include "lib.h"
#include "array.h"
#include "hash.h"
#include "md5.h"
#include "str.h"
#include "strnum.h"
#include "str-sanitize.h"
#include "mail-namespace.h"
#include "mail-storage.h"
#include "mailbox-list-iter.h"
#include "mailbox-guid-cache.h"
#include "as-command.h"
#include "as-settings.h"
#include "as-store-itemprops.h"
#include "http/as-request.h"
#include "as-user.h"
#include "as-user-cache.h"
#include "as-folders.h"
#include "as-special-folders.h"

/* SPECIAL-USE flags that make a default EAS folder. \Junk and \Archive
   stay user mail folders: EAS has no type for them. */
static const struct {
	const char *special_use;
	unsigned int type;
} as_folders_special_types[] = {
	{ "\\Drafts", AS_FOLDER_TYPE_DRAFTS },
	{ "\\Trash", AS_FOLDER_TYPE_DELETED },
	{ "\\Sent", AS_FOLDER_TYPE_SENT },
};
#define AS_FOLDERS_SPECIAL_COUNT N_ELEMENTS(as_folders_special_types)

/* A top-level mailbox with this name is the EAS Outbox. */
#define AS_FOLDERS_OUTBOX_NAME "Outbox"

/* The METADATA entry that types a groupware folder (the convention other
   IMAP groupware uses), read private first, then shared. */
#define AS_FOLDERS_KOLAB_TYPE_KEY "vendor/kolab/folder-type"

/* METADATA folder-type values (without the ".default" suffix), the EAS
   types of user-created and default folders of that class, and the first
   protocol version whose devices get the class natively. 0 = no converter
   yet: such folders are listed as mail folders, so the items are still
   seen, as messages (the GroupWare-as-Email view). */
static const struct {
	const char *folder_type;
	unsigned int user_type, default_type;
	unsigned int min_version;
	/* its word in activesync_groupware_as_email */
	const char *as_email_name;
} as_folders_groupware_types[] = {
	/* Calendar (MS-ASCAL) as iCalendar VEVENTs, every version served */
	{ "event", AS_FOLDER_TYPE_USER_CALENDAR, AS_FOLDER_TYPE_CALENDAR,
	  AS_VERSION_12_0, "calendar" },
	/* Contacts (MS-ASCNTC) as vCards, for every version we serve */
	{ "contact", AS_FOLDER_TYPE_USER_CONTACTS, AS_FOLDER_TYPE_CONTACTS,
	  AS_VERSION_12_0, "contacts" },
	/* Tasks (MS-ASTASK) exist in every version served */
	{ "task", AS_FOLDER_TYPE_USER_TASKS, AS_FOLDER_TYPE_TASKS,
	  AS_VERSION_12_0, "tasks" },
	/* the Notes class exists from 14.0 (MS-ASNOTE) */
	{ "note", AS_FOLDER_TYPE_USER_NOTES, AS_FOLDER_TYPE_NOTES,
	  AS_VERSION_14_0, "notes" },
	{ "journal", AS_FOLDER_TYPE_USER_JOURNAL, AS_FOLDER_TYPE_JOURNAL, 0,
	  "journal" },
};

static const struct {
	unsigned int type;
	enum as_folder_class class;
} as_folders_type_classes[] = {
	{ AS_FOLDER_TYPE_USER_GENERIC, AS_FOLDER_CLASS_MAIL },
	{ AS_FOLDER_TYPE_INBOX, AS_FOLDER_CLASS_MAIL },
	{ AS_FOLDER_TYPE_DRAFTS, AS_FOLDER_CLASS_MAIL },
	{ AS_FOLDER_TYPE_DELETED, AS_FOLDER_CLASS_MAIL },
	{ AS_FOLDER_TYPE_SENT, AS_FOLDER_CLASS_MAIL },
	{ AS_FOLDER_TYPE_OUTBOX, AS_FOLDER_CLASS_MAIL },
	{ AS_FOLDER_TYPE_USER_MAIL, AS_FOLDER_CLASS_MAIL },
	{ AS_FOLDER_TYPE_CALENDAR, AS_FOLDER_CLASS_CALENDAR },
	{ AS_FOLDER_TYPE_USER_CALENDAR, AS_FOLDER_CLASS_CALENDAR },
	{ AS_FOLDER_TYPE_CONTACTS, AS_FOLDER_CLASS_CONTACTS },
	{ AS_FOLDER_TYPE_USER_CONTACTS, AS_FOLDER_CLASS_CONTACTS },
	{ AS_FOLDER_TYPE_TASKS, AS_FOLDER_CLASS_TASKS },
	{ AS_FOLDER_TYPE_USER_TASKS, AS_FOLDER_CLASS_TASKS },
	{ AS_FOLDER_TYPE_NOTES, AS_FOLDER_CLASS_NOTES },
	{ AS_FOLDER_TYPE_USER_NOTES, AS_FOLDER_CLASS_NOTES },
	{ AS_FOLDER_TYPE_JOURNAL, AS_FOLDER_CLASS_JOURNAL },
	{ AS_FOLDER_TYPE_USER_JOURNAL, AS_FOLDER_CLASS_JOURNAL },
};

/* For each special type, the mailbox that gets it. If several mailboxes
   carry the same SPECIAL-USE flag, the first one in folder order wins
   (the others are plain mail folders): a device expects one of each. */
struct as_folders_special {
	const char *vnames[AS_FOLDERS_SPECIAL_COUNT];
};

struct as_folders_entry {
	const char *vname;
	bool noselect;
};
ARRAY_DEFINE_TYPE(as_folders_entry, struct as_folders_entry);

struct mail_namespace *as_folders_namespace(struct as_cmd_context *ctx)
{
	struct mail_namespace *ns;

	ns = mail_namespace_find_inbox(ctx->mail_user->namespaces);
	i_assert(ns != NULL);
	return ns;
}

static bool as_folders_is_inbox(struct mail_namespace *ns, const char *vname)
{
	return (ns->flags & NAMESPACE_FLAG_INBOX_USER) != 0 &&
		strcmp(vname, "INBOX") == 0;
}

/* Folder order: INBOX first, then by name. A parent's name is a prefix
   of its children's names, so parents always come before children.
   (The namespace is always the inbox namespace.) */
static int as_folders_vname_cmp(const char *a, const char *b)
{
	bool a_inbox = strcmp(a, "INBOX") == 0;
	bool b_inbox = strcmp(b, "INBOX") == 0;

	if (a_inbox != b_inbox)
		return a_inbox ? -1 : 1;
	return strcmp(a, b);
}

/* The parent mailbox's name, NULL at the top of the namespace. */
static const char *
as_folders_parent_vname(struct mail_namespace *ns, const char *vname)
{
	char sep = mail_namespace_get_sep(ns);
	const char *p, *parent;

	p = strrchr(vname, sep);
	if (p == NULL || p == vname)
		return NULL;
	parent = t_strdup_until(vname, p);
	/* A namespace prefix ("Mail/") is the root itself, unless it is
	   the INBOX (prefix "INBOX/" puts folders below the INBOX). */
	if (ns->prefix_len > 0 && (size_t)(p - vname) + 1 == ns->prefix_len &&
	    strncmp(vname, ns->prefix, ns->prefix_len) == 0 &&
	    !as_folders_is_inbox(ns, parent))
		return NULL;
	return parent;
}

static const char *
as_folders_display_name(struct mail_namespace *ns, const char *vname)
{
	const char *p = strrchr(vname, mail_namespace_get_sep(ns));

	return p == NULL || p[1] == '\0' ? vname : p + 1;
}

/* \NoSelect parents have no mailbox GUID. Their id is derived from the
   name instead (MD5 of "noselect:" + name): stable as long as the name
   stays, and never equal to a real GUID in practice. If the parent
   later becomes a real mailbox it gets a new id (Delete + Add). */
static void as_folders_noselect_guid(const char *vname, guid_128_t guid_r)
{
	unsigned char digest[MD5_RESULTLEN];
	const char *key = t_strconcat("noselect:", vname, NULL);

	i_assert(sizeof(digest) == GUID_128_SIZE);
	md5_get_digest(key, strlen(key), digest);
	memcpy(guid_r, digest, GUID_128_SIZE);
}

/* Returns 1 and the GUID, 0 if the mailbox doesn't exist, -1 on error. */
static int as_folders_box_guid(struct mailbox *box, guid_128_t guid_r,
			       const char **error_r)
{
	struct mailbox_metadata metadata;
	enum mail_error error;

	if (mailbox_get_metadata(box, MAILBOX_METADATA_GUID, &metadata) < 0) {
		const char *errstr =
			mailbox_get_last_internal_error(box, &error);

		if (error == MAIL_ERROR_NOTFOUND)
			return 0;
		*error_r = t_strdup_printf("Mailbox %s: Couldn't get GUID: %s",
					   mailbox_get_vname(box), errstr);
		return -1;
	}
	memcpy(guid_r, metadata.guid, GUID_128_SIZE);
	return 1;
}

/* GUID of a mailbox by name: the real one if it is selectable, the
   name-derived one otherwise. Returns 1 selectable, 0 not selectable
   (or not existing), -1 error. */
static int as_folders_vname_guid(struct mail_namespace *ns, const char *vname,
				 guid_128_t guid_r, const char **error_r)
{
	enum mailbox_existence existence;
	struct mailbox *box;
	int ret;

	box = mailbox_alloc(ns->list, vname, 0);
	if (mailbox_exists(box, FALSE, &existence) < 0) {
		*error_r = t_strdup_printf("Mailbox %s: %s", vname,
			mailbox_get_last_internal_error(box, NULL));
		ret = -1;
	} else if (existence != MAILBOX_EXISTENCE_SELECT) {
		ret = 0;
	} else {
		ret = as_folders_box_guid(box, guid_r, error_r);
	}
	mailbox_free(&box);
	if (ret == 0)
		as_folders_noselect_guid(vname, guid_r);
	return ret;
}

static int as_folders_server_id(struct as_cmd_context *ctx,
				const guid_128_t guid, const char **id_r,
				const char **error_r)
{
	unsigned int id;

	if (as_store_folder_id_get(ctx->store, ctx->username, guid, &id,
				   error_r) < 0)
		return -1;
	*id_r = p_strdup_printf(ctx->pool, "%u", id);
	return 0;
}

bool as_folders_has_special_use(const char *special_use, const char *flag)
{
	const char *const *uses;

	if (special_use == NULL)
		return FALSE;
	for (uses = t_strsplit_spaces(special_use, " "); *uses != NULL; uses++) {
		if (strcasecmp(*uses, flag) == 0)
			return TRUE;
	}
	return FALSE;
}

static void as_folders_special_add(struct as_folders_special *special,
				   const char *vname, const char *special_use)
{
	unsigned int i;

	if (special_use == NULL || *special_use == '\0')
		return;
	for (i = 0; i < AS_FOLDERS_SPECIAL_COUNT; i++) {
		if (!as_folders_has_special_use(special_use,
				as_folders_special_types[i].special_use))
			continue;
		if (special->vnames[i] == NULL ||
		    as_folders_vname_cmp(vname, special->vnames[i]) < 0)
			special->vnames[i] = vname;
	}
}

/* The special-use mailboxes alone (cheap: from the configuration). */
static int as_folders_special_init(struct mail_namespace *ns,
				   struct as_folders_special *special_r,
				   const char **error_r)
{
	struct mailbox_list_iterate_context *iter;
	const struct mailbox_info *info;

	i_zero(special_r);
	iter = mailbox_list_iter_init(ns->list, "*",
				      MAILBOX_LIST_ITER_SELECT_SPECIALUSE |
				      MAILBOX_LIST_ITER_RETURN_SPECIALUSE);
	while ((info = mailbox_list_iter_next(iter)) != NULL) {
		if ((info->flags & (MAILBOX_NOSELECT |
				    MAILBOX_NONEXISTENT)) != 0)
			continue;
		as_folders_special_add(special_r, t_strdup(info->vname),
				       info->special_use);
	}
	if (mailbox_list_iter_deinit(&iter) < 0) {
		*error_r = t_strdup_printf(
			"Listing special-use mailboxes failed: %s",
			mailbox_list_get_last_internal_error(ns->list, NULL));
		return -1;
	}
	return 0;
}

const char *as_folders_kolab_type(struct event *event,
				  struct mail_namespace *ns, const char *vname)
{
	static const enum mail_attribute_type types[] = {
		MAIL_ATTRIBUTE_TYPE_PRIVATE, MAIL_ATTRIBUTE_TYPE_SHARED,
	};
	struct mail_attribute_value value;
	struct mailbox *box;
	const char *result = NULL;
	enum mail_error error;
	unsigned int i;
	int ret;

	box = mailbox_alloc(ns->list, vname, 0);
	for (i = 0; i < N_ELEMENTS(types) && result == NULL; i++) {
		ret = mailbox_attribute_get(box, types[i],
					    AS_FOLDERS_KOLAB_TYPE_KEY, &value);
		if (ret > 0)
			result = t_strdup(value.value);
		else if (ret < 0) {
			const char *errstr =
				mailbox_get_last_internal_error(box, &error);

			/* NOTPOSSIBLE: no mail_attribute_dict; NOTFOUND:
			   deleted meanwhile. Either way: a mail folder. */
			if (error != MAIL_ERROR_NOTPOSSIBLE &&
			    error != MAIL_ERROR_NOTFOUND) {
				e_warning(event, "Mailbox %s: reading "
					  "its folder type failed: %s",
					  vname, errstr);
			}
			break;
		}
	}
	mailbox_free(&box);
	return result;
}

static unsigned int as_folders_type(struct as_cmd_context *ctx,
				    struct mail_namespace *ns,
				    const struct as_folders_special *special,
				    const char *vname, bool *as_email_r)
{
	const char *kolab_type;
	unsigned int i, type;

	if (as_folders_is_inbox(ns, vname))
		return AS_FOLDER_TYPE_INBOX;
	for (i = 0; i < AS_FOLDERS_SPECIAL_COUNT; i++) {
		if (special->vnames[i] != NULL &&
		    strcmp(special->vnames[i], vname) == 0)
			return as_folders_special_types[i].type;
	}
	/* No mailbox has the flag (the configuration names none, and a
	   created one can't carry it): the top-level folder of the name
	   as-special-folders.c creates gets the type. */
	for (i = 0; i < AS_FOLDERS_SPECIAL_COUNT; i++) {
		const char *name = as_special_folder_default_name(
			as_folders_special_types[i].special_use);

		if (special->vnames[i] == NULL && name != NULL &&
		    as_folders_parent_vname(ns, vname) == NULL &&
		    strcmp(as_folders_display_name(ns, vname), name) == 0)
			return as_folders_special_types[i].type;
	}
	if (as_folders_parent_vname(ns, vname) == NULL &&
	    strcmp(as_folders_display_name(ns, vname),
		   AS_FOLDERS_OUTBOX_NAME) == 0)
		return AS_FOLDER_TYPE_OUTBOX;
	kolab_type = as_folders_kolab_type(ctx->event, ns, vname);
	if (kolab_type == NULL)
		return AS_FOLDER_TYPE_USER_MAIL;
	if (as_folders_groupware_as_email(ctx, kolab_type)) {
		*as_email_r = TRUE;
		return AS_FOLDER_TYPE_USER_MAIL;
	}
	if (as_folders_groupware_type(kolab_type, ctx->req->version, &type))
		return type;
	return AS_FOLDER_TYPE_USER_MAIL;
}

enum as_folder_class as_folder_type_class(unsigned int type)
{
	unsigned int i;

	for (i = 0; i < N_ELEMENTS(as_folders_type_classes); i++) {
		if (as_folders_type_classes[i].type == type)
			return as_folders_type_classes[i].class;
	}
	return AS_FOLDER_CLASS_NONE;
}

enum as_folder_class as_folder_class(const struct as_folder_info *folder)
{
	return folder->noselect ? AS_FOLDER_CLASS_NONE :
		as_folder_type_class(folder->type);
}

bool as_folder_type_is_default(unsigned int type)
{
	switch ((enum as_folder_type)type) {
	case AS_FOLDER_TYPE_INBOX:
	case AS_FOLDER_TYPE_DRAFTS:
	case AS_FOLDER_TYPE_DELETED:
	case AS_FOLDER_TYPE_SENT:
	case AS_FOLDER_TYPE_OUTBOX:
	case AS_FOLDER_TYPE_TASKS:
	case AS_FOLDER_TYPE_CALENDAR:
	case AS_FOLDER_TYPE_CONTACTS:
	case AS_FOLDER_TYPE_NOTES:
	case AS_FOLDER_TYPE_JOURNAL:
	case AS_FOLDER_TYPE_RECIPIENT_CACHE:
		return TRUE;
	default:
		return FALSE;
	}
}

/* Index of the folder-type value's class in as_folders_groupware_types,
   -1 if none */
static int as_folders_groupware_index(const char *folder_type)
{
	const char *suffix;
	unsigned int i;
	size_t len;

	for (i = 0; i < N_ELEMENTS(as_folders_groupware_types); i++) {
		len = strlen(as_folders_groupware_types[i].folder_type);
		if (strncmp(folder_type, as_folders_groupware_types[i].folder_type,
			    len) != 0)
			continue;
		suffix = folder_type + len;
		if (*suffix == '\0' || strcmp(suffix, ".default") == 0)
			return (int)i;
	}
	return -1;
}

int as_folders_groupware_as_email_parse(const char *value,
					unsigned int *mask_r,
					const char **error_r)
{
	const char *const *words;
	unsigned int i;
	int ret = 0;

	*mask_r = 0;
	for (words = t_strsplit_spaces(value, " ,"); *words != NULL; words++) {
		if (strcasecmp(*words, "all") == 0 ||
		    strcasecmp(*words, "yes") == 0) {
			*mask_r = (1U << N_ELEMENTS(
				as_folders_groupware_types)) - 1;
			continue;
		}
		if (strcasecmp(*words, "none") == 0 ||
		    strcasecmp(*words, "no") == 0)
			continue;
		for (i = 0; i < N_ELEMENTS(as_folders_groupware_types); i++) {
			if (strcasecmp(*words, as_folders_groupware_types[i].
				       as_email_name) == 0)
				break;
		}
		if (i < N_ELEMENTS(as_folders_groupware_types))
			*mask_r |= 1U << i;
		else {
			*error_r = t_strdup_printf("unknown class '%s' (use "
				"calendar, contacts, tasks, notes, journal, "
				"all or none)", *words);
			ret = -1;
		}
	}
	return ret;
}

/* The device's property wins over the user's setting, so one old phone
   can get everything as mail while the user's other devices sync the
   classes natively. */
static unsigned int as_folders_as_email_mask(struct as_cmd_context *ctx)
{
	const char *value = NULL, *error;
	unsigned int mask;

	if (ctx->groupware_as_email_known)
		return ctx->groupware_as_email;
	ctx->groupware_as_email_known = TRUE;
	if (ctx->store != NULL && ctx->req->device_id != NULL &&
	    as_store_device_prop_get(ctx->store, pool_datastack_create(),
				     ctx->username, ctx->req->device_id,
				     AS_FOLDERS_PROP_GROUPWARE_AS_EMAIL,
				     &value, &error) < 0) {
		e_error(ctx->event, "Reading the device's %s failed: %s",
			AS_FOLDERS_PROP_GROUPWARE_AS_EMAIL, error);
		value = NULL;
	}
	if (value == NULL)
		value = ctx->set->groupware_as_email;
	if (as_folders_groupware_as_email_parse(value, &mask, &error) < 0) {
		e_warning(ctx->event, "Invalid %s '%s': %s",
			  AS_FOLDERS_PROP_GROUPWARE_AS_EMAIL,
			  str_sanitize(value, 64), error);
	}
	ctx->groupware_as_email = mask;
	return mask;
}

bool as_folders_groupware_as_email(struct as_cmd_context *ctx,
				   const char *folder_type)
{
	int idx = as_folders_groupware_index(folder_type);

	return idx >= 0 &&
		(as_folders_as_email_mask(ctx) & (1U << idx)) != 0;
}

bool as_folders_groupware_type(const char *folder_type, unsigned int version,
			       unsigned int *type_r)
{
	const char *suffix;
	unsigned int i;
	size_t len;

	for (i = 0; i < N_ELEMENTS(as_folders_groupware_types); i++) {
		const char *name = as_folders_groupware_types[i].folder_type;
		unsigned int min_version =
			as_folders_groupware_types[i].min_version;

		len = strlen(name);
		if (strncmp(folder_type, name, len) != 0)
			continue;
		suffix = folder_type + len;
		if (*suffix != '\0' && strcmp(suffix, ".default") != 0)
			continue;
		if (min_version == 0 || version < min_version)
			return FALSE;
		*type_r = *suffix == '\0' ?
			as_folders_groupware_types[i].user_type :
			as_folders_groupware_types[i].default_type;
		return TRUE;
	}
	return FALSE;
}

const char *as_folders_groupware_create_value(unsigned int type,
					      unsigned int version)
{
	unsigned int i;

	for (i = 0; i < N_ELEMENTS(as_folders_groupware_types); i++) {
		if (as_folders_groupware_types[i].user_type != type)
			continue;
		if (as_folders_groupware_types[i].min_version == 0 ||
		    version < as_folders_groupware_types[i].min_version)
			return NULL;
		return as_folders_groupware_types[i].folder_type;
	}
	return NULL;
}

int as_folders_set_groupware_type(struct mailbox *box, const char *value,
				  const char **error_r)
{
	struct mailbox_transaction_context *t;
	struct mail_attribute_value attr;

	if (mailbox_open(box) < 0) {
		*error_r = mailbox_get_last_internal_error(box, NULL);
		return -1;
	}
	i_zero(&attr);
	attr.value = value;
	t = mailbox_transaction_begin(box, MAILBOX_TRANSACTION_FLAG_EXTERNAL,
				      "activesync folder type");
	if (mailbox_attribute_set(t, MAIL_ATTRIBUTE_TYPE_PRIVATE,
				  AS_FOLDERS_KOLAB_TYPE_KEY, &attr) < 0) {
		*error_r = mailbox_get_last_internal_error(box, NULL);
		mailbox_transaction_rollback(&t);
		return -1;
	}
	if (mailbox_transaction_commit(&t) < 0) {
		*error_r = mailbox_get_last_internal_error(box, NULL);
		return -1;
	}
	return 0;
}

static int as_folders_entry_cmp(const struct as_folders_entry *a,
				const struct as_folders_entry *b)
{
	return as_folders_vname_cmp(a->vname, b->vname);
}

/* All mailbox names of the namespace, \NoSelect parents included and
   missing ancestors added as \NoSelect, in folder order. */
static int as_folders_list_names(struct mail_namespace *ns,
				 ARRAY_TYPE(as_folders_entry) *entries,
				 struct as_folders_special *special,
				 const char **error_r)
{
	struct mailbox_list_iterate_context *iter;
	const struct mailbox_info *info;
	struct as_folders_entry *entry;
	HASH_TABLE(const char *, void *) names;
	const char *parent;
	unsigned int i, count;
	int ret = 0;

	i_zero(special);
	hash_table_create(&names, default_pool, 0, str_hash, strcmp);
	iter = mailbox_list_iter_init(ns->list, "*",
				      MAILBOX_LIST_ITER_RETURN_SPECIALUSE);
	while ((info = mailbox_list_iter_next(iter)) != NULL) {
		/* a new user's INBOX is listed as \NonExistent until it is
		   first opened (which creates it) */
		if (((info->flags & MAILBOX_NONEXISTENT) != 0 &&
		     !as_folders_is_inbox(ns, info->vname)) ||
		    info->ns != ns)
			continue;
		if (hash_table_lookup(names, info->vname) != NULL)
			continue;
		entry = array_append_space(entries);
		entry->vname = t_strdup(info->vname);
		entry->noselect = (info->flags & MAILBOX_NOSELECT) != 0 &&
			!as_folders_is_inbox(ns, info->vname);
		hash_table_insert(names, entry->vname, POINTER_CAST(1));
		if (!entry->noselect) {
			as_folders_special_add(special, entry->vname,
					       info->special_use);
		}
	}
	if (mailbox_list_iter_deinit(&iter) < 0) {
		*error_r = t_strdup_printf("Listing mailboxes failed: %s",
			mailbox_list_get_last_internal_error(ns->list, NULL));
		ret = -1;
	}

	/* The INBOX always exists for EAS; a new user's INBOX may not be
	   listed before it was first opened (opening creates it). */
	if (ret == 0 && (ns->flags & NAMESPACE_FLAG_INBOX_USER) != 0 &&
	    hash_table_lookup(names, (const char *)"INBOX") == NULL) {
		entry = array_append_space(entries);
		entry->vname = "INBOX";
		hash_table_insert(names, entry->vname, POINTER_CAST(1));
	}

	/* A child whose parent wasn't listed (\NonExistent) still needs a
	   parent folder on the device. */
	count = array_count(entries);
	for (i = 0; i < count && ret == 0; i++) {
		entry = array_idx_modifiable(entries, i);
		parent = as_folders_parent_vname(ns, entry->vname);
		while (parent != NULL &&
		       hash_table_lookup(names, parent) == NULL) {
			entry = array_append_space(entries);
			entry->vname = parent;
			entry->noselect = TRUE;
			hash_table_insert(names, entry->vname, POINTER_CAST(1));
			parent = as_folders_parent_vname(ns, parent);
		}
	}
	hash_table_destroy(&names);

	array_sort(entries, as_folders_entry_cmp);
	return ret;
}

/* A device expects one default folder of each groupware class: of
   several folders marked ".default", the first in folder order keeps the
   default type, the others become user folders of that class. */
static void as_folders_unique_defaults(ARRAY_TYPE(as_folder_info) *folders)
{
	struct as_folder_info *folder;
	unsigned int i;
	bool seen[N_ELEMENTS(as_folders_groupware_types)];

	memset(seen, 0, sizeof(seen));
	array_foreach_modifiable(folders, folder) {
		for (i = 0; i < N_ELEMENTS(as_folders_groupware_types); i++) {
			if (folder->type !=
			    as_folders_groupware_types[i].default_type)
				continue;
			if (seen[i]) {
				folder->type =
					as_folders_groupware_types[i].user_type;
			}
			seen[i] = TRUE;
		}
	}
}

/* A quarantined device (ABQ) sees only the default folders, all at the
   top level, until the admin allows it. */
static bool as_folders_quarantined(struct as_cmd_context *ctx)
{
	return ctx->device != NULL &&
		ctx->device->access == AS_DEVICE_ACCESS_QUARANTINE;
}

static void as_folders_quarantine_filter(ARRAY_TYPE(as_folder_info) *folders)
{
	struct as_folder_info *folder;
	unsigned int i = 0;

	while (i < array_count(folders)) {
		folder = array_idx_modifiable(folders, i);
		if (folder->noselect ||
		    !as_folder_type_is_default(folder->type)) {
			array_delete(folders, i, 1);
			continue;
		}
		folder->parent_id = "0";
		i++;
	}
}

int as_folders_list(struct as_cmd_context *ctx,
		    ARRAY_TYPE(as_folder_info) *folders_r,
		    const char **error_r)
{
	struct mail_namespace *ns = as_folders_namespace(ctx);
	ARRAY_TYPE(as_folders_entry) entries;
	struct as_folders_special special;
	const struct as_folders_entry *entry;
	struct as_folder_info *folder;
	HASH_TABLE(const char *, const char *) ids;
	struct mailbox *box;
	const char *parent;
	int ret = 0;

	if (!array_is_created(folders_r))
		p_array_init(folders_r, ctx->pool, 32);
	else
		array_clear(folders_r);

	t_array_init(&entries, 64);
	if (as_folders_list_names(ns, &entries, &special, error_r) < 0)
		return -1;

	hash_table_create(&ids, default_pool, 0, str_hash, strcmp);
	array_foreach(&entries, entry) {
		folder = array_append_space(folders_r);
		folder->vname = p_strdup(ctx->pool, entry->vname);
		folder->noselect = entry->noselect;
		if (!entry->noselect) {
			box = mailbox_alloc(ns->list, entry->vname, 0);
			ret = as_folders_box_guid(box, folder->guid, error_r);
			mailbox_free(&box);
			if (ret < 0)
				break;
			/* Deleted since it was listed: keep it as a
			   parent for now, the next FolderSync drops it */
			if (ret == 0)
				folder->noselect = TRUE;
		}
		if (folder->noselect)
			as_folders_noselect_guid(entry->vname, folder->guid);
		if (as_folders_server_id(ctx, folder->guid, &folder->server_id,
					 error_r) < 0) {
			ret = -1;
			break;
		}
		hash_table_insert(ids, folder->vname, folder->server_id);

		parent = as_folders_parent_vname(ns, entry->vname);
		folder->parent_id = parent == NULL ? NULL :
			hash_table_lookup(ids, parent);
		if (folder->parent_id == NULL)
			folder->parent_id = "0";
		folder->display_name = p_strdup(ctx->pool,
			as_folders_display_name(ns, entry->vname));
		if (folder->noselect)
			folder->type = AS_FOLDER_TYPE_USER_MAIL;
		else {
			bool as_email = FALSE;

			folder->type = as_folders_type(ctx, ns, &special,
						       entry->vname, &as_email);
			folder->groupware_as_email = as_email;
		}
		ret = 0;
	}
	hash_table_destroy(&ids);
	if (ret == 0)
		as_folders_unique_defaults(folders_r);
	if (ret == 0 && as_folders_quarantined(ctx))
		as_folders_quarantine_filter(folders_r);
	if (ret < 0) {
		array_clear(folders_r);
		return -1;
	}
	return 0;
}

/* Slow path: the folder as as_folders_list() sees it, found by server id
   or name. */
static int as_folders_find_listed(struct as_cmd_context *ctx,
				  const char *server_id, const char *vname,
				  struct as_folder_info *folder_r,
				  const char **error_r)
{
	ARRAY_TYPE(as_folder_info) folders;
	const struct as_folder_info *folder;

	i_zero(&folders);
	if (as_folders_list(ctx, &folders, error_r) < 0)
		return -1;
	array_foreach(&folders, folder) {
		if ((server_id != NULL &&
		     strcmp(folder->server_id, server_id) == 0) ||
		    (vname != NULL && strcmp(folder->vname, vname) == 0)) {
			*folder_r = *folder;
			return 1;
		}
	}
	return 0;
}

int as_folders_lookup_vname(struct as_cmd_context *ctx, const char *vname,
			    struct as_folder_info *folder_r,
			    const char **error_r)
{
	struct mail_namespace *ns = as_folders_namespace(ctx);
	struct as_folders_special special;
	guid_128_t parent_guid;
	const char *parent;
	bool as_email = FALSE;
	int ret;

	i_zero(folder_r);
	ret = as_folders_vname_guid(ns, vname, folder_r->guid, error_r);
	if (ret < 0)
		return -1;
	if (ret == 0) {
		/* \NoSelect or nonexistent: it's a folder only if it is a
		   parent; the listing knows */
		return as_folders_find_listed(ctx, NULL, vname, folder_r,
					      error_r);
	}
	if (as_folders_server_id(ctx, folder_r->guid, &folder_r->server_id,
				 error_r) < 0)
		return -1;

	parent = as_folders_parent_vname(ns, vname);
	if (parent == NULL)
		folder_r->parent_id = "0";
	else {
		if (as_folders_vname_guid(ns, parent, parent_guid,
					  error_r) < 0)
			return -1;
		if (as_folders_server_id(ctx, parent_guid,
					 &folder_r->parent_id, error_r) < 0)
			return -1;
	}
	if (as_folders_special_init(ns, &special, error_r) < 0)
		return -1;
	folder_r->vname = p_strdup(ctx->pool, vname);
	folder_r->display_name = p_strdup(ctx->pool,
		as_folders_display_name(ns, vname));
	folder_r->type = as_folders_type(ctx, ns, &special, vname, &as_email);
	folder_r->groupware_as_email = as_email;
	return 1;
}

int as_folders_check_writable(struct mailbox *box, const char **error_r)
{
	if (!mailbox_is_readonly(box))
		return 0;
	*error_r = t_strdup_printf("Mailbox %s is read-only (no write "
				   "permission)", mailbox_get_vname(box));
	return -1;
}

static int
as_folders_lookup_any(struct as_cmd_context *ctx, const char *server_id,
		      struct as_folder_info *folder_r, const char **error_r)
{
	struct mail_namespace *ns = as_folders_namespace(ctx);
	guid_128_t guid, box_guid;
	struct mailbox *box;
	const char *vname = NULL;
	unsigned int id;
	int ret;

	i_zero(folder_r);
	if (str_to_uint(server_id, &id) < 0 || id == 0 ||
	    strcmp(dec2str(id), server_id) != 0)
		return 0;
	ret = as_store_folder_guid_get(ctx->store, ctx->username, id, guid,
				       error_r);
	if (ret <= 0)
		return ret;

	/* A user kept open across requests (as-user-cache.h) has the GUID
	   cache it built then: a mailbox deleted or renamed since by
	   another process would fail to verify (logged as an error), so
	   a cached name that no longer exists makes it build the cache
	   again. */
	if (mailbox_guid_cache_find(ns->list, guid, &vname) == 0 &&
	    vname != NULL) {
		enum mailbox_existence existence;

		box = mailbox_alloc(ns->list, vname, 0);
		if (mailbox_exists(box, FALSE, &existence) == 0 &&
		    existence == MAILBOX_EXISTENCE_NONE)
			mailbox_guid_cache_refresh(ns->list);
		mailbox_free(&box);
		vname = NULL;
	}
	/* Fast path: Dovecot's GUID cache finds the mailbox (also after a
	   rename). */
	box = mailbox_alloc_guid(ns->list, guid, 0);
	ret = as_folders_box_guid(box, box_guid, error_r);
	if (ret > 0 && guid_128_equals(guid, box_guid))
		vname = t_strdup(mailbox_get_vname(box));
	mailbox_free(&box);
	if (ret < 0)
		return -1;
	if (vname != NULL) {
		ret = as_folders_lookup_vname(ctx, vname, folder_r, error_r);
		if (ret != 0)
			return ret;
	}
	/* No selectable mailbox has this GUID: a \NoSelect parent's
	   name-derived id, or gone. */
	return as_folders_find_listed(ctx, server_id, NULL, folder_r, error_r);
}

int as_folders_lookup(struct as_cmd_context *ctx, const char *server_id,
		      struct as_folder_info *folder_r, const char **error_r)
{
	int ret;

	ret = as_folders_lookup_any(ctx, server_id, folder_r, error_r);
	if (ret > 0 && as_folders_quarantined(ctx) &&
	    !as_folder_type_is_default(folder_r->type)) {
		/* hidden from a quarantined device */
		i_zero(folder_r);
		return 0;
	}
	return ret;
}

int as_folders_open(struct as_cmd_context *ctx,
		    const struct as_folder_info *folder,
		    enum mailbox_flags flags, struct mailbox **box_r,
		    const char **error_r)
{
	struct mail_namespace *ns = as_folders_namespace(ctx);
	struct mailbox *box;
	guid_128_t guid;
	int ret;

	if (folder->noselect) {
		*error_r = t_strdup_printf("Folder %s (%s) is not selectable",
					   folder->server_id, folder->vname);
		return -1;
	}
	if (flags == 0 && ctx->user != NULL &&
	    ctx->user->mail_user == ctx->mail_user) {
		/* still open from the device's previous request */
		box = as_user_cache_take_box(ctx->user, folder->vname,
					     folder->guid);
		if (box != NULL) {
			*box_r = box;
			return 0;
		}
	}
	box = mailbox_alloc(ns->list, folder->vname, flags);
	if (mailbox_open(box) == 0 &&
	    as_folders_box_guid(box, guid, error_r) > 0 &&
	    guid_128_equals(guid, folder->guid)) {
		*box_r = box;
		return 0;
	}
	mailbox_free(&box);

	/* Renamed (or replaced) since it was looked up: find it by GUID */
	box = mailbox_alloc_guid(ns->list, folder->guid, flags);
	ret = as_folders_box_guid(box, guid, error_r);
	if (ret > 0 && !guid_128_equals(guid, folder->guid))
		ret = 0;
	if (ret > 0 && mailbox_open(box) < 0) {
		*error_r = t_strdup_printf("Couldn't open mailbox %s: %s",
			mailbox_get_vname(box),
			mailbox_get_last_internal_error(box, NULL));
		ret = -1;
	}
	if (ret <= 0) {
		if (ret == 0) {
			*error_r = t_strdup_printf(
				"Folder %s (%s) no longer exists",
				folder->server_id, folder->vname);
		}
		mailbox_free(&box);
		return -1;
	}
	*box_r = box;
	return 0;
}

void as_folders_close(struct as_cmd_context *ctx,
		      const struct as_folder_info *folder,
		      struct mailbox **_box)
{
	if (*_box == NULL)
		return;
	if (ctx->user == NULL || ctx->user->mail_user != ctx->mail_user ||
	    mailbox_get_namespace(*_box)->user != ctx->mail_user) {
		mailbox_free(_box);
		return;
	}
	as_user_cache_keep_box(ctx->user, _box, folder->guid);
}

int as_folders_open_trash(struct as_cmd_context *ctx, struct mailbox **box_r,
			  const char **error_r)
{
	ARRAY_TYPE(as_folder_info) folders;
	const struct as_folder_info *folder;
	const char *error;

	*box_r = NULL;
	t_array_init(&folders, 32);
	if (as_folders_list(ctx, &folders, &error) < 0) {
		*error_r = t_strdup_printf("Listing folders failed: %s", error);
		return -1;
	}
	array_foreach(&folders, folder) {
		if (folder->type != AS_FOLDER_TYPE_DELETED)
			continue;
		if (as_folders_open(ctx, folder, 0, box_r, &error) < 0) {
			*error_r = t_strdup_printf("Opening Trash failed: %s",
						   error);
			return -1;
		}
		break;
	}
	return 0;
}
