"""The whole first-day story of a phone, modelled on the request sequence
of MS-ASCMD section 4: OPTIONS, Provision, FolderSync, Sync priming and
first sync of the Inbox, a message delivered over LMTP arriving as an Add,
a read flag from the device visible over IMAP, and a Ping woken by a
delivery.  Every request is encoded with libwbxml2's xml2wbxml and every
response decoded with wbxml2xml and with our own eas-wbxml (the harness
compares the two decodings)."""

import os
import re
import threading
import time

from harness import our_codec_path, sample_message, wait_held, xall, \
    xml_escape, xrequire, xtext

# the debug log says when the Ping is held
INSTANCE = dict(activesync=True,
                plugin_settings={"activesync_debug": "yes"})

SYNC_NS = ('<Sync xmlns="AirSync:" xmlns:airsyncbase="AirSyncBase:" '
           'xmlns:email="Email:">')


def sync_xml(coll, key, options=True, commands=""):
    opts = ""
    if options:
        opts = ("<Options><FilterType>0</FilterType>"
                "<airsyncbase:BodyPreference><airsyncbase:Type>1"
                "</airsyncbase:Type><airsyncbase:TruncationSize>2048"
                "</airsyncbase:TruncationSize></airsyncbase:BodyPreference>"
                "</Options>")
    get_changes = "<GetChanges>1</GetChanges>" if key != "0" else ""
    cmds = "<Commands>%s</Commands>" % commands if commands else ""
    return (SYNC_NS + "<Collections><Collection><SyncKey>%s</SyncKey>"
            "<CollectionId>%s</CollectionId>%s<WindowSize>100</WindowSize>"
            "%s%s</Collection></Collections></Sync>" % (
                xml_escape(key), xml_escape(coll), get_changes, opts, cmds))


def collection(r):
    assert r.status == 200, r
    coll = r.xml.find("{*}Collections/{*}Collection")
    assert coll is not None, r
    assert xrequire(coll, "Status") == "1", r
    return coll


def adds_by_subject(coll):
    out = {}
    for add in xall(coll, "Commands/Add"):
        subject = xtext(add, "ApplicationData/Subject")
        out[subject] = xrequire(add, "ServerId")
    return out


def run_story(dc, version):
    assert our_codec_path(dc.builddir) is not None, \
        "module/wbxml/eas-wbxml is not built: responses would be decoded " \
        "by one codec only"
    user = "story%s@example.test" % version.replace(".", "")
    dc.add_user(user, "story-pw")
    dc.deliver(user, sample_message("Welcome", "Before the phone came.\n",
                                    to=user))
    c = dc.eas_client(user, "story-pw", device_id="story" +
                      version.replace(".", ""), device_type="iPhone",
                      version=version)

    # 1. OPTIONS: what the server speaks
    r = c.options()
    assert r.status == 200, r
    versions = r.header("MS-ASProtocolVersions").split(",")
    assert version in versions, versions
    commands = r.header("MS-ASProtocolCommands").split(",")
    for cmd in ("Provision", "FolderSync", "Sync", "Ping"):
        assert cmd in commands, commands

    # 2. an unprovisioned device is sent to Provision first
    r = c.request("FolderSync", '<FolderSync xmlns="FolderHierarchy:">'
                  '<SyncKey>0</SyncKey></FolderSync>')
    if version < "14.0":
        assert r.status == 449, r
    else:
        assert xrequire(r, "FolderSync/Status") == "142", r
    c.provision()
    assert c.policy_key not in (None, "0"), c.policy_key

    # 3. FolderSync: the Inbox and the special-use folders
    r = c.foldersync()
    assert xrequire(r, "FolderSync/Status") == "1", r
    types = {}
    for add in xall(r, "Changes/Add"):
        types[xrequire(add, "Type")] = xrequire(add, "ServerId")
    for t in ("2", "3", "4", "5"):
        assert t in types, "folder type %s missing: %r" % (t, r)
    inbox = types["2"]

    # 4. Sync priming with SyncKey 0, then the first real Sync
    r = c.request("Sync", sync_xml(inbox, "0", options=False))
    coll = collection(r)
    key = xrequire(coll, "SyncKey")
    assert key != "0"
    assert coll.find("{*}Commands") is None, r
    r = c.request("Sync", sync_xml(inbox, key))
    coll = collection(r)
    key = xrequire(coll, "SyncKey")
    adds = adds_by_subject(coll)
    assert "Welcome" in adds, r

    # 5. a message delivered over LMTP arrives as an Add
    dc.deliver(user, sample_message("Fresh news", "Delivered by LMTP.\n",
                                    to=user))
    r = c.request("Sync", sync_xml(inbox, key))
    coll = collection(r)
    key = xrequire(coll, "SyncKey")
    adds = adds_by_subject(coll)
    assert list(adds) == ["Fresh news"], r
    fresh = adds["Fresh news"]
    add = [a for a in xall(coll, "Commands/Add")
           if xtext(a, "ServerId") == fresh][0]
    assert xtext(add, "ApplicationData/Read") == "0", r
    body = xtext(add, "ApplicationData/Body/Data") or \
        xtext(add, "ApplicationData/Body")
    assert body is not None and "Delivered by LMTP." in body, r

    # 6. the device marks it read; IMAP sees \Seen
    r = c.request("Sync", sync_xml(inbox, key, options=False, commands=(
        "<Change><ServerId>%s</ServerId><ApplicationData>"
        "<email:Read>1</email:Read></ApplicationData></Change>" % fresh)))
    coll = collection(r)
    key = xrequire(coll, "SyncKey")
    uid = fresh.split(":")[-1]
    imap = dc.imap(user, "story-pw")
    try:
        imap.select("INBOX", readonly=True)
        typ, data = imap.uid("FETCH", uid, "(FLAGS)")
        assert typ == "OK" and data and data[0] is not None, data
        assert b"\\Seen" in data[0], data
    finally:
        imap.logout()

    # 7. Ping on the Inbox, woken by a delivery
    result = {}

    def held_ping():
        result["resp"] = c.request(
            "Ping", '<Ping xmlns="Ping:"><HeartbeatInterval>300'
            '</HeartbeatInterval><Folders><Folder><Id>%s</Id>'
            '<Class>Email</Class></Folder></Folders></Ping>' % inbox,
            timeout=120)
        result["at"] = time.monotonic()

    dc.mark_log()
    mark = dc.log_offset()
    th = threading.Thread(target=held_ping)
    th.start()
    # the Ping is held once the service has armed its watch (its log
    # line says so), and it must still be held then
    wait_held(dc, mark)
    assert th.is_alive(), "Ping answered before any change: %r" % (
        result.get("resp"),)
    dc.deliver(user, sample_message("Push me", "Wakes the Ping.\n", to=user))
    delivered = time.monotonic()
    th.join(60)
    assert not th.is_alive(), "Ping not woken by the delivery"
    # it ended on the delivery, not before it
    assert result["at"] >= delivered, (result["at"], delivered)
    r = result["resp"]
    assert r.status == 200, r
    assert xrequire(r, "Ping/Status") == "2", r
    ids = [f.text for f in r.xml.findall("{*}Folders/{*}Folder")]
    assert ids == [inbox], r
    latency_ms = (result["at"] - delivered) * 1000.0
    print("    [%s] LMTP delivery -> Ping response: %.1f ms" % (
        version, latency_ms))

    # 8. and the next Sync brings the pushed message
    r = c.request("Sync", sync_xml(inbox, key))
    coll = collection(r)
    assert list(adds_by_subject(coll)) == ["Push me"], r
    return latency_ms


def test_story_14_1(dc):
    run_story(dc, "14.1")


def test_story_16_1(dc):
    run_story(dc, "16.1")


def test_story_12_1(dc):
    run_story(dc, "12.1")
