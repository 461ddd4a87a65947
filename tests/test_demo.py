"""`carehub demo` on its own: devices with live readings within 30 s, with either embedded broker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx
import pytest

from hub.demo import DEMO_PASSWORD
from tests.servers import free_port


def _sign_in(port: int) -> dict:
    """Sign in as the demo's duty operator; return the Authorization header."""
    response = httpx.post(f"http://127.0.0.1:{port}/api/auth/token", timeout=5,
                          data={"username": "operator", "password": DEMO_PASSWORD})
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


@pytest.mark.parametrize("broker", ["mosquitto", "amqtt"])
def test_demo_shows_devices_with_live_readings_within_30_s(tmp_path, broker):
    port = free_port()
    env = {**os.environ, "CAREHUB_CONFIG": str(tmp_path / "absent.toml")}
    log = open(tmp_path / "demo.log", "wb")
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "hub", "demo", "--port", str(port), "--data-dir", str(tmp_path / "demo"),
         "--broker", broker, "--residents", "6"],
        env=env, stdout=subprocess.PIPE, stderr=log, text=True,
    )
    try:
        live, devices, headers = [], [], None
        while time.monotonic() - started < 30:
            try:
                if headers is None:
                    headers = _sign_in(port)
                devices = httpx.get(f"http://127.0.0.1:{port}/api/devices/state", headers=headers, timeout=2).json()
                live = [d for d in devices if d.get("readings")]
                if devices and len(live) >= len(devices) // 2:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        elapsed = time.monotonic() - started
        assert len(devices) >= 20, f"{len(devices)} devices registered"
        assert len(live) >= len(devices) // 2, f"only {len(live)} devices with readings after {elapsed:.0f} s"
        print(f"\n{broker}: {len(live)} of {len(devices)} devices with readings after {elapsed:.1f} s")
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    assert "http://127.0.0.1:" in out and "CareHub demo stopped." in out
    assert proc.returncode == 0, (tmp_path / "demo.log").read_text()[-3000:]
