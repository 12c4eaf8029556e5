#!/bin/bash
# t_faults.sh: storage faults injected with an LD_PRELOAD shim
# (tests/fault/faultinject.c): for each step of a delivery (open, write,
# write-behind, fsync, close, rename, fsync of new/, splice of a batch) and
# each errno (ENOSPC, EDQUOT, EIO; a write returning 0 is a full disk) the
# right 4xx, no partial or orphan file in tmp/ or new/, and the session
# going on to store the next message intact.  The matrix itself is
# tests/fault/faults.py.
# A static smtpd (the default build) has no dynamic loader to honour
# LD_PRELOAD, so its faults are injected into the same sources linked to
# the shared C library: build/dynamic/smtpd, which check.sh builds with
# `make dynamic`.
set -u
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
SMTPD=${SMTPD:-$SRCDIR/smtpd}
if ! readelf -l "$SMTPD" 2>/dev/null | grep -q 'program interpreter'; then
	echo "t_faults: $SMTPD is linked statically; injecting into $SRCDIR/build/dynamic/smtpd"
	SMTPD=$SRCDIR/build/dynamic/smtpd
	if [ ! -x "$SMTPD" ]; then
		echo "SKIP: no $SMTPD to preload the shim into: run make dynamic"
		exit 77
	fi
fi
export SMTPD SRCDIR

if ! command -v python3 >/dev/null 2>&1; then
	echo "SKIP: python3 is not installed"
	exit 77
fi
work=$(mktemp -d /tmp/smtpd-faults.XXXXXX) || exit 1
trap 'rm -rf "$work"' EXIT
if ! ${CC:-cc} -std=c11 -O1 -Wall -Wextra -Werror -shared -fPIC \
	-o "$work/faultinject.so" "$SRCDIR/tests/fault/faultinject.c" -ldl; then
	echo "t_faults: cannot build the shim"
	exit 1
fi

# A sanitized smtpd needs its runtime first in the preload list: libasan
# must come before any other interposer.
first=""
if ldd "$SMTPD" 2>/dev/null | grep -q 'libasan\.so'; then
	first=$(ldd "$SMTPD" | awk '/libasan\.so/ {print $3; exit}')
	if [ ! -e "$first" ]; then
		echo "SKIP: $SMTPD uses ASan, but its libasan cannot be found to preload"
		exit 77
	fi
elif [ "${SMTPD_VARIANT:-plain}" != plain ] && nm "$SMTPD" 2>/dev/null | grep -q '__asan_init'; then
	echo "SKIP: $SMTPD links ASan statically: an LD_PRELOAD shim cannot go before it"
	exit 77
fi
python3 "$SRCDIR/tests/fault/faults.py" "$work/faultinject.so" "$first"
