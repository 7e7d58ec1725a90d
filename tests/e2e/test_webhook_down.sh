#!/usr/bin/env bash
# End-to-end: a webhook that never answers costs a run one wait, not one
# per alert, and webhooks together never hold a run past its --max-time
# (but for NOTIFY_STOPPING_MS each after it).  Four slots fail in one run
# (every create's answer lost) with three webhooks: two that read each
# alert and never answer (tests/lib/listen.py silent), one that answers.
# Checked from outside: what reached each webhook, the run's log, and the
# run's wall time against its --max-time.
# usage: test_webhook_down.sh MODESIM TOKENWARDEN
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
mkdir -p "$TW_TMP/creds" "$TW_TMP/run"

# reached NAME KIND: how many alerts of KIND reached webhook NAME since
# the last forget NAME.
reached() {
	grep -c "\"kind\":\"$2\"" "$TW_TMP/$1.log" || true
}

forget() {
	: >"$TW_TMP/$1.log"
}

# timed_run WANT ARGS...: run, its wall time in ms in $took.
timed_run() {
	local t0
	t0=$(date +%s%N)
	run "$@"
	took=$((($(date +%s%N) - t0) / 1000000))
}

tw_listen silent down
tw_listen hook up
tw_listen silent down2
sim_start "$modesim" --workspace acme:adminkey:adminsecret --now 2027-01-01T02:00Z
"$tw_bin" keygen --public-key "$TW_TMP/seal.pub" --secret-key "$TW_TMP/seal.key" --no-passphrase >/dev/null
"$tw_bin" init --db "$db" --public-key "$TW_TMP/seal.pub" >/dev/null
printf 'adminkey:adminsecret\n' >"$TW_TMP/creds/acme-admin"
export CREDENTIALS_DIRECTORY=$TW_TMP/creds TOKENWARDEN_NOW=2027-01-01T02:00Z
{
	echo "version: 1"
	echo "store: { path: $db, public_key: $TW_TMP/seal.pub }"
	echo "defaults: { lifetime: 10d, rotate_before: 4d, grace: 1d }"
	echo "notify:"
	echo "  - { webhook: 'http://127.0.0.1:$(cat "$TW_TMP/down.port")/down' }"
	echo "  - { webhook: 'http://127.0.0.1:$(cat "$TW_TMP/up.port")/up' }"
	echo "  - { webhook: 'http://127.0.0.1:$(cat "$TW_TMP/down2.port")/down2' }"
	echo "workspaces:"
	echo "  - name: acme"
	echo "    api: $SIM_URL"
	echo "    credential: acme-admin"
	echo "    tokens:"
	for i in 1 2 3 4; do
		echo "      - name: s$i"
		echo "        deliver: [ { file: \"$TW_TMP/run/s$i.json\" } ]"
	done
} >"$TW_TMP/policy.yaml"
export TOKENWARDEN_CONFIG=$TW_TMP/policy.yaml TOKENWARDEN_DB=$db
run 0 rotate
forget down
forget up

echo "== a webhook that never answers is waited for once a run"
export TOKENWARDEN_NOW=2027-01-08T02:00Z
sim_ctl POST /_sim/clock '{"now": "2027-01-08T02:00:00Z"}' >/dev/null
sim_ctl POST /_sim/faults '{"lost_post_rate": 1}' >/dev/null
timed_run 1 rotate
expect "$out" "4 failed, 4 unknown"
tw_expect_eq "failure alerts that reached the webhook that answers" "$(reached up failure)" 4
tw_expect_eq "failure alerts sent to the webhook that never answers" "$(reached down failure)" 1
tw_expect_eq "failure alerts sent to the other that never answers" "$(reached down2 failure)" 1
tw_expect_eq "failure alerts logged as not sent" \
	"$(grep -c 'acme/s[1-4]: alert not sent: webhook at line 5' "$err")" 4
tw_expect_eq "failure alerts not tried" \
	"$(grep -c 'acme/s[1-4]: alert not sent: webhook at line 5: not tried: it did not answer at 2027-01-08T02:00' "$err")" 3
# The run's violations (the slots without a working token) are not tried
# either; they stay due, for the next run.
expect "$err" "violation alert not sent (the next run tries again): webhook at line 5: not tried"
tw_expect_eq "violation alerts that reached the webhook that answers" "$(reached up violation)" 1
grep 'alert not sent' "$err" | grep -q 'webhook at line 6' && fail "an alert to the webhook that answers was not sent"
# Four waits of NOTIFY_TIMEOUT_MS (10 s) for each before; one each now.
[ "$took" -lt 35000 ] || fail "the run took $took ms: it waited for a webhook more than once"

echo "== the wait for a webhook ends with the run's --max-time"
# The slots back off 15 minutes after their failure.
export TOKENWARDEN_NOW=2027-01-08T03:00Z
sim_ctl POST /_sim/clock '{"now": "2027-01-08T03:00:00Z"}' >/dev/null
forget down
forget down2
timed_run 1 rotate --max-time 4s
# The first slot's alert waited out the run's time: the others are left.
expect "$out" "1 failed, 1 unknown, 3 left"
# A new run tries it again: it may answer by now.
tw_expect_eq "failure alerts sent to the webhook that never answers" "$(reached down failure)" 1
tw_expect_eq "failure alerts sent to the other that never answers" "$(reached down2 failure)" 1
# The first waits out the run's time, the second 1 s (NOTIFY_STOPPING_MS).
[ "$took" -lt 7000 ] || fail "a run with --max-time 4s took $took ms"
sim_ctl POST /_sim/faults '{}' >/dev/null

if [ "$failures" -ne 0 ]; then
	echo "$failures check(s) failed" >&2
	exit 1
fi
echo "all webhook-down checks passed"
