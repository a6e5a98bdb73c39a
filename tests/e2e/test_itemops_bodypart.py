"""ItemOperations Fetch with Options/Schema (only the listed properties,
MS-ASCMD 2.2.3.158) and BodyPartPreference / BodyPart (the HTML body of
the message, MS-ASAIRS 2.2.2.10/2.2.2.11, 14.1+)."""

import html

from harness import body_pref, folders, new_account, start, T_INBOX, xall, \
    xfind, xml_escape, xrequire, xtext

INSTANCE = dict(activesync=True)

# 2 + 3 bytes per char: a cut at 10 bytes must not split "é" or "€"
HTML_BODY = ("<html><body><p>Caf\u00e9 \u20ac and <b>more</b></p>"
             "<p>Second paragraph with some words.</p></body></html>")
PLAIN_ALT = "Caf\u00e9 \u20ac and more\n\nSecond paragraph with some words.\n"


def html_message(to, subject):
    return ("From: Alice <alice@example.test>\r\nTo: %s\r\n"
            "Subject: %s\r\nMIME-Version: 1.0\r\n"
            "Content-Type: multipart/alternative; boundary=\"alt\"\r\n\r\n"
            "--alt\r\nContent-Type: text/plain; charset=utf-8\r\n"
            "Content-Transfer-Encoding: 8bit\r\n\r\n%s\r\n"
            "--alt\r\nContent-Type: text/html; charset=utf-8\r\n"
            "Content-Transfer-Encoding: 8bit\r\n\r\n%s\r\n"
            "--alt--\r\n" % (to, subject, PLAIN_ALT, HTML_BODY)
            ).encode("utf-8")


def plain_message(to, subject, body):
    return ("From: Bob <bob@example.test>\r\nTo: %s\r\nSubject: %s\r\n"
            "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8"
            "\r\n\r\n%s" % (to, subject, body)).encode("utf-8")


def itemops(c, body_xml):
    return c.request_provisioned(
        "ItemOperations",
        '<ItemOperations xmlns="ItemOperations:" xmlns:airsync="AirSync:" '
        'xmlns:airsyncbase="AirSyncBase:" xmlns:email="Email:">%s'
        '</ItemOperations>' % body_xml)


def fetch(c, coll, sid, options):
    r = itemops(c, "<Fetch><Store>Mailbox</Store><airsync:CollectionId>%s"
                "</airsync:CollectionId><airsync:ServerId>%s"
                "</airsync:ServerId><Options>%s</Options></Fetch>"
                % (coll, sid, options))
    assert r.status == 200, r
    return r


def fetched(r):
    assert xrequire(r, "ItemOperations/Status") == "1", r
    f = xall(r, "ItemOperations/Response/Fetch")
    assert len(f) == 1 and xtext(f[0], "Status") == "1", r
    return f[0]


def prop_names(f):
    props = xfind(f, "Properties")
    assert props is not None, f
    return [child.tag.split("}")[-1] for child in props]


def schema(*props):
    return "<Schema>%s</Schema>" % "".join("<%s/>" % p for p in props)


def body_part_pref(btype=2, size=None, all_or_none=None, preview=None):
    return body_pref(btype, size, all_or_none, preview,
                     element="BodyPartPreference")


def setup(dc, tag, version):
    c = new_account(dc, tag, version=version)
    dc.deliver(c.user, html_message(c.user, "Rich mail"))
    dc.deliver(c.user, plain_message(c.user, "Plain mail",
                                     "Just <text> & more.\n"))
    inbox = folders(c)[T_INBOX]
    r = start(c, inbox, options=body_pref(1))
    sids = {xtext(a, "ApplicationData/Email:Subject"): xtext(a, "ServerId")
            for a in r.adds}
    return c, inbox, sids


def check_schema(dc, version):
    c, inbox, sids = setup(dc, "schema" + version.replace(".", ""),
                           version)
    sid = sids["Rich mail"]
    # no Schema: everything
    full = prop_names(fetched(fetch(c, inbox, sid, body_pref(1))))
    assert {"Subject", "From", "To", "Body", "Read"} <= set(full), full
    # only what is listed, in the server's order
    f = fetched(fetch(c, inbox, sid, schema("email:Subject",
                                            "email:From")))
    assert prop_names(f) == ["From", "Subject"], prop_names(f)
    assert xtext(f, "Properties/Email:Subject") == "Rich mail"
    f = fetched(fetch(c, inbox, sid, schema(
        "email:Subject", "airsyncbase:Body", "email:Read") + body_pref(1)))
    assert sorted(prop_names(f)) == ["Body", "Read", "Subject"], \
        prop_names(f)
    assert xtext(f, "Properties/AirSyncBase:Body/AirSyncBase:Data"
                 ).startswith("Caf\u00e9 \u20ac")
    # a property the mail doesn't have gives nothing, not an error
    f = fetched(fetch(c, inbox, sid, schema("email:Cc")))
    assert prop_names(f) == [], prop_names(f)


def test_schema_14_1(dc):
    check_schema(dc, "14.1")


def test_schema_16_1(dc):
    check_schema(dc, "16.1")


def test_schema_12_1(dc):
    check_schema(dc, "12.1")


def body_part(f):
    bp = xfind(f, "Properties/AirSyncBase:BodyPart")
    assert bp is not None, f
    return bp


def check_body_part(dc, version):
    c, inbox, sids = setup(dc, "bodypart" + version.replace(".", ""),
                           version)
    sid = sids["Rich mail"]
    full_size = len(HTML_BODY.encode("utf-8"))

    f = fetched(fetch(c, inbox, sid, body_pref(1) + body_part_pref()))
    bp = body_part(f)
    assert [ch.tag.split("}")[-1] for ch in bp] == \
        ["Status", "Type", "EstimatedDataSize", "Data"], list(bp)
    assert xtext(bp, "Status") == "1" and xtext(bp, "Type") == "2"
    assert xtext(bp, "EstimatedDataSize") == str(full_size)
    assert xtext(bp, "Data") == HTML_BODY
    # the Body is still there, as BodyPreference asked
    assert xtext(f, "Properties/AirSyncBase:Body/AirSyncBase:Type") == "1"

    # truncated at 10 bytes: "<html><bo" ... never half a character
    f = fetched(fetch(c, inbox, sid, body_part_pref(size=10, preview=12)))
    bp = body_part(f)
    assert xtext(bp, "Truncated") == "1", list(bp)
    assert xtext(bp, "Data") == HTML_BODY.encode("utf-8")[:10].decode()
    assert xtext(bp, "Preview") == "Caf\u00e9 \u20ac and m", xtext(
        bp, "Preview")
    cut = HTML_BODY.index("\u00e9") + 1      # inside the 2-byte é
    f = fetched(fetch(c, inbox, sid, body_part_pref(size=cut)))
    data = xtext(body_part(f), "Data")
    assert data == HTML_BODY[:HTML_BODY.index("\u00e9")], data
    # AllOrNone and too large: no Data, Truncated
    f = fetched(fetch(c, inbox, sid, body_part_pref(size=10,
                                                    all_or_none=1)))
    bp = body_part(f)
    assert xfind(bp, "Data") is None and xtext(bp, "Truncated") == "1"
    assert xtext(bp, "EstimatedDataSize") == str(full_size)
    # AllOrNone and small enough: all of it
    f = fetched(fetch(c, inbox, sid, body_part_pref(size=full_size,
                                                    all_or_none=1)))
    assert xtext(body_part(f), "Data") == HTML_BODY

    # a plain-text mail is converted to HTML
    f = fetched(fetch(c, inbox, sids["Plain mail"], body_part_pref()))
    data = xtext(body_part(f), "Data")
    assert html.escape("Just <text> & more.", quote=False) in data, data

    # with a Schema: the listed properties and the BodyPart
    f = fetched(fetch(c, inbox, sid, schema("email:Subject") +
                      body_part_pref(size=20)))
    assert prop_names(f) == ["Subject", "BodyPart"], prop_names(f)


def test_body_part_14_1(dc):
    check_body_part(dc, "14.1")


def test_body_part_16_1(dc):
    check_body_part(dc, "16.1")


def test_body_part_bad_requests(dc):
    c, inbox, sids = setup(dc, "bodypartbad", "16.1")
    sid = sids["Rich mail"]
    mark = dc.log_offset()
    # only HTML parts: common Status 164, nothing fetched
    r = fetch(c, inbox, sid, body_part_pref(btype=1))
    assert xrequire(r, "ItemOperations/Status") == "164", r
    assert xfind(r, "ItemOperations/Response") is None, r
    dc.wait_for_log_text(mark, "ItemOperations: Status 164")
    # malformed: Status 2
    r = fetch(c, inbox, sid, "<airsyncbase:BodyPartPreference>"
              "<airsyncbase:TruncationSize>5</airsyncbase:TruncationSize>"
              "</airsyncbase:BodyPartPreference>")
    assert xrequire(r, "ItemOperations/Status") == "2", r
    r = fetch(c, inbox, sid, body_part_pref(preview=300))
    assert xrequire(r, "ItemOperations/Status") == "2", r
    # not part of 14.0 and 12.1
    for version in ("14.0", "12.1"):
        c2, inbox2, sids2 = setup(dc, "bodypartold" +
                                  version.replace(".", ""), version)
        r = fetch(c2, inbox2, sids2["Rich mail"], body_part_pref())
        assert xrequire(r, "ItemOperations/Status") == "2", (version, r)


def test_body_part_too_large(dc):
    """A body larger than the server converts (4 MB): Status 176 unless
    the client asks for no more than that."""
    c = new_account(dc, "bodypartbig", version="16.1")
    para = "<p>%s</p>\n" % ("x" * 1000)
    big = "<html><body>%s</body></html>" % (para * 5000)   # ~5 MB
    msg = ("From: a@example.test\r\nTo: %s\r\nSubject: Huge\r\n"
           "MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8"
           "\r\n\r\n%s" % (c.user, big)).encode()
    dc.deliver(c.user, msg)
    inbox = folders(c)[T_INBOX]
    r = start(c, inbox, options=body_pref(1, size=100))
    sid = xtext(r.adds[0], "ServerId")
    bp = body_part(fetched(fetch(c, inbox, sid, body_part_pref())))
    assert xtext(bp, "Status") == "176", list(bp)
    assert xfind(bp, "Data") is None
    assert int(xtext(bp, "EstimatedDataSize")) >= len(big) - 1000
    bp = body_part(fetched(fetch(c, inbox, sid, body_part_pref(size=100))))
    assert xtext(bp, "Status") == "1" and xtext(bp, "Truncated") == "1"
    assert xtext(bp, "Data") == big[:100]


def test_schema_multipart(dc):
    """Multipart responses: the Body's data goes as a part only when the
    Schema returns the Body."""
    from test_itemops import parse_multipart
    c, inbox, sids = setup(dc, "schemamp", "16.1")
    sid = sids["Rich mail"]
    xml = ("<Fetch><Store>Mailbox</Store><airsync:CollectionId>%s"
           "</airsync:CollectionId><airsync:ServerId>%s</airsync:ServerId>"
           "<Options>%%s</Options></Fetch>" % (inbox, sid))
    ns = ('<ItemOperations xmlns="ItemOperations:" xmlns:airsync='
          '"AirSync:" xmlns:airsyncbase="AirSyncBase:" xmlns:email='
          '"Email:">%s</ItemOperations>')
    r = c.request_provisioned(
        "ItemOperations", ns % (xml % (schema("email:Subject",
                                              "airsyncbase:Body") +
                                       body_pref(1))),
        headers={"MS-ASAcceptMultiPart": "T"})
    doc, parts = parse_multipart(r)
    f = xall(doc, "ItemOperations/Response/Fetch")[0]
    assert prop_names(f) == ["Subject", "Body"], prop_names(f)
    p = int(xtext(f, "Properties/AirSyncBase:Body/ItemOperations:Part"))
    assert parts[p].decode("utf-8").startswith("Caf\u00e9 \u20ac")
    # Body not in the Schema: no part for it
    r = c.request_provisioned(
        "ItemOperations", ns % (xml % (schema("email:Subject") +
                                       body_pref(1))),
        headers={"MS-ASAcceptMultiPart": "T"})
    doc, parts = parse_multipart(r)
    f = xall(doc, "ItemOperations/Response/Fetch")[0]
    assert prop_names(f) == ["Subject"], prop_names(f)
    assert len(parts) == 1
