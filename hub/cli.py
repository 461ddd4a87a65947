"""The `carehub` command."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from hub.alerts import service as alert_service
from hub.auth.cli import apikeys_app, users_app
from hub.devices import cli as devices_cli
from hub.devices.cli import app as devices_app
from hub.profiles.cli import app as profiles_app

app = typer.Typer(help="CareHub: IoT monitoring hub for smart elderly care.", no_args_is_help=True)
# A device bound from the command line takes the open alerts it raised while pending to its site.
devices_cli.bound_hooks[:] = [lambda session, device: len(alert_service.rehome_device(
    db_session=session, device_id=device.id, keys=list(device.keys), site_id=device.site_id,
    room_id=device.room_id, resident_id=device.resident_id, now=time.time()))]
app.add_typer(devices_app, name="devices", help="Device registry: import, list, pending, bind.")
app.add_typer(users_app, name="users", help="User accounts: operators, dispatchers, families, auditors.")
app.add_typer(apikeys_app, name="apikeys", help="API keys for integrations (NB-IoT pushes, scripts).")
app.add_typer(profiles_app, name="profiles", help="Declarative device profiles: check a file before installing it.")
audit_app = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")


@audit_app.command("verify")
def audit_verify() -> None:
    """Recompute the audit chain; exit 1 and name the first bad row when anything was changed."""
    from hub.audit import service as audit
    from hub.migrate import open_store

    with open_store()() as session:
        report = audit.verify(db_session=session)
    if report.ok:
        typer.echo(f"audit log intact: {report.checked} rows verified")
        return
    typer.echo(f"audit log BROKEN at row {report.bad_id}: {report.reason} ({report.checked} rows before it "
               "verified)", err=True)
    raise typer.Exit(1)


@app.command()
def demo(
    port: int = typer.Option(8000, help="HTTP port of the API and console."),
    residents: int = typer.Option(20, help="Simulated residents (about 3.6 devices each)."),
    data_dir: Path = typer.Option(Path("var/demo"), help="Where the demo keeps its database and telemetry."),
    broker: str = typer.Option("auto", help="auto (mosquitto when installed), mosquitto or amqtt."),
) -> None:
    """Run the hub with embedded defaults and a simulated care home."""
    from hub.demo import run_demo

    run_demo(http_port=port, residents=residents, data_dir=data_dir, broker_kind=broker)


@app.command()
def serve() -> None:
    """Run the hub with the configured broker, database and InfluxDB."""
    from hub.runtime import run_serve

    run_serve()


replay_app = typer.Typer(help="Run the live detectors over recorded files.", no_args_is_help=True)
app.add_typer(replay_app, name="replay")


@replay_app.command("accel")
def replay_accel(files: list[str] = typer.Argument(..., help="CSV files with header t,ax,ay,az.")) -> None:
    """Replay wrist acceleration CSVs through the streaming fall detector; one JSON line per detection."""
    from hub.detect.replay import replay_accel as run_replay

    raise typer.Exit(run_replay(files))
