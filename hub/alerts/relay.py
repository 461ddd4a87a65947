"""Alert changes between hubs through PostgreSQL LISTEN/NOTIFY: one live feed whichever hub serves it.

Each hub sends its own alert changes on a channel (from a thread of its own, so no alarm path waits on
it) and listens for the others'; a change from another hub goes to this hub's live-feed subscribers and
its cluster-wide bus listeners (detector latches), never to its local ones (KPI points are written once,
where the change happened). A payload over NOTIFY's limit carries the alert id only and is read back.
"""

from __future__ import annotations

import json
import logging
import queue
import threading

import psycopg
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from hub.alerts.bus import AlertBus
from hub.alerts.flows import public
from hub.alerts.models import Alert

log = logging.getLogger(__name__)

CHANNEL = "carehub_alerts"
MAX_PAYLOAD = 7900  # NOTIFY refuses payloads of 8000 bytes and more
RECONNECT_S = 1.0


class AlertRelay:
    """Relays `bus`'s local changes to the other hubs and theirs to it."""

    def __init__(self, *, engine: Engine, session_factory: sessionmaker[Session], bus: AlertBus, hub_id: str) -> None:
        self.engine = engine
        self.session_factory = session_factory
        self.bus = bus
        self.hub_id = hub_id
        self.sent = self.received = self.failed = 0
        self._outbox: queue.SimpleQueue[tuple[dict, str] | None] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._listening = threading.Event()
        self._threads = [threading.Thread(target=self._send_loop, name="carehub-relay-send", daemon=True),
                         threading.Thread(target=self._listen_loop, name="carehub-relay-listen", daemon=True)]

    def start(self) -> None:
        """Start sending and listening; return once listening (or after 5 s)."""
        self.bus.relay = self.offer
        for thread in self._threads:
            thread.start()
        self._listening.wait(5.0)

    def stop(self) -> None:
        """Send what is queued, then stop both threads."""
        self.bus.relay = None
        self._stop.set()
        self._outbox.put(None)
        for thread in self._threads:
            thread.join(5.0)

    def offer(self, alert: dict, change: str) -> None:
        """Queue one local change for the other hubs (called by the bus on the publishing thread)."""
        self._outbox.put((alert, change))

    def _payload(self, alert: dict, change: str) -> str:
        body = json.dumps({"hub": self.hub_id, "change": change, "alert": alert}, separators=(",", ":"))
        if len(body.encode()) <= MAX_PAYLOAD:
            return body
        return json.dumps({"hub": self.hub_id, "change": change, "alert_id": alert.get("id")})

    def _send_loop(self) -> None:
        while True:
            item = self._outbox.get()
            if item is None:
                return
            batch = [item]
            while not self._outbox.empty() and len(batch) < 200:
                more = self._outbox.get()
                if more is None:
                    self._outbox.put(None)
                    break
                batch.append(more)
            try:
                with self.engine.begin() as conn:
                    for alert, change in batch:
                        conn.execute(text("SELECT pg_notify(:c, :p)"),
                                     {"c": CHANNEL, "p": self._payload(alert, change)})
                self.sent += len(batch)
            except Exception:
                # The database holds every alert: a hub that missed a change shows it at the console's next resync.
                self.failed += len(batch)
                log.exception("relaying %d alert changes to the other hubs failed", len(batch))

    def _listen_loop(self) -> None:
        url = self.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        while not self._stop.is_set():
            try:
                with psycopg.connect(url, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self._listening.set()
                    while not self._stop.is_set():
                        for note in conn.notifies(timeout=0.5):
                            self._deliver(note.payload)
            except Exception:
                log.exception("listening for other hubs' alert changes failed; retrying")
                self._stop.wait(RECONNECT_S)

    def _deliver(self, payload: str) -> None:
        try:
            message = json.loads(payload)
            if message.get("hub") == self.hub_id:
                return  # our own change, already delivered here
            alert = message.get("alert") or self._load(message["alert_id"])
            if alert is None:
                return
            self.received += 1
            self.bus.publish_remote(alert, change=message["change"])
        except Exception:
            log.exception("an alert change from another hub could not be delivered")

    def _load(self, alert_id: int) -> dict | None:
        with self.session_factory() as session:
            alert = session.get(Alert, alert_id)
            return public(alert) if alert is not None else None
