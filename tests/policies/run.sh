#!/usr/bin/env bash
# The policy corpus: `tokenwarden policy check` against fixtures with the
# exact diagnostics it must print.
#
#   examples/policies/*.yaml   must pass `policy check --strict` (exit 0)
#   invalid/NN-name.yaml       must fail (exit 2) with stderr equal to
#                              invalid/NN-name.expected
#   warn/NN-name.yaml          must pass (exit 0) with stderr equal to
#                              warn/NN-name.expected, and fail with --strict
#
# In a .expected file each line is one diagnostic as printed, with the
# policy's path written as FILE.  A fixture whose first lines hold
# `# never-printed: VALUE` must not show VALUE (a secret) in any output.
#
# usage: run.sh TOKENWARDEN_BINARY
set -euo pipefail

BIN=${1:?usage: run.sh TOKENWARDEN_BINARY}
HERE=$(cd "$(dirname "$0")" && pwd)
EXAMPLES=$(cd "$HERE/../../examples/policies" && pwd)
MIN_INVALID=40

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# policy check refuses a file others can change, and a checkout made under
# umask 002 leaves the fixtures group-writable; it warns about webhooks
# others can read, as a checkout's 0644 leaves them: check private copies,
# as installed.
mkdir "$TMP/corpus"
cp -R "$HERE/invalid" "$HERE/warn" "$TMP/corpus/"
cp -R "$EXAMPLES" "$TMP/corpus/examples"
chmod -R go-rwx "$TMP/corpus"
HERE=$TMP/corpus
EXAMPLES=$TMP/corpus/examples

failures=()
n_examples=0 n_invalid=0 n_warn=0 n_secret=0

# fail CASE MESSAGE...: records that CASE failed and says why.
fail() {
	local case=$1
	shift
	failures+=("$case")
	printf 'FAIL %s: %s\n' "$case" "$*"
}

# run OUT_PREFIX ARGS...: runs `policy check ARGS`; sets rc, leaves .out and .err.
run() {
	local prefix=$1
	shift
	rc=0
	"$BIN" policy check "$@" >"$prefix.out" 2>"$prefix.err" || rc=$?
}

# expected FILE PATH: the .expected file with FILE at the start of each line replaced by PATH.
expected() {
	local line
	while IFS= read -r line || [[ -n $line ]]; do
		if [[ $line == FILE:* ]]; then
			printf '%s%s\n' "$2" "${line#FILE}"
		else
			printf '%s\n' "$line"
		fi
	done <"$1"
}

# same_stderr CASE YAML EXPECTED PREFIX: compares what was printed with the .expected file.
same_stderr() {
	expected "$3" "$2" >"$4.want"
	if ! diff -u --label "expected ($3)" --label "printed" "$4.want" "$4.err" >"$4.diff"; then
		fail "$1" "stderr differs from $(basename "$3")"
		sed 's/^/    /' "$4.diff"
		return 1
	fi
}

# summary_ok CASE PREFIX YAML VERDICT EXPECTED: the stdout summary agrees with the diagnostics.
summary_ok() {
	local errors warnings want
	errors=$(grep -c ': error: ' "$5" || true)
	warnings=$(grep -c ': warning: ' "$5" || true)
	if [[ $4 == invalid ]]; then
		want="$3: invalid: $errors error$([[ $errors == 1 ]] || echo s), $warnings warning$([[ $warnings == 1 ]] || echo s)"
	else
		want="$3: valid: "
	fi
	if [[ $(cat "$2.out") != "$want"* ]]; then
		fail "$1" "stdout summary is '$(cat "$2.out")', expected '$want...'"
		return 1
	fi
}

# no_secret CASE YAML PREFIX: the value named by `# never-printed:` appears in no output.
no_secret() {
	local secret
	secret=$(sed -n '1,5s/^# never-printed: //p' "$2" | head -n 1)
	[[ -n $secret ]] || return 0
	n_secret=$((n_secret + 1))
	# The JSON forms too: they carry the same messages.
	"$BIN" policy check --json "$2" >"$3.json" 2>&1 || true
	"$BIN" --log-format json policy check "$2" >"$3.logjson" 2>&1 || true
	if grep -F -l -e "$secret" "$3.out" "$3.err" "$3.json" "$3.logjson" >"$3.leaks"; then
		fail "$1" "the secret '$secret' was printed (in $(sed "s|^$3\.||" "$3.leaks" | paste -sd ' '))"
		grep -F -h -e "$secret" "$3.out" "$3.err" "$3.json" "$3.logjson" | sed 's/^/    /'
		return 1
	fi
}

# --- examples: valid with --strict, and silent ---------------------------------
for yaml in "$EXAMPLES"/*.yaml; do
	case="examples/$(basename "$yaml")"
	n_examples=$((n_examples + 1))
	run "$TMP/ex" --strict "$yaml"
	if [[ $rc -ne 0 ]]; then
		fail "$case" "policy check --strict exited $rc, expected 0"
		sed 's/^/    /' "$TMP/ex.err" "$TMP/ex.out"
	elif [[ -s $TMP/ex.err ]]; then
		fail "$case" "policy check --strict printed diagnostics"
		sed 's/^/    /' "$TMP/ex.err"
	fi
done

# --- invalid cases: exit 2 and exactly the expected diagnostics ----------------
for yaml in "$HERE"/invalid/*.yaml; do
	name=$(basename "$yaml" .yaml)
	case="invalid/$name"
	exp="$HERE/invalid/$name.expected"
	n_invalid=$((n_invalid + 1))
	if [[ ! -f $exp ]]; then
		fail "$case" "no $name.expected beside it"
		continue
	fi
	run "$TMP/inv" "$yaml"
	ok=1
	if [[ $rc -ne 2 ]]; then
		fail "$case" "policy check exited $rc, expected 2"
		ok=0
	fi
	same_stderr "$case" "$yaml" "$exp" "$TMP/inv" || ok=0
	if [[ $ok -eq 1 ]]; then
		summary_ok "$case" "$TMP/inv" "$yaml" invalid "$exp" || true
	fi
	no_secret "$case" "$yaml" "$TMP/inv" || true
done

# --- warn cases: valid with warnings; --strict makes them fail -----------------
for yaml in "$HERE"/warn/*.yaml; do
	name=$(basename "$yaml" .yaml)
	case="warn/$name"
	exp="$HERE/warn/$name.expected"
	n_warn=$((n_warn + 1))
	if [[ ! -f $exp ]]; then
		fail "$case" "no $name.expected beside it"
		continue
	fi
	if ! grep -q ': warning: ' "$exp" || grep -q ': error: ' "$exp"; then
		fail "$case" "$name.expected must hold warnings and no errors"
		continue
	fi
	run "$TMP/warn" "$yaml"
	if [[ $rc -ne 0 ]]; then
		fail "$case" "policy check exited $rc, expected 0"
	fi
	same_stderr "$case" "$yaml" "$exp" "$TMP/warn" || true
	summary_ok "$case" "$TMP/warn" "$yaml" valid "$exp" || true
	run "$TMP/strict" --strict "$yaml"
	if [[ $rc -ne 2 ]]; then
		fail "$case" "policy check --strict exited $rc, expected 2"
	fi
	same_stderr "$case (--strict)" "$yaml" "$exp" "$TMP/strict" || true
done

# --- every .expected has its policy --------------------------------------------
for exp in "$HERE"/invalid/*.expected "$HERE"/warn/*.expected; do
	if [[ ! -f ${exp%.expected}.yaml ]]; then
		fail "${exp#"$HERE"/}" "no policy beside it (${exp%.expected}.yaml)"
	fi
done

printf 'policy corpus: %d examples, %d invalid, %d warn cases run (%d checked for secrets)\n' \
	"$n_examples" "$n_invalid" "$n_warn" "$n_secret"
if [[ $n_invalid -lt $MIN_INVALID ]]; then
	fail corpus "only $n_invalid invalid cases; the corpus must keep at least $MIN_INVALID"
fi
if [[ ${#failures[@]} -gt 0 ]]; then
	printf '%s\n' "${failures[@]}" | sed 's/ (--strict)$//' | sort -u >"$TMP/failed"
	printf '%d case(s) failed:\n' "$(wc -l <"$TMP/failed")"
	sed 's/^/  /' "$TMP/failed"
	exit 1
fi
echo "all passed"
