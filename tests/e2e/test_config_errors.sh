#!/usr/bin/env bash
# End-to-end: a configuration error stops a run before it does anything
# (issue 10, item 5).  A missing credential under $CREDENTIALS_DIRECTORY,
# $CREDENTIALS_DIRECTORY unset, a credential file with bad content or a loose
# mode, a missing or replaceable public key, a bad `api:` URL: each makes
# `rotate` exit 2 with one message per problem that names the workspace and
# where the run looked, gives the fix that works for `rotate` (never
# --credential-file, which it does not take), and never shows a secret.
# Nothing is recorded (no run, no slot failure or backoff, no event) and no
# request is sent.  `rotate --dry-run` reports the same and still prints the
# plan; `daemon` refuses to start on it; `revoke` gives the same advice;
# `--only` and `--force` need only their own workspace's credential; a
# daemon refuses a reload naming one it lacks.  Put right, the run succeeds.
# usage: test_config_errors.sh MODESIM TOKENWARDEN
set -euo pipefail
umask 077
modesim=$1
tw_bin=$2
. "$(dirname "$0")/../lib/sim.sh"
. "$(dirname "$0")/../lib/check.sh"
RUN_TIMEOUT=30

unset TOKENWARDEN_DB TOKENWARDEN_PUBLIC_KEY TOKENWARDEN_CONFIG TOKENWARDEN_CREDENTIAL
out=$TW_TMP/out
err=$TW_TMP/err

refute() {
	if grep -qF -- "$2" "$1"; then fail "did not expect '$2' in $(basename "$1")"; fi
}

# errors N: stderr has exactly N error lines, one per problem.
errors() {
	local n
	n=$(grep -c '^tokenwarden: error: ' "$err" || true)
	[ "$n" = "$1" ] || fail "$n error lines, expected $1"
}

# sql DB QUERY: the rows, fields joined by '|' (python3's sqlite3: no sqlite3 program needed).
sql() {
	python3 -c '
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
for r in c.execute(sys.argv[2]):
    print("|".join("" if v is None else str(v) for v in r))
' "$1" "$2"
}

# state: what a refused run must leave as it was: the history, the slots'
# failures and backoff, and the requests the simulator has seen.
state() {
	"$tw_bin" audit log --db "$db" --json 2>/dev/null | jq -c -s '[length, (map(.kind) | unique)]'
	sql "$db" 'select count(*) from slot_state'
	sql "$db" 'select * from slot_state'
	sim_ctl GET /_sim/stats | jq .requests
}

# untouched WHAT: nothing changed since the last baseline.
untouched() {
	local now
	now=$(state)
	[ "$now" = "$baseline" ] || fail "$1 changed something: $(diff <(echo "$baseline") <(echo "$now") | tr '\n' ' ')"
}

# refused WHAT: exit 2, no secret or foreign advice in the message, nothing changed
# (so no "history head" note either: it is for what a run recorded).
refused() {
	refute "$err" "history head"
	refute "$err" "--credential-file"
	refute "$err" "adminsecret"
	refute "$err" "betasecret"
	refute "$err" "would-be-secret"
	untouched "$1"
}

sim_start "$modesim" --workspace acme:adminkey:adminsecret --workspace beta:betakey:betasecret \
	--now 2027-01-01T02:00Z
db=$TW_TMP/tw.db
pub=$TW_TMP/seal.pub
creds=$TW_TMP/creds
"$tw_bin" keygen --public-key "$pub" --secret-key "$TW_TMP/seal.key" --no-passphrase >/dev/null
"$tw_bin" init --db "$db" --public-key "$pub" >/dev/null
mkdir -p "$creds" "$TW_TMP/run"
printf 'adminkey:adminsecret\n' >"$creds/acme-admin"
printf 'betakey:betasecret\n' >"$creds/beta-admin"
export CREDENTIALS_DIRECTORY=$creds

# policy FILE API: a policy of two workspaces with their own credentials.
policy() {
	cat >"$1" <<YAML
version: 1
store: { path: $db, public_key: $pub }
defaults:
  lifetime: 10d
  rotate_before: 40%
  grace: 1d
  deliver: [ { file: "$TW_TMP/run/{workspace}-{slot}.json" } ]
workspaces:
  - name: acme
    api: $2
    credential: acme-admin
    tokens: [ { name: etl }, { name: bi } ]
  - name: beta
    api: $SIM_URL
    credential: beta-admin
    tokens: [ { name: etl } ]
YAML
}
policy "$TW_TMP/policy.yaml" "$SIM_URL"
export TOKENWARDEN_CONFIG=$TW_TMP/policy.yaml

echo "== a first run makes every slot's token"
at 2027-01-01T02:00Z
run 0 rotate
expect "$out" "3 rotated"

# Every slot is due again: a run that got going would create and record.
at 2027-01-09T02:00Z
baseline=$(state)

echo "== a credential missing from \$CREDENTIALS_DIRECTORY"
mv "$creds/beta-admin" "$TW_TMP/beta-admin.away"
run 2 rotate
expect "$err" "error: workspace beta (credential beta-admin): $creds/beta-admin: cannot open: No such file or directory; add LoadCredential=beta-admin:/etc/tokenwarden/credentials/beta-admin (a file holding KEY:SECRET) to the service"
refute "$err" "workspace acme"
errors 1
refused "a missing credential"

echo "== --dry-run reports the same, and still prints the plan"
run 2 rotate --dry-run
expect "$err" "error: workspace beta (credential beta-admin): $creds/beta-admin: cannot open"
expect "$err" "a run would stop at the configuration error above, before doing anything"
expect "$err" "acme/etl: would create"
expect "$err" "beta/etl: would create"
expect "$out" "rotate (dry run): "
errors 1
refused "a dry run"

echo "== the daemon does not start on it"
run 2 daemon
expect "$err" "error: workspace beta (credential beta-admin): $creds/beta-admin: cannot open"
refute "$err" "daemon started"
refused "the daemon"

echo "== revoke gives the same advice"
mv "$creds/acme-admin" "$TW_TMP/acme-admin.away"
run 2 revoke --yes acme/etl
expect "$err" "$creds/acme-admin: cannot open: No such file or directory; add LoadCredential=acme-admin:/etc/tokenwarden/credentials/acme-admin"
refused "revoke without its credential"
mv "$TW_TMP/acme-admin.away" "$creds/acme-admin"

echo "== \$CREDENTIALS_DIRECTORY not set, and no \$TOKENWARDEN_CREDENTIAL"
unset CREDENTIALS_DIRECTORY
run 2 rotate
expect "$err" "error: workspace acme (credential acme-admin): \$CREDENTIALS_DIRECTORY is not set, nor \$TOKENWARDEN_CREDENTIAL_ACME_ADMIN; add LoadCredential=acme-admin:/etc/tokenwarden/credentials/acme-admin (a file holding KEY:SECRET) to the service, or set TOKENWARDEN_CREDENTIAL_ACME_ADMIN"
expect "$err" "error: workspace beta (credential beta-admin): \$CREDENTIALS_DIRECTORY is not set"
errors 2
refused "no credential directory"
export CREDENTIALS_DIRECTORY=$creds
mv "$TW_TMP/beta-admin.away" "$creds/beta-admin"

echo "== a credential file with bad content"
cp "$creds/acme-admin" "$TW_TMP/acme-admin.good"
printf 'would-be-secret-without-a-colon\n' >"$creds/acme-admin"
run 2 rotate
expect "$err" "error: workspace acme (credential acme-admin): $creds/acme-admin: expected KEY:SECRET"
errors 1
refused "a credential without a colon"
printf 'adminkey:would-be-secret\nanother line\n' >"$creds/acme-admin"
run 2 rotate
expect "$err" "error: workspace acme (credential acme-admin): $creds/acme-admin: expected one line KEY:SECRET"
refused "a credential of two lines"

echo "== a credential file others can read"
cp "$TW_TMP/acme-admin.good" "$creds/acme-admin"
chmod 644 "$creds/acme-admin"
run 2 rotate
expect "$err" "error: workspace acme (credential acme-admin): $creds/acme-admin: permissions 0644 are too open"
expect "$err" "chmod 600 $creds/acme-admin"
errors 1
refused "a credential others can read"
chmod 600 "$creds/acme-admin"

echo "== the public key missing, replaceable, or unreadable"
mv "$pub" "$pub.away"
run 2 rotate
expect "$err" "$pub: cannot open: No such file or directory; name the sealing public key that 'init' pinned with --public-key, \$TOKENWARDEN_PUBLIC_KEY or the policy's store: public_key"
refused "a missing public key"
run 2 rotate --dry-run
refused "a dry run without the public key"
mv "$pub.away" "$pub"
chmod 666 "$pub"
run 2 rotate
expect "$err" "$pub: permissions 0666 let group or others replace the key"
refused "a public key others can replace"
chmod 644 "$pub"
if [ "$(id -u)" != 0 ]; then
	chmod 000 "$pub"
	run 2 rotate
	expect "$err" "$pub: cannot open: Permission denied"
	refused "an unreadable public key"
	chmod 644 "$pub"
else
	echo "(root reads any file: a public key without read permission cannot be made here)"
fi
printf 'not a key\n' >"$TW_TMP/bad.pub"
run 2 rotate --public-key "$TW_TMP/bad.pub"
expect "$err" "$TW_TMP/bad.pub"
refused "a public key that is no key"

echo "== a FIFO at a credential's, the public key's or the policy's path is refused at once"
# The open must not wait for a writer: a nightly run would hang there.
RUN_TIMEOUT=10
mv "$creds/acme-admin" "$TW_TMP/acme-admin.away"
mkfifo -m 600 "$creds/acme-admin"
run 2 rotate
expect "$err" "error: workspace acme (credential acme-admin): $creds/acme-admin: not a regular file"
refused "a FIFO for a credential"
rm "$creds/acme-admin"
mv "$TW_TMP/acme-admin.away" "$creds/acme-admin"
mv "$pub" "$pub.away"
mkfifo -m 644 "$pub"
run 2 rotate
expect "$err" "$pub: not a regular file"
refused "a FIFO for the public key"
rm "$pub"
mv "$pub.away" "$pub"
mkfifo -m 600 "$TW_TMP/fifo.yaml"
run 2 rotate --config "$TW_TMP/fifo.yaml"
expect "$err" "the policy must be a regular file"
refused "a FIFO for the policy"
RUN_TIMEOUT=30

echo "== a bad api: URL is refused with the policy"
for api in ftp://127.0.0.1:1 http://example.com "https://user@example.com" "not a url"; do
	policy "$TW_TMP/bad-api.yaml" "$api"
	run 2 rotate --config "$TW_TMP/bad-api.yaml"
	expect "$err" "bad-api.yaml:10:"
	expect "$err" "api"
	refused "api: $api"
done

echo "== the daemon does not start on a store it cannot write"
mkdir "$TW_TMP/ro"
python3 -c 'import sqlite3, sys; sqlite3.connect(sys.argv[1]).backup(sqlite3.connect(sys.argv[2]))' \
	"$db" "$TW_TMP/ro/tw.db"
chmod 400 "$TW_TMP/ro/tw.db"
run 2 daemon --db "$TW_TMP/ro/tw.db"
expect "$err" "$TW_TMP/ro/tw.db: cannot be written"
refute "$err" "daemon started"
refused "the daemon on a read-only store"

echo "== --only and --force need only their own workspace's credential"
mv "$creds/beta-admin" "$TW_TMP/beta-admin.away"
run 0 rotate --only acme/etl
expect "$out" "1 rotated"
refute "$err" "error:"
run 0 rotate --force acme/bi
expect "$out" "1 rotated"
baseline=$(state)
run 2 rotate --force beta/etl
expect "$err" "error: workspace beta (credential beta-admin): $creds/beta-admin: cannot open"
refute "$err" "workspace acme"
refused "--force of a slot without its credential"
mv "$TW_TMP/beta-admin.away" "$creds/beta-admin"

echo "== put right, the run succeeds"
run 0 rotate
expect "$out" "1 rotated"
refute "$err" "error:"
for s in acme-etl acme-bi beta-etl; do
	t=$(jq -r .token "$TW_TMP/run/$s.json")
	sim_ctl GET /_sim/tokens | jq -e --arg t "$t" '.tokens | any(.token == $t and (.expired | not))' \
		>/dev/null || fail "$s: the delivered token $t is not live"
done
[ "$(sql "$db" 'select count(*) from slot_state')" = 0 ] || fail "a slot has failures recorded"
"$tw_bin" audit log --db "$db" --json | jq -e -s '[.[] | select(.kind == "slot.failure")] | length == 0' \
	>/dev/null || fail "the history has a slot failure"
echo "== the daemon keeps its policy when a reload names a credential it lacks"
# wait_for TEXT: waits up to 20 s for the daemon to say TEXT.
wait_for() {
	local i
	for ((i = 0; i < 200; i++)); do
		grep -qF -- "$1" "$err" && return 0
		sleep 0.1
	done
	fail "the daemon did not say '$1' in 20 s"
}
baseline=$(state)
cp "$TW_TMP/policy.yaml" "$TW_TMP/policy.good"
timeout 60 "$tw_bin" daemon >"$out" 2>"$err" </dev/null &
daemon=$!
wait_for "daemon started"
sed -i 's/credential: beta-admin/credential: gamma-admin/' "$TW_TMP/policy.yaml"
kill -HUP "$daemon"
wait_for "not reloaded"
expect "$err" "error: workspace beta (credential gamma-admin): $creds/gamma-admin: cannot open"
kill -TERM "$daemon"
d=0
wait "$daemon" || d=$?
[ "$d" = 0 ] || fail "the daemon exited $d after SIGTERM"
refused "a reload naming a missing credential"
cp "$TW_TMP/policy.good" "$TW_TMP/policy.yaml"

# Issue 12, finding 2: $TOKENWARDEN_CREDENTIAL once stood for every credential
# a policy names, so acme's key went to beta's API.  It stands only for a
# policy that names one; each named credential has a variable of its own.
echo "== \$TOKENWARDEN_CREDENTIAL does not stand for two credentials"
at 2027-01-17T02:00Z # every slot due again
baseline=$(state)
unset CREDENTIALS_DIRECTORY
export TOKENWARDEN_CREDENTIAL=adminkey:adminsecret
run 2 rotate
expect "$err" "error: workspace acme (credential acme-admin): \$CREDENTIALS_DIRECTORY is not set, nor \$TOKENWARDEN_CREDENTIAL_ACME_ADMIN; \$TOKENWARDEN_CREDENTIAL stands only for a policy naming one credential, and this one names 2; add LoadCredential=acme-admin:/etc/tokenwarden/credentials/acme-admin (a file holding KEY:SECRET) to the service, or set TOKENWARDEN_CREDENTIAL_ACME_ADMIN"
expect "$err" "error: workspace beta (credential beta-admin): \$CREDENTIALS_DIRECTORY is not set, nor \$TOKENWARDEN_CREDENTIAL_BETA_ADMIN; \$TOKENWARDEN_CREDENTIAL stands only for"
errors 2
refused "a run with one variable for two credentials"
run 2 revoke --yes beta/etl
expect "$err" "nor \$TOKENWARDEN_CREDENTIAL_BETA_ADMIN; \$TOKENWARDEN_CREDENTIAL stands only for"
refused "revoke with one variable for two credentials"
# token create takes beta's credential from the policy too.
run 2 token create -w beta -n by-hand --expires-in 5d
expect "$err" "error: no Mode API credential beta-admin (\$TOKENWARDEN_CREDENTIAL stands only for a policy naming one credential, and this one names 2): use --credential NAME with systemd's \$CREDENTIALS_DIRECTORY, --credential-file FILE (mode 0600), or set TOKENWARDEN_CREDENTIAL_BETA_ADMIN"
refute "$err" "adminsecret"
untouched "token create with one variable for two credentials"

echo "== each credential from its own variable: every workspace gets its own key"
# The simulator refuses a workspace's tokens to any other workspace's key.
export TOKENWARDEN_CREDENTIAL_ACME_ADMIN=adminkey:adminsecret
export TOKENWARDEN_CREDENTIAL_BETA_ADMIN=betakey:betasecret
run 0 rotate
expect "$out" "3 rotated"
refute "$err" "error:"
refute "$err" "adminsecret"
refute "$err" "betasecret"
[ "$(sim_ctl GET /_sim/tokens | jq '[.tokens[] | select(.expired | not)] | length')" -ge 3 ] ||
	fail "the run with each credential's variable made no tokens"
unset TOKENWARDEN_CREDENTIAL_ACME_ADMIN TOKENWARDEN_CREDENTIAL_BETA_ADMIN

echo "== \$TOKENWARDEN_CREDENTIAL still serves a policy naming one credential"
sed '/^  - name: beta$/,$d' "$TW_TMP/policy.yaml" >"$TW_TMP/one.yaml"
run 0 rotate --config "$TW_TMP/one.yaml" --force acme/etl
expect "$out" "1 rotated"
unset TOKENWARDEN_CREDENTIAL
export CREDENTIALS_DIRECTORY=$creds

# Issue 12, finding 7: a webhook URL often carries a secret in its path, so a
# policy with webhooks that group or others can read is a warning, from
# policy check and wherever the policy is loaded.
echo "== a policy with webhooks that others can read is a warning"
hooked=$TW_TMP/hooked.yaml
cp "$TW_TMP/policy.yaml" "$hooked"
printf "notify: [ { webhook: 'https://hooks.example.com/T000/B000/would-be-secret' } ]\n" >>"$hooked"
chmod 644 "$hooked"
run 0 policy check "$hooked"
expect "$err" "$hooked: warning: group or others can read the policy (mode 0644), and the URLs of its webhooks often carry a secret; run: chmod go-r $hooked"
refute "$err" "would-be-secret"
run 2 policy check --strict "$hooked"
run 0 policy show --config "$hooked"
expect "$err" "$hooked: warning: group or others can read the policy (mode 0644)"
chmod 640 "$hooked"
run 0 policy check "$hooked"
expect "$err" "$hooked: warning: group or others can read the policy (mode 0640)"
chmod 600 "$hooked"
run 0 policy check --strict "$hooked"
refute "$err" "warning"
# Without webhooks there is nothing to keep private.
chmod 644 "$TW_TMP/one.yaml"
run 0 policy check --strict "$TW_TMP/one.yaml"
refute "$err" "warning"

v=0
"$tw_bin" audit verify --db "$db" >"$out" 2>"$err" || v=$?
[ "$v" = 0 ] || fail "the history does not verify"

sim_stop
[ "$failures" -eq 0 ] || {
	echo "$failures failure(s)" >&2
	exit 1
}
echo "config errors: all passed"
