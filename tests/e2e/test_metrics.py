"""Statistics: the event every finished command emits
(activesync_command_finished), counted by the example metric that
conf.d/20-activesync.conf ships (taken from the file and uncommented, so
the text admins copy is what runs here)."""

import os
import re

from harness import deliver_plain, folders, new_account, start, SRCDIR, \
    T_INBOX


def shipped_metric(name="activesync_commands"):
    with open(os.path.join(SRCDIR, "conf.d", "20-activesync.conf")) as f:
        text = f.read()
    m = re.search(r"^#metric %s \{\n(?:#.*\n)*?#\}\n" % name, text, re.M)
    assert m, "conf.d has no example metric block %s" % name
    return "\n".join(line[1:] for line in m.group(0).splitlines()) + "\n"


INSTANCE = dict(activesync=True, extra_conf=shipped_metric(),
                plugin_settings={"activesync_debug": "yes"})


def stats(dc):
    """{metric name: {column: value}} of doveadm stats dump"""
    out = dc.doveadm("stats", "dump")
    lines = [line.split("\t") for line in out.splitlines() if line]
    head = lines[0]
    rows = {}
    for row in lines[1:]:
        rows.setdefault(row[0], []).append(dict(zip(head, row)))
    return rows


def test_command_finished_event_and_metric(dc):
    c = new_account(dc, "metrics")
    for i in range(3):
        deliver_plain(dc, c, "Metric %d" % i)
    mark = dc.log_offset()
    inbox = folders(c)[T_INBOX]
    r = start(c, inbox)
    assert len(r.adds) == 3, r.resp
    # the debug line of the event: FolderSync status 1, Sync 3 items
    dc.wait_for_log_text(mark, "FolderSync: Finished: HTTP 200, Status 1,")
    line = dc.wait_for_log(r"Sync: Finished: HTTP 200, \d+ bytes, 3 items",
                           since=mark)
    assert "<%s>" % c.device_id in line, line
    # an unknown command is counted with its HTTP status, under one name
    # whatever the client sent
    resp = c.request("NoSuchCommand")
    assert resp.status == 501, resp.status

    rows = stats(dc)
    by_name = {name: rows[name] for name in rows
               if name.startswith("activesync_commands")}
    assert by_name, rows.keys()
    total = by_name["activesync_commands"]
    counts = {r["field"]: int(r["count"]) for r in total}
    # FolderSync, two Syncs (the priming one and the one with items) and
    # the unknown command, at least
    assert counts["duration"] >= 4, total
    sums = {r["field"]: int(r["sum"]) for r in total}
    assert sums["items"] >= 3, total
    assert sums["bytes"] > 0, total
    # grouped by command and HTTP status
    names = " ".join(by_name)
    assert "Sync" in names and "FolderSync" in names, names
    assert "activesync_commands_unknown_501" in by_name, names
    assert "NoSuchCommand" not in names, names
