#!/usr/bin/env bash
# End-to-end: tokenwarden doctor (issue 13).  One line per check, the fix
# beside each failure, exit 0 all good (warnings and skips allowed), 1 a
# check failed, 2 usage.  A case for each check that can fail (the policy,
# the store, its directory, the public key, the timer with a fake systemctl,
# the credential, the API, the server's clock 45 days away, the credential
# refused with --probe, a file consumer's directory and an exec program),
# each with its exact line and the other checks still made; --json checked
# with jq; and doctor changes nothing: the store's bytes, its history and
# the simulator's tokens are the same before and after every case.
# The cases that give files to `nobody` need root; without it they are
# skipped, and the test says so.
# usage: test_doctor.sh MODESIM TOKENWARDEN
set -euo pipefail
umask 077
modesim=$1
tw_bin=$2
. "$(dirname "$0")/../lib/sim.sh"
. "$(dirname "$0")/../lib/check.sh"
RUN_TIMEOUT=120

unset TOKENWARDEN_DB TOKENWARDEN_PUBLIC_KEY TOKENWARDEN_CONFIG TOKENWARDEN_CREDENTIAL
unset CREDENTIALS_DIRECTORY TOKENWARDEN_TEST_SYSTEMD
out=$TW_TMP/out
err=$TW_TMP/err

# line TEXT: stdout has TEXT as a whole line.
line() {
	grep -qxF -- "$1" "$out" || fail "expected the line '$1'"
}

# like REGEX: stdout has a whole line matching the extended REGEX.
like() {
	grep -qxE -- "$1" "$out" || fail "expected a line matching '$1'"
}

# checks N...: stdout has a line for each check named (any status), so they all ran.
checks() {
	local id
	for id in "$@"; do
		grep -qE "^(ok  |warn|skip|FAIL) $id: " "$out" || fail "no line for check $id"
	done
}

# The checks every doctor run of the one-workspace policy makes.
all=(policy store store-directory public-key timer credential api clock credential-accepted
	consumer)

# Who runs the test, as doctor names them.
me=$(id -un)
who=root
[ "$(id -u)" = 0 ] || who="root and $me"

sim_start "$modesim" --workspace acme:adminkey:adminsecret --now 2026-11-01T00:00Z
at 2026-11-01T00:00Z
state=$TW_TMP/state
mkdir -m 700 "$state"
db=$state/tw.db
pub=$TW_TMP/seal.pub
"$tw_bin" keygen --public-key "$pub" --secret-key "$TW_TMP/seal.key" --no-passphrase >/dev/null
"$tw_bin" init --db "$db" --public-key "$pub" >/dev/null 2>&1
mkdir -p "$TW_TMP/creds"
printf 'adminkey:adminsecret\n' >"$TW_TMP/creds/acme-admin"
export CREDENTIALS_DIRECTORY=$TW_TMP/creds
mkdir -m 755 "$TW_TMP/got" "$TW_TMP/hooks"
printf '#!/bin/sh\ncat >/dev/null\n' >"$TW_TMP/hooks/ok"
chmod 755 "$TW_TMP/hooks/ok"
policy=$TW_TMP/policy.yaml
export TOKENWARDEN_CONFIG=$policy

# policy [API [PROGRAM]]: one workspace, acme, one slot, etl, with a file and an exec consumer.
write_policy() {
	cat >"$policy" <<YAML
version: 1
store: { path: $db, public_key: $pub }
defaults: { lifetime: 30d, rotate_before: 20%, grace: 1d }
workspaces:
  - name: acme
    api: ${1:-$SIM_URL}
    credential: acme-admin
    tokens:
      - name: etl
        deliver:
          - file: $TW_TMP/got/etl.json
          - exec: ["${2:-$TW_TMP/hooks/ok}", "{slot}"]
YAML
}
write_policy

# A store with history and a token on the server, for doctor to leave alone.
"$tw_bin" rotate >/dev/null 2>&1 || tw_fail "the first rotate failed"

# The store's bytes, its history and the simulator's tokens, to compare after each case.
snapshot() {
	{
		sha256sum "$db" | cut -d' ' -f1
		ls -a "$state"
		"$tw_bin" audit log --json --db "$db" 2>/dev/null
		sim_ctl GET /_sim/tokens
	} >"$1"
}
snapshot "$TW_TMP/before"
unchanged() {
	snapshot "$TW_TMP/after"
	cmp -s "$TW_TMP/before" "$TW_TMP/after" ||
		fail "$1: doctor changed the store, its history or the server's tokens: $(diff "$TW_TMP/before" "$TW_TMP/after" | head -5)"
}

echo "== all good: exit 0, plain http to loopback a warning, no systemd a skip"
export TOKENWARDEN_TEST_SYSTEMD=0
run 0 doctor
line "policy, store, key and timer"
line "ok   policy: $policy: valid: 1 workspace, 1 slot, 0 warnings"
line "ok   store: $db: a tokenwarden store, owner $me, mode 0600, it and its directory writable"
line "ok   store-directory: $state: nobody but $who can change it or a directory above it"
like "ok   public-key: $pub: fingerprint tw1:[A-Za-z0-9_-]+, the one pinned in the store"
line "skip timer: skipped: systemd is not running here"
line "workspace acme"
line "ok   credential: acme-admin: found in $TW_TMP/creds/acme-admin"
line "warn api: $SIM_URL: plain http to loopback: a test setup (it answers)"
like "ok   clock: the server's clock and this host's are ([0-9]+s|under a second) apart \(schedule.max_clock_skew allows 5m\)"
line "skip credential-accepted: not checked: Mode has no read-only call for an admin key; \`doctor --probe\` checks it with a DELETE of a token id that cannot exist (404 = accepted, 401 = refused)"
line "ok   consumer: etl: file $TW_TMP/got/etl.json: its directory is safe and $me can write in it"
line "ok   consumer: etl: exec $TW_TMP/hooks/ok: nobody but $who can change it"
line "doctor: 8 ok, 1 warning, 2 skipped, 0 failed"
unchanged "all good"

echo "== --json: the same checks, valid JSON, ok true"
run 0 doctor --json
jq -e '.version == 1 and .ok == true and (.checks | length) == 11' "$out" >/dev/null ||
	fail "--json: not the expected document"
jq -e '[.checks[] | select(.workspace == null) | .check] ==
	["policy", "store", "store-directory", "public-key", "timer"]' "$out" >/dev/null ||
	fail "--json: the checks of no workspace"
jq -e '[.checks[] | select(.workspace == "acme") | .status] ==
	["ok", "warn", "ok", "skip", "ok", "ok"] and
	all(.checks[]; .fix == null)' "$out" >/dev/null || fail "--json: acme's statuses"
unchanged "--json"

echo "== --probe with the good key: 404 is accepted, nothing recorded or deleted"
run 0 doctor --probe
line "ok   credential-accepted: accepted: the server looked for the token (DELETE of token id tokenwarden-doctor-probe, which cannot exist: 404)"
line "doctor: 9 ok, 1 warning, 1 skipped, 0 failed"
unchanged "--probe"

echo "== --probe with a bad key: 401 fails with the fix"
printf 'adminkey:wrongsecret\n' >"$TW_TMP/creds/acme-admin"
run 1 doctor --probe
line "FAIL credential-accepted: refused: delete token tokenwarden-doctor-probe in workspace acme: 401 Unauthorized: Invalid API key or secret: the API key or secret is wrong, or its owner left the workspace; check the credential; check credential acme-admin ($TW_TMP/creds/acme-admin): a workspace admin's API token and secret as KEY:SECRET, made by a user still in workspace acme"
checks "${all[@]}"
line "doctor: 8 ok, 1 warning, 1 skipped, 1 failed"
run 0 doctor
unchanged "--probe, a bad key"
printf 'adminkey:adminsecret\n' >"$TW_TMP/creds/acme-admin"

echo "== --json with a failure: ok false, the fix given"
printf 'adminkey:wrongsecret\n' >"$TW_TMP/creds/acme-admin"
run 1 doctor --probe --json
jq -e '.ok == false and ([.checks[] | select(.status == "fail")] | length) == 1 and
	([.checks[] | select(.status == "fail")][0] | .check == "credential-accepted" and
	 .workspace == "acme" and (.fix | startswith("check credential acme-admin")))' \
	"$out" >/dev/null || fail "--json: the failure"
printf 'adminkey:adminsecret\n' >"$TW_TMP/creds/acme-admin"

echo "== the policy: invalid is a failed check, and the rest still runs"
cp "$policy" "$TW_TMP/good.yaml"
printf 'bogus: 1\n' >>"$policy"
run 1 doctor --db "$db" --public-key "$pub"
line "FAIL policy: $policy: invalid: 1 error, the first at line 13: unknown key 'bogus' in the policy; run: tokenwarden policy check $policy (every problem with its line), and correct them; nothing is checked for the workspaces meanwhile"
checks policy store store-directory public-key timer
expect "$err" "$policy:13:1: error: unknown key 'bogus' in the policy"
line "doctor: 3 ok, 0 warnings, 1 skipped, 1 failed"
rm "$policy"
run 1 doctor --db "$db" --public-key "$pub"
line "FAIL policy: $policy: cannot read the policy: No such file or directory; name the policy with --config FILE or \$TOKENWARDEN_CONFIG (examples/policies/ has some to start from); nothing is checked for the workspaces meanwhile"
checks policy store store-directory public-key timer
cp "$TW_TMP/good.yaml" "$policy"
unchanged "the policy"

echo "== the store: missing, or readable by others"
mv "$db" "$db.away"
run 1 doctor
line "FAIL store: $db: No such file or directory; run 'tokenwarden init' first"
like "skip public-key: $pub: fingerprint tw1:[A-Za-z0-9_-]+; not compared with the pinned one: the store did not open"
checks "${all[@]}"
mv "$db.away" "$db"
chmod 644 "$db"
run 1 doctor
line "FAIL store: $db: permissions 0644 let others read the inventory; run: chmod 600 $db"
checks "${all[@]}"
line "doctor: 6 ok, 1 warning, 3 skipped, 1 failed"
chmod 600 "$db"
unchanged "the store"

echo "== the store's directory: writable by others"
chmod 777 "$state"
run 1 doctor
line "FAIL store-directory: $state is writable by group or others (mode 0777); run: chmod go-w $state"
checks "${all[@]}"
chmod 700 "$state"
unchanged "the store's directory"

echo "== the public key: another key, and one others may replace"
"$tw_bin" keygen --public-key "$TW_TMP/other.pub" --secret-key "$TW_TMP/other.key" --no-passphrase >/dev/null
run 1 doctor --public-key "$TW_TMP/other.pub"
like "FAIL public-key: $db: pinned to sealing key tw1:[A-Za-z0-9_-]+, but the public key given is tw1:[A-Za-z0-9_-]+; check the public key file, or use 'tokenwarden rekey'"
checks "${all[@]}"
chmod 666 "$pub"
run 1 doctor
line "FAIL public-key: $pub: permissions 0666 let group or others replace the key; run: chmod go-w $pub"
checks "${all[@]}"
chmod 600 "$pub"
unchanged "the public key"

echo "== the timer, with a fake systemctl: enabled with a next run, disabled, not started"
mkdir -m 755 "$TW_TMP/bin"
fake_systemctl() {
	cat >"$TW_TMP/bin/systemctl" <<SH
#!/bin/sh
case "\$1" in
is-enabled) echo $1; [ "$1" = enabled ] ;;
show) echo "$2" ;;
esac
SH
	chmod 755 "$TW_TMP/bin/systemctl"
}
export TOKENWARDEN_TEST_SYSTEMD=1
fake_systemctl enabled "Thu 2026-11-05 02:07:12 UTC"
PATH=$TW_TMP/bin:$PATH run 0 doctor
line "ok   timer: tokenwarden-rotate.timer is enabled; next run Thu 2026-11-05 02:07:12 UTC"
PATH=$TW_TMP/bin:$PATH run 0 doctor --timer tw-nightly.timer
line "ok   timer: tw-nightly.timer is enabled; next run Thu 2026-11-05 02:07:12 UTC"
fake_systemctl disabled ""
PATH=$TW_TMP/bin:$PATH run 1 doctor
line "FAIL timer: tokenwarden-rotate.timer is disabled, so rotate never runs by itself; run: systemctl enable --now tokenwarden-rotate.timer"
checks "${all[@]}"
fake_systemctl enabled "n/a"
PATH=$TW_TMP/bin:$PATH run 1 doctor
line "FAIL timer: tokenwarden-rotate.timer is enabled but not started: no next run is scheduled; run: systemctl enable --now tokenwarden-rotate.timer"
export TOKENWARDEN_TEST_SYSTEMD=0
unchanged "the timer"

echo "== the credential: not found"
mv "$TW_TMP/creds/acme-admin" "$TW_TMP/acme-admin.away"
run 1 doctor --probe
line "FAIL credential: acme-admin: $TW_TMP/creds/acme-admin: cannot open: No such file or directory; add LoadCredential=acme-admin:/etc/tokenwarden/credentials/acme-admin (a file holding KEY:SECRET) to the service"
line "skip credential-accepted: not checked: no credential (see credential)"
checks "${all[@]}"
mv "$TW_TMP/acme-admin.away" "$TW_TMP/creds/acme-admin"
chmod 640 "$TW_TMP/creds/acme-admin"
run 1 doctor
line "FAIL credential: acme-admin: $TW_TMP/creds/acme-admin: permissions 0640 are too open (group or others can read it); run: chmod 600 $TW_TMP/creds/acme-admin"
checks "${all[@]}"
chmod 600 "$TW_TMP/creds/acme-admin"
unchanged "the credential"

echo "== the API: nothing answers"
# A port nothing listens on: bound, then closed.
dead=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
write_policy "http://127.0.0.1:$dead"
run 1 doctor --timeout 5
like "FAIL api: http://127.0.0.1:$dead: no answer: .*; check that this host reaches the API \(DNS, firewall, the policy's proxy:\) and that api: is right"
line "skip clock: skipped: the API did not answer"
line "skip credential-accepted: skipped: the API did not answer"
checks "${all[@]}"
write_policy
unchanged "the API"

# requests N WHAT: the simulator counted N API requests since its last reset.
requests() {
	local n
	n=$(sim_ctl GET /_sim/stats | jq .requests)
	[ "$n" = "$1" ] || fail "$2: the API got $n requests, expected $1"
}

echo "== the API failing every call: each check asks once, unless --retries says more"
# A diagnosis answers at once: the run's retries (4, backing off) would make
# an outage take half a minute a workspace, and hide a server that fails
# now and then.
sim_ctl POST /_sim/reset '{}' >/dev/null
sim_ctl POST /_sim/faults '{"error_rate": 1}' >/dev/null
run 1 doctor --probe
like "FAIL api: $SIM_URL: no answer: read the clock of workspace acme: the server answered 50[023] \(1 attempt\); try again later; check that this host reaches the API \(DNS, firewall, the policy's proxy:\) and that api: is right"
line "skip credential-accepted: skipped: the API did not answer"
requests 1 "doctor --probe, the API failing"
sim_ctl POST /_sim/reset '{}' >/dev/null
sim_ctl POST /_sim/faults '{"error_rate": 1}' >/dev/null
run 1 doctor --probe --retries 2
like "FAIL api: $SIM_URL: no answer: read the clock of workspace acme: the server answered 50[023] \(3 attempts\); .*"
requests 3 "doctor --probe --retries 2, the API failing"
sim_ctl POST /_sim/reset '{}' >/dev/null
unchanged "the API failing"

echo "== the clock: this host 45 days ahead of the server"
export TOKENWARDEN_NOW=2026-12-16T00:00Z
run 1 doctor --probe
like "FAIL clock: workspace acme: the server's clock says 2026-11-01T00:0[0-9]:[0-9.]+Z and this host's says 2026-12-16T00:00:00.000Z: 45d apart, this host ahead; .*; set this host's clock from NTP \(timedatectl set-ntp true\); a run creates and deletes nothing in this workspace meanwhile"
line "skip credential-accepted: not checked: the DELETE was not sent on a clock the server disagrees with (see clock)"
checks "${all[@]}"
export TOKENWARDEN_NOW=2026-11-01T00:00Z
unchanged "the clock"

echo "== consumers: a file's directory others may write, a program missing"
chmod 777 "$TW_TMP/got"
run 1 doctor
line "FAIL consumer: etl: deliver file $TW_TMP/got/etl.json: refused: $TW_TMP/got is writable by group or others (mode 0777); run: chmod go-w $TW_TMP/got"
checks "${all[@]}"
chmod 755 "$TW_TMP/got"
if [ "$(id -u)" != 0 ]; then
	chmod 555 "$TW_TMP/got"
	run 1 doctor
	line "FAIL consumer: etl: deliver file $TW_TMP/got/etl.json: $me cannot create a file in $TW_TMP/got (owner $me, mode 0555); run: chmod u+w $TW_TMP/got, or give it to $me"
	chmod 755 "$TW_TMP/got"
else
	echo "SKIP: a file consumer's directory this user cannot write in: root writes anywhere"
fi
write_policy "$SIM_URL" "$TW_TMP/hooks/missing"
run 1 doctor
line "FAIL consumer: etl: deliver exec $TW_TMP/hooks/missing: cannot run it (missing, or not executable); install the program, executable, where only root or the user tokenwarden runs as can change it or a directory above it"
checks "${all[@]}"
chmod 777 "$TW_TMP/hooks/ok"
write_policy
run 1 doctor
line "FAIL consumer: etl: deliver exec $TW_TMP/hooks/ok: refused: $TW_TMP/hooks/ok is writable by group or others (mode 0777); run: chmod go-w $TW_TMP/hooks/ok"
chmod 755 "$TW_TMP/hooks/ok"
unchanged "consumers"

echo "== usage: a bad option, no policy anywhere"
run 2 doctor --timer ""
run 2 doctor --no-such-option
if [ ! -e /etc/tokenwarden/policy.yaml ]; then
	(unset TOKENWARDEN_CONFIG; timeout 60 "$tw_bin" doctor >"$out" 2>"$err") && rc=0 || rc=$?
	[ "$rc" = 2 ] || fail "doctor with no policy: exit $rc, expected 2"
	expect "$err" "no policy at /etc/tokenwarden/policy.yaml; name one with --config FILE or \$TOKENWARDEN_CONFIG"
fi

if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
	echo "== as root: a store, its directory and a credential another user owns"
	chown nobody "$db"
	run 1 doctor
	line "FAIL store: $db: owned by nobody, not by root; its owner could rewrite the inventory and the history tokenwarden trusts; it belongs to nobody: run tokenwarden as nobody (sudo -u nobody tokenwarden ...), or have root hand it over to you: sudo chown root $db"
	checks "${all[@]}"
	chown root "$db"
	chown nobody "$state"
	run 1 doctor
	line "FAIL store-directory: $state is owned by nobody, not root; run: chown root $state"
	checks "${all[@]}"
	chown root "$state"
	chown nobody "$TW_TMP/creds/acme-admin"
	run 1 doctor
	like "FAIL credential: acme-admin: $TW_TMP/creds/acme-admin: owned by uid [0-9]+, not by this user or root; refusing a secret others control; .*"
	chown root "$TW_TMP/creds/acme-admin"
	unchanged "as root"
else
	echo "SKIP: the cases that chown to nobody (a store, its directory, a credential): not root"
fi

run 0 doctor
unchanged "the end"
if [ "$failures" -gt 0 ]; then
	echo "$failures failure(s)" >&2
	exit 1
fi
echo "PASS"
