"""Run a frozen escalation snapshot forward: a pure function of (snapshot, step, due time, now)."""

from __future__ import annotations

from dataclasses import dataclass, field

from hub.escalation.snapshot import Action, FrozenStep, Snapshot


@dataclass(frozen=True, slots=True)
class Effect:
    """One step that is due now: what to do, and where it sits (for deduplication)."""

    step: int
    repeat: int
    spec: FrozenStep

    @property
    def action(self) -> Action:
        """Return what the step does."""
        return self.spec.action


@dataclass(slots=True)
class Plan:
    """What the due steps do, and where the escalation stands after them."""

    effects: list[Effect] = field(default_factory=list)
    step: int = 0
    next_at: float | None = None
    repeats_done: int = 0


def plan(snapshot: Snapshot, *, step: int, due: float | None, now: float) -> Plan:
    """Return the effects of every step due at `now` and the next step with its due time (None: finished).

    Waits count from the previous step's due time, not from when it ran, so a late run (the hub was down)
    catches up on every missed step instead of skipping or stretching them.
    """
    steps = snapshot.steps
    repeats = snapshot.repeats_done
    out = Plan(step=step, next_at=due, repeats_done=repeats)
    i = step
    while due is not None and due <= now:
        if i >= len(steps):
            due = None
            break
        current = steps[i]
        if current.action == Action.WAIT:
            due += current.seconds
            i += 1
            continue
        if current.action == Action.REPEAT:
            if repeats < current.times:
                repeats += 1
                i = 0
            else:
                i += 1
            continue
        out.effects.append(Effect(step=i, repeat=repeats, spec=current))
        i += 1
    if i >= len(steps):
        due = None
    out.step, out.next_at, out.repeats_done = i, due, repeats
    return out
