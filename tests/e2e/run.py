#!/usr/bin/env python3
"""Runs the end-to-end tests in tests/e2e/test_*.py.

A test is a module-level function named test_* taking one argument, the
module's DovecotInstance (started before the module's first test,
stopped after its last).  A module may set

    INSTANCE = dict(activesync=True, plugin_settings={...}, users={...})

to pass options to DovecotInstance (activesync=True makes a missing
module/activesync binary a failure of every test in the module), or

    INSTANCES = {"sdbox": dict(mail_driver="sdbox"), ...}

to run all its tests once per entry, each with its own instance; they
are named module[key].test_name.

After every test the runner fails the test if the Dovecot log gained
Panic/Fatal/sanitizer lines, and, when the activesync service runs,
if it stopped answering.  A missing prerequisite is a failure, never a
skip.  The one exception: a test that raises harness.TestSkipped
because this build can't apply it (e.g. a memory limit under ASan) is
shown as SKIP with its reason and counted in the summary.

Usage: run.py [-k PATTERN] [--builddir DIR] [--keep] [-v] [FILE...]
"""

import argparse
import glob
import importlib.util
import os
import sys
import time
import traceback

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import harness  # noqa: E402

# the outcome of a test that raised harness.TestSkipped (True: passed,
# False: failed); truthy, so a skip is not a failure
SKIP = "skip"


def load_module(path):
    name = os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def tests_of(mod, pattern):
    out = []
    for name, fn in vars(mod).items():
        if name.startswith("test_") and callable(fn) and \
                getattr(fn, "__module__", None) == mod.__name__:
            full = "%s.%s" % (mod.__name__, name)
            if pattern and pattern not in full:
                continue
            out.append((full, fn))
    # definition order
    out.sort(key=lambda t: t[1].__code__.co_firstlineno)
    return out


def short_error(exc):
    lines = traceback.format_exception(type(exc), exc, exc.__traceback__)
    return "".join(lines)


def run_module(path, args, results):
    try:
        mod = load_module(path)
    except Exception as e:  # import error = failure
        results.append((os.path.basename(path), False, 0.0))
        print("FAIL %s (import)\n%s" % (path, short_error(e)))
        return
    variants = getattr(mod, "INSTANCES", None)
    if variants is None:
        variants = {None: getattr(mod, "INSTANCE", {})}
    for key, opts in variants.items():
        label = mod.__name__ if key is None else "%s[%s]" % (
            mod.__name__, key)
        run_instance(mod, label, dict(opts), args, results)


def run_instance(mod, label, opts, args, results):
    tests = [("%s.%s" % (label, full.split(".", 1)[1]), fn)
             for full, fn in tests_of(mod, None)]
    if args.k:
        tests = [t for t in tests if args.k in t[0]]
    if not tests:
        return
    inst = None
    setup_error = None
    t0 = time.monotonic()
    try:
        inst = harness.DovecotInstance(builddir=args.builddir,
                                       keep=args.keep,
                                       name=label.replace("[", "-")
                                       .rstrip("]"), **opts)
        inst.start()
    except Exception as e:
        setup_error = e
    setup_time = time.monotonic() - t0
    if args.verbose and inst is not None:
        print("# %s: %s (%.1fs)" % (label, inst.dir, setup_time))
    try:
        for full, fn in tests:
            if setup_error is not None:
                results.append((full, False, 0.0))
                print("FAIL %s (0.00s)\n  setup: %s" % (
                    full, str(setup_error).replace("\n", "\n  ")))
                continue
            run_one(inst, full, fn, args, results)
    finally:
        if inst is not None:
            try:
                inst.stop()
                bad = inst.bad_log_lines()
            except Exception as e:
                bad = ["stop failed: %s" % e]
            if args.keep:
                print("# %s kept in %s" % (label, inst.dir))
            inst.cleanup()
            if bad and setup_error is None:
                # A crash during shutdown still fails the run.
                results.append(("%s.<shutdown>" % label, False, 0.0))
                print("FAIL %s.<shutdown>\n  %s" % (
                    label, "\n  ".join(bad[:20])))


def run_one(inst, full, fn, args, results):
    inst.mark_log()
    t0 = time.monotonic()
    err = None
    skipped = None
    try:
        fn(inst)
    except harness.TestSkipped as e:
        skipped = str(e)
    except BaseException as e:  # noqa: B902 - report everything
        if isinstance(e, KeyboardInterrupt):
            raise
        err = e
    # harness-level checks, also after a failure (more context)
    post = []
    try:
        inst.check_log()
    except AssertionError as e:
        post.append(str(e))
    if inst.proc is None or inst.proc.poll() is not None:
        post.append("dovecot master is no longer running:\n" +
                    inst.log_tail())
    elif inst.activesync_enabled and not inst.service_alive():
        post.append("activesync service stopped answering on port %d" %
                    inst.eas_port)
    dt = time.monotonic() - t0
    ok = err is None and not post
    log_during = inst.log_since(inst._log_mark)
    inst.mark_log()
    if ok and skipped is not None:
        results.append((full, SKIP, dt))
        print("SKIP %s (%.2fs): %s" % (full, dt, skipped))
        sys.stdout.flush()
        return
    results.append((full, ok, dt))
    print("%s %s (%.2fs)" % ("ok  " if ok else "FAIL", full, dt))
    if not ok:
        msg = ""
        if err is not None:
            msg += short_error(err)
        for p in post:
            msg += p + "\n"
        print("  " + msg.rstrip().replace("\n", "\n  "))
        if args.verbose:
            print("  --- log during test:\n  " +
                  log_during[-6000:].replace("\n", "\n  "))
    sys.stdout.flush()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-k", metavar="PATTERN",
                    help="run only tests whose module.name contains it")
    ap.add_argument("--builddir", help="build tree (default: source tree "
                    "or $EAS_BUILDDIR)")
    ap.add_argument("--keep", action="store_true",
                    help="keep the temporary Dovecot directories")
    ap.add_argument("-v", "--verbose", action="store_true",
                    help="print the Dovecot log of failing tests")
    ap.add_argument("files", nargs="*",
                    help="test files (default: tests/e2e/test_*.py)")
    args = ap.parse_args()
    if args.builddir:
        args.builddir = os.path.abspath(args.builddir)
        os.environ["EAS_BUILDDIR"] = args.builddir
    files = args.files or sorted(glob.glob(os.path.join(HERE, "test_*.py")))
    results = []
    t0 = time.monotonic()
    for path in files:
        run_module(os.path.abspath(path), args, results)
    failed = [r for r in results if not r[1]]
    skipped = [r for r in results if r[1] is SKIP]
    print("\n%d tests, %d passed, %d failed%s (%.1fs)" % (
        len(results), len(results) - len(failed) - len(skipped),
        len(failed), ", %d skipped" % len(skipped) if skipped else "",
        time.monotonic() - t0))
    for name, _, _ in skipped:
        print("  SKIP %s" % name)
    for name, _, _ in failed:
        print("  FAIL %s" % name)
    if not results:
        print("no tests matched")
        return 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
