#!/usr/bin/env python3
"""load.py: the client of tests/t_load.sh.

Usage: load.py PORT SPOOL SESSIONS MESSAGES_PER_SESSION

SESSIONS connections at once to smtpd behind a supervisor on 127.0.0.1:PORT,
each delivering its messages one after the other (MAIL, RCPT, DATA
pipelined, then the body).  Every message is unique (a tag and a size
from 60 bytes to 20 KiB).  Then the spool is checked: every 250 names a
queue id that is exactly one file in new/, with exactly the bytes sent;
there are as many files as 250s; names are unique; tmp/ is empty.
"""
import asyncio
import os
import random
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import smtpclient as sc  # noqa: E402

PORT, SPOOL = int(sys.argv[1]), sys.argv[2]
SESSIONS, PER = int(sys.argv[3]), int(sys.argv[4])
rnd = random.Random(200)

acked = {}		# queue id -> (tag, stored bytes)
problems = []
latencies = []


def message(tag):
    size = rnd.choice([60, 500, 3000, 20000])
    head = b"Subject: load\r\nX-Load-Id: " + tag + b"\r\n\r\n"
    line = b"." + tag + b" some text of the message under load\r\n"
    lines = head + line * (size // len(line) + 1)
    return lines.replace(b"\r\n.", b"\r\n.."), lines.replace(b"\r\n", b"\n")


async def reply(r):
    lines = []
    while True:
        line = await r.readline()
        if not line.endswith(b"\r\n"):
            raise sc.Failure("connection closed mid-reply: %r" % (lines + [line]))
        lines.append(line[:-2].decode("latin-1"))
        if len(line) < 4 or line[3:4] != b"-":
            return int(line[:3]), lines


async def expect(r, code, what):
    got, lines = await reply(r)
    if got != code:
        raise sc.Failure("%s: expected %d, got %r" % (what, code, lines))
    return lines


async def session(i, start_gate):
    await start_gate.wait()
    for attempt in range(50):
        try:
            r, w = await asyncio.open_connection("127.0.0.1", PORT)
            break
        except OSError:
            await asyncio.sleep(0.05 * (attempt + 1))
    else:
        problems.append("session %d: cannot connect" % i)
        return
    try:
        await expect(r, 220, "greeting")
        w.write(b"EHLO load%d.example\r\n" % i)
        await expect(r, 250, "EHLO")
        for m in range(PER):
            tag = b"%d-%d" % (i, m)
            sent, stored = message(tag)
            t0 = time.monotonic()
            w.write(b"MAIL FROM:<load@client.example>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\n")
            await expect(r, 250, "MAIL")
            await expect(r, 250, "RCPT")
            await expect(r, 354, "DATA")
            w.write(sent + b".\r\n")
            lines = await expect(r, 250, "end of data")
            latencies.append(time.monotonic() - t0)
            qid = re.search(r"queued as (\S+)", lines[-1]).group(1)
            if qid in acked:
                problems.append("queue id %s given twice" % qid)
            acked[qid] = (tag, stored)
        w.write(b"QUIT\r\n")
        await expect(r, 221, "QUIT")
    except (sc.Failure, OSError, AttributeError) as e:
        problems.append("session %d: %s" % (i, e))
    w.close()


async def main():
    gate = asyncio.Event()
    tasks = [asyncio.create_task(session(i, gate)) for i in range(SESSIONS)]
    t0 = time.monotonic()
    gate.set()
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=600)
    return time.monotonic() - t0


ENVELOPE = re.compile(rb"Return-Path: <load@client\.example>\n"
                      rb"X-Original-To: <bob@example\.org>\n"
                      rb"Received: from load\d+\.example \(\[127\.0\.0\.1\]\) by mx\.test with ESMTP "
                      rb"id (\S+) for <bob@example\.org>; [^\n]+\n")

elapsed = asyncio.run(main())
for p in problems[:20]:
    sc.check(False, p)
total = SESSIONS * PER
sc.check(len(acked) == total, "%d messages acknowledged of %d" % (len(acked), total))
names = sc.files(SPOOL, "new")
sc.check(len(names) == len(set(names)) == len(acked),
         "%d files in new/ for %d acknowledged messages" % (len(names), len(acked)))
sc.check(sc.files(SPOOL, "tmp") == [], "tmp/ holds %d files" % len(sc.files(SPOOL, "tmp")))
by_id = {}
for n in names:
    by_id.setdefault(n.split(".mx.test")[0], []).append(n)
bad = 0
for qid, (tag, stored) in acked.items():
    files = by_id.get(qid, [])
    if len(files) != 1:
        bad += 1
        if bad < 10:
            sc.check(False, "queue id %s: %d files" % (qid, len(files)))
        continue
    data = sc.read_file(SPOOL, "new", files[0])
    m = ENVELOPE.match(data)
    if not (m and m.group(1).decode() == qid and data[m.end():] == stored):
        bad += 1
        if bad < 10:
            sc.check(False, "queue id %s (message %s): wrong bytes %r" % (qid, tag.decode(), data[:200]))
sc.check(bad == 0, "%d messages wrong or missing" % bad)
latencies.sort()
if latencies:
    print("t_load: %d sessions at once, %d messages in %.1f s: %.0f messages/s; "
          "per message (MAIL to 250) median %.1f ms, 99th percentile %.1f ms"
          % (SESSIONS, len(acked), elapsed, len(acked) / elapsed,
             1000 * latencies[len(latencies) // 2],
             1000 * latencies[int(len(latencies) * 0.99)]))
sc.finish("t_load")
