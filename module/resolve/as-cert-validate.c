/* Copyright (c) the dovecot-activesync authors, see AUTHORS */

#include "lib.h"
#include "resolve/as-cert-validate.h"

#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

struct as_cert_validator {
	X509_STORE *store;
	/* the device's CertificateChain */
	STACK_OF(X509) *untrusted;
};

/* OpenSSL's verdict to the spec's status; depth 0 is the certificate
   itself, more is a CA above it */
static const struct {
	int error;
	enum as_cert_status leaf, chain;
} as_cert_error_map[] = {
	{ X509_V_ERR_CERT_HAS_EXPIRED,
	  AS_CERT_STATUS_EXPIRED, AS_CERT_STATUS_CHAIN_VALIDITY },
	{ X509_V_ERR_CERT_NOT_YET_VALID,
	  AS_CERT_STATUS_EXPIRED, AS_CERT_STATUS_CHAIN_VALIDITY },
	{ X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT,
	  AS_CERT_STATUS_UNTRUSTED, AS_CERT_STATUS_UNTRUSTED },
	{ X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN,
	  AS_CERT_STATUS_UNTRUSTED, AS_CERT_STATUS_UNTRUSTED },
	{ X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
	  AS_CERT_STATUS_UNTRUSTED, AS_CERT_STATUS_UNTRUSTED },
	{ X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT,
	  AS_CERT_STATUS_UNTRUSTED, AS_CERT_STATUS_UNTRUSTED },
	{ X509_V_ERR_CERT_UNTRUSTED,
	  AS_CERT_STATUS_UNTRUSTED, AS_CERT_STATUS_UNTRUSTED },
	{ X509_V_ERR_CERT_REJECTED,
	  AS_CERT_STATUS_UNTRUSTED, AS_CERT_STATUS_UNTRUSTED },
	{ X509_V_ERR_CERT_SIGNATURE_FAILURE,
	  AS_CERT_STATUS_BAD_SIGNATURE, AS_CERT_STATUS_BAD_SIGNATURE },
	{ X509_V_ERR_UNABLE_TO_DECRYPT_CERT_SIGNATURE,
	  AS_CERT_STATUS_BAD_SIGNATURE, AS_CERT_STATUS_BAD_SIGNATURE },
	{ X509_V_ERR_UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY,
	  AS_CERT_STATUS_BAD_SIGNATURE, AS_CERT_STATUS_BAD_SIGNATURE },
	{ X509_V_ERR_INVALID_PURPOSE,
	  AS_CERT_STATUS_NOT_FOR_EMAIL, AS_CERT_STATUS_MISUSED },
	{ X509_V_ERR_INVALID_CA,
	  AS_CERT_STATUS_CA_MISUSED, AS_CERT_STATUS_CA_MISUSED },
	{ X509_V_ERR_PATH_LENGTH_EXCEEDED,
	  AS_CERT_STATUS_CA_MISUSED, AS_CERT_STATUS_CA_MISUSED },
	{ X509_V_ERR_CERT_CHAIN_TOO_LONG,
	  AS_CERT_STATUS_BAD_CHAIN, AS_CERT_STATUS_BAD_CHAIN },
	{ X509_V_ERR_CERT_REVOKED,
	  AS_CERT_STATUS_REVOKED, AS_CERT_STATUS_CHAIN_REVOKED },
	{ X509_V_ERR_UNABLE_TO_GET_CRL,
	  AS_CERT_STATUS_REVOCATION_UNKNOWN,
	  AS_CERT_STATUS_REVOCATION_UNKNOWN },
	{ X509_V_ERR_CRL_HAS_EXPIRED,
	  AS_CERT_STATUS_REVOCATION_UNKNOWN,
	  AS_CERT_STATUS_REVOCATION_UNKNOWN },
	{ X509_V_ERR_CRL_NOT_YET_VALID,
	  AS_CERT_STATUS_REVOCATION_UNKNOWN,
	  AS_CERT_STATUS_REVOCATION_UNKNOWN },
	{ X509_V_ERR_CRL_SIGNATURE_FAILURE,
	  AS_CERT_STATUS_REVOCATION_UNKNOWN,
	  AS_CERT_STATUS_REVOCATION_UNKNOWN },
	{ X509_V_ERR_ERROR_IN_CERT_NOT_BEFORE_FIELD,
	  AS_CERT_STATUS_MALFORMED, AS_CERT_STATUS_MALFORMED },
	{ X509_V_ERR_ERROR_IN_CERT_NOT_AFTER_FIELD,
	  AS_CERT_STATUS_MALFORMED, AS_CERT_STATUS_MALFORMED },
};

static const char *as_cert_openssl_error(void)
{
	unsigned long err = ERR_get_error();

	ERR_clear_error();
	return err == 0 ? "unknown error" : ERR_error_string(err, NULL);
}

struct as_cert_validator *
as_cert_validator_init(const char *ca_file, const char **error_r)
{
	struct as_cert_validator *v;

	v = i_new(struct as_cert_validator, 1);
	v->store = X509_STORE_new();
	v->untrusted = sk_X509_new_null();
	if (v->store == NULL || v->untrusted == NULL) {
		*error_r = t_strdup_printf("OpenSSL: %s",
					   as_cert_openssl_error());
		as_cert_validator_deinit(&v);
		return NULL;
	}
	if (X509_STORE_set_default_paths(v->store) != 1) {
		*error_r = t_strdup_printf("The system's trust store: %s",
					   as_cert_openssl_error());
		as_cert_validator_deinit(&v);
		return NULL;
	}
	if (ca_file != NULL && *ca_file != '\0' &&
	    X509_STORE_load_locations(v->store, ca_file, NULL) != 1) {
		*error_r = t_strdup_printf("activesync_trusted_ca_file %s: %s",
					   ca_file, as_cert_openssl_error());
		as_cert_validator_deinit(&v);
		return NULL;
	}
	return v;
}

void as_cert_validator_deinit(struct as_cert_validator **_validator)
{
	struct as_cert_validator *v = *_validator;

	*_validator = NULL;
	if (v->untrusted != NULL)
		sk_X509_pop_free(v->untrusted, X509_free);
	if (v->store != NULL)
		X509_STORE_free(v->store);
	i_free(v);
}

/* The whole input must be one certificate */
static X509 *as_cert_parse(const void *der, size_t size)
{
	const unsigned char *p = der;
	X509 *cert;

	if (size == 0 || size > LONG_MAX)
		return NULL;
	cert = d2i_X509(NULL, &p, (long)size);
	if (cert != NULL && p != (const unsigned char *)der + size) {
		X509_free(cert);
		cert = NULL;
	}
	ERR_clear_error();
	return cert;
}

bool as_cert_validator_add_chain(struct as_cert_validator *v,
				 const void *der, size_t size)
{
	X509 *cert = as_cert_parse(der, size);

	if (cert == NULL)
		return FALSE;
	if (sk_X509_push(v->untrusted, cert) == 0) {
		X509_free(cert);
		return FALSE;
	}
	return TRUE;
}

static enum as_cert_status as_cert_map_error(int error, int depth)
{
	unsigned int i;

	for (i = 0; i < N_ELEMENTS(as_cert_error_map); i++) {
		if (as_cert_error_map[i].error == error) {
			return depth == 0 ? as_cert_error_map[i].leaf :
				as_cert_error_map[i].chain;
		}
	}
	return AS_CERT_STATUS_BAD_CHAIN;
}

enum as_cert_status
as_cert_validate(struct as_cert_validator *v, const void *der, size_t size,
		 bool check_crl, time_t now, const char **reason_r)
{
	X509_STORE_CTX *ctx;
	X509_VERIFY_PARAM *param;
	enum as_cert_status status;
	X509 *cert;
	int error, depth;

	cert = as_cert_parse(der, size);
	if (cert == NULL) {
		*reason_r = "not a DER certificate";
		return AS_CERT_STATUS_MALFORMED;
	}
	ctx = X509_STORE_CTX_new();
	if (ctx == NULL ||
	    X509_STORE_CTX_init(ctx, v->store, cert, v->untrusted) != 1) {
		*reason_r = t_strdup_printf("OpenSSL: %s",
					    as_cert_openssl_error());
		X509_STORE_CTX_free(ctx);
		X509_free(cert);
		return AS_CERT_STATUS_SERVER_ERROR;
	}
	param = X509_STORE_CTX_get0_param(ctx);
	X509_VERIFY_PARAM_set_time(param, now);
	if (check_crl)
		X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_CRL_CHECK);
	/* signing mail is what the device wants it for */
	(void)X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SMIME_SIGN);

	if (X509_verify_cert(ctx) == 1) {
		status = AS_CERT_STATUS_VALID;
		*reason_r = "valid";
	} else {
		error = X509_STORE_CTX_get_error(ctx);
		depth = X509_STORE_CTX_get_error_depth(ctx);
		status = as_cert_map_error(error, depth);
		*reason_r = t_strdup_printf("%s (depth %d)",
			X509_verify_cert_error_string(error), depth);
	}
	ERR_clear_error();
	X509_STORE_CTX_free(ctx);
	X509_free(cert);
	return status;
}
