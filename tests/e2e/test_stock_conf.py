"""Debian's stock Dovecot configuration plus our conf.d file.

The instance runs from dovecot-core's /usr/share/dovecot (dovecot.conf
and its conf.d/, the files a fresh Debian install has in /etc/dovecot)
with conf.d/20-activesync.conf added unchanged; the harness changes only
what an unprivileged private instance must (ports, paths, users, and
passwd-file instead of PAM: see DovecotInstance._write_stock_conf).
Mail is the stock mbox location (INBOX in a spool file), so the service
runs one device connection per process.  The stock namespace lists
Drafts/Sent/Trash/Junk without creating them; nothing here depends on
them."""

from harness import body_pref, folders, imap_flags, new_account, \
    sample_message, start, sync, T_INBOX, uid_of, xtext

INSTANCE = dict(activesync=True, stock_config=True)


def test_stock_config_is_in_use(dc):
    assert dc.conf_path.endswith("/stock/dovecot.conf")
    assert dc.doveconf_value("mail_location").startswith("mbox:~/mail:"), \
        dc.doveconf_value("mail_location")
    # from 10-auth.conf and 10-mail.conf as shipped
    assert dc.doveconf_value("auth_mechanisms") == "plain"
    assert dc.doveconf_value("disable_plaintext_auth") == "yes"
    assert dc.doveconf_value("service/activesync/client_limit") == "1000"
    assert "activesync" in dc.protocols, dc.protocols


def test_options_provision_foldersync_sync_on_mbox(dc):
    c = new_account(dc, "stock")
    r = c.options()
    assert r.status == 200, r
    assert "14.1" in (r.header("MS-ASProtocolVersions") or ""), r.headers
    c.provision()
    inbox = folders(c)[T_INBOX]
    dc.deliver(c.user, sample_message("Stock mail", "Delivered to mbox.\n",
                                      to=c.user))
    r = start(c, inbox, options=body_pref(1))
    assert [xtext(a, "ApplicationData/Email:Subject")
            for a in r.adds] == ["Stock mail"], r.resp
    sid = xtext(r.adds[0], "ServerId")
    r = sync(c, inbox, r.key, commands=(
        "<Change><ServerId>%s</ServerId><ApplicationData>"
        "<email:Read>1</email:Read></ApplicationData></Change>" % sid)).ok()
    assert "\\Seen" in imap_flags(dc, c, uid_of(sid))
    # the mbox INBOX is the spool file of the stock location
    with open("%s/%s" % (dc.mail_spool, c.user), "rb") as f:
        assert b"Subject: Stock mail" in f.read()
    assert "mbox: one device connection per process" in dc.log()
