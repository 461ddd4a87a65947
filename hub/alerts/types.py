"""The alert-type catalogue: every type an alert can have, its default priority, scope and names.

An alert's type is the type of the detection that raised it (hub.detect.detection.DetectionType).
Every other table keyed by alert type (work-order rules, hazard levels, message advice, the console's
labels) must use only these keys; tests/test_alert_types.py checks that they agree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from hub.detect.detection import DetectionType as T

LIFE_SAFETY = 1  # P1: a life may be at stake
NEEDS_CHECK = 2  # P2: someone must look
DEVICE_CARE = 3  # P3: a device needs care


@dataclass(frozen=True, slots=True)
class AlertTypeSpec:
    """What the hub knows of one alert type."""

    priority: int
    names: Mapping[str, str]  # language -> name shown in messages
    device_condition: bool = False  # a condition of one device (each device of a resident has its own alert)


CATALOGUE: dict[str, AlertTypeSpec] = {
    T.SOS: AlertTypeSpec(LIFE_SAFETY, {"zh-CN": "一键呼叫", "en": "SOS call"}),
    T.FALL: AlertTypeSpec(LIFE_SAFETY, {"zh-CN": "跌倒", "en": "Fall"}),
    T.FIRE: AlertTypeSpec(LIFE_SAFETY, {"zh-CN": "火警", "en": "Fire alarm"}),
    T.GAS: AlertTypeSpec(LIFE_SAFETY, {"zh-CN": "燃气泄漏", "en": "Gas leak"}),
    T.CO: AlertTypeSpec(LIFE_SAFETY, {"zh-CN": "一氧化碳报警", "en": "Carbon monoxide alarm"}),
    T.HEAT: AlertTypeSpec(LIFE_SAFETY, {"zh-CN": "高温报警", "en": "Heat alarm"}),
    T.FALL_SUSPECTED: AlertTypeSpec(NEEDS_CHECK, {"zh-CN": "疑似跌倒", "en": "Suspected fall"}),
    T.FIRE_SUSPECTED: AlertTypeSpec(NEEDS_CHECK, {"zh-CN": "疑似火情", "en": "Suspected fire"}),
    T.GAS_PREALARM: AlertTypeSpec(NEEDS_CHECK, {"zh-CN": "燃气浓度预警", "en": "Gas pre-alarm"}),
    T.INACTIVITY: AlertTypeSpec(NEEDS_CHECK, {"zh-CN": "长时间无活动", "en": "No activity for too long"}),
    T.VITALS: AlertTypeSpec(NEEDS_CHECK, {"zh-CN": "生命体征异常", "en": "Abnormal vital signs"}),
    T.MISSED_CHECKIN: AlertTypeSpec(NEEDS_CHECK, {"zh-CN": "未按时报平安", "en": "Missed daily check-in"}),
    T.DEVICE_OFFLINE: AlertTypeSpec(DEVICE_CARE, {"zh-CN": "设备离线", "en": "Device offline"}, True),
    T.BATTERY_LOW: AlertTypeSpec(DEVICE_CARE, {"zh-CN": "设备电量低", "en": "Device battery low"}, True),
    T.TAMPER: AlertTypeSpec(DEVICE_CARE, {"zh-CN": "设备被拆动", "en": "Device tampered"}, True),
    T.NOT_WORN: AlertTypeSpec(DEVICE_CARE, {"zh-CN": "手环未佩戴", "en": "Wristband not worn"}, True),
    T.FAULT: AlertTypeSpec(DEVICE_CARE, {"zh-CN": "设备故障", "en": "Device fault"}, True),
}
ALERT_TYPES = frozenset(CATALOGUE)
DEVICE_CONDITIONS = frozenset(t for t, spec in CATALOGUE.items() if spec.device_condition)


def priority_of(alert_type: str, overrides: Mapping[str, int] | None = None) -> int:
    """Return the priority of `alert_type`, Settings overrides first (an unknown type is P2: someone must look)."""
    if overrides and alert_type in overrides:
        return int(overrides[alert_type])
    spec = CATALOGUE.get(alert_type)
    return spec.priority if spec is not None else NEEDS_CHECK


def type_name(alert_type: str, language: str) -> str:
    """Return the name of `alert_type` in `language` (the type itself when the catalogue has none)."""
    spec = CATALOGUE.get(alert_type)
    return spec.names.get(language, alert_type) if spec is not None else alert_type


def check_keys(table: Mapping[str, object], setting: str, *, extra: frozenset[str] = frozenset()) -> None:
    """Refuse a Settings table keyed by alert type that names a type the catalogue does not know."""
    unknown = sorted(set(table) - ALERT_TYPES - extra)
    if unknown:
        raise ValueError(f"{setting}: unknown alert type(s) {', '.join(unknown)}; "
                         f"known: {', '.join(sorted(ALERT_TYPES))}")
