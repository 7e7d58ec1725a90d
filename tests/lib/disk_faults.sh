# shellcheck shell=bash
#
# Helpers for the disk-fault tests (test_disk_faults.sh,
# test_disk_faults_verbs.sh).  Source after sim.sh, which makes $TW_TMP:
#
#   df_shim CC                 build faultfs.c with CC; sets DF_SHIM
#   "${DF_PY[@]}"              python3 to run many times: the interpreter
#                              itself, not a version manager's shim, without
#                              the site packages (slow to start; the checks
#                              use the standard library only)
#   df_run DIR N ERRNO CMD...  run CMD with the Nth write or sync to the store
#                              DIR/tw.db failing with ERRNO (EIO or ENOSPC; N 0
#                              fails none); stdin from $DF_STDIN (default
#                              /dev/null), stdout to DIR/faulty.out, stderr to
#                              DIR/faulty.err, the writes counted in DIR/count;
#                              prints the exit status.  With DF_SYNCS set, the
#                              Nth sync fails, the syncs alone counted; with
#                              DF_WHEN a path, every write fails with ENOSPC
#                              while that path exists
#   df_start DIR N ERRNO CMD...
#                              df_run in the background: sets DF_PID
#   df_accounted DIR WS [CHECK...]
#                              the store DIR/tw.db against the simulator's
#                              workspace WS, from outside: integrity_check is
#                              ok, every token the server holds is a live row,
#                              and every active or retiring row of WS is on
#                              the server.  Prints the problems on stderr and
#                              fails if there are any.  CHECKs:
#                                pending  a pending row accounts for a server
#                                         token (a create whose answer was not
#                                         recorded: the next run settles it)
#                                oneway   an active row the server lacks is
#                                         allowed (a DELETE answered but not
#                                         recorded: the next delete settles it)
#                                slot=S   slot S has one active token, the one
#                                         DIR/run/S.json holds, and none in flight

DF_SHIM=
DF_PID=
DF_ENV=()
DF_PY=("$(python3 -c 'import sys; print(sys.executable)')" -S)

df_shim() {
	DF_SHIM=$TW_TMP/faultfs.so
	"$1" -shared -fPIC -O2 -o "$DF_SHIM" "$(dirname "${BASH_SOURCE[0]}")/../e2e/faultfs.c" -ldl
}

# df_env DIR N ERRNO: the shim's environment for df_run and df_start, in DF_ENV.
df_env() {
	DF_ENV=(LD_PRELOAD="$DF_SHIM" TW_FAULT_FILES="tw.db:tw.db-wal:tw.db-journal"
		TW_FAULT_AT="$2" TW_FAULT_ERRNO="$3" TW_FAULT_COUNT="$1/count"
		ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0")
	[ -z "${DF_SYNCS:-}" ] || DF_ENV+=(TW_FAULT_SYNCS=1)
	[ -z "${DF_WHEN:-}" ] || DF_ENV+=(TW_FAULT_WHEN="$DF_WHEN")
}

df_run() {
	local dir=$1 rc=0
	df_env "$@"
	shift 3
	env "${DF_ENV[@]}" "$@" <"${DF_STDIN:-/dev/null}" >"$dir/faulty.out" 2>"$dir/faulty.err" ||
		rc=$?
	echo "$rc"
}

df_start() {
	local dir=$1
	df_env "$@"
	shift 3
	env "${DF_ENV[@]}" "$@" <"${DF_STDIN:-/dev/null}" >"$dir/faulty.out" 2>"$dir/faulty.err" &
	# shellcheck disable=SC2034 # the caller's
	DF_PID=$!
}

df_accounted() {
	local dir=$1 ws=$2
	shift 2
	sim_ctl GET /_sim/tokens >"$dir/server.json"
	"${DF_PY[@]}" - "$dir" "$ws" "$@" <<'PY'
import json, sqlite3, sys
d, ws, checks = sys.argv[1], sys.argv[2], sys.argv[3:]
db = sqlite3.connect(d + "/tw.db")
problems = []
if db.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
    problems.append("integrity_check is not ok")
rows = db.execute("SELECT t.name, t.token, t.state, s.name FROM tokens t "
                  "JOIN workspaces w ON w.id = t.workspace_id "
                  "LEFT JOIN slots s ON s.id = t.slot_id WHERE w.name = ?", (ws,)).fetchall()
by_name = {r[0]: r for r in rows}
live = {"active", "retiring", "unknown", "expired", "created", "verified"}
if "pending" in checks:
    live.add("pending")
server = [t for t in json.load(open(d + "/server.json"))["tokens"] if t["workspace"] == ws]
for t in server:
    r = by_name.get(t["name"])
    if r is None:
        problems.append("the server holds %s, which the store does not know" % t["name"])
    elif r[2] not in live:
        problems.append("the server holds %s, which the store has as %s" % (t["name"], r[2]))
names = {t["name"] for t in server}
for r in rows:
    if r[2] in ("active", "retiring") and r[0] not in names and "oneway" not in checks:
        problems.append("the store has %s as %s, the server does not hold it" % (r[0], r[2]))
for slot in [c[5:] for c in checks if c.startswith("slot=")]:
    active = [r for r in rows if r[3] == slot and r[2] == "active"]
    flight = [r for r in rows if r[3] == slot and r[2] in ("pending", "created", "verified")]
    if len(active) != 1:
        problems.append("slot %s has %d active tokens" % (slot, len(active)))
    elif json.load(open("%s/run/%s.json" % (d, slot)))["token"] != active[0][1]:
        problems.append("slot %s's consumer does not hold its active token" % slot)
    if flight:
        problems.append("slot %s has a replacement in flight" % slot)
for p in problems:
    print("  " + p, file=sys.stderr)
sys.exit(1 if problems else 0)
PY
}
