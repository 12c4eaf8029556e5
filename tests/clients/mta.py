"""mta.py: a throw-away Postfix instance that relays to smtpd.

Everything the instance owns lives under one temporary directory: its
configuration directory (main.cf written with `postconf -c DIR -e`, and a
master.cf of our own with no listener and no chroot), its queue and data
directories (owned by the postfix user, as Postfix demands when run as
root) and its log file.  The machine's /etc/postfix is only read (by
`postfix` for postfix-files), never written, and no system instance is
started.  relayhost sends everything to smtpd; a transport map sends one
domain to a second smtpd with a small --max-size, to see Postfix honour
the SIZE it announced.
"""
import os
import pwd
import re
import shutil
import time

from harness import run

# service type private unpriv chroot wakeup maxproc command: the daemons a
# relay-only instance needs, none chrooted, none listening on the network.
MASTER_CF = """\
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
showq     unix  n       -       n       -       -       showq
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


def running(pid):
    """Whether pid is a live process (a zombie is not)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def machine_state():
    """The machine's own mail setup, to see that a run leaves it alone:
    size, mtime and mode of every file under /etc/postfix and
    /var/spool/postfix, and of /etc/aliases."""
    paths = ["/etc/aliases"]
    for top in ("/etc/postfix", "/var/spool/postfix"):
        for d, dirs, files in os.walk(top):
            paths += [os.path.join(d, n) for n in dirs + files]
    state = {}
    for p in paths:
        try:
            st = os.lstat(p)
        except OSError:
            continue
        state[p] = (st.st_size, st.st_mtime_ns, st.st_mode)
    return state


class Postfix:
    def __init__(self, base, relay_port, small_port):
        self.base = base
        self.conf = os.path.join(base, "conf")
        self.queue = os.path.join(base, "queue")
        self.data = os.path.join(base, "data")
        self.log = os.path.join(base, "maillog")
        self.relay_port = relay_port
        self.small_port = small_port
        self.started = False

    def settings(self):
        return {
            "compatibility_level": "3.6",
            "queue_directory": self.queue,
            "data_directory": self.data,
            "mail_owner": "postfix",
            "setgid_group": "postdrop",
            "myhostname": "relay.test",
            "mydomain": "relay.test",
            "myorigin": "relay.test",
            "mydestination": "",
            "inet_interfaces": "loopback-only",
            "inet_protocols": "ipv4",
            "relayhost": "[127.0.0.1]:%d" % self.relay_port,
            "transport_maps": "inline:{small.example.org=smtp:[127.0.0.1]:%d}"
                              % self.small_port,
            "smtp_dns_support_level": "disabled",
            "smtp_tls_security_level": "none",
            # Each delivery its own session, QUIT answered: the transcript
            # then shows every step of the conversation.
            "smtp_connection_cache_on_demand": "no",
            "smtp_skip_quit_response": "no",
            "debug_peer_list": "127.0.0.1",
            "debug_peer_level": "1",
            "alias_maps": "",
            "alias_database": "",
            "local_transport": "error:5.1.1 no local delivery here",
            "notify_classes": "",
            "maillog_file": self.log,
            "maillog_file_prefixes": self.base,
        }

    def configure(self):
        postfix = pwd.getpwnam("postfix")
        os.makedirs(self.conf)
        for d in (self.queue, self.data):
            os.makedirs(d)
            os.chown(d, postfix.pw_uid, postfix.pw_gid)
        open(os.path.join(self.conf, "main.cf"), "w").close()
        with open(os.path.join(self.conf, "master.cf"), "w") as f:
            f.write(MASTER_CF)
        args = ["%s=%s" % kv for kv in self.settings().items()]
        p = run(["postconf", "-c", self.conf, "-e"] + args, timeout=30)
        if p.returncode != 0:
            raise RuntimeError("postconf: %r" % p.stderr)
        # Postfix's own sendmail, whatever else is first in PATH.
        p = run(["postconf", "-c", self.conf, "-h", "sendmail_path"], timeout=30)
        self.sendmail_path = p.stdout.decode().strip() or "sendmail"

    def start(self):
        """`postfix -c DIR start`, which returns once master runs."""
        self.started = True
        p = run(["postfix", "-c", self.conf, "start"], timeout=60)
        if p.returncode != 0:
            raise RuntimeError("postfix start: %r\n%s"
                               % (p.stderr, self.log_text()[-2000:]))

    def sendmail(self, sender, rcpts, message):
        """Hand a message to the instance; -i: a lone '.' is text."""
        p = run([self.sendmail_path, "-C", self.conf, "-i", "-f", sender, "--"] + rcpts,
                input=message, timeout=30)
        if p.returncode != 0:
            raise RuntimeError("sendmail: %r" % p.stderr)

    def stop(self):
        """`postfix -c DIR stop`, which signals master and returns; then a
        bounded wait for master to go, and `abort` if it does not."""
        if not self.started:
            return
        self.started = False
        pid = self.master_pid()
        p = run(["postfix", "-c", self.conf, "stop"], timeout=60)
        if p.returncode != 0 or not self.wait_gone(pid, 20):
            run(["postfix", "-c", self.conf, "abort"], timeout=30)
            self.wait_gone(pid, 10)

    @staticmethod
    def wait_gone(pid, timeout):
        deadline = time.monotonic() + timeout
        while pid is not None and running(pid):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def master_pid(self):
        """master's pid while it runs, else None."""
        try:
            with open(os.path.join(self.queue, "pid", "master.pid")) as f:
                pid = int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            return None
        return pid if running(pid) else None

    def log_text(self):
        try:
            with open(self.log, encoding="utf-8", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def deliveries(self):
        """[(queue id, recipient, status, text)] from the log."""
        return re.findall(r"postfix/smtp\[\d+\]: (\w+): to=<([^>]*)>, .*"
                          r" status=(\w+) \((.*)\)$", self.log_text(), re.M)

    def sessions(self, port):
        """Each SMTP session Postfix logged with port: a list of lines
        "> command" and "< reply", in order."""
        pat = (r"postfix/smtp\[(\d+)\]: ([<>]) 127\.0\.0\.1\[127\.0\.0\.1\]:%d:"
               r" (.*)$" % port)
        out, current = [], {}
        for pid, way, text in re.findall(pat, self.log_text(), re.M):
            if way == "<" and text.startswith("220 "):
                current[pid] = []
                out.append(current[pid])
            if pid in current:
                current[pid].append(way + " " + text)
        return out

    def remove(self):
        shutil.rmtree(self.base, ignore_errors=True)
