"""Sync bodies from the message structure: attachment sizes from the
encoded length (never decoded), MIME bodies byte for byte with the
structure (NativeBodyType, S/MIME class) taken from BODYSTRUCTURE, text
parts read at their offsets (quoted-printable, base64, charsets whose
characters straddle read blocks), plain text turned into HTML."""

import base64
import quopri
import re

from harness import body_pref, folders, new_account, start, T_INBOX, xall, \
    xfind, xtext

INSTANCE = dict(activesync=True)


def body_of(item):
    return xfind(item, "ApplicationData/AirSyncBase:Body")


def b64_lines(data, width):
    """base64 of data in lines of width characters, CRLF line ends."""
    enc = base64.b64encode(data).decode()
    return "\r\n".join(enc[i:i + width] for i in range(0, len(enc), width))


def imap_fetch(dc, c, item):
    """FETCH item of the only message in INBOX over IMAP; the raw
    response parts."""
    imap = dc.imap(c.user)
    try:
        imap.select("INBOX", readonly=True)
        typ, data = imap.fetch("1", item)
        assert typ == "OK", data
        return data
    finally:
        imap.logout()


def attachment_sizes(item):
    return {xtext(a, "AirSyncBase:DisplayName"):
            int(xtext(a, "AirSyncBase:EstimatedDataSize"))
            for a in xall(item, "ApplicationData/AirSyncBase:Attachments/"
                                "AirSyncBase:Attachment")}


def test_attachment_sizes_from_encoded_length(dc):
    c = new_account(dc, "attsizes")
    inbox = folders(c)[T_INBOX]
    blobs = {
        # all three base64 paddings, in the usual 76-character lines
        "pad0.bin": (bytes(range(256)) * 40)[:3000],
        "pad1.bin": (bytes(range(256)) * 40)[:3001],
        "pad2.bin": (bytes(range(256)) * 40)[:3002],
        # 64-character lines (PEM style), one long line, one byte
        "pem.bin": bytes(range(200)) * 7,
        "oneline.bin": b"x" * 500,
        "tiny.bin": b"\x01",
        "empty.bin": b"",
    }
    width = {"pem.bin": 64, "oneline.bin": 10000}
    parts = []
    for name, data in blobs.items():
        parts.append(
            "Content-Type: application/octet-stream; name=\"%s\"\r\n"
            "Content-Disposition: attachment; filename=\"%s\"\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\n%s\r\n"
            % (name, name, b64_lines(data, width.get(name, 76))))
    # a blank line after the base64 text
    parts.append("Content-Type: application/octet-stream\r\n"
                 "Content-Disposition: attachment; filename=\"blank.bin\"\r\n"
                 "Content-Transfer-Encoding: base64\r\n\r\n%s\r\n\r\n"
                 % b64_lines(b"blank line after me", 76))
    qp_text = "caf\u00e9 = cr\u00e8me " * 20
    qp = quopri.encodestring(qp_text.encode("utf-8")).decode()
    parts.append("Content-Type: text/csv; charset=utf-8\r\n"
                 "Content-Disposition: attachment; filename=\"qp.csv\"\r\n"
                 "Content-Transfer-Encoding: quoted-printable\r\n\r\n%s\r\n"
                 % qp.replace("\n", "\r\n").rstrip("\r\n"))
    seven = "line one\r\nline two\r\n"
    parts.append("Content-Type: text/plain\r\n"
                 "Content-Disposition: attachment; filename=\"seven.txt\"\r\n"
                 "\r\n%s" % seven)
    body = "".join("--b\r\n" + p for p in parts)
    msg = ("From: a@example.test\r\nTo: %s\r\nSubject: Sizes\r\n"
           "MIME-Version: 1.0\r\n"
           "Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n"
           "--b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n"
           "%s--b--\r\n" % (c.user, body))
    dc.deliver(c.user, msg)
    r = start(c, inbox, options=body_pref(2))
    got = attachment_sizes(r.adds[0])
    want = {name: len(data) for name, data in blobs.items()}
    want["blank.bin"] = len(b"blank line after me")
    want["qp.csv"] = len(qp_text.encode("utf-8"))
    # the part's lines (CRLF), without the CRLF before the boundary
    want["seven.txt"] = len(seven) - 2
    assert got == want, (got, want)
    # what Dovecot's own decoder says (IMAP BINARY) for the parts not
    # in base64: 10 is qp.csv, 11 seven.txt
    data = imap_fetch(dc, c, "(BINARY.SIZE[10] BINARY.SIZE[11])")
    sizes = [int(x) for x in re.findall(rb"BINARY\.SIZE\[\d+\] (\d+)",
                                         data[0])]
    assert sizes == [want["qp.csv"], want["seven.txt"]], data


def test_attachment_size_irregular_base64_is_close(dc):
    c = new_account(dc, "attirregular")
    inbox = folders(c)[T_INBOX]
    data = bytes(range(256)) * 100
    enc = base64.b64encode(data).decode()
    # lines of changing lengths: the size from the first line's length
    # is an estimate, but a close one
    lines, i, w = [], 0, 40
    while i < len(enc):
        lines.append(enc[i:i + w])
        i += w
        w = 76 if w == 40 else 40
    msg = ("From: a@example.test\r\nTo: %s\r\nSubject: Irregular\r\n"
           "MIME-Version: 1.0\r\n"
           "Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n"
           "--b\r\nContent-Type: text/plain\r\n\r\ntext\r\n"
           "--b\r\nContent-Type: image/png\r\n"
           "Content-Disposition: attachment; filename=\"odd.png\"\r\n"
           "Content-Transfer-Encoding: base64\r\n\r\n%s\r\n--b--\r\n"
           % (c.user, "\r\n".join(lines)))
    dc.deliver(c.user, msg)
    r = start(c, inbox, options=body_pref(1))
    size = attachment_sizes(r.adds[0])["odd.png"]
    assert abs(size - len(data)) <= len(data) * 0.03, (size, len(data))


def test_mime_body_is_the_message_byte_for_byte(dc):
    c = new_account(dc, "mimebytes")
    c.opaque_as_base64 = True
    inbox = folders(c)[T_INBOX]
    att = bytes(range(256)) * 30
    msg = ("From: a@example.test\r\nTo: %s\r\nSubject: Whole\r\n"
           "MIME-Version: 1.0\r\n"
           "Content-Type: multipart/mixed; boundary=\"o\"\r\n\r\n"
           "--o\r\nContent-Type: multipart/alternative; boundary=\"i\"\r\n"
           "\r\n--i\r\nContent-Type: text/plain; charset=utf-8\r\n"
           "Content-Transfer-Encoding: 8bit\r\n\r\nGr\u00fc\u00dfe\r\n"
           "--i\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
           "<p>Gr\u00fc\u00dfe</p>\r\n--i--\r\n"
           "--o\r\nContent-Type: application/octet-stream\r\n"
           "Content-Disposition: attachment; filename=\"a.bin\"\r\n"
           "Content-Transfer-Encoding: base64\r\n\r\n%s\r\n--o--\r\n"
           % (c.user, b64_lines(att, 76))).encode("utf-8")
    dc.deliver(c.user, msg)
    signed = ("From: s@example.test\r\nTo: %s\r\nSubject: Signed\r\n"
              "MIME-Version: 1.0\r\n"
              "Content-Type: multipart/signed; "
              "protocol=\"application/pkcs7-signature\"; boundary=\"s\"\r\n"
              "\r\n--s\r\nContent-Type: text/plain\r\n\r\nsigned text\r\n"
              "--s\r\nContent-Type: application/pkcs7-signature; "
              "name=smime.p7s\r\nContent-Transfer-Encoding: base64\r\n\r\n"
              "MIAGCSqGSIb3DQEHAqCAMIACAQExCzAJBgUrDgMCGgUA\r\n--s--\r\n"
              % c.user)
    dc.deliver(c.user, signed)
    r = start(c, inbox, options=body_pref(4))
    item = r.add_by_subject("Whole")
    body = body_of(item)
    data = base64.b64decode(xtext(body, "AirSyncBase:Data"))
    stored = imap_fetch(dc, c, "(BODY.PEEK[])")[0][1]
    assert data == stored, (len(data), len(stored))
    assert int(xtext(body, "AirSyncBase:EstimatedDataSize")) == len(stored)
    assert xfind(body, "AirSyncBase:Truncated") is None
    # the structure without the body: HTML inside, no attachment list
    # with MIME (the device has them in the message)
    assert xtext(item, "ApplicationData/AirSyncBase:NativeBodyType") == "2"
    assert xfind(item, "ApplicationData/AirSyncBase:Attachments") is None
    assert xtext(item, "ApplicationData/Email:MessageClass") == "IPM.Note"
    s = r.add_by_subject("Signed")
    assert xtext(s, "ApplicationData/Email:MessageClass") == \
        "IPM.Note.SMIME.MultipartSigned", r.resp
    assert xtext(s, "ApplicationData/AirSyncBase:NativeBodyType") == "1"
    # truncated MIME: the first bytes of the same message
    r = start(c, inbox, options=body_pref(4, size=100))
    body = body_of(r.add_by_subject("Whole"))
    part = xtext(body, "AirSyncBase:Data")
    assert part.encode() == stored[:100].strip(), (part, stored[:100])
    assert xtext(body, "AirSyncBase:Truncated") == "1"
    assert int(xtext(body, "AirSyncBase:EstimatedDataSize")) == len(stored)


def test_text_parts_decoded_at_their_offsets(dc):
    c = new_account(dc, "textparts")
    inbox = folders(c)[T_INBOX]
    # quoted-printable UTF-8 HTML, cut in the middle of a character
    html = "<p>" + "\u00e9\u20ac" * 50 + "</p>"
    qp = quopri.encodestring(html.encode("utf-8")).decode()
    dc.deliver(c.user, (
        "From: a@example.test\r\nTo: %s\r\nSubject: QP html\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: multipart/alternative; boundary=\"x\"\r\n\r\n"
        "--x\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nplain\r\n"
        "--x\r\nContent-Type: text/html; charset=utf-8\r\n"
        "Content-Transfer-Encoding: quoted-printable\r\n\r\n%s\r\n"
        "--x--\r\n" % (c.user, qp.replace("\n", "\r\n").rstrip("\r\n"))))
    # a large EUC-JP text in base64: its two-byte characters straddle
    # the blocks the part is read and converted in
    jp = ("\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8 abc " * 2000)
    enc = b64_lines(jp.encode("euc-jp"), 76)
    dc.deliver(c.user, (
        "From: b@example.test\r\nTo: %s\r\nSubject: EUC-JP\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=euc-jp\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\n%s\r\n" % (c.user, enc)))
    # plain only, asked for as HTML: escaped, line breaks kept
    dc.deliver(c.user, (
        "From: d@example.test\r\nTo: %s\r\nSubject: To HTML\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "\r\na < b & \"c\" > d\r\nnext line\r\n" % c.user))

    r = start(c, inbox, options=body_pref(2, size=21))
    body = body_of(r.add_by_subject("QP html"))
    data = xtext(body, "AirSyncBase:Data")
    raw = data.encode("utf-8")
    # "<p>" and 5 bytes per pair: byte 21 is inside the 4th euro sign,
    # which is left out whole
    assert raw == html.encode("utf-8")[:20], data
    assert xtext(body, "AirSyncBase:Truncated") == "1"
    assert int(xtext(body, "AirSyncBase:EstimatedDataSize")) == \
        len(html.encode("utf-8")), r.resp

    r = start(c, inbox, options=body_pref(1))
    body = body_of(r.add_by_subject("EUC-JP"))
    # (the XML side loses the final space)
    assert xtext(body, "AirSyncBase:Data") == jp.rstrip(), \
        "EUC-JP text differs"
    assert int(xtext(body, "AirSyncBase:EstimatedDataSize")) == \
        len(jp.encode("utf-8"))

    r = start(c, inbox, options=body_pref(2))
    item = r.add_by_subject("To HTML")
    data = xtext(body_of(item), "AirSyncBase:Data")
    assert "a &lt; b &amp; &quot;c&quot; &gt; d<br>\nnext line<br>\n" \
        in data, data
    assert "\r" not in data and data.endswith("</body></html>"), data
    assert xtext(item, "ApplicationData/AirSyncBase:NativeBodyType") == "1"


def test_utf8_check_keeps_valid_and_replaces_invalid(dc):
    c = new_account(dc, "utf8check")
    inbox = folders(c)[T_INBOX]
    valid = "ascii \u00e9 \u20ac \U0001f600 end"
    # overlong '/', a UTF-16 surrogate, a code point above U+10FFFF,
    # a lone continuation byte, a cut 3-byte sequence: each invalid
    bad = [b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\x80",
           b"\xe2\x82"]
    raw = valid.encode("utf-8") + b" | " + b" | ".join(bad) + b" | tail"
    dc.deliver(c.user, (
        b"From: a@example.test\r\nTo: " + c.user.encode() + b"\r\n"
        b"Subject: Check\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n\r\n" + raw + b"\r\n"))
    r = start(c, inbox, options=body_pref(1))
    data = xtext(body_of(r.adds[0]), "AirSyncBase:Data")
    # the valid text (4-byte character included) unchanged
    assert data.startswith(valid + " | "), data
    assert data.endswith(" | tail"), data
    # nothing of the invalid sequences survives, each is replaced
    middle = data[len(valid) + 3:-len(" | tail")]
    for piece in middle.split(" | "):
        assert piece and set(piece) == {"\ufffd"}, (piece, data)
