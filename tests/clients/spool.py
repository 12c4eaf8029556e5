"""spool.py: what smtpd left in its Maildir, and the checks made on it.

A spooled file is smtpd's envelope (Return-Path, one X-Original-To per
recipient, one Received line) followed by the message as the client sent
it, with each CRLF stored as LF and dot-stuffing undone.  Each client case
says what it sent; this module finds the files the case produced, parses
the envelope, and compares the rest byte for byte.  Every file checked is
recorded in a manifest, which the read-back (readback.py) walks at the end.
"""
import os
import re

RECEIVED = re.compile(
    rb"Received: from (?P<helo>\S+) \((?P<peer>[^)]*)\) by (?P<host>\S+)"
    rb" with (?P<proto>E?SMTP) id (?P<id>\S+)(?: for <(?P<for>[^>]*)>)?;"
    rb" (?P<date>[A-Z][a-z]{2}, \d{1,2} [A-Z][a-z]{2} \d{4}"
    rb" \d\d:\d\d:\d\d \+0000)\n")


class Stored:
    """One spooled file, split into smtpd's envelope and the message."""

    def __init__(self, name, data):
        self.name = name
        self.data = data
        self.sender = None
        self.rcpts = []
        self.received = None
        self.message = None
        self.error = self._parse()

    def _parse(self):
        rest = self.data
        m = re.match(rb"Return-Path: <([^>\n]*)>\n", rest)
        if not m:
            return "no Return-Path line first"
        self.sender = m.group(1).decode("ascii", "replace")
        rest = rest[m.end():]
        while True:
            m = re.match(rb"X-Original-To: <([^>\n]*)>\n", rest)
            if not m:
                break
            self.rcpts.append(m.group(1).decode("ascii", "replace"))
            rest = rest[m.end():]
        m = RECEIVED.match(rest)
        if not m:
            return "no Received line after the envelope: %r" % rest[:200]
        self.received = {k: (v.decode("ascii") if v is not None else None)
                         for k, v in m.groupdict().items()}
        self.message = rest[m.end():]
        return None


def wire_to_stored(sent):
    """The bytes smtpd stores for a message sent as `sent` (un-stuffed)."""
    return sent.replace(b"\r\n", b"\n")


def first_difference(got, want):
    """A short description of where two byte strings part."""
    n = min(len(got), len(want))
    i = next((k for k in range(n) if got[k] != want[k]), n)
    return ("%d bytes stored, %d expected; first difference at offset %d:"
            " stored %r, expected %r"
            % (len(got), len(want), i, got[max(0, i - 20):i + 40],
               want[max(0, i - 20):i + 40]))


class Spool:
    """smtpd's Maildir, seen from the test."""

    def __init__(self, path):
        self.path = path
        for sub in ("tmp", "new", "cur"):
            os.makedirs(os.path.join(path, sub), exist_ok=True)
        self.seen = set()
        self.manifest = {}      # file name -> Expected

    def names(self):
        return set(os.listdir(os.path.join(self.path, "new")))

    def take(self):
        """Files that arrived in new/ since the last call, oldest first."""
        fresh = self.names() - self.seen
        self.seen |= fresh
        return [self.read(n) for n in sorted(fresh, key=self._mtime)]

    def tmp_files(self):
        return os.listdir(os.path.join(self.path, "tmp"))

    def read(self, name):
        with open(os.path.join(self.path, "new", name), "rb") as f:
            return Stored(name, f.read())

    def _mtime(self, name):
        return os.stat(os.path.join(self.path, "new", name)).st_mtime_ns


class Expected:
    """What a case sent: the envelope and the message bytes (LF form)."""

    def __init__(self, case, sender, rcpts, helo, message, esmtp=True,
                 prefix=None):
        self.case = case
        self.sender = sender
        self.rcpts = list(rcpts)
        self.helo = helo
        self.message = message
        self.esmtp = esmtp
        self.prefix = prefix    # a regex the relaying client prepends


def check_stored(r, spool, stored, want, host="mx.test", peer="[127.0.0.1]",
                 queued_id=None):
    """Assert through result r that `stored` is `want`, smtpd's envelope
    included; record it in the spool's manifest for the read-back."""
    what = "%s: %s" % (want.case, stored.name)
    if stored.error:
        r.fail("%s: %s" % (what, stored.error))
        return
    rc = stored.received
    r.equal(stored.sender, want.sender, what + ": Return-Path")
    r.equal(stored.rcpts, want.rcpts, what + ": X-Original-To lines")
    r.equal(rc["helo"], want.helo, what + ": Received from")
    r.equal(rc["peer"], peer, what + ": Received peer")
    r.equal(rc["host"], host, what + ": Received by")
    r.equal(rc["proto"], "ESMTP" if want.esmtp else "SMTP",
            what + ": Received with")
    r.equal(rc["for"], want.rcpts[0] if len(want.rcpts) == 1 else None,
            what + ": Received for")
    r.check(stored.name.startswith(rc["id"] + "."),
            "%s: file name does not start with the id %s" % (what, rc["id"]))
    if queued_id is not None:
        r.equal(rc["id"], queued_id, what + ": id in the 250 reply")
    body = stored.message
    if want.prefix is not None:
        m = re.match(want.prefix, body)
        if not m:
            r.fail("%s: no %r before the message: %r"
                   % (what, want.prefix, body[:200]))
            return
        body = body[m.end():]
    if body != want.message:
        r.fail("%s: message bytes differ: %s"
               % (what, first_difference(body, want.message)))
    spool.manifest[stored.name] = want
