#!/usr/bin/env bash
# The man pages against the code they describe.
#
#  1. Every key the policy loader accepts is documented in
#     docs/tokenwarden-policy.5.scd, as a bold term (*key*).  The keys are
#     read from the source, not listed here: the strings of every
#     `const char *const keys[]`, `settings_keys[]` and the SETTINGS_KEYS
#     macro in policies/*.c, and every key looked up with ytree_get() or
#     ytree_key().  The strings of the loader's other lists are checked too:
#     placeholders (allowed[], target_placeholders[]) must appear as {name},
#     every other list's words (credential kinds, notify events, day names,
#     the words that mark a secret key) as words.
#  2. Every docs/*.scd page builds with scdoc without an error (and, when
#     groff is installed, renders without a warning).
#  3. The complete example in tokenwarden-policy(5) passes
#     `tokenwarden policy check --strict`.
#
# usage: test_man.sh SOURCE_DIR TOKENWARDEN_BINARY [SCDOC]
#   SCDOC: the scdoc program (CMake's SCDOC; empty or *-NOTFOUND when
#   missing: then the build check is skipped with a message).
set -euo pipefail

SRC=${1:?usage: test_man.sh SOURCE_DIR TOKENWARDEN_BINARY [SCDOC]}
BIN=${2:?usage: test_man.sh SOURCE_DIR TOKENWARDEN_BINARY [SCDOC]}
SCDOC=${3:-}
PAGE=$SRC/docs/tokenwarden-policy.5.scd

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

failures=0
fail() {
	printf 'FAIL: %s\n' "$*"
	failures=$((failures + 1))
}

# lists: prints "LIST<TAB>STRING" for every string literal of every
# `const char *const LIST[...] = { ... };` in the files given, and
# "SETTINGS_KEYS<TAB>STRING" for the strings of that macro.
lists() {
	awk '
	function strings(list, text,    s) {
		while (match(text, /"[^"]*"/)) {
			s = substr(text, RSTART + 1, RLENGTH - 2)
			printf "%s\t%s\n", list, s
			text = substr(text, RSTART + RLENGTH)
		}
	}
	# A list definition: its name, then its items up to "};".
	!inlist && !inmacro && /const char \*const [A-Za-z_][A-Za-z_0-9]*\[[^]]*\] *= *\{/ {
		name = $0
		sub(/.*const char \*const /, "", name)
		sub(/\[.*/, "", name)
		inlist = 1
		text = $0
		sub(/.*= *\{/, "", text)
		if (text ~ /\};/) {
			sub(/\};.*/, "", text)
			inlist = 0
		}
		strings(name, text)
		next
	}
	inlist {
		text = $0
		if (text ~ /\};/) {
			sub(/\};.*/, "", text)
			inlist = 0
		}
		strings(name, text)
		next
	}
	# The settings keys macro, over its continued lines.
	/^#define SETTINGS_KEYS/ { inmacro = 1 }
	inmacro {
		strings("SETTINGS_KEYS", $0)
		if ($0 !~ /\\$/)
			inmacro = 0
	}
	' "$@"
}

# ---- 1. every key and listed word is documented -------------------------------

[ -f "$PAGE" ] || {
	echo "FAIL: $PAGE is missing"
	exit 1
}

lists "$SRC"/policies/*.c >"$TMP/lists"
# Keys looked up by name, outside any list.
grep -ho 'ytree_\(get\|key\)([^;]*' "$SRC"/policies/*.c |
	grep -o '"[^"]*"' | tr -d '"' | sed 's/^/ytree\t/' >>"$TMP/lists"

cut -f1 "$TMP/lists" | sort -u >"$TMP/names"
awk -F'\t' '$1 == "keys" || $1 == "settings_keys" || $1 == "SETTINGS_KEYS" || $1 == "ytree" {
	print $2 }' "$TMP/lists" | sort -u >"$TMP/keys"
awk -F'\t' '$1 == "allowed" || $1 == "target_placeholders" { print $2 }' "$TMP/lists" |
	sort -u >"$TMP/placeholders"
awk -F'\t' '$1 != "keys" && $1 != "settings_keys" && $1 != "SETTINGS_KEYS" && $1 != "ytree" &&
	$1 != "allowed" && $1 != "target_placeholders" { print $2 }' "$TMP/lists" |
	sort -u >"$TMP/words"

# The extraction itself must work: a change in how the loader writes its
# lists must fail here, not let every key pass unchecked.
nkeys=$(wc -l <"$TMP/keys")
if [ "$nkeys" -lt 40 ]; then
	fail "found only $nkeys policy keys in policies/*.c; has the way the loader lists them changed? (lists: $(tr '\n' ' ' <"$TMP/names"))"
fi
for known in version workspaces rotate_before max_clock_skew delete_after timezone webhook; do
	grep -qx "$known" "$TMP/keys" || fail "the key '$known' was not extracted from policies/*.c"
done

undocumented=0
while IFS= read -r key; do
	if ! grep -qF -- "*$key*" "$PAGE"; then
		fail "policy key '$key' (policies/*.c) is not documented in docs/tokenwarden-policy.5.scd as *$key*"
		undocumented=$((undocumented + 1))
	fi
done <"$TMP/keys"
while IFS= read -r p; do
	grep -qF -- "{$p}" "$PAGE" ||
		fail "placeholder '{$p}' (policies/*.c) is not documented in docs/tokenwarden-policy.5.scd"
done <"$TMP/placeholders"
while IFS= read -r w; do
	grep -qw -- "$w" "$PAGE" ||
		fail "'$w' (a value listed in policies/*.c) is not documented in docs/tokenwarden-policy.5.scd"
done <"$TMP/words"
echo "keys: $nkeys checked, $undocumented undocumented; placeholders: $(wc -l <"$TMP/placeholders"); listed words: $(wc -l <"$TMP/words")"

# ---- 2. the pages build --------------------------------------------------------

# tokenwarden(1) comes from the binary's tables, as CMakeLists.txt builds it.
"$BIN" help --scdoc >"$TMP/tokenwarden.1.scd" || fail "help --scdoc failed"
pages=("$SRC"/docs/*.scd "$TMP/tokenwarden.1.scd")
if [ -z "$SCDOC" ] || [[ $SCDOC == *NOTFOUND ]] || ! command -v "$SCDOC" >/dev/null 2>&1; then
	echo "SKIP: scdoc is not installed, so the pages were not built (./dev deps installs it)"
else
	have_groff=0
	command -v groff >/dev/null 2>&1 && have_groff=1
	for src in "${pages[@]}"; do
		name=$(basename "$src" .scd)
		if ! "$SCDOC" <"$src" >"$TMP/$name" 2>"$TMP/$name.err"; then
			fail "scdoc refuses docs/$name.scd: $(cat "$TMP/$name.err")"
			continue
		fi
		if [ -s "$TMP/$name.err" ]; then
			fail "scdoc warns about docs/$name.scd: $(cat "$TMP/$name.err")"
		fi
		if [ "$have_groff" = 1 ]; then
			groff -man -Tutf8 -ww -z "$TMP/$name" 2>"$TMP/$name.groff" || true
			if [ -s "$TMP/$name.groff" ]; then
				fail "groff warns about $name: $(cat "$TMP/$name.groff")"
			fi
		fi
	done
	echo "built: ${#pages[@]} pages with $SCDOC$([ "$have_groff" = 1 ] || echo ' (groff not installed: render check skipped)')"
fi

# ---- 3. the example is a valid policy ------------------------------------------

# The first literal block after "# EXAMPLE".
awk '/^# EXAMPLE/ { ex = 1 } ex && /^```$/ { n++; if (n == 2) exit; next } ex && n == 1' \
	"$PAGE" >"$TMP/example.yaml"
# Private, as a policy with webhooks is to be kept (it warns otherwise).
chmod 600 "$TMP/example.yaml"
if [ ! -s "$TMP/example.yaml" ]; then
	fail "no example policy found under # EXAMPLE in docs/tokenwarden-policy.5.scd"
elif ! "$BIN" policy check --strict "$TMP/example.yaml" >"$TMP/check.out" 2>&1; then
	fail "the EXAMPLE of docs/tokenwarden-policy.5.scd does not pass policy check --strict: $(cat "$TMP/check.out")"
else
	echo "example: $(cat "$TMP/check.out")"
fi

if [ "$failures" -gt 0 ]; then
	echo "$failures failure(s)"
	exit 1
fi
echo "ok"
