"""Which live hub should hold which shard: rendezvous hashing, bounded so every hub holds its fair share."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from hub.cluster.leases import Lease


def _preference(key: str, members: list[str]) -> list[str]:
    return sorted(members, key=lambda hub: hashlib.sha1(f"{key}|{hub}".encode()).digest(), reverse=True)


def owner(key: str, members: list[str]) -> str:
    """Return the member `key` hashes to (highest hash of key and member): a site's shard, for instance."""
    return _preference(key, members)[0]


def assign(shards: list[str], members: list[str]) -> dict[str, str]:
    """Return the hub each shard should be held by: its first choice by rendezvous hashing unless that hub
    already has its share, so hubs hold ⌊n/m⌋ or ⌈n/m⌉ shards each (plain rendezvous gave one of three
    hubs nothing of seven shards), and every hub computes the same answer from the same members."""
    members = sorted(set(members))
    share, extra = divmod(len(shards), len(members))
    counts = dict.fromkeys(members, 0)
    out = {}
    for shard in sorted(shards):
        full = sum(1 for c in counts.values() if c > share)
        for hub in _preference(shard, members):
            if counts[hub] < share or (counts[hub] == share and full < extra):
                out[shard] = hub
                counts[hub] += 1
                break
    return out


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
    wanted_by = assign([lease.shard for lease in leases], live)
    acquire, release = [], []
    for lease in leases:
        wanted = wanted_by[lease.shard] == me
        if lease.shard in held:
            if not wanted:
                release.append(lease.shard)
        elif lease.holder is None and (wanted or -lease.expires_in_s > orphan_after_s):
            acquire.append(lease.shard)
    return Plan(acquire=acquire, release=release)
