"""KPI API: GET /api/kpis, answer and arrival times and false-alarm rates for the caller's sites.

No `from __future__ import annotations` here: FastAPI must see the dependency aliases.
"""

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, status

from hub.alerts import kpis
from hub.alerts.models import KpiReport
from hub.alerts.views import Flow
from hub.auth.principal import Principal
from hub.auth.roles import Permission
from hub.deps import require

DEFAULT_WINDOW_S = 30 * 86_400.0

router = APIRouter(prefix="/api/kpis", tags=["kpis"])

AlertsReader = Annotated[Principal, require(Permission.ALERTS_READ)]


def staff_reader(principal: AlertsReader) -> Principal:
    """Return the caller if they may read alerts and are staff (403 for family users)."""
    # A family's scope is its relatives, not sites: site and operator figures are not theirs to read.
    if principal.is_family:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "your role may not read duty-room KPIs")
    return principal


Reader = Annotated[Principal, Depends(staff_reader)]


@router.get("", response_model=KpiReport)
def kpi_report(
    principal: Reader,
    flow: Flow,
    since: Annotated[float | None, Query(description="epoch seconds, inclusive; default until - 30 days")] = None,
    until: Annotated[float | None, Query(description="epoch seconds, exclusive; default now")] = None,
    priority: Annotated[list[int] | None, Query(description="only these priorities (1, 2, 3)")] = None,
) -> KpiReport:
    """Return KPIs for alerts raised in [since, until) at your sites: overall, per site, per operator."""
    now = flow.clock()
    until = now if until is None else until
    since = until - DEFAULT_WINDOW_S if since is None else since
    if until <= since:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "until must be after since")
    with flow.session_factory() as session:
        rows = kpis.load(db_session=session, site_ids=principal.site_ids, since=since, until=until,
                         priorities=priority)
    return KpiReport(since=since, until=until, now=now, percentiles="numpy.percentile, method='linear'",
                     **kpis.report(rows, now))
