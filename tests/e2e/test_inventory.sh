#!/usr/bin/env bash
# End-to-end: the inventory verbs (token import, list, show) of the real
# binary on a fresh database; no simulator.  Every refusal is checked for
# its exit status, its exact message, and an inventory left unchanged; and
# the known secrets imported must appear in no file and no output.
# usage: test_inventory.sh TOKENWARDEN
set -euo pipefail
umask 077
tw_bin=$1
. "$(dirname "$0")/../lib/sim.sh"
. "$(dirname "$0")/../lib/check.sh"

# Every command names its files; nothing comes from the caller's environment.
unset TOKENWARDEN_DB TOKENWARDEN_PUBLIC_KEY TOKENWARDEN_NOW
db=$TW_TMP/tw.db
pub=$TW_TMP/seal.pub
out=$TW_TMP/out
err=$TW_TMP/err
all=$TW_TMP/everything-printed
# Known secrets: they reach tokenwarden only through a pipe, never a file.
key1=AKIA-inventory-key-3b8e
secret1=tw-known-secret-7f3c9a1e5b2d
key2=AKIA-inventory-key-91c0
secret2=tw-known-secret-second-40d6e8

# feed STATUS INPUT ARGS...: runs tokenwarden with printf INPUT (a format)
# on standard input, expects exit STATUS, and keeps what it printed.
feed() {
	local want=$1 input=$2 got=0
	shift 2
	# shellcheck disable=SC2059
	"$tw_bin" "$@" >"$out" 2>"$err" < <(printf "$input") || got=$?
	cat "$out" "$err" >>"$all"
	if [ "$got" -ge 128 ]; then
		fail "tokenwarden $* died with signal $((got - 128))"
	elif [ "$got" -ne "$want" ]; then
		fail "tokenwarden $*: exit $got, expected $want"
	fi
}

# run STATUS ARGS...: as feed, with nothing on standard input.
run() {
	local want=$1
	shift
	feed "$want" '' "$@"
}

# expect_line FILE LINE: FILE (out or err) has LINE as a whole line.
expect_line() {
	grep -qxF -- "$2" "$1" || fail "expected the line '$2' in $(basename "$1")"
}

# expect_start FILE TEXT: a line of FILE begins with TEXT.
expect_start() {
	local l
	while IFS= read -r l; do
		[[ $l != "$2"* ]] || return 0
	done <"$1"
	fail "expected a line beginning '$2' in $(basename "$1")"
}

# The inventory as JSON, and the number of events when sqlite3 is at hand.
snapshot() {
	"$tw_bin" token list --db "$db" --json
	if command -v sqlite3 >/dev/null; then
		sqlite3 "$db" 'SELECT count(*) FROM events'
	fi
}

# refuse STATUS MESSAGE INPUT ARGS...: the command fails with STATUS and the
# stderr line "tokenwarden: error: MESSAGE" (MESSAGE itself when it is a
# usage line; a MESSAGE ending in '*' is the line's beginning), and the
# inventory is the same as before.
refuse() {
	local want=$1 line=$2 input=$3 before after
	shift 3
	case $line in
	usage:*) ;;
	*) line="tokenwarden: error: $line" ;;
	esac
	before=$(snapshot)
	feed "$want" "$input" "$@"
	if [ "${line%\*}" != "$line" ]; then
		expect_start "$err" "${line%\*}"
	else
		expect_line "$err" "$line"
	fi
	[ ! -s "$out" ] || fail "tokenwarden $*: printed to stdout while refusing"
	after=$(snapshot)
	[ "$(jq -s '.[0] | length' <<<"$after")" = "$(jq -s '.[0] | length' <<<"$before")" ] ||
		fail "tokenwarden $*: the number of tokens changed"
	[ "$after" = "$before" ] || fail "tokenwarden $*: the inventory or its history changed"
}

count() {
	"$tw_bin" token list --db "$db" --json "$@" | jq length
}

echo "== keygen and init"
run 0 keygen --public-key "$pub" --secret-key "$TW_TMP/seal.sec" --no-passphrase
run 0 keygen --public-key "$TW_TMP/other.pub" --secret-key "$TW_TMP/other.sec" --no-passphrase
other_fpr=$(sed -n 's/^wrote public key .* (\(tw1:[^)]*\)), 0644.*$/\1/p' "$out")
run 0 init --db "$db" --public-key "$pub"
fpr=$(sed -n 's/.* (\(tw1:[^)]*\))$/\1/p' "$out")
if [ -z "$fpr" ] || [ -z "$other_fpr" ]; then
	fail "no fingerprints in the keygen and init output"
fi
tw_expect_eq "an empty inventory" "$(count)" 0

store=(--db "$db" --public-key "$pub")
life=(--created-at 2024-01-01T00:00Z --expires-at 2099-01-01T00:00Z)

echo "== import"
run 0 token import "${store[@]}" -w acme --token tok-unmanaged --name "hand made" "${life[@]}"
expect_line "$out" 'imported token tok-unmanaged "hand made" into workspace acme as unmanaged; expires 2099-01-01T00:00:00.000Z; no secret'
[ ! -s "$err" ] || fail "import wrote to stderr"

feed 0 "$key1:$secret1\n" token import "${store[@]}" -w acme --token tok-slot \
	--name "etl discovery" --slot etl "${life[@]}" --secret-stdin --json
cp "$out" "$TW_TMP/imported.json"
jq -e '.workspace == "acme" and .slot == "etl" and .token == "tok-slot" and
	.name == "etl discovery" and .state == "active" and .origin == "imported" and
	.created_at == "2024-01-01T00:00:00.000Z" and .expires_at == "2099-01-01T00:00:00.000Z" and
	.retire_after == null and .has_secret == true' "$TW_TMP/imported.json" >/dev/null ||
	fail "import --json: unexpected row"

# An unmanaged token with a secret, the line ending in CRLF; short options.
feed 0 "$key2:$secret2\r\n" token import "${store[@]}" -w acme --token tok-crlf \
	-n "crlf-line" "${life[@]}" --secret-stdin
expect_line "$out" 'imported token tok-crlf "crlf-line" into workspace acme as unmanaged; expires 2099-01-01T00:00:00.000Z; secret sealed'

# The same id in another workspace is another token; UTF-8 names are kept.
run 0 token import --db "$db" -w beta --token tok-unmanaged --name "Café données" \
	--slot etl "${life[@]}"
expect_line "$out" 'imported token tok-unmanaged "Café données" into workspace beta as the active token of slot etl; expires 2099-01-01T00:00:00.000Z; no secret'
tw_expect_eq "tokens after four imports" "$(count)" 4

echo "== import refusals change nothing"
base=(token import "${store[@]}" -w acme "${life[@]}")
usage_import='usage: tokenwarden token import [options] -w WORKSPACE --token ID -n NAME'
refuse 1 "$db: token tok-unmanaged of workspace acme is already in the inventory" '' \
	"${base[@]}" --token tok-unmanaged --name "hand made"
refuse 1 "$db: token tok-slot of workspace acme is already in the inventory" \
	"$key1:$secret1\n" "${base[@]}" --token tok-slot --name "etl discovery" --secret-stdin
# SQLite's message does not name the partial index that refused, so only
# the beginning of the store's wording is certain.
refuse 1 "$db: slot etl already has a*" '' \
	"${base[@]}" --token tok-second --name "second in etl" --slot etl
refuse 2 "$usage_import" '' "${base[@]}" --name "no token id"
refuse 2 "$usage_import" '' "${base[@]}" --token tok-x
refuse 2 "$usage_import" '' token import "${store[@]}" -w acme --token tok-x --name abcd \
	--expires-at 2099-01-01T00:00Z
refuse 2 "$usage_import" '' "${base[@]}" --token tok-x --name abcd extra
refuse 2 "$usage_import" '' "${base[@]}" --token tok-x --name abcd --frobnicate
refuse 2 "workspace 'Acme' is not a workspace username: use its username, all lower case (a-z, 0-9, '-', '_', '.')" \
	'' token import "${store[@]}" -w Acme "${life[@]}" --token tok-x --name abcd
refuse 2 "workspace name must be 1 to 128 characters" '' \
	token import "${store[@]}" -w '' "${life[@]}" --token tok-x --name abcd
refuse 2 "'../etc' is not a signature token id (letters, digits, '-' and '_', at most 64)" '' \
	"${base[@]}" --token ../etc --name abcd
long_id=$(printf 'x%.0s' {1..65})
refuse 2 "'${long_id:0:64}' is not a signature token id (letters, digits, '-' and '_', at most 64)" \
	'' "${base[@]}" --token "$long_id" --name abcd
refuse 2 "token name 'abc' has 3 characters; Mode requires 4 to 64" '' \
	"${base[@]}" --token tok-x --name abc
long_name=$(printf 'n%.0s' {1..65})
refuse 2 "token name '$long_name' has 65 characters; Mode requires 4 to 64" '' \
	"${base[@]}" --token tok-x --name "$long_name"
refuse 2 "token name has a control character, a bidirectional one (which reorders the text after it) or is not UTF-8" '' \
	"${base[@]}" --token tok-x --name $'tab\there'
# A right-to-left override would make a listing's line read otherwise than it is.
refuse 2 "token name has a control character, a bidirectional one (which reorders the text after it) or is not UTF-8" '' \
	"${base[@]}" --token tok-x --name $'ab\xe2\x80\xaecd'
refuse 2 "slot 'bad slot' is not a slot name (letters, digits, '.', '-' and '_', 1 to 64)" '' \
	"${base[@]}" --token tok-x --name abcd --slot "bad slot"
refuse 2 "slot '' is not a slot name (letters, digits, '.', '-' and '_', 1 to 64)" '' \
	"${base[@]}" --token tok-x --name abcd --slot ''
refuse 2 "--created-at 'yesterday': expected an ISO 8601 time such as 2026-12-31T23:00Z, 'now', or a duration from now such as 7d (ago) or +1d" '' \
	token import "${store[@]}" -w acme --token tok-x --name abcd --created-at yesterday \
	--expires-at 2099-01-01T00:00Z
refuse 2 "--expires-at '2099-13-01T00:00Z': expected an ISO 8601 time such as 2026-12-31T23:00Z, 'now', or a duration from now such as 30d (ahead) or -1h" \
	'' token import "${store[@]}" -w acme --token tok-x --name abcd \
	--created-at 2024-01-01T00:00Z --expires-at 2099-13-01T00:00Z
refuse 2 "--expires-at must be later than --created-at" '' \
	token import "${store[@]}" -w acme --token tok-x --name abcd \
	--created-at 2024-01-01T00:00Z --expires-at 2024-01-01T00:00Z
refuse 2 "--expires-at must be later than --created-at" '' \
	token import "${store[@]}" -w acme --token tok-x --name abcd \
	--created-at 2099-01-02T00:00Z --expires-at 2099-01-01T00:00Z
refuse 2 "token tok-x expired at 2001-01-01T00:00:00.000Z; there is nothing to import" '' \
	token import "${store[@]}" -w acme --token tok-x --name abcd \
	--created-at 2000-01-01T00:00Z --expires-at 2001-01-01T00:00Z

echo "== import refusals of the secret change nothing"
sec=("${base[@]}" --token tok-x --name abcd --secret-stdin)
no_pair="standard input: expected one line ACCESS_KEY:ACCESS_SECRET (the token's access key and secret joined by a colon)"
refuse 2 "$no_pair" '' "${sec[@]}"
refuse 2 "$no_pair" '\n' "${sec[@]}"
refuse 2 "$no_pair" "$secret1\n" "${sec[@]}"
refuse 2 "$no_pair" ":$secret1\n" "${sec[@]}"
refuse 2 "$no_pair" "$key1:\n" "${sec[@]}"
refuse 2 "standard input: expected one line ACCESS_KEY:ACCESS_SECRET, found more" \
	"$key1:$secret1\nsecond line\n" "${sec[@]}"
refuse 2 "standard input: holds a NUL byte at offset $((${#key1} + 1 + ${#secret1})); is it the right file?" \
	"$key1:$secret1\0tail\n" "${sec[@]}"
refuse 2 "standard input: the access key and secret contain a space, a control character or a byte outside ASCII" \
	"$key1: $secret1\n" "${sec[@]}"
refuse 2 "standard input: the access key and secret contain a space, a control character or a byte outside ASCII" \
	"$key1:$secret1\t\n" "${sec[@]}"
# Not UTF-8 (Latin-1's e acute): 'secret reveal --json' could not print it.
refuse 2 "standard input: the access key and secret contain a space, a control character or a byte outside ASCII" \
	"$key1:$secret1\xe9\n" "${sec[@]}"
refuse 2 "standard input: the access key or secret is longer than 4096 bytes" \
	"$(printf 'k%.0s' {1..4097}):$secret1\n" "${sec[@]}"
refuse 2 "standard input: larger than 8195 bytes; is it the right file?" \
	"$key1:$(printf 's%.0s' {1..8200})\n" "${sec[@]}"
refuse 2 "$db: pinned to sealing key $fpr, but the public key given is $other_fpr; check the public key file, or use 'tokenwarden rekey'" \
	"$key1:$secret1\n" token import --db "$db" --public-key "$TW_TMP/other.pub" -w acme \
	"${life[@]}" --token tok-x --name abcd --secret-stdin
cp "$pub" "$TW_TMP/open.pub"
chmod 666 "$TW_TMP/open.pub"
refuse 2 "$TW_TMP/open.pub: permissions 0666 let group or others replace the key; run: chmod go-w $TW_TMP/open.pub" \
	"$key1:$secret1\n" token import --db "$db" --public-key "$TW_TMP/open.pub" -w acme \
	"${life[@]}" --token tok-x --name abcd --secret-stdin
refuse 2 "$TW_TMP/none.db: No such file or directory; run 'tokenwarden init' first" '' \
	token import --db "$TW_TMP/none.db" -w acme "${life[@]}" --token tok-x --name abcd
[ ! -e "$TW_TMP/none.db" ] || fail "import created a database"

echo "== list"
tw_expect_eq "all tokens" "$(count)" 4
tw_expect_eq "workspace acme" "$(count -w acme)" 3
tw_expect_eq "workspace beta" "$(count -w beta)" 1
tw_expect_eq "workspace nosuch" "$(count -w nosuch)" 0
tw_expect_eq "slot etl" "$(count --slot etl)" 2
tw_expect_eq "slot etl in acme" "$(count --slot etl -w acme)" 1
tw_expect_eq "slot nosuch" "$(count --slot nosuch)" 0
tw_expect_eq "unmanaged" "$(count --unmanaged)" 2
tw_expect_eq "unmanaged in beta" "$(count --unmanaged -w beta)" 0
tw_expect_eq "state active" "$(count --state active)" 4
tw_expect_eq "state unknown" "$(count --state unknown)" 0
run 0 token list --db "$db" --json -w acme --slot etl
jq -e 'length == 1 and .[0].token == "tok-slot"' "$out" >/dev/null || fail "list --slot etl -w acme"
run 0 token list --db "$db" --json --unmanaged
jq -e 'all(.[]; .slot == null)' "$out" >/dev/null || fail "list --unmanaged listed a slot's token"

# Every row has exactly these fields, with these types.
run 0 token list --db "$db" --json
jq -e 'type == "array" and length == 4 and all(.[];
	keys_unsorted == ["workspace", "slot", "token", "name", "state", "origin", "requested_at",
		"created_at", "expires_at", "updated_at", "retire_after", "has_secret"] and
	(.workspace | type) == "string" and (.slot | type) as $s | ($s == "string" or $s == "null") and
	(.token | type) as $t | ($t == "string" or $t == "null") and (.name | type) == "string" and
	(.state | type) == "string" and .origin == "imported" and
	(.requested_at | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z$")) and
	(.created_at | type) as $c | ($c == "string" or $c == "null") and
	(.expires_at | type) == "string" and (.updated_at | type) == "string" and
	(.retire_after | type) as $r | ($r == "string" or $r == "null") and
	(.has_secret | type) == "boolean")' "$out" >/dev/null || fail "list --json: fields or types"
jq -e '[.[] | select(.workspace == "acme") | {token, has_secret}] ==
	[{token: "tok-unmanaged", has_secret: false}, {token: "tok-slot", has_secret: true},
	 {token: "tok-crlf", has_secret: true}]' "$out" >/dev/null || fail "list --json: has_secret"
jq -e '.[] | select(.workspace == "beta") | .name == "Café données"' "$out" >/dev/null ||
	fail "list --json: the UTF-8 name"

# The table: a header, aligned columns, spaces not tabs, '-' for absent values.
run 0 token list --db "$db" -w acme
cp "$out" "$TW_TMP/table"
read -ra header <"$TW_TMP/table"
tw_expect_eq "the table's header" "${header[*]}" "WORKSPACE SLOT TOKEN NAME STATE EXPIRES SECRET"
tw_expect_eq "the table's lines" "$(wc -l <"$TW_TMP/table")" 4
grep -q $'\t' "$TW_TMP/table" && fail "the table has tabs"
grep -q ' $' "$TW_TMP/table" && fail "the table has trailing spaces"
awk 'NR == 1 { s = index($0, "STATE"); e = index($0, "SECRET") }
	NR > 1 && (substr($0, s, 7) != "active " || substr($0, e - 1, 1) != " ") { bad = 1 }
	END { exit bad }' "$TW_TMP/table" || fail "the table's columns are not aligned"
grep -qE '^acme +- +tok-unmanaged +hand made +active +2099-01-01T00:00:00\.000Z +-$' \
	"$TW_TMP/table" || fail "the table's unmanaged row"
grep -qE '^acme +etl +tok-slot +etl discovery +active +2099-01-01T00:00:00\.000Z +sealed$' \
	"$TW_TMP/table" || fail "the table's slot row"
# On a terminal: the same table.
if command -v script >/dev/null; then
	script -qec "$(printf '%q ' "$tw_bin" token list --db "$db" -w acme)" /dev/null \
		</dev/null | tr -d '\r' >"$TW_TMP/tty-table" || fail "token list on a terminal"
	cmp -s "$TW_TMP/table" "$TW_TMP/tty-table" || fail "the table differs on a terminal"
	cat "$TW_TMP/tty-table" >>"$all"
fi

echo "== list refusals"
refuse 2 "--state 'bogus': expected one of pending, created, verified, active, retiring, deleted, failed, unknown, expired, revoked" \
	'' token list --db "$db" --state bogus
refuse 2 "--slot and --unmanaged: give one" \
	'' token list --db "$db" --slot etl --unmanaged
refuse 2 "--slot needs a slot name; --unmanaged lists the tokens without one" '' \
	token list --db "$db" --slot ''
refuse 2 "workspace 'Acme' is not a workspace username: use its username, all lower case (a-z, 0-9, '-', '_', '.')" \
	'' token list --db "$db" -w Acme
refuse 2 "$TW_TMP/none.db: No such file or directory; run 'tokenwarden init' first" '' \
	token list --db "$TW_TMP/none.db"
[ ! -e "$TW_TMP/none.db" ] || fail "list created a database"

echo "== show"
run 0 token show --db "$db" -w acme tok-slot --json
jq -S . "$out" >"$TW_TMP/show.json"
"$tw_bin" token list --db "$db" --json |
	jq -S '.[] | select(.workspace == "acme" and .token == "tok-slot")' >"$TW_TMP/listed.json"
cmp -s "$TW_TMP/show.json" "$TW_TMP/listed.json" || fail "show --json differs from list --json"
jq -S . "$TW_TMP/imported.json" | cmp -s - "$TW_TMP/show.json" ||
	fail "show --json differs from what import --json printed"
run 0 token show --db "$db" -w acme tok-slot
tw_expect_eq "show's keys" "$(cut -d: -f1 "$out" | tr '\n' ' ')" \
	"workspace slot token name state origin requested_at created_at expires_at updated_at retire_after has_secret "
expect_line "$out" "slot:         etl"
expect_line "$out" "name:         etl discovery"
expect_line "$out" "expires_at:   2099-01-01T00:00:00.000Z"
expect_line "$out" "retire_after: -"
expect_line "$out" "has_secret:   yes"
run 0 token show --db "$db" -w acme tok-unmanaged
expect_line "$out" "slot:         -"
expect_line "$out" "has_secret:   no"
refuse 1 "workspace acme has no token with the id or name 'nosuch' in the inventory" '' \
	token show --db "$db" -w acme nosuch
refuse 1 "workspace beta has no token with the id or name 'tok-slot' in the inventory" '' \
	token show --db "$db" -w beta tok-slot
# No id, but it could be a name: looked up, not found.
refuse 1 "workspace acme has no token with the id or name '../etc' in the inventory" '' \
	token show --db "$db" -w acme ../etc
# Neither an id nor a name: refused before the lookup, and not echoed.
refuse 2 "token name has a control character, a bidirectional one (which reorders the text after it) or is not UTF-8" '' \
	token show --db "$db" -w acme $'tok\e[31m'
usage_show="usage: tokenwarden token show [options] -w WORKSPACE TOKEN"
refuse 2 "$usage_show" '' token show --db "$db" tok-slot
refuse 2 "--workspace is required: the token's workspace" '' token show --db "$db" tok-slot
refuse 2 "$usage_show" '' token show --db "$db" -w acme
refuse 2 "$usage_show" '' token show --db "$db" -w acme tok-slot tok-crlf

echo "== show by name"
# A token is its Mode id or its Mode-side name, in its workspace.
run 0 token show --db "$db" -w acme "etl discovery" --json
jq -S . "$out" | cmp -s - "$TW_TMP/show.json" || fail "show by name differs from show by id"
run 0 token show --db "$db" -w beta "Café données" --json
tw_expect_eq "show by a UTF-8 name in beta" "$(jq -r .token "$out")" tok-unmanaged
# The same name in two workspaces: -w says which.
run 0 token import --db "$db" -w beta --token tok-beta-etl --name "etl discovery" "${life[@]}"
run 0 token show --db "$db" -w beta "etl discovery" --json
tw_expect_eq "show by name in beta" "$(jq -r .token "$out")" tok-beta-etl
# An id wins over another token's name.
run 0 token import --db "$db" -w acme --token tok-named-id --name tok-crlf "${life[@]}"
run 0 token show --db "$db" -w acme tok-crlf --json
tw_expect_eq "an id wins over a name" "$(jq -r .name "$out")" crlf-line
run 0 token show --db "$db" -w acme tok-named-id --json
tw_expect_eq "show by id" "$(jq -r .name "$out")" tok-crlf
# Two hand-made tokens of one name in a workspace: refused, naming both ids.
run 0 token import --db "$db" -w acme --token tok-hand-2 --name "hand made" "${life[@]}"
refuse 2 "workspace acme has 2 tokens named 'hand made': tok-unmanaged (active), tok-hand-2 (active); give the id of one" \
	'' token show --db "$db" -w acme "hand made"
run 0 token show --db "$db" -w acme tok-hand-2 --json
tw_expect_eq "an ambiguous name's token by id" "$(jq -r .name "$out")" "hand made"

echo "== stored text is printed safely"
# A database edited behind tokenwarden's back must not drive the terminal.
if command -v sqlite3 >/dev/null; then
	sqlite3 "$db" "UPDATE tokens SET name = 'esc' || char(27) || '[31mred' ||
		CAST(X'FF' AS TEXT) WHERE token = 'tok-crlf'"
	run 0 token list --db "$db" -w acme
	grep -q $'\e' "$out" && fail "list printed an escape character"
	grep -qF ' esc?[31mred? ' "$out" || fail "list did not replace the control character"
	run 0 token show --db "$db" -w acme tok-crlf --json
	tw_expect_eq "show --json of an edited name" "$(jq -r .name "$out")" 'esc?[31mred?'
fi

echo "== help"
run 0 help token import
grep -qF -- "--secret-stdin" "$out" || fail "help token import"
run 0 --help
for verb in "token import" "token list" "token show"; do
	grep -qF "  $verb " "$out" || fail "--help does not list $verb"
done

echo "== secrets appear nowhere"
# The scan finds plaintext where it is stored: the name is in the database.
grep -aqF "etl discovery" "$db" "$db-wal" 2>/dev/null || fail "the scan cannot see the database"
for s in "$secret1" "$secret2" "$key1" "$key2"; do
	for f in "$db" "$db-wal" "$db-shm" "$all"; do
		[ ! -e "$f" ] || ! grep -aqF -- "$s" "$f" || fail "a known secret is in $(basename "$f")"
	done
	! grep -raqF -- "$s" "$TW_TMP" || fail "a known secret is in a file under the test directory"
done

if [ "$failures" -ne 0 ]; then
	echo "$failures check(s) failed" >&2
	exit 1
fi
echo "all inventory checks passed"
