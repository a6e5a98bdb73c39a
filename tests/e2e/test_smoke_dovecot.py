"""Proves the harness itself against the real Dovecot (no activesync).

These must pass before any activesync test can mean anything."""

import imaplib
import re
import time

from harness import penalty_free_ip, sample_message

# Plain Dovecot: imap + lmtp only, even if module/activesync is built.
INSTANCE = dict(activesync=False)


def test_lmtp_delivery_then_imap_fetch(dc):
    user = "smoke-deliver@example.test"
    dc.add_user(user, "smokepw1")
    subject = "smoke %f" % time.time()
    dc.deliver(user, sample_message(subject, "body line\n", to=user))
    imap = dc.imap(user, "smokepw1")
    try:
        typ, data = imap.select("INBOX", readonly=True)
        assert typ == "OK" and int(data[0]) == 1, data
        typ, data = imap.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)] "
                               "BODY.PEEK[TEXT])")
        assert typ == "OK", data
        raw = b"".join(p[1] for p in data if isinstance(p, tuple))
        assert subject.encode() in raw, raw
        assert b"body line" in raw, raw
    finally:
        imap.logout()
    assert re.search(r"lmtp\(%s\).*saved mail to INBOX" % re.escape(user),
                     dc.log()), dc.log_tail()


def test_plain_login_user(dc):
    # "bob" has no domain; LMTP and IMAP must both work with it.
    dc.deliver("bob", sample_message("for bob", to="bob"))
    imap = dc.imap("bob")
    try:
        typ, data = imap.select("INBOX", readonly=True)
        assert typ == "OK" and int(data[0]) >= 1, data
    finally:
        imap.logout()


def test_wrong_imap_password_rejected(dc):
    import imaplib
    try:
        dc.imap("user2@example.test", "not-the-password",
                source_ip=penalty_free_ip())
    except imaplib.IMAP4.error as e:
        assert "AUTHENTICATIONFAILED" in str(e) or "failed" in str(e), e
    else:
        raise AssertionError("login with a wrong password succeeded")


def test_special_use_folders(dc):
    user = "smoke-special@example.test"
    dc.add_user(user, "smokepw2")
    imap = dc.imap(user, "smokepw2")
    try:
        typ, data = imap.list()
        assert typ == "OK", data
        seen = {}
        for line in data:
            m = re.match(rb'\(([^)]*)\) "/" "?([^"]+)"?$', line)
            assert m, line
            seen[m.group(2).decode()] = m.group(1).decode()
        for name, flag in (("Drafts", "\\Drafts"), ("Sent", "\\Sent"),
                           ("Trash", "\\Trash"), ("Junk", "\\Junk")):
            assert name in seen, (name, seen)
            assert flag in seen[name].split(), (name, seen[name])
        assert "INBOX" in seen
        typ, data = imap.lsub('""', "*")
        subscribed = b" ".join(data)
        for name in (b"Drafts", b"Sent", b"Trash", b"Junk"):
            assert name in subscribed, data
    finally:
        imap.logout()


def test_metadata_doveadm(dc):
    user = "smoke-meta@example.test"
    dc.add_user(user, "smokepw3")
    key = "/private/vendor/kolab/folder-type"
    dc.doveadm("mailbox", "create", "-u", user, "Calendar")
    dc.doveadm("mailbox", "metadata", "set", "-u", user, "Calendar", key,
               "event.default")
    out = dc.doveadm("mailbox", "metadata", "get", "-u", user, "Calendar",
                     key)
    assert out.strip() == "event.default", repr(out)
    # a folder without the entry has none
    out = dc.doveadm("mailbox", "metadata", "get", "-u", user, "INBOX", key)
    assert out.strip() == "", repr(out)


def test_metadata_imap(dc):
    user = "smoke-imapmeta@example.test"
    dc.add_user(user, "smokepw4")
    imap = dc.imap(user, "smokepw4")
    try:
        typ, data = imap.create("Contacts")
        assert typ == "OK", data
        imaplib.Commands.setdefault("SETMETADATA", ("AUTH", "SELECTED"))
        typ, data = imap._simple_command(
            "SETMETADATA", "Contacts",
            '(/private/vendor/kolab/folder-type "contact")')
        assert typ == "OK", data
    finally:
        imap.logout()
    out = dc.doveadm("mailbox", "metadata", "get", "-u", user, "Contacts",
                     "/private/vendor/kolab/folder-type")
    assert out.strip() == "contact", repr(out)


def test_doveadm_save_and_fetch(dc):
    user = "smoke-save@example.test"
    dc.add_user(user, "smokepw5")
    dc.doveadm("save", "-u", user, "-m", "Sent",
               input=sample_message("saved copy", to=user))
    out = dc.doveadm("fetch", "-u", user, "hdr.subject", "mailbox", "Sent")
    assert "saved copy" in out, out
