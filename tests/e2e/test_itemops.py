"""ItemOperations (MS-ASCMD 2.2.1.10) and GetAttachment (2.2.1.7).

Fetch of whole mails (body preferences, MIME), of attachments by the
FileReference Sync handed out (whole, byte ranges, multipart responses
per MS-ASCMD 2.2.1.10.1), EmptyFolderContents with and without
DeleteSubFolders, the conversation Move, and every error status.  A 50 MB
attachment is fetched while the activesync process's peak RSS is
watched: it must be streamed, not held in memory."""

import base64
import os
import struct
import time

from harness import body_pref, decode_wbxml, default_asan_options, \
    fetch_item_xml, folders, imap_session, itemops, new_account, ok_top, \
    parse_xml, proc_status_kb, start, sync, T_INBOX, xall, xfind, \
    xml_escape, xtext

# One activesync process, so its peak RSS tells what a fetch cost.
# AddressSanitizer keeps freed memory in a quarantine (256 MB): RSS would
# count every buffer ever freed, not what is live. Without quarantine
# (only in this module's instance) RSS shows live memory in both builds.
INSTANCE = dict(activesync=True,
                extra_conf="service activesync {\n"
                           "  process_limit = 1\n"
                           "}\n"
                           "import_environment = TZ CORE_OUTOFMEM "
                           "CORE_ERROR UBSAN_OPTIONS LSAN_OPTIONS "
                           "ASAN_OPTIONS=%s:quarantine_size_mb=0\n"
                           % default_asan_options())

ATT_BYTES = bytes(range(256)) * 8 + b"tail"   # 2052 bytes, all values
T_USER_MAIL = 12


def attachment_message(subject, to, data=ATT_BYTES, name="data.bin",
                       ctype="application/octet-stream"):
    b64 = base64.encodebytes(data).replace(b"\n", b"\r\n")
    return (b"From: alice@example.test\r\n"
            b"To: " + to.encode() + b"\r\n"
            b"Subject: " + subject.encode() + b"\r\n"
            b"MIME-Version: 1.0\r\n"
            b"Content-Type: multipart/mixed; boundary=\"mix\"\r\n"
            b"\r\n--mix\r\n"
            b"Content-Type: text/plain; charset=utf-8\r\n\r\n"
            b"The body text of " + subject.encode() + b".\r\n"
            b"--mix\r\n"
            b"Content-Type: " + ctype.encode() + b"\r\n"
            b"Content-Disposition: attachment; filename=\"" +
            name.encode() + b"\"\r\n"
            b"Content-Transfer-Encoding: base64\r\n\r\n" + b64 +
            b"--mix\r\n"
            b"Content-Type: text/plain; charset=utf-8\r\n"
            b"Content-Disposition: attachment; filename=\"notes.txt\"\r\n"
            b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
            b"caf=C3=A9 line one\r\nline two=\r\n continued\r\n"
            b"--mix--\r\n")


# the CRLF before the boundary belongs to the boundary
NOTES_DECODED = "caf\u00e9 line one\r\nline two continued".encode()


def fetch_att_xml(ref, rng=None):
    opts = "" if rng is None else "<Options><Range>%s</Range></Options>" % rng
    return ("<Fetch><Store>Mailbox</Store><airsyncbase:FileReference>%s"
            "</airsyncbase:FileReference>%s</Fetch>" % (xml_escape(ref), opts))


def setup_mail(dc, tag, version="14.1", subject="With attachment"):
    """Account with one attachment mail in INBOX, synced: returns
    (client, inbox id, server id, {display name: file reference})."""
    c = new_account(dc, tag, version=version)
    dc.deliver(c.user, attachment_message(subject, c.user))
    inbox = folders(c)[T_INBOX]
    r = start(c, inbox, options=body_pref(1))
    assert len(r.adds) == 1, r.resp
    add = r.adds[0]
    refs = {}
    for att in xall(add, "ApplicationData/Attachments/Attachment"):
        refs[xtext(att, "DisplayName")] = xtext(att, "FileReference")
    assert set(refs) == {"data.bin", "notes.txt"}, refs
    return c, inbox, xtext(add, "ServerId"), refs


def parse_multipart(r):
    """MS-ASCMD 2.2.1.10.1.1: count, (offset, length) pairs, parts."""
    assert r.status == 200, r
    assert r.header("Content-Type") == "application/vnd.ms-sync.multipart", \
        r.headers
    body = r.body
    count, = struct.unpack_from("<i", body, 0)
    assert 1 <= count < 100, count
    parts = []
    end = 4 + 8 * count
    for i in range(count):
        off, length = struct.unpack_from("<ii", body, 4 + 8 * i)
        assert off == end, (i, off, end)   # consecutive, no gaps
        parts.append(body[off:off + length])
        end = off + length
    assert end == len(body), (end, len(body))
    return parse_xml(decode_wbxml(parts[0])), parts


# ---------------------------------------------------------------- Fetch

def check_fetch_item(dc, version):
    c, inbox, sid, _ = setup_mail(dc, "fetch" + version.replace(".", ""),
                                  version=version)
    r = itemops(c, fetch_item_xml(inbox, sid, body_pref(1)))
    ops = ok_top(r)
    assert len(ops) == 1 and ops[0].tag.endswith("Fetch"), r
    f = ops[0]
    assert xtext(f, "Status") == "1", r
    assert xtext(f, "AirSync:CollectionId") == inbox
    assert xtext(f, "AirSync:ServerId") == sid
    assert xtext(f, "AirSync:Class") == "Email"
    assert xtext(f, "Properties/Email:Subject") == "With attachment"
    assert xtext(f, "Properties/AirSyncBase:Body/AirSyncBase:Type") == "1"
    assert "The body text of With attachment." in xtext(
        f, "Properties/AirSyncBase:Body/AirSyncBase:Data")
    names = [xtext(a, "DisplayName") for a in
             xall(f, "Properties/Attachments/Attachment")]
    assert sorted(names) == ["data.bin", "notes.txt"], r
    # no ApplicationData wrapper inside Properties
    assert xfind(f, "Properties/ApplicationData") is None, r

    # a Search result's LongId names the same mail
    r = itemops(c, "<Fetch><Store>Mailbox</Store><search:LongId>%s"
                "</search:LongId><Options>%s</Options></Fetch>"
                % (sid, body_pref(2)))
    f = ok_top(r)[0]
    assert xtext(f, "Status") == "1", r
    assert xtext(f, "Search:LongId") == sid, r
    assert xtext(f, "Properties/Email:Subject") == "With attachment"
    assert xtext(f, "Properties/AirSyncBase:Body/AirSyncBase:Type") == "2"

    # MIME body with MIMESupport 2
    r = itemops(c, fetch_item_xml(
        inbox, sid, "<airsync:MIMESupport>2</airsync:MIMESupport>" +
        body_pref(4)))
    f = ok_top(r)[0]
    assert xtext(f, "Status") == "1", r
    assert xtext(f, "Properties/AirSyncBase:Body/AirSyncBase:Type") == "4"
    mime = xtext(f, "Properties/AirSyncBase:Body/AirSyncBase:Data")
    assert "Subject: With attachment" in mime and "--mix--" in mime, mime

    # truncated plain text
    r = itemops(c, fetch_item_xml(inbox, sid, body_pref(1, size=8)))
    f = ok_top(r)[0]
    assert xtext(f, "Properties/AirSyncBase:Body/AirSyncBase:Data") == \
        "The body"
    assert xtext(f, "Properties/AirSyncBase:Body/AirSyncBase:Truncated") == \
        "1"
    # fetching does not mark the mail read
    imap = imap_session(dc, c)
    try:
        typ, data = imap.uid("FETCH", sid.split(":")[1], "(FLAGS)")
        assert b"\\Seen" not in data[0], data
    finally:
        imap.logout()


def test_fetch_item_14_1(dc):
    check_fetch_item(dc, "14.1")


def test_fetch_item_16_1(dc):
    check_fetch_item(dc, "16.1")


def test_fetch_item_not_found(dc):
    c, inbox, sid, _ = setup_mail(dc, "fetchnf")
    uid = int(sid.split(":")[1])
    mark = dc.log_offset()
    for coll, server_id in ((inbox, "%s:%d" % (inbox, uid + 10)),
                            ("999", "999:1"),
                            (inbox, "garbage"),
                            (inbox, "%s:1" % ("1" if inbox != "1" else "2"))):
        r = itemops(c, fetch_item_xml(coll, server_id))
        f = ok_top(r)[0]
        assert xtext(f, "Status") == "6", (coll, server_id, r)
        assert xfind(f, "Properties") is None, r
    dc.wait_for_log_text(mark, "ItemOperations: Fetch of unknown item", 3)
    dc.wait_for_log_text(mark, "no such message")


def check_fetch_attachment(dc, version):
    c, inbox, sid, refs = setup_mail(
        dc, "fetchatt" + version.replace(".", ""), version=version)
    r = itemops(c, fetch_att_xml(refs["data.bin"]) +
                fetch_att_xml(refs["notes.txt"]))
    ops = ok_top(r)
    assert len(ops) == 2, r
    assert xtext(ops[0], "Status") == "1", r
    assert xtext(ops[0], "AirSyncBase:FileReference") == refs["data.bin"]
    assert xtext(ops[0], "Properties/AirSyncBase:ContentType") == \
        "application/octet-stream"
    data = base64.b64decode(xtext(ops[0], "Properties/Data"))
    assert data == ATT_BYTES, len(data)
    # quoted-printable decoded; the text is sent as it is (UTF-8 here)
    assert base64.b64decode(xtext(ops[1], "Properties/Data")) == \
        NOTES_DECODED
    assert xtext(ops[1], "Properties/AirSyncBase:ContentType") == \
        "text/plain"


def test_fetch_attachment_14_1(dc):
    check_fetch_attachment(dc, "14.1")


def test_fetch_attachment_16_1(dc):
    check_fetch_attachment(dc, "16.1")


def test_fetch_attachment_12_1(dc):
    check_fetch_attachment(dc, "12.1")


def test_fetch_attachment_range(dc):
    for version in ("14.1", "16.1"):
        c, inbox, sid, refs = setup_mail(
            dc, "range" + version.replace(".", ""), version=version)
        ref = refs["data.bin"]
        size = len(ATT_BYTES)
        r = itemops(c, fetch_att_xml(ref, "10-19") +
                    fetch_att_xml(ref, "2000-99999") +
                    fetch_att_xml(ref, "0-0"))
        ops = ok_top(r)
        assert [xtext(o, "Status") for o in ops] == ["1", "1", "1"], r
        assert xtext(ops[0], "Properties/Range") == "10-19"
        assert xtext(ops[0], "Properties/Total") == str(size)
        assert base64.b64decode(xtext(ops[0], "Properties/Data")) == \
            ATT_BYTES[10:20]
        # best effort: cut at the end
        assert xtext(ops[1], "Properties/Range") == "2000-%d" % (size - 1)
        assert base64.b64decode(xtext(ops[1], "Properties/Data")) == \
            ATT_BYTES[2000:]
        assert base64.b64decode(xtext(ops[2], "Properties/Data")) == \
            ATT_BYTES[:1]

        # past the end: Status 8, no data
        mark = dc.log_offset()
        r = itemops(c, fetch_att_xml(ref, "%d-%d" % (size, size + 10)))
        f = ok_top(r)[0]
        assert xtext(f, "Status") == "8", r
        assert xfind(f, "Properties") is None, r
        dc.wait_for_log_text(mark, "is past its end")


def test_fetch_attachment_unknown_reference(dc):
    c, inbox, sid, refs = setup_mail(dc, "badref")
    uid = sid.split(":")[1]
    bad = ["%s:%s:9" % (inbox, uid),          # no such part
           "%s:%s:1" % (inbox, uid),          # the body, not an attachment
           "%s:99999:2" % inbox,              # no such message
           "424242:%s:2" % uid,               # no such folder
           "garbage", "1:2", "%s:%s:2." % (inbox, uid), ""]
    mark = dc.log_offset()
    r = itemops(c, "".join(fetch_att_xml(b) for b in bad))
    ops = ok_top(r)
    assert [xtext(o, "Status") for o in ops] == ["15"] * len(bad), r
    assert all(xfind(o, "Properties") is None for o in ops), r
    dc.wait_for_log_text(mark, "ItemOperations: attachment", len(bad))


def test_multipart_response(dc):
    c, inbox, sid, refs = setup_mail(dc, "multipart")
    xml = (fetch_att_xml(refs["data.bin"]) +
           fetch_item_xml(inbox, sid, body_pref(1)) +
           fetch_att_xml(refs["notes.txt"], "0-3") +
           fetch_att_xml("garbage"))
    r = itemops(c, xml, headers={"MS-ASAcceptMultiPart": "T"})
    doc, parts = parse_multipart(r)
    assert xtext(doc, "ItemOperations/Status") == "1"
    ops = xall(doc, "ItemOperations/Response/*")
    assert [xtext(o, "Status") for o in ops] == ["1", "1", "1", "15"]
    # attachments: Part instead of Data
    assert xfind(ops[0], "Properties/Data") is None
    p = int(xtext(ops[0], "Properties/Part"))
    assert parts[p] == ATT_BYTES
    # the mail's body: Part inside Body
    body = xfind(ops[1], "Properties/AirSyncBase:Body")
    assert xfind(body, "AirSyncBase:Data") is None
    p2 = int(xtext(body, "ItemOperations:Part"))
    assert b"The body text of With attachment." in parts[p2]
    p3 = int(xtext(ops[2], "Properties/Part"))
    assert parts[p3] == NOTES_DECODED[:4]
    assert xtext(ops[2], "Properties/Range") == "0-3"
    assert sorted([p, p2, p3]) == [1, 2, 3] and len(parts) == 4

    # the base64 query form's AcceptMultiPart option bit does the same
    c.policy_key = c.policy_key   # already provisioned
    from harness import encode_xml
    body_bytes = encode_xml(
        '<ItemOperations xmlns="ItemOperations:" '
        'xmlns:airsyncbase="AirSyncBase:">%s</ItemOperations>'
        % fetch_att_xml(refs["data.bin"]))
    r = c.request("ItemOperations", body=body_bytes, base64_query=True,
                  params={"Options": 0x02})
    doc, parts = parse_multipart(r)
    assert parts[int(xtext(doc, "ItemOperations/Response/Fetch/"
                                "Properties/Part"))] == ATT_BYTES


def test_getattachment(dc):
    for version in ("12.1", "14.1"):
        c, inbox, sid, refs = setup_mail(
            dc, "getatt" + version.replace(".", ""), version=version)
        r = c.request_provisioned("GetAttachment", None, extra_query={
            "AttachmentName": refs["data.bin"]})
        assert r.status == 200, r
        assert r.header("Content-Type") == "application/octet-stream"
        assert r.body == ATT_BYTES
        r = c.request("GetAttachment", None, extra_query={
            "AttachmentName": refs["notes.txt"]})
        assert r.status == 200 and r.body == NOTES_DECODED, (r, r.body)
        assert r.header("Content-Type") == "text/plain"
        # base64 query form
        r = c.request("GetAttachment", base64_query=True,
                      params={"AttachmentName": refs["data.bin"]})
        assert r.status == 200 and r.body == ATT_BYTES, r

        # unknown reference: HTTP 500, logged
        mark = dc.log_offset()
        for bad in ("%s:%s:7" % (inbox, sid.split(":")[1]), "nonsense"):
            r = c.request("GetAttachment", None,
                          extra_query={"AttachmentName": bad})
            assert r.status == 500, (bad, r)
        dc.wait_for_log_text(mark, "GetAttachment: unknown attachment", 2)
        # no name at all
        r = c.request("GetAttachment", None)
        assert r.status == 400, r


# ---------------------------------------------------------- EmptyFolder

def test_empty_folder_contents(dc):
    for version in ("14.1", "16.1"):
        tag = "empty" + version.replace(".", "")
        c, inbox, sid, refs = setup_mail(dc, tag, version=version)
        imap = imap_session(dc, c)
        try:
            for name in ("Box", "Box/Sub", "Box/Sub/Deep", "Other"):
                assert imap.create(name)[0] == "OK"
            for name in ("Box", "Box/Sub", "Other"):
                for i in range(3):
                    assert imap.append(name, None, None, (
                        "Subject: %s %d\r\n\r\nx\r\n" % (name, i)
                    ).encode())[0] == "OK"
        finally:
            imap.logout()
        r = c.foldersync()
        ids = {xtext(a, "DisplayName"): xtext(a, "ServerId")
               for a in xall(r, "Changes/Add")}

        def count(mailbox):
            im = imap_session(dc, c, mailbox)
            try:
                typ, data = im.search(None, "ALL")
                return len(data[0].split())
            finally:
                im.logout()

        def mailboxes():
            im = dc.imap(c.user, c.password)
            try:
                typ, data = im.list()
                return sorted(d.decode().split(' "/" ')[-1].strip('"')
                              for d in data)
            finally:
                im.logout()

        # without DeleteSubFolders: only the folder's own mail goes
        r = itemops(c, "<EmptyFolderContents><airsync:CollectionId>%s"
                    "</airsync:CollectionId></EmptyFolderContents>"
                    % ids["Box"])
        op = ok_top(r)[0]
        assert op.tag.endswith("EmptyFolderContents"), r
        assert xtext(op, "Status") == "1", r
        assert xtext(op, "AirSync:CollectionId") == ids["Box"]
        assert count("Box") == 0 and count("Box/Sub") == 3
        assert count("Other") == 3 and count("INBOX") == 1

        # with DeleteSubFolders: the subfolders go too
        r = itemops(c, "<EmptyFolderContents><airsync:CollectionId>%s"
                    "</airsync:CollectionId><Options><DeleteSubFolders/>"
                    "</Options></EmptyFolderContents>" % ids["Box"])
        assert xtext(ok_top(r)[0], "Status") == "1", r
        boxes = mailboxes()
        assert "Box" in boxes and "Box/Sub" not in boxes and \
            "Box/Sub/Deep" not in boxes and "Other" in boxes, boxes
        assert count("Other") == 3 and count("INBOX") == 1

        # unknown folder: Status 6, nothing changes
        mark = dc.log_offset()
        r = itemops(c, "<EmptyFolderContents><airsync:CollectionId>9999"
                    "</airsync:CollectionId></EmptyFolderContents>")
        assert xtext(ok_top(r)[0], "Status") == "6", r
        dc.wait_for_log_text(mark, "EmptyFolderContents of unknown folder")
        assert count("Other") == 3 and count("INBOX") == 1


# ------------------------------------------------------------------ Move

def thread_message(subject, msgid, parent=None):
    hdr = ("From: alice@example.test\r\nTo: bob@example.test\r\n"
           "Subject: %s\r\nMessage-ID: <%s>\r\n" % (subject, msgid))
    if parent is not None:
        hdr += "In-Reply-To: <%s>\r\nReferences: <%s>\r\n" % (parent,
                                                                 parent)
    return (hdr + "\r\nbody of %s\r\n" % subject).encode()


def test_move_conversation(dc):
    for version in ("14.1", "16.1"):
        tag = "moveconv" + version.replace(".", "")
        c = new_account(dc, tag, version=version)
        root = "root-%s@example.test" % tag
        dc.deliver(c.user, thread_message("Start", root))
        dc.deliver(c.user, thread_message("Re: Start", "r1-" + root, root))
        dc.deliver(c.user, thread_message("Unrelated", "u-" + root))
        imap = imap_session(dc, c)
        try:
            assert imap.create("Archive")[0] == "OK"
            assert imap.create("Other")[0] == "OK"
            # more of the thread elsewhere, and a deleted one
            assert imap.append("Other", None, None, thread_message(
                "Re: Re: Start", "r2-" + root, root))[0] == "OK"
            assert imap.append("Trash", None, None, thread_message(
                "Deleted reply", "r3-" + root, root))[0] == "OK"
        finally:
            imap.logout()
        f = folders(c)
        r = c.foldersync()
        ids = {xtext(a, "DisplayName"): xtext(a, "ServerId")
               for a in xall(r, "Changes/Add")}
        inbox = f[T_INBOX]
        ri = start(c, inbox, options=body_pref(1))
        conv = {xtext(a, "ApplicationData/Email:Subject"):
                xtext(a, "ApplicationData/Email2:ConversationId")
                for a in ri.adds}
        assert conv["Start"] and conv["Start"] == conv["Re: Start"], conv
        assert conv["Unrelated"] != conv["Start"], conv

        mark = dc.log_offset()
        r = itemops(c, "<Move><ConversationId>%s</ConversationId>"
                    "<DstFldId>%s</DstFldId><Options><MoveAlways/>"
                    "</Options></Move>" % (conv["Start"], ids["Archive"]))
        op = ok_top(r)[0]
        assert op.tag.endswith("Move"), r
        assert xtext(op, "Status") == "1", r
        assert xtext(op, "ConversationId") == conv["Start"], r
        dc.wait_for_log_text(mark, "moved a conversation of 3 mails")

        def subjects(mailbox):
            im = imap_session(dc, c, mailbox)
            try:
                typ, data = im.uid("FETCH", "1:*", "(BODY.PEEK["
                                   "HEADER.FIELDS (SUBJECT)])")
                return sorted(d[1].decode().split(":", 1)[1].strip()
                              for d in data if isinstance(d, tuple))
            finally:
                im.logout()
        assert subjects("Archive") == ["Re: Re: Start", "Re: Start",
                                       "Start"]
        assert subjects("INBOX") == ["Unrelated"]
        assert subjects("Other") == []
        assert subjects("Trash") == ["Deleted reply"]
        # the device sees it in its Syncs
        ri2 = sync(c, inbox, ri.key).ok()
        assert len(ri2.deletes) == 2 and not ri2.adds, ri2.resp

        # moving it again: nothing left outside Archive
        r = itemops(c, "<Move><ConversationId>%s</ConversationId>"
                    "<DstFldId>%s</DstFldId></Move>"
                    % (conv["Start"], ids["Archive"]))
        assert xtext(ok_top(r)[0], "Status") == "6", r

        # an unknown conversation, an unknown folder
        other = base64.b64encode(b"\x01" * 16).decode()
        mark = dc.log_offset()
        r = itemops(c, "<Move><ConversationId>%s</ConversationId>"
                    "<DstFldId>%s</DstFldId></Move>"
                    "<Move><ConversationId>%s</ConversationId>"
                    "<DstFldId>4242</DstFldId></Move>"
                    % (other, ids["Archive"], conv["Unrelated"]))
        ops = ok_top(r)
        assert [xtext(o, "Status") for o in ops] == ["6", "6"], r
        dc.wait_for_log_text(mark, "Move of an unknown conversation")
        dc.wait_for_log_text(mark, "Move to unknown folder")
        assert subjects("INBOX") == ["Unrelated"]

        # a ConversationId of the wrong size: protocol error
        r = itemops(c, "<Move><ConversationId>%s</ConversationId>"
                    "<DstFldId>%s</DstFldId></Move>"
                    % (base64.b64encode(b"short").decode(),
                       ids["Archive"]))
        assert xtext(r, "ItemOperations/Status") == "2", r

    # 12.1 has no Move operation: protocol error
    c12, inbox12, sid12, _ = setup_mail(dc, "moveconv12", version="12.1")
    r = itemops(c12, "<Move><ConversationId>%s</ConversationId>"
                "<DstFldId>%s</DstFldId></Move>"
                % (base64.b64encode(b"\x01" * 16).decode(), inbox12))
    assert r.status == 200 and xtext(r, "ItemOperations/Status") == "2", r


# ---------------------------------------------------------- bad requests

def test_malformed_requests(dc):
    c, inbox, sid, refs = setup_mail(dc, "malformed")
    imap = imap_session(dc, c)
    try:
        assert imap.create("Keep")[0] == "OK"
        assert imap.append("Keep", None, None,
                           b"Subject: keep\r\n\r\nx\r\n")[0] == "OK"
    finally:
        imap.logout()
    r = c.foldersync()
    keep = [xtext(a, "ServerId") for a in xall(r, "Changes/Add")
            if xtext(a, "DisplayName") == "Keep"][0]
    empty_keep = ("<EmptyFolderContents><airsync:CollectionId>%s"
                  "</airsync:CollectionId></EmptyFolderContents>" % keep)
    bad = [
        # Fetch without Store
        "<Fetch><airsyncbase:FileReference>%s</airsyncbase:FileReference>"
        "</Fetch>" % refs["data.bin"],
        # Fetch naming nothing
        "<Fetch><Store>Mailbox</Store></Fetch>",
        # reversed and malformed ranges
        fetch_att_xml(refs["data.bin"], "9-3"),
        fetch_att_xml(refs["data.bin"], "abc"),
        # EmptyFolderContents without CollectionId
        "<EmptyFolderContents/>",
        # an unknown operation
        "<Schema/>",
    ]
    for xml in bad:
        mark = dc.log_offset()
        # a valid operation first: nothing of a malformed request runs
        r = itemops(c, empty_keep + xml)
        assert r.status == 200, r
        assert xtext(r, "ItemOperations/Status") == "2", (xml, r)
        assert xfind(r, "ItemOperations/Response") is None, r
        dc.wait_for_log_text(mark, "ItemOperations: protocol error")
    # no operations at all
    r = itemops(c, "")
    assert xtext(r, "ItemOperations/Status") == "2", r
    im = imap_session(dc, c, "Keep")
    try:
        typ, data = im.search(None, "ALL")
        assert len(data[0].split()) == 1, data
    finally:
        im.logout()

    # unsupported store
    r = itemops(c, "<Fetch><Store>DocumentLibrary</Store>"
                "<LinkId>\\\\server\\share\\file</LinkId></Fetch>")
    assert xtext(ok_top(r)[0], "Status") == "9", r


# ------------------------------------------------------- 50 MB, bounded

def _ppid(pid):
    with open("/proc/%d/stat" % pid) as f:
        # the command may contain spaces: fields after the last ')'
        return int(f.read().rsplit(")", 1)[1].split()[1])


def _activesync_pids(dc):
    """The activesync processes under this instance's master."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        pid = int(entry)
        try:
            with open("/proc/%d/comm" % pid) as f:
                if f.read().strip() != "activesync":
                    continue
            p = pid
            while p > 1 and p != dc.proc.pid:
                p = _ppid(p)
        except OSError:
            continue
        if p == dc.proc.pid:
            pids.append(pid)
    return pids


def _wbxml_skip_data(body, b64):
    """The response with the big base64 text cut out (to decode it)."""
    pos = body.find(b64[:64])
    assert pos > 0, "attachment data not in the response"
    assert body[pos:pos + len(b64)] == b64, "attachment data differs"
    return body[:pos] + b"X" + body[pos + len(b64):]


def test_large_attachment_bounded_memory(dc):
    size = 50 * 1024 * 1024
    data = os.urandom(size // 2) * 2
    c = new_account(dc, "large")
    dc.deliver(c.user, attachment_message("Large", c.user, data=data,
                                          name="large.bin"))
    inbox = folders(c)[T_INBOX]
    r = start(c, inbox, options=body_pref(1, size=100))
    refs = {xtext(a, "DisplayName"): xtext(a, "FileReference")
            for a in xall(r.adds[0], "ApplicationData/Attachments/"
                                     "Attachment")}
    assert xtext(r.adds[0], "ApplicationData/Attachments/Attachment/"
                 "EstimatedDataSize") == str(size)
    ref = refs["large.bin"]

    # a small fetch first, so the process's own baseline is reached
    r = itemops(c, fetch_att_xml(refs["notes.txt"]))
    assert xtext(ok_top(r)[0], "Status") == "1", r
    pids = _activesync_pids(dc)
    assert len(pids) == 1, pids
    pid = pids[0]
    hwm_before = proc_status_kb(pid, "VmHWM")

    body = c.headers()
    body.pop("Content-Type")
    from harness import encode_xml
    req = encode_xml('<ItemOperations xmlns="ItemOperations:" '
                     'xmlns:airsyncbase="AirSyncBase:">%s</ItemOperations>'
                     % fetch_att_xml(ref))
    h = c.headers()
    t0 = time.monotonic()
    resp = c.raw("POST", c.query("ItemOperations"), h, req, timeout=300)
    elapsed = time.monotonic() - t0
    assert resp.status == 200, resp
    assert _activesync_pids(dc) == [pid], "another process served it"
    hwm_after = proc_status_kb(pid, "VmHWM")
    growth_mb = (hwm_after - hwm_before) / 1024.0
    print("50 MB attachment inline: response %d bytes in %.1f s, "
          "activesync VmHWM %d kB -> %d kB (growth %.1f MB)" % (
              len(resp.body), elapsed, hwm_before, hwm_after, growth_mb))
    b64 = base64.b64encode(data)
    assert int(resp.header("Content-Length")) == len(resp.body)
    doc = parse_xml(decode_wbxml(_wbxml_skip_data(resp.body, b64)))
    assert xtext(doc, "ItemOperations/Response/Fetch/Status") == "1"
    assert xtext(doc, "ItemOperations/Response/Fetch/Properties/Data") == "X"
    # streamed: far less than the attachment (50 MB, 67 MB as base64)
    assert growth_mb < 16, growth_mb

    # multipart, and a range of it
    h["MS-ASAcceptMultiPart"] = "T"
    req = encode_xml('<ItemOperations xmlns="ItemOperations:" '
                     'xmlns:airsyncbase="AirSyncBase:">%s%s</ItemOperations>'
                     % (fetch_att_xml(ref),
                        fetch_att_xml(ref, "%d-%d" % (size - 100,
                                                      size + 100))))
    resp = c.raw("POST", c.query("ItemOperations"), h, req, timeout=300)
    doc, parts = parse_multipart(c.decode_response(resp))
    ops = xall(doc, "ItemOperations/Response/Fetch")
    assert parts[int(xtext(ops[0], "Properties/Part"))] == data
    assert parts[int(xtext(ops[1], "Properties/Part"))] == data[-100:]
    assert xtext(ops[1], "Properties/Total") == str(size)
    assert _activesync_pids(dc) == [pid], "another process served it"
    hwm_multi = proc_status_kb(pid, "VmHWM")
    print("50 MB attachment multipart: activesync VmHWM %d kB" % hwm_multi)
    assert (hwm_multi - hwm_before) / 1024.0 < 16

    # a client that goes away in the middle: the process frees it all
    # and keeps serving
    import socket
    sock = socket.create_connection((c.host, c.port), timeout=60)
    try:
        req_head = "POST %s HTTP/1.1\r\nHost: localhost\r\n" % \
            c.query("ItemOperations")
        for k, v in h.items():
            if k != "MS-ASAcceptMultiPart":
                req_head += "%s: %s\r\n" % (k, v)
        req_head += "Content-Length: %d\r\n\r\n" % len(req)
        sock.sendall(req_head.encode() + req)
        got = 0
        while got < 1024 * 1024:
            chunk = sock.recv(65536)
            assert chunk, "connection closed early"
            got += len(chunk)
    finally:
        sock.close()
    r = itemops(c, fetch_att_xml(refs["notes.txt"]))
    assert xtext(ok_top(r)[0], "Status") == "1", r
    assert _activesync_pids(dc) == [pid]


def test_fetch_unreadable_item_is_14(dc):
    """The message exists but its file can't be read (here: no read
    permission for the service): Status 14, an error logged, nothing
    changed; readable again, it is fetched."""
    import glob
    import os
    c, inbox, sid, _ = setup_mail(dc, "fetchunread")
    maildir = os.path.join(dc.home_root, c.user, "Maildir")
    files = glob.glob(os.path.join(maildir, "cur", "*")) + \
        glob.glob(os.path.join(maildir, "new", "*"))
    assert len(files) == 1, files
    mark = dc.log_offset()
    os.chmod(files[0], 0)
    try:
        r = itemops(c, fetch_item_xml(inbox, sid))
        f = ok_top(r)[0]
        assert xtext(f, "Status") == "14", r
        assert xfind(f, "Properties") is None, r
        dc.wait_for_log_text(mark, "ItemOperations: reading %s failed" % sid)
    finally:
        os.chmod(files[0], 0o600)
    r = itemops(c, fetch_item_xml(inbox, sid))
    assert xtext(ok_top(r)[0], "Status") == "1", r
