"""Run a frozen escalation snapshot forward: a pure function of (snapshot, step, due time, now)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Effect:
    """One step that is due now: what to do, and where it sits (for deduplication)."""

    step: int
    repeat: int
    action: str
    params: dict


@dataclass(slots=True)
class Plan:
    """What the due steps do, and where the escalation stands after them."""

    effects: list[Effect] = field(default_factory=list)
    step: int = 0
    next_at: float | None = None
    repeats_done: int = 0


def plan(snapshot: dict, *, step: int, due: float | None, now: float) -> Plan:
    """Return the effects of every step due at `now` and the next step with its due time (None: finished).

    Waits count from the previous step's due time, not from when it ran, so a late run (the hub was down)
    catches up on every missed step instead of skipping or stretching them.
    """
    steps: list[dict] = snapshot.get("steps", [])
    repeats = int(snapshot.get("repeats_done", 0))
    out = Plan(step=step, next_at=due, repeats_done=repeats)
    i = step
    while due is not None and due <= now:
        if i >= len(steps):
            due = None
            break
        current = steps[i]
        action = current["action"]
        if action == "wait":
            due += float(current.get("seconds", 0.0))
            i += 1
            continue
        if action == "repeat":
            if repeats < int(current.get("times", 1)):
                repeats += 1
                i = 0
            else:
                i += 1
            continue
        out.effects.append(Effect(step=i, repeat=repeats, action=action,
                                  params={k: v for k, v in current.items() if k != "action"}))
        i += 1
    if i >= len(steps):
        due = None
    out.step, out.next_at, out.repeats_done = i, due, repeats
    return out
