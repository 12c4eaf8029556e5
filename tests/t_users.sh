#!/bin/bash
# t_users: the users table of issue 3 through the real binary.
#   --users with a text table and with its cdb: the same RCPT, VRFY and
#   EXPN replies and the same spooled file; --check-users on a clean and a
#   broken table (every error with its line, exit status); --compile-users
#   (atomic: a reader of the old cdb keeps it, no temporary file is left,
#   a broken table leaves the old cdb alone); a broken, damaged or missing
#   table: 421, the reason logged with file and line, exit 1, nothing
#   spooled; an edited table takes effect at the next connection; the
#   options that need --users; `make users.cdb` in a copy of the tree.
# Uses $SMTPD (default ./smtpd) and $SRCDIR (default .).
set -u
SMTPD=${SMTPD:-./smtpd}
SRCDIR=${SRCDIR:-.}
case $SMTPD in /*) ;; *) SMTPD=$(pwd)/$SMTPD ;; esac
case $SRCDIR in /*) ;; *) SRCDIR=$(pwd)/$SRCDIR ;; esac
if [ ! -x "$SMTPD" ]; then
	echo "SKIP: no smtpd binary at $SMTPD"
	exit 77
fi
unset REMOTE_ADDR TCPREMOTEIP REMOTE_HOST STATE_DIRECTORY LISTEN_FDS LISTEN_PID JOURNAL_STREAM
T=$(mktemp -d /tmp/smtpd-t_users.XXXXXX) || exit 1
trap 'rm -rf "$T"' EXIT
failures=0
checks=0

fail() {
	echo "FAIL: $*"
	failures=$((failures + 1))
}

# same NAME WANT-FILE GOT-FILE: the files are equal, else the difference.
same() {
	checks=$((checks + 1))
	cmp -s "$2" "$3" || {
		fail "$1 differs"
		diff -u "$2" "$3" | cat -A | head -40
	}
}

# status NAME WANT GOT
status() {
	checks=$((checks + 1))
	[ "$2" = "$3" ] || fail "$1: exit status $3, not $2"
}

# The conversation: smtpd on $T/NAME.in (CRLF lines given as arguments),
# replies in $T/NAME.out with queue ids as ID, log in $T/NAME.err with the
# pid as PID, status in $rc.  Options after the name; spool $T/spool.
converse() {
	local name=$1
	shift
	"$SMTPD" --spool "$T/spool" --hostname mx.test --domain example.org \
		--domain catchall.example "$@" <"$T/$name.in" >"$T/$name.raw" 2>"$T/$name.err.raw"
	rc=$?
	sed 's/queued as [0-9]*\.M[0-9]*P[0-9]*Q[0-9]*/queued as ID/' "$T/$name.raw" >"$T/$name.out"
	sed 's/^smtpd\[[0-9]*\]: /smtpd[PID]: /' "$T/$name.err.raw" >"$T/$name.err"
}

# lines FILE LINE...: FILE holds the lines, each ended by CRLF.
crlf() {
	local f=$1
	shift
	: >"$f"
	for l in "$@"; do printf '%s\r\n' "$l" >>"$f"; done
}

# The names in directory $1 (hidden ones too), sorted, each followed by
# a space.
listing() {
	local f
	for f in "$1"/.* "$1"/*; do
		case ${f##*/} in .|..) continue ;; esac
		[ -e "$f" ] && printf '%s ' "${f##*/}"
	done
}

# The spooled messages in queue id order (the order they came), queue ids
# and dates made constant; then the spool is emptied.
spooled() {
	local f
	for f in "$T/spool/new"/*; do
		[ -e "$f" ] || continue
		sed -e 's/ id [0-9]*\.M[0-9]*P[0-9]*Q[0-9]*/ id ID/' \
		    -e 's/; [A-Z][a-z][a-z], [0-9][0-9]* [A-Z][a-z][a-z] [0-9]* [0-9:]* [-+][0-9]*$/; DATE/' \
		    "$f"
		echo "--"
	done
	rm -f "$T/spool/new/"* "$T/spool/cur/"*
	[ -z "$(listing "$T/spool/tmp")" ] || fail "files left in tmp/: $(listing "$T/spool/tmp")"
}

mkdir -p "$T/tab"
cat >"$T/tab/users" <<'EOF'
# t_users.sh
alice@example.org      accept   Alice Smith
fred@example.org       accept   Fred Smith
Bob@Example.org        forward  bob@elsewhere.example
carol@example.org      moved    carol@newplace.example
team@example.org       group    alice@example.org fred@example.org
staff@example.org      group    team@example.org bob@example.org partner@other.example
@catchall.example      accept
EOF

# ---- the text table and its cdb: the same conversation ----

"$SMTPD" --compile-users "$T/tab/users" >"$T/compile.out" 2>"$T/compile.err"
status "--compile-users" 0 $?
printf 'smtpd: wrote %s\n' "$T/tab/users.cdb" >"$T/compile.want"
same "--compile-users stdout" "$T/compile.want" "$T/compile.out"
: >"$T/empty"
same "--compile-users stderr" "$T/empty" "$T/compile.err"
[ "$(listing "$T/tab")" = "users users.cdb " ] ||
	fail "--compile-users left: $(listing "$T/tab")"

crlf "$T/main.in" \
	"EHLO client.example" \
	"VRFY alice@example.org" \
	"VRFY bob" \
	"VRFY carol" \
	"VRFY smith" \
	"VRFY zed" \
	"VRFY x@catchall.example" \
	"EXPN staff" \
	"EXPN alice" \
	"MAIL FROM:<s@sender.example>" \
	"RCPT TO:<staff@example.org>" \
	"RCPT TO:<alice+news@example.org>" \
	"RCPT TO:<Bob@example.org>" \
	"RCPT TO:<carol@example.org>" \
	"RCPT TO:<zed@example.org>" \
	"RCPT TO:<postmaster@example.org>" \
	"RCPT TO:<Someone@catchall.example>" \
	"RCPT TO:<team@example.org>" \
	"DATA" \
	"Subject: users" \
	"" \
	"to the staff" \
	"." \
	"QUIT"
crlf "$T/main.want" \
	"220 mx.test ESMTP smtpd" \
	"250-mx.test" \
	"250-SIZE 10485760" \
	"250-8BITMIME" \
	"250-PIPELINING" \
	"250-ENHANCEDSTATUSCODES" \
	"250-SOML" \
	"250-SAML" \
	"250-VRFY" \
	"250-EXPN" \
	"250 HELP" \
	"250 2.1.5 Alice Smith <alice@example.org>" \
	"251 2.1.5 User not local; will forward to <bob@elsewhere.example>" \
	"551 5.1.6 User not local; please try <carol@newplace.example>" \
	"553-5.1.4 User ambiguous; possibilities are" \
	"553-5.1.4 Alice Smith <alice@example.org>" \
	"553 5.1.4 Fred Smith <fred@example.org>" \
	"550 5.1.1 String does not match anything" \
	"252 2.0.0 Cannot VRFY user, but will accept message and attempt delivery" \
	"250-2.1.5 Alice Smith <alice@example.org>" \
	"250-2.1.5 Fred Smith <fred@example.org>" \
	"250-2.1.5 <bob@elsewhere.example>" \
	"250 2.1.5 <partner@other.example>" \
	"550 5.1.1 Not a mailing list: <alice@example.org>" \
	"250 2.1.0 OK" \
	"250 2.1.5 OK" \
	"250 2.1.5 OK" \
	"251 2.1.5 User not local; will forward to <bob@elsewhere.example>" \
	"551 5.1.6 User not local; please try <carol@newplace.example>" \
	"550 5.1.1 No such user here" \
	"250 2.1.5 OK" \
	"250 2.1.5 OK" \
	"250 2.1.5 OK" \
	"354 Start mail input; end with <CRLF>.<CRLF>" \
	"250 2.0.0 OK: queued as ID" \
	"221 2.0.0 mx.test Service closing transmission channel"
cat >"$T/main.file" <<'EOF'
Return-Path: <s@sender.example>
X-Original-To: <alice@example.org>
X-Original-To: <fred@example.org>
X-Original-To: <bob@elsewhere.example>
X-Original-To: <partner@other.example>
X-Original-To: <alice+news@example.org>
X-Original-To: <postmaster@example.org>
X-Original-To: <Someone@catchall.example>
Received: from client.example (local) by mx.test with ESMTP id ID; DATE
Subject: users

to the staff
--
EOF
for form in users users.cdb; do
	converse main "--users=$T/tab/$form" --vrfy --expn --recipient-delimiter +
	status "conversation with $form" 0 $rc
	same "replies with $form" "$T/main.want" "$T/main.out"
	spooled >"$T/main.got"
	same "spooled file with $form" "$T/main.file" "$T/main.got"
done

# Without --vrfy and --expn the table answers only RCPT: VRFY 252,
# EXPN 502, neither in EHLO.
crlf "$T/off.in" "EHLO c" "VRFY alice@example.org" "VRFY zed" "EXPN staff" "QUIT"
crlf "$T/off.want" \
	"220 mx.test ESMTP smtpd" \
	"250-mx.test" \
	"250-SIZE 10485760" \
	"250-8BITMIME" \
	"250-PIPELINING" \
	"250-ENHANCEDSTATUSCODES" \
	"250-SOML" \
	"250-SAML" \
	"250 HELP" \
	"252 2.0.0 Cannot VRFY user, but will accept message and attempt delivery" \
	"252 2.0.0 Cannot VRFY user, but will accept message and attempt delivery" \
	"502 5.5.1 Command not implemented" \
	"221 2.0.0 mx.test Service closing transmission channel"
for form in users users.cdb; do
	converse off --users "$T/tab/$form"
	status "VRFY and EXPN off, $form" 0 $rc
	same "VRFY and EXPN off, $form" "$T/off.want" "$T/off.out"
done

# After HELO: the same answers without enhanced codes.
crlf "$T/helo.in" "HELO c" "VRFY fred" "EXPN team" "MAIL FROM:<>" \
	"RCPT TO:<carol@example.org>" "RCPT TO:<nobody@example.org>" \
	"RCPT TO:<bob@example.org>" "QUIT"
crlf "$T/helo.want" \
	"220 mx.test ESMTP smtpd" \
	"250 mx.test" \
	"250 Fred Smith <fred@example.org>" \
	"250-Alice Smith <alice@example.org>" \
	"250 Fred Smith <fred@example.org>" \
	"250 OK" \
	"551 User not local; please try <carol@newplace.example>" \
	"550 No such user here" \
	"251 User not local; will forward to <bob@elsewhere.example>" \
	"221 mx.test Service closing transmission channel"
for form in users users.cdb; do
	converse helo --users "$T/tab/$form" --vrfy --expn
	status "after HELO, $form" 0 $rc
	same "after HELO, $form" "$T/helo.want" "$T/helo.out"
done

# --max-recipients counts spooled recipients: staff@ is four.
crlf "$T/max.in" "EHLO c" "MAIL FROM:<>" "RCPT TO:<team@example.org>" \
	"RCPT TO:<staff@example.org>" "RCPT TO:<x@catchall.example>" \
	"RCPT TO:<y@catchall.example>" "DATA" "m" "." "QUIT"
crlf "$T/max.want" \
	"220 mx.test ESMTP smtpd" \
	"250-mx.test" \
	"250-SIZE 10485760" \
	"250-8BITMIME" \
	"250-PIPELINING" \
	"250-ENHANCEDSTATUSCODES" \
	"250-SOML" \
	"250-SAML" \
	"250 HELP" \
	"250 2.1.0 OK" \
	"250 2.1.5 OK" \
	"452 4.5.3 Too many recipients" \
	"250 2.1.5 OK" \
	"452 4.5.3 Too many recipients" \
	"354 Start mail input; end with <CRLF>.<CRLF>" \
	"250 2.0.0 OK: queued as ID" \
	"221 2.0.0 mx.test Service closing transmission channel"
cat >"$T/max.file" <<'EOF'
Return-Path: <>
X-Original-To: <alice@example.org>
X-Original-To: <fred@example.org>
X-Original-To: <x@catchall.example>
Received: from c (local) by mx.test with ESMTP id ID; DATE
m
--
EOF
for form in users users.cdb; do
	converse max --users "$T/tab/$form" --max-recipients 3
	status "--max-recipients, $form" 0 $rc
	same "--max-recipients, $form" "$T/max.want" "$T/max.out"
	spooled >"$T/max.got"
	same "--max-recipients file, $form" "$T/max.file" "$T/max.got"
	checks=$((checks + 1))
	grep -q 'can never be accepted' "$T/max.err" && fail "--max-recipients, $form: a warning for a list that fits alone"
done

# A list that alone expands past --max-recipients gets the same 452, and
# the log tells the operator, since no retry can help.
crlf "$T/huge.in" "HELO c" "MAIL FROM:<>" "RCPT TO:<staff@example.org>" "QUIT"
for form in users users.cdb; do
	converse huge --users "$T/tab/$form" --max-recipients 3
	checks=$((checks + 1))
	grep -q '^452 Too many recipients' "$T/huge.out" || fail "list past the limit, $form: $(cat "$T/huge.out")"
	checks=$((checks + 1))
	grep -qx 'smtpd\[PID\]: <staff@example.org> expands to more than --max-recipients (3) addresses: it can never be accepted' "$T/huge.err" ||
		fail "list past the limit, $form: log: $(cat "$T/huge.err")"
done

# ---- what a mutation pass of the users code found untested ----

# mini NAME TABLE-TEXT: a table in $T/mini/NAME and its cdb.
mini() {
	mkdir -p "$T/mini"
	printf '%s' "$2" >"$T/mini/$1"
	"$SMTPD" --compile-users "$T/mini/$1" >/dev/null 2>&1 || fail "mini table $1 does not compile"
}
# replies NAME WANT-LINES... -- INPUT-LINES...: the replies after the
# greeting and the EHLO reply, as wanted, for both forms of table NAME.
replies() {
	local name=$1 want=() in=("EHLO c") form
	shift
	while [ "$1" != -- ]; do want+=("$1"); shift; done
	shift
	in+=("$@" "QUIT")
	crlf "$T/mini.in" "${in[@]}"
	for form in "$name" "$name.cdb"; do
		checks=$((checks + 1))
		timeout 10 "$SMTPD" --spool "$T/spool" --hostname mx.test --domain example.org \
			--domain catchall.example --users "$T/mini/$form" --vrfy --expn \
			<"$T/mini.in" >"$T/mini.raw" 2>/dev/null
		rc=$?
		tr -d '\r' <"$T/mini.raw" | sed -e '1,/^250 HELP$/d' -e '$d' >"$T/mini.got"
		printf '%s\n' "${want[@]}" >"$T/mini.want"
		[ $rc = 0 ] && cmp -s "$T/mini.want" "$T/mini.got" ||
			{ fail "$name ($form): status $rc"; diff "$T/mini.want" "$T/mini.got" | head -10; }
	done
	rm -f "$T/spool/new/"*
}

# A key that is a prefix of the address asked for is not that address
# (and with 16 slots both land in the same one).
mini prefix 'frank@example.org.uk accept Frank UK
'
replies prefix "250 2.1.0 OK" "550 5.1.1 No such user here" \
	"550 5.1.1 String does not match anything" -- \
	"MAIL FROM:<>" "RCPT TO:<frank@example.org>" "VRFY frank@example.org"

# A full index (as many entries as slots would allow) still ends a miss.
mini sixteen "$(for i in $(seq 16); do echo "u$i@example.org accept"; done)
"
replies sixteen "250 2.1.0 OK" "550 5.1.1 No such user here" "250 2.1.5 OK" -- \
	"MAIL FROM:<>" "RCPT TO:<nobody@example.org>" "RCPT TO:<u16@example.org>"

# Two members that share a slot of the expansion's seen set are both kept.
mini slot 'g@example.org group u1@example.org.fr u1@example.org
'
replies slot "250-2.1.5 <u1@example.org.fr>" "250 2.1.5 <u1@example.org>" -- "EXPN g@example.org"

# A catch-all written in capitals is the same domain.
mini caps '@CatchAll.Example accept
'
replies caps "250 2.1.0 OK" "250 2.1.5 OK" -- "MAIL FROM:<>" "RCPT TO:<anyone@catchall.example>"

# postmaster at a domain not ours is nobody's.
mini pm 'a@example.org accept A
'
replies pm "550 5.1.1 String does not match anything" "550 5.1.1 String does not match anything" -- \
	"VRFY postmaster@foreign.example" "EXPN postmaster@foreign.example"

# Every error of a text table named with its line: source routes, bytes
# and lengths at their bounds, names, kinds, loops.
{
	printf '%s\n' 'a\b@example.org accept' 'g1@example.org group @relay.example:bob@example.org'
	printf 'a\200b@example.org accept\n'
	printf '%065d@example.org accept\n' 0
	printf 'c1@example.org accept Bad\037Name\n'
	printf 'c2@example.org accept Over\340\237\277long\n'
	printf 'c3@example.org accept A\302\237B\n'
	printf 'c4@example.org accept %0256d\n' 0
	printf '%s\n' '@example.net moved' 'la@example.org group lb@example.org' \
		'lb@example.org group lc@example.org' 'lc@example.org group lb@example.org' \
		'k1@example.org Accept Mixed Case Kind'
} >"$T/mini/errs"
"$SMTPD" --check-users "$T/mini/errs" >"$T/errs.out" 2>"$T/errs.err"
status "--check-users, every error" 1 $?
cat >"$T/errs.want" <<EOF
$T/mini/errs:1: bad address "a\x5cb@example.org"
$T/mini/errs:2: bad address "@relay.example:bob@example.org"
$T/mini/errs:3: non-ASCII byte in address "a\x80b@example.org" (SMTPUTF8 is not offered)
$T/mini/errs:4: address "0000000000000000000000000000000000000000000000000000000000000..." too long (local part over 64 or domain over 255 bytes)
$T/mini/errs:5: control character 0x1f in full name
$T/mini/errs:6: full name is not valid UTF-8
$T/mini/errs:7: control character U+009F in full name
$T/mini/errs:8: full name longer than 255 bytes
$T/mini/errs:9: a catch-all (@domain) takes "accept" and nothing else
$T/mini/errs:12: group loop: lb@example.org -> lc@example.org -> lb@example.org
smtpd: $T/mini/errs: 10 errors
EOF
same "--check-users, every error" "$T/errs.want" "$T/errs.err"

# Keys whose local part stays quoted in canonical form (a leading or a
# trailing dot, a backslash): VRFY shows them quoted, however asked for;
# RCPT takes them; the cdb holds them so that --check-users finds it clean.
mini quoted '".a"@example.org accept Dot First
"b."@example.org accept
"a\\b"@example.org accept Back Slash
'
replies quoted \
	"250 2.1.5 Dot First <\".a\"@example.org>" \
	"250 2.1.5 Dot First <\".a\"@example.org>" \
	"250 2.1.5 <\"b.\"@example.org>" \
	"250 2.1.5 <\"b.\"@example.org>" \
	"250 2.1.5 Back Slash <\"a\\\\b\"@example.org>" \
	"250 2.1.5 Back Slash <\"a\\\\b\"@example.org>" \
	"250 2.1.0 OK" "250 2.1.5 OK" "250 2.1.5 OK" "250 2.1.5 OK" \
	"550 5.1.1 No such user here" -- \
	"VRFY \".a\"@example.org" "VRFY <\".A\"@Example.ORG>" "VRFY \"b.\"@example.org" "VRFY \"b.\"" \
	"VRFY \"a\\\\b\"@example.org" "VRFY \"A\\\\B\"" "MAIL FROM:<>" \
	"RCPT TO:<\".a\"@example.org>" "RCPT TO:<\"B.\"@example.org>" \
	"RCPT TO:<\"a\\\\b\"@example.org>" "RCPT TO:<\"a\\b\"@example.org>"
"$SMTPD" --check-users "$T/mini/quoted.cdb" >"$T/quoted.out" 2>"$T/quoted.err"
status "--check-users on quoted keys" 0 $?
printf 'smtpd: %s: no errors\n' "$T/mini/quoted.cdb" >"$T/quoted.want"
same "--check-users on quoted keys, stdout" "$T/quoted.want" "$T/quoted.out"
same "--check-users on quoted keys, stderr" "$T/empty" "$T/quoted.err"

# The name index is case-folded: "Smith" and "smith" are one word.
mini names 'ann@example.org accept Ann Smith
bob@example.org accept Bob smith
'
replies names "553-5.1.4 User ambiguous; possibilities are" \
	"553-5.1.4 Ann Smith <ann@example.org>" "553 5.1.4 Bob smith <bob@example.org>" \
	"553-5.1.4 User ambiguous; possibilities are" \
	"553-5.1.4 Ann Smith <ann@example.org>" "553 5.1.4 Bob smith <bob@example.org>" -- \
	"VRFY smith" "VRFY SMITH"

# A query of three or more words over 255 bytes is no name: it matches
# nothing, in both forms (the cdb's name search once read a NULL list).
long=$(printf '%300s' '' | tr ' ' x)
mini longname 'alice@example.org accept Alice Example
'
replies longname "550 5.1.1 String does not match anything" \
	"550 5.1.1 String does not match anything" -- \
	"VRFY a b $long" "EXPN a b $long"

# A damaged cdb whose forward or moved target is no address (bytes changed
# in place, so the hashes still hold): 451, never the target's bytes in a
# reply or the spool, where a line end would forge a reply line.
mkdir -p "$T/forged"
printf 'bob@example.org forward bob@elsewhere.net\ncarol@example.org moved carol@elsewhere.net\n' \
	>"$T/forged/users"
"$SMTPD" --compile-users "$T/forged/users" >/dev/null 2>&1 || fail "forged: table does not compile"
python3 -c '
import sys
d = open(sys.argv[1], "rb").read()
d = d.replace(b"bob@elsewhere.net", b"x\r\n554 forged\r\nzz")
d = d.replace(b"carol@elsewhere.net", b"x\r\n554 forged\r\nzzzz")
open(sys.argv[2], "wb").write(d)' "$T/forged/users.cdb" "$T/forged/bad.cdb"
checks=$((checks + 1))
crlf "$T/forged.in" "EHLO c" "MAIL FROM:<>" "RCPT TO:<bob@example.org>" \
	"RCPT TO:<carol@example.org>" "VRFY bob" "VRFY carol" "QUIT"
"$SMTPD" --spool "$T/spool" --hostname mx.test --domain example.org \
	--users "$T/forged/bad.cdb" --vrfy <"$T/forged.in" 2>/dev/null | tr -d '\r' |
	sed -e '1,/^250 HELP$/d' >"$T/forged.got"
printf '%s\n' "250 2.1.0 OK" "451 4.3.0 Local error in processing; try again later" \
	"451 4.3.0 Local error in processing; try again later" \
	"451 4.3.0 Local error in processing; try again later" \
	"451 4.3.0 Local error in processing; try again later" \
	"221 2.0.0 mx.test Service closing transmission channel" >"$T/forged.want"
cmp -s "$T/forged.want" "$T/forged.got" ||
	{ fail "a cdb target with a line end in it"; diff "$T/forged.want" "$T/forged.got" | head -10; }

# A local part that starts with a delimiter is not cut, at its first
# delimiter nor at a later one: +a+b is not +a.
mkdir -p "$T/lead"
printf '+a@example.org accept Plus A\na@example.org accept A\n' >"$T/lead/users"
"$SMTPD" --compile-users "$T/lead/users" >/dev/null 2>&1 || fail "lead: table does not compile"
crlf "$T/lead.in" "EHLO c" "MAIL FROM:<>" "RCPT TO:<+a+b@example.org>" "RCPT TO:<+a@example.org>" \
	"RCPT TO:<a+b@example.org>" "QUIT"
printf '%s\n' "250 2.1.0 OK" "550 5.1.1 No such user here" "250 2.1.5 OK" "250 2.1.5 OK" \
	"221 2.0.0 mx.test Service closing transmission channel" >"$T/lead.want"
for form in users users.cdb; do
	checks=$((checks + 1))
	"$SMTPD" --spool "$T/spool" --hostname mx.test --domain example.org \
		--users "$T/lead/$form" --recipient-delimiter + <"$T/lead.in" 2>/dev/null | tr -d '\r' |
		sed -e '1,/^250 HELP$/d' >"$T/lead.got"
	cmp -s "$T/lead.want" "$T/lead.got" ||
		{ fail "leading delimiter ($form)"; diff "$T/lead.want" "$T/lead.got" | head -6; }
done

# A member that forwards back to its group: the group is not one of its
# own members (nor spooled to).
mini back 'g@example.org group a@example.org f@example.org b@example.org
f@example.org forward g@example.org
a@example.org accept A
'
replies back "250-2.1.5 A <a@example.org>" "250 2.1.5 <b@example.org>" -- "EXPN g"

# Sizes at their bounds: a local part of 64 bytes, a name of 255; a VRFY
# with more candidates than it lists (10) says how many more, with and
# without a local part among them.
long=$(printf 'l%.0s' $(seq 64))
name=$(printf 'Word%03d ' $(seq 32))
name=${name% }
{
	echo "$long@example.org accept Long Local"
	echo "n@example.org accept $name"
	echo "same@example.org accept Other"
	for i in $(seq 12); do echo "m$i@example.org accept Many Same"; done
} >"$T/edges.txt"
mini edges "$(cat "$T/edges.txt")
"
many=()
for i in $(seq 10); do many+=("553-5.1.4 Many Same <m$i@example.org>"); done
replies edges "250 2.1.5 Long Local <$long@example.org>" \
	"250 2.1.5 Long Local <$long@example.org>" "250 2.1.5 $name <n@example.org>" \
	"250 2.1.0 OK" "250 2.1.5 OK" \
	"553-5.1.4 User ambiguous; possibilities are" "${many[@]}" "553 5.1.4 and 2 more" \
	"553-5.1.4 User ambiguous; possibilities are" "553-5.1.4 Other <same@example.org>" \
	"${many[@]:0:9}" "553 5.1.4 and 3 more" -- \
	"VRFY $long@example.org" "VRFY $long" "VRFY n" "MAIL FROM:<>" "RCPT TO:<$long@example.org>" \
	"VRFY many" "VRFY same"

# A full name is shown as the table has it, words one space apart, with
# no quoting of its own: only the address between <> is quoted where it
# must be.  Blanks before the name, tabs among them, are not part of it.
mini shown "$(printf '%s\n' 'q@example.org accept Smith,   John "Jack  Q" (jr.)' \
	'"john smith"@example.org accept John Smith' \
	't@example.org accept	 	Tab	Name')
"
replies shown "250 2.1.5 Smith, John \"Jack Q\" (jr.) <q@example.org>" \
	"250 2.1.5 John Smith <\"john smith\"@example.org>" \
	"250 2.1.5 Tab Name <t@example.org>" "250 2.1.5 Tab Name <t@example.org>" -- \
	"VRFY q" "VRFY John Smith" "VRFY t" "VRFY tab name"

# ---- --check-users ----

for form in users users.cdb; do
	"$SMTPD" --check-users "$T/tab/$form" >"$T/check.out" 2>"$T/check.err"
	status "--check-users on a clean $form" 0 $?
	printf 'smtpd: %s: no errors\n' "$T/tab/$form" >"$T/check.want"
	same "--check-users on a clean $form, stdout" "$T/check.want" "$T/check.out"
	same "--check-users on a clean $form, stderr" "$T/empty" "$T/check.err"
done

mkdir -p "$T/bad"
cat >"$T/bad/users" <<'EOF'
# every kind of mistake, each on its line
ok@example.org       accept   Fine Person
typo@example.org     acept    Typo Person
a@@example.org       accept
ok@example.org       accept   Again
lone@example.org     forward
@catchall.example    accept   Named Catchall
self@example.org     moved    self@example.org
ring@example.org     group    loop@example.org
loop@example.org     group    ring@example.org
still@example.org    accept   Still Fine
EOF
B=$T/bad/users
cat >"$T/bad.want" <<EOF
$B:3: unknown kind "acept" (accept, forward, moved or group)
$B:4: bad address "a@@example.org"
$B:5: duplicate of line 2 ("ok@example.org")
$B:6: forward without an address
$B:7: a catch-all (@domain) takes "accept" and nothing else
$B:8: moved to the address itself
$B:10: group loop: ring@example.org -> loop@example.org -> ring@example.org
smtpd: $B: 7 errors
EOF
"$SMTPD" --check-users "$B" >"$T/bad.out" 2>"$T/bad.err"
status "--check-users on a broken table" 1 $?
same "--check-users on a broken table, stderr" "$T/bad.want" "$T/bad.err"
same "--check-users on a broken table, stdout" "$T/empty" "$T/bad.out"

"$SMTPD" --check-users "$T/bad/none" >"$T/none.out" 2>"$T/none.err"
status "--check-users on a missing file" 1 $?
printf '%s: No such file or directory\nsmtpd: %s: 1 error\n' "$T/bad/none" "$T/bad/none" >"$T/none.want"
same "--check-users on a missing file, stderr" "$T/none.want" "$T/none.err"

# ---- a table that cannot be used: 421, logged, exit 1 ----

crlf "$T/refused.in" "EHLO c" "MAIL FROM:<>" "RCPT TO:<ok@example.org>" "QUIT"
crlf "$T/refused.want" "421 mx.test Users table unavailable, closing transmission channel"
head -c 300 "$T/tab/users.cdb" >"$T/bad/cut.cdb"
for t in "users:$B:3: unknown kind \"acept\" (accept, forward, moved or group)" \
	 "none:$T/bad/none: No such file or directory" \
	 "cut.cdb:$T/bad/cut.cdb: not a valid compiled table (damaged or cut short): compile it again" \
	 "dir:$T/bad: not a regular file"; do
	name=${t%%:*} why=${t#*:}
	path=$T/bad/$name
	[ "$name" = dir ] && path=$T/bad
	converse refused --users "$path"
	status "--users $name" 1 $rc
	same "--users $name: reply" "$T/refused.want" "$T/refused.out"
	grep '^smtpd\[PID\]: users table: ' "$T/refused.err" >"$T/refused.logged" ||
		fail "--users $name: no log line"
	case $why in
	*'*')	# a cut cdb is no cdb: read as text, whose first line is junk
		if [ "$(wc -l <"$T/refused.logged")" != 1 ] ||
		   ! grep -qF "smtpd[PID]: users table: ${why%\*}" "$T/refused.logged"; then
			fail "--users $name: log line $(cat "$T/refused.logged")"
		fi ;;
	*)	printf 'smtpd[PID]: users table: %s\n' "$why" >"$T/refused.log"
		same "--users $name: log line" "$T/refused.log" "$T/refused.logged" ;;
	esac
	[ -z "$(find "$T/spool/new" "$T/spool/tmp" -type f)" ] || fail "--users $name: something spooled"
done

# ---- --compile-users: atomic, and what it refuses ----

cp "$T/tab/users.cdb" "$T/old.cdb"
old_inode=$(stat -c %i "$T/tab/users.cdb")
exec 3<"$T/tab/users.cdb"	# a connection that has the old table open
echo "zed@example.org accept Zed Newcomer" >>"$T/tab/users"
"$SMTPD" --compile-users "$T/tab/users" >"$T/compile.out" 2>"$T/compile.err"
status "--compile-users again" 0 $?
same "--compile-users again, stdout" "$T/compile.want" "$T/compile.out"
cmp -s /dev/fd/3 "$T/old.cdb" || fail "--compile-users changed the old cdb in place"
exec 3<&-
[ "$(stat -c %i "$T/tab/users.cdb")" != "$old_inode" ] || fail "--compile-users wrote over the old cdb"
cmp -s "$T/tab/users.cdb" "$T/old.cdb" && fail "--compile-users: the new cdb is the old one"
[ "$(listing "$T/tab")" = "users users.cdb " ] ||
	fail "--compile-users left: $(listing "$T/tab")"

# A table that is readable by its group only: its cdb no more.
chmod 640 "$T/tab/users"
"$SMTPD" --compile-users "$T/tab/users" >/dev/null 2>&1
status "--compile-users of a mode 640 table" 0 $?
[ "$(stat -c %a "$T/tab/users.cdb")" = 640 ] ||
	fail "--compile-users: cdb mode $(stat -c %a "$T/tab/users.cdb"), table 640"

# A broken table: refused, with the first error; the old cdb stays.
cp "$T/tab/users.cdb" "$T/old.cdb"
cp "$T/tab/users" "$T/good.users"
echo "broken@example.org frob" >>"$T/tab/users"
"$SMTPD" --compile-users "$T/tab/users" >"$T/cbad.out" 2>"$T/cbad.err"
status "--compile-users of a broken table" 1 $?
n=$(wc -l <"$T/tab/users")
printf 'smtpd: %s:%d: unknown kind "frob" (accept, forward, moved or group)\n' "$T/tab/users" "$n" >"$T/cbad.want"
same "--compile-users of a broken table, stderr" "$T/cbad.want" "$T/cbad.err"
same "--compile-users of a broken table, stdout" "$T/empty" "$T/cbad.out"
same "--compile-users of a broken table: the old cdb" "$T/old.cdb" "$T/tab/users.cdb"
[ "$(listing "$T/tab")" = "users users.cdb " ] ||
	fail "--compile-users of a broken table left: $(listing "$T/tab")"
cp "$T/good.users" "$T/tab/users"

"$SMTPD" --compile-users "$T/tab/users.cdb" >"$T/ccdb.out" 2>"$T/ccdb.err"
status "--compile-users of a cdb" 1 $?
printf 'smtpd: %s: already a compiled table\n' "$T/tab/users.cdb" >"$T/ccdb.want"
same "--compile-users of a cdb, stderr" "$T/ccdb.want" "$T/ccdb.err"
[ -e "$T/tab/users.cdb.cdb" ] && fail "--compile-users of a cdb wrote users.cdb.cdb"

# Under umask 077 the cdb is still as readable as the text it comes from:
# it gets the text's read and write bits (execute bits are not a table's).
mkdir -p "$T/modes"
for m in 644:644 664:664 751:640 600:600; do
	cp "$T/good.users" "$T/modes/users"
	chmod "${m%:*}" "$T/modes/users"
	(umask 077 && "$SMTPD" --compile-users "$T/modes/users" >/dev/null 2>&1)
	status "--compile-users of a mode ${m%:*} table under umask 077" 0 $?
	checks=$((checks + 1))
	got=$(stat -c %a "$T/modes/users.cdb")
	[ "$got" = "${m#*:}" ] || fail "--compile-users under umask 077: table ${m%:*}, cdb $got, not ${m#*:}"
	rm -f "$T/modes/users.cdb"
done

# Durably: the temporary file is made with O_EXCL and fsynced, renamed
# over the cdb, then the directory is fsynced, in that order.
if command -v strace >/dev/null; then
	# LeakSanitizer stops the world with ptrace, which a traced process
	# cannot: the ASan build runs without it here.
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
		strace -f -o "$T/strace.out" -e trace=openat,fsync,fdatasync,rename,renameat,renameat2 \
		"$SMTPD" --compile-users "$T/tab/users" >/dev/null 2>&1
	status "--compile-users under strace" 0 $?
	# The calls that touch the temporary file, the cdb or the directory.
	awk -v dir="$T/tab" '
		{ sub(/^[0-9]+ +/, "") }
		/^openat\(/ && index($0, "\"" dir "/.users.cdb.tmp") {
			fd[$NF] = "tmp"
			print "open tmp" (/O_CREAT/ ? " O_CREAT" : "") (/O_EXCL/ ? " O_EXCL" : "")
			next
		}
		/^openat\(/ && index($0, "\"" dir "\",") && /O_DIRECTORY/ { fd[$NF] = "dir"; print "open dir"; next }
		/^(fsync|fdatasync)\(/ {
			n = $0; sub(/^[a-z]+\(/, "", n); sub(/\).*/, "", n)
			if (n in fd) print "fsync " fd[n] ($NF == 0 ? "" : " failed")
			next
		}
		/^rename/ && index($0, "/.users.cdb.tmp") && index($0, "\"" dir "/users.cdb\"") {
			print "rename" ($NF == 0 ? "" : " failed")
		}
	' "$T/strace.out" >"$T/strace.got"
	printf '%s\n' "open tmp O_CREAT O_EXCL" "fsync tmp" "rename" "open dir" "fsync dir" >"$T/strace.want"
	same "--compile-users: open, fsync, rename, fsync of the directory" "$T/strace.want" "$T/strace.got"
else
	echo "skip: --compile-users under strace (no strace)"
fi

# ---- an edited table takes effect at the next connection ----

crlf "$T/edit.in" "EHLO c" "MAIL FROM:<>" "RCPT TO:<newbie@example.org>" "QUIT"
for step in before after; do
	for form in users users.cdb; do
		converse edit --users "$T/tab/$form"
		status "edited table ($step, $form)" 0 $rc
		if [ $step = before ]; then
			grep -qx $'550 5.1.1 No such user here\r' "$T/edit.out" ||
				fail "newbie@ known before the edit ($form)"
		else
			grep -qx $'250 2.1.5 OK\r' "$T/edit.out" ||
				fail "newbie@ unknown after the edit ($form): $(tr -d '\r' <"$T/edit.out" | tail -2 | head -1)"
		fi
	done
	if [ $step = before ]; then
		echo "newbie@example.org accept" >>"$T/tab/users"
		"$SMTPD" --compile-users "$T/tab/users" >/dev/null ||
			fail "--compile-users after the edit"
	fi
done

# ---- options that need --users ----

for o in --vrfy --expn "--recipient-delimiter=+"; do
	"$SMTPD" --spool "$T/never" "$o" </dev/null >"$T/opt.out" 2>"$T/opt.err"
	status "$o without --users" 2 $?
	printf 'smtpd: %s needs --users (see smtpd --help)\n' "${o%%=*}" >"$T/opt.want"
	same "$o without --users, stderr" "$T/opt.want" "$T/opt.err"
	same "$o without --users, stdout" "$T/empty" "$T/opt.out"
	[ -e "$T/never" ] && fail "$o without --users created the spool"
done
# 1 to 4 of the characters smtpd.8 names; each one works.
for d in x '' '+-=_#'; do
	"$SMTPD" --users "$T/tab/users" --recipient-delimiter "$d" </dev/null >"$T/opt.out" 2>"$T/opt.err"
	status "--recipient-delimiter '$d'" 2 $?
	printf "smtpd: --recipient-delimiter: '%s' is not 1 to 4 of +-=_#~%%&! (see smtpd --help)\n" "$d" >"$T/opt.want"
	same "--recipient-delimiter '$d', stderr" "$T/opt.want" "$T/opt.err"
done
for d in + - = _ '#' '~' % '&' '!'; do
	checks=$((checks + 1))
	printf 'HELO c\r\nMAIL FROM:<>\r\nRCPT TO:<alice%stag@example.org>\r\nQUIT\r\n' "$d" |
		"$SMTPD" --spool "$T/spool" --hostname mx.test --domain example.org \
		--users "$T/tab/users" --recipient-delimiter "$d" >"$T/opt.out" 2>/dev/null
	# 220, HELO's 250, MAIL's 250, then the reply that counts: RCPT's.
	grep -q "^250 OK$(printf '\r')\$" <(sed -n 4p "$T/opt.out") ||
		fail "--recipient-delimiter '$d': $(cat -A "$T/opt.out")"
done

# ---- the address-space limit makes room for the table ----

# as_limit OPTIONS...: the address-space limit smtpd has set ("Max address
# space" in /proc/PID/limits) once it has answered an EHLO, or "unlimited".
as_limit() {
	local pid i
	rm -f "$T/as.fifo"
	mkfifo "$T/as.fifo"
	"$SMTPD" --spool "$T/spool" --hostname mx.test --domain example.org "$@" \
		<"$T/as.fifo" >"$T/as.out" 2>/dev/null &
	pid=$!
	exec 4>"$T/as.fifo"
	printf 'EHLO c\r\n' >&4
	for i in $(seq 100); do
		grep -q '^250 ' "$T/as.out" && break
		sleep 0.1
	done
	awk '/^Max address space/ { print $4 }' "/proc/$pid/limits"
	exec 4>&-
	wait $pid
}

mkdir -p "$T/big"
base=$(as_limit)
if [ ! -r /proc/self/limits ] || [ "$base" = unlimited ] || [ -z "$base" ]; then
	echo "skip: the address-space limit (${base:-no /proc/PID/limits}: none set by this build)"
else
	# Several MB of text and its cdb: the limit grows by at least the
	# size of each (the text form also holds its index).
	awk 'BEGIN { for (i = 0; i < 100000; i++) printf "user%d@example.org accept Person Number %d\n", i, i }' \
		>"$T/big/users"
	"$SMTPD" --compile-users "$T/big/users" >/dev/null 2>&1 || fail "the big table does not compile"
	for form in users users.cdb; do
		size=$(stat -c %s "$T/big/$form")
		got=$(as_limit --users "$T/big/$form")
		checks=$((checks + 1))
		[ "$got" -ge $((base + size)) ] 2>/dev/null ||
			fail "address-space limit with a $size-byte $form: $got, without a table $base"
	done
	crlf "$T/big.in" "EHLO c" "MAIL FROM:<>" "RCPT TO:<user99999@example.org>" "QUIT"
	converse big --users "$T/big/users"
	checks=$((checks + 1))
	grep -qx $'250 2.1.5 OK\r' "$T/big.out" || fail "a several-MB table: $(tr -d '\r' <"$T/big.out" | tail -2 | head -1)"
	# A table larger than the 256 MiB smtpd allows itself (comment lines
	# of 4,000 bytes, read at the speed of memcpy) still works: a group
	# expanded after the limit is set, which allocates, is taken whole.
	# It needs 274 MB of disk for a moment: skipped, visibly, without 1 GiB.
	free_kib=$(df -Pk "$T" | awk 'NR == 2 { print $4 }')
	if [ "${free_kib:-0}" -lt 1048576 ]; then
		echo "skip: a table over 256 MiB (${free_kib:-?} KiB free in $T, 1 GiB wanted)"
	else
	{
		printf 'big@example.org group'
		for i in $(seq 150); do printf ' member%d@example.net' "$i"; done
		printf '\n'
		yes "#$(printf '%4000s' '')" | head -n 70000
		printf 'last@example.org accept\n'
	} >"$T/big/huge"
	crlf "$T/vast.in" "EHLO c" "MAIL FROM:<>" "RCPT TO:<big@example.org>" "RCPT TO:<last@example.org>" \
		"DATA" "m" "." "QUIT"
	converse vast --users "$T/big/huge" --max-recipients 1000
	status "a $(($(stat -c %s "$T/big/huge") >> 20)) MiB table" 0 $rc
	tr -d '\r' <"$T/vast.out" | sed -e '1,/^250 HELP$/d' >"$T/vast.got"
	printf '%s\n' "250 2.1.0 OK" "250 2.1.5 OK" "250 2.1.5 OK" "354 Start mail input; end with <CRLF>.<CRLF>" \
		"250 2.0.0 OK: queued as ID" "221 2.0.0 mx.test Service closing transmission channel" >"$T/vast.want"
	same "a table over 256 MiB" "$T/vast.want" "$T/vast.got"
	checks=$((checks + 1))
	[ "$(spooled | grep -c '^X-Original-To: ')" = 151 ] || fail "a table over 256 MiB: not 151 recipients spooled"
	rm -f "$T/big/huge"
	fi
fi

# ---- make users.cdb, in a copy of the tree ----

# The Makefile's "make users.cdb (from ./users)".  The table is written
# before the last build (dated back: users.o is newer than ./users, as
# after "write the table, make, make users.cdb"): make must not take
# ./users for a program to link from users.o, which deletes the table
# when the link fails.  Then an edited table is compiled again, and
# USERS= names a table elsewhere.
if [ -f "$SRCDIR/Makefile" ] && [ -f "$SRCDIR/users.c" ] && command -v make >/dev/null; then
	C=$T/tree
	mkdir "$C"
	# Sources and, when built, objects and binary with their times, so
	# that make finds smtpd up to date and only compiles the table.
	cp -p "$SRCDIR"/Makefile "$SRCDIR"/*.c "$SRCDIR"/*.h "$C"/
	for f in "$SRCDIR"/*.o "$SRCDIR"/smtpd; do
		[ -e "$f" ] && cp -p "$f" "$C"/
	done
	cp "$T/good.users" "$C/users"
	touch -d '2000-01-01 00:00:00' "$C/users"
	M="make -s --no-print-directory -C $C"
	$M users.cdb >"$T/make.out" 2>&1
	status "make users.cdb" 0 $?
	if [ ! -f "$C/users" ]; then
		fail "make users.cdb deleted the table ./users; it said:"
		head -3 "$T/make.out"
		C=''
	fi
fi
if [ -n "${C:-}" ]; then
	same "make users.cdb: the table" "$T/good.users" "$C/users"
	[ -f "$C/users.cdb" ] || fail "make users.cdb made no users.cdb"
	"$C/smtpd" --check-users "$C/users.cdb" >/dev/null 2>&1 ||
		fail "make users.cdb: the cdb does not check clean"
	printf 'smtpd: wrote users.cdb\n' >"$T/make.want"
	same "make users.cdb: output" "$T/make.want" "$T/make.out"
	$M -q users.cdb || fail "make users.cdb: not up to date after it ran"
	echo "newcomer@example.org accept" >>"$C/users"
	$M -q users.cdb && fail "make users.cdb: up to date after the table changed"
	$M users.cdb >"$T/make.out" 2>&1
	status "make users.cdb after an edit" 0 $?
	same "make users.cdb after an edit: output" "$T/make.want" "$T/make.out"
	grep -q newcomer@example.org "$C/users.cdb" || fail "make users.cdb: the edit is not in the cdb"
	$M -q users.cdb || fail "make users.cdb: not up to date the second time"
	mkdir "$T/etc"
	cp "$T/good.users" "$T/etc/table"
	$M USERS="$T/etc/table" "$T/etc/table.cdb" >"$T/make.out" 2>&1
	status "make USERS=... FILE.cdb" 0 $?
	printf 'smtpd: wrote %s\n' "$T/etc/table.cdb" >"$T/make.want"
	same "make USERS=... FILE.cdb: output" "$T/make.want" "$T/make.out"
	[ "$(listing "$T/etc")" = "table table.cdb " ] ||
		fail "make USERS=...: $(listing "$T/etc")"
elif [ -z "${C+set}" ]; then
	echo "skipped: make users.cdb (no source tree at $SRCDIR)"
fi

echo "t_users: $checks checks, $failures failures"
[ $failures = 0 ]
