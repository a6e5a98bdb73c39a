#!/usr/bin/env python3
"""GAL benchmark: a private Dovecot whose passwd-file lists N users
(default 10,000), then Search Store=GAL over HTTP+WBXML as a phone sends
it. Reports the first search (which reads the whole list from the userdb
through Dovecot's auth service and stores it) and the latency of prefix
searches afterwards (p50/p99/max of the HTTP round trip), with the
matches they found, then adds 10 users and times the search that brings
them in by an incremental refresh (only the added users are looked up
and written).

    python3 bench/gal.py --builddir _build/bench [--users 10000] [--json F]

Use a plain build (bench/run.sh makes one in _build/bench): sanitizers
would be what is measured."""

import argparse
import json
import os
import random
import re
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "tests", "e2e"))
import harness  # noqa: E402

FIRST = ["anna", "bernd", "carla", "david", "elena", "felix", "greta",
         "hans", "ida", "jonas", "karin", "lukas", "maria", "nina", "oskar",
         "paula", "quirin", "rosa", "stefan", "tina", "uwe", "vera",
         "walter", "xenia", "yusuf", "zoe"]
LAST = ["smith", "jones", "meyer", "schulz", "novak", "rossi", "garcia",
        "kowalski", "dubois", "jensen", "silva", "tanaka", "kim", "nguyen",
        "olsen", "weber", "fischer", "wagner", "becker", "hoffmann"]


def pct(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--builddir")
    ap.add_argument("--users", type=int, default=10000)
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--json")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()

    rnd = random.Random(7)
    users = {}
    for i in range(args.users):
        name = "%s.%s%d@example.test" % (rnd.choice(FIRST), rnd.choice(LAST),
                                          i)
        fields = None
        if i % 3 == 0:
            fields = {"activesync_gal_company": "Acme",
                      "activesync_gal_phone": "+49-30-%07d" % i}
        users[name] = ("pw", fields)
    dc = harness.DovecotInstance(
        builddir=args.builddir, keep=args.keep, activesync=True,
        name="bench-gal", passwd_single=True,
        plugin_settings={"activesync_gal_refresh_interval": "1 day",
                         # the server's own timing of each GAL search
                         "activesync_debug": "yes"})
    try:
        dc.add_users(users)
        dc.start()
        me = next(iter(users))
        c = dc.eas_client(me, "pw", device_id="BENCHGAL",
                          device_type="Bench", version="14.1")

        def search(query, client=None):
            client = client or c
            xml = ('<Search xmlns="Search:"><Store><Name>GAL</Name>'
                   '<Query>%s</Query><Options><Range>0-49</Range>'
                   '</Options></Store></Search>' % query)
            t0 = time.monotonic()
            r = client.request_provisioned("Search", xml)
            dt = time.monotonic() - t0
            assert r.status == 200, r
            assert harness.xtext(r, "Search/Response/Store/Status") == "1", r
            return dt, int(harness.xtext(r, "Search/Response/Store/Total"))

        c.provision()
        first_s, first_total = search("anna")
        queries = []
        for _ in range(args.queries):
            kind = rnd.random()
            if kind < 0.4:
                q = rnd.choice(FIRST)[:rnd.randint(1, 3)]
            elif kind < 0.8:
                q = rnd.choice(LAST)[:rnd.randint(2, 5)]
            else:
                q = "%s.%s" % (rnd.choice(FIRST), rnd.choice(LAST)[:2])
            queries.append(q)
        times, totals = [], []
        mark = dc.log_offset()
        for q in queries:
            dt, total = search(q)
            times.append(dt)
            totals.append(total)
        # the index walk alone, as the server timed it
        server = [int(m.group(1)) / 1000.0 for m in re.finditer(
            r"GAL: \d+ matches, returned \d+ from \d+ in (\d+) us",
            dc.log_since(mark))]
        # the same request finding nothing: what isn't the GAL (HTTP,
        # auth cache, opening the user, WBXML)
        empty = [search("qqqq")[0] for _ in range(50)]

        # 10 users more, brought in by the search of a user whose refresh
        # interval (a userdb field) is 1 s: an incremental refresh
        added = {"zz.incremental%d@example.test" % i: ("pw", None)
                 for i in range(10)}
        inc_user = "bench.incremental@example.test"
        added[inc_user] = ("pw", {"activesync_gal_refresh_interval": "1"})
        mark = dc.log_offset()
        dc.add_users(added)
        c2 = dc.eas_client(inc_user, "pw", device_id="BENCHGAL2",
                           device_type="Bench", version="14.1")
        c2.provision()
        time.sleep(1.1)
        inc_s, inc_total = search("zz.incremental", client=c2)
        assert inc_total == 10, inc_total
        inc_log = [line for line in dc.log_since(mark).splitlines()
                   if "GAL: incremental refresh" in line]
        res = {
            "users": args.users,
            "first_search_with_refresh_ms": round(first_s * 1000, 1),
            "first_search_total": first_total,
            "queries": len(queries),
            "prefix_search_p50_ms": round(pct(times, 50) * 1000, 2),
            "prefix_search_p99_ms": round(pct(times, 99) * 1000, 2),
            "prefix_search_max_ms": round(max(times) * 1000, 2),
            "no_match_search_p50_ms": round(pct(empty, 50) * 1000, 2),
            "server_gal_search_p50_ms": round(pct(server, 50), 2)
            if server else None,
            "server_gal_search_p99_ms": round(pct(server, 99), 2)
            if server else None,
            "matches_p50": pct(totals, 50),
            "matches_max": max(totals),
            "search_with_incremental_refresh_ms": round(inc_s * 1000, 1),
        }
        if inc_log:
            res["incremental_refresh_log"] = \
                inc_log[-1].split("Info: ", 1)[-1]
        refresh = [line for line in dc.log().splitlines()
                   if "GAL: first refresh" in line]
        if refresh:
            res["refresh_log"] = refresh[-1].split("Info: ", 1)[-1]
        print(json.dumps(res, indent=2))
        if args.json:
            with open(args.json, "w") as f:
                json.dump(res, f, indent=2)
    finally:
        dc.cleanup() if not args.keep else dc.stop()


if __name__ == "__main__":
    main()
