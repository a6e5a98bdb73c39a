#!/usr/bin/env python3
"""Benchmark suite for the activesync service: push latency, idle cost of
held Pings, initial Sync rate, no-change Sync cost, Sync+Ping throughput.

One command, against a private Dovecot (tests/e2e/harness.py) with limits
raised for thousands of connections:

    python3 bench/run.py [--builddir BUILD] [--quick] [--json FILE]

Prints one JSON object on stdout and a short table on stderr; exits
non-zero if a phase fails or the global timeout (--timeout) expires.
--quick runs every phase with small numbers (well under two minutes) as
a smoke test.  See bench/RESULTS.md for what each figure means.
"""

import argparse
import asyncio
import json
import os
import platform
import random
import resource
import signal
import statistics
import subprocess
import sys
import time

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(SRCDIR, "tests", "e2e"))

import easload  # noqa: E402
import mailgen  # noqa: E402
import harness  # noqa: E402

FULL = dict(push_low=1000, push_high=10000, users_low=1000, users_high=5000,
            deliveries=1000, idle_secs=30, bulk_messages=10000,
            initial_repeats=3, nochange_small=100, linear_base=10000,
            nochange_large=100000, nochange_samples=200,
            tp_devices=100, tp_secs=30, timeout=3600)
QUICK = dict(push_low=20, push_high=100, users_low=10, users_high=50,
             deliveries=40, idle_secs=3, bulk_messages=300,
             initial_repeats=1, nochange_small=100, linear_base=300,
             nochange_large=3000, nochange_samples=30,
             tp_devices=10, tp_secs=4, timeout=300)

PING_HEARTBEAT = 3000          # seconds: Pings stay held during a phase
SETUP_CONCURRENCY = 64
DELIVERY_WORKERS = 8
SETUP_CHUNK = 500
PUSH_WAIT = 15.0               # a Ping not answered by then is a timeout
NOCHANGE_BUDGET = 90.0        # seconds of no-change Syncs per folder, then
NOCHANGE_MIN_SAMPLES = 30     # stop (after at least this many samples)
NOCHANGE_SETTLE = 3.0          # seconds between initial and timed Syncs
HELD_SETTLE = 1.0              # a Ping sent this long ago counts as held
QUIET_SETTLE = 0.05            # quiet: the last Ping sent this long ago

# name: (where in the result, limit, "<", "<=" or ">=")
TARGETS = {
    "initial_sync_ratio_mime": (("initial_sync", "mime", "ratio_to_doveadm"),
                                0.8, ">="),
    "initial_sync_ratio_html": (("initial_sync", "html", "ratio_to_doveadm"),
                                0.8, ">="),
    "initial_sync_cpu_ratio_mime": (
        ("initial_sync", "mime", "cpu_ratio_to_doveadm"), 0.9, ">="),
    "initial_sync_cpu_ratio_html": (
        ("initial_sync", "html", "cpu_ratio_to_doveadm"), 0.9, ">="),
    "initial_sync_per_item_100k_vs_10k": (
        ("nochange_sync", "linear", "per_item_ratio"), 1.2, "<="),
    "rss_kib_per_ping": (("idle", "rss_kib_per_ping"), 16.0, "<="),
    "push_p99_ms_high_loaded": (("push", "high", "loaded", "p99_ms"),
                                20.0, "<"),
    "push_p99_ms_high": (("push", "high", "p99_ms"), 5.0, "<"),
    "nochange_ratio": (("nochange_sync", "ratio"), 1.2, "<="),
}


class PhaseError(Exception):
    pass


def log(msg):
    sys.stderr.write("[bench %s] %s\n" % (time.strftime("%H:%M:%S"), msg))
    sys.stderr.flush()


def pct(values, p):
    """Nearest-rank percentile."""
    if not values:
        return None
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(round(p / 100.0 * len(s) + 0.5)) - 1))
    return s[k]


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else 65536
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return want


# ---------------------------------------------------------------- /proc

def activesync_pids(master_pid):
    """activesync processes of our Dovecot (children of its master:
    other instances may run on the same machine)."""
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                stat = f.read()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        ppid = int(stat[stat.rindex(")") + 1:].split()[1])
        if comm == "activesync" and ppid == master_pid:
            pids.append(int(d))
    return pids


def proc_rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def proc_cpu_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])   # utime + stime


def activesync_usage(master_pid):
    rss, ticks, pids = 0, {}, activesync_pids(master_pid)
    for pid in pids:
        try:
            rss += proc_rss_kib(pid)
            ticks[pid] = proc_cpu_ticks(pid)
        except OSError:
            pass
    return rss, ticks


QLEN_PATH = "/proc/sys/net/unix/max_dgram_qlen"
QLEN_WANTED = 1024


def raise_dgram_qlen():
    """The notify socket of a service process queues at most
    net.unix.max_dgram_qlen datagrams (10 by default); conf.d recommends
    raising it for busy servers, and so does the bench when it may.
    Returns (old, now)."""
    try:
        with open(QLEN_PATH) as f:
            old = int(f.read())
    except (OSError, ValueError):
        return None, None
    if old >= QLEN_WANTED or os.geteuid() != 0:
        return old, old
    with open(QLEN_PATH, "w") as f:
        f.write("%d\n" % QLEN_WANTED)
    return old, QLEN_WANTED


def restore_dgram_qlen(old, now):
    if old is not None and now != old:
        with open(QLEN_PATH, "w") as f:
            f.write("%d\n" % old)


def mem_available_kib():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1])
    return 4 << 20


def established_to(port):
    """Established TCP connections whose local port is `port`."""
    n = 0
    hexport = ":%04X" % port
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(path) as f:
                next(f)
                for line in f:
                    parts = line.split(None, 4)
                    if parts[1].endswith(hexport) and parts[3] == "01":
                        n += 1
        except OSError:
            pass
    return n


# ---------------------------------------------------------------- instance

def make_instance(builddir, keep, plugin=True, processes=2):
    extra = """
default_client_limit = 20000
default_process_limit = 200
service activesync {
  client_limit = %d
  process_limit = %d
  process_min_avail = %d
}""" % (24000 // processes, processes, processes) + """
service anvil {
  client_limit = 20000
}
service auth {
  client_limit = 20000
}
service lmtp {
  process_min_avail = 4
}
# the server's share of each push (module/commands: push_usecs from the
# datagram's arrival at the process to the response, push_queue_usecs
# the part it waited for the process), one log line per woken request
event_exporter pushlog {
  format = json
  format_args = time-unix
  transport = log
}
metric activesync_push {
  exporter = pushlog
  exporter_include = fields
  filter = event=activesync_command_finished AND push_usecs > 0
  fields = push_usecs push_queue_usecs
}
# what the service spent per command meanwhile (doveadm stats dump)
metric activesync_cmd {
  filter = event=activesync_command_finished
  group_by = command
}
"""
    if plugin:
        # the mail plugin (hooks/) in lmtp, imap, doveadm and the service:
        # the setup the README recommends for push
        extra += harness.plugin_dir_conf(builddir)
    dc = harness.DovecotInstance(
        builddir=builddir, keep=keep, activesync=True, name="bench",
        plugin_settings={
            "activesync_ping_min_heartbeat": "1s",
            "activesync_ping_max_heartbeat": "3600s",
            "activesync_max_window_size": "512",
        }, extra_conf=extra)
    return dc


class Bench:
    def __init__(self, dc, n):
        self.dc = dc
        self.n = n
        self.T = easload.make_templates()
        self.result = {}
        self.users_made = set()
        self.dev_serial = 0
        # never let the server take the machine down: stop adding held
        # Pings when its processes pass this much RSS
        self.rss_cap_kib = min(8 << 20, mem_available_kib() * 45 // 100)
        self.capped = None

    # -- users and devices

    def user(self, name, messages=None):
        """A passdb user with a Maildir holding `messages` (default: one
        welcome message, so its Inbox exists before the first Sync)."""
        user = "%s@example.test" % name
        if user in self.users_made:
            return user
        self.dc.add_user(user, "pw-" + name)
        maildir = os.path.join(self.dc.home_root, user, "Maildir")
        if messages is None:
            messages = [mailgen.small(0)]
        mailgen.write_maildir(maildir, messages, self.dc.uid, self.dc.gid)
        self.users_made.add(user)
        return user

    def device(self, user):
        self.dev_serial += 1
        i = self.dev_serial
        return easload.Device(
            "127.0.0.1", self.dc.eas_port, user, self.dc.users[user],
            "bench%06d" % i, source_ip="127.0.%d.%d" % (
                1 + (i // 250) % 200, 1 + i % 250))

    async def setup_devices(self, devices):
        sem = asyncio.Semaphore(SETUP_CONCURRENCY)
        reqs = [0]

        async def one(d):
            async with sem:
                r = await d.setup(self.T)
                reqs[0] += r
        t0 = time.monotonic()
        await asyncio.gather(*(one(d) for d in devices))
        return reqs[0], time.monotonic() - t0

    # -- push latency and idle cost

    async def phase_push(self):
        n = self.n
        T = self.T
        stop = asyncio.Event()
        pending = {}            # user -> {"arrivals": {dev: t}, "event"}
        by_user = {}            # user -> [device]
        state = {}              # device -> time its current Ping was sent
        busy = [0]              # devices between a Ping answer and the next
        last_ping = [0.0]       # when the last Ping was sent
        counters = {"ping_expired": 0, "ping_other": 0}
        errors = []

        async def device_loop(d):
            try:
                while not stop.is_set():
                    if state.get(d, 0) is None:
                        busy[0] -= 1
                    state[d] = last_ping[0] = time.monotonic()
                    st, r = await d.ping(T, PING_HEARTBEAT,
                                         PING_HEARTBEAT + 60)
                    state[d] = None
                    busy[0] += 1
                    p = pending.get(d.user)
                    if st == "2":
                        if p is not None and d not in p["arrivals"]:
                            p["arrivals"][d] = r.t_done
                            if len(p["arrivals"]) == len(by_user[d.user]):
                                p["event"].set()
                        await d.sync_changes(T)
                    elif st == "1":
                        counters["ping_expired"] += 1
                    else:
                        counters["ping_other"] += 1
                        raise PhaseError("Ping status %s" % st)
            except asyncio.CancelledError:
                raise
            except Exception as e:
                errors.append("%s: %s" % (d.device_id, e))

        def eligible(user, now):
            if user in pending:
                return False
            for d in by_user[user]:
                t = state.get(d)
                if t is None or now - t < HELD_SETTLE:
                    return False
            return True

        async def deliveries(count, rng, workers, quiet=False):
            samples, timeouts = [], [0]
            lmtp = easload.LmtpPool(self.dc.lmtp_port, workers)
            users = list(by_user)
            done = [0]

            async def worker():
                while done[0] < count and not errors:
                    now = time.monotonic()
                    user = None
                    for _ in range(50):
                        u = rng.choice(users)
                        if eligible(u, now):
                            user = u
                            break
                    if user is None:
                        await asyncio.sleep(0.01)
                        continue
                    if quiet:
                        # nothing else in flight: every woken device is
                        # holding its next Ping again
                        while (busy[0] > 0 or time.monotonic() -
                               last_ping[0] < QUIET_SETTLE) and not errors:
                            await asyncio.sleep(0.002)
                    done[0] += 1
                    p = {"arrivals": {}, "event": asyncio.Event()}
                    pending[user] = p
                    msg = mailgen.to_crlf(mailgen.small(done[0]))
                    t_end = await lmtp.deliver(user, msg)
                    try:
                        await asyncio.wait_for(p["event"].wait(), PUSH_WAIT)
                    except asyncio.TimeoutError:
                        pass
                    for d in by_user[user]:
                        t = p["arrivals"].get(d)
                        if t is None:
                            timeouts[0] += 1
                        else:
                            samples.append(max(0.0, t - t_end) * 1000.0)
                    del pending[user]
            t0 = time.monotonic()
            await asyncio.gather(*(worker() for _ in range(workers)))
            lmtp.close()
            if errors:
                raise PhaseError("device errors: %s" % errors[:5])
            return samples, timeouts[0], time.monotonic() - t0

        async def level(count_devices, count_users, tasks, devices, rng):
            # add devices up to count_devices, users 0..count_users-1
            names = ["pu%05d" % i for i in range(count_users)]
            new = []
            for i in range(len(devices), count_devices):
                user = self.user(names[i % count_users])
                d = self.device(user)
                new.append(d)
            reqs, secs = 0, 0.0
            for off in range(0, len(new), SETUP_CHUNK):
                chunk = new[off:off + SETUP_CHUNK]
                r, dt = await self.setup_devices(chunk)
                reqs += r
                secs += dt
                for d in chunk:
                    devices.append(d)
                    by_user.setdefault(d.user, []).append(d)
                    tasks.append(asyncio.ensure_future(device_loop(d)))
                if errors:
                    raise PhaseError("device errors: %s" % errors[:5])
                rss, _ = activesync_usage(self.dc.proc.pid)
                if len(new) > SETUP_CHUNK:
                    log("push: %d devices set up (%.0f requests/s), "
                        "activesync RSS %d MiB" % (
                            len(devices), reqs / secs, rss // 1024))
                if rss > self.rss_cap_kib:
                    self.capped = ("activesync RSS %d MiB passed the cap of "
                                   "%d MiB at %d devices" % (
                                       rss // 1024, self.rss_cap_kib // 1024,
                                       len(devices)))
                    log("push: " + self.capped + ": measuring there")
                    break
            # wait until every device has a Ping out for HELD_SETTLE
            deadline = time.monotonic() + 120
            while True:
                now = time.monotonic()
                if all(state.get(d) is not None and now - state[d] >
                       HELD_SETTLE for d in devices):
                    break
                if errors:
                    raise PhaseError("device errors: %s" % errors[:5])
                if now > deadline:
                    raise PhaseError("Pings not all sent within 120 s")
                await asyncio.sleep(0.2)
            conns = established_to(self.dc.eas_port)
            log("push: %d devices of %d users holding Pings (%d server "
                "connections); setup %d requests in %.1f s" % (
                    len(devices), len(by_user), conns, reqs, secs))
            res = await measure(1, len(devices), len(by_user), conns)
            # one at a time with the server otherwise idle: no earlier
            # device still syncing when the datagram arrives
            res["quiet"] = await measure(1, len(devices), len(by_user),
                                         conns, quiet=True)
            # the same again with deliveries overlapping: latency under
            # load (woken devices Sync and Ping again meanwhile)
            res["loaded"] = await measure(DELIVERY_WORKERS, len(devices),
                                          len(by_user), conns)
            res["setup"] = {"devices": len(new), "requests": reqs,
                            "seconds": round(secs, 2),
                            "requests_per_s": round(reqs / secs, 1)
                            if secs else None}
            return res

        async def measure(workers, pings, users, conns, quiet=False):
            mark = self.dc.log_offset()
            command_times(self.dc, reset=True)
            samples, timeouts, dsecs = await deliveries(n["deliveries"], rng,
                                                        workers, quiet)
            # the stats process logs the exported events a moment later
            await asyncio.sleep(1)
            server = server_push_share(self.dc.log_since(mark))
            server["commands"] = command_times(self.dc)
            res = {
                "pings": pings, "users": users,
                "server_connections": conns,
                "deliveries": n["deliveries"],
                "deliveries_in_flight": workers,
                "quiet": quiet,
                "samples": len(samples),
                "timeouts": timeouts,
                "p50_ms": round(pct(samples, 50), 2) if samples else None,
                "p90_ms": round(pct(samples, 90), 2) if samples else None,
                "p99_ms": round(pct(samples, 99), 2) if samples else None,
                "max_ms": round(max(samples), 2) if samples else None,
                "mean_ms": round(statistics.mean(samples), 2)
                if samples else None,
                # the server's share (push_usecs: the datagram's arrival
                # at the service process to the response handed to the
                # HTTP library; queue: the part before the process read
                # it), from the activesync_push metric's exporter
                "server": server,
                "delivery_seconds": round(dsecs, 2),
                "deliveries_per_s": round(n["deliveries"] / dsecs, 1)
                if dsecs else None,
            }
            log("push at %d Pings, %d deliver%s in flight%s: p50 %.1f ms, "
                "p99 %.1f ms, %d timeouts; server's share p50 %.2f ms, "
                "p99 %.2f ms (queued p99 %.2f ms, handling p99 %.2f ms)" % (
                    pings, workers, "y" if workers == 1 else "ies",
                    " (quiet)" if quiet else "", na(res["p50_ms"]),
                    na(res["p99_ms"]), timeouts,
                    na(server.get("p50_ms")), na(server.get("p99_ms")),
                    na(server.get("queue_p99_ms")),
                    na(server.get("handling_p99_ms"))))
            if timeouts:
                raise PhaseError("%d Pings not answered within %ss of a "
                                 "delivery" % (timeouts, PUSH_WAIT))
            return res

        rng = random.Random(1234)
        tasks, devices = [], []
        rss0, _ = activesync_usage(self.dc.proc.pid)
        try:
            low = await level(n["push_low"], n["users_low"], tasks, devices,
                              rng)
            rss_low, _ = activesync_usage(self.dc.proc.pid)
            high = await level(n["push_high"], n["users_high"], tasks,
                               devices, rng)
            # idle cost: everybody holds a Ping, nothing happens
            await asyncio.sleep(2)
            rss1, t1 = activesync_usage(self.dc.proc.pid)
            w0 = time.monotonic()
            await asyncio.sleep(n["idle_secs"])
            rss2, t2 = activesync_usage(self.dc.proc.pid)
            wall = time.monotonic() - w0
            hz = os.sysconf("SC_CLK_TCK")
            ticks = sum(t2[p] - t1.get(p, 0) for p in t2)
            if errors:
                raise PhaseError("device errors: %s" % errors[:5])
            pings = len(devices)
            idle = {
                "pings": pings,
                "processes": len(t2),
                "rss_kib_total": rss2,
                "rss_kib_no_pings": rss0,
                "rss_kib_at_low": rss_low,
                "rss_kib_per_ping": round(rss2 / pings, 2),
                "rss_kib_per_ping_marginal": round(
                    (rss2 - rss_low) / max(1, pings - low["pings"]), 2),
                "cpu_seconds": round(ticks / hz, 3),
                "interval_s": round(wall, 1),
                "cpu_percent": round(100.0 * ticks / hz / wall, 3),
                "ping_heartbeat_expired": counters["ping_expired"],
            }
            log("idle: %d Pings, %d KiB RSS (%.1f KiB/Ping), %.2f s CPU in "
                "%.0f s" % (pings, rss2, idle["rss_kib_per_ping"],
                            idle["cpu_seconds"], wall))
        finally:
            stop.set()
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for d in devices:
                d.close()
        self.result["push"] = {"low": low, "high": high}
        self.result["idle"] = idle
        if self.capped:
            raise PhaseError(self.capped)

    # -- initial sync vs doveadm fetch

    async def phase_initial_sync(self):
        n = self.n
        count = n["bulk_messages"]
        t0 = time.monotonic()
        user = self.user("bulk", (mailgen.realistic(i)
                                  for i in range(count)))
        gen = time.monotonic() - t0
        st = self.dc.doveadm("mailbox", "status", "-u", user,
                             "messages vsize", "INBOX")
        fields = dict(x.split("=", 1) for x in st.split() if "=" in x)
        if int(fields["messages"]) != count:
            raise PhaseError("bulk INBOX has %s messages, want %d" % (
                fields["messages"], count))
        vsize = int(fields["vsize"])
        log("initial sync: %d messages, %.1f MB (generated in %.1f s)" % (
            count, vsize / 1e6, gen))

        hz = os.sysconf("SC_CLK_TCK")

        def fetch():
            cmd = harness._as_user_prefix() + [
                "doveadm", "-c", self.dc.conf_path, "fetch", "-u", user,
                "text", "mailbox", "INBOX", "all"]
            ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            t = time.monotonic()
            r = subprocess.run(cmd, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, env=self.dc._env(),
                               cwd=self.dc.dir)
            dt = time.monotonic() - t
            ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            if r.returncode != 0:
                raise PhaseError("doveadm fetch failed: %s" % r.stderr)
            cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime -
                                                   ru0.ru_stime)
            return dt, len(r.stdout), cpu
        fetch()                                 # warm index and page cache
        # the median of a few runs of each, interleaved in time with the
        # EAS runs below, so that a burst of load elsewhere on the
        # machine does not decide a ratio
        reps = max(1, n["initial_repeats"])
        runs = [fetch() for _ in range(reps)]
        dt = statistics.median(r[0] for r in runs)
        nbytes = runs[0][1]
        cpu = statistics.median(r[2] for r in runs)
        res = {"messages": count, "mailbox_mb": round(vsize / 1e6, 1),
               "repeats": reps,
               "doveadm_fetch": {
                   "command": "doveadm fetch -u bulk text mailbox INBOX all",
                   "seconds": round(dt, 3),
                   "seconds_all": [round(r[0], 3) for r in runs],
                   "cpu_seconds": round(cpu, 3),
                   "cpu_seconds_all": [round(r[2], 3) for r in runs],
                   "items_per_s": round(count / dt, 1),
                   "mb_per_s": round(nbytes / 1e6 / dt, 1)}}
        ref = count / dt
        ref_cpu = count / cpu if cpu > 0 else None

        async def eas_median(tmpl):
            samples = [await eas(tmpl) for _ in range(reps)]
            med = dict(sorted(samples, key=lambda x: x["seconds"])[
                len(samples) // 2])
            cpu = statistics.median(x["service_cpu_seconds"]
                                    for x in samples)
            med["seconds_all"] = [x["seconds"] for x in samples]
            med["service_cpu_seconds"] = round(cpu, 3)
            med["service_cpu_seconds_all"] = [x["service_cpu_seconds"]
                                              for x in samples]
            med["items_per_cpu_s"] = round(count / cpu, 1) if cpu else None
            med["cpu_ratio_to_doveadm"] = (round(count / cpu / ref_cpu, 3)
                                           if cpu and ref_cpu else None)
            return med

        async def eas(tmpl):
            d = self.device(user)
            await self._setup_no_sync(d)
            _, ticks0 = activesync_usage(self.dc.proc.pid)
            t = time.monotonic()
            reqs, items, nbytes = await d.initial_sync(self.T, tmpl)
            dt = time.monotonic() - t
            _, ticks1 = activesync_usage(self.dc.proc.pid)
            d.close()
            if items != count:
                raise PhaseError("initial Sync (%s) gave %d items, want %d"
                                 % (tmpl, items, count))
            # the service's own CPU time, without the client's share of
            # the two cores (it decodes every response in Python)
            cpu = sum(ticks1[p] - ticks0.get(p, 0) for p in ticks1) / hz
            return {"seconds": round(dt, 3), "requests": reqs,
                    "items": items, "items_per_s": round(items / dt, 1),
                    "mb_per_s": round(nbytes / 1e6 / dt, 1),
                    "ratio_to_doveadm": round(items / dt / ref, 3),
                    "client_decode_seconds": round(d.decode_secs, 3),
                    "service_cpu_seconds": round(cpu, 3),
                    "items_per_cpu_s": round(items / cpu, 1)
                    if cpu > 0 else None,
                    "cpu_ratio_to_doveadm": round(items / cpu / ref_cpu, 3)
                    if cpu > 0 and ref_cpu else None}
        await eas("sync_mime")                  # warm the mail cache
        res["mime"] = await eas_median("sync_mime")
        res["html"] = await eas_median("sync_html")
        log("initial sync: doveadm %.0f items/s; MIME %.0f items/s (%.2fx),"
            " HTML %.0f items/s (%.2fx)" % (
                ref, res["mime"]["items_per_s"],
                res["mime"]["ratio_to_doveadm"],
                res["html"]["items_per_s"], res["html"]["ratio_to_doveadm"]))
        self.result["initial_sync"] = res

    async def _setup_no_sync(self, d):
        """Provision + FolderSync only (the Inbox id), no Sync."""
        T = self.T
        r = await d.checked("Provision", T["prov1"].fill(), "Provision")
        key = r.doc().findtext("Provision:PolicyKey")
        r = await d.checked("Provision", T["prov2"].fill(pkey=key),
                            "Provision ack")
        d.policy_key = r.doc().findtext("Provision:PolicyKey")
        r = await d.checked("FolderSync", T["foldersync"].fill(),
                            "FolderSync")
        for add in r.doc().iter("FolderHierarchy:Add"):
            if add.findtext("FolderHierarchy:Type") == "2":
                d.inbox = add.findtext("FolderHierarchy:ServerId")
        if d.inbox is None:
            raise PhaseError("no Inbox in FolderSync")

    # -- no-change Sync

    async def phase_nochange(self):
        n = self.n
        out = {}
        hz = os.sysconf("SC_CLK_TCK")
        for key, count in (("small", n["nochange_small"]),
                           ("base", n["linear_base"]),
                           ("large", n["nochange_large"])):
            t0 = time.monotonic()
            user = self.user("nc%d" % count, (mailgen.small(i)
                                               for i in range(count)))
            self.dc.doveadm("mailbox", "status", "-u", user, "messages",
                            "INBOX")
            # the files were all written this second: Dovecot rescans a
            # Maildir whose cur/ changed within the last second at every
            # sync, which no real mailbox of that size does
            await asyncio.sleep(NOCHANGE_SETTLE)
            d = self.device(user)
            await self._setup_no_sync(d)
            _, ticks0 = activesync_usage(self.dc.proc.pid)
            t1 = time.monotonic()
            reqs, items, _ = await d.initial_sync(self.T, "sync_plain")
            t2 = time.monotonic()
            _, ticks1 = activesync_usage(self.dc.proc.pid)
            cpu = sum(ticks1[p] - ticks0.get(p, 0) for p in ticks1) / hz
            if items != count:
                raise PhaseError("no-change: initial Sync gave %d of %d" % (
                    items, count))
            if key == "base":
                # only the initial Sync's cost per item (linear cost)
                d.close()
                out[key] = {"messages": count,
                            "initial_sync_seconds": round(t2 - t1, 3),
                            "initial_sync_cpu_seconds": round(cpu, 3),
                            "requests": reqs}
                continue
            # Dovecot trusts a folder's list index record only when the
            # folder's files are older than a couple of seconds: measure
            # both folders settled, not the small one right after its
            # creation
            await asyncio.sleep(NOCHANGE_SETTLE)
            times = []
            budget = time.monotonic() + NOCHANGE_BUDGET
            for i in range(n["nochange_samples"] + 5):
                if len(times) >= NOCHANGE_MIN_SAMPLES and \
                        time.monotonic() > budget:
                    break
                t = time.monotonic()
                more, added, nbytes = await d.sync_changes(self.T)
                dt = (time.monotonic() - t) * 1000.0
                if added or more:
                    raise PhaseError("no-change Sync returned changes")
                if i >= 5:
                    times.append(dt)
            d.close()
            out[key] = {"messages": count,
                        "median_ms": round(statistics.median(times), 3),
                        "p90_ms": round(pct(times, 90), 3),
                        "samples": len(times),
                        "initial_sync_seconds": round(t2 - t1, 3),
                        "initial_sync_cpu_seconds": round(cpu, 3),
                        "requests": reqs,
                        "mailbox_build_seconds": round(t1 - t0, 2)}
            log("no-change Sync on %d messages: median %.2f ms (initial "
                "Sync %.1f s)" % (count, out[key]["median_ms"], t2 - t1))
        out["ratio"] = round(out["large"]["median_ms"] /
                             out["small"]["median_ms"], 3)
        b, lg = out["base"], out["large"]

        def per_item(x, field):
            return x[field] / x["messages"] * 1e6
        lin = {"base_messages": b["messages"],
               "large_messages": lg["messages"],
               "base_us_per_item": round(per_item(
                   b, "initial_sync_seconds"), 1),
               "large_us_per_item": round(per_item(
                   lg, "initial_sync_seconds"), 1),
               "base_cpu_us_per_item": round(per_item(
                   b, "initial_sync_cpu_seconds"), 1),
               "large_cpu_us_per_item": round(per_item(
                   lg, "initial_sync_cpu_seconds"), 1)}
        lin["per_item_ratio"] = round(
            lin["large_us_per_item"] / lin["base_us_per_item"], 3)
        lin["cpu_per_item_ratio"] = round(
            lin["large_cpu_us_per_item"] / lin["base_cpu_us_per_item"], 3) \
            if lin["base_cpu_us_per_item"] else None
        out["linear"] = lin
        log("initial Sync per item: %.1f us at %d, %.1f us at %d (%.2fx)" % (
            lin["base_us_per_item"], b["messages"],
            lin["large_us_per_item"], lg["messages"],
            lin["per_item_ratio"]))
        self.result["nochange_sync"] = out

    # -- throughput

    async def phase_throughput(self):
        n = self.n
        T = self.T
        devices = [self.device(self.user("tp%03d" % i))
                   for i in range(n["tp_devices"])]
        await self.setup_devices(devices)
        lmtp = easload.LmtpPool(self.dc.lmtp_port, 8)
        stop = [False]
        cycles = [0]
        lat = []

        async def loop(d, k):
            while not stop[0]:
                t = time.monotonic()
                await d.sync_changes(T)
                ping = asyncio.ensure_future(d.ping(T, 60, 120))
                await lmtp.deliver(d.user, mailgen.to_crlf(
                    mailgen.small(1000 + k)))
                st, _ = await ping
                if st != "2":
                    raise PhaseError("throughput: Ping status %s" % st)
                cycles[0] += 1
                lat.append(time.monotonic() - t)
                k += 1
        tasks = [asyncio.ensure_future(loop(d, i * 100000))
                 for i, d in enumerate(devices)]
        await asyncio.sleep(1.0)                 # ramp up
        c0, t0 = cycles[0], time.monotonic()
        _, ticks0 = activesync_usage(self.dc.proc.pid)
        await asyncio.sleep(n["tp_secs"])
        c1, t1 = cycles[0], time.monotonic()
        _, ticks1 = activesync_usage(self.dc.proc.pid)
        stop[0] = True
        res = await asyncio.gather(*tasks, return_exceptions=True)
        lmtp.close()
        for d in devices:
            d.close()
        errs = [r for r in res if isinstance(r, Exception)]
        if errs:
            raise PhaseError("throughput: %r" % errs[:3])
        hz = os.sysconf("SC_CLK_TCK")
        ticks = sum(ticks1[p] - ticks0.get(p, 0) for p in ticks1)
        rate = (c1 - c0) / (t1 - t0)
        self.result["throughput"] = {
            "definition": "cycle = Sync (GetChanges, fetches the message of "
                          "the previous cycle) + Ping (Inbox, heartbeat 60 s)"
                          " answered by one LMTP delivery to the device's "
                          "user, sent right after the Ping",
            "devices": len(devices), "seconds": round(t1 - t0, 1),
            "cycles": c1 - c0, "cycles_per_s": round(rate, 1),
            "cycle_p50_ms": round(pct(lat, 50) * 1000, 1),
            "activesync_cpu_seconds": round(ticks / hz, 2),
        }
        log("throughput: %d devices, %.1f cycles/s" % (len(devices), rate))


def na(x):
    """A figure to print: -1 when there is none (0.0 is a figure)"""
    return -1 if x is None else x


def server_push_share(log_text):
    """Percentiles of the push_usecs/push_queue_usecs fields the
    pushlog exporter logged (one JSON line per woken request)."""
    total, queue = [], []
    for line in log_text.splitlines():
        i = line.find('{"fields":')
        if i < 0 or "push_usecs" not in line:
            continue
        try:
            f = json.loads(line[i:])["fields"]
        except ValueError:
            continue
        total.append(int(f["push_usecs"]) / 1000.0)
        queue.append(int(f.get("push_queue_usecs", 0)) / 1000.0)
    if not total:
        return {"samples": 0}
    handling = [t - q for t, q in zip(total, queue)]
    return {"samples": len(total),
            "p50_ms": round(pct(total, 50), 2),
            "p90_ms": round(pct(total, 90), 2),
            "p99_ms": round(pct(total, 99), 2),
            "max_ms": round(max(total), 2),
            "queue_p50_ms": round(pct(queue, 50), 2),
            "queue_p99_ms": round(pct(queue, 99), 2),
            # from reading the datagram to the response: this request's
            # wake and those of other requests woken by it before
            "handling_p50_ms": round(pct(handling, 50), 2),
            "handling_p99_ms": round(pct(handling, 99), 2)}


def command_times(dc, reset=False):
    """{command: {count, avg_ms, p95_ms, max_ms}} from the
    activesync_cmd metric; reset=True zeroes it."""
    args = ["stats", "dump"] + (["-r"] if reset else [])
    out = dc.doveadm(*args)
    lines = [line.split("\t") for line in out.splitlines() if line]
    if not lines:
        return {}
    head = lines[0]
    res = {}
    for row in lines[1:]:
        r = dict(zip(head, row))
        name = r.get("metric_name", "")
        if not name.startswith("activesync_cmd_") or \
                r.get("field") != "duration":
            continue
        res[name[len("activesync_cmd_"):]] = {
            "count": int(r["count"]),
            "avg_ms": round(float(r["avg"]) / 1000.0, 2),
            "p95_ms": round(float(r["%95"]) / 1000.0, 2),
            "max_ms": round(float(r["max"]) / 1000.0, 2)}
    return res


def git_commit():
    if os.environ.get("BENCH_COMMIT"):
        # a source snapshot (git archive) has no .git: the caller says
        return os.environ["BENCH_COMMIT"]
    try:
        c = subprocess.run(["git", "-C", SRCDIR, "rev-parse", "HEAD"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                           text=True).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", SRCDIR, "status", "--porcelain", "--", "module",
             "store", "hooks"], stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, text=True).stdout.strip()
        return c + ("+dirty" if dirty else "")
    except OSError:
        return None


def evaluate(res):
    """Every target of the table in bench/RESULTS.md, with its value from
    this run (null when the phase did not run)."""
    t = {}
    for name, (path, limit, op) in TARGETS.items():
        v = res
        for k in path:
            v = v.get(k) if isinstance(v, dict) else None
        if v is None:
            t[name] = {"value": None, "target": "%s %s" % (op, limit),
                       "met": None}
            continue
        met = {"<": v < limit, "<=": v <= limit, ">=": v >= limit}[op]
        t[name] = {"value": v, "target": "%s %s" % (op, limit), "met": met}
    return t


def table(res):
    rows = []
    p = res.get("push")
    if p:
        for k in ("low", "high"):
            rows.append(("push p50/p99 @ %d Pings" % p[k]["pings"],
                         "%s / %s ms" % (p[k]["p50_ms"], p[k]["p99_ms"])))
            q = p[k].get("quiet")
            if q:
                rows.append(("  one at a time, nothing else in flight",
                             "%s / %s ms" % (q["p50_ms"], q["p99_ms"])))
            ld = p[k].get("loaded")
            if ld:
                rows.append(("  %d deliveries in flight" %
                             ld["deliveries_in_flight"],
                             "%s / %s ms (%s deliveries/s)" % (
                                 ld["p50_ms"], ld["p99_ms"],
                                 ld["deliveries_per_s"])))
    i = res.get("idle")
    if i:
        rows.append(("RSS per held Ping", "%s KiB (%d KiB total)" % (
            i["rss_kib_per_ping"], i["rss_kib_total"])))
        rows.append(("idle CPU @ %d Pings" % i["pings"], "%s s in %s s" % (
            i["cpu_seconds"], i["interval_s"])))
    s = res.get("initial_sync")
    if s:
        rows.append(("doveadm fetch text", "%s items/s, %s MB/s" % (
            s["doveadm_fetch"]["items_per_s"],
            s["doveadm_fetch"]["mb_per_s"])))
        for k in ("mime", "html"):
            rows.append(("initial Sync %s" % k.upper(),
                         "%s items/s, %s MB/s (%.2fx doveadm)" % (
                             s[k]["items_per_s"], s[k]["mb_per_s"],
                             s[k]["ratio_to_doveadm"])))
            if s[k].get("cpu_ratio_to_doveadm") is not None:
                rows.append(("  per CPU second", "%s items (%.2fx doveadm)"
                             % (s[k]["items_per_cpu_s"],
                                s[k]["cpu_ratio_to_doveadm"])))
    nc = res.get("nochange_sync")
    if nc:
        rows.append(("no-change Sync %d / %d msgs" % (
            nc["small"]["messages"], nc["large"]["messages"]),
            "%s / %s ms (%.2fx)" % (nc["small"]["median_ms"],
                                    nc["large"]["median_ms"], nc["ratio"])))
    tp = res.get("throughput")
    if tp:
        rows.append(("Sync+Ping cycles, %d devices" % tp["devices"],
                     "%s /s" % tp["cycles_per_s"]))
    lin = (nc or {}).get("linear")
    if lin:
        rows.append(("initial Sync per item %d / %d msgs" % (
            lin["base_messages"], lin["large_messages"]),
            "%s / %s us (%.2fx), CPU %s / %s us (%.2fx)" % (
                lin["base_us_per_item"], lin["large_us_per_item"],
                lin["per_item_ratio"], lin["base_cpu_us_per_item"],
                lin["large_cpu_us_per_item"], lin["cpu_per_item_ratio"])))
    for name, t in res.get("targets", {}).items():
        rows.append(("target " + name, "%s (%s): %s" % (
            t["value"], t["target"],
            "not run" if t["met"] is None else
            "met" if t["met"] else "MISSED")))
    w = max(len(r[0]) for r in rows) if rows else 0
    return "\n".join("%-*s  %s" % (w, a, b) for a, b in rows)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--builddir", help="build tree (default $EAS_BUILDDIR "
                    "or the source tree)")
    ap.add_argument("--quick", action="store_true",
                    help="small numbers: a smoke test of the suite")
    ap.add_argument("--json", help="also write the JSON object here")
    ap.add_argument("--keep", action="store_true",
                    help="keep the private Dovecot's directory")
    ap.add_argument("--timeout", type=int, help="global timeout (s)")
    ap.add_argument("--no-plugin", action="store_true",
                    help="without the activesync mail plugin: push through "
                    "the mailbox list index watch (the fallback)")
    ap.add_argument("--set", action="append", default=[],
                    metavar="NAME=N", help="override one parameter, e.g. "
                    "--set push_high=2000 (see the JSON's parameters)")
    ap.add_argument("--processes", type=int, default=2,
                    help="activesync service processes (default 2, one "
                    "per core of the reference machine)")
    ap.add_argument("--phases", default="push,initial,nochange,throughput",
                    help="comma-separated subset of phases")
    args = ap.parse_args()
    n = dict(QUICK if args.quick else FULL)
    for item in args.set:
        name, _, value = item.partition("=")
        if name not in n or not value.isdigit():
            ap.error("--set %s: unknown parameter or not a number" % item)
        n[name] = int(value)
    timeout = args.timeout or n["timeout"]
    phases = args.phases.split(",")

    live = {"dc": None, "out": None, "bench": None}

    def on_signal(signum, frame):
        # Unwinding an event loop with thousands of tasks is slow and not
        # guaranteed: report what we have, stop Dovecot, exit at once.
        why = ("global timeout of %d s expired" % timeout
               if signum == signal.SIGALRM else
               "stopped by signal %d" % signum)
        signal.signal(signal.SIGALRM, signal.SIG_IGN)
        log("FAILED: " + why)
        out = live["out"]
        if out is not None:
            if live["bench"] is not None:
                out.update(live["bench"].result)
            out["error"] = why
            print(json.dumps(out, indent=2))
            sys.stdout.flush()
        if live["dc"] is not None:
            try:
                log("log tail:\n" + live["dc"].log_tail(20))
                live["dc"].cleanup()
            except Exception as e:
                log("cleanup failed: %s" % e)
        if live.get("qlen"):
            restore_dgram_qlen(*live["qlen"])
        os._exit(1)
    for sig in (signal.SIGALRM, signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, on_signal)
    signal.alarm(timeout)

    nofile = raise_nofile()
    if nofile < n["push_high"] + 200:
        log("RLIMIT_NOFILE is %d: too low for %d connections" % (
            nofile, n["push_high"]))
        return 2
    qlen_old, qlen = raise_dgram_qlen()
    live["qlen"] = (qlen_old, qlen)
    easload.TAG_NAMES.update(easload.load_tag_names(os.path.join(
        SRCDIR, "module", "wbxml", "wbxml-codepages.def")))
    out = {"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "commit": git_commit(),
           "command": " ".join(["python3", "bench/run.py"] + sys.argv[1:]),
           "quick": args.quick,
           "mail_plugin": not args.no_plugin,
           "machine": {"cpus": os.cpu_count(), "kernel": platform.release(),
                       "net.unix.max_dgram_qlen": qlen},
           "parameters": n,
           "service_processes": args.processes}
    failed = None
    dc = None
    t_start = time.monotonic()
    try:
        live["out"] = out
        dc = live["dc"] = make_instance(
            args.builddir, args.keep, not args.no_plugin, args.processes)
        dc.start()
        log("private Dovecot in %s, activesync on port %d" % (
            dc.dir, dc.eas_port))
        b = live["bench"] = Bench(dc, n)
        runs = [("push", b.phase_push), ("initial", b.phase_initial_sync),
                ("nochange", b.phase_nochange),
                ("throughput", b.phase_throughput)]
        first = True
        for name, fn in runs:
            if name not in phases:
                continue
            if not first:
                # fresh service processes: a phase must not measure the
                # heap another phase left behind (10,000 Pings' worth)
                dc.stop()
                dc.start()
            first = False
            try:
                asyncio.run(fn())
            finally:
                out.update(b.result)
            bad = dc.bad_log_lines(since=0)
            if bad:
                raise PhaseError("Dovecot log has fatal lines: %s" % bad[:5])
    except BaseException as e:  # noqa: B902 - report, then fail
        failed = "%s: %s" % (type(e).__name__, e)
        if dc is not None:
            log("log tail:\n" + dc.log_tail(30))
    finally:
        signal.alarm(0)
        live["dc"] = None
        if dc is not None:
            dc.cleanup()
        restore_dgram_qlen(qlen_old, qlen)
    out["targets"] = evaluate(out)
    out["seconds"] = round(time.monotonic() - t_start, 1)
    if failed:
        out["error"] = failed
    text = json.dumps(out, indent=2)
    print(text)
    if args.json:
        with open(args.json, "w") as f:
            f.write(text + "\n")
    sys.stderr.write("\n" + table(out) + "\n")
    if failed:
        log("FAILED: " + failed)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
