"""GAL from contact folders: the vCards of the mailboxes named by
activesync_gal_folders (here a public namespace with the acl plugin)
join the userdb's users in Search Store=GAL, ResolveRecipients and Find:
several folders as one list, only folders the user may read, one entry
per address (the userdb user first), contact groups as one entry with
the group's address, pictures (vCard PHOTO and the userdb field
activesync_gal_picture) with their limits, a changed folder read again,
and the userdb side refreshed incrementally."""

import base64
import os
import time

from harness import our_encode, search, store_status, xall, xfind, \
    xrequire, xtext

BOSS = "boss-gf@example.test"
INSTANCE = dict(
    activesync=True, passwd_single=True,
    public_acl=["Public/Directory anyone lr",
                "Public/Partners anyone lr",
                "Public/Board user=%s lr" % BOSS],
    plugin_settings={
        "activesync_gal_refresh_interval": "2 s",
        "activesync_gal_folders":
            "Public/Directory Public/Partners Public/Board",
        "activesync_debug": "yes",
    })

VERSIONS = ("14.1", "16.1")
# a JPEG's first bytes and something that is not text
PHOTO = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 8
USER_PHOTO = b"\xff\xd8\xff\xe1user-picture" + bytes(range(100))
FILE_PHOTO = b"\xff\xd8\xff\xe2file-picture" + bytes(range(200))
FIND_NS = 'xmlns="Find:" xmlns:airsync="AirSync:"'


def card_message(card):
    return ("From: <directory@example.test>\r\nSubject: card\r\n"
            "MIME-Version: 1.0\r\n"
            "Content-Type: text/vcard; charset=utf-8\r\n\r\n%s"
            % card).encode()


def person(fn, n, email, extra=""):
    return ("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:%s\r\nN:%s\r\n"
            "EMAIL;TYPE=INTERNET,WORK:%s\r\n%sEND:VCARD\r\n"
            % (fn, n, email, extra))


GROUP4 = ("BEGIN:VCARD\r\nVERSION:4.0\r\nKIND:group\r\nFN:Sales Team\r\n"
          "EMAIL:sales@example.test\r\n"
          "MEMBER:mailto:greta.lindqvist@partner.test\r\n"
          "MEMBER:mailto:gustav@partner2.test\r\nEND:VCARD\r\n")
GROUP3 = ("BEGIN:VCARD\r\nVERSION:3.0\r\nX-ADDRESSBOOKSERVER-KIND:group\r\n"
          "FN:Support Crew\r\nN:Support Crew;;;;\r\n"
          "EMAIL:support@example.test\r\n"
          "X-ADDRESSBOOKSERVER-MEMBER:urn:uuid:1234\r\nEND:VCARD\r\n")
# a group nobody can write to: left out
GROUP_NO_ADDRESS = ("BEGIN:VCARD\r\nVERSION:4.0\r\nKIND:group\r\n"
                    "FN:Nameless Group\r\nEND:VCARD\r\n")

_ready = []


def setup(dc):
    """The public folders, once per instance"""
    if _ready:
        return
    photo = base64.b64encode(PHOTO).decode()
    dc.public_mailbox_add("Directory", card_message(person(
        "Greta Lindqvist", "Lindqvist;Greta;;;",
        "greta.lindqvist@partner.test",
        "ORG:Partner AB\r\nTITLE:Buyer\r\nTEL;TYPE=CELL:+46 70 1\r\n"
        "PHOTO;ENCODING=b;TYPE=JPEG:%s\r\n" % photo)))
    # the same address as a userdb user: one entry, the user's
    dc.public_mailbox_add("Directory", card_message(person(
        "Anna From The Card", "Card;Anna;;;", "anna.gf@example.test")))
    dc.public_mailbox_add("Directory", card_message(GROUP4))
    dc.public_mailbox_add("Directory", card_message(GROUP3))
    dc.public_mailbox_add("Directory", card_message(GROUP_NO_ADDRESS))
    dc.public_mailbox_add("Partners", card_message(person(
        "Gustav Lind", "Lind;Gustav;;;", "gustav@partner2.test")))
    dc.public_mailbox_add("Board", card_message(person(
        "Gideon Secret", "Secret;Gideon;;;", "gideon@board.test")))
    # a picture the userdb names by its path
    path = os.path.join(dc.dir, "pictures", "filepic.jpg")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(FILE_PHOTO)
    if os.geteuid() == 0:
        os.chown(os.path.dirname(path), dc.uid, dc.gid)
        os.chown(path, dc.uid, dc.gid)
    dc.add_users({
        "filepic.gf@example.test": ("pw", {
            "activesync_gal_picture": path}),
        "anna.gf@example.test": ("pw", {
            "activesync_user_display_name": "Anna-Userdb"}),
        "pictor.gf@example.test": ("pw", {
            "activesync_gal_picture":
                base64.b64encode(USER_PHOTO).decode()}),
        BOSS: ("pw", None),
    })
    _ready.append(True)


_serial = [0]


def account(dc, version, user=None):
    _serial[0] += 1
    if user is None:
        user = "gf-user-%d@example.test" % _serial[0]
        dc.add_user(user, "pw")
    c = dc.eas_client(user, "pw", device_id="GF%d" % _serial[0],
                      device_type="E2ETest", version=version)
    c.provision()
    return c


def gal(c, query, options=""):
    r = search(c, query, options, store="GAL")
    assert store_status(r) == "1", r
    results = [x for x in xall(r, "Search/Response/Store/Result")
               if xfind(x, "Properties") is not None]
    return r, {xtext(x, "Properties/GAL:EmailAddress"): x for x in results}


def field(result, name):
    return xtext(result, "Properties/GAL:" + name)


def test_gal_folder_contacts(dc):
    setup(dc)
    for version in VERSIONS:
        c = account(dc, version)
        mark = dc.log_offset()
        # two folders, one list; the Board folder is not this user's
        r, found = gal(c, "lind")
        assert set(found) == {"greta.lindqvist@partner.test",
                              "gustav@partner2.test"}, r
        assert xtext(r, "Search/Response/Store/Total") == "2", r
        g = found["greta.lindqvist@partner.test"]
        assert field(g, "DisplayName") == "Greta Lindqvist", r
        assert field(g, "FirstName") == "Greta", r
        assert field(g, "LastName") == "Lindqvist", r
        assert field(g, "Company") == "Partner AB", r
        assert field(g, "Title") == "Buyer", r
        assert field(g, "MobilePhone") == "+46 70 1", r
        r, found = gal(c, "gideon")
        assert not found, r
        # a userdb user and a card with the same address: once, as the
        # user
        r, found = gal(c, "anna")
        assert list(found) == ["anna.gf@example.test"], r
        assert field(found["anna.gf@example.test"], "DisplayName") == \
            "Anna-Userdb", r
        dc.wait_for_log_text(mark, "GAL: folder Public/", timeout=5)
    log = dc.log_since(0)
    assert "GAL: folder Public/Directory read: 4 contacts (2 groups)" \
        in log, log[-3000:]
    # the boss may read the Board folder
    boss = account(dc, "14.1", user=BOSS)
    r, found = gal(boss, "gideon")
    assert list(found) == ["gideon@board.test"], r


def test_gal_groups(dc):
    setup(dc)
    for version in VERSIONS:
        c = account(dc, version)
        r, found = gal(c, "sales")
        assert list(found) == ["sales@example.test"], r
        assert field(found["sales@example.test"], "DisplayName") == \
            "Sales Team", r
        r, found = gal(c, "support crew")
        assert list(found) == ["support@example.test"], r
        r, found = gal(c, "nameless")
        assert not found, r
        # a distribution list resolves to itself, a GAL recipient
        x = ('<ResolveRecipients xmlns="ResolveRecipients:">'
             '<To>sales@example.test</To></ResolveRecipients>')
        r = c.request("ResolveRecipients", x)
        assert xrequire(r, "ResolveRecipients/Status") == "1", r
        resp = xfind(r, "ResolveRecipients/Response")
        assert xtext(resp, "Status") == "1", r
        assert xtext(resp, "Recipient/Type") == "1", r
        assert xtext(resp, "Recipient/DisplayName") == "Sales Team", r
        assert xtext(resp, "Recipient/EmailAddress") == \
            "sales@example.test", r


def picture(result):
    return (xtext(result, "Properties/GAL:Picture/GAL:Status"),
            xtext(result, "Properties/GAL:Picture/GAL:Data"))


def test_gal_pictures(dc):
    setup(dc)
    greta = "greta.lindqvist@partner.test"
    for version in VERSIONS:
        c = account(dc, version)
        r, found = gal(c, "lind", "<Picture><MaxSize>100000</MaxSize>"
                       "</Picture>")
        status, data = picture(found[greta])
        assert status == "1", r
        assert base64.b64decode(data) == PHOTO, r
        # no picture
        assert picture(found["gustav@partner2.test"]) == ("173", None), r
        # larger than MaxSize
        r, found = gal(c, "greta", "<Picture><MaxSize>100</MaxSize>"
                       "</Picture>")
        assert picture(found[greta]) == ("174", None), r
        # MaxPictures reached
        r, found = gal(c, "greta", "<Picture><MaxPictures>0</MaxPictures>"
                       "</Picture>")
        assert picture(found[greta]) == ("175", None), r
        # the userdb field
        r, found = gal(c, "pictor", "<Picture/>")
        status, data = picture(found["pictor.gf@example.test"])
        assert status == "1", r
        assert base64.b64decode(data) == USER_PHOTO, r
        r, found = gal(c, "filepic", "<Picture/>")
        status, data = picture(found["filepic.gf@example.test"])
        assert status == "1", r
        assert base64.b64decode(data) == FILE_PHOTO, r

        # ResolveRecipients: the same pictures
        x = ('<ResolveRecipients xmlns="ResolveRecipients:">'
             '<To>%s</To><To>pictor.gf@example.test</To>'
             '<To>gustav@partner2.test</To><Options><Picture>'
             '<MaxSize>100000</MaxSize></Picture></Options>'
             '</ResolveRecipients>' % greta)
        r = c.request("ResolveRecipients", x)
        got = {xtext(x, "To"): x for x in
               xall(r, "ResolveRecipients/Response")}
        assert xtext(got[greta], "Recipient/Type") == "1", r
        assert xtext(got[greta], "Recipient/Picture/Status") == "1", r
        assert base64.b64decode(xtext(got[greta],
                                      "Recipient/Picture/Data")) == PHOTO
        p = got["pictor.gf@example.test"]
        assert base64.b64decode(xtext(p, "Recipient/Picture/Data")) == \
            USER_PHOTO, r
        assert xtext(got["gustav@partner2.test"],
                     "Recipient/Picture/Status") == "173", r

    # a limit that isn't a number: the request is refused
    c = account(dc, "14.1")
    r = search(c, "greta", "<Picture><MaxSize>big</MaxSize></Picture>",
               store="GAL")
    assert store_status(r) == "2", r

    # Find (16.1) the same way (libwbxml2 has no Find code page)
    c = account(dc, "16.1")
    c.our_codec_only = True
    x = ('<Find %s><SearchId>GF-1</SearchId><ExecuteSearch>'
         '<GalSearchCriterion><Query><FreeText>greta</FreeText></Query>'
         '<Options><Range>0-9</Range><Picture><MaxSize>100000</MaxSize>'
         '</Picture></Options></GalSearchCriterion></ExecuteSearch>'
         '</Find>' % FIND_NS)
    r = c.request("Find", body=our_encode(x, c.builddir))
    assert xrequire(r, "Find/Status") == "1", r
    res = xall(r, "Find/Response/Result")
    assert len(res) == 1, r
    assert xtext(res[0], "Properties/GAL:EmailAddress") == greta, r
    assert xtext(res[0], "Properties/GAL:Picture/GAL:Status") == "1", r
    assert base64.b64decode(xtext(
        res[0], "Properties/GAL:Picture/GAL:Data")) == PHOTO, r


def test_gal_folder_changes(dc):
    setup(dc)
    c = account(dc, "14.1")
    r, found = gal(c, "lind")
    # unchanged: not read again
    mark = dc.log_offset()
    r, found = gal(c, "lind")
    dc.wait_for_log_text(mark, "GAL: folder Public/Directory unchanged")
    assert "GAL: folder Public/Directory read" not in dc.log_since(mark)
    # a new card: the folder is read again, the other one isn't
    dc.public_mailbox_add("Partners", card_message(person(
        "Linnea Newcomer", "Newcomer;Linnea;;;", "linnea@partner2.test")))
    mark = dc.log_offset()
    r, found = gal(c, "lin")
    assert "linnea@partner2.test" in found, r
    log = dc.log_since(mark)
    assert "GAL: folder Public/Partners read: 2 contacts" in log, log
    assert "GAL: folder Public/Directory read" not in log, log


def test_gal_incremental_refresh(dc):
    setup(dc)
    c = account(dc, "16.1")
    # past the refresh interval, so that this search's refresh takes in
    # the account just made (an earlier test's refresh may be younger
    # than 2 s, and then only the next one would, together with zora)
    time.sleep(2.2)
    gal(c, "anna")
    time.sleep(2.2)
    mark = dc.log_offset()
    user = "zora.incremental@example.test"
    dc.add_user(user, "pw")
    deadline = time.monotonic() + 15
    found = {}
    while time.monotonic() < deadline and user not in found:
        r, found = gal(c, "zora")
        time.sleep(0.3)
    assert user in found, r
    log = dc.log_since(mark)
    # only the new user was looked up and written
    assert "GAL: incremental refresh:" in log, log
    line = [ln for ln in log.splitlines()
            if "GAL: incremental refresh:" in ln and "1 added" in ln]
    assert line, log
    assert "1 looked up, 1 added, 0 changed, 0 removed" in line[0], line
    # and a removed one goes the same way
    del dc.users[user]
    dc.user_fields.pop(user, None)
    dc._write_passwd()
    time.sleep(2.2)
    mark = dc.log_offset()
    r, found = gal(c, "zora")
    assert user not in found, r
    assert "0 looked up, 0 added, 0 changed, 1 removed" in \
        dc.log_since(mark), dc.log_since(mark)
