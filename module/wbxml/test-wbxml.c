/* Unit tests for the EAS WBXML codec */

#include "lib.h"
#include "array.h"
#include "buffer.h"
#include "str.h"
#include "istream.h"
#include "istream-concat.h"
#include "test-common.h"
#include "wbxml.h"

#define N_TOKENS 64

/* WBXML produced by libwbxml2's xml2wbxml for
   <Sync><Collections><Collection><SyncKey>0</SyncKey>
   <CollectionId>5</CollectionId><Options><airsyncbase:BodyPreference>
   <airsyncbase:Type>2</airsyncbase:Type></airsyncbase:BodyPreference>
   </Options><GetChanges/></Collection></Collections></Sync> */
static const unsigned char sync_request[] = {
	0x03, 0x01, 0x6a, 0x00, 0x45, 0x5c, 0x4f, 0x4b, 0x03, 0x30, 0x00,
	0x01, 0x52, 0x03, 0x35, 0x00, 0x01, 0x57, 0x00, 0x11, 0x45, 0x46,
	0x03, 0x32, 0x00, 0x01, 0x01, 0x01, 0x00, 0x00, 0x13, 0x01, 0x01,
	0x01
};

static const char sync_request_xml[] =
"<Sync xmlns=\"AirSync:\">\n"
"  <Collections>\n"
"    <Collection>\n"
"      <SyncKey>0</SyncKey>\n"
"      <CollectionId>5</CollectionId>\n"
"      <Options>\n"
"        <BodyPreference xmlns=\"AirSyncBase:\">\n"
"          <Type>2</Type>\n"
"        </BodyPreference>\n"
"      </Options>\n"
"      <GetChanges/>\n"
"    </Collection>\n"
"  </Collections>\n"
"</Sync>\n";

static void write_sync_request(buffer_t *out)
{
	struct wbxml_writer *w = wbxml_writer_init(out);

	wbxml_start(w, EAS_AIRSYNC_SYNC);
	wbxml_start(w, EAS_AIRSYNC_COLLECTIONS);
	wbxml_start(w, EAS_AIRSYNC_COLLECTION);
	wbxml_elem_str(w, EAS_AIRSYNC_SYNCKEY, "0");
	wbxml_elem_uint(w, EAS_AIRSYNC_COLLECTIONID, 5);
	wbxml_start(w, EAS_AIRSYNC_OPTIONS);
	wbxml_start(w, EAS_AIRSYNCBASE_BODYPREFERENCE);
	wbxml_elem_uint(w, EAS_AIRSYNCBASE_TYPE, 2);
	wbxml_end(w);
	wbxml_end(w);
	wbxml_empty(w, EAS_AIRSYNC_GETCHANGES);
	wbxml_end(w);
	wbxml_end(w);
	wbxml_end(w);
	wbxml_writer_deinit(&w);
}

static unsigned int count_page_tags(unsigned int page)
{
	unsigned int token, count = 0;

	for (token = 0; token < N_TOKENS; token++) {
		if (wbxml_tag_name(EAS_TAG(page, token)) != NULL)
			count++;
	}
	return count;
}

static void test_wbxml_codepages(void)
{
	static const char *const page_names[WBXML_PAGE_COUNT] = {
		"AirSync", "Contacts", "Email", "AirNotify", "Calendar",
		"Move", "GetItemEstimate", "FolderHierarchy",
		"MeetingResponse", "Tasks", "ResolveRecipients",
		"ValidateCert", "Contacts2", "Ping", "Provision", "Search",
		"GAL", "AirSyncBase", "Settings", "DocumentLibrary",
		"ItemOperations", "ComposeMail", "Email2", "Notes",
		"RightsManagement", "Find"
	};
	unsigned int page, token, tag, total = 0;
	const char *name;

	test_begin("wbxml code pages");
	for (page = 0; page < WBXML_PAGE_COUNT; page++) {
		test_assert_strcmp_idx(wbxml_page_name(page),
				       page_names[page], page);
		test_assert_idx(wbxml_page_lookup(page_names[page]) ==
				(int)page, page);
		test_assert_idx(wbxml_page_lookup(t_strconcat(
			t_str_lcase(page_names[page]), ":", NULL)) ==
			(int)page, page);
		/* every page has tags, tokens 0..4 are global tokens */
		test_assert_idx(count_page_tags(page) > 0, page);
		for (token = 0; token < 5; token++)
			test_assert_idx(wbxml_tag_name(EAS_TAG(page, token)) == NULL, token);
		for (token = 5; token < N_TOKENS; token++) {
			tag = EAS_TAG(page, token);
			name = wbxml_tag_name(tag);
			if (name == NULL)
				continue;
			total++;
			/* names are unique within a page */
			test_assert_idx(wbxml_tag_lookup(page_names[page], name) == tag, tag);
			test_assert_strcmp_idx(wbxml_tag_describe(tag),
				t_strconcat(page_names[page], ":", name, NULL), tag);
		}
	}
	/* 26 pages with 644 tags (58 of them legacy) */
	test_assert_ucmp(total, ==, 644);
	test_assert(wbxml_page_name(WBXML_PAGE_COUNT) == NULL);
	test_assert(wbxml_page_lookup("Nope") == -1);
	test_assert(wbxml_page_lookup("") == -1);
	test_assert(wbxml_tag_name(EAS_TAG(26, 5)) == NULL);
	test_assert(wbxml_tag_name(EAS_TAG(0, 0x45)) == NULL);
	test_assert(wbxml_tag_lookup("AirSync", "sync") == EAS_TAG_INVALID);
	test_assert(wbxml_tag_lookup("Nope", "Sync") == EAS_TAG_INVALID);
	test_assert(wbxml_tag_lookup("Gal:", "DisplayName") == EAS_GAL_DISPLAYNAME);
	test_assert_strcmp(wbxml_tag_describe(0x1a05), "0x1a05");

	/* enum values other code relies on, tokens from MS-ASWBXML */
	test_assert(EAS_AIRSYNC_SYNC == 0x0005);
	test_assert(EAS_AIRSYNC_SYNCKEY == 0x000b);
	test_assert(EAS_AIRSYNC_HEARTBEATINTERVAL == 0x0029);
	test_assert(EAS_CONTACTS_BUSINESSADDRESSCITY == 0x010d);
	test_assert(EAS_EMAIL_REPLYTO == 0x0219);
	test_assert(EAS_EMAIL_STATUS == 0x023b);
	test_assert(EAS_CALENDAR_TIMEZONE == 0x0405);
	test_assert(EAS_CALENDAR_CLIENTUID == 0x043c);
	test_assert(EAS_FOLDERHIERARCHY_FOLDERSYNC == 0x0716);
	test_assert(EAS_MEETINGRESPONSE_SENDRESPONSE == 0x0812);
	test_assert(EAS_PING_HEARTBEATINTERVAL == 0x0d08);
	test_assert(EAS_PROVISION_POLICYKEY == 0x0e09);
	test_assert(EAS_PROVISION_ACCOUNTONLYREMOTEWIPE == 0x0e3b);
	test_assert(EAS_GAL_DATA == 0x1012);
	test_assert(EAS_AIRSYNCBASE_BODYPREFERENCE == 0x1105);
	test_assert(EAS_AIRSYNCBASE_INSTANCEID == 0x112d);
	test_assert(EAS_SETTINGS_RIGHTSMANAGEMENTINFORMATION == 0x122b);
	test_assert(EAS_ITEMOPERATIONS_MOVEALWAYS == 0x1419);
	test_assert(EAS_COMPOSEMAIL_MIME == 0x1510);
	test_assert(EAS_EMAIL2_SEND == 0x1617);
	test_assert(EAS_RIGHTSMANAGEMENT_REMOVERIGHTSMANAGEMENTPROTECTION == 0x1818);
	test_assert(EAS_FIND_PICTURE == 0x1922);
	test_assert(wbxml_tag_is_binary(EAS_COMPOSEMAIL_MIME));
	test_assert(wbxml_tag_is_binary(EAS_EMAIL2_CONVERSATIONINDEX));
	test_assert(!wbxml_tag_is_binary(EAS_AIRSYNCBASE_DATA));
	test_end();
}

/* Every tag of every page, as text and as empty element, inside a root
   from another page so SWITCH_PAGE is exercised in both directions. */
static void test_wbxml_all_tags_roundtrip(void)
{
	unsigned int page, token, tag, i;
	struct wbxml_writer *w;
	struct wbxml_node *root, *node;
	const char *error, *name;
	buffer_t *buf;
	pool_t pool;

	test_begin("wbxml all tags round-trip");
	pool = pool_alloconly_create("test", 65536);
	for (page = 0; page < WBXML_PAGE_COUNT; page++) {
		unsigned int root_tag = page == 0 ? EAS_FIND_FIND :
			EAS_AIRSYNC_SYNC;

		buf = t_buffer_create(1024);
		w = wbxml_writer_init(buf);
		wbxml_start(w, root_tag);
		for (token = 5; token < N_TOKENS; token++) {
			tag = EAS_TAG(page, token);
			name = wbxml_tag_name(tag);
			if (name == NULL)
				continue;
			wbxml_elem_str(w, tag, name);
			wbxml_empty(w, tag);
			/* nested: the tag contains a root-page element */
			wbxml_start(w, tag);
			wbxml_empty(w, root_tag);
			wbxml_end(w);
		}
		wbxml_end(w);
		wbxml_writer_deinit(&w);

		p_clear(pool);
		if (wbxml_decode(pool, buf->data, buf->used, NULL,
				 &root, &error) < 0) {
			i_error("page %u: %s", page, error);
			test_assert_idx(FALSE, page);
			continue;
		}
		test_assert_idx(root->tag == root_tag, page);
		node = root->children;
		for (token = 5; token < N_TOKENS; token++) {
			tag = EAS_TAG(page, token);
			name = wbxml_tag_name(tag);
			if (name == NULL)
				continue;
			/* the tag with text, empty and with a child */
			for (i = 0; i < 3 && node != NULL; i++) {
				test_assert_idx(node->tag == tag, tag);
				test_assert_strcmp_idx(wbxml_tag_name(node->tag), name, tag);
				test_assert_idx(!node->opaque, tag);
				node = node->next;
			}
			test_assert_idx(i == 3, tag);
		}
		test_assert_idx(node == NULL, page);
		/* check the three forms of the first tag */
		node = root->children;
		test_assert_strcmp_idx(wbxml_node_text(node),
				       wbxml_tag_name(node->tag), page);
		test_assert_idx(node->children == NULL, page);
		node = node->next;
		test_assert_idx(node->data == NULL && node->children == NULL, page);
		node = node->next;
		test_assert_idx(node->children != NULL &&
				node->children->tag == root_tag &&
				node->children->next == NULL, page);

		/* each tag alone as a document root */
		for (token = 5; token < N_TOKENS; token++) {
			tag = EAS_TAG(page, token);
			if (wbxml_tag_name(tag) == NULL)
				continue;
			buffer_set_used_size(buf, 0);
			w = wbxml_writer_init(buf);
			wbxml_empty(w, tag);
			wbxml_writer_deinit(&w);
			p_clear(pool);
			test_assert_idx(wbxml_decode(pool, buf->data, buf->used,
						     NULL, &root, &error) == 0, tag);
			test_assert_idx(root->tag == tag && root->parent == NULL, tag);
		}
	}
	pool_unref(&pool);
	test_end();
}

static void test_wbxml_encode_vector(void)
{
	buffer_t *buf = t_buffer_create(64);
	struct wbxml_node *root;
	const char *error;
	string_t *str;
	pool_t pool;

	test_begin("wbxml encoding matches libwbxml2 bytes");
	write_sync_request(buf);
	test_assert_memcmp(buf->data, buf->used,
			   sync_request, sizeof(sync_request));

	pool = pool_alloconly_create("test", 4096);
	test_assert(wbxml_decode(pool, sync_request, sizeof(sync_request),
				 NULL, &root, &error) == 0);
	str = t_str_new(256);
	wbxml_node_to_xml(str, root);
	test_assert_strcmp(str_c(str), sync_request_xml);
	str_truncate(str, 0);
	test_assert(wbxml_to_xml(str, sync_request, sizeof(sync_request),
				 &error) == 0);
	test_assert_strcmp(str_c(str), sync_request_xml);

	/* tree helpers */
	root = root->children->children;
	test_assert(root->tag == EAS_AIRSYNC_COLLECTION);
	test_assert_strcmp(wbxml_node_child_text(root, EAS_AIRSYNC_SYNCKEY), "0");
	test_assert_strcmp(wbxml_node_child_text(root, EAS_AIRSYNC_GETCHANGES), "");
	test_assert(wbxml_node_child_text(root, EAS_AIRSYNC_WINDOWSIZE) == NULL);
	test_assert(wbxml_node_child(root, EAS_AIRSYNC_OPTIONS)->children->tag ==
		    EAS_AIRSYNCBASE_BODYPREFERENCE);
	test_assert_strcmp(wbxml_node_text(wbxml_node_child(root,
		EAS_AIRSYNC_OPTIONS)), "");
	pool_unref(&pool);
	test_end();
}

static void
decode_bytes(pool_t pool, const void *data, size_t size,
	     const struct wbxml_limits *limits, struct wbxml_node **root_r,
	     const char **error_r, int *ret_r)
{
	p_clear(pool);
	*ret_r = wbxml_decode(pool, data, size, limits, root_r, error_r);
}

static void test_wbxml_text(void)
{
	/* <Sync>a&b</Sync> built from two STR_I items and an ENTITY */
	static const unsigned char multi[] = {
		0x03, 0x01, 0x6a, 0x00, 0x45,
		0x03, 'a', 0x00, 0x02, 0x26, 0x03, 'b', 0x00,
		0x02, 0xc1, 0x2c, /* U+20AC */
		0x01
	};
	static const char *const strings[] = {
		"x", "hello world", "<&>\"'", "äöü € 😀", " leading", "trailing ",
		"line\nbreak\ttab\rcr"
	};
	struct wbxml_writer *w;
	struct wbxml_node *root;
	const char *error;
	buffer_t *buf;
	unsigned int i;
	pool_t pool;
	int ret;

	test_begin("wbxml text");
	pool = pool_alloconly_create("test", 4096);
	decode_bytes(pool, multi, sizeof(multi), NULL, &root, &error, &ret);
	test_assert(ret == 0);
	if (ret == 0) {
		test_assert_strcmp(wbxml_node_text(root), "a&b\xe2\x82\xac");
		test_assert(root->data_size == 6);
		test_assert(!root->opaque);
	}

	for (i = 0; i < N_ELEMENTS(strings); i++) {
		buf = t_buffer_create(64);
		w = wbxml_writer_init(buf);
		wbxml_elem_str(w, EAS_PING_HEARTBEATINTERVAL, strings[i]);
		wbxml_writer_deinit(&w);
		decode_bytes(pool, buf->data, buf->used, NULL,
			     &root, &error, &ret);
		test_assert_idx(ret == 0, i);
		test_assert_strcmp_idx(wbxml_node_text(root), strings[i], i);
		test_assert_idx(root->data_size == strlen(strings[i]), i);
	}

	/* NUL bytes cannot be sent in STR_I: they are dropped */
	buf = t_buffer_create(64);
	w = wbxml_writer_init(buf);
	wbxml_start(w, EAS_AIRSYNC_SYNC);
	wbxml_text_n(w, "ab\0cd\0", 6);
	wbxml_end(w);
	wbxml_writer_deinit(&w);
	decode_bytes(pool, buf->data, buf->used, NULL, &root, &error, &ret);
	test_assert(ret == 0);
	test_assert_strcmp(wbxml_node_text(root), "abcd");

	/* an explicit empty string is content, not an empty element */
	buf = t_buffer_create(64);
	w = wbxml_writer_init(buf);
	wbxml_start(w, EAS_AIRSYNC_SYNC);
	wbxml_text(w, "");
	wbxml_end(w);
	wbxml_writer_deinit(&w);
	test_assert(buf->used == 8);
	decode_bytes(pool, buf->data, buf->used, NULL, &root, &error, &ret);
	test_assert(ret == 0 && root->data != NULL && root->data_size == 0);
	pool_unref(&pool);
	test_end();
}

static void test_wbxml_empty_elements(void)
{
	static const unsigned char expected[] = {
		0x03, 0x01, 0x6a, 0x00, 0x00, 0x07, 0x56,
		0x12, 0x52, 0x03, '1', 0x00, 0x01, 0x01
	};
	struct wbxml_writer *w;
	struct wbxml_node *root;
	const char *error;
	buffer_t *buf;
	pool_t pool;
	int ret;

	test_begin("wbxml empty elements");
	buf = t_buffer_create(64);
	w = wbxml_writer_init(buf);
	wbxml_start(w, EAS_FOLDERHIERARCHY_FOLDERSYNC);
	wbxml_elem_str(w, EAS_FOLDERHIERARCHY_SYNCKEY, "");
	wbxml_elem_str(w, EAS_FOLDERHIERARCHY_SYNCKEY, "1");
	wbxml_end(w);
	wbxml_writer_deinit(&w);
	test_assert_memcmp(buf->data, buf->used, expected, sizeof(expected));

	pool = pool_alloconly_create("test", 1024);
	decode_bytes(pool, buf->data, buf->used, NULL, &root, &error, &ret);
	test_assert(ret == 0);
	test_assert(root->children->data == NULL);
	test_assert_strcmp(wbxml_node_text(root->children), "");
	test_assert_strcmp(wbxml_node_text(root->children->next), "1");
	pool_unref(&pool);
	test_end();
}

static void test_wbxml_opaque(void)
{
	static const size_t sizes[] = { 1, 127, 128, 16383, 16384, 300000 };
	static const unsigned char binary[] = { 0x00, 0x01, 0xff, 0x03, 0x00 };
	struct wbxml_writer *w;
	struct wbxml_node *root;
	struct istream *input, *inputs[3];
	const char *error;
	unsigned char *data;
	buffer_t *buf;
	unsigned int i;
	size_t j, header_size;
	string_t *str;
	pool_t pool;
	int ret;

	test_begin("wbxml opaque");
	pool = pool_alloconly_create("test", 1024*1024);
	for (i = 0; i < N_ELEMENTS(sizes); i++) {
		data = i_malloc(sizes[i]);
		for (j = 0; j < sizes[i]; j++)
			data[j] = (j * 7 + i) & 0xff;
		buf = buffer_create_dynamic(default_pool, sizes[i] + 32);
		w = wbxml_writer_init(buf);
		wbxml_start(w, EAS_COMPOSEMAIL_SENDMAIL);
		wbxml_elem_opaque(w, EAS_COMPOSEMAIL_MIME, data, sizes[i]);
		wbxml_end(w);
		wbxml_writer_deinit(&w);
		/* header, SWITCH_PAGE, SendMail, Mime, OPAQUE, length */
		header_size = 4 + 2 + 1 + 1 + 1 +
			(sizes[i] < 128 ? 1 : sizes[i] < 16384 ? 2 : 3);
		test_assert_idx(buf->used == header_size + sizes[i] + 2, i);

		decode_bytes(pool, buf->data, buf->used, NULL,
			     &root, &error, &ret);
		test_assert_idx(ret == 0, i);
		if (ret == 0) {
			root = root->children;
			test_assert_idx(root->opaque, i);
			test_assert_idx(root->data_size == sizes[i], i);
			test_assert_idx(memcmp(root->data, data, sizes[i]) == 0, i);
		}

		/* the same through an istream gives the same bytes */
		buffer_t *buf2 = buffer_create_dynamic(default_pool, sizes[i] + 32);
		w = wbxml_writer_init(buf2);
		wbxml_start(w, EAS_COMPOSEMAIL_SENDMAIL);
		input = i_stream_create_from_data(data, sizes[i]);
		test_assert_idx(wbxml_elem_opaque_stream(w, EAS_COMPOSEMAIL_MIME,
							 input, 0) == 0, i);
		i_stream_unref(&input);
		wbxml_end(w);
		wbxml_writer_deinit(&w);
		test_assert_idx(buffer_cmp(buf, buf2), i);
		buffer_free(&buf2);
		buffer_free(&buf);
		i_free(data);
	}

	/* binary with NULs, shown as base64 in XML */
	buf = t_buffer_create(64);
	w = wbxml_writer_init(buf);
	wbxml_start(w, EAS_ITEMOPERATIONS_ITEMOPERATIONS);
	wbxml_elem_opaque(w, EAS_ITEMOPERATIONS_DATA, binary, sizeof(binary));
	wbxml_elem_opaque(w, EAS_ITEMOPERATIONS_DATA, "", 0);
	wbxml_end(w);
	wbxml_writer_deinit(&w);
	str = t_str_new(128);
	test_assert(wbxml_to_xml(str, buf->data, buf->used, &error) == 0);
	test_assert_strcmp(str_c(str),
		"<ItemOperations xmlns=\"ItemOperations:\">\n"
		"  <Data>AAH/AwA=</Data>\n"
		"  <Data/>\n"
		"</ItemOperations>\n");

	/* max_size truncates */
	buf = t_buffer_create(64);
	w = wbxml_writer_init(buf);
	input = i_stream_create_from_data("0123456789", 10);
	test_assert(wbxml_elem_opaque_stream(w, EAS_COMPOSEMAIL_MIME,
					     input, 4) == 0);
	i_stream_unref(&input);
	wbxml_writer_deinit(&w);
	test_assert_memcmp(buf->data, buf->used,
		"\x03\x01\x6a\x00\x00\x15\x50\xc3\x04" "0123" "\x01", 14);

	/* an empty stream writes an empty element */
	buf = t_buffer_create(64);
	w = wbxml_writer_init(buf);
	input = i_stream_create_from_data("", 0);
	test_assert(wbxml_elem_opaque_stream(w, EAS_COMPOSEMAIL_MIME,
					     input, 0) == 0);
	i_stream_unref(&input);
	wbxml_writer_deinit(&w);
	test_assert_memcmp(buf->data, buf->used,
			   "\x03\x01\x6a\x00\x00\x15\x10", 7);

	/* a stream error leaves the output and the page as they were */
	buf = t_buffer_create(64);
	w = wbxml_writer_init(buf);
	wbxml_start(w, EAS_AIRSYNC_SYNC);
	inputs[0] = i_stream_create_from_data("partial", 7);
	inputs[1] = i_stream_create_error_str(EIO, "test read error");
	inputs[2] = NULL;
	input = i_stream_create_concat(inputs);
	i_stream_unref(&inputs[0]);
	i_stream_unref(&inputs[1]);
	test_assert(wbxml_elem_opaque_stream(w, EAS_COMPOSEMAIL_MIME,
					     input, 0) == -1);
	i_stream_unref(&input);
	test_assert(buf->used == 5);
	wbxml_empty(w, EAS_AIRSYNC_GETCHANGES);
	wbxml_end(w);
	wbxml_writer_deinit(&w);
	test_assert_memcmp(buf->data, buf->used,
			   "\x03\x01\x6a\x00\x45\x13\x01", 7);
	pool_unref(&pool);
	test_end();
}

static void test_wbxml_xml_output(void)
{
	static const char *expected =
		"<Sync xmlns=\"AirSync:\">\n"
		"  <SyncKey>a&amp;b&lt;c&gt;d\"e'</SyncKey>\n"
		"  <ServerId>x&#13;\ny\tz\xef\xbf\xbd</ServerId>\n"
		"  <ClientId>ok\xef\xbf\xbd</ClientId>\n"
		"  <Options>\n"
		"    <Timezone xmlns=\"Calendar:\">tz</Timezone>\n"
		"    <BodyPreference xmlns=\"AirSyncBase:\">\n"
		"      <Type>1</Type>\n"
		"    </BodyPreference>\n"
		"    <Status/>\n"
		"  </Options>\n"
		"  <Find xmlns=\"Find:\"/>\n"
		"</Sync>\n";
	struct wbxml_writer *w;
	buffer_t *buf;
	const char *error;
	string_t *str;

	test_begin("wbxml xml output");
	buf = t_buffer_create(128);
	w = wbxml_writer_init(buf);
	wbxml_start(w, EAS_AIRSYNC_SYNC);
	wbxml_elem_str(w, EAS_AIRSYNC_SYNCKEY, "a&b<c>d\"e'");
	wbxml_elem_str(w, EAS_AIRSYNC_SERVERID, "x\r\ny\tz\x01");
	/* invalid UTF-8 */
	wbxml_elem_str(w, EAS_AIRSYNC_CLIENTID, "ok\xff");
	wbxml_start(w, EAS_AIRSYNC_OPTIONS);
	wbxml_elem_str(w, EAS_CALENDAR_TIMEZONE, "tz");
	wbxml_start(w, EAS_AIRSYNCBASE_BODYPREFERENCE);
	wbxml_elem_uint(w, EAS_AIRSYNCBASE_TYPE, 1);
	wbxml_end(w);
	wbxml_empty(w, EAS_AIRSYNC_STATUS);
	wbxml_end(w);
	wbxml_empty(w, EAS_FIND_FIND);
	wbxml_end(w);
	wbxml_writer_deinit(&w);

	str = t_str_new(256);
	test_assert(wbxml_to_xml(str, buf->data, buf->used, &error) == 0);
	test_assert_strcmp(str_c(str), expected);

	/* document form has the declaration and the DOCTYPE */
	{
		pool_t pool = pool_alloconly_create("test", 1024);
		struct wbxml_node *root;

		test_assert(wbxml_decode(pool, buf->data, buf->used, NULL,
					 &root, &error) == 0);
		str_truncate(str, 0);
		wbxml_node_to_xml_document(str, root);
		test_assert(str_begins(str_c(str),
			"<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
			"<!DOCTYPE ActiveSync PUBLIC \"-//MICROSOFT//DTD ActiveSync//EN\" \"http://www.microsoft.com/\">\n"
			"<Sync xmlns=\"AirSync:\">\n"));
		pool_unref(&pool);
	}
	test_end();
}

static void test_wbxml_chunked(void)
{
	static const struct wbxml_parser_callbacks no_callbacks = { NULL };
	struct wbxml_parser *parser;
	buffer_t *buf = t_buffer_create(1024);
	struct wbxml_writer *w;
	const char *error;
	unsigned int i, seed = 12345, chunk;
	size_t pos, n;
	int ret;

	test_begin("wbxml chunked feeding");
	w = wbxml_writer_init(buf);
	wbxml_start(w, EAS_ITEMOPERATIONS_ITEMOPERATIONS);
	wbxml_elem_str(w, EAS_ITEMOPERATIONS_STATUS, "1");
	wbxml_start(w, EAS_ITEMOPERATIONS_RESPONSE);
	wbxml_elem_opaque(w, EAS_ITEMOPERATIONS_DATA,
			  "some longer opaque payload", 26);
	wbxml_elem_str(w, EAS_EMAIL_SUBJECT, "a subject line with text");
	wbxml_end(w);
	wbxml_end(w);
	wbxml_writer_deinit(&w);

	/* one byte at a time and random splits; with NULL callbacks too */
	for (i = 0; i < 50; i++) {
		parser = wbxml_parser_init(NULL, &no_callbacks, NULL);
		ret = 0;
		for (pos = 0; pos < buf->used && ret == 0; pos += n) {
			seed = seed * 1103515245 + 12345;
			chunk = i == 0 ? 1 : (seed >> 16) % 9 + 1;
			n = I_MIN(chunk, buf->used - pos);
			ret = wbxml_parser_feed(parser,
				CONST_PTR_OFFSET(buf->data, pos), n, &error);
			if (ret == 0 && i == 1) {
				/* empty feeds are harmless */
				ret = wbxml_parser_feed(parser, NULL, 0, &error);
			}
		}
		test_assert_idx(ret == 0, i);
		test_assert_idx(wbxml_parser_finish(parser, &error) == 0, i);
		wbxml_parser_deinit(&parser);
	}
	test_end();
}

struct bad_input {
	const char *name;
	const char *data;
	size_t size;
	const char *error;
};

#define HDR "\x03\x01\x6a\x00"
#define BAD(name, data, error) { name, data, sizeof(data)-1, error }

static const struct bad_input bad_inputs[] = {
	BAD("empty", "", "empty document"),
	BAD("version", "\x02\x01\x6a\x00\x45\x01", "unsupported WBXML version"),
	BAD("public id", "\x03\x02\x6a\x00\x45\x01", "unsupported public id"),
	BAD("public id index", "\x03\x00\x00\x6a\x00\x45\x01", "unsupported public id"),
	BAD("charset", "\x03\x01\x04\x00\x45\x01", "unsupported charset"),
	BAD("header only", HDR, "no root element"),
	BAD("switch page only", HDR "\x00\x01", "no root element"),
	BAD("truncated header", "\x03\x01", "truncated header"),
	BAD("truncated string table", "\x03\x01\x6a\x05" "ab", "truncated header"),
	BAD("string table too big", "\x03\x01\x6a\x8f\xff\xff\xff\x7f", "string table too large"),
	BAD("attributes", HDR "\xc5\x01\x01", "has attributes"),
	BAD("attributes no content", HDR "\x85\x01", "has attributes"),
	BAD("LITERAL", HDR "\x04\x00", "LITERAL"),
	BAD("LITERAL_C", HDR "\x45\x44\x00\x01", "LITERAL"),
	BAD("LITERAL_A", HDR "\x45\x84\x00\x01", "LITERAL"),
	BAD("LITERAL_AC", HDR "\x45\xc4\x00\x01", "LITERAL"),
	BAD("EXT_I_0", HDR "\x45\x40x\x00\x01", "extension token"),
	BAD("EXT_T_1", HDR "\x45\x81\x00\x01", "extension token"),
	BAD("EXT_2", HDR "\x45\xc2\x01", "extension token"),
	BAD("PI", HDR "\x43", "processing instructions"),
	BAD("STR_T", HDR "\x45\x83\x00\x01", "string table references"),
	BAD("unknown page 26", HDR "\x00\x1a\x45\x01", "unknown code page 26"),
	BAD("unknown page 255", HDR "\x45\x00\xff\x45\x01\x01", "unknown code page 255"),
	BAD("unknown token page 0", HDR "\x6a\x01", "unknown tag token 0x2a in code page 0"),
	BAD("unknown token page 25", HDR "\x00\x19\x4f\x01", "unknown tag token 0x0f in code page 25 (Find)"),
	BAD("unknown token page 12", HDR "\x00\x0c\x3f", "unknown tag token 0x3f in code page 12"),
	BAD("END before root", HDR "\x01", "END without an open element"),
	BAD("STR_I before root", HDR "\x03x\x00\x45\x01", "content outside the root element"),
	BAD("OPAQUE before root", HDR "\xc3\x00\x45\x01", "content outside the root element"),
	BAD("ENTITY before root", HDR "\x02\x41\x45\x01", "content outside the root element"),
	BAD("trailing END", HDR "\x45\x01\x01", "trailing data"),
	BAD("two roots", HDR "\x45\x01\x45\x01", "trailing data"),
	BAD("trailing empty root", HDR "\x05\x05", "trailing data"),
	BAD("trailing switch page", HDR "\x45\x01\x00\x00", "trailing data"),
	BAD("trailing zero", HDR "\x45\x01\x00", "trailing data"),
	BAD("unterminated STR_I", HDR "\x45\x03" "abc", "truncated document"),
	BAD("missing END", HDR "\x45\x4b\x03" "1\x00\x01", "truncated document (1 elements still open)"),
	BAD("opaque too short", HDR "\x45\xc3\x05" "abc", "truncated document"),
	BAD("opaque no length", HDR "\x45\xc3", "truncated document"),
	BAD("mb_u_int32 6 bytes", HDR "\x45\xc3\x80\x80\x80\x80\x80\x01", "longer than 5 bytes"),
	BAD("mb_u_int32 overflow", HDR "\x45\xc3\x90\x80\x80\x80\x00", "mb_u_int32 overflow"),
	BAD("entity zero", HDR "\x45\x02\x00\x01", "not a valid character"),
	BAD("entity surrogate", HDR "\x45\x02\x83\xb0\x00\x01", "not a valid character"),
	BAD("entity too big", HDR "\x45\x02\xc4\x80\x00\x01", "not a valid character"),
	BAD("string too long", HDR "\x45\x03" "123456789\x00\x01", "exceeds 8 bytes"),
	BAD("strings too long together", HDR "\x45\x03" "12345\x00\x03" "6789\x00\x01", "exceeds 8 bytes"),
	BAD("opaque too long", HDR "\x45\xc3\x09" "123456789\x01", "exceeds 8 bytes"),
	BAD("text and opaque too long", HDR "\x45\x03" "12345\x00\xc3\x04" "6789\x01", "exceeds 8 bytes"),
	BAD("too deep", HDR "\x45\x45\x45\x45\x45\x01\x01\x01\x01\x01", "nested deeper than 4"),
	BAD("too deep empty", HDR "\x45\x45\x45\x45\x05\x01\x01\x01\x01", "nested deeper than 4"),
	BAD("too many elements", HDR "\x45\x05\x05\x05\x05\x05\x05\x05\x05\x05\x05\x01", "more than 10 elements"),
};

static void test_wbxml_bad_input(void)
{
	struct wbxml_limits limits = {
		.max_depth = 4,
		.max_elements = 10,
		.max_string_size = 8,
	};
	struct wbxml_node *root;
	const char *error;
	unsigned int i;
	pool_t pool;
	int ret;

	test_begin("wbxml bad input");
	pool = pool_alloconly_create("test", 1024);
	for (i = 0; i < N_ELEMENTS(bad_inputs); i++) {
		error = NULL;
		decode_bytes(pool, bad_inputs[i].data, bad_inputs[i].size,
			     &limits, &root, &error, &ret);
		test_assert_idx(ret == -1, i);
		if (ret == -1 && strstr(error, bad_inputs[i].error) == NULL) {
			i_error("%s: got '%s', expected '%s'",
				bad_inputs[i].name, error, bad_inputs[i].error);
			test_assert_idx(FALSE, i);
		}
	}

	/* the limits themselves are allowed */
	decode_bytes(pool, HDR "\x45\x45\x45\x05\x01\x01\x01", 11,
		     &limits, &root, &error, &ret);
	test_assert(ret == 0);
	decode_bytes(pool, HDR "\x45\x03" "1234\x00\xc3\x04" "5678\x01", 18,
		     &limits, &root, &error, &ret);
	test_assert(ret == 0 && root->data_size == 8 && root->opaque);
	decode_bytes(pool, HDR "\x45\x05\x05\x05\x05\x05\x05\x05\x05\x05\x01",
		     15, &limits, &root, &error, &ret);
	test_assert(ret == 0);
	/* string table content is skipped, even if it looks like tokens */
	decode_bytes(pool, "\x03\x01\x6a\x03\x01\x01\x01\x45\x01", 9,
		     &limits, &root, &error, &ret);
	test_assert(ret == 0 && root->tag == EAS_AIRSYNC_SYNC);
	/* a 5-byte mb_u_int32 with leading zero groups is fine */
	decode_bytes(pool, HDR "\x45\xc3\x80\x80\x80\x80\x02" "ab\x01", 14,
		     &limits, &root, &error, &ret);
	test_assert(ret == 0 && root->data_size == 2);
	/* defaults: 32 levels are fine, 33 are not */
	{
		buffer_t *buf = t_buffer_create(128);
		unsigned int depth;

		for (depth = 32; depth <= 33; depth++) {
			buffer_set_used_size(buf, 0);
			buffer_append(buf, HDR, 4);
			for (i = 0; i < depth; i++)
				buffer_append_c(buf, 0x45);
			for (i = 0; i < depth; i++)
				buffer_append_c(buf, 0x01);
			decode_bytes(pool, buf->data, buf->used, NULL,
				     &root, &error, &ret);
			test_assert_idx(ret == (depth == 32 ? 0 : -1), depth);
		}
	}
	pool_unref(&pool);
	test_end();
}

static void test_wbxml_truncated(void)
{
	static const struct wbxml_parser_callbacks no_callbacks = { NULL };
	struct wbxml_parser *parser;
	struct wbxml_node *root;
	buffer_t *buf = t_buffer_create(256);
	struct wbxml_writer *w;
	unsigned char *copy;
	const char *error;
	size_t len;
	pool_t pool;
	int ret;

	test_begin("wbxml truncated at every offset");
	w = wbxml_writer_init(buf);
	wbxml_start(w, EAS_AIRSYNC_SYNC);
	wbxml_start(w, EAS_AIRSYNCBASE_BODY);
	wbxml_elem_uint(w, EAS_AIRSYNCBASE_TYPE, 4);
	wbxml_elem_opaque(w, EAS_AIRSYNCBASE_DATA, "opaque\0bytes", 12);
	wbxml_end(w);
	wbxml_empty(w, EAS_AIRSYNC_GETCHANGES);
	wbxml_start(w, EAS_AIRSYNC_SYNCKEY);
	wbxml_text(w, "key");
	wbxml_end(w);
	wbxml_end(w);
	wbxml_writer_deinit(&w);

	pool = pool_alloconly_create("test", 1024);
	decode_bytes(pool, buf->data, buf->used, NULL, &root, &error, &ret);
	test_assert(ret == 0);
	for (len = 0; len < buf->used; len++) {
		/* exact-size heap copy so ASan catches any over-read */
		copy = i_malloc(I_MAX(len, 1));
		memcpy(copy, buf->data, len);
		decode_bytes(pool, copy, len, NULL, &root, &error, &ret);
		test_assert_idx(ret == -1, len);
		test_assert_idx(ret == 0 || strstr(error, "WBXML error") != NULL, len);

		parser = wbxml_parser_init(NULL, &no_callbacks, NULL);
		test_assert_idx(wbxml_parser_feed(parser, copy, len, &error) == 0, len);
		test_assert_idx(wbxml_parser_finish(parser, &error) == -1, len);
		/* errors are sticky */
		test_assert_idx(wbxml_parser_feed(parser, copy, len, &error) == -1 ||
				len == 0, len);
		wbxml_parser_deinit(&parser);
		i_free(copy);
	}
	pool_unref(&pool);
	test_end();
}

struct test_sink {
	buffer_t *out;
	unsigned int calls;
	size_t max_call;
};

static void test_sink_write(const void *data, size_t size, void *context)
{
	struct test_sink *sink = context;

	buffer_append(sink->out, data, size);
	sink->calls++;
	if (size > sink->max_call)
		sink->max_call = size;
}

/* One document, written with and without a sink of each threshold */
static void test_sink_document(struct wbxml_writer *w)
{
	static const unsigned char big[5000] = { 'x' };
	struct istream *input;
	unsigned int i;

	wbxml_start(w, EAS_AIRSYNC_SYNC);
	wbxml_start(w, EAS_AIRSYNC_COLLECTIONS);
	for (i = 0; i < 40; i++) {
		wbxml_start(w, EAS_AIRSYNC_COLLECTION);
		wbxml_elem_uint(w, EAS_AIRSYNC_STATUS, i + 1);
		wbxml_elem_str(w, EAS_AIRSYNC_SYNCKEY, "12345");
		wbxml_start(w, EAS_AIRSYNCBASE_DATA);
		wbxml_text_n(w, "text with\0a NUL", 16);
		wbxml_end(w);
		wbxml_end(w);
	}
	wbxml_elem_opaque(w, EAS_AIRSYNCBASE_DATA, big, sizeof(big));
	input = i_stream_create_from_data("streamed", 8);
	test_assert(wbxml_elem_opaque_stream(w, EAS_COMPOSEMAIL_MIME,
					     input, 0) == 0);
	i_stream_unref(&input);
	wbxml_start(w, EAS_AIRSYNCBASE_DATA);
	input = i_stream_create_from_data("QUJD", 4);
	test_assert(wbxml_text_istream(w, input) == 0);
	i_stream_unref(&input);
	wbxml_end(w);
	wbxml_end(w);
	wbxml_end(w);
}

static void test_wbxml_sink(void)
{
	static const size_t thresholds[] = { 1, 7, 64, 4096, 100000 };
	struct wbxml_writer *w;
	struct test_sink sink;
	buffer_t *whole, *staged;
	uintmax_t status;
	unsigned int i;

	test_begin("wbxml writer sink");
	whole = t_buffer_create(1024);
	w = wbxml_writer_init(whole);
	test_sink_document(w);
	wbxml_writer_deinit(&w);

	for (i = 0; i < N_ELEMENTS(thresholds); i++) {
		i_zero(&sink);
		sink.out = t_buffer_create(1024);
		staged = t_buffer_create(1024);
		w = wbxml_writer_init(staged);
		wbxml_writer_watch(w, EAS_AIRSYNC_STATUS, 3);
		wbxml_writer_set_sink(w, thresholds[i], test_sink_write, &sink);
		test_sink_document(w);
		test_assert_idx(wbxml_writer_get_size(w) == whole->used, i);
		/* never more staged than the threshold and a piece */
		test_assert_idx(staged->used < thresholds[i] + 16, i);
		test_assert_idx(wbxml_writer_flushed(w) ==
				(thresholds[i] < whole->used), i);
		wbxml_writer_flush(w);
		test_assert_idx(staged->used == 0, i);
		/* the watched Status survives the flushes */
		test_assert_idx(wbxml_writer_watched(w, &status) &&
				status == 1, i);
		wbxml_writer_deinit(&w);
		test_assert_idx(buffer_cmp(whole, sink.out), i);
		if (thresholds[i] <= 4096) {
			/* the big opaque went out in one piece, uncopied */
			test_assert_idx(sink.max_call >= 5000, i);
		}
	}
	test_end();
}

int main(void)
{
	static void (*const test_functions[])(void) = {
		test_wbxml_codepages,
		test_wbxml_all_tags_roundtrip,
		test_wbxml_encode_vector,
		test_wbxml_text,
		test_wbxml_empty_elements,
		test_wbxml_opaque,
		test_wbxml_xml_output,
		test_wbxml_chunked,
		test_wbxml_bad_input,
		test_wbxml_truncated,
		test_wbxml_sink,
		NULL
	};
	return test_run(test_functions);
}
