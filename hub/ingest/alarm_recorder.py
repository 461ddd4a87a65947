"""Durable recording of alarm deliveries, exactly once, before the transport is acknowledged."""

from __future__ import annotations

import logging
import threading
import time

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from hub import metrics
from hub.devices.directory import DeviceDirectory
from hub.events.models import DeviceEventRecord
from hub.ingest.lanes import AlarmLane, Delivery
from hub.ingest.processor import Processor, event_record

log = logging.getLogger(__name__)


class AlarmRecorder:
    """Takes alarm deliveries oldest first, commits them, then acks the broker and processes them."""

    def __init__(self, *, lane: AlarmLane, session_factory: sessionmaker[Session],
                 directory: DeviceDirectory, processor: Processor) -> None:
        self.lane = lane
        self.session_factory = session_factory
        self.directory = directory
        self.processor = processor
        self.recorded = 0
        self.redeliveries = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="carehub-alarm-recorder", daemon=True)

    def start(self) -> None:
        """Start the recorder thread."""
        self._thread.start()

    def stop(self) -> None:
        """Record what is queued and stop."""
        self._stop.set()
        self._thread.join(15)

    def _run(self) -> None:
        while not self._stop.is_set() or len(self.lane):
            batch = self.lane.take_all(timeout=0.2)
            if not batch:
                continue
            while True:
                try:
                    self.record(batch)
                    break
                except Exception:
                    # The database is the only durable place: keep the batch, un-acked, and retry.
                    log.exception("recording %d alarm deliveries failed; retrying", len(batch))
                    time.sleep(0.5)
            for delivery in batch:
                self._after_record(delivery)

    def record(self, batch: list[Delivery]) -> None:
        """Write every alarm event of `batch` in one transaction, skipping broker redeliveries."""
        with self.session_factory() as session, session.begin():
            for delivery in batch:
                if delivery.redelivery and delivery.delivery_key and self._already_recorded(session, delivery):
                    delivery.error.append("redelivery")
                    continue
                for event in delivery.alarm_events:
                    ref = self.directory.lookup(event.device_key)
                    session.add(event_record(event, ref, delivery.received_at, delivery.delivery_key))

    @staticmethod
    def _already_recorded(session: Session, delivery: Delivery) -> bool:
        query = select(DeviceEventRecord.id).where(DeviceEventRecord.delivery_key == delivery.delivery_key)
        return session.execute(query.limit(1)).first() is not None

    def _after_record(self, delivery: Delivery) -> None:
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
            try:
                self.processor.process(delivery, recorded=True)
            except Exception:
                log.exception("processing a recorded alarm from %s failed", delivery.source)
