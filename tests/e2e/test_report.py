#!/usr/bin/env python3
"""End-to-end: audit report's formats against a fixed inventory, checked from outside.

One simulator, two workspaces and a policy whose slot name `etl` is in both;
the clock moves so that the store holds active, retiring, unmanaged and
expired tokens, a paused slot and a hand-made token whose name is hostile
to spreadsheets and browsers.  Then, at one fixed time:
  json   validates against docs/audit-report.schema.json; its tokens are the
         store's live rows and every token on /_sim/tokens; its slots are the
         policy's; its history is the store's since --since, up to --at
  csv    every table round-trips through Python's csv module: the tokens
         table row for row equal to the JSON (a formula-like cell keeps a
         leading '), findings, slots and history likewise
  html   opened in headless Chromium: the inventory table's rows, one SVG bar
         per live token, the findings, no request but the page itself, no
         console error (the page's CSP) and the hostile name shown as text,
         never run; a screenshot is saved (README: docs/audit-report.png)
  table  fitted to COLUMNS, colour only on a terminal and never with NO_COLOR
and filters, --output (atomic, 0600), exit statuses, bad options, and a
tampered history reported as not intact.  No report changes the store.

usage: test_report.py MODESIM TOKENWARDEN [SCREENSHOT.png]
"""
import csv
import hashlib
import io
import json
import os
import pty
import re
import select
import shutil
import sqlite3
import stat
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import twsim  # noqa: E402
from twsim import DAY, UTC  # noqa: E402

import datetime  # noqa: E402

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCHEMA = os.path.join(TOP, "docs", "audit-report.schema.json")
T0 = datetime.datetime(2026, 11, 1, 2, 0, tzinfo=UTC)
AT = T0 + 26 * DAY
HOSTILE = '=HYPERLINK("x"),<script>window.pwned=1</script> "q"'
LIVE = ("pending", "created", "verified", "active", "retiring", "unknown", "expired")

failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL: " + msg, file=sys.stderr)


def check(cond, msg):
    if not cond:
        fail(msg)


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def build(sim, tw, tmp):
    """The fixed inventory: returns the policy's path."""
    out = os.path.join(tmp, "out")
    os.makedirs(out)
    policy = os.path.join(tmp, "policy.yaml")
    lines = ["version: 1",
             "store: { path: %s, public_key: %s/seal.pub }" % (tw.db, tmp),
             "defaults: { lifetime: 30d, rotate_before: 20%%, grace: 1d, "
             "deliver: [ { file: '%s/{workspace}-{slot}.json' } ] }" % out,
             "enforce: { max_lifetime: 90d, unmanaged: report, expired: report }",
             "workspaces:"]
    for ws in ("acme", "beta"):
        lines += ["  - name: %s" % ws, "    api: %s" % sim.url,
                  "    credential: %s-admin" % ws, "    rate_limit: 100000/1s",
                  "    tokens:", "      - { name: etl }"]
        lines.append("      - { name: bi, lifetime: 60d }" if ws == "acme" else
                     "      - { name: paused, paused: true }")
    with open(policy, "w") as f:
        f.write("\n".join(lines) + "\n")
    tw.env["TOKENWARDEN_CONFIG"] = policy
    tw.run(["rotate"], now=T0, check=True)
    # A token made by hand in acme, long-lived and hostile in name; one in beta that expires.
    hand = sim.create_token("acme", HOSTILE, T0 + 200 * DAY)
    short = sim.create_token("beta", "short-lived", T0 + 10 * DAY)
    for ws, tok in (("acme", hand), ("beta", short)):
        tw.run(["token", "import", "-w", ws, "--token", tok["token"], "-n", tok["name"],
                "--created-at", tok["created_at"], "--expires-at", tok["expires_at"]],
               now=T0, check=True)
    # Past acme/etl's due time (day 24): replaced, the old one retiring through its grace.
    sim.set_clock(T0 + 25 * DAY)
    tw.run(["rotate"], now=T0 + 25 * DAY, check=True)
    sim.set_clock(AT)
    return policy


def report(tw, args, want=4, env=None):
    r = tw.run(["audit", "report", "--at", twsim.iso(AT)] + args, env=env)
    check(want is None or r.returncode == want, "audit report %s: exit %d, expected %s: %s" % (
        " ".join(args), r.returncode, want, r.stderr.strip()[-400:]))
    return r


def check_json(doc, sim, tw):
    import jsonschema
    with open(SCHEMA) as f:
        schema = json.load(f)
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(doc), key=str)
    for e in errors[:5]:
        fail("JSON does not validate: %s at %s" % (e.message, list(e.absolute_path)))
    rows = [r for r in twsim.store_rows(tw.db) if r["state"] in LIVE]
    got = sorted((t["row"], t["workspace"], t["slot"], t["token"], t["state"])
                 for t in doc["tokens"])
    want = sorted((r["row"], r["ws"], r["slot"], r["token"], r["state"]) for r in rows)
    check(got == want, "JSON tokens %s are not the store's live rows %s" % (got, want))
    server = {(t["workspace"], t["token"]) for t in sim.tokens()}
    listed = {(t["workspace"], t["token"]) for t in doc["tokens"]}
    check(server <= listed, "tokens on the server missing from the report: %s" % (
        server - listed))
    states = {t["state"] for t in doc["tokens"]}
    check({"active", "retiring"} <= states,
          "the fixed inventory lacks a state: %s" % states)
    check(any(t["name"] == HOSTILE for t in doc["tokens"]), "the hostile name is not shown")
    check(doc["summary"]["tokens"] == len(doc["tokens"]), "summary.tokens is not the count")
    slots = sorted((s["workspace"], s["slot"]) for s in doc["slots"])
    check(slots == [("acme", "bi"), ("acme", "etl"), ("beta", "etl"), ("beta", "paused")],
          "slots: %s" % slots)
    for s in doc["slots"]:
        if s["slot"] == "paused":
            check(s["paused"] and s["next_rotation_at"] is None and s["status"] == "paused",
                  "a paused slot: %s" % s)
        else:
            check(s["last_rotation_at"] is not None and s["active_token"] is not None and
                  s["status"] == "ok" and s["failures"] == 0, "slot without its rotation: %s" % s)
    kinds = sorted({f["finding"] for f in doc["findings"]})
    check(kinds == ["expired", "max-lifetime", "paused", "unmanaged"], "findings: %s" % kinds)
    check(all(f["rule"] and f["fix"] for f in doc["findings"]), "a finding lacks its rule/fix")
    check(doc["integrity"]["intact"], "a fresh store's history is not intact")
    with open(doc["policy"]["path"], "rb") as f:
        check(doc["policy"]["sha256"] == hashlib.sha256(f.read()).hexdigest(),
              "the policy's sha256 is wrong")
    con = twsim.connect_ro(tw.db)
    since = twsim.ms(twsim.parse(doc["filter"]["history_since"]))
    ids = [r[0] for r in con.execute("SELECT id FROM events WHERE at >= ? AND at <= ? ORDER BY id",
                                     (since, twsim.ms(AT)))]
    con.close()
    check([e["id"] for e in doc["history"]] == ids, "history is not the store's since --since")
    check(len(ids) > 0, "the fixed history is empty")


def csv_rows(tw, tmp, args):
    """Writes a CSV table with --output and reads it back as bytes, then rows."""
    path = os.path.join(tmp, "report.csv")
    report(tw, ["--format", "csv", "--output", path] + args)
    with open(path, "rb") as f:
        data = f.read()
    check(data.endswith(b"\r\n") and b"\n" not in data.replace(b"\r\n", b""),
          "CSV lines do not end in CRLF")
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


def formula_safe(v):
    return "'" + v if v[:1] in ("=", "+", "-", "@", "\t", "\r") else v


def check_csv(tw, doc, tmp):
    rows = csv_rows(tw, tmp, [])
    head, body = rows[0], rows[1:]
    cols = ["workspace", "slot", "token", "name", "state", "origin", "created_at", "expires_at",
            "age_days", "days_left", "last_verified_at", "created_by", "next_rotation_at"]
    check(head == cols, "CSV head: %s" % head)
    check(len(body) == len(doc["tokens"]), "CSV has %d rows, JSON %d tokens" % (
        len(body), len(doc["tokens"])))
    for line, t in zip(body, doc["tokens"]):
        want = []
        for c in cols:
            v = t[c]
            if v is None:
                want.append("")
            elif isinstance(v, int):
                want.append(str(v))
            else:
                want.append(formula_safe(v))
        check(line == want, "CSV row %s is not the JSON's %s" % (line, want))
    check(any(c.startswith("'=HYPERLINK") for line in body for c in line),
          "a formula-like name was not neutralised")
    for table, key, width in (("findings", "findings", 8), ("slots", "slots", 9),
                              ("history", "history", 9)):
        rows = csv_rows(tw, tmp, ["--table", table])
        check(len(rows) == len(doc[key]) + 1, "CSV %s: %d rows for %d" % (
            table, len(rows) - 1, len(doc[key])))
        check(all(len(x) == width for x in rows), "CSV %s: a row is not %d wide" % (
            table, width))


class Chromium:
    """Headless Chromium driven over the DevTools protocol (python3-websocket)."""

    def __init__(self, tmp):
        import websocket
        exe = shutil.which("chromium") or shutil.which("chromium-browser")
        if exe is None:
            raise FileNotFoundError("chromium")
        self.proc = subprocess.Popen(
            [exe, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-dev-shm-usage", "--remote-debugging-port=0",
             "--user-data-dir=" + os.path.join(tmp, "chromium"), "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        url, deadline = None, time.time() + 60
        while url is None and time.time() < deadline:
            ready, _, _ = select.select([self.proc.stderr], [], [], 1)
            if ready:
                line = self.proc.stderr.readline()
                m = re.search(r"DevTools listening on (ws://\S+)", line)
                if m:
                    url = m.group(1)
                elif line == "" and self.proc.poll() is not None:
                    break
        if url is None:
            raise RuntimeError("chromium did not start")
        self.ws = websocket.create_connection(url, timeout=60, suppress_origin=True)
        self.next_id = 0
        self.events = []
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.call("Target.attachToTarget",
                                 {"targetId": target, "flatten": True})["sessionId"]

    def call(self, method, params=None, session=None):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        self.ws.send(json.dumps(msg))
        while True:
            reply = json.loads(self.ws.recv())
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError("%s: %s" % (method, reply["error"]))
                return reply.get("result", {})
            self.events.append(reply)

    def page(self, method, params=None):
        return self.call(method, params, self.session)

    def wait_event(self, name, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            for e in self.events:
                if e.get("method") == name:
                    return e
            self.ws.settimeout(max(0.1, deadline - time.time()))
            self.events.append(json.loads(self.ws.recv()))
        raise RuntimeError("no %s" % name)

    def eval(self, expr):
        r = self.page("Runtime.evaluate", {"expression": expr, "returnByValue": True})
        return r["result"].get("value")

    def close(self):
        try:
            self.ws.close()
        finally:
            self.proc.terminate()
            self.proc.wait(timeout=30)


def check_html(tw, doc, tmp, shot):
    path = os.path.join(tmp, "report.html")
    report(tw, ["--format", "html", "--output", path])
    check(os.stat(path).st_mode & 0o777 == 0o600, "--output is not 0600")
    try:
        b = Chromium(tmp)
    except (ImportError, FileNotFoundError) as e:
        fail("cannot drive Chromium (./dev installs chromium and python3-websocket): %s" % e)
        return
    try:
        for domain in ("Network.enable", "Log.enable", "Runtime.enable", "Page.enable"):
            b.page(domain)
        b.page("Emulation.setDeviceMetricsOverride",
               {"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False})
        b.page("Page.navigate", {"url": "file://" + path})
        b.wait_event("Page.loadEventFired")
        live = [t for t in doc["tokens"] if t["state"] in LIVE]
        rows = b.eval("document.querySelectorAll('table.inventory tbody tr').length")
        check(rows == len(doc["tokens"]), "HTML inventory has %s rows, JSON %d tokens" % (
            rows, len(doc["tokens"])))
        bars = b.eval("Array.from(document.querySelectorAll('svg g.bar'))"
                      ".map(function(g){return g.getAttribute('data-row')})")
        check(sorted(int(x) for x in bars) == sorted(t["row"] for t in live),
              "SVG bars %s are not one per live token" % bars)
        found = b.eval("document.querySelectorAll('table.findings tbody tr').length")
        check(found == len(doc["findings"]), "HTML findings: %s rows" % found)
        check(b.eval("document.getElementById('verify').className") == "ok",
              "HTML does not say the history is intact")
        check(b.eval("typeof window.pwned") == "undefined", "the hostile name ran as script")
        check(b.eval("document.body.textContent.indexOf(%s) >= 0" % json.dumps(HOSTILE)),
              "the hostile name is not shown as text")
        # Sorting works: a click on Days left orders the rows by it.
        b.eval("document.querySelectorAll('table.inventory th')[9].click()")
        left = b.eval("Array.from(document.querySelectorAll('table.inventory tbody tr'))"
                      ".map(function(r){return parseInt(r.cells[9].textContent)})")
        check(left == sorted(left), "sorting by days left does not sort: %s" % left)
        requests = [e["params"]["request"]["url"] for e in b.events
                    if e.get("method") == "Network.requestWillBeSent"]
        check(requests == ["file://" + path], "the page made requests: %s" % requests)
        errors = [e["params"]["entry"]["text"] for e in b.events
                  if e.get("method") == "Log.entryAdded" and
                  e["params"]["entry"]["level"] == "error"]
        errors += [e["params"] for e in b.events
                   if e.get("method") in ("Runtime.exceptionThrown", "Network.loadingFailed")]
        check(errors == [], "the page logged errors: %s" % errors)
        height = b.eval("Math.ceil(document.documentElement.scrollHeight)")
        png = b.page("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": 1280, "height": min(height, 2400), "scale": 1}})
        import base64
        data = base64.b64decode(png["data"])
        check(data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10000, "no screenshot")
        with open(shot, "wb") as f:
            f.write(data)
        print("screenshot: %s (%d bytes)" % (shot, len(data)))
    finally:
        b.close()


def in_pty(argv, env):
    """Runs argv on a pseudo-terminal; returns what it wrote."""
    pid, fd = pty.fork()
    if pid == 0:
        os.execve(argv[0], argv, env)
    out = b""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    os.waitpid(pid, 0)
    return out.decode(errors="replace")


def check_table(tw, doc):
    r = report(tw, [], env={"COLUMNS": "100", "NO_COLOR": ""})
    check("\x1b[" not in r.stdout, "colour on a pipe")
    text = r.stdout
    check("verified intact" in text, "the table does not say the history is intact")
    check("sha256 " + doc["policy"]["sha256"] in text, "the table lacks the policy's hash")
    head = [l for l in text.splitlines() if l.startswith("WORKSPACE")]
    check(len(head) == 1 and len(head[0]) <= 100, "the inventory is not fitted to 100 "
          "columns: %s" % head)
    wide = report(tw, [], env={"COLUMNS": "400"}).stdout
    check([l for l in wide.splitlines() if l.startswith("WORKSPACE")][0].split()[-2:] ==
          ["NEXT", "ROTATION"], "a wide terminal does not get every column")
    env = dict(tw.env, TERM="xterm", COLUMNS="200", TOKENWARDEN_NOW=twsim.iso_s(AT))
    argv = [tw.bin, "audit", "report", "--at", twsim.iso(AT)]
    check("\x1b[" in in_pty(argv, env), "no colour on a terminal")
    check("\x1b[" not in in_pty(argv, dict(env, NO_COLOR="1")), "colour with NO_COLOR")


def check_filters(tw, doc):
    def tokens(args):
        r = report(tw, ["--format", "json"] + args, want=None)
        return json.loads(r.stdout) if r.returncode in (0, 4) else None

    beta = tokens(["-w", "beta"])
    check(beta and {t["workspace"] for t in beta["tokens"]} == {"beta"}, "-w beta")
    check(beta and all(f["workspace"] == "beta" for f in beta["findings"]), "-w beta findings")
    etl = tokens(["--slot", "etl"])
    check(etl and {(t["workspace"], t["slot"]) for t in etl["tokens"]} ==
          {("acme", "etl"), ("beta", "etl")}, "--slot etl is in both workspaces")
    one = tokens(["--slot", "acme/etl"])
    check(one and {(t["workspace"], t["slot"]) for t in one["tokens"]} == {("acme", "etl")},
          "--slot acme/etl")
    retiring = tokens(["--state", "retiring"])
    want = sorted(t["row"] for t in doc["tokens"] if t["state"] == "retiring")
    check(retiring and want and sorted(t["row"] for t in retiring["tokens"]) == want,
          "--state retiring")
    soon = tokens(["--expiring", "14d"])
    limit = twsim.ms(AT + 14 * DAY)
    want = sorted(t["row"] for t in doc["tokens"]
                  if twsim.ms(twsim.parse(t["expires_at"])) <= limit)
    check(soon and sorted(t["row"] for t in soon["tokens"]) == want, "--expiring 14d")
    deleted = tokens(["--state", "deleted"])
    rows = [r for r in twsim.store_rows(tw.db) if r["state"] == "deleted"]
    check(deleted is not None and len(deleted["tokens"]) == len(rows), "--state deleted")


def check_errors(tw, tmp):
    for args, words in (
            (["--table", "slots"], "--table chooses the table of --format csv"),
            (["--format", "xml"], "--format"),
            (["--json", "--format", "csv"], "two formats"),
            (["--expiring", "soon"], "--expiring"),
            (["--slot", "a/b/c"], "--slot"),
            (["--output", os.path.join(tmp, "nodir", "r.html")], os.path.join(tmp, "nodir"))):
        r = report(tw, args, want=2)
        check(words in r.stderr, "audit report %s: %r not in %r" % (args, words, r.stderr))
    check(not os.path.exists(os.path.join(tmp, "nodir")), "a failed --output made something")
    # The store's own files are never replaced by a report given their path.
    for own, words in ((tw.db, "is the store:"), (tw.db + "-wal", "is the store's -wal file"),
                       (tw.db + ".lock", "is the store's lock file")):
        if not os.path.exists(own):
            continue
        with open(own, "rb") as f:
            before = f.read()
        r = report(tw, ["--format", "html", "--output", own], want=2)
        check(words in r.stderr, "audit report --output %s: %r not in %r" % (own, words, r.stderr))
        with open(own, "rb") as f:
            check(f.read() == before, "audit report --output %s changed it" % own)
    # A link such as /dev/stdout, or a FIFO, at the path is refused and left as it is.
    link, fifo = os.path.join(tmp, "stdout"), os.path.join(tmp, "r.fifo")
    os.symlink("/proc/self/fd/1", link)
    os.mkfifo(fifo)
    for path, kind in ((link, "a symbolic link"), (fifo, "a FIFO")):
        r = report(tw, ["--output", path], want=2)
        words = "%s: is %s, which the new file would replace" % (path, kind)
        check(words in r.stderr, "audit report --output %s: %r not in %r" % (path, words, r.stderr))
    check(os.path.islink(link) and os.readlink(link) == "/proc/self/fd/1" and
          stat.S_ISFIFO(os.lstat(fifo).st_mode),
          "audit report --output replaced a link or a FIFO")
    os.unlink(link)
    os.unlink(fifo)
    r = report(tw, ["--output", os.path.join(tmp, "r.txt")])
    check(r.stdout == "" and os.path.getsize(os.path.join(tmp, "r.txt")) > 0,
          "--output wrote to stdout or not at all")
    left = [n for n in os.listdir(tmp) if ".tw-" in n]
    check(left == [], "temporary files left: %s" % left)


def check_tamper(tw, tmp):
    copy = os.path.join(tmp, "tampered.db")
    shutil.copyfile(tw.db, copy)
    os.chmod(copy, 0o600)
    con = sqlite3.connect(copy)
    con.execute("UPDATE events SET actor = 'mallory@host' WHERE id = 3")
    con.commit()
    con.close()
    r = report(tw, ["--db", copy, "--format", "json"])
    doc = json.loads(r.stdout) if r.stdout else {}
    check(doc.get("integrity", {}).get("intact") is False and
          doc["integrity"]["broken_at"] == 3, "a tampered event is not reported: %s" % (
              doc.get("integrity"),))
    r = report(tw, ["--db", copy])
    check("verified NOT intact: event 3" in r.stdout, "the table hides the tampering")
    # A live row edited too, or alone: the chain's verdict is still the chain's.
    fresh = json.loads(report(tw, ["--format", "json"]).stdout)["integrity"]
    for events_too in (True, False):
        shutil.copyfile(tw.db, copy)
        con = sqlite3.connect(copy)
        if events_too:
            con.execute("UPDATE events SET actor = 'mallory@host' WHERE id = 3")
        con.execute("UPDATE tokens SET expires_at = expires_at + 1 WHERE id = "
                    "(SELECT min(id) FROM tokens WHERE state = 'active')")
        con.commit()
        con.close()
        doc = json.loads(report(tw, ["--db", copy, "--format", "json"]).stdout)["integrity"]
        check(doc["rows_differ"] == 1 and not doc["intact"], "an edited row: %s" % (doc,))
        if events_too:
            check(doc["broken_at"] == 3, "an edited row hides a broken chain: %s" % (doc,))
        else:
            check(doc["broken_at"] is None and doc["events"] == fresh["events"] and
                  doc["head"] == fresh["head"], "an edited row hides the chain's head: %s, "
                  "expected %s" % (doc, fresh))


def main():
    modesim, binary = sys.argv[1], sys.argv[2]
    tmp = tempfile.mkdtemp(prefix="tw-report.")
    shot = sys.argv[3] if len(sys.argv) > 3 else os.path.join(tmp, "audit-report.png")
    sim = twsim.Sim(modesim, tmp, [("acme", "ak", "as"), ("beta", "bk", "bs")], T0)
    try:
        tw = twsim.Tw(binary, tmp, {"acme-admin": "ak:as", "beta-admin": "bk:bs"})
        build(sim, tw, tmp)
        before = sha(tw.db)
        r = report(tw, ["--format", "json"])
        doc = json.loads(r.stdout)
        check_json(doc, sim, tw)
        check_csv(tw, doc, tmp)
        check_table(tw, doc)
        check_filters(tw, doc)
        check_errors(tw, tmp)
        check_html(tw, doc, tmp, shot)
        check_tamper(tw, tmp)
        check(sha(tw.db) == before, "a report changed the store")
    finally:
        rc = sim.stop()
        if rc != 0:
            fail("modesim exited %d" % rc)
        if not failures:
            shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        print("%d failure(s); files in %s" % (len(failures), tmp), file=sys.stderr)
        return 1
    print("ok: audit report formats")
    return 0


if __name__ == "__main__":
    sys.exit(main())
