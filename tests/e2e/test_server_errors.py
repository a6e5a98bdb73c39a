"""Server-side failures from real faults (MS-ASCMD status codes).

No hooks in the server: each fault is one an administrator can meet.
The mail processes run as an unprivileged user (harness.py), so taking
permissions away from a user's maildir makes Dovecot's own calls fail
with EACCES while the test (root, or the owner) can restore them.

  Sync 5           the folder's message directories (cur/, new/)
                   unreadable: Dovecot can't sync the folder
  Ping 8           the user's mail root unreadable: the folders can't
                   be looked up
  ItemOperations 3 the same, for a Fetch
  MoveItems 7      another process holds the destination's
                   dovecot-uidlist.lock (mail_max_lock_timeout here is
                   2 s): the move times out waiting for the lock

Every test checks that nothing changed while the fault lasted (no
client change applied, no SyncKey advanced, no mail moved) and that
the same request succeeds once the fault is gone."""

import os
import socket
import stat

from harness import fetch_item_xml, folders, imap_flags, imap_session, \
    imap_subjects, itemops, move_items, new_account, ping, sample_message, \
    start, sync_request, T_INBOX, uid_of, xall, xfind, xrequire, xtext
from test_moveitems import setup as move_setup

INSTANCE = dict(activesync=True,
                # a held lock fails a request after 2 s, not minutes
                extra_conf="mail_max_lock_timeout = 2 secs")


def _maildir(dc, c, folder=None):
    root = os.path.join(dc.home_root, c.user, "Maildir")
    return root if folder is None else os.path.join(root, "." + folder)


class Chmod:
    """Take permissions away from paths; put them back on exit."""

    def __init__(self, paths, mode):
        self.modes = {p: stat.S_IMODE(os.stat(p).st_mode) for p in paths}
        self.mode = mode

    def __enter__(self):
        for p in self.modes:
            os.chmod(p, self.mode)
        return self

    def __exit__(self, *exc):
        for p, m in self.modes.items():
            os.chmod(p, m)


def _synced_inbox(dc, tag, version="14.1"):
    """Account with one mail in INBOX, synced: (client, inbox id,
    SyncKey, ServerId of the mail)."""
    c = new_account(dc, tag, version=version)
    dc.deliver(c.user, sample_message("first", "first body\n", to=c.user))
    inbox = folders(c)[T_INBOX]
    r = start(c, inbox)
    assert len(r.adds) == 1, r.resp
    return c, inbox, r.key, xtext(r.adds[0], "ServerId")


def _read_change(server_id):
    return ("<Change><ServerId>%s</ServerId><ApplicationData>"
            "<email:Read>1</email:Read></ApplicationData></Change>"
            % server_id)


def test_sync_server_error_5(dc):
    for version in ("14.1", "16.1"):
        c, inbox, key, sid = _synced_inbox(
            dc, "err5-" + version.replace(".", ""), version)
        dc.deliver(c.user, sample_message("second", to=c.user))
        md = _maildir(dc, c)
        mark = dc.log_offset()
        # new mail and a client change: the folder has to be opened and
        # synced, which needs cur/ and new/
        with Chmod([os.path.join(md, "cur"), os.path.join(md, "new")], 0):
            r = sync_request(c, inbox, key, get_changes=1,
                             commands=_read_change(sid))
        assert r.status == 200, r
        coll = xfind(r, "Collections/Collection")
        assert xrequire(coll, "Status") == "5", r
        # the device keeps its SyncKey and gets nothing
        assert xtext(coll, "SyncKey") in (None, key), r
        assert xfind(coll, "Commands") is None, r
        assert xfind(coll, "Responses") is None, r
        dc.wait_for_log_text(mark, "Sync of INBOX failed")
        assert "Permission denied" in dc.log_since(mark)
        # the Read change was not applied
        assert "\\Seen" not in imap_flags(dc, c, uid_of(sid)), version

        # the device repeats the same request once the fault is gone
        r = sync_request(c, inbox, key, get_changes=1,
                         commands=_read_change(sid))
        coll = xfind(r, "Collections/Collection")
        assert xrequire(coll, "Status") == "1", r
        assert int(xrequire(coll, "SyncKey")) == int(key) + 1, r
        adds = [xtext(a, "ApplicationData/Email:Subject")
                for a in xall(coll, "Commands/Add")]
        assert adds == ["second"], r
        assert "\\Seen" in imap_flags(dc, c, uid_of(sid)), version


def test_ping_server_error_8(dc):
    c, inbox, key, _ = _synced_inbox(dc, "err8")
    mark = dc.log_offset()
    # the whole mail root unreadable: the folder can't be looked up
    with Chmod([_maildir(dc, c)], 0):
        r = ping(c, 60, [(inbox, "Email")], timeout=30)
    assert r.status == 200, r
    assert xrequire(r, "Ping/Status") == "8", r
    assert xfind(r, "Ping/Folders") is None, r
    dc.wait_for_log(r"Error: .*Ping: .*Permission denied", since=mark)

    # readable again: the Ping works (new mail: Status 2 at once)
    dc.deliver(c.user, sample_message("wake", to=c.user))
    r = ping(c, 60, [(inbox, "Email")], timeout=30)
    assert xrequire(r, "Ping/Status") == "2", r
    assert [xtext(f, ".") for f in xall(r, "Ping/Folders/Folder")] == \
        [inbox], r


def test_itemoperations_server_error_3(dc):
    for version in ("14.1", "16.1"):
        c, inbox, key, sid = _synced_inbox(
            dc, "err3-" + version.replace(".", ""), version)
        mark = dc.log_offset()
        with Chmod([_maildir(dc, c)], 0):
            r = itemops(c, fetch_item_xml(inbox, sid))
        assert r.status == 200, r
        assert xrequire(r, "ItemOperations/Status") == "1", r
        fetch = xfind(r, "ItemOperations/Response/Fetch")
        assert xrequire(fetch, "Status") == "3", r
        assert xfind(fetch, "Properties") is None, r
        dc.wait_for_log(r"Error: .*ItemOperations: folder lookup %s "
                        r"failed: .*Permission denied" % inbox, since=mark)
        # nothing was marked read by the failed fetch
        assert "\\Seen" not in imap_flags(dc, c, uid_of(sid))

        r = itemops(c, fetch_item_xml(inbox, sid))
        fetch = xfind(r, "ItemOperations/Response/Fetch")
        assert xrequire(fetch, "Status") == "1", r
        assert xtext(fetch, "Properties/Email:Subject") == "first", r


# MS-ASCMD Status 7: "the source or destination item was locked".
# Dovecot reports a maildir lock timeout as MAIL_ERROR_TEMP with the text
# MAIL_ERRSTR_LOCK_TIMEOUT; the server maps that (and MAIL_ERROR_INUSE)
# to 7.
MOVE_STATUS_LOCKED = "7"


def test_moveitems_destination_locked(dc):
    c, f = move_setup(dc, "errlock", n=1)
    inbox, archive = f[T_INBOX], f["Archive"]
    r = start(c, inbox)
    sid = r.add_ids()[0]
    lock = os.path.join(_maildir(dc, c, "Archive"), "dovecot-uidlist.lock")
    mark = dc.log_offset()
    # a dotlock naming a live process on this host: Dovecot waits for it
    # (mail_max_lock_timeout) and gives up
    with open(lock, "w") as fh:
        fh.write("%d:%s\n" % (os.getpid(), socket.gethostname()))
    try:
        r, res = move_items(c, [(sid, inbox, archive)])
    finally:
        os.unlink(lock)
    assert res == [(sid, MOVE_STATUS_LOCKED, None)], r
    dc.wait_for_log(r"Error: .*MoveItems: .*Timeout while waiting for lock",
                    since=mark)
    # nothing moved, nothing copied
    assert imap_subjects(dc, c, "INBOX") == ["Mail 0"]
    assert imap_subjects(dc, c, "Archive") == []

    # lock released: the same move succeeds
    r, res = move_items(c, [(sid, inbox, archive)])
    assert res[0][1] == "3" and res[0][2], r
    assert imap_subjects(dc, c, "INBOX") == []
    assert imap_subjects(dc, c, "Archive") == ["Mail 0"]


# A folder Dovecot can only open read-only (no write permission): its
# expunges would never reach the disk, so nothing may be reported done.

def _archive_with_mail(dc, tag):
    c, f = move_setup(dc, tag, n=1)
    imap = imap_session(dc, c)
    try:
        assert imap.uid("COPY", "1", "Archive")[0] == "OK"
    finally:
        imap.logout()
    d = _maildir(dc, c, "Archive")
    return c, f["Archive"], [d] + [os.path.join(d, s)
                                   for s in ("cur", "new", "tmp")]


def test_sync_delete_in_read_only_folder_is_5(dc):
    for version in ("14.1", "16.1"):
        c, archive, paths = _archive_with_mail(
            dc, "errro" + version.replace(".", ""))
        r = start(c, archive)
        sid = r.add_ids()[0]
        delete = "<Delete><ServerId>%s</ServerId></Delete>" % sid
        mark = dc.log_offset()
        with Chmod(paths, 0o555):
            resp = sync_request(c, archive, r.key, commands=delete,
                                deletes_as_moves=0)
        coll = xfind(resp, "Collections/Collection")
        assert xrequire(coll, "Status") == "5", resp
        dc.wait_for_log(r"Error: .*Sync: the client's changes can't be "
                        r"applied: .*read-only", since=mark)
        assert imap_subjects(dc, c, "Archive") == ["Mail 0"]
        # writable again: the same request deletes it
        resp = sync_request(c, archive, r.key, commands=delete,
                            deletes_as_moves=0)
        assert xrequire(resp, "Collections/Collection/Status") == "1", resp
        assert imap_subjects(dc, c, "Archive") == []


def test_empty_read_only_folder_is_3(dc):
    c, archive, paths = _archive_with_mail(dc, "erremp")
    xml = ("<EmptyFolderContents><airsync:CollectionId>%s"
           "</airsync:CollectionId></EmptyFolderContents>" % archive)
    mark = dc.log_offset()
    with Chmod(paths, 0o555):
        r = itemops(c, xml)
    assert xtext(r, "ItemOperations/Response/EmptyFolderContents/Status") \
        == "3", r
    dc.wait_for_log(r"Error: .*ItemOperations: emptying .*read-only",
                    since=mark)
    assert imap_subjects(dc, c, "Archive") == ["Mail 0"]
    r = itemops(c, xml)
    assert xtext(r, "ItemOperations/Response/EmptyFolderContents/Status") \
        == "1", r
    assert imap_subjects(dc, c, "Archive") == []


def test_move_from_read_only_folder_is_5(dc):
    c, archive, paths = _archive_with_mail(dc, "errmvro")
    r = start(c, archive)
    sid = r.add_ids()[0]
    inbox = folders(c)[T_INBOX]
    before = imap_subjects(dc, c, "INBOX")
    with Chmod(paths, 0o555):
        r, res = move_items(c, [(sid, archive, inbox)])
    assert res[0][1] == "5" and res[0][2] is None, r
    # no copy made: the original could not be removed
    assert imap_subjects(dc, c, "INBOX") == before
    assert imap_subjects(dc, c, "Archive") == ["Mail 0"]
    r, res = move_items(c, [(sid, archive, inbox)])
    assert res[0][1] == "3", r
    assert imap_subjects(dc, c, "Archive") == []
