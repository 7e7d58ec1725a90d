"""Helpers for the Python end-to-end tests: the simulator, the real binary, the store.

Shared by test_property.py and test_soak.py (test_year.py keeps its own copy).

  Sim        modesim on an ephemeral port: control API, clock, faults, statistics,
             and tokens made directly with a workspace admin's key (Basic auth)
  Tw         the tokenwarden binary with its own store, keys and credentials
  store_rows the inventory, read-only
  check_*    the properties the nightly run must keep, as lists of problems

No secret is ever printed: tokens made directly keep their access_secret in
memory and in the files handed to consumers, nowhere else.
"""
import base64
import datetime
import json
import os
import shutil
import sqlite3
import subprocess
import time
import urllib.error
import urllib.request


UTC = datetime.timezone.utc
DAY = datetime.timedelta(days=1)
HOUR = datetime.timedelta(hours=1)

# The simulator is on loopback: never reach it through a proxy.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))

LIVE_ON_SERVER = ("active", "retiring", "expired")
IN_FLIGHT = ("pending", "created", "verified")


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%MZ")


def iso_s(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse(s):
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))


def ms(t):
    return int(t.timestamp() * 1000)


def from_ms(v):
    return datetime.datetime.fromtimestamp(v / 1000, UTC)


def duration(secs):
    """Seconds as a policy duration: 3d, 36h, 90m."""
    for unit, n in (("d", 86400), ("h", 3600), ("m", 60)):
        if secs % n == 0:
            return "%d%s" % (secs // n, unit)
    return "%ds" % secs


class Sim:
    """modesim on 127.0.0.1; workspaces is a list of (name, key, secret); args are more
    options, after the default ones (a later --rate-limit wins: the limit is off unless
    one is given)."""

    def __init__(self, binary, tmp, workspaces, now, seed=1, args=()):
        self.tmp = tmp
        self.keys = {ws: (key, secret) for ws, key, secret in workspaces}
        conf = os.path.join(tmp, "sim.conf")
        with open(conf, "w") as f:  # keeps the test credentials out of ps
            for ws, key, secret in workspaces:
                f.write("workspace %s %s %s\n" % (ws, key, secret))
        port_file = os.path.join(tmp, "sim.port")
        self.log = open(os.path.join(tmp, "sim.log"), "w")
        self.proc = subprocess.Popen(
            [binary, "--port", "0", "--port-file", port_file, "--config", conf,
             "--rate-limit", "100000/1", "--now", iso(now), "--seed", str(seed)] + list(args),
            stdout=self.log, stderr=self.log)
        for _ in range(600):
            if os.path.exists(port_file) and os.path.getsize(port_file) > 0:
                break
            if self.proc.poll() is not None:
                raise RuntimeError("modesim exited %d at start" % self.proc.returncode)
            time.sleep(0.05)
        self.url = "http://127.0.0.1:" + open(port_file).read().strip()
        for _ in range(100):
            try:
                self.get("/_sim/clock")
                break
            except OSError:
                time.sleep(0.05)

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        with _OPENER.open(req, timeout=30) as r:
            return json.loads(r.read())

    def get(self, path):
        return self.call("GET", path)

    def set_clock(self, now):
        self.call("POST", "/_sim/clock", {"now": iso_s(now)})

    def faults(self, f):
        self.call("POST", "/_sim/faults", f or {})

    def stats(self):
        return self.get("/_sim/stats")

    def tokens(self):
        return self.get("/_sim/tokens")["tokens"]

    def create_token(self, ws, name, expires_at):
        """POSTs a token as the workspace admin would by hand; returns Mode's object
        (with its access_secret: never print it)."""
        key, secret = self.keys[ws]
        body = {"signature_token": {
            "name": name, "expires_at": iso_s(expires_at),
            "auth_scope": {"authentication_for": "batch-api",
                           "authorization_type": "read-only"}}}
        req = urllib.request.Request(self.url + "/batch/%s/signature_tokens" % ws,
                                     data=json.dumps(body).encode(), method="POST")
        req.add_header("Content-Type", "application/json")
        req.add_header("Authorization", "Basic " +
                       base64.b64encode(("%s:%s" % (key, secret)).encode()).decode())
        with _OPENER.open(req, timeout=30) as r:
            return json.loads(r.read())

    def log_size(self):
        return os.path.getsize(os.path.join(self.tmp, "sim.log"))

    def log_faults(self, start, end=None):
        """From the simulator's log between two log_size() marks: (Mode API requests,
        those that met an injected fault), malformed and truncated answers included."""
        with open(os.path.join(self.tmp, "sim.log"), "rb") as f:
            f.seek(start)
            text = f.read((end - start) if end is not None else -1).decode(errors="replace")
        requests = faulted = 0
        for line in text.splitlines():
            parts = line.split()
            if len(parts) < 4 or parts[0] != "modesim:" or not parts[2].startswith("/batch/"):
                continue
            requests += 1
            if any(n in parts[3:] for n in ("burst_429", "error_rate", "dropped", "lost",
                                            "reject_bearer_rate", "malformed", "truncated")):
                faulted += 1
        return requests, faulted

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            rc = self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = -9
        self.log.close()
        return rc


def consumer_payload(ws, slot, tok):
    """What a file consumer holds, as tokenwarden writes it (secrets inside: never print)."""
    bearer = base64.b64encode(("%s:%s:%s" % (tok["token"], tok["access_key"],
                                             tok["access_secret"])).encode()).decode()
    return {"workspace": ws, "slot": slot, "token": tok["token"], "name": tok["name"],
            "access_key": tok["access_key"], "access_secret": tok["access_secret"],
            "expires_at": tok["expires_at"], "bearer": bearer}


class Tw:
    """The binary with a store, a sealing key pair and a credentials directory in tmp."""

    def __init__(self, binary, tmp, credentials, keypair=None):
        self.bin = binary
        self.tmp = tmp
        self.db = os.path.join(tmp, "tw.db")
        self.creds = os.path.join(tmp, "creds")
        os.makedirs(self.creds, exist_ok=True)
        self.credentials = dict(credentials)
        for name, line in self.credentials.items():
            self.set_credential(name, line)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("TOKENWARDEN_")}
        self.env["TOKENWARDEN_LOG_FORMAT"] = "plain"  # whole lines are read
        self.env["CREDENTIALS_DIRECTORY"] = self.creds
        self.env["NO_PROXY"] = self.env["no_proxy"] = "127.0.0.1,localhost"
        self.env["TOKENWARDEN_DB"] = self.db
        self.env["TOKENWARDEN_PUBLIC_KEY"] = os.path.join(tmp, "seal.pub")
        if keypair is None:
            self.run(["keygen", "--public-key", tmp + "/seal.pub", "--secret-key",
                      tmp + "/seal.key", "--no-passphrase"], check=True)
        else:  # another store's key pair (keygen once for many stores)
            for src, dst in zip(keypair, ("seal.pub", "seal.key")):
                shutil.copyfile(src, os.path.join(tmp, dst))
                os.chmod(os.path.join(tmp, dst), 0o600 if dst == "seal.key" else 0o644)
        self.run(["init", "--db", self.db, "--public-key", tmp + "/seal.pub"], check=True)

    def set_credential(self, name, line):
        path = os.path.join(self.creds, name)
        fd = os.open(path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(line + "\n")
        os.rename(path + ".tmp", path)

    def run(self, args, now=None, env=None, stdin=None, check=False, quiet=False,
            log_json=False):
        e = dict(self.env)
        if now is not None:
            e["TOKENWARDEN_NOW"] = iso_s(now)
        if env:
            e.update(env)
        pre = ([b for b in ("--quiet",) if quiet] +
               (["--log-format", "json"] if log_json else []))
        r = subprocess.run([self.bin] + pre + args, env=e, input=stdin, capture_output=True,
                           text=True, timeout=600)
        if check and r.returncode != 0:
            raise RuntimeError("tokenwarden %s exited %d: %s" % (
                " ".join(args[:2]), r.returncode, r.stderr.strip()[-800:]))
        return r

    def events(self, kind=None, after_id=0):
        con = connect_ro(self.db)
        q = "SELECT id, kind, details, workspace, slot, token FROM events WHERE id > ?"
        args = [after_id]
        if kind is not None:
            q += " AND kind = ?"
            args.append(kind)
        rows = con.execute(q + " ORDER BY id", args).fetchall()
        con.close()
        return [{"id": r[0], "kind": r[1], "details": json.loads(r[2]), "workspace": r[3],
                 "slot": r[4], "token": r[5]} for r in rows]

    def last_event_id(self):
        con = connect_ro(self.db)
        v = con.execute("SELECT coalesce(max(id), 0) FROM events").fetchone()[0]
        con.close()
        return v


def connect_ro(db):
    return sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=30)


def store_rows(db):
    """Every token row as a dict: ws, slot, token, name, state, expires_at (ms), retire_after,
    origin, and sealed (whether the store holds its sealed secret)."""
    con = connect_ro(db)
    rows = con.execute(
        "SELECT t.id, w.name, s.name, t.token, t.name, t.state, t.expires_at, t.retire_after, "
        "t.origin, EXISTS (SELECT 1 FROM secrets x WHERE x.token_row = t.id) "
        "FROM tokens t JOIN workspaces w ON w.id = t.workspace_id "
        "LEFT JOIN slots s ON s.id = t.slot_id ORDER BY t.id").fetchall()
    con.close()
    keys = ("row", "ws", "slot", "token", "name", "state", "expires_at", "retire_after",
            "origin", "sealed")
    return [dict(zip(keys, r)) for r in rows]


def check_sealed(rows):
    """The store holds a sealed secret of each token it made that can still be in use
    (active or retiring; an import may have none) and of none that is deleted or
    revoked, which opens nothing any more.  rows: as store_rows reads them.  Returns
    problems."""
    problems = []
    for r in rows:
        if r["sealed"] and r["state"] in ("deleted", "revoked"):
            problems.append("the store keeps the sealed secret of %s/%s, which is %s" %
                            (r["ws"], r["token"], r["state"]))
        elif not r["sealed"] and r["origin"] == "created" and r["state"] in ("active",
                                                                             "retiring"):
            problems.append("the store holds no sealed secret of %s/%s, %s" %
                            (r["ws"], r["token"], r["state"]))
    return problems


def read_consumer(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def check_slots(slots, rows, server, now, consumer_path, after=None):
    """Each (ws, slot) has exactly one active token in the store, on the server and
    unexpired (at now, and at `after` when given), and each of its file consumers holds
    it (consumer_path(ws, slot): a path, or a list of them).  Returns the problems, one
    string each."""
    problems = []
    on_server = {(t["workspace"], t["token"]): t for t in server}
    for ws, slot in slots:
        active = [r for r in rows if r["ws"] == ws and r["slot"] == slot and
                  r["state"] == "active"]
        if len(active) != 1:
            problems.append("%s/%s: %d active tokens in the store (%s)" % (
                ws, slot, len(active), ", ".join(
                    "%s %s" % (r["token"] or r["name"], r["state"]) for r in rows
                    if r["ws"] == ws and r["slot"] == slot and
                    r["state"] not in ("deleted", "failed", "revoked")) or "no live row"))
            if not active:
                continue
        a = active[-1]
        t = on_server.get((ws, a["token"]))
        if t is None:
            problems.append("%s/%s: active token %s is not on the server" % (ws, slot,
                                                                           a["token"]))
        elif t["expired"] or parse(t["expires_at"]) <= now:
            problems.append("%s/%s: active token %s expired at %s" % (ws, slot, a["token"],
                                                                     t["expires_at"]))
        elif after is not None and parse(t["expires_at"]) <= after:
            problems.append("%s/%s: active token %s expires at %s, before %s" % (
                ws, slot, a["token"], t["expires_at"], iso(after)))
        paths = consumer_path(ws, slot)
        paths = [paths] if isinstance(paths, str) else paths
        for i, path in enumerate(paths):
            which = "its consumer" if len(paths) == 1 else "its consumer %d of %d" % (
                i + 1, len(paths))
            held = read_consumer(path)
            if held is None:
                problems.append("%s/%s: %s holds nothing" % (ws, slot, which))
            elif held.get("token") != a["token"]:
                state = next((r["state"] for r in rows if r["ws"] == ws and
                              r["token"] == held.get("token")), "not in the store")
                problems.append("%s/%s: %s holds %s (%s), not the active %s" % (
                    ws, slot, which, held.get("token"), state, a["token"]))
            elif t is not None and held.get("access_key") != t["access_key"]:
                problems.append("%s/%s: %s's access key is not the server's for %s" %
                                (ws, slot, which, a["token"]))
    return problems


def check_accounted(rows, server, now, reverse=True):
    """Nothing on the server the store does not account for, and (reverse) nothing the
    store holds as live (active, retiring, unexpired) that the server lost.  Returns
    problems."""
    problems = []
    by_token = {(r["ws"], r["token"]): r for r in rows if r["token"] is not None}
    unknown = {}
    for r in rows:
        if r["state"] == "unknown":
            unknown.setdefault((r["ws"], r["name"]), []).append(r)
    for t in server:
        key = (t["workspace"], t["token"])
        r = by_token.get(key)
        if r is not None:
            if r["state"] in LIVE_ON_SERVER:
                continue
            if r["state"] in ("created", "verified") and not t["expired"]:
                continue  # in flight: the store has it with its sealed secret
            problems.append("the server holds %s/%s (%s, %s), which the store has as %s" % (
                t["workspace"], t["token"], t["name"],
                "expired" if t["expired"] else "live", r["state"]))
            continue
        cands = unknown.get((t["workspace"], t["name"]), [])
        if not cands:
            problems.append("the server holds %s/%s (%s), unknown to the store" % (
                t["workspace"], t["token"], t["name"]))
        elif not any(abs(ms(parse(t["expires_at"])) - c["expires_at"]) <= 60000
                     for c in cands):
            problems.append("lost token %s/%s expires at %s, not when the store says (%s)" %
                            (t["workspace"], t["name"], t["expires_at"],
                             iso(from_ms(cands[0]["expires_at"]))))
    keys = {(t["workspace"], t["token"]) for t in server}
    for r in rows if reverse else ():
        if r["state"] in ("active", "retiring") and r["expires_at"] > ms(now) and \
                (r["ws"], r["token"]) not in keys:
            problems.append("the store holds %s/%s (%s) as %s, the server does not have it" %
                            (r["ws"], r["token"], r["name"], r["state"]))
    return problems


def log_lines(stderr):
    """tokenwarden's --log-format json lines; anything else as {"level": "raw", "msg": line}."""
    out = []
    for line in stderr.splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            o = json.loads(line)
            if isinstance(o, dict) and "level" in o:
                out.append(o)
                continue
        except ValueError:
            pass
        out.append({"level": "raw", "msg": line})
    return out


def check_run(tw, r, first_event, allowed=(0, 1)):
    """One rotate run: exit 0, or 1 with its failures logged per slot; no store error;
    a run.end in the history with the same status.  Returns problems."""
    problems = []
    lines = log_lines(r.stderr)
    errors = [l["msg"] for l in lines if l["level"] == "error"]
    raw = [l["msg"] for l in lines if l["level"] == "raw" and
           l["msg"].startswith("tokenwarden: error:")]
    for m in errors + raw:
        problems.append("the run printed an error: %s" % m[:300])
    if r.returncode not in allowed:
        problems.append("the run exited %d" % r.returncode)
    elif r.returncode == 1 and not errors + raw:
        # Each failure is a warning naming its slot (or, for a token no slot owns, its
        # workspace); a run that fails with none of them failed in a way nobody can act on.
        per_slot = [l for l in lines if l["level"] == "warning" and
                    (l.get("slot") or l.get("workspace"))]
        if not per_slot:
            problems.append("the run exited 1 with no per-slot failure logged: %s" %
                            "; ".join(l["msg"][:200] for l in lines
                                      if l["level"] != "note")[:600])
    starts = tw.events("run.start", first_event)
    ends = tw.events("run.end", first_event)
    if len(starts) != 1:
        problems.append("%d run.start events for one run" % len(starts))
    elif not any(e["details"].get("run") == starts[0]["details"].get("run") for e in ends):
        problems.append("no run.end in the history for run %s" %
                        starts[0]["details"].get("run"))
    else:
        end = [e for e in ends if e["details"].get("run") == starts[0]["details"]["run"]][0]
        if end["details"].get("status") != r.returncode:
            problems.append("run.end records status %s, the run exited %d" % (
                end["details"].get("status"), r.returncode))
    return problems


def check_history(tw):
    v = tw.run(["audit", "verify", "--db", tw.db])
    if v.returncode != 0:
        return ["audit verify exited %d: %s" % (v.returncode,
                                                (v.stdout + v.stderr).strip()[-400:])]
    return []
