#!/usr/bin/env python3
"""make_corpus.py: write the seed transcripts of tests/fuzz/corpus/.

Each file is two configuration bytes (see fuzz_session.c: byte 0 the
flags, byte 1 the read size) and then what a client sends.  Run it from
anywhere; it rewrites the directory next to it.
"""
import os

E = b"EHLO client.example\r\n"
H = b"HELO client.example\r\n"
M = b"MAIL FROM:<a@client.example>\r\n"
R = b"RCPT TO:<bob@example.org>\r\n"
D = b"DATA\r\n"
Q = b"QUIT\r\n"
body = b"Subject: hi\r\n\r\nhello\r\n..stuffed\r\n.\r\n"
SEEDS = {
    "worked_example": (0, 0, H + M + R + b"RCPT TO:<nomail@elsewhere.it>\r\n" + D + b"Corpo del messaggio\r\n.\r\n" + Q),
    "ehlo_pipelined": (0, 0, E + M + R + D + body + Q),
    "ehlo_bytewise": (0, 1, E + M + R + D + body + Q),
    "two_messages": (0, 7, E + M + R + D + body + M + R + R + D + b"x\r\n.\r\n" + Q),
    "size_param": (0, 0, E + b"MAIL FROM:<> SIZE=100 BODY=8BITMIME\r\n" + R + D + body + Q),
    "size_too_big": (2, 0, E + b"MAIL FROM:<> SIZE=1000\r\n" + M + R + D + b"x" * 300 + b"\r\n.\r\n" + Q),
    "smuggle_lf": (0, 0, E + M + R + D + b"a\n.\nMAIL FROM:<e@vil>\r\nRCPT TO:<x@example.org>\r\nDATA\r\nevil\r\n.\r\n" + Q),
    "smuggle_cr": (0, 3, E + M + R + D + b"a\r.\rMAIL FROM:<e@vil>\r\n.\r\n" + Q),
    "smuggle_crlf_lf": (0, 0, E + M + R + D + b"a\r\n.\nQUIT\r\n.\r\n" + Q),
    "nul": (0, 0, E + M + R + D + b"a\x00b\r\n.\r\n" + b"NO\x00OP\r\n" + Q),
    "received_loop": (0, 0, E + M + R + D + b"Received: x\r\n" * 101 + b"\r\nbody\r\n.\r\n" + Q),
    "long_line_cmd": (0, 0, E + b"NOOP " + b"x" * 1100 + b"\r\n" + Q),
    "long_line_first": (0, 0, b"x" * 1200 + b"\r\n" + Q),
    "http": (0, 0, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
    "binary_first": (0, 0, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"),
    "errors": (64, 0, b"HELO\r\nFOO\r\nMAIL\r\nRCPT\r\nDATA\r\nBAR\r\nBAZ\r\n" + Q),
    "junk": (64, 0, E + b"NOOP\r\nRSET\r\nHELP\r\nVRFY bob\r\nHELP DATA\r\nEXPN x\r\n"),
    "data_refused_pipelined": (0, 0, E + M + D + b"body\r\n.\r\n" + Q),
    "recipients": (4, 0, E + M + R + b"RCPT TO:<c@example.org>\r\nRCPT TO:<d@example.org>\r\nRCPT TO:<postmaster>\r\nRCPT TO:<BOB@example.org>\r\n" + D + body + Q),
    "addresses": (0, 0, E + b'MAIL FROM:<"q uo\\"ted"@[192.0.2.1]>\r\n' + b"RCPT TO:<@a,@b:c@example.org>\r\nRCPT TO:<x@[IPv6:::1]>\r\nRCPT TO:<>\r\nRCPT TO: <y@example.org> FOO=1\r\n" + D + body + Q),
    "terminal": (1, 0, b"helo me\nmail from:<a@b.c>\nrcpt to:<bob@example.org>\ndata\nline\n..x\n.\nquit\n"),
    "timeout_in_data": (8, 0, E + M + R + D + b"partial line"),
    "reset_in_data": (16, 0, E + M + R + D + b"partial\r\n"),
    "sigterm_in_data": (24, 5, E + M + R + D + b"partial\r\n."),
    "deadline": (32, 0, E + M),
    "slow": (40, 0, E + M + R + D + b"abc"),
    "min_free": (128, 0, E + M + R + D + Q),
    "help_soml_saml": (0, 0, H + b"HELP\r\nHELP MAIL\r\nSOML FROM:<a@b.c>\r\nRSET\r\nSAML FROM:<a@b.c>\r\nSEND FROM:<a@b.c>\r\nTURN\r\n" + R + D + b"x\r\n.\r\n" + Q),
    "bare_cr_lf_mix": (0, 2, E + M + R + D + b"\r\r\n\n.\r.\r\n.x\r\n\xff\xfe\xc3(\r\n.\r\n" + Q),
    "after_quit": (0, 0, E + Q + M + R),
}

here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
os.makedirs(here, exist_ok=True)
for name, (flags, chunk, data) in SEEDS.items():
    with open(os.path.join(here, name), "wb") as f:
        f.write(bytes([flags, chunk]) + data)
