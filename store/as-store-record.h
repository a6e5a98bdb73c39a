#ifndef AS_STORE_RECORD_H
#define AS_STORE_RECORD_H

/* Versioned binary records: a version byte first, then little-endian
   integers and u32-length-prefixed strings (no NUL terminator, embedded NULs
   rejected on read). NULL strings are written as "" and read back as "".

   Reading is fail-safe: the reader remembers the first error, later reads
   return zeros / "", and as_record_reader_finish() reports it. Counts are
   checked against the remaining bytes before anything is allocated, so
   garbage can't cause huge allocations or out-of-bounds reads. */

struct as_record_reader {
	const unsigned char *data, *end;
	const char *error;
};

void as_record_write_version(buffer_t *buf, uint8_t version);
void as_record_write_u32(buffer_t *buf, uint32_t num);
void as_record_write_u64(buffer_t *buf, uint64_t num);
void as_record_write_str(buffer_t *buf, const char *str);
void as_record_write_data(buffer_t *buf, const void *data, size_t size);

void as_record_reader_init(struct as_record_reader *reader,
			   const void *data, size_t size);
/* Read the version byte; fails unless it is 1..max_version. */
uint8_t as_record_read_version(struct as_record_reader *reader,
			       uint8_t max_version);
uint32_t as_record_read_u32(struct as_record_reader *reader);
uint64_t as_record_read_u64(struct as_record_reader *reader);
const char *as_record_read_str(struct as_record_reader *reader, pool_t pool);
/* Copy exactly size bytes; zero-fills on failure. */
void as_record_read_data(struct as_record_reader *reader, void *data,
			 size_t size);
/* Read an item count and check that count * min_item_size bytes remain. */
uint32_t as_record_read_count(struct as_record_reader *reader,
			      size_t min_item_size);
/* Mark the record invalid (first error wins). */
void as_record_reader_fail(struct as_record_reader *reader,
			   const char *error);
bool as_record_reader_failed(const struct as_record_reader *reader);
/* Returns 0 if the whole record was read without errors, -1 otherwise
   (also for trailing garbage). */
int as_record_reader_finish(struct as_record_reader *reader,
			    const char **error_r);

#endif
