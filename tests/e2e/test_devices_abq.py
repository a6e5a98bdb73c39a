"""Allow/Block/Quarantine (issue 13), what test_devices.py leaves open:
what a quarantined device may still do (its default folders) and what it
is refused with which status; one notice per quarantine across
reconnects; a blocked device's Provision in each version; when rules
are evaluated (on every request: a rule added or removed later changes a
device whose state came from a rule, never one the admin set)."""

from harness import compose_xml, sample_message, setup_device, sync, \
    sync_all, xall, xrequire, xtext

import test_devices as td

INSTANCE = dict(activesync=True,
                plugin_settings={"activesync_provisioning": "yes"})

PROVISION1 = ('<Provision xmlns="Provision:"><Policies><Policy>'
              '<PolicyType>MS-EAS-Provisioning-WBXML</PolicyType></Policy>'
              '</Policies></Provision>')


def refused(r, version, root):
    """The version's answer to a command a quarantined device may not
    run: 14.0+ Status 130 (AccessDenied) in the command's response,
    12.x HTTP 403."""
    if float(version) < 14.0:
        return r.status == 403
    return r.status == 200 and xtext(r, "%s/Status" % root) == "130"


def mailbox_count(dc, user, mailbox):
    out = dc.doveadm("mailbox", "status", "-u", user, "messages", mailbox)
    return int(out.split("=", 1)[1])


def quarantine_flow(dc, name, version):
    c, user, _, by_type, _ = setup_device(dc, name, version=version)
    inbox = by_type["2"]
    dc.doveadm("mailbox", "create", "-u", user, "Projects")
    dc.deliver(user, sample_message("second", to=user))
    r = c.request("FolderSync", '<FolderSync xmlns="FolderHierarchy:">'
                  '<SyncKey>1</SyncKey></FolderSync>')
    projects = {xtext(a, "DisplayName"): xtext(a, "ServerId")
                for a in xall(r, "Changes/Add")}["Projects"]
    first = sync(c, inbox, "0")
    assert first.status == "1"
    full = sync(c, inbox, first.key)
    assert full.adds, "no items in the Inbox"
    item = xtext(full.adds[0], "ServerId")
    key = full.key

    dc.activesync("device", "quarantine", "-u", user, c.device_id)
    mark = dc.log_offset()

    # refused: sending, searching, the hierarchy
    mime = b"To: bob@example.test\r\nSubject: q\r\n\r\nbody\r\n"
    if float(version) < 14.0:
        r = c.request("SendMail", body=mime,
                      headers={"Content-Type": "message/rfc822"},
                      extra_query={"SaveInSent": "T"})
    else:
        r = c.request("SendMail", compose_xml("SendMail", mime,
                                              client_id="q-" + name))
    assert refused(r, version, "ComposeMail:SendMail"), r
    if float(version) >= 14.0:
        for cmd in ("SmartReply", "SmartForward"):
            r = c.request(cmd, compose_xml(
                cmd, mime, client_id="q2-" + cmd,
                source={"FolderId": inbox, "ItemId": item}))
            assert refused(r, version, "ComposeMail:" + cmd), (cmd, r)
    r = c.request("Search", '<Search xmlns="Search:"><Store>'
                  '<Name>Mailbox</Name><Query><And><FreeText>second'
                  '</FreeText></And></Query></Store></Search>')
    assert refused(r, version, "Search"), r
    r = c.request("Search", '<Search xmlns="Search:"><Store><Name>GAL</Name>'
                  '<Query>a</Query><Options><Range>0-9</Range></Options>'
                  '</Store></Search>')
    assert refused(r, version, "Search"), r
    r = c.request("FolderCreate", '<FolderCreate xmlns="FolderHierarchy:">'
                  '<SyncKey>2</SyncKey><ParentId>0</ParentId>'
                  '<DisplayName>New</DisplayName><Type>12</Type>'
                  '</FolderCreate>')
    assert refused(r, version, "FolderCreate"), r
    r = c.request("FolderDelete", '<FolderDelete xmlns="FolderHierarchy:">'
                  '<SyncKey>2</SyncKey><ServerId>%s</ServerId>'
                  '</FolderDelete>' % projects)
    assert refused(r, version, "FolderDelete"), r
    assert "Projects" in dc.doveadm("mailbox", "list", "-u", user)
    log = dc.log_since(mark)
    assert "SendMail refused: device is quarantined" in log, log[-2000:]
    assert "Search refused: device is quarantined" in log, log[-2000:]

    # the other folders are out of reach: a move into one does nothing
    in_inbox = mailbox_count(dc, user, "INBOX")
    r = c.request("MoveItems", '<MoveItems xmlns="Move:"><Move>'
                  '<SrcMsgId>%s</SrcMsgId><SrcFldId>%s</SrcFldId>'
                  '<DstFldId>%s</DstFldId></Move></MoveItems>'
                  % (item, inbox, projects))
    assert r.status == 200 and xtext(r, "Response/Status") != "3", r
    assert mailbox_count(dc, user, "INBOX") == in_inbox
    assert mailbox_count(dc, user, "Projects") == 0
    if float(version) >= 14.0:
        r = c.request("ItemOperations", '<ItemOperations '
                      'xmlns="ItemOperations:" xmlns:airsync="AirSync:">'
                      '<EmptyFolderContents><airsync:CollectionId>%s'
                      '</airsync:CollectionId></EmptyFolderContents>'
                      '</ItemOperations>' % projects)
        assert xtext(r, "ItemOperations/Response/EmptyFolderContents/"
                     "Status") != "1", r

    # the default folders still sync (the notice arrives there)
    r = sync(c, inbox, key)
    assert r.status == "1", r.resp
    r = c.request("GetItemEstimate", '<GetItemEstimate '
                  'xmlns="GetItemEstimate:" xmlns:airsync="AirSync:">'
                  '<Collections><Collection><airsync:SyncKey>%s'
                  '</airsync:SyncKey><CollectionId>%s</CollectionId>'
                  '</Collection></Collections></GetItemEstimate>'
                  % (r.key, inbox))
    assert xtext(r, "Response/Status") == "1", r

    # released: everything works again
    dc.activesync("device", "allow", "-u", user, c.device_id)
    r = c.request("Search", '<Search xmlns="Search:"><Store>'
                  '<Name>Mailbox</Name><Query><And><FreeText>second'
                  '</FreeText></And></Query></Store></Search>')
    assert r.status == 200 and xtext(r, "Search/Status") == "1", r
    return c, user


def test_quarantine_refuses_all_but_the_default_folders_14_1(dc):
    quarantine_flow(dc, "qref141", "14.1")


def test_quarantine_refuses_all_but_the_default_folders_12_1(dc):
    quarantine_flow(dc, "qref121", "12.1")


def test_quarantine_refuses_sending_a_draft_16_1(dc):
    c, user, _, by_type, _ = setup_device(dc, "qdraft", version="16.1")
    drafts = by_type["3"]
    key = sync_all(c, drafts)
    dc.activesync("device", "quarantine", "-u", user, c.device_id)
    r = c.request("Sync", '<Sync xmlns="AirSync:" xmlns:email="Email:" '
                  'xmlns:email2="Email2:" xmlns:airsyncbase="AirSyncBase:">'
                  '<Collections><Collection><SyncKey>%s</SyncKey>'
                  '<CollectionId>%s</CollectionId><Commands><Add>'
                  '<ClientId>qd1</ClientId><ApplicationData>'
                  '<email:To>bob@example.test</email:To>'
                  '<email:Subject>quarantined draft</email:Subject>'
                  '<airsyncbase:Body><airsyncbase:Type>1</airsyncbase:Type>'
                  '<airsyncbase:Data>text</airsyncbase:Data>'
                  '</airsyncbase:Body><email2:Send/></ApplicationData>'
                  '</Add></Commands></Collection></Collections></Sync>'
                  % (key, drafts))
    assert r.status == 200, r
    assert xtext(r, "Collections/Collection/Responses/Add/Status") == "6", r
    # kept as a draft, not sent
    assert mailbox_count(dc, user, "Drafts") == 1
    assert "quarantined draft" not in dc.doveadm(
        "fetch", "-u", user, "hdr.subject", "mailbox", "Sent")


def test_one_quarantine_notice_across_reconnects(dc):
    td.clear_rules(dc)
    try:
        user = "qonce@example.test"
        dc.add_user(user, "pw-qonce")
        td.rule_add(dc, "user", user, "quarantine")
        device_id = "QOnceDevice1"
        # each request on a new connection, as a phone reconnecting
        for _ in range(4):
            c = dc.eas_client(user, device_id=device_id)
            td.provision(c)
            assert xrequire(c.foldersync(), "FolderSync/Status") == "1"
        subjects = td.inbox_subjects(dc, user)
        assert subjects.count(
            "Your mobile device is waiting for approval") == 1, subjects
        # allowed, then quarantined again: a new quarantine, a new notice
        dc.activesync("device", "allow", "-u", user, device_id)
        assert xrequire(c.foldersync(), "FolderSync/Status") == "1"
        dc.activesync("device", "quarantine", "-u", user, device_id)
        for _ in range(3):
            c = dc.eas_client(user, device_id=device_id,
                              policy_key=c.policy_key)
            assert xrequire(c.foldersync(), "FolderSync/Status") == "1"
        subjects = td.inbox_subjects(dc, user)
        assert subjects.count(
            "Your mobile device is waiting for approval") == 2, subjects
    finally:
        td.clear_rules(dc)


def test_blocked_device_provision_each_version(dc):
    """MS-ASCMD 2.2.2: Status 129 (DeviceIsBlockedForThisUser) from 14.0
    on, in Provision's own Status; HTTP 403 before (MS-ASHTTP
    2.2.2.1.1), for a device blocked before it ever provisioned and for
    one blocked after."""
    for version in ("12.0", "12.1", "14.0", "14.1", "16.0", "16.1"):
        tag = version.replace(".", "")
        c = td.new_client(dc, "blkprov" + tag, version=version)
        # known to the server (a first request), then blocked
        c.options()
        r = c.request("Provision", PROVISION1)
        assert r.status == 200, r
        dc.activesync("device", "block", "-u", c.user, c.device_id)
        c.policy_key = None
        r = c.request("Provision", PROVISION1)
        if float(version) < 14.0:
            assert r.status == 403, (version, r)
        else:
            assert r.status == 200, (version, r)
            assert xrequire(r, "Provision/Status") == "129", (version, r)
        td.assert_blocked(c)
        # allowed again: it provisions
        dc.activesync("device", "allow", "-u", c.user, c.device_id)
        td.provision(c)
        assert c.foldersync().status == 200


def test_rules_are_evaluated_on_every_request(dc):
    """A device whose state comes from a rule follows the rules as they
    are now: a block rule added after it was allowed by the default
    blocks it at its next request, removing the rule lets it in again.
    A device the admin allowed keeps that whatever the rules say."""
    td.clear_rules(dc)
    try:
        c = td.new_client(dc, "ruletime", device_type="TimingPhone")
        admin = td.new_client(dc, "ruletime2", device_type="TimingPhone")
        td.provision(c)
        td.provision(admin)
        assert td.device_of(dc, c)["state"] == "allow"
        dc.activesync("device", "allow", "-u", admin.user, admin.device_id)

        rule = td.rule_add(dc, "type", "timingphone", "block")
        td.assert_blocked(c)
        assert td.device_of(dc, c)["state"] == "block"
        # the admin's decision stands
        assert xrequire(admin.foldersync(), "FolderSync/Status") == "1"

        dc.activesync("rule", "disable", rule)
        assert xrequire(c.foldersync(), "FolderSync/Status") == "1"
        dc.activesync("rule", "enable", rule)
        td.assert_blocked(c)
        dc.activesync("rule", "remove", rule)
        assert xrequire(c.foldersync(), "FolderSync/Status") == "1"
        assert td.device_of(dc, c)["state"] == "allow"

        # a quarantine rule: the device's other folders go, and come
        # back with the rule
        dc.doveadm("mailbox", "create", "-u", c.user, "Later")
        rule = td.rule_add(dc, "type", "timingphone", "quarantine")
        assert "Later" not in td.folder_names(c.foldersync())
        dc.activesync("rule", "remove", rule)
        assert "Later" in td.folder_names(c.foldersync())
    finally:
        td.clear_rules(dc)
