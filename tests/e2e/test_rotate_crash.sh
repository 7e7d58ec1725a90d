#!/usr/bin/env bash
# End-to-end: rotate killed with SIGKILL at every step boundary of a
# rotation (the old token's deletion included), then run again.  Each time
# the slot must converge (one active token, the one its consumer holds;
# nothing in flight), every token the simulator holds must be known to the
# store and every token the store holds as live must be on the simulator,
# and the database must pass PRAGMA integrity_check.  Two runs started together: one works, the other
# stops at the lock, and nothing is done twice.
# usage: test_rotate_crash.sh MODESIM TOKENWARDEN
set -euo pipefail
umask 077
modesim=$1
tw_bin=$2
. "$(dirname "$0")/../lib/sim.sh"

unset TOKENWARDEN_DB TOKENWARDEN_PUBLIC_KEY TOKENWARDEN_CREDENTIAL TOKENWARDEN_TEST_CRASH
failures=0
fail() {
	echo "FAIL: $*" >&2
	failures=$((failures + 1))
}

sim_start "$modesim" --workspace acme:adminkey:adminsecret --now 2026-01-01T00:00Z
db=$TW_TMP/tw.db
"$tw_bin" keygen --public-key "$TW_TMP/seal.pub" --secret-key "$TW_TMP/seal.key" --no-passphrase >/dev/null
"$tw_bin" init --db "$db" --public-key "$TW_TMP/seal.pub" >/dev/null
mkdir -p "$TW_TMP/creds" "$TW_TMP/run"
printf 'adminkey:adminsecret\n' >"$TW_TMP/creds/acme-admin"
chmod 600 "$TW_TMP/creds/acme-admin"
export CREDENTIALS_DIRECTORY=$TW_TMP/creds
cat >"$TW_TMP/policy.yaml" <<YAML
version: 1
store: { path: $db, public_key: $TW_TMP/seal.pub }
defaults: { lifetime: 10d, rotate_before: 3d, grace: 12h }
workspaces:
  - name: acme
    api: $SIM_URL
    credential: acme-admin
    tokens:
      - name: etl
        deliver: [ { file: $TW_TMP/run/etl.json } ]
YAML
export TOKENWARDEN_CONFIG=$TW_TMP/policy.yaml

# converged WHEN: the invariants after a run that was not interrupted.
converged() {
	python3 - "$db" "$TW_TMP/run/etl.json" "$1" <<'PY' || fail "not converged after $1"
import json, sqlite3, subprocess, sys, os
db = sqlite3.connect(sys.argv[1])
problems = []
if db.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
    problems.append("integrity_check failed")
active = db.execute("SELECT token FROM tokens WHERE state = 'active'").fetchall()
if len(active) != 1:
    problems.append("%d active tokens" % len(active))
inflight = db.execute("SELECT count(*) FROM tokens WHERE state IN "
                      "('pending', 'created', 'verified')").fetchone()[0]
if inflight:
    problems.append("%d tokens in flight" % inflight)
held = json.load(open(sys.argv[2]))["token"]
# A temporary file a killed delivery left beside the consumer's holds a secret.
left = [n for n in os.listdir(os.path.dirname(sys.argv[2])) if n.startswith(".")]
if left:
    problems.append("left beside the consumer's file: %s" % ", ".join(left))
if active and held != active[0][0]:
    problems.append("the consumer holds %s, the active token is %s" % (held, active[0][0]))
url = os.environ["SIM_URL"] + "/_sim/tokens"
sim = json.loads(subprocess.run(["curl", "-sf", url], capture_output=True, check=True).stdout)
known = {n for (n,) in db.execute("SELECT name FROM tokens")}
live = {n for (n,) in db.execute("SELECT name FROM tokens WHERE state IN "
                                 "('active', 'retiring', 'unknown', 'expired')")}
on_server = {t["name"] for t in sim["tokens"]}
for (n,) in db.execute("SELECT name FROM tokens WHERE state IN ('active', 'retiring')"):
    if n not in on_server:
        problems.append("the store holds %s as live, the server does not" % n)
for t in sim["tokens"]:
    if t["name"] not in known:
        problems.append("the server holds %s, unknown to the store" % t["name"])
    elif t["name"] not in live:
        problems.append("the server holds %s, which the store thinks gone" % t["name"])
if problems:
    print("; ".join(problems), file=sys.stderr)
    sys.exit(1)
PY
}

at 2026-01-01T00:00Z
"$tw_bin" rotate >/dev/null 2>&1 || fail "the first run failed"
converged "the first run"

day=8
# Each run but the first also deletes the token the previous one retired.
for point in before-post after-post after-commit after-verify before-rename after-deliver \
	after-activate after-delete; do
	now=$(date -u -d "2026-01-01 +${day} days" +%Y-%m-%dT%H:%MZ)
	day=$((day + 8))
	at "$now"
	st=0
	TOKENWARDEN_TEST_CRASH=$point "$tw_bin" rotate >/dev/null 2>&1 || st=$?
	[ "$st" -eq 137 ] || fail "$point: the run was not killed (exit $st)"
	st=0
	"$tw_bin" rotate >"$TW_TMP/out" 2>"$TW_TMP/err" || st=$?
	# A lost create is reported (exit 1) but the slot is still rotated afresh.
	if [ "$st" -ne 0 ] && ! { [ "$point" = after-post ] && [ "$st" -eq 1 ]; }; then
		fail "$point: the run after the crash exited $st"
		cat "$TW_TMP/err" >&2
	fi
	if [ "$point" = before-rename ] &&
		! grep -q "removed the temporary file an interrupted run left beside a consumer's file" \
			"$TW_TMP/err"; then
		fail "before-rename: the run after the crash did not report the file it removed"
		cat "$TW_TMP/err" >&2
	fi
	converged "a crash $point"
done

# A crash between delivery and activation when the slot is not due: the
# consumer holds the replacement, so it must stay live on the server until
# the slot's next rotation has handed its consumer a newer one.
echo "== a crash after delivery, the slot not due"
held_live() {
	python3 - "$db" "$TW_TMP/run/etl.json" "$1" <<'PY' || fail "the consumer's token is dead after $1"
import json, sqlite3, subprocess, sys, os
db = sqlite3.connect(sys.argv[1])
held = json.load(open(sys.argv[2]))["token"]
url = os.environ["SIM_URL"] + "/_sim/tokens"
sim = json.loads(subprocess.run(["curl", "-sf", url], capture_output=True, check=True).stdout)
state = db.execute("SELECT state FROM tokens WHERE token = ?", (held,)).fetchone()
if held not in {t["token"] for t in sim["tokens"]} or state is None or \
        state[0] not in ("active", "retiring"):
    print("the consumer holds %s: %s in the store, %s on the server" % (
        held, state[0] if state else "absent",
        "present" if held in {t["token"] for t in sim["tokens"]} else "gone"), file=sys.stderr)
    sys.exit(1)
PY
}
now=$(date -u -d "2026-01-01 +${day} days" +%Y-%m-%dT%H:%MZ)
day=$((day + 1))
at "$now"
"$tw_bin" rotate --force etl >/dev/null 2>&1 || fail "a forced rotation failed"
now=$(date -u -d "2026-01-01 +${day} days" +%Y-%m-%dT%H:%MZ)
day=$((day + 1))
at "$now"
st=0
TOKENWARDEN_TEST_CRASH=after-deliver "$tw_bin" rotate --force etl >/dev/null 2>&1 || st=$?
[ "$st" -eq 137 ] || fail "after-deliver --force: the run was not killed (exit $st)"
now=$(date -u -d "2026-01-01 +${day} days" +%Y-%m-%dT%H:%MZ)
day=$((day + 8))
at "$now"
st=0
"$tw_bin" rotate >"$TW_TMP/out" 2>"$TW_TMP/err" || st=$?
[ "$st" -eq 0 ] || fail "the run after a crash after delivery exited $st"
held_live "the run after a crash after delivery"
now=$(date -u -d "2026-01-01 +${day} days" +%Y-%m-%dT%H:%MZ)
day=$((day + 8))
at "$now"
"$tw_bin" rotate >/dev/null 2>&1 || fail "the slot's next rotation failed"
converged "the slot's next rotation after a crash after delivery"

echo "== two runs at once"
now=$(date -u -d "2026-01-01 +${day} days" +%Y-%m-%dT%H:%MZ)
at "$now"
before=$(sim_ctl GET /_sim/stats | jq .creates)
a=0 b=0
"$tw_bin" rotate >/dev/null 2>"$TW_TMP/err-a" &
pa=$!
"$tw_bin" rotate >/dev/null 2>"$TW_TMP/err-b" &
pb=$!
wait "$pa" || a=$?
wait "$pb" || b=$?
case "$a$b" in
05 | 50 | 00) ;;
*) fail "two runs exited $a and $b; expected one 0 and one 5 (or both 0, one after the other)" ;;
esac
# The one refused names the holder: its pid, its verb, since when.
for r in a b; do
	st=$a
	[ "$r" = b ] && st=$b
	if [ "$st" = 5 ] && ! grep -qE "held by pid [0-9]+ \(rotate, [^,]+, since 20" "$TW_TMP/err-$r"; then
		fail "the refused run does not name the lock's holder: $(cat "$TW_TMP/err-$r")"
	fi
done
after=$(sim_ctl GET /_sim/stats | jq .creates)
[ $((after - before)) -eq 1 ] || fail "two runs made $((after - before)) tokens, expected 1"
converged "two runs at once"

# A crash after delivery, then the policy drops the slot: no rotation will
# hand its consumer a newer token, so the replacement stays live, kept as
# retiring until it expires, and is accounted for as such once it has.
echo "== a crash after delivery, then the slot dropped"
# row_of TOKEN EXPR: EXPR of the token's row in the store.
row_of() {
	python3 -c 'import sqlite3, sys
r = sqlite3.connect(sys.argv[1]).execute("SELECT %s FROM tokens WHERE token = ?" % sys.argv[3],
                                         (sys.argv[2],)).fetchone()
print(r[0] if r else "absent")' "$db" "$1" "$2"
}
# killed_at POINT SLOT WHAT: a run forcing SLOT, killed at POINT; fails naming WHAT unless it was.
killed_at() {
	local st=0
	TOKENWARDEN_TEST_CRASH=$1 "$tw_bin" rotate --force "$2" >/dev/null 2>&1 || st=$?
	[ "$st" -eq 137 ] || fail "$3: the run was not killed (exit $st)"
}
day=$((day + 1))
at "$(date -u -d "2026-01-01 +${day} days" +%Y-%m-%dT%H:%MZ)"
killed_at after-deliver etl "after-deliver before the drop"
held=$(jq -r .token "$TW_TMP/run/etl.json")
sed -i "s|- name: etl|- name: other|; s|run/etl.json|run/other.json|" "$TW_TMP/policy.yaml"
st=0
"$tw_bin" plan --json >"$TW_TMP/out" 2>/dev/null || st=$?
[ "$st" -eq 3 ] || fail "plan after the drop exited $st, expected 3 (actions due)"
[ "$(jq -r --arg t "$held" '.actions[] | select(.token == $t) | .action' "$TW_TMP/out")" = keep-delivered ] ||
	fail "the plan does not keep the delivered replacement of a dropped slot: $(cat "$TW_TMP/out")"
grep -q "no longer has" "$TW_TMP/out" || fail "the plan does not say the slot is gone: $(cat "$TW_TMP/out")"
st=0
"$tw_bin" rotate >"$TW_TMP/out" 2>"$TW_TMP/err" || st=$?
[ "$st" -eq 0 ] || fail "the run after the drop exited $st: $(cat "$TW_TMP/err")"
grep -q "kept $held" "$TW_TMP/err" || fail "the run does not say it kept $held: $(cat "$TW_TMP/err")"
grep -q "slot's next rotation" "$TW_TMP/err" &&
	fail "the run promises a rotation of a slot the policy no longer has: $(cat "$TW_TMP/err")"
held_live "the run after the slot was dropped"
state=$(row_of "$held" "state || ' ' || (retire_after = expires_at)")
[ "$state" = "retiring 1" ] || fail "the dropped slot's replacement is '$state', expected retiring until its expiry"
day=$((day + 11))
at "$(date -u -d "2026-01-01 +${day} days" +%Y-%m-%dT%H:%MZ)"
"$tw_bin" rotate >/dev/null 2>&1 || fail "the run after the replacement expired failed"
state=$(row_of "$held" state)
case "$state" in
retiring | expired | deleted) ;;
*) fail "the dropped slot's expired replacement is '$state' in the store" ;;
esac

# The first consumer refuses a replacement, which is deleted; the run is killed
# right after the DELETE, before the store records it.  No consumer holds it,
# so the next run must find it gone (a 404) rather than keep it as if a
# consumer might.
echo "== a crash right after deleting a replacement the first consumer refused"
cat >>"$TW_TMP/policy.yaml" <<YAML
      - name: ml
        deliver: [ { file: $TW_TMP/absent/ml.json } ]
YAML
# refused_then_run MINUTES WHAT: with ml's consumer directory away, a forced run is
# killed right after deleting the replacement it refused; the directory is back, and
# the run MINUTES past the day's midnight must leave that replacement deleted.
refused_then_run() {
	local refused st=0
	killed_at after-delete ml "after-delete of a refused replacement, $2"
	refused=$(python3 -c 'import sqlite3, sys
print(sqlite3.connect(sys.argv[1]).execute("SELECT t.token FROM tokens t JOIN slots s ON "
      "s.id = t.slot_id WHERE s.name = ? ORDER BY t.id DESC", ("ml",)).fetchone()[0])' "$db")
	mv "$TW_TMP/away" "$TW_TMP/absent"
	at "$(date -u -d "2026-01-01 +${day} days 00:$1" +%Y-%m-%dT%H:%MZ)"
	"$tw_bin" rotate >"$TW_TMP/out" 2>"$TW_TMP/err" || st=$?
	[ "$st" -eq 0 ] || fail "the run after deleting a refused replacement, $2, exited $st: $(cat "$TW_TMP/err")"
	state=$(row_of "$refused" state)
	[ "$state" = deleted ] ||
		fail "the refused replacement the server deleted, $2, is '$state' in the store after the next run"
	[ "$(jq -r .token "$TW_TMP/absent/ml.json")" != "$refused" ] || fail "ml's consumer holds $refused"
}
mkdir "$TW_TMP/away"
refused_then_run 10 "the slot new"
# The run must not take one newer than the slot's active token for one kept for a consumer.
mv "$TW_TMP/absent" "$TW_TMP/away"
refused_then_run 20 "the slot holding an active token"

# A crash after delivery, then the consumer goes away: the next run keeps what
# the consumer holds, but cannot hand it a newer one.  The kept token must stay
# until its own expiry, not the older active token's: deleted earlier, it would
# leave the consumer without a working token that had days to run.
echo "== a crash after delivery, then the consumer down"
day=$((day + 1))
at "$(date -u -d "2026-01-01 +${day} days" +%Y-%m-%dT%H:%MZ)"
killed_at after-deliver ml "after-deliver of ml"
held=$(jq -r .token "$TW_TMP/absent/ml.json")
mv "$TW_TMP/absent" "$TW_TMP/absent.off"
at "$(date -u -d "2026-01-01 +${day} days 00:10" +%Y-%m-%dT%H:%MZ)"
st=0
"$tw_bin" rotate >"$TW_TMP/out" 2>"$TW_TMP/err" || st=$?
[ "$st" -eq 1 ] || fail "the run with ml's consumer down exited $st, expected 1: $(cat "$TW_TMP/err")"
state=$(row_of "$held" "state || ' ' || (retire_after = expires_at)")
[ "$state" = "retiring 1" ] ||
	fail "ml's delivered replacement is '$state', expected retiring until its own expiry"
mv "$TW_TMP/absent.off" "$TW_TMP/absent"

"$tw_bin" audit verify --db "$db" >/dev/null || fail "the history does not verify"
if [ "$failures" -gt 0 ]; then
	echo "$failures failure(s)" >&2
	exit 1
fi
echo "all crash checks passed"
