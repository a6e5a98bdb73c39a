"""Security policies (issue 13): global, domain, user and device levels
set with doveadm activesync policy, their inheritance as policy show
reports it and as Provision sends it in 12.1, 14.1 and 16.1, inherit,
Neutral, the policy key changing after policy set (Status 143 or HTTP
449), the refresh interval, AllowNonProvisionableDevices and the
per-level maximum protocol version."""

import time

from harness import (policy_inherit, policy_set, policy_show, xfind,
                     xrequire, xtext)

INSTANCE = dict(activesync=True,
                plugin_settings={"activesync_provisioning": "yes"})

VERSIONS = ("12.1", "14.1", "16.1")
POLICY_TYPE = "MS-EAS-Provisioning-WBXML"


def new_client(dc, user, version):
    if user not in dc.users:
        dc.add_user(user, "pw-" + user.split("@")[0])
    return dc.eas_client(user, version=version)


def initial(c):
    """Provision phase 1; returns (response, temporary key)."""
    c.policy_key = None
    r = c.request("Provision", (
        '<Provision xmlns="Provision:"><Policies><Policy><PolicyType>%s'
        '</PolicyType></Policy></Policies></Provision>') % POLICY_TYPE)
    assert r.status == 200 and xrequire(r, "Provision/Status") == "1", r
    return r, xrequire(r, "Policies/Policy/PolicyKey")


def acknowledge(c, key, status="1"):
    c.policy_key = key
    return c.request("Provision", (
        '<Provision xmlns="Provision:"><Policies><Policy>'
        '<PolicyType>%s</PolicyType><PolicyKey>%s</PolicyKey>'
        '<Status>%s</Status></Policy></Policies></Provision>')
        % (POLICY_TYPE, key, status))


def provision_doc(c):
    """Full two-phase Provision; returns the EASProvisionDoc sent."""
    r, key = initial(c)
    doc = xfind(r, "Policies/Policy/Data/EASProvisionDoc")
    assert doc is not None, r
    r = acknowledge(c, key)
    assert r.status == 200 and xrequire(r, "Policies/Policy/Status") \
        == "1", r
    c.policy_key = xrequire(r, "Policies/Policy/PolicyKey")
    return doc


def assert_must_provision(r, version, status):
    """12.x: HTTP 449; 14.0+: the command's Status (142, 143, 144)."""
    if float(version) < 14.0:
        assert r.status == 449, r
    else:
        assert r.status == 200, r
        assert xrequire(r, "FolderSync/Status") == str(status), r


def foldersync(c):
    return c.request("FolderSync", '<FolderSync xmlns="FolderHierarchy:">'
                     '<SyncKey>0</SyncKey></FolderSync>')


def test_levels_inherit_in_show_and_provision(dc):
    dom = "lvl.test"
    policy_set(dc, "-g", "DevicePasswordEnabled=1",
               "MinDevicePasswordLength=4", "MaxAttachmentSize=2000000")
    try:
        policy_set(dc, "-D", dom, "MinDevicePasswordLength=6",
                   "AllowCamera=0")
        for version in VERSIONS:
            user = "lvl%s@%s" % (version.replace(".", ""), dom)
            c = new_client(dc, user, version)
            policy_set(dc, "-u", user, "AllowBluetooth=1")
            # no device level for a device that never connected
            code, _, err = dc.activesync("policy", "set", "-u", user, "-d",
                                         c.device_id,
                                         "MinDevicePasswordLength=9",
                                         check=False)
            assert code != 0 and "has no device" in err, err
            code, _, err = dc.activesync("policy", "show", "-u", user,
                                         "-d", c.device_id, check=False)
            assert code != 0 and "has no device" in err, err
            doc = provision_doc(c)
            assert xtext(doc, "MinDevicePasswordLength") == "6"

            policy_set(dc, "-u", user, "-d", c.device_id,
                       "MinDevicePasswordLength=9")
            show = policy_show(dc, "-u", user, "-d", c.device_id)
            assert show["DevicePasswordEnabled"] == ("1", "global"), show
            assert show["MaxAttachmentSize"] == ("2000000", "global")
            assert show["MinDevicePasswordLength"] == ("9", "device")
            assert show["AllowCamera"] == ("0", "domain"), show
            assert show["AllowBluetooth"] == ("1", "user"), show
            assert show["AllowWiFi"] == ("1", "default"), show
            # the user level alone: no device field
            show = policy_show(dc, "-u", user)
            assert show["MinDevicePasswordLength"] == ("6", "domain")
            show = policy_show(dc, "-D", dom)
            assert show["AllowBluetooth"] == ("2", "default"), show
            assert show["AllowCamera"] == ("0", "domain"), show
            show = policy_show(dc, "-g")
            assert show["MinDevicePasswordLength"] == ("4", "global")
            assert show["AllowCamera"] == ("1", "default"), show

            assert_must_provision(foldersync(c), version, 143)
            doc = provision_doc(c)
            assert xtext(doc, "DevicePasswordEnabled") == "1"
            assert xtext(doc, "MinDevicePasswordLength") == "9"
            assert xtext(doc, "MaxAttachmentSize") == "2000000"
            assert xtext(doc, "AllowCamera") == "0"
            assert xtext(doc, "AllowBluetooth") == "1"
            # unset limits are empty elements, lists empty containers
            assert xfind(doc, "DevicePasswordExpiration") is not None
            assert xtext(doc, "DevicePasswordExpiration", "") == ""
            assert xfind(doc, "ApprovedApplicationList") is not None
            # server-side fields never reach the device
            assert xfind(doc, "RefreshInterval") is None
            assert xfind(doc, "Neutral") is None
            assert len(list(doc)) == 42, len(list(doc))
            r = foldersync(c)
            assert r.status == 200 and \
                xrequire(r, "FolderSync/Status") == "1", r
    finally:
        policy_inherit(dc, "-g")
    assert all(lvl == "default" for _, lvl in
               policy_show(dc, "-g").values())


# Every EASProvisionDoc field with a value other than its default, in
# the order of the Provision code page; True marks the fields 12.1 added.
EVERY_FIELD = (
    ("DevicePasswordEnabled", "1", False),
    ("AlphanumericDevicePasswordRequired", "1", False),
    ("PasswordRecoveryEnabled", "1", False),
    ("RequireStorageCardEncryption", "1", False),
    ("AttachmentsEnabled", "0", False),
    ("MinDevicePasswordLength", "7", False),
    ("MaxInactivityTimeDeviceLock", "900", False),
    ("MaxDevicePasswordFailedAttempts", "8", False),
    ("MaxAttachmentSize", "512000", False),
    ("AllowSimpleDevicePassword", "0", False),
    ("DevicePasswordExpiration", "90", False),
    ("DevicePasswordHistory", "5", False),
    ("AllowStorageCard", "0", True),
    ("AllowCamera", "0", True),
    ("RequireDeviceEncryption", "1", True),
    ("AllowUnsignedApplications", "0", True),
    ("AllowUnsignedInstallationPackages", "0", True),
    ("MinDevicePasswordComplexCharacters", "2", True),
    ("AllowWiFi", "0", True),
    ("AllowTextMessaging", "0", True),
    ("AllowPOPIMAPEmail", "0", True),
    ("AllowBluetooth", "1", True),
    ("AllowIrDA", "0", True),
    ("RequireManualSyncWhenRoaming", "1", True),
    ("AllowDesktopSync", "0", True),
    ("MaxCalendarAgeFilter", "4", True),
    ("AllowHTMLEmail", "0", True),
    ("MaxEmailAgeFilter", "3", True),
    ("MaxEmailBodyTruncationSize", "5000", True),
    ("MaxEmailHTMLBodyTruncationSize", "10000", True),
    ("RequireSignedSMIMEMessages", "1", True),
    ("RequireEncryptedSMIMEMessages", "1", True),
    ("RequireSignedSMIMEAlgorithm", "1", True),
    ("RequireEncryptionSMIMEAlgorithm", "2", True),
    ("AllowSMIMEEncryptionAlgorithmNegotiation", "1", True),
    ("AllowSMIMESoftCerts", "0", True),
    ("AllowBrowser", "0", True),
    ("AllowConsumerEmail", "0", True),
    ("AllowRemoteDesktop", "0", True),
    ("AllowInternetSharing", "0", True),
    ("UnapprovedInROMApplicationList", "Games,Browser", True),
    ("ApprovedApplicationList", "3F2A9C,77B0E1", True),
)
LIST_ITEMS = {"UnapprovedInROMApplicationList": "ApplicationName",
              "ApprovedApplicationList": "Hash"}


ALL_VERSIONS = ("12.0", "12.1", "14.0", "14.1", "16.0", "16.1")


def test_defaults_reach_each_version(dc):
    """With no level set, every field goes out with the built-in
    default policy show reports (an unset limit as an empty element, a
    list as an empty container)."""
    for version in ALL_VERSIONS:
        user = "dflt%s@dflt.test" % version.replace(".", "")
        c = new_client(dc, user, version)
        show = policy_show(dc, "-u", user)
        doc = provision_doc(c)
        names = ["RequireStorageCardEncryption"
                 if e.tag.split("}")[-1] == "DeviceEncryptionEnabled"
                 else e.tag.split("}")[-1] for e in doc]
        assert names == [name for name, _, since_12_1 in EVERY_FIELD
                         if version != "12.0" or not since_12_1], names
        for name, _, _ in EVERY_FIELD:
            if name not in names:
                continue
            value, level = show[name]
            assert level == "default", (name, show[name])
            elem = doc.find("{*}" + name)
            if elem is None:
                elem = doc.find("{*}DeviceEncryptionEnabled")
            if name in LIST_ITEMS:
                assert len(list(elem)) == 0 and value == "", (name, value)
            else:
                assert (elem.text or "") == value, (version, name,
                                                    elem.text, value)


def test_every_field_reaches_each_version(dc):
    assert len(EVERY_FIELD) == 42
    for version in ALL_VERSIONS:
        user = "all%s@all.test" % version.replace(".", "")
        c = new_client(dc, user, version)
        policy_set(dc, "-u", user,
                   *["%s=%s" % (name, value)
                     for name, value, _ in EVERY_FIELD])
        show = policy_show(dc, "-u", user)
        doc = provision_doc(c)
        names = [e.tag.split("}")[-1] for e in doc]
        for name, value, since_12_1 in EVERY_FIELD:
            assert show[name] == (value, "user"), (name, show[name])
            if since_12_1 and version == "12.0":
                assert name not in names, (version, name)
                continue
            if name in LIST_ITEMS:
                items = [e.text for e in doc.find("{*}" + name)]
                assert items == value.split(","), (version, name, items)
            else:
                # libwbxml2 names token 0x10 after the 12.0 element
                got = xtext(doc, name) if name in names else \
                    xtext(doc, "DeviceEncryptionEnabled")
                assert got == value, (version, name, got)
        # in the code page's order
        names = ["RequireStorageCardEncryption"
                 if n == "DeviceEncryptionEnabled" else n for n in names]
        assert names == [name for name, _, since_12_1 in EVERY_FIELD
                         if version != "12.0" or not since_12_1], names
        assert xrequire(foldersync(c), "FolderSync/Status") == "1"


def test_inherit_reverts_a_field_then_a_level(dc):
    dom = "inh.test"
    user = "inh@" + dom
    policy_set(dc, "-D", dom, "MinDevicePasswordLength=5",
               "AllowBrowser=0")
    policy_set(dc, "-u", user, "MinDevicePasswordLength=8",
               "AllowBrowser=1", "AllowHTMLEmail=0")
    show = policy_show(dc, "-u", user)
    assert show["MinDevicePasswordLength"] == ("8", "user"), show
    assert show["AllowBrowser"] == ("1", "user"), show

    # one field of the user level
    policy_inherit(dc, "-u", user, "MinDevicePasswordLength")
    show = policy_show(dc, "-u", user)
    assert show["MinDevicePasswordLength"] == ("5", "domain"), show
    assert show["AllowBrowser"] == ("1", "user"), show
    assert show["AllowHTMLEmail"] == ("0", "user"), show

    # the whole domain level
    policy_inherit(dc, "-D", dom)
    show = policy_show(dc, "-u", user)
    assert show["MinDevicePasswordLength"] == ("", "default"), show
    assert show["AllowHTMLEmail"] == ("0", "user"), show

    # the provisioned document follows
    c = new_client(dc, user, "14.1")
    doc = provision_doc(c)
    assert xtext(doc, "AllowHTMLEmail") == "0"
    assert xtext(doc, "MinDevicePasswordLength", "") == ""


def test_neutral_cancels_the_levels_above(dc):
    dom = "neu.test"
    policy_set(dc, "-D", dom, "DevicePasswordEnabled=1",
               "MinDevicePasswordLength=6", "RequireDeviceEncryption=1")
    for version in VERSIONS:
        user = "neu%s@%s" % (version.replace(".", ""), dom)
        c = new_client(dc, user, version)
        doc = provision_doc(c)
        assert xtext(doc, "DevicePasswordEnabled") == "1"

        policy_set(dc, "-u", user, "Neutral=1")
        show = policy_show(dc, "-u", user, "-d", c.device_id)
        assert show["Neutral"] == ("1", "user"), show
        assert show["DevicePasswordEnabled"] == ("0", "default"), show
        assert show["RequireDeviceEncryption"] == ("0", "default"), show
        # the device now has to fetch the permissive policy
        assert_must_provision(foldersync(c), version, 143)
        doc = provision_doc(c)
        assert xtext(doc, "DevicePasswordEnabled") == "0"
        assert xtext(doc, "MinDevicePasswordLength", "") == ""
        assert xtext(doc, "RequireDeviceEncryption") == "0"

        # a level below the neutral one still applies
        policy_set(dc, "-u", user, "-d", c.device_id, "AllowCamera=0")
        show = policy_show(dc, "-u", user, "-d", c.device_id)
        assert show["AllowCamera"] == ("0", "device"), show
        assert show["DevicePasswordEnabled"] == ("0", "default"), show

        # inherit the neutral level: the domain policy is back
        policy_inherit(dc, "-u", user)
        show = policy_show(dc, "-u", user)
        assert show["DevicePasswordEnabled"] == ("1", "domain"), show
        assert show["Neutral"] == ("0", "default"), show


def test_policy_set_makes_devices_provision_again(dc):
    for version in VERSIONS:
        user = "chg%s@chg.test" % version.replace(".", "")
        c = new_client(dc, user, version)
        provision_doc(c)
        old_key = c.policy_key
        r = foldersync(c)
        assert r.status == 200 and xrequire(r, "FolderSync/Status") == "1"

        policy_set(dc, "-u", user, "AllowCamera=0")
        assert_must_provision(foldersync(c), version, 143)
        # still refused until it provisions
        assert_must_provision(foldersync(c), version, 143)
        doc = provision_doc(c)
        assert xtext(doc, "AllowCamera") == "0"
        assert c.policy_key != old_key
        r = foldersync(c)
        assert r.status == 200 and xrequire(r, "FolderSync/Status") == "1"

        # the old key is now an unknown key
        c.policy_key = old_key
        assert_must_provision(foldersync(c), version, 144)

        # a change that does not touch the document keeps the key valid
        provision_doc(c)
        policy_set(dc, "-u", user, "MaxProtocolVersion=16.1")
        r = foldersync(c)
        assert r.status == 200 and xrequire(r, "FolderSync/Status") == "1"
        # setting a field to the value it already had changes nothing
        policy_set(dc, "-u", user, "AllowCamera=0")
        r = foldersync(c)
        assert r.status == 200 and xrequire(r, "FolderSync/Status") == "1"


def test_policy_changed_between_the_two_phases(dc):
    """The acknowledgement confirms the document the device got: a
    change made in between still sends it back to Provision."""
    for version in VERSIONS:
        user = "mid%s@mid.test" % version.replace(".", "")
        c = new_client(dc, user, version)
        r, key = initial(c)
        assert xtext(xfind(r, "Policies/Policy/Data/EASProvisionDoc"),
                     "AllowCamera") == "1"
        policy_set(dc, "-u", user, "AllowCamera=0")
        r = acknowledge(c, key)
        assert xrequire(r, "Policies/Policy/Status") == "1", r
        c.policy_key = xrequire(r, "Policies/Policy/PolicyKey")
        assert_must_provision(foldersync(c), version, 143)
        doc = provision_doc(c)
        assert xtext(doc, "AllowCamera") == "0"
        assert xrequire(foldersync(c), "FolderSync/Status") == "1"


def test_refresh_interval(dc):
    user = "refresh@ref.test"
    policy_set(dc, "-u", user, "RefreshInterval=2")
    for version in VERSIONS:
        c = new_client(dc, user, version)
        provision_doc(c)
        r = foldersync(c)
        assert r.status == 200 and xrequire(r, "FolderSync/Status") == "1"
        time.sleep(3.1)
        assert_must_provision(foldersync(c), version, 143)
        provision_doc(c)
        r = foldersync(c)
        assert r.status == 200 and xrequire(r, "FolderSync/Status") == "1"


def test_devices_that_do_not_fully_apply_the_policy(dc):
    for version in VERSIONS:
        user = "np%s@np.test" % version.replace(".", "")
        # allowed by default
        c = new_client(dc, user, version)
        _, key = initial(c)
        r = acknowledge(c, key, status="2")
        assert r.status == 200 and \
            xrequire(r, "Policies/Policy/Status") == "1", r
        c.policy_key = xrequire(r, "Policies/Policy/PolicyKey")
        assert xrequire(foldersync(c), "FolderSync/Status") == "1"

        # refused at the user level
        policy_set(dc, "-u", user, "AllowNonProvisionableDevices=0")
        c2 = new_client(dc, user, version)
        _, key = initial(c2)
        r = acknowledge(c2, key, status="2")
        if float(version) < 14.0:
            assert r.status == 403, r
        else:
            assert r.status == 200, r
            assert xrequire(r, "Provision/Status") == "139", r
            assert xfind(r, "Policies/Policy/PolicyKey") is None, r
        # nothing opens for it: it holds no final key
        c2.policy_key = key
        assert_must_provision(foldersync(c2), version, 142)
        # a device that applied it fully is still let in
        c3 = new_client(dc, user, version)
        provision_doc(c3)
        assert xrequire(foldersync(c3), "FolderSync/Status") == "1"


def assert_version_refused(r, version, allowed):
    """A version above the cap: 12.x HTTP 400, 14.0+ Status 138; both
    with MS-ASProtocolVersions listing the allowed versions."""
    if float(version) < 14.0:
        assert r.status == 400, r
    else:
        assert r.status == 200, r
        assert xrequire(r, "FolderSync/Status") == "138", r
    assert r.header("MS-ASProtocolVersions") == allowed, r.headers


def test_version_cap_answer_per_version(dc):
    """Each version above a cap gets its version's answer, Provision
    included (before any policy key), and nothing is remembered as
    provisioned; the versions at or below the cap work."""
    user = "capall@capall.test"
    dc.add_user(user, "pw-capall")
    policy_set(dc, "-u", user, "MaxProtocolVersion=12.0")
    for version in ("12.1", "14.0", "14.1", "16.0", "16.1"):
        c = new_client(dc, user, version)
        assert c.options().header("MS-ASProtocolVersions") == "12.0"
        assert_version_refused(foldersync(c), version, "12.0")
        c.policy_key = None
        r = c.request("Provision", (
            '<Provision xmlns="Provision:"><Policies><Policy><PolicyType>'
            '%s</PolicyType></Policy></Policies></Provision>')
            % POLICY_TYPE)
        if float(version) < 14.0:
            assert r.status == 400, r
        else:
            assert xrequire(r, "Provision/Status") == "138", r
        assert r.header("MS-ASProtocolVersions") == "12.0", r.headers
    c = new_client(dc, user, "12.0")
    provision_doc(c)
    assert foldersync(c).status == 200
    policy_set(dc, "-u", user, "MaxProtocolVersion=16.1")
    c = new_client(dc, user, "16.1")
    provision_doc(c)
    assert xrequire(foldersync(c), "FolderSync/Status") == "1"


def test_max_protocol_version_per_level(dc):
    dom = "cap.test"
    user = "cap@" + dom
    c = new_client(dc, user, "16.1")
    r = c.options()
    assert r.status == 200
    assert r.header("MS-ASProtocolVersions") == \
        "12.0,12.1,14.0,14.1,16.0,16.1", r.headers

    policy_set(dc, "-D", dom, "MaxProtocolVersion=14.1")
    r = c.options()
    assert r.header("MS-ASProtocolVersions") == "12.0,12.1,14.0,14.1"
    show = policy_show(dc, "-u", user)
    assert show["MaxProtocolVersion"] == ("14.1", "domain"), show

    # above the cap: Status 138 (VersionNotSupported) with the versions
    # it may use
    assert_version_refused(foldersync(c), "16.1", "12.0,12.1,14.0,14.1")
    # at the cap it works
    c14 = dc.eas_client(user, version="14.1", device_id=c.device_id)
    provision_doc(c14)
    assert xrequire(foldersync(c14), "FolderSync/Status") == "1"

    # the user level lowers it further; neutral does not lift it
    policy_set(dc, "-u", user, "MaxProtocolVersion=12.1", "Neutral=1")
    r = c14.options()
    assert r.header("MS-ASProtocolVersions") == "12.0,12.1"
    assert_version_refused(foldersync(c14), "14.1", "12.0,12.1")
    c12 = dc.eas_client(user, version="12.1", device_id=c.device_id)
    provision_doc(c12)
    assert foldersync(c12).status == 200

    # the device level for one device only
    policy_set(dc, "-u", user, "-d", c.device_id, "MaxProtocolVersion=12.0")
    assert_version_refused(foldersync(c12), "12.1", "12.0")
    other = dc.eas_client(user, version="12.1")
    provision_doc(other)
    assert foldersync(other).status == 200


def test_bad_policy_input_changes_nothing(dc):
    user = "bad@bad.test"
    policy_set(dc, "-u", user, "MinDevicePasswordLength=6")
    before = policy_show(dc, "-u", user)
    for args in (("-u", user, "NoSuchField=1"),
                 ("-u", user, "MinDevicePasswordLength=99"),
                 ("-u", user, "AllowCamera=0", "AllowBluetooth=7"),
                 ("-u", user, "MaxProtocolVersion=2.5"),
                 ("-u", user, "AllowCamera"),
                 # no level
                 ("AllowCamera=0",),
                 # a device without its user
                 ("-d", "DEV", "AllowCamera=0"),
                 # two levels at once
                 ("-g", "-u", user, "AllowCamera=0")):
        code, _, err = dc.activesync("policy", "set", *args, check=False)
        assert code != 0, args
        assert err.strip(), args
    code, _, _ = dc.activesync("policy", "inherit", "-u", user,
                               "NoSuchField", check=False)
    assert code != 0
    assert policy_show(dc, "-u", user) == before
