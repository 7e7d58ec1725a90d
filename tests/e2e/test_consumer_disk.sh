#!/usr/bin/env bash
# End-to-end: a consumer's disk fails while a nightly run hands it a token.
# Two slots: etl delivers to a file in directory c1, bi to a file in c1 and
# then one in c2.  A shim (faultfs.c, LD_PRELOAD) fails the Nth write or
# sync made under one of the two directories (the temporary file's write
# and sync, the directory's sync after the rename), with EIO (that one
# only) or ENOSPC (that one and every later write), for every N a clean
# run makes, one case after the other on the same store, a day apart.
# After each faulty run, checked from outside:
#   - every consumer's file holds a token the server has and that has not
#     expired: a consumer never holds a token the run deleted;
#   - no temporary file is left beside a consumer's file (it holds a secret);
#   - every token the server holds is one the store accounts for;
# and after the next run, on a healthy disk: each slot has one active
# token, every consumer of it holds that token, and nothing is in flight.
# usage: test_consumer_disk.sh MODESIM TOKENWARDEN CC
set -euo pipefail
umask 077
modesim=$1
tw_bin=$2
cc_bin=$3
. "$(dirname "$0")/../lib/sim.sh"
. "$(dirname "$0")/../lib/disk_faults.sh"

unset TOKENWARDEN_DB TOKENWARDEN_PUBLIC_KEY TOKENWARDEN_CREDENTIAL TOKENWARDEN_TEST_CRASH
failures=0
fail() {
	echo "FAIL: $*" >&2
	failures=$((failures + 1))
}

df_shim "$cc_bin"
# A run a day of wall-clock milliseconds: the limit as if they were a day apart.
sim_start "$modesim" --workspace acme:adminkey:adminsecret --now 2026-11-01T00:00Z \
	--rate-limit 1000/1
dir=$TW_TMP/case
mkdir -p "$dir/c1" "$dir/c2" "$TW_TMP/creds"
"$tw_bin" keygen --public-key "$TW_TMP/seal.pub" --secret-key "$TW_TMP/seal.key" --no-passphrase >/dev/null
"$tw_bin" init --db "$dir/tw.db" --public-key "$TW_TMP/seal.pub" >/dev/null
printf 'adminkey:adminsecret\n' >"$TW_TMP/creds/acme-admin"
export CREDENTIALS_DIRECTORY=$TW_TMP/creds
cat >"$dir/policy.yaml" <<YAML
version: 1
store: { path: $dir/tw.db, public_key: $TW_TMP/seal.pub }
defaults: { lifetime: 4d, rotate_before: 3d, grace: 1h, jitter: 0 }
schedule: { retries: 0 }
workspaces:
  - name: acme
    api: $SIM_URL
    credential: acme-admin
    rate_limit: 1000/1s
    tokens:
      - name: etl
        deliver: [ { file: $dir/c1/etl.json } ]
      - name: bi
        deliver: [ { file: $dir/c1/bi.json }, { file: $dir/c2/bi.json } ]
YAML
export TOKENWARDEN_CONFIG=$dir/policy.yaml

day=1
next_day() {
	day=$((day + 1))
	at "$(date -u -d "2026-11-01 + $day days" +%Y-%m-%dT00:00Z)"
}

# faulty UNDER N ERRNO: a run (every slot due a day after its last token)
# with the Nth write or sync under UNDER failing; prints its exit status.
faulty() {
	local rc=0
	env LD_PRELOAD="$DF_SHIM" TW_FAULT_UNDER="$1" TW_FAULT_AT="$2" TW_FAULT_ERRNO="$3" \
		TW_FAULT_COUNT="$dir/count" \
		ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
		"$tw_bin" rotate </dev/null >"$dir/faulty.out" 2>"$dir/faulty.err" || rc=$?
	echo "$rc"
}

# held [same]: every consumer's file holds a live token and nothing is left
# beside one; with "same", each slot's consumers hold its active token and
# it has no replacement in flight.
held() {
	sim_ctl GET /_sim/tokens >"$dir/server.json"
	"${DF_PY[@]}" - "$dir" "$@" <<'PY'
import glob, json, os, sqlite3, sys
d, checks = sys.argv[1], sys.argv[2:]
live = {t["token"] for t in json.load(open(d + "/server.json"))["tokens"] if not t["expired"]}
problems = []
files = {"etl": ["c1/etl.json"], "bi": ["c1/bi.json", "c2/bi.json"]}
db = sqlite3.connect(d + "/tw.db")
for slot, paths in files.items():
    holds = {}
    for p in paths:
        if not os.path.exists(os.path.join(d, p)):
            continue
        holds[p] = json.load(open(os.path.join(d, p)))["token"]
        if holds[p] not in live:
            problems.append("%s holds %s, which the server does not" % (p, holds[p]))
    if "same" in checks:
        active = db.execute("SELECT t.token FROM tokens t JOIN slots s ON s.id = t.slot_id "
                            "WHERE s.name = ? AND t.state = 'active'", (slot,)).fetchall()
        want = [active[0][0]] * len(paths) if len(active) == 1 else None
        if [holds.get(p) for p in paths] != want:
            problems.append("slot %s: consumers hold %s, its active token is %s"
                            % (slot, holds, active))
        flight = db.execute("SELECT count(*) FROM tokens t JOIN slots s ON s.id = t.slot_id "
                            "WHERE s.name = ? AND t.state IN ('pending', 'created', 'verified')",
                            (slot,)).fetchone()[0]
        if flight:
            problems.append("slot %s has %d replacements in flight" % (slot, flight))
for left in glob.glob(d + "/c*/.*"):
    problems.append("left beside a consumer's file: " + os.path.basename(left))
for p in problems:
    print("  " + p, file=sys.stderr)
sys.exit(1 if problems else 0)
PY
}

at 2026-11-02T00:00Z
"$tw_bin" rotate >/dev/null 2>&1 || fail "the first run failed"
held same || fail "after the first run"

cases=0
for under in "$dir/c1" "$dir/c2"; do
	# A clean run counts the writes and syncs there are to fail.
	next_day
	[ "$(faulty "$under" 0 EIO)" = 0 ] || fail "a clean run under the shim failed"
	total=$(cat "$dir/count")
	[ "$total" -ge 3 ] || fail "a clean run made $total writes and syncs under $under"
	for kind in EIO ENOSPC; do
		for ((n = 1; n <= total; n++)); do
			cases=$((cases + 1))
			next_day
			what="${under##*/} $kind at $n of $total"
			rc=$(faulty "$under" "$n" "$kind")
			case $rc in
			0 | 1) ;;
			*)
				fail "$what: exit $rc"
				cat "$dir/faulty.err" >&2
				;;
			esac
			held || fail "$what: after the faulty run"
			df_accounted "$dir" acme || fail "$what: the store after the faulty run"
			next_day
			"$tw_bin" rotate >"$dir/out" 2>"$dir/err" || {
				fail "$what: the healthy run exited $?"
				cat "$dir/err" >&2
			}
			held same || fail "$what: after the healthy run"
			df_accounted "$dir" acme || fail "$what: the store after the healthy run"
		done
	done
done

echo "$cases cases, $failures failures"
[ "$failures" -eq 0 ]
