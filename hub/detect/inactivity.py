"""Per-resident inactivity, wristband-not-worn and missed daily check-in detector.

One small state machine per resident, the state kept in NumPy arrays indexed by slot; the clock is
injected and `tick()` evaluates every timer at clock time (docs/detection_inactivity.md).

Method. A gap runs from the resident's last activity; it is a *day gap* while it lies wholly in the
day window and becomes a *sleep gap* once it overlaps the night window (default 22:00-07:00 local).

* Day gaps: the gap age a(t) = t - last activity is compared with a per-resident, per-local-hour
  threshold. For every day d and day hour h the detector records M[d, h] = the largest age a day gap
  reached inside hour h; over the completed days of the last `history_days`

      thr[h] = clip(max(median + k_mad * MADn, Q_quantile) + margin_s, daytime_floor_s, ceiling_s)

  (MADn = 1.4826 * MAD, Rousseeuw & Croux, "Alternatives to the median absolute deviation",
  JASA 1993). thr[h] sits at the midpoint of hour h and neighbouring day hours are joined linearly
  (flat towards the night), giving a continuous curve thr(t); the gap fires at the first instant
  with a(t) >= thr(t), so at the crossing the gap equals the threshold in force.
* Sleep gaps: age is the wrong yardstick (a night bathroom visit restarts it), so the detector
  learns when the resident gets up: W[d] = the local time a sleep gap of at least `sleep_min_s`
  ended before `morning_end_h`, the latest one of the morning. The gap fires at the learned
  "up by" time of day max(median + k_mad * MADn, Q_quantile) + margin_s (never sooner than
  daytime_floor_s after the last activity, never later than ceiling_s after it).

Hours (or the wake time) with fewer than `min_history_days` observed days use the defaults:
`default_daytime_s` for day gaps, and for sleep gaps the earlier of `night_default_s` after the
last activity and `default_daytime_s` after the night ends. Thresholds are frozen per gap from the
days before the gap began, so the crossing instant is exact to the second, does not depend on the
tick period, and is the same after a snapshot/restore.

Suppression: "away from home" stops the gap (no timing, no learning); a wristband that shows neither
movement nor heart rate for `not_worn_s` raises `not_worn`, and for a resident without ambient
(motion/presence) sensors it suppresses `inactivity`, because the gap is then unobservable.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Hashable
from dataclasses import asdict, dataclass, fields, replace
from datetime import datetime, timedelta, tzinfo
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from hub.detect.detection import Detection, DetectionState, DetectionType

HOURS = 24
WAKE = HOURS  # ring column of the wake-up time of day, after the 24 hourly gap ages
MADN = 1.4826  # MAD -> standard deviation under normality (Rousseeuw & Croux 1993)
SNAPSHOT_VERSION = 1
NAN = float("nan")
# How the threshold of a gap was derived (evidence "basis").
BASES = ("learned_hour", "default_day", "learned_wake", "default_night")


class ActivitySource(StrEnum):
    """What showed the resident was active; the adapter maps messages onto these."""

    MOTION = "motion"  # PIR motion / occupancy true
    PRESENCE = "presence"  # mmWave presence true, EventKind.PRESENCE
    DOOR = "door"  # door contact opened or closed
    BUTTON = "button"  # EventKind.BUTTON (not an SOS: an SOS is its own alert)
    CHECKIN = "checkin"  # EventKind.CHECKIN, also recorded by `checkin`
    STEPS = "steps"  # wristband step counter increased
    WRISTBAND = "wristband"  # wristband movement (accelerometer)
    WRISTBAND_ON = "wristband_on"  # wristband put back on after not_worn
    RETURN = "return"  # the away flag was lowered


SOURCES: tuple[ActivitySource, ...] = tuple(ActivitySource)
_CODE = {s: i for i, s in enumerate(SOURCES)}
# Sources that observe the resident continuously while at home: with one of them the gap stays
# observable when the wristband is off, so not_worn does not suppress inactivity.
AMBIENT_SOURCES = frozenset({ActivitySource.MOTION, ActivitySource.PRESENCE})


@dataclass(slots=True, frozen=True)
class InactivityParams:
    """Thresholds of the inactivity detector; times in seconds, hours in local time of `tz`."""

    tz: str = "Asia/Shanghai"
    night_start_h: int = 22  # night window [night_start_h, night_end_h) local hours
    night_end_h: int = 7
    default_daytime_s: float = 4 * 3600.0  # before enough history: "no activity for 4 h in the daytime"
    night_default_s: float = 10 * 3600.0  # before enough history: sleep gaps
    daytime_floor_s: float = 2 * 3600.0  # no learned threshold is shorter
    ceiling_s: float = 12 * 3600.0  # no threshold is longer
    sleep_min_s: float = 3600.0  # a sleep gap this long that ends before morning_end_h is a wake-up
    morning_end_h: int = 12
    min_history_days: int = 7  # observed days an hour needs before its learned threshold applies
    history_days: int = 28  # ring of per-day rows; the last history_days - 1 completed days are used
    k_mad: float = 3.0
    quantile: float = 0.9
    margin_s: float = 30 * 60.0
    not_worn_s: float = 30 * 60.0  # no movement and no heart rate this long -> not_worn
    checkin_window_s: float = 24 * 3600.0  # a check-in counts for a deadline D if in (D - window, D]

    def __post_init__(self) -> None:
        ZoneInfo(self.tz)  # refuse an unknown zone at construction, not at 03:00
        if not (0 <= self.night_start_h < HOURS and 0 <= self.night_end_h <= self.morning_end_h < HOURS):
            raise ValueError("need hours in 0..23 and night_end_h <= morning_end_h")
        if self.night_start_h == self.night_end_h or self.night_start_h < self.morning_end_h:
            raise ValueError("the night window must be non-empty and start after morning_end_h")
        if min(self.default_daytime_s, self.night_default_s, self.daytime_floor_s, self.sleep_min_s) <= 0:
            raise ValueError("defaults, floor and sleep_min_s must be positive")
        if max(self.default_daytime_s, self.night_default_s, self.daytime_floor_s) > self.ceiling_s:
            raise ValueError("defaults and floor must not exceed ceiling_s")
        if self.history_days < 2 or not 1 <= self.min_history_days < self.history_days:
            raise ValueError("need 1 <= min_history_days < history_days")
        if not 0.0 < self.quantile <= 1.0 or self.not_worn_s <= 0 or not 0 < self.checkin_window_s <= 86400:
            raise ValueError("quantile in (0, 1], not_worn_s > 0, checkin_window_s in (0, 86400]")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InactivityParams:
        """Build parameters from a JSON-like dict, ignoring unknown keys."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    def to_dict(self) -> dict[str, Any]:
        """Return the parameters as a JSON-ready dict."""
        return asdict(self)

    def is_night(self, hour: int) -> bool:
        """Return True when a local hour lies in the night window."""
        if self.night_start_h <= self.night_end_h:
            return self.night_start_h <= hour < self.night_end_h
        return hour >= self.night_start_h or hour < self.night_end_h


def _f(x: float) -> float | None:
    """Return a JSON-safe float (NaN becomes None)."""
    return None if math.isnan(x) else float(x)


def _nf(x: float | None) -> float:
    return NAN if x is None else float(x)


def parse_time_of_day(value: str | float) -> float:
    """Return seconds after local midnight for "HH:MM" or a number of seconds."""
    if isinstance(value, str):
        hh, mm = value.split(":")
        sec = int(hh) * 3600 + int(mm) * 60
    else:
        sec = float(value)
    if not 0 <= sec < 86400:
        raise ValueError(f"time of day out of range: {value!r}")
    return float(sec)


class InactivityDetector:
    """Inactivity / not_worn / missed_checkin for up to `capacity` residents; one slot each."""

    def __init__(self, clock: Callable[[], float] | None = None, *, capacity: int = 1024,
                 params: InactivityParams | None = None, **overrides: Any) -> None:
        base = params if params is not None else InactivityParams()
        self.params = replace(base, **overrides) if overrides else base
        self.clock = clock if clock is not None else time.time
        self.capacity = capacity
        self.tz: tzinfo = ZoneInfo(self.params.tz)
        p = self.params
        self._night = np.array([p.is_night(h) for h in range(HOURS)])
        self._slots: dict[Hashable, int] = {}
        self._keys: list[Hashable | None] = [None] * capacity
        self._meta: list[tuple[int | None, int | None]] = [(None, None)] * capacity  # (site_id, room_id)
        self._free = list(range(capacity - 1, -1, -1))
        # the open gap
        self.last_t = np.full(capacity, np.nan)  # last activity (also while away: audit only)
        self.last_src = np.zeros(capacity, np.int8)
        self.open = np.zeros(capacity, bool)  # gap being timed: at home and an activity seen
        self.learnable = np.zeros(capacity, bool)  # the open gap will be learned when it closes
        self.fired = np.zeros(capacity, bool)  # INACTIVITY active for the open gap
        self.due_t = np.full(capacity, np.nan)  # crossing time of the open gap; NaN = not computed
        self.due_thr = np.full(capacity, np.nan)
        self.due_hour = np.full(capacity, -1, np.int8)
        self.due_basis = np.zeros(capacity, np.int8)  # index into BASES
        self.away = np.zeros(capacity, bool)
        self.ambient = np.zeros(capacity, bool)  # an ambient (motion/presence) source was ever seen
        # local hour of the last activity, cached so most activities cost no time-zone arithmetic
        self.hour_day = np.zeros(capacity, np.int32)
        self.hour_idx = np.zeros(capacity, np.int8)
        self.hour_end = np.full(capacity, -np.inf)
        # wristband wear
        self.off_since = np.full(capacity, np.nan)  # first report without movement or heart rate
        self.worn_sign_t = np.full(capacity, np.nan)
        self.nw_active = np.zeros(capacity, bool)
        # daily check-in
        self.ck_deadline = np.full(capacity, np.nan)  # seconds after local midnight; NaN = none
        self.ck_window = np.full(capacity, p.checkin_window_s)
        self.ck_next = np.full(capacity, np.nan)  # next enforced deadline, epoch
        self.ck_last = np.full(capacity, np.nan)
        self.ck_missed = np.zeros(capacity, bool)
        # learned baseline: ring of per-day rows [M[day, 0..23], W[day]], and the thresholds of one
        # local day (hours, then the up-by time of day), cached
        self.ring_day = np.full((capacity, p.history_days), -1, np.int32)
        self.ring = np.full((capacity, p.history_days, HOURS + 1), np.nan, np.float32)
        self.thr = np.full((capacity, HOURS + 1), np.nan)
        self.thr_day = np.full(capacity, -1, np.int32)

    # ----------------------------------------------------------------- slots
    def slot(self, resident_id: Hashable) -> int:
        """Return the slot of a resident, allocating a fresh one on first sight."""
        s = self._slots.get(resident_id)
        if s is None:
            if not self._free:
                raise RuntimeError(f"inactivity detector full ({self.capacity} residents)")
            s = self._free.pop()
            self._slots[resident_id] = s
            self._keys[s] = resident_id
            self._meta[s] = (None, None)
            self._clear(s, baseline=True)
        return s

    def is_registered(self, resident_id: Hashable) -> bool:
        """Return True when the resident already has a slot."""
        return resident_id in self._slots

    def register(self, resident_id: Hashable, *, site_id: int | None = None, room_id: int | None = None) -> int:
        """Allocate a resident's slot and record where detections about them belong."""
        s = self.slot(resident_id)
        self._meta[s] = (site_id, room_id)
        return s

    def reset(self, resident_id: Hashable, *, baseline: bool = False) -> None:
        """Forget a resident's gap, wear and check-in state (and the learned baseline if asked)."""
        s = self._slots.get(resident_id)
        if s is not None:
            ck_deadline, ck_window = self.ck_deadline[s], self.ck_window[s]
            self._clear(s, baseline=baseline)
            self.ck_deadline[s], self.ck_window[s] = ck_deadline, ck_window
            if not math.isnan(ck_deadline):
                self.ck_next[s] = self._first_deadline(s, self.clock())

    def release(self, resident_id: Hashable) -> None:
        """Free a resident's slot."""
        s = self._slots.pop(resident_id, None)
        if s is not None:
            self._clear(s, baseline=True)
            self._keys[s] = None
            self._free.append(s)

    def _clear(self, s: int, *, baseline: bool) -> None:
        self.last_t[s] = NAN
        self.last_src[s] = 0
        self.open[s] = self.learnable[s] = self.fired[s] = self.away[s] = False
        self.due_t[s] = self.due_thr[s] = NAN
        self.due_hour[s] = -1
        self.due_basis[s] = 0
        self.hour_end[s] = -np.inf
        self.off_since[s] = self.worn_sign_t[s] = NAN
        self.nw_active[s] = False
        self.ck_deadline[s] = self.ck_next[s] = self.ck_last[s] = NAN
        self.ck_window[s] = self.params.checkin_window_s
        self.ck_missed[s] = False
        if baseline:
            self.ambient[s] = False
            self.ring_day[s] = -1
            self.ring[s] = np.nan
            self.thr[s] = np.nan
            self.thr_day[s] = -1

    def state_bytes_per_resident(self) -> int:
        """Return the bytes of array state held per resident slot."""
        arrays = (self.last_t, self.last_src, self.open, self.learnable, self.fired, self.due_t, self.due_thr,
                  self.due_hour, self.due_basis, self.away, self.ambient, self.hour_day, self.hour_idx, self.hour_end,
                  self.off_since, self.worn_sign_t, self.nw_active, self.ck_deadline, self.ck_window,
                  self.ck_next, self.ck_last, self.ck_missed, self.ring_day, self.ring, self.thr, self.thr_day)
        return sum(a.nbytes for a in arrays) // self.capacity

    # ----------------------------------------------------------------- local time
    def _local(self, t: float) -> tuple[int, int, float]:
        """Return (local day ordinal, local hour, epoch end of that local hour) of an instant."""
        dt = datetime.fromtimestamp(t, self.tz)
        start = dt.replace(minute=0, second=0, microsecond=0).timestamp()
        return dt.toordinal(), dt.hour, start + 3600.0

    def _set_hour(self, s: int, t: float) -> None:
        if not (self.hour_end[s] - 3600.0 <= t < self.hour_end[s]):
            self.hour_day[s], self.hour_idx[s], self.hour_end[s] = self._local(t)

    # ----------------------------------------------------------------- inputs
    def activity(self, resident_id: Hashable, t: float | None = None,
                 source: ActivitySource | str = ActivitySource.MOTION) -> list[Detection]:
        """Record an activity-bearing message; return the INACTIVITY clear it causes, if any."""
        s = self.slot(resident_id)
        t = self.clock() if t is None else float(t)
        src = ActivitySource(source)
        if src in AMBIENT_SOURCES:
            self.ambient[s] = True
        if self.away[s]:
            # The away flag is authoritative (a visitor or a pet moves too): keep for audit, do not time.
            if not t < self.last_t[s]:
                self.last_t[s], self.last_src[s] = t, _CODE[src]
            return []
        if self.open[s] and t < self.last_t[s]:
            return []  # late, out-of-order message: the gap it would close is already closed
        out: list[Detection] = []
        if self.open[s]:
            if self.learnable[s]:
                self._learn(s, float(self.last_t[s]), t)
            if self.fired[s]:
                out.append(self._det(s, DetectionType.INACTIVITY, DetectionState.CLEARED, t, {
                    "reason": "activity", "source": src.value, "last_activity_t": float(self.last_t[s]),
                    "gap_s": t - float(self.last_t[s])}))
        self._start_gap(s, t, src)
        return out

    def _start_gap(self, s: int, t: float, src: ActivitySource) -> None:
        self.last_t[s], self.last_src[s] = t, _CODE[src]
        self.open[s] = True
        # While the wristband is off and nothing else watches, the gap is not an observation of the resident.
        self.learnable[s] = not (self.nw_active[s] and not self.ambient[s])
        self.fired[s] = False
        self.due_t[s] = self.due_thr[s] = NAN
        self._set_hour(s, t)

    def set_away(self, resident_id: Hashable, away: bool, t: float | None = None) -> list[Detection]:
        """Raise or lower "away from home"; away stops and clears the inactivity timer."""
        s = self.slot(resident_id)
        t = self.clock() if t is None else float(t)
        out: list[Detection] = []
        if away and not self.away[s]:
            self.away[s] = True
            if self.open[s]:
                last = float(self.last_t[s])
                if self.learnable[s] and t >= last:
                    self._learn(s, last, t)
                if self.fired[s]:
                    out.append(self._det(s, DetectionType.INACTIVITY, DetectionState.CLEARED, t, {
                        "reason": "away", "last_activity_t": last, "gap_s": t - last}))
            self.open[s] = self.fired[s] = self.learnable[s] = False
            self.due_t[s] = NAN
        elif not away and self.away[s]:
            self.away[s] = False
            self._start_gap(s, t, ActivitySource.RETURN)
        return out

    def wear(self, resident_id: Hashable, t: float | None = None, *, moving: bool,
             heart_rate_present: bool, worn: bool | None = None) -> list[Detection]:
        """Record a wristband report; no movement and no heart rate for `not_worn_s` is not_worn.

        `worn` is the device's own wear sensor when it has one (metric `worn`); it overrides the
        heart-rate inference. Movement is also activity (source `wristband`).
        """
        s = self.slot(resident_id)
        t = self.clock() if t is None else float(t)
        on = (moving or heart_rate_present) if worn is None else bool(worn)
        out: list[Detection] = []
        if not on:
            if math.isnan(self.off_since[s]):
                self.off_since[s] = t
            return out
        self.off_since[s] = NAN
        self.worn_sign_t[s] = t
        if self.nw_active[s]:
            self.nw_active[s] = False
            out.append(self._det(s, DetectionType.NOT_WORN, DetectionState.CLEARED, t, {
                "moving": bool(moving), "heart_rate_present": bool(heart_rate_present)}))
            # Putting the band back on is something the resident did.
            out += self.activity(resident_id, t, ActivitySource.WRISTBAND_ON)
        elif moving:
            out += self.activity(resident_id, t, ActivitySource.WRISTBAND)
        return out

    def set_checkin(self, resident_id: Hashable, deadline: str | float | None, *,
                    window_s: float | None = None, t: float | None = None) -> None:
        """Set a resident's daily check-in deadline ("HH:MM" local or seconds after midnight; None: off).

        The first deadline enforced is the first whose whole window lies after this call.
        """
        s = self.slot(resident_id)
        t = self.clock() if t is None else float(t)
        if deadline is None:
            self.ck_deadline[s] = self.ck_next[s] = NAN
            return
        window = self.params.checkin_window_s if window_s is None else float(window_s)
        if not 0 < window <= 86400:
            raise ValueError("window_s must be in (0, 86400]")
        self.ck_deadline[s] = parse_time_of_day(deadline)
        self.ck_window[s] = window
        self.ck_next[s] = self._first_deadline(s, t)

    def checkin(self, resident_id: Hashable, t: float | None = None) -> list[Detection]:
        """Record a daily check-in press; a late one clears MISSED_CHECKIN. It is also activity."""
        s = self.slot(resident_id)
        t = self.clock() if t is None else float(t)
        out = self._deadlines(s, t)  # a deadline that passed before this press is judged first
        self.ck_last[s] = t
        if self.ck_missed[s]:
            self.ck_missed[s] = False
            out.append(self._det(s, DetectionType.MISSED_CHECKIN, DetectionState.CLEARED, t,
                                 {"reason": "late_checkin", "checkin_t": t}))
        out += self.activity(resident_id, t, ActivitySource.CHECKIN)
        return out

    # ----------------------------------------------------------------- timers
    def tick(self) -> list[Detection]:
        """Evaluate every timer at clock time; return the detections that became due."""
        now = self.clock()
        out: list[Detection] = []
        timed = self.open & ~self.fired & ~(self.nw_active & ~self.ambient)
        for s in np.flatnonzero(timed & np.isnan(self.due_t)):
            self._compute_due(int(s))
        for s in np.flatnonzero(timed & (self.due_t <= now)):
            out.append(self._fire_inactivity(int(s), now))
        with np.errstate(invalid="ignore"):
            wear_due = ~self.nw_active & (self.off_since + self.params.not_worn_s <= now)
        for s in np.flatnonzero(wear_due):
            out.append(self._fire_not_worn(int(s), now))
        for s in np.flatnonzero(self.ck_next <= now):
            out += self._deadlines(int(s), now)
        return out

    def _fire_inactivity(self, s: int, now: float) -> Detection:
        self.fired[s] = True
        self.learnable[s] = False  # an alarmed gap must not teach the detector that such gaps are normal
        last, cross, hour = float(self.last_t[s]), float(self.due_t[s]), int(self.due_hour[s])
        ev = {"last_activity_t": last, "last_activity_source": SOURCES[self.last_src[s]].value,
              "gap_s": cross - last, "threshold_s": float(self.due_thr[s]), "hour": hour,
              "detected_at": now, "gap_s_at_detection": now - last}
        ev.update(self._explain(s))
        return self._det(s, DetectionType.INACTIVITY, DetectionState.ACTIVE, cross, ev)

    def _fire_not_worn(self, s: int, now: float) -> Detection:
        self.nw_active[s] = True
        off = float(self.off_since[s])
        suppresses = not self.ambient[s]
        if suppresses:
            self.learnable[s] = False
        return self._det(s, DetectionType.NOT_WORN, DetectionState.ACTIVE, off + self.params.not_worn_s, {
            "off_since": off, "last_worn_sign_t": _f(float(self.worn_sign_t[s])),
            "not_worn_s": self.params.not_worn_s, "detected_at": now,
            "suppresses_inactivity": suppresses})

    def _deadlines(self, s: int, now: float) -> list[Detection]:
        """Judge every enforced check-in deadline at or before `now`; schedule the next."""
        out: list[Detection] = []
        while self.ck_next[s] <= now:
            d = float(self.ck_next[s])
            window = float(self.ck_window[s])
            last = float(self.ck_last[s])
            if not (d - window < last <= d) and not self.away[s]:
                self.ck_missed[s] = True
                out.append(self._det(s, DetectionType.MISSED_CHECKIN, DetectionState.ACTIVE, d, {
                    "deadline_t": d, "deadline_local": datetime.fromtimestamp(d, self.tz).isoformat(),
                    "window_start_t": d - window, "last_checkin_t": _f(last), "detected_at": now}))
            self.ck_next[s] = self._next_tod(d, float(self.ck_deadline[s]))
        return out

    def _first_deadline(self, s: int, t: float) -> float:
        d = self._next_tod(t, float(self.ck_deadline[s]))
        while d - float(self.ck_window[s]) < t:
            d = self._next_tod(d, float(self.ck_deadline[s]))
        return d

    # ----------------------------------------------------------------- learning
    def _record(self, s: int, day: int, col: int, value: float) -> None:
        row = day % self.params.history_days
        if self.ring_day[s, row] != day:
            self.ring[s, row] = np.nan
            self.ring_day[s, row] = day
        old = self.ring[s, row, col]
        if not value <= old:  # also when old is NaN
            self.ring[s, row, col] = value

    def _learn(self, s: int, a: float, b: float) -> None:
        """Record the closed gap [a, b]: hourly ages of a day gap, or the wake-up that ends a sleep gap."""
        day, hour, end = int(self.hour_day[s]), int(self.hour_idx[s]), float(self.hour_end[s])
        hours = [(day, hour, min(b, end) - a)]
        while b >= end:
            day, hour, end = self._local(end)
            hours.append((day, hour, min(b, end) - a))
        if not any(self._night[h] for _, h, _ in hours):
            for day, hour, age in hours:
                self._record(s, day, hour, age)
            return
        wake = datetime.fromtimestamp(b, self.tz)
        tod = wake.hour * 3600.0 + wake.minute * 60.0 + wake.second + wake.microsecond * 1e-6
        if b - a >= self.params.sleep_min_s and wake.hour < self.params.morning_end_h:
            self._record(s, wake.toordinal(), WAKE, tod)

    def _stats(self, s: int, day: int) -> dict[str, np.ndarray]:
        """Return per-column statistics and thresholds from the completed days before local `day`."""
        p = self.params
        rd = self.ring_day[s]
        # history_days - 1 days: the row of day - history_days is the one `day` itself overwrites.
        rows = self.ring[s, (rd >= 0) & (rd < day) & (rd > day - p.history_days)].astype(np.float64)
        n = np.sum(~np.isnan(rows), axis=0) if len(rows) else np.zeros(HOURS + 1, np.int64)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns: no history yet
            if len(rows):
                med = np.nanmedian(rows, axis=0)
                madn = MADN * np.nanmedian(np.abs(rows - med), axis=0)
                q = np.nanquantile(rows, p.quantile, axis=0)
            else:
                med = madn = q = np.full(HOURS + 1, np.nan)
        learned = np.maximum(med + p.k_mad * madn, q) + p.margin_s
        learned[:HOURS] = np.clip(learned[:HOURS], p.daytime_floor_s, p.ceiling_s)
        learned[WAKE] = min(learned[WAKE], p.morning_end_h * 3600.0)
        thr = np.where(n >= p.min_history_days, learned, np.nan)
        return {"n": n, "median": med, "madn": madn, "quantile": q, "threshold": thr}

    def _table(self, s: int, day: int) -> np.ndarray:
        if self.thr_day[s] != day:
            self.thr[s] = self._stats(s, day)["threshold"]
            self.thr_day[s] = day
        return self.thr[s]

    def _next_tod(self, t: float, tod: float) -> float:
        """Return the first instant strictly after `t` whose local wall-clock time is `tod` seconds."""
        day = datetime.fromtimestamp(t, self.tz).date()
        offset = timedelta(seconds=tod)
        for add in range(3):
            ts = (datetime(day.year, day.month, day.day, tzinfo=self.tz) + timedelta(days=add) + offset).timestamp()
            if ts > t:
                return ts
        raise AssertionError("unreachable: a time of day recurs within three days")

    def _day_values(self, table: np.ndarray) -> np.ndarray:
        """Return the threshold of every day hour, learned or default (NaN for night hours)."""
        values = np.where(np.isnan(table[:HOURS]), self.params.default_daytime_s, table[:HOURS])
        return np.where(self._night, np.nan, values)

    def _curve(self, values: np.ndarray, hour: int, end: float) -> list[tuple[float, float, float, float]]:
        """Return the two linear pieces (t0, y0, t1, y1) of the threshold curve in a local hour.

        Hourly thresholds sit at hour midpoints and are joined linearly, held flat towards the night
        window, so a gap never turns abnormal merely because the clock passed an hour boundary.
        """
        mid, start, v = end - 1800.0, end - 3600.0, float(values[hour])
        prev, nxt = float(values[(hour - 1) % HOURS]), float(values[(hour + 1) % HOURS])
        y0 = v if math.isnan(prev) else (prev + v) / 2
        y1 = v if math.isnan(nxt) else (v + nxt) / 2
        return [(start, y0, mid, v), (mid, v, end, y1)]

    def _compute_due(self, s: int) -> None:
        """Find the crossing instant of the open gap (day-gap threshold curve, then the sleep rule)."""
        p = self.params
        a = float(self.last_t[s])
        day, hour, end = int(self.hour_day[s]), int(self.hour_idx[s]), float(self.hour_end[s])
        table = self._table(s, day)  # frozen per gap: days before the gap began
        values = self._day_values(table)
        lo = a
        while not self._night[hour]:
            for t0, y0, t1, y1 in self._curve(values, hour, end):
                if t1 <= lo:
                    continue
                slope = (y1 - y0) / (t1 - t0)
                first = max(lo, t0)
                # age(t) - thr(t) is linear on the piece: first t where it reaches 0, if any
                if first - a >= y0 + slope * (first - t0):
                    cross = first
                elif t1 - a >= y1:
                    cross = max(first, (a + y0 - slope * t0) / (1.0 - slope))
                else:
                    continue
                basis = 1 if math.isnan(table[hour]) else 0
                self._set_due(s, cross, y0 + slope * (cross - t0), hour, basis)
                return
            lo = end
            _, hour, end = self._local(end)
        # The gap reached the night window at `lo`: judge it by when the resident normally gets up.
        if math.isnan(table[WAKE]):
            night_end = self._next_tod(lo, p.night_end_h * 3600.0)
            cross = min(a + p.night_default_s, night_end + p.default_daytime_s)
            basis = 3
        else:
            cross = max(self._next_tod(lo, float(table[WAKE])), a + p.daytime_floor_s)
            basis = 2
        cross = min(cross, a + p.ceiling_s)
        self._set_due(s, cross, cross - a, self._local(cross)[1], basis)

    def _set_due(self, s: int, cross: float, thr: float, hour: int, basis: int) -> None:
        """Set the crossing instant and the threshold in force there (a sleep gap's: its length)."""
        self.due_t[s] = cross
        self.due_thr[s] = thr
        self.due_hour[s] = hour
        self.due_basis[s] = basis

    def _explain(self, s: int) -> dict[str, Any]:
        """Return how the threshold of the open gap was derived, for the evidence."""
        p = self.params
        basis = BASES[int(self.due_basis[s])]
        col = WAKE if basis.endswith("wake") or basis.endswith("night") else int(self.due_hour[s])
        st = self._stats(s, int(self.thr_day[s]))
        out: dict[str, Any] = {
            "basis": basis, "history_days": int(st["n"][col]), "min_history_days": p.min_history_days,
            "median_s": _f(float(st["median"][col])), "madn_s": _f(float(st["madn"][col])),
            "quantile_s": _f(float(st["quantile"][col])), "quantile": p.quantile, "k_mad": p.k_mad,
            "margin_s": p.margin_s, "floor_s": p.daytime_floor_s, "ceiling_s": p.ceiling_s,
            "sleep_gap": col == WAKE, "tz": p.tz}
        if col == WAKE:
            # the wake statistics are local times of day in seconds after midnight
            up_by = float(self.thr[s, WAKE])
            out["up_by_s"] = _f(up_by)
            if not math.isnan(up_by):
                out["up_by_local"] = f"{int(up_by // 3600):02d}:{int(up_by % 3600 // 60):02d}"
        return out

    # ----------------------------------------------------------------- inspection
    def baseline(self, resident_id: Hashable, t: float | None = None) -> dict[str, list[Any]]:
        """Return the per-hour statistics and thresholds a gap beginning at `t` would use."""
        s = self.slot(resident_id)
        day = self._local(self.clock() if t is None else float(t))[0]
        st = self._stats(s, day)
        return {k: [_f(float(x)) if k != "n" else int(x) for x in v] for k, v in st.items()}

    def _det(self, s: int, kind: DetectionType, state: DetectionState, t: float,
             evidence: dict[str, Any]) -> Detection:
        rid = self._keys[s]
        site_id, room_id = self._meta[s]
        return Detection(type=kind, subject=f"resident:{rid}", t=t, state=state,
                         resident_id=rid if isinstance(rid, int) else None,
                         room_id=room_id, site_id=site_id, evidence=evidence)

    def state(self, resident_id: Hashable) -> dict[str, Any]:
        """Return a resident's timers and flags as a JSON-ready dict (no learned history)."""
        s = self.slot(resident_id)
        out = self._slot_state(s)
        out["due_t"] = _f(float(self.due_t[s]))
        out["due_threshold_s"] = _f(float(self.due_thr[s]))
        return out

    def _slot_state(self, s: int) -> dict[str, Any]:
        site_id, room_id = self._meta[s]
        return {
            "resident_id": self._keys[s], "site_id": site_id, "room_id": room_id,
            "last_t": _f(float(self.last_t[s])), "last_source": SOURCES[self.last_src[s]].value,
            "open": bool(self.open[s]), "learnable": bool(self.learnable[s]), "fired": bool(self.fired[s]),
            "away": bool(self.away[s]), "ambient": bool(self.ambient[s]),
            "off_since": _f(float(self.off_since[s])), "worn_sign_t": _f(float(self.worn_sign_t[s])),
            "not_worn": bool(self.nw_active[s]),
            "checkin_deadline_s": _f(float(self.ck_deadline[s])), "checkin_window_s": float(self.ck_window[s]),
            "checkin_next_t": _f(float(self.ck_next[s])), "checkin_last_t": _f(float(self.ck_last[s])),
            "checkin_missed": bool(self.ck_missed[s]),
        }

    # ----------------------------------------------------------------- persistence
    def snapshot(self) -> dict[str, Any]:
        """Return every resident's timers and learned history as a JSON-ready dict."""
        residents = []
        for rid, s in self._slots.items():
            entry = self._slot_state(s)
            entry["resident_id"] = rid
            valid = np.flatnonzero(self.ring_day[s] >= 0)
            entry["history"] = [[int(self.ring_day[s, r]), [_f(float(x)) for x in self.ring[s, r]]]
                                for r in valid[np.argsort(self.ring_day[s, valid])]]
            residents.append(entry)
        return {"version": SNAPSHOT_VERSION, "saved_at": self.clock(), "params": self.params.to_dict(),
                "residents": residents}

    def restore(self, data: dict[str, Any]) -> None:
        """Load a snapshot (this detector's own params apply); timers resume where they were."""
        if data.get("version") != SNAPSHOT_VERSION:
            raise ValueError(f"unsupported inactivity snapshot version {data.get('version')!r}")
        for entry in data["residents"]:
            rid = entry["resident_id"]
            s = self.register(rid, site_id=entry.get("site_id"), room_id=entry.get("room_id"))
            self._clear(s, baseline=True)
            self.last_t[s] = _nf(entry["last_t"])
            self.last_src[s] = _CODE[ActivitySource(entry["last_source"])]
            self.open[s], self.learnable[s], self.fired[s] = entry["open"], entry["learnable"], entry["fired"]
            self.away[s], self.ambient[s] = entry["away"], entry["ambient"]
            self.off_since[s], self.worn_sign_t[s] = _nf(entry["off_since"]), _nf(entry["worn_sign_t"])
            self.nw_active[s] = entry["not_worn"]
            self.ck_deadline[s], self.ck_window[s] = _nf(entry["checkin_deadline_s"]), entry["checkin_window_s"]
            self.ck_next[s], self.ck_last[s] = _nf(entry["checkin_next_t"]), _nf(entry["checkin_last_t"])
            self.ck_missed[s] = entry["checkin_missed"]
            for day, values in entry["history"]:
                row = day % self.params.history_days
                self.ring_day[s, row] = day
                self.ring[s, row] = [_nf(v) for v in values]
            if not math.isnan(self.last_t[s]):
                self._set_hour(s, float(self.last_t[s]))
            if self.fired[s]:
                self._compute_due(s)  # the threshold shown when the open alarm clears
