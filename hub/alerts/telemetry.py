"""Alert lifecycle points for InfluxDB (measurement `alerts`), so Grafana can chart answer times and outcomes."""

from __future__ import annotations

from collections.abc import Callable

from hub.alerts.models import AlertChange
from hub.telemetry.line_protocol import escape_key, ts_ms

_ANSWERING = (AlertChange.ACKNOWLEDGED, AlertChange.DISPATCHED, AlertChange.RESOLVED)  # changes that may acknowledge

# Personal data stays out of the time series: tags are site, type, priority and device only.
_TAGS = ("site_id", "type", "priority", "device_key")
_TAG_NAMES = {"site_id": "site", "type": "type", "priority": "priority", "device_key": "device"}


def lines_for(alert: dict, change: str) -> list[str]:
    """Return the line-protocol points one alert change contributes (none for most changes)."""
    fields: dict[str, float] = {}
    at = alert.get("updated_at") or alert.get("created_at")
    if change == AlertChange.RAISED:
        fields, at = {"raised": 1.0}, alert["created_at"]
    elif change in _ANSWERING and alert.get("acknowledged_at") and alert["acknowledged_at"] == alert.get("updated_at"):
        # The acknowledgement itself (dispatching or resolving a new alert acknowledges it too).
        answer = alert["acknowledged_at"] - alert["created_at"]
        fields = {"answer_s": answer, "answered_60s": float(answer <= 60), "answered_180s": float(answer <= 180)}
        at = alert["acknowledged_at"]
    if change == AlertChange.ARRIVED and alert.get("arrived_at") and alert.get("dispatched_at"):
        fields, at = {"arrival_s": alert["arrived_at"] - alert["dispatched_at"]}, alert["arrived_at"]
    if change == AlertChange.RESOLVED and alert.get("outcome") not in (None, "restored"):
        fields = {**fields, "resolved": 1.0, "false_alarm": float(alert["outcome"] == "false_alarm")}
    if not fields:
        return []
    if at is None:
        raise ValueError(f"alert {alert.get('id')} has neither updated_at nor created_at")
    tags = "".join(f",{_TAG_NAMES[k]}={escape_key(str(alert[k]))}" for k in _TAGS
                   if alert.get(k) not in (None, ""))
    body = ",".join(f"{k}={v!r}" for k, v in fields.items())
    return [f"alerts{tags} {body} {ts_ms(at)}"]


def make_listener(enqueue_lines: Callable[[list[str]], None]) -> Callable[[dict, str], None]:
    """Return an alert-bus listener that queues each change's points on the telemetry writer."""

    def listener(alert: dict, change: str) -> None:
        lines = lines_for(alert, change)
        if lines:
            enqueue_lines(lines)

    return listener
