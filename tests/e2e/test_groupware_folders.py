"""Default groupware folders are created on a device's first FolderSync,
for the classes its protocol version syncs natively, and typed by the
folder-type METADATA ("note.default", ...), so IMAP groupware clients
see the same folders.  Names come from activesync_notes_folder & co.,
per user from userdb (a localised name) or turned off with "".  A folder
of the name that exists untyped and empty is adopted; one holding mail
is left a mail folder (logged); a user who has a default folder of the
class under any name gets no second one.  The default folder can't be
deleted or renamed from the device."""

from harness import imap_session, KOLAB_KEY, new_account, sample_message, \
    set_folder_type, xall, xtext

INSTANCE = dict(activesync=True)

T_NOTES, T_USER_MAIL = 10, 12
_serial = [0]


def folders(c, with_key=False):
    """FolderSync 0: {DisplayName: (ServerId, Type)} (and the SyncKey)"""
    r = c.foldersync()
    assert r.status == 200 and xtext(r, "FolderSync/Status") == "1", r
    got = {xtext(a, "DisplayName"): (xtext(a, "ServerId"),
                                      int(xtext(a, "Type")))
            for a in xall(r, "Changes/Add")}
    return (got, xtext(r, "FolderSync/SyncKey")) if with_key else got


def folder_type(dc, c, mailbox):
    """The folder-type METADATA as doveadm reads it ("" if none)."""
    return dc.doveadm("mailbox", "metadata", "get", "-u", c.user, mailbox,
                      KOLAB_KEY).strip()


def imap_create(dc, c, *names, mail_in=None):
    imap = imap_session(dc, c)
    try:
        for name in names:
            assert imap.create('"%s"' % name)[0] == "OK"
        if mail_in is not None:
            assert imap.append(mail_in, None, None, sample_message(
                "kept as mail", to=c.user))[0] == "OK"
    finally:
        imap.logout()


def test_notes_folder_created_for_14_1(dc):
    c = new_account(dc, "gwf141")
    mark = dc.log_offset()
    got = folders(c)
    assert got["Notes"][1] == T_NOTES, got
    assert "Created the missing note.default folder Notes" in \
        dc.log_since(mark)
    assert folder_type(dc, c, "Notes") == "note.default"
    # subscribed, for IMAP clients
    imap = imap_session(dc, c)
    try:
        typ, data = imap.lsub('""', "*")
        assert typ == "OK"
        assert any(line.decode().endswith('Notes') or
                   line.decode().endswith('"Notes"') for line in data), data
    finally:
        imap.logout()
    # a second FolderSync 0 (another device, a resync) creates nothing
    mark = dc.log_offset()
    assert folders(c) == got
    assert "Created the missing" not in dc.log_since(mark)


def test_no_notes_folder_for_12_1(dc):
    """Notes are a 14.0 class: a 12.1 device gets no Notes folder."""
    c = new_account(dc, "gwf121", version="12.1")
    got = folders(c)
    assert "Notes" not in got, got
    assert all(t != T_NOTES for _, t in got.values()), got


def test_existing_default_under_other_name(dc):
    c = new_account(dc, "gwfother")
    imap_create(dc, c, "Meine Notizen")
    set_folder_type(dc, c, "Meine Notizen", "note.default")
    got = folders(c)
    assert got["Meine Notizen"][1] == T_NOTES, got
    assert "Notes" not in got, got


def test_empty_untyped_folder_is_adopted(dc):
    c = new_account(dc, "gwfadopt")
    imap_create(dc, c, "Notes")
    mark = dc.log_offset()
    got = folders(c)
    assert got["Notes"][1] == T_NOTES, got
    assert "Folder Notes is now the note.default folder" in \
        dc.log_since(mark)
    assert folder_type(dc, c, "Notes") == "note.default"


def test_folder_with_mail_is_left_alone(dc):
    c = new_account(dc, "gwfmail")
    imap_create(dc, c, "Notes", mail_in="Notes")
    mark = dc.log_offset()
    got = folders(c)
    assert got["Notes"][1] == T_USER_MAIL, got
    assert "Folder Notes holds mail: not made the note.default folder" \
        in dc.log_since(mark)
    assert folder_type(dc, c, "Notes") == ""


def test_localised_name_from_userdb(dc):
    _serial[0] += 1
    user = "gwf-de-%d@example.test" % _serial[0]
    dc.add_user(user, "pw", {"activesync_notes_folder": "Notizen"})
    c = dc.eas_client(user, "pw", device_id="GWFDE%d" % _serial[0],
                      device_type="E2ETest", version="16.1")
    got = folders(c)
    assert got["Notizen"][1] == T_NOTES, got
    assert "Notes" not in got, got


def test_turned_off_per_user(dc):
    """"no" turns it off (a userdb field can't be empty: Dovecot reads
    an empty one as "yes")."""
    _serial[0] += 1
    user = "gwf-off-%d@example.test" % _serial[0]
    dc.add_user(user, "pw", {"activesync_notes_folder": "no"})
    c = dc.eas_client(user, "pw", device_id="GWFOFF%d" % _serial[0],
                      device_type="E2ETest", version="14.1")
    got = folders(c)
    assert all(t != T_NOTES for _, t in got.values()), got
    assert "no" not in got, got


def test_default_folder_cannot_be_deleted_or_renamed(dc):
    c = new_account(dc, "gwfdel")
    got, key = folders(c, with_key=True)
    sid = got["Notes"][0]
    r = c.request("FolderDelete", (
        '<FolderDelete xmlns="FolderHierarchy:">'
        '<SyncKey>%s</SyncKey><ServerId>%s</ServerId></FolderDelete>'
        % (key, sid)))
    assert xtext(r, "FolderDelete/Status") == "3", r
    r = c.request("FolderUpdate", (
        '<FolderUpdate xmlns="FolderHierarchy:">'
        '<SyncKey>%s</SyncKey><ServerId>%s</ServerId><ParentId>0'
        '</ParentId><DisplayName>Renamed</DisplayName></FolderUpdate>'
        % (key, sid)))
    assert xtext(r, "FolderUpdate/Status") == "2", r
    assert folder_type(dc, c, "Notes") == "note.default"
    assert "Renamed" not in folders(c)
