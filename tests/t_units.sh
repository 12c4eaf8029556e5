#!/bin/bash
# t_units.sh: the shipped systemd units pass `systemd-analyze verify` with
# no output at all (it exits 0 on unknown or misplaced keys, so any output
# is a failure), and the service's exposure by `systemd-analyze security`
# is at most 1.0.  ExecStart= is pointed at the binary under test, since
# verify insists that it exists.
set -u
SRC=${SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
SMTPD=${SMTPD:-$SRC/smtpd}
ME=t_units.sh

command -v systemd-analyze >/dev/null ||
	{ echo "SKIP: $ME: no systemd-analyze (package systemd)"; exit 77; }
[ -x "$SMTPD" ] || { echo "FAIL: $ME: no binary $SMTPD"; exit 1; }

W=$(mktemp -d) || exit 1
trap 'rm -rf "$W"' EXIT
bad=0

grep -q '^ExecStart=/usr/sbin/smtpd$' "$SRC/units/smtpd@.service" ||
	{ echo "FAIL: smtpd@.service: ExecStart= is not /usr/sbin/smtpd"; bad=1; }
sed "s|^ExecStart=/usr/sbin/smtpd|ExecStart=$SMTPD|" "$SRC/units/smtpd@.service" >"$W/smtpd@.service"
cp "$SRC/units/smtpd.socket" "$W/smtpd.socket"

# --man=no: Documentation=man:smtpd(8) would make verify run man(1).
out=$(cd "$W" && systemd-analyze verify --man=no ./smtpd.socket ./smtpd@.service 2>&1)
rc=$?
if [ $rc = 0 ] && [ -z "$out" ]; then
	echo "ok: systemd-analyze verify: silent"
else
	echo "FAIL: systemd-analyze verify (exit $rc):"
	printf '%s\n' "$out"
	bad=1
fi

# The checker itself must object to a unit that is wrong, or the check
# above proves nothing.
# The typo's service exists, so that what verify says is about the key.
sed 's/^Accept=yes/Acept=yes/' "$W/smtpd.socket" >"$W/typo.socket"
cp "$W/smtpd@.service" "$W/typo@.service"
out=$(cd "$W" && systemd-analyze verify --man=no ./typo.socket ./typo@.service 2>&1)
printf '%s\n' "$out" | grep -Eq "Unknown key (name )?'Acept'" ||
	{ echo "FAIL: verify does not name a misspelt key:"; printf '%s\n' "$out"; bad=1; }

# --threshold is in tenths: 10 means an exposure of 1.0.
out=$(cd "$W" && systemd-analyze security --offline=yes --threshold=10 ./smtpd@.service 2>&1)
rc=$?
level=$(printf '%s\n' "$out" | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
if [ $rc = 0 ] && [ -n "$level" ]; then
	echo "ok: systemd-analyze security: exposure $level (at most 1.0)"
else
	printf '%s\n' "$out" | grep '✗'
	echo "FAIL: systemd-analyze security: exposure '${level:-?}' (exit $rc), over 1.0"
	bad=1
fi

# Every directive of [Service] and [Socket] carries its reason: it follows
# a comment, or another directive of a group that a comment opens.
awk '
	/^#/ { commented = 1; next }
	/^$/ { commented = 0; next }
	/^\[/ { commented = 0; section = $0; next }
	/^[A-Za-z]+=/ && !commented && (section == "[Service]" || section == "[Socket]") {
		print "FAIL: " FILENAME ": no comment says why: " $0; bad = 1 }
	END { exit bad }' "$SRC/units/smtpd@.service" "$SRC/units/smtpd.socket" || bad=1

# The spool the unit may write is the one tmpfiles creates and the
# account sysusers creates is the one it runs as.
rw=$(sed -n 's/^ReadWritePaths=//p' "$SRC/units/smtpd@.service")
user=$(sed -n 's/^User=//p' "$SRC/units/smtpd@.service")
grep -q "^d $rw  *0750 $user $user" "$SRC/units/smtpd.tmpfiles" ||
	{ echo "FAIL: smtpd.tmpfiles does not create $rw for $user"; bad=1; }
grep -q "^u $user " "$SRC/units/smtpd.sysusers" ||
	{ echo "FAIL: smtpd.sysusers does not create $user"; bad=1; }
[ $bad = 0 ] && echo "ok: units, sysusers and tmpfiles agree"
exit $bad
