#!/usr/bin/env bash
# End-to-end: a consumer added to a slot, or moved into it from a slot the
# policy drops, while the slot's token has weeks left.  Only a rotation
# hands that consumer a token (the run cannot read a sealed secret back),
# so the slot is due at once.  Checked from outside (the consumers' files
# against the simulator's /_sim/tokens):
#   - a consumer added: the next run rotates the slot, and both files hold
#     its new token; the run after plans nothing (no rotation loop);
#   - a consumer dropped: nothing is due;
#   - two slots merged, the kept slot's token newer than the dropped one's,
#     under enforce unmanaged delete_after: the moved consumer's token is
#     not deleted before the kept slot's next token reaches it, even when
#     that rotation fails (a replacement that does not verify);
#   - a token made before the store kept its record (schema 13) is not
#     rotated for a consumer it may well have reached; the next run records
#     that it reached the policy's consumers, so one added after is seen.
# usage: test_new_consumer.sh MODESIM TOKENWARDEN
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
files=$TW_TMP/run
mkdir -p "$TW_TMP/creds" "$files"

sim_start "$modesim" --workspace acme:adminkey:adminsecret --now 2027-01-01T02:00Z
"$tw_bin" keygen --public-key "$TW_TMP/seal.pub" --secret-key "$TW_TMP/seal.key" --no-passphrase >/dev/null
"$tw_bin" init --db "$db" --public-key "$TW_TMP/seal.pub" >/dev/null
printf 'adminkey:adminsecret\n' >"$TW_TMP/creds/acme-admin"
export CREDENTIALS_DIRECTORY=$TW_TMP/creds TOKENWARDEN_CONFIG=$TW_TMP/policy.yaml TOKENWARDEN_DB=$db

# policy "SLOT:FILE[,FILE...]"...: the policy, one slot per argument, each
# delivering to the files named (in $files), under enforce unmanaged
# delete_after 1d.
policy() {
	local arg slot list f
	cat >"$TW_TMP/policy.yaml" <<YAML
version: 1
store: { path: $db, public_key: $TW_TMP/seal.pub }
enforce: { unmanaged: { delete_after: 1d } }
schedule: { retries: 0 }
defaults: { lifetime: 30d, rotate_before: 7d, grace: 1h }
workspaces:
  - name: acme
    api: $SIM_URL
    credential: acme-admin
    tokens:
YAML
	for arg in "$@"; do
		slot=${arg%%:*}
		list=
		for f in ${arg#*:}; do
			list="$list${list:+, }{ file: \"$files/$f.json\" }"
		done
		printf '      - { name: %s, deliver: [ %s ] }\n' "$slot" "$list" >>"$TW_TMP/policy.yaml"
	done
}

# on_server ID: whether the simulator holds token ID, unexpired (it works).
on_server() {
	sim_ctl GET /_sim/tokens |
		jq -e --arg id "$1" '[.tokens[] | select(.expired | not) | .token] | index($id) != null' >/dev/null
}

# held FILE: the token consumer FILE holds.
held() { jq -r .token "$files/$1.json"; }

# rotations: the slots plan --json (in $out) rotates, one per line.
rotations() { jq -r '.actions[] | select(.action == "create") | "\(.workspace)/\(.slot)"' "$out"; }

policy "a:fa" "b:fb"
at 2027-01-01T02:00Z
run 0 rotate
at 2027-01-02T02:00Z
run 0 rotate --force acme/b

echo "== a consumer added: the next run hands it the slot's new token"
policy "a:fa fa2" "b:fb"
at 2027-01-03T02:00Z
old=$(held fa)
run 3 plan --json
tw_expect_eq "the slots due for the added consumer" "$(rotations)" "acme/a"
jq -e --arg f "$files/fa2.json" '[.actions[] | select(.action == "create" and
	(.why | contains("its consumer file \($f) never got")))] | length == 1' "$out" >/dev/null ||
	fail "plan does not say why acme/a is due: $(cat "$out")"
run 0 rotate
expect "$out" "1 rotated"
new=$(held fa)
[ "$new" != "$old" ] || fail "the slot's old consumer did not get the new token"
tw_expect_eq "the added consumer's token" "$(held fa2)" "$new"
on_server "$new" || fail "the consumers' token is not on the server"
run 0 plan --json
tw_expect_eq "the slots due after the rotation" "$(rotations)" ""

echo "== a consumer dropped: nothing is due"
policy "a:fa" "b:fb"
run 0 plan --json
tw_expect_eq "the slots due after a consumer is dropped" "$(rotations)" ""

echo "== slots merged: the moved consumer's token waits for the kept slot's next one"
at 2027-01-04T02:00Z
run 0 rotate --force acme/b # the kept slot's token is now newer than acme/a's
moved=$(held fa)
policy "b:fb fa"
at 2027-01-06T02:00Z # acme/a's token is 3 days old, past delete_after
run 3 plan --json
tw_expect_eq "the slots due for the moved consumer" "$(rotations)" "acme/b"
jq -e '[.actions[] | select(.action == "delete-unmanaged")] == []' "$out" >/dev/null ||
	fail "plan deletes the moved consumer's token before the kept slot's token reaches it"
jq -e --arg id "$moved" '[.findings[] | select(.finding == "unmanaged" and .token == $id and
	.waits_for == "acme/b")] | length == 1' "$out" >/dev/null ||
	fail "plan does not say the moved consumer's token waits for acme/b: $(cat "$out")"
sim_ctl POST /_sim/faults '{"reject_bearer_rate": 1}' >/dev/null
run 1 rotate
expect "$err" "does not verify"
tw_expect_eq "the moved consumer's token after the failed run" "$(held fa)" "$moved"
on_server "$moved" || fail "the moved consumer's token was deleted by a run whose replacement failed"
sim_ctl POST /_sim/faults '{}' >/dev/null
at 2027-01-06T03:00Z
run 0 rotate
merged=$(held fb)
tw_expect_eq "the moved consumer's token after the kept slot's rotation" "$(held fa)" "$merged"
on_server "$merged" || fail "the merged slot's token is not on the server"
run 0 rotate
on_server "$moved" && fail "the dropped slot's token is still on the server"
on_server "$(held fa)" || fail "the moved consumer's token is not on the server at the end"

echo "== a token older than the record: not rotated for a consumer; the next run records it"
command -v sqlite3 >/dev/null || fail "sqlite3 is not installed"
sqlite3 "$db" "DELETE FROM slot_reached" || fail "cannot clear the record"
policy "b:fb fa fb2"
run 0 plan --json
tw_expect_eq "the slots due without a record" "$(rotations)" ""
# The run takes it that the token reached the consumers the policy has now,
# and records so: a consumer added after that is seen.
run 0 rotate
expect "$out" "0 rotated"
tw_expect_eq "records after the run" "$(sqlite3 "$db" "SELECT count(*) FROM slot_reached")" 1
policy "b:fb fa fb2 fb3"
run 3 plan --json
tw_expect_eq "the slots due for a consumer added after the run" "$(rotations)" "acme/b"

if [ "$failures" -gt 0 ]; then
	echo "$failures failure(s)" >&2
	exit 1
fi
echo "all new-consumer checks passed"
