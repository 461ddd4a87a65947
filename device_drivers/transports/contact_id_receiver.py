"""Serial link to a Contact ID alarm receiver (Sur-Gard automation protocol) over pyserial.

Data path: serial bytes -> RecordFramer (resync) -> parse_record -> on_message -> ACK/NAK.
The ACK goes out only after `on_message` returned, so the caller's durable write happens first.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable

import serial

from device_drivers import contact_id
from device_drivers.contact_id import Frame, Heartbeat, RecordFramer
from device_drivers.model import Availability, DeviceEvent, DeviceStatus, EventKind, EventState, Message

log = logging.getLogger(__name__)

ACK_DEADLINE = 4.0  # the receiver retries a record not acknowledged within 4 s
PORT_LOST = "port lost"
PORT_UNAVAILABLE = "port unavailable"


class ContactIdReceiver:
    """Read records from an alarm receiver's serial port, hand them on, ACK/NAK, and supervise the link."""

    def __init__(
        self,
        port: str,
        *,
        on_message: Callable[[list[Message]], None],
        baudrate: int = 9600,
        heartbeat_timeout: float = 90.0,
        clock: Callable[[], float] = time.monotonic,
        receiver_id: str | None = None,
        wall_clock: Callable[[], float] = time.time,
        reconnect_max_delay: float = 5.0,
        read_timeout: float = 0.1,
    ) -> None:
        self.port = port
        self.device_key = f"{contact_id.RECEIVER_KEY_PREFIX}{receiver_id or os.path.basename(port)}"
        self._on_message = on_message
        self._baudrate = baudrate
        self._heartbeat_timeout = heartbeat_timeout
        self._clock = clock
        self._wall_clock = wall_clock
        self._reconnect_max_delay = reconnect_max_delay
        self._read_timeout = read_timeout
        self._framer = RecordFramer()
        self._serial: serial.Serial | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._link: tuple[Availability, str] | None = None  # last status reported
        self._last_alive = 0.0
        self._opened_once = False
        self._counts = {"records_ok": 0, "heartbeats": 0, "reconnects": 0, "acks": 0, "late_acks": 0}
        self._naks: dict[str, int] = {}

    def start(self) -> None:
        """Open the port and serve it from a background thread until stop()."""
        if self._thread is not None:
            raise RuntimeError("receiver already started")
        self._stop.clear()
        self._last_alive = self._clock()
        self._thread = threading.Thread(target=self._run, name=f"cid-{self.device_key}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread and close the port."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None
        self._close()

    def stats(self) -> dict:
        """Return counters: records_ok, naks_by_reason, noise_bytes, heartbeats, reconnects, link_up, ..."""
        with self._lock:
            return {
                **self._counts,
                "naks_by_reason": dict(self._naks),
                "noise_bytes": self._framer.noise_bytes,
                "resyncs": dict(self._framer.resyncs),
                "link_up": self._link is not None and self._link[0] == Availability.ONLINE,
                "port_open": self._serial is not None,
            }

    def supervise(self) -> None:
        """Report the link down when no heartbeat or record arrived within `heartbeat_timeout`."""
        if self._serial is None:
            return  # a lost port is already reported; silence is expected
        if self._clock() - self._last_alive >= self._heartbeat_timeout:
            self._set_link(Availability.OFFLINE, f"no heartbeat for {self._heartbeat_timeout:g} s")

    def _run(self) -> None:
        delay = 0.1
        while not self._stop.is_set():
            if self._serial is None and not self._open():
                self._stop.wait(delay)
                delay = min(delay * 2, self._reconnect_max_delay)
                continue
            delay = 0.1
            try:
                self._serve_once()
            except (serial.SerialException, OSError) as exc:
                log.warning("receiver port %s lost: %s", self.port, exc)
                self._close()
                self._set_link(Availability.OFFLINE, PORT_LOST)
            except Exception:  # never let one bad record kill the only alarm path
                log.exception("receiver %s: unexpected error, continuing", self.port)

    def _serve_once(self) -> None:
        port = self._serial
        assert port is not None
        data = port.read(port.in_waiting or 1)
        with self._lock:
            frames = self._framer.feed(data, self._clock())
        for frame in frames:
            self._handle(port, frame)
        self.supervise()

    def _handle(self, port: serial.Serial, frame: Frame) -> None:
        record = frame.record
        if record is None:
            self._nak(port, frame.reason)
            return
        started = self._clock()
        self._alive()
        if isinstance(record, Heartbeat):
            self._count("heartbeats")
            self._ack(port, started)
            return
        event = contact_id.record_event(record, ts=self._wall_clock(), receiver_id=self.device_key)
        try:
            self._on_message([event])
        except Exception:
            # The receiver retries a NAKed record, so the alarm is not lost.
            log.exception("on_message failed for %s; NAK so the receiver retries", record.raw)
            self._nak(port, "callback_error")
            return
        self._count("records_ok")
        self._ack(port, started)

    def _ack(self, port: serial.Serial, started: float) -> None:
        port.write(bytes([contact_id.ACK]))
        port.flush()
        self._count("acks")
        if self._clock() - started > ACK_DEADLINE:
            self._count("late_acks")  # the receiver has already retried: expect a duplicate

    def _nak(self, port: serial.Serial, reason: str) -> None:
        port.write(bytes([contact_id.NAK]))
        port.flush()
        with self._lock:
            self._naks[reason] = self._naks.get(reason, 0) + 1
        log.info("receiver %s: NAK (%s)", self.port, reason)

    def _alive(self) -> None:
        self._last_alive = self._clock()
        self._set_link(Availability.ONLINE, "")

    def _open(self) -> bool:
        try:
            port = serial.Serial(self.port, self._baudrate, timeout=self._read_timeout, write_timeout=2.0)
        except (serial.SerialException, OSError, ValueError) as exc:
            log.debug("receiver port %s not available: %s", self.port, exc)
            if self._link is None:
                self._set_link(Availability.OFFLINE, PORT_UNAVAILABLE)
            return False
        with self._lock:
            self._framer.reset()
            self._serial = port
            if self._opened_once:
                self._counts["reconnects"] += 1
            self._opened_once = True
        self._last_alive = self._clock()  # supervision restarts with the port
        return True

    def _close(self) -> None:
        with self._lock:
            port, self._serial = self._serial, None
        if port is not None:
            try:
                port.close()
            except (serial.SerialException, OSError):
                pass

    def _set_link(self, availability: Availability, reason: str) -> None:
        with self._lock:
            if self._link == (availability, reason):
                return
            was_down = self._link is not None and self._link[0] == Availability.OFFLINE
            self._link = (availability, reason)
        now = self._wall_clock()
        messages: list[Message] = [DeviceStatus(self.device_key, availability, now, contact_id.SOURCE, reason)]
        # The link is no registered device, so its status alone raises nothing: the receiver also says
        # "supervision lost" (and its restore), which becomes a device_offline alert for the link.
        if availability == Availability.OFFLINE:
            messages.append(DeviceEvent(self.device_key, EventKind.SUPERVISION_LOST, EventState.ACTIVE, now,
                                        contact_id.SOURCE, {"reason": reason, "port": self.port}))
        elif was_down:
            messages.append(DeviceEvent(self.device_key, EventKind.SUPERVISION_LOST, EventState.CLEARED, now,
                                        contact_id.SOURCE, {"port": self.port}))
        try:
            self._on_message(messages)
        except Exception:
            log.exception("on_message failed for link status %s", messages[0])

    def _count(self, name: str) -> None:
        with self._lock:
            self._counts[name] += 1
