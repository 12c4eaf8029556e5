"""postfix_cases.py: Postfix as the relaying client of smtpd.

Three messages go into the throw-away instance with `sendmail -C DIR`: an
8-bit UTF-8 one for two recipients (arrives as sent only if Postfix saw
8BITMIME: otherwise it converts the body to quoted-printable), a 200 KB
one, and one too big for the second smtpd's --max-size, which Postfix
must refuse to send after reading SIZE in the EHLO reply.  Postfix logs
its whole conversation (debug_peer_list): the checks read PIPELINING,
SIZE= and BODY=8BITMIME on MAIL, and the QUIT with its 221, from there.
"""
import re
import time

from spool import Expected, check_stored

SENDER = "pf@relay.test"
POSTFIX_RECEIVED = (rb"Received: by relay\.test \(Postfix, from userid 0\)\n"
                    rb"\tid (\w+); [^\n]+\n")

UTF8_MESSAGE = ("From: Postfix User <pf@relay.test>\n"
                "To: u@example.org, v@example.org\n"
                "Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe_via_Postfix?=\n"
                "Message-ID: <pf1@relay.test>\n"
                "Date: Mon, 02 Feb 2026 10:00:00 +0000\n"
                "MIME-Version: 1.0\n"
                "Content-Type: text/plain; charset=utf-8\n"
                "Content-Transfer-Encoding: 8bit\n"
                "\n"
                "Grüße from a real MTA: 中文, ελληνικά, \U0001F4EC.\n"
                ".\n"
                "..\n"
                ".leading dot\n"
                "end\n").encode("utf-8")

BIG_MESSAGE = (b"From: pf@relay.test\nTo: w@example.net\n"
               b"Subject: 200 KB through Postfix\n"
               b"Message-ID: <pf2@relay.test>\n"
               b"Date: Mon, 02 Feb 2026 10:00:00 +0000\n\n"
               + b"".join(b"line %05d: %s\n" % (i, b"x" * 60) for i in range(2800)))

TOO_BIG = (b"From: pf@relay.test\nTo: x@small.example.org\n"
           b"Subject: over the small smtpd's SIZE\n"
           b"Message-ID: <pf3@relay.test>\n"
           b"Date: Mon, 02 Feb 2026 10:00:00 +0000\n\n" + (b"y" * 70 + b"\n") * 40)


def submit(pf):
    pf.sendmail(SENDER, ["u@example.org", "v@example.org"], UTF8_MESSAGE)
    pf.sendmail(SENDER, ["w@example.net"], BIG_MESSAGE)
    pf.sendmail("", ["x@small.example.org"], TOO_BIG)


def wait_deliveries(pf, count, timeout=30.0):
    """Bounded wait until Postfix logged `count` delivery results."""
    deadline = time.monotonic() + timeout
    while len(pf.deliveries()) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    done = pf.deliveries()
    if len(done) < count:
        raise RuntimeError("Postfix logged %d delivery results in %.0f s:\n%s"
                           % (len(done), timeout, pf.log_text()[-3000:]))
    return done


def case_relay(r, ctx, pf):
    """Both relayed messages land in smtpd's spool as they were sent."""
    # Postfix logs "status=sent" after smtpd's 250, which smtpd sends only
    # once the file is in new/: waiting for the log is enough.
    done = wait_deliveries(pf, 4)
    r.equal(sorted((rcpt, status) for _, rcpt, status, _ in done),
            [("u@example.org", "sent"), ("v@example.org", "sent"),
             ("w@example.net", "sent"), ("x@small.example.org", "bounced")],
            "Postfix's delivery results")
    ids = {rcpt: text for _, rcpt, status, text in done if status == "sent"}
    files = ctx.spool.take()
    r.equal(len(files), 2, "files spooled")
    want = {
        "pf1": Expected("postfix UTF-8", SENDER, ["u@example.org", "v@example.org"],
                        "relay.test", UTF8_MESSAGE, prefix=POSTFIX_RECEIVED),
        "pf2": Expected("postfix 200 KB", SENDER, ["w@example.net"],
                        "relay.test", BIG_MESSAGE, prefix=POSTFIX_RECEIVED),
    }
    for st in files:
        key = "pf1" if b"<pf1@relay.test>" in st.data else "pf2"
        rcpt = want[key].rcpts[0]
        m = re.fullmatch(r"250 2\.0\.0 OK: queued as (\S+)", ids.get(rcpt, ""))
        r.check(m is not None, "Postfix logged for %s: %r" % (rcpt, ids.get(rcpt)))
        check_stored(r, ctx.spool, st, want.pop(key),
                     queued_id=m.group(1) if m else None)
    r.equal(sorted(want), [], "messages that did not arrive")
    for rcpt in ("u@example.org", "v@example.org"):
        r.equal(ids.get(rcpt), ids.get("u@example.org"),
                "one transaction for both recipients")


def ehlo_reply(host, size):
    return ["< 250-" + host, "< 250-SIZE %d" % size, "< 250-8BITMIME",
            "< 250-PIPELINING", "< 250-ENHANCEDSTATUSCODES", "< 250-SOML",
            "< 250-SAML", "< 250 HELP"]


def expected_session(rcpts, body8):
    """The conversation Postfix must have had for one message, as regexes:
    MAIL with SIZE= (and BODY=8BITMIME for an 8-bit body), its RCPTs and
    DATA in one pipelined group (RFC 2920), then "." and QUIT together."""
    lines = ["< 220 mx.test ESMTP smtpd", "> EHLO relay.test"]
    lines += ehlo_reply("mx.test", 10485760)
    lines = [re.escape(l) for l in lines]
    lines.append(r"> MAIL FROM:<pf@relay\.test> SIZE=(\d+)" +
                 (r" BODY=8BITMIME" if body8 else ""))
    lines += [re.escape("> RCPT TO:<%s>" % a) for a in rcpts]
    lines += [r"> DATA", r"< 250 2\.1\.0 OK"]
    lines += [r"< 250 2\.1\.5 OK"] * len(rcpts)
    lines += [r"< 354 Start mail input; end with <CRLF>\.<CRLF>", r"> \.",
              r"> QUIT", r"< 250 2\.0\.0 OK: queued as \S+",
              r"< 221 2\.0\.0 mx\.test Service closing transmission channel"]
    return lines


def case_conversation(r, ctx, pf):
    """EHLO, pipelined MAIL/RCPT/DATA with SIZE= and BODY=8BITMIME, QUIT."""
    sessions = pf.sessions(ctx.port)
    r.equal(len(sessions), 2, "Postfix sessions with smtpd")
    for message, rcpts, body8 in (
            (UTF8_MESSAGE, ["u@example.org", "v@example.org"], True),
            (BIG_MESSAGE, ["w@example.net"], False)):
        want = expected_session(rcpts, body8)
        got = next((s for s in sessions if any(rcpts[0] in l for l in s)), [])
        ok = len(got) == len(want) and all(
            re.fullmatch(w, g) for w, g in zip(want, got))
        if not r.check(ok, "Postfix's conversation for %s:\n  %s\nwant:\n  %s"
                       % (rcpts[0], "\n  ".join(got), "\n  ".join(want))):
            continue
        mail = 2 + len(ehlo_reply("", 0))
        size = int(re.fullmatch(want[mail], got[mail])[1])
        # Postfix announces its queue file's content size: the message,
        # its own Received: line, and a record header per line.
        r.check(len(message) <= size <= len(message) + message.count(b"\n") + 300,
                "SIZE=%d for a message of %d bytes" % (size, len(message)))
    ends = sorted(l for lines in ctx.sup.settle(ctx.before_postfix).values()
                  for l in lines if l.startswith("disconnect"))
    r.equal(ends, ["disconnect from [127.0.0.1] commands=5 accepted=1 refused=0"
                   " errors=0",
                   "disconnect from [127.0.0.1] commands=6 accepted=1 refused=0"
                   " errors=0"], "smtpd's log of Postfix's sessions")


def case_size(r, ctx, pf):
    """The small smtpd announces SIZE 2000: Postfix must not send 3 KB."""
    done = wait_deliveries(pf, 4)
    got = [(status, text) for _, rcpt, status, text in done
           if rcpt == "x@small.example.org"]
    r.equal(len(got), 1, "deliveries to x@small.example.org")
    if got:
        r.equal(got[0][0], "bounced", "status")
        m = re.fullmatch(r"message size (\d+) exceeds size limit 2000 of server"
                         r" 127\.0\.0\.1\[127\.0\.0\.1\]", got[0][1])
        if r.check(m, "Postfix did not refuse on SIZE: %r" % got[0][1]):
            r.check(int(m[1]) >= len(TOO_BIG), "size %s for %d bytes"
                    % (m[1], len(TOO_BIG)))
    sessions = pf.sessions(ctx.port_small)
    if r.equal(len(sessions), 1, "Postfix sessions with the small smtpd"):
        r.equal(sessions[0], ["< 220 small.test ESMTP smtpd", "> EHLO relay.test"]
                + ehlo_reply("small.test", 2000),
                "Postfix's conversation with the small smtpd (no MAIL)")
