"""MoveItems (MS-ASCMD 2.2.1.12).

Mails are moved with Dovecot's own move: checked over IMAP (gone from
the source, in the destination with flags kept), the new ServerId from
the response is usable at once, and the following Syncs of both folders
neither send the moved mail again nor ask the device to delete the old
one.  Every status: invalid source, invalid destination, same folder, a
destination that can't take the mail, malformed requests."""

import os
import stat

from harness import body_pref, folders, imap_session, move_items, \
    new_account, sample_message, start, sync, T_INBOX, uid_of, xall, xtext

INSTANCE = dict(activesync=True)

T_DELETED = 4


def setup(dc, tag, version="14.1", n=3):
    c = new_account(dc, tag, version=version)
    for i in range(n):
        dc.deliver(c.user, sample_message("Mail %d" % i, "Body %d\n" % i,
                                          to=c.user))
    imap = imap_session(dc, c)
    try:
        assert imap.create("Archive")[0] == "OK"
        assert imap.create("Parent/Child")[0] == "OK"
    finally:
        imap.logout()
    f = folders(c)
    r = c.foldersync()
    names = {xtext(a, "DisplayName"): xtext(a, "ServerId")
             for a in xall(r, "Changes/Add")}
    f["Archive"] = names["Archive"]
    f["Parent"] = names["Parent"]
    f["Child"] = names["Child"]
    return c, f


def subjects(dc, c, mailbox):
    imap = imap_session(dc, c, mailbox)
    try:
        typ, data = imap.uid("FETCH", "1:*", "(UID FLAGS BODY.PEEK["
                             "HEADER.FIELDS (SUBJECT)])")
        out = {}
        for d in data:
            if isinstance(d, tuple):
                meta = d[0].decode()
                uid = int(meta.split("UID ")[1].split()[0])
                subj = d[1].decode().split(":", 1)[1].strip()
                out[subj] = (uid, meta)
        return out
    finally:
        imap.logout()


def check_move_and_sync(dc, version):
    c, f = setup(dc, "mv" + version.replace(".", ""), version=version)
    inbox, archive = f[T_INBOX], f["Archive"]
    ri = start(c, inbox, options=body_pref(1))
    ids = {xtext(a, "ApplicationData/Email:Subject"): xtext(a, "ServerId")
           for a in ri.adds}
    ra = start(c, archive, options=body_pref(1))
    assert not ra.adds, ra.resp
    # a flag, to see that the move keeps it
    imap = imap_session(dc, c)
    try:
        assert imap.uid("STORE", str(uid_of(ids["Mail 0"])), "+FLAGS",
                        "(\\Flagged)")[0] == "OK"
    finally:
        imap.logout()
    ri = sync(c, inbox, ri.key).ok()       # the device learns the flag

    r, res = move_items(c, [(ids["Mail 0"], inbox, archive),
                            (ids["Mail 1"], inbox, archive)])
    assert [s for _, s, _ in res] == ["3", "3"], r
    assert [m for m, _, _ in res] == [ids["Mail 0"], ids["Mail 1"]]
    new_ids = [d for _, _, d in res]
    assert all(d.startswith(archive + ":") for d in new_ids), new_ids
    assert len(set(new_ids)) == 2

    # the mailboxes: moved, flags kept, UIDs as answered
    inbox_now = subjects(dc, c, "INBOX")
    arch_now = subjects(dc, c, "Archive")
    assert set(inbox_now) == {"Mail 2"}, inbox_now
    assert set(arch_now) == {"Mail 0", "Mail 1"}, arch_now
    assert "\\Flagged" in arch_now["Mail 0"][1], arch_now
    assert sorted(uid_of(d) for d in new_ids) == \
        sorted(u for u, _ in arch_now.values())
    assert uid_of(new_ids[0]) == arch_now["Mail 0"][0]

    # the next Syncs don't send the moved mails again: no Add in the
    # destination, no Delete in the source
    ri = sync(c, inbox, ri.key).ok()
    assert not ri.deletes and not ri.adds, ri.resp
    ra = sync(c, archive, ra.key).ok()
    assert not ra.adds and not ra.deletes, ra.resp
    # (a Change is allowed: the move raised the folder's modseq)
    for ch in ra.changes:
        assert xtext(ch, "ServerId") in new_ids, ra.resp

    # the new ServerId works: fetch it, delete it through Sync
    r = c.request_provisioned(
        "ItemOperations", '<ItemOperations xmlns="ItemOperations:" '
        'xmlns:airsync="AirSync:"><Fetch><Store>Mailbox</Store>'
        '<airsync:CollectionId>%s</airsync:CollectionId>'
        '<airsync:ServerId>%s</airsync:ServerId></Fetch></ItemOperations>'
        % (archive, new_ids[1]))
    assert xtext(r, "Response/Fetch/Status") == "1", r
    assert xtext(r, "Response/Fetch/Properties/Email:Subject") == "Mail 1"
    ra = sync(c, archive, ra.key, deletes_as_moves=0,
              commands="<Delete><ServerId>%s</ServerId></Delete>"
              % new_ids[1]).ok()
    assert set(subjects(dc, c, "Archive")) == {"Mail 0"}

    # and back again
    r, res = move_items(c, [(new_ids[0], archive, inbox)])
    assert res[0][1] == "3", r
    assert set(subjects(dc, c, "INBOX")) == {"Mail 0", "Mail 2"}
    ri = sync(c, inbox, ri.key).ok()
    assert not ri.adds and not ri.deletes, ri.resp
    ra = sync(c, archive, ra.key).ok()
    assert not ra.adds and not ra.deletes, ra.resp

    # a device that never synced the destination: it starts from 0 and
    # gets the mail there as usual
    trash = f[T_DELETED]
    r, res = move_items(c, [(ids["Mail 2"], inbox, trash)])
    assert res[0][1] == "3", r
    rt = start(c, trash, options=body_pref(1))
    assert [xtext(a, "ServerId") for a in rt.adds] == [res[0][2]], rt.resp


def test_move_14_1(dc):
    check_move_and_sync(dc, "14.1")


def test_move_16_1(dc):
    check_move_and_sync(dc, "16.1")


def test_move_12_1(dc):
    c, f = setup(dc, "mv121", version="12.1", n=1)
    inbox = f[T_INBOX]
    r = sync(c, inbox, "0", cls="Email").ok()
    r = sync(c, inbox, r.key, cls="Email").ok()
    sid = r.add_ids()[0]
    r, res = move_items(c, [(sid, inbox, f["Archive"])])
    assert res[0][1] == "3" and res[0][2].startswith(f["Archive"] + ":"), r


def test_statuses(dc):
    for version in ("14.1", "16.1"):
        c, f = setup(dc, "mvst" + version.replace(".", ""), version=version,
                     n=2)
        inbox, archive = f[T_INBOX], f["Archive"]
        r = start(c, inbox, options=body_pref(1))
        sid = r.add_ids()[0]
        uid = uid_of(sid)
        before = (subjects(dc, c, "INBOX"), subjects(dc, c, "Archive"))
        cases = [
            # unknown source folder, unknown UID, malformed ids
            (("9999:1", "9999", archive), "1"),
            (("%s:%d" % (inbox, uid + 100), inbox, archive), "1"),
            (("garbage", inbox, archive), "1"),
            (("%s:%d" % (archive, uid), inbox, archive), "1"),
            # unknown destination, a \NoSelect parent as destination
            ((sid, inbox, "9999"), "2"),
            ((sid, inbox, f["Parent"]), "2"),
            # the same folder
            ((sid, inbox, inbox), "4"),
        ]
        mark = dc.log_offset()
        r, res = move_items(c, [m for m, _ in cases])
        assert [s for _, s, _ in res] == [s for _, s in cases], r
        assert all(d is None for _, _, d in res), r
        assert [m for m, _, _ in res] == [m[0] for m, _ in cases]
        assert (subjects(dc, c, "INBOX"), subjects(dc, c, "Archive")) == \
            before
        dc.wait_for_log_text(mark, "MoveItems: invalid source", 3)
        dc.wait_for_log_text(mark, "not in INBOX")
        dc.wait_for_log_text(mark, "MoveItems: invalid destination folder", 2)
        dc.wait_for_log_text(mark, "source and destination are the same folder")

        # a good and a bad one together: the good one is done
        r, res = move_items(c, [(sid, inbox, archive),
                                ("%s:%d" % (inbox, uid), inbox, archive)])
        assert [s for _, s, _ in res] == ["3", "1"], r
        # moved already: the second time the source is invalid
        r, res = move_items(c, [(sid, inbox, archive)])
        assert res[0][1] == "1", r


def _mailbox_dir(dc, c, name):
    return os.path.join(dc.home_root, c.user, "Maildir", "." + name)


def test_destination_failure(dc):
    """A destination the mail can't be written to: Status 5, logged, the
    mail stays where it was."""
    c, f = setup(dc, "mvfail", n=1)
    inbox, archive = f[T_INBOX], f["Archive"]
    r = start(c, inbox, options=body_pref(1))
    sid = r.add_ids()[0]
    d = _mailbox_dir(dc, c, "Archive")
    assert os.path.isdir(d), d
    dirs = [d] + [os.path.join(d, s) for s in ("cur", "new", "tmp")]
    modes = {p: stat.S_IMODE(os.stat(p).st_mode) for p in dirs}
    mark = dc.log_offset()
    try:
        for p in dirs:
            os.chmod(p, 0o555)
        r, res = move_items(c, [(sid, inbox, archive)])
    finally:
        for p, m in modes.items():
            os.chmod(p, m)
    assert res[0][1] == "5" and res[0][2] is None, r
    dc.wait_for_log_text(mark, "MoveItems: ")
    assert set(subjects(dc, c, "INBOX")) == {"Mail 0"}
    assert subjects(dc, c, "Archive") == {}
    # and once it is writable again, it works
    r, res = move_items(c, [(sid, inbox, archive)])
    assert res[0][1] == "3", r


def test_malformed(dc):
    for version in ("12.1", "14.1"):
        c, f = setup(dc, "mvbad" + version.replace(".", ""),
                     version=version, n=1)
        inbox, archive = f[T_INBOX], f["Archive"]
        r = sync(c, inbox, "0", cls="Email").ok()
        r = sync(c, inbox, r.key, cls="Email").ok()
        sid = r.add_ids()[0]
        good = ("<Move><SrcMsgId>%s</SrcMsgId><SrcFldId>%s</SrcFldId>"
                "<DstFldId>%s</DstFldId></Move>" % (sid, inbox, archive))
        bad = [
            "<Move><SrcMsgId>%s</SrcMsgId><SrcFldId>%s</SrcFldId></Move>"
            % (sid, inbox),
            "<Move><SrcFldId>%s</SrcFldId><DstFldId>%s</DstFldId></Move>"
            % (inbox, archive),
            "<Response/>",
            "",
        ]
        for xml in bad:
            mark = dc.log_offset()
            r = c.request_provisioned(
                "MoveItems", '<MoveItems xmlns="Move:">%s%s</MoveItems>'
                % (good if xml else "", xml))
            if version < "14.0":
                assert r.status == 400, r
            else:
                assert r.status == 200, r
                assert xtext(r, "MoveItems/Status") == "103", r
                assert xall(r, "MoveItems/Response") == [], r
            dc.wait_for_log_text(mark, "MoveItems: malformed request")
            # nothing was moved, not even the good one
            assert set(subjects(dc, c, "INBOX")) == {"Mail 0"}
