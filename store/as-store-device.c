#include "lib.h"
#include "array.h"
#include "buffer.h"
#include "strnum.h"
#include "as-store-itemprops.h"
#include "as-store-record.h"
#include "as-store-private.h"

/* Device record (user and device_id come from the key):
   version 1: u8 version, str device_type, str model, str os,
   str user_agent, str protocol_version, u64 first_seen, u64 last_seen,
   u32 policy_key, u32 pending_policy_key, str ping_folders,
   u32 ping_heartbeat
   version 2 appends: str imei, str friendly_name, str os_language,
   str phone_number, str mobile_operator, u32 access,
   u32 flags (AS_DEVICE_FLAG_*) */
#define AS_STORE_DEVICE_VERSION 2

#define AS_DEVICE_FLAG_QUARANTINE_NOTIFIED 0x01

/* Device property names of the admin state */
#define AS_DEVICE_PROP_ACCESS "access"
#define AS_DEVICE_PROP_DEBUG "debug"
#define AS_DEVICE_PROP_WIPE "wipe"
#define AS_DEVICE_PROP_WIPE_REQUESTED "wipe_requested"
#define AS_DEVICE_PROP_WIPE_ACKED "wipe_acked"

static const char *const as_device_access_names[AS_DEVICE_ACCESS_COUNT] = {
	[AS_DEVICE_ACCESS_UNSET] = "",
	[AS_DEVICE_ACCESS_ALLOW] = "allow",
	[AS_DEVICE_ACCESS_BLOCK] = "block",
	[AS_DEVICE_ACCESS_QUARANTINE] = "quarantine",
};

static const char *const as_device_wipe_names[AS_DEVICE_WIPE_COUNT] = {
	[AS_DEVICE_WIPE_NONE] = "none",
	[AS_DEVICE_WIPE_PENDING] = "pending",
	[AS_DEVICE_WIPE_ACCOUNT_PENDING] = "account-pending",
	[AS_DEVICE_WIPE_DONE] = "wiped",
	[AS_DEVICE_WIPE_ACCOUNT_DONE] = "account-wiped",
};

const char *as_device_access_str(enum as_device_access access)
{
	i_assert(access < AS_DEVICE_ACCESS_COUNT);
	return as_device_access_names[access];
}

int as_device_access_parse(const char *str, enum as_device_access *access_r)
{
	unsigned int i;

	for (i = AS_DEVICE_ACCESS_ALLOW; i < AS_DEVICE_ACCESS_COUNT; i++) {
		if (strcasecmp(str, as_device_access_names[i]) == 0) {
			*access_r = i;
			return 0;
		}
	}
	return -1;
}

const char *as_device_wipe_str(enum as_device_wipe wipe)
{
	i_assert(wipe < AS_DEVICE_WIPE_COUNT);
	return as_device_wipe_names[wipe];
}

void as_store_device_encode(buffer_t *buf, const struct as_device *dev)
{
	uint32_t flags = 0;

	as_record_write_version(buf, AS_STORE_DEVICE_VERSION);
	as_record_write_str(buf, dev->device_type);
	as_record_write_str(buf, dev->model);
	as_record_write_str(buf, dev->os);
	as_record_write_str(buf, dev->user_agent);
	as_record_write_str(buf, dev->protocol_version);
	as_record_write_u64(buf, (uint64_t)(int64_t)dev->first_seen);
	as_record_write_u64(buf, (uint64_t)(int64_t)dev->last_seen);
	as_record_write_u32(buf, dev->policy_key);
	as_record_write_u32(buf, dev->pending_policy_key);
	as_record_write_str(buf, dev->ping_folders);
	as_record_write_u32(buf, dev->ping_heartbeat);
	/* version 2 */
	as_record_write_str(buf, dev->imei);
	as_record_write_str(buf, dev->friendly_name);
	as_record_write_str(buf, dev->os_language);
	as_record_write_str(buf, dev->phone_number);
	as_record_write_str(buf, dev->mobile_operator);
	as_record_write_u32(buf, dev->access);
	if (dev->quarantine_notified)
		flags |= AS_DEVICE_FLAG_QUARANTINE_NOTIFIED;
	as_record_write_u32(buf, flags);
}

int as_store_device_decode(const void *data, size_t size, pool_t pool,
			   struct as_device *dev_r, const char **error_r)
{
	struct as_record_reader r;
	uint32_t flags, num;
	uint8_t version;

	/* keep user/device_id, they come from the key */
	as_record_reader_init(&r, data, size);
	version = as_record_read_version(&r, AS_STORE_DEVICE_VERSION);
	dev_r->device_type = as_record_read_str(&r, pool);
	dev_r->model = as_record_read_str(&r, pool);
	dev_r->os = as_record_read_str(&r, pool);
	dev_r->user_agent = as_record_read_str(&r, pool);
	dev_r->protocol_version = as_record_read_str(&r, pool);
	dev_r->first_seen = (time_t)(int64_t)as_record_read_u64(&r);
	dev_r->last_seen = (time_t)(int64_t)as_record_read_u64(&r);
	dev_r->policy_key = as_record_read_u32(&r);
	dev_r->pending_policy_key = as_record_read_u32(&r);
	dev_r->ping_folders = as_record_read_str(&r, pool);
	dev_r->ping_heartbeat = as_record_read_u32(&r);
	if (version < 2) {
		/* older records: no DeviceInformation details, no admin
		   state */
		dev_r->imei = dev_r->friendly_name = dev_r->os_language =
			dev_r->phone_number = dev_r->mobile_operator = "";
		return as_record_reader_finish(&r, error_r);
	}
	dev_r->imei = as_record_read_str(&r, pool);
	dev_r->friendly_name = as_record_read_str(&r, pool);
	dev_r->os_language = as_record_read_str(&r, pool);
	dev_r->phone_number = as_record_read_str(&r, pool);
	dev_r->mobile_operator = as_record_read_str(&r, pool);
	num = as_record_read_u32(&r);
	if (num >= AS_DEVICE_ACCESS_COUNT)
		as_record_reader_fail(&r, "Invalid access state");
	else
		dev_r->access = num;
	flags = as_record_read_u32(&r);
	dev_r->quarantine_notified =
		(flags & AS_DEVICE_FLAG_QUARANTINE_NOTIFIED) != 0;
	return as_record_reader_finish(&r, error_r);
}

static int
as_device_prop_time(struct as_store *store, pool_t pool,
		    const struct as_device *dev, const char *name,
		    time_t *time_r, const char **error_r)
{
	const char *value;
	int64_t num;
	int ret;

	*time_r = 0;
	ret = as_store_device_prop_get(store, pool, dev->user, dev->device_id,
				       name, &value, error_r);
	if (ret <= 0)
		return ret;
	if (str_to_int64(value, &num) < 0) {
		*error_r = t_strdup_printf("Invalid device property %s", name);
		return -1;
	}
	*time_r = (time_t)num;
	return 1;
}

int as_store_device_admin_read(struct as_store *store, struct as_device *dev,
			       const char **error_r)
{
	const char *value;
	unsigned int i;
	int ret;

	dev->access_override = AS_DEVICE_ACCESS_UNSET;
	dev->debug = FALSE;
	dev->wipe = AS_DEVICE_WIPE_NONE;
	T_BEGIN {
		pool_t pool = pool_datastack_create();

		ret = as_store_device_prop_get(store, pool, dev->user,
			dev->device_id, AS_DEVICE_PROP_ACCESS, &value, error_r);
		if (ret > 0 &&
		    as_device_access_parse(value, &dev->access_override) < 0) {
			*error_r = "Invalid device property access";
			ret = -1;
		}
		if (ret >= 0) {
			ret = as_store_device_prop_get(store, pool, dev->user,
				dev->device_id, AS_DEVICE_PROP_DEBUG, &value,
				error_r);
			dev->debug = ret > 0 && strcmp(value, "on") == 0;
		}
		if (ret >= 0) {
			ret = as_store_device_prop_get(store, pool, dev->user,
				dev->device_id, AS_DEVICE_PROP_WIPE, &value,
				error_r);
		}
		if (ret > 0) {
			for (i = 0; i < AS_DEVICE_WIPE_COUNT; i++) {
				if (strcmp(value, as_device_wipe_names[i]) == 0)
					dev->wipe = i;
			}
		}
		if (ret >= 0) {
			ret = as_device_prop_time(store, pool, dev,
				AS_DEVICE_PROP_WIPE_REQUESTED,
				&dev->wipe_requested, error_r);
		}
		if (ret >= 0) {
			ret = as_device_prop_time(store, pool, dev,
				AS_DEVICE_PROP_WIPE_ACKED,
				&dev->wipe_acked, error_r);
		}
		if (ret < 0)
			*error_r = t_strdup_printf("User %s device %s: %s",
				dev->user, dev->device_id, *error_r);
	} T_END_PASS_STR_IF(ret < 0, error_r);
	return ret < 0 ? -1 : 0;
}

static const char *as_device_time_prop(time_t t)
{
	return t == 0 ? NULL : dec2str(t);
}

int as_store_device_admin_write(struct as_store *store,
				const struct as_device *dev,
				const char **error_r)
{
	const struct {
		const char *name, *value;
	} props[] = {
		{ AS_DEVICE_PROP_ACCESS,
		  dev->access_override == AS_DEVICE_ACCESS_UNSET ? NULL :
		  as_device_access_str(dev->access_override) },
		{ AS_DEVICE_PROP_DEBUG, dev->debug ? "on" : NULL },
		{ AS_DEVICE_PROP_WIPE, dev->wipe == AS_DEVICE_WIPE_NONE ? NULL :
		  as_device_wipe_str(dev->wipe) },
		{ AS_DEVICE_PROP_WIPE_REQUESTED,
		  as_device_time_prop(dev->wipe_requested) },
		{ AS_DEVICE_PROP_WIPE_ACKED,
		  as_device_time_prop(dev->wipe_acked) },
	};
	unsigned int i;

	for (i = 0; i < N_ELEMENTS(props); i++) {
		if (as_store_device_prop_put(store, dev->user, dev->device_id,
					     props[i].name, props[i].value,
					     error_r) < 0)
			return -1;
	}
	return 0;
}

struct as_store_device_get_ctx {
	pool_t pool;
	const char *user, *device_id;
	struct as_device *dev_r;
};

static int
as_store_device_get_txn(struct as_store_txn *txn, void *context,
			const char **error_r)
{
	struct as_store_device_get_ctx *ctx = context;
	const char *error;
	MDB_val data;
	int ret;

	ret = as_store_txn_get(txn, AS_STORE_DB_DEVICES,
			       as_store_key_device(ctx->user, ctx->device_id),
			       &data, error_r);
	if (ret <= 0)
		return ret;
	if (as_store_device_decode(data.mv_data, data.mv_size, ctx->pool,
				   ctx->dev_r, &error) < 0) {
		*error_r = t_strdup_printf(
			"Corrupted device record (user=%s, device=%s): %s",
			ctx->user, ctx->device_id, error);
		return -1;
	}
	return 1;
}

int as_store_device_get(struct as_store *store, pool_t pool,
			const char *user, const char *device_id,
			struct as_device *dev_r, const char **error_r)
{
	struct as_store_device_get_ctx ctx = {
		.pool = pool,
		.user = user,
		.device_id = device_id,
		.dev_r = dev_r,
	};

	i_zero(dev_r);
	dev_r->user = p_strdup(pool, user);
	dev_r->device_id = p_strdup(pool, device_id);
	return as_store_read(store, as_store_device_get_txn, &ctx, error_r);
}

static int
as_store_device_put_txn(struct as_store_txn *txn, void *context,
			const char **error_r)
{
	const struct as_device *dev = context;
	buffer_t *data = t_buffer_create(256);

	as_store_device_encode(data, dev);
	if (as_store_txn_put(txn, AS_STORE_DB_DEVICES,
			     as_store_key_device(dev->user, dev->device_id),
			     data, error_r) < 0)
		return -1;
	return 1;
}

int as_store_device_put(struct as_store *store, const struct as_device *dev,
			const char **error_r)
{
	i_assert(dev->user != NULL && dev->device_id != NULL);
	return as_store_write(store, as_store_device_put_txn,
			      (void *)dev, error_r);
}

struct as_store_device_list_ctx {
	pool_t pool;
	const char *user;
	ARRAY_TYPE(const_string) *ids;
	ARRAY_TYPE(as_device) *devices;
};

static int
as_store_device_list_item(const MDB_val *key, const MDB_val *data,
			  void *context, const char **error_r)
{
	struct as_store_device_list_ctx *ctx = context;
	struct as_device *dev;
	const char *parts[2], *error;

	if (as_store_key_split(key, ctx->pool, N_ELEMENTS(parts), parts) < 0) {
		*error_r = "Corrupted device key in state store";
		return -1;
	}
	if (ctx->ids != NULL) {
		const char *id = ctx->user != NULL ? parts[1] :
			p_strconcat(ctx->pool, parts[0], "\t",
				    parts[1], NULL);
		array_push_back(ctx->ids, &id);
		return 0;
	}
	dev = array_append_space(ctx->devices);
	dev->user = parts[0];
	dev->device_id = parts[1];
	if (as_store_device_decode(data->mv_data, data->mv_size, ctx->pool,
				   dev, &error) < 0) {
		*error_r = t_strdup_printf(
			"Corrupted device record (user=%s, device=%s): %s",
			parts[0], parts[1], error);
		return -1;
	}
	return 0;
}

static int
as_store_device_list_txn(struct as_store_txn *txn, void *context,
			 const char **error_r)
{
	struct as_store_device_list_ctx *ctx = context;
	buffer_t *prefix = NULL;

	if (ctx->user != NULL) {
		prefix = as_store_key_new();
		as_store_key_add_str(prefix, ctx->user);
	}
	if (as_store_txn_foreach_prefix(txn, AS_STORE_DB_DEVICES, prefix,
					as_store_device_list_item, ctx,
					error_r) < 0)
		return -1;
	return (ctx->ids != NULL ? array_count(ctx->ids) :
		array_count(ctx->devices)) > 0 ? 1 : 0;
}

int as_store_device_list(struct as_store *store, pool_t pool,
			 const char *user, ARRAY_TYPE(const_string) *ids_r,
			 const char **error_r)
{
	struct as_store_device_list_ctx ctx = {
		.pool = pool,
		.user = user,
		.ids = ids_r,
	};

	if (!array_is_created(ids_r))
		p_array_init(ids_r, pool, 8);
	else
		array_clear(ids_r);
	return as_store_read(store, as_store_device_list_txn, &ctx, error_r);
}

int as_store_device_list_full(struct as_store *store, pool_t pool,
			      const char *user,
			      ARRAY_TYPE(as_device) *devices_r,
			      const char **error_r)
{
	struct as_store_device_list_ctx ctx = {
		.pool = pool,
		.user = user,
		.devices = devices_r,
	};

	if (!array_is_created(devices_r))
		p_array_init(devices_r, pool, 8);
	else
		array_clear(devices_r);
	return as_store_read(store, as_store_device_list_txn, &ctx, error_r);
}

struct as_store_device_remove_ctx {
	const char *user, *device_id;
	bool keep_device;
};

static int
as_store_device_remove_txn(struct as_store_txn *txn, void *context,
			   const char **error_r)
{
	struct as_store_device_remove_ctx *ctx = context;
	buffer_t *key = as_store_key_device(ctx->user, ctx->device_id);
	unsigned int count;
	int ret;

	if (ctx->keep_device)
		ret = 1;
	else if ((ret = as_store_txn_del(txn, AS_STORE_DB_DEVICES, key,
					 error_r)) < 0)
		return -1;
	/* "user\0device\0" is also the prefix of all its sync states */
	if (as_store_txn_del_prefix(txn, AS_STORE_DB_HIERARCHY, key, NULL,
				    &count, error_r) < 0 ||
	    as_store_txn_del_prefix(txn, AS_STORE_DB_COLLECTIONS, key, NULL,
				    &count, error_r) < 0)
		return -1;
	/* device properties (as-store-itemprops.h) survive a reset */
	if (!ctx->keep_device &&
	    as_store_txn_del_prefix(txn, AS_STORE_DB_DEVICE_PROPS, key, NULL,
				    &count, error_r) < 0)
		return -1;
	/* sent ClientIds survive a reset (the device may still resend) */
	if (!ctx->keep_device &&
	    as_store_txn_del_prefix(txn, AS_STORE_DB_CLIENT_IDS, key, NULL,
				    &count, error_r) < 0)
		return -1;
	return ret;
}

int as_store_device_remove(struct as_store *store, const char *user,
			   const char *device_id, const char **error_r)
{
	struct as_store_device_remove_ctx ctx = {
		.user = user,
		.device_id = device_id,
	};

	return as_store_write(store, as_store_device_remove_txn, &ctx,
			      error_r);
}

int as_store_device_reset(struct as_store *store, const char *user,
			  const char *device_id, const char **error_r)
{
	struct as_store_device_remove_ctx ctx = {
		.user = user,
		.device_id = device_id,
		.keep_device = TRUE,
	};

	return as_store_write(store, as_store_device_remove_txn, &ctx,
			      error_r);
}
