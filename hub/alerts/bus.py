"""In-process live feed of alert changes for Server-Sent Events subscribers, each with its own scope."""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from hub.auth.principal import Principal

log = logging.getLogger(__name__)

SUBSCRIBER_QUEUE = 2000


@dataclass(eq=False)
class Subscription:
    """One console's feed: a queue filled on the event loop it listens on."""

    principal: Principal
    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue = field(default_factory=lambda: asyncio.Queue(SUBSCRIBER_QUEUE))
    overflowed: bool = False

    def offer(self, item: dict) -> None:
        """Put `item` on the queue (runs on the subscriber's loop); a full queue asks the console to resync."""
        if self.overflowed:
            return
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            # A console that cannot keep up is told to resync (its stream then ends) instead of silently
            # missing changes.
            self.overflowed = True
            self.queue.get_nowait()
            self.queue.put_nowait({"event": "resync", "data": {}})


class AlertBus:
    """Fan alert changes out to subscribers that may see them; safe to publish from any thread."""

    def __init__(self) -> None:
        self._subs: set[Subscription] = set()
        self._lock = threading.Lock()
        self._seq = itertools.count(1)
        self.published = 0
        # Listeners get (alert, change) on the publishing thread: `listeners` every change, this hub's and
        # (in a cluster) the other hubs' (detector latches); `local_listeners` this hub's only (KPI points).
        self.listeners: list[Callable[[dict, str], None]] = []
        self.local_listeners: list[Callable[[dict, str], None]] = []
        self.relay: Callable[[dict, str], None] | None = None  # sends this hub's changes to the other hubs

    def subscribe(self, principal: Principal) -> Subscription:
        """Register a subscriber on the running event loop."""
        sub = Subscription(principal, asyncio.get_running_loop())
        with self._lock:
            self._subs.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        """Forget a subscriber."""
        with self._lock:
            self._subs.discard(sub)

    def publish(self, alert: dict, *, change: str) -> None:
        """Send one alert change of this hub to every subscriber whose scope covers it, and to the other hubs."""
        self._fan_out(alert, change, [*self.local_listeners, *self.listeners])
        if self.relay is not None:
            self.relay(alert, change)

    def publish_remote(self, alert: dict, *, change: str) -> None:
        """Send one alert change made on another hub to this hub's subscribers and cluster-wide listeners."""
        self._fan_out(alert, change, list(self.listeners))

    def _fan_out(self, alert: dict, change: str, listeners: list[Callable[[dict, str], None]]) -> None:
        item = {"event": "alert", "id": next(self._seq), "data": {"change": change, "alert": alert}}
        with self._lock:
            subs = list(self._subs)
        self.published += 1
        for listener in listeners:
            try:
                listener(alert, change)
            except Exception:
                log.exception("alert listener %r failed", listener)
        for sub in subs:
            if sub.principal.sees(site_id=alert.get("site_id"), resident_id=alert.get("resident_id")):
                try:
                    sub.loop.call_soon_threadsafe(sub.offer, item)
                except RuntimeError:  # the subscriber's loop has closed
                    self.unsubscribe(sub)

    def __len__(self) -> int:
        with self._lock:
            return len(self._subs)
