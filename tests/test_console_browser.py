"""The web console in a real browser (Debian's chromium via Playwright) against a real hub and real Mosquitto.

Each test signs in through the login form, as the person who would use that page, and saves a screenshot
of the page (to docs/screenshots/ for the README when CAREHUB_SCREENSHOTS=1).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from tests.hub_process import HubProcess

sync_api = pytest.importorskip("playwright.sync_api", reason="pip install -e '.[test]' installs playwright")

CHROMIUM = "/usr/bin/chromium"
# The README's screenshots are refreshed with CAREHUB_SCREENSHOTS=1; ordinary runs keep them out of the tree.
SHOTS = (Path(__file__).resolve().parents[1] / "docs" / "screenshots" if os.environ.get("CAREHUB_SCREENSHOTS")
         else Path(tempfile.gettempdir()) / "carehub-screenshots")
PASSWORD = "console-test-password"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1440, "height": 900}
WALL = {"width": 1920, "height": 1080}
XSS_NAME = "<img src=x onerror=window.pwned=1>"
DEVICES_CSV = "\n".join([
    "site,building,room,resident,kind,vendor,model,profile,ieee_address,z2m_name,imei,cid_account,cid_zone,"
    "native_id,supervision_s,name",
    "Elm Home,A,101,Sun Li,sos_button,TuYa,TS0215A_sos,zigbee2mqtt,0x00124b0024c1c001,elm/101/sos,,,,,3600,SOS 101",
    "Elm Home,A,101,Sun Li,wristband,CareHub,CH-WB1,carehub_v1,,,,,,wb-sunli,600,Wristband Sun Li",
    "Elm Home,A,102,Qian Wu,sos_button,TuYa,TS0215A_sos,zigbee2mqtt,0x00124b0024c1c002,elm/102/sos,,,,,3600,SOS 102",
    f"Elm Home,A,103,{XSS_NAME},sos_button,TuYa,TS0215A_sos,zigbee2mqtt,0x00124b0024c1c003,elm/103/sos,,,,,3600,"
    "SOS 103",
    "Elm Home,A,kitchen,,smoke_detector,Heiman,HS1SA,zigbee2mqtt,0x00124b0024c1c004,elm/kitchen/smoke,,,,,3600,"
    "Smoke kitchen",
]) + "\n"


@pytest.fixture(scope="module")
def hub(mosquitto, tmp_path_factory):
    proc = HubProcess(tmp_path_factory.mktemp("hub-console"), mqtt_port=mosquitto.port,
                      client_id=f"hub-console-{uuid.uuid4().hex[:6]}")
    proc.import_devices(DEVICES_CSV)
    proc.add_user("duty", PASSWORD, "duty_operator")
    proc.add_user("safety", PASSWORD, "safety_officer")
    proc.add_user("dispatch", PASSWORD, "dispatcher")
    proc.start()
    residents = {r["name"]: r["id"] for r in proc.api.get("/api/residents").json()}
    proc.add_user("sun_daughter", PASSWORD, "family", "--resident", str(residents["Sun Li"]))
    proc.residents = residents
    _backfill_vitals(mosquitto.port)
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield chromium
        chromium.close()


class Session:
    """A signed-in browser page that records script errors (any error fails the test)."""

    def __init__(self, browser, hub: HubProcess, username: str, viewport: dict, start: str = "/") -> None:
        self.context = browser.new_context(viewport=viewport)
        self.page = self.context.new_page()
        self.page.set_default_timeout(10_000)
        self.errors: list[str] = []
        self.page.on("pageerror", lambda err: self.errors.append(str(err)))
        self.page.goto(f"{hub.url}{start}")
        self.page.fill('input[name="username"]', username)
        self.page.fill('input[name="password"]', PASSWORD)
        self.page.click('button[type="submit"]')
        self.page.wait_for_selector("#top nav")

    def shot(self, name: str) -> None:
        """Save a screenshot of the visible page for the README."""
        SHOTS.mkdir(parents=True, exist_ok=True)
        time.sleep(0.3)  # let charts finish their first paint
        self.page.screenshot(path=str(SHOTS / f"{name}.png"))

    def close(self) -> None:
        self.context.close()
        assert self.errors == [], f"script errors in the console: {self.errors}"


def _press(port: int, name: str) -> float:
    started = time.monotonic()
    subprocess.run(["mosquitto_pub", "-p", str(port), "-q", "1", "-t", f"zigbee2mqtt/{name}",
                    "-m", '{"action":"emergency","battery":93,"linkquality":120}'], check=True)
    return started


def _backfill_vitals(port: int) -> None:
    """Publish the last 23 h of Sun Li's wristband readings (the native protocol accepts up to a day back)."""
    now = time.time()
    lines, steps = [], 0
    for i in range(23 * 12, 0, -1):  # every 5 minutes
        ts = now - i * 300
        hour = time.localtime(ts).tm_hour
        steps += 0 if hour < 7 or hour > 21 else 40 + (i * 37) % 160  # a day counter that only grows
        asleep = hour < 7 or hour > 21
        readings = {"heart_rate": round(72 - 8 * asleep + 5 * math.sin(i / 9), 1),
                    "spo2": round(96.5 + 0.8 * math.sin(i / 13), 1), "steps": steps, "battery": 76}
        lines.append(json.dumps({"v": 1, "ts": ts, "seq": 1000 - i, "readings": readings}))
    subprocess.run(["mosquitto_pub", "-p", str(port), "-q", "1", "-t", "carehub/v1/wb-sunli/telemetry", "-l"],
                   input="\n".join(lines) + "\n", text=True, check=True)


def _wait_api(hub: HubProcess, path: str, check, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = hub.api.get(path).json()
        if check(body):
            return body
        time.sleep(0.1)
    raise AssertionError(f"{path} never satisfied the check: {body}")


def test_console_operator_sees_an_sos_live_then_acknowledges_dispatches_and_resolves_it(hub, browser, mosquitto):
    s = Session(browser, hub, "duty", DESKTOP)
    page = s.page
    try:
        assert page.url.endswith("/console/alerts")
        # The backfilled wristband may already have a P2/P3 condition open; no P1 is open before the press.
        assert page.locator('.alert-row[data-priority="1"]').count() == 0
        page.evaluate("window.__sameDocument = true")  # gone if anything reloads the page

        pressed = _press(mosquitto.port, "elm/101/sos")
        row = page.locator('.alert-row[data-priority="1"]').first
        row.wait_for()
        print(f"\nSOS press -> row in the browser queue: {(time.monotonic() - pressed) * 1000:.0f} ms")
        assert page.evaluate("window.__sameDocument") is True, "the page reloaded"
        assert "Sun Li" in row.inner_text() and "一键呼叫" in row.inner_text()
        assert page.locator("#sound-toggle").get_attribute("data-ringing") == "true"  # P1 not acknowledged

        # A resident's name with markup stays text.
        _press(mosquitto.port, "elm/103/sos")
        page.get_by_text(XSS_NAME).first.wait_for()
        assert page.evaluate("window.pwned") is None
        s.shot("duty-room")

        alert_id = int(row.get_attribute("data-alert-id"))
        row.click()
        page.wait_for_url(f"**/console/alerts/{alert_id}")
        page.locator(".resident-card").get_by_text("Sun Li").wait_for()
        page.click("#btn-acknowledge")
        page.locator('#alert-state[data-state="acknowledged"]').wait_for()
        page.fill('#dispatch-form input[name="responder"]', "Wang Jun (caregiver)")
        page.click('#dispatch-form button[type="submit"]')
        page.locator('#alert-state[data-state="dispatched"]').wait_for()
        page.locator("#btn-arrive").wait_for()
        page.locator(".timeline").get_by_text("派遣人员").first.wait_for()
        s.shot("alert-detail")

        page.select_option('#resolve-form select[name="outcome"]', "genuine")
        page.fill('#resolve-form textarea[name="note"]', "Resident slipped in the bathroom; helped up, no injury.")
        page.click('#resolve-form button[type="submit"]')
        page.locator('#alert-state[data-state="resolved"]').wait_for()
        page.locator(f'.alert-row[data-alert-id="{alert_id}"]').wait_for(state="detached")  # left the open queue
        alert = hub.api.get(f"/api/alerts/{alert_id}").json()
        assert (alert["state"], alert["outcome"], alert["responder"]) == ("resolved", "genuine", "Wang Jun (caregiver)")
        assert alert["acknowledged_by"].endswith("duty")

        # The link escalation messages carry opens that alert straight away.
        page.goto(f"{hub.url}/console/alerts/{alert_id}")
        page.locator('#alert-state[data-state="resolved"]').wait_for()

        page.click('#top nav a[href="/console/floor"]')
        page.locator("#floor-grid .room").first.wait_for()
        assert page.locator('.room.cond-alarm').count() >= 1  # room 103 still has its open SOS
        s.shot("floor")

        page.click('#top nav a[href="/console/duty"]')
        page.fill('#log-form input[name="text"]', "Night round done; kitchen smoke detector checked.")
        page.click('#log-form button[type="submit"]')
        page.locator("#duty-log").get_by_text("Night round done").wait_for()
        page.fill('#handover-form textarea[name="notes"]', "Room 103 SOS still open: resident asked for a call back.")
        page.click('#handover-form button[type="submit"]')
        page.locator("#handovers").get_by_text("Room 103 SOS still open").wait_for()
        s.shot("duty-records")

        page.goto(f"{hub.url}/console/residents/{hub.residents['Sun Li']}")
        page.locator("#chart-hr canvas").wait_for()
        page.locator("#chart-steps canvas").wait_for()
        assert "Wristband Sun Li" in page.locator("#resident-devices").inner_text()
        s.shot("resident")
    finally:
        s.close()


def test_console_wall_screen_deep_link_and_english_switch(hub, browser, mosquitto):
    _press(mosquitto.port, "elm/102/sos")
    alert = _wait_api(hub, "/api/alerts", lambda alerts: any(a["resident_id"] == hub.residents["Qian Wu"]
                                                            for a in alerts))
    alert_id = next(a["id"] for a in alert if a["resident_id"] == hub.residents["Qian Wu"])
    # The link in an escalation message, opened signed out: sign in, then that alert.
    s = Session(browser, hub, "duty", WALL, start=f"/console/alerts/{alert_id}")
    page = s.page
    try:
        page.wait_for_url(f"**/console/alerts/{alert_id}")
        page.locator(".resident-card").get_by_text("Qian Wu").wait_for()
        page.locator("#btn-acknowledge").wait_for()
        s.shot("duty-room-wall")
        page.click("button.lang")
        page.get_by_text("Open alerts").wait_for()
        assert "SOS call" in page.locator("#queue").inner_text()
        page.click("button.lang")
        page.get_by_text("未结警报").wait_for()
    finally:
        s.close()


def test_console_family_on_a_phone_sees_only_their_relative(hub, browser, mosquitto):
    _press(mosquitto.port, "elm/101/sos")  # Sun Li: their relative
    _press(mosquitto.port, "elm/102/sos")  # Qian Wu: not theirs
    _wait_api(hub, "/api/alerts", lambda alerts: {a["resident_id"] for a in alerts} >= {
        hub.residents["Sun Li"], hub.residents["Qian Wu"]})
    s = Session(browser, hub, "sun_daughter", PHONE)
    page = s.page
    try:
        assert page.url.endswith("/console/family")
        card = page.locator(".relative")
        card.first.get_by_text("Sun Li").wait_for()
        assert card.count() == 1
        assert card.first.get_attribute("data-resident-id") == str(hub.residents["Sun Li"])
        assert "has-open" in card.first.get_attribute("class")
        text = page.locator("body").inner_text()
        assert "Qian Wu" not in text and XSS_NAME not in text
        # No staff pages for a family user: they are not in the menu and do not open.
        assert page.locator('#top nav a[href="/console/alerts"]').count() == 0
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]  # no sideways scrolling
        s.shot("family-phone")
        # "Please call me" is logged on the alert for the duty room.
        alert_id = int(card.first.locator(".alert-progress").first.get_attribute("data-alert-id"))
        card.first.locator('button[data-answer="call_me"]').first.click()
        _wait_api(hub, f"/api/alerts/{alert_id}", lambda a: any(
            h["action"] == "alert.family_response" and h["detail"]["answer"] == "call_me"
            and h["actor"].endswith("sun_daughter") for h in a["history"]))
        page.goto(f"{hub.url}/console/floor")
        page.locator("main .empty").wait_for()
    finally:
        s.close()


def test_console_dispatcher_assigns_a_work_order_with_its_sla_timer(hub, browser):
    order = hub.api.post("/api/workorders", json={
        "type": "maintenance", "title": "Replace battery: smoke detector kitchen", "priority": 2,
        "site_id": hub.api.get("/api/sites").json()[0]["id"]}).json()
    s = Session(browser, hub, "dispatch", DESKTOP)
    page = s.page
    try:
        assert page.url.endswith("/console/dispatch")
        card = page.locator(f'.wo-card[data-order-id="{order["id"]}"]')
        card.wait_for()
        assert card.locator(".due").count() == 1  # the accept-by countdown
        card.click()
        page.fill('#wo-dispatch input[name="assignee"]', "Li Wei (electrician)")
        page.click('#wo-dispatch button[type="submit"]')
        page.locator('.column[data-status="dispatched"]').locator(f'[data-order-id="{order["id"]}"]').wait_for()
        assert hub.api.get(f"/api/workorders/{order['id']}").json()["assignee"] == "Li Wei (electrician)"
        s.shot("dispatch")
    finally:
        s.close()


def test_console_safety_officer_closes_a_hazard_after_reinspection(hub, browser):
    api = hub.api
    site_id = api.get("/api/sites").json()[0]["id"]
    hazard = api.post("/api/hazards", json={"category": "electricity", "level": "orange", "site_id": site_id,
                                            "title": "Overloaded power strip in room 102",
                                            "location": "A-102"}).json()
    api.post(f"/api/hazards/{hazard['id']}/rectify", json={"measures": "Replace with a fused strip",
                                                           "responsible_person": "Zhao Min"}).raise_for_status()
    api.post(f"/api/hazards/{hazard['id']}/rectified",
             json={"note": "Fused strip installed", "evidence": []}).raise_for_status()
    s = Session(browser, hub, "safety", DESKTOP)
    page = s.page
    try:
        assert page.url.endswith("/console/safety")
        page.locator(f'tr[data-hazard-id="{hazard["id"]}"] button').click()
        page.select_option('#hz-reinspect select[name="passed"]', "true")
        page.fill('#hz-reinspect textarea[name="note"]', "Checked on site: strip replaced, load within rating.")
        page.click('#hz-reinspect button[type="submit"]')
        page.click("#hz-close")
        page.locator('#hz-status[data-status="closed"]').wait_for()
        closed = api.get(f"/api/hazards/{hazard['id']}").json()
        assert closed["status"] == "closed" and closed["closed_by"].endswith("safety")
        s.shot("safety-hazards")
        page.click('nav.tabs a[href="/console/safety/monthly"]')
        page.locator("#chart-hazards canvas").wait_for()
        s.shot("safety-monthly")
    finally:
        s.close()


def test_console_refreshes_its_token_and_shows_a_banner_while_the_hub_is_unreachable(hub, browser, mosquitto):
    s = Session(browser, hub, "duty", DESKTOP)
    page = s.page
    try:
        page.locator("#queue").wait_for()
        # An access token about to expire is refreshed before the next call.
        page.evaluate("""() => {
            const s = JSON.parse(localStorage.getItem('carehub.session'));
            s.expiresAt = Date.now() / 1000 + 5;
            localStorage.setItem('carehub.session', JSON.stringify(s));
        }""")
        page.reload()
        with page.expect_response("**/api/auth/refresh") as refreshed:
            page.click('#top nav a[href="/console/floor"]')
        assert refreshed.value.status == 200
        page.locator("#floor-grid .room").first.wait_for()

        # Requests to the hub fail: a clear banner; they succeed again: the banner goes.
        blocked = lambda route: route.abort()  # noqa: E731
        page.route("**/api/**", blocked)
        page.route("**/healthz", blocked)
        page.click('#top nav a[href="/console/duty"]')
        banner = page.locator("#banner")
        banner.wait_for(state="visible")
        assert "无法连接" in banner.inner_text()
        page.unroute("**/api/**", blocked)
        page.unroute("**/healthz", blocked)
        banner.wait_for(state="hidden", timeout=20_000)

        # The hub dies and comes back: the live feed drops (banner), reconnects by itself, and changes arrive again.
        _press(mosquitto.port, "elm/102/sos")
        _wait_api(hub, "/api/alerts", lambda alerts: any(a["resident_id"] == hub.residents["Qian Wu"] for a in alerts))
        page.click('#top nav a[href="/console/alerts"]')
        page.locator("#queue").wait_for()
        hub.kill()
        banner.wait_for(state="visible")
        started = time.monotonic()
        hub.start()
        banner.wait_for(state="hidden", timeout=30_000)
        print(f"\nhub serving again -> console reconnected: {time.monotonic() - started:.1f} s (incl. hub start)")
        qian = next(a for a in hub.api.get("/api/alerts").json() if a["resident_id"] == hub.residents["Qian Wu"])
        assert page.locator(f'.alert-row[data-alert-id="{qian["id"]}"]').count() == 1  # the fresh snapshot
        _press(mosquitto.port, "elm/102/sos")  # joins Qian Wu's open alert: the row's counter goes up live
        page.locator(f'.alert-row[data-alert-id="{qian["id"]}"] .count').get_by_text(f"×{qian['count'] + 1}").wait_for()
    finally:
        s.close()


def test_console_family_user_whose_relative_never_alarmed_sees_their_name(hub, browser):
    site_id = hub.api.get("/api/sites").json()[0]["id"]
    created = hub.api.post("/api/residents", json={"name": "Zhou Ping", "site_id": site_id})
    assert created.status_code in (200, 201), created.text
    hub.add_user("zhou_son", PASSWORD, "family", "--resident", str(created.json()["id"]))
    s = Session(browser, hub, "zhou_son", PHONE)
    try:
        card = s.page.locator(".relative")
        card.first.get_by_text("Zhou Ping").wait_for()
        assert card.count() == 1 and "all-ok" in card.first.get_attribute("class")
        assert "#" not in card.first.locator("h2").inner_text()
        assert s.errors == []
    finally:
        s.close()


def _close_open_alerts(hub: HubProcess) -> None:
    for alert in hub.api.get("/api/alerts").json():
        hub.api.post(f"/api/alerts/{alert['id']}/acknowledge")
        response = hub.api.post(f"/api/alerts/{alert['id']}/resolve", json={"outcome": "test", "note": "floor test"})
        assert response.status_code == 200, response.text


def test_console_floor_redraws_only_the_room_whose_alert_changed(hub, browser, mosquitto):
    _close_open_alerts(hub)
    s = Session(browser, hub, "duty", DESKTOP, start="/console/floor")
    page = s.page
    try:
        page.click('#top nav a[href="/console/floor"]')
        page.locator("#floor-grid .room").first.wait_for()
        assert page.locator(".room.cond-alarm").count() == 0
        room_102 = next(r["room_id"] for r in hub.api.get("/api/residents").json() if r["name"] == "Qian Wu")
        room_101 = next(r["room_id"] for r in hub.api.get("/api/residents").json() if r["name"] == "Sun Li")
        page.evaluate(f"document.querySelector('.room[data-room-id=\"{room_101}\"]').dataset.marked = 'yes'")
        _press(mosquitto.port, "elm/102/sos")
        page.locator(f'.room.cond-alarm[data-room-id="{room_102}"]').wait_for()
        assert page.locator(".room.cond-alarm").count() == 1
        # The room next door kept its element: only the room whose alert changed was rebuilt.
        assert page.locator(f'.room[data-room-id="{room_101}"][data-marked="yes"]').count() == 1
        _close_open_alerts(hub)
        page.locator(".room.cond-alarm").wait_for(state="detached")
        assert page.locator(f'.room[data-room-id="{room_101}"][data-marked="yes"]').count() == 1
        assert s.errors == []
    finally:
        s.close()
