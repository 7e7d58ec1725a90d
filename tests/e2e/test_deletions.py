#!/usr/bin/env python3
"""End to end: a night's deletions of retired tokens, recorded in batches.

rotate records the deletions of retired tokens together, a batch per
transaction, not each with a sync of the disk.  Until its batch is recorded a
token deleted on the server is still `retiring` in the store; a crash leaves
it so, and the next run's DELETE answers 404 and records it.  150 slots with
grace 0: the first run makes their tokens, the second replaces them (the old
ones retire at once), the third deletes the 150 old tokens and is killed at
its 100th DELETE (TOKENWARDEN_TEST_CRASH=after-delete#100).  Then:

  - the server lost exactly 100 old tokens; the store records some of them
    deleted (the batches the run finished) and still holds the rest retiring,
    at most one batch, never a token the server still has as deleted
  - one more run exits 0, every slot has one active token its consumer holds,
    the server and the store account for each other's tokens, all 150 old
    tokens are recorded deleted, and the history verifies

usage: test_deletions.py MODESIM TOKENWARDEN
"""
import datetime
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from twsim import (DAY, Sim, Tw, check_accounted, check_history, check_run,  # noqa: E402
                   check_sealed, check_slots, store_rows)

START = datetime.datetime(2026, 3, 2, 2, 0, tzinfo=datetime.timezone.utc)
SLOTS = 150
KILL_AT = 100
BATCH_MAX = 64  # ROTATE_GONE_BATCH in core/rotate.c: the most a crash leaves unrecorded


def main():
    modesim, binary = sys.argv[1], sys.argv[2]
    tmp = tempfile.mkdtemp(prefix="tw-deletions.")
    problems = []
    sim = Sim(modesim, tmp, [("acme", "admin-key", "admin-secret")], START)
    try:
        tw = Tw(binary, os.path.join(tmp, "tw"), {"admin": "admin-key:admin-secret"})
        out = os.path.join(tw.tmp, "out")
        os.mkdir(out)
        lines = ["version: 1",
                 "store: { path: %s, public_key: %s/seal.pub }" % (tw.db, tw.tmp),
                 "defaults: { lifetime: 30d, rotate_before: 25%, grace: 0,",
                 "            deliver: [ { file: '%s/{slot}.json' } ] }" % out,
                 "workspaces:",
                 "  - { name: acme, api: %s, credential: admin, rate_limit: 100000/1s," % sim.url,
                 "      tokens: ["]
        lines += ["      { name: s%03d }," % i for i in range(SLOTS)]
        lines += ["    ] }"]
        policy = os.path.join(tw.tmp, "policy.yaml")
        with open(policy, "w") as f:
            f.write("\n".join(lines) + "\n")
        tw.env["TOKENWARDEN_CONFIG"] = policy
        slots = [("acme", "s%03d" % i) for i in range(SLOTS)]

        now = START
        for step in ("first tokens", "replacements"):
            sim.set_clock(now)
            first = tw.last_event_id()
            r = tw.run(["rotate"], now=now)
            problems += ["%s: %s" % (step, p) for p in check_run(tw, r, first, (0,))]
            now += 23 * DAY
        old = {r["token"] for r in store_rows(tw.db) if r["state"] == "retiring"}
        if len(old) != SLOTS:
            problems.append("%d tokens retiring before the deletions, expected %d" %
                            (len(old), SLOTS))

        sim.set_clock(now)
        r = tw.run(["rotate"], now=now, env={"TOKENWARDEN_TEST_CRASH": "after-delete#%d" %
                                             KILL_AT})
        if r.returncode != -9:
            problems.append("the run to kill exited %d, not killed at its %dth DELETE" %
                            (r.returncode, KILL_AT))
        on_server = {t["token"] for t in sim.tokens()}
        rows = {r["token"]: r for r in store_rows(tw.db) if r["token"] in old}
        gone = old - on_server
        recorded = {t for t in old if rows[t]["state"] == "deleted"}
        unrecorded = {t for t in gone if rows[t]["state"] == "retiring"}
        if len(gone) != KILL_AT:
            problems.append("the server lost %d old tokens, expected %d" % (len(gone), KILL_AT))
        if recorded - gone:
            problems.append("the store records %d tokens deleted that the server still has" %
                            len(recorded - gone))
        if recorded | unrecorded != gone:
            problems.append("of %d tokens deleted, %d are recorded deleted and %d retiring" %
                            (len(gone), len(recorded), len(unrecorded)))
        # Recorded in whole batches: some, and more than the one the kill interrupted left.
        if not recorded or not 1 < len(unrecorded) <= BATCH_MAX:
            problems.append("%d deletions recorded and %d not when the run was killed: "
                            "expected whole batches recorded, 2 to %d left" %
                            (len(recorded), len(unrecorded), BATCH_MAX))

        first = tw.last_event_id()
        r = tw.run(["rotate"], now=now)
        problems += ["after the crash: %s" % p for p in check_run(tw, r, first, (0,))]
        rows = store_rows(tw.db)
        server = sim.tokens()
        problems += check_slots(slots, rows, server, now,
                                lambda ws, slot: os.path.join(out, slot + ".json"))
        problems += check_accounted(rows, server, now)
        problems += check_sealed(rows)
        left = [r["token"] for r in rows if r["token"] in old and r["state"] != "deleted"]
        if left:
            problems.append("%d old tokens not recorded deleted after the next run" %
                            len(left))
        problems += check_history(tw)
    finally:
        sim.stop()
    if problems:
        for p in problems:
            print("FAIL: %s" % p, file=sys.stderr)
        print("(kept %s)" % tmp, file=sys.stderr)
        return 1
    shutil.rmtree(tmp, ignore_errors=True)
    print("deletions: %d killed at the %dth, recovered in one run" % (SLOTS, KILL_AT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
