#!/usr/bin/env python3
"""End-to-end: `tokenwarden daemon` against the simulator, on the real clock.

The daemon must wake up by itself, so nothing here sets TOKENWARDEN_NOW or
the simulator's --now.  One daemon works one store through these checks:
  1. with $NOTIFY_SOCKET (a datagram socket in the temp dir) it sends READY=1;
  2. its first run, at start, makes the token of a slot that has none and
     delivers it to a 0600 file, the token active in the store;
  3. a slot whose token (made before the daemon started) is past its due time
     is rotated in that first run, its old token retiring with a 5 s grace;
     with no signal the daemon says it runs next at the grace's end, wakes
     then and deletes the old token from the server and the store;
  4. while it sleeps, `tokenwarden rotate` is not locked out;
  5. SIGHUP with a broken policy (and with one that group can write) keeps
     it alive and working with the old policy, "not reloaded", RELOADING=1
     then READY=1; SIGHUP with a valid policy that adds a slot reloads it and
     makes that slot's token at once, without waiting for its next nap to end;
  6. SIGTERM: STOPPING=1, "daemon stopping", exit 0.
Then, with a second store and an abstract ("@name") $NOTIFY_SOCKET:
  7. SIGTERM while a slot's exec hook runs: that slot is finished (its token
     active, nothing left in flight), the next slot is not started, exit 0;
  8. a broken policy, or a missing store, makes the daemon exit 2 at once;
  9. between runs it rewrites its metrics file at each look;
 10. a 429 asking for an hour holds the credential across its runs: the
     next runs send nothing into it.
The histories verify at the end.

usage: test_daemon.py MODESIM TOKENWARDEN
(TW_KEEP=1 keeps the temp dir; TW_VERBOSE=1 prints the daemons' output.)
"""
import ctypes
import datetime
import http.server
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request


TIME_LIMIT = 40.0  # the test gives up (failing) after this many seconds
HARD_LIMIT = TIME_LIMIT + 15.0  # the watchdog kills everything after this many
GRACE = 5  # seconds: the grace of every slot here

STARTED = time.monotonic()
DEADLINE = STARTED + TIME_LIMIT
PROBLEMS = []
CHILDREN = []  # every process started here that may outlive a step
_libc = ctypes.CDLL(None, use_errno=True)
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: no proxy


def fail(text):
    PROBLEMS.append(text)
    print("FAIL: " + text, file=sys.stderr, flush=True)


def left(limit):
    """Seconds to wait: limit, cut to what is left of the test's time."""
    return max(0.0, min(limit, DEADLINE - time.monotonic()))


def parse_time(s):
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


def die_with_parent():
    # Runs in the child between fork and exec: SIGTERM when this test dies,
    # so that a killed test leaves no daemon or simulator behind.
    _libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def wait_for(pred, limit, step=0.05):
    """Polls pred until it returns something true or limit seconds pass."""
    end = time.monotonic() + left(limit)
    while True:
        v = pred()
        if v or time.monotonic() >= end:
            return v
        time.sleep(step)


class Proc:
    """A daemon with its stdout and stderr collected line by line, with wall times."""

    def __init__(self, name, argv, env):
        self.name = name
        self.lines = {"out": [], "err": []}  # (wall time, line)
        self.cond = threading.Condition()
        self.proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     preexec_fn=die_with_parent)
        CHILDREN.append(self.proc)
        self.readers = [threading.Thread(target=self._read, args=(f, k), daemon=True)
                        for f, k in ((self.proc.stdout, "out"), (self.proc.stderr, "err"))]
        for t in self.readers:
            t.start()

    def _read(self, f, kind):
        for raw in iter(f.readline, b""):
            line = raw.decode(errors="replace").rstrip("\n")
            with self.cond:
                self.lines[kind].append((time.time(), line))
                self.cond.notify_all()
            if os.environ.get("TW_VERBOSE"):
                print("[%s %s %.1f] %s" % (self.name, kind, time.monotonic() - STARTED, line),
                      file=sys.stderr, flush=True)
        f.close()

    def mark(self, kind="err"):
        with self.cond:
            return len(self.lines[kind])

    def wait_line(self, pattern, limit, kind="err", start=0):
        """The first line at or after index start matching the regex: (index, wall time, match)."""
        rx = re.compile(pattern)
        end = time.monotonic() + left(limit)
        with self.cond:
            i = start
            while True:
                while i < len(self.lines[kind]):
                    t, line = self.lines[kind][i]
                    m = rx.search(line)
                    if m:
                        return i, t, m
                    i += 1
                rest = end - time.monotonic()
                if rest <= 0:
                    return None
                self.cond.wait(min(rest, 0.2))

    def text(self, kind="err"):
        with self.cond:
            return "\n".join(line for _, line in self.lines[kind])

    def tail(self, n=25):
        return ("--- %s stdout:\n%s\n--- %s stderr (last %d lines):\n%s" % (
            self.name, self.text("out"), self.name, n,
            "\n".join(self.text("err").splitlines()[-n:])))

    def signal(self, sig):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)

    def wait(self, limit):
        try:
            return self.proc.wait(timeout=max(left(limit), 0.1))
        except subprocess.TimeoutExpired:
            return None

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for t in self.readers:
            t.join(timeout=2)


class Notify:
    """A service manager's notification socket: collects the datagrams sent to it."""

    def __init__(self, address):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        if address.startswith("@"):
            self.sock.bind("\0" + address[1:])
        else:
            self.sock.bind(address)
        self.address = address
        self.msgs = []
        self.cond = threading.Condition()
        self.sock.settimeout(0.2)
        self.closed = False
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        while not self.closed:
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            with self.cond:
                self.msgs.append(data.decode(errors="replace"))
                self.cond.notify_all()

    def mark(self):
        with self.cond:
            return len(self.msgs)

    def wait(self, assignment, limit, start=0):
        """Index of the first message at or after start holding the line assignment."""
        end = time.monotonic() + left(limit)
        with self.cond:
            i = start
            while True:
                while i < len(self.msgs):
                    if assignment in self.msgs[i].split("\n"):
                        return i
                    i += 1
                rest = end - time.monotonic()
                if rest <= 0:
                    return None
                self.cond.wait(min(rest, 0.2))

    def close(self):
        self.closed = True
        self.thread.join(timeout=2)
        self.sock.close()


class Hooks:
    """A webhook receiver on loopback: keeps each POST's parsed body, answers 200."""

    def __init__(self):
        got, cond = [], threading.Condition()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()
                with cond:
                    got.append(json.loads(body))
                    cond.notify_all()

            def log_message(self, *args):
                pass

        self.got, self.cond = got, cond
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def failures(self):
        with self.cond:
            return [m for m in self.got if m.get("kind") == "failure"]

    def stop(self):
        self.server.shutdown()


class Sim:
    def __init__(self, binary, tmp):
        port_file = os.path.join(tmp, "sim.port")
        self.log = open(os.path.join(tmp, "sim.log"), "w")
        self.proc = subprocess.Popen(
            [binary, "--port", "0", "--port-file", port_file,
             "--workspace", "acme:acme-key:acme-secret",
             "--workspace", "beta:beta-key:beta-secret"],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log,
            preexec_fn=die_with_parent)
        CHILDREN.append(self.proc)
        if not wait_for(lambda: os.path.exists(port_file) and os.path.getsize(port_file) > 0,
                        30, 0.1):
            raise RuntimeError("modesim wrote no port file")
        self.url = "http://127.0.0.1:" + open(port_file).read().strip()
        if not wait_for(lambda: self._answers(), 5, 0.1):
            raise RuntimeError("modesim does not answer at " + self.url)

    def _answers(self):
        try:
            self.get("/_sim/clock")
            return True
        except OSError:
            return False

    def get(self, path):
        with _opener.open(self.url + path, timeout=10) as r:
            return json.loads(r.read())

    def post(self, path, body):
        req = urllib.request.Request(self.url + path, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        with _opener.open(req, timeout=10) as r:
            return json.loads(r.read())

    def tokens(self, workspace):
        return {t["token"]: t for t in self.get("/_sim/tokens")["tokens"]
                if t["workspace"] == workspace}

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            rc = self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.log.close()
        return rc


class Test:
    def __init__(self, modesim, tw, tmp):
        self.tw = tw
        self.tmp = tmp
        self.sim = Sim(modesim, tmp)
        self.out = os.path.join(tmp, "out")
        os.mkdir(self.out)
        creds = os.path.join(tmp, "creds")
        os.mkdir(creds)
        for ws in ("acme", "beta"):
            with open(os.path.join(creds, ws + "-admin"), "w") as f:
                f.write("%s-key:%s-secret\n" % (ws, ws))
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("TOKENWARDEN_") and k != "NOTIFY_SOCKET"}
        env.update({"CREDENTIALS_DIRECTORY": creds, "NO_PROXY": "127.0.0.1,localhost",
                    "no_proxy": "127.0.0.1,localhost", "TOKENWARDEN_LOG_FORMAT": "plain"})
        self.env = env
        self.pub = os.path.join(tmp, "seal.pub")
        self.tool("keygen", "--public-key", self.pub, "--secret-key",
                  os.path.join(tmp, "seal.key"), "--no-passphrase")

    def tool(self, *args, want=0, limit=30):
        """Runs tokenwarden with args; returns the CompletedProcess (None when it hung)."""
        try:
            r = subprocess.run([self.tw] + list(args), env=self.env, capture_output=True,
                               text=True, timeout=max(left(limit), 1))
        except subprocess.TimeoutExpired:
            fail("tokenwarden %s: still running after %d s" % (" ".join(args), limit))
            return None
        if want is not None and r.returncode != want:
            fail("tokenwarden %s: exit %d, expected %d\n%s%s" % (
                " ".join(args), r.returncode, want, r.stdout, r.stderr))
        return r

    def init_store(self, name):
        db = os.path.join(self.tmp, name)
        self.tool("init", "--db", db, "--public-key", self.pub)
        return db

    def rows(self, db):
        r = self.tool("token", "list", "--all", "--db", db, "--json")
        if r is None or r.returncode != 0:
            return []
        return json.loads(r.stdout)

    def row(self, db, token):
        for r in self.rows(db):
            if r["token"] == token:
                return r
        return None

    def write_policy(self, path, db, workspace, slots, mode=0o600, extra=""):
        """slots: (name, extra settings) pairs."""
        lines = [
            "version: 1",
            "store: { path: %s, public_key: %s }" % (db, self.pub),
            "schedule: { interval: 1h }",
            "defaults: { lifetime: 1d, rotate_before: 12h, grace: %ds, jitter: 0 }" % GRACE,
            "workspaces:",
            "  - name: %s" % workspace,
            "    api: %s" % self.sim.url,
            "    credential: %s-admin" % workspace,
            "    tokens:",
        ]
        for name, settings in slots:
            lines.append("      - { name: %s%s }" % (name, ", " + settings if settings else ""))
        tmp = path + ".new"
        with open(tmp, "w") as f:
            f.write("\n".join(lines) + "\n" + extra)
        os.chmod(tmp, mode)
        os.rename(tmp, path)

    def daemon(self, name, config, notify_socket, metrics=None, nap_ms=None, retry_ms=None):
        env = dict(self.env)
        env["NOTIFY_SOCKET"] = notify_socket
        if nap_ms is not None:
            env["TOKENWARDEN_TEST_NAP_MS"] = str(nap_ms)
        if retry_ms is not None:
            env["TOKENWARDEN_TEST_RETRY_MS"] = str(retry_ms)
        extra = ["--metrics-textfile", metrics] if metrics else []
        return Proc(name, [self.tw, "daemon", "--config", config] + extra, env)

    def expect_line(self, d, pattern, limit, what, kind="err", start=0):
        got = d.wait_line(pattern, limit, kind, start)
        if got is None:
            fail("%s: no line matching /%s/ on %s within %g s\n%s" % (
                what, pattern, "stdout" if kind == "out" else "stderr", limit, d.tail()))
        return got

    def expect_notify(self, n, assignment, limit, what, start=0):
        i = n.wait(assignment, limit, start)
        if i is None:
            fail("%s: %s not received on $NOTIFY_SOCKET within %g s; received %r" % (
                what, assignment, limit, n.msgs[start:]))
        return i

    # ------------------------------------------------------------------

    def main_daemon(self):
        db = self.init_store("tw.db")
        policy = os.path.join(self.tmp, "policy.yaml")
        fresh_file = os.path.join(self.out, "fresh.json")
        added_file = os.path.join(self.out, "added.json")
        slots = [("fresh", "deliver: [ { file: %s } ]" % fresh_file), ("old", "")]
        self.write_policy(policy, db, "acme", slots)
        self.tool("policy", "check", "--strict", policy)

        # The token of slot "old", made by hand before the daemon starts and expiring in
        # 2 h: with rotate_before 12h it is overdue.  token create --slot makes it the
        # slot's active token.
        r = self.tool("token", "create", "--config", policy, "--db", db, "--public-key",
                      self.pub, "--api", self.sim.url, "-w", "acme", "--credential",
                      "acme-admin", "-n", "old-by-hand", "--expires-in", "2h", "--slot", "old",
                      "--json")
        if r is None or r.returncode != 0:
            return
        old = json.loads(r.stdout)["token"]
        if (self.row(db, old) or {}).get("state") != "active":
            fail("the imported token is not active: %r" % self.row(db, old))
            return

        sock_path = os.path.join(self.tmp, "notify")
        if len(sock_path.encode()) >= 100:  # sun_path holds 108 bytes
            sock_path = "@tw-test-daemon-%d-notify" % os.getpid()
        n = Notify(sock_path)
        self.metrics = os.path.join(self.tmp, "tokenwarden.prom")
        d = self.daemon("daemon", policy, sock_path, self.metrics)
        try:
            self.first_daemon(d, n, db, policy, old, fresh_file, added_file, slots)
        finally:
            d.kill()
            n.close()
        v = self.tool("audit", "verify", "--db", db)
        if v is not None and v.returncode != 0:
            fail("the history of tw.db does not verify")

    def check_metrics(self, what):
        """The daemon's --metrics-textfile, rewritten after the run: 0644, the run's status."""
        # Written just after the run's summary line: give it a moment.
        wait_for(lambda: os.path.exists(self.metrics), 5)
        try:
            st = os.stat(self.metrics)
            text = open(self.metrics).read()
        except OSError as e:
            fail("%s: --metrics-textfile: %s" % (what, e))
            return
        if st.st_mode & 0o777 != 0o644:
            fail("%s: the metrics file has mode %o, expected 644" % (what, st.st_mode & 0o777))
        for want in ("tokenwarden_last_run_exit_status 0\n",
                     'tokenwarden_slot_failing{workspace="acme",slot="fresh"} 0\n',
                     'tokenwarden_slot_status{workspace="acme",slot="fresh",status="ok"} 1\n'):
            if want not in text:
                fail("%s: the metrics file lacks %r" % (what, want.strip()))

    def first_daemon(self, d, n, db, policy, old, fresh_file, added_file, slots):
        t0 = time.time()
        # 1. Ready, with the policy named in the log.
        self.expect_notify(n, "READY=1", 15, "start")
        self.expect_line(d, r"^tokenwarden: daemon started with the policy %s$" %
                         re.escape(policy), 5, "start")

        # 2 + 3a. The first run, at once: fresh gets its token, old is rotated.
        got = self.expect_line(d, r"^daemon: ", 15, "first run", kind="out")
        if got is None:
            return
        _, t_run1, _ = got
        line1 = d.lines["out"][got[0]][1]
        if line1 != "daemon: 2 rotated, 0 deleted, 0 failed, 0 unknown, 0 left":
            fail("first run: summary %r, expected 2 rotated and nothing left" % line1)
        if t_run1 - t0 > 10:
            fail("first run: it ended %.1f s after the start, not at once" % (t_run1 - t0))
        for pattern in (r"acme/fresh: created ", r"acme/fresh: delivered .* to 1 consumer",
                        r"acme/old: created ", r"acme/old: .* is active; the old token "
                        r"retires after its grace"):
            self.expect_line(d, pattern, 1, "first run")
        try:
            st = os.stat(fresh_file)
            held = json.load(open(fresh_file))
        except (OSError, ValueError) as e:
            fail("first run: the consumer file of slot fresh: %s" % e)
            held = None
        if held is not None:
            if st.st_mode & 0o777 != 0o600:
                fail("first run: %s has mode %o, expected 600" % (fresh_file,
                                                                   st.st_mode & 0o777))
            row = self.row(db, held.get("token"))
            if row is None or row["state"] != "active" or row["slot"] != "fresh":
                fail("first run: the delivered token %s is %r in the store, expected the "
                     "active token of fresh" % (held.get("token"), row))
            if held.get("token") not in self.sim.tokens("acme"):
                fail("first run: the delivered token is not on the server")
            secret = held.get("access_secret") or "no secret delivered"
            if secret in d.text("err") or secret in d.text("out"):
                fail("first run: an access secret reached the daemon's output")
        self.check_metrics("first run")
        row = self.row(db, old)
        if row is None or row["state"] != "retiring" or not row["retire_after"]:
            fail("first run: the old token of slot old is %r, expected retiring" % row)
            return
        retire_at = parse_time(row["retire_after"])
        active = [r for r in self.rows(db) if r["slot"] == "old" and r["state"] == "active"]
        if len(active) != 1:
            fail("first run: slot old has %d active tokens, expected 1" % len(active))

        # 3b. Asleep until the grace ends, then the old token is deleted with no signal.
        got = self.expect_line(d, r"^tokenwarden: next run at (\S+)$", 5, "after the first run",
                               start=self._after(d, r"acme/fresh: .* is active"))
        if got is not None:
            said = parse_time(got[2].group(1))
            if abs(said - retire_at) > 2:
                fail("after the first run: the daemon says 'next run at %s', expected the end "
                     "of the old token's grace, %s" % (got[2].group(1), row["retire_after"]))
        deadline = retire_at + 10 - time.time()  # the grace end, plus room for a slow build
        gone = wait_for(lambda: old not in self.sim.tokens("acme") and
                        (self.row(db, old) or {}).get("state") == "deleted", deadline, 0.2)
        if not gone:
            fail("grace end: %.0f s after the old token's grace ended it is %r in the store "
                 "and %s the server; the daemon did not wake up for it\n%s" % (
                     time.time() - retire_at, (self.row(db, old) or {}).get("state"),
                     "still on" if old in self.sim.tokens("acme") else "gone from", d.tail()))
        else:
            got = self.expect_line(d, r"acme/old: deleted %s" % old, 2, "grace end")
            if got is not None and got[1] < retire_at - 0.5:
                fail("grace end: the old token was deleted %.1f s before its grace ended" %
                     (retire_at - got[1]))
            got = self.expect_line(d, r"^daemon: ", 5, "grace end", kind="out", start=1)
            if got is not None and not d.lines["out"][got[0]][1].startswith(
                    "daemon: 0 rotated, 1 deleted, 0 failed, 0 unknown, 0 left"):
                fail("grace end: summary %r, expected 1 deleted" % d.lines["out"][got[0]][1])
            # Asleep again: it says when it runs next.
            self.expect_line(d, r"^tokenwarden: next run at ", 5, "after the deletion",
                             start=self._after(d, r"acme/old: deleted"))

        # 4. While it sleeps, `rotate` gets the run lock.
        if d.proc.poll() is not None:
            fail("the daemon exited (status %s) before the rotate check\n%s" % (
                d.proc.returncode, d.tail()))
            return
        r = self.tool("rotate", "--config", policy, want=None)
        if r is not None and r.returncode != 0:
            fail("rotate beside the sleeping daemon: exit %d%s, expected 0\n%s%s" % (
                r.returncode, " (locked out)" if r.returncode == 5 else "", r.stdout, r.stderr))

        # 5a. A broken policy: not reloaded, still alive, RELOADING=1 then READY=1.
        self.write_policy(policy, db, "acme", slots, extra="    lifetme: 30d\n")
        self.hup(d, n, policy, r"^tokenwarden: error: %s: not reloaded; still working with the "
                 r"policy loaded before$" % re.escape(policy), "broken policy")
        # 5a'. A policy naming another store that is not there (a typo): refused as
        # at the start, not taken for every later run to fail on.
        self.write_policy(policy, db + ".typo", "acme", slots)
        self.hup(d, n, policy, r"^tokenwarden: error: %s: not reloaded; still working with the "
                 r"policy loaded before$" % re.escape(policy), "another store, missing")
        if os.path.exists(db + ".typo"):
            fail("another store, missing: the reload created it")
        # 5b. A valid policy that group can write: refused the same way, the new slot not made.
        slots_added = slots + [("added", "deliver: [ { file: %s } ]" % added_file)]
        self.write_policy(policy, db, "acme", slots_added, mode=0o620)
        mark = d.mark()
        self.hup(d, n, policy, r"^tokenwarden: error: %s: not reloaded; still working with the "
                 r"policy loaded before$" % re.escape(policy), "group-writable policy")
        if d.wait_line(r"acme/added", 1.5, start=mark) is not None or os.path.exists(added_file):
            fail("group-writable policy: the daemon worked the slot it adds\n" + d.tail())
        # 5c. The valid policy: reloaded, the new slot's token made at once.
        self.write_policy(policy, db, "acme", slots_added)
        t_hup, out_mark = time.time(), d.mark("out")
        self.hup(d, n, policy, r"^tokenwarden: reloaded the policy from %s$" % re.escape(policy),
                 "valid policy")
        if wait_for(lambda: os.path.exists(added_file), 6, 0.1):
            took = time.time() - t_hup
            held = json.load(open(added_file))
            row = self.row(db, held["token"])
            if row is None or row["state"] != "active" or row["slot"] != "added":
                fail("valid policy: the new slot's token is %r in the store" % row)
            if took > 5:
                fail("valid policy: the new slot got its token %.1f s after SIGHUP" % took)
        else:
            fail("valid policy: slot 'added' got no token within 6 s of SIGHUP; it waited "
                 "for its nap to end instead of re-planning at once\n" + d.tail())

        # 5d. The store gone (moved away): no run can work, and the daemon looks
        # again every minute, so the failure is alerted when first met, not again
        # while it lasts, and as new once the store has opened in between.
        self.expect_line(d, r"^daemon: ", 10, "the run after the reload", kind="out",
                         start=out_mark)
        hooks = Hooks()
        try:
            self.store_gone(d, n, db, policy, slots_added, hooks)
        finally:
            hooks.stop()

        # 6. SIGTERM: STOPPING=1, "daemon stopping", exit 0.
        nm = n.mark()
        d.signal(signal.SIGTERM)
        rc = d.wait(10)
        if rc != 0:
            fail("SIGTERM: the daemon %s\n%s" % (
                "is still running after 10 s" if rc is None else "exited %d" % rc, d.tail()))
        self.expect_notify(n, "STOPPING=1", 2, "SIGTERM", nm)
        self.expect_line(d, r"^tokenwarden: daemon stopping", 2, "SIGTERM")

    def store_gone(self, d, n, db, policy, slots, hooks):
        extra = "notify:\n  - { webhook: 'http://127.0.0.1:%d/hook' }\n" % hooks.port
        self.write_policy(policy, db, "acme", slots, extra=extra)
        files = [db + sfx for sfx in ("", "-wal", "-shm")]

        def move(back):
            for f in files:
                src, dst = (f + ".away", f) if back else (f, f + ".away")
                if os.path.exists(src):
                    os.rename(src, dst)

        reloaded = r"^tokenwarden: reloaded the policy from %s$" % re.escape(policy)
        try:
            self.store_gone_twice(d, n, db, policy, hooks, move, reloaded)
        finally:
            move(True)  # whatever failed, the history is verified at the end

    def store_gone_twice(self, d, n, db, policy, hooks, move, reloaded):
        for gone in (1, 2):
            move(False)
            self.hup(d, n, policy, reloaded, "store gone (%d)" % gone)
            if not wait_for(lambda: len(hooks.failures()) >= gone, 5):
                fail("store gone (%d): no failure alert within 5 s\n%s" % (gone, d.tail()))
                return
            text = hooks.failures()[-1]["text"]
            if "the store %s cannot be opened" % db not in text or "still: " in text:
                fail("store gone (%d): the alert reads %r" % (gone, text))
            if gone == 1:
                # Met again: said in the log, not alerted.
                mark = d.mark()
                self.hup(d, n, policy, reloaded, "store still gone")
                self.expect_line(d, re.escape(db), 5, "store still gone", start=mark)
                time.sleep(0.5)
                if len(hooks.failures()) != 1:
                    fail("store still gone: alerted again: %r" % hooks.failures())
            move(True)
            mark = d.mark()
            self.hup(d, n, policy, reloaded, "store back (%d)" % gone)
            self.expect_line(d, r"^tokenwarden: the store %s opens again$" % re.escape(db), 5,
                             "store back (%d)" % gone, start=mark)

    @staticmethod
    def _after(d, pattern):
        got = d.wait_line(pattern, 0)
        return got[0] + 1 if got is not None else 0

    def hup(self, d, n, policy, pattern, what):
        nm, lm = n.mark(), d.mark()
        d.signal(signal.SIGHUP)
        i = self.expect_notify(n, "RELOADING=1", 5, what + ": SIGHUP", nm)
        if i is not None:
            self.expect_notify(n, "READY=1", 5, what + ": SIGHUP, after RELOADING=1", i + 1)
        self.expect_line(d, pattern, 5, what, start=lm)
        time.sleep(0.2)
        if d.proc.poll() is not None:
            fail("%s: the daemon exited (status %d) after SIGHUP\n%s" % (
                what, d.proc.returncode, d.tail()))

    # ------------------------------------------------------------------

    def stop_in_step(self):
        """7. SIGTERM while a slot's hook runs: that slot finishes, the next is not started."""
        db = self.init_store("tw2.db")
        marker = os.path.join(self.tmp, "hook-started")
        hook = os.path.join(self.tmp, "hook.sh")
        with open(hook, "w") as f:
            f.write("#!/bin/sh\ncat >/dev/null\n: >'%s'\nsleep 3\nexit 0\n" % marker)
        os.chmod(hook, 0o700)
        policy = os.path.join(self.tmp, "policy2.yaml")
        # Neither slot has a token, so both are due now with no deadline: the plan orders them
        # by workspace, then slot name, and one credential works them in that order.
        self.write_policy(policy, db, "beta", [("a-hooked", 'deliver: [ { exec: ["%s"] } ]' % hook),
                                               ("b-other", "")])
        address = "@tw-test-daemon-%d-%d" % (os.getpid(), int(time.time() * 1000) % 100000)
        n = Notify(address)
        d = self.daemon("daemon2", policy, address)
        try:
            self.expect_notify(n, "READY=1", 15, "stop in a step (abstract $NOTIFY_SOCKET)")
            if not wait_for(lambda: os.path.exists(marker), 15, 0.02):
                fail("stop in a step: the hook never ran\n" + d.tail())
                return
            nm = n.mark()
            t_term = time.time()
            d.signal(signal.SIGTERM)
            rc = d.wait(15)
            took = time.time() - t_term
            if rc != 0:
                fail("stop in a step: the daemon %s\n%s" % (
                    "is still running 15 s after SIGTERM" if rc is None else "exited %d" % rc,
                    d.tail()))
                return
            if took < 1.5:
                fail("stop in a step: the daemon exited %.1f s after SIGTERM, before the hook "
                     "(3 s) ended" % took)
            self.expect_notify(n, "STOPPING=1", 2, "stop in a step", nm)
            d.wait_line(r"^tokenwarden: daemon stopping", 2)  # flushes the readers
            err = d.text("err")
            created = re.findall(r"beta/([\w.-]+): created ", err)
            if created[:1] != ["a-hooked"]:
                fail("stop in a step: slots created in the order %r; a-hooked should be first "
                     "(the test relies on it)\n%s" % (created, d.tail()))
            for pattern in (r"beta/a-hooked: delivered .* to 1 consumer", r"beta/a-hooked: .* is "
                            r"active", r"stopped after the current step, as a signal asked",
                            r"^tokenwarden: daemon stopping"):
                if not re.search(pattern, err, re.M):
                    fail("stop in a step: no line matching /%s/\n%s" % (pattern, d.tail()))
            if "b-other" in err:
                fail("stop in a step: the daemon went on to b-other after SIGTERM\n" + d.tail())
            summary = d.text("out")
            if not re.fullmatch(r"daemon: 1 rotated, 0 deleted, 0 failed, 0 unknown, [1-9]\d* "
                                r"left", summary):
                fail("stop in a step: summary %r, expected 1 rotated and work left" % summary)
            rows = self.rows(db)
            hooked = [r for r in rows if r["slot"] == "a-hooked"]
            if [r["state"] for r in hooked] != ["active"]:
                fail("stop in a step: a-hooked's tokens in the store: %r, expected one active" %
                     [(r["token"], r["state"]) for r in hooked])
            if any(r["slot"] == "b-other" for r in rows):
                fail("stop in a step: b-other has a token in the store: %r" % rows)
            stray = [r for r in rows if r["state"] in ("pending", "created", "verified")]
            if stray:
                fail("stop in a step: left in flight: %r" % stray)
            on_server = set(self.sim.tokens("beta"))
            if on_server != {r["token"] for r in hooked}:
                fail("stop in a step: the server holds %r for beta, the store %r" % (
                    sorted(on_server), [r["token"] for r in hooked]))
        finally:
            d.kill()
            n.close()
        v = self.tool("audit", "verify", "--db", db)
        if v is not None and v.returncode != 0:
            fail("the history of tw2.db does not verify")

    def refused_at_start(self):
        """8. A broken policy, or a store that is not there: exit 2 at once."""
        bad = os.path.join(self.tmp, "bad.yaml")
        self.write_policy(bad, os.path.join(self.tmp, "tw.db"), "acme", [("x", "")],
                          extra="    lifetme: 30d\n")
        nostore = os.path.join(self.tmp, "nostore.yaml")
        self.write_policy(nostore, os.path.join(self.tmp, "missing.db"), "acme", [("x", "")])
        for what, policy, pattern in (
                ("broken policy", bad, r"unknown key 'lifetme'"),
                ("missing store", nostore, r"missing\.db")):
            t = time.monotonic()
            r = self.tool("daemon", "--config", policy, want=None, limit=10)
            if r is None:
                continue
            took = time.monotonic() - t
            if r.returncode != 2:
                fail("daemon with a %s: exit %d, expected 2\n%s%s" % (
                    what, r.returncode, r.stdout, r.stderr))
            elif took > 5:
                fail("daemon with a %s: exit 2 only after %.1f s" % (what, took))
            if not re.search(pattern, r.stderr):
                fail("daemon with a %s: the error does not say /%s/: %s" % (
                    what, pattern, r.stderr))
            if "daemon started" in r.stderr:
                fail("daemon with a %s: it said it started" % what)
        if os.path.exists(os.path.join(self.tmp, "missing.db")):
            fail("daemon with a missing store created it")


    def idle_metrics(self):
        """9. Between runs the daemon rewrites --metrics-textfile at each look (every
        minute; half a second here), so the file's timestamp says it is alive however
        far away its next run is: the shipped TokenwardenNoSuccessfulRun rule reads it."""
        db = self.init_store("idle.db")
        policy = os.path.join(self.tmp, "idle.yaml")
        self.write_policy(policy, db, "acme", [("idle", "")])
        metrics = os.path.join(self.tmp, "idle.prom")
        n = Notify("@tw-test-daemon-%d-idle" % os.getpid())
        d = self.daemon("idle", policy, "@tw-test-daemon-%d-idle" % os.getpid(), metrics,
                        nap_ms=500)

        def stamp():
            try:
                text = open(metrics).read()
            except OSError:
                return None
            m = re.search(r"^tokenwarden_metrics_timestamp_seconds (\S+)$", text, re.M)
            return float(m.group(1)) if m else None
        try:
            if self.expect_line(d, r"^daemon: ", 15, "idle: the first run", kind="out") is None:
                return
            self.expect_line(d, r"^tokenwarden: next run at ", 5, "idle: after the run")
            wait_for(lambda: stamp() is not None, 5)
            first = stamp()
            if first is None:
                fail("idle: no metrics timestamp after the run")
                return
            if not wait_for(lambda: (stamp() or 0) >= first + 1, 5):
                fail("idle: the metrics file was not rewritten between runs (timestamp %s)" %
                     first)
            if "tokenwarden_last_run_exit_status 0\n" not in open(metrics).read():
                fail("idle: the metrics rewritten between runs lost the last run's status")
        finally:
            d.kill()
            n.close()

    def throttled(self):
        """10. A 429 whose Retry-After is longer than the client waits holds the
        credential across the daemon's runs, not one run: while every slot due
        is held, the daemon starts no run (one every minute, every 300 ms here,
        would each send nothing, record a failure and find the slot stuck); it
        says it runs next when the hold ends, through a reload too."""
        db = self.init_store("held.db")
        policy = os.path.join(self.tmp, "held.yaml")
        self.write_policy(policy, db, "beta", [("held", "")])
        self.sim.post("/_sim/faults", {"burst_429": 1000, "retry_after": 3600})
        before = self.sim.get("/_sim/stats")["by_status"].get("429", 0)
        address = "@tw-test-daemon-%d-held" % os.getpid()
        n = Notify(address)
        d = self.daemon("held", policy, address, nap_ms=100, retry_ms=300)
        try:
            got = self.expect_line(d, r"^daemon: ", 10, "throttled: the first run", kind="out")
            if got is None:
                return
            ran = time.time()
            # (The daemon says when it runs next only after a run: nothing is due at start.)
            got = self.expect_line(d, r"^tokenwarden: next run at (\S+)$", 5,
                                   "throttled: after the first run")
            if got is not None and parse_time(got[2].group(1)) < ran + 3500:
                fail("throttled: the daemon says 'next run at %s', not when the hour's "
                     "Retry-After ends\n%s" % (got[2].group(1), d.tail()))
            time.sleep(2)  # six of its 300 ms retry gaps
            d.signal(signal.SIGHUP)
            self.expect_line(d, r"^tokenwarden: reloaded the policy", 5, "throttled: reload")
            time.sleep(2)
            runs = len(re.findall(r"^daemon: ", d.text("out"), re.M))
            drew = self.sim.get("/_sim/stats")["by_status"].get("429", 0) - before
            if runs != 1 or drew != 1:
                fail("throttled: %d runs in 4 s of an hour's Retry-After sent %d requests, "
                     "expected 1 run and 1 request\n%s" % (runs, drew, d.tail()))
        finally:
            d.kill()
            n.close()
            self.sim.post("/_sim/faults", {})


def watchdog(tmp):
    print("FAIL: test_daemon.py still running after %d s; killing it" % HARD_LIMIT,
          file=sys.stderr, flush=True)
    for p in CHILDREN:
        try:
            p.kill()
        except OSError:
            pass
    if not os.environ.get("TW_KEEP"):
        shutil.rmtree(tmp, ignore_errors=True)
    os._exit(1)


def main():
    if len(sys.argv) != 3:
        print(__doc__.strip().splitlines()[-2], file=sys.stderr)
        return 2
    modesim, tw = sys.argv[1], sys.argv[2]
    os.umask(0o077)
    # Killed by a runner's timeout: clean up all the same.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    tmp = tempfile.mkdtemp(prefix="tw-daemon.")
    dog = threading.Timer(HARD_LIMIT, watchdog, (tmp,))
    dog.daemon = True
    dog.start()
    t = None
    try:
        t = Test(modesim, tw, tmp)
        for part in (t.main_daemon, t.stop_in_step, t.refused_at_start, t.idle_metrics,
                     t.throttled):
            t0 = time.monotonic()
            part()
            if os.environ.get("TW_VERBOSE"):
                print("%s: %.1f s" % (part.__name__, time.monotonic() - t0), file=sys.stderr)
        if time.monotonic() > DEADLINE:
            fail("the test took more than %d s" % TIME_LIMIT)
    except Exception as e:  # a broken precondition: report it as a failure, still clean up
        fail("%s: %s" % (type(e).__name__, e))
    finally:
        for p in CHILDREN:
            if p.poll() is None and (t is None or p is not t.sim.proc):
                p.kill()
                p.wait()
        if t is not None and t.sim.stop() != 0:
            fail("modesim exited with an error; the end of its log:\n" +
                 open(os.path.join(tmp, "sim.log")).read()[-3000:])
        dog.cancel()
        if os.environ.get("TW_KEEP"):
            print("kept " + tmp, file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print("daemon: %s in %.1f s" % ("FAILED, %d problems" % len(PROBLEMS) if PROBLEMS else "ok",
                                    time.monotonic() - STARTED))
    return 1 if PROBLEMS else 0


if __name__ == "__main__":
    sys.exit(main())
