"""Vital-sign detector: heart rate and SpO2 outside a resident's range for a sustained time.

A small state machine per (resident, metric): `update(reading, ref)` returns the Detections that
fired. A `vitals` detection becomes ACTIVE when every reading for `sustain_s` seconds (and at least
two readings) lay outside the resident's range, so one motion artefact never alarms; it is CLEARED
when readings have stayed inside the range narrowed by a hysteresis margin for `clear_s` (again at
least two readings), so a value hovering at the limit does not flap. A gap longer than `max_gap_s`
between readings breaks continuity: a condition is only "sustained" if it was observed.

Defaults follow common clinical alert limits for older adults: heart rate 40-120 bpm (bradycardia
and tachycardia alarm limits of bedside monitors), SpO2 >= 90 % (the hypoxaemia threshold of
BTS guideline for oxygen use in adults, O'Driscoll et al., Thorax 2017). Wrist PPG readings of 0 or
below are "no measurement" (not worn, no contact) and are ignored. Details: docs/detection_fire_vitals.md.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from device_drivers.model import Reading
from hub.detect.detection import Detection, DetectionState, DetectionType

if TYPE_CHECKING:
    from hub.devices.directory import DeviceRef

DEFAULT_RANGES: dict[str, tuple[float, float]] = {"heart_rate": (40.0, 120.0), "spo2": (90.0, math.inf)}
DEFAULT_HYSTERESIS: dict[str, float] = {"heart_rate": 5.0, "spo2": 2.0}
_EVIDENCE_READINGS = 20


@dataclass(slots=True)
class VitalState:
    """One (subject, metric) stream: where it is and since when; inspectable, dropped by `reset()`."""

    active: bool = False
    out_since: float | None = None  # first reading of the current out-of-range run
    out_count: int = 0
    in_since: float | None = None  # first reading of the current well-inside run (while active)
    in_count: int = 0
    last_ts: float | None = None
    low_seen: float = math.inf
    high_seen: float = -math.inf
    readings: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=_EVIDENCE_READINGS))


class VitalsDetector:
    """Sustained out-of-range heart rate / SpO2 per resident, with hysteresis; see the module docstring."""

    def __init__(
        self,
        clock: Callable[[], float],
        *,
        ranges: Mapping[str, tuple[float, float]] | None = None,
        sustain_s: float = 120.0,
        clear_hysteresis: Mapping[str, float] | None = None,
        clear_s: float = 60.0,
        max_gap_s: float = 300.0,
    ) -> None:
        if sustain_s <= 0 or clear_s <= 0 or max_gap_s <= 0:
            raise ValueError("sustain_s, clear_s and max_gap_s must be positive")
        self.clock = clock
        self.ranges = dict(DEFAULT_RANGES)
        for metric, (low, high) in (ranges or {}).items():
            self.ranges[metric] = _checked(metric, low, high)
        self.hysteresis = {**DEFAULT_HYSTERESIS, **(clear_hysteresis or {})}
        self.sustain_s = sustain_s
        self.clear_s = clear_s
        self.max_gap_s = max_gap_s
        self.resident_ranges: dict[int, dict[str, tuple[float, float]]] = {}
        self.states: dict[tuple[str, str], VitalState] = {}

    def reset(self) -> None:
        """Forget every stream's state (per-resident ranges are configuration and stay)."""
        self.states.clear()

    def set_range(self, resident_id: int, metric: str, low: float, high: float | None) -> None:
        """Set a resident's normal range for a metric; `high=None` means no upper limit."""
        self.resident_ranges.setdefault(resident_id, {})[metric] = _checked(
            metric, low, math.inf if high is None else high)

    def range_for(self, resident_id: int | None, metric: str) -> tuple[float, float] | None:
        """Return the range applied to a resident's metric, or None when the metric is not watched."""
        own = self.resident_ranges.get(resident_id, {}) if resident_id is not None else {}
        return own.get(metric, self.ranges.get(metric))

    def update(self, reading: Reading, ref: DeviceRef | None) -> list[Detection]:
        """Take one vital-sign reading of a resident's device; return the detection it caused, if any."""
        resident_id = ref.resident_id if ref is not None else None
        rng = self.range_for(resident_id, reading.metric)
        if rng is None or not math.isfinite(reading.value) or reading.value <= 0:
            return []
        subject = f"resident:{resident_id}" if resident_id is not None else reading.device_key
        st = self.states.setdefault((subject, reading.metric), VitalState())
        ts, value = reading.ts, reading.value
        if st.last_ts is not None and ts <= st.last_ts:
            return []  # duplicate or out of order: continuity is measured forward in time
        if st.last_ts is not None and ts - st.last_ts > self.max_gap_s:
            st.out_since = st.in_since = None  # unobserved time is not sustained time
        st.last_ts = ts
        low, high = rng
        margin = self.hysteresis.get(reading.metric, 0.0)
        st.readings.append({"device_key": reading.device_key, "ts": ts, "value": value})
        if not st.active:
            if low <= value <= high:
                st.out_since = None
                return []
            if st.out_since is None:
                st.out_since, st.out_count = ts, 0
                st.low_seen, st.high_seen = math.inf, -math.inf
            st.out_count += 1
            st.low_seen, st.high_seen = min(st.low_seen, value), max(st.high_seen, value)
            if ts - st.out_since < self.sustain_s or st.out_count < 2:
                return []
            st.active, st.in_since = True, None
            return [self._detection(DetectionState.ACTIVE, subject, ts, reading, ref, st, rng, margin,
                                    since=st.out_since, count=st.out_count)]
        if not low + margin <= value <= high - margin:
            st.in_since = None
            st.low_seen, st.high_seen = min(st.low_seen, value), max(st.high_seen, value)
            return []
        if st.in_since is None:
            st.in_since, st.in_count = ts, 0
        st.in_count += 1
        if ts - st.in_since < self.clear_s or st.in_count < 2:
            return []
        st.active = False
        out_since = st.out_since if st.out_since is not None else st.in_since
        det = self._detection(DetectionState.CLEARED, subject, ts, reading, ref, st, rng, margin,
                              since=st.in_since, count=st.in_count, out_duration_s=st.in_since - out_since)
        st.out_since = st.in_since = None
        return [det]

    def _detection(self, state: DetectionState, subject: str, t: float, reading: Reading, ref: DeviceRef | None,
                   st: VitalState, rng: tuple[float, float], margin: float, *, since: float, count: int,
                   **extra: Any) -> Detection:
        low, high = rng
        evidence: dict[str, Any] = {
            "metric": reading.metric, "unit": reading.unit,
            "range": {"low": low, "high": None if math.isinf(high) else high},
            "hysteresis": margin, "since": since, "duration_s": t - since, "readings_in_run": count,
            "min": st.low_seen, "max": st.high_seen, "readings": list(st.readings),
            "thresholds": {"sustain_s": self.sustain_s, "clear_s": self.clear_s, "max_gap_s": self.max_gap_s},
            "emitted_at": self.clock(), **extra,
        }
        return Detection(
            type=DetectionType.VITALS, subject=subject, t=t, state=state, device_key=reading.device_key,
            resident_id=ref.resident_id if ref is not None else None,
            room_id=ref.room_id if ref is not None else None,
            site_id=ref.site_id if ref is not None else None,
            evidence=evidence,
        )


def _checked(metric: str, low: float, high: float) -> tuple[float, float]:
    """Return (low, high) or refuse a range that cannot be right."""
    if not (math.isfinite(low) and low < high) or math.isnan(high):
        raise ValueError(f"range for {metric} must have a finite low below high, got {low}..{high}")
    return float(low), float(high)
