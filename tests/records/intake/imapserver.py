"""A tiny IMAP4rev1 server for the tests (plain TCP on 127.0.0.1): enough of LOGIN, SELECT,
UID SEARCH UNSEEN, UID FETCH (BODY.PEEK[]), UID STORE +FLAGS and LOGOUT for ``imaplib``."""
from __future__ import annotations

import re
import socketserver
import threading


class Store:
    def __init__(self, user: str, password: str):
        self.user, self.password = user, password
        self.messages: dict[int, bytes] = {}
        self.seen: set[int] = set()
        self._next = 1

    def add(self, raw: bytes) -> int:
        uid, self._next = self._next, self._next + 1
        self.messages[uid] = raw
        return uid


class _Handler(socketserver.StreamRequestHandler):
    store: Store

    def _send(self, data: bytes | str) -> None:
        self.wfile.write(data.encode() if isinstance(data, str) else data)

    def handle(self):
        store = self.server.store
        self._send("* OK [CAPABILITY IMAP4rev1] test server ready\r\n")
        authed = False
        while True:
            line = self.rfile.readline()
            if not line:
                return
            tag, _, rest = line.decode().strip().partition(" ")
            cmd, _, args = rest.partition(" ")
            cmd = cmd.upper()
            if cmd == "CAPABILITY":
                self._send(f"* CAPABILITY IMAP4rev1\r\n{tag} OK done\r\n")
            elif cmd == "LOGIN":
                user, password = [a.strip('"') for a in args.split(" ", 1)]
                authed = user == store.user and password == store.password
                self._send(f"{tag} OK LOGIN completed\r\n" if authed else f"{tag} NO [AUTHENTICATIONFAILED] no\r\n")
            elif cmd == "LOGOUT":
                self._send(f"* BYE\r\n{tag} OK bye\r\n")
                return
            elif not authed:
                self._send(f"{tag} NO not authenticated\r\n")
            elif cmd == "SELECT":
                self._send(f"* {len(store.messages)} EXISTS\r\n* FLAGS (\\Seen)\r\n{tag} OK [READ-WRITE] done\r\n")
            elif cmd == "UID":
                self._uid(tag, args, store)
            else:
                self._send(f"{tag} BAD unknown command\r\n")

    def _uid(self, tag: str, args: str, store: Store) -> None:
        sub, _, rest = args.partition(" ")
        sub = sub.upper()
        if sub == "SEARCH":
            found = " ".join(str(u) for u in sorted(store.messages) if u not in store.seen)
            self._send(f"* SEARCH {found}\r\n{tag} OK done\r\n".replace("SEARCH \r", "SEARCH\r"))
        elif sub == "FETCH":
            uid = int(rest.split(" ", 1)[0])
            raw = store.messages[uid]
            self._send(f"* {uid} FETCH (UID {uid} BODY[] {{{len(raw)}}}\r\n".encode() + raw + b")\r\n")
            self._send(f"{tag} OK done\r\n")
        elif sub == "STORE":
            uid = int(rest.split(" ", 1)[0])
            if re.search(r"\\Seen", rest):
                store.seen.add(uid)
            self._send(f"* {uid} FETCH (UID {uid} FLAGS (\\Seen))\r\n{tag} OK done\r\n")
        else:
            self._send(f"{tag} BAD unknown UID command\r\n")


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def serve(store: Store):
    """Start a server on a free loopback port; returns (server, port). Call server.shutdown()."""
    server = _Server(("127.0.0.1", 0), _Handler)
    server.store = store
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, server.server_address[1]
