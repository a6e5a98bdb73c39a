/* Copyright (c) the dovecot-activesync authors, see AUTHORS */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "strnum.h"
#include "sha1.h"
#include "as-store.h"
#include "as-policy.h"

/* Policy inheritance: global, domain, user and device levels each hold
   the fields they customise; the effective policy takes every field from
   the most specific level that sets it. */

static const char *const as_policy_level_names[AS_POLICY_LEVEL_COUNT] = {
	[AS_POLICY_LEVEL_DEFAULT] = "default",
	[AS_POLICY_LEVEL_GLOBAL] = "global",
	[AS_POLICY_LEVEL_DOMAIN] = "domain",
	[AS_POLICY_LEVEL_USER] = "user",
	[AS_POLICY_LEVEL_DEVICE] = "device",
};

const char *as_policy_level_name(enum as_policy_level level)
{
	i_assert(level < AS_POLICY_LEVEL_COUNT);
	return as_policy_level_names[level];
}

const char **as_policy_level_from_fields(pool_t pool,
					 const ARRAY_TYPE(const_string) *fields,
					 const char **error_r)
{
	const char **values = as_policy_values_init(pool);
	const char *const *f, *error;
	unsigned int i, count;
	int idx;

	*error_r = NULL;
	f = array_get(fields, &count);
	for (i = 0; i + 1 < count; i += 2) {
		idx = as_policy_find(f[i]);
		if (idx < 0) {
			*error_r = t_strdup_printf("Unknown stored policy "
						   "field %s ignored", f[i]);
			continue;
		}
		if (as_policy_value_check(&as_policy_settings[idx], f[i + 1],
					  &error) < 0) {
			*error_r = t_strdup_printf("Stored policy value "
						   "ignored: %s", error);
			continue;
		}
		values[idx] = p_strdup(pool, f[i + 1]);
	}
	return values;
}

void as_policy_level_to_fields(const char *const *values, pool_t pool,
			       ARRAY_TYPE(const_string) *fields_r)
{
	unsigned int i;

	if (!array_is_created(fields_r))
		p_array_init(fields_r, pool, 16);
	array_clear(fields_r);
	for (i = 0; i < as_policy_settings_count; i++) {
		if (values[i] == NULL)
			continue;
		array_push_back(fields_r, &as_policy_settings[i].name);
		array_push_back(fields_r, &values[i]);
	}
}

static bool as_policy_level_is_neutral(const char *const *values)
{
	return values != NULL && values[AS_POLICY_IDX_NEUTRAL] != NULL &&
		strcmp(values[AS_POLICY_IDX_NEUTRAL], "1") == 0;
}

void as_policy_resolve(const char *const *const levels[AS_POLICY_LEVEL_COUNT],
		       pool_t pool, struct as_policy *policy_r)
{
	enum as_policy_level level, cut = AS_POLICY_LEVEL_GLOBAL;
	unsigned int i;

	/* the most specific neutral level hides itself and all above */
	for (level = AS_POLICY_LEVEL_DEVICE; level > AS_POLICY_LEVEL_DEFAULT;
	     level--) {
		if (as_policy_level_is_neutral(levels[level])) {
			cut = level + 1;
			break;
		}
	}

	policy_r->values = as_policy_values_init(pool);
	policy_r->sources = p_new(pool, enum as_policy_level,
				  as_policy_settings_count);
	for (i = 0; i < as_policy_settings_count; i++) {
		const struct as_policy_setting *setting = &as_policy_settings[i];
		enum as_policy_level first = cut;

		if ((setting->flags & AS_POLICY_FLAG_NOT_NEUTRALIZED) != 0)
			first = AS_POLICY_LEVEL_GLOBAL;
		policy_r->values[i] = setting->default_value;
		policy_r->sources[i] = AS_POLICY_LEVEL_DEFAULT;
		if (i == AS_POLICY_IDX_NEUTRAL) {
			/* shows which level cancels the ones above */
			if (cut > AS_POLICY_LEVEL_GLOBAL) {
				policy_r->values[i] = "1";
				policy_r->sources[i] = cut - 1;
			}
			continue;
		}
		for (level = AS_POLICY_LEVEL_DEVICE; level >= first; level--) {
			if (levels[level] != NULL &&
			    levels[level][i] != NULL) {
				policy_r->values[i] = levels[level][i];
				policy_r->sources[i] = level;
				break;
			}
		}
	}
}

uint32_t as_policy_hash(const char *const *values)
{
	struct sha1_ctxt ctx;
	unsigned char digest[SHA1_RESULTLEN];
	unsigned int i;
	uint32_t hash;

	sha1_init(&ctx);
	for (i = 0; i < AS_POLICY_DOC_COUNT; i++) {
		const char *value = as_policy_get(values, i);

		/* name=value\n: a value moving to another field differs */
		sha1_loop(&ctx, as_policy_settings[i].name,
			  strlen(as_policy_settings[i].name));
		sha1_loop(&ctx, "=", 1);
		sha1_loop(&ctx, value, strlen(value));
		sha1_loop(&ctx, "\n", 1);
	}
	sha1_result(&ctx, digest);
	hash = ((uint32_t)digest[0] << 24) | (digest[1] << 16) |
		(digest[2] << 8) | digest[3];
	return hash == 0 ? 1 : hash;
}

bool as_policy_get_bool(const struct as_policy *policy, unsigned int idx)
{
	i_assert(as_policy_settings[idx].type == AS_POLICY_TYPE_BOOL);
	return strcmp(policy->values[idx], "1") == 0;
}

unsigned int as_policy_get_uint(const struct as_policy *policy,
				unsigned int idx)
{
	unsigned int num;

	i_assert(as_policy_settings[idx].type == AS_POLICY_TYPE_UINT);
	/* checked when stored */
	if (str_to_uint(policy->values[idx], &num) < 0)
		i_unreached();
	return num;
}

static const char *as_policy_user_domain(const char *user)
{
	const char *p = user == NULL ? NULL : strrchr(user, '@');

	return p == NULL || p[1] == '\0' ? NULL : p + 1;
}

int as_policy_lookup(struct as_store *store, pool_t pool,
		     const struct as_store_policy_target *target,
		     struct as_policy *policy_r, const char **error_r)
{
	struct as_store_policy_target targets[AS_STORE_POLICY_LEVEL_COUNT];
	ARRAY_TYPE(const_string) fields[AS_STORE_POLICY_LEVEL_COUNT];
	const char *const *levels[AS_POLICY_LEVEL_COUNT];
	const char *domain = target->domain;
	unsigned int i, count = target->level + 1;
	pool_t scratch;

	i_assert(target->level < AS_STORE_POLICY_LEVEL_COUNT);
	if (target->level >= AS_STORE_POLICY_LEVEL_USER)
		domain = as_policy_user_domain(target->user);

	i_zero(&targets);
	i_zero(&fields);
	for (i = 0; i < count; i++) {
		targets[i].level = i;
		targets[i].domain = domain;
		targets[i].user = target->user;
		targets[i].device_id = target->device_id;
	}
	if (domain == NULL)
		targets[AS_STORE_POLICY_LEVEL_DOMAIN].level =
			AS_STORE_POLICY_LEVEL_COUNT;
	/* the stored levels are scratch: only the resolved policy goes to
	   the caller's pool (a request's, which lives as long as a held
	   Ping) */
	scratch = pool_alloconly_create("activesync policy lookup", 4096);
	if (as_store_policy_get_levels(store, scratch, targets, count, fields,
				       error_r) < 0) {
		pool_unref(&scratch);
		return -1;
	}

	i_zero(&levels);
	for (i = 0; i < count; i++) {
		const char *error;

		/* store level i is policy level i + 1 */
		levels[i + 1] = as_policy_level_from_fields(scratch, &fields[i],
							    &error);
		if (error != NULL)
			i_warning("Policy level %s: %s",
				  as_policy_level_name(i + 1), error);
	}
	as_policy_resolve(levels, pool, policy_r);
	for (i = 0; i < as_policy_settings_count; i++)
		policy_r->values[i] = p_strdup(pool, policy_r->values[i]);
	pool_unref(&scratch);
	return 0;
}

int as_policy_level_update(struct as_store *store,
			   const struct as_store_policy_target *target,
			   const char *const *assignments, bool inherit,
			   const char **error_r)
{
	pool_t pool = pool_datastack_create();
	ARRAY_TYPE(const_string) fields;
	const char **values, *error;
	int idx;

	p_array_init(&fields, pool, 16);
	if (as_store_policy_get(store, pool, target, &fields, error_r) < 0)
		return -1;
	values = as_policy_level_from_fields(pool, &fields, &error);

	if (inherit && (assignments == NULL || assignments[0] == NULL)) {
		/* the whole level */
		array_clear(&fields);
		return as_store_policy_put(store, target, &fields,
					   error_r) < 0 ? -1 : 0;
	}
	for (; *assignments != NULL; assignments++) {
		const char *name = *assignments, *value = NULL;
		const char *p = strchr(name, '=');

		if (!inherit) {
			if (p == NULL) {
				*error_r = t_strdup_printf(
					"Expected field=value: %s", name);
				return -1;
			}
			name = t_strdup_until(name, p);
			value = p + 1;
		} else if (p != NULL) {
			*error_r = t_strdup_printf(
				"Expected a field name: %s", name);
			return -1;
		}
		idx = as_policy_find(name);
		if (idx < 0) {
			*error_r = t_strdup_printf("Unknown policy field: %s",
						   name);
			return -1;
		}
		if (value != NULL &&
		    as_policy_value_check(&as_policy_settings[idx], value,
					  error_r) < 0)
			return -1;
		values[idx] = value == NULL ? NULL : p_strdup(pool, value);
	}
	as_policy_level_to_fields(values, pool, &fields);
	return as_store_policy_put(store, target, &fields, error_r) < 0 ?
		-1 : 0;
}
