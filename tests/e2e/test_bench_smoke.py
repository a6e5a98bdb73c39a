"""The benchmark suite (bench/run.py --quick) runs end to end and reports
every figure with a sane value.  Not a timed test: the numbers are not
judged here, only that the suite works (see bench/RESULTS.md)."""

import json
import os
import subprocess
import sys

from harness import SRCDIR

# The suite starts its own private Dovecot; this module's instance is
# not used, so it need not run the activesync service.
INSTANCE = dict(activesync=False)

BENCH = os.path.join(SRCDIR, "bench", "run.py")


def _number(d, key, lo=0.0, hi=None, strict=False):
    v = d.get(key)
    assert isinstance(v, (int, float)), "%s missing or not a number: %r" % (
        key, d)
    assert v > lo if strict else v >= lo, "%s = %r" % (key, v)
    if hi is not None:
        assert v <= hi, "%s = %r exceeds %r" % (key, v, hi)
    return v


def test_bench_quick(dc):
    assert os.path.exists(BENCH), BENCH
    r = subprocess.run([sys.executable, BENCH, "--quick", "--builddir",
                        dc.builddir], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=600)
    err = r.stderr.decode(errors="replace")
    assert r.returncode == 0, "bench --quick failed (%d):\n%s" % (
        r.returncode, err[-4000:])
    res = json.loads(r.stdout)
    assert "error" not in res, res["error"]
    assert res["quick"] is True
    n = res["parameters"]

    for level, pings in (("low", n["push_low"]), ("high", n["push_high"])):
        p = res["push"][level]
        assert p["pings"] == pings, p
        assert p["server_connections"] >= pings, p
        assert p["timeouts"] == 0, p
        assert p["samples"] >= n["deliveries"], p
        p50 = _number(p, "p50_ms")
        p99 = _number(p, "p99_ms", p50, 15000)
        _number(p, "max_ms", p99)
        for mode in (p, p["quiet"], p["loaded"]):
            # the server's share from the exported push events: one per
            # woken Ping, the queue wait part of the whole
            srv = mode["server"]
            assert srv["samples"] >= n["deliveries"], srv
            s99 = _number(srv, "p99_ms", _number(srv, "p50_ms"), 15000)
            _number(srv, "queue_p99_ms", 0, s99)
            assert srv["commands"]["Sync"]["count"] >= n["deliveries"], srv
        assert p["quiet"]["quiet"] is True, p["quiet"]

    idle = res["idle"]
    assert idle["pings"] == n["push_high"], idle
    assert idle["processes"] >= 1, idle
    _number(idle, "rss_kib_total", strict=True)
    _number(idle, "rss_kib_per_ping", strict=True)
    _number(idle, "cpu_seconds")
    _number(idle, "interval_s", n["idle_secs"] * 0.9)

    s = res["initial_sync"]
    assert s["messages"] == n["bulk_messages"], s
    _number(s, "mailbox_mb", strict=True)
    _number(s["doveadm_fetch"], "items_per_s", strict=True)
    for k in ("mime", "html"):
        assert s[k]["items"] == n["bulk_messages"], s[k]
        _number(s[k], "items_per_s", strict=True)
        _number(s[k], "mb_per_s", strict=True)
        _number(s[k], "ratio_to_doveadm", strict=True)

    nc = res["nochange_sync"]
    assert nc["small"]["messages"] == n["nochange_small"], nc
    assert nc["large"]["messages"] == n["nochange_large"], nc
    for k in ("small", "large"):
        _number(nc[k], "median_ms", strict=True)
        assert nc[k]["samples"] >= 30, nc[k]
    _number(nc, "ratio", strict=True)

    tp = res["throughput"]
    assert tp["devices"] == n["tp_devices"], tp
    _number(tp, "cycles", strict=True)
    _number(tp, "cycles_per_s", strict=True)

    lin = nc["linear"]
    assert lin["base_messages"] == n["linear_base"], lin
    assert lin["large_messages"] == n["nochange_large"], lin
    for k in ("base_us_per_item", "large_us_per_item", "per_item_ratio"):
        _number(lin, k, strict=True)
    for k in ("mime", "html"):
        assert len(s[k]["seconds_all"]) == n["initial_repeats"], s[k]
        _number(s[k], "cpu_ratio_to_doveadm", strict=True)

    # every figure of the table, each with its target
    assert set(res["targets"]) == {
        "initial_sync_ratio_mime", "initial_sync_ratio_html",
        "initial_sync_cpu_ratio_mime", "initial_sync_cpu_ratio_html",
        "initial_sync_per_item_100k_vs_10k", "rss_kib_per_ping",
        "push_p99_ms_high_loaded", "push_p99_ms_high",
        "nochange_ratio"}, res["targets"]
    for t in res["targets"].values():
        assert isinstance(t["met"], bool) and t["value"] is not None, t
