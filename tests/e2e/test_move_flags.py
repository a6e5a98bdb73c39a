"""Flag dates follow moved messages: the EAS flag's start/due/complete
dates and FlagType live in the state store by folder and UID (IMAP keeps
only \\Flagged), so MoveItems and ItemOperations Move carry them to the
new folder and UID and drop the old entry."""

import subprocess

from harness import body_pref, folders, imap_session, itemops, move_items, \
    new_account, ok_top, start, sync, T_INBOX, xall, xfind, xtext
from test_itemops import thread_message
from test_sync_props import FLAG_FIELDS, _with_tasks_ns, change, flag_of, \
    flag_xml

INSTANCE = dict(activesync=True)

WANT = [(n.split(":")[1], v) for _, n, v in FLAG_FIELDS]


def item_props_count(dc, user):
    """Entries of the user in the state store's item_props table"""
    out = subprocess.run(["mdb_dump", "-p", "-s", "item_props",
                          dc.eas_state_dir], check=True,
                         capture_output=True).stdout.decode("latin-1")
    return sum(1 for line in out.splitlines()
               if line.startswith(" " + user))


def setup(dc, tag, version, mails):
    c = new_account(dc, tag, version=version)
    c.request = _with_tasks_ns(c.request)
    for m in mails:
        dc.deliver(c.user, m)
    imap = imap_session(dc, c)
    try:
        assert imap.create("Archive")[0] == "OK"
    finally:
        imap.logout()
    inbox = folders(c)[T_INBOX]
    r = c.foldersync()
    archive = [xtext(a, "ServerId") for a in xall(r, "Changes/Add")
               if xtext(a, "DisplayName") == "Archive"][0]
    ri = start(c, inbox, options=body_pref(1))
    return c, inbox, archive, ri


def set_flag(c, inbox, ri, sid):
    ri = sync(c, inbox, ri.key, commands=change(sid, flag_xml(FLAG_FIELDS)))
    return ri.ok()


def archive_flags(dc, c, version):
    """{subject: Flag} of Archive as a new device of the user sees it"""
    c2 = dc.eas_client(c.user, c.password, device_id=c.device_id + "N",
                       device_type="E2ETest", version=version)
    archive = [xtext(a, "ServerId") for a in xall(c2.foldersync(),
                                                   "Changes/Add")
               if xtext(a, "DisplayName") == "Archive"][0]
    r = start(c2, archive, options=body_pref(1))
    return {xtext(a, "ApplicationData/Email:Subject"): flag_or_none(a)
            for a in r.adds}


def flag_or_none(item):
    if xfind(item, "ApplicationData/Email:Flag") is None:
        return None
    return flag_of(item) or None


def check_moveitems(dc, version):
    c, inbox, archive, ri = setup(
        dc, "mvflag" + version.replace(".", ""), version,
        [thread_message("Flag me", "flagme-%s@example.test" % version)])
    sid = ri.add_ids()[0]
    ri = set_flag(c, inbox, ri, sid)
    assert item_props_count(dc, c.user) == 1
    ra = start(c, archive, options=body_pref(1))

    r, res = move_items(c, [(sid, inbox, archive)])
    assert res[0][1] == "3", r
    new_id = res[0][2]
    # the same entry, under the new folder and UID
    assert item_props_count(dc, c.user) == 1
    # the moving device: whatever it is told about the item keeps the
    # dates
    ra = sync(c, archive, ra.key).ok()
    assert not ra.adds, ra.resp
    for ch in ra.changes:
        assert xtext(ch, "ServerId") == new_id, ra.resp
        assert flag_of(ch) == WANT, ra.resp
    # another device syncing the destination gets the full flag back
    assert archive_flags(dc, c, version) == {"Flag me": WANT}

    # and back again
    r, res = move_items(c, [(new_id, archive, inbox)])
    assert res[0][1] == "3", r
    assert item_props_count(dc, c.user) == 1
    c3 = dc.eas_client(c.user, c.password, device_id=c.device_id + "X",
                       device_type="E2ETest", version=version)
    r3 = start(c3, folders(c3)[T_INBOX], options=body_pref(1))
    assert [flag_of(a) for a in r3.adds] == [WANT], r3.resp

    # a failed move (unknown source) changes nothing
    r, res = move_items(c, [(archive + ":4242", archive, inbox)])
    assert res[0][1] == "1", r
    assert item_props_count(dc, c.user) == 1


def test_moveitems_keeps_flag_dates_14_1(dc):
    check_moveitems(dc, "14.1")


def test_moveitems_keeps_flag_dates_16_1(dc):
    check_moveitems(dc, "16.1")


def check_conversation_move(dc, version):
    root = "root-flag-%s@example.test" % version
    c, inbox, archive, ri = setup(
        dc, "cvflag" + version.replace(".", ""), version,
        [thread_message("Start", root),
         thread_message("Re: Start", "r1-" + root, root),
         thread_message("Re: Re: Start", "r2-" + root, root)])
    adds = {xtext(a, "ApplicationData/Email:Subject"): a for a in ri.adds}
    conv = xtext(adds["Start"], "ApplicationData/Email2:ConversationId")
    # two of the three flagged with dates
    for subject in ("Start", "Re: Re: Start"):
        ri = set_flag(c, inbox, ri, xtext(adds[subject], "ServerId"))
    assert item_props_count(dc, c.user) == 2

    r = itemops(c, "<Move><ConversationId>%s</ConversationId>"
                "<DstFldId>%s</DstFldId></Move>" % (conv, archive))
    assert xtext(ok_top(r)[0], "Status") == "1", r
    assert item_props_count(dc, c.user) == 2
    assert archive_flags(dc, c, version) == {
        "Start": WANT, "Re: Start": None, "Re: Re: Start": WANT}


def test_itemops_move_keeps_flag_dates_14_1(dc):
    check_conversation_move(dc, "14.1")


def test_itemops_move_keeps_flag_dates_16_1(dc):
    check_conversation_move(dc, "16.1")
