"""Tiny local receivers for the alert tests: an HTTP webhook and an SMTP server.

Both listen on 127.0.0.1 on a free port, in a daemon thread, and keep what they receive
in memory. No dependency beyond the standard library (``smtpd`` is gone in 3.12).
"""

import json
import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    posts: list[dict] = field(default_factory=list)  # webhook JSON bodies
    mails: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)  # MAIL, RCPT
    event: threading.Event = field(default_factory=threading.Event)


@contextmanager
def webhook_receiver(status: int = 200) -> Iterator[tuple[str, Received]]:
    """A webhook URL on 127.0.0.1 and what it received."""
    received = Received()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            length = int(self.headers.get("Content-Length", 0))
            body = self.rfile.read(length)
            received.posts.append({"content_type": self.headers.get("Content-Type"),
                                   "path": self.path, "json": json.loads(body)})
            self.send_response(status)
            self.end_headers()
            self.wfile.write(b"ok")
            received.event.set()

        def log_message(self, *args: object) -> None:  # keep pytest output clean
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hooks/vawg", received
    finally:
        server.shutdown()
        server.server_close()


class _SMTPHandler(socketserver.StreamRequestHandler):
    """Just enough SMTP for smtplib: EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT."""

    received: Received

    def _reply(self, line: str) -> None:
        self.wfile.write(line.encode("ascii") + b"\r\n")

    def handle(self) -> None:
        self._reply("220 127.0.0.1 test SMTP ready")
        sender, recipients = "", []
        while True:
            raw = self.rfile.readline()
            if not raw:
                return
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            verb = line[:4].upper()
            if verb == "EHLO":
                self._reply("250-127.0.0.1")
                self._reply("250 8BITMIME")
            elif verb == "HELO":
                self._reply("250 127.0.0.1")
            elif verb == "MAIL":
                sender, recipients = line.split(":", 1)[1].strip(" <>").split(">")[0], []
                self._reply("250 OK")
            elif verb == "RCPT":
                recipients.append(line.split(":", 1)[1].strip(" <>"))
                self._reply("250 OK")
            elif verb == "DATA":
                self._reply("354 End data with <CR><LF>.<CR><LF>")
                lines = []
                while True:
                    data = self.rfile.readline()
                    if data in (b".\r\n", b".\n", b""):
                        break
                    lines.append(data[1:] if data.startswith(b"..") else data)
                self.received.mails.append(
                    message_from_bytes(b"".join(lines), policy=policy.default))
                self.received.envelopes.append((sender, recipients))
                self._reply("250 OK queued")
                self.received.event.set()
            elif verb in ("RSET", "NOOP"):
                self._reply("250 OK")
            elif verb == "QUIT":
                self._reply("221 Bye")
                return
            else:
                self._reply("502 Command not implemented")


@contextmanager
def smtp_receiver() -> Iterator[tuple[int, Received]]:
    """An SMTP server on 127.0.0.1: its port and what it received."""
    received = Received()
    handler = type("Handler", (_SMTPHandler,), {"received": received})
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], received
    finally:
        server.shutdown()
        server.server_close()
