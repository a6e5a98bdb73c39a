"""Search with an FTS plugin configured: the Mailbox store's FreeText goes
through Dovecot's own search, so the admin's FTS backend answers it with
nothing special in the module.  The backend is fts_lucene (Debian
package dovecot-lucene; fts_squat of 2.3.19 crashes any process that
opens a mailbox with it).  The proof that FTS was consulted is the
index it builds (through Dovecot's indexer) on the first search."""

import os

from harness import sample_message, xall, xrequire, xtext

INSTANCE = dict(activesync=True,
                extra_conf="mail_plugins = $mail_plugins fts fts_lucene\n",
                plugin_settings={"fts": "lucene"})

NS = 'xmlns="Search:" xmlns:airsync="AirSync:"'


def lucene_index(dc, user):
    path = os.path.join(dc.home_root, user, "Maildir", "lucene-indexes")
    return os.path.isdir(path) and len(os.listdir(path)) > 0


def test_freetext_through_fts(dc):
    user, password = "fts-user@example.test", "pw-fts"
    dc.add_user(user, password)
    dc.deliver(user, sample_message("Budget meeting", "bring the numbers\n",
                                    to=user))
    dc.deliver(user, sample_message("Lunch", "pizza or budget sushi\n",
                                    to=user))
    dc.deliver(user, sample_message("Unrelated", "nothing here\n", to=user))
    c = dc.eas_client(user, password, device_id="FTS1")
    r = c.foldersync()
    assert xrequire(r, "FolderSync/Status") == "1", r
    assert os.path.exists("/usr/lib/dovecot/modules/"
                          "lib21_fts_lucene_plugin.so"), \
        "fts_lucene missing: apt-get install dovecot-lucene"
    assert not lucene_index(dc, user)
    r = c.request_provisioned(
        "Search", '<Search %s><Store><Name>Mailbox</Name><Query><And>'
        '<airsync:Class>Email</airsync:Class><FreeText>budget</FreeText>'
        '</And></Query></Store></Search>' % NS)
    assert r.status == 200 and xrequire(r, "Search/Status") == "1", r
    assert xrequire(r, "Response/Store/Status") == "1", r
    found = sorted(xtext(res, "Properties/Email:Subject")
                   for res in xall(r, "Response/Store/Result"))
    assert found == ["Budget meeting", "Lunch"], r
    assert xrequire(r, "Response/Store/Total") == "2"
    # the FTS backend indexed the folder to answer the query
    assert lucene_index(dc, user), os.listdir(
        os.path.join(dc.home_root, user, "Maildir"))
