"""Shard leases and membership in PostgreSQL, on the database's clock, so hubs' own clocks never matter.

A lease is a row: its holder, an expiry and an epoch that grows with every new holder. Acquiring is one
conditional UPDATE (free or expired rows only), so two hubs can never both win; renewing succeeds only
for the holder of an unexpired lease. The epoch is the fencing token: `holds` checks inside a caller's
own transaction (row locked FOR SHARE) that the lease is still theirs at that epoch, so a hub that was
paused past its TTL cannot commit anything for the shard once another hub took it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

# clock_timestamp(), not now(): now() is frozen at the start of the transaction.
_NOW = "extract(epoch from clock_timestamp())"


@dataclass(frozen=True)
class Lease:
    """One shard's lease as read from the database; `age_s` is how long its holder has held it."""

    shard: str
    holder: str | None
    epoch: int
    age_s: float | None
    expires_in_s: float
    takeovers: int


@dataclass(frozen=True)
class Member:
    """A live hub and how long ago it was last heard."""

    hub_id: str
    url: str
    seen_s_ago: float


class LeaseStore:
    """Leases and heartbeats of one hub (`hub_id`), with a TTL in seconds."""

    def __init__(self, engine: Engine, *, hub_id: str, ttl_s: float, url: str = "") -> None:
        if engine.dialect.name != "postgresql":
            raise ValueError("clustering needs PostgreSQL (database_url); SQLite serves one process only")
        self.engine = engine
        self.hub_id = hub_id
        self.ttl_s = ttl_s
        self.url = url

    def ensure_shards(self, shards: list[str]) -> None:
        """Create the lease rows of `shards` that do not exist yet (free)."""
        with self.engine.begin() as conn:
            for shard in shards:
                conn.execute(text("INSERT INTO shard_leases (shard, holder, epoch, acquired_at, renewed_at,"
                                  " expires_at, takeovers) VALUES (:s, NULL, 0, 0, 0, 0, 0)"
                                  " ON CONFLICT (shard) DO NOTHING"), {"s": shard})

    def heartbeat(self) -> None:
        """Say this hub is alive (and since when)."""
        with self.engine.begin() as conn:
            conn.execute(text(f"INSERT INTO cluster_members (hub_id, url, started_at, seen_at)"
                              f" VALUES (:h, :u, {_NOW}, {_NOW}) ON CONFLICT (hub_id)"
                              f" DO UPDATE SET seen_at = {_NOW}, url = :u"), {"h": self.hub_id, "u": self.url})

    def leave(self) -> None:
        """Leave the cluster: the others stop counting this hub at once."""
        with self.engine.begin() as conn:
            conn.execute(text("DELETE FROM cluster_members WHERE hub_id = :h"), {"h": self.hub_id})

    def members(self) -> list[Member]:
        """Return the hubs heard within the TTL, by id."""
        with self.engine.connect() as conn:
            rows = conn.execute(text(f"SELECT hub_id, url, {_NOW} - seen_at FROM cluster_members"
                                     f" WHERE seen_at > {_NOW} - :ttl ORDER BY hub_id"), {"ttl": self.ttl_s})
            return [Member(*row) for row in rows]

    def acquire(self, shard: str) -> int | None:
        """Take `shard` if it is free or its lease ran out; return the new epoch, or None if another holds it."""
        with self.engine.begin() as conn:
            row = conn.execute(text(
                f"UPDATE shard_leases SET epoch = epoch + 1, acquired_at = {_NOW}, renewed_at = {_NOW},"
                f" expires_at = {_NOW} + :ttl,"
                f" takeovers = takeovers + CASE WHEN holder IS NOT NULL AND holder <> :h THEN 1 ELSE 0 END,"
                f" holder = :h WHERE shard = :s AND (holder IS NULL OR expires_at < {_NOW}) RETURNING epoch"),
                {"s": shard, "h": self.hub_id, "ttl": self.ttl_s}).first()
        return row[0] if row else None

    def renew(self, held: dict[str, int]) -> set[str]:
        """Extend the leases in `held` (shard -> epoch) still ours; return the shards renewed."""
        if not held:
            return set()
        with self.engine.begin() as conn:
            rows = conn.execute(text(
                f"UPDATE shard_leases SET renewed_at = {_NOW}, expires_at = {_NOW} + :ttl"
                f" WHERE holder = :h AND expires_at >= {_NOW} AND shard = ANY(:shards) RETURNING shard, epoch"),
                {"h": self.hub_id, "ttl": self.ttl_s, "shards": list(held)}).all()
        return {shard for shard, epoch in rows if held.get(shard) == epoch}

    def release(self, shard: str, epoch: int) -> None:
        """Give `shard` up, so the next holder need not wait for the TTL."""
        with self.engine.begin() as conn:
            conn.execute(text(f"UPDATE shard_leases SET holder = NULL, expires_at = {_NOW}"
                              f" WHERE shard = :s AND holder = :h AND epoch = :e"),
                         {"s": shard, "h": self.hub_id, "e": epoch})

    def leases(self) -> list[Lease]:
        """Return every shard's lease, by shard."""
        with self.engine.connect() as conn:
            rows = conn.execute(text(
                f"SELECT shard, CASE WHEN expires_at >= {_NOW} THEN holder END, epoch,"
                f" CASE WHEN expires_at >= {_NOW} THEN {_NOW} - acquired_at END, expires_at - {_NOW}, takeovers"
                f" FROM shard_leases ORDER BY shard"))
            return [Lease(*row) for row in rows]


def holds(session: Session, *, shard: str, hub_id: str, epoch: int) -> bool:
    """Return whether `hub_id` still holds `shard` at `epoch`, locking the row until `session` commits.

    FOR SHARE makes a competing acquire wait for this transaction, so what it commits is either before
    the takeover or refused.
    """
    row = session.execute(text(
        f"SELECT 1 FROM shard_leases WHERE shard = :s AND holder = :h AND epoch = :e AND expires_at >= {_NOW}"
        f" FOR SHARE"), {"s": shard, "h": hub_id, "e": epoch}).first()
    return row is not None
