#!/usr/bin/env bash
# End-to-end: rekey past secrets that do not open.  Of three stored
# secrets, one is altered (a bit flipped) and one is another token's blob
# copied over it (it opens, but names the other token).  Checked from
# outside, with the files and the verbs an auditor has:
#   - rekey alone refuses (exit 1), names the altered one, says how to go
#     on, and changes nothing: blobs, pin and history as they were;
#   - the moved blob stops rekey --drop-unopenable too (it opens: the
#     secret it holds is not lost), nothing changed, until put back;
#   - then rekey --drop-unopenable reseals the other two to the new key,
#     drops the altered one, and records it (secret.dropped, its reason and
#     the old key); the history verifies and the tables follow from it; the
#     resealed secrets open with the new key alone, the dropped one is gone.
# usage: test_rekey_drop.sh TOKENWARDEN
set -euo pipefail
umask 077
tw_bin=$(cd "$(dirname "$1")" && pwd)/$(basename "$1") # the test works in $TW_TMP
. "$(dirname "$0")/../lib/sim.sh"
. "$(dirname "$0")/../lib/check.sh"
unset TOKENWARDEN_CONFIG TOKENWARDEN_PUBLIC_KEY TOKENWARDEN_CREDENTIAL
out=$TW_TMP/out
err=$TW_TMP/err
db=$TW_TMP/tw.db
export TOKENWARDEN_DB=$db TOKENWARDEN_NOW=2027-01-01T00:00Z
cd "$TW_TMP"

# sqlq QUERY: the rows, fields joined by '|'.
sqlq() {
	python3 -c '
import sqlite3, sys
for r in sqlite3.connect(sys.argv[1]).execute(sys.argv[2]):
    print("|".join("" if v is None else str(v) for v in r))
' "$db" "$1"
}
row_of() { sqlq "SELECT id FROM tokens WHERE token = '$1'"; }
state() {
	sqlq "SELECT token_row, hex(sealed), key_fingerprint FROM secrets ORDER BY 1"
	sqlq "SELECT value FROM meta WHERE key = 'key_fingerprint'"
}
events() { sqlq "SELECT count(*) FROM events"; }

run 0 keygen --public-key a.pub --secret-key a.sec --no-passphrase
run 0 keygen --public-key b.pub --secret-key b.sec --no-passphrase
run 0 init --public-key a.pub
for id in tokone toktwo tokthree; do
	printf 'AK-%s:secret-of-%s\n' "$id" "$id" >in
	RUN_STDIN=in run 0 token import -w acme --token "$id" --name "import-$id" \
		--created-at 2026-12-01T00:00Z --expires-at 2099-01-01T00:00Z --public-key a.pub --secret-stdin
done
# tokone altered; toktwo holds tokthree's blob, which opens but names tokthree.
# blob ID: a row's sealed secret, in hex.
blob() { sqlq "SELECT hex(sealed) FROM secrets WHERE token_row = $(row_of "$1")"; }
toktwo_blob=$(blob toktwo)
python3 -c '
import sqlite3, sys
c = sqlite3.connect(sys.argv[1], isolation_level=None)
get = "SELECT sealed FROM secrets WHERE token_row = ?"
one = bytearray(c.execute(get, (sys.argv[2],)).fetchone()[0])
one[-1] ^= 0x10
three = c.execute(get, (sys.argv[4],)).fetchone()[0]
c.execute("UPDATE secrets SET sealed = ? WHERE token_row = ?", (bytes(one), sys.argv[2]))
c.execute("UPDATE secrets SET sealed = ? WHERE token_row = ?", (three, sys.argv[3]))
' "$db" "$(row_of tokone)" "$(row_of toktwo)" "$(row_of tokthree)"
before=$(state)
n=$(events)

echo "== a moved secret stops rekey, with --drop-unopenable too, and changes nothing"
for flag in "" --drop-unopenable; do
	# shellcheck disable=SC2086 # no flag is no word
	run 1 rekey --secret-key a.sec --new-public-key b.pub $flag
	expect "$err" "the sealed secret stored for token toktwo in workspace acme belongs to another token (workspace acme, token tokthree)"
	expect "$err" "rekey drops no secret that opens"
	expect "$err" "nothing was changed"
	grep -q "give --drop-unopenable" "$err" && fail "rekey $flag suggests --drop-unopenable for a moved secret"
	tw_expect_eq "the secrets and the pin after rekey $flag" "$(state)" "$before"
	tw_expect_eq "events after rekey $flag" "$(events)" "$n"
done
python3 -c '
import sqlite3, sys
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("UPDATE secrets SET sealed = ? WHERE token_row = ?", (bytes.fromhex(sys.argv[3]), sys.argv[2]))
' "$db" "$(row_of toktwo)" "$toktwo_blob"
before=$(state)

echo "== rekey refuses, names the secret that does not open, changes nothing"
run 1 rekey --secret-key a.sec --new-public-key b.pub
expect "$err" "1 secret of 3 cannot be resealed"
expect "$err" "the sealed secret of token tokone in workspace acme does not open with this secret key"
expect "$err" "give --drop-unopenable to reseal the others and drop that one"
expect "$err" "nothing was changed"
tw_expect_eq "the secrets and the pin after a refused rekey" "$(state)" "$before"
tw_expect_eq "events after a refused rekey" "$(events)" "$n"

echo "== --drop-unopenable reseals the rest and records the secret it drops"
run 0 rekey --secret-key a.sec --new-public-key b.pub --drop-unopenable
expect "$out" "resealed 2 secrets to b.pub"
expect "$err" "dropped 1 secret that could not be resealed"
tw_expect_eq "events after the rekey (a store.rekey, a secret.dropped, two secret.resealed)" "$(events)" $((n + 4))
run 0 audit log --kind secret.dropped --json
tw_expect_eq "secret.dropped events" "$(grep -c '"kind":"secret.dropped"' "$out")" 1
expect "$out" '"token":"tokone"'
expect "$out" "\"key_fingerprint\":\"$(grep -o 'tw1:[A-Za-z0-9_-]*' <<<"$before" | head -1)\""
run 0 audit log --kind store.rekey --json
expect "$out" '"count":2'
expect "$out" '"dropped":1'
run 0 audit verify
expect "$out" "the tables follow from it"
for id in toktwo tokthree; do
	run 0 secret reveal -w acme "$id" --secret-key b.sec
	expect "$out" "secret-of-$id"
	run 1 secret reveal -w acme "$id" --secret-key a.sec
done
run 1 secret reveal -w acme tokone --secret-key b.sec
expect "$err" "token tokone in workspace acme has no stored secret"
expect "$err" "dropped by a rekey"
run 0 token show -w acme tokone
tw_expect_eq "secrets left" "$(sqlq "SELECT count(*) FROM secrets")" 2

if [ "$failures" -ne 0 ]; then
	echo "$failures check(s) failed" >&2
	exit 1
fi
echo "all rekey-drop checks passed"
