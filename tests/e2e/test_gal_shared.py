"""GAL folder in a shared namespace: a user's own contacts folder shared
through the ACL (doveadm acl set) and named by a pattern across owners
("shared/*/Directory"): found by the user it is shared with, not by
another."""

from harness import new_account, search, store_status, xall, xfind, xtext

OWNER = "owner-gs@example.test"
SHARED_CONF = """
mail_plugins = $mail_plugins acl
namespace shared {
  type = shared
  separator = /
  prefix = shared/%%u/
  location = maildir:%%h/Maildir:INDEXPVT=~/Maildir/shared/%%u
  subscriptions = no
  list = children
}
plugin {
  acl = vfile
  acl_shared_dict = file:%h/../shared-mailboxes.db
}
"""
INSTANCE = dict(activesync=True, passwd_single=True, extra_conf=SHARED_CONF,
                plugin_settings={
                    "activesync_gal_folders": "shared/*/Directory",
                    "activesync_debug": "yes"})

CARD = ("From: <o@example.test>\r\nSubject: card\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/vcard; charset=utf-8\r\n\r\n"
        "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Harald Shared\r\n"
        "N:Shared;Harald;;;\r\nEMAIL:harald@shared.test\r\nEND:VCARD\r\n")


def gal(c, query):
    r = search(c, query, store="GAL")
    assert store_status(r) == "1", r
    return r, [xtext(x, "Properties/GAL:EmailAddress")
               for x in xall(r, "Search/Response/Store/Result")
               if xfind(x, "Properties") is not None]


def test_gal_shared_folder(dc):
    friend = new_account(dc, "gsfriend")
    other = new_account(dc, "gsother")
    dc.add_user(OWNER, "pw")
    dc.doveadm("mailbox", "create", "-u", OWNER, "Directory")
    dc.doveadm("save", "-u", OWNER, "-m", "Directory", input=CARD.encode())
    dc.doveadm("acl", "set", "-u", OWNER, "Directory",
               "user=" + friend.user, "lookup", "read")
    mark = dc.log_offset()
    r, found = gal(friend, "harald")
    assert found == ["harald@shared.test"], r
    assert "GAL: folder shared/%s/Directory read: 1 contacts" % OWNER in \
        dc.log_since(mark), dc.log_since(mark)
    # not shared with this one: the card is in the index, but not for
    # this user
    r, found = gal(other, "harald")
    assert found == [], r
    assert xtext(r, "Search/Response/Store/Total") == "0", r
