"""Default alert priority per type (P1 life, P2 needs a check, P3 device care); Settings may override."""

from __future__ import annotations

from collections.abc import Mapping

DEFAULT_PRIORITIES: dict[str, int] = {
    "sos": 1, "fall": 1, "fire": 1, "gas": 1, "co": 1, "heat": 1,
    "fall_suspected": 2, "fire_suspected": 2, "gas_prealarm": 2, "inactivity": 2, "vitals": 2,
    "missed_checkin": 2,
    "device_offline": 3, "battery_low": 3, "tamper": 3, "not_worn": 3, "fault": 3,
}
# Conditions of one device (each device of a resident has its own), not of the person.
DEVICE_CONDITIONS = frozenset({"device_offline", "battery_low", "tamper", "fault", "not_worn"})
LIFE_SAFETY = 1
DEVICE_CARE = 3


def priority_of(alert_type: str, overrides: Mapping[str, int] | None = None) -> int:
    """Return the priority of `alert_type` (unknown types are P2: someone must look at them)."""
    if overrides and alert_type in overrides:
        return int(overrides[alert_type])
    return DEFAULT_PRIORITIES.get(alert_type, 2)
