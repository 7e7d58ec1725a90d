# shellcheck shell=bash
#
# Helpers for end-to-end tests against tests/modesim.  Source this file from
# a test running under `set -euo pipefail`:
#
#   . "$(dirname "$0")/../lib/sim.sh"
#   sim_start "$1" --workspace acme:KEY:SECRET --now 2024-09-01T00:00Z
#   sim_ctl POST /_sim/clock '{"advance": "90d"}'
#
# Sourcing creates the test's private directory $TW_TMP (mktemp -d) and an
# EXIT trap that stops the simulator and removes $TW_TMP; a test adds its own
# clean-up with tw_at_exit instead of replacing the trap.  Nothing here uses
# a fixed port or a shared path, so tests can run in parallel.
#
#   sim_start MODESIM [ARGS...]  start modesim on an ephemeral port; sets and
#                                exports SIM_URL, SIM_PID and SIM_LOG (its stderr)
#   sim_stop                     stop it with SIGTERM; fails unless it exits 0
#                                (so an ASan leak report fails the test)
#   sim_ctl METHOD PATH [JSON]   call the control API; prints the body, fails on non-2xx
#   tw_fail MESSAGE              print FAIL: MESSAGE and exit 1
#   tw_expect_eq WHAT GOT WANT   fail unless GOT equals WANT
#   tw_at_exit COMMAND           run COMMAND (eval'd) when the test exits
#   tw_listen MODE NAME          start tests/lib/listen.py (MODE proxy, hook or
#                                silent), its port in $TW_TMP/NAME.port and
#                                what reaches it in $TW_TMP/NAME.log

# The simulator is on loopback: never reach it through a proxy.
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost
# The tests compare whole lines of stderr: no time in front of them
# (test_recovery.sh checks the times a file or pipe gets by default).
export TOKENWARDEN_LOG_FORMAT=plain
TW_TMP=$(mktemp -d "${TMPDIR:-/tmp}/tw-test.XXXXXXXX")
export TW_TMP
SIM_PID=
SIM_URL=
SIM_LOG=
_tw_watchdog=
_tw_exit_cmds=()

tw_fail() {
	echo "FAIL: $*" >&2
	exit 1
}

tw_expect_eq() {
	[ "$2" = "$3" ] || tw_fail "$1: expected '$3', got '$2'"
}

# at TIME: moves tokenwarden's clock (TOKENWARDEN_NOW) and the simulator's to TIME.
at() {
	export TOKENWARDEN_NOW=$1
	sim_ctl POST /_sim/clock "{\"now\": \"$1\"}" >/dev/null
}

tw_at_exit() {
	_tw_exit_cmds+=("$1")
}

tw_listen() {
	local pf=$TW_TMP/$2.port i
	: >"$TW_TMP/$2.log"
	python3 "$(dirname "${BASH_SOURCE[0]}")/listen.py" "$1" "$pf" "$TW_TMP/$2.log" >/dev/null 2>&1 &
	tw_at_exit "kill $! 2>/dev/null"
	for ((i = 0; i < 100; i++)); do
		[ -s "$pf" ] && break
		sleep 0.1
	done
	[ -s "$pf" ] || tw_fail "listen.py $1 wrote no port"
}

_tw_on_exit() {
	local rc=$? cmd
	set +e
	for cmd in "${_tw_exit_cmds[@]}"; do
		eval "$cmd"
	done
	if [ -n "$SIM_PID" ] && ! sim_stop; then
		[ "$rc" -ne 0 ] || rc=1
	fi
	rm -rf "$TW_TMP"
	exit "$rc"
}
trap _tw_on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

sim_start() {
	local bin=${1:?sim_start: MODESIM_BINARY missing} port_file i
	shift
	[ -z "$SIM_PID" ] || tw_fail "sim_start: modesim already running as pid $SIM_PID"
	port_file=$(mktemp -u "$TW_TMP/sim-port.XXXXXX")
	SIM_LOG=$TW_TMP/sim.log
	# Its output goes to the log, not to our stdout: a runner waiting for our
	# pipes to close must not wait for the simulator too.
	"$bin" --port 0 --port-file "$port_file" "$@" >>"$SIM_LOG" 2>&1 &
	SIM_PID=$!
	# If this shell is killed without running its traps (a runner's timeout),
	# stop the simulator anyway.
	(
		while kill -0 $$ 2>/dev/null; do sleep 1; done
		kill -TERM "$SIM_PID" 2>/dev/null
	) >/dev/null 2>&1 </dev/null &
	_tw_watchdog=$!
	# Up to 30 s: sanitizer builds start slowly on a busy machine.
	for ((i = 0; i < 300; i++)); do
		[ -s "$port_file" ] && break
		if ! kill -0 "$SIM_PID" 2>/dev/null; then
			wait "$SIM_PID" || true
			SIM_PID=
			cat "$SIM_LOG" >&2
			tw_fail "sim_start: modesim exited before listening"
		fi
		sleep 0.1
	done
	[ -s "$port_file" ] || tw_fail "sim_start: modesim wrote no port file in 30 s"
	SIM_URL=http://127.0.0.1:$(cat "$port_file")
	export SIM_URL SIM_PID SIM_LOG
	for ((i = 0; i < 50; i++)); do
		curl -fsS -o /dev/null "$SIM_URL/_sim/clock" 2>/dev/null && return 0
		sleep 0.1
	done
	tw_fail "sim_start: modesim does not answer at $SIM_URL"
}

sim_stop() {
	local rc=0
	[ -n "$SIM_PID" ] || return 0
	kill -TERM "$SIM_PID" 2>/dev/null || true
	wait "$SIM_PID" || rc=$?
	SIM_PID=
	if [ -n "$_tw_watchdog" ]; then
		kill "$_tw_watchdog" 2>/dev/null || true
		wait "$_tw_watchdog" 2>/dev/null || true
		_tw_watchdog=
	fi
	if [ "$rc" -ne 0 ]; then
		echo "sim_stop: modesim exited with status $rc; the end of its log:" >&2
		tail -n 60 "$SIM_LOG" >&2
		return 1
	fi
}

sim_ctl() {
	local method=${1:?sim_ctl: METHOD missing} path=${2:?sim_ctl: PATH missing} out code
	local args=(-sS -X "$method" -w '%{http_code}')
	[ -n "$SIM_URL" ] || tw_fail "sim_ctl: no simulator running"
	out=$(mktemp "$TW_TMP/ctl.XXXXXX")
	args+=(-o "$out")
	if [ $# -ge 3 ]; then
		args+=(-H 'Content-Type: application/json' --data-binary "$3")
	fi
	if ! code=$(curl "${args[@]}" "$SIM_URL$path"); then
		rm -f "$out"
		echo "sim_ctl: $method $path: no answer" >&2
		return 1
	fi
	cat "$out"
	echo
	rm -f "$out"
	case $code in
	2??) return 0 ;;
	*)
		echo "sim_ctl: $method $path answered $code" >&2
		return 1
		;;
	esac
}
