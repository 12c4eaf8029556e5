#!/usr/bin/env python3
"""run.py: real mail clients against smtpd under real supervisors.

Run by tests/t_clients.sh inside a private network namespace (so fixed
loopback ports are ours alone).  smtpd answers on 127.0.0.1:2525 under
tcpserver, on :2526 under systemd-socket-activate --accept --inetd (both
spooling into one Maildir), and on :2527 with --max-size 2000 for the
Postfix SIZE case.  Each case prints PASS, FAIL (with what differed) or
SKIP; the exit status is 1 if any failed, else 77 if any was skipped for a
missing program, else 0.
"""
import os
import shutil
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True      # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import cliclients  # noqa: E402
import postfix_cases  # noqa: E402
import pyclients  # noqa: E402
import readback  # noqa: E402
from harness import Cases, Supervisor, greeting_and_quit  # noqa: E402
from mta import Postfix, machine_state  # noqa: E402
from spool import Spool  # noqa: E402


class Context:
    pass


def needs(r, *programs):
    """Skip the case (not fail it) when a client program is missing."""
    missing = [p for p in programs if shutil.which(p) is None]
    if missing:
        r.skip("not installed: " + " ".join(missing))
    return not missing


def case_supervisors(r, ctx):
    for sup in ctx.sups:
        host = b"small.test" if sup is ctx.sup_small else b"mx.test"
        hello, bye = greeting_and_quit(sup.port)
        r.equal(hello, b"220 %s ESMTP smtpd\r\n" % host, sup.kind + " greeting")
        r.equal(bye, b"221 %s Service closing transmission channel\r\n" % host,
                sup.kind + " QUIT reply")


def case_exit_statuses(r, ctx):
    """Every smtpd any supervisor started ended with status 0."""
    for sup in ctx.sups:
        statuses = sup.exit_statuses()
        sessions = sup.settle(set())
        r.check(statuses, "%s logged no smtpd exits" % sup.kind)
        bad = {p: s for p, s in statuses.items() if s != 0}
        r.equal(bad, {}, "%s: smtpd exits with a non-zero status" % sup.kind)
        r.equal(sorted(p for p in sessions if p not in statuses), [],
                "%s: smtpd sessions never reaped" % sup.kind)
    for sp in (ctx.spool, ctx.small_spool):
        r.equal(sp.tmp_files(), [], sp.path + "/tmp left non-empty")
    r.equal(os.listdir(ctx.small_spool.path + "/new"), [],
            "files in the small smtpd's spool")


def python_cases(cases, ctx):
    cases.run("smtplib EHLO under tcpserver", pyclients.case_ehlo, ctx,
              ctx.port, "tcpserver")
    cases.run("smtplib EHLO under systemd-socket-activate", pyclients.case_ehlo,
              ctx, ctx.port2, "socket-activate")
    cases.run("smtplib HELO only", pyclients.case_helo, ctx)
    cases.run("smtplib 8-bit and UTF-8 bodies (8BITMIME)", pyclients.case_8bit, ctx)
    cases.run("smtplib several recipients", pyclients.case_recipients, ctx)
    cases.run("smtplib several messages on one connection",
              pyclients.case_session, ctx)
    cases.run("smtplib a 1 MiB line", pyclients.case_long_line, ctx)


def tool_case(cases, name, programs, fn, *args):
    def wrapped(r, *a):
        if needs(r, *programs):
            fn(r, *a)
    cases.run(name, wrapped, *args)


def cli_cases(cases, ctx):
    tool_case(cases, "swaks", ["swaks"], cliclients.case_swaks, ctx, False)
    tool_case(cases, "swaks --pipeline", ["swaks"], cliclients.case_swaks, ctx, True)
    tool_case(cases, "swaks 5 MB attachment", ["swaks"],
              cliclients.case_swaks_attachment, ctx)
    tool_case(cases, "swaks --quit-after RCPT", ["swaks"],
              cliclients.case_swaks_quit_after_rcpt, ctx)
    for mode in ("crlf", "lf --crlf", "lf"):
        tool_case(cases, "curl smtp:// --upload-file, %s file" % mode, ["curl"],
                  cliclients.case_curl, ctx, mode)
    tool_case(cases, "msmtp", ["msmtp"], cliclients.case_msmtp, ctx)
    tool_case(cases, "Postfix smtp-source, 40 messages in 4 sessions",
              ["smtp-source"], cliclients.case_smtp_source, ctx)


class PostfixStarter(threading.Thread):
    """Postfix takes seconds to start: do it while the other cases run."""

    def __init__(self, pf):
        super().__init__(daemon=True)
        self.pf = pf
        self.error = None

    def run(self):
        try:
            self.pf.configure()
            self.pf.start()
        except Exception as e:     # reported by the case that needs it
            self.error = e


def postfix_cases_run(cases, ctx, starter):
    def relay(r):
        if not needs(r, "postfix", "postconf", "sendmail"):
            return
        starter.join(timeout=90)
        if starter.error or starter.is_alive():
            raise RuntimeError("Postfix did not start: %s" % starter.error)
        ctx.before_postfix = set(ctx.sup.sessions())
        postfix_cases.submit(ctx.pf)
        postfix_cases.case_relay(r, ctx, ctx.pf)
    r = cases.run("Postfix relays through smtpd (sendmail -C DIR)", relay)
    if r.problems or r.skipped:
        return
    cases.run("Postfix refuses to send past the SIZE smtpd announced",
              postfix_cases.case_size, ctx, ctx.pf)
    cases.run("Postfix conversation: EHLO, PIPELINING, SIZE, 8BITMIME, QUIT",
              postfix_cases.case_conversation, ctx, ctx.pf)

    def stop(r):
        ctx.pf.stop()
        r.equal(ctx.pf.master_pid(), None, "Postfix master still running")
        after = machine_state()
        r.equal(sorted(k for k in set(after) | set(ctx.machine_mail)
                       if after.get(k) != ctx.machine_mail.get(k)), [],
                "files of the machine's own mail setup that changed")
    cases.run("postfix -c DIR stop; /etc/postfix untouched", stop)


def show_logs(ctx, lines=25):
    """The ends of the supervisors' and Postfix's logs, for a failed run."""
    logs = [sup.log for sup in ctx.sups] + [ctx.pf.log]
    for path in logs:
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                tail = f.read().splitlines()[-lines:]
        except OSError:
            continue
        print("--- last lines of %s" % os.path.basename(path))
        for line in tail:
            print("    " + line[:300])


def setup(work, smtpd):
    ctx = Context()
    ctx.work = work
    ctx.spool = Spool(os.path.join(work, "spool"))
    ctx.small_spool = Spool(os.path.join(work, "small-spool"))
    ctx.port, ctx.port2, ctx.port_small = 2525, 2526, 2527
    common = ["--spool", ctx.spool.path, "--hostname", "mx.test",
              "--domain", "example.org", "--domain", "example.net"]
    small = ["--spool", ctx.small_spool.path, "--hostname", "small.test",
             "--domain", "small.example.org", "--max-size", "2000"]
    ctx.sup = Supervisor("tcpserver", ctx.port, smtpd, common, work)
    ctx.sup2 = Supervisor("systemd-socket-activate", ctx.port2, smtpd, common, work)
    ctx.sup_small = Supervisor("systemd-socket-activate", ctx.port_small, smtpd,
                               small, work)
    ctx.sups = [ctx.sup, ctx.sup2, ctx.sup_small]
    ctx.pf = Postfix(os.path.join(work, "postfix"), ctx.port, ctx.port_small)
    return ctx


def main():
    smtpd = os.environ.get("SMTPD") or os.path.join(
        os.environ.get("SRCDIR", "."), "smtpd")
    t0 = time.monotonic()
    work = os.environ.get("T_CLIENTS_WORK")
    owned = not work            # made here: removed here
    if owned:
        work = tempfile.mkdtemp(prefix="smtpd-clients.")
        os.chmod(work, 0o755)   # the postfix user must reach its queue
    ctx = setup(work, smtpd)
    cases = Cases()
    try:
        for sup in ctx.sups:
            sup.start()
        for sup in ctx.sups:
            sup.wait_ready()
        ctx.machine_mail = machine_state()
        starter = PostfixStarter(ctx.pf)
        if shutil.which("postfix"):
            starter.start()
        cases.run("supervisors answer with the greeting", case_supervisors, ctx)
        python_cases(cases, ctx)
        cli_cases(cases, ctx)
        postfix_cases_run(cases, ctx, starter)
        cases.run("spool read back by mailbox.Maildir", readback.case_maildir, ctx)
        tool_case(cases, "spool read back by mutt", ["mutt"], readback.case_mutt, ctx)
    finally:
        ctx.pf.stop()
        for sup in ctx.sups:
            sup.stop()
    cases.run("every smtpd exited 0, tmp/ empty", case_exit_statuses, ctx)
    failed, skipped = cases.failed(), cases.skipped()
    print("clients (%s): %d cases, %d failed, %d skipped, %.1f s"
          % (os.environ.get("SMTPD_VARIANT", "?"), len(cases.results),
             len(failed), len(skipped), time.monotonic() - t0))
    if failed:
        show_logs(ctx)
    if owned and os.environ.get("CLIENTS_KEEP"):
        print("work directory kept: " + work)
    elif owned:
        shutil.rmtree(work, ignore_errors=True)
    if failed:
        return 1
    return 77 if skipped else 0


if __name__ == "__main__":
    sys.exit(main())
