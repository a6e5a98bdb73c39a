/* Copyright (c) the dovecot-activesync authors, see AUTHORS */

#define _GNU_SOURCE /* Linux's struct ucred, SCM_CREDENTIALS */
#include "lib.h"
#include "array.h"
#include "hash.h"
#include "ioloop.h"
#include "str.h"
#include "str-sanitize.h"
#include "time-util.h"
#include "mail-user.h"
#include "as-notify.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/un.h>

/* Datagrams handled per io callback before other connections get their
   turn: a flood can't starve the process. */
#define AS_NOTIFY_BATCH 256
/* Invalid datagrams are logged once per interval */
#define AS_NOTIFY_LOG_INTERVAL_SECS 60
/* How often the "queue was full" marker is looked at while someone
   subscribed (it is also looked at after each batch) */
#define AS_NOTIFY_LOST_CHECK_MSECS 5000
/* Room for bursts; the kernel's net.unix.max_dgram_qlen also limits the
   queue, a sender that finds it full touches the .lost marker */
#define AS_NOTIFY_RCVBUF (1024 * 1024)
#define AS_NOTIFY_RECOMMENDED_QLEN 1024

struct as_notify_user {
	char *username;
	int refcount;
	ARRAY(struct as_notify_sub *) subs;
};

struct as_notify_sub {
	struct as_notify_user *nuser;
	as_notify_callback_t *callback;
	void *context;
};

struct as_notify {
	struct event *event;
	char *dir, *socket_path, *lost_path;
	int fd;
	struct io *io;
	struct timeout *to_lost;
	struct timespec lost_mtime;
	/* for telling other processes about new Pings */
	struct as_notify_sender *sender;

	HASH_TABLE(char *, struct as_notify_user *) users;
	unsigned int sub_count;

	time_t invalid_last_log;
	unsigned int invalid_suppressed;
};

static struct as_notify *as_notify;

static void as_notify_lost_check(struct as_notify *notify);

/* Remove sockets and markers of processes that no longer exist (crashed
   or killed without cleaning up). */
static void as_notify_clean_stale(const char *dir)
{
	struct dirent *d;
	DIR *dirp;
	const char *name, *p;
	pid_t pid;

	dirp = opendir(dir);
	if (dirp == NULL)
		return;
	while ((d = readdir(dirp)) != NULL) {
		name = d->d_name;
		p = strchr(name, '.');
		if (p == name)
			continue;
		if (str_to_pid(p == NULL ? name : t_strdup_until(name, p),
			       &pid) < 0 || pid <= 0)
			continue;
		if (p != NULL && strcmp(p, AS_NOTIFY_LOST_SUFFIX) != 0)
			continue;
		if (kill(pid, 0) == 0 || errno != ESRCH)
			continue;
		if (unlink(t_strdup_printf("%s/%s", dir, name)) < 0 &&
		    errno != ENOENT)
			i_error("unlink(%s/%s) failed: %m", dir, name);
	}
	(void)closedir(dirp);
}

static bool as_notify_lost_mtime(const char *path, struct timespec *mtime_r)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return FALSE;
	*mtime_r = st.st_mtim;
	return TRUE;
}

static int as_notify_bind(struct as_notify *notify, const char **error_r)
{
	/* Senders may run as any mail user when we run as root (system
	   users): let them all send, datagrams are validated. Otherwise
	   they run as our uid (or are root). */
	mode_t mode = geteuid() == 0 ? 0666 : 0660;
	union {
		struct sockaddr sa;
		struct sockaddr_un un;
	} addr;
	string_t *path = t_str_new(128);
	int fd, lfd, bufsize = AS_NOTIFY_RCVBUF, on = 1;

	if (mkdir(notify->dir, 0755) == 0) {
		/* senders list it: whatever the umask */
		if (chmod(notify->dir, 0755) < 0) {
			*error_r = t_strdup_printf("chmod(%s) failed: %m",
						   notify->dir);
			return -1;
		}
	} else if (errno != EEXIST) {
		*error_r = t_strdup_printf("mkdir(%s) failed: %m", notify->dir);
		return -1;
	}
	as_notify_clean_stale(notify->dir);
	if (!as_notify_socket_path(notify->dir, getpid(), path)) {
		*error_r = t_strdup_printf("Socket path too long: %s",
					   str_c(path));
		return -1;
	}
	notify->socket_path = i_strdup(str_c(path));
	notify->lost_path = i_strconcat(str_c(path), AS_NOTIFY_LOST_SUFFIX,
					NULL);

	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		*error_r = t_strdup_printf("socket() failed: %m");
		return -1;
	}
	/* a stale one of a former process with our pid */
	i_unlink_if_exists(notify->socket_path);
	i_zero(&addr);
	addr.un.sun_family = AF_UNIX;
	memcpy(addr.un.sun_path, str_data(path), str_len(path));
	if (bind(fd, &addr.sa, sizeof(addr.un)) < 0) {
		*error_r = t_strdup_printf("bind(%s) failed: %m",
					   notify->socket_path);
		i_close_fd(&fd);
		return -1;
	}
	if (chmod(notify->socket_path, mode) < 0) {
		*error_r = t_strdup_printf("chmod(%s) failed: %m",
					   notify->socket_path);
		i_close_fd(&fd);
		i_unlink(notify->socket_path);
		return -1;
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bufsize,
			 sizeof(bufsize));
	/* who sent a datagram decides whether it is believed */
	if (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof(on)) < 0) {
		e_warning(notify->event, "setsockopt(SO_PASSCRED) failed: %m"
			  " (change notifications are re-checked)");
	}
	/* the kernel's arrival time: how long a datagram waited for this
	   process is the part of push latency the process owns */
	(void)setsockopt(fd, SOL_SOCKET, SO_TIMESTAMP, &on, sizeof(on));

	/* the marker senders touch (utime needs write access) */
	i_unlink_if_exists(notify->lost_path);
	lfd = open(notify->lost_path, O_CREAT | O_WRONLY | O_CLOEXEC,
		       mode & 0666);
	if (lfd == -1 || fchmod(lfd, mode) < 0)
		e_warning(notify->event, "%s: %m", notify->lost_path);
	if (lfd != -1)
		i_close_fd(&lfd);
	(void)as_notify_lost_mtime(notify->lost_path, &notify->lost_mtime);

	notify->fd = fd;
	return 0;
}

static void
as_notify_log_invalid(struct as_notify *notify, const char *reason)
{
	if (notify->invalid_last_log + AS_NOTIFY_LOG_INTERVAL_SECS >
	    ioloop_time) {
		notify->invalid_suppressed++;
		return;
	}
	e_warning(notify->event, "Ignored an invalid change notification: "
		  "%s (%u more in the last %d s; logged once per interval)",
		  reason, notify->invalid_suppressed,
		  AS_NOTIFY_LOG_INTERVAL_SECS);
	notify->invalid_last_log = ioloop_time;
	notify->invalid_suppressed = 0;
}

static bool
as_notify_user_has(struct as_notify_user *nuser, struct as_notify_sub *sub)
{
	struct as_notify_sub *s;

	array_foreach_elem(&nuser->subs, s) {
		if (s == sub)
			return TRUE;
	}
	return FALSE;
}

static void as_notify_user_unref(struct as_notify_user **_nuser)
{
	struct as_notify_user *nuser = *_nuser;

	*_nuser = NULL;
	i_assert(nuser->refcount > 0);
	if (--nuser->refcount > 0)
		return;
	i_assert(array_count(&nuser->subs) == 0);
	hash_table_remove(as_notify->users, nuser->username);
	array_free(&nuser->subs);
	i_free(nuser->username);
	i_free(nuser);
}

static void
as_notify_user_dispatch(struct as_notify_user *nuser,
			const struct as_notify_msg *msg)
{
	ARRAY(struct as_notify_sub *) subs;
	struct as_notify_sub *sub;

	/* callbacks may end requests (theirs and others'): walk a copy */
	t_array_init(&subs, array_count(&nuser->subs));
	array_append_array(&subs, &nuser->subs);
	nuser->refcount++;
	array_foreach_elem(&subs, sub) {
		if (as_notify_user_has(nuser, sub))
			sub->callback(msg, sub->context);
	}
	as_notify_user_unref(&nuser);
}

static void as_notify_dispatch_all(struct as_notify *notify,
				   const struct as_notify_msg *msg)
{
	struct hash_iterate_context *iter;
	ARRAY(struct as_notify_user *) users;
	struct as_notify_user *nuser;
	char *key;

	t_array_init(&users, hash_table_count(notify->users));
	iter = hash_table_iterate_init(notify->users);
	while (hash_table_iterate(iter, notify->users, &key, &nuser)) {
		nuser->refcount++;
		array_push_back(&users, &nuser);
	}
	hash_table_iterate_deinit(&iter);
	array_foreach_elem(&users, nuser) {
		if (array_count(&nuser->subs) > 0)
			as_notify_user_dispatch(nuser, msg);
		as_notify_user_unref(&nuser);
	}
}

static void as_notify_handle(struct as_notify *notify, const void *data,
			     size_t size, uid_t sender_uid,
			     const struct timeval *arrived)
{
	struct as_notify_user *nuser;
	struct as_notify_msg msg;
	const char *error;

	if (as_notify_msg_parse(data, size, &msg, &error) < 0) {
		as_notify_log_invalid(notify, error);
		return;
	}
	msg.sender_uid = sender_uid;
	nuser = hash_table_lookup(notify->users, msg.username);
	if (nuser == NULL) {
		/* nobody here waits for this user: the common case */
		return;
	}
	msg.arrived = *arrived;
	i_gettimeofday(&msg.read);
	e_debug(notify->event, "Change notification %c for %s (%u waiting)",
		(char)msg.kind, str_sanitize(msg.username, 64),
		array_count(&nuser->subs));
	as_notify_user_dispatch(nuser, &msg);
}

/* What the kernel attaches to every datagram: the sender's uid (the
   socket has SO_PASSCRED; (uid_t)-1 if missing) and the arrival time
   (SO_TIMESTAMP; zero if missing). */
static void as_notify_msg_control(struct msghdr *mh, uid_t *uid_r,
				  struct timeval *arrived_r)
{
	struct cmsghdr *cmsg;
	struct ucred cred;

	*uid_r = (uid_t)-1;
	i_zero(arrived_r);
	for (cmsg = CMSG_FIRSTHDR(mh); cmsg != NULL;
	     cmsg = CMSG_NXTHDR(mh, cmsg)) {
		if (cmsg->cmsg_level != SOL_SOCKET)
			continue;
		if (cmsg->cmsg_type == SCM_CREDENTIALS &&
		    cmsg->cmsg_len >= CMSG_LEN(sizeof(cred))) {
			memcpy(&cred, CMSG_DATA(cmsg), sizeof(cred));
			*uid_r = cred.uid;
		} else if (cmsg->cmsg_type == SCM_TIMESTAMP &&
			   cmsg->cmsg_len >= CMSG_LEN(sizeof(*arrived_r))) {
			memcpy(arrived_r, CMSG_DATA(cmsg),
			       sizeof(*arrived_r));
		}
	}
}

static void as_notify_input(struct as_notify *notify)
{
	unsigned char buf[AS_NOTIFY_MAX_DATAGRAM + 1];
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(struct ucred)) +
			 CMSG_SPACE(sizeof(struct timeval))];
	} control;
	struct iovec iov;
	struct msghdr mh;
	struct timeval arrived;
	uid_t sender_uid;
	unsigned int i;
	ssize_t ret;

	for (i = 0; i < AS_NOTIFY_BATCH; i++) {
		iov.iov_base = buf;
		iov.iov_len = sizeof(buf);
		i_zero(&mh);
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		mh.msg_control = control.buf;
		mh.msg_controllen = sizeof(control.buf);
		ret = recvmsg(notify->fd, &mh, MSG_DONTWAIT);
		if (ret < 0) {
			if (errno != EAGAIN && errno != EINTR)
				e_error(notify->event, "recv(%s) failed: %m",
					notify->socket_path);
			break;
		}
		as_notify_msg_control(&mh, &sender_uid, &arrived);
		T_BEGIN {
			as_notify_handle(notify, buf, ret, sender_uid,
					 &arrived);
		} T_END;
		if (as_notify == NULL)
			return;
	}
	as_notify_lost_check(notify);
}

/* The kernel queues at most net.unix.max_dgram_qlen datagrams per
   socket (10 by default) whatever SO_RCVBUF says: a process busy for a
   few milliseconds on a busy server overflows that. */
static const char *as_notify_qlen_hint(void)
{
	const char *path = "/proc/sys/net/unix/max_dgram_qlen";
	char buf[32];
	unsigned int qlen;
	ssize_t ret;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1)
		return "";
	ret = read(fd, buf, sizeof(buf) - 1);
	i_close_fd(&fd);
	if (ret <= 0)
		return "";
	buf[ret] = '\0';
	if (str_to_uint(t_strcut(buf, '\n'), &qlen) < 0 ||
	    qlen >= AS_NOTIFY_RECOMMENDED_QLEN)
		return "";
	return t_strdup_printf(" (net.unix.max_dgram_qlen is %u: raise it "
			       "to %u or more with sysctl)", qlen,
			       AS_NOTIFY_RECOMMENDED_QLEN);
}

static void as_notify_lost_check(struct as_notify *notify)
{
	struct as_notify_msg msg;
	struct timespec mtime;

	if (!as_notify_lost_mtime(notify->lost_path, &mtime) ||
	    (mtime.tv_sec == notify->lost_mtime.tv_sec &&
	     mtime.tv_nsec == notify->lost_mtime.tv_nsec))
		return;
	notify->lost_mtime = mtime;
	if (notify->sub_count == 0)
		return;
	e_warning(notify->event, "Change notifications were lost (queue "
		  "full): re-checking all %u waiting requests%s",
		  notify->sub_count, as_notify_qlen_hint());
	i_zero(&msg);
	msg.kind = AS_NOTIFY_LOST;
	T_BEGIN {
		as_notify_dispatch_all(notify, &msg);
	} T_END;
}

void as_notify_init(const char *dir, struct event *event)
{
	struct as_notify *notify;
	const char *error;

	i_assert(as_notify == NULL);
	notify = i_new(struct as_notify, 1);
	notify->event = event_create(event);
	event_set_append_log_prefix(notify->event, "push: ");
	notify->dir = i_strdup(dir);
	notify->fd = -1;
	if (as_notify_bind(notify, &error) < 0) {
		e_error(notify->event, "Change notifications from the "
			"activesync mail plugin unavailable "
			"(mailbox list notifications are used): %s", error);
		i_free(notify->socket_path);
		i_free(notify->lost_path);
		i_free(notify->dir);
		event_unref(&notify->event);
		i_free(notify);
		return;
	}
	hash_table_create(&notify->users, default_pool, 0, str_hash, strcmp);
	notify->io = io_add(notify->fd, IO_READ, as_notify_input, notify);
	notify->sender = as_notify_sender_init(dir);
	/* it only says "a Ping started": a lost one leaves an older Ping
	   of the device held until its heartbeat, which is cheaper than
	   every held Ping of the receiver re-checking its user */
	as_notify_sender_no_lost_marker(notify->sender);
	as_notify = notify;
	e_debug(notify->event, "Listening on %s", notify->socket_path);
}

void as_notify_deinit(void)
{
	struct as_notify *notify = as_notify;

	if (notify == NULL)
		return;
	as_notify = NULL;
	i_assert(hash_table_count(notify->users) == 0);
	io_remove(&notify->io);
	timeout_remove(&notify->to_lost);
	i_close_fd(&notify->fd);
	i_unlink_if_exists(notify->socket_path);
	i_unlink_if_exists(notify->lost_path);
	as_notify_sender_deinit(&notify->sender);
	hash_table_destroy(&notify->users);
	i_free(notify->socket_path);
	i_free(notify->lost_path);
	i_free(notify->dir);
	event_unref(&notify->event);
	i_free(notify);
}

bool as_notify_available(void)
{
	return as_notify != NULL;
}

bool as_notify_user_enabled(struct mail_user *user)
{
	const char *const *plugins;

	if (as_notify == NULL || user->set->mail_plugins == NULL)
		return FALSE;
	plugins = t_strsplit_spaces(user->set->mail_plugins, ", ");
	return str_array_find(plugins, "activesync");
}

#undef as_notify_subscribe
struct as_notify_sub *
as_notify_subscribe(const char *username, as_notify_callback_t *callback,
		    void *context)
{
	struct as_notify_user *nuser;
	struct as_notify_sub *sub;

	if (as_notify == NULL)
		return NULL;
	nuser = hash_table_lookup(as_notify->users, username);
	if (nuser == NULL) {
		nuser = i_new(struct as_notify_user, 1);
		nuser->username = i_strdup(username);
		nuser->refcount = 1;
		i_array_init(&nuser->subs, 4);
		hash_table_insert(as_notify->users, nuser->username, nuser);
	} else {
		nuser->refcount++;
	}
	sub = i_new(struct as_notify_sub, 1);
	sub->nuser = nuser;
	sub->callback = callback;
	sub->context = context;
	array_push_back(&nuser->subs, &sub);
	if (as_notify->sub_count++ == 0) {
		(void)as_notify_lost_mtime(as_notify->lost_path,
					   &as_notify->lost_mtime);
		as_notify->to_lost = timeout_add(AS_NOTIFY_LOST_CHECK_MSECS,
						 as_notify_lost_check,
						 as_notify);
	}
	return sub;
}

void as_notify_unsubscribe(struct as_notify_sub **_sub)
{
	struct as_notify_sub *sub = *_sub;
	struct as_notify_sub *const *subs;
	unsigned int i, count;

	if (sub == NULL)
		return;
	*_sub = NULL;
	i_assert(as_notify != NULL);

	subs = array_get(&sub->nuser->subs, &count);
	for (i = 0; i < count; i++) {
		if (subs[i] == sub) {
			array_delete(&sub->nuser->subs, i, 1);
			break;
		}
	}
	as_notify_user_unref(&sub->nuser);
	i_free(sub);
	i_assert(as_notify->sub_count > 0);
	if (--as_notify->sub_count == 0)
		timeout_remove(&as_notify->to_lost);
}

void as_notify_request_started(const char *username, const char *device_id,
			       enum as_notify_kind kind,
			       const struct timeval *start_time)
{
	struct as_notify_sender_result result;
	struct as_notify_msg msg;
	string_t *str;

	if (as_notify == NULL)
		return;
	i_zero(&msg);
	i_assert(AS_NOTIFY_KIND_HAS_DEVICE(kind));
	msg.kind = kind;
	msg.username = username;
	msg.device_id = device_id;
	msg.value = (uint64_t)start_time->tv_sec * 1000000 +
		start_time->tv_usec;
	str = t_str_new(256);
	as_notify_msg_format(str, &msg);
	if (str_len(str) > AS_NOTIFY_MAX_DATAGRAM)
		return;
	as_notify_send(as_notify->sender, str_data(str), str_len(str),
		       getpid(), &result);
	if (result.failed > 0) {
		e_warning(as_notify->event, "Telling other processes about "
			  "a new request failed: %s", result.error);
	}
}
