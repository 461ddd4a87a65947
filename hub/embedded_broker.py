"""A broker for `carehub demo`: a local Mosquitto when installed, otherwise amqtt in-process."""

from __future__ import annotations

import asyncio
import logging
import os
import pwd
import shutil
import subprocess
import threading
from pathlib import Path

from hub.ports import free_port, wait_for_port

log = logging.getLogger(__name__)


def run_as() -> str:
    """Return the user Mosquitto should run as: ours. Started as root it would drop to `mosquitto`, which
    cannot write its persistence file in our directory, and a restart would then lose every session."""
    return pwd.getpwuid(os.getuid()).pw_name


class EmbeddedBroker:
    """Starts and stops the demo's MQTT broker on a free loopback port."""

    def __init__(self, data_dir: Path, prefer: str = "auto") -> None:
        self.data_dir = data_dir
        self.prefer = prefer
        self.port = free_port()
        self.kind = ""
        self._proc: subprocess.Popen | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._broker = None

    @property
    def url(self) -> str:
        """Return the broker's mqtt:// URL."""
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start Mosquitto if it is installed (or as `prefer` says), else amqtt."""
        mosquitto = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists()
                                                  else None)
        if self.prefer == "mosquitto" and not mosquitto:
            raise RuntimeError("mosquitto is not installed")
        if mosquitto and self.prefer != "amqtt":
            self._start_mosquitto(mosquitto)
        else:
            self._start_amqtt()
        wait_for_port(self.port, timeout=15.0)
        log.info("embedded broker (%s) on %s", self.kind, self.url)

    def _start_mosquitto(self, binary: str) -> None:
        workdir = self.data_dir / "mosquitto"
        workdir.mkdir(parents=True, exist_ok=True)
        conf = workdir / "mosquitto.conf"
        conf.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
            f"persistence_location {workdir}/\nmax_queued_messages 100000\nlog_dest none\n"
            f"set_tcp_nodelay true\nuser {run_as()}\n"
        )
        self._proc = subprocess.Popen([binary, "-c", str(conf)], stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL)
        self.kind = "mosquitto"

    def _start_amqtt(self) -> None:
        from amqtt.broker import Broker

        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{self.port}"}},
            "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
        }
        started = threading.Event()

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self._loop)
            self._broker = Broker(config, loop=self._loop)
            self._loop.run_until_complete(self._broker.start())
            started.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name="carehub-amqtt", daemon=True)
        self._thread.start()
        started.wait(15)
        self.kind = "amqtt"

    def stop(self) -> None:
        """Stop the broker."""
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait(10)
        if self._loop is not None and self._broker is not None:
            future = asyncio.run_coroutine_threadsafe(self._broker.shutdown(), self._loop)
            try:
                future.result(10)
            finally:
                self._loop.call_soon_threadsafe(self._loop.stop)
