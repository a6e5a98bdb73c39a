"""Sync: drafts created, edited and deleted by 16.x devices (MS-ASEMAIL
16.0 drafts, MS-ASCMD Sync Add/Change/Delete in the Drafts folder)."""

import email
import email.header

from harness import body_pref, folders, imap_session, new_account, start, \
    sync, uid_of, xall, xfind, xtext

INSTANCE = dict(activesync=True)

T_DRAFTS = 3


def draft_data(to=None, cc=None, subject=None, body=None, btype=1,
               importance=None):
    x = ""
    if to is not None:
        x += "<email:To>%s</email:To>" % to
    if cc is not None:
        x += "<email:Cc>%s</email:Cc>" % cc
    if subject is not None:
        x += "<email:Subject>%s</email:Subject>" % subject
    if importance is not None:
        x += "<email:Importance>%d</email:Importance>" % importance
    if body is not None:
        x += ("<airsyncbase:Body><airsyncbase:Type>%d</airsyncbase:Type>"
              "<airsyncbase:Data>%s</airsyncbase:Data></airsyncbase:Body>"
              % (btype, body))
    return "<ApplicationData>%s</ApplicationData>" % x


def drafts_over_imap(dc, c):
    """[(uid, flags, message)] of the Drafts folder"""
    imap = imap_session(dc, c, "Drafts")
    try:
        typ, data = imap.uid("FETCH", "1:*", "(FLAGS BODY.PEEK[])")
        assert typ == "OK", data
        out = []
        for d in data:
            if not isinstance(d, tuple):
                continue
            meta = d[0].decode()
            uid = int(meta.split("UID ")[1].split()[0])
            flags = meta.split("FLAGS (")[1].split(")")[0]
            out.append((uid, flags, email.message_from_bytes(d[1])))
        return out
    finally:
        imap.logout()


def header(msg, name):
    return str(email.header.make_header(email.header.decode_header(
        msg[name])))


def test_draft_add_change_delete_16_1(dc):
    c = new_account(dc, "drafts", version="16.1")
    drafts = folders(c)[T_DRAFTS]
    r = start(c, drafts, options=body_pref(1))
    assert not r.adds, r.resp

    add = ("<Add><ClientId>cl-1</ClientId>%s</Add>" % draft_data(
        to='"B\u00f6b" &lt;bob@example.test&gt;, carol@example.test',
        cc="dave@example.test", subject="Entwurf \u00fcber Pl\u00e4ne",
        body="Erste Zeile\nzweite Zeile \u20ac", importance=2))
    key = r.key
    r = sync(c, drafts, key, commands=add).ok()
    resp = xfind(r.coll, "Responses/Add")
    assert resp is not None and xtext(resp, "ClientId") == "cl-1", r.resp
    assert xtext(resp, "Status") == "1", r.resp
    sid = xtext(resp, "ServerId")
    assert sid.startswith(drafts + ":"), sid
    # the device has it already: no echo
    assert not r.adds, r.resp

    msgs = drafts_over_imap(dc, c)
    assert len(msgs) == 1, msgs
    uid, flags, msg = msgs[0]
    assert uid == uid_of(sid)
    assert "\\Draft" in flags, flags
    assert header(msg, "Subject") == "Entwurf \u00fcber Pl\u00e4ne"
    assert "bob@example.test" in msg["To"] and \
        "carol@example.test" in msg["To"], msg["To"]
    assert "B\u00f6b" in header(msg, "To"), msg["To"]
    assert msg["Cc"] == "<dave@example.test>", msg["Cc"]
    assert msg["Importance"] == "high"
    text = msg.get_payload(decode=True).decode("utf-8")
    assert text.startswith("Erste Zeile") and "\u20ac" in text, text

    # the request is repeated (response lost): same draft, same id
    again = sync(c, drafts, key, commands=add).ok()
    resp = xfind(again.coll, "Responses/Add")
    assert xtext(resp, "ServerId") == sid, again.resp
    assert len(drafts_over_imap(dc, c)) == 1

    # a new device sees it with IsDraft
    c2 = dc.eas_client(c.user, c.password, device_id=c.device_id + "X",
                       device_type="E2ETest", version="16.1")
    r2 = start(c2, folders(c2)[T_DRAFTS], options=body_pref(1))
    assert xtext(r2.adds[0], "ApplicationData/Email2:IsDraft") == "1", \
        r2.resp

    # the device edits subject and text: the old id goes, a new one comes
    r = sync(c, drafts, again.key, commands=(
        "<Change><ServerId>%s</ServerId>%s</Change>" % (
            sid, draft_data(subject="Plan B", body="&lt;p&gt;neu&lt;/p&gt;",
                            btype=2)))).ok()
    assert r.deletes == [sid], r.resp
    assert len(r.adds) == 1, r.resp
    new_sid = xtext(r.adds[0], "ServerId")
    assert new_sid != sid
    assert xtext(r.adds[0], "ApplicationData/Email:Subject") == "Plan B"
    assert xtext(r.adds[0], "ApplicationData/Email2:IsDraft") == "1"
    msgs = drafts_over_imap(dc, c)
    assert len(msgs) == 1, msgs
    uid, flags, msg = msgs[0]
    assert uid == uid_of(new_sid) and "\\Draft" in flags, msgs
    assert header(msg, "Subject") == "Plan B"
    # what the device didn't send is kept
    assert "carol@example.test" in msg["To"], msg["To"]
    assert msg["Importance"] == "high"
    assert msg.get_content_type() == "text/html"

    # flags only: no new version
    r = sync(c, drafts, r.key, commands=(
        "<Change><ServerId>%s</ServerId><ApplicationData>"
        "<email:Read>0</email:Read></ApplicationData></Change>" % new_sid)
             ).ok()
    assert not r.deletes and not r.adds, r.resp
    msgs = drafts_over_imap(dc, c)
    assert [m[0] for m in msgs] == [uid_of(new_sid)]
    assert "\\Seen" not in msgs[0][1]

    # deleted by the device
    r = sync(c, drafts, r.key, deletes_as_moves=0, commands=(
        "<Delete><ServerId>%s</ServerId></Delete>" % new_sid)).ok()
    assert drafts_over_imap(dc, c) == []


def test_draft_add_refused_before_16(dc):
    c = new_account(dc, "drafts14", version="14.1")
    drafts = folders(c)[T_DRAFTS]
    r = start(c, drafts)
    r = sync(c, drafts, r.key, commands=(
        "<Add><ClientId>x1</ClientId>%s</Add>" % draft_data(
            subject="no"))).ok()
    assert xtext(xfind(r.coll, "Responses/Add"), "Status") == "6", r.resp
    assert drafts_over_imap(dc, c) == []
