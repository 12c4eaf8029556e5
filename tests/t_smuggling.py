#!/usr/bin/env python3
"""t_smuggling.py: the SMTP smuggling matrix (the CVEs of December 2023).

Every end-of-data variant that some server takes for <CRLF>.<CRLF>
(LF.LF, LF.CRLF, CRLF.LF, CR.CR, CRLF.CR, CR.LF, LF.CR), with and without a
following MAIL FROM pseudo-transaction, is sent through a real socket in one
write and byte by byte.  smtpd must answer exactly one 250 for the data,
store exactly one file, and hold the would-be second message inside that
file's body, stored by the rules (CRLF -> LF, bare LF and bare CR kept,
a dot unstuffed only at the start of a CRLF line).
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "fault"))
import smtpclient as sc  # noqa: E402

VARIANTS = {
    "LF.LF": b"\n.\n",
    "LF.CRLF": b"\n.\r\n",
    "CRLF.LF": b"\r\n.\n",
    "CR.CR": b"\r.\r",
    "CRLF.CR": b"\r\n.\r",
    "CR.LF": b"\r.\n",
    "LF.CR": b"\n.\r",
}

PSEUDO = (b"MAIL FROM:<evil@attacker.example>\r\n"
          b"RCPT TO:<victim@example.org>\r\n"
          b"DATA\r\n"
          b"From: ceo@example.org\r\n"
          b"Subject: smuggled\r\n"
          b"\r\n"
          b"pay the invoice")
PLAIN_TAIL = b"tail of the one message"


def stored_form(sent):
    """The rule, written independently of smtpd's byte machine: split the
    data into SMTP lines at CRLF only; a line that starts with a dot loses
    it (RFC 5321 4.5.2; the end line never reaches here); lines are joined
    with LF; bare CR and bare LF stay as they are."""
    lines = sent.split(b"\r\n")
    out = [l[1:] if l.startswith(b".") else l for l in lines]
    return b"\n".join(out)


def one(name, term, pseudo, bytewise):
    what = "%s %s %s" % (name, "+MAIL" if pseudo else "plain",
                         "bytewise" if bytewise else "one write")
    spool = sc.make_spool()
    s = sc.Smtpd(spool)
    data = (b"From: a@client.example\r\nSubject: first\r\n\r\nfirst part" + term +
            (PSEUDO if pseudo else PLAIN_TAIL))
    # Everything in one go: the envelope pipelined, then the message and
    # QUIT; a server fooled by the variant would answer 250 MAIL, RCPT ...
    wire = (b"EHLO client.example\r\nMAIL FROM:<a@client.example>\r\n"
            b"RCPT TO:<bob@example.org>\r\nDATA\r\n" + data + b"\r\n.\r\nQUIT\r\n")
    replies = []
    try:
        sc.check(s.send(wire, bytewise=bytewise), what + ": send failed")
        while True:
            code, lines = s.reply()
            if code is None:
                break
            replies.append((code, lines))
    except sc.Failure as e:
        sc.check(False, "%s: %s" % (what, e))
    s.close()
    st = s.wait()
    codes = [c for c, _ in replies]
    sc.check(codes == [220, 250, 250, 250, 354, 250, 221],
             "%s: replies %s" % (what, [l[-1] for _, l in replies]))
    sc.check(len(sc.queued_ids(replies)) == 1,
             "%s: %d 'queued' replies" % (what, len(sc.queued_ids(replies))))
    sc.check(st == 0, "%s: exit status %s" % (what, st))
    names = sc.files(spool, "new")
    sc.check(sc.files(spool, "tmp") == [], what + ": tmp/ not empty")
    if sc.check(len(names) == 1, "%s: %d files in new/" % (what, len(names))):
        body = sc.body_of(sc.read_file(spool, "new", names[0]))
        expect = stored_form(data) + b"\n"
        sc.check(body == expect, "%s: body %r, expected %r" % (what, body, expect))
        if pseudo:
            sc.check(body is not None and b"MAIL FROM:<evil@attacker.example>" in body and
                     b"pay the invoice" in body,
                     what + ": the would-be second message is not in the body")
    sc.remove_tree(spool)


def self_test():
    """The reference rule itself, on cases worked out by hand."""
    assert stored_form(b"a\r\n..b\r\n.c") == b"a\n.b\nc"
    assert stored_form(b"x\n.\ny") == b"x\n.\ny"
    assert stored_form(b"x\r\n.\ny") == b"x\n\ny"
    assert stored_form(b"x\r\n.\ry") == b"x\n\ry"
    assert stored_form(b"x\r.\ry") == b"x\r.\ry"


def main():
    self_test()
    for name, term in VARIANTS.items():
        for pseudo in (False, True):
            for bytewise in (False, True):
                one(name, term, pseudo, bytewise)
    sc.finish("t_smuggling")


main()
