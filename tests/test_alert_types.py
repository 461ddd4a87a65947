"""One alert-type catalogue: every table keyed by alert type agrees with it, and Settings may not invent types."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hub.alerts.types import ALERT_TYPES, CATALOGUE, DEVICE_CONDITIONS, check_keys, priority_of
from hub.detect.detection import DetectionType
from hub.detect.engine import _CONDITIONS, _DEVICE_SIDE, _IMMEDIATE
from hub.ledgers.policy import ALERT_CATEGORY, DEFAULT_ALERT_LEVELS, DEVICE_PROBLEMS, HazardPolicy
from hub.notifications.templates import ADVICE
from hub.workorders.rules import DEFAULT_RULES, Rules

ROOT = Path(__file__).resolve().parents[1]
ADVICE_REASONS = {"help_not_arrived", "call_emergency", "*"}  # escalation reasons, not alert types


def test_every_detection_type_is_an_alert_type_with_a_priority_and_both_names():
    assert ALERT_TYPES == {str(t) for t in DetectionType}
    for alert_type, spec in CATALOGUE.items():
        assert spec.priority in (1, 2, 3), alert_type
        assert set(spec.names) == {"zh-CN", "en"} and all(spec.names.values()), alert_type


def test_every_table_keyed_by_alert_type_uses_catalogue_types():
    assert set(DEFAULT_RULES) == ALERT_TYPES, "every alert type makes a work order (or is switched off in Settings)"
    assert set(DEFAULT_ALERT_LEVELS) <= ALERT_TYPES and set(ALERT_CATEGORY) <= ALERT_TYPES
    assert set(DEFAULT_ALERT_LEVELS) <= set(ALERT_CATEGORY), "a hazard level without a category registers nothing"
    assert DEVICE_PROBLEMS <= DEVICE_CONDITIONS
    for language, advice in ADVICE.items():
        assert set(advice) - ADVICE_REASONS <= ALERT_TYPES, language
    assert {str(t) for t in _DEVICE_SIDE.values()} <= ALERT_TYPES
    assert {str(t) for t in _CONDITIONS} <= DEVICE_CONDITIONS
    assert all(priority_of(str(t)) == 1 or t in (DetectionType.FALL_SUSPECTED, DetectionType.FIRE_SUSPECTED)
               for t in _IMMEDIATE), "only life-safety detections skip the engine's batching"


def test_the_console_names_every_alert_type_in_both_languages():
    source = (ROOT / "dashboards" / "console" / "js" / "i18n.js").read_text(encoding="utf-8")
    blocks = re.findall(r"type:\s*\{(.*?)\}", source, flags=re.S)
    assert len(blocks) == 2, "expected the zh-CN and en enums.type blocks"
    for block in blocks:
        names = set(re.findall(r"(\w+):\s*\"", block))
        assert ALERT_TYPES <= names, sorted(ALERT_TYPES - names)


def test_settings_naming_an_unknown_alert_type_are_refused_with_the_known_ones():
    check_keys({"fall": 1, "device": "orange"}, "hazard_rules", extra=frozenset({"device"}))
    for build in (lambda: Rules.of({"fal": "onsite_check"}), lambda: HazardPolicy.of({"smoke": "red"}),
                  lambda: check_keys({"sos ": 1}, "alert_priorities")):
        with pytest.raises(ValueError, match="unknown alert type"):
            build()
