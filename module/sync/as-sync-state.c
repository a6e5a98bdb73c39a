/* Copyright (c) the dovecot-activesync authors, see AUTHORS */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "strnum.h"
#include "imap-seqset.h"
#include "imap-util.h"
#include "as-store.h"
#include "items/as-item.h"
#include "sync/as-sync-state.h"

static void aliases_read(const char *str, ARRAY_TYPE(as_sync_alias) *aliases);
static void supported_read(const char *str, struct as_sync_state_extra *extra);

const char *as_sync_state_extra_write(const struct as_sync_state_extra *extra)
{
	string_t *str = t_str_new(128);

	as_sync_options_write(str, &extra->options);
	if (extra->full)
		str_append(str, " full=1");
	if (extra->max_age > 0)
		str_printfa(str, " ma=%u", extra->max_age);
	if (array_is_created(&extra->pending_changes) &&
	    array_count(&extra->pending_changes) > 0) {
		str_append(str, " pc=");
		imap_write_seq_range(str, &extra->pending_changes);
	}
	if (extra->have_supported) {
		const unsigned int *tag;
		char sep = '=';

		str_append(str, " sup");
		if (array_count(&extra->supported) == 0)
			str_append_c(str, sep);
		array_foreach(&extra->supported, tag) {
			str_printfa(str, "%c%x", sep, *tag);
			sep = ',';
		}
	}
	if (array_is_created(&extra->aliases) &&
	    array_count(&extra->aliases) > 0) {
		const struct as_sync_alias *alias;
		char sep = '=';

		str_append(str, " ids");
		array_foreach(&extra->aliases, alias) {
			str_printfa(str, "%c%u:%u", sep, alias->uid, alias->id);
			sep = ',';
		}
	}
	return str_c(str);
}

void as_sync_state_extra_read(const char *str,
			      struct as_sync_state_extra *extra_r)
{
	const char *const *args;

	i_zero(extra_r);
	as_sync_options_read(str, &extra_r->options);
	t_array_init(&extra_r->pending_changes, 8);
	t_array_init(&extra_r->aliases, 4);
	for (args = t_strsplit_spaces(str, " "); *args != NULL; args++) {
		if (strcmp(*args, "full=1") == 0)
			extra_r->full = TRUE;
		else if (str_begins(*args, "ma=")) {
			if (str_to_uint(*args + 3, &extra_r->max_age) < 0)
				extra_r->max_age = 0;
		} else if (str_begins(*args, "pc=")) {
			if (imap_seq_set_nostar_parse(*args + 3,
					&extra_r->pending_changes) < 0)
				array_clear(&extra_r->pending_changes);
		} else if (str_begins(*args, "sup=")) {
			supported_read(*args + 4, extra_r);
		} else if (str_begins(*args, "ids=")) {
			aliases_read(*args + 4, &extra_r->aliases);
		}
	}
}

static void supported_read(const char *str, struct as_sync_state_extra *extra)
{
	const char *const *tags;
	unsigned int tag;

	extra->have_supported = TRUE;
	t_array_init(&extra->supported, 32);
	for (tags = t_strsplit(str, ","); *tags != NULL; tags++) {
		if (str_to_uint_hex(*tags, &tag) == 0)
			array_push_back(&extra->supported, &tag);
	}
}

void as_sync_state_supported(const struct as_sync_state_extra *extra,
			     struct as_item_params *params)
{
	params->have_supported = extra->have_supported;
	if (extra->have_supported) {
		params->supported = array_get(&extra->supported,
					      &params->supported_count);
	}
}

static int alias_cmp(const struct as_sync_alias *a,
		     const struct as_sync_alias *b)
{
	return a->uid < b->uid ? -1 : (a->uid > b->uid ? 1 : 0);
}

static void aliases_read(const char *str, ARRAY_TYPE(as_sync_alias) *aliases)
{
	const char *const *pairs, *p;
	struct as_sync_alias alias;

	for (pairs = t_strsplit(str, ","); *pairs != NULL; pairs++) {
		p = strchr(*pairs, ':');
		if (p == NULL ||
		    str_to_uint32(t_strdup_until(*pairs, p), &alias.uid) < 0 ||
		    str_to_uint32(p + 1, &alias.id) < 0 ||
		    alias.uid == 0 || alias.id == 0)
			continue;
		array_push_back(aliases, &alias);
	}
	array_sort(aliases, alias_cmp);
}

uint32_t as_sync_state_alias_id(const struct as_sync_state_extra *extra,
				uint32_t uid)
{
	const struct as_sync_alias *aliases;
	unsigned int idx, left = 0, right;

	if (!array_is_created(&extra->aliases))
		return uid;
	aliases = array_get(&extra->aliases, &right);
	while (left < right) {
		idx = (left + right) / 2;
		if (aliases[idx].uid < uid)
			left = idx + 1;
		else if (aliases[idx].uid > uid)
			right = idx;
		else
			return aliases[idx].id;
	}
	return uid;
}

uint32_t as_sync_state_alias_uid(const struct as_sync_state_extra *extra,
				 uint32_t id)
{
	const struct as_sync_alias *alias;

	if (!array_is_created(&extra->aliases))
		return id;
	/* few items are edited between two full resyncs: a scan is fine */
	array_foreach(&extra->aliases, alias) {
		if (alias->id == id)
			return alias->uid;
	}
	return id;
}

int as_sync_state_device_uid(struct as_store *store, const char *user,
			     const char *device_id, const char *folder_id,
			     uint32_t id, uint32_t *uid_r,
			     const char **error_r)
{
	struct as_collection_state state;
	struct as_sync_state_extra extra;
	unsigned int sync_key;
	int ret;

	*uid_r = id;
	ret = as_store_collection_latest(store, user, device_id, folder_id,
					 &sync_key, error_r);
	if (ret <= 0 || sync_key == 0)
		return ret;
	ret = as_store_collection_get(store, pool_datastack_create(), user,
				      device_id, folder_id, sync_key, &state,
				      error_r);
	if (ret <= 0)
		return ret;
	as_sync_state_extra_read(state.options == NULL ? "" : state.options,
				 &extra);
	*uid_r = as_sync_state_alias_uid(&extra, id);
	return 0;
}

void as_sync_state_alias_move(struct as_sync_state_extra *extra,
			      uint32_t id, uint32_t new_uid)
{
	struct as_sync_alias alias = { .uid = new_uid, .id = id };
	unsigned int i, count;
	const struct as_sync_alias *aliases;

	if (!array_is_created(&extra->aliases))
		t_array_init(&extra->aliases, 4);
	aliases = array_get(&extra->aliases, &count);
	for (i = 0; i < count; i++) {
		if (aliases[i].id == id) {
			array_delete(&extra->aliases, i, 1);
			break;
		}
	}
	if (new_uid == 0 || new_uid == id)
		return;
	array_push_back(&extra->aliases, &alias);
	array_sort(&extra->aliases, alias_cmp);
}

time_t as_sync_state_since(unsigned int filter_type, unsigned int max_age,
			   time_t now)
{
	time_t since = as_sync_filter_since(filter_type, now);
	time_t limit;

	if (max_age == 0)
		return since;
	limit = now - (time_t)max_age;
	return since == 0 || limit > since ? limit : since;
}
