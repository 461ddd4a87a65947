"""The two ingest lanes: alarms (never dropped) and everything else (bounded)."""

from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from device_drivers.model import DeviceEvent, Message
from hub import metrics


@dataclass(slots=True)
class Delivery:
    """One inbound transport message and what it decoded to."""

    transport: str
    source: str
    topic: str
    messages: list[Message]
    received_at: float
    received_mono: float
    payload: bytes = b""
    # Called once the delivery is durably recorded (MQTT PUBACK); None for transports without acks.
    ack: Callable[[], None] | None = None
    redelivery: bool = False
    delivery_key: str | None = None
    recorded: threading.Event | None = None
    error: list[str] = field(default_factory=list)

    @property
    def alarm_events(self) -> list[DeviceEvent]:
        """Return the alarm events this delivery carries."""
        return [m for m in self.messages if isinstance(m, DeviceEvent) and m.is_alarm]


class AlarmLane:
    """Unbounded FIFO for alarm deliveries: an alarm is never dropped, whatever the load."""

    def __init__(self) -> None:
        self._items: deque[Delivery] = deque()
        self._cond = threading.Condition()

    def put(self, delivery: Delivery) -> None:
        """Append a delivery and wake the recorder."""
        with self._cond:
            self._items.append(delivery)
            self._cond.notify()
        metrics.LANE_DEPTH.labels("alarm").set(len(self._items))

    def take_all(self, timeout: float) -> list[Delivery]:
        """Wait up to `timeout` s for deliveries and return all that are waiting, oldest first."""
        with self._cond:
            if not self._items:
                self._cond.wait(timeout)
            items = list(self._items)
            self._items.clear()
        metrics.LANE_DEPTH.labels("alarm").set(0)
        return items

    def __len__(self) -> int:
        return len(self._items)


class TelemetryLane:
    """Bounded FIFO for everything that is not an alarm; when full the newest item is dropped and counted."""

    def __init__(self, maxsize: int = 50_000) -> None:
        self._queue: queue.Queue[Delivery] = queue.Queue(maxsize)
        self.dropped = 0

    def offer(self, delivery: Delivery) -> bool:
        """Enqueue without blocking; return False (and count) when the lane is full."""
        try:
            self._queue.put_nowait(delivery)
            return True
        except queue.Full:
            self.dropped += 1
            metrics.TELEMETRY_LANE_DROPS.inc()
            return False

    def take(self, timeout: float, limit: int = 500) -> list[Delivery]:
        """Return up to `limit` deliveries, waiting up to `timeout` s for the first."""
        try:
            items = [self._queue.get(timeout=timeout)]
        except queue.Empty:
            return []
        while len(items) < limit:
            try:
                items.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return items

    def __len__(self) -> int:
        return self._queue.qsize()
