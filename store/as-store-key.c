#include "lib.h"
#include "buffer.h"
#include "byteorder.h"
#include "as-store-private.h"

buffer_t *as_store_key_new(void)
{
	return t_buffer_create(128);
}

void as_store_key_add_str(buffer_t *key, const char *str)
{
	/* the NUL separator makes "a"+"bc" differ from "ab"+"c", and keeps
	   one prefix's keys adjacent */
	buffer_append(key, str, strlen(str) + 1);
}

void as_store_key_add_u32(buffer_t *key, uint32_t num)
{
	unsigned char tmp[sizeof(uint32_t)];

	cpu32_to_be_unaligned(num, tmp);
	buffer_append(key, tmp, sizeof(tmp));
}

int as_store_key_split(const MDB_val *key, pool_t pool, unsigned int count,
		       const char **parts_r)
{
	const char *p = key->mv_data, *end = p + key->mv_size, *nul;
	unsigned int i;

	for (i = 0; i < count; i++) {
		nul = memchr(p, '\0', end - p);
		if (nul == NULL)
			return -1;
		parts_r[i] = p_strdup_until(pool, p, nul);
		p = nul + 1;
	}
	return p == end ? 0 : -1;
}

buffer_t *as_store_key_device(const char *user, const char *device_id)
{
	buffer_t *key = as_store_key_new();

	as_store_key_add_str(key, user);
	as_store_key_add_str(key, device_id);
	return key;
}
