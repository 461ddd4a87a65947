"""A real hub process (`python -m hub serve`) for end-to-end tests that must be able to SIGKILL it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.servers import free_port


class HubProcess:
    """Runs `carehub serve` against given servers, with its own data directory."""

    def __init__(self, workdir: Path, *, mqtt_port: int, client_id: str, extra_env: dict | None = None) -> None:
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.http_port = free_port()
        self.env = {
            **os.environ,
            "CAREHUB_CONFIG": str(workdir / "none.toml"),
            "CAREHUB_DATA_DIR": str(workdir),
            "CAREHUB_MQTT_URL": f"mqtt://127.0.0.1:{mqtt_port}",
            "CAREHUB_MQTT_CLIENT_ID": client_id,
            "CAREHUB_HTTP_PORT": str(self.http_port),
            "CAREHUB_INFLUX_URL": "",
            **(extra_env or {}),
        }
        self.proc: subprocess.Popen | None = None
        self._api: httpx.Client | None = None
        self._admin_key: str | None = None

    @property
    def url(self) -> str:
        """Return the hub's HTTP base URL."""
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def db_path(self) -> Path:
        """Return the SQLite file of this hub."""
        return self.workdir / "carehub.db"

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        """Run a `carehub` subcommand with this hub's settings."""
        return subprocess.run([sys.executable, "-m", "hub", *args], env=self.env, capture_output=True,
                              text=True, timeout=120)

    def create_api_key(self, name: str, role: str = "admin") -> str:
        """Create an API key with `carehub apikeys create` and return it."""
        result = self.cli("apikeys", "create", name, "--role", role)
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout.strip().splitlines()[-1]

    def add_user(self, username: str, password: str, role: str, *extra: str) -> None:
        """Create a user with `carehub users add` (extra: --site N, --resident N ...)."""
        result = subprocess.run([sys.executable, "-m", "hub", "users", "add", username, "--role", role,
                                 "--password-env", "CAREHUB_TEST_PASSWORD", *extra],
                                env={**self.env, "CAREHUB_TEST_PASSWORD": password}, capture_output=True,
                                text=True, timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr

    @property
    def api(self) -> httpx.Client:
        """Return an HTTP client for this hub signed in with an admin API key."""
        if self._api is None:
            self._admin_key = self._admin_key or self.create_api_key("tests-admin")
            self._api = httpx.Client(base_url=self.url, headers={"X-API-Key": self._admin_key}, timeout=10)
        return self._api

    def import_devices(self, csv_text: str) -> None:
        """Register devices from CSV text with `carehub devices import`; fail the test on any bad row."""
        path = self.workdir / "devices.csv"
        path.write_text(csv_text, encoding="utf-8")
        result = self.cli("devices", "import", str(path))
        assert result.returncode == 0, result.stdout + result.stderr

    def start(self, timeout: float = 30.0, ready=lambda health: health.get("mqtt_connected")) -> None:
        """Start the hub and wait until its API answers and `ready(/healthz body)` (MQTT connected)."""
        # The admin key is made before the hub runs, so no test's timing includes a CLI start-up.
        self._admin_key = self._admin_key or self.create_api_key("tests-admin")
        log = open(self.workdir / "hub.log", "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "hub", "serve"], env=self.env, stdout=log,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"hub exited with {self.proc.returncode}; see {self.workdir / 'hub.log'}")
            try:
                if ready(httpx.get(f"{self.url}/healthz", timeout=1).json()):
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"hub not ready; see {self.workdir / 'hub.log'}")

    def kill(self) -> None:
        """SIGKILL the hub: no clean shutdown, no flush."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        """Stop the hub cleanly (SIGTERM)."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()


def wait_for(predicate, timeout: float, what: str, interval: float = 0.05):
    """Return the first truthy value of `predicate()`, polling; fail the test naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not true after {timeout} s")
        time.sleep(interval)
