"""Sync recovery: item isolation for a device that keeps failing on one
item, and the notice for a device that ignores a vanished folder."""

from harness import body_pref, deliver_plain, folders, imap_session, \
    new_account, sync, T_INBOX, uid_of, xtext

INSTANCE = dict(activesync=True)

ISOLATE_SUBJECT = "A message could not be delivered to your device"
HIERARCHY_SUBJECT = "Your device needs to be set up again"


def inbox_messages(dc, c, subject):
    """(uid, body) of INBOX messages with that subject"""
    imap = imap_session(dc, c)
    try:
        typ, data = imap.uid("SEARCH", "CHARSET", "UTF-8", "SUBJECT",
                             '"%s"' % subject)
        assert typ == "OK", data
        out = []
        for uid in data[0].split():
            typ, d = imap.uid("FETCH", uid, "(BODY.PEEK[TEXT])")
            assert typ == "OK", d
            out.append((int(uid), d[0][1].decode("utf-8")))
        return out
    finally:
        imap.logout()


def subjects(r):
    return [xtext(a, "ApplicationData/Email:Subject") for a in r.adds]


def check_isolation(dc, version):
    c = new_account(dc, "iso" + version.replace(".", ""), version=version)
    inbox = folders(c)[T_INBOX]
    for s in ("Old one", "Middle one", "Poison pill"):
        deliver_plain(dc, c, s)
    r0 = sync(c, inbox, "0", options=body_pref(1)).ok()
    key = r0.key
    first = sync(c, inbox, key, window=2).ok()
    assert subjects(first) == ["Poison pill", "Middle one"], first.resp
    poison = uid_of(xtext(first.adds[0], "ServerId"))
    # the device chokes on the response and sends its key again
    r = sync(c, inbox, key, window=2).ok()
    assert subjects(r) == subjects(first), r.resp      # plain replay
    r = sync(c, inbox, key, window=2).ok()
    assert subjects(r) == ["Poison pill"] and r.more, r.resp   # window 1
    r = sync(c, inbox, key, window=2).ok()
    assert subjects(r) == ["Poison pill"], r.resp
    # fifth time: the item is left out, the rest flows again
    r = sync(c, inbox, key, window=2).ok()
    assert subjects(r) == ["Middle one", "Old one"], r.resp
    notices = inbox_messages(dc, c, ISOLATE_SUBJECT)
    assert len(notices) == 1, notices
    assert "Poison pill" in notices[0][1], notices
    # repeating the key again does not loop nor notify again; what
    # follows is the rest of the folder and the notice, never the item
    r = sync(c, inbox, key, window=2).ok()
    seen = subjects(r)
    while r.more or r.adds:
        r = sync(c, inbox, r.key, window=2).ok()
        seen += subjects(r)
    assert sorted(seen) == sorted([ISOLATE_SUBJECT, "Middle one",
                                   "Old one"]), seen
    assert len(inbox_messages(dc, c, ISOLATE_SUBJECT)) == 1
    # the message is still in the mailbox
    imap = imap_session(dc, c)
    try:
        typ, data = imap.uid("FETCH", str(poison), "(FLAGS)")
        assert typ == "OK" and data[0] is not None, data
    finally:
        imap.logout()


def test_isolation_14_1(dc):
    check_isolation(dc, "14.1")


def test_isolation_16_1(dc):
    check_isolation(dc, "16.1")


def test_vanished_folder_notice(dc):
    c = new_account(dc, "hier")
    inbox = folders(c)[T_INBOX]
    r = sync(c, inbox, "0", options=body_pref(1)).ok()
    # the device ignores Status 12 for a folder that is gone
    for i in range(3):
        bad = sync(c, "4242", "5")
        assert bad.status == "12", bad.resp
    assert inbox_messages(dc, c, HIERARCHY_SUBJECT) == []
    for i in range(3):
        bad = sync(c, "4242", "5")
        assert bad.status == "12", bad.resp
    notices = inbox_messages(dc, c, HIERARCHY_SUBJECT)
    assert len(notices) == 1, notices
    assert "remove this mail account" in notices[0][1], notices
    # the rest of the account still works
    r = sync(c, inbox, r.key).ok()
    assert [xtext(a, "ApplicationData/Email:Subject")
            for a in r.adds] == [HIERARCHY_SUBJECT], r.resp


def test_unreadable_message_is_sent_once_readable(dc):
    """A message whose file can't be read is not sent with an empty
    body the device would keep: it is left out (a warning logged) and
    sent, whole, by a Sync after it became readable."""
    import glob
    import os
    c = new_account(dc, "unreadable")
    deliver_plain(dc, c, "Readable", "First body.\n")
    deliver_plain(dc, c, "Locked", "Second body.\n")
    maildir = os.path.join(dc.home_root, c.user, "Maildir")
    locked = [p for p in glob.glob(os.path.join(maildir, "new", "*")) +
              glob.glob(os.path.join(maildir, "cur", "*"))
              if b"Subject: Locked" in open(p, "rb").read()]
    assert len(locked) == 1, locked
    inbox = folders(c)[T_INBOX]
    r = sync(c, inbox, "0", options=body_pref(1)).ok()
    mark = dc.log_offset()
    os.chmod(locked[0], 0)
    try:
        r = sync(c, inbox, r.key).ok()
        subjects = [xtext(a, "ApplicationData/Email:Subject")
                    for a in r.adds]
        assert subjects == ["Readable"], r.resp
        dc.wait_for_log_text(mark, "Sync: skipping UID")
    finally:
        os.chmod(locked[0], 0o600)
    r = sync(c, inbox, r.key).ok()
    assert [xtext(a, "ApplicationData/Email:Subject") for a in r.adds] == \
        ["Locked"], r.resp
    assert "Second body." in xtext(
        r.adds[0], "ApplicationData/AirSyncBase:Body/AirSyncBase:Data")
