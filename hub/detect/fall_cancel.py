"""Cancel window for wrist falls: hold a `fall` for `window_s`, let a button press or recovery cancel it.

Issue 3 item 2: "a short cancel window (configurable, default 30 s) lets the resident cancel with a
button press or obvious recovery; a cancelled fall is still logged". A state machine per held fall,
driven by the engine, with an injected clock:

  hold(fall)         a `fall` the hub concluded from wrist acceleration; `due_at = clock() + window_s`
  press(event)       a BUTTON or CANCEL press (not SOS) timestamped at or after the impact, from the
                     same wristband or any device of the same resident -> "cancelled"; a press that
                     arrives before the hub has concluded (the post-impact window is still running)
                     is remembered and cancels the fall as soon as it is held
  motion(batch)      obvious recovery -> "cancelled": walking-level movement on the same wristband,
                     |a| spread of a batch >= RECOVERY_STD_G, over a stretch of RECOVERY_S of data
                     after the post-impact window that starts and ends with such a batch and holds at
                     most RECOVERY_QUIET_S below it (one quiet 1-s batch)
  due()              the window ended with neither -> the fall as an "active" detection (the alert)

Only `fall` from the hub's own wrist detector is held: device-side falls (a watch's FALL DOWN, a fall
radar, Contact ID medical) had their own cancel on the device, and `fall_suspected` is never held.
A window of 0 disables the hold. A press timestamped before the impact never cancels (a late,
redelivered press must not hide a fall), so a clock skew between devices errs towards the alarm.

Recovery threshold, measured on ../shared/data/falls with 1-s windows of |a| std: 55 of 63 UMAFall
walking trials and 64 of 149 SmartFallMM timed-up-and-go trials (11 s median, sitting included)
contain 8 windows that start and end at >= 0.1 g with at most one under it; in the data after the
2.5 s post-impact window of fall trials, 0 of 208 UMAFall and 1 of 306 SmartFallMM falls do. Most
of those recordings end within 9 s of the impact, so this bounds false cancels only over that
short stretch, not over a whole 30 s window.

Held falls are the engine's to persist (`snapshot` / `restore`, written in the same transaction as
detections), so a pending fall survives a restart with its original deadline; one whose deadline
passed while the hub was down is raised at the first `due()` after the restart.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from device_drivers.model import DeviceEvent, EventKind, EventState
from hub.detect.detection import Detection, DetectionState, DetectionType

SNAPSHOT_VERSION = 1
CANCEL_KINDS = frozenset({EventKind.BUTTON, EventKind.CANCEL})
RECOVERY_STD_G = 0.1  # |a| spread within a batch at walking level (UMAFall walking: median 0.18 g)
RECOVERY_S = 8.0  # seconds of such movement that count as obvious recovery
RECOVERY_QUIET_S = 1.2  # quiet time allowed inside them: one 1-s batch, with timing slack
RECOVERY_GAP_S = 2.0  # a longer hole in the data restarts the count (no data is no evidence)


@dataclass(slots=True)
class HeldFall:
    """A fall waiting for its cancel window to end; `motion` holds (start, end, moving) per batch."""

    detection: Detection
    held_at: float
    due_at: float
    after_t: float  # movement counts from here (impact + post window), device clock
    restored_at: float | None = None
    motion: list[tuple[float, float, bool]] = field(default_factory=list)


class FallCancelWindow:
    """Held wrist falls of every device; not thread-safe (the engine calls it under its lock)."""

    def __init__(self, window_s: float, clock: Callable[[], float] = time.time) -> None:
        if window_s < 0:
            raise ValueError("fall_cancel_window_s must be >= 0")
        self.window_s = float(window_s)
        self.clock = clock
        self.dirty = False  # held set changed since the engine last persisted it
        self._held: list[HeldFall] = []
        self._press_by_device: dict[str, tuple[float, dict[str, Any]]] = {}
        self._press_by_resident: dict[int, tuple[float, dict[str, Any]]] = {}

    @property
    def enabled(self) -> bool:
        """Return True when falls are held (window > 0)."""
        return self.window_s > 0

    def held(self) -> list[Detection]:
        """Return the falls currently held."""
        return [h.detection for h in self._held]

    def watching(self) -> set[str]:
        """Return the device keys whose movement may still cancel a held fall."""
        return {h.detection.device_key for h in self._held if h.detection.device_key}

    def hold(self, det: Detection, *, after_t: float) -> list[Detection]:
        """Hold a wrist `fall`; return it at once when the window is 0 or a press already cancelled it."""
        if not self.enabled or det.type != DetectionType.FALL:
            return [det]
        now = self.clock()
        held = HeldFall(det, held_at=now, due_at=now + self.window_s, after_t=after_t)
        for press in (self._press_by_device.get(det.device_key or ""),
                      self._press_by_resident.get(det.resident_id) if det.resident_id is not None else None):
            if press is not None and det.t <= press[0] <= det.t + self.window_s:
                return [self._cancelled(held, now, {"reason": "button", "before_detection": True, **press[1]})]
        self._held.append(held)
        self.dirty = True
        return []

    def press(self, event: DeviceEvent, resident_id: int | None) -> list[Detection]:
        """Cancel the held falls of the pressing device or its resident; remember the press briefly."""
        if event.kind not in CANCEL_KINDS or event.state == EventState.CLEARED:
            return []
        info = {"device_key": event.device_key, "event": str(event.kind), "event_t": event.ts,
                "source": event.source}
        self._press_by_device[event.device_key] = (event.ts, info)
        if resident_id is not None:
            self._press_by_resident[resident_id] = (event.ts, info)
        now = self.clock()
        out, keep = [], []
        for h in self._held:
            det = h.detection
            mine = det.device_key == event.device_key or (resident_id is not None and det.resident_id == resident_id)
            if mine and event.ts >= det.t:
                out.append(self._cancelled(h, now, {"reason": "button", **info}))
            else:
                keep.append(h)
        return self._replace(keep, out)

    def motion(self, device_key: str, start: float, end: float, spread_g: float) -> list[Detection]:
        """Note one batch of a watched wristband (the time it covers and its |a| spread); cancel on recovery."""
        now = self.clock()
        out, keep = [], []
        for h in self._held:
            if h.detection.device_key != device_key or end <= h.after_t:
                keep.append(h)
                continue
            h.motion.append((max(start, h.after_t), end, spread_g >= RECOVERY_STD_G))
            walked = _recovered(h.motion)
            if walked is None:
                h.motion = [m for m in h.motion if m[1] >= end - 2 * RECOVERY_S]
                keep.append(h)
            else:
                out.append(self._cancelled(h, now, {
                    "reason": "recovery", "moving_s": round(walked, 3), "std_threshold_g": RECOVERY_STD_G,
                    "recovery_s": RECOVERY_S, "quiet_allowed_s": RECOVERY_QUIET_S,
                    "batches": [[round(a, 3), round(b, 3), m] for a, b, m in h.motion[-16:]]}))
        return self._replace(keep, out)

    def due(self) -> list[Detection]:
        """Return the held falls whose window ended, as active detections (they raise the alert)."""
        now = self.clock()
        out = [self._raised(h, now) for h in self._held if now >= h.due_at]
        return self._replace([h for h in self._held if now < h.due_at], out)

    def _replace(self, keep: list[HeldFall], out: list[Detection]) -> list[Detection]:
        if out:
            self._held = keep
            self.dirty = True
        return out

    def _window(self, h: HeldFall, now: float, outcome: str) -> dict[str, Any]:
        window = {"window_s": round(h.due_at - h.held_at, 3), "held_at": h.held_at, "due_at": h.due_at,
                  "outcome": outcome, "decided_at": now}
        if h.restored_at is not None:
            window["restored_at"] = h.restored_at  # held across a restart of the hub
        return window

    def _cancelled(self, h: HeldFall, now: float, why: dict[str, Any]) -> Detection:
        det = h.detection
        return replace(det, state=DetectionState.CANCELLED,
                       evidence={**det.evidence, "cancel_window": {**self._window(h, now, "cancelled"), **why}})

    def _raised(self, h: HeldFall, now: float) -> Detection:
        det = h.detection
        return replace(det, evidence={**det.evidence, "cancel_window": self._window(h, now, "raised")})

    def snapshot(self) -> dict[str, Any]:
        """Return the held falls as a JSON-ready dict."""
        return {"version": SNAPSHOT_VERSION, "holds": [
            {"detection": h.detection.to_dict(), "held_at": h.held_at, "due_at": h.due_at, "after_t": h.after_t}
            for h in self._held]}

    def restore(self, data: dict[str, Any]) -> None:
        """Resume held falls saved before a restart, each with its original deadline."""
        if data.get("version") != SNAPSHOT_VERSION:
            raise ValueError(f"unsupported fall hold snapshot version {data.get('version')!r}")
        now = self.clock()
        for entry in data["holds"]:
            self._held.append(HeldFall(Detection.from_dict(entry["detection"]), held_at=entry["held_at"],
                                       due_at=entry["due_at"], after_t=entry["after_t"], restored_at=now))


def _recovered(motion: list[tuple[float, float, bool]]) -> float | None:
    """Return the seconds of walking-level movement ending at the newest batch, when they count as recovery."""
    end = motion[-1][1]
    quiet = 0.0
    next_start = end
    for start, stop, moving in reversed(motion):
        if next_start - stop > RECOVERY_GAP_S:
            return None
        if not moving:
            quiet += stop - start
            if quiet > RECOVERY_QUIET_S:
                return None
        elif end - start >= RECOVERY_S:  # the stretch starts and ends with movement
            return end - start
        next_start = start
    return None
