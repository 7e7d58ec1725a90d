#!/usr/bin/env bash
# End-to-end: how requests leave the host (issue 12, finding 4).
#
# With http_proxy set, `token create --api http://127.0.0.1:PORT` once
# handed the Basic credentials in clear to the proxy.  Here a fake proxy on
# loopback (tests/lib/listen.py: it records every request head and lets
# nothing through) is named by every proxy variable libcurl reads, with no
# NO_PROXY, and:
#   - token create, token verify, rotate and a loopback webhook reach the
#     simulator and the webhook directly: nothing reaches the proxy;
#   - a proxy the policy names (proxy:) is not used for loopback either;
#   - a named proxy (proxy: or --proxy) carries https requests, to the API
#     and to a webhook, as a CONNECT tunnel, and is handed no credential;
#   - a proxy URL with a user name or password, or not a proxy's scheme, is
#     refused without being echoed.
# usage: test_transport.sh MODESIM TOKENWARDEN
set -euo pipefail
umask 077
modesim=$1
tw_bin=$2
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib/sim.sh
. "$here/../lib/sim.sh"
# shellcheck source=../lib/check.sh
. "$here/../lib/check.sh"
RUN_TIMEOUT=60

unset TOKENWARDEN_DB TOKENWARDEN_PUBLIC_KEY TOKENWARDEN_CONFIG TOKENWARDEN_CREDENTIAL
# sim.sh lists loopback in NO_PROXY for its own curl; the binary must not need it.
unset NO_PROXY no_proxy
out=$TW_TMP/out
err=$TW_TMP/err

refute() {
	if grep -qF -- "$2" "$1"; then fail "did not expect '$2' in $(basename "$1")"; fi
}

# untouched_proxy WHAT: nothing has reached the proxy.  Its log is never
# printed: what reaches a proxy may be a credential.
untouched_proxy() {
	if [ -s "$TW_TMP/proxy.log" ]; then
		fail "$1: $(grep -c '^--$' "$TW_TMP/proxy.log") request(s) reached the proxy, first: $(head -n 1 "$TW_TMP/proxy.log" | cut -c1-60)"
		: >"$TW_TMP/proxy.log"
	fi
}

# no_secret_to_proxy: the proxy was handed no credential (named, never shown).
no_secret_to_proxy() {
	local what
	declare -A secret=(
		[an Authorization header]=Authorization
		[the admin secret]=adminsecret
		[the admin Basic value]=$(printf 'adminkey:adminsecret' | base64 -w0)
		[the token access secret]=$(jq -r .access_secret "$TW_TMP/token.json")
		[the token bearer value]=$(jq -r .bearer "$TW_TMP/token.json")
	)
	for what in "${!secret[@]}"; do
		if grep -qiF -- "${secret[$what]}" "$TW_TMP/proxy.log"; then
			fail "the proxy was handed $what"
		fi
	done
}

tw_listen proxy proxy
tw_listen hook hook
proxy_port=$(cat "$TW_TMP/proxy.port")
hook_port=$(cat "$TW_TMP/hook.port")
# Started before the proxy variables are set: sim.sh's curl reads them too.
sim_start "$modesim" --workspace acme:adminkey:adminsecret --now 2027-03-01T02:00Z
for v in http_proxy HTTP_PROXY https_proxy HTTPS_PROXY ALL_PROXY all_proxy; do
	export "$v=http://127.0.0.1:$proxy_port"
done
export TOKENWARDEN_NOW=2027-03-01T02:00Z
db=$TW_TMP/tw.db
pub=$TW_TMP/seal.pub
"$tw_bin" keygen --public-key "$pub" --secret-key "$TW_TMP/seal.key" --no-passphrase >/dev/null
"$tw_bin" init --db "$db" --public-key "$pub" >/dev/null
mkdir -p "$TW_TMP/creds" "$TW_TMP/run"
printf 'adminkey:adminsecret\n' >"$TW_TMP/creds/acme-admin"
export CREDENTIALS_DIRECTORY=$TW_TMP/creds

# policy FILE [TOP-LEVEL LINE] [WEBHOOK URL]: one workspace on the simulator.
policy() {
	cat >"$1" <<YAML
version: 1
store: { path: $db, public_key: $pub }
${2:-}
defaults: { lifetime: 10d, rotate_before: 40%, grace: 1d }
notify: [ { webhook: '${3:-http://127.0.0.1:$hook_port/hook}', events: [success, failure] } ]
workspaces:
  - name: acme
    api: $SIM_URL
    credential: acme-admin
    tokens: [ { name: etl } ]
YAML
}

echo "== proxy variables are ignored: token create and verify go to loopback directly"
run 0 token create --api "$SIM_URL" -w acme --credential-file "$TW_TMP/creds/acme-admin" \
	--db "$db" --public-key "$pub" -n direct-create --expires-in 5d --json --show-secret
cp "$out" "$TW_TMP/token.json"
untouched_proxy "token create to a loopback API"
RUN_STDIN=$TW_TMP/token.json
run 0 token verify --api "$SIM_URL" -w acme
RUN_STDIN=/dev/null
untouched_proxy "token verify to a loopback API"

echo "== libcurl is loaded when a request is sent, not before (core/libcurl.c)"
policy "$TW_TMP/policy.yaml"
rc=0
LD_DEBUG=files "$tw_bin" plan --config "$TW_TMP/policy.yaml" >/dev/null 2>"$TW_TMP/ld.log" || rc=$?
[ "$rc" = 3 ] || fail "plan exited $rc, not 3 (a rotation due)"
grep -q 'file=libcurl' "$TW_TMP/ld.log" && fail "plan loaded libcurl, which it never uses"
grep -q 'file=libsqlite3' "$TW_TMP/ld.log" || fail "LD_DEBUG=files shows no libraries at all"

echo "== rotate and its loopback webhook go directly"
LD_DEBUG=files run 0 rotate --config "$TW_TMP/policy.yaml"
expect "$out" "1 rotated"
grep -q 'file=libcurl.*dynamically loaded' "$err" || fail "rotate sent requests without loading libcurl"
untouched_proxy "rotate on a loopback API"
[ "$(grep -c '^POST /hook' "$TW_TMP/hook.log")" = 1 ] || fail "the loopback webhook got no alert"

echo "== a proxy the policy names is not used for loopback either"
policy "$TW_TMP/named.yaml" "proxy: http://127.0.0.1:$proxy_port"
run 0 policy check --strict "$TW_TMP/named.yaml"
run 0 rotate --config "$TW_TMP/named.yaml" --force acme/etl
expect "$out" "1 rotated"
untouched_proxy "rotate on a loopback API with a named proxy"
[ "$(grep -c '^POST /hook' "$TW_TMP/hook.log")" = 2 ] || fail "the loopback webhook got no second alert"

echo "== a named proxy carries https as a tunnel, and is handed no credential"
RUN_STDIN=$TW_TMP/token.json
run 7 token verify --api https://mode.example.invalid -w acme --proxy "http://127.0.0.1:$proxy_port" \
	--retries 0
RUN_STDIN=/dev/null
expect "$TW_TMP/proxy.log" "CONNECT mode.example.invalid:443 HTTP/1.1"
no_secret_to_proxy
: >"$TW_TMP/proxy.log"
policy "$TW_TMP/hook.yaml" "proxy: http://127.0.0.1:$proxy_port" https://hooks.example.invalid/T000/B000/XXXX
run 0 rotate --config "$TW_TMP/hook.yaml" --force acme/etl
expect "$out" "1 rotated"
expect "$err" "webhook at line 5"
refute "$err" "hooks.example.invalid"
expect "$TW_TMP/proxy.log" "CONNECT hooks.example.invalid:443 HTTP/1.1"
refute "$TW_TMP/proxy.log" "T000/B000/XXXX"
no_secret_to_proxy
: >"$TW_TMP/proxy.log"

echo "== a proxy URL that is no proxy's, or carries a password, is refused unechoed"
for bad in "ftp://127.0.0.1:21" "http://user:hunter2@127.0.0.1:3128" "not a url" \
	"http://127.0.0.1:3128/path?x=hunter2"; do
	policy "$TW_TMP/bad.yaml" "proxy: '$bad'"
	run 2 policy check "$TW_TMP/bad.yaml"
	expect "$err" "bad.yaml:3:8: error: proxy must be a proxy's URL"
	refute "$err" "hunter2"
	run 2 token verify --api "$SIM_URL" -w acme --proxy "$bad" --token-file "$TW_TMP/token.json"
	expect "$err" "--proxy must be"
	refute "$err" "hunter2"
done
untouched_proxy "the refused proxies"

# Issue 12, finding 8: the TLS floor was the distribution's OpenSSL default.
# A server that speaks only TLS 1.1, and an OpenSSL configuration that lets
# the client speak it too (as some distributions' did), show whether
# tokenwarden sets its own floor: without one the handshake completes and
# fails on the test certificate; with TLS 1.2 at least it fails first, on
# the protocol version.
echo "== TLS 1.2 at least, to the API and to webhooks, whatever OpenSSL allows"
tls=$TW_TMP/tls
mkdir "$tls"
cat >"$tls/lax.cnf" <<'CNF'
openssl_conf = lax
[lax]
ssl_conf = lax_ssl
[lax_ssl]
system_default = lax_default
[lax_default]
MinProtocol = TLSv1
CipherString = DEFAULT@SECLEVEL=0
CNF
tls_port=
if openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tls/key.pem" -out "$tls/cert.pem" \
	-days 1 -subj /CN=127.0.0.1 >/dev/null 2>&1; then
	# The log exists before the server starts: the loop below may read it first.
	: >"$tls/server.log"
	OPENSSL_CONF=$tls/lax.cnf openssl s_server -accept 127.0.0.1:0 -tls1_1 -www \
		-cert "$tls/cert.pem" -key "$tls/key.pem" -cipher DEFAULT@SECLEVEL=0 \
		>"$tls/server.log" 2>&1 </dev/null &
	tw_at_exit "kill $! 2>/dev/null"
	for ((i = 0; i < 50; i++)); do
		tls_port=$(sed -n 's/^ACCEPT .*:\([0-9]*\)$/\1/p' "$tls/server.log")
		[ -n "$tls_port" ] && break
		sleep 0.1
	done
fi
# The premise: with this configuration a client with no floor of its own
# speaks TLS 1.1 to that server.
if [ -n "$tls_port" ] && OPENSSL_CONF=$tls/lax.cnf curl -sS -o /dev/null --noproxy '*' \
	--cacert "$tls/cert.pem" "https://127.0.0.1:$tls_port/" 2>/dev/null; then
	export OPENSSL_CONF=$tls/lax.cnf
	RUN_STDIN=$TW_TMP/token.json
	run 7 token verify --api "https://127.0.0.1:$tls_port" -w acme --retries 0
	RUN_STDIN=/dev/null
	grep -qE 'protocol version|unsupported protocol' "$err" ||
		fail "token verify to a TLS 1.1 server did not fail on the protocol version"
	refute "$err" "certificate"
	policy "$TW_TMP/tls.yaml" "" "https://127.0.0.1:$tls_port/hook"
	run 0 rotate --config "$TW_TMP/tls.yaml" --force acme/etl
	expect "$err" "webhook at line 5: SSL connect error"
	refute "$err" "certificate"
	unset OPENSSL_CONF
else
	echo "SKIP: no TLS 1.1 server can be made here (openssl lacks it, or the client will not speak it)"
fi
untouched_proxy "the TLS checks"

sim_stop
[ "$failures" -eq 0 ] || {
	echo "$failures failure(s)" >&2
	exit 1
}
echo "transport: all passed"
