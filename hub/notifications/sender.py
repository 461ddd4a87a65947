"""Deliver queued notifications through apprise, recording every attempt; failures retry with backoff."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import apprise
from sqlalchemy.orm import Session, sessionmaker

from hub.notifications import service
from hub.notifications.models import DeliveryState, Notification

log = logging.getLogger(__name__)

SendFn = Callable[[str, str, str], tuple[bool, str]]


def apprise_send(url: str, title: str, body: str) -> tuple[bool, str]:
    """Send one message to one apprise URL; return (delivered, why not)."""
    sender = apprise.Apprise()
    if not sender.add(url):
        return False, f"unusable address ({service.channel_of(url)}://…)"
    with apprise.LogCapture(level=logging.WARNING) as captured:
        ok = bool(sender.notify(body=body, title=title))
    return ok, "" if ok else (captured.getvalue().strip()[-1000:] or "delivery failed")


def load_channels() -> None:
    """Load apprise's channel plugins (about a second on a busy machine), so the first alarm's message does not wait."""
    from apprise.manager_plugins import NotificationManager

    NotificationManager().load_modules()


class NotificationSender:
    """Claim due messages and deliver them; one slow or dead channel never holds back another message."""

    def __init__(self, *, session_factory: sessionmaker[Session], send: SendFn = apprise_send,
                 clock: Callable[[], float] = time.time, max_attempts: int = 6, backoff_s: float = 5.0,
                 max_backoff_s: float = 300.0) -> None:
        self.session_factory = session_factory
        self.send = send
        self.clock = clock
        self.max_attempts = max_attempts
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.sent = 0
        self.failed_attempts = 0

    def prepare(self) -> None:
        """Get the channels ready before the first delivery; call once at start."""
        if self.send is apprise_send:
            load_channels()

    def recover(self) -> int:
        """Re-queue messages a crash left mid-send; call once at start."""
        with self.session_factory() as session, session.begin():
            return service.recover(db_session=session)

    def claim(self, now: float, limit: int = 50) -> list[Notification]:
        """Claim due messages (committed, so another sender cannot take them too)."""
        with self.session_factory() as session, session.begin():
            rows = service.claim_due(db_session=session, now=now, limit=limit)
            session.expunge_all()
        return rows

    def deliver(self, row: Notification) -> bool:
        """Send one claimed message and record the attempt; return whether it was delivered."""
        started = time.monotonic()
        try:
            ok, error = self.send(row.url, row.title, row.body)
        except Exception as err:  # a broken channel plugin must not stop the sender
            ok, error = False, f"{type(err).__name__}: {err}"
        duration = time.monotonic() - started
        with self.session_factory() as session, session.begin():
            updated = service.record_attempt(db_session=session, notification_id=row.id, ok=ok, error=error,
                                             duration_s=duration, now=self.clock(),
                                             max_attempts=self.max_attempts, backoff_s=self.backoff_s,
                                             max_backoff_s=self.max_backoff_s)
            state = updated.state
        if ok:
            self.sent += 1
        else:
            self.failed_attempts += 1
            level = logging.ERROR if state == DeliveryState.FAILED else logging.WARNING
            log.log(level, "notification %s to %s (%s) attempt %s: %s", row.id, row.recipient_name,
                    service.channel_of(row.url), row.attempts, error[:200])
        return ok
