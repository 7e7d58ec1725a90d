#!/usr/bin/env bash
# End-to-end: `backup` copies the store as one moment of it, safe while a
# rotation writes, and the README's restore (the store's files moved aside,
# the copy put in their place) gives a store that verifies against the head
# the backup printed and rotates on.  Checked from outside: the copies with
# `audit verify` and `token list`, the simulator's /_sim/tokens against the
# restored store, the files beside the target.  Every refusal leaves the
# target and the store as they were.
# usage: test_backup.sh MODESIM TOKENWARDEN [CC]
set -euo pipefail
umask 077
modesim=$1
tw_bin=$2
cc_bin=${3:-cc}
. "$(dirname "$0")/../lib/sim.sh"
. "$(dirname "$0")/../lib/check.sh"
. "$(dirname "$0")/../lib/disk_faults.sh"

unset TOKENWARDEN_DB TOKENWARDEN_PUBLIC_KEY TOKENWARDEN_CONFIG TOKENWARDEN_CREDENTIAL
out=$TW_TMP/out
err=$TW_TMP/err
db=$TW_TMP/tw.db
bk=$TW_TMP/bk
mkdir -p "$bk" "$TW_TMP/creds" "$TW_TMP/run"
df_shim "$cc_bin"

# sqlq DB QUERY: the rows, fields joined by '|', read-only.
sqlq() {
	"${DF_PY[@]}" -c '
import sqlite3, sys
c = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True)
for r in c.execute(sys.argv[2]):
    print("|".join("" if v is None else str(v) for v in r))
' "$1" "$2"
}

# head_of FILE: the head a backup printed (its stderr in FILE).
head_of() {
	sed -n 's/.*history head is \([0-9a-f]\{64\}\).*/\1/p' "$1"
}

# copy_ok FILE HEAD: FILE is one whole store file whose history ends at HEAD.
copy_ok() {
	local f=$1 want=$2
	[ -e "$f-wal" ] || [ -e "$f-shm" ] && fail "$f: a -wal or -shm beside the copy"
	[ "$(stat -c %a "$f")" = 600 ] || fail "$f: mode $(stat -c %a "$f"), not 600"
	[ "$(od -An -tu1 -j18 -N2 "$f" | tr -s ' ')" = " 1 1" ] ||
		fail "$f: not marked for a rollback journal (it would need its -wal)"
	# An auditor's copy: read-only, so verifying it writes nothing beside it.
	chmod 400 "$f"
	run 0 audit verify --db "$f" --head "$want"
	expect "$out" "the tables follow from it"
	chmod 600 "$f"
}

sim_start "$modesim" --workspace acme:adminkey:adminsecret --now 2027-01-01T02:00Z
"$tw_bin" keygen --public-key "$TW_TMP/seal.pub" --secret-key "$TW_TMP/seal.key" --no-passphrase >/dev/null
"$tw_bin" init --db "$db" --public-key "$TW_TMP/seal.pub" >/dev/null
printf 'adminkey:adminsecret\n' >"$TW_TMP/creds/acme-admin"
export CREDENTIALS_DIRECTORY=$TW_TMP/creds TOKENWARDEN_NOW=2027-01-01T02:00Z
{
	echo "version: 1"
	echo "store: { path: $db, public_key: $TW_TMP/seal.pub }"
	echo "defaults: { lifetime: 10d, rotate_before: 4d, grace: 1d }"
	echo "workspaces:"
	echo "  - name: acme"
	echo "    api: $SIM_URL"
	echo "    credential: acme-admin"
	echo "    tokens:"
	for i in 1 2 3 4 5 6; do
		echo "      - name: s$i"
		echo "        deliver: [ { file: \"$TW_TMP/run/s$i.json\" } ]"
	done
} >"$TW_TMP/policy.yaml"
export TOKENWARDEN_CONFIG=$TW_TMP/policy.yaml TOKENWARDEN_DB=$db

echo "== a backup is one private file, the store as it is"
run 0 rotate
umask 022
run 0 backup "$bk/first.db"
umask 077
expect "$out" "wrote $bk/first.db, 0600"
first_head=$(head_of "$err")
[ -n "$first_head" ] || fail "backup printed no history head"
run 0 audit verify
expect "$out" "head $first_head"
copy_ok "$bk/first.db" "$first_head"
# The same inventory, read from each.
"$tw_bin" token list --all --json >"$TW_TMP/list.store"
"$tw_bin" token list --all --json --db "$bk/first.db" >"$TW_TMP/list.copy"
cmp -s "$TW_TMP/list.store" "$TW_TMP/list.copy" || fail "the copy lists other tokens than the store"
[ "$(ls -A "$bk")" = first.db ] || fail "files left beside the copy: $(ls -A "$bk")"

echo "== backups taken while a rotation runs are each one whole moment"
# Each answer waits 300 ms: the run takes seconds, rotating all six slots.
sim_ctl POST /_sim/faults '{"latency_ms": 300}' >/dev/null
export TOKENWARDEN_NOW=2027-01-08T02:00Z
sim_ctl POST /_sim/clock '{"advance": "7d"}' >/dev/null
"$tw_bin" rotate >"$TW_TMP/rotate.out" 2>"$TW_TMP/rotate.err" &
rotor=$!
n=0
while kill -0 "$rotor" 2>/dev/null && [ "$n" -lt 40 ]; do
	n=$((n + 1))
	run 0 backup "$bk/during-$n.db"
	head_of "$err" >"$bk/during-$n.head"
	sleep 0.2
done
wait "$rotor" || fail "the rotation beside the backups failed: $(cat "$TW_TMP/rotate.err")"
sim_ctl POST /_sim/faults '{"latency_ms": 0}' >/dev/null
[ "$n" -ge 3 ] || fail "only $n backups were taken during the run"
for i in $(seq 1 "$n"); do
	copy_ok "$bk/during-$i.db" "$(cat "$bk/during-$i.head")"
done
heads=$(cat "$bk"/during-*.head | sort -u | wc -l)
[ "$heads" -ge 3 ] || fail "the backups saw $heads moments of the run, expected several"

echo "== restored as the README says, the store verifies and rotates on"
# A copy from the middle of the run, before its end: the tokens made after it
# are unknown to it, and so are the events.
run 0 audit verify
final_head=$(sed -n 's/^history intact: .* head \([0-9a-f]*\)$/\1/p' "$out")
intents() {
	sqlq "$1" "SELECT count(*) FROM events WHERE kind = 'token.intent'"
}
# A copy caught with a replacement made and not yet delivered: its
# consumers got that token after the copy.  The restore keeps it (retiring
# at its expiry) rather than leave it to the next run, which deletes an
# undelivered replacement before it makes another.
undelivered() {
	sqlq "$1" "SELECT count(*) FROM tokens WHERE state IN ('created', 'verified')
		AND coalesce(retire_after, 0) = 0"
}
picks=()
for i in $(seq 1 "$n"); do
	[ "$(undelivered "$bk/during-$i.db")" != 0 ] &&
		[ "$(intents "$bk/during-$i.db")" -lt "$(intents "$db")" ] && picks+=("$i")
done
[ "${#picks[@]}" -gt 0 ] || fail "no backup caught a replacement before its delivery"
mid=${picks[$((${#picks[@]} / 2))]}
restore_head=$(cat "$bk/during-$mid.head")
in_flight=$(sqlq "$bk/during-$mid.db" "SELECT name FROM tokens WHERE state IN ('created', 'verified')")
inode=$(stat -c %i "$db")
export TOKENWARDEN_NOW=2027-01-08T03:00Z
# Killed holding the store's write transaction, the kept copy made: the
# store is as it was, and no restore is recorded.
st=0
TOKENWARDEN_TEST_CRASH=restore-kept "$tw_bin" restore "$bk/during-$mid.db" \
	>"$out" 2>"$err" || st=$?
tw_expect_eq "a restore killed at restore-kept" "$st" 137
tw_expect_eq "the store's head after a killed restore" \
	"$(sqlq "$db" "SELECT lower(hex(hash)) FROM events ORDER BY id DESC LIMIT 1")" "$final_head"
rm -f "$db".replaced-*
run 0 restore --head "$restore_head" "$bk/during-$mid.db"
# Written into the store's own file: no file replaced, no -wal left to meet it.
tw_expect_eq "the store's inode after the restore" "$(stat -c %i "$db")" "$inode"
expect "$out" "restored $db from $bk/during-$mid.db"
kept=$db.replaced-20270108T030000Z
expect "$out" "the store it replaced is kept as $kept"
[ ! -e "$db-journal" ] || fail "a -journal beside the restored store"
expect "$out" "kept 1 replacement that was in flight when the copy was taken"
# The restore is recorded after the copy's head, and the replacement kept;
# the kept file holds the rest.
run 0 audit verify --head "$restore_head"
expect "$out" "2 events were written since"
tw_expect_eq "the kept replacement's state" \
	"$(sqlq "$db" "SELECT state, retire_after = expires_at FROM tokens WHERE name = '$in_flight'")" \
	"retiring|1"
run 0 audit log --kind token.retiring --json
expect "$out" "restored from a copy taken while it was in flight"
run 0 audit log --kind store.restored --json
expect "$out" "\"replaced_head\":\"$final_head\""
expect "$out" "\"head\":\"$restore_head\""
expect "$out" "\"replaced_kept\":\"$kept\""
# A head kept from after the copy is gone: a restore shows as a truncated history.
run 4 audit verify --head "$final_head"
expect "$out" "is not in the history"
copy_ok "$kept" "$final_head"
sim_ctl GET /_sim/tokens >"$TW_TMP/server.json"
# Every token the restored store holds live is on the server or was deleted
# after the copy (the run went on); every server token the store lacks was
# made after the copy: in the kept store.
"${DF_PY[@]}" - "$TW_TMP/server.json" "$db" "$kept" <<'PY' || fail "the restored store and the server disagree beyond the copy's moment"
import json, sqlite3, sys
server = {t["name"] for t in json.load(open(sys.argv[1]))["tokens"]}
def tokens(path, live):
    c = sqlite3.connect("file:" + path + "?mode=ro", uri=True)
    q = "SELECT name FROM tokens WHERE token IS NOT NULL"
    if live:
        q += " AND state IN ('active', 'retiring')"
    return {r[0] for r in c.execute(q)}
restored, restored_all, later = tokens(sys.argv[2], True), tokens(sys.argv[2], False), tokens(sys.argv[3], False)
bad = [t for t in server - restored_all if t not in later]
bad += [t for t in restored - server if t not in later]
if bad:
    print("unexplained:", bad)
    sys.exit(1)
PY
api=(--api "$SIM_URL" -w acme --credential-file "$TW_TMP/creds/acme-admin")
# consumers_hold_working_tokens WHEN: every consumer's file holds a token
# the server takes.
consumers_hold_working_tokens() {
	for i in 1 2 3 4 5 6; do
		RUN_STDIN=$TW_TMP/run/s$i.json run 0 token verify "${api[@]}" ||
			fail "$1: s$i's consumer holds a token that does not work"
	done
}
# The next run with every create's answer lost: the slots the copy left due
# fail, and every consumer still holds a working token, the one that got the
# kept replacement after the copy included.
sim_ctl POST /_sim/clock '{"now": "2027-01-08T03:00:00Z"}' >/dev/null
sim_ctl POST /_sim/faults '{"lost_post_rate": 1}' >/dev/null
run 1 rotate
expect "$out" "0 rotated, 0 deleted"
sim_ctl POST /_sim/faults '{"lost_post_rate": 0}' >/dev/null
consumers_hold_working_tokens "after a failed run on the restored store"
export TOKENWARDEN_NOW=2027-01-15T03:00Z
sim_ctl POST /_sim/clock '{"advance": "7d"}' >/dev/null
run 0 rotate
run 0 audit verify --head "$restore_head"
consumers_hold_working_tokens "after the next rotation"
# A token made after the copy, which the store does not know, is deleted
# by its id once the slots rotated, as the README says.
orphan=$("${DF_PY[@]}" - "$TW_TMP/server.json" "$db" <<'PY'
import json, sqlite3, sys
c = sqlite3.connect("file:" + sys.argv[2] + "?mode=ro", uri=True)
known = {r[0] for r in c.execute("SELECT name FROM tokens")}
print(next(t["token"] for t in json.load(open(sys.argv[1]))["tokens"] if t["name"] not in known))
PY
)
run 0 token delete "${api[@]}" "$orphan"
sim_ctl GET /_sim/tokens | grep -q "\"$orphan\"" && fail "the token made after the copy is still on the server"
consumers_hold_working_tokens "after the token made after the copy was deleted"

echo "== refusals leave the target and the store as they were"
before=$(sha256sum "$bk/first.db")
store_head=$(sqlq "$db" "SELECT hash FROM events ORDER BY id DESC LIMIT 1")
run 2 backup "$bk/first.db"
expect "$err" "$bk/first.db exists; give --force to replace it"
[ "$(sha256sum "$bk/first.db")" = "$before" ] || fail "a refused backup changed its target"
run 0 backup --force "$bk/first.db"
copy_ok "$bk/first.db" "$(head_of "$err")"
for own in tw.db tw.db-wal tw.db-shm tw.db.lock; do
	run 2 backup --force "$TW_TMP/$own"
	expect "$err" "name a file elsewhere"
done
run 2 backup -
expect "$err" "not standard output"
# A copy that is no store is named as the mistake, not the store's path.
printf 'hello\n' >"$bk/notastore"
run 2 restore "$bk/notastore"
expect "$err" "$bk/notastore: not a SQLite database (it does not begin with SQLite's header), so not a tokenwarden store; name the copy that 'tokenwarden backup' wrote"
rm "$bk/notastore"
run 2 backup --force "$bk"
expect "$err" "$bk: names a directory; give a file's path"
# A FIFO or a link (as /dev/null and /dev/stdout are) is a path given wrong, not replaced.
mkfifo "$bk/fifo"
ln -s /proc/self/fd/1 "$bk/stdout"
run 2 backup --force "$bk/fifo"
expect "$err" "$bk/fifo: is a FIFO, which the new file would replace, not write through; give a regular file's path"
run 2 backup --force "$bk/stdout"
expect "$err" "$bk/stdout: is a symbolic link"
[ -p "$bk/fifo" ] && [ "$(readlink "$bk/stdout")" = /proc/self/fd/1 ] ||
	fail "a refused backup replaced a FIFO or a link"
rm "$bk/fifo" "$bk/stdout"
run 1 backup "$TW_TMP/missing/copy.db"
expect "$err" "$TW_TMP/missing/copy.db: cannot open its directory"
# A full disk at the copy's first write: nothing is left, the store is as it was.
mkdir "$TW_TMP/full"
rc=$(DF_STDIN=/dev/null df_run "$TW_TMP/full" 1 ENOSPC env TW_FAULT_FILES= \
	TW_FAULT_UNDER="$TW_TMP/full/" "$tw_bin" backup "$TW_TMP/full/copy.db")
[ "$rc" = 1 ] || fail "backup onto a full disk: exit $rc, expected 1: $(cat "$TW_TMP/full/faulty.err")"
grep -q "copy.db: .*No space left on device" "$TW_TMP/full/faulty.err" ||
	fail "backup onto a full disk: $(cat "$TW_TMP/full/faulty.err")"
[ -z "$(ls -A "$TW_TMP/full" | grep -v '^faulty\|^count$')" ] ||
	fail "a failed backup left files: $(ls -A "$TW_TMP/full")"
tw_expect_eq "the store's head after the refusals" \
	"$(sqlq "$db" "SELECT hash FROM events ORDER BY id DESC LIMIT 1")" "$store_head"

echo "== a restore refused changes nothing"
export TOKENWARDEN_NOW=2027-01-15T05:00Z
refused_kept=$db.replaced-20270115T050000Z
# edited_copy FILE SQL: the first backup copied to FILE (0600), SQL run on the copy.
edited_copy() {
	"${DF_PY[@]}" - "$bk/first.db" "$1" "$2" <<'PY'
import shutil, sqlite3, sys
shutil.copy(sys.argv[1], sys.argv[2])
sqlite3.connect(sys.argv[2], isolation_level=None).executescript(sys.argv[3])
PY
	chmod 600 "$1"
}
edited_copy "$TW_TMP/broken.db" "UPDATE events SET details = '{\"edited\":1}' WHERE id = 2"
head -c 65536 /dev/urandom >"$TW_TMP/noise.db"
# no_working_copy: restore left nothing of its working copy beside the store.
no_working_copy() {
	local left
	left=$(cd "$(dirname "$db")" && ls -A | grep -F ".$(basename "$db").tw-" || true)
	[ -z "$left" ] || fail "restore left its working copy: $left"
}
restore_refused() {
	local want=$1 text=$2
	shift 2
	run "$want" restore "$@"
	expect "$err" "$text"
	[ ! -e "$refused_kept" ] || fail "a refused restore kept the store aside"
	no_working_copy
	tw_expect_eq "the store's head after a refused restore" \
		"$(sqlq "$db" "SELECT hash FROM events ORDER BY id DESC LIMIT 1")" "$store_head"
}
store_head=$(sqlq "$db" "SELECT hash FROM events ORDER BY id DESC LIMIT 1")
restore_refused 2 "name the copy that 'tokenwarden backup' wrote" "$TW_TMP/missing.db"
restore_refused 2 "is the store itself" "$db"
restore_refused 2 "not a SQLite database" "$TW_TMP/noise.db"
restore_refused 1 "its history does not verify" "$TW_TMP/broken.db"
expect "$err" "nothing was changed"
# A copy of 4 KiB pages (a store made before 2 KiB ones) into one of 2 KiB.
edited_copy "$TW_TMP/4k.db" "PRAGMA page_size = 4096; VACUUM"
tw_expect_eq "the page size of the 4 KiB copy" "$(sqlq "$TW_TMP/4k.db" "PRAGMA page_size")" 4096
restore_refused 1 "SQLite cannot copy one into the other" "$TW_TMP/4k.db"
expect "$err" "nothing was changed"
# A copy whose token rows differ from its history: every run would refuse it.
edited_copy "$TW_TMP/edited.db" \
	"UPDATE tokens SET expires_at = expires_at + 86400000 WHERE id = (SELECT max(id) FROM tokens)"
restore_refused 1 "1 token row differs from what its history records" "$TW_TMP/edited.db"
# A copy whose record of the token a consumer holds differs: refused too.
edited_copy "$TW_TMP/handed.db" "UPDATE handed SET token_row = 0"
restore_refused 1 "of the tokens consumers hold differ" \
	"$TW_TMP/handed.db"
# A copy whose sealed secret is not the one its history recorded (the rows follow).
edited_copy "$TW_TMP/sealed.db" \
	"UPDATE secrets SET sealed = zeroblob(length(sealed)) WHERE token_row = (SELECT max(token_row) FROM secrets)"
restore_refused 1 "1 sealed secret differs from what its history records" "$TW_TMP/sealed.db"
# A full disk at the last step (the store's log refuses its first write): the
# store is as it was, and the copy of it kept aside just before goes too.
rc=$(df_run "$TW_TMP/full" 1 ENOSPC env TW_FAULT_FILES="$(basename "$db")-wal" \
	"$tw_bin" restore "$bk/first.db")
[ "$rc" = 1 ] || fail "restore onto a full disk: exit $rc, expected 1: $(cat "$TW_TMP/full/faulty.err")"
grep -q "replacing its content: no space left.*; nothing was changed" "$TW_TMP/full/faulty.err" ||
	fail "restore onto a full disk: $(cat "$TW_TMP/full/faulty.err")"
[ ! -e "$refused_kept" ] || fail "a restore a full disk refused left the store's copy aside"
no_working_copy
tw_expect_eq "the store's head after a restore a full disk refused" \
	"$(sqlq "$db" "SELECT hash FROM events ORDER BY id DESC LIMIT 1")" "$store_head"
# A full disk under the working copy, made beside the store: named as such
# (unit_store's test_working_copy_full: a write to it once made), nothing left.
rc=$(df_run "$TW_TMP/full" 1 ENOSPC env TW_FAULT_FILES= \
	TW_FAULT_UNDER="$(dirname "$db")/.$(basename "$db").tw-" "$tw_bin" restore "$bk/first.db")
[ "$rc" = 1 ] || fail "restore, working copy on a full disk: exit $rc: $(cat "$TW_TMP/full/faulty.err")"
grep -q "cannot make a working copy of $bk/first.db beside $db (it needs room for one as large as the copy): .*No space left on device" \
	"$TW_TMP/full/faulty.err" ||
	fail "restore, working copy on a full disk: $(cat "$TW_TMP/full/faulty.err")"
[ ! -e "$refused_kept" ] || fail "a restore a full disk refused left the store's copy aside"
no_working_copy
# --head names the copy meant; another is refused.
restore_refused 1 "not the copy that head was printed for" --head "$restore_head" "$bk/first.db"
# A copy from before a rekey would bring the old key back: only with --force.
"$tw_bin" keygen --public-key "$TW_TMP/seal2.pub" --secret-key "$TW_TMP/seal2.key" \
	--no-passphrase >/dev/null
run 0 backup --force "$bk/before-rekey.db"
run 0 rekey --secret-key "$TW_TMP/seal.key" --new-public-key "$TW_TMP/seal2.pub"
store_head=$(sqlq "$db" "SELECT hash FROM events ORDER BY id DESC LIMIT 1")
restore_refused 2 "(a copy from before a rekey)" "$bk/before-rekey.db"
run 0 restore --force "$bk/before-rekey.db"
expect "$err" "(a copy from before a rekey)"
run 0 audit verify
rm -f "$db".replaced-*
store_head=$(sqlq "$db" "SELECT hash FROM events ORDER BY id DESC LIMIT 1")
# Two restores in one second keep two stores aside.
run 0 restore "$bk/first.db"
run 0 restore "$bk/first.db"
tw_expect_eq "the stores kept by two restores in one second" \
	"$(ls "$db".replaced-* | wc -l)" 2
no_working_copy
rm -f "$db".replaced-*
store_head=$(sqlq "$db" "SELECT hash FROM events ORDER BY id DESC LIMIT 1")
# Another run holds the lock: exit 5 at once, or the wait for it.
flock "$db.lock" sleep 3 &
locker=$!
sleep 0.5
restore_refused 5 "try again when it has finished" "$bk/first.db"
run 0 restore --wait "$bk/first.db"
wait "$locker"
expect "$out" "restored $db from $bk/first.db"

# A reveal while a restore holds the store waits for it, and is recorded on
# top of the restored history, not lost between the kept store and it.
TOKENWARDEN_TEST_PAUSE=restore-kept "$tw_bin" restore "$bk/first.db" >"$TW_TMP/restore.out" \
	2>"$TW_TMP/restore.err" &
restorer=$!
sleep 1
st=0
"$tw_bin" secret reveal -w acme s1 --secret-key "$TW_TMP/seal.key" --reason during-restore \
	>/dev/null 2>"$err" || st=$?
wait "$restorer" || fail "the restore beside a reveal failed: $(cat "$TW_TMP/restore.err")"
tw_expect_eq "a reveal during a restore" "$st" 0
tw_expect_eq "the last two events after a reveal during a restore" \
	"$(sqlq "$db" "SELECT kind FROM events ORDER BY id DESC LIMIT 2" | tr '\n' ' ')" \
	"secret.revealed store.restored "
run 0 audit verify
rm -f "$db".replaced-*

echo "== a store that does not open is replaced by hand, as the README says"
head -c 100 /dev/urandom | dd of="$db" conv=notrunc status=none
run 2 restore "$bk/first.db"
expect "$err" "not a SQLite database"
expect "$err" "one that is missing or too damaged to open is replaced by hand"
mkdir "$TW_TMP/damaged"
for f in "$db" "$db-wal" "$db-shm"; do
	[ ! -e "$f" ] || mv "$f" "$TW_TMP/damaged/"
done
install -m 0600 "$bk/first.db" "$db"
run 0 audit verify --head "$(sqlq "$bk/first.db" "SELECT lower(hex(hash)) FROM events ORDER BY id DESC LIMIT 1")"

echo "== a damaged store is not copied"
cp "$bk/first.db" "$TW_TMP/damaged.db"
# Garbage over the middle of the last page: SQLite's integrity check sees it.
"${DF_PY[@]}" - "$TW_TMP/damaged.db" <<'PY'
import os, sys
f = open(sys.argv[1], "r+b")
size = os.fstat(f.fileno()).st_size
page = int.from_bytes(open(sys.argv[1], "rb").read(18)[16:18], "big")
f.seek(size - page + 8)
f.write(b"\xff" * (page - 16))
PY
run 1 backup --db "$TW_TMP/damaged.db" "$bk/from-damaged.db"
expect "$err" "so the store itself is damaged"
expect "$err" "nothing was written to $bk/from-damaged.db"
[ ! -e "$bk/from-damaged.db" ] || fail "a damaged store was copied"
[ -z "$(ls -A "$bk" | grep '^\.')" ] || fail "a refused backup left a temporary file"
# Read-only too: nothing changed the files while they were read (their
# stamp), so the copy's damage is the store's, read once.
mkdir "$TW_TMP/ro-damaged"
cp "$TW_TMP/damaged.db" "$TW_TMP/ro-damaged/tw.db"
chmod 400 "$TW_TMP/ro-damaged/tw.db"
chmod 500 "$TW_TMP/ro-damaged"
run 1 backup --db "$TW_TMP/ro-damaged/tw.db" "$bk/from-ro-damaged.db"
expect "$err" "so the store itself is damaged"
grep -q "reading it again" "$err" && fail "an unchanged read-only store was read again"
chmod 700 "$TW_TMP/ro-damaged"

echo "== a read-only store is copied, and nothing is written beside it"
mkdir "$TW_TMP/ro"
cp "$bk/first.db" "$TW_TMP/ro/tw.db"
chmod 400 "$TW_TMP/ro/tw.db"
chmod 500 "$TW_TMP/ro"
run 0 backup --db "$TW_TMP/ro/tw.db" "$bk/from-ro.db"
expect "$err" "opened read-only"
[ "$(ls -A "$TW_TMP/ro")" = tw.db ] || fail "backup wrote beside a read-only store"
copy_ok "$bk/from-ro.db" "$(head_of "$err")"
chmod 700 "$TW_TMP/ro"

echo "== a read-only copy taken while something writes the store is taken again"
# Read-only, the backup holds off no writer: a checkpoint while it reads
# would tear the copy.  Here something writes the file (a commit and a
# checkpoint that change no row) while the first read pauses: the copy is
# not kept, and read again.
# touch_store DB: a value changed and changed back, checkpointed into the
# file: the file is written, its content as it was.
touch_store() {
	"${DF_PY[@]}" -c '
import sqlite3, sys
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("PRAGMA journal_mode = WAL")
k = "(SELECT min(key) FROM meta)"
c.execute("UPDATE meta SET value = value || char(120) WHERE key = " + k)
c.execute("UPDATE meta SET value = substr(value, 1, length(value) - 1) WHERE key = " + k)
c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
' "$1"
	chmod 400 "$1"
	rm -f "$1-wal" "$1-shm"
}
chmod 400 "$TW_TMP/ro/tw.db"
TOKENWARDEN_TEST_PAUSE=backup-read "$tw_bin" backup --db "$TW_TMP/ro/tw.db" "$bk/moving.db" \
	>"$out" 2>"$err" &
reader=$!
sleep 1
touch_store "$TW_TMP/ro/tw.db"
st=0
wait "$reader" || st=$?
tw_expect_eq "a backup whose store changed once under it" "$st" 0
expect "$err" "$TW_TMP/ro/tw.db changed while it was read (a run writing it?); reading it again"
copy_ok "$bk/moving.db" "$(head_of "$err")"
# Changing under every read: refused, nothing written.
rm -f "$bk/moving.db"
(while [ ! -e "$TW_TMP/stop-touching" ]; do touch_store "$TW_TMP/ro/tw.db"; sleep 0.4; done) &
writer=$!
TOKENWARDEN_TEST_PAUSE=backup-read run 1 backup --db "$TW_TMP/ro/tw.db" "$bk/moving.db"
touch "$TW_TMP/stop-touching"
wait "$writer"
expect "$err" "$TW_TMP/ro/tw.db changed while it was read, 5 times"
expect "$err" "nothing was written to $bk/moving.db"
[ ! -e "$bk/moving.db" ] || fail "a copy of a store that kept changing was written"
ls -A "$bk" | grep -q '^\.moving' && fail "a temporary copy was left: $(ls -A "$bk")"
chmod 700 "$TW_TMP/ro"

if [ "$failures" -ne 0 ]; then
	echo "$failures check(s) failed" >&2
	exit 1
fi
echo "all backup checks passed"
