"""A device holding a Ping when the admin wipes or blocks it: the Ping
ends at once (doveadm activesync tells the service processes), so the
device comes back and meets the wipe directive or the block."""

import time

from harness import Background, ping, ping_status, setup_device, \
    sync_all, wait_held, xfind, xrequire

INSTANCE = dict(activesync=True, plugin_settings={
    "activesync_ping_min_heartbeat": "1s",
    "activesync_ping_max_heartbeat": "300s",
    "activesync_debug": "yes",
})

FOLDERSYNC0 = ('<FolderSync xmlns="FolderHierarchy:"><SyncKey>0</SyncKey>'
               '</FolderSync>')


def held_ping(dc, name):
    c, user, _, by_type, _ = setup_device(dc, name)
    inbox = by_type["2"]
    sync_all(c, inbox)
    mark = dc.log_offset()
    start = time.monotonic()
    bg = Background(ping, c, 240, [(inbox, "Email")])
    wait_held(dc, mark)
    return c, bg, start


def test_wipe_ends_held_ping(dc):
    c, bg, start = held_ping(dc, "wipeping")
    dc.activesync("device", "wipe", "-u", c.user, c.device_id)
    r = bg.wait(10)
    assert time.monotonic() - start < 30, "Ping held on"
    assert ping_status(r) == "1", r
    # the device's next request goes to Provision, which wipes
    r = c.request("FolderSync", FOLDERSYNC0)
    assert xrequire(r, "FolderSync/Status") == "142", r
    r = c.request("Provision", (
        '<Provision xmlns="Provision:"><Policies><Policy>'
        '<PolicyType>MS-EAS-Provisioning-WBXML</PolicyType></Policy>'
        '</Policies></Provision>'))
    assert xfind(r, "RemoteWipe") is not None, r


def test_block_ends_held_ping(dc):
    c, bg, start = held_ping(dc, "blockping")
    dc.activesync("device", "block", "-u", c.user, c.device_id)
    r = bg.wait(10)
    assert ping_status(r) == "1", r
    r = c.request("FolderSync", FOLDERSYNC0)
    assert xrequire(r, "FolderSync/Status") == "129", r
