"""Duty records: roster and who is on duty, handovers, duty log, emergency calls, scope, audit and CSV exports."""

from __future__ import annotations

import csv
import io
import secrets

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from hub import migrate
from hub.alerts import service as alerts
from hub.alerts.models import Outcome
from hub.audit import service as audit
from hub.audit.models import AuditEntry
from hub.auth import service as auth_service
from hub.auth.deps import Auth
from hub.auth.models import ApiKeyCreate, UserCreate
from hub.auth.principal import Principal
from hub.auth.roles import Role
from hub.auth.views import router as auth_router
from hub.db import make_engine, make_session_factory
from hub.detect.models import DetectionRecord
from hub.devices import service as registry
from hub.devices.models import ResidentCreate, SiteCreate, Staff, StaffCreate
from hub.duty import service as duty
from hub.duty.models import ShiftIn
from hub.duty.views import DutyContext
from hub.duty.views import router as duty_router
from tests.clock import Clock

PASSWORD = "correct horse battery"
T0 = 1_790_000_000.0
HOUR = 3600.0


@pytest.fixture
def store(tmp_path):
    url = f"sqlite:///{tmp_path / 'duty.db'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    ids: dict[str, int] = {}
    with factory() as session, session.begin():
        for name in ("north", "south"):
            ids[name] = registry.create_site(db_session=session, site_in=SiteCreate(name=name)).id
        ids["mother"] = registry.create_resident(db_session=session, resident_in=ResidentCreate(
            name="李梅", site_id=ids["north"])).id
        for name, role, active in [("wang", "operator", True), ("li", "operator", True), ("zhao", "supervisor", True),
                                   ("sun", "operator", False), ("zhou", "operator", True)]:
            ids[name] = registry.create_staff(db_session=session, staff_in=StaffCreate(
                name=name, role=role, active=active)).id
    yield factory, ids
    engine.dispose()


def _alert(session, *, site_id: int, device: str, t: float):
    row = DetectionRecord(type="sos", state="active", subject=device, t=t, confidence=1.0, device_key=device,
                          site_id=site_id, evidence={}, recorded_at=t)
    session.add(row)
    session.flush()
    return alerts.raise_or_join(db_session=session, detection=row, now=t)[0]


def _shift(session, staff_id: int, site_id: int | None, role: str, starts: float, ends: float):
    return duty.create_shift(db_session=session, actor="user:1:admin", now=T0 - HOUR, shift_in=ShiftIn(
        staff_id=staff_id, site_id=site_id, role=role, starts_at=starts, ends_at=ends))


def _actions(session, action: str) -> list[AuditEntry]:
    return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


# ---------------------------------------------------------------------------------------------- service


def test_on_duty_start_inclusive_end_exclusive_all_sites_and_active_staff_only(store):
    factory, ids = store
    north, south = ids["north"], ids["south"]
    with factory() as session, session.begin():
        # Zhou's shift is entered first, so shift ids do not follow staff ids.
        _shift(session, ids["zhou"], north, "operator", T0, T0 + 8 * HOUR)
        _shift(session, ids["wang"], north, "operator", T0, T0 + 8 * HOUR)
        _shift(session, ids["li"], None, "operator", T0 + 4 * HOUR, T0 + 12 * HOUR)  # every site
        _shift(session, ids["wang"], None, "operator", T0 + 6 * HOUR, T0 + 10 * HOUR)  # overlaps his own
        _shift(session, ids["zhao"], north, "supervisor", T0, T0 + 8 * HOUR)
        sun = session.get(Staff, ids["sun"])
        sun.active = True
        _shift(session, ids["sun"], north, "operator", T0, T0 + 8 * HOUR)
        sun.active = False  # left after being rostered: never on duty again
        _shift(session, ids["zhou"], south, "operator", T0 + 8 * HOUR, T0 + 16 * HOUR)

    def names(site_id, at, role="operator"):
        with factory() as session:
            return [s.name for s in duty.on_duty(db_session=session, site_id=site_id, at=at, role=role)]

    assert names(north, T0 - 0.001) == []
    assert names(north, T0) == ["wang", "zhou"]  # start inclusive; same start: by staff id
    assert names(north, T0 + 5 * HOUR) == ["wang", "zhou", "li"]  # li's all-site shift started later
    assert names(north, T0 + 7 * HOUR) == ["wang", "zhou", "li"]  # wang once, placed by his earliest shift
    assert names(north, T0 + 8 * HOUR) == ["li", "wang"]  # end exclusive; wang's all-site shift from +6 h
    assert names(south, T0 + 8 * HOUR) == ["li", "wang", "zhou"]
    assert names(None, T0 + 5 * HOUR) == ["li"]  # no site: only shifts for every site
    assert names(north, T0 + 5 * HOUR, "supervisor") == ["zhao"]
    assert names(north, T0 + 12 * HOUR) == []
    assert "sun" not in names(north, T0 + HOUR)
    with factory() as session, pytest.raises(duty.UnknownReferenceError):
        _shift(session, ids["sun"], north, "operator", T0, T0 + HOUR)  # rostering inactive staff is refused
    with pytest.raises(ValueError):
        ShiftIn(staff_id=ids["wang"], role="operator", starts_at=T0, ends_at=T0)


def test_record_call_writes_the_record_and_an_audit_entry(store):
    factory, ids = store
    with factory() as session, session.begin():
        call = duty.record_call(db_session=session, at=T0, caller="carehub escalation", callee="120",
                                outcome="requested", note="无人应答", alert_id=7, site_id=ids["north"],
                                resident_id=ids["mother"])
    with factory() as session:
        calls = duty.list_calls(db_session=session, site_ids=None)
        assert [(c.id, c.caller, c.callee, c.outcome, c.note, c.alert_id) for c in calls] == [
            (call.id, "carehub escalation", "120", "requested", "无人应答", 7)]
        [entry] = _actions(session, "duty.call_recorded")
        assert (entry.entity, entry.entity_id, entry.actor, entry.at) == ("emergency_call", str(call.id),
                                                                          "carehub escalation", T0)
        assert entry.detail["callee"] == "120" and entry.detail["alert_id"] == 7
        assert audit.verify(db_session=session).ok


def test_handover_snapshot_and_signing_rules(store):
    factory, ids = store
    outgoing = Principal(kind="user", id=1, name="wang", role=Role.DUTY_OPERATOR, site_ids=None)
    renamed = Principal(kind="user", id=1, name="wang2", role=Role.DUTY_OPERATOR, site_ids=None)
    with factory() as session, session.begin():
        open_north = _alert(session, site_id=ids["north"], device="sos-1", t=T0)
        acked = _alert(session, site_id=ids["north"], device="sos-2", t=T0 + 1)
        alerts.acknowledge(db_session=session, alert=acked, actor=outgoing.actor, now=T0 + 30)
        done = _alert(session, site_id=ids["north"], device="sos-3", t=T0 + 2)
        alerts.resolve(db_session=session, alert=done, actor=outgoing.actor, outcome=Outcome.GENUINE, note="ok",
                       now=T0 + 60)
        _alert(session, site_id=ids["south"], device="sos-4", t=T0 + 3)
        handover = duty.create_handover(db_session=session, principal=outgoing, site_id=ids["north"],
                                        notes="门诊 follow-up for room 3", now=T0 + 8 * HOUR)
        everywhere = duty.create_handover(db_session=session, principal=outgoing, site_id=None, notes="",
                                          now=T0 + 8 * HOUR)
    # Open alerts of that site only, by priority then age; the resolved one and the other site's are not carried.
    assert [(a["id"], a["type"], a["priority"], a["state"], a["subject"]) for a in handover.open_alerts] == [
        (open_north.id, "sos", 1, "new", "sos-1"), (acked.id, "sos", 1, "acknowledged", "sos-2")]
    assert len(everywhere.open_alerts) == 3
    with factory() as session, session.begin():
        handover = duty.get_handover(db_session=session, handover_id=handover.id)
        with pytest.raises(duty.DutyError, match="someone other"):
            duty.sign_handover(db_session=session, handover=handover, actor=renamed.actor, notes="", now=T0)
        with pytest.raises(duty.DutyError, match="only the outgoing"):
            duty.amend_handover(db_session=session, handover=handover, actor="user:2:li", notes="x", now=T0)
        duty.amend_handover(db_session=session, handover=handover, actor=outgoing.actor, notes="更正", now=T0 + 1)
        duty.sign_handover(db_session=session, handover=handover, actor="user:2:li", notes="收到", now=T0 + 2)
        assert handover.complete
        for actor in ("user:2:li", "user:3:zhou"):
            with pytest.raises(duty.DutyError, match="already signed"):
                duty.sign_handover(db_session=session, handover=handover, actor=actor, notes="", now=T0 + 3)
        with pytest.raises(duty.DutyError, match="cannot be changed"):
            duty.amend_handover(db_session=session, handover=handover, actor=outgoing.actor, notes="y", now=T0 + 3)
    with factory() as session:
        assert [e.action for e in session.scalars(select(AuditEntry).where(AuditEntry.entity == "handover")
                                                  .order_by(AuditEntry.id))] == [
            "duty.handover_created", "duty.handover_created", "duty.handover_amended", "duty.handover_signed"]
        signed = duty.get_handover(db_session=session, handover_id=handover.id)
        assert (signed.notes, signed.incoming_by, signed.incoming_notes) == ("更正", "user:2:li", "收到")


# -------------------------------------------------------------------------------------------------- API


@pytest.fixture
def api(store):
    factory, ids = store
    clock = Clock(T0 + HOUR)
    with factory() as session, session.begin():
        for name, role, extra in [("op", "duty_operator", {}), ("op2", "duty_operator", {}),
                                  ("op_south", "duty_operator", {"site_ids": [ids["south"]]}),
                                  ("son", "family", {"resident_ids": [ids["mother"]]}), ("auditor", "auditor", {})]:
            auth_service.create_user(db_session=session, user_in=UserCreate(
                username=name, password=PASSWORD, role=role, **extra))
        _row, key = auth_service.create_api_key(db_session=session, key_in=ApiKeyCreate(
            name="night-console", role=Role.DUTY_OPERATOR))
    auth = Auth(factory, auth_service.TokenPolicy(secret=secrets.token_hex(32)))
    app = FastAPI()
    app.include_router(auth_router)
    app.state.auth = auth
    app.state.duty = DutyContext(session_factory=factory, clock=clock, timezone="Asia/Shanghai")
    app.include_router(duty_router)
    with TestClient(app) as client:
        heads = {name: _login(client, name) for name in ("op", "op2", "op_south", "son", "auditor")}
        heads["key"] = {"X-API-Key": key}
        yield client, heads, clock, factory, ids


def _login(client, username: str) -> dict:
    response = client.post("/api/auth/token", data={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def test_roster_api_permissions_scope_and_on_duty_now(api):
    client, h, clock, factory, ids = api
    north, south = ids["north"], ids["south"]

    def shift(staff, site, starts, ends, role="operator"):
        return {"staff_id": ids[staff], "site_id": site, "role": role, "starts_at": starts, "ends_at": ends}

    created = client.post("/api/duty/shifts", headers=h["op"], json=shift("wang", north, T0, T0 + 8 * HOUR))
    assert created.status_code == 201, created.text
    north_shift = created.json()
    assert north_shift["created_by"] == "user:1:op"
    every = client.post("/api/duty/shifts", headers=h["op"], json=shift("li", None, T0, T0 + 8 * HOUR)).json()
    client.post("/api/duty/shifts", headers=h["op"], json=shift("zhou", south, T0, T0 + 8 * HOUR))
    client.post("/api/duty/shifts", headers=h["op"], json=shift("zhao", north, T0, T0 + 8 * HOUR, "supervisor"))
    # Refusals: a bad span, unknown or inactive staff, no write right, no read right for families.
    assert client.post("/api/duty/shifts", headers=h["op"], json=shift("wang", north, T0, T0)).status_code == 422
    assert client.post("/api/duty/shifts", headers=h["op"], json={**shift("wang", north, T0, T0 + 1),
                                                                    "staff_id": 999}).status_code == 422
    assert client.post("/api/duty/shifts", headers=h["op"], json=shift("sun", north, T0, T0 + 1)).status_code == 422
    assert client.post("/api/duty/shifts", headers=h["auditor"], json=shift("wang", north, T0, T0 + 1)
                       ).status_code == 403
    assert client.get("/api/duty/shifts", headers=h["son"]).status_code == 403
    assert client.get("/api/duty/on-duty", headers=h["son"]).status_code == 403
    assert client.get("/api/duty/shifts").status_code == 401

    now = client.get("/api/duty/on-duty", headers=h["op"], params={"site_id": north}).json()
    assert [(p["name"], p["role"], p["site_id"]) for p in now] == [
        ("wang", "operator", north), ("li", "operator", None), ("zhao", "supervisor", north)]
    operators = client.get("/api/duty/on-duty", headers=h["auditor"], params={"site_id": north, "role": "operator"})
    assert [p["name"] for p in operators.json()] == ["wang", "li"]
    clock.now = T0 + 8 * HOUR  # end exclusive
    assert client.get("/api/duty/on-duty", headers=h["op"]).json() == []
    clock.now = T0 + HOUR

    # A south-only operator sees south and every-site shifts; north's are 404, and it writes only for south.
    south_view = client.get("/api/duty/shifts", headers=h["op_south"]).json()
    assert sorted(s["staff_id"] for s in south_view) == sorted([ids["li"], ids["zhou"]])
    assert [p["name"] for p in client.get("/api/duty/on-duty", headers=h["op_south"]).json()] == ["li", "zhou"]
    assert client.get(f"/api/duty/shifts/{north_shift['id']}", headers=h["op_south"]).status_code == 404
    assert client.get(f"/api/duty/shifts/{every['id']}", headers=h["op_south"]).status_code == 200
    assert client.get("/api/duty/on-duty", headers=h["op_south"], params={"site_id": north}).status_code == 404
    assert client.get("/api/duty/shifts", headers=h["op_south"], params={"site_id": north}).status_code == 404
    assert client.post("/api/duty/shifts", headers=h["op_south"], json=shift("zhou", north, T0, T0 + 1)
                       ).status_code == 404
    assert client.post("/api/duty/shifts", headers=h["op_south"], json=shift("zhou", None, T0, T0 + 1)
                       ).status_code == 403
    assert client.delete(f"/api/duty/shifts/{every['id']}", headers=h["op_south"]).status_code == 403
    assert client.delete(f"/api/duty/shifts/{north_shift['id']}", headers=h["op_south"]).status_code == 404

    moved = client.put(f"/api/duty/shifts/{north_shift['id']}", headers=h["op"],
                       json=shift("wang", north, T0 + 2 * HOUR, T0 + 10 * HOUR)).json()
    assert (moved["starts_at"], moved["ends_at"]) == (T0 + 2 * HOUR, T0 + 10 * HOUR)
    assert [p["name"] for p in client.get("/api/duty/on-duty", headers=h["op"], params={
        "site_id": north, "role": "operator"}).json()] == ["li"]
    assert client.delete(f"/api/duty/shifts/{north_shift['id']}", headers=h["op"]).status_code == 204
    assert client.get(f"/api/duty/shifts/{north_shift['id']}", headers=h["op"]).status_code == 404
    with factory() as session:
        actions = [e.action for e in session.scalars(select(AuditEntry).where(AuditEntry.entity == "duty_shift")
                                                     .order_by(AuditEntry.id))]
        assert actions == ["duty.shift_created"] * 4 + ["duty.shift_updated", "duty.shift_deleted"]
        assert audit.verify(db_session=session).ok


def test_handover_api_snapshot_signatures_and_scope(api):
    client, h, clock, factory, ids = api
    with factory() as session, session.begin():
        sos = _alert(session, site_id=ids["north"], device="sos-1", t=T0)
        _alert(session, site_id=ids["south"], device="sos-2", t=T0)
    made = client.post("/api/duty/handovers", headers=h["op"], json={"site_id": ids["north"],
                                                                     "notes": "3号房老人夜间咳嗽，注意"})
    assert made.status_code == 201, made.text
    handover = made.json()
    assert [a["id"] for a in handover["open_alerts"]] == [sos.id]
    assert (handover["outgoing_by"], handover["complete"]) == ("user:1:op", False)
    url = f"/api/duty/handovers/{handover['id']}"
    # Scope: a south-only user neither sees nor signs it, and may not make an every-site handover.
    assert client.get(url, headers=h["op_south"]).status_code == 404
    assert client.post(f"{url}/sign", headers=h["op_south"], json={}).status_code == 404
    assert client.get("/api/duty/handovers", headers=h["op_south"]).json() == []
    assert client.post("/api/duty/handovers", headers=h["op_south"], json={"notes": "x"}).status_code == 403
    assert client.get(url, headers=h["son"]).status_code == 403
    assert client.post(f"{url}/sign", headers=h["auditor"], json={}).status_code == 403
    # The outgoing user cannot also sign as the incoming one; they may amend until it is signed.
    assert client.post(f"{url}/sign", headers=h["op"], json={}).status_code == 409
    clock.now += 60
    assert client.patch(url, headers=h["op"], json={"notes": "更正：4号房"}).json()["amended_at"] == clock.now
    assert client.patch(url, headers=h["op2"], json={"notes": "not mine"}).status_code == 409
    signed = client.post(f"{url}/sign", headers=h["key"], json={"notes": "已接班"})
    assert signed.status_code == 200, signed.text
    assert (signed.json()["incoming_by"], signed.json()["complete"]) == ("api_key:1:night-console", True)
    assert client.post(f"{url}/sign", headers=h["op2"], json={}).status_code == 409
    assert client.post(f"{url}/sign", headers=h["key"], json={}).status_code == 409
    assert client.patch(url, headers=h["op"], json={"notes": "late change"}).status_code == 409
    assert client.get(url, headers=h["auditor"]).json()["notes"] == "更正：4号房"
    assert [x["id"] for x in client.get("/api/duty/handovers", headers=h["op"]).json()] == [handover["id"]]
    assert client.get("/api/duty/handovers/999", headers=h["op"]).status_code == 404


def test_duty_log_and_calls_api_with_alert_defaults_and_scope(api):
    client, h, clock, factory, ids = api
    with factory() as session, session.begin():
        sos = _alert(session, site_id=ids["north"], device="sos-1", t=T0)
        sos.resident_id = ids["mother"]
    entry = client.post("/api/duty/log", headers=h["op"], json={"kind": "shift_start", "text": "接班，设备正常",
                                                                "site_id": ids["north"]})
    assert entry.status_code == 201 and entry.json()["at"] == clock.now and entry.json()["actor"] == "user:1:op"
    linked = client.post("/api/duty/log", headers=h["op"], json={"kind": "event", "text": "SOS", "alert_id": sos.id})
    assert linked.json()["site_id"] == ids["north"]  # from the alert
    assert client.post("/api/duty/log", headers=h["op_south"], json={"text": "x", "alert_id": sos.id}
                       ).status_code == 404
    assert client.post("/api/duty/log", headers=h["op"], json={"text": "x", "site_id": 999}).status_code == 404
    assert client.post("/api/duty/log", headers=h["op"], json={"kind": "gossip", "text": "x"}).status_code == 422
    assert [e["text"] for e in client.get("/api/duty/log", headers=h["op"]).json()] == ["SOS", "接班，设备正常"]
    assert client.get("/api/duty/log", headers=h["op_south"]).json() == []
    assert client.get("/api/duty/log", headers=h["son"]).status_code == 403

    call = client.post("/api/duty/calls", headers=h["op"], json={
        "callee": "李华 (女儿) 138-0000-0000", "outcome": "answered", "note": "女儿20分钟后到", "alert_id": sos.id,
        "at": clock.now - 30})
    assert call.status_code == 201, call.text
    body = call.json()
    assert (body["caller"], body["site_id"], body["resident_id"], body["at"]) == (
        "user:1:op", ids["north"], ids["mother"], clock.now - 30)
    assert client.post("/api/duty/calls", headers=h["op"], json={"callee": "120", "outcome": "answered",
                                                                 "at": clock.now + 3600}).status_code == 422
    assert client.post("/api/duty/calls", headers=h["op"], json={"callee": "120", "outcome": "answered",
                                                                 "alert_id": 999}).status_code == 404
    assert client.post("/api/duty/calls", headers=h["op_south"], json={
        "callee": "x", "outcome": "answered", "site_id": ids["south"], "resident_id": ids["mother"]}
    ).status_code == 404
    assert [c["id"] for c in client.get("/api/duty/calls", headers=h["op"], params={"alert_id": sos.id}).json()] == [
        body["id"]]
    assert client.get("/api/duty/calls", headers=h["op_south"]).json() == []
    with factory() as session:
        assert [e.entity_id for e in _actions(session, "duty.call_recorded")] == [str(body["id"])]
        assert len(_actions(session, "duty.log_appended")) == 2


def _read_csv(response) -> list[dict]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert response.content.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs to read UTF-8
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


def test_csv_exports_parse_and_hold_the_records_in_scope(api):
    client, h, clock, factory, ids = api
    north, south = ids["north"], ids["south"]
    client.post("/api/duty/shifts", headers=h["op"], json={"staff_id": ids["wang"], "site_id": north,
                                                           "role": "operator", "starts_at": T0, "ends_at": T0 + HOUR,
                                                           "note": "=HYPERLINK(\"http://x\")"})
    client.post("/api/duty/shifts", headers=h["op"], json={"staff_id": ids["zhou"], "site_id": south,
                                                           "role": "operator", "starts_at": T0, "ends_at": T0 + HOUR})
    made = client.post("/api/duty/handovers", headers=h["op"],
                       json={"site_id": north, "notes": "交接：一切正常"}).json()
    client.post(f"/api/duty/handovers/{made['id']}/sign", headers=h["op2"], json={"notes": "收到"})
    for text in ("接班", "巡查三楼"):
        clock.now += 60
        client.post("/api/duty/log", headers=h["op"], json={"text": text, "site_id": north})
    client.post("/api/duty/calls", headers=h["op"], json={"callee": "李华", "outcome": "no_answer", "site_id": north})
    client.post("/api/duty/calls", headers=h["op"], json={"callee": "120", "outcome": "answered", "site_id": south})

    shifts = _read_csv(client.get("/api/duty/shifts.csv", headers=h["op"]))
    assert [(r["staff_name"], r["site_id"], r["starts_local"]) for r in shifts] == [
        ("wang", str(north), "2026-09-21T22:13:20+08:00"), ("zhou", str(south), "2026-09-21T22:13:20+08:00")]
    assert shifts[0]["note"] == "'=HYPERLINK(\"http://x\")"  # text never runs as a formula in Excel
    handovers = _read_csv(client.get("/api/duty/handovers.csv", headers=h["op"]))
    assert [(r["id"], r["notes"], r["incoming_by"], r["incoming_notes"], r["complete"]) for r in handovers] == [
        (str(made["id"]), "交接：一切正常", "user:2:op2", "收到", "yes")]
    log = _read_csv(client.get("/api/duty/log.csv", headers=h["op"]))
    assert [(r["text"], r["actor"], r["kind"]) for r in log] == [("接班", "user:1:op", "note"),
                                                                 ("巡查三楼", "user:1:op", "note")]
    calls = _read_csv(client.get("/api/duty/calls.csv", headers=h["op"]))
    assert [(r["callee"], r["outcome"]) for r in calls] == [("李华", "no_answer"), ("120", "answered")]
    # Scope and windows apply to exports as to lists.
    assert [r["callee"] for r in _read_csv(client.get("/api/duty/calls.csv", headers=h["op_south"]))] == ["120"]
    assert [r["staff_name"] for r in _read_csv(client.get("/api/duty/shifts.csv", headers=h["op_south"]))] == [
        "zhou"]
    assert _read_csv(client.get("/api/duty/handovers.csv", headers=h["op_south"])) == []
    assert [r["text"] for r in _read_csv(client.get("/api/duty/log.csv", headers=h["op"],
                                                    params={"since": clock.now}))] == ["巡查三楼"]
    for kind in ("shifts", "handovers", "log", "calls"):
        assert client.get(f"/api/duty/{kind}.csv", headers=h["son"]).status_code == 403
        assert client.get(f"/api/duty/{kind}.csv").status_code == 401


def test_the_hub_app_mounts_duty_and_kpis(tmp_path, monkeypatch):
    from hub.api import create_app
    from hub.config import Settings
    from hub.runtime import Hub

    monkeypatch.setenv("CAREHUB_CONFIG", str(tmp_path / "absent.toml"))
    hub = Hub(Settings(data_dir=tmp_path, mqtt_url="", influx_url=""), clock=Clock(T0))
    try:
        paths = set(create_app(hub).openapi()["paths"])
    finally:
        hub.engine.dispose()
    assert {"/api/duty/on-duty", "/api/duty/shifts", "/api/duty/handovers/{handover_id}/sign", "/api/duty/log",
            "/api/duty/calls", "/api/duty/shifts.csv", "/api/duty/handovers.csv", "/api/duty/log.csv",
            "/api/duty/calls.csv", "/api/kpis"} <= paths
