"""What a clustered hub receives outside MQTT (NB-IoT pushes, Contact ID lines, DC-09 frames), handed to the
shard that owns the device, so one shard records and processes each device's messages, whichever hub
the platform, the line or the transmitter reached.

The hand-over is an MQTT message, QoS 1, on the owning shard's own forward topic: its persistent session
keeps it while no hub holds the shard, as it keeps the shard's Zigbee and watch alarms, and the device is
acknowledged only once the broker has it. With the broker out of reach the receiving hub records and
processes the messages itself rather than refuse an alarm.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import numpy as np
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from device_drivers.model import (
    AccelBatch,
    Availability,
    DeviceEvent,
    DeviceInfo,
    DeviceStatus,
    EventKind,
    EventState,
    Message,
    Reading,
    UnmappedFields,
)
from hub import metrics
from hub.cluster.balance import owner

log = logging.getLogger(__name__)

FORWARD_ROOT = "carehub/forward/"
ENVELOPE_VERSION = 1
_TYPES: dict[str, type] = {t.__name__: t for t in (Reading, DeviceEvent, DeviceStatus, DeviceInfo, AccelBatch,
                                                     UnmappedFields)}
_ENUMS: dict[type, dict[str, type[enum.Enum]]] = {DeviceEvent: {"kind": EventKind, "state": EventState},
                                                  DeviceStatus: {"availability": Availability}}
_TUPLES = {"aliases", "fields"}


def delivery_key(envelope_id: str) -> str:
    """Return the key a forwarded delivery is recorded under, by whichever hub records it."""
    return f"forward:{envelope_id}"


def forward_topic(shard: str) -> str:
    """Return the topic a shard's pipeline takes forwarded messages from."""
    return FORWARD_ROOT + shard


@dataclasses.dataclass(frozen=True)
class Envelope:
    """Messages one hub received outside MQTT, on their way to the owning shard."""

    id: str
    hub_id: str
    transport: str
    source: str
    topic: str
    received_at: float
    messages: list[Message]


def _encode_message(message: Message) -> dict[str, Any]:
    out: dict[str, Any] = {"type": type(message).__name__}
    for field in dataclasses.fields(message):
        value = getattr(message, field.name)
        if isinstance(value, enum.Enum):
            value = value.value
        elif isinstance(value, np.ndarray):
            value = value.tolist()
        elif isinstance(value, tuple):
            value = list(value)
        out[field.name] = value
    return out


def _decode_message(data: dict[str, Any]) -> Message:
    cls = _TYPES[data.pop("type")]
    for name, kind in _ENUMS.get(cls, {}).items():
        data[name] = kind(data[name])
    for name in _TUPLES & data.keys():
        data[name] = tuple(data[name])
    if cls is AccelBatch:
        data["t"] = np.asarray(data["t"], dtype=np.float64)
        data["xyz"] = np.asarray(data["xyz"], dtype=np.float32).reshape(-1, 3)
    return cls(**data)


def encode(envelope: Envelope) -> bytes:
    """Serialise an envelope as JSON."""
    return json.dumps({"v": ENVELOPE_VERSION, "id": envelope.id, "hub": envelope.hub_id,
                       "transport": envelope.transport, "source": envelope.source, "topic": envelope.topic,
                       "received_at": envelope.received_at,
                       "messages": [_encode_message(m) for m in envelope.messages]},
                      separators=(",", ":"), default=str).encode()


def decode(payload: bytes) -> Envelope:
    """Parse an envelope; raise ValueError with the reason when it is not one."""
    try:
        data = json.loads(payload)
        if data.get("v") != ENVELOPE_VERSION:
            raise ValueError(f"envelope version {data.get('v')!r}")
        return Envelope(id=str(data["id"]), hub_id=str(data["hub"]), transport=str(data["transport"]),
                        source=str(data["source"]), topic=str(data["topic"]),
                        received_at=float(data["received_at"]),
                        messages=[_decode_message(dict(m)) for m in data["messages"]])
    except (KeyError, TypeError, AttributeError, ValueError, RecursionError) as err:
        raise ValueError(f"malformed envelope: {type(err).__name__}: {err}") from err


class Forwarder:
    """Publishes what this hub received outside MQTT to the shards that own the devices."""

    def __init__(self, *, host: str, port: int, client_id: str, hub_id: str, shards: list[str],
                 site_of: Callable[[str], int | None], local: Callable[..., bool],
                 username: str = "", password: str = "") -> None:
        self.hub_id = hub_id
        self.shards = sorted(shards)
        self.site_of = site_of
        self.local = local  # the edge pipeline's router.receive_decoded: used when the broker cannot take it
        self.host, self.port = host, port
        self.connected = threading.Event()
        # A clean session: what this client publishes is kept by the shards' sessions, not by its own.
        self.client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=client_id,
                                  clean_session=True)
        if username:
            self.client.username_pw_set(username, password or None)
        self.client.reconnect_delay_set(min_delay=0.25, max_delay=5)
        self.client.on_connect = lambda *_args: self.connected.set()
        self.client.on_disconnect = lambda *_args: self.connected.clear()

    def start(self) -> None:
        """Connect in the background; paho reconnects with backoff."""
        self.client.connect_async(self.host, self.port, keepalive=30)
        self.client.loop_start()

    def stop(self) -> None:
        """Disconnect and stop the network thread."""
        self.client.disconnect()
        self.client.loop_stop()

    def owner_of(self, device_key: str) -> str:
        """Return the shard that owns a device: by its site when registered (a site's devices stay together)."""
        site = self.site_of(device_key)
        return owner(f"site:{site}" if site is not None else f"device:{device_key}", self.shards)

    def receive(self, transport: str, source: str, topic: str, messages: list[Message], *,
                payload: bytes = b"", wait: float = 0.0) -> bool:
        """Hand messages to their owning shards; with `wait`, return once the broker holds every part."""
        groups: dict[str, list[Message]] = {}
        for message in messages:
            groups.setdefault(self.owner_of(message.device_key), []).append(message)
        # Half the wait for the broker's PUBACK: the other half is left for recording here if it does not come,
        # so the device still gets its answer within the time it waits for one.
        deadline = time.monotonic() + max(wait, 0.0) / 2
        pending: list[tuple[str, str, list[Message], mqtt.MQTTMessageInfo | None]] = []
        for shard, part in groups.items():
            envelope = Envelope(id=uuid.uuid4().hex, hub_id=self.hub_id, transport=transport, source=source,
                                topic=topic, received_at=time.time(), messages=part)
            info = None
            if self.connected.is_set():
                info = self.client.publish(forward_topic(shard), encode(envelope), qos=1)
                if info.rc != mqtt.MQTT_ERR_SUCCESS:
                    info = None  # paho keeps it and sends it on reconnect: the shared key records it once
            pending.append((shard, envelope.id, part, info))
        ok = True
        for shard, envelope_id, part, info in pending:
            if info is not None and (not wait or self._published(info, deadline)):
                metrics.FORWARDED.labels(shard).inc()
                continue
            # Not taken by the broker: this hub records and processes it, rather than lose or refuse an alarm.
            metrics.FORWARD_FALLBACKS.inc()
            log.warning("forwarding %d messages from %s to shard %s failed; this hub handles them",
                        len(part), source, shard)
            left = max(wait / 2, deadline + wait / 2 - time.monotonic()) if wait else 0.0
            ok = self.local(transport, source, topic, part, payload=payload, wait=left,
                            delivery_key=delivery_key(envelope_id)) and ok
        return ok

    @staticmethod
    def _published(info: mqtt.MQTTMessageInfo, deadline: float) -> bool:
        try:
            info.wait_for_publish(max(deadline - time.monotonic(), 0.0))
        except (RuntimeError, ValueError):
            return False
        return info.is_published()
