#!/bin/bash
# t_build: how make links smtpd, as the README and the Makefile promise.
#   make (LINK=static): a static PIE (no program interpreter, so no shared
#   library is loaded per connection), full RELRO (GNU_RELRO and BIND_NOW),
#   no executable stack;
#   make dynamic (LINK=dynamic): linked to libc alone, never to libsystemd
#   (it is loaded with dlopen only under LISTEN_FDS), partial RELRO;
#   both answer a greeting and QUIT.
# Uses $SMTPD (the plain pass's ./smtpd) and $SRCDIR/build/dynamic/smtpd.
set -u
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
SMTPD=${SMTPD:-$SRCDIR/smtpd}
DYN=$SRCDIR/build/dynamic/smtpd
if ! command -v readelf >/dev/null 2>&1; then
	echo "SKIP: no readelf (binutils)"
	exit 77
fi
if [ "${SMTPD_VARIANT:-plain}" != plain ]; then
	echo "SKIP: the ${SMTPD_VARIANT} build is linked its own way; the shipped ones are tested in the plain pass"
	exit 77
fi
T=$(mktemp -d /tmp/smtpd-t_build.XXXXXX) || exit 1
trap 'rm -rf "$T"' EXIT
failures=0
checks=0
fail() {
	echo "FAIL: $*"
	failures=$((failures + 1))
}

# greets BINARY: a greeting and QUIT on a pipe, answered 220 then 221.
greets() {
	checks=$((checks + 1))
	printf 'QUIT\r\n' | "$1" --spool "$T/spool" --hostname build.example >"$T/out" 2>/dev/null
	local got
	got=$(cut -c1-4 "$T/out" | tr -d '\r' | tr '\n' ' ')
	[ "$got" = "220  221  " ] || fail "$1: greeting and QUIT answered '$got'"
}

# elf BINARY: its program headers and dynamic section, in $T/ph and $T/dyn.
elf() {
	readelf -lW "$1" >"$T/ph" 2>&1 || fail "readelf -l $1"
	readelf -dW "$1" >"$T/dyn" 2>&1 || fail "readelf -d $1"
}

if [ ! -x "$SMTPD" ]; then
	fail "no $SMTPD"
else
	elf "$SMTPD"
	checks=$((checks + 1))
	grep -q 'program interpreter' "$T/ph" && fail "$SMTPD has a program interpreter: not linked statically"
	grep -q 'NEEDED' "$T/dyn" && fail "$SMTPD needs shared libraries: $(grep NEEDED "$T/dyn")"
	grep -q '^Elf file type is DYN' "$T/ph" || fail "$SMTPD is not position independent: $(grep 'file type' "$T/ph")"
	grep -q 'GNU_RELRO' "$T/ph" || fail "$SMTPD has no RELRO segment"
	grep -Eq 'BIND_NOW|FLAGS.*NOW' "$T/dyn" || fail "$SMTPD: no BIND_NOW, so RELRO is partial"
	grep 'GNU_STACK' "$T/ph" | grep -q 'RWE' && fail "$SMTPD has an executable stack"
	greets "$SMTPD"
fi

if [ ! -x "$DYN" ]; then
	fail "no $DYN (make dynamic)"
else
	elf "$DYN"
	checks=$((checks + 1))
	grep -q 'program interpreter' "$T/ph" || fail "$DYN has no program interpreter"
	needed=$(sed -n 's/.*Shared library: \[\(.*\)\].*/\1/p' "$T/dyn" | tr '\n' ' ')
	[ "$needed" = "libc.so.6 " ] || fail "$DYN needs '$needed', not libc.so.6 alone"
	grep -q 'GNU_RELRO' "$T/ph" || fail "$DYN has no RELRO segment"
	grep 'GNU_STACK' "$T/ph" | grep -q 'RWE' && fail "$DYN has an executable stack"
	greets "$DYN"
fi

echo "t_build: $checks checks, $failures failures"
[ $failures = 0 ]
