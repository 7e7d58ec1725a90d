#!/usr/bin/env bash
# modesim's own tests: start-up errors, every validation rule of the Mode
# endpoints, authentication, the rate limit, each injected fault, the control
# API, every answer's Date (one, from the simulated clock), and that no access
# secret leaks into the log or /_sim/.
# usage: test_modesim.sh MODESIM_BINARY
set -euo pipefail

MODESIM=${1:?usage: test_modesim.sh MODESIM_BINARY}
# shellcheck source=SCRIPTDIR/../lib/sim.sh
. "$(dirname "$0")/../lib/sim.sh"

WS=acme
KEY=acme-key-0001
SECRET=acme-secret-0001
WS2=globex
KEY2=globex-key-0002
SECRET2=globex-secret-0002
SCOPE='{"authentication_for":"batch-api","authorization_type":"read-only"}'
FAR=2035-01-01T00:00Z
B=$TW_TMP/body
H=$TW_TMP/headers
SECRETS=$TW_TMP/secrets # every access_secret handed out, to look for leaks
: >"$SECRETS"

step() { echo "== $*"; }

# req METHOD PATH [CURL_ARGS...]: sets ST (HTTP status, 000 for none) and RC
# (curl's exit status); the body lands in $B and the headers in $H.
req() {
	local method=$1 path=$2
	shift 2
	RC=0
	ST=$(curl -sS -o "$B" -D "$H" -w '%{http_code}' -X "$method" "$@" "$SIM_URL$path" \
		2>"$TW_TMP/curl.err") || RC=$?
}

expect_status() {
	[ "$ST" = "$1" ] ||
		tw_fail "$2: expected HTTP $1, got $ST (curl exit $RC): $(head -c 400 "$B")"
}

expect_jq() {
	jq -e "$1" "$B" >/dev/null 2>&1 || tw_fail "$2: expected body to satisfy $1, got: $(head -c 400 "$B")"
}

# header NAME: prints the last value of response header NAME.
header() {
	grep -i "^$1:" "$H" | tail -n 1 | cut -d: -f2- | tr -d ' \r'
}

# expect_one_date WHAT: the last answer has exactly one Date header, an IMF-fixdate.
expect_one_date() {
	local n
	n=$(grep -ci '^Date:' "$H" || true)
	tw_expect_eq "$1: Date headers" "$n" 1
	[[ $(header_raw Date) =~ ^(Mon|Tue|Wed|Thu|Fri|Sat|Sun),\ [0-3][0-9]\ (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\ [0-9]{4}\ [0-2][0-9]:[0-5][0-9]:[0-6][0-9]\ GMT$ ]] ||
		tw_fail "$1: Date '$(header_raw Date)' is not an IMF-fixdate"
}

# header_raw NAME: prints the last value of response header NAME, inner spaces kept.
header_raw() {
	grep -i "^$1:" "$H" | tail -n 1 | cut -d: -f2- | sed -e 's/^ *//' -e 's/\r$//'
}

# epoch_of_date: the last answer's Date in seconds since the epoch.
epoch_of_date() {
	date -u -d "$(header_raw Date)" +%s
}

# A Mode error: status, body {"id": ID, "message": string} as JSON.
expect_error() {
	expect_status "$1" "$3"
	expect_jq ".id == \"$2\" and (.message | type == \"string\" and length > 0)" "$3"
	tw_expect_eq "$3: Content-Type" "$(header Content-Type)" application/json
	expect_one_date "$3"
}

# body NAME EXPIRES [AUTH_SCOPE_JSON]: prints a creation body.
body() {
	jq -cn --arg n "$1" --arg e "$2" --argjson s "${3-$SCOPE}" \
		'{signature_token: {name: $n, expires_at: $e, auth_scope: $s}}'
}

# create BODY [CURL_ARGS...]: POSTs BODY with acme's admin credentials.
create() {
	req POST "/batch/$WS/signature_tokens" -u "$KEY:$SECRET" \
		-H 'Content-Type: application/json' --data-binary "$@"
	if [ "$ST" = 200 ]; then
		jq -r '.access_secret // empty' "$B" >>"$SECRETS" 2>/dev/null || true
	fi
}

# create_ok NAME [EXPIRES]: creates a token; sets TOK, AKEY, ASEC.
create_ok() {
	create "$(body "$1" "${2:-$FAR}")"
	expect_status 200 "create $1"
	TOK=$(jq -r .token "$B")
	AKEY=$(jq -r .access_key "$B")
	ASEC=$(jq -r .access_secret "$B")
}

# bearer TOKEN KEY SECRET: prints the Authorization header of a signature token.
bearer() {
	printf 'Authorization: Bearer %s' "$(printf '%s:%s:%s' "$1" "$2" "$3" | base64 -w0)"
}

reports() {
	req GET "/batch/$WS/reports${4:-}" -H "$(bearer "$1" "$2" "$3")"
}

ntokens() {
	sim_ctl GET /_sim/tokens | jq '.tokens | length'
}

# ---------------------------------------------------------------------------
step "start-up errors exit 2 with a message"
# bad_start WHAT EXPECTED_TEXT ARGS...: modesim must refuse to start.
bad_start() {
	local what=$1 text=$2 rc=0
	shift 2
	timeout 20 "$MODESIM" --port-file "$TW_TMP/never" "$@" >/dev/null 2>"$TW_TMP/start.err" || rc=$?
	tw_expect_eq "$what: exit status" "$rc" 2
	grep -qF -- "$text" "$TW_TMP/start.err" ||
		tw_fail "$what: expected '$text' on stderr, got: $(cat "$TW_TMP/start.err")"
}
bad_start "unknown option" "bad option" --workspace a:b:c --bogus
bad_start "no workspace" "no workspace"
bad_start "upper-case workspace" "lower case" --workspace Acme:k:s
bad_start "workspace without secret" "NAME:KEY:SECRET" --workspace acme:k
bad_start "duplicate workspace" "twice" --workspace acme:k:s --workspace acme:k2:s2
bad_start "bad rate limit" "rate limit" --workspace a:b:c --rate-limit 0/10
bad_start "bad rate limit form" "rate limit" --workspace a:b:c --rate-limit 40
bad_start "bad port" "port" --workspace a:b:c --port 70000
bad_start "bad now" "time" --workspace a:b:c --now yesterday
bad_start "bad seed" "seed" --workspace a:b:c --seed -3
bad_start "bad faults JSON" "faults" --workspace a:b:c --faults '{nope'
bad_start "fault out of range" "error_rate" --workspace a:b:c --faults '{"error_rate": 1.5}'
bad_start "unknown fault" "unknown fault" --workspace a:b:c --faults '{"gremlins": 1}'
bad_start "bad date fault" "date must be" --workspace a:b:c --faults '{"date": "tomorrow"}'
printf 'workspace a b c\nrate-limit 40/10\nworkspace Big k s\n' >"$TW_TMP/bad.conf"
bad_start "config upper case" "$TW_TMP/bad.conf:3:" --config "$TW_TMP/bad.conf"
printf '# fine\n\nworkspace a b\n' >"$TW_TMP/bad2.conf"
bad_start "config short line" "$TW_TMP/bad2.conf:3:" --config "$TW_TMP/bad2.conf"
printf 'rate-limit 40/10\nfrobnicate yes\n' >"$TW_TMP/bad3.conf"
bad_start "config unknown setting" "$TW_TMP/bad3.conf:2:" --config "$TW_TMP/bad3.conf"
bad_start "bad verify budget" "verify budget" --workspace a:b:c --verify-budget user
printf 'workspace a b c\nverify-budget\n' >"$TW_TMP/bad4.conf"
bad_start "config verify-budget without value" "$TW_TMP/bad4.conf:2:" --config "$TW_TMP/bad4.conf"
bad_start "missing config" "missing.conf" --config "$TW_TMP/missing.conf"
rc=0
"$MODESIM" --help >"$TW_TMP/help.out" 2>&1 || rc=$?
tw_expect_eq "--help exit status" "$rc" 0
grep -q "usage: modesim" "$TW_TMP/help.out" || tw_fail "--help: expected usage text"

# ---------------------------------------------------------------------------
step "start with a config file and --workspace"
cat >"$TW_TMP/sim.conf" <<EOF
# workspaces for the test
workspace $WS $KEY $SECRET

rate-limit 40/10
verify-budget token
EOF
sim_start "$MODESIM" --config "$TW_TMP/sim.conf" --workspace "$WS2:$KEY2:$SECRET2" \
	--now 2030-01-01T00:00Z --seed 7 --verify-budget admin
tw_expect_eq "--verify-budget after the config file wins" \
	"$(sim_ctl GET /_sim/ratelimit | jq -r .verify_budget)" admin
# Verifies on their own tokens' budgets, the default, until the step that tests the switch.
sim_ctl POST /_sim/ratelimit '{"verify_budget": "token"}' >/dev/null
grep -q "modesim: listening on $SIM_URL" "$SIM_LOG" || tw_fail "expected the listening line in the log"
tw_expect_eq "clock from --now" "$(sim_ctl GET /_sim/clock | jq -r '.now[0:16]')" 2030-01-01T00:00

# ---------------------------------------------------------------------------
step "rate limit: 40 requests per 10 s per user, headers on every answer"
# One curl process sends the 41 requests back to back, so that even a loaded
# machine fits them into the 10-second window; the checks come afterwards.
curl -sS -X DELETE -u "$KEY:$SECRET" -o "$TW_TMP/rl_#1.json" \
	-w '%{http_code} %header{x-ratelimit-limit} %header{x-ratelimit-remaining} %header{retry-after}\n' \
	"$SIM_URL/batch/$WS/signature_tokens/nosuchtoken[1-41]" >"$TW_TMP/rl.txt"
tw_expect_eq "answers to 41 requests" "$(grep -c . "$TW_TMP/rl.txt")" 41
i=0
while read -r code limit remaining retry; do
	i=$((i + 1))
	tw_expect_eq "request $i X-RateLimit-Limit" "$limit" 40
	[ "$i" -eq 41 ] && break
	tw_expect_eq "request $i status" "$code" 404
	tw_expect_eq "request $i X-RateLimit-Remaining" "$remaining" $((40 - i))
	tw_expect_eq "request $i Retry-After" "$retry" ""
done <"$TW_TMP/rl.txt"
tw_expect_eq "41st request in 10 s: status" "$code" 429
tw_expect_eq "41st request: X-RateLimit-Remaining" "$remaining" 0
# (Every expect_error below also checks the answer's one Date header.)
[[ $retry =~ ^([1-9]|10)$ ]] || tw_fail "41st request: expected Retry-After of 1..10 s, got '$retry'"
jq -e '.id == "too_many_requests" and (.message | length > 0)' "$TW_TMP/rl_41.json" >/dev/null ||
	tw_fail "41st request: expected a too_many_requests error, got $(cat "$TW_TMP/rl_41.json")"
jq -e '.id == "not_found"' "$TW_TMP/rl_40.json" >/dev/null ||
	tw_fail "40th request: expected not_found, got $(cat "$TW_TMP/rl_40.json")"
req DELETE "/batch/$WS2/signature_tokens/nosuchtoken" -u "$KEY2:$SECRET2"
expect_error 404 not_found "another user is not throttled"
tw_expect_eq "other user's X-RateLimit-Remaining" "$(header X-RateLimit-Remaining)" 39
req DELETE "/batch/$WS/signature_tokens/nosuchtoken"
expect_error 401 unauthorized "a request without a user is not rate-limited"
tw_expect_eq "401 X-RateLimit-Limit" "$(header X-RateLimit-Limit)" 40
tw_expect_eq "401 X-RateLimit-Remaining" "$(header X-RateLimit-Remaining)" 40
tw_expect_eq "stats count the 429" "$(sim_ctl GET /_sim/stats | jq '.by_status["429"]')" 1
# The rest of the test runs with a generous limit, then small ones.
sim_ctl POST /_sim/ratelimit '{"limit": 10000, "window": 10}' >/dev/null

# ---------------------------------------------------------------------------
step "create: the Signature Token object"
create_ok "first-token" "2030-06-01T12:00Z"
expect_jq '.token | test("^[0-9a-f]{12}$")' "token id"
expect_jq '.access_key | test("^[0-9a-f]{24}$")' "access_key"
expect_jq '.access_secret | test("^[0-9a-f]{24}$")' "access_secret"
expect_jq '.name == "first-token"' "name"
expect_jq '(.creator_id | type == "number") and (.organization_id | type == "number")' "ids"
expect_jq '.expires_at == "2030-06-01T12:00:00.000Z"' "expires_at in Mode format"
expect_jq '[.created_at, .updated_at] | all(test("^2030-01-01T00:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z$"))' \
	"created_at and updated_at from the simulated clock"
expect_jq '.authentication_for == "batch-api" and .authorization_type == "read-only"' "scope"
expect_jq 'keys == (["token","name","creator_id","organization_id","access_key","access_secret",
	"created_at","updated_at","expires_at","authentication_for","authorization_type"] | sort)' \
	"exactly the documented fields"
tw_expect_eq "create Content-Type" "$(header Content-Type)" application/json
expect_one_date "create"
[ -n "$(header X-RateLimit-Remaining)" ] || tw_fail "200 answer: expected X-RateLimit-Remaining"

# ---------------------------------------------------------------------------
step "create: name is 4..64 characters, counted in UTF-8 characters"
n64=$(printf 'n%.0s' $(seq 1 64))
u64=$(printf 'é%.0s' $(seq 1 64))
for name in abcd "$n64" "éééé" "$u64"; do
	create "$(body "$name" "$FAR")"
	expect_status 200 "name of ${#name} characters"
	[ "$(jq -r .name "$B")" = "$name" ] || tw_fail "name '$name' not echoed back"
done
for name in abc "${n64}x" "ééé" "${u64}é" ""; do
	create "$(body "$name" "$FAR")"
	expect_error 422 unprocessable_entity "name of ${#name} characters"
	expect_jq '.message | contains("name")' "message names the field"
done
create '{"signature_token":{"name":12345,"expires_at":"'$FAR'","auth_scope":'"$SCOPE"'}}'
expect_error 422 unprocessable_entity "numeric name"
create '{"signature_token":{"expires_at":"'$FAR'","auth_scope":'"$SCOPE"'}}'
expect_error 422 unprocessable_entity "missing name"
expect_jq '.message | contains("name")' "missing name message"

# ---------------------------------------------------------------------------
step "create: expires_at"
for good in 2031-01-01T00:00Z 2031-01-01T00:00:00+0000 2031-01-01T00:00:00.000Z 2031-01-01T02:00+02:00; do
	create "$(body "expiry-$good" "$good")"
	expect_status 200 "expires_at $good"
	expect_jq '.expires_at == "2031-01-01T00:00:00.000Z"' "expires_at $good normalised"
done
for bad in 2031-01-01 "2031-01-01 00:00Z" 2031-01-01T00:00 tomorrow 2031-13-01T00:00Z \
	2031-02-30T00:00Z 2031-01-01T25:00Z "" 1735689600; do
	create "$(body "bad-expiry" "$bad")"
	expect_error 422 unprocessable_entity "expires_at '$bad'"
	expect_jq '.message | contains("expires_at")' "expires_at '$bad' message"
done
create '{"signature_token":{"name":"numeric-expiry","expires_at":1924992000,"auth_scope":'"$SCOPE"'}}'
expect_error 422 unprocessable_entity "numeric expires_at"
create "$(body past-token 2029-12-31T23:59Z)"
expect_error 422 unprocessable_entity "expires_at in the past"
expect_jq '.message | contains("future")' "past expires_at message"
create '{"signature_token":{"name":"no-expiry","auth_scope":'"$SCOPE"'}}'
expect_error 422 unprocessable_entity "missing expires_at"

# ---------------------------------------------------------------------------
step "create: auth_scope"
create "$(body partial-scope "$FAR" '{"authentication_for":"batch-api"}')"
expect_status 200 "auth_scope with one valid key"
create "$(body empty-scope "$FAR" '{}')"
expect_status 200 "empty auth_scope"
expect_jq '.authentication_for == "batch-api" and .authorization_type == "read-only"' "defaults"
# bad_scope SCOPE FIELD: 422 whose message names FIELD.
bad_scope() {
	create "$(body bad-scope "$FAR" "$1")"
	expect_error 422 unprocessable_entity "auth_scope $1"
	jq -e --arg f "$2" '.message | contains($f)' "$B" >/dev/null ||
		tw_fail "auth_scope $1: expected the message to name $2, got $(cat "$B")"
}
bad_scope '{"authentication_for":"rest-api","authorization_type":"read-only"}' authentication_for
bad_scope '{"authentication_for":"batch-api","authorization_type":"read-write"}' authorization_type
bad_scope '{"authentication_for":"BATCH-API"}' authentication_for
bad_scope '{"authentication_for":1}' authentication_for
bad_scope '{"authorization_type":null}' authorization_type
bad_scope '{"authentication_for":"batch-api","colour":"blue"}' colour
bad_scope '"batch-api"' auth_scope
bad_scope '["batch-api","read-only"]' auth_scope
bad_scope 'null' auth_scope
create '{"signature_token":{"name":"no-scope","expires_at":"'$FAR'"}}'
expect_error 422 unprocessable_entity "missing auth_scope"
expect_jq '.message | contains("auth_scope")' "missing auth_scope message"
create '{"signature_token":{"name":"extra-key","expires_at":"'$FAR'","auth_scope":'"$SCOPE"',"owner":"me"}}'
expect_error 422 unprocessable_entity "unknown key in signature_token"
expect_jq '.message | contains("owner")' "unknown key message"

# ---------------------------------------------------------------------------
step "create: body shape"
create '{"name":"top-level","expires_at":"'$FAR'","auth_scope":'"$SCOPE"'}'
expect_error 400 bad_request "missing signature_token"
create '{"signature_token":"abcd"}'
expect_error 400 bad_request "signature_token not an object"
create '[1,2,3]'
expect_error 400 bad_request "top-level array"
create '{"signature_token": {"name": "abcd",'
expect_error 400 bad_request "malformed JSON"
create ''
expect_error 400 bad_request "empty body"
create '{"signature_token":{"name":"dup-a","name":"dup-b"}}'
expect_error 400 bad_request "duplicate keys"
head -c 70000 /dev/zero | tr '\0' ' ' >"$TW_TMP/big.json"
create "@$TW_TMP/big.json"
expect_error 413 payload_too_large "body over 64 KiB"

# ---------------------------------------------------------------------------
step "create and delete: authentication and workspaces"
good=$(body auth-check "$FAR")
req POST "/batch/$WS/signature_tokens" -u "$KEY:wrong-secret" --data-binary "$good"
expect_error 401 unauthorized "wrong secret"
req POST "/batch/$WS/signature_tokens" -u "wrong-key:$SECRET" --data-binary "$good"
expect_error 401 unauthorized "wrong key"
req POST "/batch/$WS/signature_tokens" -u "$KEY2:$SECRET2" --data-binary "$good"
expect_error 401 unauthorized "another workspace's credentials"
req POST "/batch/$WS/signature_tokens" --data-binary "$good"
expect_error 401 unauthorized "no Authorization"
tw_expect_eq "WWW-Authenticate" "$(header WWW-Authenticate)" 'Basicrealm="Mode"'
req POST "/batch/$WS/signature_tokens" -H 'Authorization: Basic !!!not-base64' --data-binary "$good"
expect_error 401 unauthorized "garbled Basic"
req POST "/batch/$WS/signature_tokens" -H "Authorization: Basic $(printf 'no-colon' | base64)" \
	--data-binary "$good"
expect_error 401 unauthorized "Basic without a colon"
req POST "/batch/$WS/signature_tokens" -H 'Authorization: Token abc' --data-binary "$good"
expect_error 401 unauthorized "unknown scheme"
req POST "/batch/nosuchws/signature_tokens" -u "$KEY:$SECRET" --data-binary "$good"
expect_error 404 not_found "unknown workspace"
expect_jq '.message == "Workspace not found"' "unknown workspace message"
req POST "/batch/ACME/signature_tokens" -u "$KEY:$SECRET" --data-binary "$good"
expect_error 404 not_found "workspace in upper case"
[ -n "$(header X-RateLimit-Remaining)" ] || tw_fail "404 answer: expected X-RateLimit-Remaining"
req POST "/batch/$WS2/signature_tokens" -u "$KEY2:$SECRET2" --data-binary "$good"
expect_status 200 "second workspace creates with its own credentials"
expect_jq '.creator_id != null' "second workspace token"
tok2=$(jq -r .token "$B")
jq -r .access_secret "$B" >>"$SECRETS"

step "delete: 200 without access_secret, then 404"
create_ok "to-delete"
req DELETE "/batch/$WS/signature_tokens/$TOK" -u "$KEY:$SECRET"
expect_status 200 "delete"
expect_jq ".token == \"$TOK\" and .name == \"to-delete\" and .access_key == \"$AKEY\"" "delete body"
expect_jq 'has("access_secret") | not' "delete omits access_secret"
expect_jq 'has("expires_at") and has("created_at") and has("updated_at")' "delete body times"
req DELETE "/batch/$WS/signature_tokens/$TOK" -u "$KEY:$SECRET"
expect_error 404 not_found "delete twice"
expect_jq '.message == "SignatureToken not found"' "deleted token message"
req DELETE "/batch/$WS/signature_tokens/000000000000" -u "$KEY:$SECRET"
expect_error 404 not_found "delete unknown token"
req DELETE "/batch/$WS/signature_tokens/$tok2" -u "$KEY:$SECRET"
expect_error 404 not_found "delete another workspace's token"
req DELETE "/batch/$WS2/signature_tokens/$tok2" -u "$KEY:$SECRET"
expect_error 401 unauthorized "delete with another workspace's credentials"
req DELETE "/batch/$WS/signature_tokens/$tok2"
expect_error 401 unauthorized "delete without credentials"
req DELETE "/batch/$WS2/signature_tokens/$tok2" -u "$KEY2:$SECRET2"
expect_status 200 "delete in its own workspace"

# ---------------------------------------------------------------------------
step "reports: Bearer works until expiry or deletion"
create_ok "short-lived" 2030-01-02T00:00Z
reports "$TOK" "$AKEY" "$ASEC"
expect_status 200 "Bearer GET"
expect_jq '.pagination == {page: 1, per_page: 1000, count: 3, total_pages: 1, total_count: 3}' \
	"default pagination"
expect_jq '(.reports | length) == 3 and (.reports | all(has("token") and has("name") and has("created_at")))' \
	"fake reports"
expect_jq '._links.self.href == "/batch/acme/reports?page=1&per_page=1000" and
	._links.next_page.href == null and ._links.prev_page.href == null' "links"
[ -n "$(header X-RateLimit-Remaining)" ] || tw_fail "Bearer GET: expected X-RateLimit-Remaining"
reports "$TOK" "$AKEY" wrong0secret0wrong0secret
expect_error 401 unauthorized "Bearer with a wrong secret"
reports "$TOK" wrong0key000wrong0key000 "$ASEC"
expect_error 401 unauthorized "Bearer with a wrong key"
req GET "/batch/$WS2/reports" -H "$(bearer "$TOK" "$AKEY" "$ASEC")"
expect_error 401 unauthorized "Bearer in another workspace"
req GET "/batch/$WS/reports" -u "$KEY:$SECRET"
expect_error 401 unauthorized "Basic auth on reports"
req GET "/batch/$WS/reports"
expect_error 401 unauthorized "reports without auth"
req GET "/batch/$WS/reports" -H 'Authorization: Bearer %%%'
expect_error 401 unauthorized "garbled Bearer"
req GET "/batch/$WS/reports" -H "Authorization: Bearer $(printf '%s:%s' "$TOK" "$AKEY" | base64 -w0)"
expect_error 401 unauthorized "Bearer without a secret part"

step "reports: pagination"
reports "$TOK" "$AKEY" "$ASEC" "?per_page=2"
expect_status 200 "per_page=2"
expect_jq '.pagination == {page: 1, per_page: 2, count: 2, total_pages: 2, total_count: 3}' "page 1 of 2"
expect_jq '._links.next_page.href == "/batch/acme/reports?page=2&per_page=2" and ._links.prev_page.href == null' \
	"page 1 links"
first=$(jq -c '[.reports[].token]' "$B")
reports "$TOK" "$AKEY" "$ASEC" "?page=2&per_page=2"
expect_jq '.pagination == {page: 2, per_page: 2, count: 1, total_pages: 2, total_count: 3}' "page 2 of 2"
expect_jq '._links.prev_page.href == "/batch/acme/reports?page=1&per_page=2" and ._links.next_page.href == null' \
	"page 2 links"
jq -e --argjson f "$first" '.reports[0].token as $t | $f | index($t) | not' "$B" >/dev/null ||
	tw_fail "page 2 repeats a report of page 1"
reports "$TOK" "$AKEY" "$ASEC" "?page=9&per_page=2"
expect_jq '.pagination.count == 0 and .reports == []' "page past the end"
reports "$TOK" "$AKEY" "$ASEC" "?per_page=1"
expect_jq '.pagination.total_pages == 3 and .pagination.count == 1' "per_page=1"
for q in "?page=0" "?page=-1" "?page=abc" "?page=" "?per_page=0" "?per_page=1001" "?per_page=2x" "?page=1.5"; do
	reports "$TOK" "$AKEY" "$ASEC" "$q"
	expect_error 400 bad_request "pagination $q"
done

step "reports: 401 once the simulated clock passes expires_at; delete still works"
sim_ctl POST /_sim/clock '{"advance": "1d1m"}' >/dev/null
reports "$TOK" "$AKEY" "$ASEC"
expect_error 401 unauthorized "expired token"
sim_ctl GET /_sim/tokens | jq -e --arg t "$TOK" '.tokens[] | select(.token == $t) | .expired' >/dev/null ||
	tw_fail "expected /_sim/tokens to show $TOK as expired"
req DELETE "/batch/$WS/signature_tokens/$TOK" -u "$KEY:$SECRET"
expect_status 200 "delete an expired token"
create_ok "deleted-then-used"
reports "$TOK" "$AKEY" "$ASEC"
expect_status 200 "fresh token"
req DELETE "/batch/$WS/signature_tokens/$TOK" -u "$KEY:$SECRET"
expect_status 200 "delete fresh token"
reports "$TOK" "$AKEY" "$ASEC"
expect_error 401 unauthorized "deleted token"

# ---------------------------------------------------------------------------
step "other paths and methods"
req GET "/batch/$WS/signature_tokens" -u "$KEY:$SECRET"
expect_error 405 method_not_allowed "GET on signature_tokens"
tw_expect_eq "Allow" "$(header Allow)" POST
req PUT "/batch/$WS/signature_tokens/abc" -u "$KEY:$SECRET"
expect_error 405 method_not_allowed "PUT on a token"
req POST "/batch/$WS/reports" -u "$KEY:$SECRET"
expect_error 405 method_not_allowed "POST on reports"
for p in / /batch /batch/$WS /batch/$WS/spaces /api/$WS/reports /batch/$WS/signature_tokens/a/b \
	/batch//signature_tokens; do
	req GET "$p"
	expect_error 404 not_found "GET $p"
done

# ---------------------------------------------------------------------------
step "rate limit: small windows, rejected requests take no slot"
sim_ctl POST /_sim/ratelimit '{"limit": 2, "window": 3}' >/dev/null
tw_expect_eq "ratelimit read back" "$(sim_ctl GET /_sim/ratelimit | jq -c .)" \
	'{"limit":2,"window":3,"verify_budget":"token"}'
for i in 1 2; do
	req DELETE /batch/$WS/signature_tokens/nothing -u "$KEY:$SECRET"
	expect_status 404 "small limit request $i"
done
sleep 1
req DELETE /batch/$WS/signature_tokens/nothing -u "$KEY:$SECRET"
expect_error 429 too_many_requests "third request in 3 s"
retry=$(header Retry-After)
[[ $retry =~ ^[12]$ ]] || tw_fail "expected Retry-After 1 or 2, got '$retry'"
sleep "$retry.3"
for i in 1 2; do
	req DELETE /batch/$WS/signature_tokens/nothing -u "$KEY:$SECRET"
	expect_status 404 "after Retry-After, request $i (a refused request must not take a slot)"
done
req GET "/batch/$WS/reports"
expect_error 401 unauthorized "no user: never 429"
sim_ctl POST /_sim/ratelimit '{"limit": 10000, "window": 10}' >/dev/null

# ---------------------------------------------------------------------------
step "rate limit: a verify draws on its token's budget, or on its admin's with verify_budget admin"
sim_ctl POST /_sim/ratelimit '{"limit": 4, "window": 60}' >/dev/null
sim_ctl POST /_sim/reset >/dev/null
create_ok "budget-probe"
tw_expect_eq "create: admin's X-RateLimit-Remaining" "$(header X-RateLimit-Remaining)" 3
reports "$TOK" "$AKEY" "$ASEC"
expect_status 200 "verify on the token's budget"
tw_expect_eq "token budget: X-RateLimit-Limit" "$(header X-RateLimit-Limit)" 4
tw_expect_eq "token budget: X-RateLimit-Remaining" "$(header X-RateLimit-Remaining)" 3
sim_ctl GET /_sim/stats >"$B"
jq -e --arg k "$KEY" --arg t "$TOK" '.by_user == {($k): 1, ($t): 1}' "$B" >/dev/null ||
	tw_fail "token budget: stats by user: $(jq -c .by_user "$B")"
sim_ctl POST /_sim/ratelimit '{"verify_budget": "admin"}' >"$B"
expect_jq '. == {"limit": 4, "window": 60, "verify_budget": "admin"}' "verify_budget set"
sim_ctl POST /_sim/reset >/dev/null
req DELETE "/batch/$WS/signature_tokens/nothing" -u "$KEY:$SECRET"
tw_expect_eq "admin budget: a DELETE's X-RateLimit-Remaining" "$(header X-RateLimit-Remaining)" 3
for left in 2 1 0; do
	reports "$TOK" "$AKEY" "$ASEC"
	expect_status 200 "verify on the admin's budget, $left left"
	tw_expect_eq "admin budget: X-RateLimit-Limit" "$(header X-RateLimit-Limit)" 4
	tw_expect_eq "admin budget: X-RateLimit-Remaining" "$(header X-RateLimit-Remaining)" "$left"
done
reports "$TOK" "$AKEY" "$ASEC"
expect_error 429 too_many_requests "a verify past the admin's budget"
req DELETE "/batch/$WS/signature_tokens/nothing" -u "$KEY:$SECRET"
expect_error 429 too_many_requests "the admin after its verifies spent the budget"
req DELETE "/batch/$WS2/signature_tokens/nothing" -u "$KEY2:$SECRET2"
expect_error 404 not_found "another workspace's admin keeps its own budget"
reports "nosuchtoken0" "$AKEY" "$ASEC"
expect_error 401 unauthorized "an unknown token draws on its own id"
tw_expect_eq "unknown token: X-RateLimit-Remaining" "$(header X-RateLimit-Remaining)" 3
sim_ctl GET /_sim/stats >"$B"
jq -e --arg k "$KEY" --arg k2 "$KEY2" \
	'.by_user == {($k): 4, ($k2): 1, "nosuchtoken0": 1} and .verifies == 3 and .by_status["429"] == 2' \
	"$B" >/dev/null || tw_fail "admin budget: stats: $(jq -c . "$B")"
for bad in '{"verify_budget": "user"}' '{"verify_budget": 1}'; do
	req POST /_sim/ratelimit -H 'Content-Type: application/json' --data-binary "$bad"
	expect_error 400 bad_request "verify_budget $bad"
done
tw_expect_eq "a refused verify_budget changes nothing" \
	"$(sim_ctl GET /_sim/ratelimit | jq -r .verify_budget)" admin
sim_ctl POST /_sim/ratelimit '{"limit": 10000, "window": 10, "verify_budget": "token"}' >/dev/null

# ---------------------------------------------------------------------------
step "faults: drop_rate closes without answer and does nothing"
create_ok "fault-probe"
PTOK=$TOK PKEY=$AKEY PSEC=$ASEC
sim_ctl POST /_sim/reset >/dev/null
sim_ctl POST /_sim/faults '{"drop_rate": 1}' >/dev/null
before=$(ntokens)
create "$(body dropped-post "$FAR")"
tw_expect_eq "dropped POST curl exit" "$RC" 52
tw_expect_eq "dropped POST created nothing" "$(ntokens)" "$before"
reports "$PTOK" "$PKEY" "$PSEC"
tw_expect_eq "dropped GET curl exit" "$RC" 52
tw_expect_eq "dropped count" "$(sim_ctl GET /_sim/stats | jq -c '[.requests, .dropped, .creates]')" '[2,2,0]'

step "faults: lost_post_rate creates the token, then closes"
sim_ctl POST /_sim/faults '{"lost_post_rate": 1}' >/dev/null
create "$(body lost-post-token "$FAR")"
tw_expect_eq "lost POST curl exit" "$RC" 52
sim_ctl GET /_sim/tokens | jq -e '.tokens | any(.name == "lost-post-token")' >/dev/null ||
	tw_fail "lost POST: expected the token in /_sim/tokens"
reports "$PTOK" "$PKEY" "$PSEC"
expect_status 200 "lost_post_rate leaves GET alone"
create "$(body lost-but-invalid x)"
expect_error 422 unprocessable_entity "lost_post_rate answers a refused POST"

step "faults: replay_post answers a create with the last one's answer, making nothing"
sim_ctl POST /_sim/faults '{}' >/dev/null
create_ok "replay-original"
first=$TOK
before=$(ntokens)
sim_ctl POST /_sim/faults '{"replay_post": 1}' >/dev/null
create "$(body replay-second "$FAR")"
expect_status 200 "a replayed create"
tw_expect_eq "the replayed answer's token" "$(jq -r .token "$B")" "$first"
tw_expect_eq "a replayed create made nothing" "$(ntokens)" "$before"
create_ok "replay-over" # one replay, then creates as before
[ "$TOK" != "$first" ] || tw_fail "replay_post: a second create was replayed too"

step "faults: reject_bearer_rate refuses signature tokens, nothing else"
sim_ctl POST /_sim/faults '{"reject_bearer_rate": 1}' >/dev/null
reports "$PTOK" "$PKEY" "$PSEC"
expect_error 401 unauthorized "reject_bearer_rate refuses a valid token"
create_ok "reject-bearer-create" # Basic auth: untouched
sim_ctl POST /_sim/faults '{}' >/dev/null
reports "$PTOK" "$PKEY" "$PSEC"
expect_status 200 "the token works once the fault is cleared"

step "faults: truncated_rate and malformed_rate"
sim_ctl POST /_sim/faults '{"truncated_rate": 1}' >/dev/null
reports "$PTOK" "$PKEY" "$PSEC"
tw_expect_eq "truncated curl exit" "$RC" 18
sim_ctl POST /_sim/faults '{"malformed_rate": 1}' >/dev/null
reports "$PTOK" "$PKEY" "$PSEC"
expect_status 200 "malformed answer status"
tw_expect_eq "malformed curl exit" "$RC" 0
if jq -e . "$B" >/dev/null 2>&1; then tw_fail "malformed_rate: expected invalid JSON, got $(cat "$B")"; fi
create "$(body malformed-create "$FAR")"
expect_status 200 "malformed create status"
sim_ctl GET /_sim/tokens | jq -e '.tokens | any(.name == "malformed-create")' >/dev/null ||
	tw_fail "malformed_rate: expected the action performed"
req GET "/batch/$WS/reports"
expect_error 401 unauthorized "malformed_rate leaves refusals intact"

step "faults: error_rate answers 5xx without acting"
sim_ctl POST /_sim/faults '{"error_rate": 1}' >/dev/null
before=$(ntokens)
seen=""
for i in $(seq 1 12); do
	create "$(body "error-$i" "$FAR")"
	[[ $ST =~ ^50[023]$ ]] || tw_fail "error_rate: expected 500, 502 or 503, got $ST"
	expect_jq '.id | type == "string"' "error_rate body"
	seen="$seen $ST"
done
tw_expect_eq "error_rate created nothing" "$(ntokens)" "$before"
[ "$(tr ' ' '\n' <<<"$seen" | sort -u | grep -c .)" -ge 2 ] ||
	tw_fail "error_rate: expected a mix of 5xx statuses, got$seen"

step "faults: latency_ms delays Mode requests but not other connections"
sim_ctl POST /_sim/faults '{"latency_ms": 400}' >/dev/null
t0=$(date +%s%N)
reports "$PTOK" "$PKEY" "$PSEC"
t1=$(date +%s%N)
expect_status 200 "delayed request"
[ $(((t1 - t0) / 1000000)) -ge 400 ] || tw_fail "latency_ms 400: answered in $(((t1 - t0) / 1000000)) ms"
sim_ctl POST /_sim/faults '{"latency_ms": 3000}' >/dev/null
curl -sS -o /dev/null -H "$(bearer "$PTOK" "$PKEY" "$PSEC")" "$SIM_URL/batch/$WS/reports" &
slow=$!
sleep 0.3
sim_ctl GET /_sim/clock >/dev/null
kill -0 "$slow" 2>/dev/null || tw_fail "a slow request blocked another connection"
wait "$slow"
sim_ctl POST /_sim/faults '{"latency_ms": 2000}' >/dev/null
create "$(body given-up-on "$FAR")" --max-time 0.5
tw_expect_eq "client giving up on a slow POST: curl exit" "$RC" 28
sim_ctl GET /_sim/tokens | jq -e '.tokens | any(.name == "given-up-on")' >/dev/null ||
	tw_fail "latency_ms: expected the token created at once, before the late answer"

step "faults: count limits the rates to the next N requests"
sim_ctl POST /_sim/faults '{"error_rate": 1, "count": 2}' >/dev/null
for i in 1 2; do
	reports "$PTOK" "$PKEY" "$PSEC"
	[[ $ST =~ ^50[023]$ ]] || tw_fail "count 2, request $i: expected 5xx, got $ST"
done
reports "$PTOK" "$PKEY" "$PSEC"
expect_status 200 "count 2, request 3"
tw_expect_eq "faults after count ran out" \
	"$(sim_ctl GET /_sim/faults | jq -c '[.error_rate, .count]')" '[0,0]'

step "faults: burst_429"
sim_ctl POST /_sim/faults '{"burst_429": 2, "retry_after": 7}' >/dev/null
for i in 1 2; do
	reports "$PTOK" "$PKEY" "$PSEC"
	expect_error 429 too_many_requests "burst request $i"
	tw_expect_eq "burst Retry-After" "$(header Retry-After)" 7
	[ -n "$(header X-RateLimit-Limit)" ] || tw_fail "burst 429: expected X-RateLimit-Limit"
done
tw_expect_eq "burst used up" "$(sim_ctl GET /_sim/faults | jq .burst_429)" 0
reports "$PTOK" "$PKEY" "$PSEC"
expect_status 200 "after the burst"

step "faults: date omits the Date header or sends garbage, on every kind of answer"
sim_ctl POST /_sim/faults '{"date": "omit"}' >/dev/null
tw_expect_eq "date fault read back" "$(sim_ctl GET /_sim/faults | jq -r .date)" omit
reports "$PTOK" "$PKEY" "$PSEC"
expect_status 200 "date omit: 200"
tw_expect_eq "date omit: Date headers on a 200" "$(grep -ci '^Date:' "$H" || true)" 0
req GET "/batch/$WS/reports"
expect_status 401 "date omit: 401"
tw_expect_eq "date omit: Date headers on a 401" "$(grep -ci '^Date:' "$H" || true)" 0
req GET /_sim/clock
expect_status 200 "control answer under date omit"
expect_one_date "control answers keep their Date under the date fault"
sim_ctl POST /_sim/faults '{"date": "omit", "burst_429": 1}' >/dev/null
reports "$PTOK" "$PKEY" "$PSEC"
expect_status 429 "date omit: 429"
tw_expect_eq "date omit: Date headers on a 429" "$(grep -ci '^Date:' "$H" || true)" 0
sim_ctl POST /_sim/faults '{"date": "malformed", "error_rate": 1}' >/dev/null
reports "$PTOK" "$PKEY" "$PSEC"
[[ $ST =~ ^50[023]$ ]] || tw_fail "date malformed with error_rate: expected 5xx, got $ST"
tw_expect_eq "date malformed: Date headers" "$(grep -ci '^Date:' "$H" || true)" 1
tw_expect_eq "date malformed: the value" "$(header_raw Date)" "not a date"
sim_ctl POST /_sim/faults '{"date": "malformed"}' >/dev/null
req GET "/batch/$WS/nothing"
expect_status 404 "date malformed: 404"
tw_expect_eq "date malformed on a 404" "$(header_raw Date)" "not a date"
# count limits the date fault too.
sim_ctl POST /_sim/faults '{"date": "omit", "count": 1}' >/dev/null
reports "$PTOK" "$PKEY" "$PSEC"
tw_expect_eq "date omit, count 1: first answer" "$(grep -ci '^Date:' "$H" || true)" 0
reports "$PTOK" "$PKEY" "$PSEC"
expect_one_date "date omit, count 1: second answer"
tw_expect_eq "date fault after count ran out" "$(sim_ctl GET /_sim/faults | jq -r .date)" clock
grep -q "^modesim: GET /batch/$WS/reports 200 date:omit\$" "$SIM_LOG" ||
	tw_fail "expected the date fault in the log line"
sim_ctl POST /_sim/faults '{}' >/dev/null

step "faults never touch /_sim/"
sim_ctl POST /_sim/faults '{"drop_rate": 1, "error_rate": 1, "latency_ms": 5000}' >/dev/null
sim_ctl GET /_sim/stats >/dev/null || tw_fail "control API hit by faults"
sim_ctl POST /_sim/faults '{}' >/dev/null
tw_expect_eq "faults cleared" \
	"$(sim_ctl GET /_sim/faults | jq -c '[.error_rate, .drop_rate, .latency_ms, .burst_429, .retry_after, .date]')" \
	'[0,0,0,0,1,"clock"]'

# ---------------------------------------------------------------------------
step "control API: stats, reset, validation"
sim_ctl POST /_sim/reset '{}' >/dev/null
reports "$PTOK" "$PKEY" "$PSEC"
create_ok "stats-token"
req DELETE "/batch/$WS/signature_tokens/$TOK" -u "$KEY:$SECRET"
req DELETE "/batch/$WS/signature_tokens/$TOK" -u "$KEY:$SECRET"
sim_ctl GET /_sim/stats >"$B"
expect_jq '.requests == 4 and .creates == 1 and .deletes == 1 and .verifies == 1 and .dropped == 0' "stats counts"
expect_jq '.by_status == {"200": 3, "404": 1} and .by_method == {"GET": 1, "POST": 1, "DELETE": 2}' "stats maps"
req GET "/batch/$WS/reports"
req GET "/batch/$WS/reports" -H 'Authorization: Token abc'
sim_ctl GET /_sim/stats >"$B"
expect_jq '.by_auth == {"none": 1, "basic": 3, "bearer": 1, "other": 1}' "stats by Authorization scheme"
jq -e --arg k "$KEY" --arg t "$PTOK" '.by_user == {($k): 3, ($t): 1}' "$B" >/dev/null ||
	tw_fail "stats by rate-limit user: $(jq -c .by_user "$B")"
sim_ctl POST /_sim/reset >/dev/null
sim_ctl GET /_sim/stats >"$B"
expect_jq '.requests == 0 and .by_status == {} and .by_user == {} and .creates == 0' "stats after reset"
[ "$(ntokens)" -gt 0 ] || tw_fail "reset must keep tokens"
# ctl_bad METHOD PATH [JSON]: expects a 4xx JSON error from the control API.
ctl_bad() {
	local want=$1
	shift
	if [ $# -ge 3 ]; then
		req "$1" "$2" -H 'Content-Type: application/json' --data-binary "$3"
	else
		req "$1" "$2"
	fi
	expect_status "$want" "control $1 $2 ${3:-}"
	expect_jq '.message | type == "string"' "control error body"
}
ctl_bad 400 POST /_sim/faults '{"error_rate": 1.5}'
ctl_bad 400 POST /_sim/faults '{"drop_rate": -0.1}'
ctl_bad 400 POST /_sim/faults '{"error_rate": "half"}'
ctl_bad 400 POST /_sim/faults '{"latency_ms": -1}'
ctl_bad 400 POST /_sim/faults '{"latency_ms": 1.5}'
ctl_bad 400 POST /_sim/faults '{"burst_429": -2}'
ctl_bad 400 POST /_sim/faults '{"retry_after": 0}'
ctl_bad 400 POST /_sim/faults '{"gremlins": 1}'
ctl_bad 400 POST /_sim/faults '{"date": "later"}'
ctl_bad 400 POST /_sim/faults '{"date": 1}'
ctl_bad 400 POST /_sim/faults '{"date": null}'
ctl_bad 400 POST /_sim/faults '{"date": "OMIT"}'
ctl_bad 400 POST /_sim/faults '{not json'
ctl_bad 400 POST /_sim/faults '[]'
ctl_bad 400 POST /_sim/clock '{}'
ctl_bad 400 POST /_sim/clock '{"now": "soon"}'
ctl_bad 400 POST /_sim/clock '{"advance": "9x"}'
ctl_bad 400 POST /_sim/clock '{"advance": 90}'
ctl_bad 400 POST /_sim/clock '{"advance_seconds": "60"}'
ctl_bad 400 POST /_sim/clock '{"now": "2031-01-01T00:00Z", "advance": "1d"}'
ctl_bad 400 POST /_sim/clock '{"when": "now"}'
ctl_bad 400 POST /_sim/ratelimit '{"limit": 0}'
ctl_bad 400 POST /_sim/ratelimit '{"window": 0}'
ctl_bad 400 POST /_sim/ratelimit '{"limit": 5, "burst": 1}'
ctl_bad 400 POST /_sim/ratelimit '{}'
ctl_bad 400 POST /_sim/reset '{"everything": true}'
ctl_bad 404 GET /_sim/nothing
ctl_bad 405 DELETE /_sim/clock
ctl_bad 405 POST /_sim/tokens '{}'
ctl_bad 405 GET /_sim/reset
tw_expect_eq "faults unchanged by refused posts" "$(sim_ctl GET /_sim/faults | jq -c '[.error_rate, .date]')" '[0,"clock"]'

step "control API: clock"
sim_ctl POST /_sim/clock '{"now": "2032-03-04T05:06Z"}' >"$B"
expect_jq '.now | startswith("2032-03-04T05:06:")' "clock set"
sim_ctl POST /_sim/clock '{"advance": "90d"}' >"$B"
expect_jq '.now | startswith("2032-06-02T05:06:")' "clock advanced 90d"
sim_ctl POST /_sim/clock '{"advance_seconds": 3600}' >"$B"
expect_jq '.now | startswith("2032-06-02T06:06:")' "clock advanced 3600 s"
sim_ctl GET /_sim/clock >"$B"
expect_jq '.now | test("^2032-06-02T06:06:[0-9]{2}\\.[0-9]{3}Z$")' "clock read back"

step "Date: every answer's, from the simulated clock"
# sim_secs: the simulated time now, in whole seconds since the epoch.
sim_secs() {
	date -u -d "$(sim_ctl GET /_sim/clock | jq -r .now)" +%s
}
# dated WHAT METHOD PATH [CURL_ARGS...]: runs req and checks that the answer
# has one Date, and that it is the simulated time while the request ran.
dated() {
	local what=$1 before after got
	shift
	before=$(sim_secs)
	req "$@"
	after=$(sim_secs)
	expect_one_date "$what"
	got=$(epoch_of_date)
	if [ "$got" -lt "$before" ] || [ "$got" -gt "$after" ]; then
		tw_fail "$what: Date '$(header_raw Date)' is not the simulated time ($before..$after)"
	fi
}
req POST /_sim/clock -H 'Content-Type: application/json' --data-binary '{"now": "2033-07-08T09:10:11Z"}'
expect_status 200 "set the clock"
expect_one_date "the answer that moved the clock"
tw_expect_eq "Date of the answer that moved the clock" "$(header_raw Date)" "Fri, 08 Jul 2033 09:10:11 GMT"
dated "a Mode 200" GET "/batch/$WS/reports" -H "$(bearer "$PTOK" "$PKEY" "$PSEC")"
expect_status 200 "reports after the clock moved"
sim_ctl POST /_sim/clock '{"advance": "45d"}' >/dev/null
dated "a create 45 days on" POST "/batch/$WS/signature_tokens" -u "$KEY:$SECRET" \
	--data-binary "$(body dated-token "2034-01-01T00:00Z")"
expect_status 200 "create dated-token"
[[ $(header_raw Date) == *" Aug 2033 "* ]] || tw_fail "Date 45 days on: got '$(header_raw Date)'"
jq -r '.access_secret // empty' "$B" >>"$SECRETS"
TOK=$(jq -r .token "$B")
dated "a delete" DELETE "/batch/$WS/signature_tokens/$TOK" -u "$KEY:$SECRET"
expect_status 200 "delete dated-token"
sim_ctl POST /_sim/clock '{"advance_seconds": -3888000}' >/dev/null
dated "a 401 45 days back" GET "/batch/$WS/reports"
expect_error 401 unauthorized "a 401 45 days back"
[[ $(header_raw Date) == *" Jul 2033 "* ]] || tw_fail "Date 45 days back: got '$(header_raw Date)'"
dated "a control 200" GET /_sim/stats
dated "a control 404" GET /_sim/nothing
expect_status 404 "control 404"
dated "a control 405" DELETE /_sim/clock
expect_status 405 "control 405"
dated "a control 400" POST /_sim/clock -H 'Content-Type: application/json' --data-binary '{}'
expect_status 400 "control 400"

# ---------------------------------------------------------------------------
step "no secret in the log or the control API"
[ "$(grep -c . "$SECRETS")" -gt 10 ] || tw_fail "expected to have collected access secrets"
if grep -qv '^[0-9a-f]\{24\}$' "$SECRETS"; then tw_fail "unexpected line in $SECRETS"; fi
# leak_check WHAT FILE: no access secret, admin secret or Authorization value in FILE.
leak_check() {
	local s
	if grep -qF -f "$SECRETS" "$2"; then tw_fail "an access_secret appears in $1"; fi
	for s in "$SECRET" "$SECRET2" "$(printf '%s:%s' "$KEY" "$SECRET" | base64 -w0)" \
		"$(printf '%s:%s:%s' "$PTOK" "$PKEY" "$PSEC" | base64 -w0)"; do
		if grep -qF -- "$s" "$2"; then tw_fail "an admin credential appears in $1"; fi
	done
}
create_ok "last-token"
for p in tokens clock faults stats ratelimit; do
	sim_ctl GET "/_sim/$p" >>"$TW_TMP/ctl.out"
done
grep -q '"last-token"' "$TW_TMP/ctl.out" || tw_fail "expected last-token in /_sim/tokens"
if grep -q access_secret "$TW_TMP/ctl.out"; then tw_fail "access_secret in /_sim/ output"; fi
leak_check "/_sim/ output" "$TW_TMP/ctl.out"
sim_stop
grep -qE "^modesim: POST /batch/$WS/signature_tokens 200\$" "$SIM_LOG" ||
	tw_fail "expected log lines 'modesim: METHOD PATH STATUS'"
grep -q "^modesim: POST /batch/$WS/signature_tokens - lost\$" "$SIM_LOG" ||
	tw_fail "expected the lost POST in the log"
grep -q "^modesim: SIGTERM, stopping\$" "$SIM_LOG" || tw_fail "expected a clean stop in the log"
leak_check "the simulator's log" "$SIM_LOG"

# ---------------------------------------------------------------------------
step "the same seed draws the same faults"
# draw_statuses SEED: sets DRAWN to the statuses of 16 requests under error_rate 0.5.
draw_statuses() {
	DRAWN=""
	sim_start "$MODESIM" --workspace "$WS:$KEY:$SECRET" --seed "$1" --faults '{"error_rate": 0.5}'
	for i in $(seq 1 16); do
		req GET "/batch/$WS/reports"
		DRAWN="$DRAWN$ST "
	done
	sim_stop
}
draw_statuses 42
first=$DRAWN
draw_statuses 42
tw_expect_eq "statuses with seed 42, twice" "$DRAWN" "$first"
[[ $first == *401* && $first =~ 50[023] ]] || tw_fail "error_rate 0.5: expected a mix, got $first"
draw_statuses 43
[ "$DRAWN" != "$first" ] || tw_fail "seeds 42 and 43 drew the same faults: $first"

echo "PASS: test_modesim.sh"
