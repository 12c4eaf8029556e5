"""pyclients.py: Python's smtplib as the client, with EHLO, with HELO only,
with 8-bit and UTF-8 bodies (BODY=8BITMIME), with several recipients and
with several messages on one connection.

smtplib dot-stuffs and sends what send_message() flattens; RecordingSMTP
keeps those bytes (before stuffing) and the reply to each DATA, so every
stored file is compared with what really went over the wire.
"""
import email
import email.message
import email.policy
import smtplib

from spool import Expected, check_stored

HOST = "127.0.0.1"
BYE_ESMTP = (221, b"2.0.0 mx.test Service closing transmission channel")
BYE_SMTP = (221, b"mx.test Service closing transmission channel")


class RecordingSMTP(smtplib.SMTP):
    """smtplib.SMTP that remembers each message it sent and the reply."""

    def __init__(self, *a, **kw):
        self.sent = []
        super().__init__(*a, **kw)

    def data(self, msg):
        reply = super().data(msg)
        self.sent.append((bytes(msg), reply))
        return reply


def queued_id(r, reply, esmtp=True):
    """The id in "250 [2.0.0 ]OK: queued as ID", or None."""
    code, text = reply
    prefix = b"2.0.0 OK: queued as " if esmtp else b"OK: queued as "
    if not r.check(code == 250 and text.startswith(prefix),
                   "DATA reply %r, want 250 %r..." % (reply, prefix)):
        return None
    return text[len(prefix):].decode("ascii")


def text_message(sender, to, subject, body, msgid, **headers):
    m = email.message.EmailMessage(policy=email.policy.default)
    m["From"] = sender
    m["To"] = to
    for k, v in headers.items():
        m[k.replace("_", "-")] = v
    m["Subject"] = subject
    m["Message-ID"] = msgid
    m["Date"] = "Mon, 02 Feb 2026 10:00:00 +0000"
    m.set_content(body)
    return m


# Lines a careless client or server gets wrong: a lone dot (stuffed to ".."
# on the wire), leading dots, "From " at a line start, an empty line.
TRICKY_BODY = ("Hello Bob,\n.\n..two dots\n.leading dot\nFrom the start of a"
               " line\n\n   indented\nlast line\n")


def send_and_check(r, ctx, client, msg, sender, rcpts, case, esmtp=True,
                   **kw):
    """send_message, then the one stored file must be the sent bytes."""
    refused = client.send_message(msg, from_addr=sender, to_addrs=rcpts, **kw)
    sent, reply = client.sent[-1]
    qid = queued_id(r, reply, esmtp)
    kept = []           # smtpd spools a repeated recipient once
    for a in rcpts:
        if a not in refused and a not in kept:
            kept.append(a)
    files = ctx.spool.take()
    if r.equal(len(files), 1, case + ": files spooled"):
        check_stored(r, ctx.spool, files[0],
                     Expected(case, sender, kept, client.local_hostname,
                              sent.replace(b"\r\n", b"\n"), esmtp=esmtp),
                     queued_id=qid)
    return refused, sent


def case_ehlo(r, ctx, port, label):
    with RecordingSMTP(HOST, port, local_hostname="ehlo.client.test",
                       timeout=30) as c:
        code, _ = c.ehlo()
        r.equal(code, 250, "EHLO reply code")
        for ext in ("size", "8bitmime", "pipelining", "enhancedstatuscodes"):
            r.check(c.has_extn(ext), "EHLO does not list " + ext)
        r.equal(c.esmtp_features.get("size"), "10485760", "SIZE value")
        msg = text_message("Alice <alice@client.test>", "bob@example.org",
                           "plain EHLO through " + label, TRICKY_BODY,
                           "<ehlo.%s@client.test>" % label)
        refused, sent = send_and_check(r, ctx, c, msg, "alice@client.test",
                                       ["bob@example.org"], "EHLO " + label)
        r.equal(refused, {}, "recipients refused")
        r.check(b"\r\n.\r\n..two dots\r\n.leading dot\r\n" in sent,
                "smtplib sent something else than the body given: %r" % sent)
        r.equal(c.quit(), BYE_ESMTP, "QUIT reply")


def case_helo(r, ctx):
    c = RecordingSMTP(HOST, ctx.port, local_hostname="helo.client.test",
                      timeout=30)
    r.equal(c.helo(), (250, b"mx.test"), "HELO reply")
    msg = text_message("carol@client.test", "bob@example.org",
                       "HELO only, no extensions", TRICKY_BODY,
                       "<helo@client.test>")
    refused, _ = send_and_check(r, ctx, c, msg, "carol@client.test",
                                ["bob@example.org"], "HELO", esmtp=False)
    r.equal(refused, {}, "recipients refused")
    r.check(not c.does_esmtp, "smtplib thinks the session is ESMTP")
    r.equal(c.quit(), BYE_SMTP, "QUIT reply (no enhanced code after HELO)")


UTF8_BODY = ("Grüße aus Köln! Ünïcödé in the body.\n"
             "Ελληνικά, русский, 中文, and an emoji: \U0001F4E8\n"
             ".a dot line with ü\n")
LATIN1_MESSAGE = (b"From: dora@client.test\r\nTo: bob@example.org\r\n"
                  b"Subject: Latin-1\r\nMessage-ID: <latin1@client.test>\r\n"
                  b"Date: Mon, 02 Feb 2026 10:00:00 +0000\r\n"
                  b"MIME-Version: 1.0\r\n"
                  b"Content-Type: text/plain; charset=iso-8859-1\r\n"
                  b"Content-Transfer-Encoding: 8bit\r\n\r\n"
                  b"Caf\xe9 cr\xe8me br\xfbl\xe9e, \xa9 1999, \xff\xfe\r\n"
                  b"Line two: na\xefve fa\xe7ade\r\n")


def case_8bit(r, ctx):
    with RecordingSMTP(HOST, ctx.port, local_hostname="8bit.client.test",
                       timeout=30) as c:
        c.ehlo()
        r.check(c.has_extn("8bitmime"), "EHLO does not list 8BITMIME")
        m = text_message("dora@client.test", "bob@example.org",
                         "Grüße aus Köln ✓", UTF8_BODY, "<utf8@client.test>")
        m.set_content(UTF8_BODY, charset="utf-8", cte="8bit")
        _, sent = send_and_check(r, ctx, c, m, "dora@client.test",
                                 ["bob@example.org"], "UTF-8 8BITMIME",
                                 mail_options=["BODY=8BITMIME"])
        r.check("Grüße aus Köln!".encode() in sent and
                "\U0001F4E8".encode() in sent,
                "smtplib did not send the UTF-8 body as 8-bit bytes")
        m = email.message_from_bytes(LATIN1_MESSAGE, policy=email.policy.default)
        _, sent = send_and_check(r, ctx, c, m, "dora@client.test",
                                 ["bob@example.org"], "Latin-1 8BITMIME",
                                 mail_options=["BODY=8BITMIME"])
        r.equal(sent, LATIN1_MESSAGE, "bytes smtplib sent for the Latin-1 message")
        r.equal(c.quit(), BYE_ESMTP, "QUIT reply")


def case_recipients(r, ctx):
    rcpts = ["bob@example.org", "carol@example.net", "bob@example.org",
             "mallory@elsewhere.test", "dave@example.org"]
    with RecordingSMTP(HOST, ctx.port, local_hostname="rcpts.client.test",
                       timeout=30) as c:
        msg = text_message("erin@client.test", "bob@example.org",
                           "several recipients", "To many.\n",
                           "<rcpts@client.test>", Cc="carol@example.net",
                           Bcc="dave@example.org")
        refused, sent = send_and_check(r, ctx, c, msg, "erin@client.test",
                                       rcpts, "several recipients")
        r.equal(refused, {"mallory@elsewhere.test": (550, b"5.7.1 Relaying denied")},
                "recipients refused")
        r.check(b"\r\nBcc:" not in sent, "smtplib sent the Bcc header")
        r.equal(c.quit(), BYE_ESMTP, "QUIT reply")


def case_session(r, ctx):
    """Several messages on one connection, with RSET and NOOP between."""
    with RecordingSMTP(HOST, ctx.port, local_hostname="multi.client.test",
                       timeout=30) as c:
        for i in range(5):
            sender = "sender%d@client.test" % i
            rcpt = ["u%d@example.org" % i] + (["v@example.net"] if i % 2 else [])
            msg = text_message(sender, ", ".join(rcpt), "message %d of 5" % i,
                               "Body of message %d.\n%s" % (i, TRICKY_BODY * i),
                               "<multi.%d@client.test>" % i)
            refused, _ = send_and_check(r, ctx, c, msg, sender, rcpt,
                                        "message %d on one connection" % i)
            r.equal(refused, {}, "recipients refused")
            r.equal(c.rset(), (250, b"2.0.0 OK"), "RSET reply")
            r.equal(c.noop(), (250, b"2.0.0 OK"), "NOOP reply")
        r.equal(c.quit(), BYE_ESMTP, "QUIT reply")


def case_long_line(r, ctx):
    """Message lines have no length limit: a 1 MiB line arrives whole."""
    raw = (b"From: fred@client.test\r\nTo: bob@example.org\r\n"
           b"Subject: one line of 1 MiB\r\nMessage-ID: <long@client.test>\r\n"
           b"Date: Mon, 02 Feb 2026 10:00:00 +0000\r\n\r\n"
           + b"0123456789abcdef" * 65536 + b"\r\nend\r\n")
    with RecordingSMTP(HOST, ctx.port, local_hostname="long.client.test",
                       timeout=30) as c:
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        _, sent = send_and_check(r, ctx, c, msg, "fred@client.test",
                                 ["bob@example.org"], "1 MiB line")
        r.equal(sent, raw, "bytes smtplib sent")
        r.equal(c.quit(), BYE_ESMTP, "QUIT reply")
