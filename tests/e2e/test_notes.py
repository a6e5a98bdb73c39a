"""Notes folders (MS-ASNOTE, protocol 14.0+) and items of another class.

A folder whose METADATA /private/vendor/kolab/folder-type is "note"
(".default" for the default one) is a Notes folder for 14.x/16.x devices
and a plain mail folder for 12.x devices (no Notes class there), so its
messages are seen either way.  Calendar, contacts and tasks folders
have their own classes (test_calendar.py, test_contacts.py,
test_tasks.py).  Notes are ordinary messages:
Subject = the note's subject, the text body = the note, keywords = the
categories; every change is checked over IMAP.  MoveItems between a mail
and a notes folder is Status 5, ItemOperations Move to a notes folder is
Status 156, and neither changes anything."""

import re
from email.header import decode_header, make_header

from harness import body_pref, fetch_item_xml, folders, hierarchy, \
    imap_session, itemops, KOLAB_KEY, move_items, new_account, ok_top, \
    sample_message, search, set_folder_type, start, store_status, sync, \
    sync_request, SyncResult as Result, T_INBOX, xall, xfind, xml_escape, \
    xtext

INSTANCE = dict(activesync=True)

T_NOTES, T_USER_NOTES, T_USER_MAIL = 10, 17, 12



NOTE_UID_HEADER = "X-Universally-Unique-Identifier"


def note_message(subject, text, date="Mon, 16 Nov 2026 10:00:00 +0000",
                 note_uid=None):
    """A note as IMAP notes apps write it (Apple Notes: the identifier
    header stays the same through edits)"""
    extra = "" if note_uid is None else "%s: %s\r\n" % (NOTE_UID_HEADER,
                                                        note_uid)
    return ("From: <%s>\r\nSubject: %s\r\nDate: %s\r\nMIME-Version: 1.0\r\n"
            "%sContent-Type: text/plain; charset=utf-8\r\n"
            "Content-Transfer-Encoding: 8bit\r\n\r\n%s\r\n"
            % ("owner@example.test", subject, date, extra, text)).encode()


def imap_note_uid(dc, c, mailbox, uid):
    """The note identifier header of the message with this IMAP UID"""
    imap = imap_session(dc, c, mailbox)
    try:
        typ, data = imap.uid("FETCH", str(uid), "(BODY.PEEK[HEADER.FIELDS "
                             "(%s)])" % NOTE_UID_HEADER)
        assert typ == "OK", data
    finally:
        imap.logout()
    hdr = data[0][1].decode().strip()
    return hdr.split(":", 1)[1].strip() if hdr else None



def setup(dc, tag, version="14.1"):
    c = new_account(dc, tag, version=version)
    imap = imap_session(dc, c)
    try:
        for name in ("Notes", "Ideas", "Other notes", "Calendar", "Archive"):
            assert imap.create('"%s"' % name)[0] == "OK"
        assert imap.append("Notes", "(Work $Cat:Home=20Stuff)",
                           '"01-Jan-2001 10:00:00 +0000"',
                           note_message("Old note", "From 2001."))[0] == "OK"
        assert imap.append("Notes", None, None, note_message(
            "Shopping", "Milk\r\nCaf\u00e9 beans"))[0] == "OK"
    finally:
        imap.logout()
    set_folder_type(dc, c, "Notes", "note.default")
    set_folder_type(dc, c, "Ideas", "note")
    # a second default: the first in folder order keeps the default type
    set_folder_type(dc, c, "Other notes", "note.default")
    set_folder_type(dc, c, "Calendar", "event.default")
    return c


def imap_notes(dc, c, mailbox):
    """{subject: (uid, flags, body)} over IMAP"""
    imap = imap_session(dc, c, mailbox)
    try:
        typ, data = imap.uid("FETCH", "1:*", "(UID FLAGS BODY.PEEK["
                             "HEADER.FIELDS (SUBJECT)] BODY.PEEK[TEXT])")
        assert typ == "OK", data
        out = {}
        parts = [d for d in data if isinstance(d, tuple)]
        for i in range(0, len(parts), 2):
            meta = parts[i][0].decode()
            uid = int(re.search(r"UID (\d+)", meta).group(1))
            # \Recent goes with the first session that sees it
            flags = " ".join(f for f in re.search(
                r"FLAGS \(([^)]*)\)", meta).group(1).split()
                if f != "\\Recent")
            subj = str(make_header(decode_header(
                parts[i][1].decode().split(":", 1)[1].strip())))
            out[subj] = (uid, flags, parts[i + 1][1])
        return out
    finally:
        imap.logout()


def note_sync(c, coll, key, **kw):
    return Result(sync_request(c, coll, key, cls="Notes",
                               xmlns='xmlns:notes="Notes:"', **kw))


def notes_start(c, coll, options=None):
    r = note_sync(c, coll, "0", options=options).ok()
    assert r.key == "1" and not r.adds, r.resp
    return note_sync(c, coll, r.key, options=options).ok()


def by_subject(adds):
    return {xtext(a, "ApplicationData/Notes:Subject"): a for a in adds}


def check_note(add, subject, text, categories):
    data = xfind(add, "ApplicationData")
    assert xtext(data, "Notes:Subject") == subject
    assert xtext(data, "Notes:MessageClass") == "IPM.StickyNote"
    assert re.fullmatch(r"\d{8}T\d{6}Z",
                        xtext(data, "Notes:LastModifiedDate")), \
        xtext(data, "Notes:LastModifiedDate")
    assert xtext(data, "AirSyncBase:Body/AirSyncBase:Type") == "1"
    assert xtext(data, "AirSyncBase:Body/AirSyncBase:Data").replace(
        "\r\n", "\n").rstrip("\n") == text
    cats = [e.text for e in xall(data, "Notes:Categories/Notes:Category")]
    assert sorted(cats) == sorted(categories), cats
    # nothing of the mail class
    assert xfind(data, "Email:Subject") is None
    assert xfind(data, "Email:DateReceived") is None


def test_notes_folders_by_version(dc):
    c14 = setup(dc, "ntype14", version="14.1")
    h = hierarchy(c14)
    assert h["Notes"][1] == T_NOTES, h
    assert h["Other notes"][1] == T_USER_NOTES, h
    assert h["Ideas"][1] == T_USER_NOTES, h
    # the calendar folder is the Calendar class's (test_calendar.py)
    assert h["Calendar"][1] == 8, h
    assert h["Archive"][1] == T_USER_MAIL, h

    # 12.1 has no Notes class: the same folders are mail folders
    c12 = dc.eas_client(c14.user, c14.password, device_id="NTYPE12DEV",
                        device_type="E2ETest", version="12.1")
    h12 = hierarchy(c12)
    for name in ("Notes", "Ideas", "Other notes"):
        assert h12[name][1] == T_USER_MAIL, h12
    assert h12["Calendar"][1] == 8, h12
    r = sync(c12, h12["Notes"][0], "0", cls="Email").ok()
    r = sync(c12, h12["Notes"][0], r.key, cls="Email",
             options=body_pref(1)).ok()
    assert sorted(xtext(a, "ApplicationData/Email:Subject")
                  for a in r.adds) == ["Old note", "Shopping"], r.resp

    # typed later: the next FolderSync updates the folder's type
    h = hierarchy(c14)
    r = c14.foldersync()
    key = xtext(r, "FolderSync/SyncKey")
    set_folder_type(dc, c14, "Archive", "note")
    r = c14.foldersync(sync_key=key)
    ups = {xtext(u, "ServerId"): int(xtext(u, "Type"))
           for u in xall(r, "Changes/Update")}
    assert ups == {h["Archive"][0]: T_USER_NOTES}, r


def check_notes_sync(dc, version):
    tag = "nsync" + version.replace(".", "")
    c = setup(dc, tag, version=version)
    h = hierarchy(c)
    notes = h["Notes"][0]
    # FilterType 1 (one day) and a mail age limit don't apply to notes
    opts = "<FilterType>1</FilterType>" + body_pref(1)
    r = notes_start(c, notes, options=opts)
    adds = by_subject(r.adds)
    assert set(adds) == {"Old note", "Shopping"}, r.resp
    check_note(adds["Old note"], "Old note", "From 2001.",
               ["Work", "Home Stuff"])
    check_note(adds["Shopping"], "Shopping", "Milk\nCaf\u00e9 beans", [])
    old_id = xtext(adds["Old note"], "ServerId")
    shop_id = xtext(adds["Shopping"], "ServerId")

    # GetItemEstimate knows a notes folder
    r0 = note_sync(c, notes, r.key).ok()
    assert not r0.adds and not r0.changes, r0.resp

    # the device adds a note
    add_xml = ("<Add><ClientId>n1</ClientId><ApplicationData>"
               "<notes:Subject>Trip \u00e9t\u00e9</notes:Subject>"
               "<airsyncbase:Body><airsyncbase:Type>1</airsyncbase:Type>"
               "<airsyncbase:Data>Passport\nTickets</airsyncbase:Data>"
               "</airsyncbase:Body>"
               "<notes:Categories><notes:Category>Travel plans"
               "</notes:Category></notes:Categories>"
               "<notes:MessageClass>IPM.StickyNote</notes:MessageClass>"
               "</ApplicationData></Add>")
    ra = notes_cmd(c, notes, r0.key, add_xml)
    resp = xfind(ra.coll, "Responses/Add")
    assert xtext(resp, "ClientId") == "n1" and \
        xtext(resp, "Status") == "1", ra.resp
    new_id = xtext(resp, "ServerId")
    assert new_id.startswith(notes + ":"), ra.resp
    assert not ra.adds, ra.resp
    stored = imap_notes(dc, c, "Notes")
    subj = "Trip \u00e9t\u00e9"
    assert set(stored) == {"Old note", "Shopping", subj}, stored
    uid, flags, body = stored[subj]
    assert "$Cat:Travel=20plans" in flags.split(), flags
    assert b"Passport" in body and b"Tickets" in body, body
    # a repeated Add with the same ClientId saves nothing new
    ra2 = notes_cmd(c, notes, r0.key, add_xml)
    resp2 = xfind(ra2.coll, "Responses/Add")
    assert xtext(resp2, "ServerId") == new_id, ra2.resp
    assert len(imap_notes(dc, c, "Notes")) == 3

    # the device edits "Shopping": the message is replaced in IMAP (a new
    # UID), the device keeps its ServerId and gets nothing back for it
    old_uid = imap_notes(dc, c, "Notes")["Shopping"][0]
    rc = notes_cmd(c, notes, ra2.key, (
        "<Change><ServerId>%s</ServerId><ApplicationData>"
        "<notes:Subject>Shopping</notes:Subject>"
        "<airsyncbase:Body><airsyncbase:Type>1</airsyncbase:Type>"
        "<airsyncbase:Data>Milk\nBread</airsyncbase:Data>"
        "</airsyncbase:Body></ApplicationData></Change>" % shop_id))
    assert xfind(rc.coll, "Responses/Change") is None, rc.resp
    assert not rc.deletes and not rc.adds and not rc.changes, rc.resp
    stored = imap_notes(dc, c, "Notes")
    assert len(stored) == 3 and b"Bread" in stored["Shopping"][2], stored
    assert stored["Shopping"][0] != old_uid, stored
    # the next Sync has nothing for it either
    rn = note_sync(c, notes, rc.key).ok()
    assert not rn.deletes and not rn.adds and not rn.changes, rn.resp
    rc = rn
    # ItemOperations Fetch by the ServerId the device kept: the new text
    r = itemops(c, fetch_item_xml(notes, shop_id, body_pref(1)))
    fetch = ok_top(r)[0]
    assert xtext(fetch, "Status") == "1", r
    assert "Bread" in xtext(fetch, "Properties/AirSyncBase:Body/"
                            "AirSyncBase:Data"), r

    # a category set over IMAP reaches the device as a whole note
    imap = imap_session(dc, c, "Notes")
    try:
        assert imap.uid("STORE", str(stored["Shopping"][0]), "+FLAGS",
                        "(Errands)")[0] == "OK"
    finally:
        imap.logout()
    rs = note_sync(c, notes, rc.key).ok()
    assert len(rs.changes) == 1 and not rs.adds, rs.resp
    assert xtext(rs.changes[0], "ServerId") == shop_id
    check_note(rs.changes[0], "Shopping", "Milk\nBread", ["Errands"])

    # a note Body of another type than text or HTML: Status 6, no note
    rb = notes_cmd(c, notes, rs.key, (
        "<Add><ClientId>n2</ClientId><ApplicationData>"
        "<notes:Subject>Bad</notes:Subject><airsyncbase:Body>"
        "<airsyncbase:Type>4</airsyncbase:Type><airsyncbase:Data>x"
        "</airsyncbase:Data></airsyncbase:Body></ApplicationData></Add>"))
    assert xtext(rb.coll, "Responses/Add/Status") == "6", rb.resp
    assert len(imap_notes(dc, c, "Notes")) == 3

    # the device deletes the old note: expunged
    rd = notes_cmd(c, notes, rb.key,
                   "<Delete><ServerId>%s</ServerId></Delete>" % old_id,
                   deletes_as_moves=0)
    assert xfind(rd.coll, "Responses") is None, rd.resp
    assert "Old note" not in imap_notes(dc, c, "Notes")

    # the notes the device wrote carry an identifier, as Apple Notes
    # writes it; an edit keeps it
    stored = imap_notes(dc, c, "Notes")
    shop_note_uid = imap_note_uid(dc, c, "Notes", stored["Shopping"][0])
    assert re.fullmatch(r"[0-9A-F]{8}(-[0-9A-F]{4}){3}-[0-9A-F]{12}",
                        shop_note_uid or ""), shop_note_uid
    assert imap_note_uid(dc, c, "Notes", stored[subj][0]) != shop_note_uid

    # over IMAP: another client deletes the device's note, replaces
    # "Shopping" by a new version with the same identifier (append the
    # new, expunge the old) and saves a note without one twice
    imap = imap_session(dc, c, "Notes")
    try:
        assert imap.append("Notes", None, None, note_message(
            "Shopping", "Milk\r\nBread\r\nEggs",
            note_uid=shop_note_uid))[0] == "OK"
        assert imap.append("Notes", None, None, note_message(
            "Plain", "No identifier"))[0] == "OK"
        uids = "%d,%d" % (stored[subj][0], stored["Shopping"][0])
        assert imap.uid("STORE", uids, "+FLAGS", "(\\Deleted)")[0] == "OK"
        assert imap.expunge()[0] == "OK"
    finally:
        imap.logout()
    ri = note_sync(c, notes, rd.key).ok()
    # the replaced note is a Change under the ServerId the device has
    assert ri.deletes == [new_id], ri.resp
    assert [xtext(x, "ServerId") for x in ri.changes] == [shop_id], ri.resp
    check_note(ri.changes[0], "Shopping", "Milk\nBread\nEggs", [])
    assert len(ri.adds) == 1, ri.resp
    check_note(ri.adds[0], "Plain", "No identifier", [])
    # a note without an identifier replaced over IMAP: Delete and Add
    plain_id = xtext(ri.adds[0], "ServerId")
    plain_uid = imap_notes(dc, c, "Notes")["Plain"][0]
    imap = imap_session(dc, c, "Notes")
    try:
        assert imap.append("Notes", None, None, note_message(
            "Plain", "Still no identifier"))[0] == "OK"
        assert imap.uid("STORE", str(plain_uid), "+FLAGS",
                        "(\\Deleted)")[0] == "OK"
        assert imap.expunge()[0] == "OK"
    finally:
        imap.logout()
    rp = note_sync(c, notes, ri.key).ok()
    assert rp.deletes == [plain_id] and len(rp.adds) == 1, rp.resp
    assert not rp.changes, rp.resp
    return c, h


def notes_cmd(c, coll, key, commands, **kw):
    return note_sync(c, coll, key, commands=commands, **kw).ok()


def test_notes_sync_14_1(dc):
    check_notes_sync(dc, "14.1")


def test_notes_sync_16_1(dc):
    check_notes_sync(dc, "16.1")


def test_estimate_of_notes_folder(dc):
    c = setup(dc, "nest")
    notes = hierarchy(c)["Notes"][0]
    r = note_sync(c, notes, "0").ok()
    g = c.request_provisioned(
        "GetItemEstimate",
        '<GetItemEstimate xmlns="GetItemEstimate:" xmlns:airsync="AirSync:">'
        '<Collections><Collection><airsync:SyncKey>%s</airsync:SyncKey>'
        '<CollectionId>%s</CollectionId><airsync:Options>'
        '<airsync:FilterType>1</airsync:FilterType></airsync:Options>'
        '</Collection></Collections></GetItemEstimate>' % (r.key, notes))
    assert xtext(g, "Response/Status") == "1", g
    # the 2001 note counts: FilterType doesn't apply to notes
    assert xtext(g, "Response/Collection/Estimate") == "2", g


def test_moveitems_across_classes(dc):
    for version in ("14.1", "16.1"):
        c = setup(dc, "nmove" + version.replace(".", ""), version=version)
        dc.deliver(c.user, sample_message("A mail", "Body\n", to=c.user))
        h = hierarchy(c)
        inbox = folders(c)[T_INBOX]
        notes, ideas = h["Notes"][0], h["Ideas"][0]
        ri = start(c, inbox, options=body_pref(1))
        mail_id = ri.add_ids()[0]
        rn = notes_start(c, notes, options=body_pref(1))
        note_id = xtext(by_subject(rn.adds)["Shopping"], "ServerId")
        before = (imap_notes(dc, c, "INBOX"), imap_notes(dc, c, "Notes"),
                  imap_notes(dc, c, "Ideas"))

        mark = dc.log_offset()
        r, res = move_items(c, [(mail_id, inbox, notes),
                                (note_id, notes, inbox)])
        assert [s for _, s, _ in res] == ["5", "5"], r
        assert all(d is None for _, _, d in res), r
        dc.wait_for_log_text(mark, "is of another class", 2)
        assert (imap_notes(dc, c, "INBOX"), imap_notes(dc, c, "Notes"),
                imap_notes(dc, c, "Ideas")) == before

        # between two notes folders it is a move
        r, res = move_items(c, [(note_id, notes, ideas)])
        assert res[0][1] == "3" and res[0][2].startswith(ideas + ":"), r
        assert "Shopping" in imap_notes(dc, c, "Ideas")
        assert "Shopping" not in imap_notes(dc, c, "Notes")
        rn2 = note_sync(c, notes, rn.key).ok()
        assert rn2.deletes == [] and not rn2.adds, rn2.resp


def test_itemops_move_to_notes_folder(dc):
    c = setup(dc, "nitemops")
    dc.deliver(c.user, sample_message("Thread start", "Body\n", to=c.user))
    h = hierarchy(c)
    inbox = folders(c)[T_INBOX]
    ri = start(c, inbox, options=body_pref(1))
    conv = xtext(ri.adds[0], "ApplicationData/Email2:ConversationId")
    assert conv, ri.resp
    mark = dc.log_offset()
    r = itemops(c, "<Move><ConversationId>%s</ConversationId>"
                "<DstFldId>%s</DstFldId></Move>"
                % (conv, h["Notes"][0]))
    assert xtext(ok_top(r)[0], "Status") == "156", r
    dc.wait_for_log_text(mark, "which is not a mail folder")
    assert "Thread start" in imap_notes(dc, c, "INBOX")
    assert set(imap_notes(dc, c, "Notes")) == {"Old note", "Shopping"}


def folder_create(c, key, name, ftype):
    return c.request_provisioned(
        "FolderCreate",
        '<FolderCreate xmlns="FolderHierarchy:"><SyncKey>%s</SyncKey>'
        '<ParentId>0</ParentId><DisplayName>%s</DisplayName>'
        '<Type>%d</Type></FolderCreate>' % (key, xml_escape(name), ftype))


def test_foldercreate_notes_folder(dc):
    c = new_account(dc, "ncreate", version="14.1")
    r = c.foldersync()
    key = xtext(r, "FolderSync/SyncKey")
    r = folder_create(c, key, "Jottings", T_USER_NOTES)
    assert xtext(r, "FolderCreate/Status") == "1", r
    sid = xtext(r, "FolderCreate/ServerId")
    out = dc.doveadm("mailbox", "metadata", "get", "-u", c.user,
                     "Jottings", KOLAB_KEY)
    assert out.strip() == "note", out
    h = hierarchy(c)
    assert h["Jottings"] == (sid, T_USER_NOTES), h

    # 12.1: no Notes class, so no notes folder; nothing is created
    c12 = dc.eas_client(c.user, c.password, device_id="NCREATE12",
                        device_type="E2ETest", version="12.1")
    r = c12.foldersync()
    key12 = xtext(r, "FolderSync/SyncKey")
    mark = dc.log_offset()
    r = folder_create(c12, key12, "Old jottings", T_USER_NOTES)
    assert xtext(r, "FolderCreate/Status") == "10", r
    dc.wait_for_log_text(mark, "folder type 17 can't be created")
    assert "Old jottings" not in hierarchy(c)


def test_fetch_and_search_notes(dc):
    """ItemOperations Fetch and Search serve notes through the item class:
    Class Notes, the Notes: elements, nothing of the mail class."""
    for version in ("14.1", "16.1"):
        c = setup(dc, "nfetch" + version.replace(".", ""), version=version)
        h = hierarchy(c)
        notes = h["Notes"][0]
        rn = notes_start(c, notes, options=body_pref(1))
        shop_id = xtext(by_subject(rn.adds)["Shopping"], "ServerId")

        r = itemops(c, fetch_item_xml(notes, shop_id, body_pref(1)))
        fetch = ok_top(r)[0]
        assert xtext(fetch, "Status") == "1", r
        assert xtext(fetch, "AirSync:Class") == "Notes", r
        props = xfind(fetch, "Properties")
        assert xtext(props, "Notes:Subject") == "Shopping", r
        assert xtext(props, "Notes:MessageClass") == "IPM.StickyNote", r
        assert "Caf\u00e9 beans" in xtext(
            props, "AirSyncBase:Body/AirSyncBase:Data"), r
        assert xfind(props, "Email:Subject") is None, r

        # an unknown note of the folder: Status 6, as for mail
        r = itemops(c, fetch_item_xml(notes, notes + ":99999",
                                      body_pref(1)))
        assert xtext(ok_top(r)[0], "Status") == "6", r
        assert xfind(ok_top(r)[0], "Properties") is None, r

        r = search(c, "<And><airsync:CollectionId>%s</airsync:CollectionId>"
                   "<FreeText>beans</FreeText></And>" % notes,
                   options="<RebuildResults/><Range>0-9</Range>"
                   + body_pref(1))
        assert store_status(r) == "1", r
        results = [res for res in xall(r, "Response/Store/Result")
                   if xfind(res, "Properties") is not None]
        assert len(results) == 1, r
        assert xtext(results[0], "AirSync:Class") == "Notes", r
        assert xtext(results[0], "AirSync:CollectionId") == notes, r
        assert xtext(results[0], "Properties/Notes:Subject") == \
            "Shopping", r
