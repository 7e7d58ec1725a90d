#!/usr/bin/env bash
# The demo behind `./dev demo`: starts the Mode simulator on loopback, then
# creates, verifies and deletes a signature token with the real binary,
# printing each step, and stops the simulator.  Also run by ctest.
# usage: demo.sh BUILD_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
tw=$build/tokenwarden
. "$(dirname "$0")/../lib/sim.sh"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() {
	printf '$ %s\n' "$*"
	"$@"
}

started=$(date +%s)
step "Starting the Mode API simulator (tests/modesim) on loopback"
sim_start "$build/tests/modesim/modesim" --workspace acme:demo-admin-key:demo-admin-secret
echo "simulator at $SIM_URL, workspace acme"

step "A sealing key pair and the inventory database"
show "$tw" keygen --public-key "$TW_TMP/seal.pub" --secret-key "$TW_TMP/seal.key" --no-passphrase
export TOKENWARDEN_DB=$TW_TMP/tokenwarden.db TOKENWARDEN_PUBLIC_KEY=$TW_TMP/seal.pub
show "$tw" init

step "The admin credential lives in a 0600 file, never on the command line"
cred=$TW_TMP/acme-admin
(umask 077 && printf 'demo-admin-key:demo-admin-secret\n' >"$cred")
ls -l "$cred" | awk '{print $1, $NF}'

step "Create a token that expires in 30 days"
api=(--api "$SIM_URL" --workspace acme)
show "$tw" token create "${api[@]}" --credential-file "$cred" --name demo-etl-token --expires-in 30d
step "Create another; its secret goes to a 0600 file, not the terminal"
(umask 077 && "$tw" token create "${api[@]}" --credential-file "$cred" --name demo-etl-token-2 \
	--expires-in 30d --json --show-secret >"$TW_TMP/token.json")
jq 'del(.access_secret, .bearer)' "$TW_TMP/token.json"
id=$(jq -r .token "$TW_TMP/token.json")

step "Verify it with one read-only Bearer call"
show "$tw" token verify "${api[@]}" --token-file "$TW_TMP/token.json"

step "Delete it; it stops working"
show "$tw" token delete "${api[@]}" --credential-file "$cred" "$id"
echo "verifying it again must now fail:"
if "$tw" token verify "${api[@]}" --token-file "$TW_TMP/token.json" 2>"$TW_TMP/verify.err"; then
	echo "demo: a deleted token still verified" >&2
	exit 1
fi
sed 's/^/  (expected) /' "$TW_TMP/verify.err"

step "What the simulator holds now"
sim_ctl GET /_sim/tokens | jq -c '.tokens[] | {token, name, expires_at}'
sim_stop
step "Done in $(($(date +%s) - started)) s; the simulator is stopped"
