#!/usr/bin/env bash
# End-to-end: status and metrics with the real binary against modesim.  Builds
# a slot in each state (ok, due, failing, stuck, paused, and overdue on a clock
# far ahead), then checks status's lines, --json and exit status, and the
# metrics' values against the store and the simulator's tokens; that neither
# verb changes the store; that --textfile replaces its file atomically, mode
# 0644, and refuses a directory it cannot write, naming it, changing nothing.
# usage: test_status_metrics.sh MODESIM TOKENWARDEN
set -euo pipefail
umask 077
modesim=$1
tw_bin=$2
. "$(dirname "$0")/../lib/sim.sh"
. "$(dirname "$0")/../lib/check.sh"

unset TOKENWARDEN_DB TOKENWARDEN_PUBLIC_KEY TOKENWARDEN_NOW TOKENWARDEN_CONFIG NO_COLOR COLUMNS
out=$TW_TMP/out
err=$TW_TMP/err

jqe() {
	jq -e "$1" "$out" >/dev/null || fail "JSON check failed: $1"
}

# sql QUERY: one value from the store, read without tokenwarden.
sql() {
	python3 - "$db" "$1" <<'PY'
import sqlite3, sys
db = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True)
row = db.execute(sys.argv[2]).fetchone()
print("" if row is None or row[0] is None else row[0])
PY
}

# iso MS: a time in ms as tokenwarden's JSON writes it (2026-11-01T00:00:00.027Z).
iso() {
	python3 -c 'import datetime, sys; ms = int(sys.argv[1]); print(datetime.datetime.fromtimestamp(ms // 1000, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S") + ".%03dZ" % (ms % 1000))' "$1"
}

# Whether the metrics directory holds the metrics file and nothing else (no temporary file).
only_prom() {
	local f
	for f in "$TW_TMP/prom"/* "$TW_TMP/prom"/.[!.]*; do
		[ ! -e "$f" ] || [ "$f" = "$prom" ] || return 1
	done
}

# The store's files, byte for byte.
store_sum() {
	local f
	for f in "$db" "$db"-wal "$db"-shm; do
		[ ! -e "$f" ] || sha256sum "$f"
	done
}

# metric FILE SERIES: the value of one series (name{labels} exactly) in FILE.
metric() {
	awk -v s="$2" '$1 == s { print $2; found = 1 } END { exit !found }' "$1" ||
		fail "no series $2 in $(basename "$1")"
}

sim_start "$modesim" --workspace acme:adminkey:adminsecret --now 2026-11-01T00:00Z
db=$TW_TMP/tw.db
"$tw_bin" keygen --public-key "$TW_TMP/seal.pub" --secret-key "$TW_TMP/seal.key" --no-passphrase >/dev/null
"$tw_bin" init --db "$db" --public-key "$TW_TMP/seal.pub" >/dev/null
mkdir -p "$TW_TMP/creds" "$TW_TMP/run" "$TW_TMP/prom"
printf 'adminkey:adminsecret\n' >"$TW_TMP/creds/acme-admin"
chmod 600 "$TW_TMP/creds/acme-admin"
export CREDENTIALS_DIRECTORY=$TW_TMP/creds
prom=$TW_TMP/prom/tokenwarden.prom

# ok rotates; failing and stuck have a consumer that refuses; paused is paused.
# Runs every day (no random delay), stuck after 2 failures in a row.
cat >"$TW_TMP/policy.yaml" <<YAML
version: 1
store: { path: $db, public_key: $TW_TMP/seal.pub }
schedule: { interval: 1d, random_delay: 0, stuck_after: 2, retries: 0 }
defaults: { lifetime: 30d, rotate_before: 20%, grace: 1d, jitter: 0 }
workspaces:
  - name: acme
    api: $SIM_URL
    credential: acme-admin
    tokens:
      - name: ok
        deliver: [ { file: $TW_TMP/run/ok.json } ]
      - name: failing
        deliver: [ exec: [/bin/sh, -c, "cat >/dev/null; echo no thanks >&2; exit 1"] ]
      - name: stuck
        deliver: [ exec: [/bin/sh, -c, "cat >/dev/null; echo no thanks >&2; exit 1"] ]
      - name: paused
        paused: true
YAML
export TOKENWARDEN_CONFIG=$TW_TMP/policy.yaml

echo "== a rotation with --metrics-textfile"
at 2026-11-01T00:00Z
sim_ctl POST /_sim/reset >/dev/null
run 1 rotate --metrics-textfile "$prom"
expect "$out" "rotate: 1 rotated, 0 deleted, 2 failed"
[ -f "$prom" ] || fail "rotate --metrics-textfile wrote no file"
[ "$(stat -c %a "$prom")" = 644 ] || fail "the metrics file is mode $(stat -c %a "$prom"), not 644"
only_prom || fail "a temporary file was left beside the metrics"
sent=$(sim_ctl GET /_sim/stats | jq .requests)
tw_expect_eq "requests of the run" "$(metric "$prom" 'tokenwarden_last_run_requests{credential="acme-admin"}')" "$sent"
tw_expect_eq "429s of the run" "$(metric "$prom" 'tokenwarden_last_run_throttled_requests{credential="acme-admin"}')" 0
# Issue 15: a connection per create, and one kept alive for everything else.
posts=$(sim_ctl GET /_sim/stats | jq '.by_method.POST')
tw_expect_eq "connections in the run's summary" \
	"$(sql "SELECT json_extract(summary, '$.credentials.acme-admin.connections') FROM runs ORDER BY id DESC LIMIT 1")" \
	"$((posts + 1))"
tw_expect_eq "exit status of the run" "$(metric "$prom" tokenwarden_last_run_exit_status)" 1
tw_expect_eq "last successful run" "$(metric "$prom" tokenwarden_last_successful_run_end_timestamp_seconds)" 0
# Throttled: 2 answers 429 (waited out), counted per credential in the run's summary.
sim_ctl POST /_sim/reset >/dev/null
sim_ctl POST /_sim/faults '{"burst_429": 2, "retry_after": 1}' >/dev/null
run 0 rotate --force ok --metrics-textfile "$prom"
sim_ctl POST /_sim/faults '{}' >/dev/null
tw_expect_eq "exit status of the forced run" "$(metric "$prom" tokenwarden_last_run_exit_status)" 0
tw_expect_eq "last successful run" "$(metric "$prom" tokenwarden_last_successful_run_end_timestamp_seconds)" \
	"$(metric "$prom" tokenwarden_last_run_end_timestamp_seconds)"
stats=$(sim_ctl GET /_sim/stats)
tw_expect_eq "429s of the throttled run" "$(metric "$prom" 'tokenwarden_last_run_throttled_requests{credential="acme-admin"}')" \
	"$(jq '.by_status["429"]' <<<"$stats")"
tw_expect_eq "requests of the throttled run" "$(metric "$prom" 'tokenwarden_last_run_requests{credential="acme-admin"}')" \
	"$(jq .requests <<<"$stats")"
tw_expect_eq "429s in the run's summary" "$(sql "SELECT json_extract(summary, '$.credentials.acme-admin.throttled') FROM runs ORDER BY id DESC LIMIT 1")" 2
# A dry run changes nothing, so it writes no metrics either.
run 0 rotate --dry-run --metrics-textfile "$TW_TMP/dry.prom"
[ ! -e "$TW_TMP/dry.prom" ] || fail "rotate --dry-run wrote the metrics file"
run 2 rotate --metrics-textfile ""
expect "$err" "--metrics-textfile: give the path of the file to write"
# stuck fails again, forced past its backoff: two in a row make it stuck.
run 1 rotate --force stuck
expect "$out" "rotate: 0 rotated, 0 deleted, 1 failed"

# due: a slot whose imported token expires in 3 days (rotate_before 20% of 30d: 6d).
sed -i 's|^      - name: paused|      - name: due\n&|' "$TW_TMP/policy.yaml"
run 0 token import -w acme --token tok-due -n due-import --slot due \
	--created-at 2026-10-05T00:00Z --expires-at 2026-11-04T00:00Z --db "$db" \
	--public-key "$TW_TMP/seal.pub"

echo "== status: one slot in each state"
before=$(store_sum)
at 2026-11-01T06:00Z
run 4 status
for pair in ok:ok due:due failing:failing stuck:stuck paused:paused; do
	slot=${pair%%:*} word=${pair#*:}
	grep -qE "^acme/$slot +.* $word\$" "$out" || fail "status: acme/$slot is not '$word'"
done
expect "$out" "5 slots: 1 stuck, 1 failing, 1 paused, 1 due, 1 ok"
ok_token=$(jq -r .token "$TW_TMP/run/ok.json")
grep -qE "^acme/ok +$ok_token +in 29d 1[78]h +in 23d 1[78]h +(6h|5h 59m) ago +0 +ok\$" "$out" ||
	fail "status: acme/ok's line"
grep -qE "^acme/due +tok-due +in 2d 18h +now +never +0 +due\$" "$out" || fail "status: acme/due's line"
grep -qE "^acme/stuck +- +- +now +never +2 +stuck\$" "$out" || fail "status: acme/stuck's line"
grep -q $'\033' "$out" && fail "status coloured a pipe"
head -1 "$out" | grep -qE '^SLOT +TOKEN +EXPIRES +NEXT ROTATION +LAST SUCCESS +FAILURES +STATUS$' ||
	fail "status: the header"

run 4 status --json
jqe '.version == 1 and .at == "2026-11-01T06:00:00.000Z"'
jqe '[.slots[] | .status] == ["due", "failing", "ok", "paused", "stuck"]'
jqe '.summary == {"slots": 5, "ok": 1, "due": 1, "paused": 1, "failing": 1, "stuck": 1, "overdue": 0}'
jq -e --arg t "$ok_token" '.slots[] | select(.slot == "ok") | .token == $t' "$out" >/dev/null ||
	fail "status --json: ok's token"
ok_row=$(sql "SELECT id FROM tokens WHERE token = '$ok_token'")
ok_exp=$(sql "SELECT expires_at FROM tokens WHERE token = '$ok_token'")
ok_last=$(sql "SELECT max(at) FROM events WHERE kind = 'token.active' AND slot = 'ok'")
jq -e --argjson r "$ok_row" '.slots[] | select(.slot == "ok") | .token_row == $r and .failures == 0' \
	"$out" >/dev/null || fail "status --json: ok's row"
[ "$(jq -r '.slots[] | select(.slot == "ok") | .expires_at' "$out")" = \
	"$(iso "$ok_exp")" ] || fail "status --json: ok's expiry differs from the store"
[ "$(jq -r '.slots[] | select(.slot == "ok") | .last_success' "$out")" = \
	"$(iso "$ok_last")" ] || fail "status --json: ok's last success differs from the history"
# Slack: expiry 2026-12-01, due 2026-11-25 (6d before): 6 daily runs sure to start, 5 may fail.
jqe '.slots[] | select(.slot == "ok") | .slack == 5 and .next_rotation == "2026-11-25T00:00:00.000Z"'
jqe '.slots[] | select(.slot == "stuck") | .failures == 2 and .token == null and .next_attempt != null'
jqe '.slots[] | select(.slot == "paused") | .paused == true and .token == null'
# The ok slot's token is the one on the server.
sim_ctl GET /_sim/tokens | jq -e --arg t "$ok_token" '.tokens | any(.token == $t)' >/dev/null ||
	fail "status's token for acme/ok is not on the server"

echo "== overdue: a clock far ahead"
run 4 status --at 2027-02-01T00:00Z
# 2026-12-01 to 2027-02-01 is 62 days: two twelfths of a year and a day and a bit.
grep -qE "^acme/ok +$ok_token +2mo 1d ago +now +3mo ago +0 +overdue\$" "$out" ||
	fail "status: acme/ok's line far ahead"
TOKENWARDEN_NOW=2027-02-01T00:00Z run 4 status --json
jqe '.slots[] | select(.slot == "ok") | .status == "overdue" and .slack == 0'
jqe '.slots[] | select(.slot == "due") | .status == "overdue"'
jqe '.summary.overdue == 2'
grep -q 36499 "$out" && fail "status printed a day count"

# The metrics keep each fact under the worse word: ok is overdue and due, stuck still stuck.
run 0 metrics --at 2027-02-01T00:00Z
grep -qx 'tokenwarden_slot_overdue{workspace="acme",slot="ok"} 1' "$out" || fail "metrics far ahead: ok is not overdue"
grep -qx 'tokenwarden_slot_status{workspace="acme",slot="ok",status="overdue"} 1' "$out" || fail "metrics far ahead: ok's word"
grep -qx 'tokenwarden_slot_stuck{workspace="acme",slot="stuck"} 1' "$out" || fail "metrics far ahead: stuck is not stuck"
grep -qx 'tokenwarden_slot_due{workspace="acme",slot="ok"} 1' "$out" || fail "metrics far ahead: ok is not due"
grep -qx 'tokenwarden_slots{status="overdue"} 2' "$out" || fail "metrics far ahead: the count of overdue slots"

echo "== all ok: exit 0"
sed -e '/- name: failing/,$d' "$TW_TMP/policy.yaml" >"$TW_TMP/ok.yaml"
run 0 status --config "$TW_TMP/ok.yaml"
expect "$out" "1 slot, all ok"

echo "== columns fitted to the terminal"
COLUMNS=60 run 4 status
awk 'length > 60 { bad = 1 } END { exit bad }' "$out" || fail "status printed lines past COLUMNS=60"
head -1 "$out" | grep -q "LAST SUCCESS" && fail "status kept LAST SUCCESS in 60 columns"
head -1 "$out" | grep -qE '^SLOT +.*EXPIRES.*STATUS$' || fail "status dropped SLOT, EXPIRES or STATUS"

echo "== colour only on a terminal, never with NO_COLOR"
if command -v script >/dev/null; then
	# script(1) gives status a terminal of its own (80 columns by default here).
	TERM=xterm COLUMNS=200 script -qec "stty cols 200; $tw_bin status" /dev/null >"$out" 2>&1 || true
	grep -q $'\033\[31mstuck\033\[0m' "$out" || fail "status on a terminal did not colour 'stuck'"
	TERM=xterm NO_COLOR=1 script -qec "stty cols 200; $tw_bin status" /dev/null >"$out" 2>&1 || true
	grep -q $'\033\[' "$out" && fail "status coloured with NO_COLOR set"
	grep -qE '^acme/stuck +.* stuck' "$out" || fail "status on a terminal: acme/stuck's line"
	# The terminal's width, not $COLUMNS, decides there.
	TERM=xterm COLUMNS=200 script -qec "stty cols 50; $tw_bin status" /dev/null >"$out" 2>&1 || true
	tr -d '\r' <"$out" | sed $'s/\033\\[[0-9;]*m//g' | awk 'length > 50 { bad = 1 } END { exit bad }' ||
		fail "status on a 50-column terminal printed longer lines"
fi

echo "== bad input"
run 2 status --at yesterday
expect "$err" "--at"
run 2 status nosuch
run 2 status --config "$TW_TMP/missing.yaml"
expect "$err" "$TW_TMP/missing.yaml"

echo "== metrics: values against the store and the simulator"
run 0 metrics
cp "$out" "$TW_TMP/metrics.txt"
m=$TW_TMP/metrics.txt
tw_expect_eq "ok's expiry" "$(metric "$m" 'tokenwarden_slot_token_expiry_timestamp_seconds{workspace="acme",slot="ok"}')" \
	"$((ok_exp / 1000)).$(printf %03d $((ok_exp % 1000)))"
tw_expect_eq "stuck's expiry" "$(metric "$m" 'tokenwarden_slot_token_expiry_timestamp_seconds{workspace="acme",slot="stuck"}')" 0
tw_expect_eq "ok's slack" "$(metric "$m" 'tokenwarden_slot_slack_runs{workspace="acme",slot="ok"}')" 5
tw_expect_eq "failing's failures" "$(metric "$m" 'tokenwarden_slot_failures{workspace="acme",slot="failing"}')" 1
tw_expect_eq "stuck's failures" "$(metric "$m" 'tokenwarden_slot_failures{workspace="acme",slot="stuck"}')" 2
tw_expect_eq "failing flag" "$(metric "$m" 'tokenwarden_slot_failing{workspace="acme",slot="failing"}')" 1
tw_expect_eq "failing flag of stuck" "$(metric "$m" 'tokenwarden_slot_failing{workspace="acme",slot="stuck"}')" 1
tw_expect_eq "failing flag of ok" "$(metric "$m" 'tokenwarden_slot_failing{workspace="acme",slot="ok"}')" 0
tw_expect_eq "stuck flag" "$(metric "$m" 'tokenwarden_slot_stuck{workspace="acme",slot="stuck"}')" 1
tw_expect_eq "stuck flag of failing" "$(metric "$m" 'tokenwarden_slot_stuck{workspace="acme",slot="failing"}')" 0
tw_expect_eq "paused flag" "$(metric "$m" 'tokenwarden_slot_paused{workspace="acme",slot="paused"}')" 1
tw_expect_eq "status word" "$(metric "$m" 'tokenwarden_slot_status{workspace="acme",slot="due",status="due"}')" 1
tw_expect_eq "status word" "$(metric "$m" 'tokenwarden_slot_status{workspace="acme",slot="due",status="ok"}')" 0
tw_expect_eq "active tokens" "$(metric "$m" 'tokenwarden_tokens{state="active"}')" \
	"$(sql "SELECT count(*) FROM tokens WHERE state = 'active'")"
tw_expect_eq "revoked tokens" "$(metric "$m" 'tokenwarden_tokens{state="revoked"}')" 0
# The server holds every live token but the imported tok-due, which it never made.
tw_expect_eq "tokens on the server" "$(sim_ctl GET /_sim/tokens | jq '.tokens | length')" \
	"$(awk '$1 ~ /^tokenwarden_tokens\{state="(active|retiring|created|verified)"\}$/ { n += $2 } END { print n - 1 }' "$m")"
tw_expect_eq "stuck findings" "$(metric "$m" 'tokenwarden_findings{kind="stuck"}')" 1
tw_expect_eq "failing findings" "$(metric "$m" 'tokenwarden_findings{kind="failing"}')" 1
tw_expect_eq "max_lifetime findings" "$(metric "$m" 'tokenwarden_findings{kind="max-lifetime"}')" 0
tw_expect_eq "last run's start" "$(metric "$m" tokenwarden_last_run_start_timestamp_seconds)" \
	"$(sql "SELECT started_at / 1000 FROM runs ORDER BY id DESC LIMIT 1").$(printf %03d "$(sql "SELECT started_at % 1000 FROM runs ORDER BY id DESC LIMIT 1")")"
for f in tokenwarden_slot_token_expiry_timestamp_seconds tokenwarden_slot_slack_runs tokenwarden_findings tokenwarden_tokens; do
	grep -qx "# HELP $f .*" "$m" || fail "no HELP line for $f"
	grep -qx "# TYPE $f gauge" "$m" || fail "no TYPE line for $f"
done
grep -q "$(jq -r .access_secret "$TW_TMP/run/ok.json")" "$m" && fail "a secret reached the metrics"
grep -q "$ok_token" "$m" && fail "a token id became a label"
if command -v promtool >/dev/null; then
	promtool check metrics <"$prom" >"$TW_TMP/lint" 2>&1 || { cat "$TW_TMP/lint" >&2; fail "promtool check metrics: the file rotate wrote"; }
	promtool check metrics <"$m" >"$TW_TMP/lint" 2>&1 || { cat "$TW_TMP/lint" >&2; fail "promtool check metrics: metrics' output"; }
fi

echo "== status and metrics leave the store as it was"
run 0 metrics --textfile "$prom"
run 4 status --json
run 4 status
[ "$(store_sum)" = "$before" ] || fail "status or metrics changed the store's files"

echo "== --textfile: atomic, and a directory it cannot write"
# A reader holding the old file keeps it whole: the new one comes by rename.
exec 3<"$prom"
old_inode=$(stat -c %i "$prom")
run 0 metrics --textfile "$prom" --at 2026-11-02T00:00Z
[ "$(stat -c %i "$prom")" != "$old_inode" ] || fail "--textfile rewrote the file in place"
exec 3<&-
grep -q '^tokenwarden_metrics_timestamp_seconds 1793577600.000$' "$prom" || fail "--textfile --at: the file's time"
only_prom || fail "a temporary file was left beside the metrics"
# A directory this user cannot write: 0500, or for root (who writes anyway) immutable.
mkdir "$TW_TMP/ro"
ro=
if [ "$(id -u)" != 0 ]; then
	chmod 500 "$TW_TMP/ro" && ro=1
elif chattr +i "$TW_TMP/ro" 2>/dev/null; then
	tw_at_exit "chattr -i '$TW_TMP/ro'"
	ro=1
fi
if [ -n "$ro" ]; then
	sum=$(store_sum)
	run 2 metrics --textfile "$TW_TMP/ro/tw.prom"
	expect "$err" "tokenwarden: error: --textfile $TW_TMP/ro/tw.prom: cannot create a file beside it: "
	expect "$err" "; nothing was written"
	[ -z "$(ls -A "$TW_TMP/ro")" ] || fail "a refused --textfile left a file"
	[ "$(store_sum)" = "$sum" ] || fail "a refused --textfile changed the store"
	# After a run, the same is a warning: the run's own status stands (1: failing slots).
	run 1 rotate --metrics-textfile "$TW_TMP/ro/tw.prom"
	expect "$err" "tokenwarden: warning: --metrics-textfile: $TW_TMP/ro/tw.prom: cannot create a file beside it"
	expect "$err" "the run's outcome stands"
	[ -z "$(ls -A "$TW_TMP/ro")" ] || fail "a refused --metrics-textfile left a file"
else
	echo "note: no directory this user cannot write (root without chattr): that case is not checked"
fi
run 2 metrics --textfile "$TW_TMP/nosuchdir/tw.prom"
expect "$err" "$TW_TMP/nosuchdir/tw.prom"
run 2 metrics --textfile "$TW_TMP/prom"
expect "$err" "$TW_TMP/prom: names a directory"
# A FIFO at the path (as a device would be) is refused, not replaced by the metrics file.
mkfifo "$TW_TMP/tw.fifo"
run 2 metrics --textfile "$TW_TMP/tw.fifo"
expect "$err" "$TW_TMP/tw.fifo: is a FIFO, which the new file would replace"
[ -p "$TW_TMP/tw.fifo" ] || fail "metrics --textfile replaced a FIFO"
rm "$TW_TMP/tw.fifo"
run 2 metrics --textfile ""
expect "$err" "--textfile: give the path"
# A path that is the store's own file is refused: the rename would replace the store.
sum=$(store_sum)
run 2 metrics --textfile "$db"
expect "$err" "$db is the store: the metrics would replace it; give another path"
[ "$(store_sum)" = "$sum" ] || fail "a --textfile naming the store changed it"
[ -z "$(ls -A "$(dirname "$db")" | grep '\.tw-')" ] || fail "a refused --textfile left a file"
[ "$(store_sum)" != "" ] || fail "the store vanished"

if [ "$failures" -gt 0 ]; then
	echo "$failures check(s) failed" >&2
	exit 1
fi
echo "all status and metrics checks passed"
