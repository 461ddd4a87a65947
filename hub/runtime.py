"""The running hub: wires drivers, lanes, recorder, processor, telemetry, health and the API together."""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Callable
from zoneinfo import ZoneInfo

from device_drivers.model import DeviceInfo, Message
from device_drivers.profiles.builtin import build_profiles
from device_drivers.registry import ProfileSet
from device_drivers.sia_dc09 import parse_key
from device_drivers.transports.contact_id_receiver import ContactIdReceiver
from device_drivers.transports.sia_dc09_server import SiaDc09Server
from hub import migrate
from hub.alerts.bus import AlertBus
from hub.alerts.flows import AlertFlow, public
from hub.alerts.telemetry import make_listener as alert_telemetry
from hub.config import Settings, get_settings
from hub.db import make_engine, make_session_factory
from hub.detect.engine import DetectionEngine
from hub.devices.directory import DeviceDirectory, DeviceRef
from hub.escalation.effects import MessageContext, StepEffects
from hub.escalation.engine import EscalationEngine
from hub.health.state import DeviceHealth
from hub.ingest.alarm_recorder import AlarmRecorder
from hub.ingest.lanes import AlarmLane, TelemetryLane
from hub.ingest.mqtt_client import CatchAllIngest, MqttIngest
from hub.ingest.processor import Processor
from hub.ingest.router import IngestRouter
from hub.ledgers.flows import AlertHazards
from hub.notifications.sender import NotificationSender
from hub.profiles.reload import ProfileReloader
from hub.schedules import register as register_schedules
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
        self.alarm_lane, self.telemetry_lane = AlarmLane(), TelemetryLane()
        self.router = IngestRouter(self.profiles, self.alarm_lane, self.telemetry_lane,
                                   device_kind=self._device_kind)
        self.processor = Processor(lane=self.telemetry_lane, directory=self.directory, health=self.health,
                                   telemetry=self.telemetry, session_factory=self.session_factory)
        self.recorder = AlarmRecorder(lane=self.alarm_lane, session_factory=self.session_factory,
                                      directory=self.directory, processor=self.processor)
        self.mqtt: MqttIngest | None = None
        if settings.mqtt_url:
            host, port = settings.mqtt_host_port
            self.mqtt = MqttIngest(host=host, port=port, client_id=settings.mqtt_client_id,
                                   subscriptions=self.profiles.subscriptions, router=self.router,
                                   username=settings.mqtt_username, password=settings.mqtt_password)
        self.catch_all: CatchAllIngest | None = None
        if self.mqtt and settings.mqtt_catch_all:
            mqtt = self.mqtt
            self.catch_all = CatchAllIngest(
                host=host, port=port, client_id=f"{settings.mqtt_client_id}-catch-all",
                covered_by=lambda: mqtt.subscriptions, router=self.router, ignore=settings.mqtt_catch_all_ignore,
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
        self.processor.add_listener(self._on_discovery)
        self.profile_reloader = ProfileReloader(profiles=self.profiles, profile_dirs=settings.profile_dirs,
                                                on_swap=self._swap_profiles, interval_s=settings.profile_reload_s)
        self.detections = DetectionEngine(session_factory=self.session_factory, clock=clock,
                                          fall_cancel_window_s=settings.fall_cancel_window_s,
                                          latch_expiry_s=settings.latch_expiry_s)
        self.processor.add_listener(self.detections.on_messages)
        self.alert_bus = AlertBus()
        self.alert_bus.listeners.append(alert_telemetry(self.telemetry.enqueue_lines))
        self.alert_bus.listeners.append(self.detections.on_alert_change)  # a closed alert releases its latches
        self.alerts = AlertFlow(session_factory=self.session_factory, bus=self.alert_bus,
                                priorities=settings.alert_priorities, arrival_timeout_s=settings.arrival_timeout_s,
                                clock=clock)
        self.detections.alerts = self.alerts
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
        self.sender = NotificationSender(session_factory=self.session_factory, clock=clock,
                                         max_attempts=settings.notify_max_attempts,
                                         backoff_s=settings.notify_backoff_s,
                                         max_backoff_s=settings.notify_max_backoff_s)
        self.timers = TimerLoop(engine=self.escalation, sender=self.sender, clock=clock,
                                tick_s=settings.escalation_tick_s)
        register_schedules(self.timers, self.session_factory, settings)
        self._stop = threading.Event()
        self._refresher = threading.Thread(target=self._refresh_loop, name="carehub-directory", daemon=True)

    def _device_kind(self, device_key: str) -> str | None:
        ref = self.directory.lookup(device_key)
        return ref.kind if ref else None

    def _on_discovery(self, messages: list[Message], _ref: DeviceRef | None) -> None:
        # Home Assistant discovery teaches the hub new state topics: subscribe to them as they appear.
        if self.mqtt:
            for message in messages:
                if type(message) is DeviceInfo and message.source == "homeassistant":
                    self.mqtt.ensure_subscribed(self.profiles.subscriptions)
                    return

    def _swap_profiles(self, profiles: ProfileSet) -> None:
        # One reference each: the router picks the new set up with its next message; then the new topics.
        self.profiles = self.router.profiles = profiles
        if self.mqtt:
            self.mqtt.ensure_subscribed(profiles.subscriptions)

    def live_state(self, device_id: int) -> dict:
        """Return the live health state of a registered device (empty when nothing heard yet)."""
        state = self.health.state(f"device:{device_id}")
        return state.as_dict() if state else {}

    def _serial_handler(self, port: str) -> Callable[[list[Message]], None]:
        def handle(messages: list[Message]) -> None:
            # Returning normally makes the driver ACK; raising makes it NAK so the receiver retries.
            if not self.router.receive_decoded("serial", "contact_id", port, messages, wait=SERIAL_ACK_WAIT_S):
                raise RuntimeError("serial record not recorded in time")

        return handle

    def _dc09_handler(self, messages: list[Message]) -> None:
        # As on serial: returning makes the server ACK, raising makes it NAK so the transmitter retries.
        if not self.router.receive_decoded("dc09", "sia_dc09", "sia_dc09", messages, wait=DC09_ACK_WAIT_S):
            raise RuntimeError("DC-09 frame not recorded in time")

    def start(self) -> None:
        """Start every component; MQTT last, so nothing arrives before the lanes are drained."""
        # Long-lived start-up objects (ORM, registry, detector arrays) leave the collector's view, and
        # collections run less often: full collections over them stalled ingest by 100 ms and more.
        gc.collect()
        gc.freeze()
        gc.set_threshold(GC_GEN0_THRESHOLD, 50, 100)
        self.telemetry.start()
        self.detections.start()
        self.recorder.recover()
        self.timers.start()
        self.processor.start()
        self.recorder.start()
        self._refresher.start()
        self.profile_reloader.start()
        for receiver in self.receivers:
            receiver.start()
        if self.dc09:
            self.dc09.start_thread()
        if self.mqtt:
            self.mqtt.start()
        if self.catch_all:
            self.catch_all.start()

    def stop(self) -> None:
        """Stop intake first, then drain the lanes and flush telemetry."""
        self._stop.set()
        self.profile_reloader.stop()
        if self.catch_all:
            self.catch_all.stop()
        if self.mqtt:
            self.mqtt.stop()
        for receiver in self.receivers:
            receiver.stop()
        if self.dc09:
            self.dc09.stop_thread()
        self.recorder.stop()
        self.processor.stop()
        self.detections.stop()
        self.timers.stop()
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


def run_serve(settings: Settings | None = None) -> None:
    """Run the hub and its HTTP API until interrupted."""
    import uvicorn

    from hub.api import create_app

    settings = settings or get_settings()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    hub = Hub(settings)
    hub.start()
    try:
        # Open live feeds (SSE) would hold a graceful stop forever: give them a few seconds, then close them.
        uvicorn.run(create_app(hub), host=settings.http_host, port=settings.http_port, log_level="warning",
                    timeout_graceful_shutdown=SHUTDOWN_GRACE_S)
    finally:
        hub.stop()
