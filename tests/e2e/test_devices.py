"""Device management through doveadm activesync (issue 13): device
list/show with Provision's DeviceInformation, remove, resync, remote
wipe, allow/block/quarantine rules, device limit, per-user switch.

Each flow is driven over HTTP+WBXML against the private Dovecot and
checked with the build's doveadm plugin (DovecotInstance.activesync())."""

from harness import xml_escape, xrequire, xtext

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
