#!/usr/bin/env python3
"""End-to-end: what a failing hook prints never carries a new token's credentials on (issue 12).

A hook that echoes its standard input, cut at every length from one byte to
the whole document, then fails: one slot per cut, all rotated by one run.
A consumer's output may go to the log only, with every piece of 6 or more
characters of the access key, the access secret and the bearer value
blotted out; the store (its tables, and the raw bytes of the database, its
WAL and shared memory) and the webhook bodies get none of it.  Each is
searched for every piece of 6 or more characters of every slot's key,
secret and bearer.  A failure names the slot, the cut and where, never the
secret.

usage: test_hook_output.py MODESIM TOKENWARDEN
"""
import http.server
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

NOW = "2026-11-01T02:00Z"
MIN = 6  # the shortest piece that must not be left
LONG = 12  # a piece of a hex value inside a longer hex run counts from here (by_chance)
HEX = frozenset("0123456789abcdefABCDEF")
PROBLEMS = []
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: no proxy


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


def start_sim(modesim, tmp):
    port_file = os.path.join(tmp, "port")
    log = open(os.path.join(tmp, "sim.log"), "w")
    sim = subprocess.Popen([modesim, "--port", "0", "--port-file", port_file, "--workspace",
                            "acme:adminkey:adminsecret", "--rate-limit", "100000/1", "--now", NOW],
                           stdout=log, stderr=log)
    for _ in range(300):
        if os.path.exists(port_file) and os.path.getsize(port_file) > 0:
            break
        time.sleep(0.1)
    return sim, "http://127.0.0.1:" + open(port_file).read().strip()


def write_policy(path, db, tmp, sim_url, port, slots):
    """A policy whose slots (name, hook script) each have one exec consumer."""
    lines = ["version: 1",
             "store: { path: %s, public_key: %s/seal.pub }" % (db, tmp),
             "defaults: { lifetime: 30d, rotate_before: 20%, grace: 1d }",
             "schedule: { retries: 0 }",  # one attempt a slot: one output each
             "notify:",
             "  - { webhook: 'http://127.0.0.1:%d/all',"
             " events: [failure, stuck, violation, success] }" % port,
             "workspaces:",
             "  - name: acme",
             "    api: " + sim_url,
             "    credential: acme-admin",
             "    rate_limit: 100000/1s",
             "    tokens:"]
    for name, script in slots:
        lines.append("      - { name: %s, deliver: [ { exec: [/bin/sh, -c, %s] } ] }"
                     % (name, json.dumps(script)))
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def run(env, tw, *args):
    return subprocess.run([tw] + list(args), env=env, capture_output=True, text=True)


def pieces(secrets):
    """Every piece of MIN characters of each (slot, what, value): piece -> [(slot, what, value)]."""
    out = {}
    for slot, what, value in secrets:
        for i in range(len(value) - MIN + 1):
            out.setdefault(value[i:i + MIN], []).append((slot, what, value))
    return out


HITS = {}  # pieces found so far, by where: the first few of each are told


def shape(text, i, n):
    """Where a hit sits, without a character of it or of anything like it: its line
    with every letter and digit as 'x' and the hit as '#', cut to 120 characters
    around it, and the length of the run of letters and digits that holds it (a hit
    inside a longer hex string, such as a token id or a hash, is likely chance)."""
    start = text.rfind("\n", 0, i) + 1
    end = text.find("\n", i + n)
    end = len(text) if end < 0 else end
    a, b = i, i + n
    while a > start and text[a - 1].isalnum():
        a -= 1
    while b < end and text[b].isalnum():
        b += 1
    line = "".join("#" if i <= k < i + n else "x" if c.isalnum() else c
                   for k, c in enumerate(text[start:end], start))
    at = i - start
    return "run of %d letters and digits; line %r" % (
        b - a, line[max(0, at - 60):at + n + 60])


def value_of(held, slot, what):
    return next(v for s, w, v in held if s == slot and w == what)


def by_chance(text, i, n, value):
    """Whether n characters of hex value at text[i:] are a chance match: inside a longer
    run of hex (a token id, a digest) and shorter than LONG.  The log holds a hundred
    token ids, cut anywhere: 6 of their characters match 6 of some slot's random hex
    key or secret in about one run in ten.  A piece the product failed to blot out
    stands alone (a quote, a blank or the cut on either side) and counts from MIN."""
    if not HEX.issuperset(value) or n >= LONG:
        return False
    return (i > 0 and text[i - 1] in HEX) or (i + n < len(text) and text[i + n] in HEX)


def hits(text, grams):
    """Each stretch of text that holds a piece not there by chance: (at, length, slot, what)."""
    i = 0
    while i <= len(text) - MIN:
        held = grams.get(text[i:i + MIN])
        if held is None:
            i += 1
            continue
        # The longest piece there, of whichever value holds it (bearers share pieces).
        n, slot, what = 0, None, None
        for s, w, value in held:
            k = MIN
            while i + k < len(text) and text[i:i + k + 1] in value:
                k += 1
            if k > n:
                n, slot, what = k, s, w
        if by_chance(text, i, n, value_of(held, slot, what)):
            i += 1
            continue
        yield i, n, slot, what
        i += n


def search(where, text, grams, cuts):
    """Fails for each stretch of text that holds a piece; names slot, cut and length only."""
    for i, n, slot, what in hits(text, grams):
        HITS[where] = HITS.get(where, 0) + 1
        if HITS[where] <= 5:
            fail("%s holds %d characters of slot %s's %s (hook output cut at %d); around it: %s"
                 % (where, n, slot, what, cuts[slot], shape(text, i, n)))


def store_texts(db):
    """Every text value of every table, then the raw bytes of the database files."""
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
    tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    out = []
    for t in tables:
        for row in con.execute('SELECT * FROM "%s"' % t):
            out += [("table %s" % t, v) for v in row if isinstance(v, str)]
    con.close()
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(db + suffix):
            out.append(("file tw.db" + suffix, open(db + suffix, "rb").read().decode("latin-1")))
    return out


def main():
    modesim, tw = sys.argv[1], sys.argv[2]
    os.umask(0o077)
    tmp = tempfile.mkdtemp(prefix="tw-hook-output.")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hooks)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    sim = None
    try:
        sim, sim_url = start_sim(modesim, tmp)
        os.mkdir(os.path.join(tmp, "creds"))
        os.mkdir(os.path.join(tmp, "got"))
        with open(os.path.join(tmp, "creds", "acme-admin"), "w") as f:
            f.write("adminkey:adminsecret\n")
        env = {k: v for k, v in os.environ.items() if not k.startswith("TOKENWARDEN_")}
        env.update(TOKENWARDEN_LOG_FORMAT="plain", TOKENWARDEN_NOW=NOW,
                   CREDENTIALS_DIRECTORY=os.path.join(tmp, "creds"))
        run(env, tw, "keygen", "--public-key", tmp + "/seal.pub", "--secret-key",
            tmp + "/seal.key", "--no-passphrase")
        got = os.path.join(tmp, "got")

        # How long the document is: a slot whose name is as long as the others' takes one.
        probe, db = os.path.join(tmp, "probe.db"), os.path.join(tmp, "tw.db")
        run(env, tw, "init", "--db", probe, "--public-key", tmp + "/seal.pub")
        write_policy(os.path.join(tmp, "probe.yaml"), probe, tmp, sim_url, port,
                     [("c000", "cat > %s/{slot}.json" % got)])
        r = run(env, tw, "rotate", "--config", os.path.join(tmp, "probe.yaml"))
        if r.returncode != 0:
            fail("the probe run exited %d:\n%s" % (r.returncode, r.stderr))
            return 1
        length = os.path.getsize(os.path.join(got, "c000.json"))
        with Hooks.lock:
            Hooks.received[:] = []

        # One slot per cut: each hook keeps what it got, prints the first `cut` bytes, fails.
        cuts = {"c%03d" % n: n for n in range(1, length + 1)}
        run(env, tw, "init", "--db", db, "--public-key", tmp + "/seal.pub")
        write_policy(os.path.join(tmp, "policy.yaml"), db, tmp, sim_url, port,
                     [(s, "cat > %s/{slot}.json; head -c %d %s/{slot}.json; exit 4"
                       % (got, n, got)) for s, n in cuts.items()])
        r = run(env, tw, "rotate", "--config", os.path.join(tmp, "policy.yaml"))
        if r.returncode != 1 or "0 rotated, 0 deleted, %d failed" % length not in r.stdout:
            fail("rotate exited %d, expected 1 with %d failed:\n%s" % (
                r.returncode, length, r.stdout))

        secrets, public = [], set()
        for s in cuts:
            held = json.load(open(os.path.join(got, s + ".json")))
            if os.path.getsize(os.path.join(got, s + ".json")) != length:
                fail("slot %s was handed a document of another length" % s)
            for what in ("access_key", "access_secret", "bearer"):
                secrets.append((s, what, held[what]))
            public.add(held["token"])
        grams = pieces(secrets)
        # The search finds a piece standing alone, and 12 inside a longer hex run, but lets
        # 6 inside one be (a cut token id may share them with a secret by chance).
        hslot, _, hexed = next(t for t in secrets if t[1] == "access_secret")
        for text, want in (('"%s"' % hexed[3:3 + MIN], 1),
                           ("a0%sb1" % hexed[3:3 + LONG], 1),
                           ("a0%sb1" % hexed[3:3 + MIN], 0)):
            # Its hits alone: a window beside the piece may hold 6 of another value by
            # chance (a CI run met one), which is not what this checks.
            mine = [h for h in hits(text, grams) if h[2:] == (hslot, "access_secret")]
            if len(mine) != want:
                fail("the search %s a piece in %r" % ("misses" if want else "counts",
                                                       "x" * len(text)))

        # Hex ids and hashes are not secret, and may share 6 hex digits with one by chance.
        con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
        public |= {t for (t,) in con.execute("SELECT token FROM tokens WHERE token IS NOT NULL")}
        details = "\n".join(d for (d,) in con.execute("SELECT details FROM events"))
        public |= set(re.findall(r'"key_fingerprint": ?"([0-9a-f]+)"', details))
        # Each token event's digest of its row (store/inventory.h): a hash, 64 hex digits.
        public |= set(re.findall(r'"digest": ?"([0-9a-f]{64})"', details))
        con.close()
        public |= set(re.findall(r"history head ([0-9a-f]+)", r.stderr))

        def cut_id(m):
            """A token id a hook's cut ends inside: its first characters, public as it is."""
            part = m.group(2)
            if any(t.startswith(part) for t in public):
                part = "#" * len(part)
            return m.group(1) + part

        def scrub(text):
            for p in public:
                text = text.replace(p, "#" * len(p))
            # Else 6 of them may match 6 of a secret by chance (a CI run under ASan met one).
            return re.sub(r'("token": ")([0-9A-Za-z]+)(?![0-9A-Za-z])', cut_id, text)

        # A cut id is blotted; a piece of a secret in its place is not.
        some_id = held["token"]
        if some_id[:MIN] in scrub('{"token": "%s' % some_id[:MIN]):
            fail("the search counts a token id's first characters")
        mine = [h for h in hits(scrub('{"token": "%s' % hexed[3:3 + MIN]), grams)
                if h[2:] == (hslot, "access_secret")]
        if len(mine) != 1:
            fail("the search misses a piece of a secret where a token id would be")

        # The log keeps what the hooks said, blotted; the failure says where to find it.
        log = r.stdout + r.stderr
        search("the log", scrub(log), grams, cuts)
        if "output of consumer 1 of 1: {\"workspace\": \"acme\"" not in log:
            fail("the log does not keep the hooks' output")
        if "deliver exec /bin/sh: exit status 4; its output is in the log" not in log:
            fail("the failures do not say the output is in the log")

        with Hooks.lock:
            bodies = list(Hooks.received)
        if len(bodies) < length:
            fail("%d webhook bodies for %d failed slots" % (len(bodies), length))
        for body in bodies:
            search("a webhook body", scrub(body), grams, cuts)
            if "\"workspace\": \"acme\"" in body or "\"access_" in body:
                fail("a webhook body carries hook output")

        for where, text in store_texts(db):
            search(where, scrub(text), grams, cuts)
        con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
        errors = [e for (e,) in con.execute("SELECT last_error FROM slot_state")]
        details = [d for (d,) in con.execute("SELECT details FROM events")]
        con.close()
        if len(errors) != length or not all(
                e.endswith("deliver exec /bin/sh: exit status 4; its output is in the log")
                for e in errors):
            fail("slot_state.last_error does not end with the exit status alone")
        if any("\"access_" in d or "\\\"workspace\\\"" in d for d in details):
            fail("an event carries hook output")
        for where, n in HITS.items():
            if n > 5:
                fail("%s: %d more such pieces" % (where, n - 5))
    finally:
        server.shutdown()
        if sim is not None:
            sim.terminate()
            sim.wait(timeout=30)
        if os.environ.get("TW_KEEP"):
            print("kept " + tmp, file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    if PROBLEMS:
        print("%d failure(s)" % len(PROBLEMS), file=sys.stderr)
        return 1
    print("no piece of a credential in the store, the log or a webhook, at any cut")
    return 0


if __name__ == "__main__":
    sys.exit(main())
