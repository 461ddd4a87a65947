"""Periodic checks the hub's timer loop runs: work-order SLAs, overdue hazards and tasks, inspection tasks."""

from __future__ import annotations

import datetime as dt
import logging
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from hub.config import Settings
from hub.devices.models import Site
from hub.ledgers import flows as ledger_flows
from hub.timers import TimerLoop
from hub.workorders import flows as workorder_flows

log = logging.getLogger(__name__)

SLA_CHECK_S = 30.0
OVERDUE_CHECK_S = 60.0
TASK_GENERATION_S = 3600.0
TASK_DAYS_AHEAD = 7


def register(timers: TimerLoop, session_factory: sessionmaker[Session], settings: Settings) -> None:
    """Add the periodic checks to the timer loop (each is idempotent: a repeat run changes nothing)."""

    def work_order_sla(now: float) -> None:
        with session_factory() as session, session.begin():
            escalated = workorder_flows.check_sla(db_session=session, now=now)
        if escalated:
            log.warning("%d work orders escalated past their SLA", len(escalated))

    def overdue(now: float) -> None:
        with session_factory() as session, session.begin():
            found = ledger_flows.check_overdue(db_session=session, now=now, deadlines_h=settings.hazard_deadlines_h,
                                               tz=settings.timezone)
        if found["hazards"] or found["tasks"]:
            log.warning("%d hazards escalated, %d inspection tasks overdue", len(found["hazards"]),
                        len(found["tasks"]))

    def inspection_tasks(now: float) -> None:
        today = dt.datetime.fromtimestamp(now, ZoneInfo(settings.timezone)).date()
        with session_factory() as session, session.begin():
            site_ids = list(session.scalars(select(Site.id)))
            if site_ids:
                ledger_flows.generate_tasks(db_session=session, site_ids=site_ids, start=today,
                                            days=TASK_DAYS_AHEAD, now=now, tz=settings.timezone)

    timers.every(SLA_CHECK_S, work_order_sla)
    timers.every(OVERDUE_CHECK_S, overdue)
    timers.every(TASK_GENERATION_S, inspection_tasks)
