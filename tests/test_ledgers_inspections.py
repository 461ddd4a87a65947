"""Inspection plans and tasks, complaints with a working-day clock, device functional tests, abnormal events."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest

from hub.ledgers import flows
from hub.ledgers.workdays import add_workdays
from tests.workorders_env import MONDAY, close_env, make_env

DAY = 86_400.0


@pytest.fixture
def env(tmp_path, monkeypatch):
    env = make_env(tmp_path, monkeypatch, holidays=[dt.date(2026, 6, 10)])
    yield env
    close_env(env)


def _generate(env, start: dt.date, days: int = 30) -> list:
    with env.hub.session_factory() as session, session.begin():
        return flows.generate_tasks(db_session=session, site_ids=[env.ids["north"], env.ids["south"]],
                                    start=start, days=days, now=env.clock.now)


@pytest.mark.parametrize(("start", "weekly", "monthly"), [
    (dt.date(2026, 6, 1), 5, 1),  # Monday 1 June to 30 June: weeks of 1, 8, 15, 22, 29 June; June
    (dt.date(2026, 6, 17), 5, 2),  # Wednesday 17 June to 16 July: the week of 15 June counts; June and July
])
def test_thirty_days_of_default_templates_give_exactly_the_expected_tasks_per_site(env, start, weekly, monthly):
    created = _generate(env, start)
    per_site = Counter((t.site_id, t.cadence) for t in created)
    for site in (env.ids["north"], env.ids["south"]):
        assert (per_site[(site, "daily")], per_site[(site, "weekly")], per_site[(site, "monthly")]) == (
            30, weekly, monthly)
    assert len(created) == 2 * (30 + weekly + monthly)
    assert _generate(env, start) == []  # idempotent


def test_generation_is_idempotent_and_extends_by_the_new_periods_only(env):
    _generate(env, dt.date(2026, 6, 1))
    more = _generate(env, dt.date(2026, 6, 16))  # 16 June to 15 July: 15 new days, weeks of 6 and 13 July, July
    assert Counter(t.cadence for t in more) == {"daily": 2 * 15, "weekly": 2 * 2, "monthly": 2 * 1}


def test_a_task_left_undone_turns_overdue_at_its_due_time_and_escalates_once(env):
    _generate(env, dt.date(2026, 6, 1), days=1)
    safety = env.login("safety")
    tasks = env.client.get("/api/inspections/tasks", headers=safety, params={"site_id": env.ids["north"]}).json()
    daily = next(t for t in tasks if t["cadence"] == "daily")
    assert daily["due_at"] == MONDAY + DAY  # midnight after 1 June, Asia/Shanghai

    def check() -> list[dict]:
        with env.hub.session_factory() as session, session.begin():
            return flows.check_overdue(db_session=session, now=env.clock.now)["tasks"]

    env.clock.now = daily["due_at"] - 1
    assert check() == []
    env.clock.now = daily["due_at"]
    overdue = check()
    assert {(t["role"], t["escalated_to"]) for t in overdue} == {("caregiver", "safety_officer")}
    assert len(overdue) == 2  # one per site
    assert check() == []
    shown = env.client.get("/api/inspections/tasks", headers=safety, params={"status": "overdue"}).json()
    assert [t["id"] for t in shown] == [daily["id"]]  # the safety officer sees only the north site


def test_results_per_item_and_failed_items_become_hazards(env):
    _generate(env, dt.date(2026, 6, 1), days=1)
    care = env.login("care")
    task = next(t for t in env.client.get("/api/inspections/tasks", headers=care).json() if t["cadence"] == "daily")
    url = f"/api/inspections/tasks/{task['id']}/results"
    partial = env.client.post(url, headers=care, json={"items": [{"key": "gas", "ok": True}]})
    assert partial.status_code == 409 and "each checklist item" in partial.json()["detail"]
    body = {"items": [{"key": "electricity", "ok": True},
                      {"key": "gas", "ok": False, "note": "阀门漏气 valve leaks", "photos": ["valve.jpg"],
                       "level": "red"},
                      {"key": "food", "ok": True, "note": "留样齐全"}]}
    done = env.client.post(url, headers=care, json=body).json()
    assert done["status"] == "done" and done["done_by"].endswith(":care")
    (hazard,) = done["hazards"]
    assert (hazard["category"], hazard["level"], hazard["source"], hazard["inspection_task_id"]) == (
        "gas", "red", "inspection", task["id"])
    assert hazard["evidence"] == ["valve.jpg"]
    assert env.client.post(url, headers=care, json=body).status_code == 409
    assert env.client.post(url, headers=env.login("auditor"), json=body).status_code == 403


def test_templates_are_editable(env):
    safety = env.login("safety")
    defaults = env.client.get("/api/inspections/templates", headers=safety).json()
    assert [(t["cadence"], t["role"], [i["key"] for i in t["items"]]) for t in defaults] == [
        ("daily", "caregiver", ["electricity", "gas", "food"]),
        ("weekly", "safety_officer", ["building", "fire", "food"]),
        ("monthly", "township", ["fire", "electricity", "gas", "building", "food"])]
    daily = defaults[0]
    changed = env.client.put(f"/api/inspections/templates/{daily['id']}", headers=safety, json={
        **{k: daily[k] for k in ("name", "cadence", "role")}, "active": False, "items": daily["items"]})
    assert changed.json()["active"] is False
    created = _generate(env, dt.date(2026, 6, 1))
    assert "daily" not in {t.cadence for t in created}


def test_working_day_clock_skips_weekends_holidays_and_counts_make_up_days():
    friday = dt.date(2026, 6, 5)
    assert add_workdays(friday, 5) == dt.date(2026, 6, 12)
    assert add_workdays(friday, 5, holidays={dt.date(2026, 6, 10)}) == dt.date(2026, 6, 15)
    assert add_workdays(friday, 5, holidays={dt.date(2026, 6, 10)}, extra_workdays={dt.date(2026, 6, 6)}) == \
        dt.date(2026, 6, 12)


def test_complaint_feedback_is_due_within_five_working_days(env):
    friday_10am = MONDAY + 4 * DAY + 10 * 3600
    safety = env.login("safety")
    made = env.client.post("/api/complaints", headers=safety, params={"hazard_category": "food"}, json={
        "complainant": "李女士", "content": "饭菜太凉", "site_id": env.ids["north"], "received_at": friday_10am})
    assert made.status_code == 201, made.text
    complaint = made.json()
    # Mon 8, Tue 9, (Wed 10 a holiday), Thu 11, Fri 12, Mon 15: due at the end of Monday 15 June.
    assert complaint["feedback_due_at"] == MONDAY + 15 * DAY
    assert complaint["hazard_id"] is not None
    env.clock.now = complaint["feedback_due_at"]
    late = env.client.get("/api/complaints", headers=safety, params={"overdue": True}).json()
    assert [c["id"] for c in late] == [complaint["id"]]
    env.client.post(f"/api/complaints/{complaint['id']}/feedback", headers=safety, json={"feedback": "已加保温"})
    assert env.client.get("/api/complaints", headers=safety, params={"overdue": True}).json() == []


def test_alarm_buttons_and_worn_devices_need_a_passed_test_every_seven_days(env):
    care = env.login("care")
    overdue = env.client.get("/api/device-tests/overdue", headers=care).json()
    assert sorted(d["kind"] for d in overdue) == ["sos_button", "wristband"]  # the smoke detector is not listed
    env.client.post("/api/device-tests", headers=care, json={"device_id": env.ids["z2m:sos-1"], "passed": True})
    env.client.post("/api/device-tests", headers=care, json={"device_id": env.ids["z2m:band-1"], "passed": False})
    assert [d["kind"] for d in env.client.get("/api/device-tests/overdue", headers=care).json()] == ["wristband"]
    env.clock.now += 7 * DAY + 1
    assert len(env.client.get("/api/device-tests/overdue", headers=care).json()) == 2
    assert len(env.client.get("/api/device-tests", headers=care).json()) == 2


def test_abnormal_event_reports(env):
    care = env.login("care")
    made = env.client.post("/api/abnormal-events", headers=care, json={
        "site_id": env.ids["north"], "occurred_at": env.clock.now - 600, "category": "走失 wandering",
        "description": "老人外出未归", "actions": "监控查找，已找回"})
    assert made.status_code == 201
    assert [e["category"] for e in env.client.get("/api/abnormal-events", headers=env.login("auditor")).json()] == [
        "走失 wandering"]
    assert env.client.get("/api/abnormal-events", headers=env.login("disp_south")).json() == []
