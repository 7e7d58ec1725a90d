#!/usr/bin/env bash
# End-to-end: a consumer is refused when someone other than root or the
# user tokenwarden runs as could change it (issue 12).  An exec consumer's
# program, and every directory on the way to it (symbolic links followed as
# execve follows them), must be owned by one of those two and not writable
# by group or others; a root-owned directory with the sticky bit (/tmp) may
# be, its entries on the way still owned by one of the two.  `policy check`
# names the policy line, the program and the fix (exit 2); `rotate` checks
# again before running it and hands nothing over (its rehearsal too).
# A file consumer's directories are opened one by one without following a
# symbolic link, each held to the same rule (the file's own owner may own
# them too): a consumer that owns a directory on the way and points it at a
# root-only one gets nothing written there.  A sticky directory is allowed on
# the way, not as the file's own.
# Needs root, to give files to `nobody`.
# usage: test_consumer_trust.sh MODESIM TOKENWARDEN
set -euo pipefail
umask 077
modesim=$1
tw_bin=$2
if [ "$(id -u)" != 0 ] || ! id nobody >/dev/null 2>&1; then
	echo "SKIP: needs root and a user named nobody"
	exit 77
fi
. "$(dirname "$0")/../lib/sim.sh"
. "$(dirname "$0")/../lib/check.sh"
RUN_TIMEOUT=60

unset TOKENWARDEN_DB TOKENWARDEN_PUBLIC_KEY TOKENWARDEN_CONFIG TOKENWARDEN_CREDENTIAL
out=$TW_TMP/out
err=$TW_TMP/err

# sql DB QUERY: the rows, fields joined by '|'.
sql() {
	python3 -c '
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
for r in c.execute(sys.argv[2]):
    print("|".join("" if v is None else str(v) for v in r))
' "$1" "$2"
}

sim_start "$modesim" --workspace acme:adminkey:adminsecret --now 2026-11-01T00:00Z
db=$TW_TMP/tw.db
pub=$TW_TMP/seal.pub
"$tw_bin" keygen --public-key "$pub" --secret-key "$TW_TMP/seal.key" --no-passphrase >/dev/null
"$tw_bin" init --db "$db" --public-key "$pub" >/dev/null
mkdir -p "$TW_TMP/creds" "$TW_TMP/got"
printf 'adminkey:adminsecret\n' >"$TW_TMP/creds/acme-admin"
export CREDENTIALS_DIRECTORY=$TW_TMP/creds
policy=$TW_TMP/policy.yaml
export TOKENWARDEN_CONFIG=$policy

# hook PATH: a consumer program that keeps what it is handed in got/SLOT, root's, 0755.
hook() {
	printf '#!/bin/sh\ncat >"%s/got/$TOKENWARDEN_SLOT"\n' "$TW_TMP" >"$1"
	chmod 755 "$1"
}

# policy PROGRAM: one slot, etl, whose one consumer runs PROGRAM (line 10 of the file).
policy() {
	cat >"$policy" <<YAML
version: 1
store: { path: $db, public_key: $pub }
defaults: { lifetime: 30d, rotate_before: 20%, grace: 1d }
workspaces:
  - name: acme
    api: $SIM_URL
    credential: acme-admin
    tokens:
      - name: etl
        deliver:
          - exec: ["$1", --slot, "{slot}"]
YAML
}

# checked PROGRAM: policy check accepts a policy that runs PROGRAM.
checked() {
	policy "$1"
	run 0 policy check
	expect "$out" "valid: 1 workspace, 1 slot"
}

# refused PROGRAM TEXT...: policy check refuses it, at the program's line, naming it and each TEXT.
refused() {
	local program=$1 text
	shift
	policy "$program"
	run 2 policy check
	expect "$err" "$policy:11:19: error: deliver exec program $program: "
	for text in "$@"; do
		expect "$err" "$text"
	done
	expect "$out" "invalid: 1 error"
}

hooks=$TW_TMP/hooks
mkdir -m 755 "$hooks"
hook "$hooks/ok"

echo "== policy check: a program only root (or tokenwarden's user) can change"
checked "$hooks/ok"
# Through symbolic links as execve follows them: /bin/sh is /usr/bin/dash on merged systems.
checked /bin/sh
ln -s ok "$hooks/link-ok"
checked "$hooks/link-ok"
# A program that is not there yet, in a directory nobody else can write: nothing to say.
checked "$hooks/not-yet"

echo "== policy check: a program someone else could change"
hook "$hooks/theirs"
chown nobody "$hooks/theirs"
refused "$hooks/theirs" "$hooks/theirs is owned by nobody" "run: chown root $hooks/theirs"
hook "$hooks/group-w"
chmod g+w "$hooks/group-w"
refused "$hooks/group-w" "$hooks/group-w is writable by group or others (mode 0775)" \
	"run: chmod go-w $hooks/group-w"
hook "$hooks/other-w"
chmod o+w "$hooks/other-w"
refused "$hooks/other-w" "$hooks/other-w is writable by group or others (mode 0757)"

echo "== policy check: a directory on the way someone else could change"
mkdir -m 755 "$TW_TMP/nobodys"
hook "$TW_TMP/nobodys/hook"
chown nobody "$TW_TMP/nobodys"
refused "$TW_TMP/nobodys/hook" "$TW_TMP/nobodys is owned by nobody" "run: chown root $TW_TMP/nobodys"
mkdir -m 775 "$TW_TMP/groupdir"
hook "$TW_TMP/groupdir/hook"
refused "$TW_TMP/groupdir/hook" "$TW_TMP/groupdir is writable by group or others (mode 0775)" \
	"run: chmod go-w $TW_TMP/groupdir"
# Missing, in a directory others may write: they could put it there.
mkdir -m 777 "$TW_TMP/open"
refused "$TW_TMP/open/hook" "$TW_TMP/open is writable by group or others (mode 0777)"
# Above the program, not only its own directory.
mkdir -m 777 "$TW_TMP/open/deep"
chmod 755 "$TW_TMP/open/deep"
hook "$TW_TMP/open/deep/hook"
refused "$TW_TMP/open/deep/hook" "$TW_TMP/open is writable by group or others (mode 0777)"

echo "== policy check: a sticky directory such as /tmp"
mkdir -m 1777 "$TW_TMP/sticky"
hook "$TW_TMP/sticky/hook"
checked "$TW_TMP/sticky/hook"
hook "$TW_TMP/sticky/theirs"
chown nobody "$TW_TMP/sticky/theirs"
refused "$TW_TMP/sticky/theirs" "$TW_TMP/sticky/theirs is owned by nobody"
# A sticky directory owned by another user: its owner may replace anything in it.
mkdir -m 1777 "$TW_TMP/sticky-theirs"
hook "$TW_TMP/sticky-theirs/hook"
chown nobody "$TW_TMP/sticky-theirs"
refused "$TW_TMP/sticky-theirs/hook" "$TW_TMP/sticky-theirs is owned by nobody"

echo "== policy check: symbolic links are followed, and each checked"
ln -s ../nobodys/hook "$hooks/to-nobodys"
refused "$hooks/to-nobodys" "$TW_TMP/nobodys is owned by nobody"
ln -s "$TW_TMP/groupdir" "$hooks/dir-link"
refused "$hooks/dir-link/hook" "$TW_TMP/groupdir is writable by group or others"
# A link someone else owns, in a sticky directory, may be replaced by them.
ln -s "$hooks/ok" "$TW_TMP/sticky/their-link"
chown -h nobody "$TW_TMP/sticky/their-link"
refused "$TW_TMP/sticky/their-link" "$TW_TMP/sticky/their-link is a symbolic link owned by nobody"
ln -s loop1 "$hooks/loop2"
ln -s loop2 "$hooks/loop1"
# A loop is no one else's doing, but the program cannot be checked (nor run): a warning.
policy "$hooks/loop1"
run 0 policy check
expect "$err" "$policy:11:19: warning: deliver exec program $hooks/loop1: cannot tell who may change it ($hooks/loop1: too many symbolic links on the way)"

echo "== policy check: a placeholder in the program, checked for each slot"
mkdir -m 755 "$hooks/by-slot"
hook "$hooks/by-slot/etl"
chmod g+w "$hooks/by-slot/etl"
policy "$hooks/by-slot/{slot}"
run 2 policy check
expect "$err" "$policy:11:19: error: deliver exec program $hooks/by-slot/etl (slot acme/etl): others could change it, and it is handed each new token: $hooks/by-slot/etl is writable by group or others (mode 0775); run: chmod go-w $hooks/by-slot/etl"

echo "== rotate: the program is checked again right before it runs"
at 2026-11-01T00:00Z
checked "$hooks/ok"
run 0 rotate
expect "$out" "rotate: 1 rotated"
[ -s "$TW_TMP/got/etl" ] || fail "the safe hook got nothing"
first=$(jq -r .token "$TW_TMP/got/etl")
rm -f "$TW_TMP/got/etl"
# Changed after the check: the run refuses it and the token never reaches it.
chown nobody "$hooks/ok"
run 1 rotate --force etl
expect "$err" "acme/etl: rotation failed (1 in a row; next attempt after"
expect "$err" "could not be delivered to consumer 1 of 1: deliver exec $hooks/ok: refused: $hooks/ok is owned by nobody"
[ ! -e "$TW_TMP/got/etl" ] || fail "a program owned by nobody was handed the token"
sql "$db" "select last_error from slot_state" >"$out"
expect "$out" "deliver exec $hooks/ok: refused: $hooks/ok is owned by nobody"
[ "$(sim_ctl GET /_sim/tokens | jq -r '[.tokens[].token] | join(" ")')" = "$first" ] ||
	fail "the refused replacement is still on the server"
# The rehearsal refuses it too.
run 1 rotate --dry-run --run-hooks --force etl
expect "$err" "rehearsal of consumer 1 failed: deliver exec $hooks/ok: refused: $hooks/ok is owned by nobody"
[ ! -e "$TW_TMP/got/etl" ] || fail "a program owned by nobody was handed the test payload"
chown root "$hooks/ok"
chmod g+w "$hooks"
run 1 rotate --force etl
expect "$err" "deliver exec $hooks/ok: refused: $hooks is writable by group or others (mode 0775)"
[ ! -e "$TW_TMP/got/etl" ] || fail "a program in a group-writable directory was handed the token"
chmod g-w "$hooks"
run 0 rotate --force etl
expect "$out" "rotate: 1 rotated"
[ -s "$TW_TMP/got/etl" ] || fail "the hook got nothing once put right"

echo "== file consumers: the target's directories are opened without following links"
# file_policy PATH [OWNER]: slot etl's one consumer is the file PATH (given to OWNER).
file_policy() {
	cat >"$policy" <<YAML
version: 1
store: { path: $db, public_key: $pub }
defaults: { lifetime: 30d, rotate_before: 20%, grace: 1d }
workspaces:
  - name: acme
    api: $SIM_URL
    credential: acme-admin
    tokens:
      - name: etl
        deliver:
          - { file: "$1"${2:+, owner: $2} }
YAML
}
# delivered PATH [OWNER]: a run hands etl's token to the file PATH, 0600, OWNER's (root's).
delivered() {
	file_policy "$1" "${2:-}"
	rm -f "$1"
	run 0 rotate --force etl
	expect "$out" "rotate: 1 rotated"
	[ "$(stat -c '%a %U' "$1" 2>/dev/null)" = "600 ${2:-root}" ] ||
		fail "$1 is $(stat -c '%a %U' "$1" 2>&1), expected 600 ${2:-root}"
}
# undelivered PATH OWNER TEXT: the run refuses the file PATH with TEXT, and so does a rehearsal.
undelivered() {
	file_policy "$1" "$2"
	run 1 rotate --force etl
	expect "$err" "could not be delivered to consumer 1 of 1: deliver file $1: refused: $3"
	run 1 rotate --dry-run --run-hooks --force etl
	expect "$err" "rehearsal of consumer 1 failed: deliver file $1: refused: $3"
}
mkdir -m 700 "$TW_TMP/run" "$TW_TMP/rootonly"
mkdir -m 755 "$TW_TMP/shared" "$TW_TMP/shared/etl" "$TW_TMP/shared/etl/sub"
delivered "$TW_TMP/run/etl.json"
# The consumer's own directory, when the file is given to it.
chown nobody "$TW_TMP/shared/etl" "$TW_TMP/shared/etl/sub"
delivered "$TW_TMP/shared/etl/sub/etl.json" nobody
# That consumer points its directory at a root-only one: refused, nothing written there.
rm -rf "$TW_TMP/shared/etl/sub"
ln -s "$TW_TMP/rootonly" "$TW_TMP/shared/etl/sub"
chown -h nobody "$TW_TMP/shared/etl/sub"
undelivered "$TW_TMP/shared/etl/sub/etl.json" nobody \
	"$TW_TMP/shared/etl/sub is a symbolic link; a delivery target's directories are opened without following links: name the directory itself"
[ -z "$(ls -A "$TW_TMP/rootonly")" ] || fail "a file reached the root-only directory: $(ls -A "$TW_TMP/rootonly")"
# A link anywhere on the way, even root's own.
ln -s run "$TW_TMP/run-link"
undelivered "$TW_TMP/run-link/etl.json" "" "$TW_TMP/run-link is a symbolic link"
mkdir -m 755 "$TW_TMP/real"
mkdir -m 700 "$TW_TMP/real/deep"
ln -s real "$TW_TMP/via"
undelivered "$TW_TMP/via/deep/etl.json" "" "$TW_TMP/via is a symbolic link"
[ -z "$(ls -A "$TW_TMP/real/deep")" ] || fail "a file was delivered through a link"
# A directory someone else could change: another user's, or writable by group or others.
rm "$TW_TMP/shared/etl/sub"
mkdir -m 755 "$TW_TMP/shared/etl/sub"
undelivered "$TW_TMP/shared/etl/sub/etl.json" "" \
	"$TW_TMP/shared/etl is owned by nobody, not root; run: chown root $TW_TMP/shared/etl"
chown root "$TW_TMP/shared/etl"
chmod o+w "$TW_TMP/shared"
undelivered "$TW_TMP/shared/etl/sub/etl.json" "" \
	"$TW_TMP/shared is writable by group or others (mode 0757); run: chmod go-w $TW_TMP/shared"
chmod o-w "$TW_TMP/shared"
[ -z "$(ls -A "$TW_TMP/shared/etl/sub")" ] || fail "a refused delivery left a file: $(ls -A "$TW_TMP/shared/etl/sub")"
# '..' is the parent the kernel knows, reached without a link: checked like the rest.
delivered "$TW_TMP/shared/../run/etl.json"
undelivered "$TW_TMP/run-link/../run/etl.json" "" "$TW_TMP/run-link is a symbolic link"
# A sticky directory root owns, as /tmp (where these tests live): fine on the
# way, but not as the file's own directory, where anyone could take its name
# first and hand the consumer a file of theirs.
mkdir -m 1777 "$TW_TMP/sticky-run"
undelivered "$TW_TMP/sticky-run/etl.json" "" \
	"$TW_TMP/sticky-run is writable by others (sticky, as /tmp is): anyone could take the file's name first"
mkdir -m 755 "$TW_TMP/sticky-run/etl"
delivered "$TW_TMP/sticky-run/etl/etl.json"

echo "== a file given another owner by the policy is due at the next run, and given so"
# Only a rotation writes the file, and its token still works: due in its
# window (it has none), not forced; the plan says why.
creates() { jq -r '[.actions[] | select(.action == "create") | .why] | join("; ")' "$out"; }
file_policy "$TW_TMP/run/etl.json"
run 0 rotate --force etl
run 0 plan --json
tw_expect_eq "the creates planned before the owner changes" "$(creates)" ""
file_policy "$TW_TMP/run/etl.json" nobody
run 3 plan --json
case "$(creates)" in
*"file $TW_TMP/run/etl.json was given tokenwarden's own user and group; the policy now gives it owner nobody: only a rotation writes the file so"*) ;;
*) fail "plan does not make etl due for its file's new owner: $(creates)" ;;
esac
run 0 rotate
expect "$out" "rotate: 1 rotated"
[ "$(stat -c '%a %U' "$TW_TMP/run/etl.json")" = "600 nobody" ] ||
	fail "the file is $(stat -c '%a %U' "$TW_TMP/run/etl.json"), expected 600 nobody"
run 0 plan --json
tw_expect_eq "the creates planned once the file is nobody's" "$(creates)" ""
# Back to the default owner: due again.
file_policy "$TW_TMP/run/etl.json"
run 3 plan --json
case "$(creates)" in
*"was given owner nobody; the policy now gives it tokenwarden's own user and group"*) ;;
*) fail "plan does not make etl due for its file's owner put back: $(creates)" ;;
esac
run 0 rotate
[ "$(stat -c '%a %U' "$TW_TMP/run/etl.json")" = "600 root" ] ||
	fail "the file is $(stat -c '%a %U' "$TW_TMP/run/etl.json"), expected 600 root"

run 0 audit verify --db "$db"
if [ "$failures" -gt 0 ]; then
	echo "$failures failure(s)" >&2
	exit 1
fi
echo "all consumer trust checks passed"
