"""The connection's addresses and session id reach Dovecot as for imap.

The service listens on 127.0.0.1 and 127.0.0.2; a `local 127.0.0.2 { }`
block gives users a mail age limit there, so the same user syncs old
mail through one address and not through the other: the userdb lookup
and the user's settings saw the local IP. Each connection has a session
id that auth sees (its log lines carry it) and that our own log line of
a refused login names, so the two can be matched as with imap-login's
session=<...>."""

import re
import time

from harness import EasClient, T_INBOX, folders, penalty_free_ip, \
    sample_message, start, xtext

DAY = 86400
EXTRA = """
service activesync {
  inet_listener activesync {
    address = 127.0.0.1 127.0.0.2
  }
}
local 127.0.0.2 {
  activesync_max_mail_age = 3d
}
"""
INSTANCE = dict(activesync=True, extra_conf=EXTRA)

_serial = [0]


def _user(dc, tag):
    _serial[0] += 1
    user = "conninfo-%s-%d@example.test" % (tag, _serial[0])
    dc.add_user(user, "pw-ci")
    return user


def _client(dc, host, user, device):
    return EasClient(host, dc.eas_port, user, "pw-ci", device, "E2ETest",
                     builddir=dc.builddir)


def _subjects(r):
    return sorted(xtext(a, "ApplicationData/Email:Subject") for a in r.adds)


def test_local_block_applies_by_local_ip(dc):
    user = _user(dc, "lip")
    imap = dc.imap(user, "pw-ci")
    try:
        for days, subject in ((10, "old"), (1, "new")):
            assert imap.append("INBOX", None, time.time() - days * DAY,
                               sample_message(subject, to=user))[0] == "OK"
    finally:
        imap.logout()
    direct = _client(dc, "127.0.0.1", user, "CILIP1")
    assert _subjects(start(direct, folders(direct)[T_INBOX])) == \
        ["new", "old"]
    limited = _client(dc, "127.0.0.2", user, "CILIP2")
    assert _subjects(start(limited, folders(limited)[T_INBOX])) == ["new"]


def test_session_id_reaches_auth(dc):
    user = _user(dc, "sess")
    c = EasClient("127.0.0.1", dc.eas_port, user, "wrong", "CISESS",
                  "E2ETest", source_ip=penalty_free_ip())
    mark = dc.log_offset()
    r = c.options()
    assert r.status == 401, r
    line = dc.wait_for_log(r"401 Unauthorized: login=%s, session=<"
                           % re.escape(user), since=mark)
    session = re.search(r"session=<([^>]+)>", line).group(1)
    assert len(session) >= 12, line
    # auth logged the same id with its refusal (auth_verbose = yes)
    dc.wait_for_log_text(mark, "(%s,%s,<%s>)" % (user, c.source_ip,
                                                  session))
    # a new connection is a new session
    r = c.options()
    assert r.status == 401
    dc.wait_for_log_text(mark, "401 Unauthorized: login=%s" % user,
                         count=2)
    ids = re.findall(r"401 Unauthorized: login=%s, session=<([^>]+)>"
                     % re.escape(user), dc.log_since(mark))
    assert len(ids) == 2 and ids[0] != ids[1], ids
