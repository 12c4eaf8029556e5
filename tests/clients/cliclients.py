"""cliclients.py: swaks, curl, msmtp and Postfix's smtp-source as clients.

Each is run with a time limit; its exit status and the replies it reports
are checked exactly, then the files it produced are compared with the
message it was given.
"""
import email
import email.policy
import os
import random
import re

from harness import run
from spool import Expected, check_stored

# A message as a file (LF line ends, as users keep them); each client sends
# it with CRLF and dot-stuffing.  No '%' or backslash: swaks would read
# those as tokens.
FILE_MESSAGE = (b"From: Frank <frank@client.test>\n"
                b"To: bob@example.org\n"
                b"Subject: sent by %s\n"
                b"Message-ID: <%s@client.test>\n"
                b"Date: Mon, 02 Feb 2026 10:00:00 +0000\n"
                b"\n"
                b"Hello from a file.\n"
                b".\n"
                b"..two dots\n"
                b".leading dot\n"
                b"\n"
                b"A long line: " + b"0123456789" * 150 + b"\n"
                b"end\n")


def file_message(ctx, name):
    data = FILE_MESSAGE % (name.encode(), name.encode())
    path = os.path.join(ctx.work, name + ".eml")
    with open(path, "wb") as f:
        f.write(data)
    return path, data


def on_wire_ending(data):
    """swaks and smtp-source send CRLF "." CRLF after the file's last line
    end, so a file ending in LF arrives with one more empty line (seen with
    a recording responder; curl and msmtp put the dot right after)."""
    return data + b"\n"


def reply_line(r, text, pattern, what):
    """The first match of pattern in a client's transcript, or None."""
    m = re.search(pattern, text, re.M)
    r.check(m is not None, "%s: no line matching %r in:\n%s"
            % (what, pattern, text[-3000:]))
    return m


def ehlo_reply(prefix):
    return [prefix + l for l in (
        "250-mx.test", "250-SIZE 10485760", "250-8BITMIME", "250-PIPELINING",
        "250-ENHANCEDSTATUSCODES", "250-SOML", "250-SAML", "250 HELP")]


def match_dialogue(r, got, want, what):
    """got: a client's transcript lines; want: one regex per line.  The
    queued-as id (the first group of any pattern that has one), or None."""
    ok = len(got) == len(want) and all(re.fullmatch(w, g) for w, g in zip(want, got))
    if not r.check(ok, "%s:\n  %s\nwant:\n  %s"
                   % (what, "\n  ".join(got), "\n  ".join(want))):
        return None
    for w, g in zip(want, got):
        m = re.fullmatch(w, g)
        if m.groups():
            return m.group(1)
    return None


def swaks_dialogue(out):
    """swaks's transcript, commands and replies, without message lines."""
    lines, in_data = [], False
    for line in out.splitlines():
        if in_data:
            in_data = line != " -> ."
            if in_data:
                continue
        elif line.startswith("<-  354 "):
            in_data = True
        if line.startswith(("<-", " ->")):
            lines.append(line)
    return lines


def swaks_expected(steps):
    """The regexes of a swaks dialogue: greeting, EHLO, then `steps`."""
    lit = [" -> EHLO swaks.client.test"] + ehlo_reply("<-  ")
    return ([re.escape("<-  220 mx.test ESMTP smtpd")] + [re.escape(l) for l in lit]
            + steps)


MAIL = [r" -> MAIL FROM:<sw@client\.test>"]
MAIL_OK = [r"<-  250 2\.1\.0 OK"]
RCPT = [r" -> RCPT TO:<bob@example\.org>"]
RCPT_OK = [r"<-  250 2\.1\.5 OK"]
DATA = [r" -> DATA"]
DATA_OK = [r"<-  354 Start mail input; end with <CRLF>\.<CRLF>"]
DOT = [r" -> \.", r"<-  250 2\.0\.0 OK: queued as (\S+)"]
QUIT = [r" -> QUIT", r"<-  221 2\.0\.0 mx\.test Service closing transmission channel"]


def one_file(r, ctx, want, qid):
    files = ctx.spool.take()
    if r.equal(len(files), 1, want.case + ": files spooled"):
        check_stored(r, ctx.spool, files[0], want, queued_id=qid)


def swaks(ctx, *args):
    return run(["swaks", "--server", "127.0.0.1", "--port", str(ctx.port),
                "--helo", "swaks.client.test", "--from", "sw@client.test",
                "--to", "bob@example.org"] + list(args), timeout=60)


def case_swaks(r, ctx, pipeline):
    name = "swaks-pipeline" if pipeline else "swaks"
    path, data = file_message(ctx, name)
    p = swaks(ctx, "--data", "@" + path, *(["--pipeline"] if pipeline else []))
    out = p.stdout.decode("utf-8", "replace")
    r.equal(p.returncode, 0, "swaks exit status (stderr %r)" % p.stderr[-500:])
    if pipeline:        # MAIL, RCPT and DATA leave before their replies
        steps = MAIL + RCPT + DATA + MAIL_OK + RCPT_OK + DATA_OK
    else:
        steps = MAIL + MAIL_OK + RCPT + RCPT_OK + DATA + DATA_OK
    qid = match_dialogue(r, swaks_dialogue(out), swaks_expected(steps + DOT + QUIT),
                         "swaks's dialogue")
    one_file(r, ctx, Expected(name, "sw@client.test", ["bob@example.org"],
                              "swaks.client.test", on_wire_ending(data)), qid)


def case_swaks_attachment(r, ctx):
    """A 5 MB binary attachment: the decoded part must be the file."""
    blob = random.Random(6).randbytes(5 * 1024 * 1024)
    path = os.path.join(ctx.work, "blob.bin")
    with open(path, "wb") as f:
        f.write(blob)
    p = swaks(ctx, "--attach", "@" + path, "--suppress-data",
              "--header", "Subject: a 5 MB attachment")
    out = p.stdout.decode("utf-8", "replace")
    r.equal(p.returncode, 0, "swaks exit status (stderr %r)" % p.stderr[-500:])
    m = reply_line(r, out, r"^<-  250 2\.0\.0 OK: queued as (\S+)$", "swaks")
    reply_line(r, out, "^" + QUIT[1] + "$", "swaks")
    files = ctx.spool.take()
    if not r.equal(len(files), 1, "files spooled"):
        return
    st = files[0]
    r.check(st.error is None, "envelope: %s" % st.error)
    if st.error or not m:
        return
    r.equal(st.received["id"], m.group(1), "id in the 250 reply")
    msg = email.message_from_bytes(st.message, policy=email.policy.default)
    parts = [pt for pt in msg.walk() if pt.get_filename() == "blob.bin"]
    if r.equal(len(parts), 1, "attachments named blob.bin"):
        got = parts[0].get_payload(decode=True)
        r.check(got == blob, "attachment differs: %d bytes, want %d"
                % (len(got), len(blob)))
    # What swaks sent is not known in advance (date, boundary): the
    # read-back compares the file with itself and its decoded parts.
    ctx.spool.manifest[st.name] = Expected(
        "swaks attachment", "sw@client.test", ["bob@example.org"],
        "swaks.client.test", st.message)


def case_swaks_quit_after_rcpt(r, ctx):
    """--quit-after RCPT: a transaction that ends in QUIT stores nothing."""
    before = set(ctx.sup.sessions())
    p = swaks(ctx, "--quit-after", "RCPT")
    out = p.stdout.decode("utf-8", "replace")
    r.equal(p.returncode, 0, "swaks exit status")
    match_dialogue(r, swaks_dialogue(out),
                   swaks_expected(MAIL + MAIL_OK + RCPT + RCPT_OK + QUIT),
                   "swaks's dialogue")
    r.equal(ctx.spool.take(), [], "files spooled")
    r.equal(ctx.spool.tmp_files(), [], "files left in tmp/")
    new = ctx.sup.settle(before)
    r.equal([l for lines in new.values() for l in lines if "disconnect" in l],
            ["disconnect from [127.0.0.1] commands=4 accepted=0 refused=0"
             " errors=0"], "smtpd's log of the session")


def case_curl(r, ctx, mode):
    """curl uploads a file to two recipients (URL path = EHLO name).
    mode "crlf": a file with CRLF line ends, sent as it is.
    mode "lf --crlf": an LF file that curl converts (and dot-stuffs).
    mode "lf": an LF file sent as it is: bare LFs on the wire, which smtpd
    stores as LF without ending a line there (so "." after one is text),
    then the CRLF curl adds before its final dot."""
    name = "curl " + mode
    _, data = file_message(ctx, "curl-" + mode.replace(" ", "").replace("-", ""))
    path = os.path.join(ctx.work, "curl.upload")
    upload = data.replace(b"\n", b"\r\n") if mode == "crlf" else data
    with open(path, "wb") as f:
        f.write(upload)
    want = data + b"\n" if mode == "lf" else data
    before = set(ctx.sup2.sessions())
    p = run(["curl", "-sS", "-v", "--url",
             "smtp://127.0.0.1:%d/curl.client.test" % ctx.port2,
             "--mail-from", "cu@client.test", "--mail-rcpt", "bob@example.org",
             "--mail-rcpt", "carol@example.net", "--upload-file", path]
            + (["--crlf"] if mode == "lf --crlf" else []), timeout=60)
    err = p.stderr.decode("utf-8", "replace")
    r.equal(p.returncode, 0, "curl exit status (%s)" % err[-800:])
    # curl -v shows each command and reply line (not the QUIT it sends at
    # exit: smtpd's log counts that one).
    got = [l.rstrip("\r") for l in err.splitlines() if l.startswith(("< ", "> "))]
    dialogue = ([re.escape(l) for l in ["< 220 mx.test ESMTP smtpd",
                                        "> EHLO curl.client.test"] + ehlo_reply("< ")]
                + [r"> MAIL FROM:<cu@client\.test> SIZE=%d" % len(upload),
                   r"< 250 2\.1\.0 OK",
                   r"> RCPT TO:<bob@example\.org>", r"< 250 2\.1\.5 OK",
                   r"> RCPT TO:<carol@example\.net>", r"< 250 2\.1\.5 OK",
                   r"> DATA", r"< 354 Start mail input; end with <CRLF>\.<CRLF>",
                   r"< 250 2\.0\.0 OK: queued as (\S+)"])
    qid = match_dialogue(r, got, dialogue, "curl's dialogue")
    one_file(r, ctx, Expected(name, "cu@client.test",
                              ["bob@example.org", "carol@example.net"],
                              "curl.client.test", want), qid)
    new = ctx.sup2.settle(before)
    r.equal([l for lines in new.values() for l in lines if "disconnect" in l],
            ["disconnect from [127.0.0.1] commands=6 accepted=1 refused=0"
             " errors=0"], "smtpd's log of the session (QUIT included)")


def case_msmtp(r, ctx):
    name = "msmtp"
    path, data = file_message(ctx, name)
    conf = os.path.join(ctx.work, "msmtprc")
    log = os.path.join(ctx.work, "msmtp.log")
    with open(conf, "w") as f:
        f.write("defaults\nauth off\ntls off\nlogfile %s\n\n"
                "account test\nhost 127.0.0.1\nport %d\n"
                "from ms@client.test\ndomain msmtp.client.test\n\n"
                "account default : test\n" % (log, ctx.port2))
    os.chmod(conf, 0o600)
    with open(path, "rb") as stdin:
        p = run(["msmtp", "-C", conf, "--", "bob@example.org"], stdin=stdin,
                timeout=60)
    r.equal(p.returncode, 0, "msmtp exit status (%r)" % p.stderr[-500:])
    with open(log, encoding="utf-8", errors="replace") as f:
        text = f.read()
    m = reply_line(r, text, r"smtpstatus=250 smtpmsg='250 2\.0\.0 OK: queued"
                   r" as (\S+)' exitcode=EX_OK", "msmtp log")
    one_file(r, ctx, Expected(name, "ms@client.test", ["bob@example.org"],
                              "msmtp.client.test", data),
             m.group(1) if m else None)


def case_smtp_source(r, ctx, messages=40, sessions=4):
    """Postfix's load generator: many messages over parallel sessions."""
    path, data = file_message(ctx, "smtp-source")
    before = set(ctx.sup.sessions())
    p = run(["smtp-source", "-4", "-d", "-s", str(sessions), "-m", str(messages),
             "-M", "source.client.test", "-f", "src@client.test",
             "-t", "bob@example.org", "-F", path, "127.0.0.1:%d" % ctx.port],
            timeout=90)
    r.equal(p.returncode, 0, "smtp-source exit status (%r)" % p.stderr[-500:])
    files = ctx.spool.take()
    r.equal(len(files), messages, "files spooled")
    want = Expected("smtp-source", "src@client.test", ["bob@example.org"],
                    "source.client.test", on_wire_ending(data), esmtp=False)
    for st in files:
        check_stored(r, ctx.spool, st, want)
    logs = ctx.sup.settle(before)
    accepted = sorted(sum(1 for l in lines if l.startswith("accepted "))
                      for lines in logs.values())
    r.equal(sum(accepted), messages, "messages smtpd logged as accepted")
    r.equal(len(accepted), sessions, "sessions (%r)" % accepted)
