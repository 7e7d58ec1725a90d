#!/usr/bin/env bash
# End-to-end: the tables follow from the history.  Each token row's last
# event carries a digest of the row as that change left it, so a direct
# edit of the tokens table (a longer expiry, a live token made retiring, a
# row added, removed or moved to another workspace) is found by audit
# verify (exit 4, naming the row), and rotate refuses to act on such a store
# (exit 1) unless the policy says `store: { integrity: warn }`.  Nothing is
# changed on the server or in the store by a refused run.
# usage: test_tamper.sh MODESIM TOKENWARDEN
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
out=$TW_TMP/out
err=$TW_TMP/err
# run STATUS ARGS...: runs tokenwarden, expecting exit STATUS.
run() {
	local want=$1 got=0
	shift
	"$tw_bin" "$@" >"$out" 2>"$err" || got=$?
	[ "$got" -eq "$want" ] ||
		fail "tokenwarden $* exited $got, expected $want: $(head -c 600 "$err")"
}
expect() {
	grep -qF -- "$2" "$1" || fail "expected '$2' in: $(head -c 600 "$1")"
}
sql() {
	python3 -c 'import sqlite3, sys
c = sqlite3.connect(sys.argv[1], isolation_level=None)
for r in c.execute(sys.argv[2]):
    print("|".join("" if v is None else str(v) for v in r))' "$@"
}
# snapshot DB COPY: a consistent copy of DB (its WAL included).
snapshot() {
	python3 -c 'import sqlite3, sys
src = sqlite3.connect(sys.argv[1]); dst = sqlite3.connect(sys.argv[2])
src.backup(dst); dst.close()' "$1" "$2"
}
server_tokens() {
	sim_ctl GET /_sim/tokens | jq -c '[.tokens[] | .token] | sort'
}

sim_start "$modesim" --workspace acme:adminkey:adminsecret --now 2026-01-01T00:00Z
clean=$TW_TMP/clean.db
db=$TW_TMP/tw.db
"$tw_bin" keygen --public-key "$TW_TMP/seal.pub" --secret-key "$TW_TMP/seal.key" --no-passphrase >/dev/null
"$tw_bin" init --db "$clean" --public-key "$TW_TMP/seal.pub" >/dev/null
mkdir -p "$TW_TMP/creds" "$TW_TMP/run"
printf 'adminkey:adminsecret\n' >"$TW_TMP/creds/acme-admin"
chmod 600 "$TW_TMP/creds/acme-admin"
export CREDENTIALS_DIRECTORY=$TW_TMP/creds
# policy DB [INTEGRITY]: writes the policy for store DB.
policy() {
	cat >"$TW_TMP/policy.yaml" <<YAML
version: 1
store: { path: $1, public_key: $TW_TMP/seal.pub${2:+, integrity: $2} }
defaults: { lifetime: 10d, rotate_before: 4d, grace: 12h }
workspaces:
  - name: acme
    api: $SIM_URL
    credential: acme-admin
    tokens:
      - name: etl
        deliver: [ { file: $TW_TMP/run/etl.json } ]
      - name: bi
        deliver: [ { file: $TW_TMP/run/bi.json } ]
YAML
}
export TOKENWARDEN_CONFIG=$TW_TMP/policy.yaml

echo "== an untouched store verifies"
policy "$clean"
at 2026-01-01T00:00Z
run 0 rotate
at 2026-01-08T00:00Z
run 0 rotate
expect "$out" "rotate: 2 rotated"
run 0 audit verify --db "$clean"
expect "$out" "history intact"
expect "$out" "the tables follow from it: 4 token rows"
run 0 audit verify --db "$clean" --json
jq -e '.intact and .tables.rows == 4 and (.tables.differences | length) == 0' "$out" >/dev/null ||
	fail "audit verify --json on an untouched store: $(cat "$out")"
etl_active=$(sql "$clean" "SELECT t.id FROM tokens t JOIN slots s ON s.id = t.slot_id WHERE s.name = 'etl' AND t.state = 'active'")
bi_active=$(sql "$clean" "SELECT t.id FROM tokens t JOIN slots s ON s.id = t.slot_id WHERE s.name = 'bi' AND t.state = 'active'")
at 2026-01-08T01:00Z

# verified_tampered CASE SQL WANT: applies SQL to a copy of the clean
# store; audit verify must exit 4 and say WANT.
verified_tampered() {
	echo "== $1"
	rm -f "$db" "$db-wal" "$db-shm"
	snapshot "$clean" "$db"
	sql "$db" "$2" >/dev/null
	policy "$db"
	run 4 audit verify --db "$db"
	expect "$out" "history intact"
	expect "$out" "$3"
}
# tampered CASE SQL WANT: verified_tampered, and its JSON lists it; rotate
# must refuse and change nothing.
tampered() {
	local what=$1 edit=$2 want=$3 before events
	verified_tampered "$what" "$edit" "$want"
	run 4 audit verify --db "$db" --json
	jq -e '.intact and (.tables.differences | length) > 0' "$out" >/dev/null ||
		fail "$what: audit verify --json does not report it: $(cat "$out")"
	before=$(server_tokens)
	events=$(sql "$db" "SELECT count(*) FROM events")
	run 1 rotate --force etl
	expect "$err" "the tables no longer follow from the history"
	expect "$err" "$want"
	[ "$(server_tokens)" = "$before" ] || fail "$what: a refused rotate changed the server's tokens"
	[ "$(sql "$db" "SELECT count(*) FROM events")" = "$events" ] ||
		fail "$what: a refused rotate recorded events"
}

tampered "a longer expiry on the active token" \
	"UPDATE tokens SET expires_at = expires_at + 30 * 86400000 WHERE id = $etl_active" \
	"token row $etl_active (acme/etl"
tampered "a live token made retiring, its retire_after past" \
	"UPDATE tokens SET state = 'retiring', retire_after = 0 WHERE id = $bi_active" \
	"token row $bi_active (acme/bi"
tampered "a row added with no event" \
	"INSERT INTO tokens (workspace_id, slot_id, token, name, state, origin, requested_at, expires_at, updated_at)
	 SELECT workspace_id, NULL, 'tok-planted', 'planted', 'retiring', 'imported', 0, 9e15, 0 FROM tokens WHERE id = $etl_active" \
	"no event records it"
# The same bytes as a blob: the token then answers to no lookup by its id.
tampered "the active token's id stored as a blob" \
	"UPDATE tokens SET token = CAST(token AS BLOB) WHERE id = $etl_active" \
	"token row $etl_active (acme/etl"
tampered "the workspace renamed" \
	"UPDATE workspaces SET name = 'globex'" \
	"token row $etl_active (globex/etl"

echo "== a removed row: audit verify finds it"
rm -f "$db" "$db-wal" "$db-shm"
snapshot "$clean" "$db"
gone=$(sql "$db" "SELECT min(id) FROM tokens")
sql "$db" "DELETE FROM tokens WHERE id = $gone" >/dev/null
run 4 audit verify --db "$db"
expect "$out" "token row $gone is in the history (event"

# records_tampered CASE SQL TABLE WANT: verified_tampered, and its JSON
# lists one difference, of TABLE (the records of the tokens consumers hold
# follow from the history too), which audit report counts.
records_tampered() {
	local what=$1 edit=$2 table=$3 want=$4
	verified_tampered "$what" "$edit" "$want"
	run 4 audit verify --db "$db" --json
	jq -e --arg t "$table" '.intact and ([.tables.differences[] | select(.table == $t)] |
		length) == 1 and (.tables.differences | length) == 1' "$out" >/dev/null ||
		fail "$what: audit verify --json does not list one difference of $table: $(cat "$out")"
	run 4 audit report --db "$db" --format json
	jq -e '.integrity.records_differ == 1 and .integrity.rows_differ == 0 and
		(.integrity.intact | not)' "$out" >/dev/null ||
		fail "$what: audit report does not count it: $(head -c 600 "$out")"
}

etl_file=$(sql "$clean" "SELECT consumer FROM handed h JOIN tokens t ON t.id = h.token_row WHERE t.id = $etl_active")
[ -n "$etl_file" ] || fail "no record of the token etl's consumer holds"
records_tampered "a consumer's record pointed at another token" \
	"UPDATE handed SET token_row = $bi_active WHERE consumer = '$etl_file'" handed \
	"the record of the token consumer $etl_file holds (token row $bi_active, of acme/bi) differs"
records_tampered "an offer planted in a consumer's record" \
	"UPDATE handed SET offered = $etl_active WHERE consumer = '$etl_file'" handed \
	"the record of the token consumer $etl_file holds (token row $etl_active, of acme/etl) differs"
records_tampered "a consumer's record removed" \
	"DELETE FROM handed WHERE consumer = '$etl_file'" handed \
	"the record of the token consumer $etl_file holds (token row $etl_active, of acme/etl) is in the history"
records_tampered "a consumer's record planted" \
	"INSERT INTO handed (consumer, token_row) VALUES ('0123456789abcdef0123456789abcdef', $etl_active)" \
	handed "consumer 0123456789abcdef0123456789abcdef holds (token row $etl_active, of acme/etl): no event records it"
records_tampered "a slot's record pointed at its old token" \
	"UPDATE slot_reached SET token_row = token_row - 2 WHERE token_row = $etl_active" slot_reached \
	"the record of the token that reached slot acme/etl's consumers (token row $((etl_active - 2))) differs"
records_tampered "a slot's record removed" \
	"DELETE FROM slot_reached WHERE token_row = $bi_active" slot_reached \
	"the record of the token that reached slot acme/bi's consumers (token row $bi_active) is in the history"

# secrets_tampered CASE SQL WANT: verified_tampered, and audit report, which
# holds the live tokens' sealed secrets to their digests too, counts one.
secrets_tampered() {
	local what=$1 edit=$2 want=$3
	verified_tampered "$what" "$edit" "$want"
	run 4 audit verify --db "$db" --json
	jq -e '([.tables.differences[] | select(.table == "secrets")] | length) == 1 and
		(.tables.differences | length) == 1' "$out" >/dev/null ||
		fail "$what: audit verify --json does not list one difference of secrets: $(cat "$out")"
	run 4 audit report --db "$db" --format json
	jq -e '.integrity.secrets_differ == 1 and .integrity.rows_differ == 0 and
		.integrity.records_differ == 0 and (.integrity.intact | not)' "$out" >/dev/null ||
		fail "$what: audit report does not count it: $(head -c 600 "$out")"
	run 4 audit report --db "$db"
	expect "$out" "verified NOT intact: 1 sealed secret differs from the history"
}

policy "$clean"
run 0 audit report --db "$clean"
expect "$out" "verified intact: the chain holds and all 4 live token rows, the records of the tokens consumers hold and the sealed secrets follow from it"
secrets_tampered "a live token's sealed secret replaced" \
	"UPDATE secrets SET sealed = zeroblob(length(sealed)) WHERE token_row = $etl_active" \
	"the sealed secret of token row $etl_active (acme/etl"
secrets_tampered "a retiring token's sealed secret replaced by the active one's" \
	"UPDATE secrets SET sealed = (SELECT sealed FROM secrets WHERE token_row = $bi_active) WHERE token_row = $((bi_active - 2))" \
	"the sealed secret of token row $((bi_active - 2)) (acme/bi"

echo "== integrity: warn runs on, and says so"
rm -f "$db" "$db-wal" "$db-shm"
snapshot "$clean" "$db"
sql "$db" "UPDATE tokens SET expires_at = expires_at + 86400000 WHERE id = $etl_active" >/dev/null
policy "$db" warn
run 0 rotate --force etl
expect "$out" "rotate: 1 rotated"
expect "$err" "the tables no longer follow from the history"
run 0 policy check
policy "$db" ignore
run 2 policy check
expect "$err" "integrity"

echo "== the untouched store rotates on"
policy "$clean"
run 0 rotate --force bi
expect "$out" "rotate: 1 rotated"
run 0 audit verify --db "$clean"
expect "$out" "the tables follow from it: 5 token rows"

echo "== an untouched store verifies while another process writes to it"
# audit verify read the store's next event id after its read of the events
# had ended: a commit in between looked like the last events deleted.
busy=$TW_TMP/busy.db
"$tw_bin" init --db "$busy" --public-key "$TW_TMP/seal.pub" >/dev/null
(for i in $(seq 1 150); do
	"$tw_bin" token import --db "$busy" -w acme --token "tok$i" --name "name$i" \
		--created-at 1d --expires-at 30d >/dev/null 2>&1 || exit 1
done) &
writer=$!
verifies=0 broken=0
while kill -0 "$writer" 2>/dev/null; do
	st=0
	"$tw_bin" audit verify --db "$busy" >"$out" 2>&1 || st=$?
	verifies=$((verifies + 1))
	if [ "$st" -ne 0 ]; then
		broken=$((broken + 1))
		[ "$broken" -eq 1 ] && echo "audit verify beside a writer: $(head -c 300 "$out")" >&2
	fi
done
wait "$writer" || fail "the writer's imports failed"
[ "$broken" -eq 0 ] || fail "audit verify called an untouched store broken $broken times of $verifies"
echo "$verifies verifies beside 150 imports"
run 0 audit verify --db "$busy"
expect "$out" "the tables follow from it: 150 token rows"

if [ "$failures" -ne 0 ]; then
	echo "$failures failure(s)" >&2
	exit 1
fi
echo "ok"
