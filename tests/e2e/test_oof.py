"""Settings Oof (MS-ASCMD Settings Oof Get/Set) on 14.1 and 16.1, kept
as a Sieve vacation script: set from the device, read back over
ManageSieve, answered by LMTP's Sieve with the right message for
internal and external senders (the reply captured by an SMTP sink that
is lmtp's submission_host), the user's own active script kept running
and given back when OOF goes off, the time window, and bad requests."""

import time

from harness import SmtpSink, imap_append, imap_session, managesieve, \
    new_account, set_folder_type, xall, xfind, \
    xml_escape, xrequire, xtext

SINK = SmtpSink()

INSTANCE = dict(
    activesync=True, sieve=True,
    extra_conf="submission_host = 127.0.0.1:%d\nsubmission_timeout = 20s"
    % SINK.port)

VERSIONS = ("14.1", "16.1")
SCRIPT = "activesync-oof"
_serial = [0]


def settings(c, inner):
    r = c.request("Settings", '<Settings xmlns="Settings:">%s</Settings>'
                  % inner)
    assert r.status == 200, r
    assert xrequire(r, "Settings/Status") == "1", r
    return r


def message_xml(audience, enabled, text=None, body_type="Text"):
    x = "<OofMessage><%s/><Enabled>%d</Enabled>" % (audience, enabled)
    if text is not None:
        x += "<ReplyMessage>%s</ReplyMessage>" % xml_escape(text)
    if body_type is not None:
        x += "<BodyType>%s</BodyType>" % body_type
    return x + "</OofMessage>"


def oof_set(c, state, messages="", start=None, end=None):
    x = "<Oof><Set><OofState>%d</OofState>" % state
    if start is not None:
        x += "<StartTime>%s</StartTime>" % start
    if end is not None:
        x += "<EndTime>%s</EndTime>" % end
    r = settings(c, x + messages + "</Set></Oof>")
    return xrequire(r, "Oof/Status")


def oof_get(c, body_type="Text"):
    r = settings(c, "<Oof><Get><BodyType>%s</BodyType></Get></Oof>"
                 % body_type)
    assert xrequire(r, "Oof/Status") == "1", r
    msgs = {}
    for m in xall(r, "Oof/Get/OofMessage"):
        names = [e.tag.split("}")[-1] for e in m]
        audience = [n for n in names if n.startswith("AppliesTo")]
        assert len(audience) == 1, names
        msgs[audience[0]] = (xtext(m, "Enabled"), xtext(m, "ReplyMessage"),
                             xtext(m, "BodyType"))
    return r, xrequire(r, "Oof/Get/OofState"), msgs


def account(dc, tag, version):
    SINK.start()
    c = new_account(dc, "oof-%s-%s" % (tag, version.replace(".", "")),
                    version=version)
    c.provision()
    return c


def mail_from(dc, c, sender, subject):
    msg = ("From: %s\r\nTo: %s\r\nSubject: %s\r\n"
           "Message-ID: <%s@test>\r\n\r\nAre you there?\r\n"
           % (sender, c.user, subject, subject.replace(" ", "-")))
    dc.deliver(c.user, msg, sender=sender)


def replies_to(sender, marker, timeout=10):
    """The messages the sink got for sender containing marker."""
    deadline = time.time() + timeout
    while True:
        found = [m for m in SINK.find(marker)
                 if any(sender in r for r in m["rcpts"])]
        if found or time.time() > deadline:
            return found
        time.sleep(0.2)


def unique(what):
    _serial[0] += 1
    return "%s-%d-%d" % (what, _serial[0], int(time.time()))


def test_oof_set_get_sieve_and_reply(dc):
    for version in VERSIONS:
        c = account(dc, "basic", version)
        domain = c.user.split("@")[1]
        internal, external = unique("Internal-note"), unique("External-note")
        status = oof_set(c, 1, message_xml("AppliesToInternal", 1, internal)
                         + message_xml("AppliesToExternalUnknown", 1,
                                       external + " <&> \"q\" \\ end"))
        assert status == "1"

        r, state, msgs = oof_get(c)
        assert state == "1", r
        assert msgs["AppliesToInternal"] == ("1", internal, "Text"), msgs
        assert msgs["AppliesToExternalUnknown"] == (
            "1", external + " <&> \"q\" \\ end", "Text"), msgs
        assert msgs["AppliesToExternalKnown"][0] == "0", msgs
        assert xfind(r, "Oof/Get/StartTime") is None, r

        # the same reply as every Sieve client sees it
        with managesieve(dc, c.user) as ms:
            scripts = dict(ms.listscripts())
            assert scripts.get(SCRIPT) is True, scripts
            text = ms.getscript(SCRIPT)
        assert "vacation" in text and internal in text, text
        assert ('address :domain :is "from" "%s"' % domain) in text, text

        # an external sender gets the external message, an internal
        # one the internal message
        ext_sender = "%s@elsewhere.test" % unique("ext")
        mail_from(dc, c, ext_sender, unique("Question"))
        got = replies_to(ext_sender, external)
        assert len(got) == 1, SINK.messages
        assert internal.encode() not in got[0]["data"]
        int_sender = "%s@%s" % (unique("colleague"), domain)
        mail_from(dc, c, int_sender, unique("Lunch"))
        got = replies_to(int_sender, internal)
        assert len(got) == 1, SINK.messages

        # HTML asked for: the text converted
        r, state, msgs = oof_get(c, "HTML")
        assert msgs["AppliesToInternal"][2] == "HTML", msgs
        assert "&lt;&amp;&gt;" in msgs["AppliesToExternalUnknown"][1], msgs

        # OofState 0: no reply any more, the messages kept
        assert oof_set(c, 0) == "1"
        r, state, msgs = oof_get(c)
        assert state == "0", r
        assert msgs["AppliesToInternal"][1] == internal, msgs
        with managesieve(dc, c.user) as ms:
            assert dict(ms.listscripts()).get(SCRIPT) is False
        late = "%s@elsewhere.test" % unique("late")
        mail_from(dc, c, late, unique("Later"))
        assert replies_to(late, external, timeout=2) == []
        # on again with only the state: the stored messages reply
        assert oof_set(c, 1) == "1"
        again = "%s@elsewhere.test" % unique("again")
        mail_from(dc, c, again, unique("Again"))
        assert len(replies_to(again, external)) == 1, SINK.messages


def test_oof_html_message(dc):
    c = account(dc, "html", "16.1")
    marker = unique("HtmlAway")
    html = "<html><body><p><b>%s</b> until Monday</p></body></html>" % marker
    assert oof_set(c, 1, message_xml("AppliesToExternalUnknown", 1, html,
                                     "HTML")) == "1"
    r, state, msgs = oof_get(c, "HTML")
    assert msgs["AppliesToExternalUnknown"] == ("1", html, "HTML"), msgs
    r, state, msgs = oof_get(c, "Text")
    text = msgs["AppliesToExternalUnknown"][1]
    assert marker in text and "<b>" not in text, text
    sender = "%s@elsewhere.test" % unique("html")
    mail_from(dc, c, sender, unique("Html"))
    got = replies_to(sender, marker)
    assert len(got) == 1, SINK.messages
    assert b"text/html" in got[0]["data"], got[0]["data"]


def test_oof_keeps_the_users_script(dc):
    for version in VERSIONS:
        c = account(dc, "own", version)
        own = ('require ["imap4flags"];\n'
               'addflag "\\\\Flagged";\n')
        with managesieve(dc, c.user) as ms:
            ms.putscript("mine", own)
            ms.setactive("mine")
        marker = unique("Away")
        assert oof_set(c, 1, message_xml("AppliesToExternalUnknown", 1,
                                         marker)) == "1"
        with managesieve(dc, c.user) as ms:
            scripts = dict(ms.listscripts())
            assert scripts == {"mine": False, SCRIPT: True}, scripts
            assert ms.getscript("mine") == own
            assert 'include :personal :optional "mine"' in \
                ms.getscript(SCRIPT)
        sender = "%s@elsewhere.test" % unique("own")
        subject = unique("Both")
        mail_from(dc, c, sender, subject)
        assert len(replies_to(sender, marker)) == 1, SINK.messages
        # the user's own rule ran too
        imap = dc.imap(c.user)
        try:
            imap.select("INBOX")
            typ, data = imap.search(None, "SUBJECT", subject, "FLAGGED")
            assert typ == "OK" and data[0].split(), data
        finally:
            imap.logout()

        # off: their script is the active one again, unchanged
        assert oof_set(c, 0) == "1"
        with managesieve(dc, c.user) as ms:
            scripts = dict(ms.listscripts())
            assert scripts == {"mine": True, SCRIPT: False}, scripts
            assert ms.getscript("mine") == own

        # on, then the user activates their script over ManageSieve:
        # OOF is off as far as the device can tell
        assert oof_set(c, 1) == "1"
        with managesieve(dc, c.user) as ms:
            ms.setactive("mine")
        r, state, msgs = oof_get(c)
        assert state == "0", r
        # and a script replaced by the user is still answered
        with managesieve(dc, c.user) as ms:
            ms.putscript(SCRIPT, 'require ["vacation"];\nvacation "hi";\n')
            ms.setactive(SCRIPT)
        r, state, msgs = oof_get(c)
        assert state == "1", r


def test_oof_time_window(dc):
    for version in VERSIONS:
        c = account(dc, "window", version)
        past, now_marker = unique("PastTrip"), unique("NowTrip")
        start, end = "2020-01-01T00:00:00.000Z", "2020-01-08T00:00:00.000Z"
        assert oof_set(c, 2, message_xml("AppliesToExternalUnknown", 1,
                                         past), start, end) == "1"
        r, state, msgs = oof_get(c)
        assert state == "2", r
        assert xtext(r, "Oof/Get/StartTime") == start, r
        assert xtext(r, "Oof/Get/EndTime") == end, r
        with managesieve(dc, c.user) as ms:
            text = ms.getscript(SCRIPT)
        assert "currentdate" in text and "2020-01-08T00:00:00Z" in text, \
            text
        sender = "%s@elsewhere.test" % unique("past")
        mail_from(dc, c, sender, unique("Past"))
        assert replies_to(sender, past, timeout=2) == []

        t0 = time.gmtime(time.time() - 3600)
        t1 = time.gmtime(time.time() + 3600)
        fmt = "%Y-%m-%dT%H:%M:%S.000Z"
        assert oof_set(c, 2, message_xml("AppliesToExternalUnknown", 1,
                                         now_marker),
                       time.strftime(fmt, t0),
                       time.strftime(fmt, t1)) == "1"
        sender = "%s@elsewhere.test" % unique("now")
        mail_from(dc, c, sender, unique("Now"))
        assert len(replies_to(sender, now_marker)) == 1, SINK.messages


def test_oof_bad_requests(dc):
    c = account(dc, "bad", "16.1")
    marker = unique("Kept")
    assert oof_set(c, 1, message_xml("AppliesToInternal", 1, marker)) == "1"
    mark = dc.log_offset()
    cases = [
        # (Set inner XML, status)
        ("<OofMessage><AppliesToInternal/></OofMessage>", "2"),
        ("<OofState>7</OofState>", "2"),
        ("<OofState>2</OofState>", "2"),
        ("<OofState>2</OofState><StartTime>yesterday</StartTime>"
         "<EndTime>2030-01-01T00:00:00.000Z</EndTime>", "2"),
        ("<OofState>2</OofState>"
         "<StartTime>2030-01-02T00:00:00.000Z</StartTime>"
         "<EndTime>2030-01-01T00:00:00.000Z</EndTime>", "5"),
        ("<OofState>1</OofState><OofMessage><Enabled>1</Enabled>"
         "</OofMessage>", "2"),
        ("<OofState>1</OofState>" +
         message_xml("AppliesToInternal", 1, "x", "RTF"), "2"),
        ("<OofState>0</OofState>" +
         message_xml("AppliesToInternal", 0, "a") +
         message_xml("AppliesToInternal", 0, "b"), "6"),
    ]
    for inner, status in cases:
        r = settings(c, "<Oof><Set>%s</Set></Oof>" % inner)
        assert xrequire(r, "Oof/Status") == status, (inner, r)
    # neither Get nor Set; a Get with a body type that does not exist
    r = settings(c, "<Oof/>")
    assert xrequire(r, "Oof/Status") == "2", r
    r = settings(c, "<Oof><Get><BodyType>Rtf</BodyType></Get></Oof>")
    assert xrequire(r, "Oof/Status") == "2", r
    assert xfind(r, "Oof/Get") is None, r
    # nothing of it changed the reply
    r, state, msgs = oof_get(c)
    assert state == "1" and msgs["AppliesToInternal"][1] == marker, msgs
    assert "Oof Set: EndTime is not after StartTime" in dc.log_since(mark)


def test_oof_known_external_senders(dc):
    c = account(dc, "known", "14.1")
    friend = "%s@known.test" % unique("friend")
    imap = imap_session(dc, c)
    try:
        assert imap.create('"Contacts"')[0] == "OK"
    finally:
        imap.logout()
    set_folder_type(dc, c, "Contacts", "contact.default")
    card = ("BEGIN:VCARD\r\nVERSION:3.0\r\nUID:friend-1\r\nFN:Good Friend\r\n"
            "EMAIL:%s\r\nEND:VCARD\r\n" % friend)
    imap_append(dc, c, "Contacts", (
        "From: <owner@example.test>\r\nSubject: Friend\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/vcard\r\n\r\n%s"
        % card).encode())
    known, other = unique("ForFriends"), unique("ForOthers")
    assert oof_set(c, 1, message_xml("AppliesToExternalKnown", 1, known)
                   + message_xml("AppliesToExternalUnknown", 1, other)) \
        == "1"
    mail_from(dc, c, friend, unique("Hi"))
    got = replies_to(friend, known)
    assert len(got) == 1, SINK.messages
    assert other.encode() not in got[0]["data"]
    stranger = "%s@elsewhere.test" % unique("stranger")
    mail_from(dc, c, stranger, unique("Hello"))
    got = replies_to(stranger, other)
    assert len(got) == 1, SINK.messages
    assert known.encode() not in got[0]["data"]
