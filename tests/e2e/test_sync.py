"""Sync of mail folders (MS-ASCMD 2.2.1.21, bodies MS-ASAIRS, items
MS-ASEMAIL).

Requests are modelled on MS-ASCMD section 4 (initial Sync with SyncKey 0,
Sync with GetChanges, client Change/Delete/Fetch, WindowSize with
MoreAvailable).  Mail is put into the mailbox over LMTP and IMAP, and
every change the device makes is checked over IMAP."""

import time

from harness import body_pref, deliver_plain, folders, imap_flags, \
    imap_session, imap_subjects, new_account, sample_message, start, sync, \
    sync_request, SyncResult as Result, T_DELETED, T_INBOX, uid_of, xall, \
    xfind, xrequire, xtext

# the debug log says when a Sync with Wait is held
INSTANCE = dict(activesync=True,
                plugin_settings={"activesync_debug": "yes"})


def html_message(subject, text, html, to="user@example.test"):
    return ("From: \"Alice Example\" <alice@example.test>\r\n"
            "To: \"Bob\" <%s>, carol@example.test\r\n"
            "Cc: dave@example.test\r\n"
            "Subject: %s\r\n"
            "Date: Mon, 1 Jan 2024 10:00:00 +0000\r\n"
            "Importance: high\r\n"
            "MIME-Version: 1.0\r\n"
            "Content-Type: multipart/alternative; boundary=\"b1\"\r\n"
            "\r\n--b1\r\n"
            "Content-Type: text/plain; charset=iso-8859-1\r\n"
            "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
            "%s\r\n"
            "--b1\r\n"
            "Content-Type: text/html; charset=utf-8\r\n\r\n"
            "%s\r\n"
            "--b1--\r\n" % (to, subject, text, html)).encode("utf-8")


def attachment_message(subject, to):
    return ("From: alice@example.test\r\n"
            "To: %s\r\n"
            "Subject: %s\r\n"
            "MIME-Version: 1.0\r\n"
            "Content-Type: multipart/mixed; boundary=\"mix\"\r\n"
            "\r\n--mix\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n\r\n"
            "See the attached file.\r\n"
            "--mix\r\n"
            "Content-Type: application/octet-stream\r\n"
            "Content-Disposition: attachment; filename=\"report.bin\"\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\n"
            "AAECAwQFBgcICQ==\r\n"
            "--mix\r\n"
            "Content-Type: image/png; name=\"=?utf-8?q?p=C3=A4t.png?=\"\r\n"
            "Content-ID: <img1@example.test>\r\n"
            "Content-Disposition: inline\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\n"
            "iVBORw0KGgo=\r\n"
            "--mix--\r\n" % (to, subject)).encode()


# ---------------------------------------------------------------- tests

def test_initial_sync_sends_existing_mail(dc):
    c = new_account(dc, "init")
    deliver_plain(dc, c, "First plain", "Plain body text.\n")
    dc.deliver(c.user, html_message("Second html", "caf=E9 text",
                                    "<p>caf\u00e9 <b>html</b></p>",
                                    to=c.user))
    dc.deliver(c.user, attachment_message("Third attach", c.user))
    f = folders(c)
    inbox = f[T_INBOX]

    r = start(c, inbox, options=body_pref(1))
    assert r.key == "2" and len(r.adds) == 3 and not r.more, r.resp
    ids = r.add_ids()
    assert all(i.startswith(inbox + ":") for i in ids), ids
    assert len(set(ids)) == 3
    # newest first
    assert [uid_of(i) for i in ids] == sorted((uid_of(i) for i in ids),
                                              reverse=True), ids

    plain = r.add_by_subject("First plain")
    assert xtext(plain, "ApplicationData/Email:Read") == "0"
    assert xtext(plain, "ApplicationData/Email:MessageClass") == "IPM.Note"
    assert xtext(plain, "ApplicationData/AirSyncBase:Body/"
                 "AirSyncBase:Type") == "1"
    assert "Plain body text." in xtext(
        plain, "ApplicationData/AirSyncBase:Body/AirSyncBase:Data")
    assert xtext(plain, "ApplicationData/AirSyncBase:NativeBodyType") == "1"
    assert "alice@example.test" in xtext(plain,
                                         "ApplicationData/Email:From")
    date = xtext(plain, "ApplicationData/Email:DateReceived")
    assert date.endswith(".000Z") and "T" in date, date

    html = r.add_by_subject("Second html")
    data = xtext(html, "ApplicationData/AirSyncBase:Body/AirSyncBase:Data")
    # the plain part, converted from ISO-8859-1 to UTF-8
    assert data.startswith("caf\u00e9 text"), data
    assert xtext(html, "ApplicationData/AirSyncBase:NativeBodyType") == "2"
    assert xtext(html, "ApplicationData/Email:Importance") == "2"
    to = xtext(html, "ApplicationData/Email:To")
    assert '"Bob" <%s>' % c.user in to and "carol@example.test" in to, to
    assert xtext(html, "ApplicationData/Email:DisplayTo") == \
        "Bob; carol@example.test"
    assert xtext(html, "ApplicationData/Email:Cc") == "dave@example.test"

    att = r.add_by_subject("Third attach")
    atts = xall(att, "ApplicationData/AirSyncBase:Attachments/"
                "AirSyncBase:Attachment")
    assert len(atts) == 2, r.resp
    server_id = xtext(att, "ServerId")
    a1, a2 = atts
    assert xtext(a1, "AirSyncBase:DisplayName") == "report.bin"
    assert xtext(a1, "AirSyncBase:FileReference") == "%s:2" % server_id
    assert xtext(a1, "AirSyncBase:Method") == "1"
    assert xtext(a1, "AirSyncBase:EstimatedDataSize") == "10"
    assert xfind(a1, "AirSyncBase:IsInline") is None
    assert xtext(a2, "AirSyncBase:DisplayName") == "p\u00e4t.png"
    assert xtext(a2, "AirSyncBase:FileReference") == "%s:3" % server_id
    assert xtext(a2, "AirSyncBase:ContentId") == "img1@example.test"
    assert xtext(a2, "AirSyncBase:IsInline") == "1"
    assert "See the attached file." in xtext(
        att, "ApplicationData/AirSyncBase:Body/AirSyncBase:Data")

    # nothing changed: no commands, a new key
    r2 = sync(c, inbox, r.key).ok()
    assert r2.key == "3" and not r2.adds and not r2.changes, r2.resp
    assert xfind(r2.coll, "Commands") is None, r2.resp


def test_body_preferences(dc):
    c = new_account(dc, "body")
    long_text = "word " * 200
    dc.deliver(c.user, html_message("Bodies", long_text.strip(),
                                    "<html><body><p>Hello <i>HTML</i> "
                                    "&amp; more</p></body></html>",
                                    to=c.user))
    inbox = folders(c)[T_INBOX]

    # HTML
    r = start(c, inbox, options=body_pref(2))
    body = xfind(r.adds[0], "ApplicationData/AirSyncBase:Body")
    assert xtext(body, "AirSyncBase:Type") == "2"
    assert "<i>HTML</i>" in xtext(body, "AirSyncBase:Data"), r.resp
    assert xfind(body, "AirSyncBase:Truncated") is None

    # plain, truncated: Truncated and the full size
    r = start(c, inbox, options=body_pref(1, size=20))
    body = xfind(r.adds[0], "ApplicationData/AirSyncBase:Body")
    data = xtext(body, "AirSyncBase:Data")
    assert xtext(body, "AirSyncBase:Truncated") == "1", r.resp
    assert len(data.encode()) <= 20 and data.startswith("word word"), data
    assert int(xtext(body, "AirSyncBase:EstimatedDataSize")) >= \
        len(long_text.strip()), r.resp

    # AllOrNone: too big -> no data at all
    r = start(c, inbox, options=body_pref(1, size=20, all_or_none=1))
    body = xfind(r.adds[0], "ApplicationData/AirSyncBase:Body")
    assert xtext(body, "AirSyncBase:Truncated") == "1"
    assert xfind(body, "AirSyncBase:Data") is None, r.resp

    # MIME: the whole message
    r = start(c, inbox, options=body_pref(4))
    body = xfind(r.adds[0], "ApplicationData/AirSyncBase:Body")
    assert xtext(body, "AirSyncBase:Type") == "4"
    mime = xtext(body, "AirSyncBase:Data")
    assert "Subject: Bodies" in mime and "boundary" in mime, mime
    assert int(xtext(body, "AirSyncBase:EstimatedDataSize")) >= len(mime)

    # MIME truncated
    r = start(c, inbox, options=body_pref(4, size=100))
    body = xfind(r.adds[0], "ApplicationData/AirSyncBase:Body")
    assert xtext(body, "AirSyncBase:Truncated") == "1"
    assert len(xtext(body, "AirSyncBase:Data")) <= 100

    # Preview (14.0+) next to the body
    r = start(c, inbox, options=body_pref(2, preview=15))
    body = xfind(r.adds[0], "ApplicationData/AirSyncBase:Body")
    assert xtext(body, "AirSyncBase:Preview") == "word word word", r.resp


def test_options_kept_with_state(dc):
    c = new_account(dc, "opts")
    inbox = folders(c)[T_INBOX]
    r = sync(c, inbox, "0", options=body_pref(1, size=10)).ok()
    deliver_plain(dc, c, "Kept", "0123456789abcdefghij\n")
    # no Options: the ones sent with SyncKey 0 apply
    r = sync(c, inbox, r.key).ok()
    body = xfind(r.adds[0], "ApplicationData/AirSyncBase:Body")
    assert xtext(body, "AirSyncBase:Data") == "0123456789", r.resp
    assert xtext(body, "AirSyncBase:Truncated") == "1"


def test_new_mail_read_flag_and_imap_flags(dc):
    c = new_account(dc, "flags")
    inbox = folders(c)[T_INBOX]
    r = start(c, inbox, options=body_pref(1))
    assert not r.adds
    key = r.key

    deliver_plain(dc, c, "Fresh")
    r = sync(c, inbox, key).ok()
    assert len(r.adds) == 1, r.resp
    sid = xtext(r.adds[0], "ServerId")
    uid = uid_of(sid)
    key = r.key

    # the device reads it: \Seen over IMAP, no echo to the device
    r = sync(c, inbox, key, commands=(
        "<Change><ServerId>%s</ServerId><ApplicationData>"
        "<email:Read>1</email:Read></ApplicationData></Change>" % sid)).ok()
    assert r.responses is None and not r.changes, r.resp
    assert "\\Seen" in imap_flags(dc, c, uid)
    key = r.key
    r = sync(c, inbox, key).ok()
    assert not r.changes, r.resp
    key = r.key

    # the device flags it
    r = sync(c, inbox, key, commands=(
        "<Change><ServerId>%s</ServerId><ApplicationData>"
        # libwbxml's name for Email:Status (0x3B), the flag status
        "<email:Flag><email:FlagStatus>2</email:FlagStatus><email:FlagType>"
        "Flag for follow up</email:FlagType></email:Flag>"
        "</ApplicationData></Change>" % sid)).ok()
    assert "\\Flagged" in imap_flags(dc, c, uid)
    key = r.key
    # ... and clears it again
    r = sync(c, inbox, key, commands=(
        "<Change><ServerId>%s</ServerId><ApplicationData><email:Flag/>"
        "</ApplicationData></Change>" % sid)).ok()
    assert "\\Flagged" not in imap_flags(dc, c, uid)
    key = r.key

    # IMAP changes flags: a Change with Read and Flag
    imap = imap_session(dc, c)
    try:
        assert imap.uid("STORE", str(uid), "-FLAGS", "(\\Seen)")[0] == "OK"
        assert imap.uid("STORE", str(uid), "+FLAGS",
                        "(\\Flagged)")[0] == "OK"
    finally:
        imap.logout()
    r = sync(c, inbox, key).ok()
    assert len(r.changes) == 1 and not r.adds, r.resp
    ch = r.changes[0]
    assert xtext(ch, "ServerId") == sid
    assert xtext(ch, "ApplicationData/Email:Read") == "0"
    # wbxml2xml prints Email:Status (0x3B) as FlagStatus
    assert xtext(ch, "ApplicationData/Email:Flag/Email:FlagStatus") == "2"

    # change of an unknown item: Status 8 in Responses
    r = sync(c, inbox, r.key, commands=(
        "<Change><ServerId>%s:99999</ServerId><ApplicationData>"
        "<email:Read>1</email:Read></ApplicationData></Change>" % inbox)).ok()
    resp = xfind(r.coll, "Responses/Change")
    assert resp is not None and xtext(resp, "Status") == "8", r.resp


def test_delete_moves_to_trash_or_expunges(dc):
    c = new_account(dc, "del")
    f = folders(c)
    inbox = f[T_INBOX]
    deliver_plain(dc, c, "To trash")
    deliver_plain(dc, c, "To void")
    r = start(c, inbox, options=body_pref(1))
    ids = {xtext(a, "ApplicationData/Email:Subject"): xtext(a, "ServerId")
           for a in r.adds}

    # DeletesAsMoves absent = move to Deleted Items
    r = sync(c, inbox, r.key, commands="<Delete><ServerId>%s</ServerId>"
             "</Delete>" % ids["To trash"]).ok()
    assert r.responses is None and not r.deletes, r.resp
    assert imap_subjects(dc, c, "INBOX") == ["To void"]
    assert imap_subjects(dc, c, "Trash") == ["To trash"]

    # DeletesAsMoves 0 = gone
    r = sync(c, inbox, r.key, deletes_as_moves=0,
             commands="<Delete><ServerId>%s</ServerId></Delete>"
             % ids["To void"]).ok()
    assert imap_subjects(dc, c, "INBOX") == []
    assert imap_subjects(dc, c, "Trash") == ["To trash"]
    r = sync(c, inbox, r.key).ok()
    assert not r.deletes and not r.adds, r.resp

    # the moved message shows up in the Trash collection
    trash = f[T_DELETED]
    r = start(c, trash, options=body_pref(1))
    assert [xtext(a, "ApplicationData/Email:Subject")
            for a in r.adds] == ["To trash"], r.resp


def test_imap_expunge_is_delete(dc):
    c = new_account(dc, "exp")
    inbox = folders(c)[T_INBOX]
    deliver_plain(dc, c, "Keep")
    deliver_plain(dc, c, "Drop")
    r = start(c, inbox, options=body_pref(1))
    drop = xtext(r.add_by_subject("Drop"), "ServerId")
    imap = imap_session(dc, c)
    try:
        assert imap.uid("STORE", str(uid_of(drop)), "+FLAGS",
                        "(\\Deleted)")[0] == "OK"
        assert imap.expunge()[0] == "OK"
    finally:
        imap.logout()
    r = sync(c, inbox, r.key).ok()
    assert r.deletes == [drop] and not r.adds and not r.changes, r.resp
    r = sync(c, inbox, r.key).ok()
    assert not r.deletes, r.resp


def test_window_size_more_available(dc):
    c = new_account(dc, "win")
    inbox = folders(c)[T_INBOX]
    for i in range(5):
        deliver_plain(dc, c, "Msg %d" % i)
    r = sync(c, inbox, "0", options=body_pref(1, size=100)).ok()
    seen = []
    r = sync(c, inbox, r.key, window=2).ok()
    assert len(r.adds) == 2 and r.more, r.resp
    seen += r.add_ids()
    r = sync(c, inbox, r.key, window=2).ok()
    assert len(r.adds) == 2 and r.more, r.resp
    seen += r.add_ids()
    r = sync(c, inbox, r.key, window=2).ok()
    assert len(r.adds) == 1 and not r.more, r.resp
    seen += r.add_ids()
    uids = [uid_of(s) for s in seen]
    # newest first, each message once
    assert uids == sorted(uids, reverse=True) and len(set(uids)) == 5, seen
    r = sync(c, inbox, r.key, window=2).ok()
    assert not r.adds and not r.more, r.resp


def test_repeated_sync_key_replays(dc):
    c = new_account(dc, "replay")
    inbox = folders(c)[T_INBOX]
    for i in range(3):
        deliver_plain(dc, c, "Replay %d" % i)
    r0 = sync(c, inbox, "0", options=body_pref(1)).ok()
    first = sync(c, inbox, r0.key, window=2).ok()
    # the response was "lost": same key again gives the same answer
    again = sync(c, inbox, r0.key, window=2).ok()
    assert again.key == first.key, (first.resp, again.resp)
    assert again.add_ids() == first.add_ids(), (first.resp, again.resp)
    assert again.more == first.more
    # and the conversation goes on from there
    nxt = sync(c, inbox, again.key, window=2).ok()
    assert len(nxt.adds) == 1 and not set(nxt.add_ids()) & \
        set(first.add_ids()), nxt.resp
    # an old key is refused now
    stale = sync(c, inbox, r0.key)
    assert stale.status == "3", stale.resp
    # so is a key that never existed
    bad = sync(c, inbox, "4711")
    assert bad.status == "3", bad.resp
    bad = sync(c, inbox, "not-a-key")
    assert bad.status == "3", bad.resp


def test_bad_requests(dc):
    c = new_account(dc, "bad")
    inbox = folders(c)[T_INBOX]
    # unknown CollectionId: the hierarchy changed, FolderSync needed
    r = sync(c, "987654", "0")
    assert r.status == "12", r.resp
    # malformed: Collection without SyncKey
    resp = c.request_provisioned(
        "Sync", '<Sync xmlns="AirSync:"><Collections><Collection>'
        '<CollectionId>%s</CollectionId></Collection></Collections>'
        '</Sync>' % inbox)
    assert resp.status == 200 and xrequire(resp, "Sync/Status") == "4", resp
    # malformed option value
    resp = sync_request(c, inbox, "0", options="<FilterType>99</FilterType>")
    assert xrequire(resp, "Sync/Status") == "4", resp
    # Wait out of range: 14 with the limit
    resp = sync_request(c, inbox, "0", top="<Wait>100</Wait>")
    assert xrequire(resp, "Sync/Status") == "14", resp
    assert xrequire(resp, "Sync/Limit") == "59", resp
    resp = sync_request(c, inbox, "0",
                        top="<HeartbeatInterval>10</HeartbeatInterval>")
    assert xrequire(resp, "Sync/Status") == "14", resp
    assert xrequire(resp, "Sync/Limit") == "60", resp
    # more collections than a Sync takes (1,000): 15, nothing stored
    many = "".join("<Collection><SyncKey>0</SyncKey><CollectionId>%d"
                   "</CollectionId></Collection>" % (900000 + i)
                   for i in range(1001))
    resp = c.request_provisioned(
        "Sync", '<Sync xmlns="AirSync:"><Collections>%s</Collections>'
        '</Sync>' % many)
    assert resp.status == 200 and xrequire(resp, "Sync/Status") == "15", \
        resp
    # empty body, nothing usable cached (only the unknown collection):
    # the client must send the full request
    resp = c.request_provisioned("Sync", None)
    assert resp.status == 200 and xrequire(resp, "Sync/Status") == "13", \
        resp
    # the service is fine afterwards
    r = sync(c, inbox, "0").ok()
    assert r.key == "1"


def test_filter_type(dc):
    c = new_account(dc, "filter")
    inbox = folders(c)[T_INBOX]
    imap = dc.imap(c.user, c.password)
    try:
        old = time.time() - 60 * 86400
        assert imap.append("INBOX", None, old, sample_message(
            "Old mail", to=c.user))[0] == "OK"
        assert imap.append("INBOX", None, time.time(), sample_message(
            "New mail", to=c.user))[0] == "OK"
    finally:
        imap.logout()
    opts = "<FilterType>3</FilterType>" + body_pref(1)
    r = start(c, inbox, options=opts)
    assert [xtext(a, "ApplicationData/Email:Subject")
            for a in r.adds] == ["New mail"], r.resp
    # widening the filter brings the old one
    r = sync(c, inbox, r.key, options="<FilterType>0</FilterType>" +
             body_pref(1)).ok()
    assert [xtext(a, "ApplicationData/Email:Subject")
            for a in r.adds] == ["Old mail"], r.resp
    # narrowing it again removes it (SoftDelete)
    old_id = xtext(r.adds[0], "ServerId")
    r = sync(c, inbox, r.key, options=opts).ok()
    assert r.soft_deletes == [old_id] and not r.adds, r.resp


def test_fetch(dc):
    c = new_account(dc, "fetch")
    inbox = folders(c)[T_INBOX]
    deliver_plain(dc, c, "Fetch me", "Fetched body.\n")
    r = start(c, inbox, options=body_pref(1, size=5))
    sid = r.add_ids()[0]
    r = sync(c, inbox, r.key, options=body_pref(1),
             commands="<Fetch><ServerId>%s</ServerId></Fetch>"
             "<Fetch><ServerId>%s:424242</ServerId></Fetch>"
             % (sid, inbox)).ok()
    fetches = xall(r.coll, "Responses/Fetch")
    assert len(fetches) == 2, r.resp
    assert xtext(fetches[0], "ServerId") == sid
    assert xtext(fetches[0], "Status") == "1"
    assert "Fetched body." in xtext(
        fetches[0], "ApplicationData/AirSyncBase:Body/AirSyncBase:Data")
    assert xtext(fetches[1], "Status") == "8"


def test_client_add_refused(dc):
    c = new_account(dc, "add")
    inbox = folders(c)[T_INBOX]
    r = start(c, inbox)
    r = sync(c, inbox, r.key, commands=(
        "<Add><ClientId>c1</ClientId><ApplicationData>"
        "<email:Subject>x</email:Subject></ApplicationData></Add>")).ok()
    add = xfind(r.coll, "Responses/Add")
    assert add is not None and xtext(add, "ClientId") == "c1", r.resp
    assert xtext(add, "Status") == "6", r.resp
    assert imap_subjects(dc, c, "INBOX") == []


def test_protocol_12_1_body_forms(dc):
    c = new_account(dc, "v121", version="12.1")
    inbox = folders(c)[T_INBOX]
    dc.deliver(c.user, html_message("Old client", "text part",
                                    "<p>html part</p>", to=c.user))
    # 12.x MIME form: MIMESupport 2 + MIMETruncation 1 (4 KB)
    opts = ("<MIMESupport>2</MIMESupport><MIMETruncation>1</MIMETruncation>")
    r = sync(c, inbox, "0", options=opts, cls="Email").ok()
    assert xtext(r.coll, "Class") == "Email", r.resp
    r = sync(c, inbox, r.key, cls="Email").ok()
    body = xfind(r.adds[0], "ApplicationData/AirSyncBase:Body")
    assert xtext(body, "AirSyncBase:Type") == "4", r.resp
    assert "Subject: Old client" in xtext(body, "AirSyncBase:Data")
    # Truncation (legacy code 1 = 4 KB) with a plain preference
    r = sync(c, inbox, "0", cls="Email",
             options="<Truncation>0</Truncation>").ok()
    r = sync(c, inbox, r.key, cls="Email").ok()
    body = xfind(r.adds[0], "ApplicationData/AirSyncBase:Body")
    assert xtext(body, "AirSyncBase:Type") == "1", r.resp
    assert xtext(body, "AirSyncBase:Truncated") == "1", r.resp


def test_protocol_16_1(dc):
    c = new_account(dc, "v161", version="16.1")
    inbox = folders(c)[T_INBOX]
    deliver_plain(dc, c, "Sixteen", "Body for 16.1\n")
    r = start(c, inbox, options=body_pref(2))
    assert len(r.adds) == 1, r.resp
    a = r.adds[0]
    assert xtext(a, "ApplicationData/Email:Subject") == "Sixteen"
    assert xtext(a, "ApplicationData/AirSyncBase:Body/AirSyncBase:Type") \
        == "2"
    assert "Body for 16.1" in xtext(
        a, "ApplicationData/AirSyncBase:Body/AirSyncBase:Data")
    # flag change from IMAP reaches a 16.1 device too
    imap = imap_session(dc, c)
    try:
        assert imap.uid("STORE", str(uid_of(xtext(a, "ServerId"))),
                        "+FLAGS", "(\\Seen)")[0] == "OK"
    finally:
        imap.logout()
    r = sync(c, inbox, r.key).ok()
    assert len(r.changes) == 1 and xtext(
        r.changes[0], "ApplicationData/Email:Read") == "1", r.resp


def test_multiple_collections(dc):
    c = new_account(dc, "multi")
    f = folders(c)
    inbox, trash = f[T_INBOX], f[T_DELETED]
    deliver_plain(dc, c, "In inbox")
    resp = c.request_provisioned(
        "Sync", '<Sync xmlns="AirSync:"><Collections>'
        '<Collection><SyncKey>0</SyncKey><CollectionId>%s</CollectionId>'
        '</Collection>'
        '<Collection><SyncKey>0</SyncKey><CollectionId>%s</CollectionId>'
        '</Collection>'
        '<Collection><SyncKey>0</SyncKey><CollectionId>424242'
        '</CollectionId></Collection>'
        '</Collections></Sync>' % (inbox, trash))
    colls = xall(resp, "Collections/Collection")
    assert [xtext(e, "Status") for e in colls] == ["1", "1", "12"], resp
    assert [xtext(e, "CollectionId") for e in colls] == \
        [inbox, trash, "424242"], resp


def test_wait_held_until_new_mail(dc):
    import threading
    c = new_account(dc, "wait")
    inbox = folders(c)[T_INBOX]
    r = start(c, inbox, options=body_pref(1))
    key = r.key
    out = {}

    def held():
        out["r"] = sync_request(c, inbox, key, top="<Wait>1</Wait>")
    th = threading.Thread(target=held)
    t0 = time.monotonic()
    mark = dc.log_offset()
    th.start()
    # held: the service says it waits, and no answer came
    dc.wait_for_log(r"Sync: no changes, waiting", timeout=15, since=mark)
    assert th.is_alive(), "Sync with Wait answered without changes: %r" % (
        out.get("r"),)
    deliver_plain(dc, c, "Wake up")
    th.join(30)
    assert not th.is_alive()
    # it ended on the delivery: the response carries that mail
    elapsed = time.monotonic() - t0
    res = Result(out["r"]).ok()
    assert [xtext(a, "ApplicationData/Email:Subject")
            for a in res.adds] == ["Wake up"], res.resp
    assert elapsed < 20, elapsed
    # with changes already there, Wait doesn't delay
    deliver_plain(dc, c, "Already here")
    t0 = time.monotonic()
    res = Result(sync_request(c, inbox, res.key,
                              top="<HeartbeatInterval>300"
                              "</HeartbeatInterval>")).ok()
    assert len(res.adds) == 1 and time.monotonic() - t0 < 5, res.resp
    # both Wait and HeartbeatInterval: protocol error
    resp = sync_request(c, inbox, res.key, top="<Wait>5</Wait>"
                        "<HeartbeatInterval>300</HeartbeatInterval>")
    assert xrequire(resp, "Sync/Status") == "4", resp


def test_wait_expires_with_empty_response(dc):
    c = new_account(dc, "waitexp")
    inbox = folders(c)[T_INBOX]
    r = start(c, inbox, options=body_pref(1))
    # the answer comes at the 60 s interval: the client must wait longer
    c.timeout = 120
    t0 = time.monotonic()
    resp = sync_request(c, inbox, r.key,
                        top="<HeartbeatInterval>60</HeartbeatInterval>")
    elapsed = time.monotonic() - t0
    # nothing happened: an empty 200 response after the interval
    assert resp.status == 200 and resp.body == b"", resp
    assert 55 <= elapsed < 90, elapsed
    # the device keeps its key
    r2 = sync(c, inbox, r.key).ok()
    assert r2.key == str(int(r.key) + 1), r2.resp


def test_empty_and_partial_requests_use_cached_request(dc):
    c = new_account(dc, "cache")
    f = folders(c)
    inbox, trash = f[T_INBOX], f[T_DELETED]
    # a new device has nothing cached
    resp = c.request_provisioned("Sync", None)
    assert xrequire(resp, "Sync/Status") == "13", resp

    r = start(c, inbox, options=body_pref(1, size=4))
    deliver_plain(dc, c, "Via empty request", "abcdefgh\n")
    # empty request = the last one, with the key the device holds
    e = Result(c.request_provisioned("Sync", None)).ok()
    assert xtext(e.coll, "CollectionId") == inbox, e.resp
    assert e.key == str(int(r.key) + 1), e.resp
    assert [xtext(a, "ApplicationData/Email:Subject")
            for a in e.adds] == ["Via empty request"], e.resp
    # the Options of the state still apply (truncated to 4 bytes)
    assert xtext(e.adds[0], "ApplicationData/AirSyncBase:Body/"
                 "AirSyncBase:Data") == "abcd", e.resp

    # partial request: Trash is added, Inbox comes from the cache
    resp = c.request_provisioned(
        "Sync", '<Sync xmlns="AirSync:"><Collections><Collection>'
        '<SyncKey>0</SyncKey><CollectionId>%s</CollectionId>'
        '</Collection></Collections><Partial/></Sync>' % trash)
    colls = {xtext(x, "CollectionId"): x
             for x in xall(resp, "Collections/Collection")}
    assert set(colls) == {inbox, trash}, resp
    assert xtext(colls[trash], "SyncKey") == "1", resp
    assert xtext(colls[inbox], "SyncKey") == str(int(e.key) + 1), resp
    assert all(xtext(x, "Status") == "1" for x in colls.values()), resp


def test_raw_8bit_headers_become_valid_utf8(dc):
    c = new_account(dc, "raw8")
    inbox = folders(c)[T_INBOX]
    msg = (b"From: =?utf-8?q?J=C3=B6rg?= <joerg@example.test>\r\n"
           b"To: " + c.user.encode() + b"\r\n"
           b"Subject: Caf\xe9 raw\r\n"
           b"MIME-Version: 1.0\r\n"
           b"Content-Type: text/plain; charset=windows-1252\r\n"
           b"Content-Transfer-Encoding: 8bit\r\n\r\n"
           b"Gr\xfc\xdfe \x80 5\r\n")
    dc.deliver(c.user, msg)
    r = start(c, inbox, options=body_pref(1))
    a = r.adds[0]
    subject = xtext(a, "ApplicationData/Email:Subject")
    assert subject.startswith("Caf") and subject.endswith(" raw"), subject
    assert xtext(a, "ApplicationData/Email:From") == \
        '"J\u00f6rg" <joerg@example.test>'
    # the body is converted from its charset
    assert xtext(a, "ApplicationData/AirSyncBase:Body/AirSyncBase:Data") \
        == "Gr\u00fc\u00dfe \u20ac 5", r.resp
