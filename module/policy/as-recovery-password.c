/* Copyright (c) the dovecot-activesync authors, see AUTHORS */

#include "lib.h"
#include "base64.h"
#include "buffer.h"
#include "str.h"
#include "safe-memset.h"
#include "as-store.h"
#include "as-store-itemprops.h"
#include "as-recovery-password.h"

#include <fcntl.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sodium.h>

/* Longest recovery password accepted (the spec sets no limit; devices
   send short ones) */
#define AS_RECOVERY_PASSWORD_MAX_LEN 256

static int
as_recovery_key_read(const char *path, unsigned char *key,
		     const char **error_r)
{
	struct stat st;
	ssize_t ret;
	int fd;

	fd = open(path, O_RDONLY);
	if (fd == -1) {
		*error_r = t_strdup_printf("open(%s) failed: %m", path);
		return -1;
	}
	if (fstat(fd, &st) < 0) {
		*error_r = t_strdup_printf("fstat(%s) failed: %m", path);
		i_close_fd(&fd);
		return -1;
	}
	if ((st.st_mode & 0077) != 0) {
		*error_r = t_strdup_printf("%s is readable by others "
					   "(mode %o): refusing to use it",
					   path, (unsigned int)(st.st_mode & 0777));
		i_close_fd(&fd);
		return -1;
	}
	ret = read(fd, key, crypto_secretbox_KEYBYTES);
	i_close_fd(&fd);
	if (ret != crypto_secretbox_KEYBYTES || st.st_size != ret) {
		*error_r = t_strdup_printf("%s: not a %u byte key", path,
					   crypto_secretbox_KEYBYTES);
		return -1;
	}
	return 0;
}

/* Create the key on first use; a concurrent creator wins the O_EXCL race
   and the loser reads its key. */
static int
as_recovery_key_get(const char *state_dir, bool create, unsigned char *key,
		    const char **error_r)
{
	const char *path = t_strconcat(state_dir, "/",
				       AS_RECOVERY_PASSWORD_KEY_FILE, NULL);
	const char *tmp_path;
	int fd;

	if (access(path, F_OK) == 0 || !create)
		return as_recovery_key_read(path, key, error_r);

	/* write a complete file under a temporary name, then link it in,
	   so that a reader never sees a short key */
	tmp_path = t_strdup_printf("%s.%s.tmp", path, dec2str(getpid()));
	fd = open(tmp_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd == -1) {
		*error_r = t_strdup_printf("open(%s) failed: %m", tmp_path);
		return -1;
	}
	crypto_secretbox_keygen(key);
	if (write(fd, key, crypto_secretbox_KEYBYTES) !=
	    crypto_secretbox_KEYBYTES || fsync(fd) < 0) {
		*error_r = t_strdup_printf("write(%s) failed: %m", tmp_path);
		i_close_fd(&fd);
		i_unlink(tmp_path);
		return -1;
	}
	i_close_fd(&fd);
	if (link(tmp_path, path) < 0) {
		int link_errno = errno;

		i_unlink(tmp_path);
		if (link_errno == EEXIST)
			return as_recovery_key_read(path, key, error_r);
		errno = link_errno;
		*error_r = t_strdup_printf("link(%s, %s) failed: %m",
					   tmp_path, path);
		return -1;
	}
	i_unlink(tmp_path);
	return 0;
}

int as_recovery_password_put(struct as_store *store, const char *state_dir,
			     const char *user, const char *device_id,
			     const char *password, const char **error_r)
{
	unsigned char key[crypto_secretbox_KEYBYTES];
	unsigned char nonce[crypto_secretbox_NONCEBYTES];
	buffer_t *box;
	string_t *encoded;
	size_t len;
	int ret;

	if (password == NULL || *password == '\0') {
		return as_store_device_prop_put(store, user, device_id,
				AS_RECOVERY_PASSWORD_PROP, NULL, error_r) < 0 ?
			-1 : 0;
	}
	len = strlen(password);
	if (len > AS_RECOVERY_PASSWORD_MAX_LEN) {
		*error_r = t_strdup_printf("Recovery password longer than %u",
					   AS_RECOVERY_PASSWORD_MAX_LEN);
		return -1;
	}
	if (sodium_init() < 0) {
		*error_r = "sodium_init() failed";
		return -1;
	}
	if (as_recovery_key_get(state_dir, TRUE, key, error_r) < 0)
		return -1;

	randombytes_buf(nonce, sizeof(nonce));
	box = t_buffer_create(sizeof(nonce) + crypto_secretbox_MACBYTES + len);
	buffer_append(box, nonce, sizeof(nonce));
	crypto_secretbox_easy(buffer_append_space_unsafe(box,
				crypto_secretbox_MACBYTES + len),
			      (const unsigned char *)password, len, nonce, key);
	sodium_memzero(key, sizeof(key));

	encoded = t_str_new(MAX_BASE64_ENCODED_SIZE(box->used) + 1);
	base64_encode(box->data, box->used, encoded);
	ret = as_store_device_prop_put(store, user, device_id,
				       AS_RECOVERY_PASSWORD_PROP,
				       str_c(encoded), error_r);
	return ret < 0 ? -1 : 0;
}

int as_recovery_password_get(struct as_store *store, const char *state_dir,
			     pool_t pool, const char *user,
			     const char *device_id, const char **password_r,
			     const char **error_r)
{
	unsigned char key[crypto_secretbox_KEYBYTES];
	const char *value;
	buffer_t *box;
	unsigned char *clear;
	size_t clear_len;
	int ret;

	ret = as_store_device_prop_get(store, pool_datastack_create(), user,
				       device_id, AS_RECOVERY_PASSWORD_PROP,
				       &value, error_r);
	if (ret <= 0)
		return ret;
	box = t_base64_decode_str(value);
	if (box->used < crypto_secretbox_NONCEBYTES +
			crypto_secretbox_MACBYTES) {
		*error_r = "Stored recovery password is too short";
		return -1;
	}
	if (sodium_init() < 0) {
		*error_r = "sodium_init() failed";
		return -1;
	}
	if (as_recovery_key_get(state_dir, FALSE, key, error_r) < 0)
		return -1;
	clear_len = box->used - crypto_secretbox_NONCEBYTES -
		crypto_secretbox_MACBYTES;
	clear = p_malloc(pool, clear_len + 1);
	ret = crypto_secretbox_open_easy(clear,
		CONST_PTR_OFFSET(box->data, crypto_secretbox_NONCEBYTES),
		box->used - crypto_secretbox_NONCEBYTES,
		box->data, key);
	sodium_memzero(key, sizeof(key));
	if (ret != 0) {
		*error_r = "Stored recovery password does not decrypt "
			"(the key file was replaced?)";
		return -1;
	}
	*password_r = (const char *)clear;
	return 1;
}
