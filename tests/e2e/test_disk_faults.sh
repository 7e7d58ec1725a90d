#!/usr/bin/env bash
# End-to-end: the store's disk fails in the middle of a nightly rotation.
# A shim (faultfs.c, LD_PRELOAD) fails the Nth write or sync to the store's
# files, with EIO (that one only) or ENOSPC (that one and every later
# write), N drawn at random from the writes a clean rotation makes.  Each
# case runs in its own simulated workspace and store; odd cases have a
# second workspace with a credential of its own, so that two workers write
# through connections of their own, which sync after the gate.  Each must
# end so:
#   - the faulty run exits with a documented status and, unless 0, says
#     why on stderr; it does not crash;
#   - PRAGMA integrity_check is ok, and the tables follow from the history;
#   - every token the server holds is one the store accounts for;
#   - the next run, on a healthy disk, converges: each slot has one active
#     token, the one its consumer holds, and nothing is in flight.
# usage: test_disk_faults.sh MODESIM TOKENWARDEN CC [CASES] [SEED]
set -euo pipefail
umask 077
modesim=$1
tw_bin=$2
cc_bin=$3
cases=${4:-12}
seed=${5:-$(date +%s)}
. "$(dirname "$0")/../lib/sim.sh"
. "$(dirname "$0")/../lib/disk_faults.sh"

unset TOKENWARDEN_DB TOKENWARDEN_PUBLIC_KEY TOKENWARDEN_CREDENTIAL TOKENWARDEN_TEST_CRASH
failures=0
fail() {
	echo "FAIL: $*" >&2
	failures=$((failures + 1))
}
echo "seed $seed ($cases cases; run again with: $0 MODESIM TOKENWARDEN CC $cases $seed)"
RANDOM=$seed

df_shim "$cc_bin"

workspaces=()
# Workspaces for case 0, the random cases and the stopping run's case (below).
for ((i = 0; i <= cases + 2; i++)); do
	workspaces+=(--workspace "ws$i:key$i:secret$i" --workspace "wsb$i:keyb$i:secretb$i")
done
sim_start "$modesim" "${workspaces[@]}" --now 2026-01-01T00:00Z
"$tw_bin" keygen --public-key "$TW_TMP/seal.pub" --secret-key "$TW_TMP/seal.key" --no-passphrase >/dev/null
mkdir -p "$TW_TMP/creds"
export CREDENTIALS_DIRECTORY=$TW_TMP/creds

# setup I: workspace wsI's store, policy and consumers, its first tokens made.
setup() {
	local i=$1 dir=$TW_TMP/case$1
	mkdir -p "$dir/run"
	printf 'key%s:secret%s\n' "$i" "$i" >"$TW_TMP/creds/ws$i-admin"
	chmod 600 "$TW_TMP/creds/ws$i-admin"
	cat >"$dir/policy.yaml" <<YAML
version: 1
store: { path: $dir/tw.db, public_key: $TW_TMP/seal.pub }
defaults: { lifetime: 10d, rotate_before: 4d, grace: 1h }
workspaces:
  - name: ws$i
    api: $SIM_URL
    credential: ws$i-admin
    tokens:
      - name: etl
        deliver: [ { file: $dir/run/etl.json } ]
      - name: bi
        deliver: [ { file: $dir/run/bi.json } ]
      - name: ops
        deliver: [ { file: $dir/run/ops.json } ]
YAML
	if ((i % 2 == 1)); then
		printf 'keyb%s:secretb%s\n' "$i" "$i" >"$TW_TMP/creds/wsb$i-admin"
		chmod 600 "$TW_TMP/creds/wsb$i-admin"
		cat >>"$dir/policy.yaml" <<YAML
  - name: wsb$i
    api: $SIM_URL
    credential: wsb$i-admin
    tokens:
      - name: etl-b
        deliver: [ { file: $dir/run/etl-b.json } ]
      - name: bi-b
        deliver: [ { file: $dir/run/bi-b.json } ]
YAML
	fi
	"$tw_bin" init --db "$dir/tw.db" --public-key "$TW_TMP/seal.pub" >/dev/null 2>&1
	at 2026-01-01T00:00Z
	TOKENWARDEN_CONFIG=$dir/policy.yaml "$tw_bin" rotate >/dev/null 2>"$dir/setup.err" ||
		fail "case $i: the first run failed: $(cat "$dir/setup.err")"
}

# faulty I N ERRNO [syncs]: the nightly run at day 7 (every slot due), its
# Nth store write failing, or its Nth sync of the store.
faulty() {
	local dir=$TW_TMP/case$1
	at 2026-01-08T00:00Z
	DF_SYNCS=${4:-} df_run "$dir" "$2" "$3" env TOKENWARDEN_CONFIG="$dir/policy.yaml" "$tw_bin" rotate
}

# converged I WHEN: the invariants, checked from outside; after the next
# run, every slot converged too.
converged() {
	local i=$1 checks=() checks_b=()
	[ "$2" != "after the next run" ] || checks=(slot=etl slot=bi slot=ops) checks_b=(slot=etl-b slot=bi-b)
	df_accounted "$TW_TMP/case$i" "ws$i" "${checks[@]}" || fail "case $i: $2"
	if ((i % 2 == 1)); then
		df_accounted "$TW_TMP/case$i" "wsb$i" "${checks_b[@]}" || fail "case $i, wsb$i: $2"
	fi
}

# Case 0, with no fault: how many writes a nightly run makes.
setup 0
rc=$(faulty 0 0 EIO)
[ "$rc" -eq 0 ] || fail "the clean run exited $rc: $(cat "$TW_TMP/case0/faulty.err")"
writes=$(cat "$TW_TMP/case0/count")
[ "$writes" -gt 10 ] || fail "a nightly run made only $writes store writes: the shim is not working"
echo "a nightly run of 3 rotations makes $writes writes and syncs to the store"
converged 0 "after the next run"

# A run told to stop (SIGTERM) while a create's answer is on its way, the
# disk full before the answer is recorded: the token nobody can record is
# deleted again on the server, not left there for a human to find.  The
# simulator makes each token at once and answers 5 s later: the time this
# script has to see it made, fill the disk and send SIGTERM.
i=$((cases + 2 - cases % 2))
dir=$TW_TMP/case$i
setup "$i"
sim_ctl POST /_sim/faults '{"latency_ms": 5000}' >/dev/null
at 2026-01-08T00:00Z
DF_WHEN=$dir/full df_start "$dir" 0 ENOSPC env TOKENWARDEN_CONFIG="$dir/policy.yaml" "$tw_bin" rotate
made=0 deadline=$((SECONDS + 30))
while ((made == 0 && SECONDS < deadline)); do
	sleep 0.05
	made=$(sim_ctl GET /_sim/tokens | "${DF_PY[@]}" -c 'import json, sys
print(sum(t["workspace"] == sys.argv[1] and t["name"].endswith("-202601080000")
          for t in json.load(sys.stdin)["tokens"]))' "ws$i")
done
[ "$made" -gt 0 ] || fail "stopping run: no create reached the server in 30 s"
: >"$dir/full"
kill -TERM "$DF_PID"
rc=0
wait "$DF_PID" || rc=$?
rm -f "$dir/full"
sim_ctl POST /_sim/faults '{}' >/dev/null
# Not 0: the store failed.
case $rc in
1 | 3 | 6 | 7) ;;
*) fail "stopping run: exit $rc: $(tail -c 600 "$dir/faulty.err")" ;;
esac
grep -q "could not store it .*no space left.*; it was deleted again on the server" "$dir/faulty.err" ||
	fail "stopping run: no token deleted again: $(tail -c 800 "$dir/faulty.err")"
converged "$i" "after the stopping run"
at 2026-01-08T01:00Z
TOKENWARDEN_CONFIG=$dir/policy.yaml "$tw_bin" rotate >"$dir/next.out" 2>"$dir/next.err" ||
	fail "stopping run: the next run failed: $(tail -c 600 "$dir/next.err")"
converged "$i" "after the run after the stopping run"

for ((i = 1; i <= cases; i++)); do
	# Two workspaces write about 5/3 as much as one: N is drawn from as many.
	n=$((RANDOM % (i % 2 == 1 ? writes * 5 / 3 : writes) + 1))
	kind=$([ $((RANDOM % 2)) -eq 0 ] && echo EIO || echo ENOSPC)
	dir=$TW_TMP/case$i
	setup "$i"
	if ((i % 4 == 1)); then
		# A sync failing after the gate (a worker's connection) leaves the change made.
		n=$((RANDOM % 20 + 1)) kind=EIO
		rc=$(faulty "$i" "$n" "$kind" syncs)
		echo "case $i: $kind at sync $n: exit $rc"
	else
		rc=$(faulty "$i" "$n" "$kind")
		echo "case $i: $kind at write $n of $writes: exit $rc"
	fi
	case $rc in
	0 | 1 | 2 | 3 | 6 | 7) ;;
	*) fail "case $i ($kind at $n): exit $rc: $(tail -c 600 "$dir/faulty.err")" ;;
	esac
	# A failed exit names the store and what failed: an error, or a slot's failed rotation.
	if [ "$rc" -ne 0 ] && ! grep -q "error: .*$dir/tw.db\|failed .*$dir/tw.db" "$dir/faulty.err"; then
		fail "case $i ($kind at $n): exit $rc without naming the store: $(tail -c 800 "$dir/faulty.err")"
	fi
	if grep -q "Sanitizer\|runtime error" "$dir/faulty.err"; then
		fail "case $i ($kind at $n): a sanitizer reported a problem"
	fi
	converged "$i" "after the faulty run ($kind at write $n)"
	at 2026-01-08T01:00Z
	rc=0
	TOKENWARDEN_CONFIG=$dir/policy.yaml "$tw_bin" rotate >"$dir/next.out" 2>"$dir/next.err" || rc=$?
	[ "$rc" -eq 0 ] || fail "case $i ($kind at $n): the next run exited $rc: $(tail -c 600 "$dir/next.err")"
	converged "$i" "after the next run"
	rc=0
	"$tw_bin" audit verify --db "$dir/tw.db" >"$dir/verify.out" 2>&1 || rc=$?
	[ "$rc" -eq 0 ] || fail "case $i ($kind at $n): audit verify exited $rc: $(cat "$dir/verify.out")"
done

if [ "$failures" -ne 0 ]; then
	echo "$failures failure(s); seed $seed" >&2
	exit 1
fi
echo "ok"
