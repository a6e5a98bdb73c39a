#ifndef AS_RECOVERY_PASSWORD_H
#define AS_RECOVERY_PASSWORD_H

struct as_store;

/* Device recovery passwords (Settings DevicePassword), kept encrypted
   with crypto_secretbox under a key in <state_dir>/recovery-password.key
   (created 0600 on first use), as the device property
   "recovery-password": base64(nonce | box). */

#define AS_RECOVERY_PASSWORD_KEY_FILE "recovery-password.key"
#define AS_RECOVERY_PASSWORD_PROP "recovery-password"

/* password NULL or "" removes it. Returns 0 / -1 with error_r. */
int as_recovery_password_put(struct as_store *store, const char *state_dir,
			     const char *user, const char *device_id,
			     const char *password, const char **error_r);
/* Returns 1 with the clear text in password_r, 0 if none is stored,
   -1 with error_r (also when it does not decrypt). */
int as_recovery_password_get(struct as_store *store, const char *state_dir,
			     pool_t pool, const char *user,
			     const char *device_id, const char **password_r,
			     const char **error_r);

#endif
