"""The monthly disclosure of a scripted month equals counts taken independently from the API; XLSX and PDF agree."""

from __future__ import annotations

import datetime as dt
import io
from collections import Counter

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from hub.detect.detection import Detection, DetectionState, DetectionType
from hub.devices import service as registry
from hub.devices.models import DeviceCreate, DeviceKind, Resident, ResidentCreate
from hub.ledgers import flows, report_files
from tests.workorders_env import MONDAY, close_env, make_env

DAY = 86_400.0
JULY_1 = MONDAY + 30 * DAY
ALL_STATES = ["new", "acknowledged", "dispatched", "resolved", "closed"]


@pytest.fixture
def env(tmp_path, monkeypatch):
    env = make_env(tmp_path, monkeypatch)
    yield env
    close_env(env)


def _script_june(env) -> None:
    """A month of work: an SOS answered in 42 s, a fire answered in 200 s, a flat band that recovered."""
    with env.hub.session_factory() as session, session.begin():
        session.get(Resident, env.ids["mother"]).birth_year = 1940
        alone = registry.create_resident(db_session=session, resident_in=ResidentCreate(
            name="Zhang Wei", site_id=env.ids["south"], birth_year=1950))
        env.ids["zhang"] = alone.id
        registry.create_device(db_session=session, supervision={"default": 3600.0}, device_in=DeviceCreate(
            kind=DeviceKind.SMOKE_DETECTOR, keys=["z2m:smoke-south"], site_id=env.ids["south"]))
    with env.hub.session_factory() as session, session.begin():
        flows.generate_tasks(db_session=session, site_ids=[env.ids["north"], env.ids["south"]],
                             start=dt.date(2026, 6, 1), days=30, now=env.clock.now)
    disp, care, safety, safety2 = (env.login(u) for u in ("disp", "care", "safety", "safety2"))
    c = env.client
    env.detect(DetectionType.SOS, device="z2m:sos-1", resident="mother")
    sos_alert = c.get("/api/alerts", headers=disp).json()[0]
    env.clock.now += 42
    c.post(f"/api/alerts/{sos_alert['id']}/acknowledge", headers=disp)
    order = c.get("/api/workorders", headers=disp, params={"alert_id": sos_alert["id"]}).json()[0]
    url = f"/api/workorders/{order['id']}"
    c.post(f"{url}/dispatch", headers=disp, json={"staff_id": env.ids["staff:Chen"]})
    c.post(f"{url}/accept", headers=care)
    c.post(f"{url}/check-in", headers=care, json={})
    env.clock.now += 900
    c.post(f"{url}/check-out", headers=care, json={"result": "ok"})
    c.post(f"{url}/follow-up", headers=disp, json={"rating": 4})
    c.post(f"/api/alerts/{sos_alert['id']}/resolve", headers=disp, json={"outcome": "genuine", "note": "fell"})
    # The daily check of 1 June at the north site is done on time.
    task = next(t for t in c.get("/api/inspections/tasks", headers=care).json()
                if t["cadence"] == "daily" and t["period_start"] == "2026-06-01")
    c.post(f"/api/inspections/tasks/{task['id']}/results", headers=care, json={"items": [
        {"key": k, "ok": True} for k in ("electricity", "gas", "food")]})
    env.clock.now += 3 * 3600
    env.detect(DetectionType.FIRE, device="z2m:smoke-1")
    fire = next(a for a in c.get("/api/alerts", headers=disp).json() if a["type"] == "fire")
    env.clock.now += 200
    c.post(f"/api/alerts/{fire['id']}/acknowledge", headers=disp)
    env.detect(DetectionType.BATTERY_LOW, device="z2m:band-1")
    env.hub.detections._emit([Detection(type=DetectionType.BATTERY_LOW, subject="z2m:band-1", t=env.clock.now,
                                        state=DetectionState.CLEARED, device_key="z2m:band-1",
                                        site_id=env.ids["north"])])
    env.hub.detections.flush()
    env.clock.now += 5 * DAY
    hazard = c.post("/api/hazards", headers=safety, json={"category": "food", "level": "yellow", "title": "留样",
                                                          "site_id": env.ids["north"]}).json()
    h = f"/api/hazards/{hazard['id']}"
    c.post(f"{h}/rectify", headers=safety, json={"measures": "补齐", "responsible_person": "Sun"})
    c.post(f"{h}/rectified", headers=safety, json={"note": "done"})
    c.post(f"{h}/reinspect", headers=safety2, json={"passed": True, "note": "ok"})
    c.post(f"{h}/close", headers=safety2)


def test_monthly_report_matches_the_api_and_its_xlsx_and_pdf_agree(env):
    _script_june(env)
    env.clock.now = JULY_1 + 4 * DAY
    admin = env.login("admin")
    c = env.client
    report = c.get("/api/reports/monthly/2026-06", headers=admin)
    assert report.status_code == 200, report.text
    figures = report.json()

    # Independently, from the API's own lists.
    alerts = c.get("/api/alerts", headers=admin, params={"state": ALL_STATES}).json()
    june = [a for a in alerts if MONDAY <= a["created_at"] < JULY_1]
    waits = [a["acknowledged_at"] - a["created_at"] for a in june if a["acknowledged_at"] is not None]
    assert figures["alerts"]["total"] == len(june) == 3
    assert figures["alerts"]["by_type"] == dict(Counter(a["type"] for a in june)) == {
        "sos": 1, "fire": 1, "battery_low": 1}
    assert figures["alerts"]["answered_60s"] == sum(w <= 60 for w in waits) == 1
    assert figures["alerts"]["answered_180s"] == sum(w <= 180 for w in waits) == 1
    assert figures["alerts"]["answerable"] == 2 and figures["alerts"]["answered_60s_pct"] == 50.0
    orders = c.get("/api/workorders", headers=admin).json()
    assert figures["workorders"]["created"] == len(orders) == 3
    assert figures["workorders"]["closed"] == sum(o["status"] == "closed" for o in orders) == 1
    assert figures["workorders"]["cancelled"] == sum(o["status"] == "cancelled" for o in orders) == 1
    assert figures["workorders"]["average_rating"] == 4.0
    hazards = c.get("/api/hazards", headers=admin).json()
    assert figures["hazards"]["opened"] == len(hazards) == 2
    assert figures["hazards"]["closed"] == sum(h["status"] == "closed" for h in hazards) == 1
    assert figures["hazards"]["overdue_at_end"] == sum(
        h["status"] != "closed" and h["deadline_at"] < JULY_1 for h in hazards) == 1
    tasks = c.get("/api/inspections/tasks", headers=admin).json()
    due = [t for t in tasks if MONDAY < t["due_at"] <= JULY_1]
    assert figures["inspections"]["due"] == len(due) == 2 * (30 + 4 + 1)  # the last week is due in July
    assert figures["inspections"]["done"] == sum(t["status"] == "done" for t in due) == 1
    assert figures["coverage"] == [
        {"county": "", "township": "", "solitary_or_empty_nest": 1, "monitored": 1, "solitary_70_plus": 1,
         "visited": 0, "monitoring_pct": 100.0, "monitoring_target_pct": 95.0, "monitoring_met": True,
         "visit_pct": 0.0, "visit_target_pct": 100.0, "visit_met": False},
        {"county": "Anji", "township": "Qiaotou", "solitary_or_empty_nest": 1, "monitored": 0,
         "solitary_70_plus": 1, "visited": 1, "monitoring_pct": 0.0, "monitoring_target_pct": 95.0,
         "monitoring_met": False, "visit_pct": 100.0, "visit_target_pct": 100.0, "visit_met": True}]

    xlsx = c.get("/api/reports/monthly/2026-06", headers=admin, params={"format": "xlsx"})
    book = load_workbook(io.BytesIO(xlsx.content))
    sheet = [row for row in book["summary"].iter_rows(min_row=2, values_only=True)]
    assert {(s, m): v for s, m, _label, v in sheet} == {(s, m): v for s, m, v in report_files.rows(figures)}
    coverage = list(book["coverage"].iter_rows(min_row=3, values_only=True))
    assert [r[4] for r in coverage] == [100.0, 0.0]

    pdf = c.get("/api/reports/monthly/2026-06", headers=admin, params={"format": "pdf"})
    assert pdf.headers["content-type"] == "application/pdf"
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
    for words in ("2026-06 月度公开报告", "告警 alerts", "隐患 hazards", "60秒内应答", "覆盖率", "乡镇"):
        assert words in text, words

    csv_text = c.get("/api/reports/monthly/2026-06", headers=admin, params={"format": "csv"}).content.decode(
        "utf-8-sig")
    assert "alerts,total,总数 total,3" in csv_text


def test_reports_are_scoped_and_a_late_report_is_flagged(env):
    _script_june(env)
    south = env.login("disp_south")
    figures = env.client.get("/api/reports/monthly/2026-06", headers=south).json()
    assert figures["alerts"]["total"] == 0 and [r["township"] for r in figures["coverage"]] == [""]
    assert env.client.post("/api/reports/monthly/2026-06/publish", headers=env.login("safety")).status_code == 403

    def late(now: float):
        with env.hub.session_factory() as session, session.begin():
            return flows.check_overdue(db_session=session, now=now)["late_report"]

    due = figures["due_at"]  # end of 10 July, Asia/Shanghai
    assert due == JULY_1 + 10 * DAY
    assert late(due - 1) is None
    assert late(due)["month"] == "2026-06"
    env.clock.now = due + 60
    published = env.client.post("/api/reports/monthly/2026-06/publish", headers=env.login("admin")).json()
    assert published["late"] is True and published["figures"]["alerts"]["total"] == 3
    assert late(due + 120) is None
    assert env.client.get("/api/reports/monthly/2026-06/published", headers=env.login("auditor")).json()[
        "published_by"].endswith(":admin")
    assert env.client.get("/api/reports/monthly/2026-13", headers=env.login("admin")).status_code == 422
