#!/bin/bash
# run.sh: build the libFuzzer target tests/fuzz/fuzz_session.c with clang
# (-fsanitize=fuzzer,address,undefined) and run it for SECONDS (default 60),
# seeded from tests/fuzz/corpus/ and tests/fuzz/regressions/.
#   tests/fuzz/run.sh [SECONDS]          (make fuzz FUZZ_SECONDS=n)
#   tests/fuzz/run.sh --replay FILE...   run the given inputs once each
#   tests/fuzz/run.sh --build            only build; prints the binary's path
# Environment: FUZZ_OUT (build and work directory, default build/fuzz),
# FUZZ_ARGS (more libFuzzer options), CLANG (default clang), FUZZ_NO_BUILD=1
# (use the binary already in FUZZ_OUT).
# New inputs found go to $FUZZ_OUT/corpus (the committed corpus is not
# touched); crashes to $FUZZ_OUT/crash-*: copy each one, once understood,
# into tests/fuzz/regressions/, which tests/t_fuzz.sh replays.
set -eu
cd "$(dirname "$0")/../.."
SRC=$(pwd)
CLANG=${CLANG:-clang}
OUT=${FUZZ_OUT:-$SRC/build/fuzz}
mkdir -p "$OUT"

build() {
	local srcs="" f flags libs=""
	# Every library file of smtpd: all but the program's edge.
	for f in *.c; do
		case $f in smtpd.c|listen.c) continue ;; esac
		srcs="$srcs $f"
	done
	if [ -f users.c ]; then
		flags="$(pkg-config --cflags libcdb 2>/dev/null || true)"
		libs="-l:libcdb.a"
	else
		flags=""
	fi
	# shellcheck disable=SC2086
	"$CLANG" -std=c11 -D_GNU_SOURCE -g -O1 -I. -Itests $flags \
		-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
		-fno-omit-frame-pointer \
		-o "$OUT/fuzz_session.new" tests/fuzz/fuzz_session.c $srcs $libs
	mv "$OUT/fuzz_session.new" "$OUT/fuzz_session"
}

# The fuzzer needs its runtime; say so plainly when it is missing.
if ! echo 'int LLVMFuzzerTestOneInput(const char *d, long n){(void)d;(void)n;return 0;}' |
	"$CLANG" -x c -fsanitize=fuzzer -o "$OUT/probe" - >/dev/null 2>&1; then
	echo "run.sh: $CLANG cannot link -fsanitize=fuzzer (install clang and libclang-rt-14-dev)" >&2
	exit 77
fi
rm -f "$OUT/probe"
if [ "${FUZZ_NO_BUILD:-0}" != 1 ] || [ ! -x "$OUT/fuzz_session" ]; then
	build
fi

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
work=$(mktemp -d /tmp/smtpd-fuzz-run.XXXXXX)
trap 'rm -rf "$work"' EXIT
export SMTPD_FUZZ_TMP=$work

case ${1:-} in
--build)
	echo "$OUT/fuzz_session"
	exit 0
	;;
--replay)
	shift
	[ $# -gt 0 ] || exit 0
	"$OUT/fuzz_session" -runs=1 "$@"
	exit $?
	;;
esac

seconds=${1:-60}
mkdir -p "$OUT/corpus"
# shellcheck disable=SC2086
"$OUT/fuzz_session" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
	-max_len=16384 -dict=tests/fuzz/smtp.dict -print_final_stats=1 -artifact_prefix="$OUT/" \
	${FUZZ_ARGS:-} "$OUT/corpus" tests/fuzz/corpus tests/fuzz/regressions
