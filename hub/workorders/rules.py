"""Which alert makes which work order, who may take it, and its SLA; Settings override each table key by key."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from hub.alerts.types import check_keys
from hub.workorders.models import WorkOrderType

_T = WorkOrderType
DEFAULT_RULES: dict[str, str] = {
    "sos": _T.ONSITE_CHECK, "fall": _T.ONSITE_CHECK, "fall_suspected": _T.ONSITE_CHECK,
    "fire": _T.SAFETY_CHECK, "fire_suspected": _T.SAFETY_CHECK, "gas": _T.SAFETY_CHECK,
    "gas_prealarm": _T.SAFETY_CHECK, "co": _T.SAFETY_CHECK, "heat": _T.SAFETY_CHECK,
    "inactivity": _T.PHONE_CHECK, "missed_checkin": _T.PHONE_CHECK, "not_worn": _T.PHONE_CHECK,
    "device_offline": _T.MAINTENANCE, "battery_low": _T.MAINTENANCE, "tamper": _T.MAINTENANCE,
    "fault": _T.MAINTENANCE,
    "vitals": _T.MEDICAL_FOLLOW_UP,
}

# Staff roles (hub.devices.models.StaffRole) suggested for each order type, in order of preference.
ROLES: dict[str, list[str]] = {
    _T.ONSITE_CHECK: ["caregiver", "responder"],
    _T.SAFETY_CHECK: ["safety_officer", "responder"],
    _T.PHONE_CHECK: ["caregiver", "operator", "grid_worker"],
    _T.MAINTENANCE: ["responder", "safety_officer", "grid_worker"],
    _T.MEDICAL_FOLLOW_UP: ["caregiver"],
    _T.SERVICE: ["caregiver", "responder", "grid_worker"],
}

TITLES: dict[str, str] = {
    _T.ONSITE_CHECK: "上门查看 on-site check",
    _T.SAFETY_CHECK: "安全员到场排查与疏散 safety check and evacuation",
    _T.PHONE_CHECK: "电话确认，未接通则上门 phone check, then visit",
    _T.MAINTENANCE: "设备维修 device maintenance",
    _T.MEDICAL_FOLLOW_UP: "健康随访 medical follow-up",
    _T.SERVICE: "服务 service",
}

_MIN, _H = 60.0, 3600.0
# [accept within, finish within] seconds, looked up by "type:pN", then "type", then "pN", then "default".
DEFAULT_SLA: dict[str, list[float]] = {
    "p1": [5 * _MIN, 1 * _H],
    "p2": [30 * _MIN, 4 * _H],
    "p3": [4 * _H, 72 * _H],
    f"{_T.SAFETY_CHECK}:p1": [5 * _MIN, 2 * _H],
    f"{_T.MAINTENANCE}": [8 * _H, 72 * _H],
    f"{_T.MEDICAL_FOLLOW_UP}": [2 * _H, 24 * _H],
    "default": [1 * _H, 24 * _H],
}


@dataclass(frozen=True, slots=True)
class Rules:
    """The effective rule tables (defaults merged with Settings)."""

    orders: Mapping[str, str]
    sla: Mapping[str, list[float]]

    @classmethod
    def of(cls, orders: Mapping[str, str] | None = None, sla: Mapping[str, list[float]] | None = None) -> Rules:
        """Merge overrides onto the defaults; an empty order type switches a rule off."""
        check_keys(orders or {}, "workorder_rules")
        merged = {**DEFAULT_RULES, **(orders or {})}
        return cls(orders={k: v for k, v in merged.items() if v}, sla={**DEFAULT_SLA, **(sla or {})})

    def order_type(self, alert_type: str) -> WorkOrderType | None:
        """Return the order type an alert of `alert_type` creates (None: no order)."""
        value = self.orders.get(alert_type)
        return WorkOrderType(value) if value else None

    def sla_for(self, order_type: str, priority: int) -> tuple[float, float]:
        """Return (accept within, finish within) seconds for an order of this type and priority."""
        for key in (f"{order_type}:p{priority}", order_type, f"p{priority}", "default"):
            if key in self.sla:
                accept_s, finish_s = self.sla[key]
                return float(accept_s), float(finish_s)
        raise KeyError("no default SLA")
