/* Copyright (c) dovecot-activesync authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "buffer.h"
#include "base64.h"
#include "test-common.h"
#include "wbxml.h"
#include "items/as-body-prefs.h"
#include "items/as-item.h"
#include "items/as-vcard.h"
#include "items/as-contact.h"

/* Every mapped element with a value of its own */
static const struct {
	unsigned int tag;
	const char *value;
} all_fields[] = {
	{ EAS_CONTACTS_FILEAS, "Doe, John" },
	{ EAS_CONTACTS_LASTNAME, "Doe" },
	{ EAS_CONTACTS_FIRSTNAME, "John" },
	{ EAS_CONTACTS_MIDDLENAME, "Quincy" },
	{ EAS_CONTACTS_TITLE, "Dr." },
	{ EAS_CONTACTS_SUFFIX, "Jr." },
	{ EAS_CONTACTS_YOMIFIRSTNAME, "Jon" },
	{ EAS_CONTACTS_YOMILASTNAME, "Dou" },
	{ EAS_CONTACTS_COMPANYNAME, "Example; Inc, Ltd" },
	{ EAS_CONTACTS_DEPARTMENT, "R\\D" },
	{ EAS_CONTACTS_YOMICOMPANYNAME, "Igzampl" },
	{ EAS_CONTACTS_JOBTITLE, "Engineer" },
	{ EAS_CONTACTS_OFFICELOCATION, "Building 7" },
	{ EAS_CONTACTS_EMAIL1ADDRESS, "john@example.com" },
	{ EAS_CONTACTS_EMAIL2ADDRESS, "jd@example.org" },
	{ EAS_CONTACTS_EMAIL3ADDRESS, "j.doe@example.net" },
	{ EAS_CONTACTS_HOMEPHONENUMBER, "+1 555 0101" },
	{ EAS_CONTACTS_HOME2PHONENUMBER, "+1 555 0102" },
	{ EAS_CONTACTS_BUSINESSPHONENUMBER, "+1 555 0103" },
	{ EAS_CONTACTS_BUSINESS2PHONENUMBER, "+1 555 0104" },
	{ EAS_CONTACTS_MOBILEPHONENUMBER, "+1 555 0105" },
	{ EAS_CONTACTS_CARPHONENUMBER, "+1 555 0106" },
	{ EAS_CONTACTS_RADIOPHONENUMBER, "+1 555 0107" },
	{ EAS_CONTACTS_PAGERNUMBER, "+1 555 0108" },
	{ EAS_CONTACTS_HOMEFAXNUMBER, "+1 555 0109" },
	{ EAS_CONTACTS_BUSINESSFAXNUMBER, "+1 555 0110" },
	{ EAS_CONTACTS_ASSISTANTPHONENUMBER, "+1 555 0111" },
	{ EAS_CONTACTS2_COMPANYMAINPHONE, "+1 555 0112" },
	{ EAS_CONTACTS2_MMS, "+1 555 0113" },
	{ EAS_CONTACTS_HOMEADDRESSSTREET, "1 Main St\nApt 2" },
	{ EAS_CONTACTS_HOMEADDRESSCITY, "Springfield" },
	{ EAS_CONTACTS_HOMEADDRESSSTATE, "IL" },
	{ EAS_CONTACTS_HOMEADDRESSPOSTALCODE, "62701" },
	{ EAS_CONTACTS_HOMEADDRESSCOUNTRY, "USA" },
	{ EAS_CONTACTS_BUSINESSADDRESSSTREET, "2 Office Rd" },
	{ EAS_CONTACTS_BUSINESSADDRESSCITY, "Chicago" },
	{ EAS_CONTACTS_BUSINESSADDRESSSTATE, "IL" },
	{ EAS_CONTACTS_BUSINESSADDRESSPOSTALCODE, "60601" },
	{ EAS_CONTACTS_BUSINESSADDRESSCOUNTRY, "United States" },
	{ EAS_CONTACTS_OTHERADDRESSSTREET, "Stra\xc3\x9f" "e 3" },
	{ EAS_CONTACTS_OTHERADDRESSCITY, "K\xc3\xb6ln" },
	{ EAS_CONTACTS_OTHERADDRESSSTATE, "NRW" },
	{ EAS_CONTACTS_OTHERADDRESSPOSTALCODE, "50667" },
	{ EAS_CONTACTS_OTHERADDRESSCOUNTRY, "Germany" },
	{ EAS_CONTACTS_BIRTHDAY, "1980-05-17T00:00:00.000Z" },
	{ EAS_CONTACTS_ANNIVERSARY, "2005-09-03T00:00:00.000Z" },
	{ EAS_CONTACTS_WEBPAGE, "https://example.com/~john?a=1,2;b" },
	{ EAS_CONTACTS_SPOUSE, "Jane Doe" },
	{ EAS_CONTACTS_CHILDREN, NULL },
	{ EAS_CONTACTS_ASSISTANTNAME, "Alice Assistant" },
	{ EAS_CONTACTS2_MANAGERNAME, "Bob Boss" },
	{ EAS_CONTACTS_CATEGORIES, NULL },
	{ EAS_CONTACTS_PICTURE, NULL },
	{ EAS_CONTACTS2_CUSTOMERID, "C-42" },
	{ EAS_CONTACTS2_GOVERNMENTID, "123-45-6789" },
	{ EAS_CONTACTS2_IMADDRESS, "john@im.example.com" },
	{ EAS_CONTACTS2_IMADDRESS2, "sip:john@voip.example.com" },
	{ EAS_CONTACTS2_IMADDRESS3, "xmpp:john@jabber.example.com" },
	{ EAS_CONTACTS2_ACCOUNTNAME, "ACC-7" },
	{ EAS_CONTACTS2_NICKNAME, "Johnny" },
	{ EAS_CONTACTS_ALIAS, "jdoe" },
	{ EAS_AIRSYNCBASE_BODY, NULL },
};

static const char *picture_base64(size_t raw_size)
{
	buffer_t *raw = t_buffer_create(raw_size);
	string_t *str = t_str_new(raw_size * 2);
	size_t i;

	buffer_append(raw, "\xff\xd8\xff\xe0", 4);
	for (i = 4; i < raw_size; i++)
		buffer_append_c(raw, (unsigned char)(i * 7));
	base64_encode(raw->data, raw->used, str);
	return str_c(str);
}

static void write_all_fields(struct wbxml_writer *w,
			     const struct as_body_options *opts)
{
	unsigned int i;

	for (i = 0; i < N_ELEMENTS(all_fields); i++) {
		switch (all_fields[i].tag) {
		case EAS_CONTACTS_CHILDREN:
			wbxml_start(w, EAS_CONTACTS_CHILDREN);
			wbxml_elem_str(w, EAS_CONTACTS_CHILD, "Tim");
			wbxml_elem_str(w, EAS_CONTACTS_CHILD, "Ann, the 2nd");
			wbxml_end(w);
			break;
		case EAS_CONTACTS_CATEGORIES:
			wbxml_start(w, EAS_CONTACTS_CATEGORIES);
			wbxml_elem_str(w, EAS_CONTACTS_CATEGORY, "Friends");
			wbxml_elem_str(w, EAS_CONTACTS_CATEGORY, "Work, too");
			wbxml_end(w);
			break;
		case EAS_CONTACTS_PICTURE:
			wbxml_elem_str(w, EAS_CONTACTS_PICTURE,
				       picture_base64(3000));
			break;
		case EAS_AIRSYNCBASE_BODY:
			as_body_write_text(w, "Met at the conference.\n"
					   "Likes tea; not coffee.", opts);
			break;
		default:
			wbxml_elem_str(w, all_fields[i].tag,
				       all_fields[i].value);
		}
	}
}

static struct wbxml_node *
app_data(void (*fill)(struct wbxml_writer *w, const void *ctx),
	 const void *ctx)
{
	buffer_t *buf = t_buffer_create(1024);
	struct wbxml_writer *w = wbxml_writer_init(buf);
	struct wbxml_node *root = NULL;
	const char *error = NULL;

	wbxml_start(w, EAS_AIRSYNC_APPLICATIONDATA);
	fill(w, ctx);
	wbxml_end(w);
	wbxml_writer_deinit(&w);
	if (wbxml_decode(pool_datastack_create(), buf->data, buf->used, NULL,
			 &root, &error) < 0)
		i_fatal("wbxml_decode: %s", error);
	return root;
}

static void fill_all(struct wbxml_writer *w, const void *ctx)
{
	write_all_fields(w, ctx);
}

static void fill_contact(struct wbxml_writer *w, const void *ctx)
{
	as_contact_write(w, ctx);
}

static const char *tree_xml(const struct wbxml_node *node)
{
	string_t *str = t_str_new(4096);

	wbxml_node_to_xml(str, node);
	return str_c(str);
}

/* card text -> card -> ApplicationData XML */
static const char *
card_to_xml(const char *text, const struct as_body_options *opts)
{
	struct as_vcard *card;
	const char *error = NULL;

	if (as_vcard_parse(pool_datastack_create(), text, NULL, &card,
			   &error) < 0)
		i_fatal("parse: %s", error);
	return tree_xml(app_data(fill_contact,
				 as_contact_from_vcard(card, opts)));
}

static void test_contact_all_fields(void)
{
	struct as_body_options opts;
	struct wbxml_node *data;
	struct as_vcard *card;
	const char *error, *xml_in;
	string_t *text;
	unsigned int version;

	as_body_options_init(&opts);
	data = app_data(fill_all, &opts);
	xml_in = tree_xml(data);
	for (version = 30; version <= 40; version += 10) {
		test_begin(t_strdup_printf("contact: every field WBXML -> "
					   "vCard %u.0 -> WBXML", version / 10));
		card = as_vcard_new(pool_datastack_create(), version);
		test_assert(as_contact_apply(card, data, FALSE, NULL,
					     &error) == 0);
		text = t_str_new(8192);
		as_vcard_write(card, version, text);
		test_assert_strcmp(card_to_xml(str_c(text), &opts), xml_in);
		/* what any vCard reader expects */
		test_assert(strstr(str_c(text), "\r\nUID:urn:uuid:") != NULL);
		test_assert(strstr(str_c(text), "\r\nFN:Doe\\, John\r\n") != NULL);
		test_assert(strstr(str_c(text), "\r\nN:Doe;John;Quincy;Dr.;Jr.\r\n") != NULL);
		test_assert(strstr(str_c(text), version == 40 ?
				   "\r\nBDAY:19800517\r\n" :
				   "\r\nBDAY:1980-05-17\r\n") != NULL);
		test_assert(strstr(str_c(text), "\r\nTEL;TYPE=cell:+1 555 0105\r\n") != NULL);
		test_assert(strstr(str_c(text), "\r\nIMPP:im:john@im.example.com\r\n") != NULL);
		test_assert(strstr(str_c(text), "\r\nCATEGORIES:Friends,Work\\, too\r\n") != NULL);
		test_end();
	}
}

struct one_field {
	unsigned int tag;
	const char *value;
};

static void fill_one(struct wbxml_writer *w, const void *ctx)
{
	const struct one_field *f = ctx;

	wbxml_elem_str(w, f->tag, f->value);
}

static const char *
one_field_result(unsigned int tag, const char *value, int *ret_r,
		 const char **error_r)
{
	struct one_field f = { tag, value };
	struct as_vcard *card = as_vcard_new(pool_datastack_create(), 40);
	string_t *text = t_str_new(256);

	*ret_r = as_contact_apply(card, app_data(fill_one, &f), FALSE, NULL,
				  error_r);
	as_vcard_write(card, 40, text);
	return str_c(text);
}

static void fill_html_body(struct wbxml_writer *w,
			   const void *ctx ATTR_UNUSED)
{
	wbxml_start(w, EAS_AIRSYNCBASE_BODY);
	wbxml_elem_str(w, EAS_AIRSYNCBASE_TYPE, "2");
	wbxml_elem_str(w, EAS_AIRSYNCBASE_DATA,
		       "<html><body><p>Likes <b>tea</b></p></body></html>");
	wbxml_end(w);
}

static void test_contact_conversions(void)
{
	struct as_body_options opts;
	const char *error, *text, *xml;
	int ret;

	test_begin("contact: e-mail \"Name <addr>\", shifted dates");
	as_body_options_init(&opts);
	text = one_field_result(EAS_CONTACTS_EMAIL1ADDRESS,
				"\"John Doe\" <john@example.com>", &ret, &error);
	test_assert(ret == 0);
	test_assert(strstr(text, "\r\nEMAIL:john@example.com\r\n") != NULL);

	/* local midnight two hours east of UTC */
	text = one_field_result(EAS_CONTACTS_BIRTHDAY,
				"1980-05-16T22:00:00.000Z", &ret, &error);
	test_assert(ret == 0);
	test_assert(strstr(text, "\r\nBDAY:19800517\r\n") != NULL);
	xml = card_to_xml(text, &opts);
	test_assert(strstr(xml, "1980-05-17T00:00:00.000Z") != NULL);
	/* five hours west */
	text = one_field_result(EAS_CONTACTS_ANNIVERSARY,
				"2005-09-03T05:00:00.000Z", &ret, &error);
	test_assert(ret == 0);
	test_assert(strstr(text, "\r\nANNIVERSARY:20050903\r\n") != NULL);
	/* a year before 1970 and no fraction */
	text = one_field_result(EAS_CONTACTS_BIRTHDAY,
				"1931-12-31T23:00:00Z", &ret, &error);
	test_assert(ret == 0);
	test_assert(strstr(text, "\r\nBDAY:19320101\r\n") != NULL);
	test_end();

	test_begin("contact: an HTML Body is stored as plain text");
	{
		struct as_vcard *card =
			as_vcard_new(pool_datastack_create(), 40);
		string_t *out = t_str_new(256);

		ret = as_contact_apply(card, app_data(fill_html_body, NULL),
				       FALSE, NULL, &error);
		test_assert(ret == 0);
		as_vcard_write(card, 40, out);
		test_assert(strstr(str_c(out), "NOTE:") != NULL);
		test_assert(strstr(str_c(out), "Likes") != NULL &&
			    strstr(str_c(out), "tea") != NULL);
		test_assert(strchr(str_c(out), '<') == NULL);
	}
	test_end();

	test_begin("contact: invalid fields are refused");
	(void)one_field_result(EAS_CONTACTS_BIRTHDAY, "yesterday", &ret,
			       &error);
	test_assert(ret < 0 && strstr(error, "Birthday") != NULL);
	(void)one_field_result(EAS_CONTACTS_ANNIVERSARY,
			       "2005-13-03T00:00:00.000Z", &ret, &error);
	test_assert(ret < 0);
	(void)one_field_result(EAS_CONTACTS_PICTURE, "not base64 !", &ret,
			       &error);
	test_assert(ret < 0);
	(void)one_field_result(EAS_CONTACTS_PICTURE, picture_base64(40000),
			       &ret, &error);
	test_assert(ret < 0 && strstr(error, "48 KB") != NULL);
	(void)one_field_result(EAS_CONTACTS_FIRSTNAME, "\xff\xfe", &ret,
			       &error);
	test_assert(ret < 0);
	test_end();
}

/* A card as another client writes it: its fields show, and a device's
   edit keeps what isn't mapped */
static const char *foreign_card =
	"BEGIN:VCARD\r\n"
	"VERSION:3.0\r\n"
	"PRODID:-//Apple Inc.//iPhone OS 17.0//EN\r\n"
	"N:Appleseed;Johnny;;;\r\n"
	"FN:Johnny Appleseed\r\n"
	"ORG:Apple;\r\n"
	"item1.EMAIL;type=INTERNET;type=pref:johnny@example.com\r\n"
	"item1.X-ABLabel:_$!<Other>!$_\r\n"
	"TEL;type=CELL;type=VOICE;type=pref:+1 555 0200\r\n"
	"TEL;type=HOME;type=FAX:+1 555 0201\r\n"
	"TEL;type=MAIN:+1 555 0202\r\n"
	"item2.ADR;type=HOME;type=pref:;;3494 Kuhl Avenue;Atlanta;GA;30303;USA\r\n"
	"item2.X-ABADR:us\r\n"
	"BDAY;VALUE=date:1961-01-01\r\n"
	"X-PHONETIC-FIRST-NAME:Jonnie\r\n"
	"X-SOCIALPROFILE;type=twitter:https://twitter.com/johnny\r\n"
	"PHOTO;ENCODING=b;TYPE=JPEG:/9j/4AAQSkZJRgABAQ==\r\n"
	"UID:1d4a5b0e-9a39-4c53-a3b1-b4b3bd5c1c1c\r\n"
	"END:VCARD\r\n";

static void test_contact_foreign_read(void)
{
	struct as_body_options opts;
	const char *xml;

	test_begin("contact: another client's card is read");
	as_body_options_init(&opts);
	xml = card_to_xml(foreign_card, &opts);
	test_assert(strstr(xml, ">Johnny Appleseed</FileAs>") != NULL);
	test_assert(strstr(xml, ">Appleseed</LastName>") != NULL);
	test_assert(strstr(xml, ">Apple</CompanyName>") != NULL);
	test_assert(strstr(xml, ">johnny@example.com</Email1Address>") != NULL);
	test_assert(strstr(xml, ">+1 555 0200</MobilePhoneNumber>") != NULL);
	test_assert(strstr(xml, ">+1 555 0201</HomeFaxNumber>") != NULL);
	test_assert(strstr(xml, ">+1 555 0202</CompanyMainPhone>") != NULL);
	test_assert(strstr(xml, ">Atlanta</HomeAddressCity>") != NULL);
	test_assert(strstr(xml, ">1961-01-01T00:00:00.000Z</Birthday>") != NULL);
	test_assert(strstr(xml, ">Jonnie</YomiFirstName>") != NULL);
	test_assert(strstr(xml, ">/9j/4AAQSkZJRgABAQ==</Picture>") != NULL);
	/* a number of no kind, 2.1's bare types, IM and other dates */
	xml = card_to_xml("BEGIN:VCARD\r\nVERSION:2.1\r\nFN:X\r\n"
			  "TEL:+1 555 0300\r\nTEL;WORK;VOICE:+1 555 0301\r\n"
			  "X-JABBER:x@jabber.example\r\n"
			  "X-EVOLUTION-ANNIVERSARY:2001-02-03\r\n"
			  "BDAY:--0504\r\nEND:VCARD\r\n", &opts);
	test_assert(strstr(xml, ">+1 555 0300</Home2PhoneNumber>") != NULL);
	test_assert(strstr(xml, ">+1 555 0301</BusinessPhoneNumber>") != NULL);
	test_assert(strstr(xml, ">x@jabber.example</IMAddress>") != NULL);
	test_assert(strstr(xml, ">2001-02-03T00:00:00.000Z</Anniversary>") != NULL);
	/* a birthday without a year can't be an EAS date */
	test_assert(strstr(xml, "Birthday") == NULL);
	test_end();
}

static void fill_edit(struct wbxml_writer *w, const void *ctx ATTR_UNUSED)
{
	wbxml_elem_str(w, EAS_CONTACTS_FIRSTNAME, "John");
	wbxml_elem_str(w, EAS_CONTACTS_MOBILEPHONENUMBER, "+1 555 0299");
	wbxml_elem_str(w, EAS_CONTACTS_FILEAS, "Appleseed, John");
}

static void test_contact_change_keeps(void)
{
	static const unsigned int supported[] = {
		EAS_CONTACTS_FIRSTNAME, EAS_CONTACTS_LASTNAME,
		EAS_CONTACTS_MOBILEPHONENUMBER, EAS_CONTACTS_FILEAS,
		EAS_CONTACTS_HOMEFAXNUMBER,
	};
	struct as_item_params params;
	struct as_vcard *card;
	const char *error, *text;
	string_t *out;

	test_begin("contact: a Change keeps unmapped and ghosted properties");
	i_zero(&params);
	params.have_supported = TRUE;
	params.supported = supported;
	params.supported_count = N_ELEMENTS(supported);
	test_assert(as_vcard_parse(pool_datastack_create(), foreign_card,
				   NULL, &card, &error) == 0);
	test_assert(as_contact_apply(card, app_data(fill_edit, NULL), TRUE,
				     &params, &error) == 0);
	out = t_str_new(1024);
	as_vcard_write(card, 30, out);
	text = str_c(out);
	/* changed in place: the group and TYPEs stay */
	test_assert(strstr(text, "\r\nN:;John;;;\r\n") != NULL);
	test_assert(strstr(text, "\r\nTEL;type=CELL;type=VOICE;type=pref:+1 555 0299\r\n") != NULL);
	test_assert(strstr(text, "\r\nFN:Appleseed\\, John\r\n") != NULL);
	/* supported and omitted: deleted */
	test_assert(strstr(text, "0201") == NULL);
	/* ghosted (not in Supported): kept */
	test_assert(strstr(text, "\r\nitem1.EMAIL;type=INTERNET;type=pref:johnny@example.com\r\n") != NULL);
	test_assert(strstr(text, "\r\nORG:Apple;\r\n") != NULL);
	test_assert(strstr(text, "\r\nTEL;type=MAIN:+1 555 0202\r\n") != NULL);
	test_assert(strstr(text, "\r\nBDAY;VALUE=date:1961-01-01\r\n") != NULL);
	test_assert(strstr(text, "\r\nPHOTO;ENCODING=b;TYPE=JPEG:") != NULL);
	/* never mapped: kept verbatim */
	test_assert(strstr(text, "\r\nPRODID:-//Apple Inc.//iPhone OS 17.0//EN\r\n") != NULL);
	test_assert(strstr(text, "\r\nitem1.X-ABLabel:_$!<Other>!$_\r\n") != NULL);
	test_assert(strstr(text, "\r\nitem2.X-ABADR:us\r\n") != NULL);
	test_assert(strstr(text, "\r\nX-SOCIALPROFILE;type=twitter:https://twitter.com/johnny\r\n") != NULL);
	test_assert(strstr(text, "\r\nUID:1d4a5b0e-9a39-4c53-a3b1-b4b3bd5c1c1c\r\n") != NULL);
	test_end();

	test_begin("contact: without Supported, omitted fields are deleted");
	test_assert(as_vcard_parse(pool_datastack_create(), foreign_card,
				   NULL, &card, &error) == 0);
	test_assert(as_contact_apply(card, app_data(fill_edit, NULL), TRUE,
				     NULL, &error) == 0);
	out = t_str_new(1024);
	as_vcard_write(card, 30, out);
	text = str_c(out);
	test_assert(strstr(text, "johnny@example.com") == NULL);
	test_assert(strstr(text, "\r\nORG") == NULL);
	test_assert(strstr(text, "Kuhl") == NULL);
	test_assert(strstr(text, "BDAY") == NULL);
	test_assert(strstr(text, "PHOTO") == NULL);
	test_assert(strstr(text, "\r\nitem1.X-ABLabel:_$!<Other>!$_\r\n") != NULL);
	test_assert(strstr(text, "\r\nX-SOCIALPROFILE;type=twitter:https://twitter.com/johnny\r\n") != NULL);
	test_assert(strstr(text, "\r\nUID:1d4a5b0e-9a39-4c53-a3b1-b4b3bd5c1c1c\r\n") != NULL);
	test_end();
}

static void test_contact_big_photo(void)
{
	struct as_body_options opts;
	struct as_vcard *card;
	struct as_vcard_property *prop;
	const char *error, *xml;
	buffer_t *raw = t_buffer_create(60000);
	string_t *out;

	test_begin("contact: a photo over 48 KB isn't sent, and is kept");
	as_body_options_init(&opts);
	card = as_vcard_new(pool_datastack_create(), 40);
	prop = as_vcard_add(card, NULL, "FN");
	as_vcard_prop_set_text(card, prop, "Big Photo");
	prop = as_vcard_add(card, NULL, "PHOTO");
	buffer_append_zero(raw, 60000);
	as_vcard_prop_set_binary(card, prop, 40, raw->data, raw->used,
				 "image/jpeg");
	out = t_str_new(100000);
	as_vcard_write(card, 40, out);
	xml = card_to_xml(str_c(out), &opts);
	test_assert(strstr(xml, ">Big Photo</FileAs>") != NULL);
	test_assert(strstr(xml, "Picture") == NULL);
	test_assert(as_contact_apply(card, app_data(fill_edit, NULL), TRUE,
				     NULL, &error) == 0);
	str_truncate(out, 0);
	as_vcard_write(card, 40, out);
	test_assert(strstr(str_c(out), "\r\nPHOTO:data:image/jpeg;base64,") != NULL);
	test_end();
}

int main(void)
{
	static void (*const test_functions[])(void) = {
		test_contact_all_fields,
		test_contact_conversions,
		test_contact_foreign_read,
		test_contact_change_keeps,
		test_contact_big_photo,
		NULL
	};
	return test_run(test_functions);
}
