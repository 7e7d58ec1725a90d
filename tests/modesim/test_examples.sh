#!/usr/bin/env bash
# The reference's own examples (reference/mode-discovery-signature-tokens.txt)
# run against modesim: the curl POST and DELETE and the Python POST verbatim,
# with only the host, workspace and credentials substituted; the Python
# DELETE ported minimally from Python 2's urllib2 (see below).  The Ruby
# example (the `http` gem) and the browser JavaScript (XMLHttpRequest) are not
# run: neither runtime is a dependency of the project.
# usage: test_examples.sh MODESIM_BINARY
set -euo pipefail

MODESIM=${1:?usage: test_examples.sh MODESIM_BINARY}
# shellcheck source=SCRIPTDIR/../lib/sim.sh
. "$(dirname "$0")/../lib/sim.sh"
PYTHON=/usr/bin/python3

# The examples send expires_at 2024-10-02T21:00:00+0000, so the simulated
# clock starts before it.
sim_start "$MODESIM" --workspace acme:acme-api-key:acme-api-secret --now 2024-09-01T00:00Z

# check_token FILE NAME WITH_SECRET: FILE holds a Signature Token object
# named NAME, with access_secret if WITH_SECRET is true and without it if false.
check_token() {
	jq -e --arg n "$2" --argjson with_secret "$3" '
		def hex(n): type == "string" and test("^[0-9a-f]{\(n)}$");
		def mode_time: type == "string" and test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z$");
		def int: type == "number" and . == floor;
		(.token | hex(12)) and .name == $n
		and (.creator_id | int) and (.organization_id | int)
		and (.access_key | hex(24))
		and (if $with_secret then (.access_secret | hex(24)) else (has("access_secret") | not) end)
		and (.created_at | mode_time) and (.updated_at | mode_time)
		and (.created_at | startswith("2024-09-01T00:"))
		and .expires_at == "2024-10-02T21:00:00.000Z"
		and .authentication_for == "batch-api" and .authorization_type == "read-only"
		and (keys | length) == (if $with_secret then 11 else 10 end)' "$1" >/dev/null ||
		tw_fail "$1: expected a Signature Token object named $2 (access_secret: $3), got: $(cat "$1")"
}

# expect_stats JQ_FILTER WHAT: the simulator's statistics satisfy the filter.
expect_stats() {
	sim_ctl GET /_sim/stats | jq -e "$1" >/dev/null ||
		tw_fail "$2: expected stats to satisfy $1, got $(sim_ctl GET /_sim/stats)"
}

# bearer_works TOKEN_FILE: the created token lists reports (a sanity check, not an example).
bearer_works() {
	local cred status
	cred=$(jq -j '"\(.token):\(.access_key):\(.access_secret)"' "$1" | base64 -w0)
	status=$(curl -sS -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $cred" \
		"$SIM_URL/batch/acme/reports?per_page=1")
	tw_expect_eq "Bearer GET with the token from $1" "$status" 200
}

echo "== curl POST example"
curl_post_example() {
curl --location --request POST "$SIM_URL/batch/acme/signature_tokens" \
--header 'Accept: application/json' \
--header 'Content-Type: application/json' \
--user 'acme-api-key':'acme-api-secret' \
--data-raw '{
    "signature_token": {
        "name": "batch-api-token",
        "expires_at": "2024-10-02T21:00:00+0000",
        "auth_scope": { "authentication_for" : "batch-api", "authorization_type": "read-only" }
    }
}';
}
curl_post_example >"$TW_TMP/curl_post.json"
expect_stats '.by_status == {"200": 1} and .creates == 1' "curl POST example answered 200"
check_token "$TW_TMP/curl_post.json" batch-api-token true
bearer_works "$TW_TMP/curl_post.json"

echo "== Python requests POST example"
# Verbatim but for host, username, password and ws; the last lines hand the
# answer to this script.
"$PYTHON" - >"$TW_TMP/py_post.out" <<PYTHON
import requests
from requests.auth import HTTPBasicAuth
from base64 import b64encode

host     = '$SIM_URL'
username = 'acme-api-key'
password = 'acme-api-secret'
ws = 'acme' # Note: workspace_name value should be all lowercase
username_pw = '{}:{}'.format(username, password).encode('utf-8')
basic_auth_creds = b64encode(username_pw)

form_data = {
  "signature_token": {
    "name": "batch_api_name",
    "expires_at": "2024-10-02T21:00:00+0000",
    "auth_scope": {
      "authentication_for": "batch-api",
      "authorization_type": "read-only"
    }
  }
}
discovery_url = '{}/batch/{}/signature_tokens'.format(host, ws)
HEADERS = {
    'Authorization': 'Basic {}'.format(basic_auth_creds),
    'Accept': 'application/json',
    'Content-Type': 'application/json'
}

response = requests.post(discovery_url, headers=HEADERS, json=form_data, auth=(username, password))
result = response.json()
print(result)

# --- not part of the example ---
import json
assert response.status_code == 200, response.status_code
assert response.headers['Content-Type'] == 'application/json'
with open('$TW_TMP/py_post.json', 'w') as f:
    json.dump(result, f)
PYTHON
grep -q "'name': 'batch_api_name'" "$TW_TMP/py_post.out" ||
	tw_fail "Python POST example: expected its printed result, got $(cat "$TW_TMP/py_post.out")"
check_token "$TW_TMP/py_post.json" batch_api_name true
bearer_works "$TW_TMP/py_post.json"

echo "== curl DELETE example"
curl_delete_example() {
curl --location --request DELETE "$SIM_URL/batch/acme/signature_tokens/$1" \
  --header 'Accept: application/json' \
  --header 'Content-Type: application/json' \
  --user 'acme-api-key':'acme-api-secret' \

}
curl_delete_example "$(jq -r .token "$TW_TMP/curl_post.json")" >"$TW_TMP/curl_delete.json"
check_token "$TW_TMP/curl_delete.json" batch-api-token false
tw_expect_eq "curl DELETE example deleted the curl token" \
	"$(jq -r .token "$TW_TMP/curl_delete.json")" "$(jq -r .token "$TW_TMP/curl_post.json")"

echo "== Python DELETE example (ported from urllib2)"
# The example is Python 2.  The port changes two lines, marked "port:": the
# import (urllib2 became urllib.request) and b64encode, which takes and
# returns bytes in Python 3.
py_token=$(jq -r .token "$TW_TMP/py_post.json")
"$PYTHON" - >"$TW_TMP/py_delete.out" <<PYTHON
from urllib.request import Request, urlopen  # port: was "from urllib2 import Request, urlopen"
from base64 import b64encode

username = 'acme-api-key'
password = 'acme-api-secret'
basic_auth_creds = b64encode(('%s:%s' % (username, password)).encode()).decode()  # port: str <-> bytes

request = Request('$SIM_URL/batch/acme/signature_tokens/$py_token')

request.add_header("Authorization", "Basic %s" % basic_auth_creds)
request.add_header("Accept", "application/json")
request.add_header("Content-Type", "application/json")
request.get_method = lambda: 'DELETE'

response = urlopen(request)
response_body = response.read()

print(response_body)

# --- not part of the example ---
assert response.status == 200, response.status
with open('$TW_TMP/py_delete.json', 'wb') as f:
    f.write(response_body)
PYTHON
check_token "$TW_TMP/py_delete.json" batch_api_name false
tw_expect_eq "Python DELETE example deleted the Python token" \
	"$(jq -r .token "$TW_TMP/py_delete.json")" "$(jq -r .token "$TW_TMP/py_post.json")"

echo "== afterwards"
tw_expect_eq "tokens left on the server" "$(sim_ctl GET /_sim/tokens | jq '.tokens | length')" 0
expect_stats '.requests == 6 and .by_status == {"200": 6} and .creates == 2 and .deletes == 2 and
	.verifies == 2 and .by_method == {"GET": 2, "POST": 2, "DELETE": 2}' "every example answered 200"
sim_stop

echo "PASS: test_examples.sh"
