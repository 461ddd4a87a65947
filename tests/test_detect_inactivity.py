"""Inactivity / not_worn / missed_checkin: seeded synthetic routines pin where the detector fires.

Method: hub.detect.inactivity (per-hour gap-age thresholds, median + k * MADn or a high quantile).
A fake clock steps through simulated time and `tick()` runs every 60 s, as the hub would.
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from hub.detect.detection import Detection, DetectionState, DetectionType
from hub.detect.inactivity import InactivityDetector, InactivityParams

TZ = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 3, 2, tzinfo=TZ).timestamp()  # a Monday, local midnight; no DST in this zone
M, H, DAY = 60.0, 3600.0, 86400.0
TICK = 60.0
GAP_S = 5 * H  # the injected daytime gap

Event = tuple[float, object, str, object]


class Clock:
    """A fake clock the tests move forward."""

    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def routine(seed: int, days: int, rid: object = 1, *, gap_day: int | None = None, gap_start: float = 10 * H,
            no_wake_day: int | None = None) -> list[Event]:
    """Return a resident's events for `days` days from T0: (t, resident, kind, arg), sorted.

    Wake 07:00 +- 30 min, activity every 2-10 min, a 30-90 min nap after lunch, two 20-50 min TV
    spells, bed 22:30 +- 20 min, a night bathroom visit on 40 % of nights, an outing (door + away)
    on 35 % of days. `gap_day` removes activity for GAP_S from `gap_start` (local time of day) and
    has no outing; the random draws do not depend on it, so the routine is otherwise the same.
    """
    rng = np.random.default_rng(seed)
    events: list[Event] = []
    for d in range(days):
        mid = T0 + d * DAY
        day: list[Event] = []
        bathroom = rng.random() < 0.4
        b = mid + rng.uniform(1 * H, 4.5 * H)
        if d > 0 and bathroom:
            day += [(b, rid, "act", "motion"), (b + 180, rid, "act", "motion")]
        wake = mid + 7 * H + rng.uniform(-30, 30) * M
        bed = mid + 22.5 * H + rng.uniform(-20, 20) * M
        nap0 = mid + 13 * H + rng.uniform(0, 45) * M
        quiet = [(nap0, nap0 + rng.uniform(30, 90) * M)]
        for _ in range(2):
            q0 = mid + rng.uniform(15.5 * H, 21 * H)
            quiet.append((q0, q0 + rng.uniform(20, 50) * M))
        goes_out = rng.random() < 0.35
        o0 = mid + (rng.uniform(9 * H, 10.5 * H) if rng.random() < 0.5 else rng.uniform(15 * H, 16 * H))
        o1 = o0 + rng.uniform(60, 180) * M
        ts = []
        t = wake
        while t < bed:
            ts.append(t)
            t += rng.uniform(2, 10) * M
        ts.append(bed)
        sources = rng.choice(["motion", "presence", "steps", "door"], size=len(ts), p=[0.6, 0.2, 0.15, 0.05])
        acts = [(x, src) for x, src in zip(ts, sources, strict=True) if not any(a <= x < e for a, e in quiet)]
        acts += [(e, "motion") for _, e in quiet if wake < e < bed]
        if goes_out and d != gap_day:
            acts = [(x, src) for x, src in acts if not o0 <= x < o1 + 30]
            day += [(o0, rid, "act", "door"), (o0 + 60, rid, "away", True), (o1, rid, "away", False),
                    (o1 + 30, rid, "act", "door")]
        if gap_day == d:
            acts = [(x, src) for x, src in acts if not mid + gap_start <= x < mid + gap_start + GAP_S]
        if no_wake_day == d:
            acts = [(x, src) for x, src in acts if x >= mid + 12 * H]
            day = [e for e in day if e[0] >= mid + 12 * H]
        day += [(x, rid, "act", str(src)) for x, src in acts]
        events += day
    events.sort(key=lambda e: e[0])
    return events


def apply(det: InactivityDetector, event: Event) -> list[Detection]:
    """Feed one routine event to the detector."""
    t, rid, kind, arg = event
    if kind == "act":
        return det.activity(rid, t, str(arg))
    if kind == "away":
        return det.set_away(rid, bool(arg), t)
    if kind == "wear":
        moving, hr = arg  # type: ignore[misc]
        return det.wear(rid, t, moving=moving, heart_rate_present=hr)
    if kind == "checkin":
        return det.checkin(rid, t)
    raise ValueError(kind)


def run(det: InactivityDetector, clock: Clock, events: list[Event], t0: float, t1: float) -> list[Detection]:
    """Feed events in time order and tick every TICK seconds of simulated time in [t0, t1]."""
    out: list[Detection] = []
    i = 0
    while i < len(events) and events[i][0] < t0:
        i += 1
    t = t0
    while t <= t1:
        while i < len(events) and events[i][0] <= t:
            clock.t = events[i][0]
            out += apply(det, events[i])
            i += 1
        clock.t = t
        out += det.tick()
        t += TICK
    return out


def make(t: float = T0, **overrides: object) -> tuple[InactivityDetector, Clock]:
    """Return a detector on a fake clock set to `t`."""
    clock = Clock(t)
    return InactivityDetector(clock, capacity=8, tz="Asia/Shanghai", **overrides), clock


def of(dets: list[Detection], kind: DetectionType, state: DetectionState = DetectionState.ACTIVE) -> list[Detection]:
    """Return the detections of one type and state."""
    return [d for d in dets if d.type == kind and d.state == state]


def local_hour(t: float) -> int:
    """Return the local hour of an instant."""
    return datetime.fromtimestamp(t, TZ).hour


def threshold_curve(table: list[float | None], t: float, p: InactivityParams) -> float:
    """Return the day-gap threshold at t: hourly values at hour midpoints joined linearly (own code)."""
    values = [x if x is not None else p.default_daytime_s for x in table[:24]]
    x = (t - T0) % DAY / H  # local hours: fixed-offset zone and T0 is a local midnight
    h = int(x)
    assert not p.is_night(h), "day gaps only"
    other = (h + 1 if x >= h + 0.5 else h - 1) % 24
    if p.is_night(other):
        return values[h]
    return values[h] + abs(x - h - 0.5) * (values[other] - values[h])


# ----------------------------------------------------------------- the 14-day routine


def test_normal_fourteen_days_raise_nothing_for_eight_residents() -> None:
    det, clock = make()
    events = sorted((e for rid in range(8) for e in routine(20 + rid, 14, rid)), key=lambda e: e[0])
    started = time.process_time()
    dets = run(det, clock, events, T0, T0 + 14 * DAY)
    cpu = time.process_time() - started
    assert dets == []
    assert cpu < 5.0, f"14 days x 8 residents took {cpu:.2f} s CPU"
    # the baseline is learned: every daytime hour has a threshold; nights have none (sleep rule);
    # the up-by time lies after the latest wake-up of the routine (07:30)
    for rid in range(8):
        table = det.baseline(rid, T0 + 14 * DAY)["threshold"]
        assert all(2 * H <= table[h] <= 12 * H for h in range(8, 22))
        assert all(table[h] is None for h in (22, 23, 0, 1, 2, 3, 4, 5, 6))
        assert 7.5 * H < table[24] < 10 * H


@pytest.mark.parametrize(("seed", "gap_start"), [(7, 10 * H), (8, 10 * H), (11, 12.75 * H), (12, 16 * H)])
def test_injected_five_hour_gap_fires_within_fifteen_minutes_of_learned_threshold(seed: int,
                                                                                  gap_start: float) -> None:
    det, clock = make()
    events = routine(seed, 15, 1, gap_day=14, gap_start=gap_start)
    dets = run(det, clock, events, T0, T0 + 15 * DAY)
    fired = of(dets, DetectionType.INACTIVITY)
    assert len(fired) == 1
    d = fired[0]
    ev = d.evidence
    day14 = T0 + 14 * DAY
    assert day14 + gap_start - 1.5 * H < ev["last_activity_t"] < day14 + gap_start
    assert ev["basis"] == "learned_hour" and ev["history_days"] >= 7 and not ev["sleep_gap"]
    # the threshold in force is the learned one of the hour where the gap crossed it
    table = det.baseline(1, ev["last_activity_t"])["threshold"]
    # fired where the gap age first met the threshold curve: equal there, below it every minute before
    a = ev["last_activity_t"]
    assert d.t - a == pytest.approx(threshold_curve(table, d.t, det.params), abs=1e-3)
    assert ev["threshold_s"] == pytest.approx(d.t - a, abs=1e-3)
    assert all(t - a < threshold_curve(table, t, det.params) for t in np.arange(a + M, d.t - 1.0, M))
    lag = ev["detected_at"] - (ev["last_activity_t"] + ev["threshold_s"])
    assert 0.0 <= lag <= 15 * M
    assert ev["detected_at"] - d.t < TICK
    assert d.t < day14 + gap_start + GAP_S and d.subject == "resident:1" and d.resident_id == 1
    cleared = of(dets, DetectionType.INACTIVITY, DetectionState.CLEARED)
    assert len(cleared) == 1 and cleared[0].t >= day14 + gap_start + GAP_S
    assert cleared[0].evidence["reason"] == "activity"


@pytest.mark.parametrize("seed", [7, 8])
def test_resident_not_up_in_the_morning_fires_at_the_learned_up_by_time(seed: int) -> None:
    det, clock = make()
    events = routine(seed, 15, 1, no_wake_day=14)
    dets = run(det, clock, events, T0, T0 + 14 * DAY + 12 * H)
    fired = of(dets, DetectionType.INACTIVITY)
    assert len(fired) == 1
    d = fired[0]
    ev = d.evidence
    assert ev["basis"] == "learned_wake" and ev["sleep_gap"] and ev["history_days"] >= 7
    # up by = max(median + 3 MADn, 90th percentile) of the wake-up times + 30 min, local time of day
    up_by = max(ev["median_s"] + 3 * ev["madn_s"], ev["quantile_s"]) + 30 * M
    assert ev["up_by_s"] == pytest.approx(up_by)
    assert d.t == pytest.approx(T0 + 14 * DAY + up_by)
    assert 7.5 * H < up_by < 10 * H  # after the latest wake-up of the routine, before mid-morning
    assert 0 <= ev["detected_at"] - d.t < TICK


def with_history(hours: dict[int, float], wake_s: float | None, days: int = 7) -> tuple[InactivityDetector, Clock]:
    """Return a detector whose resident 1 has `days` identical learned days, loaded via restore."""
    det, clock = make(T0 + days * DAY)
    det.register(1)
    snap = det.snapshot()
    day0 = datetime.fromtimestamp(T0, TZ).toordinal()
    row = [hours.get(h, 600.0) if not det.params.is_night(h) else None for h in range(24)] + [wake_s]
    snap["residents"][0]["history"] = [[day0 + d, row] for d in range(days)]
    det.restore(json.loads(json.dumps(snap)))
    return det, clock


def test_threshold_curve_pins_the_crossing_between_hour_midpoints() -> None:
    # hour 14 learned 3 h every day -> 3.5 h (3 h + 30 min margin); every other day hour -> the 2 h floor.
    # Midpoints 13:30 = 2 h, 14:30 = 3.5 h, 15:30 = 2 h: a gap from 12:00 (age t - 12) meets the falling
    # piece 3.5 - 1.5 (t - 14.5) at t = 14.9 h = 14:54, not at the 15:00 hour boundary.
    det, clock = with_history({14: 3 * H}, 7 * H)
    day = T0 + 7 * DAY
    assert det.baseline(1, day)["threshold"][13:16] == [2 * H, 3.5 * H, 2 * H]
    dets = run(det, clock, [(day + 12 * H, 1, "act", "motion")], day, day + 18 * H)
    fired = of(dets, DetectionType.INACTIVITY)
    assert [d.t for d in fired] == [pytest.approx(day + 14.9 * H)]
    ev = fired[0].evidence
    assert ev["threshold_s"] == pytest.approx(2.9 * H) and ev["hour"] == 14
    assert (ev["basis"], ev["history_days"], ev["median_s"], ev["madn_s"]) == ("learned_hour", 7, 3 * H, 0.0)


def test_learned_wake_time_pins_the_sleep_gap() -> None:
    det, clock = with_history({}, 7 * H)  # up at 07:00 every day -> up by 07:30
    day = T0 + 7 * DAY
    events: list[Event] = [(day + 22.5 * H, 1, "act", "motion"), (day + DAY + 3 * H, 1, "act", "motion")]
    dets = run(det, clock, events, day, day + DAY + 12 * H)
    fired = of(dets, DetectionType.INACTIVITY)
    assert [d.t for d in fired] == [day + DAY + 7.5 * H]  # the 03:00 bathroom visit does not move it
    ev = fired[0].evidence
    assert ev["basis"] == "learned_wake" and ev["up_by_local"] == "07:30" and ev["sleep_gap"]
    assert ev["threshold_s"] == 4.5 * H and ev["last_activity_t"] == day + DAY + 3 * H


# ----------------------------------------------------------------- defaults, away


def test_before_history_the_four_hour_daytime_default_applies_exactly() -> None:
    det, clock = make()
    events: list[Event] = [(T0 + 9 * H, 1, "act", "motion")]
    dets = run(det, clock, events, T0, T0 + 16 * H)
    fired = of(dets, DetectionType.INACTIVITY)
    assert len(fired) == 1
    assert fired[0].t == T0 + 13 * H
    assert fired[0].evidence["detected_at"] == T0 + 13 * H
    assert fired[0].evidence["basis"] == "default_day"
    assert fired[0].evidence["threshold_s"] == 4 * H and fired[0].evidence["history_days"] == 0
    # fired once per gap, cleared when activity resumes
    clock.t = T0 + 16 * H + 30
    cleared = det.activity(1, clock.t, "door")
    assert [c.state for c in cleared] == [DetectionState.CLEARED]
    assert cleared[0].evidence["gap_s"] == pytest.approx(7 * H + 30)


@pytest.mark.parametrize(("last_h", "fire_h"), [
    (22.5, 24 + 8.5),  # bedtime 22:30: 10 h night default
    (24 + 3, 24 + 11),  # last seen 03:00: 4 h after the night ends (07:00)
    (20, 24 + 6),  # day gap from 20:00 runs into the night: 10 h after 20:00
])
def test_before_history_a_sleep_gap_uses_the_night_defaults(last_h: float, fire_h: float) -> None:
    det, clock = make()
    events: list[Event] = [(T0 + last_h * H, 1, "act", "motion")]
    dets = run(det, clock, events, T0, T0 + DAY + 14 * H)
    fired = of(dets, DetectionType.INACTIVITY)
    assert [d.t for d in fired] == [T0 + fire_h * H]
    assert fired[0].evidence["basis"] == "default_night" and fired[0].evidence["sleep_gap"]


def test_away_suppresses_and_return_restarts_the_gap() -> None:
    det, clock = make()
    events: list[Event] = [(T0 + 9 * H, 1, "act", "door"), (T0 + 9 * H + 60, 1, "away", True),
                           (T0 + 16 * H, 1, "away", False)]
    dets = run(det, clock, events, T0, T0 + 21 * H)
    fired = of(dets, DetectionType.INACTIVITY)
    assert [d.t for d in fired] == [T0 + 20 * H]
    assert fired[0].evidence["last_activity_source"] == "return"


def test_going_away_clears_an_active_inactivity() -> None:
    det, clock = make()
    dets = run(det, clock, [(T0 + 9 * H, 1, "act", "motion")], T0, T0 + 14 * H)
    assert len(of(dets, DetectionType.INACTIVITY)) == 1
    cleared = det.set_away(1, True, T0 + 14 * H)
    assert len(cleared) == 1 and cleared[0].evidence["reason"] == "away"
    clock.t = T0 + 23 * H
    assert det.tick() == []


# ----------------------------------------------------------------- wristband


def wristband(rid: object, t0: float, t1: float, *, moving: bool, hr: bool, every: float = 60.0) -> list[Event]:
    """Return periodic wristband reports in [t0, t1)."""
    return [(t, rid, "wear", (moving, hr)) for t in np.arange(t0, t1, every)]


def test_wristband_taken_off_is_not_worn_not_inactivity() -> None:
    det, clock = make()
    events = (wristband(1, T0 + 7 * H, T0 + 8 * H, moving=True, hr=True)
              + wristband(1, T0 + 8 * H, T0 + 11 * H, moving=False, hr=False)
              + wristband(1, T0 + 11 * H, T0 + 20 * H, moving=False, hr=True))
    dets = run(det, clock, sorted(events, key=lambda e: e[0]), T0, T0 + 20 * H)
    nw = of(dets, DetectionType.NOT_WORN)
    assert [d.t for d in nw] == [T0 + 8 * H + 30 * M]
    assert nw[0].evidence["suppresses_inactivity"] is True
    assert [d.t for d in of(dets, DetectionType.NOT_WORN, DetectionState.CLEARED)] == [T0 + 11 * H]
    # back on at 11:00 (an action of the resident), then worn but still: that gap is real inactivity
    fired = of(dets, DetectionType.INACTIVITY)
    assert [d.t for d in fired] == [T0 + 15 * H]
    assert fired[0].evidence["last_activity_source"] == "wristband_on"


def test_wristband_off_for_hours_raises_no_inactivity() -> None:
    det, clock = make()
    events = (wristband(1, T0 + 7 * H, T0 + 8 * H, moving=True, hr=True)
              + wristband(1, T0 + 8 * H, T0 + 20 * H, moving=False, hr=False))
    dets = run(det, clock, sorted(events, key=lambda e: e[0]), T0, T0 + 20 * H)
    assert [d.type for d in dets] == [DetectionType.NOT_WORN]


def test_wristband_off_while_presence_shows_activity_is_not_worn_only() -> None:
    det, clock = make()
    events = (wristband(1, T0 + 7 * H, T0 + 8 * H, moving=True, hr=True)
              + wristband(1, T0 + 8 * H, T0 + 20 * H, moving=False, hr=False)
              + [(t, 1, "act", "presence") for t in np.arange(T0 + 7 * H, T0 + 20 * H, 10 * M)])
    dets = run(det, clock, sorted(events, key=lambda e: e[0]), T0, T0 + 20 * H)
    assert [d.type for d in dets] == [DetectionType.NOT_WORN]
    assert dets[0].evidence["suppresses_inactivity"] is False


def test_no_reports_at_all_is_not_not_worn() -> None:
    det, clock = make()
    dets = run(det, clock, wristband(1, T0 + 7 * H, T0 + 8 * H, moving=True, hr=True), T0, T0 + 10 * H)
    assert of(dets, DetectionType.NOT_WORN) == []


# ----------------------------------------------------------------- daily check-in


def test_missed_checkin_fires_at_the_deadline_exactly() -> None:
    det, clock = make()
    det.register(1, site_id=3, room_id=12)
    det.set_checkin(1, "10:00")  # enrolled at day 0 00:00: first enforced deadline is day 1 10:00
    events: list[Event] = [(T0 + DAY + 8.5 * H, 1, "checkin", None),
                           (T0 + 2 * DAY + 10 * H + 20 * M, 1, "checkin", None)]
    dets = run(det, clock, events, T0, T0 + 3 * DAY + 12 * H)
    missed = of(dets, DetectionType.MISSED_CHECKIN)
    assert [d.t for d in missed] == [T0 + 2 * DAY + 10 * H]
    assert missed[0].evidence["detected_at"] == T0 + 2 * DAY + 10 * H
    assert missed[0].evidence["last_checkin_t"] == T0 + DAY + 8.5 * H
    assert (missed[0].site_id, missed[0].room_id, missed[0].resident_id) == (3, 12, 1)
    late = of(dets, DetectionType.MISSED_CHECKIN, DetectionState.CLEARED)
    assert [d.t for d in late] == [T0 + 2 * DAY + 10 * H + 20 * M]
    # the late press of day 2 falls in the 24 h window of day 3's deadline: no miss on day 3


def test_checkin_window_and_away_at_deadline() -> None:
    det, clock = make()
    det.set_checkin(1, "10:00", window_s=4 * H)  # check in between 06:00 and 10:00
    events: list[Event] = [(T0 + 5 * H, 1, "checkin", None),  # too early for day 0's window
                           (T0 + DAY + 7 * H, 1, "checkin", None),
                           (T0 + 2 * DAY + 9 * H, 1, "away", True)]
    dets = run(det, clock, events, T0, T0 + 3 * DAY)
    assert [d.t for d in of(dets, DetectionType.MISSED_CHECKIN)] == [T0 + 10 * H]


def test_checkin_deadline_is_local_wall_clock_across_dst() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    start = datetime(2026, 3, 27, tzinfo=berlin).timestamp()  # clocks go forward on Sunday 29 March
    clock = Clock(start)
    det = InactivityDetector(clock, capacity=2, tz="Europe/Berlin")
    det.set_checkin(1, "10:00")
    dets = run(det, clock, [], start, start + 3 * DAY)
    missed = of(dets, DetectionType.MISSED_CHECKIN)
    assert [datetime.fromtimestamp(d.t, berlin).strftime("%d %H:%M") for d in missed] == ["28 10:00", "29 10:00"]
    assert missed[1].t - missed[0].t == 23 * H


# ----------------------------------------------------------------- persistence, state


def test_snapshot_restore_mid_gap_fires_at_the_same_time() -> None:
    events = routine(11, 11, 1, gap_day=10)
    restart = T0 + 10 * DAY + 11.5 * H
    end = T0 + 10 * DAY + 16 * H

    ref, ref_clock = make()
    ref_dets = run(ref, ref_clock, events, T0, end)

    det, clock = make()
    before = run(det, clock, events, T0, restart)
    saved = json.dumps(det.snapshot())
    restored, clock2 = make(restart + TICK)
    restored.restore(json.loads(saved))
    after = run(restored, clock2, events, restart + TICK, end)

    fired_ref = of(ref_dets, DetectionType.INACTIVITY)
    fired = of(before + after, DetectionType.INACTIVITY)
    assert len(fired_ref) == 1 and of(before, DetectionType.INACTIVITY) == []
    assert fired == fired_ref
    assert restored.baseline(1, restart) == ref.baseline(1, restart)


def test_snapshot_restore_keeps_an_open_alarm_and_checkin_state() -> None:
    det, clock = make()
    det.set_checkin(1, "10:00")
    run(det, clock, [(T0 + 9 * H, 1, "act", "motion")], T0, T0 + 14 * H)
    restored, clock2 = make(T0 + 14 * H)
    restored.restore(json.loads(json.dumps(det.snapshot())))
    assert restored.state(1)["fired"] is True
    assert restored.state(1)["checkin_next_t"] == T0 + DAY + 10 * H
    cleared = restored.activity(1, T0 + 14 * H + 5, "motion")
    assert [c.state for c in cleared] == [DetectionState.CLEARED]


def test_state_size_reset_and_capacity() -> None:
    det, clock = make()
    assert det.state_bytes_per_resident() < 4096
    run(det, clock, [(T0 + 9 * H, 1, "act", "motion")], T0, T0 + 10 * H)
    det.reset(1)
    clock.t = T0 + 20 * H
    assert det.tick() == [] and det.state(1)["open"] is False
    for rid in range(2, 9):
        det.slot(rid)
    with pytest.raises(RuntimeError):
        det.slot(99)
    det.release(2)
    det.slot(99)


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(ValueError):
        InactivityParams(daytime_floor_s=13 * H)
    with pytest.raises(ValueError):
        InactivityParams(min_history_days=30)
    with pytest.raises(ValueError):
        make()[0].activity(1, T0, "teleport")
