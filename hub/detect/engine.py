"""Feed canonical messages to the streaming detectors and record every detection with its evidence."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Protocol

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from device_drivers.model import (
    AccelBatch,
    Availability,
    DeviceEvent,
    DeviceStatus,
    EventKind,
    EventState,
    Message,
    Reading,
)
from hub.detect.detection import Detection, DetectionState, DetectionType
from hub.detect.fall import FallDetection, FallDetector
from hub.detect.fire import FireGasDetector
from hub.detect.inactivity import ActivitySource, InactivityDetector
from hub.detect.models import DetectionRecord, DetectorSnapshot
from hub.detect.vitals import VitalsDetector
from hub.devices.directory import DeviceRef

log = logging.getLogger(__name__)

# Device-side conclusions (a watch's "FALL DOWN", a fall radar, a detector's own fault) become detections
# directly; the hub's own detectors add what devices cannot tell.
_DEVICE_SIDE = {
    EventKind.FALL: DetectionType.FALL,
    EventKind.FALL_SUSPECTED: DetectionType.FALL_SUSPECTED,
    EventKind.SOS: DetectionType.SOS,
    EventKind.BATTERY_LOW: DetectionType.BATTERY_LOW,
    EventKind.TAMPER: DetectionType.TAMPER,
    EventKind.FAULT: DetectionType.FAULT,
}
WRIST_MOVING_STD_G = 0.03  # spread of |a| within a 1 s batch above sensor noise: the arm moved
HEART_RATE_FRESH_S = 600.0  # a heart rate this recent means the band is on a wrist
_VITALS = frozenset({"heart_rate", "spo2"})
# Conditions (not one-off events): only changes are detections, not every report that repeats the state.
_CONDITIONS = {DetectionType.BATTERY_LOW, DetectionType.TAMPER, DetectionType.FAULT, DetectionType.DEVICE_OFFLINE}
# Life-safety detections are committed at once, on the thread that found them; the rest in batches.
_IMMEDIATE = {DetectionType.FALL, DetectionType.FALL_SUSPECTED, DetectionType.SOS, DetectionType.FIRE,
              DetectionType.FIRE_SUSPECTED, DetectionType.GAS, DetectionType.CO, DetectionType.HEAT}


class DetectionEngine:
    """Owns the detectors for a hub; call `on_message` for every processed canonical message."""

    def __init__(self, *, session_factory: sessionmaker[Session], clock: Callable[[], float] = time.time,
                 fall_capacity: int = 20_000, inactivity_capacity: int = 20_000,
                 tick_interval: float = 1.0, snapshot_interval: float = 60.0) -> None:
        self.session_factory = session_factory
        self.clock = clock
        self.fall = FallDetector(fall_capacity, clock=clock)
        self.fire = FireGasDetector(clock)
        self.vitals = VitalsDetector(clock)
        self.inactivity = InactivityDetector(clock, capacity=inactivity_capacity)
        self._last_heart_rate: dict[int, float] = {}
        self._last_steps: dict[str, float] = {}
        self._next_snapshot = 0.0
        self.tick_interval = tick_interval
        self.snapshot_interval = snapshot_interval
        self.listeners: list[Callable[[Detection], None]] = []
        self.emitted = 0
        self.alerts: AlertSink | None = None
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()  # one writer: alerts are raised in detection order
        self._pending: list[dict] = []
        self._active_conditions: set[tuple[DetectionType, str]] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="carehub-detect", daemon=True)

    def start(self) -> None:
        """Restore learned state, then start the timer thread (timers, silent devices, batched writes)."""
        with self.session_factory() as session:
            saved = session.get(DetectorSnapshot, "inactivity")
        if saved is not None:
            try:
                self.inactivity.restore(saved.data)
            except (ValueError, KeyError):
                log.exception("inactivity snapshot unusable; learning starts again")
        self._active_conditions = self._recorded_conditions()
        self._thread.start()

    def _recorded_conditions(self) -> set[tuple[DetectionType, str]]:
        """Return the conditions whose latest recorded detection is active, so their clearing after a
        restart is still recorded (and clears their alerts)."""
        latest = (select(func.max(DetectionRecord.id))
                  .where(DetectionRecord.type.in_([str(t) for t in _CONDITIONS]))
                  .group_by(DetectionRecord.type, DetectionRecord.subject))
        with self.session_factory() as session:
            rows = session.execute(select(DetectionRecord.type, DetectionRecord.subject)
                                   .where(DetectionRecord.id.in_(latest),
                                          DetectionRecord.state == str(DetectionState.ACTIVE))).all()
        return {(DetectionType(type_), subject) for type_, subject in rows}

    def stop(self) -> None:
        """Stop the timer thread, write what is pending and save learned state."""
        self._stop.set()
        self._thread.join(10)
        self.flush()
        self.save_snapshot()

    def save_snapshot(self) -> None:
        """Persist the inactivity detector's baselines and running timers."""
        with self._lock:
            data = self.inactivity.snapshot()
        with self.session_factory() as session, session.begin():
            session.merge(DetectorSnapshot(name="inactivity", data=data, saved_at=self.clock()))

    def on_message(self, message: Message, ref: DeviceRef | None) -> None:
        """Run the detectors that care about `message` (a processor listener)."""
        detections: list[Detection] = []
        with self._lock:
            if isinstance(message, AccelBatch):
                found = self.fall.update(message.device_key, message.t, message.xyz)
                detections = [_from_fall(f, ref) for f in found]
            elif isinstance(message, DeviceEvent):
                detections = _device_side(message, ref) + self.fire.update(message, ref)
            elif isinstance(message, Reading):
                detections = self.fire.update(message, ref)
                if message.metric in _VITALS:
                    detections += self.vitals.update(message, ref)
            elif isinstance(message, DeviceStatus):
                detections = _availability(message, ref)
            if ref is not None and ref.resident_id is not None:
                detections += self._resident_activity(message, ref)
            detections = [d for d in detections if self._changes_condition(d)]
        self._emit(detections)

    def _resident_activity(self, message: Message, ref: DeviceRef) -> list[Detection]:
        """Tell the inactivity detector what this message says about its resident (lock held)."""
        rid = ref.resident_id
        if not self.inactivity.is_registered(rid):
            self.inactivity.register(rid, site_id=ref.site_id, room_id=ref.room_id)
        if isinstance(message, AccelBatch):
            if len(message.t) < 2:
                return []
            moving = bool(np.linalg.norm(message.xyz, axis=1).std() > WRIST_MOVING_STD_G)
            hr_fresh = message.ts - self._last_heart_rate.get(rid, -1e18) < HEART_RATE_FRESH_S
            out = self.inactivity.wear(rid, message.ts, moving=moving, heart_rate_present=hr_fresh)
            if moving:
                out += self.inactivity.activity(rid, message.ts, ActivitySource.WRISTBAND)
            return out
        if isinstance(message, Reading):
            if message.metric == "heart_rate" and message.value > 0:
                self._last_heart_rate[rid] = message.ts
            elif message.metric in ("presence", "occupancy", "motion") and message.value > 0:
                source = ActivitySource.PRESENCE if message.metric == "presence" else ActivitySource.MOTION
                return self.inactivity.activity(rid, message.ts, source)
            elif message.metric == "steps":
                previous = self._last_steps.get(message.device_key)
                self._last_steps[message.device_key] = message.value
                if previous is not None and message.value > previous:
                    return self.inactivity.activity(rid, message.ts, ActivitySource.STEPS)
            return []
        if isinstance(message, DeviceEvent):
            if message.kind == EventKind.CHECKIN:
                return self.inactivity.checkin(rid, message.ts)
            if message.kind in (EventKind.BUTTON, EventKind.SOS, EventKind.PRESENCE):
                source = ActivitySource.PRESENCE if message.kind == EventKind.PRESENCE else ActivitySource.BUTTON
                return self.inactivity.activity(rid, message.ts, source)
        return []

    def _changes_condition(self, det: Detection) -> bool:
        if det.type not in _CONDITIONS:
            return True
        key = (det.type, det.subject)
        if det.state == DetectionState.ACTIVE:
            if key in self._active_conditions:
                return False
            self._active_conditions.add(key)
            return True
        if key not in self._active_conditions:
            return False
        self._active_conditions.discard(key)
        return True

    def _run(self) -> None:
        while not self._stop.wait(self.tick_interval):
            try:
                with self._lock:
                    detections = [_from_fall(f, None) for f in self.fall.poll()] + self.fire.tick()
                    detections += self.inactivity.tick()
                self._emit(detections)
                self.flush()
                if self.clock() >= self._next_snapshot:
                    self._next_snapshot = self.clock() + self.snapshot_interval
                    self.save_snapshot()
            except Exception:
                log.exception("detector tick failed")

    def _emit(self, detections: list[Detection]) -> None:
        if not detections:
            return
        now = self.clock()
        urgent = False
        with self._lock:
            for det in detections:
                self._pending.append(_record(det, now))
                urgent = urgent or det.type in _IMMEDIATE
        if urgent:
            self.flush()
        self.emitted += len(detections)
        for det in detections:
            for listener in self.listeners:
                try:
                    listener(det)
                except Exception:
                    log.exception("detection listener %r failed", listener)

    def flush(self) -> None:
        """Write pending detections, and the alerts they raise, in one transaction; keep them on failure."""
        with self._flush_lock:
            with self._lock:
                rows, self._pending = self._pending, []
            if not rows:
                return
            try:
                with self.session_factory() as session, session.begin():
                    records = [DetectionRecord(**row) for row in rows]
                    session.add_all(records)
                    session.flush()
                    changes = self.alerts.on_detections(session, records) if self.alerts else []
            except Exception:
                with self._lock:  # the timer thread retries them, in order, before anything newer
                    self._pending[:0] = rows
                raise
        if self.alerts:
            self.alerts.publish(changes)


class AlertSink(Protocol):
    """Turns recorded detections into alerts inside the detections' transaction (hub.alerts.flows)."""

    def on_detections(self, session: Session, rows: list[DetectionRecord]) -> list: ...

    def publish(self, changes: list) -> None: ...


def _place(ref: DeviceRef | None) -> dict:
    if ref is None:
        return {}
    return {"resident_id": ref.resident_id, "room_id": ref.room_id, "site_id": ref.site_id}


def _from_fall(found: FallDetection, ref: DeviceRef | None) -> Detection:
    key = str(found.device_key)
    return Detection(
        type=DetectionType(found.type), subject=key, t=found.t, confidence=found.confidence, device_key=key,
        evidence={"detector": "wrist_fall", "features": found.features, "thresholds": found.thresholds,
                  **found.evidence},
        **_place(ref),
    )


def _device_side(event: DeviceEvent, ref: DeviceRef | None) -> list[Detection]:
    kind = _DEVICE_SIDE.get(event.kind)
    if kind is None:
        return []
    state = DetectionState.CLEARED if event.state == EventState.CLEARED else DetectionState.ACTIVE
    return [Detection(type=kind, subject=event.device_key, t=event.ts, state=state, device_key=event.device_key,
                      evidence={"detector": "device", "source": event.source, "event": str(event.kind),
                                "event_state": str(event.state), "detail": event.detail},
                      **_place(ref))]


def _availability(status: DeviceStatus, ref: DeviceRef | None) -> list[Detection]:
    if ref is None:  # pending devices are nobody's responsibility yet: no offline alerts for them
        return []
    state = DetectionState.ACTIVE if status.availability == Availability.OFFLINE else DetectionState.CLEARED
    return [Detection(type=DetectionType.DEVICE_OFFLINE, subject=status.device_key, t=status.ts, state=state,
                      device_key=status.device_key,
                      evidence={"detector": "supervision", "source": status.source, "reason": status.reason,
                                "supervision_s": ref.supervision_s},
                      **_place(ref))]


def _record(det: Detection, now: float) -> dict:
    return dict(type=str(det.type), state=str(det.state), subject=det.subject, t=det.t,
                confidence=det.confidence, device_key=det.device_key, resident_id=det.resident_id,
                room_id=det.room_id, site_id=det.site_id, evidence=_jsonable(det.evidence), recorded_at=now)


def _jsonable(value):
    """Make evidence JSON-safe (NumPy scalars and arrays become plain numbers and lists)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "tolist"):
        return value.tolist()
    return value
