#ifndef AS_SETTINGS_H
#define AS_SETTINGS_H

#include "settings-parser.h"

struct mail_user_settings;

/* The activesync_* settings: top-level settings that doveconf knows from
   the settings module (libactivesync_settings.so, built from
   as-settings.c). The service parses them as one of its settings roots,
   so userdb fields override them per user like any Dovecot setting. */
struct as_settings {
	/* The non-string settings as written. The check function parses
	   them into the fields below, so that an invalid value is reported
	   with the setting's name (Dovecot's parser names only the file and
	   line), and times may be bare numbers of seconds. */
	struct {
		const char *state_max_size;
		const char *ping_min_heartbeat;
		const char *ping_max_heartbeat;
		const char *ping_max_folders;
		const char *max_request_size;
		const char *max_send_size;
		const char *max_window_size;
		const char *max_mail_age;
		const char *max_calendar_age;
		const char *auth_cache_ttl;
		const char *search_timeout;
		const char *provisioning;
		const char *special_folders;
		const char *autodiscover_imap_port;
		const char *autodiscover_smtp_port;
		const char *gal;
		const char *gal_refresh_interval;
		const char *gal_full_refresh_interval;
		const char *debug;
		const char *enabled;
		const char *max_devices;
	} text;

	/* "" = <state_dir>/activesync (as_settings_read() fills it in) */
	const char *state_dir;
	/* Largest the state store may grow (0 = as far as half of the
	   process's vsz_limit allows) */
	uoff_t state_max_size;
	/* "" = <base_dir>/auth-activesync */
	const char *auth_socket_path;
	const char *realm;
	/* Ping heartbeat bounds in seconds */
	unsigned int ping_min_heartbeat;
	unsigned int ping_max_heartbeat;
	/* Maximum folders a Ping may watch */
	unsigned int ping_max_folders;
	/* Largest request body accepted */
	uoff_t max_request_size;
	/* Largest message SendMail/SmartReply/SmartForward submits (after
	   the original's text and attachments were added) */
	uoff_t max_send_size;
	/* Envelope sender domain for user names without '@' (NULL = the
	   hostname setting) */
	const char *sender_domain;
	/* The user's other addresses (Settings UserInformation), separated
	   by commas or spaces, usually a userdb field */
	const char *user_addresses;
	/* The name shown for the account (Settings UserInformation 14.1+);
	   "" = the user name */
	const char *user_display_name;
	/* Largest Sync WindowSize honoured */
	unsigned int max_window_size;
	/* Mail older than this (seconds) is not synced; 0 = no limit */
	unsigned int max_mail_age;
	/* Calendar events that ended longer ago than this (seconds) are not
	   synced; 0 = no limit */
	unsigned int max_calendar_age;
	/* Seconds a verified password stays cached (hashed) */
	unsigned int auth_cache_ttl;
	/* Milliseconds a Search may run before it answers "timed out" */
	unsigned int search_timeout_msecs;
	/* Require Provision (policy key) before other commands */
	bool provisioning;
	/* Create missing \Sent \Drafts \Trash \Junk folders on the first
	   FolderSync */
	bool special_folders;
	/* Names of the default groupware folders created on the first
	   FolderSync of a device that syncs the class ("" = none) */
	const char *calendar_folder;
	const char *contacts_folder;
	const char *tasks_folder;
	const char *notes_folder;
	/* Groupware classes listed to devices as mail folders ("calendar
	   contacts tasks notes journal", "all", "" = none); a device's
	   "groupware_as_email" property overrides it */
	const char *groupware_as_email;
	/* Autodiscover: the EAS URL devices are given ("" = https:// and
	   the Host the request came to), and the IMAP and submission ports
	   announced to Outlook (0 = none), on the URL's host */
	const char *autodiscover_url;
	/* ValidateCert: PEM certificates trusted besides the system's
	   store ("" = the system's only) */
	const char *trusted_ca_file;
	unsigned int autodiscover_imap_port;
	unsigned int autodiscover_smtp_port;
	/* Search Store=GAL answers from the userdb's users; the list is
	   read again when older than this (seconds) */
	bool gal;
	unsigned int gal_refresh_interval;
	/* At most this often every listed user is looked up again (fields
	   changed); in between a refresh only adds and removes users */
	unsigned int gal_full_refresh_interval;
	/* Mailboxes (names or IMAP LIST patterns as users see them, e.g.
	   "Public/Directory") whose vCards are in the GAL, for the users
	   who can read them; separated by spaces */
	const char *gal_folders;
	bool debug;

	/* Device management (doveadm activesync) */
	/* ActiveSync allowed for the user (a userdb field can say no) */
	bool enabled;
	/* Devices a user may have, 0 = no limit */
	unsigned int max_devices;
	/* Access of a device no ABQ rule decides: allow, block or
	   quarantine */
	const char *device_access;
	/* Also told when a device acknowledges a remote wipe ("" = only
	   the user) */
	const char *wipe_notify_address;

	/* Not parsed from top-level settings: plugin {
	   activesync_notify_socket }, the directory of the per-process
	   sockets the activesync mail plugin sends change notifications
	   to. The plugin runs in lmtp, imap, doveadm, which see plugin
	   settings only, and both sides must agree. */
	const char *notify_socket;
};

struct as_setting_value {
	/* SET_UINT, SET_TIME, SET_TIME_MSECS, SET_SIZE or SET_BOOL */
	enum setting_type type;
	const char *key;
	size_t text_offset, value_offset;
};

extern const struct setting_parser_info as_setting_parser_info;
/* only the texts (and strings) are set; see as_settings_read() */
extern const struct as_settings as_default_settings;
extern const struct as_setting_value as_setting_values[];

/* Finish settings as parsed (set_in) into set_r: a value left at its
   default and not among userdb_fields ("key=value", may be NULL) is
   taken from plugin { activesync_* } if set there (the older form;
   warned about once per process), empty paths get their defaults below
   base_dir and state_dir, and the values are parsed and checked. Returns
   -1 with error_r on an invalid value. */
int as_settings_read(const struct as_settings *set_in,
		     const struct mail_user_settings *user_set,
		     const char *const *userdb_fields, const char *base_dir,
		     const char *state_dir, pool_t pool,
		     struct as_settings *set_r, const char **error_r);

#endif
