#!/usr/bin/env bash
# End-to-end: the real tokenwarden binary against tests/modesim on loopback.
# Every case checks the exit status, the message, and that nothing crashed.
# usage: test_cli.sh MODESIM TOKENWARDEN
set -euo pipefail
umask 077
modesim=$1
tw_bin=$2
. "$(dirname "$0")/../lib/sim.sh"
. "$(dirname "$0")/../lib/check.sh"

sim_start "$modesim" --workspace acme:adminkey:adminsecret
# Every token the binary creates goes through this store, sealed to this key.
"$tw_bin" keygen --public-key "$TW_TMP/seal.pub" --secret-key "$TW_TMP/seal.key" --no-passphrase >/dev/null
export TOKENWARDEN_DB=$TW_TMP/tw.db TOKENWARDEN_PUBLIC_KEY=$TW_TMP/seal.pub
# No policy, until the section that writes one: these verbs need none.
export TOKENWARDEN_CONFIG=$TW_TMP/policy.yaml
unset CREDENTIALS_DIRECTORY TOKENWARDEN_CREDENTIAL
"$tw_bin" init >/dev/null
cred=$TW_TMP/acme.cred
printf 'adminkey:adminsecret\n' >"$cred"
chmod 600 "$cred"
out=$TW_TMP/out
err=$TW_TMP/err
all=$TW_TMP/everything-printed
# Under valgrind (./dev test --full) each call is many times slower: the lock is held longer.
slow=${TW_SLOW:-1}

# run STATUS ARGS...: as check.sh's, keeping its output in $all.
run() {
	tw_run "$@"
	cat "$out" "$err" >>"$all"
}

# db_state NAME: the inventory state of the token named NAME (one line per row).
db_state() {
	python3 - "$TW_TMP/tw.db" "$1" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
for (state,) in db.execute("SELECT state FROM tokens WHERE name = ? ORDER BY id", (sys.argv[2],)):
    print(state)
PY
}

# expect_state NAME STATE: the last row named NAME is in STATE.
expect_state() {
	local got
	got=$(db_state "$1" | tail -n 1)
	[ "$got" = "$2" ] || fail "token '$1' is '$got' in the inventory, expected '$2'"
}

# expect FILE TEXT: FILE (out or err) contains TEXT.
expect() {
	[ -n "$2" ] || return 0
	grep -qF -- "$2" "$1" || fail "expected '$2' in $(basename "$1")"
}

api=(--api "$SIM_URL" -w acme --credential-file "$cred")

echo "== help and usage"
run 0 --help
expect "$out" "token create"
run 0 --version
expect "$out" "tokenwarden "
# The suite's build obeys TOKENWARDEN_TEST_CRASH and TOKENWARDEN_NOW, and says so
# (unit_nohooks: others do not).
expect "$out" "built with the test hooks (\$TOKENWARDEN_TEST_CRASH, \$TOKENWARDEN_NOW): not for use"
run 0 help token create
expect "$out" "--expires-in"
run 2 frobnicate
expect "$err" "no verb 'frobnicate'"
# A misspelt group gets the nearest verb, with the word after it, or the nearest group.
run 2 tokn list
expect "$err" "no verb 'tokn list'; did you mean 'token list'?"
run 2 audti verify
expect "$err" "no verb 'audti verify'; did you mean 'audit verify'?"
run 2 secrt
expect "$err" "no verb 'secrt'; did you mean 'secret'?"
run 2 rotat etl
expect "$err" "no verb 'rotat'; did you mean 'rotate'?"
# Arguments too few or too many are named, not only met with the usage.
run 2 token delete -w acme one two
expect "$err" "token delete takes at most 1 argument, but was given 2: 'two' is one too many"
run 2 token delete -w acme
expect "$err" "token delete needs TOKEN"
run 2 restore
expect "$err" "restore needs FILE"
# An optional value comes after '=': said when one is given after a space.
run 2 rotate --wait 5m
expect "$err" "rotate takes no argument, but was given '5m'; --wait takes its value after '=': --wait=5m"
run 2 token create "${api[@]}" --name abcd
expect "$err" "usage: tokenwarden token create"
run 2 help nothing
# Each verb's --help comes from its option table: usage, options, globals, notes.
for verb in create verify delete import show; do
	run 0 token "$verb" --help
	expect "$out" "usage: tokenwarden token $verb [options] "
	expect "$out" "Global options:"
	expect "$out" "Exit status: 0 "
	[ ! -s "$err" ] || fail "token $verb --help wrote to stderr"
done
# Every help fits an 80-column terminal: each verb's and group's, and the top one.
mapfile -t verbs < <("$tw_bin" help --scdoc | sed -n 's/^## \([a-z ]*[a-z]\)$/\1/p')
[ "${#verbs[@]}" -gt 15 ] || fail "found only ${#verbs[@]} verbs in the man page"
for v in "" token policy audit secret "${verbs[@]}"; do
	# shellcheck disable=SC2086 # a verb is one or two words
	"$tw_bin" help $v >"$TW_TMP/help" || fail "help $v failed"
	awk -v v="$v" 'length > 79 { printf "help %s: a line of %d columns: %s\n", v, length, $0; bad = 1 }
		END { exit bad }' "$TW_TMP/help" || fail "help $v runs past 79 columns"
done
run 0 token create --help
expect "$out" "      --allow-unknown-slot"
expect "$out" "      --timeout SECONDS"
expect "$out" "TOKENWARDEN_CREDENTIAL"
run 0 token verify --help
expect "$out" "  -f, --token-file FILE"
run 0 token delete --help
expect "$out" "TOKEN is the token's Mode id, or its name"
run 0 token show --help
expect "$out" "      --json"
grep -qF -- "--timeout" "$out" && fail "token show --help lists --timeout, which it does not take"
run 0 token import --help
expect "$out" "      --secret-stdin"
expect "$out" "      --created-at TIME"
# An unknown option is named with the nearest one; a bad enumerated value with the valid ones.
run 2 token create "${api[@]}" --name abcd --expire-in 1d
expect "$err" "tokenwarden: error: token create: unknown option '--expire-in'; did you mean '--expires-in'?"
expect "$err" "usage: tokenwarden token create [options] -w WORKSPACE -n NAME"
run 2 token delete "${api[@]}" --jsn abcd
expect "$err" "did you mean '--json'?"
run 2 token verify --api "$SIM_URL" -w acme --token-fil x
expect "$err" "did you mean '--token-file'?"
run 2 token create "${api[@]}" --name abcd --expires-in 1d --log-format jsn
expect "$err" "--log-format 'jsn': expected one of text, plain, json; did you mean 'json'?"
# Each verb refuses the global options it would ignore.
run 2 token show -w acme abcd --timeout 5
expect "$err" "token show does not take --timeout"
run 2 token import --config x -w acme --token abcd -n abcd --created-at 1d --expires-at 1d
expect "$err" "token import does not take --config"

echo "== create, verify, delete"
run 0 token create "${api[@]}" --name e2e-cli-human --expires-in 30d
expect "$out" "created token "
expect "$out" "\"e2e-cli-human\" in workspace acme; expires"
grep -q access_secret "$out" "$err" && fail "the secret was printed without --show-secret"
human_id=$(awk '{print $3}' "$out")
expect_state e2e-cli-human active
expect "$err" "history head "

run 0 token create "${api[@]}" --name e2e-cli-json --expires-in 1d12h --json
jq -e 'has("access_secret") or has("bearer") | not' "$out" >/dev/null ||
	fail "--json printed the secret without --show-secret"

run 0 token create "${api[@]}" --name e2e-cli-secret --expires-at 2099-01-01T00:00Z --json --show-secret
cp "$out" "$TW_TMP/token.json"
secret=$(jq -r .access_secret "$TW_TMP/token.json")
id=$(jq -r .token "$TW_TMP/token.json")
[ "$(jq -r .expires_at "$TW_TMP/token.json")" = "2099-01-01T00:00:00.000Z" ] || fail "expires_at"
[ ${#secret} -ge 16 ] || fail "no access_secret with --show-secret"
[ "$(printf '%s' "$(jq -r .bearer "$TW_TMP/token.json")" | base64 -d)" = \
	"$id:$(jq -r .access_key "$TW_TMP/token.json"):$secret" ] || fail "bearer is not base64(token:key:secret)"

"$tw_bin" token verify --api "$SIM_URL" -w acme <"$TW_TMP/token.json" >"$out" 2>"$err" || fail "verify from stdin"
expect "$out" "verified token $id in workspace acme: it works"
jq -r '"\(.token):\(.access_key):\(.access_secret)"' "$TW_TMP/token.json" >"$TW_TMP/line"
chmod 600 "$TW_TMP/line"
run 0 token verify --api "$SIM_URL" -w acme --token-file "$TW_TMP/line" --json
[ "$(jq -r .verified "$out")" = true ] || fail "verify --json"
chmod 644 "$TW_TMP/line"
run 2 token verify --api "$SIM_URL" -w acme --token-file "$TW_TMP/line"
expect "$err" "permissions 0644 are too open"
jq '.access_secret = "0000"' "$TW_TMP/token.json" >"$TW_TMP/tampered.json"
st=0
"$tw_bin" token verify --api "$SIM_URL" -w acme <"$TW_TMP/tampered.json" >"$out" 2>"$err" || st=$?
[ "$st" -eq 1 ] || fail "a wrong secret: exit $st, expected 1"
expect "$err" "401 Unauthorized"
expect "$err" "the token was refused"
echo '{"token": 5}' | "$tw_bin" token verify --api "$SIM_URL" -w acme >"$out" 2>"$err" &&
	fail "a malformed token file verified"
expect "$err" "field 'token' is an integer, expected a string"

run 0 token delete "${api[@]}" "$id"
expect "$out" "deleted token $id \"e2e-cli-secret\" in workspace acme"
expect_state e2e-cli-secret deleted
run 1 token delete "${api[@]}" "$id"
expect "$err" "delete token $id in workspace acme: 404"
expect "$err" "already deleted, or a wrong id"
run 1 token verify --api "$SIM_URL" -w acme --token-file "$TW_TMP/token.json"
run 0 token delete "${api[@]}" --json "$human_id"
[ "$(jq -r .token "$out")" = "$human_id" ] || fail "delete --json"

echo "== expiry times"
# --expires-at takes ISO 8601, or a time from now: +30d, or a bare 30d meaning ahead.
# within EXPIRES SECONDS: EXPIRES (ISO 8601) is SECONDS from now, give or take two minutes.
within() {
	python3 -c 'import sys, datetime as d
t = d.datetime.strptime(sys.argv[1], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=d.timezone.utc)
off = (t - d.datetime.now(d.timezone.utc)).total_seconds() - int(sys.argv[2])
sys.exit(0 if abs(off) < 120 else 1)' "$1" "$2"
}
run 0 token create "${api[@]}" --name e2e-expires-plus --expires-at +30d --json
within "$(jq -r .expires_at "$out")" $((30 * 86400)) || fail "--expires-at +30d: $(jq -r .expires_at "$out")"
run 0 token create "${api[@]}" --name e2e-expires-bare --expires-at 2d12h --json
within "$(jq -r .expires_at "$out")" $((60 * 3600)) || fail "--expires-at 2d12h: $(jq -r .expires_at "$out")"
run 2 token create "${api[@]}" --name e2e-expires-past --expires-at -1h
expect "$err" "the expiry must be at least a minute in the future"
run 2 token create "${api[@]}" --name e2e-expires-long --expires-in 99999d
expect "$err" "--expires-in '99999d': longer than a hundred years; give a shorter duration"
# Refused before anything is recorded: no history head to keep.
run 2 token create "${api[@]}" --name ab --expires-in 1d
expect "$err" "name 'ab' has 2 characters; Mode requires 4 to 64"
grep -qF "history head" "$err" && fail "a refused token create noted the history head"
run 2 token create "${api[@]}" --name e2e-expires-bad --expires-at soon
expect "$err" "--expires-at 'soon': expected an ISO 8601 time such as 2026-12-31T23:00Z, 'now', or a duration from now such as 30d (ahead) or -1h"
run 2 token create "${api[@]}" --name e2e-expires-both --expires-in 1d --expires-at 2d
expect "$err" "give one of --expires-in and --expires-at"
[ -z "$(db_state e2e-expires-past)$(db_state e2e-expires-bad)$(db_state e2e-expires-both)" ] ||
	fail "a refused expiry reached the inventory"

echo "== a token is its id or its name"
run 0 token create "${api[@]}" --name e2e-by-name --expires-in 1d --json --show-secret
cp "$out" "$TW_TMP/by-name.json"
by_id=$(jq -r .token "$TW_TMP/by-name.json")
jq -r '"\(.access_key):\(.access_secret)"' "$TW_TMP/by-name.json" >"$TW_TMP/pair"
chmod 600 "$TW_TMP/pair"
# verify: the token named on the command line; the input may then be only KEY:SECRET.
run 0 token verify --api "$SIM_URL" -w acme e2e-by-name --token-file "$TW_TMP/pair"
expect "$out" "verified token $by_id in workspace acme: it works"
run 0 token verify --api "$SIM_URL" -w acme "$by_id" --token-file "$TW_TMP/pair" --json
[ "$(jq -r .token "$out")" = "$by_id" ] || fail "verify by id with KEY:SECRET"
run 0 token verify --api "$SIM_URL" -w acme e2e-by-name --token-file "$TW_TMP/by-name.json"
run 2 token verify --api "$SIM_URL" -w acme --token-file "$TW_TMP/pair"
expect "$err" "expected TOKEN:ACCESS_KEY:ACCESS_SECRET or the JSON"
run 2 token verify --api "$SIM_URL" -w acme e2e-cli-json --token-file "$TW_TMP/by-name.json"
expect "$err" "the credential read is token $by_id's, but 'e2e-cli-json' is token "
run 2 token verify --api "$SIM_URL" -w acme ../etc --token-file "$TW_TMP/pair"
expect "$err" "workspace acme has no token named '../etc' in the inventory, and '../etc' is not a signature token id"
# Two tokens made by hand under one name: refused, naming both; nothing deleted.
run 0 token create "${api[@]}" --name e2e-twice --expires-in 1d --json
twice1=$(jq -r .token "$out")
run 0 token create "${api[@]}" --name e2e-twice --expires-in 1d --json
twice2=$(jq -r .token "$out")
before=$(sim_ctl GET /_sim/tokens | jq '.tokens | length')
run 2 token delete "${api[@]}" e2e-twice
expect "$err" "workspace acme has 2 tokens named 'e2e-twice': $twice1 (active), $twice2 (active); give the id of one"
run 2 token verify --api "$SIM_URL" -w acme e2e-twice --token-file "$TW_TMP/pair"
expect "$err" "workspace acme has 2 tokens named 'e2e-twice'"
[ "$(sim_ctl GET /_sim/tokens | jq '.tokens | length')" = "$before" ] || fail "an ambiguous name deleted a token"
run 0 token delete "${api[@]}" "$twice1"
# delete: by name.
run 0 token delete "${api[@]}" e2e-by-name
expect "$out" "deleted token $by_id \"e2e-by-name\" in workspace acme"
expect_state e2e-by-name deleted
sim_ctl GET /_sim/tokens | jq -e --arg t "$by_id" '[.tokens[].token] | index($t) | not' >/dev/null ||
	fail "delete by name left the token on the server"
# Now only one token is named e2e-twice that is not deleted, but both rows keep the name.
run 2 token delete "${api[@]}" e2e-twice
expect "$err" "$twice1 (deleted), $twice2 (active)"
run 0 token delete "${api[@]}" "$twice2"

echo "== credentials"
chmod 644 "$cred"
run 2 token create "${api[@]}" --name e2e-open-cred --expires-in 1d
expect "$err" "permissions 0644 are too open"
expect "$err" "chmod 600"
chmod 600 "$cred"
TOKENWARDEN_CREDENTIAL=adminkey:adminsecret run 0 token create --api "$SIM_URL" -w acme \
	--name e2e-env-cred --expires-in 1d
mkdir -p "$TW_TMP/creds" && cp "$cred" "$TW_TMP/creds/acme-admin"
CREDENTIALS_DIRECTORY=$TW_TMP/creds run 0 token create --api "$SIM_URL" -w acme \
	--credential acme-admin --name e2e-credentials-dir --expires-in 1d
run 2 token create --api "$SIM_URL" -w acme --name e2e-no-cred --expires-in 1d
expect "$err" "no Mode API credential"
printf 'adminkey:wrong\n' >"$TW_TMP/wrong.cred" && chmod 600 "$TW_TMP/wrong.cred"
run 1 token create --api "$SIM_URL" -w acme --credential-file "$TW_TMP/wrong.cred" \
	--name e2e-wrong --expires-in 1d
expect "$err" "the API key or secret is wrong, or its owner left the workspace"
expect_state e2e-wrong failed
run 1 token create --api "$SIM_URL" -w nosuch --credential-file "$cred" --name e2e-nows --expires-in 1d
expect "$err" "404"

echo "== bad input changes nothing"
before=$(sim_ctl GET /_sim/tokens | jq '.tokens | length')
run 2 token create --api http://example.com -w acme --credential-file "$cred" --name abcd --expires-in 1d
expect "$err" "plain http is refused"
run 2 token create "${api[@]}" --name abc --expires-in 1d
expect "$err" "has 3 characters; Mode requires 4 to 64"
run 2 token create "${api[@]}" --name abcd --expires-in 30x
expect "$err" "--expires-in '30x'"
run 2 token create "${api[@]}" --name abcd --expires-at 2001-01-01T00:00Z
expect "$err" "in the future"
run 2 token create "${api[@]}" --name abcd --expires-in 1d --expires-at 2099-01-01T00:00Z
run 2 token create --api "$SIM_URL" -w Acme --credential-file "$cred" --name abcd --expires-in 1d
expect "$err" "all lower case"
run 2 token create "${api[@]}" --name abcd --expires-in 1d --rate-limit 40
run 2 token delete "${api[@]}" "../etc"
expect "$err" "workspace acme has no token named '../etc' in the inventory, and '../etc' is not a signature token id"
run 2 token delete "${api[@]}" $'tok\e[31m'
expect "$err" "token name has a control character, a bidirectional one (which reorders the text after it) or is not UTF-8"
[ "$(sim_ctl GET /_sim/tokens | jq '.tokens | length')" = "$before" ] || fail "bad input changed the server"

echo "== faults"
# fault JSON, expected status, expected text
fault_case() {
	sim_ctl POST /_sim/faults "$1" >/dev/null
	shift
	local want=$1 text=$2
	shift 2
	run "$want" "$@"
	expect "$err" "$text"
	sim_ctl POST /_sim/faults '{}' >/dev/null
}
create=(token create "${api[@]}" --timeout 1 --retries 1 --expires-in 1d)
fault_case '{"lost_post_rate": 1}' 6 "outcome unknown" "${create[@]}" --name e2e-fault-lost
expect "$err" "a token named 'e2e-fault-lost' may now exist in workspace acme"
expect_state e2e-fault-lost unknown
sim_ctl GET /_sim/tokens | jq -e '[.tokens[].name] | index("e2e-fault-lost")' >/dev/null ||
	fail "the lost POST did not create the token server-side"
fault_case '{"error_rate": 1}' 6 "the server answered 50" "${create[@]}" --name e2e-fault-5xx
expect_state e2e-fault-5xx unknown
fault_case '{"drop_rate": 1}' 6 "outcome unknown" "${create[@]}" --name e2e-fault-drop
fault_case '{"malformed_rate": 1}' 6 "not JSON" "${create[@]}" --name e2e-fault-malformed
fault_case '{"truncated_rate": 1}' 6 "outcome unknown" "${create[@]}" --name e2e-fault-trunc
fault_case '{"latency_ms": 2500}' 6 "outcome unknown" "${create[@]}" --name e2e-fault-slow
fault_case '{"burst_429": 2, "retry_after": 1}' 0 "" "${create[@]}" --name e2e-fault-429
run 0 token create "${api[@]}" --name e2e-fault-target --expires-in 1d --json --show-secret
cp "$out" "$TW_TMP/target.json"
target=$(jq -r .token "$TW_TMP/target.json")
delete=(token delete "${api[@]}" --timeout 1 --retries 1 "$target")
fault_case '{"error_rate": 1}' 7 "(2 attempts); try again later" "${delete[@]}"
fault_case '{"drop_rate": 1}' 7 "(2 attempts)" "${delete[@]}"
verify=(token verify --api "$SIM_URL" -w acme --timeout 1 --retries 1 --token-file "$TW_TMP/target.json")
fault_case '{"error_rate": 1}' 7 "try again later" "${verify[@]}"
fault_case '{"drop_rate": 1}' 7 "(2 attempts)" "${verify[@]}"
fault_case '{"malformed_rate": 1}' 1 "not JSON" "${verify[@]}"
run 0 "${verify[@]}"
# A slow server: every attempt times out, yet the server went on and deleted it.
fault_case '{"latency_ms": 2500}' 7 "timed out" "${delete[@]}"
sleep 3
sim_ctl GET /_sim/tokens | jq -e --arg t "$target" '[.tokens[].token] | index($t) | not' >/dev/null ||
	fail "the slow delete did not happen server-side"
run 1 "${delete[@]}"
expect "$err" "404"
run 7 token create --api http://127.0.0.1:9 -w acme --credential-file "$cred" --retries 1 \
	--name e2e-refused --expires-in 1d
expect "$err" "check --api and the network"

echo "== the store: crashes, the lock"
# Killed between the POST and the commit: the token exists, the row says so.
st=0
TOKENWARDEN_TEST_CRASH=after-post "$tw_bin" token create "${api[@]}" --name e2e-crash-after-post \
	--expires-in 2d >"$out" 2>"$err" || st=$?
[ "$st" -eq 137 ] || fail "the crash hook did not kill the binary (exit $st)"
expect_state e2e-crash-after-post pending
# The next command that can take the lock, even a read, shows it as unknown, name and expiry kept.
run 0 token list --state unknown --json
jq -e '[.[] | select(.name == "e2e-crash-after-post" and .expires_at != null)] | length == 1' \
	"$out" >/dev/null || fail "token list does not show the crashed create as unknown"
expect "$err" "1 create(s) were interrupted"
expect_state e2e-crash-after-post unknown
# With nothing left to settle, a listing or a show takes no lock, so a run starting then never
# finds one in its way: the lock file is not written (the label a holder writes and clears).
touch -d 2020-01-02T03:04:05Z "$TOKENWARDEN_DB.lock"
run 0 token list --json
run 0 token show -w acme e2e-crash-after-post --json
[ "$(stat -c %Y "$TOKENWARDEN_DB.lock")" = "$(date -d 2020-01-02T03:04:05Z +%s)" ] ||
	fail "token list or show took the run lock with nothing to settle"
# Its name finds it, but it has no id to delete by.
run 1 token delete "${api[@]}" e2e-crash-after-post
expect "$err" "token 'e2e-crash-after-post' of workspace acme has no Mode id (it is unknown)"
sim_ctl GET /_sim/tokens | jq -e '[.tokens[].name] | index("e2e-crash-after-post")' >/dev/null ||
	fail "the crashed create did not reach the server"
# A create also settles what a killed create left behind.
TOKENWARDEN_TEST_CRASH=before-post "$tw_bin" token create "${api[@]}" --name e2e-crash-before-post \
	--expires-in 2d >"$out" 2>"$err" || true
expect_state e2e-crash-before-post pending
run 0 token create "${api[@]}" --name e2e-after-crash --expires-in 1d
expect "$err" "1 earlier create(s) were interrupted"
expect_state e2e-crash-before-post unknown
python3 - "$TOKENWARDEN_DB" <<'PY' || fail "the crashed create's row lost its name or expiry"
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
(n,) = db.execute("SELECT count(*) FROM tokens WHERE name = 'e2e-crash-after-post' "
                  "AND state = 'unknown' AND expires_at > 0").fetchone()
assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
sys.exit(0 if n == 1 else 1)
PY
# The hook does nothing unless set.
run 0 token create "${api[@]}" --name e2e-no-crash --expires-in 1d
expect_state e2e-no-crash active
# Another process holds the lock: exit 5, nothing sent.
before=$(sim_ctl GET /_sim/stats | jq .requests)
flock "$TOKENWARDEN_DB.lock" sleep $((3 * slow)) &
holder=$!
sleep 0.5
run 5 token create "${api[@]}" --name e2e-locked --expires-in 1d
expect "$err" "held by another process"
wait "$holder"
[ "$(sim_ctl GET /_sim/stats | jq .requests)" = "$before" ] || fail "a locked create sent a request"
[ -z "$(db_state e2e-locked)" ] || fail "a locked create changed the inventory"
# --wait: a bounded wait gives up, still exit 5; an unbounded one goes on once it is free.
flock "$TOKENWARDEN_DB.lock" sleep $((3 * slow)) &
holder=$!
sleep 0.5
t0=$(date +%s%N)
run 5 token create "${api[@]}" --name e2e-waited --expires-in 1d --wait=1s
[ $((($(date +%s%N) - t0) / 1000000)) -ge 900 ] || fail "--wait=1s did not wait"
expect "$err" "held by another process; try again when it has finished"
run 0 token create "${api[@]}" --name e2e-waited --expires-in 1d --wait
wait "$holder"
expect_state e2e-waited active
# A killed holder left its label, and a look at the lock (as `status` takes it: for a
# moment, unlabelled) is under way: the create waits the look out instead of naming no
# one and giving up.
true &
dead=$!
wait "$dead"
printf '%s\trotate\troot@host\t2026-12-02T02:00Z\n' "$dead" >"$TOKENWARDEN_DB.lock"
flock "$TOKENWARDEN_DB.lock" sleep 0.4 &
holder=$!
until ! flock -n "$TOKENWARDEN_DB.lock" true; do sleep 0.02; done
run 0 token create "${api[@]}" --name e2e-stale-label --expires-in 1d
wait "$holder"
expect_state e2e-stale-label active
run 2 token create "${api[@]}" --name e2e-waited2 --expires-in 1d --wait=soon
expect "$err" "--wait 'soon': expected a duration such as 5m, or nothing"
# The store refuses a public key other than the pinned one.
"$tw_bin" keygen --public-key "$TW_TMP/other.pub" --secret-key "$TW_TMP/other.key" --no-passphrase >/dev/null
run 2 token create "${api[@]}" --public-key "$TW_TMP/other.pub" --name e2e-other-key --expires-in 1d
expect "$err" "pinned to sealing key"

echo "== the policy fills in what the command line leaves out"
# -w's workspace gives the API root and credential, the policy's store the database and key.
mkdir -p "$TW_TMP/creds" && cp "$cred" "$TW_TMP/creds/acme-admin"
cat >"$TW_TMP/policy.yaml" <<YAML
version: 1
store: { path: $TW_TMP/tw.db, public_key: $TW_TMP/seal.pub }
workspaces:
  - name: acme
    api: $SIM_URL
    credential: acme-admin
    tokens:
      - name: etl
YAML
unset TOKENWARDEN_DB TOKENWARDEN_PUBLIC_KEY
export CREDENTIALS_DIRECTORY=$TW_TMP/creds
run 0 token create -w acme -n e2e-policy-only --expires-in 1d --json --show-secret
cp "$out" "$TW_TMP/policy-only.json"
expect_state e2e-policy-only active
jq -r '"\(.access_key):\(.access_secret)"' "$TW_TMP/policy-only.json" >"$TW_TMP/pair"
run 0 token verify -w acme e2e-policy-only --token-file "$TW_TMP/pair"
expect "$out" "verified token $(jq -r .token "$TW_TMP/policy-only.json") in workspace acme: it works"
run 0 token delete -w acme e2e-policy-only
expect_state e2e-policy-only deleted
# A workspace given in capitals is named as the mistake, not as a missing credential.
for verb in "create -n e2e-capitals --expires-in 1d" "delete e2e-policy-only"; do
	# shellcheck disable=SC2086 # a verb and its arguments
	run 2 token $verb -w ACME
	expect "$err" "workspace 'ACME' is not a workspace username: use its username, all lower case"
done
# The slot, found in the policy, names the workspace: no -w.
run 0 token create -n e2e-policy-slot --slot etl --expires-in 1d --json
[ "$(jq -r .workspace "$out")" = acme ] || fail "--slot etl did not take its workspace from the policy"
run 0 token list --db "$TW_TMP/tw.db" --slot acme/etl --state active --json
[ "$(jq -r '.[0].name' "$out")" = e2e-policy-slot ] || fail "--slot etl is not acme/etl's active token"
# What the command line gives wins.
run 7 token create -w acme -n e2e-policy-api --expires-in 1d --api http://127.0.0.1:9 --retries 0
expect "$err" "check --api and the network"
run 1 token create -w acme -n e2e-policy-cred --expires-in 1d --credential-file "$TW_TMP/wrong.cred"
expect "$err" "the API key or secret is wrong"
run 2 token create -w acme -n e2e-policy-db --expires-in 1d --db "$TW_TMP/none.db"
expect "$err" "$TW_TMP/none.db: No such file or directory"
# Only the named workspace's: another gets no credential from the policy.
run 2 token create -w beta -n e2e-policy-beta --expires-in 1d
expect "$err" "no Mode API credential"
# --config names a policy that must be there; a broken one is refused.
run 2 token create --config "$TW_TMP/nosuch.yaml" -w acme -n e2e-policy-none --expires-in 1d
printf 'version: 1\nworkspaces: 5\n' >"$TW_TMP/broken.yaml"
run 2 token delete --config "$TW_TMP/broken.yaml" -w acme e2e-policy-slot
expect "$err" "the policy has"
export TOKENWARDEN_DB=$TW_TMP/tw.db TOKENWARDEN_PUBLIC_KEY=$TW_TMP/seal.pub
unset CREDENTIALS_DIRECTORY

echo "== output that cannot be written fails the command"
# Standard output on /dev/full, where every write fails with ENOSPC: a full disk
# under `tokenwarden plan --json >plan.json`.  Each verb that prints must say so
# on stderr and exit 1 (or the failure it had anyway), never 0, 3 or 4, which
# tell a script that its output is there.
[ -w /dev/full ] || fail "/dev/full is missing: the full-disk cases cannot run"
full() {
	local got=0
	"$tw_bin" "$@" >/dev/full 2>"$err" </dev/null || got=$?
	: >"$out"
	cat "$err" >>"$all"
	if [ "$got" -ge 128 ]; then
		fail "tokenwarden $* >/dev/full died with signal $((got - 128))"
	elif [ "$got" -eq 0 ] || [ "$got" -eq 3 ] || [ "$got" -eq 4 ]; then
		fail "tokenwarden $* >/dev/full: exit $got, as if its output were written"
	fi
	grep -qF "standard output" "$err" || fail "tokenwarden $* >/dev/full: no word of standard output"
}
full plan
full plan --json
full status
full status --json
full metrics
full audit report
full audit report --format json
full audit log
full audit log --json
full audit verify
full token list
full token show -w acme e2e-policy-slot
full token show -w acme e2e-policy-slot --json
full policy check
full policy show
full doctor
full completion bash
full --version
full --help
full help plan
full secret reveal -w acme e2e-policy-slot --secret-key "$TW_TMP/seal.key" --reason "full disk"
# A token made whose answer cannot be printed: the command fails, and says
# where the token is, so that nobody makes another.
for show in "" --show-secret; do
	full token create "${api[@]}" -n "e2e-full$show" --expires-in 1d ${show:+"$show"}
	expect "$err" "was created in workspace acme all the same"
	expect_state "e2e-full$show" active
done

echo "== standard descriptors closed"
# A parent (a cron line's >&- 2>&-) may start it with 0, 1 and 2 closed: a file
# opened later must not take their numbers and receive what is printed.  They
# read as /dev/null: each verb exits as it would with its output there.
closed() {
	local want=0 got=0
	"$tw_bin" "$@" </dev/null >/dev/null 2>&1 || want=$?
	[ "$want" -eq 0 ] || [ "$want" -eq 3 ] || fail "tokenwarden $* >/dev/null: exit $want"
	sh -c 'exec "$@" <&- >&- 2>&-' sh "$tw_bin" "$@" || got=$?
	[ "$got" -eq "$want" ] ||
		fail "tokenwarden $* with 0, 1 and 2 closed: exit $got, $want with them on /dev/null"
}
sh -c 'exec "$@" <&- >&- 2>&-' sh "$tw_bin" keygen --public-key "$TW_TMP/closed.pub" \
	--secret-key "$TW_TMP/closed.key" --no-passphrase || fail "keygen with 0, 1 and 2 closed failed"
head -n 1 "$TW_TMP/closed.key" | grep -qx "tokenwarden-seal-secret v1" ||
	fail "keygen with 0, 1 and 2 closed: the secret key file does not begin as one"
[ "$(wc -l <"$TW_TMP/closed.pub")" -eq 2 ] ||
	fail "keygen with 0, 1 and 2 closed: the public key file is not two lines"
closed plan --json
closed token list
closed --version

echo "== secrets never printed"
# The admin secret never appears; the token secret only where --show-secret asked for it.
grep -q adminsecret "$all" && fail "the admin secret was printed"
grep -c "$(jq -r .access_secret "$TW_TMP/target.json")" "$all" | grep -qx 1 ||
	fail "a token secret was printed where it was not asked for"
grep -q adminsecret "$SIM_LOG" 2>/dev/null && fail "the admin secret reached the simulator log"
# The store holds secrets sealed: no plaintext in the database or its WAL.
for f in "$TOKENWARDEN_DB" "$TOKENWARDEN_DB-wal"; do
	[ -e "$f" ] || continue
	grep -aqF "$(jq -r .access_secret "$TW_TMP/target.json")" "$f" && fail "a token secret is in $f"
	grep -aqF "$(jq -r .access_secret "$TW_TMP/token.json")" "$f" && fail "a token secret is in $f"
	grep -aqF adminsecret "$f" && fail "the admin secret is in $f"
done

if [ "$failures" -ne 0 ]; then
	echo "$failures check(s) failed" >&2
	exit 1
fi
echo "all CLI checks passed"
