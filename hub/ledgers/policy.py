"""Hazard defaults: deadline per colour level, which alerts register hazards, which devices are safety devices."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from hub.alerts.types import check_keys
from hub.ledgers.models import HazardCategory, HazardLevel

_L = HazardLevel
DEFAULT_DEADLINES_H: dict[str, float] = {_L.RED: 24.0, _L.ORANGE: 72.0, _L.YELLOW: 168.0, _L.BLUE: 360.0}

# Alarms of a hazard register one at this level in the alert's transaction (rule 5).
# A single smoke alarm (fire_suspected) is a smoke alarm of rule 5: red at once, without waiting for confirmation.
DEFAULT_ALERT_LEVELS: dict[str, str] = {"fire": _L.RED, "fire_suspected": _L.RED, "gas": _L.RED, "co": _L.RED,
                                        "heat": _L.RED, "gas_prealarm": _L.ORANGE}
# A dead or tampered safety device is a hazard of its own (rule 6); the key "device" in hazard_rules sets it.
DEFAULT_DEVICE_LEVEL = _L.ORANGE
DEVICE_PROBLEMS = frozenset({"device_offline", "battery_low", "tamper", "fault"})
SAFETY_DEVICE_CATEGORY: dict[str, HazardCategory] = {
    "smoke_detector": HazardCategory.FIRE, "heat_detector": HazardCategory.FIRE,
    "gas_detector": HazardCategory.GAS, "co_detector": HazardCategory.GAS,
}
ALERT_CATEGORY: dict[str, HazardCategory] = {"fire": HazardCategory.FIRE, "heat": HazardCategory.FIRE,
                                             "fire_suspected": HazardCategory.FIRE, "gas": HazardCategory.GAS,
                                             "gas_prealarm": HazardCategory.GAS, "co": HazardCategory.GAS}


@dataclass(frozen=True, slots=True)
class HazardPolicy:
    """The effective hazard tables (defaults merged with Settings)."""

    alert_levels: Mapping[str, str]
    device_level: str | None
    deadlines_h: Mapping[str, float]

    @classmethod
    def of(cls, rules: Mapping[str, str] | None = None, deadlines_h: Mapping[str, float] | None = None
           ) -> HazardPolicy:
        """Merge Settings.hazard_rules and hazard_deadlines_h onto the defaults ("" switches a rule off)."""
        rules = dict(rules or {})
        check_keys(rules, "hazard_rules", extra=frozenset({"device"}))
        device = rules.pop("device", DEFAULT_DEVICE_LEVEL)
        levels = {k: v for k, v in {**DEFAULT_ALERT_LEVELS, **rules}.items() if v}
        deadlines = {**DEFAULT_DEADLINES_H, **(deadlines_h or {})}
        deadlines.setdefault("green", deadlines[_L.BLUE])
        return cls(alert_levels=levels, device_level=device or None, deadlines_h=deadlines)

    def deadline_s(self, level: str) -> float:
        """Return how long a hazard of `level` may take to rectify, in seconds."""
        return float(self.deadlines_h[level]) * 3600.0
