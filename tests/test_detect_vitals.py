"""Vital-sign detector: seeded synthetic streams pin where it fires (method: hub.detect.vitals)."""

from __future__ import annotations

import numpy as np
import pytest

from device_drivers.model import Reading
from hub.detect.detection import Detection, DetectionState, DetectionType
from hub.detect.vitals import VitalsDetector
from hub.devices.directory import DeviceRef
from tests.clock import Clock

T0 = 1_700_000_000.0
ACTIVE, CLEARED = DetectionState.ACTIVE, DetectionState.CLEARED


def ref(resident: int | None = 7) -> DeviceRef:
    return DeviceRef(id=1, kind="wristband", name="band", site_id=2, room_id=4, resident_id=resident,
                     supervision_s=600.0)


def run(det: VitalsDetector, metric: str, values: list[tuple[float, float]], resident: int | None = 7,
        key: str = "imei:860000000000001") -> list[Detection]:
    out: list[Detection] = []
    for t, v in values:
        det.clock.now = T0 + t  # type: ignore[attr-defined]
        unit = "bpm" if metric == "heart_rate" else "%"
        out += det.update(Reading(key, metric, float(v), unit, T0 + float(t), "watch"), ref(resident))
    return out


def test_a_single_out_of_range_heart_rate_does_not_alarm():
    rng = np.random.default_rng(3)
    det = VitalsDetector(Clock(T0))
    values = [(t, 72 + rng.normal(0, 4)) for t in range(0, 3600, 10)]
    for k in rng.choice(len(values), 12, replace=False):  # motion artefacts, one reading each
        values[k] = (values[k][0], rng.choice([25.0, 180.0]))
    assert run(det, "heart_rate", values) == []


def test_sustained_low_spo2_alarms_at_exactly_sustain_s():
    rng = np.random.default_rng(4)
    det = VitalsDetector(Clock(T0))
    values = [(t, 96 + rng.normal(0, 0.5)) for t in range(0, 100, 10)]
    values += [(t, 86 + rng.normal(0, 0.8)) for t in range(100, 400, 10)]
    out = run(det, "spo2", values)
    assert [(d.type, d.state, d.t, d.subject) for d in out] == [
        (DetectionType.VITALS, ACTIVE, T0 + 220.0, "resident:7")]
    ev = out[0].evidence
    assert ev["metric"] == "spo2" and ev["range"] == {"low": 90.0, "high": None}
    assert ev["since"] == T0 + 100.0 and ev["duration_s"] == 120.0 and ev["readings_in_run"] == 13
    assert ev["max"] < 90 and ev["readings"][-1]["ts"] == T0 + 220.0
    assert out[0].resident_id == 7 and out[0].room_id == 4 and out[0].device_key == "imei:860000000000001"


def test_one_in_range_reading_restarts_the_sustain_timer():
    det = VitalsDetector(Clock(T0))
    values = [(t, 130.0) for t in range(0, 100, 10)] + [(100, 110.0)] + [(t, 130.0) for t in range(110, 300, 10)]
    assert [d.t for d in run(det, "heart_rate", values)] == [T0 + 230.0]


def test_two_readings_are_needed_however_long_apart():
    det = VitalsDetector(Clock(T0), sustain_s=60.0)
    assert run(det, "heart_rate", [(0, 30.0)]) == []
    assert [d.t for d in run(det, "heart_rate", [(200, 30.0)])] == [T0 + 200.0]


def test_a_gap_longer_than_max_gap_breaks_continuity():
    det = VitalsDetector(Clock(T0))
    assert run(det, "heart_rate", [(0, 30.0), (60, 30.0), (400, 30.0)]) == []  # 340 s unobserved
    assert [d.t for d in run(det, "heart_rate", [(460, 30.0), (520, 30.0)])] == [T0 + 520.0]


def test_recovery_clears_only_past_the_hysteresis_margin_for_clear_s():
    det = VitalsDetector(Clock(T0))
    low = [(t, 85.0) for t in range(0, 130, 10)]  # active at 120
    hovering = [(t, 91.0) for t in range(130, 300, 10)]  # in range, inside the 2 % margin: stays active
    recovered = [(t, 95.0) for t in range(300, 420, 10)]
    out = run(det, "spo2", low + hovering + recovered)
    assert [(d.state, d.t) for d in out] == [(ACTIVE, T0 + 120.0), (CLEARED, T0 + 360.0)]
    ev = out[1].evidence
    assert ev["since"] == T0 + 300.0 and ev["duration_s"] == 60.0 and ev["out_duration_s"] == 300.0
    assert ev["hysteresis"] == 2.0


def test_a_relapse_during_recovery_restarts_the_clear_timer():
    det = VitalsDetector(Clock(T0))
    values = [(t, 150.0) for t in range(0, 130, 10)] + [(t, 80.0) for t in range(130, 170, 10)]
    values += [(170, 118.0)] + [(t, 80.0) for t in range(180, 300, 10)]  # 118: inside range, not the margin
    out = run(det, "heart_rate", values)
    assert [(d.state, d.t) for d in out] == [(ACTIVE, T0 + 120.0), (CLEARED, T0 + 240.0)]


def test_per_resident_range_is_honoured():
    det = VitalsDetector(Clock(T0))
    det.set_range(7, "heart_rate", 35.0, 110.0)  # a resident on beta blockers: bradycardic at rest
    slow = [(t, 38.0) for t in range(0, 300, 10)]
    assert run(det, "heart_rate", slow, resident=7) == []
    assert [d.t for d in run(det, "heart_rate", slow, resident=8)] == [T0 + 120.0]
    fast = [(t, 115.0) for t in range(300, 600, 10)]
    assert [(d.t, d.evidence["range"]) for d in run(det, "heart_rate", fast, resident=7)] == [
        (T0 + 420.0, {"low": 35.0, "high": 110.0})]
    assert det.range_for(8, "heart_rate") == (40.0, 120.0)


def test_constructor_ranges_and_hysteresis_replace_the_defaults():
    det = VitalsDetector(Clock(T0), ranges={"spo2": (92.0, 100.5)}, sustain_s=30.0,
                         clear_hysteresis={"spo2": 1.0}, clear_s=20.0)
    out = run(det, "spo2", [(0, 91.0), (10, 91.0), (20, 91.0), (30, 91.0), (40, 93.5), (50, 93.5), (60, 93.5)])
    assert [(d.state, d.t) for d in out] == [(ACTIVE, T0 + 30.0), (CLEARED, T0 + 60.0)]


def test_no_measurement_values_and_unwatched_metrics_are_ignored():
    det = VitalsDetector(Clock(T0))
    assert run(det, "heart_rate", [(t, 0.0) for t in range(0, 600, 10)]) == []
    assert run(det, "steps", [(t, 0.0) for t in range(0, 600, 10)]) == []


def test_a_device_without_resident_is_watched_by_its_key_with_default_ranges():
    det = VitalsDetector(Clock(T0))
    out = run(det, "heart_rate", [(t, 140.0) for t in range(0, 200, 10)], resident=None, key="imei:9")
    assert [(d.subject, d.t, d.resident_id) for d in out] == [("imei:9", T0 + 120.0, None)]


@pytest.mark.parametrize(("low", "high"), [(120.0, 40.0), (50.0, 50.0), (float("nan"), 100.0),
                                           (float("-inf"), 100.0)])
def test_impossible_ranges_are_refused(low, high):
    det = VitalsDetector(Clock(T0))
    with pytest.raises(ValueError):
        det.set_range(7, "heart_rate", low, high)


def test_spo2_open_upper_limit_and_reset():
    det = VitalsDetector(Clock(T0))
    det.set_range(7, "spo2", 88.0, None)
    assert det.range_for(7, "spo2") == (88.0, float("inf"))
    run(det, "spo2", [(0, 80.0), (60, 80.0)])
    det.reset()
    assert det.states == {}
