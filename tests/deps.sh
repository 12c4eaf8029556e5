#!/bin/sh
# deps.sh: make sure what `make check` needs is here.  As root on Debian it
# installs what is missing; otherwise it prints the command to run.
# Usage: tests/deps.sh [extra Debian packages...]
need=""
command -v cc >/dev/null 2>&1 || need="$need gcc"
command -v make >/dev/null 2>&1 || need="$need make"
command -v pkg-config >/dev/null 2>&1 || need="$need pkg-config"
command -v python3 >/dev/null 2>&1 || need="$need python3"
pkg-config --exists check 2>/dev/null || need="$need check"
pkg-config --exists libsystemd 2>/dev/null || need="$need libsystemd-dev"
pkg-config --exists libcdb 2>/dev/null || need="$need libcdb-dev"
for p in "$@"; do
	dpkg -s "$p" >/dev/null 2>&1 || need="$need $p"
done
[ -z "$need" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
	echo "deps: installing:$need"
	export DEBIAN_FRONTEND=noninteractive
	{ apt-get update -qq && apt-get install -y -qq --no-install-recommends $need; } >/tmp/smtpd-deps.log 2>&1 || {
		tail -20 /tmp/smtpd-deps.log; echo "deps: apt-get install$need failed"; exit 1; }
	exit 0
fi
echo "deps: missing:$need"
echo "deps: run: sudo apt-get install$need"
exit 1
