"""Meeting invitations by mail (iMIP, RFC 6047) and MeetingResponse
(MS-ASCMD 2.2.1.11).

An organizer elsewhere invites the user: the invitation arrives by LMTP
as a mail with a text/calendar part (METHOD:REQUEST).  The device sees it
in the Inbox as an Email with MeetingRequest data and, after that Inbox
Sync, the event in its calendar, tentative.  MeetingResponse answers it:
the calendar event (read back over IMAP with python3-icalendar, an
independent reader) carries the user's PARTSTAT, and from 16.0 the server
sends the iMIP REPLY (SendResponse) to the organizer through Dovecot's
submission_host, here a test SMTP sink.  14.x devices send that reply
with SendMail themselves (the spec's split), so the server must not."""

import base64
import email
import re
import time
from email import policy

import icalendar

from harness import body_pref, compose_xml, folders, imap_session, imap_subjects, \
    new_account, SmtpSink, start, sync, xfind, xml_escape, xtext

SINK = SmtpSink()

INSTANCE = dict(
    activesync=True,
    extra_conf="submission_host = 127.0.0.1:%d\nsubmission_timeout = 20s"
    % SINK.port)

ORGANIZER = "olga@example.org"
CAL_XMLNS = 'xmlns:calendar="Calendar:"'


def invitation(user, uid, method="REQUEST", seq=0, summary="Budget review",
               rrule=None):
    """An invitation as other calendar servers mail it: a text part and
    the VCALENDAR in a multipart/alternative"""
    ical = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Elsewhere//Cal//EN\r\n"
        "METHOD:%s\r\nBEGIN:VEVENT\r\nUID:%s\r\nSEQUENCE:%d\r\n"
        "DTSTAMP:20260601T080000Z\r\n"
        "DTSTART:20260610T090000Z\r\nDTEND:20260610T100000Z\r\n"
        "%sSUMMARY:%s\r\nLOCATION:Room 7\r\n"
        "ORGANIZER;CN=Olga Organizer:mailto:%s\r\n"
        "ATTENDEE;CN=Olga Organizer;PARTSTAT=ACCEPTED:mailto:%s\r\n"
        "ATTENDEE;CN=The User;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;"
        "RSVP=TRUE:mailto:%s\r\n"
        "%sEND:VEVENT\r\nEND:VCALENDAR\r\n") % (
            method, uid, seq, "RRULE:%s\r\n" % rrule if rrule else "",
            summary, ORGANIZER, ORGANIZER, user,
            "STATUS:CANCELLED\r\n" if method == "CANCEL" else "")
    subject = ("Cancelled: " if method == "CANCEL" else "Invitation: ") + \
        summary
    return subject, (
        "From: Olga Organizer <%s>\r\nTo: <%s>\r\nSubject: %s\r\n"
        "Date: Mon, 01 Jun 2026 08:00:00 +0000\r\n"
        "Message-ID: <%s.%s.%d@example.org>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/alternative; boundary="alt"\r\n\r\n'
        "--alt\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        "You are invited.\r\n"
        "--alt\r\nContent-Type: text/calendar; charset=utf-8; method=%s\r\n"
        "\r\n%s\r\n--alt--\r\n" % (ORGANIZER, user, subject, uid, method,
                                   seq, method, ical)).encode()


def setup(dc, tag, version):
    SINK.start()
    SINK.mode = "accept"
    c = new_account(dc, tag, version=version)
    f = folders(c)
    return c, f[2], f[8]


def inbox_sync(c, inbox, key):
    if key is None:
        r = start(c, inbox, options=body_pref(1))
    else:
        r = sync(c, inbox, key, options=body_pref(1)).ok()
    return r


def cal_sync(c, cal, key):
    if key is None:
        r = sync(c, cal, "0", cls="Calendar", xmlns=CAL_XMLNS).ok()
        key = r.key
    return sync(c, cal, key, cls="Calendar", xmlns=CAL_XMLNS,
                options=body_pref(1)).ok()


def events_with_uid(items, uid):
    return [a for a in items
            if xtext(a, "ApplicationData/Calendar:UID") == uid]


def imap_calendar(dc, c):
    """[(IMAP UID, master VEVENT, all VEVENTs)] of the calendar folder"""
    imap = imap_session(dc, c, "Calendar")
    try:
        typ, data = imap.uid("FETCH", "1:*", "(UID BODY.PEEK[])")
        assert typ == "OK", data
    finally:
        imap.logout()
    out = []
    for d in data:
        if not isinstance(d, tuple):
            continue
        uid = int(re.search(rb"UID (\d+)", d[0]).group(1))
        msg = email.message_from_bytes(d[1], policy=policy.default)
        for part in msg.walk():
            if part.get_content_type() != "text/calendar":
                continue
            cal = icalendar.Calendar.from_ical(part.get_payload(decode=True))
            events = cal.walk("VEVENT")
            master = [e for e in events if "RECURRENCE-ID" not in e][0]
            out.append((uid, master, events))
    return out


def imap_events(dc, c, item_uid):
    return [e for e in imap_calendar(dc, c) if str(e[1]["UID"]) == item_uid]


def partstat(vevent, addr):
    atts = vevent.get("ATTENDEE", [])
    if not isinstance(atts, list):
        atts = [atts]
    for a in atts:
        if str(a).lower() == "mailto:" + addr.lower():
            return str(a.params.get("PARTSTAT"))
    return None


def meeting_response(c, response, request_id, collection_id=None,
                     instance_id=None, send_response=None):
    x = ('<MeetingResponse xmlns="MeetingResponse:" '
         'xmlns:airsyncbase="AirSyncBase:"><Request>'
         '<UserResponse>%s</UserResponse>' % response)
    if collection_id is not None:
        x += "<CollectionId>%s</CollectionId>" % xml_escape(collection_id)
    x += "<RequestId>%s</RequestId>" % xml_escape(request_id)
    if instance_id is not None:
        x += "<InstanceId>%s</InstanceId>" % instance_id
    if send_response is not None:
        x += "<SendResponse>"
        if send_response:
            x += ("<airsyncbase:Body><airsyncbase:Type>1</airsyncbase:Type>"
                  "<airsyncbase:Data>%s</airsyncbase:Data>"
                  "</airsyncbase:Body>" % xml_escape(send_response))
        x += "</SendResponse>"
    r = c.request_provisioned("MeetingResponse",
                              x + "</Request></MeetingResponse>")
    assert r.status == 200, r
    result = xfind(r, "Result")
    assert result is not None, r
    return xtext(result, "Status"), xtext(result, "CalendarId"), r


def sink_calendars(since, method):
    """(message, VCALENDAR) of the iMIP mails the sink got after since"""
    out = []
    for m in SINK.messages[since:]:
        msg = email.message_from_bytes(m["data"], policy=policy.default)
        for part in msg.walk():
            if part.get_content_type() == "text/calendar" and \
                    part.get_param("method") == method:
                out.append((m, msg, icalendar.Calendar.from_ical(
                    part.get_payload(decode=True))))
    return out


def wait_sink(since, method, count=1, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        got = sink_calendars(since, method)
        if len(got) >= count:
            return got
        time.sleep(0.1)
    return sink_calendars(since, method)


def check_meeting_request(add, uid, version):
    app = "ApplicationData/"
    assert xtext(add, app + "Email:MessageClass") == \
        "IPM.Schedule.Meeting.Request", add
    assert xtext(add, app + "Email:ContentClass") == \
        "urn:content-classes:calendarmessage"
    mr = app + "Email:MeetingRequest/"
    assert xtext(add, mr + "Email:StartTime") == "2026-06-10T09:00:00.000Z"
    assert xtext(add, mr + "Email:EndTime") == "2026-06-10T10:00:00.000Z"
    assert xtext(add, mr + "Email:AllDayEvent") == "0"
    assert xtext(add, mr + "Email:InstanceType") == "0"
    assert ORGANIZER in xtext(add, mr + "Email:Organizer")
    assert xtext(add, mr + "Email:ResponseRequested") == "1"
    if version >= "16.0":
        assert xtext(add, mr + "AirSyncBase:Location/"
                     "AirSyncBase:DisplayName") == "Room 7"
    else:
        assert xtext(add, mr + "Email:Location") == "Room 7"
    assert xtext(add, mr + "Email2:MeetingMessageType") == "1"
    blob = base64.b64decode(xtext(add, mr + "Email:GlobalObjId"))
    assert blob[:16] == bytes.fromhex("040000008200E00074C5B7101A82E008")
    assert blob[40:52] == b"vCal-Uid\x01\x00\x00\x00"
    assert blob[52:] == uid.encode() + b"\0"
    assert int.from_bytes(blob[36:40], "little") == len(blob) - 40
    assert len(base64.b64decode(xtext(add, mr + "Email:TimeZone"))) == 172


def invited(dc, tag, version):
    """A user invited, the invitation synced from the Inbox and the
    tentative event from the calendar: (c, inbox, cal, uid, request
    ServerId, inbox key, calendar key, event ServerId)"""
    c, inbox, cal = setup(dc, tag, version)
    uid = "inv-%s-%s@example.org" % (tag, c.user.split("@")[0])
    subject, msg = invitation(c.user, uid)
    dc.deliver(c.user, msg, sender=ORGANIZER)
    r = inbox_sync(c, inbox, None)
    add = r.add_by_subject(subject)
    check_meeting_request(add, uid, version)
    request_id = xtext(add, "ServerId")

    rc = cal_sync(c, cal, None)
    ev = events_with_uid(rc.adds, uid)
    assert len(ev) == 1, rc.resp
    app = "ApplicationData/Calendar:"
    assert xtext(ev[0], app + "BusyStatus") == "1"
    assert xtext(ev[0], app + "MeetingStatus") == "3"
    assert xtext(ev[0], app + "Organizer_Email") == ORGANIZER
    assert xtext(ev[0], app + "ResponseType") == "5"
    events = imap_events(dc, c, uid)
    assert len(events) == 1
    assert partstat(events[0][1], c.user) == "NEEDS-ACTION"
    assert "METHOD" not in str(events[0][1])
    return c, inbox, cal, uid, request_id, r.key, rc.key, \
        xtext(ev[0], "ServerId")


def accept_flow(dc, tag, version):
    c, inbox, cal, uid, request_id, ikey, ckey, event_id = \
        invited(dc, tag, version)
    since = len(SINK.messages)
    status, calendar_id, r = meeting_response(
        c, 1, request_id, inbox,
        send_response="See you there." if version >= "16.0" else None)
    assert status == "1", r
    # the event's id on this device (it synced the calendar already)
    assert calendar_id == event_id, (calendar_id, event_id)

    events = imap_events(dc, c, uid)
    assert len(events) == 1, events
    assert partstat(events[0][1], c.user) == "ACCEPTED"
    assert str(events[0][1]["X-MICROSOFT-CDO-BUSYSTATUS"]) == "BUSY"

    if version >= "16.0":
        replies = wait_sink(since, "REPLY")
        assert len(replies) == 1, SINK.messages[since:]
        m, msg, ical = replies[0]
        assert ical["METHOD"] == "REPLY"
        vevents = ical.walk("VEVENT")
        assert len(vevents) == 1
        ve = vevents[0]
        assert str(ve["UID"]) == uid
        assert int(ve.get("SEQUENCE", 0)) == 0
        atts = ve["ATTENDEE"]
        assert not isinstance(atts, list), atts
        assert str(atts).lower() == "mailto:" + c.user.lower()
        assert str(atts.params["PARTSTAT"]) == "ACCEPTED"
        assert str(ve["ORGANIZER"]).lower() == "mailto:" + ORGANIZER
        assert any(ORGANIZER in r for r in m["rcpts"]), m
        assert msg["Subject"].startswith("Accepted:")
        assert "See you there." in msg.get_body(("plain",)).get_content()
        assert "Accepted: Budget review" in imap_subjects(dc, c, "Sent")
    else:
        # 14.x devices answer with SendMail themselves: the server sends
        # nothing, the device's own iMIP reply goes out as it is
        time.sleep(1)
        assert sink_calendars(since, "REPLY") == []
        reply = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//dev//EN\r\n"
                 "METHOD:REPLY\r\nBEGIN:VEVENT\r\nUID:%s\r\nSEQUENCE:0\r\n"
                 "DTSTAMP:20260101T000000Z\r\n"
                 "ORGANIZER:mailto:%s\r\n"
                 "ATTENDEE;PARTSTAT=ACCEPTED:mailto:%s\r\n"
                 "END:VEVENT\r\nEND:VCALENDAR\r\n" % (uid, ORGANIZER,
                                                      c.user))
        mime = ("From: <%s>\r\nTo: <%s>\r\nSubject: Accepted: Budget review"
                "\r\nMIME-Version: 1.0\r\nContent-Type: text/calendar; "
                "method=REPLY; charset=utf-8\r\n\r\n%s" % (
                    c.user, ORGANIZER, reply)).encode()
        r = c.request("SendMail", compose_xml("SendMail", mime,
                                              client_id="reply-" + uid))
        assert r.status == 200 and r.body == b"", (r, r.body[:200])
        replies = wait_sink(since, "REPLY")
        assert len(replies) == 1, SINK.messages[since:]
        m, msg, ical = replies[0]
        ve = ical.walk("VEVENT")[0]
        assert str(ve["UID"]) == uid
        assert str(ve["ATTENDEE"].params["PARTSTAT"]) == "ACCEPTED"
        assert any(ORGANIZER in r for r in m["rcpts"]), m

    # the next calendar Sync: the accepted event is the one the device
    # has (a Change), never a second item with the UID
    rc = cal_sync(c, cal, ckey)
    assert events_with_uid(rc.adds, uid) == [], rc.resp
    changed = events_with_uid(rc.changes, uid)
    assert len(changed) == 1, rc.resp
    assert xtext(changed[0], "ServerId") == event_id
    assert xtext(changed[0], "ApplicationData/Calendar:BusyStatus") == "2"
    assert xtext(changed[0], "ApplicationData/Calendar:ResponseType") == "3"

    # the same invitation seen again (another device's Inbox Sync, or
    # the Inbox resynced) and a crossing update of the organizer: still
    # one event with the UID
    subject, msg = invitation(c.user, uid, seq=1, summary="Budget review v2")
    dc.deliver(c.user, msg, sender=ORGANIZER)
    r = inbox_sync(c, inbox, ikey)
    assert r.add_by_subject(subject) is not None
    events = imap_events(dc, c, uid)
    assert len(events) == 1, events
    assert str(events[0][1]["SUMMARY"]) == "Budget review v2"
    rc = cal_sync(c, cal, rc.key)
    assert events_with_uid(rc.adds, uid) == [], rc.resp
    dc.check_log()


def test_meeting_accept_14(dc):
    accept_flow(dc, "acc14", "14.1")


def test_meeting_accept_16(dc):
    accept_flow(dc, "acc16", "16.1")


def decline_flow(dc, tag, version):
    c, inbox, cal, uid, request_id, ikey, ckey, event_id = \
        invited(dc, tag, version)
    since = len(SINK.messages)
    status, calendar_id, r = meeting_response(
        c, 3, request_id, inbox,
        send_response="" if version >= "16.0" else None)
    assert status == "1", r
    # declined: no CalendarId, and the meeting leaves the calendar
    assert calendar_id is None, r
    assert imap_events(dc, c, uid) == []
    rc = cal_sync(c, cal, ckey)
    assert rc.deletes == [event_id], rc.resp
    if version >= "16.0":
        replies = wait_sink(since, "REPLY")
        assert len(replies) == 1
        ve = replies[0][2].walk("VEVENT")[0]
        assert str(ve["ATTENDEE"].params["PARTSTAT"]) == "DECLINED"
    # the Inbox resynced from scratch does not bring it back
    inbox_sync(c, inbox, None)
    assert imap_events(dc, c, uid) == []
    dc.check_log()


def test_meeting_decline_14(dc):
    decline_flow(dc, "dec14", "14.1")


def test_meeting_decline_16(dc):
    decline_flow(dc, "dec16", "16.1")


def test_meeting_tentative_from_calendar_16(dc):
    """the answer given on the calendar item itself"""
    c, inbox, cal, uid, request_id, ikey, ckey, event_id = \
        invited(dc, "tent16", "16.1")
    since = len(SINK.messages)
    status, calendar_id, r = meeting_response(c, 2, event_id, cal,
                                              send_response="")
    assert status == "1", r
    assert calendar_id is not None
    events = imap_events(dc, c, uid)
    assert len(events) == 1
    assert partstat(events[0][1], c.user) == "TENTATIVE"
    replies = wait_sink(since, "REPLY")
    assert len(replies) == 1
    assert str(replies[0][2].walk("VEVENT")[0]["ATTENDEE"]
               .params["PARTSTAT"]) == "TENTATIVE"
    dc.check_log()


def test_meeting_instance_16(dc):
    """one occurrence of a weekly meeting accepted by InstanceId"""
    c, inbox, cal = setup(dc, "inst16", "16.1")
    uid = "weekly-inst16-%s@example.org" % c.user.split("@")[0]
    subject, msg = invitation(c.user, uid, summary="Weekly sync",
                              rrule="FREQ=WEEKLY;COUNT=4")
    dc.deliver(c.user, msg, sender=ORGANIZER)
    r = inbox_sync(c, inbox, None)
    ikey = r.key
    add = r.add_by_subject(subject)
    assert xtext(add, "ApplicationData/Email:MeetingRequest/"
                 "Email:InstanceType") == "1"
    assert xtext(add, "ApplicationData/Email:MeetingRequest/"
                 "Email:Recurrences/Email:Recurrence/Email:Recurrence_Type") == "1"
    rc = cal_sync(c, cal, None)
    ev = events_with_uid(rc.adds, uid)
    assert len(ev) == 1, rc.resp
    event_id = xtext(ev[0], "ServerId")

    # InstanceId on the invitation mail is refused (MS-ASCMD Status 2)
    status, _, r = meeting_response(c, 1, xtext(add, "ServerId"), inbox,
                                    instance_id="2026-06-17T09:00:00.000Z")
    assert status == "2", r

    since = len(SINK.messages)
    status, calendar_id, r = meeting_response(
        c, 1, event_id, cal, instance_id="2026-06-17T09:00:00.000Z",
        send_response="")
    assert status == "1", r
    replies = wait_sink(since, "REPLY")
    assert len(replies) == 1
    ve = replies[0][2].walk("VEVENT")[0]
    assert ve["RECURRENCE-ID"].dt.isoformat() == "2026-06-17T09:00:00+00:00"
    assert "RRULE" not in ve
    assert str(ve["ATTENDEE"].params["PARTSTAT"]) == "ACCEPTED"

    events = imap_events(dc, c, uid)
    assert len(events) == 1
    _, master, vevents = events[0]
    overrides = [e for e in vevents if "RECURRENCE-ID" in e]
    assert len(overrides) == 1
    assert partstat(overrides[0], c.user) == "ACCEPTED"
    assert partstat(master, c.user) == "NEEDS-ACTION"
    rc = cal_sync(c, cal, rc.key)
    assert events_with_uid(rc.adds, uid) == []

    # the organizer moves another occurrence: an invitation to that one
    # occurrence, merged into the series (still one event)
    ical = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Elsewhere//EN\r\n"
            "METHOD:REQUEST\r\nBEGIN:VEVENT\r\nUID:%s\r\nSEQUENCE:1\r\n"
            "DTSTAMP:20260602T080000Z\r\n"
            "RECURRENCE-ID:20260624T090000Z\r\n"
            "DTSTART:20260624T150000Z\r\nDTEND:20260624T160000Z\r\n"
            "SUMMARY:Weekly sync (moved)\r\n"
            "ORGANIZER:mailto:%s\r\n"
            "ATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:%s\r\n"
            "END:VEVENT\r\nEND:VCALENDAR\r\n") % (uid, ORGANIZER, c.user)
    dc.deliver(c.user, (
        "From: <%s>\r\nTo: <%s>\r\nSubject: Moved: Weekly sync\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/calendar; "
        "charset=utf-8; method=REQUEST\r\n\r\n%s" % (
            ORGANIZER, c.user, ical)).encode(), sender=ORGANIZER)
    r = inbox_sync(c, inbox, ikey)
    moved = r.add_by_subject("Moved: Weekly sync")
    mr = "ApplicationData/Email:MeetingRequest/"
    assert xtext(moved, mr + "Email:InstanceType") == "3"
    assert xtext(moved, mr + "Email:RecurrenceId") == \
        "2026-06-24T09:00:00.000Z"
    events = imap_events(dc, c, uid)
    assert len(events) == 1, events
    overrides = {e["RECURRENCE-ID"].dt.isoformat(): e
                 for e in events[0][2] if "RECURRENCE-ID" in e}
    assert set(overrides) == {"2026-06-17T09:00:00+00:00",
                              "2026-06-24T09:00:00+00:00"}, overrides
    assert str(overrides["2026-06-24T09:00:00+00:00"]["SUMMARY"]) == \
        "Weekly sync (moved)"
    rc = cal_sync(c, cal, rc.key)
    assert events_with_uid(rc.adds, uid) == []
    dc.check_log()


def test_meeting_cancel(dc):
    for version in ("14.1", "16.1"):
        tag = "can" + version.replace(".", "")
        c, inbox, cal, uid, request_id, ikey, ckey, event_id = \
            invited(dc, tag, version)
        subject, msg = invitation(c.user, uid, method="CANCEL", seq=1)
        dc.deliver(c.user, msg, sender=ORGANIZER)
        r = inbox_sync(c, inbox, ikey)
        add = r.add_by_subject(subject)
        assert xtext(add, "ApplicationData/Email:MessageClass") == \
            "IPM.Schedule.Meeting.Canceled"
        events = imap_events(dc, c, uid)
        assert len(events) == 1
        assert str(events[0][1]["STATUS"]) == "CANCELLED"
        rc = cal_sync(c, cal, ckey)
        changed = events_with_uid(rc.changes, uid)
        assert len(changed) == 1, rc.resp
        assert xtext(changed[0],
                     "ApplicationData/Calendar:MeetingStatus") == "7"
        # a cancelled meeting can't be answered from its mail
        status, _, r = meeting_response(c, 1, xtext(add, "ServerId"), inbox)
        assert status == "2", r
    dc.check_log()


def test_meeting_bad_requests(dc):
    c, inbox, cal, uid, request_id, ikey, ckey, event_id = \
        invited(dc, "bad16", "16.1")
    before = [(u, m.to_ical()) for u, m, _ in imap_calendar(dc, c)]
    since = len(SINK.messages)
    # unknown RequestId
    status, calendar_id, r = meeting_response(c, 1, inbox + ":99999", inbox)
    assert status == "2" and calendar_id is None, r
    # unknown folder
    status, _, r = meeting_response(c, 1, "nosuch:1", "nosuch")
    assert status == "2", r
    # an invalid UserResponse
    status, _, r = meeting_response(c, 7, request_id, inbox)
    assert status == "2", r
    # a plain mail is no meeting request
    dc.deliver(c.user, b"From: <x@example.org>\r\nSubject: plain\r\n\r\n"
               b"Just text.\r\n")
    r = inbox_sync(c, inbox, ikey)
    ikey = r.key
    plain = r.add_by_subject("plain")
    assert xtext(plain, "ApplicationData/Email:MessageClass") == "IPM.Note"
    assert xfind(plain, "ApplicationData/Email:MeetingRequest") is None
    status, _, r = meeting_response(c, 1, xtext(plain, "ServerId"), inbox)
    assert status == "2", r
    # a broken invitation is plain mail, logged, and places nothing
    dc.deliver(c.user, (
        "From: <%s>\r\nTo: <%s>\r\nSubject: broken invite\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/calendar; "
        "method=REQUEST\r\n\r\nBEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\n"
        "BEGIN:VEVENT\r\nSUMMARY:no uid, no start\r\nEND:VEVENT\r\n"
        "END:VCALENDAR\r\n" % (ORGANIZER, c.user)).encode())
    r = inbox_sync(c, inbox, ikey)
    broken = r.add_by_subject("broken invite")
    assert xtext(broken, "ApplicationData/Email:MessageClass") == "IPM.Note"
    status, _, resp = meeting_response(c, 1, xtext(broken, "ServerId"),
                                       inbox)
    assert status == "2", resp
    # nothing changed, nothing sent
    assert [(u, m.to_ical()) for u, m, _ in imap_calendar(dc, c)] == before
    time.sleep(0.5)
    assert SINK.messages[since:] == []
    log = dc.log()
    assert "MeetingResponse: Status 2: unknown item" in log
    assert "is no meeting request" in log
    assert "invitation not read: VEVENT without UID" in log
    dc.check_log()


def device_meeting_add(version, client_id, subject):
    loc = ("<airsyncbase:Location><airsyncbase:DisplayName>Room 9"
           "</airsyncbase:DisplayName></airsyncbase:Location>"
           if version >= "16.0" else
           "<calendar:Location>Room 9</calendar:Location>")
    return (
        "<Add><ClientId>%s</ClientId><ApplicationData>"
        "<calendar:TimeZone>%s</calendar:TimeZone>"
        "<calendar:AllDayEvent>0</calendar:AllDayEvent>"
        "<calendar:BusyStatus>2</calendar:BusyStatus>"
        "<calendar:StartTime>20260701T120000Z</calendar:StartTime>"
        "<calendar:EndTime>20260701T130000Z</calendar:EndTime>"
        "<calendar:Subject>%s</calendar:Subject>%s"
        "<calendar:Attendees><calendar:Attendee>"
        "<calendar:Attendee_Email>ann@example.org</calendar:Attendee_Email>"
        "<calendar:Attendee_Name>Ann</calendar:Attendee_Name>"
        "<calendar:Attendee_Type>1</calendar:Attendee_Type>"
        "</calendar:Attendee><calendar:Attendee>"
        "<calendar:Attendee_Email>ben@example.net</calendar:Attendee_Email>"
        "<calendar:Attendee_Name>Ben</calendar:Attendee_Name>"
        "<calendar:Attendee_Type>2</calendar:Attendee_Type>"
        "</calendar:Attendee></calendar:Attendees>"
        "<calendar:MeetingStatus>1</calendar:MeetingStatus>"
        "</ApplicationData></Add>" % (
            client_id, base64.b64encode(b"\0" * 172).decode(), subject,
            loc))


def device_meeting_flow(dc, tag, version):
    c, inbox, cal = setup(dc, tag, version)
    rc = cal_sync(c, cal, None)
    since = len(SINK.messages)
    r = sync(c, cal, rc.key, cls="Calendar", xmlns=CAL_XMLNS,
             options=body_pref(1),
             commands=device_meeting_add(version, "m1", "Kickoff")).ok()
    add = xfind(r.responses, "Add")
    assert xtext(add, "Status") == "1", r.resp
    server_id = xtext(add, "ServerId")

    requests = wait_sink(since, "REQUEST")
    assert len(requests) == 1, SINK.messages[since:]
    m, msg, ical = requests[0]
    assert sorted(x.strip("<>") for x in m["rcpts"]) == \
        ["ann@example.org", "ben@example.net"], m["rcpts"]
    assert ical["METHOD"] == "REQUEST"
    ve = ical.walk("VEVENT")[0]
    assert str(ve["SUMMARY"]) == "Kickoff"
    assert str(ve["ORGANIZER"]).lower() == "mailto:" + c.user.lower()
    assert ve["DTSTART"].dt.isoformat() == "2026-07-01T12:00:00+00:00"
    uid = str(ve["UID"])
    # the object as an attachment too, which mail clients look for
    assert any(p.get_content_type() == "application/ics"
               for p in msg.walk())
    assert msg["Subject"] == "Kickoff"
    # and a copy in Sent, as for mail sent from the device
    assert "Kickoff" in imap_subjects(dc, c, "Sent")

    # Ann accepts: her reply in the Inbox is an accepted-response mail
    # and her PARTSTAT goes into the event; a stranger's reply changes
    # nothing
    def reply_mail(who, partstat):
        ical = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Ann//EN\r\n"
                "METHOD:REPLY\r\nBEGIN:VEVENT\r\nUID:%s\r\nSEQUENCE:0\r\n"
                "DTSTAMP:20260602T080000Z\r\n"
                "DTSTART:20260701T120000Z\r\nDTEND:20260701T130000Z\r\n"
                "ORGANIZER:mailto:%s\r\nATTENDEE;PARTSTAT=%s:mailto:%s\r\n"
                "END:VEVENT\r\nEND:VCALENDAR\r\n") % (
                    uid, c.user, partstat, who)
        return ("From: <%s>\r\nTo: <%s>\r\nSubject: %s: Kickoff%s\r\n"
                "MIME-Version: 1.0\r\nContent-Type: text/calendar; "
                "charset=utf-8; method=REPLY\r\n\r\n%s" % (
                    who, c.user, partstat.title(),
                    "" if who.startswith("ann") else " (" + who + ")",
                    ical)).encode()
    dc.deliver(c.user, reply_mail("ann@example.org", "ACCEPTED"),
               sender="ann@example.org")
    since_log = dc.log_offset()
    dc.deliver(c.user, reply_mail("mallory@example.com", "ACCEPTED"),
               sender="mallory@example.com")
    ri = inbox_sync(c, inbox, None)
    assert xtext(ri.add_by_subject("Accepted: Kickoff"),
                 "ApplicationData/Email:MessageClass") == \
        "IPM.Schedule.Meeting.Resp.Pos"
    events = imap_events(dc, c, uid)
    assert len(events) == 1, events
    assert partstat(events[0][1], "ann@example.org") == "ACCEPTED"
    assert partstat(events[0][1], "mallory@example.com") is None
    assert "REPLY from mallory@example.com, who isn't invited" in \
        dc.log_since(since_log)
    r = sync(c, cal, r.key, cls="Calendar", xmlns=CAL_XMLNS,
             options=body_pref(1)).ok()
    changed = events_with_uid(r.changes, uid)
    assert len(changed) == 1 and xtext(changed[0], "ServerId") == \
        server_id, r.resp
    assert r.adds == []

    # a change that only touches the reminder tells nobody
    key = r.key
    since = len(SINK.messages)
    change = ("<Change><ServerId>%s</ServerId><ApplicationData>"
              "<calendar:TimeZone>%s</calendar:TimeZone>"
              "<calendar:StartTime>20260701T120000Z</calendar:StartTime>"
              "<calendar:EndTime>20260701T130000Z</calendar:EndTime>"
              "<calendar:Subject>Kickoff</calendar:Subject>%s"
              "<calendar:Reminder>15</calendar:Reminder>"
              "<calendar:MeetingStatus>1</calendar:MeetingStatus>"
              "</ApplicationData></Change>" % (
                  server_id, base64.b64encode(b"\0" * 172).decode(),
                  "<airsyncbase:Location><airsyncbase:DisplayName>Room 9"
                  "</airsyncbase:DisplayName></airsyncbase:Location>"
                  if version >= "16.0" else
                  "<calendar:Location>Room 9</calendar:Location>"))
    r = sync(c, cal, key, cls="Calendar", xmlns=CAL_XMLNS,
             options=body_pref(1), commands=change).ok()
    time.sleep(0.5)
    assert sink_calendars(since, "REQUEST") == []
    # a new time is sent again, as an update
    r = sync(c, cal, r.key, cls="Calendar", xmlns=CAL_XMLNS,
             options=body_pref(1),
             commands=change.replace("T120000Z", "T140000Z")
             .replace("T130000Z", "T150000Z")).ok()
    requests = wait_sink(since, "REQUEST")
    assert len(requests) == 1, SINK.messages[since:]
    ve = requests[0][2].walk("VEVENT")[0]
    assert str(ve["UID"]) == uid
    assert int(ve["SEQUENCE"]) >= 1
    assert ve["DTSTART"].dt.isoformat() == "2026-07-01T14:00:00+00:00"

    # deleted on the device: the attendees get a CANCEL
    since = len(SINK.messages)
    r = sync(c, cal, r.key, cls="Calendar", xmlns=CAL_XMLNS,
             options=body_pref(1),
             commands="<Delete><ServerId>%s</ServerId></Delete>"
             % server_id).ok()
    cancels = wait_sink(since, "CANCEL")
    assert len(cancels) == 1, SINK.messages[since:]
    ve = cancels[0][2].walk("VEVENT")[0]
    assert str(ve["UID"]) == uid
    assert str(ve["STATUS"]) == "CANCELLED"
    assert cancels[0][1]["Subject"] == "Cancelled: Kickoff"

    # an invitation's event changed on the device is not sent on
    c2, inbox2, cal2, uid2, request_id, ikey, ckey, event_id = \
        invited(dc, tag + "b", version)
    since = len(SINK.messages)
    r = sync(c2, cal2, ckey, cls="Calendar", xmlns=CAL_XMLNS,
             options=body_pref(1),
             commands="<Delete><ServerId>%s</ServerId></Delete>"
             % event_id).ok()
    time.sleep(0.5)
    assert SINK.messages[since:] == []
    dc.check_log()


def test_meeting_device_created_14(dc):
    device_meeting_flow(dc, "org14", "14.1")


def test_meeting_device_created_16(dc):
    device_meeting_flow(dc, "org16", "16.1")


def tnef_blob(subject):
    """A winmail.dat with the message attributes of an Outlook meeting
    request (MS-OXTNEF): class, subject, start"""
    import struct

    def att(level, att_id, data):
        return struct.pack("<BII", level, att_id, len(data)) + data + \
            b"\0\0"
    return (struct.pack("<IH", 0x223E9F78, 0) +
            att(1, 0x00078008, b"IPM.Microsoft Schedule.MtgReq\0") +
            att(1, 0x00018004, subject.encode() + b"\0") +
            att(1, 0x00030006, struct.pack("<7H", 2026, 6, 10, 9, 30, 0,
                                           3)))


def test_meeting_tnef_logged(dc):
    c, inbox, cal = setup(dc, "tnef", "16.1")
    blob = base64.b64encode(tnef_blob("Quarterly review")).decode()
    msg = ("From: <boss@example.org>\r\nTo: <%s>\r\n"
           "Subject: Quarterly review\r\nMIME-Version: 1.0\r\n"
           'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
           "--b\r\nContent-Type: text/plain\r\n\r\nWhen: soon\r\n"
           "--b\r\nContent-Type: application/ms-tnef; name=winmail.dat\r\n"
           "Content-Transfer-Encoding: base64\r\n\r\n%s\r\n--b--\r\n"
           % (c.user, blob))
    since = dc.log_offset()
    dc.deliver(c.user, msg.encode())
    r = inbox_sync(c, inbox, None)
    add = r.add_by_subject("Quarterly review")
    # plain mail (nothing to answer with), and said so in the log
    assert xtext(add, "ApplicationData/Email:MessageClass") == "IPM.Note"
    log = dc.log_since(since)
    assert 'TNEF meeting message IPM.Microsoft Schedule.MtgReq ' \
        '"Quarterly review" (2026-06-10T09:30:00.000Z' in log, log
    assert imap_calendar(dc, c) == []
    dc.check_log()
