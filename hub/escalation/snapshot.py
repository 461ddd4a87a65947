"""The escalation snapshot: a policy frozen onto one alert when its escalation starts (typed, JSON in the row).

Policies speak the people's vocabulary (notify the on-duty operator, the family, call emergency);
a snapshot speaks the engine's: each family step is already one step per contact, supervisor and
on-duty steps are staff steps with a role. Later edits of the policy never change a running escalation.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Action(StrEnum):
    """What one frozen step does."""

    WAIT = "wait"
    NOTIFY_STAFF = "notify_staff"
    NOTIFY_CONTACT = "notify_contact"
    CALL_EMERGENCY = "call_emergency"
    REPEAT = "repeat"


# The parameter each action keeps in the stored JSON (the row's shape is unchanged since the first release).
_PARAMS: dict[Action, tuple[str, ...]] = {
    Action.WAIT: ("seconds",), Action.NOTIFY_STAFF: ("role",), Action.NOTIFY_CONTACT: ("contact_id",),
    Action.CALL_EMERGENCY: ("number",), Action.REPEAT: ("times",),
}


@dataclass(frozen=True, slots=True)
class FrozenStep:
    """One step of a snapshot; only the field of its action is meaningful."""

    action: Action
    seconds: float = 0.0
    role: str = "operator"
    contact_id: int | None = None
    number: str = "120"
    times: int = 1

    def to_json(self) -> dict[str, Any]:
        """Return the step as stored: its action and that action's parameter."""
        return {"action": self.action.value, **{name: getattr(self, name) for name in _PARAMS[self.action]}}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FrozenStep:
        """Rebuild a stored step (an unknown action raises ValueError)."""
        action = Action(data["action"])
        values: dict[str, Any] = {name: data[name] for name in _PARAMS[action] if data.get(name) is not None}
        if "seconds" in values:
            values["seconds"] = float(values["seconds"])
        if "times" in values:
            values["times"] = int(values["times"])
        if "number" in values:
            values["number"] = str(values["number"])
        return cls(action=action, **values)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A policy frozen for one run of one alert's escalation, and how far its repeats have gone."""

    policy: str
    policy_id: int | None
    reason: str
    run: int
    started_at: float
    steps: tuple[FrozenStep, ...]
    repeats_done: int = 0
    help_not_arrived_for: float | None = None  # the dispatch whose missed arrival restarted this run

    def replace(self, **changes: Any) -> Snapshot:
        """Return a copy with `changes` (snapshots are frozen)."""
        return dataclasses.replace(self, **changes)

    def to_json(self) -> dict[str, Any]:
        """Return the snapshot as stored in `alerts.escalation`."""
        data: dict[str, Any] = {"policy": self.policy, "policy_id": self.policy_id, "reason": self.reason,
                                "run": self.run, "started_at": self.started_at, "repeats_done": self.repeats_done,
                                "steps": [step.to_json() for step in self.steps]}
        if self.help_not_arrived_for is not None:
            data["help_not_arrived_for"] = self.help_not_arrived_for
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Snapshot | None:
        """Rebuild the stored snapshot of an alert (None when its escalation never started)."""
        if not data:
            return None
        return cls(policy=str(data.get("policy", "")), policy_id=data.get("policy_id"),
                   reason=str(data.get("reason", "")), run=int(data.get("run", 1)),
                   started_at=float(data.get("started_at", 0.0)),
                   steps=tuple(FrozenStep.from_json(s) for s in data.get("steps", [])),
                   repeats_done=int(data.get("repeats_done", 0)),
                   help_not_arrived_for=data.get("help_not_arrived_for"))
