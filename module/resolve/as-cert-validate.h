#ifndef AS_CERT_VALIDATE_H
#define AS_CERT_VALIDATE_H

/* Certificate chain validation for ValidateCert (MS-ASCMD 2.2.1.22)
   with OpenSSL, against the system's trust store and an optional file
   of trusted CA certificates. */

/* Certificate/Status values (MS-ASCMD Status (ValidateCert)) */
enum as_cert_status {
	AS_CERT_STATUS_VALID = 1,
	AS_CERT_STATUS_PROTOCOL_ERROR = 2,
	AS_CERT_STATUS_BAD_SIGNATURE = 3,
	AS_CERT_STATUS_UNTRUSTED = 4,
	AS_CERT_STATUS_BAD_CHAIN = 5,
	AS_CERT_STATUS_NOT_FOR_EMAIL = 6,
	AS_CERT_STATUS_EXPIRED = 7,
	AS_CERT_STATUS_CHAIN_VALIDITY = 8,
	AS_CERT_STATUS_CA_MISUSED = 9,
	AS_CERT_STATUS_MALFORMED = 10,
	AS_CERT_STATUS_MISUSED = 11,
	AS_CERT_STATUS_REVOKED = 13,
	AS_CERT_STATUS_CRL_UNREACHABLE = 14,
	AS_CERT_STATUS_CHAIN_REVOKED = 15,
	AS_CERT_STATUS_REVOCATION_UNKNOWN = 16,
	AS_CERT_STATUS_SERVER_ERROR = 17,
};

struct as_cert_validator;

/* ca_file: PEM certificates (and CRLs) trusted besides the system's
   store, NULL or "" for none. Returns NULL with error_r if the store
   can't be set up. */
struct as_cert_validator *
as_cert_validator_init(const char *ca_file, const char **error_r);
void as_cert_validator_deinit(struct as_cert_validator **_validator);

/* Add a DER certificate the device sent in CertificateChain (not
   trusted, only used to build chains). FALSE if it isn't DER. */
bool as_cert_validator_add_chain(struct as_cert_validator *validator,
				 const void *der, size_t size);

/* Validate one DER certificate for S/MIME signing at now. check_crl:
   its revocation must be known (from CRLs in ca_file). *reason_r: a
   short text for the log. */
enum as_cert_status
as_cert_validate(struct as_cert_validator *validator, const void *der,
		 size_t size, bool check_crl, time_t now,
		 const char **reason_r);

#endif
