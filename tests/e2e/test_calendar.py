"""Calendar folders (MS-ASCAL) and their items as iCalendar VEVENTs.

The default Calendar folder (type 8, folder-type "event.default") is
created on a device's first FolderSync; other folders typed "event" are
user calendars (13).  Each event is one message: a readable summary and
the VCALENDAR as a text/calendar attachment (event.ics).  What the server
stores is parsed with python3-icalendar, an independent reader; events
are fed to the server the way other clients write them (IMAP APPEND of
an iCalendar message).  Time zones travel as TIME_ZONE_INFORMATION
blobs, built and read here from their documented layout."""

import base64
import datetime
import email
import re
import struct
from email import policy

import icalendar

from harness import body_pref, calendar_message, fetch_item_xml, \
    hierarchy, imap_append, imap_count, imap_session, itemops, new_account, \
    ok_top, set_folder_type, SmtpSink, sync_request, SyncResult as Result, \
    xall, xfind, xtext

# the weekly meeting a device creates invites its attendee
# (meeting/as-meeting-organizer.c): the invitation goes to this sink
SINK = SmtpSink()
INSTANCE = dict(activesync=True,
                extra_conf="submission_host = 127.0.0.1:%d\n"
                "submission_timeout = 20s" % SINK.port)

T_CALENDAR, T_USER_CALENDAR = 8, 13
UTC = datetime.timezone.utc
XMLNS = 'xmlns:calendar="Calendar:"'


def tz_blob(bias, std=None, dst=None, dst_bias=0, name=""):
    """TIME_ZONE_INFORMATION (MS-ASDTYPE 2.7.4) in base64: bias in
    minutes (UTC = local + bias); std/dst = (month, weekday, week, hour)
    of the yearly changes, week 5 = the last"""
    def systime(rule):
        if rule is None:
            return b"\0" * 16
        month, dow, week, hour = rule
        return struct.pack("<8H", 0, month, dow, week, hour, 0, 0, 0)
    wname = name.encode("utf-16-le")[:62].ljust(64, b"\0")
    data = (struct.pack("<i", bias) + wname + systime(std) +
            struct.pack("<i", 0) + wname + systime(dst) +
            struct.pack("<i", dst_bias))
    assert len(data) == 172
    return base64.b64encode(data).decode()


def tz_read(b64):
    """(bias, standard rule, daylight rule, daylight bias) of a blob"""
    data = base64.b64decode(b64)
    assert len(data) == 172, len(data)
    bias = struct.unpack_from("<i", data, 0)[0]
    std = struct.unpack_from("<8H", data, 68)
    dst = struct.unpack_from("<8H", data, 152)
    dst_bias = struct.unpack_from("<i", data, 168)[0]
    return bias, std[1:5], dst[1:5], dst_bias


BERLIN = tz_blob(-60, std=(10, 0, 5, 3), dst=(3, 0, 5, 2), dst_bias=-60)
NEW_YORK = tz_blob(300, std=(11, 0, 1, 2), dst=(3, 0, 2, 2), dst_bias=-60)
ZERO = base64.b64encode(b"\0" * 172).decode()


def cal_sync(c, coll, key, **kw):
    return Result(sync_request(c, coll, key, cls="Calendar", xmlns=XMLNS,
                               **kw))


def cal_start(c, coll, options=None):
    r = cal_sync(c, coll, "0").ok()
    assert r.key == "1" and not r.adds, r.resp
    return cal_sync(c, coll, r.key, options=options or body_pref(1)).ok()


def cal_cmd(c, coll, key, commands):
    return cal_sync(c, coll, key, options=body_pref(1),
                    commands=commands).ok()


def by_subject(items):
    return {xtext(a, "ApplicationData/Calendar:Subject"): a for a in items}


def field(item, name):
    return xtext(item, "ApplicationData/Calendar:" + name)


def imap_events(dc, c, mailbox):
    """{SUMMARY of the master VEVENT: (uid, message, VCALENDAR)}"""
    imap = imap_session(dc, c, mailbox)
    try:
        typ, data = imap.uid("FETCH", "1:*", "(UID BODY.PEEK[])")
        assert typ == "OK", data
    finally:
        imap.logout()
    out = {}
    for d in data:
        if not isinstance(d, tuple):
            continue
        uid = int(re.search(rb"UID (\d+)", d[0]).group(1))
        msg = email.message_from_bytes(d[1], policy=policy.default)
        for part in msg.walk():
            if part.get_content_type() != "text/calendar":
                continue
            try:
                cal = icalendar.Calendar.from_ical(
                    part.get_payload(decode=True))
            except ValueError:
                continue
            masters = [e for e in cal.walk("VEVENT")
                       if "RECURRENCE-ID" not in e]
            out[str(masters[0]["SUMMARY"])] = (uid, msg, cal)
    return out


def master_and_overrides(cal):
    events = cal.walk("VEVENT")
    master = [e for e in events if "RECURRENCE-ID" not in e]
    assert len(master) == 1, cal.to_ical()
    return master[0], [e for e in events if "RECURRENCE-ID" in e]


def exdates(vevent):
    ex = vevent.get("EXDATE")
    if ex is None:
        return []
    if not isinstance(ex, list):
        ex = [ex]
    return [d.dt for e in ex for d in e.dts]


def setup(dc, tag, version):
    SINK.start()
    c = new_account(dc, tag, version=version)
    h = hierarchy(c)
    # the default calendar exists after the first FolderSync
    assert h["Calendar"][1] == T_CALENDAR, h
    imap = imap_session(dc, c)
    try:
        assert imap.create('"Team"')[0] == "OK"
    finally:
        imap.logout()
    set_folder_type(dc, c, "Team", "event")
    return c


def test_calendar_folders(dc):
    for version in ("12.1", "14.1", "16.1"):
        c = setup(dc, "cfold" + version.replace(".", ""), version)
        h = hierarchy(c)
        assert h["Team"][1] == T_USER_CALENDAR, h
    # a device creates a calendar folder: typed "event" in IMAP
    r = c.foldersync()
    key = xtext(r, "SyncKey")
    r = c.request_provisioned(
        "FolderCreate", '<FolderCreate xmlns="FolderHierarchy:"><SyncKey>'
        '%s</SyncKey><ParentId>0</ParentId><DisplayName>Holidays'
        '</DisplayName><Type>13</Type></FolderCreate>' % key)
    assert xtext(r, "Status") == "1", r
    out = dc.doveadm("mailbox", "metadata", "get", "-u", c.user, "Holidays",
                     "/private/vendor/kolab/folder-type")
    assert out.strip() == "event", out
    assert hierarchy(c)["Holidays"][1] == T_USER_CALENDAR


def weekly_add(version, tz):
    """A weekly Monday meeting at 10:00 Berlin time from 2026-06-01, ten
    times; the 2nd moved to 14:00 with its own subject, the 3rd deleted"""
    if version >= "16.0":
        orig = "airsyncbase:InstanceId"
    else:
        orig = "calendar:Exception_StartTime"
    return (
        "<Add><ClientId>w1</ClientId><ApplicationData>"
        "<calendar:TimeZone>%s</calendar:TimeZone>"
        "<calendar:AllDayEvent>0</calendar:AllDayEvent>"
        "<airsyncbase:Body><airsyncbase:Type>1</airsyncbase:Type>"
        "<airsyncbase:Data>Status round</airsyncbase:Data>"
        "</airsyncbase:Body>"
        "<calendar:BusyStatus>2</calendar:BusyStatus>"
        "<calendar:StartTime>20260601T080000Z</calendar:StartTime>"
        "<calendar:EndTime>20260601T090000Z</calendar:EndTime>"
        "<calendar:Subject>Team meeting</calendar:Subject>"
        "%s"
        "<calendar:Reminder>10</calendar:Reminder>"
        "<calendar:Sensitivity>0</calendar:Sensitivity>"
        "<calendar:Categories><calendar:Category>Work</calendar:Category>"
        "</calendar:Categories>"
        "<calendar:Attendees><calendar:Attendee>"
        "<calendar:Attendee_Email>bob@example.test</calendar:Attendee_Email>"
        "<calendar:Attendee_Name>Bob</calendar:Attendee_Name>"
        "<calendar:Attendee_Type>1</calendar:Attendee_Type>"
        "</calendar:Attendee></calendar:Attendees>"
        "<calendar:Recurrence>"
        "<calendar:Recurrence_Type>1</calendar:Recurrence_Type>"
        "<calendar:Recurrence_Occurrences>10</calendar:Recurrence_Occurrences>"
        "<calendar:Recurrence_Interval>1</calendar:Recurrence_Interval>"
        "<calendar:Recurrence_DayOfWeek>2</calendar:Recurrence_DayOfWeek>"
        "</calendar:Recurrence>"
        "<calendar:Exceptions>"
        "<calendar:Exception>"
        "<%s>20260608T080000Z</%s>"
        "<calendar:Subject>Team meeting (moved)</calendar:Subject>"
        "<calendar:StartTime>20260608T120000Z</calendar:StartTime>"
        "<calendar:EndTime>20260608T130000Z</calendar:EndTime>"
        "</calendar:Exception>"
        "<calendar:Exception>"
        "<calendar:Exception_Deleted>1</calendar:Exception_Deleted>"
        "<%s>20260615T080000Z</%s>"
        "</calendar:Exception>"
        "</calendar:Exceptions>"
        "<calendar:MeetingStatus>1</calendar:MeetingStatus>"
        "</ApplicationData></Add>" % (
            tz,
            "<airsyncbase:Location><airsyncbase:DisplayName>Room 4"
            "</airsyncbase:DisplayName></airsyncbase:Location>"
            if version >= "16.0" else
            "<calendar:Location>Room 4</calendar:Location>",
            orig, orig, orig, orig))


def exceptions_of(item, version):
    """{original start: Exception element}"""
    out = {}
    for e in xall(item, "ApplicationData/Calendar:Exceptions/"
                  "Calendar:Exception"):
        if version >= "16.0":
            out[xtext(e, "AirSyncBase:InstanceId")] = e
        else:
            out[xtext(e, "Calendar:Exception_StartTime")] = e
    return out


def check_weekly_on_device(item, version):
    assert field(item, "Subject") == "Team meeting"
    assert field(item, "StartTime") == "20260601T080000Z"
    assert field(item, "EndTime") == "20260601T090000Z"
    bias, std, dst, dst_bias = tz_read(field(item, "TimeZone"))
    assert (bias, std, dst, dst_bias) == \
        (-60, (10, 0, 5, 3), (3, 0, 5, 2), -60)
    if version >= "16.0":
        assert xtext(item, "ApplicationData/AirSyncBase:Location/"
                     "AirSyncBase:DisplayName") == "Room 4"
    else:
        assert field(item, "Location") == "Room 4"
    rec = xfind(item, "ApplicationData/Calendar:Recurrence")
    assert xtext(rec, "Calendar:Recurrence_Type") == "1"
    assert xtext(rec, "Calendar:Recurrence_Occurrences") == "10"
    assert xtext(rec, "Calendar:Recurrence_DayOfWeek") == "2"
    assert xtext(rec, "Calendar:FirstDayOfWeek") == "1"
    exc = exceptions_of(item, version)
    assert set(exc) == {"20260608T080000Z", "20260615T080000Z"}, exc
    moved = exc["20260608T080000Z"]
    assert xtext(moved, "Calendar:Subject") == "Team meeting (moved)"
    assert xtext(moved, "Calendar:StartTime") == "20260608T120000Z"
    assert xtext(moved, "Calendar:EndTime") == "20260608T130000Z"
    # only what changed
    assert xfind(moved, "Calendar:Location") is None
    assert xfind(moved, "Calendar:Exception_Deleted") is None
    assert xtext(exc["20260615T080000Z"],
                 "Calendar:Exception_Deleted") == "1"


def check_calendar_device_weekly(dc, version):
    tag = "cweek" + version.replace(".", "")
    c = setup(dc, tag, version)
    coll = hierarchy(c)["Calendar"][0]
    r = cal_start(c, coll)
    assert not r.adds, r.resp
    ra = cal_cmd(c, coll, r.key, weekly_add(version, BERLIN))
    resp = xfind(ra.coll, "Responses/Add")
    assert xtext(resp, "Status") == "1", ra.resp
    server_id = xtext(resp, "ServerId")

    # over IMAP, read by another iCalendar implementation
    uid, msg, cal = imap_events(dc, c, "Calendar")["Team meeting"]
    parts = {p.get_content_type(): p for p in msg.walk()}
    assert parts["text/calendar"].get_filename() == "event.ics"
    assert "Team meeting" in parts["text/plain"].get_content()
    master, overrides = master_and_overrides(cal)
    start = master.decoded("DTSTART")
    assert master["DTSTART"].params["TZID"] == "Europe/Berlin"
    assert start == datetime.datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
    assert start.replace(tzinfo=None) == datetime.datetime(2026, 6, 1, 10, 0)
    assert master.decoded("DTEND") - start == datetime.timedelta(hours=1)
    assert str(master["LOCATION"]) == "Room 4"
    assert str(master["DESCRIPTION"]) == "Status round"
    rrule = master["RRULE"]
    assert rrule["FREQ"] == ["WEEKLY"] and rrule["COUNT"] == [10], rrule
    assert rrule["BYDAY"] == ["MO"], rrule
    assert [d.astimezone(UTC) for d in exdates(master)] == \
        [datetime.datetime(2026, 6, 15, 8, 0, tzinfo=UTC)]
    assert len(overrides) == 1, cal.to_ical()
    ov = overrides[0]
    assert str(ov["UID"]) == str(master["UID"])
    assert ov.decoded("RECURRENCE-ID").astimezone(UTC) == \
        datetime.datetime(2026, 6, 8, 8, 0, tzinfo=UTC)
    assert ov.decoded("DTSTART").astimezone(UTC) == \
        datetime.datetime(2026, 6, 8, 12, 0, tzinfo=UTC)
    assert str(ov["SUMMARY"]) == "Team meeting (moved)"
    att = master["ATTENDEE"]
    assert str(att).lower() == "mailto:bob@example.test"
    assert att.params["CN"] == "Bob"
    alarms = master.walk("VALARM")
    assert alarms and alarms[0].decoded("TRIGGER") == \
        -datetime.timedelta(minutes=10)
    assert cal.walk("VTIMEZONE")

    # a second device gets it as the first sent it
    c2 = dc.eas_client(c.user, c.password, device_id=tag.upper() + "TWO",
                       device_type="E2ETest", version=version)
    coll2 = hierarchy(c2)["Calendar"][0]
    r2 = cal_start(c2, coll2)
    item = by_subject(r2.adds)["Team meeting"]
    check_weekly_on_device(item, version)
    # the first device gets nothing back for it
    rn = cal_sync(c, coll, ra.key, options=body_pref(1)).ok()
    assert not rn.adds and not rn.changes and not rn.deletes, rn.resp

    # the device edits it: the message is replaced, the ServerId and
    # the UID stay
    change = weekly_add(version, BERLIN).replace(
        "<Add><ClientId>w1</ClientId>",
        "<Change><ServerId>%s</ServerId>" % server_id).replace(
        "</Add>", "</Change>").replace(
        "<calendar:Subject>Team meeting</calendar:Subject>",
        "<calendar:Subject>Team sync</calendar:Subject>")
    rc = cal_cmd(c, coll, rn.key, change)
    assert xfind(rc.coll, "Responses/Change") is None, rc.resp
    stored = imap_events(dc, c, "Calendar")
    assert set(stored) == {"Team sync"}, stored
    uid2, _, cal2 = stored["Team sync"]
    assert uid2 != uid
    master2, _ = master_and_overrides(cal2)
    assert str(master2["UID"]) == str(master["UID"])
    assert master2.decoded("SEQUENCE") == 1
    # the other device gets a Change of the event it has, under its own
    # ServerId (same UID in the new message), and no duplicate
    r2 = cal_sync(c2, coll2, r2.key, options=body_pref(1)).ok()
    assert not r2.deletes and not r2.adds, r2.resp
    assert [xtext(x, "ServerId") for x in r2.changes] == \
        [xtext(item, "ServerId")], r2.resp
    assert set(by_subject(r2.changes)) == {"Team sync"}, r2.resp
    rn = cal_sync(c, coll, rc.key, options=body_pref(1)).ok()
    assert not rn.adds and not rn.changes and not rn.deletes, rn.resp

    if version >= "16.0":
        # 16.x edits and deletes single occurrences by InstanceId: the
        # series stays, with one more override and one more EXDATE
        ri = cal_cmd(c, coll, rn.key, (
            "<Change><ServerId>%s</ServerId>"
            "<airsyncbase:InstanceId>20260622T080000Z"
            "</airsyncbase:InstanceId><ApplicationData>"
            "<calendar:Subject>Team sync (one off)</calendar:Subject>"
            "<calendar:StartTime>20260622T090000Z</calendar:StartTime>"
            "<calendar:EndTime>20260622T100000Z</calendar:EndTime>"
            "</ApplicationData></Change>" % server_id))
        assert xfind(ri.coll, "Responses/Change") is None, ri.resp
        # (in a request of its own: the engine can't yet change an item
        # it replaced earlier in the same request)
        ri = cal_cmd(c, coll, ri.key, (
            "<Delete><ServerId>%s</ServerId>"
            "<airsyncbase:InstanceId>20260629T080000Z"
            "</airsyncbase:InstanceId></Delete>" % server_id))
        assert xfind(ri.coll, "Responses/Delete") is None, ri.resp
        _, _, cal3 = imap_events(dc, c, "Calendar")["Team sync"]
        master3, overrides3 = master_and_overrides(cal3)
        assert sorted(d.astimezone(UTC) for d in exdates(master3)) == [
            datetime.datetime(2026, 6, 15, 8, 0, tzinfo=UTC),
            datetime.datetime(2026, 6, 29, 8, 0, tzinfo=UTC)]
        moved = {o.decoded("RECURRENCE-ID").astimezone(UTC):
                 (str(o["SUMMARY"]), o.decoded("DTSTART").astimezone(UTC))
                 for o in overrides3}
        assert moved[datetime.datetime(2026, 6, 22, 8, 0, tzinfo=UTC)] == \
            ("Team sync (one off)",
             datetime.datetime(2026, 6, 22, 9, 0, tzinfo=UTC)), moved
        assert datetime.datetime(2026, 6, 8, 8, 0, tzinfo=UTC) in moved
        # an InstanceId of no occurrence: refused, nothing changes
        mark = dc.log_offset()
        rb = cal_cmd(c, coll, ri.key, (
            "<Delete><ServerId>%s</ServerId>"
            "<airsyncbase:InstanceId>20260623T080000Z"
            "</airsyncbase:InstanceId></Delete>" % server_id))
        assert xtext(rb.coll, "Responses/Delete/Status") == "6", rb.resp
        dc.wait_for_log_text(mark, "is no occurrence of the series")
        assert imap_count(dc, c, "Calendar") == 1
        rn = rb

    # and deletes it
    rd = cal_cmd(c, coll, rn.key,
                 "<Delete><ServerId>%s</ServerId></Delete>" % server_id)
    assert imap_count(dc, c, "Calendar") == 0
    assert rd.key


def test_calendar_device_weekly_14(dc):
    check_calendar_device_weekly(dc, "14.1")


def test_calendar_device_weekly_16(dc):
    check_calendar_device_weekly(dc, "16.1")


# The same series as another client writes it: New York time, Sunday as
# the week start, an EXDATE and an override that moves one occurrence
OTHER_CLIENT_WEEKLY = (
    "BEGIN:VCALENDAR\r\n"
    "PRODID:-//Example Corp.//Other Client//EN\r\n"
    "VERSION:2.0\r\n"
    "BEGIN:VTIMEZONE\r\n"
    "TZID:America/New_York\r\n"
    "BEGIN:DAYLIGHT\r\n"
    "TZOFFSETFROM:-0500\r\nTZOFFSETTO:-0400\r\nTZNAME:EDT\r\n"
    "DTSTART:19700308T020000\r\n"
    "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2SU\r\n"
    "END:DAYLIGHT\r\n"
    "BEGIN:STANDARD\r\n"
    "TZOFFSETFROM:-0400\r\nTZOFFSETTO:-0500\r\nTZNAME:EST\r\n"
    "DTSTART:19701101T020000\r\n"
    "RRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=1SU\r\n"
    "END:STANDARD\r\n"
    "END:VTIMEZONE\r\n"
    "BEGIN:VEVENT\r\n"
    "UID:other-weekly-1@example.test\r\n"
    "DTSTAMP:20261101T120000Z\r\n"
    "SUMMARY:Standup\r\n"
    "LOCATION:Hall B\r\n"
    "DTSTART;TZID=America/New_York:20261103T090000\r\n"
    "DTEND;TZID=America/New_York:20261103T093000\r\n"
    "RRULE:FREQ=WEEKLY;BYDAY=TU;UNTIL=20261229T140000Z;WKST=SU\r\n"
    "EXDATE;TZID=America/New_York:20261124T090000\r\n"
    "X-OTHER-CLIENT-FLAG:kept\r\n"
    "END:VEVENT\r\n"
    "BEGIN:VEVENT\r\n"
    "UID:other-weekly-1@example.test\r\n"
    "DTSTAMP:20261101T120000Z\r\n"
    "RECURRENCE-ID;TZID=America/New_York:20261110T090000\r\n"
    "SUMMARY:Standup\r\n"
    "LOCATION:Hall C\r\n"
    "DTSTART;TZID=America/New_York:20261110T110000\r\n"
    "DTEND;TZID=America/New_York:20261110T113000\r\n"
    "END:VEVENT\r\n"
    "END:VCALENDAR\r\n")

ALLDAY_OTHER = (
    "BEGIN:VCALENDAR\r\nPRODID:-//Example Corp.//Other Client//EN\r\n"
    "VERSION:2.0\r\nBEGIN:VEVENT\r\nUID:other-allday-1@example.test\r\n"
    "DTSTAMP:20261101T120000Z\r\nSUMMARY:Holiday\r\n"
    "DTSTART;VALUE=DATE:20261224\r\nDTEND;VALUE=DATE:20261227\r\n"
    "TRANSP:TRANSPARENT\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")


def check_calendar_imap_weekly(dc, version):
    tag = "cimap" + version.replace(".", "")
    c = setup(dc, tag, version)
    imap_append(dc, c, "Calendar", calendar_message("Standup",
                                                    OTHER_CLIENT_WEEKLY))
    imap_append(dc, c, "Calendar", calendar_message("Holiday", ALLDAY_OTHER,
                                                    "attached"))
    coll = hierarchy(c)["Calendar"][0]
    r = cal_start(c, coll)
    adds = by_subject(r.adds)
    assert set(adds) == {"Standup", "Holiday"}, r.resp
    item = adds["Standup"]
    # 09:00 in New York in November: 14:00 UTC
    assert field(item, "StartTime") == "20261103T140000Z"
    assert field(item, "EndTime") == "20261103T143000Z"
    assert tz_read(field(item, "TimeZone")) == \
        (300, (11, 0, 1, 2), (3, 0, 2, 2), -60)
    assert field(item, "UID") == "other-weekly-1@example.test"
    rec = xfind(item, "ApplicationData/Calendar:Recurrence")
    assert xtext(rec, "Calendar:Recurrence_Type") == "1"
    assert xtext(rec, "Calendar:Recurrence_DayOfWeek") == "4"
    assert xtext(rec, "Calendar:Recurrence_Until") == "20261229T140000Z"
    assert xtext(rec, "Calendar:FirstDayOfWeek") == "0"
    exc = exceptions_of(item, version)
    assert set(exc) == {"20261110T140000Z", "20261124T140000Z"}, exc
    assert xtext(exc["20261124T140000Z"], "Calendar:Exception_Deleted") \
        == "1"
    moved = exc["20261110T140000Z"]
    assert xtext(moved, "Calendar:StartTime") == "20261110T160000Z"
    assert xtext(moved, "Calendar:EndTime") == "20261110T163000Z"
    assert xfind(moved, "Calendar:Subject") is None
    if version >= "16.0":
        assert xtext(moved, "AirSyncBase:Location/AirSyncBase:DisplayName") \
            == "Hall C"
    else:
        assert xtext(moved, "Calendar:Location") == "Hall C"
    # ItemOperations Fetch gives the same item
    ri = itemops(c, fetch_item_xml(coll, xtext(item, "ServerId"),
                                   body_pref(1)))
    fetched = ok_top(ri)
    assert xtext(fetched[0], "Status") == "1", ri
    props = xfind(fetched[0], "Properties")
    assert xtext(props, "Calendar:Subject") == "Standup", ri
    assert xtext(props, "Calendar:StartTime") == "20261103T140000Z", ri
    assert xtext(xfind(props, "Calendar:Recurrence"),
                 "Calendar:Recurrence_DayOfWeek") == "4", ri
    # an all-day event of another client: its dates, no zone
    hol = adds["Holiday"]
    assert field(hol, "AllDayEvent") == "1"
    assert field(hol, "BusyStatus") == "0"
    if version >= "16.0":
        assert field(hol, "StartTime") == "20261224T000000"
        assert field(hol, "EndTime") == "20261227T000000"
    else:
        assert field(hol, "StartTime") == "20261224T000000Z"
        assert field(hol, "EndTime") == "20261227T000000Z"
        assert field(hol, "TimeZone") == ZERO

    # an edit on the device keeps what it doesn't know of
    change = (
        "<Change><ServerId>%s</ServerId><ApplicationData>"
        "<calendar:TimeZone>%s</calendar:TimeZone>"
        "<calendar:StartTime>20261103T140000Z</calendar:StartTime>"
        "<calendar:EndTime>20261103T150000Z</calendar:EndTime>"
        "<calendar:Subject>Standup (longer)</calendar:Subject>"
        "<calendar:Recurrence>"
        "<calendar:Recurrence_Type>1</calendar:Recurrence_Type>"
        "<calendar:Recurrence_Until>20261229T140000Z"
        "</calendar:Recurrence_Until>"
        "<calendar:Recurrence_DayOfWeek>4</calendar:Recurrence_DayOfWeek>"
        "<calendar:FirstDayOfWeek>0</calendar:FirstDayOfWeek>"
        "</calendar:Recurrence>"
        "</ApplicationData></Change>" % (xtext(item, "ServerId"), NEW_YORK))
    rc = cal_cmd(c, coll, r.key, change)
    assert xfind(rc.coll, "Responses/Change") is None, rc.resp
    _, _, cal = imap_events(dc, c, "Calendar")["Standup (longer)"]
    master, _ = master_and_overrides(cal)
    assert str(master["UID"]) == "other-weekly-1@example.test"
    assert str(master["X-OTHER-CLIENT-FLAG"]) == "kept"
    assert master["DTSTART"].params["TZID"] == "America/New_York"
    assert master.decoded("DTEND").astimezone(UTC) == \
        datetime.datetime(2026, 11, 3, 15, 0, tzinfo=UTC)


def test_calendar_imap_weekly_14(dc):
    check_calendar_imap_weekly(dc, "14.1")


def test_calendar_imap_weekly_16(dc):
    check_calendar_imap_weekly(dc, "16.1")


def allday_add(cid, subject, tz, start, end):
    return (
        "<Add><ClientId>%s</ClientId><ApplicationData>"
        "<calendar:TimeZone>%s</calendar:TimeZone>"
        "<calendar:AllDayEvent>1</calendar:AllDayEvent>"
        "<calendar:StartTime>%s</calendar:StartTime>"
        "<calendar:EndTime>%s</calendar:EndTime>"
        "<calendar:Subject>%s</calendar:Subject>"
        "<calendar:BusyStatus>3</calendar:BusyStatus>"
        "</ApplicationData></Add>" % (cid, tz, start, end, subject))


def check_calendar_allday_dst(dc, version):
    """Two-day events over the spring DST change: Berlin 28-29 March
    2026, New York 7-8 March 2026"""
    tag = "callday" + version.replace(".", "")
    c = setup(dc, tag, version)
    coll = hierarchy(c)["Calendar"][0]
    r = cal_start(c, coll)
    if version >= "16.0":
        berlin = ("20260328T000000", "20260330T000000")
        ny = ("20260307T000000", "20260309T000000")
    else:
        # local midnights as UTC: the end is in summer time already
        berlin = ("20260327T230000Z", "20260329T220000Z")
        ny = ("20260307T050000Z", "20260309T040000Z")
    ra = cal_cmd(c, coll, r.key,
                 allday_add("a1", "Berlin weekend", BERLIN, *berlin) +
                 allday_add("a2", "New York weekend", NEW_YORK, *ny))
    for resp in xall(ra.coll, "Responses/Add"):
        assert xtext(resp, "Status") == "1", ra.resp
    stored = imap_events(dc, c, "Calendar")
    for subject, first, end in (
            ("Berlin weekend", datetime.date(2026, 3, 28),
             datetime.date(2026, 3, 30)),
            ("New York weekend", datetime.date(2026, 3, 7),
             datetime.date(2026, 3, 9))):
        master, _ = master_and_overrides(stored[subject][2])
        assert master.decoded("DTSTART") == first, master.to_ical()
        assert master.decoded("DTEND") == end, master.to_ical()
        assert str(master["X-MICROSOFT-CDO-BUSYSTATUS"]) == "OOF"
    # another device of the same version gets the same dates
    c2 = dc.eas_client(c.user, c.password, device_id=tag.upper() + "TWO",
                       device_type="E2ETest", version=version)
    r2 = cal_start(c2, hierarchy(c2)["Calendar"][0])
    adds = by_subject(r2.adds)
    for subject, (start, end), blob in (("Berlin weekend", berlin, BERLIN),
                                        ("New York weekend", ny, NEW_YORK)):
        item = adds[subject]
        assert field(item, "AllDayEvent") == "1"
        assert field(item, "StartTime") == start, subject
        assert field(item, "EndTime") == end, subject
        assert tz_read(field(item, "TimeZone")) == tz_read(blob)


def test_calendar_allday_dst_14(dc):
    check_calendar_allday_dst(dc, "14.1")


def test_calendar_allday_dst_16(dc):
    check_calendar_allday_dst(dc, "16.1")


def test_calendar_filter_and_bad_input(dc):
    c = setup(dc, "cfilter", "14.1")
    now = datetime.datetime.now(UTC)
    old = (now - datetime.timedelta(days=60)).strftime("%Y%m%dT100000Z")
    old_end = (now - datetime.timedelta(days=60)).strftime("%Y%m%dT110000Z")
    soon = (now + datetime.timedelta(days=3)).strftime("%Y%m%dT100000Z")
    soon_end = (now + datetime.timedelta(days=3)).strftime("%Y%m%dT110000Z")

    def event(summary, start, end, extra=""):
        return ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//x//y//EN\r\n"
                "BEGIN:VEVENT\r\nUID:%s\r\nDTSTAMP:20260101T000000Z\r\n"
                "SUMMARY:%s\r\nDTSTART:%s\r\nDTEND:%s\r\n%s"
                "END:VEVENT\r\nEND:VCALENDAR\r\n" % (
                    summary.replace(" ", "-"), summary, start, end, extra))
    imap_append(dc, c, "Calendar", calendar_message(
        "Old", event("Old", old, old_end)))
    imap_append(dc, c, "Calendar", calendar_message(
        "Soon", event("Soon", soon, soon_end)))
    imap_append(dc, c, "Calendar", calendar_message(
        "Old daily", event("Old daily", old, old_end, "RRULE:FREQ=DAILY\r\n")))
    imap_append(dc, c, "Calendar", calendar_message(
        "Old weekly, ended", event("Old weekly, ended", old, old_end,
                                   "RRULE:FREQ=WEEKLY;COUNT=3\r\n")))
    imap_append(dc, c, "Calendar", calendar_message(
        "Every second", event("Every second", old, old_end,
                              "RRULE:FREQ=SECONDLY;COUNT=100000000\r\n")))
    imap_append(dc, c, "Calendar", calendar_message(
        "Broken", "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART:garbage\r\n"))
    coll = hierarchy(c)["Calendar"][0]
    # FilterType 4: two weeks back. The endless daily series and the one
    # that can't be expanded to the end are kept; the finished one isn't
    mark = dc.log_offset()
    r = cal_start(c, coll, "<FilterType>4</FilterType>" + body_pref(1))
    assert set(by_subject(r.adds)) == {"Soon", "Old daily",
                                       "Every second"}, r.resp
    dc.wait_for_log_text(mark, "Sync: skipping UID")
    # all: everything that reads as an event
    c2 = dc.eas_client(c.user, c.password, device_id="CFILTERALL",
                       device_type="E2ETest", version="14.1")
    r2 = cal_start(c2, hierarchy(c2)["Calendar"][0],
                   "<FilterType>0</FilterType>" + body_pref(1))
    assert set(by_subject(r2.adds)) == {
        "Old", "Soon", "Old daily", "Old weekly, ended",
        "Every second"}, r2.resp

    # bad device input: Status 6, a log line, nothing stored
    before = imap_count(dc, c, "Calendar")
    mark = dc.log_offset()
    rb = cal_cmd(c, coll, r.key, (
        "<Add><ClientId>b1</ClientId><ApplicationData>"
        "<calendar:Subject>No start</calendar:Subject>"
        "</ApplicationData></Add>"))
    assert xtext(rb.coll, "Responses/Add/Status") == "6", rb.resp
    dc.wait_for_log_text(mark, "event without StartTime")
    assert imap_count(dc, c, "Calendar") == before
    # a time zone blob with impossible dates and an exception of no
    # occurrence: stored as far as it goes, said in the log
    bad_tz = tz_blob(-60, std=(13, 0, 5, 3), dst=(3, 9, 5, 2), dst_bias=-60)
    mark = dc.log_offset()
    rb = cal_cmd(c, coll, rb.key, (
        "<Add><ClientId>b2</ClientId><ApplicationData>"
        "<calendar:TimeZone>%s</calendar:TimeZone>"
        "<calendar:StartTime>%s</calendar:StartTime>"
        "<calendar:EndTime>%s</calendar:EndTime>"
        "<calendar:Subject>Odd zone</calendar:Subject>"
        "<calendar:Recurrence>"
        "<calendar:Recurrence_Type>0</calendar:Recurrence_Type>"
        "<calendar:Recurrence_Occurrences>3</calendar:Recurrence_Occurrences>"
        "</calendar:Recurrence>"
        "<calendar:Exceptions><calendar:Exception>"
        "<calendar:Exception_Deleted>1</calendar:Exception_Deleted>"
        "<calendar:Exception_StartTime>20200101T000000Z"
        "</calendar:Exception_StartTime>"
        "</calendar:Exception></calendar:Exceptions>"
        "</ApplicationData></Add>" % (bad_tz, soon, soon_end)))
    assert xtext(rb.coll, "Responses/Add/Status") == "1", rb.resp
    dc.wait_for_log_text(mark, "impossible daylight saving dates")
    dc.wait_for_log_text(mark, "is no occurrence of the series")
    master, _ = master_and_overrides(
        imap_events(dc, c, "Calendar")["Odd zone"][2])
    assert not exdates(master)
    assert master.decoded("DTSTART").astimezone(UTC).strftime(
        "%Y%m%dT%H%M%SZ") == soon


def test_calendar_past_limit(dc):
    """The server's "past calendar events" limit: per device (doveadm
    device set), per user (userdb field) and by the policy's
    MaxCalendarAgeFilter; the smallest applies, FilterType 0 asks for
    everything."""
    now = datetime.datetime.now(UTC)

    def at(days, hour):
        return (now + datetime.timedelta(days=days)).strftime(
            "%%Y%%m%%dT%02d0000Z" % hour)

    def append_events(c, tag):
        for summary, days, rrule in (("Old", -60, ""), ("Mid", -25, ""),
                                     ("Recent", -10, ""), ("Soon", 3, ""),
                                     ("Old daily", -60,
                                      "RRULE:FREQ=DAILY\r\n")):
            ical = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//x//y//EN\r\n"
                    "BEGIN:VEVENT\r\nUID:%s-%s\r\n"
                    "DTSTAMP:20260101T000000Z\r\nSUMMARY:%s\r\n"
                    "DTSTART:%s\r\nDTEND:%s\r\n%sEND:VEVENT\r\n"
                    "END:VCALENDAR\r\n" % (
                        tag, summary.replace(" ", "-"), summary,
                        at(days, 10), at(days, 11), rrule))
            imap_append(dc, c, "Calendar", calendar_message(summary, ical))

    def all_events(c):
        r = cal_start(c, hierarchy(c)["Calendar"][0],
                      "<FilterType>0</FilterType>" + body_pref(1))
        return set(by_subject(r.adds))

    # per device
    c = setup(dc, "cpastdev", "14.1")
    append_events(c, "dev")
    dc.activesync("device", "set", "-u", c.user, c.device_id,
                  "max_calendar_age", "30d")
    assert all_events(c) == {"Mid", "Recent", "Soon", "Old daily"}
    # another device of the user has no limit
    c2 = dc.eas_client(c.user, c.password, device_id="CPASTOTHER",
                       device_type="E2ETest", version="14.1")
    assert all_events(c2) == {"Old", "Mid", "Recent", "Soon", "Old daily"}
    # a bad value is refused and changes nothing
    code, _, err = dc.activesync("device", "set", "-u", c.user,
                                 c.device_id, "max_calendar_age", "soon",
                                 check=False)
    assert code != 0 and err, err

    # per user, 16.1
    u = new_account(dc, "cpastuser", version="16.1",
                    extra_fields={"activesync_max_calendar_age": "20d"})
    assert hierarchy(u)["Calendar"][1] == T_CALENDAR
    append_events(u, "user")
    assert all_events(u) == {"Recent", "Soon", "Old daily"}

    # by the policy (user level): two weeks for every device of the user;
    # the device provisions again and then gets the narrower window
    p = new_account(dc, "cpastpol", version="14.1")
    assert hierarchy(p)["Calendar"][1] == T_CALENDAR
    append_events(p, "pol")
    code, _, err = dc.activesync("policy", "set", "-u", p.user,
                                 "MaxCalendarAgeFilter=4", check=False)
    assert code == 0, err
    p2 = dc.eas_client(p.user, p.password, device_id="CPASTPOL2",
                       device_type="E2ETest", version="14.1")
    assert all_events(p2) == {"Recent", "Soon", "Old daily"}


def test_calendar_same_event_twice_in_one_sync(dc):
    """Two Changes of one event in one Sync request, and a Change then a
    Delete: each applies (the second to what the first saved), one
    message per event stays, the device keeps its ServerId."""
    c = setup(dc, "ctwice", "14.1")
    coll = hierarchy(c)["Calendar"][0]
    r = cal_start(c, coll)

    def add(client_id, subject):
        return ("<Add><ClientId>%s</ClientId><ApplicationData>"
                "<calendar:TimeZone>%s</calendar:TimeZone>"
                "<calendar:StartTime>20260701T080000Z</calendar:StartTime>"
                "<calendar:EndTime>20260701T090000Z</calendar:EndTime>"
                "<calendar:Subject>%s</calendar:Subject>"
                "</ApplicationData></Add>" % (client_id, ZERO, subject))

    def change(server_id, subject, hour):
        return ("<Change><ServerId>%s</ServerId><ApplicationData>"
                "<calendar:TimeZone>%s</calendar:TimeZone>"
                "<calendar:StartTime>20260701T%02d0000Z</calendar:StartTime>"
                "<calendar:EndTime>20260701T%02d0000Z</calendar:EndTime>"
                "<calendar:Subject>%s</calendar:Subject>"
                "</ApplicationData></Change>" % (server_id, ZERO, hour,
                                                 hour + 1, subject))
    r = cal_cmd(c, coll, r.key, add("t1", "First") + add("t2", "Second"))
    ids = {xtext(a, "ClientId"): xtext(a, "ServerId")
           for a in xall(r.coll, "Responses/Add")}
    assert set(ids) == {"t1", "t2"}, r.resp

    # two Changes of t1, a Change and a Delete of t2
    r = cal_cmd(c, coll, r.key,
                change(ids["t1"], "First v2", 9) +
                change(ids["t1"], "First v3", 10) +
                change(ids["t2"], "Second v2", 11) +
                "<Delete><ServerId>%s</ServerId></Delete>" % ids["t2"])
    # nothing failed: no Responses with a Status other than 1
    for resp in xall(r.coll, "Responses/*"):
        assert xtext(resp, "Status") in (None, "1"), r.resp
    events = imap_events(dc, c, "Calendar")
    assert set(events) == {"First v3"}, set(events)
    master, _ = master_and_overrides(events["First v3"][2])
    assert master.decoded("DTSTART").astimezone(UTC).hour == 10
    assert imap_count(dc, c, "Calendar") == 1

    # the device has the last version under its ServerId: nothing comes
    # back, and another device sees one event
    r = cal_sync(c, coll, r.key, options=body_pref(1)).ok()
    assert not r.adds and not r.changes and not r.deletes, r.resp
    c2 = dc.eas_client(c.user, c.password, device_id="CTWICEOTHER",
                       device_type="E2ETest", version="14.1")
    r2 = cal_start(c2, hierarchy(c2)["Calendar"][0])
    assert set(by_subject(r2.adds)) == {"First v3"}, r2.resp
