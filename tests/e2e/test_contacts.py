"""Contacts folders (MS-ASCNTC) stored as vCards.

A folder whose METADATA /private/vendor/kolab/folder-type is "contact"
(".default" for the default one) is a Contacts folder.  Each contact is a
message carrying its vCard; what the server stores is parsed here with
python3-vobject, an independent vCard reader, and the vCards fed to the
server are written the way other clients write them (a Thunderbird-like
vCard 4.0 as a single-part message, an iOS-like vCard 3.0 attached to a
multipart message).  Their fields reach the device, and a device's edit
keeps the fields the device doesn't know.  A card that doesn't parse is
sent with its Subject only and logged, and never stops the folder; a
device's contact with an invalid field gets Status 6 and stores nothing.
"""

import base64
import email
import email.policy
import re

import vobject

from harness import body_pref, hierarchy, imap_append, imap_expunge, \
    imap_session, new_account, set_folder_type, xfind, xtext, \
    sync_request, SyncResult as Result

INSTANCE = dict(activesync=True)

T_CONTACTS, T_USER_CONTACTS = 9, 14
XMLNS = 'xmlns:contacts="Contacts:" xmlns:contacts2="Contacts2:"'

# A vCard 4.0 the way Thunderbird's address book writes one
TB_UID = "c0ffee00-1111-4222-8333-444455556666"
TB_CARD = (
    "BEGIN:VCARD\r\n"
    "VERSION:4.0\r\n"
    "EMAIL;PREF=1:ada@example.org\r\n"
    "EMAIL;TYPE=work:ada.lovelace@work.example\r\n"
    "FN:Ada Lovelace\r\n"
    "N:Lovelace;Ada;Augusta;Countess;\r\n"
    "NICKNAME:Enchantress\r\n"
    "TEL;TYPE=cell;VALUE=TEXT:+44 20 7946 0001\r\n"
    "TEL;TYPE=home;VALUE=TEXT:+44 20 7946 0002\r\n"
    "ADR;TYPE=home:;;12 St James's Square;London;;SW1Y 4JH;United Kingdom\r\n"
    "ORG:Analytical Engines Ltd;Mathematics\r\n"
    "TITLE:Analyst\r\n"
    "BDAY;VALUE=DATE:18151210\r\n"
    "URL;VALUE=URL:https://example.org/ada\r\n"
    "NOTE:First programmer.\\nLikes poetry\\, too.\r\n"
    "X-CUSTOM1;VALUE=TEXT:custom field one\r\n"
    "X-THUNDERBIRD-ETAG;VALUE=text:\"etag-17\"\r\n"
    "UID:%s\r\n"
    "END:VCARD\r\n" % TB_UID)

# A vCard 3.0 the way iOS writes one (grouped labels, repeated TYPEs)
IOS_UID = "7B2E1F2A-3C4D-4E5F-8A9B-0C1D2E3F4A5B"
IOS_PHOTO = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(64))
IOS_CARD = (
    "BEGIN:VCARD\r\n"
    "VERSION:3.0\r\n"
    "PRODID:-//Apple Inc.//iPhone OS 17.1//EN\r\n"
    "N:Hopper;Grace;Brewster Murray;RAdm.;\r\n"
    "FN:RAdm. Grace Brewster Murray Hopper\r\n"
    "ORG:US Navy;\r\n"
    "item1.EMAIL;type=INTERNET;type=pref:grace@navy.example\r\n"
    "item1.X-ABLabel:_$!<Other>!$_\r\n"
    "TEL;type=CELL;type=VOICE;type=pref:+1 202 555 0101\r\n"
    "TEL;type=WORK;type=VOICE:+1 202 555 0102\r\n"
    "TEL;type=WORK;type=FAX:+1 202 555 0103\r\n"
    "item2.ADR;type=WORK;type=pref:;;1 Navy Way;Arlington;VA;22202;USA\r\n"
    "item2.X-ABADR:us\r\n"
    "BDAY;VALUE=date:1906-12-09\r\n"
    "X-SOCIALPROFILE;type=twitter:https://twitter.example/grace\r\n"
    "item3.X-ABRELATEDNAMES;type=pref:Vincent\r\n"
    "item3.X-ABLabel:_$!<Spouse>!$_\r\n"
    "PHOTO;ENCODING=b;TYPE=JPEG:%s\r\n"
    "UID:%s\r\n"
    "END:VCARD\r\n" % (base64.b64encode(IOS_PHOTO).decode(), IOS_UID))


def card_message_single(card, subject):
    """Thunderbird-like: the message is the vCard"""
    return ("From: <owner@example.test>\r\nSubject: %s\r\n"
            "Date: Mon, 16 Nov 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n"
            "Content-Type: text/vcard; charset=utf-8\r\n"
            "Content-Transfer-Encoding: 8bit\r\n\r\n%s"
            % (subject, card)).encode()


def card_message_multipart(card, subject):
    """A text part and the vCard attached, base64 (as a mail client
    forwards a contact)"""
    b64 = base64.encodebytes(card.encode()).decode().replace("\n", "\r\n")
    return ("From: <owner@example.test>\r\nSubject: %s\r\n"
            "Date: Mon, 16 Nov 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n"
            "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
            "--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
            "Contact card\r\n"
            "--b1\r\nContent-Type: text/x-vcard; charset=utf-8; "
            "name=\"grace.vcf\"\r\nContent-Transfer-Encoding: base64\r\n"
            "Content-Disposition: attachment; filename=\"grace.vcf\"\r\n\r\n"
            "%s--b1--\r\n" % (subject, b64)).encode()


BROKEN_MESSAGE = card_message_single(
    "BEGIN:VCARD\r\nVERSION:3.0\r\nthis line has no colon\r\nEND:VCARD\r\n",
    "Broken card")





def setup(dc, tag, version="14.1"):
    c = new_account(dc, tag, version=version)
    imap = imap_session(dc, c)
    try:
        for name in ("Contacts", "Friends"):
            assert imap.create('"%s"' % name)[0] == "OK"
    finally:
        imap.logout()
    imap_append(dc, c, "Contacts", card_message_single(TB_CARD,
                                                       "Ada Lovelace"))
    imap_append(dc, c, "Contacts", card_message_multipart(IOS_CARD,
                                                          "Grace Hopper"))
    set_folder_type(dc, c, "Contacts", "contact.default")
    set_folder_type(dc, c, "Friends", "contact")
    return c


def imap_contacts(dc, c, mailbox="Contacts"):
    """[(uid, email.message)] over IMAP"""
    imap = imap_session(dc, c, mailbox)
    try:
        typ, data = imap.uid("FETCH", "1:*", "(UID BODY.PEEK[])")
        assert typ == "OK", data
        out = []
        for d in data:
            if not isinstance(d, tuple):
                continue
            uid = int(re.search(rb"UID (\d+)", d[0]).group(1))
            out.append((uid, email.message_from_bytes(
                d[1], policy=email.policy.default)))
        return out
    finally:
        imap.logout()


def vcard_of(msg):
    """The vCard a message carries, parsed by vobject"""
    for part in msg.walk():
        if part.get_content_type() in ("text/vcard", "text/x-vcard",
                                       "text/directory"):
            return vobject.readOne(part.get_content())
    raise AssertionError("no vCard in %s" % msg)


def stored_cards(dc, c, mailbox="Contacts"):
    """{FN: (uid, message, vcard)}"""
    out = {}
    for uid, msg in imap_contacts(dc, c, mailbox):
        try:
            card = vcard_of(msg)
        except Exception:
            continue
        out[card.fn.value] = (uid, msg, card)
    return out


def contact_sync(c, coll, key, **kw):
    return Result(sync_request(c, coll, key, cls="Contacts", xmlns=XMLNS,
                               **kw))


def contacts_cmd(c, coll, key, commands, **kw):
    return contact_sync(c, coll, key, commands=commands, **kw).ok()


def contacts_start(c, coll, supported=None):
    if supported is None:
        r = contact_sync(c, coll, "0").ok()
    else:
        r = Result(c.request_provisioned(
            "Sync", '<Sync xmlns="AirSync:" xmlns:airsyncbase="AirSyncBase:"'
            ' %s><Collections><Collection><SyncKey>0</SyncKey>'
            '<CollectionId>%s</CollectionId><Supported>%s</Supported>'
            '</Collection></Collections></Sync>'
            % (XMLNS, coll, "".join("<%s/>" % s for s in supported)))).ok()
    assert r.key == "1" and not r.adds, r.resp
    return contact_sync(c, coll, r.key, options=body_pref(1)).ok()


def by_file_as(adds):
    return {xtext(a, "ApplicationData/Contacts:FileAs"): a for a in adds}


def field(add, name):
    ns = "Contacts2" if name in ("NickName", "IMAddress", "MMS",
                                 "CompanyMainPhone", "ManagerName",
                                 "CustomerId", "GovernmentId",
                                 "AccountName") else "Contacts"
    value = xtext(add, "ApplicationData/%s:%s" % (ns, name))
    if value is None and "Address" in name:
        # libwbxml's name of the element (harness.NAME_ALIASES)
        value = xtext(add, "ApplicationData/%s:%s"
                      % (ns, name.replace("Address", "", 1)))
    return value


def check_foreign_contacts(adds):
    ada = adds["Ada Lovelace"]
    for name, value in (("LastName", "Lovelace"), ("FirstName", "Ada"),
                        ("MiddleName", "Augusta"), ("Title", "Countess"),
                        ("Email1Address", "ada@example.org"),
                        ("Email2Address", "ada.lovelace@work.example"),
                        ("MobilePhoneNumber", "+44 20 7946 0001"),
                        ("HomePhoneNumber", "+44 20 7946 0002"),
                        ("HomeAddressStreet", "12 St James's Square"),
                        ("HomeAddressCity", "London"),
                        ("HomeAddressPostalCode", "SW1Y 4JH"),
                        ("HomeAddressCountry", "United Kingdom"),
                        ("CompanyName", "Analytical Engines Ltd"),
                        ("Department", "Mathematics"),
                        ("JobTitle", "Analyst"),
                        ("Birthday", "1815-12-10T00:00:00.000Z"),
                        ("WebPage", "https://example.org/ada"),
                        ("NickName", "Enchantress")):
        assert field(ada, name) == value, (name, field(ada, name))
    assert xtext(ada, "ApplicationData/AirSyncBase:Body/AirSyncBase:Data"
                 ).replace("\r\n", "\n") == \
        "First programmer.\nLikes poetry, too.", ada

    grace = adds["RAdm. Grace Brewster Murray Hopper"]
    for name, value in (("LastName", "Hopper"), ("FirstName", "Grace"),
                        ("CompanyName", "US Navy"),
                        ("Email1Address", "grace@navy.example"),
                        ("MobilePhoneNumber", "+1 202 555 0101"),
                        ("BusinessPhoneNumber", "+1 202 555 0102"),
                        ("BusinessFaxNumber", "+1 202 555 0103"),
                        ("BusinessAddressStreet", "1 Navy Way"),
                        ("BusinessAddressCity", "Arlington"),
                        ("BusinessAddressState", "VA"),
                        ("Birthday", "1906-12-09T00:00:00.000Z"),
                        ("Picture", base64.b64encode(IOS_PHOTO).decode())):
        assert field(grace, name) == value, (name, field(grace, name))


PICTURE = base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes(range(200))).decode()

ADD_XML = (
    "<Add><ClientId>c1</ClientId><ApplicationData>"
    "<contacts:FileAs>Turing, Alan</contacts:FileAs>"
    "<contacts:LastName>Turing</contacts:LastName>"
    "<contacts:FirstName>Alan</contacts:FirstName>"
    "<contacts:MiddleName>Mathison</contacts:MiddleName>"
    "<contacts:Suffix>OBE</contacts:Suffix>"
    "<contacts:CompanyName>Bletchley; Park</contacts:CompanyName>"
    "<contacts:JobTitle>Cryptanalyst</contacts:JobTitle>"
    "<contacts:Email1Address>\"Alan Turing\" &lt;alan@example.org&gt;"
    "</contacts:Email1Address>"
    "<contacts:Email2Address>turing@example.net</contacts:Email2Address>"
    "<contacts:MobilePhoneNumber>+44 7700 900001</contacts:MobilePhoneNumber>"
    "<contacts:HomePhoneNumber>+44 20 7946 0100</contacts:HomePhoneNumber>"
    "<contacts:BusinessFaxNumber>+44 20 7946 0101"
    "</contacts:BusinessFaxNumber>"
    "<contacts:HomeStreet>78 High Street</contacts:HomeStreet>"
    "<contacts:HomeCity>Wilmslow</contacts:HomeCity>"
    "<contacts:HomePostalCode>SK9 1AA</contacts:HomePostalCode>"
    "<contacts:HomeCountry>UK</contacts:HomeCountry>"
    "<contacts:Birthday>1912-06-22T23:00:00.000Z</contacts:Birthday>"
    "<contacts:WebPage>https://example.org/turing</contacts:WebPage>"
    "<contacts:Children><contacts:Child>None, yet</contacts:Child>"
    "</contacts:Children>"
    "<contacts:Categories><contacts:Category>Science</contacts:Category>"
    "<contacts:Category>VIP</contacts:Category></contacts:Categories>"
    "<contacts:Picture>%s</contacts:Picture>"
    "<contacts2:NickName>Prof</contacts2:NickName>"
    "<contacts2:IMAddress>alan@im.example.org</contacts2:IMAddress>"
    "<contacts2:ManagerName>Denniston</contacts2:ManagerName>"
    "<airsyncbase:Body><airsyncbase:Type>1</airsyncbase:Type>"
    "<airsyncbase:Data>Enigma; Bombe.\nMarathon runner.</airsyncbase:Data>"
    "</airsyncbase:Body>"
    "</ApplicationData></Add>" % PICTURE)


def check_added_card(msg, card):
    assert str(msg["Subject"]) == "Turing, Alan", msg["Subject"]
    # the readable part
    text = [p for p in msg.walk() if p.get_content_type() == "text/plain"]
    assert text and "alan@example.org" in text[0].get_content() and \
        "+44 7700 900001" in text[0].get_content(), msg
    attach = [p for p in msg.walk() if p.get_content_type() == "text/vcard"]
    assert attach and attach[0].get_filename() == "contact.vcf", msg
    assert card.fn.value == "Turing, Alan"
    assert card.n.value.family == "Turing" and card.n.value.given == "Alan"
    assert card.n.value.additional == "Mathison"
    assert card.n.value.suffix == "OBE"
    assert card.org.value == ["Bletchley; Park"], card.org.value
    assert card.title.value == "Cryptanalyst"
    assert sorted(e.value for e in card.email_list) == \
        ["alan@example.org", "turing@example.net"]
    tels = {t.value: [x.lower() for x in t.params.get("TYPE", [])]
            for t in card.tel_list}
    assert "cell" in tels["+44 7700 900001"], tels
    assert "home" in tels["+44 20 7946 0100"], tels
    assert "fax" in tels["+44 20 7946 0101"] and \
        "work" in tels["+44 20 7946 0101"], tels
    adr = card.adr
    assert [x.lower() for x in adr.params["TYPE"]] == ["home"]
    assert (adr.value.street, adr.value.city, adr.value.code,
            adr.value.country) == ("78 High Street", "Wilmslow", "SK9 1AA",
                                   "UK"), adr.value
    # local midnight an hour east of UTC is that day
    assert str(card.bday.value) == "1912-06-23", card.bday.value
    assert card.url.value == "https://example.org/turing"
    assert card.categories.value == ["Science", "VIP"]
    assert card.nickname.value == "Prof"
    assert card.note.value == "Enigma; Bombe.\nMarathon runner."
    assert card.photo.value == base64.b64decode(PICTURE)
    assert card.impp.value == "im:alan@im.example.org"
    assert card.contents["x-child"][0].value == "None, yet"
    assert card.contents["x-manager"][0].value == "Denniston"
    assert card.uid.value


def check_contacts_sync(dc, version):
    tag = "csync" + version.replace(".", "")
    c = setup(dc, tag, version=version)
    mark = dc.log_offset()
    imap_append(dc, c, "Contacts", BROKEN_MESSAGE)
    h = hierarchy(c)
    assert h["Contacts"][1] == T_CONTACTS, h
    assert h["Friends"][1] == T_USER_CONTACTS, h
    coll = h["Contacts"][0]

    # the cards of other clients arrive with their fields; the broken
    # one with its Subject, and a warning
    r = contacts_start(c, coll)
    adds = by_file_as(r.adds)
    assert set(adds) == {"Ada Lovelace", "RAdm. Grace Brewster Murray Hopper",
                         "Broken card"}, r.resp
    assert not r.more, r.resp
    check_foreign_contacts(adds)
    dc.wait_for_log_text(mark, "sent with its Subject only")
    ada_id = xtext(adds["Ada Lovelace"], "ServerId")
    broken_id = xtext(adds["Broken card"], "ServerId")

    # the device adds a contact
    ra = contacts_cmd(c, coll, r.key, ADD_XML)
    resp = xfind(ra.coll, "Responses/Add")
    assert xtext(resp, "Status") == "1", ra.resp
    new_id = xtext(resp, "ServerId")
    assert new_id.startswith(coll + ":"), ra.resp
    cards = stored_cards(dc, c)
    assert set(cards) == {"Ada Lovelace",
                          "RAdm. Grace Brewster Murray Hopper",
                          "Turing, Alan"}, cards
    check_added_card(cards["Turing, Alan"][1], cards["Turing, Alan"][2])
    turing_uid = cards["Turing, Alan"][2].uid.value
    # and reads it back as it sent it
    rf = contact_sync(c, coll, ra.key).ok()
    assert not rf.adds and not rf.changes, rf.resp

    # the device edits Thunderbird's contact: what it doesn't know stays
    old_uid = cards["Ada Lovelace"][0]
    rc = contacts_cmd(c, coll, rf.key, (
        "<Change><ServerId>%s</ServerId><ApplicationData>"
        "<contacts:FileAs>Ada Lovelace</contacts:FileAs>"
        "<contacts:LastName>King</contacts:LastName>"
        "<contacts:FirstName>Ada</contacts:FirstName>"
        "<contacts:MiddleName>Augusta</contacts:MiddleName>"
        "<contacts:Title>Countess</contacts:Title>"
        "<contacts:Email1Address>ada@example.org</contacts:Email1Address>"
        "<contacts:MobilePhoneNumber>+44 20 7946 0999"
        "</contacts:MobilePhoneNumber>"
        "<contacts:Birthday>1815-12-10T00:00:00.000Z</contacts:Birthday>"
        "</ApplicationData></Change>" % ada_id))
    assert xfind(rc.coll, "Responses/Change") is None, rc.resp
    cards = stored_cards(dc, c)
    uid, msg, card = cards["Ada Lovelace"]
    assert uid != old_uid
    assert card.uid.value == TB_UID
    assert card.n.value.family == "King"
    assert [t.value for t in card.tel_list] == ["+44 20 7946 0999"]
    assert [e.value for e in card.email_list] == ["ada@example.org"]
    assert str(card.bday.value) == "18151210"
    # Thunderbird's own fields are kept as they were
    assert card.contents["x-custom1"][0].value == "custom field one"
    assert card.contents["x-thunderbird-etag"][0].value == '"etag-17"'
    # not sent and no Supported: deleted
    assert "note" not in card.contents and "org" not in card.contents
    rn = contact_sync(c, coll, rc.key).ok()
    assert not rn.adds and not rn.changes and not rn.deletes, rn.resp

    # a contact with an invalid field: Status 6, nothing stored
    mark = dc.log_offset()
    rb = contacts_cmd(c, coll, rn.key, (
        "<Add><ClientId>c2</ClientId><ApplicationData>"
        "<contacts:FileAs>Bad Date</contacts:FileAs>"
        "<contacts:Birthday>sometime in May</contacts:Birthday>"
        "</ApplicationData></Add>"))
    assert xtext(rb.coll, "Responses/Add/Status") == "6", rb.resp
    dc.wait_for_log_text(mark, "invalid Birthday")
    assert len(imap_contacts(dc, c)) == 4

    # the device deletes the broken one: expunged
    rd = contacts_cmd(c, coll, rb.key,
                      "<Delete><ServerId>%s</ServerId></Delete>" % broken_id,
                      deletes_as_moves=0)
    assert xfind(rd.coll, "Responses") is None, rd.resp
    subjects = [str(m["Subject"]) for _, m in imap_contacts(dc, c)]
    assert "Broken card" not in subjects and len(subjects) == 3, subjects

    # over IMAP: Grace is deleted, Turing replaced by a new version
    cards = stored_cards(dc, c)
    grace_uid = cards["RAdm. Grace Brewster Murray Hopper"][0]
    turing = cards["Turing, Alan"]
    new_card = TB_CARD.replace(TB_UID, turing_uid).replace(
        "Ada Lovelace", "Alan Turing").replace("Lovelace;Ada;Augusta",
                                               "Turing;Alan;M.")
    imap_append(dc, c, "Contacts", card_message_single(new_card,
                                                       "Alan Turing"))
    imap = imap_session(dc, c, "Contacts")
    try:
        assert imap.uid("STORE", "%d,%d" % (grace_uid, turing[0]),
                        "+FLAGS", "(\\Deleted)")[0] == "OK"
        assert imap.expunge()[0] == "OK"
    finally:
        imap.logout()
    rs = contact_sync(c, coll, rd.key, options=body_pref(1)).ok()
    grace_id = xtext(adds["RAdm. Grace Brewster Murray Hopper"], "ServerId")
    assert grace_id in rs.deletes, rs.resp
    # the replaced contact (same vCard UID in a new message) is a
    # Change of the item the device has, under the ServerId it knows
    assert not rs.adds and new_id not in rs.deletes, rs.resp
    new = by_file_as(rs.changes)
    assert "Alan Turing" in new, rs.resp
    assert xtext(new["Alan Turing"], "ServerId") == new_id, rs.resp
    assert field(new["Alan Turing"], "LastName") == "Turing"
    assert field(new["Alan Turing"], "FirstName") == "Alan"
    # and the device edits it under that ServerId: the newest message is
    # replaced, nothing is duplicated
    re_ = contacts_cmd(c, coll, rs.key, (
        "<Change><ServerId>%s</ServerId><ApplicationData>"
        "<contacts:FileAs>Alan Turing</contacts:FileAs>"
        "<contacts:LastName>Turing</contacts:LastName>"
        "<contacts:FirstName>Alan</contacts:FirstName>"
        "<contacts:JobTitle>Mathematician</contacts:JobTitle>"
        "</ApplicationData></Change>" % new_id))
    assert xfind(re_.coll, "Responses/Change") is None, re_.resp
    cards = stored_cards(dc, c)
    assert set(cards) == {"Ada Lovelace", "Alan Turing"}, cards
    assert cards["Alan Turing"][2].uid.value == turing_uid
    assert cards["Alan Turing"][2].title.value == "Mathematician"
    rn2 = contact_sync(c, coll, re_.key).ok()
    assert not rn2.adds and not rn2.changes and not rn2.deletes, rn2.resp


def test_contacts_sync_14_1(dc):
    check_contacts_sync(dc, "14.1")


def test_contacts_sync_16_1(dc):
    check_contacts_sync(dc, "16.1")


def test_contacts_change_keeps_ghosted(dc):
    """With <Supported> at SyncKey 0, what a Change leaves out and the
    device didn't declare is kept (MS-ASCMD 2.2.3.168)."""
    c = setup(dc, "cghost", version="16.1")
    coll = hierarchy(c)["Contacts"][0]
    r = contacts_start(c, coll, supported=[
        "contacts:FileAs", "contacts:FirstName", "contacts:LastName",
        "contacts:MobilePhoneNumber", "contacts:BusinessFaxNumber"])
    grace = by_file_as(r.adds)["RAdm. Grace Brewster Murray Hopper"]
    rc = contacts_cmd(c, coll, r.key, (
        "<Change><ServerId>%s</ServerId><ApplicationData>"
        "<contacts:FileAs>Grace Hopper</contacts:FileAs>"
        "<contacts:LastName>Hopper</contacts:LastName>"
        "<contacts:FirstName>Grace</contacts:FirstName>"
        "<contacts:MobilePhoneNumber>+1 202 555 0199"
        "</contacts:MobilePhoneNumber>"
        "</ApplicationData></Change>" % xtext(grace, "ServerId")))
    assert xfind(rc.coll, "Responses/Change") is None, rc.resp
    uid, msg, card = stored_cards(dc, c)["Grace Hopper"]
    assert str(msg["Subject"]) == "Grace Hopper"
    assert card.uid.value == IOS_UID
    tels = {t.value: [x.lower() for x in t.params.get("TYPE", [])]
            for t in card.tel_list}
    # changed in place (its TYPEs stay); the fax, declared and left
    # out, is deleted; the work phone, not declared, is kept
    assert tels == {"+1 202 555 0199": ["cell", "voice", "pref"],
                    "+1 202 555 0102": ["work", "voice"]}, tels
    # ghosted: kept as they were
    assert card.email.value == "grace@navy.example"
    assert card.email.group == "item1"
    assert card.adr.value.city == "Arlington"
    assert str(card.bday.value) == "1906-12-09"
    assert card.photo.value == IOS_PHOTO
    assert [v for v in card.org.value if v] == ["US Navy"], card.org.value
    # never mapped: kept
    assert card.prodid.value == "-//Apple Inc.//iPhone OS 17.1//EN"
    assert card.contents["x-socialprofile"][0].value == \
        "https://twitter.example/grace"
    assert card.contents["x-abrelatednames"][0].value == "Vincent"
    labels = sorted(x.value for x in card.contents["x-ablabel"])
    assert labels == ["_$!<Other>!$_", "_$!<Spouse>!$_"], labels


def test_contacts_big_photo_kept(dc):
    """A 5 MB photo from IMAP is not sent (EAS allows 48 KB) and survives
    the device's edit; a device's Picture over 48 KB is Status 6."""
    c = new_account(dc, "cphoto", version="14.1")
    imap = imap_session(dc, c)
    try:
        assert imap.create("Contacts")[0] == "OK"
    finally:
        imap.logout()
    photo = b"\xff\xd8\xff\xe0" + bytes(i * 31 % 251 for i in range(5 << 20))
    b64 = base64.b64encode(photo).decode()
    folded = "\r\n ".join(b64[i:i + 74] for i in range(0, len(b64), 74))
    card = ("BEGIN:VCARD\r\nVERSION:3.0\r\nN:Big;Photo;;;\r\nFN:Photo Big\r\n"
            "PHOTO;ENCODING=b;TYPE=JPEG:%s\r\nUID:big-photo-1\r\n"
            "END:VCARD\r\n" % folded)
    imap_append(dc, c, "Contacts", card_message_single(card, "Photo Big"))
    set_folder_type(dc, c, "Contacts", "contact.default")
    coll = hierarchy(c)["Contacts"][0]
    r = contacts_start(c, coll)
    assert len(r.adds) == 1, r.resp
    add = r.adds[0]
    assert field(add, "FileAs") == "Photo Big"
    assert field(add, "Picture") is None, r.resp

    rc = contacts_cmd(c, coll, r.key, (
        "<Change><ServerId>%s</ServerId><ApplicationData>"
        "<contacts:FileAs>Photo Big</contacts:FileAs>"
        "<contacts:LastName>Big</contacts:LastName>"
        "<contacts:FirstName>Photograph</contacts:FirstName>"
        "</ApplicationData></Change>" % xtext(add, "ServerId")))
    assert xfind(rc.coll, "Responses/Change") is None, rc.resp
    _, _, stored = stored_cards(dc, c)["Photo Big"]
    assert stored.n.value.given == "Photograph"
    assert stored.photo.value == photo
    assert stored.uid.value == "big-photo-1"

    mark = dc.log_offset()
    big = base64.b64encode(bytes(40 * 1024)).decode()
    rb = contacts_cmd(c, coll, rc.key, (
        "<Add><ClientId>p2</ClientId><ApplicationData>"
        "<contacts:FileAs>Too Big</contacts:FileAs>"
        "<contacts:Picture>%s</contacts:Picture>"
        "</ApplicationData></Add>" % big))
    assert xtext(rb.coll, "Responses/Add/Status") == "6", rb.resp
    dc.wait_for_log_text(mark, "Picture larger than 48 KB")
    assert len(imap_contacts(dc, c)) == 1


def test_contacts_duplicate_uid(dc):
    """Two messages with the same vCard UID (a client that appended a
    new version and never expunged the old one) are two items for the
    device, with a warning; expunging one later deletes just that one."""
    c = new_account(dc, "cdupuid", version="16.1")
    imap = imap_session(dc, c)
    try:
        assert imap.create("Contacts")[0] == "OK"
    finally:
        imap.logout()
    card = ("BEGIN:VCARD\r\nVERSION:3.0\r\nN:Twin;Tom;;;\r\nFN:%s\r\n"
            "UID:twin-1\r\nEND:VCARD\r\n")
    imap_append(dc, c, "Contacts", card_message_single(card % "Tom Twin",
                                                       "Tom Twin"))
    imap_append(dc, c, "Contacts", card_message_single(card % "Tom Twin 2",
                                                       "Tom Twin 2"))
    set_folder_type(dc, c, "Contacts", "contact.default")
    coll = hierarchy(c)["Contacts"][0]
    mark = dc.log_offset()
    r = contacts_start(c, coll)
    adds = by_file_as(r.adds)
    assert set(adds) == {"Tom Twin", "Tom Twin 2"}, r.resp
    dc.wait_for_log_text(mark, "hold the same item (UID twin-1)")
    # the older message goes: only its item is deleted on the device
    first = min(uid for uid, _ in imap_contacts(dc, c))
    imap_expunge(dc, c, "Contacts", first)
    rd = contact_sync(c, coll, r.key).ok()
    assert rd.deletes == [xtext(adds["Tom Twin"], "ServerId")], rd.resp
    assert not rd.adds and not rd.changes, rd.resp
