"""Missing Drafts, Sent, Trash and Junk folders are created on a device's
first FolderSync (activesync_special_folders, default yes).

The module's instance uses Debian's own namespace configuration
(/etc/dovecot/conf.d/15-mailboxes.conf from dovecot-core: special_use
set, no auto = create), where a new user has none of them: FolderSync
must create the configured ones, which then carry their SPECIAL-USE flag
for IMAP clients too, and type them Drafts (3), Sent (5), Deleted (4);
Junk is a user mail folder (12), EAS has no type for it. Further tests
start their own instances: a namespace that names no special folder at
all (created under their default names, typed by name), and the setting
turned off (nothing created)."""

import os

import harness
from harness import default_groupware_folders, xall, xtext

# the special folders, besides the default groupware ones
GW = default_groupware_folders()

DEBIAN_MAILBOXES = "/etc/dovecot/conf.d/15-mailboxes.conf"


def _debian_namespace():
    if not os.path.exists(DEBIAN_MAILBOXES):
        raise harness.HarnessError("%s missing: dovecot-core not installed "
                                   "(scripts/install-deps.sh)"
                                   % DEBIAN_MAILBOXES)
    # 10-mail.conf's part of the stock namespace, then the stock file
    return ("namespace inbox {\n  inbox = yes\n  separator = /\n}\n"
            "!include %s" % DEBIAN_MAILBOXES)


INSTANCE = dict(activesync=True, namespace_conf=_debian_namespace())
BARE_NAMESPACE = "namespace inbox {\n  inbox = yes\n  separator = /\n}"

_serial = [0]


def _account(inst, tag):
    _serial[0] += 1
    user = "special-%s-%d@example.test" % (tag, _serial[0])
    inst.add_user(user, "pw")
    return inst.eas_client(user, "pw", device_id="SPF%s%d" % (
        tag.upper(), _serial[0]), device_type="E2ETest")


def _folders(c):
    """{display name: type} of a FolderSync 0."""
    r = c.foldersync()
    assert r.status == 200 and xtext(r, "FolderSync/Status") == "1", r
    return {xtext(a, "FolderHierarchy:DisplayName"):
            int(xtext(a, "FolderHierarchy:Type"))
            for a in xall(r, "Changes/Add")}


def _imap_special_use(inst, c):
    """{mailbox: special-use flags} as IMAP's LIST RETURN (SPECIAL-USE)
    shows them."""
    imap = inst.imap(c.user, c.password)
    try:
        typ, data = imap.list('""', "*")
        assert typ == "OK", data
        out = {}
        for line in data:
            text = line.decode()
            flags = text[text.index("(") + 1:text.index(")")].split()
            name = text.rsplit(" ", 1)[1].strip('"')
            out[name] = {f for f in flags if f in (
                "\\Drafts", "\\Sent", "\\Trash", "\\Junk")}
        return out
    finally:
        imap.logout()


def test_debian_namespace_gets_its_folders(dc):
    c = _account(dc, "deb")
    mark = dc.log_offset()
    got = _folders(c)
    assert got == dict(GW, INBOX=2, Drafts=3, Sent=5, Trash=4,
                       Junk=12), got
    dc.wait_for_log_text(mark, "Created the missing \\", count=4)
    log = dc.log_since(mark)
    for flag, name in (("Drafts", "Drafts"), ("Sent", "Sent"),
                       ("Trash", "Trash"), ("Junk", "Junk")):
        assert "Created the missing \\%s folder %s" % (flag, name) in log, \
            log
    # the first configured \Sent mailbox, not "Sent Messages" as well
    assert "Sent Messages" not in log, log
    # the configuration's special_use holds for IMAP clients too
    uses = _imap_special_use(dc, c)
    assert uses.get("Sent") == {"\\Sent"}, uses
    assert uses.get("Drafts") == {"\\Drafts"}, uses
    assert uses.get("Trash") == {"\\Trash"}, uses
    assert uses.get("Junk") == {"\\Junk"}, uses

    # a second device of the user: nothing more to create, same folders
    c2 = dc.eas_client(c.user, c.password, device_id="SPFDEB2",
                       device_type="E2ETest")
    mark = dc.log_offset()
    assert _folders(c2) == got
    assert "Created the missing" not in dc.log_since(mark)


def test_user_deleted_trash_comes_back(dc):
    """A device needs a Deleted Items folder: deleted over IMAP, it is
    created again on the next FolderSync 0 (a device's full resync)."""
    c = _account(dc, "again")
    assert _folders(c)["Trash"] == 4
    imap = dc.imap(c.user, c.password)
    try:
        assert imap.delete("Trash")[0] == "OK"
    finally:
        imap.logout()
    assert _folders(c)["Trash"] == 4


def _private(name, **kw):
    inst = harness.DovecotInstance(activesync=True, name=name, **kw)
    inst.start()
    return inst


def test_no_configured_special_folders(dc):
    """No mailbox in the namespace carries special_use: the folders are
    created under their default names and typed by those names."""
    inst = _private("special-bare", namespace_conf=BARE_NAMESPACE)
    try:
        c = _account(inst, "bare")
        got = _folders(c)
        assert got == dict(GW, INBOX=2, Drafts=3, Sent=5, Trash=4,
                           Junk=12), got
        # ordinary mailboxes for IMAP (Dovecot keeps SPECIAL-USE only
        # in the configuration), subscribed
        imap = inst.imap(c.user, c.password)
        try:
            typ, data = imap.lsub('""', "*")
            assert typ == "OK", data
            subscribed = {line.decode().rsplit(" ", 1)[1].strip('"')
                          for line in data}
        finally:
            imap.logout()
        assert {"Drafts", "Sent", "Trash", "Junk"} <= subscribed, subscribed
        assert not inst.bad_log_lines()
    finally:
        inst.stop()
        inst.cleanup()


def test_setting_off_creates_nothing(dc):
    inst = _private("special-off", namespace_conf=_debian_namespace(),
                    plugin_settings={"activesync_special_folders": "no"})
    try:
        c = _account(inst, "off")
        got = _folders(c)
        assert got == dict(GW, INBOX=2), got
        assert "Created the missing \\" not in inst.log()
    finally:
        inst.stop()
        inst.cleanup()
