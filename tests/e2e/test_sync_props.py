"""Sync: flags with their dates, categories as IMAP keywords,
conversation ids, conflicts (MS-ASEMAIL Flag/Categories, MS-ASCON)."""

import base64
import uuid

from harness import body_pref, folders, imap_flags, imap_session, \
    new_account, sample_message, start, sync, T_INBOX, uid_of, xall, xfind, \
    xtext

INSTANCE = dict(activesync=True)

FLAG_FIELDS = [
    ("email:FlagStatus", "Email:FlagStatus", "2"),
    ("email:FlagType", "Email:FlagType", "Follow up"),
    ("tasks:StartDate", "Tasks:StartDate", "2024-03-01T00:00:00.000Z"),
    # libwbxml2's spelling of Tasks:UtcStartDate / UtcDueDate
    ("tasks:UTCStartDate", "Tasks:UTCStartDate",
     "2024-02-29T23:00:00.000Z"),
    ("tasks:DueDate", "Tasks:DueDate", "2024-03-08T00:00:00.000Z"),
    ("tasks:UTCDueDate", "Tasks:UTCDueDate", "2024-03-07T23:00:00.000Z"),
    ("tasks:ReminderSet", "Tasks:ReminderSet", "1"),
    ("tasks:ReminderTime", "Tasks:ReminderTime",
     "2024-03-07T08:30:00.000Z"),
    ("tasks:OrdinalDate", "Tasks:OrdinalDate", "2024-03-01T10:11:12.000Z"),
    ("tasks:SubOrdinalDate", "Tasks:SubOrdinalDate", "5555555"),
]


def flag_xml(fields):
    return "<email:Flag>%s</email:Flag>" % "".join(
        "<%s>%s</%s>" % (t, v, t) for t, _, v in fields)


def change(sid, data):
    return ("<Change><ServerId>%s</ServerId><ApplicationData>%s"
            "</ApplicationData></Change>" % (sid, data))


def sync_cmd(c, coll, key, commands, **kw):
    return sync(c, coll, key, commands=commands, **kw)


def second_device(dc, c, version):
    c2 = dc.eas_client(c.user, c.password, device_id=c.device_id + "B",
                       device_type="E2ETest", version=version)
    return c2


def flag_of(item):
    f = xfind(item, "ApplicationData/Email:Flag")
    assert f is not None, item
    return [(child.tag.split("}")[-1], child.text) for child in f]


def check_flag_round_trip(dc, version):
    c = new_account(dc, "flagdates" + version.replace(".", ""),
                    version=version)
    c.request = _with_tasks_ns(c.request)
    inbox = folders(c)[T_INBOX]
    dc.deliver(c.user, sample_message("Flag me", to=c.user))
    r = start(c, inbox, options=body_pref(1))
    sid = r.add_ids()[0]
    r = sync_cmd(c, inbox, r.key, change(sid, flag_xml(FLAG_FIELDS))).ok()
    assert r.responses is None and not r.changes, r.resp
    assert "\\Flagged" in imap_flags(dc, c, uid_of(sid))

    # another device of the user gets every field back, in order
    c2 = second_device(dc, c, version)
    inbox2 = folders(c2)[T_INBOX]
    r2 = start(c2, inbox2, options=body_pref(1))
    got = flag_of(r2.adds[0])
    want = [(n.split(":")[1], v) for _, n, v in FLAG_FIELDS]
    # wbxml2xml calls Email:Status FlagStatus
    assert got == want, (got, r2.resp)

    # complete it: \Flagged goes, the completion dates stay
    done = [("email:FlagStatus", "", "1"),
            ("email:CompleteTime", "", "2024-03-05T12:00:00.000Z"),
            ("tasks:DateCompleted", "", "2024-03-05T12:00:00.000Z")]
    r = sync_cmd(c, inbox, r.key, change(sid, flag_xml(done))).ok()
    assert "\\Flagged" not in imap_flags(dc, c, uid_of(sid))
    r2 = sync(c2, inbox2, r2.key).ok()
    assert len(r2.changes) == 1, r2.resp
    assert flag_of(r2.changes[0]) == [
        ("FlagStatus", "1"), ("CompleteTime", "2024-03-05T12:00:00.000Z"),
        ("DateCompleted", "2024-03-05T12:00:00.000Z")], r2.resp

    # flagged again over IMAP: IMAP wins, a plain active flag
    imap = imap_session(dc, c)
    try:
        assert imap.uid("STORE", str(uid_of(sid)), "+FLAGS",
                        "(\\Flagged)")[0] == "OK"
    finally:
        imap.logout()
    r2 = sync(c2, inbox2, r2.key).ok()
    assert flag_of(r2.changes[0])[0] == ("FlagStatus", "2"), r2.resp
    assert len(flag_of(r2.changes[0])) == 2, r2.resp

    # cleared by the device (once it has seen the IMAP change): an
    # empty Flag everywhere
    r = sync(c, inbox, r.key).ok()
    assert len(r.changes) == 1, r.resp
    r = sync_cmd(c, inbox, r.key, change(sid, "<email:Flag/>")).ok()
    assert "\\Flagged" not in imap_flags(dc, c, uid_of(sid))
    r2 = sync(c2, inbox2, r2.key).ok()
    assert flag_of(r2.changes[0]) == [], r2.resp


def _with_tasks_ns(request):
    def wrapped(cmd, xml=None, **kw):
        if xml is not None and "tasks:" in xml:
            xml = xml.replace('xmlns:email="Email:"',
                              'xmlns:email="Email:" xmlns:tasks="Tasks:"',
                              1)
        return request(cmd, xml, **kw)
    return wrapped


def test_flag_dates_round_trip_14_1(dc):
    check_flag_round_trip(dc, "14.1")


def test_flag_dates_round_trip_16_1(dc):
    check_flag_round_trip(dc, "16.1")


def categories_of(item):
    cats = xfind(item, "ApplicationData/Email:Categories")
    assert cats is not None, item
    return [x.text for x in cats]


def imap_keywords(dc, c, uid):
    flags = imap_flags(dc, c, uid)
    inner = flags[flags.index("FLAGS (") + 7:]
    return inner[:inner.index(")")].split()


def check_categories(dc, version):
    c = new_account(dc, "cats" + version.replace(".", ""), version=version)
    inbox = folders(c)[T_INBOX]
    dc.deliver(c.user, sample_message("Categorize", to=c.user))
    r = start(c, inbox, options=body_pref(1))
    sid = r.add_ids()[0]
    uid = uid_of(sid)
    # no categories yet: an empty element
    assert categories_of(r.adds[0]) == [], r.resp
    cats = ["Work Items", "M\u00fcll", "Project", "Junk", "a=b"]
    r = sync_cmd(c, inbox, r.key, change(sid, "<email:Categories>%s"
                 "</email:Categories>" % "".join(
                     "<email:Category>%s</email:Category>" % x
                     for x in cats))).ok()
    kws = imap_keywords(dc, c, uid)
    for k in ("$Cat:Work=20Items", "$Cat:M=C3=BCll", "Project",
              "$Cat:Junk", "$Cat:a=3Db"):
        assert k in kws, (k, kws)

    # keywords set over IMAP arrive as categories; protocol ones don't
    imap = imap_session(dc, c)
    try:
        assert imap.uid("STORE", str(uid), "+FLAGS",
                        "(Urgent $Forwarded $Cat:Gr=C3=BCn)")[0] == "OK"
    finally:
        imap.logout()
    r = sync(c, inbox, r.key).ok()
    assert len(r.changes) == 1, r.resp
    assert sorted(categories_of(r.changes[0])) == sorted(
        cats + ["Urgent", "Gr\u00fcn"]), r.resp

    # a second device sees them in its Add
    c2 = second_device(dc, c, version)
    inbox2 = folders(c2)[T_INBOX]
    r2 = start(c2, inbox2, options=body_pref(1))
    assert sorted(categories_of(r2.adds[0])) == sorted(
        cats + ["Urgent", "Gr\u00fcn"]), r2.resp

    # an empty Categories removes them all, other keywords stay
    r = sync_cmd(c, inbox, r.key,
                 change(sid, "<email:Categories/>")).ok()
    kws = imap_keywords(dc, c, uid)
    assert "$Forwarded" in kws, kws
    assert not [k for k in kws if k.startswith("$Cat:") or
                k in ("Project", "Urgent")], kws
    r2 = sync(c2, inbox2, r2.key).ok()
    assert categories_of(r2.changes[0]) == [], r2.resp


def test_categories_both_ways_14_1(dc):
    check_categories(dc, "14.1")


def test_categories_both_ways_16_1(dc):
    check_categories(dc, "16.1")


def thread_message(c, subject, msgid, refs=None, in_reply_to=None,
                   extra=""):
    h = ("From: a@example.test\r\nTo: %s\r\nSubject: %s\r\n"
         "Date: Mon, 1 Jan 2024 10:00:00 +0000\r\nMessage-ID: %s\r\n"
         % (c.user, subject, msgid))
    if refs:
        h += "References: %s\r\n" % refs
    if in_reply_to:
        h += "In-Reply-To: %s\r\n" % in_reply_to
    return (h + extra + "\r\nbody\r\n").encode()


def test_conversation_ids(dc):
    for version in ("14.1", "16.1"):
        c = new_account(dc, "conv" + version.replace(".", ""),
                        version=version)
        inbox = folders(c)[T_INBOX]
        dc.deliver(c.user, thread_message(c, "Root", "<root@x>"))
        dc.deliver(c.user, thread_message(c, "Re: Root", "<r1@x>",
                                          refs="<root@x>",
                                          in_reply_to="<root@x>"))
        dc.deliver(c.user, thread_message(c, "Re: Re: Root", "<r2@x>",
                                          refs="<root@x> <r1@x>",
                                          in_reply_to="<r1@x>"))
        dc.deliver(c.user, thread_message(c, "Re: only irt", "<r3@x>",
                                          in_reply_to="<root@x>"))
        dc.deliver(c.user, thread_message(c, "Other", "<other@x>"))
        guid = uuid.uuid4().bytes
        tindex = b"\x01" + b"\x01\xd9\x00\x00\x00" + guid + b"\x00" * 5
        dc.deliver(c.user, thread_message(
            c, "Outlook", "<o@x>",
            extra="Thread-Index: %s\r\n" % base64.b64encode(tindex)
            .decode()))
        r = start(c, inbox, options=body_pref(1))
        ids, idx = {}, {}
        for a in r.adds:
            subj = xtext(a, "ApplicationData/Email:Subject")
            ids[subj] = base64.b64decode(
                xtext(a, "ApplicationData/Email2:ConversationId"))
            idx[subj] = base64.b64decode(
                xtext(a, "ApplicationData/Email2:ConversationIndex"))
        assert all(len(v) == 16 for v in ids.values()), ids
        root = ids["Root"]
        assert ids["Re: Root"] == root and ids["Re: Re: Root"] == root
        assert ids["Re: only irt"] == root
        assert ids["Other"] != root
        assert ids["Outlook"] == guid
        # a 5-byte time plus 5 bytes per level
        assert [len(idx[s]) for s in ("Root", "Re: Root",
                                      "Re: Re: Root")] == [5, 10, 15]
        assert idx["Root"] == idx["Other"]  # same Date
        assert idx["Outlook"] == b"\x01\xd9\x00\x00\x00" + b"\x00" * 5
        # stable: a second sync of the same folder gives the same ids
        r2 = start(c, inbox, options=body_pref(1))
        again = {xtext(a, "ApplicationData/Email:Subject"): base64.b64decode(
            xtext(a, "ApplicationData/Email2:ConversationId"))
            for a in r2.adds}
        assert again == ids
    # 12.1 has no conversations
    c = new_account(dc, "conv121", version="12.1")
    inbox = folders(c)[T_INBOX]
    dc.deliver(c.user, thread_message(c, "Root", "<root@x>"))
    r = start(c, inbox, options=body_pref(1))
    assert xfind(r.adds[0], "ApplicationData/Email2:ConversationId") is None
    assert xfind(r.adds[0], "ApplicationData/Email:Categories") is None


def check_conflict(dc, version, conflict):
    c = new_account(dc, "confl%s%s" % ("d" if conflict is None else conflict,
                                        version.replace(".", "")),
                    version=version)
    inbox = folders(c)[T_INBOX]
    dc.deliver(c.user, sample_message("Contested", to=c.user))
    opts = body_pref(1)
    if conflict is not None:
        opts = "<Conflict>%d</Conflict>" % conflict + opts
    r = start(c, inbox, options=opts)
    sid = r.add_ids()[0]
    uid = uid_of(sid)
    # between two syncs: IMAP flags it, the device marks it read
    imap = imap_session(dc, c)
    try:
        assert imap.uid("STORE", str(uid), "+FLAGS",
                        "(\\Flagged)")[0] == "OK"
    finally:
        imap.logout()
    r = sync_cmd(c, inbox, r.key, change(sid, "<email:Read>1</email:Read>"))
    r.ok()
    flags = imap_flags(dc, c, uid)
    if conflict == 0:
        # client wins: its change is applied, nothing echoed
        assert "\\Seen" in flags and "\\Flagged" in flags, flags
        assert r.responses is None and not r.changes, r.resp
    else:
        # server wins (the default): Status 7, the server's version
        assert "\\Seen" not in flags and "\\Flagged" in flags, flags
        resp = xfind(r.coll, "Responses/Change")
        assert resp is not None and xtext(resp, "Status") == "7", r.resp
        assert len(r.changes) == 1, r.resp
        ch = r.changes[0]
        assert xtext(ch, "ApplicationData/Email:Read") == "0", r.resp
        assert xtext(ch, "ApplicationData/Email:Flag/Email:FlagStatus") \
            == "2", r.resp
    # without a server change in between there is no conflict
    r = sync_cmd(c, inbox, r.key, change(sid, "<email:Read>1</email:Read>"))
    assert r.ok().responses is None and not r.changes, r.resp
    assert "\\Seen" in imap_flags(dc, c, uid)


def test_conflict_server_wins_by_default(dc):
    check_conflict(dc, "14.1", None)


def test_conflict_server_wins_16_1(dc):
    check_conflict(dc, "16.1", 1)


def test_conflict_client_wins(dc):
    check_conflict(dc, "14.1", 0)
    check_conflict(dc, "16.1", 0)
