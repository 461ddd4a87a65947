"""After triage: resolve devices, update health, store telemetry and events, notify listeners."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from device_drivers.contact_id import RECEIVER_KEY_PREFIX
from device_drivers.model import (
    AccelBatch,
    DeviceEvent,
    DeviceInfo,
    DeviceStatus,
    EventState,
    Message,
    Reading,
    UnmappedFields,
)
from hub import metrics
from hub.devices.directory import DeviceDirectory, DeviceRef
from hub.events.models import DeviceEventRecord
from hub.health.state import DeviceHealth, health_key
from hub.ingest.lanes import Delivery, TelemetryLane
from hub.write_turn import relaxed_sync

log = logging.getLogger(__name__)

# Called once per device and delivery with that device's messages in order (derived ones included).
Listener = Callable[[list[Message], DeviceRef | None], None]
_EVENTS_INSERT = DeviceEventRecord.__table__.insert()
_TYPE_NAMES = {Reading: "reading", DeviceEvent: "event", DeviceStatus: "status", DeviceInfo: "info",
               AccelBatch: "accel", UnmappedFields: "unmapped"}
UNMAPPED_FIELDS_PER_PROFILE = 200  # distinct field labels per profile in /metrics; the rest count as `_other`
# Metric children resolved once: `labels()` takes a lock and hashes the labels on every call.
_CANONICAL = {t: metrics.CANONICAL.labels(name) for t, name in _TYPE_NAMES.items()}
_TELEMETRY_DEPTH = metrics.LANE_DEPTH.labels("telemetry")
_LATENCY = {True: metrics.EVENT_LATENCY.labels("alarm"), False: metrics.EVENT_LATENCY.labels("telemetry")}


def event_row(message: DeviceEvent | DeviceStatus, ref: DeviceRef | None, received_at: float,
              delivery_key: str | None = None) -> dict[str, Any]:
    """Return the column values of the database row for an event or a status change."""
    if isinstance(message, DeviceStatus):
        kind, state, detail, is_alarm = "availability", str(message.availability), {"reason": message.reason}, False
    else:
        kind, state, detail, is_alarm = str(message.kind), str(message.state), message.detail, message.is_alarm
    return {
        "device_key": message.device_key, "device_id": ref.id if ref else None, "kind": kind, "state": state,
        "ts": message.ts, "received_at": received_at, "source": message.source, "is_alarm": is_alarm,
        "detail": detail, "delivery_key": delivery_key,
    }


def event_record(message: DeviceEvent | DeviceStatus, ref: DeviceRef | None, received_at: float,
                 delivery_key: str | None = None) -> DeviceEventRecord:
    """Build the database row for an event or a status change."""
    return DeviceEventRecord(**event_row(message, ref, received_at, delivery_key))


class Processor:
    """Consumes the telemetry lane (and recorded alarms) and keeps health, telemetry and events."""

    def __init__(self, *, lane: TelemetryLane, directory: DeviceDirectory, health: DeviceHealth,
                 telemetry: Any, session_factory: sessionmaker[Session],
                 flush_interval: float = 0.5) -> None:
        self.lane = lane
        self.directory = directory
        self.health = health
        self.telemetry = telemetry
        self.session_factory = session_factory
        self.flush_interval = flush_interval
        self.listeners: list[Listener] = []
        self.processed = 0
        self._unmapped = metrics.CappedLabels(metrics.UNMAPPED_FIELDS, UNMAPPED_FIELDS_PER_PROFILE)
        self._conditions: dict[tuple[str, str], str] = {}
        self._pending_events: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="carehub-processor", daemon=True)

    def start(self) -> None:
        """Start the processing thread."""
        self._thread.start()

    def stop(self) -> None:
        """Drain what is queued, flush events and stop."""
        self._stop.set()
        self._thread.join(15)
        self.flush()

    def add_listener(self, listener: Listener) -> None:
        """Call `listener(messages, device_ref)` with each device's processed messages of every delivery."""
        self.listeners.append(listener)

    def _run(self) -> None:
        next_tick = time.monotonic()
        while not self._stop.is_set() or len(self.lane):
            counts: dict[type, int] = {}  # counted once per batch: each counter `inc` takes a lock
            for delivery in self.lane.take(timeout=0.1):
                try:
                    self.process(delivery, recorded=False, counts=counts)
                except Exception:  # one bad delivery must not stop the lane
                    log.exception("processing a delivery from %s failed", delivery.source)
            count_canonical(counts)
            _TELEMETRY_DEPTH.set(len(self.lane))
            if time.monotonic() >= next_tick:
                next_tick = time.monotonic() + self.flush_interval
                self.tick()

    def tick(self) -> None:
        """Run supervision and flush pending writes (called every flush interval)."""
        try:
            changes = self.health.supervise(self._supervised())
            for status in changes:
                ref = self.directory.lookup(status.device_key)
                with self._lock:
                    self._pending_events.append(event_row(status, ref, status.ts))
                self._notify([status], ref)
            metrics.DEVICES_OFFLINE.set(self.health.offline_count())
            self.flush()
            self.directory.flush_pending()
        except Exception:
            log.exception("periodic health/flush failed")

    def _supervised(self):
        seen: set[int] = set()
        for key, ref in self.directory.all():
            if ref.id in seen or ref.supervision_s <= 0:
                continue
            seen.add(ref.id)
            yield health_key(key, ref), key, ref.supervision_s

    def flush(self) -> None:
        """Write queued non-alarm events to the database in one transaction."""
        with self._lock:
            rows, self._pending_events = self._pending_events, []
        if not rows:
            return
        # One executemany of plain rows: ORM objects cost ~10x more per row, and a z2m state report
        # carries several condition events (smoke, battery_low, ...) on every message.
        # Telemetry side rows: a power cut may lose the last of them, so no fsync (hub.write_turn).
        with relaxed_sync(), self.session_factory() as session, session.begin():
            session.execute(_EVENTS_INSERT, rows)

    def process(self, delivery: Delivery, *, recorded: bool, counts: dict[type, int] | None = None) -> None:
        """Handle every message of a delivery; alarm events are already in the database when `recorded`.

        Canonical messages are counted into `counts` when given (the caller adds them to the metric).
        """
        batch = counts is not None
        counts = counts if batch else {}
        device_key, ref, key = None, None, ""
        run: list[Message] = []  # consecutive messages of one device
        for message in delivery.messages:
            kind = type(message)
            counts[kind] = counts.get(kind, 0) + 1
            # A delivery nearly always speaks for one device: look a registered one up once. Unmapped fields
            # of a pending device do not look it up again (it still sent data: one pending entry).
            unmapped = kind is UnmappedFields
            if message.device_key != device_key or (not unmapped and (ref is None or kind is DeviceInfo)):
                if run:
                    self._finish(run, key, ref, delivery)
                    run = []
                device_key = message.device_key
                ref = self._resolve(message, delivery)
                key = health_key(device_key, ref)
            if unmapped:
                # Bookkeeping about the payload, not device data: counted and shown on the device, never
                # stored as telemetry nor handed to health and the detectors.
                self._note_unmapped(message, ref, key)
                continue
            run.append(message)
            if kind is Reading:
                self.telemetry.enqueue_reading(message, ref.tags if ref else None)
            elif kind is DeviceEvent:
                # Unchanged conditions are not stored; listeners (detectors) still see every report.
                if self._condition_changed(key, message):
                    self.telemetry.enqueue_event(message, ref.tags if ref else None)
                    if not (recorded and message.is_alarm):
                        with self._lock:
                            self._pending_events.append(event_row(message, ref, delivery.received_at))
            elif kind is DeviceStatus:
                self.telemetry.enqueue_status(message, ref.tags if ref else None)
                with self._lock:
                    self._pending_events.append(event_row(message, ref, delivery.received_at))
        if run:
            self._finish(run, key, ref, delivery)
        if not batch:
            count_canonical(counts)
        self.processed += 1
        _LATENCY[recorded].observe(time.monotonic() - delivery.received_mono)

    def _finish(self, run: list[Message], key: str, ref: DeviceRef | None, delivery: Delivery) -> None:
        """Fold one device's messages into its health and hand them, with what that derived, to listeners."""
        derived = self.health.apply_many(key, run)
        if derived:
            with self._lock:
                self._pending_events.extend(event_row(extra, ref, delivery.received_at) for extra in derived)
            run = derived + run
        self._notify(run, ref)

    def _condition_changed(self, key: str, event: DeviceEvent) -> bool:
        """Return True for momentary events and for conditions (smoke, battery_low, ...) that changed.

        Devices repeat every flag in every state report; recording only changes keeps the event log
        about what happened instead of what stayed the same.
        """
        if event.state == EventState.MOMENTARY:
            return True
        slot = (key, event.kind)
        previous = self._conditions.get(slot)
        self._conditions[slot] = event.state
        if previous is None:
            return event.state == EventState.ACTIVE  # a first "all clear" is the normal state, not news
        return previous != event.state

    def _note_unmapped(self, message: UnmappedFields, ref: DeviceRef | None, key: str) -> None:
        """Count a payload's unmapped fields per profile and field, and keep them on the device."""
        child = self._unmapped.child
        for name in message.fields:
            child(message.source, name).inc()
        if ref is None:
            self.directory.note_unmapped(message.device_key, message.fields)
        else:
            self.health.note_unmapped(key, message.fields)

    def _resolve(self, message: Message, delivery: Delivery) -> DeviceRef | None:
        ref = self.directory.lookup(message.device_key)
        if ref is not None:
            return ref
        info = message if isinstance(message, DeviceInfo) else None
        if info is not None:
            ref = next(filter(None, map(self.directory.lookup, info.aliases)), None)
            if ref is not None or info.removed:
                return ref
        if message.device_key.startswith(RECEIVER_KEY_PREFIX):
            return None  # a receiver's own link (settings), not a device waiting to be bound
        metrics.UNKNOWN_DEVICE_MESSAGES.inc()
        self.directory.note_unknown(message.device_key, source=delivery.source, topic=delivery.topic,
                                    payload=delivery.payload, info=info, ts=delivery.received_at)
        return None

    def _notify(self, messages: list[Message], ref: DeviceRef | None) -> None:
        for listener in self.listeners:
            try:
                listener(messages, ref)
            except Exception:
                log.exception("listener %r failed", listener)


def count_canonical(counts: dict[type, int]) -> None:
    """Add counts of canonical messages by type to the Prometheus counter."""
    for kind, n in counts.items():
        (_CANONICAL.get(kind) or metrics.CANONICAL.labels("other")).inc(n)

