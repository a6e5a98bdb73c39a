/* eas-wbxml: convert EAS documents between XML and WBXML with our codec.

     eas-wbxml encode < in.xml > out.wbxml
     eas-wbxml decode < in.wbxml > out.xml

   The XML form is the one libwbxml2's xml2wbxml/wbxml2xml use for
   ActiveSync: the ActiveSync DOCTYPE, unprefixed element names and
   xmlns="Page:" where the code page changes (prefixed names with
   xmlns:p="Page:" are read as well, and "Page" without the colon). Element
   names are Microsoft's (see wbxml-codepages.def). Opaque data is written
   as base64 by decode; encode turns the base64 text of the elements in
   wbxml_tag_is_binary() back into OPAQUE and writes all other text as
   inline strings (exactly as given, no whitespace trimming, except that
   whitespace-only text between child elements is ignored). */

#include "lib.h"
#include "buffer.h"
#include "base64.h"
#include "str.h"
#include "write-full.h"
#include "wbxml.h"

#include <unistd.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

static int read_all(int fd, buffer_t *buf)
{
	unsigned char tmp[8192];
	ssize_t ret;

	for (;;) {
		ret = read(fd, tmp, sizeof(tmp));
		if (ret == 0)
			return 0;
		if (ret < 0) {
			if (errno == EINTR)
				continue;
			i_error("read(stdin) failed: %m");
			return -1;
		}
		buffer_append(buf, tmp, ret);
	}
}

static int write_all(int fd, const void *data, size_t size)
{
	if (write_full(fd, data, size) < 0) {
		i_error("write(stdout) failed: %m");
		return -1;
	}
	return 0;
}

static bool xml_is_whitespace(const xmlChar *text)
{
	for (; *text != '\0'; text++) {
		if (*text != ' ' && *text != '\t' &&
		    *text != '\r' && *text != '\n')
			return FALSE;
	}
	return TRUE;
}

static int
encode_element(struct wbxml_writer *w, xmlNode *node, int parent_page,
	       const char **error_r)
{
	const char *name = (const char *)node->name;
	xmlNode *child;
	xmlChar *content;
	unsigned int tag;
	bool has_elements = FALSE;
	int page = parent_page, ret = 0;

	if (node->ns != NULL && node->ns->href != NULL) {
		page = wbxml_page_lookup((const char *)node->ns->href);
		if (page < 0) {
			*error_r = t_strdup_printf(
				"line %d: unknown namespace '%s'",
				node->line, node->ns->href);
			return -1;
		}
	}
	tag = wbxml_tag_lookup(wbxml_page_name(page), name);
	if (tag == EAS_TAG_INVALID) {
		*error_r = t_strdup_printf(
			"line %d: unknown element '%s' in code page %s",
			node->line, name, wbxml_page_name(page));
		return -1;
	}

	for (child = node->children; child != NULL; child = child->next) {
		if (child->type == XML_ELEMENT_NODE)
			has_elements = TRUE;
	}
	if (has_elements) {
		wbxml_start(w, tag);
		for (child = node->children; child != NULL && ret == 0;
		     child = child->next) {
			if (child->type == XML_ELEMENT_NODE) {
				ret = encode_element(w, child, page, error_r);
			} else if ((child->type == XML_TEXT_NODE ||
				    child->type == XML_CDATA_SECTION_NODE) &&
				   !xml_is_whitespace(child->content)) {
				wbxml_text(w, (const char *)child->content);
			}
		}
		wbxml_end(w);
		return ret;
	}

	content = xmlNodeGetContent(node);
	if (content == NULL || content[0] == '\0')
		wbxml_empty(w, tag);
	else if (wbxml_tag_is_binary(tag)) {
		buffer_t *bin = t_buffer_create(256);
		size_t len = strlen((const char *)content);

		if (base64_decode(content, len, NULL, bin) < 0) {
			*error_r = t_strdup_printf(
				"line %d: %s: invalid base64 content",
				node->line, wbxml_tag_describe(tag));
			ret = -1;
		} else {
			wbxml_elem_opaque(w, tag, bin->data, bin->used);
		}
	} else {
		wbxml_elem_str(w, tag, (const char *)content);
	}
	xmlFree(content);
	return ret;
}

static int cmd_encode(const buffer_t *input, buffer_t *output)
{
	struct wbxml_writer *w;
	xmlDoc *doc;
	xmlNode *root;
	const char *error;
	int ret;

	doc = xmlReadMemory(input->data, input->used, "stdin", NULL,
			    XML_PARSE_NONET);
	if (doc == NULL) {
		i_error("XML parsing failed");
		return -1;
	}
	root = xmlDocGetRootElement(doc);
	if (root == NULL) {
		i_error("XML document has no root element");
		xmlFreeDoc(doc);
		return -1;
	}
	w = wbxml_writer_init(output);
	/* without a namespace the root is in AirSync, the first code page */
	ret = encode_element(w, root, 0, &error);
	wbxml_writer_deinit(&w);
	xmlFreeDoc(doc);
	if (ret < 0)
		i_error("%s", error);
	return ret;
}

static int cmd_decode(const buffer_t *input, string_t *output)
{
	struct wbxml_node *root;
	const char *error;
	pool_t pool;
	int ret;

	pool = pool_alloconly_create("eas-wbxml decode", 4096);
	ret = wbxml_decode(pool, input->data, input->used, NULL,
			   &root, &error);
	if (ret < 0)
		i_error("%s", error);
	else
		wbxml_node_to_xml_document(output, root);
	pool_unref(&pool);
	return ret;
}

int main(int argc, char *argv[])
{
	buffer_t *input, *output;
	int ret = -1;

	lib_init();
	if (argc != 2 ||
	    (strcmp(argv[1], "encode") != 0 && strcmp(argv[1], "decode") != 0)) {
		fprintf(stderr, "Usage: eas-wbxml encode|decode < input > output\n");
		lib_deinit();
		return 2;
	}

	input = buffer_create_dynamic(default_pool, 65536);
	output = buffer_create_dynamic(default_pool, 65536);
	if (read_all(STDIN_FILENO, input) == 0) T_BEGIN {
		if (strcmp(argv[1], "encode") == 0)
			ret = cmd_encode(input, output);
		else
			ret = cmd_decode(input, output);
	} T_END;
	if (ret == 0)
		ret = write_all(STDOUT_FILENO, output->data, output->used);
	buffer_free(&input);
	buffer_free(&output);
	xmlCleanupParser();
	lib_deinit();
	return ret < 0 ? 1 : 0;
}
