#ifndef AS_POLICY_H
#define AS_POLICY_H

/* The security policy sent in Provision's EASProvisionDoc (MS-ASPROV
   2.2.2.28): one table row per setting, with its WBXML tag, value type,
   first protocol version that knows it and a permissive default.

   A policy is an array of string values indexed like the table
   (as_policy_settings[i] <-> values[i]); NULL means "use the default".
   Configurable policies (global/domain/user/device inheritance) only need
   to fill such an array, e.g. with as_policy_set(). */

struct wbxml_writer;

enum as_policy_type {
	/* 0 or 1 */
	AS_POLICY_TYPE_BOOL,
	/* unsigned number within min..max */
	AS_POLICY_TYPE_UINT,
	/* unsigned number within min..max, or "" = not set / unlimited */
	AS_POLICY_TYPE_UINT_OR_EMPTY,
	/* signed number within min..max (e.g. -1 = no truncation) */
	AS_POLICY_TYPE_INT,
	/* container of items (application names / hashes), the value is a
	   comma-separated list, "" = empty container */
	AS_POLICY_TYPE_LIST,
};

struct as_policy_setting {
	/* Element name in the Provision code page, e.g.
	   "DevicePasswordEnabled" */
	const char *name;
	unsigned int tag;
	enum as_policy_type type;
	/* Oldest protocol version (enum as_protocol_version) that knows
	   this element; older clients don't get it. */
	unsigned int min_version;
	const char *default_value;
	/* Numeric range (UINT*, INT) */
	long long min, max;
	/* Tag of one list item (LIST) */
	unsigned int item_tag;
};

extern const struct as_policy_setting as_policy_settings[];
extern const unsigned int as_policy_settings_count;

/* Index of the named setting (case-insensitive), -1 if unknown. */
int as_policy_find(const char *name);
/* Returns 0 if value is valid for the setting, -1 with error_r if not. */
int as_policy_value_check(const struct as_policy_setting *setting,
			  const char *value, const char **error_r);

/* A policy with every value NULL (= defaults), allocated from pool. */
const char **as_policy_values_init(pool_t pool);
/* Set one value by name after checking it. Returns -1 with error_r on an
   unknown name or an invalid value. */
int as_policy_set(const char **values, pool_t pool, const char *name,
		  const char *value, const char **error_r);
/* The effective value (the default if values is NULL or values[idx]
   is NULL). */
const char *as_policy_get(const char *const *values, unsigned int idx);

/* Write <EASProvisionDoc>...</EASProvisionDoc> with the settings the
   protocol version knows. values may be NULL for the defaults. */
void as_policy_write_doc(struct wbxml_writer *w, unsigned int version,
			 const char *const *values);

#endif
