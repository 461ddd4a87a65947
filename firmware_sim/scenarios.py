"""Scenario scripts: an ordinary day, incidents, and the demo mix.

Each scenario schedules actions on a `Simulator` in simulated time and returns an `Incident`: the
ground truth (which devices, what the hub should raise, when the first alarm signal leaves the
device) that tests and the benchmark compare the hub's alerts against. `sim.incidents` keeps them all.
Times are simulated seconds from the moment the scenario is started; `at` delays the incident.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from firmware_sim.accel import Activity
from firmware_sim.devices import CTWingSmoke, DeviceSim, Watch, Wristband, Z2MDevice, Z2MSosButton

if TYPE_CHECKING:
    from firmware_sim.runner import Simulator


@dataclass(slots=True)
class Incident:
    """Ground truth of one scripted incident."""

    scenario: str
    device_keys: tuple[str, ...]
    expected: tuple[str, ...]
    t_start: float
    t_alarm: float | None
    t_end: float
    detail: dict[str, Any] = field(default_factory=dict)


def _record(sim: Simulator, incident: Incident) -> Incident:
    sim.incidents.append(incident)
    return incident


def _pick(sim: Simulator, candidates: list[DeviceSim], device: str | None) -> DeviceSim:
    if device is not None:
        return sim.device(device)
    alive = [c for c in candidates if c.alive] or candidates
    if not alive:
        raise LookupError("no device fits this scenario")
    return alive[int(sim.rng.integers(0, len(alive)))]


def _of(sim: Simulator, cls: type, *, kind: str | None = None, model: str | None = None,
        room: str | None = None, site: str | None = None) -> list[Any]:
    return [b for b in sim.behaviours.values() if isinstance(b, cls)
            and (kind is None or b.spec.kind == kind) and (model is None or b.spec.model == model)
            and (room is None or b.spec.room == room) and (site is None or b.spec.site == site)]


# ---------------------------------------------------------------- ordinary day


class DailyRoutine:
    """Drives every wristband's activity from a time-of-day schedule (sleep, meals, walks, rest)."""

    # (activity, weight) per hour-of-day band; dwell ranges in simulated seconds.
    DWELL = {Activity.REST: (180, 1800), Activity.STAND: (20, 120), Activity.WALK: (30, 300),
             Activity.SLEEP: (1800, 7200), Activity.EAT: (300, 1200)}

    def __init__(self, sim: Simulator, *, start_hour: float | None = None) -> None:
        self.sim = sim
        self.hold: set[int] = set()
        now = sim.now()
        self.offset = 0.0
        if start_hour is not None:
            local = datetime.fromtimestamp(now, sim.tz)
            current = local.hour + local.minute / 60 + local.second / 3600
            self.offset = ((start_hour - current) % 24) * 3600
        n = len(sim.wristbands)
        self.next_change = np.zeros(n)
        for slot in range(n):
            act = self._choose(now)
            sim.bank.set_activity(slot, act, now, transition_s=0)
            lo, hi = self.DWELL[act]
            self.next_change[slot] = now + sim.rng.uniform(0, hi - lo) + 1

    def hour(self, t: float) -> float:
        """Return the routine's local hour of day at simulated time t."""
        local = datetime.fromtimestamp(t + self.offset, self.sim.tz)
        return local.hour + local.minute / 60

    def _choose(self, t: float) -> Activity:
        h = self.hour(t)
        if h >= 22 or h < 6.5:
            table = {Activity.SLEEP: 0.9, Activity.WALK: 0.05, Activity.REST: 0.05}
        elif any(a <= h < b for a, b in ((7.5, 8.5), (11.75, 12.75), (17.75, 18.75))):
            table = {Activity.EAT: 0.65, Activity.REST: 0.2, Activity.WALK: 0.1, Activity.STAND: 0.05}
        elif 13 <= h < 14.5:
            table = {Activity.SLEEP: 0.35, Activity.REST: 0.45, Activity.WALK: 0.15, Activity.STAND: 0.05}
        else:
            table = {Activity.REST: 0.55, Activity.WALK: 0.25, Activity.STAND: 0.12, Activity.EAT: 0.08}
        acts, weights = list(table), np.array(list(table.values()))
        return acts[int(self.sim.rng.choice(len(acts), p=weights / weights.sum()))]

    def tick(self, t: float) -> None:
        """Change the activity of residents whose current activity has run its course."""
        due = np.nonzero(self.next_change <= t)[0]
        for slot in due:
            slot = int(slot)
            if slot in self.hold:
                self.next_change[slot] = t + 30
                continue
            act = self._choose(t)
            self.sim.bank.set_activity(slot, act, t)
            lo, hi = self.DWELL[act]
            self.next_change[slot] = t + self.sim.rng.uniform(lo, hi)


def _routine(sim: Simulator) -> DailyRoutine | None:
    return sim.routine


def ordinary_day(sim: Simulator, *, start_hour: float | None = None) -> None:
    """Give every resident a daily activity schedule (time may be shifted to `start_hour`)."""
    if _routine(sim) is None:
        sim.routine = DailyRoutine(sim, start_hour=start_hour)
        sim.add_ticker(sim.routine.tick)


# ---------------------------------------------------------------- incidents


def sos_press(sim: Simulator, *, via: str = "button", device: str | None = None, at: float = 1.0) -> Incident:
    """Press an SOS: Zigbee button (default), watch key, wristband key or lounge pull cord (Contact ID)."""
    t = sim.now() + at
    if via == "pullcord":
        spec = next(d for d in sim.population if d.profile == "contact_id" and d.kind == "sos_button")
        sim.at_time(t, lambda: sim.contact_id(spec.cid_account, 101, 1, 0, int(spec.cid_zone)))
        sim.at_time(t + 120, lambda: sim.contact_id(spec.cid_account, 101, 3, 0, int(spec.cid_zone)))
        return _record(sim, Incident("sos_press", (spec.key,), ("sos",), sim.now(), t, t + 120, {"via": via}))
    cls = {"button": Z2MSosButton, "watch": Watch, "wristband": Wristband}[via]
    dev = _pick(sim, _of(sim, cls), device)
    if isinstance(dev, Z2MSosButton):
        action: Callable[[], object] = dev.press
    elif isinstance(dev, Watch):
        def action() -> None:
            dev.alarm("SOS")
    elif isinstance(dev, Wristband):
        def action() -> None:
            dev.event("sos", "momentary", {"button": "side"})
    else:
        raise ValueError(f"{dev.key} has no SOS button")
    sim.at_time(t, action)
    return _record(sim, Incident("sos_press", (dev.key,), ("sos",), sim.now(), t, t, {"via": via}))


def kitchen_smoke_fire(sim: Simulator, *, site: str | None = None, at: float = 1.0, step_s: float = 5.0,
                       clear_after: float | None = 300.0) -> Incident:
    """A kitchen fire: smoke density rises to the smoke flag; a second sensor's temperature climbs fast."""
    site = site or sim.care_home.sites[0]
    primary = _of(sim, Z2MDevice, model="JY-GZ-01AQ", room="kitchen", site=site)[0]
    second = _of(sim, Z2MDevice, model="JTYJ-GD-01LM/BW", room="kitchen", site=site)[0]
    heat = next((d for d in sim.population if d.profile == "contact_id" and d.kind == "heat_detector"
                 and d.site == site), None)
    t0 = sim.now() + at
    state = {"heat_sent": False}

    def temperature(e: float) -> float:
        # Accelerating rise: ~10 °C/min at 90 s, ~20 °C/min at 180 s, capped at 85 °C.
        return min(85.0, 22.0 + 0.000926 * e * e)

    def dbm(e: float) -> float:
        x = min(max((e - 15.0) / 150.0, 0.0), 1.0)
        return 0.6 * x * x * (3 - 2 * x)

    def step(e: float) -> None:
        clearing = clear_after is not None and e >= clear_after
        if clearing:
            k = math.exp(-(e - clear_after) / 30.0)
            d, temp = dbm(clear_after) * k, 24 + (temperature(clear_after) - 24) * k
        else:
            d, temp = dbm(e), temperature(e)
        smoke1 = d >= 0.12 and not clearing
        smoke2 = d >= 0.2 and not clearing
        primary.update(qos=1 if smoke1 or primary.state["smoke"] else 0, smoke=smoke1,
                       smoke_density=int(round(d * 160)), smoke_density_dbm=round(d, 2))
        second.update(qos=1 if smoke2 or second.state["smoke"] else 0, smoke=smoke2,
                      smoke_density=int(round(d * 160)), device_temperature=round(temp, 1))
        if heat is not None and temp >= 57 and not state["heat_sent"]:
            state["heat_sent"] = True
            sim.contact_id(heat.cid_account, 114, 1, 0, int(heat.cid_zone))
        if heat is not None and clearing and state["heat_sent"] and temp < 45:
            state["heat_sent"] = False
            sim.contact_id(heat.cid_account, 114, 3, 0, int(heat.cid_zone))
        if clearing and d < 0.01 and temp < 25:
            return
        sim.after(step_s, lambda: step(e + step_s))

    sim.at_time(t0, lambda: step(0.0))
    # First smoke flag: density reaches 0.12 dB/m (solve the smoothstep numerically on the step grid).
    first = next(k * step_s for k in range(1000) if dbm(k * step_s) >= 0.12)
    end = t0 + (clear_after + 180 if clear_after is not None else math.inf)
    keys = (primary.key, second.key) + ((heat.key,) if heat else ())
    return _record(sim, Incident("kitchen_smoke_fire", keys, ("smoke", "heat"), sim.now(), t0 + first, end,
                                 {"site": site, "heat_over_57C_at": t0 + math.sqrt(35 / 0.000926)}))


def gas_leak(sim: Simulator, *, site: str | None = None, at: float = 1.0, rise_s: float = 150.0,
             peak_lel: float = 65.0, flag_at: float = 55.0, step_s: float = 5.0,
             clear_after: float | None = 300.0) -> Incident:
    """A kitchen gas leak: gas_density climbs past 25 and 50 %LEL, then the gas flag is raised."""
    site = site or sim.care_home.sites[0]
    det = _of(sim, Z2MDevice, model="JT-BZ-01AQ/A", site=site)[0]
    t0 = sim.now() + at

    def step(e: float) -> None:
        if clear_after is not None and e >= clear_after:
            density = peak_lel * math.exp(-(e - clear_after) / 40.0)
        else:
            density = min(peak_lel, peak_lel * e / rise_s)
        density = int(round(max(0.0, density + sim.rng.normal(0, 0.8))))
        flag = density >= flag_at and not (clear_after is not None and e >= clear_after)
        # Pre-alarm densities (≥ 25 %LEL) already matter to the hub: send them at QoS 1 too.
        det.update(qos=1 if density >= 25 or flag or det.state["gas"] else 0, gas=flag, gas_density=density)
        if clear_after is not None and e >= clear_after and density == 0:
            return
        sim.after(step_s, lambda: step(e + step_s))

    sim.at_time(t0, lambda: step(0.0))
    t_flag = t0 + math.ceil(flag_at / peak_lel * rise_s / step_s) * step_s
    end = t0 + (clear_after + 200 if clear_after is not None else math.inf)
    return _record(sim, Incident("gas_leak", (det.key,), ("gas",), sim.now(), t_flag, end,
                                 {"site": site, "lel_25_at": t0 + 25 / peak_lel * rise_s,
                                  "lel_50_at": t0 + 50 / peak_lel * rise_s}))


def wristband_fall(sim: Simulator, *, device: str | None = None, at: float = 5.0,
                   recover_after: float | None = None, device_detects: bool = False,
                   watch_detects: bool = False, peak_g: float | None = None) -> Incident:
    """A resident walks, falls (impact `at` s from now) and lies still; optionally gets up later."""
    wb = _pick(sim, [w for w in sim.wristbands if w.slot not in _held(sim)], device)
    assert isinstance(wb, Wristband)
    slot, now = wb.slot, sim.now()
    routine = _routine(sim)
    if routine is not None:
        routine.hold.add(slot)
    sim.bank.set_activity(slot, Activity.WALK, now)
    t_impact = now + at + 0.37  # off the tick grid, as real impacts are
    sim.at_time(now + at, lambda: sim.bank.fall(slot, t_impact, peak_g=peak_g))
    watch = next((b for b in _of(sim, Watch) if b.spec.resident_index == wb.spec.resident_index), None)
    if device_detects:
        sim.at_time(t_impact + 2, lambda: wb.event("fall", "momentary", {"source": "device"}))
    if watch_detects and watch is not None:
        sim.at_time(t_impact + 3, lambda: watch.alarm("FALL DOWN"))
    end = math.inf
    if recover_after is not None:
        end = t_impact + recover_after

        def recover() -> None:
            sim.bank.set_activity(slot, Activity.STAND, sim.now(), transition_s=3.0)
            if routine is not None:
                routine.hold.discard(slot)

        sim.at_time(end, recover)
    keys = (wb.key,) + ((watch.key,) if watch_detects and watch is not None else ())
    return _record(sim, Incident("wristband_fall", keys, ("fall",), now, t_impact, end,
                                 {"slot": slot, "resident": wb.spec.resident}))


def _held(sim: Simulator) -> set[int]:
    routine = _routine(sim)
    return routine.hold if routine is not None else set()


def battery_dies(sim: Simulator, *, device: str | None = None, at: float = 1.0, duration_s: float = 180.0,
                 report_every_s: float = 30.0, replace_after: float | None = None) -> Incident:
    """A detector's battery runs down: battery falls, battery_low is raised, then the device goes silent."""
    candidates = _of(sim, Z2MDevice, model="HS1SA") + _of(sim, CTWingSmoke)
    bedrooms = [c for c in candidates if c.spec.room not in ("kitchen", "lounge")]
    dev = _pick(sim, bedrooms or candidates, device)
    t0 = sim.now() + at

    def begin() -> None:
        dev.update_battery()
        dev.drain_per_s = max(dev.battery, 1.0) / duration_s
        dev.reschedule(report_every_s)

    sim.at_time(t0, begin)
    end = t0 + duration_s + report_every_s
    if replace_after is not None:
        def replace() -> None:
            dev.replace_battery()
            dev.reschedule(_normal_period(sim, dev))

        end = t0 + replace_after
        sim.at_time(end, replace)
    t_low = t0 + duration_s * (1 - 15.0 / max(dev.battery, 15.0))
    return _record(sim, Incident("battery_dies", (dev.key,), ("battery_low", "offline"), sim.now(), t_low,
                                 end, {"dead_at": t0 + duration_s}))


def _normal_period(sim: Simulator, dev: DeviceSim) -> float:
    t = sim.timing
    if isinstance(dev, CTWingSmoke):
        return t.ctwing_report_s
    if isinstance(dev, Watch):
        return t.watch_heartbeat_s
    if isinstance(dev, Wristband):
        return t.wristband_telemetry_s
    return t.z2m_report_s


def device_silent(sim: Simulator, *, device: str | None = None, kind: str = "wristband", at: float = 1.0,
                  offline_signal: bool = True, offline_after_s: float | None = None,
                  restore_after: float | None = None) -> Incident:
    """A device stops publishing; with `offline_signal`, its transport also says offline.

    Wristbands lose their connection (the broker publishes their will); Zigbee devices get
    availability `offline` after `offline_after_s` (Z2M's availability timeout); watches and NB-IoT
    detectors have no offline signal: the hub must notice the silence by supervision.
    """
    dev = _pick(sim, [b for b in sim.behaviours.values() if b.spec.kind == kind], device)
    t0 = sim.now() + at
    delay = offline_after_s if offline_after_s is not None else (0.0 if isinstance(dev, Wristband) else 60.0)
    sim.at_time(t0, lambda: dev.go_silent(offline_signal=offline_signal, offline_after_s=delay))
    end = math.inf
    if restore_after is not None:
        end = t0 + restore_after
        sim.at_time(end, dev.restore)
    return _record(sim, Incident("device_silent", (dev.key,), ("offline",), sim.now(),
                                 t0 + delay if offline_signal else None, end, {"kind": dev.spec.kind}))


# ---------------------------------------------------------------- demo mix


def demo(sim: Simulator, *, interval: tuple[float, float] = (30.0, 60.0), start_hour: float | None = 10.0,
         first_after: float = 10.0) -> None:
    """Ordinary day for everyone plus a scripted incident every 30–60 s, each clearing by itself.

    The first incident is an SOS button press, so the console has a live alert within seconds of start.
    """
    ordinary_day(sim, start_hour=start_hour)
    busy: dict[str, float] = {}

    def free(*keys: str) -> bool:
        now = sim.now()
        return all(busy.get(k, -math.inf) < now for k in keys)

    def next_incident() -> None:
        kinds = ["sos_button", "sos_watch", "fall", "fall", "fire", "gas", "battery", "silent",
                 "sos_wristband"]
        choice = kinds[int(sim.rng.integers(0, len(kinds)))]
        site = sim.care_home.sites[int(sim.rng.integers(0, len(sim.care_home.sites)))]
        try:
            if choice == "fire" and free(f"fire:{site}"):
                busy[f"fire:{site}"] = kitchen_smoke_fire(sim, site=site, clear_after=150).t_end
            elif choice == "gas" and free(f"gas:{site}"):
                busy[f"gas:{site}"] = gas_leak(sim, site=site, rise_s=90, clear_after=150).t_end
            elif choice == "fall":
                wristband_fall(sim, recover_after=90, device_detects=bool(sim.rng.random() < 0.3))
            elif choice == "battery":
                battery_dies(sim, duration_s=90, replace_after=240)
            elif choice == "silent":
                device_silent(sim, restore_after=150)
            elif choice == "sos_watch" and _of(sim, Watch):
                sos_press(sim, via="watch")
            elif choice == "sos_wristband":
                sos_press(sim, via="wristband")
            else:
                sos_press(sim, via="pullcord" if sim.rng.random() < 0.15 else "button")
        except LookupError:  # every candidate is busy or silent right now: try again next time
            pass
        sim.after(float(sim.rng.uniform(*interval)), next_incident)

    def first_incident() -> None:
        sos_press(sim, via="button")
        sim.after(float(sim.rng.uniform(*interval)), next_incident)

    sim.after(first_after, first_incident)


SCENARIOS: dict[str, Callable[..., Incident | None]] = {
    "ordinary_day": ordinary_day,
    "sos_press": sos_press,
    "kitchen_smoke_fire": kitchen_smoke_fire,
    "gas_leak": gas_leak,
    "wristband_fall": wristband_fall,
    "battery_dies": battery_dies,
    "device_silent": device_silent,
    "demo": demo,
}


def describe() -> list[tuple[str, str]]:
    """Return (name, one-line description) for every scenario."""
    return [(name, (fn.__doc__ or "").strip().splitlines()[0]) for name, fn in SCENARIOS.items()]


def run(sim: Simulator, name: str, **kw: Any) -> Incident | None:
    """Start scenario `name` on `sim` with keyword arguments `kw`."""
    try:
        fn = SCENARIOS[name]
    except KeyError:
        raise ValueError(f"unknown scenario {name!r}; choose from {', '.join(SCENARIOS)}") from None
    return fn(sim, **kw)
