#!/usr/bin/env bash
# End-to-end: the cron line and the consumer hook under examples/ do what
# their comments say, run as a host would run them.
#   - examples/hooks/mode-env-file, an exec: consumer of a rotation: the
#     environment file it writes holds the token the simulator holds, whose
#     secret verifies; 0600, nothing left beside it; a rehearsal writes
#     nothing; input that is not a token (or a value that would inject a
#     line) is refused, exit 1, the file as it was, no secret printed.
#   - its path and service units pass systemd-analyze verify.
#   - examples/cron/tokenwarden: a cron.d file (variables, then one job with
#     five time fields and the user tokenwarden); its command, run by
#     /bin/sh with the file's variables as cron would (the binary, policy,
#     credential directory and sleep swapped for the test's), waits a random
#     0 to 840 s and rotates.
# usage: test_cron_hook.sh MODESIM TOKENWARDEN
set -euo pipefail
umask 077
here=$(cd "$(dirname "$0")" && pwd)
examples=$here/../../examples
. "$here/../lib/sim.sh"
. "$here/../lib/check.sh"
modesim=$1
tw_bin=$2
unset TOKENWARDEN_DB TOKENWARDEN_PUBLIC_KEY TOKENWARDEN_CONFIG TOKENWARDEN_CREDENTIAL
out=$TW_TMP/out
err=$TW_TMP/err
db=$TW_TMP/tw.db
hook=$examples/hooks/mode-env-file
env_file=$TW_TMP/etl/mode.env
mkdir -p "$TW_TMP/creds" "$TW_TMP/etl"

sim_start "$modesim" --workspace acme:adminkey:adminsecret --now 2027-01-01T02:00Z
"$tw_bin" keygen --public-key "$TW_TMP/seal.pub" --secret-key "$TW_TMP/seal.key" --no-passphrase >/dev/null
"$tw_bin" init --db "$db" --public-key "$TW_TMP/seal.pub" >/dev/null
printf 'adminkey:adminsecret\n' >"$TW_TMP/creds/acme-admin"
cat >"$TW_TMP/policy.yaml" <<EOF
version: 1
store: { path: $db, public_key: $TW_TMP/seal.pub }
defaults: { lifetime: 10d, rotate_before: 4d, grace: 1d }
workspaces:
  - name: acme
    api: $SIM_URL
    credential: acme-admin
    tokens:
      - name: etl
        deliver: [ { exec: [$hook, $env_file] } ]
EOF
export CREDENTIALS_DIRECTORY=$TW_TMP/creds TOKENWARDEN_CONFIG=$TW_TMP/policy.yaml
export TOKENWARDEN_NOW=2027-01-01T02:00Z
api=(--api "$SIM_URL" -w acme --credential-file "$TW_TMP/creds/acme-admin")

# env_value NAME: NAME's value in the environment file.
env_value() {
	sed -n "s/^$1=//p" "$env_file"
}

# env_file_works: the environment file holds the server's token for etl,
# whose secret verifies.
env_file_works() {
	local token
	token=$(env_value MODE_TOKEN)
	[ "$(stat -c %a "$env_file")" = 600 ] || fail "$env_file: mode $(stat -c %a "$env_file")"
	[ "$(grep -c '' "$env_file")" = 4 ] || fail "$env_file: not four lines"
	[ "$(ls -A "$TW_TMP/etl")" = mode.env ] || fail "left beside it: $(ls -A "$TW_TMP/etl")"
	sim_ctl GET /_sim/tokens | python3 -c '
import json, sys
t = [t for t in json.load(sys.stdin)["tokens"] if t["token"] == sys.argv[1]]
sys.exit(0 if t and t[0]["access_key"] == sys.argv[2] and t[0]["expires_at"] == sys.argv[3] else 1)
' "$token" "$(env_value MODE_ACCESS_KEY)" "$(env_value MODE_EXPIRES_AT)" ||
		fail "$env_file does not hold the server's token $token"
	printf '{"token": "%s", "access_key": "%s", "access_secret": "%s"}\n' "$token" \
		"$(env_value MODE_ACCESS_KEY)" "$(env_value MODE_ACCESS_SECRET)" >"$TW_TMP/held.json"
	RUN_STDIN=$TW_TMP/held.json run 0 token verify "${api[@]}"
}

echo "== the consumer hook writes the token as an environment file"
run 0 rotate
env_file_works
first=$(env_value MODE_TOKEN)
[ "$first" = "$("$tw_bin" token list --json --db "$db" | python3 -c 'import json,sys; print([t["token"] for t in json.load(sys.stdin) if t["state"] == "active"][0])')" ] ||
	fail "the environment file does not hold the slot's active token"

echo "== a rehearsal writes nothing"
before=$(stat -c %i:%Y "$env_file")
sum=$(sha256sum <"$env_file")
export TOKENWARDEN_NOW=2027-01-08T02:00Z
sim_ctl POST /_sim/clock '{"now": "2027-01-08T02:00:00Z"}' >/dev/null
run 0 rotate --dry-run --run-hooks
tw_expect_eq "the file after a rehearsal" "$(stat -c %i:%Y "$env_file"):$(sha256sum <"$env_file")" "$before:$sum"

echo "== input that is not a token is refused, the file as it was"
secret=$(env_value MODE_ACCESS_SECRET)
for bad in 'not json' '[]' '{"token": "t1", "access_key": "k"}' \
	"{\"token\": \"t1\", \"access_key\": \"k\", \"access_secret\": \"$secret\\nEVIL=1\", \"expires_at\": \"2027-01-18T02:00Z\"}" \
	"{\"token\": \"t1\", \"access_key\": \"~root\", \"access_secret\": \"$secret\", \"expires_at\": \"2027-01-18T02:00Z\"}"; do
	st=0
	printf '%s' "$bad" | "$hook" "$env_file" >"$out" 2>"$err" || st=$?
	tw_expect_eq "the hook's exit for '${bad:0:20}...'" "$st" 1
	expect "$err" "the token is refused"
	grep -qF "$secret" "$out" "$err" && fail "the hook printed a secret"
done
st=0
"$hook" relative/mode.env </dev/null >"$out" 2>"$err" || st=$?
tw_expect_eq "the hook's exit for a relative path" "$st" 1
st=0
printf '{"token": "t1", "access_key": "k", "access_secret": "s", "expires_at": "2027-01-18T02:00Z"}' |
	"$hook" "$TW_TMP/none/mode.env" >"$out" 2>"$err" || st=$?
tw_expect_eq "the hook's exit for a missing directory" "$st" 1
expect "$err" "cannot write in $TW_TMP/none"
grep -q Traceback "$err" && fail "the hook died with a traceback"
tw_expect_eq "the file after refusals" "$(stat -c %i:%Y "$env_file"):$(sha256sum <"$env_file")" "$before:$sum"

echo "== the rotation after it replaces the file"
run 0 rotate
env_file_works
[ "$(env_value MODE_TOKEN)" != "$first" ] || fail "the rotation left the old token in the file"

echo "== the hook's units pass systemd-analyze verify"
cp "$examples"/hooks/etl-mode-token.path "$examples"/hooks/etl-mode-token.service "$TW_TMP/"
v=$(cd "$TW_TMP" && SYSTEMD_LOG_LEVEL=notice systemd-analyze verify --man=no \
	./etl-mode-token.path ./etl-mode-token.service 2>&1) || fail "systemd-analyze verify: $v"
[ -z "$v" ] || fail "systemd-analyze verify says: $v"

echo "== the cron line, run as cron runs it, waits and rotates"
cron=$examples/cron/tokenwarden
job=$(grep -Ev '^[[:space:]]*(#|$)|^[A-Z_]+=' "$cron")
tw_expect_eq "jobs in $cron" "$(grep -c '' <<<"$job")" 1
read -r minute hour dom month dow user command <<<"$job"
tw_expect_eq "the job's schedule" "$minute $hour $dom $month $dow" "0 2 * * *"
tw_expect_eq "the job's user" "$user" tokenwarden
# Its variables, as cron sets them; the test's own for the credentials and PATH.
mkdir "$TW_TMP/fake"
printf '#!/bin/sh\necho "$1" >"%s/slept"\n' "$TW_TMP" >"$TW_TMP/fake/sleep"
chmod 755 "$TW_TMP/fake/sleep"
vars=()
while IFS='=' read -r name value; do
	case $name in
	PATH) value=$TW_TMP/fake:$value ;;
	CREDENTIALS_DIRECTORY) value=$TW_TMP/creds ;;
	esac
	vars+=("$name=$value")
done < <(grep -E '^[A-Z_]+=' "$cron")
command=${command//\/usr\/bin\/tokenwarden/$tw_bin}
command=${command//\/etc\/tokenwarden\/policy.yaml/$TW_TMP/policy.yaml}
export TOKENWARDEN_NOW=2027-01-15T02:00Z
sim_ctl POST /_sim/clock '{"now": "2027-01-15T02:00:00Z"}' >/dev/null
held=$(env_value MODE_TOKEN)
st=0
env -i HOME="$TW_TMP" TOKENWARDEN_NOW="$TOKENWARDEN_NOW" NO_PROXY=127.0.0.1 "${vars[@]}" \
	/bin/sh -c "$command" >"$out" 2>"$err" || st=$?
tw_expect_eq "the cron job's exit" "$st" 0
[ ! -s "$out" ] && [ ! -s "$err" ] || fail "the cron job printed (cron would mail it)"
slept=$(cat "$TW_TMP/slept" 2>/dev/null || echo none)
[[ "$slept" =~ ^[0-9]+$ ]] && [ "$slept" -le 840 ] || fail "the cron job slept '$slept'"
env_file_works
[ "$(env_value MODE_TOKEN)" != "$held" ] || fail "the cron job did not rotate"

if [ "$failures" -ne 0 ]; then
	echo "$failures check(s) failed" >&2
	exit 1
fi
echo "all cron and hook checks passed"
