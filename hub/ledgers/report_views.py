"""Monthly report API: figures for the caller's sites as JSON, CSV, XLSX or PDF; publishing the month's report.

No `from __future__ import annotations` here: FastAPI must see the closure-local dependency aliases.
"""

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, status
from fastapi.responses import Response

from hub.auth.deps import Auth
from hub.auth.principal import Principal
from hub.auth.roles import Permission
from hub.ledgers import report_files, reports
from hub.ledgers.flows import LedgerFlow
from hub.ledgers.models import MonthlyReport

MEDIA = {"csv": "text/csv; charset=utf-8", "pdf": "application/pdf",
         "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def make_router(auth: Auth, flow: LedgerFlow) -> APIRouter:
    """Return the monthly-report router."""
    router = APIRouter(prefix="/api/reports/monthly", tags=["reports"])
    Reader = Annotated[Principal, Depends(auth.require(Permission.LEDGERS_READ))]
    Writer = Annotated[Principal, Depends(auth.require(Permission.LEDGERS_WRITE))]
    Month = Annotated[str, Path(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="YYYY-MM")]
    tz = flow.settings.timezone

    @router.get("/{month}")
    def monthly(month: Month, principal: Reader,
                fmt: Annotated[str, Query(alias="format", pattern="^(json|csv|xlsx|pdf)$")] = "json"):
        """Return month M's figures for the caller's sites (alerts, answer times, orders, hazards, coverage)."""
        with flow.session_factory() as session:
            figures = reports.monthly_figures(db_session=session, month=month, tz=tz, site_ids=principal.site_ids)
        if fmt == "json":
            return figures
        if fmt == "csv":
            body: bytes | str = report_files.to_csv(figures)
        elif fmt == "xlsx":
            body = report_files.to_xlsx(figures)
        else:
            try:
                body = report_files.to_pdf(figures, tz)
            except report_files.NoChineseFont as err:
                raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(err)) from err
        return Response(body, media_type=MEDIA[fmt],
                        headers={"Content-Disposition": f'attachment; filename="carehub-{month}.{fmt}"'})

    @router.post("/{month}/publish")
    def publish(month: Month, principal: Writer) -> dict:
        """Freeze and publish month M's report for every site (needs a caller whose scope is every site)."""
        if principal.site_ids is not None:
            raise HTTPException(status.HTTP_403_FORBIDDEN, "only a caller who sees every site publishes the report")
        with flow.session_factory() as session, session.begin():
            report = reports.publish(db_session=session, month=month, tz=tz, actor=principal.actor,
                                     now=flow.clock())
            return {"month": report.month, "published_at": report.published_at, "late": report.late,
                    "figures": report.figures}

    @router.get("/{month}/published")
    def published(month: Month, principal: Reader) -> dict:
        """Return the published report of month M (404 before it is published)."""
        if principal.site_ids is not None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no published report for {month}")
        with flow.session_factory() as session:
            report = session.get(MonthlyReport, month)
            if report is None:
                raise HTTPException(status.HTTP_404_NOT_FOUND, f"no published report for {month}")
            return {"month": report.month, "published_at": report.published_at, "published_by": report.published_by,
                    "late": report.late, "figures": report.figures}

    return router
