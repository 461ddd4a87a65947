"""Ledger API: hazards, the three lists (JSON or CSV), inspections, complaints, device tests, abnormal events.

No `from __future__ import annotations` here: FastAPI must see the dependency aliases.
"""

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi.responses import Response
from sqlalchemy import select

from hub.auth.principal import Principal
from hub.auth.roles import Permission
from hub.deps import require
from hub.devices.models import Device, Site
from hub.ledgers import inspections, lists, records, service
from hub.ledgers.flows import LedgerFlow
from hub.ledgers.models import (
    AbnormalEvent,
    AbnormalEventIn,
    AbnormalEventPublic,
    Complaint,
    ComplaintIn,
    ComplaintPublic,
    DeviceTest,
    DeviceTestDue,
    DeviceTestIn,
    DeviceTestPublic,
    FeedbackIn,
    HazardCategory,
    HazardDetail,
    HazardIn,
    HazardLevel,
    HazardListRow,
    HazardPublic,
    HazardStatus,
    PlanIn,
    RectificationRow,
    RectifiedIn,
    RectifyIn,
    ReinspectIn,
    ResponsibilityRow,
    TaskDone,
    TaskPublic,
    TaskResultIn,
    TasksGenerated,
    TemplateIn,
    TemplatePublic,
)

router = APIRouter()


def get_ledgers(request: Request) -> LedgerFlow:
    """Return the app's ledger flow (create_app puts it on app.state)."""
    return request.app.state.ledgers


Ledgers = Annotated[LedgerFlow, Depends(get_ledgers)]
Reader = Annotated[Principal, require(Permission.LEDGERS_READ)]
Writer = Annotated[Principal, require(Permission.LEDGERS_WRITE)]
Reinspector = Annotated[Principal, require(Permission.REINSPECT)]
Inspector = Annotated[Principal, require(Permission.INSPECT)]
Reporter = Annotated[Principal, require(Permission.WORKORDERS_ACT)]
Format = Annotated[str, Query(alias="format", pattern="^(json|csv)$")]
# The three lists answer JSON by default; `format=csv` answers a file instead of the declared model.
CSV_TOO: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {}}, "description": "The rows as JSON, or as CSV with `format=csv`."}}


def public(hazard) -> HazardPublic:
    """Return the hazard as the API shows it."""
    return HazardPublic.model_validate(hazard)


def _not_found(what: str, item_id: int) -> HTTPException:
    # The same answer whether the record does not exist or belongs to another site.
    return HTTPException(status.HTTP_404_NOT_FOUND, f"{what} {item_id} not found")


def _scoped(query, column, principal: Principal):
    return query if principal.site_ids is None else query.where(column.in_(sorted(principal.site_ids)))


def _run(flow: LedgerFlow, principal: Principal, hazard_id: int, action) -> HazardPublic:
    try:
        hazard = flow.act(principal, hazard_id, action)
    except service.HazardRuleError as err:
        raise HTTPException(status.HTTP_409_CONFLICT, str(err)) from err
    if hazard is None:
        raise _not_found("hazard", hazard_id)
    return public(hazard)


# --------------------------------------------------------------------------------------------- hazards


@router.get("/api/hazards", tags=["hazards"], response_model=list[HazardPublic])
def list_hazards(principal: Reader, flow: Ledgers,
                 status_: Annotated[list[HazardStatus] | None, Query(alias="status")] = None,
                 level: HazardLevel | None = None, site_id: int | None = None, alert_id: int | None = None,
                 overdue: bool = False, limit: Annotated[int, Query(ge=1, le=10000)] = 1000) -> list[HazardPublic]:
    """Return the caller's hazards, red first, oldest first within a level."""
    with flow.session_factory() as session:
        return [public(h) for h in service.list_hazards(
            db_session=session, principal=principal, statuses=status_, level=level, site_id=site_id,
            alert_id=alert_id, overdue_at=flow.clock() if overdue else None, limit=limit)]


@router.post("/api/hazards", tags=["hazards"], status_code=status.HTTP_201_CREATED, response_model=HazardPublic)
def register_hazard(body: HazardIn, principal: Writer, flow: Ledgers) -> HazardPublic:
    """Register a hazard by hand; the deadline defaults to the level's (red 24 h ... blue 15 d)."""
    hazard = flow.register(principal, body)
    if hazard is None:
        raise _not_found("site", body.site_id)
    return public(hazard)


@router.get("/api/hazards/{hazard_id}", tags=["hazards"], response_model=HazardDetail)
def hazard_detail(hazard_id: int, principal: Reader, flow: Ledgers) -> HazardDetail:
    """Return one hazard with every step of its history."""
    with flow.session_factory() as session:
        hazard = service.get_in_scope(db_session=session, hazard_id=hazard_id, principal=principal)
        if hazard is None:
            raise _not_found("hazard", hazard_id)
        return HazardDetail(**public(hazard).model_dump(),
                            history=service.history(db_session=session, hazard_id=hazard_id))


@router.post("/api/hazards/{hazard_id}/rectify", tags=["hazards"], response_model=HazardPublic)
def rectify(hazard_id: int, body: RectifyIn, principal: Writer, flow: Ledgers) -> HazardPublic:
    """Start (or revise) rectification: measures, responsible person, department, deadline."""
    return _run(flow, principal, hazard_id, lambda s, h, now: service.start_rectification(
        db_session=s, hazard=h, actor=principal.actor, measures=body.measures,
        responsible_person=body.responsible_person, department=body.department, deadline_at=body.deadline_at,
        now=now))


@router.post("/api/hazards/{hazard_id}/rectified", tags=["hazards"], response_model=HazardPublic)
def rectified(hazard_id: int, body: RectifiedIn, principal: Writer, flow: Ledgers) -> HazardPublic:
    """Report the rectification done, with evidence; the hazard waits for re-inspection."""
    return _run(flow, principal, hazard_id, lambda s, h, now: service.submit_rectification(
        db_session=s, hazard=h, actor=principal.actor, note=body.note, evidence=body.evidence, now=now))


@router.post("/api/hazards/{hazard_id}/reinspect", tags=["hazards"], response_model=HazardPublic)
def reinspect(hazard_id: int, body: ReinspectIn, principal: Reinspector, flow: Ledgers) -> HazardPublic:
    """Re-inspect (someone other than the rectifier): pass, or fail back to rectifying."""
    return _run(flow, principal, hazard_id, lambda s, h, now: service.reinspect(
        db_session=s, hazard=h, actor=principal.actor, passed=body.passed, note=body.note,
        evidence=body.evidence, now=now))


@router.post("/api/hazards/{hazard_id}/plan", tags=["hazards"], response_model=HazardPublic)
def treatment_plan(hazard_id: int, body: PlanIn, principal: Writer, flow: Ledgers) -> HazardPublic:
    """Attach the treatment plan of a major hazard."""
    return _run(flow, principal, hazard_id, lambda s, h, now: service.set_treatment_plan(
        db_session=s, hazard=h, actor=principal.actor, plan=body.treatment_plan, major=body.major, now=now))


@router.post("/api/hazards/{hazard_id}/close", tags=["hazards"], response_model=HazardPublic)
def close(hazard_id: int, principal: Writer, flow: Ledgers) -> HazardPublic:
    """Close out the hazard (销号); refused without a passed re-inspection by someone else."""
    return _run(flow, principal, hazard_id, lambda s, h, now: service.close(
        db_session=s, hazard=h, actor=principal.actor, now=now))


@router.post("/api/hazards/{hazard_id}/archive", tags=["hazards"], response_model=HazardPublic)
def archive(hazard_id: int, principal: Writer, flow: Ledgers) -> HazardPublic:
    """Archive a closed hazard."""
    return _run(flow, principal, hazard_id, lambda s, h, now: service.archive(
        db_session=s, hazard=h, actor=principal.actor, now=now))


# ----------------------------------------------------------------------------------------- three lists


def _three_list(flow: LedgerFlow, principal: Principal, which: str, fmt: str, site_id: int | None):
    """Return one of the three lists as rows, or as a CSV file when `fmt` is csv."""
    now = flow.clock()
    with flow.session_factory() as session:
        hazards = service.list_hazards(db_session=session, principal=principal, site_id=site_id, limit=100_000)
    rows, columns = {
        "hazards": (lists.hazard_rows(hazards), lists.HAZARD_COLUMNS),
        "rectifications": (lists.rectification_rows(hazards, now), lists.RECTIFICATION_COLUMNS),
        "responsibilities": (lists.responsibility_rows(hazards, now), lists.RESPONSIBILITY_COLUMNS),
    }[which]
    if fmt == "csv":
        return Response(lists.to_csv(rows, columns, flow.settings.timezone), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{which}.csv"'})
    return rows


@router.get("/api/ledgers/hazards", tags=["ledgers"], response_model=list[HazardListRow], responses=CSV_TOO)
def hazard_list(principal: Reader, flow: Ledgers, fmt: Format = "json", site_id: int | None = None):
    """Return the hazard list (隐患清单) as JSON or CSV."""
    return _three_list(flow, principal, "hazards", fmt, site_id)


@router.get("/api/ledgers/rectifications", tags=["ledgers"], response_model=list[RectificationRow],
            responses=CSV_TOO)
def rectification_list(principal: Reader, flow: Ledgers, fmt: Format = "json", site_id: int | None = None):
    """Return the rectification list (整改清单) as JSON or CSV."""
    return _three_list(flow, principal, "rectifications", fmt, site_id)


@router.get("/api/ledgers/responsibilities", tags=["ledgers"], response_model=list[ResponsibilityRow],
            responses=CSV_TOO)
def responsibility_list(principal: Reader, flow: Ledgers, fmt: Format = "json", site_id: int | None = None):
    """Return the responsibility list (责任清单) as JSON or CSV."""
    return _three_list(flow, principal, "responsibilities", fmt, site_id)


# ----------------------------------------------------------------------------------------- inspections


@router.get("/api/inspections/templates", tags=["inspections"], response_model=list[TemplatePublic])
def templates(principal: Reader, flow: Ledgers) -> list[TemplatePublic]:
    """Return the inspection plans (the defaults are created on first use)."""
    with flow.session_factory() as session, session.begin():
        return [TemplatePublic.model_validate(t) for t in inspections.ensure_default_templates(db_session=session)]


@router.post("/api/inspections/templates", tags=["inspections"], status_code=status.HTTP_201_CREATED,
             response_model=TemplatePublic)
def create_template(body: TemplateIn, principal: Writer, flow: Ledgers) -> TemplatePublic:
    """Create an inspection plan."""
    with flow.session_factory() as session, session.begin():
        inspections.ensure_default_templates(db_session=session)
        return TemplatePublic.model_validate(inspections.save_template(
            db_session=session, template_in=body, actor=principal.actor, now=flow.clock()))


@router.put("/api/inspections/templates/{template_id}", tags=["inspections"], response_model=TemplatePublic)
def replace_template(template_id: int, body: TemplateIn, principal: Writer, flow: Ledgers) -> TemplatePublic:
    """Replace an inspection plan (tasks already generated keep their checklist)."""
    try:
        with flow.session_factory() as session, session.begin():
            return TemplatePublic.model_validate(inspections.save_template(
                db_session=session, template_in=body, actor=principal.actor, now=flow.clock(),
                template_id=template_id))
    except inspections.InspectionError as err:
        raise _not_found("template", template_id) from err


@router.post("/api/inspections/tasks/generate", tags=["inspections"], response_model=TasksGenerated)
def generate(principal: Writer, flow: Ledgers, start: dt.date, days: Annotated[int, Query(ge=1, le=400)] = 30,
             site_ids: Annotated[list[int] | None, Query()] = None) -> TasksGenerated:
    """Generate the tasks of every active plan for the caller's sites (idempotent)."""
    with flow.session_factory() as session, session.begin():
        wanted = site_ids or list(session.scalars(_scoped(select(Site.id), Site.id, principal)))
        if any(not principal.sees(site_id=s, resident_id=None) for s in wanted):
            raise HTTPException(status.HTTP_404_NOT_FOUND, "site not found")
        created = inspections.generate_tasks(db_session=session, site_ids=wanted, start=start, days=days,
                                             now=flow.clock(), tz=flow.settings.timezone)
        return TasksGenerated(created=len(created))


@router.get("/api/inspections/tasks", tags=["inspections"], response_model=list[TaskPublic])
def tasks(principal: Reader, flow: Ledgers, status_: Annotated[str | None, Query(alias="status")] = None,
          site_id: int | None = None, limit: Annotated[int, Query(ge=1, le=10000)] = 2000) -> list[TaskPublic]:
    """Return inspection tasks by due time (open, overdue or done)."""
    with flow.session_factory() as session:
        return [TaskPublic.model_validate(t) for t in inspections.list_tasks(
            db_session=session, site_ids=principal.site_ids, status=status_, site_id=site_id, limit=limit)]


@router.post("/api/inspections/tasks/{task_id}/results", tags=["inspections"], response_model=TaskDone)
def task_results(task_id: int, body: TaskResultIn, principal: Inspector, flow: Ledgers) -> TaskDone:
    """Record the result of every checklist item; failed items become hazards."""
    try:
        done = flow.complete_task(principal, task_id, body)
    except inspections.InspectionError as err:
        raise HTTPException(status.HTTP_409_CONFLICT, str(err)) from err
    if done is None:
        raise _not_found("inspection task", task_id)
    task, found = done
    return TaskDone(**TaskPublic.model_validate(task).model_dump(), hazards=[public(h) for h in found])


# ------------------------------------------------------------------------------- complaints and records


@router.get("/api/complaints", tags=["ledgers"], response_model=list[ComplaintPublic])
def complaints(principal: Reader, flow: Ledgers, overdue: bool = False) -> list[ComplaintPublic]:
    """Return complaints with their feedback deadline (5 working days); `overdue` lists the late ones."""
    query = _scoped(select(Complaint), Complaint.site_id, principal).order_by(Complaint.received_at)
    if overdue:
        query = query.where(Complaint.feedback_at.is_(None), Complaint.feedback_due_at <= flow.clock())
    with flow.session_factory() as session:
        return [ComplaintPublic.model_validate(c) for c in session.scalars(query)]


@router.post("/api/complaints", tags=["ledgers"], status_code=status.HTTP_201_CREATED, response_model=ComplaintPublic)
def add_complaint(body: ComplaintIn, principal: Writer, flow: Ledgers, hazard_category: HazardCategory | None = None,
                  hazard_level: HazardLevel = HazardLevel.YELLOW) -> ComplaintPublic:
    """Record a complaint; naming `hazard_category` also registers the hazard it reveals."""
    if not principal.sees(site_id=body.site_id, resident_id=body.resident_id):
        raise _not_found("site", body.site_id)
    now, settings = flow.clock(), flow.settings
    with flow.session_factory() as session, session.begin():
        complaint = records.add_complaint(db_session=session, complaint_in=body, actor=principal.actor, now=now,
                                          tz=settings.timezone, holidays=settings.holidays,
                                          extra_workdays=settings.extra_workdays)
        if hazard_category is not None:
            flow.hazard_from_complaint(principal, complaint, session, hazard_category, hazard_level, now)
        return ComplaintPublic.model_validate(complaint)


@router.post("/api/complaints/{complaint_id}/feedback", tags=["ledgers"], response_model=ComplaintPublic)
def complaint_feedback(complaint_id: int, body: FeedbackIn, principal: Writer, flow: Ledgers) -> ComplaintPublic:
    """Record the feedback given to the complainant."""
    with flow.session_factory() as session, session.begin():
        complaint = session.get(Complaint, complaint_id)
        if complaint is None or not principal.sees(site_id=complaint.site_id, resident_id=None):
            raise _not_found("complaint", complaint_id)
        try:
            records.give_feedback(db_session=session, complaint=complaint, actor=principal.actor,
                                  feedback=body.feedback, now=flow.clock())
        except records.RecordError as err:
            raise HTTPException(status.HTTP_409_CONFLICT, str(err)) from err
        return ComplaintPublic.model_validate(complaint)


@router.get("/api/device-tests", tags=["ledgers"], response_model=list[DeviceTestPublic])
def device_tests(principal: Reader, flow: Ledgers, device_id: int | None = None) -> list[DeviceTestPublic]:
    """Return device functional-test records, newest first."""
    query = _scoped(select(DeviceTest), DeviceTest.site_id, principal).order_by(DeviceTest.tested_at.desc())
    if device_id is not None:
        query = query.where(DeviceTest.device_id == device_id)
    with flow.session_factory() as session:
        return [DeviceTestPublic.model_validate(t) for t in session.scalars(query)]


@router.get("/api/device-tests/overdue", tags=["ledgers"], response_model=list[DeviceTestDue])
def device_tests_overdue(principal: Reader, flow: Ledgers) -> list[DeviceTestDue]:
    """Return alarm buttons and worn devices without a passed test in the last 7 days."""
    with flow.session_factory() as session:
        return [DeviceTestDue(**row) for row in records.tests_overdue(db_session=session, now=flow.clock(),
                                                                       site_ids=principal.site_ids)]


@router.post("/api/device-tests", tags=["ledgers"], status_code=status.HTTP_201_CREATED,
             response_model=DeviceTestPublic)
def add_device_test(body: DeviceTestIn, principal: Inspector, flow: Ledgers) -> DeviceTestPublic:
    """Record a functional test of a device."""
    now = flow.clock()
    with flow.session_factory() as session, session.begin():
        device = session.get(Device, body.device_id)
        if device is None or not principal.sees(site_id=device.site_id, resident_id=None):
            raise _not_found("device", body.device_id)
        return DeviceTestPublic.model_validate(records.add_device_test(
            db_session=session, device=device, passed=body.passed, note=body.note, actor=principal.actor,
            tested_at=body.tested_at or now, now=now))


@router.get("/api/abnormal-events", tags=["ledgers"], response_model=list[AbnormalEventPublic])
def abnormal_events(principal: Reader, flow: Ledgers) -> list[AbnormalEventPublic]:
    """Return abnormal-event reports, newest first."""
    query = _scoped(select(AbnormalEvent), AbnormalEvent.site_id, principal)
    with flow.session_factory() as session:
        return [AbnormalEventPublic.model_validate(e)
                for e in session.scalars(query.order_by(AbnormalEvent.occurred_at.desc()))]


@router.post("/api/abnormal-events", tags=["ledgers"], status_code=status.HTTP_201_CREATED,
             response_model=AbnormalEventPublic)
def add_abnormal_event(body: AbnormalEventIn, principal: Reporter, flow: Ledgers) -> AbnormalEventPublic:
    """Report an abnormal event."""
    if not principal.sees(site_id=body.site_id, resident_id=body.resident_id):
        raise _not_found("site", body.site_id)
    with flow.session_factory() as session, session.begin():
        return AbnormalEventPublic.model_validate(records.add_abnormal_event(
            db_session=session, event_in=body, actor=principal.actor, now=flow.clock()))
