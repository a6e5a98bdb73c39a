"""GetItemEstimate (MS-ASCMD 2.2.1.9).

The estimate must be what the next Sync sends: it is checked against
the Sync that follows, after new mail, flag changes, expunges, a
WindowSize that leaves work behind and a different FilterType.  Request
forms of 12.1 (Class/FilterType in the Collection), 14.1 and 16.1
(Options), and the statuses 2 (collection), 3 (not primed), 4 (SyncKey)
and malformed requests."""


from harness import body_pref, folders, imap_session, new_account, \
    sample_message, sync, T_INBOX, uid_of, xall, xtext

INSTANCE = dict(activesync=True)

T_SENT = 5


def coll_xml(c, coll_id, key, filter_type=None, cls=None):
    if c.version < "14.0":
        x = "<Class>%s</Class><CollectionId>%s</CollectionId>" % (
            cls or "Email", coll_id)
        if filter_type is not None:
            x += "<airsync:FilterType>%d</airsync:FilterType>" % filter_type
        if key is not None:
            x += "<airsync:SyncKey>%s</airsync:SyncKey>" % key
        return x
    x = ""
    if key is not None:
        x += "<airsync:SyncKey>%s</airsync:SyncKey>" % key
    x += "<CollectionId>%s</CollectionId>" % coll_id
    if filter_type is not None or cls is not None:
        x += "<airsync:Options>"
        if cls is not None:
            x += "<airsync:Class>%s</airsync:Class>" % cls
        if filter_type is not None:
            x += "<airsync:FilterType>%d</airsync:FilterType>" % filter_type
        x += "</airsync:Options>"
    return x


def estimate_request(c, colls_xml):
    return c.request_provisioned(
        "GetItemEstimate",
        '<GetItemEstimate xmlns="GetItemEstimate:" xmlns:airsync="AirSync:">'
        '<Collections>%s</Collections></GetItemEstimate>' % colls_xml)


def estimates(c, *colls):
    """colls: (coll_id, key[, filter_type]) -> [(status, coll_id, est)]"""
    xml = "".join("<Collection>%s</Collection>" % coll_xml(c, *cl)
                  for cl in colls)
    r = estimate_request(c, xml)
    assert r.status == 200, r
    out = []
    for resp in xall(r, "GetItemEstimate/Response"):
        out.append((xtext(resp, "Status"),
                    xtext(resp, "Collection/CollectionId"),
                    xtext(resp, "Collection/Estimate")))
        if c.version < "14.0" and xtext(resp, "Status") == "1":
            assert xtext(resp, "Collection/Class") == "Email", r
    return out


def estimate(c, coll_id, key, filter_type=None):
    res = estimates(c, (coll_id, key, filter_type))
    assert len(res) == 1 and res[0][0] == "1" and res[0][1] == coll_id, res
    return int(res[0][2])


def sync_count(r):
    return len(r.adds) + len(r.changes) + len(r.deletes) + \
        len(r.soft_deletes)


def deliver(dc, c, n, start=0):
    for i in range(start, start + n):
        dc.deliver(c.user, sample_message("Mail %d" % i, "x\n", to=c.user))


def sync_cls(c, coll, key, **kw):
    if c.version < "14.0":
        kw.setdefault("cls", "Email")
    return sync(c, coll, key, **kw)


def check_estimates_follow_sync(dc, version):
    c = new_account(dc, "est" + version.replace(".", ""), version=version)
    deliver(dc, c, 5)
    inbox = folders(c)[T_INBOX]
    r = sync_cls(c, inbox, "0", options=body_pref(1)).ok()
    assert r.key == "1"

    # everything is new: all 5, and the estimate changes nothing
    assert estimate(c, inbox, r.key) == 5
    assert estimate(c, inbox, r.key) == 5
    r = sync_cls(c, inbox, r.key, window=2).ok()
    assert len(r.adds) == 2 and r.more, r.resp
    # what the window left behind
    assert estimate(c, inbox, r.key) == 3
    r = sync_cls(c, inbox, r.key).ok()
    assert len(r.adds) == 3, r.resp
    assert estimate(c, inbox, r.key) == 0
    ids = r.add_ids()

    # one new, one flag change, one expunge
    deliver(dc, c, 1, start=5)
    imap = imap_session(dc, c)
    try:
        assert imap.uid("STORE", str(uid_of(ids[0])), "+FLAGS",
                        "(\\Seen)")[0] == "OK"
        assert imap.uid("STORE", str(uid_of(ids[1])), "+FLAGS",
                        "(\\Deleted)")[0] == "OK"
        assert imap.expunge()[0] == "OK"
    finally:
        imap.logout()
    est = estimate(c, inbox, r.key)
    r = sync_cls(c, inbox, r.key).ok()
    assert len(r.adds) == 1 and len(r.changes) == 1 and \
        len(r.deletes) == 1, r.resp
    assert est == sync_count(r) == 3
    assert estimate(c, inbox, r.key) == 0

    # the previous key (a lost Sync response) is still estimated: the
    # repeated Sync would send the same again
    prev = str(int(r.key) - 1)
    assert estimate(c, inbox, prev) == 3

    # a FilterType that leaves out old mail: counted as the Sync with
    # that filter would (soft deletes of what the device has)
    imap = imap_session(dc, c)
    try:
        assert imap.append("INBOX", None, '"01-Jan-2020 10:00:00 +0000"',
                           b"Subject: old\r\n\r\nold\r\n")[0] == "OK"
    finally:
        imap.logout()
    assert estimate(c, inbox, r.key) == 1
    est = estimate(c, inbox, r.key, filter_type=3)
    if c.version < "14.0":
        opts = "<FilterType>3</FilterType>"
    else:
        opts = "<FilterType>3</FilterType>" + body_pref(1)
    r2 = sync_cls(c, inbox, r.key, options=opts).ok()
    assert est == sync_count(r2) == 0, (est, r2.resp)


def test_estimate_14_1(dc):
    check_estimates_follow_sync(dc, "14.1")


def test_estimate_16_1(dc):
    check_estimates_follow_sync(dc, "16.1")


def test_estimate_12_1(dc):
    check_estimates_follow_sync(dc, "12.1")


def test_estimate_filter_soft_deletes(dc):
    c = new_account(dc, "estfilter")
    imap = imap_session(dc, c)
    try:
        for i in range(3):
            assert imap.append("INBOX", None, '"01-Jan-2020 10:00:00 +0000"',
                               ("Subject: old %d\r\n\r\nx\r\n" % i).encode()
                               )[0] == "OK"
    finally:
        imap.logout()
    deliver(dc, c, 2)
    inbox = folders(c)[T_INBOX]
    r = sync(c, inbox, "0", options=body_pref(1)).ok()
    r = sync(c, inbox, r.key).ok()
    assert len(r.adds) == 5
    # with a one-week filter the three old ones leave the device
    est = estimate(c, inbox, r.key, filter_type=3)
    r = sync(c, inbox, r.key, options="<FilterType>3</FilterType>" +
             body_pref(1)).ok()
    assert len(r.soft_deletes) == 3, r.resp
    assert est == sync_count(r) == 3


def test_statuses(dc):
    for version in ("12.1", "14.1", "16.1"):
        c = new_account(dc, "estst" + version.replace(".", ""),
                        version=version)
        deliver(dc, c, 1)
        f = folders(c)
        inbox = f[T_INBOX]
        r = sync_cls(c, inbox, "0", options=body_pref(1)).ok()
        mark = dc.log_offset()
        res = estimates(c, (inbox, r.key), ("4242", "1"), (inbox, "0"),
                        (f[T_SENT], "1"), (inbox, "99"), (inbox, "abc"),
                        (inbox, None))
        assert [s for s, _, _ in res] == ["1", "2", "3", "3", "4", "4",
                                          "3"], res
        assert res[0][2] == "1"
        # no Estimate unless the status is 1
        assert [e for _, _, e in res[1:]] == [None] * 6, res
        dc.wait_for_log_text(mark, "GetItemEstimate: unknown CollectionId")
        dc.wait_for_log_text(mark, "not primed", 2)
        dc.wait_for_log_text(mark, "was never synced by this device")
        dc.wait_for_log_text(mark, "GetItemEstimate: invalid SyncKey", 2)

        # a Collection without CollectionId
        r = estimate_request(c, "<Collection><airsync:SyncKey>1"
                             "</airsync:SyncKey></Collection>")
        assert xtext(r, "GetItemEstimate/Response/Status") == "2", r

        # malformed: no Collections, or something else in them
        for xml in ('', '<Collections><Class>Email</Class></Collections>'):
            mark = dc.log_offset()
            r = c.request_provisioned(
                "GetItemEstimate",
                '<GetItemEstimate xmlns="GetItemEstimate:">%s'
                '</GetItemEstimate>' % xml)
            if version < "14.0":
                assert r.status == 400, r
            else:
                assert r.status == 200, r
                assert xtext(r, "GetItemEstimate/Status") == "103", r
            dc.wait_for_log_text(mark, "GetItemEstimate: malformed request")

        # the estimates changed nothing: the Sync still sends the mail
        r = sync_cls(c, inbox, "1").ok()
        assert len(r.adds) == 1, r.resp
