#!/usr/bin/env python3
"""End-to-end test harness: a private, non-root Dovecot and an EAS client.

Python 3 standard library only.  Nothing here talks to the system Dovecot:
every instance lives in its own temporary directory with its own ports on
127.0.0.1, its own passwd-file and its own log.

Main pieces (see tests/e2e/README.md for a tour):

  DovecotInstance   start()/stop() a private Dovecot (imap, lmtp, and the
                    activesync service once module/activesync is built),
                    deliver() mail over LMTP, imap() logins, doveadm(),
                    log() access and the log health check.
  EasClient         talks HTTP to the activesync service: options(),
                    request(cmd, xml), plain and base64 query forms.
  encode_xml()/decode_wbxml()
                    WBXML through libwbxml2's xml2wbxml/wbxml2xml, checked
                    against our own module/wbxml/eas-wbxml when it exists.
  xfind()/xtext()/xall()
                    ElementTree lookups with "Namespace:Name" paths.

Run `python3 tests/e2e/harness.py demo` for an interactive instance.
"""

import atexit
import base64
import email
import grp
import http.client
import imaplib
import json
import os
import pwd
import re
import select
import shutil
import signal
import smtplib
import socket
import socketserver
import struct
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.path.dirname(os.path.dirname(HERE))

TEST_USER = "astest"  # system user the private Dovecot runs as under root

# Users every instance knows.  Tests that need isolation add their own
# with DovecotInstance.add_user().
DEFAULT_USERS = {
    "user1@example.test": "pass1",
    "user2@example.test": "pass2",
    "bob": "bobpass",
}

EAS_PATH = "/Microsoft-Server-ActiveSync"

# The private namespace of every instance unless a test gives its own.
DEFAULT_NAMESPACE = """namespace inbox {
  inbox = yes
  separator = /
  mailbox Drafts {
    special_use = \\Drafts
    auto = subscribe
  }
  mailbox Sent {
    special_use = \\Sent
    auto = subscribe
  }
  mailbox Trash {
    special_use = \\Trash
    auto = subscribe
  }
  mailbox Junk {
    special_use = \\Junk
    auto = subscribe
  }
}"""

# Log lines that mean something went badly wrong, whatever the test did.
BAD_LOG_RE = re.compile(
    r"Panic|Fatal|ASAN|AddressSanitizer|LeakSanitizer|runtime error|"
    r"SUMMARY: .*Sanitizer|killed with signal|dumped core")


class _IMAP4(imaplib.IMAP4):
    def __init__(self, host, port, timeout=None, source_ip=None):
        self._source_ip = source_ip
        super().__init__(host, port, timeout=timeout)

    def _create_socket(self, timeout):
        src = (self._source_ip, 0) if self._source_ip else None
        return socket.create_connection((self.host, self.port), timeout,
                                        source_address=src)


_next_ip = [10 + os.getpid() % 200, 0]


def penalty_free_ip():
    """A loopback source address (127.0.x.y) not used before by this
    process.  Dovecot's auth penalty delays every login from an IP that
    recently failed one; tests that send wrong passwords connect from
    their own address so the penalty does not slow down other tests.
    The service must pass the client's real IP to auth for this."""
    _next_ip[1] += 1
    return "127.0.%d.%d" % (_next_ip[0], _next_ip[1] % 250 + 2)


class HarnessError(Exception):
    """A prerequisite is missing or the instance misbehaved.

    Tests fail with this; they are never skipped silently."""


class TestSkipped(Exception):
    """Raised by a test that cannot apply in this build (the reason is
    printed and counted as SKIP by run.py, never hidden).  Only for
    what the build makes impossible, e.g. a memory limit under ASan;
    a missing tool or service is a failure (HarnessError)."""


# ---------------------------------------------------------------- utilities

def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_ports(n):
    ports = set()
    while len(ports) < n:
        ports.add(free_port())
    return sorted(ports)


def wait_port(port, timeout, host="127.0.0.1"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=1):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def ensure_test_user():
    """Create the unprivileged system user for root runs (idempotent)."""
    try:
        return pwd.getpwnam(TEST_USER)
    except KeyError:
        pass
    cmd = ["useradd", "--system", "--user-group", "--no-create-home",
           "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin",
           TEST_USER]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True)
    if r.returncode not in (0, 9):  # 9: exists (raced)
        raise HarnessError("useradd %s failed: %s" % (TEST_USER, r.stdout))
    return pwd.getpwnam(TEST_USER)


def run_identity():
    """(name, uid, gid) the private Dovecot runs as."""
    if os.geteuid() == 0:
        pw = ensure_test_user()
        return pw.pw_name, pw.pw_uid, pw.pw_gid
    pw = pwd.getpwuid(os.geteuid())
    return pw.pw_name, os.geteuid(), os.getegid()


def _as_user_prefix():
    """Command prefix running a program as the Dovecot user."""
    if os.geteuid() != 0:
        return []
    name, uid, gid = run_identity()
    return ["setpriv", "--reuid", str(uid), "--regid", str(gid),
            "--init-groups", "--"]


def _chown_tree(path, uid, gid):
    for root, dirs, files in os.walk(path):
        os.chown(root, uid, gid)
        for f in dirs + files:
            os.lchown(os.path.join(root, f), uid, gid)


def _elf_dynamic_strings(path):
    """The dynamic string table of an ELF file (names of the dynamic
    symbols and of the libraries it needs), or None if not ELF."""
    with open(path, "rb") as f:
        ident = f.read(16)
        if ident[:4] != b"\x7fELF":
            return None
        end = "<" if ident[5] == 1 else ">"
        if ident[4] == 2:       # ELF64
            f.seek(0x28)
            shoff, = struct.unpack(end + "Q", f.read(8))
            f.seek(0x3A)
            shentsize, shnum = struct.unpack(end + "HH", f.read(4))
            fmt = end + "IIQQQQIIQQ"
        else:                   # ELF32
            f.seek(0x20)
            shoff, = struct.unpack(end + "I", f.read(4))
            f.seek(0x2E)
            shentsize, shnum = struct.unpack(end + "HH", f.read(4))
            fmt = end + "IIIIIIIIII"
        sections = []
        for i in range(shnum):
            f.seek(shoff + i * shentsize)
            sections.append(struct.unpack(
                fmt, f.read(struct.calcsize(fmt))))
        for sh in sections:
            if sh[1] == 11:     # SHT_DYNSYM; sh_link is its string table
                strtab = sections[sh[6]]
                f.seek(strtab[4])
                return f.read(strtab[5])
    return b""


def is_sanitizer_build(binary):
    """True if the program is built with AddressSanitizer: its dynamic
    symbols include __asan_init (also with -static-libasan) or it needs
    libasan.  A libtool wrapper script is followed to .libs/."""
    strings = _elf_dynamic_strings(binary)
    if strings is None:
        real = os.path.join(os.path.dirname(binary), ".libs",
                            os.path.basename(binary))
        strings = _elf_dynamic_strings(real) if os.path.exists(real) \
            else None
    if strings is None:
        raise HarnessError("%s is not an ELF program (nor a libtool "
                           "wrapper of one)" % binary)
    return b"\0__asan_init\0" in b"\0" + strings or \
        b"libasan.so" in strings


def find_builddir(builddir=None):
    """The build tree: argument, $EAS_BUILDDIR, or the source tree."""
    return os.path.abspath(builddir or os.environ.get("EAS_BUILDDIR")
                           or SRCDIR)


# ---------------------------------------------------------------- WBXML

XML_PROLOG = ('<?xml version="1.0" encoding="utf-8"?>\n'
              '<!DOCTYPE ActiveSync PUBLIC "-//MICROSOFT//DTD ActiveSync//EN" '
              '"http://www.microsoft.com/">\n')

# Element names where libwbxml2's ACTIVESYNC tables differ from
# MS-ASWBXML.  Both spellings compare equal (canonical() maps the key to
# the value), so our codec may print either.  Keys and values are
# (namespace, name) as wbxml2xml prints them:
#   Email:Reply-To      MS-ASWBXML page 2 token 0x19 is "ReplyTo"
#   ComposeMail:MIME    MS-ASWBXML page 21 token 0x10 is "Mime"
#   Provision:DeviceEncryptionEnabled
#                       page 14 token 0x10 has two names in MS-ASWBXML;
#                       since 12.1 it is "RequireStorageCardEncryption"
#   Email:FlagStatus    MS-ASWBXML page 2 token 0x3B is "Status"
# Opaque data (e.g. ComposeMail:Mime) is printed as base64 text by
# wbxml2xml; our decoder is expected to do the same.
NAME_ALIASES = {
    ("Email:", "Reply-To"): ("Email:", "ReplyTo"),
    # Email 0x3B, the Flag's status, is "FlagStatus" in libwbxml
    ("Email:", "FlagStatus"): ("Email:", "Status"),
    ("ComposeMail:", "MIME"): ("ComposeMail:", "Mime"),
    # Tasks 0x0D / 0x1F (also inside Email:Flag) are "UtcDueDate" and
    # "UtcStartDate" in MS-ASWBXML
    ("Tasks:", "UTCDueDate"): ("Tasks:", "UtcDueDate"),
    ("Tasks:", "UTCStartDate"): ("Tasks:", "UtcStartDate"),
    # the children of Tasks:Recurrence (0x10-0x1A) are "Recurrence_Type"
    # ... in libwbxml, "Type" ... in MS-ASWBXML
    ("Tasks:", "Recurrence_Type"): ("Tasks:", "Type"),
    ("Tasks:", "Recurrence_Start"): ("Tasks:", "Start"),
    ("Tasks:", "Recurrence_Until"): ("Tasks:", "Until"),
    ("Tasks:", "Recurrence_Occurrences"): ("Tasks:", "Occurrences"),
    ("Tasks:", "Recurrence_Interval"): ("Tasks:", "Interval"),
    ("Tasks:", "Recurrence_DayOfMonth"): ("Tasks:", "DayOfMonth"),
    ("Tasks:", "Recurrence_DayOfWeek"): ("Tasks:", "DayOfWeek"),
    ("Tasks:", "Recurrence_WeekOfMonth"): ("Tasks:", "WeekOfMonth"),
    ("Tasks:", "Recurrence_MonthOfYear"): ("Tasks:", "MonthOfYear"),
    ("Tasks:", "Recurrence_Regenerate"): ("Tasks:", "Regenerate"),
    ("Tasks:", "Recurrence_DeadOccur"): ("Tasks:", "DeadOccur"),
    ("Provision:", "DeviceEncryptionEnabled"):
        ("Provision:", "RequireStorageCardEncryption"),
    # Settings 0x1F is "SMTPAddress" in MS-ASWBXML
    ("Settings:", "SmtpAddress"): ("Settings:", "SMTPAddress"),
    # Settings 0x2B: libwbxml2's table has the name cut short, so
    # xml2wbxml can't encode it (requests use our encoder)
    ("Settings:", "ihsManagementInformation"):
        ("Settings:", "RightsManagementInformation"),
}
# Contacts 0x0D-0x11, 0x21-0x25, 0x2D-0x31: libwbxml's HomeStreet is
# MS-ASWBXML's HomeAddressStreet, and so on (requests must use
# libwbxml's names, xml2wbxml encodes them)
for _kind in ("Home", "Business", "Other"):
    for _part in ("Street", "City", "State", "PostalCode", "Country"):
        NAME_ALIASES[("Contacts:", _kind + _part)] = \
            ("Contacts:", _kind + "Address" + _part)

# Calendar: libwbxml's TimeZone, Attendee_Email, Exception_StartTime,
# Recurrence_Type ... are MS-ASWBXML's Timezone, Email, ExceptionStartTime,
# Type ... (page 4)
for _lib, _ms in (("TimeZone", "Timezone"), ("DTStamp", "DtStamp"),
                  ("Attendee_Email", "Email"),
                  ("Attendee_Name", "Name"),
                  ("Attendee_Status", "AttendeeStatus"),
                  ("Attendee_Type", "AttendeeType"),
                  ("Exception_Deleted", "Deleted"),
                  ("Exception_StartTime", "ExceptionStartTime"),
                  ("Organizer_Email", "OrganizerEmail"),
                  ("Organizer_Name", "OrganizerName"),
                  ("Recurrence_Type", "Type"),
                  ("Recurrence_Until", "Until"),
                  ("Recurrence_Occurrences", "Occurrences"),
                  ("Recurrence_Interval", "Interval"),
                  ("Recurrence_DayOfWeek", "DayOfWeek"),
                  ("Recurrence_DayOfMonth", "DayOfMonth"),
                  ("Recurrence_WeekOfMonth", "WeekOfMonth"),
                  ("Recurrence_MonthOfYear", "MonthOfYear")):
    NAME_ALIASES[("Calendar:", _lib)] = ("Calendar:", _ms)

# Email (page 2): MeetingRequest's DTStamp and Recurrence_Type ... are
# MS-ASWBXML's DtStamp, Type ...
for _lib, _ms in (("DTStamp", "DtStamp"),
                  ("Recurrence_Type", "Type"),
                  ("Recurrence_Until", "Until"),
                  ("Recurrence_Occurrences", "Occurrences"),
                  ("Recurrence_Interval", "Interval"),
                  ("Recurrence_DayOfWeek", "DayOfWeek"),
                  ("Recurrence_DayOfMonth", "DayOfMonth"),
                  ("Recurrence_WeekOfMonth", "WeekOfMonth"),
                  ("Recurrence_MonthOfYear", "MonthOfYear")):
    NAME_ALIASES[("Email:", _lib)] = ("Email:", _ms)

_WBXML_TOOLS_CHECKED = False


def plugin_dir_conf(builddir=None):
    """Dovecot configuration loading the activesync mail plugin of the
    build tree into every mail process (lmtp, imap, doveadm and the
    service).  Dovecot loads plugins from one mail_plugin_dir, so a
    temporary directory holds links to Dovecot's own notify plugin and
    ours; it is removed when Python exits."""
    builddir = find_builddir(builddir)
    ours = os.path.join(builddir, "hooks", ".libs",
                        "lib90_activesync_plugin.so")
    notify = "/usr/lib/dovecot/modules/lib15_notify_plugin.so"
    for path in (ours, notify):
        if not os.path.exists(path):
            raise HarnessError("plugin missing: %s (run make)" % path)
    d = tempfile.mkdtemp(prefix="eas-e2e-plugins-")
    os.chmod(d, 0o755)
    atexit.register(shutil.rmtree, d, True)
    for path in (ours, notify):
        os.symlink(path, os.path.join(d, os.path.basename(path)))
    return ("mail_plugin_dir = %s\n"
            "mail_plugins = $mail_plugins notify activesync\n" % d)


DOVEADM_MODULE_DIR = "/usr/lib/dovecot/modules/doveadm"
DOVEADM_PLUGIN = "lib20_doveadm_activesync_plugin.so"


def doveadm_plugin_dir(builddir=None):
    """A temporary directory holding (a link to) the build's doveadm
    plugin.  doveadm loads plugins only from its compiled-in module
    directory, so doveadm_activesync_cmd() mounts this directory over it
    in a private mount namespace of that one doveadm process: nothing
    is written into system directories.  Removed when Python exits."""
    built = os.path.join(find_builddir(builddir), "doveadm", ".libs",
                         DOVEADM_PLUGIN)
    if not os.path.exists(built):
        raise HarnessError("doveadm plugin missing: %s (run make)" % built)
    d = tempfile.mkdtemp(prefix="eas-e2e-doveadm-")
    os.chmod(d, 0o755)
    atexit.register(shutil.rmtree, d, True)
    os.symlink(built, os.path.join(d, DOVEADM_PLUGIN))
    return d


def with_doveadm_plugin(plugin_dir, argv):
    """Command line running argv with plugin_dir mounted over doveadm's
    module directory (unshare: as root a mount namespace; otherwise a
    user namespace)."""
    mount = 'mount --bind "$0" %s && exec "$@"' % DOVEADM_MODULE_DIR
    if os.geteuid() == 0:
        ns = ["unshare", "--mount", "--propagation", "private"]
    else:
        ns = ["unshare", "--map-root-user", "--mount",
              "--propagation", "private"]
    return ns + ["sh", "-c", mount, plugin_dir] + list(argv)


def doveadm_activesync_cmd(plugin_dir, doveadm_args):
    """Command line running "doveadm ARGS" as the Dovecot user with the
    build's doveadm plugin (see with_doveadm_plugin())."""
    return with_doveadm_plugin(plugin_dir, _as_user_prefix() + ["doveadm"]
                               + list(doveadm_args))


DOVECOT_SETTINGS_DIR = "/usr/lib/dovecot/modules/settings"
SETTINGS_MODULE = "libactivesync_settings.so"


def install_settings_module(builddir=None):
    """doveconf knows activesync_* only from a settings module in its
    compiled-in directory, whatever the build's install dirs.  As root,
    copy the one of this build there (atomically, a copy so that it
    outlives the build tree; never built with sanitizers, it loads into
    Dovecot's doveconf).  Otherwise leave what is there."""
    built = os.path.join(find_builddir(builddir), "module", ".libs",
                         SETTINGS_MODULE)
    if not os.path.exists(built):
        raise HarnessError("settings module missing: %s (run make)" % built)
    dest = os.path.join(DOVECOT_SETTINGS_DIR, SETTINGS_MODULE)
    if os.geteuid() != 0 or not os.path.isdir(DOVECOT_SETTINGS_DIR):
        return
    with open(built, "rb") as f:
        data = f.read()
    try:
        with open(dest, "rb") as f:
            if f.read() == data:
                return
    except OSError:
        pass
    tmp = "%s.%d.tmp" % (dest, os.getpid())
    with open(tmp, "wb") as f:
        f.write(data)
    os.chmod(tmp, 0o644)
    os.rename(tmp, dest)


def doveconf_known_settings(prefix="activesync_"):
    """Names of the settings doveconf knows that start with prefix."""
    r = subprocess.run(["doveconf", "-c", "/dev/null", "-a"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True)
    return {line.split(" = ", 1)[0].rstrip(" =")
            for line in r.stdout.splitlines() if line.startswith(prefix)}


def _require_wbxml_tools():
    global _WBXML_TOOLS_CHECKED
    if _WBXML_TOOLS_CHECKED:
        return
    for tool in ("xml2wbxml", "wbxml2xml"):
        if shutil.which(tool) is None:
            raise HarnessError("%s not found: install libwbxml2-utils "
                               "(scripts/install-deps.sh)" % tool)
    _WBXML_TOOLS_CHECKED = True


def with_prolog(xml_text):
    """Add the XML declaration and the ActiveSync DOCTYPE libwbxml needs."""
    s = xml_text.strip()
    if s.startswith("<?xml"):
        s = s[s.index("?>") + 2:].lstrip()
    if not s.startswith("<!DOCTYPE"):
        s = XML_PROLOG + s
    else:
        s = '<?xml version="1.0" encoding="utf-8"?>\n' + s
    return s


def encode_xml(xml_text):
    """XML text -> WBXML bytes with libwbxml2's xml2wbxml."""
    _require_wbxml_tools()
    with tempfile.TemporaryDirectory(prefix="eas-wbxml-") as d:
        src = os.path.join(d, "in.xml")
        dst = os.path.join(d, "out.wbxml")
        with open(src, "w", encoding="utf-8") as f:
            f.write(with_prolog(xml_text))
        r = subprocess.run(["xml2wbxml", "-v", "1.3", "-n", "-a",
                            "-o", dst, src],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if r.returncode != 0 or not os.path.exists(dst):
            raise HarnessError("xml2wbxml failed (%d): %s\n%s" % (
                r.returncode, r.stdout.decode(errors="replace"), xml_text))
        with open(dst, "rb") as f:
            return f.read()


def decode_wbxml(data, errors="strict"):
    """WBXML bytes -> XML text with libwbxml2's wbxml2xml.

    Raises HarnessError when wbxml2xml rejects the document."""
    _require_wbxml_tools()
    with tempfile.TemporaryDirectory(prefix="eas-wbxml-") as d:
        src = os.path.join(d, "in.wbxml")
        dst = os.path.join(d, "out.xml")
        with open(src, "wb") as f:
            f.write(data)
        r = subprocess.run(["wbxml2xml", "-l", "ACTIVESYNC", "-m", "0",
                            "-o", dst, src],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if r.returncode != 0 or not os.path.exists(dst):
            raise HarnessError("wbxml2xml failed (%d): %s; body %r" % (
                r.returncode, r.stdout.decode(errors="replace"), data[:64]))
        with open(dst, "rb") as f:
            text = f.read().decode("utf-8", errors)
    # libwbxml2 calls code page 16 "Gal"; Microsoft's schemas "GAL"
    return text.replace('xmlns="Gal:"', 'xmlns="GAL:"')


def our_codec_path(builddir=None):
    """module/wbxml/eas-wbxml in the build tree, or None if not built."""
    p = os.path.join(find_builddir(builddir), "module", "wbxml", "eas-wbxml")
    return p if os.access(p, os.X_OK) else None


def our_decode(data, builddir=None):
    tool = our_codec_path(builddir)
    if tool is None:
        return None
    r = subprocess.run([tool, "decode"], input=data,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if r.returncode != 0:
        raise AssertionError("eas-wbxml decode failed (%d) on a document "
                             "wbxml2xml accepts: %s" % (
                                 r.returncode,
                                 r.stderr.decode(errors="replace")))
    return r.stdout.decode("utf-8")


def our_encode(xml_text, builddir=None):
    tool = our_codec_path(builddir)
    if tool is None:
        return None
    r = subprocess.run([tool, "encode"],
                       input=with_prolog(xml_text).encode("utf-8"),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if r.returncode != 0:
        raise AssertionError("eas-wbxml encode failed (%d): %s" % (
            r.returncode, r.stderr.decode(errors="replace")))
    return r.stdout


def xml_escape(text):
    return (str(text).replace("&", "&amp;").replace("<", "&lt;")
            .replace(">", "&gt;").replace('"', "&quot;"))


def parse_xml(xml_text):
    """XML text (with or without DOCTYPE) -> ElementTree root element."""
    if isinstance(xml_text, bytes):
        xml_text = xml_text.decode("utf-8")
    return ET.fromstring(xml_text.encode("utf-8"))


def _split(tag):
    if tag.startswith("{"):
        ns, name = tag[1:].split("}", 1)
        return ns, name
    return "", tag


def canonical(elem):
    """A comparable form of an element tree: (ns, name, text, children).

    Whitespace around text is ignored and names in NAME_ALIASES are
    mapped, so two decoders' output compares equal when it means the
    same document."""
    ns, name = NAME_ALIASES.get(_split(elem.tag), _split(elem.tag))
    # XML end-of-line handling turns a raw CR LF into LF, while a
    # character reference &#13; keeps the CR: compare without CRs.
    text = (elem.text or "").replace("\r\n", "\n").strip()
    return (ns, name, text, tuple(canonical(c) for c in elem))


def assert_same_document(xml_a, xml_b, what="document", a_name="wbxml2xml",
                         b_name="eas-wbxml"):
    ca = canonical(parse_xml(xml_a))
    cb = canonical(parse_xml(xml_b))
    if ca != cb:
        raise AssertionError(
            "%s decodes differently:\n--- %s\n%s\n--- %s\n%s" % (
                what, a_name, xml_a, b_name, xml_b))


# ---------------------------------------------------------------- XML lookups

def _path_to_et(path):
    """'Collections/Collection/AirSyncBase:Type' -> ElementTree path.

    A step "Ns:Name" matches namespace "Ns:" exactly (wbxml2xml prints
    namespaces as xmlns="Ns:"), a bare "Name" matches any namespace."""
    steps = []
    for step in path.split("/"):
        if step in (".", "..", "*", "") or step.startswith("{"):
            steps.append(step)
        elif ":" in step:
            ns, name = step.split(":", 1)
            steps.append("{%s:}%s" % (ns, name))
        else:
            steps.append("{*}" + step)
    return "/".join(steps)


def _as_elem(x):
    if isinstance(x, EasResponse):
        if x.xml is None:
            raise AssertionError("response has no WBXML body: %r" % (x,))
        return x.xml
    if x is None:
        raise AssertionError("no XML document")
    return x


def _rel_path(root, path):
    """Paths may start with the root element's name; drop it."""
    first, _, rest = path.partition("/")
    ns, name = _split(root.tag)
    if first == name or first == "%s%s" % (ns, name):
        return rest or "."
    return path


def xfind(root, path):
    """First element matching path ("Ns:Name/Name/..."), relative to the
    root element (a leading root name is allowed), or None."""
    root = _as_elem(root)
    return root.find(_path_to_et(_rel_path(root, path)))


def xall(root, path):
    """All elements matching path."""
    root = _as_elem(root)
    return root.findall(_path_to_et(_rel_path(root, path)))


def xtext(root, path, default=None):
    """Stripped text of the first element matching path, or default."""
    e = xfind(root, path)
    if e is None:
        return default
    return (e.text or "").strip()


def xrequire(root, path):
    """Like xtext but fails the test when the element is absent."""
    e = xfind(root, path)
    if e is None:
        raise AssertionError("element %s missing in:\n%s" % (
            path, ET.tostring(_as_elem(root), encoding="unicode")))
    return (e.text or "").strip()


# ---------------------------------------------------------------- EAS client

# MS-ASHTTP 2.2.1.1.1.1.2: command codes of the base64 query form.
COMMAND_CODES = {
    "Sync": 0, "SendMail": 1, "SmartForward": 2, "SmartReply": 3,
    "GetAttachment": 4, "FolderSync": 9, "FolderCreate": 10,
    "FolderDelete": 11, "FolderUpdate": 12, "MoveItems": 13,
    "GetItemEstimate": 14, "MeetingResponse": 15, "Search": 16,
    "Settings": 17, "Ping": 18, "ItemOperations": 19, "Provision": 20,
    "ResolveRecipients": 21, "ValidateCert": 22, "Find": 23,
}

# MS-ASHTTP 2.2.1.1.1.1.3: command parameter tags of the base64 form.
PARAMETER_TAGS = {
    "AttachmentName": 0, "CollectionId": 1, "ItemId": 3, "LongId": 4,
    "Occurrence": 6, "Options": 7, "User": 8,
}


def base64_query(cmd, device_id, device_type, version="14.1",
                 policy_key=None, locale=0x0409, params=None):
    """Build the base64-encoded query value (MS-ASHTTP 2.2.1.1.1.1).

    Bytes: protocol version (e.g. 141 for 14.1), command code, locale
    (uint16 little endian), device id length + bytes, policy key length
    (0 or 4) + uint32 little endian, device type length + bytes, then
    per parameter: tag, length, value.  cmd may be a name or a code;
    params maps names (or tags) to str/bytes/int values."""
    major, minor = version.split(".")
    out = bytearray()
    out.append(int(major) * 10 + int(minor))
    out.append(COMMAND_CODES[cmd] if isinstance(cmd, str) else cmd)
    out += struct.pack("<H", locale)
    dev = device_id.encode() if isinstance(device_id, str) else device_id
    out.append(len(dev))
    out += dev
    if policy_key is None:
        out.append(0)
    else:
        out.append(4)
        out += struct.pack("<I", int(policy_key))
    dtype = (device_type.encode() if isinstance(device_type, str)
             else device_type)
    out.append(len(dtype))
    out += dtype
    for name, value in (params or {}).items():
        tag = PARAMETER_TAGS[name] if isinstance(name, str) else name
        if isinstance(value, int):
            value = bytes([value])
        elif isinstance(value, str):
            value = value.encode()
        out.append(tag)
        out.append(len(value))
        out += value
    return base64.b64encode(bytes(out)).decode("ascii")


class EasResponse:
    """An HTTP response from the service.

    status, reason, headers (http.client.HTTPMessage), body (bytes),
    xml (ElementTree root of the decoded WBXML body or None),
    xml_text (decoded XML text or None), elapsed (seconds)."""

    def __init__(self, status, reason, headers, body, elapsed):
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body
        self.elapsed = elapsed
        self.xml = None
        self.xml_text = None

    def header(self, name, default=None):
        return self.headers.get(name, default)

    @property
    def is_wbxml(self):
        ctype = (self.header("Content-Type") or "").lower()
        return "application/vnd.ms-sync.wbxml" in ctype and len(self.body) > 0

    def text(self, path, default=None):
        return xtext(self.xml, path, default)

    def __repr__(self):
        return "<EasResponse %d %s, %d bytes%s>" % (
            self.status, self.reason, len(self.body),
            ("\n" + self.xml_text) if self.xml_text else "")


class EasClient:
    """A minimal EAS client for tests.

    Every request opens a new HTTP/1.1 connection unless keep_alive is set.
    Responses with a WBXML body are decoded with wbxml2xml and, when it is
    built, with our own eas-wbxml; the two must agree."""

    def __init__(self, host, port, user, password, device_id, device_type,
                 version="14.1", policy_key=None, builddir=None,
                 timeout=60, user_agent="eas-e2e/1.0", locale=0x0409,
                 source_ip=None):
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.device_id = device_id
        self.device_type = device_type
        self.version = version
        self.policy_key = policy_key
        self.builddir = builddir
        # see decode_response()
        self.opaque_as_base64 = False
        # Find (code page 25) is beyond libwbxml2: decode with ours only
        self.our_codec_only = False
        self.timeout = timeout
        self.user_agent = user_agent
        self.locale = locale
        self.source_ip = source_ip
        self.last_request_wbxml = None

    # -- low level

    def _source(self):
        return (self.source_ip, 0) if self.source_ip else None

    def auth_header(self, user=None, password=None):
        u = self.user if user is None else user
        p = self.password if password is None else password
        token = base64.b64encode(("%s:%s" % (u, p)).encode("utf-8"))
        return "Basic " + token.decode("ascii")

    def raw(self, method, path, headers=None, body=None, timeout=None):
        """Send one HTTP request as given, return an EasResponse
        (body not decoded)."""
        conn = http.client.HTTPConnection(
            self.host, self.port, timeout=timeout or self.timeout,
            source_address=self._source())
        start = time.monotonic()
        try:
            conn.request(method, path, body=body, headers=headers or {})
            r = conn.getresponse()
            data = r.read()
            return EasResponse(r.status, r.reason, r.headers, data,
                               time.monotonic() - start)
        finally:
            conn.close()

    def query(self, cmd, extra_query=None, base64_form=False, params=None):
        if base64_form:
            return "%s?%s" % (EAS_PATH, base64_query(
                cmd, self.device_id, self.device_type, self.version,
                self.policy_key, self.locale, params))
        from urllib.parse import urlencode
        q = []
        if cmd is not None:
            q.append(("Cmd", cmd))
        if self.user is not None:
            q.append(("User", self.user))
        if self.device_id is not None:
            q.append(("DeviceId", self.device_id))
        if self.device_type is not None:
            q.append(("DeviceType", self.device_type))
        for k, v in (extra_query or {}).items():
            q.append((k, v))
        return "%s?%s" % (EAS_PATH, urlencode(q))

    def headers(self, auth=True, base64_form=False, content_type=True):
        h = {"User-Agent": self.user_agent}
        if auth:
            h["Authorization"] = self.auth_header()
        if not base64_form:
            if self.version is not None:
                h["MS-ASProtocolVersion"] = self.version
            if self.policy_key is not None:
                h["X-MS-PolicyKey"] = str(self.policy_key)
        if content_type:
            h["Content-Type"] = "application/vnd.ms-sync.wbxml"
        return h

    def decode_response(self, resp):
        """Fill resp.xml/xml_text from a WBXML body, cross-checking our
        own decoder when it is built."""
        if not resp.is_wbxml:
            return resp
        if self.our_codec_only:
            ours = our_decode(resp.body, self.builddir)
            if ours is None:
                raise HarnessError("our_codec_only needs eas-wbxml")
            resp.xml_text = ours
            resp.xml = parse_xml(ours)
            return resp
        if self.opaque_as_base64:
            # Opaque data in an element libwbxml2 takes for text (a
            # MIME body with 8-bit bytes in AirSyncBase:Data):
            # wbxml2xml prints the raw bytes, our decoder base64. Use
            # ours; libwbxml2 must still accept the document.
            ours = our_decode(resp.body, self.builddir)
            if ours is None:
                raise HarnessError("opaque_as_base64 needs eas-wbxml")
            decode_wbxml(resp.body, errors="replace")
            resp.xml_text = ours
            resp.xml = parse_xml(ours)
            return resp
        resp.xml_text = decode_wbxml(resp.body)
        resp.xml = parse_xml(resp.xml_text)
        ours = our_decode(resp.body, self.builddir)
        if ours is not None:
            assert_same_document(resp.xml_text, ours, "response body")
        return resp

    def raw_socket(self, method, path, headers, body=b"",
                   early_wait=1.0, chunk=65536, timeout=None):
        """Send a request over a plain socket, tolerating a server that
        answers (e.g. 413) and closes before the whole body was sent.

        After the header block, waits up to early_wait seconds for an
        early response before streaming the body.  Returns an
        EasResponse; resp.body_sent tells whether the whole body went
        out."""
        sock = socket.create_connection((self.host, self.port),
                                        timeout=timeout or self.timeout,
                                        source_address=self._source())
        start = time.monotonic()
        try:
            h = {"Host": "%s:%d" % (self.host, self.port)}
            h.update(headers)
            if "Content-Length" not in h and \
                    "Transfer-Encoding" not in h:
                h["Content-Length"] = str(len(body))
            head = "%s %s HTTP/1.1\r\n" % (method, path)
            head += "".join("%s: %s\r\n" % kv for kv in h.items())
            head += "\r\n"
            sent_all = False
            try:
                sock.sendall(head.encode("latin-1"))
                r, _, _ = select.select([sock], [], [], early_wait)
                if not r:
                    for off in range(0, len(body), chunk):
                        sock.sendall(body[off:off + chunk])
                    sent_all = True
            except (BrokenPipeError, ConnectionResetError):
                pass
            resp = http.client.HTTPResponse(sock, method=method)
            try:
                resp.begin()
                data = resp.read()
            except (ConnectionResetError, http.client.RemoteDisconnected) \
                    as e:
                raise AssertionError("connection closed without an HTTP "
                                     "response: %s" % e)
            out = EasResponse(resp.status, resp.reason, resp.headers, data,
                              time.monotonic() - start)
            out.body_sent = sent_all
            return out
        finally:
            sock.close()

    # -- provisioning

    @staticmethod
    def needs_provision(resp):
        """True if the server asks the device to provision first: HTTP
        449 (older versions) or a top-level Status 142/143/144."""
        if resp.status == 449:
            return True
        if resp.xml is not None:
            st = resp.xml.find("{*}Status")
            if st is not None and (st.text or "").strip() in (
                    "142", "143", "144"):
                return True
        return False

    def provision(self):
        """The two-phase Provision dance (MS-ASPROV 3.1.5.1): fetch the
        policy, acknowledge it, keep the final policy key.  Returns the
        final response."""
        self.policy_key = None
        devinfo = ""
        if float(self.version) >= 14.1:
            devinfo = ("<settings:DeviceInformation><settings:Set>"
                       "<settings:Model>e2e</settings:Model>"
                       "<settings:FriendlyName>e2e test device"
                       "</settings:FriendlyName>"
                       "<settings:OS>Linux</settings:OS>"
                       "<settings:UserAgent>%s</settings:UserAgent>"
                       "</settings:Set></settings:DeviceInformation>"
                       % xml_escape(self.user_agent))
        r = self.request("Provision", (
            '<Provision xmlns="Provision:" xmlns:settings="Settings:">'
            '%s<Policies><Policy><PolicyType>MS-EAS-Provisioning-WBXML'
            '</PolicyType></Policy></Policies></Provision>') % devinfo)
        if r.status != 200:
            raise AssertionError("Provision (initial) answered %r" % (r,))
        if xrequire(r, "Provision/Status") != "1":
            raise AssertionError("Provision (initial) failed: %r" % (r,))
        pstatus = xtext(r, "Policies/Policy/Status")
        key = xtext(r, "Policies/Policy/PolicyKey")
        if pstatus == "2" or key is None:
            # no policy for this device
            self.policy_key = key or "0"
            return r
        self.policy_key = key
        r = self.request("Provision", (
            '<Provision xmlns="Provision:"><Policies><Policy>'
            '<PolicyType>MS-EAS-Provisioning-WBXML</PolicyType>'
            '<PolicyKey>%s</PolicyKey><Status>1</Status>'
            '</Policy></Policies></Provision>') % xml_escape(key))
        if r.status != 200 or xrequire(r, "Provision/Status") != "1":
            raise AssertionError("Provision (acknowledge) failed: %r" %
                                 (r,))
        self.policy_key = xrequire(r, "Policies/Policy/PolicyKey")
        return r

    def request_provisioned(self, cmd, xml=None, **kw):
        """request(), provisioning first when the server asks for it,
        like a real device does."""
        r = self.request(cmd, xml, **kw)
        if self.needs_provision(r):
            self.provision()
            r = self.request(cmd, xml, **kw)
        return r

    def foldersync(self, sync_key="0", **kw):
        """FolderSync (provisioning as needed); returns the response."""
        return self.request_provisioned(
            "FolderSync", '<FolderSync xmlns="FolderHierarchy:">'
            '<SyncKey>%s</SyncKey></FolderSync>' % xml_escape(sync_key),
            **kw)

    # -- EAS

    def options(self, auth=True):
        h = {"User-Agent": self.user_agent}
        if auth:
            h["Authorization"] = self.auth_header()
        return self.raw("OPTIONS", EAS_PATH, h)

    def request(self, cmd, xml=None, extra_query=None, base64_query=False,
                headers=None, body=None, auth=True, params=None,
                method="POST", path=None, timeout=None):
        """POST one command.

        xml: request document as XML text (encoded with xml2wbxml) or
        None for no body; body: raw bytes instead of xml; headers: extra
        or replacement headers (a None value removes a header);
        base64_query: use the base64 query form with params."""
        if body is None and xml is not None:
            body = encode_xml(xml)
            self.last_request_wbxml = body
            ours = our_decode(body, self.builddir)
            if ours is not None:
                assert_same_document(decode_wbxml(body), ours,
                                     "request body")
        h = self.headers(auth=auth, base64_form=base64_query,
                         content_type=body is not None)
        for k, v in (headers or {}).items():
            if v is None:
                h.pop(k, None)
            else:
                h[k] = v
        if path is None:
            path = self.query(cmd, extra_query, base64_query, params)
        resp = self.raw(method, path, h, body, timeout)
        return self.decode_response(resp)

    def request_cut(self, cmd, xml, read_bytes, timeout=None):
        """POST one command like request(), read only the status line,
        the headers and read_bytes of the body, then drop the connection
        (a device that loses its network mid-response).  Returns
        (status, headers, number of body bytes read)."""
        body = encode_xml(xml)
        h = self.headers()
        sock = socket.create_connection((self.host, self.port),
                                        timeout=timeout or self.timeout,
                                        source_address=self._source())
        try:
            h["Host"] = "%s:%d" % (self.host, self.port)
            h["Content-Length"] = str(len(body))
            head = "POST %s HTTP/1.1\r\n" % self.query(cmd)
            head += "".join("%s: %s\r\n" % kv for kv in h.items())
            sock.sendall(head.encode("latin-1") + b"\r\n" + body)
            resp = http.client.HTTPResponse(sock, method="POST")
            try:
                resp.begin()
                got = len(resp.read(read_bytes))
                return resp.status, resp.headers, got
            finally:
                resp.close()
        finally:
            # unread data in the receive buffer: the close resets the
            # connection, as a lost network does for the server
            sock.close()


# ---------------------------------------------------------------- Dovecot

# Debian's stock configuration, as dovecot-core ships it
STOCK_CONF_DIR = "/usr/share/dovecot"
# Lines of it a private instance comments out, (conf.d file, line):
# PAM passdb and passwd userdb (root's) give way to passwd-file; the
# certificate files are read when parsed, and are root's.
STOCK_CONF_COMMENTED = (
    ("10-auth.conf", "!include auth-system.conf.ext"),
    ("10-ssl.conf", "ssl_cert = </etc/dovecot/private/dovecot.pem"),
    ("10-ssl.conf", "ssl_key = </etc/dovecot/private/dovecot.key"),
)

# mail_location per Dovecot mail storage driver (DovecotInstance's
# mail_driver), all in the user's home.  mbox keeps INBOX in a file of
# its own, the way /var/mail/%u is kept apart on real systems.
MAIL_LOCATIONS = {
    "maildir": "maildir:~/Maildir",
    "sdbox": "sdbox:~/sdbox",
    "mdbox": "mdbox:~/mdbox",
    "mbox": "mbox:~/mail:INBOX=~/mbox-inbox",
}


# DovecotInstance(public_acl=[...]): a public namespace and the acl
# plugin reading a global ACL file
PUBLIC_CONF = """
mail_plugins = $mail_plugins acl
namespace public {{
  type = public
  separator = /
  prefix = Public/
  location = maildir:{public}
  subscriptions = no
  list = yes
}}
plugin {{
  acl = vfile:{acl}
}}
"""


# DovecotInstance(sieve=True): Sieve in lmtp (dovecot-sieve), the script
# storage in the home as Pigeonhole's default, and ManageSieve
# (dovecot-managesieved) on a port of its own.
SIEVE_CONF = """
plugin {{
  sieve = file:~/sieve;active=~/.dovecot.sieve
}}
protocol lmtp {{
  mail_plugins = $mail_plugins sieve
}}
service managesieve-login {{
  chroot =
  inet_listener sieve {{
    address = 127.0.0.1
    port = {port}
  }}
}}
"""


class DovecotInstance:
    """A private Dovecot in a temporary directory.

    Attributes after construction: dir, conf_path, log_path, base_dir,
    state_dir, imap_port, lmtp_port, eas_port, builddir,
    activesync_binary (None if module/activesync is not built),
    activesync_enabled, sanitizer_build (the service binary has ASan),
    mail_driver, user/uid/gid it runs as.

    mail_driver: one of MAIL_LOCATIONS (default maildir).
    stock_config: Debian's stock configuration instead of ours (see
    _write_stock_conf(); mail is mbox there, mail_driver is ignored);
    conf_path is then <dir>/stock/dovecot.conf."""

    def __init__(self, builddir=None, keep=False, users=None,
                 activesync=None, plugin_settings=None, extra_conf="",
                 name="dovecot", mail_driver="maildir", stock_config=False,
                 namespace_conf=None, passwd_single=False,
                 doveadm_server_plugin=False, sieve=False,
                 public_acl=None, asan_options=None):
        if shutil.which("dovecot") is None and not os.path.exists(
                "/usr/sbin/dovecot"):
            raise HarnessError("dovecot not installed "
                               "(scripts/install-deps.sh)")
        self.builddir = find_builddir(builddir)
        self.keep = keep
        self.run_user, self.uid, self.gid = run_identity()
        self.dir = tempfile.mkdtemp(prefix="eas-e2e-%s-" % name)
        os.chmod(self.dir, 0o755)
        self.base_dir = os.path.join(self.dir, "run")
        self.state_dir = os.path.join(self.dir, "state")
        self.home_root = os.path.join(self.dir, "home")
        self.eas_state_dir = os.path.join(self.dir, "activesync-state")
        self.log_path = os.path.join(self.dir, "dovecot.log")
        self.conf_path = os.path.join(self.dir, "dovecot.conf")
        self.passwd_dir = os.path.join(self.dir, "passwd.d")
        # one passwd-file for all users, as a userdb that can be listed
        # (the GAL) needs; a change takes up to a second to be seen
        self.passwd_single = passwd_single
        # the whole instance runs with the build's doveadm plugin in
        # doveadm's module directory (a private mount namespace, root
        # only), so that its doveadm server runs "doveadm activesync"
        # commands (doveadm -S)
        # (as root only: the master must keep running as itself)
        self.doveadm_server_plugin = doveadm_server_plugin and \
            os.geteuid() == 0
        self.users = dict(DEFAULT_USERS if users is None else users)
        # appended to the ASAN_OPTIONS of the instance's processes
        # (e.g. a small quarantine where a test measures memory)
        self.asan_options = asan_options
        self.user_fields = {}
        self.plugin_settings = dict(plugin_settings or {})
        self.extra_conf = extra_conf
        # replaces the namespace block below (the private namespace must
        # stay "inbox" with separator "/")
        self.namespace_conf = namespace_conf
        self.imap_port, self.lmtp_port, self.eas_port = free_ports(3)
        # sieve: Pigeonhole's Sieve for lmtp and a ManageSieve listener
        # (sieve_port), the scripts in the users' homes
        self.sieve = sieve
        self.sieve_port = free_port() if sieve else None
        # public_acl: a list of global ACL lines ("Public/Box user=x lr");
        # the instance then has a public namespace "Public/" (maildir
        # in <dir>/public, see public_mailbox_add()) and the acl plugin
        # with that file
        self.public_acl = public_acl
        self.public_dir = os.path.join(self.dir, "public")
        binary = os.path.join(self.builddir, "module", "activesync")
        self.activesync_binary = binary if os.access(binary, os.X_OK) \
            else None
        if activesync is None:
            activesync = self.activesync_binary is not None
        if activesync and self.activesync_binary is None:
            raise HarnessError("activesync service binary not built: %s "
                               "(run make)" % binary)
        self.activesync_enabled = bool(activesync)
        self.sanitizer_build = self.activesync_binary is not None and \
            is_sanitizer_build(self.activesync_binary)
        if mail_driver not in MAIL_LOCATIONS:
            raise HarnessError("unknown mail_driver %r (one of %s)" % (
                mail_driver, ", ".join(sorted(MAIL_LOCATIONS))))
        self.mail_driver = mail_driver
        self.stock_config = stock_config
        if stock_config:
            if not os.path.exists(os.path.join(STOCK_CONF_DIR,
                                               "dovecot.conf")):
                raise HarnessError("%s/dovecot.conf missing (dovecot-core)"
                                   % STOCK_CONF_DIR)
            if self.activesync_conf_path() is None:
                raise HarnessError("conf.d/20-activesync.conf missing")
            self.mail_driver = "mbox"
            self.conf_path = os.path.join(self.dir, "stock", "dovecot.conf")
        # the mbox INBOX spool of the stock configuration (/var/mail)
        self.mail_spool = os.path.join(self.dir, "mail-spool")
        if self.activesync_enabled:
            install_settings_module(self.builddir)
        self.proc = None
        self._log_mark = 0
        for d in (self.base_dir, self.state_dir, self.home_root,
                  self.eas_state_dir):
            os.makedirs(d, mode=0o755 if d == self.base_dir else 0o750)
        with open(self.log_path, "w"):
            pass
        self._write_passwd()
        self._write_conf()
        if os.geteuid() == 0:
            _chown_tree(self.dir, self.uid, self.gid)

    # -- configuration

    def _write_passwd(self):
        # One passwd-file per user (args = passwd.d/%Lu): Dovecot re-reads
        # a changed passwd-file at most once a second, but a file it has
        # never seen is read at once, so add_user() takes effect at once.
        os.makedirs(self.passwd_dir, mode=0o755, exist_ok=True)
        if self.passwd_single:
            self._write_file(os.path.join(self.passwd_dir, "users"),
                             "".join(self._passwd_line(u, p) for u, p in
                                     sorted(self.users.items())))
            return
        for user, password in sorted(self.users.items()):
            self._write_user(user, password)

    def _passwd_line(self, user, password):
        if "/" in user or user.startswith(".") or user != user.lower():
            raise HarnessError("test user names must be lower case "
                               "without '/': %r" % user)
        home = os.path.join(self.home_root, user)
        # userdb extra fields: "userdb_key=value" separated by spaces
        # (values without spaces); unknown keys become plugin settings
        extra = " ".join("userdb_%s=%s" % kv for kv in
                         sorted(self.user_fields.get(user, {}).items()))
        return "%s:{PLAIN}%s:%d:%d::%s::%s\n" % (user, password, self.uid,
                                                 self.gid, home, extra)

    def _write_file(self, path, text):
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        if os.geteuid() == 0:
            os.chown(tmp, self.uid, self.gid)
        os.rename(tmp, path)

    def _write_user(self, user, password):
        self._write_file(os.path.join(self.passwd_dir, user),
                         self._passwd_line(user, password))

    def add_user(self, user, password, extra_fields=None):
        """Add a passdb/userdb entry, usable at once.  (Changing the
        password of a user Dovecot already looked up may take a second
        to be noticed.)  extra_fields: userdb extra fields (dict), e.g.
        per-user plugin settings; kept only until the next restart."""
        self.add_users({user: (password, extra_fields)})

    def add_users(self, users):
        """Add several: {user: (password, extra_fields)}.  With
        passwd_single the file is written once and this waits until
        Dovecot must have seen it (it looks at most once a second)."""
        for user, (password, extra_fields) in users.items():
            self.users[user] = password
            self.user_fields[user] = dict(extra_fields or {})
            if not self.passwd_single:
                self._write_user(user, password)
        if self.passwd_single:
            self._write_passwd()
            time.sleep(1.1)

    def activesync_conf_path(self):
        p = os.path.join(SRCDIR, "conf.d", "20-activesync.conf")
        return p if os.path.exists(p) else None

    def _activesync_block(self, include=True):
        lines = []
        inc = self.activesync_conf_path()
        if inc and include:
            lines.append("!include %s" % inc)
        # The shipped file as it is: only the executable, the user,
        # ports and paths are ours.  ASan reserves terabytes of address
        # space, so a sanitizer build can't run under any vsz_limit.
        lines += [
            "service activesync {",
            "  executable = %s" % self.activesync_binary,
            "  user = %s" % self.run_user,
        ]
        if self.sanitizer_build:
            lines.append("  vsz_limit = 0")
        lines += [
            "  inet_listener activesync {",
            "    address = 127.0.0.1",
            "    port = %d" % self.eas_port,
            "  }",
        ]
        if inc:
            lines += [
                "  inet_listener activesync-ssl {",
                "    port = 0",
                "  }",
            ]
        lines += ["}"]
        settings = {"activesync_state_dir": self.eas_state_dir}
        settings.update(self.plugin_settings)
        # at top level what doveconf knows (the settings module), the
        # rest in plugin { } (activesync_notify_socket; all of them if
        # the module is missing)
        known = doveconf_known_settings()
        plugin = []
        for k, v in settings.items():
            if k in known:
                lines.append("%s = %s" % (k, v))
            else:
                plugin.append("  %s = %s" % (k, v))
        lines += ["plugin {"] + plugin + ["}"]
        return "\n".join(lines) + "\n"

    def _base_conf(self, protocols):
        d = self.dir
        return """# generated by tests/e2e/harness.py
protocols = {protocols}
listen = 127.0.0.1
base_dir = {base_dir}
state_dir = {state_dir}
log_path = {log}
info_log_path =
debug_log_path =
instance_name = eas-e2e-{tag}
default_internal_user = {user}
default_login_user = {user}
default_internal_group = {group}
first_valid_uid = {uid}
last_valid_uid = 0
first_valid_gid = 0
ssl = no
auth_verbose = yes
disable_plaintext_auth = no
auth_mechanisms = plain login
import_environment = TZ CORE_OUTOFMEM CORE_ERROR ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS
postmaster_address = postmaster@example.test
hostname = eas-e2e.example.test
mail_location = {mail_location}
mailbox_list_index = yes
mail_attribute_dict = file:%h/dovecot-attributes
mail_plugins =
imap_metadata = yes

passdb {{
  driver = passwd-file
  args = {passwd_args}
}}
userdb {{
  driver = passwd-file
  args = {passwd_args}
}}

{namespace}

service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service pop3-login {{
  chroot =
}}
service submission-login {{
  chroot =
}}
service imap-urlauth-login {{
  chroot =
}}
service anvil {{
  chroot =
}}
service ipc {{
  chroot =
}}
service old-stats {{
  chroot =
}}
service aggregator {{
  chroot =
}}
service director {{
  chroot =
}}
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {lmtp}
  }}
}}
""".format(protocols=protocols, base_dir=self.base_dir,
           namespace=self.namespace_conf if self.namespace_conf is not None
           else DEFAULT_NAMESPACE,
           state_dir=self.state_dir, log=self.log_path,
           tag=os.path.basename(d), user=self.run_user,
           group=grp.getgrgid(self.gid).gr_name,
           uid=self.uid if self.uid > 0 else 1,
           passwd=self.passwd_dir, imap=self.imap_port,
           passwd_args=os.path.join(self.passwd_dir, "users")
           if self.passwd_single else self.passwd_dir + "/%Lu",
           lmtp=self.lmtp_port,
           mail_location=MAIL_LOCATIONS[self.mail_driver])

    def _write_stock_conf(self):
        """Debian's stock configuration (dovecot-core's /usr/share/dovecot:
        dovecot.conf and conf.d/, which include each other as shipped)
        plus our conf.d/20-activesync.conf, copied unchanged into
        <dir>/stock/.  What an unprivileged private instance must change
        goes into local.conf (dovecot.conf includes it last): ports,
        paths (base_dir, state_dir, log, the mail location, no login
        chroot), the users it runs as, and passwd-file instead of PAM.
        Three stock lines can't be overridden later and are commented
        out (STOCK_CONF_COMMENTED)."""
        stock = os.path.join(self.dir, "stock")
        if os.path.isdir(stock):
            shutil.rmtree(stock)
        os.makedirs(stock)
        for name in os.listdir(STOCK_CONF_DIR):
            src = os.path.join(STOCK_CONF_DIR, name)
            if name == "dovecot.conf" or name.endswith(".conf.ext"):
                shutil.copy(src, stock)
            elif name == "conf.d":
                shutil.copytree(src, os.path.join(stock, name))
        shutil.copy(self.activesync_conf_path(),
                    os.path.join(stock, "conf.d"))
        for name, line in STOCK_CONF_COMMENTED:
            path = os.path.join(stock, "conf.d", name)
            with open(path) as f:
                text = f.read()
            if "\n%s\n" % line not in text:
                raise HarnessError("%s: no line %r" % (path, line))
            with open(path, "w") as f:
                f.write(text.replace("\n%s\n" % line, "\n#%s\n" % line))
        os.makedirs(self.mail_spool, mode=0o750, exist_ok=True)
        local = """# generated by tests/e2e/harness.py: what a private,
# unprivileged instance must change in the stock configuration
listen = 127.0.0.1
base_dir = {base_dir}
state_dir = {state_dir}
log_path = {log}
instance_name = eas-e2e-{tag}
default_internal_user = {user}
default_login_user = {user}
default_internal_group = {group}
# the stock certificate is root's (and absent here)
ssl = no
# the sanitizer options of a sanitizer build
import_environment = TZ CORE_OUTOFMEM CORE_ERROR ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS
# the stock mbox location, with the spool in the test directory
mail_location = mbox:~/mail:INBOX={spool}/%u
# passwd-file instead of PAM, for users with the instance's uid
first_valid_uid = {uid}
passdb {{
  driver = passwd-file
  args = {passwd_args}
}}
userdb {{
  driver = passwd-file
  args = {passwd_args}
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {lmtp}
  }}
}}
service anvil {{
  chroot =
}}
""".format(base_dir=self.base_dir, state_dir=self.state_dir,
           log=self.log_path, tag=os.path.basename(self.dir),
           user=self.run_user, group=grp.getgrgid(self.gid).gr_name,
           spool=self.mail_spool, uid=self.uid if self.uid > 0 else 1,
           passwd=self.passwd_dir, imap=self.imap_port,
           passwd_args=os.path.join(self.passwd_dir, "users")
           if self.passwd_single else self.passwd_dir + "/%Lu",
           lmtp=self.lmtp_port)
        if os.path.exists(os.path.join(STOCK_CONF_DIR, "protocols.d",
                                       "managesieved.protocol")):
            # dovecot-managesieved (for the Oof tests) adds "sieve" to the
            # stock protocols: no fixed port 4190 shared by instances
            local += ("service managesieve-login {\n  chroot =\n"
                      "  inet_listener sieve {\n    port = 0\n  }\n}\n")
        if self.activesync_enabled:
            local += self._activesync_block(include=False)
        if self.extra_conf:
            local += "\n" + self.extra_conf + "\n"
        with open(os.path.join(stock, "local.conf"), "w") as f:
            f.write(local)
        if os.geteuid() == 0:
            _chown_tree(stock, self.uid, self.gid)
            os.chown(self.mail_spool, self.uid, self.gid)
        r = self._doveconf_check(self.conf_path)
        if r is not None:
            raise HarnessError("doveconf rejects the stock config: %s\n%s"
                               % (r, local))
        self.protocols = self.doveconf_value("protocols").split()

    def _write_conf(self):
        if self.stock_config:
            return self._write_stock_conf()
        protocols = "imap lmtp"
        tail = ""
        if self.activesync_enabled:
            tail = self._activesync_block()
            # the shipped file adds "activesync" to protocols; without
            # it, "activesync" goes in only if some service declares
            # protocol = activesync: doveconf tells us.
            if self.activesync_conf_path() is None and self._doveconf_ok(
                    self._base_conf(protocols + " activesync") + tail):
                protocols += " activesync"
        if self.sieve:
            protocols += " sieve"
            tail += SIEVE_CONF.format(port=self.sieve_port)
        if self.public_acl is not None:
            os.makedirs(self.public_dir, exist_ok=True)
            acl_path = os.path.join(self.dir, "global-acl")
            with open(acl_path, "w") as f:
                f.write("".join(line + "\n" for line in self.public_acl))
            tail += PUBLIC_CONF.format(public=self.public_dir, acl=acl_path)
        text = self._base_conf(protocols) + tail
        if self.extra_conf:
            text += "\n" + self.extra_conf + "\n"
        with open(self.conf_path, "w") as f:
            f.write(text)
        r = self._doveconf_check(self.conf_path)
        if r is not None:
            raise HarnessError("doveconf rejects the test config: %s\n%s"
                               % (r, text))
        self.protocols = self.doveconf_value("protocols").split()

    def public_mailbox_add(self, mailbox, message):
        """Put a message (bytes) into a mailbox of the public namespace
        (public_acl), creating the mailbox: straight into the maildir,
        as an admin's tool would, not subject to the ACL."""
        box = os.path.join(self.public_dir, "." + mailbox.replace("/", "."))
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(box, sub), exist_ok=True)
        self._public_serial = getattr(self, "_public_serial", 0) + 1
        name = "%d.M%dP%d.eas-e2e" % (time.time(), self._public_serial,
                                      os.getpid())
        path = os.path.join(box, "new", name)
        with open(path, "wb") as f:
            f.write(message)
        if os.geteuid() == 0:
            _chown_tree(self.public_dir, self.uid, self.gid)

    def doveconf_value(self, name):
        """A setting's effective value in this instance's config
        (doveconf -h), e.g. "service/activesync/vsz_limit"."""
        r = subprocess.run(["doveconf", "-c", self.conf_path, "-h", name],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True)
        if r.returncode != 0:
            raise HarnessError("doveconf -h %s: %s" % (name, r.stderr))
        return r.stdout.strip()

    def _doveconf_check(self, path):
        r = subprocess.run(["doveconf", "-c", path, "-n"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True)
        if r.returncode != 0:
            return r.stderr.strip() or r.stdout.strip()
        return None

    def _doveconf_ok(self, text):
        path = self.conf_path + ".probe"
        with open(path, "w") as f:
            f.write(text)
        try:
            return self._doveconf_check(path) is None
        finally:
            os.unlink(path)

    # -- processes

    def _cmd(self, args):
        return _as_user_prefix() + list(args)

    def _env(self):
        env = dict(os.environ)
        if os.geteuid() == 0:
            env.update(HOME=self.dir, USER=self.run_user,
                       LOGNAME=self.run_user)
        # Whatever the caller's ASAN_OPTIONS (make check may enable leak
        # checking for unit tests), processes under Dovecot's master run
        # with ours appended: later options win.
        env["ASAN_OPTIONS"] = ":".join(
            x for x in (os.environ.get("ASAN_OPTIONS"),
                        default_asan_options(), self.asan_options) if x)
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
        return env

    def start(self, timeout=30, check_service=True):
        """Start Dovecot in the foreground (as a child) and wait for its
        listeners; on failure raise HarnessError with the log tail.
        check_service=False: don't insist that the activesync service
        answers OPTIONS (for tests of a service that can't start)."""
        if self.proc is not None:
            raise HarnessError("already started")
        cmd = self._cmd(["dovecot", "-F", "-c", self.conf_path])
        if self.doveadm_server_plugin:
            if getattr(self, "_doveadm_plugin_dir", None) is None:
                self._doveadm_plugin_dir = doveadm_plugin_dir(self.builddir)
            cmd = with_doveadm_plugin(self._doveadm_plugin_dir, cmd)
        _RUNNING.add(self)
        self.proc = subprocess.Popen(
            cmd, cwd=self.dir, env=self._env(),
            stdout=open(os.path.join(self.dir, "dovecot.stdout"), "wb"),
            stderr=subprocess.STDOUT, start_new_session=True)
        ports = [("imap", self.imap_port), ("lmtp", self.lmtp_port)]
        if self.activesync_enabled:
            ports.append(("activesync", self.eas_port))
        deadline = time.monotonic() + timeout
        for name, port in ports:
            while True:
                if self.proc.poll() is not None:
                    self.proc = None
                    raise HarnessError(
                        "dovecot exited during start-up:\n%s" %
                        self._failure_context())
                if wait_port(port, 0.2):
                    break
                if time.monotonic() > deadline:
                    self.stop()
                    raise HarnessError(
                        "%s port %d not listening after %ds:\n%s" % (
                            name, port, timeout, self._failure_context()))
        if self.activesync_enabled and check_service and \
                not self.service_alive():
            # The master listens for the service; only a request shows
            # whether the binary starts (settings errors are Fatal).
            ctx = self._failure_context()
            self.stop()
            raise HarnessError("activesync service does not answer:\n%s"
                               % ctx)
        return self

    def _failure_context(self, lines=40):
        out = ""
        try:
            with open(os.path.join(self.dir, "dovecot.stdout"), "rb") as f:
                out = f.read().decode(errors="replace")
        except OSError:
            pass
        return ("--- dovecot output:\n%s--- log tail (%s):\n%s" % (
            out, self.log_path, self.log_tail(lines)))

    def stop(self, timeout=20):
        """doveadm stop, then wait for the master to exit."""
        if self.proc is None:
            return
        subprocess.run(self._cmd(["doveadm", "-c", self.conf_path, "stop"]),
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       env=self._env())
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(5)
            except (subprocess.TimeoutExpired, ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self.proc = None
        _RUNNING.discard(self)

    def cleanup(self):
        self.stop()
        if not self.keep:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.cleanup()

    def reload(self):
        """Rewrite the config and make the master re-read it."""
        self._write_conf()
        if os.geteuid() == 0:
            os.chown(self.conf_path, self.uid, self.gid)
        self.doveadm("reload")

    def process_pids(self):
        """Pids of this instance's activesync service processes (the
        master's children running the service binary)."""
        pids = []
        if self.activesync_binary is None or self.proc is None:
            return pids
        want = os.path.realpath(self.activesync_binary)
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                if os.readlink("/proc/%s/exe" % d) != want:
                    continue
                with open("/proc/%s/stat" % d) as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if ppid == self.proc.pid:
                pids.append(int(d))
        return pids

    def service_memory(self, field="VmHWM"):
        """{pid: kB} of a /proc/<pid>/status field (VmHWM: peak RSS) of
        each activesync service process."""
        out = {}
        for pid in self.process_pids():
            try:
                with open("/proc/%d/status" % pid) as f:
                    for line in f:
                        if line.startswith(field + ":"):
                            out[pid] = int(line.split()[1])
            except (OSError, ValueError):
                continue
        return out

    def reload_service(self, timeout=20):
        """reload(), then wait until the activesync processes of the old
        configuration are gone and a new one answers: until then a new
        connection may still reach an old process."""
        old = self.process_pids()
        mark = self.log_offset()
        self.reload()
        self.wait_for_log_text(mark, "reloading configuration")
        deadline = time.monotonic() + timeout
        while any(os.path.exists("/proc/%d" % p) for p in old):
            if time.monotonic() > deadline:
                raise HarnessError("old activesync processes %r still "
                                   "running %ds after the reload" %
                                   (old, timeout))
            time.sleep(0.05)
        while not self.service_alive():
            if time.monotonic() > deadline:
                raise HarnessError("activesync not answering after the "
                                   "reload")
            time.sleep(0.05)

    # -- log

    def log(self):
        """The whole Dovecot log as text."""
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", errors="replace")

    def log_offset(self):
        return os.path.getsize(self.log_path)

    def log_since(self, offset):
        with open(self.log_path, "rb") as f:
            f.seek(offset)
            return f.read().decode("utf-8", errors="replace")

    def log_tail(self, lines=40):
        try:
            return "\n".join(self.log().splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def mark_log(self):
        """Remember the current end of the log (the runner does this
        before each test); check_log() looks at what came after."""
        self._log_mark = self.log_offset()
        return self._log_mark

    def bad_log_lines(self, since=None):
        text = self.log_since(self._log_mark if since is None else since)
        return [l for l in text.splitlines() if BAD_LOG_RE.search(l)]

    def check_log(self, since=None):
        """Fail on Panic/Fatal/sanitizer lines since the mark."""
        bad = self.bad_log_lines(since)
        if bad:
            raise AssertionError("Dovecot log has fatal lines:\n" +
                                 "\n".join(bad[:30]))

    def wait_for_log_text(self, since, text, count=1, timeout=10):
        """Wait until the log after offset `since` holds `text` at least
        `count` times (log lines arrive through the log process, a moment
        after the response)."""
        deadline = time.monotonic() + timeout
        while True:
            log = self.log_since(since)
            if log.count(text) >= count:
                return True
            if time.monotonic() > deadline:
                raise AssertionError("%r (%d times) not logged:\n%s" % (
                    text, count, log[-3000:]))
            time.sleep(0.05)

    def wait_for_log(self, pattern, timeout=10, since=None):
        """Wait until a log line after `since` (default: the mark)
        matches the regular expression; return the line."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        start = self._log_mark if since is None else since
        while True:
            for line in self.log_since(start).splitlines():
                if rx.search(line):
                    return line
            if time.monotonic() > deadline:
                raise AssertionError("no log line matching %r within %ss; "
                                     "log since mark:\n%s" % (
                                         pattern, timeout,
                                         self.log_since(start)[-4000:]))
            time.sleep(0.1)

    # -- helpers

    def doveadm(self, *args, check=True, input=None):
        """Run doveadm -c CONF ARGS as the Dovecot user; return stdout."""
        r = subprocess.run(self._cmd(["doveadm", "-c", self.conf_path]
                                     + list(args)),
                           input=input, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, env=self._env(),
                           cwd=self.dir)
        if check and r.returncode != 0:
            raise AssertionError("doveadm %s failed (%d): %s" % (
                " ".join(args), r.returncode,
                r.stderr.decode(errors="replace")))
        return r.stdout.decode("utf-8", errors="replace")

    def activesync(self, *args, fmt=None, check=True):
        """Run "doveadm [-f fmt] -c CONF activesync ARGS" with the build's
        doveadm plugin; return (exit code, stdout, stderr), or stdout
        with check (which fails on a non-zero exit).  fmt="json" returns
        the parsed JSON."""
        if getattr(self, "_doveadm_plugin_dir", None) is None:
            self._doveadm_plugin_dir = doveadm_plugin_dir(self.builddir)
        argv = (["-f", fmt] if fmt else []) + ["-c", self.conf_path,
                                               "activesync"] + list(args)
        r = subprocess.run(doveadm_activesync_cmd(self._doveadm_plugin_dir,
                                                  argv),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           env=self._env(), cwd=self.dir)
        out = r.stdout.decode("utf-8", errors="replace")
        err = r.stderr.decode("utf-8", errors="replace")
        if not check:
            return r.returncode, out, err
        if r.returncode != 0:
            raise AssertionError("doveadm activesync %s failed (%d): %s" % (
                " ".join(args), r.returncode, err))
        if fmt == "json":
            return json.loads(out) if out.strip() else []
        return out

    def deliver(self, user, message, sender="sender@example.test"):
        """Deliver an RFC 822 message (bytes or str) to user over LMTP."""
        if isinstance(message, str):
            message = message.encode("utf-8")
        if not message.endswith(b"\n"):
            message += b"\r\n"
        with smtplib.LMTP("127.0.0.1", self.lmtp_port, timeout=30) as lmtp:
            refused = lmtp.sendmail(sender, [user], message)
            if refused:
                raise AssertionError("LMTP refused %s: %r" % (user, refused))

    def imap(self, user, password=None, source_ip=None):
        """An imaplib.IMAP4 connection, logged in (from source_ip, see
        penalty_free_ip())."""
        if password is None:
            password = self.users[user]
        conn = _IMAP4("127.0.0.1", self.imap_port, timeout=30,
                      source_ip=source_ip)
        conn.login(user, password)
        return conn

    def eas_client(self, user, password=None, device_id=None,
                   device_type="TestDevice", version="14.1",
                   policy_key=None, **kw):
        """An EasClient pointed at this instance (fails the test if the
        service is not built)."""
        self.require_activesync()
        if password is None:
            password = self.users[user]
        if device_id is None:
            device_id = "dev%08x" % (abs(hash((user, time.time()))) &
                                     0xffffffff)
        return EasClient("127.0.0.1", self.eas_port, user, password,
                         device_id, device_type, version, policy_key,
                         builddir=self.builddir, **kw)

    def require_doveadm_server_plugin(self):
        """Skip (reported) a test of doveadm -S where the instance could
        not be started with the build's doveadm plugin (not root)."""
        if not self.doveadm_server_plugin:
            raise TestSkipped("the doveadm server runs the build's plugin "
                              "only when the tests run as root")

    def require_activesync(self):
        if not self.activesync_enabled:
            raise HarnessError(
                "activesync service not available: %s not built "
                "(builddir %s)" % (os.path.join("module", "activesync"),
                                   self.builddir))

    def service_alive(self):
        """True if the activesync port still answers OPTIONS."""
        try:
            c = EasClient("127.0.0.1", self.eas_port, None, None, None,
                          None, timeout=10)
            r = c.options(auth=False)
            return r.status < 500
        except (OSError, http.client.HTTPException):
            return False


# Instances started and not yet stopped: stopped when the Python process
# exits, so an ad-hoc script that forgets cleanup() leaves no Dovecot
# behind (the master runs in its own session and would outlive us).
_RUNNING = set()


@atexit.register
def _stop_leftovers():
    for inst in list(_RUNNING):
        try:
            inst.cleanup()
        except Exception:
            pass


def default_asan_options():
    # Leak checking is off for processes started by Dovecot's master:
    # they exit through paths (exec, _exit in the master's children) where
    # libdovecot's own allocations show up as leaks we cannot fix.
    # Errors in our code still abort and land in the log.
    return ("detect_leaks=0:abort_on_error=1:halt_on_error=1:"
            "detect_stack_use_after_return=0:allocator_may_return_null=1:"
            "log_exe_name=1")


def sample_message(subject="Hello", body="Hi there.\n",
                   to="user1@example.test", sender="alice@example.test",
                   date=None, extra_headers=()):
    """A small RFC 822 message as bytes."""
    from email.utils import formatdate, make_msgid
    lines = [
        "From: %s" % sender,
        "To: %s" % to,
        "Subject: %s" % subject,
        "Date: %s" % (date or formatdate(localtime=False)),
        "Message-ID: %s" % make_msgid(domain="example.test"),
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: 8bit",
    ]
    lines += list(extra_headers)
    text = "\r\n".join(lines) + "\r\n\r\n" + body.replace("\n", "\r\n")
    return text.encode("utf-8")


# ---------------------------------------------------------------- command helpers
# Requests and checks many test modules share.

# -- Sync

# FolderSync Type of the Inbox and of Deleted Items
T_INBOX, T_DELETED = 2, 4


def set_device_prop(dc, user, device_id, name, value):
    """Set a device property as an admin does: doveadm activesync device
    set (the device must have connected once)."""
    dc.activesync("device", "set", "-u", user, device_id, name, value)


KOLAB_KEY = "/private/vendor/kolab/folder-type"


def set_folder_type(dc, c, mailbox, value):
    """Type a groupware folder (folder-type METADATA) as other IMAP
    groupware clients do."""
    dc.doveadm("mailbox", "metadata", "set", "-u", c.user, mailbox,
               KOLAB_KEY, value)


def hierarchy(c):
    """FolderSync 0: {DisplayName: (ServerId, Type)}"""
    r = c.foldersync()
    assert xrequire(r, "FolderSync/Status") == "1", r
    return {xtext(a, "DisplayName"): (xtext(a, "ServerId"),
                                      int(xtext(a, "Type")))
            for a in xall(r, "Changes/Add")}


def default_groupware_folders(version="14.1"):
    """{name: EAS type} of the default groupware folders the server
    creates on a device's first FolderSync (activesync_*_folder, for
    the classes the version syncs natively)."""
    v = tuple(int(x) for x in version.split("."))
    folders = {"Calendar": 8, "Contacts": 9, "Tasks": 7}
    if v >= (14, 0):
        folders["Notes"] = 10
    return folders

_account_serial = [0]


def new_account(dc, tag, version="14.1", extra_fields=None):
    """A fresh user (its own mailboxes) and device; extra_fields: userdb
    extra fields of the user."""
    _account_serial[0] += 1
    user = "sync-%s-%d@example.test" % (tag, _account_serial[0])
    password = "pw-%s-%d" % (tag, _account_serial[0])
    dc.add_user(user, password, extra_fields)
    c = dc.eas_client(user, password,
                      device_id="SY%s%d" % (tag.upper().replace("-", ""),
                                            _account_serial[0]),
                      device_type="E2ETest", version=version)
    # a new user's INBOX exists once something opened it
    imap = dc.imap(user, password)
    try:
        assert imap.select("INBOX")[0] == "OK"
    finally:
        imap.logout()
    return c


def folders(c):
    """FolderSync 0: {type: server_id} of the default folders."""
    r = c.request_provisioned(
        "FolderSync", '<FolderSync xmlns="FolderHierarchy:"><SyncKey>0'
        '</SyncKey></FolderSync>')
    assert r.status == 200 and xrequire(r, "FolderSync/Status") == "1", r
    out = {}
    for add in xall(r, "Changes/Add"):
        t = int(xtext(add, "FolderHierarchy:Type"))
        out.setdefault(t, xtext(add, "FolderHierarchy:ServerId"))
    return out


def body_pref(btype, size=None, all_or_none=None, preview=None,
              element="BodyPreference"):
    """airsyncbase:BodyPreference (or element="BodyPartPreference")."""
    x = "<airsyncbase:%s><airsyncbase:Type>%d</airsyncbase:Type>" % (
        element, btype)
    if size is not None:
        x += "<airsyncbase:TruncationSize>%d</airsyncbase:TruncationSize>" \
            % size
    if all_or_none is not None:
        x += "<airsyncbase:AllOrNone>%d</airsyncbase:AllOrNone>" % all_or_none
    if preview is not None:
        x += "<airsyncbase:Preview>%d</airsyncbase:Preview>" % preview
    return x + "</airsyncbase:%s>" % element


def sync_request(c, coll_id, key, options=None, commands=None,
                 window=None, deletes_as_moves=None, get_changes=None,
                 cls=None, top="", xmlns='xmlns:email="Email:"'):
    coll = ""
    if cls is not None:
        coll += "<Class>%s</Class>" % cls
    coll += "<SyncKey>%s</SyncKey><CollectionId>%s</CollectionId>" % (
        xml_escape(key), xml_escape(coll_id))
    if deletes_as_moves is not None:
        coll += "<DeletesAsMoves>%d</DeletesAsMoves>" % deletes_as_moves
    if get_changes is not None:
        coll += "<GetChanges>%d</GetChanges>" % get_changes
    if window is not None:
        coll += "<WindowSize>%d</WindowSize>" % window
    if options is not None:
        coll += "<Options>%s</Options>" % options
    if commands is not None:
        coll += "<Commands>%s</Commands>" % commands
    return c.request_provisioned(
        "Sync", '<Sync xmlns="AirSync:" xmlns:airsyncbase="AirSyncBase:" '
        '%s><Collections><Collection>%s</Collection>'
        '</Collections>%s</Sync>' % (xmlns, coll, top))


class SyncResult:
    """A parsed Sync response for one collection."""

    def __init__(self, r):
        assert r.status == 200, r
        self.resp = r
        self.coll = xfind(r, "Collections/Collection")
        assert self.coll is not None, r
        self.status = xrequire(self.coll, "Status")
        self.key = xtext(self.coll, "SyncKey")
        self.more = xfind(self.coll, "MoreAvailable") is not None
        self.adds = xall(self.coll, "Commands/Add")
        self.changes = xall(self.coll, "Commands/Change")
        self.deletes = [xtext(e, "ServerId")
                        for e in xall(self.coll, "Commands/Delete")]
        self.soft_deletes = [xtext(e, "ServerId")
                             for e in xall(self.coll, "Commands/SoftDelete")]
        self.responses = xfind(self.coll, "Responses")

    def ok(self):
        assert self.status == "1", self.resp
        return self

    def add_ids(self):
        return [xtext(a, "ServerId") for a in self.adds]

    def add_by_subject(self, subject):
        found = [a for a in self.adds
                 if xtext(a, "ApplicationData/Email:Subject") == subject]
        assert len(found) == 1, (subject, self.resp)
        return found[0]


def sync(c, coll_id, key, **kw):
    return SyncResult(sync_request(c, coll_id, key, **kw))


def start(c, coll_id, options=None, **kw):
    """SyncKey 0 (priming), then the first Sync with changes."""
    r = sync(c, coll_id, "0", options=options).ok()
    assert r.key == "1" and not r.adds, r.resp
    return sync(c, coll_id, r.key, **kw).ok()


def uid_of(server_id):
    return int(server_id.split(":")[1])


def imap_session(dc, c, mailbox="INBOX"):
    imap = dc.imap(c.user, c.password)
    typ, data = imap.select('"%s"' % mailbox)
    assert typ == "OK", data
    return imap


def calendar_message(subject, ical, layout="single"):
    """A message carrying ical: the whole message (single) or an
    application/ics attachment next to a text part (attached)"""
    head = ("From: <owner@example.test>\r\nSubject: %s\r\n"
            "Date: Tue, 01 Dec 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n"
            % subject)
    if layout == "single":
        return (head + "Content-Type: text/calendar; charset=utf-8; "
                "method=PUBLISH\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
                + ical).encode()
    return (head + 'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n'
            "--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
            "An iCalendar object, see the attachment.\r\n"
            "--b1\r\nContent-Type: application/ics; name=\"todo.ics\"\r\n"
            "Content-Disposition: attachment; filename=\"todo.ics\"\r\n\r\n"
            + ical + "\r\n--b1--\r\n").encode()


def imap_append(dc, c, mailbox, msg):
    imap = imap_session(dc, c, mailbox)
    try:
        typ, data = imap.append('"%s"' % mailbox, None, None, msg)
        assert typ == "OK", data
    finally:
        imap.logout()


def imap_expunge(dc, c, mailbox, uid):
    imap = imap_session(dc, c, mailbox)
    try:
        assert imap.uid("STORE", str(uid), "+FLAGS",
                        "(\\Deleted)")[0] == "OK"
        assert imap.expunge()[0] == "OK"
    finally:
        imap.logout()


def imap_count(dc, c, mailbox):
    """Messages in the mailbox, as doveadm counts them"""
    return int(dc.doveadm("mailbox", "status", "-u", c.user, "messages",
                          mailbox).split("=")[1])


def imap_flags(dc, c, uid, mailbox="INBOX"):
    imap = imap_session(dc, c, mailbox)
    try:
        typ, data = imap.uid("FETCH", str(uid), "(FLAGS)")
        assert typ == "OK", data
        return b" ".join(d for d in data if isinstance(d, bytes)).decode()
    finally:
        imap.logout()


def imap_subjects(dc, c, mailbox):
    imap = imap_session(dc, c, mailbox)
    try:
        typ, data = imap.uid("FETCH", "1:*", "(BODY.PEEK[HEADER.FIELDS "
                             "(SUBJECT)])")
        assert typ == "OK", data
        out = []
        for d in data:
            if isinstance(d, tuple):
                msg = email.message_from_bytes(d[1])
                out.append(msg["Subject"])
        return out
    finally:
        imap.logout()


def deliver_plain(dc, c, subject, body="Hello there.\n"):
    dc.deliver(c.user, sample_message(subject, body, to=c.user))


# -- MoveItems

def move_items(c, moves, raw=None):
    """moves: [(src_msg_id, src_fld, dst_fld)]; returns the response and
    {src_msg_id: (status, dst_msg_id)} (in request order as a list)."""
    body = raw if raw is not None else "".join(
        "<Move><SrcMsgId>%s</SrcMsgId><SrcFldId>%s</SrcFldId>"
        "<DstFldId>%s</DstFldId></Move>" % tuple(map(xml_escape, m))
        for m in moves)
    r = c.request_provisioned(
        "MoveItems", '<MoveItems xmlns="Move:">%s</MoveItems>' % body)
    assert r.status == 200, r
    out = [(xtext(resp, "SrcMsgId"), xrequire(resp, "Status"),
            xtext(resp, "DstMsgId"))
           for resp in xall(r, "MoveItems/Response")]
    return r, out


# -- ItemOperations

def itemops(c, body_xml, **kw):
    return c.request_provisioned(
        "ItemOperations",
        '<ItemOperations xmlns="ItemOperations:" xmlns:airsync="AirSync:" '
        'xmlns:airsyncbase="AirSyncBase:" xmlns:search="Search:">%s'
        '</ItemOperations>' % body_xml, **kw)


def fetch_item_xml(coll, server_id, options=""):
    return ("<Fetch><Store>Mailbox</Store><airsync:CollectionId>%s"
            "</airsync:CollectionId><airsync:ServerId>%s</airsync:ServerId>"
            "<Options>%s</Options></Fetch>" % (coll, server_id, options))


def ok_top(r):
    assert r.status == 200, r
    assert xrequire(r, "ItemOperations/Status") == "1", r
    return xall(r, "ItemOperations/Response/*")


# -- Search

SEARCH_NS = ('xmlns="Search:" xmlns:airsync="AirSync:" xmlns:email="Email:" '
             'xmlns:airsyncbase="AirSyncBase:"')


def search(c, query, options="", store="Mailbox", raw=None):
    """A Search of one store (raw: the whole request document instead);
    the response must have top-level Status 1."""
    xml = raw or ('<Search %s><Store><Name>%s</Name><Query>%s</Query>'
                  '%s</Store></Search>' % (
                      SEARCH_NS, store, query,
                      "<Options>%s</Options>" % options if options
                      else ""))
    r = c.request_provisioned("Search", xml)
    assert r.status == 200, r
    assert xrequire(r, "Search/Status") == "1", r
    return r


def store_status(r):
    return xrequire(r, "Search/Response/Store/Status")


def search_subjects(r):
    return [xtext(res, "Properties/Email:Subject")
            for res in xall(r, "Response/Store/Result")
            if xfind(res, "Properties") is not None]


def and_query(*terms):
    return "<And><airsync:Class>Email</airsync:Class>%s</And>" % "".join(
        terms)


def freetext(text):
    return "<FreeText>%s</FreeText>" % xml_escape(text)


# -- Ping

def ping_xml(heartbeat=None, folders=None):
    parts = ['<Ping xmlns="Ping:">']
    if heartbeat is not None:
        parts.append("<HeartbeatInterval>%s</HeartbeatInterval>" % heartbeat)
    if folders is not None:
        parts.append("<Folders>")
        for fid, cls in folders:
            parts.append("<Folder><Id>%s</Id><Class>%s</Class></Folder>" % (
                xml_escape(fid), cls))
        parts.append("</Folders>")
    parts.append("</Ping>")
    return "".join(parts)


def setup_device(dc, name, version="14.1", extra_fields=None):
    """A provisioned device with its folder hierarchy; returns
    (client, user, {type: server id}, [all server ids]).
    extra_fields: userdb extra fields of the new user."""
    user = "%s@example.test" % name
    password = "pw-" + name
    dc.add_user(user, password, extra_fields)
    # create the mailbox with one message before the first FolderSync
    dc.deliver(user, sample_message("first", to=user))
    c = dc.eas_client(user, password, version=version)
    r = c.foldersync()
    assert r.status == 200 and xrequire(r, "FolderSync/Status") == "1", r
    by_type = {}
    ids = []
    for add in xall(r, "Changes/Add"):
        sid = xrequire(add, "ServerId")
        ids.append(sid)
        by_type.setdefault(xrequire(add, "Type"), sid)
    assert "2" in by_type, "no Inbox in FolderSync: %r" % r
    return c, user, password, by_type, ids


# Last SyncKey per (device id, collection id)
_sync_keys = {}


def sync_all(c, collection_id):
    """Sync a collection until the device has everything (SyncKey 0 on
    the first call); returns the last SyncKey."""
    sync_key = _sync_keys.get((c.device_id, collection_id), "0")
    for _ in range(50):
        if sync_key == "0":
            body = ('<Sync xmlns="AirSync:"><Collections><Collection>'
                    '<SyncKey>0</SyncKey><CollectionId>%s</CollectionId>'
                    '</Collection></Collections></Sync>' % collection_id)
        else:
            body = ('<Sync xmlns="AirSync:"><Collections><Collection>'
                    '<SyncKey>%s</SyncKey><CollectionId>%s</CollectionId>'
                    '<GetChanges/><WindowSize>100</WindowSize>'
                    '</Collection></Collections></Sync>' % (
                        sync_key, collection_id))
        r = c.request("Sync", body)
        assert r.status == 200, r
        if not r.body:
            break  # empty response: nothing changed
        assert xtext(r, "Collections/Collection/Status") == "1", r
        was_initial = sync_key == "0"
        sync_key = xrequire(r, "Collections/Collection/SyncKey")
        _sync_keys[(c.device_id, collection_id)] = sync_key
        more = xall(r, "Collections/Collection/MoreAvailable")
        if not was_initial and not more:
            break
    else:
        raise AssertionError("Sync did not settle")
    return sync_key


def ping(c, heartbeat=None, folders=None, timeout=None, **kw):
    xml = None
    if heartbeat is not None or folders is not None:
        xml = ping_xml(heartbeat, folders)
    return c.request("Ping", xml, timeout=timeout, **kw)


class Background:
    """Run a request in a thread; .result / .error / .done_at."""

    def __init__(self, fn, *args, **kw):
        self.result = None
        self.error = None
        self.done_at = None
        self.thread = threading.Thread(target=self._run, args=(fn, args, kw),
                                       daemon=True)
        self.thread.start()

    def _run(self, fn, args, kw):
        try:
            self.result = fn(*args, **kw)
        except BaseException as e:  # noqa: B902
            self.error = e
        self.done_at = time.monotonic()

    def wait(self, timeout):
        self.thread.join(timeout)
        if self.thread.is_alive():
            raise AssertionError("request still running after %ss" % timeout)
        if self.error is not None:
            raise self.error
        return self.result


def wait_held(dc, since, count=1, timeout=15, cmd="Ping"):
    """Wait until `count` requests of cmd (Ping, Sync) are held (debug
    log) after log offset."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        n = dc.log_since(since).count("%s: Holding for" % cmd)
        if n >= count:
            return
        time.sleep(0.05)
    raise AssertionError("%s not held within %ss; log:\n%s" % (
        cmd, timeout, dc.log_since(since)[-3000:]))


def sync_wait(c, collection_id, key, wait_minutes=None, heartbeat=None,
              timeout=None):
    """A Sync of one collection with Wait (minutes) or HeartbeatInterval
    (seconds); the raw response (an empty body: no changes)."""
    top = ""
    if wait_minutes is not None:
        top += "<Wait>%d</Wait>" % wait_minutes
    if heartbeat is not None:
        top += "<HeartbeatInterval>%d</HeartbeatInterval>" % heartbeat
    body = ('<Sync xmlns="AirSync:"><Collections><Collection>'
            '<SyncKey>%s</SyncKey><CollectionId>%s</CollectionId>'
            '<GetChanges/></Collection></Collections>%s</Sync>' % (
                xml_escape(key), xml_escape(collection_id), top))
    return c.request("Sync", body, timeout=timeout)


def ping_status(r):
    assert r.status == 200, r
    return xrequire(r, "Ping/Status")


def notify_dir(dc):
    return os.path.join(dc.base_dir, "activesync-notify")


def service_pids(dc):
    """pids of the activesync processes, from their sockets"""
    d = notify_dir(dc)
    if not os.path.isdir(d):
        return []
    return sorted(int(n) for n in os.listdir(d) if n.isdigit())


def open_paths(pid):
    """what a process has open (needs /proc access: same user or root)"""
    out = []
    fd_dir = "/proc/%d/fd" % pid
    for fd in os.listdir(fd_dir):
        try:
            out.append(os.readlink(os.path.join(fd_dir, fd)))
        except OSError:
            pass
    return out


def proc_status_kb(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError("%s not in /proc/%d/status" % (field, pid))


# -- ManageSieve (RFC 5804)

class ManageSieveError(AssertionError):
    pass


class ManageSieve:
    """A small ManageSieve client: AUTHENTICATE PLAIN, LISTSCRIPTS,
    GETSCRIPT, PUTSCRIPT, SETACTIVE, DELETESCRIPT, LOGOUT."""

    def __init__(self, port, host="127.0.0.1", timeout=30):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.f = self.sock.makefile("rb")
        self.capabilities = self._response()[0]

    def close(self):
        try:
            self.sock.sendall(b"LOGOUT\r\n")
            self._response()
        except (OSError, ManageSieveError):
            pass
        self.f.close()
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @staticmethod
    def _quote(s):
        return '"%s"' % s.replace("\\", "\\\\").replace('"', '\\"')

    def _line(self):
        line = self.f.readline()
        if not line:
            raise ManageSieveError("ManageSieve: connection closed")
        return line.rstrip(b"\r\n")

    def _literal_or_line(self, line):
        """A {n} literal announced at the end of line is read whole."""
        m = re.match(rb"^\{(\d+)\+?\}$", line)
        if m:
            data = self.f.read(int(m.group(1)))
            self._line()
            return data
        return line

    def _response(self):
        """Lines before OK, NO or BYE; raises on NO/BYE."""
        lines = []
        while True:
            line = self._line()
            data = self._literal_or_line(line)
            if data is not line:
                lines.append(data)
                continue
            word = line.split(b" ", 1)[0].upper()
            if word == b"OK":
                return lines, line
            if word in (b"NO", b"BYE"):
                raise ManageSieveError("ManageSieve: %s" % line.decode(
                    errors="replace"))
            lines.append(line)

    def command(self, text, literal=None):
        data = text.encode()
        if literal is not None:
            data += b" {%d+}\r\n" % len(literal) + literal
        self.sock.sendall(data + b"\r\n")
        return self._response()

    def login(self, user, password):
        token = base64.b64encode(("\0%s\0%s" % (user, password)).encode())
        self.command('AUTHENTICATE "PLAIN" "%s"' % token.decode())

    def listscripts(self):
        """[(name, active)]"""
        out = []
        for line in self.command("LISTSCRIPTS")[0]:
            m = re.match(rb'^"((?:[^"\\]|\\.)*)"( ACTIVE)?$', line)
            assert m, line
            out.append((re.sub(rb"\\(.)", rb"\1", m.group(1)).decode(),
                        m.group(2) is not None))
        return out

    def getscript(self, name):
        lines = self.command("GETSCRIPT %s" % self._quote(name))[0]
        return b"".join(lines).decode("utf-8")

    def putscript(self, name, text):
        self.command("PUTSCRIPT %s" % self._quote(name),
                     literal=text.encode("utf-8"))

    def setactive(self, name):
        self.command("SETACTIVE %s" % self._quote(name))

    def deletescript(self, name):
        self.command("DELETESCRIPT %s" % self._quote(name))


def managesieve(dc, user, password=None):
    """A ManageSieve session of user on a DovecotInstance(sieve=True)."""
    assert dc.sieve_port, "DovecotInstance(sieve=True) needed"
    ms = ManageSieve(dc.sieve_port)
    ms.login(user, dc.users[user] if password is None else password)
    return ms


# -- SendMail

class SmtpSink:
    """A minimal SMTP server: EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP,
    QUIT.  mode: "accept", "reject_data" (554 after DATA),
    "reject_rcpt" (550 for every RCPT), "reject_some" (550 for RCPTs
    containing "refuse", the others accepted), "slow" (the reply to DATA
    waits for slow_event)."""

    def __init__(self):
        self.port = free_port()
        self.messages = []
        self.mode = "accept"
        self.lock = threading.Lock()
        self.server = None
        # "slow" mode holds the reply to DATA until this is set
        self.slow_event = threading.Event()
        self.data_seen = threading.Event()

    def start(self):
        if self.server is not None:
            return
        sink = self

        class Handler(socketserver.StreamRequestHandler):
            timeout = 30

            def reply(self, line):
                self.wfile.write(line.encode() + b"\r\n")
                self.wfile.flush()

            def handle(self):
                mail_from, rcpts = None, []
                self.reply("220 sink.example.test ESMTP test sink")
                while True:
                    line = self.rfile.readline()
                    if not line:
                        return
                    cmd = line.decode("latin-1").rstrip("\r\n")
                    verb = cmd.split(" ", 1)[0].upper()
                    if verb in ("EHLO", "HELO"):
                        self.reply("250 sink.example.test")
                    elif verb == "MAIL":
                        mail_from, rcpts = cmd[10:].strip(), []
                        self.reply("250 2.1.0 Ok")
                    elif verb == "RCPT":
                        if sink.mode == "reject_rcpt" or (
                                sink.mode == "reject_some" and
                                "refuse" in cmd.lower()):
                            self.reply("550 5.1.1 No such user")
                        else:
                            rcpts.append(cmd[8:].strip())
                            self.reply("250 2.1.5 Ok")
                    elif verb == "DATA":
                        self.reply("354 End data with <CR><LF>.<CR><LF>")
                        data = []
                        while True:
                            dl = self.rfile.readline()
                            if not dl or dl == b".\r\n":
                                break
                            if dl.startswith(b".."):
                                dl = dl[1:]
                            data.append(dl)
                        if sink.mode == "slow":
                            sink.data_seen.set()
                            sink.slow_event.wait(30)
                        if sink.mode == "reject_data":
                            self.reply("554 5.7.1 Message refused by test")
                        else:
                            with sink.lock:
                                sink.messages.append(dict(
                                    mail_from=mail_from, rcpts=list(rcpts),
                                    data=b"".join(data)))
                            self.reply("250 2.0.0 Ok: queued")
                    elif verb == "RSET":
                        mail_from, rcpts = None, []
                        self.reply("250 2.0.0 Ok")
                    elif verb == "NOOP":
                        self.reply("250 2.0.0 Ok")
                    elif verb == "QUIT":
                        self.reply("221 2.0.0 Bye")
                        return
                    else:
                        self.reply("502 5.5.2 Command not recognized")

        class Server(socketserver.ThreadingTCPServer):
            allow_reuse_address = True
            daemon_threads = True

        self.server = Server(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever,
                         daemon=True).start()

    def stop(self):
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def find(self, marker):
        """Messages whose data contains marker (bytes or str)."""
        if isinstance(marker, str):
            marker = marker.encode()
        with self.lock:
            return [m for m in self.messages if marker in m["data"]]


def compose_xml(cmd, mime, client_id=None, save=True, source=None,
                replace=False):
    """A ComposeMail request; Mime goes out as WBXML opaque data."""
    x = '<%s xmlns="ComposeMail:">' % cmd
    if client_id is not None:
        x += "<ClientId>%s</ClientId>" % xml_escape(client_id)
    if save:
        x += "<SaveInSentItems/>"
    if replace:
        x += "<ReplaceMime/>"
    if source is not None:
        x += "<Source>"
        for k, v in source.items():
            x += "<%s>%s</%s>" % (k, xml_escape(v), k)
        x += "</Source>"
    # libwbxml2 spells Mime "MIME" and encodes it as opaque from base64
    x += "<MIME>%s</MIME>" % base64.b64encode(mime).decode()
    return x + "</%s>" % cmd


# ---------------------------------------------------------------- demo

def demo(argv):
    import argparse
    ap = argparse.ArgumentParser(prog="harness.py demo")
    ap.add_argument("--builddir")
    ap.add_argument("--port", type=int, default=0,
                    help="activesync HTTP port (default: a free one)")
    ap.add_argument("--user", default="demo@example.test")
    ap.add_argument("--password")
    args = ap.parse_args(argv)
    password = args.password or base64.b32encode(os.urandom(10)).decode()\
        .lower()
    inst = DovecotInstance(builddir=args.builddir, keep=False,
                           users=dict(DEFAULT_USERS,
                                      **{args.user: password}),
                           name="demo")
    if args.port:
        inst.eas_port = args.port
        inst._write_conf()
        if os.geteuid() == 0:
            os.chown(inst.conf_path, inst.uid, inst.gid)
    inst.start()
    try:
        samples = [
            ("Welcome to dovecot-activesync",
             "This message was delivered over LMTP by the demo script.\n"),
            ("Lunch on Friday?", "Shall we meet at noon?\n"),
            ("Quarterly report", "Numbers are attached in spirit.\n"),
        ]
        for subj, body in samples:
            inst.deliver(args.user, sample_message(subj, body, to=args.user))
        url = "http://127.0.0.1:%d%s" % (inst.eas_port, EAS_PATH)
        print()
        print("Private Dovecot running in %s" % inst.dir)
        print("  log:       %s" % inst.log_path)
        print("  IMAP:      127.0.0.1:%d" % inst.imap_port)
        print("  LMTP:      127.0.0.1:%d" % inst.lmtp_port)
        if inst.activesync_enabled:
            print("  ActiveSync URL: %s" % url)
        else:
            print("  ActiveSync: NOT RUNNING (module/activesync not built "
                  "in %s)" % inst.builddir)
        print("  user:      %s" % args.user)
        print("  password:  %s" % password)
        print()
        print("Try:")
        print("  curl -i -X OPTIONS -u '%s:%s' %s" % (args.user, password,
                                                     url))
        print()
        print("Press Ctrl-C to stop.")
        sys.stdout.flush()
        while inst.proc is not None and inst.proc.poll() is None:
            time.sleep(1)
        print("dovecot exited:\n" + inst.log_tail())
        return 1
    except KeyboardInterrupt:
        print("\nstopping")
        return 0
    finally:
        inst.cleanup()


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "demo":
        sys.exit(demo(sys.argv[2:]))
    print(__doc__)
    sys.exit(2)


# -- security policies (doveadm activesync policy)

def policy_show(dc, *level_args):
    """doveadm activesync policy show LEVEL_ARGS as {field: (value,
    level)}."""
    rows = dc.activesync("policy", "show", *level_args, fmt="json")
    return {row["field"]: (row["value"], row["level"]) for row in rows}


def policy_set(dc, *args):
    """doveadm activesync policy set LEVEL_ARGS field=value..."""
    dc.activesync("policy", "set", *args)


def policy_inherit(dc, *args):
    """doveadm activesync policy inherit LEVEL_ARGS [field...]"""
    dc.activesync("policy", "inherit", *args)


def dump_store_db(dc, db):
    """The raw records of one database of the state store (mdb_dump)."""
    r = subprocess.run(["mdb_dump", "-p", "-s", db, dc.eas_state_dir],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert r.returncode == 0, r.stderr
    return r.stdout
