"""Real message receivers for notification tests: an SMTP server (aiosmtpd) and a webhook HTTP server."""

from __future__ import annotations

import email
import email.policy
import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller

from tests.servers import free_port


@dataclass(frozen=True)
class Received:
    """One delivered message: when it arrived (epoch), where, and its text."""

    at: float
    channel: str
    to: str
    title: str
    body: str


class Inbox:
    """Messages delivered to any receiver, in arrival order."""

    def __init__(self) -> None:
        self.items: list[Received] = []
        self._lock = threading.Lock()

    def add(self, item: Received) -> None:
        """Record a delivered message."""
        with self._lock:
            self.items.append(item)

    def snapshot(self) -> list[Received]:
        """Return what has arrived so far."""
        with self._lock:
            return list(self.items)

    def wait_for(self, predicate, timeout: float) -> list[Received]:
        """Wait until some messages match `predicate`; return the matching ones (maybe none)."""
        deadline = time.monotonic() + timeout
        while True:
            found = [m for m in self.snapshot() if predicate(m)]
            if found or time.monotonic() > deadline:
                return found
            time.sleep(0.02)


class SmtpReceiver:
    """A local SMTP server that accepts every message into an inbox."""

    def __init__(self, inbox: Inbox) -> None:
        self.port = free_port()
        outer = inbox

        class Handler:
            async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
                message = email.message_from_bytes(envelope.content, policy=email.policy.default)
                part = message.get_body(preferencelist=("plain",))
                outer.add(Received(time.time(), "smtp", ",".join(envelope.rcpt_tos), str(message["subject"]),
                                   part.get_content() if part else ""))
                return "250 OK"

        self._controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def url(self, to: str) -> str:
        """Return the apprise URL that mails `to` through this server."""
        return f"mailto://127.0.0.1:{self.port}?from=carehub@example.com&to={to}&secure=no"

    def stop(self) -> None:
        """Stop the server."""
        self._controller.stop()


class WebhookReceiver:
    """A local HTTP server that records every JSON POST into an inbox."""

    def __init__(self, inbox: Inbox) -> None:
        outer = inbox

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's hook name
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                outer.add(Received(time.time(), "webhook", self.path, body.get("title", ""), body.get("message", "")))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.port = free_port()
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def url(self, path: str) -> str:
        """Return the apprise URL that posts JSON to `path` on this server."""
        return f"json://127.0.0.1:{self.port}/{path.lstrip('/')}"

    def stop(self) -> None:
        """Stop the server."""
        self._server.shutdown()
        self._server.server_close()
