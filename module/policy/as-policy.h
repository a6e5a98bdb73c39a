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
struct as_store;
struct as_store_policy_target;

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
	/* a protocol version ("14.1") */
	AS_POLICY_TYPE_VERSION,
};

enum as_policy_flags {
	/* Not an EASProvisionDoc element: a server-side setting that is
	   inherited through the levels like the policy fields (tag 0). */
	AS_POLICY_FLAG_SERVER = 0x01,
	/* A "Neutral" level does not cancel it from the levels above (an
	   access limit rather than a device policy). */
	AS_POLICY_FLAG_NOT_NEUTRALIZED = 0x02,
	/* Belongs to the level that sets it, never inherited. */
	AS_POLICY_FLAG_LEVEL_ONLY = 0x04,
};

/* Where an effective value comes from. */
enum as_policy_level {
	AS_POLICY_LEVEL_DEFAULT,	/* built-in default */
	AS_POLICY_LEVEL_GLOBAL,
	AS_POLICY_LEVEL_DOMAIN,
	AS_POLICY_LEVEL_USER,
	AS_POLICY_LEVEL_DEVICE,

	AS_POLICY_LEVEL_COUNT
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
	enum as_policy_flags flags;
};

/* Indexes of the server-side rows (as_policy_settings[]) */
enum as_policy_server_setting {
	/* A device that answers Status 2 (partly applied) to the policy is
	   let in (1) or refused (0). */
	AS_POLICY_IDX_ALLOW_NON_PROVISIONABLE = 42,
	/* Seconds after which a provisioned device must provision again
	   (0 = never) */
	AS_POLICY_IDX_REFRESH_INTERVAL,
	/* Highest protocol version offered and accepted */
	AS_POLICY_IDX_MAX_PROTOCOL_VERSION,
	/* "No policy" at this level: cancels the levels above it (and
	   itself); the device gets the permissive defaults unless a level
	   below sets fields. */
	AS_POLICY_IDX_NEUTRAL,
};
/* The EASProvisionDoc fields come first: 0..AS_POLICY_DOC_COUNT-1 */
#define AS_POLICY_DOC_COUNT AS_POLICY_IDX_ALLOW_NON_PROVISIONABLE

/* An effective policy: values[i] is never NULL, sources[i] says which
   level it comes from. */
struct as_policy {
	const char **values;
	enum as_policy_level *sources;
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

/* "global", "domain", "user", "device", "default" */
const char *as_policy_level_name(enum as_policy_level level);

/* Name/value pairs of a stored level into a values array (NULL = not
   customised). Unknown names or invalid values (the table changed since
   they were stored) are skipped and reported in error_r (NULL if none). */
const char **as_policy_level_from_fields(pool_t pool,
					 const ARRAY_TYPE(const_string) *fields,
					 const char **error_r);
/* The customised values of a level as name/value pairs (table order). */
void as_policy_level_to_fields(const char *const *values, pool_t pool,
			       ARRAY_TYPE(const_string) *fields_r);

/* The effective policy: for every field the most specific level that
   sets it (device, user, domain, global), else the built-in default.
   levels[AS_POLICY_LEVEL_DEFAULT] is ignored; any level may be NULL. The
   most specific level with Neutral=1 cancels itself and the levels above
   it, except for AS_POLICY_FLAG_NOT_NEUTRALIZED rows. */
void as_policy_resolve(const char *const *const levels[AS_POLICY_LEVEL_COUNT],
		       pool_t pool, struct as_policy *policy_r);
/* Non-zero hash of the EASProvisionDoc fields of values: it changes
   when what the device has to apply changes. */
uint32_t as_policy_hash(const char *const *values);
bool as_policy_get_bool(const struct as_policy *policy, unsigned int idx);
unsigned int as_policy_get_uint(const struct as_policy *policy,
				unsigned int idx);

/* Read the levels from the store and resolve them. target names the
   most specific level wanted: GLOBAL, DOMAIN (target->domain), USER
   (target->user; its domain is the part after the last '@') or DEVICE
   (user and device_id). */
int as_policy_lookup(struct as_store *store, pool_t pool,
		     const struct as_store_policy_target *target,
		     struct as_policy *policy_r, const char **error_r);
/* Change one level: set "Name=value" assignments (checked first,
   nothing is written if any is invalid), or with inherit revert the
   named fields (NULL or empty = the whole level) to inheriting. */
int as_policy_level_update(struct as_store *store,
			   const struct as_store_policy_target *target,
			   const char *const *assignments, bool inherit,
			   const char **error_r);

#endif
