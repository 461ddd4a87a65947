"""The cluster loop of one hub: heartbeat, renew its leases, take and hand over shards as the plan says."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Protocol

from hub import metrics
from hub.cluster.balance import plan
from hub.cluster.fence import Fence
from hub.cluster.leases import Lease, LeaseStore

log = logging.getLogger(__name__)

DEADLINE_MARGIN_S = 1.0  # a hub stops acting this long (at most a quarter of the TTL) before another may take over


class ShardWork(Protocol):
    """What a hub runs for the shards it holds."""

    def start(self, shard: str, fence: Fence) -> None:
        """Start the shard's work under `fence` (restore its state first)."""

    def hand_over(self, shard: str) -> None:
        """Stop the shard's work gracefully: finish and save what is in hand, while the lease still holds."""

    def abandon(self, shard: str) -> None:
        """Stop the shard's work at once, committing nothing more: the lease is gone."""


class Coordinator:
    """Keeps this hub's share of `shards` held, every `renew_s`, on a thread of its own."""

    def __init__(self, store: LeaseStore, shards: list[str], work: ShardWork, *, renew_s: float,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.shards = shards
        self.work = work
        self.renew_s = renew_s
        self.fences: dict[str, Fence] = {}
        self.members: list[str] = []
        self.steps_failed = 0
        self.last_step: float | None = None  # monotonic time of the last step that reached the database
        self._monotonic = monotonic
        self._lock = threading.Lock()  # one step at a time (the thread, or a test calling step)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="carehub-cluster", daemon=True)

    def start(self) -> None:
        """Create the lease rows, join, take this hub's share, then keep it on the thread."""
        self.store.ensure_shards(self.shards)
        self.step()
        self._thread.start()

    def stop(self) -> None:
        """Hand every held shard over and leave the cluster."""
        self._stop.set()
        self._thread.join(self.renew_s + 30)
        with self._lock:
            for shard in list(self.fences):
                self._hand_over(shard)
            try:
                self.store.leave()
            except Exception:
                log.exception("leaving the cluster failed; the others notice within the TTL")

    def held(self) -> list[str]:
        """Return the shards this hub holds now."""
        return sorted(s for s, f in self.fences.items() if f.valid())

    def in_touch(self) -> bool:
        """Return whether the last step reached the database within the TTL (this hub takes part)."""
        return self.last_step is not None and self._monotonic() - self.last_step < self.store.ttl_s

    def _run(self) -> None:
        while not self._stop.wait(self.renew_s):
            try:
                self.step()
            except Exception:
                self.steps_failed += 1
                log.exception("cluster step failed; leases run out on their own if this goes on")
            self._drop_expired()

    def step(self) -> None:
        """Heartbeat, renew, lose what was not renewed, then take and hand over shards."""
        with self._lock:
            started = self._monotonic()
            self.store.heartbeat()
            renewed = self.store.renew({s: f.epoch for s, f in self.fences.items()})
            for shard in [s for s in self.fences if s not in renewed]:
                log.error("lease on shard %s lost; its work stops now", shard)
                self._abandon(shard)
            for shard in renewed:
                self.fences[shard].deadline = self._deadline(started)
            self.members = [m.hub_id for m in self.store.members()]
            leases = self.store.leases()
            todo = plan(me=self.store.hub_id, members=self.members, leases=leases,
                        held=set(self.fences), orphan_after_s=2 * self.renew_s)
            for shard in todo.release:
                self._hand_over(shard)
            for shard in todo.acquire:
                if self._stop.is_set():
                    break
                self._acquire(shard)
            self._export(leases)
            self.last_step = started

    def _export(self, leases: list[Lease]) -> None:
        metrics.SHARDS_HELD.set(len(self.fences))
        for lease in leases:
            mine = lease.holder == self.store.hub_id and lease.shard in self.fences
            metrics.SHARD_HELD.labels(lease.shard).set(int(mine))
            metrics.SHARD_LEASE_AGE.labels(lease.shard).set(lease.age_s or 0.0)
            metrics.SHARD_TAKEOVERS.labels(lease.shard).set(lease.takeovers)

    def _deadline(self, started: float) -> float:
        ttl = self.store.ttl_s
        return started + ttl - min(DEADLINE_MARGIN_S, ttl / 4)

    def _acquire(self, shard: str) -> None:
        started = self._monotonic()
        epoch = self.store.acquire(shard)
        if epoch is None:
            return  # another hub was quicker
        fence = Fence(shard=shard, hub_id=self.store.hub_id, epoch=epoch,
                      deadline=self._deadline(started), monotonic=self._monotonic)
        self.fences[shard] = fence
        log.info("took shard %s (epoch %d)", shard, epoch)
        try:
            self.work.start(shard, fence)
        except Exception:
            log.exception("starting shard %s failed; handing it back", shard)
            self._abandon(shard)
            self.store.release(shard, epoch)

    def _hand_over(self, shard: str) -> None:
        fence = self.fences.pop(shard)
        try:
            self.work.hand_over(shard)
        finally:
            fence.revoked = True
            self.store.release(shard, fence.epoch)
            log.info("handed shard %s over (epoch %d)", shard, fence.epoch)

    def _abandon(self, shard: str) -> None:
        fence = self.fences.pop(shard)
        fence.revoked = True
        metrics.LEASES_LOST.inc()
        try:
            self.work.abandon(shard)
        except Exception:
            log.exception("stopping shard %s failed", shard)

    def _drop_expired(self) -> None:
        # The database was out of reach for longer than the lease: the fences are already invalid; stop the work.
        with self._lock:
            for shard in [s for s, f in self.fences.items() if not f.valid()]:
                log.error("lease on shard %s ran out unrenewed; its work stops now", shard)
                self._abandon(shard)
