#!/usr/bin/env bash
# End-to-end: text that could make a terminal line read otherwise than it
# is (a right-to-left override, U+202E, and an 8-bit CSI, U+009B) reaches
# tokenwarden from the server (a token named in Mode's own interface), from
# a store an older version wrote (which took such names) and from a
# consumer's output.  Every verb that shows it shows each of its bytes as
# '?' (a consumer's as ' ', audit log's one '?' a character), never the
# bytes themselves, and a name already
# stored can still be looked up by itself.
# usage: test_hostile_text.sh MODESIM TOKENWARDEN
set -euo pipefail
umask 077
modesim=$1
tw_bin=$2
. "$(dirname "$0")/../lib/sim.sh"
. "$(dirname "$0")/../lib/check.sh"

unset TOKENWARDEN_DB TOKENWARDEN_PUBLIC_KEY TOKENWARDEN_CONFIG TOKENWARDEN_CREDENTIAL
out=$TW_TMP/out
err=$TW_TMP/err
hostile=$'etl\xe2\x80\xae\xc2\x9b2Jx'
shown='etl?????2Jx'

# clean WHAT: fails if the last command printed a byte of the hostile text's controls.
clean() {
	if LC_ALL=C grep -q $'\xe2\x80\xae\|\xc2\x9b' "$out" "$err"; then
		fail "$1: printed a bidirectional or C1 control as it is"
	fi
}

# rename FROM TO: what an older version could have stored, the history left as it was.
rename() {
	python3 - "$db" "$1" "$2" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
n = db.execute("UPDATE tokens SET name = ? WHERE name = ?", (sys.argv[3], sys.argv[2])).rowcount
db.execute("UPDATE events SET details = replace(details, ?, ?)", (sys.argv[2], sys.argv[3]))
db.commit()
sys.exit(0 if n == 1 else 1)
PY
}

sim_start "$modesim" --workspace acme:adminkey:adminsecret --now 2027-01-01T02:00Z
db=$TW_TMP/tw.db
"$tw_bin" keygen --public-key "$TW_TMP/seal.pub" --secret-key "$TW_TMP/seal.key" --no-passphrase >/dev/null
"$tw_bin" init --db "$db" --public-key "$TW_TMP/seal.pub" >/dev/null
mkdir -p "$TW_TMP/creds" "$TW_TMP/run"
printf 'adminkey:adminsecret\n' >"$TW_TMP/creds/acme-admin"
export CREDENTIALS_DIRECTORY=$TW_TMP/creds TOKENWARDEN_NOW=2027-01-01T02:00Z
# A consumer that refuses the token and says why with the hostile text.
hook=$TW_TMP/hook
cat >"$hook" <<'SH'
#!/bin/sh
cat >/dev/null
printf 'refused: why \342\200\256\302\2332J\n' >&2
exit 1
SH
chmod 700 "$hook"
cat >"$TW_TMP/policy.yaml" <<YAML
version: 1
store: { path: $db, public_key: $TW_TMP/seal.pub }
defaults: { lifetime: 10d, rotate_before: 4d, grace: 1d }
schedule: { retries: 0 }
workspaces:
  - name: acme
    api: $SIM_URL
    credential: acme-admin
    tokens:
      - name: etl
        deliver: [ { file: "$TW_TMP/run/etl.json" } ]
      - name: hook
        deliver: [ { exec: [ "$hook", "why" ] } ]
YAML
export TOKENWARDEN_CONFIG=$TW_TMP/policy.yaml
api=(--api "$SIM_URL" -w acme --credential-file "$TW_TMP/creds/acme-admin")

echo "== a consumer's output"
run 1 rotate
expect "$err" "refused: why"
clean "rotate, a consumer's output"

echo "== the server's name for a token"
id=$(curl -s -u adminkey:adminsecret -H 'Content-Type: application/json' \
	-d "{\"signature_token\": {\"name\": \"$hostile\", \"expires_at\": \"2027-02-01T00:00Z\",
	    \"auth_scope\": {\"authentication_for\": \"batch-api\", \"authorization_type\": \"read-only\"}}}" \
	"$SIM_URL/batch/acme/signature_tokens" | jq -r .token)
[ -n "$id" ] && [ "$id" != null ] || fail "the simulator made no token named with controls"
run 0 token delete "${api[@]}" --db "$db" "$id"
expect "$out" "deleted token $id \"$shown\""
clean "token delete"

echo "== a name an older version stored"
active=$(jq -r .name "$TW_TMP/run/etl.json")
rename "$active" "$hostile" || fail "no token named $active to rename"
run 0 token show --db "$db" -w acme "$hostile"
expect "$out" "$shown"
clean "token show, by the stored name"
run 0 token list --db "$db"
expect "$out" "$shown"
clean "token list"
run 0 audit log --db "$db"
# One '?' a character here, as audit log has always shown a C1 one.
expect "$out" '"name":"etl??2Jx"'
clean "audit log"
run 0 revoke --yes acme/etl
expect "$out" "($shown) of acme/etl"
clean "revoke"

echo "== a lost create's name in the plan"
sim_ctl POST /_sim/faults '{"lost_post_rate": 1}' >/dev/null
run 1 rotate --force acme/etl
sim_ctl POST /_sim/faults '{}' >/dev/null
lost=$(python3 -c 'import sqlite3, sys
print(sqlite3.connect(sys.argv[1]).execute("SELECT name FROM tokens WHERE state = ?", ("unknown",)).fetchone()[0])' "$db")
rename "$lost" "$hostile-2" || fail "no unknown token named $lost to rename"
run 3 plan
expect "$out" "$shown-2"
clean "plan"

echo "== the user's own words in an error message"
# An id or a head typed (or pasted) with terminal controls in it: refused,
# and echoed with each control as '?'.  ESC [ 2 J clears the screen.
esc=$'\x1b[2J'
run 2 token import -w acme --token "x${esc}y" --name n1 --created-at 2027-01-01T00:00Z \
	--expires-at 2027-02-01T00:00Z --secret-stdin --db "$db"
expect "$err" "'x?[2Jy' is not a signature token id"
run 2 audit verify --db "$db" --head "0${esc}${hostile}"
expect "$err" "--head '0?[2Jetl?????2Jx': expected the 64 hexadecimal digits"
for what in "token import" "audit verify"; do
	if LC_ALL=C grep -q $'\x1b' "$out" "$err"; then
		fail "$what: printed an escape as it is"
	fi
done
clean "audit verify --head"

if [ "$failures" -ne 0 ]; then
	echo "$failures check(s) failed" >&2
	exit 1
fi
echo "all hostile-text checks passed"
