#!/usr/bin/env bash
# End-to-end: a slot renamed in the policy, its consumer's file the same,
# under enforce unmanaged delete_after.  The old slot's token is now
# unmanaged, and old enough to delete, but it is what the consumer holds
# until the renamed slot's first token reaches it.  Checked from outside
# (the consumer's file against the simulator's /_sim/tokens):
#   - while the renamed slot has no active token, plan and rotate hold the
#     deletion back and say why, naming the slot: a run whose replacement
#     fails (it does not verify) leaves the consumer's token on the server;
#   - once the renamed slot's token is delivered and active, the next run
#     deletes the unmanaged one, and the consumer holds a live token;
#   - renamed and renamed back: the slot's token is active again, but the
#     consumer holds the other name's, now unmanaged: the slot is due at
#     once, and that token is not deleted before the slot's next token
#     reaches the consumer, even when that rotation fails.
# usage: test_renamed_slot.sh MODESIM TOKENWARDEN
set -euo pipefail
umask 077
here=$(dirname "$0")
. "$here/../lib/sim.sh"
. "$here/../lib/check.sh"
modesim=$1
tw_bin=$2
unset TOKENWARDEN_DB TOKENWARDEN_PUBLIC_KEY TOKENWARDEN_CONFIG TOKENWARDEN_CREDENTIAL
out=$TW_TMP/out
err=$TW_TMP/err
db=$TW_TMP/tw.db
consumer=$TW_TMP/run/consumer.json
mkdir -p "$TW_TMP/creds" "$TW_TMP/run"

sim_start "$modesim" --workspace acme:adminkey:adminsecret --now 2027-01-01T02:00Z
"$tw_bin" keygen --public-key "$TW_TMP/seal.pub" --secret-key "$TW_TMP/seal.key" --no-passphrase >/dev/null
"$tw_bin" init --db "$db" --public-key "$TW_TMP/seal.pub" >/dev/null
printf 'adminkey:adminsecret\n' >"$TW_TMP/creds/acme-admin"
export CREDENTIALS_DIRECTORY=$TW_TMP/creds TOKENWARDEN_CONFIG=$TW_TMP/policy.yaml TOKENWARDEN_DB=$db

# policy SLOT [DELETE_AFTER [LIFETIME]]: the policy, its one slot named SLOT,
# delivering to $consumer, its store $db (default delete_after 30d, lifetime
# the policy's default).
policy() {
	cat >"$TW_TMP/policy.yaml" <<YAML
version: 1
store: { path: $db, public_key: $TW_TMP/seal.pub }
enforce: { unmanaged: { delete_after: ${2:-30d} } }
schedule: { retries: 0 }
defaults: { ${3:+lifetime: $3} }
workspaces:
  - name: acme
    api: $SIM_URL
    credential: acme-admin
    tokens:
      - name: $1
        deliver: [ { file: "$consumer" } ]
YAML
}

# on_server ID: whether the simulator holds token ID, unexpired (it works).
on_server() {
	sim_ctl GET /_sim/tokens |
		jq -e --arg id "$1" '[.tokens[] | select(.expired | not) | .token] | index($id) != null' >/dev/null
}

held() { jq -r .token "$consumer"; }

policy etl
at 2027-01-01T02:00Z
run 0 rotate
old=$(held)
on_server "$old" || fail "the first token is not on the server"

echo "== renamed 40 days later: the deletion waits for the renamed slot"
policy etl-v2
at 2027-02-10T02:00Z
run 3 plan --json
jq -e '[.actions[] | select(.action == "delete-unmanaged")] == []' "$out" >/dev/null ||
	fail "plan deletes the unmanaged token before the renamed slot has one"
# (waits_for: the same, for scripts, in plan --json and audit report --json.)
waits() {
	jq -e --arg id "$1" --arg slot "$2" '[.findings[] | select(.finding == "unmanaged" and
		.token == $id and .waits_for == $slot and
		(.text | contains("deleted once \($slot) has an active token")))] | length == 1' "$out" \
		>/dev/null
}
waits "$old" acme/etl-v2 || fail "plan does not say the unmanaged token waits for acme/etl-v2"
run 4 audit report --json
waits "$old" acme/etl-v2 || fail "audit report does not say the unmanaged token waits for acme/etl-v2"
sim_ctl POST /_sim/faults '{"reject_bearer_rate": 1}' >/dev/null
run 1 rotate
expect "$err" "does not verify"
tw_expect_eq "the consumer's token after the failed run" "$(held)" "$old"
on_server "$old" || fail "the consumer's token was deleted by a run whose replacement failed"

echo "== the renamed slot's token delivered: the next run deletes the unmanaged one"
sim_ctl POST /_sim/faults '{}' >/dev/null
at 2027-02-10T03:00Z
run 0 rotate
new=$(held)
[ "$new" != "$old" ] || fail "the renamed slot's token did not reach the consumer"
on_server "$old" || fail "the unmanaged token was deleted in the run that made its successor"
run 3 plan --json
jq -e --arg id "$old" '[.actions[] | select(.action == "delete-unmanaged" and .token == $id)] |
	length == 1' "$out" >/dev/null || fail "plan does not delete the unmanaged token now"
run 0 rotate
expect "$out" "1 deleted"
on_server "$old" && fail "the unmanaged token is still on the server"
on_server "$new" || fail "the consumer's token is not on the server"
tw_expect_eq "the consumer's token at the end" "$(held)" "$new"

echo "== renamed and renamed back: the slot rotates for the consumer, whose token waits"
# The slot's old token is active again, but the consumer holds the other
# name's token, which is now unmanaged.
db=$TW_TMP/back.db
consumer=$TW_TMP/run/back.json
"$tw_bin" init --db "$db" --public-key "$TW_TMP/seal.pub" >/dev/null
export TOKENWARDEN_DB=$db
policy etl 5d 60d
at 2027-03-01T02:00Z
run 0 rotate
first=$(held)
policy etl-v2 5d 60d
at 2027-03-02T02:00Z
run 0 rotate
second=$(held)
[ "$second" != "$first" ] || fail "the renamed slot's token did not reach the consumer"
policy etl 5d 60d
at 2027-03-10T02:00Z # the other name's token is 8 days old, past delete_after
run 3 plan --json
jq -e --arg id "$second" '[.actions[] | select(.action == "create" and .slot == "etl" and
	(.why | contains("holds \($id), not")))] | length == 1' "$out" >/dev/null ||
	fail "plan does not rotate acme/etl for the consumer that holds the other name's token"
jq -e '[.actions[] | select(.action == "delete-unmanaged")] == []' "$out" >/dev/null ||
	fail "plan deletes the consumer's token before the slot's next token reaches it"
waits "$second" acme/etl || fail "plan does not say the consumer's token waits for acme/etl"
sim_ctl POST /_sim/faults '{"reject_bearer_rate": 1}' >/dev/null
run 1 rotate
expect "$err" "does not verify"
on_server "$second" || fail "the consumer's token was deleted by a run whose replacement failed"
tw_expect_eq "the consumer's token after the failed run" "$(held)" "$second"
sim_ctl POST /_sim/faults '{}' >/dev/null
at 2027-03-10T03:00Z
run 0 rotate
third=$(held)
[ "$third" != "$second" ] || fail "the slot's rotation did not reach the consumer"
on_server "$third" || fail "the consumer's token is not on the server"
run 0 rotate
on_server "$second" && fail "the unmanaged token is still on the server after the slot's rotation"
on_server "$third" || fail "the consumer's token is not on the server at the end"

if [ "$failures" -gt 0 ]; then
	echo "$failures failure(s)" >&2
	exit 1
fi
echo "all renamed-slot checks passed"
