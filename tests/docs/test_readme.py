#!/usr/bin/env python3
"""The README's command lines against the parser.

Every line of a ```sh block of README.md that runs `tokenwarden` is read:
  - its verb must be one the binary has (`tokenwarden VERB --help` works);
  - each option it names (--name, -n) must be one that verb's --help lists
    (the help is made from the same table the parser uses);
  - a line that is a plain command, not a synopsis (no [ ] | or ...), must
    parse: `tokenwarden ... --check-args` exits 0.
And every verb the binary has must appear in the README's command summary,
so the summary can neither promise what the parser refuses nor miss a verb.

usage: test_readme.py TOKENWARDEN README.md
"""
import os
import re
import shlex
import subprocess
import sys

tw, readme = sys.argv[1], sys.argv[2]
env = dict(os.environ, TOKENWARDEN_CONFIG="/nonexistent/policy.yaml",
           TOKENWARDEN_DB="/nonexistent/tw.db")
problems = []


def run(args):
    return subprocess.run([tw] + args, capture_output=True, text=True, env=env)


# The verbs, from the binary's own list.
verbs = []
for line in run(["--help"]).stdout.splitlines():
    m = re.match(r"^  ([a-z]+(?: [a-z]+)?)\s{2,}", line)
    if m:
        verbs.append(m.group(1))
if not verbs:
    sys.exit("test_readme: no verbs in 'tokenwarden --help'")

accepted = {}


def options_of(verb):
    """The long and short options VERB's --help lists, and --help itself."""
    if verb not in accepted:
        r = run(verb.split() + ["--help"])
        if r.returncode != 0:
            problems.append("'tokenwarden %s --help' exited %d" % (verb, r.returncode))
        opts = set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*|-[a-zA-Z])\b", r.stdout))
        accepted[verb] = opts | {"--help", "-h"}
    return accepted[verb]


def commands(text):
    """(line number, command line) for each tokenwarden line of a sh block."""
    block = False
    for n, line in enumerate(text.splitlines(), 1):
        if line.startswith("```"):
            block = line.strip() in ("```sh", "```shell", "```console")
            continue
        if not block:
            continue
        line = re.sub(r"^\$ ", "", line.strip())
        line = re.sub(r"^(sudo(?: -u \S+)?|env(?: \w+=\S+)*) ", "", line)
        if line.startswith("tokenwarden ") or line == "tokenwarden":
            yield n, re.sub(r"\s+#.*$", "", line)


text = open(readme).read()
summary_verbs = set()
for n, line in commands(text):
    words = line.split()[1:]
    verb = " ".join(words[:2]) if " ".join(words[:2]) in verbs else (words[0] if words else "")
    if verb == "help":
        continue
    if verb not in verbs:
        problems.append("README.md:%d: '%s' is no verb" % (n, verb))
        continue
    summary_verbs.add(verb)
    for opt in re.findall(r"(?<![\w/-])(--[a-z][a-z-]*|-[a-zA-Z])(?![\w-])", line):
        if opt not in options_of(verb):
            problems.append("README.md:%d: tokenwarden %s does not take %s" % (n, verb, opt))
    if not re.search(r"[\[\]|]|\.\.\.|<", line):
        r = run(shlex.split(line)[1:] + ["--check-args"])
        if r.returncode != 0:
            problems.append("README.md:%d: '%s --check-args' exited %d: %s" %
                            (n, line, r.returncode, r.stderr.strip()[:200]))
for verb in verbs:
    if verb not in summary_verbs:
        problems.append("README.md: no command line shows 'tokenwarden %s'" % verb)

for p in problems:
    print("FAIL: " + p, file=sys.stderr)
if problems:
    sys.exit(1)
print("readme: %d verbs, every command line parses" % len(verbs))
