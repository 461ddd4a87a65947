"""End to end, the installer's walkthrough of docs/profiles.md: an NB-IoT vendor the hub has never seen, added
over HTTP with a profile file dropped into a running hub's profile directory: no code, no restart."""

from __future__ import annotations

import json
import math
import re
import subprocess
import time
import uuid

import httpx
import pytest

from tests.hub_process import HubProcess, wait_for

IMEI = "865067101234563"  # 15 digits, valid Luhn check digit
KEY = f"imei:{IMEI}"
SITE = "Sunrise Home"
PROFILE = """\
# ACME NB-SD9 smoke detector (fictitious), pushed by the ACME IoT cloud as
#   {"imei":"865067101234563","ts":1750077045,"type":"report","fw":"1.2.0",
#    "data":{"smoke":1,"bat":87,"rsrp":-95,"tamper":0}}
name = "acme_nb_smoke"
description = "ACME NB-SD9 smoke detector via the ACME IoT cloud"
key_prefix = "imei"            # the device key is imei:<IMEI>, as for CTWing devices
device_field = "imei"
time_field = "ts"
topics = ["acme/nb/up"]        # the same cloud can also relay over MQTT
ignore = ["type", "fw"]

[push]
path = "acme-smoke"            # POST /api/push/p/acme-smoke
api_keys = ["acme-cloud"]      # ... with this integration key only; POST /api/push with it works too

[[events]]
field = "data.smoke"
equals = 1
kind = "smoke"
state = "active"
otherwise = "cleared"

[[events]]
field = "data.tamper"
equals = 1
kind = "tamper"
state = "active"
otherwise = "cleared"

[[readings]]
field = "data.bat"
metric = "battery"

[[readings]]
field = "data.rsrp"
metric = "rsrp"
"""


def report(smoke: int, **extra) -> dict:
    return {"imei": IMEI, "ts": int(time.time()), "type": "report", "fw": "1.2.0",
            "data": {"smoke": smoke, "bat": 87, "rsrp": -95, "tamper": 0, **extra}}


@pytest.fixture(scope="module")
def hub(mosquitto, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("hub-profile-push")
    profile_dir = workdir / "profiles"
    profile_dir.mkdir()
    proc = HubProcess(workdir, mqtt_port=mosquitto.port, client_id=f"hub-profiles-{uuid.uuid4().hex[:8]}",
                      extra_env={"CAREHUB_PROFILE_DIRS": json.dumps([str(profile_dir)]),
                                 "CAREHUB_PROFILE_RELOAD_S": "0.5"})
    proc.profile_dir = profile_dir
    result = proc.cli("devices", "add-site", SITE)
    assert result.returncode == 0, result.stdout + result.stderr
    proc.start()
    yield proc
    proc.stop()


def _push(hub: HubProcess, url: str, body: bytes | dict, key: str) -> httpx.Response:
    content = json.dumps(body).encode() if isinstance(body, dict) else body
    return httpx.post(f"{hub.url}{url}", content=content, timeout=10,
                      headers={"content-type": "application/json", "X-API-Key": key})


def _rejects(hub: HubProcess) -> dict[tuple[str, str], float]:
    out = {}
    for match in re.finditer(r'^carehub_ingest_rejected_total\{reason="([^"]*)",source="([^"]*)"\} (\S+)$',
                             httpx.get(f"{hub.url}/metrics", timeout=5).text, re.M):
        if not math.isnan(value := float(match.group(3))):
            out[(match.group(1), match.group(2))] = value
    return out




def _profile(hub: HubProcess, name: str) -> dict | None:
    listing = hub.api.get("/api/profiles").json()
    return next((p for p in listing["profiles"] if p["name"] == name), None)


def test_installer_adds_an_unknown_nbiot_vendor_over_http_without_code_or_restart(hub, tmp_path):
    pid = hub.proc.pid
    # 1. Write the profile file and check it, with a sample of what the vendor's cloud pushes.
    staged, sample = tmp_path / "acme_nb_smoke.toml", tmp_path / "sample.json"
    staged.write_text(PROFILE, encoding="utf-8")
    sample.write_text(json.dumps(report(1)), encoding="utf-8")
    checked = hub.cli("profiles", "check", str(staged), "--sample", str(sample))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "POST /api/push/p/acme-smoke" in checked.stdout
    assert f"event    {KEY} smoke active  ALARM" in checked.stdout, checked.stdout
    assert f"reading  {KEY} battery = 87 %" in checked.stdout

    # 2. Drop it into the running hub's profile directory (write, then rename: never a half-written file).
    (hub.profile_dir / "acme_nb_smoke.toml.part").write_text(PROFILE, encoding="utf-8")
    (hub.profile_dir / "acme_nb_smoke.toml.part").rename(hub.profile_dir / "acme_nb_smoke.toml")
    loaded = wait_for(lambda: _profile(hub, "acme_nb_smoke"), 10, "profile reloaded")
    assert loaded["source"] == str(hub.profile_dir / "acme_nb_smoke.toml")
    assert loaded["push"]["url"] == "/api/push/p/acme-smoke" and loaded["push"]["api_keys"] == ["acme-cloud"]
    assert loaded["mqtt_topics"] == ["acme/nb/up"]
    assert hub.api.get("/api/profiles").json()["reload"]["last_error"] is None

    # 3. The vendor's cloud pushes with an integration key named as the profile says.
    cloud_key = hub.create_api_key("acme-cloud", role="integration")
    response = _push(hub, "/api/push/p/acme-smoke", report(1), cloud_key)
    assert response.status_code == 200, response.text
    assert response.json() == {"accepted": 4, "profile": "acme_nb_smoke"}  # 2 readings, 2 events
    # Recorded before the 200: no waiting.
    events = hub.api.get("/api/events", params={"device_key": KEY, "kind": "smoke"}).json()
    assert len(events) == 1 and events[0]["is_alarm"] and events[0]["state"] == "active", events
    assert events[0]["source"] == "acme_nb_smoke" and events[0]["device_id"] is None

    # 4. The unknown detector waits, pending, to be bound.
    pending = wait_for(lambda: next((p for p in hub.api.get("/api/devices/pending").json()
                                      if p["device_key"] == KEY), None), 10, "device pending")
    assert pending["source"] == "acme_nb_smoke" and pending["first_topic"] == "http/p/acme-smoke"

    # 5. Bind it, as the installer does on site.
    bound = hub.cli("devices", "bind", KEY, "--kind", "smoke_detector", "--site", SITE, "--room", "301",
                    "--name", "Kitchen smoke 301")
    assert bound.returncode == 0, bound.stdout + bound.stderr
    device = wait_for(lambda: next((d for d in hub.api.get("/api/devices/state").json()
                                     if d["device_key"] == KEY), None), 15, "bound device known to the hub")

    # 6. The detector clears, then alarms again: an alert for the bound device, at its site and room.
    assert _push(hub, "/api/push", report(0), cloud_key).status_code == 200  # the key alone picks the profile
    assert _push(hub, "/api/push/p/acme-smoke", report(1), cloud_key).status_code == 200
    alert = wait_for(lambda: next((a for a in hub.api.get("/api/alerts").json()
                                    if a["device_key"] == KEY and a["site_id"] == device["site_id"]), None),
                      10, "alert for the bound detector")
    assert alert["site_id"] is not None and alert["room_id"] == device["room_id"], alert
    assert hub.proc.pid == pid and hub.proc.poll() is None, "no restart"


def test_the_new_profile_also_decodes_its_mqtt_topic(hub):
    wait_for(lambda: _profile(hub, "acme_nb_smoke"), 10, "profile loaded")
    imei = "865067101234571"
    body = {**report(1), "imei": imei}
    subprocess.run(["mosquitto_pub", "-p", str(hub.env["CAREHUB_MQTT_URL"].rsplit(":", 1)[1]), "-q", "1",
                    "-t", "acme/nb/up", "-m", json.dumps(body)], check=True, timeout=10)
    wait_for(lambda: hub.api.get("/api/events", params={"device_key": f"imei:{imei}", "kind": "smoke"}).json(),
              10, "MQTT alarm on the new profile's topic")


def test_push_errors_are_answered_with_a_reason_and_counted(hub):
    wait_for(lambda: _profile(hub, "acme_nb_smoke"), 10, "profile loaded")
    cloud_key = hub.create_api_key("acme-cloud", role="integration")
    other_key = hub.create_api_key("other-platform", role="integration")
    before = _rejects(hub)
    unknown = _push(hub, "/api/push/p/no-such-vendor", report(1), cloud_key)
    assert unknown.status_code == 404 and "no-such-vendor" in unknown.json()["detail"]
    bad = _push(hub, "/api/push/p/acme-smoke", b"{not json", cloud_key)
    assert bad.status_code == 400 and bad.json()["detail"].startswith("rejected: not_json"), bad.text
    no_device = _push(hub, "/api/push/p/acme-smoke", {"data": {"smoke": 1}}, cloud_key)
    assert no_device.status_code == 400 and "bad_device_id" in no_device.json()["detail"]
    unbound = _push(hub, "/api/push", report(1), other_key)
    assert unbound.status_code == 404 and "other-platform" in unbound.json()["detail"]
    # The path accepts only the keys its profile names; no key at all is 401 as everywhere.
    assert _push(hub, "/api/push/p/acme-smoke", report(1), other_key).status_code == 403
    assert _push(hub, "/api/push/p/acme-smoke", report(1), "not-a-key").status_code == 401
    after = _rejects(hub)
    for reason, source in [("unknown_push_path", "http"), ("not_json", "acme_nb_smoke"),
                           ("bad_device_id", "acme_nb_smoke"), ("unbound_push_key", "http")]:
        assert after.get((reason, source), 0) == before.get((reason, source), 0) + 1, (reason, after)


def test_a_broken_profile_file_keeps_the_active_profiles(hub):
    wait_for(lambda: _profile(hub, "acme_nb_smoke"), 10, "profile loaded")
    broken = hub.profile_dir / "zz_broken.toml"
    broken.write_text('name = "zz"\ntopics = ["zz/{device}"]\n[[events]]\nfield = "a"\nkind = "smoek"\n'
                      'equals = 1\n', encoding="utf-8")
    try:
        error = wait_for(lambda: hub.api.get("/api/profiles").json()["reload"]["last_error"], 10, "reload error")
        assert "zz_broken.toml:5" in error and "smoek" in error, error
        assert _profile(hub, "acme_nb_smoke") is not None and _profile(hub, "zz") is None
        metrics = httpx.get(f"{hub.url}/metrics", timeout=5).text
        assert re.search(r'^carehub_profile_reloads_total\{result="error"\} [1-9]', metrics, re.M)
        cloud_key = hub.create_api_key("acme-cloud", role="integration")
        assert _push(hub, "/api/push/p/acme-smoke", report(0), cloud_key).status_code == 200
    finally:
        broken.unlink()
    wait_for(lambda: hub.api.get("/api/profiles").json()["reload"]["current"] == "ok", 10, "reloaded again")
