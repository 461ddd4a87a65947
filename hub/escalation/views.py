"""Escalation policy API: read the policies in scope, create or replace one, see the built-in defaults.

No `from __future__ import annotations` here: FastAPI must see the dependency aliases.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, status
from sqlalchemy.orm import Session, sessionmaker

from hub.audit import service as audit
from hub.auth.principal import Principal
from hub.auth.roles import Permission
from hub.deps import require
from hub.escalation import policies
from hub.escalation.models import PolicyIn, PolicyPublic, Step


@dataclass(frozen=True)
class EscalationContext:
    """What the escalation routes need: the database and the clock."""

    session_factory: sessionmaker[Session]
    clock: Callable[[], float]


router = APIRouter(prefix="/api/escalation", tags=["escalation"])


def get_escalation(request: Request) -> EscalationContext:
    """Return the app's escalation context (create_app puts it on app.state)."""
    return request.app.state.escalation


Context = Annotated[EscalationContext, Depends(get_escalation)]
Reader = Annotated[Principal, require(Permission.ALERTS_READ)]
Writer = Annotated[Principal, require(Permission.REGISTRY_WRITE)]


@router.get("/policies", response_model=list[PolicyPublic])
def list_policies(principal: Reader, ctx: Context) -> list[PolicyPublic]:
    """Return the stored policies of the caller's sites and the all-sites ones."""
    with ctx.session_factory() as session:
        rows = policies.list_policies(db_session=session, site_ids=principal.site_ids)
        return [PolicyPublic.model_validate(r) for r in rows]


@router.put("/policies", response_model=PolicyPublic)
def put_policy(policy_in: PolicyIn, principal: Writer, ctx: Context) -> PolicyPublic:
    """Create or replace the policy of one site (or all) and one alert type (or all)."""
    if policy_in.site_id is None and principal.site_ids is not None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "only an administrator sets all-sites policies")
    if policy_in.site_id is not None and not principal.sees(site_id=policy_in.site_id, resident_id=None):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"site {policy_in.site_id} not found")
    now = ctx.clock()
    with ctx.session_factory() as session, session.begin():
        row = policies.put(db_session=session, policy_in=policy_in, actor=principal.actor, now=now)
        audit.append(db_session=session, actor=principal.actor, action="escalation.policy_set",
                     entity="escalation_policy", entity_id=row.id, at=now,
                     detail=policy_in.model_dump(mode="json"))
        return PolicyPublic.model_validate(row)


@router.get("/defaults", response_model=dict[int, list[Step]])
def default_policies(_principal: Reader) -> dict[int, list[Step]]:
    """Return the built-in policy per priority, used where no stored policy applies."""
    return policies.DEFAULT_POLICIES
