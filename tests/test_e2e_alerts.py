"""End to end: an SOS press over real Mosquitto becomes a P1 alert on the operator's live feed (SSE)."""

from __future__ import annotations

import json
import queue
import subprocess
import threading
import time
import uuid

import httpx
import pytest

from tests.hub_process import HubProcess

DEVICES_CSV = "\n".join([
    "site,building,room,resident,kind,vendor,model,profile,ieee_address,z2m_name,imei,cid_account,cid_zone,"
    "native_id,supervision_s,name",
    "Elm Home,A,101,Sun Li,sos_button,TuYa,TS0215A_sos,zigbee2mqtt,0x00124b0024c1b001,elm/101/sos,,,,,3600,SOS 101",
    "Oak Home,A,201,Qian Wu,sos_button,TuYa,TS0215A_sos,zigbee2mqtt,0x00124b0024c1b002,oak/201/sos,,,,,3600,SOS 201",
]) + "\n"
PASSWORD = "duty-room-password"


class Feed:
    """Reads an SSE stream on a thread; `events` receives (arrival monotonic time, event name, data)."""

    def __init__(self, url: str, token: str) -> None:
        self.events: queue.Queue = queue.Queue()
        self.ready = threading.Event()
        self._client = httpx.Client(timeout=httpx.Timeout(10, read=None))
        self._thread = threading.Thread(target=self._run, args=(url, token), daemon=True)
        self._thread.start()
        assert self.ready.wait(10), "SSE stream did not open"

    def _run(self, url: str, token: str) -> None:
        event, data = "", ""
        try:
            with self._client.stream("GET", url, headers={"Authorization": f"Bearer {token}"}) as response:
                assert response.status_code == 200
                for line in response.iter_lines():
                    if line.startswith("event: "):
                        event = line[7:]
                    elif line.startswith("data: "):
                        data = line[6:]
                    elif line == "" and event:
                        self.events.put((time.monotonic(), event, json.loads(data)))
                        if event == "snapshot":
                            self.ready.set()
                        event, data = "", ""
        except httpx.HTTPError:
            pass

    def next_alert(self, timeout: float) -> tuple[float, dict] | None:
        """Return (arrival time, data) of the next `alert` event, or None after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                at, event, data = self.events.get(timeout=left)
            except queue.Empty:
                return None
            if event == "alert":
                return at, data
        return None

    def close(self) -> None:
        """Stop reading."""
        self._client.close()


@pytest.fixture(scope="module")
def hub(mosquitto, tmp_path_factory):
    proc = HubProcess(tmp_path_factory.mktemp("hub-alerts"), mqtt_port=mosquitto.port,
                      client_id=f"hub-alerts-{uuid.uuid4().hex[:6]}")
    proc.import_devices(DEVICES_CSV)
    proc.add_user("duty", PASSWORD, "duty_operator")
    proc.start()
    residents = {r["name"]: r["id"] for r in proc.api.get("/api/residents").json()}
    proc.add_user("sun_daughter", PASSWORD, "family", "--resident", str(residents["Sun Li"]))
    yield proc
    proc.stop()


def _token(hub: HubProcess, username: str) -> str:
    response = httpx.post(f"{hub.url}/api/auth/token", data={"username": username, "password": PASSWORD})
    response.raise_for_status()
    return response.json()["access_token"]


def _press(port: int, name: str) -> float:
    started = time.monotonic()
    subprocess.run(["mosquitto_pub", "-p", str(port), "-q", "1", "-t", f"zigbee2mqtt/{name}",
                    "-m", '{"action":"emergency","battery":100,"linkquality":18}'], check=True)
    return started


def test_sos_press_reaches_the_operator_feed_as_p1_within_one_second_and_repeats_join(hub, mosquitto):
    operator = Feed(f"{hub.url}/api/alerts/stream", _token(hub, "duty"))
    family = Feed(f"{hub.url}/api/alerts/stream", _token(hub, "sun_daughter"))
    try:
        pressed = _press(mosquitto.port, "oak/201/sos")  # Qian Wu: not the family user's relative
        got = operator.next_alert(5)
        assert got is not None, "no alert on the operator's feed"
        arrived, data = got
        alert = data["alert"]
        assert (data["change"], alert["type"], alert["priority"], alert["state"]) == ("raised", "sos", 1, "new")
        latency = arrived - pressed
        print(f"\nSOS press -> operator SSE: {latency * 1000:.0f} ms (includes mosquitto_pub start-up)")
        assert latency < 1.0
        assert family.next_alert(1.0) is None, "a family user saw another resident's alert"

        # Nine more presses within 30 s join the same alert: count 10.
        for _ in range(9):
            _press(mosquitto.port, "oak/201/sos")
        counts = []
        while len(counts) < 9 and (got := operator.next_alert(5)) is not None:
            if got[1]["change"] != "escalated":  # the escalation's first step also updates the alert
                counts.append((got[1]["change"], got[1]["alert"]["id"], got[1]["alert"]["count"]))
        assert [c for c, _i, _n in counts] == ["repeated"] * 9 and {i for _c, i, _n in counts} == {alert["id"]}
        assert max(n for _c, _i, n in counts) == 10
        queue_now = hub.api.get("/api/alerts").json()
        assert [(a["id"], a["count"]) for a in queue_now if a["type"] == "sos"] == [(alert["id"], 10)]

        # The relative's own alert does reach the family feed; other residents' stay 404 for them.
        _press(mosquitto.port, "elm/101/sos")
        own = family.next_alert(5)
        assert own is not None and own[1]["alert"]["resident_id"] is not None
        headers = {"Authorization": f"Bearer {_token(hub, 'sun_daughter')}"}
        assert httpx.get(f"{hub.url}/api/alerts/{alert['id']}", headers=headers).status_code == 404
        assert httpx.get(f"{hub.url}/api/alerts/{own[1]['alert']['id']}", headers=headers).status_code == 200
        assert httpx.get(f"{hub.url}/api/alerts").status_code == 401
    finally:
        operator.close()
        family.close()


def test_an_alarm_recorded_but_not_yet_detected_is_recovered_at_start(mosquitto, tmp_path):
    """SIGKILL between recording an alarm and raising its alert: the next start raises it."""
    import sqlite3

    proc = HubProcess(tmp_path / "hub-recover", mqtt_port=mosquitto.port,
                      client_id=f"hub-recover-{uuid.uuid4().hex[:6]}")
    proc.import_devices(DEVICES_CSV)
    proc.start()
    try:
        _press(mosquitto.port, "elm/101/sos")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not proc.api.get("/api/alerts").json():
            time.sleep(0.05)
        proc.kill()
        # Make the database look as if the hub died after the commit and before the detectors ran.
        with sqlite3.connect(proc.db_path) as conn:
            conn.execute("UPDATE device_events SET handled = 0 WHERE is_alarm = 1")
            for table in ("alert_occurrences", "alerts", "detections", "audit_log"):
                conn.execute(f"DELETE FROM {table}")
        proc.start()
        alerts = proc.api.get("/api/alerts").json()
        assert [(a["type"], a["count"]) for a in alerts] == [("sos", 1)]
        with sqlite3.connect(proc.db_path) as conn:
            assert conn.execute("SELECT count(*) FROM device_events WHERE handled = 0").fetchone()[0] == 0
    finally:
        proc.stop()
