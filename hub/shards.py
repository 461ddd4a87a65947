"""What a clustered hub runs for the shards it holds: a pipeline per intake shard, the timers for the scheduler."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable

from device_drivers.registry import ProfileSet
from hub.cluster.fence import Fence
from hub.config import SCHEDULER_SHARD, Settings
from hub.ingest.forward import forward_topic
from hub.pipeline import Intake, Pipeline, Shared
from hub.timers import TimerLoop

log = logging.getLogger(__name__)


def intake_shards(settings: Settings, profiles: ProfileSet) -> dict[str, list[str]]:
    """Return each intake shard's MQTT topic filters: the configured ones, or one shard "main" with all topics."""
    return {name: list(filters) for name, filters in settings.cluster_shards.items()} or {
        "main": list(profiles.subscriptions)}


def edge_name(hub_id: str) -> str:
    """Return the name of this hub's own pipeline (serial and DC-09 receivers, NB-IoT pushes it is sent)."""
    return "edge-" + hashlib.sha1(hub_id.encode()).hexdigest()[:12]


class ShardRunner:
    """Starts, hands over and abandons the work of the shards the coordinator gives this hub."""

    def __init__(self, *, shared: Shared, profiles: Callable[[], ProfileSet], timers: TimerLoop,
                 filters: dict[str, list[str]], client_prefix: str) -> None:
        self.shared = shared
        self.profiles = profiles
        self.timers = timers
        self.filters = filters
        self.client_prefix = client_prefix
        self.follows_profiles = not shared.settings.cluster_shards
        self.pipelines: dict[str, Pipeline] = {}

    @property
    def shards(self) -> list[str]:
        """Return every shard of the cluster: the intake shards and the scheduler."""
        return [*self.filters, SCHEDULER_SHARD]

    def start(self, shard: str, fence: Fence) -> None:
        """Start `shard`'s work: restore its detectors and unhandled alarms, then connect its MQTT session."""
        if shard == SCHEDULER_SHARD:
            self.timers.may_run = fence.valid
            self.timers.start()
            return
        # The client id is the shard's, not the hub's: the broker keeps the shard's session for whoever holds it.
        # Its forward topic carries what other hubs received outside MQTT for the devices this shard owns.
        intake = Intake(client_id=f"{self.client_prefix}-shard-{shard}",
                        subscriptions=[*self.filters[shard], forward_topic(shard)],
                        follows_profiles=self.follows_profiles)
        pipeline = Pipeline(self.shared, self.profiles(), shard=shard, fence=fence, intake=intake)
        pipeline.start()
        self.pipelines[shard] = pipeline

    def hand_over(self, shard: str) -> None:
        """Stop `shard`'s work gracefully while the lease still holds (record, write, save)."""
        if shard == SCHEDULER_SHARD:
            self.timers.stop()
        elif (pipeline := self.pipelines.pop(shard, None)) is not None:
            pipeline.stop()

    def abandon(self, shard: str) -> None:
        """Stop `shard`'s work at once: the lease is gone."""
        if shard == SCHEDULER_SHARD:
            self.timers.stop()  # its may_run already answers no: no further tick runs
        elif (pipeline := self.pipelines.pop(shard, None)) is not None:
            pipeline.abandon()

    def swap_profiles(self, profiles: ProfileSet) -> None:
        """Give every running pipeline the new profiles."""
        for pipeline in list(self.pipelines.values()):
            pipeline.swap_profiles(profiles)
