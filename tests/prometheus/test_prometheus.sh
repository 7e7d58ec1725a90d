#!/usr/bin/env bash
# The Prometheus side of the metrics, with promtool: the example alerting rules
# pass `promtool check rules` and their unit tests (`promtool test rules`,
# tokenwarden.rules.test.yml beside this script), and the textfile the real
# binary writes after a real rotate against modesim passes `promtool check
# metrics`.  Skips (77) only where promtool is not installed; ./dev installs
# it (Debian package prometheus).
# usage: test_prometheus.sh MODESIM TOKENWARDEN SOURCE_DIR
set -euo pipefail
umask 077
modesim=$1
tw_bin=$2
src=$3
if ! command -v promtool >/dev/null; then
	echo "SKIP: promtool is not installed (Debian package prometheus; ./dev installs it)"
	exit 77
fi
. "$src/tests/lib/sim.sh"
unset TOKENWARDEN_DB TOKENWARDEN_PUBLIC_KEY TOKENWARDEN_NOW TOKENWARDEN_CONFIG

echo "== promtool check rules, test rules"
promtool check rules "$src/examples/prometheus/tokenwarden.rules.yml" ||
	tw_fail "promtool check rules refused the example rules"
promtool test rules "$src/tests/prometheus/tokenwarden.rules.test.yml" ||
	tw_fail "the example rules failed their unit tests"

echo "== promtool check metrics on the file a real rotate writes"
sim_start "$modesim" --workspace acme:adminkey:adminsecret --now 2026-11-01T00:00Z
db=$TW_TMP/tw.db
"$tw_bin" keygen --public-key "$TW_TMP/seal.pub" --secret-key "$TW_TMP/seal.key" --no-passphrase >/dev/null
"$tw_bin" init --db "$db" --public-key "$TW_TMP/seal.pub" >/dev/null 2>&1
mkdir -p "$TW_TMP/creds" "$TW_TMP/textfile"
printf 'adminkey:adminsecret\n' >"$TW_TMP/creds/acme-admin"
chmod 600 "$TW_TMP/creds/acme-admin"
export CREDENTIALS_DIRECTORY=$TW_TMP/creds TOKENWARDEN_NOW=2026-11-01T00:00Z
cat >"$TW_TMP/policy.yaml" <<YAML
version: 1
store: { path: $db, public_key: $TW_TMP/seal.pub }
defaults: { lifetime: 30d, rotate_before: 20%, grace: 1d }
workspaces:
  - name: acme
    api: $SIM_URL
    credential: acme-admin
    tokens:
      - name: etl
      - name: bi
YAML
prom=$TW_TMP/textfile/tokenwarden.prom
"$tw_bin" --config "$TW_TMP/policy.yaml" rotate --metrics-textfile "$prom" >/dev/null 2>"$TW_TMP/err" ||
	{ cat "$TW_TMP/err" >&2; tw_fail "rotate failed"; }
promtool check metrics <"$prom" || tw_fail "promtool check metrics refused the file rotate wrote"
grep -q '^tokenwarden_slot_token_expiry_timestamp_seconds{workspace="acme",slot="etl"} 179[0-9]*\.[0-9]\{3\}$' "$prom" ||
	tw_fail "the file has no expiry for acme/etl"
grep -qx 'tokenwarden_last_run_exit_status 0' "$prom" || tw_fail "the file's last run did not exit 0"
"$tw_bin" --config "$TW_TMP/policy.yaml" metrics | promtool check metrics ||
	tw_fail "promtool check metrics refused metrics' standard output"
echo "all promtool checks passed"
