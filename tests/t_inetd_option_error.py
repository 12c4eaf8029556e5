#!/usr/bin/env python3
"""t_inetd_option_error.py: under inetd and xinetd, fd 0, 1 and 2 are all
the client's socket.  A bad option in the supervisor's configuration must
then not send smtpd's complaint to the SMTP client: the client may get a
421 reply (no enhanced code: no EHLO yet), nothing else; the status is
still 2.  (Run as inetd runs it: one end of a socket pair as stdin, stdout
and stderr.)"""
import os
import socket
import subprocess
import sys

SMTPD = os.environ.get("SMTPD") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "smtpd")

failed = 0
for args in (["--bogus"], ["--max-size", "lots"], ["unexpected"]):
    server, client = socket.socketpair()
    proc = subprocess.Popen([SMTPD] + args, stdin=server, stdout=server,
                            stderr=server, close_fds=True)
    server.close()
    client.settimeout(10)
    got = b""
    while True:
        data = client.recv(4096)
        if not data:
            break
        got += data
    status = proc.wait(timeout=10)
    client.close()
    # Before EHLO a reply carries no enhanced status code (RFC 2034).
    ok = status == 2 and got == b"421 Service not available, closing transmission channel\r\n"
    print("%s: %s: status %d, the client got %r"
          % ("ok" if ok else "FAIL", " ".join(args), status, got))
    failed |= not ok
sys.exit(1 if failed else 0)
