"""A Sync with nothing new is answered from Dovecot's mailbox list index
status (UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ) without opening the folder,
and every kind of change made meanwhile is still seen by the next Sync.

Dovecot answers the status from the list index only while its record is
current (the mailbox's index log and, for maildir, new/ and cur/ are as
recorded), so right after a change the first Sync may open the folder;
`settle()` syncs until the list index answers."""

import os
import threading
import time

from harness import body_pref, folders, new_account, sample_message, sync, \
    sync_request, SyncResult as Result, T_INBOX, uid_of, xall, xtext

INSTANCE = dict(activesync=True, plugin_settings={
    "activesync_debug": "yes",
}, extra_conf="mailbox_list_index_include_inbox = yes\n")

FAST = "no changes (answered from the mailbox list index status"
OPENED = "opening the folder: "


def sync_lines(dc, offset, user, coll):
    """The fast-path decisions logged for this user's collection."""
    out = []
    for line in dc.log_since(offset).splitlines():
        if user in line and ("Sync %s: " % coll) in line and \
                (FAST in line or OPENED in line):
            out.append(line)
    return out


def decision(dc, offset, user, coll, timeout=10):
    """'fast' or 'opened': how the Sync after offset was answered."""
    deadline = time.monotonic() + timeout
    while True:
        lines = sync_lines(dc, offset, user, coll)
        if lines:
            return "fast" if FAST in lines[-1] else "opened"
        if time.monotonic() > deadline:
            raise AssertionError("no Sync decision logged for %s %s:\n%s" % (
                user, coll, dc.log_since(offset)[-3000:]))
        time.sleep(0.05)


def nochange(dc, c, coll, key):
    """One Sync that must have nothing to send. Returns (key, decision)."""
    off = dc.log_offset()
    r = sync(c, coll, key).ok()
    assert not r.adds and not r.changes and not r.deletes and \
        not r.soft_deletes and not r.more, r.resp
    assert r.key == str(int(key) + 1), r.resp
    return r.key, decision(dc, off, c.user, coll)


def settle(dc, c, coll, key, timeout=30):
    """No-change Syncs until one is answered from the list index. Returns
    the key after it."""
    deadline = time.monotonic() + timeout
    while True:
        key, how = nochange(dc, c, coll, key)
        if how == "fast":
            return key
        if time.monotonic() > deadline:
            raise AssertionError("no-change Sync never answered from the "
                                 "list index:\n" + dc.log_tail(60))
        time.sleep(0.3)


_serial = [0]


def account(dc, tag, messages=3, extra_fields=None):
    """A new user and device with messages synced; extra_fields are
    userdb fields (settings of this user in every Dovecot process)."""
    if extra_fields is None:
        c = new_account(dc, tag)
    else:
        _serial[0] += 1
        user = "fast-%s-%d@example.test" % (tag, _serial[0])
        dc.add_user(user, "pw-fast", extra_fields)
        c = dc.eas_client(user, "pw-fast", device_id="FAST%d" % _serial[0],
                          device_type="E2ETest")
    for i in range(messages):
        dc.deliver(c.user, sample_message("Fast %s %d" % (tag, i),
                                          "Body %d.\n" % i, to=c.user))
    inbox = folders(c)[T_INBOX]
    r = sync(c, inbox, "0", options=body_pref(1)).ok()
    r = sync(c, inbox, r.key).ok()
    assert len(r.adds) == messages and not r.more, r.resp
    return c, inbox, r


def imap(dc, c):
    m = dc.imap(c.user, c.password)
    typ, data = m.select("INBOX")
    assert typ == "OK", data
    return m


def imap_store(dc, c, uid, flags, expunge=False):
    """Add flags to one INBOX message over IMAP (and expunge)."""
    m = imap(dc, c)
    try:
        typ, data = m.uid("STORE", str(uid), "+FLAGS", flags)
        assert typ == "OK", data
        if expunge:
            typ, data = m.expunge()
            assert typ == "OK", data
    finally:
        m.logout()


def test_nochange_sync_does_not_open_the_folder(dc):
    c, inbox, r = account(dc, "plain")
    key = settle(dc, c, inbox, r.key)
    # and it stays that way while nothing happens
    for _ in range(3):
        key, how = nochange(dc, c, inbox, key)
        assert how == "fast", dc.log_tail(20)


def test_delivery_seen_after_fast_answer(dc):
    c, inbox, r = account(dc, "deliv")
    key = settle(dc, c, inbox, r.key)
    dc.deliver(c.user, sample_message("Arrived later", "New.\n", to=c.user))
    off = dc.log_offset()
    r = sync(c, inbox, key).ok()
    assert [xtext(a, "ApplicationData/Email:Subject") for a in r.adds] == \
        ["Arrived later"], r.resp
    assert decision(dc, off, c.user, inbox) == "opened"
    # back to no changes, and the fast answer again
    settle(dc, c, inbox, r.key)


def test_imap_flag_change_seen_after_fast_answer(dc):
    c, inbox, r = account(dc, "flag")
    target = uid_of(xtext(r.adds[0], "ServerId"))
    key = settle(dc, c, inbox, r.key)
    imap_store(dc, c, target, "(\\Seen)")
    r = sync(c, inbox, key).ok()
    assert len(r.changes) == 1 and not r.adds and not r.deletes, r.resp
    ch = r.changes[0]
    assert uid_of(xtext(ch, "ServerId")) == target, r.resp
    assert xtext(ch, "ApplicationData/Email:Read") == "1", r.resp
    settle(dc, c, inbox, r.key)


def test_imap_expunge_seen_after_fast_answer(dc):
    c, inbox, r = account(dc, "expunge")
    target = uid_of(xtext(r.adds[1], "ServerId"))
    key = settle(dc, c, inbox, r.key)
    imap_store(dc, c, target, "(\\Deleted)", expunge=True)
    r = sync(c, inbox, key).ok()
    assert [uid_of(d) for d in r.deletes] == [target] and not r.adds, r.resp
    settle(dc, c, inbox, r.key)


def test_keyword_change_seen_after_fast_answer(dc):
    c, inbox, r = account(dc, "keyword")
    target = uid_of(xtext(r.adds[0], "ServerId"))
    key = settle(dc, c, inbox, r.key)
    imap_store(dc, c, target, "(Project)")
    r = sync(c, inbox, key).ok()
    assert len(r.changes) == 1, r.resp
    assert uid_of(xtext(r.changes[0], "ServerId")) == target, r.resp
    assert xtext(r.changes[0], "ApplicationData/Email:Categories/"
                 "Email:Category") == "Project", r.resp
    settle(dc, c, inbox, r.key)


def test_doveadm_change_seen_after_fast_answer(dc):
    c, inbox, r = account(dc, "doveadm")
    target = uid_of(xtext(r.adds[2], "ServerId"))
    key = settle(dc, c, inbox, r.key)
    dc.doveadm("flags", "add", "-u", c.user, "\\Flagged", "mailbox",
               "INBOX", "uid", str(target))
    r = sync(c, inbox, key).ok()
    assert len(r.changes) == 1, r.resp
    assert uid_of(xtext(r.changes[0], "ServerId")) == target, r.resp
    assert xtext(r.changes[0], "ApplicationData/Email:Flag/"
                 "Email:FlagStatus") == "2", r.resp
    key = settle(dc, c, inbox, r.key)
    dc.doveadm("expunge", "-u", c.user, "mailbox", "INBOX", "uid",
               str(target))
    r = sync(c, inbox, key).ok()
    assert [uid_of(d) for d in r.deletes] == [target], r.resp


def test_file_dropped_into_maildir_seen_after_fast_answer(dc):
    """A message written into new/ by something that is not Dovecot (the
    list index knows nothing of it): Dovecot notices new/ changed."""
    c, inbox, r = account(dc, "external")
    key = settle(dc, c, inbox, r.key)
    new_dir = os.path.join(dc.home_root, c.user, "Maildir", "new")
    assert os.path.isdir(new_dir), new_dir
    name = "%d.M1P%d.external" % (int(time.time()), os.getpid())
    tmp = os.path.join(new_dir, "..", "tmp", name)
    with open(tmp, "wb") as f:
        f.write(sample_message("Dropped in", "Outside.\n", to=c.user))
    if os.geteuid() == 0:
        os.chown(tmp, dc.uid, dc.gid)
    os.rename(tmp, os.path.join(new_dir, name))
    r = sync(c, inbox, key).ok()
    assert [xtext(a, "ApplicationData/Email:Subject") for a in r.adds] == \
        ["Dropped in"], r.resp


def test_repeated_key_after_fast_answer_gets_same_answer(dc):
    c, inbox, r = account(dc, "replay")
    key = settle(dc, c, inbox, r.key)
    off = dc.log_offset()
    first = sync(c, inbox, key).ok()
    again = sync(c, inbox, key).ok()
    assert first.key == again.key == str(int(key) + 1), again.resp
    assert not again.adds and not again.changes and not again.deletes
    assert first.resp.body == again.resp.body
    lines = []
    deadline = time.monotonic() + 10
    while len(lines) < 2 and time.monotonic() < deadline:
        lines = sync_lines(dc, off, c.user, inbox)
        time.sleep(0.05)
    assert len(lines) == 2 and all(FAST in x for x in lines), lines
    # the conversation goes on from the repeated answer, and a change
    # made now shows up
    dc.deliver(c.user, sample_message("After replay", "x\n", to=c.user))
    r = sync(c, inbox, again.key).ok()
    assert len(r.adds) == 1, r.resp
    # the key before the repeated one is gone
    assert sync(c, inbox, key).status == "3"


def test_options_change_is_kept_by_fast_answer(dc):
    """Options sent with a no-change Sync are stored for later Syncs."""
    c, inbox, r = account(dc, "options")
    key = settle(dc, c, inbox, r.key)
    off = dc.log_offset()
    r = sync(c, inbox, key, options=body_pref(2)).ok()
    assert not r.adds and decision(dc, off, c.user, inbox) == "fast"
    dc.deliver(c.user, sample_message("Html now", "Body.\n", to=c.user))
    r = sync(c, inbox, r.key).ok()
    assert len(r.adds) == 1, r.resp
    assert xtext(r.adds[0], "ApplicationData/AirSyncBase:Body/"
                 "AirSyncBase:Type") == "2", r.resp


def test_client_commands_take_the_full_path(dc):
    c, inbox, r = account(dc, "commands")
    target = xtext(r.adds[0], "ServerId")
    key = settle(dc, c, inbox, r.key)
    off = dc.log_offset()
    r = sync(c, inbox, key, commands="<Change><ServerId>%s</ServerId>"
             "<ApplicationData><email:Read>1</email:Read>"
             "</ApplicationData></Change>" % target).ok()
    assert not r.changes, r.resp
    assert not sync_lines(dc, off, c.user, inbox)
    m = imap(dc, c)
    try:
        typ, data = m.uid("FETCH", str(uid_of(target)), "(FLAGS)")
        assert typ == "OK" and b"\\Seen" in data[0], data
    finally:
        m.logout()


def test_wait_with_fast_answer(dc):
    c, inbox, r = account(dc, "wait")
    key = settle(dc, c, inbox, r.key)
    out = {}
    off = dc.log_offset()

    def held():
        out["r"] = sync_request(c, inbox, key, top="<Wait>1</Wait>")
    th = threading.Thread(target=held)
    th.start()
    dc.wait_for_log_text(off, "Sync: no changes, waiting", timeout=20)
    assert th.is_alive()
    assert decision(dc, off, c.user, inbox) == "fast"
    dc.deliver(c.user, sample_message("Wake", "Up.\n", to=c.user))
    th.join(30)
    assert not th.is_alive()
    res = Result(out["r"]).ok()
    assert [xtext(a, "ApplicationData/Email:Subject") for a in res.adds] == \
        ["Wake"], res.resp


def test_inbox_without_include_inbox_opens_the_folder(dc):
    """Without mailbox_list_index_include_inbox Dovecot keeps no INBOX
    status in the list index: the folder is opened, nothing is asked of
    the list index that would open it twice."""
    c, inbox, r = account(dc, "noinbox", extra_fields={
        "mailbox_list_index_include_inbox": "no"})
    key = r.key
    for _ in range(3):
        off = dc.log_offset()
        key, how = nochange(dc, c, inbox, key)
        assert how == "opened"
        assert any("mailbox_list_index_include_inbox = no" in x
                   for x in sync_lines(dc, off, c.user, inbox))
    dc.deliver(c.user, sample_message("Still seen", "x\n", to=c.user))
    r = sync(c, inbox, key).ok()
    assert len(r.adds) == 1, r.resp


def test_other_folder_fast_answer(dc):
    """Folders other than INBOX are in the list index anyway."""
    c, inbox, r = account(dc, "folder", messages=0)
    m = imap(dc, c)
    try:
        assert m.create("Projects")[0] == "OK"
        for i in range(2):
            msg = sample_message("In projects %d" % i, "p\n", to=c.user)
            typ, data = m.append("Projects", None, None, msg)
            assert typ == "OK", data
    finally:
        m.logout()
    r = c.request_provisioned(
        "FolderSync", '<FolderSync xmlns="FolderHierarchy:"><SyncKey>0'
        '</SyncKey></FolderSync>')
    coll = None
    for add in xall(r, "Changes/Add"):
        if xtext(add, "FolderHierarchy:DisplayName") == "Projects":
            coll = xtext(add, "FolderHierarchy:ServerId")
    assert coll, r
    r = sync(c, coll, "0").ok()
    r = sync(c, coll, r.key).ok()
    assert len(r.adds) == 2, r.resp
    key = settle(dc, c, coll, r.key)
    m = imap(dc, c)
    try:
        m.select("Projects")
        typ, data = m.uid("STORE", "1", "+FLAGS", "(\\Seen)")
        assert typ == "OK", data
    finally:
        m.logout()
    r = sync(c, coll, key).ok()
    assert len(r.changes) == 1, r.resp


def test_estimate_from_list_index(dc):
    """GetItemEstimate answers 0 from the list index status too, and
    still counts a delivery made afterwards."""
    from test_estimate import estimate
    c, inbox, r = account(dc, "estim")
    key = settle(dc, c, inbox, r.key)
    off = dc.log_offset()
    assert estimate(c, inbox, key) == 0
    log = dc.log_since(off)
    assert "GetItemEstimate: folder %s unchanged (mailbox list index " \
        "status)" % inbox in log, log[-3000:]
    assert "Mailbox INBOX: Mailbox opened" not in log, log[-3000:]
    dc.deliver(c.user, sample_message("Estimate me", "New.\n", to=c.user))
    assert estimate(c, inbox, key) == 1
    r = sync(c, inbox, key).ok()
    assert len(r.adds) == 1, r.resp
