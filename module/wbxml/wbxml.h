#ifndef WBXML_H
#define WBXML_H

/* WBXML 1.3 codec for Exchange ActiveSync (MS-ASWBXML).

   A tag is identified by its code page and its token without the content
   and attribute flags: EAS_TAG(page, token) = page << 8 | token.
   Every known tag has a symbolic name generated from wbxml-codepages.def,
   e.g. EAS_AIRSYNC_SYNC, EAS_FOLDERHIERARCHY_FOLDERSYNC. */

#define EAS_TAG(page, token) ((unsigned int)(page) << 8 | (unsigned int)(token))
#define EAS_TAG_PAGE(tag) (((tag) >> 8) & 0xff)
#define EAS_TAG_TOKEN(tag) ((tag) & 0x3f)

enum eas_tag {
#define EAS_PAGE(num, pagename, xmlns)
#define EAS_TAG_DEF(page, pagename, token, name, str) \
	EAS_##pagename##_##name = EAS_TAG(page, token),
#include "wbxml-codepages.def"
#undef EAS_TAG_DEF
#undef EAS_PAGE
	EAS_TAG_INVALID = 0xffff
};

/* Limits applied while decoding untrusted input. */
struct wbxml_limits {
	unsigned int max_depth;		/* default 32 */
	unsigned int max_elements;	/* default 100000 */
	size_t max_string_size;		/* default 16 MiB, per string/opaque */
};

enum wbxml_node_type {
	WBXML_NODE_ELEMENT = 0,
};

/* Decoded document as a small tree. Text content of an element is kept
   in data/data_size (inline strings concatenated, or opaque bytes). */
struct wbxml_node {
	struct wbxml_node *parent, *next, *children, *last_child;
	unsigned int tag; /* EAS_TAG(page, token) */
	const unsigned char *data; /* NUL-terminated, may be NULL */
	size_t data_size;
	bool opaque:1;
};

/* Code pages are 0 .. WBXML_PAGE_COUNT-1 */
#define WBXML_PAGE_COUNT 26

/* Code page table lookups (wbxml-codepages.c) */
const char *wbxml_tag_name(unsigned int tag); /* "Sync", NULL if unknown */
const char *wbxml_page_name(unsigned int page); /* "AirSync", NULL if unknown */
/* Find tag by page name (as in the XML namespace prefix) and element name,
   returns EAS_TAG_INVALID if unknown. The page name is matched
   case-insensitively and may end with ':' ("AirSync:", "Gal"); the element
   name is case-sensitive. */
unsigned int wbxml_tag_lookup(const char *page_name, const char *name);
/* Code page number for a page name (same matching as above), or -1. */
int wbxml_page_lookup(const char *page_name);
/* "AirSync:Sync" for known tags, "0x0105" style otherwise (data stack). */
const char *wbxml_tag_describe(unsigned int tag);
/* TRUE for elements whose content is binary and is shown as base64 in XML
   (ComposeMail:Mime, Email2:ConversationId, ...; the same set libwbxml2
   treats as binary). XML->WBXML conversion writes these as OPAQUE. */
bool wbxml_tag_is_binary(unsigned int tag);

/* --- decoder --- */
struct wbxml_parser;

struct wbxml_parser_callbacks {
	void (*element_start)(void *context, unsigned int tag, bool has_content);
	void (*element_end)(void *context, unsigned int tag);
	void (*text)(void *context, const unsigned char *data, size_t size);
	void (*opaque)(void *context, const unsigned char *data, size_t size);
};

/* Streaming (push) parser: feed input in chunks of any size.
   limits may be NULL, and zero fields mean the default. Text and opaque
   callbacks get one whole STR_I/ENTITY/OPAQUE item at a time (the data is
   followed by a NUL that is not counted in size). */
struct wbxml_parser *
wbxml_parser_init(const struct wbxml_limits *limits,
		  const struct wbxml_parser_callbacks *callbacks,
		  void *context);
void wbxml_parser_deinit(struct wbxml_parser **_parser);
/* Returns 0 if ok so far, -1 on error (error_r set; the string stays valid
   until the parser is deinitialized). Once an error is returned, the parser
   keeps returning it. */
int wbxml_parser_feed(struct wbxml_parser *parser,
		      const unsigned char *data, size_t size,
		      const char **error_r);
/* Call at end of input. Returns 0 if the document was complete, -1 if
   it was truncated or otherwise invalid. */
int wbxml_parser_finish(struct wbxml_parser *parser, const char **error_r);

/* Decode a whole buffer into a tree allocated from pool. An empty input
   (size 0) is an error here; callers handle empty bodies themselves. */
int wbxml_decode(pool_t pool, const unsigned char *data, size_t size,
		 const struct wbxml_limits *limits,
		 struct wbxml_node **root_r, const char **error_r);

/* Tree helpers */
struct wbxml_node *wbxml_node_child(const struct wbxml_node *node,
				    unsigned int tag);
/* Text of the first child with tag, or NULL if no such child.
   An empty element returns "". */
const char *wbxml_node_child_text(const struct wbxml_node *node,
				  unsigned int tag);
const char *wbxml_node_text(const struct wbxml_node *node); /* "" if none */
#define wbxml_node_foreach_child(parent, child) \
	for ((child) = (parent)->children; (child) != NULL; \
	     (child) = (child)->next)

/* Render the tree (or a raw WBXML buffer) as indented XML with namespace
   prefixes for logs and tests. Opaque data is written as base64. */
void wbxml_node_to_xml(string_t *dest, const struct wbxml_node *node);
/* Same, preceded by the XML declaration and the ActiveSync DOCTYPE that
   libwbxml2's tools use, so the result can be fed to xml2wbxml. */
void wbxml_node_to_xml_document(string_t *dest, const struct wbxml_node *root);
int wbxml_to_xml(string_t *dest, const unsigned char *data, size_t size,
		 const char **error_r);

/* --- encoder --- */
struct wbxml_writer;

/* Writes the WBXML header (03 01 6A 00) into out immediately. */
struct wbxml_writer *wbxml_writer_init(buffer_t *out);
/* Stream the document: whenever at least threshold bytes are staged in
   out, they go to sink and out is emptied (data of threshold bytes or
   more, e.g. a message body, goes to sink directly, without a copy).
   Without a sink (or after setting it NULL) the whole document stays
   in out. */
typedef void wbxml_writer_sink_t(const void *data, size_t size,
				 void *context);
void wbxml_writer_set_sink(struct wbxml_writer *writer, size_t threshold,
			   wbxml_writer_sink_t *sink, void *context);
/* Send what is staged to the sink (no-op without one) */
void wbxml_writer_flush(struct wbxml_writer *writer);
/* TRUE once anything went to the sink */
bool wbxml_writer_flushed(const struct wbxml_writer *writer);
/* Bytes written so far (sent to the sink + staged) */
uoff_t wbxml_writer_get_size(const struct wbxml_writer *writer);
/* Asserts that all elements were closed. */
void wbxml_writer_deinit(struct wbxml_writer **_writer);
/* Free the writer without checks (error paths: output is discarded). */
void wbxml_writer_abort(struct wbxml_writer **_writer);
/* Remember the number in the first element tag written at depth (1 = a
   child of the root): a command's top-level Status, for its log event */
void wbxml_writer_watch(struct wbxml_writer *writer, unsigned int tag,
			unsigned int depth);
/* TRUE with the number if such an element was written */
bool wbxml_writer_watched(const struct wbxml_writer *writer,
			  uintmax_t *value_r);

/* Open an element (with content). Emits SWITCH_PAGE when needed. */
void wbxml_start(struct wbxml_writer *w, unsigned int tag);
void wbxml_end(struct wbxml_writer *w);
/* Inline string (STR_I) inside the currently open element. */
void wbxml_text(struct wbxml_writer *w, const char *str);
void wbxml_text_n(struct wbxml_writer *w, const void *data, size_t size);
void wbxml_opaque(struct wbxml_writer *w, const void *data, size_t size);
/* Empty element (no content flag). */
void wbxml_empty(struct wbxml_writer *w, unsigned int tag);
/* <tag>str</tag>; str may be "" (then written as an empty element) */
void wbxml_elem_str(struct wbxml_writer *w, unsigned int tag,
		    const char *str);
void wbxml_elem_uint(struct wbxml_writer *w, unsigned int tag,
		     uintmax_t value);
void wbxml_elem_opaque(struct wbxml_writer *w, unsigned int tag,
		       const void *data, size_t size);
/* Inline string content read from a blocking istream to its end, in
   pieces (with a sink, never held whole); the data must hold no NUL.
   Returns -1 on a read error (the string is cut short then). */
int wbxml_text_istream(struct wbxml_writer *w, struct istream *input);
/* Opaque content streamed from an istream (e.g. a MIME body), up to
   max_size bytes (0 = no limit). Returns -1 on stream error. */
int wbxml_elem_opaque_stream(struct wbxml_writer *w, unsigned int tag,
			     struct istream *input, uoff_t max_size);

#endif
