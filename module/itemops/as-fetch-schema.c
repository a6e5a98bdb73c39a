/* Copyright (c) dovecot-activesync authors, see the included COPYING file */

#include "lib.h"
#include "buffer.h"
#include "wbxml.h"
#include "itemops/as-fetch-schema.h"

bool as_fetch_schema_allows(const struct wbxml_node *schema,
			    unsigned int tag)
{
	const struct wbxml_node *child;

	if (schema == NULL || schema->children == NULL)
		return TRUE;
	wbxml_node_foreach_child(schema, child) {
		if (child->tag == tag)
			return TRUE;
	}
	return FALSE;
}

static void schema_copy_node(struct wbxml_writer *w,
			     const struct wbxml_node *node)
{
	const struct wbxml_node *child;

	if (node->children != NULL) {
		wbxml_start(w, node->tag);
		wbxml_node_foreach_child(node, child)
			schema_copy_node(w, child);
		wbxml_end(w);
	} else if (node->data == NULL) {
		wbxml_empty(w, node->tag);
	} else {
		wbxml_start(w, node->tag);
		if (node->opaque)
			wbxml_opaque(w, node->data, node->data_size);
		else
			wbxml_text_n(w, node->data, node->data_size);
		wbxml_end(w);
	}
}

int as_fetch_schema_write(struct wbxml_writer *w,
			  const struct wbxml_node *schema,
			  const buffer_t *props, const char **error_r)
{
	/* our own output: no limits beyond what it holds */
	const struct wbxml_limits limits = {
		.max_depth = 64,
		.max_elements = UINT_MAX,
		.max_string_size = SIZE_MAX,
	};
	const struct wbxml_node *child;
	struct wbxml_node *root;

	if (wbxml_decode(pool_datastack_create(), props->data, props->used,
			 &limits, &root, error_r) < 0)
		return -1;
	wbxml_node_foreach_child(root, child) {
		if (as_fetch_schema_allows(schema, child->tag))
			schema_copy_node(w, child);
	}
	return 0;
}
