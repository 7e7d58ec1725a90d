#!/usr/bin/env bash
# End-to-end: what the real binary does with a --db that is not a store, with
# a store it may only read (an auditor's copy, a read-only mount), and with
# storage that fails under it.  Every refusal is checked for its exit status
# and its exact message, and the file and its directory for being left byte
# for byte as they were: no -wal, -shm, -journal or .lock appears.
#
# Disk full and a read-only file system are made for real on a small tmpfs
# in a private mount namespace when this runs as root with the privilege to
# mount.  Without it (an unprivileged container) disk full comes from a
# shim, preloaded into tokenwarden, that fails the store's writes with
# ENOSPC, and read-only from modes alone.  Every check runs either way;
# TW_TEST_DISK_FULL=shim forces the shim.  Files owned by another user are
# tried as nobody (setpriv) when this runs as root.
# usage: test_store_errors.sh TOKENWARDEN [CC]
set -euo pipefail
umask 077

# Mounts made here stay here: run in a private mount namespace when one can be made.
if [ -z "${TW_STORE_ERRORS_NS:-}" ] && [ "$(id -u)" = 0 ] &&
	unshare -m --propagation private true 2>/dev/null; then
	TW_STORE_ERRORS_NS=1 exec unshare -m --propagation private bash "$0" "$@"
fi
tw_src=$1
cc_bin=${2:-cc}
. "$(dirname "$0")/../lib/sim.sh"
. "$(dirname "$0")/../lib/check.sh"

unset TOKENWARDEN_DB TOKENWARDEN_PUBLIC_KEY TOKENWARDEN_CONFIG TOKENWARDEN_CREDENTIAL
export TOKENWARDEN_NOW=2026-11-01T00:00Z
out=$TW_TMP/out
err=$TW_TMP/err
# The read-only copies made here must go too.
tw_at_exit 'chmod -R u+w "$TW_TMP" 2>/dev/null'
# Another user runs the binary too: a copy it can reach, in a directory it may enter.
chmod 711 "$TW_TMP"
mkdir -m 755 "$TW_TMP/bin"
install -m 755 "$tw_src" "$TW_TMP/bin/tokenwarden"
tw_bin=$TW_TMP/bin/tokenwarden
as_other=()
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
	as_other=(setpriv --reuid=65534 --regid=65534 --clear-groups)
fi

# run STATUS ARGS...: as check.sh's (after "${RUN_PREFIX[@]}"), failing on a sanitizer's report.
run() {
	tw_run "$@"
	if grep -q 'Sanitizer' "$err"; then
		fail "tokenwarden ${*:2}: a sanitizer reported a problem"
	fi
}

# expect_line FILE LINE: FILE has LINE as a whole line.
expect_line() {
	grep -qxF -- "$2" "$1" || fail "expected the line '$2' in $(basename "$1")"
}

# expect_error MESSAGE: the only thing on stderr is "tokenwarden: error: MESSAGE".
expect_error() {
	expect_line "$err" "tokenwarden: error: $1"
	[ "$(wc -l <"$err")" -eq 1 ] || fail "more than the error on stderr"
	[ ! -s "$out" ] || fail "printed to stdout while refusing"
}

# snap DIR: every name in DIR with its type, mode and size, and every file's hash.
snap() {
	(
		cd "$1"
		find . -mindepth 1 -printf '%p %y %m %s\n' | LC_ALL=C sort
		find . -mindepth 1 -type f -exec sha256sum {} + | LC_ALL=C sort -k2
	)
}

# unchanged WHAT DIR BEFORE: DIR is as snap printed BEFORE.
unchanged() {
	local now
	now=$(snap "$2")
	[ "$now" = "$3" ] || fail "$1 changed $2: $(diff <(echo "$3") <(echo "$now") | tr '\n' ' ')"
}

py() {
	python3 - "$@"
}

pub=$TW_TMP/seal.pub
sec=$TW_TMP/seal.sec
"$tw_bin" keygen --public-key "$pub" --secret-key "$sec" --no-passphrase >/dev/null
"$tw_bin" keygen --public-key "$TW_TMP/new.pub" --secret-key "$TW_TMP/new.sec" \
	--no-passphrase >/dev/null
chmod 644 "$pub" "$TW_TMP/new.pub"
# Should a verb get past a refusal, it reaches no API: nothing listens there.
nowhere=http://127.0.0.1:9
policy=$TW_TMP/policy.yaml
cat >"$policy" <<YAML
version: 1
store: { public_key: $pub }
defaults: { lifetime: 30d, rotate_before: 20%, grace: 1d }
enforce: { max_lifetime: 90d, unmanaged: report }
workspaces:
  - name: acme
    api: $nowhere
    credential: acme-admin
    tokens:
      - name: etl
YAML
chmod 644 "$policy"
later=(--created-at 2026-10-01T00:00Z --expires-at 2099-01-01T00:00Z)

# verb N FILE: sets args to the Nth verb that opens an existing store, on FILE;
# returns 1 past the last.
verb() {
	case $1 in
	0) args=(audit verify --db "$2") ;;
	1) args=(audit log --db "$2") ;;
	2) args=(audit report --config "$policy" --db "$2") ;;
	3) args=(plan --config "$policy" --db "$2") ;;
	4) args=(token list --db "$2") ;;
	5) args=(token show --db "$2" -w acme tok-etl) ;;
	6) args=(token import --db "$2" -w acme --token tok-x --name abcd "${later[@]}") ;;
	7) args=(token create --db "$2" --public-key "$pub" --api "$nowhere" -w acme -n etl
		--expires-in 30d) ;;
	8) args=(token delete --db "$2" --api "$nowhere" -w acme tok-etl) ;;
	9) args=(secret reveal --db "$2" -w acme --secret-key "$sec" tok-etl) ;;
	10) args=(rekey --db "$2" --secret-key "$sec" --new-public-key "$TW_TMP/new.pub") ;;
	11) args=(revoke --config "$policy" --db "$2" --yes tok-etl) ;;
	12) args=(rotate --config "$policy" --db "$2") ;;
	*) return 1 ;;
	esac
}
verbs_that_read=(0 1 2 3 4 5)

# refused_by_all FILE MESSAGE: every verb exits 2 with MESSAGE and changes nothing.
refused_by_all() {
	local n=0 dir before
	dir=$1
	[ -d "$1" ] || dir=$(dirname "$1")
	before=$(snap "$dir")
	while verb "$n" "$1"; do
		TOKENWARDEN_CREDENTIAL=adminkey:adminsecret run 2 "${args[@]}"
		expect_error "$2"
		unchanged "${args[*]}" "$dir" "$before"
		n=$((n + 1))
	done
}

echo "== a file that is not a store is refused by every verb, and left as it was"
mkdir "$TW_TMP/ns"
ns=$TW_TMP/ns
: >"$ns/empty.db"
printf 'not a database, just text that is long enough to hold a header\n%.0s' 1 2 \
	>"$ns/text.db"
py "$ns" <<'PY'
import sqlite3, sys
d = sys.argv[1]
# A SQLite file with no schema and user_version 0: what sqlite3 leaves after a dropped table.
c = sqlite3.connect(d + "/blank.db")
c.execute("CREATE TABLE t (x)")
c.execute("DROP TABLE t")
c.commit()
c.close()
# Another program's database, in WAL mode as ours are.
c = sqlite3.connect(d + "/other.db")
c.execute("PRAGMA journal_mode = WAL")
c.execute("CREATE TABLE photos (id INTEGER PRIMARY KEY)")
c.commit()
c.close()
PY
chmod 600 "$ns"/*.db
refused_by_all "$ns/empty.db" \
	"$ns/empty.db: empty (0 bytes), not a tokenwarden store; create the store with: tokenwarden init --db $ns/empty.db"
refused_by_all "$ns/blank.db" \
	"$ns/blank.db: an empty SQLite database (no schema, user_version 0), not an initialised tokenwarden store; create the store with: tokenwarden init --db $ns/blank.db"
refused_by_all "$ns/other.db" \
	"$ns/other.db: a SQLite database of another program (application_id 0, user_version 0, 1 schema object), not a tokenwarden store; check the path given with --db"
refused_by_all "$ns/text.db" \
	"$ns/text.db: not a SQLite database (it does not begin with SQLite's header), so not a tokenwarden store; check the path given with --db"
# A directory is not a file: no advice to chmod it.
refused_by_all "$ns" \
	"$ns: a directory, not a store file; give --db the database file, or create one with: tokenwarden init --db $ns/tokenwarden.db"
ln -s "$ns/empty.db" "$ns/link.db"
refused_by_all "$ns/link.db" \
	"$ns/link.db: a symbolic link (to $ns/empty.db), not the store itself; give --db the file it points to"
rm "$ns/link.db"
# A path that needs quoting is quoted in the advice.
: >"$ns/my store.db"
chmod 600 "$ns/my store.db"
run 2 audit verify --db "$ns/my store.db"
expect_error "$ns/my store.db: empty (0 bytes), not a tokenwarden store; create the store with: tokenwarden init --db '$ns/my store.db'"
rm "$ns/my store.db"
# init refuses what is another program's, and leaves it as it was.
before=$(snap "$ns")
run 2 init --db "$ns/other.db" --public-key "$pub"
expect_error "$ns/other.db: a SQLite database of another program (application_id 0, user_version 0, 1 schema object), not a tokenwarden store; check the path given with --db"
run 2 init --db "$ns/text.db" --public-key "$pub"
run 2 init --db "$ns" --public-key "$pub"
expect_error "$ns: a directory, not a store file; give --db the database file, or create one with: tokenwarden init --db $ns/tokenwarden.db"
unchanged "init refusing" "$ns" "$before"
# Only init makes a store, of an empty file too.
for f in empty blank; do
	run 0 init --db "$ns/$f.db" --public-key "$pub"
	run 0 audit verify --db "$ns/$f.db"
	grep -qE '^history intact: 1 event, head [0-9a-f]{64}$' "$out" || fail "init of $f.db"
done

echo "== advice that works: never chmod for a directory or another user's file"
run 2 token list --db "$TW_TMP"
expect_error "$TW_TMP: a directory, not a store file; give --db the database file, or create one with: tokenwarden init --db $TW_TMP/tokenwarden.db"
mkdir -m 755 "$TW_TMP/shared"
shared=$TW_TMP/shared/tw.db
run 0 init --db "$shared" --public-key "$pub"
run 0 token import --db "$shared" -w acme --token tok-etl --name etl-1 --slot etl "${later[@]}"
chmod 644 "$shared"
run 2 token list --db "$shared"
expect_error "$shared: permissions 0644 let others read the inventory; run: chmod 600 $shared"
if [ ${#as_other[@]} -gt 0 ]; then
	before=$(snap "$TW_TMP/shared")
	RUN_PREFIX=("${as_other[@]}")
	run 2 token list --db "$shared"
	expect_error "$shared: permissions 0644 let others read the inventory; it belongs to root: ask root to run: chmod 600 $shared"
	run 2 token import --db "$shared" -w acme --token tok-x --name abcd "${later[@]}"
	expect_error "$shared: cannot be written: nobody cannot write it (owner root, mode 0644); it belongs to root: run tokenwarden as root (sudo tokenwarden ...), or have root hand it over to you: sudo chown nobody $shared; the verbs that only read (token list and show, audit, plan) work on it as it is"
	chmod 600 "$shared"
	before=$(snap "$TW_TMP/shared")
	run 2 audit verify --db "$shared"
	expect_error "$shared: permission denied: nobody cannot read it (mode 0600); it belongs to root: run tokenwarden as root (sudo tokenwarden ...), or have root hand it over to you: sudo chown nobody $shared"
	RUN_PREFIX=()
	unchanged "another user" "$TW_TMP/shared" "$before"
	grep -q chmod "$err" && fail "advised chmod to a user who does not own the file"
else
	echo "(not root: the files of another user are not tried)"
fi

# Issue 12, finding 7: a 0600 store owned by another user was opened, though
# its owner can rewrite the inventory and the history a run trusts.
echo "== a store another user owns is refused by every verb, root's included"
if [ "$(id -u)" = 0 ]; then
	mkdir -m 700 "$TW_TMP/foreign"
	foreign=$TW_TMP/foreign/tw.db
	run 0 init --db "$foreign" --public-key "$pub"
	run 0 token import --db "$foreign" -w acme --token tok-etl --name etl-1 --slot etl "${later[@]}"
	chown 65534:65534 "$foreign"
	foreign_refusal="$foreign: owned by nobody, not by root; its owner could rewrite the inventory and the history tokenwarden trusts; it belongs to nobody: run tokenwarden as nobody (sudo -u nobody tokenwarden ...), or have root hand it over to you: sudo chown root $foreign"
	refused_by_all "$foreign" "$foreign_refusal"
	# Nor does init take it over.
	before=$(snap "$TW_TMP/foreign")
	run 2 init --db "$foreign" --public-key "$pub"
	expect_error "$foreign_refusal"
	unchanged "init on another user's store" "$TW_TMP/foreign" "$before"
	# Given back, it opens.
	chown 0:0 "$foreign"
	run 0 token list --db "$foreign"
	# SQLite reads the WAL and its index as part of the store: another user's is refused too.
	for companion in wal shm journal; do
		: >"$foreign-$companion"
		chown 65534:65534 "$foreign-$companion"
		refused_by_all "$foreign" "$foreign-$companion: owned by nobody, not by root; its owner could rewrite the inventory and the history tokenwarden trusts; it belongs to nobody: run tokenwarden as nobody (sudo -u nobody tokenwarden ...), or have root hand it over to you: sudo chown root $foreign-$companion"
		rm -f "$foreign-$companion"
	done
	ln -s /dev/null "$foreign-wal"
	refused_by_all "$foreign" "$foreign-wal: not a regular file; SQLite reads it as part of the store: remove it if the store's owner did not make it"
	rm -f "$foreign-wal"
	run 0 token list --db "$foreign"
	# A public key another user owns could be swapped for theirs before the next seal.
	cp "$pub" "$TW_TMP/foreign/seal.pub"
	chown 65534:65534 "$TW_TMP/foreign/seal.pub"
	run 2 init --db "$TW_TMP/foreign/new.db" --public-key "$TW_TMP/foreign/seal.pub"
	expect_error "$TW_TMP/foreign/seal.pub: owned by nobody, not by root; its owner could put a key of their own there and open every secret sealed after; run: sudo chown root $TW_TMP/foreign/seal.pub"
	[ ! -e "$TW_TMP/foreign/new.db" ] || fail "init refused the key yet left a store behind"
else
	echo "(not root: a store of another user's cannot be made here)"
fi

echo "== the verbs that read work on a read-only copy, and change nothing"
live=$TW_TMP/live/tw.db
mkdir "$TW_TMP/live"
run 0 init --db "$live" --public-key "$pub"
run 0 token import --db "$live" -w acme --token tok-etl --name etl-1 --slot etl "${later[@]}"
run 0 token import --db "$live" -w acme --token tok-hand --name "by hand" "${later[@]}"
# A create interrupted between its POST and its answer leaves a pending row.
py "$live" <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.execute("""INSERT INTO tokens (workspace_id, slot_id, token, name, state, origin,
	requested_at, expires_at, updated_at)
	SELECT w.id, s.id, NULL, 'etl-2', 'pending', 'created', 1, 4070908800000, 1
	FROM workspaces w JOIN slots s ON s.workspace_id = w.id
	WHERE w.name = 'acme' AND s.name = 'etl'""")
c.commit()
c.close()
PY
mkdir "$TW_TMP/rw" "$TW_TMP/ro"
cp "$live" "$TW_TMP/rw/tw.db"
cp "$live" "$TW_TMP/ro/tw.db"
ro=$TW_TMP/ro/tw.db
chmod 400 "$ro"
chmod 500 "$TW_TMP/ro"
before=$(snap "$TW_TMP/ro")
note="tokenwarden: $ro: opened read-only (its mode 0400 lets no one write it); nothing is written"
# The same answers as from a writable copy, but for settling; status[N] is verb N's.
status=(0 0 0 0 0 0)
for n in 0 1 2 3; do
	verb "$n" "$TW_TMP/rw/tw.db"
	"$tw_bin" "${args[@]}" --json >"$TW_TMP/rw.out" 2>/dev/null || status[n]=$?
	verb "$n" "$ro"
	run "${status[n]}" "${args[@]}" --json
	cmp -s "$out" "$TW_TMP/rw.out" || fail "${args[*]}: differs from the writable copy's"
	expect_line "$err" "$note"
	unchanged "${args[*]}" "$TW_TMP/ro" "$before"
done
run 0 token list --db "$ro" --json
jq -e 'length == 3 and ([.[] | select(.state == "pending")] | length) == 1' "$out" >/dev/null ||
	fail "token list on the read-only copy: the pending row is not shown as stored"
expect_line "$err" "$note"
run 0 token show --db "$ro" -w acme tok-etl --json
jq -e '.token == "tok-etl" and .state == "active"' "$out" >/dev/null || fail "token show"
unchanged "token list and show" "$TW_TMP/ro" "$before"
# The writable copy settles the pending row: the read-only one could not.
run 0 token list --db "$TW_TMP/rw/tw.db" --json
jq -e '[.[] | select(.state == "unknown")] | length == 1' "$out" >/dev/null ||
	fail "token list on the writable copy did not settle the pending row"
# Verbs that write are refused, and say how to make it writable.
run 2 token import --db "$ro" -w acme --token tok-x --name abcd "${later[@]}"
expect_error "$ro: cannot be written: its mode 0400 lets no one write it; run: chmod 600 $ro; the verbs that only read (token list and show, audit, plan) work on it as it is"
chmod 600 "$ro"
run 2 token import --db "$ro" -w acme --token tok-x --name abcd "${later[@]}"
expect_error "$ro: cannot be written: its directory $TW_TMP/ro lets no one write in it (mode 0500); SQLite keeps the store's -wal and -shm files there, and tokenwarden its .lock file; run: chmod u+w $TW_TMP/ro; the verbs that only read (token list and show, audit, plan) work on it as it is"
chmod 400 "$ro"
unchanged "refused writes" "$TW_TMP/ro" "$before"
# A lock file copied along is only read: plan and audit report test it without writing.
chmod 700 "$TW_TMP/ro"
: >"$TW_TMP/ro/tw.db.lock"
chmod 400 "$TW_TMP/ro/tw.db.lock"
chmod 500 "$TW_TMP/ro"
before=$(snap "$TW_TMP/ro")
verb 3 "$ro"
run "${status[3]}" "${args[@]}"
unchanged "plan beside a lock file" "$TW_TMP/ro" "$before"
if [ ${#as_other[@]} -gt 0 ]; then
	# Another user's auditor copy: readable by that user, in a directory it cannot write.
	mkdir -m 755 "$TW_TMP/audit"
	cp "$live" "$TW_TMP/audit/tw.db"
	chown 65534:65534 "$TW_TMP/audit/tw.db"
	chmod 600 "$TW_TMP/audit/tw.db"
	before=$(snap "$TW_TMP/audit")
	RUN_PREFIX=("${as_other[@]}")
	for n in "${verbs_that_read[@]}"; do
		verb "$n" "$TW_TMP/audit/tw.db"
		run "${status[n]}" "${args[@]}"
		expect_line "$err" "tokenwarden: $TW_TMP/audit/tw.db: opened read-only (nobody cannot write in its directory $TW_TMP/audit (owner root, mode 0755)); nothing is written"
	done
	RUN_PREFIX=()
	unchanged "another user's reads" "$TW_TMP/audit" "$before"
fi

echo "== a read-only copy with its WAL: read through -shm, a -wal alone, or the file alone"
wal=$TW_TMP/wal/tw.db
mkdir "$TW_TMP/wal"
cp "$live" "$wal"
# A reader holds the store open, so the import's changes stay in tw.db-wal; copy them then.
py "$wal" "$tw_bin" "$TW_TMP" <<'PY'
import os, shutil, sqlite3, subprocess, sys
db, tw, tmp = sys.argv[1:4]
reader = sqlite3.connect(db)
reader.execute("SELECT count(*) FROM tokens").fetchall()
subprocess.run([tw, "token", "import", "--db", db, "-w", "acme", "--token", "tok-new",
                "--name", "only in the wal", "--created-at", "2026-10-01T00:00Z",
                "--expires-at", "2099-01-01T00:00Z"], check=True, capture_output=True)
assert os.path.getsize(db + "-wal") > 32, "the import was checkpointed"
for name, parts in (("v-shm", ("", "-wal", "-shm")), ("v-wal", ("", "-wal")), ("v-db", ("",))):
    os.mkdir(os.path.join(tmp, name))
    for p in parts:
        shutil.copyfile(db + p, os.path.join(tmp, name, "tw.db" + p))
        os.chmod(os.path.join(tmp, name, "tw.db" + p), 0o400)
    os.chmod(os.path.join(tmp, name), 0o500)
reader.close()
PY
for v in v-shm v-wal v-db; do
	before=$(snap "$TW_TMP/$v")
	run 0 token list --db "$TW_TMP/$v/tw.db" --json
	want=$([ "$v" = v-db ] && echo 3 || echo 4)
	jq -e --argjson n "$want" 'length == $n' "$out" >/dev/null ||
		fail "$v: expected $want tokens (the -wal's only when it is there)"
	# The pending row was planted by hand above, so the tables check names it, read-only.
	run 4 audit verify --db "$TW_TMP/$v/tw.db"
	grep -qE '^history intact: [0-9]+ events, head [0-9a-f]{64}$' "$out" || fail "$v: the chain"
	expect_line "$out" "  token row 3 (acme/etl, no id, pending): no event records it; it was added outside tokenwarden"
	expect_line "$err" "tokenwarden: $TW_TMP/$v/tw.db: opened read-only (its mode 0400 lets no one write it); nothing is written"
	# The file and its -wal are as they were; nothing is created or removed.  (Root may
	# write the -shm, SQLite's index in shared memory; the file's content is not in it.)
	now=$(snap "$TW_TMP/$v")
	[ "$(grep -v -- '-shm' <<<"$now")" = "$(grep -v -- '-shm' <<<"$before")" ] ||
		fail "$v: reading changed it"
	[ "$(grep -c . <<<"$now")" = "$(grep -c . <<<"$before")" ] || fail "$v: a file appeared"
done

# mounted DIR SIZE: mounts a tmpfs of SIZE on DIR, only in a mount namespace of our own;
# fails when this process may not.
mounted() {
	[ -n "${TW_STORE_ERRORS_NS:-}" ] &&
		[ "$(readlink /proc/self/ns/mnt)" != "$(readlink /proc/1/ns/mnt 2>/dev/null)" ] &&
		mkdir -p "$1" && mount -t tmpfs -o "size=$2,mode=0700" tmpfs "$1" 2>/dev/null
}

echo "== a read-only file system"
if mounted "$TW_TMP/rofs" 1m; then
	rofs=$TW_TMP/rofs/tw.db
	cp "$live" "$rofs"
	mount -o remount,ro "$TW_TMP/rofs"
	before=$(snap "$TW_TMP/rofs")
	for n in "${verbs_that_read[@]}"; do
		verb "$n" "$rofs"
		run "${status[n]}" "${args[@]}"
		expect_line "$err" "tokenwarden: $rofs: opened read-only (it is on a read-only file system); nothing is written"
	done
	run 2 token import --db "$rofs" -w acme --token tok-x --name abcd "${later[@]}"
	expect_error "$rofs: cannot be written: it is on a read-only file system; remount it read-write, or work where the store is writable; the verbs that only read (token list and show, audit, plan) work on it as it is"
	unchanged "the read-only file system" "$TW_TMP/rofs" "$before"
	umount "$TW_TMP/rofs"
else
	echo "(no mount here: the read-only copies above stand for a read-only file system)"
fi

echo "== disk full"
shim=
if [ "${TW_TEST_DISK_FULL:-}" != shim ] && mounted "$TW_TMP/full" 1m; then
	echo "(a full tmpfs)"
else
	echo "(a shim failing the store's writes with ENOSPC)"
	mkdir -p "$TW_TMP/full"
	# faultfs.c, as test_disk_faults.sh uses it: every write from the first fails.
	"$cc_bin" -shared -fPIC -O2 -o "$TW_TMP/faultfs.so" "$(dirname "$0")/faultfs.c" -ldl
	shim=$TW_TMP/faultfs.so
fi
full=$TW_TMP/full/tw.db
cp "$live" "$full"
run 0 token list --db "$full" # settles the pending row, before the disk fills
run 0 audit verify --db "$full"
head_before=$(cat "$out")
# fill SUFFIXES: the disk is full for the store's files ending so (the shim), or for all.
fill() {
	if [ -n "$shim" ]; then
		RUN_PREFIX=(env "LD_PRELOAD=$shim" "TW_FAULT_FILES=$1" TW_FAULT_AT=1 TW_FAULT_ERRNO=ENOSPC
			"ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0")
	else
		dd if=/dev/zero of="$TW_TMP/full/filler" bs=4k 2>/dev/null || true
	fi
}
unfill() {
	RUN_PREFIX=()
	rm -f "$TW_TMP/full/filler"
}
nospace="no space left: the file system holding it is full (or the database reached its size limit); free space there, then run the command again"
# Full before the store is opened: SQLite cannot even size its WAL index.
fill -shm:-wal
db_before=$(sha256sum <"$full")
run 2 token import --db "$full" -w acme --token tok-x --name abcd "${later[@]}"
expect_error "$full: setting up the connection: $nospace"
grep -q 'SQLite database' "$err" && fail "a full disk was taken for something that is not SQLite"
# Reading still works: the store is read read-only.
run 0 token list --db "$full" --json
jq -e 'length == 3' "$out" >/dev/null || fail "token list on a full disk"
expect_line "$err" "tokenwarden: $full: opened read-only (no space is left on its file system); nothing is written"
run 0 audit verify --db "$full"
[ "$(cat "$out")" = "$head_before" ] || fail "audit verify on a full disk"
[ "$(sha256sum <"$full")" = "$db_before" ] || fail "the store changed on a full disk"
unfill
# Full while the store is open: the write itself fails, and is rolled back.
if [ -n "$shim" ]; then
	fill -wal
	run 1 token import --db "$full" -w acme --token tok-x --name abcd "${later[@]}"
else
	py "$full" "$tw_bin" "$TW_TMP/full/filler" "$TW_TMP/out" "$TW_TMP/err" <<'PY'
import sqlite3, subprocess, sys
db, tw, filler, out, err = sys.argv[1:6]
# Open and read: tw.db-wal and tw.db-shm exist and are sized, so only new frames need space.
reader = sqlite3.connect(db)
reader.execute("SELECT count(*) FROM tokens").fetchall()
subprocess.run(["sh", "-c", 'dd if=/dev/zero of="$1" bs=4k 2>/dev/null; true', "sh", filler])
with open(out, "w") as o, open(err, "w") as e:
    rc = subprocess.run([tw, "token", "import", "--db", db, "-w", "acme", "--token", "tok-x",
                         "--name", "abcd", "--created-at", "2026-10-01T00:00Z",
                         "--expires-at", "2099-01-01T00:00Z"], stdout=o, stderr=e).returncode
assert rc == 1, "import on a full disk: exit %d, expected 1" % rc
reader.close()
PY
fi
expect_error "$full: committing the change: $nospace"
unfill
run 0 token list --db "$full" --json
jq -e 'length == 3 and all(.[]; .token != "tok-x")' "$out" >/dev/null ||
	fail "the import on a full disk left a row"
run 0 audit verify --db "$full"
[ "$(cat "$out")" = "$head_before" ] || fail "the import on a full disk left an event"
if [ -z "$shim" ]; then
	umount "$TW_TMP/full"
fi

if [ "$failures" -ne 0 ]; then
	echo "$failures check(s) failed" >&2
	exit 1
fi
echo "all store error checks passed"
