#!/usr/bin/env python3
"""t_pty: smtpd on a pseudo-terminal, where a person types.

On a terminal LF (the Enter key, after the terminal's CR-to-LF mapping)
ends every line, the lone "." included: protocol.md's worked example typed
by hand leaves one file, with LF line ends and dot-stuffing undone.  The
terminal is in its normal (canonical) mode, with echo and output
processing off so that the test reads smtpd's replies byte for byte.
"""
import os
import re
import sys

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from smtptest import SmtpdTestCase, main  # noqa: E402


class Terminal(SmtpdTestCase):

    def typed(self, p, line, enter=b"\n"):
        p.send(line.encode() + enter)
        return p.reply()

    def test_worked_example_typed(self):
        p = self.start(transport="pty",
                       base_args=("--hostname", "server.it", "--domain", "server.it"))
        self.assertEqual(p.reply(), b"220 server.it ESMTP smtpd\r\n")
        self.assertEqual(self.typed(p, "HELO client.it"), b"250 server.it\r\n")
        self.assertEqual(self.typed(p, "MAIL FROM:<mail@client.it>"), b"250 OK\r\n")
        self.assertEqual(self.typed(p, "RCPT TO:<mail@server.it>"), b"250 OK\r\n")
        self.assertEqual(self.typed(p, "RCPT TO:<nomail@client.it>"),
                         b"550 Relaying denied\r\n")
        self.assertEqual(self.typed(p, "DATA"),
                         b"354 Start mail input; end with <CRLF>.<CRLF>\r\n")
        # Enter as a terminal sends it (CR, mapped to LF by the tty), and
        # as LF; a stuffed dot; then "." alone ends the message.
        p.send(b"Subject: typed\r\rCorpo del messaggio\n..stuffed\n.x\n")
        reply = self.typed(p, ".")
        m = re.fullmatch(rb"250 OK: queued as (\S+)\r\n", reply)
        self.assertIsNotNone(m, reply)
        qid = m.group(1).decode()
        self.assertEqual(self.typed(p, "QUIT"),
                         b"221 server.it Service closing transmission channel\r\n")
        self.assertEqual(p.rest(), b"")
        self.assertExit(p, 0)
        msgs = self.spool.messages()
        self.assertEqual([n for n, _ in msgs], [qid + ".server.it"])
        self.assertEqual(self.spool.names("tmp"), [])
        data = msgs[0][1]
        m = re.fullmatch(
            rb"Return-Path: <mail@client\.it>\nX-Original-To: <mail@server\.it>\n"
            rb"Received: from client\.it \(local\) by server\.it with SMTP id (\S+) "
            rb"for <mail@server\.it>; [^\n]+ \+0000\n"
            rb"Subject: typed\n\nCorpo del messaggio\n\.stuffed\nx\n", data)
        self.assertIsNotNone(m, data)
        self.assertEqual(m.group(1).decode(), qid)

    def test_first_line_not_a_letter(self):
        # A person who types a stray key first is no HTTP client: on a
        # terminal the session goes on.
        p = self.start(transport="pty")
        self.assertEqual(p.reply(), b"220 mx.test ESMTP smtpd\r\n")
        self.assertEqual(self.typed(p, "123"),
                         b"500 Syntax error, command unrecognized\r\n")
        self.assertEqual(self.typed(p, "NOOP"), b"250 OK\r\n")
        self.assertEqual(self.typed(p, "QUIT"),
                         b"221 mx.test Service closing transmission channel\r\n")
        self.assertExit(p, 0)

    def test_end_of_file(self):
        # Ctrl-D on an empty line: the session ends, the message is lost.
        p = self.start(transport="pty")
        self.assertEqual(p.reply(), b"220 mx.test ESMTP smtpd\r\n")
        self.typed(p, "EHLO me")
        self.typed(p, "MAIL FROM:<a@example.net>")
        self.typed(p, "RCPT TO:<b@example.org>")
        self.typed(p, "DATA")
        p.send(b"half a message\n\x04")
        self.assertEqual(p.rest(), b"")
        self.assertExit(p, 0)
        self.assertSpoolEmpty()

    def test_log_on_the_terminal(self):
        # stdin, stdout and stderr all on one terminal: a person running
        # smtpd by hand.  That looks like inetd's shared socket (stderr is
        # the conversation), but the log lines must come to the terminal,
        # where the person reads them, not go off to syslog.
        p = self.start(transport="pty", stderr_is_conversation=True)
        out = b""
        while b"220 mx.test ESMTP smtpd\r\n" not in out:  # log and replies mix
            chunk = p.read_some()
            self.assertNotEqual(chunk, b"", out)
            out += chunk
        p.send(b"QUIT\n")
        out += p.rest()
        self.assertExit(p, 0)
        self.assertIn(b"smtpd[%d]: connect from local\n" % p.pid, out)
        self.assertIn(b"220 mx.test ESMTP smtpd\r\n", out)
        self.assertIn(b"221 mx.test Service closing transmission channel\r\n", out)
        self.assertIn(b"smtpd[%d]: disconnect from local commands=1 " % p.pid, out)


if __name__ == "__main__":
    main()
