/* Copyright (c) the dovecot-activesync authors, see AUTHORS */

#include "lib.h"
#include "str.h"
#include "str-sanitize.h"
#include "base64.h"
#include "hex-binary.h"

#include <ctype.h>
#include "as-request.h"

/* MS-ASHTTP 2.2.1.1.1.1.2: command codes of the base64 form */
static const char *const as_command_codes[] = {
	[0] = "Sync",
	[1] = "SendMail",
	[2] = "SmartForward",
	[3] = "SmartReply",
	[4] = "GetAttachment",
	[9] = "FolderSync",
	[10] = "FolderCreate",
	[11] = "FolderDelete",
	[12] = "FolderUpdate",
	[13] = "MoveItems",
	[14] = "GetItemEstimate",
	[15] = "MeetingResponse",
	[16] = "Search",
	[17] = "Settings",
	[18] = "Ping",
	[19] = "ItemOperations",
	[20] = "Provision",
	[21] = "ResolveRecipients",
	[22] = "ValidateCert",
	[23] = "Find",
};

/* MS-ASHTTP 2.2.1.1.1.1.3: command parameter tags of the base64 form */
enum as_b64_param {
	AS_B64_ATTACHMENT_NAME = 0,
	AS_B64_COLLECTION_ID = 1,
	AS_B64_COLLECTION_NAME = 2,
	AS_B64_ITEM_ID = 3,
	AS_B64_LONG_ID = 4,
	AS_B64_PARENT_ID = 5,
	AS_B64_OCCURRENCE = 6,
	AS_B64_OPTIONS = 7,
	AS_B64_USER = 8,
};
#define AS_B64_OPTION_SAVE_IN_SENT 0x01
#define AS_B64_OPTION_ACCEPT_MULTIPART 0x02

static const struct {
	const char *str;
	unsigned int version;
} as_versions[] = {
	{ "12.0", AS_VERSION_12_0 },
	{ "12.1", AS_VERSION_12_1 },
	{ "14.0", AS_VERSION_14_0 },
	{ "14.1", AS_VERSION_14_1 },
	{ "16.0", AS_VERSION_16_0 },
	{ "16.1", AS_VERSION_16_1 },
};

unsigned int as_version_parse(const char *str)
{
	unsigned int i;

	for (i = 0; i < N_ELEMENTS(as_versions); i++) {
		if (strcmp(as_versions[i].str, str) == 0)
			return as_versions[i].version;
	}
	return 0;
}

const char *as_version_list(unsigned int max)
{
	string_t *str = t_str_new(64);
	unsigned int i;

	for (i = 0; i < N_ELEMENTS(as_versions); i++) {
		if (as_versions[i].version > max)
			break;
		if (i > 0)
			str_append_c(str, ',');
		str_append(str, as_versions[i].str);
	}
	return str_c(str);
}

const char *as_version_to_str(unsigned int version)
{
	unsigned int i;

	for (i = 0; i < N_ELEMENTS(as_versions); i++) {
		if (as_versions[i].version == version)
			return as_versions[i].str;
	}
	return NULL;
}

const char *as_request_command_name(unsigned int code)
{
	if (code >= N_ELEMENTS(as_command_codes))
		return NULL;
	return as_command_codes[code];
}

int as_request_set_version(struct as_request *req, const char *version_str)
{
	req->version_str = version_str;
	req->version = version_str == NULL ? 0 : as_version_parse(version_str);
	return req->version == 0 ? -1 : 0;
}

int as_request_set_policy_key(struct as_request *req, const char *value)
{
	if (value == NULL || value[0] == '\0') {
		req->has_policy_key = FALSE;
		return 0;
	}
	if (str_to_uint32(value, &req->policy_key) < 0)
		return -1;
	req->has_policy_key = TRUE;
	return 0;
}

/* Decode %XX escapes and '+' of a query component. In the base64 form
   '+' is a base64 character that clients often leave unescaped. */
static bool as_url_decode(const char *src, string_t *dest, bool plus_is_space)
{
	for (; *src != '\0'; src++) {
		if (*src == '+' && plus_is_space)
			str_append_c(dest, ' ');
		else if (*src != '%')
			str_append_c(dest, *src);
		else {
			unsigned char hex[2];
			buffer_t *buf;

			if (!i_isxdigit(src[1]) || !i_isxdigit(src[2]))
				return FALSE;
			hex[0] = src[1];
			hex[1] = src[2];
			buf = t_buffer_create(1);
			if (hex_to_binary(t_strndup(hex, 2), buf) < 0 ||
			    buf->used != 1)
				return FALSE;
			str_append_c(dest, *(const char *)buf->data);
			src += 2;
		}
	}
	return TRUE;
}

static bool as_param_value_valid(const char *value)
{
	/* identifiers end up in logs and LMDB keys: no controls */
	for (; *value != '\0'; value++) {
		if ((unsigned char)*value < 0x20 || *value == 0x7f)
			return FALSE;
	}
	return TRUE;
}

static int
as_request_set_param(pool_t pool, struct as_request *req,
		     const char *key, const char *value)
{
	static const struct {
		const char *name;
		size_t offset;
	} params[] = {
		{ "Cmd", offsetof(struct as_request, cmd) },
		{ "User", offsetof(struct as_request, user) },
		{ "DeviceId", offsetof(struct as_request, device_id) },
		{ "DeviceType", offsetof(struct as_request, device_type) },
		{ "AttachmentName", offsetof(struct as_request, attachment_name) },
		{ "CollectionId", offsetof(struct as_request, collection_id) },
		{ "ItemId", offsetof(struct as_request, item_id) },
		{ "LongId", offsetof(struct as_request, long_id) },
		{ "Occurrence", offsetof(struct as_request, occurrence) },
	};
	unsigned int i;

	if (!as_param_value_valid(value))
		return -1;
	if (strcasecmp(key, "SaveInSent") == 0) {
		req->save_in_sent = strcasecmp(value, "T") == 0;
		return 0;
	}
	for (i = 0; i < N_ELEMENTS(params); i++) {
		if (strcasecmp(params[i].name, key) == 0) {
			const char **ptr = PTR_OFFSET(req, params[i].offset);
			*ptr = p_strdup(pool, value);
			return 0;
		}
	}
	/* unknown parameters are ignored, as clients add their own */
	return 0;
}

static int
as_request_parse_plain(pool_t pool, const char *query,
		       struct as_request *req, const char **error_r)
{
	const char *const *args = t_strsplit(query, "&");
	string_t *key = t_str_new(32), *value = t_str_new(64);

	for (; *args != NULL; args++) {
		const char *p = strchr(*args, '=');

		if (**args == '\0')
			continue;
		str_truncate(key, 0);
		str_truncate(value, 0);
		if (p == NULL) {
			*error_r = t_strdup_printf(
				"Query parameter without value: %s",
				str_sanitize(*args, 64));
			return -1;
		}
		if (!as_url_decode(t_strdup_until(*args, p), key, TRUE) ||
		    !as_url_decode(p + 1, value, TRUE)) {
			*error_r = "Invalid %-encoding in query";
			return -1;
		}
		if (as_request_set_param(pool, req, str_c(key),
					 str_c(value)) < 0) {
			*error_r = t_strdup_printf(
				"Invalid value for query parameter %s",
				str_sanitize(str_c(key), 32));
			return -1;
		}
	}
	return 0;
}

static const char *
as_b64_string(pool_t pool, const unsigned char *data, size_t size)
{
	size_t i;

	/* device ids may be raw GUID bytes in this form: hex them */
	for (i = 0; i < size; i++) {
		if (data[i] < 0x21 || data[i] > 0x7e)
			return p_strdup(pool, binary_to_hex(data, size));
	}
	return p_strndup(pool, data, size);
}

static int
as_request_parse_base64(pool_t pool, const char *query,
			struct as_request *req, const char **error_r)
{
	buffer_t *buf;
	const unsigned char *p, *end;
	string_t *decoded_query = t_str_new(strlen(query));
	size_t len;

	/* the value may itself be %-encoded by the client */
	if (!as_url_decode(query, decoded_query, FALSE)) {
		*error_r = "Invalid %-encoding in base64 query";
		return -1;
	}
	for (p = str_data(decoded_query); *p != '\0'; p++) {
		if (!base64_is_valid_char(*p) && *p != '=') {
			*error_r = "Invalid base64 query";
			return -1;
		}
	}
	buf = t_base64_decode_str(str_c(decoded_query));
	p = buf->data;
	end = p + buf->used;

	/* version, command, locale(2), device id length */
	if (end - p < 5) {
		*error_r = "Base64 query too short";
		return -1;
	}
	req->version_str = t_strdup_printf("%u.%u", p[0] / 10, p[0] % 10);
	req->version = as_version_parse(req->version_str);
	req->cmd = as_request_command_name(p[1]);
	if (req->cmd == NULL) {
		req->cmd = p_strdup_printf(pool, "#%u", p[1]);
	}
	p += 4;

	len = *p++;
	if ((size_t)(end - p) < len) {
		*error_r = "Base64 query: truncated device id";
		return -1;
	}
	req->device_id = as_b64_string(pool, p, len);
	p += len;

	if (p >= end) {
		*error_r = "Base64 query: missing policy key length";
		return -1;
	}
	len = *p++;
	if (len == 4) {
		if (end - p < 4) {
			*error_r = "Base64 query: truncated policy key";
			return -1;
		}
		req->policy_key = p[0] | (p[1] << 8) | (p[2] << 16) |
			((uint32_t)p[3] << 24);
		req->has_policy_key = TRUE;
		p += 4;
	} else if (len != 0) {
		*error_r = "Base64 query: invalid policy key length";
		return -1;
	}

	if (p >= end) {
		*error_r = "Base64 query: missing device type";
		return -1;
	}
	len = *p++;
	if ((size_t)(end - p) < len) {
		*error_r = "Base64 query: truncated device type";
		return -1;
	}
	req->device_type = p_strndup(pool, p, len);
	p += len;

	while (p < end) {
		unsigned int tag;

		if (end - p < 2) {
			*error_r = "Base64 query: truncated parameter";
			return -1;
		}
		tag = p[0];
		len = p[1];
		p += 2;
		if ((size_t)(end - p) < len) {
			*error_r = "Base64 query: truncated parameter value";
			return -1;
		}
		switch (tag) {
		case AS_B64_ATTACHMENT_NAME:
			req->attachment_name = p_strndup(pool, p, len);
			break;
		case AS_B64_COLLECTION_ID:
			req->collection_id = p_strndup(pool, p, len);
			break;
		case AS_B64_ITEM_ID:
			req->item_id = p_strndup(pool, p, len);
			break;
		case AS_B64_LONG_ID:
			req->long_id = p_strndup(pool, p, len);
			break;
		case AS_B64_OCCURRENCE:
			req->occurrence = p_strndup(pool, p, len);
			break;
		case AS_B64_OPTIONS:
			if (len >= 1) {
				req->save_in_sent =
					(p[0] & AS_B64_OPTION_SAVE_IN_SENT) != 0;
				req->accept_multipart =
					(p[0] & AS_B64_OPTION_ACCEPT_MULTIPART) != 0;
			}
			break;
		case AS_B64_USER:
			req->user = p_strndup(pool, p, len);
			break;
		default:
			/* collection name, parent id: unused */
			break;
		}
		p += len;
	}
	req->base64_form = TRUE;
	return 0;
}

int as_request_parse_query(pool_t pool, const char *query,
			   struct as_request *req_r, const char **error_r)
{
	int ret;

	i_zero(req_r);
	if (query == NULL || query[0] == '\0') {
		*error_r = "Missing query";
		return -1;
	}
	/* base64 has no '&' and never starts with "Cmd=" (it would decode
	   to a version byte of 10) */
	if (strchr(query, '&') != NULL || strncasecmp(query, "Cmd=", 4) == 0)
		ret = as_request_parse_plain(pool, query, req_r, error_r);
	else
		ret = as_request_parse_base64(pool, query, req_r, error_r);
	if (ret < 0)
		return -1;

	if (req_r->cmd == NULL || req_r->cmd[0] == '\0') {
		*error_r = "Missing Cmd parameter";
		return -1;
	}
	if (req_r->device_id == NULL || req_r->device_id[0] == '\0') {
		*error_r = "Missing DeviceId parameter";
		return -1;
	}
	if (strlen(req_r->device_id) > 128) {
		*error_r = "DeviceId too long";
		return -1;
	}
	if (req_r->device_type == NULL || req_r->device_type[0] == '\0') {
		*error_r = "Missing DeviceType parameter";
		return -1;
	}
	return 0;
}
