"""Provision (MS-ASPROV) and the policy key check of other commands.

Requests are modelled on MS-ASPROV section 4 (initial request with
DeviceInformation, acknowledgement with the temporary key)."""

import subprocess

from harness import xall, xfind, xml_escape, xrequire, xtext

INSTANCE = dict(activesync=True,
                plugin_settings={"activesync_provisioning": "yes"})

POLICY_TYPE = "MS-EAS-Provisioning-WBXML"

DEVINFO = ("<settings:DeviceInformation><settings:Set>"
           "<settings:Model>%(model)s</settings:Model>"
           "<settings:IMEI>356938035643809</settings:IMEI>"
           "<settings:FriendlyName>Test phone</settings:FriendlyName>"
           "<settings:OS>%(os)s</settings:OS>"
           "<settings:OSLanguage>English</settings:OSLanguage>"
           "<settings:PhoneNumber>+15551234567</settings:PhoneNumber>"
           "<settings:UserAgent>%(ua)s</settings:UserAgent>"
           "<settings:MobileOperator>Test Mobile</settings:MobileOperator>"
           "</settings:Set></settings:DeviceInformation>")


def initial_xml(devinfo="", policy_type=POLICY_TYPE):
    return ('<Provision xmlns="Provision:" xmlns:settings="Settings:">'
            '%s<Policies><Policy><PolicyType>%s</PolicyType></Policy>'
            '</Policies></Provision>' % (devinfo, xml_escape(policy_type)))


def ack_xml(key, status="1"):
    return ('<Provision xmlns="Provision:"><Policies><Policy>'
            '<PolicyType>%s</PolicyType><PolicyKey>%s</PolicyKey>'
            '<Status>%s</Status></Policy></Policies></Provision>'
            % (POLICY_TYPE, key, status))


def new_user(dc, name):
    user = "%s@example.test" % name
    dc.add_user(user, "pw-" + name)
    return user


def check_policy_doc(r, version):
    doc = xfind(r, "Policies/Policy/Data/EASProvisionDoc")
    assert doc is not None, r
    assert xtext(doc, "DevicePasswordEnabled") == "0", r
    assert xtext(doc, "AllowSimpleDevicePassword") == "1", r
    assert xtext(doc, "AttachmentsEnabled") == "1", r
    assert xtext(doc, "DevicePasswordHistory") == "0", r
    # 12.1 added the device feature settings
    if version >= 12.1:
        assert xtext(doc, "AllowBluetooth") == "2", r
        assert xtext(doc, "AllowBrowser") == "1", r
        assert xtext(doc, "MaxEmailBodyTruncationSize") == "-1", r
        assert xtext(doc, "RequireDeviceEncryption") == "0", r
        assert xfind(doc, "ApprovedApplicationList") is not None, r
        assert len(list(doc)) >= 40, "only %d settings" % len(list(doc))
    else:
        assert xfind(doc, "AllowBluetooth") is None, r
        assert xfind(doc, "AllowBrowser") is None, r
        assert len(list(doc)) == 12, "%d settings" % len(list(doc))


def two_phase(dc, version, with_devinfo):
    user = new_user(dc, "prov%s%s" % (version.replace(".", ""),
                                      "d" if with_devinfo else ""))
    c = dc.eas_client(user, version=version)
    model = "Model-%s" % c.device_id
    devinfo = DEVINFO % dict(model=model, os="TestOS 1.%s" % version,
                             ua="TestAgent/%s" % version) \
        if with_devinfo else ""
    r = c.request("Provision", initial_xml(devinfo))
    assert r.status == 200, r
    assert xrequire(r, "Provision/Status") == "1", r
    if with_devinfo:
        assert xrequire(r, "Settings:DeviceInformation/Settings:Status") \
            == "1", r
    else:
        assert xfind(r, "Settings:DeviceInformation") is None, r
    assert xrequire(r, "Policies/Policy/PolicyType") == POLICY_TYPE, r
    assert xrequire(r, "Policies/Policy/Status") == "1", r
    temp_key = xrequire(r, "Policies/Policy/PolicyKey")
    assert temp_key.isdigit() and int(temp_key) != 0, r
    assert int(temp_key) < 2 ** 32, r
    check_policy_doc(r, float(version))
    if with_devinfo:
        dump = dump_devices(dc)
        assert model.encode() in dump, "device model not stored"
        assert ("TestOS 1.%s" % version).encode() in dump
        assert ("TestAgent/%s" % version).encode() in dump

    # phase 2: acknowledge the temporary key
    c.policy_key = temp_key
    r = c.request("Provision", ack_xml(temp_key))
    assert r.status == 200, r
    assert xrequire(r, "Provision/Status") == "1", r
    assert xrequire(r, "Policies/Policy/Status") == "1", r
    final_key = xrequire(r, "Policies/Policy/PolicyKey")
    assert final_key.isdigit() and int(final_key) != 0, r
    assert final_key != temp_key, r
    assert xfind(r, "Policies/Policy/Data") is None, r
    c.policy_key = final_key

    # the final key opens the other commands
    r = c.foldersync()
    assert r.status == 200, r
    assert xrequire(r, "FolderSync/Status") == "1", r
    if with_devinfo:
        # later requests keep model and OS (the user agent follows the
        # HTTP header of each request)
        dump = dump_devices(dc)
        assert model.encode() in dump, "device model lost"
        assert ("TestOS 1.%s" % version).encode() in dump
    return c


def dump_devices(dc):
    """The raw device records of the state store (mdb_dump)."""
    r = subprocess.run(["mdb_dump", "-p", "-s", "devices",
                        dc.eas_state_dir], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_two_phase_14_1_with_device_information(dc):
    two_phase(dc, "14.1", True)


def test_two_phase_16_1_with_device_information(dc):
    two_phase(dc, "16.1", True)


def test_two_phase_14_0(dc):
    two_phase(dc, "14.0", False)


def test_two_phase_12_1(dc):
    two_phase(dc, "12.1", False)


def test_policy_of_12_0_has_only_12_0_settings(dc):
    user = new_user(dc, "prov120")
    c = dc.eas_client(user, version="12.0")
    r = c.request("Provision", initial_xml())
    assert xrequire(r, "Provision/Status") == "1", r
    check_policy_doc(r, 12.0)


def test_foldersync_without_key_12_1_gets_449(dc):
    user = new_user(dc, "nokey121")
    c = dc.eas_client(user, version="12.1")
    r = c.request("FolderSync", '<FolderSync xmlns="FolderHierarchy:">'
                  '<SyncKey>0</SyncKey></FolderSync>')
    assert r.status == 449, r
    # and a wrong key is the same on 12.x
    c.policy_key = "12345"
    r = c.request("FolderSync", '<FolderSync xmlns="FolderHierarchy:">'
                  '<SyncKey>0</SyncKey></FolderSync>')
    assert r.status == 449, r
    c.provision()
    r = c.foldersync()
    assert r.status == 200 and xrequire(r, "FolderSync/Status") == "1", r


def test_foldersync_without_key_14_1_gets_142(dc):
    user = new_user(dc, "nokey141")
    c = dc.eas_client(user, version="14.1")
    r = c.request("FolderSync", '<FolderSync xmlns="FolderHierarchy:">'
                  '<SyncKey>0</SyncKey></FolderSync>')
    assert r.status == 200, r
    assert xrequire(r, "FolderSync/Status") == "142", r
    # key 0 means "no key" as well
    c.policy_key = "0"
    r = c.request("FolderSync", '<FolderSync xmlns="FolderHierarchy:">'
                  '<SyncKey>0</SyncKey></FolderSync>')
    assert r.status == 200 and xrequire(r, "FolderSync/Status") == "142", r


def test_wrong_policy_key_gets_144(dc):
    user = new_user(dc, "wrongkey")
    c = dc.eas_client(user, version="14.1")
    c.provision()
    good = c.policy_key
    c.policy_key = str((int(good) + 1) % 2 ** 32 or 1)
    r = c.request("FolderSync", '<FolderSync xmlns="FolderHierarchy:">'
                  '<SyncKey>0</SyncKey></FolderSync>')
    assert r.status == 200, r
    assert xrequire(r, "FolderSync/Status") == "144", r
    # the temporary key of an unfinished Provision is no good either
    r = c.request("Provision", initial_xml())
    temp = xrequire(r, "Policies/Policy/PolicyKey")
    c.policy_key = temp
    r = c.request("FolderSync", '<FolderSync xmlns="FolderHierarchy:">'
                  '<SyncKey>0</SyncKey></FolderSync>')
    assert xrequire(r, "FolderSync/Status") == "144", r
    # the old final key still works until the new one is acknowledged
    c.policy_key = good
    r = c.foldersync()
    assert xrequire(r, "FolderSync/Status") == "1", r


def test_acknowledging_wrong_temporary_key(dc):
    user = new_user(dc, "wrongtemp")
    c = dc.eas_client(user, version="14.1")
    r = c.request("Provision", initial_xml())
    temp = int(xrequire(r, "Policies/Policy/PolicyKey"))
    r = c.request("Provision", ack_xml((temp + 7) % 2 ** 32 or 1))
    assert r.status == 200, r
    assert xrequire(r, "Provision/Status") == "1", r
    assert xrequire(r, "Policies/Policy/Status") == "5", r
    assert xfind(r, "Policies/Policy/PolicyKey") is None, r
    # the right temporary key still works afterwards
    r = c.request("Provision", ack_xml(temp))
    assert xrequire(r, "Policies/Policy/Status") == "1", r
    final = xrequire(r, "Policies/Policy/PolicyKey")
    # acknowledging the same temporary key twice is refused
    r = c.request("Provision", ack_xml(temp))
    assert xrequire(r, "Policies/Policy/Status") == "5", r
    c.policy_key = final
    r = c.foldersync()
    assert xrequire(r, "FolderSync/Status") == "1", r


def test_partial_acknowledgement_allowed(dc):
    user = new_user(dc, "partial")
    c = dc.eas_client(user, version="14.1")
    r = c.request("Provision", initial_xml())
    temp = xrequire(r, "Policies/Policy/PolicyKey")
    r = c.request("Provision", ack_xml(temp, status="2"))
    assert xrequire(r, "Policies/Policy/Status") == "1", r
    c.policy_key = xrequire(r, "Policies/Policy/PolicyKey")
    assert xrequire(c.foldersync(), "FolderSync/Status") == "1"


def test_wap_provisioning_xml_is_unknown_policy_type(dc):
    user = new_user(dc, "wapxml")
    c = dc.eas_client(user, version="12.1")
    r = c.request("Provision", initial_xml(
        policy_type="MS-WAP-Provisioning-XML"))
    assert r.status == 200, r
    assert xrequire(r, "Provision/Status") == "1", r
    assert xrequire(r, "Policies/Policy/Status") == "3", r
    assert xfind(r, "Policies/Policy/PolicyKey") is None, r
    assert xfind(r, "Policies/Policy/Data") is None, r


def test_malformed_provision_is_protocol_error(dc):
    user = new_user(dc, "badprov")
    c = dc.eas_client(user, version="14.1")
    bad = [
        # no Policies at all
        '<Provision xmlns="Provision:"></Provision>',
        # Policy without PolicyType
        '<Provision xmlns="Provision:"><Policies><Policy>'
        '</Policy></Policies></Provision>',
        # acknowledgement without Status
        '<Provision xmlns="Provision:"><Policies><Policy><PolicyType>'
        + POLICY_TYPE + '</PolicyType><PolicyKey>1</PolicyKey></Policy>'
        '</Policies></Provision>',
        # key that is not a number
        ack_xml("abc"),
        # acknowledgement status out of range
        ack_xml("1", status="9"),
    ]
    for xml in bad:
        r = c.request("Provision", xml)
        assert r.status == 200, (xml, r)
        assert xrequire(r, "Provision/Status") == "2", (xml, r)
    # a wrong root element is refused by the dispatcher for every
    # command (common status 103, invalid XML)
    r = c.request("Provision", '<FolderSync xmlns="FolderHierarchy:">'
                  '<SyncKey>0</SyncKey></FolderSync>')
    assert r.status == 200 and xrequire(r, "Provision/Status") == "103", r
    # nothing was stored on the way: provisioning still works
    c.provision()
    assert xrequire(c.foldersync(), "FolderSync/Status") == "1"


def test_remote_wipe_ack_without_pending_wipe(dc):
    user = new_user(dc, "wipeack")
    c = dc.eas_client(user, version="14.1")
    r = c.request("Provision", '<Provision xmlns="Provision:"><RemoteWipe>'
                  '<Status>1</Status></RemoteWipe></Provision>')
    assert r.status == 200, r
    assert xrequire(r, "Provision/Status") == "1", r
    assert xfind(r, "Policies") is None, r
    assert not xall(r, "RemoteWipe"), r


def test_provision_base64_query_form(dc):
    user = new_user(dc, "prov64")
    c = dc.eas_client(user, version="14.1")
    r = c.request("Provision", initial_xml(), base64_query=True)
    assert xrequire(r, "Provision/Status") == "1", r
    temp = xrequire(r, "Policies/Policy/PolicyKey")
    c.policy_key = temp
    r = c.request("Provision", ack_xml(temp), base64_query=True)
    final = xrequire(r, "Policies/Policy/PolicyKey")
    c.policy_key = final
    r = c.request("FolderSync", '<FolderSync xmlns="FolderHierarchy:">'
                  '<SyncKey>0</SyncKey></FolderSync>', base64_query=True)
    assert xrequire(r, "FolderSync/Status") == "1", r
