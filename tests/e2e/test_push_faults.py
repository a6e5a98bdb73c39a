"""Push at scale, the faults: one device opening Ping after Ping (each
served by another process here), a flood of bogus datagrams, the service
going away while Pings are held, a receiver that never reads.  Mail
delivery must never be slowed or failed by any of them.

client_limit = 1 makes every connection its own activesync process, so
the cross-process paths run."""

import os
import socket
import stat
import subprocess
import sys
import time

from harness import Background, notify_dir, ping, ping_status as status_of, \
    plugin_dir_conf, sample_message, service_pids, setup_device, sync_all, \
    sync_wait, wait_held, xall
from test_hold import assert_superseded_sync, held_sync_wait, key_after, \
    subjects

INSTANCE = dict(activesync=True, plugin_settings={
    "activesync_ping_min_heartbeat": "1s",
    "activesync_ping_max_heartbeat": "120s",
    "activesync_debug": "yes",
}, extra_conf=plugin_dir_conf() + """
service activesync {
  client_limit = 1
  process_limit = 20
}
""")


def inbox_guid(dc, user):
    out = dc.doveadm("mailbox", "status", "-u", user, "guid", "INBOX")
    return out.strip().split("guid=")[1].split()[0]


def message_count(dc, user):
    out = dc.doveadm("mailbox", "status", "-u", user, "messages", "INBOX")
    return int(out.strip().split("messages=")[1].split()[0])


def dead_pid():
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


def test_many_pings_of_one_device(dc):
    """Only the newest Ping of a device lives, whichever process holds
    the older ones."""
    c, user, _, by_type, _ = setup_device(dc, "faultpings")
    inbox = by_type["2"]
    sync_all(c, inbox)
    held = []
    pids = set()
    mark = dc.log_offset()
    for i in range(4):
        t0 = time.monotonic()
        held.append(Background(ping, c, 60, [(inbox, "Email")]))
        wait_held(dc, mark, count=i + 1)
        pids.update(service_pids(dc))
        if i > 0:
            r = held[i - 1].wait(15)
            assert status_of(r) == "1", r
            print("  Ping %d ended %.1f ms after Ping %d was sent" % (
                i - 1, (held[i - 1].done_at - t0) * 1000, i))
    assert len(pids) >= 2, "all Pings in one process: %r" % pids
    log = dc.log_since(mark)
    assert log.count("Ended by a newer request of the same device in "
                     "another process") == 3, log[-3000:]
    dc.deliver(user, sample_message("to the newest", to=user))
    assert status_of(held[-1].wait(30)) == "2"


def test_held_sync_superseded_in_another_process(dc):
    """A plain Sync served by another process ends the device's held Sync
    (a datagram between the processes); a held Ping stays."""
    c, user, _, by_type, _ = setup_device(dc, "faultsyncs")
    inbox = by_type["2"]
    key = sync_all(c, inbox)
    old = held_sync_wait(dc, c, inbox, key)
    mark = dc.log_offset()
    t0 = time.monotonic()
    r = sync_wait(c, inbox, key)
    assert_superseded_sync(old, t0)
    assert "Ended by a newer request of the same device in another " \
        "process" in dc.log_since(mark)
    key = key_after(r, key)
    # a held Ping is left alone by a Sync in another process
    mark = dc.log_offset()
    p = Background(ping, c, 60, [(inbox, "Email")])
    wait_held(dc, mark)
    r = sync_wait(c, inbox, key)
    key = key_after(r, key)
    time.sleep(0.5)
    assert p.done_at is None, p.result
    dc.deliver(user, sample_message("after both", to=user))
    assert status_of(p.wait(30)) == "2"
    assert subjects(sync_wait(c, inbox, key)) == ["after both"]


FLOOD_SENDER = r"""
import os, socket, sys, time
paths, guid, user, n = sys.argv[1].split(","), sys.argv[2], sys.argv[3], \
    int(sys.argv[4])
bogus = [
    b"?", b"garbage", b"EAS1", b"x" * 2000,
    b"EAS2\tM\t" + b"0" * 32 + b"\t1\t" + user.encode(),
    b"EAS1\tM\tnot-a-guid\t1\t" + user.encode(),
    b"EAS1\tM\t" + b"0" * 32 + b"\t1\tfault\nflood",
]
unknown = "EAS1\tM\t%s\t99\tnobody%%d@example.test" % guid
# valid form, the user's own INBOX, a HIGHESTMODSEQ far ahead
lying = ("EAS1\tM\t%s\t18446744073709551615\t%s" % (guid, user)).encode()
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.settimeout(10)
t0 = time.monotonic()
sent = 0
for i in range(n):
    for path in paths:
        s.sendto(bogus[i % len(bogus)], path)
        s.sendto((unknown % i).encode(), path)
        s.sendto(lying, path)
        sent += 3
print(sent, time.monotonic() - t0, os.getuid())
"""


def untrusted_prefix(dc):
    """Run as a uid that is neither root, nor Dovecot's, nor the mail
    user's, in Dovecot's group (so it may write the 0660 sockets): the
    local attacker the notify socket must withstand."""
    assert os.geteuid() == 0, \
        "this test needs root (it sends as another uid); CI runs as root"
    return ["setpriv", "--reuid", "65534", "--regid", str(dc.gid),
            "--clear-groups", "--"]


def test_bogus_datagram_flood(dc):
    c, user, _, by_type, _ = setup_device(dc, "faultflood")
    inbox = by_type["2"]
    sync_all(c, inbox)
    guid = inbox_guid(dc, user)
    mark = dc.log_offset()
    bg = Background(ping, c, 60, [(inbox, "Email")])
    wait_held(dc, mark)
    pids = service_pids(dc)
    paths = ",".join(os.path.join(notify_dir(dc), str(pid)) for pid in pids)
    r = subprocess.run(untrusted_prefix(dc) + [
        sys.executable, "-c", FLOOD_SENDER, paths, guid, user, "3000"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        timeout=60)
    assert r.returncode == 0, r.stderr
    sent, flood_secs, uid = r.stdout.split()
    flood_secs = float(flood_secs)
    assert uid == "65534"
    print("  %s datagrams sent in %.2f s" % (sent, flood_secs))
    time.sleep(0.5)
    # the lie comes from a uid that can't change the user's mail: only
    # a hint, re-checked against the mailbox, and the check finds nothing
    assert bg.done_at is None, "Ping answered a lie: %r" % bg.result
    assert dc.service_alive()
    log = dc.log_since(mark)
    # logged once per interval and process, not once per datagram
    logged = log.count("Ignored an invalid change notification")
    assert 1 <= logged <= len(pids), (logged, pids)
    checks = log.count("after a change notification")
    print("  re-checks of the held Ping during the flood: %d" % checks)
    assert checks >= 1, log[-2000:]
    # at most 10 a second, not one per datagram
    assert checks <= 10 * (flood_secs + 1.5) + 2, checks
    mark = dc.log_offset()
    dc.deliver(user, sample_message("real", to=user))
    r = bg.wait(30)
    assert status_of(r) == "2", r
    # the plugin's datagram (sent as the mail user) is believed: no
    # re-check, the user is not even reopened
    log = dc.log_since(mark)
    assert "(notification)" in log, log[-2000:]
    assert "after a change notification" not in log, log[-2000:]


def test_service_stopped_while_pings_held(dc):
    c, user, _, by_type, _ = setup_device(dc, "faultstop")
    inbox = by_type["2"]
    sync_all(c, inbox)
    mark = dc.log_offset()
    bg = Background(ping, c, 60, [(inbox, "Email")])
    wait_held(dc, mark)
    old_pids = service_pids(dc)
    assert old_pids
    dc.doveadm("service", "stop", "activesync")
    try:
        r = bg.wait(15)
    except (ConnectionError, OSError) as e:
        print("  held Ping's connection closed: %s" % type(e).__name__)
    else:
        assert r.status != 200 or not r.body, r
        print("  held Ping answered %s on shutdown" % r.status)
    deadline = time.monotonic() + 15
    while service_pids(dc) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not service_pids(dc), "sockets left: %r" % service_pids(dc)

    # a stale socket, as a crashed process leaves it
    stale = dead_pid()
    stale_path = os.path.join(notify_dir(dc), str(stale))
    sk = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sk.bind(stale_path)
    sk.close()
    os.chmod(stale_path, 0o666)

    before = message_count(dc, user)
    worst = 0.0
    for i in range(5):
        t0 = time.monotonic()
        dc.deliver(user, sample_message("while stopped %d" % i, to=user))
        worst = max(worst, time.monotonic() - t0)
    print("  LMTP with no activesync process: slowest delivery %.1f ms"
          % (worst * 1000))
    assert message_count(dc, user) == before + 5
    assert worst < 5

    # started again (doveadm service stop keeps it down until a reload):
    # the new process removes the stale socket
    dc.reload()
    deadline = time.monotonic() + 15
    while not dc.service_alive() and time.monotonic() < deadline:
        time.sleep(0.1)
    sync_all(c, inbox)
    assert not os.path.exists(stale_path)
    mark = dc.log_offset()
    bg = Background(ping, c, 60, [(inbox, "Email")])
    wait_held(dc, mark)
    dc.deliver(user, sample_message("after restart", to=user))
    r = bg.wait(30)
    assert status_of(r) == "2", r
    assert "Change notification M" in dc.log_since(mark)


def test_receiver_that_never_reads(dc):
    """A socket whose queue is full: delivery goes on at full speed, the
    sender warns once per interval, and the real service still gets its
    notifications."""
    c, user, _, by_type, _ = setup_device(dc, "faultfull")
    inbox = by_type["2"]
    sync_all(c, inbox)
    path = os.path.join(notify_dir(dc), str(os.getpid()))
    lost = path + ".lost"
    sk = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sk.bind(path)
    os.chmod(path, 0o666)
    # fill its queue (net.unix.max_dgram_qlen datagrams, whatever the
    # sysctl says here) so the very first delivery finds it full; one
    # sender also stops when its own send buffer is used up, so take new
    # ones until a fresh one can't send a single datagram
    for _ in range(1000):
        filler = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        filler.setblocking(False)
        sent = 0
        try:
            while True:
                filler.sendto(b"filler", path)
                sent += 1
        except BlockingIOError:
            pass
        filler.close()
        if sent == 0:
            break
    else:
        raise AssertionError("the stuck socket never filled up")
    with open(lost, "w"):
        pass
    os.chmod(lost, 0o666)
    os.utime(lost, (1, 1))
    mark = dc.log_offset()
    try:
        before = message_count(dc, user)
        t0 = time.monotonic()
        worst = 0.0
        n = 40
        for i in range(n):
            t1 = time.monotonic()
            dc.deliver(user, sample_message("full %d" % i, to=user))
            worst = max(worst, time.monotonic() - t1)
        total = time.monotonic() - t0
        print("  %d deliveries with a stuck receiver: %.2f s, slowest "
              "%.1f ms" % (n, total, worst * 1000))
        assert message_count(dc, user) == before + n
        assert worst < 5
        # the stuck receiver was told it lost notifications
        assert os.stat(lost).st_mtime > 1
        log = dc.log_since(mark)
        warnings = log.count("had a full notification queue")
        assert 1 <= warnings <= 5, warnings  # once per lmtp process
        sync_all(c, inbox)
        m2 = dc.log_offset()
        bg = Background(ping, c, 60, [(inbox, "Email")])
        wait_held(dc, m2)
        dc.deliver(user, sample_message("still pushed", to=user))
        assert status_of(bg.wait(30)) == "2"
    finally:
        sk.close()
        os.unlink(path)
        os.unlink(lost)


def test_lost_notifications_are_rechecked(dc):
    """A change whose datagram never arrived (here: a message written
    straight into the maildir, which no plugin sees) is still pushed once
    the process learns that notifications were lost (its .lost marker
    was touched by a sender that found the queue full)."""
    c, user, _, by_type, _ = setup_device(dc, "faultlost")
    inbox = by_type["2"]
    sync_all(c, inbox)
    mark = dc.log_offset()
    bg = Background(ping, c, 60, [(inbox, "Email")])
    wait_held(dc, mark)
    new = os.path.join(dc.home_root, user, "Maildir", "new")
    name = "%d.M1P1.lostmail" % int(time.time())
    tmp = os.path.join(dc.home_root, user, "Maildir", "tmp", name)
    with open(tmp, "wb") as f:
        f.write(sample_message("written past the plugin", to=user))
    os.chown(tmp, dc.uid, dc.gid)
    os.rename(tmp, os.path.join(new, name))
    time.sleep(0.5)
    assert bg.done_at is None, "answered without a notification"
    for pid in service_pids(dc):
        os.utime(os.path.join(notify_dir(dc), "%d.lost" % pid))
    r = bg.wait(30)
    assert status_of(r) == "2", r
    log = dc.log_since(mark)
    assert "Change notifications were lost" in log, log[-2000:]
