"""Durable recording of alarm deliveries, exactly once, before the transport is acknowledged."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from device_drivers.model import DeviceEvent, EventKind, EventState
from hub import metrics
from hub.cluster.fence import Fence, LeaseLost
from hub.devices.directory import DeviceDirectory
from hub.events.models import DeviceEventRecord
from hub.ingest.lanes import ALARM_PRIORITY, AlarmLane, Delivery
from hub.ingest.processor import Processor, event_record
from hub.write_turn import mark_alarm_writer, relaxed_sync

log = logging.getLogger(__name__)


class AlarmRecorder:
    """Takes alarm deliveries oldest first, commits them and acks the broker; a second thread then hands
    them, in the same order, to the detectors.

    Two threads so that recording the next alarm never waits for the alert transaction of the one before
    (under half load that wait was most of an SOS's p99). In a cluster it records for one `shard`, and
    only while `fence` holds: a batch whose commit the fence refuses stays unacknowledged, so the broker
    hands it to the shard's next holder.
    """

    def __init__(self, *, lane: AlarmLane, session_factory: sessionmaker[Session],
                 directory: DeviceDirectory, processor: Processor, shard: str | None = None,
                 fence: Fence | None = None) -> None:
        self.lane = lane
        self.shard = shard
        self.fence = fence
        self.session_factory = session_factory
        self.directory = directory
        self.processor = processor
        self.recorded = 0
        self.redeliveries = 0
        # Called with each new delivery once committed and acknowledged, before the detectors see it.
        self.after_commit: list[Callable[[Delivery], None]] = []
        self._stop = threading.Event()
        self._recorded: queue.SimpleQueue[tuple[Delivery, list[int]] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="carehub-alarm-recorder", daemon=True)
        self._processing = threading.Thread(target=self._process_recorded, name="carehub-alarm-processor",
                                            daemon=True)

    def start(self) -> None:
        """Start the recorder and processor threads."""
        self._processing.start()
        self._thread.start()

    def stop(self) -> None:
        """Record what is queued, hand it to the detectors and stop."""
        self._stop.set()
        self._thread.join(15)
        self._recorded.put(None)
        self._processing.join(15)

    def _run(self) -> None:
        mark_alarm_writer()
        while not self._stop.is_set() or len(self.lane):
            batch = self.lane.take_all(timeout=0.2)
            if not batch:
                continue
            while True:
                try:
                    ids = self.record(batch)
                    break
                except LeaseLost:
                    log.error("shard %s lost: %d alarm deliveries left unacknowledged for its next holder",
                              self.shard, len(batch))
                    ALARM_PRIORITY.end(len(batch) + len(self.lane))
                    return
                except Exception:
                    # The database is the only durable place: keep the batch, un-acked, and retry.
                    log.exception("recording %d alarm deliveries failed; retrying", len(batch))
                    time.sleep(0.5)
            for delivery in batch:
                if self._acknowledge(delivery):
                    self._recorded.put((delivery, ids.get(id(delivery), [])))
                else:
                    ALARM_PRIORITY.end()

    def _process_recorded(self) -> None:
        mark_alarm_writer()
        handled: list[int] = []
        while (item := self._recorded.get()) is not None:
            delivery, record_ids = item
            try:
                if self._process(delivery):
                    handled += record_ids
            finally:
                ALARM_PRIORITY.end()
            if self._recorded.empty():  # marked in one go when no alarm waits: it is bookkeeping only
                self._mark_handled(handled)
                handled = []
        self._mark_handled(handled)

    def record(self, batch: list[Delivery]) -> dict[int, list[int]]:
        """Write every alarm event of `batch` in one transaction, skipping broker redeliveries.

        Returns the new rows' ids per delivery (by `id(delivery)`), to mark them handled after processing.
        """
        ids: dict[int, list[int]] = {}
        with self.session_factory() as session, session.begin():
            if self.fence:
                self.fence.check(session)
            rows = []
            for delivery in batch:
                if delivery.redelivery and delivery.delivery_key and self._already_recorded(session, delivery):
                    delivery.error.append("redelivery")
                    continue
                for event in delivery.alarm_events:
                    ref = self.directory.lookup(event.device_key)
                    row = event_record(event, ref, delivery.received_at, delivery.delivery_key)
                    row.handled = False
                    row.shard = self.shard
                    session.add(row)
                    rows.append((id(delivery), row))
            session.flush()
            for key, row in rows:
                ids.setdefault(key, []).append(row.id)
        return ids

    @staticmethod
    def _already_recorded(session: Session, delivery: Delivery) -> bool:
        query = select(DeviceEventRecord.id).where(DeviceEventRecord.delivery_key == delivery.delivery_key)
        return session.execute(query.limit(1)).first() is not None

    def _acknowledge(self, delivery: Delivery) -> bool:
        """Count a committed delivery and ack it; return whether it is new (a redelivery is not processed)."""
        redelivered = "redelivery" in delivery.error
        if redelivered:
            self.redeliveries += 1
            metrics.ALARM_REDELIVERIES.inc()
        else:
            self.recorded += 1
            for event in delivery.alarm_events:
                metrics.ALARMS_RECORDED.labels(str(event.kind)).inc()
        if delivery.ack is not None:
            delivery.ack()
        if delivery.recorded is not None:
            delivery.error.clear()
            delivery.recorded.set()
        if not redelivered:
            for hook in self.after_commit:
                hook(delivery)
        return not redelivered

    def _process(self, delivery: Delivery) -> bool:
        """Hand a recorded delivery to the detectors; return whether it may be marked handled."""
        try:
            with relaxed_sync():  # the alarm is on disk: what follows from it needs no fsync of its own
                self.processor.process(delivery, recorded=True)
            return True
        except Exception:
            log.exception("processing a recorded alarm from %s failed", delivery.source)
            return False  # left unhandled: the next start hands it to the detectors again

    def _mark_handled(self, record_ids: list[int]) -> None:
        if not record_ids:
            return
        try:
            with relaxed_sync(), self.session_factory() as session, session.begin():
                if self.fence:
                    self.fence.check(session)  # a lost shard's next holder re-runs what we did not mark
                session.execute(update(DeviceEventRecord).where(DeviceEventRecord.id.in_(record_ids))
                                .values(handled=True))
        except Exception:
            log.exception("marking %d alarm events handled failed (they are re-run at the next start)",
                          len(record_ids))

    def recover(self, max_age_s: float = 86_400.0) -> int:
        """Hand alarms recorded but not yet taken by the detectors (the hub died between) to them again.

        Run at start-up before intake begins; returns how many were recovered.
        """
        now = time.time()
        with self.session_factory() as session:
            query = select(DeviceEventRecord).where(
                DeviceEventRecord.handled.is_(False), DeviceEventRecord.received_at >= now - max_age_s)
            if self.shard is not None:
                query = query.where(DeviceEventRecord.shard == self.shard)
            rows = session.scalars(query.order_by(DeviceEventRecord.id)).all()
        for row in rows:
            event = DeviceEvent(device_key=row.device_key, kind=EventKind(row.kind), state=EventState(row.state),
                                ts=row.ts, source=row.source, detail=dict(row.detail or {}))
            delivery = Delivery(transport="recovery", source=row.source, topic="", messages=[event],
                                received_at=row.received_at, received_mono=time.monotonic())
            if self._process(delivery):
                self._mark_handled([row.id])
        if rows:
            log.warning("recovered %d recorded alarms that had not reached the detectors", len(rows))
        return len(rows)
