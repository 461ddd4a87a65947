"""One shard's intake path: its MQTT session, router, two lanes, alarm recorder, processor and detectors.

A single hub runs one pipeline for everything. In a cluster each shard a hub holds runs its own, under
that shard's fence: its MQTT session (stable client id, persistent, QoS 1) is the shard's queue at the
broker, its recorder and detectors commit only while the lease holds, and its detector state is saved
under the shard's name, so the next holder restores it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from device_drivers.model import DeviceInfo, Message
from device_drivers.registry import ProfileSet
from hub.alerts.bus import AlertBus
from hub.alerts.flows import AlertFlow
from hub.cluster.fence import Fence
from hub.config import Settings
from hub.detect.engine import DetectionEngine
from hub.devices.directory import DeviceDirectory, DeviceRef
from hub.health.state import DeviceHealth
from hub.ingest.alarm_recorder import AlarmRecorder
from hub.ingest.lanes import AlarmLane, TelemetryLane
from hub.ingest.mqtt_client import MqttIngest
from hub.ingest.processor import Processor
from hub.ingest.router import IngestRouter

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Shared:
    """What every pipeline of a hub shares: the registry, device health, telemetry and the alert flow."""

    settings: Settings
    session_factory: sessionmaker[Session]
    directory: DeviceDirectory
    health: DeviceHealth
    telemetry: object
    alerts: AlertFlow
    bus: AlertBus
    clock: Callable[[], float]


@dataclass(frozen=True)
class Intake:
    """Where a pipeline's MQTT messages come from; `follows_profiles`: its filters are the profiles' own."""

    client_id: str
    subscriptions: list[str]
    follows_profiles: bool


class Pipeline:
    """Decode, record, process and detect for one shard (`shard` None: the whole of a single hub)."""

    def __init__(self, shared: Shared, profiles: ProfileSet, *, shard: str | None = None,
                 fence: Fence | None = None, intake: Intake | None = None) -> None:
        settings = shared.settings
        self.shard, self.fence, self.shared = shard, fence, shared
        self.intake = intake
        self.alarm_lane, self.telemetry_lane = AlarmLane(), TelemetryLane()
        self.router = IngestRouter(profiles, self.alarm_lane, self.telemetry_lane, device_kind=self._device_kind)
        self.processor = Processor(lane=self.telemetry_lane, directory=shared.directory, health=shared.health,
                                   telemetry=shared.telemetry, session_factory=shared.session_factory)
        self.recorder = AlarmRecorder(lane=self.alarm_lane, session_factory=shared.session_factory,
                                      directory=shared.directory, processor=self.processor, shard=shard, fence=fence)
        self.detections = DetectionEngine(session_factory=shared.session_factory, clock=shared.clock,
                                          fall_cancel_window_s=settings.fall_cancel_window_s,
                                          latch_expiry_s=settings.latch_expiry_s, shard=shard, fence=fence)
        self.detections.alerts = shared.alerts
        self.processor.add_listener(self._on_discovery)
        self.processor.add_listener(self.detections.on_messages)
        self.mqtt: MqttIngest | None = None
        if intake is not None:
            host, port = settings.mqtt_host_port
            self.mqtt = MqttIngest(host=host, port=port, client_id=intake.client_id,
                                   subscriptions=intake.subscriptions, router=self.router,
                                   username=settings.mqtt_username, password=settings.mqtt_password)

    def _device_kind(self, device_key: str) -> str | None:
        ref = self.shared.directory.lookup(device_key)
        return ref.kind if ref else None

    def _on_discovery(self, messages: list[Message], _ref: DeviceRef | None) -> None:
        # Home Assistant discovery teaches the hub new state topics: subscribe to them as they appear.
        if self.mqtt and self.intake and self.intake.follows_profiles:
            for message in messages:
                if type(message) is DeviceInfo and message.source == "homeassistant":
                    self.mqtt.ensure_subscribed(self.router.profiles.subscriptions)
                    return

    def swap_profiles(self, profiles: ProfileSet) -> None:
        """Decode with `profiles` from the next message on; subscribe to their new topics if ours are theirs."""
        self.router.profiles = profiles
        if self.mqtt and self.intake and self.intake.follows_profiles:
            self.mqtt.ensure_subscribed(profiles.subscriptions)

    def start(self) -> None:
        """Restore detector state, re-run alarms recorded but not handled, then take messages (MQTT last)."""
        self.detections.start()
        self.shared.bus.listeners.append(self.detections.on_alert_change)  # a closed alert releases its latches
        self.recorder.recover()
        self.processor.start()
        self.recorder.start()
        if self.mqtt:
            self.mqtt.start()

    def stop(self) -> None:
        """Stop intake, then record and process what is queued, write detections and save detector state."""
        if self.mqtt:
            self.mqtt.stop()
        self.recorder.stop()
        self.processor.stop()
        self._unlisten()
        self.detections.stop()

    def abandon(self) -> None:
        """Stop at once and commit nothing more: the shard's lease is gone, its next holder takes over.

        Unacknowledged alarms stay at the broker for the next holder; held state is not saved over theirs.
        """
        if self.fence:
            self.fence.revoked = True
        if self.mqtt:
            self.mqtt.stop()
        self.recorder.stop()
        self.processor.stop()
        self._unlisten()
        self.detections.abandon()

    def _unlisten(self) -> None:
        try:
            self.shared.bus.listeners.remove(self.detections.on_alert_change)
        except ValueError:
            pass
