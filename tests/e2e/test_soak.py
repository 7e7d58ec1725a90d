#!/usr/bin/env python3
"""Field test: nightly runs through weeks of flaky API; no lapse for a transient fault.

A dozen slots in two workspaces (lifetimes 3 to 45 days, rotate_before under
half the lifetime, each with a file consumer) are rotated by one `rotate` a
night at 02:00 plus a random delay of up to 15 minutes, as the shipped timer
(RandomizedDelaySec=15min) fires, the simulator's clock and TOKENWARDEN_NOW
set together (both then run at real speed, so they stay together through a
run's retries).
The nights, for --nights 90 (other lengths are scaled; 90 or more keeps at
least 50 faulty nights and the two 15-night breaks):

  night 0          calm: every slot gets its first token
  faulty nights    about a third of all requests fail, mixing the faults
                   modesim draws per request (error_rate, drop_rate,
                   lost_post_rate, truncated_rate, malformed_rate,
                   reject_bearer_rate) and a burst_429 every few nights; the
                   fraction is counted from the simulator's log, every Mode
                   API request that met a fault (clock probes and garbled
                   answers included), and must be >= 0.15 over them: four
                   standard deviations under a third for the 120 or so
                   requests of a 20-night soak, so only faults that were
                   not injected fall below it.  The
                   failed fraction of the requests with a credential, from
                   /_sim/stats (garbled answers count as 200 there), is
                   printed beside it: over the few requests of a short soak
                   it strays too far from the rates to be held to a bound
                   whatever the seed.  The `date`
                   fault is not mixed in: a night without a usable Date
                   makes the run touch nothing, which needs its own property
  API outage       15 nights: the timer runs, the API fails every request
                   (error_rate 1 for 2 nights, drop_rate 1 for one, then 429s
                   with a Retry-After of an hour; shorter soaks only the
                   429s: a night of 5xx or drops is retried for the whole
                   max_time)
  first night back calm
  more faulty nights
  host off         15 nights without any run
  first night back calm, then calm nights to the end

Property, checked after every run: every slot has exactly one active token
in the store, on the server and unexpired until the next night's run (when
one is meant to come), and its consumer holds it (same id and access key).
Not checked on the nights of the outage and the gap, nor for the time until
the first run back: the token may lapse then.  The first night back must
have recovered every slot by the end of its run ("one run recovers
everything"), and every night after it is checked as usual.  Every night,
too, every token on the server must be known to the store (or be a lost
create it lists as unknown), no run may print an error (a store error) or
exit other than 0 or 1, and at the end the history must verify.

The policy's schedule keeps the default retries within the run, with
retry_backoff 1s: a tenth of the default's wait, so that the nights take
seconds, not minutes.  Both workspaces share one admin
key, so one worker makes every request in order and the same seed fails the
same requests (unless two slots' retries within one run, which tokenwarden
jitters, swap places).

usage: test_soak.py MODESIM TOKENWARDEN [--nights N] [--seed S] [--verbose]
  --nights N  simulated nights (default 20, for ./dev test; ./dev soak runs 90)
  --seed S    the seed of the fault mix and the timer's delays (default: a random
              one, printed first and with any failure, so that every run of the
              suite meets a mix of its own)
  --verbose   each night's exit status, requests and logged failures
  (TW_SEED overrides --seed; TW_KEEP keeps the temporary directory)
"""
import argparse
import datetime
import os
import random
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from twsim import (DAY, Sim, Tw, check_accounted, check_history, check_sealed,  # noqa: E402
                   check_slots, iso, log_lines, store_rows)

START = datetime.datetime(2026, 3, 2, 2, 0, tzinfo=datetime.timezone.utc)
DEFAULT_NIGHTS = 20
# (slot, lifetime, rotate_before, grace, jitter): rotate_before under half the lifetime.
SLOTS = {
    "acme": [("etl", "3d", "40%", "6h", None), ("bi", "5d", "1d", "12h", None),
             ("sync", "7d", "30%", "12h", "2h"), ("ml", "10d", "4d", "1d", None),
             ("audit", "14d", "30%", "1d", "3h"), ("mart", "21d", "20%", "1d", None)],
    "beta": [("etl", "30d", "25%", "2d", None), ("bi", "45d", "10d", "2d", "6h"),
             ("sync", "4d", "1d12h", "6h", None), ("ml", "6d", "2d", "12h", "1h"),
             ("audit", "12d", "25%", "1d", None), ("mart", "20d", "5d", "1d", None)],
}
BASE_FAULTS = {"error_rate": 0.14, "drop_rate": 0.09, "lost_post_rate": 0.1,
               "truncated_rate": 0.05, "malformed_rate": 0.05, "reject_bearer_rate": 0.12}


def schedule(n):
    """The kind of each night: calm, fault, outage, back, gap."""
    # The outage costs real time (each request retried with backoff): short ones when short.
    brk = 15 if n >= 90 else max(2, n // 12)
    faulty = max(50 if n >= 90 else 0, round(n * 50 / 90))
    faulty = min(faulty, n - 3 - 2 * brk)
    if faulty < 2:
        raise SystemExit("test_soak: --nights %d is too few (at least 12)" % n)
    first = faulty // 2
    kinds = (["calm"] + ["fault"] * first + ["outage"] * brk + ["back"] +
             ["fault"] * (faulty - first) + ["gap"] * brk + ["back"])
    return kinds + ["calm"] * (n - len(kinds))


def policy(tmp, db, url):
    lines = [
        "version: 1",
        "store: { path: %s, public_key: %s/seal.pub }" % (db, tmp),
        "defaults: { deliver: [ { file: '%s/out/{workspace}-{slot}.json' } ] }" % tmp,
        "enforce: { max_lifetime: 60d, unmanaged: report, expired: { delete_after: 2d } }",
        # Retries within the run as the defaults say, with a tenth of their wait, so that
        # a night takes seconds,
        # and a tenth of the default max_time, near the 4.5 minutes a slot's tries
        # span at that backoff: a night the API is down lasts that long.
        "schedule: { interval: 1d, retry_backoff: 1s, max_time: 5m }",
        "workspaces:",
    ]
    for ws, slots in SLOTS.items():
        lines += ["  - name: %s" % ws, "    api: %s" % url, "    credential: admin",
                  "    rate_limit: 100000/1s", "    tokens:"]
        for name, life, rb, grace, jitter in slots:
            lines.append("      - { name: %s, lifetime: %s, rotate_before: '%s', grace: %s%s }"
                         % (name, life, rb, grace, ", jitter: " + jitter if jitter else ""))
    path = os.path.join(tmp, "policy.yaml")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def night_faults(rng, k):
    """The k-th faulty night's fault set: every rate moved a little, a 429 burst now and then."""
    f = {key: round(v * rng.uniform(0.8, 1.4), 3) for key, v in BASE_FAULTS.items()}
    if k % 6 == 3:
        f.update({"burst_429": rng.randint(1, 3), "retry_after": 1})
    return f


def outage_faults(kinds, night, nights):
    """Every request fails.  Long soaks: two nights of 5xx, then one of dropped
    connections, then throttling (429 with a Retry-After past the client's patience, so
    it gives up at once and the run tries that slot no more).  Short soaks only
    throttle.  The run keeps trying the slots without slack through 5xx and drops
    while its max_time allows: each such night costs the soak's max_time (5 minutes)
    of real time."""
    throttle = {"burst_429": 1000000, "retry_after": 3600}
    if nights < 90:
        return throttle
    i = night - kinds.index("outage")
    n = 2
    return {"error_rate": 1} if i < n else {"drop_rate": 1} if i == n else throttle


def counts(stats):
    """(requests that carry a credential, those answered 2xx).  The clock probes (no
    credential, answered 401 by design) are left out."""
    probes = stats.get("by_auth", {}).get("none", 0)
    return (stats["requests"] - probes,
            sum(n for s, n in stats["by_status"].items() if s.startswith("2")))


def main():
    ap = argparse.ArgumentParser(description="nightly runs through a flaky API")
    ap.add_argument("modesim")
    ap.add_argument("tokenwarden")
    ap.add_argument("--nights", type=int, default=DEFAULT_NIGHTS)
    ap.add_argument("--seed")
    ap.add_argument("--verbose", action="store_true",
                    help="print each night's failures as the run logged them")
    a = ap.parse_args()
    seed = (os.environ.get("TW_SEED") or a.seed or
            str(random.SystemRandom().randint(1, 10 ** 9)))
    kinds = schedule(a.nights)
    rng = random.Random("soak:" + seed)
    os.umask(0o077)
    tmp = tempfile.mkdtemp(prefix="tw-soak.")
    os.mkdir(os.path.join(tmp, "out"))
    started = time.monotonic()
    print("soak: %d nights from %s, seed %s: %s" % (
        a.nights, iso(START), seed, " ".join("%s %d" % (k, kinds.count(k)) for k in
                                              ("calm", "fault", "outage", "gap", "back"))),
          flush=True)
    sim = None
    problems = []
    try:
        users = [(ws, "admin-key", "admin-secret") for ws in SLOTS]
        sim = Sim(a.modesim, tmp, users, START, seed=int(rng.randint(1, 2 ** 31)))
        tw = Tw(a.tokenwarden, tmp, {"admin": "admin-key:admin-secret"})
        tw.env["TOKENWARDEN_CONFIG"] = policy(tmp, tw.db, sim.url)
        tw.run(["policy", "check", tw.env["TOKENWARDEN_CONFIG"]], check=True)
        slots = [(ws, s[0]) for ws, ss in SLOTS.items() for s in ss]

        def consumer(ws, slot):
            return os.path.join(tmp, "out", "%s-%s.json" % (ws, slot))

        statuses, by_kind = {}, {}
        fault_req = fault_failed = total_req = 0
        lapses = 0
        nfault = injected = logged = 0
        # As examples/systemd/tokenwarden-rotate.timer fires: 02:00 and a random delay of
        # up to RandomizedDelaySec=15min.
        times = [START + i * DAY + datetime.timedelta(seconds=rng.randint(0, 15 * 60))
                 for i in range(len(kinds) + 1)]
        for night, kind in enumerate(kinds):
            now = times[night]
            if kind == "gap":
                continue
            sim.set_clock(now)
            if kind == "fault":
                sim.faults(night_faults(rng, nfault))
                nfault += 1
            elif kind == "outage":
                sim.faults(outage_faults(kinds, night, a.nights))
            else:
                sim.faults({})
            before = sim.stats()
            mark = sim.log_size()
            t0 = time.monotonic()
            r = tw.run(["rotate"], now=now, log_json=True)
            took = time.monotonic() - t0
            after = sim.stats()
            sim.faults({})
            (r0, ok0), (r1, ok1) = counts(before), counts(after)
            req, failed = r1 - r0, (r1 - r0) - (ok1 - ok0)
            total_req += req
            if kind == "fault":
                fault_req += req
                fault_failed += failed
                lr, lf = sim.log_faults(mark)
                logged += lr
                injected += lf
            if a.verbose:
                print("night %d %s %s: exit %d, %d requests, %d failed, %.1f s" % (
                    night, iso(now), kind, r.returncode, req, failed, took))
                for l in log_lines(r.stderr):
                    if l["level"] != "note":
                        print("    %s/%s: %s" % (l.get("workspace", "-"), l.get("slot", "-"),
                                                l["msg"][:200]))
            statuses[r.returncode] = statuses.get(r.returncode, 0) + 1
            k = by_kind.setdefault(kind, {})
            k[r.returncode] = k.get(r.returncode, 0) + 1
            errors = [l["msg"] for l in log_lines(r.stderr) if l["level"] == "error" or
                      (l["level"] == "raw" and l["msg"].startswith("tokenwarden: error:"))]
            if errors or r.returncode not in (0, 1):
                problems.append("night %d (%s, %s): rotate exited %d: %s" % (
                    night, iso(now), kind, r.returncode, "; ".join(errors)[:300]))
            rows = store_rows(tw.db)
            server = sim.tokens()
            for p in check_accounted(rows, server, now, reverse=False) + check_sealed(rows):
                problems.append("night %d (%s, %s): %s" % (night, iso(now), kind, p))
            if night == 0 or kind == "outage":
                continue
            nxt = kinds[night + 1] if night + 1 < len(kinds) else "calm"
            # Live until the next run, unless no run is meant to come (outage, gap).
            until = times[night + 1] if nxt in ("calm", "fault") and kind != "back" else None
            found = check_slots(slots, rows, server, now, consumer, after=until)
            lapses += len(found)
            for p in found:
                problems.append("night %d (%s, %s): %s" % (night, iso(now), kind, p))
        problems += check_history(tw)
        frac = fault_failed / fault_req if fault_req else 0.0
        hit = injected / logged if logged else 0.0
        if logged and hit < 0.15:
            problems.append("only %.3f of the requests of the faulty nights met a fault (%d of "
                            "%d), where the rates hit about a third: were they injected?" % (
                                hit, injected, logged))
        stats = sim.stats()
        print("soak: %d nights in %.1f s; %d requests (%d on the %d faulty nights, of which "
              "%d failed by /_sim/stats: %.3f; by the simulator's log, garbled 200s and clock "
              "probes included, %d of %d met a fault: %.3f); by status %s; rotate exit "
              "statuses %s (by night: %s); %d slot-night lapses" % (
                  a.nights, time.monotonic() - started, total_req, fault_req, nfault,
                  fault_failed, frac, injected, logged, hit,
                  dict(sorted(stats["by_status"].items())),
                  dict(sorted(statuses.items())),
                  ", ".join("%s %s" % (k, dict(sorted(v.items())))
                            for k, v in by_kind.items()), lapses))
        for p in problems[:40]:
            print("FAIL: " + p, file=sys.stderr)
        if len(problems) > 40:
            print("FAIL: ... %d more" % (len(problems) - 40), file=sys.stderr)
        if problems:
            print("FAIL: seed %s, --nights %d (TW_SEED=%s to rerun)" % (seed, a.nights, seed),
                  file=sys.stderr)
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
