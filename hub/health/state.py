"""Live device health: last seen, availability, battery, tamper, fault and latest readings."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from device_drivers.model import (
    AccelBatch,
    Availability,
    DeviceEvent,
    DeviceStatus,
    EventKind,
    EventState,
    Message,
    Reading,
)

if TYPE_CHECKING:
    from hub.devices.directory import DeviceRef

_FLAG_KINDS = {EventKind.BATTERY_LOW: "battery_low", EventKind.TAMPER: "tamper", EventKind.FAULT: "fault"}
_ALARM_FLAGS = {EventKind.SMOKE, EventKind.GAS, EventKind.CO, EventKind.HEAT}
UNMAPPED_PER_DEVICE = 50  # distinct unmapped field names kept per device; the rest count as `_other`


@dataclass(slots=True)
class LiveState:
    """What the hub currently knows about one device."""

    last_seen: float | None = None
    availability: str = "unknown"
    reason: str = ""
    battery: float | None = None
    battery_low: bool = False
    tamper: bool = False
    fault: bool = False
    alarms: set[str] = field(default_factory=set)
    readings: dict[str, tuple[float, str, float]] = field(default_factory=dict)
    # payload fields its profile does not map, with how many payloads carried each (docs/model.md)
    unmapped: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict:
        """Return a JSON-ready view."""
        return {
            "last_seen": self.last_seen,
            "availability": self.availability,
            "reason": self.reason,
            "battery": self.battery,
            "battery_low": self.battery_low,
            "tamper": self.tamper,
            "fault": self.fault,
            "alarms": sorted(self.alarms),
            "readings": {m: {"value": v, "unit": u, "ts": t} for m, (v, u, t) in self.readings.items()},
            "unmapped_fields": dict(self.unmapped),
        }


class DeviceHealth:
    """Tracks live state per device and supervises registered devices against their intervals."""

    def __init__(self, clock: Callable[[], float], battery_low_percent: float = 20.0) -> None:
        self.clock = clock
        self.battery_low_percent = battery_low_percent
        self.started_at = clock()
        self._states: dict[str, LiveState] = {}
        self._lock = threading.Lock()

    def state(self, key: str) -> LiveState | None:
        """Return the live state for a device key (registered devices use 'device:<id>')."""
        return self._states.get(key)

    def note_unmapped(self, key: str, fields: Iterable[str]) -> None:
        """Count fields a device sent that its profile does not map (shown with its live state)."""
        with self._lock:
            state = self._states.get(key)
            if state is None:
                state = self._states[key] = LiveState()
            counts = state.unmapped
            for name in fields:
                if name not in counts and len(counts) >= UNMAPPED_PER_DEVICE:
                    name = "_other"
                counts[name] = counts.get(name, 0) + 1

    def apply(self, key: str, message: Message) -> list[Message]:
        """Fold one message into the device's state; return derived messages (status/battery changes)."""
        return self.apply_many(key, [message])

    def apply_many(self, key: str, messages: list[Message]) -> list[Message]:
        """Fold one device's messages into its state in order; return derived messages.

        Device descriptions (DeviceInfo) say nothing about health and are passed over.
        """
        derived: list[Message] = []
        with self._lock:
            state = self._states.get(key)
            if state is None:
                state = self._states[key] = LiveState()
            for message in messages:
                kind = type(message)
                if kind is DeviceStatus:
                    if message.availability != state.availability:
                        state.availability = message.availability
                        state.reason = message.reason
                    continue
                if kind is not Reading and kind is not DeviceEvent and kind is not AccelBatch:
                    continue
                ts = message.ts
                if state.last_seen is None or ts > state.last_seen:
                    state.last_seen = ts
                if state.availability != Availability.ONLINE:
                    was_offline = state.availability == Availability.OFFLINE
                    state.availability, state.reason = Availability.ONLINE, "message received"
                    if was_offline:
                        derived.append(DeviceStatus(message.device_key, Availability.ONLINE, ts, "health",
                                                    "device is sending again"))
                if kind is Reading:
                    state.readings[message.metric] = (message.value, message.unit, ts)
                    if message.metric == "battery":
                        derived.extend(self._battery(state, message))
                elif kind is DeviceEvent:
                    flag = _FLAG_KINDS.get(message.kind)
                    if flag:
                        setattr(state, flag, message.state != EventState.CLEARED)
                    elif message.kind in _ALARM_FLAGS:
                        if message.state == EventState.CLEARED:
                            state.alarms.discard(message.kind)
                        else:
                            state.alarms.add(message.kind)
        return derived

    def _battery(self, state: LiveState, reading: Reading) -> list[Message]:
        state.battery = reading.value
        low = reading.value < self.battery_low_percent
        if low == state.battery_low:
            return []
        state.battery_low = low
        kind_state = EventState.ACTIVE if low else EventState.CLEARED
        return [DeviceEvent(reading.device_key, EventKind.BATTERY_LOW, kind_state, reading.ts, "health",
                            {"battery": reading.value, "threshold": self.battery_low_percent})]

    def supervise(self, supervised: Iterable[tuple[str, str, float]]) -> list[DeviceStatus]:
        """Mark silent devices offline; `supervised` yields (state key, device key, interval s)."""
        now = self.clock()
        changes: list[DeviceStatus] = []
        with self._lock:
            for key, device_key, interval in supervised:
                state = self._states.get(key)
                if state is None:
                    state = self._states[key] = LiveState()
                if state.availability == Availability.OFFLINE:
                    continue
                # A device never heard since start gets one full interval of grace from the hub's start.
                last = state.last_seen if state.last_seen is not None else self.started_at
                if now - last > interval:
                    state.availability = Availability.OFFLINE
                    state.reason = f"silent for {now - last:.0f} s (supervision interval {interval:.0f} s)"
                    changes.append(DeviceStatus(device_key, Availability.OFFLINE, now, "supervision",
                                                state.reason))
        return changes

    def offline_count(self) -> int:
        """Return how many tracked devices are offline."""
        return sum(1 for s in self._states.values() if s.availability == Availability.OFFLINE)


def health_key(device_key: str, ref: DeviceRef | None) -> str:
    """Return the key live state is kept under: one per registered device, whatever identifier it used."""
    return f"device:{ref.id}" if ref is not None else device_key
