"""Load generator pieces for the benchmark suite: a minimal asyncio HTTP/1.1
client speaking EAS, an asyncio LMTP client, and just enough WBXML.

Python standard library only (asyncio), so it runs from Debian packages.

Requests: each request body is encoded once per template with libwbxml2's
xml2wbxml, with placeholders (@NAME@) in text nodes; xml2wbxml -n writes
strings inline (STR_I, NUL terminated, no length), so a placeholder can be
replaced by a value of any length without re-encoding.

Responses: decoded into a small tree by our own few lines below, using the
element names of module/wbxml/wbxml-codepages.def (only to print and find
elements; the token structure is parsed here)."""

import asyncio
import base64
import os
import re
import subprocess
import tempfile
import time
from urllib.parse import urlencode

EAS_PATH = "/Microsoft-Server-ActiveSync"

# ---------------------------------------------------------------- WBXML

_DEF_RE_PAGE = re.compile(r'^EAS_PAGE\((\d+),\s*\w+,\s*"([^"]+)"\)')
_DEF_RE_TAG = re.compile(
    r'^EAS_TAG_DEF\((\d+),\s*\w+,\s*0x([0-9A-Fa-f]+),\s*\w+,\s*"([^"]+)"\)')


def load_tag_names(def_path):
    """(page, token) -> "Namespace:Name" from wbxml-codepages.def."""
    pages, names = {}, {}
    with open(def_path) as f:
        for line in f:
            m = _DEF_RE_PAGE.match(line)
            if m:
                pages[int(m.group(1))] = m.group(2)
                continue
            m = _DEF_RE_TAG.match(line)
            if m:
                page = int(m.group(1))
                names[(page, int(m.group(2), 16))] = "%s:%s" % (
                    pages[page], m.group(3))
    return names


TAG_NAMES = {}


def _mb_uint(data, pos):
    v = 0
    while True:
        b = data[pos]
        pos += 1
        v = (v << 7) | (b & 0x7f)
        if not b & 0x80:
            return v, pos


class Node:
    __slots__ = ("name", "text", "children")

    def __init__(self, name):
        self.name = name
        self.text = None
        self.children = []

    def iter(self, name):
        """All descendants (and self) named name, document order."""
        if self.name == name:
            yield self
        for c in self.children:
            yield from c.iter(name)

    def find(self, name):
        return next(self.iter(name), None)

    def findtext(self, name, default=None):
        n = self.find(name)
        if n is None or n.text is None:
            return default
        return n.text if isinstance(n.text, str) else default

    def count(self, name):
        return sum(1 for _ in self.iter(name))


def wbxml_decode(data):
    """WBXML bytes -> Node tree (text as str, opaque as bytes)."""
    if len(data) < 4:
        raise ValueError("WBXML too short")
    pos = 1                                   # version
    pubid, pos = _mb_uint(data, pos)
    if pubid == 0:
        _, pos = _mb_uint(data, pos)
    _, pos = _mb_uint(data, pos)              # charset
    tlen, pos = _mb_uint(data, pos)
    strtbl = data[pos:pos + tlen]
    pos += tlen
    page = 0
    root = Node("#document")
    stack = [root]
    n = len(data)
    while pos < n:
        tok = data[pos]
        pos += 1
        if tok == 0x00:                       # SWITCH_PAGE
            page = data[pos]
            pos += 1
        elif tok == 0x01:                     # END
            if len(stack) == 1:
                raise ValueError("unbalanced END")
            stack.pop()
        elif tok == 0x03:                     # STR_I
            end = data.index(b"\0", pos)
            stack[-1].text = data[pos:end].decode("utf-8", "replace")
            pos = end + 1
        elif tok == 0x83:                     # STR_T
            off, pos = _mb_uint(data, pos)
            end = strtbl.index(b"\0", off)
            stack[-1].text = strtbl[off:end].decode("utf-8", "replace")
        elif tok == 0xC3:                     # OPAQUE
            ln, pos = _mb_uint(data, pos)
            stack[-1].text = bytes(data[pos:pos + ln])
            pos += ln
        elif tok in (0x02, 0x04, 0x40, 0x41, 0x42, 0x43, 0x44, 0x80, 0x81,
                     0x82, 0xC0, 0xC1, 0xC2, 0xC4):
            raise ValueError("unexpected WBXML token 0x%02x" % tok)
        else:
            t = tok & 0x3f
            node = Node(TAG_NAMES.get((page, t), "%d:0x%02x" % (page, t)))
            stack[-1].children.append(node)
            if tok & 0x80:
                raise ValueError("attributes are not used in EAS")
            if tok & 0x40:
                stack.append(node)
    if len(stack) != 1:
        raise ValueError("truncated WBXML")
    return root


def wbxml_skim(data, want_text, want_count):
    """Walk WBXML tokens without building a tree or decoding strings that
    nobody reads: returns ({name: first text} for names in want_text,
    {name: occurrences} for names in want_count and for every name of
    want_text).  Structure errors raise ValueError like wbxml_decode;
    the bulk Sync client uses this so that the measured rate is the
    server's, not the cost of turning 10,000 bodies into Python
    strings."""
    if len(data) < 4:
        raise ValueError("WBXML too short")
    pos = 1
    pubid, pos = _mb_uint(data, pos)
    if pubid == 0:
        _, pos = _mb_uint(data, pos)
    _, pos = _mb_uint(data, pos)
    tlen, pos = _mb_uint(data, pos)
    strtbl = data[pos:pos + tlen]
    pos += tlen
    page = 0
    texts = {}
    counts = dict.fromkeys(want_count, 0)
    counts.update(dict.fromkeys(want_text, 0))
    stack = []
    names = TAG_NAMES
    find = data.index
    n = len(data)
    while pos < n:
        tok = data[pos]
        pos += 1
        if tok == 0x00:
            page = data[pos]
            pos += 1
        elif tok == 0x01:
            if not stack:
                raise ValueError("unbalanced END")
            stack.pop()
        elif tok == 0x03:
            end = find(b"\0", pos)
            if stack and stack[-1] in want_text and stack[-1] not in texts:
                texts[stack[-1]] = data[pos:end].decode("utf-8", "replace")
            pos = end + 1
        elif tok == 0x83:
            off, pos = _mb_uint(data, pos)
            if stack and stack[-1] in want_text and stack[-1] not in texts:
                end = strtbl.index(b"\0", off)
                texts[stack[-1]] = strtbl[off:end].decode("utf-8",
                                                          "replace")
        elif tok == 0xC3:
            ln, pos = _mb_uint(data, pos)
            pos += ln
        elif tok in (0x02, 0x04, 0x40, 0x41, 0x42, 0x43, 0x44, 0x80, 0x81,
                     0x82, 0xC0, 0xC1, 0xC2, 0xC4):
            raise ValueError("unexpected WBXML token 0x%02x" % tok)
        else:
            if tok & 0x80:
                raise ValueError("attributes are not used in EAS")
            name = names.get((page, tok & 0x3f))
            if name in counts:
                counts[name] += 1
            if tok & 0x40:
                stack.append(name)
    if stack:
        raise ValueError("truncated WBXML")
    return texts, counts


def xml2wbxml(xml_text):
    """XML text -> WBXML bytes with libwbxml2's xml2wbxml (strings inline)."""
    prolog = ('<?xml version="1.0" encoding="utf-8"?>\n'
              '<!DOCTYPE ActiveSync PUBLIC "-//MICROSOFT//DTD ActiveSync//EN" '
              '"http://www.microsoft.com/">\n')
    with tempfile.TemporaryDirectory(prefix="eas-bench-") as d:
        src, dst = os.path.join(d, "in.xml"), os.path.join(d, "out.wbxml")
        with open(src, "w") as f:
            f.write(prolog + xml_text)
        r = subprocess.run(["xml2wbxml", "-v", "1.3", "-n", "-a", "-o", dst,
                            src], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT)
        if r.returncode != 0 or not os.path.exists(dst):
            raise RuntimeError("xml2wbxml failed: %s" % r.stdout)
        with open(dst, "rb") as f:
            return f.read()


class Template:
    """A request body encoded once; fill() substitutes @NAME@ values."""

    def __init__(self, xml_text):
        self.names = re.findall(r"@([A-Z]+)@", xml_text)
        self.wbxml = xml2wbxml(xml_text)
        for name in self.names:
            if ("@%s@" % name).encode() not in self.wbxml:
                raise RuntimeError("placeholder @%s@ not inline in the "
                                   "encoded template" % name)

    def fill(self, **values):
        out = self.wbxml
        for name in self.names:
            out = out.replace(("@%s@" % name).encode(),
                              str(values[name.lower()]).encode())
        return out


def body_pref(btype, trunc=None):
    t = "<TruncationSize>%d</TruncationSize>" % trunc if trunc else ""
    return ('<Options><BodyPreference xmlns="AirSyncBase:"><Type>%d</Type>'
            '%s</BodyPreference></Options>' % (btype, t))


def make_templates():
    def sync(opts, window=512):
        return Template(
            '<Sync xmlns="AirSync:"><Collections><Collection>'
            '<SyncKey>@KEY@</SyncKey><CollectionId>@CID@</CollectionId>'
            '<GetChanges/><WindowSize>%d</WindowSize>%s'
            '</Collection></Collections></Sync>' % (window, opts))
    return {
        "prov1": Template(
            '<Provision xmlns="Provision:"><Policies><Policy><PolicyType>'
            'MS-EAS-Provisioning-WBXML</PolicyType></Policy></Policies>'
            '</Provision>'),
        "prov2": Template(
            '<Provision xmlns="Provision:"><Policies><Policy><PolicyType>'
            'MS-EAS-Provisioning-WBXML</PolicyType><PolicyKey>@PKEY@'
            '</PolicyKey><Status>1</Status></Policy></Policies>'
            '</Provision>'),
        "foldersync": Template(
            '<FolderSync xmlns="FolderHierarchy:"><SyncKey>0</SyncKey>'
            '</FolderSync>'),
        "sync0": Template(
            '<Sync xmlns="AirSync:"><Collections><Collection>'
            '<SyncKey>0</SyncKey><CollectionId>@CID@</CollectionId>'
            '</Collection></Collections></Sync>'),
        "sync_plain": sync(body_pref(1, 200)),
        "sync_small": sync(body_pref(1, 200), window=100),
        "sync_mime": sync(body_pref(4)),
        "sync_html": sync(body_pref(2)),
        "ping": Template(
            '<Ping xmlns="Ping:"><HeartbeatInterval>@HB@</HeartbeatInterval>'
            '<Folders><Folder><Id>@CID@</Id><Class>Email</Class></Folder>'
            '</Folders></Ping>'),
    }


# ---------------------------------------------------------------- HTTP

class HttpError(Exception):
    pass


class Response:
    __slots__ = ("status", "headers", "body", "t_done")

    def __init__(self, status, headers, body, t_done):
        self.status = status
        self.headers = headers
        self.body = body
        self.t_done = t_done

    def doc(self):
        if not self.body:
            return None
        return wbxml_decode(self.body)


class Device:
    """One EAS device with its own keep-alive connection."""

    def __init__(self, host, port, user, password, device_id,
                 source_ip=None, version="14.1", device_type="BenchPhone"):
        self.host, self.port = host, port
        self.user, self.password = user, password
        self.device_id = device_id
        self.device_type = device_type
        self.source_ip = source_ip
        self.version = version
        self.policy_key = None
        self.inbox = None
        self.sync_key = None
        self.auth = "Basic " + base64.b64encode(
            ("%s:%s" % (user, password)).encode()).decode()
        self.reader = self.writer = None
        self.bytes_in = 0
        self.decode_secs = 0.0      # time spent decoding Sync responses

    async def connect(self):
        src = (self.source_ip, 0) if self.source_ip else None
        self.reader, self.writer = await asyncio.open_connection(
            self.host, self.port, local_addr=src, limit=1 << 20)

    def close(self):
        if self.writer is not None:
            self.writer.close()
            self.reader = self.writer = None

    async def request(self, cmd, body=None, timeout=120.0):
        """POST cmd; returns Response (t_done = monotonic time the whole
        response had arrived)."""
        for attempt in (0, 1):
            if self.writer is None:
                await self.connect()
                fresh = True
            else:
                fresh = False
            try:
                return await asyncio.wait_for(self._exchange(cmd, body),
                                              timeout)
            except (ConnectionError, asyncio.IncompleteReadError) as e:
                # the server closed a kept-alive connection: retry once
                self.close()
                if fresh or attempt:
                    raise HttpError("%s: connection failed: %r" % (cmd, e))
            except asyncio.TimeoutError:
                self.close()
                raise HttpError("%s: no response within %ss" % (cmd, timeout))

    async def _exchange(self, cmd, body):
        q = urlencode([("Cmd", cmd), ("User", self.user),
                       ("DeviceId", self.device_id),
                       ("DeviceType", self.device_type)])
        h = ["POST %s?%s HTTP/1.1" % (EAS_PATH, q),
             "Host: %s:%d" % (self.host, self.port),
             "Authorization: " + self.auth,
             "User-Agent: eas-bench/1.0",
             "MS-ASProtocolVersion: " + self.version]
        if self.policy_key is not None:
            h.append("X-MS-PolicyKey: %s" % self.policy_key)
        if body is not None:
            h.append("Content-Type: application/vnd.ms-sync.wbxml")
            h.append("Content-Length: %d" % len(body))
        else:
            h.append("Content-Length: 0")
        self.writer.write(("\r\n".join(h) + "\r\n\r\n").encode())
        if body:
            self.writer.write(body)
        await self.writer.drain()
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                headers[k.strip().lower()] = v.strip()
        if "content-length" in headers:
            data = await self.reader.readexactly(
                int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            parts = []
            while True:
                ln = int((await self.reader.readuntil(b"\r\n")).split(b";")[0],
                         16)
                if ln == 0:
                    await self.reader.readuntil(b"\r\n")
                    break
                parts.append(await self.reader.readexactly(ln))
                await self.reader.readexactly(2)
            data = b"".join(parts)
        else:
            data = await self.reader.read()
            self.close()
        t_done = time.monotonic()
        if headers.get("connection", "").lower() == "close":
            self.close()
        self.bytes_in += len(head) + len(data)
        return Response(status, headers, data, t_done)

    # -- EAS conversations

    async def checked(self, cmd, body, what, timeout=120.0):
        r = await self.request(cmd, body, timeout)
        if r.status != 200:
            raise HttpError("%s (%s): HTTP %d" % (what, self.device_id,
                                                   r.status))
        return r

    async def setup(self, T):
        """Provision, FolderSync, Sync Inbox until it has a state.
        Returns the number of requests made."""
        r = await self.checked("Provision", T["prov1"].fill(), "Provision")
        doc = r.doc()
        key = doc.findtext("Provision:PolicyKey")
        if doc.findtext("Provision:Status") != "1" or key is None:
            raise HttpError("Provision failed: %r" % r.body[:80])
        r = await self.checked("Provision", T["prov2"].fill(pkey=key),
                               "Provision ack")
        self.policy_key = r.doc().findtext("Provision:PolicyKey")
        r = await self.checked("FolderSync", T["foldersync"].fill(),
                               "FolderSync")
        doc = r.doc()
        if doc.findtext("FolderHierarchy:Status") != "1":
            raise HttpError("FolderSync status %s" % doc.findtext(
                "FolderHierarchy:Status"))
        for add in doc.iter("FolderHierarchy:Add"):
            if add.findtext("FolderHierarchy:Type") == "2":
                self.inbox = add.findtext("FolderHierarchy:ServerId")
        if self.inbox is None:
            raise HttpError("no Inbox in FolderSync")
        n = await self.initial_sync(T, "sync_plain")
        return 3 + n[0]

    async def initial_sync(self, T, tmpl):
        """SyncKey 0, then GetChanges until no MoreAvailable.
        Returns (requests, items, response bytes)."""
        r = await self.checked("Sync", T["sync0"].fill(cid=self.inbox),
                               "Sync 0")
        doc = r.doc()
        if doc is None or doc.findtext("AirSync:Status") != "1":
            raise HttpError("Sync 0 failed")
        self.sync_key = doc.findtext("AirSync:SyncKey")
        reqs, items, nbytes = 1, 0, len(r.body)
        while True:
            more, n, b = await self.sync_changes(T, tmpl)
            reqs += 1
            items += n
            nbytes += b
            if not more:
                return reqs, items, nbytes

    async def sync_changes(self, T, tmpl="sync_plain"):
        """One Sync with GetChanges. Returns (more available, items added,
        body bytes); an empty response means no changes."""
        r = await self.checked("Sync", T[tmpl].fill(key=self.sync_key,
                                                    cid=self.inbox), "Sync")
        if not r.body:
            return False, 0, 0
        t = time.monotonic()
        texts, counts = wbxml_skim(
            r.body, ("AirSync:Status", "AirSync:SyncKey"),
            ("AirSync:MoreAvailable", "AirSync:Add"))
        self.decode_secs += time.monotonic() - t
        st = texts.get("AirSync:Status")
        if st != "1":
            raise HttpError("Sync status %s (%s)" % (st, self.device_id))
        self.sync_key = texts.get("AirSync:SyncKey")
        return (counts["AirSync:MoreAvailable"] > 0,
                counts["AirSync:Add"], len(r.body))

    async def ping(self, T, heartbeat, timeout):
        """Ping Inbox; returns (Ping status, Response)."""
        r = await self.checked("Ping", T["ping"].fill(hb=heartbeat,
                                                       cid=self.inbox),
                               "Ping", timeout=timeout)
        doc = r.doc()
        st = doc.findtext("Ping:Status") if doc is not None else None
        return st, r


# ---------------------------------------------------------------- LMTP

class Lmtp:
    """One LMTP session; deliver() returns the monotonic time the final
    250 reply arrived (the end of the delivery)."""

    def __init__(self, port, host="127.0.0.1"):
        self.host, self.port = host, port
        self.reader = self.writer = None

    async def _reply(self):
        lines = []
        while True:
            line = await self.reader.readline()
            if not line:
                raise HttpError("LMTP connection closed")
            lines.append(line)
            if line[3:4] != b"-":
                break
        code = int(lines[-1][:3])
        return code, b"".join(lines)

    async def connect(self):
        self.reader, self.writer = await asyncio.open_connection(
            self.host, self.port, limit=1 << 20)
        await self._reply()
        self.writer.write(b"LHLO bench.example.test\r\n")
        code, text = await self._reply()
        if code != 250:
            raise HttpError("LHLO: %r" % text)

    async def deliver(self, rcpt, message):
        if self.writer is None:
            await self.connect()
        w = self.writer
        w.write(b"MAIL FROM:<bench@example.test>\r\nRCPT TO:<%s>\r\n"
                b"DATA\r\n" % rcpt.encode())
        await w.drain()
        for what in ("MAIL", "RCPT"):
            code, text = await self._reply()
            if code != 250:
                raise HttpError("LMTP %s: %r" % (what, text))
        code, text = await self._reply()
        if code != 354:
            raise HttpError("LMTP DATA: %r" % text)
        data = message.replace(b"\r\n.", b"\r\n..")
        if not data.endswith(b"\r\n"):
            data += b"\r\n"
        w.write(data + b".\r\n")
        await w.drain()
        code, text = await self._reply()
        t = time.monotonic()
        if code != 250:
            raise HttpError("LMTP delivery: %r" % text)
        return t

    def close(self):
        if self.writer is not None:
            self.writer.write(b"QUIT\r\n")
            self.writer.close()
            self.writer = None


class LmtpPool:
    def __init__(self, port, size):
        self.q = asyncio.Queue()
        for _ in range(size):
            self.q.put_nowait(Lmtp(port))

    async def deliver(self, rcpt, message):
        s = await self.q.get()
        try:
            return await s.deliver(rcpt, message)
        except Exception:
            s.close()
            s = Lmtp(s.port)
            raise
        finally:
            self.q.put_nowait(s)

    def close(self):
        while not self.q.empty():
            self.q.get_nowait().close()
