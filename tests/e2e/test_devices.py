"""Device management through doveadm activesync (issue 13): device
list/show with Provision's DeviceInformation, remove, resync, remote
wipe, allow/block/quarantine rules, device limit, per-user switch.

Each flow is driven over HTTP+WBXML against the private Dovecot and
checked with the build's doveadm plugin (DovecotInstance.activesync())."""

from harness import our_encode, setup_device, sync, sync_all, xall, \
    xfind, xml_escape, xrequire, xtext

INSTANCE = dict(activesync=True,
                plugin_settings={"activesync_provisioning": "yes"})

DEVINFO_FIELDS = (
    ("Model", "model", "Pixel 9"),
    ("IMEI", "imei", "356938035643809"),
    ("FriendlyName", "friendly_name", "Work phone"),
    ("OS", "os", "Android 15"),
    ("OSLanguage", "os_language", "English"),
    ("PhoneNumber", "phone_number", "+15551234567"),
    ("MobileOperator", "mobile_operator", "Test Mobile"),
    ("UserAgent", "user_agent", "TestAgent/1.0"),
)


def devinfo_xml(values):
    return ("<settings:DeviceInformation><settings:Set>%s"
            "</settings:Set></settings:DeviceInformation>" % "".join(
                "<settings:%s>%s</settings:%s>" % (tag, xml_escape(v), tag)
                for tag, v in values))


def provision(c, devinfo=None):
    """Two-phase Provision with our DeviceInformation; keeps the key."""
    values = [(tag, val) for tag, _, val in DEVINFO_FIELDS] \
        if devinfo is None else devinfo
    c.policy_key = None
    r = c.request("Provision", (
        '<Provision xmlns="Provision:" xmlns:settings="Settings:">%s'
        '<Policies><Policy><PolicyType>MS-EAS-Provisioning-WBXML'
        '</PolicyType></Policy></Policies></Provision>')
        % devinfo_xml(values))
    assert r.status == 200 and xrequire(r, "Provision/Status") == "1", r
    key = xrequire(r, "Policies/Policy/PolicyKey")
    c.policy_key = key
    r = c.request("Provision", (
        '<Provision xmlns="Provision:"><Policies><Policy>'
        '<PolicyType>MS-EAS-Provisioning-WBXML</PolicyType>'
        '<PolicyKey>%s</PolicyKey><Status>1</Status></Policy></Policies>'
        '</Provision>') % key)
    assert r.status == 200 and xrequire(r, "Provision/Status") == "1", r
    c.policy_key = xrequire(r, "Policies/Policy/PolicyKey")
    return r


def new_client(dc, name, version="14.1", device_type="TestDevice"):
    user = "%s@example.test" % name
    dc.add_user(user, "pw-" + name)
    return dc.eas_client(user, version=version, device_type=device_type)


def test_device_list_and_show_after_provision(dc):
    c = new_client(dc, "devlist")
    provision(c)
    r = c.foldersync()
    assert xrequire(r, "FolderSync/Status") == "1", r

    devs = dc.activesync("device", "list", "-u", c.user, fmt="json")
    assert len(devs) == 1, devs
    d = devs[0]
    assert d["user"] == c.user and d["device_id"] == c.device_id, d
    assert d["type"] == "TestDevice", d
    assert d["model"] == "Pixel 9" and d["os"] == "Android 15", d
    assert d["protocol"] == "14.1", d
    assert d["first_sync"].endswith("Z") and d["last_sync"], d
    assert d["state"] == "allow" and d["wipe"] == "none", d
    assert d["policy"] == c.policy_key, d

    show = dc.activesync("device", "show", "-u", c.user, c.device_id,
                         fmt="json")
    assert len(show) == 1, show
    for _, key, val in DEVINFO_FIELDS:
        if key == "user_agent":
            # later requests' User-Agent header replaces it
            val = c.user_agent
        assert show[0][key] == val, (key, show[0])

    # the table format has the column titles
    out = dc.activesync("device", "list", "-u", c.user)
    assert "device id" in out.splitlines()[0], out
    assert c.device_id in out, out

    # another user's listing does not show it
    other = new_client(dc, "devlist2")
    provision(other)
    devs = dc.activesync("device", "list", "-u", other.user, fmt="json")
    assert [d["device_id"] for d in devs] == [other.device_id], devs
    # without -u every user's device
    devs = dc.activesync("device", "list", fmt="json")
    assert {(d["user"], d["device_id"]) for d in devs} >= {
        (c.user, c.device_id), (other.user, other.device_id)}, devs


def test_device_show_unknown_fails(dc):
    c = new_client(dc, "devunknown")
    provision(c)
    code, out, err = dc.activesync("device", "show", "-u", c.user,
                                   "NoSuchDevice", check=False)
    assert code != 0, (code, out, err)
    assert "no device NoSuchDevice" in err, err


FOLDERSYNC0 = ('<FolderSync xmlns="FolderHierarchy:"><SyncKey>0</SyncKey>'
               '</FolderSync>')


def assert_blocked(c, status="129"):
    """The version's access-denied answer to a FolderSync."""
    r = c.request("FolderSync", FOLDERSYNC0)
    if float(c.version) < 14.0:
        assert r.status == 403, r
    else:
        assert r.status == 200, r
        assert xrequire(r, "FolderSync/Status") == status, r
    return r


def device_of(dc, c):
    devs = dc.activesync("device", "show", "-u", c.user, c.device_id,
                         fmt="json")
    assert len(devs) == 1, devs
    return devs[0]


def inbox_subjects(dc, user):
    out = dc.doveadm("fetch", "-u", user, "hdr.subject", "mailbox", "INBOX")
    return [line.split(":", 1)[1].strip() for line in out.splitlines()
            if line.lower().startswith("hdr.subject:")]


def wipe_flow(dc, name, version, account_only):
    c = new_client(dc, name, version=version)
    provision(c)
    assert xrequire(c.foldersync(), "FolderSync/Status") == "1"
    verb = "account-wipe" if account_only else "wipe"
    dc.activesync("device", verb, "-u", c.user, c.device_id)
    d = device_of(dc, c)
    assert d["wipe"] == ("account-pending" if account_only else "pending"), d
    assert d["wipe_requested"].endswith("Z"), d

    # any command: back to Provision
    r = c.request("FolderSync", FOLDERSYNC0)
    if float(version) < 14.0:
        assert r.status == 449, r
    else:
        assert r.status == 200, r
        assert xrequire(r, "FolderSync/Status") == "142", r
    if account_only:
        # libwbxml2 has no AccountOnlyRemoteWipe (16.1): compare with
        # our codec only (libwbxml2 must still accept the documents)
        c.opaque_as_base64 = True
    # Provision hands out the directive instead of the policy
    r = c.request("Provision", (
        '<Provision xmlns="Provision:"><Policies><Policy>'
        '<PolicyType>MS-EAS-Provisioning-WBXML</PolicyType></Policy>'
        '</Policies></Provision>'))
    assert r.status == 200 and xrequire(r, "Provision/Status") == "1", r
    tag = "AccountOnlyRemoteWipe" if account_only else "RemoteWipe"
    assert xfind(r, tag) is not None, r
    assert xfind(r, "Policies") is None, r
    # still pending until acknowledged
    assert device_of(dc, c)["wipe"].endswith("pending")

    ack = ('<Provision xmlns="Provision:"><%s><Status>1</Status></%s>'
           '</Provision>' % (tag, tag))
    if account_only:
        body = our_encode(ack, dc.builddir)
        assert body is not None, "eas-wbxml not built"
        r = c.request("Provision", body=body)
    else:
        r = c.request("Provision", ack)
    assert r.status == 200 and xrequire(r, "Provision/Status") == "1", r
    d = device_of(dc, c)
    assert d["wipe"] == ("account-wiped" if account_only else "wiped"), d
    assert d["wipe_acked"].endswith("Z") and d["state"] == "block", d
    # blocked from now on, Provision included
    assert_blocked(c)
    r = c.request("Provision", (
        '<Provision xmlns="Provision:"><Policies><Policy>'
        '<PolicyType>MS-EAS-Provisioning-WBXML</PolicyType></Policy>'
        '</Policies></Provision>'))
    if float(version) < 14.0:
        assert r.status == 403, r
    else:
        assert xrequire(r, "Provision/Status") == "129", r
    # the user was told
    subjects = inbox_subjects(dc, c.user)
    want = ("Your account was removed from a mobile device"
            if account_only else "Your mobile device was wiped")
    assert want in subjects, subjects
    # a finished wipe can't be cancelled
    code, _, err = dc.activesync("device", "wipe-cancel", "-u", c.user,
                                 c.device_id, check=False)
    assert code != 0 and "no wipe is pending" in err, err


def test_remote_wipe_14_1(dc):
    wipe_flow(dc, "wipe141", "14.1", False)


def test_remote_wipe_12_1(dc):
    wipe_flow(dc, "wipe121", "12.1", False)


def test_account_only_wipe_16_1(dc):
    wipe_flow(dc, "awipe161", "16.1", True)


def test_account_only_wipe_needs_16_1(dc):
    c = new_client(dc, "awipe141", version="14.1")
    provision(c)
    code, _, err = dc.activesync("device", "account-wipe", "-u", c.user,
                                 c.device_id, check=False)
    assert code != 0 and "16.1" in err, err
    assert device_of(dc, c)["wipe"] == "none"


def test_wipe_cancel(dc):
    c = new_client(dc, "wipecancel")
    provision(c)
    dc.activesync("device", "wipe", "-u", c.user, c.device_id)
    dc.activesync("device", "wipe-cancel", "-u", c.user, c.device_id)
    d = device_of(dc, c)
    assert d["wipe"] == "none" and d["wipe_requested"] == "", d
    r = c.foldersync()
    assert r.status == 200 and xrequire(r, "FolderSync/Status") == "1", r


def test_device_block_allow(dc):
    for version in ("12.1", "14.1"):
        c = new_client(dc, "blk" + version.replace(".", ""), version=version)
        provision(c)
        dc.activesync("device", "block", "-u", c.user, c.device_id)
        assert device_of(dc, c)["state"] == "block"
        assert_blocked(c)
        dc.activesync("device", "allow", "-u", c.user, c.device_id)
        r = c.foldersync()
        assert r.status == 200 and \
            xrequire(r, "FolderSync/Status") == "1", r
        d = device_of(dc, c)
        assert d["state"] == "allow" and d["access_override"] == "allow", d


def test_device_remove_forces_full_resync(dc):
    c = new_client(dc, "devremove")
    provision(c)
    r = c.foldersync()
    key = xrequire(r, "FolderSync/SyncKey")
    dc.activesync("device", "remove", "-u", c.user, c.device_id)
    assert dc.activesync("device", "list", "-u", c.user, fmt="json") == []
    # the old policy key and SyncKey are forgotten
    r = c.request("FolderSync", '<FolderSync xmlns="FolderHierarchy:">'
                  '<SyncKey>%s</SyncKey></FolderSync>' % key)
    assert xrequire(r, "FolderSync/Status") in ("142", "144"), r
    provision(c)
    r = c.request("FolderSync", '<FolderSync xmlns="FolderHierarchy:">'
                  '<SyncKey>%s</SyncKey></FolderSync>' % key)
    assert xrequire(r, "FolderSync/Status") == "9", r
    assert xrequire(c.foldersync(), "FolderSync/Status") == "1"


def test_device_resync(dc):
    c = new_client(dc, "devresync")
    provision(c)
    key = xrequire(c.foldersync(), "FolderSync/SyncKey")
    dc.activesync("device", "resync", "-u", c.user, c.device_id)
    # the device record stays (no new Provision), the hierarchy is gone
    r = c.request("FolderSync", '<FolderSync xmlns="FolderHierarchy:">'
                  '<SyncKey>%s</SyncKey></FolderSync>' % key)
    assert xrequire(r, "FolderSync/Status") == "9", r


def test_other_users_device_untouched(dc):
    a = new_client(dc, "owner1")
    b = new_client(dc, "owner2")
    provision(a)
    provision(b)
    # b's name with a's device id: no such device
    code, _, err = dc.activesync("device", "block", "-u", b.user,
                                 a.device_id, check=False)
    assert code != 0 and "no device" in err, err
    assert device_of(dc, a)["state"] == "allow"


def folder_names(r):
    return sorted(xtext(a, "DisplayName") for a in xall(r, "Changes/Add"))


def rule_add(dc, kind, value, access):
    out = dc.activesync("rule", "add", kind, value, access, fmt="json")
    assert len(out) == 1 and isinstance(out[0]["id"], int), out
    return str(out[0]["id"])


def clear_rules(dc):
    for rule in dc.activesync("rule", "list", fmt="json"):
        dc.activesync("rule", "remove", str(rule["id"]))


def test_abq_rules_evaluation_order(dc):
    clear_rules(dc)
    try:
        c = new_client(dc, "abq1", device_type="RuleType")
        # type rule blocks
        rt = rule_add(dc, "type", "ruletype", "block")
        r = c.request("Provision", '<Provision xmlns="Provision:"><Policies>'
                      '<Policy><PolicyType>MS-EAS-Provisioning-WBXML'
                      '</PolicyType></Policy></Policies></Provision>')
        assert xrequire(r, "Provision/Status") == "129", r
        # a model rule wins over the type rule (model from DeviceInformation
        # needs a Provision: allow it for that one request first)
        rm = rule_add(dc, "model", "PIXEL 9", "allow")
        dc.activesync("rule", "disable", rt)
        provision(c)
        dc.activesync("rule", "enable", rt)
        assert xrequire(c.foldersync(), "FolderSync/Status") == "1"
        # OS before model
        ro = rule_add(dc, "os", "android 15", "block")
        assert_blocked(c)
        # domain before OS
        rd = rule_add(dc, "domain", "EXAMPLE.test", "allow")
        assert xrequire(c.foldersync(), "FolderSync/Status") == "1"
        # user before domain
        ru = rule_add(dc, "user", c.user, "block")
        assert_blocked(c)
        # one rule per user: adding again replaces it (same id)
        assert rule_add(dc, "user", c.user.upper(), "allow") == ru
        assert xrequire(c.foldersync(), "FolderSync/Status") == "1"
        rules = dc.activesync("rule", "list", fmt="json")
        assert [x["kind"] for x in rules] == \
            ["user", "domain", "os", "model", "type"], rules
        assert [str(x["id"]) for x in rules] == [ru, rd, ro, rm, rt], rules
        # the device's own setting beats every rule
        dc.activesync("device", "block", "-u", c.user, c.device_id)
        assert_blocked(c)
        dc.activesync("device", "allow", "-u", c.user, c.device_id)
        # removing rules falls through to the next one
        dc.activesync("rule", "remove", ru)
        dc.activesync("rule", "remove", rd)
        assert xrequire(c.foldersync(), "FolderSync/Status") == "1"
        clear_rules(dc)
        assert dc.activesync("rule", "list", fmt="json") == []
    finally:
        clear_rules(dc)


def test_abq_rule_value_prefix(dc):
    """Server rules match the start of the device's value (the device's
    OS "Android 15" is tried as "android 15", "android 1", ..., "a"):
    the longest rule value decides."""
    clear_rules(dc)
    try:
        c = new_client(dc, "abqprefix", device_type="PrefixType")
        provision(c)
        # "android" matches "Android 15"
        r_short = rule_add(dc, "os", "ANDROID", "block")
        assert_blocked(c)
        # "android 1" is longer: it decides
        r_long = rule_add(dc, "os", "android 1", "allow")
        assert xrequire(c.foldersync(), "FolderSync/Status") == "1"
        # a rule longer than the device's value matches nothing
        dc.activesync("rule", "remove", r_long)
        rule_add(dc, "os", "android 15 beta", "allow")
        assert_blocked(c)
        dc.activesync("rule", "remove", r_short)
        # the device type starts with "prefix"
        rule_add(dc, "type", "prefix", "block")
        assert_blocked(c)
    finally:
        clear_rules(dc)


def test_rule_bad_input(dc):
    for args in (("imei", "1", "block"), ("type", "x", "deny"),
                 ("type", "", "block")):
        code, _, err = dc.activesync("rule", "add", *args, check=False)
        assert code != 0 and err, (args, err)
    code, _, err = dc.activesync("rule", "remove", "999999", check=False)
    assert code != 0 and "No rule" in err, err


def test_quarantine(dc):
    clear_rules(dc)
    try:
        c = new_client(dc, "quar")
        dc.deliver(c.user, "Subject: hello\r\n\r\nbody\r\n")
        dc.doveadm("mailbox", "create", "-u", c.user, "Projects")
        rule_add(dc, "user", c.user, "quarantine")
        provision(c)
        r = c.foldersync()
        assert xrequire(r, "FolderSync/Status") == "1", r
        names = folder_names(r)
        assert "Inbox" in names or "INBOX" in names, names
        assert "Projects" not in names, names
        assert device_of(dc, c)["state"] == "quarantine"
        # one information mail, however many requests
        r = c.foldersync()
        assert "Projects" not in folder_names(r), r
        subjects = inbox_subjects(dc, c.user)
        assert subjects.count(
            "Your mobile device is waiting for approval") == 1, subjects
        # the admin releases it: the other folders appear
        key = xrequire(r, "FolderSync/SyncKey")
        dc.activesync("device", "allow", "-u", c.user, c.device_id)
        r = c.request("FolderSync", '<FolderSync xmlns="FolderHierarchy:">'
                      '<SyncKey>%s</SyncKey></FolderSync>' % key)
        assert "Projects" in folder_names(r), r
    finally:
        clear_rules(dc)


def test_quarantine_then_block(dc):
    c = new_client(dc, "quarblk")
    provision(c)
    dc.activesync("device", "quarantine", "-u", c.user, c.device_id)
    assert xrequire(c.foldersync(), "FolderSync/Status") == "1"
    dc.activesync("device", "block", "-u", c.user, c.device_id)
    assert_blocked(c)


def test_device_limit(dc):
    user = "limited@example.test"
    dc.add_user(user, "pw-limited", {"activesync_max_devices": "2"})
    clients = [dc.eas_client(user, password="pw-limited") for _ in range(3)]
    provision(clients[0])
    provision(clients[1])
    third = clients[2]
    r = third.request("Provision", '<Provision xmlns="Provision:">'
                      '<Policies><Policy><PolicyType>'
                      'MS-EAS-Provisioning-WBXML</PolicyType></Policy>'
                      '</Policies></Provision>')
    assert xrequire(r, "Provision/Status") == "177", r
    devs = dc.activesync("device", "list", "-u", user, fmt="json")
    assert len(devs) == 2 and third.device_id not in \
        [d["device_id"] for d in devs], devs
    # freeing a slot lets it in
    dc.activesync("device", "remove", "-u", user, clients[0].device_id)
    provision(third)
    # 12.x gets 403
    old = dc.eas_client(user, password="pw-limited", version="12.1")
    r = old.request("FolderSync", FOLDERSYNC0)
    assert r.status == 403, r


def test_disabled_user(dc):
    user = "disabled@example.test"
    dc.add_user(user, "pw-disabled", {"activesync_enabled": "no"})
    c = dc.eas_client(user, password="pw-disabled")
    r = c.request("Provision", '<Provision xmlns="Provision:">'
                  '<Policies><Policy><PolicyType>'
                  'MS-EAS-Provisioning-WBXML</PolicyType></Policy>'
                  '</Policies></Provision>')
    assert r.status == 200 and \
        xrequire(r, "Provision/Status") == "126", r
    old = dc.eas_client(user, password="pw-disabled", version="12.1")
    r = old.request("FolderSync", FOLDERSYNC0)
    assert r.status == 403, r
    # nothing was remembered about its devices
    assert dc.activesync("device", "list", "-u", user, fmt="json") == []


def test_device_debug_logs_request_and_response(dc):
    c = new_client(dc, "devdebug")
    provision(c)
    secret = "Sekrit-%s" % c.device_id
    req = ('<ItemOperations xmlns="ItemOperations:" '
           'xmlns:documentlibrary="DocumentLibrary:"><Fetch>'
           '<Store>DocumentLibrary</Store>'
           '<documentlibrary:LinkId>\\\\server\\share\\file.txt'
           '</documentlibrary:LinkId><Options><UserName>someone</UserName>'
           '<Password>%s</Password></Options></Fetch></ItemOperations>'
           % secret)
    # off: nothing of the documents in the log
    mark = dc.log_offset()
    c.request("ItemOperations", req)
    c.foldersync()
    log = dc.log_since(mark)
    assert "Request: " not in log and "Response: <" not in log, log
    dc.activesync("device", "debug", "-u", c.user, c.device_id, "on")
    assert device_of(dc, c)["debug"] == "on"
    mark = dc.log_offset()
    c.request("ItemOperations", req)
    r = c.foldersync()
    assert xrequire(r, "FolderSync/Status") == "1", r
    log = dc.log_since(mark)
    assert "Request: <ItemOperations" in log, log[-3000:]
    assert "Request: <FolderSync" in log, log[-3000:]
    assert "Response: <FolderSync" in log, log[-3000:]
    assert "Response: <ItemOperations" in log, log[-3000:]
    # the password is masked
    assert "********" in log and secret not in log, log[-3000:]
    # another device of the same user logs nothing
    other = dc.eas_client(c.user, password="pw-devdebug")
    provision(other)
    mark = dc.log_offset()
    other.foldersync()
    assert "Request: <FolderSync" not in dc.log_since(mark)
    dc.activesync("device", "debug", "-u", c.user, c.device_id, "off")
    mark = dc.log_offset()
    c.foldersync()
    assert "Request: <FolderSync" not in dc.log_since(mark)
    code, _, err = dc.activesync("device", "debug", "-u", c.user,
                                 c.device_id, "maybe", check=False)
    assert code != 0, err


def test_device_resync_one_folder(dc):
    c, user, _, by_type, _ = setup_device(dc, "resyncfolder")
    inbox = by_type["2"]
    key = sync_all(c, inbox)
    dc.activesync("device", "resync", "-u", user, c.device_id, inbox)
    # that collection starts over (invalid SyncKey), the hierarchy not
    assert sync(c, inbox, key).status == "3"
    assert sync(c, inbox, "0").status == "1"


def test_quarantine_hides_other_folders_of_a_known_device(dc):
    c, user, _, by_type, _ = setup_device(dc, "quarknown")
    dc.doveadm("mailbox", "create", "-u", user, "Projects")
    r = c.request("FolderSync", '<FolderSync xmlns="FolderHierarchy:">'
                  '<SyncKey>1</SyncKey></FolderSync>')
    adds = {xtext(a, "DisplayName"): xtext(a, "ServerId")
            for a in xall(r, "Changes/Add")}
    projects = adds["Projects"]
    key = xrequire(r, "FolderSync/SyncKey")
    sync_all(c, projects)
    dc.activesync("device", "quarantine", "-u", user, c.device_id)
    # the device knew the folder: it is gone for it now
    r = c.request("FolderSync", '<FolderSync xmlns="FolderHierarchy:">'
                  '<SyncKey>%s</SyncKey></FolderSync>' % key)
    deleted = [xtext(d, "ServerId") for d in xall(r, "Changes/Delete")]
    assert projects in deleted, r
    assert sync(c, projects, "0").status != "1"
    # default folders still sync
    assert sync(c, by_type["2"], "0").status == "1"
