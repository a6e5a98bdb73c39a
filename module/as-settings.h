#ifndef AS_SETTINGS_H
#define AS_SETTINGS_H

struct mail_user_settings;

/* Service-wide settings, read from the plugin { } block so that doveconf
   accepts them without a settings module (activesync_* names). */
struct as_settings {
	const char *state_dir;
	/* Largest the state store may grow (0 = as far as half of the
	   process's vsz_limit allows) */
	uoff_t state_max_size;
	const char *auth_socket_path;
	/* Directory of the per-process sockets the activesync mail plugin
	   sends change notifications to */
	const char *notify_socket;
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
	/* Largest Sync WindowSize honoured */
	unsigned int max_window_size;
	/* Seconds a verified password stays cached (hashed) */
	unsigned int auth_cache_ttl;
	/* Milliseconds a Search may run before it answers "timed out" */
	unsigned int search_timeout_msecs;
	/* Require Provision (policy key) before other commands */
	bool provisioning;
	/* Create missing \Sent, \Drafts, \Trash and \Junk folders on
	   a device's first FolderSync */
	bool special_folders;
	bool debug;
};

extern const struct as_settings as_default_settings;

/* Fill set_r from the plugin settings; unset keys keep their defaults.
   Returns -1 with error_r on an invalid value. */
int as_settings_read(const struct mail_user_settings *user_set,
		     const char *base_dir, const char *state_dir,
		     pool_t pool, struct as_settings *set_r,
		     const char **error_r);

#endif
