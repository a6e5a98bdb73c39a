/* Copyright (c) the dovecot-activesync authors, see AUTHORS */

#include "lib.h"
#include "array.h"
#include "buffer.h"
#include "base64.h"
#include "ioloop.h"
#include "as-command.h"
#include "as-settings.h"
#include "resolve/as-cert-validate.h"

/* ValidateCert (MS-ASCMD 2.2.1.22): the device asks whether S/MIME
   certificates (base64 DER) are valid; CertificateChain gives the
   intermediate CAs to build the chains with. Each certificate gets its
   own Status; the top-level one says whether the request could be
   answered. */

/* Certificates per request, and size of one, at most */
#define VALIDATECERT_MAX_CERTS 100
#define VALIDATECERT_MAX_CERT_SIZE (64 * 1024)

ARRAY_DEFINE_TYPE(validatecert_der, buffer_t *);

static bool
validatecert_decode(const struct wbxml_node *node, buffer_t **der_r)
{
	const char *text = wbxml_node_text(node);
	size_t len = strlen(text);
	buffer_t *der;

	if (len == 0 || len != node->data_size ||
	    len > MAX_BASE64_ENCODED_SIZE(VALIDATECERT_MAX_CERT_SIZE))
		return FALSE;
	der = t_buffer_create(MAX_BASE64_DECODED_SIZE(len));
	if (base64_decode(text, len, NULL, der) < 0 || der->used == 0)
		return FALSE;
	*der_r = der;
	return TRUE;
}

/* The Certificate children of parent, decoded; FALSE on bad input */
static bool
validatecert_list(struct as_cmd_context *ctx, const struct wbxml_node *parent,
		  ARRAY_TYPE(validatecert_der) *certs)
{
	const struct wbxml_node *child;
	buffer_t *der;

	if (parent == NULL)
		return TRUE;
	wbxml_node_foreach_child(parent, child) {
		if (child->tag != EAS_VALIDATECERT_CERTIFICATE) {
			e_info(ctx->event, "ValidateCert: unexpected %s",
			       t_strdup(wbxml_tag_name(child->tag)));
			return FALSE;
		}
		if (array_count(certs) >= VALIDATECERT_MAX_CERTS) {
			e_info(ctx->event, "ValidateCert: more than %u "
			       "certificates", VALIDATECERT_MAX_CERTS);
			return FALSE;
		}
		if (!validatecert_decode(child, &der)) {
			e_info(ctx->event, "ValidateCert: a Certificate is "
			       "not base64 (or larger than %u bytes)",
			       VALIDATECERT_MAX_CERT_SIZE);
			return FALSE;
		}
		array_push_back(certs, &der);
	}
	return TRUE;
}

enum as_command_result cmd_validatecert(struct as_cmd_context *ctx)
{
	struct as_cert_validator *validator;
	ARRAY_TYPE(validatecert_der) certs, chain;
	const char *check_crl, *error, *reason;
	enum as_cert_status status;
	buffer_t *der;
	unsigned int i;

	t_array_init(&certs, 4);
	t_array_init(&chain, 4);
	check_crl = wbxml_node_child_text(ctx->root, EAS_VALIDATECERT_CHECKCRL);
	if ((check_crl != NULL && strcmp(check_crl, "0") != 0 &&
	     strcmp(check_crl, "1") != 0) ||
	    !validatecert_list(ctx, wbxml_node_child(ctx->root,
				EAS_VALIDATECERT_CERTIFICATES), &certs) ||
	    !validatecert_list(ctx, wbxml_node_child(ctx->root,
				EAS_VALIDATECERT_CERTIFICATECHAIN), &chain)) {
		as_cmd_write_status(ctx, AS_CERT_STATUS_PROTOCOL_ERROR);
		return AS_CMD_DONE;
	}
	if (array_count(&certs) == 0) {
		e_info(ctx->event, "ValidateCert: no Certificates");
		as_cmd_write_status(ctx, AS_CERT_STATUS_PROTOCOL_ERROR);
		return AS_CMD_DONE;
	}

	validator = as_cert_validator_init(ctx->set->trusted_ca_file, &error);
	if (validator == NULL) {
		e_error(ctx->event, "ValidateCert: %s", error);
		as_cmd_write_status(ctx, AS_CERT_STATUS_SERVER_ERROR);
		return AS_CMD_DONE;
	}
	array_foreach_elem(&chain, der) {
		if (!as_cert_validator_add_chain(validator, der->data,
						 der->used)) {
			e_info(ctx->event, "ValidateCert: a CertificateChain "
			       "certificate is not DER; left out");
		}
	}

	wbxml_start(ctx->writer, EAS_VALIDATECERT_VALIDATECERT);
	wbxml_elem_uint(ctx->writer, EAS_VALIDATECERT_STATUS,
			AS_CERT_STATUS_VALID);
	i = 0;
	array_foreach_elem(&certs, der) {
		status = as_cert_validate(validator, der->data, der->used,
					  null_strcmp(check_crl, "1") == 0,
					  ioloop_time, &reason);
		e_debug(ctx->event, "ValidateCert: certificate %u: Status %u "
			"(%s)", ++i, status, reason);
		wbxml_start(ctx->writer, EAS_VALIDATECERT_CERTIFICATE);
		wbxml_elem_uint(ctx->writer, EAS_VALIDATECERT_STATUS, status);
		wbxml_end(ctx->writer);
	}
	wbxml_end(ctx->writer);
	as_cert_validator_deinit(&validator);
	return AS_CMD_DONE;
}
