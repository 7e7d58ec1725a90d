#!/usr/bin/env bash
# The demo behind `./dev demo`: the main job on the embedded defaults.  The
# Mode simulator runs on loopback and the inventory is a SQLite file in a
# temporary directory.  A sample policy is checked and planned; a first
# rotate makes the tokens and hands them to their consumers; the simulated
# clock moves forward; later runs replace them and delete the old ones after
# their grace.  Then the history is shown and verified.  Also run by ctest.
# usage: demo.sh BUILD_DIR
set -euo pipefail
umask 077
build=$(cd "$1" && pwd)
tw=$build/tokenwarden
. "$(dirname "$0")/../lib/sim.sh"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() {
	printf '$ %s\n' "$*"
	"$@"
}
# at TIME: moves tokenwarden's clock and the simulator's to TIME.
at() {
	export TOKENWARDEN_NOW=$1
	sim_ctl POST /_sim/clock "{\"now\": \"$1\"}" >/dev/null
	echo "(the clock now reads $1)"
}

unset TOKENWARDEN_DB TOKENWARDEN_PUBLIC_KEY TOKENWARDEN_CREDENTIAL
started=$(date +%s)
step "The Mode API simulator (tests/modesim) on loopback"
sim_start "$build/tests/modesim/modesim" --workspace acme:demo-admin-key:demo-admin-secret \
	--now 2026-12-01T02:00Z
echo "simulator at $SIM_URL, workspace acme"

step "A sealing key pair, and the inventory in $TW_TMP"
show "$tw" keygen --public-key "$TW_TMP/seal.pub" --secret-key "$TW_TMP/seal.key" --no-passphrase
show "$tw" init --db "$TW_TMP/tokenwarden.db" --public-key "$TW_TMP/seal.pub"
echo "The admin credential is a file in \$CREDENTIALS_DIRECTORY (systemd's LoadCredential=):"
mkdir "$TW_TMP/credentials" "$TW_TMP/consumers"
printf 'demo-admin-key:demo-admin-secret\n' >"$TW_TMP/credentials/acme-admin"
export CREDENTIALS_DIRECTORY=$TW_TMP/credentials

step "A policy: two slots, their consumers, and the rules"
export TOKENWARDEN_CONFIG=$TW_TMP/policy.yaml
cat >"$TOKENWARDEN_CONFIG" <<YAML
version: 1
store: { path: $TW_TMP/tokenwarden.db, public_key: $TW_TMP/seal.pub }
defaults: { lifetime: 30d, rotate_before: 20%, grace: 1d }
enforce: { max_lifetime: 90d, unmanaged: report }
workspaces:
  - name: acme
    api: $SIM_URL
    credential: acme-admin
    deliver: [ { file: "$TW_TMP/consumers/{slot}.json" } ]
    tokens:
      - name: etl-discovery
      - name: dashboards
        lifetime: 14d
YAML
cat "$TOKENWARDEN_CONFIG"
show "$tw" policy check

step "Night 1: nothing exists yet, so both slots are due"
at 2026-12-01T02:00Z
show "$tw" plan || true
show "$tw" rotate
echo "What the etl consumer got (secret hidden here; the file is 0600):"
ls -l "$TW_TMP/consumers/etl-discovery.json" | awk '{print $1, $NF}'
jq '{token, name, expires_at, access_secret: "(hidden)"}' "$TW_TMP/consumers/etl-discovery.json"

step "Twelve days on: dashboards (14d, rotated 20% before expiry) is due"
at 2026-12-13T02:00Z
show "$tw" rotate
show "$tw" token list --db "$TW_TMP/tokenwarden.db" --slot dashboards

step "A day later: the old dashboards token's grace is over"
at 2026-12-14T02:00Z
show "$tw" rotate
show "$tw" token list --db "$TW_TMP/tokenwarden.db" --slot dashboards

step "The history, and its verification"
show "$tw" audit log --db "$TW_TMP/tokenwarden.db" | tail -n 8
show "$tw" audit verify --db "$TW_TMP/tokenwarden.db"
show "$tw" audit report || true

step "What the simulator holds now"
sim_ctl GET /_sim/tokens | jq -c '.tokens[] | {token, name, expires_at}'
sim_stop
step "Done in $(($(date +%s) - started)) s; the simulator is stopped"
