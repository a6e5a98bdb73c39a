#include "lib.h"
#include "buffer.h"
#include "byteorder.h"
#include "as-store-record.h"

void as_record_write_version(buffer_t *buf, uint8_t version)
{
	i_assert(version > 0);
	buffer_append_c(buf, version);
}

void as_record_write_u32(buffer_t *buf, uint32_t num)
{
	unsigned char tmp[sizeof(uint32_t)];

	cpu32_to_le_unaligned(num, tmp);
	buffer_append(buf, tmp, sizeof(tmp));
}

void as_record_write_u64(buffer_t *buf, uint64_t num)
{
	unsigned char tmp[sizeof(uint64_t)];

	cpu64_to_le_unaligned(num, tmp);
	buffer_append(buf, tmp, sizeof(tmp));
}

void as_record_write_str(buffer_t *buf, const char *str)
{
	size_t len = str == NULL ? 0 : strlen(str);

	i_assert(len < UINT32_MAX);
	as_record_write_u32(buf, (uint32_t)len);
	buffer_append(buf, str, len);
}

void as_record_write_data(buffer_t *buf, const void *data, size_t size)
{
	buffer_append(buf, data, size);
}

void as_record_reader_init(struct as_record_reader *reader,
			   const void *data, size_t size)
{
	i_zero(reader);
	reader->data = data;
	reader->end = reader->data + size;
}

void as_record_reader_fail(struct as_record_reader *reader,
			   const char *error)
{
	if (reader->error == NULL)
		reader->error = error;
	/* stop all further reads */
	reader->data = reader->end;
}

bool as_record_reader_failed(const struct as_record_reader *reader)
{
	return reader->error != NULL;
}

static size_t as_record_left(const struct as_record_reader *reader)
{
	return (size_t)(reader->end - reader->data);
}

/* Returns a pointer to size bytes and advances, or NULL (and fails). */
static const unsigned char *
as_record_take(struct as_record_reader *reader, size_t size)
{
	const unsigned char *p;

	if (reader->error != NULL)
		return NULL;
	if (as_record_left(reader) < size) {
		as_record_reader_fail(reader, "Truncated record");
		return NULL;
	}
	p = reader->data;
	reader->data += size;
	return p;
}

uint8_t as_record_read_version(struct as_record_reader *reader,
			       uint8_t max_version)
{
	const unsigned char *p = as_record_take(reader, 1);

	if (p == NULL)
		return 0;
	if (*p == 0 || *p > max_version) {
		as_record_reader_fail(reader, t_strdup_printf(
			"Unsupported record version %u", *p));
		return 0;
	}
	return *p;
}

uint32_t as_record_read_u32(struct as_record_reader *reader)
{
	const unsigned char *p = as_record_take(reader, sizeof(uint32_t));

	return p == NULL ? 0 : le32_to_cpu_unaligned(p);
}

uint64_t as_record_read_u64(struct as_record_reader *reader)
{
	const unsigned char *p = as_record_take(reader, sizeof(uint64_t));

	return p == NULL ? 0 : le64_to_cpu_unaligned(p);
}

const char *as_record_read_str(struct as_record_reader *reader, pool_t pool)
{
	uint32_t len = as_record_read_u32(reader);
	const unsigned char *p;

	p = as_record_take(reader, len);
	if (p == NULL)
		return "";
	if (memchr(p, '\0', len) != NULL) {
		as_record_reader_fail(reader, "String contains NUL");
		return "";
	}
	return p_strndup(pool, p, len);
}

void as_record_read_data(struct as_record_reader *reader, void *data,
			 size_t size)
{
	const unsigned char *p = as_record_take(reader, size);

	if (p == NULL)
		memset(data, 0, size);
	else
		memcpy(data, p, size);
}

uint32_t as_record_read_count(struct as_record_reader *reader,
			      size_t min_item_size)
{
	uint32_t count = as_record_read_u32(reader);

	i_assert(min_item_size > 0);
	if (reader->error != NULL)
		return 0;
	if (count > as_record_left(reader) / min_item_size) {
		as_record_reader_fail(reader, t_strdup_printf(
			"Item count %u exceeds record size", count));
		return 0;
	}
	return count;
}

int as_record_reader_finish(struct as_record_reader *reader,
			    const char **error_r)
{
	if (reader->error == NULL && as_record_left(reader) > 0) {
		reader->error = t_strdup_printf(
			"%zu bytes of trailing garbage", as_record_left(reader));
	}
	if (reader->error != NULL) {
		*error_r = reader->error;
		return -1;
	}
	return 0;
}
