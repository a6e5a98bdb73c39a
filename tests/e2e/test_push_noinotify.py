"""Push without the plugin when inotify is exhausted.

The activesync service of this instance runs with a preloaded shim whose
inotify_init()/inotify_init1() fail with EMFILE, exactly what the kernel
answers when fs.inotify.max_user_instances is used up (changing the real
sysctl would disturb everything else on the machine).  Dovecot then logs
the limit once per process and polls every mailbox_idle_check_interval;
held Pings must still be woken, just later."""

import atexit
import os
import re
import shutil
import subprocess
import tempfile
import time

from harness import Background, find_builddir, HarnessError, ping, \
    ping_status as status_of, sample_message, setup_device, sync_all, \
    wait_held

SHIM = r"""
#include <errno.h>
int inotify_init(void) { errno = EMFILE; return -1; }
int inotify_init1(int flags) { (void)flags; errno = EMFILE; return -1; }
"""


def wrapper_conf():
    binary = os.path.join(find_builddir(), "module", "activesync")
    if not os.access(binary, os.X_OK):
        raise HarnessError("activesync not built: %s" % binary)
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        raise HarnessError("no C compiler for the inotify shim")
    d = tempfile.mkdtemp(prefix="eas-e2e-noinotify-")
    os.chmod(d, 0o755)
    atexit.register(shutil.rmtree, d, True)
    src = os.path.join(d, "noinotify.c")
    lib = os.path.join(d, "noinotify.so")
    with open(src, "w") as f:
        f.write(SHIM)
    subprocess.run([cc, "-shared", "-fPIC", "-o", lib, src], check=True)
    os.chmod(lib, 0o755)
    # an ASan build needs its runtime first in the preload list
    preload = []
    ldd = subprocess.run(["ldd", binary], stdout=subprocess.PIPE,
                         text=True).stdout
    m = re.search(r"(\S*libasan\.so\S*) => (\S+)", ldd)
    if m:
        preload.append(m.group(2))
    preload.append(lib)
    wrapper = os.path.join(d, "activesync")
    with open(wrapper, "w") as f:
        f.write("#!/bin/sh\nLD_PRELOAD='%s' exec '%s' \"$@\"\n" % (
            " ".join(preload), binary))
    os.chmod(wrapper, 0o755)
    return """
mailbox_idle_check_interval = 1s
service activesync {
  executable = %s
}
""" % wrapper


INSTANCE = dict(activesync=True, plugin_settings={
    "activesync_ping_min_heartbeat": "1s",
    "activesync_ping_max_heartbeat": "120s",
    "activesync_debug": "yes",
}, extra_conf=wrapper_conf())


def test_pings_woken_by_polling(dc):
    devices = [setup_device(dc, "noinotify%d" % i) for i in range(3)]
    mark = dc.log_offset()
    held = []
    for n, (c, user, _, by_type, _) in enumerate(devices):
        sync_all(c, by_type["2"])
        held.append(Background(ping, c, 60, [(by_type["2"], "Email")]))
        wait_held(dc, mark, count=n + 1)
    log = dc.log_since(mark)
    assert "mailbox list watch" in log, log[-2000:]
    for i, (c, user, _, by_type, _) in enumerate(devices):
        t0 = time.monotonic()
        dc.deliver(user, sample_message("polled %d" % i, to=user))
        r = held[i].wait(30)
        assert status_of(r) == "2", r
        print("  delivery -> Ping response without inotify: %.2f s" % (
            held[i].done_at - t0))
    log = dc.log_since(mark)
    limit_lines = [ln for ln in log.splitlines()
                   if "Inotify instance limit" in ln]
    # logged once by the process, not per Ping or per check
    assert len(limit_lines) == 1, limit_lines or log[-3000:]
    assert "max_user_instances" in limit_lines[0]
