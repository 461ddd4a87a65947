"""`carehub demo` in a real browser: simulated alerts appear live within a minute and an operator handles one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from playwright import sync_api

from hub.demo import DEMO_PASSWORD
from tests.servers import free_port

CHROMIUM = "/usr/bin/chromium"


def test_demo_console_shows_a_live_alert_within_a_minute_and_takes_it_to_resolved(tmp_path):
    port = free_port()
    env = {**os.environ, "CAREHUB_CONFIG": str(tmp_path / "absent.toml")}
    log = open(tmp_path / "demo.log", "wb")
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "hub", "demo", "--port", str(port), "--data-dir",
                             str(tmp_path / "demo"), "--broker", "mosquitto", "--residents", "6"],
                            env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        with sync_api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda err: errors.append(str(err)))
            deadline = started + 30
            while True:  # the demo needs a few seconds to start its broker and hub
                try:
                    page.goto(f"http://127.0.0.1:{port}/")
                    break
                except sync_api.Error:
                    assert time.monotonic() < deadline, "the demo's console never answered"
                    time.sleep(0.5)
            page.fill('input[name="username"]', "operator")
            page.fill('input[name="password"]', DEMO_PASSWORD)
            page.click('button[type="submit"]')
            page.evaluate("window.__sameDocument = true")
            row = page.locator(".alert-row").first
            row.wait_for(timeout=max(1.0, 60 - (time.monotonic() - started)) * 1000)
            appeared = time.monotonic() - started
            assert page.evaluate("window.__sameDocument") is True, "the alert needed a reload to appear"
            print(f"\nfirst simulated alert live in the console {appeared:.1f} s after `carehub demo` started")
            alert_id = row.get_attribute("data-alert-id")
            row.click()
            page.wait_for_url(f"**/console/alerts/{alert_id}")
            page.click("#btn-acknowledge")
            page.locator('#alert-state[data-state="acknowledged"]').wait_for()
            page.fill('#dispatch-form input[name="responder"]', "Caregiver Zhou")
            page.click('#dispatch-form button[type="submit"]')
            page.locator('#alert-state[data-state="dispatched"]').wait_for()
            page.select_option('#resolve-form select[name="outcome"]', "test")
            page.fill('#resolve-form textarea[name="note"]', "Simulated incident in the demo.")
            page.click('#resolve-form button[type="submit"]')
            page.locator('#alert-state[data-state="resolved"]').wait_for()
            assert errors == [], errors
            browser.close()
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(30)
    assert appeared < 60
