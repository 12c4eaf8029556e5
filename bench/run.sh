#!/bin/bash
# bench/run.sh: `make bench`.  Measures smtpd against floor programs (the
# least any program can cost for the same job) and against peers (Exim,
# Postfix's smtp-sink), every figure for smtpd and its references in the
# same run, interleaved, as the median of BENCH_REPS repetitions; prints a
# table with ratios and, for each target of issue 6 (and issue 3's users
# table), whether this run met it.  Informational only: never fails on time.
#
# Knobs (environment):
#   BENCH_REPS=3            repetitions of every timed figure (medians)
#   BENCH_CONNECTIONS=300   connections per connections/s figure
#   BENCH_SPAWNS=200        execs per exec-to-exit wall time figure
#   BENCH_MESSAGES=300      messages per figure, one per connection
#   BENCH_BLOCKS=6          turns those are timed in (one per connection)
#   BENCH_PIPELINED=1000    messages per figure, 100 per connection
#   BENCH_K=10              further messages for instructions per message
#   BENCH_BIG_MIB=50        size of the throughput message
#   BENCH_USERS_ENTRIES=1000000  size of the large users table (issue 3)
#   BENCH_DIR=build/bench   work directory (spools: the disk measured)
#   BENCH_PEERS=1           0: no Exim, no smtp-sink
#   BENCH_FETCH=1           0: never apt-get download Exim's package
#   BENCH_NETNS=1           0: no private network namespace (host loopback)
#   BENCH_SECTIONS="conn msg big rss fsync users"  the parts to run
#   SMTPD=./smtpd           the binary measured
# Needs: cc, python3, valgrind, strace, tcpserver (ucspi-tcp),
# systemd-socket-activate (systemd); Postfix for smtp-sink; Exim comes from
# an installed exim4 or from the exim4-daemon-light package, unpacked here
# (it conflicts with Postfix, so it is not installed).
set -u
cd "$(dirname "$0")/.." || exit 1
ROOT=$PWD

CACHE=$ROOT/build/bench-cache

# Exim, when not installed, is unpacked (not installed: it conflicts with
# Postfix, and the machine's mail setup is not to be touched) from Debian's
# package into the cache, before the namespace below cuts the network off.
if [ "${BENCH_IN_NS:-0}" != 1 ] && [ "${BENCH_PEERS:-1}" = 1 ] && [ "${BENCH_FETCH:-1}" = 1 ] &&
	[ "$(id -u)" = 0 ] && ! command -v exim4 >/dev/null && ! command -v exim >/dev/null &&
	[ ! -x "$CACHE/exim-root/usr/sbin/exim4" ] && command -v apt-get >/dev/null; then
	mkdir -p "$CACHE" && dl=$(mktemp -d) && chmod 755 "$dl" && { chown _apt "$dl" 2>/dev/null || true; }
	echo "bench: unpacking exim4-daemon-light into $CACHE/exim-root"
	if (cd "$dl" && apt-get download exim4-daemon-light >"$CACHE/exim-download.log" 2>&1); then
		dpkg-deb -x "$dl"/exim4-daemon-light_*.deb "$CACHE/exim-root" || rm -rf "$CACHE/exim-root"
	fi
	rm -rf "$dl"
fi

# A private network (and mount, pid) namespace: fixed ports, nothing left
# behind, and a private /etc/passwd entry for Exim's user if need be.
if [ "${BENCH_IN_NS:-0}" != 1 ] && [ "${BENCH_NETNS:-1}" = 1 ] && [ "$(id -u)" = 0 ] &&
	unshare --net --mount --pid --fork --mount-proc true 2>/dev/null; then
	exec env BENCH_IN_NS=1 unshare --net --mount --pid --fork --mount-proc "$0" "$@"
fi

SMTPD=${SMTPD:-$ROOT/smtpd}
case $SMTPD in /*) ;; *) SMTPD=$ROOT/$SMTPD ;; esac
# The same sources linked to the shared C library (make dynamic), for the
# per-connection figures: what LINK=dynamic would cost.
SMTPD_DYN=${SMTPD_DYNAMIC:-$ROOT/build/dynamic/smtpd}
[ -x "$SMTPD_DYN" ] || SMTPD_DYN=
REPS=${BENCH_REPS:-3}
NCONN=${BENCH_CONNECTIONS:-300}
NSPAWN=${BENCH_SPAWNS:-200}
NMSG1=${BENCH_MESSAGES:-300}
NMSG100=${BENCH_PIPELINED:-1000}
K=${BENCH_K:-10}
BIG_MIB=${BENCH_BIG_MIB:-50}
USERS_N=${BENCH_USERS_ENTRIES:-1000000}
PEERS=${BENCH_PEERS:-1}
WORK=${BENCH_DIR:-$ROOT/build/bench}
case $WORK in /*) ;; *) WORK=$ROOT/$WORK ;; esac
HOST=127.0.0.1
SECTIONS=${BENCH_SECTIONS:-conn msg big rss fsync users}
want() { case " $SECTIONS " in *" $1 "*) return 0 ;; esac; return 1; }
CC=${CC:-cc}
T0=$EPOCHREALTIME
# V: every repetition's values; M: their medians; P: ports; C: call counts
declare -A V M P C LAST

[ -x "$SMTPD" ] || { echo "bench: $SMTPD not built (make)"; exit 1; }
# The last run's directory is removed at the end of this one, after the
# timed parts, like the delivered files (see spool_stash).
OLD_WORK=
if [ -e "$WORK" ]; then
	OLD_WORK=$(mktemp -d "$WORK.old.XXXXXX") && mv "$WORK" "$OLD_WORK/" || exit 1
fi
mkdir -p "$WORK"/bin "$WORK"/cg "$WORK"/in "$WORK"/log || exit 1
chmod 755 "$WORK" && chmod 1777 "$WORK/cg"	# Exim writes its profile as its own user
RESULTS=$WORK/results.txt
: >"$RESULTS"

out() { printf '%s\n' "$*" | tee -a "$RESULTS"; }
note() { printf '  note: %s\n' "$*" | tee -a "$RESULTS"; }
have() { command -v "$1" >/dev/null 2>&1; }

PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	rm -rf "$WORK/stash" ${OLD_WORK:+"$OLD_WORK"}
}
trap cleanup EXIT

if [ "${BENCH_IN_NS:-0}" = 1 ]; then
	ip link set lo up || { echo "bench: cannot bring up lo"; exit 1; }
	PORT=2600
else
	PORT=$((20000 + $$ % 20000))
fi
next_port() { PORT=$((PORT + 1)); }

# ---- numbers ----------------------------------------------------------

median() { printf '%s\n' "$@" | grep -E '^[0-9.]+$' | sort -g |
	awk '{a[NR] = $1} END {if (NR == 0) print "-"; else if (NR % 2) print a[(NR + 1) / 2]
		else { m = sprintf("%.3f", (a[NR / 2] + a[NR / 2 + 1]) / 2); sub(/\.?0+$/, "", m); print m } }'; }
# ratio A B [PLACES]: A/B to two (or PLACES) places, "-" unless both are numbers
ratio() { awk -v a="$1" -v b="$2" -v d="${3:-2}" 'BEGIN {if (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/ && b > 0) printf "%.*f", d, a / b; else printf "-"}'; }
# fmt N: integers with thousands separators, others to one decimal place
fmt() { awk -v v="$1" 'BEGIN {
	if (v !~ /^-?[0-9.]+$/) { printf "%s", v; exit }
	if (v + 0 >= 1000 || v == int(v)) { s = sprintf("%.0f", v); o = "";
		while (length(s) > 3) { o = "," substr(s, length(s) - 2) o; s = substr(s, 1, length(s) - 3) }
		printf "%s%s", s, o } else printf "%.1f", v }'; }
# kv KEY LINE: the value of KEY=... in a line of key=value pairs
kv() { printf '%s\n' "$2" | tr ' ' '\n' | sed -n "s/^$1=//p" | head -n1; }

row() { # label then cells, as a table row
	local line c
	line="| $(printf '%-50s' "$1") |"
	shift
	for c in "$@"; do line+=" $(printf '%13s' "$c") |"; done
	out "$line"
}
rule() { local line i; line="|$(printf '%52s' '' | tr ' ' -)|"; for ((i = 0; i < $1; i++)); do line+="---------------|"; done; out "$line"; }

# Targets: name, measured, required, met/missed (filled as figures come in)
TARGETS=()
target() { # description measured required met
	TARGETS+=("$1|$2|$3|$4")
}
cmp_le() { awk -v a="$1" -v b="$2" 'BEGIN {if (a !~ /^[0-9.]+$/) print "not measured"; else print (a <= b) ? "met" : "missed"}'; }
cmp_ge() { awk -v a="$1" -v b="$2" 'BEGIN {if (a !~ /^[0-9.]+$/) print "not measured"; else print (a >= b) ? "met" : "missed"}'; }

# ---- tools and helpers --------------------------------------------------

MISSING=
for t in valgrind strace tcpserver systemd-socket-activate python3; do
	have "$t" || MISSING+=" $t"
done

build() { # name source extra-flags...
	local name=$1 src=$2
	shift 2
	$CC -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -o "$WORK/bin/$name" "$ROOT/bench/$src" "$@" \
		2>>"$WORK/log/build.log"
}
build floor_greet floor_greet.c || { echo "bench: cannot build the floor"; cat "$WORK/log/build.log"; exit 1; }
build floor_durable floor_durable.c || exit 1
build floor_stream floor_stream.c || exit 1
build floor_smtp floor_smtp.c || exit 1
# static: ru_maxrss counts a child's pages from before its exec, which are
# spawn's own, and a static spawn has few of them
build spawn spawn.c -static || build spawn spawn.c || exit 1
build client client.c || exit 1
build catsync catsync.c || exit 1
# An empty shared library: what one preloaded library costs a dynamically
# linked program's start, to take valgrind's own (vgpreload_core, which a
# real exec does not load) out of the instruction counts.
$CC -shared -fPIC -o "$WORK/bin/empty.so" -x c /dev/null 2>>"$WORK/log/build.log" || exit 1
FLOOR_SD=
if build floor_greet_sd floor_greet.c -Wl,--no-as-needed -lsystemd; then
	FLOOR_SD=$WORK/bin/floor_greet_sd
fi
SPAWN=$WORK/bin/spawn
CLIENT=$WORK/bin/client
FLOOR=$WORK/bin/floor_greet
DURABLE=$WORK/bin/floor_durable
STREAM=$WORK/bin/floor_stream
SMTPF=$WORK/bin/floor_smtp
CATSYNC=$WORK/bin/catsync
CGSUM="python3 $ROOT/bench/cgsum.py"

SP_SMTPD=$WORK/spool-smtpd
SP_FLOOR=$WORK/spool-floor
SP_SMTPF=$WORK/spool-floor-smtp
mkdir -p "$SP_SMTPD"/{tmp,new,cur} "$SP_FLOOR"/{tmp,new,cur} "$SP_SMTPF"/{tmp,new,cur}
SMTPD_ARGS=(--spool "$SP_SMTPD" --hostname bench.example --domain example.org --max-size 104857600)

# ---- peers: Exim (exim -bs, throw-away config) and smtp-sink -------------

EXIM='' EXIM_WHY='' SINK='' SINK_WHY=''
setup_exim() {
	local bin uid
	bin=$(command -v exim4 || command -v exim || true)
	if [ -z "$bin" ] && [ -x "$CACHE/exim-root/usr/sbin/exim4" ]; then
		bin=$CACHE/exim-root/usr/sbin/exim4
	fi
	if [ -z "$bin" ]; then
		EXIM_WHY="no exim4 (install exim4-daemon-light, or run as root to unpack it; see $CACHE/exim-download.log)"
		return
	fi
	# Exim runs as Debian-exim; without that user (Exim unpacked, not
	# installed) this mount namespace gets a passwd with one.
	if ! uid=$(id -u Debian-exim 2>/dev/null); then
		if [ "${BENCH_IN_NS:-0}" != 1 ]; then
			EXIM_WHY="no Debian-exim user and no private mount namespace"
			return
		fi
		uid=64990
		while getent passwd "$uid" >/dev/null || getent group "$uid" >/dev/null; do uid=$((uid + 1)); done
		cp /etc/passwd "$WORK/passwd" && cp /etc/group "$WORK/group" &&
			echo "Debian-exim:x:$uid:$uid:bench:/nonexistent:/usr/sbin/nologin" >>"$WORK/passwd" &&
			echo "Debian-exim:x:$uid:" >>"$WORK/group" &&
			mount --bind "$WORK/passwd" /etc/passwd && mount --bind "$WORK/group" /etc/group ||
			{ EXIM_WHY="cannot add a Debian-exim user in the namespace"; return; }
	fi
	# A copy without the setuid bit, which valgrind refuses to run (we
	# are root already)
	cp "$bin" "$WORK/bin/exim4" && chmod 755 "$WORK/bin/exim4" && bin=$WORK/bin/exim4 ||
		{ EXIM_WHY="cannot copy $bin"; return; }
	EXIM_UID=$uid
	EXIM_SPOOL=$WORK/spool-exim
	mkdir -p "$EXIM_SPOOL" && chown "$uid:$uid" "$EXIM_SPOOL"
	cat >"$WORK/exim.conf" <<EOF
# Throw-away configuration for the benchmark: receive and spool, never
# deliver (queue_only), no DNS, no ident, no size limit.
primary_hostname = bench.example
exim_path = $WORK/bin/exim4
domainlist local_domains = example.org
spool_directory = $EXIM_SPOOL
log_file_path = $EXIM_SPOOL/%slog
queue_only = true
message_size_limit = 0
keep_environment =
host_lookup =
rfc1413_hosts =
rfc1413_query_timeout = 0s
acl_smtp_rcpt = acl_rcpt
begin acl
acl_rcpt:
  accept domains = +local_domains
  deny
begin routers
begin transports
EOF
	if printf 'EHLO x\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<alice@example.org>\r\nDATA\r\nSubject: t\r\n\r\nt\r\n.\r\nQUIT\r\n' |
		"$bin" -C "$WORK/exim.conf" -bs 2>"$WORK/log/exim-try.log" | grep -q '^250 OK id='; then
		EXIM=$bin
		EXIM_VERSION=$("$bin" -C "$WORK/exim.conf" -bV 2>/dev/null | sed -n '1s/^Exim version \([^ ]*\).*/\1/p')
		exim_clear
	else
		EXIM_WHY="exim -bs did not accept a test message (see $WORK/log/exim-try.log)"
	fi
}
exim_clear() { rm -rf "${EXIM_SPOOL:?}"/input/* "$EXIM_SPOOL"/msglog/* 2>/dev/null; }
exim_stash() { # as spool_stash, for Exim's spool (it makes input/ and msglog/ again itself)
	STASH_N=$((STASH_N + 1))
	mkdir -p "$WORK/stash/$STASH_N" &&
		{ [ ! -d "$EXIM_SPOOL/input" ] || mv "$EXIM_SPOOL/input" "$WORK/stash/$STASH_N/"; } &&
		{ [ ! -d "$EXIM_SPOOL/msglog" ] || mv "$EXIM_SPOOL/msglog" "$WORK/stash/$STASH_N/"; }
}
exim_count() { find "$EXIM_SPOOL/input" -name '*-D' 2>/dev/null | wc -l; }

EXIMCMD=()
if [ "$PEERS" = 1 ]; then
	setup_exim
	[ -z "$EXIM" ] || EXIMCMD=("$EXIM" -C "$WORK/exim.conf" -bs)
	SINK=$(command -v smtp-sink || { [ -x /usr/sbin/smtp-sink ] && echo /usr/sbin/smtp-sink; } || true)
	[ -n "$SINK" ] || SINK_WHY="no smtp-sink (install postfix)"
else
	EXIM_WHY="BENCH_PEERS=0" SINK_WHY="BENCH_PEERS=0"
fi

spool_count() { find "$1/new" -type f | wc -l; }
spool_clear() { find "$1/new" "$1/tmp" -type f -delete; }
# Between the timed runs of small messages, delivered files are moved
# aside, not deleted, and the lot is removed after the last timed figure.
# ext4 without a journal will not reuse an inode it freed recently, and
# checks each one it passes over (ialloc.c, recently_deleted): after
# deleting 3,000 files, creating one took 750 us instead of 45 here, for
# whichever program came next, and still 300 us minutes later.  That is
# the disk's bookkeeping for the benchmark's own rm, not a cost of either
# program.
STASH_N=0
spool_stash() { # SPOOL: its new/ and tmp/ start empty
	STASH_N=$((STASH_N + 1))
	mkdir -p "$WORK/stash/$STASH_N" && mv "$1/new" "$1/tmp" "$WORK/stash/$STASH_N/" &&
		mkdir "$1/new" "$1/tmp"
}

# ---- header ---------------------------------------------------------------

out "smtpd benchmark (make bench), $(date -u '+%Y-%m-%d %H:%M UTC')"
out "machine: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1), $(uname -sr), $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)"
out "disk: $(df -T "$WORK" | awk 'NR == 2 {print $2 " on " $1}') (work dir $WORK)"
linked() { # BINARY: the shared libraries it loads, or that it loads none
	if readelf -l "$1" 2>/dev/null | grep -q 'program interpreter'; then
		echo "linked to: $(ldd "$1" 2>/dev/null | awk '$1 !~ /vdso/ {print $1}' | xargs -r -n1 basename | tr '\n' ' ')"
	else
		echo "static (no shared library)"
	fi
}
out "smtpd: $SMTPD ($("$SMTPD" --version 2>/dev/null)), $(linked "$SMTPD")${SMTPD_DYN:+; LINK=dynamic build: $SMTPD_DYN, $(linked "$SMTPD_DYN")}"
out "floor: $CC -O2 bench/floor_greet.c (dynamically linked, one write); durable floor: bench/floor_durable.c"
out "peers: exim ${EXIM:+$EXIM_VERSION ($EXIM -bs, throw-away config)}${EXIM_WHY} | smtp-sink ${SINK:-$SINK_WHY}"
# msmtpd would be a peer, but Debian's msmtp package does not ship it, so
# there is no recipe for it here to run or test: say so rather than omit it.
out "msmtpd: $(command -v msmtpd >/dev/null && echo "$(command -v msmtpd), not measured (the bench has no recipe for it)" || echo "not installed (Debian's msmtp has none), not measured")"
out "exec-to-exit figures (instructions, wall time, RSS, strace) run with the environment tcpserver gives: PATH, PROTO, TCPLOCALIP/PORT/HOST, TCPREMOTEIP/PORT"
out "load average at the start: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine skews times, not instruction counts)"
out "repetitions: $REPS, interleaved; figures are medians, ratios of timed figures medians of each repetition's ratio; network: $([ "${BENCH_IN_NS:-0}" = 1 ] && echo 'loopback in a private namespace' || echo 'host loopback')"
[ -n "$MISSING" ] && out "missing tools (their figures are skipped):$MISSING"
out ""

# ---- callgrind -------------------------------------------------------------

# cg NAME INPUT no|yes|exim CMD...: instructions (callgrind's Collected,
# summed over processes) for CMD with INPUT on a pipe and CG_ENV as its
# environment; yes: children too;
# exim: children too, and run as Exim's user from the start (valgrind
# writes its output as whoever the process is at its end).  Output in
# cg/NAME.*
cg() {
	local name=$1 input=$2 children=$3 as=()
	shift 3
	have valgrind || { echo "-"; return; }
	if [ "$children" = exim ]; then
		children=yes
		as=(setpriv --reuid="$EXIM_UID" --regid="$EXIM_UID" --clear-groups)
	fi
	rm -f "$WORK/cg/$name".*
	"$SPAWN" "${CG_ENV[@]}" -n 1 -i "$input" -o "$WORK/cg/$name.stdout" -e "$WORK/cg/$name.stderr" -- \
		"${as[@]}" valgrind --tool=callgrind --trace-children="$children" \
		--callgrind-out-file="$WORK/cg/$name.out.%p" "$@" >/dev/null ||
		{ echo "-"; return; }
	$CGSUM total "$WORK/cg/$name".out.*
}

# The environment of every exec-to-exit figure: what tcpserver gives its
# program, and PATH.  Fixed, since the loader and getenv walk the
# environment: a shell's would make the figures vary from user to user.
SUP_ENV=(-E PATH=/usr/local/bin:/usr/bin:/bin -E PROTO=TCP -E TCPLOCALIP=127.0.0.1
	-E TCPLOCALPORT=25 -E TCPLOCALHOST=bench.example -E TCPREMOTEIP=127.0.0.1 -E TCPREMOTEPORT=40000)
PATH_ENV=(-E PATH=/usr/local/bin:/usr/bin:/bin)
CG_ENV=("${SUP_ENV[@]}")
BIG=$((BIG_MIB * 1048576))

printf 'QUIT\r\n' >"$WORK/in/quit"

# =========================================================================
# Supervisors for every network figure, started once, all at once

start_tcpserver() { # program args...: sets SUPPORT to the port
	next_port
	tcpserver -R -H -l 0 -c 40 "$HOST" "$PORT" "$@" 2>>"$WORK/log/tcpserver.log" &
	PIDS+=($!)
	SUPPORT=$PORT
	"$CLIENT" wait "$HOST" "$PORT" 2>>"$WORK/log/client.log" || SUPPORT=
}
start_ssa() {
	next_port
	systemd-socket-activate -l "$HOST:$PORT" --accept --inetd "$@" 2>>"$WORK/log/ssa.log" &
	PIDS+=($!)
	SUPPORT=$PORT
	"$CLIENT" wait "$HOST" "$PORT" 2>>"$WORK/log/client.log" || SUPPORT=
}
start_sink() {
	next_port
	"$SINK" -u nobody "$HOST:$PORT" 256 2>>"$WORK/log/smtp-sink.log" &
	PIDS+=($!)
	SUPPORT=$PORT
	"$CLIENT" wait "$HOST" "$PORT" 2>>"$WORK/log/client.log" || SUPPORT=
}
if want conn || want msg || want big; then
if have tcpserver; then
	start_tcpserver "$FLOOR"; P[ts_floor]=$SUPPORT
	start_tcpserver "$SMTPD" "${SMTPD_ARGS[@]}"; P[ts_smtpd]=$SUPPORT
	start_tcpserver "$DURABLE" "$SP_FLOOR"; P[ts_durable]=$SUPPORT
	start_tcpserver "$SMTPF" "$SP_SMTPF"; P[ts_smtpf]=$SUPPORT
	start_tcpserver "$STREAM" "$SP_FLOOR"; P[ts_stream]=$SUPPORT
	start_tcpserver "$STREAM" -; P[ts_drop]=$SUPPORT
	[ -n "$EXIM" ] && { start_tcpserver "${EXIMCMD[@]}"; P[ts_exim]=$SUPPORT; }
fi
if have systemd-socket-activate; then
	start_ssa "$FLOOR"; P[ssa_floor]=$SUPPORT
	start_ssa "$SMTPD" "${SMTPD_ARGS[@]}"; P[ssa_smtpd]=$SUPPORT
	[ -n "$EXIM" ] && { start_ssa "${EXIMCMD[@]}"; P[ssa_exim]=$SUPPORT; }
fi
[ -n "$SINK" ] && { start_sink; P[sink]=$SUPPORT; }
fi
spool_clear "$SP_SMTPD"; spool_clear "$SP_FLOOR"; [ -n "$EXIM" ] && exim_clear

FAILS='' MISMATCH='' N0=1
rate() { # key port client-args...: appends the rate to V[key]
	local key=$1 port=$2 l
	shift 2
	[ -n "$port" ] || return
	l=$("$CLIENT" "${1}" "$HOST" "$port" "${@:2}" 2>>"$WORK/log/client.log")
	LAST[$key]=$(kv per_second "$l")
	V[$key]+=" ${LAST[$key]}"
	[ "$(kv failed "$l")" = 0 ] || FAILS+=" $key($(kv failed "$l") failed)"
}
# pair KEY A B: this repetition's A/B (the last figures of A and B) added to
# V[KEY]; the median of such paired ratios is what the targets judge, since
# load from elsewhere drifts between repetitions more than within one
pair() { V[$1]+=" $(ratio "${LAST[$2]:-}" "${LAST[$3]:-}" 3)"; }

# =========================================================================
if want conn; then
out "## Per connection: greeting + QUIT"
out ""
for ((r = 1; r <= REPS; r++)); do
	V[cg_floor]+=" $(cg floor "$WORK/in/quit" no "$FLOOR")"
	CG_ENV+=(-E LD_PRELOAD="$WORK/bin/empty.so")
	V[cg_floor_pre]+=" $(cg floor_pre "$WORK/in/quit" no "$FLOOR")"
	CG_ENV=("${SUP_ENV[@]}")
	[ -n "$FLOOR_SD" ] && V[cg_floor_sd]+=" $(cg floor_sd "$WORK/in/quit" no "$FLOOR_SD")"
	V[cg_smtpd]+=" $(cg smtpd_conn "$WORK/in/quit" no "$SMTPD" "${SMTPD_ARGS[@]}")"
	[ -n "$SMTPD_DYN" ] && V[cg_dyn]+=" $(cg dyn_conn "$WORK/in/quit" no "$SMTPD_DYN" "${SMTPD_ARGS[@]}")"
	[ -n "$EXIM" ] && V[cg_exim]+=" $(cg exim_conn "$WORK/in/quit" exim "${EXIMCMD[@]}")"
	CG_ENV=("${PATH_ENV[@]}")
	V[cgp_floor]+=" $(cg floor_path "$WORK/in/quit" no "$FLOOR")"
	CG_ENV+=(-E LD_PRELOAD="$WORK/bin/empty.so")
	V[cgp_floor_pre]+=" $(cg floor_path_pre "$WORK/in/quit" no "$FLOOR")"
	CG_ENV=("${PATH_ENV[@]}")
	[ -n "$FLOOR_SD" ] && V[cgp_floor_sd]+=" $(cg floor_sd_path "$WORK/in/quit" no "$FLOOR_SD")"
	V[cgp_smtpd]+=" $(cg smtpd_path "$WORK/in/quit" no "$SMTPD" "${SMTPD_ARGS[@]}")"
	[ -n "$EXIM" ] && V[cgp_exim]+=" $(cg exim_path "$WORK/in/quit" exim "${EXIMCMD[@]}")"
	CG_ENV=("${SUP_ENV[@]}")
done
grep -q '^221 ' "$WORK/cg/smtpd_conn.stdout" 2>/dev/null || note "smtpd under callgrind did not answer QUIT with 221"
for ((r = 1; r <= REPS; r++)); do
	for p in floor floor_sd smtpd dyn exim; do
		case $p in
		floor) cmd=("$FLOOR") ;;
		floor_sd) [ -n "$FLOOR_SD" ] || continue; cmd=("$FLOOR_SD") ;;
		smtpd) cmd=("$SMTPD" "${SMTPD_ARGS[@]}") ;;
		dyn) [ -n "$SMTPD_DYN" ] || continue; cmd=("$SMTPD_DYN" "${SMTPD_ARGS[@]}") ;;
		exim) [ -n "$EXIM" ] || continue; cmd=("${EXIMCMD[@]}") ;;
		esac
		l=$("$SPAWN" "${SUP_ENV[@]}" -n "$NSPAWN" -i "$WORK/in/quit" -e "$WORK/log/spawn-$p.log" -- "${cmd[@]}")
		V[wall_$p]+=" $(kv median_us "$l")"
		V[wmin_$p]+=" $(kv min_us "$l")"
	done
done
for k in cg_floor cg_floor_sd cg_smtpd cg_dyn cg_exim cgp_floor cgp_floor_sd cgp_smtpd cgp_exim \
	cg_floor_pre cgp_floor_pre \
	wall_floor wall_floor_sd wall_smtpd wall_dyn wall_exim wmin_floor wmin_floor_sd wmin_smtpd wmin_dyn wmin_exim; do
	M[$k]=$(median ${V[$k]:-})
done
# Under valgrind a dynamically linked program also loads valgrind's
# vgpreload_core, which it never does when run for real; the static smtpd
# loads nothing.  Those counts are shown less the cost of one preloaded
# library, measured as an empty one (the same for every run: callgrind).
unpreload() { # KEY PREKEY BASEKEY: M[KEY] less (M[PREKEY] - M[BASEKEY])
	M[$1]=$(awk -v v="${M[$1]:-}" -v p="${M[$2]:-}" -v b="${M[$3]:-}" 'BEGIN {
		if (v ~ /^[0-9]+$/ && p ~ /^[0-9]+$/ && b ~ /^[0-9]+$/ && p > b) printf "%d", v - (p - b)
		else printf "%s", v }')
}
M[cg_preload]=$(awk -v p="${M[cg_floor_pre]:-}" -v b="${M[cg_floor]:-}" 'BEGIN {
	if (p ~ /^[0-9]+$/ && b ~ /^[0-9]+$/) printf "%d", p - b; else printf "-" }')
M[cg_floor_raw]=${M[cg_floor]:-}
for k in cg_floor cg_floor_sd cg_dyn cg_exim; do unpreload $k cg_floor_pre cg_floor_raw; done
M[cgp_floor_raw]=${M[cgp_floor]:-}
for k in cgp_floor cgp_floor_sd cgp_exim; do unpreload $k cgp_floor_pre cgp_floor_raw; done

# connections per second: each program under each supervisor, one client
for ((r = 1; r <= REPS; r++)); do
	for s in ts ssa; do
		for p in floor smtpd exim; do
			n=$NCONN; [ "$p" != exim ] || n=$(((NCONN + 2) / 3))
			# the floor prints a line and goes; a server must answer QUIT
			rate "conn_${s}_$p" "${P[${s}_$p]:-}" conn "$n" 1 $([ "$p" = floor ] || echo smtp)
		done
		pair "conn_${s}_ratio" "conn_${s}_floor" "conn_${s}_smtpd"
	done
	rate conn_sink "${P[sink]:-}" conn "$NCONN" 1 smtp
done
for k in conn_ts_floor conn_ts_smtpd conn_ts_exim conn_ssa_floor conn_ssa_smtpd conn_ssa_exim conn_sink; do
	M[$k]=$(median ${V[$k]:-})
done
# wall time per connection relative to the floor = inverse ratio of rates
M[conn_ts_ratio]=$(median ${V[conn_ts_ratio]:-})
M[conn_ssa_ratio]=$(median ${V[conn_ssa_ratio]:-})

row "figure" "smtpd" "floor" "smtpd/floor" "floor+systemd" "exim -bs"
rule 5
row "instructions, exec to exit (callgrind, pipe)" "$(fmt "${M[cg_smtpd]}")" "$(fmt "${M[cg_floor]}")" \
	"$(ratio "${M[cg_smtpd]}" "${M[cg_floor]}")" "$(fmt "${M[cg_floor_sd]}")" "$(fmt "${M[cg_exim]}")"
row "  the same, PATH alone in the environment" "$(fmt "${M[cgp_smtpd]}")" "$(fmt "${M[cgp_floor]}")" \
	"$(ratio "${M[cgp_smtpd]}" "${M[cgp_floor]}")" "$(fmt "${M[cgp_floor_sd]}")" "$(fmt "${M[cgp_exim]}")"
row "wall time exec to exit, us (pipe)" "$(fmt "${M[wall_smtpd]}")" "$(fmt "${M[wall_floor]}")" \
	"$(ratio "${M[wall_smtpd]}" "${M[wall_floor]}")" "$(fmt "${M[wall_floor_sd]}")" "$(fmt "${M[wall_exim]}")"
row "  the same, fastest of $NSPAWN (median of those)" "$(fmt "${M[wmin_smtpd]}")" "$(fmt "${M[wmin_floor]}")" \
	"$(ratio "${M[wmin_smtpd]}" "${M[wmin_floor]}")" "$(fmt "${M[wmin_floor_sd]}")" "$(fmt "${M[wmin_exim]}")"
if [ -n "$SMTPD_DYN" ]; then
	row "smtpd built LINK=dynamic: instructions (pipe)" "$(fmt "${M[cg_dyn]}")" "$(fmt "${M[cg_floor]}")" \
		"$(ratio "${M[cg_dyn]}" "${M[cg_floor]}")" "" ""
	row "  its wall time exec to exit, us (pipe)" "$(fmt "${M[wall_dyn]}")" "$(fmt "${M[wall_floor]}")" \
		"$(ratio "${M[wall_dyn]}" "${M[wall_floor]}")" "" ""
fi
row "connections/s under tcpserver" "$(fmt "${M[conn_ts_smtpd]}")" "$(fmt "${M[conn_ts_floor]}")" \
	"${M[conn_ts_ratio]} (time)" "" "$(fmt "${M[conn_ts_exim]}")"
row "connections/s, systemd-socket-activate --inetd" "$(fmt "${M[conn_ssa_smtpd]}")" "$(fmt "${M[conn_ssa_floor]}")" \
	"${M[conn_ssa_ratio]} (time)" "" "$(fmt "${M[conn_ssa_exim]}")"
row "connections/s, smtp-sink (its own listener)" "" "" "" "" "sink: $(fmt "${M[conn_sink]}")"
note "instructions of dynamically linked programs (floor, floor+systemd, LINK=dynamic, exim) are shown less"
note "$(fmt "${M[cg_preload]}"), what the library valgrind preloads into them costs (an empty preloaded library's"
note "cost); smtpd is static and loads none.  The floor as callgrind counts it: $(fmt "${M[cg_floor_raw]}")"
out ""
M[cg_conn_ratio]=$(ratio "${M[cg_smtpd]}" "${M[cg_floor]}" 3)
target "instructions per connection / floor's" "${M[cg_conn_ratio]}" "<= 1.3" "$(cmp_le "${M[cg_conn_ratio]}" 1.3)"
target "wall time per connection under tcpserver / floor's" "${M[conn_ts_ratio]}" "<= 1.3" "$(cmp_le "${M[conn_ts_ratio]}" 1.3)"
fi

# =========================================================================
if want msg; then
out "## Per message: 1 KiB messages, messages per second (tcpserver; smtp-sink listens itself)"
out ""
msg_rate() { # key port per conc: one figure for smtpd/exim/sink, checked against the spool
	local key=$1 port=$2 per=$3 conc=$4 n
	[ -n "$port" ] || return
	n=$NMSG1; [ "$per" = 1 ] || n=$NMSG100
	# Exim is slower: a third as many (its rate is as good a median)
	case $key in *_exim) n=$((n / 3)); [ "$per" = 1 ] || [ "$n" -ge 100 ] || n=100; [ "$n" -ge 1 ] || n=1 ;; esac
	rate "$key" "$port" msg "$n" "$conc" "$per" 1024
	case $key in
	*_smtpd) [ "$(spool_count "$SP_SMTPD")" = "$n" ] || MISMATCH+=" $key"; spool_stash "$SP_SMTPD" ;;
	*_exim) [ "$(exim_count)" = "$n" ] || MISMATCH+=" $key"; exim_stash ;;
	esac
}
# The figure the target judges, one message per connection against the
# durable floor, and the SMTP floor beside them: the three take turns in
# BLOCKS blocks of NMSG1/BLOCKS connections, the one to go first rotating
# from block to block and from repetition to repetition, and each one's
# rate is its messages over its summed time.  Load that comes and goes
# within a second (this machine's floor alone ranged from 160 to 530
# messages/s in one day) then falls on all alike instead of on whichever
# ran in that second.
BLOCKS=${BENCH_BLOCKS:-6}
paired_rate() { # conc rep
	local c=$1 r=$2 n=$((NMSG1 / BLOCKS)) b i p l f key progs=(durable smtpf smtpd)
	local -A secs=([durable]=0 [smtpf]=0 [smtpd]=0) bad=([durable]=0 [smtpf]=0 [smtpd]=0)
	[ -n "${P[ts_durable]:-}" ] && [ -n "${P[ts_smtpf]:-}" ] && [ -n "${P[ts_smtpd]:-}" ] &&
		[ "$n" -ge 1 ] || return
	for ((b = 0; b < BLOCKS; b++)); do
		for ((i = 0; i < 3; i++)); do
			p=${progs[(b + r + i) % 3]}
			case $p in
			durable) l=$("$CLIENT" conn "$HOST" "${P[ts_durable]}" "$n" "$c" 2>>"$WORK/log/client.log") ;;
			*) l=$("$CLIENT" msg "$HOST" "${P[ts_$p]}" "$n" "$c" 1 1024 2>>"$WORK/log/client.log") ;;
			esac
			secs[$p]=$(awk -v a="${secs[$p]}" -v b="$(kv seconds "$l")" 'BEGIN {print a + b}')
			f=$(kv failed "$l")
			bad[$p]=$((bad[$p] + ${f:-n}))
		done
	done
	for p in "${progs[@]}"; do
		key=msg_1_${c}_$p
		LAST[$key]=$(awk -v n=$((n * BLOCKS)) -v t="${secs[$p]}" 'BEGIN {if (t > 0) printf "%.1f", n / t}')
		V[$key]+=" ${LAST[$key]}"
		[ "${bad[$p]}" = 0 ] || FAILS+=" $key(${bad[$p]} failed)"
	done
	[ "$(spool_count "$SP_FLOOR")" = $((n * BLOCKS)) ] || MISMATCH+=" durable"
	[ "$(spool_count "$SP_SMTPF")" = $((n * BLOCKS)) ] || MISMATCH+=" floor_smtp"
	[ "$(spool_count "$SP_SMTPD")" = $((n * BLOCKS)) ] || MISMATCH+=" msg_1_${c}_smtpd"
	spool_stash "$SP_FLOOR"
	spool_stash "$SP_SMTPF"
	spool_stash "$SP_SMTPD"
	pair "msg_1_${c}_ratio" "msg_1_${c}_smtpd" "msg_1_${c}_durable"
	pair "msg_1_${c}_fratio" "msg_1_${c}_smtpf" "msg_1_${c}_durable"
	pair "msg_1_${c}_sfratio" "msg_1_${c}_smtpd" "msg_1_${c}_smtpf"
}
for ((r = 1; r <= REPS; r++)); do
	for c in 1 2; do
		paired_rate "$c" "$r"
		for per in 1 100; do
			[ "$per" = 1 ] || msg_rate "msg_${per}_${c}_smtpd" "${P[ts_smtpd]:-}" "$per" "$c"
			msg_rate "msg_${per}_${c}_exim" "${P[ts_exim]:-}" "$per" "$c"
			msg_rate "msg_${per}_${c}_sink" "${P[sink]:-}" "$per" "$c"
		done
	done
done
row "messages per second" "smtpd" "durable floor" "smtpd/floor" "exim -bs" "smtp-sink"
rule 5
for per in 1 100; do
	for c in 1 2; do
		for p in smtpd durable smtpf exim sink; do M[msg_${per}_${c}_$p]=$(median ${V[msg_${per}_${c}_$p]:-}); done
		if [ "$per" = 1 ]; then
			for k in ratio fratio sfratio; do M[msg_1_${c}_$k]=$(median ${V[msg_1_${c}_$k]:-}); done
			row "1 per connection, $c client(s)" "$(fmt "${M[msg_1_${c}_smtpd]}")" "$(fmt "${M[msg_1_${c}_durable]}")" \
				"${M[msg_1_${c}_ratio]}" "$(fmt "${M[msg_1_${c}_exim]}")" "$(fmt "${M[msg_1_${c}_sink]}")"
			row "  SMTP floor (floor_smtp.c), $c client(s)" "$(fmt "${M[msg_1_${c}_smtpf]}")" "$(fmt "${M[msg_1_${c}_durable]}")" \
				"${M[msg_1_${c}_fratio]}" "" ""
			row "  smtpd / SMTP floor, $c client(s)" "" "" "${M[msg_1_${c}_sfratio]}" "" ""
		else
			row "100 per connection (pipelined), $c client(s)" "$(fmt "${M[msg_100_${c}_smtpd]}")" "" "" \
				"$(fmt "${M[msg_100_${c}_exim]}")" "$(fmt "${M[msg_100_${c}_sink]}")"
		fi
	done
done
target "messages/s, 1 KiB, 1 per connection / durable floor's" "${M[msg_1_1_ratio]}" ">= 0.90" "$(cmp_ge "${M[msg_1_1_ratio]}" 0.90)"
out ""
out "The SMTP floor does the durable floor's work behind the least dialogue this client needs (greeting,"
out "EHLO, the pipelined envelope, DATA): ${M[msg_1_1_fratio]} of the durable floor with 1 client is what the four round trips"
out "cost any SMTP server here; smtpd runs at ${M[msg_1_1_sfratio]} of the SMTP floor."
out ""

# Where a session's time goes: the same three in the same turns, each
# session timed at every reply the client waits for (client phases).
phase_times() { # rep
	local r=$1 n=$((NMSG1 / BLOCKS)) b i p l k mode progs=(durable smtpf smtpd)
	[ -n "${P[ts_durable]:-}" ] && [ -n "${P[ts_smtpf]:-}" ] && [ -n "${P[ts_smtpd]:-}" ] &&
		[ "$n" -ge 1 ] || return
	for ((b = 0; b < BLOCKS; b++)); do
		for ((i = 0; i < 3; i++)); do
			p=${progs[(b + r + i) % 3]}
			mode=smtp; [ "$p" = durable ] && mode=line
			l=$("$CLIENT" phases "$HOST" "${P[ts_$p]}" "$n" "$mode" 2>>"$WORK/log/client.log")
			[ "$(kv failed "$l")" = 0 ] || FAILS+=" phases_$p"
			for k in greeting ehlo envelope data end total; do V[ph_${p}_$k]+=" $(kv "$k" "$l")"; done
		done
	done
	[ "$(spool_count "$SP_FLOOR")" = $((n * BLOCKS)) ] || MISMATCH+=" phases_durable"
	[ "$(spool_count "$SP_SMTPF")" = $((n * BLOCKS)) ] || MISMATCH+=" phases_floor_smtp"
	[ "$(spool_count "$SP_SMTPD")" = $((n * BLOCKS)) ] || MISMATCH+=" phases_smtpd"
	spool_stash "$SP_FLOOR"
	spool_stash "$SP_SMTPF"
	spool_stash "$SP_SMTPD"
}
for ((r = 1; r <= REPS; r++)); do phase_times "$r"; done
for p in durable smtpf smtpd; do
	for k in greeting ehlo envelope data end total; do M[ph_${p}_$k]=$(median ${V[ph_${p}_$k]:-}); done
done
row "one session, microseconds (1 KiB, 1 client)" "durable floor" "SMTP floor" "smtpd" "difference" ""
rule 5
for k in greeting ehlo envelope data end total; do
	case $k in
	greeting) label="connect to greeting (durable floor: to its line)" ;;
	ehlo) label="EHLO to 250" ;;
	envelope) label="MAIL, RCPT, DATA to 354" ;;
	data) label="the data to its 250 (both fsyncs)" ;;
	end) label="221 (durable floor: QUIT) to the close" ;;
	total) label="whole session (median)" ;;
	esac
	row "$label" "$(fmt "${M[ph_durable_$k]}")" "$(fmt "${M[ph_smtpf_$k]}")" "$(fmt "${M[ph_smtpd_$k]}")" \
		"$(awk -v a="${M[ph_smtpd_$k]}" -v b="${M[ph_smtpf_$k]}" 'BEGIN {if (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/) printf "%+.0f", a - b; else printf "-"}')" ""
done
out ""
out "Medians of each block's medians; the difference is smtpd's less the SMTP floor's. The durable floor's"
out "line comes after its fsyncs. smtpd makes its file while answering the envelope, the SMTP floor after"
out "the data has come."
out ""

# instructions per message on a pipe: sessions of N and N+K messages
for size in 1024 10240; do
	"$CLIENT" gen "$N0" "$size" >"$WORK/in/s$N0.$size"
	"$CLIENT" gen "$((N0 + K))" "$size" >"$WORK/in/s$((N0 + K)).$size"
	for ((r = 1; r <= REPS; r++)); do
		a=$(cg "smtpd_n$N0.$size" "$WORK/in/s$N0.$size" no "$SMTPD" "${SMTPD_ARGS[@]}")
		b=$(cg "smtpd_n$((N0 + K)).$size" "$WORK/in/s$((N0 + K)).$size" no "$SMTPD" "${SMTPD_ARGS[@]}")
		V[pm_smtpd_$size]+=" $(awk -v a="$a" -v b="$b" -v k="$K" 'BEGIN {if (a ~ /^[0-9]+$/ && b ~ /^[0-9]+$/) printf "%.0f", (b - a) / k}')"
		if [ -n "$EXIM" ]; then
			a=$(cg "exim_n$N0.$size" "$WORK/in/s$N0.$size" exim "${EXIMCMD[@]}")
			b=$(cg "exim_n$((N0 + K)).$size" "$WORK/in/s$((N0 + K)).$size" exim "${EXIMCMD[@]}")
			V[pm_exim_$size]+=" $(awk -v a="$a" -v b="$b" -v k="$K" 'BEGIN {if (a ~ /^[0-9]+$/ && b ~ /^[0-9]+$/) printf "%.0f", (b - a) / k}')"
			exim_clear
		fi
	done
	[ "$(grep -c '^250 2.0.0' "$WORK/cg/smtpd_n$((N0 + K)).$size.stdout" 2>/dev/null)" = "$((N0 + K))" ] ||
		note "smtpd under callgrind did not queue all $((N0 + K)) messages of $size bytes"
	spool_clear "$SP_SMTPD"
	M[pm_smtpd_$size]=$(median ${V[pm_smtpd_$size]:-})
	M[pm_exim_$size]=$(median ${V[pm_exim_$size]:-})
done
row "instructions per further message (pipe)" "smtpd" "exim -bs" "smtpd/exim" "" ""
rule 5
for size in 1024 10240; do
	row "$((size / 1024)) KiB: (I(N+$K) - I(N)) / $K, N = $N0" "$(fmt "${M[pm_smtpd_$size]}")" "$(fmt "${M[pm_exim_$size]}")" \
		"$(ratio "${M[pm_smtpd_$size]}" "${M[pm_exim_$size]}")" "" ""
done
target "instructions per further 10 KiB message" "$(fmt "${M[pm_smtpd_10240]}")" "<= 200,000" "$(cmp_le "${M[pm_smtpd_10240]}" 200000)"
out ""
fi

# =========================================================================
if want big; then
out "## Throughput: one ${BIG_MIB} MiB message, MiB/s from 354 to 250"
out ""
"$CLIENT" body "$BIG" >"$WORK/in/big.body"
cat "$WORK/in/big.body" >/dev/null
for ((r = 1; r <= REPS; r++)); do
	# The reference: cat's copy into a file on the spool's disk, then
	# fsync, timed inside one process (catsync.c), as smtpd's figure
	# leaves its exec out.
	l=$("$CATSYNC" "$WORK/in/big.body" "$SP_FLOOR/tmp/cat.out" 2>>"$WORK/log/catsync.log")
	LAST[big_cat]=
	[ "$(kv bytes "$l")" = "$BIG" ] && LAST[big_cat]=$(kv mib_per_s "$l") || FAILS+=" big_cat"
	V[big_cat]+=" ${LAST[big_cat]}"
	rm -f "$SP_FLOOR/tmp/cat.out"
	# The same from the shell, two process starts included: shown only.
	t=$EPOCHREALTIME
	cat "$WORK/in/big.body" >"$SP_FLOOR/tmp/cat.out" && sync "$SP_FLOOR/tmp/cat.out"
	V[big_catsh]+=" $(awk -v a="$t" -v b="$EPOCHREALTIME" -v n="$BIG" 'BEGIN {printf "%.1f", n / 1048576 / (b - a)}')"
	rm -f "$SP_FLOOR/tmp/cat.out"
	for p in smtpd stream drop exim sink; do
		mode=big
		case $p in smtpd) port=${P[ts_smtpd]:-} ;; exim) port=${P[ts_exim]:-} ;; sink) port=${P[sink]:-} ;;
		stream) port=${P[ts_stream]:-} mode=stream ;; drop) port=${P[ts_drop]:-} mode=stream ;; esac
		[ -n "$port" ] || continue
		l=$("$CLIENT" "$mode" "$HOST" "$port" "$BIG" 2>>"$WORK/log/client.log")
		LAST[big_$p]=
		[ "$(kv failed "$l")" = 0 ] && LAST[big_$p]=$(kv mib_per_s "$l") || FAILS+=" big_$p"
		V[big_$p]+=" ${LAST[big_$p]}"
		case $p in smtpd) spool_clear "$SP_SMTPD" ;; exim) exim_clear ;; stream) spool_clear "$SP_FLOOR" ;; esac
	done
	pair big_ratio big_smtpd big_cat
	pair big_sratio big_smtpd big_stream
	pair big_dratio big_drop big_cat
	pair big_fratio big_stream big_cat
done
for p in cat catsh smtpd stream drop exim sink; do M[big_$p]=$(median ${V[big_$p]:-}); done
row "MiB/s" "smtpd" "cat+fsync" "smtpd/cat" "socket floor" "smtpd/socket"
rule 5
M[big_ratio]=$(median ${V[big_ratio]:-})
M[big_sratio]=$(median ${V[big_sratio]:-})
row "one ${BIG_MIB} MiB message (tcpserver)" "$(fmt "${M[big_smtpd]}")" "$(fmt "${M[big_cat]}")" \
	"${M[big_ratio]}" "$(fmt "${M[big_stream]}")" "${M[big_sratio]}"
M[big_dratio]=$(median ${V[big_dratio]:-})
row "  nothing stored: the client and the socket alone" "$(fmt "${M[big_drop]}")" "$(fmt "${M[big_cat]}")" \
	"${M[big_dratio]}" "" ""
row "peers: exim -bs | smtp-sink" "" "" "" "$(fmt "${M[big_exim]}")" "$(fmt "${M[big_sink]}")"
note "cat+fsync: bench/catsync.c, cat's copy (copy_file_range, as GNU cat) and fsync, timed inside one process;"
note "\`cat && sync\` timed from the shell, two process starts included, ran at $(fmt "${M[big_catsh]}") MiB/s"
note "socket floor: bench/floor_stream.c under tcpserver, the same bytes read from the socket into a file, fsync, rename, fsync new/"
note "nothing stored: floor_stream - , the same bytes read from the socket and dropped; where its ratio to cat+fsync"
note "is below the target's, no server that receives the message over this socket can meet it on this machine"
M[big_fratio]=$(median ${V[big_fratio]:-})
out ""
out "Receiving over this socket and storing what comes costs every server the same: the socket floor runs at"
out "${M[big_fratio]} of cat+fsync and the socket alone at ${M[big_dratio]}; smtpd runs at ${M[big_sratio]} of the socket floor."
target "${BIG_MIB} MiB message throughput / cat+fsync" "${M[big_ratio]}" ">= 0.80" "$(cmp_ge "${M[big_ratio]}" 0.80)"
out ""
fi

# =========================================================================
if want rss; then
out "## Memory: peak RSS (ru_maxrss), KiB, one session on a pipe, no address space randomisation"
out ""
"$CLIENT" gen 1 10240 >"$WORK/in/rss.10k"
"$CLIENT" gen 1 "$BIG" >"$WORK/in/rss.big"
"$CLIENT" gen 1 $((1048576 + 300)) $((1048576 + 2)) >"$WORK/in/rss.line"
rm -f "$WORK/in/big.body"
for ((r = 1; r <= REPS; r++)); do
	for c in quit 10k big line; do
		in=$WORK/in/rss.$c; [ "$c" = quit ] && in=$WORK/in/quit
		rm -f "$WORK/log/hwm"
		l=$("$SPAWN" -R -H "$WORK/log/hwm" "${SUP_ENV[@]}" -n 1 -i "$in" -o "$WORK/log/rss-$c.out" \
			-e "$WORK/log/rss-$c.err" -- "$SMTPD" "${SMTPD_ARGS[@]}")
		V[rss_smtpd_$c]+=" $(kv maxrss_kib "$l")"
		V[hwm_smtpd_$c]+=" $(awk '/^VmHWM:/ {print $2}' "$WORK/log/hwm" 2>/dev/null)"
		[ "$c" = quit ] || grep -q '^250 2.0.0' "$WORK/log/rss-$c.out" || FAILS+=" rss_smtpd_$c"
		spool_clear "$SP_SMTPD"
		if [ -n "$EXIM" ]; then
			l=$("$SPAWN" -R "${SUP_ENV[@]}" -n 1 -i "$in" -e "$WORK/log/rss-exim.err" -- "${EXIMCMD[@]}")
			V[rss_exim_$c]+=" $(kv maxrss_kib "$l")"
			exim_clear
		fi
	done
done
row "peak RSS, KiB" "smtpd" "exim -bs" "smtpd VmHWM" "" ""
rule 5
for c in quit 10k big line; do
	M[rss_smtpd_$c]=$(median ${V[rss_smtpd_$c]:-}); M[rss_exim_$c]=$(median ${V[rss_exim_$c]:-})
	M[hwm_smtpd_$c]=$(median ${V[hwm_smtpd_$c]:-})
	case $c in quit) label="greeting + QUIT" ;; 10k) label="one 10 KiB message" ;;
	big) label="one ${BIG_MIB} MiB message" ;; line) label="one message with a 1 MiB line" ;; esac
	row "$label" "$(fmt "${M[rss_smtpd_$c]}")" "$(fmt "${M[rss_exim_$c]}")" "$(fmt "${M[hwm_smtpd_$c]}")" "" ""
done
out "  note: ru_maxrss moves in steps of up to 128 KiB (per-CPU RSS counters); VmHWM is read from /proc"
out "  at the program's exit (spawn -H, ptrace's exit stop) and is what the spread target uses when present"
rk=rss; [ "${M[hwm_smtpd_10k]}" != "-" ] && rk=hwm
M[rss_spread]=$(printf '%s\n' "${M[${rk}_smtpd_10k]}" "${M[${rk}_smtpd_big]}" "${M[${rk}_smtpd_line]}" |
	awk '/^[0-9.]+$/ {if (n == 0 || $1 < lo) lo = $1; if (n == 0 || $1 > hi) hi = $1; n++} END {if (n == 3) print hi - lo; else print "-"}')
target "peak RSS spread over 10 KiB, ${BIG_MIB} MiB, 1 MiB line (KiB)" "${M[rss_spread]}" "<= 64" "$(cmp_le "${M[rss_spread]}" 64)"
out ""
fi

# =========================================================================
if want fsync; then
out "## Durability: calls per message (strace -f, a session of 10 messages on a pipe)"
out ""
NF=10
"$CLIENT" gen "$NF" 1024 >"$WORK/in/fsync"
syscount() { # name cmd...: sets C[name_file], C[name_dir], C[name_rename], C[name_other]
	local name=$1 f=$WORK/log/strace.$1 line path call
	shift
	C[${name}_file]=0 C[${name}_dir]=0 C[${name}_rename]=0 C[${name}_other]=0
	"$SPAWN" "${SUP_ENV[@]}" -n 1 -i "$WORK/in/fsync" -o "$f.out" -- strace -f -y -o "$f" \
		-e trace=fsync,fdatasync,sync_file_range,syncfs,sync,msync,rename,renameat,renameat2,link,linkat \
		"$@" >/dev/null || return
	while read -r _ line; do
		call=${line%%(*}
		case $call in
		fsync | fdatasync | sync_file_range)
			path=$(printf '%s' "$line" | sed -n 's/^[a-z_]*([0-9]*<\([^>]*\)>.*/\1/p')
			if [ -d "$path" ]; then C[${name}_dir]=$((C[${name}_dir] + 1)); else C[${name}_file]=$((C[${name}_file] + 1)); fi ;;
		rename | renameat | renameat2 | link | linkat) C[${name}_rename]=$((C[${name}_rename] + 1)) ;;
		syncfs | sync | msync) C[${name}_other]=$((C[${name}_other] + 1)) ;;
		esac
	done < <(grep -E '^[0-9]+ +[a-z_0-9]+\(' "$f")
}
if have strace; then
	syscount smtpd "$SMTPD" "${SMTPD_ARGS[@]}"
	[ "$(grep -c '^250 2.0.0' "$WORK/log/strace.smtpd.out")" = "$NF" ] || note "smtpd under strace did not queue all $NF messages"
	spool_clear "$SP_SMTPD"
	[ -n "$EXIM" ] && { syscount exim "${EXIMCMD[@]}"; exim_clear; }
fi
per() { awk -v a="${C[$1]:-}" -v n="$NF" 'BEGIN {if (a == "") print "-"; else printf "%.2f", a / n}'; }
row "calls per message" "smtpd" "minimum" "exim -bs" "" ""
rule 5
row "fsync/fdatasync of a file" "$(per smtpd_file)" "1" "$(per exim_file)" "" ""
row "fsync of a directory" "$(per smtpd_dir)" "1" "$(per exim_dir)" "" ""
row "rename/link" "$(per smtpd_rename)" "1" "$(per exim_rename)" "" ""
row "sync/syncfs/msync" "$(per smtpd_other)" "0" "$(per exim_other)" "" ""
f=$(per smtpd_file) d=$(per smtpd_dir)
target "fsyncs of the file per message" "$f" "<= 1" "$(cmp_le "$f" 1)"
target "fsyncs of new/ per message" "$d" "<= 1" "$(cmp_le "$d" 1)"
out ""
fi

# =========================================================================
if want users; then
out "## Users table (issue 3): instructions for EHLO, MAIL, RCPT, QUIT on a pipe"
out ""
if ! "$SMTPD" --help 2>/dev/null | grep -q -- '--users'; then
	out "not built yet (smtpd --help does not mention --users)"
	target "users: 1M-entry indexed table / no table" "not built yet" "<= 1.2" "not measured"
else
	U=$WORK/users
	mkdir -p "$U"
	printf 'EHLO bench.example.com\r\nMAIL FROM:<bench@example.com>\r\nRCPT TO:<alice@example.org>\r\nQUIT\r\n' >"$WORK/in/rcpt"
	{ echo "alice@example.org accept Alice Example"
	  for i in $(seq 1 9); do echo "user$i@example.org accept User $i"; done; } >"$U/ten"
	# alice last: where a table read from start to end finds her last
	awk -v n="$USERS_N" 'BEGIN {for (i = 1; i < n; i++) printf "user%d@example.org accept User %d\n", i, i;
		print "alice@example.org accept Alice Example"}' >"$U/big"
	cp "$U/big" "$U/bigidx"
	"$SMTPD" --compile-users "$U/bigidx" >"$WORK/log/compile-users.log" 2>&1 ||
		note "smtpd --compile-users failed: $(head -n1 "$WORK/log/compile-users.log")"
	for ((r = 1; r <= REPS; r++)); do
		V[u_none]+=" $(cg u_none "$WORK/in/rcpt" no "$SMTPD" "${SMTPD_ARGS[@]}")"
		V[u_ten]+=" $(cg u_ten "$WORK/in/rcpt" no "$SMTPD" "${SMTPD_ARGS[@]}" --users "$U/ten")"
		[ -f "$U/bigidx.cdb" ] && V[u_cdb]+=" $(cg u_cdb "$WORK/in/rcpt" no "$SMTPD" "${SMTPD_ARGS[@]}" --users "$U/bigidx.cdb")"
	done
	# the 1M text table is parsed whole: once is enough (and slow)
	V[u_big]=$(cg u_big "$WORK/in/rcpt" no "$SMTPD" "${SMTPD_ARGS[@]}" --users "$U/big")
	row "table" "instructions" "/ no table" "RCPT reply" "" ""
	rule 5
	for t in none ten big cdb; do
		M[u_$t]=$(median ${V[u_$t]:-})
		case $t in none) label="no table" ;; ten) label="10 entries, text" ;;
		big) label="$(fmt "$USERS_N") entries, text" ;; cdb) label="$(fmt "$USERS_N") entries, indexed (cdb)" ;; esac
		# the RCPT reply: the line before the 221
		reply=$(tail -n2 "$WORK/cg/u_$t.stdout" 2>/dev/null | head -n1 | cut -c1-9)
		row "$label" "$(fmt "${M[u_$t]}")" "$(ratio "${M[u_$t]}" "${M[u_none]}")" "${reply:--}" "" ""
	done
	M[u_ratio]=$(ratio "${M[u_cdb]}" "${M[u_none]}" 3)
	target "users: $(fmt "$USERS_N")-entry indexed table / no table" "${M[u_ratio]}" "<= 1.2" "$(cmp_le "${M[u_ratio]}" 1.2)"
	rm -rf "$U"
	out ""
fi
fi

# =========================================================================
out "## Targets (issues 6 and 3; informational, ratios from this run)"
out ""
out "| $(printf '%-58s' target) | $(printf '%12s' measured) | $(printf '%12s' required) | $(printf '%-12s' result) |"
out "|$(printf '%60s' '' | tr ' ' -)|--------------|--------------|--------------|"
for t in "${TARGETS[@]}"; do
	IFS='|' read -r d m q res <<<"$t"
	out "| $(printf '%-58s' "$d") | $(printf '%12s' "$m") | $(printf '%12s' "$q") | $(printf '%-12s' "$res") |"
done
out ""
[ -n "$FAILS" ] && note "client failures:$FAILS (see $WORK/log/client.log)"
[ -n "$MISMATCH" ] && note "spool count differs from messages sent:$MISMATCH"

# =========================================================================
out "## Where the instructions go (callgrind, self cost)"
out ""
if [ -f "$(ls "$WORK"/cg/smtpd_conn.out.* 2>/dev/null | head -n1)" ]; then
	out "smtpd, greeting + QUIT, by object:"
	$CGSUM objects "$WORK"/cg/smtpd_conn.out.* | tee -a "$RESULTS"
	out "floor, by object:"
	$CGSUM objects "$WORK"/cg/floor.out.* | tee -a "$RESULTS"
	out "smtpd, greeting + QUIT, top functions:"
	$CGSUM top "$WORK"/cg/smtpd_conn.out.* 12 | tee -a "$RESULTS"
	a=$(ls "$WORK"/cg/smtpd_n$N0.10240.out.* 2>/dev/null | head -n1)
	b=$(ls "$WORK"/cg/smtpd_n$((N0 + K)).10240.out.* 2>/dev/null | head -n1)
	if [ -n "$a" ] && [ -n "$b" ]; then
		out "smtpd, per further 10 KiB message, top functions:"
		$CGSUM delta "$a" "$b" "$K" 12 | tee -a "$RESULTS"
	fi
	for f in "$WORK"/cg/smtpd_conn.out.* $a $b; do
		callgrind_annotate "$f" >"$f.annotate.txt" 2>/dev/null
	done
	out "(callgrind_annotate output: $WORK/cg/*.annotate.txt)"
fi
out ""
out "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
out "bench took $(awk -v a="$T0" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.0f", b - a}') s; this table: $RESULTS"
exit 0
