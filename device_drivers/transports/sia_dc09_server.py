"""A small asyncio SIA DC-09 receiver: TCP frames `<LF>...<CR>` in, `"ACK"`/`"NAK"` out.

As on serial, the ACK is written only after `on_message` returned (the hub records alarms durably
first); the callback runs in a worker thread so one slow write does not stall other connections.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from device_drivers import sia_dc09
from device_drivers.model import DecodeError, Message

log = logging.getLogger(__name__)


class SiaDc09Server:
    """Accept DC-09 ADM-CID frames over TCP, hand events to `on_message`, answer ACK or NAK."""

    def __init__(
        self, *, on_message: Callable[[list[Message]], None], host: str = "127.0.0.1", port: int = 0,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._on_message = on_message
        self._host = host
        self._port = port
        self._wall_clock = wall_clock
        self._server: asyncio.Server | None = None
        self.naks_by_reason: dict[str, int] = {}
        self.frames_ok = 0

    @property
    def port(self) -> int:
        """Return the TCP port actually bound (useful with port=0)."""
        assert self._server is not None, "server not started"
        return self._server.sockets[0].getsockname()[1]

    async def start(self) -> None:
        """Start listening."""
        self._server = await asyncio.start_server(
            self._serve, self._host, self._port, limit=4 * sia_dc09.MAX_FRAME_LEN)

    async def stop(self) -> None:
        """Stop listening and close the server."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    chunk = await reader.readuntil(b"\r")
                except asyncio.LimitOverrunError:
                    await reader.read(sia_dc09.MAX_FRAME_LEN)  # drop the oversize run and resync
                    self._count("too_long")
                    continue
                answer = await self._answer(chunk[chunk.rfind(b"\n"):] if b"\n" in chunk else chunk)
                writer.write(answer)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def _answer(self, raw: bytes) -> bytes:
        try:
            frame = sia_dc09.parse_frame(raw)
        except DecodeError as exc:
            self._count(exc.reason)
            return sia_dc09.build_nak()
        event = sia_dc09.to_event(frame, ts=self._wall_clock())
        if event is not None:
            try:
                await asyncio.to_thread(self._on_message, [event])
            except Exception:
                log.exception("on_message failed for DC-09 frame; NAK so the sender retries")
                self._count("callback_error")
                return sia_dc09.build_nak()
        self.frames_ok += 1
        return sia_dc09.build_ack(frame)

    def _count(self, reason: str) -> None:
        self.naks_by_reason[reason] = self.naks_by_reason.get(reason, 0) + 1
