"""Every Dovecot mail storage: Maildir, sdbox, mdbox and mbox.

The same representative commands run once per storage, each storage in
an instance of its own (the runner names the tests
test_storages[DRIVER].test_...): Provision and FolderSync, Sync both
ways (checked over IMAP), SendMail, MoveItems, ItemOperations Fetch,
Search, and Ping woken by a delivery with the activesync mail plugin and
without it.

mbox is served one connection per process (Dovecot's mbox refuses a
process with more than one client); the service sets that up itself at
start when the default mail_location is mbox, with the shipped
process_limit.  A user whose userdb gives mbox while the process serves
many clients is answered 503 with Retry-After."""

import http.client
import os
import time
import uuid

from harness import and_query, Background, body_pref, compose_xml, \
    fetch_item_xml, folders, freetext, imap_flags, imap_session, \
    imap_subjects, itemops, move_items, new_account, ok_top, open_paths, \
    ping, ping_status, plugin_dir_conf, proc_status_kb, sample_message, \
    search, search_subjects, service_pids, setup_device, SmtpSink, start, \
    store_status, sync, sync_all, T_DELETED, T_INBOX, uid_of, wait_held, \
    xall, xrequire, xtext

SINK = SmtpSink()

INSTANCES = {
    driver: dict(
        activesync=True,
        mail_driver=driver,
        plugin_settings={
            "activesync_ping_min_heartbeat": "1s",
            "activesync_ping_max_heartbeat": "120s",
            # "Holding for", and which wake-up source a Ping uses
            "activesync_debug": "yes",
        },
        extra_conf=plugin_dir_conf() +
        "submission_host = 127.0.0.1:%d\nsubmission_timeout = 20s\n"
        % SINK.port)
    for driver in ("maildir", "sdbox", "mdbox", "mbox")
}

MBOX_START_LINE = "mbox: one device connection per process"
# the userdb field that switches a user to mbox
MBOX_LOCATION = "mbox:~/mail:INBOX=~/mbox-inbox"


def _subject_ids(r):
    return {xtext(a, "ApplicationData/Email:Subject"): xtext(a, "ServerId")
            for a in r.adds}


def test_provision_and_foldersync(dc):
    c = new_account(dc, "fs")
    r = c.provision()
    assert c.policy_key not in (None, "0"), r
    f = folders(c)
    # Inbox, Drafts, Deleted Items, Sent Items
    assert {2, 3, 4, 5} <= set(f), f
    assert len(set(f.values())) == len(f), f
    # how this process serves clients: told once per process at start
    log = dc.log()
    if dc.mail_driver == "mbox":
        assert MBOX_START_LINE in log, dc.log_tail()
        assert "process_limit=10 " in log, dc.log_tail()
    else:
        assert MBOX_START_LINE not in log


def test_sync_both_ways(dc):
    c = new_account(dc, "sync")
    f = folders(c)
    inbox = f[T_INBOX]
    for subject in ("Keep", "Read me", "Delete me"):
        dc.deliver(c.user, sample_message(subject, "Body of %s.\n" % subject,
                                          to=c.user))
    r = start(c, inbox, options=body_pref(1))
    ids = _subject_ids(r)
    assert sorted(ids) == ["Delete me", "Keep", "Read me"], r.resp
    assert "Body of Keep." in xtext(r.add_by_subject("Keep"),
                                    "ApplicationData/Body/Data")

    # the device reads one and deletes one: seen over IMAP
    r = sync(c, inbox, r.key, commands=(
        "<Change><ServerId>%s</ServerId><ApplicationData>"
        "<email:Read>1</email:Read></ApplicationData></Change>"
        "<Delete><ServerId>%s</ServerId></Delete>" % (
            ids["Read me"], ids["Delete me"]))).ok()
    assert r.responses is None and not r.changes and not r.deletes, r.resp
    assert "\\Seen" in imap_flags(dc, c, uid_of(ids["Read me"]))
    assert "\\Seen" not in imap_flags(dc, c, uid_of(ids["Keep"]))
    assert sorted(imap_subjects(dc, c, "INBOX")) == ["Keep", "Read me"]
    assert imap_subjects(dc, c, "Trash") == ["Delete me"]

    # server side: a new mail, a flag set and an expunge over IMAP
    dc.deliver(c.user, sample_message("Later", to=c.user))
    imap = imap_session(dc, c)
    try:
        assert imap.uid("STORE", str(uid_of(ids["Keep"])), "+FLAGS",
                        "(\\Flagged)")[0] == "OK"
        assert imap.uid("STORE", str(uid_of(ids["Read me"])), "+FLAGS",
                        "(\\Deleted)")[0] == "OK"
        assert imap.expunge()[0] == "OK"
    finally:
        imap.logout()
    r = sync(c, inbox, r.key).ok()
    assert [xtext(a, "ApplicationData/Email:Subject")
            for a in r.adds] == ["Later"], r.resp
    assert r.deletes == [ids["Read me"]], r.resp
    assert [xtext(ch, "ServerId") for ch in r.changes] == [ids["Keep"]], \
        r.resp
    assert xtext(r.changes[0], "ApplicationData/Email:Flag/"
                 "Email:FlagStatus") == "2", r.resp
    r = sync(c, inbox, r.key).ok()
    assert not r.adds and not r.changes and not r.deletes, r.resp

    # the deleted mail is in the device's Deleted Items
    r = start(c, f[T_DELETED], options=body_pref(1))
    assert list(_subject_ids(r)) == ["Delete me"], r.resp


def test_sendmail_saves_in_sent(dc):
    SINK.start()
    c = new_account(dc, "send")
    folders(c)
    subject = "Sent from %s %s" % (dc.mail_driver, uuid.uuid4().hex[:8])
    mime = ("From: %s\r\nTo: Bob <bob@example.test>\r\nSubject: %s\r\n"
            "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8"
            "\r\n\r\nHello Bob.\r\n" % (c.user, subject)).encode()
    r = c.request("SendMail", compose_xml("SendMail", mime,
                                          client_id=uuid.uuid4().hex))
    assert r.status == 200 and r.body == b"", (r, r.body[:200])
    got = SINK.find(subject)
    assert len(got) == 1, SINK.messages[-3:]
    assert got[0]["rcpts"] == ["<bob@example.test>"], got[0]
    assert b"Hello Bob." in got[0]["data"]
    assert imap_subjects(dc, c, "Sent") == [subject]


def test_moveitems(dc):
    c = new_account(dc, "move")
    for i in range(2):
        dc.deliver(c.user, sample_message("Mail %d" % i, to=c.user))
    imap = imap_session(dc, c)
    try:
        assert imap.create("Archive")[0] == "OK"
    finally:
        imap.logout()
    r = c.foldersync()
    names = {xtext(a, "DisplayName"): xtext(a, "ServerId")
             for a in xall(r, "Changes/Add")}
    inbox = [xtext(a, "ServerId") for a in xall(r, "Changes/Add")
             if xtext(a, "Type") == "2"][0]
    archive = names["Archive"]
    ri = start(c, inbox, options=body_pref(1))
    ids = _subject_ids(ri)
    ra = start(c, archive, options=body_pref(1))
    assert not ra.adds, ra.resp

    r, res = move_items(c, [(ids["Mail 0"], inbox, archive)])
    assert [s for _, s, _ in res] == ["3"], r
    new_id = res[0][2]
    assert new_id.startswith(archive + ":"), res
    assert imap_subjects(dc, c, "INBOX") == ["Mail 1"]
    assert imap_subjects(dc, c, "Archive") == ["Mail 0"]
    imap = imap_session(dc, c, "Archive")
    try:
        typ, data = imap.uid("SEARCH", "ALL")
        assert typ == "OK" and data[0].split() == [
            str(uid_of(new_id)).encode()], data
    finally:
        imap.logout()
    # neither folder sends the move back to the device
    ri = sync(c, inbox, ri.key).ok()
    assert not ri.adds and not ri.deletes, ri.resp
    ra = sync(c, archive, ra.key).ok()
    assert not ra.adds and not ra.deletes, ra.resp


def test_itemoperations_fetch(dc):
    c = new_account(dc, "fetch")
    dc.deliver(c.user, sample_message("Fetch me", "The body to fetch.\n",
                                      to=c.user))
    inbox = folders(c)[T_INBOX]
    r = start(c, inbox, options=body_pref(1))
    sid = xtext(r.add_by_subject("Fetch me"), "ServerId")
    r = itemops(c, fetch_item_xml(inbox, sid, body_pref(1)))
    f = ok_top(r)[0]
    assert xtext(f, "Status") == "1", r
    assert xtext(f, "AirSync:ServerId") == sid
    assert xtext(f, "Properties/Email:Subject") == "Fetch me"
    assert "The body to fetch." in xtext(
        f, "Properties/AirSyncBase:Body/AirSyncBase:Data"), r
    # fetching does not mark it read
    assert "\\Seen" not in imap_flags(dc, c, uid_of(sid))


def test_search(dc):
    c = new_account(dc, "search")
    for subject, body in (("Zebra news", "stripes everywhere"),
                          ("Lunch", "pizza today"),
                          ("Report", "numbers about the zebra")):
        dc.deliver(c.user, sample_message(subject, body + "\n", to=c.user))
    folders(c)
    r = search(c, and_query(freetext("zebra")), body_pref(1, 100))
    assert store_status(r) == "1", r
    assert sorted(search_subjects(r)) == ["Report", "Zebra news"], r
    for res in xall(r, "Response/Store/Result"):
        long_id = xrequire(res, "LongId")
        assert long_id.startswith(xrequire(res, "AirSync:CollectionId") +
                                  ":"), long_id
    r = search(c, and_query(freetext("pizza")))
    assert search_subjects(r) == ["Lunch"], r


def _held_ping(dc, c, inbox):
    """A Ping on the Inbox, held (waiting for a change)."""
    sync_all(c, inbox)
    mark = dc.log_offset()
    bg = Background(ping, c, 60, [(inbox, "Email")])
    wait_held(dc, mark)
    return bg, mark


def test_ping_woken_through_plugin(dc):
    c, user, _, by_type, _ = setup_device(dc, "plug-%s" % dc.mail_driver)
    bg, mark = _held_ping(dc, c, by_type["2"])
    dc.deliver(user, sample_message("pushed", to=user))
    r = bg.wait(30)
    assert ping_status(r) == "2", r
    assert [e.text for e in xall(r, "Ping/Folders/Folder")] == \
        [by_type["2"]], r
    log = dc.log_since(mark)
    assert "plugin notifications, user released" in log, log[-2000:]
    assert "Change notification M" in log, log[-2000:]


def test_ping_woken_without_plugin(dc):
    # this user's mail_plugins lack activesync: the delivery sends no
    # datagram and the held Ping waits on the mailbox list index
    # (an empty userdb value would read as "yes")
    c, user, _, by_type, _ = setup_device(
        dc, "noplug-%s" % dc.mail_driver,
        extra_fields={"mail_plugins": "notify"})
    bg, mark = _held_ping(dc, c, by_type["2"])
    dc.deliver(user, sample_message("noticed", to=user))
    r = bg.wait(30)
    assert ping_status(r) == "2", r
    log = dc.log_since(mark)
    assert "mailbox list watch" in log, log[-2000:]
    assert "plugin notifications" not in log, log[-2000:]


def _device_connections(dc):
    """{pid: connections from devices} of the activesync processes:
    established TCP connections to the service port held by each."""
    inodes = set()
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            if int(fields[1].split(":")[1], 16) == dc.eas_port and \
                    fields[3] == "01":
                inodes.add("socket:[%s]" % fields[9])
    out = {}
    for pid in service_pids(dc):
        try:
            out[pid] = len([p for p in open_paths(pid) if p in inodes])
        except OSError:
            pass    # ended meanwhile
    return out


def test_held_ping_does_not_block_others(dc):
    """While one device's Ping is held, another device syncs; with mbox
    each is in a process of its own."""
    a, user_a, _, types_a, _ = setup_device(dc, "holda-%s" % dc.mail_driver)
    b, user_b, _, types_b, _ = setup_device(dc, "holdb-%s" % dc.mail_driver)
    bg, _ = _held_ping(dc, a, types_a["2"])
    dc.deliver(user_b, sample_message("for b", to=user_b))
    r = start(b, types_b["2"], options=body_pref(1))
    assert "for b" in [xtext(x, "ApplicationData/Email:Subject")
                       for x in r.adds], r.resp
    assert bg.result is None and bg.thread.is_alive()
    conns = _device_connections(dc)
    holding = [pid for pid, n in conns.items() if n > 0]
    assert holding, conns
    if dc.mail_driver == "mbox":
        # one connection per process
        assert max(conns.values()) == 1, conns
        print("  mbox: held Ping process VmRSS %d kB (%d processes)" % (
            proc_status_kb(holding[0], "VmRSS"), len(conns)))
    dc.deliver(user_a, sample_message("for a", to=user_a))
    assert ping_status(bg.wait(30)) == "2"


def test_userdb_mbox_in_many_client_process(dc):
    """userdb switches a user to mbox: a process serving many clients
    answers 503 with Retry-After and says what to change; a one-client
    (mbox) process serves a user on another storage as usual."""
    if dc.mail_driver == "mbox":
        user, password = "tomaildir@example.test", "pw-tomaildir"
        dc.add_user(user, password, {"mail": "maildir:~/Maildir"})
        c = dc.eas_client(user, password)
        r = c.foldersync()
        assert r.status == 200 and \
            xrequire(r, "FolderSync/Status") == "1", r
        assert os.path.isdir(os.path.join(dc.home_root, user, "Maildir"))
        return
    user = "tombox-%s@example.test" % dc.mail_driver
    password = "pw-tombox"
    dc.add_user(user, password, {"mail": MBOX_LOCATION})
    c = dc.eas_client(user, password)
    mark = dc.log_offset()
    r = c.request("FolderSync", '<FolderSync xmlns="FolderHierarchy:">'
                  '<SyncKey>0</SyncKey></FolderSync>')
    assert r.status == 503, r
    assert r.header("Retry-After") == "300", r.headers
    line = dc.wait_for_log(r"503: The user's mail storage is mbox",
                           since=mark)
    assert "client_limit = 1" in line and MBOX_LOCATION in line, line
    # nothing was opened (no half-made mbox)
    assert not os.path.exists(os.path.join(dc.home_root, user,
                                           "mbox-inbox"))


def test_keepalive_connections_per_process(dc):
    """Two devices' keep-alive connections: one process serves both,
    except on mbox, where each has a process and an idle connection is
    closed after 10 s (not the usual 5 minutes): it would hold a whole
    process that other devices need."""
    c = dc.eas_client("user1@example.test")
    conns = []
    try:
        for _ in range(2):
            conn = http.client.HTTPConnection("127.0.0.1", dc.eas_port,
                                              timeout=30)
            conns.append(conn)
            conn.request("OPTIONS", "/Microsoft-Server-ActiveSync",
                         headers={"Authorization": c.auth_header()})
            r = conn.getresponse()
            r.read()
            assert r.status == 200 and not r.will_close, r.getheaders()
        per_pid = _device_connections(dc)
        if dc.mail_driver != "mbox":
            assert max(per_pid.values()) == 2, per_pid
            return
        assert sorted(per_pid.values())[-2:] == [1, 1], per_pid
        t0 = time.monotonic()
        for conn in conns:
            assert conn.sock.recv(1) == b""     # closed by the server
        idle = time.monotonic() - t0
        assert 8 < idle < 20, idle
    finally:
        for conn in conns:
            conn.close()
