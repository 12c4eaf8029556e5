#!/usr/bin/env python3
"""crash.py: crash consistency, driven by tests/t_crash.sh.

Many sessions, each delivering a few messages of mixed sizes (one line to
several 64 KiB file writes), share one spool; in each, smtpd is killed
with SIGKILL at a random moment (the moments spread over a whole session:
commands, streaming DATA, fsync, rename, the reply).  After every kill:

 - every message that got its 250 is in new/, under its queue id, with
   exactly the bytes sent (envelope and body);
 - every file in new/ is complete: it is one of the messages sent, byte
   for byte (a message can be there without its 250: the kill came after
   the rename, before the reply; the client will send it again);
 - tmp/ may keep a file of the killed session (Maildir readers clean
   tmp/), but nothing in tmp/ is ever in new/ too.

Environment: T_CRASH_ITERATIONS (default 400) and T_CRASH_SECONDS
(default 20) bound the run; whichever is reached first ends it.
T_CRASH_SEED chooses the random sequence (default: from the time; it is
printed so that a failure can be replayed).
"""
import os
import random
import re
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import smtpclient as sc  # noqa: E402

ITERATIONS = int(os.environ.get("T_CRASH_ITERATIONS", "400"))
SECONDS = float(os.environ.get("T_CRASH_SECONDS", "20"))
SEED = int(os.environ.get("T_CRASH_SEED", str(int(time.time() * 1000) % 1000000)))
rnd = random.Random(SEED)

SIZES = [0, 100, 5000, 70000, 300000]


def make_message(tag, size):
    """A message with a unique tag; what is sent and what is stored."""
    head = b"Subject: crash test\r\nX-Crash-Id: " + tag + b"\r\n\r\n"
    line = b"." + tag + b" a line of text; the dot at its start is stuffed\r\n"
    lines = head + line * (size // len(line) + 1)
    sent = lines.replace(b"\r\n.", b"\r\n..")
    stored = lines.replace(b"\r\n", b"\n")
    return sent, stored


def session(spool, it, kill_after, count):
    """Run one session of count messages; kill smtpd after kill_after
    seconds.  Returns the list of (queue id, tag, stored body)
    acknowledged, all bodies sent by tag, and the exit status."""
    s = sc.Smtpd(spool)
    acked, sent_bodies = [], {}
    def kill():
        try:
            os.kill(s.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    killer = threading.Timer(kill_after, kill)
    killer.start()
    try:
        if s.reply()[0] != 220:
            raise sc.Failure("no greeting")
        s.send("EHLO client.example\r\n")
        if s.reply()[0] != 250:
            raise sc.Failure("no EHLO reply")
        for m in range(count):
            tag = b"%d-%d" % (it, m)
            sent, stored = make_message(tag, rnd.choice(SIZES))
            sent_bodies[tag] = stored
            if not s.send("MAIL FROM:<a@client.example>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\n"):
                break
            if [s.reply()[0] for _ in range(3)] != [250, 250, 354]:
                break
            if not s.send(sent + b".\r\n"):
                break
            code, lines = s.reply()
            if code != 250:
                break
            acked.append((re.search(r"queued as (\S+)", lines[-1]).group(1), tag, stored))
        s.send("QUIT\r\n")
        s.reply()
    except (sc.Failure, OSError):
        pass		# the kill: the connection ends anywhere
    killer.cancel()
    killer.join()		# smtpd is not reaped before: its pid is its own
    s.close()
    st = s.wait()
    return acked, sent_bodies, st


ENVELOPE = re.compile(rb"Return-Path: <a@client\.example>\n"
                      rb"X-Original-To: <bob@example\.org>\n"
                      rb"Received: from client\.example \(local\) by mx\.test with ESMTP "
                      rb"id (\S+) for <bob@example\.org>; [^\n]+\n")


def main():
    spool = sc.make_spool()
    print("t_crash: seed %d (T_CRASH_SEED), up to %d iterations or %.0f s"
          % (SEED, ITERATIONS, SECONDS), flush=True)
    # A first session without a kill tells how long a message takes here.
    t0 = time.monotonic()
    acked, sent, st = session(spool, 0, 3600, 6)
    duration = max(time.monotonic() - t0, 0.01)
    per_message = duration / 6
    sc.check(st == 0, "uncut session: exit status %s" % st)
    sc.check(len(acked) == len(sent) and len(sc.files(spool, "new")) == len(sent),
             "uncut session: %d messages, %d acknowledged, %d in new/"
             % (len(sent), len(acked), len(sc.files(spool, "new"))))
    known = {}			# file name -> tag, of the files checked
    all_sent = dict(sent)
    killed = unacked_in_new = tmp_left = 0
    it = 0
    start = time.monotonic()
    while it < ITERATIONS and time.monotonic() - start < SECONDS:
        it += 1
        count = rnd.randint(1, 6)
        # The moment spreads over the whole session, and a little after.
        acked, sent, st = session(spool, it, rnd.uniform(0, per_message * (count + 1) * 1.2), count)
        all_sent.update(sent)
        if st == -signal.SIGKILL:
            killed += 1
        elif not sc.check(st == 0, "iteration %d: exit status %s" % (it, st)):
            break
        names = sc.files(spool, "new")
        for name in names:
            if name in known:
                continue
            data = sc.read_file(spool, "new", name)
            m = ENVELOPE.match(data)
            tag = re.search(rb"X-Crash-Id: (\S+)", data)
            ok = (m is not None and tag is not None and name.startswith(m.group(1).decode() + ".")
                  and tag.group(1) in all_sent and data[m.end():] == all_sent[tag.group(1)])
            if not sc.check(ok, "iteration %d: %s in new/ is not a complete message (%d bytes: %r...)"
                            % (it, name, len(data), data[:160])):
                continue
            known[name] = tag.group(1)
        for qid, tag, stored in acked:
            mine = [n for n in names if n.startswith(qid + ".")]
            sc.check(len(mine) == 1 and known.get(mine[0]) == tag,
                     "iteration %d: message %s got 250 (queued as %s) but is not in new/"
                     % (it, tag.decode(), qid))
        acked_tags = {t for _, t, _ in acked}
        unacked_in_new += sum(1 for n in names if known.get(n) in sent and known.get(n) not in acked_tags)
        leftovers = sc.files(spool, "tmp")
        both = set(leftovers) & set(names)
        sc.check(not both, "iteration %d: in tmp/ and new/ at once: %s" % (it, both))
        tmp_left += len(leftovers)
        for f in leftovers:		# as a Maildir reader would, later
            os.unlink(os.path.join(spool, "tmp", f))
        for n in names:			# keep new/ small; they are checked
            os.unlink(os.path.join(spool, "new", n))
        known.clear()
        if failures_so_far():
            break
    print("t_crash: %d sessions in %.1f s (6 messages uncut: %.3f s), %d killed by SIGKILL; "
          "%d files left in tmp/, %d messages in new/ without their 250"
          % (it, time.monotonic() - start, duration, killed, tmp_left, unacked_in_new))
    sc.check(killed > 0, "no session was killed: the test tested nothing")
    sc.remove_tree(spool)
    sc.finish("t_crash")


def failures_so_far():
    return len(sc.failures) > 20


main()
