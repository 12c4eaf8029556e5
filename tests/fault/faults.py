#!/usr/bin/env python3
"""faults.py: the fault-injection matrix of tests/t_faults.sh.

Usage: faults.py SHIM [PRELOAD_FIRST]

For each step of a delivery (open in tmp/, write, write-behind, fsync,
close, rename into new/, fsync of new/, and a splice of a batch) and each
errno (ENOSPC, EDQUOT, EIO; and a write that returns 0), smtpd runs with
the LD_PRELOAD shim making that call fail once.  The message gets the right
4xx (452 4.3.1 for no space, 451 4.3.0 otherwise), the spool holds nothing
of it (tmp/ and new/ empty right after the reply), the session goes on and
a second message is stored with the exact bytes sent, and the shim's log
proves the fault really happened.
"""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import smtpclient as sc  # noqa: E402

SHIM = sys.argv[1]
PRELOAD = ((sys.argv[2] + ":") if len(sys.argv) > 2 and sys.argv[2] else "") + SHIM

SMALL = b"Subject: second\r\n\r\nThe message after the fault.\r\n..a stuffed dot\r\n"
SMALL_STORED = b"Subject: second\n\nThe message after the fault.\n.a stuffed dot\n"
# Over two of smtpd's 256 KiB batches, so that the second write and a short
# one happen.
BIG = b"Subject: big\r\n\r\n" + b"".join(
    b"line %06d of a message that needs several writes to the spool\r\n" % i
    for i in range(10000))
# Over smtpd's 4 MiB write-behind step, twice.
HUGE = b"Subject: huge\r\n\r\n" + b"".join(
    b"line %07d of a message long enough that its start goes to disk early\r\n" % i
    for i in range(130000))
HUGE_STORED = HUGE.replace(b"\r\n", b"\n")

EXPECT = {
    "ENOSPC": (452, "452 4.3.1 Insufficient system storage"),
    "EDQUOT": (452, "452 4.3.1 Insufficient system storage"),
    "EFBIG": (452, "452 4.3.1 Insufficient system storage"),
    "EIO": (451, "451 4.3.0 Local error in processing"),
    "EROFS": (451, "451 4.3.0 Local error in processing"),
    # FAULT_ERRNO=0: write(2) returns 0, no errno.  A regular file that
    # takes no byte is full: a 452 (come back later, to a disk with room),
    # not the 451 of a broken disk.
    "0": (452, "452 4.3.1 Insufficient system storage"),
}


def stored_ok(spool, what):
    """new/ holds exactly the second message, with its exact bytes."""
    names = sc.files(spool, "new")
    if not sc.check(len(names) == 1, "%s: new/ holds %d files, not 1" % (what, len(names))):
        return
    data = sc.read_file(spool, "new", names[0])
    head = re.match(rb"Return-Path: <a@client\.example>\n"
                    rb"X-Original-To: <bob@example\.org>\n"
                    rb"Received: from client\.example \(local\) by mx\.test with ESMTP "
                    rb"id (\S+) for <bob@example\.org>; [^\n]+\n", data)
    sc.check(head is not None, "%s: envelope of the stored file: %r" % (what, data[:300]))
    sc.check(head is not None and names[0].startswith(head.group(1).decode() + "."),
             "%s: file name %s and queue id differ" % (what, names[0]))
    sc.check(sc.body_of(data) == SMALL_STORED,
             "%s: stored body %r" % (what, sc.body_of(data)))


def run_case(step, err, n=1, times=1, partial=False, big=False, huge=False, via=""):
    what = "%s#%d %s%s%s" % (step, n, err, " partial" if partial else "",
                             " persistent" if times == 0 else "")
    spool = sc.make_spool()
    log = os.path.join(spool, "..", os.path.basename(spool) + ".faultlog")
    env = {"LD_PRELOAD": PRELOAD, "FAULT_SPOOL": spool, "FAULT_CALL": step,
           "FAULT_N": str(n), "FAULT_TIMES": str(times), "FAULT_ERRNO": err,
           "FAULT_LOG": log}
    if partial:
        env["FAULT_PARTIAL"] = "1"
    code, text = EXPECT[err]
    s = sc.Smtpd(spool, env=env)
    try:
        sc.greet(s, what=what)
        s.send("MAIL FROM:<a@client.example>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\n")
        s.expect(250, what + " MAIL")
        s.expect(250, what + " RCPT")
        if step == "open":
            # The file is made at DATA: the refusal is DATA's reply.
            got, lines = s.expect(code, what + " DATA", text=text)
        else:
            s.expect(354, what + " DATA")
            s.send((HUGE if huge else BIG if big else b"Subject: first\r\n\r\nlost\r\n")
                   + b".\r\n")
            got, lines = s.expect(code, what + " end of data", text=text)
        sc.check(sc.files(spool, "tmp") == [], "%s: tmp/ after the refusal: %s"
                 % (what, sc.files(spool, "tmp")))
        sc.check(sc.files(spool, "new") == [], "%s: new/ after the refusal: %s"
                 % (what, sc.files(spool, "new")))
        # The session goes on.
        s.send("MAIL FROM:<a@client.example>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\n")
        s.expect(250, what + " second MAIL")
        s.expect(250, what + " second RCPT")
        if times == 0 and step == "open":
            s.expect(code, what + " second DATA (fault persists)", text=text)
        else:
            s.expect(354, what + " second DATA")
            s.send(SMALL + b".\r\n")
            if times == 0:
                s.expect(code, what + " second message (fault persists)", text=text)
            else:
                s.expect(250, what + " second message", text="queued as")
        s.send("QUIT\r\n")
        s.expect(221, what + " QUIT")
    except sc.Failure as e:
        sc.check(False, "%s: %s" % (what, e))
    s.close()
    st = s.wait()
    sc.check(st == 0, "%s: exit status %s; stderr: %s" % (what, st, s.stderr()[-500:]))
    sc.check(sc.files(spool, "tmp") == [], "%s: tmp/ at the end: %s" % (what, sc.files(spool, "tmp")))
    if times == 0:
        sc.check(sc.files(spool, "new") == [], "%s: new/ at the end: %s" % (what, sc.files(spool, "new")))
    else:
        stored_ok(spool, what)
    try:
        with open(log) as f:
            calls = f.read().split("\n")
        os.unlink(log)
    except OSError:
        calls = []
    want = "%s %d FAIL%s" % (step, n, " " + via if via else "")
    sc.check(want in calls or (not via and want + " splice" in calls),
             "%s: the shim did not inject the fault %r (log: %s)" % (what, want, calls[-12:]))
    sc.remove_tree(spool)


def writebehind_unsupported():
    """A file system that cannot start writeback early (EINVAL from
    sync_file_range every time): the message is stored all the same, byte
    for byte, and smtpd stops asking after the first refusal."""
    what = "writebehind EINVAL"
    spool = sc.make_spool()
    log = os.path.join(spool, "..", os.path.basename(spool) + ".faultlog")
    env = {"LD_PRELOAD": PRELOAD, "FAULT_SPOOL": spool, "FAULT_CALL": "writebehind",
           "FAULT_TIMES": "0", "FAULT_ERRNO": "EINVAL", "FAULT_LOG": log}
    s = sc.Smtpd(spool, env=env)
    try:
        sc.greet(s, what=what)
        s.send("MAIL FROM:<a@client.example>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\n")
        s.expect(250, what + " MAIL")
        s.expect(250, what + " RCPT")
        s.expect(354, what + " DATA")
        s.send(HUGE + b".\r\n")
        s.expect(250, what + " end of data", text="queued as")
        s.send("QUIT\r\n")
        s.expect(221, what + " QUIT")
    except sc.Failure as e:
        sc.check(False, "%s: %s" % (what, e))
    s.close()
    st = s.wait()
    sc.check(st == 0, "%s: exit status %s" % (what, st))
    names = sc.files(spool, "new")
    if sc.check(len(names) == 1, "%s: new/ holds %d files" % (what, len(names))):
        body = sc.body_of(sc.read_file(spool, "new", names[0]))
        sc.check(body == HUGE_STORED, "%s: stored body differs (%d bytes, want %d)"
                 % (what, len(body), len(HUGE_STORED)))
    try:
        with open(log) as f:
            calls = [c for c in f.read().split("\n") if c.startswith("writebehind")]
        os.unlink(log)
    except OSError:
        calls = []
    sc.check(calls == ["writebehind 1 FAIL"],
             "%s: sync_file_range calls: %s" % (what, calls))
    sc.remove_tree(spool)


def start_fault(err):
    """The spool cannot be opened at all: 421 4.3.0 at once, exit 1."""
    what = "opendir %s" % err
    spool = sc.make_spool()
    env = {"LD_PRELOAD": PRELOAD, "FAULT_SPOOL": spool, "FAULT_CALL": "opendir",
           "FAULT_N": "1", "FAULT_ERRNO": err}
    s = sc.Smtpd(spool, env=env)
    try:
        s.expect(421, what + " greeting", text="421 mx.test Mail spool unavailable")
        rest = s.rest()
        sc.check(rest == b"", "%s: more after the 421: %r" % (what, rest))
    except sc.Failure as e:
        sc.check(False, "%s: %s" % (what, e))
    s.close()
    st = s.wait()
    sc.check(st == 1, "%s: exit status %s, not 1" % (what, st))
    sc.remove_tree(spool)


def main():
    for err in ("ENOSPC", "EDQUOT", "EIO"):
        for step in ("open", "write", "fsync", "rename", "dirfsync"):
            run_case(step, err)
        run_case("write", err, n=2, big=True)
        run_case("write", err, n=1, partial=True, big=True)
    for err in ("ENOSPC", "EIO"):
        run_case("writebehind", err, huge=True)
        run_case("writebehind", err, n=2, huge=True)
    writebehind_unsupported()
    # Past the batch size, writes become splices from smtpd's pipe.
    for err in ("ENOSPC", "EIO"):
        run_case("write", err, n=20, huge=True, via="splice")
    run_case("write", "ENOSPC", n=20, partial=True, huge=True, via="splice")
    run_case("write", "EFBIG")
    # A write that returns 0: the disk is full (store.c write_all).
    run_case("write", "0")
    run_case("write", "0", n=2, big=True)
    # close(2) can report a deferred write error (NFS): the file must not
    # be renamed into new/ and its 250 promised.
    run_case("close", "EIO")
    run_case("close", "ENOSPC")
    run_case("rename", "EROFS")
    run_case("write", "ENOSPC", times=0, big=True)
    run_case("open", "EDQUOT", times=0)
    start_fault("EIO")
    sc.finish("t_faults")


main()
