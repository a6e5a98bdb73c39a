"""doveadm activesync with doveadm's user options (issue 13): -A (every
user of an iterable userdb, here one passwd-file), a wildcard -u, and -S
(the command runs in the instance's doveadm server, which has the
build's plugin loaded), with the table, tab and json formatters."""

import os

from harness import free_port, xrequire

import test_devices as td

# the doveadm server also on TCP, as a remote backend would be
DOVEADM_PORT = free_port()
INSTANCE = dict(activesync=True, passwd_single=True,
                doveadm_server_plugin=True,
                plugin_settings={"activesync_provisioning": "yes"},
                extra_conf="""doveadm_password = e2e-doveadm-secret
service doveadm {
  inet_listener {
    address = 127.0.0.1
    port = %d
  }
}
""" % DOVEADM_PORT)

SHARED_DEVICE = "SharedPhone01"


def setup_users(dc):
    """Two users with a device each and one shared device id (one phone
    with both accounts), a third user with none."""
    if "usr1@example.test" in dc.users:
        return dc.__dict__["_users_setup"]
    clients = {}
    for name in ("usr1", "usr2"):
        user = "%s@example.test" % name
        dc.add_user(user, "pw-" + name)
        own = dc.eas_client(user, device_id="Own" + name,
                            device_type="UsersPhone")
        shared = dc.eas_client(user, device_id=SHARED_DEVICE,
                               device_type="UsersPhone")
        td.provision(own)
        td.provision(shared)
        clients[user] = (own, shared)
    dc.add_user("other@example.test", "pw-other")
    dc.__dict__["_users_setup"] = clients
    return clients


def socket_path(dc):
    return os.path.join(dc.base_dir, "doveadm-server")


def rows(out):
    return {(d["user"], d["device_id"]) for d in out}


def test_device_list_all_users_and_wildcard(dc):
    clients = setup_users(dc)
    want = {(u, c.device_id) for u, pair in clients.items() for c in pair}
    out = dc.activesync("device", "list", "-A", fmt="json")
    assert rows(out) == want, out
    # doveadm adds the user it ran for to each row
    assert all(d["username"] == d["user"] for d in out), out
    out = dc.activesync("device", "list", "-u", "usr1*", fmt="json")
    assert rows(out) == {x for x in want
                         if x[0] == "usr1@example.test"}, out
    # without -A and -u: every device in the state store, as before
    out = dc.activesync("device", "list", fmt="json")
    assert rows(out) >= want, out


def test_device_action_for_all_users(dc):
    clients = setup_users(dc)
    # users without the device (other@) are skipped, not an error
    dc.activesync("device", "block", "-A", SHARED_DEVICE)
    for user, (own, shared) in clients.items():
        td.assert_blocked(shared)
        assert xrequire(own.foldersync(), "FolderSync/Status") == "1"
    dc.activesync("device", "allow", "-u", "usr*", SHARED_DEVICE)
    for user, (own, shared) in clients.items():
        assert xrequire(shared.foldersync(), "FolderSync/Status") == "1"
    # one user without it is still an error
    code, _, err = dc.activesync("device", "show", "-u",
                                 "other@example.test", SHARED_DEVICE,
                                 check=False)
    assert code != 0 and "no device" in err, err
    code, _, err = dc.activesync("device", "list", "-A", "-u",
                                 "usr1@example.test", check=False)
    assert code != 0, err


def test_through_the_doveadm_server(dc):
    dc.require_doveadm_server_plugin()
    clients = setup_users(dc)
    sock = socket_path(dc)
    assert os.path.exists(sock), sock
    user = "usr2@example.test"
    own, shared = clients[user]
    out = dc.activesync("device", "list", "-S", sock, "-u", user,
                        fmt="json")
    assert rows(out) == {(user, own.device_id),
                         (user, shared.device_id)}, out
    mark = dc.log_offset()
    dc.activesync("device", "block", "-S", sock, "-u", user, own.device_id)
    td.assert_blocked(own)
    # the doveadm server did it: its log line is in the instance's log
    dc.wait_for_log_text(mark, "access set to block")
    log = dc.log_since(mark)
    assert "device %s" % own.device_id in log, log[-2000:]
    dc.activesync("device", "allow", "-S", sock, "-u", user, own.device_id)
    assert xrequire(own.foldersync(), "FolderSync/Status") == "1"
    out = dc.activesync("device", "show", "-S", sock, "-u", user,
                        own.device_id, fmt="json")
    assert len(out) == 1 and out[0]["access_override"] == "allow", out
    # every user through the server
    out = dc.activesync("device", "list", "-S", sock, "-A", fmt="json")
    assert rows(out) == {(u, c.device_id) for u, pair in clients.items()
                         for c in pair}, out


def test_through_the_doveadm_server_over_tcp(dc):
    """-S host:port: the doveadm protocol over TCP with doveadm_password,
    as to another backend of a cluster."""
    dc.require_doveadm_server_plugin()
    clients = setup_users(dc)
    target = "127.0.0.1:%d" % DOVEADM_PORT
    user = "usr1@example.test"
    own, shared = clients[user]
    out = dc.activesync("device", "list", "-S", target, "-u", user,
                        fmt="json")
    assert rows(out) == {(user, own.device_id),
                         (user, shared.device_id)}, out
    mark = dc.log_offset()
    dc.activesync("device", "quarantine", "-S", target, "-A", SHARED_DEVICE)
    dc.wait_for_log_text(mark, "access set to quarantine", count=2)
    for u, (_, sh) in clients.items():
        out = dc.activesync("device", "show", "-u", u, SHARED_DEVICE,
                            fmt="json")
        assert out[0]["access_override"] == "quarantine", out
    dc.activesync("device", "allow", "-S", target, "-A", SHARED_DEVICE)
    for u, (_, sh) in clients.items():
        assert xrequire(sh.foldersync(), "FolderSync/Status") == "1"


def test_formatters(dc):
    clients = setup_users(dc)
    user = "usr1@example.test"
    own, _ = clients[user]
    table = dc.activesync("device", "list", "-A", fmt="table")
    lines = table.splitlines()
    assert "device id" in lines[0] and "state" in lines[0], table
    assert any(own.device_id in line and user in line
               for line in lines[1:]), table
    tab = dc.activesync("device", "list", "-u", user, fmt="tab")
    lines = tab.splitlines()
    header = lines[0].split("\t")
    assert "device id" in header and "wipe state" in header, tab
    body = [dict(zip(header, line.split("\t"))) for line in lines[1:]]
    assert {b["device id"] for b in body} == {own.device_id,
                                              SHARED_DEVICE}, tab
    assert all(b["state"] == "allow" for b in body), tab
    flow = dc.activesync("device", "show", "-u", user, own.device_id,
                         fmt="flow")
    assert "device_id=%s" % own.device_id in flow.replace(
        "device id=", "device_id="), flow


def test_policy_user_level_for_many_users(dc):
    setup_users(dc)
    dc.activesync("policy", "set", "-u", "usr*", "AllowCamera=0")
    for user in ("usr1@example.test", "usr2@example.test"):
        show = {r["field"]: (r["value"], r["level"]) for r in
                dc.activesync("policy", "show", "-u", user, fmt="json")}
        assert show["AllowCamera"] == ("0", "user"), show
    show = {r["field"]: (r["value"], r["level"]) for r in
            dc.activesync("policy", "show", "-u", "other@example.test",
                          fmt="json")}
    assert show["AllowCamera"] == ("1", "default"), show
    # every user's effective policy, each row with its user
    out = dc.activesync("policy", "show", "-A", fmt="json")
    camera = {r["username"]: r["value"] for r in out
              if r["field"] == "AllowCamera"}
    assert set(camera) == set(dc.users), camera
    assert {u for u, v in camera.items() if v == "0"} == {
        "usr1@example.test", "usr2@example.test"}, camera
    if dc.doveadm_server_plugin:
        out = dc.activesync("policy", "show", "-S", socket_path(dc), "-u",
                            "usr2@example.test", fmt="json")
        assert {r["field"]: r["level"] for r in out}["AllowCamera"] == \
            "user", out
    dc.activesync("policy", "inherit", "-A", "AllowCamera")
    out = dc.activesync("policy", "show", "-A", fmt="json")
    assert all(r["value"] == "1" for r in out
               if r["field"] == "AllowCamera"), out
