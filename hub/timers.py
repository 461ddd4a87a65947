"""The hub's one timer loop, in its own thread: escalation steps, notification deliveries and every periodic check."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable

from hub.escalation.engine import EscalationEngine
from hub.notifications.sender import NotificationSender

log = logging.getLogger(__name__)

MAX_CONCURRENT_DELIVERIES = 8


class TimerLoop:
    """Wake every `tick_s`: run due escalation steps, then hand due messages to concurrent deliveries."""

    def __init__(self, *, engine: EscalationEngine, sender: NotificationSender,
                 clock: Callable[[], float] = time.time, tick_s: float = 0.25) -> None:
        self.engine = engine
        self.sender = sender
        self.clock = clock
        self.tick_s = tick_s
        self.jobs: list[tuple[float, Callable[[float], object]]] = []  # (interval s, fn(now)) periodic checks
        # In a cluster: whether this hub still holds the scheduler lease, asked before every tick.
        self.may_run: Callable[[], bool] | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._wake: asyncio.Event | None = None
        engine.wake = self.wake

    def every(self, interval_s: float, job: Callable[[float], object]) -> None:
        """Run `job(now)` every `interval_s` seconds (SLA and overdue checks); call before start."""
        self.jobs.append((interval_s, job))

    def wake(self) -> None:
        """Run a tick now (an alert was raised); safe from any thread."""
        if self._loop and self._wake:
            try:
                self._loop.call_soon_threadsafe(self._wake.set)
            except RuntimeError:  # the loop has closed: the hub is stopping
                pass

    def start(self) -> None:
        """Start the loop's thread, once the notification channels are loaded."""
        self.sender.prepare()
        started = threading.Event()
        self._thread = threading.Thread(target=self._main, args=(started,), name="carehub-timers", daemon=True)
        self._thread.start()
        started.wait(5.0)

    def stop(self) -> None:
        """Stop after the current tick; deliveries in flight finish first."""
        if self._loop and self._stop and self._wake:
            self._loop.call_soon_threadsafe(self._stop.set)
            self._loop.call_soon_threadsafe(self._wake.set)
        if self._thread:
            self._thread.join(30.0)

    def _main(self, started: threading.Event) -> None:
        self._loop = asyncio.new_event_loop()
        self._stop = asyncio.Event()
        self._wake = asyncio.Event()
        started.set()
        try:
            self._loop.run_until_complete(self._run())
        finally:
            self._loop.close()

    async def _run(self) -> None:
        assert self._stop is not None and self._wake is not None
        await asyncio.to_thread(self.sender.recover)
        slots = asyncio.Semaphore(MAX_CONCURRENT_DELIVERIES)
        in_flight: set[asyncio.Task] = set()
        last_run = [0.0] * len(self.jobs)
        running: set[int] = set()
        while not self._stop.is_set():
            if self.may_run is not None and not self.may_run():
                log.error("scheduler lease gone: timers stop")
                break
            now = self.clock()
            try:
                await asyncio.to_thread(self.engine.tick, now)
                free = MAX_CONCURRENT_DELIVERIES - len(in_flight)
                claimed = await asyncio.to_thread(self.sender.claim, now, free) if free > 0 else []
            except Exception:
                log.exception("timer tick failed")
                claimed = []
            for row in claimed:
                task = asyncio.create_task(self._deliver(slots, row))
                in_flight.add(task)
                task.add_done_callback(in_flight.discard)
            for n, (interval, job) in enumerate(self.jobs):
                # Periodic checks run beside the ticks, never in them: a slow one must not delay an escalation.
                if now - last_run[n] >= interval and n not in running:
                    last_run[n] = now
                    running.add(n)
                    task = asyncio.create_task(self._job(n, job, now, running))
                    in_flight.add(task)
                    task.add_done_callback(in_flight.discard)
            if self._stop.is_set():
                break
            try:
                await asyncio.wait_for(self._wake.wait(), self.tick_s)
            except TimeoutError:
                pass
            self._wake.clear()
        if in_flight:
            await asyncio.wait(in_flight, timeout=20.0)

    @staticmethod
    async def _job(n: int, job: Callable[[float], object], now: float, running: set[int]) -> None:
        try:
            await asyncio.to_thread(job, now)
        except Exception:
            log.exception("periodic job %s failed", getattr(job, "__name__", job))
        finally:
            running.discard(n)

    async def _deliver(self, slots: asyncio.Semaphore, row) -> None:
        async with slots:
            try:
                await asyncio.to_thread(self.sender.deliver, row)
            except Exception:
                log.exception("delivery of notification %s failed", row.id)
