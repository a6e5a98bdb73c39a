"""SendMail, SmartReply and SmartForward (MS-ASCMD 2.2.1.17, 2.2.1.19,
2.2.1.20) against a real SMTP server.

The SMTP server is a small sink written here (stdlib only, 127.0.0.1, a
free port) that records every envelope and message; Dovecot submits to it
through its own submission_host setting.  It can refuse messages (5xx)
or be stopped, to check that a message the server could not submit is
reported (Status 120 / HTTP 500) and not saved as sent."""

import base64
import email
import email.policy
import uuid

import socket
import time

from harness import compose_xml, encode_xml, sample_message, SmtpSink, xall, \
    xml_escape, xrequire, xtext

MAX_SEND = 64 * 1024

# SmtpSink (harness.py) records what the service submits
SINK = SmtpSink()

INSTANCE = dict(
    activesync=True,
    plugin_settings={"activesync_max_send_size": str(MAX_SEND)},
    extra_conf="submission_host = 127.0.0.1:%d\nsubmission_timeout = 20s"
    % SINK.port)

# ---------------------------------------------------------------- helpers

_serial = [0]


class Account:
    def __init__(self, dc, tag, version="14.1"):
        SINK.start()
        SINK.mode = "accept"
        _serial[0] += 1
        self.dc = dc
        self.user = "send-%s-%d@example.test" % (tag, _serial[0])
        self.password = "pw-%s" % _serial[0]
        dc.add_user(self.user, self.password)
        imap = dc.imap(self.user, self.password)
        try:
            assert imap.select("INBOX")[0] == "OK"
        finally:
            imap.logout()
        self.c = dc.eas_client(self.user, self.password,
                               device_id="SEND%s%d" % (tag.upper(),
                                                       _serial[0]),
                               version=version)
        r = self.c.request_provisioned(
            "FolderSync", '<FolderSync xmlns="FolderHierarchy:"><SyncKey>0'
            '</SyncKey></FolderSync>')
        assert r.status == 200 and xrequire(r, "FolderSync/Status") == "1", r
        self.folders = {}
        for add in xall(r, "Changes/Add"):
            self.folders.setdefault(int(xtext(add, "Type")),
                                    xtext(add, "ServerId"))
        self.inbox = self.folders[2]

    def deliver_and_sync(self, message, subject):
        """Deliver an original and return its ServerId from a Sync."""
        self.dc.deliver(self.user, message)
        sync = ('<Sync xmlns="AirSync:"><Collections><Collection>'
                '<SyncKey>%s</SyncKey><CollectionId>%s</CollectionId>'
                '%s</Collection></Collections></Sync>')
        r = self.c.request_provisioned("Sync", sync % ("0", self.inbox, ""))
        key = xrequire(r, "Collections/Collection/SyncKey")
        r = self.c.request_provisioned(
            "Sync", sync % (key, self.inbox, "<GetChanges>1</GetChanges>"))
        for add in xall(r, "Collections/Collection/Commands/Add"):
            if xtext(add, "ApplicationData/Email:Subject") == subject:
                return xtext(add, "ServerId")
        raise AssertionError("original %r not synced: %r" % (subject, r))

    def imap_fetch(self, mailbox, what="(FLAGS BODY.PEEK[])"):
        """[(flags, message)] of all messages in mailbox."""
        imap = self.dc.imap(self.user, self.password)
        try:
            typ, data = imap.select('"%s"' % mailbox)
            assert typ == "OK", data
            if int(data[0]) == 0:
                return []
            typ, data = imap.fetch("1:*", what)
            assert typ == "OK", data
            out = []
            for d in data:
                if isinstance(d, tuple):
                    out.append((d[0].decode(), email.message_from_bytes(
                        d[1], policy=email.policy.default)))
            return out
        finally:
            imap.logout()

    def flags_of(self, server_id):
        uid = server_id.split(":")[1]
        imap = self.dc.imap(self.user, self.password)
        try:
            assert imap.select("INBOX")[0] == "OK"
            typ, data = imap.uid("FETCH", uid, "(FLAGS)")
            assert typ == "OK", data
            return data[0].decode()
        finally:
            imap.logout()

    def sent(self):
        return self.imap_fetch("Sent")


def wbxml_str(s):
    return b"\x03" + s.encode() + b"\x00"


def compose_wbxml_inline(cmd_token, mime, client_id, save=True,
                         source=None):
    """The same request with Mime as an inline string (what some
    clients send), encoded here by hand: ComposeMail is code page 21."""
    body = b"\x03\x01\x6a\x00" + b"\x00\x15" + bytes([cmd_token | 0x40])
    body += bytes([0x11 | 0x40]) + wbxml_str(client_id) + b"\x01"
    if save:
        body += bytes([0x08])
    if source is not None:
        body += bytes([0x0B | 0x40])
        for tok, value in source:
            body += bytes([tok | 0x40]) + wbxml_str(value) + b"\x01"
        body += b"\x01"
    body += bytes([0x10 | 0x40]) + wbxml_str(mime.decode()) + b"\x01"
    return body + b"\x01"


def new_mime(subject, to, cc=None, bcc=None, body="New text.\r\n",
             extra=""):
    h = "From: Sender <%s>\r\nTo: %s\r\n" % ("dev@example.test", to)
    if cc:
        h += "Cc: %s\r\n" % cc
    if bcc:
        h += "Bcc: %s\r\n" % bcc
    h += "Subject: %s\r\n%sMIME-Version: 1.0\r\n" \
        "Content-Type: text/plain; charset=utf-8\r\n\r\n" % (subject, extra)
    return (h + body).encode()


def status_of(r):
    assert r.status == 200, r
    return xtext(r, "Status")


def assert_sent_ok(r):
    assert r.status == 200 and r.body == b"", \
        "expected an empty 200 response: %r %r" % (r, r.body[:200])


def parse(msg_bytes):
    return email.message_from_bytes(msg_bytes, policy=email.policy.default)


def content(part):
    """A text part's decoded content with LF line ends."""
    return part.get_content().replace("\r\n", "\n")


def original_with_attachment(subject, to):
    return ("From: Alice <alice@example.test>\r\n"
            "To: %s\r\n"
            "Subject: %s\r\n"
            "Message-ID: <orig-%s@example.test>\r\n"
            "Date: Mon, 2 Nov 2026 10:00:00 +0000\r\n"
            "MIME-Version: 1.0\r\n"
            "Content-Type: multipart/mixed; boundary=\"mix\"\r\n"
            "\r\n--mix\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n\r\n"
            "The quarterly figures are attached.\r\n"
            "--mix\r\n"
            "Content-Type: application/octet-stream\r\n"
            "Content-Disposition: attachment; filename=\"report.bin\"\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\n"
            "AAECAwQFBgcICQ==\r\n"
            "--mix--\r\n" % (to, subject, uuid.uuid4().hex)).encode()


def uniq(tag):
    return "%s %s" % (tag, uuid.uuid4().hex[:12])

# ---------------------------------------------------------------- tests


def test_sendmail_14_1_envelope_headers_bcc_and_sent_copy(dc):
    a = Account(dc, "basic")
    subject = uniq("Plain send")
    mime = new_mime(subject, "Bob <bob@example.test>",
                    cc="carol@example.test", bcc="dave@example.test",
                    body="Hello Bob.\r\n.leading dot line\r\n")
    r = a.c.request("SendMail", compose_xml("SendMail", mime,
                                            client_id=uuid.uuid4().hex))
    assert_sent_ok(r)

    got = SINK.find(subject)
    assert len(got) == 1, got
    m = got[0]
    assert m["mail_from"] == "<%s>" % a.user, m["mail_from"]
    assert sorted(m["rcpts"]) == ["<bob@example.test>",
                                  "<carol@example.test>",
                                  "<dave@example.test>"], m["rcpts"]
    msg = parse(m["data"])
    assert msg["Bcc"] is None, "Bcc must not go out: %r" % m["data"][:400]
    assert msg["Subject"] == subject
    assert msg["To"] == "Bob <bob@example.test>"
    assert msg["Message-ID"] and msg["Message-ID"].startswith("<"), msg
    assert msg["Date"] is not None, "Date must be added"
    assert b"Hello Bob.\r\n..leading dot line" not in m["data"]
    assert content(msg) == "Hello Bob.\n.leading dot line\n", \
        content(msg)

    sent = a.sent()
    assert len(sent) == 1, sent
    flags, copy = sent[0]
    assert "\\Seen" in flags, flags
    assert copy["Subject"] == subject
    assert copy["Message-ID"] == msg["Message-ID"]
    # the Sent copy keeps the Bcc the user wrote
    assert copy["Bcc"] == "dave@example.test", copy["Bcc"]


def test_sendmail_without_save_in_sent(dc):
    a = Account(dc, "nosave")
    subject = uniq("Not saved")
    r = a.c.request("SendMail", compose_xml(
        "SendMail", new_mime(subject, "bob@example.test"),
        client_id=uuid.uuid4().hex, save=False))
    assert_sent_ok(r)
    assert len(SINK.find(subject)) == 1
    assert a.sent() == []


def test_client_id_replay_is_118_and_not_sent_twice(dc):
    a = Account(dc, "replay")
    subject = uniq("Once only")
    cid = uuid.uuid4().hex
    xml = compose_xml("SendMail", new_mime(subject, "bob@example.test"),
                      client_id=cid)
    assert_sent_ok(a.c.request("SendMail", xml))
    r = a.c.request("SendMail", xml)
    assert status_of(r) == "118", r
    assert xrequire(r, "ComposeMail:SendMail/Status") == "118"
    assert len(SINK.find(subject)) == 1
    assert len(a.sent()) == 1
    # another device of the same user has its own ClientIds
    c2 = dc.eas_client(a.user, a.password, device_id="OTHERDEV%d"
                       % _serial[0])
    c2.provision()
    assert_sent_ok(c2.request("SendMail", xml))
    assert len(SINK.find(subject)) == 2


def test_smartreply_quotes_original_and_sets_answered(dc):
    a = Account(dc, "reply")
    osubj = uniq("Question")
    orig_id = "<q-%s@example.test>" % uuid.uuid4().hex
    orig = ("From: Alice <alice@example.test>\r\nTo: %s\r\n"
            "Subject: %s\r\nMessage-ID: %s\r\n"
            "Date: Tue, 3 Nov 2026 09:30:00 +0000\r\n\r\n"
            "Can you send the numbers?\r\nThanks.\r\n"
            % (a.user, osubj, orig_id)).encode()
    sid = a.deliver_and_sync(orig, osubj)
    assert "\\Answered" not in a.flags_of(sid)

    rsubj = "Re: " + osubj
    mime = new_mime(rsubj, "alice@example.test", body="Here they are.\r\n")
    r = a.c.request("SmartReply", compose_xml(
        "SmartReply", mime, client_id=uuid.uuid4().hex,
        source={"FolderId": a.inbox, "ItemId": sid}))
    assert_sent_ok(r)

    got = SINK.find(rsubj)
    assert len(got) == 1, got
    msg = parse(got[0]["data"])
    assert got[0]["rcpts"] == ["<alice@example.test>"]
    assert msg.get_content_type() == "multipart/mixed", msg
    texts = [content(p) for p in msg.walk()
             if p.get_content_type() == "text/plain"]
    assert texts[0].strip() == "Here they are.", texts
    assert "> Can you send the numbers?" in texts[1], texts
    assert "> Thanks." in texts[1], texts
    assert msg["In-Reply-To"] == orig_id, msg["In-Reply-To"]
    assert "\\Answered" in a.flags_of(sid)
    assert len(a.sent()) == 1


def test_smartreply_replace_mime_sends_device_message_as_is(dc):
    a = Account(dc, "replace")
    osubj = uniq("Replace original")
    sid = a.deliver_and_sync(sample_message(osubj, "Original text.\n",
                                            to=a.user), osubj)
    rsubj = "Re: " + osubj
    mime = new_mime(rsubj, "alice@example.test",
                    body="Full reply.\r\n> Original text.\r\n")
    r = a.c.request("SmartReply", compose_xml(
        "SmartReply", mime, client_id=uuid.uuid4().hex, replace=True,
        source={"ItemId": sid}))
    assert_sent_ok(r)
    got = SINK.find(rsubj)
    assert len(got) == 1
    msg = parse(got[0]["data"])
    assert msg.get_content_type() == "text/plain"
    assert content(msg) == "Full reply.\n> Original text.\n"
    assert "\\Answered" in a.flags_of(sid)


def test_smartforward_16_1_inline_mime_attachments_and_forwarded(dc):
    a = Account(dc, "fwd", version="16.1")
    osubj = uniq("Figures")
    sid = a.deliver_and_sync(original_with_attachment(osubj, a.user), osubj)
    fsubj = "Fwd: " + osubj
    mime = new_mime(fsubj, "erin@example.test", body="FYI, see below.\r\n")
    body = compose_wbxml_inline(0x06, mime, uuid.uuid4().hex,
                                source=[(0x0C, a.inbox), (0x0D, sid)])
    r = a.c.request("SmartForward", body=body)
    assert_sent_ok(r)

    got = SINK.find(fsubj)
    assert len(got) == 1, got
    msg = parse(got[0]["data"])
    assert got[0]["rcpts"] == ["<erin@example.test>"]
    parts = list(msg.walk())
    texts = [content(p) for p in parts
             if p.get_content_type() == "text/plain" and
             p.get_filename() is None]
    assert texts[0].strip() == "FYI, see below.", texts
    assert "The quarterly figures are attached." in texts[1], texts
    assert "Subject: %s" % osubj in texts[1], texts
    atts = [p for p in parts if p.get_filename() == "report.bin"]
    assert len(atts) == 1, [p.get_content_type() for p in parts]
    assert atts[0].get_content() == bytes(range(10))
    assert "$Forwarded" in a.flags_of(sid)
    sent = a.sent()
    assert len(sent) == 1 and sent[0][1]["Subject"] == fsubj


def test_protocol_12_1_raw_mime_forms(dc):
    a = Account(dc, "v12", version="12.1")
    subject = uniq("Raw send")
    mime = new_mime(subject, "bob@example.test", bcc="hidden@example.test")
    r = a.c.request("SendMail", body=mime,
                    headers={"Content-Type": "message/rfc822"},
                    extra_query={"SaveInSent": "T"})
    assert_sent_ok(r)
    got = SINK.find(subject)
    assert len(got) == 1
    assert sorted(got[0]["rcpts"]) == ["<bob@example.test>",
                                       "<hidden@example.test>"]
    assert parse(got[0]["data"])["Bcc"] is None
    assert len(a.sent()) == 1

    osubj = uniq("Raw original")
    sid = a.deliver_and_sync(original_with_attachment(osubj, a.user), osubj)
    fsubj = "Fwd: " + osubj
    r = a.c.request("SmartForward",
                    body=new_mime(fsubj, "erin@example.test"),
                    headers={"Content-Type": "message/rfc822"},
                    extra_query={"ItemId": sid, "CollectionId": a.inbox})
    assert_sent_ok(r)
    got = SINK.find(fsubj)
    assert len(got) == 1
    msg = parse(got[0]["data"])
    assert [p.get_filename() for p in msg.walk()
            if p.get_filename()] == ["report.bin"]
    assert "$Forwarded" in a.flags_of(sid)
    # no SaveInSent=T: only the first message is in Sent
    assert len(a.sent()) == 1

    # 12.x has no Status element: errors are HTTP statuses
    r = a.c.request("SendMail", body=b"no header here\r\n\r\nbody\r\n",
                    headers={"Content-Type": "message/rfc822"})
    assert r.status == 400, r
    r = a.c.request("SmartReply", body=new_mime("x", "bob@example.test"),
                    headers={"Content-Type": "message/rfc822"},
                    extra_query={"ItemId": a.inbox + ":999999",
                                 "CollectionId": a.inbox})
    assert r.status == 400, r
    SINK.mode = "reject_data"
    try:
        subj = uniq("Raw refused")
        r = a.c.request("SendMail", body=new_mime(subj, "bob@example.test"),
                        headers={"Content-Type": "message/rfc822"},
                        extra_query={"SaveInSent": "T"})
        assert r.status == 500, r
    finally:
        SINK.mode = "accept"
    assert len(a.sent()) == 1


def test_refused_by_smtp_server_is_120_and_not_saved(dc):
    a = Account(dc, "refused")
    subject = uniq("Refused")
    cid = uuid.uuid4().hex
    xml = compose_xml("SendMail", new_mime(subject, "bob@example.test"),
                      client_id=cid)
    for mode in ("reject_data", "reject_rcpt"):
        SINK.mode = mode
        try:
            r = a.c.request("SendMail", xml)
        finally:
            SINK.mode = "accept"
        assert status_of(r) == "120", (mode, r)
        assert SINK.find(subject) == []
        assert a.sent() == []
    # the ClientId was not recorded: the device's retry goes out
    assert_sent_ok(a.c.request("SendMail", xml))
    assert len(SINK.find(subject)) == 1
    assert len(a.sent()) == 1


def test_smtp_server_down_is_120(dc):
    a = Account(dc, "down")
    osubj = uniq("Down original")
    sid = a.deliver_and_sync(sample_message(osubj, "x\n", to=a.user), osubj)
    subject = uniq("Server down")
    SINK.stop()
    try:
        r = a.c.request("SendMail", compose_xml(
            "SendMail", new_mime(subject, "bob@example.test"),
            client_id=uuid.uuid4().hex))
        assert status_of(r) == "120", r
        r = a.c.request("SmartReply", compose_xml(
            "SmartReply", new_mime("Re: " + osubj, "bob@example.test"),
            client_id=uuid.uuid4().hex, source={"ItemId": sid}))
        assert xrequire(r, "ComposeMail:SmartReply/Status") == "120", r
    finally:
        SINK.start()
    assert a.sent() == []
    assert "\\Answered" not in a.flags_of(sid)


def test_bad_input_statuses(dc):
    a = Account(dc, "bad")
    before = len(SINK.messages)

    def send(cmd, mime, **kw):
        return a.c.request(cmd, compose_xml(
            cmd, mime, client_id=uuid.uuid4().hex, **kw))

    # not a MIME message: the first line is no header field
    r = send("SendMail", b"Just some text without any header\r\n\r\nHi\r\n")
    assert status_of(r) == "107", r
    # no recipient at all
    r = send("SendMail", b"From: dev@example.test\r\nSubject: nobody\r\n"
             b"\r\nHello?\r\n")
    assert status_of(r) == "119", r
    # only undeliverable "recipients" (no domain, empty group)
    r = send("SendMail", b"To: undisclosed-recipients:;\r\nCc: bob\r\n"
             b"Subject: nobody\r\n\r\nHello?\r\n")
    assert status_of(r) == "119", r
    # larger than activesync_max_send_size
    big = new_mime(uniq("Too big"), "bob@example.test",
                   body=("y" * 76 + "\r\n") * (MAX_SEND // 78 + 10))
    r = send("SendMail", big)
    assert status_of(r) == "122", r
    # unknown source items
    mime = new_mime(uniq("Re: ghost"), "bob@example.test")
    r = send("SmartReply", mime, source={"FolderId": a.inbox,
                                         "ItemId": a.inbox + ":999999"})
    assert xrequire(r, "ComposeMail:SmartReply/Status") == "150", r
    r = send("SmartForward", mime, source={"FolderId": "987654",
                                           "ItemId": "987654:1"})
    assert xrequire(r, "ComposeMail:SmartForward/Status") == "150", r
    r = send("SmartReply", mime, source={"ItemId": "garbage"})
    assert status_of(r) == "150", r
    r = send("SmartReply", mime, source={"LongId": "RgAAAAD-unknown"})
    assert status_of(r) == "150", r
    # SmartReply without a source
    r = send("SmartReply", mime)
    assert status_of(r) == "101", r
    # no Mime element at all
    r = a.c.request("SendMail", '<SendMail xmlns="ComposeMail:"><ClientId>'
                    'x1</ClientId><SaveInSentItems/></SendMail>')
    assert status_of(r) == "101", r
    assert len(SINK.messages) == before
    assert a.sent() == []


def test_forward_growing_beyond_limit_is_122(dc):
    a = Account(dc, "fwdbig")
    osubj = uniq("Big original")
    payload = base64.encodebytes(bytes(range(256)) * 200).decode() \
        .replace("\n", "\r\n")
    orig = ("From: alice@example.test\r\nTo: %s\r\nSubject: %s\r\n"
            "MIME-Version: 1.0\r\n"
            "Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n"
            "--b\r\nContent-Type: text/plain\r\n\r\nBig one.\r\n"
            "--b\r\nContent-Type: application/octet-stream\r\n"
            "Content-Disposition: attachment; filename=\"big.bin\"\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\n%s--b--\r\n"
            % (a.user, osubj, payload)).encode()
    sid = a.deliver_and_sync(orig, osubj)
    fsubj = "Fwd: " + osubj
    r = a.c.request("SmartForward", compose_xml(
        "SmartForward", new_mime(fsubj, "erin@example.test"),
        client_id=uuid.uuid4().hex, source={"ItemId": sid}))
    assert status_of(r) == "122", r
    assert SINK.find(fsubj) == []
    assert "$Forwarded" not in a.flags_of(sid)


def test_smartforward_by_search_long_id(dc):
    a = Account(dc, "longid")
    word = "kiwi%s" % uuid.uuid4().hex[:8]
    osubj = "Report %s" % word
    dc.deliver(a.user, original_with_attachment(osubj, a.user))
    r = a.c.request_provisioned(
        "Search", '<Search xmlns="Search:" xmlns:airsync="AirSync:">'
        '<Store><Name>Mailbox</Name><Query><And>'
        '<airsync:Class>Email</airsync:Class>'
        '<airsync:CollectionId>%s</airsync:CollectionId>'
        '<FreeText>%s</FreeText></And></Query></Store></Search>'
        % (a.inbox, word))
    assert r.status == 200, r
    long_id = xrequire(r, "Response/Store/Result/LongId")
    fsubj = "Fwd: " + osubj
    r = a.c.request("SmartForward", compose_xml(
        "SmartForward", new_mime(fsubj, "erin@example.test"),
        client_id=uuid.uuid4().hex, source={"LongId": long_id}))
    assert_sent_ok(r)
    got = SINK.find(fsubj)
    assert len(got) == 1
    assert [p.get_filename() for p in parse(got[0]["data"]).walk()
            if p.get_filename()] == ["report.bin"]


def test_client_gone_while_submitting(dc):
    """The device drops the connection while the SMTP server has not
    answered yet.  smtp-submit can't be cancelled mid-transaction, so the
    submission finishes on its own: no crash, and once the server accepted
    the message its ClientId is recorded, so the device's retry is
    answered 118 instead of sending the message twice."""
    a = Account(dc, "gone")
    subject = uniq("Dropped")
    xml = compose_xml("SendMail", new_mime(subject, "bob@example.test"),
                      client_id=uuid.uuid4().hex)
    body = encode_xml(xml)
    SINK.slow_event.clear()
    SINK.data_seen.clear()
    SINK.mode = "slow"
    dc.mark_log()
    try:
        h = a.c.headers()
        h["Host"] = "127.0.0.1:%d" % dc.eas_port
        h["Content-Length"] = str(len(body))
        head = "POST %s HTTP/1.1\r\n" % a.c.query("SendMail")
        head += "".join("%s: %s\r\n" % kv for kv in h.items()) + "\r\n"
        sock = socket.create_connection(("127.0.0.1", dc.eas_port),
                                        timeout=30)
        try:
            sock.sendall(head.encode("latin-1") + body)
            assert SINK.data_seen.wait(30), "message never reached the sink"
        finally:
            sock.close()
        dc.wait_for_log("Client went away while the message", timeout=30)
    finally:
        SINK.mode = "accept"
        SINK.slow_event.set()
    dc.wait_for_log("Message submitted after the client went away",
                    timeout=30)
    assert dc.service_alive()
    assert len(SINK.find(subject)) == 1
    r = a.c.request("SendMail", xml)
    assert status_of(r) == "118", r
    assert len(SINK.find(subject)) == 1


# ------------------------------------------------------ sending a draft
#
# 16.x sends a draft with a Sync Add or Change in Drafts that carries
# email2:Send (MS-ASEMAIL 2.2.2.69); SendMail has no form naming a stored
# item.

T_DRAFTS = 3


def draft_app_data(to=None, subject=None, body=None, send=False):
    x = ""
    if to is not None:
        x += "<email:To>%s</email:To>" % xml_escape(to)
    if subject is not None:
        x += "<email:Subject>%s</email:Subject>" % xml_escape(subject)
    if body is not None:
        x += ("<airsyncbase:Body><airsyncbase:Type>1</airsyncbase:Type>"
              "<airsyncbase:Data>%s</airsyncbase:Data></airsyncbase:Body>"
              % xml_escape(body))
    if send:
        x += "<email2:Send/>"
    return "<ApplicationData>%s</ApplicationData>" % x


class DraftDevice:
    """A 16.1 device working in its Drafts folder."""

    def __init__(self, dc, tag, version="16.1"):
        self.a = Account(dc, tag, version=version)
        self.drafts = self.a.folders[T_DRAFTS]
        r = self.sync("0", None)
        self.key = xrequire(r, "Collections/Collection/SyncKey")
        self.sync_commands(None)

    def sync(self, key, commands):
        coll = "<SyncKey>%s</SyncKey><CollectionId>%s</CollectionId>" % (
            key, self.drafts)
        if key != "0":
            coll += "<GetChanges>1</GetChanges>"
        if commands is not None:
            coll += "<Commands>%s</Commands>" % commands
        r = self.a.c.request_provisioned(
            "Sync", '<Sync xmlns="AirSync:" xmlns:airsyncbase='
            '"AirSyncBase:" xmlns:email="Email:" xmlns:email2="Email2:">'
            '<Collections><Collection>%s</Collection></Collections>'
            '</Sync>' % coll)
        assert r.status == 200, r
        return r

    def sync_commands(self, commands):
        r = self.sync(self.key, commands)
        if r.body:
            assert xrequire(r, "Collections/Collection/Status") == "1", r
            self.key = xrequire(r, "Collections/Collection/SyncKey")
        return r

    def add(self, client_id, **kw):
        r = self.sync_commands("<Add><ClientId>%s</ClientId>%s</Add>" % (
            client_id, draft_app_data(**kw)))
        resp = xall(r, "Collections/Collection/Responses/Add")
        assert len(resp) == 1, r
        return r, xtext(resp[0], "Status"), xtext(resp[0], "ServerId")

    def change(self, server_id, **kw):
        r = self.sync_commands(
            "<Change><ServerId>%s</ServerId>%s</Change>" % (
                server_id, draft_app_data(**kw)))
        resp = xall(r, "Collections/Collection/Responses/Change")
        return r, (xtext(resp[0], "Status") if resp else None)

    def drafts_subjects(self):
        return [m["Subject"] for _, m in self.a.imap_fetch("Drafts")]


def check_draft_send(dc, version):
    d = DraftDevice(dc, "draft" + version.replace(".", ""), version)
    subject = uniq("Draft to send")
    r, status, sid = d.add("cid-" + uuid.uuid4().hex,
                           to="Bob <bob@example.test>, carol@example.test",
                           subject=subject, body="Written on the train.")
    assert status == "1" and sid.startswith(d.drafts + ":"), r
    assert SINK.find(subject) == []
    assert d.drafts_subjects() == [subject]

    # the device sends it: a Change with email2:Send
    r, status = d.change(sid, send=True)
    assert status is None, r      # no Change response: it went through
    deletes = [xtext(e, "ServerId") for e in
               xall(r, "Collections/Collection/Commands/Delete")]
    got = SINK.find(subject)
    assert len(got) == 1, SINK.messages[-3:]
    assert sorted(got[0]["rcpts"]) == ["<bob@example.test>",
                                       "<carol@example.test>"], got
    out = parse(got[0]["data"])
    assert out["Subject"] == subject
    assert content(out).startswith("Written on the train."), out
    assert out["Message-ID"] and out["Date"], out
    # a copy in Sent, the draft gone from Drafts
    sent = [m for _, m in a_sent(d)]
    assert [m["Subject"] for m in sent] == [subject], sent
    assert d.drafts_subjects() == []
    # and the device is told so (in this response or the next)
    r = d.sync_commands(None)
    deletes += [xtext(e, "ServerId") for e in
                xall(r, "Collections/Collection/Commands/Delete")]
    assert deletes == [sid], r

    # content changed and sent in one Change: the new content goes out
    subject2 = uniq("Second draft")
    r, status, sid2 = d.add("cid-" + uuid.uuid4().hex,
                            to="dave@example.test", subject="unfinished")
    assert status == "1", r
    r, status = d.change(sid2, subject=subject2, body="Final text.",
                         send=True)
    assert status is None, r
    got = SINK.find(subject2)
    assert len(got) == 1 and got[0]["rcpts"] == ["<dave@example.test>"]
    assert content(parse(got[0]["data"])).startswith("Final text.")
    assert SINK.find("unfinished") == []
    assert d.drafts_subjects() == []
    assert sorted(m["Subject"] for _, m in a_sent(d)) == \
        sorted([subject, subject2])


def a_sent(d):
    return d.a.sent()


def test_draft_send_16_1(dc):
    check_draft_send(dc, "16.1")


def test_draft_send_16_0(dc):
    check_draft_send(dc, "16.0")


def test_draft_add_with_send_once(dc):
    """An Add that carries Send goes out at once; the same Add repeated
    (the response was lost) does not send it twice."""
    d = DraftDevice(dc, "draftadd")
    subject = uniq("Sent from the Add")
    cid = "cid-" + uuid.uuid4().hex
    key = d.key
    r, status, sid = d.add(cid, to="erin@example.test", subject=subject,
                           body="Quick one.", send=True)
    assert status == "1", r
    assert len(SINK.find(subject)) == 1
    assert d.drafts_subjects() == []
    d.key = key
    r, status, sid_again = d.add(cid, to="erin@example.test",
                                 subject=subject, body="Quick one.",
                                 send=True)
    assert status == "1", r
    assert len(SINK.find(subject)) == 1
    assert d.drafts_subjects() == []
    assert [m["Subject"] for _, m in a_sent(d)] == [subject]


def test_draft_send_failures_keep_the_draft(dc):
    d = DraftDevice(dc, "draftfail")
    subject = uniq("Refused draft")
    r, status, sid = d.add("cid-" + uuid.uuid4().hex,
                           to="frank@example.test", subject=subject,
                           body="Text.")
    assert status == "1", r
    mark = dc.log_offset()
    # refused by the SMTP server: Status 6, nothing sent or saved
    SINK.mode = "reject_data"
    try:
        r, status = d.change(sid, send=True)
    finally:
        SINK.mode = "accept"
    assert status == "6", r
    dc.wait_for_log_text(mark, "Sending draft UID")
    assert SINK.find(subject) == [] and a_sent(d) == []
    assert d.drafts_subjects() == [subject]
    # the server is down: Status 5 (retry later), nothing lost
    SINK.stop()
    try:
        r, status = d.change(sid, send=True)
    finally:
        SINK.start()
    assert status == "5", r
    assert d.drafts_subjects() == [subject] and a_sent(d) == []
    # the retry goes out
    r, status = d.change(sid, send=True)
    assert status is None, r
    assert len(SINK.find(subject)) == 1
    assert d.drafts_subjects() == []

    # a draft without recipients can't be sent: Status 6, it stays
    subject = uniq("Nobody")
    r, status, sid = d.add("cid-" + uuid.uuid4().hex, subject=subject,
                           body="To whom?")
    assert status == "1", r
    r, status = d.change(sid, send=True)
    assert status == "6", r
    assert d.drafts_subjects() == [subject]
    dc.wait_for_log_text(mark, "has no recipients")
    # an unknown draft: Status 8
    r, status = d.change(d.drafts + ":4242", send=True)
    assert status == "8", r


def test_draft_send_not_before_16(dc):
    """14.1 has no drafts from the device, hence no Send: a Change in
    Drafts stays a flag change and nothing goes out."""
    a = Account(dc, "draft141", version="14.1")
    subject = uniq("Old draft")
    imap = dc.imap(a.user, a.password)
    try:
        assert imap.append("Drafts", "(\\Draft)", None, new_mime(
            subject, "bob@example.test"))[0] == "OK"
    finally:
        imap.logout()
    d = DraftDevice.__new__(DraftDevice)
    d.a, d.drafts = a, a.folders[T_DRAFTS]
    r = d.sync("0", None)
    d.key = xrequire(r, "Collections/Collection/SyncKey")
    r = d.sync_commands(None)
    sid = xtext(xall(r, "Collections/Collection/Commands/Add")[0],
                "ServerId")
    r, status = d.change(sid, send=True)
    assert status is None, r
    assert SINK.find(subject) == [] and a.sent() == []
    assert d.drafts_subjects() == [subject]


# ------------------------------------------- some recipients refused
#
# lib-smtp sends DATA to the recipients the server accepted even when it
# refused others (Dovecot's smtp-submit then reports a failure although
# the message went out). The message counts as sent: answered as sent,
# a Sent copy, the ClientId remembered (a retry is 118, never a second
# copy to those who got it), and the user gets a notice naming the
# refused recipients.

REFUSED_SUBJECT = "Not delivered to all recipients"


def inbox_notices(a):
    return [m for _, m in a.imap_fetch("INBOX")
            if m["Subject"].startswith(REFUSED_SUBJECT)]


def check_partial_refusal(dc, version):
    a = Account(dc, "partial" + version.replace(".", ""), version=version)
    subject = uniq("Partly refused")
    cid = uuid.uuid4().hex
    xml = compose_xml("SendMail", new_mime(
        subject, "bob@example.test, refuse-me@example.test",
        cc="carol@example.test"), client_id=cid)
    mark = dc.log_offset()
    SINK.mode = "reject_some"
    try:
        r = a.c.request("SendMail", xml)
        assert_sent_ok(r)
        got = SINK.find(subject)
        assert len(got) == 1, got
        assert sorted(got[0]["rcpts"]) == ["<bob@example.test>",
                                           "<carol@example.test>"], got
        assert [m["Subject"] for _, m in a.sent()] == [subject]
        notes = inbox_notices(a)
        assert len(notes) == 1, notes
        assert subject in notes[0]["Subject"], notes[0]["Subject"]
        text = content(notes[0])
        assert "refuse-me@example.test" in text and "550" in text, text
        assert "bob@example.test" not in text, text
        dc.wait_for_log_text(mark, "Recipients refused by the SMTP server")
        # the device retries (it never saw the answer): not sent again
        r = a.c.request("SendMail", xml)
        assert status_of(r) == "118", r
    finally:
        SINK.mode = "accept"
    assert len(SINK.find(subject)) == 1
    assert len(a.sent()) == 1 and len(inbox_notices(a)) == 1


def test_partial_refusal_14_1(dc):
    check_partial_refusal(dc, "14.1")


def test_partial_refusal_16_1(dc):
    check_partial_refusal(dc, "16.1")


def test_partial_refusal_12_1_raw(dc):
    a = Account(dc, "partial121", version="12.1")
    subject = uniq("Partly refused raw")
    SINK.mode = "reject_some"
    try:
        r = a.c.request("SendMail", body=new_mime(
            subject, "refuse-this@example.test, dan@example.test"),
            extra_query={"SaveInSent": "T"},
            headers={"Content-Type": "message/rfc822"})
    finally:
        SINK.mode = "accept"
    assert r.status == 200, r
    got = SINK.find(subject)
    assert len(got) == 1 and got[0]["rcpts"] == ["<dan@example.test>"]
    assert len(inbox_notices(a)) == 1


def test_all_recipients_refused_sends_nothing(dc):
    """Every RCPT refused: lib-smtp sends no DATA; 120 and a retry is
    safe (the ClientId is not remembered)."""
    a = Account(dc, "allrefused", version="16.1")
    subject = uniq("All refused")
    xml = compose_xml("SendMail", new_mime(
        subject, "refuse-a@example.test, refuse-b@example.test"),
        client_id=uuid.uuid4().hex)
    SINK.mode = "reject_some"
    try:
        r = a.c.request("SendMail", xml)
    finally:
        SINK.mode = "accept"
    assert status_of(r) == "120", r
    assert SINK.find(subject) == [] and a.sent() == []
    assert inbox_notices(a) == []
    assert_sent_ok(a.c.request("SendMail", xml))
    assert len(SINK.find(subject)) == 1


def test_draft_partial_refusal(dc):
    d = DraftDevice(dc, "draftpartial")
    subject = uniq("Draft partly refused")
    r, status, sid = d.add("cid-" + uuid.uuid4().hex,
                           to="gina@example.test, refuse-x@example.test",
                           subject=subject, body="Hello both.")
    assert status == "1", r
    SINK.mode = "reject_some"
    try:
        r, status = d.change(sid, send=True)
    finally:
        SINK.mode = "accept"
    assert status is None, r       # sent, as far as the device goes
    got = SINK.find(subject)
    assert len(got) == 1 and got[0]["rcpts"] == ["<gina@example.test>"]
    assert d.drafts_subjects() == []
    assert [m["Subject"] for _, m in a_sent(d)] == [subject]
    notes = inbox_notices(d.a)
    assert len(notes) == 1 and "refuse-x@example.test" in content(notes[0])
