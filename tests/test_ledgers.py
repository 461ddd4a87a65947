"""Hazard ledger: lifecycle and its refusals, history, overdue escalation, the three lists — real SQLite, real app."""

from __future__ import annotations

import csv
import io

import pytest

from hub.ledgers import flows
from tests.workorders_env import close_env, make_env

DAY = 86_400.0


@pytest.fixture
def env(tmp_path, monkeypatch):
    env = make_env(tmp_path, monkeypatch)
    yield env
    close_env(env)


def _register(env, user="safety", **over) -> dict:
    body = {"category": "electricity", "level": "yellow", "title": "厨房插座过载 overloaded socket",
            "site_id": env.ids["north"], "location": "kitchen", **over}
    response = env.client.post("/api/hazards", headers=env.login(user), json=body)
    assert response.status_code == 201, response.text
    return response.json()


def test_closing_needs_a_passed_re_inspection_by_someone_else_and_a_fail_returns_it_to_rectifying(env):
    hazard = _register(env)
    assert hazard["deadline_at"] - hazard["registered_at"] == 7 * DAY
    url = f"/api/hazards/{hazard['id']}"
    safety, safety2, admin = env.login("safety"), env.login("safety2"), env.login("admin")
    refused = env.client.post(f"{url}/close", headers=safety)
    assert refused.status_code == 409 and "no passed re-inspection" in refused.json()["detail"]
    env.client.post(f"{url}/rectify", headers=safety, json={"measures": "拆除多余插线板", "responsible_person": "Sun",
                                                            "department": "后勤部"})
    done = env.client.post(f"{url}/rectified", headers=safety, json={"note": "removed", "evidence": ["p1.jpg"]})
    assert done.json()["status"] == "awaiting_reinspection" and done.json()["rectified_by"].endswith(":safety")
    assert env.client.post(f"{url}/close", headers=safety2).status_code == 409  # not yet re-inspected
    own = env.client.post(f"{url}/reinspect", headers=safety, json={"passed": True, "note": "fine"})
    assert own.status_code == 409 and "someone other than the rectifier" in own.json()["detail"]
    failed = env.client.post(f"{url}/reinspect", headers=safety2, json={"passed": False, "note": "still two strips"})
    assert failed.json()["status"] == "rectifying" and failed.json()["failed_reinspections"] == 1
    env.client.post(f"{url}/rectified", headers=safety, json={"note": "all removed", "evidence": ["p2.jpg"]})
    passed = env.client.post(f"{url}/reinspect", headers=safety2, json={"passed": True, "note": "ok",
                                                                        "evidence": ["p3.jpg"]})
    assert passed.json()["reinspection_passed"] is True
    closed = env.client.post(f"{url}/close", headers=admin).json()
    assert closed["status"] == "closed" and closed["closed_by"].endswith(":admin")
    assert env.client.post(f"{url}/archive", headers=admin).json()["status"] == "archived"
    history = env.client.get(url, headers=env.login("auditor")).json()["history"]
    assert [h["action"] for h in history] == [
        "hazard.registered", "hazard.rectifying", "hazard.rectified", "hazard.reinspection_failed",
        "hazard.rectified", "hazard.reinspection_passed", "hazard.closed", "hazard.archived"]
    assert history[3]["detail"]["note"] == "still two strips"


def test_a_major_hazard_needs_a_treatment_plan_before_it_closes(env):
    hazard = _register(env, level="red", category="fire", title="疏散通道堵塞 blocked exit", major=True)
    url = f"/api/hazards/{hazard['id']}"
    safety, safety2 = env.login("safety"), env.login("safety2")
    env.client.post(f"{url}/rectify", headers=safety, json={"measures": "clear", "responsible_person": "Sun"})
    env.client.post(f"{url}/rectified", headers=safety, json={"note": "cleared"})
    env.client.post(f"{url}/reinspect", headers=safety2, json={"passed": True, "note": "clear"})
    refused = env.client.post(f"{url}/close", headers=safety2)
    assert refused.status_code == 409 and "treatment plan" in refused.json()["detail"]
    env.client.post(f"{url}/plan", headers=safety, json={"treatment_plan": "每日巡查通道，责任到人"})
    assert env.client.post(f"{url}/close", headers=safety2).json()["status"] == "closed"


def test_roles_and_scope(env):
    hazard = _register(env)
    assert env.client.post("/api/hazards", headers=env.login("care"), json={}).status_code == 403
    assert env.client.get("/api/hazards", headers=env.login("son")).status_code == 403
    assert env.client.get("/api/hazards", headers=env.login("auditor")).status_code == 200
    south = env.login("disp_south")
    assert env.client.get("/api/hazards", headers=south).json() == []
    assert env.client.get(f"/api/hazards/{hazard['id']}", headers=south).status_code == 404
    # A caregiver may rectify nothing and re-inspect nothing.
    url = f"/api/hazards/{hazard['id']}"
    assert env.client.post(f"{url}/reinspect", headers=env.login("care"),
                           json={"passed": True, "note": "x"}).status_code == 403


def test_overdue_hazards_escalate_one_tier_per_breach(env):
    red = _register(env, level="red", category="gas", title="燃气软管老化")
    blue = _register(env, level="blue", category="building", title="扶手松动")

    def check() -> dict:
        with env.hub.session_factory() as session, session.begin():
            return flows.check_overdue(db_session=session, now=env.clock.now)

    env.clock.now += DAY - 1
    assert check()["hazards"] == []
    env.clock.now += 1
    (first,) = check()["hazards"]
    assert (first["hazard_id"], first["from"], first["to"]) == (red["id"], "site", "township")
    assert check()["hazards"] == []  # once per breach
    env.clock.now += DAY  # still not rectified a full deadline later: the county hears of it
    (second,) = check()["hazards"]
    assert (second["from"], second["to"]) == ("township", "county")
    env.clock.now += 30 * DAY
    assert [h["hazard_id"] for h in check()["hazards"]] == [blue["id"]]  # the county is the top tier
    shown = env.client.get(f"/api/hazards/{red['id']}", headers=env.login("safety")).json()
    assert shown["tier"] == "county"
    assert [h["action"] for h in shown["history"]].count("hazard.escalated") == 2
    overdue = env.client.get("/api/hazards", headers=env.login("safety"), params={"overdue": True}).json()
    assert {h["id"] for h in overdue} == {red["id"], blue["id"]}


def test_the_three_lists_as_json_and_csv(env):
    a = _register(env, level="red", category="fire", title="灭火器过期", responsible_person="Sun", department="安保部")
    _register(env, level="yellow", title="插座", responsible_person="Sun", department="安保部")
    _register(env, level="blue", category="food", title="留样不全", responsible_person="Wu", department="食堂")
    url = f"/api/hazards/{a['id']}"
    env.client.post(f"{url}/rectify", headers=env.login("safety"), json={"measures": "更换灭火器",
                                                                        "responsible_person": "Sun",
                                                                        "department": "安保部"})
    env.clock.now += 2 * DAY
    safety = env.login("safety")
    hazards = env.client.get("/api/ledgers/hazards", headers=safety).json()
    assert [h["level"] for h in hazards] == ["red", "yellow", "blue"]
    rect = {r["id"]: r for r in env.client.get("/api/ledgers/rectifications", headers=safety).json()}
    assert rect[a["id"]]["measures"] == "更换灭火器" and rect[a["id"]]["overdue"] is True
    resp = env.client.get("/api/ledgers/responsibilities", headers=safety).json()
    assert [(r["responsible_person"], r["open"], r["overdue"]) for r in resp] == [("Sun", 2, 1), ("Wu", 1, 0)]
    exported = env.client.get("/api/ledgers/rectifications", headers=safety, params={"format": "csv"})
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert len(rows) == 3 and rows[0]["measures"] == "更换灭火器" and rows[0]["overdue"] == "True"
    assert rows[0]["deadline_at"] == "2026-06-02 09:00"  # local time (Asia/Shanghai), readable
    assert env.client.get("/api/ledgers/hazards", headers=env.login("disp_south"),
                          params={"format": "csv"}).text.count("\n") == 1  # header only: other site
