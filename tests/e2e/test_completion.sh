#!/usr/bin/env bash
# End-to-end: `tokenwarden completion` scripts complete what the parser
# accepts.  The bash script is loaded and its function called on sample
# command lines (COMP_WORDS, COMP_CWORD), as bash does on TAB; slot and
# workspace names come from the policy.  The zsh and fish scripts are
# checked for shape (and by the shell when it is installed).
# usage: test_completion.sh TOKENWARDEN
set -euo pipefail
umask 077
tw_bin=$1
TW_TMP=$(mktemp -d)
trap 'rm -rf "$TW_TMP"' EXIT
failures=0
fail() {
	echo "FAIL: $*" >&2
	failures=$((failures + 1))
}

# The script calls `tokenwarden` by name for the policy's slots.
mkdir "$TW_TMP/bin"
ln -s "$(cd "$(dirname "$tw_bin")" && pwd)/$(basename "$tw_bin")" "$TW_TMP/bin/tokenwarden"
export PATH="$TW_TMP/bin:$PATH"
cat >"$TW_TMP/policy.yaml" <<'YAML'
version: 1
workspaces:
  - name: acme
    credential: acme-admin
    tokens: [ { name: etl }, { name: bi } ]
  - name: beta
    credential: beta-admin
    tokens: [ { name: etl } ]
YAML
export TOKENWARDEN_CONFIG=$TW_TMP/policy.yaml

tokenwarden completion bash >"$TW_TMP/tw.bash"
bash -n "$TW_TMP/tw.bash" || fail "the bash script does not parse"
# shellcheck disable=SC1091
. "$TW_TMP/tw.bash"

# complete LINE: the words bash offers at the end of LINE (a trailing space: a new word).
complete_line() {
	local line=$1
	read -r -a COMP_WORDS <<<"$line"
	[ "${line: -1}" = " " ] && COMP_WORDS+=("")
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMPREPLY=()
	_tokenwarden
	printf '%s\n' "${COMPREPLY[@]}"
}

# offers LINE WORD...: completing LINE offers each WORD.
offers() {
	local line=$1 got
	shift
	got=$(complete_line "$line")
	for w in "$@"; do
		grep -qxF -- "$w" <<<"$got" || fail "'$line<TAB>' does not offer '$w' (offers: $(echo $got))"
	done
}

# only LINE WORD...: completing LINE offers exactly the WORDs.
only() {
	local line=$1 got want
	shift
	got=$(complete_line "$line" | sort | tr '\n' ' ')
	want=$(printf '%s\n' "$@" | sort | tr '\n' ' ')
	[ "$got" = "$want" ] || fail "'$line<TAB>' offers '$got', expected '$want'"
}

echo "== verbs and groups"
offers "tokenwarden " token rotate plan policy audit help completion
only "tokenwarden tok" token
only "tokenwarden token l" list
only "tokenwarden policy " check show
echo "== options and their values"
offers "tokenwarden token list --" --state --slot --workspace --json --db --help
only "tokenwarden token list --st" --state
only "tokenwarden token list --state a" active
only "tokenwarden token list --log-format " text plain json
echo "== global options before the verb, and their values, are skipped"
only "tokenwarden --db x.db token list --js" --json
echo "== slots and workspaces from the policy"
only "tokenwarden token list --slot acme/" acme/etl acme/bi
offers "tokenwarden token list --slot " etl bi beta/etl
only "tokenwarden token list -w " acme beta
echo "== what is offered is what the verb's help lists, and no more"
offered=$(complete_line "tokenwarden token list --" | grep -- '^--' | grep -vx -- --help | sort)
listed=$("$tw_bin" token list --help | grep -oE -- '--[a-z][a-z-]*' | sort -u)
[ "$offered" = "$listed" ] || fail "token list: offered $(echo $offered), its help lists $(echo $listed)"

echo "== zsh and fish"
tokenwarden completion zsh >"$TW_TMP/tw.zsh"
grep -q '^autoload -U +X bashcompinit && bashcompinit$' "$TW_TMP/tw.zsh" || fail "the zsh script loads no bashcompinit"
grep -q '^complete -F _tokenwarden tokenwarden$' "$TW_TMP/tw.zsh" || fail "the zsh script completes nothing"
if command -v zsh >/dev/null; then zsh -n "$TW_TMP/tw.zsh" || fail "the zsh script does not parse"; fi
tokenwarden completion fish >"$TW_TMP/tw.fish"
grep -q "^complete -c tokenwarden -n '__fish_seen_subcommand_from token; and __fish_seen_subcommand_from list' -l state -r -f -a 'pending" "$TW_TMP/tw.fish" ||
	fail "the fish script lacks token list --state"
if command -v fish >/dev/null; then fish -n "$TW_TMP/tw.fish" || fail "the fish script does not parse"; fi
st=0
tokenwarden completion tcsh >/dev/null 2>&1 || st=$?
[ "$st" = 2 ] || fail "completion tcsh exited $st, expected 2"

if [ "$failures" -gt 0 ]; then
	echo "$failures failure(s)" >&2
	exit 1
fi
echo "completion: all passed"
