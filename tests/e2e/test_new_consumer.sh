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
#   - a consumer moved to another slot and back, whose first slot's window
#     is days away: the token it holds (the other slot's) outlives that
#     slot's next rotation and grace, until its first slot's token reaches
#     it;
#   - the same for a consumer that took a replacement kept when another
#     consumer refused it, moved to a slot whose window is days away;
#   - a delivery killed before its rename, its file then moved to another
#     slot: the next run removes the temporary file it left (a secret);
#     one that cannot (a read-only directory) says so, and a later run does;
#   - a delivery killed after its consumer took the replacement, the file
#     then moved to a slot whose window is days away: the replacement
#     waits for it;
#   - the same, the file moved to a slot whose first consumer refuses every
#     token, so its tries offer the file tokens it never gets: the
#     replacement waits for it all the same;
#   - a store upgraded from schema 14 whose consumer moved before the
#     upgrade: the first run still rotates for it, and the token it holds
#     waits, through a failed first try;
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

# policy "SLOT[;OPTIONS]=FILE[ FILE...]"...: the policy, one slot per
# argument, each delivering to the files named (in $files), with the slot's
# OPTIONS (inline YAML) if given, under enforce unmanaged delete_after 1d.
policy() {
	local arg slot opts list f
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
		slot=${arg%%=*}
		opts=
		case $slot in *\;*) opts=", ${slot#*;}" slot=${slot%%;*} ;; esac
		list=
		for f in ${arg#*=}; do
			list="$list${list:+, }{ file: \"$files/$f.json\" }"
		done
		printf '      - { name: %s%s, deliver: [ %s ] }\n' "$slot" "$opts" "$list" >>"$TW_TMP/policy.yaml"
	done
}

# fresh_store NAME: a store of its own from here on, $TW_TMP/NAME.db.
fresh_store() {
	db=$TW_TMP/$1.db
	"$tw_bin" init --db "$db" --public-key "$TW_TMP/seal.pub" >/dev/null
	export TOKENWARDEN_DB=$db
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

policy "a=fa" "b=fb"
at 2027-01-01T02:00Z
run 0 rotate
at 2027-01-02T02:00Z
run 0 rotate --force acme/b

echo "== a consumer added: the next run hands it the slot's new token"
policy "a=fa fa2" "b=fb"
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
policy "a=fa" "b=fb"
run 0 plan --json
tw_expect_eq "the slots due after a consumer is dropped" "$(rotations)" ""

echo "== slots merged: the moved consumer's token waits for the kept slot's next one"
at 2027-01-04T02:00Z
run 0 rotate --force acme/b # the kept slot's token is now newer than acme/a's
moved=$(held fa)
policy "b=fb fa"
at 2027-01-06T02:00Z # acme/a's token is 3 days old, past delete_after
run 3 plan --json
tw_expect_eq "the slots due for the moved consumer" "$(rotations)" "acme/b"
jq -e --arg id "$moved" '[.actions[] | select(.action == "delete-unmanaged" and .token == $id)] ==
	[]' "$out" >/dev/null ||
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
policy "b=fb fa fb2"
run 0 plan --json
tw_expect_eq "the slots due without a record" "$(rotations)" ""
# The run takes it that the token reached the consumers the policy has now,
# and records so: a consumer added after that is seen.
run 0 rotate
expect "$out" "0 rotated"
tw_expect_eq "records after the run" "$(sqlite3 "$db" "SELECT count(*) FROM slot_reached")" 1
policy "b=fb fa fb2 fb3"
run 3 plan --json
tw_expect_eq "the slots due for a consumer added after the run" "$(rotations)" "acme/b"

echo "== moved to a slot and back: the token it holds outlives its slot's rotation"
# A store of its own.  ky goes from c to d, which rotates for it, and back
# to c, whose window (Sundays) is days away: ky holds d's token, which d
# retires meanwhile; it stays on the server until c's next token reaches
# ky.  2027-01-10 is a Sunday.
fresh_store back
C="c;lifetime: 60d, rotate_before: 14d, window: { days: [sun], hours: '01:00-05:00' }"
D="d;lifetime: 10d, rotate_before: 4d"
policy "$C=kc ky" "$D=kd"
at 2027-01-08T02:00Z
run 0 rotate
expect "$out" "2 rotated"
policy "$C=kc" "$D=kd ky"
at 2027-01-09T02:00Z
run 3 plan --json
tw_expect_eq "the slots due for the consumer moved to d" "$(rotations)" "acme/d"
run 0 rotate
held_d=$(held ky)
tw_expect_eq "the moved consumer's token" "$held_d" "$(held kd)"
policy "$C=kc ky" "$D=kd"
at 2027-01-10T06:00Z # past c's window today
run 0 rotate
expect "$out" "0 rotated"
run 0 plan --json
tw_expect_eq "the slots due outside c's window" "$(rotations)" ""
at 2027-01-15T02:00Z # d is due: its token, the one ky holds, retires
run 0 rotate
expect "$out" "1 rotated"
[ "$(held kd)" != "$held_d" ] || fail "d did not rotate"
at 2027-01-16T02:00Z # past d's grace
run 0 rotate
tw_expect_eq "the token ky holds past d's grace" "$(held ky)" "$held_d"
on_server "$held_d" || fail "d's retired token was deleted while ky, moved back to c, holds it"
run 0 plan --json
jq -e --arg id "$held_d" '[.findings[] | select(.finding == "held" and .token == $id and
	.slot == "d" and .waits_for == "acme/c")] | length == 1' "$out" >/dev/null ||
	fail "plan does not say d's retired token outlives its grace for acme/c: $(cat "$out")"
run 4 audit report
expect "$out" "held"
expect "$out" "a consumer of acme/c holds it"
run 4 audit report --format json
python3 - "$here/../../docs/audit-report.schema.json" "$out" <<'PY' || fail "audit report's JSON with a held finding does not validate against its schema"
import json, sys, jsonschema
schema, doc = (json.load(open(p)) for p in sys.argv[1:])
errors = list(jsonschema.Draft202012Validator(schema).iter_errors(doc))
for e in errors[:3]:
    print("%s at %s" % (e.message, list(e.absolute_path)), file=sys.stderr)
sys.exit(1 if errors else 0)
PY
jq -e '[.findings[] | select(.finding == "held" and .waits_for == "acme/c")] | length == 1' \
	"$out" >/dev/null || fail "audit report's JSON has no held finding waiting for acme/c"
at 2027-01-17T02:00Z # c's window
run 3 plan --json
jq -e --arg f "$files/ky.json" --arg id "$held_d" '[.actions[] | select(.action == "create" and
	.slot == "c" and (.why | contains("its consumer file \($f) holds \($id), not")))] |
	length == 1' "$out" >/dev/null || fail "plan does not say why acme/c is due: $(cat "$out")"
run 0 rotate
[ "$(held ky)" != "$held_d" ] || fail "c's rotation did not reach ky"
tw_expect_eq "the consumers of c" "$(held ky)" "$(held kc)"
on_server "$(held ky)" || fail "ky's token is not on the server"
at 2027-01-17T04:00Z
run 0 rotate
on_server "$held_d" && fail "d's retired token is still on the server once no consumer holds it"
run 0 plan --json
tw_expect_eq "the slots due at the end" "$(rotations)" ""
jq -e '[.findings[] | select(.finding == "held")] | length == 0' "$out" >/dev/null ||
	fail "a held finding outlives the token it is about: $(cat "$out")"

echo "== a consumer that took a kept replacement, moved: that token waits for it too"
# A store of its own.  e's forced rotation reaches ke1 but not ke2 (its
# directory is a file): the replacement is kept for ke1.  ke1 then moves
# to f, whose window (Sundays) is days away; e's next rotation retires the
# kept token, which stays on the server until f's token reaches ke1.
# 2027-01-18 is a Monday.
fresh_store kept
F="f;lifetime: 60d, rotate_before: 14d, window: { days: [sun], hours: '01:00-05:00' }"
policy "e=ke1 blocked/ke2" "$F=kf"
mkdir "$files/blocked"
at 2027-01-18T02:00Z
run 0 rotate
expect "$out" "2 rotated"
rm -r "$files/blocked"
: >"$files/blocked"
at 2027-01-19T02:00Z
run 1 rotate --force acme/e
expect "$err" "kept"
kept=$(held ke1)
[ "$kept" != "$(held blocked/ke2 2>/dev/null)" ] || fail "the replacement reached both consumers"
policy "e=blocked/ke2" "$F=kf ke1"
rm "$files/blocked"
mkdir "$files/blocked"
at 2027-01-20T02:00Z # e rotates: its consumers may hold the kept token
run 0 rotate
expect "$out" "1 rotated"
at 2027-01-21T02:00Z # past e's grace
run 0 rotate
tw_expect_eq "the token ke1 holds past e's grace" "$(held ke1)" "$kept"
on_server "$kept" || fail "e's kept token was deleted while ke1, moved to f, holds it"
at 2027-01-24T02:00Z # f's window
run 0 rotate
[ "$(held ke1)" != "$kept" ] || fail "f's rotation did not reach ke1"
at 2027-01-24T04:00Z
run 0 rotate
on_server "$kept" && fail "e's kept token is still on the server once no consumer holds it"
on_server "$(held ke1)" || fail "ke1's token is not on the server at the end"

echo "== a delivery killed before its rename, then the file moved: its temporary file goes"
# The killed run leaves a temporary file, with the replacement's secret,
# beside kg.json; the policy then moves kg.json to h.  The next run keeps
# the replacement and removes that file, though kg.json is g's no more.
# killed_before_rename STORE AT SLOT=FILE...: in a fresh store STORE, under
# that policy, the slots' first tokens at AT, then a forced rotation of the
# first SLOT killed between writing its consumer's temporary file and
# renaming it.
killed_before_rename() {
	local st=0
	fresh_store "$1"
	policy "${@:3}"
	at "$2"
	run 0 rotate
	TOKENWARDEN_TEST_CRASH=before-rename "$tw_bin" rotate --force "acme/${3%%=*}" \
		>/dev/null 2>&1 || st=$?
	tw_expect_eq "the run killed before its rename" "$st" 137
}

killed_before_rename swept 2027-01-25T02:00Z "g=kg" "h=kh"
left() { find "$files" -maxdepth 1 -name '.kg.json.tw-*' | wc -l; }
tw_expect_eq "temporary files beside kg.json after the kill" "$(left)" 1
policy "g=" "h=kh kg"
at 2027-01-25T03:00Z
run 0 rotate
expect "$err" "removed the temporary file an interrupted run left beside a consumer's file"
tw_expect_eq "temporary files beside kg.json after the next run" "$(left)" 0
tw_expect_eq "kg.json's token" "$(held kg)" "$(held kh)"

echo "== a delivery killed before its rename, its directory away at the next run: a later run sweeps"
# The run that keeps the replacement cannot reach the consumer's directory
# (a mount not there yet): the temporary file, with a live token's secret,
# comes back with it.  The store owes a sweep until a run reaches it.
mkdir "$files/away"
killed_before_rename owed 2027-01-26T02:00Z "w=away/kw"
left() { find "$files/away" -maxdepth 1 -name '.kw.json.tw-*' | wc -l; }
tw_expect_eq "temporary files beside away/kw.json after the kill" "$(left)" 1
kept=$(jq -r .token "$(find "$files/away" -maxdepth 1 -name '.kw.json.tw-*')")
mv "$files/away" "$files/away.off"
at 2027-01-26T03:00Z
run 1 rotate # keeps it, and fails to hand w's next token to kw
expect "$err" "kept $kept"
mv "$files/away.off" "$files/away"
on_server "$kept" || fail "the kept replacement is not on the server"
at 2027-01-26T04:00Z
run 0 rotate
expect "$err" "removed the temporary file an interrupted run left beside a consumer's file"
tw_expect_eq "temporary files beside away/kw.json once it is back" "$(left)" 0
tw_expect_eq "the sweep owed after it" "$(sqlite3 "$db" "SELECT value FROM meta WHERE key = 'sweep_owed'")" 0

echo "== a delivery killed before its rename, its directory read-only at the next run: a later run sweeps"
# The directory is there but nothing can be removed from it (a read-only
# mount; here 0500, or for root immutable): the run says the file is left,
# and the store owes a sweep until a run removes it.
mkdir "$files/ro"
killed_before_rename unswept 2027-01-27T02:00Z "r=ro/kr"
left() { find "$files/ro" -maxdepth 1 -name '.kr.json.tw-*' | wc -l; }
tw_expect_eq "temporary files beside ro/kr.json after the kill" "$(left)" 1
locked=
if [ "$(id -u)" != 0 ]; then
	chmod 0500 "$files/ro" && locked="chmod 0700"
elif chattr +i "$files/ro" 2>/dev/null; then
	tw_at_exit "chattr -i '$files/ro'"
	locked="chattr -i"
fi
if [ -n "$locked" ]; then
	at 2027-01-27T03:00Z
	run 1 rotate # keeps it, and cannot hand r's next token to kr either
	expect "$err" "deliver file $files/ro/kr.json: a temporary file an interrupted run may have left beside it (holding a token's secret) could not be removed"
	tw_expect_eq "temporary files beside ro/kr.json while it is read-only" "$(left)" 1
	tw_expect_eq "the sweep owed while it is" "$(sqlite3 "$db" "SELECT value FROM meta WHERE key = 'sweep_owed'")" 1
	$locked "$files/ro"
	at 2027-01-27T04:00Z
	run 0 rotate
	expect "$err" "removed the temporary file an interrupted run left beside a consumer's file"
	tw_expect_eq "temporary files beside ro/kr.json once writable" "$(left)" 0
	tw_expect_eq "the sweep owed after it" "$(sqlite3 "$db" "SELECT value FROM meta WHERE key = 'sweep_owed'")" 0
else
	echo "note: no directory this user cannot remove from (root without chattr): that case is not checked"
fi

echo "== an upgrade from schema 14, a consumer moved before it: the move is still seen"
# Schema 14 recorded, a slot, the fingerprints of the consumers its token
# reached (a file by its path as written).  kp moves from p (dropped) to q
# before the upgrade: the step to 15 keeps 14's records aside, and the
# first run reads them with the policy, so q is due for kp and p's token,
# which kp holds, is not deleted before q's token reaches it, even when
# that first try fails.
fresh_store up14
policy "p=kp" "q=kq"
at 2027-02-01T02:00Z
run 0 rotate
at 2027-02-02T02:00Z
run 0 rotate --force acme/q # q's token is now newer than p's
moved=$(held kp)
# fp14 PATH: schema 14's fingerprint of file consumer PATH (deliver_fingerprint).
fp14() {
	python3 -c 'import hashlib, struct, sys
h = hashlib.blake2b(digest_size=16)
for f in (b"file", sys.argv[1].encode()):
	h.update(struct.pack(">Q", len(f)) + f)
print(h.hexdigest())' "$1"
}
sqlite3 "$db" "DROP INDEX events_handed; DROP TABLE handed; DROP TABLE slot_reached;
	ALTER TABLE slot_reached_14 RENAME TO slot_reached;
	INSERT INTO slot_reached SELECT t.slot_id, t.id, CASE s.name
		WHEN 'p' THEN '$(fp14 "$files/kp.json"),' ELSE '$(fp14 "$files/kq.json"),' END
		FROM tokens t JOIN slots s ON s.id = t.slot_id WHERE t.state = 'active';
	PRAGMA user_version = 14" || fail "cannot take the store back to schema 14"
policy "q=kq kp"
at 2027-02-04T02:00Z # p's token is 3 days old, past delete_after
run 3 plan --json
tw_expect_eq "the slots due for kp after the upgrade" "$(rotations)" "acme/q"
jq -e --arg id "$moved" '[.actions[] | select(.action == "delete-unmanaged" and .token == $id)] ==
	[]' "$out" >/dev/null || fail "plan deletes the token kp holds at the upgrade"
sim_ctl POST /_sim/faults '{"reject_bearer_rate": 1}' >/dev/null
run 1 rotate
sim_ctl POST /_sim/faults '{}' >/dev/null
tw_expect_eq "the token kp holds after the upgrade's failed first run" "$(held kp)" "$moved"
on_server "$moved" || fail "the upgrade's first run deleted the token kp holds"
at 2027-02-04T03:00Z
run 0 rotate
tw_expect_eq "kp's token after q's rotation" "$(held kp)" "$(held kq)"
[ "$(held kp)" != "$moved" ] || fail "q's rotation did not reach kp"
run 0 rotate
on_server "$moved" && fail "p's token is still on the server once kp has q's"
run 0 plan --json
tw_expect_eq "the slots due at the end" "$(rotations)" ""

echo "== a delivery killed after its consumer took it, the file then moved: that token waits"
# A store of its own.  A run killed after handing m's replacement to km
# and km2, before its activation, leaves them holding it; the policy then
# moves km to n, whose window (Sundays) is days away.  The next run keeps
# the replacement and m rotates for km2; the kept token, retired by that
# rotation, stays on the server past m's grace until n's token reaches km.
# 2027-02-08 is a Monday.
fresh_store offered
N="n;lifetime: 60d, rotate_before: 14d, window: { days: [sun], hours: '01:00-05:00' }"
policy "m=km km2" "$N=kn"
at 2027-02-08T02:00Z
run 0 rotate
expect "$out" "2 rotated"
first=$(held km)
at 2027-02-09T02:00Z
st=0
TOKENWARDEN_TEST_CRASH=after-deliver "$tw_bin" rotate --force acme/m >/dev/null 2>&1 || st=$?
tw_expect_eq "the run killed after its delivery" "$st" 137
taken=$(held km)
[ "$taken" != "$first" ] || fail "the killed run did not reach km"
policy "m=km2" "$N=kn km"
at 2027-02-09T03:00Z
run 0 rotate
expect "$err" "kept $taken"
[ "$(held km2)" != "$taken" ] || fail "m did not rotate for km2"
at 2027-02-10T02:00Z # past m's grace
run 0 rotate
tw_expect_eq "the token km holds past m's grace" "$(held km)" "$taken"
on_server "$taken" || fail "the replacement km took from the killed run was deleted while km holds it"
run 0 plan --json
jq -e --arg id "$taken" '[.findings[] | select(.finding == "held" and .token == $id and
	.waits_for == "acme/n")] | length == 1' "$out" >/dev/null ||
	fail "plan does not say the replacement km holds waits for acme/n: $(cat "$out")"
at 2027-02-14T02:00Z # n's window
run 0 rotate
tw_expect_eq "km's token after n's rotation" "$(held km)" "$(held kn)"
at 2027-02-14T04:00Z
run 0 rotate
on_server "$taken" && fail "the replacement km took is still on the server once km has n's"
on_server "$first" && fail "m's first token is still on the server once no consumer holds it"
on_server "$(held km)" || fail "km's token is not on the server at the end"
run 0 plan --json
tw_expect_eq "the slots due at the end" "$(rotations)" ""

echo "== a delivery killed after its consumer took it, the file moved to a slot that fails first"
# A store of its own.  A run killed before km2's rename leaves km holding
# m's replacement and km2 its first token; the policy then moves km to p,
# whose first consumer (in a directory not yet made) refuses every token,
# so p's deliveries never reach km.  Each of p's tries offers km a token it
# never gets: the replacement km holds still waits for it, past m's grace,
# until p's token reaches km.
fresh_store superseded
policy "m=sm sm2" "p=sp"
at 2027-02-20T02:00Z
run 0 rotate
first=$(held sm)
at 2027-02-21T02:00Z
st=0
TOKENWARDEN_TEST_CRASH='before-rename#2' "$tw_bin" rotate --force acme/m >/dev/null 2>&1 || st=$?
tw_expect_eq "the run killed before sm2's rename" "$st" 137
taken=$(held sm)
[ "$taken" != "$first" ] || fail "the killed run did not reach sm"
[ "$(held sm2)" = "$first" ] || fail "the killed run reached sm2"
policy "m=sm2" "p=nodir/sp sm"
at 2027-02-21T03:00Z
run 1 rotate
tw_expect_eq "the token sm holds after p's first try" "$(held sm)" "$taken"
for t in 2027-02-21T05:00Z 2027-02-22T02:00Z; do # past m's grace
	at "$t"
	run 1 rotate
	tw_expect_eq "the token sm holds at $t" "$(held sm)" "$taken"
	on_server "$taken" ||
		fail "at $t the replacement sm took was deleted while sm holds it and p has not reached it"
done
run 0 plan --json
jq -e --arg id "$taken" '[.findings[] | select(.finding == "held" and .token == $id and
	.waits_for == "acme/p")] | length == 1' "$out" >/dev/null ||
	fail "plan does not say the replacement sm holds waits for acme/p: $(cat "$out")"
mkdir "$files/nodir"
at 2027-02-22T04:00Z
run 0 rotate
tw_expect_eq "sm's token once p reaches it" "$(held sm)" "$(held nodir/sp)"
at 2027-02-22T06:00Z
run 0 rotate
on_server "$taken" && fail "the replacement sm took is still on the server once sm has p's"
on_server "$(held sm)" || fail "sm's token is not on the server at the end"

if [ "$failures" -gt 0 ]; then
	echo "$failures failure(s)" >&2
	exit 1
fi
echo "all new-consumer checks passed"
