# shellcheck shell=bash disable=SC2154 # tw_bin, out and err are the sourcing script's
#
# The checks the end-to-end scripts share.  Source it (after lib/sim.sh,
# under `set -euo pipefail`) from a script that sets tw_bin (the binary),
# out and err (files for the last command's output); a script that needs
# another run or expect defines its own after sourcing.
#
#   fail MESSAGE          count a failure in $failures; print MESSAGE and the
#                         last command's output
#   run STATUS ARGS...    run tokenwarden ARGS, standard input from $RUN_STDIN
#                         (default /dev/null), output into $out and $err;
#                         fail unless it exits STATUS.  With RUN_TIMEOUT set,
#                         a run still going after that many seconds is sent
#                         SIGTERM (SIGKILL 5 s later) and fails; the words of the array RUN_PREFIX, when
#                         set, go before the binary (setsid, env, setpriv)
#   tw_run STATUS ARGS... what run does, for a script's own run to build on
#   expect FILE TEXT      fail unless FILE (out or err) contains TEXT

failures=0

fail() {
	echo "FAIL: $*" >&2
	echo "--- stdout" >&2
	cat "$out" >&2
	echo "--- stderr" >&2
	cat "$err" >&2
	failures=$((failures + 1))
}

RUN_PREFIX=()

tw_run() {
	local want=$1 got=0 limit=()
	shift
	[ -z "${RUN_TIMEOUT:-}" ] || limit=(timeout -k 5 "$RUN_TIMEOUT")
	"${limit[@]}" "${RUN_PREFIX[@]}" "$tw_bin" "$@" >"$out" 2>"$err" <"${RUN_STDIN:-/dev/null}" ||
		got=$?
	if [ -n "${RUN_TIMEOUT:-}" ] && [ "$got" = 124 ]; then
		fail "tokenwarden $*: still running after $RUN_TIMEOUT s, expected exit $want"
	elif [ "$got" -ge 128 ]; then
		fail "tokenwarden $* died with signal $((got - 128))"
	elif [ "$got" -ne "$want" ]; then
		fail "tokenwarden $*: exit $got, expected $want"
	fi
}

run() {
	tw_run "$@"
}

expect() {
	grep -qF -- "$2" "$1" || fail "expected '$2' in $(basename "$1")"
}
