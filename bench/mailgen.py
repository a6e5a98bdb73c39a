"""Deterministic test mail for the benchmark suite.

realistic(i) gives message i of a mailbox with realistic sizes (2 KB to
200 KB, log-normal around 12 KB): plain text, text + HTML alternatives,
and about a fifth with a base64 attachment.  small(i) is a short plain
message for the 100,000-message folder.  The same seed always gives the
same bytes.

write_maildir() stores messages the way a maildir delivery agent does
(one file each, directly in cur/ with the size in the name), which is the
fastest reliable way to build large mailboxes: Dovecot indexes them on
first access like mail dropped in by any other MDA."""

import base64
import math
import os
import random

WORDS = ("the quarterly report meeting agenda budget project deadline "
         "review draft customer invoice schedule update team travel "
         "lunch friday monday offsite proposal contract signed attached "
         "please find below thanks regards following discussed agreed "
         "numbers growth market launch release feature design server "
         "mailbox phone tablet sync push latency storage backup network "
         "office holiday conference slides minutes action items owner").split()


def _make_lines(seed=7, count=4000):
    rng = random.Random(seed)
    return [(" ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 12)))
             .capitalize() + ".") for _ in range(count)]


LINES = _make_lines()


def _text(rng, nbytes):
    """About nbytes of text: lines drawn from a fixed pool (fast)."""
    out, n = [], 0
    while n < nbytes:
        line = LINES[rng.randrange(len(LINES))]
        out.append(line)
        n += len(line) + 1
    return "\n".join(out)


def _headers(i, subject, ctype, extra=()):
    day = 1 + i % 28
    hdr = ["From: Sender %d <sender%d@example.org>" % (i % 97, i % 97),
           "To: Bench User <bulk@example.test>",
           "Subject: %s" % subject,
           "Date: Mon, %02d Oct 2026 %02d:%02d:%02d +0000" % (
               day, i % 24, i % 60, (i * 7) % 60),
           "Message-ID: <bench.%d@example.org>" % i,
           "MIME-Version: 1.0",
           "Content-Type: %s" % ctype]
    return "\n".join(hdr + list(extra)) + "\n\n"


def realistic(i, seed=4242):
    """Message i as bytes (LF line ends, like files in a maildir)."""
    rng = random.Random(seed * 1000003 + i)
    size = int(min(200_000, max(2_000, math.exp(rng.gauss(9.4, 1.0)))))
    subject = "%s %s #%d" % (rng.choice(WORDS).capitalize(),
                             rng.choice(WORDS), i)
    kind = rng.random()
    if kind < 0.25 and size > 6000:
        # text + attachment: the attachment takes most of the size
        text = _text(rng, 1500)
        raw = rng.randbytes((size - 2000) * 3 // 4)
        b64 = base64.encodebytes(raw).decode()
        b = "b%08x" % i
        body = ("--%s\nContent-Type: text/plain; charset=utf-8\n\n%s\n"
                "--%s\nContent-Type: application/pdf; name=\"doc%d.pdf\"\n"
                "Content-Disposition: attachment; filename=\"doc%d.pdf\"\n"
                "Content-Transfer-Encoding: base64\n\n%s--%s--\n" % (
                    b, text, b, i, i, b64, b))
        msg = _headers(i, subject, 'multipart/mixed; boundary="%s"' % b) \
            + body
    elif kind < 0.65:
        # text/plain + text/html alternatives
        text = _text(rng, max(500, size // 3))
        html = "<html><body>%s</body></html>" % "".join(
            "<p>%s</p>\n" % p for p in text.split("\n"))
        b = "a%08x" % i
        body = ("--%s\nContent-Type: text/plain; charset=utf-8\n\n%s\n"
                "--%s\nContent-Type: text/html; charset=utf-8\n\n%s\n"
                "--%s--\n" % (b, text, b, html, b))
        msg = _headers(i, subject,
                       'multipart/alternative; boundary="%s"' % b) + body
    else:
        msg = _headers(i, subject, "text/plain; charset=utf-8") + \
            _text(rng, size - 400) + "\n"
    return msg.encode()


def small(i):
    return (_headers(i, "Note %d" % i, "text/plain; charset=utf-8") +
            "Short message number %d.\n" % i).encode()


def to_crlf(msg):
    return msg.replace(b"\n", b"\r\n")


def write_maildir(maildir, messages, uid=None, gid=None):
    """Write an iterable of message bytes into maildir/cur.
    Returns (count, total bytes)."""
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(maildir, sub), exist_ok=True)
    cur = os.path.join(maildir, "cur")
    n = total = 0
    base = 1_790_000_000
    rng = random.Random(99)
    for n, msg in enumerate(messages, 1):
        # names as Dovecot's own deliveries make them: a few per second,
        # microseconds and pid in the uniqueness part, sizes at the end
        name = "%d.M%dP%d.mx1.example.test,S=%d,W=%d:2,S" % (
            base + n // 3, rng.randrange(1000000), rng.randrange(2, 60000),
            len(msg), len(msg) + msg.count(b"\n"))
        with open(os.path.join(cur, name), "wb") as f:
            f.write(msg)
        total += len(msg)
    if uid is not None:
        for root, dirs, files in os.walk(os.path.dirname(maildir)
                                         if os.path.basename(maildir)
                                         == "Maildir" else maildir):
            os.chown(root, uid, gid)
            for f in files:
                os.chown(os.path.join(root, f), uid, gid)
    return n, total
