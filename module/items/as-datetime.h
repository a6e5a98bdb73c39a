#ifndef AS_DATETIME_H
#define AS_DATETIME_H

/* MS-ASDTYPE date-times, always UTC */

/* dateTime: 2024-03-01T09:00:00.000Z (data stack) */
const char *as_datetime_format(time_t t);
/* The compact form some classes use (Notes' LastModifiedDate):
   20240301T090000Z (data stack) */
const char *as_datetime_format_compact(time_t t);
/* Either form, milliseconds and the Z optional. FALSE if malformed or
   out of range (years before 1601 included). */
bool as_datetime_parse(const char *str, time_t *t_r);

#endif
