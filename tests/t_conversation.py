#!/usr/bin/env python3
"""t_conversation: the real smtpd on a pipe and on a socket pair.

protocol.md's worked example, the peer from the environment, pipelining,
signals, a client that goes away, the idle timeout, log lines, the command
line limit, big messages and long lines, several messages per session.
Every test asserts exact replies, exit statuses and spooled bytes.
"""
import os
import re
import select
import signal
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from smtptest import (BASE_ARGS, EHLO_REPLY, SMTPD, SmtpdTestCase,  # noqa: E402
                      Spool, clean_env, main)

BYE = b"221 2.0.0 mx.test Service closing transmission channel\r\n"
DATA_GO = b"354 Start mail input; end with <CRLF>.<CRLF>\r\n"
MAIL_OK = b"250 2.1.0 OK\r\n"
RCPT_OK = b"250 2.1.5 OK\r\n"


class WorkedExample(SmtpdTestCase):
    """protocol.md's worked example, command for command."""

    def example(self, transport, second_rcpt, second_reply):
        p = self.start(transport=transport,
                       base_args=("--hostname", "server.it", "--domain", "server.it"))
        self.assertEqual(p.reply(), b"220 server.it ESMTP smtpd\r\n")
        self.assertEqual(p.command("HELO client.it"), b"250 server.it\r\n")
        self.assertEqual(p.command("MAIL FROM:<mail@client.it>"), b"250 OK\r\n")
        self.assertEqual(p.command("RCPT TO:<mail@server.it>"), b"250 OK\r\n")
        self.assertEqual(p.command("RCPT TO:<%s>" % second_rcpt), second_reply)
        self.assertEqual(p.command("DATA"), DATA_GO)
        p.send(b"Corpo del messaggio\r\n")
        qid = self.assertQueued(p.command("."), enhanced=False)
        self.assertEqual(p.command("QUIT"),
                         b"221 server.it Service closing transmission channel\r\n")
        self.assertEqual(p.rest(), b"")
        self.assertExit(p, 0)
        msgs = self.spool.messages()
        self.assertEqual([n for n, _ in msgs], [qid + ".server.it"])
        self.assertEqual(self.spool.names("tmp"), [])
        return qid, msgs[0][1]

    def check_file(self, qid, data, rcpts):
        head = b"Return-Path: <mail@client.it>\n"
        for r in rcpts:
            head += b"X-Original-To: <%s>\n" % r
        self.assertTrue(data.startswith(head), data)
        m = re.fullmatch(
            rb"Received: from client\.it \(local\) by server\.it with SMTP id "
            rb"(\S+)" + (rb" for <mail@server\.it>" if len(rcpts) == 1 else b"") +
            rb"; \w{3}, \d{1,2} \w{3} \d{4} \d\d:\d\d:\d\d \+0000\n"
            rb"Corpo del messaggio\n", data[len(head):])
        self.assertIsNotNone(m, data)
        self.assertEqual(m.group(1).decode(), qid)

    def test_pipe_as_written(self):
        # Without a users table (issue 3) every local part at our domain
        # is accepted: nomail@ gets 250 and a copy.
        qid, data = self.example("pipe", "nomail@server.it", b"250 OK\r\n")
        self.check_file(qid, data, [b"mail@server.it", b"nomail@server.it"])

    def test_pipe_second_recipient_refused(self):
        # The example's 550 for the second recipient: the message then
        # reaches mail@server.it only.
        qid, data = self.example("pipe", "nomail@client.it", b"550 Relaying denied\r\n")
        self.check_file(qid, data, [b"mail@server.it"])

    def test_socketpair(self):
        # A socket pair has no IP peer: the Received: line says "local".
        qid, data = self.example("socketpair", "nomail@client.it", b"550 Relaying denied\r\n")
        self.check_file(qid, data, [b"mail@server.it"])


def deliver(t, p, body=b"Subject: t\r\n\r\nhello\r\n", sender="a@example.net",
            rcpts=("b@example.org",), quit=True):
    """EHLO, one message, QUIT; returns the queue id."""
    t.ehlo(p)
    t.assertEqual(p.command("MAIL FROM:<%s>" % sender), MAIL_OK)
    for r in rcpts:
        t.assertEqual(p.command("RCPT TO:<%s>" % r), RCPT_OK)
    t.assertEqual(p.command("DATA"), DATA_GO)
    p.send(body)
    qid = t.assertQueued(p.command("."))
    if quit:
        t.assertEqual(p.command("QUIT"), BYE)
        t.assertEqual(p.rest(), b"")
        t.assertExit(p, 0)
    return qid


class Peer(SmtpdTestCase):
    """With no socket peer, REMOTE_ADDR, then TCPREMOTEIP, then REMOTE_HOST,
    else "local" (checked to be addresses, v4-mapped shown as IPv4)."""

    def peer_for(self, transport="pipe", **env):
        p = self.greeted(transport=transport, env=clean_env(**env))
        body = b"Subject: peer\r\n\r\nx\r\n"
        qid = deliver(self, p, body=body)
        self.assertMessage(self.only_message(qid), qid, "a@example.net",
                           ["b@example.org"], "client.example",
                           self.expected, b"Subject: peer\n\nx\n")
        self.assertIn("connect from %s\n" % self.expected, p.log())
        return qid

    def case(self, expected, transport="pipe", **env):
        with self.subTest(env=env, transport=transport):
            self.expected = expected
            try:
                self.peer_for(transport, **env)
            finally:
                self.spool.cleanup()
                self.spool = Spool()

    def test_environment(self):
        self.case("local")
        self.case("[192.0.2.1]", REMOTE_ADDR="192.0.2.1")
        self.case("[IPv6:2001:db8::1]", REMOTE_ADDR="2001:db8::1")
        self.case("[192.0.2.9]", REMOTE_ADDR="::ffff:192.0.2.9")
        self.case("[198.51.100.7]", TCPREMOTEIP="198.51.100.7")
        self.case("[IPv6:2001:db8::7]", TCPREMOTEIP="2001:db8::7")
        self.case("[203.0.113.5]", REMOTE_HOST="203.0.113.5")
        # Order: REMOTE_ADDR (systemd) before TCPREMOTEIP (tcpserver).
        self.case("[192.0.2.1]", REMOTE_ADDR="192.0.2.1", TCPREMOTEIP="198.51.100.7")
        # What is no address is skipped, never copied into a header.
        self.case("[198.51.100.7]", REMOTE_ADDR="x) by evil (", TCPREMOTEIP="198.51.100.7")
        self.case("local", REMOTE_ADDR="", TCPREMOTEIP="localhost", REMOTE_HOST="host.example")
        # An AF_UNIX socket pair has no address of its own: env is used.
        self.case("[192.0.2.1]", transport="socketpair", REMOTE_ADDR="192.0.2.1")


class Pipelining(SmtpdTestCase):

    def test_group_in_one_write(self):
        # RFC 2920: the replies to a group come back in order; smtpd writes
        # them when it is about to wait, so all of them in one write.
        p = self.greeted(transport="socketpair")
        p.send(b"EHLO client.example\r\nMAIL FROM:<a@example.net>\r\n"
               b"RCPT TO:<b@example.org>\r\nRCPT TO:<c@elsewhere.net>\r\n"
               b"RCPT TO:<d@EXAMPLE.ORG>\r\nRCPT TO:<bad\r\nDATA\r\n")
        self.assertEqual(p.read_some(),
                         EHLO_REPLY + MAIL_OK + RCPT_OK +
                         b"550 5.7.1 Relaying denied\r\n" + RCPT_OK +
                         b"501 5.1.3 Bad address syntax\r\n" + DATA_GO)
        p.send(b"Subject: piped\r\n\r\n..dot\r\n.\r\nQUIT\r\n")
        out = p.read_some() + p.rest()
        m = re.fullmatch(rb"250 2\.0\.0 OK: queued as (\S+)\r\n" + re.escape(BYE), out)
        self.assertIsNotNone(m, out)
        qid = m.group(1).decode()
        self.assertExit(p, 0)
        self.assertMessage(self.only_message(qid), qid, "a@example.net",
                           ["b@example.org", "d@EXAMPLE.ORG"], "client.example",
                           "local", b"Subject: piped\n\n.dot\n")

    def test_whole_session_in_one_write(self):
        p = self.start()
        p.send(b"EHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<postmaster>\r\nDATA\r\n"
               b"x\r\n.\r\nNOOP\r\nRSET\r\nQUIT\r\n")
        p.close_input()
        out = p.rest()
        m = re.fullmatch(rb"220 mx\.test ESMTP smtpd\r\n" + re.escape(
            EHLO_REPLY + MAIL_OK + RCPT_OK + DATA_GO) +
            rb"250 2\.0\.0 OK: queued as (\S+)\r\n250 2\.0\.0 OK\r\n250 2\.0\.0 OK\r\n" +
            re.escape(BYE), out)
        self.assertIsNotNone(m, out)
        self.assertExit(p, 0)
        qid = m.group(1).decode()
        self.assertMessage(self.only_message(qid), qid, "", ["postmaster"],
                           "c", "local", b"x\n")


class Signals(SmtpdTestCase):
    """SIGTERM, SIGHUP, SIGINT: 421 4.3.2, nothing left in tmp/, exit 0."""

    def test_idle_before_ehlo(self):
        # No EHLO yet, so no enhanced status code.
        p = self.greeted()
        p.signal(signal.SIGTERM)
        self.assertEqual(p.reply(), b"421 mx.test Service shutting down, "
                         b"closing transmission channel\r\n")
        self.assertEqual(p.rest(), b"")
        self.assertExit(p, 0)
        self.assertSpoolEmpty()

    def test_idle(self):
        for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
            with self.subTest(sig=sig):
                p = self.greeted(transport="socketpair")
                self.ehlo(p)
                self.assertEqual(p.command("MAIL FROM:<a@example.net>"), MAIL_OK)
                p.signal(sig)
                self.assertEqual(p.reply(), b"421 4.3.2 mx.test Service shutting "
                                 b"down, closing transmission channel\r\n")
                self.assertEqual(p.rest(), b"")
                self.assertExit(p, 0)
                self.assertSpoolEmpty()
                self.assertRegex(p.log(), r"closing: 421 shutdown")

    def test_mid_data(self):
        p = self.greeted()
        self.ehlo(p)
        p.command("MAIL FROM:<a@example.net>")
        p.command("RCPT TO:<b@example.org>")
        self.assertEqual(p.command("DATA"), DATA_GO)
        # The file exists once 354 is sent: the signal must remove it.
        self.assertEqual(len(self.spool.names("tmp")), 1)
        p.send(b"Subject: partial\r\n\r\n" + b"text\r\n" * 20000)
        p.signal(signal.SIGTERM)
        self.assertEqual(p.reply(), b"421 4.3.2 mx.test Service shutting down, "
                         b"closing transmission channel\r\n")
        self.assertEqual(p.rest(), b"")
        self.assertExit(p, 0)
        self.assertSpoolEmpty()
        self.assertRegex(p.log(), r"message " + r"\S+" + r" lost")


    def test_mid_stream_on_a_socket(self):
        # A client that never pauses keeps smtpd's reads full, which
        # fdio.c answers without waiting in ppoll(), where signals are
        # taken: the wait must still come round while the stream lasts.
        p = self.greeted(transport="socketpair")
        self.ehlo(p)
        p.command("MAIL FROM:<a@example.net>")
        p.command("RCPT TO:<b@example.org>")
        self.assertEqual(p.command("DATA"), DATA_GO)
        stop = threading.Event()
        sent = [0]

        def stream():
            chunk = b"Subject: stream\r\n\r\n" + b"x" * 76 + b"\r\n"
            chunk = memoryview(chunk * (1 << 10))
            while not stop.is_set():
                if not select.select([], [p.wfd], [], 0.1)[1]:
                    continue
                try:
                    sent[0] += os.write(p.wfd, chunk)
                except BlockingIOError:
                    continue
                except OSError:
                    return      # smtpd has closed: EPIPE, ECONNRESET

        writer = threading.Thread(target=stream)
        writer.start()
        try:
            while sent[0] < (4 << 20) and writer.is_alive():
                time.sleep(0.01)
            p.signal(signal.SIGTERM)
            self.assertEqual(p.reply(), b"421 4.3.2 mx.test Service shutting down, "
                             b"closing transmission channel\r\n")
            self.assertExit(p, 0)
        finally:
            stop.set()
            writer.join()
        self.assertSpoolEmpty()
        self.assertRegex(p.log(), r"message \S+ lost")


class ClientGoes(SmtpdTestCase):

    def test_sigpipe(self):
        # The client closes its reading end: smtpd's next reply gets EPIPE,
        # which must end the session quietly, not kill smtpd by SIGPIPE.
        p = self.greeted()
        self.ehlo(p)
        os.close(p.rfd)
        p.rfd = -1
        try:
            p.send(b"MAIL FROM:<a@example.net>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n")
            p.send(b"x\r\n.\r\nNOOP\r\nQUIT\r\n")
        except BrokenPipeError:
            pass               # smtpd may be gone already: that is fine
        p.close_input()
        self.assertExit(p, 0)
        self.assertEqual(self.spool.names("tmp"), [])

    def test_sigterm_while_client_not_reading(self):
        # smtpd blocked writing replies nobody reads still obeys SIGTERM.
        p = self.greeted("--max-junk", "0", transport="socketpair")
        flood(p)
        p.signal(signal.SIGTERM)
        self.assertExit(p, 0)
        self.assertSpoolEmpty()

    def test_close_mid_message(self):
        for transport in ("pipe", "socketpair"):
            with self.subTest(transport=transport):
                p = self.greeted(transport=transport)
                self.ehlo(p)
                p.command("MAIL FROM:<a@example.net>")
                p.command("RCPT TO:<b@example.org>")
                self.assertEqual(p.command("DATA"), DATA_GO)
                self.assertEqual(len(self.spool.names("tmp")), 1)
                p.send(b"Subject: cut\r\n\r\n" + b"line\r\n" * 30000 + b"no end")
                p.close_input()
                # Nobody is left to tell: no reply at all.
                self.assertEqual(p.rest(), b"")
                self.assertExit(p, 0)
                self.assertSpoolEmpty()

    def test_close_mid_command(self):
        p = self.greeted(transport="socketpair")
        self.ehlo(p)
        p.send(b"MAIL FROM:<a@exa")
        p.close_input()
        self.assertEqual(p.rest(), b"")
        self.assertExit(p, 0)
        self.assertSpoolEmpty()


def flood(p, n=5000):
    """Commands whose replies (about 1 MB) the test never reads."""
    p.send(b"HELP\r\n" * n)


class Timeout(SmtpdTestCase):

    def test_timeout(self):
        # The sessions wait at once, so the test costs one timeout.
        start = time.monotonic()
        # A client that stops reading holds smtpd no longer than one.
        deaf = self.greeted("--timeout", "1", "--max-junk", "0", transport="socketpair")
        flood(deaf)
        idle = self.greeted("--timeout", "1", transport="socketpair")
        self.ehlo(idle)
        busy = self.greeted("--timeout", "1")
        self.ehlo(busy)
        busy.command("MAIL FROM:<a@example.net>")
        busy.command("RCPT TO:<b@example.org>")
        self.assertEqual(busy.command("DATA"), DATA_GO)
        busy.send(b"Subject: slow\r\n\r\nand then nothing")
        expected = (b"421 4.4.2 mx.test Timeout waiting for input, "
                    b"closing transmission channel\r\n")
        for p in (idle, busy):
            self.assertEqual(p.reply(), expected)
            self.assertEqual(p.rest(), b"")
            self.assertExit(p, 0)
        self.assertExit(deaf, 0)
        took = time.monotonic() - start
        self.assertGreaterEqual(took, 0.95)
        # One timeout each, waited at the same time: well under two of
        # them in all, with room for a slow (sanitizer) build.
        self.assertLess(took, 1.9 * (2 if os.environ.get("SMTPD_VARIANT") == "asan" else 1),
                        "the sessions took %.1f s with --timeout 1" % took)
        self.assertSpoolEmpty()


class Logging(SmtpdTestCase):

    def test_log_lines(self):
        p = self.greeted()
        body = (b"Subject: secret-subject-4711\r\n\r\nsecret-body-0815\r\n"
                b"MAIL FROM:<secret-line@example.net>\r\n")
        qid = deliver(self, p, body=body, rcpts=("b@example.org", "c@example.org"))
        pid = p.pid
        lines = p.log().splitlines()
        self.assertEqual(len(lines), 3, lines)
        self.assertEqual(lines[0], "smtpd[%d]: connect from local" % pid)
        # size: the message's octets (RFC 1870), or the octets of DATA as
        # received with the final ".", as smtpd counted them at first.
        m = re.fullmatch(r"smtpd\[%d\]: accepted id=%s size=(\d+) rcpts=2 "
                         r"from=<a@example\.net>" % (pid, re.escape(qid)), lines[1])
        self.assertIsNotNone(m, lines[1])
        self.assertIn(int(m.group(1)), (len(body), len(body) + 3))
        self.assertEqual(lines[2], "smtpd[%d]: disconnect from local commands=6 "
                         "accepted=1 refused=0 errors=0" % pid)
        self.assertNotIn("secret", p.log())

    def test_refusal_logged_and_escaped(self):
        p = self.greeted("--max-size", "10")
        self.ehlo(p, size=10)
        p.command('MAIL FROM:<"we\\\\ird"@example.net>')
        p.command("RCPT TO:<b@example.org>")
        p.command("DATA")
        p.send(b"secret-body-0815 is longer than ten\r\n")
        self.assertEqual(p.command("."), b"552 5.3.4 Message size exceeds fixed "
                         b"maximum message size\r\n")
        p.command("QUIT")
        self.assertExit(p, 0)
        log = p.log()
        self.assertRegex(log, r"refused id=\S+ size=\d+ rcpts=1 "
                         r'from=<"we\\x5c\\x5cird"@example.net> reply=552\n')
        self.assertIn("accepted=0 refused=1", log)
        self.assertNotIn("secret", log)

    def test_long_sender_cut_with_marker(self):
        # The from= field holds 200 bytes (session.c message_log): a
        # longer sender is cut, and the cut is marked with "..." so that
        # an operator never takes a shortened address for the real one.
        # The longest sender there is: a 64-octet local part at a
        # 250-octet domain (315 octets).
        dom = "d" * 63 + "." + "e" * 63 + "." + "f" * 63 + "." + "g" * 50 + ".example"
        self.assertEqual(len(dom), 250)
        sender = "s" * 64 + "@" + dom
        p = self.greeted()
        qid = deliver(self, p, sender=sender)
        self.assertEqual(len(self.spool.messages()), 1, qid)
        lines = [l for l in p.log().splitlines() if " accepted " in l]
        self.assertEqual(len(lines), 1, p.log())
        # 196 bytes of the address and "...": 199 and the NUL.
        m = re.fullmatch(r"smtpd\[%d\]: accepted id=%s size=\d+ rcpts=1 from=<(.*)>"
                         % (p.pid, re.escape(qid)), lines[0])
        self.assertIsNotNone(m, lines[0])
        self.assertEqual(m.group(1), sender[:196] + "...")

    @staticmethod
    def full_pipe():
        """A pipe whose reader reads nothing, filled up: (read end, write end)."""
        r, w = os.pipe()
        os.set_blocking(w, False)
        try:
            while True:
                os.write(w, b"x" * 4096)
        except BlockingIOError:
            pass
        os.set_blocking(w, True)
        return r, w

    def test_stalled_log_reader(self):
        # A log pipe that nobody reads (multilog stopped on a full disk)
        # must not hold the session for ever: the first line waits a
        # second for room, then it and every later line of the session are
        # dropped without waiting.  Before, the first write blocked until
        # the reader came back, past every timeout and deaf to SIGTERM;
        # then each line waited its second (here 7 lines, 7 s).
        r, w = self.full_pipe()
        mail = b"MAIL FROM:<a@example.net>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n"
        msg = b"Subject: t\r\n\r\nhello\r\n.\r\n"
        start = time.monotonic()
        proc = subprocess.Popen([SMTPD, "--spool", self.spool.dir] + list(BASE_ARGS),
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=w, env=clean_env())
        os.close(w)
        try:
            out, _ = proc.communicate(b"HELO c\r\n" + (mail + msg) * 5 + b"QUIT\r\n",
                                      timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            self.fail("smtpd still writing to a full log pipe after 20 s")
        finally:
            os.close(r)
        elapsed = time.monotonic() - start
        self.assertEqual(out.count(b"250 OK: queued as "), 5, out)
        self.assertTrue(out.endswith(b"221 mx.test Service closing transmission channel\r\n"), out)
        self.assertEqual(proc.returncode, 0)
        self.assertEqual(len(self.spool.messages()), 5)
        self.assertLess(elapsed, 5, "one wait for the stalled reader, not one per line")

    def test_log_reader_back_after_a_stall(self):
        # The lines lost while the reader stalled are counted in the log
        # once it reads again, before the next line.
        r, w = self.full_pipe()
        proc = subprocess.Popen([SMTPD, "--spool", self.spool.dir] + list(BASE_ARGS),
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=w, env=clean_env())
        os.close(w)
        try:
            # The greeting follows the "connect from" line, dropped after
            # its wait; then the reader drains the pipe and reads on.
            self.assertEqual(proc.stdout.readline(), b"220 mx.test ESMTP smtpd\r\n")
            os.set_blocking(r, False)
            try:
                while os.read(r, 65536):
                    pass
            except BlockingIOError:
                pass
            os.set_blocking(r, True)
            out, _ = proc.communicate(b"HELO c\r\nQUIT\r\n", timeout=20)
            log = b""
            while True:
                chunk = os.read(r, 65536)
                if not chunk:
                    break
                log += chunk
        finally:
            os.close(r)
        self.assertEqual(out, b"250 mx.test\r\n221 mx.test Service closing transmission channel\r\n")
        lines = log.decode().splitlines()
        self.assertEqual(len(lines), 2, lines)
        self.assertRegex(lines[0], r"^smtpd\[\d+\]: 1 earlier log line\(s\) lost: "
                         r"the log was full or not read$")
        self.assertRegex(lines[1], r"^smtpd\[\d+\]: disconnect from local commands=2 ")

    def test_stderr_is_the_conversation(self):
        # Under inetd and xinetd fd 2 is the client's socket: not one log
        # line may reach the client (they go to syslog instead).
        p = self.start(transport="socketpair", stderr_is_conversation=True)
        self.assertEqual(p.reply(), b"220 mx.test ESMTP smtpd\r\n")
        qid = deliver(self, p)
        self.assertEqual(len(self.spool.messages()), 1, qid)


class Limits(SmtpdTestCase):

    def test_command_line_limit(self):
        p = self.greeted()
        self.ehlo(p)
        # 1000 octets with CRLF: the longest line RFC 5321 4.5.3.1.4 allows.
        line = b"NOOP " + b"x" * 993 + b"\r\n"
        self.assertEqual(len(line), 1000)
        p.send(line)
        self.assertEqual(p.reply(), b"250 2.0.0 OK\r\n")
        p.send(b"NOOP " + b"x" * 994 + b"\r\n")
        self.assertEqual(p.reply(), b"500 5.5.2 Line too long\r\n")
        # The rest of a long line is skipped, not read as a command, even
        # when it arrives in pieces.
        p.send(b"MAIL FROM:<a@example.net>" + b" " * 3000)
        p.send(b"QUIT\r\n")
        self.assertEqual(p.reply(), b"500 5.5.2 Line too long\r\n")
        self.assertEqual(p.command("RCPT TO:<b@example.org>"),
                         b"503 5.5.1 Bad sequence of commands: send MAIL first\r\n")
        p.send(b"HELP " + b"y" * 100000 + b"\r\nNOOP\r\n")
        self.assertEqual(p.reply(), b"500 5.5.2 Line too long\r\n")
        self.assertEqual(p.reply(), b"250 2.0.0 OK\r\n")
        self.assertEqual(p.command("QUIT"), BYE)
        self.assertExit(p, 0)

    def test_too_big(self):
        p = self.greeted("--max-size", "10485760")
        self.ehlo(p)
        p.command("MAIL FROM:<a@example.net>")
        p.command("RCPT TO:<b@example.org>")
        self.assertEqual(p.command("DATA"), DATA_GO)
        line = b"z" * 1022 + b"\r\n"
        p.send(b"Subject: big\r\n\r\n" + line * (20 * 1024))
        self.assertEqual(p.command("."), b"552 5.3.4 Message size exceeds fixed "
                         b"maximum message size\r\n")
        self.assertSpoolEmpty()
        # The session goes on, the transaction is over.
        self.assertEqual(p.command("RCPT TO:<b@example.org>"),
                         b"503 5.5.1 Bad sequence of commands: send MAIL first\r\n")
        self.assertEqual(p.command("QUIT"), BYE)
        self.assertExit(p, 0)
        self.assertSpoolEmpty()

    def test_size_limit_is_the_message_size(self):
        # RFC 1870: the size is the message's octets with CRLFs, without
        # the final "." line and without the dots of dot-stuffing.  A
        # message of exactly --max-size octets is accepted.
        body = b"Subject: s\r\n\r\n" + b".." + b"a" * 79 + b"\r\n"
        size = len(body) - 1          # one stuffing dot
        p = self.greeted("--max-size", str(size))
        self.ehlo(p, size=size)
        self.assertEqual(p.command("MAIL FROM:<a@example.net> SIZE=%d" % (size + 1)),
                         b"552 5.3.4 Message size exceeds fixed maximum message size\r\n")
        self.assertEqual(p.command("MAIL FROM:<a@example.net> SIZE=%d" % size), MAIL_OK)
        p.command("RCPT TO:<b@example.org>")
        self.assertEqual(p.command("DATA"), DATA_GO)
        p.send(body)
        qid = self.assertQueued(p.command("."))
        self.assertEqual(p.command("MAIL FROM:<a@example.net>"), MAIL_OK)
        p.command("RCPT TO:<b@example.org>")
        self.assertEqual(p.command("DATA"), DATA_GO)
        p.send(body[:-2] + b"a\r\n")      # one octet more
        self.assertEqual(p.command("."), b"552 5.3.4 Message size exceeds fixed "
                         b"maximum message size\r\n")
        p.command("QUIT")
        self.assertExit(p, 0)
        self.assertMessage(self.only_message(qid), qid, "a@example.net",
                           ["b@example.org"], "client.example", "local",
                           b"Subject: s\n\n." + b"a" * 79 + b"\n")

    def test_default_max_recipients(self):
        # The shipped default of --max-recipients is 100 (RFC 5321
        # 4.5.3.1.8's minimum a server must take): the 100th recipient is
        # accepted, the 101st gets 452 4.5.3, and the message goes to the
        # 100.  The unit tests set the limit themselves; only this run
        # sees the default smtpd.c gives.
        p = self.greeted()
        self.ehlo(p)
        self.assertEqual(p.command("MAIL FROM:<a@example.net>"), MAIL_OK)
        rcpts = ["r%03d@example.org" % i for i in range(1, 102)]
        p.send("".join("RCPT TO:<%s>\r\n" % r for r in rcpts).encode())
        replies = [p.reply() for _ in rcpts]
        self.assertEqual(replies[:100], [RCPT_OK] * 100)
        self.assertEqual(replies[100], b"452 4.5.3 Too many recipients\r\n")
        self.assertEqual(p.command("DATA"), DATA_GO)
        p.send(b"Subject: many\r\n\r\nx\r\n")
        qid = self.assertQueued(p.command("."))
        self.assertEqual(p.command("QUIT"), BYE)
        self.assertExit(p, 0)
        self.assertMessage(self.only_message(qid), qid, "a@example.net",
                           rcpts[:100], "client.example", "local",
                           b"Subject: many\n\nx\n")

    def test_long_line_stored_whole(self):
        p = self.greeted()
        long_line = bytes(range(33, 127)) * (2 * 1024 * 1024 // 94 + 1)
        long_line = long_line[:2 * 1024 * 1024]
        body = b"Subject: long\r\n\r\n" + long_line + b"\r\nend\r\n"
        qid = deliver(self, p, body=body)
        self.assertMessage(self.only_message(qid), qid, "a@example.net",
                           ["b@example.org"], "client.example", "local",
                           b"Subject: long\n\n" + long_line + b"\nend\n")


class Messages(SmtpdTestCase):

    def test_several_messages(self):
        p = self.greeted(transport="socketpair")
        self.ehlo(p)
        sent = [
            ("a@example.net", ["b@example.org"], b"Subject: one\r\n\r\n1\r\n"),
            ("", ["postmaster", "c@example.org", "d@example.org"],
             b"Subject: two\r\n\r\n.\r\n"),
            ("x@example.net", ["postmaster@EXAMPLE.org"],
             b"Subject: three\r\n\r\nbare\rcr\r\n"),
        ]
        ids = []
        for i, (sender, rcpts, body) in enumerate(sent):
            if i == 1:
                self.assertEqual(p.command("RSET"), b"250 2.0.0 OK\r\n")
            self.assertEqual(p.command("MAIL FROM:<%s>" % sender), MAIL_OK)
            for r in rcpts:
                self.assertEqual(p.command("RCPT TO:<%s>" % r), RCPT_OK)
            self.assertEqual(p.command("DATA"), DATA_GO)
            # dot-stuff as a client must
            p.send(body.replace(b"\r\n.", b"\r\n.."))
            ids.append(self.assertQueued(p.command(".")))
        self.assertEqual(p.command("QUIT"), BYE)
        self.assertExit(p, 0)
        self.assertEqual(len(set(ids)), 3)
        self.assertEqual([i.rsplit("Q", 1)[1] for i in ids], ["1", "2", "3"])
        msgs = self.spool.messages()
        self.assertEqual([n for n, _ in msgs], [i + ".mx.test" for i in ids])
        self.assertEqual(self.spool.names("tmp"), [])
        bodies = [b"Subject: one\n\n1\n", b"Subject: two\n\n.\n",
                  b"Subject: three\n\nbare\rcr\n"]
        for (name, data), qid, (sender, rcpts, _), body in zip(msgs, ids, sent, bodies):
            self.assertMessage(data, qid, sender, rcpts, "client.example",
                               "local", body)
        self.assertIn("accepted=3 refused=0", p.log())


if __name__ == "__main__":
    main()
