/* Build a wbxml_node tree from the push parser's callbacks. */

#include "lib.h"
#include "array.h"
#include "buffer.h"
#include "wbxml.h"

struct wbxml_tree_open {
	struct wbxml_node *node;
	/* content collected so far; allocated on first text/opaque */
	buffer_t *content;
};

struct wbxml_tree_builder {
	pool_t pool;
	struct wbxml_node *root;
	ARRAY(struct wbxml_tree_open) stack;
};

static void
wbxml_tree_element_start(void *context, unsigned int tag,
			 bool has_content ATTR_UNUSED)
{
	struct wbxml_tree_builder *builder = context;
	const struct wbxml_tree_open *top;
	struct wbxml_tree_open *open;
	struct wbxml_node *node, *parent;

	node = p_new(builder->pool, struct wbxml_node, 1);
	node->tag = tag;
	if (array_count(&builder->stack) == 0) {
		i_assert(builder->root == NULL);
		builder->root = node;
	} else {
		top = array_back(&builder->stack);
		parent = top->node;
		node->parent = parent;
		if (parent->last_child == NULL)
			parent->children = node;
		else
			parent->last_child->next = node;
		parent->last_child = node;
	}
	/* every element is pushed, empty ones are popped right away by the
	   element_end that follows */
	open = array_append_space(&builder->stack);
	open->node = node;
}

static void wbxml_tree_element_end(void *context, unsigned int tag)
{
	struct wbxml_tree_builder *builder = context;
	const struct wbxml_tree_open *open = array_back(&builder->stack);

	i_assert(open->node->tag == tag);
	if (open->content != NULL) {
		open->node->data_size = open->content->used;
		buffer_append_c(open->content, '\0');
		open->node->data = open->content->data;
	}
	array_pop_back(&builder->stack);
}

static void
wbxml_tree_append(struct wbxml_tree_builder *builder,
		  const unsigned char *data, size_t size, bool opaque)
{
	struct wbxml_tree_open *open = array_back_modifiable(&builder->stack);

	/* pool buffers grow by doubling, so many small STR_I items in one
	   element stay linear (the parser limits the total size) */
	if (open->content == NULL)
		open->content = buffer_create_dynamic(builder->pool, size + 1);
	buffer_append(open->content, data, size);
	if (opaque)
		open->node->opaque = TRUE;
}

static void
wbxml_tree_text(void *context, const unsigned char *data, size_t size)
{
	wbxml_tree_append(context, data, size, FALSE);
}

static void
wbxml_tree_opaque(void *context, const unsigned char *data, size_t size)
{
	wbxml_tree_append(context, data, size, TRUE);
}

static const struct wbxml_parser_callbacks wbxml_tree_callbacks = {
	.element_start = wbxml_tree_element_start,
	.element_end = wbxml_tree_element_end,
	.text = wbxml_tree_text,
	.opaque = wbxml_tree_opaque,
};

int wbxml_decode(pool_t pool, const unsigned char *data, size_t size,
		 const struct wbxml_limits *limits,
		 struct wbxml_node **root_r, const char **error_r)
{
	struct wbxml_tree_builder builder;
	struct wbxml_parser *parser;
	const char *error;
	int ret;

	i_zero(&builder);
	builder.pool = pool;
	i_array_init(&builder.stack, 16);

	parser = wbxml_parser_init(limits, &wbxml_tree_callbacks, &builder);
	ret = wbxml_parser_feed(parser, data, size, &error);
	if (ret == 0)
		ret = wbxml_parser_finish(parser, &error);
	if (ret < 0)
		*error_r = t_strdup(error);
	else {
		i_assert(builder.root != NULL);
		i_assert(array_count(&builder.stack) == 0);
		*root_r = builder.root;
	}
	wbxml_parser_deinit(&parser);
	array_free(&builder.stack);
	return ret;
}

struct wbxml_node *wbxml_node_child(const struct wbxml_node *node,
				    unsigned int tag)
{
	struct wbxml_node *child;

	wbxml_node_foreach_child(node, child) {
		if (child->tag == tag)
			return child;
	}
	return NULL;
}

const char *wbxml_node_text(const struct wbxml_node *node)
{
	return node->data == NULL ? "" : (const char *)node->data;
}

const char *wbxml_node_child_text(const struct wbxml_node *node,
				  unsigned int tag)
{
	struct wbxml_node *child = wbxml_node_child(node, tag);

	return child == NULL ? NULL : wbxml_node_text(child);
}
