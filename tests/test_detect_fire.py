"""Fire/heat/CO/gas detector: seeded synthetic streams pin where it fires (method: hub.detect.fire)."""

from __future__ import annotations

import numpy as np
import pytest

from device_drivers.model import DeviceEvent, EventKind, EventState, Reading
from hub.detect.detection import Detection, DetectionState, DetectionType
from hub.detect.fire import FireGasDetector
from hub.devices.directory import DeviceRef
from tests.clock import Clock

T0 = 1_700_000_000.0
ACTIVE, CLEARED = DetectionState.ACTIVE, DetectionState.CLEARED
FIRE, SUSPECTED = DetectionType.FIRE, DetectionType.FIRE_SUSPECTED


def ref(room: int | None, device_id: int = 1) -> DeviceRef:
    return DeviceRef(id=device_id, kind="smoke_detector", name=f"d{device_id}", site_id=3, room_id=room,
                     resident_id=9, supervision_s=3600.0)


def event(key: str, kind: EventKind, t: float, state: EventState = EventState.ACTIVE, **detail) -> DeviceEvent:
    return DeviceEvent(key, kind, state, T0 + float(t), "test", detail)


def reading(key: str, metric: str, value: float, t: float, unit: str) -> Reading:
    return Reading(key, metric, float(value), unit, T0 + float(t), "test")


def of(dets: list[Detection], dtype: DetectionType, state: DetectionState = ACTIVE) -> list[Detection]:
    return [d for d in dets if d.type == dtype and d.state == state]


def feed(det: FireGasDetector, clock: Clock, items: list[tuple[object, DeviceRef | None]]) -> list[Detection]:
    """Feed messages in time order, the clock following the message time, ticking after each."""
    out: list[Detection] = []
    for msg, r in sorted(items, key=lambda m: m[0].ts):  # type: ignore[attr-defined]
        clock.now = max(clock.now, msg.ts)  # type: ignore[attr-defined]
        out += det.update(msg, r)
        out += det.tick()
    return out


# -- device flags and confirmation -------------------------------------------------------------------


def test_single_smoke_flag_is_suspected_at_once_and_clears():
    clock = Clock(T0)
    det = FireGasDetector(clock)
    out = det.update(event("z2m:kitchen", EventKind.SMOKE, 5.0), ref(1))
    assert [(d.type, d.state, d.t, d.subject) for d in out] == [(SUSPECTED, ACTIVE, T0 + 5.0, "z2m:kitchen")]
    d = out[0]
    assert (d.device_key, d.room_id, d.site_id, d.resident_id) == ("z2m:kitchen", 1, 3, 9)
    assert d.evidence["criterion"] == "smoke_flag"
    assert d.evidence["event"]["ts"] == T0 + 5.0 and d.evidence["thresholds"]["confirm_window_s"] == 120.0
    assert det.update(event("z2m:kitchen", EventKind.SMOKE, 15.0), ref(1)) == []  # repeated report: no new alarm
    out = det.update(event("z2m:kitchen", EventKind.SMOKE, 60.0, EventState.CLEARED), ref(1))
    assert [(d.type, d.state, d.t) for d in out] == [(SUSPECTED, CLEARED, T0 + 60.0)]


def test_smoke_flag_with_heat_rate_of_rise_in_the_same_room_is_fire_at_the_confirming_reading():
    rng = np.random.default_rng(11)
    clock = Clock(T0)
    det = FireGasDetector(clock)
    items: list[tuple[object, DeviceRef | None]] = [(event("z2m:smoke", EventKind.SMOKE, 200.0), ref(5, 1))]
    for t in np.arange(0.0, 600.0, 10.0):  # fire from t=300: 12 degC/min, seeded 0.1 degC noise
        temp = 22.0 + 0.2 * max(0.0, t - 300.0) + rng.normal(0, 0.1)
        items.append((reading("z2m:thermo", "temperature", temp, t, "degC"), ref(5, 2)))
    out = feed(det, clock, items)
    assert [(d.type, d.t) for d in of(out, SUSPECTED)] == [(SUSPECTED, T0 + 200.0)]
    assert [d.t for d in of(out, DetectionType.HEAT)] == [T0 + 330.0]
    fires = of(out, FIRE)
    assert [(d.t, d.subject, d.room_id, d.device_key) for d in fires] == [(T0 + 330.0, "room:5", 5, None)]
    ev = fires[0].evidence
    assert ev["matched"] == ["smoke+heat"]
    assert ev["criteria"]["smoke"] == {"z2m:smoke": ["smoke_flag"]}
    assert ev["criteria"]["heat"] == {"z2m:thermo": ["heat_ror"]}
    ror = ev["devices"]["z2m:thermo"]["heat_ror"]
    assert ror["rate_c_per_min"] >= 8.3 and ror["span_s"] == 30.0 and len(ror["readings"]) == 4


def test_cooking_smoke_bump_without_heat_or_co_is_at_most_suspected():
    rng = np.random.default_rng(7)
    clock = Clock(T0)
    det = FireGasDetector(clock)
    items: list[tuple[object, DeviceRef | None]] = []
    for t in np.arange(0.0, 1800.0, 10.0):
        bump = 0.30 * np.exp(-0.5 * ((t - 600.0) / 120.0) ** 2)  # toast: a 0.3 dB/m puff over ~8 min
        items.append((reading("z2m:kitchen", "smoke_density", max(0.0, bump + rng.normal(0, 0.005)), t, "dB/m"),
                      ref(1, 1)))
        items.append((reading("z2m:kitchen-t", "temperature", 23.0 + rng.normal(0, 0.2), t, "degC"), ref(1, 2)))
        items.append((reading("z2m:kitchen-co", "co_ppm", max(0.0, 3.0 + rng.normal(0, 1.0)), t, "ppm"), ref(1, 3)))
    out = feed(det, clock, items)
    assert of(out, FIRE) == []
    assert of(out, DetectionType.HEAT) == [] and of(out, DetectionType.CO) == []
    suspected = of(out, SUSPECTED)
    assert [d.t for d in suspected] == [T0 + 430.0]
    assert suspected[0].evidence["criterion"] == "smoke_trend"
    assert suspected[0].evidence["slope_db_m_per_min"] >= 0.02
    assert [d.t for d in of(out, SUSPECTED, CLEARED)] == [T0 + 830.0]  # density back under half the level


def test_raw_vendor_smoke_scale_is_not_read_as_db_per_m():
    det = FireGasDetector(Clock(T0))
    out = []
    for i in range(10):
        out += det.update(reading("tuya:s", "smoke_density", 100.0 * i, 10.0 * i, "raw"), ref(1))
    assert out == []


def test_two_smoke_detectors_in_one_room_confirm_fire():
    det = FireGasDetector(Clock(T0))
    assert of(det.update(event("a", EventKind.SMOKE, 0.0), ref(4, 1)), FIRE) == []
    out = det.update(event("b", EventKind.SMOKE, 45.0), ref(4, 2))
    assert [(d.type, d.t) for d in out] == [(SUSPECTED, T0 + 45.0), (FIRE, T0 + 45.0)]
    assert out[1].evidence["matched"] == ["two_smoke_detectors"]
    assert det.update(event("a", EventKind.SMOKE, 100.0, EventState.CLEARED), ref(4, 1))[-1].type == SUSPECTED
    out = det.update(event("b", EventKind.SMOKE, 110.0, EventState.CLEARED), ref(4, 2))
    assert [(d.type, d.state) for d in out] == [(SUSPECTED, CLEARED), (FIRE, CLEARED)]


def test_two_smoke_detectors_in_different_rooms_are_not_confirmed():
    det = FireGasDetector(Clock(T0))
    out = det.update(event("a", EventKind.SMOKE, 0.0), ref(4, 1))
    out += det.update(event("b", EventKind.SMOKE, 10.0), ref(5, 2))
    out += det.update(event("c", EventKind.SMOKE, 20.0), None)  # unknown place: confirms nothing
    assert [d.type for d in out] == [SUSPECTED] * 3


def test_smoke_with_co_flag_is_fire_and_heat_flag_alone_is_heat():
    det = FireGasDetector(Clock(T0))
    out = det.update(event("co1", EventKind.CO, 0.0), ref(2, 1))
    assert [d.type for d in out] == [DetectionType.CO]
    out = det.update(event("h1", EventKind.HEAT, 5.0), ref(3, 2))
    assert [d.type for d in out] == [DetectionType.HEAT]
    out = det.update(event("s1", EventKind.SMOKE, 30.0), ref(2, 3))
    assert [(d.type, d.subject) for d in out] == [(SUSPECTED, "s1"), (FIRE, "room:2")]
    assert out[1].evidence["matched"] == ["smoke+co"]


def test_a_recently_cleared_heat_flag_confirms_within_the_window_only():
    det = FireGasDetector(Clock(T0))
    det.update(event("h", EventKind.HEAT, 0.0), ref(6, 1))
    det.update(event("h", EventKind.HEAT, 10.0, EventState.CLEARED), ref(6, 1))
    out = det.update(event("s", EventKind.SMOKE, 130.0), ref(6, 2))  # 120 s after the clear: inside
    assert of(out, FIRE)[0].evidence["criteria"]["heat"] == {"h": ["heat_flag (cleared)"]}
    det = FireGasDetector(Clock(T0))
    det.update(event("h", EventKind.HEAT, 0.0), ref(6, 1))
    det.update(event("h", EventKind.HEAT, 10.0, EventState.CLEARED), ref(6, 1))
    assert of(det.update(event("s", EventKind.SMOKE, 131.0), ref(6, 2)), FIRE) == []


def test_momentary_flags_raise_each_time_and_confirm_within_the_window():
    det = FireGasDetector(Clock(T0))
    a = det.update(event("imei:a", EventKind.SMOKE, 0.0, EventState.MOMENTARY), ref(7, 1))
    b = det.update(event("imei:b", EventKind.SMOKE, 90.0, EventState.MOMENTARY), ref(7, 2))
    assert [(d.type, d.state) for d in a] == [(SUSPECTED, ACTIVE)]
    assert [(d.type, d.state, d.t) for d in b] == [(SUSPECTED, ACTIVE, T0 + 90.0), (FIRE, ACTIVE, T0 + 90.0)]
    assert b[1].evidence["criteria"]["smoke"] == {"imei:a": ["smoke_flag (cleared)"], "imei:b": ["smoke_flag"]}
    again = det.update(event("imei:a", EventKind.SMOKE, 100.0, EventState.MOMENTARY), ref(7, 1))
    assert [(d.type, d.state) for d in again] == [(SUSPECTED, ACTIVE)]  # the room's fire is already raised


def test_one_multi_sensor_without_a_room_confirms_itself():
    det = FireGasDetector(Clock(T0))
    det.update(event("combo", EventKind.SMOKE, 0.0), None)
    out = det.update(event("combo", EventKind.HEAT, 20.0), None)
    assert [(d.type, d.subject) for d in out] == [(DetectionType.HEAT, "combo"), (FIRE, "combo")]


# -- tests, self-tests, silences -----------------------------------------------------------------------


def test_test_button_and_self_test_never_alarm():
    clock = Clock(T0)
    det = FireGasDetector(clock)
    out = det.update(event("s", EventKind.SELF_TEST, 0.0), ref(1))
    out += det.update(event("s", EventKind.SMOKE, 1.0), ref(1))  # sounder test during the self-test
    out += det.update(event("s", EventKind.SELF_TEST, 5.0, EventState.CLEARED), ref(1))
    out += det.update(event("s", EventKind.SMOKE, 6.0, test=True), ref(1))  # payload marked test
    out += det.update(event("s", EventKind.SELF_TEST, 7.0, EventState.MOMENTARY), ref(1))
    out += det.update(event("t", EventKind.SELF_TEST, 8.0, suppressed={"smoke": True}), ref(1))
    assert out == []
    out = det.update(event("s", EventKind.SMOKE, 20.0), ref(1))
    assert [(d.type, d.t) for d in out] == [(SUSPECTED, T0 + 20.0)]


def test_a_stuck_self_test_stops_masking_after_its_bound():
    clock = Clock(T0)
    det = FireGasDetector(clock)
    det.update(event("s", EventKind.SELF_TEST, 0.0), ref(1))
    clock.now = T0 + 299.0
    assert det.update(event("s", EventKind.SMOKE, 299.0), ref(1)) == []
    clock.now = T0 + 300.0
    assert [d.type for d in det.update(event("s", EventKind.SMOKE, 300.0), ref(1))] == [SUSPECTED]


def test_smoke_during_a_battery_fault_silence_still_alarms():
    clock = Clock(T0)
    det = FireGasDetector(clock)
    out = det.update(event("imei:1", EventKind.BATTERY_LOW, 0.0), ref(8))
    out += det.update(event("imei:1", EventKind.FAULT, 1.0), ref(8))
    out += det.update(event("imei:1", EventKind.SILENCED, 2.0, EventState.MOMENTARY), ref(8))
    assert out == []  # device health is hub.health's business, never a fire alert
    out = det.update(event("imei:1", EventKind.SMOKE, 60.0, EventState.MOMENTARY), ref(8))
    assert [(d.type, d.state, d.t) for d in out] == [(SUSPECTED, ACTIVE, T0 + 60.0)]
    ev = out[0].evidence
    assert (ev["battery_low"], ev["fault"], ev["silenced_at"]) == (True, True, T0 + 2.0)


# -- CO dose (EN 50291) ------------------------------------------------------------------------------------


def co_alarm_time(ppm: float, hours: float, noise: float = 0.0, seed: int = 0, period: float = 60.0) -> float | None:
    """Return minutes from the first reading to the CO alarm of a constant (noisy) level, or None."""
    rng = np.random.default_rng(seed)
    clock = Clock(T0)
    det = FireGasDetector(clock)
    for t in np.arange(0.0, hours * 3600.0, period):
        clock.now = T0 + t
        value = max(0.0, ppm + rng.normal(0, noise)) if noise else ppm
        out = det.update(reading("co", "co_ppm", value, t, "ppm"), ref(1)) + det.tick()
        if of(out, DetectionType.CO):
            return (of(out, DetectionType.CO)[0].t - T0) / 60.0
    return None


@pytest.mark.parametrize(("ppm", "minutes", "window"), [(50, 75.0, (60, 90)), (100, 25.0, (10, 40)),
                                                         (300, 1.5, (0, 3))])
def test_co_constant_level_alarms_inside_the_en50291_window(ppm, minutes, window):
    got = co_alarm_time(ppm, 2.0)
    assert got == pytest.approx(minutes, abs=1e-6)
    assert window[0] <= got <= window[1]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_co_noisy_levels_stay_inside_the_windows(seed):
    assert 60 <= co_alarm_time(50, 2.0, noise=5.0, seed=seed, period=30.0) <= 90
    assert 10 <= co_alarm_time(100, 1.0, noise=10.0, seed=seed, period=30.0) <= 40
    assert co_alarm_time(300, 0.2, noise=20.0, seed=seed, period=10.0) < 3


def test_co_below_30_ppm_never_alarms_in_8_hours():
    assert co_alarm_time(25, 8.0) is None
    assert co_alarm_time(25, 8.0, noise=2.0, seed=4) is None


def test_co_time_to_alarm_curve_shape():
    det = FireGasDetector(Clock(T0))
    assert det.co_time_to_alarm(29.9) == float("inf")
    assert det.co_time_to_alarm(30.0) / 60 > 120  # EN 50291: no alarm at 30 ppm within 120 min
    assert det.co_time_to_alarm(1000.0) < det.co_time_to_alarm(300.0)


def test_co_dose_ripens_on_tick_alone_and_clears_after_clean_air():
    clock = Clock(T0)
    det = FireGasDetector(clock)
    assert det.update(reading("co", "co_ppm", 300.0, 0.0, "ppm"), ref(1)) == []
    out: list[Detection] = []
    for t in range(10, 200, 10):  # the device reports only on change: its level is held
        clock.now = T0 + t
        out += det.tick()
    assert [(d.type, d.t) for d in out] == [(DetectionType.CO, T0 + 90.0)]
    assert out[0].evidence["ppm"] == 300.0 and out[0].evidence["time_to_alarm_s"] == pytest.approx(90.0)
    out = []
    for t in range(200, 2000, 60):  # clean air: the dose decays, a full one in 30 min
        clock.now = T0 + t
        out += det.update(reading("co", "co_ppm", 0.0, t, "ppm"), ref(1)) + det.tick()
    assert [(d.type, d.state, d.t) for d in out] == [(DetectionType.CO, CLEARED, pytest.approx(T0 + 1100.0))]


def test_a_silent_co_device_is_not_held_forever():
    clock = Clock(T0)
    det = FireGasDetector(clock)
    det.update(reading("co", "co_ppm", 50.0, 0.0, "ppm"), ref(1))
    clock.now = T0 + 10 * 3600.0
    assert det.tick() == []  # 600 s hold of 50 ppm = 0.13 of a dose


def test_a_co_alarm_does_not_clear_because_the_device_fell_silent():
    clock = Clock(T0)
    det = FireGasDetector(clock)
    det.update(reading("co", "co_ppm", 300.0, 0.0, "ppm"), ref(1))
    clock.now = T0 + 120.0
    assert [d.type for d in det.tick()] == [DetectionType.CO]
    det.update(reading("co", "co_ppm", 0.0, 120.0, "ppm"), ref(1))
    clock.now = T0 + 24 * 3600.0
    assert det.tick() == []  # decay only while clean air is reported (600 s: dose 0.67, still alarmed)
    assert "co_dose" in det.devices["co"].criteria


# -- combustible gas ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("pre", "alarm"), [(0.0, 50.0), (25.0, 51.0), (26.0, 50.0), (20.0, 20.0), (-5.0, 10.0)])
def test_gas_set_points_outside_the_rules_are_refused(pre, alarm):
    with pytest.raises(ValueError):
        FireGasDetector(Clock(T0), gas_prealarm_lel=pre, gas_alarm_lel=alarm)


@pytest.mark.parametrize(("pre", "alarm", "t_pre", "t_alarm"), [(25.0, 50.0, 250.0, 500.0),
                                                                  (10.0, 20.0, 100.0, 200.0)])
def test_gas_ramp_crosses_pre_alarm_then_alarm(pre, alarm, t_pre, t_alarm):
    rng = np.random.default_rng(5)
    det = FireGasDetector(Clock(T0), gas_prealarm_lel=pre, gas_alarm_lel=alarm)
    out: list[Detection] = []
    for t in np.arange(0.0, 700.0, 10.0):  # leak: +1 %LEL per 10 s, 0.05 %LEL noise, then ventilated
        lel = t / 10.0 if t < 600 else 0.0
        out += det.update(reading("gas", "gas_lel", lel + rng.uniform(0.0, 0.05), t, "%LEL"), ref(1))
    assert [d.t for d in of(out, DetectionType.GAS_PREALARM)] == [T0 + t_pre]
    assert [d.t for d in of(out, DetectionType.GAS)] == [T0 + t_alarm]
    assert of(out, DetectionType.GAS)[0].evidence["set_point"] == alarm
    assert [d.t for d in of(out, DetectionType.GAS_PREALARM, CLEARED)] == [T0 + 600.0]
    assert [d.t for d in of(out, DetectionType.GAS, CLEARED)] == [T0 + 600.0]
    assert of(out, FIRE) == []


def test_gas_flag_raises_gas_at_once():
    det = FireGasDetector(Clock(T0))
    out = det.update(event("g", EventKind.GAS, 3.0), ref(1))
    assert [(d.type, d.t) for d in out] == [(DetectionType.GAS, T0 + 3.0)]


# -- heat (EN 54-5 A1R) ----------------------------------------------------------------------------------------


def heat_stream(rate_c_per_min: float, start: float, stop: float, seed: int, period: float = 10.0,
                hold: float = 0.0) -> list[Detection]:
    rng = np.random.default_rng(seed)
    det = FireGasDetector(Clock(T0))
    out: list[Detection] = []
    t, temp = 0.0, start
    while temp < stop or hold > 0:
        if temp >= stop:
            hold -= period
        out += det.update(reading("th", "temperature", temp + rng.normal(0, 0.05), t, "degC"), ref(1))
        t += period
        temp = min(stop, start + rate_c_per_min * t / 60.0)
    return out


def test_slow_warming_to_40_never_alarms():
    assert heat_stream(1.0, 20.0, 40.0, seed=1, hold=600.0) == []


def test_slow_warming_past_the_static_threshold_alarms_at_58():
    out = heat_stream(1.0, 40.0, 62.0, seed=2)
    heat = of(out, DetectionType.HEAT)
    assert [d.t for d in heat] == [T0 + 18 * 60.0]  # 40 + 18 min at 1 degC/min = 58 degC
    assert heat[0].evidence["criterion"] == "heat_static"


def test_fast_rise_alarms_by_rate_of_rise_after_30_s():
    heat = of(heat_stream(10.0, 20.0, 50.0, seed=3), DetectionType.HEAT)
    assert [(d.t, d.evidence["criterion"]) for d in heat] == [(T0 + 30.0, "heat_ror")]


def test_rate_of_rise_needs_a_sustained_rise_not_one_jump():
    det = FireGasDetector(Clock(T0))
    out: list[Detection] = []
    for t, v in [(0, 22.0), (10, 22.0), (20, 22.0), (30, 30.0), (40, 30.0)]:
        out += det.update(reading("th", "temperature", v, t, "degC"), ref(1))
    assert out == []


def test_rate_of_rise_clears_when_back_near_where_the_rise_started():
    det = FireGasDetector(Clock(T0))
    out: list[Detection] = []
    for t, v in [(0, 22.0), (30, 28.0), (60, 40.0), (90, 30.0), (120, 25.0), (150, 23.5)]:
        out += det.update(reading("th", "temperature", v, t, "degC"), ref(1))
    assert [(d.state, d.t) for d in out] == [(ACTIVE, T0 + 30.0), (CLEARED, T0 + 150.0)]


def test_device_temperature_is_not_a_heat_sensor_by_default():
    det = FireGasDetector(Clock(T0))
    assert det.update(reading("plug", "device_temperature", 70.0, 0.0, "degC"), ref(1)) == []


@pytest.mark.parametrize("static", [53.9, 65.1])
def test_static_heat_threshold_outside_the_a1_band_is_refused(static):
    with pytest.raises(ValueError):
        FireGasDetector(Clock(T0), heat_static_c=static)


def test_reset_forgets_state():
    det = FireGasDetector(Clock(T0))
    det.update(event("a", EventKind.SMOKE, 0.0), ref(4, 1))
    det.reset()
    assert of(det.update(event("b", EventKind.SMOKE, 10.0), ref(4, 2)), FIRE) == []
