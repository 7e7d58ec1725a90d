#!/usr/bin/env bash
# The example systemd units under examples/systemd are valid: systemd-analyze
# verify reports nothing for them (with the built binary in ExecStart), and
# each ExecStart's verb and options are accepted by that binary's parser.
# usage: test_units.sh TOKENWARDEN
set -euo pipefail
tw_bin=$1
units=$(cd "$(dirname "$0")/../../examples/systemd" && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tw-units.XXXXXXXX")
trap 'rm -rf "$tmp"' EXIT

cp "$units"/*.service "$units"/*.timer "$tmp/"
sed -i "s|/usr/bin/tokenwarden|$tw_bin|" "$tmp"/*.service
out=$(cd "$tmp" && SYSTEMD_LOG_LEVEL=notice systemd-analyze verify --man=no ./*.service ./*.timer 2>&1) ||
	{ echo "FAIL: systemd-analyze verify: $out" >&2; exit 1; }
[ -z "$out" ] || { echo "FAIL: systemd-analyze verify says: $out" >&2; exit 1; }

# Each ExecStart, with its --config pointing nowhere, must fail on the
# missing policy (exit 2 naming it), not on its verb or options.
for f in "$tmp"/*.service; do
	cmd=$(sed -n 's/^ExecStart=//p' "$f" | sed "s|/etc/tokenwarden/policy.yaml|$tmp/none.yaml|")
	rc=0
	err=$($cmd 2>&1 >/dev/null) || rc=$?
	[ "$rc" = 2 ] && grep -qF "$tmp/none.yaml" <<<"$err" ||
		{ echo "FAIL: $(basename "$f"): '$cmd' exited $rc: $err" >&2; exit 1; }
done
echo "unit checks passed"
