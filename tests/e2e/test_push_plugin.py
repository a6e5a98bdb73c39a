"""Push through the activesync mail plugin (hooks/): lmtp, imap, doveadm
and the service load it, every change reaches the service as a datagram,
a held Ping keeps no mail user open and answers within milliseconds."""

import os
import stat
import time

from harness import Background, notify_dir, open_paths, ping, \
    ping_status as status_of, plugin_dir_conf, sample_message, service_pids, \
    setup_device, sync_all, wait_held, xall, xrequire
from test_metrics import shipped_metric, stats
from test_ping import deliver_timed, measure_wakeups

INSTANCE = dict(activesync=True, plugin_settings={
    "activesync_ping_min_heartbeat": "1s",
    "activesync_ping_max_heartbeat": "120s",
    "activesync_debug": "yes",
}, extra_conf=plugin_dir_conf() + shipped_metric("activesync_push"))


def inbox_guid(dc, user):
    out = dc.doveadm("mailbox", "status", "-u", user, "guid", "INBOX")
    return out.strip().split("guid=")[1].split()[0]


def test_socket_per_process(dc):
    c, user, _, by_type, _ = setup_device(dc, "plugsock")
    pids = service_pids(dc)
    assert pids, os.listdir(dc.base_dir)
    d = notify_dir(dc)
    st = os.stat(d)
    assert stat.S_IMODE(st.st_mode) == 0o755, oct(st.st_mode)
    for pid in pids:
        st = os.stat(os.path.join(d, str(pid)))
        assert stat.S_ISSOCK(st.st_mode)
        # the service runs as the mail user here: only it (and root)
        assert stat.S_IMODE(st.st_mode) == (
            0o666 if st.st_uid == 0 else 0o660), oct(st.st_mode)
        assert os.path.exists(os.path.join(d, "%d.lost" % pid))
        assert os.path.exists("/proc/%d" % pid)


def test_delivery_wakes_ping_through_plugin(dc):
    c, user, _, by_type, _ = setup_device(dc, "plugdeliver")
    inbox = by_type["2"]
    sync_all(c, inbox)
    mark = dc.log_offset()
    lat = measure_wakeups(dc, c, user, inbox, rounds=5, label="plugin:")
    log = dc.log_since(mark)
    # held without the list watch and without the user, woken by the
    # plugin's datagram
    assert "plugin notifications, user released" in log, log[-2000:]
    assert "mailbox list watch" not in log
    assert "Change notification M" in log, log[-2000:]
    assert lat[-1] < 5, lat


def test_push_latency_metric(dc):
    """The shipped activesync_push metric counts every Ping a datagram
    answered, with the server's share of the latency."""
    def pushed():
        return {r["field"]: r for r in stats(dc).get("activesync_push", [])}

    c, user, _, by_type, _ = setup_device(dc, "plugmetric")
    inbox = by_type["2"]
    sync_all(c, inbox)
    before = pushed()
    lat = measure_wakeups(dc, c, user, inbox, rounds=3, label="metric:")
    assert len(lat) == 3, lat
    after = pushed()
    for field in ("push_usecs", "push_queue_usecs"):
        n0 = int(before[field]["count"]) if field in before else 0
        assert int(after[field]["count"]) - n0 == 3, (field, after)
    # the queue wait is part of the datagram-to-response time, counted
    # in microseconds (every wake here took well under a second)
    assert int(after["push_usecs"]["min"]) > 0, after
    assert (int(after["push_queue_usecs"]["max"]) <=
            int(after["push_usecs"]["max"])), after
    assert int(after["push_usecs"]["max"]) < 1000000, (after, lat)


def test_idle_ping_keeps_nothing_open(dc):
    """While held, the Ping has no mailbox, index or inotify open."""
    c, user, _, by_type, _ = setup_device(dc, "plugidle")
    inbox = by_type["2"]
    sync_all(c, inbox)
    mark = dc.log_offset()
    bg = Background(ping, c, 60, [(inbox, "Email")])
    wait_held(dc, mark)
    home = os.path.join(dc.home_root, user)
    for pid in service_pids(dc):
        paths = open_paths(pid)
        assert not [p for p in paths if p.startswith(home)], paths
        assert not [p for p in paths if "inotify" in p], paths
    dc.deliver(user, sample_message("now", to=user))
    assert status_of(bg.wait(30)) == "2"


def test_imap_changes_wake_ping(dc):
    """flag change, expunge and a copy into another watched folder"""
    c, user, password, by_type, _ = setup_device(dc, "plugimap")
    inbox = by_type["2"]
    other = by_type.get("3") or by_type.get("5")
    sync_all(c, inbox)
    sync_all(c, other)
    name = "Drafts" if by_type.get("3") == other else "Sent"
    imap = dc.imap(user, password)
    try:
        imap.select("INBOX")
        steps = [
            ("flag", lambda: imap.store("1", "+FLAGS", "(\\Flagged)"),
             inbox),
            ("copy", lambda: imap.copy("1", name), other),
            ("expunge", lambda: (imap.store("1", "+FLAGS", "(\\Deleted)"),
                                 imap.expunge()), inbox),
        ]
        for label, action, folder in steps:
            mark = dc.log_offset()
            bg = Background(ping, c, 60, [(inbox, "Email"),
                                          (other, "Email")])
            wait_held(dc, mark)
            t0 = time.monotonic()
            action()
            r = bg.wait(30)
            assert status_of(r) == "2", (label, r)
            changed = [e.text for e in xall(r, "Ping/Folders/Folder")]
            assert folder in changed, (label, changed)
            print("  IMAP %s -> Ping response: %.1f ms" % (
                label, (bg.done_at - t0) * 1000))
            sync_all(c, inbox)
            sync_all(c, other)
    finally:
        imap.logout()


def test_change_in_unwatched_folder_keeps_ping(dc):
    c, user, password, by_type, _ = setup_device(dc, "plugunwatched")
    inbox = by_type["2"]
    sync_all(c, inbox)
    mark = dc.log_offset()
    bg = Background(ping, c, 3, [(inbox, "Email")])
    wait_held(dc, mark)
    imap = dc.imap(user, password)
    try:
        typ, data = imap.append("Junk", "", None,
                                sample_message("spam", to=user))
        assert typ == "OK", data
    finally:
        imap.logout()
    r = bg.wait(30)
    assert status_of(r) == "1", r  # heartbeat, nothing to report


def test_deleted_folder_needs_foldersync(dc):
    c, user, password, by_type, _ = setup_device(dc, "plugdelete")
    inbox = by_type["2"]
    imap = dc.imap(user, password)
    try:
        typ, data = imap.create("Lists")
        assert typ == "OK", data
        r = c.request("FolderSync", '<FolderSync xmlns="FolderHierarchy:">'
                      '<SyncKey>%s</SyncKey></FolderSync>' % "0")
        lists = [xrequire(a, "ServerId") for a in xall(r, "Changes/Add")
                 if xrequire(a, "DisplayName") == "Lists"]
        assert lists, r
        sync_all(c, inbox)
        sync_all(c, lists[0])
        mark = dc.log_offset()
        bg = Background(ping, c, 60, [(inbox, "Email"),
                                      (lists[0], "Email")])
        wait_held(dc, mark)
        typ, data = imap.delete("Lists")
        assert typ == "OK", data
    finally:
        imap.logout()
    r = bg.wait(30)
    assert status_of(r) == "7", r
    assert "Change notification D" in dc.log_since(mark)


def test_doveadm_change_wakes_ping(dc):
    c, user, _, by_type, _ = setup_device(dc, "plugdoveadm")
    inbox = by_type["2"]
    sync_all(c, inbox)
    mark = dc.log_offset()
    bg = Background(ping, c, 60, [(inbox, "Email")])
    wait_held(dc, mark)
    dc.doveadm("flags", "add", "-u", user, "\\Seen", "mailbox", "INBOX",
               "all")
    r = bg.wait(30)
    assert status_of(r) == "2", r


def test_stale_notification_is_ignored(dc):
    """A datagram whose HIGHESTMODSEQ the Ping already saw (a duplicate,
    a late one) doesn't even open the user."""
    import socket
    c, user, _, by_type, _ = setup_device(dc, "plugstale")
    inbox = by_type["2"]
    sync_all(c, inbox)
    guid = inbox_guid(dc, user)
    mark = dc.log_offset()
    bg = Background(ping, c, 3, [(inbox, "Email")])
    wait_held(dc, mark)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    for pid in service_pids(dc):
        s.sendto(("EAS1\tM\t%s\t1\t%s" % (guid, user)).encode(),
                 os.path.join(notify_dir(dc), str(pid)))
    s.close()
    r = bg.wait(30)
    assert status_of(r) == "1", r
    log = dc.log_since(mark)
    assert "Change notification M for %s" % user in log, log[-2000:]
    assert "after a change notification" not in log, log[-2000:]


def test_sync_wait_woken_through_plugin(dc):
    """A Sync held with Wait uses the same notifications."""
    c, user, _, by_type, _ = setup_device(dc, "plugsyncwait")
    inbox = by_type["2"]
    key = sync_all(c, inbox)
    body = ('<Sync xmlns="AirSync:"><Collections><Collection>'
            '<SyncKey>%s</SyncKey><CollectionId>%s</CollectionId>'
            '<GetChanges/></Collection></Collections><Wait>1</Wait>'
            '</Sync>' % (key, inbox))
    mark = dc.log_offset()
    bg = Background(c.request, "Sync", body)
    dc.wait_for_log(r"Sync: no changes, waiting", timeout=15, since=mark)
    time.sleep(0.2)
    t0 = deliver_timed(dc, user, "sync wait")
    r = bg.wait(30)
    assert r.status == 200 and r.body, r
    assert [e.text for e in xall(r, "Collections/Collection/Commands/Add/"
                                 "ApplicationData/Subject")] == \
        ["sync wait"], r
    print("  delivery -> held Sync response: %.1f ms" % (
        (bg.done_at - t0) * 1000))
    log = dc.log_since(mark)
    assert "Change notification M" in log, log[-2000:]


def test_ping_checks_from_list_index(dc):
    """A settled folder's status comes from the mailbox list index: a
    re-armed Ping opens no mailbox (a large maildir's open re-reads its
    whole uidlist), and a delivery still wakes it."""
    c, user, _, by_type, _ = setup_device(dc, "pluglistidx")
    inbox = by_type["2"]
    sync_all(c, inbox)
    # Dovecot trusts a list index record once the folder's files are a
    # couple of seconds old; the first Ping's check (which may have to
    # open the folder, the Sync having just written its index) brings
    # the record up to date for the next one
    time.sleep(2.5)
    mark = dc.log_offset()
    first = Background(ping, c, 60, [(inbox, "Email")])
    wait_held(dc, mark)
    time.sleep(2.5)
    mark = dc.log_offset()
    bg = Background(ping, c, 60, [(inbox, "Email")])
    assert status_of(first.wait(30)) == "1"
    wait_held(dc, mark)
    log = dc.log_since(mark)
    assert "Folder %s: status from the mailbox list index" % inbox in log, \
        log[-2000:]
    assert "Folder %s: opening it" % inbox not in log, log[-2000:]
    dc.deliver(user, sample_message("after an index-only arm", to=user))
    assert status_of(bg.wait(30)) == "2"


def test_thousand_pings_of_one_device(dc):
    """A device that opens Ping after Ping keeps exactly one alive: each
    new one ends the one before with Status 1, and nothing piles up in
    the service (connections, file descriptors)."""
    c, user, _, by_type, _ = setup_device(dc, "plugthousand")
    inbox = by_type["2"]
    sync_all(c, inbox)
    mark = dc.log_offset()
    prev = Background(ping, c, 60, [(inbox, "Email")])
    wait_held(dc, mark)
    pids = service_pids(dc)
    fds_before = sum(len(os.listdir("/proc/%d/fd" % p)) for p in pids)
    n = 1000
    t0 = time.monotonic()
    for i in range(n - 1):
        # the previous one's Status 1 comes only once this one was taken
        # in, so the next is always the newest
        nxt = Background(ping, c, 60, [(inbox, "Email")])
        r = prev.wait(30)
        assert status_of(r) == "1", (i, r)
        prev = nxt
    print("  %d Pings of one device in %.1f s" % (n, time.monotonic() - t0))
    assert service_pids(dc) == pids
    fds_after = sum(len(os.listdir("/proc/%d/fd" % p)) for p in pids)
    assert fds_after <= fds_before + 5, (fds_before, fds_after)
    dc.deliver(user, sample_message("to the last of many", to=user))
    assert status_of(prev.wait(30)) == "2"
