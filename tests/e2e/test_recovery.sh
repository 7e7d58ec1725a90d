#!/usr/bin/env bash
# End-to-end: one run recovers everything (issue 10, part 1).
#  - A host off for longer than enforce.expired.delete_after comes back: one
#    run gives every slot a working, delivered, active token, deletes the
#    expired ones, and records the run's end.
#  - A consumer is never left with a dead token: when one consumer refuses a
#    replacement that another took, the replacement is kept (retiring) until
#    the slot's next rotation reaches them all, in either order of consumers.
#    When that kept token dies first (revoked, deleted by hand, or expired
#    under a lifetime shortened since), the next run rotates the slot at
#    once, due or not.
#  - A slot whose token would lapse before the next run is tried again
#    within the run, with a fresh name; one with slack waits for the next run.
#  - The server's clock decides: a host clock out of schedule.max_clock_skew
#    (either way), or a server answer without a usable Date, leaves the
#    workspace untouched, said and failed (exit 1); within the bound, or
#    with max_clock_skew: off, the run goes on.
#  - A slot name two workspaces share: a bare name is refused before any
#    request, naming both workspaces; WORKSPACE/SLOT is taken by --force and
#    --only, and forcing one workspace's slot leaves the other's alone.
# usage: test_recovery.sh MODESIM TOKENWARDEN
set -euo pipefail
umask 077
modesim=$1
tw_bin=$2
. "$(dirname "$0")/../lib/sim.sh"
. "$(dirname "$0")/../lib/check.sh"

unset TOKENWARDEN_DB TOKENWARDEN_PUBLIC_KEY TOKENWARDEN_CONFIG TOKENWARDEN_CREDENTIAL
out=$TW_TMP/out
err=$TW_TMP/err

refute() {
	if grep -qF -- "$2" "$1"; then fail "did not expect '$2' in $(basename "$1")"; fi
}

# active WS SLOT: the token id the store has active for WS/SLOT ("" if none).
active() {
	"$tw_bin" token list --db "$db" --json |
		jq -r --arg w "$1" --arg s "$2" \
			'[.[] | select(.workspace == $w and .slot == $s and .state == "active")] |
			 if length == 1 then .[0].token else "count=\(length)" end'
}

# healthy WS SLOT: the slot's one active token is live on the server and held by its consumer.
healthy() {
	local t held
	t=$(active "$1" "$2")
	case $t in count=* | "")
		fail "$1/$2: $t active tokens"
		return
		;;
	esac
	sim_ctl GET /_sim/tokens | jq -e --arg w "$1" --arg t "$t" \
		'.tokens | any(.workspace == $w and .token == $t and (.expired | not))' >/dev/null ||
		fail "$1/$2: active token $t is not live on the server"
	held=$(jq -r .token "$TW_TMP/run/$1-$2.json" 2>/dev/null || echo none)
	[ "$held" = "$t" ] || fail "$1/$2: the consumer holds $held, the store has $t active"
}

runs_ended() {
	"$tw_bin" audit log --db "$db" --kind run.end --json | jq -s length
}

sim_start "$modesim" --workspace acme:adminkey:adminsecret --workspace beta:betakey:betasecret \
	--now 2027-01-01T02:00Z
db=$TW_TMP/tw.db
"$tw_bin" keygen --public-key "$TW_TMP/seal.pub" --secret-key "$TW_TMP/seal.key" --no-passphrase >/dev/null
"$tw_bin" init --db "$db" --public-key "$TW_TMP/seal.pub" >/dev/null
mkdir -p "$TW_TMP/creds" "$TW_TMP/run"
printf 'adminkey:adminsecret\n' >"$TW_TMP/creds/acme-admin"
printf 'betakey:betasecret\n' >"$TW_TMP/creds/beta-admin"
export CREDENTIALS_DIRECTORY=$TW_TMP/creds

cat >"$TW_TMP/policy.yaml" <<YAML
version: 1
store: { path: $db, public_key: $TW_TMP/seal.pub }
defaults:
  lifetime: 10d
  rotate_before: 30%
  grace: 1d
  deliver: [ { file: "$TW_TMP/run/{workspace}-{slot}.json" } ]
enforce: { expired: { delete_after: 2d } }
workspaces:
  - name: acme
    api: $SIM_URL
    credential: acme-admin
    tokens: [ { name: etl }, { name: bi } ]
  - name: beta
    api: $SIM_URL
    credential: beta-admin
    tokens: [ { name: etl } ]
YAML
export TOKENWARDEN_CONFIG=$TW_TMP/policy.yaml

echo "== first run: every slot gets its token"
at 2027-01-01T02:00Z
run 0 rotate
expect "$out" "3 rotated"
for s in acme/etl acme/bi beta/etl; do healthy "${s%/*}" "${s#*/}"; done

echo "== a replacement, then the host is off for three weeks (past expiry + delete_after)"
at 2027-01-09T02:00Z
run 0 rotate
expect "$out" "3 rotated"
at 2027-01-30T02:00Z
ended=$(runs_ended)
run 0 rotate
expect "$out" "3 rotated"
refute "$err" "error:"
[ "$(runs_ended)" = $((ended + 1)) ] || fail "the recovery run recorded no run.end"
for s in acme/etl acme/bi beta/etl; do healthy "${s%/*}" "${s#*/}"; done
n=$("$tw_bin" token list --db "$db" --json | jq '[.[] | select(.state == "active" or .state == "retiring" or .state == "expired")] | length')
[ "$n" = 3 ] || fail "$n live rows after recovery, expected the 3 new active tokens"
live=$(sim_ctl GET /_sim/tokens | jq '.tokens | length')
[ "$live" = 3 ] || fail "$live tokens on the server after recovery, expected 3"

echo "== a bare slot name in two workspaces is refused before any request"
before=$(sim_ctl GET /_sim/stats | jq .requests)
for verb in "rotate --force etl" "rotate --only etl" "rotate --dry-run --force etl"; do
	# shellcheck disable=SC2086
	run 2 $verb
	expect "$err" "acme/etl, beta/etl"
done
run 2 revoke --yes etl
expect "$err" "acme/etl, beta/etl"
[ "$(sim_ctl GET /_sim/stats | jq .requests)" = "$before" ] || fail "a refused command sent requests"

echo "== WORKSPACE/SLOT picks one"
old_acme=$(active acme etl)
old_beta=$(active beta etl)
run 0 rotate --force beta/etl
expect "$out" "1 rotated"
refute "$err" "error:"
[ "$(active acme etl)" = "$old_acme" ] || fail "--force beta/etl rotated acme/etl"
[ "$(active beta etl)" != "$old_beta" ] || fail "--force beta/etl did not rotate beta/etl"
healthy beta etl
run 0 rotate --force bi
expect "$out" "1 rotated"
healthy acme bi
# Forced again within the same minute: the new token gets a name of its own.
run 0 rotate --force bi
healthy acme bi
dups=$("$tw_bin" token list --db "$db" --json | jq '[group_by(.workspace + "/" + .name)[] | select(length > 1)] | length')
[ "$dups" = 0 ] || fail "$dups Mode-side names used twice in a workspace"
run 0 rotate --dry-run --force acme/etl
expect "$err" "acme/etl: would create"
expect "$err" "acme/etl: would activate: make the new token active; $old_acme retires"
[ "$(active acme etl)" = "$old_acme" ] || fail "a dry run rotated acme/etl"

# token list takes WORKSPACE/SLOT too; a bare name lists the slot in every workspace.
n=$("$tw_bin" token list --db "$db" --slot beta/etl --state active --json | jq length)
[ "$n" = 1 ] || fail "token list --slot beta/etl listed $n active tokens, expected 1"
n=$("$tw_bin" token list --db "$db" --slot etl --state active --json | jq length)
[ "$n" = 2 ] || fail "token list --slot etl listed $n active tokens, expected 2"
run 2 token list --db "$db" --slot beta/etl -w acme
expect "$err" "names workspace beta, but -w says acme"
# So does audit log; a workspace that is no username is refused, not matched by nothing.
n=$("$tw_bin" audit log --db "$db" --slot beta/etl --json | jq -s '[.[] | select(.workspace != "beta")] | length')
[ "$n" = 0 ] || fail "audit log --slot beta/etl printed $n events of another workspace"
n=$("$tw_bin" audit log --db "$db" --slot beta/etl --json | jq -s length)
[ "$n" -gt 0 ] || fail "audit log --slot beta/etl printed nothing"
run 2 audit log --db "$db" -w ACME
expect "$err" "is not a workspace username"

echo "== one consumer of two refuses: nobody is left holding a dead token"
# holds FILE: fails unless the token in FILE is live on the server and not deleted in the store.
holds() {
	local t st
	t=$(jq -r .token "$1")
	sim_ctl GET /_sim/tokens | jq -e --arg t "$t" '.tokens | any(.token == $t and (.expired | not))' \
		>/dev/null || fail "$(basename "$1") holds $t, which is not live on the server"
	st=$("$tw_bin" token list --db "$db" --json | jq -r --arg t "$t" '.[] | select(.token == $t) | .state')
	case $st in active | retiring) ;; *) fail "$(basename "$1") holds $t, which the store has as $st" ;; esac
}
hook="test -f $TW_TMP/refuse && exit 3; cat > $TW_TMP/run/{slot}-hook.json"
cat >"$TW_TMP/partial.yaml" <<YAML
version: 1
store: { path: $db, public_key: $TW_TMP/seal.pub }
defaults: { lifetime: 10d, rotate_before: 30%, grace: 1d }
workspaces:
  - name: acme
    api: $SIM_URL
    credential: acme-admin
    tokens:
      - name: file-first
        deliver: [ { file: "$TW_TMP/run/{slot}.json" }, { exec: [/bin/sh, -c, "$hook"] } ]
      - name: exec-first
        deliver: [ { exec: [/bin/sh, -c, "$hook"] }, { file: "$TW_TMP/run/{slot}.json" } ]
YAML
export TOKENWARDEN_CONFIG=$TW_TMP/partial.yaml
run 0 rotate --only file-first
run 0 rotate --only exec-first
touch "$TW_TMP/refuse"
for s in file-first exec-first; do
	run 1 rotate --force "acme/$s"
	for f in "$TW_TMP/run/$s.json" "$TW_TMP/run/$s-hook.json"; do holds "$f"; done
done
expect "$err" "could not be delivered to consumer 1 of 2"
partial=$(jq -r .token "$TW_TMP/run/file-first.json")
[ "$partial" != "$(jq -r .token "$TW_TMP/run/file-first-hook.json")" ] ||
	fail "the file consumer did not take the replacement before the hook refused it"
rm "$TW_TMP/refuse"
run 0 rotate --force acme/file-first
for f in "$TW_TMP/run/file-first.json" "$TW_TMP/run/file-first-hook.json"; do holds "$f"; done
ra=$("$tw_bin" token list --db "$db" --json | jq -r --arg t "$partial" '.[] | select(.token == $t) | .retire_after')
# (To the minute: the test clock runs on from 02:00 through the run.)
[ "${ra%:*}" = 2027-01-31T02:00 ] ||
	fail "the kept replacement retires at $ra, not after the next rotation's grace"
at 2027-02-01T02:00Z
run 0 rotate
for s in file-first exec-first; do
	for f in "$TW_TMP/run/$s.json" "$TW_TMP/run/$s-hook.json"; do holds "$f"; done
done
if sim_ctl GET /_sim/tokens | jq -e --arg t "$partial" '.tokens | any(.token == $t)' >/dev/null; then
	fail "the kept replacement $partial outlived the grace after the next rotation"
fi

echo "== a token consumers hold, revoked or deleted by hand: the next run replaces it"
# The slot's active token is older and still works, so the slot is not due;
# but a consumer holds the dead one, and only a rotation can reach it.
touch "$TW_TMP/refuse"
run 1 rotate --force acme/file-first
rm "$TW_TMP/refuse"
partial=$(jq -r .token "$TW_TMP/run/file-first.json")
run 0 revoke -w acme --yes "$partial"
st=0
TOKENWARDEN_TEST_CRASH=after-deliver "$tw_bin" rotate --force acme/exec-first >/dev/null 2>&1 ||
	st=$?
[ "$st" -eq 137 ] || fail "after-deliver --force exec-first: the run was not killed (exit $st)"
kept=$(jq -r .token "$TW_TMP/run/exec-first.json")
run 0 token delete -w acme "$kept"
# Past the failed slot's backoff, and days before either slot is due.
at 2027-02-01T02:30Z
run 3 plan # 3: file-first failed in its last run
expect "$out" "its consumers may hold $partial, revoked at 2027-02-01T02:"
expect "$out" "its consumers may hold $kept, deleted at 2027-02-01T02:"
run 0 rotate
expect "$out" "2 rotated"
for s in file-first exec-first; do
	for f in "$TW_TMP/run/$s.json" "$TW_TMP/run/$s-hook.json"; do holds "$f"; done
done
run 0 plan
refute "$out" "its consumers may hold"
export TOKENWARDEN_CONFIG=$TW_TMP/policy.yaml

echo "== a transient fault: a slot without slack is tried again within the run"
cat >"$TW_TMP/retry.yaml" <<YAML
version: 1
store: { path: $db, public_key: $TW_TMP/seal.pub }
schedule: { interval: 1d, retries: 2, retry_backoff: 1s, max_clock_skew: off } # faults hit the first requests
defaults: { grace: 1h, deliver: [ { file: "$TW_TMP/run/{slot}.json" } ] }
workspaces:
  - name: beta
    api: $SIM_URL
    credential: beta-admin
    tokens:
      - { name: short, lifetime: 3d, rotate_before: 40% }
      - { name: roomy, lifetime: 30d, rotate_before: 10d }
YAML
export TOKENWARDEN_CONFIG=$TW_TMP/retry.yaml
run 0 rotate --only beta/short
run 0 rotate --only beta/roomy
at 2027-02-03T06:00Z # short's token has 20 hours left: it lapses before the next run
# Rotates beta/short under the faults $1, expecting $2 on stderr: the slot
# ends with a new active token, and its consumer holds it.
rotates_through() {
	local before after
	before=$(active beta short)
	sim_ctl POST /_sim/faults "$1" >/dev/null
	run 1 rotate --only beta/short
	expect "$err" "$2"
	expect "$out" "1 rotated"
	after=$(active beta short)
	[ "$after" != "$before" ] || fail "beta/short was not rotated through $1"
	[ "$(jq -r .token "$TW_TMP/run/short.json")" = "$after" ] ||
		fail "beta/short's new token was not delivered after $1"
}
rotates_through '{"error_rate": 1, "count": 1}' \
	"beta/short: its token lapses before the next run: trying again in"
names=$("$tw_bin" token list --db "$db" --json | jq -r '[.[] | select(.slot == "short" and (.state == "unknown" or .state == "active")) | .name] | unique | length')
[ "$names" = 2 ] || fail "the retry reused the lost create's name"
# roomy is due (10d before expiry) with weeks left: one failure waits for the next run.
sim_ctl POST /_sim/faults '{"error_rate": 1, "count": 1}' >/dev/null
at 2027-02-22T02:00Z
run 1 rotate --only beta/roomy
refute "$err" "trying again"
expect "$out" "0 rotated"
# One failed run is a finding at once, in plan and audit report, with its last error.
"$tw_bin" plan >"$out" 2>"$err" || true
expect "$out" "failing"
expect "$out" "beta/roomy"
"$tw_bin" audit report --json >"$out" 2>"$err" || true
jq -e '[.findings[] | select(.finding == "failing" and .slot == "roomy")] | length == 1' "$out" \
	>/dev/null || fail "audit report --json does not name the failing slot"
# Without retries (retries: 0) a slot without slack gets one try per run, as before.
sed -i 's/retries: 2/retries: 0/' "$TW_TMP/retry.yaml"
at 2027-02-23T02:00Z
run 0 rotate --only beta/short
at 2027-02-25T06:00Z
sim_ctl POST /_sim/faults '{"reject_bearer_rate": 1}' >/dev/null
run 1 rotate --force beta/short
expect "$err" "does not verify"
refute "$err" "trying again"
expect "$out" "1 deleted, 1 failed" # the old token past its grace, not the discarded one
expect "$out" "failed replacements discarded"
sim_ctl POST /_sim/faults '{}' >/dev/null
# At the default retries a slot without slack outlasts more failures than the
# four retries it once had: five creates in a row lose their answers, then the
# sixth works (after about 31 s of backoff: 1, 2, 4, 8 and 16 s, each jittered).
# Each retry first reads the server's clock, which the fault spares: nine
# requests are five creates and four probes.
sed -i 's/retries: 0, retry_backoff: 1s/retry_backoff: 1s/' "$TW_TMP/retry.yaml"
grep -q '{ interval: 1d, retry_backoff: 1s' "$TW_TMP/retry.yaml" || fail "retry.yaml not rewritten"
rotates_through '{"lost_post_rate": 1, "count": 9}' "(try 6 of 21)"
# A create refused with a Retry-After past what the client waits is not tried
# again in the run: every retry would draw the same 429.
at 2027-02-27T08:00Z # the new token has 22 hours left: no slack
sim_ctl POST /_sim/faults '{"burst_429": 100, "retry_after": 3600}' >/dev/null
"$tw_bin" rotate --only beta/short >"$out" 2>"$err" && fail "a throttled run exited 0"
grep -qE "beta/short: its token lapses before the next run, but the API asked to wait (3600|359[0-9])s: not tried again in this run" "$err" ||
	fail "the refused slot does not say it waits out the Retry-After: $(cat "$err")"
refute "$err" "trying again"
# The first request draws the 429 (the old token's deletion, or the create):
# nothing is sent into it again.
[ "$(grep -c "429 Too Many Requests" "$err")" = 1 ] || fail "requests were sent into the 429 again: $(cat "$err")"
# An API down for the whole run: the first try's create is the only one sent
# (its answer is lost: one unknown token); each retry finds the API still
# failing when it reads the clock, and sends no create that could only add
# another token nobody can delete.  --retries 0 fails each read at once, so
# five tries fit in --max-time 20s; the run stops with the sixth left.
unknown() {
	"$tw_bin" token list --db "$db" --json | jq '[.[] | select(.slot == "short" and .state == "unknown")] | length'
}
lost=$(unknown)
sim_ctl POST /_sim/faults '{"error_rate": 1}' >/dev/null
run 1 rotate --only beta/short --retries 0 --max-time 20s
expect "$out" "1 unknown, 1 left"
expect "$err" "(try 5 of 21)"
expect "$err" "retry failed: read the clock of workspace beta"
[ "$(unknown)" = $((lost + 1)) ] || fail "an API down for the run got $(($(unknown) - lost)) creates, expected 1"
sim_ctl POST /_sim/faults '{}' >/dev/null
# A refusal past what the client waits holds the whole credential, not one
# slot: the run's other slots are refused at once, not sent into the same 429
# one request apiece.
hold_db=$TW_TMP/hold.db
"$tw_bin" init --db "$hold_db" --public-key "$TW_TMP/seal.pub" >/dev/null
sed -e "s|path: $db,|path: $hold_db,|" -e 's/{ name: short,/{ name: h1, lifetime: 3d, rotate_before: 40% }\n      - { name: h2, lifetime: 3d, rotate_before: 40% }\n      - { name: short,/' \
	"$TW_TMP/retry.yaml" | grep -v 'name: roomy' >"$TW_TMP/hold.yaml"
export TOKENWARDEN_CONFIG=$TW_TMP/hold.yaml
run 0 rotate
expect "$out" "3 rotated"
at 2027-03-01T12:00Z # 20 hours left in each: no slack
requests() {
	sim_ctl GET /_sim/stats | jq .requests
}
# term PID: SIGTERM to PID, then its end: st its exit status, ms how long it took.
term() {
	local t0
	t0=$(date +%s%N)
	kill -TERM "$1"
	st=0
	wait "$1" || st=$?
	ms=$((($(date +%s%N) - t0) / 1000000))
}
before=$(requests)
sim_ctl POST /_sim/faults '{"burst_429": 100, "retry_after": 3600}' >/dev/null
"$tw_bin" rotate >"$out" 2>"$err" && fail "a run throttled for an hour exited 0"
[ $(($(requests) - before)) = 1 ] ||
	fail "a run throttled for an hour sent $(($(requests) - before)) requests, expected 1: $(cat "$err")"
[ "$(grep -c "429 Too Many Requests" "$err")" = 1 ] || fail "more than one request drew the 429: $(cat "$err")"
[ "$(grep -c "not sent: the API asked to wait" "$err")" = 2 ] ||
	fail "the other two slots were not refused at once: $(cat "$err")"
refute "$err" "trying again"
# A run between tries stops within a quarter second of SIGTERM, so whatever
# cannot wait for the run lock (a leaked token's revoke) need not wait out
# its backoff.
sed 's/retry_backoff: 1s/retry_backoff: 2m/' "$TW_TMP/retry.yaml" >"$TW_TMP/slow.yaml"
sim_ctl POST /_sim/faults '{"error_rate": 1}' >/dev/null
"$tw_bin" rotate --config "$TW_TMP/slow.yaml" --only beta/short --retries 0 >"$out" 2>"$err" &
pid=$!
for _ in $(seq 200); do
	grep -q "trying again in" "$err" && break
	sleep 0.05
done
expect "$err" "beta/short: its token lapses before the next run: trying again in"
term "$pid"
# (exit 1: its failed steps outrank the work left)
[ "$st" = 1 ] || fail "a run stopped between tries exited $st, expected 1"
[ "$ms" -lt 1500 ] || fail "a run between tries took $ms ms to stop after SIGTERM"
expect "$out" "1 left"
# So does a run whose API takes a request and answers nothing, even while it
# reads the workspaces' clocks before any work: an answer in flight is given
# up (a GET's; a create's is waited for), and no other is sent.  And
# --max-time ends it there too.
sim_ctl POST /_sim/faults '{"latency_ms": 60000}' >/dev/null
"$tw_bin" rotate --config "$TW_TMP/slow.yaml" --timeout 30 --retries 3 >"$out" 2>"$err" &
pid=$!
sleep 1
term "$pid"
[ "$st" = 3 ] || fail "a run stopped while the API said nothing exited $st, expected 3: $(cat "$err")"
[ "$ms" -lt 1500 ] || fail "a run stopped while the API said nothing took $ms ms after SIGTERM"
t0=$(date +%s%N)
st=0
"$tw_bin" rotate --config "$TW_TMP/slow.yaml" --timeout 30 --retries 3 --max-time 2s \
	>"$out" 2>"$err" || st=$?
ms=$((($(date +%s%N) - t0) / 1000000))
[ "$st" = 3 ] || fail "a run out of time while the API said nothing exited $st, expected 3: $(cat "$err")"
[ "$ms" -lt 3500 ] || fail "a run of --max-time 2s took $ms ms while the API said nothing"
sim_ctl POST /_sim/faults '{}' >/dev/null
# A run waiting for the run lock (--wait) stops at once on SIGTERM, having done
# and recorded nothing, instead of waiting out the holder and then running.
runs() {
	python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM runs").fetchone()[0])' "$db"
}
n=$(runs)
before=$(requests)
(
	exec 9>>"$db.lock"
	flock 9
	exec sleep 20
) &
holder=$!
sleep 0.3
"$tw_bin" rotate --config "$TW_TMP/slow.yaml" --wait >"$out" 2>"$err" &
pid=$!
sleep 1
term "$pid"
kill "$holder" 2>/dev/null || true
wait "$holder" 2>/dev/null || true
[ "$st" = 3 ] || fail "a run stopped while it waited for the lock exited $st, expected 3: $(cat "$err")"
[ "$ms" -lt 1500 ] || fail "a run waiting for the lock took $ms ms to stop after SIGTERM"
expect "$err" "stopped (SIGTERM or SIGINT) while waiting for the run lock; nothing was done"
[ "$(runs)" = "$n" ] || fail "a run stopped while it waited for the lock recorded a run"
[ "$(requests)" = "$before" ] || fail "a run stopped while it waited for the lock sent a request"
export TOKENWARDEN_CONFIG=$TW_TMP/policy.yaml

echo "== creates that lose every answer: lost_answers bounds the tokens nobody holds"
# An API that answers its clock but loses every create's answer (a proxy
# timing creates out), on a store of its own: with lost_answers: 3 a slot's
# creates in a run stop at three, each a token nobody holds, and the slot is
# left to the next day's run, its token kept.  (Without the bound, a create
# a try: five or six within --max-time.)
lost_db=$TW_TMP/lost.db
"$tw_bin" init --db "$lost_db" --public-key "$TW_TMP/seal.pub" >/dev/null
sed -e "s|path: $db,|path: $lost_db,|" -e 's/retry_backoff: 1s/&, lost_answers: 3/' \
	"$TW_TMP/retry.yaml" | grep -v 'name: roomy' >"$TW_TMP/lost.yaml"
grep -q 'retry_backoff: 1s, lost_answers: 3' "$TW_TMP/lost.yaml" || fail "lost.yaml not written"
lost_active() {
	"$tw_bin" token list --db "$lost_db" --json | jq -r '[.[] | select(.state == "active")] | map(.token) | join(",")'
}
creates() { sim_ctl GET /_sim/stats | jq .creates; }
run 0 rotate --config "$TW_TMP/lost.yaml"
kept=$(lost_active)
at 2027-03-03T14:00Z # 22 hours left: no slack
before=$(creates)
sim_ctl POST /_sim/faults '{"lost_post_rate": 1}' >/dev/null
run 1 rotate --config "$TW_TMP/lost.yaml" --max-time 30s
expect "$err" "beta/short: its token lapses before the next run, but 3 of its creates lost their answers in this run, each a token that may exist until it expires (schedule.lost_answers): not tried again in this run"
expect "$out" "3 unknown"
[ $(($(creates) - before)) = 3 ] || fail "$(($(creates) - before)) creates were sent into lost answers, expected 3"
tw_expect_eq "the lost store's active token" "$(lost_active)" "$kept"
# And across runs: the next run, a minute on (a daemon's), sends no create
# until the first lost answer is a day (less random_delay) old, and plan
# says when; the next day's run rotates the slot.
at 2027-03-03T14:01Z
before=$(creates)
run 0 rotate --config "$TW_TMP/lost.yaml"
[ "$(creates)" = "$before" ] || fail "a run a minute after the bound was reached sent $(($(creates) - before)) creates"
"$tw_bin" plan --config "$TW_TMP/lost.yaml" >"$out" 2>"$err" || true
expect "$out" "3 of its creates since its last token lost their answers (schedule.lost_answers 3); next attempt not before 2027-03-04T13:4"
sim_ctl POST /_sim/faults '{}' >/dev/null
at 2027-03-04T14:00Z
run 0 rotate --config "$TW_TMP/lost.yaml"
expect "$out" "1 rotated"

echo "== a wrong clock: nothing is created or deleted on it"
# mutations: creates and deletes the server has seen so far.
mutations() {
	sim_ctl GET /_sim/stats | jq '.creates + .deletes'
}
at 2027-03-10T02:00Z # everything is due or expired here
sim_clock() {
	sim_ctl POST /_sim/clock "{\"now\": \"$1\"}" >/dev/null
}
for host in 2027-04-24T02:00Z 2027-01-24T02:00Z 2027-03-10T02:06Z 2027-03-10T01:54Z; do
	export TOKENWARDEN_NOW=$host
	m=$(mutations)
	run 1 rotate
	expect "$err" "acme/-: nothing done in this workspace: "
	expect "$err" "beta/-: nothing done in this workspace: "
	[ "$(mutations)" = "$m" ] || fail "host clock $host: tokens were created or deleted"
	# A dry run calls nothing, so reads no clock: it says what the last run
	# found, and fails as that run did.
	run 1 rotate --dry-run
	expect "$err" "acme/-: the run at ${host%Z}"
	expect "$err" "did nothing in this workspace: "
	expect "$err" "a dry run reads no server's clock: the steps it lists are a run's once the clocks agree"
	[ "$(mutations)" = "$m" ] || fail "host clock $host: a dry run created or deleted tokens"
	# plan and audit report say so afterwards, for each workspace.
	# (Exit 0 or 3, as the host's clock makes work due or not.)
	"$tw_bin" plan --db "$db" >"$out" 2>"$err" || true
	expect "$out" "clock        acme/-: the run at ${host%Z}"
	expect "$out" "clock        beta/-: the run at"
	run 4 audit report --db "$db" --json
	[ "$(jq '[.findings[] | select(.finding == "clock")] | length' "$out")" = 2 ] ||
		fail "audit report shows no clock finding for each workspace"
done
for date in omit malformed; do
	export TOKENWARDEN_NOW=2027-03-10T02:00Z
	sim_ctl POST /_sim/faults "{\"date\": \"$date\"}" >/dev/null
	m=$(mutations)
	run 1 rotate
	expect "$err" "nothing done in this workspace: "
	[ "$(mutations)" = "$m" ] || fail "Date $date: tokens were created or deleted"
done
sed -i 's/^version: 1$/version: 1\nschedule: { max_clock_skew: off }/' "$TW_TMP/policy.yaml"
run 0 rotate --dry-run
sim_ctl POST /_sim/faults '{}' >/dev/null
sed -i '/max_clock_skew: off/d' "$TW_TMP/policy.yaml"
# Four minutes apart is within the default five: the run does its work.
export TOKENWARDEN_NOW=2027-03-10T02:04Z
run 0 rotate
refute "$err" "nothing done"
expect "$out" "3 rotated"
for s in acme/etl acme/bi beta/etl; do healthy "${s%/*}" "${s#*/}"; done
# Once the clocks agree, the finding is gone; the history holds both changes.
"$tw_bin" plan --db "$db" >"$out" 2>"$err" || true
refute "$out" "clock "
[ "$("$tw_bin" audit log --db "$db" --kind workspace.clock_agrees --json | jq -s length)" = 2 ] ||
	fail "no workspace.clock_agrees event for each workspace"

echo "== a token made by hand, without a slot, expires and is deleted like any other"
at 2027-03-10T03:00Z
run 0 token create --db "$db" --public-key "$TW_TMP/seal.pub" -w acme --api "$SIM_URL" --credential acme-admin -n handmade-0310 --expires-in 1d --json
hand=$(jq -r .token "$out")
state=$("$tw_bin" token list --db "$db" --json | jq -r --arg t "$hand" '.[] | select(.token == $t) | .state')
[ "$state" = active ] || fail "a token made by hand is '$state', not active"
# Expired on 03-11T03:00; enforce expired delete_after 2d.
at 2027-03-13T04:00Z
run 0 rotate
expect "$err" "deleted $hand (delete-expired)"
sim_ctl GET /_sim/tokens | jq -e --arg t "$hand" '.tokens | any(.token == $t) | not' >/dev/null ||
	fail "the expired hand-made token $hand is still on the server"

echo "== JSON log lines carry their fields, and never a secret"
run 0 --log-format json rotate --force acme/etl
jq -e -s 'length > 3 and all(.[]; has("ts") and has("level") and has("event") and
	has("workspace") and has("slot") and has("token") and has("msg"))' "$err" >/dev/null ||
	fail "a JSON log line lacks one of ts, level, event, workspace, slot, token, msg"
made=$(jq -r -s '[.[] | select(.event == "created")][0].token' "$err")
[ "$made" = "$(active acme etl)" ] || fail "the created event names token $made, not the active one"
jq -e -s 'all(.[]; .ts | test("^2027-03-13T04:0[0-9]:[0-9.]+Z$"))' "$err" >/dev/null ||
	fail "JSON log lines carry no ISO 8601 ts"
secret=$(jq -r .access_secret "$TW_TMP/run/acme-etl.json")
refute "$err" "$secret"

echo "== a JSON log line survives text that is not UTF-8, or is cut inside a character"
run 2 --log-format json policy check "$TW_TMP/caf$(printf '\351').yaml"
jq -e -s 'length == 1 and (.[0].file | endswith("/caf?.yaml")) and (.[0].msg | length > 10)' \
	"$err" >/dev/null || fail "a JSON diagnostic naming a Latin-1 file lost its fields"
# A message longer than a line holds (2047 bytes) made of two-byte characters: one of the
# two lengths cuts it inside a character, which must cost that character only.
long=$(printf '\303\251%.0s' $(seq 120))
cuts=0
for lead in a ab; do
	run 2 --log-format json token list --db "$TW_TMP/$lead$(printf "/$long%.0s" $(seq 9))"
	jq -e -s 'length == 1 and (.[0].msg | length > 1000)' "$err" >/dev/null ||
		fail "a JSON log line cut inside a character lost its message (lead $lead)"
	jq -e -s '.[0].msg | endswith("?")' "$err" >/dev/null && cuts=$((cuts + 1))
done
[ "$cuts" -eq 1 ] || fail "expected one of the two messages to be cut inside a character, saw $cuts"

echo "== text log lines carry their time off a terminal, not in the journal"
TOKENWARDEN_LOG_FORMAT= "$tw_bin" rotate --force acme/etl >"$out" 2>"$err" || fail "a timed run failed"
grep -qE '^2027-03-13T04:0[0-9]:[0-9.]+Z tokenwarden: acme/etl: created ' "$err" ||
	fail "a text log line to a file carries no ISO 8601 time"
: >"$err"
JOURNAL_STREAM=$(stat -c %d:%i "$err") TOKENWARDEN_LOG_FORMAT= "$tw_bin" rotate --force acme/etl \
	>"$out" 2>>"$err" || fail "a run to the journal failed"
grep -q '^tokenwarden: acme/etl: created ' "$err" || fail "a line to the journal carries its own time"
run 2 --log-format xml rotate
expect "$err" "--log-format 'xml': expected one of text, plain, json"

echo "== a kept replacement that expires before the active token: the slot is rotated first"
# Made while the policy gave 2d, the active token 10d: the file consumer holds the kept
# one, which dies first.  It is not deleted, nor its slot left until due.
export TOKENWARDEN_CONFIG=$TW_TMP/partial.yaml
sed 's/lifetime: 10d/lifetime: 2d/' "$TW_TMP/partial.yaml" >"$TW_TMP/short.yaml"
at 2027-03-20T02:00Z
run 0 rotate
touch "$TW_TMP/refuse"
run 1 --config "$TW_TMP/short.yaml" rotate --force acme/file-first
rm "$TW_TMP/refuse"
kept=$(jq -r .token "$TW_TMP/run/file-first.json")
at 2027-03-22T04:00Z
run 3 plan # 3: file-first failed in its last run
expect "$out" "its consumers may hold $kept, expired at 2027-03-22T02:"
run 0 rotate
expect "$out" "1 rotated"
for f in "$TW_TMP/run/file-first.json" "$TW_TMP/run/file-first-hook.json"; do holds "$f"; done

v=0
"$tw_bin" audit verify --db "$db" >"$out" 2>"$err" || v=$?
[ "$v" = 0 ] || fail "the history does not verify"
sim_stop
[ "$failures" -eq 0 ] || {
	echo "$failures failure(s)" >&2
	exit 1
}
echo "recovery: all passed"
