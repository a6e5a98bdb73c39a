/* Copyright (c) the dovecot-activesync authors, see AUTHORS */

#include "lib.h"
#include "str.h"
#include "guid.h"
#include "unlink-directory.h"
#include "test-common.h"
#include "as-notify-proto.h"

#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <utime.h>
#include <fcntl.h>

static void test_msg_roundtrip(void)
{
	struct as_notify_msg msg, parsed;
	const char *error;
	string_t *str = t_str_new(128);

	test_begin("notify datagram: format and parse");
	i_zero(&msg);
	msg.kind = AS_NOTIFY_MAIL;
	msg.username = "user one@example.test";
	guid_128_generate(msg.guid);
	msg.value = 18446744073709551615ULL;
	as_notify_msg_format(str, &msg);
	test_assert(as_notify_msg_parse(str_data(str), str_len(str),
					&parsed, &error) == 0);
	test_assert(parsed.kind == AS_NOTIFY_MAIL);
	test_assert_strcmp(parsed.username, msg.username);
	test_assert(guid_128_equals(parsed.guid, msg.guid));
	test_assert(parsed.value == msg.value);

	i_zero(&msg);
	msg.kind = AS_NOTIFY_PING_STARTED;
	msg.username = "u";
	msg.device_id = "Appl\\DEV 1";
	msg.value = 1234567;
	str_truncate(str, 0);
	as_notify_msg_format(str, &msg);
	test_assert(as_notify_msg_parse(str_data(str), str_len(str),
					&parsed, &error) == 0);
	test_assert(parsed.kind == AS_NOTIFY_PING_STARTED);
	test_assert_strcmp(parsed.device_id, msg.device_id);
	test_assert(parsed.value == 1234567);

	/* a Sync started: the same fields */
	msg.kind = AS_NOTIFY_SYNC_STARTED;
	str_truncate(str, 0);
	as_notify_msg_format(str, &msg);
	test_assert(as_notify_msg_parse(str_data(str), str_len(str),
					&parsed, &error) == 0);
	test_assert(parsed.kind == AS_NOTIFY_SYNC_STARTED);
	test_assert_strcmp(parsed.device_id, msg.device_id);
	test_end();
}

static void test_msg_invalid(void)
{
	static const char *const invalid[] = {
		"",
		"EAS1",
		"EAS2\tM\t00000000000000000000000000000000\t1\tu",
		"EAS1\tX\t00000000000000000000000000000000\t1\tu",
		"EAS1\tMM\t00000000000000000000000000000000\t1\tu",
		"EAS1\tM\t0000000000000000000000000000000\t1\tu",
		"EAS1\tM\t0000000000000000000000000000000g\t1\tu",
		"EAS1\tM\t000000000000000000000000000000000\t1\tu",
		"EAS1\tM\t00000000000000000000000000000000\t-1\tu",
		"EAS1\tM\t00000000000000000000000000000000\t1x\tu",
		"EAS1\tM\t00000000000000000000000000000000\t1\t",
		"EAS1\tM\t00000000000000000000000000000000\t1\tu\tv",
		"EAS1\tM\t00000000000000000000000000000000\t1\tu\n",
		"EAS1\tP\t\t1\tu",
		"EAS1\tP\t41004200\t1\tu",
		"EAS1\tS\t\t1\tu",
		"EAS1\tS\t00000000000000000000000000000000\t\tu",
	};
	struct as_notify_msg msg;
	const char *error;
	unsigned char big[AS_NOTIFY_MAX_DATAGRAM + 1];
	unsigned int i;

	test_begin("notify datagram: strict validation");
	for (i = 0; i < N_ELEMENTS(invalid); i++) {
		test_assert_idx(as_notify_msg_parse(invalid[i],
			strlen(invalid[i]), &msg, &error) < 0, i);
	}
	test_assert(as_notify_msg_parse("EAS1\tM\t00000000000000000000000000"
					"000000\t1\tu\0x", 46, &msg,
					&error) < 0);
	memset(big, 'a', sizeof(big));
	test_assert(as_notify_msg_parse(big, sizeof(big), &msg, &error) < 0);
	test_end();
}

static int test_bind(const char *path)
{
	union {
		struct sockaddr sa;
		struct sockaddr_un un;
	} addr;
	int fd;

	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	i_assert(fd != -1);
	i_zero(&addr);
	addr.un.sun_family = AF_UNIX;
	i_assert(strlen(path) < sizeof(addr.un.sun_path));
	memcpy(addr.un.sun_path, path, strlen(path));
	if (bind(fd, &addr.sa, sizeof(addr.un)) < 0)
		i_fatal("bind(%s) failed: %m", path);
	return fd;
}

static void test_sender(void)
{
	struct as_notify_sender *sender;
	struct as_notify_sender_result result;
	char dir[] = "/tmp/as-notify-test.XXXXXX";
	const char *path, *lost_path, *error;
	struct utimbuf old = { .actime = 1, .modtime = 1 };
	struct stat st;
	char buf[64];
	int fd, fd2;
	unsigned int i;

	test_begin("notify sender: all sockets, stale ones, full queues");
	if (mkdtemp(dir) == NULL)
		i_fatal("mkdtemp() failed: %m");
	sender = as_notify_sender_init(dir);

	/* no socket at all: nothing sent, no error */
	as_notify_send(sender, "x", 1, 0, &result);
	test_assert(result.sent == 0 && result.failed == 0);

	path = t_strdup_printf("%s/%ld", dir, (long)getpid());
	fd = test_bind(path);
	/* a stale socket of a process that is gone */
	fd2 = test_bind(t_strdup_printf("%s/1", dir));
	i_close_fd(&fd2);
	/* not a socket name: ignored */
	lost_path = t_strdup_printf("%s/%ld"AS_NOTIFY_LOST_SUFFIX, dir,
				    (long)getpid());
	fd2 = creat(lost_path, 0600);
	i_close_fd(&fd2);

	as_notify_send(sender, "hello", 5, 0, &result);
	test_assert(result.sent == 1);
	test_assert(result.failed == 0);
	test_assert(recv(fd, buf, sizeof(buf), 0) == 5 &&
		    memcmp(buf, "hello", 5) == 0);
	/* skipping our own pid */
	as_notify_send(sender, "hello", 5, getpid(), &result);
	test_assert(result.sent == 0);

	/* fill the queue: the lost marker gets touched */
	test_assert(utime(lost_path, NULL) == 0);
	test_assert(utime(lost_path, &old) == 0);
	for (i = 0; i < 100000; i++) {
		as_notify_send(sender, "flood", 5, 0, &result);
		if (result.full > 0)
			break;
	}
	test_assert(result.full == 1);
	test_assert(stat(lost_path, &st) == 0 && st.st_mtime > 1);

	/* another receiver still gets everything: the stuck one's backlog
	   is charged to its own sending socket only */
	fd2 = test_bind(t_strdup_printf("%s/%ld", dir, (long)getppid()));
	for (i = 0; i < 50; i++) {
		as_notify_send(sender, "more", 4, 0, &result);
		test_assert_idx(result.sent == 1 && result.full == 1, i);
		test_assert_idx(recv(fd2, buf, sizeof(buf), 0) == 4, i);
	}
	i_close_fd(&fd2);
	i_unlink(t_strdup_printf("%s/%ld", dir, (long)getppid()));

	/* a sender that leaves the marker alone */
	as_notify_sender_no_lost_marker(sender);
	test_assert(utime(lost_path, &old) == 0);
	as_notify_send(sender, "flood", 5, 0, &result);
	test_assert(result.full == 1 && result.sent == 0);
	test_assert(stat(lost_path, &st) == 0 && st.st_mtime == 1);
	i_close_fd(&fd);

	as_notify_sender_deinit(&sender);
	if (unlink_directory(dir, UNLINK_DIRECTORY_FLAG_RMDIR, &error) < 0)
		i_error("%s", error);
	test_end();
}

int main(void)
{
	static void (*const test_functions[])(void) = {
		test_msg_roundtrip,
		test_msg_invalid,
		test_sender,
		NULL
	};
	return test_run(test_functions);
}
