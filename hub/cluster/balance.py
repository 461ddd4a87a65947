"""Which live hub should hold which shard: rendezvous hashing, so a join or leave moves only its share."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from hub.cluster.leases import Lease


def owner(shard: str, members: list[str]) -> str:
    """Return the member that should hold `shard` (highest hash of shard and member)."""
    return max(members, key=lambda hub: hashlib.sha1(f"{shard}|{hub}".encode()).digest())


@dataclass(frozen=True)
class Plan:
    """What one hub should do now: shards to take, shards to hand over."""

    acquire: list[str]
    release: list[str]


def plan(*, me: str, members: list[str], leases: list[Lease], held: set[str], orphan_after_s: float) -> Plan:
    """Plan one step of hub `me`: take the free shards it should own, hand over those another live hub should.

    A free shard whose owner does not take it within `orphan_after_s` (that hub is failing to start it)
    is taken by whoever sees it, so no shard stays unheld while any hub is alive.
    """
    live = sorted({*members, me})
    acquire, release = [], []
    for lease in leases:
        wanted = owner(lease.shard, live) == me
        if lease.shard in held:
            if not wanted:
                release.append(lease.shard)
        elif lease.holder is None and (wanted or -lease.expires_in_s > orphan_after_s):
            acquire.append(lease.shard)
    return Plan(acquire=acquire, release=release)
