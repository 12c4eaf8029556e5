#!/bin/bash
# t_clients.sh: real mail clients (Python smtplib, swaks, curl, msmtp,
# Postfix's smtp-source and Postfix itself as a relay) deliver through
# smtpd under tcpserver and systemd-socket-activate, and the spool is read
# back with Python's mailbox.Maildir and mutt.  The cases are in
# tests/clients/run.py; this script makes sure the programs are there and
# runs it in private network, PID and mount namespaces: fixed loopback
# ports are then ours alone, and whatever a case starts (supervisors, a
# Postfix instance) dies with the namespace even if cleanup fails.
set -u
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
export SMTPD=${SMTPD:-$SRCDIR/smtpd}

if [ "${T_CLIENTS_IN_NS:-}" != 1 ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "SKIP: t_clients.sh needs root (network namespace, Postfix)"
		exit 77
	fi
	# The programs the cases use, from tests/packages/clients.txt.
	missing=""
	for p in $(sed 's/#.*//' "$SRCDIR/tests/packages/clients.txt"); do
		dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
	done
	if [ -n "$missing" ] && command -v apt-get >/dev/null 2>&1; then
		# Postfix's own questions answered: no system configuration,
		# so installing it sets up and starts no mail system here.
		echo "postfix postfix/main_mailer_type select No configuration" |
			debconf-set-selections 2>/dev/null
		"$SRCDIR/tests/deps.sh" build $missing || echo "t_clients: could not install:$missing"
	fi
	for c in unshare ip python3; do
		command -v $c >/dev/null 2>&1 || { echo "SKIP: t_clients.sh: no $c"; exit 77; }
	done
	if ! unshare --net --pid --fork --mount-proc true 2>/dev/null; then
		echo "SKIP: t_clients.sh: cannot make network and PID namespaces"
		exit 77
	fi
	# unshare --fork ignores SIGTERM: on a timeout's signal, SIGKILL it,
	# and --kill-child takes the namespace's first process along, and
	# with it everything inside (supervisors, Postfix, clients).
	# The work directory is made (and removed) out here, so that even a
	# killed run leaves nothing behind; CLIENTS_KEEP=1 keeps it.
	work=$(mktemp -d "${TMPDIR:-/tmp}/smtpd-clients.XXXXXX") || exit 1
	chmod 755 "$work"	# the postfix user must reach its queue in it
	T_CLIENTS_IN_NS=1 T_CLIENTS_WORK=$work \
		unshare --net --pid --fork --mount-proc --kill-child "$0" "$@" &
	ns=$!
	trap 'kill -KILL $ns 2>/dev/null' TERM INT HUP
	wait $ns
	rc=$?
	wait $ns 2>/dev/null	# after a trap, wait again for the real end
	if [ -n "${CLIENTS_KEEP:-}" ]; then
		echo "t_clients: work directory kept: $work"
	else
		rm -rf "$work"
	fi
	exit $rc
fi

ip link set lo up || exit 1
# No ~/.curlrc, ~/.swaksrc, ~/.msmtprc or ~/.muttrc of the user's counts.
export HOME=${T_CLIENTS_WORK:-${TMPDIR:-/tmp}}
python3 "$SRCDIR/tests/clients/run.py"
rc=$?
[ $rc = 77 ] && echo "SKIP: t_clients.sh: some client programs are not installed"
exit $rc
