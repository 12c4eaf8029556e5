#!/bin/bash
# t_manpage.sh: smtpd.8 is lint-clean for mandoc, documents every option
# that `smtpd --help` lists and no option that it does not, and has the
# sections an operator looks for.
set -u
ME=t_manpage.sh
SRC=${SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
SMTPD=${SMTPD:-$SRC/smtpd}
PAGE=$SRC/smtpd.8
command -v mandoc >/dev/null || { echo "SKIP: $ME: no mandoc (package mandoc)"; exit 77; }
[ -f "$PAGE" ] || { echo "FAIL: $ME: no smtpd.8"; exit 1; }
bad=0

# Errors and warnings: none.  Style notes: none, but for cross references
# to pages this machine happens not to have installed.
out=$(mandoc -T lint "$PAGE" 2>&1 | grep -v 'referenced manual not found\|mandoc\.db')
if [ -n "$out" ]; then
	echo "FAIL: mandoc -T lint:"; printf '%s\n' "$out"; bad=1
else
	echo "ok: mandoc -T lint"
fi

help_opts=$("$SMTPD" --help | grep -o '^  --[a-z-]*' | sed 's/^ *--//' | sort -u)
page_opts=$(sed -n 's/^\.It Fl \\-\([a-z\\-]*\).*/\1/p' "$PAGE" | sed 's/\\-/-/g' | sort -u)
[ -n "$help_opts" ] || { echo "FAIL: no options in --help"; bad=1; }
missing=$(comm -23 <(printf '%s\n' "$help_opts") <(printf '%s\n' "$page_opts"))
stale=$(comm -13 <(printf '%s\n' "$help_opts") <(printf '%s\n' "$page_opts"))
[ -z "$missing" ] || { echo "FAIL: options in --help but not in smtpd.8:" $missing; bad=1; }
[ -z "$stale" ] || { echo "FAIL: options in smtpd.8 but not in --help:" $stale; bad=1; }
[ -z "$missing$stale" ] && echo "ok: smtpd.8 documents the $(printf '%s\n' "$help_opts" | wc -l) options of --help"

for sec in NAME SYNOPSIS DESCRIPTION OPTIONS TRANSPARENCY LIMITS ENVIRONMENT FILES \
	   LOGGING "EXIT STATUS" SUPERVISORS HARDENING STANDARDS SECURITY; do
	grep -qx "\.Sh $sec" "$PAGE" || { echo "FAIL: no section $sec"; bad=1; }
done
for v in STATE_DIRECTORY LISTEN_FDS LISTEN_PID REMOTE_ADDR TCPREMOTEIP REMOTE_HOST JOURNAL_STREAM; do
	grep -q "^\.It .*Ev $v\b" "$PAGE" || { echo "FAIL: ENVIRONMENT lacks $v"; bad=1; }
done
for rfc in 5321 1870 2920 2034 3463 6152 5322; do
	grep -qx "\.%R RFC $rfc" "$PAGE" || { echo "FAIL: STANDARDS lacks RFC $rfc"; bad=1; }
done
if grep -n '@[A-Z]*@' "$PAGE"; then echo "FAIL: placeholder left"; bad=1; fi
[ $bad = 0 ] && echo "ok: sections, environment, standards"
exit $bad
