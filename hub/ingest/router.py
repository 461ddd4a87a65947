"""Triage of inbound payloads: decode, count rejects, and put each delivery in its lane."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from device_drivers.model import DecodeError, DeviceEvent, EventKind, Message
from device_drivers.registry import ProfileSet
from hub import metrics
from hub.ingest import forward
from hub.ingest.forward import FORWARD_ROOT
from hub.ingest.lanes import AlarmLane, Delivery, TelemetryLane

log = logging.getLogger(__name__)

MAX_PAYLOAD_BYTES = 256 * 1024
UNDECODED_ROOTS = 100  # distinct topic roots counted and summarised; the rest count as `_other`
UNDECODED_SAMPLE_BYTES = 200


@dataclass(slots=True)
class UndecodedRoot:
    """What arrived on one topic root that no profile decodes."""

    root: str
    count: int
    first_seen: float
    last_seen: float
    last_topic: str
    last_payload: str

    def as_dict(self) -> dict[str, Any]:
        """Return a JSON-ready view."""
        return {"root": self.root, "count": self.count, "first_seen": self.first_seen,
                "last_seen": self.last_seen, "last_topic": self.last_topic, "last_payload": self.last_payload}


def topic_root(topic: str) -> str:
    """Return the first level of an MQTT topic (`_empty` for a topic starting with `/`)."""
    return topic.split("/", 1)[0][:100] or "_empty"


class _RejectSink(Protocol):
    def __call__(self, *, reason: str, source: str, topic: str, payload: bytes, detail: str) -> None: ...


class IngestRouter:
    """Decode a payload with its profile and hand it to the alarm lane or the telemetry lane."""

    def __init__(self, profiles: ProfileSet, alarm_lane: AlarmLane, telemetry_lane: TelemetryLane,
                 on_reject: _RejectSink | None = None,
                 device_kind: Callable[[str], str | None] | None = None) -> None:
        self.profiles = profiles
        self.device_kind = device_kind
        self.alarm_lane = alarm_lane
        self.telemetry_lane = telemetry_lane
        self.on_reject = on_reject
        self.rejected: dict[tuple[str, str], int] = {}
        self._reject_lock = threading.Lock()
        self._sample_every = 1000  # log one sample per reason every N rejects, not a flood
        # Counter children per (transport, profile): `labels()` takes a lock and hashes on every call.
        self._message_counters: dict[tuple[str, str], Any] = {}
        self._undecoded_counters = metrics.CappedLabels(metrics.UNDECODED_MESSAGES, UNDECODED_ROOTS)
        self._undecoded: dict[str, UndecodedRoot] = {}
        self._undecoded_lock = threading.Lock()

    def receive_mqtt(self, topic: str, payload: bytes, *, mid: int, qos: int, dup: bool,
                     ack: Callable[[], None]) -> None:
        """Handle one MQTT message on paho's network thread; `ack` sends the PUBACK."""
        received_at, mono = time.time(), time.monotonic()
        if topic.startswith(FORWARD_ROOT):
            self._receive_forward(topic, payload, mid=mid, qos=qos, dup=dup, ack=ack)
            return
        profile = self.profiles.route(topic)
        if profile is None:
            self.undecoded(topic, payload)
            ack()
            return
        self._received("mqtt", profile.name).inc()
        messages = self._decode(profile, topic, payload, received_at)
        if messages is None:
            ack()
            return
        alarm = False
        for m in messages:  # one pass for the common case: no button to promote, no alarm
            if type(m) is DeviceEvent:
                if m.kind == EventKind.BUTTON:
                    messages = self.promote_buttons(messages)
                    alarm = has_alarm(messages)
                    break
                alarm = alarm or m.is_alarm
        delivery = Delivery("mqtt", profile.name, topic, messages, received_at, mono, payload=payload)
        if not alarm:
            self._offer(delivery)
            ack()
            return
        if qos > 0:
            # QoS 1 alarm: PUBACK only after the recorder has committed it (a crash then loses nothing).
            delivery.ack = ack
            delivery.redelivery = dup
            delivery.delivery_key = delivery_key(topic, payload, mid)
            self.alarm_lane.put(delivery)
            return
        self.alarm_lane.put(delivery)
        ack()

    def _receive_forward(self, topic: str, payload: bytes, *, mid: int, qos: int, dup: bool,
                         ack: Callable[[], None]) -> None:
        # Another hub received these outside MQTT and handed them to this shard, which owns the device.
        try:
            envelope = forward.decode(payload)
        except ValueError as err:
            self.reject("bad_forward", "forward", topic, payload[:256], str(err))
            ack()
            return
        self._received(envelope.transport, envelope.source).inc()
        messages = self.promote_buttons(envelope.messages)
        delivery = Delivery(envelope.transport, envelope.source, envelope.topic, messages, envelope.received_at,
                            time.monotonic(), payload=payload)
        if not has_alarm(messages):
            self._offer(delivery)
            ack()
            return
        delivery.ack = ack
        delivery.redelivery = True  # the sending hub may have recorded it itself when the broker was slow
        delivery.delivery_key = forward.delivery_key(envelope.id)
        self.alarm_lane.put(delivery)

    def undecoded(self, topic: str, payload: bytes) -> None:
        """Count an MQTT message no profile decodes, by topic root, and keep the root's latest sample."""
        root = topic_root(topic)
        self._undecoded_counters.child(root).inc()
        now = time.time()
        sample = payload[:UNDECODED_SAMPLE_BYTES].decode("utf-8", errors="backslashreplace")
        with self._undecoded_lock:
            entry = self._undecoded.get(root)
            if entry is None:
                if len(self._undecoded) >= UNDECODED_ROOTS:
                    root = metrics.OTHER_LABEL
                    entry = self._undecoded.get(root)
                if entry is None:
                    entry = self._undecoded[root] = UndecodedRoot(root, 0, now, now, "", "")
            entry.count += 1
            entry.last_seen, entry.last_topic, entry.last_payload = now, topic[:400], sample
        self.reject("unknown_topic", "mqtt", topic, payload)

    def undecoded_roots(self) -> list[dict[str, Any]]:
        """Return the undecoded-message summary by topic root, most messages first."""
        with self._undecoded_lock:
            entries = [e.as_dict() for e in self._undecoded.values()]
        return sorted(entries, key=lambda e: -e["count"])

    def _received(self, transport: str, source: str):
        """Return the received-messages counter child for a transport and profile (resolved once)."""
        child = self._message_counters.get((transport, source))
        if child is None:
            child = self._message_counters[(transport, source)] = metrics.MESSAGES.labels(transport, source)
        return child

    def promote_buttons(self, messages: list[Message]) -> list[Message]:
        """Turn any button press of a device registered as an SOS button into an SOS alarm."""
        if self.device_kind is None or not any(
            type(m) is DeviceEvent and m.kind == EventKind.BUTTON for m in messages
        ):
            return messages
        return [
            dataclasses.replace(m, kind=EventKind.SOS, detail={**m.detail, "promoted_from": "button"})
            if isinstance(m, DeviceEvent) and m.kind == EventKind.BUTTON
            and self.device_kind(m.device_key) == "sos_button" else m
            for m in messages
        ]

    def receive_decoded(self, transport: str, source: str, topic: str, messages: list[Message],
                        *, payload: bytes = b"", wait: float = 0.0, delivery_key: str | None = None) -> bool:
        """Route already-decoded messages (serial, HTTP); with `wait`, block until alarms are recorded.

        A `delivery_key` names a delivery that may also arrive another way: it is recorded once.
        """
        messages = self.promote_buttons(messages)
        delivery = Delivery(transport, source, topic, messages, time.time(), time.monotonic(), payload=payload)
        if delivery_key is not None:
            delivery.delivery_key, delivery.redelivery = delivery_key, True
        self._received(transport, source).inc()
        if wait and delivery.alarm_events:
            delivery.recorded = threading.Event()
            self.alarm_lane.put(delivery)
            return delivery.recorded.wait(wait) and not delivery.error
        return self.dispatch(delivery)

    def dispatch(self, delivery: Delivery) -> bool:
        """Put a delivery in the lane its content calls for; return False if it was dropped."""
        if has_alarm(delivery.messages):
            self.alarm_lane.put(delivery)
            return True
        return self._offer(delivery)

    def _offer(self, delivery: Delivery) -> bool:
        if not self.telemetry_lane.offer(delivery):
            self.reject("telemetry_lane_full", delivery.source, delivery.topic, b"")
            return False
        return True

    def decode_payload(self, profile_name: str, decode: Callable[[], list[Message]], topic: str,
                       payload: bytes) -> list[Message] | None:
        """Run a decoder callable, turning DecodeError (or a decoder bug) into a counted reject."""
        try:
            return decode()
        except DecodeError as err:
            self.reject(err.reason, profile_name, topic, payload, err.detail)
        except Exception as err:  # a decoder bug must cost one message, never the hub
            log.exception("decoder %s crashed on %s", profile_name, topic)
            self.reject("decoder_error", profile_name, topic, payload, repr(err))
        return None

    def _decode(self, profile, topic: str, payload: bytes, received_at: float) -> list[Message] | None:
        if len(payload) > MAX_PAYLOAD_BYTES:
            self.reject("too_large", profile.name, topic, payload[:256])
            return None
        return self.decode_payload(
            profile.name, lambda: profile.decode(topic, payload, received_at=received_at), topic, payload
        )

    def reject(self, reason: str, source: str, topic: str, payload: bytes, detail: str = "") -> None:
        """Count a rejected message by reason and source, and log a sample."""
        metrics.REJECTED.labels(reason, source).inc()
        with self._reject_lock:
            count = self.rejected.get((reason, source), 0) + 1
            self.rejected[(reason, source)] = count
        if count % self._sample_every == 1:
            log.warning("rejected %s from %s on %r (%d so far): %s %r", reason, source, topic[:200], count,
                        detail[:200], payload[:120])
        if self.on_reject is not None:
            self.on_reject(reason=reason, source=source, topic=topic, payload=payload, detail=detail)


def has_alarm(messages: list[Message]) -> bool:
    """Return True when any message is an alarm event (the delivery then takes the alarm lane)."""
    return any(type(m) is DeviceEvent and m.is_alarm for m in messages)


def delivery_key(topic: str, payload: bytes, mid: int) -> str:
    """Identify one MQTT delivery: digest of topic and payload plus the packet id the broker reuses on resend."""
    digest = hashlib.blake2b(topic.encode("utf-8", "replace") + b"\0" + payload, digest_size=16).hexdigest()
    return f"{digest}:{mid}"
