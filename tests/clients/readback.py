"""readback.py: the spool read back by the programs a user would point at it.

Python's mailbox.Maildir must list exactly the files the cases checked and
give each one's bytes, envelope headers and MIME parts.  mutt, in batch
(it needs a terminal, so it gets a pseudo-terminal), opens the spool
read-only, tags every message and pipes them decoded to a file; each
message's From, To and Subject as mutt decoded them, and its text body,
must be what the client sent.
"""
import email
import email.policy
import mailbox
import os
import pty
import re
import select
import signal
import time

SEPARATOR = "\n=====mutt-next-message=====\n"


def part_payloads(msg):
    return [(p.get_content_type(), p.get_payload(decode=True))
            for p in msg.walk() if not p.is_multipart()]


def case_maildir(r, ctx):
    md = mailbox.Maildir(ctx.spool.path, factory=None, create=False)
    keys = sorted(md.keys())
    r.equal(keys, sorted(ctx.spool.manifest), "messages mailbox.Maildir lists")
    for key in keys:
        want = ctx.spool.manifest.get(key)
        if want is None:
            continue
        with open(os.path.join(ctx.spool.path, "new", key), "rb") as f:
            r.equal(md.get_bytes(key), f.read(), key + ": bytes")
        msg = md.get_message(key)
        what = "%s (%s)" % (key, want.case)
        r.equal(msg.get_subdir(), "new", what + ": subdir")
        r.equal(msg["Return-Path"], "<%s>" % want.sender, what + ": Return-Path")
        r.equal(msg.get_all("X-Original-To"), ["<%s>" % a for a in want.rcpts],
                what + ": X-Original-To")
        sent = email.message_from_bytes(want.message)
        for h in ("From", "To", "Subject", "Message-ID"):
            r.equal(msg[h], sent[h], what + ": " + h)
        r.check(part_payloads(msg) == part_payloads(sent),
                what + ": MIME parts differ from those sent")


def run_on_pty(argv, env, timeout):
    """Run argv on a pseudo-terminal (output discarded); its exit status,
    or None if it had to be killed after `timeout` seconds."""
    pid, fd = pty.fork()
    if pid == 0:
        try:
            os.execvpe(argv[0], argv, env)
        finally:
            os._exit(127)
    deadline = time.monotonic() + timeout
    reaped = False
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.2)
            if ready:
                try:
                    if os.read(fd, 65536):
                        continue
                except OSError:         # EIO: the child closed the terminal
                    pass
            done, st = os.waitpid(pid, os.WNOHANG)
            if done:
                reaped = True
                return os.waitstatus_to_exitcode(st)
    finally:
        if not reaped:
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
        os.close(fd)
    return None


def mutt_dump(ctx):
    """Every message of the spool as mutt decodes it, in mutt's order."""
    out = os.path.join(ctx.work, "mutt.out")
    # folder: else mutt asks whether to create ~/Mail and waits.
    config = ('set folder=%s spoolfile=%s charset=utf-8 pipe_decode=yes'
              ' pipe_split=no wait_key=no quit=yes mark_old=no'
              ' sort=mailbox-order; set pipe_sep="%s"; unignore *'
              % (ctx.work, ctx.spool.path, SEPARATOR.replace("\n", "\\n")))
    keys = ("<tag-pattern>~A<enter><tag-prefix><pipe-message>cat > %s<enter>"
            "<quit>" % out)
    hook = 'folder-hook . "push \\"%s\\""' % keys
    env = {"HOME": ctx.work, "TERM": "vt100", "PATH": os.environ["PATH"],
           "LANG": "C.UTF-8"}
    status = run_on_pty(["mutt", "-R", "-n", "-F", "/dev/null", "-e", config,
                         "-e", hook, "-f", ctx.spool.path], env, timeout=60)
    if status != 0 or not os.path.exists(out):
        raise RuntimeError("mutt ended with status %r and wrote no %s"
                           % (status, out))
    with open(out, encoding="utf-8", errors="replace") as f:
        chunks = f.read().split(SEPARATOR)
    if chunks and chunks[-1].strip() == "":     # a separator after the last
        chunks.pop()
    return chunks


def decoded_text(msg):
    """The text of a single-part text message, decoded; None otherwise."""
    if msg.is_multipart() or msg.get_content_maintype() != "text":
        return None
    return msg.get_content()


def case_mutt(r, ctx):
    chunks = mutt_dump(ctx)
    r.equal(len(chunks), len(ctx.spool.manifest), "messages mutt piped")
    seen = set()
    for chunk in chunks:
        # mutt has decoded the body to UTF-8 text already: parse only the
        # header block, and compare the body as it stands.
        head, _, body = chunk.partition("\n\n")
        got = email.message_from_string(head + "\n\n", policy=email.policy.default)
        ids = re.findall(r"\bid ([^\s;]+)", " ".join(got.get_all("Received") or []))
        key = next((k for k in ctx.spool.manifest if ids and
                    k.startswith(ids[0] + ".")), None)
        if not r.check(key is not None, "mutt gave a message with no known id:"
                       " %r" % chunk[:300]):
            continue
        seen.add(key)
        want = ctx.spool.manifest[key]
        sent = email.message_from_bytes(want.message, policy=email.policy.default)
        what = "%s (%s)" % (key, want.case)
        for h in ("From", "To", "Subject"):
            r.equal(str(got[h]), str(sent[h]), what + ": " + h + " in mutt")
        text = decoded_text(sent)
        if text is not None:
            # mutt writes what it pipes as an mbox would: "From " at the
            # start of a line gets a ">".
            text = re.sub(r"(?m)^From ", ">From ", text)
            r.equal(body.rstrip("\n"), text.rstrip("\n"),
                    what + ": text mutt decoded")
    r.equal(len(seen), len(ctx.spool.manifest), "distinct messages from mutt")
