"""ResolveRecipients (MS-ASCMD 2.2.1.15) on 14.1 and 16.1: names and
addresses resolved against the GAL (the passwd-file userdb) and the
user's own contact folders (vCards), ambiguous names with suggestions
up to MaxAmbiguousRecipients, Availability as MergedFreeBusy from the
recipient's own calendar, certificates (vCard KEY) and pictures (vCard
PHOTO) of contacts, and bad requests (Status 5)."""

import base64

from harness import calendar_message, imap_append, imap_session, \
    new_account, set_folder_type, xall, xfind, xrequire, xtext

INSTANCE = dict(activesync=True, passwd_single=True,
                plugin_settings={"activesync_gal_refresh_interval": "1 s"})

VERSIONS = ("14.1", "16.1")

PHOTO = bytes(range(256)) * 4
CERT = b"0\x82\x01\x0adummy-der-certificate" + bytes(range(64))

EVENT = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n"
         "BEGIN:VEVENT\r\nUID:rr-busy-%s@example.test\r\n"
         "DTSTAMP:20291201T000000Z\r\nSUMMARY:Busy hour\r\n"
         "DTSTART:20300107T100000Z\r\nDTEND:20300107T110000Z\r\n"
         "END:VEVENT\r\nEND:VCALENDAR\r\n")


def contact_card(tag):
    photo = base64.b64encode(PHOTO).decode()
    cert = base64.b64encode(CERT).decode()
    return ("BEGIN:VCARD\r\nVERSION:3.0\r\nUID:zed-%s\r\n"
            "N:Outsider;Zed%s;;;\r\nFN:Zed%s Outsider\r\n"
            "EMAIL;TYPE=INTERNET:zed%s@outside.test\r\n"
            "PHOTO;ENCODING=b;TYPE=JPEG:%s\r\n"
            "KEY;ENCODING=b:%s\r\nEND:VCARD\r\n"
            % (tag, tag, tag, tag, photo, cert))


def card_message(card):
    return ("From: <owner@example.test>\r\nSubject: Zed\r\n"
            "MIME-Version: 1.0\r\n"
            "Content-Type: text/vcard; charset=utf-8\r\n\r\n%s"
            % card).encode()


def setup(dc, version):
    tag = version.replace(".", "")
    people = {}
    for name in ("Alpha", "Beta", "Gamma"):
        people[name] = new_account(
            dc, "rr%s%s" % (name.lower(), tag), version=version,
            extra_fields={"activesync_user_display_name":
                          "Quinta%s%s" % (tag, name)})
    # Quinta Alpha's calendar: busy 10:00-11:00 UTC on 2030-01-07
    alpha = people["Alpha"]
    imap = imap_session(dc, alpha)
    try:
        assert imap.create('"Calendar"')[0] == "OK"
    finally:
        imap.logout()
    set_folder_type(dc, alpha, "Calendar", "event.default")
    imap_append(dc, alpha, "Calendar",
                calendar_message("Busy", EVENT % tag))

    c = new_account(dc, "rrowner%s" % tag, version=version)
    imap = imap_session(dc, c)
    try:
        assert imap.create('"Contacts"')[0] == "OK"
    finally:
        imap.logout()
    set_folder_type(dc, c, "Contacts", "contact.default")
    imap_append(dc, c, "Contacts", card_message(contact_card(tag)))
    c.provision()
    return c, people, tag


def resolve(c, tos, options=""):
    x = '<ResolveRecipients xmlns="ResolveRecipients:">'
    x += "".join("<To>%s</To>" % t for t in tos)
    if options:
        x += "<Options>%s</Options>" % options
    r = c.request("ResolveRecipients", x + "</ResolveRecipients>")
    assert r.status == 200, r
    return r


def responses(r):
    assert xrequire(r, "ResolveRecipients/Status") == "1", r
    return {xtext(x, "To"): x for x in xall(r, "Response")}


def recipients(resp):
    return [(xtext(x, "Type"), xtext(x, "DisplayName"),
             xtext(x, "EmailAddress")) for x in xall(resp, "Recipient")]


def test_resolve_recipients(dc):
    setups = [setup(dc, v) for v in VERSIONS]
    for c, people, tag in setups:
        alpha = people["Alpha"].user
        quinta = "Quinta%s" % tag
        zed = "Zed%s" % tag
        r = resolve(c, [alpha, quinta, zed, "nobody-%s-xyz" % tag])
        got = responses(r)
        # an exact address: resolved to the GAL entry
        assert xtext(got[alpha], "Status") == "1", r
        assert xtext(got[alpha], "RecipientCount") == "1", r
        assert recipients(got[alpha]) == [
            ("1", "%sAlpha" % quinta, alpha)], r
        # three people share the name: suggestions
        assert xtext(got[quinta], "Status") == "2", r
        assert sorted(e for _, _, e in recipients(got[quinta])) == sorted(
            p.user for p in people.values()), r
        # a contact of the user's own: Type 2
        assert xtext(got[zed], "Status") == "1", r
        assert recipients(got[zed]) == [
            ("2", "%s Outsider" % zed, "zed%s@outside.test" % tag)], r
        # nobody
        nobody = got["nobody-%s-xyz" % tag]
        assert xtext(nobody, "Status") == "4", r
        assert xfind(nobody, "Recipient") is None, r

        # fewer suggestions than matches: a partial list
        r = resolve(c, [quinta],
                    "<MaxAmbiguousRecipients>2</MaxAmbiguousRecipients>")
        resp = responses(r)[quinta]
        assert xtext(resp, "Status") == "3", r
        assert len(recipients(resp)) == 2, r


def test_resolve_availability_certificates_picture(dc):
    for version in VERSIONS:
        c, people, tag = setup(dc, version)
        alpha, zed = people["Alpha"].user, "Zed%s" % tag
        # 2030-01-07 08:00 to 13:00 UTC: ten half hours, 10-11 busy
        opts = ("<CertificateRetrieval>2</CertificateRetrieval>"
                "<Availability><StartTime>2030-01-07T08:00:00.000Z"
                "</StartTime><EndTime>2030-01-07T13:00:00.000Z</EndTime>"
                "</Availability>"
                "<Picture><MaxSize>100000</MaxSize></Picture>")
        r = resolve(c, [alpha, zed, people["Beta"].user], opts)
        got = responses(r)
        a = xfind(got[alpha], "Recipient")
        assert xtext(a, "Availability/Status") == "1", r
        assert xtext(a, "Availability/MergedFreeBusy") == "0000220000", r
        # GAL entries carry neither certificates nor pictures here
        assert xtext(a, "Certificates/Status") == "7", r
        assert xtext(a, "Picture/Status") == "173", r
        # Beta has no calendar folder: no data
        b = xfind(got[people["Beta"].user], "Recipient")
        assert xtext(b, "Availability/MergedFreeBusy") == "4" * 10, r
        # the contact: certificate and picture from the vCard, no
        # free/busy for someone outside
        z = xfind(got[zed], "Recipient")
        assert xtext(z, "Availability/Status") == "163", r
        assert xtext(z, "Certificates/Status") == "1", r
        assert xtext(z, "Certificates/CertificateCount") == "1", r
        assert base64.b64decode(xtext(z, "Certificates/Certificate")) \
            == CERT, r
        assert xtext(z, "Picture/Status") == "1", r
        assert base64.b64decode(xtext(z, "Picture/Data")) == PHOTO, r

        # limits: a picture too large, no certificates allowed
        r = resolve(c, [zed],
                    "<CertificateRetrieval>2</CertificateRetrieval>"
                    "<MaxCertificates>0</MaxCertificates>"
                    "<Picture><MaxSize>10</MaxSize></Picture>")
        z = xfind(responses(r)[zed], "Recipient")
        assert xtext(z, "Certificates/Status") == "8", r
        assert xtext(z, "Picture/Status") == "174", r
        r = resolve(c, [zed], "<Picture><MaxPictures>0</MaxPictures>"
                    "</Picture>")
        z = xfind(responses(r)[zed], "Recipient")
        assert xtext(z, "Picture/Status") == "175", r
        assert xfind(z, "Picture/Data") is None, r


def test_resolve_bad_requests(dc):
    c, people, tag = setup(dc, "16.1")
    mark = dc.log_offset()
    bad = [
        "",
        "<To></To>",
        "<To>x</To><Options><CertificateRetrieval>9</CertificateRetrieval>"
        "</Options>",
        "<To>x</To><Options><Availability><StartTime>"
        "2030-01-07T13:00:00.000Z</StartTime><EndTime>"
        "2030-01-07T08:00:00.000Z</EndTime></Availability></Options>",
        "<To>x</To><Options><Availability><StartTime>"
        "2030-01-07T13:00:00.000Z</StartTime></Availability></Options>",
        "<To>x</To><Options><Availability><StartTime>"
        "2030-01-01T00:00:00.000Z</StartTime><EndTime>"
        "2031-01-01T00:00:00.000Z</EndTime></Availability></Options>",
        "<To>%s</To>" % ("x" * 300),
        "<To>x</To>" * 101,
    ]
    for inner in bad:
        r = c.request("ResolveRecipients",
                      '<ResolveRecipients xmlns="ResolveRecipients:">%s'
                      '</ResolveRecipients>' % inner)
        assert r.status == 200, r
        assert xrequire(r, "ResolveRecipients/Status") == "5", (inner, r)
        assert xfind(r, "Response") is None, r
    assert "ResolveRecipients: Availability needs" in dc.log_since(mark)
