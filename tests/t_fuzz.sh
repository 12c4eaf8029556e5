#!/bin/bash
# t_fuzz.sh: the fuzz target in make check: every committed input
# (tests/fuzz/regressions/: inputs that once crashed; tests/fuzz/corpus/:
# the seed transcripts) replayed once, then a short bounded fuzzing run
# (T_FUZZ_SECONDS, default 20).  The target is built by clang with its own
# ASan and UBSan, so only the plain pass of make check runs it.
set -u
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
seconds=${T_FUZZ_SECONDS:-20}

if [ "${SMTPD_VARIANT:-plain}" != plain ]; then
	echo "SKIP: the fuzz target carries its own ASan/UBSan build; it runs in the plain pass only"
	exit 77
fi
if ! command -v "${CLANG:-clang}" >/dev/null 2>&1; then
	echo "SKIP: clang is not installed (packages: clang libclang-rt-14-dev)"
	exit 77
fi
out=$(mktemp -d /tmp/smtpd-tfuzz.XXXXXX) || exit 1
trap 'rm -rf "$out"' EXIT
export FUZZ_OUT=$out

FUZZ_OUT=$out "$SRCDIR/tests/fuzz/run.sh" --build >"$out/build.log" 2>&1
rc=$?
if [ $rc = 77 ]; then
	echo "SKIP: $(tail -1 "$out/build.log")"
	exit 77
elif [ $rc != 0 ]; then
	tail -20 "$out/build.log"
	echo "t_fuzz: cannot build the fuzz target"
	exit 1
fi

inputs=$(find "$SRCDIR/tests/fuzz/regressions" "$SRCDIR/tests/fuzz/corpus" -type f ! -name 'README*' | sort)
n=$(echo "$inputs" | grep -c .)
# shellcheck disable=SC2086
if ! FUZZ_NO_BUILD=1 "$SRCDIR/tests/fuzz/run.sh" --replay $inputs >"$out/replay.log" 2>&1; then
	grep -E 'Running:|ERROR|broken promise|SUMMARY' "$out/replay.log" | tail -20
	echo "t_fuzz: a committed input fails (see above)"
	exit 1
fi
echo "t_fuzz: $n committed inputs replayed"

FUZZ_NO_BUILD=1 "$SRCDIR/tests/fuzz/run.sh" "$seconds" >"$out/fuzz.log" 2>&1
rc=$?
grep -E '^stat::number_of_executed_units|^#[0-9]+.*DONE' "$out/fuzz.log" | tail -2
if [ $rc != 0 ]; then
	grep -E -A 30 'ERROR|broken promise|deadly signal' "$out/fuzz.log" | head -60
	for f in "$out"/crash-* "$out"/leak-* "$out"/timeout-* "$out"/oom-*; do
		[ -e "$f" ] || continue
		mkdir -p /tmp/smtpd-fuzz-crashes
		cp "$f" /tmp/smtpd-fuzz-crashes/
		echo "t_fuzz: input kept as /tmp/smtpd-fuzz-crashes/$(basename "$f"): add it to tests/fuzz/regressions/"
	done
	exit 1
fi
echo "t_fuzz: $seconds s of fuzzing found nothing"
