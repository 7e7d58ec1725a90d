#!/usr/bin/env bash
# End-to-end: the store's disk fails under every verb that writes it, not
# only a nightly rotate (test_disk_faults.sh).  For each verb a clean run
# under the shim (faultfs.c) counts the writes and syncs N it makes to the
# store; then, in cases of their own, the Nth write fails, N drawn at random
# from 1..N, with EIO (that write only) or ENOSPC (that one and every later
# write).  Each faulty run must:
#   - not crash (exit below 128, no sanitizer report) and exit with a
#     documented status (0, 1, 2, 3, 5, 6 or 7);
#   - unless it exits 0, name the store on stderr; a `secret reveal` that
#     fails prints no secret, and one that succeeds was recorded;
#   - leave PRAGMA integrity_check ok, a history `audit verify` accepts, and
#     no token on the server that the store does not account for;
# and the same verb (or a rotate) on a healthy disk then converges.  The
# verbs that only read (`token list`, `audit verify`) must write nothing
# at all, and so succeed on a disk failing from the first write.
# usage: test_disk_faults_verbs.sh MODESIM TOKENWARDEN CC [CASES] [SEED]
#   CASES: fault cases per writing verb (default 4, alternating EIO and
#   ENOSPC); the verbs that only read run two, one with each
set -euo pipefail
umask 077
modesim=$1
tw_bin=$2
cc_bin=$3
per=${4:-4}
seed=${5:-$RANDOM}
. "$(dirname "$0")/../lib/sim.sh"
. "$(dirname "$0")/../lib/disk_faults.sh"

unset TOKENWARDEN_DB TOKENWARDEN_PUBLIC_KEY TOKENWARDEN_CREDENTIAL TOKENWARDEN_TEST_CRASH
unset TOKENWARDEN_CONFIG
failures=0
fail() {
	echo "FAIL: $*" >&2
	failures=$((failures + 1))
}
echo "seed $seed ($per cases a verb; run again with: $0 MODESIM TOKENWARDEN CC $per $seed)"
RANDOM=$seed

df_shim "$cc_bin"

# The verbs that write, and those that call the server (a workspace a case).
writers=(init create import delete revoke reveal rekey force)
readers=(list verify)
remote=" create delete revoke force "
workspaces=()
for verb in $remote; do
	mkdir -p "$TW_TMP/creds"
	for ((j = 0; j <= per; j++)); do
		workspaces+=(--workspace "w$verb$j:key-$verb$j:secret-$verb$j")
		printf 'key-%s:secret-%s\n' "$verb$j" "$verb$j" >"$TW_TMP/creds/w$verb$j"
	done
done
chmod 600 "$TW_TMP"/creds/*
export CREDENTIALS_DIRECTORY=$TW_TMP/creds
export TOKENWARDEN_NOW=2026-01-01T00:00Z
sim_start "$modesim" "${workspaces[@]}" --now "$TOKENWARDEN_NOW"

pub=$TW_TMP/seal.pub
key=$TW_TMP/seal.key
"$tw_bin" keygen --public-key "$pub" --secret-key "$key" --no-passphrase >/dev/null
"$tw_bin" keygen --public-key "$TW_TMP/new.pub" --secret-key "$TW_TMP/new.key" \
	--no-passphrase >/dev/null

# Known secrets, long and unlike anything else; never printed.
S1=disk-fault-secret-one-Jq3Vn8Rx2Lw
S2=disk-fault-secret-two-Pt5Yh1Kc7Mz
S3=disk-fault-secret-new-Bw9Ge4Ud6Sa
later=(--created-at 2025-12-01T00:00Z --expires-at 2099-01-01T00:00Z)

# shown FILE: the end of FILE for a failure message, any known secret in it masked.
shown() {
	tail -c 600 "$1" | sed -e "s/$S1/[a secret]/g; s/$S2/[a secret]/g; s/$S3/[a secret]/g"
}

# sqlq DB QUERY: the rows, fields joined by '|' (read-only: a missing store stays missing).
sqlq() {
	"${DF_PY[@]}" -c '
import sqlite3, sys
c = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True)
for r in c.execute(sys.argv[2]):
    print("|".join("" if v is None else str(v) for v in r))
' "$1" "$2"
}

# setup ARGS...: tokenwarden on a healthy disk, stdin from $TW_STDIN, as the cases need it.
setup() {
	"$tw_bin" "$@" <"${TW_STDIN:-/dev/null}" >"$TW_TMP/setup.out" 2>"$TW_TMP/setup.err" ||
		tw_fail "setup: tokenwarden $1 $2 exited $?: $(shown "$TW_TMP/setup.err")"
}

# Two stores to copy: one just made, one holding three imported tokens.
mkdir "$TW_TMP/empty" "$TW_TMP/full"
setup init --db "$TW_TMP/empty/tw.db" --public-key "$pub"
cp -p "$TW_TMP/empty/tw.db" "$TW_TMP/full/tw.db"
printf 'AK-tokone:%s\n' "$S1" >"$TW_TMP/one.in"
printf 'AK-toktwo:%s\n' "$S2" >"$TW_TMP/two.in"
printf 'AK-tokimp:%s\n' "$S3" >"$TW_TMP/imp.in"
TW_STDIN=$TW_TMP/one.in setup token import --db "$TW_TMP/full/tw.db" -w acme --token tokone \
	--name token-one --slot etl "${later[@]}" --public-key "$pub" --secret-stdin
TW_STDIN=$TW_TMP/two.in setup token import --db "$TW_TMP/full/tw.db" -w acme --token toktwo \
	--name token-two "${later[@]}" --public-key "$pub" --secret-stdin
setup token import --db "$TW_TMP/full/tw.db" -w acme --token toknone --name token-none --slot bi \
	"${later[@]}"
[ ! -e "$TW_TMP/full/tw.db-wal" ] || fail "the store kept its WAL after the last command"
old_pin=$(sqlq "$TW_TMP/full/tw.db" "SELECT value FROM meta WHERE key = 'key_fingerprint'")

# policy DIR WS: a policy of two slots in workspace WS, with the store in DIR.
policy() {
	mkdir -p "$1/run"
	cat >"$1/policy.yaml" <<YAML
version: 1
store: { path: $1/tw.db, public_key: $pub }
defaults: { lifetime: 10d, rotate_before: 4d, grace: 1h }
workspaces:
  - name: $2
    api: $SIM_URL
    credential: $2
    tokens:
      - name: etl
        deliver: [ { file: $1/run/etl.json } ]
      - name: bi
        deliver: [ { file: $1/run/bi.json } ]
YAML
}

# tw DIR ARGS...: tokenwarden on a healthy disk, output in DIR/healthy.{out,err}; prints the status.
tw() {
	local dir=$1 rc=0
	shift
	"$tw_bin" "$@" <"${TW_STDIN:-/dev/null}" >"$dir/healthy.out" 2>"$dir/healthy.err" || rc=$?
	echo "$rc"
}

# prepare VERB DIR WS: the case's store (and server side) before the faulty run.
prepare() {
	local verb=$1 dir=$2 ws=$3 rc
	mkdir -p "$dir"
	# The simulator's clock runs: a long run must not drift past the skew allowed.
	TOKENWARDEN_NOW=$(sim_ctl GET /_sim/clock | jq -r .now)
	case $verb in
	init) ;;
	create | delete) cp -p "$TW_TMP/empty/tw.db" "$dir/" ;;
	import | reveal | rekey | list | verify) cp -p "$TW_TMP/full/tw.db" "$dir/" ;;
	revoke | force)
		cp -p "$TW_TMP/empty/tw.db" "$dir/"
		policy "$dir" "$ws"
		rc=$(tw "$dir" --config "$dir/policy.yaml" rotate)
		[ "$rc" -eq 0 ] || fail "$dir: the first rotate exited $rc: $(shown "$dir/healthy.err")"
		;;
	esac
	if [ "$verb" = delete ]; then
		rc=$(tw "$dir" token create --db "$dir/tw.db" --public-key "$pub" --api "$SIM_URL" \
			--credential-file "$TW_TMP/creds/$ws" -w "$ws" -n victim --expires-in 30d --json)
		[ "$rc" -eq 0 ] || fail "$dir: token create exited $rc: $(shown "$dir/healthy.err")"
		jq -r .token "$dir/healthy.out" >"$dir/victim"
	fi
	[ "$verb" != reveal ] || reveals_before=$(reveals "$dir")
	return 0
}

reveals() {
	[ -s "$1/tw.db" ] || return 0
	sqlq "$1/tw.db" "SELECT count(*) FROM events WHERE kind = 'secret.revealed'"
}

# verb_cmd VERB DIR WS: sets cmd (and DF_STDIN) to the verb's run in the case.
verb_cmd() {
	local verb=$1 dir=$2 ws=$3
	DF_STDIN=/dev/null
	case $verb in
	init) cmd=(init --db "$dir/tw.db" --public-key "$pub") ;;
	create)
		cmd=(token create --db "$dir/tw.db" --public-key "$pub" --api "$SIM_URL"
			--credential-file "$TW_TMP/creds/$ws" -w "$ws" -n "${made:-made}" --expires-in 30d)
		;;
	import)
		cmd=(token import --db "$dir/tw.db" -w acme --token tokimp --name imported --slot ops
			"${later[@]}" --public-key "$pub" --secret-stdin)
		DF_STDIN=$TW_TMP/imp.in
		;;
	delete)
		cmd=(token delete --db "$dir/tw.db" --api "$SIM_URL" --credential-file "$TW_TMP/creds/$ws"
			-w "$ws" "$(cat "$dir/victim")")
		;;
	revoke) cmd=(--config "$dir/policy.yaml" revoke --yes "$ws/etl") ;;
	reveal) cmd=(secret reveal --db "$dir/tw.db" -w acme tokone --secret-key "$key" --bearer) ;;
	rekey) cmd=(rekey --db "$dir/tw.db" --secret-key "$key" --new-public-key "$TW_TMP/new.pub") ;;
	force) cmd=(--config "$dir/policy.yaml" rotate --force etl) ;;
	list) cmd=(token list --db "$dir/tw.db" --json) ;;
	verify) cmd=(audit verify --db "$dir/tw.db") ;;
	esac
}

# after_fault VERB DIR WS RC LABEL: the checks on the faulty run and the store it left.
after_fault() {
	local verb=$1 dir=$2 ws=$3 rc=$4 what=$5 checks=()
	case $rc in
	0 | 1 | 2 | 3 | 5 | 6 | 7) ;;
	*) fail "$what: exit $rc: $(shown "$dir/faulty.err")" ;;
	esac
	if grep -q "Sanitizer\|runtime error" "$dir/faulty.err"; then
		fail "$what: a sanitizer reported a problem: $(grep -m3 'Sanitizer\|runtime error' "$dir/faulty.err")"
	fi
	# An error naming the store, or (rotate) a slot's rotation failed for it.
	if [ "$rc" -ne 0 ] && ! grep -q "error: .*$dir/tw.db\|failed .*$dir/tw.db" "$dir/faulty.err"; then
		fail "$what: exit $rc without naming the store: $(shown "$dir/faulty.err")"
	fi
	if grep -aqF -- "$S1" "$dir/faulty.err"; then
		fail "$what: the secret is on stderr"
	fi
	if [ "$verb" = reveal ]; then
		if [ "$rc" -ne 0 ] && grep -aqF -- "$S1" "$dir/faulty.out"; then
			fail "$what: a reveal that failed printed the secret"
		elif [ "$rc" -eq 0 ] && ! grep -aqF -- "$S1" "$dir/faulty.out"; then
			fail "$what: a reveal that succeeded printed no secret"
		fi
		[ "$rc" -ne 0 ] || [ "$(reveals "$dir")" -eq $((reveals_before + 1)) ] ||
			fail "$what: a reveal that succeeded was not recorded"
		[ "$rc" -eq 0 ] || [ "$(reveals "$dir")" -eq "$reveals_before" ] ||
			fail "$what: a reveal that failed was recorded"
	fi
	# A store the faulty init did not make is made by the next one; what it
	# left must still be a sound SQLite file.
	if [ "$verb" = init ] && [ "$rc" -ne 0 ]; then
		[ ! -s "$dir/tw.db" ] || [ "$(sqlq "$dir/tw.db" "PRAGMA integrity_check")" = ok ] ||
			fail "$what: the file the faulty init left fails integrity_check"
		return 0
	fi
	# A create's answer not recorded leaves its row pending, a delete's its row
	# active: the next command that takes the run lock settles each.
	case $verb in
	create | force) checks=(pending) ;;
	delete | revoke) checks=(oneway) ;;
	esac
	df_accounted "$dir" "$ws" "${checks[@]}" || fail "$what: after the faulty run"
	audit "$dir" "$what: after the faulty run"
	[ "$verb" != rekey ] || sealed_to_pin "$dir" "$what: after the faulty run"
}

# audit DIR WHAT: audit verify accepts the store's history.
audit() {
	local rc
	rc=$(tw "$1" audit verify --db "$1/tw.db")
	[ "$rc" -eq 0 ] || fail "$2: audit verify exited $rc: $(shown "$1/healthy.out") $(shown "$1/healthy.err")"
}

# sealed_to_pin DIR WHAT: every secret is sealed to the key the store pins.
sealed_to_pin() {
	local odd
	odd=$(sqlq "$1/tw.db" "SELECT count(*) FROM secrets WHERE key_fingerprint !=
		(SELECT value FROM meta WHERE key = 'key_fingerprint')")
	[ "$odd" -eq 0 ] || fail "$2: $odd secrets are sealed to a key the store does not pin"
}

# again VERB DIR WS RC WHAT: the healthy run after the faulty one converges.
again() {
	local verb=$1 dir=$2 ws=$3 was=$4 what=$5 rc=0 checks=()
	verb_cmd "$verb" "$dir" "$ws"
	case $verb in
	init | import | rekey)
		# Done once it succeeded; otherwise the same command now succeeds.
		[ "$was" -eq 0 ] || rc=$(TW_STDIN=$DF_STDIN tw "$dir" "${cmd[@]}")
		;;
	create)
		made=made-again verb_cmd "$verb" "$dir" "$ws"
		rc=$(tw "$dir" "${cmd[@]}")
		;;
	delete)
		# A DELETE answered but not recorded is found gone (exit 1) and recorded so.
		if [ "$was" -ne 0 ]; then
			rc=$(tw "$dir" "${cmd[@]}")
			[ "$rc" -ne 1 ] || ! grep -q "404 Not Found" "$dir/healthy.err" || rc=0
		fi
		[ "$(sqlq "$dir/tw.db" "SELECT state FROM tokens WHERE name = 'victim'")" = deleted ] ||
			fail "$what: the deleted token is not recorded as deleted"
		;;
	revoke | force)
		[ "$verb" != revoke ] || [ "$was" -eq 0 ] || rc=$(tw "$dir" "${cmd[@]}")
		[ "$rc" -ne 0 ] || rc=$(tw "$dir" --config "$dir/policy.yaml" rotate)
		checks=(slot=etl slot=bi)
		;;
	reveal)
		rc=$(tw "$dir" "${cmd[@]}")
		grep -aqF -- "$S1" "$dir/healthy.out" || fail "$what: the next reveal printed no secret"
		;;
	list | verify) rc=$(tw "$dir" "${cmd[@]}") ;;
	esac
	[ "$rc" -eq 0 ] || fail "$what: the next run exited $rc: $(shown "$dir/healthy.err")"
	df_accounted "$dir" "$ws" "${checks[@]}" || fail "$what: after the next run"
	audit "$dir" "$what: after the next run"
	case $verb in
	import)
		[ "$(sqlq "$dir/tw.db" "SELECT count(*) FROM secrets JOIN tokens t ON t.id = token_row
			WHERE t.token = 'tokimp'")" -eq 1 ] || fail "$what: the import is not in the store"
		;;
	rekey)
		sealed_to_pin "$dir" "$what: after the next run"
		[ "$(sqlq "$dir/tw.db" "SELECT value FROM meta WHERE key = 'key_fingerprint'")" != "$old_pin" ] ||
			fail "$what: the store still pins the old key"
		rc=$(tw "$dir" secret reveal --db "$dir/tw.db" -w acme tokone --secret-key "$TW_TMP/new.key")
		[ "$rc" -eq 0 ] || fail "$what: a reveal with the new key exited $rc"
		;;
	esac
}

cases=0
for verb in "${writers[@]}" "${readers[@]}"; do
	ws=-
	[[ $remote != *" $verb "* ]] || ws=w${verb}0
	dir=$TW_TMP/${verb}0
	prepare "$verb" "$dir" "$ws"
	verb_cmd "$verb" "$dir" "$ws"
	rc=$(df_run "$dir" 0 EIO "$tw_bin" "${cmd[@]}")
	writes=$(cat "$dir/count")
	echo "$verb: a clean run exits $rc after $writes writes and syncs to the store"
	[ "$rc" -eq 0 ] || fail "$verb: the clean run exited $rc: $(shown "$dir/faulty.err")"
	after_fault "$verb" "$dir" "$ws" "$rc" "$verb (no fault)"
	count=$per
	if [[ " ${readers[*]} " = *" $verb "* ]]; then
		[ "$writes" -eq 0 ] || fail "$verb only reads, but made $writes writes to the store"
		writes=1 # a disk failing from the first write, with each errno
		count=2
	elif [ "$writes" -lt 2 ]; then
		fail "$verb made only $writes store writes: the shim is not working"
		continue
	fi
	for ((j = 1; j <= count; j++)); do
		n=$((RANDOM % writes + 1))
		kind=$([ $((j % 2)) -eq 1 ] && echo EIO || echo ENOSPC)
		[[ $remote != *" $verb "* ]] || ws=w$verb$j
		dir=$TW_TMP/$verb$j
		what="$verb ($kind at write $n of $writes)"
		prepare "$verb" "$dir" "$ws"
		verb_cmd "$verb" "$dir" "$ws"
		rc=$(df_run "$dir" "$n" "$kind" "$tw_bin" "${cmd[@]}")
		echo "$what: exit $rc"
		cases=$((cases + 1))
		if [[ " ${readers[*]} " = *" $verb "* ]]; then
			[ "$rc" -eq 0 ] || fail "$what: a verb that only reads exited $rc: $(shown "$dir/faulty.err")"
		fi
		after_fault "$verb" "$dir" "$ws" "$rc" "$what"
		again "$verb" "$dir" "$ws" "$rc" "$what"
	done
done

if [ "$failures" -ne 0 ]; then
	echo "$failures failure(s) in $cases fault cases; seed $seed" >&2
	exit 1
fi
echo "ok: $cases fault cases"
