"""The two ingest lanes: alarms (never dropped) and everything else (bounded)."""

from __future__ import annotations

import sys
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


_ALARM_DEPTH = metrics.LANE_DEPTH.labels("alarm")
ALARM_SWITCH_S = 0.0005  # GIL hand-over interval while an alarm is on its way (Python's default: 0.005)


class AlarmPriority:
    """While any alarm is between receipt and the end of its processing, the interpreter hands the GIL
    over every 0.5 ms instead of every 5 ms, so the recorder is not kept waiting by telemetry threads.

    Under half load an SOS waited up to 120 ms (p99) for the recorder to take it and 144 ms to its commit;
    with the hand-over shortened only while alarms are in flight: 26 and 54 ms, at the same telemetry rate.
    The interval is process-wide, hence one count for every pipeline of the hub.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._in_flight = 0
        self._normal = sys.getswitchinterval()

    def begin(self) -> None:
        """An alarm entered a lane."""
        with self._lock:
            if self._in_flight == 0:
                self._normal = sys.getswitchinterval()
                sys.setswitchinterval(ALARM_SWITCH_S)
            self._in_flight += 1

    def end(self, count: int = 1) -> None:
        """`count` alarms were recorded and processed (or left to the shard's next holder)."""
        with self._lock:
            self._in_flight = max(0, self._in_flight - count)
            if self._in_flight == 0:
                sys.setswitchinterval(self._normal)


ALARM_PRIORITY = AlarmPriority()


class AlarmLane:
    """Unbounded FIFO for alarm deliveries: an alarm is never dropped, whatever the load."""

    def __init__(self) -> None:
        self._items: deque[Delivery] = deque()
        self._cond = threading.Condition()

    def put(self, delivery: Delivery) -> None:
        """Append a delivery and wake the recorder."""
        ALARM_PRIORITY.begin()
        with self._cond:
            self._items.append(delivery)
            self._cond.notify()
        _ALARM_DEPTH.set(len(self._items))

    def take_all(self, timeout: float) -> list[Delivery]:
        """Wait up to `timeout` s for deliveries and return all that are waiting, oldest first."""
        with self._cond:
            if not self._items:
                self._cond.wait(timeout)
            items = list(self._items)
            self._items.clear()
        _ALARM_DEPTH.set(0)
        return items

    def __len__(self) -> int:
        return len(self._items)


class TelemetryLane:
    """Bounded FIFO for everything that is not an alarm; when full the newest item is dropped and counted.

    A deque, not a `queue.Queue`: `offer` is one append (atomic under the GIL) and takes the lock only
    to wake a sleeping consumer. The consumer takes batches: once something is waiting it lingers up
    to `linger` s for `batch` items before it takes them. Waking for every message made the network
    thread and the processor hand the GIL back and forth once per message.
    """

    def __init__(self, maxsize: int = 50_000, *, batch: int = 64, linger: float = 0.002) -> None:
        self.maxsize = maxsize
        self.batch = batch
        self.linger = linger
        self._items: deque[Delivery] = deque()
        self._cond = threading.Condition()
        self._sleeping = False
        self.dropped = 0

    def offer(self, delivery: Delivery) -> bool:
        """Enqueue without blocking; return False (and count) when the lane is full."""
        items = self._items
        if len(items) >= self.maxsize:
            self.dropped += 1
            metrics.TELEMETRY_LANE_DROPS.inc()
            return False
        items.append(delivery)
        if self._sleeping and (len(items) == 1 or len(items) >= self.batch):
            with self._cond:
                self._cond.notify()
        return True

    def take(self, timeout: float, limit: int = 500) -> list[Delivery]:
        """Return up to `limit` deliveries: wait up to `timeout` s for the first, then up to `linger` s for a batch."""
        items = self._items
        if len(items) < self.batch:
            with self._cond:
                # `offer` appends before it reads `_sleeping`: either it sees True and notifies (after
                # `wait` released the lock), or its append happened before the checks below.
                self._sleeping = True
                if not items:
                    self._cond.wait(timeout)
                if items and len(items) < self.batch and self.linger > 0:
                    self._cond.wait(self.linger)
                self._sleeping = False
        popleft = items.popleft
        return [popleft() for _ in range(min(limit, len(items)))]

    def __len__(self) -> int:
        return len(self._items)
