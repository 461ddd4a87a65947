"""The simulator: population, device behaviours, MQTT links and the 1 s tick loop.

Connections (each a paho-mqtt 2.x client, MQTT 3.1.1):
- `z2m`: the Zigbee2MQTT bridge; will = retained `zigbee2mqtt/bridge/state` `{"state":"offline"}`;
- `watch`: the watch vendor's platform forwarding watch JSON;
- `ctwing`: the CTWing platform forwarding NB-IoT dataReports;
- wristbands: one connection per wristband (client id = native id) with will = retained
  `carehub/v1/<id>/status` offline, `reason` "connection_lost" — up to `own_connection_limit`
  wristbands; above that (benchmarks) all wristbands share one `native` connection and their
  offline status is published explicitly instead of by the broker.

Time: every tick advances simulated time by 1 s. `start()` ticks in real time scaled by `speed`
(injectable `clock`); `start(realtime=False)` + `advance(seconds)` ticks as fast as possible, which the
tests and the benchmark use. Messages carry simulated time.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import queue
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import numpy as np
import paho.mqtt.client as mqtt

from firmware_sim import wire
from firmware_sim.accel import AccelBank, Activity
from firmware_sim.care_home import (
    PROFILE_CTWING,
    PROFILE_NATIVE,
    PROFILE_WATCH,
    PROFILE_Z2M,
    Z2M_MODELS,
    CareHome,
    SimDevice,
    Timing,
    build_care_home,
)
from firmware_sim.devices import CTWingSmoke, DeviceSim, Vitals, Watch, Wristband, Z2MDevice, Z2MSosButton

if TYPE_CHECKING:
    from firmware_sim.scenarios import DailyRoutine, Incident

log = logging.getLogger(__name__)

# Heart-rate offset (bpm) over the resident's resting rate, per activity.
_HR_OFFSET = {Activity.REST: 0, Activity.STAND: 4, Activity.WALK: 18, Activity.SLEEP: -8, Activity.EAT: 5,
              Activity.TRANSITION: 10, Activity.FALL: 25}


class _Link:
    """Where a group of devices publishes (an MQTT connection or the in-memory outbox)."""

    def publish(self, topic: str, payload: bytes, qos: int, retain: bool) -> None:
        raise NotImplementedError

    def connect(self) -> None:
        """Open the link."""

    def wait_connected(self, timeout: float) -> bool:
        """Return True once the link is up."""
        return True

    def close(self) -> None:
        """Close cleanly (no will)."""

    def drop(self) -> None:
        """Close abruptly, as a device losing power or coverage would (the broker sends the will)."""


class _MemoryLink(_Link):
    def __init__(self, outbox: deque) -> None:
        self.outbox = outbox

    def publish(self, topic: str, payload: bytes, qos: int, retain: bool) -> None:
        self.outbox.append((topic, payload, qos, retain))


class _MqttLink(_Link):
    """One paho client; `on_up` runs on every (re)connection."""

    def __init__(self, url: str, client_id: str, *, will: tuple[str, bytes] | None = None,
                 on_up: Callable[[_MqttLink], None] | None = None, record: deque | None = None) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts", "tcp"):
            raise ValueError(f"unsupported MQTT URL {url!r} (use mqtt://host:port)")
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or (8883 if parts.scheme == "mqtts" else 1883)
        self.on_up, self.record = on_up, record
        self._up = threading.Event()
        self._ever_up = False
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                                  protocol=mqtt.MQTTv311, clean_session=True)
        if parts.username:
            self.client.username_pw_set(parts.username, parts.password)
        if parts.scheme == "mqtts":
            self.client.tls_set()
        if will:
            self.client.will_set(will[0], will[1], qos=1, retain=True)
        self.client.max_inflight_messages_set(200)
        self.client.reconnect_delay_set(0.5, 10)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.warning("MQTT connect refused for %s: %s", client._client_id, reason_code)
            return
        again = self._ever_up
        self._ever_up = True
        self._up.set()
        if again and self.on_up:
            self.on_up(self)

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self._up.clear()

    def connect(self) -> None:
        self.client.connect_async(self.host, self.port, keepalive=30)
        self.client.loop_start()

    def wait_connected(self, timeout: float) -> bool:
        return self._up.wait(timeout)

    def publish(self, topic: str, payload: bytes, qos: int, retain: bool) -> None:
        # QoS 1 messages are queued by paho while disconnected; QoS 0 ones are lost, like on a real device.
        self.client.publish(topic, payload, qos=qos, retain=retain)
        if self.record is not None:
            self.record.append((topic, payload, qos, retain))

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def drop(self) -> None:
        self.client.loop_stop()
        sock = self.client.socket()
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()


class _ContactIdWorker:
    """Feeds Contact ID events and heartbeats to the serial receiver without blocking the tick loop."""

    def __init__(self, port: str) -> None:
        from firmware_sim.receiver import SimulatedReceiver  # owned by the receiver module's author

        self.receiver = SimulatedReceiver(port)
        self.jobs: queue.Queue = queue.Queue()
        self.thread = threading.Thread(target=self._run, name="contact-id", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while True:
            job = self.jobs.get()
            if job is None:
                return
            try:
                job()
            except Exception:  # a serial hiccup must not stop the simulator
                log.exception("Contact ID receiver failed")

    def event(self, account: str, code: int, qualifier: int, group: int, zone: int) -> None:
        # Receiver output uses E/R/P for the Contact ID qualifiers 1 (new), 3 (restore), 6 (still present).
        q = {1: "E", 3: "R", 6: "P"}[qualifier]
        args = (account, f"{code:03d}", q, f"{group:02d}", f"{zone:03d}")
        self.jobs.put(lambda: self.receiver.send_event(*args))

    def heartbeat(self) -> None:
        self.jobs.put(self.receiver.send_heartbeat)

    def close(self) -> None:
        self.jobs.put(None)
        self.thread.join(10)
        self.receiver.close()


class Simulator:
    """A simulated care home speaking the real wire formats to an MQTT broker (and a serial receiver)."""

    tick_s = 1.0

    def __init__(self, mqtt_url: str | None, *, residents: int = 20, sites: int = 1, seed: int = 1,
                 speed: float = 1.0, accel_rate_hz: int = 50, timing: Timing | None = None,
                 serial: str | None = None, clock: Callable[[], float] = time.time,
                 start_time: float | None = None, tz: tzinfo | None = None, accel: bool = True,
                 own_connection_limit: int = 200, record: bool = False, client_prefix: str = "carehub-sim",
                 outbox_size: int = 200_000) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.mqtt_url, self.seed, self.speed, self.clock, self.tz = mqtt_url, seed, speed, clock, tz
        self.timing = timing or Timing()
        self.serial = serial
        self.accel_enabled = accel
        self.accel_rate_hz = accel_rate_hz
        self.client_prefix = client_prefix
        self.care_home: CareHome = build_care_home(residents=residents, sites=sites, seed=seed,
                                                   timing=self.timing)
        self.rng = np.random.default_rng([seed, 7])
        self.outbox: deque = deque(maxlen=outbox_size)
        self._record = record or mqtt_url is None
        self.contact_id_log: list[tuple[float, str, int, int, int, int]] = []
        self.incidents: list[Incident] = []
        self.routine: DailyRoutine | None = None  # set by the ordinary_day scenario
        self.stats = {"messages": 0, "bytes": 0, "accel_batches": 0, "ticks": 0, "late_ticks": 0}
        self._t = float(start_time if start_time is not None else clock())
        self._heap: list[tuple[float, int, Callable[[], object]]] = []
        self._counter = itertools.count()
        self._lock = threading.RLock()
        self._tickers: list[Callable[[float], None]] = []
        self._links: dict[str, _Link] = {}
        self._dropped: set[str] = set()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._started = False
        self._receiver: _ContactIdWorker | None = None
        self._build_behaviours()
        self.own_connections = mqtt_url is not None and len(self.wristbands) <= own_connection_limit

    # ------------------------------------------------------------ population

    @property
    def population(self) -> list[SimDevice]:
        """Return every simulated device (with `key` = the hub's device key, `aliases` = other keys)."""
        return self.care_home.devices

    def export_registry_csv(self, path: str | Path) -> Path:
        """Write the devices CSV for the hub's importer (`carehub devices import`)."""
        return self.care_home.export_registry_csv(path)

    def device(self, key: str) -> DeviceSim:
        """Return the behaviour of the device with this key (or alias)."""
        if key in self.behaviours:
            return self.behaviours[key]
        for spec in self.population:
            if key in spec.aliases:
                return self.behaviours[spec.key]
        raise KeyError(key)

    def _build_behaviours(self) -> None:
        t = self.timing
        self.behaviours: dict[str, DeviceSim] = {}
        self.wristbands: list[Wristband] = []
        for n, spec in enumerate(self.population):
            rng = np.random.default_rng([self.seed, 11, n])
            behaviour: DeviceSim | None = None
            if spec.profile == PROFILE_Z2M:
                cls = Z2MSosButton if spec.kind == "sos_button" else Z2MDevice
                behaviour = cls(spec, self, rng, t.z2m_report_s)
            elif spec.profile == PROFILE_CTWING:
                behaviour = CTWingSmoke(spec, self, rng, t.ctwing_report_s)
            elif spec.profile == PROFILE_WATCH:
                behaviour = Watch(spec, self, rng, t)
            elif spec.profile == PROFILE_NATIVE:
                behaviour = Wristband(spec, self, rng, t.wristband_telemetry_s, slot=len(self.wristbands))
                self.wristbands.append(behaviour)
            if behaviour is not None:
                self.behaviours[spec.key] = behaviour
        residents = self.care_home.residents
        self.slot_of_resident = np.full(len(residents), -1)
        for wb in self.wristbands:
            self.slot_of_resident[wb.spec.resident_index] = wb.slot
        self.bank = AccelBank(max(1, len(self.wristbands)), rate_hz=self.accel_rate_hz, seed=self.seed)
        self.hr_rest = np.array([r.hr_rest for r in residents])
        self.spo2_base = np.array([r.spo2 for r in residents])
        self.hr = self.hr_rest.copy()
        self.steps = np.zeros(len(residents))
        self.skin = self.rng.uniform(32.5, 34.0, len(residents))
        self._accel_topics = [wire.native_accel_topic(wb.spec.native_id) for wb in self.wristbands]

    # ------------------------------------------------------------ Context for device behaviours

    def now(self) -> float:
        """Return the current simulated time (epoch seconds)."""
        return self._t

    def after(self, delay: float, fn: Callable[[], object]) -> None:
        """Run `fn` at the first tick at or after now + delay (simulated seconds)."""
        with self._lock:
            heapq.heappush(self._heap, (self._t + max(0.0, delay), next(self._counter), fn))

    def at_time(self, t: float, fn: Callable[[], object]) -> None:
        """Run `fn` at the first tick at or after simulated time `t`."""
        with self._lock:
            heapq.heappush(self._heap, (t, next(self._counter), fn))

    def add_ticker(self, fn: Callable[[float], None]) -> None:
        """Call `fn(t)` at every tick (before acceleration is generated)."""
        with self._lock:
            self._tickers.append(fn)

    def publish(self, link: str, topic: str, payload: bytes, *, qos: int = 0, retain: bool = False) -> None:
        """Publish on a named link; dropped links swallow messages like a dead radio."""
        if link in self._dropped:
            return
        target = self._link(link)
        if target is None:
            return
        target.publish(topic, payload, qos, retain)
        self.stats["messages"] += 1
        self.stats["bytes"] += len(payload)

    def vitals(self, resident_index: int) -> Vitals:
        """Return the resident's current vital signs."""
        slot = int(self.slot_of_resident[resident_index])
        act = int(self.bank.act[slot]) if slot >= 0 else int(Activity.REST)
        spo2 = self.spo2_base[resident_index] - (0.8 if act == Activity.SLEEP else 0.0)
        return Vitals(heart_rate=float(self.hr[resident_index]),
                      spo2=float(np.clip(spo2 + self.rng.normal(0, 0.3), 85, 100)),
                      steps=int(self.steps[resident_index]), activity=act,
                      skin_temperature=float(self.skin[resident_index]))

    def drop_link(self, link: str) -> None:
        """Cut a wristband's connection abruptly (its will announces it offline)."""
        with self._lock:
            if link in self._dropped:
                return
            self._dropped.add(link)
            target = self._links.pop(link, None)
        if isinstance(target, _MqttLink):
            threading.Thread(target=target.drop, daemon=True).start()
        elif link.startswith("native:"):
            native_id = link.split(":", 1)[1]
            self._link(link).publish(*wire.native_status(native_id, ts=self._t, online=False,
                                                         reason="connection_lost"), 1, True)

    def restore_link(self, link: str) -> None:
        """Reconnect a dropped wristband connection."""
        with self._lock:
            if link not in self._dropped:
                return
            self._dropped.discard(link)
        if self._started and self.own_connections and link.startswith("native:"):
            self._links[link] = self._open_native(link.split(":", 1)[1], wait=False)

    def contact_id(self, account: str, code: int, qualifier: int, group: int, zone: int) -> None:
        """Send a Contact ID event through the serial receiver (logged when there is none)."""
        self.contact_id_log.append((self._t, account, code, qualifier, group, zone))
        if self._receiver is not None:
            self._receiver.event(account, code, qualifier, group, zone)

    # ------------------------------------------------------------ links

    def _link(self, name: str) -> _Link | None:
        link = self._links.get(name)
        if link is None and name.startswith("native:"):
            link = self._links.get("native")
        if link is None and not self._started:
            return None
        return link

    def _open_native(self, native_id: str, *, wait: bool) -> _Link:
        will = wire.native_status(native_id, ts=self._t, online=False, reason="connection_lost")

        def on_up(link: _MqttLink) -> None:
            link.publish(*wire.native_status(native_id, ts=self._t, online=True), 1, True)

        link = _MqttLink(self.mqtt_url, native_id, will=will, on_up=on_up, record=self._rec())
        link.connect()
        if wait and not link.wait_connected(15):
            raise ConnectionError(f"wristband {native_id} could not connect to {self.mqtt_url}")
        return link

    def _rec(self) -> deque | None:
        return self.outbox if self._record else None

    def _open_links(self) -> None:
        if self.mqtt_url is None:
            memory = _MemoryLink(self.outbox)
            for name in ("z2m", "watch", "ctwing", "native"):
                self._links[name] = memory
            return
        prefix = f"{self.client_prefix}-{self.seed}"

        def bridge_up(link: _MqttLink) -> None:
            link.publish(*wire.z2m_bridge_state(True), 1, True)

        self._links["z2m"] = _MqttLink(self.mqtt_url, f"{prefix}-z2m", will=wire.z2m_bridge_state(False),
                                       on_up=bridge_up, record=self._rec())
        self._links["watch"] = _MqttLink(self.mqtt_url, f"{prefix}-watch", record=self._rec())
        self._links["ctwing"] = _MqttLink(self.mqtt_url, f"{prefix}-ctwing", record=self._rec())
        if not self.own_connections:
            self._links["native"] = _MqttLink(self.mqtt_url, f"{prefix}-native", record=self._rec())
        for link in list(self._links.values()):
            link.connect()
        if self.own_connections:
            for wb in self.wristbands:
                self._links[wb.link] = self._open_native(wb.spec.native_id, wait=False)
        deadline = time.monotonic() + 20
        for name, link in self._links.items():
            if not link.wait_connected(max(0.1, deadline - time.monotonic())):
                raise ConnectionError(f"link {name} could not connect to {self.mqtt_url}")

    def _announce(self) -> None:
        self.publish("z2m", *wire.z2m_bridge_state(True), qos=1, retain=True)
        z2m = [d for d in self.population if d.profile == PROFILE_Z2M]
        entries = [{"ieee_address": d.ieee_address, "friendly_name": d.z2m_name, "model": d.model,
                    "vendor": d.vendor, "description": Z2M_MODELS[d.model][3], "exposes": d.exposes,
                    "network_address": int(d.ieee_address[-4:], 16),
                    "type": "Router" if d.model == "JT-BZ-01AQ/A" else "EndDevice",
                    "power_source": "Mains (single phase)" if d.model == "JT-BZ-01AQ/A" else "Battery"}
                   for d in z2m]
        coordinator = "0x00124b00" + f"{self.seed & 0xFFFFFFFF:08x}"
        self.publish("z2m", *wire.z2m_bridge_devices(entries, coordinator), qos=1, retain=True)
        for behaviour in self.behaviours.values():
            behaviour.start()

    # ------------------------------------------------------------ lifecycle

    def start(self, *, realtime: bool = True) -> None:
        """Connect, announce every device, and (when `realtime`) tick in a background thread."""
        if self._started:
            return
        if self.serial:  # open the serial line first: a wrong port fails before anything is announced
            try:
                self._receiver = _ContactIdWorker(self.serial)
            except ImportError:
                log.warning("firmware_sim.receiver is not available: Contact ID events are only logged")
            self._schedule_receiver_heartbeat()
        self._open_links()
        self._started = True
        with self._lock:
            self._announce()
            self._tick(self._t)
        if realtime:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="firmware-sim", daemon=True)
            self._thread.start()

    def _schedule_receiver_heartbeat(self) -> None:
        def beat() -> None:
            if self._receiver is not None:
                self._receiver.heartbeat()
            self.after(self.timing.receiver_heartbeat_s, beat)

        self.after(0, beat)

    def stop(self) -> None:
        """Stop ticking, announce the shutdown (wristbands offline, bridge offline) and disconnect."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None
        if not self._started:
            return
        with self._lock:
            for wb in self.wristbands:
                if wb.link not in self._dropped:
                    self.publish(wb.link, *wire.native_status(wb.spec.native_id, ts=self._t, online=False,
                                                              reason="shutdown"), qos=1, retain=True)
            self.publish("z2m", *wire.z2m_bridge_state(False), qos=1, retain=True)
            links = {id(link): link for link in self._links.values()}.values()
            self._links.clear()
            self._started = False
        for link in links:
            link.close()
        if self._receiver is not None:
            self._receiver.close()
            self._receiver = None

    def run_scenario(self, name: str, **kw: Any) -> Incident | None:
        """Schedule a scenario by name (see `firmware_sim.scenarios.SCENARIOS`); return its incident."""
        from firmware_sim import scenarios

        with self._lock:  # scripts touch device and acceleration state the tick thread uses
            return scenarios.run(self, name, **kw)

    def advance(self, seconds: float) -> None:
        """Tick `seconds` of simulated time as fast as possible (use with `start(realtime=False)`)."""
        for _ in range(int(round(seconds / self.tick_s))):
            with self._lock:
                self._tick(self._t + self.tick_s)

    def _run(self) -> None:
        wall0, sim0 = self.clock(), self._t
        while not self._stop.is_set():
            target = self._t + self.tick_s
            delay = wall0 + (target - sim0) / self.speed - self.clock()
            if delay > 0:
                if self._stop.wait(delay):
                    return
            elif delay < -2 * self.tick_s / self.speed:
                self.stats["late_ticks"] += 1
            with self._lock:
                self._tick(target)

    def _tick(self, t: float) -> None:
        self._t = t
        self.stats["ticks"] += 1
        while self._heap and self._heap[0][0] <= t:
            _, _, fn = heapq.heappop(self._heap)
            try:
                fn()
            except Exception:  # one broken script must not stop the care home
                log.exception("scheduled action failed")
        for ticker in self._tickers:
            ticker(t)
        self._update_vitals()
        if self.accel_enabled and self.wristbands:
            self._publish_accel(t)

    def _update_vitals(self) -> None:
        slots = self.slot_of_resident
        act = np.where(slots >= 0, self.bank.act[np.maximum(slots, 0)], Activity.REST)
        offset = np.vectorize(_HR_OFFSET.get, otypes=[float])(act)
        k = 1 - np.exp(-self.tick_s / 30.0)
        self.hr += (self.hr_rest + offset - self.hr) * k + self.rng.normal(0, 0.3, len(self.hr))
        walking = act == Activity.WALK
        self.steps[walking] += self.bank.cadence[slots[walking]] * self.tick_s

    def _publish_accel(self, t: float) -> None:
        bank = self.bank
        times, keep = bank.sample_times(t)
        counts = wire.to_counts(bank.generate(t, times))
        offsets = np.clip(np.rint((times - t) * 1000), 0, 65535).astype("<u2")
        rate = bank.rate_hz
        for wb, topic in zip(self.wristbands, self._accel_topics, strict=True):
            if not wb.alive:
                continue
            i = wb.slot
            if bank.jittered[i]:
                k = keep[i]
                payload = wire.encode_accel(t, rate, counts[i][k], offsets[i][k])
            else:
                payload = wire.encode_accel(t, rate, counts[i])
            self.publish(wb.link, topic, payload, qos=0)
            self.stats["accel_batches"] += 1
