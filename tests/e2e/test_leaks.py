#!/usr/bin/env python3
"""End-to-end: no credential leaks from any verb or failure path (issue 12, the leak scan).

One store, one simulator, a webhook receiver on loopback and a policy of
three slots (a healthy one, one whose hook echoes its standard input and
fails, one whose hook can be held to read the running binary's /proc).
These run, each with its output kept:

  keygen, init, policy check, policy show (--json, --effective), plan --json,
  rotate (plain; --dry-run --run-hooks; --force under each fault below),
  token create (--show-secret --json; under a 5xx), token import
  --secret-stdin, token verify (good and bad --token-file, a line on stdin),
  token list/show (--json), secret reveal (--bearer --json, every sealed
  token), audit log/report/verify (--json), rekey (to a plain key, then to
  one with a passphrase read from a descriptor; reveal with it and with a
  wrong one), revoke --yes, token delete, daemon, doctor --probe;
  and the failures: a hook that echoes its input and exits 3, a 401 (a wrong
  admin secret), 5xx on the rotate's first call and on a create, a create
  whose answer is lost, a create that times out (--timeout 1 under latency:
  outcome unknown), a token that does not verify (Bearer refused), a verify
  of a wrong secret.

The read-only verbs run in each log format (text and plain through
$TOKENWARDEN_LOG_FORMAT, json through --log-format); the others take turns.
The secrets are the admin key and secret (and the wrong secret tried), the
key passphrase (and the wrong one tried), and every token's access key,
access secret and Bearer value, from the consumers' files, `token create
--show-secret` and `secret reveal`.
Each is searched for whole and as every piece of 8 characters (of a hex
secret inside a longer hex run, such as a digest, 12: see by_chance) in:

  - stdout and stderr of every command, except the one stream allowed to
    hold a secret: the stdout of `token create --show-secret` may hold THAT
    token's secrets and the stdout of `secret reveal` the revealed token's
    (both are searched for every other secret);
  - every webhook body received;
  - every text value of every table (events' details included), and the raw
    bytes of the database, its -wal and -shm, taken after every command;
  - every file under the test directory but the admin credential, the
    sealing secret keys and the simulator's own config; a consumer's file
    may hold only the token it was handed last (files the hooks write, such
    as their environment and arguments, are searched too);
  - /proc/PID/cmdline and /proc/PID/environ of tokenwarden while it waits:
    a rotate held by a hook that sleeps (and that hook's own), a rotate on
    a slow server, a create that times out, and the daemon.

A failure names the place and the secret's kind and owner, never its value.

usage: test_leaks.py MODESIM TOKENWARDEN   (TW_KEEP=1 keeps the temp dir)
"""
import hashlib
import http.server
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import twsim  # noqa: E402

NOW = twsim.parse("2026-11-01T02:00:00Z")
PIECE = 8  # pieces of 8: finding 3 masks 6, 8 keeps chance matches with hex ids away
LONG = 12  # a piece of a hex secret inside a longer hex run counts from 12 (see by_chance)
# A bearer is base64 of hex text laid out alike for every token: 16 of its characters
# carry the 48 bits 12 hex digits do.
LONG_BEARER = 16
HEX = frozenset("0123456789abcdefABCDEF")
B64 = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")
PROBLEMS = []
FORMATS = ("text", "plain", "json")


def fail(text):
    PROBLEMS.append(text)
    print("FAIL: " + text, file=sys.stderr, flush=True)


class Hooks(http.server.BaseHTTPRequestHandler):
    """Records each POST's body; answers 200."""
    received = []
    lock = threading.Lock()

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with self.lock:
            self.received.append(body.decode("utf-8", "replace"))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


class Secrets:
    """The known secrets: value -> (kind, owner).  Never printed."""

    def __init__(self):
        self.known = {}

    def add(self, value, kind, owner):
        if isinstance(value, str) and len(value) >= PIECE and value not in self.known:
            self.known[value] = (kind, owner)

    def add_token(self, obj, how):
        """A consumer document or a JSON answer holding a token's credentials."""
        if not isinstance(obj, dict):
            return
        tok = obj.get("token") or obj.get("id") or "?"
        for kind in ("access_key", "access_secret", "bearer"):
            self.add(obj.get(kind), kind, "token %s (%s)" % (tok, how))

    def of_token(self, tok):
        return {v for v, (k, o) in self.known.items() if o.startswith("token %s " % tok)}

    def grams(self):
        out = {}
        for value, label in self.known.items():
            for i in range(len(value) - PIECE + 1):
                out.setdefault(value[i:i + PIECE], set()).add(value)
        return out


def other_hex(c):
    """A hex digit that is not c."""
    return "0" if c.lower() != "0" else "1"


def by_chance(text, at, value, bearer=False):
    """Whether the piece of hex value at text[at:] is a chance match.

    The store and the audit log hold thousands of hex digests: some 8 of
    their characters match 8 of some random hex secret in about one run in
    twenty.  A piece of a hex secret counts when the stretch it shares with
    the secret stands on its own (no hex character on either side) or is
    LONG characters or more (a chance of 16^-12 per pair); inside a longer
    hex run it is chance.  A bearer, base64 of hex text, is judged alike in
    its own alphabet from LONG_BEARER: 8 of its characters carry 24 bits,
    and two tokens' bearers share such a piece now and then.  Secrets with
    other characters count at PIECE.
    """
    alphabet, long = (B64, LONG_BEARER) if bearer else (HEX, LONG)
    if not bearer and not HEX.issuperset(value):
        return False
    best = False
    start = 0
    while True:
        j = value.find(text[at:at + PIECE], start)
        if j < 0:
            return not best
        start = j + 1
        a, b = at, j
        while a > 0 and b > 0 and text[a - 1] == value[b - 1]:
            a, b = a - 1, b - 1
        e, f = at + PIECE, j + PIECE
        while e < len(text) and f < len(value) and text[e] == value[f]:
            e, f = e + 1, f + 1
        alone = (a == 0 or text[a - 1] not in alphabet) and (e == len(text) or
                                                             text[e] not in alphabet)
        best = best or alone or e - a >= long


class Leaks:
    """Everything to search, kept until every secret is known."""

    def __init__(self, tw, tmp, sec):
        self.tw, self.tmp, self.sec = tw, tmp, sec
        self.texts = []  # (where, text, values allowed there)
        self.seen = set()  # digests of database snapshots already kept
        self.turn = 0

    def keep(self, where, text, allowed=frozenset()):
        if text:
            self.texts.append((where, text, frozenset(allowed)))

    def snapshot(self, after):
        """The raw database files as they are now (the WAL is gone once checkpointed)."""
        for suffix in ("", "-wal", "-shm"):
            try:
                data = open(self.tw.db + suffix, "rb").read()
            except OSError:
                continue
            digest = hashlib.sha256(data).digest()
            if digest not in self.seen:
                self.seen.add(digest)
                self.keep("tw.db%s after %s" % (suffix, after), data.decode("latin-1"))

    def consumers(self):
        """Learns the tokens the file consumers hold now."""
        d = os.path.join(self.tmp, "consumers")
        for name in sorted(os.listdir(d)):
            held = twsim.read_consumer(os.path.join(d, name))
            self.sec.add_token(held, "consumer " + name)

    def run(self, label, args, want=(0,), fmt=None, stdin=None, env=None, allowed_of=None):
        """Runs a verb in a log format (default: each in turn); keeps its output."""
        if fmt is None:
            fmt = FORMATS[self.turn % 3]
            self.turn += 1
        e = {"TOKENWARDEN_LOG_FORMAT": fmt}
        e.update(env or {})
        r = self.tw.run(args, now=NOW, env=e, stdin=stdin, log_json=fmt == "json")
        if r.returncode not in want:
            fail("%s (%s): exit %d, expected %s: %s" % (
                label, fmt, r.returncode, want, r.stderr.strip()[-300:]))
        allowed = allowed_of(r.stdout) if allowed_of else frozenset()
        self.keep("stdout of %s (%s)" % (label, fmt), r.stdout, allowed)
        self.keep("stderr of %s (%s)" % (label, fmt), r.stderr)
        self.consumers()
        self.snapshot(label)
        return r

    def each_format(self, label, args, want=(0,)):
        for fmt in FORMATS:
            self.run(label, args, want, fmt=fmt)

    def proc(self, label, pid):
        """Keeps /proc/PID/cmdline and environ, and those of its children."""
        pids = [pid]
        try:
            with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
                pids += [int(p) for p in f.read().split()]
        except OSError:
            pass
        for p in pids:
            who = label if p == pid else "a child of " + label
            for part in ("cmdline", "environ"):
                try:
                    data = open("/proc/%d/%s" % (p, part), "rb").read()
                except OSError as err:
                    if p == pid:
                        fail("cannot read /proc/%s of %s: %s" % (part, label, err))
                    continue
                self.keep("/proc/PID/%s of %s" % (part, who),
                          data.replace(b"\0", b"\n").decode("latin-1"))
        return len(pids)

    def held(self, label, args, ready, fmt="json", env=None):
        """Starts a verb, reads its /proc once ready() holds, returns (proc, kids seen)."""
        e = dict(self.tw.env)
        e.update({"TOKENWARDEN_LOG_FORMAT": fmt, "TOKENWARDEN_NOW": twsim.iso_s(NOW)})
        e.update(env or {})
        pre = ["--log-format", "json"] if fmt == "json" else []
        p = subprocess.Popen([self.tw.bin] + pre + args, env=e, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
        for _ in range(200):
            if ready() or p.poll() is not None:
                break
            time.sleep(0.05)
        kids = 0
        if p.poll() is None:
            kids = self.proc(label, p.pid)
        else:
            fail("%s ended before its /proc could be read" % label)
        return p, kids

    def finish(self, label, p, want=(0,), release=None):
        if release:
            release()
        try:
            out, err = p.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
        if p.returncode not in want:
            fail("%s: exit %d, expected %s: %s" % (label, p.returncode, want,
                                                    err.strip()[-300:]))
        self.keep("stdout of " + label, out)
        self.keep("stderr of " + label, err)
        self.consumers()
        self.snapshot(label)

    def files(self, skip, consumers):
        """Every file under the test directory but those skipped; a consumer's file may
        hold its own token's credentials only."""
        for root, dirs, names in os.walk(self.tmp):
            for n in names:
                path = os.path.join(root, n)
                rel = os.path.relpath(path, self.tmp)
                if rel in skip or os.path.islink(path):
                    continue
                data = open(path, "rb").read().decode("latin-1")
                allowed = frozenset()
                if rel in consumers:
                    held = twsim.read_consumer(path) or {}
                    allowed = self.sec.of_token(held.get("token"))
                self.keep("file " + rel, data, allowed)

    def tables(self):
        con = twsim.connect_ro(self.tw.db)
        names = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for t in names:
            for row in con.execute('SELECT * FROM "%s"' % t):
                for v in row:
                    if isinstance(v, str):
                        self.keep("table " + t, v)
                    elif isinstance(v, bytes):
                        self.keep("table " + t, v.decode("latin-1"))
        con.close()

    def hits(self, text, allowed, grams):
        """The secrets text holds, whole or a piece, but those allowed: value -> how."""
        found = {}
        for value in self.sec.known:
            if value not in allowed and value in text:
                found[value] = "whole"
        for i in range(len(text) - PIECE + 1):
            vals = grams.get(text[i:i + PIECE])
            if vals:
                for v in vals - allowed:
                    if v not in found and not by_chance(
                            text, i, v, self.sec.known[v][0] == "bearer"):
                        found[v] = "a piece"
        return found

    def search(self):
        """Fails for each place holding a secret or a piece of one; returns places searched."""
        grams = self.sec.grams()
        # The search must find what is there: a consumer's file, and a piece of it.
        path = os.path.join(self.tmp, "consumers", "etl.json")
        piece = "<%s>" % (twsim.read_consumer(path) or {}).get("access_secret", "")[7:16]
        for text in (open(path).read(), piece):
            if not self.hits(text, frozenset(), grams):
                fail("the search finds nothing in a consumer's file or a piece of it")
        # ... a masked piece, and 12 inside a digest; but not 8 inside a digest.
        key = (twsim.read_consumer(path) or {}).get("access_key", "")
        digest = hashlib.sha256(key.encode()).hexdigest()
        # The digest's characters beside the piece differ from the key's beside it:
        # else, one run in 20,000, the shared stretch grows by chance to LONG and counts.
        digest = (digest[:19] + other_hex(key[2:3]) + other_hex(key[3 + PIECE:4 + PIECE]) +
                  digest[21:])
        for text, want, what in (('"%s…"' % key[:PIECE], True, "a masked piece"),
                                 (digest[:20] + key[3:3 + LONG] + digest[20:], True,
                                  "%d characters inside a digest" % LONG),
                                 (digest[:20] + key[3:3 + PIECE] + digest[20:], False,
                                  "%d characters inside a digest" % PIECE)):
            if bool(self.hits(text, frozenset(), grams)) != want:
                fail("the search %s %s" % ("misses" if want else "counts", what))
        for where, text, allowed in self.texts:
            found = self.hits(text, allowed, grams)
            for value, how in sorted(found.items(), key=lambda kv: self.sec.known[kv[0]]):
                kind, owner = self.sec.known[value]
                fail("%s holds %s of the %s of %s" % (where, how, kind, owner))
        return len(self.texts)


def write_policy(path, tmp, sim_url, port, key="seal.pub"):
    hook = tmp + "/hooks"
    with open(path, "w") as f:
        f.write("""version: 1
store: {{ path: {tmp}/tw.db, public_key: {tmp}/{key} }}
defaults: {{ lifetime: 30d, rotate_before: 20%, grace: 1d }}
schedule: {{ retries: 0, interval: 1h }}
enforce: {{ unmanaged: report }}
notify:
  - {{ webhook: 'http://127.0.0.1:{port}/all', events: [failure, stuck, violation, success] }}
workspaces:
  - name: acme
    api: {sim}
    credential: acme-admin
    rate_limit: 100000/1s
    tokens:
      - name: etl
        deliver: [ {{ file: {tmp}/consumers/etl.json }}, {{ exec: [{hook}/ok.sh] }} ]
      - name: echo
        deliver: [ {{ file: {tmp}/consumers/echo.json }}, {{ exec: [{hook}/echo.sh] }} ]
      - name: hold
        deliver: [ {{ file: {tmp}/consumers/hold.json }}, {{ exec: [{hook}/hold.sh] }} ]
""".format(tmp=tmp, key=key, port=port, sim=sim_url, hook=hook))
    os.chmod(path, 0o600)


def write_hooks(tmp):
    d = os.path.join(tmp, "hooks")
    os.makedirs(d, exist_ok=True)
    scripts = {
        # Keeps what a hook sees besides its input: environment and arguments.
        "ok.sh": 'cat >/dev/null\nenv > %s/out/ok.env\necho "$0 $*" > %s/out/ok.args\n'
                 'echo reloaded\n' % (tmp, tmp),
        # Prints its input (the new credentials) and fails: the log may keep it masked.
        "echo.sh": 'cat\necho "and again:" >&2\ncat %s/consumers/echo.json >&2\nexit 3\n' % tmp,
        # Waits while $tmp/hold exists, so that the test can read /proc meanwhile.
        "hold.sh": 'cat >/dev/null\nenv > %s/out/hold.env\nif [ -e %s/hold ]; then\n'
                   '  touch %s/holding\n  while [ -e %s/hold ]; do sleep 0.05; done\nfi\n'
                   % (tmp, tmp, tmp, tmp),
    }
    for name, body in scripts.items():
        with open(os.path.join(d, name), "w") as f:
            f.write("#!/bin/sh\n" + body)
        os.chmod(os.path.join(d, name), 0o700)
    os.makedirs(os.path.join(tmp, "out"), exist_ok=True)


def json_docs(text):
    """The JSON objects in text: the whole of it, or one per line."""
    try:
        o = json.loads(text)
        return o if isinstance(o, list) else [o]
    except ValueError:
        pass
    out = []
    for line in text.splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            pass
    return out


def main():
    modesim, binary = sys.argv[1], sys.argv[2]
    started = time.monotonic()
    os.umask(0o077)
    tmp = tempfile.mkdtemp(prefix="tw-leaks.")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hooks)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    sec = Secrets()
    admin = ("AK" + secrets.token_hex(12), "AS" + secrets.token_hex(16))
    wrong = "WS" + secrets.token_hex(16)
    sec.add(admin[0], "admin key", "acme-admin")
    sec.add(admin[1], "admin secret", "acme-admin")
    sec.add(wrong, "wrong admin secret", "acme-admin")
    passphrase, wrong_pass = "PP" + secrets.token_hex(12), "WP" + secrets.token_hex(12)
    sec.add(passphrase, "passphrase", "seal3.key")
    sec.add(wrong_pass, "wrong passphrase", "seal3.key")
    sim = None
    daemon = None
    try:
        sim = twsim.Sim(modesim, tmp, [("acme", admin[0], admin[1])], NOW)
        os.makedirs(os.path.join(tmp, "consumers"))
        write_hooks(tmp)
        tw = twsim.Tw(binary, tmp, {"acme-admin": "%s:%s" % admin})
        policy = os.path.join(tmp, "policy.yaml")
        write_policy(policy, tmp, sim.url, port)
        tw.env["TOKENWARDEN_CONFIG"] = policy
        lk = Leaks(tw, tmp, sec)
        seckey = tmp + "/seal.key"
        api = ["-w", "acme", "--api", sim.url, "--credential", "acme-admin"]

        # keygen and init made the store above, outside the scan: once more here.
        lk.run("keygen", ["keygen", "--public-key", tmp + "/out/spare.pub", "--secret-key",
                          tmp + "/out/spare.key", "--no-passphrase"])
        lk.run("init", ["init", "--db", tmp + "/out/spare.db", "--public-key",
                        tmp + "/out/spare.pub"])
        lk.each_format("policy check", ["policy", "check"])
        lk.each_format("policy show", ["policy", "show", "--json", "--effective"])
        lk.run("rotate --dry-run --run-hooks", ["rotate", "--dry-run", "--run-hooks"],
               want=(0, 1))
        # The first run: etl and hold rotate, echo's hook prints the new secret and fails.
        lk.run("rotate", ["rotate"], want=(1,), fmt="json")
        lk.run("rotate again", ["rotate"], want=(1,), fmt="plain")
        lk.run("rotate --force etl", ["rotate", "--force", "etl"], fmt="text")
        lk.each_format("plan --json", ["plan", "--json"], want=(0, 1, 3, 4))

        # A 401: the wrong admin secret, on a rotate and a create.
        tw.set_credential("acme-admin", "%s:%s" % (admin[0], wrong))
        lk.run("rotate --force etl, 401", ["rotate", "--force", "etl"], want=(1, 7))
        lk.run("token create, 401", ["token", "create"] + api + ["-n", "leak-401",
               "--expires-in", "10d"], want=(1, 7))
        tw.set_credential("acme-admin", "%s:%s" % admin)

        # 5xx: on the rotate's first request (it retries, then gives up), and on a create
        # (its outcome unknown).  Then a create whose answer is lost (outcome unknown).
        sim.faults({"error_rate": 1})
        lk.run("rotate --force etl, 5xx", ["rotate", "--force", "etl"], want=(1, 7))
        sim.faults({"error_rate": 1, "count": 1})
        lk.run("token create, 5xx", ["token", "create"] + api + ["-n", "leak-5xx",
               "--expires-in", "10d"], want=(6,))
        sim.faults({"lost_post_rate": 1})
        lk.run("rotate --force etl, lost answer", ["rotate", "--force", "etl"], want=(1, 6, 7))
        sim.faults({})

        # A create that times out, and a rotate slowed down: /proc read while each waits.
        sim.faults({"latency_ms": 3000, "count": 1})
        stats = sim.stats()["requests"]
        label = "token create --timeout 1, slow create"
        p, _ = lk.held(label, ["token", "create"] + api + [
                       "-n", "leak-slow", "--expires-in", "10d", "--timeout", "1"],
                       lambda: sim.stats()["requests"] > stats)
        lk.finish(label, p, want=(6,))
        sim.faults({"latency_ms": 1000})
        stats = sim.stats()["requests"]
        label = "rotate --force etl, slow server"
        p, _ = lk.held(label, ["rotate", "--force", "etl"],
                       lambda: sim.stats()["requests"] > stats)
        lk.finish(label, p)
        sim.faults({})

        # A new token that does not verify: its Bearer is refused.
        sim.faults({"reject_bearer_rate": 1})
        lk.run("rotate --force etl, verify refused", ["rotate", "--force", "etl"], want=(1, 7))
        sim.faults({})
        lk.run("rotate, recovery", ["rotate"], want=(0, 1))

        # A rotate held by a hook that sleeps: its /proc and the hook's.
        open(os.path.join(tmp, "hold"), "w").close()
        p, kids = lk.held("rotate --force hold, hook waiting", ["rotate", "--force", "hold"],
                          lambda: os.path.exists(os.path.join(tmp, "holding")))
        if kids < 2:
            fail("the held rotate showed no hook child in /proc")
        lk.finish("rotate --force hold, hook waiting", p,
                  release=lambda: os.unlink(os.path.join(tmp, "hold")))
        os.unlink(os.path.join(tmp, "holding"))

        # token create --show-secret: its stdout may hold that token's secrets only.
        def shown(out):
            allowed = set()
            for o in json_docs(out):
                sec.add_token(o, "token create --show-secret")
                allowed |= sec.of_token(o.get("token") or o.get("id"))
            if not allowed:
                fail("token create --show-secret --json printed no credentials")
            return allowed
        lk.run("token create --show-secret", ["token", "create"] + api + [
               "-n", "leak-shown", "--expires-in", "10d", "--show-secret", "--json"],
               fmt="json", allowed_of=shown)
        lk.run("token create", ["token", "create"] + api + ["-n", "leak-quiet",
               "--expires-in", "10d"])
        lk.run("token create --json", ["token", "create"] + api + ["-n", "leak-quiet-json",
               "--expires-in", "10d", "--json"])

        # A token made by hand, imported with its secret on stdin.
        made = sim.create_token("acme", "leak-import", NOW + 5 * twsim.DAY)
        sec.add_token(made, "made by hand")
        lk.run("token import --secret-stdin", [
            "token", "import", "-w", "acme", "--token", made["token"], "-n", "leak-import",
            "--created-at", twsim.iso(NOW), "--expires-at", twsim.iso(NOW + 5 * twsim.DAY),
            "--secret-stdin"], stdin="%s:%s\n" % (made["access_key"], made["access_secret"]))

        # token verify: a good token file, and a wrong secret.
        lk.each_format("token verify", ["token", "verify"] + api + [
                       "--token-file", tmp + "/consumers/etl.json"])
        held = twsim.read_consumer(tmp + "/consumers/hold.json")
        lk.run("token verify, stdin", ["token", "verify"] + api + [held["token"]],
               stdin="%s:%s:%s\n" % (held["token"], held["access_key"], held["access_secret"]))
        bad = dict(twsim.read_consumer(tmp + "/consumers/etl.json"))
        bad["access_secret"] = bad["access_secret"][::-1]
        sec.add(bad["access_secret"], "access_secret", "a wrong copy of etl's")
        bad.pop("bearer", None)
        badfile = os.path.join(tmp, "out", "bad-token.json")
        fd = os.open(badfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(bad, f)
        lk.run("token verify, wrong secret", ["token", "verify"] + api + [
               "--token-file", badfile], want=(1,))
        os.unlink(badfile)

        def reveal_all(when):
            """secret reveal of every sealed token: its stdout may hold that token's."""
            rows = [r for r in twsim.store_rows(tw.db) if r["token"] and
                    r["state"] not in ("deleted", "revoked", "failed", "unknown")]
            for r in rows:
                def revealed(out, tok=r["token"]):
                    for o in json_docs(out):
                        o.setdefault("token", tok)
                        sec.add_token(o, "secret reveal")
                    return sec.of_token(tok)
                lk.run("secret reveal %s (%s)" % (r["token"], when), [
                       "secret", "reveal", "-w", "acme", r["token"], "--secret-key", seckey,
                       "--bearer", "--json"], want=(0, 1), allowed_of=revealed)
        reveal_all("before rekey")

        # Reading verbs, each log format.
        lk.each_format("token list --json", ["token", "list", "--json"])
        lk.each_format("token list", ["token", "list"])
        lk.each_format("token list --all", ["token", "list", "--all"])
        for r in twsim.store_rows(tw.db):
            if r["token"]:
                lk.run("token show --json " + r["token"], ["token", "show", "-w", "acme",
                       "--json", r["token"]])
        lk.each_format("audit log --json", ["audit", "log", "--json"])
        lk.each_format("audit log", ["audit", "log"])
        lk.each_format("audit report --json", ["audit", "report", "--json"], want=(0, 4))
        lk.each_format("audit verify --json", ["audit", "verify", "--json"])
        # doctor sends the admin key only with --probe; neither form may show it.
        lk.each_format("doctor --probe", ["doctor", "--probe"], want=(0, 1))
        lk.each_format("doctor --probe --json", ["doctor", "--probe", "--json"], want=(0, 1))

        # rekey to a new key pair; reveal with the new key.
        lk.run("keygen 2", ["keygen", "--public-key", tmp + "/seal2.pub", "--secret-key",
                            tmp + "/seal2.key", "--no-passphrase"])
        lk.run("rekey", ["rekey", "--secret-key", seckey, "--new-public-key",
                         tmp + "/seal2.pub"])
        write_policy(policy, tmp, sim.url, port, key="seal2.pub")
        tw.env["TOKENWARDEN_PUBLIC_KEY"] = tmp + "/seal2.pub"
        seckey = tmp + "/seal2.key"
        reveal_all("after rekey")

        # revoke a slot's token and delete an unmanaged one.
        lk.run("revoke --yes etl", ["revoke", "--yes", "-w", "acme", "etl"], want=(0,))
        lk.run("token delete", ["token", "delete"] + api + [made["token"]])

        # The daemon: its /proc while it sleeps, then SIGTERM.
        t0 = time.monotonic()
        p, _ = lk.held("daemon", ["daemon"], lambda: time.monotonic() > t0 + 1.5,
                       fmt="plain")
        daemon = p
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
        lk.finish("daemon", p, want=(0,))
        daemon = None
        lk.run("rotate, last", ["rotate"], want=(0, 1))
        reveal_all("at the end")
        lk.each_format("audit verify", ["audit", "verify"])

        # A passphrase-protected key: keygen, rekey to it, reveal with the passphrase and
        # with a wrong one (the passphrases are secrets too).
        lk.run("keygen --passphrase-fd", ["keygen", "--public-key", tmp + "/seal3.pub",
               "--secret-key", tmp + "/seal3.key", "--passphrase-fd", "0"],
               stdin=passphrase + "\n")
        lk.run("rekey to a protected key", ["rekey", "--secret-key", seckey,
               "--new-public-key", tmp + "/seal3.pub"])
        write_policy(policy, tmp, sim.url, port, key="seal3.pub")
        tw.env["TOKENWARDEN_PUBLIC_KEY"] = tmp + "/seal3.pub"
        reveal = ["secret", "reveal", "-w", "acme", "etl", "--secret-key", tmp + "/seal3.key",
                  "--passphrase-fd", "0", "--bearer", "--json"]
        held = twsim.read_consumer(tmp + "/consumers/etl.json")
        lk.run("secret reveal --passphrase-fd", reveal, stdin=passphrase + "\n",
               allowed_of=lambda out: sec.of_token(held["token"]))
        lk.run("secret reveal, wrong passphrase", reveal, want=(1,),
               stdin=wrong_pass + "\n")

        with Hooks.lock:
            for i, body in enumerate(Hooks.received):
                lk.keep("webhook body %d" % (i + 1), body)
        if not Hooks.received:
            fail("no webhook was received")
        lk.tables()
        consumers = {os.path.join("consumers", n) for n in os.listdir(tmp + "/consumers")}
        lk.files({"creds/acme-admin", "seal.key", "seal2.key", "seal3.key", "sim.conf"}, consumers)
        for name in ("out/ok.env", "out/hold.env"):
            if not os.path.exists(os.path.join(tmp, name)):
                fail("no hook wrote " + name)
        # The failing hook's output reached the log (masked), so its path was taken.
        if not any(w.startswith("stderr of rotate") and "output of consumer" in t
                   for w, t, _ in lk.texts):
            fail("no rotate logged the output of the failing hook")
        # Every access key the server holds, whoever learnt it: a token made without
        # --show-secret has no other place the test could learn its key from.
        for t in sim.tokens():
            sec.add(t["access_key"], "access_key", "token %s (server)" % t["token"])
        n = lk.search()
        kinds = {}
        for kind, _ in sec.known.values():
            kinds[kind] = kinds.get(kind, 0) + 1
        print("%d places searched for %s in %.1f s" % (
            n, ", ".join("%d %s" % (v, k) for k, v in sorted(kinds.items())),
            time.monotonic() - started))
        if kinds.get("access_secret", 0) < 8:
            fail("only %d access secrets learnt: the test lost its reach" %
                 kinds.get("access_secret", 0))
    finally:
        if daemon is not None and daemon.poll() is None:
            daemon.kill()
            daemon.wait()
        server.shutdown()
        if sim is not None:
            sim.stop()
        if os.environ.get("TW_KEEP"):
            print("kept " + tmp, file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    if PROBLEMS:
        print("%d failure(s)" % len(PROBLEMS), file=sys.stderr)
        return 1
    print("no secret, nor a piece of one, anywhere it does not belong")
    return 0


if __name__ == "__main__":
    sys.exit(main())
