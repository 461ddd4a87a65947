"""Device behaviours: what each simulated device publishes, when, and how it fails.

A behaviour owns its device's state (battery, alarm flags, sequence numbers) and speaks through a
`Context` (the runner): simulated time, publishing on a named link, timers, resident vitals and the
Contact ID receiver. Alarms are published at QoS 1, routine state at QoS 0 (Zigbee2MQTT's default).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import tzinfo
from typing import Any, Protocol

import numpy as np

from firmware_sim import wire
from firmware_sim.care_home import SimDevice, Timing

QOS_ALARM = 1  # an alarm must survive a reconnect of the device's link
FIRST_REPORT_WITHIN_S = 8.0  # a freshly started simulator shows live readings at once
QOS_ROUTINE = 0  # periodic state: the next report supersedes a lost one
BATTERY_LOW_AT = 15.0


@dataclass(slots=True, frozen=True)
class Vitals:
    """A resident's current vital signs as their wearables measure them."""

    heart_rate: float
    spo2: float
    steps: int
    activity: int
    skin_temperature: float


class Context(Protocol):
    """What a device behaviour may use from the runner."""

    tz: tzinfo | None

    def now(self) -> float: ...

    def publish(self, link: str, topic: str, payload: bytes, *, qos: int = 0,
                retain: bool = False) -> None: ...

    def after(self, delay: float, fn: Callable[[], object]) -> None: ...

    def vitals(self, resident_index: int) -> Vitals: ...

    def drop_link(self, link: str) -> None: ...

    def restore_link(self, link: str) -> None: ...

    def contact_id(self, account: str, code: int, qualifier: int, group: int, zone: int) -> None: ...


class DeviceSim:
    """Common behaviour: a periodic report, a battery, going silent and coming back."""

    link = ""
    has_battery = True

    def __init__(self, spec: SimDevice, ctx: Context, rng: np.random.Generator, period_s: float) -> None:
        self.spec, self.ctx, self.rng = spec, ctx, rng
        self.period_s = period_s
        self.alive = True
        self.battery = float(rng.uniform(55, 100)) if self.has_battery else 100.0
        self.drain_per_s = float(rng.uniform(0.2, 1.0)) / 86400 if self.has_battery else 0.0
        self.battery_low = False
        self._battery_t = 0.0
        self._chain = 0

    @property
    def key(self) -> str:
        """Return the device key the hub uses."""
        return self.spec.key

    def start(self) -> None:
        """Announce the device and send its first report within a few seconds, like a device powering up."""
        self._battery_t = self.ctx.now()
        self.announce()
        self._start_chain(float(self.rng.uniform(0.0, min(self.period_s, FIRST_REPORT_WITHIN_S))))

    def reschedule(self, period_s: float | None = None, first_in: float = 0.0) -> None:
        """Change the report period and restart the report timer."""
        if period_s is not None:
            self.period_s = period_s
        self._start_chain(first_in)

    def _start_chain(self, first_in: float) -> None:
        self._chain += 1
        chain = self._chain
        self.ctx.after(first_in, lambda: self._periodic(chain))

    def _periodic(self, chain: int) -> None:
        if chain != self._chain or not self.alive:
            return
        self.update_battery()
        if self.alive:
            self.report()
            self.ctx.after(self.period_s, lambda: self._periodic(chain))

    def update_battery(self) -> None:
        """Drain the battery to now; raise battery_low, and die when it is empty."""
        now = self.ctx.now()
        self.battery = max(0.0, self.battery - self.drain_per_s * (now - self._battery_t))
        self._battery_t = now
        if not self.has_battery:
            return
        if self.battery <= BATTERY_LOW_AT and not self.battery_low:
            self.battery_low = True
            self.on_battery_low()
        if self.battery <= 0.0 and self.alive:
            self.alive = False
            self.on_dead()

    def replace_battery(self) -> None:
        """Fit a fresh battery and bring the device back."""
        self.battery, self.battery_low = 100.0, False
        self.drain_per_s = float(self.rng.uniform(0.2, 1.0)) / 86400
        self._battery_t = self.ctx.now()
        self.restore()

    def go_silent(self, *, offline_signal: bool = False, offline_after_s: float = 0.0) -> None:
        """Stop publishing; with `offline_signal`, also emit the transport's offline signal."""
        self.alive = False
        self._chain += 1
        if offline_signal:
            self.ctx.after(offline_after_s, self.signal_offline)

    def restore(self) -> None:
        """Resume publishing after silence (re-announce, then report at once)."""
        self.alive = True
        self._battery_t = self.ctx.now()
        self.announce()
        self._start_chain(0.0)

    # Hooks for subclasses.
    def announce(self) -> None:
        """Publish whatever the transport says when a device (re)appears."""

    def report(self) -> None:
        """Publish the periodic report."""

    def on_battery_low(self) -> None:
        """Publish the low-battery indication."""
        self.report()

    def on_dead(self) -> None:
        """React to an empty battery (default: just stop)."""

    def signal_offline(self) -> None:
        """Emit the transport's offline signal, when it has one."""


# ---------------------------------------------------------------- Zigbee2MQTT


class Z2MDevice(DeviceSim):
    """A Zigbee device behind the simulated Zigbee2MQTT bridge; publishes its full state object."""

    link = "z2m"

    def __init__(self, spec: SimDevice, ctx: Context, rng: np.random.Generator, period_s: float) -> None:
        self.has_battery = spec.model != "JT-BZ-01AQ/A"  # the Aqara gas detector is mains powered
        super().__init__(spec, ctx, rng, period_s)
        self.linkquality = int(rng.integers(60, 200))
        self.state: dict[str, Any] = _initial_z2m_state(spec.model)

    def announce(self) -> None:
        """Publish retained availability `online`."""
        self.ctx.publish(self.link, *wire.z2m_availability(self.spec.z2m_name, True), qos=1, retain=True)

    def signal_offline(self) -> None:
        """Publish retained availability `offline` (Z2M does so after its availability timeout)."""
        self.ctx.publish(self.link, *wire.z2m_availability(self.spec.z2m_name, False), qos=1, retain=True)

    def on_dead(self) -> None:
        """Z2M notices a dead battery device only through its availability timeout."""
        self.ctx.after(self.period_s, self.signal_offline)

    def _refresh(self) -> None:
        self.linkquality = int(np.clip(self.linkquality + self.rng.integers(-6, 7), 20, 255))
        if "linkquality" in self.state:
            self.state["linkquality"] = self.linkquality
        if "battery" in self.state:
            self.state["battery"] = int(round(self.battery))
        if "voltage" in self.state:
            self.state["voltage"] = int(2600 + 4 * self.battery)
        if "battery_low" in self.state:
            self.state["battery_low"] = self.battery_low

    def publish_state(self, qos: int = QOS_ROUTINE) -> None:
        """Publish the current full state."""
        if not self.alive:
            return
        self._refresh()
        self.ctx.publish(self.link, *wire.z2m_state(self.spec.z2m_name, self.state), qos=qos)

    def report(self) -> None:
        """Publish the periodic state (QoS 1 while an alarm flag is set)."""
        alarm = bool(self.state.get("smoke") or self.state.get("gas"))
        self.publish_state(QOS_ALARM if alarm else QOS_ROUTINE)

    def on_battery_low(self) -> None:
        """Report battery_low at QoS 1 (a maintenance alert, not an alarm, but it must arrive)."""
        self.publish_state(QOS_ALARM)

    def update(self, *, qos: int = QOS_ROUTINE, **fields: Any) -> None:
        """Change state fields and publish the full state."""
        self.state.update(fields)
        self.publish_state(qos)


class Z2MSosButton(Z2MDevice):
    """Tuya TS0215A_sos: `action` "emergency", then the reset to ""."""

    def press(self) -> None:
        """Publish the emergency action and its reset, both at QoS 1."""
        self.update(qos=QOS_ALARM, action="emergency")
        self.update(qos=QOS_ALARM, action="")


def _initial_z2m_state(model: str) -> dict[str, Any]:
    if model == "HS1SA":
        return {"battery": 100, "battery_low": False, "linkquality": 0, "smoke": False}
    if model == "JY-GZ-01AQ":
        return {"smoke": False, "smoke_density": 0, "smoke_density_dbm": 0.0, "test": False,
                "battery": 100, "voltage": 3000, "linkquality": 0}
    if model == "JTYJ-GD-01LM/BW":
        return {"smoke": False, "battery_low": False, "tamper": False, "battery": 100,
                "sensitivity": "medium", "smoke_density": 0, "test": False, "voltage": 3000,
                "device_temperature": 22.0, "linkquality": 0}
    if model == "JT-BZ-01AQ/A":
        return {"gas": False, "gas_density": 0, "gas_sensitivity": "15%LEL", "test": False, "state": "work",
                "linkquality": 0}
    if model == "TS0215A_sos":
        return {"action": "", "battery": 100, "voltage": 3000, "linkquality": 0}
    raise ValueError(f"no Zigbee2MQTT state for model {model}")


# ---------------------------------------------------------------- CTWing NB-IoT smoke detector


class CTWingSmoke(DeviceSim):
    """An NB-IoT smoke detector whose reports reach the hub as CTWing dataReport pushes."""

    link = "ctwing"

    def __init__(self, spec: SimDevice, ctx: Context, rng: np.random.Generator, period_s: float) -> None:
        super().__init__(spec, ctx, rng, period_s)
        self.status = wire.CT_ONLINE
        self.up_sn = int(rng.integers(0, 5000))
        self.rsrp = float(rng.uniform(-105, -75))

    def send(self, status: int, qos: int = QOS_ROUTINE) -> None:
        """Publish one dataReport with `Alarm_Status` = status."""
        if not self.alive:
            return
        self.up_sn += 1
        self.rsrp = float(np.clip(self.rsrp + self.rng.normal(0, 1.5), -120, -60))
        snr = int(np.clip((self.rsrp + 125) / 3 + self.rng.normal(0, 1), -5, 25))
        data = {"Alarm_Status": status, "Battery_Level": int(round(self.battery)),
                "RSRP": int(round(self.rsrp)), "SNR": snr, "CSQ": int(np.clip((self.rsrp + 113) / 2, 0, 31)),
                "IMEI": self.spec.imei}
        topic, payload = wire.ctwing_data_report(
            product_id=self.spec.ctwing_product_id, device_id=self.spec.ctwing_device_id, imei=self.spec.imei,
            ts=self.ctx.now(), service_id="smoke_alarm_report", service_data=data, up_sn=self.up_sn)
        self.ctx.publish(self.link, topic, payload, qos=qos)

    def report(self) -> None:
        """Publish the periodic report: online at power-up, then normal (or the standing alarm)."""
        status = self.status
        if status == wire.CT_ONLINE:
            self.status = wire.CT_NORMAL
        elif status == wire.CT_NORMAL and self.battery_low:
            status = wire.CT_LOW_VOLTAGE
        self.send(status, QOS_ALARM if status in (wire.CT_ALARM, wire.CT_LOW_VOLTAGE) else QOS_ROUTINE)

    def on_battery_low(self) -> None:
        """Report low voltage (status 4) at QoS 1."""
        self.send(wire.CT_LOW_VOLTAGE, QOS_ALARM)

    def set_alarm(self, on: bool) -> None:
        """Start (status 1) or end (status 7) a smoke alarm."""
        self.status = wire.CT_ALARM if on else wire.CT_NORMAL
        self.send(self.status, QOS_ALARM)


# ---------------------------------------------------------------- elderly watch


class Watch(DeviceSim):
    """A 4G elderly watch: heartbeat and batched vitals, SOS key and on-watch fall detection."""

    link = "watch"

    def __init__(self, spec: SimDevice, ctx: Context, rng: np.random.Generator, timing: Timing) -> None:
        super().__init__(spec, ctx, rng, timing.watch_heartbeat_s)
        self.drain_per_s = float(rng.uniform(15, 30)) / 86400  # a watch lasts a few days
        self.signal = int(rng.integers(55, 95))
        self.lbs = {"type": "LBS", "mcc": 460, "mnc": 0, "lac": int(rng.integers(4096, 40000)),
                    "cid": int(rng.integers(10000, 200000))}

    def report(self) -> None:
        """Publish the heartbeat, then the vitals records measured since the last report."""
        now = self.ctx.now()
        v = self.ctx.vitals(self.spec.resident_index)
        self.signal = int(np.clip(self.signal + self.rng.integers(-3, 4), 10, 100))
        self.ctx.publish(self.link, *wire.watch_heartbeat(
            self.spec.imei, ts=now, battery=int(round(self.battery)), signal=self.signal,
            satellites=int(self.rng.integers(0, 5)), steps=v.steps, tz=self.ctx.tz))
        n = max(1, int(self.period_s // 60))
        records = []
        for k in range(n):
            records.append({
                "time": int(now - 60 * (n - 1 - k)),
                "heartRate": int(round(v.heart_rate + self.rng.normal(0, 2))),
                "sbp": int(round(self.rng.normal(128, 6))), "dbp": int(round(self.rng.normal(80, 4))),
                # Watches report an estimated core temperature, not the raw skin reading.
                "bodyTemperature": round(float(36.5 + 0.3 * (v.skin_temperature - 33.0)
                                               + self.rng.normal(0, 0.1)), 1),
                "spo2": int(round(min(100.0, v.spo2 + self.rng.normal(0, 0.6)))),
            })
        self.ctx.publish(self.link, *wire.watch_vitals(self.spec.imei, records))

    def alarm(self, status: str) -> None:
        """Publish an SOS (`"SOS"`) or fall (`"FALL DOWN"`) alarm at QoS 1."""
        if not self.alive:
            return
        self.ctx.publish(self.link, *wire.watch_alarm(
            self.spec.imei, status, ts=self.ctx.now(), battery=int(round(self.battery)), location=self.lbs,
            tz=self.ctx.tz), qos=QOS_ALARM)


# ---------------------------------------------------------------- CareHub native wristband


class Wristband(DeviceSim):
    """A native CareHub wristband: telemetry, events, status (its connection's will) and accel batches."""

    def __init__(self, spec: SimDevice, ctx: Context, rng: np.random.Generator, period_s: float,
                 slot: int) -> None:
        super().__init__(spec, ctx, rng, period_s)
        self.link = f"native:{spec.native_id}"
        self.slot = slot
        self.seq = int(rng.integers(0, 1000))
        self.drain_per_s = float(rng.uniform(8, 15)) / 86400

    def next_seq(self) -> int:
        """Return the next message sequence number (shared by telemetry and events)."""
        self.seq = (self.seq + 1) % 2**31
        return self.seq

    def announce(self) -> None:
        """Publish retained status `online`."""
        self.ctx.restore_link(self.link)
        self.ctx.publish(self.link, *wire.native_status(self.spec.native_id, ts=self.ctx.now(), online=True),
                         qos=1, retain=True)

    def signal_offline(self) -> None:
        """Drop the connection without DISCONNECT so the broker publishes the will (status offline)."""
        self.ctx.drop_link(self.link)

    def on_dead(self) -> None:
        """An empty wristband's connection just dies."""
        self.ctx.drop_link(self.link)

    def report(self) -> None:
        """Publish telemetry: heart rate, SpO2, battery, steps, skin temperature."""
        v = self.ctx.vitals(self.spec.resident_index)
        readings = {"heart_rate": int(round(v.heart_rate)), "spo2": round(v.spo2, 1),
                    "battery": int(round(self.battery)), "steps": v.steps,
                    "skin_temperature": round(v.skin_temperature, 1)}
        self.ctx.publish(self.link, *wire.native_telemetry(
            self.spec.native_id, ts=self.ctx.now(), seq=self.next_seq(), readings=readings))

    def on_battery_low(self) -> None:
        """Raise a battery_low event (active) at QoS 1."""
        self.event("battery_low", "active", {"battery": int(round(self.battery))})

    def event(self, event: str, state: str, detail: dict[str, Any] | None = None) -> None:
        """Publish an event at QoS 1."""
        if not self.alive:
            return
        self.ctx.publish(self.link, *wire.native_event(
            self.spec.native_id, ts=self.ctx.now(), seq=self.next_seq(), event=event, state=state,
            detail=detail), qos=QOS_ALARM)
