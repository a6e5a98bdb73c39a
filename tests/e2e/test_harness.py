"""Self-tests of the harness pieces that don't need the service:
the base64 query builder, the libwbxml round trip, the cross-check
against our own eas-wbxml (when built) and the XML lookups."""

import base64

import harness
from harness import (assert_same_document, base64_query, decode_wbxml,
                     encode_xml, our_codec_path, our_decode, parse_xml,
                     xall, xfind, xtext)

INSTANCE = dict(activesync=False)


def test_base64_query_matches_spec_example(dc):
    # MS-ASHTTP 2.2.1.1.1.1 example: version 14.0, Sync, locale 0x0409,
    # DeviceId v140Device, no policy key, DeviceType SmartPhone.
    q = base64_query("Sync", "v140Device", "SmartPhone", version="14.0")
    assert q == "jAAJBAp2MTQwRGV2aWNlAApTbWFydFBob25l", q


def test_base64_query_fields(dc):
    q = base64_query("SmartReply", "dev1", "Phone", version="16.1",
                     policy_key=3735928559,
                     params={"CollectionId": "5", "ItemId": "5:12",
                             "Options": 0x01})
    raw = base64.b64decode(q)
    assert raw[0] == 161 and raw[1] == 3, raw
    assert raw[2:4] == b"\x09\x04"
    assert raw[4] == 4 and raw[5:9] == b"dev1"
    assert raw[9] == 4 and raw[10:14] == (3735928559).to_bytes(4, "little")
    assert raw[14] == 5 and raw[15:20] == b"Phone"
    assert raw[20:] == b"\x01\x015" + b"\x03\x045:12" + b"\x07\x01\x01", raw


def test_wbxml_round_trip(dc):
    xml = ('<Sync xmlns="AirSync:" xmlns:airsyncbase="AirSyncBase:">'
           '<Collections><Collection><SyncKey>0</SyncKey>'
           '<CollectionId>1</CollectionId><Options>'
           '<airsyncbase:BodyPreference><airsyncbase:Type>2'
           '</airsyncbase:Type></airsyncbase:BodyPreference></Options>'
           '</Collection></Collections></Sync>')
    wbxml = encode_xml(xml)
    assert wbxml[:4] == b"\x03\x01\x6a\x00", wbxml[:8]
    text = decode_wbxml(wbxml)
    assert_same_document(xml, text, "round trip", "input", "wbxml2xml")
    root = parse_xml(text)
    assert xtext(root, "Collections/Collection/CollectionId") == "1"
    assert xtext(root, "Sync/Collections/Collection/SyncKey") == "0"
    assert xtext(root, "Collections/Collection/Options/"
                 "AirSyncBase:BodyPreference/AirSyncBase:Type") == "2"
    assert xfind(root, "Collections/Collection/AirSync:Options") is not None
    assert xfind(root, "Collections/Collection/Email:Options") is None
    assert len(xall(root, "Collections/Collection")) == 1


def test_name_aliases_compare_equal(dc):
    a = '<SendMail xmlns="ComposeMail:"><MIME>aGk=</MIME></SendMail>'
    b = '<SendMail xmlns="ComposeMail:"><Mime>aGk=</Mime></SendMail>'
    assert_same_document(a, b)
    c = '<SendMail xmlns="ComposeMail:"><Mime>aGo=</Mime></SendMail>'
    try:
        assert_same_document(a, c)
    except AssertionError:
        pass
    else:
        raise AssertionError("different documents compared equal")


def test_our_codec_agrees_with_libwbxml(dc):
    """Cross-check module/wbxml/eas-wbxml against libwbxml2.  Fails (does
    not skip) when the tool is not built."""
    if our_codec_path() is None:
        raise harness.HarnessError(
            "module/wbxml/eas-wbxml not built in %s" %
            harness.find_builddir())
    docs = [
        '<FolderSync xmlns="FolderHierarchy:"><SyncKey>0</SyncKey>'
        '</FolderSync>',
        '<Provision xmlns="Provision:" xmlns:settings="Settings:">'
        '<settings:DeviceInformation><settings:Set><settings:Model>x'
        '</settings:Model></settings:Set></settings:DeviceInformation>'
        '<Policies><Policy><PolicyType>MS-EAS-Provisioning-WBXML'
        '</PolicyType></Policy></Policies></Provision>',
        '<Ping xmlns="Ping:"><HeartbeatInterval>480</HeartbeatInterval>'
        '<Folders><Folder><Id>1</Id><Class>Email</Class></Folder>'
        '</Folders></Ping>',
        '<Sync xmlns="AirSync:" xmlns:email="Email:">'
        '<Collections><Collection><SyncKey>1</SyncKey>'
        '<CollectionId>1</CollectionId><Commands><Change>'
        '<ServerId>1:5</ServerId><ApplicationData><email:Read>1'
        '</email:Read></ApplicationData></Change></Commands>'
        '</Collection></Collections></Sync>',
    ]
    for xml in docs:
        wbxml = encode_xml(xml)
        ours = our_decode(wbxml)
        assert_same_document(decode_wbxml(wbxml), ours, "document")
        # and our encoder's output must decode the same with libwbxml
        mine = harness.our_encode(xml)
        assert_same_document(xml, decode_wbxml(mine), "our encoding",
                             "input", "wbxml2xml(eas-wbxml encode)")
    # opaque data (SendMail's Mime) is shown as base64 by both
    opaque = b"\x03\x01\x6a\x00\x00\x15\x45\x50\xc3\x05hello\x01\x01"
    assert_same_document(decode_wbxml(opaque), our_decode(opaque),
                         "opaque document")
    assert xtext(parse_xml(our_decode(opaque)), "ComposeMail:Mime") == \
        base64.b64encode(b"hello").decode()
