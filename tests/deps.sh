#!/bin/sh
# deps.sh: make sure what a make target needs is here.  As root on Debian
# it installs what is missing; otherwise it prints the command to run.
# Usage: tests/deps.sh build|check [extra Debian packages...]
#   build: what `make` and `make run` need (a compiler, the static C
#          library, tinycdb; libsystemd's headers when LINK=dynamic and
#          SYSTEMD=yes, as the Makefile passes them); missing ones stop
#          the target.
#   check: that, libsystemd's headers (its dynamic and ASan builds use
#          them), Check and python3, which `make check` cannot do without;
#          then the packages of tests/packages/*.txt, which only some tests
#          need: as root they are installed too, else the tests that need
#          them say SKIP and name them.
mode=${1:-check}
[ $# -gt 0 ] && shift
case $0 in */*) cd "${0%/*}/.." || exit 1 ;; *) cd .. || exit 1 ;; esac
need=""
command -v cc >/dev/null 2>&1 || need="$need gcc"
command -v make >/dev/null 2>&1 || need="$need make"
command -v pkg-config >/dev/null 2>&1 || need="$need pkg-config"
sd=no
{ [ "$mode" = check ] || [ "${LINK:-static}/${SYSTEMD:-no}" = dynamic/yes ]; } && sd=yes
# -static-pie needs libc.a; the compiler answers its bare name without it.
if [ "${LINK:-static}" = static ] && command -v cc >/dev/null 2>&1; then
	case $(cc -print-file-name=libc.a 2>/dev/null) in /*) ;; *) need="$need libc6-dev" ;; esac
fi
# Without pkg-config the headers cannot be asked for: name their packages.
if command -v pkg-config >/dev/null 2>&1; then
	[ $sd = yes ] && { pkg-config --exists libsystemd 2>/dev/null || need="$need libsystemd-dev"; }
	pkg-config --exists libcdb 2>/dev/null || need="$need libcdb-dev"
	[ "$mode" = check ] && { pkg-config --exists check 2>/dev/null || need="$need check"; }
else
	need="$need libcdb-dev"
	[ $sd = yes ] && need="$need libsystemd-dev"
	[ "$mode" = check ] && need="$need check"
fi
[ "$mode" = check ] && { command -v python3 >/dev/null 2>&1 || need="$need python3"; }
for p in "$@"; do
	dpkg -s "$p" >/dev/null 2>&1 || need="$need $p"
done

# The tests' own packages: wanted, not required.
want=""
if [ "$mode" = check ] && command -v dpkg >/dev/null 2>&1; then
	for p in $(sed 's/#.*//' tests/packages/*.txt 2>/dev/null | sort -u); do
		dpkg -s "$p" >/dev/null 2>&1 || want="$want $p"
	done
fi

root=no
[ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && root=yes
if [ -n "$need$want" ] && [ $root = yes ]; then
	echo "deps: installing:$need$want"
	export DEBIAN_FRONTEND=noninteractive
	# Postfix is a test client: installed unconfigured, never started.
	case " $want " in *" postfix "*)
		echo "postfix postfix/main_mailer_type select No configuration" |
			debconf-set-selections 2>/dev/null ;;
	esac
	if { apt-get update -qq && apt-get install -y -qq --no-install-recommends $need $want; } \
		>/tmp/smtpd-deps.log 2>&1; then
		exit 0
	fi
	tail -20 /tmp/smtpd-deps.log
	[ -n "$need" ] && { echo "deps: apt-get install$need$want failed"; exit 1; }
	echo "deps: could not install$want: the tests that need them will be skipped"
	exit 0
fi
if [ -n "$want" ]; then
	echo "deps: not installed:$want; the tests that need them will be skipped"
	echo "deps: for every test, run: sudo apt-get install$want"
fi
[ -z "$need" ] && exit 0
echo "deps: missing:$need"
echo "deps: run: sudo apt-get install$need"
exit 1
