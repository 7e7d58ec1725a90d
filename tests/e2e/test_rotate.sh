#!/usr/bin/env bash
# End-to-end: tokenwarden rotate against the simulator with a moving clock.
# A first run makes the slot's token and delivers it; past its due time a
# second run replaces it and retires the old one; after the grace a third
# deletes it.  A failing hook leaves the old token active and the undelivered
# replacement deleted, as does a replacement that does not verify; a held
# lock stops a second run; --dry-run changes nothing.  The history verifies at the end.
# usage: test_rotate.sh MODESIM TOKENWARDEN
set -euo pipefail
umask 077
modesim=$1
tw_bin=$2
. "$(dirname "$0")/../lib/sim.sh"
. "$(dirname "$0")/../lib/check.sh"

unset TOKENWARDEN_DB TOKENWARDEN_PUBLIC_KEY TOKENWARDEN_CONFIG TOKENWARDEN_CREDENTIAL
out=$TW_TMP/out
err=$TW_TMP/err

sim_tokens() {
	sim_ctl GET /_sim/tokens | jq '.tokens | length'
}

# state TOKEN: the inventory state of a token.
state() {
	"$tw_bin" token list --all --db "$db" --json | jq -r --arg t "$1" '.[] | select(.token == $t) | .state'
}

sim_start "$modesim" --workspace acme:adminkey:adminsecret --workspace beta:betakey:betasecret \
	--now 2026-11-01T00:00Z
db=$TW_TMP/tw.db
"$tw_bin" keygen --public-key "$TW_TMP/seal.pub" --secret-key "$TW_TMP/seal.key" --no-passphrase >/dev/null
"$tw_bin" init --db "$db" --public-key "$TW_TMP/seal.pub" >/dev/null
mkdir -p "$TW_TMP/creds" "$TW_TMP/run"
printf 'adminkey:adminsecret\n' >"$TW_TMP/creds/acme-admin"
printf 'betakey:betasecret\n' >"$TW_TMP/creds/beta-admin"
chmod 600 "$TW_TMP/creds/acme-admin" "$TW_TMP/creds/beta-admin"
export CREDENTIALS_DIRECTORY=$TW_TMP/creds

cat >"$TW_TMP/policy.yaml" <<YAML
version: 1
store: { path: $db, public_key: $TW_TMP/seal.pub }
defaults: { lifetime: 30d, rotate_before: 20%, grace: 1d }
workspaces:
  - name: acme
    api: $SIM_URL
    credential: acme-admin
    tokens:
      - name: etl
        deliver:
          - file: $TW_TMP/run/{slot}.json
          - exec: [/bin/sh, -c, "cat > $TW_TMP/run/hook-{slot}.json"]
YAML
export TOKENWARDEN_CONFIG=$TW_TMP/policy.yaml

echo "== first run: the slot gets its token"
at 2026-11-01T00:00Z
run 0 rotate
expect "$out" "rotate: 1 rotated, 0 deleted, 0 failed, 0 unknown, 0 left"
expect "$err" "acme/etl: created"
expect "$err" "acme/etl: verified"
expect "$err" "acme/etl: delivered"
first=$(jq -r .token "$TW_TMP/run/etl.json")
[ "$(stat -c %a "$TW_TMP/run/etl.json")" = 600 ] || fail "the delivered file is not 0600"
cmp -s "$TW_TMP/run/etl.json" "$TW_TMP/run/hook-etl.json" || fail "the hook got other JSON"
jq -e '.access_secret | length > 0' "$TW_TMP/run/etl.json" >/dev/null || fail "no secret delivered"
[ "$(state "$first")" = active ] || fail "the first token is not active"
[ "$(sim_tokens)" = 1 ] || fail "the simulator holds $(sim_tokens) tokens, expected 1"
expect "$err" "history head "
run 0 rotate
expect "$out" "rotate: 0 rotated, 0 deleted, 0 failed, 0 unknown, 0 left"
run 0 plan

echo "== past its due time: replaced, the old one retiring"
at 2026-11-26T00:00Z
run 3 plan
run 0 rotate --dry-run
expect "$out" "rotate (dry run): 0 rotated"
expect "$err" "acme/etl: would create"
[ "$(sim_tokens)" = 1 ] || fail "--dry-run created a token"
run 0 rotate
expect "$out" "rotate: 1 rotated, 0 deleted"
second=$(jq -r .token "$TW_TMP/run/etl.json")
[ "$second" != "$first" ] || fail "the delivered token did not change"
[ "$(state "$first")" = retiring ] || fail "the old token is $(state "$first"), expected retiring"
[ "$(state "$second")" = active ] || fail "the new token is not active"
[ "$(sim_tokens)" = 2 ] || fail "the simulator holds $(sim_tokens) tokens, expected 2"

# sealed TOKEN: the hex of the token's sealed secret in the store, or nothing.
sealed() {
	python3 - "$db" "$1" <<'PY'
import sqlite3, sys
c = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True)
for (blob,) in c.execute("SELECT x.sealed FROM secrets x JOIN tokens t ON t.id = x.token_row "
                         "WHERE t.token = ?", (sys.argv[2],)):
    print(blob.hex())
PY
}

# on_disk HEX: whether those bytes are in the store's file once its log is checkpointed.
on_disk() {
	python3 - "$db" "$1" <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
busy, _, _ = c.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
c.close()
assert busy == 0, "the log could not be checkpointed"
sys.exit(0 if bytes.fromhex(sys.argv[2]) in open(sys.argv[1], "rb").read() else 1)
PY
}

echo "== after the grace: the old one deleted (--quiet: only the summary, on stdout)"
first_sealed=$(sealed "$first")
[ -n "$first_sealed" ] || fail "the first token has no sealed secret before its deletion"
on_disk "$first_sealed" || fail "the first token's sealed secret is not in the store's file"
at 2026-11-27T01:00Z
run 0 rotate --quiet
expect "$out" "rotate: 0 rotated, 1 deleted"
[ ! -s "$err" ] || fail "rotate --quiet printed notes"
[ "$(state "$first")" = deleted ] || fail "the old token is $(state "$first"), expected deleted"
[ "$(sim_tokens)" = 1 ] || fail "the simulator holds $(sim_tokens) tokens, expected 1"
# Its sealed secret went with it, its bytes overwritten (secure_delete); the event says so.
[ -z "$(sealed "$first")" ] || fail "the store keeps the deleted token's sealed secret"
on_disk "$first_sealed" && fail "the deleted token's sealed secret is still in the store's file"
"$tw_bin" audit log --db "$db" --json --kind token.deleted | jq -e --arg t "$first" \
	'select(.token == $t) | .details.secret == "erased"' >/dev/null ||
	fail "the deletion's event does not say the secret was erased"
run 1 secret reveal --db "$db" -w acme "$first" --secret-key "$TW_TMP/seal.key"
expect "$err" "token $first in workspace acme is deleted, so it no longer exists on Mode: its sealed secret was erased with it"
run 0 secret reveal --db "$db" -w acme "$second" --secret-key "$TW_TMP/seal.key"
run 0 audit verify --db "$db"

echo "== a failing hook: the old token stays; the replacement is kept for the file that took it"
sed -i 's|"cat > .*"|"cat >/dev/null; echo reload failed >\&2; exit 4"|' "$TW_TMP/policy.yaml"
at 2026-12-22T00:00Z
run 1 rotate
expect "$out" "rotate: 0 rotated, 0 deleted, 1 failed"
expect "$err" "could not be delivered to consumer 2 of 2: deliver exec /bin/sh: exit status 4; its output is in the log"
expect "$err" "acme/etl: output of consumer 2 of 2: reload failed"
[ "$(state "$second")" = active ] || fail "the old token is $(state "$second") after a failed delivery"
kept=$(jq -r .token "$TW_TMP/run/etl.json")
[ "$(state "$kept")" = retiring ] || fail "the file consumer's token is $(state "$kept"), not kept"
[ "$(sim_tokens)" = 2 ] || fail "the replacement the file consumer took is not on the server"
grep -q "$(jq -r .access_secret "$TW_TMP/run/etl.json")" "$err" && fail "a secret reached the log"
# The slot backs off: not retried at once, and plan says so.
run 0 rotate
expect "$out" "rotate: 0 rotated, 0 deleted, 0 failed"
# With stuck_after 1 that one failure makes the slot stuck: every run fails until it recovers.
sed -i 's|^defaults: |schedule: { stuck_after: 1 }\ndefaults: |' "$TW_TMP/policy.yaml"
run 1 rotate
expect "$out" "rotate: 0 rotated, 0 deleted, 0 failed, 0 unknown, 0 left; some slots are stuck"
expect "$err" "acme/etl: failed 1 time in a row (last: new token"
run 4 audit report
expect "$out" "stuck        acme/etl"
run 4 audit report --json
jq -e '[.findings[] | select(.finding == "stuck" and .slot == "etl")] | length == 1' "$out" \
	>/dev/null || fail "audit report --json does not name the stuck slot"
sed -i '/^schedule: /d' "$TW_TMP/policy.yaml"
run 0 plan --json
jq -e '.next_at != null' "$out" >/dev/null || fail "no next attempt planned"

echo "== --force: rotated now, due or not"
sed -i 's|"cat >/dev/null; echo reload failed >\&2; exit 4"|"cat >/dev/null"|' "$TW_TMP/policy.yaml"
at 2026-12-23T00:00Z
run 0 rotate --force etl
expect "$out" "rotate: 1 rotated, 0 deleted, 0 failed"
expect "$err" "acme/etl: rotating now, as --force asks"
third=$(jq -r .token "$TW_TMP/run/etl.json")
[ "$third" != "$second" ] || fail "--force delivered no new token"
[ "$(state "$second")" = retiring ] || fail "the replaced token is $(state "$second"), expected retiring"
run 2 rotate --force nosuch
expect "$err" "--force 'nosuch': no slot of that name in the policy"

echo "== a create answered with an earlier create's answer, as a cache might replay it"
# The answer names the slot's active token: no new token, and never a reason to delete that one.
sim_ctl POST /_sim/faults '{"replay_post": 1}' >/dev/null
tw_run 1 rotate --force etl
expect "$err" "names token $third, which the store already holds (active)"
[ "$(state "$third")" = active ] || fail "a replayed create answer made the active token $(state "$third")"
sim_ctl GET /_sim/tokens | jq -e --arg t "$third" '[.tokens[] | select(.token == $t)] | length == 1' \
	>/dev/null || fail "a replayed create answer deleted the slot's active token on the server"
[ "$(jq -r .token "$TW_TMP/run/etl.json")" = "$third" ] || fail "the consumer lost the active token"
sim_ctl POST /_sim/faults '{}' >/dev/null

echo "== a server that grants another expiry than the one asked"
# An hour for the 30 days asked: it would lapse before the next run could replace it.
sim_ctl POST /_sim/faults '{"grant_seconds": 3600}' >/dev/null
tw_run 1 rotate --force etl
expect "$err" "expires at 2026-12-23T01:00Z, not 2027-01-22T00:00Z as asked: before the next run could replace it"
[ "$(state "$third")" = active ] || fail "a replacement with an hour to live retired the active token"
[ "$(jq -r .token "$TW_TMP/run/etl.json")" = "$third" ] || fail "the consumer got a token with an hour to live"
[ "$(sim_ctl GET /_sim/tokens | jq '[.tokens[] | select(.expires_at | startswith("2026-12-23T01:00"))] | length')" = 0 ] ||
	fail "the replacement with an hour to live was left on the server"
# Ten days: shorter than asked, past the next run: taken, with a warning.
sim_ctl POST /_sim/faults '{"grant_seconds": 864000}' >/dev/null
tw_run 0 rotate --force etl
expect "$err" "expires at 2027-01-02T00:00Z, not 2027-01-22T00:00Z as asked; the slot is scheduled by the token's own expiry"
third=$(jq -r .token "$TW_TMP/run/etl.json")
[ "$(state "$third")" = active ] || fail "the replacement with ten days to live is $(state "$third")"
sim_ctl POST /_sim/faults '{}' >/dev/null

echo "== revoke: gone at once, replaced by the next run"
run 2 revoke etl </dev/null
expect "$err" "revoking acme/$third needs --yes when not run from a terminal"
[ "$(state "$third")" = active ] || fail "revoke without --yes changed the token"
# Refused before the API (no credential): nothing recorded, so no history head.
mkdir "$TW_TMP/nocreds"
CREDENTIALS_DIRECTORY=$TW_TMP/nocreds run 2 revoke --yes etl
expect "$err" "$TW_TMP/nocreds/acme-admin: cannot open"
grep -q "history head" "$err" && fail "a refused revoke noted the history's head"
[ "$(state "$third")" = active ] || fail "a refused revoke changed the token"
# --timeout and --retries reach revoke's client: a DELETE answered after 5 s is given up.
sim_ctl POST /_sim/faults '{"latency_ms": 5000, "count": 1}' >/dev/null
run 7 revoke --yes etl --timeout 1 --retries 0
expect "$err" "timed out"
grep -q "history head" "$err" && fail "a failed revoke noted the history's head"
[ "$(state "$third")" = active ] || fail "a revoke that timed out changed the token"
sim_ctl POST /_sim/faults '{}' >/dev/null
# A wrong api: URL: the API's 404 for a path it lacks says nothing of the token.
sed "s|api: $SIM_URL\$|api: $SIM_URL/v2|" "$TW_TMP/policy.yaml" >"$TW_TMP/wrong-api.yaml"
run 1 revoke --yes etl --config "$TW_TMP/wrong-api.yaml"
expect "$err" "404 Not Found: Not found: the API did not say the token is gone"
[ "$(state "$third")" = active ] || fail "a revoke the API did not confirm changed the token"
run 0 revoke --yes etl
expect "$out" "revoked token $third"
expect "$err" "history head "
[ "$(state "$third")" = revoked ] || fail "the revoked token is $(state "$third")"
sim_ctl GET /_sim/tokens | jq -e --arg t "$third" '[.tokens[] | select(.token == $t)] | length == 0' \
	>/dev/null || fail "the revoked token is still on the server"
[ -z "$(sealed "$third")" ] || fail "the store keeps the revoked token's sealed secret"
run 1 secret reveal --db "$db" -w acme "$third" --secret-key "$TW_TMP/seal.key"
expect "$err" "token $third in workspace acme is revoked, so it no longer exists on Mode: its sealed secret was erased with it"
run 1 revoke --yes etl
expect "$err" "slot acme/etl has no active token to revoke"
run 2 revoke --yes "$second"
expect "$err" "is no slot of the policy; to revoke a token by its id or name, say its workspace with -w"
# By its Mode-side name, as everywhere a token is taken.
second_name=$("$tw_bin" token list --db "$db" --json | jq -r --arg t "$second" '.[] | select(.token == $t) | .name')
run 1 revoke --yes -w acme no-such-name
expect "$err" "workspace acme has no token named 'no-such-name'"
run 0 revoke --yes -w acme "$second_name"
expect "$out" "revoked token $second"
[ "$(state "$second")" = revoked ] || fail "revoke by name left $(state "$second")"
run 1 revoke --yes -w acme "$second"
expect "$err" "is revoked"
run 0 --log-format json rotate
expect "$out" "rotate: 1 rotated"
[ "$(jq -r .token "$TW_TMP/run/etl.json")" != "$third" ] || fail "no new token after revoke"
# JSON log lines: one object per step, naming the workspace and slot.
jq -se 'map(select(.workspace == "acme" and .slot == "etl" and .level == "note"))
	| map(.msg | split(" ")[0]) | index("created") != null and index("verified") != null' \
	"$err" >/dev/null || fail "no JSON log lines for the steps"

echo "== --dry-run --run-hooks: the consumers rehearse with a test payload"
at 2027-01-17T00:00Z
sed -i 's|"cat >/dev/null"|"cat > '"$TW_TMP"'/run/hook-{slot}.json"|' "$TW_TMP/policy.yaml"
cp "$TW_TMP/run/etl.json" "$TW_TMP/etl.before"
events=$("$tw_bin" audit log --db "$db" --json | wc -l)
held=$(sim_tokens)
run 0 rotate --dry-run --run-hooks
expect "$err" "acme/etl: would create"
expect "$err" "acme/etl: rehearsed consumer 1 with a test payload"
expect "$err" "acme/etl: rehearsed consumer 2 with a test payload"
jq -e '.test == true and .token == "rehearsal"' "$TW_TMP/run/hook-etl.json" >/dev/null ||
	fail "the exec consumer did not get the test payload"
cmp -s "$TW_TMP/run/etl.json" "$TW_TMP/etl.before" || fail "the rehearsal replaced the real file"
[ "$(find "$TW_TMP/run" -type f | wc -l)" = 2 ] || fail "the rehearsal left files: $(ls "$TW_TMP/run")"
[ "$("$tw_bin" audit log --db "$db" --json | wc -l)" = "$events" ] ||
	fail "the rehearsal wrote history"
[ "$(sim_tokens)" = "$held" ] || fail "the rehearsal made or deleted a token"
sed -i 's|"cat > .*"|"cat >/dev/null; echo not ready >\&2; exit 4"|' "$TW_TMP/policy.yaml"
run 1 rotate --dry-run --run-hooks
expect "$err" "acme/etl: rehearsal of consumer 2 failed: deliver exec /bin/sh: exit status 4; its output is in the log"
expect "$err" "acme/etl: output of consumer 2 of 2: not ready"
run 2 rotate --run-hooks
expect "$err" "--run-hooks rehearses consumers, so it needs --dry-run"
sed -i 's|"cat >/dev/null; echo not ready >\&2; exit 4"|"cat >/dev/null"|' "$TW_TMP/policy.yaml"
run 0 rotate
expect "$out" "rotate: 1 rotated"

echo "== two credentials: worked in parallel"
# Each hook waits for the other's: run one after the other, the first would time out.
cat >"$TW_TMP/meet.sh" <<'SH'
#!/bin/sh
# meet.sh ME OTHER DIR: says ME is here, then waits up to 10 s for OTHER.
cat >/dev/null
: >"$3/$1"
i=0
while [ ! -e "$3/$2" ]; do
	i=$((i + 1))
	[ "$i" -le 100 ] || { echo "$2 never came" >&2; exit 3; }
	sleep 0.1
done
SH
chmod 700 "$TW_TMP/meet.sh"
mkdir "$TW_TMP/meet"
"$tw_bin" init --db "$TW_TMP/par.db" --public-key "$TW_TMP/seal.pub" >/dev/null
cat >"$TW_TMP/par.yaml" <<YAML
version: 1
store: { path: $TW_TMP/par.db, public_key: $TW_TMP/seal.pub }
defaults: { lifetime: 30d, rotate_before: 20%, grace: 1d }
workspaces:
  - name: acme
    api: $SIM_URL
    credential: acme-admin
    tokens:
      - name: left
        deliver: [ exec: [$TW_TMP/meet.sh, a, b, $TW_TMP/meet] ]
  - name: beta
    api: $SIM_URL
    credential: beta-admin
    tokens:
      - name: right
        deliver: [ exec: [$TW_TMP/meet.sh, b, a, $TW_TMP/meet] ]
YAML
run 0 rotate --config "$TW_TMP/par.yaml"
expect "$out" "rotate: 2 rotated, 0 deleted, 0 failed"
expect "$err" "acme/left: delivered"
expect "$err" "beta/right: delivered"
"$tw_bin" audit log --db "$TW_TMP/par.db" --json >"$TW_TMP/par.log"
jq -se '[.[] | select(.kind == "run.end") | .details.summary.workers] == [2]' "$TW_TMP/par.log" \
	>/dev/null || fail "the run did not record 2 workers: $(grep -o '"workers":[0-9]*' "$TW_TMP/par.log")"
run 0 audit verify --db "$TW_TMP/par.db"
grep -q $'\033' "$err" && fail "terminal escapes in a log that is not a terminal"

echo "== on a terminal: a progress line, kept below the log"
at 2027-02-14T00:00Z
rc=0
python3 - "$tw_bin" "$TW_TMP/par.yaml" >"$TW_TMP/tty.out" <<'PY' || rc=$?
import os, pty, sys
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], [sys.argv[1], "rotate", "--config", sys.argv[2]])
out = b""
while True:
    try:
        chunk = os.read(fd, 4096)
    except OSError:
        break
    if not chunk:
        break
    out += chunk
_, status = os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors="replace"))
sys.exit(os.waitstatus_to_exitcode(status))
PY
[ "$rc" = 0 ] || fail "rotate on a terminal exited $rc: $(cat -v "$TW_TMP/tty.out")"
expect "$TW_TMP/tty.out" 'tokenwarden: working: 1 of 2 planned items done'
expect "$TW_TMP/tty.out" $'\r\033[Ktokenwarden: working: 2 of 2 planned items done'
expect "$TW_TMP/tty.out" $'\r\033[Krotate: 2 rotated'

echo "== token create --slot: joins a slot only in place of none"
held=$(sim_tokens)
run 2 token create -w acme -n manual-etl --expires-in 30d --slot etl --api "$SIM_URL" \
	--credential acme-admin --db "$db" --public-key "$TW_TMP/seal.pub"
expect "$err" "slot 'etl' already has an active token"
[ "$(sim_tokens)" = "$held" ] || fail "a refused create reached the server"
expect "$err" "'tokenwarden rotate --force acme/etl' replaces it"
# The slot is found in the policy, which names its workspace, API and credential.
run 2 token create -n manual-etl --expires-in 30d --slot etl
expect "$err" "slot 'etl' already has an active token"
# A slot the policy lacks is refused, with the nearest one, unless --allow-unknown-slot.
run 2 token create -w acme -n manual-spare --expires-in 30d --slot spare
expect "$err" "--slot 'acme/spare': workspace 'acme' has no slot 'spare'; nothing was created (--allow-unknown-slot takes it anyway)"
run 2 token create -w acme -n manual-etl --expires-in 30d --slot etll
expect "$err" "--slot 'acme/etll': workspace 'acme' has no slot 'etll'; did you mean 'acme/etl'?"
run 2 token create -n manual-etl --expires-in 30d --slot etll
expect "$err" "--slot 'etll': no slot of that name in the policy; did you mean 'etl'?"
run 2 token create -w acme -n manual-etl --expires-in 30d --slot beta/etl
expect "$err" "--slot 'beta/etl' names workspace beta, but -w says acme"
[ "$(sim_tokens)" = "$held" ] || fail "a refused create reached the server"
run 0 token create -w acme -n manual-spare --expires-in 30d --slot spare --allow-unknown-slot \
	--api "$SIM_URL" --credential acme-admin --db "$db" --public-key "$TW_TMP/seal.pub" --json
[ "$(state "$(jq -r .token "$out")")" = active ] || fail "the hand-made token is not the slot's active one"
# With no policy at all, --allow-unknown-slot takes the slot as given.
TOKENWARDEN_CONFIG=$TW_TMP/none.yaml run 2 token create -w acme -n manual-other --expires-in 30d \
	--slot other --api "$SIM_URL" --credential acme-admin --db "$db" --public-key "$TW_TMP/seal.pub"
expect "$err" "--slot 'other': no policy at $TW_TMP/none.yaml to find the slot in"
TOKENWARDEN_CONFIG=$TW_TMP/none.yaml run 0 token create -w acme -n manual-other --expires-in 30d \
	--slot other --allow-unknown-slot --api "$SIM_URL" --credential acme-admin --db "$db" \
	--public-key "$TW_TMP/seal.pub" --json
[ "$(state "$(jq -r .token "$out")")" = active ] || fail "the token of a slot no policy has is not active"

echo "== a replacement that does not verify: deleted, the old token kept"
cur=$(jq -r .token "$TW_TMP/run/etl.json")
sim_ctl POST /_sim/faults '{"reject_bearer_rate": 1}' >/dev/null
run 1 rotate --force etl
sim_ctl POST /_sim/faults '{}' >/dev/null
expect "$out" "rotate: 0 rotated, "
expect "$out" " 1 failed"
expect "$err" "does not verify: "
[ "$(state "$cur")" = active ] || fail "the old token is $(state "$cur") after a failed verify"
[ "$(jq -r .token "$TW_TMP/run/etl.json")" = "$cur" ] || fail "a token that failed verify was delivered"
new=$(sed -n 's/.*acme\/etl: created \([0-9a-f]*\) .*/\1/p' "$err")
[ -n "$new" ] || fail "no replacement was created"
if sim_ctl GET /_sim/tokens | jq -e --arg t "$new" '.tokens | any(.token == $t)' >/dev/null; then
	fail "the unverified replacement $new is still on the server"
fi

echo "== token list: the tokens that may exist on the server, unless --all or --state"
run 0 token list --db "$db" --all --json
cp "$out" "$TW_TMP/all.json"
jq -e --arg t "$third" 'any(.[]; .token == $t and .state == "revoked")' "$TW_TMP/all.json" \
	>/dev/null || fail "token list --all does not list the revoked $third"
jq -e 'any(.[]; .state == "deleted")' "$TW_TMP/all.json" >/dev/null ||
	fail "token list --all lists no deleted token: the test lost its point"
[ "$(jq length "$TW_TMP/all.json")" = "$(python3 -c 'import sqlite3, sys
print(sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM tokens").fetchone()[0])' "$db")" ] ||
	fail "token list --all does not list every row"
run 0 token list --db "$db" --json
jq -e --slurpfile all "$TW_TMP/all.json" \
	'. == [$all[0][] | select(.state != "deleted" and .state != "failed" and .state != "revoked")]' \
	"$out" >/dev/null || fail "token list is not --all less the deleted, failed and revoked rows"
jq -e --arg t "$cur" 'any(.[]; .token == $t and .state == "active")' "$out" >/dev/null ||
	fail "token list does not list the active $cur"
run 0 token list --db "$db" -w acme
grep -qE ' (deleted|failed|revoked) ' "$out" && fail "the table lists a token that no longer exists"
run 0 token list --db "$db" --state revoked --json
jq -e --arg t "$third" 'length >= 2 and all(.[]; .state == "revoked") and any(.[]; .token == $t)' \
	"$out" >/dev/null || fail "token list --state revoked does not list the revoked tokens"

echo "== --max-time: no step starts once the budget is spent"
slow=${TW_SLOW:-1}
"$tw_bin" init --db "$TW_TMP/mt.db" --public-key "$TW_TMP/seal.pub" >/dev/null
cat >"$TW_TMP/mt.yaml" <<YAML
version: 1
store: { path: $TW_TMP/mt.db, public_key: $TW_TMP/seal.pub }
defaults: { lifetime: 30d, rotate_before: 20%, grace: 1d,
            deliver: [ exec: [/bin/sh, -c, "cat >/dev/null; sleep $slow"] ] }
workspaces:
  - name: acme
    api: $SIM_URL
    credential: acme-admin
    tokens: [ { name: one }, { name: two }, { name: three } ]
YAML
run 2 rotate --config "$TW_TMP/mt.yaml" --max-time soon
expect "$err" "--max-time 'soon': expected a duration such as 45m, 12h or 1d12h"
# Each slot's consumer takes a second: the first slot uses the budget up.  Under
# valgrind (./dev test --full, TW_SLOW) the calls are slower, so both are longer.
run 3 rotate --config "$TW_TMP/mt.yaml" --max-time "${slow}s"
expect "$out" "rotate: 1 rotated, 0 deleted, 0 failed, 0 unknown, 2 left"
run 0 rotate --config "$TW_TMP/mt.yaml"
expect "$out" "rotate: 2 rotated, 0 deleted, 0 failed, 0 unknown, 0 left"

echo "== --timeout, --retries and --rate-limit reach every workspace's client"
# api_policy NAME SCHEDULE [RATE]: a policy of one slot over its own store, with no
# clock check (a create is then a run's first request) unless SCHEDULE sets one.
api_policy() {
	[ -f "$TW_TMP/$1.db" ] || "$tw_bin" init --db "$TW_TMP/$1.db" --public-key "$TW_TMP/seal.pub" >/dev/null
	cat >"$TW_TMP/$1.yaml" <<YAML
version: 1
store: { path: $TW_TMP/$1.db, public_key: $TW_TMP/seal.pub }
schedule: { max_clock_skew: $2 }
defaults: { lifetime: 30d, rotate_before: 20%, grace: 1d }
workspaces:
  - name: acme
    api: $SIM_URL
    credential: acme-admin
    rate_limit: ${3:-40/10s}
    tokens: [ { name: one } ]
YAML
}
# --rate-limit replaces the policy's one request an hour: the create and its verify
# go at once.  (SIGKILL: a run waiting for its budget takes SIGTERM after its step.)
api_policy rate off 1/1h
st=0
timeout -s KILL 30 "$tw_bin" rotate --config "$TW_TMP/rate.yaml" --rate-limit 100/1 >"$out" 2>"$err" || st=$?
[ "$st" = 0 ] || fail "rotate --rate-limit 100/1 over a policy of 1/1h: exit $st, expected 0"
expect "$out" "rotate: 1 rotated"
# A run waiting its turn on a rate budget stops within a quarter second of
# SIGTERM, and sends nothing more.  stopped_waiting TEXT ARGS...: starts
# rotate ARGS, signals it once TEXT is in its log and it waits, and checks it
# ends as one stopped with work left.
stopped_waiting() {
	local text=$1 pid t0 ms st=0
	shift
	"$tw_bin" rotate "$@" >"$out" 2>"$err" &
	pid=$!
	for _ in $(seq 200); do
		grep -q "$text" "$err" && break
		sleep 0.05
	done
	sleep 0.3
	t0=$(date +%s%N)
	kill -TERM "$pid" || fail "the run ended before it was signalled: $(cat "$err")"
	timeout 10 tail --pid="$pid" -f /dev/null || kill -KILL "$pid"
	wait "$pid" || st=$?
	ms=$((($(date +%s%N) - t0) / 1000000))
	[ "$ms" -lt 1500 ] || fail "a run waiting for its rate budget took $ms ms to stop after SIGTERM"
	[ "$st" = 3 ] || fail "a run stopped while waiting for its budget exited $st, expected 3: $(cat "$err")"
}
states() {
	"$tw_bin" token list --all --db "$TW_TMP/stop.db" --slot "acme/$1" --json | jq -r '[.[].state] | join(",")'
}
# Slot one's create takes the hour's one request; two's create waits.  Its
# intent is recorded, so its row says the create was never sent (failed),
# never pending, which the next run would take for a token that may exist.
api_policy stop off 1/1h
sed -i -e 's/grace: 1d }/grace: 1d, verify: false }/' -e 's/\[ { name: one } \]/[ { name: one }, { name: two } ]/' \
	"$TW_TMP/stop.yaml"
grep -q 'verify: false' "$TW_TMP/stop.yaml" && grep -q 'name: two' "$TW_TMP/stop.yaml" ||
	fail "stop.yaml not rewritten"
stopped_waiting "acme/one: .* is active" --config "$TW_TMP/stop.yaml"
expect "$out" "rotate: 1 rotated, 0 deleted, 0 failed, 0 unknown, 1 left"
[ "$(states two)" = failed ] || fail "acme/two's create, never sent, is '$(states two)' in the store, expected failed"
run 0 rotate --config "$TW_TMP/stop.yaml" --rate-limit 100/1
expect "$out" "rotate: 1 rotated, 0 deleted, 0 failed, 0 unknown, 0 left"
# With verify: the proof waits.  The new token stays created, no consumer has
# it, and the next run deletes it before it rotates the slot again.
sed -i 's/, verify: false//' "$TW_TMP/stop.yaml"
was=$TOKENWARDEN_NOW
at 2027-03-11T00:00Z # both slots due
stopped_waiting "acme/one: created" --config "$TW_TMP/stop.yaml" --only acme/one
expect "$out" "rotate: 0 rotated, 0 deleted, 0 failed, 0 unknown, 1 left"
[ "$(states one)" = "active,created" ] || fail "acme/one after a stopped proof: '$(states one)', expected active,created"
run 0 rotate --config "$TW_TMP/stop.yaml" --rate-limit 100/1 --only acme/one
expect "$err" "left by an interrupted run"
[ "$(states one)" = "retiring,deleted,active" ] || fail "acme/one after the next run: '$(states one)'"
at "$was"
api_policy api off
run 0 rotate --config "$TW_TMP/api.yaml"
expect "$out" "rotate: 1 rotated"
# --retries: a run with nothing due only reads the clock; one failure, no retry.
api_policy api 5m
sim_ctl POST /_sim/reset >/dev/null
sim_ctl POST /_sim/faults '{"error_rate": 1.0, "count": 1}' >/dev/null
run 0 rotate --config "$TW_TMP/api.yaml" --retries 0
expect "$out" "rotate: 0 rotated"
gets=$(sim_ctl GET /_sim/stats | jq .by_method.GET)
[ "$gets" = 1 ] || fail "rotate --retries 0 sent $gets GETs for a clock read that failed once, expected 1"
# --timeout: a create answered after 5 s is given up after 1 s (its outcome unknown).
api_policy api off
sim_ctl POST /_sim/faults '{"latency_ms": 5000, "count": 1}' >/dev/null
run 1 rotate --config "$TW_TMP/api.yaml" --force one --timeout 1
expect "$err" "outcome unknown"
expect "$err" "timed out"
sim_ctl POST /_sim/faults '{}' >/dev/null
run 2 rotate --config "$TW_TMP/api.yaml" --rate-limit 100
expect "$err" "--rate-limit '100': expected REQUESTS/SECONDS such as 40/10"
run 2 rotate --config "$TW_TMP/api.yaml" --retries many
expect "$err" "--retries 'many': expected a whole number from 0 to 20"

echo "== the command line: --help, a misspelt option, a word too many"
for verb in rotate revoke daemon; do
	run 0 "$verb" --help
	expect "$out" "usage: tokenwarden $verb [options]"
	expect "$out" "--timeout SECONDS"
	expect "$out" "Exit status: "
	run 0 help "$verb"
	expect "$out" "usage: tokenwarden $verb [options]"
done
run 0 rotate --help
expect "$out" "--max-time DURATION"
expect "$out" "SIGTERM or SIGINT stops the run after its current step."
run 0 revoke --help
expect "$out" "-w, --workspace WS"
run 0 daemon --help
expect "$out" "SIGHUP reloads the policy"
run 2 rotate --dry-rn
expect "$err" "rotate: unknown option '--dry-rn'; did you mean '--dry-run'?"
run 2 revoke --ye etl
expect "$err" "revoke: unknown option '--ye'; did you mean '--yes'?"
run 2 daemon --confg "$TW_TMP/policy.yaml"
expect "$err" "daemon: unknown option '--confg'; did you mean '--config'?"
run 2 rotate now
expect "$err" "rotate takes no argument, but was given 'now'"
run 2 revoke --yes
expect "$err" "usage: tokenwarden revoke [options] SLOT|TOKEN"
run 2 revoke --json --yes etl
expect "$err" "revoke does not take --json"

echo "== the lock: a second run stops at once"
exec 9>"$db.lock"
flock -n 9
run 5 rotate
exec 9>&-

echo "== a bad policy changes nothing"
printf 'version: 1\nworkspaces: []\n' >"$TW_TMP/bad.yaml"
run 2 rotate --config "$TW_TMP/bad.yaml"

run 0 audit verify --db "$db"
expect "$out" "history intact"
if [ "$failures" -gt 0 ]; then
	echo "$failures failure(s)" >&2
	exit 1
fi
echo "all rotate checks passed"
