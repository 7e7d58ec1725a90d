#!/usr/bin/env python3
"""End to end: what reaches the disk before each step a rotation takes outside the store.

A commit is synced after the other connections may write again, and a
rotation's activation is not synced on its own: the next synced commit, or
the sync at the end of the run, makes it durable.  Traced with strace over
nightly runs of two workspaces (two workers, each with its own connection),
the store's log (FILE-wal) must be synced:

  - before each create (a POST to the API), past every write the thread
    sending it made to the log: its intent is on the disk;
  - before each delivery's rename into a consumer's file, likewise: the
    replacement is recorded as being delivered;
  - when the run exits, past every write to the log.

And the run syncs the log fewer than three times a rotation: the intent and
the proof are synced; the create's answer waits for the proof's sync, before
any consumer gets the token, and the activation for the next intent's.  Each run
ends with every slot's active token in its consumer's file.

usage: test_durability.py MODESIM TOKENWARDEN
"""
import datetime
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from twsim import (DAY, Sim, Tw, check_accounted, check_history, check_slots,  # noqa: E402
                   iso_s, store_rows)

START = datetime.datetime(2026, 5, 4, 2, 0, tzinfo=datetime.timezone.utc)
WORKSPACES = ("acme", "beta")
SLOTS = 12  # per workspace
LINE = re.compile(r"^(\d+) +(?:<\.\.\. (\w+) resumed>(.*)|(\w+)\((.*))$")
RESULT = re.compile(r"\) += (-?\d+)")
FD_PATH = re.compile(r"^\d+<([^>]*)>")


def traced_run(tw, now, trace):
    env = dict(tw.env)
    env["TOKENWARDEN_NOW"] = iso_s(now)
    # LeakSanitizer cannot run under ptrace; the other tests look for leaks.
    asan = env.get("ASAN_OPTIONS")
    env["ASAN_OPTIONS"] = (asan + ":" if asan else "") + "detect_leaks=0"
    cmd = ["strace", "-f", "-qq", "-y", "-s", "8", "-o", trace, "-e",
           "trace=pwrite64,fsync,fdatasync,sendto,rename,renameat,renameat2", tw.bin, "rotate"]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)


def check_trace(trace, out_dir):
    """The problems the trace shows, and the log's syncs."""
    problems = []
    pending = {}    # tid -> (syscall, args, entry index) of a call not yet returned
    last_write = {}  # tid -> index at which its last write to the log returned
    synced = -1     # every log write returned before this index is on the disk
    syncs = 0
    with open(trace) as f:
        lines = f.read().splitlines()
    for i, line in enumerate(lines):
        m = LINE.match(line)
        if m is None:
            continue
        tid = int(m.group(1))
        if m.group(2):  # the end of a call begun on an earlier line
            if tid not in pending:
                continue
            name, args, entry = pending.pop(tid)
            args += m.group(3)
        else:
            name, args, entry = m.group(4), m.group(5), i
            if args.endswith("<unfinished ...>"):
                pending[tid] = (name, args[:-len("<unfinished ...>")], i)
                # What goes out, goes out at the call: checked at its entry.
                if name not in ("sendto", "rename", "renameat", "renameat2"):
                    continue
        res = RESULT.search(args)
        fd = FD_PATH.match(args)
        on_log = fd is not None and fd.group(1).endswith("-wal")
        if name == "pwrite64" and on_log and res and int(res.group(1)) > 0:
            last_write[tid] = i
        elif name in ("fsync", "fdatasync") and on_log and res and res.group(1) == "0":
            # A sync covers the writes that returned before it began.
            synced = max(synced, entry)
            syncs += 1
        elif entry != i and m.group(2):
            continue  # sendto and rename were checked at their entry
        elif name == "sendto" and '"POST ' in args:
            if last_write.get(tid, -1) >= synced:
                problems.append("trace line %d: a create went out before its intent was "
                                "synced: %s" % (i + 1, line[:120]))
        elif name.startswith("rename") and out_dir in args:
            if last_write.get(tid, -1) >= synced:
                problems.append("trace line %d: a delivery before its record was synced: %s" %
                                (i + 1, line[:120]))
    if last_write and max(last_write.values()) >= synced:
        problems.append("the run exited with writes to the log not synced")
    return problems, syncs


def main():
    modesim, binary = sys.argv[1], sys.argv[2]
    tmp = tempfile.mkdtemp(prefix="tw-durability.")
    problems = []
    sim = Sim(modesim, tmp, [(ws, ws + "-key", ws + "-secret") for ws in WORKSPACES], START)
    try:
        tw = Tw(binary, os.path.join(tmp, "tw"),
                {ws: "%s-key:%s-secret" % (ws, ws) for ws in WORKSPACES})
        out = os.path.join(tw.tmp, "out")
        os.mkdir(out)
        lines = ["version: 1",
                 "store: { path: %s, public_key: %s/seal.pub }" % (tw.db, tw.tmp),
                 "defaults: { lifetime: 30d, rotate_before: 25%, grace: 0 }",
                 "workspaces:"]
        slots = []
        for ws in WORKSPACES:
            lines += ["  - { name: %s, api: %s, credential: %s, rate_limit: 100000/1s," %
                      (ws, sim.url, ws), "      tokens: ["]
            for i in range(SLOTS):
                slot = "s%02d" % i
                lines.append("      { name: %s, deliver: [ { file: '%s/%s-%s.json' } ] }," %
                             (slot, out, ws, slot))
                slots.append((ws, slot))
            lines.append("    ] }")
        policy = os.path.join(tw.tmp, "policy.yaml")
        with open(policy, "w") as f:
            f.write("\n".join(lines) + "\n")
        tw.env["TOKENWARDEN_CONFIG"] = policy
        rotations = len(slots)
        now = START
        # The slots' first tokens, their replacements, then replacements and deletions.
        for step in ("first tokens", "replacements", "replacements and deletions"):
            sim.set_clock(now)
            trace = os.path.join(tmp, "trace")
            r = traced_run(tw, now, trace)
            if r.returncode != 0:
                problems.append("%s: rotate exited %d: %s" % (step, r.returncode,
                                                              r.stderr.strip()[-400:]))
                break
            found, syncs = check_trace(trace, out)
            problems += ["%s: %s" % (step, p) for p in found]
            if syncs >= 3 * rotations:
                problems.append("%s: %d syncs of the log for %d rotations: the creates' "
                                "answers or the activations were synced on their own" %
                                (step, syncs, rotations))
            print("%s: %d rotations, %d syncs of the log" % (step, rotations, syncs))
            rows = store_rows(tw.db)
            server = sim.tokens()
            problems += ["%s: %s" % (step, p) for p in check_slots(
                slots, rows, server, now,
                lambda ws, slot: os.path.join(out, "%s-%s.json" % (ws, slot)))]
            problems += ["%s: %s" % (step, p) for p in check_accounted(rows, server, now)]
            now += 23 * DAY
        problems += check_history(tw)
    finally:
        sim.stop()
    if problems:
        for p in problems:
            print("FAIL: %s" % p, file=sys.stderr)
        print("(kept %s)" % tmp, file=sys.stderr)
        return 1
    shutil.rmtree(tmp, ignore_errors=True)
    print("durability: every create and delivery after its sync, nothing unsynced at exit")
    return 0


if __name__ == "__main__":
    sys.exit(main())
