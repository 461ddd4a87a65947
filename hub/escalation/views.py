"""Escalation policy API: read the policies in scope, create or replace one, see the built-in defaults.

No `from __future__ import annotations` here: FastAPI must see the closure-local dependency aliases.
"""

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, status
from sqlalchemy.orm import Session, sessionmaker

from hub.audit import service as audit
from hub.auth.deps import Auth
from hub.auth.principal import Principal
from hub.auth.roles import Permission
from hub.escalation import policies
from hub.escalation.models import PolicyIn, PolicyPublic


def make_router(auth: Auth, session_factory: sessionmaker[Session], clock) -> APIRouter:
    """Return the escalation router."""
    router = APIRouter(prefix="/api/escalation", tags=["escalation"])
    Reader = Annotated[Principal, Depends(auth.require(Permission.ALERTS_READ))]
    Writer = Annotated[Principal, Depends(auth.require(Permission.REGISTRY_WRITE))]

    @router.get("/policies")
    def list_policies(principal: Reader) -> list[PolicyPublic]:
        """Return the stored policies of the caller's sites and the all-sites ones."""
        with session_factory() as session:
            rows = policies.list_policies(db_session=session, site_ids=principal.site_ids)
            return [PolicyPublic.model_validate(r) for r in rows]

    @router.put("/policies")
    def put_policy(policy_in: PolicyIn, principal: Writer) -> PolicyPublic:
        """Create or replace the policy of one site (or all) and one alert type (or all)."""
        if policy_in.site_id is None and principal.site_ids is not None:
            raise HTTPException(status.HTTP_403_FORBIDDEN, "only an administrator sets all-sites policies")
        if policy_in.site_id is not None and not principal.sees(site_id=policy_in.site_id, resident_id=None):
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"site {policy_in.site_id} not found")
        now = clock()
        with session_factory() as session, session.begin():
            row = policies.put(db_session=session, policy_in=policy_in, actor=principal.actor, now=now)
            audit.append(db_session=session, actor=principal.actor, action="escalation.policy_set",
                         entity="escalation_policy", entity_id=row.id, at=now,
                         detail=policy_in.model_dump(mode="json"))
            return PolicyPublic.model_validate(row)

    @router.get("/defaults")
    def default_policies(_principal: Reader) -> dict[int, list[dict]]:
        """Return the built-in policy per priority, used where no stored policy applies."""
        return {p: [s.model_dump(mode="json") for s in steps] for p, steps in policies.DEFAULT_POLICIES.items()}

    return router
