"""Folder hierarchy: FolderSync, FolderCreate, FolderUpdate, FolderDelete
(MS-ASCMD 2.2.1.3-2.2.1.6).

Requests are modelled on MS-ASCMD section 4 (FolderSync with SyncKey 0,
incremental FolderSync, FolderCreate/Update/Delete with the hierarchy
SyncKey).  Every mailbox change made over EAS is checked over IMAP, and
every change made over IMAP must show up in the next FolderSync."""

import re

from harness import default_groupware_folders, imap_append, \
    sample_message, start, sync, xall, xml_escape, xrequire, xtext

INSTANCE = dict(activesync=True)

# EAS folder types (MS-ASCMD 2.2.3.186.3)
T_INBOX, T_DRAFTS, T_DELETED, T_SENT, T_USER_MAIL = 2, 3, 4, 5, 12

_serial = [0]


def new_account(dc, tag, version="14.1"):
    """A fresh user (its own mailboxes) and device."""
    _serial[0] += 1
    user = "fs-%s-%d@example.test" % (tag, _serial[0])
    password = "pw-%s-%d" % (tag, _serial[0])
    dc.add_user(user, password)
    return dc.eas_client(user, password,
                         device_id="FS%s%d" % (tag.upper().replace("-", ""),
                                               _serial[0]),
                         device_type="E2ETest", version=version)


def second_device(dc, c, suffix="B"):
    return dc.eas_client(c.user, c.password, device_id=c.device_id + suffix,
                         device_type="E2ETest", version=c.version)


def folder_of(elem):
    def t(name):
        return xtext(elem, "FolderHierarchy:" + name)
    return dict(server_id=t("ServerId"), parent_id=t("ParentId"),
                name=t("DisplayName"), type=int(t("Type") or 0))


class Changes:
    """A parsed successful FolderSync response."""

    def __init__(self, r):
        assert r.status == 200, r
        assert xrequire(r, "FolderSync/Status") == "1", r
        self.resp = r
        self.key = xrequire(r, "FolderSync/SyncKey")
        self.count = int(xrequire(r, "FolderSync/Changes/Count"))
        self.adds = [folder_of(e) for e in xall(r, "Changes/Add")]
        self.updates = [folder_of(e) for e in xall(r, "Changes/Update")]
        self.deletes = [xtext(e, "FolderHierarchy:ServerId")
                        for e in xall(r, "Changes/Delete")]
        assert self.count == len(self.adds) + len(self.updates) + \
            len(self.deletes), r

    def by_name(self, name, where=None):
        found = [f for f in (where or self.adds) if f["name"] == name]
        assert len(found) == 1, (name, self.resp)
        return found[0]


def foldersync(c, key):
    return c.request_provisioned(
        "FolderSync", '<FolderSync xmlns="FolderHierarchy:"><SyncKey>%s'
        '</SyncKey></FolderSync>' % xml_escape(key))


def sync_ok(c, key):
    return Changes(foldersync(c, key))


def status_of(r, root):
    assert r.status == 200, r
    return xrequire(r, "%s/Status" % root)


def folder_create(c, key, parent, name, ftype=T_USER_MAIL):
    return c.request_provisioned(
        "FolderCreate", '<FolderCreate xmlns="FolderHierarchy:">'
        '<SyncKey>%s</SyncKey><ParentId>%s</ParentId>'
        '<DisplayName>%s</DisplayName><Type>%d</Type></FolderCreate>'
        % (xml_escape(key), xml_escape(parent), xml_escape(name), ftype))


def folder_update(c, key, server_id, parent, name):
    return c.request_provisioned(
        "FolderUpdate", '<FolderUpdate xmlns="FolderHierarchy:">'
        '<SyncKey>%s</SyncKey><ServerId>%s</ServerId>'
        '<ParentId>%s</ParentId><DisplayName>%s</DisplayName>'
        '</FolderUpdate>' % (xml_escape(key), xml_escape(server_id),
                             xml_escape(parent), xml_escape(name)))


def folder_delete(c, key, server_id):
    return c.request_provisioned(
        "FolderDelete", '<FolderDelete xmlns="FolderHierarchy:">'
        '<SyncKey>%s</SyncKey><ServerId>%s</ServerId></FolderDelete>'
        % (xml_escape(key), xml_escape(server_id)))


def imap_do(dc, c, *cmds):
    """Run IMAP commands (method name, args...) as the account's user."""
    imap = dc.imap(c.user, c.password)
    try:
        for name, *args in cmds:
            typ, data = getattr(imap, name)(*args)
            assert typ == "OK", (name, args, data)
    finally:
        imap.logout()


def imap_mailboxes(dc, c):
    imap = dc.imap(c.user, c.password)
    try:
        typ, data = imap.list('""', "*")
        assert typ == "OK", data
    finally:
        imap.logout()
    out = {}
    for line in data:
        m = re.match(rb'\(([^)]*)\) "/" (?:"((?:[^"\\]|\\.)*)"|(\S+))$',
                     line)
        assert m, line
        name = (m.group(2) if m.group(2) is not None else m.group(3))
        out[name.decode().replace('\\"', '"')] = m.group(1).decode()
    return out


def quoted(name):
    return '"%s"' % name


# ---------------------------------------------------------------- FolderSync

def test_initial_foldersync_lists_hierarchy(dc):
    c = new_account(dc, "init")
    imap_do(dc, c, ("create", quoted("Projects")),
            ("create", quoted("Projects/Alpha Beta")),
            ("create", quoted("Archive 2020")))
    ch = sync_ok(c, "0")
    assert ch.key not in ("", "0"), ch.resp
    assert not ch.updates and not ch.deletes, ch.resp

    inbox = ch.by_name("INBOX")
    assert (inbox["type"], inbox["parent_id"]) == (T_INBOX, "0"), inbox
    for name, ftype in (("Drafts", T_DRAFTS), ("Sent", T_SENT),
                        ("Trash", T_DELETED), ("Junk", T_USER_MAIL),
                        ("Projects", T_USER_MAIL),
                        ("Archive 2020", T_USER_MAIL)):
        f = ch.by_name(name)
        assert f["type"] == ftype and f["parent_id"] == "0", f
    child = ch.by_name("Alpha Beta")
    assert child["type"] == T_USER_MAIL, child
    assert child["parent_id"] == ch.by_name("Projects")["server_id"], ch.resp
    # parents come before their children
    order = [f["server_id"] for f in ch.adds]
    assert order.index(child["parent_id"]) < \
        order.index(child["server_id"]), ch.resp
    ids = [f["server_id"] for f in ch.adds]
    assert len(set(ids)) == len(ids) and "0" not in ids, ids
    for name, ftype in default_groupware_folders().items():
        assert ch.by_name(name)["type"] == ftype, ch.resp
    assert len(ch.adds) == 8 + len(default_groupware_folders()), ch.resp


def test_foldersync_no_changes_keeps_key(dc):
    c = new_account(dc, "same")
    ch = sync_ok(c, "0")
    again = sync_ok(c, ch.key)
    assert again.key == ch.key and again.count == 0, again.resp
    assert not again.adds, again.resp


def test_foldersync_incremental_add_rename_delete(dc):
    c = new_account(dc, "incr")
    ch = sync_ok(c, "0")
    key = ch.key

    # Add
    imap_do(dc, c, ("create", quoted("Later")),
            ("create", quoted("Later/Sub")))
    ch = sync_ok(c, key)
    assert ch.key != key and ch.count == 2, ch.resp
    later = ch.by_name("Later")
    sub = ch.by_name("Sub")
    assert later["parent_id"] == "0" and later["type"] == T_USER_MAIL
    assert sub["parent_id"] == later["server_id"], ch.resp
    key = ch.key

    # Rename: same ServerId, new name; its child keeps its ServerId and
    # parent
    imap_do(dc, c, ("rename", quoted("Later"), quoted("Renamed")))
    ch = sync_ok(c, key)
    assert ch.count == 1 and not ch.adds and not ch.deletes, ch.resp
    upd = ch.updates[0]
    assert upd["server_id"] == later["server_id"], ch.resp
    assert upd["name"] == "Renamed" and upd["parent_id"] == "0", ch.resp
    key = ch.key

    # Move: the child goes to the top level
    imap_do(dc, c, ("rename", quoted("Renamed/Sub"), quoted("Moved")))
    ch = sync_ok(c, key)
    assert ch.count == 1 and len(ch.updates) == 1, ch.resp
    assert ch.updates[0] == dict(server_id=sub["server_id"],
                                 parent_id="0", name="Moved",
                                 type=T_USER_MAIL), ch.resp
    key = ch.key

    # Delete (doveadm this time)
    dc.doveadm("mailbox", "delete", "-u", c.user, "Renamed")
    ch = sync_ok(c, key)
    assert ch.count == 1 and ch.deletes == [later["server_id"]], ch.resp
    key = ch.key

    again = sync_ok(c, key)
    assert again.count == 0 and again.key == key, again.resp


def test_sync_by_id_after_rename_and_replace(dc):
    """A folder's ServerId keeps reaching it after IMAP renames it, also
    in a process that found it under the old name, and stops at a new
    folder of the same name."""
    c = new_account(dc, "hintren")
    imap_do(dc, c, ("create", quoted("Projects")))
    fid = sync_ok(c, "0").by_name("Projects")["server_id"]
    imap_append(dc, c, "Projects", sample_message("before rename",
                                                  to=c.user))
    r = start(c, fid)
    r.add_by_subject("before rename")
    key = r.key
    # Sync by id twice per name: every process has seen the old one
    names = ["Projects", "Clients", "Archive"]
    for old, new in zip(names, names[1:]):
        for _ in range(2):
            r = sync(c, fid, key).ok()
            key = r.key
        imap_do(dc, c, ("rename", quoted(old), quoted(new)))
        imap_append(dc, c, new, sample_message("in " + new, to=c.user))
        r = sync(c, fid, key).ok()
        assert len(r.adds) == 1, r.resp
        r.add_by_subject("in " + new)
        key = r.key
    # replaced: same name, another mailbox (GUID): the id is gone
    imap_do(dc, c, ("delete", quoted("Archive")),
            ("create", quoted("Archive")))
    r = sync(c, fid, key)
    assert r.status == "12", r.resp


def test_foldersync_repeated_key_replays_same_answer(dc):
    c = new_account(dc, "replay")
    key0 = sync_ok(c, "0").key
    imap_do(dc, c, ("create", quoted("Replay")))
    first = sync_ok(c, key0)
    assert first.count == 1, first.resp
    # the device lost the answer and asks again with the old key;
    # another change in between must not alter the replayed answer
    imap_do(dc, c, ("create", quoted("Meanwhile")))
    second = sync_ok(c, key0)
    assert second.resp.xml_text == first.resp.xml_text, \
        (first.resp, second.resp)
    # going on from the new key shows the change made in between
    third = sync_ok(c, first.key)
    assert [f["name"] for f in third.adds] == ["Meanwhile"], third.resp
    # two states back is gone: SyncKey mismatch
    r = foldersync(c, key0)
    assert status_of(r, "FolderSync") == "9", r


def test_foldersync_invalid_sync_key(dc):
    c = new_account(dc, "badkey")
    # before any FolderSync 0 nothing but 0 is valid
    r = foldersync(c, "1")
    assert status_of(r, "FolderSync") == "9", r
    key = sync_ok(c, "0").key
    for bad in (str(int(key) + 5), "abc", "-1", "", "01"):
        r = foldersync(c, bad)
        assert status_of(r, "FolderSync") == "9", (bad, r)
        assert xtext(r, "FolderSync/Changes") is None, r
    # the real key still works afterwards
    assert sync_ok(c, key).count == 0


def test_foldersync_malformed_request(dc):
    c = new_account(dc, "malformed")
    mark = dc.log_offset()
    r = c.request_provisioned(
        "FolderSync", '<FolderSync xmlns="FolderHierarchy:"></FolderSync>')
    assert status_of(r, "FolderSync") == "10", r
    # wrong root element: the dispatcher answers it for every command
    # (common status 103, invalid XML) or the command does (10)
    r = c.request_provisioned(
        "FolderSync", '<FolderDelete xmlns="FolderHierarchy:"><SyncKey>0'
        '</SyncKey></FolderDelete>')
    assert status_of(r, "FolderSync") in ("10", "103"), r
    assert re.search(r"FolderSync: request without FolderSync/SyncKey",
                     dc.log_since(mark)), dc.log_tail()


def test_foldersync_all_protocol_versions(dc):
    names = None
    for version in ("12.0", "12.1", "14.0", "14.1", "16.0", "16.1"):
        c = new_account(dc, "v" + version.replace(".", ""), version)
        ch = sync_ok(c, "0")
        # the same, but for the groupware classes the version has
        gw = default_groupware_folders(version).items()
        got = sorted((f["name"], f["type"]) for f in ch.adds
                     if (f["name"], f["type"]) not in gw)
        assert len(got) + len(gw) == len(ch.adds), (version, ch.resp)
        names = names or got
        assert got == names, (version, got)
        assert ("INBOX", T_INBOX) in got, got


def test_folder_ids_stable(dc):
    c = new_account(dc, "stable")
    imap_do(dc, c, ("create", quoted("Keep")))
    ids = {f["name"]: f["server_id"] for f in sync_ok(c, "0").adds}
    # another device of the same user sees the same ids
    d = second_device(dc, c)
    assert {f["name"]: f["server_id"] for f in sync_ok(d, "0").adds} == ids
    # a restart with the same state directory keeps them too
    dc.stop()
    dc.start()
    assert {f["name"]: f["server_id"] for f in sync_ok(c, "0").adds} == ids
    # and a resync from 0 of the same device as well
    assert {f["name"]: f["server_id"] for f in sync_ok(c, "0").adds} == ids


# -------------------------------------------------------------- FolderCreate

def test_folder_create(dc):
    c = new_account(dc, "create")
    ch = sync_ok(c, "0")
    r = folder_create(c, ch.key, "0", "Created")
    assert status_of(r, "FolderCreate") == "1", r
    new_key = xrequire(r, "FolderCreate/SyncKey")
    server_id = xrequire(r, "FolderCreate/ServerId")
    assert new_key != ch.key and server_id not in ("", "0"), r
    assert "Created" in imap_mailboxes(dc, c)

    # nested, below the new folder
    r = folder_create(c, new_key, server_id, "Child")
    assert status_of(r, "FolderCreate") == "1", r
    child_key = xrequire(r, "FolderCreate/SyncKey")
    child_id = xrequire(r, "FolderCreate/ServerId")
    assert "Created/Child" in imap_mailboxes(dc, c)

    # non-ASCII names arrive as UTF-8 and are stored as such
    r = folder_create(c, child_key, "0", "Gr\u00fc\u00dfe \u2713")
    assert status_of(r, "FolderCreate") == "1", r
    child_key = xrequire(r, "FolderCreate/SyncKey")
    listed = dc.doveadm("mailbox", "list", "-u", c.user).splitlines()
    assert "Gr\u00fc\u00dfe \u2713" in listed, listed

    # the next FolderSync doesn't add them again
    again = sync_ok(c, child_key)
    assert again.count == 0 and again.key == child_key, again.resp
    # and a full resync lists them with the ids FolderCreate gave
    full = sync_ok(c, "0")
    assert full.by_name("Created")["server_id"] == server_id
    assert full.by_name("Child")["server_id"] == child_id
    assert full.by_name("Child")["parent_id"] == server_id


def test_folder_create_errors(dc):
    c = new_account(dc, "createerr")
    imap_do(dc, c, ("create", quoted("Exists")))
    key = sync_ok(c, "0").key
    before = imap_mailboxes(dc, c)
    mark = dc.log_offset()

    r = folder_create(c, key, "0", "Exists")
    assert status_of(r, "FolderCreate") == "2", r
    r = folder_create(c, key, "987654", "Orphan")
    assert status_of(r, "FolderCreate") == "5", r
    r = folder_create(c, str(int(key) + 1), "0", "WrongKey")
    assert status_of(r, "FolderCreate") == "9", r
    r = folder_create(c, "0", "0", "ZeroKey")
    assert status_of(r, "FolderCreate") == "9", r
    # a name with the hierarchy separator, and an empty name
    r = folder_create(c, key, "0", "a/b")
    assert status_of(r, "FolderCreate") == "10", r
    r = folder_create(c, key, "0", "")
    assert status_of(r, "FolderCreate") == "10", r
    # journal folders aren't supported yet; Inbox type can't be created
    r = folder_create(c, key, "0", "Journal2", 16)
    assert status_of(r, "FolderCreate") == "10", r
    r = folder_create(c, key, "0", "Inbox2", T_INBOX)
    assert status_of(r, "FolderCreate") == "10", r
    # elements missing
    r = c.request_provisioned(
        "FolderCreate", '<FolderCreate xmlns="FolderHierarchy:"><SyncKey>'
        '%s</SyncKey><ParentId>0</ParentId><Type>12</Type></FolderCreate>'
        % key)
    assert status_of(r, "FolderCreate") == "10", r
    # nothing was created, and the key is still current
    assert imap_mailboxes(dc, c) == before
    assert sync_ok(c, key).count == 0
    log = dc.log_since(mark)
    for pattern in (r"FolderCreate: mailbox Exists already exists",
                    r"FolderCreate: parent folder 987654 not found",
                    r"FolderCreate: folder type 16 can't be created"):
        assert re.search(pattern, log), (pattern, dc.log_tail())


# -------------------------------------------------------------- FolderUpdate

def test_folder_update_rename_and_move(dc):
    c = new_account(dc, "update")
    imap_do(dc, c, ("create", quoted("Old")), ("create", quoted("Old/Kid")),
            ("create", quoted("Target")))
    ch = sync_ok(c, "0")
    old = ch.by_name("Old")
    target = ch.by_name("Target")

    r = folder_update(c, ch.key, old["server_id"], "0", "New Name")
    assert status_of(r, "FolderUpdate") == "1", r
    key = xrequire(r, "FolderUpdate/SyncKey")
    boxes = imap_mailboxes(dc, c)
    assert "New Name" in boxes and "New Name/Kid" in boxes, boxes
    assert "Old" not in boxes, boxes

    # move below Target
    r = folder_update(c, key, old["server_id"], target["server_id"],
                      "New Name")
    assert status_of(r, "FolderUpdate") == "1", r
    key = xrequire(r, "FolderUpdate/SyncKey")
    assert "Target/New Name/Kid" in imap_mailboxes(dc, c)

    # the device already knows: no Update comes back
    again = sync_ok(c, key)
    assert again.count == 0, again.resp
    # ServerIds survive the rename
    full = sync_ok(c, "0")
    moved = full.by_name("New Name")
    assert moved["server_id"] == old["server_id"], full.resp
    assert moved["parent_id"] == target["server_id"], full.resp
    assert full.by_name("Kid")["server_id"] == \
        ch.by_name("Kid")["server_id"], full.resp


def test_folder_update_errors(dc):
    c = new_account(dc, "updateerr")
    imap_do(dc, c, ("create", quoted("One")), ("create", quoted("Two")))
    ch = sync_ok(c, "0")
    key = ch.key
    one = ch.by_name("One")
    before = imap_mailboxes(dc, c)

    # special folders can't be renamed
    for name in ("INBOX", "Drafts", "Sent", "Trash"):
        r = folder_update(c, key, ch.by_name(name)["server_id"], "0",
                          name + "X")
        assert status_of(r, "FolderUpdate") == "2", (name, r)
    # the name is taken
    r = folder_update(c, key, one["server_id"], "0", "Two")
    assert status_of(r, "FolderUpdate") == "2", r
    r = folder_update(c, key, "987654", "0", "Whatever")
    assert status_of(r, "FolderUpdate") == "4", r
    r = folder_update(c, key, one["server_id"], "987654", "One")
    assert status_of(r, "FolderUpdate") == "5", r
    r = folder_update(c, str(int(key) + 1), one["server_id"], "0", "Uno")
    assert status_of(r, "FolderUpdate") == "9", r
    r = folder_update(c, key, one["server_id"], "0", "x/y")
    assert status_of(r, "FolderUpdate") == "10", r
    r = c.request_provisioned(
        "FolderUpdate", '<FolderUpdate xmlns="FolderHierarchy:"><ServerId>'
        '%s</ServerId><ParentId>0</ParentId><DisplayName>Uno'
        '</DisplayName></FolderUpdate>' % one["server_id"])
    assert status_of(r, "FolderUpdate") == "10", r
    assert imap_mailboxes(dc, c) == before
    assert sync_ok(c, key).count == 0


# -------------------------------------------------------------- FolderDelete

def test_folder_delete(dc):
    c = new_account(dc, "delete")
    imap_do(dc, c, ("create", quoted("Gone")), ("create", quoted("Gone/Too")),
            ("create", quoted("Stays")))
    ch = sync_ok(c, "0")
    r = folder_delete(c, ch.key, ch.by_name("Gone")["server_id"])
    assert status_of(r, "FolderDelete") == "1", r
    key = xrequire(r, "FolderDelete/SyncKey")
    boxes = imap_mailboxes(dc, c)
    assert "Gone" not in boxes and "Gone/Too" not in boxes, boxes
    assert "Stays" in boxes, boxes
    # the device removed the subtree itself: nothing more to tell
    again = sync_ok(c, key)
    assert again.count == 0, again.resp
    # and the old id is unknown now
    r = folder_delete(c, key, ch.by_name("Gone")["server_id"])
    assert status_of(r, "FolderDelete") == "4", r


def test_folder_delete_errors(dc):
    c = new_account(dc, "deleteerr")
    imap_do(dc, c, ("create", quoted("Victim")))
    ch = sync_ok(c, "0")
    key = ch.key
    before = imap_mailboxes(dc, c)
    for name in ("INBOX", "Drafts", "Sent", "Trash"):
        r = folder_delete(c, key, ch.by_name(name)["server_id"])
        assert status_of(r, "FolderDelete") == "3", (name, r)
    r = folder_delete(c, key, "987654")
    assert status_of(r, "FolderDelete") == "4", r
    r = folder_delete(c, str(int(key) + 1), ch.by_name("Victim")["server_id"])
    assert status_of(r, "FolderDelete") == "9", r
    r = c.request_provisioned(
        "FolderDelete", '<FolderDelete xmlns="FolderHierarchy:"><SyncKey>%s'
        '</SyncKey></FolderDelete>' % key)
    assert status_of(r, "FolderDelete") == "10", r
    assert imap_mailboxes(dc, c) == before
    assert sync_ok(c, key).count == 0


def test_noselect_parent(dc):
    # With Maildir++ "Outer/Inner" can exist without "Outer": IMAP lists
    # Outer as \Noselect.  The device still gets Outer as the parent, with
    # an id that stays the same.
    c = new_account(dc, "noselect")
    dc.doveadm("mailbox", "create", "-u", c.user, "Outer/Inner")
    flags = imap_mailboxes(dc, c)
    assert "Outer/Inner" in flags, flags
    ch = sync_ok(c, "0")
    outer = ch.by_name("Outer")
    inner = ch.by_name("Inner")
    assert outer["parent_id"] == "0", ch.resp
    assert inner["parent_id"] == outer["server_id"], ch.resp
    again = sync_ok(c, "0")
    assert again.by_name("Outer")["server_id"] == outer["server_id"]
    assert sync_ok(c, again.key).count == 0

    # a folder can be created below it
    r = folder_create(c, again.key, outer["server_id"], "Second")
    assert status_of(r, "FolderCreate") == "1", r
    assert "Outer/Second" in imap_mailboxes(dc, c)
    key = xrequire(r, "FolderCreate/SyncKey")
    assert sync_ok(c, key).count == 0


def test_many_folders_deep_tree(dc):
    c = new_account(dc, "many")
    names = ["Deep"]
    for depth in range(1, 6):
        names.append(names[-1] + "/L%d" % depth)
    names += ["Flat %02d" % i for i in range(40)]
    imap = dc.imap(c.user, c.password)
    try:
        for n in names:
            typ, data = imap.create(quoted(n))
            assert typ == "OK", (n, data)
    finally:
        imap.logout()
    # doveadm takes UTF-8 names (IMAP would need modified UTF-7)
    names.append("Unicode \u00e4\u00f6\u00fc \u65e5\u672c")
    dc.doveadm("mailbox", "create", "-u", c.user, names[-1])
    ch = sync_ok(c, "0")
    by_id = {f["server_id"]: f for f in ch.adds}
    # every parent exists and comes before its child
    seen = set()
    for f in ch.adds:
        assert f["parent_id"] == "0" or f["parent_id"] in seen, f
        seen.add(f["server_id"])
    leaf = ch.by_name("L5")
    depth = 0
    f = leaf
    while f["parent_id"] != "0":
        f = by_id[f["parent_id"]]
        depth += 1
    assert depth == 5 and f["name"] == "Deep", (depth, f)
    ch.by_name("Unicode \u00e4\u00f6\u00fc \u65e5\u672c")
    assert len(ch.adds) == 5 + len(names) + \
        len(default_groupware_folders())
