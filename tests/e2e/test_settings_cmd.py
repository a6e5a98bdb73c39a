"""The Settings command (MS-ASCMD Settings) on 12.1, 14.1 and 16.1:
DeviceInformation Set stored in the device record, UserInformation Get
(addresses; 14.1+ Accounts), DevicePassword Set stored only when the
effective policy enables password recovery and then encrypted at rest,
Oof answered (test_oof.py tests it), RightsManagementInformation
answered as not supported, bad requests.  (test_settings.py tests the activesync_* settings.)"""

import os
import stat

from harness import (dump_store_db, our_encode, policy_set, xfind,
                     xml_escape, xrequire)

# debug on: the request log must not show the recovery password
INSTANCE = dict(activesync=True,
                plugin_settings={"activesync_provisioning": "yes",
                                 "activesync_debug": "yes"})

VERSIONS = ("12.1", "14.1", "16.1")


def new_client(dc, name, version, extra_fields=None):
    user = "%s@set.test" % name
    dc.add_user(user, "pw-" + name, extra_fields)
    c = dc.eas_client(user, version=version)
    c.provision()
    return c


def settings(c, inner, ours=False):
    """Settings with the inner XML; ours: encoded with our codec (for
    elements libwbxml2 does not know)."""
    xml = '<Settings xmlns="Settings:">%s</Settings>' % inner
    if ours:
        r = c.request("Settings", body=our_encode(xml, c.builddir))
    else:
        r = c.request("Settings", xml)
    assert r.status == 200, r
    return r


def smtp_addresses(r, path):
    """The SMTPAddress children of path (libwbxml2 spells the element
    SmtpAddress)."""
    parent = xfind(r, path)
    assert parent is not None, r
    return [e.text for e in parent
            if e.tag.split("}")[-1].lower() == "smtpaddress"]


def test_user_information(dc):
    extra = {"activesync_user_addresses":
             "alias@set.test,Other@Example.test,bogus,alias@set.test",
             "activesync_user_display_name": "Ui_User"}
    for version in VERSIONS:
        c = new_client(dc, "ui%s" % version.replace(".", ""), version,
                       extra)
        r = settings(c, "<UserInformation><Get/></UserInformation>")
        assert xrequire(r, "Settings/Status") == "1", r
        assert xrequire(r, "UserInformation/Status") == "1", r
        if float(version) < 14.1:
            addrs = smtp_addresses(r, "UserInformation/Get/EmailAddresses")
            assert xfind(r, "UserInformation/Get/Accounts") is None, r
        else:
            acct = "UserInformation/Get/Accounts/Account"
            assert xrequire(r, acct + "/UserDisplayName") == "Ui_User", r
            assert xrequire(r, acct + "/EmailAddresses/PrimarySmtpAddress") \
                == c.user, r
            addrs = smtp_addresses(r, acct + "/EmailAddresses")
        # primary first, duplicates and non-addresses dropped
        assert addrs == [c.user, "alias@set.test", "Other@Example.test"], \
            addrs


def test_device_information_set(dc):
    for version in VERSIONS:
        c = new_client(dc, "di%s" % version.replace(".", ""), version)
        model = "SetModel-%s" % version
        r = settings(c, (
            "<DeviceInformation><Set><Model>%s</Model>"
            "<FriendlyName>Desk phone</FriendlyName><OS>SetOS 9</OS>"
            "<OSLanguage>Deutsch</OSLanguage>"
            "<MobileOperator>Op</MobileOperator></Set></DeviceInformation>")
            % xml_escape(model))
        assert xrequire(r, "Settings/Status") == "1", r
        assert xrequire(r, "DeviceInformation/Status") == "1", r
        show = dc.activesync("device", "show", "-u", c.user, c.device_id,
                             fmt="json")
        assert show[0]["model"] == model, show
        assert show[0]["os"] == "SetOS 9", show
        assert show[0]["friendly_name"] == "Desk phone", show
        # Get is not a DeviceInformation operation
        r = settings(c, "<DeviceInformation><Get/></DeviceInformation>")
        assert xrequire(r, "DeviceInformation/Status") == "2", r


def test_device_password_needs_password_recovery(dc):
    secret = "Recover-Me-4711"
    key_file = os.path.join(dc.eas_state_dir, "recovery-password.key")
    for version in VERSIONS:
        c = new_client(dc, "dp%s" % version.replace(".", ""), version)
        req = ("<DevicePassword><Set><Password>%s</Password></Set>"
               "</DevicePassword>" % secret)
        # the default policy does not enable recovery: denied by policy
        r = settings(c, req)
        assert xrequire(r, "Settings/Status") == "1", r
        assert xrequire(r, "DevicePassword/Status") == "7", r
        assert secret.encode() not in dump_store_db(dc, "device_props")
        code, _, err = dc.activesync("policy", "recovery-password", "-u",
                                     c.user, "-d", c.device_id, check=False)
        assert code != 0 and "no recovery password" in err, err

        policy_set(dc, "-u", c.user, "PasswordRecoveryEnabled=1")
        # the changed policy has to be provisioned first
        r = c.request_provisioned(
            "Settings", '<Settings xmlns="Settings:">%s</Settings>' % req)
        assert r.status == 200, r
        assert xrequire(r, "DevicePassword/Status") == "1", r
        dump = dump_store_db(dc, "device_props")
        assert b"recovery-password" in dump
        # encrypted at rest: neither the text nor its base64 is there
        assert secret.encode() not in dump
        assert b"UmVjb3Zlci1NZS00NzEx" not in dump
        st = os.stat(key_file)
        assert stat.S_IMODE(st.st_mode) == 0o600, oct(st.st_mode)
        assert st.st_size == 32
        # an admin gets it back
        out = dc.activesync("policy", "recovery-password", "-u", c.user,
                            "-d", c.device_id, fmt="json")
        assert out == [{"recovery_password": secret}], out
        # nor does the debug log show it (it logs the request)
        log = dc.log()
        assert "<Password>********</Password>" in log or \
            "Password>********" in log, "request not logged"
        assert secret not in log


def test_unsupported_and_bad_requests(dc):
    for version in VERSIONS:
        c = new_client(dc, "bad%s" % version.replace(".", ""), version)
        r = settings(c, "<Oof><Get><BodyType>Text</BodyType></Get></Oof>")
        assert xrequire(r, "Settings/Status") == "1", r
        # nothing set yet: off (test_oof.py tests Oof)
        assert xrequire(r, "Oof/Status") == "1", r
        assert xrequire(r, "Oof/Get/OofState") == "0", r
        r = settings(c, "<RightsManagementInformation><Get/>"
                     "</RightsManagementInformation>", ours=True)
        rmi = [e for e in r.xml if e.tag.split("}")[-1] ==
               "ihsManagementInformation"]
        assert len(rmi) == 1, r
        assert xrequire(rmi[0], "Status") == "168", r
        # several at once, answered in the request's order
        r = settings(c, "<UserInformation><Get/></UserInformation>"
                     "<Oof><Get><BodyType>Text</BodyType></Get></Oof>")
        names = [e.tag.split("}")[-1] for e in r.xml]
        assert names == ["Status", "UserInformation", "Oof"], names
        # an element that is no setting: protocol error, nothing answered
        r = settings(c, "<UserInformation><Get/></UserInformation>"
                     "<Model>x</Model>")
        assert xrequire(r, "Settings/Status") == "2", r
        assert xfind(r, "UserInformation") is None, r
        # an empty request
        r = settings(c, "")
        assert xrequire(r, "Settings/Status") == "2", r
        # UserInformation without Get
        r = settings(c, "<UserInformation/>")
        assert xrequire(r, "UserInformation/Status") == "2", r
        # DevicePassword without Password
        r = settings(c, "<DevicePassword><Set/></DevicePassword>")
        assert xrequire(r, "DevicePassword/Status") == "2", r


def test_settings_needs_the_policy(dc):
    user = "unprov@set.test"
    dc.add_user(user, "pw-unprov")
    for version in VERSIONS:
        c = dc.eas_client(user, version=version)
        r = c.request("Settings", '<Settings xmlns="Settings:">'
                      '<UserInformation><Get/></UserInformation></Settings>')
        if float(version) < 14.0:
            assert r.status == 449, r
        else:
            assert xrequire(r, "Settings/Status") == "142", r
