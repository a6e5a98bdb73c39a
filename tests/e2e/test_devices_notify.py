"""The admin copy of the remote wipe notice
(activesync_wipe_notify_address), submitted through the user's
submission_host, and a failed wipe acknowledgement."""

from harness import SmtpSink, xfind, xrequire

SINK = SmtpSink()
ADMIN = "mobile-admin@example.test"

# The address comes from userdb (as any activesync_* setting can), which
# also keeps this file independent of the doveconf settings module
# installed at the time.
INSTANCE = dict(
    activesync=True,
    extra_conf="submission_host = 127.0.0.1:%d\nsubmission_timeout = 20s"
    % SINK.port)

POLICY_REQUEST = ('<Provision xmlns="Provision:"><Policies><Policy>'
                  '<PolicyType>MS-EAS-Provisioning-WBXML</PolicyType>'
                  '</Policy></Policies></Provision>')
SUBJECT = "Your mobile device was wiped"


def wiped_device(dc, name):
    SINK.start()
    SINK.mode = "accept"
    user = "%s@example.test" % name
    dc.add_user(user, "pw-" + name,
                {"activesync_wipe_notify_address": ADMIN})
    c = dc.eas_client(user)
    c.provision()
    dc.activesync("device", "wipe", "-u", c.user, c.device_id)
    r = c.request("Provision", POLICY_REQUEST)
    assert xfind(r, "RemoteWipe") is not None, r
    return c


def ack(c, status):
    return c.request("Provision", '<Provision xmlns="Provision:">'
                     '<RemoteWipe><Status>%s</Status></RemoteWipe>'
                     '</Provision>' % status)


def test_admin_gets_wipe_notice(dc):
    c = wiped_device(dc, "wipeadmin")
    before = len(SINK.find(SUBJECT))
    r = ack(c, "1")
    assert xrequire(r, "Provision/Status") == "1", r
    got = SINK.find(SUBJECT)
    assert len(got) == before + 1, got
    msg = got[-1]
    assert ADMIN.encode() in msg["data"], msg
    assert c.device_id.encode() in msg["data"], msg


def test_failed_wipe_is_sent_again(dc):
    c = wiped_device(dc, "wipefail")
    r = ack(c, "2")
    # MS-ASPROV: Status 2 and the directive again; still pending
    assert xrequire(r, "Provision/Status") == "2", r
    assert xfind(r, "RemoteWipe") is not None, r
    devs = dc.activesync("device", "show", "-u", c.user, c.device_id,
                         fmt="json")
    assert devs[0]["wipe"] == "pending", devs
    assert ack(c, "1") is not None
    devs = dc.activesync("device", "show", "-u", c.user, c.device_id,
                         fmt="json")
    assert devs[0]["wipe"] == "wiped", devs
