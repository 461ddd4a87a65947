"""End to end: an unacknowledged SOS escalates on time to real SMTP and webhook receivers, across a SIGKILL."""

from __future__ import annotations

import re
import subprocess
import time
import uuid

import pytest

from tests.hub_process import HubProcess
from tests.receivers import Inbox, SmtpReceiver, WebhookReceiver

REF = re.compile(r"(?:Ref|编号)[:：] ?CH-(\d+)-(\d+)\.(\d+)\.(\d+)")


@pytest.fixture
def inbox():
    box = Inbox()
    smtp, webhook = SmtpReceiver(box), WebhookReceiver(box)
    yield box, smtp, webhook
    smtp.stop()
    webhook.stop()


def _setup(proc: HubProcess, smtp: SmtpReceiver, webhook: WebhookReceiver, wait_s: float) -> None:
    api = proc.api
    site = api.post("/api/sites", json={"name": "Elm Home"}).json()
    resident = api.post("/api/residents", json={"name": "Sun Li", "site_id": site["id"], "contacts": [
        {"name": "Son", "apprise_urls": [smtp.url("son@example.com")], "order": 1},
        {"name": "Daughter", "apprise_urls": [webhook.url("daughter")], "order": 2, "language": "en"}]}).json()
    device = api.post("/api/devices", json={"kind": "sos_button", "keys": ["z2m:elm/101/sos"],
                                            "site_id": site["id"], "resident_id": resident["id"]})
    assert device.status_code == 201, device.text
    operator = api.post("/api/staff", json={"name": "Operator Wang", "role": "operator", "site_id": site["id"],
                                            "apprise_urls": [webhook.url("operator")]}).json()
    api.post("/api/staff", json={"name": "Supervisor Chen", "role": "supervisor", "site_id": site["id"],
                                 "apprise_urls": [smtp.url("supervisor@example.com")]}).raise_for_status()
    now = time.time()
    shift = api.post("/api/duty/shifts", json={"staff_id": operator["id"], "site_id": site["id"], "role": "operator",
                                               "starts_at": now - 60, "ends_at": now + 3600})
    assert shift.status_code == 201, shift.text
    policy = api.put("/api/escalation/policies", json={"name": "e2e", "site_id": site["id"], "alert_type": "sos",
                                                       "steps": [
        {"action": "notify_on_duty"}, {"action": "wait", "seconds": wait_s}, {"action": "notify_supervisor"},
        {"action": "wait", "seconds": wait_s}, {"action": "notify_family", "seconds": wait_s},
        {"action": "wait", "seconds": wait_s}, {"action": "call_emergency"}]})
    assert policy.status_code == 200, policy.text


def _press(port: int) -> None:
    subprocess.run(["mosquitto_pub", "-p", str(port), "-q", "1", "-t", "zigbee2mqtt/elm/101/sos",
                    "-m", '{"action":"emergency","battery":100,"linkquality":18}'], check=True)


def _alert(proc: HubProcess, timeout: float = 5.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alerts = proc.api.get("/api/alerts").json()
        if alerts:
            return alerts[0]
        time.sleep(0.05)
    raise AssertionError("no alert raised")


# (seconds after the alert, step index in the frozen policy, receiver address) for a wait of W between steps.
def _expected(wait_s: float) -> list[tuple[float, int, str]]:
    return [(0, 0, "/operator"), (wait_s, 2, "supervisor@example.com"), (2 * wait_s, 4, "son@example.com"),
            (3 * wait_s, 6, "/daughter"), (4 * wait_s, 8, "/operator"), (4 * wait_s, 8, "supervisor@example.com")]


def _deliveries(box: Inbox) -> list[tuple[int, str, float]]:
    out = []
    for message in box.snapshot():
        match = REF.search(message.body)
        assert match, f"message without a reference: {message.body!r}"
        out.append((int(match.group(4)), message.to, message.at))
    return out


def test_unacknowledged_sos_escalates_on_time_to_smtp_and_webhook(mosquitto, tmp_path, inbox):
    box, smtp, webhook = inbox
    proc = HubProcess(tmp_path / "hub", mqtt_port=mosquitto.port, client_id=f"hub-esc-{uuid.uuid4().hex[:6]}")
    wait_s = 3.0
    proc.start()
    try:
        _setup(proc, smtp, webhook, wait_s)
        _press(mosquitto.port)
        alert = _alert(proc)
        assert box.wait_for(lambda m: "supervisor" in m.to and "CH-" in m.body, 10), "supervisor not mailed"
        time.sleep(0.5)
        got = _deliveries(box)
        first, second = got[0], got[1]
        assert (first[0], first[1]) == (0, "/operator") and (second[0], second[1]) == (2, "supervisor@example.com")
        late_first = first[2] - alert["created_at"]
        late_second = second[2] - (alert["created_at"] + wait_s)
        print(f"\noperator webhook {late_first * 1000:.0f} ms after the alert; supervisor mail "
              f"{late_second * 1000:.0f} ms after its due time")
        assert 0 <= late_first < 1.5 and -0.05 <= late_second < 1.5
        mail = [m for m in box.snapshot() if m.channel == "smtp"][0]
        assert mail.title.startswith("【P1 一键呼叫】Sun Li") and "Elm Home" in mail.body
        # Acknowledging stops the escalation: nothing more arrives after the family step would have been due.
        assert proc.api.post(f"/api/alerts/{alert['id']}/acknowledge").status_code == 200
        time.sleep(2 * wait_s + 1)
        assert [d[0] for d in _deliveries(box)] == [0, 2]
        sent = proc.api.get(f"/api/alerts/{alert['id']}/notifications").json()
        assert [(n["state"], n["attempts"], n["channel"]) for n in sent] == [("sent", 1, "json"), ("sent", 1, "mailto")]
    finally:
        proc.stop()


def test_sigkill_mid_escalation_neither_repeats_nor_skips_a_step(mosquitto, tmp_path, inbox):
    box, smtp, webhook = inbox
    proc = HubProcess(tmp_path / "hub", mqtt_port=mosquitto.port, client_id=f"hub-kill-{uuid.uuid4().hex[:6]}")
    wait_s = 8.0
    proc.start()
    try:
        _setup(proc, smtp, webhook, wait_s)
        _press(mosquitto.port)
        alert = _alert(proc)
        created = alert["created_at"]
        assert box.wait_for(lambda m: "supervisor" in m.to, wait_s + 5), "second step not delivered"
        time.sleep(0.3)
        proc.kill()  # between the second step (due at W) and the third (due at 2W)
        killed_at = time.time()
        proc.start()
        ready_at = time.time()
        print(f"\nkilled {killed_at - created:.1f} s after the alert, serving again after {ready_at - killed_at:.1f} s")
        expected = _expected(wait_s)
        assert box.wait_for(lambda m: len(_deliveries(box)) >= len(expected), 4 * wait_s + 10)
        time.sleep(2.0)  # anything repeated would arrive now
        got = _deliveries(box)
        assert sorted((s, to) for s, to, _ in got) == sorted((s, to) for _, s, to in expected), got
        for offset, step, to in expected:
            (at,) = [a for s, t, a in got if (s, t) == (step, to)]
            due = created + offset
            if killed_at < due < ready_at:
                # Due while the hub was down: it runs as soon as the hub is back (its timers start just
                # before MQTT connects, which is when the test sees it ready).
                assert ready_at - 2.0 <= at < ready_at + 1.5, (step, to, at - due)
            else:
                assert -0.05 <= at - due < 1.5, (step, to, at - due)
        calls = proc.api.get("/api/duty/calls").json()
        assert [(c["callee"], c["alert_id"]) for c in calls] == [("120", alert["id"])]
    finally:
        proc.stop()
