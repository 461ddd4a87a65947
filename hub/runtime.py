"""The running hub: wires drivers, lanes, recorder, processor, telemetry, health and the API together."""

from __future__ import annotations

import gc
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from zoneinfo import ZoneInfo

from device_drivers.model import Message
from device_drivers.profiles.builtin import build_profiles
from device_drivers.registry import ProfileSet
from device_drivers.sia_dc09 import parse_key
from device_drivers.transports.contact_id_receiver import ContactIdReceiver
from device_drivers.transports.sia_dc09_server import SiaDc09Server
from hub import migrate
from hub.alerts.bus import AlertBus
from hub.alerts.flows import AlertFlow, public
from hub.alerts.relay import AlertRelay
from hub.alerts.telemetry import make_listener as alert_telemetry
from hub.cluster.coordinator import Coordinator
from hub.cluster.leases import LeaseStore
from hub.config import Settings, get_settings
from hub.db import make_engine, make_session_factory
from hub.devices.directory import DeviceDirectory
from hub.escalation.effects import MessageContext, StepEffects
from hub.escalation.engine import EscalationEngine
from hub.health.state import DeviceHealth
from hub.ingest.forward import Forwarder, forward_topic
from hub.ingest.mqtt_client import CatchAllIngest
from hub.ledgers.flows import AlertHazards
from hub.notifications.sender import NotificationSender
from hub.pipeline import Intake, Pipeline, Shared
from hub.profiles.reload import ProfileReloader
from hub.schedules import register as register_schedules
from hub.shards import ShardRunner, edge_name, intake_shards
from hub.telemetry.influx_writer import make_telemetry_writer
from hub.timers import TimerLoop
from hub.workorders.flows import AlertWorkOrders

log = logging.getLogger(__name__)

GC_GEN0_THRESHOLD = 50_000
SHUTDOWN_GRACE_S = 3.0  # how long open HTTP streams may delay a stop
SERIAL_ACK_WAIT_S = 3.0  # the receiver expects ACK within 4 s; leave headroom for the write
DC09_ACK_WAIT_S = 8.0  # well inside a DC-09 transmitter's answer timeout; NAK after it, and it retries


class Hub:
    """One hub process: everything between the transports and the API."""

    def __init__(self, settings: Settings, *, clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        migrate.upgrade(settings.sqlalchemy_url)
        self.engine = make_engine(settings.sqlalchemy_url)
        self.session_factory = make_session_factory(self.engine)
        self.directory = DeviceDirectory(self.session_factory)
        self.directory.refresh()
        self.telemetry = make_telemetry_writer(settings)
        self.health = DeviceHealth(clock, settings.battery_low_percent)
        self.profiles = build_profiles(settings.mqtt_topic_roots, settings.profile_dirs)
        self.hub_id = settings.hub_id or f"{socket.gethostname()}-{os.getpid()}"
        self.alert_bus = AlertBus()
        self.alert_bus.local_listeners.append(alert_telemetry(self.telemetry.enqueue_lines))
        self.alerts = AlertFlow(session_factory=self.session_factory, bus=self.alert_bus,
                                priorities=settings.alert_priorities, arrival_timeout_s=settings.arrival_timeout_s,
                                clock=clock)
        shared = Shared(settings=settings, session_factory=self.session_factory, directory=self.directory,
                        health=self.health, telemetry=self.telemetry, alerts=self.alerts, bus=self.alert_bus,
                        clock=clock)
        self._compose_alert_chain(settings)
        self.cluster: Coordinator | None = None
        self.relay: AlertRelay | None = None
        self.shards: ShardRunner | None = None
        self.forwarder: Forwarder | None = None
        if settings.cluster_enabled:
            # Intake shards get their pipelines as this hub takes them; this one is the hub's own: what
            # only this hub receives (serial and DC-09 receivers, NB-IoT pushes sent to it).
            self.pipeline = Pipeline(shared, self.profiles, shard=edge_name(self.hub_id))
            self.shards = ShardRunner(shared=shared, profiles=lambda: self.profiles, timers=self.timers,
                                      filters=intake_shards(settings, self.profiles),
                                      client_prefix=settings.mqtt_client_id)
            store = LeaseStore(self.engine, hub_id=self.hub_id, ttl_s=settings.cluster_lease_ttl_s,
                               url=settings.base_url)
            self.cluster = Coordinator(store, self.shards.shards, self.shards, renew_s=settings.cluster_renew_s)
            self.relay = AlertRelay(engine=self.engine, session_factory=self.session_factory, bus=self.alert_bus,
                                    hub_id=self.hub_id)
            if settings.mqtt_url:
                host, port = settings.mqtt_host_port
                self.forwarder = Forwarder(
                    host=host, port=port, client_id=f"{settings.mqtt_client_id}-forward-{self.hub_id}",
                    hub_id=self.hub_id, shards=list(self.shards.filters), site_of=self._site_of,
                    local=self.pipeline.router.receive_decoded,
                    username=settings.mqtt_username, password=settings.mqtt_password)
        else:
            intake = Intake(client_id=settings.mqtt_client_id, subscriptions=self.profiles.subscriptions,
                            follows_profiles=True) if settings.mqtt_url else None
            self.pipeline = Pipeline(shared, self.profiles, intake=intake)
        # The single pipeline's parts by name: what the API, the receivers and the tests reach.
        p = self.pipeline
        self.router, self.processor, self.recorder, self.detections = p.router, p.processor, p.recorder, p.detections
        self.alarm_lane, self.telemetry_lane, self.mqtt = p.alarm_lane, p.telemetry_lane, p.mqtt
        self.catch_all: CatchAllIngest | None = None
        if settings.mqtt_url and settings.mqtt_catch_all:
            host, port = settings.mqtt_host_port
            self.catch_all = CatchAllIngest(
                host=host, port=port, client_id=f"{settings.mqtt_client_id}-catch-all"
                + (f"-{self.hub_id}" if self.cluster else ""),
                covered_by=self._subscriptions, router=self.router, ignore=settings.mqtt_catch_all_ignore,
                username=settings.mqtt_username, password=settings.mqtt_password)
        self.receivers = [
            ContactIdReceiver(port, on_message=self._serial_handler(port), baudrate=settings.serial_baudrate,
                              heartbeat_timeout=settings.receiver_heartbeat_timeout)
            for port in settings.serial_ports
        ]
        self.dc09: SiaDc09Server | None = None
        if settings.dc09_port:
            self.dc09 = SiaDc09Server(
                on_message=self._dc09_handler, host=settings.dc09_host, port=settings.dc09_port,
                key=parse_key(settings.dc09_aes_key) if settings.dc09_aes_key else None,
                accounts=settings.dc09_accounts, time_window_s=settings.dc09_time_tolerance_s)
        self.profile_reloader = ProfileReloader(profiles=self.profiles, profile_dirs=settings.profile_dirs,
                                                on_swap=self._swap_profiles, interval_s=settings.profile_reload_s)
        self._stop = threading.Event()
        self._refresher = threading.Thread(target=self._refresh_loop, name="carehub-directory", daemon=True)

    def _compose_alert_chain(self, settings: Settings) -> None:
        alert_orders = AlertWorkOrders.from_settings(settings)
        self.escalation = EscalationEngine(
            session_factory=self.session_factory,
            effects=StepEffects(MessageContext(settings.base_url, ZoneInfo(settings.timezone),
                                               settings.family_link_ttl_s)),
            publish=lambda alert, change: self.alert_bus.publish(public(alert), change=change))
        # The alert chain, in the order it runs inside each detection's transaction: the work order first,
        # then the hazard (which links itself to that order), then the escalation snapshot.
        self.alerts.hooks[:] = [alert_orders.on_alert, AlertHazards.from_settings(settings).on_alert,
                                self.escalation.on_alert]
        # People's actions on an alert, inside the action's transaction.
        self.alerts.action_hooks[:] = [alert_orders.on_action]
        self.sender = NotificationSender(session_factory=self.session_factory, clock=self.alerts.clock,
                                         max_attempts=settings.notify_max_attempts,
                                         backoff_s=settings.notify_backoff_s,
                                         max_backoff_s=settings.notify_max_backoff_s)
        self.timers = TimerLoop(engine=self.escalation, sender=self.sender, clock=self.alerts.clock,
                                tick_s=settings.escalation_tick_s)
        register_schedules(self.timers, self.session_factory, settings)

    def running_pipelines(self) -> list[Pipeline]:
        """Return the hub's own pipeline and those of the shards it holds now."""
        return [self.pipeline, *(self.shards.pipelines.values() if self.shards else ())]

    def _subscriptions(self) -> list[str]:
        # What the hub's own sessions take: every other topic is counted by the catch-all.
        if self.shards is not None:
            return [*(f for filters in self.shards.filters.values() for f in filters),
                    *(forward_topic(shard) for shard in self.shards.filters)]
        return self.mqtt.subscriptions if self.mqtt else []

    def _swap_profiles(self, profiles: ProfileSet) -> None:
        # One reference each: the routers pick the new set up with their next message; then the new topics.
        self.profiles = profiles
        self.pipeline.swap_profiles(profiles)
        if self.shards is not None:
            self.shards.swap_profiles(profiles)

    def live_state(self, device_id: int) -> dict:
        """Return the live health state of a registered device (empty when nothing heard yet)."""
        state = self.health.state(f"device:{device_id}")
        return state.as_dict() if state else {}

    def _site_of(self, device_key: str) -> int | None:
        ref = self.directory.lookup(device_key)
        return ref.site_id if ref else None

    def receive_direct(self, transport: str, source: str, topic: str, messages: list[Message], *,
                       payload: bytes = b"", wait: float = 0.0) -> bool:
        """Take messages that reached this hub outside MQTT; in a cluster, the shard owning the device gets them."""
        if self.forwarder is not None:
            return self.forwarder.receive(transport, source, topic, messages, payload=payload, wait=wait)
        return self.router.receive_decoded(transport, source, topic, messages, payload=payload, wait=wait)

    def _serial_handler(self, port: str) -> Callable[[list[Message]], None]:
        def handle(messages: list[Message]) -> None:
            # Returning normally makes the driver ACK; raising makes it NAK so the receiver retries.
            if not self.receive_direct("serial", "contact_id", port, messages, wait=SERIAL_ACK_WAIT_S):
                raise RuntimeError("serial record not recorded in time")

        return handle

    def _dc09_handler(self, messages: list[Message]) -> None:
        # As on serial: returning makes the server ACK, raising makes it NAK so the transmitter retries.
        if not self.receive_direct("dc09", "sia_dc09", "sia_dc09", messages, wait=DC09_ACK_WAIT_S):
            raise RuntimeError("DC-09 frame not recorded in time")

    def start(self) -> None:
        """Start every component; MQTT last, so nothing arrives before the lanes are drained."""
        # Long-lived start-up objects (ORM, registry, detector arrays) leave the collector's view, and
        # collections run less often: full collections over them stalled ingest by 100 ms and more.
        gc.collect()
        gc.freeze()
        gc.set_threshold(GC_GEN0_THRESHOLD, 50, 100)
        self.telemetry.start()
        self.pipeline.start()
        if self.relay is not None:
            self.relay.start()
        if self.forwarder is not None:
            self.forwarder.start()
        if self.cluster is not None:
            self.cluster.start()  # the timers start with the scheduler lease
        else:
            self.timers.start()
        self._refresher.start()
        self.profile_reloader.start()
        for receiver in self.receivers:
            receiver.start()
        if self.dc09:
            self.dc09.start_thread()
        if self.catch_all:
            self.catch_all.start()

    def stop(self) -> None:
        """Stop intake first, then drain the lanes and flush telemetry."""
        self._stop.set()
        self.profile_reloader.stop()
        if self.catch_all:
            self.catch_all.stop()
        for receiver in self.receivers:
            receiver.stop()
        if self.dc09:
            self.dc09.stop_thread()
        if self.cluster is not None:
            self.cluster.stop()  # hands every shard over, the scheduler's timers with it
        else:
            self.timers.stop()
        if self.forwarder is not None:
            self.forwarder.stop()
        self.pipeline.stop()
        if self.relay is not None:
            self.relay.stop()
        self.directory.flush_pending()
        self.telemetry.stop()
        self.engine.dispose()

    def _refresh_loop(self) -> None:
        # Devices bound or imported by another process (CLI) become known within a few seconds; a full
        # reload (which costs the ingest threads GIL time) only when the registry changed, or each minute.
        beats = 0
        while not self._stop.wait(5.0):
            beats += 1
            try:
                if beats % 12 == 0:
                    self.directory.refresh()
                else:
                    self.directory.refresh_if_changed()
            except Exception:
                log.exception("device directory refresh failed")


def _exit(_signum: int, _frame: object) -> None:
    raise SystemExit(0)


def serve_http(app: object, host: str, port: int) -> None:
    """Serve the API until SIGINT or SIGTERM; return (not die) so the caller's clean stop runs.

    uvicorn re-raises the signal that stopped it once it has shut down; with the default SIGTERM action
    that killed the process before the hub could hand its shards over, drain its lanes and save state.
    """
    import uvicorn

    signal.signal(signal.SIGTERM, _exit)
    # Open live feeds (SSE) would hold a graceful stop forever: give them a few seconds, then close them.
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=SHUTDOWN_GRACE_S)
    except SystemExit as stop:
        if stop.code not in (0, None):
            raise


def run_serve(settings: Settings | None = None) -> None:
    """Run the hub and its HTTP API until interrupted."""
    from hub.api import create_app

    settings = settings or get_settings()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    hub = Hub(settings)
    hub.start()
    try:
        serve_http(create_app(hub), settings.http_host, settings.http_port)
    finally:
        hub.stop()
