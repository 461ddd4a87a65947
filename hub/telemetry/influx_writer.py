"""The telemetry writer: a bounded queue, our own batching, retries with backoff, a spill, ordered replay.

Callers (the ingest lane) only append a tuple to a deque: no lock, no I/O, no encoding, so telemetry
can never slow the alarm lane. One background thread does the rest:

    queue ──encode──► batch (≤ batch_lines or flush_interval) ──► sink.send()  ─ 2xx ─► done
                                       │                              │ retryable error
                                       ▼                              ▼
                           spill (while it holds anything,   spill.append(batch), backoff
                           new batches go here too: order)   then replay oldest segment first

- Order: while the spill holds data every new batch is appended to it, and replay always sends the
  oldest segment first, so InfluxDB receives lines in the order they were produced.
- Bounded memory: the queue holds at most `queue_lines` items; during an outage batches go to disk,
  so the queue stays short. A full queue (the thread cannot keep up even by spilling) drops and counts;
  a spill at its byte cap drops the newest batch and counts.
- Data errors (400/413/422) are logged and counted as rejected, never retried.
- `stop()` sends what it can until its timeout and spills the rest: nothing is lost on a clean stop,
  and the next start replays the spill before new data.
We batch ourselves instead of influxdb-client's batching WriteApi, whose buffer is unbounded,
`flush()` is a no-op and `close()` can lose data.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from device_drivers.model import AccelBatch, DeviceEvent, DeviceStatus, Reading
from hub.telemetry import line_protocol as lp
from hub.telemetry.sinks import RejectedError, RetryableError, Sink
from hub.telemetry.spill import Spill

log = logging.getLogger(__name__)

_POLL_S = 0.02  # the thread looks at the queue this often; callers never signal it (no lock on enqueue)

Encoder = Callable[[Any, Any, lp.TagCache], str | None]


class TelemetryWriter:
    """Queue telemetry without blocking and deliver it in ordered batches to a sink, spilling on outage."""

    def __init__(
        self,
        sink: Sink,
        *,
        spill_dir: Path,
        batch_lines: int = 5000,
        flush_interval: float = 1.0,
        queue_lines: int = 200_000,
        spill_max_bytes: int = 1 << 30,
        spill_segment_bytes: int = 4 << 20,
        retry_base: float = 0.5,
        retry_max: float = 30.0,
        name: str | None = None,
        local_store: Any = None,
    ) -> None:
        self.sink = sink
        self.name = name or f"{sink.name}-{id(self):x}"
        self.local_store = local_store
        self.batch_lines = max(1, int(batch_lines))
        self.flush_interval = float(flush_interval)
        self.queue_lines = max(1, int(queue_lines))
        self.retry_base = retry_base
        self.retry_max = retry_max
        self.spill = Spill(Path(spill_dir), max_bytes=spill_max_bytes, segment_bytes=spill_segment_bytes)
        self._queue: deque[tuple[Encoder | None, Any, Any]] = deque()
        self._cache = lp.TagCache()
        self._stop_event = threading.Event()
        self._thread: threading.Thread | None = None
        self._accepting = True
        self._deadline = 0.0
        self._failures = 0
        self._next_attempt = 0.0
        self._replay: tuple[Path, list[str]] | None = None
        self._replay_pos = 0
        self.dropped_total = 0
        self.written_total = 0
        self.batches_total = 0
        self.retries_total = 0
        self.rejected_total = 0
        self.invalid_total = 0
        self.last_error = 0.0
        self.last_error_message = ""
        _WRITERS.add(self)

    # -- caller side: microseconds, never blocks ------------------------------------------------

    def enqueue_reading(self, reading: Reading, tags: Mapping[str, str] | None = None) -> None:
        """Queue a reading; drop and count it when the queue is full."""
        if len(self._queue) < self.queue_lines and self._accepting:
            self._queue.append((lp.encode_reading, reading, tags))
        else:
            self.dropped_total += 1

    def enqueue_event(self, event: DeviceEvent, tags: Mapping[str, str] | None = None) -> None:
        """Queue a device event (a `device_events` point); drop and count it when the queue is full."""
        if len(self._queue) < self.queue_lines and self._accepting:
            self._queue.append((lp.encode_event, event, tags))
        else:
            self.dropped_total += 1

    def enqueue_status(self, status: DeviceStatus, tags: Mapping[str, str] | None = None) -> None:
        """Queue a device status (a `device_status` point); drop and count it when the queue is full."""
        if len(self._queue) < self.queue_lines and self._accepting:
            self._queue.append((lp.encode_status, status, tags))
        else:
            self.dropped_total += 1

    def enqueue_accel(self, batch: AccelBatch, tags: Mapping[str, str] | None = None) -> None:
        """Queue a one-line summary of an acceleration block; drop and count it when the queue is full."""
        if len(self._queue) < self.queue_lines and self._accepting:
            self._queue.append((lp.encode_accel_summary, batch, tags))
        else:
            self.dropped_total += 1

    def enqueue_lines(self, lines: list[str]) -> None:
        """Queue ready-made line protocol (ms precision); what does not fit is dropped and counted."""
        room = self.queue_lines - len(self._queue) if self._accepting else 0
        if room < len(lines):
            self.dropped_total += len(lines) - max(room, 0)
            lines = lines[: max(room, 0)]
        self._queue.extend((None, line, None) for line in lines)

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the background thread (spilled data from an earlier run is replayed first)."""
        if self._thread is not None:
            return
        self._accepting = True
        self._stop_event.clear()
        self._thread = threading.Thread(target=self._run, name=f"telemetry-{self.name}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop: send what the timeout allows, spill the rest to disk, close the sink."""
        if self._thread is None:
            if self._accepting:  # never started: nothing to send, but release files and connections
                self._accepting = False
                self._shutdown()
            return
        self._accepting = False
        self._deadline = time.monotonic() + timeout * 0.8
        self._stop_event.set()
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.error("telemetry writer %s did not stop within %.1fs", self.name, timeout)
        self._thread = None

    def stats(self) -> dict[str, float]:
        """Return counters and gauges; `last_error` is the Unix time of the last failure (0: none)."""
        return {
            "queue_depth": float(len(self._queue)),
            "spill_bytes": float(self.spill.bytes),
            "spill_files": float(self.spill.files),
            "dropped_total": float(self.dropped_total),
            "written_total": float(self.written_total),
            "batches_total": float(self.batches_total),
            "retries_total": float(self.retries_total),
            "rejected_total": float(self.rejected_total),
            "invalid_total": float(self.invalid_total),
            "last_error": self.last_error,
        }

    # -- writer thread ---------------------------------------------------------------------------

    def _run(self) -> None:
        last_flush = time.monotonic()
        while not self._stop_event.is_set():
            try:
                now = time.monotonic()
                depth = len(self._queue)
                if depth >= self.batch_lines or (depth and now - last_flush >= self.flush_interval):
                    last_flush = now
                    self._deliver(self._take(self.batch_lines))
                elif self.spill and now >= self._next_attempt:
                    self._replay_step()
                else:
                    self._stop_event.wait(_POLL_S)
            except Exception:  # the thread must survive anything (a full disk, a bug in a sink)
                log.exception("telemetry writer %s loop failed", self.name)
                self._stop_event.wait(1.0)
        self._shutdown()

    def _take(self, n: int) -> list[str]:
        """Pop up to n queued items and encode them; NaN/inf and unencodable items are counted."""
        queue, cache, lines = self._queue, self._cache, []
        append, popleft = lines.append, queue.popleft
        for _ in range(min(n, len(queue))):
            encode, obj, tags = popleft()
            if encode is None:
                append(obj)
                continue
            try:
                line = encode(obj, tags, cache)
            except Exception:
                log.exception("cannot encode %r", obj)
                line = None
            if line is None:
                self.invalid_total += 1
            else:
                append(line)
        return lines

    def _deliver(self, lines: list[str]) -> None:
        if not lines:
            return
        if self.spill:  # keep order: older data is waiting on disk
            self._to_spill(lines)
            return
        try:
            self.sink.send(lines)
        except RetryableError as exc:
            self._failed(exc)
            self._to_spill(lines)
        except RejectedError as exc:
            self._rejected(lines, exc)
        else:
            self._sent(len(lines))

    def _replay_step(self) -> None:
        """Send the next chunk of the oldest spill segment; delete the segment once all of it is in."""
        if self._replay is None:
            oldest = self.spill.oldest()
            if oldest is None:
                return
            self._replay, self._replay_pos = oldest, 0
        path, lines = self._replay
        chunk = lines[self._replay_pos: self._replay_pos + self.batch_lines]
        if chunk:
            try:
                self.sink.send(chunk)
            except RetryableError as exc:
                self._failed(exc)
                return
            except RejectedError as exc:
                self._rejected(chunk, exc)
            else:
                self._sent(len(chunk))
            self._replay_pos += len(chunk)
        if self._replay_pos >= len(lines):
            self.spill.remove(path)
            self._replay = None
            if not self.spill:
                log.info("telemetry writer %s: spill replayed", self.name)

    def _to_spill(self, lines: list[str]) -> None:
        try:
            stored = self.spill.append(lines)
        except OSError as exc:
            log.error("telemetry spill write failed: %s", exc)
            stored = False
        if not stored:
            self.dropped_total += len(lines)

    def _sent(self, n: int) -> None:
        self.written_total += n
        self.batches_total += 1
        self._failures = 0

    def _failed(self, exc: Exception) -> None:
        self._failures += 1
        self.retries_total += 1
        delay = min(self.retry_max, self.retry_base * 2 ** min(self._failures - 1, 30))
        delay *= 0.5 + random.random() * 0.5  # jitter: hubs restarting together do not retry in step
        self._next_attempt = time.monotonic() + delay
        self._error(f"{self.sink.name}: {exc}; retry in {delay:.1f}s")

    def _rejected(self, lines: list[str], exc: Exception) -> None:
        self.rejected_total += len(lines)
        self._error(f"{self.sink.name} rejected {len(lines)} lines: {exc}")

    def _error(self, message: str) -> None:
        if message != self.last_error_message:
            log.warning("telemetry writer %s: %s", self.name, message)
        self.last_error = time.time()
        self.last_error_message = message

    def _shutdown(self) -> None:
        deadline = self._deadline
        try:
            while self._queue:
                lines = self._take(self.batch_lines)
                if time.monotonic() < deadline:
                    self._deliver(lines)
                else:
                    self._to_spill(lines)
        finally:
            self.spill.close()
            self.sink.close()


def make_telemetry_writer(settings: Any) -> TelemetryWriter:
    """Build the writer the settings ask for: local store (no influx_url), InfluxDB v1, or v2."""
    from hub.telemetry.local_store import LocalStore, LocalStoreSink
    from hub.telemetry.sinks import InfluxV1Sink, InfluxV2Sink

    data_dir = Path(settings.data_dir)
    local_store = None
    sink: Sink
    if not settings.influx_url:
        retention_days = float(getattr(settings, "telemetry_retention_days", 7.0))
        local_store = LocalStore(data_dir / "telemetry.db", retention_s=retention_days * 86400.0)
        sink = LocalStoreSink(local_store)
    elif settings.influx_api == "v1" or (settings.influx_api == "auto" and not settings.influx_token):
        sink = InfluxV1Sink(settings.influx_url, database=settings.influx_database,
                            username=settings.influx_username, password=settings.influx_password,
                            precision=lp.PRECISION)
    else:
        sink = InfluxV2Sink(settings.influx_url, token=settings.influx_token, org=settings.influx_org,
                            bucket=settings.influx_bucket)
    return TelemetryWriter(
        sink,
        spill_dir=data_dir / "spill",
        batch_lines=settings.influx_batch_lines,
        flush_interval=settings.influx_flush_interval,
        queue_lines=settings.influx_queue_lines,
        spill_max_bytes=int(getattr(settings, "influx_spill_max_bytes", 1 << 30)),
        local_store=local_store,
    )


# -- Prometheus: one collector reads stats() of every live writer, labelled by writer name --------

_WRITERS: weakref.WeakSet[TelemetryWriter] = weakref.WeakSet()

_METRICS = (
    ("carehub_telemetry_queue_depth", "gauge", "queue_depth", "Telemetry items waiting in memory."),
    ("carehub_telemetry_spill_bytes", "gauge", "spill_bytes", "Bytes of telemetry spilled to disk."),
    ("carehub_telemetry_spill_files", "gauge", "spill_files", "Spill segment files on disk."),
    ("carehub_telemetry_dropped", "counter", "dropped_total", "Telemetry lines dropped (queue/spill full)."),
    ("carehub_telemetry_written", "counter", "written_total", "Telemetry lines accepted by the sink."),
    ("carehub_telemetry_batches", "counter", "batches_total", "Telemetry batches accepted by the sink."),
    ("carehub_telemetry_retries", "counter", "retries_total", "Failed telemetry sends that will be retried."),
    ("carehub_telemetry_rejected", "counter", "rejected_total", "Telemetry lines the server refused."),
    ("carehub_telemetry_invalid", "counter", "invalid_total", "Telemetry items not encodable (NaN/inf)."),
)


class _TelemetryCollector:
    """Expose every live writer's stats() as labelled metrics, so many writers never clash."""

    def collect(self) -> Iterable[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        writers = list(_WRITERS)
        for name, kind, key, doc in _METRICS:
            family_cls = GaugeMetricFamily if kind == "gauge" else CounterMetricFamily
            family = family_cls(name, doc, labels=["writer"])
            for writer in writers:
                family.add_metric([writer.name], writer.stats()[key])
            yield family

    def describe(self) -> Iterable[Any]:
        return []


def _register_collector() -> None:
    from prometheus_client import REGISTRY

    if not getattr(REGISTRY, "_carehub_telemetry_registered", False):
        REGISTRY.register(_TelemetryCollector())
        REGISTRY._carehub_telemetry_registered = True  # type: ignore[attr-defined]


_register_collector()
