#!/bin/bash
# t_crash.sh: crash consistency.  smtpd is killed with SIGKILL at random
# moments of many sessions delivering messages into one spool; every 250
# must be in new/ complete, and new/ never holds a partial file.  The work
# is tests/fault/crash.py.  Bounded for make check (20 s); for a long run:
#   T_CRASH_ITERATIONS=2000 T_CRASH_SECONDS=600 tests/t_crash.sh
# T_CRASH_SEED=n replays the random moments of an earlier run.
set -u
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
SMTPD=${SMTPD:-$SRCDIR/smtpd}
export SMTPD SRCDIR
if ! command -v python3 >/dev/null 2>&1; then
	echo "SKIP: python3 is not installed"
	exit 77
fi
python3 "$SRCDIR/tests/fault/crash.py"
