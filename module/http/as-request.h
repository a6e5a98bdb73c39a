#ifndef AS_REQUEST_H
#define AS_REQUEST_H

/* One EAS request as described by its URL query and headers (MS-ASHTTP):
   the plain form "Cmd=..&User=..&DeviceId=..&DeviceType=.." or the
   base64-encoded binary form. */

/* Protocol versions times ten: 12.0 = 120 ... 16.1 = 161 */
enum as_protocol_version {
	AS_VERSION_12_0 = 120,
	AS_VERSION_12_1 = 121,
	AS_VERSION_14_0 = 140,
	AS_VERSION_14_1 = 141,
	AS_VERSION_16_0 = 160,
	AS_VERSION_16_1 = 161,
};

#define AS_SUPPORTED_VERSIONS "12.0,12.1,14.0,14.1,16.0,16.1"

struct as_request {
	const char *cmd;
	const char *user;	/* User= parameter, may be NULL */
	const char *device_id;
	const char *device_type;
	/* Command parameters */
	const char *attachment_name;
	const char *collection_id;
	const char *item_id;
	const char *long_id;
	const char *occurrence;
	bool save_in_sent;
	bool accept_multipart;

	/* From MS-ASProtocolVersion header or the base64 form */
	const char *version_str;
	unsigned int version; /* enum as_protocol_version, 0 if unsupported */
	/* X-MS-PolicyKey or the base64 form; has_policy_key = FALSE if absent */
	uint32_t policy_key;
	bool has_policy_key;
	const char *user_agent;
	bool base64_form;
};

/* Parse the query string (without '?'). Returns 0 on success, -1 with
   error_r on a malformed query. Missing Cmd/DeviceId/DeviceType is an
   error. Strings are allocated from pool. */
int as_request_parse_query(pool_t pool, const char *query,
			   struct as_request *req_r, const char **error_r);
/* Apply the MS-ASProtocolVersion header (plain form only). Returns -1 if
   the version is not supported. */
int as_request_set_version(struct as_request *req, const char *version_str);
/* Parse a policy key header value. Returns -1 if invalid. */
int as_request_set_policy_key(struct as_request *req, const char *value);

/* The supported versions up to max, comma-separated (as in
   MS-ASProtocolVersions) */
const char *as_version_list(unsigned int max);
unsigned int as_version_parse(const char *str);
const char *as_version_to_str(unsigned int version);

/* Command name for the base64 form's command code, NULL if unknown. */
const char *as_request_command_name(unsigned int code);

#endif
