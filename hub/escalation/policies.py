"""Which policy applies to an alert, the built-in defaults, and the snapshot frozen onto the alert."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.escalation.models import EscalationPolicy, PolicyIn, Step, StepAction
from hub.escalation.snapshot import Action, FrozenStep, Snapshot

_S = StepAction
# Built-in policies by priority, used where no stored policy covers the alert's site and type.
DEFAULT_POLICIES: dict[int, list[Step]] = {
    # Life: the duty room at once, the supervisor after 1 min, then the family one by one, then the record
    # of a call to emergency services; repeated while nobody acknowledges.
    1: [Step(action=_S.NOTIFY_ON_DUTY), Step(action=_S.WAIT, seconds=60), Step(action=_S.NOTIFY_SUPERVISOR),
        Step(action=_S.WAIT, seconds=60), Step(action=_S.NOTIFY_FAMILY, seconds=60),
        Step(action=_S.WAIT, seconds=120), Step(action=_S.CALL_EMERGENCY), Step(action=_S.WAIT, seconds=300),
        Step(action=_S.REPEAT, times=3)],
    # Needs a check: more patience before the supervisor and the family.
    2: [Step(action=_S.NOTIFY_ON_DUTY), Step(action=_S.WAIT, seconds=300), Step(action=_S.NOTIFY_SUPERVISOR),
        Step(action=_S.WAIT, seconds=600), Step(action=_S.NOTIFY_FAMILY, seconds=120),
        Step(action=_S.WAIT, seconds=900), Step(action=_S.REPEAT, times=2)],
    # Device care: the duty room, then the supervisor after an hour; families are not bothered.
    3: [Step(action=_S.NOTIFY_ON_DUTY), Step(action=_S.WAIT, seconds=3600), Step(action=_S.NOTIFY_SUPERVISOR)],
}


def find(*, db_session: Session, site_id: int | None, alert_type: str) -> EscalationPolicy | None:
    """Return the most specific stored policy: site and type, site, type, then the catch-all."""
    rows = db_session.scalars(select(EscalationPolicy).where(
        (EscalationPolicy.site_id == site_id) | EscalationPolicy.site_id.is_(None),
        (EscalationPolicy.alert_type == alert_type) | EscalationPolicy.alert_type.is_(None)))
    ranked = sorted(rows, key=lambda p: (p.site_id is None, p.alert_type is None))
    return ranked[0] if ranked else None


def list_policies(*, db_session: Session, site_ids: Collection[int] | None) -> list[EscalationPolicy]:
    """Return stored policies (of the given sites and the all-sites ones when `site_ids` is a set)."""
    query = select(EscalationPolicy).order_by(EscalationPolicy.site_id, EscalationPolicy.alert_type)
    if site_ids is not None:
        query = query.where(EscalationPolicy.site_id.in_(sorted(site_ids)) | EscalationPolicy.site_id.is_(None))
    return list(db_session.scalars(query))


def put(*, db_session: Session, policy_in: PolicyIn, actor: str, now: float) -> EscalationPolicy:
    """Create or replace the policy for `policy_in`'s site and type (running escalations keep their snapshot)."""
    policy = db_session.scalar(select(EscalationPolicy).where(
        EscalationPolicy.site_id.is_(None) if policy_in.site_id is None
        else EscalationPolicy.site_id == policy_in.site_id,
        EscalationPolicy.alert_type.is_(None) if policy_in.alert_type is None
        else EscalationPolicy.alert_type == policy_in.alert_type))
    if policy is None:
        policy = EscalationPolicy(site_id=policy_in.site_id, alert_type=policy_in.alert_type)
        db_session.add(policy)
    policy.name = policy_in.name
    policy.steps = [s.model_dump(mode="json") for s in policy_in.steps]
    policy.updated_at, policy.updated_by = now, actor
    db_session.flush()
    return policy


def snapshot(*, policy: EscalationPolicy | None, priority: int, contact_ids: list[int], reason: str,
             now: float, run: int) -> Snapshot:
    """Freeze a policy for one alert: family steps become one step per contact, in the contacts' order."""
    if policy is not None:
        name, policy_id, steps = policy.name, policy.id, [Step.model_validate(s) for s in policy.steps]
    else:
        name, policy_id = f"default P{priority}", None
        steps = DEFAULT_POLICIES.get(priority, DEFAULT_POLICIES[2])
    flat = [frozen for step in steps for frozen in _freeze(step, contact_ids)]
    return Snapshot(policy=name, policy_id=policy_id, reason=reason, run=run, started_at=now, steps=tuple(flat))


def _freeze(step: Step, contact_ids: list[int]) -> list[FrozenStep]:
    """Translate one policy step into the snapshot's steps (a family step: one per contact, waits between)."""
    if step.action == StepAction.NOTIFY_FAMILY:
        out: list[FrozenStep] = []
        for n, contact_id in enumerate(contact_ids):
            if n:
                out.append(FrozenStep(Action.WAIT, seconds=step.seconds))
            out.append(FrozenStep(Action.NOTIFY_CONTACT, contact_id=contact_id))
        return out
    return [_ONE_STEP[step.action](step)]


_ONE_STEP = {
    StepAction.NOTIFY_ON_DUTY: lambda s: FrozenStep(Action.NOTIFY_STAFF, role=s.role),
    StepAction.NOTIFY_SUPERVISOR: lambda s: FrozenStep(Action.NOTIFY_STAFF, role="supervisor"),
    StepAction.CALL_EMERGENCY: lambda s: FrozenStep(Action.CALL_EMERGENCY, number=s.number),
    StepAction.WAIT: lambda s: FrozenStep(Action.WAIT, seconds=s.seconds),
    StepAction.REPEAT: lambda s: FrozenStep(Action.REPEAT, times=s.times),
}
