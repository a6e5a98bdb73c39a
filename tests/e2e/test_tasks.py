"""Tasks folders (MS-ASTASK) and their items as iCalendar VTODOs.

A folder whose METADATA /private/vendor/kolab/folder-type is "task"
(".default" for the default one) is a Tasks folder for every version.
Each task is one message: a readable text/plain summary and the VTODO as
a text/calendar attachment (task.ics).  What the server stores is parsed
with python3-icalendar, an independent iCalendar reader; VTODOs are fed
to the server the way other clients write them (Thunderbird's
properties, time zones and alarms, as a single text/calendar message or
as an application/ics attachment), and a device's edit must keep what
the device doesn't know about."""

import datetime
import email
import re
import xml.etree.ElementTree as ET
from email import policy

import icalendar

from harness import body_pref, calendar_message, fetch_item_xml, \
    hierarchy, imap_append, \
    imap_count, imap_expunge, imap_flags, imap_session, itemops, ok_top, \
    new_account, set_folder_type, sync_request, SyncResult as Result, \
    xall, xfind, xtext

INSTANCE = dict(activesync=True)

T_TASKS, T_USER_TASKS = 7, 15
UTC = datetime.timezone.utc

# A task as Thunderbird writes it: its own PRODID and X- properties, a
# VTIMEZONE, an alarm relative to the due date and a second alarm, a
# parent task, a task in progress
THUNDERBIRD_VTODO = (
    "BEGIN:VCALENDAR\r\n"
    "PRODID:-//Mozilla.org/NONSGML Mozilla Calendar V1.1//EN\r\n"
    "VERSION:2.0\r\n"
    "BEGIN:VTIMEZONE\r\n"
    "TZID:Europe/Berlin\r\n"
    "BEGIN:DAYLIGHT\r\n"
    "TZOFFSETFROM:+0100\r\n"
    "TZOFFSETTO:+0200\r\n"
    "TZNAME:CEST\r\n"
    "DTSTART:19700329T020000\r\n"
    "RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3\r\n"
    "END:DAYLIGHT\r\n"
    "BEGIN:STANDARD\r\n"
    "TZOFFSETFROM:+0200\r\n"
    "TZOFFSETTO:+0100\r\n"
    "TZNAME:CET\r\n"
    "DTSTART:19701025T030000\r\n"
    "RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10\r\n"
    "END:STANDARD\r\n"
    "END:VTIMEZONE\r\n"
    "BEGIN:VTODO\r\n"
    "CREATED:20261201T100000Z\r\n"
    "LAST-MODIFIED:20261201T100500Z\r\n"
    "DTSTAMP:20261201T100500Z\r\n"
    "UID:5c3e27aa-9f6b-4d4e-8a01-tb0000000001\r\n"
    "SUMMARY:Quarterly report\r\n"
    "STATUS:IN-PROCESS\r\n"
    "PERCENT-COMPLETE:40\r\n"
    "PRIORITY:1\r\n"
    "CLASS:CONFIDENTIAL\r\n"
    "CATEGORIES:Work,Q4\r\n"
    "DTSTART;TZID=Europe/Berlin:20261210T090000\r\n"
    "DUE;TZID=Europe/Berlin:20261214T170000\r\n"
    "RELATED-TO;RELTYPE=PARENT:5c3e27aa-parent\r\n"
    "X-MOZ-GENERATION:2\r\n"
    "SEQUENCE:1\r\n"
    "DESCRIPTION:Numbers from\\nthe sales team\r\n"
    "BEGIN:VALARM\r\n"
    "ACTION:DISPLAY\r\n"
    "TRIGGER;VALUE=DURATION;RELATED=END:-PT30M\r\n"
    "DESCRIPTION:Default Mozilla Description\r\n"
    "END:VALARM\r\n"
    "BEGIN:VALARM\r\n"
    "ACTION:AUDIO\r\n"
    "TRIGGER:-P1D\r\n"
    "END:VALARM\r\n"
    "END:VTODO\r\n"
    "END:VCALENDAR\r\n")

# A plain one, all-day, as an application/ics attachment
ICS_VTODO = (
    "BEGIN:VCALENDAR\r\n"
    "PRODID:-//Example Corp.//Other Client//EN\r\n"
    "VERSION:2.0\r\n"
    "BEGIN:VTODO\r\n"
    "UID:other-client-42\r\n"
    "DTSTAMP:20261201T080000Z\r\n"
    "SUMMARY:Renew passport\r\n"
    "DUE;VALUE=DATE:20270115\r\n"
    "STATUS:NEEDS-ACTION\r\n"
    "END:VTODO\r\n"
    "END:VCALENDAR\r\n")




def vtodo_of(msg):
    """The first VTODO of a message's calendar part, parsed by
    python3-icalendar, or None"""
    for part in msg.walk():
        if part.get_content_type() in ("text/calendar", "application/ics"):
            try:
                cal = icalendar.Calendar.from_ical(
                    part.get_payload(decode=True))
            except ValueError:
                return None
            todos = cal.walk("VTODO")
            return todos[0] if todos else None
    return None


def imap_tasks(dc, c, mailbox):
    """{SUMMARY: (uid, message, vtodo)} of the folder's parsable tasks"""
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
        todo = vtodo_of(msg)
        if todo is not None:
            out[str(todo.get("SUMMARY"))] = (uid, msg, todo)
    return out



def categories(todo):
    cats = todo.get("CATEGORIES")
    if cats is None:
        return []
    if not isinstance(cats, list):
        cats = [cats]
    return [str(v) for cat in cats for v in cat.cats]


def task_sync(c, coll, key, **kw):
    return Result(sync_request(c, coll, key, cls="Tasks",
                               xmlns='xmlns:tasks="Tasks:"', **kw))


def tasks_start(c, coll, options=None):
    r = task_sync(c, coll, "0").ok()
    assert r.key == "1" and not r.adds, r.resp
    return task_sync(c, coll, r.key,
                     options=options or body_pref(1)).ok()


def tasks_cmd(c, coll, key, commands):
    return task_sync(c, coll, key, options=body_pref(1),
                     commands=commands).ok()


def by_subject(items):
    return {xtext(a, "ApplicationData/Tasks:Subject"): a for a in items}


def field(item, name):
    return xtext(item, "ApplicationData/Tasks:" + name)


def setup(dc, tag, version):
    c = new_account(dc, tag, version=version)
    imap = imap_session(dc, c)
    try:
        for name in ("Tasks", "Chores"):
            assert imap.create('"%s"' % name)[0] == "OK"
    finally:
        imap.logout()
    set_folder_type(dc, c, "Tasks", "task.default")
    set_folder_type(dc, c, "Chores", "task")
    imap_append(dc, c, "Tasks", calendar_message("Quarterly report",
                                                 THUNDERBIRD_VTODO))
    imap_append(dc, c, "Tasks", calendar_message("Renew passport",
                                                 ICS_VTODO, "attached"))
    # not a task: doesn't parse, and a calendar with only an event
    imap_append(dc, c, "Tasks", calendar_message(
        "Broken", "BEGIN:VCALENDAR\r\nthis is not iCalendar\r\n"))
    imap_append(dc, c, "Tasks", calendar_message(
        "Event", "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\n"
        "UID:e1\r\nDTSTART:20261201T100000Z\r\nSUMMARY:Event\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"))
    return c


def test_tasks_folders(dc):
    for version in ("12.1", "14.1", "16.1"):
        c = setup(dc, "tfold" + version.replace(".", ""), version)
        h = hierarchy(c)
        assert h["Tasks"][1] == T_TASKS, h
        assert h["Chores"][1] == T_USER_TASKS, h


DEVICE_ADD = (
    "<Add><ClientId>t1</ClientId><ApplicationData>"
    "<airsyncbase:Body><airsyncbase:Type>1</airsyncbase:Type>"
    "<airsyncbase:Data>Call the bank\nAsk about fees</airsyncbase:Data>"
    "</airsyncbase:Body>"
    "<tasks:Subject>Bank \u00e9t\u00e9</tasks:Subject>"
    "<tasks:Importance>2</tasks:Importance>"
    "<tasks:UTCStartDate>2026-12-07T08:00:00.000Z</tasks:UTCStartDate>"
    "<tasks:StartDate>2026-12-07T09:00:00.000Z</tasks:StartDate>"
    "<tasks:UTCDueDate>2026-12-09T16:00:00.000Z</tasks:UTCDueDate>"
    "<tasks:DueDate>2026-12-09T17:00:00.000Z</tasks:DueDate>"
    "<tasks:Categories><tasks:Category>Money</tasks:Category>"
    "<tasks:Category>Errands today</tasks:Category></tasks:Categories>"
    "<tasks:Recurrence><tasks:Recurrence_Type>1</tasks:Recurrence_Type>"
    "<tasks:Recurrence_Start>2026-12-07T09:00:00.000Z</tasks:Recurrence_Start>"
    "<tasks:Recurrence_Until>2027-03-01T00:00:00.000Z</tasks:Recurrence_Until>"
    "<tasks:Recurrence_Interval>2</tasks:Recurrence_Interval>"
    "<tasks:Recurrence_DayOfWeek>10</tasks:Recurrence_DayOfWeek>"
    "<tasks:Recurrence_Regenerate>1</tasks:Recurrence_Regenerate>"
    "<tasks:Recurrence_DeadOccur>0</tasks:Recurrence_DeadOccur>"
    "</tasks:Recurrence>"
    "<tasks:Complete>0</tasks:Complete>"
    "<tasks:Sensitivity>2</tasks:Sensitivity>"
    "<tasks:ReminderTime>2026-12-09T15:30:00.000Z</tasks:ReminderTime>"
    "<tasks:ReminderSet>1</tasks:ReminderSet>"
    "</ApplicationData></Add>")


def check_device_task(item, version):
    """The device's task as a device gets it back"""
    assert field(item, "Subject") == "Bank \u00e9t\u00e9"
    assert xtext(item, "ApplicationData/AirSyncBase:Body/AirSyncBase:Data"
                 ).replace("\r\n", "\n") == "Call the bank\nAsk about fees"
    assert field(item, "Importance") == "2"
    assert field(item, "UTCStartDate") == "2026-12-07T08:00:00.000Z"
    assert field(item, "StartDate") == "2026-12-07T09:00:00.000Z"
    assert field(item, "UTCDueDate") == "2026-12-09T16:00:00.000Z"
    assert field(item, "DueDate") == "2026-12-09T17:00:00.000Z"
    assert [e.text for e in xall(item, "ApplicationData/Tasks:Categories/"
                                 "Tasks:Category")] == \
        ["Money", "Errands today"]
    rec = xfind(item, "ApplicationData/Tasks:Recurrence")
    assert rec is not None
    assert xtext(rec, "Tasks:Recurrence_Type") == "1"
    assert xtext(rec, "Tasks:Recurrence_Start") == "2026-12-07T09:00:00.000Z"
    assert xtext(rec, "Tasks:Recurrence_Until") == "2027-03-01T00:00:00.000Z"
    assert xtext(rec, "Tasks:Recurrence_Interval") == "2"
    assert xtext(rec, "Tasks:Recurrence_DayOfWeek") == "10"
    assert xtext(rec, "Tasks:Recurrence_Regenerate") == "1"
    assert xtext(rec, "Tasks:Recurrence_DeadOccur") == "0"
    if version >= "14.1":
        assert xtext(rec, "Tasks:FirstDayOfWeek") == "1"
    else:
        assert xfind(rec, "Tasks:FirstDayOfWeek") is None
    assert field(item, "Complete") == "0"
    assert field(item, "Sensitivity") == "2"
    assert field(item, "ReminderSet") == "1"
    assert field(item, "ReminderTime") == "2026-12-09T15:30:00.000Z"


def check_tasks_sync(dc, version):
    tag = "tsync" + version.replace(".", "")
    c = setup(dc, tag, version)
    h = hierarchy(c)
    coll = h["Tasks"][0]

    # the first Sync: both tasks from other clients; the two that
    # aren't tasks are sent with their Subject only, with a warning each,
    # and stop nothing
    mark = dc.log_offset()
    r = tasks_start(c, coll)
    adds = by_subject(r.adds)
    assert set(adds) == {"Quarterly report", "Renew passport", "Broken",
                         "Event"}, r.resp
    assert not r.more, r.resp
    dc.wait_for_log_text(mark, "sent with its Subject only", 2)
    assert field(adds["Broken"], "Complete") == "0", r.resp
    # warned once: the next Sync has nothing to send and says nothing
    mark = dc.log_offset()
    r0 = task_sync(c, coll, r.key, options=body_pref(1)).ok()
    assert not r0.adds and not r0.changes and not r0.deletes, r0.resp
    r = r0
    assert "sent with its Subject only" not in dc.log_since(mark)
    tb = adds["Quarterly report"]
    tb_id = xtext(tb, "ServerId")
    assert xtext(tb, "ApplicationData/AirSyncBase:Body/AirSyncBase:Data"
                 ).replace("\r\n", "\n") == "Numbers from\nthe sales team"
    # 09:00 and 17:00 in Berlin in December: UTC+1
    assert field(tb, "UTCStartDate") == "2026-12-10T08:00:00.000Z", \
        ET.tostring(tb)
    assert field(tb, "StartDate") == "2026-12-10T09:00:00.000Z"
    assert field(tb, "UTCDueDate") == "2026-12-14T16:00:00.000Z"
    assert field(tb, "DueDate") == "2026-12-14T17:00:00.000Z"
    assert field(tb, "Importance") == "2"
    assert field(tb, "Sensitivity") == "3"
    assert field(tb, "Complete") == "0"
    assert field(tb, "ReminderSet") == "1"
    # 30 minutes before it is due
    assert field(tb, "ReminderTime") == "2026-12-14T15:30:00.000Z"
    assert sorted(e.text for e in xall(
        tb, "ApplicationData/Tasks:Categories/Tasks:Category")) == \
        ["Q4", "Work"]
    assert xfind(tb, "ApplicationData/Tasks:Recurrence") is None
    pp = adds["Renew passport"]
    assert field(pp, "DueDate") == "2027-01-15T00:00:00.000Z"
    assert field(pp, "ReminderSet") == "0"
    assert field(pp, "Importance") == "1"
    # nothing of the mail class
    assert xfind(tb, "ApplicationData/Email:Subject") is None

    # the device adds a task
    ra = tasks_cmd(c, coll, r.key, DEVICE_ADD)
    resp = xfind(ra.coll, "Responses/Add")
    assert xtext(resp, "Status") == "1", ra.resp
    new_id = xtext(resp, "ServerId")
    assert new_id.startswith(coll + ":"), ra.resp
    stored = imap_tasks(dc, c, "Tasks")
    subj = "Bank \u00e9t\u00e9"
    assert set(stored) == {"Quarterly report", "Renew passport", subj}
    uid, msg, todo = stored[subj]
    assert msg.get_content_type() == "multipart/mixed"
    assert str(msg["Subject"]) == subj
    parts = {p.get_content_type(): p for p in msg.walk()}
    assert "Bank" in parts["text/plain"].get_content()
    assert "Due: 2026-12-09T17:00:00" in parts["text/plain"].get_content()
    assert parts["text/calendar"].get_filename() == "task.ics"
    assert str(todo["UID"])
    assert str(todo["DESCRIPTION"]).replace("\r\n", "\n") == \
        "Call the bank\nAsk about fees"
    # the device's local time, floating, and its UTC as of the offset
    assert todo.decoded("DTSTART") == datetime.datetime(2026, 12, 7, 9, 0)
    assert todo.decoded("DUE") == datetime.datetime(2026, 12, 9, 17, 0)
    assert todo["DUE"].params["X-ACTIVESYNC-UTC-OFFSET"] == "+0100"
    assert str(todo["STATUS"]) == "NEEDS-ACTION"
    assert todo.decoded("PRIORITY") == 1
    assert str(todo["CLASS"]) == "PRIVATE"
    assert categories(todo) == ["Money", "Errands today"]
    rrule = todo["RRULE"]
    assert rrule["FREQ"] == ["WEEKLY"] and rrule["INTERVAL"] == [2], rrule
    assert rrule["BYDAY"] == ["MO", "WE"], rrule
    assert rrule["UNTIL"] == [datetime.datetime(2027, 3, 1, tzinfo=UTC)]
    # no FirstDayOfWeek: libwbxml2 encodes it in the Calendar page only
    # (the unit test has it); RFC 5545's default week start is Monday,
    # what a device is told for a weekly task
    assert "WKST" not in rrule, rrule
    assert str(todo["X-ACTIVESYNC-REGENERATE"]) == "1"
    alarms = todo.walk("VALARM")
    assert len(alarms) == 1
    assert alarms[0].decoded("TRIGGER") == \
        datetime.datetime(2026, 12, 9, 15, 30, tzinfo=UTC)
    assert str(alarms[0]["ACTION"]) == "DISPLAY"
    # the categories are keywords too, for mail clients
    flags = imap_flags(dc, c, uid, "Tasks")
    assert "Money" in flags and "$Cat:Errands=20today" in flags, flags
    # a second device gets the task as the first sent it
    c2 = dc.eas_client(c.user, c.password, device_id=tag.upper() + "TWO",
                       device_type="E2ETest", version=version)
    coll2 = hierarchy(c2)["Tasks"][0]
    # FilterType 8 (incomplete tasks) is accepted; none is complete yet
    r2 = tasks_start(c2, coll2, "<FilterType>8</FilterType>" + body_pref(1))
    assert set(by_subject(r2.adds)) == {"Quarterly report",
                                        "Renew passport", subj, "Broken",
                                        "Event"}, r2.resp
    check_device_task(by_subject(r2.adds)[subj], version)
    # ItemOperations Fetch gives the same task
    r = itemops(c2, fetch_item_xml(coll2, xtext(
        by_subject(r2.adds)[subj], "ServerId"), body_pref(1)))
    fetched = ok_top(r)
    assert xtext(fetched[0], "Status") == "1", r
    props = xfind(fetched[0], "Properties")
    assert xtext(props, "Tasks:Subject") == subj, r
    assert xtext(props, "Tasks:UTCDueDate") == "2026-12-09T16:00:00.000Z"
    assert xtext(xfind(props, "Tasks:Recurrence"),
                 "Tasks:Recurrence_DayOfWeek") == "10", r
    # the first device gets nothing back for it
    rn = task_sync(c, coll, ra.key, options=body_pref(1)).ok()
    assert not rn.adds and not rn.changes and not rn.deletes, rn.resp

    # the device edits Thunderbird's task: a new subject, completed.
    # What it doesn't know of stays.
    tb_uid, _, tb_todo = imap_tasks(dc, c, "Tasks")["Quarterly report"]
    rc = tasks_cmd(c, coll, rn.key, (
        "<Change><ServerId>%s</ServerId><ApplicationData>"
        "<airsyncbase:Body><airsyncbase:Type>1</airsyncbase:Type>"
        "<airsyncbase:Data>Numbers from\nthe sales team</airsyncbase:Data>"
        "</airsyncbase:Body>"
        "<tasks:Subject>Quarterly report (final)</tasks:Subject>"
        "<tasks:Importance>2</tasks:Importance>"
        "<tasks:UTCStartDate>2026-12-10T08:00:00.000Z</tasks:UTCStartDate>"
        "<tasks:StartDate>2026-12-10T09:00:00.000Z</tasks:StartDate>"
        "<tasks:UTCDueDate>2026-12-14T16:00:00.000Z</tasks:UTCDueDate>"
        "<tasks:DueDate>2026-12-14T17:00:00.000Z</tasks:DueDate>"
        "<tasks:Categories><tasks:Category>Work</tasks:Category>"
        "<tasks:Category>Q4</tasks:Category></tasks:Categories>"
        "<tasks:Complete>1</tasks:Complete>"
        "<tasks:DateCompleted>2026-12-12T10:00:00.000Z</tasks:DateCompleted>"
        "<tasks:Sensitivity>3</tasks:Sensitivity>"
        "<tasks:ReminderTime>2026-12-14T15:30:00.000Z</tasks:ReminderTime>"
        "<tasks:ReminderSet>1</tasks:ReminderSet>"
        "</ApplicationData></Change>" % tb_id))
    assert xfind(rc.coll, "Responses/Change") is None, rc.resp
    stored = imap_tasks(dc, c, "Tasks")
    assert "Quarterly report" not in stored, stored
    uid, msg, todo = stored["Quarterly report (final)"]
    assert uid != tb_uid
    assert str(todo["UID"]) == "5c3e27aa-9f6b-4d4e-8a01-tb0000000001"
    assert todo.decoded("SEQUENCE") == 2
    assert str(todo["STATUS"]) == "COMPLETED"
    assert todo.decoded("COMPLETED") == \
        datetime.datetime(2026, 12, 12, 10, 0, tzinfo=UTC)
    assert todo.decoded("PERCENT-COMPLETE") == 100
    assert str(todo["X-MOZ-GENERATION"]) == "2"
    assert str(todo["RELATED-TO"]) == "5c3e27aa-parent"
    assert todo["RELATED-TO"].params["RELTYPE"] == "PARENT"
    assert todo["DTSTART"].params["TZID"] == "Europe/Berlin"
    assert todo["DUE"].params["TZID"] == "Europe/Berlin"
    assert todo.decoded("DUE").utcoffset() == datetime.timedelta(hours=1)
    assert todo.decoded("PRIORITY") == 1
    assert str(todo["CLASS"]) == "CONFIDENTIAL"
    assert sorted(categories(todo)) == ["Q4", "Work"]
    alarms = todo.walk("VALARM")
    assert len(alarms) == 2, alarms
    assert alarms[0].decoded("TRIGGER") == -datetime.timedelta(minutes=30)
    assert alarms[0]["TRIGGER"].params["RELATED"] == "END"
    assert str(alarms[1]["ACTION"]) == "AUDIO"
    cal = icalendar.Calendar.from_ical(
        [p for p in msg.walk()
         if p.get_content_type() == "text/calendar"][0].get_payload(
             decode=True))
    assert cal.walk("VTIMEZONE"), cal
    assert str(cal["PRODID"]).startswith("-//Mozilla.org/")
    # the device keeps its ServerId and gets nothing back for it
    rn = task_sync(c, coll, rc.key, options=body_pref(1)).ok()
    assert not rn.adds and not rn.changes and not rn.deletes, rn.resp

    # a bad Add: Status 6, one log line, nothing stored
    before = imap_count(dc, c, "Tasks")
    mark = dc.log_offset()
    rb = tasks_cmd(c, coll, rn.key, (
        "<Add><ClientId>t2</ClientId><ApplicationData>"
        "<tasks:Subject>Bad date</tasks:Subject>"
        "<tasks:DueDate>next Tuesday</tasks:DueDate>"
        "<tasks:Complete>0</tasks:Complete>"
        "</ApplicationData></Add>"))
    assert xtext(rb.coll, "Responses/Add/Status") == "6", rb.resp
    dc.wait_for_log_text(mark, "Tasks item refused: invalid DueDate")
    assert imap_count(dc, c, "Tasks") == before
    # a contact sent to a tasks folder: refused the same way
    mark = dc.log_offset()
    rb = Result(sync_request(
        c, coll, rb.key, cls="Tasks", options=body_pref(1),
        xmlns='xmlns:tasks="Tasks:" xmlns:contacts="Contacts:"',
        commands="<Add><ClientId>t3</ClientId><ApplicationData>"
        "<contacts:FirstName>Ann</contacts:FirstName>"
        "<contacts:LastName>Smith</contacts:LastName>"
        "</ApplicationData></Add>")).ok()
    assert xtext(rb.coll, "Responses/Add/Status") == "6", rb.resp
    dc.wait_for_log_text(mark, "isn't a task element")
    assert imap_count(dc, c, "Tasks") == before

    # over IMAP: the passport task is replaced by a new version, and a
    # new task and another broken one come
    pp_id = xtext(pp, "ServerId")
    pp_uid = imap_tasks(dc, c, "Tasks")["Renew passport"][0]
    imap_append(dc, c, "Tasks", calendar_message(
        "Renew passport", ICS_VTODO.replace(
            "SUMMARY:Renew passport", "SUMMARY:Renew passport and ID"
        ).replace("STATUS:NEEDS-ACTION", "STATUS:COMPLETED\r\n"
                  "COMPLETED:20261220T120000Z"), "attached"))
    imap_expunge(dc, c, "Tasks", pp_uid)
    imap_append(dc, c, "Tasks", calendar_message(
        "Broken again", "BEGIN:VCALENDAR\r\nBEGIN:VTODO\r\n"))
    imap_append(dc, c, "Tasks", calendar_message("Water plants", (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//x//y//EN\r\n"
        "BEGIN:VTODO\r\nUID:plants-1\r\nDTSTAMP:20261201T080000Z\r\n"
        "SUMMARY:Water plants\r\nDTSTART:20261201T070000Z\r\n"
        "RRULE:FREQ=MONTHLY;BYDAY=2TU\r\nPRIORITY:9\r\nCLASS:PRIVATE\r\n"
        "END:VTODO\r\nEND:VCALENDAR\r\n")))
    ri = task_sync(c, coll, rb.key, options=body_pref(1)).ok()
    # the replaced task (same UID) is a Change under the ServerId the
    # device has
    assert not ri.deletes, ri.resp
    changes = by_subject(ri.changes)
    assert set(changes) == {"Renew passport and ID"}, ri.resp
    assert xtext(changes["Renew passport and ID"], "ServerId") == pp_id
    assert field(changes["Renew passport and ID"], "Complete") == "1"
    assert field(changes["Renew passport and ID"], "DateCompleted") == \
        "2026-12-20T12:00:00.000Z"
    adds = by_subject(ri.adds)
    assert set(adds) == {"Broken again", "Water plants"}, ri.resp
    wp = adds["Water plants"]
    assert field(wp, "Importance") == "0"
    assert field(wp, "Sensitivity") == "2"
    rec = xfind(wp, "ApplicationData/Tasks:Recurrence")
    assert xtext(rec, "Tasks:Recurrence_Type") == "3"
    assert xtext(rec, "Tasks:Recurrence_DayOfWeek") == "4"
    assert xtext(rec, "Tasks:Recurrence_WeekOfMonth") == "2"
    assert xtext(rec, "Tasks:Recurrence_Start") == "2026-12-01T07:00:00.000Z"

    # deleted over IMAP: a Delete on the next Sync
    imap_expunge(dc, c, "Tasks", imap_tasks(dc, c, "Tasks")[
        "Water plants"][0])
    rd = task_sync(c, coll, ri.key, options=body_pref(1)).ok()
    assert rd.deletes == [xtext(wp, "ServerId")], rd.resp
    assert not rd.adds, rd.resp

    # the device deletes its task: expunged
    rx = task_sync(c, coll, rd.key, options=body_pref(1), commands=(
        "<Delete><ServerId>%s</ServerId></Delete>" % new_id),
        deletes_as_moves=0).ok()
    assert xfind(rx.coll, "Responses") is None, rx.resp
    stored = imap_tasks(dc, c, "Tasks")
    assert subj not in stored, stored
    assert set(stored) == {"Quarterly report (final)",
                           "Renew passport and ID"}, stored

    # the second device, with FilterType 8 (incomplete tasks), drops the
    # tasks completed meanwhile (on the first device and over IMAP): a
    # SoftDelete under the ServerIds it has, and they aren't sent again
    ids2 = {k: xtext(v, "ServerId") for k, v in by_subject(r2.adds).items()}
    opts8 = "<FilterType>8</FilterType>" + body_pref(1)
    rs2 = task_sync(c2, coll2, r2.key, options=opts8).ok()
    assert sorted(rs2.soft_deletes) == sorted(
        [ids2["Quarterly report"], ids2["Renew passport"]]), rs2.resp
    assert rs2.deletes == [ids2[subj]], rs2.resp
    assert set(by_subject(rs2.adds)) == {"Broken again"}, rs2.resp
    assert not rs2.changes, rs2.resp
    rs3 = task_sync(c2, coll2, rs2.key, options=opts8).ok()
    assert not rs3.adds and not rs3.changes and not rs3.deletes and \
        not rs3.soft_deletes, rs3.resp
    # without the filter, it gets them back
    rs4 = task_sync(c2, coll2, rs3.key, options=body_pref(1)).ok()
    assert set(by_subject(rs4.adds)) == {"Quarterly report (final)",
                                         "Renew passport and ID"}, rs4.resp


def test_tasks_sync_14_1(dc):
    check_tasks_sync(dc, "14.1")


def test_tasks_sync_16_1(dc):
    check_tasks_sync(dc, "16.1")


def sync_supported(c, coll, supported):
    """SyncKey 0 declaring <Supported> elements (MS-ASCMD 2.2.3.168)"""
    return Result(c.request_provisioned(
        "Sync", '<Sync xmlns="AirSync:" xmlns:tasks="Tasks:"><Collections>'
        '<Collection><Class>Tasks</Class><SyncKey>0</SyncKey>'
        '<CollectionId>%s</CollectionId><Supported>%s</Supported>'
        '</Collection></Collections></Sync>' % (
            coll, "".join("<tasks:%s/>" % s for s in supported))))


def test_tasks_ghosted(dc):
    """A device that declared <Supported> leaves the others alone (they
    are ghosted and kept); one that didn't deletes what it omits, but
    never what it can't see (other clients' properties)"""
    for supported in (("Subject", "Complete", "DateCompleted"), None):
        c = new_account(dc, "tghost" if supported else "tomit",
                        version="16.1")
        imap = imap_session(dc, c)
        try:
            assert imap.create('"Tasks"')[0] == "OK"
        finally:
            imap.logout()
        set_folder_type(dc, c, "Tasks", "task.default")
        imap_append(dc, c, "Tasks", calendar_message("Quarterly report",
                                                     THUNDERBIRD_VTODO))
        coll = hierarchy(c)["Tasks"][0]
        if supported:
            r = sync_supported(c, coll, supported).ok()
        else:
            r = task_sync(c, coll, "0").ok()
        r = task_sync(c, coll, r.key, options=body_pref(1)).ok()
        sid = xtext(r.adds[0], "ServerId")
        rc = tasks_cmd(c, coll, r.key, (
            "<Change><ServerId>%s</ServerId><ApplicationData>"
            "<tasks:Subject>Report sent</tasks:Subject>"
            "<tasks:Complete>1</tasks:Complete>"
            "<tasks:DateCompleted>2026-12-13T09:00:00.000Z"
            "</tasks:DateCompleted></ApplicationData></Change>" % sid))
        assert xfind(rc.coll, "Responses/Change") is None, rc.resp
        stored = imap_tasks(dc, c, "Tasks")
        assert set(stored) == {"Report sent"}, stored
        todo = stored["Report sent"][2]
        assert str(todo["STATUS"]) == "COMPLETED"
        # never seen by any device: kept either way
        assert str(todo["X-MOZ-GENERATION"]) == "2"
        assert str(todo["RELATED-TO"]) == "5c3e27aa-parent"
        # the body isn't deleted by leaving it out
        assert "sales team" in str(todo["DESCRIPTION"])
        kept = ("DTSTART", "DUE", "PRIORITY", "CLASS", "CATEGORIES")
        if supported:
            for name in kept:
                assert name in todo, (name, todo.to_ical())
            assert todo["DUE"].params["TZID"] == "Europe/Berlin"
            assert len(todo.walk("VALARM")) == 2
        else:
            for name in kept:
                assert name not in todo, (name, todo.to_ical())
            assert not todo.walk("VALARM")
