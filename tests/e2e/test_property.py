#!/usr/bin/env python3
"""Field test: random inventories under random valid policies; every run recovers.

Each case starts a simulator and a fresh store, writes a random valid policy
(one or two workspaces, slot names shared across them, lifetimes from 2 to
45 days, rotate_before as a duration or a percentage, grace, jitter, verify, a
daily window for about a quarter of the slots, enforce unmanaged/expired as
report, ignore or delete_after, a file consumer per slot, and for about a
third of the slots a second consumer, before or after it: a file in a
directory of its own, or an exec program), then builds a random inventory
only through the real binary and the simulator, never by writing SQL:

  rotate            plain, --only SLOT, or killed at a crash point
                    (TOKENWARDEN_TEST_CRASH: pending, created, verified and
                    partly delivered rows), or under simulator faults (lost
                    POST answers -> unknown, refused Bearer -> failed verify,
                    single 5xx/dropped/garbled answers), or with a wrong
                    admin secret (creates refused -> failed rows)
  token import      tokens made on the simulator with the admin key (Basic
                    auth), into a free slot (the admin hands the consumer its
                    file, as an operator would), as unmanaged, or into a slot
                    the policy does not have; with or without --secret-stdin
  token create      unmanaged, sometimes with its answer lost (unknown) or
                    refused (failed)
  revoke --yes      a slot's active token or a token by id; or `token delete`
                    of a token by id; often the replacement a crash just
                    left (a consumer may hold it), before any run
  policy edits      a slot's lifetime, rotate_before, grace changed, or a slot
                    dropped (its tokens then belong to no slot), or a consumer
                    added to a slot (a file or a program; handed an imported
                    token by hand, as the import's own consumers were), or a
                    slot's file moved to another slot, of either workspace,
                    or back
  a consumer down   a slot's second consumer fails until it is back: its
                    directory gone (a file), or its program exits 7 (exec);
                    so one consumer of two takes a replacement the other
                    refuses
  time              hours to weeks between steps: retiring, expired tokens

The runs that build the inventory do not retry within the run (schedule
retries 0: their faults never clear); the recovery run has the case's own
schedule.  The store's `expired` state is not made by any command today: an
active or retiring token past its expiry stands for it.

Then the host is off for a minute to 60 days (the simulator's clock and
TOKENWARDEN_NOW jump together; sometimes past enforce expired delete_after),
faults are cleared, most consumers are back (a few stay down), and ONE
`rotate` runs.  After it:

  P1 run      it exits 0, or 1 with each failure a warning naming its slot;
              no `tokenwarden: error:` (a store error), and the history has
              a run.end for it with its exit status
  P2 slots    every slot of the policy has exactly one active token in the
              store, on the server and unexpired, and each of its
              consumers holds that token (same id and access key); where
              a consumer is still down, the slot may lapse, but no token a
              consumer holds is set to be deleted before its expiry; a slot
              the planner puts off (a failure's backoff outlasts a short
              host-off, and its token has slack; or its daily window is
              closed, and a consumer added or moved to it waits for it)
              keeps one live active token,
              and each consumer holds a live token kept to its expiry
  P3 server   every token the server holds is accounted for: a row of the
              store in a live state (active, retiring, expired; created or
              verified while unexpired), or an unknown row of the same name
              and expiry; every unexpired active/retiring row is on the server
  P4 history  `tokenwarden audit verify` passes
  P5 due      every token of a slot of the policy that was retiring past its
              retire_after before the run is deleted, but a replacement kept
              for its consumers (newer than the slot's active token, retiring
              at its expiry), which waits for a rotation to reach them all,
              and an unexpired one a moved file holds (P7) or the plan
              before the run reports held
  P6 secrets  no temporary file a delivery killed before its rename left
              beside a consumer's file holds a token the server still has;
              the store holds a sealed secret of each active or retiring
              token it made and of no deleted or revoked one
  P7 moved    a file the policy moved holds a token the server still has,
              unless it expired or was revoked or deleted by hand: the token
              a consumer holds is deleted only once its new slot reaches it
              (checked after every run, the runs that build the inventory
              too)

usage: test_property.py MODESIM TOKENWARDEN
  TW_SEED   the seed (default: random, printed)
  TW_CASES  number of cases (default 30: under a minute plain, two under ASan)
  TW_CASE   run only this case number (with TW_SEED, to reproduce one)
  TW_KEEP   keep the temporary directories of failing cases
"""
import datetime
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from twsim import (DAY, HOUR, Sim, Tw, check_accounted, check_history, check_run,  # noqa: E402
                   check_sealed, check_slots, connect_ro, consumer_payload, duration, from_ms,
                   iso, ms, parse, read_consumer, store_rows)

START = datetime.datetime(2026, 1, 5, 2, 0, tzinfo=datetime.timezone.utc)
SLOT_NAMES = ["etl", "bi", "sync", "ml", "audit"]
CRASH_POINTS = ["before-post", "after-post", "after-commit", "after-verify", "before-rename",
                "after-deliver", "after-activate", "after-delete"]
# Faults that fail at once (no client backoff), so a case stays fast.
RUN_FAULTS = [
    {"lost_post_rate": 1},
    {"reject_bearer_rate": 1},
    {"error_rate": 1, "count": 1},
    {"drop_rate": 1, "count": 1},
    {"truncated_rate": 1, "count": 1},
    {"malformed_rate": 1, "count": 1},
    {"lost_post_rate": 1, "count": 1},
]
# Drawn per request: only with one worker, so the draws fall the same way every time.
MIXED_FAULTS = {"lost_post_rate": 0.3, "reject_bearer_rate": 0.3}
DEFAULT_CASES = 30


class CaseFailed(Exception):
    pass


class Case:
    def __init__(self, seed, n, modesim, tw_bin, root, keypair):
        self.n = n
        self.rng = random.Random("%s:%d" % (seed, n))
        self.tmp = tempfile.mkdtemp(prefix="case%03d." % n, dir=root)
        self.modesim, self.tw_bin, self.keypair = modesim, tw_bin, keypair
        self.history = []  # what was done, for people
        self.states_seen = set()
        self.imports = 0
        self.runs_down = 0  # runs with a consumer down
        self.now = START + self.rng.randint(0, 23) * HOUR

    # --- the policy -----------------------------------------------------------
    def gen_policy(self):
        rng = self.rng
        nws = rng.choice([1, 2, 2])
        self.wss = ["acme", "beta"][:nws]
        self.slots = {}
        for ws in self.wss:
            self.slots[ws] = rng.sample(SLOT_NAMES, rng.randint(1, 3))
        if nws == 2 and not set(self.slots["acme"]) & set(self.slots["beta"]) and \
                rng.random() < 0.8:
            self.slots["beta"][0] = self.slots["acme"][0]  # one slot name in both
        self.settings = {}
        self.second = {}  # (ws, slot): its second consumer
        self.down = set()  # the slots whose second consumer is down
        self.added = set()  # the slots given their second consumer after their token
        # Where the policy moved a slot's own file consumer: (ws, slot) -> the slot that
        # delivers to it now, or None once no slot does (its slot dropped).
        self.moved = {}
        self.killed = set()  # the tokens revoked or deleted by hand
        self.roamed = set()  # the files the policy moved at least once (P7)
        self.between = []  # what P7 found after the runs that built the inventory
        self.held = set()  # the tokens the plan before the recovery run held (P5)
        for ws in self.wss:
            for slot in self.slots[ws]:
                self.settings[(ws, slot)] = self.gen_slot()
                if rng.random() < 0.35:
                    self.second[(ws, slot)] = {"kind": rng.choice(["file", "exec"]),
                                               "first": rng.random() < 0.3}
        unmanaged = rng.choice(["report", "ignore", "delete"])
        expired = rng.choice(["report", "ignore", "delete", "delete"])
        self.unmanaged = (unmanaged if unmanaged != "delete" else
                          "{ delete_after: %s }" % duration(rng.randint(1, 10) * 86400))
        if expired == "delete":  # 0 too: an expired token goes at the first run after
            after = rng.choice([0, 1, 2, 5, 10]) * 86400
            expired = "{ delete_after: %s }" % (duration(after) if after else "0")
        self.expired = expired
        os.mkdir(os.path.join(self.tmp, "out"))
        for ws, slot in self.second:
            os.mkdir(self.second_dir(ws, slot))
        # The runs that build the inventory do not retry within the run (they meet faults
        # that never clear: retries would only wait); the recovery run has the policy's.
        self.final_schedule = "interval: 1d" + rng.choice(
            ["", ", retries: 0", ", retries: 2, retry_backoff: 1s", ", retry_backoff: 1s"])
        self.schedule = "interval: 1d, retries: 0"
        self.write_policy()

    def write_policy(self):
        out = os.path.join(self.tmp, "out")
        lines = [
            "version: 1",
            "store: { path: %s, public_key: %s/seal.pub }" % (self.tw.db, self.tmp),
            "defaults: { deliver: [ { file: '%s/{workspace}-{slot}.json' } ] }" % out,
            "enforce: { max_lifetime: 400d, unmanaged: %s, expired: %s }" % (
                self.unmanaged, self.expired),
            "schedule: { %s }" % self.schedule,
            "workspaces:",
        ]
        for ws in self.wss:
            lines += ["  - name: %s" % ws, "    api: %s" % self.sim.url,
                      "    credential: %s" % self.cred_name(ws),
                      "    rate_limit: 100000/1s", "    tokens:"]
            for slot in self.slots[ws]:
                lines.append("      - { name: %s, %s%s }" % (slot, self.settings[(ws, slot)],
                                                          self.deliver(ws, slot)))
        self.policy_text = "\n".join(lines) + "\n"
        self.policy = os.path.join(self.tmp, "policy.yaml")
        with open(self.policy, "w") as f:
            f.write(self.policy_text)
        self.tw.env["TOKENWARDEN_CONFIG"] = self.policy
        r = self.tw.run(["policy", "check", self.policy])
        if r.returncode != 0:
            raise CaseFailed("the generator wrote a policy that does not check (a test "
                             "bug): " + (r.stdout + r.stderr).strip()[-600:])

    def gen_slot(self):
        rng = self.rng
        life = rng.choice([2, 3, 5, 7, 10, 14, 30, 45]) * 24  # hours
        jitter = rng.choice([0, 0, 1, 2, 6])
        if rng.random() < 0.5:
            pct = rng.randint(10, 60)
            rb, rb_text = life * pct / 100.0, "'%d%%'" % pct
        else:
            rb = rng.randint(max(1, life // 10), life // 2)
            rb_text = duration(rb * 3600)
        if rb + jitter >= life:
            jitter = 0
        room = life - rb - jitter
        grace = rng.choice([0, 1, 6, 12, 24, 48])
        while grace and grace >= room:
            grace //= 2
        parts = ["lifetime: %s" % duration(life * 3600), "rotate_before: %s" % rb_text,
                 "grace: %s" % (duration(grace * 3600) if grace else "0")]
        if jitter:
            parts.append("jitter: %s" % duration(jitter * 3600))
        if rng.random() < 0.1:
            parts.append("verify: false")
        # A daily window, closed for less than rotate_before (the policy's rule): a slot
        # that waits for it leaves a consumer moved to it holding another slot's token.
        span = rng.randint(2, 8)
        if rng.random() < 0.25 and rb > 24 - span:
            start = rng.randint(0, 23 - span)
            parts.append("window: { hours: '%02d:00-%02d:00' }" % (start, start + span))
        return ", ".join(parts)

    def cred_name(self, ws):
        return "admin" if self.shared_cred else ws + "-admin"

    def consumer(self, ws, slot):
        return os.path.join(self.tmp, "out", "%s-%s.json" % (ws, slot))

    def second_dir(self, ws, slot):
        """The second consumer's directory: a file consumer's target's, gone while it is
        down; an exec consumer's output's, with a flag file in it while it is down."""
        return os.path.join(self.tmp, "c2-%s-%s" % (ws, slot))

    def moved_in(self, ws, slot):
        """The files of other slots the policy moved to this one, in order."""
        return [self.consumer(*o) for o, at in sorted(self.moved.items())
                if at == (ws, slot) and o != (ws, slot)]

    def parts(self, ws, slot):
        """The slot's consumers in the policy's order: (path that must hold its token,
        the deliver: entry)."""
        out = []
        if self.moved.get((ws, slot), (ws, slot)) == (ws, slot):
            out.append((self.consumer(ws, slot), "{ file: '%s' }" % self.consumer(ws, slot)))
        c = self.second.get((ws, slot))
        if c is not None:
            d = self.second_dir(ws, slot)
            if c["kind"] == "file":
                other = "{ file: '%s/token.json' }" % d
            else:  # no shell quoting inside: the paths are the test's own temporary ones
                other = ("{ exec: [/bin/sh, -c, 'if [ -e %s/down ]; then echo consumer "
                         "down >&2; exit 7; fi; cat > %s/token.tmp && mv %s/token.tmp "
                         "%s/token.json'] }" % (d, d, d, d))
            out.insert(0 if c["first"] else len(out), (os.path.join(d, "token.json"), other))
        return out + [(path, "{ file: '%s' }" % path) for path in self.moved_in(ws, slot)]

    def consumers(self, ws, slot):
        """The files that must hold the slot's token, in the policy's order."""
        return [path for path, _ in self.parts(ws, slot)]

    def deliver(self, ws, slot):
        """The slot's deliver: list, unless the default's (its own file alone)."""
        parts = self.parts(ws, slot)
        if [path for path, _ in parts] == [self.consumer(ws, slot)]:
            return ""
        return ", deliver: [ %s ]" % ", ".join(entry for _, entry in parts)

    def set_down(self, ws, slot, down):
        d = self.second_dir(ws, slot)
        if self.second[(ws, slot)]["kind"] == "file":
            os.rename(d if down else d + ".off", d + ".off" if down else d)
        elif down:
            open(os.path.join(d, "down"), "w").close()
        else:
            os.unlink(os.path.join(d, "down"))
        (self.down.add if down else self.down.discard)((ws, slot))

    # --- the steps that make the inventory ----------------------------------------
    def note(self, text):
        self.history.append("%s %s" % (iso(self.now), text))

    def at(self, t):
        self.now = t
        self.sim.set_clock(t)

    def tw_run(self, args, **kw):
        """The binary at self.now, the simulator's clock set to the same moment (it runs
        on meanwhile, and tokenwarden refuses to act on a skewed clock)."""
        self.sim.set_clock(self.now)
        return self.tw.run(args, now=self.now, **kw)

    def rotate(self, args=(), env=None):
        if self.down:
            self.runs_down += 1
        rc = self.tw_run(["rotate"] + list(args), env=env, quiet=True).returncode
        # P7 holds after every run, not only once the recovery run has converged.
        if self.roamed:
            slots = [(ws, s) for ws in self.wss for s in self.slots[ws]]
            self.between += ["after the run at %s: %s" % (iso(self.now), p)
                             for p in self.check_roamed(slots, self.sim.tokens())]
        return rc

    def rows(self):
        return store_rows(self.tw.db)

    def step_rotate(self):
        rng = self.rng
        if rng.random() < 0.5:
            self.step_time()
        pairs = [(ws, s) for ws in self.wss for s in self.slots[ws]]
        names = [s for _, s in pairs]
        args = []
        x = rng.random()
        if x < 0.55:
            # One slot: WORKSPACE/SLOT, or its bare name when one workspace has it.
            ws, slot = rng.choice(pairs)
            what = slot if names.count(slot) == 1 and rng.random() < 0.5 else ws + "/" + slot
            args = ["--force" if x < 0.35 else "--only", what]
        kind = rng.choice(["plain", "crash", "crash", "faults", "faults", "badcred"])
        # Draws per request, or for the next request only, and where a kill lands, are
        # the same every time only when one thread makes the requests: one worker, or
        # one slot.
        one = self.workers() == 1 or bool(args)
        if kind == "crash" and not one:
            ws, slot = rng.choice(pairs)
            args = ["--force", ws + "/" + slot]
        if kind == "crash":
            point = rng.choice(CRASH_POINTS)
            rc = self.rotate(args, env={"TOKENWARDEN_TEST_CRASH": point})
            self.note("rotate %s killed at %s -> %s" % (" ".join(args), point, rc))
            if rng.random() < 0.4:  # someone finds what the crash left, before any run
                self.step_revoke()
        elif kind == "faults":
            if one and rng.random() < 0.3:
                f = dict(MIXED_FAULTS)
            else:
                f = dict(rng.choice([f for f in RUN_FAULTS if one or "count" not in f]))
            self.sim.faults(f)
            rc = self.rotate(args)
            self.sim.faults({})
            self.note("rotate %s with faults %s -> %s" % (" ".join(args), f, rc))
        elif kind == "badcred":
            for name in set(self.cred_name(ws) for ws in self.wss):
                self.tw.set_credential(name, "wrong-key:wrong-secret")
            rc = self.rotate(args)
            self.restore_creds()
            self.note("rotate %s with a wrong admin key -> %s" % (" ".join(args), rc))
        else:
            rc = self.rotate(args)
            self.note("rotate %s -> %s" % (" ".join(args), rc))

    def workers(self):
        return len(set(self.cred_name(ws) for ws in self.wss))

    def restore_creds(self):
        for ws in self.wss:
            self.tw.set_credential(self.cred_name(ws), "%s:%s" % self.sim.keys[ws])

    def step_import(self):
        rng = self.rng
        rows = self.rows()
        free = [(ws, s) for ws in self.wss for s in self.slots[ws]
                if not any(r["ws"] == ws and r["slot"] == s and r["state"] == "active"
                           for r in rows)]
        ws = rng.choice(self.wss)
        where = rng.choice(["slot", "slot", "unmanaged", "gone"])
        slot = None
        if where == "slot" and free:
            ws, slot = rng.choice(free)
        elif where == "gone":  # a slot the policy no longer has; one active token each
            slot = "old-" + rng.choice(SLOT_NAMES)
            if any(r["ws"] == ws and r["slot"] == slot and r["state"] == "active"
                   for r in rows):
                slot = None
        self.imports += 1
        name = "imp%d-%s" % (self.imports, slot or "loose")
        expires = self.now + rng.randint(2, 24 * 60) * HOUR
        tok = self.sim.create_token(ws, name, expires)
        args = ["token", "import", "-w", ws, "--token", tok["token"], "-n", name,
                "--created-at", tok["created_at"], "--expires-at", tok["expires_at"]]
        if slot:
            args += ["--slot", slot]
        secret = rng.random() < 0.5
        stdin = None
        if secret:
            args.append("--secret-stdin")
            stdin = "%s:%s\n" % (tok["access_key"], tok["access_secret"])
        r = self.tw_run(args, stdin=stdin)
        if r.returncode != 0:
            raise CaseFailed("token import exited %d: %s" % (r.returncode,
                                                             r.stderr.strip()[-300:]))
        if slot and (ws, slot) in self.settings:
            # The operator who imports a slot's token hands it to the slot's consumers
            # (one that is down too: it is what it finds when it is back).
            for path in self.consumers(ws, slot):
                if not os.path.isdir(os.path.dirname(path)):
                    path = os.path.join(os.path.dirname(path) + ".off", "token.json")
                fd = os.open(path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "w") as f:
                    json.dump(consumer_payload(ws, slot, tok), f)
                os.rename(path + ".tmp", path)
        self.note("import %s/%s into %s, expires %s%s" % (
            ws, tok["token"], slot or "no slot", iso(expires), ", secret" if secret else ""))

    def step_create(self):
        rng = self.rng
        ws = rng.choice(self.wss)
        how = rng.choice(["ok", "lost", "lost", "refused"])
        self.imports += 1
        name = "cli%d-loose" % self.imports
        args = ["token", "create", "-w", ws, "-n", name, "--expires-in",
                duration(rng.randint(1, 40) * 86400), "--api", self.sim.url,
                "--credential", self.cred_name(ws)]
        if how == "lost":
            self.sim.faults(rng.choice([{"lost_post_rate": 1}, {"truncated_rate": 1},
                                        {"error_rate": 1}]))
        if how == "refused":
            self.tw.set_credential(self.cred_name(ws), "wrong-key:wrong-secret")
        r = self.tw_run(args)
        self.sim.faults({})
        self.restore_creds()
        self.note("token create %s in %s (%s) -> %d" % (name, ws, how, r.returncode))

    def step_revoke(self):
        rng = self.rng
        # In a stable order: two workers number their rows as their threads interleave.
        rows = sorted((r for r in self.rows() if r["state"] in (
            "active", "retiring", "created", "verified")),
            key=lambda r: (r["ws"], r["slot"] or "", r["state"], r["name"]))
        if not rows:
            return
        # Often a replacement a crash left (a consumer may hold it), rare otherwise.
        left = [r for r in rows if r["state"] in ("created", "verified")]
        r = rng.choice(left if left and rng.random() < 0.7 else rows)
        self.killed.add(r["token"])
        if rng.random() < 0.3:  # the API's delete, by hand: the same to a consumer
            p = self.tw_run(["token", "delete", "-w", r["ws"], r["token"]])
            self.note("token delete -w %s %s (%s) -> %d" % (r["ws"], r["token"], r["state"],
                                                             p.returncode))
            return
        what = r["slot"] if (r["state"] == "active" and r["slot"] in self.slots.get(r["ws"], ())
                             and rng.random() < 0.6) else r["token"]
        p = self.tw_run(["revoke", "-w", r["ws"], "--yes", what])
        self.note("revoke -w %s %s (%s) -> %d" % (r["ws"], what, r["state"], p.returncode))

    def step_edit(self):
        """The admin edits the policy: new settings for a slot, or a slot dropped (its
        tokens then belong to no slot of the policy)."""
        rng = self.rng
        ws = rng.choice(self.wss)
        slot = rng.choice(self.slots[ws])
        if len(self.slots[ws]) > 1 and rng.random() < 0.3:
            self.slots[ws].remove(slot)
            del self.settings[(ws, slot)]
            if (ws, slot) in self.down:
                self.set_down(ws, slot, False)
            self.second.pop((ws, slot), None)
            # Its own file, unless moved away, and the files moved to it leave the policy.
            for o in [o for o, at in self.moved.items() if at == (ws, slot)]:
                self.moved[o] = None
            self.moved.setdefault((ws, slot), None)
            self.note("policy: slot %s/%s dropped" % (ws, slot))
        else:
            self.settings[(ws, slot)] = self.gen_slot()
            self.note("policy: %s/%s now { %s }" % (ws, slot, self.settings[(ws, slot)]))
        self.write_policy()

    def step_add_consumer(self):
        """The admin adds a second consumer to a slot that has one.  Only a rotation can
        hand it the slot's token, and the next run makes one (core/plan.c: unreached); a
        token the admin imported into the slot, of which no record says what it reached,
        the admin hands it too, as the import's own consumers were."""
        rng = self.rng
        free = [(ws, s) for ws in self.wss for s in self.slots[ws] if (ws, s) not in self.second]
        if not free:
            return
        ws, slot = rng.choice(free)
        self.second[(ws, slot)] = {"kind": rng.choice(["file", "exec"]),
                                   "first": rng.random() < 0.3}
        os.makedirs(self.second_dir(ws, slot), exist_ok=True)
        active = [r for r in self.rows() if r["ws"] == ws and r["slot"] == slot and
                  r["state"] == "active"]
        handed = active and active[0]["origin"] == "imported"
        if not handed:
            self.added.add((ws, slot))
        files = [p for p in self.consumers(ws, slot) if os.path.exists(p)]
        if handed and not files:
            handed = False
            self.added.add((ws, slot))
        if handed:
            held = read_consumer(files[0])
            other = os.path.join(self.second_dir(ws, slot), "token.json")
            fd = os.open(other, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                json.dump(held, f)
        self.write_policy()
        self.note("policy: %s/%s gains a consumer (%s, %s)%s" % (
            ws, slot, self.second[(ws, slot)]["kind"],
            "first" if self.second[(ws, slot)]["first"] else "second",
            ", handed the imported token" if handed else ""))

    def step_consumer(self):
        """A slot's second consumer goes down, or comes back."""
        if not self.second:
            return
        ws, slot = self.rng.choice(sorted(self.second))
        down = (ws, slot) not in self.down
        self.set_down(ws, slot, down)
        self.note("consumer %s of %s/%s (%s) %s" % (
            1 if self.second[(ws, slot)]["first"] else 2, ws, slot,
            self.second[(ws, slot)]["kind"], "down" if down else "back"))

    def step_move_consumer(self):
        """The admin moves a slot's file consumer to another slot (of either workspace),
        or back to its own.  The token it holds stays on the server until its new slot's
        next token reaches it (core/plan.c: unreached): P7.  A slot whose active token
        was imported gets it by hand, as step_add_consumer's does.  Often the slot it
        left then rotates, and runs again alone."""
        rng = self.rng
        slots = [(ws, s) for ws in self.wss for s in self.slots[ws]]
        files = sorted(o for o in set(slots) | set(self.moved)
                       if self.moved.get(o, o) is not None)
        if not files or len(slots) < 2:
            return
        o = rng.choice(files)
        self.roamed.add(self.consumer(*o))
        at = self.moved.get(o, o)
        unrecorded = self.import_unrecorded(at)
        to = rng.choice([x for x in slots if x != at])
        if to == o:
            del self.moved[o]
        else:
            self.moved[o] = to
        active = [r for r in self.rows() if r["ws"] == to[0] and r["slot"] == to[1] and
                  r["state"] == "active"]
        others = [p for p in self.consumers(*to) if p != self.consumer(*o) and
                  os.path.exists(p)]
        handed = active and active[0]["origin"] == "imported" and others
        if handed:
            with open(others[0]) as f:
                held = json.load(f)
            fd = os.open(self.consumer(*o) + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
                         0o600)
            with os.fdopen(fd, "w") as f:
                json.dump(held, f)
            os.rename(self.consumer(*o) + ".tmp", self.consumer(*o))
        self.write_policy()
        self.note("policy: %s/%s's file moved from %s/%s to %s/%s%s" % (
            o + at + to + (", handed the imported token" if handed else "",)))
        # The file holds a token imported into its old slot, which no run has recorded
        # as reached: the store cannot know the file holds it.  README's remedy: give
        # the new slot a token at once.
        if unrecorded:
            rc = self.rotate(["--force", "%s/%s" % to])
            self.note("rotate --force %s/%s (an import not yet recorded) -> %s" % (to + (rc,)))
        # Often the admin rotates the slot it left at once, and later that slot alone
        # runs again (--only), often past its grace: the token the file holds, which
        # that rotation retired, must wait for the file's new slot all the same (P7).
        if rng.random() < 0.5:
            rc = self.rotate(["--force", "%s/%s" % at])
            self.note("rotate --force %s/%s -> %s" % (at + (rc,)))
            if rng.random() < 0.6:
                self.at(self.now + rng.randint(1, 60) * HOUR)
                rc = self.rotate(["--only", "%s/%s" % at])
                self.note("rotate --only %s/%s -> %s" % (at + (rc,)))

    def import_unrecorded(self, slot):
        """Whether slot (ws, name)'s active token was imported and no run has recorded the
        consumers it reached (the store's slot_reached): they were handed it by hand."""
        con = connect_ro(self.tw.db)
        n = con.execute(
            "SELECT count(*) FROM tokens t JOIN workspaces w ON w.id = t.workspace_id "
            "JOIN slots s ON s.id = t.slot_id WHERE w.name = ? AND s.name = ? AND "
            "t.state = 'active' AND t.origin = 'imported' AND t.id NOT IN "
            "(SELECT token_row FROM slot_reached)", slot).fetchone()[0]
        con.close()
        return n > 0

    def step_time(self):
        rng = self.rng
        hours = rng.choice([rng.randint(1, 30), rng.randint(24, 24 * 12),
                            rng.randint(24, 24 * 40)])
        self.at(self.now + hours * HOUR)
        self.note("time +%s" % duration(hours * 3600))

    def build_inventory(self):
        rng = self.rng
        if rng.random() < 0.85:
            rc = self.rotate()
            self.note("rotate (first) -> %s" % rc)
        steps = [self.step_time, self.step_time, self.step_rotate, self.step_rotate,
                 self.step_rotate, self.step_import, self.step_import, self.step_create,
                 self.step_revoke, self.step_edit, self.step_add_consumer, self.step_consumer,
                 self.step_consumer, self.step_move_consumer]
        for _ in range(rng.randint(4, 10)):
            rng.choice(steps)()
        for r in self.rows():
            st = r["state"]
            if st in ("active", "retiring") and r["expires_at"] <= ms(self.now):
                st += "(expired)"
            self.states_seen.add(st)
        # What one consumer of two did to a replacement, from the history (for the summary).
        r = self.tw.run(["audit", "log", "--json"])
        for e in (json.loads(line) for line in r.stdout.splitlines() if line.strip()):
            reason = (e.get("details") or {}).get("reason", "")
            if "another refused it" in reason:
                self.states_seen.add("kept(one consumer of two)")

    # --- the run after the outage --------------------------------------------------
    def run(self):
        rng = self.rng
        # One admin key for both workspaces (one worker), or one each (a worker each).
        self.shared_cred = rng.random() < 0.4
        users = [(ws, "admin-key" if self.shared_cred else ws + "-key",
                  "admin-secret" if self.shared_cred else ws + "-secret")
                 for ws in ("acme", "beta")]
        self.sim = Sim(self.modesim, self.tmp, users, self.now,
                       seed=rng.randint(1, 2 ** 31))
        creds = {self.cred_name(ws): "%s:%s" % (key, secret) for ws, key, secret in users}
        self.tw = Tw(self.tw_bin, self.tmp, creds, keypair=self.keypair)
        self.gen_policy()
        self.build_inventory()
        days = rng.choice([0, rng.randint(0, 10), rng.randint(0, 60), rng.randint(30, 60)])
        # At least a minute: no run starts the instant the one before it did, and what
        # a run marks due "now" is due for the next.
        outage = days * DAY + rng.randint(0, 23) * HOUR + datetime.timedelta(minutes=1)
        self.at(self.now + outage)
        self.note("host off for %s" % duration(int(outage.total_seconds())))
        self.sim.faults({})
        self.restore_creds()
        # Most consumers are back; a few stay down through the recovery run.
        for ws, slot in sorted(self.down):
            if rng.random() < 0.3:
                self.note("consumer of %s/%s still down" % (ws, slot))
                continue
            self.set_down(ws, slot, False)
            self.note("consumer of %s/%s back" % (ws, slot))
        if self.down:
            # A consumer still down fails every try: the default 20 tries, 2 minutes apart,
            # would take the run's whole time.
            if "retries" not in self.final_schedule:
                self.final_schedule += ", retries: 2"
            if "retry_backoff" not in self.final_schedule:
                self.final_schedule += ", retry_backoff: 1s"
        if self.schedule != self.final_schedule:
            self.schedule = self.final_schedule
            self.write_policy()
        first = self.tw.last_event_id()
        before = self.rows()
        # What the moved files hold before the run: a token one holds waits (P5).
        roaming = {(read_consumer(p) or {}).get("token") for ws in self.wss
                   for s in self.slots[ws] for p in self.consumers(ws, s) if p in self.roamed}
        put_off = self.put_off()
        r = self.tw_run(["rotate"], log_json=True)
        self.note("recovery rotate -> %d" % r.returncode)
        self.recovery_rc = r.returncode
        self.recovery_log = r.stderr
        problems = [("P1 run", p) for p in check_run(self.tw, r, first)]
        rows = self.rows()
        server = self.sim.tokens()
        slots = [(ws, s) for ws in self.wss for s in self.slots[ws]]
        problems += [("P2 slots", p) for p in check_slots(
            [x for x in slots if x not in self.down and x not in put_off], rows, server,
            self.now, self.consumers)]
        problems += [("P2 slots", p) for p in self.check_down(rows, server)]
        problems += [("P2 slots", p) for p in self.check_put_off(
            sorted(put_off - self.down), rows, server)]
        problems += [("P3 server", p) for p in check_accounted(rows, server, self.now)]
        problems += [("P4 history", p) for p in check_history(self.tw)]
        problems += [("P5 due", p) for p in self.check_due(before, rows, roaming)]
        problems += [("P6 secrets", p) for p in self.check_left(slots, server)]
        problems += [("P6 secrets", p) for p in check_sealed(rows)]
        problems += [("P7 moved", p) for p in self.between + self.check_roamed(slots, server)]
        return problems

    def check_left(self, slots, server):
        """What a killed delivery left beside a consumer's file (.NAME.tw-XXXXXX) holds
        no token the server still has: the next run that settles its row removes it."""
        problems = []
        live = {t["token"] for t in server}
        for ws, slot in slots:
            for path in self.consumers(ws, slot):
                d, name = os.path.split(path)
                if not os.path.isdir(d):
                    continue
                for e in sorted(os.listdir(d)):
                    if not re.fullmatch(r"\.%s\.tw-[A-Za-z0-9_-]{6}" % re.escape(name), e):
                        continue
                    with open(os.path.join(d, e)) as f:
                        held = json.load(f).get("token")
                    if held in live:
                        problems.append("%s/%s: %s beside %s holds %s, live on the server" % (
                            ws, slot, e, path, held))
        return problems

    def check_due(self, before, rows, roaming):
        """The recovery run, its faults cleared, deletes every replaced token that was past
        its grace when it began, but one kept for its consumers, and one a moved file
        (roaming: what they hold) held then, or the plan before the run held (a held
        finding: the store's record says a consumer may hold it, which a token handed
        by hand since does not change), unexpired: it goes at the run after the one
        that reaches that file."""
        problems = []
        now = ms(self.now)
        after = {r["row"]: r for r in rows}
        active = {(r["ws"], r["slot"]): r["row"] for r in before if r["state"] == "active"}
        for r in before:
            if r["state"] != "retiring" or r["retire_after"] is None or \
                    r["retire_after"] > now or r["slot"] not in self.slots.get(r["ws"], ()):
                continue
            newer = r["row"] > active.get((r["ws"], r["slot"]), r["row"])
            if newer and r["retire_after"] >= r["expires_at"]:
                continue
            if (r["token"] in roaming or r["token"] in self.held) and r["expires_at"] > now:
                continue
            if after[r["row"]]["state"] == "retiring":
                problems.append("%s/%s: %s is still retiring, due since %s" % (
                    r["ws"], r["slot"], r["token"], iso(from_ms(r["retire_after"]))))
        return problems

    def put_off(self):
        """The slots of the policy the planner puts off now: a failure's backoff lasts past
        now, and their token has slack (core/plan.c), so a run leaves them to a later one
        though their consumers are back; or their window is closed, and a consumer added
        or moved to them waits for it."""
        r = self.tw_run(["plan", "--json"])
        plan = json.loads(r.stdout)
        tried = {(a["workspace"], a["slot"]) for a in plan["actions"]
                 if a["slot"] and a["action"] == "create"}
        failing = {(f["workspace"], f["slot"]) for f in plan["findings"]
                   if f["finding"] in ("failing", "stuck") and f["slot"]}
        windowed = {x for x in self.settings if "window:" in self.settings[x]}
        # What the plan keeps past its grace for a consumer that may hold it (P5).
        self.held = {f["token"] for f in plan["findings"] if f["finding"] == "held"}
        return {x for x in (failing | windowed) - tried if x[1] in self.slots.get(x[0], ())}

    def check_put_off(self, slots, rows, server):
        """A slot put off (its backoff, its window) keeps one active token, live on the
        server, and each consumer holds a live token the store keeps to its expiry: the
        active one, or one kept for it after a partial delivery."""
        problems = []
        on_server = {(t["workspace"], t["token"]): t for t in server}
        for ws, slot in slots:
            active = [r for r in rows if r["ws"] == ws and r["slot"] == slot and
                      r["state"] == "active"]
            live = [r for r in active if (ws, r["token"]) in on_server and
                    not on_server[(ws, r["token"])]["expired"]]
            if len(active) != 1 or len(live) != 1:
                problems.append("%s/%s, put off (its backoff or window), has %d active tokens, %d live "
                                "on the server" % (ws, slot, len(active), len(live)))
            for i, path in enumerate(self.consumers(ws, slot)):
                if path in self.roamed:  # P7
                    continue
                held = read_consumer(path)
                # A consumer added since the slot's token waits for its next, after the backoff.
                if held is None and (ws, slot) in self.added:
                    continue
                held = held or {}
                t = on_server.get((ws, held.get("token")))
                row = next((r for r in rows if r["ws"] == ws and r["token"] == held.get("token")),
                           None)
                if t is None or t["expired"] or row is None or row["state"] not in (
                        "active", "retiring") or (row["state"] == "retiring" and
                                                  row["retire_after"] < row["expires_at"]):
                    problems.append("%s/%s, put off (its backoff or window): its consumer %d holds %s, "
                                    "not a live token kept to its expiry" % (
                                        ws, slot, i + 1, held.get("token")))
        return problems

    def check_roamed(self, slots, server):
        """A file the policy moved from slot to slot holds a token the server still has,
        unless that token expired or someone revoked or deleted it by hand: the token
        it holds is deleted only once its slot's next token reaches it."""
        problems = []
        by_id = {t["token"]: t for t in server}
        for ws, slot in slots:
            for path in self.consumers(ws, slot):
                held = read_consumer(path) if path in self.roamed else None
                if held is None or held.get("token") in self.killed:
                    continue
                if parse(held["expires_at"]) <= self.now:
                    continue
                t = by_id.get(held["token"])
                if t is None or t["expired"]:
                    problems.append("%s/%s: its consumer %s, moved, holds %s, unexpired, "
                                    "which the server no longer has" % (
                                        ws, slot, os.path.basename(path), held["token"]))
        return problems

    def check_down(self, rows, server):
        """A slot whose second consumer is still down may have lapsed (its first consumer
        refuses every replacement, or the backoff put off the try); but the store never
        plans to delete a token one of its consumers holds before that token expires."""
        problems = []
        on_server = {(t["workspace"], t["token"]): t for t in server}
        for ws, slot in sorted(self.down):
            for i, path in enumerate(self.consumers(ws, slot)):
                if path in self.roamed:  # P7
                    continue
                held = read_consumer(path)
                t = on_server.get((ws, held.get("token"))) if held else None
                row = next((r for r in rows if t is not None and r["ws"] == ws and
                            r["token"] == t["token"]), None)
                if row is None or t["expired"] or parse(t["expires_at"]) <= self.now:
                    continue
                if row["state"] == "retiring" and row["retire_after"] < row["expires_at"]:
                    problems.append("%s/%s: its consumer %d of 2 holds %s, which the store "
                                    "retires before its expiry" % (ws, slot, i + 1,
                                                                   row["token"]))
        return problems

    def stop(self):
        if getattr(self, "sim", None) is not None:
            return self.sim.stop()
        return 0


def main():
    if len(sys.argv) != 3:
        print(next(l for l in __doc__.splitlines() if l.startswith("usage:")),
              file=sys.stderr)
        return 2
    modesim, tw_bin = sys.argv[1], sys.argv[2]
    os.umask(0o077)
    seed = os.environ.get("TW_SEED") or str(random.SystemRandom().randint(1, 10 ** 9))
    ncases = int(os.environ.get("TW_CASES") or DEFAULT_CASES)
    only = os.environ.get("TW_CASE")
    keep = bool(os.environ.get("TW_KEEP"))
    cases = [int(only)] if only else range(ncases)
    print("property: seed %s, %d case%s (TW_SEED=%s TW_CASE=N to rerun one)" % (
        seed, len(cases), "" if len(cases) == 1 else "s", seed), flush=True)
    root = tempfile.mkdtemp(prefix="tw-property.")
    started = time.monotonic()
    failed, kinds, seen, statuses = [], {}, {}, {}
    down = 0  # cases with a run while a consumer was down
    keypair = (os.path.join(root, "seal.pub"), os.path.join(root, "seal.key"))
    try:
        subprocess.run([tw_bin, "keygen", "--public-key", keypair[0], "--secret-key",
                        keypair[1], "--no-passphrase"], check=True, stdout=subprocess.DEVNULL)
        for n in cases:
            c = Case(seed, n, modesim, tw_bin, root, keypair)
            try:
                problems = c.run()
            except CaseFailed as e:
                problems = [("setup", str(e))]
            except Exception as e:  # a crash of the test itself: still say which case
                problems = [("test", "%s: %s" % (type(e).__name__, e))]
            finally:
                if c.stop() != 0:
                    problems.append(("sim", "modesim exited with an error"))
            for st in c.states_seen:
                seen[st] = seen.get(st, 0) + 1
            down += c.runs_down > 0
            rc = str(getattr(c, "recovery_rc", "none"))
            statuses[rc] = statuses.get(rc, 0) + 1
            if not problems:
                shutil.rmtree(c.tmp, ignore_errors=True)
                continue
            failed.append(n)
            for k, _ in problems:
                kinds[k] = kinds.get(k, 0) + 1
            print("\nFAIL: seed %s case %d (TW_SEED=%s TW_CASE=%d)" % (seed, n, seed, n),
                  file=sys.stderr)
            if len(failed) <= 10 or only:
                print("  policy ($CASE is %s):\n    %s" % (
                    c.tmp, getattr(c, "policy_text", "?").rstrip().replace(
                        c.tmp, "$CASE").replace("\n", "\n    ")), file=sys.stderr)
                print("  steps:\n    " + "\n    ".join(c.history), file=sys.stderr)
            for k, p in problems[:8]:
                print("  %s: %s" % (k, p.replace(c.tmp, "$CASE")), file=sys.stderr)
            if len(problems) > 8:
                print("  ... %d more" % (len(problems) - 8), file=sys.stderr)
            if keep:
                print("  kept %s" % c.tmp, file=sys.stderr, flush=True)
            else:
                shutil.rmtree(c.tmp, ignore_errors=True)
    finally:
        if not keep:
            shutil.rmtree(root, ignore_errors=True)
    print("\nproperty: seed %s: %d case%s in %.1f s, %d failed%s; recovery run exits %s; "
          "states before recovery (cases): %s; a run with a consumer down: %d cases" % (
              seed, len(cases), "" if len(cases) == 1 else "s", time.monotonic() - started,
              len(failed), (" (" + ", ".join("%s %d" % kv for kv in sorted(kinds.items())) +
                            ")") if failed else "",
              dict(sorted(statuses.items())), dict(sorted(seen.items())), down))
    if failed:
        print("FAIL: cases %s; rerun one with TW_SEED=%s TW_CASE=N" % (
            " ".join(map(str, failed)), seed), file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
