#!/bin/bash
# measure.sh [N]: time and instructions (callgrind) to open a users table
# of N entries (default 1,000,000) and look up one address, text form vs
# cdb form.  Needs the objects of `make` (users*.o, address.o) and
# valgrind.  Not run by `make check`: it takes a minute and a few hundred
# megabytes of /tmp.
set -eu
N=${1:-1000000}
SRC=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d /tmp/users-measure.XXXXXX)
trap 'rm -rf "$T"' EXIT
make -s -C "$SRC" smtpd
# shellcheck disable=SC2046 # pkg-config prints several words, or none
cc -O2 -g -I"$SRC" $(pkg-config --cflags libcdb) -o "$T/measure" "$SRC/tests/users/measure.c" \
	"$SRC"/users*.o "$SRC/address.o" -l:libcdb.a

# N entries: accept with a name, one in 10 a forward, one in 100 a group
# of 10 members; 1000 domains.
awk -v n="$N" 'BEGIN {
	for (i = 0; i < n; i++) {
		d = i % 1000
		if (i % 100 == 99) {
			printf "list%d@d%d.example group", i, d
			for (j = 1; j <= 10; j++) printf " user%d@d%d.example", i - j, (i - j) % 1000
			printf "\n"
		} else if (i % 10 == 9)
			printf "user%d@d%d.example forward user%d@elsewhere.example\n", i, d, i
		else
			printf "user%d@d%d.example accept Person Number%d\n", i, d, i
	}
}' > "$T/users"
printf 'table: %d entries, %s bytes of text\n' "$N" "$(stat -c %s "$T/users")"
s=$(date +%s.%N); "$T/measure" compile "$T/users"; e=$(date +%s.%N)
printf 'compile: %s s, %s bytes of cdb\n' "$(awk -v s="$s" -v e="$e" 'BEGIN { printf "%.2f", e - s }')" \
	"$(stat -c %s "$T/users.cdb")"

ADDR="user$((N / 2 + 1))+tag@d$(((N / 2 + 1) % 1000)).example"
for form in users users.cdb; do
	"$T/measure" lookup "$T/$form" "$ADDR" >/dev/null	# warm the page cache
	best='' first=''
	for _ in 1 2 3 4 5; do
		"$T/measure" lookup "$T/$form" "$ADDR" >"$T/out"
		t=$(sed 's/.*, \([0-9]*\) us$/\1/' "$T/out")
		[ -n "$first" ] || first=$(sed 's/, [0-9]* us$//' "$T/out")
		if [ -z "$best" ] || [ "$t" -lt "$best" ]; then best=$t; fi
	done
	valgrind --tool=callgrind --callgrind-out-file="$T/cg" --toggle-collect='lookup*' \
		"$T/measure" lookup "$T/$form" "$ADDR" >/dev/null 2>"$T/cg.log"
	ir=$(sed -n 's/^summary: //p' "$T/cg")
	valgrind --tool=callgrind --callgrind-out-file="$T/cg2" \
		"$T/measure" lookup "$T/$form" "$ADDR" >/dev/null 2>"$T/cg.log"
	all=$(sed -n 's/^summary: //p' "$T/cg2")
	printf '%-9s %s\n          open+lookup+expand+free: %d us (best of 5), %s instructions (the whole process: %s)\n' \
		"$form" "$first" "$best" "$ir" "$all"
done
