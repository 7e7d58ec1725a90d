#!/usr/bin/env bash
# End-to-end: one consumer of two down for a week.  A slot hands its token
# to a file, then to a program that fails while a flag file exists.  Each
# nightly run makes a replacement the file takes and the program refuses:
# the store keeps it for the file (retiring at its expiry), and the old
# token stays active for the program.  Near the old token's expiry the run
# tries again, handing the program the token it kept for the file, and the
# next night too: each night one create, and the file takes a newer token.
# Checked from outside after every run: the file holds a token
# live on the server, and every token the server holds for the slot is
# held by a consumer or is due for deletion within the slot's grace, and the
# first run after the grace deletes it: a replacement no consumer holds any
# more is not kept to its expiry.  When
# the program is back, one run rotates the slot to both consumers, and
# after the grace the next leaves the server the active token alone.  With
# three consumers, a kept token stays while a consumer that a newer one
# missed still holds it, and goes once a newer one reaches them all.  A
# consumer down for two tries of a run gets the kept token at the third:
# one create, both consumers hold it, and it is active; deleted on the
# server meanwhile, the retry makes another; killed once the retry put it
# back in flight, the next run keeps it for the file.
# usage: test_consumer_down.sh MODESIM TOKENWARDEN
set -euo pipefail
umask 077
modesim=$1
tw_bin=$2
. "$(dirname "$0")/../lib/sim.sh"
. "$(dirname "$0")/../lib/check.sh"

unset TOKENWARDEN_DB TOKENWARDEN_PUBLIC_KEY TOKENWARDEN_CONFIG TOKENWARDEN_CREDENTIAL
out=$TW_TMP/out
err=$TW_TMP/err

sim_start "$modesim" --workspace acme:adminkey:adminsecret --now 2026-11-01T00:00Z
db=$TW_TMP/tw.db
"$tw_bin" keygen --public-key "$TW_TMP/seal.pub" --secret-key "$TW_TMP/seal.key" \
	--no-passphrase >/dev/null
"$tw_bin" init --db "$db" --public-key "$TW_TMP/seal.pub" >/dev/null
mkdir -p "$TW_TMP/creds" "$TW_TMP/run"
printf 'adminkey:adminsecret\n' >"$TW_TMP/creds/acme-admin"
chmod 600 "$TW_TMP/creds/acme-admin"
export CREDENTIALS_DIRECTORY=$TW_TMP/creds

flag=$TW_TMP/run/down
cat >"$TW_TMP/policy.yaml" <<YAML
version: 1
store: { path: $db, public_key: $TW_TMP/seal.pub }
schedule: { retries: 2, retry_backoff: 1s }
defaults: { lifetime: 10d, rotate_before: 3d, grace: 1h }
workspaces:
  - name: acme
    api: $SIM_URL
    credential: acme-admin
    tokens:
      - name: etl
        deliver:
          - file: $TW_TMP/run/etl.json
          - exec: [/bin/sh, -c, "if [ -e $flag ]; then echo down >&2; exit 7; fi; cat > $TW_TMP/run/prog.tmp && mv $TW_TMP/run/prog.tmp $TW_TMP/run/prog.json"]
YAML
export TOKENWARDEN_CONFIG=$TW_TMP/policy.yaml

# check NOW_EPOCH: the file's token is live on the server, and each token the server
# holds is held by a consumer, or is in the store retiring within the grace (1 h) of
# NOW_EPOCH, the night's start, give or take the minute the run's retries take: not
# before it, since the night's run deletes what was due.
check() {
	local now=$1 file prog t state after
	file=$(jq -r .token "$TW_TMP/run/etl.json")
	prog=$(jq -r .token "$TW_TMP/run/prog.json")
	sim_ctl GET /_sim/tokens >"$TW_TMP/server.json"
	jq -e --arg t "$file" '[.tokens[] | select(.token == $t and (.expired | not))] | length == 1' \
		"$TW_TMP/server.json" >/dev/null || fail "the file holds $file, not live on the server"
	"$tw_bin" token list --db "$db" --json >"$TW_TMP/list.json"
	for t in $(jq -r '.tokens[] | select(.expired | not) | .token' "$TW_TMP/server.json"); do
		[ "$t" != "$file" ] && [ "$t" != "$prog" ] || continue
		state=$(jq -r --arg t "$t" '.[] | select(.token == $t) | .state' "$TW_TMP/list.json")
		after=$(jq -r --arg t "$t" '.[] | select(.token == $t) | .retire_after // empty' \
			"$TW_TMP/list.json")
		[ "$state" = retiring ] && [ -n "$after" ] &&
			[ "$(date -u -d "$after" +%s)" -le $((now + 3600 + 60)) ] &&
			[ "$(date -u -d "$after" +%s)" -ge "$now" ] ||
			fail "$t is on the server, held by no consumer, and $state until ${after:-never}"
	done
}

echo "== the first night: both consumers take the slot's token"
at 2026-11-01T02:00Z
run 0 rotate
first=$(jq -r .token "$TW_TMP/run/etl.json")
[ "$(jq -r .token "$TW_TMP/run/prog.json")" = "$first" ] || fail "the program did not take it"

echo "== the program is down for a week of nightly runs"
touch "$flag"
kept=0
for day in 08 09 10 11 12 13 14; do
	at "2026-11-${day}T02:00Z"
	sim_ctl POST /_sim/reset '{}' >/dev/null
	st=0
	"$tw_bin" rotate >"$out" 2>"$err" || st=$?
	# 1 when the night tried the slot; 0 when its backoff put the try off.
	[ "$st" -le 1 ] || fail "the run of 2026-11-$day exited $st"
	kept=$((kept + $(grep -c ": kept " "$err" || true)))
	# Its retries hand on the token kept for the file rather than make more.
	[ "$(sim_ctl GET /_sim/stats | jq .creates)" -le 1 ] ||
		fail "the run of 2026-11-$day made $(sim_ctl GET /_sim/stats | jq .creates) tokens"
	[ "$(jq -r .token "$TW_TMP/run/prog.json")" = "$first" ] || fail "the program's token changed"
	check "$(date -u -d "2026-11-${day}T02:00Z" +%s)"
done
grep -qE "(the one|those) kept before it, which they no longer hold, retires? after the grace" \
	"$err" || fail "the last night's run did not say it retired the replacements kept before"
# The nights near the old token's expiry retry within the run: more than one keep a night.
[ "$kept" -ge 9 ] || fail "only $kept keeps in the week; the test lost its point"
expect "$err" "that did not take it"

echo "== the program is back: one run reaches both, and after the grace one token is left"
rm "$flag"
at 2026-11-15T02:00Z
run 0 rotate
now=$(jq -r .token "$TW_TMP/run/etl.json")
[ "$(jq -r .token "$TW_TMP/run/prog.json")" = "$now" ] || fail "the program did not get $now"
check "$(date -u -d 2026-11-15T02:00Z +%s)"
at 2026-11-15T03:30Z
run 0 rotate
sim_ctl GET /_sim/tokens >"$TW_TMP/server.json"
jq -e --arg t "$now" '[.tokens[] | select(.expired | not) | .token] == [$t]' \
	"$TW_TMP/server.json" >/dev/null ||
	fail "the server holds $(jq -c '[.tokens[] | select(.expired | not) | .token]' \
		"$TW_TMP/server.json"), expected only $now"

echo "== three consumers: a kept token stays while a consumer the newer one missed holds it"
# prog NAME: a program consumer writing run/NAME.json, failing while run/NAME.down exists.
prog() {
	echo "          - exec: [/bin/sh, -c, \"if [ -e $TW_TMP/run/$1.down ]; then exit 7; fi;" \
		"cat > $TW_TMP/run/$1.tmp && mv $TW_TMP/run/$1.tmp $TW_TMP/run/$1.json\"]"
}
{
	echo "      - name: bi"
	echo "        deliver:"
	echo "          - file: $TW_TMP/run/a.json"
	prog b
	prog c
} >>"$TW_TMP/policy.yaml"
holds() {
	jq -r .token "$TW_TMP/run/$1.json"
}
# retires_at TOKEN: its retire_after, in seconds since the epoch ("never" when it has none).
retires_at() {
	local at
	at=$("$tw_bin" token list --db "$db" --json |
		jq -r --arg t "$1" '.[] | select(.token == $t) | .retire_after // "never"')
	[ "$at" = never ] && echo never || date -u -d "$at" +%s
}
expiry() {
	"$tw_bin" token list --db "$db" --json |
		jq -r --arg t "$1" '.[] | select(.token == $t) | .expires_at' | xargs -I{} date -u -d {} +%s
}
at 2026-11-16T02:00Z
run 0 rotate --force acme/bi
t0=$(holds a)
[ "$(holds b)" = "$t0" ] && [ "$(holds c)" = "$t0" ] || fail "bi's consumers did not all take $t0"
touch "$TW_TMP/run/c.down"
at 2026-11-16T03:00Z
run 1 rotate --force acme/bi
k1=$(holds a)
[ "$(holds b)" = "$k1" ] && [ "$(holds c)" = "$t0" ] || fail "a and b did not take $k1"
touch "$TW_TMP/run/b.down"
at 2026-11-16T04:00Z
run 1 rotate --force acme/bi
k2=$(holds a)
[ "$k2" != "$k1" ] && [ "$(holds b)" = "$k1" ] || fail "a did not take a newer token alone"
[ "$(retires_at "$k1")" = "$(expiry "$k1")" ] ||
	fail "$k1, which b still holds, retires at $(retires_at "$k1"), before its expiry"
rm "$TW_TMP/run/b.down"
at 2026-11-16T05:00Z
run 1 rotate --force acme/bi
k3=$(holds a)
[ "$(holds b)" = "$k3" ] && [ "$(holds c)" = "$t0" ] || fail "a and b did not take $k3"
expect "$err" "those kept before it, which they no longer hold, retire after the grace"
bound=$(($(date -u -d 2026-11-16T05:00Z +%s) + 3600 + 60))
for t in "$k1" "$k2"; do
	[ "$(retires_at "$t")" != never ] && [ "$(retires_at "$t")" -le "$bound" ] ||
		fail "$t, which no consumer holds, retires at $(retires_at "$t"), not within the grace"
done
[ "$(retires_at "$k3")" = "$(expiry "$k3")" ] || fail "$k3 is not kept to its expiry"
rm "$TW_TMP/run/c.down"
at 2026-11-16T06:00Z
run 0 rotate --force acme/bi
[ "$(holds b)" = "$(holds a)" ] && [ "$(holds c)" = "$(holds a)" ] ||
	fail "bi's consumers do not all hold one token after a full rotation"
run 0 audit verify --db "$db"

echo "== a consumer down for two tries of a run: the retries hand it the kept token"
# The slot's token lapses before the next run, so the run tries again within
# itself, and the program refuses its first two deliveries.  The file took
# the replacement and holds it; the retries hand that same token to the
# program rather than making another (and another for the file): one create
# that night, and at its end both consumers hold it, active.
cat >"$TW_TMP/flaky" <<SH
#!/bin/sh
# Refuses as many deliveries as run/ops.fails says (counting in run/ops.count).
n=\$(cat $TW_TMP/run/ops.count)
echo \$((n + 1)) >$TW_TMP/run/ops.count
if [ "\$n" -lt "\$(cat $TW_TMP/run/ops.fails)" ]; then
	# With run/ops.delete, the token it refuses is deleted on the server too.
	[ ! -e $TW_TMP/run/ops.delete ] || curl -sf -o /dev/null -u adminkey:adminsecret -X DELETE \\
		"$SIM_URL/batch/acme/signature_tokens/\$(sed 's/.*"token": *"\\([^"]*\\)".*/\\1/')"
	echo down >&2
	exit 7
fi
cat >$TW_TMP/run/ops-prog.tmp && mv $TW_TMP/run/ops-prog.tmp $TW_TMP/run/ops-prog.json
SH
chmod 700 "$TW_TMP/flaky"
echo 0 >"$TW_TMP/run/ops.count"
echo 0 >"$TW_TMP/run/ops.fails"
{
	echo "      - name: ops"
	echo "        deliver:"
	echo "          - file: $TW_TMP/run/ops-file.json"
	echo "          - exec: [$TW_TMP/flaky]"
} >>"$TW_TMP/policy.yaml"
at 2026-11-17T02:00Z
run 0 rotate --force acme/ops
old=$(holds ops-file)
[ "$(holds ops-prog)" = "$old" ] || fail "ops's consumers did not both take $old"
echo 0 >"$TW_TMP/run/ops.count"
echo 2 >"$TW_TMP/run/ops.fails"
# 20 hours before the old token's expiry: it lapses before the next run.
at 2026-11-26T06:00Z
sim_ctl POST /_sim/reset '{}' >/dev/null
# Exit 1: two of its tries failed, though the last did its work.
run 1 rotate --force acme/ops
expect "$err" "its token lapses before the next run: trying again"
expect "$err" "that did not take it"
[ "$(cat "$TW_TMP/run/ops.count")" = 3 ] ||
	fail "the program was run $(cat "$TW_TMP/run/ops.count") times, expected 3"
creates=$(sim_ctl GET /_sim/stats | jq .creates)
[ "$creates" = 1 ] || fail "the night made $creates tokens, expected 1: each retry made another"
new=$(holds ops-file)
[ "$new" != "$old" ] && [ "$(holds ops-prog)" = "$new" ] ||
	fail "the file holds $new and the program $(holds ops-prog), expected one new token"
"$tw_bin" token list --db "$db" --json >"$TW_TMP/list.json"
[ "$(jq -r --arg t "$new" '.[] | select(.token == $t) | .state' "$TW_TMP/list.json")" = active ] ||
	fail "$new, which both consumers hold, is not active"
[ "$(jq -r --arg t "$old" '.[] | select(.token == $t) | .state' "$TW_TMP/list.json")" = retiring ] ||
	fail "$old is not retiring"
run 0 audit verify --db "$db"

echo "== a kept token deleted on the server meanwhile: the retry makes another"
# The program deletes on the server the token it refuses.  The retry finds
# the kept one no longer verifies and rotates afresh: a second create, and
# both consumers hold the new token.
echo 0 >"$TW_TMP/run/ops.count"
echo 1 >"$TW_TMP/run/ops.fails"
touch "$TW_TMP/run/ops.delete"
at 2026-12-05T06:00Z
sim_ctl POST /_sim/reset '{}' >/dev/null
run 1 rotate --force acme/ops
rm "$TW_TMP/run/ops.delete"
expect "$err" "no longer verifies"
creates=$(sim_ctl GET /_sim/stats | jq .creates)
[ "$creates" = 2 ] || fail "the night made $creates tokens, expected 2"
new=$(holds ops-file)
[ "$(holds ops-prog)" = "$new" ] || fail "the file holds $new and the program $(holds ops-prog)"
"$tw_bin" token list --db "$db" --json >"$TW_TMP/list.json"
[ "$(jq -r --arg t "$new" '.[] | select(.token == $t) | .state' "$TW_TMP/list.json")" = active ] ||
	fail "$new, which both consumers hold, is not active"

echo "== killed once a retry put the kept token back in flight"
# The program refuses the first try; the retry puts the token kept for the
# file back in flight, and the run is killed before handing it on.  The
# next run must keep it, not delete it as a replacement nobody took: the
# file holds it.  Then the slot rotates afresh, to both consumers.
echo 0 >"$TW_TMP/run/ops.count"
echo 1 >"$TW_TMP/run/ops.fails"
at 2026-12-14T06:00Z
st=0
TOKENWARDEN_TEST_CRASH=after-resume "$tw_bin" rotate --force acme/ops >"$out" 2>"$err" || st=$?
[ "$st" -eq 137 ] || fail "the run was not killed after the resume (exit $st)"
held=$(holds ops-file)
[ "$held" != "$new" ] && [ "$(holds ops-prog)" = "$new" ] ||
	fail "the file holds $held and the program $(holds ops-prog); expected a kept token and $new"
at 2026-12-14T06:10Z
run 0 rotate --force acme/ops
now=$(holds ops-file)
[ "$now" != "$held" ] && [ "$(holds ops-prog)" = "$now" ] ||
	fail "ops's consumers hold $now and $(holds ops-prog), expected one new token"
"$tw_bin" token list --all --db "$db" --json >"$TW_TMP/list.json"
[ "$(jq -r --arg t "$held" '.[] | select(.token == $t) | .state' "$TW_TMP/list.json")" = retiring ] ||
	fail "$held, which the file held, is not retiring after the next run"
sim_ctl GET /_sim/tokens >"$TW_TMP/server.json"
jq -e --arg t "$held" '[.tokens[] | select(.token == $t and (.expired | not))] | length == 1' \
	"$TW_TMP/server.json" >/dev/null || fail "$held, which the file held, is not live on the server"
run 0 audit verify --db "$db"

if [ "$failures" -gt 0 ]; then
	echo "$failures failure(s)" >&2
	exit 1
fi
echo "all consumer-down checks passed"
