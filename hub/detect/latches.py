"""Which device-side conditions are latched (hold until a restore) and when an unrestored one expires.

Many detectors send an alarm and never a restore (NB-IoT smoke and gas alarms, Contact ID panels that
report only new events). A latched condition that never saw its restore must not make its device
silent: it is released when its alert closes, and it expires when no report has said "still active"
for its expiry time. Either way the next alarm from that device is a new detection and, with its alert
closed, a new alert. Docs: docs/detection_fire_vitals.md ("Latched and momentary conditions").
"""

from __future__ import annotations

from collections.abc import Mapping

from device_drivers.model import EventKind
from hub import metrics

# Latched: an ACTIVE event holds until a CLEARED event (a restore), an expiry, or, for alarms, the close
# of its alert. Every other kind is momentary: each ACTIVE or MOMENTARY event is a new occurrence.
LATCHED_KINDS = frozenset({EventKind.SMOKE, EventKind.GAS, EventKind.CO, EventKind.HEAT, EventKind.TAMPER,
                           EventKind.BATTERY_LOW, EventKind.FAULT, EventKind.POWER_LOSS})
# Alarms: closing their alert releases the latch, so the next report from the device raises anew.
# Maintenance conditions (battery, fault, mains) stay latched until restored or expired: a device that
# repeats `battery_low: true` in every report must not reopen the alert an operator just handled.
RELEASED_BY_CLOSE = frozenset({EventKind.SMOKE, EventKind.GAS, EventKind.CO, EventKind.HEAT, EventKind.TAMPER})
LATCHES_EXPIRED = metrics.LATCHES_ENDED.labels("expired")  # counted where a latch expires (engine, fire detector)
# Seconds without a report saying the condition is still active before it expires (Settings.latch_expiry_s).
DEFAULT_EXPIRY_S: dict[str, float] = {
    EventKind.SMOKE: 600.0, EventKind.GAS: 600.0, EventKind.CO: 600.0, EventKind.HEAT: 600.0,
    EventKind.TAMPER: 3600.0, EventKind.BATTERY_LOW: 86_400.0, EventKind.FAULT: 86_400.0,
    EventKind.POWER_LOSS: 86_400.0,
}


def expiry_table(overrides: Mapping[str, float] | None = None) -> dict[EventKind, float]:
    """Return the expiry per latched kind with `overrides` applied; unknown or unlatched kinds are refused."""
    table = {EventKind(k): v for k, v in DEFAULT_EXPIRY_S.items()}
    for name, seconds in (overrides or {}).items():
        try:
            kind = EventKind(name)
        except ValueError:
            raise ValueError(f"latch_expiry_s: {name!r} is not an event kind") from None
        if kind not in LATCHED_KINDS:
            raise ValueError(f"latch_expiry_s: {name!r} is momentary, it has nothing to expire")
        if not seconds > 0:
            raise ValueError(f"latch_expiry_s: {name!r} must be a positive number of seconds")
        table[kind] = float(seconds)
    return table
