#!/bin/bash
# check.sh: every test, as `make check` runs it.
#  1. the Check unit tests (tests/check_*.c), then again under valgrind;
#  2. every executable tests/t_*.{sh,py}: integration tests of the real
#     binary (exit 0 pass, 77 skip with a reason printed, else fail);
#  3. 1 and 2 again on the ASan+UBSan build.
# The last line is the summary: "N passed, N failed, N skipped".
set -u
cd "$(dirname "$0")/.." || exit 1
SRC=$(pwd)
MAKE=${MAKE:-make}
pass=0 fail=0 skip=0
failed_names=""

result() {	# name status
	case $2 in
	0) pass=$((pass + 1)); echo "PASS: $1" ;;
	77) skip=$((skip + 1)); echo "SKIP: $1" ;;
	*) fail=$((fail + 1)); failed_names="$failed_names $1"; echo "FAIL: $1 (status $2)" ;;
	esac
}

run_suite() {	# label prefix(B)
	local label=$1 b=$2 t rc
	"$SRC/${b}tests/check_smtpd"
	result "$label unit tests" $?
	if [ -z "$b" ] && command -v valgrind >/dev/null 2>&1 && [ "${SMTPD_NO_VALGRIND:-}" != 1 ]; then
		CK_FORK=no valgrind -q --error-exitcode=99 --leak-check=full \
			--errors-for-leak-kinds=definite "$SRC/tests/check_smtpd" >/tmp/smtpd-valgrind.log 2>&1
		rc=$?
		[ $rc = 0 ] || tail -40 /tmp/smtpd-valgrind.log
		result "$label unit tests under valgrind" $rc
	fi
	for t in "$SRC"/tests/t_*; do
		[ -x "$t" ] || continue
		case $t in *.sh|*.py) ;; *) continue ;; esac
		SMTPD="$SRC/${b}smtpd" SRCDIR="$SRC" BUILD="$SRC/$b" SMTPD_VARIANT="$label" \
			timeout 900 "$t"
		rc=$?	# before $(basename ...), which resets $?
		result "$label $(basename "$t")" $rc
	done
}

# build/dynamic/smtpd: the shared-library build, for t_faults' shim.
$MAKE -s all tests/check_smtpd dynamic || { echo "0 passed, 1 failed"; exit 1; }
run_suite plain ""
if [ "${SMTPD_NO_ASAN:-}" != 1 ]; then
	if $MAKE -s asan >/tmp/smtpd-asan-build.log 2>&1; then
		ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
			run_suite asan build/asan/
	else
		tail -20 /tmp/smtpd-asan-build.log
		result "asan build" 1
	fi
fi
echo
[ $fail = 0 ] || echo "failed:$failed_names"
echo "$pass passed, $fail failed, $skip skipped"
[ $fail = 0 ]
