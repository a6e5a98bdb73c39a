"""The activesync_* settings as doveconf knows them (the settings module
libactivesync_settings.so, which the harness installs into Dovecot's
modules/settings directory before starting instances): doveconf -a lists
every one with its default, doveconf -n the changed ones, an invalid
value stops doveconf and Dovecot naming the setting, userdb fields
override them per user, and the older plugin { } form is still read (with
a warning) for a setting left at its default."""

import os
import subprocess

from harness import SETTINGS_MODULE, DOVECOT_SETTINGS_DIR
from test_sync import T_INBOX, body_pref, folders, start, sync
from test_sync_lookback import account, append_aged, subjects

# What an admin who changes nothing gets (conf.d/20-activesync.conf
# documents the same values)
DEFAULTS = {
    "activesync_state_dir": "",
    "activesync_state_max_size": "0",
    "activesync_auth_socket_path": "",
    "activesync_realm": "ActiveSync",
    "activesync_ping_min_heartbeat": "1 min",
    "activesync_ping_max_heartbeat": "30 mins",
    "activesync_ping_max_folders": "300",
    "activesync_max_request_size": "32M",
    "activesync_max_send_size": "25M",
    "activesync_sender_domain": "",
    "activesync_user_addresses": "",
    "activesync_user_display_name": "",
    "activesync_max_window_size": "512",
    "activesync_max_mail_age": "0",
    "activesync_max_calendar_age": "0",
    "activesync_auth_cache_ttl": "5 mins",
    "activesync_search_timeout": "45 s",
    "activesync_provisioning": "yes",
    "activesync_special_folders": "yes",
    "activesync_calendar_folder": "Calendar",
    "activesync_contacts_folder": "Contacts",
    "activesync_tasks_folder": "Tasks",
    "activesync_notes_folder": "Notes",
    "activesync_groupware_as_email": "",
    "activesync_autodiscover_url": "",
    "activesync_trusted_ca_file": "",
    "activesync_autodiscover_imap_port": "993",
    "activesync_autodiscover_smtp_port": "587",
    "activesync_gal": "yes",
    "activesync_gal_refresh_interval": "1 hour",
    "activesync_gal_full_refresh_interval": "1 day",
    "activesync_gal_folders": "",
    "activesync_debug": "no",
    "activesync_enabled": "yes",
    "activesync_max_devices": "0",
    "activesync_device_access": "allow",
    "activesync_wipe_notify_address": "",
}

# top level (the harness writes settings doveconf knows there)
CHANGED = {
    "activesync_search_timeout": "30 s",
    "activesync_max_mail_age": "30d",
}
# the older form: read because the top-level setting is left at default
PLUGIN_WINDOW = 3

INSTANCE = dict(activesync=True, plugin_settings=CHANGED,
                extra_conf="plugin {\n  activesync_max_window_size = %d\n}"
                % PLUGIN_WINDOW)

DAY = 86400


def doveconf(dc, *args, conf=None):
    r = subprocess.run(["doveconf", "-c", conf or dc.conf_path] +
                       list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True)
    return r


def settings_of(text):
    out = {}
    for line in text.splitlines():
        if line.startswith("activesync_"):
            key, _, value = line.partition(" =")
            out[key] = value.strip()
    return out


def test_module_installed(dc):
    path = os.path.join(DOVECOT_SETTINGS_DIR, SETTINGS_MODULE)
    with open(path, "rb") as f:
        installed = f.read()
    with open(os.path.join(dc.builddir, "module", ".libs",
                           SETTINGS_MODULE), "rb") as f:
        assert f.read() == installed, "%s is not this build's" % path


def test_doveconf_lists_every_setting_with_default(dc):
    r = doveconf(dc, "-a")
    assert r.returncode == 0, r.stderr
    got = settings_of(r.stdout)
    expected = dict(DEFAULTS, activesync_state_dir=dc.eas_state_dir,
                    **CHANGED)
    assert got == expected, (got, expected)
    # without any configuration: the defaults
    r = doveconf(dc, "-a", conf="/dev/null")
    assert r.returncode == 0, r.stderr
    assert settings_of(r.stdout) == DEFAULTS


def test_doveconf_n_shows_changed(dc):
    r = doveconf(dc, "-n")
    assert r.returncode == 0, r.stderr
    got = settings_of(r.stdout)
    assert got == dict(CHANGED, activesync_state_dir=dc.eas_state_dir), got
    # the plugin { } one is there too, as a plugin setting
    assert "  activesync_max_window_size = %d" % PLUGIN_WINDOW in \
        r.stdout.splitlines(), r.stdout


def _bad_conf(dc, name, line):
    with open(dc.conf_path) as f:
        text = f.read()
    path = os.path.join(dc.dir, "bad-%s.conf" % name)
    with open(path, "w") as f:
        f.write(text + "\n" + line + "\n")
    return path


BAD = [
    # (setting, value, what the error says)
    ("activesync_max_send_size", "-5M", "Invalid size: -5M"),
    ("activesync_max_request_size", "10 parsecs",
     "Invalid size: 10 parsecs"),
    ("activesync_ping_max_heartbeat", "10 fortnights",
     "Invalid time interval: 10 fortnights"),
    ("activesync_provisioning", "yess", "Invalid boolean value: yess"),
    # the check across settings
    ("activesync_ping_min_heartbeat", "2 hours",
     "activesync_ping_min_heartbeat (7200 s) must not be larger than "
     "activesync_ping_max_heartbeat (1800 s)"),
]


def test_bad_values_stop_doveconf(dc):
    for key, value, error in BAD:
        path = _bad_conf(dc, key, "%s = %s" % (key, value))
        r = doveconf(dc, "-n", conf=path)
        assert r.returncode != 0, (key, value, r.stdout)
        assert key in r.stderr and error in r.stderr, (key, r.stderr)


def test_bad_values_stop_dovecot(dc):
    # the master parses the configuration before it starts anything;
    # the running instance is not disturbed
    for key, value, error in BAD[:1] + BAD[2:4]:
        path = _bad_conf(dc, key, "%s = %s" % (key, value))
        try:
            r = subprocess.run(["dovecot", "-F", "-c", path],
                               stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True,
                               timeout=20)
        except subprocess.TimeoutExpired:
            raise AssertionError("dovecot started with %s = %s" %
                                 (key, value))
        assert r.returncode != 0, (key, r.stdout)
        assert "Fatal" in r.stdout and key in r.stdout and \
            error in r.stdout, (key, r.stdout)
    assert dc.service_alive()


def test_plugin_form_read_with_warning(dc):
    assert "Settings in plugin { } are deprecated, set them at top " \
        "level instead: activesync_max_window_size" in dc.log(), \
        dc.log_tail()
    c = account(dc, "plugwin")
    inbox = folders(c)[T_INBOX]
    append_aged(dc, c, [0] * (PLUGIN_WINDOW + 2))
    r = start(c, inbox, options=body_pref(1), window=50)
    assert len(r.adds) == PLUGIN_WINDOW and r.more, r.resp


def test_userdb_overrides(dc):
    # activesync_max_window_size: over the plugin { } value
    c = account(dc, "udbwin",
                extra_fields={"activesync_max_window_size": "2"})
    inbox = folders(c)[T_INBOX]
    append_aged(dc, c, [0] * 4)
    r = start(c, inbox, options=body_pref(1), window=50)
    assert len(r.adds) == 2 and r.more, r.resp
    # even when userdb gives the default value
    c = account(dc, "udbwindef",
                extra_fields={"activesync_max_window_size": "512"})
    inbox = folders(c)[T_INBOX]
    append_aged(dc, c, [0] * 4)
    r = start(c, inbox, options=body_pref(1), window=50)
    assert len(r.adds) == 4 and not r.more, r.resp

    # activesync_max_mail_age: the top-level 30 days, narrowed for one
    # user and lifted for another (passwd-file values can't have spaces;
    # the window is widened past the plugin { } one to see them all)
    ages = [40, 20, 5, 0]
    for age, want in ((None, ["Age 0", "Age 20", "Age 5"]),
                      ("10d", ["Age 0", "Age 5"]),
                      ("0", ["Age 0", "Age 20", "Age 40", "Age 5"])):
        extra = {"activesync_max_window_size": "50"}
        if age is not None:
            extra["activesync_max_mail_age"] = age
        c = account(dc, "udbage", extra_fields=extra)
        inbox = folders(c)[T_INBOX]
        append_aged(dc, c, ages)
        r = start(c, inbox, options=body_pref(1))
        assert subjects(r) == want and not r.more, (age, r.resp)


def test_invalid_userdb_value_refuses_user(dc):
    c = account(dc, "udbbad",
                extra_fields={"activesync_max_mail_age": "forever"})
    mark = dc.log_offset()
    r = c.request("FolderSync", '<FolderSync xmlns="FolderHierarchy:">'
                  '<SyncKey>0</SyncKey></FolderSync>')
    assert r.status == 500, r
    dc.wait_for_log_text(mark, "activesync_max_mail_age: Invalid time "
                         "interval: forever")
    # nothing else is affected
    c = account(dc, "udbgood")
    assert folders(c)[T_INBOX]
