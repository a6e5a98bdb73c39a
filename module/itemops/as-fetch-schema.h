#ifndef AS_FETCH_SCHEMA_H
#define AS_FETCH_SCHEMA_H

struct wbxml_node;
struct wbxml_writer;

/* ItemOperations Fetch with Options/Schema (MS-ASCMD 2.2.3.158): only the
   properties the schema lists are returned. The schema's children are
   empty elements naming them (email:Subject, airsyncbase:Body, ...);
   an empty Schema is treated as no Schema. */

/* TRUE if the schema allows the property (always without a schema) */
bool as_fetch_schema_allows(const struct wbxml_node *schema,
			    unsigned int tag);

/* Write the children of the WBXML document props (one element whose
   children are the properties, as written for the full item) that the
   schema allows. Returns 0, or -1 if props can't be decoded (error_r;
   nothing written). */
int as_fetch_schema_write(struct wbxml_writer *w,
			  const struct wbxml_node *schema,
			  const buffer_t *props, const char **error_r);

#endif
