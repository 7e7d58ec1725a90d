#!/usr/bin/env python3
"""End-to-end: the alerts `tokenwarden rotate` sends to the policy's webhooks.

A webhook server on loopback records what each of three targets receives:
/all takes every kind, /default the default kinds (failure, stuck,
violation), and a third, on a closed port, only successes.  With the
simulated clock moving, one slot and one hand-made token:
  1. the first run alerts its success to /all only, and the two violations
     the hand-made token brings (unmanaged, max-lifetime) in one message to
     /all and /default; the closed target is logged by its line in the
     policy, never by its URL, and the run still succeeds;
  2. a second run at once alerts nothing: the violations were just sent;
  3. 23 hours later the violations are reminded ("still: ");
  4. once the policy allows the token, its violations are over and
     forgotten: they alert as new when the policy forbids it again;
  5. a consumer that fails alerts a failure, its exit status but not its
     output; the second failure in a row (stuck_after: 2) alerts the slot
     as stuck too;
  6. a create refused with 401 marks its attempt failed and alerts it;
  7. the slot's recovery alerts a success;
  8. a run that refuses a store edited outside tokenwarden alerts a
     failure (a dry run, none).
No message carries a secret: not the admin credential, nor any token's
access key or secret.  Every body is JSON with a "text" field.

usage: test_alerts.py MODESIM TOKENWARDEN
"""
import datetime
import http.server
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request


START = datetime.datetime(2026, 11, 1, 2, 0, tzinfo=datetime.timezone.utc)
ADMIN = ("adminkey", "adminsecret")
PROBLEMS = []
SECRETS = set(ADMIN)  # no alert may carry these; grows with each token delivered
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: no proxy


def fail(text):
    PROBLEMS.append(text)
    print("FAIL: " + text, file=sys.stderr, flush=True)


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%MZ")


class Hooks(http.server.BaseHTTPRequestHandler):
    """Records each POST's path and body; answers 200."""
    received = []
    lock = threading.Lock()

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with self.lock:
            self.received.append((self.path, body.decode("utf-8", "replace")))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def take():
    """The alerts received since the last call, as (path, parsed body)."""
    with Hooks.lock:
        got, Hooks.received[:] = list(Hooks.received), []
    out = []
    for path, body in got:
        for secret in SECRETS:
            if secret in body:
                fail("an alert to %s carries a secret: %s" % (path, body))
        try:
            msg = json.loads(body)
        except ValueError:
            fail("an alert to %s is not JSON: %r" % (path, body))
            continue
        if not isinstance(msg.get("text"), str) or not msg["text"].startswith("tokenwarden "):
            fail("an alert to %s has no text for chat webhooks: %r" % (path, body))
        out.append((path, msg))
    return out


def kinds(alerts):
    return sorted((path, msg["kind"]) for path, msg in alerts)


def failures(alerts):
    return [a for a in alerts if a[1]["kind"] == "failure"]


def integrity_alerted(got, what, says, new):
    """got must be one failure alert to each failure webhook about the store's history,
    new (or a reminder, "still: ")."""
    if kinds(got) != [("/all", "failure"), ("/default", "failure")]:
        fail("%s alerted %s" % (what, kinds(got)))
    elif not ("no longer follow from the history" in got[0][1]["text"]
              and says in got[0][1]["text"]
              and "tokenwarden audit verify" in got[0][1]["text"]
              and ("still: " in got[0][1]["text"]) != new):
        fail("the alert of %s reads %r" % (what, got[0][1]["text"]))


def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Env:
    def __init__(self, tw, tmp, sim_url):
        self.tw, self.tmp, self.sim_url = tw, tmp, sim_url
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("TOKENWARDEN_")}
        self.env["TOKENWARDEN_LOG_FORMAT"] = "plain"  # whole lines are read
        self.env["CREDENTIALS_DIRECTORY"] = os.path.join(tmp, "creds")
        self.now = START

    def at(self, t):
        self.now = t
        self.env["TOKENWARDEN_NOW"] = iso(t)
        self.set_sim_clock(t)

    def set_sim_clock(self, t):
        """The server's clock alone (at sets both)."""
        req = urllib.request.Request(self.sim_url + "/_sim/clock", method="POST",
                                     data=json.dumps({"now": iso(t)}).encode())
        _opener.open(req, timeout=10).read()

    def run(self, want, *args, stdin=None):
        r = subprocess.run([self.tw] + list(args), env=self.env, capture_output=True, text=True,
                           input=stdin)
        if r.returncode != want:
            fail("tokenwarden %s at %s: exit %d, expected %d\n%s%s" % (
                " ".join(args), iso(self.now), r.returncode, want, r.stdout, r.stderr))
        return r

    def delivered(self):
        """Adds the slot's delivered credentials to the secrets no alert may carry."""
        try:
            held = json.load(open(os.path.join(self.tmp, "etl.json")))
        except (OSError, ValueError):
            return
        SECRETS.add(held["access_key"])
        SECRETS.add(held["access_secret"])


def write_policy(path, tmp, db, sim_url, port, dead, enforce, integrity="refuse"):
    with open(path, "w") as f:
        f.write("""version: 1
store: {{ path: {db}, public_key: {tmp}/seal.pub, integrity: {integrity} }}
defaults: {{ lifetime: 30d, rotate_before: 20%, grace: 1d }}
schedule: {{ stuck_after: 2 }}
enforce: {enforce}
notify:
  - {{ webhook: 'http://127.0.0.1:{port}/all', events: [failure, stuck, violation, success] }}
  - {{ webhook: 'http://127.0.0.1:{port}/default' }}
  - {{ webhook: 'http://127.0.0.1:{dead}/gone', events: [success] }}
workspaces:
  - name: acme
    api: {sim}
    credential: acme-admin
    tokens:
      - name: etl
        deliver: [ {{ file: {tmp}/etl.json }}, {{ exec: [{tmp}/hook.sh] }} ]
""".format(db=db, tmp=tmp, sim=sim_url, port=port, dead=dead, enforce=enforce,
           integrity=integrity))
    os.chmod(path, 0o600)


STRICT = "{ max_lifetime: 90d, unmanaged: report }"
# The slot's active token row, which the steps that edit the store outside it edit.
ETL_ACTIVE = "WHERE state = 'active' AND slot_id = (SELECT id FROM slots WHERE name = 'etl')"
LENIENT = "{ max_lifetime: 365d, unmanaged: ignore }"


def main():
    modesim, tw = sys.argv[1], sys.argv[2]
    os.umask(0o077)
    tmp = tempfile.mkdtemp(prefix="tw-alerts.")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hooks)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port, dead = server.server_address[1], closed_port()
    sim = None
    try:
        port_file = os.path.join(tmp, "port")
        sim_log = open(os.path.join(tmp, "sim.log"), "w")
        sim = subprocess.Popen([modesim, "--port", "0", "--port-file", port_file, "--workspace",
                                "acme:%s:%s" % ADMIN, "--now", iso(START)],
                               stdout=sim_log, stderr=sim_log)
        for _ in range(300):
            if os.path.exists(port_file) and os.path.getsize(port_file) > 0:
                break
            time.sleep(0.05)
        sim_url = "http://127.0.0.1:" + open(port_file).read().strip()
        e = Env(tw, tmp, sim_url)
        os.mkdir(os.path.join(tmp, "creds"))
        cred = os.path.join(tmp, "creds", "acme-admin")
        with open(cred, "w") as f:
            f.write("%s:%s\n" % ADMIN)
        hook_exit = os.path.join(tmp, "hook-exit")
        with open(os.path.join(tmp, "hook.sh"), "w") as f:
            f.write("#!/bin/sh\ncat >/dev/null\n[ -e %s ] || exit 0\necho reload failed >&2\n"
                    "exit 4\n" % hook_exit)
        os.chmod(os.path.join(tmp, "hook.sh"), 0o700)
        db = os.path.join(tmp, "tw.db")
        e.run(0, "keygen", "--public-key", tmp + "/seal.pub", "--secret-key", tmp + "/seal.key",
              "--no-passphrase")
        e.run(0, "init", "--db", db, "--public-key", tmp + "/seal.pub")
        policy = os.path.join(tmp, "policy.yaml")
        e.env["TOKENWARDEN_CONFIG"] = policy
        write_policy(policy, tmp, db, sim_url, port, dead, STRICT)
        e.at(START)
        e.run(0, "token", "import", "--db", db, "--public-key", tmp + "/seal.pub", "-w", "acme",
              "--token", "tok-hand", "-n", "made by hand", "--created-at", iso(START),
              "--expires-at", iso(START + datetime.timedelta(days=200)))

        # 1. The first run: a success to /all, the violations to /all and /default.
        r = e.run(0, "rotate")
        e.delivered()
        got = take()
        if kinds(got) != [("/all", "success"), ("/all", "violation"),
                          ("/default", "violation")]:
            fail("first run alerted %s" % kinds(got))
        for path, msg in got:
            if msg["kind"] == "violation" and not (
                    msg["text"].startswith("tokenwarden violation: 2 violations of the policy\n")
                    and "\nunmanaged acme/- tok-hand: " in msg["text"]
                    and "\nmax-lifetime acme/- tok-hand: lives 6mo 17d" in msg["text"]):
                fail("the violation alert reads %r" % msg["text"])
            if msg["kind"] == "success" and (msg["workspace"], msg["slot"]) != ("acme", "etl"):
                fail("the success alert names %s/%s" % (msg["workspace"], msg["slot"]))
        if "alerted 2 violations of the policy" not in r.stderr:
            fail("the run did not log its violation alert:\n" + r.stderr)
        line = next(i for i, l in enumerate(open(policy), 1) if "/gone" in l)
        if "alert not sent: webhook at line %d: " % line not in r.stderr:
            fail("the closed webhook's failure is not logged by its line:\n" + r.stderr)
        if str(dead) in r.stderr or str(dead) in r.stdout:
            fail("the closed webhook's URL reached the output")

        # 2. At once again: nothing new to say.
        e.run(0, "rotate")
        got = take()
        if got:
            fail("a second run alerted again: %s" % kinds(got))

        # 3. 23 hours on (and a minute: the clock ran on during the first run): reminded.
        e.at(START + datetime.timedelta(hours=23, minutes=1))
        e.run(0, "rotate")
        got = take()
        if kinds(got) != [("/all", "violation"), ("/default", "violation")]:
            fail("no reminder after 23 hours: %s" % kinds(got))
        elif "\nstill: unmanaged acme/- tok-hand" not in got[0][1]["text"]:
            fail("the reminder does not say the violation is old: %r" % got[0][1]["text"])
        e.at(START + datetime.timedelta(hours=30))
        e.run(0, "rotate")
        if take():
            fail("reminded again within the day")

        # 4. Allowed, the violations are over; forbidden again, they are new.
        write_policy(policy, tmp, db, sim_url, port, dead, LENIENT)
        e.run(0, "rotate")
        if take():
            fail("alerts while nothing is wrong")
        write_policy(policy, tmp, db, sim_url, port, dead, STRICT)
        e.run(0, "rotate")
        got = take()
        if kinds(got) != [("/all", "violation"), ("/default", "violation")]:
            fail("a violation that came back did not alert: %s" % kinds(got))
        elif "still:" in got[0][1]["text"]:
            fail("a violation that came back was not new: %r" % got[0][1]["text"])

        # 5. A failing consumer: a failure; the second in a row: stuck as well.
        open(hook_exit, "w").close()
        due = START + datetime.timedelta(days=25)
        e.at(due)
        e.run(1, "rotate")
        got = [a for a in take() if a[1]["kind"] != "violation"]
        if kinds(got) != [("/all", "failure"), ("/default", "failure")]:
            fail("a failed delivery alerted %s" % kinds(got))
        elif "could not be delivered" not in got[0][1]["text"] or \
                "exit status 4; its output is in the log" not in got[0][1]["text"]:
            fail("the failure alert reads %r" % got[0][1]["text"])
        # What a hook prints stays in the log: never in an alert.
        if any("reload failed" in json.dumps(msg) for _, msg in got):
            fail("a failure alert carries the hook's output")
        e.at(due + datetime.timedelta(minutes=16))
        e.run(1, "rotate")
        got = [a for a in take() if a[1]["kind"] != "violation"]
        if kinds(got) != [("/all", "failure"), ("/all", "stuck"), ("/default", "failure"),
                          ("/default", "stuck")]:
            fail("the second failure in a row alerted %s" % kinds(got))

        # 6. A create refused (401): its attempt failed, and alerted.
        os.unlink(hook_exit)
        with open(cred, "w") as f:
            f.write("adminkey:wrong\n")
        e.run(1, "rotate", "--force", "etl")
        got = [a for a in take() if a[1]["kind"] != "violation"]
        if ("/default", "failure") not in kinds(got):
            fail("a refused create alerted %s" % kinds(got))
        con = sqlite3.connect(db)
        failed = con.execute("SELECT count(*) FROM tokens WHERE state = 'failed'").fetchone()[0]
        con.close()
        if failed != 1:
            fail("the refused create left %d failed rows, expected 1" % failed)

        # 7. Recovered: a success, to /all only.
        with open(cred, "w") as f:
            f.write("%s:%s\n" % ADMIN)
        e.run(0, "rotate", "--force", "etl")
        e.delivered()
        got = [a for a in take() if a[1]["kind"] != "violation"]
        if kinds(got) != [("/all", "success")]:
            fail("the recovery alerted %s" % kinds(got))
        e.run(0, "audit", "verify", "--db", db)

        # 8. A store edited outside tokenwarden: the run refuses, and alerts it.
        # It lasts from run to run: the daemon meets it every minute, and it is
        # alerted when first met and once a day while it lasts.
        t8 = due + datetime.timedelta(hours=1)
        e.at(t8)
        con = sqlite3.connect(db)
        con.execute("UPDATE tokens SET expires_at = expires_at + 86400000 " + ETL_ACTIVE)
        con.commit()
        con.close()
        e.run(1, "rotate")
        integrity_alerted(take(), "a refused run", "nothing was done", new=True)
        e.at(t8 + datetime.timedelta(minutes=1))
        e.run(1, "rotate")
        if failures(take()):
            fail("a refused run a minute after the last alerted again")
        e.run(0, "rotate", "--dry-run")
        if take():
            fail("a dry run alerted")

        # 9. The same store under integrity: warn, a day on: the run goes on, and
        # the difference still reaches the security team, at the default too.
        write_policy(policy, tmp, db, sim_url, port, dead, STRICT, "warn")
        e.at(t8 + datetime.timedelta(hours=23, minutes=1))
        e.run(0, "rotate", "--force", "etl")
        e.delivered()
        integrity_alerted(failures(take()), "a run on under integrity: warn", "running on",
                          new=False)
        e.run(0, "rotate", "--dry-run")
        if take():
            fail("a dry run under integrity: warn alerted")

        # 10. The rotation recorded the edited row as it found it: the tables
        # follow from the history again, the failure is over, and an edit
        # after that alerts as new at once.
        t10 = t8 + datetime.timedelta(hours=23, minutes=2)
        e.at(t10)
        e.run(0, "audit", "verify", "--db", db)
        e.run(0, "rotate")
        if failures(take()):
            fail("a run on a store that follows from its history alerted a failure")
        con = sqlite3.connect(db)
        con.execute("UPDATE tokens SET expires_at = expires_at + 60000 " + ETL_ACTIVE)
        con.commit()
        con.close()
        e.at(t10 + datetime.timedelta(minutes=1))
        e.run(0, "rotate")
        integrity_alerted(failures(take()), "an edit after the last was over", "running on",
                          new=True)

        # 11. A workspace whose clock disagrees with its server's: the run leaves
        # it alone, alerted when first met, not a minute later, again a day
        # on ("still: "), and as new once it has agreed in between.
        write_policy(policy, tmp, db, sim_url, port, dead, STRICT)
        con = sqlite3.connect(db)
        con.execute("UPDATE tokens SET expires_at = expires_at - 60000 " + ETL_ACTIVE)
        con.commit()
        con.close()
        t11 = t10 + datetime.timedelta(hours=2)

        def skewed_run(t, want_alert, new, what):
            e.at(t)
            e.set_sim_clock(t + datetime.timedelta(days=45))
            e.run(1, "rotate")
            got = failures(take())
            if not want_alert:
                if got:
                    fail("%s alerted %s" % (what, kinds(got)))
            elif kinds(got) != [("/all", "failure"), ("/default", "failure")]:
                fail("%s alerted %s" % (what, kinds(got)))
            elif "clock" not in got[0][1]["text"] or \
                    ("still: " in got[0][1]["text"]) == new:
                fail("the clock alert of %s reads %r" % (what, got[0][1]["text"]))

        skewed_run(t11, True, True, "a clock 45 days apart")
        skewed_run(t11 + datetime.timedelta(minutes=1), False, None, "the same a minute on")
        skewed_run(t11 + datetime.timedelta(hours=23, minutes=1), True, False,
                   "the same a day on")
        e.at(t11 + datetime.timedelta(hours=23, minutes=2))
        e.run(0, "rotate")
        if failures(take()):
            fail("a run whose clocks agree alerted a failure")
        skewed_run(t11 + datetime.timedelta(hours=23, minutes=3), True, True,
                   "a clock apart again after it agreed")
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
    print("all alert checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
