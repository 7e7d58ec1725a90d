#!/usr/bin/env python3
"""End-to-end: the store read from other processes while the nightly run writes it.

Monitoring does not wait for the nightly run: `status --json` and any SQLite
reader may open the store while `rotate` commits to it.  Three workspaces,
each with its own credential (three workers, three connections writing the
one log), rotate 40 slots each: a first run makes every slot's token, a
second one, 25 days on, replaces them all.  During both runs, in other
processes and without pause:

  - a SQLite reader runs `PRAGMA quick_check`, which reads every page
    through the log, and counts the active rows and the events: the check
    must say ok, and neither count may go down;
  - `tokenwarden status --json` must exit 0, 3 or 4 with a JSON document,
    and never name a damaged or unreadable store.

Before each run starts, one more reader is stalled on its output (a 4 KiB
pipe nobody reads) with the store open: `status --json` before the first,
`token list --json` (which settles what a killed create left, taking the
lock only then) before the second.  A read must not keep the run lock, so `rotate`
must start all the same, not exit 5.

A commit SQLite shows to readers before all its pages are in the log (the
store's own VFS holds the log's writes, store/walbuf.c) reads as a damaged
page, a wrong count or a failed status.  After the runs, `audit verify`
must pass and the simulator must hold exactly the store's active tokens.

usage: test_readers.py MODESIM TOKENWARDEN
"""
import datetime
import fcntl
import json
import os
import select
import sqlite3
import subprocess
import sys
import tempfile
import termios
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from twsim import DAY, Sim, Tw, iso, iso_s  # noqa: E402

START = datetime.datetime(2026, 3, 2, 2, 0, tzinfo=datetime.timezone.utc)
WORKSPACES = ("north", "south", "west")
SLOTS = 40
PROBLEMS = []
LOCK = threading.Lock()
F_SETPIPE_SZ = 1031  # Linux's fcntl


def fail(text):
    with LOCK:
        if len(PROBLEMS) < 20:
            print("FAIL: " + text, file=sys.stderr, flush=True)
        PROBLEMS.append(text)


def write_policy(tmp, db, url):
    lines = [
        "version: 1",
        "store: { path: %s, public_key: %s/seal.pub }" % (db, tmp),
        "defaults: { lifetime: 30d, rotate_before: 20%%, grace: 1h, jitter: 0,"
        " deliver: [ { file: '%s/out/{workspace}-{slot}.json' } ] }" % tmp,
        "workspaces:",
    ]
    for ws in WORKSPACES:
        lines += ["  - name: %s" % ws, "    api: %s" % url, "    credential: %s-admin" % ws,
                  "    rate_limit: 100000/1s", "    tokens:"]
        lines += ["      - name: slot-%02d" % i for i in range(SLOTS)]
    path = os.path.join(tmp, "policy.yaml")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


class Readers:
    """The two readers, looping on threads until stop(); each keeps its own counts."""

    def __init__(self, tw, now):
        self.tw, self.now = tw, now
        self.done = threading.Event()
        self.checks = self.statuses = 0
        self.threads = [threading.Thread(target=self.sqlite_loop),
                        threading.Thread(target=self.status_loop)]
        for t in self.threads:
            t.start()

    def sqlite_loop(self):
        last = (0, 0)
        while not self.done.is_set():
            try:
                con = sqlite3.connect("file:%s?mode=ro" % self.tw.db, uri=True, timeout=30)
                con.execute("BEGIN")  # one snapshot for the three statements
                check = con.execute("PRAGMA quick_check").fetchall()
                active = con.execute(
                    "SELECT count(*) FROM tokens WHERE state = 'active'").fetchone()[0]
                events = con.execute("SELECT count(*) FROM events").fetchone()[0]
                con.close()
            except sqlite3.Error as e:
                fail("a reader's query failed during the run: %s" % e)
                continue
            self.checks += 1
            if check != [("ok",)]:
                fail("quick_check during the run: %s" % check[:3])
            if (active, events) < last or events < last[1]:
                fail("counts went down during the run: active %d, events %d after %d, %d"
                     % (active, events, last[0], last[1]))
            last = (max(active, last[0]), events)

    def status_loop(self):
        while not self.done.is_set():
            r = self.tw.run(["status", "--json"], now=self.now)
            self.statuses += 1
            if r.returncode not in (0, 3, 4):
                fail("status --json exited %d during the run: %s"
                     % (r.returncode, r.stderr.strip()[-300:]))
                continue
            if any(w in r.stderr.lower() for w in ("malformed", "damaged", "corrupt")):
                fail("status during the run: %s" % r.stderr.strip()[-300:])
            try:
                json.loads(r.stdout)
            except ValueError:
                fail("status --json printed no JSON document during the run")

    def stop(self):
        self.done.set()
        for t in self.threads:
            t.join()


class Stalled:
    """A read verb with its output on a 4 KiB pipe that nobody reads: stalled, store open."""

    def __init__(self, tw, now, args):
        self.args = args
        self.out, w = os.pipe()
        fcntl.fcntl(w, F_SETPIPE_SZ, 4096)
        env = dict(tw.env, TOKENWARDEN_NOW=iso_s(now))
        self.proc = subprocess.Popen([tw.bin] + args, env=env, stdout=w,
                                     stderr=subprocess.DEVNULL)
        os.close(w)
        deadline = time.monotonic() + 60
        while self.queued() < 4096 and time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            select.select([], [], [], 0.05)

    def queued(self):
        n = bytearray(4)
        fcntl.ioctl(self.out, termios.FIONREAD, n)
        return int.from_bytes(n, sys.byteorder)

    def stalled(self):
        return self.proc.poll() is None and self.queued() >= 4096

    def stop(self):
        os.close(self.out)  # status meets a closed pipe and ends
        self.proc.wait(timeout=60)


def night(sim, tw, now, want_rotated, stalled):
    sim.set_clock(now)
    reader = Stalled(tw, now, stalled)
    if not reader.stalled():
        fail("%s did not stall on its output (exit %s)" % (" ".join(stalled), reader.proc.poll()))
    readers = Readers(tw, now)
    r = tw.run(["rotate"], now=now, quiet=True)
    readers.stop()
    if not reader.stalled():
        fail("the stalled %s ended before the run did: nothing was shown" % " ".join(stalled))
    reader.stop()
    print("night %s: rotate exited %d; %d quick checks and %d status runs during it"
          % (iso(now), r.returncode, readers.checks, readers.statuses), flush=True)
    if r.returncode != 0:
        fail("rotate at %s exited %d: %s" % (iso(now), r.returncode, r.stderr.strip()[-500:]))
    if readers.checks < 3 or readers.statuses < 2:
        fail("too few reads during the run to say anything (%d checks, %d status runs)"
             % (readers.checks, readers.statuses))
    con = sqlite3.connect("file:%s?mode=ro" % tw.db, uri=True)
    rotated = con.execute("SELECT count(*) FROM events WHERE kind = 'token.active' AND at >= ?",
                          (int(now.timestamp() * 1000),)).fetchone()[0]
    con.close()
    if rotated != want_rotated:
        fail("night %s activated %d tokens, not %d" % (iso(now), rotated, want_rotated))


def main():
    modesim, tokenwarden = sys.argv[1], sys.argv[2]
    creds = {"%s-admin" % ws: "%s-key:%s-secret" % (ws, ws) for ws in WORKSPACES}
    with tempfile.TemporaryDirectory(prefix="tw-readers.") as tmp:
        os.makedirs(os.path.join(tmp, "out"), mode=0o700)
        sim = Sim(modesim, tmp, [(ws, ws + "-key", ws + "-secret") for ws in WORKSPACES], START)
        try:
            tw = Tw(tokenwarden, tmp, creds)
            tw.env["TOKENWARDEN_CONFIG"] = write_policy(tmp, tw.db, sim.url)
            total = SLOTS * len(WORKSPACES)
            night(sim, tw, START, total, ["status", "--json"])
            night(sim, tw, START + 25 * DAY, total, ["token", "list", "--json"])
            r = tw.run(["audit", "verify"], now=START + 25 * DAY)
            if r.returncode != 0:
                fail("audit verify after the runs exited %d: %s"
                     % (r.returncode, r.stderr.strip()[-300:]))
            con = sqlite3.connect("file:%s?mode=ro" % tw.db, uri=True)
            active = {t for (t,) in con.execute(
                "SELECT token FROM tokens WHERE state = 'active'")}
            con.close()
            on_server = {t["token"] for t in sim.tokens()}
            if len(active) != total or not active <= on_server:
                fail("%d active tokens in the store, %d of them on the server; want %d"
                     % (len(active), len(active & on_server), total))
        finally:
            sim.stop()
    if PROBLEMS:
        print("readers: %d problems" % len(PROBLEMS), file=sys.stderr)
        return 1
    print("readers: the store read whole from other processes through both runs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
