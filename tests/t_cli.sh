#!/bin/bash
# t_cli: smtpd's command line and its spool at start.
#   --help and --version; every bad option or value: one line on stderr
#   naming it, exit status 2, nothing on stdout, nothing created;
#   --spool creates DIR and tmp/ new/ cur/ with mode 0700; the default
#   spool ($STATE_DIRECTORY, else /var/spool/smtpd); an unusable spool:
#   a 421 reply, one line on stderr, exit status 1.
# Uses $SMTPD (default ./smtpd).  Cases that need a private mount or UTS
# namespace (unshare, as root) are skipped, visibly, where there is none.
set -u
SMTPD=${SMTPD:-./smtpd}
case $SMTPD in /*) ;; *) SMTPD=$(pwd)/$SMTPD ;; esac
if [ ! -x "$SMTPD" ]; then
	echo "SKIP: no smtpd binary at $SMTPD"
	exit 77
fi
unset REMOTE_ADDR TCPREMOTEIP REMOTE_HOST STATE_DIRECTORY LISTEN_FDS LISTEN_PID JOURNAL_STREAM
T=$(mktemp -d /tmp/smtpd-t_cli.XXXXXX) || exit 1
trap 'rm -rf "$T"' EXIT
CR=$(printf '\r')
failures=0
checks=0

fail() {
	echo "FAIL: $*"
	failures=$((failures + 1))
}

# run NAME ARGS...: smtpd with stdin from $T/in (or /dev/null), stdout in
# $T/NAME.out, stderr in $T/NAME.err, exit status in $rc.
run() {
	local name=$1
	shift
	checks=$((checks + 1))
	if [ -e "$T/in" ]; then
		cat "$T/in" | "$SMTPD" "$@" >"$T/$name.out" 2>"$T/$name.err"
	else
		"$SMTPD" "$@" </dev/null >"$T/$name.out" 2>"$T/$name.err"
	fi
	rc=$?
}

# expect_out NAME TEXT: stdout is exactly TEXT (\r\n written as such).
expect_out() {
	printf "$2" >"$T/$1.exp"
	cmp -s "$T/$1.exp" "$T/$1.out" || {
		fail "$1: stdout differs"
		diff -u "$T/$1.exp" "$T/$1.out" | cat -A | head -20
	}
}

lines() { wc -l <"$1" | tr -d ' '; }

# ---- --help, --version ----

run help --help
[ $rc = 0 ] || fail "--help: exit status $rc"
[ -s "$T/help.err" ] && fail "--help: wrote on stderr: $(cat "$T/help.err")"
head -1 "$T/help.out" | grep -qx 'Usage: smtpd \[OPTIONS\]' || fail "--help: no usage line"
for o in --spool --hostname --domain --max-size --max-recipients --timeout \
	--session-timeout --min-rate --greet-delay --min-free --soft-errors \
	--max-errors --error-delay --max-junk --help --version; do
	grep -q -- "^  $o" "$T/help.out" || fail "--help does not list $o"
done
grep -q 'Exit status' "$T/help.out" || fail "--help says nothing of exit status"

run version --version
[ $rc = 0 ] || fail "--version: exit status $rc"
[ -s "$T/version.err" ] && fail "--version: wrote on stderr"
grep -qx 'smtpd [0-9][0-9.]*' "$T/version.out" && [ "$(lines "$T/version.out")" = 1 ] ||
	fail "--version: '$(cat "$T/version.out")'"

# Options come before anything is opened: --help with a bad spool is fine.
run help2 --spool /proc/nonexistent/x --help
[ $rc = 0 ] && [ -s "$T/help2.out" ] || fail "--help after --spool: status $rc"

# ---- bad options and values ----

# bad NAME-IN-MESSAGE ARGS...: exit 2, stdout empty, one stderr line
# naming it, the spool given first never created.
n=0
bad() {
	local what=$1
	shift
	n=$((n + 1))
	run bad$n --spool "$T/never" "$@"
	local err
	err=$(cat "$T/bad$n.err")
	[ $rc = 2 ] || fail "smtpd $*: exit status $rc, not 2"
	[ -s "$T/bad$n.out" ] && fail "smtpd $*: wrote on stdout: $(cat -A "$T/bad$n.out")"
	[ "$(lines "$T/bad$n.err")" = 1 ] || fail "smtpd $*: stderr is not one line: $err"
	case $err in
	smtpd:*"$what"*) ;;
	*) fail "smtpd $*: stderr does not name '$what': $err" ;;
	esac
	[ -e "$T/never" ] && fail "smtpd $*: created the spool" && rm -rf "$T/never"
}

bad "'--bogus'" --bogus
bad "'-x'" -x
bad "'--help=yes'" --help=yes
bad "'stray'" stray
bad "'stray'" --hostname mx.test stray
bad "'-'" --hostname mx.test -
bad "--spool" --spool ""

for o in timeout max-size max-recipients session-timeout min-rate greet-delay \
	min-free soft-errors max-errors error-delay max-junk; do
	bad "--$o: 'x'" --$o x
	bad "--$o: ''" --$o ""
	bad "--$o: '-1'" --$o -1
	bad "--$o: '1x'" --$o 1x
	bad "--$o: ' 1'" --$o " 1"
	bad "--$o: '99999999999999999999999'" --$o 99999999999999999999999
done
# out of range
bad "--timeout: '0'" --timeout 0
bad "--timeout: '86401'" --timeout 86401
bad "--max-size: '0'" --max-size 0
bad "--max-size: '1099511627777'" --max-size 1099511627777
bad "--max-recipients: '0'" --max-recipients 0
bad "--max-recipients: '10001'" --max-recipients 10001
bad "--session-timeout: '0'" --session-timeout 0
bad "--greet-delay: '301'" --greet-delay 301
bad "--error-delay: '60001'" --error-delay 60001
bad "--timeout: '+5'" --timeout +5

# a value missing: named, and said to be missing (not "unknown")
for o in spool hostname domain max-size max-recipients timeout; do
	bad "--$o" --$o
	grep -qi 'value\|argument\|requires\|missing' "$T/bad$n.err" ||
		fail "smtpd --$o: the message does not say a value is missing: $(cat "$T/bad$n.err")"
done

# bad names
bad "--hostname: ''" --hostname ""
bad "--hostname: 'two words'" --hostname "two words"
bad "--hostname" --hostname "$(printf 'tab\there')"
bad "--hostname" --hostname "$(printf 'caf\303\251.example')"
bad "--hostname" --hostname "$(printf 'x%.0s' $(seq 256))"
# a domain or an address literal, as RFC 5321 puts in a greeting
for h in . .. -x x- x..y x. 'a\b' a/b:c a_b '[1.2.3]' '[x]'; do
	bad "--hostname: '$h'" --hostname "$h"
done
printf 'QUIT\r\n' >"$T/in"
for h in mx x-1.example '[192.0.2.1]' '[IPv6:2001:db8::1]'; do
	run "hn-ok" --spool "$T/hnok" --hostname "$h"
	[ $rc = 0 ] && [ "$(head -c 4 "$T/hn-ok.out")" = "220 " ] || fail "--hostname '$h' refused: $(cat "$T/hn-ok.err")"
done
rm -f "$T/in"
bad "--domain: ''" --domain ""
bad "--domain: 'two words'" --domain "two words"
bad "--domain: 'a..b'" --domain a..b
bad "--domain: '.example.org'" --domain .example.org
bad "--domain: '-x.org'" --domain -x.org
bad "--domain: 'ex!ample.org'" --domain 'ex!ample.org'
bad "--domain" --domain "$(printf 'a%.0s' $(seq 64)).org"
args=()
for i in $(seq 65); do args+=(--domain "d$i.example"); done
bad "--domain" "${args[@]}"
# the last word is good, an earlier one bad: still refused
bad "--timeout: 'x'" --timeout x --hostname mx.test

# ---- the spool at start ----

printf 'QUIT\r\n' >"$T/in"
QUIT_OUT='220 mx.test ESMTP smtpd\r\n221 mx.test Service closing transmission channel\r\n'

mode_of() { stat -c %a "$1" 2>/dev/null; }

for u in 000 022 077; do
	checks=$((checks + 1))
	(umask $u; run mk$u --spool "$T/mk$u" --hostname mx.test; echo $rc >"$T/mk$u.rc")
	[ "$(cat "$T/mk$u.rc")" = 0 ] || fail "--spool with umask $u: exit status $(cat "$T/mk$u.rc")"
	expect_out mk$u "$QUIT_OUT"
	for d in "" /tmp /new /cur; do
		m=$(mode_of "$T/mk$u$d")
		[ "$m" = 700 ] || fail "--spool (umask $u): $T/mk$u$d has mode '$m', not 700"
	done
	[ "$(find "$T/mk$u" -mindepth 1 | sort | sed "s|^$T/mk$u||" | tr '\n' ' ')" = "/cur /new /tmp " ] ||
		fail "--spool: $T/mk$u holds: $(find "$T/mk$u" -mindepth 1)"
done

# What smtpd creates is on disk before its first 250: a spool made now is
# synced with its parent (syncfs through the spool, since the parent may
# not be ours to open), subdirectories made in an existing spool with an
# fsync of the spool; else a crash could take away the new/ that the
# message was renamed into.
if command -v strace >/dev/null 2>&1; then
	# synced NAME SPOOL CALL: smtpd delivers one message into SPOOL,
	# and CALL (syncfs or fsync) of the spool comes before the rename
	# and the 250.
	synced() {
		checks=$((checks + 1))
		printf 'HELO c\r\nMAIL FROM:<a@example.net>\r\nRCPT TO:<b@example.org>\r\nDATA\r\nSubject: s\r\n\r\nx\r\n.\r\nQUIT\r\n' |
			strace -s 4096 -o "$T/$1.trace" -e trace=openat,fsync,syncfs,renameat,renameat2,write \
			"$SMTPD" --spool "$2" --hostname mx.test --domain example.org \
			>"$T/$1.out" 2>"$T/$1.err"
		[ "$(ls "$2/new" | wc -l)" = 1 ] || fail "$1: the message is not in new/"
		awk -v call="$3" '
			/^openat\(AT_FDCWD, .*O_DIRECTORY.*\) = [0-9]+$/ && !rootfd { rootfd = $NF }
			$0 ~ "^" call "\\(" { fd = substr($1, length(call) + 2) + 0
				if (fd == rootfd && !renamed) synced = 1 }
			/^renameat2?\(/ { renamed = 1 }
			/^write\(1, ".*250 OK: queued/ { ok = synced }
			END { exit ok ? 0 : 1 }' "$T/$1.trace" ||
			fail "$1: no $3 of the spool before the 250: $(grep -v '^write' "$T/$1.trace" | tr '\n' ';')"
	}
	mkdir -p "$T/parent"
	synced fresh "$T/parent/fresh" syncfs
	mkdir -p "$T/half2/new"
	synced half2 "$T/half2" fsync
else
	echo "note: strace is not installed; the sync of a new spool is not checked"
fi

# A parent directory smtpd may write and enter but not read (mode 0300):
# the spool is made there and used at once (the sync does not need to
# open the parent).
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null 2>&1; then
	checks=$((checks + 1))
	mkdir -p "$T/wx"
	chmod 711 "$T"
	chown nobody "$T/wx" && chmod 300 "$T/wx"
	printf 'QUIT\r\n' | setpriv --reuid=nobody --regid=nogroup --clear-groups \
		"$SMTPD" --spool "$T/wx/spool" --hostname mx.test >"$T/wx.out" 2>"$T/wx.err"
	rc=$?
	[ $rc = 0 ] && [ "$(head -c 4 "$T/wx.out")" = "220 " ] ||
		fail "spool in a write-only parent: status $rc, $(cat "$T/wx.out" "$T/wx.err")"
	chmod 700 "$T/wx"
	chmod 700 "$T"
else
	echo "note: not root or no setpriv: a spool in a write-only parent is not checked"
fi

# An existing Maildir is used as it is, its modes untouched.
mkdir -p "$T/old/tmp" "$T/old/new" "$T/old/cur"
chmod 755 "$T/old" "$T/old/new"
run old --spool "$T/old" --hostname mx.test
[ $rc = 0 ] || fail "existing spool: exit status $rc"
expect_out old "$QUIT_OUT"
[ "$(mode_of "$T/old")$(mode_of "$T/old/new")" = 755755 ] || fail "existing spool: modes changed"

# a half-made Maildir is completed
mkdir -p "$T/half/new"
run half --spool "$T/half" --hostname mx.test
[ $rc = 0 ] && [ -d "$T/half/tmp" ] && [ -d "$T/half/cur" ] || fail "half-made spool: status $rc"
[ "$(mode_of "$T/half/tmp")" = 700 ] || fail "half-made spool: tmp/ mode $(mode_of "$T/half/tmp")"

# unusable NAME DIR: 421, one line on stderr naming DIR, exit 1
SPOOL_421='421 mx.test Mail spool unavailable, closing transmission channel\r\n'
unusable() {
	local name=$1 dir=$2
	shift 2
	run $name --spool "$dir" --hostname mx.test "$@"
	[ $rc = 1 ] || fail "unusable spool $dir: exit status $rc, not 1"
	expect_out $name "$SPOOL_421"
	[ "$(lines "$T/$name.err")" = 1 ] || fail "unusable spool $dir: stderr: $(cat "$T/$name.err")"
	grep -qF -- "$dir" "$T/$name.err" || fail "unusable spool $dir: stderr does not name it: $(cat "$T/$name.err")"
}
unusable missing "$T/no/such/parent"
[ -e "$T/no" ] && fail "the missing parent was created"
: >"$T/file"
unusable file "$T/file"
unusable under-file "$T/file/spool"
mkdir -p "$T/newfile/tmp" "$T/newfile/cur"
: >"$T/newfile/new"
unusable newfile "$T/newfile"
mkdir -p "$T/tmpfile/new"
: >"$T/tmpfile/tmp"
unusable tmpfile "$T/tmpfile"
unusable proc /proc/smtpd-spool
unusable proc-self /proc/self/smtpd-spool
if [ "$(id -u)" != 0 ]; then
	mkdir -p "$T/ro/tmp" "$T/ro/new" "$T/ro/cur"
	chmod 500 "$T/ro/new"
	unusable ro "$T/ro"
	chmod 700 "$T/ro/new"
else
	echo "note: root may write anywhere: a read-only new/ is checked below on a read-only mount"
fi

# The rest wants private namespaces: a read-only file system, a tmpfs on
# /var/spool for the default spool, our own host name.
ns_ok=0
if [ "$(id -u)" = 0 ] && [ -d /var/spool ] && command -v hostname >/dev/null &&
	unshare --mount --uts true 2>/dev/null; then
	ns_ok=1
else
	echo "SKIP (part): no private mount/UTS namespace: read-only spool, /var/spool/smtpd default, host name default untested"
fi

# in_ns NAME SCRIPT: run sh -c SCRIPT in a private mount+UTS namespace,
# with $SMTPD, $T exported; stdout/stderr/rc as run() does.
in_ns() {
	local name=$1
	checks=$((checks + 1))
	SMTPD=$SMTPD T=$T unshare --mount --uts sh -c "$2" <"$T/in" >"$T/$name.out" 2>"$T/$name.err"
	rc=$?
}

if [ $ns_ok = 1 ]; then
	mkdir -p "$T/rofs"
	# A read-only file system under an existing, complete Maildir: smtpd
	# must find out before it says 220.
	in_ns rofs 'mount -t tmpfs tmpfs "$T/rofs" &&
		mkdir -p "$T/rofs/s/tmp" "$T/rofs/s/new" "$T/rofs/s/cur" &&
		mount -o remount,ro "$T/rofs" &&
		exec "$SMTPD" --spool "$T/rofs/s" --hostname mx.test'
	[ $rc = 1 ] || fail "read-only spool: exit status $rc"
	expect_out rofs "$SPOOL_421"
	[ "$(lines "$T/rofs.err")" = 1 ] || fail "read-only spool: stderr: $(cat "$T/rofs.err")"

	# Default spool, with a tmpfs over /var/spool so nothing real is touched.
	printf 'HELO c\r\nMAIL FROM:<a@example.net>\r\nRCPT TO:<b@example.org>\r\nDATA\r\nhi\r\n.\r\nQUIT\r\n' >"$T/in"
	check_default() {	# NAME: one message in the spool the script listed
		[ $rc = 0 ] || fail "$1: exit status $rc: $(cat "$T/$1.err")"
		grep -q "^250 OK: queued as " "$T/$1.out" || fail "$1: not queued: $(cat -A "$T/$1.out")"
		[ "$(lines "$T/$1.list")" = 1 ] || fail "$1: the spool holds: $(cat "$T/$1.list")"
	}
	in_ns default 'mount -t tmpfs tmpfs /var/spool &&
		"$SMTPD" --hostname mx.test --domain example.org; rc=$?
		ls /var/spool/smtpd/new >"$T/default.list"
		stat -c %a /var/spool/smtpd /var/spool/smtpd/tmp /var/spool/smtpd/new /var/spool/smtpd/cur >"$T/default.modes"
		exit $rc'
	check_default default
	[ "$(sort -u "$T/default.modes")" = 700 ] || fail "default spool modes: $(cat "$T/default.modes")"

	in_ns state 'mount -t tmpfs tmpfs /var/spool &&
		STATE_DIRECTORY=$T/state "$SMTPD" --hostname mx.test --domain example.org; rc=$?
		ls "$T/state/new" >"$T/state.list"
		[ -e /var/spool/smtpd ] && echo "/var/spool/smtpd created" >&2
		exit $rc'
	check_default state
	grep -q 'var/spool' "$T/state.err" && fail "STATE_DIRECTORY: /var/spool/smtpd was created"

	# --spool wins over STATE_DIRECTORY
	in_ns both 'mount -t tmpfs tmpfs /var/spool &&
		STATE_DIRECTORY=$T/state2 "$SMTPD" --spool "$T/both" --hostname mx.test --domain example.org; rc=$?
		ls "$T/both/new" >"$T/both.list"
		[ -e "$T/state2" ] && echo "STATE_DIRECTORY used" >&2
		exit $rc'
	check_default both
	grep -q 'STATE_DIRECTORY used' "$T/both.err" && fail "--spool: STATE_DIRECTORY was created too"

	# systemd joins several StateDirectory= entries with ':'; the first
	# is the spool (smtpd.c: "take the first").
	in_ns states 'mount -t tmpfs tmpfs /var/spool &&
		STATE_DIRECTORY=$T/first:$T/second "$SMTPD" --hostname mx.test --domain example.org; rc=$?
		ls "$T/first/new" >"$T/states.list"
		[ -e /var/spool/smtpd ] && echo "/var/spool/smtpd used" >&2
		exit $rc'
	check_default states
	grep -q 'var/spool' "$T/states.err" && fail "STATE_DIRECTORY=a:b: smtpd spooled into /var/spool/smtpd, not a"

	# Host name default: gethostname(), also the default --domain.
	printf 'HELO c\r\nMAIL FROM:<a@example.net>\r\nRCPT TO:<b@Host.Example>\r\nRCPT TO:<b@example.org>\r\nQUIT\r\n' >"$T/in"
	in_ns hostname 'hostname host.example && exec "$SMTPD" --spool "$T/hn"'
	[ $rc = 0 ] || fail "default host name: exit status $rc"
	expect_out hostname '220 host.example ESMTP smtpd\r\n250 host.example\r\n250 OK\r\n250 OK\r\n550 Relaying denied\r\n221 host.example Service closing transmission channel\r\n'
	# A system host name that is no domain is not put in a greeting.
	printf 'QUIT\r\n' >"$T/in"
	in_ns badhostname 'echo my_host >/proc/sys/kernel/hostname && exec "$SMTPD" --spool "$T/hn"'
	expect_out badhostname '220 localhost ESMTP smtpd\r\n221 localhost Service closing transmission channel\r\n'
fi

# A log file larger than --max-size plus the envelope: the file size limit
# smtpd sets for the spool must not cost it its log lines (every file of
# the process is under the limit).
printf 'HELO c\r\nMAIL FROM:<a@example.net>\r\nRCPT TO:<b@example.org>\r\nDATA\r\nhi\r\n.\r\nQUIT\r\n' >"$T/in"
truncate -s 20M "$T/big.log"
checks=$((checks + 1))
"$SMTPD" --spool "$T/biglog" --hostname mx.test --domain example.org --max-size 1000 <"$T/in" >"$T/biglog.out" 2>>"$T/big.log"
rc=$?
[ $rc = 0 ] || fail "log file over the size limit: exit status $rc"
grep -q '^250 OK: queued' "$T/biglog.out" || fail "log file over the size limit: message not queued"
tail -c 1000 "$T/big.log" | tr -d '\0' | grep -q 'accepted id=' ||
	fail "log file over the size limit: no 'accepted' line appended"
rm -f "$T/big.log" "$T/in"

# A file size limit that smtpd cannot raise (a hard limit set by whoever
# started it, lower than --max-size): the write past it fails with EFBIG,
# a 452 4.3.1, and the session ends normally.  Without SIGXFSZ ignored the
# kernel's signal kills smtpd mid-message instead (status 153), the client
# sees no reply and the partial file stays in tmp/.  As root, smtpd could
# raise the hard limit: it runs without CAP_SYS_RESOURCE here.
nocap=()
if [ "$(id -u)" = 0 ]; then
	nocap=(setpriv --inh-caps=-sys_resource --bounding-set=-sys_resource)
	"${nocap[@]}" true 2>/dev/null || nocap=(none)
fi
if ! command -v prlimit >/dev/null 2>&1 || [ "${nocap[*]}" = none ]; then
	echo "SKIP (part): no prlimit, or no setpriv to drop CAP_SYS_RESOURCE: the file size limit under --max-size is untested"
else
	checks=$((checks + 1))
	{
		printf 'EHLO c\r\nMAIL FROM:<a@example.net>\r\nRCPT TO:<b@example.org>\r\nDATA\r\nSubject: big\r\n\r\n'
		for i in $(seq 1000); do printf '%099d\r\n' "$i"; done
		printf '.\r\nQUIT\r\n'
	} >"$T/in"
	"${nocap[@]}" prlimit --fsize=20000 "$SMTPD" --spool "$T/fsize" --hostname mx.test \
		--domain example.org --max-size 1000000 <"$T/in" >"$T/fsize.out" 2>"$T/fsize.err"
	rc=$?
	[ $rc = 0 ] || fail "file size limit: exit status $rc, not 0: $(cat "$T/fsize.err")"
	grep -q "^452 4.3.1 Insufficient system storage; try again later$CR\$" "$T/fsize.out" ||
		fail "file size limit: no 452 4.3.1: $(cat -A "$T/fsize.out" | tail -3)"
	tail -1 "$T/fsize.out" | grep -q '^221 ' || fail "file size limit: the session did not end with 221"
	left=$(find "$T/fsize/tmp" "$T/fsize/new" -mindepth 1 2>&1)
	[ -z "$left" ] || fail "file size limit: the spool holds: $left"
	rm -f "$T/in"
fi

echo "t_cli: $checks runs, $failures failures"
[ $failures = 0 ]
