"""MQTT ingestion with paho-mqtt 2.x: QoS 1, persistent session, manual acks, reconnect with backoff."""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion

from hub.ingest.router import IngestRouter

log = logging.getLogger(__name__)

READ_CHUNK = 64 * 1024


class BufferedReads:
    """The broker socket, read in chunks of up to 64 KiB and handed to paho in the small pieces it asks for.

    paho reads every packet with three `recv` calls (command byte, length, body) after a `select`; each
    releases and retakes the GIL, which in the hub the processor thread is often waiting for.
    `pending()` is how paho learns that an SSL socket holds bytes already read: it then does not wait
    in `select`. `take_publishes` is the hub's fast path. Everything else (send, close, fileno, ...)
    goes to the socket.
    """

    def __init__(self, sock: socket.socket) -> None:
        self._socket = sock
        self._buffer = b""
        self._pos = 0

    def pending(self) -> int:
        """Return how many bytes were read from the socket and not yet handed to paho."""
        return len(self._buffer) - self._pos

    def recv(self, bufsize: int) -> bytes:
        """Return up to `bufsize` bytes; raises BlockingIOError like the non-blocking socket."""
        if self._pos >= len(self._buffer):
            self._buffer, self._pos = self._socket.recv(max(bufsize, READ_CHUNK)), 0
        out = self._buffer[self._pos:self._pos + bufsize]
        self._pos += len(out)
        return out

    def fill(self) -> bool:
        """Read the socket if everything read so far was handed out; return False if nothing is buffered.

        A closed, failed or empty non-blocking socket reads as False: paho's own read then meets the
        same condition and reports it its way.
        """
        if self._pos < len(self._buffer):
            return True
        try:
            data = self._socket.recv(READ_CHUNK)
        except OSError:
            return False
        if data:
            self._buffer, self._pos = data, 0
        return bool(data)

    def take_publishes(self, handler: PublishHandler) -> int:
        """Hand every complete QoS 0/1 PUBLISH at the front of the buffer to `handler`; return how many.

        Stops at the first packet that is anything else, QoS 2, cut off by the end of the buffer or
        malformed: paho reads that one itself, with its own checks and errors.
        """
        buf, pos, end, taken = self._buffer, self._pos, len(self._buffer), 0
        while pos < end:
            command = buf[pos]
            qos = (command >> 1) & 3
            if command >> 4 != 3 or qos > 1:
                break
            length, shift, p = 0, 0, pos + 1
            while p < end and shift < 28:
                byte = buf[p]
                p += 1
                length |= (byte & 127) << shift
                shift += 7
                if byte < 128:
                    break
            else:
                break  # length cut off by the end of the buffer, or longer than MQTT allows
            packet_end = p + length
            if packet_end > end or length < 2:
                break  # cut off by the end of the buffer, or too short to hold a topic
            topic_end = p + 2 + ((buf[p] << 8) | buf[p + 1])
            body = topic_end + 2 * qos
            if topic_end == p + 2 or body > packet_end:
                break  # an empty topic, or lengths that do not add up
            mid = (buf[topic_end] << 8) | buf[topic_end + 1] if qos else 0
            self._pos = pos = packet_end
            taken += 1
            handler(buf[p + 2:topic_end], buf[body:packet_end], qos, mid, bool(command & 8))
        return taken

    def __getattr__(self, name: str):
        return getattr(self._socket, name)


PublishHandler = Callable[[bytes, bytes, int, int, bool], None]


class _Client(mqtt.Client):
    """paho's client, reading the broker socket through BufferedReads and PUBLISH packets on a fast path.

    paho spends about as much on each PUBLISH (a `select`, its packet state, `MQTTMessage`, topic
    matching under its callback lock) as the hub spends decoding it. `on_publish_packet`, when set,
    receives the topic, payload, QoS, packet id and DUP flag of every QoS 0/1 PUBLISH already in the
    read buffer, in order; paho keeps everything else: the connection, keepalive, acks, QoS 2.
    """

    on_publish_packet: PublishHandler | None = None

    def _create_socket(self):
        # paho 2.x (pinned <3) opens every connection here.
        return self._wrap(super()._create_socket())

    def _packet_read(self) -> MQTTErrorCode:
        sock = self._sock
        if (self.on_publish_packet is not None and type(sock) is BufferedReads and self._in_packet["command"] == 0
                and self._protocol != MQTTProtocolVersion.MQTTv5 and sock.fill()
                and sock.take_publishes(self.on_publish_packet)):
            with self._msgtime_mutex:
                self._last_bytes_received = mqtt.time_func()  # what paho's keepalive check reads
            return MQTTErrorCode.MQTT_ERR_SUCCESS
        return super()._packet_read()

    def _wrap(self, sock):
        # TLS and websocket connections keep paho's own reads: their wrappers buffer already.
        return BufferedReads(sock) if type(sock) is socket.socket and not self._ssl else sock


class _Connection:
    """What both broker connections share: a paho client on its own network thread, reconnecting."""

    host: str
    port: int
    client: _Client

    def _configure(self, username: str, password: str) -> None:
        if username:
            self.client.username_pw_set(username, password or None)
        # Back within a quarter second of the broker: the alarms it keeps for us meanwhile wait, not lost.
        self.client.reconnect_delay_set(min_delay=0.25, max_delay=5)

    def start(self) -> None:
        """Connect in the background; paho retries with backoff until the broker answers."""
        self.client.connect_async(self.host, self.port, keepalive=30)
        self.client.loop_start()

    def stop(self) -> None:
        """Disconnect and stop the network thread."""
        self.client.disconnect()
        self.client.loop_stop()


class MqttIngest(_Connection):
    """Subscribes to every profile's topics and hands each message to the router."""

    def __init__(self, *, host: str, port: int, client_id: str, subscriptions: list[str],
                 router: IngestRouter, username: str = "", password: str = "") -> None:
        self.host, self.port = host, port
        self.subscriptions = subscriptions
        self.router = router
        self.connected = threading.Event()
        self.generation = 0
        # clean_session=False + a stable client id: the broker keeps our QoS 1 messages while we are away.
        self.client = _Client(
            callback_api_version=CallbackAPIVersion.VERSION2, client_id=client_id,
            clean_session=False, manual_ack=True,
        )
        self._configure(username, password)
        self.client.max_inflight_messages_set(100)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.on_publish_packet = self._on_publish

    def ensure_subscribed(self, filters: list[str]) -> None:
        """Subscribe to filters learnt at run time (Home Assistant discovery state topics)."""
        new = [f for f in filters if f not in self.subscriptions]
        if not new:
            return
        self.subscriptions = [*self.subscriptions, *new]
        if self.connected.is_set():
            self.client.subscribe([(topic, 1) for topic in new])

    def _on_connect(self, client, _userdata, _flags, reason_code, _properties) -> None:
        if reason_code.is_failure:
            log.error("MQTT connect refused: %s", reason_code)
            return
        self.generation += 1
        # QoS 1 subscriptions: an SOS must survive a reconnect.
        client.subscribe([(topic, 1) for topic in self.subscriptions])
        self.connected.set()
        log.info("MQTT connected to %s:%s (%d topic filters)", self.host, self.port, len(self.subscriptions))

    def _on_disconnect(self, _client, _userdata, _flags, reason_code, _properties) -> None:
        self.connected.clear()
        log.warning("MQTT disconnected (%s); paho reconnects with backoff", reason_code)

    def _on_message(self, _client, _userdata, message: mqtt.MQTTMessage) -> None:
        # paho's own path: QoS 2, TLS and websocket connections, and packets the fast path left to it.
        self._on_publish(message._topic, message.payload, message.qos, message.mid, bool(message.dup))

    def _on_publish(self, topic_bytes: bytes, payload: bytes, qos: int, mid: int, dup: bool) -> None:
        if qos:
            generation, client = self.generation, self.client

            def ack() -> None:
                # A packet id from an earlier connection may now name another message: never ack across
                # reconnects; the broker redelivers the unacked one with DUP set and it is deduplicated.
                if generation == self.generation:
                    client.ack(mid, qos)
        else:
            ack = _no_ack
        try:
            topic = topic_bytes.decode()
        except UnicodeDecodeError:
            self.router.reject("bad_topic", "mqtt", repr(topic_bytes[:200]), payload[:256])
            ack()
            return
        try:
            self.router.receive_mqtt(topic, payload, mid=mid, qos=qos, dup=dup, ack=ack)
        except Exception:
            # paho stops its network loop on a callback exception; one message must never cost the link.
            log.exception("ingesting a message on %r failed", topic[:200])
            self.router.reject("ingest_error", "mqtt", topic, payload[:256])
            ack()


def _no_ack() -> None:
    """QoS 0 needs no acknowledgement."""


class TopicCoverage:
    """Whether a topic matches any of a set of MQTT topic filters; filters are grouped by their first level."""

    def __init__(self, filters: list[str]) -> None:
        self.by_root: dict[str, list[list[str]]] = {}
        self.wild: list[list[str]] = []  # filters starting with `+` or `#`
        for topic_filter in filters:
            levels = topic_filter.split("/")
            (self.wild if levels[0] in ("+", "#") else self.by_root.setdefault(levels[0], [])).append(levels)

    def covers(self, topic: str) -> bool:
        """Return True when some filter matches `topic` (`$` topics match only filters naming their root)."""
        levels = topic.split("/")
        candidates = self.by_root.get(levels[0], [])
        if not topic.startswith("$"):
            candidates = candidates + self.wild
        return any(_matches(f, levels) for f in candidates)


def _matches(filter_levels: list[str], levels: list[str]) -> bool:
    for i, part in enumerate(filter_levels):
        if part == "#":
            return True
        if i >= len(levels) or (part != "+" and part != levels[i]):
            return False
    return len(filter_levels) == len(levels)


class CatchAllIngest(_Connection):
    """A second connection, QoS 0 on `#`, that counts messages on topics no subscription of the hub covers.

    A second connection because on one connection `#` overlaps every profile filter: a broker may then
    deliver one copy per matching filter (MQTT allows it; Mosquitto does so for retained messages when
    subscribing), and every copy would be ingested twice. This connection never decodes: a topic the
    hub's own filters (or `ignore`) cover is dropped after one dict lookup on the PUBLISH fast path, and
    anything else goes to `IngestRouter.undecoded` (counted by topic root). `$` topics (`$SYS`) never
    match `#`; clean session, so nothing queues at the broker while the hub is away.
    """

    COVERAGE_CACHE = 100_000  # topics remembered; beyond that each one is matched again (still cheap)

    def __init__(self, *, host: str, port: int, client_id: str, covered_by: Callable[[], list[str]],
                 router: IngestRouter, ignore: list[str] | None = None, username: str = "",
                 password: str = "") -> None:
        self.host, self.port = host, port
        self.covered_by = covered_by
        self.ignore = list(ignore or ())
        self.router = router
        self.connected = threading.Event()
        self.client = _Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=client_id,
                              clean_session=True)
        self._configure(username, password)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = lambda *_args: self.connected.clear()
        self.client.on_message = self._on_message
        self.client.on_publish_packet = self._on_publish
        self._filters: list[str] | None = None
        self._coverage = TopicCoverage([])
        self._covered: dict[bytes, bool] = {}


    def _on_connect(self, client, _userdata, _flags, reason_code, _properties) -> None:
        if reason_code.is_failure:
            log.error("MQTT catch-all connect refused: %s", reason_code)
            return
        client.subscribe("#", qos=0)
        self.connected.set()

    def _on_message(self, _client, _userdata, message: mqtt.MQTTMessage) -> None:
        self._on_publish(message._topic, message.payload, message.qos, message.mid, bool(message.dup))

    def _on_publish(self, topic_bytes: bytes, payload: bytes, _qos: int, _mid: int, _dup: bool) -> None:
        filters = self.covered_by()
        if filters is not self._filters:  # the hub subscribed to more (HA discovery, a profile reload)
            self._filters, self._coverage, self._covered = filters, TopicCoverage([*filters, *self.ignore]), {}
        covered = self._covered.get(topic_bytes)
        if covered is None:
            try:
                topic = topic_bytes.decode()
            except UnicodeDecodeError:
                topic = repr(topic_bytes[:200])
            covered = topic.startswith("$") or self._coverage.covers(topic)
            if len(self._covered) < self.COVERAGE_CACHE:
                self._covered[topic_bytes] = covered
            if not covered:
                self._count(topic, payload)
            return
        if not covered:
            self._count(topic_bytes.decode(errors="backslashreplace"), payload)

    def _count(self, topic: str, payload: bytes) -> None:
        try:
            self.router.undecoded(topic, payload)
        except Exception:  # paho stops its loop on a callback exception; counting must never cost the link
            log.exception("counting an undecoded message on %r failed", topic[:200])
