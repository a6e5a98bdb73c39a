"""Search that runs out of time: Store Status 10 (MS-ASCMD 2.2.3.177.13).

The instance runs with activesync_search_timeout = 200 ms.  Each test
user gets an INBOX of real messages (IMAP APPEND, about 30 KB of text
each) whose last line holds the words the device searches for, so a
FreeText search of those words reads every message once per word
(there is no FTS plugin here): about a second and a half of work on
an idle machine, far more than the limit, and spread over many of
Dovecot's non-blocking search steps, so the limit is seen inside the
folder, not only between folders.

Asserted: Store Status 10 with no Result, Range or Total, a log line
naming the setting, nothing changed in the mailbox (no message read,
flagged or moved), and the same search answered in full once the
limit is back to its normal value (reload)."""

import random

from harness import sample_message, xfind, xml_escape, xrequire

INSTANCE = dict(activesync=True,
                plugin_settings={"activesync_search_timeout": "200 ms"})

MESSAGES = 200
MESSAGE_KB = 30
# every message ends with these; one full read of the body per word
TAIL_WORDS = ["tailword%02d" % i for i in range(20)]
FILLER = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot",
          "golf", "hotel", "india", "juliet"]

NS = ('xmlns="Search:" xmlns:airsync="AirSync:" '
      'xmlns:airsyncbase="AirSyncBase:"')

_serial = [0]


def _body(rnd):
    lines, size = [], 0
    while size < MESSAGE_KB * 1024:
        line = " ".join("%s%d" % (rnd.choice(FILLER), rnd.randrange(1000))
                        for _ in range(10))
        lines.append(line)
        size += len(line) + 1
    lines.append(" ".join(TAIL_WORDS))
    return "\n".join(lines) + "\n"


class Account:
    def __init__(self, dc, tag, version):
        _serial[0] += 1
        n = _serial[0]
        self.dc = dc
        self.user = "stimeout-%s-%d@example.test" % (tag, n)
        self.password = "pw-%s-%d" % (tag, n)
        dc.add_user(self.user, self.password)
        self.version = version
        self.c = dc.eas_client(self.user, self.password,
                               device_id="STO%s%d" % (tag.upper(), n),
                               device_type="E2ETest", version=version)
        rnd = random.Random(n)
        imap = dc.imap(self.user, self.password)
        try:
            for i in range(MESSAGES):
                msg = sample_message("slow %03d" % i, _body(rnd),
                                     to=self.user)
                assert imap.append("INBOX", None, None, msg)[0] == "OK"
        finally:
            imap.logout()
        r = self.c.foldersync()
        assert r.status == 200 and xrequire(r, "FolderSync/Status") == "1"
        self.inbox = None
        for add in r.xml.iter("{FolderHierarchy:}Add"):
            if add.findtext("{FolderHierarchy:}Type") == "2":
                self.inbox = add.findtext("{FolderHierarchy:}ServerId")
        assert self.inbox, r

    def search(self, scoped, options=""):
        terms = "<airsync:Class>Email</airsync:Class>"
        if scoped:
            terms += "<airsync:CollectionId>%s</airsync:CollectionId>" \
                % self.inbox
        terms += "<FreeText>%s</FreeText>" % xml_escape(" ".join(TAIL_WORDS))
        xml = ('<Search %s><Store><Name>Mailbox</Name><Query><And>%s'
               '</And></Query>%s</Store></Search>' % (
                   NS, terms,
                   "<Options>%s</Options>" % options if options else ""))
        # request_provisioned decodes with libwbxml2 and our codec
        r = self.c.request_provisioned("Search", xml)
        assert r.status == 200, r
        assert xrequire(r, "Search/Status") == "1", r
        return r

    def mailbox_state(self):
        """What a search must not change: counts, UIDs, flags, modseq."""
        imap = self.dc.imap(self.user, self.password)
        try:
            typ, data = imap.status(
                "INBOX", "(MESSAGES UIDNEXT UNSEEN HIGHESTMODSEQ)")
            assert typ == "OK", data
            typ2, flags = imap.select("INBOX", readonly=True)
            assert typ2 == "OK"
            typ2, flags = imap.fetch("1:*", "(UID FLAGS)")
            assert typ2 == "OK"
            return data[0], sorted(flags)
        finally:
            imap.logout()


def _set_timeout(dc, value):
    """Reload with another activesync_search_timeout; returns once the
    old processes are gone and a new one answers."""
    dc.plugin_settings["activesync_search_timeout"] = value
    dc.reload_service()


def _assert_timed_out(dc, r, since, folders_done):
    assert xrequire(r, "Response/Store/Status") == "10", r
    for elem in ("Result", "Range", "Total"):
        assert xfind(r, "Response/Store/" + elem) is None, (elem, r)
    line = dc.wait_for_log(
        r"Search: Store Status 10 \(timed out\): activesync_search_timeout "
        r"\(200 ms\) reached, %s folders done" % folders_done, since=since)
    assert "Error" not in line, line


def test_search_times_out(dc):
    for version in ("14.1", "16.1"):
        a = Account(dc, "to" + version.replace(".", ""), version)
        before = a.mailbox_state()
        assert before[0].split(b"UNSEEN ")[1].startswith(b"%d" % MESSAGES)

        # the INBOX alone: the limit is kept inside the folder
        mark = dc.log_offset()
        r = a.search(scoped=True)
        _assert_timed_out(dc, r, mark, r"0 of 1")

        # every folder: INBOX is searched first, the rest never starts
        mark = dc.log_offset()
        r = a.search(scoped=False, options="<Range>0-9</Range>")
        _assert_timed_out(dc, r, mark, r"0 of \d+")

        assert a.mailbox_state() == before, version
        assert dc.service_alive()


def test_same_search_within_normal_limit(dc):
    a = Account(dc, "normal", "16.1")
    before = a.mailbox_state()
    r = a.search(scoped=True)
    assert xrequire(r, "Response/Store/Status") == "10", r
    try:
        # the default (45 s), written as Dovecot writes times
        _set_timeout(dc, "45s")
        r = a.search(scoped=True, options="<Range>0-9</Range>")
        assert xrequire(r, "Response/Store/Status") == "1", r
        results = list(r.xml.iter("{Search:}Result"))
        assert len(results) == 10, r
        assert xrequire(r, "Response/Store/Range") == "0-9", r
        assert xrequire(r, "Response/Store/Total") == str(MESSAGES), r
        for res in results:
            assert res.findtext("{AirSync:}CollectionId") == a.inbox
        assert a.mailbox_state() == before
    finally:
        _set_timeout(dc, "200 ms")
