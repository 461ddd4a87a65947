"""Feed canonical messages to the streaming detectors and record every detection with its evidence.

Wrist acceleration is batched: `on_messages` only queues an AccelBatch, and the queue goes to the fall
detector in one `FallDetector.update_many` call (with the wristband inactivity feed and the cancel
window's recovery check) every `accel_flush_s` (0.25 s) on the engine's timer thread, or at once on
the caller's thread when `accel_max_batches` are queued. A batch therefore waits at most
`accel_flush_s` plus the run time of one flush (about 30 ms for 1,250 batches) before the detector
sees it: batching delays a fall detection by well under 1 s. Every other message (SOS, fire, device
falls, vitals, health) is handled on the caller's thread and never waits for the fall detector: it
has its own lock.

A `fall` concluded from wrist acceleration is held for the cancel window (`hub.detect.fall_cancel`,
`fall_cancel_window_s`, default 30 s) before it is recorded as active; a cancelled one is recorded
as "cancelled". Held falls are saved in `detector_snapshots` ("fall_holds") in the same transaction
as the detections, so a restart resumes them with their original deadlines.

Latched conditions (hub.detect.latches) never make a device silent: a report that repeats one
refreshes it, a latch no report refreshed for its expiry time expires on the timer, and an alarm's
latch is released when its alert closes (`on_alert_change`, an alert-bus listener), so the next
alarm from that device is a new detection even when no restore ever came.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
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
from hub import metrics
from hub.cluster.fence import Fence, LeaseLost
from hub.detect.detection import Detection, DetectionState, DetectionType, jsonable
from hub.detect.fall import FallDetection, FallDetector
from hub.detect.fall_cancel import CANCEL_KINDS, FallCancelWindow
from hub.detect.fire import FireGasDetector
from hub.detect.inactivity import ActivitySource, InactivityDetector
from hub.detect.latches import LATCHES_EXPIRED, RELEASED_BY_CLOSE, expiry_table
from hub.detect.models import DetectionRecord, DetectorSnapshot
from hub.detect.vitals import VitalsDetector
from hub.devices.directory import DeviceRef
from hub.write_turn import mark_alarm_writer

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
    EventKind.INACTIVITY: DetectionType.INACTIVITY,  # a panel's senior watch / system inactivity timer ran out
    EventKind.SUPERVISION_LOST: DetectionType.DEVICE_OFFLINE,  # a panel lost a sensor, a receiver its link
    EventKind.POWER_LOSS: DetectionType.FAULT,  # mains lost: the device runs on its battery
}
WRIST_MOVING_STD_G = 0.03  # spread of |a| within a 1 s batch above sensor noise: the arm moved
HEART_RATE_FRESH_S = 600.0  # a heart rate this recent means the band is on a wrist
_VITALS = frozenset({"heart_rate", "spo2"})
# Conditions (not one-off events): only changes are detections, not every report that repeats the state.
_CONDITIONS = {DetectionType.BATTERY_LOW, DetectionType.TAMPER, DetectionType.FAULT, DetectionType.DEVICE_OFFLINE}
# Device-side conditions latched until a restore, with the event kind their expiry is configured by;
# device_offline is the hub's own supervision and clears when the device is heard again.
_LATCHED_CONDITIONS = {DetectionType.BATTERY_LOW: EventKind.BATTERY_LOW, DetectionType.TAMPER: EventKind.TAMPER,
                       DetectionType.FAULT: EventKind.FAULT}
_FIRE_TYPES = frozenset({DetectionType.FIRE, DetectionType.FIRE_SUSPECTED, DetectionType.HEAT, DetectionType.CO,
                         DetectionType.GAS, DetectionType.GAS_PREALARM})
_OPEN_ALERT_STATES = frozenset({"new", "acknowledged", "dispatched"})
_LATCHES_RELEASED = metrics.LATCHES_ENDED.labels("released")
# Life-safety detections are committed at once, on the thread that found them; the rest in batches.
_IMMEDIATE = {DetectionType.FALL, DetectionType.FALL_SUSPECTED, DetectionType.SOS, DetectionType.FIRE,
              DetectionType.FIRE_SUSPECTED, DetectionType.GAS, DetectionType.CO, DetectionType.HEAT}


class DetectionEngine:
    """Owns the detectors for a hub; the processor hands it each delivery's messages (`on_messages`)."""

    def __init__(self, *, session_factory: sessionmaker[Session], clock: Callable[[], float] = time.time,
                 fall_capacity: int = 20_000, inactivity_capacity: int = 20_000,
                 tick_interval: float = 1.0, snapshot_interval: float = 60.0,
                 fall_cancel_window_s: float = 30.0, accel_flush_s: float = 0.25,
                 accel_max_batches: int = 4096, latch_expiry_s: Mapping[str, float] | None = None,
                 shard: str | None = None, fence: Fence | None = None) -> None:
        self.session_factory = session_factory
        # In a cluster: the shard these detectors serve, its state saved under names of its own, and the
        # fence every commit is checked against (None on a single hub).
        self.shard = shard
        self.fence = fence
        self.clock = clock
        self.fall = FallDetector(fall_capacity, clock=clock)
        self.fire = FireGasDetector(clock, latch_expiry_s=latch_expiry_s)
        self.latch_expiry_s = expiry_table(latch_expiry_s)
        self.vitals = VitalsDetector(clock)
        self.inactivity = InactivityDetector(clock, capacity=inactivity_capacity)
        self.cancel = FallCancelWindow(fall_cancel_window_s, clock)
        self._last_heart_rate: dict[int, float] = {}
        self._last_steps: dict[str, float] = {}
        self._refs: dict[str, DeviceRef | None] = {}  # latest ref per wristband, for falls decided later
        self._next_snapshot = 0.0
        self.tick_interval = tick_interval
        self.snapshot_interval = snapshot_interval
        self.accel_flush_s = accel_flush_s
        self.accel_max_batches = accel_max_batches
        self.emitted = 0
        self.alerts: AlertSink | None = None
        self._lock = threading.Lock()  # every detector but the fall detector, the cancel window, pending rows
        self._fall_lock = threading.Lock()  # the fall detector: a long update_many never blocks an SOS
        self._accel_lock = threading.Lock()  # the queue of AccelBatch messages
        self._flush_lock = threading.Lock()  # one writer: alerts are raised in detection order
        self._accel: list[tuple[AccelBatch, DeviceRef | None]] = []
        self._full_warned = False
        self._pending: list[dict] = []
        # Active conditions -> hub clock time of the last report that said so (latches expire from it).
        self._active_conditions: dict[tuple[DetectionType, str], float] = {}
        self.latches_expired = 0
        self.latches_released = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="carehub-detect", daemon=True)

    def start(self) -> None:
        """Restore learned state and held falls, then start the timer thread (timers, batches, writes)."""
        with self.session_factory() as session:
            saved = session.get(DetectorSnapshot, self.snapshot_name("inactivity"))
            holds = session.get(DetectorSnapshot, self.snapshot_name("fall_holds"))
            fire = session.get(DetectorSnapshot, self.snapshot_name("fire"))
        if fire is not None:
            try:
                self.fire.restore(fire.data)
            except (ValueError, KeyError, TypeError):
                # Open fire alerts stay open in the database; only the room confirmations start again.
                log.exception("fire detector snapshot unusable; confirmations start again")
        if saved is not None:
            try:
                self.inactivity.restore(saved.data)
            except (ValueError, KeyError):
                log.exception("inactivity snapshot unusable; learning starts again")
        if holds is not None:
            # A held fall is a pending alarm: an unreadable snapshot must stop the start, not be skipped.
            self.cancel.restore(holds.data)
        self._active_conditions = dict.fromkeys(self._recorded_conditions(), self.clock())
        with self._lock:
            overdue = self.cancel.due()  # deadlines that passed while the hub was down raise now
        self._emit(overdue)
        self._thread.start()

    def _recorded_conditions(self) -> set[tuple[DetectionType, str]]:
        """Return the conditions whose latest recorded detection is active, so their clearing after a
        restart is still recorded (and clears their alerts)."""
        latest = (select(func.max(DetectionRecord.id))
                  .where(DetectionRecord.type.in_([str(t) for t in _CONDITIONS]))
                  .group_by(DetectionRecord.type, DetectionRecord.subject))
        if self.shard is not None:
            latest = latest.where(DetectionRecord.shard == self.shard)
        with self.session_factory() as session:
            rows = session.execute(select(DetectionRecord.type, DetectionRecord.subject)
                                   .where(DetectionRecord.id.in_(latest),
                                          DetectionRecord.state == str(DetectionState.ACTIVE))).all()
        return {(DetectionType(type_), subject) for type_, subject in rows}

    def stop(self) -> None:
        """Stop the timer thread, feed queued acceleration, write what is pending and save learned state."""
        self._stop.set()
        self._thread.join(10)
        self.flush_accel()
        self.flush()
        self.save_snapshot()

    def abandon(self) -> None:
        """Stop the timer thread and write nothing more: the shard's next holder restores what was saved."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(10)

    def snapshot_name(self, base: str) -> str:
        """Return the name this engine saves `base` state under (per shard in a cluster)."""
        return base if self.shard is None else f"{base}@{self.shard}"

    def save_snapshot(self) -> None:
        """Persist the inactivity detector's baselines and running timers, and the fire detector's latches."""
        with self._lock:
            data = self.inactivity.snapshot()
            fire = self.fire.snapshot()
        with self.session_factory() as session, session.begin():
            if self.fence:
                self.fence.check(session)
            session.merge(DetectorSnapshot(name=self.snapshot_name("inactivity"), data=data, saved_at=self.clock()))
            session.merge(DetectorSnapshot(name=self.snapshot_name("fire"), data=fire, saved_at=self.clock()))

    def on_message(self, message: Message, ref: DeviceRef | None) -> None:
        """Run the detectors that care about `message`; acceleration is queued."""
        self.on_messages([message], ref)

    def on_messages(self, messages: list[Message], ref: DeviceRef | None) -> None:
        """Run the detectors on one device's messages of a delivery (a processor listener), in order."""
        detections: list[Detection] = []
        accel: list[AccelBatch] = []
        with self._lock:
            for message in messages:
                kind = type(message)
                if kind is AccelBatch:
                    accel.append(message)
                elif kind is Reading:
                    detections += self.fire.update(message, ref)
                    if message.metric in _VITALS:
                        detections += self.vitals.update(message, ref)
                elif kind is DeviceEvent:
                    side = _DEVICE_SIDE.get(message.kind)
                    if side is not None and self._may_change(side, message):
                        detections += _device_side(message, ref)
                    detections += self.fire.update(message, ref)
                    if message.kind in CANCEL_KINDS:
                        detections += self.cancel.press(message, ref.resident_id if ref else None)
                elif kind is DeviceStatus:
                    detections += _availability(message, ref)
                if kind is not AccelBatch and ref is not None and ref.resident_id is not None:
                    detections += self._resident_activity(message, ref)
            if detections:
                detections = [d for d in detections if self._changes_condition(d)]
        self._emit(detections)
        if accel:
            self._queue_accel(accel, ref)

    def _queue_accel(self, batches: list[AccelBatch], ref: DeviceRef | None) -> None:
        with self._accel_lock:
            self._accel.extend((batch, ref) for batch in batches)
            if len(self._accel) < self.accel_max_batches:
                return
            queued, self._accel = self._accel, []
        self._feed_accel(queued)

    def flush_accel(self) -> None:
        """Feed every queued acceleration batch to the fall and wristband-inactivity detectors now."""
        with self._accel_lock:
            queued, self._accel = self._accel, []
        if queued:
            self._feed_accel(queued)

    def _feed_accel(self, queued: list[tuple[AccelBatch, DeviceRef | None]]) -> None:
        with self._fall_lock:
            for message, ref in queued:
                self._refs[message.device_key] = ref
            fits = [(m.device_key, m.t, m.xyz) for m, _ in queued if self.fall.can_take(m.device_key)]
            if len(fits) < len(queued) and not self._full_warned:
                self._full_warned = True
                log.error("fall detector full (%d wristbands): new wristbands are not fall-monitored",
                          self.fall.capacity)
            found = self.fall.update_many(fits)
        spread = batch_spread([m for m, _ in queued])
        post_s = self.fall.params.post_s
        with self._lock:
            detections: list[Detection] = []
            for f in found:
                detections += self.cancel.hold(self._from_fall(f), after_t=f.t + post_s)
            detections += self._wristband_activity(queued, spread)
            watched = self.cancel.watching()
            if watched:
                for (m, _), sd in zip(queued, spread, strict=True):
                    if m.device_key in watched and len(m.t):
                        detections += self.cancel.motion(m.device_key, *_span(m.t), float(sd))
        self._emit(detections)

    def _wristband_activity(self, queued: list[tuple[AccelBatch, DeviceRef | None]],
                            spread: np.ndarray) -> list[Detection]:
        """Tell the inactivity detector which wristbands moved, once per batch (lock held)."""
        out: list[Detection] = []
        for (message, ref), sd in zip(queued, spread, strict=True):
            if ref is None or ref.resident_id is None or len(message.t) < 2:
                continue
            rid = ref.resident_id
            if not self.inactivity.is_registered(rid):
                self.inactivity.register(rid, site_id=ref.site_id, room_id=ref.room_id)
            hr_fresh = message.ts - self._last_heart_rate.get(rid, -1e18) < HEART_RATE_FRESH_S
            # wear() records the movement as wristband activity itself: no second activity() here.
            out += self.inactivity.wear(rid, message.ts, moving=bool(sd > WRIST_MOVING_STD_G),
                                        heart_rate_present=hr_fresh)
        return out

    def _resident_activity(self, message: Message, ref: DeviceRef) -> list[Detection]:
        """Tell the inactivity detector what a non-acceleration message says about its resident (lock held)."""
        rid = ref.resident_id
        if not self.inactivity.is_registered(rid):
            self.inactivity.register(rid, site_id=ref.site_id, room_id=ref.room_id)
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
            if message.kind in (EventKind.BUTTON, EventKind.CANCEL, EventKind.SOS, EventKind.PRESENCE):
                source = ActivitySource.PRESENCE if message.kind == EventKind.PRESENCE else ActivitySource.BUTTON
                return self.inactivity.activity(rid, message.ts, source)
        return []

    def _may_change(self, dtype: DetectionType, event: DeviceEvent) -> bool:
        """Return False when a device-side condition event repeats its condition's known state.

        Devices repeat `battery_low: false` in every report; building a detection only for
        `_changes_condition` to drop it cost more than the rest of the detectors together.
        """
        if dtype not in _CONDITIONS:
            return True
        key = (dtype, event.device_key)
        active = key in self._active_conditions
        if active and event.state != EventState.CLEARED:
            self._active_conditions[key] = self.clock()  # "still so": the latch is refreshed
        return active != (event.state != EventState.CLEARED)

    def _changes_condition(self, det: Detection) -> bool:
        if det.type not in _CONDITIONS:
            return True
        key = (det.type, det.subject)
        if det.state == DetectionState.ACTIVE:
            if key in self._active_conditions:
                return False
            self._active_conditions[key] = self.clock()
            return True
        if key not in self._active_conditions:
            return False
        del self._active_conditions[key]
        return True

    def _expire_conditions(self, now: float) -> None:
        """Forget latched device conditions no report has confirmed for their expiry time (lock held)."""
        for key, seen in list(self._active_conditions.items()):
            kind = _LATCHED_CONDITIONS.get(key[0])
            if kind is not None and now - seen >= self.latch_expiry_s[kind]:
                del self._active_conditions[key]
                self.latches_expired += 1
                LATCHES_EXPIRED.inc()
                log.info("%s of %s expired with no restore", key[0], key[1])

    def on_alert_change(self, alert: dict, change: str) -> None:
        """Release the latches behind an alert that closed, so the device's next alarm raises anew."""
        if alert.get("state") in _OPEN_ALERT_STATES:
            return
        try:
            dtype = DetectionType(alert.get("type"))
        except ValueError:
            return
        released = 0
        with self._lock:
            if dtype in _FIRE_TYPES:
                released = self.fire.release(
                    dtype, device_key=alert.get("device_key"), resident_id=alert.get("resident_id"),
                    room_id=alert.get("room_id"), subject=alert.get("subject") or "")
            elif _LATCHED_CONDITIONS.get(dtype) in RELEASED_BY_CLOSE and alert.get("device_key"):
                released = self._active_conditions.pop((dtype, alert["device_key"]), None) is not None
            self.latches_released += released
        if released:
            _LATCHES_RELEASED.inc(released)

    def _from_fall(self, found: FallDetection) -> Detection:
        return _from_fall(found, self._refs.get(str(found.device_key)))

    def tick(self) -> None:
        """Run every timer at clock time: silent wristbands, fire and inactivity timers, cancel windows."""
        with self._fall_lock:
            polled = self.fall.poll()
        post_s = self.fall.params.post_s
        with self._lock:
            detections: list[Detection] = []
            for f in polled:
                detections += self.cancel.hold(self._from_fall(f), after_t=f.t + post_s)
            detections += self.fire.tick() + self.inactivity.tick() + self.cancel.due()
            self._expire_conditions(self.clock())
        self._emit(detections)
        self.flush()
        if self.clock() >= self._next_snapshot:
            self._next_snapshot = self.clock() + self.snapshot_interval
            self.save_snapshot()

    def _run(self) -> None:
        mark_alarm_writer()  # held falls and fall alerts are written from here
        next_tick = time.monotonic() + self.tick_interval
        while not self._stop.wait(min(self.accel_flush_s, self.tick_interval)):
            try:
                self.flush_accel()
                if time.monotonic() >= next_tick:
                    next_tick = time.monotonic() + self.tick_interval
                    self.tick()
                else:
                    with self._lock:
                        due = self.cancel.due()
                    self._emit(due)
            except LeaseLost:
                log.error("shard %s lost: its detectors stop", self.shard)
                return
            except Exception:
                log.exception("detector tick failed")

    def _emit(self, detections: list[Detection]) -> None:
        if not detections and not self.cancel.dirty:
            return  # the common case: a report that changed nothing (changed fire latches: the next tick)
        now = self.clock()
        urgent = self.cancel.dirty  # a new or closed hold is saved at once: a pending alarm must survive a crash
        if detections:
            with self._lock:
                for det in detections:
                    self._pending.append(_record(det, now))
                    urgent = urgent or det.type in _IMMEDIATE
        if urgent:
            self.flush()
        self.emitted += len(detections)

    def flush(self) -> None:
        """Write pending detections, their alerts and the held falls in one transaction; keep them on failure."""
        with self._flush_lock:
            with self._lock:
                rows, self._pending = self._pending, []
                holds = self.cancel.snapshot() if self.cancel.dirty else None
                self.cancel.dirty = False
                fire = self.fire.snapshot() if self.fire.dirty else None
            if not rows and holds is None and fire is None:
                return
            try:
                with self.session_factory() as session, session.begin():
                    if self.fence:
                        self.fence.check(session)  # a lost shard raises nothing: its next holder does
                    records = [DetectionRecord(**row, shard=self.shard) for row in rows]
                    session.add_all(records)
                    if holds is not None:
                        session.merge(DetectorSnapshot(name=self.snapshot_name("fall_holds"), data=holds,
                                                       saved_at=self.clock()))
                    if fire is not None:
                        session.merge(DetectorSnapshot(name=self.snapshot_name("fire"), data=fire,
                                                       saved_at=self.clock()))
                    session.flush()
                    changes = self.alerts.on_detections(session, records) if self.alerts else []
            except Exception:
                with self._lock:  # the timer thread retries them, in order, before anything newer
                    self._pending[:0] = rows
                    self.cancel.dirty = self.cancel.dirty or holds is not None
                    self.fire.dirty = self.fire.dirty or fire is not None
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
                room_id=det.room_id, site_id=det.site_id, evidence=jsonable(det.evidence), recorded_at=now)


def batch_spread(batches: list[AccelBatch]) -> np.ndarray:
    """Return the spread (standard deviation) of |a| within each batch, all batches at once."""
    counts = np.fromiter((len(m.t) for m in batches), np.int64, len(batches))
    out = np.zeros(len(batches))
    full = counts > 0
    if not full.any():
        return out
    mag = np.linalg.norm(np.concatenate([m.xyz for m in batches]).astype(np.float64), axis=1)
    starts = (np.cumsum(counts) - counts)[full]
    n = counts[full]
    dev = mag - np.repeat(np.add.reduceat(mag, starts) / n, n)
    out[full] = np.sqrt(np.add.reduceat(dev * dev, starts) / n)
    return out


def _span(t: np.ndarray) -> tuple[float, float]:
    """Return the time a batch covers: its samples plus one sample interval before the first."""
    first, last = float(t[0]), float(t[-1])
    return (first - (last - first) / (len(t) - 1) if len(t) > 1 else first), last
