/* Render decoded WBXML as indented XML, for logs, tests and eas-wbxml.

   The form is the one libwbxml2's tools use for ActiveSync: element names
   without prefixes and xmlns="Page:" on the root and wherever the code
   page changes. Opaque content is written as base64. */

#include "lib.h"
#include "base64.h"
#include "buffer.h"
#include "str.h"
#include "unichar.h"
#include "wbxml.h"

#define WBXML_XML_INDENT "  "

static void xml_append_text(string_t *dest, const unsigned char *data,
			    size_t size)
{
	buffer_t *valid;
	size_t i;

	/* XML cannot carry invalid UTF-8: show U+FFFD instead */
	valid = t_buffer_create(1);
	if (!uni_utf8_get_valid_data(data, size, valid)) {
		data = valid->data;
		size = valid->used;
	}
	for (i = 0; i < size; i++) {
		switch (data[i]) {
		case '&':
			str_append(dest, "&amp;");
			break;
		case '<':
			str_append(dest, "&lt;");
			break;
		case '>':
			str_append(dest, "&gt;");
			break;
		case '\r':
			/* a literal CR would be normalized away by parsers */
			str_append(dest, "&#13;");
			break;
		case '\t':
		case '\n':
			str_append_c(dest, data[i]);
			break;
		default:
			if (data[i] < 0x20) {
				/* not representable in XML 1.0 at all */
				str_append(dest, UNICODE_REPLACEMENT_CHAR_UTF8);
			} else {
				str_append_c(dest, data[i]);
			}
			break;
		}
	}
}

static const char *xml_tag_name(unsigned int tag)
{
	const char *name = wbxml_tag_name(tag);

	return name != NULL ? name : t_strdup_printf("Unknown_0x%04x", tag);
}

static void xml_open_tag(string_t *dest, const struct wbxml_node *node,
			 bool is_root)
{
	unsigned int page = EAS_TAG_PAGE(node->tag);
	const char *page_name;

	str_append_c(dest, '<');
	str_append(dest, xml_tag_name(node->tag));
	if (is_root || EAS_TAG_PAGE(node->parent->tag) != page) {
		page_name = wbxml_page_name(page);
		str_printfa(dest, " xmlns=\"%s:\"",
			    page_name != NULL ? page_name :
			    t_strdup_printf("Page%u", page));
	}
}

static void xml_append_content(string_t *dest, const struct wbxml_node *node)
{
	if (node->opaque)
		base64_encode(node->data, node->data_size, dest);
	else
		xml_append_text(dest, node->data, node->data_size);
}

static void xml_indent(string_t *dest, unsigned int depth)
{
	unsigned int i;

	for (i = 0; i < depth; i++)
		str_append(dest, WBXML_XML_INDENT);
}

void wbxml_node_to_xml(string_t *dest, const struct wbxml_node *root)
{
	const struct wbxml_node *node = root;
	unsigned int depth = 0;

	/* iterative walk: the tree may be as deep as the parser allowed */
	for (;;) {
		xml_indent(dest, depth);
		xml_open_tag(dest, node, node == root);
		if (node->children != NULL) {
			str_append_c(dest, '>');
			if (node->data != NULL)
				xml_append_content(dest, node);
			str_append_c(dest, '\n');
			node = node->children;
			depth++;
			continue;
		}
		if (node->data == NULL)
			str_append(dest, "/>\n");
		else {
			str_append_c(dest, '>');
			xml_append_content(dest, node);
			str_printfa(dest, "</%s>\n", xml_tag_name(node->tag));
		}
		while (node != root && node->next == NULL) {
			node = node->parent;
			depth--;
			xml_indent(dest, depth);
			str_printfa(dest, "</%s>\n", xml_tag_name(node->tag));
		}
		if (node == root)
			break;
		node = node->next;
	}
}

void wbxml_node_to_xml_document(string_t *dest, const struct wbxml_node *root)
{
	str_append(dest, "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
		   "<!DOCTYPE ActiveSync PUBLIC \"-//MICROSOFT//DTD ActiveSync//EN\" "
		   "\"http://www.microsoft.com/\">\n");
	wbxml_node_to_xml(dest, root);
}

int wbxml_to_xml(string_t *dest, const unsigned char *data, size_t size,
		 const char **error_r)
{
	struct wbxml_node *root;
	pool_t pool;
	int ret;

	/* not the data stack: dest may live there and grow meanwhile */
	pool = pool_alloconly_create("wbxml to xml", 4096);
	ret = wbxml_decode(pool, data, size, NULL, &root, error_r);
	if (ret == 0)
		wbxml_node_to_xml(dest, root);
	pool_unref(&pool);
	return ret;
}
