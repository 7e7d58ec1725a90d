#!/usr/bin/env bash
# The Debian package (issue 13), installed into a throwaway root: an overlay
# of this machine, entered with chroot, so nothing of the host changes.
#   - `./dev package` builds it and lintian finds no error or warning;
#   - installed, the user and the directories exist with their owners and
#     modes, the policy is a conffile, the units are not enabled, the binary
#     has no test hooks, and its compiled-in defaults find the installed
#     policy (`policy check` with no file);
#   - README.md's "Run it nightly on a server" is followed word for word:
#     its keygen line on a "workstation", then its six server lines, the
#     test typing the credential at the prompt and editing the policy as a
#     person would; the service is then started by hand as systemd would
#     start it (User=, UMask=, LoadCredential=, and NoNewPrivileges=, no
#     capabilities and LimitCORE=0 through setpriv), against the simulator, and
#     must rotate: the token is on the server, active in the store, and the
#     history verifies;
#   - a purge leaves the store, and the user that owns it;
#   - a build for another prefix and other directories installs files that
#     name them, and `cmake --install --prefix` moves the files and the
#     binary's path the units name.
# Without systemd as PID 1 the timer and the unit's sandbox cannot be tried.
# Needs root (chroot, mounts).
# usage: test_package.sh SOURCE_DIR BUILD_DIR MODESIM
set -euo pipefail
src=$1
pkgdir=$2/pkg
modesim=$3
if [ "$(id -u)" != 0 ] || ! unshare -m true 2>/dev/null; then
	echo "SKIP: needs root and mount namespaces"
	exit 77
fi
. "$src/tests/lib/sim.sh"
failures=0
fail() {
	echo "FAIL: $*" >&2
	failures=$((failures + 1))
}

echo "== ./dev package"
(cd "$src" && ./dev package "$pkgdir") >"$TW_TMP/package.out" 2>&1 ||
	tw_fail "./dev package failed: $(tail -20 "$TW_TMP/package.out")"
deb=$(tail -1 "$TW_TMP/package.out")
[ -f "$src/$deb" ] || [ -f "$deb" ] || tw_fail "no package: $(tail -5 "$TW_TMP/package.out")"
[ -f "$deb" ] || deb=$src/$deb
grep '^[EWI]:' "$TW_TMP/package.out" || echo "lintian: nothing to say"

# The README's two blocks of commands in its server section: the workstation's, the server's.
python3 - "$src/README.md" "$TW_TMP" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
section = text.split("## Run it nightly on a server", 1)[1].split("\n## ", 1)[0]
blocks = re.findall(r"```sh\n(.*?)```", section, re.S)
if len(blocks) != 2:
    sys.exit("README: expected 2 blocks of commands in the server section, found %d" % len(blocks))
open(sys.argv[2] + "/workstation.sh", "w").write(blocks[0])
open(sys.argv[2] + "/server.sh", "w").write(blocks[1])
PY
lines=$(grep -c . "$TW_TMP/server.sh")
[ "$lines" -le 6 ] || fail "the README's server section takes $lines commands, more than six"

sim_start "$modesim" --workspace acme:adminkey:adminsecret
# The workstation: the package's own binary, the README's keygen line, a passphrase typed twice.
mkdir -p "$TW_TMP/ws" "$TW_TMP/x"
dpkg-deb -x "$deb" "$TW_TMP/x"
# The binary loads libcurl when it first sends (core/libcurl.c): dpkg-shlibdeps cannot see
# it, so the package must name the package that holds it.
curlpkg=$(dpkg-query -S "$(readlink -f "$(ldconfig -p | awk '/libcurl\.so\.4 /{print $NF; exit}')")" | cut -d: -f1)
dpkg-deb -f "$deb" Depends | tr ',' '\n' | grep -q "^ *$curlpkg (" ||
	fail "the package does not depend on $curlpkg: $(dpkg-deb -f "$deb" Depends)"
(cd "$TW_TMP/ws" && {
	sleep 0.5
	echo "correct horse battery staple"
	sleep 0.5
	echo "correct horse battery staple"
} | PATH=$TW_TMP/x/usr/bin:$PATH script -qec "bash -e $TW_TMP/workstation.sh" /dev/null >"$TW_TMP/keygen.out") ||
	fail "the workstation's keygen failed: $(cat "$TW_TMP/keygen.out")"
[ -f "$TW_TMP/ws/seal.pub" ] && [ -f "$TW_TMP/ws/seal.key" ] || fail "keygen made no key pair"

# The person at the keyboard: what they type into the editor (the simulator for Mode,
# no consumer) and at the credential prompt.
cat >"$TW_TMP/editor" <<EDIT
#!/bin/sh
sed -i -e 's|^    credential: acme-admin|    api: $SIM_URL\n    credential: acme-admin|' \
	-e '/^        deliver:/,\$d' "\$1"
EDIT
chmod 755 "$TW_TMP/editor"
# No systemd runs here: systemctl enables units offline, and what it would start is
# written down; the test starts the service itself, as systemd would.
cat >"$TW_TMP/systemctl" <<'SHIM'
#!/bin/sh
now=0 verb=
for a in "$@"; do
	case $a in
	--now) now=1 ;;
	-*) ;;
	*) [ -n "$verb" ] || verb=$a ;;
	esac
done
case $verb in
enable) [ "$now" -eq 0 ] || echo "start $*" >>/root/server/started ;;
start) echo "start $*" >>/root/server/started ;;
*) echo "systemctl shim: $verb is not tried here" >&2; exit 1 ;;
esac
[ "$verb" = start ] || SYSTEMD_OFFLINE=1 /bin/systemctl enable "$(echo "$@" | tr ' ' '\n' | grep -v '^-' | tail -1)"
SHIM
chmod 755 "$TW_TMP/systemctl"

# The rest runs in a private mount namespace whose root is an overlay of this
# machine's: what the package and the README's lines change is thrown away.
cp "$deb" "$TW_TMP/server.deb"
cat >"$TW_TMP/inside.sh" <<'INSIDE'
set -euo pipefail
layers=$TW_TMP/layers root=$TW_TMP/root failures=0
fail() {
	echo "FAIL: $*" >&2
	failures=$((failures + 1))
}
mkdir -p "$layers" "$root"
mount -t tmpfs tmpfs "$layers"
mkdir "$layers/up" "$layers/work"
mount -t overlay overlay -o "lowerdir=/,upperdir=$layers/up,workdir=$layers/work" "$root"
mount --bind /proc "$root/proc"
mount --bind /dev "$root/dev"
mkdir -p "$root/root/server" "$root/usr/local/bin"
cp "$TW_TMP/server.deb" "$root/root/server/$DEB_NAME"
cp "$TW_TMP/ws/seal.pub" "$root/root/server/"
cp "$TW_TMP/editor" "$TW_TMP/systemctl" "$root/usr/local/bin/"
# in_root [STDIN] COMMAND: COMMAND in the throwaway root, as root in /root/server.
in_root() {
	local input=/dev/null
	[ $# -eq 1 ] || { input=$1; shift; }
	chroot "$root" /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin HOME=/root \
		DEBIAN_FRONTEND=noninteractive TOKENWARDEN_LOG_FORMAT=plain \
		bash -c "cd /root/server && $1" <"$input"
}

echo "== the README's first server line: the package"
head -1 "$TW_TMP/server.sh" >"$root/root/server/install.sh"
tail -n +2 "$TW_TMP/server.sh" >"$root/root/server/setup.sh"
in_root "bash -e install.sh" >"$TW_TMP/install.out" 2>&1 ||
	fail "installing the package failed: $(tail -20 "$TW_TMP/install.out")"
echo "== what it installed"
in_root "id -un tokenwarden" >/dev/null 2>&1 || fail "no user tokenwarden"
want="/etc/tokenwarden 750 root tokenwarden
/etc/tokenwarden/credentials 700 root root
/etc/tokenwarden/policy.yaml 640 root tokenwarden
/var/lib/tokenwarden 700 tokenwarden tokenwarden
/usr/bin/tokenwarden 755 root root
/usr/lib/systemd/system/tokenwarden-rotate.timer 644 root root
/usr/lib/sysusers.d/tokenwarden.conf 644 root root
/usr/lib/tmpfiles.d/tokenwarden.conf 644 root root
/usr/share/man/man1/tokenwarden.1.gz 644 root root
/usr/share/man/man5/tokenwarden-policy.5.gz 644 root root
/usr/share/bash-completion/completions/tokenwarden 644 root root
/usr/share/doc/tokenwarden/copyright 644 root root"
got=$(in_root "stat -c '%n %a %U %G' $(cut -d' ' -f1 <<<"$want" | tr '\n' ' ')" 2>&1) || true
[ "$got" = "$want" ] || fail "installed files differ: $(diff <(echo "$want") <(echo "$got") | grep '^[<>]' | tr '\n' ';')"
conffiles=$(in_root "dpkg-query -W -f='\${Conffiles}' tokenwarden")
grep -q '/etc/tokenwarden/policy.yaml' <<<"$conffiles" ||
	fail "the policy is not a conffile"
[ -z "$(ls "$root"/etc/systemd/system/*/tokenwarden* 2>/dev/null)" ] || fail "the package enabled a unit"
in_root "tokenwarden --version" >"$TW_TMP/version" 2>&1 || fail "tokenwarden --version failed"
grep -q '^tokenwarden 0\.' "$TW_TMP/version" || fail "--version says: $(cat "$TW_TMP/version")"
grep -qi 'test hooks' "$TW_TMP/version" && fail "the packaged binary was built with the test hooks"
# Its compiled-in default is the installed policy, which is valid as shipped.
in_root "tokenwarden policy check" >"$TW_TMP/check" 2>&1 || fail "policy check: $(cat "$TW_TMP/check")"
grep -q '^/etc/tokenwarden/policy.yaml: valid' "$TW_TMP/check" || fail "policy check says: $(cat "$TW_TMP/check")"
in_root "systemd-analyze verify --man=no /usr/lib/systemd/system/tokenwarden-rotate.service /usr/lib/systemd/system/tokenwarden.service /usr/lib/systemd/system/tokenwarden-rotate.timer" \
	>"$TW_TMP/verify" 2>&1 || fail "the installed units do not verify: $(cat "$TW_TMP/verify")"

echo "== the README's other server lines"
in_root "$TW_TMP/credential" "bash -e setup.sh" >"$TW_TMP/setup.out" 2>&1 ||
	fail "the README's server lines failed: $(tail -20 "$TW_TMP/setup.out")"
grep -q 'adminsecret' "$TW_TMP/setup.out" && fail "the credential's secret was echoed"
[ -L "$root/etc/systemd/system/timers.target.wants/tokenwarden-rotate.timer" ] ||
	fail "the timer is not enabled"
grep -q 'start tokenwarden-rotate.service' "$root/root/server/started" ||
	fail "the README's lines do not start the service"
cred=$(in_root "stat -c '%a %U' /etc/tokenwarden/credentials/acme-admin")
[ "$cred" = "600 root" ] || fail "the credential file is $cred"

echo "== the service, started as systemd starts it"
unit=$root/usr/lib/systemd/system/tokenwarden-rotate.service
user=$(sed -n 's/^User=//p' "$unit")
exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
creds=/run/credentials/tokenwarden-rotate.service
mkdir -p "$root$creds"
sed -n 's/^LoadCredential=//p' "$unit" | while IFS=: read -r name path; do
	cp "$root$path" "$root$creds/$name"
	chmod 0400 "$root$creds/$name"
done
chown -R "$(in_root "id -u $user"):$(in_root "id -g $user")" "$root$creds"
rc=0
# With what of the unit's sandbox setpriv can apply: NoNewPrivileges=, CapabilityBoundingSet=
# and AmbientCapabilities= empty, LimitCORE=0.  A test's clock variable left set is ignored:
# read, it would put the host 25 years behind the server, and the run would refuse to work.
in_root "umask 0077 && ulimit -c 0 && setpriv --reuid=$user --regid=$user --init-groups --no-new-privs --bounding-set=-all --inh-caps=-all env -i PATH=/usr/bin:/bin CREDENTIALS_DIRECTORY=$creds TOKENWARDEN_LOG_FORMAT=plain TOKENWARDEN_NOW=2001-02-03T04:05Z $exec_start" \
	>"$TW_TMP/run.out" 2>&1 || rc=$?
[ "$rc" -eq 0 ] || fail "the first run exited $rc: $(tail -20 "$TW_TMP/run.out")"
in_root "setpriv --reuid=$user --regid=$user --init-groups tokenwarden token list --json" \
	>"$TW_TMP/list.json" 2>"$TW_TMP/list.err" || fail "token list: $(cat "$TW_TMP/list.err")"
in_root "setpriv --reuid=$user --regid=$user --init-groups tokenwarden audit verify" \
	>"$TW_TMP/verify.out" 2>&1 || fail "audit verify: $(cat "$TW_TMP/verify.out")"
store=$(in_root "stat -c '%a %U' /var/lib/tokenwarden/tokenwarden.db")
[ "$store" = "600 tokenwarden" ] || fail "the store is $store"

echo "== purge keeps the store"
in_root "dpkg --purge tokenwarden" >"$TW_TMP/purge.out" 2>&1 || fail "purge: $(cat "$TW_TMP/purge.out")"
[ -f "$root/var/lib/tokenwarden/tokenwarden.db" ] || fail "purging the package removed the store"
in_root "id -un tokenwarden" >/dev/null 2>&1 || fail "purging removed the user that owns the store"
[ ! -e "$root/usr/bin/tokenwarden" ] || fail "purging left the binary"
exit "$failures"
INSIDE
printf 'adminkey:adminsecret\n' >"$TW_TMP/credential"
rc=0
TW_TMP=$TW_TMP DEB_NAME=$(basename "$deb") unshare -m --propagation private bash "$TW_TMP/inside.sh" || rc=$?
[ "$rc" -eq 0 ] || failures=$((failures + rc))

echo "== cmake --install elsewhere: the defaults, pages and units follow the paths"
alt=$2/pkg-alt
cmake -S "$src" -B "$alt" -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/opt/tw \
	-DTW_CONFDIR=/opt/tw/etc -DTW_STATEDIR=/srv/tw -DTW_UNITDIR= >/dev/null &&
	cmake --build "$alt" -j 2 >"$TW_TMP/alt.out" 2>&1 &&
	DESTDIR=$TW_TMP/alt cmake --install "$alt" >>"$TW_TMP/alt.out" 2>&1 ||
	fail "a build for /opt/tw failed: $(tail -20 "$TW_TMP/alt.out")"
a=$TW_TMP/alt
rc=0
env -u TOKENWARDEN_CONFIG "$a/opt/tw/bin/tokenwarden" policy check >"$TW_TMP/alt.check" 2>&1 || rc=$?
[ "$rc" -eq 2 ] && grep -q '^/opt/tw/etc/policy.yaml: ' "$TW_TMP/alt.check" ||
	fail "the /opt/tw binary's default policy is not /opt/tw/etc/policy.yaml: $(cat "$TW_TMP/alt.check")"
grep -q '/srv/tw/tokenwarden.db' <<<"$("$a/opt/tw/bin/tokenwarden" help token list)" ||
	fail "the /opt/tw binary's default store is not /srv/tw/tokenwarden.db"
grep -qx 'ExecStart=/opt/tw/bin/tokenwarden rotate --config /opt/tw/etc/policy.yaml' \
	"$a/opt/tw/lib/systemd/system/tokenwarden-rotate.service" || fail "the unit does not run /opt/tw's binary"
grep -qx 'ReadWritePaths=/srv/tw' "$a/opt/tw/lib/systemd/system/tokenwarden-rotate.service" ||
	fail "the unit cannot write /srv/tw"
# The cron example names this install's binary and policy.
grep -q 'exec /opt/tw/bin/tokenwarden --quiet rotate --config /opt/tw/etc/policy.yaml' \
	"$a/opt/tw/share/doc/tokenwarden/examples/cron/tokenwarden" ||
	fail "the cron example does not run /opt/tw's binary with /opt/tw/etc/policy.yaml"
grep -q '^CREDENTIALS_DIRECTORY=/opt/tw/etc/cron-credentials' \
	"$a/opt/tw/share/doc/tokenwarden/examples/cron/tokenwarden" ||
	fail "the cron example's credentials are not under /opt/tw/etc"
grep -q '^d /srv/tw 0700 tokenwarden tokenwarden' "$a/opt/tw/lib/tmpfiles.d/tokenwarden.conf" ||
	fail "tmpfiles.d does not make /srv/tw"
[ -f "$a/opt/tw/etc/policy.yaml" ] || fail "no policy at /opt/tw/etc/policy.yaml"
# An install over an edited policy (an upgrade built from source) keeps it.
echo "# edited by the operator" >>"$a/opt/tw/etc/policy.yaml"
DESTDIR=$TW_TMP/alt cmake --install "$alt" >"$TW_TMP/alt2.out" 2>&1 ||
	fail "a second cmake --install failed: $(tail -20 "$TW_TMP/alt2.out")"
grep -qx '# edited by the operator' "$a/opt/tw/etc/policy.yaml" ||
	fail "a second cmake --install replaced the edited policy"
grep -q 'Keeping: .*/opt/tw/etc/policy.yaml' "$TW_TMP/alt2.out" ||
	fail "a second cmake --install does not say it kept the policy"
zcat "$a/opt/tw/share/man/man5/tokenwarden-policy.5.gz" >"$TW_TMP/alt.5"
grep -q '/opt/tw/etc/policy' "$TW_TMP/alt.5" ||
	fail "tokenwarden-policy(5) does not name /opt/tw/etc"
# The examples under share/doc too: the units there are the ones installed.
grep -qx 'ExecStart=/opt/tw/bin/tokenwarden rotate --config /opt/tw/etc/policy.yaml' \
	"$a/opt/tw/share/doc/tokenwarden/examples/systemd/tokenwarden-rotate.service" ||
	fail "the unit under share/doc does not run /opt/tw's binary"
if grep -rIl '/etc/tokenwarden\|/var/lib/tokenwarden\|/usr/bin/tokenwarden' "$a" \
	--exclude=README.md >"$TW_TMP/alt.stale"; then
	fail "installed files still name the default paths: $(tr '\n' ' ' <"$TW_TMP/alt.stale")"
fi

echo "== cmake --install --prefix moves the files and the paths the units name"
m=$TW_TMP/moved
DESTDIR=$m cmake --install "$alt" --prefix /opt/moved >"$TW_TMP/moved.out" 2>&1 ||
	fail "cmake --install --prefix /opt/moved failed: $(tail -20 "$TW_TMP/moved.out")"
[ -x "$m/opt/moved/bin/tokenwarden" ] || fail "no binary at /opt/moved/bin"
for unit in tokenwarden-rotate.service tokenwarden.service; do
	grep -q '^ExecStart=/opt/moved/bin/tokenwarden ' "$m/opt/moved/lib/systemd/system/$unit" ||
		fail "$unit under /opt/moved does not run /opt/moved's binary"
done
[ -f "$m/opt/moved/lib/sysusers.d/tokenwarden.conf" ] && [ -f "$m/opt/moved/lib/tmpfiles.d/tokenwarden.conf" ] ||
	fail "sysusers.d and tmpfiles.d are not under /opt/moved"
# Only the configuration directory stays where the build put it: it is not under the prefix.
left=$(cd "$m" && find . -type f ! -path './opt/moved/*' ! -path './opt/tw/etc/*')
[ -z "$left" ] || fail "installed outside /opt/moved: $left"
if grep -rIl '/opt/tw/bin\|/opt/tw/lib\|/opt/tw/share' "$m" >"$TW_TMP/moved.stale"; then
	fail "installed files name the configured prefix: $(tr '\n' ' ' <"$TW_TMP/moved.stale")"
fi

echo "== from outside: the simulator holds the one token the store has as active"
python3 - "$TW_TMP/list.json" <<'PY' || fail "the first run's token is not what the store and the server say"
import json, os, sys, urllib.request
rows = json.load(open(sys.argv[1]))
active = [r for r in rows if r["state"] == "active"]
server = json.load(urllib.request.urlopen(os.environ["SIM_URL"] + "/_sim/tokens"))["tokens"]
if len(active) != 1 or [t["token"] for t in server] != [active[0]["token"]]:
    sys.exit("store %s, server %s" % (rows, server))
PY
if [ "$failures" -gt 0 ]; then
	echo "$failures failure(s)" >&2
	exit 1
fi
echo "the package installs, and the README's server section works as written"
