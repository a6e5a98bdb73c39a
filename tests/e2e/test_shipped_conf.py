"""The shipped conf.d/20-activesync.conf works as it is.

Every instance includes it; the harness sets only paths, ports, the
executable and the user it runs as (plus vsz_limit = 0 for a sanitizer
build, whose shadow memory no vsz_limit allows).  Here: the effective
service settings are the shipped ones, the running process has the
shipped address space limit, and it answers OPTIONS, Provision and
FolderSync under it.  In a sanitizer build the limit can't apply: the
test checks that the override is the only difference and reports SKIP."""

import os
import re

from harness import folders, new_account, proc_status_kb, service_pids, \
    TestSkipped, xrequire

INSTANCE = dict(activesync=True)

# settings of service activesync { } the harness must leave as shipped
SIZING = ("client_limit", "process_limit", "service_count", "vsz_limit")


def _size_bytes(value):
    """A Dovecot size ("512M", "512 M", "1G", "0") in bytes."""
    m = re.fullmatch(r"(\d+)\s*([kKmMgGtT]?)[bB]?", value.strip())
    assert m, value
    return int(m.group(1)) * 1024 ** " KMGT".index(
        (m.group(2) or " ").upper())


def _shipped_service_settings(dc):
    """{setting: value} of service activesync { } in the shipped file."""
    with open(dc.activesync_conf_path()) as f:
        text = f.read()
    block = re.search(r"^service activesync \{\n(.*?)^\}", text,
                      re.M | re.S)
    assert block, "no service activesync block in the shipped file"
    out = {}
    for line in block.group(1).splitlines():
        m = re.match(r"  (\w+) = (.*)$", line)
        if m and m.group(1) in SIZING:
            out[m.group(1)] = m.group(2).strip()
    assert set(out) == set(SIZING), out
    return out


def _address_space_limit(pid):
    with open("/proc/%d/limits" % pid) as f:
        for line in f:
            if line.startswith("Max address space"):
                soft = line.split()[3]
                return None if soft == "unlimited" else int(soft)
    raise AssertionError("no address space limit line for %d" % pid)


def test_service_runs_under_shipped_limits(dc):
    assert dc.activesync_conf_path() is not None
    with open(dc.conf_path) as f:
        assert "!include %s\n" % dc.activesync_conf_path() in f.read()
    shipped = _shipped_service_settings(dc)
    effective = {k: dc.doveconf_value("service/activesync/" + k)
                 for k in SIZING}
    for k in ("client_limit", "process_limit", "service_count"):
        assert effective[k] == shipped[k], (k, effective, shipped)
    assert "activesync" in dc.protocols, dc.protocols

    if dc.sanitizer_build:
        # the one override, and only there
        assert _size_bytes(effective["vsz_limit"]) == 0, effective
        raise TestSkipped(
            "sanitizer build: ASan's shadow memory needs vsz_limit = 0, "
            "the shipped vsz_limit = %s is not applied (a plain build "
            "runs this test)" % shipped["vsz_limit"])

    limit = _size_bytes(shipped["vsz_limit"])
    assert limit > 0
    assert _size_bytes(effective["vsz_limit"]) == limit, (effective, shipped)

    c = new_account(dc, "shipped")
    r = c.options()
    assert r.status == 200, r
    assert "14.1" in (r.header("MS-ASProtocolVersions") or ""), r.headers
    r = c.provision()
    assert xrequire(r, "Provision/Status") == "1", r
    f = folders(c)
    assert 2 in f, f

    # the processes that answered run with the shipped limit
    pids = service_pids(dc)
    assert pids, os.listdir(dc.base_dir)
    for pid in pids:
        assert _address_space_limit(pid) == limit, pid
        # and use far less than it
        assert proc_status_kb(pid, "VmSize") * 1024 < limit, pid
