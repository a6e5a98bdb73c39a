"""Sync: bodies and attachments (MS-ASAIRS): UTF-8 safe truncation,
sizes, Preview, attachments and inline images, broken MIME and unknown
charsets, MIME bodies with 8-bit content as opaque data."""

import base64

from harness import body_pref, folders, new_account, start, sync, T_INBOX, \
    xall, xfind, xtext

INSTANCE = dict(activesync=True)


def body_of(item):
    return xfind(item, "ApplicationData/AirSyncBase:Body")


def mime_data(body):
    """Type 4 Data: opaque (base64 in the decoded XML) or a string."""
    return xtext(body, "AirSyncBase:Data")


def test_truncation_never_cuts_utf8(dc):
    c = new_account(dc, "utf8cut")
    inbox = folders(c)[T_INBOX]
    # 3-byte characters: every cut that isn't a multiple of 3 would
    # split one
    text = "\u20ac" * 40
    msg = ("From: a@example.test\r\nTo: %s\r\nSubject: Euros\r\n"
           "MIME-Version: 1.0\r\n"
           "Content-Type: text/plain; charset=utf-8\r\n"
           "Content-Transfer-Encoding: 8bit\r\n\r\n%s\r\n"
           % (c.user, text)).encode("utf-8")
    dc.deliver(c.user, msg)
    for size in (1, 2, 4, 5, 7, 8, 10, 11):
        r = start(c, inbox, options=body_pref(1, size=size))
        body = body_of(r.adds[0])
        data = xtext(body, "AirSyncBase:Data", "")
        raw = data.encode("utf-8")
        # whole characters only, never more than asked for
        assert len(raw) <= size and len(raw) == (size // 3) * 3, \
            (size, data, r.resp)
        assert data == "\u20ac" * (size // 3)
        assert xtext(body, "AirSyncBase:Truncated") == "1"
        assert int(xtext(body, "AirSyncBase:EstimatedDataSize")) >= \
            len(text.encode()), r.resp
    # no truncation: all of it, not marked truncated
    r = start(c, inbox, options=body_pref(1))
    body = body_of(r.adds[0])
    assert xtext(body, "AirSyncBase:Data").rstrip("\r\n") == text
    assert xfind(body, "AirSyncBase:Truncated") is None


def test_mime_8bit_is_opaque(dc):
    c = new_account(dc, "mime8")
    c.opaque_as_base64 = True
    inbox = folders(c)[T_INBOX]
    raw = (b"From: a@example.test\r\nTo: " + c.user.encode() + b"\r\n"
           b"Subject: Eight bit\r\nMIME-Version: 1.0\r\n"
           b"Content-Type: text/plain; charset=iso-8859-1\r\n"
           b"Content-Transfer-Encoding: 8bit\r\n\r\n"
           b"Caf\xe9 cr\xe8me\r\n")
    dc.deliver(c.user, raw)
    seven = (b"From: a@example.test\r\nTo: " + c.user.encode() + b"\r\n"
             b"Subject: Seven bit\r\n\r\nplain ascii\r\n")
    dc.deliver(c.user, seven)
    r = start(c, inbox, options=body_pref(4))
    eight = r.add_by_subject("Eight bit")
    body = body_of(eight)
    assert xtext(body, "AirSyncBase:Type") == "4"
    data = base64.b64decode(mime_data(body))
    # byte for byte: the ISO-8859-1 bytes, not replaced or converted
    assert b"Caf\xe9 cr\xe8me" in data, data
    assert b"Subject: Eight bit" in data
    assert int(xtext(body, "AirSyncBase:EstimatedDataSize")) == len(data)
    # 7-bit MIME stays a string
    body = body_of(r.add_by_subject("Seven bit"))
    assert "plain ascii" in mime_data(body), r.resp
    assert "Subject: Seven bit" in mime_data(body)


def test_mime_12_1_8bit_is_opaque(dc):
    c = new_account(dc, "mime8v12", version="12.1")
    c.opaque_as_base64 = True
    inbox = folders(c)[T_INBOX]
    dc.deliver(c.user, b"From: a@example.test\r\nTo: " + c.user.encode() +
               b"\r\nSubject: Old 8bit\r\n\r\nGr\xc3\xbc\xc3\x9fe\r\n")
    opts = "<MIMESupport>2</MIMESupport>"
    r = sync(c, inbox, "0", options=opts, cls="Email").ok()
    r = sync(c, inbox, r.key, cls="Email").ok()
    body = body_of(r.adds[0])
    assert xtext(body, "AirSyncBase:Type") == "4", r.resp
    data = base64.b64decode(mime_data(body))
    assert "Gr\u00fc\u00dfe".encode() in data, data


def test_preview_plain_text(dc):
    c = new_account(dc, "preview")
    inbox = folders(c)[T_INBOX]
    html = ("<html><body><p>Hello   <b>bold</b>\r\n world, "
            "\u00e4\u00f6\u00fc and more text here</p></body></html>")
    msg = ("From: a@example.test\r\nTo: %s\r\nSubject: Prev\r\n"
           "MIME-Version: 1.0\r\n"
           "Content-Type: text/html; charset=utf-8\r\n"
           "Content-Transfer-Encoding: 8bit\r\n\r\n%s\r\n"
           % (c.user, html)).encode("utf-8")
    dc.deliver(c.user, msg)
    r = start(c, inbox, options=body_pref(2, size=10, preview=22))
    body = body_of(r.adds[0])
    # Preview is plain text, whitespace folded, at most 22 characters
    prev = xtext(body, "AirSyncBase:Preview")
    assert prev == "Hello bold world, \u00e4\u00f6\u00fc", (prev, r.resp)
    assert "<" not in prev and len(prev) <= 22
    assert xtext(body, "AirSyncBase:Type") == "2"
    assert xtext(body, "AirSyncBase:Truncated") == "1"
    # 12.1 has no Preview
    c12 = new_account(dc, "preview12", version="12.1")
    inbox12 = folders(c12)[T_INBOX]
    dc.deliver(c12.user, msg)
    r = start(c12, inbox12, options=body_pref(2, preview=22))
    assert xfind(body_of(r.adds[0]), "AirSyncBase:Preview") is None, r.resp


def test_broken_mime_and_unknown_charset_still_sync(dc):
    c = new_account(dc, "broken")
    inbox = folders(c)[T_INBOX]
    u = c.user.encode()
    # multipart without its closing boundary, bad base64, unknown charset
    broken = (b"From: a@example.test\r\nTo: " + u + b"\r\n"
              b"Subject: Broken multipart\r\nMIME-Version: 1.0\r\n"
              b"Content-Type: multipart/mixed; boundary=\"nope\"\r\n\r\n"
              b"--nope\r\nContent-Type: text/plain; charset=utf-8\r\n"
              b"Content-Transfer-Encoding: base64\r\n\r\n"
              b"SGVsbG8gd29ybGQ=\r\n!!!not base64!!!\r\n"
              b"--nope\r\nContent-Type: application/pdf; name=x.pdf\r\n"
              b"\r\n%PDF-1.4 truncated")
    unknown = (b"From: b@example.test\r\nTo: " + u + b"\r\n"
               b"Subject: Unknown charset\r\nMIME-Version: 1.0\r\n"
               b"Content-Type: text/plain; charset=x-no-such-charset\r\n"
               b"Content-Transfer-Encoding: 8bit\r\n\r\n"
               b"abc \xff\xfe\x80 def\r\n")
    bad_utf8 = (b"From: c@example.test\r\nTo: " + u + b"\r\n"
                b"Subject: Bad UTF-8\r\nMIME-Version: 1.0\r\n"
                b"Content-Type: text/plain; charset=utf-8\r\n"
                b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
                b"x=C3=28y =E2=82 z=\r\n")
    no_header = b"\r\njust a body without headers\r\n"
    for m in (broken, unknown, bad_utf8, no_header):
        dc.deliver(c.user, m)
    r = start(c, inbox, options=body_pref(1))
    # all four arrive; the response decoded cleanly (valid UTF-8)
    assert len(r.adds) == 4, r.resp
    b = body_of(r.add_by_subject("Broken multipart"))
    assert "Hello world" in xtext(b, "AirSyncBase:Data"), r.resp
    atts = xall(r.add_by_subject("Broken multipart"),
                "ApplicationData/AirSyncBase:Attachments/"
                "AirSyncBase:Attachment")
    assert [xtext(a, "AirSyncBase:DisplayName") for a in atts] == \
        ["x.pdf"], r.resp
    d = xtext(body_of(r.add_by_subject("Unknown charset")),
              "AirSyncBase:Data")
    assert d.startswith("abc ") and d.rstrip().endswith(" def"), d
    assert "\ufffd" in d, d
    d = xtext(body_of(r.add_by_subject("Bad UTF-8")), "AirSyncBase:Data")
    assert d.startswith("x") and "y" in d and "z" in d, d
    assert "\ufffd" in d, d


def test_attachments_and_inline_images(dc):
    c = new_account(dc, "inline")
    inbox = folders(c)[T_INBOX]
    msg = ("From: a@example.test\r\nTo: %s\r\nSubject: Related\r\n"
           "MIME-Version: 1.0\r\n"
           "Content-Type: multipart/mixed; boundary=\"mix\"\r\n\r\n"
           "--mix\r\n"
           "Content-Type: multipart/related; boundary=\"rel\"\r\n\r\n"
           "--rel\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
           "<html><body><img src=\"cid:logo@x\"> and "
           "<img src=\"cid:att@x\"></body></html>\r\n"
           "--rel\r\nContent-Type: image/png\r\n"
           "Content-ID: <logo@x>\r\n"
           "Content-Transfer-Encoding: base64\r\n\r\n"
           "iVBORw0KGgo=\r\n"
           "--rel--\r\n"
           "--mix\r\nContent-Type: image/gif; name=\"shown.gif\"\r\n"
           "Content-Disposition: attachment; filename=\"shown.gif\"\r\n"
           "Content-ID: <att@x>\r\n"
           "Content-Transfer-Encoding: base64\r\n\r\n"
           "R0lGODlh\r\n"
           "--mix\r\nContent-Type: application/pdf\r\n"
           "Content-Disposition: inline; filename=\"doc.pdf\"\r\n"
           "Content-Transfer-Encoding: base64\r\n\r\n"
           "JVBERi0xLjQK\r\n"
           "--mix\r\nContent-Type: image/jpeg\r\n"
           "Content-ID: <unused@x>\r\n"
           "Content-Disposition: attachment\r\n"
           "Content-Transfer-Encoding: base64\r\n\r\n"
           "/9j/4AAQ\r\n"
           "--mix--\r\n" % c.user).encode()
    dc.deliver(c.user, msg)
    r = start(c, inbox, options=body_pref(2))
    item = r.adds[0]
    sid = xtext(item, "ServerId")
    atts = xall(item, "ApplicationData/AirSyncBase:Attachments/"
                "AirSyncBase:Attachment")
    got = {}
    for a in atts:
        got[xtext(a, "AirSyncBase:FileReference")] = (
            xtext(a, "AirSyncBase:DisplayName"),
            xtext(a, "AirSyncBase:ContentId"),
            xtext(a, "AirSyncBase:IsInline"),
            xtext(a, "AirSyncBase:Method"),
            xtext(a, "AirSyncBase:EstimatedDataSize"))
    assert got == {
        # in multipart/related with a Content-ID: inline
        sid + ":1.2": ("attachment-1.2.png", "logo@x", "1", "1", "8"),
        # marked attachment, but the HTML shows it by cid: inline
        sid + ":2": ("shown.gif", "att@x", "1", "1", "6"),
        # "inline" without a Content-ID: nothing shows it, a normal one
        sid + ":3": ("doc.pdf", None, None, "1", "9"),
        # a Content-ID nobody refers to, marked attachment
        sid + ":4": ("attachment-4.jpg", "unused@x", None, "1", "6"),
    }, r.resp
