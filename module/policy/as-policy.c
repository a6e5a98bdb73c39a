/* Copyright (c) the dovecot-activesync authors, see AUTHORS */

#include "lib.h"
#include "str.h"
#include "strnum.h"
#include "wbxml.h"
#include "as-request.h"
#include "as-policy.h"

/* The defaults describe a permissive policy: no device password, no
   encryption, everything allowed, nothing truncated. Rows follow the
   token order of the Provision code page, which is also the order
   Exchange writes them in. */
#define B(tag, name, min_version, def) \
	{ name, EAS_PROVISION_##tag, AS_POLICY_TYPE_BOOL, \
	  min_version, def, 0, 1, 0, 0 }
#define U(tag, name, min_version, def, min, max) \
	{ name, EAS_PROVISION_##tag, AS_POLICY_TYPE_UINT, \
	  min_version, def, min, max, 0, 0 }
#define UE(tag, name, min_version, def, min, max) \
	{ name, EAS_PROVISION_##tag, AS_POLICY_TYPE_UINT_OR_EMPTY, \
	  min_version, def, min, max, 0, 0 }
#define I(tag, name, min_version, def, min, max) \
	{ name, EAS_PROVISION_##tag, AS_POLICY_TYPE_INT, \
	  min_version, def, min, max, 0, 0 }
#define L(tag, name, min_version, item) \
	{ name, EAS_PROVISION_##tag, AS_POLICY_TYPE_LIST, \
	  min_version, "", 0, 0, EAS_PROVISION_##item, 0 }
/* server-side rows: no element, no version */
#define S(name, type, def, min, max, flags) \
	{ name, 0, AS_POLICY_TYPE_##type, 0, def, min, max, 0, \
	  AS_POLICY_FLAG_SERVER | (flags) }

#define V120 AS_VERSION_12_0
#define V121 AS_VERSION_12_1

const struct as_policy_setting as_policy_settings[] = {
	/* known since 12.0 */
	B(DEVICEPASSWORDENABLED, "DevicePasswordEnabled", V120, "0"),
	B(ALPHANUMERICDEVICEPASSWORDREQUIRED, "AlphanumericDevicePasswordRequired",
	  V120, "0"),
	B(PASSWORDRECOVERYENABLED, "PasswordRecoveryEnabled", V120, "0"),
	B(REQUIRESTORAGECARDENCRYPTION, "RequireStorageCardEncryption",
	  V120, "0"),
	B(ATTACHMENTSENABLED, "AttachmentsEnabled", V120, "1"),
	UE(MINDEVICEPASSWORDLENGTH, "MinDevicePasswordLength", V120, "", 1, 16),
	/* seconds */
	UE(MAXINACTIVITYTIMEDEVICELOCK, "MaxInactivityTimeDeviceLock",
	  V120, "", 0, 9999),
	UE(MAXDEVICEPASSWORDFAILEDATTEMPTS, "MaxDevicePasswordFailedAttempts",
	  V120, "", 4, 16),
	/* bytes */
	UE(MAXATTACHMENTSIZE, "MaxAttachmentSize", V120, "", 0, 0xffffffffLL),
	B(ALLOWSIMPLEDEVICEPASSWORD, "AllowSimpleDevicePassword", V120, "1"),
	/* days */
	UE(DEVICEPASSWORDEXPIRATION, "DevicePasswordExpiration",
	  V120, "", 0, 730),
	U(DEVICEPASSWORDHISTORY, "DevicePasswordHistory", V120, "0", 0, 50),
	/* added in 12.1 */
	B(ALLOWSTORAGECARD, "AllowStorageCard", V121, "1"),
	B(ALLOWCAMERA, "AllowCamera", V121, "1"),
	B(REQUIREDEVICEENCRYPTION, "RequireDeviceEncryption", V121, "0"),
	B(ALLOWUNSIGNEDAPPLICATIONS, "AllowUnsignedApplications", V121, "1"),
	B(ALLOWUNSIGNEDINSTALLATIONPACKAGES, "AllowUnsignedInstallationPackages",
	  V121, "1"),
	U(MINDEVICEPASSWORDCOMPLEXCHARACTERS, "MinDevicePasswordComplexCharacters",
	  V121, "3", 1, 4),
	B(ALLOWWIFI, "AllowWiFi", V121, "1"),
	B(ALLOWTEXTMESSAGING, "AllowTextMessaging", V121, "1"),
	B(ALLOWPOPIMAPEMAIL, "AllowPOPIMAPEmail", V121, "1"),
	/* 0 = off, 1 = hands-free only, 2 = allowed */
	U(ALLOWBLUETOOTH, "AllowBluetooth", V121, "2", 0, 2),
	B(ALLOWIRDA, "AllowIrDA", V121, "1"),
	B(REQUIREMANUALSYNCWHENROAMING, "RequireManualSyncWhenRoaming",
	  V121, "0"),
	B(ALLOWDESKTOPSYNC, "AllowDesktopSync", V121, "1"),
	/* 0 = all, 4 = 2 weeks, 5 = 1 month, 6 = 3 months, 7 = 6 months */
	U(MAXCALENDARAGEFILTER, "MaxCalendarAgeFilter", V121, "0", 0, 7),
	B(ALLOWHTMLEMAIL, "AllowHTMLEmail", V121, "1"),
	/* 0 = all, 1..5 = 1 day .. 1 month */
	U(MAXEMAILAGEFILTER, "MaxEmailAgeFilter", V121, "0", 0, 5),
	/* -1 = no truncation, 0 = headers only, >0 = bytes */
	I(MAXEMAILBODYTRUNCATIONSIZE, "MaxEmailBodyTruncationSize",
	  V121, "-1", -1, 0x7fffffffLL),
	I(MAXEMAILHTMLBODYTRUNCATIONSIZE, "MaxEmailHTMLBodyTruncationSize",
	  V121, "-1", -1, 0x7fffffffLL),
	B(REQUIRESIGNEDSMIMEMESSAGES, "RequireSignedSMIMEMessages", V121, "0"),
	B(REQUIREENCRYPTEDSMIMEMESSAGES, "RequireEncryptedSMIMEMessages",
	  V121, "0"),
	/* 0 = SHA1, 1 = MD5 */
	U(REQUIRESIGNEDSMIMEALGORITHM, "RequireSignedSMIMEAlgorithm",
	  V121, "0", 0, 1),
	/* 0 = 3DES, 1 = DES, 2 = RC2 128, 3 = RC2 64, 4 = RC2 40 */
	U(REQUIREENCRYPTIONSMIMEALGORITHM, "RequireEncryptionSMIMEAlgorithm",
	  V121, "0", 0, 4),
	/* 0 = no, 1 = strong only, 2 = any */
	U(ALLOWSMIMEENCRYPTIONALGORITHMNEGOTIATION,
	  "AllowSMIMEEncryptionAlgorithmNegotiation",
	  V121, "2", 0, 2),
	B(ALLOWSMIMESOFTCERTS, "AllowSMIMESoftCerts", V121, "1"),
	B(ALLOWBROWSER, "AllowBrowser", V121, "1"),
	B(ALLOWCONSUMEREMAIL, "AllowConsumerEmail", V121, "1"),
	B(ALLOWREMOTEDESKTOP, "AllowRemoteDesktop", V121, "1"),
	B(ALLOWINTERNETSHARING, "AllowInternetSharing", V121, "1"),
	L(UNAPPROVEDINROMAPPLICATIONLIST, "UnapprovedInROMApplicationList",
	  V121, APPLICATIONNAME),
	L(APPROVEDAPPLICATIONLIST, "ApprovedApplicationList", V121, HASH),

	/* server side, indexes as in enum as_policy_server_setting */
	S("AllowNonProvisionableDevices", BOOL, "1", 0, 1, 0),
	/* seconds, at most a year */
	S("RefreshInterval", UINT, "0", 0, 365 * 24 * 3600, 0),
	S("MaxProtocolVersion", VERSION, "16.1", 0, 0,
	  AS_POLICY_FLAG_NOT_NEUTRALIZED),
	S("Neutral", BOOL, "0", 0, 1, AS_POLICY_FLAG_LEVEL_ONLY),
};
const unsigned int as_policy_settings_count = N_ELEMENTS(as_policy_settings);
#undef B
#undef U
#undef UE
#undef I
#undef L
#undef S
#undef V120
#undef V121

int as_policy_find(const char *name)
{
	unsigned int i;

	for (i = 0; i < as_policy_settings_count; i++) {
		if (strcasecmp(as_policy_settings[i].name, name) == 0)
			return (int)i;
	}
	return -1;
}

int as_policy_value_check(const struct as_policy_setting *setting,
			  const char *value, const char **error_r)
{
	long long num;

	switch (setting->type) {
	case AS_POLICY_TYPE_LIST:
		if (strpbrk(value, "\r\n") != NULL) {
			*error_r = t_strdup_printf("%s: line breaks in a list",
						   setting->name);
			return -1;
		}
		return 0;
	case AS_POLICY_TYPE_VERSION:
		if (as_version_parse(value) == 0) {
			*error_r = t_strdup_printf(
				"%s: not a protocol version: %s",
				setting->name, value);
			return -1;
		}
		return 0;
	case AS_POLICY_TYPE_UINT_OR_EMPTY:
		if (*value == '\0')
			return 0;
		/* fall through */
	case AS_POLICY_TYPE_BOOL:
	case AS_POLICY_TYPE_UINT:
	case AS_POLICY_TYPE_INT:
		if (str_to_llong(value, &num) < 0) {
			*error_r = t_strdup_printf("%s: not a number: %s",
						   setting->name, value);
			return -1;
		}
		if (num < setting->min || num > setting->max) {
			*error_r = t_strdup_printf(
				"%s: %lld is outside %lld..%lld",
				setting->name, num, setting->min, setting->max);
			return -1;
		}
		return 0;
	}
	i_unreached();
}

const char **as_policy_values_init(pool_t pool)
{
	return p_new(pool, const char *, as_policy_settings_count);
}

int as_policy_set(const char **values, pool_t pool, const char *name,
		  const char *value, const char **error_r)
{
	int idx = as_policy_find(name);

	if (idx < 0) {
		*error_r = t_strdup_printf("Unknown policy setting: %s", name);
		return -1;
	}
	if (as_policy_value_check(&as_policy_settings[idx], value,
				  error_r) < 0)
		return -1;
	values[idx] = p_strdup(pool, value);
	return 0;
}

const char *as_policy_get(const char *const *values, unsigned int idx)
{
	i_assert(idx < as_policy_settings_count);
	if (values != NULL && values[idx] != NULL)
		return values[idx];
	return as_policy_settings[idx].default_value;
}
