"""A small asyncio SIA DC-09 receiver: TCP frames `<LF>...<CR>` in, `"ACK"`/`"NAK"`/`"DUH"` out.

As on serial, the ACK is written only after `on_message` returned (the hub records alarms durably
first); the callback runs in a worker thread so one slow write does not stall other connections.
A callback that raises is answered NAK, so the transmitter retries. `start_thread()` runs the server
on an event loop of its own, for a host that is not asyncio (the hub).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Iterable

from device_drivers import sia_dc09
from device_drivers.model import Message

log = logging.getLogger(__name__)


class SiaDc09Server:
    """Accept DC-09 frames over TCP, hand their events to `on_message`, answer ACK, NAK or DUH.

    `key` (AES, 16/24/32 bytes) makes encryption mandatory; `accounts` (empty: any) lists the accounts
    taken, others are answered DUH; a frame whose time is more than `time_window_s[0]` s behind or
    `time_window_s[1]` s ahead of `wall_clock` is answered NAK (with the receiver's time).
    """

    def __init__(
        self, *, on_message: Callable[[list[Message]], None], host: str = "127.0.0.1", port: int = 0,
        wall_clock: Callable[[], float] = time.time, key: bytes | None = None,
        accounts: Iterable[str] = (), time_window_s: tuple[float, float] = (40.0, 20.0),
    ) -> None:
        self._on_message = on_message
        self._host = host
        self._port = port
        self._wall_clock = wall_clock
        self._key = key
        self._accounts = frozenset(a.strip().upper() for a in accounts if a.strip())
        self._behind_s, self._ahead_s = time_window_s
        self._server: asyncio.Server | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.naks_by_reason: dict[str, int] = {}
        self.duhs_by_reason: dict[str, int] = {}
        self.frames_ok = 0
        self.connections = 0
        self._lock = threading.Lock()  # counters are read by other threads (the hub's /healthz)

    @property
    def port(self) -> int:
        """Return the TCP port actually bound (useful with port=0)."""
        assert self._server is not None, "server not started"
        return self._server.sockets[0].getsockname()[1]

    def stats(self) -> dict:
        """Return counters: frames_ok, naks_by_reason, duhs_by_reason, connections, port."""
        with self._lock:
            return {"frames_ok": self.frames_ok, "naks_by_reason": dict(self.naks_by_reason),
                    "duhs_by_reason": dict(self.duhs_by_reason), "connections": self.connections,
                    "port": self.port if self._server is not None else None}

    async def start(self) -> None:
        """Start listening."""
        self._server = await asyncio.start_server(
            self._serve, self._host, self._port, limit=4 * sia_dc09.MAX_FRAME_LEN)

    async def stop(self) -> None:
        """Stop listening and close the server."""
        if self._server is not None:
            self._server.close()
            for writer in list(self._writers):  # wait_closed() waits for open connections: end them
                writer.close()
            await self._server.wait_closed()
            self._server = None

    def start_thread(self, timeout: float = 10.0) -> None:
        """Run the server on its own event loop in a daemon thread; return once it listens."""
        started = threading.Event()
        failed: list[BaseException] = []

        def run() -> None:
            loop = self._loop = asyncio.new_event_loop()
            try:
                loop.run_until_complete(self.start())
            except BaseException as exc:  # a taken port must fail the caller's start, not die in the thread
                failed.append(exc)
                started.set()
                loop.close()
                return
            started.set()
            loop.run_forever()
            loop.run_until_complete(self.stop())
            loop.close()

        self._thread = threading.Thread(target=run, name="carehub-dc09", daemon=True)
        self._thread.start()
        started.wait(timeout)
        if failed:
            raise failed[0]

    def stop_thread(self) -> None:
        """Stop a server started with `start_thread`."""
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
        self._loop = self._thread = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.add(writer)
        try:
            while True:
                try:
                    chunk = await reader.readuntil(b"\r")
                except asyncio.LimitOverrunError:
                    await reader.read(sia_dc09.MAX_FRAME_LEN)  # drop the oversize run and resync
                    self._count(self.naks_by_reason, "too_long")
                    continue
                answer = await self._answer(chunk[chunk.rfind(b"\n"):] if b"\n" in chunk else chunk)
                writer.write(answer)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    async def _answer(self, raw: bytes) -> bytes:
        try:
            frame = sia_dc09.parse_frame(raw, key=self._key)
            if self._accounts and frame.account not in self._accounts:
                raise sia_dc09.FrameRefused(sia_dc09.Refusal(
                    "unknown_account", frame.account, frame.sequence, frame.receiver, frame.line, frame.account,
                    frame.encrypted))
            sia_dc09.check_time(frame, self._wall_clock(), behind_s=self._behind_s, ahead_s=self._ahead_s)
        except sia_dc09.FrameRefused as exc:
            return self._refuse(exc.refusal)
        events = sia_dc09.to_events(frame, ts=self._wall_clock())
        if events:
            try:
                await asyncio.to_thread(self._on_message, list(events))
            except Exception:
                log.exception("on_message failed for DC-09 frame; NAK so the sender retries")
                self._count(self.naks_by_reason, "callback_error")
                return sia_dc09.build_nak()
        self.frames_ok += 1
        return sia_dc09.build_ack(frame, key=self._key)

    def _refuse(self, refusal: sia_dc09.Refusal) -> bytes:
        log.info("DC-09 frame refused (%s): %s %s", refusal.answer, refusal.reason, refusal.detail[:80])
        if refusal.answer == "DUH":
            self._count(self.duhs_by_reason, refusal.reason)
            return sia_dc09.build_duh(refusal)
        self._count(self.naks_by_reason, refusal.reason)
        return sia_dc09.build_nak()

    def _count(self, counter: dict[str, int], reason: str) -> None:
        with self._lock:
            counter[reason] = counter.get(reason, 0) + 1
