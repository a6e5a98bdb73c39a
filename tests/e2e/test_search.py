"""Search in the Mailbox store (MS-ASCMD 2.2.1.16).

Every test gets its own user with the same small mailbox, filled over
IMAP APPEND with fixed INTERNALDATEs (and one LMTP delivery, received
now), in INBOX, Projects, Projects/Alpha and Archive.  Queries are the
forms devices send (an And of Class, CollectionId, FreeText and date
terms); the answers are checked against what is known to be in the
mailbox.  Store statuses: 2 malformed, 3 GAL (not served), 8 too complex,
11 unknown folder, 12 range past the end, 13 DocumentLibrary."""

import base64
import calendar
import imaplib
import time

from harness import and_query, freetext, sample_message, search, \
    SEARCH_NS as NS, search_subjects as subjects, store_status, xall, \
    xfind, xrequire, xtext

INSTANCE = dict(activesync=True)

_serial = [0]

# a conversation GUID carried in a Thread-Index header (MS-OXOMSG:
# 1 reserved byte, 5 bytes of time, 16 bytes GUID)
CONV_GUID = bytes(range(0x40, 0x50))
THREAD_INDEX = base64.b64encode(b"\x01" + b"\x11\x22\x33\x44\x55" +
                                CONV_GUID).decode()


def ts(datestr):
    return calendar.timegm(time.strptime(datestr, "%Y-%m-%d %H:%M:%S"))


# (folder, subject, body, INTERNALDATE, extra headers)
MAILS = [
    ("INBOX", "Quarterly report", "numbers for the zebra project",
     "2024-03-01 10:00:00", ()),
    ("INBOX", "Lunch", "pizza today", "2024-03-05 12:00:00", ()),
    ("INBOX", "Re: Quarterly report", "looks good to me",
     "2024-03-10 09:00:00", ("Thread-Index: " + THREAD_INDEX,)),
    ("Projects", "Alpha kickoff", "the zebra plan", "2024-02-01 08:00:00",
     ()),
    ("Projects/Alpha", "Alpha details", "zebra stripes in detail",
     "2024-01-15 08:00:00", ()),
    ("Archive", "Old news", "an ancient zebra", "2023-06-01 08:00:00", ()),
]


class Account:
    def __init__(self, dc, tag, version="14.1"):
        _serial[0] += 1
        n = _serial[0]
        self.user = "search-%s-%d@example.test" % (tag, n)
        password = "pw-%s-%d" % (tag, n)
        dc.add_user(self.user, password)
        self.c = dc.eas_client(self.user, password,
                               device_id="SE%s%d" % (
                                   tag.upper().replace("-", ""), n),
                               device_type="E2ETest", version=version)
        imap = dc.imap(self.user, password)
        try:
            assert imap.select("INBOX")[0] == "OK"
            for box in ("Projects", "Projects/Alpha", "Archive"):
                assert imap.create(box)[0] == "OK"
            for box, subject, body, date, extra in MAILS:
                msg = sample_message(subject, body + "\n", to=self.user,
                                     extra_headers=extra)
                typ, _ = imap.append(box, None,
                                     imaplib.Time2Internaldate(ts(date)),
                                     msg)
                assert typ == "OK", (box, subject)
        finally:
            imap.logout()
        # received now: the newest of all
        dc.deliver(self.user, sample_message(
            "Delivered zebra news", "fresh off the wire\n", to=self.user))
        self.folders = self.foldersync()

    def foldersync(self):
        r = self.c.foldersync()
        assert r.status == 200 and xrequire(r, "FolderSync/Status") == "1", r
        out = {}
        for add in xall(r, "Changes/Add"):
            out[xtext(add, "DisplayName")] = xtext(add, "ServerId")
            if xtext(add, "Type") == "2":
                out["Inbox"] = xtext(add, "ServerId")
        return out

    def search(self, query, options="", store="Mailbox", raw=None):
        return search(self.c, query, options, store, raw)


def total(r):
    return int(xrequire(r, "Response/Store/Total"))


def coll(cid):
    return "<airsync:CollectionId>%s</airsync:CollectionId>" % cid


def date_term(op, value):
    return ("<%s><email:DateReceived/><Value>%s</Value></%s>"
            % (op, value, op))


def body_pref(btype, size=None):
    x = "<airsyncbase:BodyPreference><airsyncbase:Type>%d" \
        "</airsyncbase:Type>" % btype
    if size is not None:
        x += "<airsyncbase:TruncationSize>%d</airsyncbase:TruncationSize>" \
            % size
    return x + "</airsyncbase:BodyPreference>"


ZEBRA_NEWEST_FIRST = ["Delivered zebra news", "Quarterly report",
                      "Alpha kickoff", "Alpha details", "Old news"]


def test_freetext_all_folders_newest_first(dc):
    a = Account(dc, "all")
    r = a.search(and_query(freetext("zebra")), body_pref(1, 100))
    assert store_status(r) == "1", r
    # subject (the delivered one) and body hits, from every folder
    assert subjects(r) == ZEBRA_NEWEST_FIRST, r
    assert total(r) == 5
    assert xrequire(r, "Response/Store/Range") == "0-4"
    by_folder = {}
    for res in xall(r, "Response/Store/Result"):
        assert xtext(res, "AirSync:Class") == "Email"
        cid = xrequire(res, "AirSync:CollectionId")
        long_id = xrequire(res, "LongId")
        folder, _, uid = long_id.partition(":")
        assert folder == cid and int(uid) > 0, long_id
        by_folder[xtext(res, "Properties/Email:Subject")] = cid
        assert xtext(res, "Properties/Email:DateReceived")
    assert by_folder["Old news"] == a.folders["Archive"]
    assert by_folder["Alpha details"] == a.folders["Alpha"]
    assert by_folder["Alpha kickoff"] == a.folders["Projects"]
    assert by_folder["Quarterly report"] == a.folders["Inbox"]

    # every word must occur; subject words too
    r = a.search(and_query(freetext("zebra stripes")))
    assert subjects(r) == ["Alpha details"], r
    r = a.search(freetext("quarterly"))
    assert subjects(r) == ["Re: Quarterly report", "Quarterly report"], r
    # nothing found: an empty Result and Total 0
    r = a.search(and_query(freetext("no-such-word-anywhere")))
    assert store_status(r) == "1" and total(r) == 0, r
    assert subjects(r) == [] and xfind(r, "Response/Store/Result") \
        is not None, r


def test_folder_scope_and_deep_traversal(dc):
    a = Account(dc, "scope")
    projects = a.folders["Projects"]
    r = a.search(and_query(coll(projects), freetext("zebra")))
    assert subjects(r) == ["Alpha kickoff"], r
    r = a.search(and_query(coll(projects), freetext("zebra")),
                 "<DeepTraversal/>")
    assert subjects(r) == ["Alpha kickoff", "Alpha details"], r
    # several folders
    r = a.search(and_query(coll(a.folders["Inbox"]),
                           coll(a.folders["Archive"]), freetext("zebra")))
    assert subjects(r) == ["Delivered zebra news", "Quarterly report",
                           "Old news"], r
    # scope without other terms: the whole folder
    r = a.search(and_query(coll(a.folders["Archive"])))
    assert subjects(r) == ["Old news"], r


def test_date_range(dc):
    a = Account(dc, "dates")
    r = a.search(and_query(freetext("zebra"),
                           date_term("GreaterThan",
                                     "2024-01-20T00:00:00.000Z"),
                           date_term("LessThan",
                                     "2024-03-06T00:00:00.000Z")))
    assert subjects(r) == ["Quarterly report", "Alpha kickoff"], r
    # GreaterThan is strict: the mail received at exactly that second
    # is not included, one second earlier it is
    r = a.search(and_query(date_term("GreaterThan",
                                     "2024-03-05T12:00:00.000Z")))
    assert "Lunch" not in subjects(r) and \
        "Re: Quarterly report" in subjects(r), r
    r = a.search(and_query(date_term("GreaterThan",
                                     "2024-03-05T11:59:59.000Z"),
                           date_term("LessThan",
                                     "2024-03-06T00:00:00.000Z")))
    assert subjects(r) == ["Lunch"], r
    r = a.search(and_query(date_term("LessThan",
                                     "2024-01-01T00:00:00.000Z")))
    assert subjects(r) == ["Old news"], r


def test_and_or_combinations(dc):
    a = Account(dc, "andor")
    r = a.search("<Or>%s%s</Or>" % (freetext("lunch"), freetext("ancient")))
    assert subjects(r) == ["Lunch", "Old news"], r
    r = a.search(and_query(
        "<Or>%s%s</Or>" % (freetext("pizza"), freetext("stripes")),
        date_term("GreaterThan", "2024-02-01T00:00:00.000Z")))
    assert subjects(r) == ["Lunch"], r
    # another class has nothing in the mailbox store
    r = a.search("<And><airsync:Class>SMS</airsync:Class>%s</And>"
                 % freetext("zebra"))
    assert store_status(r) == "1" and total(r) == 0, r
    # ConversationId: the conversation GUID of the Thread-Index header
    r = a.search(and_query("<ConversationId>%s</ConversationId>"
                           % base64.b64encode(CONV_GUID).decode()))
    assert subjects(r) == ["Re: Quarterly report"], r


def test_range_and_total(dc):
    a = Account(dc, "range")
    q = and_query(freetext("zebra"))
    r = a.search(q, "<Range>0-1</Range>")
    assert subjects(r) == ZEBRA_NEWEST_FIRST[:2], r
    assert xrequire(r, "Response/Store/Range") == "0-1" and total(r) == 5
    r = a.search(q, "<Range>2-3</Range>")
    assert subjects(r) == ZEBRA_NEWEST_FIRST[2:4], r
    assert xrequire(r, "Response/Store/Range") == "2-3" and total(r) == 5
    # a window reaching past the end returns what there is
    r = a.search(q, "<Range>3-20</Range>")
    assert subjects(r) == ZEBRA_NEWEST_FIRST[3:], r
    assert xrequire(r, "Response/Store/Range") == "3-4"
    # a window starting past the end: Store Status 12
    r = a.search(q, "<Range>5-9</Range>")
    assert store_status(r) == "12", r
    assert subjects(r) == []


def test_unknown_folder(dc):
    a = Account(dc, "unknown")
    r = a.search(and_query(coll("99999"), freetext("zebra")))
    assert store_status(r) == "11", r
    assert xfind(r, "Response/Store/Result") is None
    assert dc.wait_for_log(r"Search: Store Status 11 .*99999")


def test_too_complex(dc):
    a = Account(dc, "complex")
    nested = freetext("zebra")
    for _ in range(6):
        nested = "<And>%s</And>" % nested
    r = a.search(nested)
    assert store_status(r) == "8", r
    r = a.search(and_query(freetext(" ".join("w%d" % i
                                              for i in range(40)))))
    assert store_status(r) == "8", r
    r = a.search(and_query(freetext("x" * 2000)))
    assert store_status(r) == "8", r
    assert dc.wait_for_log(r"Search: Store Status 8 ")
    # within the limits it is answered
    r = a.search("<And><And><Or>%s%s</Or></And></And>"
                 % (freetext("lunch"), freetext("ancient")))
    assert store_status(r) == "1" and total(r) == 2, r


def test_malformed_and_other_stores(dc):
    a = Account(dc, "bad")
    bad_queries = [
        "",                                              # empty Query
        "<And></And>",                                   # empty And
        freetext(" "),                                   # no word
        "<GreaterThan><email:DateReceived/></GreaterThan>",   # no Value
        date_term("LessThan", "yesterday"),              # bad date
        "<GreaterThan><email:Subject/><Value>x</Value></GreaterThan>",
        "<EqualTo><Value>x</Value></EqualTo>",           # DocLib only
        "<Or>%s</Or>" % coll(a.folders["Inbox"]),        # scope in Or
        "<ConversationId>AAEC</ConversationId>",          # 3 bytes
    ]
    for q in bad_queries:
        r = a.search(q)
        assert store_status(r) == "2", (q, r)
    r = a.search(freetext("zebra"), "<Range>5-2</Range>")
    assert store_status(r) == "2", r
    r = a.search(None, raw='<Search %s><Store><Name>Mailbox</Name>'
                 '</Store></Search>' % NS)
    assert store_status(r) == "2", r
    r = a.search(None, raw='<Search %s></Search>' % NS)
    assert store_status(r) == "2", r
    r = a.search(freetext("zebra"), store="Nonsense")
    assert store_status(r) == "2", r
    # the GAL needs a userdb that can be listed; one passwd-file per
    # user (this harness's) can't: a server error, and the log says why
    mark = dc.log_offset()
    r = a.search("zebra", store="GAL")
    assert store_status(r) == "3", r
    dc.wait_for_log_text(mark, "does the userdb support iteration?")
    # not served here
    r = a.search("<EqualTo><Value>x</Value></EqualTo>",
                 store="DocumentLibrary")
    assert store_status(r) == "13", r
    assert dc.service_alive()


def test_bodies_per_preference(dc):
    a = Account(dc, "bodies")
    q = and_query(coll(a.folders["Archive"]), freetext("ancient"))
    r = a.search(q, body_pref(1, 5))
    res = xfind(r, "Response/Store/Result/Properties")
    assert xtext(res, "AirSyncBase:Body/AirSyncBase:Type") == "1", r
    assert xtext(res, "AirSyncBase:Body/AirSyncBase:Truncated") == "1", r
    assert xtext(res, "AirSyncBase:Body/AirSyncBase:Data") == "an an", r
    r = a.search(q, body_pref(2))
    res = xfind(r, "Response/Store/Result/Properties")
    assert xtext(res, "AirSyncBase:Body/AirSyncBase:Type") == "2", r
    assert "ancient zebra" in xtext(res, "AirSyncBase:Body/AirSyncBase:Data")
    r = a.search(q, body_pref(4) + "<airsync:MIMESupport>2"
                 "</airsync:MIMESupport>")
    res = xfind(r, "Response/Store/Result/Properties")
    assert xtext(res, "AirSyncBase:Body/AirSyncBase:Type") == "4", r
    mime = xtext(res, "AirSyncBase:Body/AirSyncBase:Data")
    assert "Subject: Old news" in mime and "ancient zebra" in mime, r


def test_versions(dc):
    for version in ("12.1", "14.1", "16.1"):
        a = Account(dc, "v" + version.replace(".", ""), version=version)
        r = a.search(and_query(freetext("zebra")), "<Range>0-2</Range>" +
                     body_pref(1, 20))
        assert store_status(r) == "1", (version, r)
        assert subjects(r) == ZEBRA_NEWEST_FIRST[:3], (version, r)
        assert total(r) == 5
        body = xfind(r, "Response/Store/Result/Properties/AirSyncBase:Body")
        assert body is not None, (version, r)


def test_store_maximum_and_paging(dc):
    """At most 100 results per request (the Mailbox store's maximum, also
    the default Range 0-99); the rest is paged with Range."""
    a = Account(dc, "paging")
    imap = dc.imap(a.user, dc.users[a.user])
    try:
        assert imap.create("Bulk")[0] == "OK"
        for i in range(105):
            msg = sample_message("bulk %03d" % i, "pagingword\n", to=a.user)
            assert imap.append("Bulk", None, imaplib.Time2Internaldate(
                ts("2022-01-01 00:00:00") + i * 60), msg)[0] == "OK"
    finally:
        imap.logout()
    q = and_query(freetext("pagingword"))
    newest_first = ["bulk %03d" % i for i in range(104, -1, -1)]
    r = a.search(q)
    assert subjects(r) == newest_first[:100], r
    assert xrequire(r, "Response/Store/Range") == "0-99" and total(r) == 105
    r = a.search(q, "<Range>0-199</Range>")
    assert len(subjects(r)) == 100 and total(r) == 105, r
    r = a.search(q, "<Range>100-199</Range>")
    assert subjects(r) == newest_first[100:], r
    assert xrequire(r, "Response/Store/Range") == "100-104"
