"""Duty-room KPIs from the alerts table: answer times and shares against the telecare targets, arrival times,
false-alarm rates; overall, per site and per operator (MISSION rule 3).

`load` is the only database read; the rest are pure functions of the loaded rows and `now`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.alerts.models import Alert, Outcome

# The telecare alarm-centre code of practice: 97.5 % of calls answered within 60 s, 99 % within 180 s.
ANSWER_TARGETS: tuple[tuple[float, float], ...] = ((60.0, 0.975), (180.0, 0.99))
# Outcomes that say nothing about whether the alarm was real: a device that recovered by itself, a test.
NOT_JUDGED = frozenset({Outcome.RESTORED.value, Outcome.TEST.value})


@dataclass(frozen=True, slots=True)
class AlertTimes:
    """The columns of one alert that the KPIs need."""

    id: int
    site_id: int | None
    device_key: str | None
    type: str
    priority: int
    created_at: float
    acknowledged_at: float | None
    acknowledged_by: str | None
    dispatched_at: float | None
    arrived_at: float | None
    resolved_at: float | None
    outcome: str | None


def load(*, db_session: Session, site_ids: frozenset[int] | None, since: float, until: float,
         priorities: Iterable[int] | None = None) -> list[AlertTimes]:
    """Return the alerts raised in [since, until) at `site_ids` (None: every site, alerts without a site too)."""
    query = (select(Alert.id, Alert.site_id, Alert.device_key, Alert.type, Alert.priority, Alert.created_at,
                    Alert.acknowledged_at, Alert.acknowledged_by, Alert.dispatched_at, Alert.arrived_at,
                    Alert.resolved_at, Alert.outcome)
             .where(Alert.created_at >= since, Alert.created_at < until).order_by(Alert.id))
    if site_ids is not None:
        query = query.where(Alert.site_id.in_(sorted(site_ids)))
    if priorities is not None:
        query = query.where(Alert.priority.in_(sorted(set(priorities))))
    # select() types only its first ten columns, and mypy will not spread a part-typed row over AlertTimes.
    rows = cast("Iterable[tuple[Any, ...]]", db_session.execute(query))
    return [AlertTimes(*row) for row in rows]


def percentiles(values: list[float]) -> tuple[float | None, float | None]:
    """Return (p50, p90) by numpy.percentile with method="linear" (Hyndman-Fan type 7); None for no values."""
    if not values:
        return None, None
    p50, p90 = np.percentile(np.asarray(values, dtype=float), [50, 90], method="linear")
    return float(p50), float(p90)


def answer_share(rows: Iterable[AlertTimes], threshold_s: float, target: float, now: float) -> dict:
    """Return the share of alerts acknowledged within `threshold_s` (inclusive) and whether it meets `target`.

    An alert never acknowledged counts as a miss once it is older than the threshold at `now`, and is left
    out while it is younger (it may still be answered in time). An alert the hub resolved as "restored"
    before anyone acknowledged it (a device condition that cleared by itself) needed no answer: left out.
    """
    counted = within = 0
    for row in rows:
        if row.acknowledged_at is None:
            if row.outcome == Outcome.RESTORED.value or now - row.created_at <= threshold_s:
                continue
            counted += 1
            continue
        counted += 1
        if row.acknowledged_at - row.created_at <= threshold_s:
            within += 1
    share = within / counted if counted else None
    return {"threshold_s": threshold_s, "target": target, "counted": counted, "within": within, "share": share,
            "meets_target": None if share is None else share >= target}


def figures(rows: list[AlertTimes], now: float) -> dict:
    """Return answer and arrival figures for one group of alerts (seconds; percentiles as in `percentiles`)."""
    answer = [r.acknowledged_at - r.created_at for r in rows if r.acknowledged_at is not None]
    arrival = [r.arrived_at - r.dispatched_at for r in rows if r.arrived_at is not None and r.dispatched_at is not None]
    ack_p50, ack_p90 = percentiles(answer)
    arr_p50, arr_p90 = percentiles(arrival)
    out: dict[str, Any] = {"alerts": len(rows), "acknowledged": len(answer), "ack_p50_s": ack_p50, "ack_p90_s": ack_p90}
    for threshold_s, target in ANSWER_TARGETS:
        out[f"within_{threshold_s:.0f}s"] = answer_share(rows, threshold_s, target, now)
    out.update({"arrivals": len(arrival), "arrival_p50_s": arr_p50, "arrival_p90_s": arr_p90})
    return out


def false_alarm_rates(rows: Iterable[AlertTimes], name: str,
                      key: Callable[[AlertTimes], Hashable | None]) -> list[dict]:
    """Return false-alarm rates per `key` (shown as `name`): resolved as false_alarm / all resolved.

    The denominator leaves out alerts resolved "restored" or "test" (NOT_JUDGED): they say nothing about
    whether the device raises false alarms. Rows whose key is None (an alert without a device) are skipped.
    """
    resolved: dict[Hashable, int] = defaultdict(int)
    false: dict[Hashable, int] = defaultdict(int)
    for row in rows:
        group = key(row)
        if group is None or row.resolved_at is None or row.outcome is None or row.outcome in NOT_JUDGED:
            continue
        resolved[group] += 1
        if row.outcome == Outcome.FALSE_ALARM.value:
            false[group] += 1
    return [{name: group, "resolved": resolved[group], "false_alarms": false[group],
             "rate": false[group] / resolved[group]} for group in sorted(resolved, key=str)]


def report(rows: list[AlertTimes], now: float) -> dict:
    """Return the KPIs overall, per site, per operator (acknowledged_by), and false-alarm rates per device and type.

    Per operator only the alerts they acknowledged count, so their shares carry no unanswered alerts; those
    count against the site and the overall figures.
    """
    by_site: dict[int | None, list[AlertTimes]] = defaultdict(list)
    by_operator: dict[str, list[AlertTimes]] = defaultdict(list)
    for row in rows:
        by_site[row.site_id].append(row)
        if row.acknowledged_by is not None:
            by_operator[row.acknowledged_by].append(row)
    return {
        "overall": figures(rows, now),
        "by_site": [{"site_id": site, **figures(group, now)}
                    for site, group in sorted(by_site.items(), key=lambda kv: (kv[0] is None, kv[0] or 0))],
        "by_operator": [{"operator": name, **figures(group, now)} for name, group in sorted(by_operator.items())],
        "false_alarms_by_device": false_alarm_rates(rows, "device_key", lambda r: r.device_key),
        "false_alarms_by_type": false_alarm_rates(rows, "type", lambda r: r.type),
    }
