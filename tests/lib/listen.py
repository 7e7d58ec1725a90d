#!/usr/bin/env python3
"""A loopback listener for the end-to-end tests: it records what reaches it.

usage: listen.py MODE PORT_FILE LOG

Listens on 127.0.0.1 on an ephemeral port, writes the port to PORT_FILE,
and appends each request's head (request line and headers, as sent, then
a line "--") to LOG, which the test reads but never prints: a proxy that
was reached may have been handed a credential.  MODE says what it answers:

  proxy  403 Forbidden to anything (a CONNECT too): a proxy that lets nothing
         through, so a test sees whether it was used and what it was sent
  hook   200 OK with an empty body, after reading the request's body: a
         webhook receiver
  silent nothing, after reading the request's body, until the client
         closes: a webhook that never answers

Runs until killed.
"""
import os
import socketserver
import sys
import threading

MODE, PORT_FILE, LOG = sys.argv[1], sys.argv[2], sys.argv[3]
LOCK = threading.Lock()


class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        head = []
        while True:
            line = self.rfile.readline(65537)
            if not line or line in (b"\r\n", b"\n"):
                break
            head.append(line)
        length = 0
        for line in head[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip() or 0)
        body = self.rfile.read(length) if length > 0 and MODE != "proxy" else b""
        with LOCK, open(LOG, "ab") as f:
            f.write(b"".join(head) + body + b"\n--\n")
        if MODE == "silent":
            while self.rfile.read(4096):
                pass
        elif MODE == "hook":
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        else:
            self.wfile.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n"
                             b"Connection: close\r\n\r\n")


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


server = Server(("127.0.0.1", 0), Handler)
with open(PORT_FILE + ".tmp", "w") as f:
    f.write("%d\n" % server.server_address[1])
# Renamed into place: the test never reads half a port.
os.rename(PORT_FILE + ".tmp", PORT_FILE)
server.serve_forever()
