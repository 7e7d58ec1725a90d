#!/usr/bin/env bash
# End-to-end: policy check, policy show and plan with the real binary.  plan
# must print the same actions whatever it is asked, exit 0 / 3 / 2 as
# documented, and never change the store, even when it refuses a policy.
# usage: test_plan.sh MODESIM TOKENWARDEN
set -euo pipefail
umask 077
modesim=$1
tw_bin=$2
. "$(dirname "$0")/../lib/sim.sh"
. "$(dirname "$0")/../lib/check.sh"

unset TOKENWARDEN_DB TOKENWARDEN_PUBLIC_KEY TOKENWARDEN_NOW TOKENWARDEN_CONFIG
db=$TW_TMP/tw.db
pub=$TW_TMP/seal.pub
out=$TW_TMP/out
err=$TW_TMP/err

# jqe FILTER: the last JSON output satisfies FILTER.
jqe() {
	jq -e "$1" "$out" >/dev/null || fail "JSON check failed: $1"
}

# The rows as stored, read without tokenwarden (whose reads settle interrupted creates).
rows() {
	python3 - "$db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
print(list(db.execute("SELECT id, state, updated_at FROM tokens ORDER BY id")))
PY
}

# The store as plan must leave it: every row, and the history's head.
store_state() {
	rows
	"$tw_bin" token list --db "$db" --json
	"$tw_bin" audit verify --db "$db" --json
}

"$tw_bin" keygen --public-key "$pub" --secret-key "$TW_TMP/seal.sec" --no-passphrase >/dev/null
"$tw_bin" init --db "$db" --public-key "$pub" >/dev/null
store=(--db "$db" --public-key "$pub")
# etl expires 2026-12-01T00:00Z; 20% of 30d is 6d, so it is due 2026-11-25T00:00Z.
# The imports happen on 2026-11-01 (import refuses a token already expired).
export TOKENWARDEN_NOW=2026-11-01T00:00Z
run 0 token import "${store[@]}" -w acme --token tok-etl -n etl-202611010000 --slot etl \
	--created-at 2026-11-01T00:00Z --expires-at 2026-12-01T00:00Z
run 0 token import "${store[@]}" -w acme --token tok-hand -n "made by hand" \
	--created-at 2026-11-01T00:00Z --expires-at 2027-06-01T00:00Z
unset TOKENWARDEN_NOW

cat >"$TW_TMP/one.yaml" <<YAML
version: 1
store: { path: $db, public_key: $pub }
defaults: { lifetime: 30d, rotate_before: 20%, grace: 1d }
enforce: { max_lifetime: 90d, unmanaged: report }
workspaces:
  - name: acme
    credential: acme-admin
    tokens:
      - name: etl
        deliver: [ { file: /run/etl/token.json } ]
YAML
sed 's/^        deliver.*/&\n      - name: bi/' "$TW_TMP/one.yaml" >"$TW_TMP/two.yaml"

echo "== policy check and show"
run 0 policy check "$TW_TMP/one.yaml"
expect "$out" "$TW_TMP/one.yaml: valid: 1 workspace, 1 slot, 0 warnings"
run 0 policy check --json "$TW_TMP/two.yaml"
jqe '.valid and .slots == 2 and .errors == 0'
printf 'version: 1\nworkspaces:\n  - name: acme\n    credential: c\n    tokens:\n      - name: x\n        lifetme: 30d\n' >"$TW_TMP/bad.yaml"
run 2 policy check "$TW_TMP/bad.yaml"
expect "$err" "$TW_TMP/bad.yaml:7:9: error: unknown key 'lifetme' in a token; did you mean 'lifetime'?"
expect "$out" "$TW_TMP/bad.yaml: invalid: 1 error, 0 warnings"
run 2 policy check "$TW_TMP/missing.yaml"
expect "$err" "$TW_TMP/missing.yaml: error: cannot read the policy: No such file or directory"
TOKENWARDEN_CONFIG=$TW_TMP/one.yaml run 0 policy check
# Its hooks run programs, so a policy others can change is refused.
cp "$TW_TMP/one.yaml" "$TW_TMP/open.yaml"
chmod 664 "$TW_TMP/open.yaml"
run 2 policy check "$TW_TMP/open.yaml"
expect "$err" "$TW_TMP/open.yaml: error: the policy can be changed by group or others, and it names programs to run; run: chmod go-w $TW_TMP/open.yaml"
run 2 plan --config "$TW_TMP/open.yaml"
run 0 policy show --effective --config "$TW_TMP/one.yaml"
expect "$out" "acme/etl ($TW_TMP/one.yaml:9)"
grep -qE '^  rotate_before +20% \(6d\) +defaults, line 3$' "$out" || fail "rotate_before's origin"
grep -qE '^  deliver +file /run/etl/token.json +token, line 10$' "$out" || fail "deliver's origin"
grep -qE '^  verify +true +built-in$' "$out" || fail "verify's origin"
# rotate_before 6d, runs every 1d up to 15m late: 5 runs sure in the window, 4 may fail.
grep -qE '^  slack +4 +failed runs in a row before a token lapses$' "$out" || fail "the slot's slack"
run 0 policy show --effective --json --config "$TW_TMP/one.yaml" etl
jqe '.[0].settings.lifetime == {"value": "30d", "from": "defaults", "line": 3}'
jqe '.[0].slack == 4'
run 0 policy show --config "$TW_TMP/one.yaml"
grep -q lifetime "$out" && fail "policy show without --effective printed an inherited field"
run 2 policy show --config "$TW_TMP/one.yaml" nosuch
expect "$err" "'nosuch': no slot of that name in the policy"

echo "== the policy as a word, and the options of the declared table"
# FILE as a word: no default policy exists here, so only the word can be read.
run 0 policy show "$TW_TMP/one.yaml"
expect "$out" "acme/etl ($TW_TMP/one.yaml:9)"
run 0 policy show --effective "$TW_TMP/two.yaml" acme/bi
expect "$out" "acme/bi ($TW_TMP/two.yaml:"
grep -q "acme/etl" "$out" && fail "policy show FILE SLOT printed another slot"
(cd "$TW_TMP" && "$tw_bin" policy show --json one.yaml etl) >"$out" 2>"$err" ||
	fail "policy show with a relative FILE and a SLOT"
jqe 'length == 1 and .[0].slot == "etl"'
cp "$TW_TMP/one.yaml" "$TW_TMP/one-policy"
run 0 policy show "$TW_TMP/one-policy"
expect "$out" "acme/etl ($TW_TMP/one-policy:9)"
# A bare word is a slot; a file of that name gets a hint.
(cd "$TW_TMP" && TOKENWARDEN_CONFIG=one.yaml "$tw_bin" policy show etl) >"$out" 2>"$err" ||
	fail "policy show SLOT with \$TOKENWARDEN_CONFIG"
expect "$out" "acme/etl (one.yaml:9)"
st=0
(cd "$TW_TMP" && TOKENWARDEN_CONFIG=one.yaml "$tw_bin" policy show one-policy) >"$out" 2>"$err" || st=$?
[ "$st" = 2 ] || fail "policy show one-policy (a slot by its shape): exit $st, expected 2"
expect "$err" "'one-policy' was taken as a slot; to read the policy file one-policy, write ./one-policy"
run 2 policy show --config "$TW_TMP/one.yaml" "$TW_TMP/two.yaml"
expect "$err" "the policy is named twice, by --config $TW_TMP/one.yaml and by the word $TW_TMP/two.yaml; give one"
run 2 policy show "$TW_TMP/one.yaml" etl extra
expect "$err" "usage: tokenwarden policy show [options] [FILE] [SLOT]"
run 0 policy check --config "$TW_TMP/one.yaml"
expect "$out" "$TW_TMP/one.yaml: valid: 1 workspace, 1 slot, 0 warnings"
run 0 --config "$TW_TMP/two.yaml" policy check --json
jqe '.valid and .slots == 2'
run 2 policy check --config "$TW_TMP/one.yaml" "$TW_TMP/two.yaml"
expect "$err" "named twice"
run 2 policy check --stict "$TW_TMP/one.yaml"
expect "$err" "policy check: unknown option '--stict'; did you mean '--strict'?"
run 2 policy show --efective "$TW_TMP/one.yaml"
expect "$err" "policy show: unknown option '--efective'; did you mean '--effective'?"
run 2 policy check --db "$db" "$TW_TMP/one.yaml"
expect "$err" "policy check does not take --db"
for verb in check show; do
	run 0 policy "$verb" --help
	expect "$out" "usage: tokenwarden policy $verb [options]"
	expect "$out" "--config FILE"
	expect "$out" "Exit status: "
	run 0 help policy "$verb"
	expect "$out" "usage: tokenwarden policy $verb [options]"
done
run 0 policy check --help
expect "$out" "--strict"
run 0 policy show --help
expect "$out" "--effective"
expect "$out" "One word is the FILE when it ends in .yaml or"

echo "== plan"
before=$(store_state)
# Nothing due before 2026-11-25: exit 0, the unmanaged token reported.
run 0 plan --config "$TW_TMP/one.yaml" --at 2026-11-20T00:00Z --json
jqe '.actions == [] and .next_at == "2026-11-25T00:00Z"'
jqe '[.findings[] | select(.finding == "unmanaged" and .token == "tok-hand")] | length == 1'
jqe '.capacity.ok and .capacity.rotations == 1'
jqe '.slots == [{"workspace": "acme", "slot": "etl", "slack": 4}]'
# Due: exit 3, the steps of one rotation in order, with the deadline.
run 3 plan --config "$TW_TMP/one.yaml" --at 2026-11-26T00:00Z --json
jqe '[.actions[].action] == ["create", "verify", "deliver", "activate"]'
jqe '[.actions[] | select(.deadline == "2026-12-01T00:00Z" and .slot == "etl")] | length == 4'
jqe '.actions[0].why | startswith("tok-etl expires 2026-12-01T00:00Z; due 2026-11-25T00:00Z")'
run 3 plan --config "$TW_TMP/one.yaml" --at 2026-11-26T00:00Z
expect "$out" "plan at 2026-11-26T00:00Z: 4 actions, 2 findings"
grep -qE '^  max-lifetime +acme/- tok-hand: lives 6mo 29d, longer than enforce max_lifetime 90d$' "$out" ||
	fail "the max-lifetime finding"
grep -qE '^2026-12-01T00:00Z +create +acme/etl ' "$out" || fail "the create line"
grep -qE '^acme/etl +4$' "$out" || fail "plan does not state the slot's slack"
# A slot with no token yet is due at once.
run 3 plan --config "$TW_TMP/two.yaml" --at 2026-11-20T00:00Z --json
jqe '[.actions[] | select(.slot == "bi") | .action] == ["create", "verify", "activate"]'
jqe '.actions[0].why == "the slot has no token yet"'
# Every slot's slack, by workspace and slot, written compactly on one line.
jqe '.slots == [{"workspace": "acme", "slot": "bi", "slack": 4}, {"workspace": "acme", "slot": "etl", "slack": 4}]'
grep -qxF '  "slots": [{"workspace":"acme","slot":"bi","slack":4},{"workspace":"acme","slot":"etl","slack":4}],' "$out" ||
	fail "plan --json's slots line"
# The policy's store path is used; --db overrides it; a bad --at is refused.
run 2 plan --config "$TW_TMP/one.yaml" --db "$TW_TMP/nodb.db"
run 2 plan --config "$TW_TMP/one.yaml" --at tomorrow
expect "$err" "--at 'tomorrow': expected an ISO 8601 time such as 2026-12-31T23:00Z, 'now', or a duration from now such as 30d (ahead) or -1h"
run 2 plan --config "$TW_TMP/one.yaml" --att 2026-11-26T00:00Z
expect "$err" "plan: unknown option '--att'; did you mean '--at'?"
run 2 plan --config "$TW_TMP/one.yaml" --timeout 5
expect "$err" "plan does not take --timeout"
for verb in plan "audit report"; do
	# shellcheck disable=SC2086 # the verb may be two words
	run 0 $verb --help
	expect "$out" "usage: tokenwarden $verb [options]"
	expect "$out" "--at TIME"
	expect "$out" "ahead, -1d ago)"
	expect "$out" "--db FILE"
	# shellcheck disable=SC2086
	run 0 help $verb
	expect "$out" "usage: tokenwarden $verb [options]"
done
run 0 plan --help
expect "$out" "Exit status: 0 nothing due, 3 actions pending, 2 bad policy or option."
run 0 audit report --help
expect "$out" "Exit status: 0 no findings, 4 findings or a history that does not hold, 1 the"
# --at as a duration from now: ahead without a sign, ago with '-'.
export TOKENWARDEN_NOW=2026-11-01T00:00Z
run 3 plan --config "$TW_TMP/one.yaml" --at 25d --json
jqe '.at == "2026-11-26T00:00Z" and (.actions | length) == 4'
run 0 plan --config "$TW_TMP/one.yaml" --at now --json
jqe '.at == "2026-11-01T00:00Z" and .actions == []'
export TOKENWARDEN_NOW=2026-11-27T00:00Z
run 0 plan --config "$TW_TMP/one.yaml" --at -7d --json
jqe '.at == "2026-11-20T00:00Z" and .actions == []'
run 3 plan --config "$TW_TMP/one.yaml" --at=+1h
expect "$out" "plan at 2026-11-27T01:00Z: 4 actions"
unset TOKENWARDEN_NOW
# A bad policy: exit 2 with its errors; nothing read or changed.
run 2 plan --config "$TW_TMP/bad.yaml" --db "$db"
expect "$err" "$TW_TMP/bad.yaml:7:9: error: unknown key 'lifetme'"
expect "$err" "the policy has 1 error; nothing was done"
[ ! -s "$out" ] || fail "plan printed a plan for a bad policy"

echo "== audit report"
run 4 audit report --config "$TW_TMP/one.yaml" --at 2026-11-20T00:00Z --json
jqe '.version == 1 and .summary.slots == 1 and .summary.tokens == 2 and .summary.by_state.active == 2'
jqe '.integrity.intact and (.slots | length) == 1 and (.tokens | length) == 2 and (.history | type) == "array"'
jqe '[.findings[].finding] | sort == ["max-lifetime", "unmanaged"]'
run 4 audit report --config "$TW_TMP/one.yaml" --at 2026-11-20T00:00Z
expect "$out" "audit at 2026-11-20T00:00Z: 1 slot, 2 tokens: 2 active"
expect "$out" "2 findings"
sed 's/^enforce: .*/enforce: { unmanaged: ignore }/' "$TW_TMP/one.yaml" >"$TW_TMP/lenient.yaml"
run 0 audit report --config "$TW_TMP/lenient.yaml" --at 2026-11-20T00:00Z
expect "$out" "0 findings"
# After expiry the slot has no working token: a finding, whatever the rules.
run 4 audit report --config "$TW_TMP/lenient.yaml" --at 2026-12-02T00:00Z --json
jqe '[.findings[] | select(.finding == "overdue" and .slot == "etl")] | length == 1'
run 2 audit report --config "$TW_TMP/bad.yaml" --db "$db"
export TOKENWARDEN_NOW=2026-11-01T00:00Z
run 4 audit report --config "$TW_TMP/lenient.yaml" --at 31d --json
# (The test clock runs on from TOKENWARDEN_NOW while the process starts: a millisecond or
# more under ASan.)
jqe '.at | test("^2026-12-02T00:00:0[0-9][.][0-9]{3}Z$")'
jqe '[.findings[] | select(.finding == "overdue" and .slot == "etl")] | length == 1'
run 2 audit report --config "$TW_TMP/lenient.yaml" --at 31x
expect "$err" "--at '31x': expected an ISO 8601 time"
unset TOKENWARDEN_NOW
# A read says nothing of the history's head: that note is for what a run recorded.
for verb in plan "audit report" "policy show"; do
	# shellcheck disable=SC2086 # the verb may be two words
	"$tw_bin" $verb --config "$TW_TMP/one.yaml" >"$out" 2>"$err" || true
	grep -q "history head" "$err" && fail "$verb noted the history's head"
done
after=$(store_state)
[ "$before" = "$after" ] || fail "plan or audit report changed the store"

echo "== plan and an interrupted create"
sim_start "$modesim" --workspace acme:adminkey:adminsecret
printf 'adminkey:adminsecret\n' >"$TW_TMP/cred" && chmod 600 "$TW_TMP/cred"
st=0
TOKENWARDEN_TEST_CRASH=before-post "$tw_bin" token create "${store[@]}" --api "$SIM_URL" -w acme \
	--credential-file "$TW_TMP/cred" -n e2e-crashed --expires-in 2d >"$out" 2>"$err" || st=$?
[ "$st" -eq 137 ] || fail "the crash hook did not kill the binary (exit $st)"
before=$(rows)
run 0 plan --config "$TW_TMP/one.yaml" --at 2026-11-20T00:00Z --json
# The lock is free, so the pending row is shown as the unknown it will become...
jqe '[.findings[] | select(.finding == "unknown")] | length == 1'
jqe '[.findings[] | select(.finding == "in-flight")] | length == 0'
# ... but plan writes nothing: the row is still pending.
after=$(rows)
[ "$before" = "$after" ] || fail "plan settled the pending row"
[[ $after == *"'pending'"* ]] || fail "the crashed create left no pending row"

if [ "$failures" -gt 0 ]; then
	echo "$failures failure(s)" >&2
	exit 1
fi
echo "all plan checks passed"
