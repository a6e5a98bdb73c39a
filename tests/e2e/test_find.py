"""Find (MS-ASCMD 2.2.1.2, 16.1): a mailbox search by the KQL FreeText
clients send (words, from:, to:, subject:, hasattachments:, received
ranges), scoped by CollectionId with DeepTraversal, Range paging, the
16.1 result shape, a GAL search through GalSearchCriterion, and bad
requests.  libwbxml2 has no Find code page: requests and responses go
through our codec only (its other commands are cross-checked)."""

from harness import new_account, our_encode, xall, xfind, xml_escape, \
    xrequire, xtext

INSTANCE = dict(activesync=True, passwd_single=True,
                plugin_settings={"activesync_gal_refresh_interval": "1 s"})

FIND_NS = 'xmlns="Find:" xmlns:airsync="AirSync:"'

ATTACHED = (
    "From: Carol Attach <carol@files.test>\r\nTo: me@example.test\r\n"
    "Subject: Quarterly figures\r\n"
    "Date: Mon, 03 Feb 2025 10:00:00 +0000\r\nMIME-Version: 1.0\r\n"
    'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n'
    "--b1\r\nContent-Type: text/plain\r\n\r\nSee the zebrafigures.\r\n"
    "--b1\r\nContent-Type: application/pdf; name=\"q.pdf\"\r\n"
    "Content-Disposition: attachment; filename=\"q.pdf\"\r\n"
    "Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--b1--\r\n")


def plain(sender, subject, body, date, to="me@example.test", cc=None):
    return ("From: %s\r\nTo: %s\r\n%sSubject: %s\r\nDate: %s\r\n"
            "MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\n%s\r\n"
            % (sender, to, "Cc: %s\r\n" % cc if cc else "", subject, date,
               body))


def setup(dc):
    c = new_account(dc, "find", version="16.1")
    c.our_codec_only = True
    c.provision()
    imap = dc.imap(c.user, c.password)
    try:
        assert imap.create('"Archive"')[0] == "OK"
        assert imap.create('"Archive/2024"')[0] == "OK"
    finally:
        imap.logout()
    # INTERNALDATE follows Date (imap_append gives none: use APPEND's)
    msgs = [
        ("INBOX", plain("Alice Zebra <alice@zoo.test>", "Lunch zebra plan",
                        "Shall we meet for zebra lunch?",
                        "Wed, 15 Jan 2025 12:00:00 +0000",
                        cc="Dave <dave@zoo.test>"), "15-Jan-2025"),
        ("INBOX", plain("Bob <bob@build.test>", "Zebra crossing",
                        "The zebra crossing is fixed.",
                        "Mon, 10 Mar 2025 09:00:00 +0000"), "10-Mar-2025"),
        ("INBOX", ATTACHED, "03-Feb-2025"),
        ("Archive/2024", plain("Alice Zebra <alice@zoo.test>",
                               "Old zebra notes", "Archived zebra text.",
                               "Tue, 10 Dec 2024 08:00:00 +0000"),
         "10-Dec-2024"),
    ]
    imap = dc.imap(c.user, c.password)
    try:
        for box, msg, day in msgs:
            typ, data = imap.append('"%s"' % box, None,
                                    '"%s 12:00:00 +0000"' % day,
                                    msg.encode())
            assert typ == "OK", data
    finally:
        imap.logout()
    c.foldersync()
    return c


def find(c, inner, status="1"):
    x = ('<Find %s><SearchId>%s</SearchId><ExecuteSearch>%s'
         '</ExecuteSearch></Find>' % (FIND_NS, "A1B2C3D4-0000-1111",
                                      inner))
    r = c.request("Find", body=our_encode(x, c.builddir))
    assert r.status == 200, r
    assert xrequire(r, "Find/Status") == status, r
    return r


def mailbox(free_text, scope="", options=""):
    return ("<MailBoxSearchCriterion><Query><airsync:Class>Email"
            "</airsync:Class>%s<FreeText>%s</FreeText></Query>"
            "<Options>%s</Options></MailBoxSearchCriterion>"
            % (scope, xml_escape(free_text), options))


def subjects(r):
    assert xtext(r, "Response/Status") == "1", r
    return [xtext(x, "Properties/Email:Subject")
            for x in xall(r, "Response/Result")]


def folder_id(c, name):
    r = c.request_provisioned(
        "FolderSync", '<FolderSync xmlns="FolderHierarchy:"><SyncKey>0'
        '</SyncKey></FolderSync>')
    for add in xall(r, "Changes/Add"):
        if xtext(add, "FolderHierarchy:DisplayName") == name:
            return xtext(add, "FolderHierarchy:ServerId")
    raise AssertionError("no folder %s: %r" % (name, r))


def test_find_mailbox(dc):
    c = setup(dc)
    r = find(c, mailbox("zebra", options="<Range>0-9</Range>"))
    # newest first, every folder
    assert subjects(r) == ["Zebra crossing", "Quarterly figures",
                           "Lunch zebra plan", "Old zebra notes"], r
    assert xtext(r, "Response/Total") == "4", r
    assert xtext(r, "Response/Range") == "0-3", r
    first = xfind(r, "Response/Result")
    assert xtext(first, "AirSync:Class") == "Email", r
    assert ":" in xtext(first, "AirSync:ServerId"), r
    props = xfind(first, "Properties")
    assert xtext(props, "Email:From") == "Bob <bob@build.test>", r
    assert xtext(props, "Email:DateReceived") == \
        "2025-03-10T12:00:00.000Z", r
    assert xtext(props, "Email:Read") == "0", r
    assert xtext(props, "HasAttachments") == "0", r
    assert "zebra crossing is fixed" in xtext(props, "Preview"), r

    cases = [
        ("from:alice@zoo.test", ["Lunch zebra plan", "Old zebra notes"]),
        ("from:alice zebra subject:lunch", ["Lunch zebra plan"]),
        ('subject:"zebra crossing"', ["Zebra crossing"]),
        ("cc:dave", ["Lunch zebra plan"]),
        ("hasattachments:true", ["Quarterly figures"]),
        ("zebra hasattachments:false",
         ["Zebra crossing", "Lunch zebra plan", "Old zebra notes"]),
        ("received>=2025-02-01 zebra",
         ["Zebra crossing", "Quarterly figures"]),
        ("received<2025-01-01 zebra", ["Old zebra notes"]),
        ("received:2025-01-15", ["Lunch zebra plan"]),
        ("received:2025-01-01..2025-02-28 AND zebra",
         ["Quarterly figures", "Lunch zebra plan"]),
        ("received>=1/1/2025 received<=1/31/2025", ["Lunch zebra plan"]),
        ("nosuchwordanywhere", []),
    ]
    for text, want in cases:
        r = find(c, mailbox(text))
        assert subjects(r) == want, (text, r)
        assert xtext(r, "Response/Total") == str(len(want)), (text, r)

    # the attachment shows in the result
    r = find(c, mailbox("hasattachments:true"))
    assert xtext(r, "Response/Result/Properties/HasAttachments") == "1", r

    # scope: Archive alone finds nothing, with DeepTraversal its child
    archive = "<airsync:CollectionId>%s</airsync:CollectionId>" % \
        folder_id(c, "Archive")
    assert subjects(find(c, mailbox("zebra", archive))) == []
    assert subjects(find(c, mailbox("zebra", archive,
                                    "<DeepTraversal/>"))) == \
        ["Old zebra notes"]

    # paging
    r = find(c, mailbox("zebra", options="<Range>1-2</Range>"))
    assert subjects(r) == ["Quarterly figures", "Lunch zebra plan"], r
    assert xtext(r, "Response/Range") == "1-2", r
    assert xtext(r, "Response/Total") == "4", r


def test_find_gal(dc):
    dc.add_users({"finder.gal-%d@example.test" % i:
                  ("pw", {"activesync_user_display_name":
                          "Xylo%dFinder" % i}) for i in range(3)})
    c = setup(dc)
    r = find(c, "<GalSearchCriterion><Query><FreeText>xylo</FreeText>"
             "</Query><Options><Range>0-1</Range></Options>"
             "</GalSearchCriterion>")
    assert xtext(r, "Response/Status") == "1", r
    results = xall(r, "Response/Result")
    assert len(results) == 2, r
    assert xtext(r, "Response/Total") == "3", r
    names = [xtext(x, "Properties/GAL:DisplayName") for x in results]
    assert all(n.startswith("Xylo") for n in names), r


def test_find_bad_requests(dc):
    c = setup(dc)
    mark = dc.log_offset()
    cases = [
        ("", "2"),
        (mailbox(""), "2"),
        (mailbox('"unbalanced'), "2"),
        (mailbox("zebra OR lunch"), "2"),
        (mailbox("received>=yesterday"), "2"),
        (mailbox("hasattachments:maybe"), "2"),
        (mailbox("zebra", options="<Range>5-2</Range>"), "4"),
        (mailbox("zebra", options="<Range>0-1000</Range>"), "4"),
        (mailbox("zebra", "<airsync:CollectionId>9999</airsync:CollectionId>"),
         "3"),
        (mailbox("zebra") + "<GalSearchCriterion><Query><FreeText>x"
         "</FreeText></Query></GalSearchCriterion>", "2"),
    ]
    for inner, status in cases:
        r = find(c, inner, status=status)
        assert xfind(r, "Response") is None, (inner, r)
    # no SearchId
    x = ('<Find %s><ExecuteSearch>%s</ExecuteSearch></Find>'
         % (FIND_NS, mailbox("zebra")))
    r = c.request("Find", body=our_encode(x, c.builddir))
    assert xrequire(r, "Find/Status") == "2", r
    assert "Find Status 2: FreeText: OR is not supported" in \
        dc.log_since(mark)
