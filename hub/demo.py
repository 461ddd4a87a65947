"""`carehub demo`: broker, hub, simulated care home and API on one machine with nothing but Python."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from hub.config import Settings
from hub.db import make_engine, make_session_factory, transaction
from hub.devices import csv_import
from hub.embedded_broker import EmbeddedBroker

log = logging.getLogger(__name__)


def bind_care_home(settings: Settings, csv_path: Path) -> int:
    """Register every simulated device from the simulator's registry CSV; return how many rows imported."""
    from hub import migrate

    migrate.upgrade(settings.sqlalchemy_url)
    engine = make_engine(settings.sqlalchemy_url)
    try:
        with csv_path.open(encoding="utf-8") as stream:
            rows = csv_import.read_rows(stream)
        with transaction(make_session_factory(engine)) as session:
            report = csv_import.import_devices(db_session=session, rows=rows, supervision=settings.supervision)
    finally:
        engine.dispose()
    if report.errors:
        # On a second run every row is already registered; say so once instead of per row.
        log.info("%d device rows not imported (first: row %s: %s)", len(report.errors), report.errors[0].row,
                 "; ".join(report.errors[0].reasons))
    return report.imported


DEMO_PASSWORD = "carehub-demo"
DEMO_USERS = (("operator", "duty_operator", "值班员 Demo"), ("admin", "admin", "Demo admin"))


def ensure_demo_users(settings: Settings) -> None:
    """Create the demo's sign-in accounts (password DEMO_PASSWORD) unless they exist."""
    from sqlalchemy import select

    from hub.auth import service
    from hub.auth.models import User, UserCreate
    from hub.auth.roles import Role

    engine = make_engine(settings.sqlalchemy_url)
    try:
        with transaction(make_session_factory(engine)) as session:
            for username, role, display in DEMO_USERS:
                if session.scalar(select(User.id).where(User.username == username)) is None:
                    service.create_user(db_session=session, user_in=UserCreate(
                        username=username, password=DEMO_PASSWORD, role=Role(role), display_name=display))
    finally:
        engine.dispose()


def run_demo(*, http_port: int = 8000, residents: int = 20, data_dir: Path = Path("var/demo"),
             seed: int = 1, broker_kind: str = "auto") -> None:
    """Run everything until Ctrl-C, then stop it all cleanly."""
    from firmware_sim.runner import Simulator
    from hub.api import create_app
    from hub.runtime import Hub, serve_http

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr)
    data_dir.mkdir(parents=True, exist_ok=True)
    broker = EmbeddedBroker(data_dir, prefer=broker_kind)
    broker.start()
    settings = Settings(data_dir=data_dir, mqtt_url=broker.url, mqtt_client_id="carehub-demo-hub",
                        http_port=http_port, influx_url="")
    simulator = Simulator(broker.url, residents=residents, sites=1, seed=seed)
    csv_path = simulator.export_registry_csv(data_dir / "care_home_devices.csv")
    imported = bind_care_home(settings, csv_path)
    ensure_demo_users(settings)
    hub = Hub(settings)
    hub.start()
    try:
        simulator.start()
        simulator.run_scenario("demo")
        base = f"http://{settings.http_host}:{http_port}"
        print(
            f"\nCareHub demo is running ({len(simulator.population)} simulated devices, {imported} newly bound, "
            f"broker: {broker.kind} on {broker.url}).\n"
            f"  console                 {base}/console/  (sign in as 'operator' or 'admin', password "
            f"'{DEMO_PASSWORD}')\n"
            f"  open alerts             {base}/api/alerts   live feed {base}/api/alerts/stream\n"
            f"  devices and live state  {base}/api/devices/state\n"
            f"  recent device events    {base}/api/events?alarms_only=true\n"
            f"  pending (unknown) ones  {base}/api/devices/pending\n"
            f"  API documentation       {base}/docs\n"
            f"  health / metrics        {base}/healthz  {base}/metrics\n"
            "Press Ctrl-C to stop.\n",
            flush=True,
        )
        serve_http(create_app(hub), settings.http_host, http_port)
    finally:
        simulator.stop()
        hub.stop()
        broker.stop()
        print("CareHub demo stopped.", flush=True)
