#!/usr/bin/python3
"""Heap of held requests, by allocation site: runs the activesync service
under valgrind's massif with N held Pings (one user, N devices), and
prints the heap at the peak, N Pings held, so that the bytes per held
Ping can be split by owner.

    bench/held-heap.py --builddir _build/bench [--pings 200] [--keepalive]

--keepalive holds each Ping on a connection that first carried the
device's setup (Provision, FolderSync, the first Sync), as the devices of
bench/run.py do; without it each Ping is its connection's first request.

Needs valgrind (ms_print); a plain build (no sanitizers)."""

import argparse
import asyncio
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "e2e"))

import easload  # noqa: E402
from harness import Background, DovecotInstance, ping, \
    plugin_dir_conf, sample_message, sync_all, wait_held, xall, \
    xrequire  # noqa: E402


async def hold_keepalive(dc, user, password, pings):
    """The bench's devices: setup and Ping on one kept-alive connection."""
    easload.TAG_NAMES.update(easload.load_tag_names(os.path.join(
        HERE, "..", "module", "wbxml", "wbxml-codepages.def")))
    T = easload.make_templates()
    for i in range(pings):
        d = easload.Device("127.0.0.1", dc.eas_port, user, password,
                           "heapka%05d" % i)
        await d.setup(T)
        mark = dc.log_offset()
        asyncio.ensure_future(d.ping(T, 3000, 3600))
        for _ in range(600):
            await asyncio.sleep(0.05)
            if "Ping: Holding for" in dc.log_since(mark):
                break
        else:
            raise RuntimeError("Ping %d not held" % i)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--builddir", required=True)
    ap.add_argument("--pings", type=int, default=200)
    ap.add_argument("--out", default="massif.out.activesync")
    ap.add_argument("--keepalive", action="store_true",
                    help="hold each Ping on the connection of its setup")
    args = ap.parse_args()
    out = os.path.abspath(args.out)

    dc = DovecotInstance(builddir=args.builddir, activesync=True,
                         name="held-heap",
                         plugin_settings={
                             "activesync_ping_max_heartbeat": "3000s",
                             "activesync_debug": "yes"},
                         extra_conf=plugin_dir_conf(args.builddir) + """
service activesync {
  client_limit = 20000
  process_limit = 1
  vsz_limit = 0
}
""")
    wrapper = os.path.join(dc.dir, "activesync-massif")
    with open(wrapper, "w") as f:
        f.write("#!/bin/sh\nexec valgrind --tool=massif --depth=40 "
                "--threshold=0.2 --peak-inaccuracy=0.5 "
                "--massif-out-file=%s %s \"$@\"\n" % (
                    out, dc.activesync_binary))
    os.chmod(wrapper, 0o755)
    dc.activesync_binary = wrapper
    dc._write_conf()
    held = []
    try:
        dc.start(timeout=120)
        user, password = "heap@example.test", "pw-heap"
        dc.add_user(user, password)
        dc.deliver(user, sample_message("first", to=user))
        if args.keepalive:
            loop = asyncio.new_event_loop()
            loop.run_until_complete(hold_keepalive(dc, user, password,
                                                   args.pings))
            print("%d Pings held; settling" % args.pings)
            loop.run_until_complete(asyncio.sleep(5))
        else:
            for i in range(args.pings):
                c = dc.eas_client(user, password, device_id="heap%05d" % i)
                c.timeout = 120
                r = c.foldersync()
                inbox_id = [xrequire(a, "ServerId")
                            for a in xall(r, "Changes/Add")
                            if xrequire(a, "Type") == "2"][0]
                sync_all(c, inbox_id)
                mark = dc.log_offset()
                held.append(Background(ping, c, 3000, [(inbox_id, "Email")],
                                       timeout=3600))
                wait_held(dc, mark, timeout=60)
            print("%d Pings held; settling" % len(held))
            time.sleep(5)
    finally:
        dc.stop(timeout=120)
    print(subprocess.run(["ms_print", out], stdout=subprocess.PIPE,
                         universal_newlines=True).stdout[:60000])


if __name__ == "__main__":
    main()
