/* Copyright (c) dovecot-activesync authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "base64.h"
#include "guid.h"
#include "utc-mktime.h"
#include "unichar.h"
#include "mail-storage-private.h"
#include "wbxml.h"
#include "items/as-body.h"
#include "items/as-body-prefs.h"
#include "items/as-draft.h"
#include "items/as-groupware-msg.h"
#include "items/as-item.h"
#include "items/as-vcard.h"
#include "items/as-contact.h"

#include <time.h>

/* Longest text field a device may send (Body and Picture aside) */
#define CONTACT_MAX_FIELD_LEN (32 * 1024)
#define CONTACT_MAX_LIST_ITEMS 300

static const char *const contact_content_types[] = {
	"text/vcard", "text/x-vcard", "text/directory", NULL
};

/* ---- the map ---- */

/* The vCard properties fields live in. A property of the card belongs to
   the first of these (in this order) it matches, so the specific kinds
   of TEL come before home and work. */
enum contact_prop {
	CP_FN, CP_N, CP_ORG, CP_TITLE, CP_OFFICE,
	CP_EMAIL1, CP_EMAIL2, CP_EMAIL3,
	CP_TEL_HOMEFAX, CP_TEL_BUSINESSFAX, CP_TEL_MOBILE, CP_TEL_PAGER,
	CP_TEL_CAR, CP_TEL_RADIO, CP_TEL_ASSISTANT, CP_TEL_COMPANY,
	CP_TEL_MMS, CP_TEL_HOME, CP_TEL_BUSINESS, CP_TEL_HOME2,
	CP_TEL_BUSINESS2,
	CP_ADR_HOME, CP_ADR_WORK, CP_ADR_OTHER,
	CP_BDAY, CP_ANNIVERSARY, CP_NOTE, CP_CATEGORIES, CP_PHOTO,
	CP_CHILD, CP_SPOUSE, CP_ASSISTANT, CP_MANAGER, CP_URL,
	CP_YOMI_FIRST, CP_YOMI_LAST, CP_YOMI_COMPANY,
	CP_CUSTOMERID, CP_GOVERNMENTID, CP_IM1, CP_IM2, CP_IM3,
	CP_ACCOUNT, CP_NICKNAME, CP_ALIAS,

	CP_COUNT
};

struct contact_prop_def {
	/* names the property is read from, '|' between them; a new one is
	   written as the first (4.0) or name30 (3.0 cards, when the first
	   isn't a 3.0 property) */
	const char *names;
	const char *name30;
	/* standard properties: TYPE sets ('|' between alternatives, ','
	   inside one; "" = no TYPE), the first is written; NULL = any.
	   X- properties are told apart by name alone. */
	const char *types;
	/* TYPEs that keep a property out */
	const char *exclude;
	/* extra parameter of a new property written as the first name */
	const char *param;
	/* takes every matching property (lists) */
	bool multi;
};

#define TEL_EXCL "fax,cell,pager,car"
static const struct contact_prop_def contact_props[CP_COUNT] = {
	[CP_FN] = { "FN", NULL, NULL, NULL, NULL, FALSE },
	[CP_N] = { "N", NULL, NULL, NULL, NULL, FALSE },
	[CP_ORG] = { "ORG", NULL, NULL, NULL, NULL, FALSE },
	[CP_TITLE] = { "TITLE", NULL, NULL, NULL, NULL, FALSE },
	[CP_OFFICE] = { "X-OFFICE-LOCATION|X-EVOLUTION-OFFICE|"
			"X-KADDRESSBOOK-X-OFFICE", NULL, NULL, NULL, NULL,
			FALSE },
	[CP_EMAIL1] = { "EMAIL", NULL, NULL, NULL, NULL, FALSE },
	[CP_EMAIL2] = { "EMAIL", NULL, NULL, NULL, NULL, FALSE },
	[CP_EMAIL3] = { "EMAIL", NULL, NULL, NULL, NULL, FALSE },
	[CP_TEL_HOMEFAX] = { "TEL", NULL, "home,fax", NULL, NULL, FALSE },
	[CP_TEL_BUSINESSFAX] = { "TEL", NULL, "work,fax|fax", NULL, NULL,
				 FALSE },
	[CP_TEL_MOBILE] = { "TEL", NULL, "cell", NULL, NULL, FALSE },
	[CP_TEL_PAGER] = { "TEL", NULL, "pager", NULL, NULL, FALSE },
	[CP_TEL_CAR] = { "TEL", NULL, "car", NULL, NULL, FALSE },
	[CP_TEL_RADIO] = { "TEL", NULL, "x-radio", NULL, NULL, FALSE },
	[CP_TEL_ASSISTANT] = { "TEL", NULL, "x-assistant", NULL, NULL,
			       FALSE },
	[CP_TEL_COMPANY] = { "TEL", NULL, "x-company-main|main", NULL, NULL,
			     FALSE },
	[CP_TEL_MMS] = { "TEL", NULL, "x-mms", NULL, NULL, FALSE },
	[CP_TEL_HOME] = { "TEL", NULL, "home", TEL_EXCL, NULL, FALSE },
	[CP_TEL_BUSINESS] = { "TEL", NULL, "work", TEL_EXCL, NULL, FALSE },
	/* a second home number, else one of no or another kind */
	[CP_TEL_HOME2] = { "TEL", NULL, "home|voice|other|", TEL_EXCL, NULL,
			   FALSE },
	[CP_TEL_BUSINESS2] = { "TEL", NULL, "work", TEL_EXCL, NULL, FALSE },
	[CP_ADR_HOME] = { "ADR", NULL, "home", NULL, NULL, FALSE },
	[CP_ADR_WORK] = { "ADR", NULL, "work", NULL, NULL, FALSE },
	[CP_ADR_OTHER] = { "ADR", NULL, NULL, NULL, NULL, FALSE },
	[CP_BDAY] = { "BDAY", NULL, NULL, NULL, NULL, FALSE },
	[CP_ANNIVERSARY] = { "ANNIVERSARY|X-ANNIVERSARY|"
			     "X-EVOLUTION-ANNIVERSARY|X-MS-ANNIVERSARY",
			     "X-ANNIVERSARY", NULL, NULL, NULL, FALSE },
	[CP_NOTE] = { "NOTE", NULL, NULL, NULL, NULL, FALSE },
	[CP_CATEGORIES] = { "CATEGORIES", NULL, NULL, NULL, NULL, TRUE },
	[CP_PHOTO] = { "PHOTO", NULL, NULL, NULL, NULL, FALSE },
	[CP_CHILD] = { "RELATED|X-CHILD", "X-CHILD", "child", NULL,
		       "VALUE=text", TRUE },
	[CP_SPOUSE] = { "RELATED|X-SPOUSE|X-EVOLUTION-SPOUSE|"
			"X-KADDRESSBOOK-X-SPOUSESNAME", "X-SPOUSE", "spouse",
			NULL, "VALUE=text", FALSE },
	[CP_ASSISTANT] = { "X-ASSISTANT|X-EVOLUTION-ASSISTANT|"
			   "X-KADDRESSBOOK-X-ASSISTANTSNAME", NULL, NULL, NULL,
			   NULL, FALSE },
	[CP_MANAGER] = { "X-MANAGER|X-EVOLUTION-MANAGER|"
			 "X-KADDRESSBOOK-X-MANAGERSNAME", NULL, NULL, NULL,
			 NULL, FALSE },
	[CP_URL] = { "URL", NULL, NULL, NULL, NULL, FALSE },
	[CP_YOMI_FIRST] = { "X-PHONETIC-FIRST-NAME", NULL, NULL, NULL, NULL,
			    FALSE },
	[CP_YOMI_LAST] = { "X-PHONETIC-LAST-NAME", NULL, NULL, NULL, NULL,
			   FALSE },
	[CP_YOMI_COMPANY] = { "X-PHONETIC-ORG", NULL, NULL, NULL, NULL,
			      FALSE },
	[CP_CUSTOMERID] = { "X-CUSTOMER-ID", NULL, NULL, NULL, NULL, FALSE },
	[CP_GOVERNMENTID] = { "X-GOVERNMENT-ID", NULL, NULL, NULL, NULL,
			      FALSE },
#define IM_NAMES "IMPP|X-JABBER|X-AIM|X-ICQ|X-MSN|X-YAHOO|X-SKYPE|" \
	"X-GTALK|X-GOOGLE-TALK|X-QQ|X-GADUGADU|X-GROUPWISE"
	[CP_IM1] = { IM_NAMES, NULL, NULL, NULL, NULL, FALSE },
	[CP_IM2] = { IM_NAMES, NULL, NULL, NULL, NULL, FALSE },
	[CP_IM3] = { IM_NAMES, NULL, NULL, NULL, NULL, FALSE },
	[CP_ACCOUNT] = { "X-ACCOUNT-NAME", NULL, NULL, NULL, NULL, FALSE },
	[CP_NICKNAME] = { "NICKNAME", NULL, NULL, NULL, NULL, FALSE },
	[CP_ALIAS] = { "X-ALIAS", NULL, NULL, NULL, NULL, FALSE },
};

enum contact_kind {
	CK_TEXT,	/* the whole value, escaped text */
	CK_COMPONENT,	/* a component of N, ADR or ORG */
	CK_URI,		/* the value as it is (URL) */
	CK_IM,		/* IMPP URI or an X-* IM property's text */
	CK_EMAIL,
	CK_DATE,
	CK_LIST,	/* Categories/Category, Children/Child */
	CK_PICTURE,
	CK_BODY,
};

struct contact_field {
	unsigned int tag;	/* for lists: the container */
	enum contact_prop prop;
	enum contact_kind kind;
	unsigned int component;
};

/* EAS elements, in the order they are written */
static const struct contact_field contact_fields[] = {
	{ EAS_CONTACTS_FILEAS, CP_FN, CK_TEXT, 0 },
	{ EAS_CONTACTS_LASTNAME, CP_N, CK_COMPONENT, 0 },
	{ EAS_CONTACTS_FIRSTNAME, CP_N, CK_COMPONENT, 1 },
	{ EAS_CONTACTS_MIDDLENAME, CP_N, CK_COMPONENT, 2 },
	{ EAS_CONTACTS_TITLE, CP_N, CK_COMPONENT, 3 },
	{ EAS_CONTACTS_SUFFIX, CP_N, CK_COMPONENT, 4 },
	{ EAS_CONTACTS_YOMIFIRSTNAME, CP_YOMI_FIRST, CK_TEXT, 0 },
	{ EAS_CONTACTS_YOMILASTNAME, CP_YOMI_LAST, CK_TEXT, 0 },
	{ EAS_CONTACTS_COMPANYNAME, CP_ORG, CK_COMPONENT, 0 },
	{ EAS_CONTACTS_DEPARTMENT, CP_ORG, CK_COMPONENT, 1 },
	{ EAS_CONTACTS_YOMICOMPANYNAME, CP_YOMI_COMPANY, CK_TEXT, 0 },
	{ EAS_CONTACTS_JOBTITLE, CP_TITLE, CK_TEXT, 0 },
	{ EAS_CONTACTS_OFFICELOCATION, CP_OFFICE, CK_TEXT, 0 },
	{ EAS_CONTACTS_EMAIL1ADDRESS, CP_EMAIL1, CK_EMAIL, 0 },
	{ EAS_CONTACTS_EMAIL2ADDRESS, CP_EMAIL2, CK_EMAIL, 0 },
	{ EAS_CONTACTS_EMAIL3ADDRESS, CP_EMAIL3, CK_EMAIL, 0 },
	{ EAS_CONTACTS_HOMEPHONENUMBER, CP_TEL_HOME, CK_TEXT, 0 },
	{ EAS_CONTACTS_HOME2PHONENUMBER, CP_TEL_HOME2, CK_TEXT, 0 },
	{ EAS_CONTACTS_BUSINESSPHONENUMBER, CP_TEL_BUSINESS, CK_TEXT, 0 },
	{ EAS_CONTACTS_BUSINESS2PHONENUMBER, CP_TEL_BUSINESS2, CK_TEXT, 0 },
	{ EAS_CONTACTS_MOBILEPHONENUMBER, CP_TEL_MOBILE, CK_TEXT, 0 },
	{ EAS_CONTACTS_CARPHONENUMBER, CP_TEL_CAR, CK_TEXT, 0 },
	{ EAS_CONTACTS_RADIOPHONENUMBER, CP_TEL_RADIO, CK_TEXT, 0 },
	{ EAS_CONTACTS_PAGERNUMBER, CP_TEL_PAGER, CK_TEXT, 0 },
	{ EAS_CONTACTS_HOMEFAXNUMBER, CP_TEL_HOMEFAX, CK_TEXT, 0 },
	{ EAS_CONTACTS_BUSINESSFAXNUMBER, CP_TEL_BUSINESSFAX, CK_TEXT, 0 },
	{ EAS_CONTACTS_ASSISTANTPHONENUMBER, CP_TEL_ASSISTANT, CK_TEXT, 0 },
	{ EAS_CONTACTS2_COMPANYMAINPHONE, CP_TEL_COMPANY, CK_TEXT, 0 },
	{ EAS_CONTACTS2_MMS, CP_TEL_MMS, CK_TEXT, 0 },
	/* ADR: PO box; extended; street; city; region; code; country */
	{ EAS_CONTACTS_HOMEADDRESSSTREET, CP_ADR_HOME, CK_COMPONENT, 2 },
	{ EAS_CONTACTS_HOMEADDRESSCITY, CP_ADR_HOME, CK_COMPONENT, 3 },
	{ EAS_CONTACTS_HOMEADDRESSSTATE, CP_ADR_HOME, CK_COMPONENT, 4 },
	{ EAS_CONTACTS_HOMEADDRESSPOSTALCODE, CP_ADR_HOME, CK_COMPONENT, 5 },
	{ EAS_CONTACTS_HOMEADDRESSCOUNTRY, CP_ADR_HOME, CK_COMPONENT, 6 },
	{ EAS_CONTACTS_BUSINESSADDRESSSTREET, CP_ADR_WORK, CK_COMPONENT, 2 },
	{ EAS_CONTACTS_BUSINESSADDRESSCITY, CP_ADR_WORK, CK_COMPONENT, 3 },
	{ EAS_CONTACTS_BUSINESSADDRESSSTATE, CP_ADR_WORK, CK_COMPONENT, 4 },
	{ EAS_CONTACTS_BUSINESSADDRESSPOSTALCODE, CP_ADR_WORK,
	  CK_COMPONENT, 5 },
	{ EAS_CONTACTS_BUSINESSADDRESSCOUNTRY, CP_ADR_WORK, CK_COMPONENT, 6 },
	{ EAS_CONTACTS_OTHERADDRESSSTREET, CP_ADR_OTHER, CK_COMPONENT, 2 },
	{ EAS_CONTACTS_OTHERADDRESSCITY, CP_ADR_OTHER, CK_COMPONENT, 3 },
	{ EAS_CONTACTS_OTHERADDRESSSTATE, CP_ADR_OTHER, CK_COMPONENT, 4 },
	{ EAS_CONTACTS_OTHERADDRESSPOSTALCODE, CP_ADR_OTHER,
	  CK_COMPONENT, 5 },
	{ EAS_CONTACTS_OTHERADDRESSCOUNTRY, CP_ADR_OTHER, CK_COMPONENT, 6 },
	{ EAS_CONTACTS_BIRTHDAY, CP_BDAY, CK_DATE, 0 },
	{ EAS_CONTACTS_ANNIVERSARY, CP_ANNIVERSARY, CK_DATE, 0 },
	{ EAS_CONTACTS_WEBPAGE, CP_URL, CK_URI, 0 },
	{ EAS_CONTACTS_SPOUSE, CP_SPOUSE, CK_TEXT, 0 },
	{ EAS_CONTACTS_CHILDREN, CP_CHILD, CK_LIST, 0 },
	{ EAS_CONTACTS_ASSISTANTNAME, CP_ASSISTANT, CK_TEXT, 0 },
	{ EAS_CONTACTS2_MANAGERNAME, CP_MANAGER, CK_TEXT, 0 },
	{ EAS_CONTACTS_CATEGORIES, CP_CATEGORIES, CK_LIST, 0 },
	{ EAS_CONTACTS_PICTURE, CP_PHOTO, CK_PICTURE, 0 },
	{ EAS_CONTACTS2_CUSTOMERID, CP_CUSTOMERID, CK_TEXT, 0 },
	{ EAS_CONTACTS2_GOVERNMENTID, CP_GOVERNMENTID, CK_TEXT, 0 },
	{ EAS_CONTACTS2_IMADDRESS, CP_IM1, CK_IM, 0 },
	{ EAS_CONTACTS2_IMADDRESS2, CP_IM2, CK_IM, 0 },
	{ EAS_CONTACTS2_IMADDRESS3, CP_IM3, CK_IM, 0 },
	{ EAS_CONTACTS2_ACCOUNTNAME, CP_ACCOUNT, CK_TEXT, 0 },
	{ EAS_CONTACTS2_NICKNAME, CP_NICKNAME, CK_TEXT, 0 },
	{ EAS_CONTACTS_ALIAS, CP_ALIAS, CK_TEXT, 0 },
	{ EAS_AIRSYNCBASE_BODY, CP_NOTE, CK_BODY, 0 },
};
#define CONTACT_FIELD_COUNT N_ELEMENTS(contact_fields)

/* The item of a list field */
static unsigned int contact_list_item_tag(unsigned int tag)
{
	return tag == EAS_CONTACTS_CHILDREN ? EAS_CONTACTS_CHILD :
		EAS_CONTACTS_CATEGORY;
}

struct as_contact {
	const char *values[CONTACT_FIELD_COUNT];
	const char *const *lists[CONTACT_FIELD_COUNT];
	const struct as_body_options *body;
};

/* ---- which property is which ---- */

struct contact_props {
	ARRAY(struct as_vcard_property *) props[CP_COUNT];
};

static bool contact_name_matches(const char *names, const char *name,
				 bool *standard_r)
{
	const char *const *list;

	for (list = t_strsplit(names, "|"); *list != NULL; list++) {
		if (strcasecmp(*list, name) == 0) {
			*standard_r = strncasecmp(name, "X-", 2) != 0;
			return TRUE;
		}
	}
	return FALSE;
}

static bool contact_types_match(const struct as_vcard_property *prop,
				const char *types, const char *exclude)
{
	const char *const *alts, *const *set;

	if (exclude != NULL) {
		for (set = t_strsplit(exclude, ","); *set != NULL; set++) {
			if (as_vcard_prop_has_type(prop, *set))
				return FALSE;
		}
	}
	if (types == NULL)
		return TRUE;
	/* t_strsplit keeps empty alternatives: "" is "untyped" */
	for (alts = t_strsplit(types, "|"); *alts != NULL; alts++) {
		if (**alts == '\0') {
			if (as_vcard_prop_untyped(prop))
				return TRUE;
			continue;
		}
		for (set = t_strsplit(*alts, ","); *set != NULL; set++) {
			if (!as_vcard_prop_has_type(prop, *set))
				break;
		}
		if (*set == NULL)
			return TRUE;
	}
	return FALSE;
}

static bool contact_prop_matches(enum contact_prop cp,
				 const struct as_vcard_property *prop)
{
	const struct contact_prop_def *def = &contact_props[cp];
	bool standard;

	if (!contact_name_matches(def->names, prop->name, &standard))
		return FALSE;
	return !standard ||
		contact_types_match(prop, def->types, def->exclude);
}

/* Give every property of the card to the first prop kind that takes it */
static void contact_props_assign(const struct as_vcard *card,
				 struct contact_props *props_r)
{
	struct as_vcard_property *const *cprops;
	unsigned int i, count, cp;
	bool *taken;

	cprops = array_get(&card->props, &count);
	taken = t_new(bool, count + 1);
	for (cp = 0; cp < CP_COUNT; cp++) {
		t_array_init(&props_r->props[cp], 2);
		for (i = 0; i < count; i++) {
			if (taken[i] || !contact_prop_matches(cp, cprops[i]))
				continue;
			taken[i] = TRUE;
			array_push_back(&props_r->props[cp], &cprops[i]);
			if (!contact_props[cp].multi)
				break;
		}
	}
}

static struct as_vcard_property *
contact_prop_first(const struct contact_props *props, enum contact_prop cp)
{
	if (array_count(&props->props[cp]) == 0)
		return NULL;
	return array_idx_elem(&props->props[cp], 0);
}

/* ---- dates ----
   EAS sends birthdays and anniversaries as an instant: the day at
   00:00Z, or the user's local midnight in UTC (1980-05-16T22:00:00.000Z
   for a device two hours east of UTC, 1980-05-17T05:00:00.000Z for one
   five hours west). The date is the day of the nearest midnight: the
   instant plus 12 hours, in UTC. vCard stores the DATE alone; the device
   gets it back as that day at 00:00:00.000Z. */

/* n digits at p */
static bool contact_digits(const char *p, unsigned int n,
			   unsigned int *value_r)
{
	unsigned int i;

	*value_r = 0;
	for (i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return FALSE;
		*value_r = *value_r * 10 + (p[i] - '0');
	}
	return TRUE;
}

/* YYYY-MM-DD (extended) or YYYYMMDD (basic): the length read, 0 if
   neither */
static unsigned int
contact_date_parse(const char *p, unsigned int *y_r, unsigned int *m_r,
		   unsigned int *d_r)
{
	if (contact_digits(p, 4, y_r) && p[4] == '-' &&
	    contact_digits(p + 5, 2, m_r) && p[7] == '-' &&
	    contact_digits(p + 8, 2, d_r))
		return 10;
	if (contact_digits(p, 4, y_r) && contact_digits(p + 4, 2, m_r) &&
	    contact_digits(p + 6, 2, d_r))
		return 8;
	return 0;
}

static int contact_date_from_eas(const char *value, struct tm *tm_r)
{
	struct tm tm;
	unsigned int y, mo, d, h = 0, mi = 0, s = 0, n;
	time_t t;

	n = contact_date_parse(value, &y, &mo, &d);
	if (n != 10)
		return -1;
	if (value[n] == 'T') {
		if (!contact_digits(value + n + 1, 2, &h) ||
		    value[n + 3] != ':' ||
		    !contact_digits(value + n + 4, 2, &mi) ||
		    value[n + 6] != ':' ||
		    !contact_digits(value + n + 7, 2, &s))
			return -1;
	} else if (value[n] != '\0') {
		return -1;
	}
	if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 ||
	    mi > 59 || s > 60)
		return -1;
	i_zero(&tm);
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = s;
	t = utc_mktime(&tm);
	t += 12 * 3600;
	if (gmtime_r(&t, tm_r) == NULL)
		return -1;
	return 0;
}

/* BDAY and friends: 1980-05-17, 19800517, optionally with a time */
static bool contact_date_from_vcard(const char *value, unsigned int *y_r,
				    unsigned int *m_r, unsigned int *d_r)
{
	unsigned int n = contact_date_parse(value, y_r, m_r, d_r);

	if (n == 0 || (value[n] != '\0' && value[n] != 'T'))
		return FALSE;
	return *m_r >= 1 && *m_r <= 12 && *d_r >= 1 && *d_r <= 31;
}

/* ---- vCard -> EAS ---- */

static const char *
contact_read_value(const struct contact_field *field,
		   const struct contact_props *props)
{
	struct as_vcard_property *prop;
	const char *value;
	unsigned int y, m, d;
	buffer_t *data;
	string_t *str;

	prop = contact_prop_first(props, field->prop);
	if (prop == NULL)
		return NULL;
	switch (field->kind) {
	case CK_TEXT:
	case CK_BODY:
		return as_vcard_prop_text(prop);
	case CK_COMPONENT:
		return as_vcard_prop_component(prop, field->component);
	case CK_URI:
		return prop->value;
	case CK_IM:
		if (strcasecmp(prop->name, "IMPP") != 0)
			return as_vcard_prop_text(prop);
		/* the scheme a device's bare address gets (see below) */
		return str_begins(prop->value, "im:") ? prop->value + 3 :
			prop->value;
	case CK_EMAIL:
		return t_str_trim(as_vcard_prop_text(prop), " \t");
	case CK_DATE:
		if (!contact_date_from_vcard(prop->value, &y, &m, &d))
			return NULL;
		return t_strdup_printf("%04u-%02u-%02uT00:00:00.000Z",
				       y, m, d);
	case CK_PICTURE:
		data = t_buffer_create(1024);
		if (as_vcard_prop_binary(prop, data, &value) <= 0)
			return NULL;
		str = t_str_new(MAX_BASE64_ENCODED_SIZE(data->used) + 1);
		base64_encode(data->data, data->used, str);
		if (str_len(str) > AS_CONTACT_MAX_PICTURE_BASE64)
			return NULL;
		return str_c(str);
	case CK_LIST:
		break;
	}
	i_unreached();
}

static const char *const *
contact_read_list(const struct contact_field *field,
		  const struct contact_props *props)
{
	struct as_vcard_property *const *propp;
	ARRAY_TYPE(const_string) items;
	const char *const *list, *text;

	t_array_init(&items, 8);
	array_foreach(&props->props[field->prop], propp) {
		if (field->prop == CP_CATEGORIES) {
			for (list = as_vcard_prop_list(*propp); *list != NULL;
			     list++)
				array_push_back(&items, list);
		} else {
			text = as_vcard_prop_text(*propp);
			if (*text != '\0')
				array_push_back(&items, &text);
		}
	}
	if (array_count(&items) == 0)
		return NULL;
	array_append_zero(&items);
	return array_front(&items);
}

struct as_contact *as_contact_from_vcard(const struct as_vcard *card,
					 const struct as_body_options *body)
{
	struct as_contact *contact = t_new(struct as_contact, 1);
	struct contact_props props;
	unsigned int i;

	contact->body = body;
	contact_props_assign(card, &props);
	for (i = 0; i < CONTACT_FIELD_COUNT; i++) {
		if (contact_fields[i].kind == CK_LIST) {
			contact->lists[i] =
				contact_read_list(&contact_fields[i], &props);
		} else {
			contact->values[i] =
				contact_read_value(&contact_fields[i], &props);
		}
	}
	return contact;
}

void as_contact_write(struct wbxml_writer *w,
		      const struct as_contact *contact)
{
	struct as_body_options default_body;
	const struct as_body_options *body = contact->body;
	const struct contact_field *field;
	const char *const *list;
	unsigned int i;

	for (i = 0; i < CONTACT_FIELD_COUNT; i++) {
		field = &contact_fields[i];
		if (field->kind == CK_LIST) {
			if ((list = contact->lists[i]) == NULL)
				continue;
			wbxml_start(w, field->tag);
			for (; *list != NULL; list++) {
				wbxml_elem_str(w, contact_list_item_tag(
					field->tag), *list);
			}
			wbxml_end(w);
			continue;
		}
		if (contact->values[i] == NULL || *contact->values[i] == '\0')
			continue;
		if (field->kind == CK_BODY) {
			if (body == NULL) {
				as_body_options_init(&default_body);
				body = &default_body;
			}
			as_body_write_text(w, contact->values[i], body);
		} else {
			wbxml_elem_str(w, field->tag, contact->values[i]);
		}
	}
}

static const char *
contact_value(const struct as_contact *contact, unsigned int tag)
{
	unsigned int i;

	for (i = 0; i < CONTACT_FIELD_COUNT; i++) {
		if (contact_fields[i].tag == tag)
			return contact->values[i];
	}
	i_unreached();
}

static const char *contact_formatted_name(const struct as_contact *contact)
{
	static const unsigned int name_tags[] = {
		EAS_CONTACTS_TITLE, EAS_CONTACTS_FIRSTNAME,
		EAS_CONTACTS_MIDDLENAME, EAS_CONTACTS_LASTNAME,
		EAS_CONTACTS_SUFFIX,
	};
	string_t *str = t_str_new(64);
	const char *value;
	unsigned int i;

	for (i = 0; i < N_ELEMENTS(name_tags); i++) {
		value = contact_value(contact, name_tags[i]);
		if (value == NULL || *value == '\0')
			continue;
		if (str_len(str) > 0)
			str_append_c(str, ' ');
		str_append(str, value);
	}
	if (str_len(str) > 0)
		return str_c(str);
	value = contact_value(contact, EAS_CONTACTS_COMPANYNAME);
	if (value == NULL || *value == '\0')
		value = contact_value(contact, EAS_CONTACTS_EMAIL1ADDRESS);
	return value == NULL ? "" : value;
}

const char *as_contact_title(const struct as_contact *contact)
{
	const char *file_as = contact_value(contact, EAS_CONTACTS_FILEAS);

	if (file_as != NULL && *file_as != '\0')
		return file_as;
	return contact_formatted_name(contact);
}

const char *as_contact_summary(const struct as_contact *contact)
{
	static const struct {
		unsigned int tag;
		const char *label;
	} lines[] = {
		{ EAS_CONTACTS_COMPANYNAME, "Company" },
		{ EAS_CONTACTS_JOBTITLE, "Job title" },
		{ EAS_CONTACTS_EMAIL1ADDRESS, "E-mail" },
		{ EAS_CONTACTS_EMAIL2ADDRESS, "E-mail" },
		{ EAS_CONTACTS_EMAIL3ADDRESS, "E-mail" },
		{ EAS_CONTACTS_MOBILEPHONENUMBER, "Mobile" },
		{ EAS_CONTACTS_HOMEPHONENUMBER, "Home phone" },
		{ EAS_CONTACTS_HOME2PHONENUMBER, "Home phone" },
		{ EAS_CONTACTS_BUSINESSPHONENUMBER, "Work phone" },
		{ EAS_CONTACTS_BUSINESS2PHONENUMBER, "Work phone" },
		{ EAS_CONTACTS2_COMPANYMAINPHONE, "Company phone" },
		{ EAS_CONTACTS_HOMEFAXNUMBER, "Home fax" },
		{ EAS_CONTACTS_BUSINESSFAXNUMBER, "Work fax" },
		{ EAS_CONTACTS_PAGERNUMBER, "Pager" },
		{ EAS_CONTACTS_CARPHONENUMBER, "Car phone" },
	};
	string_t *str = t_str_new(256);
	const char *name = contact_formatted_name(contact), *value;
	unsigned int i;

	if (*name != '\0')
		str_printfa(str, "%s\n", name);
	for (i = 0; i < N_ELEMENTS(lines); i++) {
		value = contact_value(contact, lines[i].tag);
		if (value != NULL && *value != '\0')
			str_printfa(str, "%s: %s\n", lines[i].label, value);
	}
	return str_c(str);
}

/* ---- EAS -> vCard ---- */

struct contact_apply {
	struct as_vcard *card;
	struct contact_props props;
	const struct as_item_params *params;
	bool is_change;
	/* properties whose components were changed */
	bool touched[CP_COUNT];
};

static bool contact_ghosted(const struct contact_apply *ctx,
			    unsigned int tag)
{
	const struct as_item_params *params = ctx->params;
	unsigned int i;

	if (params == NULL || !params->have_supported)
		return FALSE;
	for (i = 0; i < params->supported_count; i++) {
		if (params->supported[i] == tag)
			return FALSE;
	}
	return TRUE;
}

static struct as_vcard_property *
contact_prop_new(struct contact_apply *ctx, enum contact_prop cp)
{
	const struct contact_prop_def *def = &contact_props[cp];
	struct as_vcard *card = ctx->card;
	struct as_vcard_property *prop;
	const char *name = t_strcut(def->names, '|');
	const char *types;

	if (card->version < 40 && def->name30 != NULL)
		name = def->name30;
	prop = as_vcard_add(card, NULL, name);
	if (strncmp(name, "X-", 2) != 0) {
		types = def->types == NULL ? NULL : t_strcut(def->types, '|');
		if (types != NULL && *types != '\0')
			as_vcard_prop_add_param(card, prop, "TYPE", types);
		if (def->param != NULL) {
			as_vcard_prop_add_param(card, prop,
				t_strcut(def->param, '='),
				strchr(def->param, '=') + 1);
		}
	}
	array_push_back(&ctx->props.props[cp], &prop);
	return prop;
}

static struct as_vcard_property *
contact_prop_get(struct contact_apply *ctx, enum contact_prop cp)
{
	struct as_vcard_property *prop = contact_prop_first(&ctx->props, cp);

	return prop != NULL ? prop : contact_prop_new(ctx, cp);
}

static void contact_prop_remove_all(struct contact_apply *ctx,
				    enum contact_prop cp)
{
	struct as_vcard_property *const *propp;

	array_foreach(&ctx->props.props[cp], propp)
		as_vcard_remove(ctx->card, *propp);
	array_clear(&ctx->props.props[cp]);
}

static bool contact_text_valid(const char *value, size_t max_len)
{
	size_t len = strlen(value);

	return len <= max_len &&
		uni_utf8_data_is_valid((const unsigned char *)value, len);
}

static const char *contact_email_address(const char *value)
{
	const char *lt = strrchr(value, '<');
	size_t len = strlen(value);

	/* "Name" <addr>: the address */
	if (lt != NULL && len > 0 && value[len-1] == '>')
		return t_strndup(lt + 1, value + len - 1 - (lt + 1));
	return t_str_trim(value, " \t");
}

static int contact_set_picture(struct contact_apply *ctx,
			       const char *value, const char **error_r)
{
	struct as_vcard_property *prop;
	buffer_t *data;
	const char *media_type = "image/jpeg";
	const unsigned char *p;

	if (strlen(value) > AS_CONTACT_MAX_PICTURE_BASE64) {
		*error_r = "Picture larger than 48 KB";
		return -1;
	}
	data = t_buffer_create(strlen(value));
	if (base64_decode(value, strlen(value), NULL, data) < 0 ||
	    data->used == 0) {
		*error_r = "Picture is not base64";
		return -1;
	}
	p = data->data;
	if (data->used >= 4 && memcmp(p, "\x89PNG", 4) == 0)
		media_type = "image/png";
	else if (data->used >= 3 && memcmp(p, "GIF", 3) == 0)
		media_type = "image/gif";
	prop = contact_prop_get(ctx, CP_PHOTO);
	as_vcard_prop_set_binary(ctx->card, prop, ctx->card->version,
				 data->data, data->used, media_type);
	return 0;
}

/* The PHOTO of the card wasn't sent to the device (too large, or a
   link): an omitted Picture doesn't delete it */
static bool contact_photo_unsent(const struct contact_apply *ctx)
{
	struct contact_props *props = (struct contact_props *)&ctx->props;
	const struct contact_field *field = NULL;
	unsigned int i;

	if (contact_prop_first(props, CP_PHOTO) == NULL)
		return FALSE;
	for (i = 0; i < CONTACT_FIELD_COUNT; i++) {
		if (contact_fields[i].kind == CK_PICTURE)
			field = &contact_fields[i];
	}
	return contact_read_value(field, props) == NULL;
}

static void contact_clear(struct contact_apply *ctx,
			  const struct contact_field *field)
{
	struct as_vcard_property *prop;

	if (field->kind != CK_COMPONENT) {
		contact_prop_remove_all(ctx, field->prop);
		return;
	}
	prop = contact_prop_first(&ctx->props, field->prop);
	if (prop != NULL) {
		as_vcard_prop_set_component(ctx->card, prop, field->component,
					    "");
		ctx->touched[field->prop] = TRUE;
	}
}

static int contact_set_list(struct contact_apply *ctx,
			    const struct contact_field *field,
			    const struct wbxml_node *node,
			    const char **error_r)
{
	const struct wbxml_node *child;
	ARRAY_TYPE(const_string) items;
	struct as_vcard_property *prop;
	const char *text;
	unsigned int item_tag = contact_list_item_tag(field->tag);

	t_array_init(&items, 8);
	wbxml_node_foreach_child(node, child) {
		if (child->tag != item_tag)
			continue;
		text = wbxml_node_text(child);
		if (!contact_text_valid(text, CONTACT_MAX_FIELD_LEN) ||
		    array_count(&items) >= CONTACT_MAX_LIST_ITEMS) {
			*error_r = t_strdup_printf("invalid %s",
				wbxml_tag_name(item_tag));
			return -1;
		}
		if (*text != '\0')
			array_push_back(&items, &text);
	}
	if (field->prop == CP_CATEGORIES) {
		/* one CATEGORIES with them all */
		if (array_count(&items) == 0) {
			contact_prop_remove_all(ctx, field->prop);
			return 0;
		}
		prop = contact_prop_get(ctx, field->prop);
		while (array_count(&ctx->props.props[field->prop]) > 1) {
			as_vcard_remove(ctx->card, array_idx_elem(
				&ctx->props.props[field->prop], 1));
			array_delete(&ctx->props.props[field->prop], 1, 1);
		}
		array_append_zero(&items);
		as_vcard_prop_set_list(ctx->card, prop, array_front(&items));
		return 0;
	}
	/* one property a child */
	contact_prop_remove_all(ctx, field->prop);
	array_foreach_elem(&items, text) {
		prop = contact_prop_new(ctx, field->prop);
		as_vcard_prop_set_text(ctx->card, prop, text);
	}
	return 0;
}

static int contact_set(struct contact_apply *ctx,
		       const struct contact_field *field,
		       const struct wbxml_node *node, const char **error_r)
{
	struct as_vcard_property *prop;
	const char *value, *text;
	struct tm tm;
	bool html;

	if (field->kind == CK_LIST)
		return contact_set_list(ctx, field, node, error_r);
	if (field->kind == CK_BODY) {
		if (as_draft_body_text(node, &text, &html, error_r) < 0)
			return -1;
		/* NOTE is plain text: other clients show markup as is */
		value = html ? as_body_html_to_plain(text) : text;
		if (!uni_utf8_data_is_valid((const unsigned char *)value,
					    strlen(value))) {
			*error_r = "Body is not UTF-8";
			return -1;
		}
	} else {
		value = wbxml_node_text(node);
		if (field->kind != CK_PICTURE &&
		    !contact_text_valid(value, CONTACT_MAX_FIELD_LEN)) {
			*error_r = t_strdup_printf("invalid %s",
				wbxml_tag_name(field->tag));
			return -1;
		}
	}
	if (*value == '\0') {
		contact_clear(ctx, field);
		return 0;
	}

	switch (field->kind) {
	case CK_TEXT:
	case CK_BODY:
		as_vcard_prop_set_text(ctx->card,
				       contact_prop_get(ctx, field->prop), value);
		return 0;
	case CK_COMPONENT:
		as_vcard_prop_set_component(ctx->card,
			contact_prop_get(ctx, field->prop), field->component,
			value);
		ctx->touched[field->prop] = TRUE;
		return 0;
	case CK_URI:
		prop = contact_prop_get(ctx, field->prop);
		prop->value = p_strdup(ctx->card->pool,
			t_str_replace(t_str_replace(value, '\r', ' '),
				      '\n', ' '));
		return 0;
	case CK_IM:
		prop = contact_prop_get(ctx, field->prop);
		if (strcasecmp(prop->name, "IMPP") != 0) {
			as_vcard_prop_set_text(ctx->card, prop, value);
			return 0;
		}
		/* IMPP is a URI: a bare address gets the generic
		   instant messaging scheme (RFC 3860), taken off again
		   when read */
		value = t_str_replace(t_str_replace(value, '\r', ' '),
				      '\n', ' ');
		prop->value = p_strdup(ctx->card->pool,
			strchr(value, ':') != NULL ? value :
			t_strconcat("im:", value, NULL));
		return 0;
	case CK_EMAIL:
		as_vcard_prop_set_text(ctx->card,
				       contact_prop_get(ctx, field->prop),
				       contact_email_address(value));
		return 0;
	case CK_DATE:
		if (contact_date_from_eas(value, &tm) < 0) {
			*error_r = t_strdup_printf("invalid %s date",
				wbxml_tag_name(field->tag));
			return -1;
		}
		prop = contact_prop_get(ctx, field->prop);
		as_vcard_prop_remove_param(prop, "VALUE");
		prop->value = p_strdup_printf(ctx->card->pool,
			ctx->card->version >= 40 ? "%04d%02d%02d" :
			"%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1,
			tm.tm_mday);
		return 0;
	case CK_PICTURE:
		return contact_set_picture(ctx, value, error_r);
	case CK_LIST:
		break;
	}
	i_unreached();
}

/* ADR and ORG left without any component are dropped */
static void contact_drop_empty(struct contact_apply *ctx)
{
	struct as_vcard_property *prop;
	const char *p;
	unsigned int cp;

	for (cp = 0; cp < CP_COUNT; cp++) {
		if (!ctx->touched[cp] || cp == CP_N)
			continue;
		prop = contact_prop_first(&ctx->props, cp);
		if (prop == NULL)
			continue;
		for (p = prop->value; *p == ';'; p++) ;
		if (*p == '\0')
			contact_prop_remove_all(ctx, cp);
	}
}

/* What every card needs: FN (and N in 3.0) and a UID */
static void contact_complete(struct contact_apply *ctx)
{
	struct as_vcard *card = ctx->card;
	struct as_vcard_property *prop, *const *propp;
	struct as_contact *contact;
	guid_128_t guid;
	bool have_uid = FALSE;

	prop = contact_prop_first(&ctx->props, CP_FN);
	if (prop == NULL || *prop->value == '\0') {
		contact = as_contact_from_vcard(card, NULL);
		if (prop == NULL)
			prop = contact_prop_new(ctx, CP_FN);
		as_vcard_prop_set_text(card, prop,
				       contact_formatted_name(contact));
	}
	if (card->version < 40 && contact_prop_first(&ctx->props, CP_N) == NULL)
		contact_prop_new(ctx, CP_N)->value = ";;;;";
	array_foreach(&card->props, propp) {
		if (strcasecmp((*propp)->name, "UID") == 0)
			have_uid = TRUE;
	}
	if (!have_uid) {
		guid_128_generate(guid);
		prop = as_vcard_add(card, NULL, "UID");
		prop->value = p_strconcat(card->pool, "urn:uuid:",
			guid_128_to_uuid_string(guid, FORMAT_RECORD), NULL);
	}
}

int as_contact_apply(struct as_vcard *card, const struct wbxml_node *data,
		     bool is_change, const struct as_item_params *params,
		     const char **error_r)
{
	struct contact_apply ctx;
	const struct contact_field *field;
	const struct wbxml_node *node;
	unsigned int i;

	i_zero(&ctx);
	ctx.card = card;
	ctx.params = params;
	ctx.is_change = is_change;
	contact_props_assign(card, &ctx.props);

	for (i = 0; i < CONTACT_FIELD_COUNT; i++) {
		field = &contact_fields[i];
		node = wbxml_node_child(data, field->tag);
		if (node != NULL) {
			if (contact_set(&ctx, field, node, error_r) < 0)
				return -1;
			continue;
		}
		/* omitted: kept when ghosted (MS-ASCMD 2.2.3.168), else
		   deleted */
		if (!is_change || contact_ghosted(&ctx, field->tag))
			continue;
		if (field->kind == CK_PICTURE && contact_photo_unsent(&ctx))
			continue;
		contact_clear(&ctx, field);
	}
	contact_drop_empty(&ctx);
	contact_complete(&ctx);
	return 0;
}

/* ---- the item class ---- */

struct contact_item {
	struct as_contact *contact;
	const char *uid;	/* the card's UID, NULL if none */
};

static const char *contact_card_uid(const struct as_vcard *card)
{
	struct as_vcard_property *const *propp;
	const char *uid;

	array_foreach(&card->props, propp) {
		if (strcasecmp((*propp)->name, "UID") == 0) {
			uid = as_vcard_prop_text(*propp);
			return *uid == '\0' ? NULL : uid;
		}
	}
	return NULL;
}

/* A card we can't parse is still sent with what the message says
   (its Subject as FileAs), so one bad message doesn't keep the rest of
   the folder from the device. */
static struct as_contact *
contact_unreadable(struct mail *mail, const struct as_item_params *params,
		   const char *error)
{
	struct as_vcard *card = as_vcard_new(pool_datastack_create(), 30);
	struct as_vcard_property *prop;
	const char *subject;

	e_warning(mail->box->event, "Contacts: UID %u: %s, sent with its "
		  "Subject only", mail->uid, error);
	if (mail_get_first_header_utf8(mail, "Subject", &subject) <= 0 ||
	    *subject == '\0')
		subject = "?";
	prop = as_vcard_add(card, NULL, "FN");
	as_vcard_prop_set_text(card, prop, subject);
	return as_contact_from_vcard(card, params->body);
}

static int
contact_read(struct mail *mail, const struct as_item_params *params,
	     struct as_item **item_r, const char **error_r)
{
	struct contact_item *item = t_new(struct contact_item, 1);
	struct as_vcard *card;
	const char *object, *error;
	int ret;

	ret = as_groupware_msg_read(mail, contact_content_types, &object,
				    error_r);
	if (ret < 0)
		return -1;
	if (ret == 0) {
		item->contact = contact_unreadable(mail, params, *error_r);
	} else if (as_vcard_parse(pool_datastack_create(), object, NULL,
				  &card, &error) < 0) {
		item->contact = contact_unreadable(mail, params, error);
	} else {
		item->contact = as_contact_from_vcard(card, params->body);
		item->uid = contact_card_uid(card);
	}
	*item_r = (struct as_item *)item;
	return 0;
}

static void contact_class_write(struct wbxml_writer *w,
				const struct as_item *_item)
{
	const struct contact_item *item = (const struct contact_item *)_item;

	as_contact_write(w, item->contact);
}

static const char *contact_item_uid(const struct as_item *_item)
{
	return ((const struct contact_item *)_item)->uid;
}

/* The base message's card; a new one if it has none we can read */
/* New cards are vCard 3.0, what every client reads (iOS and most CardDAV
   clients still write 3.0); a card read keeps its version. */
static struct as_vcard *contact_base_card(struct mail *base)
{
	struct as_vcard *card;
	const char *object, *error;
	int ret;

	if (base == NULL)
		return as_vcard_new(pool_datastack_create(), 30);
	ret = as_groupware_msg_read(base, contact_content_types, &object,
				    &error);
	if (ret > 0 && as_vcard_parse(pool_datastack_create(), object, NULL,
				      &card, &error) == 0)
		return card;
	e_warning(base->box->event, "Contacts: UID %u: %s, replaced by the "
		  "device's contact", base->uid,
		  ret == 0 || ret > 0 ? error : "unreadable");
	return as_vcard_new(pool_datastack_create(), 30);
}

static int
contact_build(const struct as_item_build *build, string_t *msg,
	      const char *const **keywords_r, const char **error_r)
{
	struct as_groupware_msg gmsg;
	struct as_vcard *card;
	struct as_contact *contact;
	string_t *vcard;
	static const char *const no_keywords[] = { NULL };

	card = contact_base_card(build->base);
	if (as_contact_apply(card, build->data, build->base != NULL,
			     build->params, error_r) < 0)
		return -1;
	vcard = t_str_new(1024);
	as_vcard_write(card, card->version >= 40 ? 40 : 30, vcard);
	contact = as_contact_from_vcard(card, NULL);

	i_zero(&gmsg);
	gmsg.from = build->from;
	gmsg.subject = as_contact_title(contact);
	gmsg.summary = as_contact_summary(contact);
	gmsg.content_type = "text/vcard";
	gmsg.filename = "contact.vcf";
	gmsg.object = str_c(vcard);
	as_groupware_msg_build(&gmsg, msg);
	*keywords_r = no_keywords;
	return 0;
}

const struct as_item_class as_item_class_contact = {
	.name = "Contacts",
	.folder_class = AS_FOLDER_CLASS_CONTACTS,
	.wanted_fields = MAIL_FETCH_IMAP_BODYSTRUCTURE,
	.read = contact_read,
	.write = contact_class_write,
	.build = contact_build,
	.item_uid = contact_item_uid,
	.date_filter = FALSE,
	.change_in_place = FALSE,
};
