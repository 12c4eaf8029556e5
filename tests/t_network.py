#!/usr/bin/env python3
"""t_network: smtpd on real TCP connections over loopback.

The test listens, accepts, and hands the accepted socket to smtpd as its
stdin and stdout, as inetd and tcpserver do; the peer in Received: then
comes from getpeername().  Python's smtplib drives one session (EHLO,
pipelining, sendmail, send_message).  When it can (as root), the script
first moves into a private network namespace holding only its own
loopback interface.
"""
import ctypes
import email.generator
import email.message
import fcntl
import io
import os
import re
import smtplib
import socket
import struct
import sys
import unittest

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from smtptest import WAIT, SmtpdTestCase, clean_env, main  # noqa: E402

MAIL_OK = b"250 2.1.0 OK\r\n"
RCPT_OK = b"250 2.1.5 OK\r\n"
DATA_GO = b"354 Start mail input; end with <CRLF>.<CRLF>\r\n"
BYE = b"221 2.0.0 mx.test Service closing transmission channel\r\n"


def private_network():
    """unshare(CLONE_NEWNET) and bring lo up; False where not allowed."""
    CLONE_NEWNET = 0x40000000
    SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNET) != 0:
        return False
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        ifr = struct.pack("16sh", b"lo", 0)
        flags = struct.unpack("16sh", fcntl.ioctl(s, SIOCGIFFLAGS, ifr))[1]
        fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack("16sh", b"lo", flags | IFF_UP))
    return True


def connection(family, address):
    """A connected pair over loopback: (the test's end, the accepted end)."""
    with socket.socket(family, socket.SOCK_STREAM) as listener:
        if family == socket.AF_INET6 and address.startswith("::ffff:"):
            listener.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        listener.bind((address, 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        client = socket.socket(family, socket.SOCK_STREAM)
        client.settimeout(WAIT)
        client.connect((address, port))
        listener.settimeout(WAIT)
        accepted, _ = listener.accept()
    return client, accepted


def have_ipv6():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


class Tcp(SmtpdTestCase):

    def tcp(self, family, address, env=None):
        client, accepted = connection(family, address)
        p = self.start(transport="socket", sock=accepted, client=client,
                       env=env)
        accepted.close()
        self.assertEqual(p.reply(), b"220 mx.test ESMTP smtpd\r\n")
        return p

    def one_message(self, p, peer):
        self.ehlo(p)
        self.assertEqual(p.command("MAIL FROM:<a@example.net>"), MAIL_OK)
        self.assertEqual(p.command("RCPT TO:<b@example.org>"), RCPT_OK)
        self.assertEqual(p.command("DATA"), DATA_GO)
        p.send(b"Subject: tcp\r\n\r\nover TCP\r\n")
        qid = self.assertQueued(p.command("."))
        self.assertEqual(p.command("QUIT"), BYE)
        self.assertEqual(p.rest(), b"")
        self.assertExit(p, 0)
        self.assertMessage(self.only_message(qid), qid, "a@example.net",
                           ["b@example.org"], "client.example", peer,
                           b"Subject: tcp\n\nover TCP\n")
        self.assertIn("connect from %s\n" % peer, p.log())
        self.assertIn("disconnect from %s " % peer, p.log())

    def test_ipv4(self):
        self.one_message(self.tcp(socket.AF_INET, "127.0.0.1"), "[127.0.0.1]")

    @unittest.skipUnless(have_ipv6(), "no IPv6 loopback")
    def test_ipv6(self):
        self.one_message(self.tcp(socket.AF_INET6, "::1"), "[IPv6:::1]")

    @unittest.skipUnless(have_ipv6(), "no IPv6 loopback")
    def test_ipv4_mapped(self):
        # An IPv6 socket that accepted an IPv4 client: shown as IPv4.
        self.one_message(self.tcp(socket.AF_INET6, "::ffff:127.0.0.1"), "[127.0.0.1]")

    def test_socket_beats_environment(self):
        # The connection's own socket cannot be stale; the environment can.
        p = self.tcp(socket.AF_INET, "127.0.0.1",
                     env=clean_env(REMOTE_ADDR="192.0.2.1", TCPREMOTEIP="192.0.2.2"))
        self.one_message(p, "[127.0.0.1]")

    def test_client_resets(self):
        # A client that resets the connection mid-message: exit 0, nothing
        # in the spool.
        p = self.tcp(socket.AF_INET, "127.0.0.1")
        self.ehlo(p)
        p.command("MAIL FROM:<a@example.net>")
        p.command("RCPT TO:<b@example.org>")
        self.assertEqual(p.command("DATA"), DATA_GO)
        p.send(b"Subject: reset\r\n\r\npart")
        p.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        p.sock.close()
        p.sock = None
        p.rfd = p.wfd = -1
        self.assertExit(p, 0)
        self.assertSpoolEmpty()


class PreConnected(smtplib.SMTP):
    """smtplib on a socket the test has connected already."""

    def __init__(self, sock, **kw):
        self._presock = sock
        super().__init__(**kw)

    def _get_socket(self, host, port, timeout):
        return self._presock


def flattened(msg):
    """The bytes smtplib.send_message puts on the wire (before dot-stuffing)."""
    with io.BytesIO() as b:
        email.generator.BytesGenerator(b).flatten(msg, linesep="\r\n")
        return b.getvalue()


class Smtplib(SmtpdTestCase):

    def test_smtplib(self):
        client, accepted = connection(socket.AF_INET, "127.0.0.1")
        p = self.start(transport="socket", sock=accepted, client=client)
        accepted.close()
        client.settimeout(WAIT)    # smtplib wants a blocking socket
        s = PreConnected(client, local_hostname="client.example", timeout=WAIT)
        self.assertEqual(s.connect("127.0.0.1", 25), (220, b"mx.test ESMTP smtpd"))
        code, text = s.ehlo()
        self.assertEqual(code, 250)
        self.assertEqual(text, b"mx.test\nSIZE 10485760\n8BITMIME\nPIPELINING\n"
                         b"ENHANCEDSTATUSCODES\nSOML\nSAML\nHELP")
        self.assertTrue(s.has_extn("pipelining"))
        self.assertEqual(s.esmtp_features["size"], "10485760")

        # 1: sendmail with raw bytes: dots, 8-bit text, bare CR, long line.
        raw = (b"From: A <a@example.net>\r\nTo: b@example.org\r\n"
               b"Subject: raw\r\n\r\n.starts with a dot\r\n..two dots\r\n"
               b".\r\nnot the end\r\n\xc3\xa9t\xc3\xa9 8-bit\r\nbare\rcr\r\n"
               + b"w" * 5000 + b"\r\nlast")
        refused = s.sendmail("a@example.net", ["b@example.org", "x@elsewhere.net",
                                               "c@example.org"], raw,
                             mail_options=["BODY=8BITMIME"])   # smtplib adds SIZE=
        self.assertEqual(refused, {"x@elsewhere.net": (550, b"5.7.1 Relaying denied")})

        # 2: send_message with an EmailMessage.
        msg = email.message.EmailMessage()
        msg["From"] = "Sender <s@example.net>"
        msg["To"] = "d@example.org"
        msg["Subject"] = "via send_message"
        msg.set_content("Line one.\n.\nA dot line above.\n")
        wire = flattened(msg)
        self.assertEqual(s.send_message(msg), {})

        # 3: a pipelined group by hand on the same connection.
        s.send(b"MAIL FROM:<>\r\nRCPT TO:<postmaster>\r\nRCPT TO:<relay@elsewhere.net>\r\n"
               b"DATA\r\n")
        self.assertEqual(s.getreply(), (250, b"2.1.0 OK"))
        self.assertEqual(s.getreply(), (250, b"2.1.5 OK"))
        self.assertEqual(s.getreply(), (550, b"5.7.1 Relaying denied"))
        self.assertEqual(s.getreply(), (354, b"Start mail input; end with <CRLF>.<CRLF>"))
        s.send(b"bounce\r\n.\r\n")
        code, text = s.getreply()
        self.assertEqual(code, 250, text)
        self.assertEqual(s.quit(), (221, b"2.0.0 mx.test Service closing transmission channel"))
        self.assertExit(p, 0)

        msgs = self.spool.messages()
        self.assertEqual(len(msgs), 3, [n for n, _ in msgs])
        self.assertEqual(self.spool.names("tmp"), [])
        ids = [re.match(r"(\S+)\.mx\.test$", n).group(1) for n, _ in msgs]
        # smtplib sends CRLF line ends and stuffs dots; the file holds LF
        # line ends and the message as written, byte for byte.
        self.assertMessage(msgs[0][1], ids[0], "a@example.net",
                           ["b@example.org", "c@example.org"], "client.example",
                           "[127.0.0.1]", raw.replace(b"\r\n", b"\n") + b"\n")
        self.assertMessage(msgs[1][1], ids[1], "s@example.net", ["d@example.org"],
                           "client.example", "[127.0.0.1]",
                           wire.replace(b"\r\n", b"\n"))
        self.assertIn(b"\n.\nA dot line above.\n", msgs[1][1])
        self.assertMessage(msgs[2][1], ids[2], "", ["postmaster"],
                           "client.example", "[127.0.0.1]", b"bounce\n")


if __name__ == "__main__":
    if os.environ.get("SMTPD_HOST_NETWORK") != "1" and not private_network():
        print("note: no private network namespace; using the host's loopback")
    main()
