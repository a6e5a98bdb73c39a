"""Ping (MS-ASCMD 2.2.1.13): limits, remembered parameters, and push
woken by real mailbox changes (LMTP delivery, IMAP flag change).

The instance allows heartbeats from 1 s so the expiry path runs fast."""

import socket
import time

from harness import Background, encode_xml, ping, ping_status as status_of, \
    ping_xml, sample_message, setup_device, sync_all, wait_held, xall, \
    xrequire

MIN_HB = 1
MAX_HB = 120
MAX_FOLDERS = 5

INSTANCE = dict(activesync=True, plugin_settings={
    "activesync_ping_min_heartbeat": "%ds" % MIN_HB,
    "activesync_ping_max_heartbeat": "%ds" % MAX_HB,
    "activesync_ping_max_folders": str(MAX_FOLDERS),
    "activesync_debug": "yes",
})


# ------------------------------------------------------------ limits

def test_heartbeat_out_of_range(dc):
    c, user, _, by_type, _ = setup_device(dc, "pinghb")
    inbox = by_type["2"]
    r = ping(c, MAX_HB + 1, [(inbox, "Email")])
    assert status_of(r) == "5", r
    assert xrequire(r, "Ping/HeartbeatInterval") == str(MAX_HB), r
    r = ping(c, 0, [(inbox, "Email")])
    assert status_of(r) == "5", r
    assert xrequire(r, "Ping/HeartbeatInterval") == str(MIN_HB), r
    r = ping(c, "soon", [(inbox, "Email")])
    assert status_of(r) == "4", r


def test_too_many_folders(dc):
    c, user, _, by_type, ids = setup_device(dc, "pingmany")
    folders = [(fid, "Email") for fid in ids]
    while len(folders) <= MAX_FOLDERS:
        folders.append(("%d" % (900 + len(folders)), "Email"))
    r = ping(c, 10, folders)
    assert status_of(r) == "6", r
    assert xrequire(r, "Ping/MaxFolders") == str(MAX_FOLDERS), r


def test_unknown_folder_needs_foldersync(dc):
    c, user, _, by_type, _ = setup_device(dc, "pingunknown")
    r = ping(c, 10, [(by_type["2"], "Email"), ("999999", "Email")])
    assert status_of(r) == "7", r


HIERARCHY_SUBJECT = "Your device needs to be set up again"


def notices(dc, user, password):
    imap = dc.imap(user, password)
    try:
        imap.select("INBOX", readonly=True)
        typ, data = imap.search(None, "SUBJECT", '"%s"' % HIERARCHY_SUBJECT)
        assert typ == "OK", data
        return data[0].split()
    finally:
        imap.logout()


def imap_create_folder(dc, c, user, password, name):
    """Create a folder over IMAP; its id from the device's FolderSync."""
    imap = dc.imap(user, password)
    try:
        typ, data = imap.create(name)
        assert typ == "OK", data
    finally:
        imap.logout()
    r = c.foldersync()
    ids = [xrequire(a, "ServerId") for a in xall(r, "Changes/Add")
           if xrequire(a, "DisplayName") == name]
    assert len(ids) == 1, r
    return ids[0]


def imap_delete_folder(dc, user, password, name):
    imap = dc.imap(user, password)
    try:
        typ, data = imap.delete(name)
        assert typ == "OK", data
    finally:
        imap.logout()


def check_deleted_folder_notice(dc, version):
    """A device that keeps Pinging a deleted folder without a FolderSync
    is counted like Sync Status 12: after Status 7 was ignored three
    times its user gets the one-time notice."""
    name = "pinggone" + version.replace(".", "")
    c, user, password, by_type, _ = setup_device(dc, name, version)
    doomed = imap_create_folder(dc, c, user, password, "Doomed")
    inbox = by_type["2"]
    sync_all(c, inbox)
    sync_all(c, doomed)
    imap_delete_folder(dc, user, password, "Doomed")
    mark = dc.log_offset()
    for i in range(3):
        r = ping(c, 10, [(inbox, "Email"), (doomed, "Email")])
        assert status_of(r) == "7", r
        assert notices(dc, user, password) == [], i
    assert dc.log_since(mark).count(
        "Ping: unknown folder id %s" % doomed) == 3
    # the fourth request without a FolderSync: the notice, once
    r = ping(c, 10, [(inbox, "Email"), (doomed, "Email")])
    assert status_of(r) == "7", r
    assert len(notices(dc, user, password)) == 1
    r = ping(c)  # remembered folders: still the deleted one
    assert status_of(r) == "7", r
    assert len(notices(dc, user, password)) == 1
    assert "keeps asking for folder %s" % doomed in dc.log_since(mark)
    # a Ping of the remaining folders works; the notice woke the Inbox
    r = ping(c, 10, [(inbox, "Email")])
    assert status_of(r) == "2", r


def test_deleted_folder_notice_14_1(dc):
    check_deleted_folder_notice(dc, "14.1")


def test_deleted_folder_notice_16_1(dc):
    check_deleted_folder_notice(dc, "16.1")


def test_folder_deleted_during_held_ping(dc):
    """The folder goes away while the Ping is held: Status 7, counted."""
    c, user, password, by_type, _ = setup_device(dc, "pingheldgone")
    fid = imap_create_folder(dc, c, user, password, "Shortlived")
    sync_all(c, fid)
    mark = dc.log_offset()
    bg = Background(ping, c, 60, [(fid, "Email")])
    wait_held(dc, mark)
    imap_delete_folder(dc, user, password, "Shortlived")
    r = bg.wait(30)
    assert status_of(r) == "7", r
    log = dc.log_since(mark)
    assert "Ping: folder %s no longer exists" % fid in log
    # the open user's mailbox GUID cache is refreshed, not reported
    assert "Couldn't verify mailbox GUID" not in log, log[-2000:]


def test_empty_ping_without_remembered_parameters(dc):
    c, user, _, by_type, _ = setup_device(dc, "pingempty")
    r = ping(c)  # no body at all
    assert status_of(r) == "3", r
    # heartbeat alone, no folders remembered
    r = ping(c, 10)
    assert status_of(r) == "3", r
    # malformed: a Folder without Id
    r = c.request("Ping", '<Ping xmlns="Ping:"><HeartbeatInterval>10'
                  '</HeartbeatInterval><Folders><Folder><Class>Email'
                  '</Class></Folder></Folders></Ping>')
    assert status_of(r) == "4", r
    # nothing was remembered by the failed requests
    r = ping(c)
    assert status_of(r) == "3", r


# ------------------------------------------------------------ changes

def test_unsynced_folder_reports_changes_at_once(dc):
    c, user, _, by_type, _ = setup_device(dc, "pingunsynced")
    t0 = time.monotonic()
    r = ping(c, 30, [(by_type["2"], "Email")])
    assert status_of(r) == "2", r
    assert [e.text for e in xall(r, "Ping/Folders/Folder")] == \
        [by_type["2"]], r
    assert time.monotonic() - t0 < 5, "not answered at once"


def test_heartbeat_expires_on_synced_inbox(dc):
    c, user, _, by_type, _ = setup_device(dc, "pingexpire")
    inbox = by_type["2"]
    sync_all(c, inbox)
    hb = 2
    t0 = time.monotonic()
    r = ping(c, hb, [(inbox, "Email")])
    dt = time.monotonic() - t0
    assert status_of(r) == "1", r
    assert hb - 0.2 <= dt <= hb + 3, "answered after %.2fs" % dt
    # empty Ping reuses the remembered folders and heartbeat
    t0 = time.monotonic()
    r = ping(c)
    dt = time.monotonic() - t0
    assert status_of(r) == "1", r
    assert hb - 0.2 <= dt <= hb + 3, "empty Ping answered after %.2fs" % dt


def test_delivery_wakes_ping(dc):
    c, user, _, by_type, ids = setup_device(dc, "pingdeliver")
    inbox = by_type["2"]
    sync_all(c, inbox)
    latencies = []
    for i in range(3):
        mark = dc.log_offset()
        bg = Background(ping, c, 60, [(inbox, "Email")])
        wait_held(dc, mark)
        time.sleep(0.2)
        t_deliver = time.monotonic()
        dc.deliver(user, sample_message("wake %d" % i, to=user))
        t_delivered = time.monotonic()
        r = bg.wait(30)
        assert status_of(r) == "2", r
        assert [e.text for e in xall(r, "Ping/Folders/Folder")] == \
            [inbox], r
        latencies.append(bg.done_at - t_delivered)
        print("  delivery -> Ping response: %.3f s (LMTP took %.3f s)" % (
            bg.done_at - t_delivered, t_delivered - t_deliver))
        sync_all(c, inbox)
    latencies.sort()
    print("  median delivery-to-Ping latency: %.3f s" %
          latencies[len(latencies) // 2])
    assert latencies[-1] < 5, latencies


def test_imap_flag_change_wakes_ping(dc):
    c, user, password, by_type, _ = setup_device(dc, "pingflag")
    inbox = by_type["2"]
    sync_all(c, inbox)
    imap = dc.imap(user, password)
    try:
        imap.select("INBOX")
        mark = dc.log_offset()
        bg = Background(ping, c, 60, [(inbox, "Email")])
        wait_held(dc, mark)
        time.sleep(0.2)
        t0 = time.monotonic()
        typ, data = imap.store("1", "+FLAGS", "(\\Flagged)")
        assert typ == "OK", data
        r = bg.wait(30)
        assert status_of(r) == "2", r
        assert [e.text for e in xall(r, "Ping/Folders/Folder")] == \
            [inbox], r
        print("  IMAP STORE -> Ping response: %.3f s" % (bg.done_at - t0))
    finally:
        imap.logout()


def test_change_in_other_folder_only_reports_that_folder(dc):
    c, user, password, by_type, ids = setup_device(dc, "pingother")
    inbox = by_type["2"]
    other = by_type.get("3") or by_type.get("5")  # Drafts or Sent
    assert other is not None, by_type
    sync_all(c, inbox)
    sync_all(c, other)
    mark = dc.log_offset()
    bg = Background(ping, c, 60, [(inbox, "Email"), (other, "Email")])
    wait_held(dc, mark)
    name = "Drafts" if by_type.get("3") == other else "Sent"
    imap = dc.imap(user, password)
    try:
        typ, data = imap.append(name, "", None,
                                sample_message("appended", to=user))
        assert typ == "OK", data
    finally:
        imap.logout()
    r = bg.wait(30)
    assert status_of(r) == "2", r
    assert [e.text for e in xall(r, "Ping/Folders/Folder")] == [other], r


def test_folder_without_items_does_not_loop(dc):
    """A folder Sync has no items for (here a \\NoSelect parent; calendar
    folders until their converter exists) must not wake
    every Ping once the device synced it."""
    name = "pingnoselect"
    user = "%s@example.test" % name
    password = "pw-" + name
    dc.add_user(user, password)
    dc.deliver(user, sample_message("first", to=user))
    imap = dc.imap(user, password)
    try:
        typ, data = imap.create("Projects/2024")
        assert typ == "OK", data
    finally:
        imap.logout()
    c = dc.eas_client(user, password)
    r = c.foldersync()
    ids = {xrequire(a, "DisplayName"): xrequire(a, "ServerId")
           for a in xall(r, "Changes/Add")}
    assert "Projects" in ids and "2024" in ids, r
    inbox = [xrequire(a, "ServerId") for a in xall(r, "Changes/Add")
             if xrequire(a, "Type") == "2"][0]
    parent = ids["Projects"]
    folders = [(inbox, "Email"), (parent, "Email")]
    sync_all(c, inbox)
    sync_all(c, parent)
    t0 = time.monotonic()
    r = ping(c, 2, folders)
    assert status_of(r) == "1", r
    assert time.monotonic() - t0 >= 1.8


def test_second_ping_ends_first(dc):
    c, user, _, by_type, _ = setup_device(dc, "pingtwice")
    inbox = by_type["2"]
    sync_all(c, inbox)
    mark = dc.log_offset()
    first = Background(ping, c, 60, [(inbox, "Email")])
    wait_held(dc, mark)
    t0 = time.monotonic()
    second = Background(ping, c, 60, [(inbox, "Email")])
    r1 = first.wait(15)
    assert status_of(r1) == "1", r1
    assert first.done_at - t0 < 5, "first Ping not ended promptly"
    wait_held(dc, mark, count=2)
    # the second one is held and still wakes up on a change
    dc.deliver(user, sample_message("after second", to=user))
    r2 = second.wait(30)
    assert status_of(r2) == "2", r2
    # a different device of the same user is independent
    sync_all(c, inbox)
    c2 = dc.eas_client(user, c.password, version=c.version)
    c2.provision()
    mark = dc.log_offset()
    a = Background(ping, c, 3, [(inbox, "Email")])
    wait_held(dc, mark)
    r = ping(c2, 3, [(inbox, "Email")])
    assert status_of(r) == "2", r  # c2 never synced the Inbox
    ra = a.wait(15)
    assert status_of(ra) == "1", ra
    assert a.done_at - t0 >= 2.5


def test_many_devices_of_one_user(dc):
    """Several devices of one user share one change watch in the process;
    every one of them wakes up, also after the device whose connection
    the watch was using went away."""
    c, user, password, by_type, _ = setup_device(dc, "pingdevices")
    inbox = by_type["2"]
    clients = [c]
    for _ in range(5):
        ci = dc.eas_client(user, password)
        ci.provision()
        clients.append(ci)
    for ci in clients:
        sync_all(ci, inbox)
    for round_ in range(2):
        mark = dc.log_offset()
        bgs = [Background(ping, ci, 60, [(inbox, "Email")])
               for ci in clients]
        wait_held(dc, mark, len(clients))
        if round_ == 1:
            # end the first held Ping (the watch's owner in all
            # likelihood) with a new Ping of that device
            old = bgs[0]
            bgs[0] = Background(ping, clients[0], 60, [(inbox, "Email")])
            assert status_of(old.wait(15)) == "1"
            wait_held(dc, mark, len(clients) + 1)
        time.sleep(0.3)
        dc.deliver(user, sample_message("to all %d" % round_, to=user))
        t_delivered = time.monotonic()
        for i, bg in enumerate(bgs):
            r = bg.wait(30)
            assert status_of(r) == "2", (i, r)
            assert bg.done_at - t_delivered < 5, \
                "device %d woke %.1fs after the delivery" % (
                    i, bg.done_at - t_delivered)
        print("  round %d: %d devices woken within %.3f s" % (
            round_, len(bgs), max(b.done_at for b in bgs) - t_delivered))
        for ci in clients:
            sync_all(ci, inbox)


def test_dropped_client_is_cleaned_up(dc):
    c, user, _, by_type, _ = setup_device(dc, "pingdrop")
    inbox = by_type["2"]
    sync_all(c, inbox)
    hb = 3
    body = encode_xml(ping_xml(hb, [(inbox, "Email")]))
    headers = c.headers()
    headers["Host"] = "127.0.0.1:%d" % dc.eas_port
    headers["Content-Length"] = str(len(body))
    path = c.query("Ping")
    head = "POST %s HTTP/1.1\r\n" % path
    head += "".join("%s: %s\r\n" % kv for kv in headers.items()) + "\r\n"
    for i in range(5):
        mark = dc.log_offset()
        s = socket.create_connection(("127.0.0.1", dc.eas_port), timeout=10)
        s.sendall(head.encode("latin-1") + body)
        wait_held(dc, mark)
        s.close()
        # the held Ping goes away at the latest when its heartbeat ends
        line = dc.wait_for_log(
            r"Client went away, releasing held Ping|"
            r"Ping: Answered Status 1", timeout=hb + 10, since=mark)
        print("  cleanup: %s" % line.strip()[-100:])
    # the service still answers, and Pinging still works
    assert dc.service_alive()
    r = ping(c, 1, [(inbox, "Email")])
    assert status_of(r) == "1", r
    assert not dc.bad_log_lines()


# ------------------------------------------------ helpers for test_push_*

def deliver_timed(dc, user, subject):
    t0 = time.monotonic()
    dc.deliver(user, sample_message(subject, to=user))
    return time.monotonic()


def measure_wakeups(dc, c, user, folder, rounds=5, label=""):
    """Deliver `rounds` messages, each while a Ping is held; returns the
    sorted delivery-to-response latencies."""
    latencies = []
    for i in range(rounds):
        mark = dc.log_offset()
        bg = Background(ping, c, 60, [(folder, "Email")])
        wait_held(dc, mark)
        time.sleep(0.2)
        t_delivered = deliver_timed(dc, user, "%s wake %d" % (label, i))
        r = bg.wait(30)
        assert status_of(r) == "2", r
        assert [e.text for e in xall(r, "Ping/Folders/Folder")] == \
            [folder], r
        latencies.append(bg.done_at - t_delivered)
        sync_all(c, folder)
    latencies.sort()
    print("  %s delivery -> Ping response: median %.1f ms, max %.1f ms "
          "(%d rounds)" % (label, latencies[len(latencies) // 2] * 1000,
                           latencies[-1] * 1000, rounds))
    return latencies
