/* Copyright (c) dovecot-activesync authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "buffer.h"
#include "test-common.h"
#include "items/as-vcard.h"

static struct as_vcard *parse_ok(const char *text)
{
	struct as_vcard *card = NULL;
	const char *error = NULL;

	if (as_vcard_parse(pool_datastack_create(), text, NULL, &card,
			   &error) < 0)
		i_fatal("parse failed: %s", error);
	return card;
}

static struct as_vcard_property *
find(struct as_vcard *card, const char *name, unsigned int nth)
{
	struct as_vcard_property *const *propp;

	array_foreach(&card->props, propp) {
		if (strcasecmp((*propp)->name, name) == 0 && nth-- == 0)
			return *propp;
	}
	return NULL;
}

static void test_vcard_parse_basic(void)
{
	const char *text =
		"BEGIN:VCARD\r\n"
		"VERSION:3.0\r\n"
		"N:Doe;John;Q.;Dr.;Jr.\r\n"
		"FN:John Doe\r\n"
		"item1.EMAIL;TYPE=INTERNET;TYPE=pref:john@example.com\r\n"
		"item1.X-ABLabel:_$!<Other>!$_\r\n"
		"TEL;TYPE=\"work,voice\":+1 555 0100\r\n"
		"ADR;TYPE=home:;;1 Main St\\, Apt 2;Springfield;IL;62701;USA\r\n"
		"NOTE:line one\\nline two\\; with \\\\ and \\,\r\n"
		"CATEGORIES:Friends,Work\\, mostly,,\r\n"
		"X-CUSTOM;X-PARAM=\"a:b;c\":kept as is\\n\r\n"
		"END:VCARD\r\n";
	struct as_vcard *card;
	struct as_vcard_property *prop;
	const char *const *list;

	test_begin("vcard parse: names, params, escaping, structure");
	card = parse_ok(text);
	test_assert(card->version == 30);
	test_assert(array_count(&card->props) == 9);
	prop = find(card, "N", 0);
	test_assert(strcmp(as_vcard_prop_component(prop, 0), "Doe") == 0);
	test_assert(strcmp(as_vcard_prop_component(prop, 3), "Dr.") == 0);
	test_assert(strcmp(as_vcard_prop_component(prop, 4), "Jr.") == 0);
	test_assert(strcmp(as_vcard_prop_component(prop, 7), "") == 0);
	prop = find(card, "EMAIL", 0);
	test_assert(strcmp(prop->group, "item1") == 0);
	test_assert(as_vcard_prop_has_type(prop, "internet"));
	test_assert(as_vcard_prop_has_type(prop, "PREF"));
	test_assert(!as_vcard_prop_has_type(prop, "home"));
	prop = find(card, "X-ABLABEL", 0);
	test_assert(strcmp(prop->group, "item1") == 0);
	prop = find(card, "TEL", 0);
	test_assert(as_vcard_prop_has_type(prop, "work"));
	test_assert(as_vcard_prop_has_type(prop, "voice"));
	prop = find(card, "ADR", 0);
	test_assert(strcmp(as_vcard_prop_component(prop, 2),
			   "1 Main St, Apt 2") == 0);
	test_assert(strcmp(as_vcard_prop_component(prop, 6), "USA") == 0);
	prop = find(card, "NOTE", 0);
	test_assert(strcmp(as_vcard_prop_text(prop),
			   "line one\nline two; with \\ and ,") == 0);
	list = as_vcard_prop_list(find(card, "CATEGORIES", 0));
	test_assert(str_array_length(list) == 2);
	test_assert(strcmp(list[0], "Friends") == 0);
	test_assert(strcmp(list[1], "Work, mostly") == 0);
	prop = find(card, "X-CUSTOM", 0);
	test_assert(strcmp(as_vcard_prop_param(prop, "X-PARAM"),
			   "a:b;c") == 0);
	test_end();
}

static void test_vcard_round_trip(void)
{
	const char *text =
		"BEGIN:VCARD\r\n"
		"VERSION:4.0\r\n"
		"UID:urn:uuid:4fbe8971-0bc3-424c-9c26-36c3e1eff6b1\r\n"
		"FN:Jane Roe\r\n"
		"item2.TEL;TYPE=\"cell,voice\";PREF=1:+49 170 1234567\r\n"
		"X-THUNDERBIRD-ETAG;VALUE=text:\"abc\"\r\n"
		"X-ANDROID-CUSTOM:vnd.android.cursor.item/nickname;Jay;1;;;;;;;;;;;;;\r\n"
		"END:VCARD\r\n";
	struct as_vcard *card;
	string_t *out = t_str_new(256);

	test_begin("vcard round trip keeps unknown properties verbatim");
	card = parse_ok(text);
	test_assert(card->version == 40);
	as_vcard_write(card, 40, out);
	test_assert_strcmp(str_c(out), text);
	test_end();
}

static void test_vcard_folding(void)
{
	string_t *line = t_str_new(512);
	/* small: the writer must grow it in the caller's frame */
	string_t *out = t_str_new(16);
	struct as_vcard *card = as_vcard_new(pool_datastack_create(), 40);
	struct as_vcard_property *prop;
	const char *const *lines;
	unsigned int i;
	size_t len;

	test_begin("vcard writer folds at 75 octets, not inside UTF-8");
	/* 'ä' is two octets: an odd offset makes a cut fall inside one */
	str_append(line, "x");
	for (i = 0; i < 200; i++)
		str_append(line, "\xc3\xa4");
	prop = as_vcard_add(card, NULL, "NOTE");
	as_vcard_prop_set_text(card, prop, str_c(line));
	as_vcard_write(card, 40, out);
	lines = t_strsplit(str_c(out), "\n");
	for (i = 0; lines[i] != NULL && lines[i][0] != '\0'; i++) {
		len = strlen(lines[i]);
		/* every line ends with CR */
		test_assert(len > 0 && lines[i][len-1] == '\r');
		test_assert(len - 1 <= AS_VCARD_FOLD_OCTETS);
		/* a continuation never starts inside a character */
		if (lines[i][0] == ' ')
			test_assert(((unsigned char)lines[i][1] & 0xc0) != 0x80);
	}
	test_assert(i > 5);
	/* and it reads back the same */
	card = parse_ok(str_c(out));
	test_assert_strcmp(as_vcard_prop_text(find(card, "NOTE", 0)),
			   str_c(line));
	test_end();
}

static void test_vcard_unfold_and_21(void)
{
	const char *text =
		"BEGIN:VCARD\n"
		"VERSION:2.1\n"
		"N;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:M=C3=BCller;J=\n"
		"=C3=BCrgen\n"
		"TEL;HOME;VOICE:+1 555 0111\n"
		"NOTE:folded\n"
		" line\n"
		"\tand tab\n"
		"PHOTO;ENCODING=BASE64;TYPE=JPEG:/9j/4AAQ\n"
		" SkZJRg==\n"
		"\n"
		"ADR;WORK;ENCODING=QUOTED-PRINTABLE;CHARSET=ISO-8859-1:;;Stra=DFe 1;K=F6ln;;;\n"
		"END:VCARD\n";
	struct as_vcard *card;
	struct as_vcard_property *prop;
	buffer_t *data = t_buffer_create(64);
	const char *media_type;

	test_begin("vcard 2.1: quoted-printable, bare types, base64");
	card = parse_ok(text);
	test_assert(card->version == 30);
	prop = find(card, "N", 0);
	test_assert_strcmp(as_vcard_prop_component(prop, 0), "M\xc3\xbcller");
	test_assert_strcmp(as_vcard_prop_component(prop, 1), "J\xc3\xbcrgen");
	test_assert(as_vcard_prop_param(prop, "ENCODING") == NULL);
	prop = find(card, "TEL", 0);
	test_assert(as_vcard_prop_has_type(prop, "home"));
	test_assert(as_vcard_prop_has_type(prop, "voice"));
	test_assert_strcmp(as_vcard_prop_text(find(card, "NOTE", 0)),
			   "foldedlineand tab");
	prop = find(card, "PHOTO", 0);
	test_assert(as_vcard_prop_binary(prop, data, &media_type) == 1);
	test_assert(data->used == 10);
	test_assert(memcmp(data->data, "\xff\xd8\xff\xe0\x00\x10JFIF", 10) == 0);
	test_assert_strcmp(media_type, "image/jpeg");
	prop = find(card, "ADR", 0);
	test_assert(as_vcard_prop_has_type(prop, "work"));
	test_assert_strcmp(as_vcard_prop_component(prop, 2),
			   "Stra\xc3\x9f" "e 1");
	test_assert_strcmp(as_vcard_prop_component(prop, 3), "K\xc3\xb6ln");
	test_end();
}

static void test_vcard_binary(void)
{
	struct as_vcard *card = as_vcard_new(pool_datastack_create(), 40);
	struct as_vcard_property *prop;
	buffer_t *data = t_buffer_create(64);
	string_t *out = t_str_new(256);
	const char *media_type;
	static const unsigned char png[] = {
		0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 1, 2 };

	test_begin("vcard binary: data: URI (4.0) and ENCODING=b (3.0)");
	prop = as_vcard_add(card, NULL, "PHOTO");
	as_vcard_prop_set_binary(card, prop, 40, png, sizeof(png),
				 "image/png");
	test_assert(str_begins(prop->value, "data:image/png;base64,"));
	test_assert(as_vcard_prop_binary(prop, data, &media_type) == 1);
	test_assert(data->used == sizeof(png) &&
		    memcmp(data->data, png, sizeof(png)) == 0);
	test_assert_strcmp(media_type, "image/png");

	as_vcard_prop_set_binary(card, prop, 30, png, sizeof(png),
				 "image/png");
	as_vcard_write(card, 30, out);
	card = parse_ok(str_c(out));
	prop = find(card, "PHOTO", 0);
	test_assert_strcmp(as_vcard_prop_param(prop, "ENCODING"), "b");
	buffer_set_used_size(data, 0);
	test_assert(as_vcard_prop_binary(prop, data, &media_type) == 1);
	test_assert(data->used == sizeof(png) &&
		    memcmp(data->data, png, sizeof(png)) == 0);
	test_assert_strcmp(media_type, "image/png");

	prop->value = "http://example.com/photo.jpg";
	as_vcard_prop_remove_param(prop, "ENCODING");
	test_assert(as_vcard_prop_binary(prop, data, &media_type) == 0);
	prop->value = "data:image/jpeg;base64,!!!";
	test_assert(as_vcard_prop_binary(prop, data, &media_type) == -1);
	test_end();
}

static void test_vcard_set_values(void)
{
	struct as_vcard *card = as_vcard_new(pool_datastack_create(), 30);
	struct as_vcard_property *prop;
	const char *items[] = { "a,b", "c;d", NULL };
	const char *const *list;

	test_begin("vcard set text, components, lists");
	prop = as_vcard_add(card, NULL, "N");
	as_vcard_prop_set_component(card, prop, 1, "First");
	test_assert_strcmp(prop->value, ";First");
	as_vcard_prop_set_component(card, prop, 0, "Last; name");
	test_assert_strcmp(prop->value, "Last\\; name;First");
	as_vcard_prop_set_component(card, prop, 4, "III");
	test_assert_strcmp(prop->value, "Last\\; name;First;;;III");
	test_assert_strcmp(as_vcard_prop_component(prop, 0), "Last; name");
	as_vcard_prop_set_list(card, prop, items);
	list = as_vcard_prop_list(prop);
	test_assert(str_array_length(list) == 2);
	test_assert_strcmp(list[0], "a,b");
	test_assert_strcmp(list[1], "c;d");
	as_vcard_prop_set_text(card, prop, "x\r\ny\\z");
	test_assert_strcmp(prop->value, "x\\ny\\\\z");
	test_assert_strcmp(as_vcard_prop_text(prop), "x\ny\\z");
	as_vcard_prop_add_param(card, prop, "X-LABEL", "a;b");
	test_assert_strcmp(as_vcard_prop_param(prop, "X-LABEL"), "a;b");
	test_end();
}

static void test_vcard_malformed(void)
{
	static const char *const bad[] = {
		"",
		"hello",
		"BEGIN:VCARD\r\nFN:x\r\n",
		"FN:x\r\nEND:VCARD\r\n",
		"BEGIN:VCARD\r\nFN x\r\nEND:VCARD\r\n",
		"BEGIN:VCARD\r\n;X:y\r\nEND:VCARD\r\n",
		"BEGIN:VCARD\r\nFN;TYPE=\"open:x\r\nEND:VCARD\r\n",
		"BEGIN:VCARD\r\nVERSION:9.9\r\nEND:VCARD\r\n",
		"BEGIN:VCARD\r\nBEGIN:VCARD\r\nEND:VCARD\r\n",
		"BEGIN:VCARD\r\ngrp.:x\r\nEND:VCARD\r\n",
		"BEGIN:VCARD\r\nFN;a b=c:x\r\nEND:VCARD\r\n",
	};
	struct as_vcard_limits limits;
	struct as_vcard *card;
	const char *error = NULL;
	string_t *big;
	unsigned int i;

	test_begin("vcard malformed input and limits");
	for (i = 0; i < N_ELEMENTS(bad); i++) {
		error = NULL;
		test_assert_idx(as_vcard_parse(pool_datastack_create(), bad[i],
					       NULL, &card, &error) < 0, i);
		test_assert_idx(error != NULL, i);
	}
	i_zero(&limits);
	limits.max_properties = 3;
	big = t_str_new(256);
	str_append(big, "BEGIN:VCARD\r\n");
	for (i = 0; i < 4; i++)
		str_printfa(big, "X-N%u:v\r\n", i);
	str_append(big, "END:VCARD\r\n");
	test_assert(as_vcard_parse(pool_datastack_create(), str_c(big),
				   &limits, &card, &error) < 0);
	test_assert(strstr(error, "too many") != NULL);
	limits.max_properties = 4;
	test_assert(as_vcard_parse(pool_datastack_create(), str_c(big),
				   &limits, &card, &error) == 0);

	i_zero(&limits);
	limits.max_line_length = 20;
	test_assert(as_vcard_parse(pool_datastack_create(),
		"BEGIN:VCARD\r\nNOTE:0123456789\r\n 0123456789\r\nEND:VCARD\r\n",
		&limits, &card, &error) < 0);
	test_assert(strstr(error, "too long") != NULL);
	i_zero(&limits);
	limits.max_size = 30;
	test_assert(as_vcard_parse(pool_datastack_create(), str_c(big),
				   &limits, &card, &error) < 0);
	test_assert(strstr(error, "too large") != NULL);
	test_end();
}

int main(void)
{
	static void (*const test_functions[])(void) = {
		test_vcard_parse_basic,
		test_vcard_round_trip,
		test_vcard_folding,
		test_vcard_unfold_and_21,
		test_vcard_binary,
		test_vcard_set_values,
		test_vcard_malformed,
		NULL
	};
	return test_run(test_functions);
}
