"""Cluster API: which hub holds which shard, lease ages, takeovers and the live members (admins).

No `from __future__ import annotations` here: FastAPI must see the dependency aliases.
"""

from typing import Annotated

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel

from hub.auth.principal import Principal
from hub.auth.roles import Permission
from hub.deps import HubDep, require

router = APIRouter(prefix="/api/cluster", tags=["cluster"])
Admin = Annotated[Principal, require(Permission.CLUSTER_READ)]


class ShardPublic(BaseModel):
    """One shard's lease: its holder (None while free), epoch, how long held, takeovers so far."""

    shard: str
    holder: str | None
    epoch: int
    lease_age_s: float | None
    expires_in_s: float
    takeovers: int


class MemberPublic(BaseModel):
    """A live hub of the cluster."""

    hub_id: str
    url: str
    seen_s_ago: float


class ClusterPublic(BaseModel):
    """The cluster as the answering hub sees it in the database."""

    hub_id: str
    held_here: list[str]
    members: list[MemberPublic]
    shards: list[ShardPublic]


@router.get("", response_model=ClusterPublic)
def cluster(_admin: Admin, hub: HubDep) -> ClusterPublic:
    """Return every shard's holder and lease and the live hubs (404 on a hub that is not clustered)."""
    coordinator = hub.cluster
    if coordinator is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "this hub runs alone (cluster_enabled is off)")
    store = coordinator.store
    return ClusterPublic(
        hub_id=store.hub_id, held_here=coordinator.held(),
        members=[MemberPublic(hub_id=m.hub_id, url=m.url, seen_s_ago=round(m.seen_s_ago, 3)) for m in store.members()],
        shards=[ShardPublic(shard=lease.shard, holder=lease.holder, epoch=lease.epoch,
                            lease_age_s=None if lease.age_s is None else round(lease.age_s, 3),
                            expires_in_s=round(lease.expires_in_s, 3), takeovers=lease.takeovers)
                for lease in store.leases()])
