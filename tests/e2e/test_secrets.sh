#!/usr/bin/env bash
# End-to-end: secret reveal, rekey, audit verify and audit log with the real
# binary and a real database (no simulator).  Tampering is done with python3's
# sqlite3 module, as someone with the file would.  Every failing case checks
# the exit status, the message, and that nothing changed.
# usage: test_secrets.sh TOKENWARDEN [CC]
set -euo pipefail
umask 077
tw_bin=$(cd "$(dirname "$1")" && pwd)/$(basename "$1") # the test works in $TW_TMP
. "$(dirname "$0")/../lib/sim.sh"
. "$(dirname "$0")/../lib/check.sh"
# The shim the terminal cases run under (slowtty.c).
"${2:-cc}" -shared -fPIC -O2 -o "$TW_TMP/slowtty.so" "$(dirname "$0")/slowtty.c" -ldl

cd "$TW_TMP"
# The interpreter itself, not a version manager's shim: it runs many times.
py=$(python3 -c 'import sys; print(sys.executable)')
db=$TW_TMP/tw.db
export TOKENWARDEN_DB=$db
unset TOKENWARDEN_PUBLIC_KEY TOKENWARDEN_CREDENTIAL
out=$TW_TMP/out
err=$TW_TMP/err
stderr_all=$TW_TMP/all-stderr
stdout_all=$TW_TMP/all-stdout # everything printed except the reveals' own output
: >"$stderr_all"
: >"$stdout_all"

# The known secrets: long and unlike anything else, so a match is real.
S1=e2e-known-secret-one-Q7v2Xk9pLm
S2=e2e-known-secret-two-Zr4Wq8nTbc
S3=e2e-known-secret-three-Hy6Ds1aUoe
PASS='correct horse battery staple'
bearer1=$(printf 'tokone:AK-tokone:%s' "$S1" | base64 -w0)
bearer2=$(printf 'toktwo:AK-toktwo:%s' "$S2" | base64 -w0)
bearer3=$(printf 'tokthree:AK-tokthree:%s' "$S3" | base64 -w0)
PASS_FILE=$TW_TMP/pass
printf '%s\n' "$PASS" >"$PASS_FILE"

# run STATUS ARGS...: as check.sh's, with no controlling terminal (setsid:
# a passphrase prompt fails instead of waiting), keeping what it printed
# (but a reveal's own output) and failing on a sanitizer's report.
RUN_PREFIX=(setsid -w)
run() {
	tw_run "$@"
	cat "$err" >>"$stderr_all"
	if [ "${2:-}" != secret ]; then
		cat "$out" >>"$stdout_all"
	fi
	if grep -qE 'Sanitizer|runtime error:' "$err"; then
		fail "tokenwarden ${*:2}: sanitizer report"
	fi
}

# sqlq DB QUERY: prints the rows, fields joined by '|'.
sqlq() {
	"$py" -c '
import sqlite3, sys
c = sqlite3.connect(sys.argv[1], isolation_level=None)
for r in c.execute(sys.argv[2]):
    print("|".join("" if v is None else str(v) for v in r))
' "$1" "$2"
}

# sqlx DB SCRIPT: runs statements.
sqlx() {
	"$py" -c '
import sqlite3, sys
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.executescript(sys.argv[2])
' "$1" "$2"
}

# backup DB COPY: a consistent copy, WAL included.
backup() {
	"$py" -c '
import sqlite3, sys
src = sqlite3.connect(sys.argv[1])
dst = sqlite3.connect(sys.argv[2])
src.backup(dst)
dst.close()
' "$1" "$2"
}

# swap_blobs DB ROW1 ROW2: exchanges two rows' sealed secrets.
swap_blobs() {
	"$py" -c '
import sqlite3, sys
c = sqlite3.connect(sys.argv[1], isolation_level=None)
get = "SELECT sealed FROM secrets WHERE token_row = ?"
a = c.execute(get, (sys.argv[2],)).fetchone()[0]
b = c.execute(get, (sys.argv[3],)).fetchone()[0]
c.execute("UPDATE secrets SET sealed = ? WHERE token_row = ?", (b, sys.argv[2]))
c.execute("UPDATE secrets SET sealed = ? WHERE token_row = ?", (a, sys.argv[3]))
' "$1" "$2" "$3"
}

# flip_bit DB ROW OFFSET: flips one bit of a row's sealed secret (OFFSET may be negative).
flip_bit() {
	"$py" -c '
import sqlite3, sys
c = sqlite3.connect(sys.argv[1], isolation_level=None)
b = bytearray(c.execute("SELECT sealed FROM secrets WHERE token_row = ?", (sys.argv[2],)).fetchone()[0])
b[int(sys.argv[3])] ^= 0x10
c.execute("UPDATE secrets SET sealed = ? WHERE token_row = ?", (bytes(b), sys.argv[2]))
' "$1" "$2" "$3"
}

events() { sqlq "$db" "SELECT count(*) FROM events"; }
kind_count() { sqlq "$db" "SELECT count(*) FROM events WHERE kind = '$1'"; }
row_of() { sqlq "$db" "SELECT id FROM tokens WHERE token = '$1'"; }
blob_hex() { sqlq "$db" "SELECT hex(sealed) FROM secrets WHERE token_row = $(row_of "$1")"; }
all_blobs() { sqlq "$db" "SELECT token_row, hex(sealed), key_fingerprint FROM secrets ORDER BY 1"; }
pinned() { sqlq "$db" "SELECT value FROM meta WHERE key = 'key_fingerprint'"; }

# no_change WHAT BEFORE: the event count is still BEFORE.
no_new_event() {
	[ "$(events)" = "$2" ] || fail "$1 appended an event ($2 -> $(events))"
}

# head_note: the last command noted the history's head, the one now in the store.
head_note() {
	expect "$err" "history head $(sqlq "$db" "SELECT lower(hex(hash)) FROM events ORDER BY id DESC LIMIT 1") (event $(sqlq "$db" "SELECT max(id) FROM events")); keep it elsewhere"
}

# no_head_note WHAT: the last command (a read, or refused) noted no head.
no_head_note() {
	grep -qF "history head" "$err" && fail "$1 noted the history head"
	return 0
}

# A connection held open meanwhile keeps the WAL file from being
# checkpointed and removed, so the scan at the end reads a real WAL.
holder_stop=$TW_TMP/holder.stop
holder_up=$TW_TMP/holder.up

echo "== keys and store"
export TOKENWARDEN_NOW=2024-01-01T00:00Z
run 0 keygen --public-key a.pub --secret-key a.sec --no-passphrase
no_head_note "keygen"
# --public-key before the verb is keygen's own (a file to write), as after it.
run 0 --public-key c.pub keygen --secret-key c.sec --no-passphrase
expect "$out" "wrote public key c.pub"
expect "$out" "c.sec (not passphrase-protected), 0600: move it off the rotating host now"
[ "$(stat -c %a c.pub) $(stat -c %a c.sec)" = "644 600" ] ||
	fail "keygen wrote the keys $(stat -c %a c.pub) and $(stat -c %a c.sec), not 644 and 600"
RUN_STDIN=$PASS_FILE run 0 keygen --public-key b.pub --secret-key b.sec --passphrase-fd 0
expect "$out" "(passphrase-protected)"
run 2 keygen --public-key d.pub --no-passphrase
expect "$err" "keygen needs --public-key and --secret-key: the files to write"
RUN_STDIN=$PASS_FILE run 2 keygen --public-key d.pub --secret-key d.sec --no-passphrase --passphrase-fd 0
expect "$err" "--no-passphrase and --passphrase-fd: give one"
if [ -e d.pub ] || [ -e d.sec ]; then fail "a refused keygen wrote a key"; fi
# A FIFO or a link at a key's path is a path given wrong, even with --force: left as it is.
mkfifo d.fifo
ln -s /proc/self/fd/1 d.link
run 2 keygen --public-key d.fifo --secret-key d.sec --no-passphrase --force
expect "$err" "d.fifo: is a FIFO, which the new file would replace, not write through"
run 2 keygen --public-key d.pub --secret-key d.link --no-passphrase --force
expect "$err" "d.link: is a symbolic link"
[ -p d.fifo ] && [ "$(readlink d.link)" = /proc/self/fd/1 ] || fail "keygen --force replaced a FIFO or a link"
if [ -e d.pub ] || [ -e d.sec ]; then fail "a refused keygen wrote a key"; fi
rm d.fifo d.link
run 0 init --public-key a.pub
head_note
fpr_a=$(pinned)
# Again with the same key: nothing written, so no head to keep.
run 0 init --public-key a.pub
no_head_note "init of a store already pinned to its key"
tw_expect_eq "events after a second init" "$(events)" 1
"$py" -c '
import os, sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("SELECT count(*) FROM meta").fetchall()
open(sys.argv[2], "w").close()
while not os.path.exists(sys.argv[3]):
    time.sleep(0.05)
' "$db" "$holder_up" "$holder_stop" &
holder=$!
# shellcheck disable=SC2016 # expanded when the test exits
tw_at_exit 'touch "$holder_stop"; wait "$holder" 2>/dev/null'
for ((i = 0; i < 100; i++)); do
	[ -e "$holder_up" ] && break
	sleep 0.1
done

# import ID SLOT SECRET: imports token ID (slot "-": unmanaged; secret "-": none).
import() {
	local id=$1 slot=$2 secret=$3 args=()
	[ "$slot" = - ] || args+=(--slot "$slot")
	if [ "$secret" != - ]; then
		printf 'AK-%s:%s\n' "$id" "$secret" >"$TW_TMP/in"
		args+=(--secret-stdin)
	else
		: >"$TW_TMP/in"
	fi
	RUN_STDIN=$TW_TMP/in run 0 token import -w acme --token "$id" --name "import-$id" \
		--created-at 2023-12-01T00:00Z --expires-at 2099-01-01T00:00Z \
		--public-key a.pub "${args[@]}"
	rm -f "$TW_TMP/in"
}
import tokone etl "$S1"
import toktwo bi "$S2"
import tokthree - "$S3"
import toknone ops -
run 0 audit verify
head_note
head_early=$(awk 'NR == 1 {print $NF}' "$out")
[ ${#head_early} -eq 64 ] || fail "no head in: $(cat "$out")"

echo "== reveal"
export TOKENWARDEN_NOW=2024-02-01T00:00Z
n=$(events)
SUDO_USER=e2e-login run 0 secret reveal -w acme tokone --secret-key a.sec --bearer \
	--reason "incident 42: résumé of the ETL outage"
[ "$(cat "$out")" = "access_key    AK-tokone
access_secret $S1
bearer        $bearer1" ] || fail "reveal printed the wrong lines"
tw_expect_eq "events after one reveal" "$(events)" $((n + 1))
tw_expect_eq "reveal events" "$(kind_count secret.revealed)" 1
head_note
sqlq "$db" "SELECT workspace, slot, token FROM events ORDER BY id DESC LIMIT 1" >"$TW_TMP/last"
tw_expect_eq "the reveal event" "$(cat "$TW_TMP/last")" "acme|etl|tokone"
# last_event: the newest event as audit log --json prints it.
last_event() {
	run 0 audit log --json
	tail -n 1 "$out" >"$TW_TMP/last.json"
}
# last_details JQ WHAT: the newest event's details satisfy JQ (with $fpr and $me).
last_details() {
	last_event
	jq -e --arg fpr "${fpr_a:-}" --arg me "$(id -un)" "$1" "$TW_TMP/last.json" >/dev/null ||
		fail "$2: $(cat "$TW_TMP/last.json")"
}
# The fingerprint of the key used, the effective user, the login that claims
# to have asked (marked claimed), and the reason.
last_details '.kind == "secret.revealed" and .details.key_fingerprint == $fpr and
	.details.user == $me and (.actor | startswith($me + "@")) and
	.details.claimed_login == "e2e-login" and .details.claimed_login_from == "SUDO_USER" and
	.details.reason == "incident 42: résumé of the ETL outage" and
	(.details | has("failure") | not)' "the reveal's record"
run 0 audit log --kind secret.revealed
expect "$out" '"reason":"incident 42: résumé of the ETL outage"'
expect "$out" "\"key_fingerprint\":\"$fpr_a\""
# Without --reason or a claimed login other than the user: no such fields.
n=$(events)
SUDO_USER=$(id -un) run 0 secret reveal -w acme tokone --secret-key a.sec
last_details '.details.key_fingerprint == $fpr and .details.user == $me and
	(.details | has("reason") or has("claimed_login") | not)' "a reveal without --reason"
tw_expect_eq "events after the second reveal" "$(events)" $((n + 1))

echo "== --reason refused: exit 2, nothing printed, nothing recorded"
# store_bytes: the store's files as they are, to compare byte for byte.
store_bytes() { cat "$db" "$db-wal" 2>/dev/null | sha256sum; }
bytes=$(store_bytes)
n=$(events)
long=$(printf 'x%.0s' $(seq 257))
for bad in "" "$long" $'two\nlines' $'a\ttab' $'esc\e[31m' $'del\x7f' $'c1\xc2\x9b' $'not utf-8 \xff'; do
	run 2 secret reveal -w acme tokone --secret-key a.sec --reason "$bad"
	expect "$err" "--reason "
	[ -s "$out" ] && fail "a reveal with a bad --reason printed something"
	no_head_note "a reveal with a bad --reason"
done
run 2 secret reveal -w acme tokone --secret-key a.sec --reason "$long"
expect "$err" "--reason is 257 bytes long; at most 256 are recorded"
run 2 secret reveal -w acme tokone --secret-key a.sec --reason $'two\nlines'
expect "$err" "--reason has a control character (at byte 4): give one line of printable text"
run 2 secret reveal -w acme tokone --secret-key a.sec --reason $'\xff'
expect "$err" "--reason is not valid UTF-8 (at byte 1)"
run 2 secret reveal -w acme tokone --secret-key a.sec --reason ""
expect "$err" "--reason is empty"
no_new_event "reveals with a bad --reason" "$n"
tw_expect_eq "the store's bytes after bad --reason" "$(store_bytes)" "$bytes"
# 256 bytes is recorded.
run 0 secret reveal -w acme tokone --secret-key a.sec --reason "${long:1}"
last_details '.details.reason | length == 256' "a 256-byte --reason"

# By slot, as JSON, without --bearer.
run 0 secret reveal -w acme bi --secret-key a.sec --json
jq -e --arg s "$S2" '.token == "toktwo" and .slot == "bi" and .access_key == "AK-toktwo" and
	.access_secret == $s and (has("bearer") | not)' "$out" >/dev/null || fail "reveal --json by slot"
run 0 secret reveal -w acme tokthree --secret-key a.sec --json --bearer
[ "$(jq -r .bearer "$out")" = "$bearer3" ] || fail "--json --bearer"
jq -e '.slot == null' "$out" >/dev/null || fail "an unmanaged token's slot is not null"
# By its Mode-side name.
run 0 secret reveal -w acme import-toktwo --secret-key a.sec --json
jq -e '.token == "toktwo"' "$out" >/dev/null || fail "reveal by the token's name"
tw_expect_eq "reveal events" "$(kind_count secret.revealed)" 6

echo "== reveal refused"
n=$(events)
run 1 secret reveal -w acme toknone --secret-key a.sec
expect "$err" "token toknone in workspace acme has no stored secret"
run 1 secret reveal -w acme nosuch --secret-key a.sec
expect "$err" "workspace acme has no token nosuch"
no_head_note "a refused reveal"
run 1 secret reveal -w other tokone --secret-key a.sec
no_new_event "reveals of no stored secret" "$n"
# A key that does not open it: refused, and recorded as a failed reveal.
SUDO_USER=e2e-login run 1 secret reveal -w acme tokone --secret-key c.sec --reason "try c"
expect "$err" "does not open with this secret key"
expect "$err" "recorded as sealed to key $fpr_a"
[ -s "$out" ] && fail "a reveal with the wrong key printed something"
head_note
tw_expect_eq "failed reveal events" "$(kind_count secret.reveal_failed)" 1
last_details '.kind == "secret.reveal_failed" and .token == "tokone" and
	.details.failure == "wrong_key" and .details.sealed_to == $fpr and
	(.details.key_fingerprint | startswith("tw1:")) and .details.key_fingerprint != $fpr and
	.details.user == $me and .details.claimed_login == "e2e-login" and
	.details.reason == "try c" and (.details.message | contains("does not open"))' \
	"the wrong key's record"
n=$(events)
cp a.sec open.sec
chmod 644 open.sec
run 2 secret reveal -w acme tokone --secret-key open.sec
expect "$err" "permissions 0644 are too open"
run 2 secret reveal -w acme tokone --secret-key missing.sec
expect "$err" "missing.sec"
run 2 secret reveal -w acme tokone
expect "$err" "secret reveal needs --secret-key: the sealing secret key"
expect "$err" "usage: tokenwarden secret reveal [options] TOKEN|SLOT"
run 2 secret reveal tokone --secret-key a.sec
expect "$err" "secret reveal needs --workspace"
run 2 secret reveal -w acme tokone --secret-key a.sec --passphrase-fd -1
expect "$err" "--passphrase-fd '-1': expected a whole number from 0 to 1024"
run 2 secret reveal -w acme tokone toktwo --secret-key a.sec
expect "$err" "usage: tokenwarden secret reveal [options] TOKEN|SLOT"
no_new_event "refused reveals" "$n"
[ -s "$out" ] && fail "a refused reveal printed something"

echo "== blobs moved or altered"
one=$(row_of tokone)
two=$(row_of toktwo)
swap_blobs "$db" "$one" "$two"
run 1 secret reveal -w acme tokone --secret-key a.sec
expect "$err" "belongs to another token (workspace acme, token toktwo) and was moved between rows"
[ -s "$out" ] && fail "a moved blob printed something"
run 1 secret reveal -w acme toktwo --secret-key a.sec
expect "$err" "was moved between rows"
tw_expect_eq "events after reveals of moved blobs" "$(events)" $((n + 2))
last_details '.kind == "secret.reveal_failed" and .token == "toktwo" and
	.details.failure == "moved" and .details.key_fingerprint == $fpr and
	(.details.message | contains("moved between rows"))' "a moved blob's record"
# Swap them back; then flip one bit.
swap_blobs "$db" "$one" "$two"
good_one=$(blob_hex tokone)
flip_bit "$db" "$one" 40
run 1 secret reveal -w acme tokone --secret-key a.sec
expect "$err" "does not open with this secret key: it was sealed to another key, or altered"
tw_expect_eq "events after the reveal of an altered blob" "$(events)" $((n + 3))
last_details '.details.failure == "altered" and .details.key_fingerprint == $fpr' \
	"an altered blob's record"
sqlx "$db" "UPDATE secrets SET sealed = X'$good_one' WHERE token_row = $one"
run 0 secret reveal -w acme tokone --secret-key a.sec
expect "$out" "access_secret $S1"
tw_expect_eq "events after the repaired reveal" "$(events)" $((n + 4))
tw_expect_eq "failed reveal events" "$(kind_count secret.reveal_failed)" 4

echo "== a blob sealed afresh to the public key, another secret inside"
# The public key is no secret: whoever can write the store can seal a blob
# for tokone's workspace and id holding a secret of their choosing (here by
# importing tokone into a store of their own).  It opens, and is the row's;
# only its digest, which the history recorded, tells it from the real one.
FORGED=forged-secret-$RANDOM$RANDOM
run 0 init --db "$TW_TMP/forge.db" --public-key a.pub
printf 'AK-tokone:%s\n' "$FORGED" >"$TW_TMP/in"
RUN_STDIN=$TW_TMP/in run 0 token import --db "$TW_TMP/forge.db" -w acme --token tokone \
	--name import-tokone --created-at 2023-12-01T00:00Z --expires-at 2099-01-01T00:00Z \
	--public-key a.pub --secret-stdin
rm -f "$TW_TMP/in"
sqlx "$db" "UPDATE secrets SET sealed = X'$(sqlq "$TW_TMP/forge.db" "SELECT hex(sealed) FROM secrets")'
	WHERE token_row = $one"
n=$(events)
run 4 audit verify
expect "$out" "the sealed secret of token row $one (acme/etl, tokone, active) differs from what its last event (2) recorded: it was edited outside tokenwarden"
run 1 secret reveal -w acme tokone --secret-key a.sec
expect "$err" "the sealed secret of token tokone in workspace acme is not the one its history recorded (event 2): it was replaced outside tokenwarden, so it is not shown"
[ -s "$out" ] && fail "a replaced blob printed something"
tw_expect_eq "events after the reveal of a replaced blob" "$(events)" $((n + 1))
last_details '.details.failure == "replaced" and .details.key_fingerprint == $fpr' \
	"a replaced blob's record"
# Nor is it resealed, which would record it: the rekey stops and names it.
run 1 rekey --secret-key a.sec --new-public-key b.pub
expect "$err" "1 secret of 3 cannot be resealed (the sealed secret of token tokone in workspace acme is not the one its history recorded (event 2): it was replaced outside tokenwarden)"
tw_expect_eq "pin after a rekey refused for a replaced blob" "$(pinned)" "$fpr_a"
sqlx "$db" "UPDATE secrets SET sealed = X'$good_one' WHERE token_row = $one"
run 0 audit verify
run 0 secret reveal -w acme tokone --secret-key a.sec
expect "$out" "access_secret $S1"

echo "== a reveal that cannot be recorded prints nothing"
# Another connection holds the write lock past the busy timeout (10 s).
"$py" -c '
import os, sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("BEGIN IMMEDIATE")
open(sys.argv[2], "w").close()
for _ in range(600):
    if os.path.exists(sys.argv[3]):
        break
    time.sleep(0.05)
c.execute("ROLLBACK")
' "$db" "$TW_TMP/writer.up" "$TW_TMP/writer.stop" &
writer=$!
for ((i = 0; i < 100; i++)); do
	[ -e "$TW_TMP/writer.up" ] && break
	sleep 0.1
done
n=$(events)
run 1 secret reveal -w acme tokone --secret-key a.sec
expect "$err" "database is locked"
[ -s "$out" ] && fail "a reveal whose event was not recorded printed the secret"
touch "$TW_TMP/writer.stop"
wait "$writer"
no_new_event "an unrecorded reveal" "$n"

echo "== a store the reveal cannot record in is refused before the secret key is read"
# An auditor's read-only copy: reading verbs work on it, but a reveal writes its event.
mkdir "$TW_TMP/ro"
backup "$db" "$TW_TMP/ro/tw.db"
chmod 400 "$TW_TMP/ro/tw.db"
ro_before=$(sqlq "$TW_TMP/ro/tw.db" "SELECT count(*) FROM events")
run 2 secret reveal --db "$TW_TMP/ro/tw.db" -w acme tokone --secret-key a.sec
expect "$err" "$TW_TMP/ro/tw.db: cannot be written: its mode 0400 lets no one write it"
[ -s "$out" ] && fail "a reveal on a store it cannot write printed the secret"
tw_expect_eq "events in the read-only copy" "$(sqlq "$TW_TMP/ro/tw.db" "SELECT count(*) FROM events")" \
	"$ro_before"

echo "== rekey"
export TOKENWARDEN_NOW=2024-03-01T00:00Z
# The run lock is held: exit 5, nothing asked, nothing changed.
n=$(events)
flock "$db.lock" "$tw_bin" rekey --secret-key a.sec --new-public-key b.pub >"$out" 2>"$err" </dev/null &&
	fail "rekey ran while the lock was held" || st=$?
cat "$err" >>"$stderr_all"
tw_expect_eq "rekey under the lock" "${st:-0}" 5
expect "$err" "held by another process"
# One secret cannot be opened: the whole rekey rolls back.
before=$(all_blobs)
flip_bit "$db" "$two" -1
broken=$(all_blobs)
run 1 rekey --secret-key a.sec --new-public-key b.pub
expect "$err" "token toktwo in workspace acme does not open"
expect "$err" "nothing was changed"
no_head_note "a failed rekey"
[ "$(all_blobs)" = "$broken" ] || fail "a failed rekey changed a blob"
tw_expect_eq "pin after a failed rekey" "$(pinned)" "$fpr_a"
no_new_event "a failed rekey" "$n"
sqlx "$db" "UPDATE secrets SET sealed = X'$(echo "$before" | awk -F'|' -v r="$two" '$1 == r {print $2}')'
	WHERE token_row = $two"
[ "$(all_blobs)" = "$before" ] || fail "could not repair the blob"
# Wrong old key, and the new key already pinned.
run 1 rekey --secret-key c.sec --new-public-key b.pub
expect "$err" "pinned to sealing key $fpr_a"
run 1 rekey --secret-key a.sec --new-public-key a.pub
expect "$err" "nothing to do"
run 2 rekey --secret-key a.sec
expect "$err" "rekey needs --secret-key and --new-public-key"
[ "$(all_blobs)" = "$before" ] || fail "a refused rekey changed a blob"
no_new_event "refused rekeys" "$n"
# The real thing.
run 0 rekey --secret-key a.sec --new-public-key b.pub
expect "$out" "resealed 3 secrets to b.pub"
head_note
fpr_b=$(pinned)
[ "$fpr_b" != "$fpr_a" ] || fail "the pin did not move"
expect "$out" "$fpr_b"
tw_expect_eq "rekey events" "$(kind_count store.rekey)" 1
tw_expect_eq "secret.resealed events" "$(kind_count secret.resealed)" 3
tw_expect_eq "events after rekey" "$(events)" $((n + 4))
sqlq "$db" "SELECT details FROM events WHERE kind = 'store.rekey'" >"$TW_TMP/rekey.json"
jq -e --arg a "$fpr_a" --arg b "$fpr_b" '.old == $a and .new == $b and .count == 3' \
	"$TW_TMP/rekey.json" >/dev/null || fail "rekey event details: $(cat "$TW_TMP/rekey.json")"
tw_expect_eq "blobs sealed to the new key" \
	"$(sqlq "$db" "SELECT count(*) FROM secrets WHERE key_fingerprint = '$fpr_b'")" 3
[ "$(blob_hex tokone)" != "$good_one" ] || fail "rekey left a blob as it was"
# Reveal with the new key (passphrase from a descriptor) works, with the old key fails.
n=$(events)
RUN_STDIN=$PASS_FILE run 0 secret reveal -w acme tokone --secret-key b.sec --passphrase-fd 0
expect "$out" "access_secret $S1"
RUN_STDIN=$PASS_FILE run 0 secret reveal -w acme tokthree --secret-key b.sec --passphrase-fd 0 --json
[ "$(jq -r .access_secret "$out")" = "$S3" ] || fail "reveal after rekey"
tw_expect_eq "events after two reveals" "$(events)" $((n + 2))
n=$(events)
run 1 secret reveal -w acme tokone --secret-key a.sec
expect "$err" "does not open with this secret key"
expect "$err" "recorded as sealed to key $fpr_b, and a.sec is key $fpr_a"
printf 'wrong passphrase\n' >"$TW_TMP/wrong"
tw_expect_eq "events after a reveal with the old key" "$(events)" $((n + 1))
last_details '.details.failure == "wrong_key" and .details.key_fingerprint == $fpr and
	.details.sealed_to != $fpr' "the old key's record"
n=$(events)
# A key that does not open it, recorded: exit 1, as for another key (2 records nothing).
RUN_STDIN=$TW_TMP/wrong run 1 secret reveal -w acme tokone --secret-key b.sec --passphrase-fd 0
expect "$err" "wrong passphrase for b.sec"
[ -s "$out" ] && fail "a reveal with a wrong passphrase printed something"
head_note
tw_expect_eq "events after a wrong passphrase" "$(events)" $((n + 1))
# The fingerprint is the one the locked key file carries: the pinned one.
fpr_b_now=$(pinned)
fpr_a=$fpr_b_now last_details '.kind == "secret.reveal_failed" and
	.details.failure == "wrong_passphrase" and .details.key_fingerprint == $fpr and
	.details.sealed_to == $fpr and (.details.message | contains("wrong passphrase"))' \
	"a wrong passphrase's record"
# No passphrase to read: the key was never tried, so no reveal to record.
n=$(events)
run 2 secret reveal -w acme tokone --secret-key b.sec
expect "$err" "use --passphrase-fd"
no_new_event "a reveal with no passphrase to read" "$n"
# The old public key is refused now, the new one accepted.
printf 'AK-tokfour:x\n' >"$TW_TMP/in"
RUN_STDIN=$TW_TMP/in run 2 token import -w acme --token tokfour --name import-tokfour \
	--created-at 2023-12-01T00:00Z --expires-at 2099-01-01T00:00Z --public-key a.pub --secret-stdin
expect "$err" "pinned to sealing key $fpr_b"

echo "== secrets never stored or printed"
[ -s "$db-wal" ] || fail "no WAL to scan (the holder connection did not keep it)"
for f in "$db" "$db-wal" "$stderr_all" "$stdout_all"; do
	[ -e "$f" ] || continue
	for s in "$S1" "$S2" "$S3" "$PASS" "$FORGED"; do
		grep -aqF -- "$s" "$f" && fail "a known secret is in $(basename "$f")"
	done
	for b in "$bearer1" "$bearer2" "$bearer3"; do
		grep -aqF -- "$b" "$f" && fail "a Bearer value is in $(basename "$f")"
	done
done
touch "$holder_stop"
wait "$holder"

echo "== audit verify"
export TOKENWARDEN_NOW=2024-04-01T00:00Z
run 0 audit verify
expect "$out" "history intact: $(events) events, head "
head_now=$(awk 'NR == 1 {print $NF}' "$out")
tw_expect_eq "head" "$head_now" "$(sqlq "$db" "SELECT lower(hex(hash)) FROM events ORDER BY id DESC LIMIT 1")"
run 0 audit verify --json
jq -e --arg h "$head_now" '.intact and .head == $h' "$out" >/dev/null || fail "verify --json"
head_note
run 0 --json audit verify
jq -e --arg h "$head_now" '.intact and .head == $h' "$out" >/dev/null || fail "--json before the verb"
run 0 audit verify --head "$head_early"
expect "$out" "head $head_early is event 5;"
run 0 audit verify --head "$(echo "$head_now" | tr a-f A-F)"
expect "$out" "0 events were written since"
made_up=$(printf '%064d' 42)
run 4 audit verify --head "$made_up"
expect "$out" "head $made_up is not in the history: the history was truncated or rewritten after that head was recorded"
no_head_note "audit verify of a head not in the history"
run 4 audit verify --head "$made_up" --json
jq -e '(.intact | not) and .known_head_event == null' "$out" >/dev/null || fail "verify --head --json"
run 2 audit verify --head xyz
expect "$err" "64 hexadecimal digits"
no_head_note "audit verify refusing --head"

# tamper NAME EXIT TEXT SQL: on a copy of the store, SQL makes verify exit EXIT saying TEXT.
tamper() {
	local name=$1 want=$2 text=$3 sql=$4
	local copy=$TW_TMP/tampered-$name.db
	backup "$db" "$copy"
	sqlx "$copy" "$sql"
	run "$want" audit verify --db "$copy"
	expect "$out" "$text"
	no_head_note "audit verify of a broken history ($name)"
	rm -f "$copy"
}
tamper edit 4 "history broken at event 3: event 3 does not match its hash: it was edited" \
	"UPDATE events SET details = '{\"secret\":false}' WHERE id = 3"
tamper actor 4 "history broken at event 7:" "UPDATE events SET actor = 'someone@else' WHERE id = 7"
tamper delete 4 "history broken at event 4: event 4 follows event 2" "DELETE FROM events WHERE id = 3"
tamper reorder 4 "history broken at event 3: event 3 does not link to the event before it" \
	"UPDATE events SET id = -3 WHERE id = 3; UPDATE events SET id = 3 WHERE id = 4;
	 UPDATE events SET id = 4 WHERE id = -3"
# The same bytes stored as another type: the hash reads them as text or a number alike.
tamper blob 4 "history broken at event 3: event 3's workspace is not stored as it was written" \
	"UPDATE events SET workspace = CAST(workspace AS BLOB) WHERE id = 3"
tamper at 4 "history broken at event 3: event 3's at is not stored as it was written" \
	"UPDATE events SET at = at || 'x' WHERE id = 3"
# The pinned key changed by hand (with a public key file swapped beside it, new
# secrets would be sealed to someone else's key): the history says otherwise.
tamper pin 4 "but its history last recorded key" \
	"UPDATE meta SET value = 'tw1:forged' WHERE key = 'key_fingerprint'"
tamper last 4 "history broken: the history ends at event" \
	"DELETE FROM events WHERE id = (SELECT max(id) FROM events)"
# A damaged page (an index's, here) can hide rows and events from every
# query: the history is not called intact on such a file.
backup "$db" "$TW_TMP/damaged.db"
"$py" - "$TW_TMP/damaged.db" <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
size = c.execute("PRAGMA page_size").fetchone()[0]
page = c.execute("SELECT rootpage FROM sqlite_schema WHERE name = 'sqlite_autoindex_tokens_1'").fetchone()[0]
c.close()
with open(sys.argv[1], "r+b") as f:
    f.seek((page - 1) * size + 8)
    f.write(b"\xff" * 64)
PY
run 4 audit verify --db "$TW_TMP/damaged.db"
expect "$out" "history broken: the store's file is damaged ("
expect "$out" "); restore it from a backup"
no_head_note "audit verify of a damaged file"
# And a write that meets the damage says so, not that a slot has a token.
run 1 token import --db "$TW_TMP/damaged.db" -w acme --token tokdamaged --name import-tokdamaged \
	--created-at 1d --expires-at 30d
expect "$err" "the database is damaged"
grep -q "already has an active token" "$err" && fail "a damaged store's import blamed an active token"
# A careful truncation (sqlite_sequence rewound too) keeps a chain that
# holds; only a head kept elsewhere shows it.
copy=$TW_TMP/truncated.db
backup "$db" "$copy"
sqlx "$copy" "DELETE FROM events WHERE id > 6;
	UPDATE sqlite_sequence SET seq = 6 WHERE name = 'events';
	UPDATE meta SET value = (SELECT json_extract(details, '\$.key_fingerprint') FROM events
		WHERE kind = 'store.init') WHERE key = 'key_fingerprint'"
# And the blobs as they were sealed then, before the rekey (its events are gone).
while IFS='|' read -r row blob key; do
	sqlx "$copy" "UPDATE secrets SET sealed = X'$blob', key_fingerprint = '$key'
		WHERE token_row = $row"
done <<<"$before"
run 0 audit verify --db "$copy"
expect "$out" "history intact: 6 events"
run 0 audit verify --db "$copy" --head "$head_early"
run 4 audit verify --db "$copy" --head "$head_now"
expect "$out" "head $head_now is not in the history: the history was truncated or rewritten"
backup "$db" "$copy.2"
sqlx "$copy.2" "UPDATE events SET details = '{}' WHERE id = 2"
run 4 audit verify --db "$copy.2" --json
jq -e '(.intact | not) and .bad_event == 2 and (.reason | contains("edited"))' "$out" >/dev/null ||
	fail "verify --json of a broken chain"
run 0 audit verify
expect "$out" "history intact"

echo "== audit log"
run 0 audit log
tw_expect_eq "log lines" "$(wc -l <"$out")" "$(events)"
no_head_note "audit log"
# The pinned clock runs from the first reading: a slow process (valgrind) is later.
grep -Eq '^2024-01-01T00:0[0-9]:[0-9]{2}\.[0-9]{3}Z  [^ ]*  token.imported  acme/etl  tokone  \{' "$out" ||
	fail "log line format"
grep -q '  store.init  -  -  {"key_fingerprint":"' "$out" || fail "log line of an event about no workspace"
grep -q '  token.imported  acme/-  tokthree  ' "$out" || fail "log line of an unmanaged token"
run 0 audit log --kind secret.revealed
tw_expect_eq "reveal lines" "$(wc -l <"$out")" "$(kind_count secret.revealed)"
# A reason edited in the table to drive the terminal (a C1 CSI; the schema
# wants valid JSON, so no raw C0) shows as '?'.
backup "$db" "$TW_TMP/c1.db"
sqlx "$TW_TMP/c1.db" "UPDATE events SET details = '{\"reason\":\"a' || char(155) || 'b\"}'
	WHERE id = (SELECT max(id) FROM events WHERE kind = 'secret.revealed')"
run 0 audit log --db "$TW_TMP/c1.db" --kind secret.revealed
expect "$out" '{"reason":"a?b"}'
LC_ALL=C grep -q $'\xc2\x9b' "$out" && fail "audit log printed a C1 control character"
run 0 audit log --kind secret.reveal_failed
tw_expect_eq "failed reveal lines" "$(wc -l <"$out")" "$(kind_count secret.reveal_failed)"
run 0 audit log --slot etl --json
jq -se 'length > 0 and all(.slot == "etl")' "$out" >/dev/null || fail "log --slot"
tw_expect_eq "etl events" "$(jq -s length "$out")" \
	"$(sqlq "$db" "SELECT count(*) FROM events WHERE slot = 'etl'")"
run 0 audit log -w acme --kind token.imported --json
tw_expect_eq "imports" "$(jq -s length "$out")" 4
jq -se 'all(.details | type == "object") and all(.hash | length == 64) and
	all(has("id") and has("at") and has("actor") and has("kind") and has("workspace") and
	has("slot") and has("token"))' "$out" >/dev/null || fail "log --json fields"
run 0 audit log --since 2024-02-01T00:00Z --until 2024-03-01T00:00Z --json
jq -se 'length > 0 and all(.kind | startswith("secret.reveal")) and all(.at | startswith("2024-02-01"))' \
	"$out" >/dev/null || fail "log --since --until"
run 0 audit log --since 2024-03-01T00:00Z --kind store.rekey --json
jq -se 'length == 1 and .[0].details.count == 3' "$out" >/dev/null || fail "log of the rekey"
run 0 audit log --until 2000-01-01T00:00Z
[ -s "$out" ] && fail "log --until before everything printed events"
run 0 audit log -w nosuch
[ -s "$out" ] && fail "log -w nosuch printed events"
run 2 audit log --since yesterday
expect "$err" "--since 'yesterday': expected an ISO 8601 time such as 2026-12-31T23:00Z, 'now', or a duration from now such as 7d (ago) or +1d"
run 2 audit log extra
run 2 audit log --db "$TW_TMP/none.db"
expect "$err" "run 'tokenwarden init' first"

echo "== audit log: times from now, and the kinds"
# Now is 2024-04-01: the store and the imports are from 2024-01-01, the first
# reveals from 2024-02-01, the rekey and the reveals after it from 2024-03-01.
# log_count ARGS...: sets count to the number of events audit log ARGS prints.
log_count() {
	run 0 audit log --json "$@"
	count=$(jq -s length "$out")
}
# sql_count WHERE: the number of events WHERE selects.
sql_count() { sqlq "$db" "SELECT count(*) FROM events WHERE $1"; }
jan2=1704153600000 feb1=1706745600000 feb2=1706832000000 mar1=1709251200000
log_count --since 61d
tw_expect_eq "--since 61d (ago)" "$count" "$(sql_count "at >= $feb1")"
[ "$count" -gt 0 ] || fail "--since 61d printed nothing"
[ "$count" -lt "$(events)" ] || fail "--since 61d printed every event"
log_count --since -61d
tw_expect_eq "--since -61d" "$count" "$(sql_count "at >= $feb1")"
log_count --since 90d --until -61d
tw_expect_eq "--since 90d --until -61d" "$count" "$(sql_count "at >= $jan2 AND at < $feb1")"
log_count --since 61d --until 59d --kind secret.revealed
tw_expect_eq "--since 61d --until 59d" "$count" \
	"$(sql_count "kind = 'secret.revealed' AND at >= $feb1 AND at < $feb2")"
log_count --since 2024-03-01T00:00Z --until +1d --kind secret.revealed
tw_expect_eq "--since TIME --until +1d" "$count" "$(sql_count "kind = 'secret.revealed' AND at >= $mar1")"
log_count --until +1d
tw_expect_eq "--until +1d" "$count" "$(events)"
log_count --until now
tw_expect_eq "--until now" "$count" "$(events)"
log_count --since now
tw_expect_eq "--since now" "$count" 0
run 2 audit log --since 7d --until 30d
# Now runs on from TOKENWARDEN_NOW while the binary starts (a millisecond or more under valgrind).
grep -qE -- "--since 2024-03-25T00:00:00\.[0-9]{3}Z is not before --until 2024-03-02T00:00:00\.[0-9]{3}Z: no event can match" "$err" ||
	fail "expected --since 7d --until 30d refused: no event can match"
[ -s "$out" ] && fail "audit log printed events for an empty window"
run 2 audit log --since now --until now
expect "$err" "is not before --until"
run 2 audit log --until 7x
expect "$err" "--until '7x': expected an ISO 8601 time"
# --kind takes the kinds the store writes, and names them when it is none.
run 2 audit log --kind token.create
expect "$err" "--kind 'token.create': expected one of store.init, store.rekey, store.restored, token.intent, token.created,"
expect "$err" "workspace.clock_agrees; did you mean 'token.created'?"
[ -s "$out" ] && fail "audit log --kind token.create printed something"
run 2 audit log --kind nonsense
expect "$err" "--kind 'nonsense': expected one of store.init,"
grep -qF "did you mean" "$err" && fail "a suggestion for a kind nothing is near"
# Every kind in the history is one --kind takes.
for k in $(sqlq "$db" "SELECT DISTINCT kind FROM events"); do
	run 0 audit log --kind "$k"
done

# help_of VERB...: help VERB and VERB --help print the same: the usage, the
# options, the global ones taken and the notes.
help_of() {
	local verb
	for verb in "$@"; do
		# shellcheck disable=SC2086 # two-word verbs
		run 0 help $verb
		cp "$out" "$TW_TMP/help.1"
		# shellcheck disable=SC2086
		run 0 $verb --help
		cmp -s "$out" "$TW_TMP/help.1" || fail "help $verb and $verb --help differ"
		expect "$out" "usage: tokenwarden $verb [options]"
		expect "$out" "Global options:"
		expect "$out" "Exit status: 0 "
	done
}

echo "== the command line of keygen, init, secret reveal and rekey"
n=$(events)
help_of keygen init "secret reveal" rekey
run 0 keygen --help
for o in "--public-key FILE" "--secret-key FILE" --no-passphrase "--passphrase-fd N" --force; do
	expect "$out" "      $o "
done
run 0 init --help
expect "$out" "      --db FILE "
expect "$out" "      --public-key FILE "
run 0 secret reveal --help
expect "$out" "usage: tokenwarden secret reveal [options] TOKEN|SLOT"
for o in "-w, --workspace WS" "--secret-key FILE" "--passphrase-fd N" --bearer --json "--db FILE"; do
	expect "$out" "$o "
done
grep -qF -- "--public-key" "$out" && fail "secret reveal --help offers --public-key"
run 0 rekey --help
for o in "--secret-key FILE" "--new-public-key FILE" "--passphrase-fd N" "--db FILE"; do
	expect "$out" "$o"
done
expect "$out" "5 another tokenwarden process holds the run lock"
# An unknown option gets the nearest one the verb takes.
run 2 keygen --public-key d.pub --secret-ky d.sec --no-passphrase
expect "$err" "keygen: unknown option '--secret-ky'; did you mean '--secret-key'?"
[ -e d.pub ] && fail "keygen with an unknown option wrote a key"
run 2 init --public-ky a.pub
expect "$err" "init: unknown option '--public-ky'; did you mean '--public-key'?"
run 2 secret reveal -w acme tokone --secret-key b.sec --bearr
expect "$err" "secret reveal: unknown option '--bearr'; did you mean '--bearer'?"
[ -s "$out" ] && fail "a reveal with an unknown option printed something"
run 2 rekey --secret-key b.sec --new-pubic-key a.pub
expect "$err" "rekey: unknown option '--new-pubic-key'; did you mean '--new-public-key'?"
expect "$err" "usage: tokenwarden rekey [options]"
# A global option a verb would ignore is refused.
run 2 keygen --public-key d.pub --secret-key d.sec --no-passphrase --db "$db"
expect "$err" "keygen does not take --db"
no_new_event "refused command lines" "$n"

echo "== the command line of audit verify and audit log"
help_of "audit verify" "audit log"
run 0 audit verify --help
expect "$out" "--head HASH"
expect "$out" "4 the history was altered"
run 0 audit log --help
for o in "--since TIME" "--until TIME" "-w, --workspace WS" "--slot SLOT" "--kind KIND" --json; do
	expect "$out" "$o "
done
expect "$out" "KIND: store.init, store.rekey,"
expect "$out" "7d or -7d is seven days ago, +1d a day ahead"
run 2 audit verify --heads "$head_now"
expect "$err" "audit verify: unknown option '--heads'; did you mean '--head'?"
run 2 audit log --sice 7d
expect "$err" "audit log: unknown option '--sice'; did you mean '--since'?"
expect "$err" "usage: tokenwarden audit log [options]"
run 2 audit log --public-key a.pub
expect "$err" "audit log does not take --public-key"

echo "== a passphrase's length: the same limit typed at a terminal or read from a descriptor"
# typed STATUS LINEFILE ARGS...: tokenwarden ARGS at a terminal of its own
# (a pty), answering each passphrase prompt with LINEFILE's line the moment
# it shows (LINEFILE "^C": typing Control-C instead; "^Z:FILE" or "^C:FILE":
# Control-Z or Control-C at the first prompt, FILE's line after; with
# TYPED_IGNORE naming a signal, the command starts with it ignored); as run, a signal's
# death as 128 + the signal.  Under the shim (slowtty.c) every tcsetattr()
# waits, so a prompt shown before echo is off is caught: the harness then
# exits 99.  It exits 98 when the terminal is left with echo off.
typed() {
	local want=$1 line=$2 st=0
	shift 2
	LD_PRELOAD=$TW_TMP/slowtty.so TW_SLOW_TTY_MS=300 \
		ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
		"$py" - "$line" "$tw_bin" "$@" >"$out" 2>"$err" <<'PY' || st=$?
import fcntl, os, re, select, signal, sys, termios, time
stop = sys.argv[1][:3] in ("^Z:", "^C:")
first = b"\x1a" if sys.argv[1].startswith("^Z:") else b"\x03"
if sys.argv[1] == "^C":
    line = b"\x03"
else:
    line = open(sys.argv[1][3 if stop else 0:], "rb").read().rstrip(b"\n") + b"\n"
fd, slave = os.openpty()
pid = os.fork()
if pid == 0:
    os.setsid()
    fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
    for n in (0, 1, 2):
        os.dup2(slave, n)
    if os.environ.get("TYPED_IGNORE"):
        signal.signal(getattr(signal, os.environ["TYPED_IGNORE"]), signal.SIG_IGN)
    os.execv(sys.argv[2], sys.argv[2:])
# The harness keeps the terminal open to see its state after the child is gone.
def echo_on():
    return termios.tcgetattr(slave)[3] & termios.ECHO
seen, status, deadline = b"", None, time.monotonic() + 30
while status is None:
    if time.monotonic() > deadline:
        os.kill(pid, 9)
    r, _, _ = select.select([fd], [], [], 0.05)
    got = os.read(fd, 4096) if r else b""
    if not got:
        done, st = os.waitpid(pid, os.WNOHANG)
        status = st if done else None
        continue
    seen += got
    if b"\n" in seen:
        sys.stdout.buffer.write(seen[:seen.rindex(b"\n") + 1])
        seen = seen[seen.rindex(b"\n") + 1:]
    # Only at a prompt, with echo off: "Passphrase for ...: " or "Again: ".
    if re.fullmatch(rb"(Passphrase for [^\n]*|Again): ", seen):
        if echo_on():
            print("echo was on at the prompt " + repr(seen.decode()))
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            sys.exit(99)
        sys.stdout.buffer.write(seen)
        if stop:
            os.write(fd, first)
            stop = False
            if os.environ.get("TYPED_IGNORE"):
                time.sleep(0.5)  # no second prompt comes: the line, to the first
                os.write(fd, line)
        else:
            os.write(fd, line)
        seen = b""
while select.select([fd], [], [], 0)[0]:
    seen += os.read(fd, 4096)
sys.stdout.buffer.write(seen)
if not echo_on():
    print("the terminal was left with echo off")
    sys.exit(98)
code = os.waitstatus_to_exitcode(status)
sys.exit(128 - code if code < 0 else code)
PY
	cat "$out" >>"$stdout_all"
	[ "$st" -eq "$want" ] || fail "typed $*: exit $st, expected $want: $(cat "$out")"
}
long=$("$py" -c 'print("p" * 1023)')
printf '%s\n' "$long" >"$TW_TMP/pass1023"
printf '%sq\n' "$long" >"$TW_TMP/pass1024"
n=$(events)
# 1024 bytes: refused either way, with the same words, and no key written.
RUN_STDIN=$TW_TMP/pass1024 run 2 keygen --public-key e.pub --secret-key e.sec --passphrase-fd 0
expect "$err" "passphrase longer than 1023 bytes"
typed 2 "$TW_TMP/pass1024" keygen --public-key e.pub --secret-key e.sec
expect "$out" "passphrase longer than 1023 bytes"
# Without a line's end, too: a descriptor's 1024 bytes once made a key no terminal could open.
printf '%sq' "$long" >"$TW_TMP/pass1024-bare"
RUN_STDIN=$TW_TMP/pass1024-bare run 2 keygen --public-key e.pub --secret-key e.sec --passphrase-fd 0
expect "$err" "passphrase longer than 1023 bytes"
[ -e e.sec ] || [ -e e.pub ] && fail "a refused passphrase left a key"
# 1023 bytes set one way open the key the other way: each reveal gets past the
# passphrase to the key's own refusal (the store is sealed to b).
typed 0 "$TW_TMP/pass1023" keygen --public-key e.pub --secret-key e.sec
expect "$out" "e.sec (passphrase-protected)"
RUN_STDIN=$TW_TMP/pass1023 run 1 secret reveal -w acme tokone --secret-key e.sec --passphrase-fd 0
expect "$err" "does not open with this secret key"
RUN_STDIN=$TW_TMP/pass1023 run 0 keygen --public-key f.pub --secret-key f.sec --passphrase-fd 0
typed 1 "$TW_TMP/pass1023" secret reveal -w acme tokone --secret-key f.sec
expect "$out" "does not open with this secret key"
tw_expect_eq "failed reveals recorded" "$(events)" $((n + 2))
# Control-C at a prompt ends the command as it always did, and puts echo back.
typed 130 "^C" secret reveal -w acme tokone --secret-key e.sec
typed 130 "^C" keygen --public-key g.pub --secret-key g.sec
[ -e g.sec ] || [ -e g.pub ] && fail "an interrupted keygen left a key"
# So does one typed the moment the prompt shows, before the command reads (as
# on a loaded machine: the shim waits after each write to the terminal).
TW_SLOW_TTY_WRITE_MS=300 typed 130 "^C" secret reveal -w acme tokone --secret-key e.sec
TW_SLOW_TTY_WRITE_MS=300 typed 130 "^C" keygen --public-key g.pub --secret-key g.sec
[ -e g.sec ] || [ -e g.pub ] && fail "an interrupted keygen left a key"
# A signal the caller ignores stays ignored: Control-C is no answer, and the
# line typed after it answers the one prompt.
TYPED_IGNORE=SIGINT typed 1 "^C:$TW_TMP/pass1023" secret reveal -w acme tokone --secret-key e.sec
expect "$out" "does not open with this secret key"
[ "$(grep -c 'Passphrase for e.sec' "$out")" = 1 ] || fail "an ignored Control-C made the prompt come again"
# Control-Z where no shell can stop the command (its process group is the
# harness's orphan): the half-typed line is dropped and the prompt comes again.
typed 1 "^Z:$TW_TMP/pass1023" secret reveal -w acme tokone --secret-key e.sec
expect "$out" "does not open with this secret key"
[ "$(grep -c 'Passphrase for e.sec' "$out")" = 2 ] || fail "a continued reveal did not ask again"
tw_expect_eq "an interrupted reveal recorded nothing" "$(events)" $((n + 4))

echo "== nothing secret printed anywhere"
grep -q 'Sanitizer' "$stderr_all" && fail "a sanitizer reported a problem"
for s in "$S1" "$S2" "$S3" "$PASS" "$FORGED" "$long" "$bearer1" "$bearer2" "$bearer3"; do
	grep -aqF -- "$s" "$stderr_all" "$stdout_all" "$db" && fail "a known secret leaked"
done

if [ "$failures" -ne 0 ]; then
	echo "$failures check(s) failed" >&2
	exit 1
fi
echo "all secret and audit checks passed"
