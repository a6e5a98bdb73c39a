/* libFuzzer harness for the WBXML decoder (run it with fuzz.sh).

   Besides not crashing, every accepted input must
   - give the same result when fed to the push parser in two chunks,
   - re-encode with our writer to a document that decodes to the same XML. */

#include "lib.h"
#include "buffer.h"
#include "str.h"
#include "wbxml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct wbxml_limits fuzz_limits = {
	.max_depth = 32,
	.max_elements = 20000,
	.max_string_size = 1024*1024,
};

static void reencode(struct wbxml_writer *w, const struct wbxml_node *root)
{
	const struct wbxml_node *node = root;

	for (;;) {
		if (node->children == NULL && node->data == NULL)
			wbxml_empty(w, node->tag);
		else {
			wbxml_start(w, node->tag);
			if (node->data != NULL && node->opaque)
				wbxml_opaque(w, node->data, node->data_size);
			else if (node->data != NULL)
				wbxml_text_n(w, node->data, node->data_size);
			if (node->children != NULL) {
				node = node->children;
				continue;
			}
			wbxml_end(w);
		}
		while (node != root && node->next == NULL) {
			node = node->parent;
			wbxml_end(w);
		}
		if (node == root)
			break;
		node = node->next;
	}
}

static int decode_chunked(const uint8_t *data, size_t size)
{
	static const struct wbxml_parser_callbacks no_callbacks = { NULL };
	struct wbxml_parser *parser;
	size_t split = size == 0 ? 0 : data[size / 2] % size;
	const char *error;
	int ret;

	parser = wbxml_parser_init(&fuzz_limits, &no_callbacks, NULL);
	ret = wbxml_parser_feed(parser, data, split, &error);
	if (ret == 0)
		ret = wbxml_parser_feed(parser, data + split, size - split, &error);
	if (ret == 0)
		ret = wbxml_parser_finish(parser, &error);
	wbxml_parser_deinit(&parser);
	return ret;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool initialized = FALSE;
	struct wbxml_node *root, *root2;
	struct wbxml_writer *w;
	const char *error;
	string_t *xml1, *xml2;
	buffer_t *buf;
	pool_t pool;
	int ret;

	if (!initialized) {
		lib_init();
		initialized = TRUE;
	}
	pool = pool_alloconly_create("fuzz", 4096);
	T_BEGIN {
		ret = wbxml_decode(pool, data, size, &fuzz_limits,
				   &root, &error);
		if (decode_chunked(data, size) != ret)
			i_panic("chunked parsing disagrees with whole parsing");
		if (ret == 0) {
			xml1 = str_new(default_pool, 1024);
			xml2 = str_new(default_pool, 1024);
			buf = buffer_create_dynamic(default_pool, size + 16);
			wbxml_node_to_xml(xml1, root);

			w = wbxml_writer_init(buf);
			reencode(w, root);
			wbxml_writer_deinit(&w);
			if (wbxml_decode(pool, buf->data, buf->used,
					 &fuzz_limits, &root2, &error) < 0)
				i_panic("re-encoded document fails: %s", error);
			wbxml_node_to_xml(xml2, root2);
			if (!str_equals(xml1, xml2))
				i_panic("re-encoded document differs");
			str_free(&xml1);
			str_free(&xml2);
			buffer_free(&buf);
		}
	} T_END;
	pool_unref(&pool);
	return 0;
}
