"""One held request per device (module/push/as-hold.c).

A Sync with Wait or HeartbeatInterval and a Ping wait in the same engine:
the mail user is released while they wait, and a newer request of the
same device ends the held one at once.  A superseded Ping answers
Status 1; a superseded Sync answers as if nothing changed (an empty
response: the device keeps its SyncKeys), and the change that came
meanwhile reaches the device through the newer request or the next
Sync.  A plain Sync leaves a held Ping alone (it doesn't touch what a
Ping waits on), but ends a held Sync, which waits on the same SyncKeys."""

import os
import time

from harness import Background, open_paths, ping, \
    ping_status as status_of, plugin_dir_conf, sample_message, \
    service_pids, setup_device, sync_all, sync_wait, wait_held, xall, \
    xrequire

INSTANCE = dict(activesync=True, plugin_settings={
    "activesync_ping_min_heartbeat": "1s",
    "activesync_ping_max_heartbeat": "120s",
    "activesync_debug": "yes",
}, extra_conf=plugin_dir_conf())

# a held Sync waits this long (minutes) unless something ends it
WAIT_MINUTES = 5
# a superseded request answers within this (seconds): far below the wait
PROMPT_SECS = 5.0

ADD_SUBJECTS = "Collections/Collection/Commands/Add/ApplicationData/Subject"


def held_sync_wait(dc, c, inbox, key):
    """A Sync with Wait, once the service says it holds it."""
    mark = dc.log_offset()
    bg = Background(sync_wait, c, inbox, key, wait_minutes=WAIT_MINUTES,
                    timeout=WAIT_MINUTES * 60 + 30)
    wait_held(dc, mark, cmd="Sync")
    return bg


def assert_superseded_sync(bg, t0):
    """The held Sync got its no-changes answer promptly."""
    r = bg.wait(PROMPT_SECS * 2)
    took = bg.done_at - t0
    assert r.status == 200 and r.body == b"", r
    assert took < PROMPT_SECS, "superseded Sync answered after %.1f s" % took
    print("  superseded Sync answered %.1f ms after the newer request" %
          (took * 1000))


def key_after(r, key):
    """The SyncKey the device has after response r to a Sync with key."""
    assert r.status == 200, r
    if not r.body:
        return key
    assert xrequire(r, "Collections/Collection/Status") == "1", r
    return xrequire(r, "Collections/Collection/SyncKey")


def subjects(r):
    return [e.text for e in xall(r, ADD_SUBJECTS)]


def test_sync_wait_superseded_by_sync(dc):
    c, user, _, by_type, _ = setup_device(dc, "holdbysync")
    inbox = by_type["2"]
    key = sync_all(c, inbox)
    old = held_sync_wait(dc, c, inbox, key)
    mark = dc.log_offset()
    t0 = time.monotonic()
    # a plain Sync with the same key: nothing new yet
    r = sync_wait(c, inbox, key)
    assert_superseded_sync(old, t0)
    assert subjects(r) == [], r
    key = key_after(r, key)
    assert "Ended by a newer request of the same device" in \
        dc.log_since(mark)
    # the keys are intact: what comes now reaches the device
    dc.deliver(user, sample_message("after the newer Sync", to=user))
    r = sync_wait(c, inbox, key)
    assert subjects(r) == ["after the newer Sync"], r
    key = key_after(r, key)
    r = sync_wait(c, inbox, key)
    assert r.status == 200 and subjects(r) == [], r


def test_sync_wait_superseded_by_sync_wait(dc):
    c, user, _, by_type, _ = setup_device(dc, "holdbywait")
    inbox = by_type["2"]
    key = sync_all(c, inbox)
    old = held_sync_wait(dc, c, inbox, key)
    t0 = time.monotonic()
    new = held_sync_wait(dc, c, inbox, key)
    assert_superseded_sync(old, t0)
    # the newer one holds on, and gets the delivery
    dc.deliver(user, sample_message("to the newer Sync", to=user))
    r = new.wait(30)
    assert subjects(r) == ["to the newer Sync"], r
    assert new.done_at - t0 < 30


def test_sync_wait_superseded_by_ping(dc):
    c, user, _, by_type, _ = setup_device(dc, "holdbyping")
    inbox = by_type["2"]
    key = sync_all(c, inbox)
    old = held_sync_wait(dc, c, inbox, key)
    mark = dc.log_offset()
    t0 = time.monotonic()
    p = Background(ping, c, 60, [(inbox, "Email")])
    assert_superseded_sync(old, t0)
    wait_held(dc, mark)
    dc.deliver(user, sample_message("after the Ping", to=user))
    assert status_of(p.wait(30)) == "2"
    # the Sync the Ping asks for brings it, with the key the held Sync
    # left untouched
    r = sync_wait(c, inbox, key)
    assert subjects(r) == ["after the Ping"], r


def test_ping_superseded_by_sync_wait(dc):
    c, user, _, by_type, _ = setup_device(dc, "holdpingbywait")
    inbox = by_type["2"]
    key = sync_all(c, inbox)
    mark = dc.log_offset()
    p = Background(ping, c, 60, [(inbox, "Email")])
    wait_held(dc, mark)
    t0 = time.monotonic()
    new = held_sync_wait(dc, c, inbox, key)
    assert status_of(p.wait(PROMPT_SECS)) == "1"
    assert p.done_at - t0 < PROMPT_SECS
    dc.deliver(user, sample_message("to the held Sync", to=user))
    assert subjects(new.wait(30)) == ["to the held Sync"]


def test_plain_sync_keeps_held_ping(dc):
    c, user, _, by_type, _ = setup_device(dc, "holdpingsync")
    inbox = by_type["2"]
    key = sync_all(c, inbox)
    mark = dc.log_offset()
    p = Background(ping, c, 60, [(inbox, "Email")])
    wait_held(dc, mark)
    r = sync_wait(c, inbox, key)
    assert r.status == 200 and subjects(r) == [], r
    time.sleep(0.5)
    assert p.done_at is None, p.result
    dc.deliver(user, sample_message("to the Ping", to=user))
    assert status_of(p.wait(30)) == "2"


def test_held_sync_keeps_nothing_open(dc):
    """While held, the Sync has no mail user: no mailbox, index or
    inotify open; a delivery still wakes it through the plugin."""
    c, user, _, by_type, _ = setup_device(dc, "holdsyncidle")
    inbox = by_type["2"]
    key = sync_all(c, inbox)
    mark = dc.log_offset()
    bg = held_sync_wait(dc, c, inbox, key)
    assert "plugin notifications, user released" in dc.log_since(mark)
    home = os.path.join(dc.home_root, user)
    for pid in service_pids(dc):
        paths = open_paths(pid)
        assert not [p for p in paths if p.startswith(home)], paths
        assert not [p for p in paths if "inotify" in p], paths
    t0 = time.monotonic()
    dc.deliver(user, sample_message("wakes the Sync", to=user))
    r = bg.wait(30)
    assert subjects(r) == ["wakes the Sync"], r
    print("  delivery -> held Sync answered in %.1f ms" % (
        (bg.done_at - t0) * 1000))


def test_heartbeat_sync_superseded_with_its_time_left(dc):
    """HeartbeatInterval (seconds) holds the same way as Wait."""
    c, user, _, by_type, _ = setup_device(dc, "holdhb")
    inbox = by_type["2"]
    key = sync_all(c, inbox)
    mark = dc.log_offset()
    old = Background(sync_wait, c, inbox, key, heartbeat=600, timeout=700)
    wait_held(dc, mark, cmd="Sync")
    assert "Sync: Holding for 600 s" in dc.log_since(mark)
    t0 = time.monotonic()
    r = sync_wait(c, inbox, key)
    assert r.status == 200, r
    assert_superseded_sync(old, t0)
