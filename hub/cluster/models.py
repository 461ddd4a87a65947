"""Tables of the cluster: who is alive (members) and who holds which shard (leases, with a fencing epoch)."""

from __future__ import annotations

from sqlalchemy import Float, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import Base


class ClusterMember(Base):
    """A hub process that takes part in the cluster, with its last heartbeat (database clock)."""

    __tablename__ = "cluster_members"

    hub_id: Mapped[str] = mapped_column(String(120), primary_key=True)
    url: Mapped[str] = mapped_column(String(300), default="")
    started_at: Mapped[float] = mapped_column(Float)
    seen_at: Mapped[float] = mapped_column(Float)


class ShardLease(Base):
    """The lease on one shard: its holder until `expires_at` (database clock); `epoch` grows with each holder."""

    __tablename__ = "shard_leases"

    shard: Mapped[str] = mapped_column(String(120), primary_key=True)
    holder: Mapped[str | None] = mapped_column(String(120), nullable=True)
    epoch: Mapped[int] = mapped_column(Integer, default=0)
    acquired_at: Mapped[float] = mapped_column(Float, default=0.0)
    renewed_at: Mapped[float] = mapped_column(Float, default=0.0)
    expires_at: Mapped[float] = mapped_column(Float, default=0.0)
    takeovers: Mapped[int] = mapped_column(Integer, default=0)  # acquisitions from a holder whose lease ran out
