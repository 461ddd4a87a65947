"""The right to act for one shard, checked locally on every delivery and in the database on every commit."""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy.orm import Session

from hub.cluster.leases import holds


class LeaseLost(RuntimeError):
    """This hub no longer holds the shard: what it was about to commit belongs to the next holder."""


class Fence:
    """A held lease: valid until revoked or until its local deadline (a monotonic time) passes.

    The deadline is set from the start of the renewal that succeeded plus the TTL less a margin, so a hub
    whose coordinator hangs stops acting on its own before the database would let another hub take over.
    """

    def __init__(self, *, shard: str, hub_id: str, epoch: int, deadline: float,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.shard = shard
        self.hub_id = hub_id
        self.epoch = epoch
        self.deadline = deadline
        self.revoked = False
        self._monotonic = monotonic

    def valid(self) -> bool:
        """Return whether this hub may still act for the shard, by its own clock."""
        return not self.revoked and self._monotonic() < self.deadline

    def check(self, session: Session) -> None:
        """Raise LeaseLost unless the lease is still ours; the row stays locked until `session` commits."""
        if not self.valid() or not holds(session, shard=self.shard, hub_id=self.hub_id, epoch=self.epoch):
            self.revoked = True
            raise LeaseLost(f"shard {self.shard} (epoch {self.epoch}) is no longer held by {self.hub_id}")
