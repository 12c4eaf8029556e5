#!/bin/bash
# t_transcripts: golden transcripts through the real binary.
#
# Each tests/transcripts/NAME.in is fed whole on a pipe to
#   $SMTPD --spool <fresh dir> --hostname mx.test --domain example.org [NAME.args]
# (NAME.args, when present, holds more arguments, one per line).  What comes
# out is rendered as text and compared with NAME.exp; a mismatch prints
# `diff -u`.  The rendering (see tests/transcripts/README):
#   - smtpd's output, one reply line per line; every line must end in CRLF,
#     which is dropped (a line without it is marked " <no CR>");
#   - "exit N", smtpd's exit status;
#   - for each file in new/ (in delivery order) "== new/NAME", then its
#     bytes, a CR shown as "<CR>", a missing final LF as "<no LF>";
#     then "== tmp/NAME" for anything left in tmp/ (never expected).
# The queue id is masked as QUEUEID-N (N: the per-session counter) and the
# date of our Received: line as DATE.
#
# T_TRANSCRIPTS_UPDATE=1 writes NAME.exp from the output instead: read
# every line of the diff before committing one.
set -u
SMTPD=${SMTPD:-./smtpd}
case $SMTPD in /*) ;; *) SMTPD=$(pwd)/$SMTPD ;; esac
if [ ! -x "$SMTPD" ]; then
	echo "SKIP: no smtpd binary at $SMTPD"
	exit 77
fi
DIR=$(cd "$(dirname "$0")/transcripts" && pwd) || exit 1
unset REMOTE_ADDR TCPREMOTEIP REMOTE_HOST STATE_DIRECTORY LISTEN_FDS LISTEN_PID JOURNAL_STREAM
T=$(mktemp -d /tmp/smtpd-transcripts.XXXXXX) || exit 1
trap 'rm -rf "$T"' EXIT
export LC_ALL=C

mask() {
	sed -E -e 's/[0-9]+\.M[0-9]{6}P[0-9]+Q([0-9]+)/QUEUEID-\1/g' \
		-e '/^Received: from .* by mx\.test with E?SMTP id /s/; (Mon|Tue|Wed|Thu|Fri|Sat|Sun), [0-9]{1,2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} \+0000$/; DATE/'
}

# show FILE: a spooled file's bytes, CR and a missing final LF made visible.
show() {
	sed -e 's/\r/<CR>/g' "$1"
	[ -s "$1" ] && [ "$(tail -c 1 "$1" | od -An -c | tr -d ' ')" != '\n' ] && printf '<no LF>\n'
	return 0
}

render() {	# NAME SPOOL
	local name=$1 spool=$2 f
	sed -e 's/\r$//;t' -e 's/$/ <no CR>/' "$T/$name.raw" | mask
	# a last line without any line end
	[ -s "$T/$name.raw" ] && [ "$(tail -c 1 "$T/$name.raw" | od -An -c | tr -d ' ')" != '\n' ] &&
		printf '\n<no LF>\n'
	echo "exit $rc"
	if [ -d "$spool/new" ]; then
		for f in $(ls "$spool/new" | sort -t Q -k 2 -n); do
			echo "== new/$f" | mask
			show "$spool/new/$f" | mask
		done
	fi
	if [ -d "$spool/tmp" ]; then
		for f in $(ls "$spool/tmp"); do
			echo "== tmp/$f" | mask
		done
	fi
}

pass=0 failed=""
for input in "$DIR"/*.in; do
	name=$(basename "$input" .in)
	spool=$T/$name.spool
	args=()
	[ -f "$DIR/$name.args" ] && mapfile -t args <"$DIR/$name.args"
	cat "$input" | timeout 60 "$SMTPD" --spool "$spool" --hostname mx.test \
		--domain example.org "${args[@]}" >"$T/$name.raw" 2>"$T/$name.err"
	rc=$?
	render "$name" "$spool" >"$T/$name.out"
	if [ "${T_TRANSCRIPTS_UPDATE:-}" = 1 ]; then
		cp "$T/$name.out" "$DIR/$name.exp"
	fi
	if [ ! -f "$DIR/$name.exp" ]; then
		echo "FAIL: $name: no $name.exp"
		failed="$failed $name"
	elif diff -u "$DIR/$name.exp" "$T/$name.out" >"$T/$name.diff"; then
		pass=$((pass + 1))
	else
		echo "FAIL: $name"
		cat "$T/$name.diff"
		echo "--- stderr of $name:"
		cat "$T/$name.err"
		failed="$failed $name"
	fi
done
echo "t_transcripts: $pass passed${failed:+, failed:$failed}"
[ -z "$failed" ]
