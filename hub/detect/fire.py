"""Fire, heat, CO and combustible-gas detection from detector flags and analog readings.

A small state machine per device and per room: `update(message, ref)` for every Reading or
DeviceEvent from a detector, `tick()` on a timer for conditions that ripen with time alone (the CO
dose of a device that keeps its last level); each returns the Detections that fired. All state is in
plain attributes (`devices`, `rooms`) and `reset()` forgets it. Standards behind the set points
(MISSION domain rules 5-7; design notes in docs/detection_fire_vitals.md):

- Device alarm flags (smoke, gas, CO, heat) raise at once: the detector already applied its standard
  (GB 20517 smoke, GB 15322 gas, EN 50291 CO, EN 54-5 heat).
- A smoke criterion gives `fire_suspected` for that device at once; multi-criteria confirmation in
  one room (smoke with heat, smoke with CO, or smoke from two detectors) raises `fire` for the room.
- Heat, EN 54-5 class A1R: rate of rise >= 8.3 degC/min over the most recent >= 30 s, or a static
  threshold chosen in the class A1 response band 54-65 degC (default 58 degC).
- CO, EN 50291-1: a dose accumulator whose time to alarm at a constant level is interpolated on a
  log-log scale through 50 ppm -> 75 min, 100 ppm -> 25 min, 300 ppm -> 1.5 min, all inside the
  standard's windows (60-90 min, 10-40 min, < 3 min); below 30 ppm nothing accumulates.
- Combustible gas, GB 15322 / GB/T 50493: pre-alarm <= 25 %LEL, alarm <= 50 %LEL; set points
  outside 1-50 %LEL are refused.
- Self-tests and test-marked payloads never alarm; silence, low battery and faults never suppress a
  new alarm (MISSION rule 6): they are device-health matters, handled by hub.health, not here.
- Device alarm flags are latched (hub.detect.latches): a repeated ACTIVE report refreshes the latch
  and raises nothing new; `tick()` expires a latch no report has refreshed for its expiry time, and
  `release()` (called when an alert closes) drops the criteria behind that alert, so the next alarm
  from the device is a new detection even if no restore ever came.
"""

from __future__ import annotations

import dataclasses
import math
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.stats import theilslopes

from device_drivers.model import DeviceEvent, EventKind, EventState, Message, Reading
from hub.detect.detection import Detection, DetectionState, DetectionType
from hub.detect.latches import LATCHES_EXPIRED, expiry_table
from hub.devices.directory import DeviceRef

# Criterion -> the per-device detection it raises, and the family it counts as for fire confirmation.
CRITERIA: dict[str, tuple[DetectionType, str]] = {
    "smoke_flag": (DetectionType.FIRE_SUSPECTED, "smoke"),
    "smoke_trend": (DetectionType.FIRE_SUSPECTED, "smoke"),
    "heat_flag": (DetectionType.HEAT, "heat"),
    "heat_static": (DetectionType.HEAT, "heat"),
    "heat_ror": (DetectionType.HEAT, "heat"),
    "co_flag": (DetectionType.CO, "co"),
    "co_dose": (DetectionType.CO, "co"),
    "gas_flag": (DetectionType.GAS, "gas"),
    "gas_alarm": (DetectionType.GAS, "gas"),
    "gas_prealarm": (DetectionType.GAS_PREALARM, "gas"),
}
FLAG_CRITERIA = {EventKind.SMOKE: "smoke_flag", EventKind.HEAT: "heat_flag", EventKind.CO: "co_flag",
                 EventKind.GAS: "gas_flag"}
FLAG_KINDS = {criterion: kind for kind, criterion in FLAG_CRITERIA.items()}
GAS_METRICS = ("gas_lel", "gas_density")
# EN 50291-1 anchor points (ppm, seconds to alarm at that constant level), each inside its window.
CO_CURVE: tuple[tuple[float, float], ...] = ((50.0, 75 * 60.0), (100.0, 25 * 60.0), (300.0, 90.0))
_EVIDENCE_READINGS = 12  # readings copied into evidence: enough to audit a trend, bounded in size


def _plain(value: Any) -> Any:
    """Return `value` as JSON-ready built-ins (evidence may hold NumPy numbers and tuples)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _event_is_test(event: DeviceEvent) -> bool:
    """Return True when a payload says it comes from a test (test button, self-test, installer test)."""
    detail = event.detail
    return any(detail.get(k) is True for k in ("test", "self_test", "selftest", "is_test"))


@dataclass(slots=True)
class DeviceState:
    """What the detector remembers of one detector device; inspectable, dropped by `reset()`."""

    key: str
    ref: DeviceRef | None = None
    criteria: dict[str, dict[str, Any]] = field(default_factory=dict)  # active criterion -> evidence
    cleared_at: dict[str, float] = field(default_factory=dict)  # criterion -> when it last cleared
    flag_seen: dict[str, tuple[float, float]] = field(default_factory=dict)  # flag -> (hub clock, ts) of last report
    smoke: deque[tuple[float, float]] = field(default_factory=lambda: deque(maxlen=64))
    temp: deque[tuple[float, float]] = field(default_factory=lambda: deque(maxlen=64))
    ror_base: float | None = None  # temperature where the alarming rise started
    co_ppm: float = 0.0  # last CO level, held until the next reading (at most co_hold_s)
    co_ts: float | None = None  # time of the last CO reading
    co_integrated_to: float | None = None
    co_dose: float = 0.0  # fraction of the time-to-alarm spent; alarm at 1.0
    co_readings: deque[tuple[float, float]] = field(default_factory=lambda: deque(maxlen=_EVIDENCE_READINGS))
    self_test_until: float = -math.inf  # hub clock: hazard flags from this device are tests until then
    silenced_at: float | None = None
    battery_low: bool = False
    fault: bool = False

    @property
    def room_key(self) -> str:
        """Return the place confirmations are grouped by: the room, or the device itself if roomless."""
        if self.ref is not None and self.ref.room_id is not None:
            return f"room:{self.ref.room_id}"
        return self.key


@dataclass(slots=True)
class RoomState:
    """Whether a room's fire is confirmed, and on what."""

    fire: bool = False
    evidence: dict[str, Any] = field(default_factory=dict)


class FireGasDetector:
    """Fire/heat/CO/gas detector over detector flags and analog readings; see the module docstring."""

    def __init__(
        self,
        clock: Callable[[], float],
        *,
        gas_prealarm_lel: float = 25.0,
        gas_alarm_lel: float = 50.0,
        gas_hysteresis_lel: float = 2.0,
        heat_static_c: float = 58.0,
        heat_static_hysteresis_c: float = 2.0,
        heat_ror_c_per_min: float = 8.3,
        heat_ror_span_s: float = 30.0,
        heat_metrics: tuple[str, ...] = ("temperature",),
        smoke_level_db_m: float = 0.10,
        smoke_slope_db_m_per_min: float = 0.02,
        smoke_points: int = 5,
        smoke_window_s: float = 600.0,
        co_curve: tuple[tuple[float, float], ...] = CO_CURVE,
        co_floor_ppm: float = 30.0,
        co_decay_s: float = 1800.0,
        co_clear_dose: float = 0.5,
        co_hold_s: float = 600.0,
        confirm_window_s: float = 120.0,
        self_test_max_s: float = 300.0,
        latch_expiry_s: Mapping[str, float] | None = None,
    ) -> None:
        for name, value in (("gas_prealarm_lel", gas_prealarm_lel), ("gas_alarm_lel", gas_alarm_lel)):
            if not 1.0 <= value <= 50.0:
                raise ValueError(f"{name}={value} %LEL is outside the permitted 1-50 %LEL")
        if gas_prealarm_lel > 25.0:
            raise ValueError(f"gas_prealarm_lel={gas_prealarm_lel} %LEL: a pre-alarm must be at 25 %LEL or below")
        if gas_prealarm_lel >= gas_alarm_lel:
            raise ValueError("gas_prealarm_lel must be below gas_alarm_lel")
        if not 54.0 <= heat_static_c <= 65.0:
            raise ValueError(f"heat_static_c={heat_static_c} degC is outside the EN 54-5 A1 band 54-65 degC")
        if heat_ror_c_per_min <= 0 or heat_ror_span_s <= 0:
            raise ValueError("heat rate of rise and its span must be positive")
        if smoke_points < 2:
            raise ValueError("a smoke trend needs at least 2 points")
        if len(co_curve) < 2 or any(b[0] <= a[0] or b[1] >= a[1] for a, b in zip(co_curve, co_curve[1:], strict=False)):
            raise ValueError("co_curve needs >= 2 points, ppm rising and time to alarm falling")
        if not 0 < co_floor_ppm < co_curve[0][0]:
            raise ValueError("co_floor_ppm must be positive and below the first curve point")
        self.clock = clock
        self.gas_prealarm_lel = gas_prealarm_lel
        self.gas_alarm_lel = gas_alarm_lel
        self.gas_hysteresis_lel = gas_hysteresis_lel
        self.heat_static_c = heat_static_c
        self.heat_static_hysteresis_c = heat_static_hysteresis_c
        self.heat_ror_c_per_min = heat_ror_c_per_min
        self.heat_ror_span_s = heat_ror_span_s
        self.heat_metrics = heat_metrics
        self.smoke_level_db_m = smoke_level_db_m
        self.smoke_slope_db_m_per_min = smoke_slope_db_m_per_min
        self.smoke_points = smoke_points
        self.smoke_window_s = smoke_window_s
        self.co_curve = co_curve
        self.co_floor_ppm = co_floor_ppm
        self.co_decay_s = co_decay_s
        self.co_clear_dose = co_clear_dose
        self.co_hold_s = co_hold_s
        self.confirm_window_s = confirm_window_s
        self.self_test_max_s = self_test_max_s
        self.latch_expiry_s = expiry_table(latch_expiry_s)
        self.expired = 0  # latched flags that expired without a restore
        self._log_ppm = np.log([p for p, _ in co_curve])
        self._log_t = np.log([s for _, s in co_curve])
        self.devices: dict[str, DeviceState] = {}
        self.rooms: dict[str, RoomState] = {}
        self.dirty = False  # state worth saving changed since the last snapshot (see `snapshot`)

    def reset(self) -> None:
        """Forget every device and room."""
        self.devices.clear()
        self.rooms.clear()

    def thresholds(self) -> dict[str, Any]:
        """Return the set points copied into every detection's evidence."""
        return {
            "gas_prealarm_lel": self.gas_prealarm_lel, "gas_alarm_lel": self.gas_alarm_lel,
            "heat_static_c": self.heat_static_c, "heat_ror_c_per_min": self.heat_ror_c_per_min,
            "heat_ror_span_s": self.heat_ror_span_s, "smoke_level_db_m": self.smoke_level_db_m,
            "smoke_slope_db_m_per_min": self.smoke_slope_db_m_per_min, "co_floor_ppm": self.co_floor_ppm,
            "co_curve": [list(p) for p in self.co_curve], "confirm_window_s": self.confirm_window_s,
        }

    def co_time_to_alarm(self, ppm: float) -> float:
        """Return seconds to alarm at a constant `ppm` (inf below the floor): log-log through `co_curve`."""
        if ppm < self.co_floor_ppm:
            return math.inf
        x = math.log(ppm)
        lp, lt = self._log_ppm, self._log_t
        i = int(np.clip(np.searchsorted(lp, x) - 1, 0, len(lp) - 2))  # outside the curve: extend the end segment
        slope = (lt[i + 1] - lt[i]) / (lp[i + 1] - lp[i])
        return float(math.exp(lt[i] + slope * (x - lp[i])))

    # -- entry points -------------------------------------------------------------------------------

    def update(self, message: Message, ref: DeviceRef | None) -> list[Detection]:
        """Take one Reading or DeviceEvent of a detector and return the detections it caused."""
        if isinstance(message, DeviceEvent):
            dev = self._device(message.device_key, ref)
            return self._event(dev, message)
        if isinstance(message, Reading):
            dev = self._device(message.device_key, ref)
            return self._reading(dev, message)
        return []

    def tick(self) -> list[Detection]:
        """Advance time-based conditions (CO dose of held levels) to the clock and expire stale latches."""
        now = self.clock()
        out: list[Detection] = []
        for dev in list(self.devices.values()):
            if dev.co_ts is not None:
                out += self._co_advance(dev, now)
            if dev.flag_seen:
                self._expire_flags(dev, now)
        return out

    def release(self, alert_type: str, *, device_key: str | None, resident_id: int | None,
                room_id: int | None, subject: str) -> int:
        """Drop the criteria behind a closed alert so the next alarm raises anew; return how many dropped.

        Nothing says the hazard is gone, so no CLEARED detection is emitted. A closed `fire` alert
        releases its room and the smoke/heat/CO criteria of the room's detectors, so a room still in
        alarm confirms a new fire on its next reports.
        """
        dropped = 0
        if alert_type == DetectionType.FIRE:
            rooms = {subject} | ({f"room:{room_id}"} if room_id is not None else set())
            rooms |= {d.room_key for d in self.devices.values() if _belongs(d, None, resident_id)}
            for key in rooms & set(self.rooms):
                self.rooms[key].fire = False
            for dev in self.devices.values():
                if dev.room_key in rooms:
                    for criterion in [c for c in dev.criteria if CRITERIA[c][1] in ("smoke", "heat", "co")]:
                        dropped += self._drop(dev, criterion)
            return dropped
        for dev in self.devices.values():
            if _belongs(dev, device_key, resident_id):
                for criterion in [c for c in dev.criteria if CRITERIA[c][0] == alert_type]:
                    dropped += self._drop(dev, criterion)
        return dropped

    def _expire_flags(self, dev: DeviceState, now: float) -> None:
        for criterion, (seen, _ts) in list(dev.flag_seen.items()):
            if now - seen >= self.latch_expiry_s[FLAG_KINDS[criterion]]:
                dropped = self._drop(dev, criterion)
                self.expired += dropped
                LATCHES_EXPIRED.inc(dropped)

    def _drop(self, dev: DeviceState, criterion: str) -> int:
        """Forget an active criterion without a restore; it still counts as recent for confirmation."""
        seen = dev.flag_seen.pop(criterion, None)
        if criterion not in dev.criteria:
            return 0
        start = dev.criteria.pop(criterion)
        self.dirty = True
        dev.cleared_at[criterion] = seen[1] if seen is not None else start.get("t", -math.inf)
        if criterion == "heat_ror":
            dev.ror_base = None
        room = self.rooms.get(dev.room_key)
        if room is not None and room.fire and not any(
                CRITERIA[c][1] in ("smoke", "heat", "co") for d in self.devices.values()
                if d.room_key == dev.room_key for c in d.criteria):
            room.fire = False  # nothing in the room is latched any more: the next alarm confirms anew
        return 1

    # -- saved state ---------------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """Return what the next reports cannot rebuild: latched and recently cleared criteria, rooms on
        fire, CO doses, test and silence windows; reading histories are left out (the next readings
        refill them). Devices with nothing of that are left out too, so the size follows the incidents."""
        now = self.clock()
        keep_s = 2 * self.confirm_window_s
        devices = {}
        for key, dev in self.devices.items():
            cleared = {c: t for c, t in dev.cleared_at.items() if now - t <= keep_s}
            testing = dev.self_test_until > now
            if not (dev.criteria or cleared or dev.co_dose > 0.0 or testing or dev.silenced_at is not None
                    or dev.battery_low or dev.fault or dev.ror_base is not None):
                continue
            devices[key] = {
                "ref": dataclasses.asdict(dev.ref) if dev.ref is not None else None,
                "criteria": dev.criteria, "cleared_at": cleared,
                "flag_seen": {c: list(seen) for c, seen in dev.flag_seen.items()},
                "ror_base": dev.ror_base, "co_ppm": dev.co_ppm, "co_ts": dev.co_ts,
                "co_integrated_to": dev.co_integrated_to, "co_dose": dev.co_dose,
                "co_readings": [list(p) for p in dev.co_readings],
                "self_test_until": dev.self_test_until if testing else None,
                "silenced_at": dev.silenced_at, "battery_low": dev.battery_low, "fault": dev.fault}
        rooms = {key: {"evidence": room.evidence} for key, room in self.rooms.items() if room.fire}
        self.dirty = False
        return _plain({"version": 1, "devices": devices, "rooms": rooms})

    def restore(self, data: dict[str, Any]) -> None:
        """Take over saved state (a takeover or a restart); raise ValueError when it is not a snapshot."""
        if not isinstance(data, dict) or data.get("version") != 1:
            raise ValueError("not a fire detector snapshot")
        for key, saved in data["devices"].items():
            dev = self._device(key, DeviceRef(**saved["ref"]) if saved["ref"] else None)
            dev.criteria = dict(saved["criteria"])
            dev.cleared_at = {c: float(t) for c, t in saved["cleared_at"].items()}
            dev.flag_seen = {c: (float(a), float(b)) for c, (a, b) in saved["flag_seen"].items()}
            dev.ror_base, dev.co_ppm, dev.co_ts = saved["ror_base"], saved["co_ppm"], saved["co_ts"]
            dev.co_integrated_to, dev.co_dose = saved["co_integrated_to"], saved["co_dose"]
            dev.co_readings.extend((float(t), float(v)) for t, v in saved["co_readings"])
            dev.self_test_until = saved["self_test_until"] if saved["self_test_until"] is not None else -math.inf
            dev.silenced_at, dev.battery_low, dev.fault = saved["silenced_at"], saved["battery_low"], saved["fault"]
        for key, saved in data["rooms"].items():
            self.rooms[key] = RoomState(fire=True, evidence=dict(saved["evidence"]))

    # -- messages -----------------------------------------------------------------------------------

    def _device(self, key: str, ref: DeviceRef | None) -> DeviceState:
        dev = self.devices.get(key)
        if dev is None:
            dev = self.devices[key] = DeviceState(key)
        if ref is not None:
            dev.ref = ref
        return dev

    def _testing(self, dev: DeviceState) -> bool:
        return self.clock() < dev.self_test_until

    def _event(self, dev: DeviceState, ev: DeviceEvent) -> list[Detection]:
        kind = ev.kind
        if kind == EventKind.SELF_TEST:
            # A stuck "test: true" must not mask a real fire forever, hence the bound.
            active = ev.state == EventState.ACTIVE
            dev.self_test_until = self.clock() + self.self_test_max_s if active else -math.inf
            self.dirty = True
            return []
        if kind == EventKind.SILENCED:
            dev.silenced_at = ev.ts
            self.dirty = True
            return []
        if kind == EventKind.BATTERY_LOW:
            dev.battery_low = ev.state != EventState.CLEARED
            return []
        if kind == EventKind.FAULT:
            dev.fault = ev.state != EventState.CLEARED
            return []
        criterion = FLAG_CRITERIA.get(kind)
        if criterion is None:
            return []
        if ev.state == EventState.CLEARED:
            dev.flag_seen.pop(criterion, None)
            return self._set(dev, criterion, False, ev.ts, {})
        if _event_is_test(ev) or self._testing(dev):
            return []
        if ev.state == EventState.ACTIVE:
            # A latched flag: a report while it holds says "still in alarm" and refreshes its expiry.
            latched = criterion in dev.criteria
            dev.flag_seen[criterion] = (self.clock(), ev.ts)
            self.dirty = True  # the latch's expiry moved
            if latched:
                return []
        evidence = {"event": {"device_key": ev.device_key, "kind": str(kind), "state": str(ev.state),
                              "ts": ev.ts, "source": ev.source, "detail": dict(ev.detail)}}
        if ev.state == EventState.MOMENTARY and criterion in dev.criteria:
            # A one-shot alarm while the same flag is latched is still a new occurrence: it joins the
            # open alert (or raises a new one) and leaves the latch as it is.
            dtype = CRITERIA[criterion][0]
            ev_ = {"criterion": criterion, **evidence, **self._device_context(dev)}
            return [self._detection(dtype, dev.key, ev.ts, DetectionState.ACTIVE, dev, ev_)]
        out = self._set(dev, criterion, True, ev.ts, evidence)
        if ev.state == EventState.MOMENTARY:
            # A one-shot alarm reports no end: nothing stays active, it still confirms for the window,
            # and no CLEARED is emitted because nothing said the hazard is gone.
            del dev.criteria[criterion]
            dev.cleared_at[criterion] = ev.ts
        return out

    def _reading(self, dev: DeviceState, r: Reading) -> list[Detection]:
        if not math.isfinite(r.value):
            return []
        if r.metric == "smoke_density" and r.unit == "dB/m":  # Tuya's "raw" vendor scale is not dB/m
            return self._smoke(dev, r)
        if r.metric in self.heat_metrics:
            return self._heat(dev, r)
        if r.metric == "co_ppm":
            return self._co(dev, r)
        if r.metric in GAS_METRICS and r.unit in ("%LEL", ""):
            return self._gas(dev, r)
        return []

    def _smoke(self, dev: DeviceState, r: Reading) -> list[Detection]:
        if self._testing(dev):  # the test chamber smoke of a self-test is not a trend
            return []
        dev.smoke.append((r.ts, r.value))
        recent = [(t, v) for t, v in dev.smoke if r.ts - t <= self.smoke_window_s][-self.smoke_points:]
        active = "smoke_trend" in dev.criteria
        if active:
            if r.value < self.smoke_level_db_m / 2:  # hysteresis: clear well below the level
                return self._set(dev, "smoke_trend", False, r.ts, {})
            return []
        if len(recent) < self.smoke_points or r.value < self.smoke_level_db_m:
            return []
        ts = np.array([t for t, _ in recent])
        vs = np.array([v for _, v in recent])
        if ts[-1] - ts[0] <= 0:
            return []
        slope = float(theilslopes(vs, ts)[0]) * 60.0  # Theil-Sen: one outlier cannot make a trend
        if slope < self.smoke_slope_db_m_per_min:
            return []
        evidence = {"readings": self._readings(r, recent), "slope_db_m_per_min": slope, "method": "theil-sen"}
        return self._set(dev, "smoke_trend", True, r.ts, evidence)

    def _heat(self, dev: DeviceState, r: Reading) -> list[Detection]:
        if dev.temp and r.ts <= dev.temp[-1][0]:
            return []  # out of order or duplicate: a rate needs forward time
        dev.temp.append((r.ts, r.value))
        out: list[Detection] = []
        if "heat_static" in dev.criteria:
            if r.value < self.heat_static_c - self.heat_static_hysteresis_c:
                out += self._set(dev, "heat_static", False, r.ts, {})
        elif r.value >= self.heat_static_c:
            out += self._set(dev, "heat_static", True, r.ts,
                             {"readings": self._readings(r, list(dev.temp)[-_EVIDENCE_READINGS:]),
                              "temperature_c": r.value})
        if "heat_ror" in dev.criteria:
            if dev.ror_base is not None and r.value <= dev.ror_base + self.heat_static_hysteresis_c:
                dev.ror_base = None
                out += self._set(dev, "heat_ror", False, r.ts, {})
            return out
        span = self._ror_span(dev)
        if span is not None:
            t0, v0 = span[0]
            rate = (r.value - v0) / (r.ts - t0) * 60.0
            dev.ror_base = v0
            evidence = {"readings": self._readings(r, span), "rate_c_per_min": rate, "span_s": r.ts - t0}
            out += self._set(dev, "heat_ror", True, r.ts, evidence)
        return out

    def _ror_span(self, dev: DeviceState) -> list[tuple[float, float]] | None:
        """Return the shortest recent span >= heat_ror_span_s rising at the alarm rate, or None.

        The span runs from the latest reading at least `heat_ror_span_s` before the newest one; its
        overall rate must reach the threshold and no step inside it may rise at less than half of it,
        so a flat line ending in one jump (a draught, a sensor glitch) is not a sustained rise.
        """
        t_now = dev.temp[-1][0]
        if t_now - dev.temp[0][0] < self.heat_ror_span_s:
            return None  # times only move forward: not even the oldest reading is far enough back
        temps = list(dev.temp)
        start = next((i for i in range(len(temps) - 2, -1, -1) if t_now - temps[i][0] >= self.heat_ror_span_s), None)
        if start is None:
            return None
        span = temps[start:]
        (t0, v0), (t1, v1) = span[0], span[-1]
        if (v1 - v0) / (t1 - t0) * 60.0 < self.heat_ror_c_per_min:
            return None
        for (ta, va), (tb, vb) in zip(span, span[1:], strict=False):
            if (vb - va) / (tb - ta) * 60.0 < self.heat_ror_c_per_min / 2:
                return None
        return span

    def _co(self, dev: DeviceState, r: Reading) -> list[Detection]:
        out: list[Detection] = []
        if dev.co_ts is not None:
            if r.ts < dev.co_ts:
                return []
            out += self._co_advance(dev, r.ts)
        else:
            dev.co_integrated_to = r.ts
        dev.co_ts = r.ts
        dev.co_ppm = r.value
        dev.co_readings.append((r.ts, r.value))
        self.dirty = self.dirty or dev.co_dose > 0.0  # a dose building up is hours of exposure to keep
        return out

    def _co_advance(self, dev: DeviceState, until: float) -> list[Detection]:
        """Integrate the held CO level from where integration stopped to `until`; alarm/clear on the way.

        Below the floor the dose decays linearly, emptying a full dose in `co_decay_s`; the dose is
        capped at 1 once alarmed so that clearing takes a bounded time after the air is clean.
        """
        assert dev.co_ts is not None and dev.co_integrated_to is not None
        end = min(until, dev.co_ts + self.co_hold_s)  # a silent device's last level is not held forever
        start = dev.co_integrated_to
        if end <= start:
            return []
        dev.co_integrated_to = end
        ttl = self.co_time_to_alarm(dev.co_ppm)
        alarmed = "co_dose" in dev.criteria
        if math.isinf(ttl):
            dev.co_dose = max(0.0, dev.co_dose - (end - start) / self.co_decay_s)
            if alarmed and dev.co_dose < self.co_clear_dose:
                t_clear = end - (self.co_clear_dose - dev.co_dose) * self.co_decay_s
                return self._set(dev, "co_dose", False, t_clear, {})
            return []
        if alarmed:
            return []
        dose = dev.co_dose + (end - start) / ttl
        if dose < 1.0 - 1e-9:  # summed steps of an exact constant level land a hair under 1
            dev.co_dose = dose
            return []
        t_alarm = start + (1.0 - dev.co_dose) * ttl  # the exact crossing, not the reading that revealed it
        dev.co_dose = 1.0
        evidence = {"readings": [{"device_key": dev.key, "ts": t, "value": v} for t, v in dev.co_readings],
                    "ppm": dev.co_ppm, "time_to_alarm_s": ttl, "model": "EN 50291 log-log dose"}
        return self._set(dev, "co_dose", True, t_alarm, evidence)

    def _gas(self, dev: DeviceState, r: Reading) -> list[Detection]:
        out: list[Detection] = []
        for criterion, level in (("gas_prealarm", self.gas_prealarm_lel), ("gas_alarm", self.gas_alarm_lel)):
            hysteresis = min(self.gas_hysteresis_lel, level / 2)
            if criterion in dev.criteria:
                if r.value < level - hysteresis:
                    out += self._set(dev, criterion, False, r.ts, {})
            elif r.value >= level:
                evidence = {"readings": self._readings(r, [(r.ts, r.value)]), "lel": r.value, "set_point": level}
                out += self._set(dev, criterion, True, r.ts, evidence)
        return out

    @staticmethod
    def _readings(r: Reading, points: list[tuple[float, float]]) -> list[dict[str, Any]]:
        return [{"device_key": r.device_key, "metric": r.metric, "ts": t, "value": v} for t, v in points]

    # -- state transitions ----------------------------------------------------------------------------

    def _set(self, dev: DeviceState, criterion: str, on: bool, t: float, evidence: dict[str, Any]) -> list[Detection]:
        """Turn one criterion on or off; emit the device detection on its first/last criterion, then confirm."""
        dtype, family = CRITERIA[criterion]
        same = [c for c in dev.criteria if CRITERIA[c][0] == dtype]
        out: list[Detection] = []
        if (criterion in dev.criteria) == on:
            return []
        self.dirty = True
        if on:
            dev.criteria[criterion] = {"t": t, **evidence}
            if not same:
                ev = {"criterion": criterion, **evidence, **self._device_context(dev)}
                out.append(self._detection(dtype, dev.key, t, DetectionState.ACTIVE, dev, ev))
        else:
            del dev.criteria[criterion]
            dev.cleared_at[criterion] = t
            if same == [criterion]:
                out.append(self._detection(dtype, dev.key, t, DetectionState.CLEARED, dev, {"criterion": criterion}))
        if family in ("smoke", "heat", "co"):
            out += self._confirm(dev.room_key, t, dev)
        return out

    def _device_context(self, dev: DeviceState) -> dict[str, Any]:
        """Return device-health facts worth an operator's eye: an alarm during a silence is still an alarm."""
        return {"silenced_at": dev.silenced_at, "battery_low": dev.battery_low, "fault": dev.fault}

    def _confirm(self, room_key: str, t: float, trigger: DeviceState) -> list[Detection]:
        """Raise or clear the room's fire: smoke with heat or CO, or smoke from two detectors, recently."""
        members = [d for d in self.devices.values() if d.room_key == room_key]
        recent: dict[str, dict[str, list[str]]] = {"smoke": {}, "heat": {}, "co": {}}
        any_active = False
        for d in members:
            for criterion, (_, family) in CRITERIA.items():
                if family not in recent:
                    continue
                if criterion in d.criteria:
                    any_active = True
                    recent[family].setdefault(d.key, []).append(criterion)
                elif t - d.cleared_at.get(criterion, -math.inf) <= self.confirm_window_s:
                    recent[family].setdefault(d.key, []).append(criterion + " (cleared)")
        room = self.rooms.setdefault(room_key, RoomState())
        if room.fire:
            if any_active:
                return []
            room.fire = False
            return [self._detection(DetectionType.FIRE, room_key, t, DetectionState.CLEARED, trigger, {})]
        matched = []
        if recent["smoke"]:
            if recent["heat"]:
                matched.append("smoke+heat")
            if recent["co"]:
                matched.append("smoke+co")
            if len(recent["smoke"]) >= 2:
                matched.append("two_smoke_detectors")
        if not matched or not any_active:
            return []
        room.fire = True
        devices = {d.key: {c: d.criteria.get(c) for c in d.criteria if CRITERIA[c][1] != "gas"} for d in members}
        room.evidence = {"matched": matched, "criteria": recent, "devices": devices}
        return [self._detection(DetectionType.FIRE, room_key, t, DetectionState.ACTIVE, trigger, dict(room.evidence))]

    def _detection(self, dtype: DetectionType, subject: str, t: float, state: DetectionState, dev: DeviceState,
                   evidence: dict[str, Any]) -> Detection:
        ref = dev.ref
        room_level = subject.startswith("room:")
        return Detection(
            type=dtype, subject=subject, t=t, state=state,
            device_key=None if room_level else dev.key,
            resident_id=ref.resident_id if ref is not None else None,
            room_id=ref.room_id if ref is not None else None,
            site_id=ref.site_id if ref is not None else None,
            evidence={**evidence, "thresholds": self.thresholds(), "emitted_at": self.clock()},
        )


def _belongs(dev: DeviceState, device_key: str | None, resident_id: int | None) -> bool:
    """Return True when a detector device is the alert's device or belongs to the alert's resident."""
    if device_key is not None and dev.key == device_key:
        return True
    return resident_id is not None and dev.ref is not None and dev.ref.resident_id == resident_id
