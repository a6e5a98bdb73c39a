"""GroupWare-as-Email view: a device that can't sync a groupware class
natively (or whose user or admin wants it so) gets those folders as mail
folders, their items as the messages they are: the readable summary and
the original vCard/iCalendar attached.  activesync_groupware_as_email
(per user from userdb) names the classes; the device property
"groupware_as_email" overrides it for one device.  One way: a device's
delete doesn't remove the item, which comes back on the next Sync."""

from harness import body_pref, hierarchy, imap_count, imap_session, \
    move_items, set_device_prop, set_folder_type, start, sync, xall, \
    xfind, xtext

INSTANCE = dict(activesync=True)

T_NOTES, T_USER_MAIL = 10, 12
_serial = [0]

VCARD = ("BEGIN:VCARD\r\nVERSION:3.0\r\nUID:gwae-1\r\nFN:Ada Lovelace\r\n"
         "N:Lovelace;Ada;;;\r\nEMAIL;TYPE=INTERNET:ada@example.test\r\n"
         "END:VCARD\r\n")


def contact_message(user):
    return ("From: <%s>\r\nSubject: Ada Lovelace\r\n"
            "Date: Mon, 16 Nov 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n"
            "Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n"
            "--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
            "Ada Lovelace <ada@example.test>\r\n"
            "--b\r\nContent-Type: text/vcard; charset=utf-8\r\n"
            "Content-Disposition: attachment; filename=\"contact.vcf\"\r\n"
            "\r\n%s--b--\r\n" % (user, VCARD)).encode()


def note_message(subject, text):
    return ("From: <owner@example.test>\r\nSubject: %s\r\n"
            "Date: Mon, 16 Nov 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n"
            % (subject, text)).encode()


def account(dc, tag, fields=None, version="14.1"):
    _serial[0] += 1
    user = "gwae-%s-%d@example.test" % (tag, _serial[0])
    dc.add_user(user, "pw", fields)
    c = dc.eas_client(user, "pw", device_id="GWAE%s%d" % (
        tag.upper(), _serial[0]), device_type="E2ETest", version=version)
    imap = imap_session(dc, c)
    try:
        for name in ("My Notes", "Address Book"):
            assert imap.create('"%s"' % name)[0] == "OK"
        assert imap.append('"My Notes"', None, None, note_message(
            "Shopping", "Milk and beans"))[0] == "OK"
        assert imap.append('"Address Book"', None, None,
                           contact_message(user))[0] == "OK"
    finally:
        imap.logout()
    for name, value in (("My Notes", "note.default"),
                        ("Address Book", "contact.default")):
        set_folder_type(dc, c, name, value)
    return c



def test_all_as_email_from_userdb(dc):
    c = account(dc, "all", {"activesync_groupware_as_email": "all"})
    h = hierarchy(c)
    # both groupware folders are mail folders; no default Notes made
    assert h["My Notes"][1] == T_USER_MAIL, h
    assert h["Address Book"][1] == T_USER_MAIL, h
    assert "Notes" not in h, h

    # the note is a mail
    notes = h["My Notes"][0]
    r = start(c, notes, options=body_pref(1))
    assert len(r.adds) == 1, r.resp
    data = xfind(r.adds[0], "ApplicationData")
    assert xtext(data, "Email:Subject") == "Shopping", r.resp
    assert "Milk and beans" in xtext(
        data, "AirSyncBase:Body/AirSyncBase:Data"), r.resp
    assert xfind(data, "Notes:Subject") is None, r.resp

    # the contact is a mail with its vCard attached, readable summary
    book = h["Address Book"][0]
    r = start(c, book, options=body_pref(1))
    assert len(r.adds) == 1, r.resp
    data = xfind(r.adds[0], "ApplicationData")
    assert xtext(data, "Email:Subject") == "Ada Lovelace", r.resp
    assert "ada@example.test" in xtext(
        data, "AirSyncBase:Body/AirSyncBase:Data"), r.resp
    atts = [xtext(a, "AirSyncBase:DisplayName") for a in
            xall(data, "AirSyncBase:Attachments/AirSyncBase:Attachment")]
    assert atts == ["contact.vcf"], r.resp

    # one way: the device deletes the contact, it stays in IMAP and the
    # same response brings it back
    sid = xtext(r.adds[0], "ServerId")
    rd = sync(c, book, r.key, commands="<Delete><ServerId>%s</ServerId>"
              "</Delete>" % sid, deletes_as_moves=0).ok()
    assert imap_count(dc, c, "Address Book") == 1
    assert len(rd.adds) == 1, rd.resp
    assert xtext(rd.adds[0], "ApplicationData/Email:Subject") == \
        "Ada Lovelace", rd.resp

    # nor can its items be moved out, or mail moved in
    inbox = [v[0] for v in h.values() if v[1] == 2][0]
    sid = xtext(rd.adds[0], "ServerId")
    mark = dc.log_offset()
    _, out = move_items(c, [(sid, book, inbox)])
    assert out[0][1] == "5", out
    dc.wait_for_log_text(mark, "seen as mail, its items can't be moved")
    _, out = move_items(c, [(sid, book, notes)])
    assert out[0][1] == "5", out
    assert imap_count(dc, c, "Address Book") == 1
    imap = imap_session(dc, c)
    try:
        assert imap.append("INBOX", None, None, note_message(
            "Plain mail", "hello"))[0] == "OK"
    finally:
        imap.logout()
    ri = start(c, inbox)
    mail_id = xtext(ri.adds[0], "ServerId")
    _, out = move_items(c, [(mail_id, inbox, book)])
    assert out[0][1] == "2", out
    assert imap_count(dc, c, "Address Book") == 1


def test_some_classes_native_others_as_email(dc):
    c = account(dc, "some", {"activesync_groupware_as_email": "contacts"})
    h = hierarchy(c)
    assert h["My Notes"][1] == T_NOTES, h
    assert h["Address Book"][1] == T_USER_MAIL, h


def test_device_property_overrides_user(dc):
    c = account(dc, "dev", {"activesync_groupware_as_email": "all"})
    h = hierarchy(c)
    assert h["My Notes"][1] == T_USER_MAIL, h
    # the admin sets it for this device (doveadm activesync device set)
    set_device_prop(dc, c.user, c.device_id, "groupware_as_email", "none")
    h = hierarchy(c)
    assert h["My Notes"][1] == T_NOTES, h
    # a value that isn't a class list is refused, and changes nothing
    rc, _, err = dc.activesync("device", "set", "-u", c.user, c.device_id,
                               "groupware_as_email", "everything",
                               check=False)
    assert rc != 0 and "unknown class 'everything'" in err, err
    rc, _, err = dc.activesync("device", "set", "-u", c.user, c.device_id,
                               "colour", "blue", check=False)
    assert rc != 0 and "Unknown device property" in err, err
    assert hierarchy(c)["My Notes"][1] == T_NOTES
    # another device of the same user keeps the user's setting
    c2 = dc.eas_client(c.user, "pw", device_id=c.device_id + "B",
                       device_type="E2ETest", version="14.1")
    h2 = hierarchy(c2)
    assert h2["My Notes"][1] == T_USER_MAIL, h2


def test_unknown_class_is_logged(dc):
    # (commas: passwd-file splits extra fields at spaces)
    c = account(dc, "bad", {"activesync_groupware_as_email": "notes,files"})
    mark = dc.log_offset()
    h = hierarchy(c)
    assert h["My Notes"][1] == T_USER_MAIL, h
    dc.wait_for_log_text(mark, "unknown class 'files'")
