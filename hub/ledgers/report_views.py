"""Monthly report API: figures for the caller's sites as JSON, CSV, XLSX or PDF; publishing the month's report.

No `from __future__ import annotations` here: FastAPI must see the dependency aliases.
"""

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, status
from fastapi.responses import Response

from hub.ledgers import report_files, reports
from hub.ledgers.models import MonthlyFigures, MonthlyReport, PublishedReport, ReportPublished
from hub.ledgers.views import Ledgers, Reader, Writer

MEDIA = {"csv": "text/csv; charset=utf-8", "pdf": "application/pdf",
         "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
# JSON by default; the other formats answer a file download instead of the declared model.
FILES_TOO: dict[int | str, dict[str, Any]] = {
    200: {"content": {media.split(";")[0]: {} for media in MEDIA.values()},
          "description": "The figures as JSON, or a CSV, XLSX or PDF file with `format=`."}}

router = APIRouter(prefix="/api/reports/monthly", tags=["reports"])

Month = Annotated[str, Path(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="YYYY-MM")]
ReportFormat = Annotated[str, Query(alias="format", pattern="^(json|csv|xlsx|pdf)$")]


def _file(figures: dict, month: str, fmt: str, tz: str) -> Response:
    """Return the figures as a CSV, XLSX or PDF download (503 when no Chinese font is installed for the PDF)."""
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


@router.get("/{month}", response_model=MonthlyFigures, responses=FILES_TOO)
def monthly(month: Month, principal: Reader, flow: Ledgers, fmt: ReportFormat = "json"):
    """Return month M's figures for the caller's sites (alerts, answer times, orders, hazards, coverage)."""
    tz = flow.settings.timezone
    with flow.session_factory() as session:
        figures = reports.monthly_figures(db_session=session, month=month, tz=tz, site_ids=principal.site_ids)
    return MonthlyFigures(**figures) if fmt == "json" else _file(figures, month, fmt, tz)


@router.post("/{month}/publish", response_model=ReportPublished)
def publish(month: Month, principal: Writer, flow: Ledgers) -> ReportPublished:
    """Freeze and publish month M's report for every site (needs a caller whose scope is every site)."""
    if principal.site_ids is not None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "only a caller who sees every site publishes the report")
    with flow.session_factory() as session, session.begin():
        report = reports.publish(db_session=session, month=month, tz=flow.settings.timezone, actor=principal.actor,
                                 now=flow.clock())
        return ReportPublished(month=report.month, published_at=report.published_at, late=report.late,
                               figures=report.figures)


@router.get("/{month}/published", response_model=PublishedReport)
def published(month: Month, principal: Reader, flow: Ledgers) -> PublishedReport:
    """Return the published report of month M (404 before it is published)."""
    if principal.site_ids is not None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no published report for {month}")
    with flow.session_factory() as session:
        report = session.get(MonthlyReport, month)
        if report is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no published report for {month}")
        return PublishedReport(month=report.month, published_at=report.published_at,
                               published_by=report.published_by, late=report.late, figures=report.figures)
