"""Real servers for tests: Mosquitto, InfluxDB 1.x, VictoriaMetrics, PostgreSQL and socat ptys."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from hub.embedded_broker import run_as
from hub.ports import free_port, wait_for_port


def require(binary: str) -> str:
    """Return the path of a server binary; fail loudly (never skip) when the install step missed it."""
    # Debian keeps PostgreSQL's server binaries off PATH, under /usr/lib/postgresql/<major>/bin.
    path = next((str(p) for p in sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{binary}"))), None)
    path = path or shutil.which(binary)
    if not path:
        raise RuntimeError(f"{binary} is not installed: run scripts/test.sh, which installs it")
    return path


@dataclass
class Server:
    """A child server process and how to reach it."""

    proc: subprocess.Popen
    port: int
    workdir: Path
    extra: dict = field(default_factory=dict)
    argv: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        """Return the HTTP base URL (for HTTP servers)."""
        return f"http://127.0.0.1:{self.port}"

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Stop the process and wait for it."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def restart(self) -> None:
        """Start the same server again on the same port and data."""
        self.stop()
        self.proc = _spawn(self.argv, self.workdir)
        wait_for_port(self.port)


def _spawn(argv: list[str], workdir: Path) -> subprocess.Popen:
    log = open(workdir / "server.log", "ab")
    return subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=workdir)


def start_mosquitto(workdir: Path) -> Server:
    """Start Mosquitto on a free port with persistence, for QoS 1 persistent sessions."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    conf = workdir / "mosquitto.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
        f"persistence_location {workdir}/\nmax_queued_messages 1000000\nmax_inflight_messages 100\n"
        f"set_tcp_nodelay true\nuser {run_as()}\nlog_dest stderr\nlog_type error\nlog_type warning\n"
    )
    argv = [require("mosquitto"), "-c", str(conf)]
    server = Server(_spawn(argv, workdir), port, workdir, argv=argv)
    wait_for_port(port)
    return server


def start_influxdb1(workdir: Path) -> Server:
    """Start InfluxDB 1.x (Debian's influxd) with its HTTP API on a free port."""
    workdir.mkdir(parents=True, exist_ok=True)
    port, bind_port = free_port(), free_port()
    conf = workdir / "influxdb.conf"
    conf.write_text(
        f'reporting-disabled = true\nbind-address = "127.0.0.1:{bind_port}"\n'
        f'[meta]\n  dir = "{workdir}/meta"\n'
        f'[data]\n  dir = "{workdir}/data"\n  wal-dir = "{workdir}/wal"\n  query-log-enabled = false\n'
        f'[http]\n  bind-address = "127.0.0.1:{port}"\n  log-enabled = false\n  max-body-size = 0\n'
        "[monitor]\n  store-enabled = false\n"
    )
    argv = [require("influxd"), "-config", str(conf)]
    server = Server(_spawn(argv, workdir), port, workdir, argv=argv)
    wait_for_port(port, timeout=60)
    _wait_http(f"{server.url}/ping")
    return server


def start_victoriametrics(workdir: Path) -> Server:
    """Start VictoriaMetrics, which accepts the InfluxDB v2 write API (/api/v2/write)."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    argv = [
        require("victoria-metrics"),
        f"-httpListenAddr=127.0.0.1:{port}",
        f"-storageDataPath={workdir}/data",
        "-search.latencyOffset=0s",
        "-search.disableCache",
        "-loggerLevel=ERROR",
    ]
    server = Server(_spawn(argv, workdir), port, workdir, argv=argv)
    wait_for_port(port)
    _wait_http(f"{server.url}/health")
    return server


def start_postgres() -> Server:
    """Initialise and start a throw-away PostgreSQL cluster on a free port (as a non-root user)."""
    # PostgreSQL refuses to run as root and pytest's temp root is private: use a world-readable dir.
    workdir = Path(tempfile.mkdtemp(prefix="carehub-pg-"))
    workdir.chmod(0o755)
    port = free_port()
    data = workdir / "data"
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(workdir, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    subprocess.run(
        [*as_user, require("initdb"), "-D", str(data), "-U", "carehub", "--auth=trust", "-E", "UTF8"],
        check=True, capture_output=True,
    )
    argv = [*as_user, require("postgres"), "-D", str(data), "-p", str(port), "-k", str(workdir),
            "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"]
    server = Server(_spawn(argv, workdir), port, workdir, argv=argv)
    wait_for_port(port, timeout=60)
    server.extra["url"] = f"postgresql+psycopg://carehub@127.0.0.1:{port}/postgres"
    return server


@dataclass
class PtyPair:
    """Two linked pseudo-terminals made by socat: the hub opens `hub_end`, the test writes `device_end`."""

    proc: subprocess.Popen
    hub_end: str
    device_end: str

    def stop(self) -> None:
        """Stop socat, which removes both ptys."""
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(5)


def start_pty_pair(workdir: Path) -> PtyPair:
    """Create a linked pair of pseudo-terminals with socat (raw, no echo)."""
    workdir.mkdir(parents=True, exist_ok=True)
    hub_end, device_end = workdir / "ttyHUB", workdir / "ttyDEV"
    for link in (hub_end, device_end):
        link.unlink(missing_ok=True)
    proc = subprocess.Popen(
        [require("socat"), f"pty,raw,echo=0,link={hub_end}", f"pty,raw,echo=0,link={device_end}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while not (hub_end.exists() and device_end.exists()):
        if time.monotonic() > deadline:
            proc.kill()
            raise TimeoutError("socat did not create the pty pair")
        time.sleep(0.02)
    return PtyPair(proc, str(hub_end), str(device_end))


def _wait_http(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} not ready after {timeout}s")
        time.sleep(0.1)
