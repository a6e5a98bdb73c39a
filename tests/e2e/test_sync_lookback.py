"""Sync: the server's mail age limit (activesync_max_mail_age, per user
through userdb extra fields, and a per-device limit in the state store)
that a device's FilterType can only narrow."""

import time

from harness import body_pref, folders, sample_message, set_device_prop, \
    start, sync, T_INBOX, xtext

INSTANCE = dict(activesync=True)

DAY = 86400
_serial = [0]


def account(dc, tag, version="14.1", extra_fields=None, device=None):
    _serial[0] += 1
    user = "lookback-%s-%d@example.test" % (tag, _serial[0])
    password = "pw-lb-%d" % _serial[0]
    dc.add_user(user, password, extra_fields=extra_fields)
    return dc.eas_client(user, password,
                         device_id=device or "LB%s%d" % (
                             tag.upper(), _serial[0]),
                         device_type="E2ETest", version=version)


def append_aged(dc, c, ages_days):
    imap = dc.imap(c.user, c.password)
    try:
        for days in ages_days:
            assert imap.append("INBOX", None, time.time() - days * DAY,
                               sample_message("Age %d" % days,
                                              to=c.user))[0] == "OK"
    finally:
        imap.logout()


def subjects(r):
    return sorted(xtext(a, "ApplicationData/Email:Subject") for a in r.adds)


def test_user_limit_without_filter_type(dc):
    # 14.1 and 12.1 devices that send no FilterType at all
    for version in ("14.1", "12.1"):
        c = account(dc, "user" + version.replace(".", ""), version=version,
                    extra_fields={"activesync_max_mail_age": "10d"})
        inbox = folders(c)[T_INBOX]
        append_aged(dc, c, [40, 20, 5, 0])
        r = start(c, inbox, options=body_pref(1))
        assert subjects(r) == ["Age 0", "Age 5"], r.resp
        # "everything" can't widen it
        r = sync(c, inbox, r.key, options="<FilterType>0</FilterType>" +
                 body_pref(1)).ok()
        assert not r.adds and not r.soft_deletes, r.resp
        # one day narrows it
        r = sync(c, inbox, r.key, options="<FilterType>1</FilterType>" +
                 body_pref(1)).ok()
        assert len(r.soft_deletes) == 1 and not r.adds, r.resp


def test_device_limit(dc):
    c = account(dc, "dev", device="LBDEVLIMITED")
    inbox = folders(c)[T_INBOX]
    append_aged(dc, c, [30, 3, 0])
    set_device_prop(dc, c.user, c.device_id, "max_mail_age", "7d")
    r = start(c, inbox, options=body_pref(1))
    assert subjects(r) == ["Age 0", "Age 3"], r.resp
    # another device of the same user has no limit
    c2 = dc.eas_client(c.user, c.password, device_id="LBDEVFREE",
                       device_type="E2ETest", version="16.1")
    inbox2 = folders(c2)[T_INBOX]
    r2 = start(c2, inbox2, options=body_pref(1))
    assert subjects(r2) == ["Age 0", "Age 3", "Age 30"], r2.resp
    # the limit is lifted: the next Sync brings the older mail
    set_device_prop(dc, c.user, c.device_id, "max_mail_age", "0")
    r = sync(c, inbox, r.key).ok()
    assert subjects(r) == ["Age 30"], r.resp
