"""Search by ConversationId (MS-ASCMD 2.2.3.35.1): the id a Search result
carries and the id a query asks for are the ones Sync reports
(Email2:ConversationId), also for messages without a Thread-Index
header, whose id comes from the thread root's Message-ID."""

import base64

from harness import folders, new_account, sync, T_INBOX, xall, xfind, \
    xml_escape, xrequire, xtext

INSTANCE = dict(activesync=True)

NS = ('xmlns="Search:" xmlns:airsync="AirSync:" xmlns:email="Email:" '
      'xmlns:airsyncbase="AirSyncBase:"')

THREAD_GUID = bytes(range(0x60, 0x70))
THREAD_INDEX = base64.b64encode(b"\x01" + b"\x01\x02\x03\x04\x05" +
                                THREAD_GUID).decode()


def message(user, subject, msgid, body, headers=()):
    lines = ["From: Alice <alice@example.test>", "To: %s" % user,
             "Subject: %s" % subject,
             "Date: Mon, 4 Mar 2024 10:00:00 +0000",
             "Message-ID: <%s>" % msgid, "MIME-Version: 1.0",
             "Content-Type: text/plain; charset=utf-8"]
    lines += list(headers)
    return ("\r\n".join(lines) + "\r\n\r\n" + body + "\r\n").encode()


# (subject, Message-ID, body, extra headers): one thread of three without
# any Thread-Index, an unrelated message, an Outlook message with one
MAILS = [
    ("Trip planning", "root.trip@example.test", "where shall we go", ()),
    ("Re: Trip planning", "reply1.trip@example.test", "the mountains",
     ("In-Reply-To: <root.trip@example.test>",
      "References: <root.trip@example.test>")),
    ("Re: Re: Trip planning", "reply2.trip@example.test",
     "mountains it is",
     ("In-Reply-To: <reply1.trip@example.test>",
      "References: <root.trip@example.test> <reply1.trip@example.test>")),
    ("Invoice", "invoice@example.test", "mountains of paperwork", ()),
    ("Outlook thread", "outlook@example.test", "from outlook",
     ("Thread-Index: " + THREAD_INDEX,)),
]


def setup(dc, tag, version):
    c = new_account(dc, tag, version=version)
    for subject, msgid, body, headers in MAILS:
        dc.deliver(c.user, message(c.user, subject, msgid, body, headers))
    inbox = folders(c)[T_INBOX]
    r = sync(c, inbox, "0").ok()
    r = sync(c, inbox, r.key, window=50).ok()
    conv = {xtext(a, "ApplicationData/Email:Subject"):
            xtext(a, "ApplicationData/Email2:ConversationId")
            for a in r.adds}
    assert len(conv) == len(MAILS) and None not in conv.values(), r.resp
    return c, inbox, conv


def search(c, query):
    xml = ('<Search %s><Store><Name>Mailbox</Name><Query>%s</Query>'
           '</Store></Search>' % (NS, query))
    r = c.request_provisioned("Search", xml)
    assert r.status == 200 and xrequire(r, "Search/Status") == "1", r
    return r


def results(r):
    """{subject: ConversationId} of the results"""
    return {xtext(res, "Properties/Email:Subject"):
            xtext(res, "Properties/Email2:ConversationId")
            for res in xall(r, "Response/Store/Result")
            if xfind(res, "Properties") is not None}


def by_conversation(conv_id, *terms):
    return ("<And><airsync:Class>Email</airsync:Class>"
            "<ConversationId>%s</ConversationId>%s</And>"
            % (xml_escape(conv_id), "".join(terms)))


def check_conversation_search(dc, version):
    c, inbox, conv = setup(dc, "conv" + version.replace(".", ""), version)
    trip = conv["Trip planning"]
    # Sync gave the whole thread one id, and the others their own
    assert conv["Re: Trip planning"] == trip
    assert conv["Re: Re: Trip planning"] == trip
    assert len({trip, conv["Invoice"], conv["Outlook thread"]}) == 3
    assert base64.b64decode(conv["Outlook thread"]) == THREAD_GUID

    # every Search result carries Sync's ConversationId
    r = search(c, "<And><airsync:Class>Email</airsync:Class>"
               "<FreeText>mountains</FreeText></And>")
    got = results(r)
    assert set(got) == {"Re: Trip planning", "Re: Re: Trip planning",
                        "Invoice"}, r
    for subject, cid in got.items():
        assert cid == conv[subject], (subject, r)

    # a query by ConversationId finds what Sync reported with that id
    r = search(c, by_conversation(trip))
    assert xrequire(r, "Response/Store/Status") == "1", r
    assert set(results(r)) == {"Trip planning", "Re: Trip planning",
                               "Re: Re: Trip planning"}, r
    assert xtext(r, "Response/Store/Total") == "3", r
    # the Thread-Index form as well
    r = search(c, by_conversation(conv["Outlook thread"]))
    assert list(results(r)) == ["Outlook thread"], r
    # combined with other terms and a folder scope
    r = search(c, by_conversation(
        trip, "<airsync:CollectionId>%s</airsync:CollectionId>" % inbox,
        "<FreeText>mountains</FreeText>"))
    assert set(results(r)) == {"Re: Trip planning",
                               "Re: Re: Trip planning"}, r
    # an id nobody has: an empty result
    r = search(c, by_conversation(base64.b64encode(b"\x00" * 16).decode()))
    assert xtext(r, "Response/Store/Status") == "1", r
    assert xtext(r, "Response/Store/Total") == "0" and results(r) == {}, r
    # two different ids in one And: nothing has both
    r = search(c, by_conversation(trip, "<ConversationId>%s</ConversationId>"
                                  % conv["Invoice"]))
    assert results(r) == {}, r


def test_conversation_search_14_1(dc):
    check_conversation_search(dc, "14.1")


def test_conversation_search_16_1(dc):
    check_conversation_search(dc, "16.1")


def test_conversation_in_or_too_complex(dc):
    c, inbox, conv = setup(dc, "convor", "14.1")
    mark = dc.log_offset()
    r = search(c, "<Or><FreeText>mountains</FreeText>"
               "<ConversationId>%s</ConversationId></Or>"
               % conv["Trip planning"])
    assert xrequire(r, "Response/Store/Status") == "8", r
    assert xfind(r, "Response/Store/Result") is None, r
    assert dc.wait_for_log_text(mark, "ConversationId inside an Or")
