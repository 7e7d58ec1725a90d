#!/usr/bin/env python3
"""End-to-end: a year of nightly `tokenwarden rotate` runs against the simulator.

50 slots in two workspaces (two credentials) with mixed lifetimes, rules,
windows and consumers; the simulated clock moves a day between runs.  After
every run:
  - every slot's consumer holds a token that is active in the store, on the
    server, and unexpired until after the next run;
  - no replaced token outlives its grace by more than one run;
  - every token the server holds is known to the store, and one the store
    lost track of (unknown) expires when the store says it does.
At the end the history verifies.  With --faults the simulator fails requests
(5xx, dropped connections, lost POST answers, bursts of 429) and the same
guarantees must hold, with the requests counted so that no slot is retried
in a tight loop; new tokens are also refused now and then on their first
use (reject_bearer_rate), so replacements fail verification.

usage: test_year.py MODESIM TOKENWARDEN [--faults]
"""
import datetime
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request


DAY = datetime.timedelta(days=1)
START = datetime.datetime(2026, 1, 1, 2, 0, tzinfo=datetime.timezone.utc)
SLOTS_PER_WORKSPACE = 25


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%MZ")


def parse(s):
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))


class Sim:
    def __init__(self, binary, tmp):
        port_file = os.path.join(tmp, "port")
        self.log = open(os.path.join(tmp, "sim.log"), "w")
        self.proc = subprocess.Popen(
            [binary, "--port", "0", "--port-file", port_file,
             "--workspace", "acme:acme-key:acme-secret",
             "--workspace", "beta:beta-key:beta-secret", "--now", iso(START)],
            stdout=self.log, stderr=self.log)
        for _ in range(300):
            if os.path.exists(port_file) and os.path.getsize(port_file) > 0:
                break
            time.sleep(0.1)
        self.url = "http://127.0.0.1:" + open(port_file).read().strip()
        for _ in range(50):
            try:
                self.get("/_sim/clock")
                break
            except OSError:
                time.sleep(0.1)

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read())

    def get(self, path):
        return self.call("GET", path)

    def stop(self):
        self.proc.terminate()
        rc = self.proc.wait(timeout=30)
        self.log.close()
        return rc


def policy(tmp, db, sim_url, faults):
    """Five kinds of slot, five of each per workspace."""
    kinds = [
        # lifetime, rotate_before, grace, extra settings
        ("7d", "30%", "12h", ""),
        ("14d", "4d", "1d", "jitter: 6h"),
        ("30d", "20%", "1d", "window: { days: mon-fri, hours: '01:00-05:00' }"),
        ("30d", "25%", "2d", "window: { hours: '00:00-06:00', timezone: Europe/Berlin }"),
        ("90d", "10d", "2d", "deliver: [ { file: '%s/{workspace}-{slot}.json' }, "
         "{ exec: [/bin/sh, -c, 'cat > %s/hook-{workspace}-{slot}.json'] } ]"
         % (tmp, tmp)),
    ]
    if faults:
        # Room for a few failed nights in a row: every rotate_before is 4 days or more.
        kinds[0] = ("14d", "30%", "12h", "")
    lines = [
        "version: 1",
        "store: { path: %s, public_key: %s/seal.pub }" % (db, tmp),
        "defaults: { deliver: [ { file: '%s/{workspace}-{slot}.json' } ] }" % tmp,
        "enforce: { max_lifetime: 120d, unmanaged: report, expired: { delete_after: 1d } }",
        "schedule: { interval: 1d, capacity_days: 14 }",
        "workspaces:",
    ]
    for ws in ("acme", "beta"):
        lines += ["  - name: %s" % ws, "    api: %s" % sim_url,
                  "    credential: %s-admin" % ws, "    rate_limit: 100000/1s", "    tokens:"]
        for i in range(SLOTS_PER_WORKSPACE):
            life, rb, grace, extra = kinds[i % len(kinds)]
            lines.append("      - { name: s%02d, lifetime: %s, rotate_before: '%s', grace: %s%s }"
                         % (i, life, rb, grace, ", " + extra if extra else ""))
    path = os.path.join(tmp, "policy.yaml")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def check(db, tmp, sim, now, problems):
    con = sqlite3.connect(db)
    rows = con.execute(
        "SELECT w.name, s.name, t.token, t.name, t.state, t.expires_at, t.retire_after "
        "FROM tokens t JOIN workspaces w ON w.id = t.workspace_id "
        "LEFT JOIN slots s ON s.id = t.slot_id").fetchall()
    con.close()
    by_token = {(r[0], r[2]): r for r in rows if r[2] is not None}
    server = {(t["workspace"], t["token"]): t for t in sim.get("/_sim/tokens")["tokens"]}
    next_run = now + DAY
    for ws in ("acme", "beta"):
        for i in range(SLOTS_PER_WORKSPACE):
            slot = "s%02d" % i
            path = os.path.join(tmp, "%s-%s.json" % (ws, slot))
            try:
                held = json.load(open(path))
            except OSError:
                problems.append("%s %s/%s: nothing delivered" % (iso(now), ws, slot))
                continue
            row = by_token.get((ws, held["token"]))
            if row is None or row[4] != "active":
                problems.append("%s %s/%s: the consumer holds %s, which is %s" % (
                    iso(now), ws, slot, held["token"], row[4] if row else "not in the store"))
            if (ws, held["token"]) not in server:
                problems.append("%s %s/%s: the consumer's token is not on the server" %
                                (iso(now), ws, slot))
            if parse(held["expires_at"]) <= next_run:
                problems.append("%s %s/%s: the consumer's token expires at %s, before the "
                                "next run" % (iso(now), ws, slot, held["expires_at"]))
    for r in rows:
        if r[4] == "retiring" and r[6] and now.timestamp() * 1000 - r[6] > DAY.total_seconds() * 1000:
            problems.append("%s %s/%s: %s retiring more than a run past its grace" %
                            (iso(now), r[0], r[1], r[2]))
    unknown = {(r[0], r[3]): r for r in rows if r[4] == "unknown"}
    for (ws, token), t in server.items():
        row = by_token.get((ws, token))
        if row is not None:
            if row[4] not in ("active", "retiring", "expired") and not t["expired"]:
                problems.append("%s: the server holds %s/%s (%s), which the store has as %s"
                                % (iso(now), ws, token, t["name"], row[4]))
            continue
        # A create whose answer was lost: the store knows its name and expiry, not its id.
        row = unknown.get((ws, t["name"]))
        if row is None:
            problems.append("%s: the server holds %s/%s (%s), unknown to the store" %
                            (iso(now), ws, token, t["name"]))
        elif abs(parse(t["expires_at"]).timestamp() * 1000 - row[5]) > 60000:
            problems.append("%s: lost token %s expires at %s, not when the store says" %
                            (iso(now), t["name"], t["expires_at"]))


def reported_unknown(db, now, log, problems):
    """Every unknown token not yet expired is named in the run's log, even with --quiet."""
    con = sqlite3.connect(db)
    # Not one that expires within the run's first minute: the run's clock starts at `now`
    # and runs on, so a token made at 02:00:00.2 for 14d has expired by the time a run at
    # 02:00 fourteen days later reads the inventory, and rightly goes unnamed.
    rows = con.execute("SELECT name FROM tokens WHERE state = 'unknown' AND expires_at > ?",
                       (int(now.timestamp() * 1000) + 60000,)).fetchall()
    con.close()
    for (name,) in rows:
        # Named by the run that lost it ("create of NAME lost its answer") and every later one.
        if "token '%s' may exist until" % name not in log and \
                "create of %s lost its answer" % name not in log:
            problems.append("%s: the run did not report the unknown token %s" % (iso(now), name))


def main():
    modesim, tw = sys.argv[1], sys.argv[2]
    faults = "--faults" in sys.argv[3:]
    os.umask(0o077)
    tmp = tempfile.mkdtemp(prefix="tw-year.")
    sim = None
    started = time.monotonic()
    try:
        sim = Sim(modesim, tmp)
        sim.call("POST", "/_sim/ratelimit", {"limit": 100000, "window": 1})
        db = os.path.join(tmp, "tw.db")
        creds = os.path.join(tmp, "creds")
        os.mkdir(creds)
        for ws in ("acme", "beta"):
            with open(os.path.join(creds, ws + "-admin"), "w") as f:
                f.write("%s-key:%s-secret\n" % (ws, ws))
        env = {k: v for k, v in os.environ.items() if not k.startswith("TOKENWARDEN_")}
        env["TOKENWARDEN_LOG_FORMAT"] = "plain"  # whole lines are read
        env["CREDENTIALS_DIRECTORY"] = creds
        subprocess.run([tw, "keygen", "--public-key", tmp + "/seal.pub", "--secret-key",
                        tmp + "/seal.key", "--no-passphrase"], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        subprocess.run([tw, "init", "--db", db, "--public-key", tmp + "/seal.pub"], env=env,
                       check=True, stdout=subprocess.DEVNULL)
        env["TOKENWARDEN_CONFIG"] = policy(tmp, db, sim.url, faults)
        problems, statuses, unknown_seen = [], {}, 0
        for day in range(365):
            now = START + day * DAY
            sim.call("POST", "/_sim/clock", {"now": iso(now)})
            # Faults from the second night: the year starts with every slot's token made.
            if faults and day > 0:
                f = {"error_rate": 0.03, "drop_rate": 0.02, "lost_post_rate": 0.03,
                     "reject_bearer_rate": 0.02}
                if day % 30 == 7:
                    f.update({"burst_429": 3, "retry_after": 1})
                sim.call("POST", "/_sim/faults", f)
            env["TOKENWARDEN_NOW"] = iso(now)
            r = subprocess.run([tw, "--quiet", "rotate"], env=env, capture_output=True,
                               text=True)
            statuses[r.returncode] = statuses.get(r.returncode, 0) + 1
            unknown_seen += r.stderr.count("may exist until")
            reported_unknown(db, now, r.stderr, problems)
            if r.returncode not in ((0, 1) if faults else (0,)):
                problems.append("%s: rotate exited %d: %s" % (iso(now), r.returncode,
                                                              r.stderr.strip()[-500:]))
            if faults and day > 0:
                sim.call("POST", "/_sim/faults", {})
            check(db, tmp, sim, now, problems)
            if len(problems) > 20:
                break
        stats = sim.get("/_sim/stats")
        v = subprocess.run([tw, "audit", "verify", "--db", db], env=env, capture_output=True,
                           text=True)
        if v.returncode != 0:
            problems.append("the history does not verify: " + v.stdout + v.stderr)
        con = sqlite3.connect(db)
        rotations = con.execute("SELECT count(*) FROM tokens WHERE origin = 'created'"
                                ).fetchone()[0]
        deletes = con.execute("SELECT count(*) FROM tokens WHERE state = 'deleted'"
                              ).fetchone()[0]
        lost = con.execute("SELECT count(*) FROM tokens WHERE state = 'unknown'").fetchone()[0]
        con.close()
        if faults and lost == 0:
            problems.append("no create lost its answer: the faults did not reach unknown tokens")
        # A rotation is a POST, a verify GET and later a DELETE; retries of
        # failed requests are bounded per request, so the total is too.
        bound = 3 * (rotations * 3 + deletes) + 365 * 5
        if stats["requests"] > bound:
            problems.append("%d requests for %d creates and %d deletes: a retry loop?" % (
                stats["requests"], rotations, deletes))
        print("year%s: 365 runs in %.1f s; exit statuses %s; %d tokens made, %d deleted; "
              "%d requests (%s); %d lost creates reported" % (
                  " with faults" if faults else "", time.monotonic() - started,
                  dict(sorted(statuses.items())), rotations, deletes, stats["requests"],
                  stats["by_status"], unknown_seen))
        for p in problems[:20]:
            print("FAIL: " + p, file=sys.stderr)
        return 1 if problems else 0
    finally:
        if sim is not None and sim.stop() != 0:
            print("FAIL: modesim exited with an error", file=sys.stderr)
        if os.environ.get("TW_KEEP"):
            print("kept " + tmp, file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
