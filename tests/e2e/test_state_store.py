"""The state store failing: unusable directory, a file that isn't LMDB,
a map that fills up during a Sync.

Each fault gives one clear log line and an answer the device retries
(HTTP 503 with Retry-After), never a hang or a crash; a service whose
store can't open answers every request at once instead of leaving the
connection unanswered; a Sync whose new state can't be stored does not
hand out a SyncKey the server doesn't know, so once the store has room
the same request succeeds and nothing is resent or lost.

The module's own instance runs with activesync_state_max_size = 96K so
that a few hundred device records fill the map; the other tests start
instances of their own with a broken state directory."""

import os
import shutil
import time

import harness
from harness import SyncResult, folders, new_account, sync, sync_request, \
    xtext

MAX_SIZE = "96K"
INSTANCE = dict(activesync=True,
                plugin_settings={"activesync_state_max_size": MAX_SIZE})


def _raw_options(inst, timeout=10):
    """OPTIONS as a device sends it; (response, seconds)."""
    c = inst.eas_client("user1@example.test")
    t0 = time.monotonic()
    r = c.options()
    return r, time.monotonic() - t0




def _broken_instance(name, prepare):
    """An instance whose state directory prepare(path) broke, started
    without insisting that the service answers."""
    inst = harness.DovecotInstance(activesync=True, name=name)
    prepare(inst.eas_state_dir)
    inst.start(check_service=False)
    return inst


def _assert_unavailable(inst, log_parts):
    """Every request is answered 503 at once, and the log says why."""
    r, secs = _raw_options(inst)
    assert r.status == 503, r
    assert secs < 5, "503 took %.1fs" % secs
    assert r.header("Retry-After") is not None, r.headers
    c = inst.eas_client("user1@example.test")
    r = c.request("FolderSync", '<FolderSync xmlns="FolderHierarchy:">'
                  '<SyncKey>0</SyncKey></FolderSync>')
    assert r.status == 503, r
    line = inst.wait_for_log("Can't open the state store", timeout=10)
    assert line is not None, inst.log_tail()
    for part in log_parts:
        assert part in line, (part, line)
    assert "activesync_state_dir" in line, line


def _repair_and_check(inst):
    inst.reload_service()
    r, _ = _raw_options(inst)
    assert r.status == 200, r
    c = inst.eas_client("user1@example.test")
    assert folders(c), "FolderSync after the repair"


def test_state_dir_unwritable(dc):
    uid = dc.uid

    def prepare(path):
        # the directory exists but the service's user can't enter it
        os.chmod(path, 0)
        if os.geteuid() == 0:
            os.chown(path, 0, 0)

    inst = _broken_instance("state-perm", prepare)
    try:
        _assert_unavailable(inst, ["Permission denied", "uid %d" % uid])
        os.chmod(inst.eas_state_dir, 0o700)
        if os.geteuid() == 0:
            os.chown(inst.eas_state_dir, inst.uid, inst.gid)
        _repair_and_check(inst)
        bad = inst.bad_log_lines()
        assert not bad, bad
    finally:
        inst.stop()
        inst.cleanup()


def test_state_file_not_lmdb(dc):
    def prepare(path):
        # what a newer, incompatible store or a stray file looks like
        with open(os.path.join(path, "data.mdb"), "wb") as f:
            f.write(b"not an LMDB environment\n" * 400)
        if os.geteuid() == 0:
            os.chown(os.path.join(path, "data.mdb"), dc.uid, dc.gid)

    inst = _broken_instance("state-junk", prepare)
    try:
        _assert_unavailable(inst, ["move the directory away"])
        # moved away as the log line says: a fresh store, devices resync
        aside = inst.eas_state_dir + ".old"
        os.rename(inst.eas_state_dir, aside)
        os.mkdir(inst.eas_state_dir, 0o700)
        if os.geteuid() == 0:
            os.chown(inst.eas_state_dir, inst.uid, inst.gid)
        _repair_and_check(inst)
        shutil.rmtree(aside)
    finally:
        inst.stop()
        inst.cleanup()


def _fill_map(dc, tag):
    """Provision devices of another user until the store refuses three
    in a row: the map is then full but for fragments."""
    refused = 0
    for i in range(3000):
        filler = dc.eas_client("user2@example.test",
                               device_id="FILL%s%d" % (tag, i))
        try:
            filler.provision()
            r = filler.foldersync()
            ok = r.status == 200 and r.text("Status") == "1"
        except (harness.HarnessError, AssertionError):
            ok = False
        refused = 0 if ok else refused + 1
        if refused == 3:
            return
    raise AssertionError("the map never filled up")


def _subjects(res):
    return sorted(xtext(a, "ApplicationData/Email:Subject")
                  for a in res.adds)


def test_map_full_during_sync(dc):
    """The map fills while a device is away; its next Sync stores a
    larger state (a gappy set of UIDs) than the one it replaces. Once
    that can't be stored it gets 503 with Retry-After (not a SyncKey
    that was never stored), and after the limit is raised the same
    SyncKey gets the same mail."""
    c = new_account(dc, "full")
    inbox = folders(c)[2]
    r = sync(c, inbox, "0").ok()
    key = sync(c, inbox, r.key).ok().key
    mark = dc.log_offset()
    refused = None
    serial = 0
    for rnd in range(30):
        # 40 new messages, every other one expunged: 20 more UID ranges
        serial, want = _add_uid_ranges(dc, c, serial, "m")
        _fill_map(dc, "R%d" % rnd)
        resp = sync_request(c, inbox, key, window=512)
        if resp.status == 503:
            refused = resp
            break
        res = SyncResult(resp).ok()
        assert _subjects(res) == want, (_subjects(res), want)
        key = res.key
    assert refused is not None, "no Sync was refused in 30 rounds"
    assert refused.header("Retry-After") is not None, refused.headers
    dc.wait_for_log_text(mark, "answering 503")
    log = dc.log_since(mark)
    assert "full at" in log and \
        "activesync_state_max_size = %s" % MAX_SIZE.replace("K", " KB") \
        in log, log[-3000:]

    # room again: the same key is accepted and brings the same mail
    dc.plugin_settings["activesync_state_max_size"] = "0"
    dc.reload_service()
    res = sync(c, inbox, key, window=512).ok()
    assert _subjects(res) == want, (_subjects(res), want)
    assert res.key == str(int(key) + 1), res.key
    # and the next one continues from there: nothing resent
    assert not sync(c, inbox, res.key).ok().adds


def test_map_full_after_a_streamed_response_began(dc):
    """As above, with windows large enough to be streamed: once part of
    the response is on its way a state that can't be stored cuts the
    connection (no complete response, no SyncKey the server doesn't
    know), and the same SyncKey later brings the same mail. An instance
    of its own: the test above leaves the module's map grown."""
    inst = harness.DovecotInstance(
        activesync=True, name="state-stream",
        plugin_settings={"activesync_state_max_size": MAX_SIZE})
    inst.start()
    try:
        _streamed_sync_cut(inst)
        bad = inst.bad_log_lines()
        assert not bad, bad
    finally:
        inst.stop()
        inst.cleanup()


def _add_uid_ranges(dc, c, serial, prefix, body=None):
    """Deliver 40 messages and expunge every other one (20 more UID
    ranges in the device's state). Returns the new serial and the
    subjects that stay."""
    first = serial + 1
    for _ in range(40):
        serial += 1
        kw = {} if body is None else {"body": body}
        dc.deliver(c.user, harness.sample_message(
            subject="%s%04d" % (prefix, serial), **kw))
    imap = dc.imap(c.user, c.password)
    try:
        assert imap.select("INBOX")[0] == "OK"
        odd = ",".join(str(u) for u in range(first, serial + 1, 2))
        assert imap.uid("STORE", odd, "+FLAGS.SILENT",
                        "(\\Deleted)")[0] == "OK"
        assert imap.expunge()[0] == "OK"
    finally:
        imap.logout()
    return serial, ["%s%04d" % (prefix, i)
                    for i in range(first + 1, serial + 1, 2)]


def _streamed_sync_cut(dc):
    import http.client
    c = new_account(dc, "fullstream")
    inbox = folders(c)[2]
    r = sync(c, inbox, "0").ok()
    key = sync(c, inbox, r.key).ok().key
    mark = dc.log_offset()
    cut = False
    serial = 0
    for rnd in range(30):
        # 20 messages stay per round: a window above the 2 MiB from
        # which a response streams
        serial, want = _add_uid_ranges(dc, c, serial, "s",
                                       body=("x" * 76 + "\n") * 1800)
        _fill_map(dc, "S%d" % rnd)
        try:
            resp = sync_request(c, inbox, key, window=512)
        except (http.client.IncompleteRead, http.client.RemoteDisconnected,
                ConnectionResetError):
            cut = True
            break
        # (a 503 here: the device record's last-seen time, written once
        # a minute, failed before the Sync ran; see the test above)
        assert resp.status == 200, resp
        assert resp.header("Transfer-Encoding") == "chunked", resp.headers
        res = SyncResult(resp).ok()
        assert _subjects(res) == want, (_subjects(res), want)
        key = res.key
    assert cut, "no streamed Sync was cut in 30 rounds"
    dc.wait_for_log_text(mark, "closing the connection")

    dc.plugin_settings["activesync_state_max_size"] = "0"
    dc.reload_service()
    res = sync(c, inbox, key, window=512).ok()
    assert _subjects(res) == want, (_subjects(res), want)
    assert res.key == str(int(key) + 1), res.key
    assert not sync(c, inbox, res.key).ok().adds
