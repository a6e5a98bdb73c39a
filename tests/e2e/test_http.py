"""HTTP transport of the activesync service (MS-ASHTTP).

OPTIONS, Basic authentication, query parsing (plain and base64 forms),
protocol versions, and rejection of malformed or oversized bodies.  After
every test the runner also checks the service still answers and the log
has no Panic/Fatal/sanitizer lines.
"""

import random
import re

from harness import EAS_PATH, encode_xml, penalty_free_ip, xrequire, xtext

# The test instance gets a small request limit so "oversize" is cheap.
MAX_REQUEST = 1024 * 1024
INSTANCE = dict(activesync=True,
                plugin_settings={"activesync_max_request_size": "1M"})

SUPPORTED_VERSIONS = ["12.0", "12.1", "14.0", "14.1", "16.0", "16.1"]
REQUIRED_COMMANDS = ["Sync", "FolderSync", "FolderCreate", "FolderDelete",
                     "FolderUpdate", "Ping", "Provision"]

FOLDERSYNC0 = ('<FolderSync xmlns="FolderHierarchy:"><SyncKey>0</SyncKey>'
               '</FolderSync>')

# "Your request is malformed" answers a server may give in the body of a
# 200 response instead of HTTP 400: common status codes 101 (invalid
# content), 102 (invalid WBXML), 103 (invalid XML) of MS-ASCMD 2.2.2, or
# FolderSync's own 10 (incorrectly formatted request).
MALFORMED_STATUSES = {"10", "101", "102", "103"}

# A log line from the service that explains a rejected request.
REJECT_LOG_RE = (r"(?i)activesync.*(invalid|malformed|truncat|wbxml|"
                 r"too large|too big|payload|size|bad request|unknown|"
                 r"unsupported|unexpected|missing|refus|reject|pars|"
                 r"status 10[123]\b|\b4[01][0-9] )")

_serial = [0]


def new_client(dc, tag, version="14.1", **kw):
    """A fresh user and device for one test."""
    _serial[0] += 1
    user = "http-%s-%d@example.test" % (tag, _serial[0])
    password = "pw-%s-%d" % (tag, _serial[0])
    dc.add_user(user, password)
    return dc.eas_client(user, password,
                         device_id="HTTP%s%d" % (tag.upper().replace(
                             "-", ""), _serial[0]),
                         device_type="E2ETest", version=version, **kw)


def assert_foldersync_ok(r):
    assert r.status == 200, r
    assert xrequire(r, "FolderSync/Status") == "1", r
    assert xtext(r, "FolderSync/SyncKey") not in (None, "", "0"), r


def send_rejected(dc, c, cmd, allow=(400,), raw_socket=False, **kw):
    """Send a request that must be refused: HTTP 4xx from `allow`, or
    200 with a "malformed request" status; and the service must log a
    line saying why.  Returns the response."""
    since = dc.log_offset()
    if raw_socket:
        r = c.raw_socket("POST", c.query(cmd), kw.pop("headers"),
                         kw.pop("body"), **kw)
    else:
        r = c.request(cmd, **kw)
    if r.status == 200:
        c.decode_response(r)
        st = xtext(r, "Status") if r.xml is not None else None
        assert st in MALFORMED_STATUSES, (
            "malformed request answered 200 without an error status: %r"
            % (r,))
    else:
        assert r.status in allow, r
    dc.wait_for_log(REJECT_LOG_RE, timeout=5, since=since)
    return r


def assert_basic_challenge(r):
    assert r.status == 401, r
    challenge = r.header("WWW-Authenticate") or ""
    assert re.match(r'(?i)basic\s+realm="[^"]+"', challenge), challenge


# ------------------------------------------------------------------ OPTIONS

def test_options(dc):
    c = new_client(dc, "options")
    r = c.options()
    assert r.status == 200, r
    versions = [v.strip() for v in
                (r.header("MS-ASProtocolVersions") or "").split(",")]
    assert versions == SUPPORTED_VERSIONS, versions
    commands = [v.strip() for v in
                (r.header("MS-ASProtocolCommands") or "").split(",")]
    for cmd in REQUIRED_COMMANDS:
        assert cmd in commands, (cmd, commands)
    # every advertised command must be one the server understands
    for cmd in commands:
        assert re.match(r"^[A-Za-z]+$", cmd), commands


# ------------------------------------------------------------ authentication

def test_post_without_auth(dc):
    c = new_client(dc, "noauth")
    r = c.request("FolderSync", FOLDERSYNC0, auth=False)
    assert_basic_challenge(r)


def test_wrong_password(dc):
    c = new_client(dc, "wrongpw", source_ip=penalty_free_ip())
    c.password = "definitely-wrong"
    r = c.request("FolderSync", FOLDERSYNC0)
    assert_basic_challenge(r)


def test_unknown_user(dc):
    c = dc.eas_client("nobody-here@example.test", "whatever",
                      device_id="HTTPUNKNOWN1", device_type="E2ETest",
                      source_ip=penalty_free_ip())
    r = c.request("FolderSync", FOLDERSYNC0)
    assert_basic_challenge(r)


def test_malformed_authorization_header(dc):
    c = new_client(dc, "badauth", source_ip=penalty_free_ip())
    for value in ("Basic", "Basic !!!notbase64!!!", "Bearer",
                  "Basic " + "QQ==" * 3000, "Digest username=x"):
        r = c.request("FolderSync", FOLDERSYNC0,
                      headers={"Authorization": value})
        assert r.status in (400, 401, 413, 431), (value, r)


def test_login_full_address(dc):
    c = new_client(dc, "fulladdr")
    assert_foldersync_ok(c.foldersync())


def test_foldersync_lists_inbox_and_special_use(dc):
    # A fresh account: INBOX (type 2) and the special-use folders with
    # their EAS types, even before any mail arrived.
    c = new_client(dc, "inbox")
    r = c.foldersync()
    assert_foldersync_ok(r)
    types = {}
    for add in r.xml.iter("{FolderHierarchy:}Add"):
        types[xtext(add, "DisplayName")] = xtext(add, "Type")
    assert "2" in types.values(), ("no Inbox (type 2)", types)
    expected = {"Drafts": "3", "Trash": "4", "Sent": "5"}
    for name, typ in expected.items():
        assert types.get(name) == typ, (name, types)


def test_login_plain_name(dc):
    c = dc.eas_client("bob", device_id="HTTPBOB1", device_type="E2ETest")
    assert_foldersync_ok(c.foldersync())


def test_login_user_query_differs_from_auth(dc):
    # The User= query parameter is only for logs: the authenticated user
    # is the one whose mailbox is used; a mismatch must not be honoured
    # as a way into another mailbox.
    marker = "OnlyUser1Marker"
    dc.doveadm("mailbox", "create", "-u", "user1@example.test", marker)
    c = new_client(dc, "userparam")
    r = c.request_provisioned("FolderSync", FOLDERSYNC0,
                              extra_query={"User": "user1@example.test"})
    assert r.status in (200, 400, 403), r
    if r.status == 200:
        assert_foldersync_ok(r)
        names = [e.text for e in
                 r.xml.iter("{FolderHierarchy:}DisplayName")]
        assert marker not in names, names


def test_browser_get(dc):
    c = new_client(dc, "browser")
    ua = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/115.0"}
    r = c.raw("GET", EAS_PATH, ua)
    assert_basic_challenge(r)
    h = dict(ua, Authorization=c.auth_header())
    r = c.raw("GET", EAS_PATH, h)
    assert r.status < 500 and r.status != 401, r


# ------------------------------------------------------------------ queries

def test_unknown_command(dc):
    c = new_client(dc, "unknowncmd")
    r = c.request("Frobnicate", FOLDERSYNC0)
    assert r.status == 501, r


def test_missing_parameters(dc):
    c = new_client(dc, "missing")
    for drop in ("Cmd", "DeviceId", "DeviceType"):
        cmd = None if drop == "Cmd" else "FolderSync"
        saved = (c.device_id, c.device_type)
        if drop == "DeviceId":
            c.device_id = None
        if drop == "DeviceType":
            c.device_type = None
        try:
            r = c.request(cmd, FOLDERSYNC0)
        finally:
            c.device_id, c.device_type = saved
        assert r.status == 400, (drop, r)


def test_empty_parameters(dc):
    c = new_client(dc, "emptyparam")
    for field in ("device_id", "device_type"):
        saved = getattr(c, field)
        setattr(c, field, "")
        try:
            r = c.request("FolderSync", FOLDERSYNC0)
        finally:
            setattr(c, field, saved)
        assert r.status == 400, (field, r)


def test_oversized_device_id(dc):
    # MS-ASHTTP limits DeviceId to 32 characters.
    c = new_client(dc, "longdev")
    c.device_id = "X" * 4000
    r = c.request("FolderSync", FOLDERSYNC0)
    assert r.status == 400, r


def test_base64_query_foldersync(dc):
    c = new_client(dc, "b64")
    r = c.foldersync(base64_query=True)
    assert_foldersync_ok(r)


def test_base64_query_versions_and_policy_key(dc):
    # The base64 form carries version and policy key in its bytes, not
    # in headers; a provisioned device must be accepted with it.
    c = new_client(dc, "b64key", version="16.1")
    assert_foldersync_ok(c.foldersync())   # provisions (plain form)
    r = c.request("FolderSync", FOLDERSYNC0, base64_query=True)
    assert_foldersync_ok(r)


def test_base64_query_malformed(dc):
    c = new_client(dc, "b64bad")
    h = c.headers()
    for q in ("AAAA", "jAAJBAp2MTQw", "%%%%", "jAAJBP////8=",
              "jP8JBAp2MTQwRGV2aWNlAApTbWFydFBob25l"):
        r = c.raw("POST", "%s?%s" % (EAS_PATH, q), h,
                  encode_xml(FOLDERSYNC0))
        assert 400 <= r.status < 500 or r.status == 501, (q, r)


def test_supported_versions(dc):
    for version in SUPPORTED_VERSIONS:
        c = new_client(dc, "v" + version.replace(".", ""), version=version)
        assert_foldersync_ok(c.foldersync())


def test_unsupported_version(dc):
    c = new_client(dc, "badver")
    for version in ("2.5", "1.0", "99.9", "garbage", ""):
        c.version = version
        r = c.request("FolderSync", FOLDERSYNC0)
        assert 400 <= r.status < 500, (version, r)
        assert dc.service_alive()
    c.version = "14.1"
    assert_foldersync_ok(c.foldersync())


def test_missing_version_header(dc):
    c = new_client(dc, "nover")
    r = c.request("FolderSync", FOLDERSYNC0,
                  headers={"MS-ASProtocolVersion": None})
    assert 400 <= r.status < 500, r


# ------------------------------------------------------------------ bodies

def _provisioned(dc, tag):
    c = new_client(dc, tag)
    assert_foldersync_ok(c.foldersync())
    return c


def test_truncated_wbxml(dc):
    c = _provisioned(dc, "trunc")
    good = encode_xml(FOLDERSYNC0)
    for cut in (1, 3, len(good) - 4):
        send_rejected(dc, c, "FolderSync", body=good[:len(good) - cut])
    assert_foldersync_ok(c.foldersync())


def test_garbage_body(dc):
    c = _provisioned(dc, "garbage")
    rnd = random.Random(20240601)
    bodies = [b"GARBAGE!" + bytes(rnd.randrange(256) for _ in range(512)),
              b"<FolderSync><SyncKey>0</SyncKey></FolderSync>",
              b"\x03\x01\x6a\x00" + b"\xff" * 64,
              b"\x03"]
    for body in bodies:
        send_rejected(dc, c, "FolderSync", body=body)
    assert_foldersync_ok(c.foldersync())


def test_empty_body_for_command_needing_one(dc):
    c = _provisioned(dc, "emptybody")
    send_rejected(dc, c, "FolderSync", body=b"")


def test_unknown_code_page(dc):
    c = _provisioned(dc, "codepage")
    # header, SWITCH_PAGE to page 0x40 (no such page), a tag, END
    send_rejected(dc, c, "FolderSync",
                  body=b"\x03\x01\x6a\x00\x00\x40\x45\x01")
    assert_foldersync_ok(c.foldersync())


def test_root_element_not_matching_command(dc):
    c = _provisioned(dc, "mismatch")
    send_rejected(dc, c, "FolderSync",
                  xml='<Ping xmlns="Ping:"><HeartbeatInterval>60'
                  '</HeartbeatInterval></Ping>')


def test_deep_nesting(dc):
    c = _provisioned(dc, "deep")
    # 10000 nested Collections elements: must be refused by the depth
    # limit, not by running out of stack.
    body = b"\x03\x01\x6a\x00\x00\x00" + b"\x5c" * 10000 + b"\x01" * 10000
    send_rejected(dc, c, "Sync", body=body, allow=(400, 413))


def test_oversize_body(dc):
    c = _provisioned(dc, "oversize")
    body = b"\x03\x01\x6a\x00" + b"\x00" * (2 * MAX_REQUEST)
    send_rejected(dc, c, "FolderSync", allow=(400, 413), raw_socket=True,
                  headers=c.headers(), body=body)
    assert_foldersync_ok(c.foldersync())


def test_oversize_announced(dc):
    # Content-Length of 60 MiB: refused from the header alone.
    c = _provisioned(dc, "announced")
    h = c.headers()
    h["Content-Length"] = str(60 * 1024 * 1024)
    send_rejected(dc, c, "FolderSync", allow=(400, 413), raw_socket=True,
                  headers=h, body=b"\x00" * (60 * 1024 * 1024),
                  early_wait=3.0)
    assert_foldersync_ok(c.foldersync())


def test_oversize_chunked(dc):
    c = _provisioned(dc, "chunked")
    h = c.headers()
    h["Transfer-Encoding"] = "chunked"
    chunk = b"\x00" * 65536
    one = b"%x\r\n" % len(chunk) + chunk + b"\r\n"
    body = one * (2 * MAX_REQUEST // len(chunk)) + b"0\r\n\r\n"
    send_rejected(dc, c, "FolderSync", allow=(400, 413), raw_socket=True,
                  headers=h, body=body)
    assert_foldersync_ok(c.foldersync())


def test_many_requests_one_connection_and_new_ones(dc):
    # The service keeps serving after a stream of mixed good and bad
    # requests (sanity for leaks/crashes under ASan).
    c = _provisioned(dc, "mixed")
    for i in range(20):
        if i % 3 == 0:
            r = c.request("FolderSync", body=b"\x03\x01\x6a\x00\x00\x40")
            assert r.status in (200, 400), r
        elif i % 3 == 1:
            r = c.request("Frobnicate", FOLDERSYNC0)
            assert r.status == 501, r
        else:
            assert_foldersync_ok(c.foldersync())


def test_non_activesync_path(dc):
    c = new_client(dc, "path")
    r = c.raw("POST", "/not-activesync?Cmd=FolderSync",
              dict(c.headers()), encode_xml(FOLDERSYNC0))
    assert r.status in (400, 401, 404), r


def test_unexpected_method(dc):
    c = new_client(dc, "method")
    r = c.raw("DELETE", c.query("FolderSync"), c.headers())
    assert r.status in (400, 405, 501), r
