#ifndef AS_VCARD_H
#define AS_VCARD_H

/* A small vCard reader and writer (RFC 6350 vCard 4.0, RFC 2426 vCard
   3.0, and the 2.1 cards old phones still write, as far as reading goes).

   A card is a list of properties in their original order. Each property
   keeps its group, name, parameters and raw (still escaped) value, so a
   property nobody looks at is written back exactly as it was read, and a
   round trip through this module loses none of another client's fields.
   Callers read and change values with the helpers below, which do the
   escaping, structured components and lists. */

#include "array-decl.h"

struct as_vcard_param {
	const char *name;	/* as written; compare without case */
	/* the value without quotes; a list stays comma-separated */
	const char *value;
};
ARRAY_DEFINE_TYPE(as_vcard_param, struct as_vcard_param);

struct as_vcard_property {
	const char *group;	/* "item1" of "item1.EMAIL", or NULL */
	const char *name;	/* as written; compare without case */
	ARRAY_TYPE(as_vcard_param) params;
	const char *value;	/* raw value, escapes kept */
};
ARRAY_DEFINE_TYPE(as_vcard_property, struct as_vcard_property *);

struct as_vcard {
	pool_t pool;
	/* 21, 30 or 40 (the VERSION read; what a new card is written as) */
	unsigned int version;
	/* all properties but BEGIN, END and VERSION */
	ARRAY_TYPE(as_vcard_property) props;
};

struct as_vcard_limits {
	unsigned int max_properties;
	/* an unfolded line (a photo is one line) */
	size_t max_line_length;
	size_t max_size;
};
/* Defaults when NULL or 0 */
#define AS_VCARD_MAX_PROPERTIES 2000
#define AS_VCARD_MAX_LINE_LENGTH (8*1024*1024)
#define AS_VCARD_MAX_SIZE (8*1024*1024)

/* Writers fold lines at this many octets (RFC 6350 3.2) */
#define AS_VCARD_FOLD_OCTETS 75

struct as_vcard *as_vcard_new(pool_t pool, unsigned int version);

/* Parse the first vCard of text. 2.1 cards are converted on the way:
   quoted-printable values are decoded, bare parameters ("HOME") become
   TYPE, ENCODING=BASE64 becomes ENCODING=b, and the card then counts as
   3.0. Returns 0, or -1 with error_r for text that isn't a vCard (no
   BEGIN/END, a line without ':', a limit exceeded). */
int as_vcard_parse(pool_t pool, const char *text,
		   const struct as_vcard_limits *limits,
		   struct as_vcard **card_r, const char **error_r);

/* Write the card as vCard version (30 or 40): CRLF lines folded at
   AS_VCARD_FOLD_OCTETS, never inside a UTF-8 character. */
void as_vcard_write(const struct as_vcard *card, unsigned int version,
		    string_t *dest);

/* Properties */
struct as_vcard_property *
as_vcard_add(struct as_vcard *card, const char *group, const char *name);
void as_vcard_remove(struct as_vcard *card, struct as_vcard_property *prop);
void as_vcard_prop_add_param(struct as_vcard *card,
			     struct as_vcard_property *prop,
			     const char *name, const char *value);
void as_vcard_prop_remove_param(struct as_vcard_property *prop,
				const char *name);
/* A parameter's value (several ones joined with ','), NULL if absent */
const char *as_vcard_prop_param(const struct as_vcard_property *prop,
				const char *name);
/* TRUE if one of the TYPE values (any form) is type, without case */
bool as_vcard_prop_has_type(const struct as_vcard_property *prop,
			    const char *type);
/* TRUE if the property has no TYPE at all */
bool as_vcard_prop_untyped(const struct as_vcard_property *prop);

/* Values, unescaped, from the data stack */
const char *as_vcard_prop_text(const struct as_vcard_property *prop);
/* Component idx (0-based) of a structured value (N, ADR, ORG); "" if
   the value has fewer components. List items inside it stay as they
   are ("a,b"). */
const char *as_vcard_prop_component(const struct as_vcard_property *prop,
				    unsigned int idx);
/* The items of a list value (CATEGORIES, NICKNAME), empty ones left out */
const char *const *as_vcard_prop_list(const struct as_vcard_property *prop);

/* Set values: the text is escaped (\\ \n \, \;) */
void as_vcard_prop_set_text(struct as_vcard *card,
			    struct as_vcard_property *prop, const char *text);
/* Replace component idx, adding empty ones before it as needed */
void as_vcard_prop_set_component(struct as_vcard *card,
				 struct as_vcard_property *prop,
				 unsigned int idx, const char *text);
void as_vcard_prop_set_list(struct as_vcard *card,
			    struct as_vcard_property *prop,
			    const char *const *items);

/* Binary values (PHOTO): ENCODING=b (3.0) or a data: URI (4.0). Returns
   1 with the data appended to dest and its media type ("image/jpeg",
   NULL if unknown), 0 if the value is a link (not inline data), -1 if
   the base64 is invalid. */
int as_vcard_prop_binary(const struct as_vcard_property *prop,
			 buffer_t *dest, const char **media_type_r);
/* Set inline data the way version (30 or 40) writes it */
void as_vcard_prop_set_binary(struct as_vcard *card,
			      struct as_vcard_property *prop,
			      unsigned int version, const void *data,
			      size_t size, const char *media_type);

/* Escape text for a value (also used for components and list items:
   ',' and ';' are always escaped). */
void as_vcard_escape(string_t *dest, const char *text);

#endif
