"""Streamed responses: a Sync window far larger than the service may hold
goes out while it is written (chunked), with the service's peak memory
far below the response size; small responses keep Content-Length; a
device that loses the connection mid-response gets the same items again
when it repeats its SyncKey, and nothing is lost or sent twice after."""

import base64
import os

from harness import body_pref, fetch_item_xml, folders, itemops, \
    new_account, ok_top, sync, sync_request, \
    SyncResult, T_INBOX, xml_escape, xtext

# a small ASan quarantine: freed memory counts in the peak RSS otherwise
INSTANCE = dict(activesync=True, asan_options="quarantine_size_mb=1",
                plugin_settings={"activesync_debug": "yes"})

MESSAGES = 40
BODY_BYTES = 1024 * 1024
# the peak RSS may grow by this much for a 40 MB window (one message and
# its conversions, the staging buffer, the connection's buffers)
MAX_PEAK_GROWTH_KB = 16 * 1024


def big_message(to, i, size=BODY_BYTES):
    """About size bytes of 7-bit text, different in every message"""
    text = base64.encodebytes(os.urandom(size * 3 // 4))
    return (("From: big@example.test\r\nTo: %s\r\nSubject: Big %d\r\n"
             "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii"
             "\r\nContent-Transfer-Encoding: 7bit\r\n\r\n" % (to, i))
            .encode("ascii") + text.replace(b"\n", b"\r\n"))


def peak_kb(dc):
    mem = dc.service_memory("VmHWM")
    assert mem, "no activesync process found"
    return mem


def test_big_window_is_streamed_with_bounded_memory(dc):
    c = new_account(dc, "stream")
    inbox = folders(c)[T_INBOX]
    sent = {}
    for i in range(MESSAGES):
        msg = big_message(c.user, i)
        sent["Big %d" % i] = msg
        dc.deliver(c.user, msg)

    r = sync(c, inbox, "0").ok()
    assert r.key == "1", r.resp
    # small: buffered, with its length
    assert r.resp.header("Content-Length") is not None, r.resp.headers
    assert r.resp.header("Transfer-Encoding") is None, r.resp.headers

    before = peak_kb(dc)
    mark = dc.mark_log()
    r = sync(c, inbox, "1", options=body_pref(4), window=MESSAGES).ok()
    after = peak_kb(dc)

    size = len(r.resp.body)
    assert size > MESSAGES * BODY_BYTES, size
    assert r.resp.header("Transfer-Encoding") == "chunked", r.resp.headers
    assert r.resp.header("Content-Length") is None, r.resp.headers
    assert len(r.adds) == MESSAGES and not r.more, r.resp.headers
    # every message byte for byte, as delivered (LMTP adds headers in
    # front): in the WBXML itself, before any XML parser touched it
    for subject, msg in sent.items():
        assert msg in r.resp.body, subject
        add = r.add_by_subject(subject)
        data = xtext(add, "ApplicationData/AirSyncBase:Body/"
                     "AirSyncBase:Data")
        # (an XML parser reads CRLF as LF)
        text = msg.decode("ascii").replace("\r\n", "\n").rstrip("\n")
        assert data.replace("\r\n", "\n").rstrip("\n").endswith(text), \
            subject

    # the process that answered grew by far less than the response
    growth = [after[pid] - before.get(pid, min(before.values()))
              for pid in after]
    print("peak RSS growth %s kB for a %d-byte response" % (growth, size))
    assert max(growth) < MAX_PEAK_GROWTH_KB, (growth, size)
    assert max(growth) * 1024 < size / 2, (growth, size)
    dc.check_log(since=mark)
    assert dc.wait_for_log_text(mark, "Response: streaming")


def test_cut_response_is_sent_again(dc):
    c = new_account(dc, "streamcut")
    inbox = folders(c)[T_INBOX]
    for i in range(12):
        dc.deliver(c.user, big_message(c.user, i))
    r = sync(c, inbox, "0").ok()
    xml = ('<Sync xmlns="AirSync:" xmlns:airsyncbase="AirSyncBase:">'
           '<Collections><Collection><SyncKey>1</SyncKey>'
           '<CollectionId>%s</CollectionId><WindowSize>12</WindowSize>'
           '<Options>%s</Options></Collection></Collections></Sync>'
           % (xml_escape(inbox), body_pref(4)))

    mark = dc.mark_log()
    status, headers, got = c.request_cut("Sync", xml, 200 * 1024)
    assert status == 200 and headers.get("Transfer-Encoding") == "chunked"
    assert got == 200 * 1024
    # the service notices the lost client and goes on serving
    dc.wait_for_log_text(mark, "Streamed response failed", timeout=30)

    # the device never got key 2: it repeats key 1 and gets every item
    r = sync(c, inbox, "1", options=body_pref(4), window=12).ok()
    assert r.key == "2" and len(r.adds) == 12 and not r.more, r.resp
    ids = set(r.add_ids())
    assert len(ids) == 12
    # and after that nothing is missing or sent twice
    r = sync(c, inbox, "2").ok()
    assert not r.adds and not r.changes and not r.deletes, r.resp
    dc.check_log(since=mark)


def test_small_sync_keeps_content_length(dc):
    c = new_account(dc, "streamsmall")
    inbox = folders(c)[T_INBOX]
    dc.deliver(c.user, big_message(c.user, 0)[:4000] + b"\r\n")
    sync(c, inbox, "0").ok()
    r = sync_request(c, inbox, "1", options=body_pref(4))
    res = SyncResult(r).ok()
    assert len(res.adds) == 1
    assert r.header("Content-Length") == str(len(r.body)), r.headers
    assert r.header("Transfer-Encoding") is None, r.headers


def test_itemoperations_fetch_of_a_big_message_is_streamed(dc):
    c = new_account(dc, "streamfetch")
    inbox = folders(c)[T_INBOX]
    msgs = [big_message(c.user, i) for i in range(3)]
    for msg in msgs:
        dc.deliver(c.user, msg)
    r = sync(c, inbox, "0").ok()
    r = sync(c, inbox, r.key, options=body_pref(1, size=100)).ok()
    fetches = "".join(fetch_item_xml(inbox, sid, body_pref(4))
                      for sid in r.add_ids())
    resp = itemops(c, fetches)
    assert resp.header("Transfer-Encoding") == "chunked", resp.headers
    assert len(ok_top(resp)) == 3
    for msg in msgs:
        assert msg in resp.body


def test_held_sync_answers_with_a_streamed_response(dc):
    """A Sync with Wait answered by a delivery (from the notify callback,
    not the request's own) streams its window the same way"""
    import threading
    c = new_account(dc, "streamwait")
    inbox = folders(c)[T_INBOX]
    sync(c, inbox, "0").ok()
    r = sync(c, inbox, "1", options=body_pref(4)).ok()
    assert not r.adds
    out = {}

    def held():
        out["r"] = sync_request(c, inbox, r.key, options=body_pref(4),
                                top="<Wait>1</Wait>")
    th = threading.Thread(target=held)
    mark = dc.mark_log()
    th.start()
    dc.wait_for_log(r"Sync: no changes, waiting", timeout=15, since=mark)
    assert th.is_alive(), out
    # above the size from which a response streams (2 MiB)
    msg = big_message(c.user, 99, 3 * BODY_BYTES)
    dc.deliver(c.user, msg)
    th.join(30)
    assert not th.is_alive()
    resp = out["r"]
    res = SyncResult(resp).ok()
    assert [xtext(a, "ApplicationData/Email:Subject")
            for a in res.adds] == ["Big 99"], resp.headers
    assert resp.header("Transfer-Encoding") == "chunked", resp.headers
    assert msg in resp.body
    dc.check_log(since=mark)
