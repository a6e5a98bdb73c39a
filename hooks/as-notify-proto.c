/* Copyright (c) the dovecot-activesync authors, see AUTHORS */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "strnum.h"
#include "hex-binary.h"
#include "as-notify-proto.h"

#include <dirent.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <utime.h>

/* More service processes than this in one directory are ignored */
#define AS_NOTIFY_MAX_SOCKETS 1024

/* One sending socket per receiver: datagrams queued at a receiver count
   against the sending socket's buffer, so with a shared socket one
   receiver that stops reading would soon block sends to all others. */
struct as_notify_dest {
	pid_t pid;
	int fd;
};
ARRAY_DEFINE_TYPE(as_notify_dest, struct as_notify_dest);

struct as_notify_sender {
	char *dir;
	ARRAY_TYPE(as_notify_dest) dests;
	struct timespec dir_mtime;
	bool scanned:1;
	bool dirty:1;
	bool no_lost_marker:1;
};

void as_notify_msg_format(string_t *dest, const struct as_notify_msg *msg)
{
	str_append(dest, AS_NOTIFY_MAGIC"\t");
	str_append_c(dest, (char)msg->kind);
	str_append_c(dest, '\t');
	if (AS_NOTIFY_KIND_HAS_DEVICE(msg->kind)) {
		binary_to_hex_append(dest, (const void *)msg->device_id,
				     strlen(msg->device_id));
	} else {
		binary_to_hex_append(dest, msg->guid, sizeof(msg->guid));
	}
	str_printfa(dest, "\t%"PRIu64"\t%s", msg->value, msg->username);
}

static bool as_notify_is_lower_hex(const char *str, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (!((str[i] >= '0' && str[i] <= '9') ||
		      (str[i] >= 'a' && str[i] <= 'f')))
			return FALSE;
	}
	return TRUE;
}

static int
as_notify_parse_arg(const char *arg, struct as_notify_msg *msg,
		    const char **error_r)
{
	size_t len = strlen(arg);
	buffer_t *buf, guid_buf;

	if (!as_notify_is_lower_hex(arg, len) || len % 2 != 0) {
		*error_r = "argument is not hex";
		return -1;
	}
	if (AS_NOTIFY_KIND_HAS_DEVICE(msg->kind)) {
		if (len == 0 || len > AS_NOTIFY_MAX_DEVICE_ID * 2) {
			*error_r = "bad device id length";
			return -1;
		}
		buf = t_buffer_create(len / 2 + 1);
		(void)hex_to_binary(arg, buf);
		if (memchr(buf->data, '\0', buf->used) != NULL) {
			*error_r = "NUL in device id";
			return -1;
		}
		msg->device_id = t_strndup(buf->data, buf->used);
		return 0;
	}
	if (len != sizeof(msg->guid) * 2) {
		*error_r = "bad GUID length";
		return -1;
	}
	buffer_create_from_data(&guid_buf, msg->guid, sizeof(msg->guid));
	(void)hex_to_binary(arg, &guid_buf);
	return 0;
}

int as_notify_msg_parse(const void *data, size_t size,
			struct as_notify_msg *msg_r, const char **error_r)
{
	const unsigned char *p = data;
	const char *const *fields;
	size_t i;

	i_zero(msg_r);
	if (size < 4 || size > AS_NOTIFY_MAX_DATAGRAM) {
		*error_r = t_strdup_printf("bad size %zu", size);
		return -1;
	}
	for (i = 0; i < size; i++) {
		if ((p[i] < 0x20 && p[i] != '\t') || p[i] == 0x7f) {
			*error_r = "control character";
			return -1;
		}
	}
	/* no escaping: the username is the last field and has no tabs */
	fields = t_strsplit(t_strndup(data, size), "\t");
	if (str_array_length(fields) != 5) {
		*error_r = "wrong number of fields";
		return -1;
	}
	if (strcmp(fields[0], AS_NOTIFY_MAGIC) != 0) {
		*error_r = "bad magic";
		return -1;
	}
	if (strlen(fields[1]) != 1 || strchr("MCDRPS", fields[1][0]) == NULL) {
		*error_r = "unknown kind";
		return -1;
	}
	msg_r->kind = (enum as_notify_kind)fields[1][0];
	if (as_notify_parse_arg(fields[2], msg_r, error_r) < 0)
		return -1;
	if (str_to_uint64(fields[3], &msg_r->value) < 0) {
		*error_r = "bad value";
		return -1;
	}
	if (fields[4][0] == '\0' ||
	    strlen(fields[4]) > AS_NOTIFY_MAX_USERNAME) {
		*error_r = "bad username length";
		return -1;
	}
	msg_r->username = fields[4];
	return 0;
}

bool as_notify_socket_path(const char *dir, pid_t pid, string_t *dest)
{
	struct sockaddr_un sa;

	str_printfa(dest, "%s/%ld", dir, (long)pid);
	return str_len(dest) < sizeof(sa.sun_path);
}

struct as_notify_sender *as_notify_sender_init(const char *dir)
{
	struct as_notify_sender *sender;

	sender = i_new(struct as_notify_sender, 1);
	sender->dir = i_strdup(dir);
	i_array_init(&sender->dests, 4);
	return sender;
}

static void as_notify_dests_close(ARRAY_TYPE(as_notify_dest) *dests)
{
	struct as_notify_dest *dest;

	array_foreach_modifiable(dests, dest) {
		if (dest->fd != -1)
			i_close_fd(&dest->fd);
	}
	array_clear(dests);
}

void as_notify_sender_deinit(struct as_notify_sender **_sender)
{
	struct as_notify_sender *sender = *_sender;

	if (sender == NULL)
		return;
	*_sender = NULL;
	as_notify_dests_close(&sender->dests);
	array_free(&sender->dests);
	i_free(sender->dir);
	i_free(sender);
}

const char *as_notify_sender_get_dir(const struct as_notify_sender *sender)
{
	return sender->dir;
}

/* Returns FALSE if the directory doesn't exist (no service running). */
static bool as_notify_sender_refresh(struct as_notify_sender *sender)
{
	struct stat st;
	struct dirent *d;
	DIR *dirp;
	pid_t pid;

	ARRAY_TYPE(as_notify_dest) old_dests;
	struct as_notify_dest *dest, new_dest;

	if (stat(sender->dir, &st) < 0) {
		as_notify_dests_close(&sender->dests);
		sender->scanned = FALSE;
		return FALSE;
	}
	if (sender->scanned && !sender->dirty &&
	    st.st_mtim.tv_sec == sender->dir_mtime.tv_sec &&
	    st.st_mtim.tv_nsec == sender->dir_mtime.tv_nsec)
		return TRUE;

	dirp = opendir(sender->dir);
	if (dirp == NULL)
		return FALSE;
	/* keep the sockets of receivers that are still there */
	old_dests = sender->dests;
	i_array_init(&sender->dests, I_MAX(array_count(&old_dests), 4));
	while ((d = readdir(dirp)) != NULL &&
	       array_count(&sender->dests) < AS_NOTIFY_MAX_SOCKETS) {
		/* sockets are named by pid only; skip the .lost markers */
		if (str_to_pid(d->d_name, &pid) < 0 || pid <= 0)
			continue;
		new_dest.pid = pid;
		new_dest.fd = -1;
		array_foreach_modifiable(&old_dests, dest) {
			if (dest->pid == pid) {
				new_dest.fd = dest->fd;
				dest->fd = -1;
				break;
			}
		}
		array_push_back(&sender->dests, &new_dest);
	}
	(void)closedir(dirp);
	as_notify_dests_close(&old_dests);
	array_free(&old_dests);
	sender->dir_mtime = st.st_mtim;
	sender->scanned = TRUE;
	sender->dirty = FALSE;
	return TRUE;
}

void as_notify_sender_no_lost_marker(struct as_notify_sender *sender)
{
	sender->no_lost_marker = TRUE;
}

static void
as_notify_mark_lost(struct as_notify_sender *sender, pid_t pid)
{
	const char *path = t_strdup_printf("%s/%ld"AS_NOTIFY_LOST_SUFFIX,
					   sender->dir, (long)pid);

	/* the receiver re-checks everything when this changes */
	(void)utime(path, NULL);
}

void as_notify_send(struct as_notify_sender *sender, const void *data,
		    size_t size, pid_t skip_pid,
		    struct as_notify_sender_result *result_r)
{
	union {
		struct sockaddr sa;
		struct sockaddr_un un;
	} addr;
	struct as_notify_dest *dest;
	string_t *path;
	pid_t pid;

	i_zero(result_r);
	if (!as_notify_sender_refresh(sender) ||
	    array_count(&sender->dests) == 0)
		return;

	path = t_str_new(128);
	array_foreach_modifiable(&sender->dests, dest) {
		pid = dest->pid;
		if (pid == skip_pid)
			continue;
		if (dest->fd == -1) {
			dest->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC,
					  0);
			if (dest->fd == -1) {
				result_r->failed++;
				result_r->error = t_strdup_printf(
					"socket() failed: %m");
				continue;
			}
		}
		str_truncate(path, 0);
		if (!as_notify_socket_path(sender->dir, pid, path)) {
			result_r->failed++;
			result_r->error = "socket path too long";
			continue;
		}
		i_zero(&addr);
		addr.un.sun_family = AF_UNIX;
		memcpy(addr.un.sun_path, str_data(path), str_len(path));
		if (sendto(dest->fd, data, size, MSG_DONTWAIT | MSG_NOSIGNAL,
			   &addr.sa, sizeof(addr.un)) >= 0) {
			result_r->sent++;
			continue;
		}
		switch (errno) {
		case ENOENT:
		case ECONNREFUSED:
			/* a process that went away: not an error */
			sender->dirty = TRUE;
			break;
		case EAGAIN:
		case ENOBUFS:
			result_r->full++;
			if (!sender->no_lost_marker)
				as_notify_mark_lost(sender, pid);
			break;
		default:
			result_r->failed++;
			result_r->error = t_strdup_printf(
				"sendto(%s) failed: %m", str_c(path));
			break;
		}
	}
}
