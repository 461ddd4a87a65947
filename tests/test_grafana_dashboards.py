"""Every query of every Grafana dashboard returns data from a real InfluxDB 1.x that the hub filled."""

from __future__ import annotations

import json
import re
import time
import uuid
from pathlib import Path

import httpx
import pytest

from firmware_sim.runner import Simulator
from tests.hub_process import HubProcess

DASHBOARDS = Path(__file__).resolve().parents[1] / "dashboards" / "grafana" / "dashboards"


def _dashboards() -> list[Path]:
    return sorted(DASHBOARDS.glob("*.json"))


def _influxql(influx_url: str, db: str, query: str) -> list[dict]:
    response = httpx.get(f"{influx_url}/query", params={"db": db, "q": query, "epoch": "ms"}, timeout=10)
    response.raise_for_status()
    (result,) = response.json()["results"]
    assert "error" not in result, f"{query}: {result['error']}"
    return result.get("series", [])


def _has_values(series: list[dict]) -> bool:
    return any(v is not None for s in series for row in s.get("values", []) for v in row[1:])


@pytest.fixture(scope="module")
def filled(mosquitto, influxdb1, tmp_path_factory):
    """A hub writing to InfluxDB 1.x while the simulator runs an ordinary day, an SOS and a dying battery."""
    workdir = tmp_path_factory.mktemp("grafana")
    db = f"carehub_{uuid.uuid4().hex[:8]}"
    proc = HubProcess(workdir, mqtt_port=mosquitto.port, client_id=f"hub-grafana-{uuid.uuid4().hex[:6]}",
                      extra_env={"CAREHUB_INFLUX_URL": influxdb1.url, "CAREHUB_INFLUX_API": "v1",
                                 "CAREHUB_INFLUX_DATABASE": db})
    sim = Simulator(f"mqtt://127.0.0.1:{mosquitto.port}", residents=4, sites=1, seed=7)
    proc.import_devices(sim.export_registry_csv(workdir / "devices.csv").read_text(encoding="utf-8"))
    proc.start()
    try:
        sim.start()
        sim.run_scenario("ordinary_day")
        sim.run_scenario("sos_press", at=1.0)
        sim.run_scenario("battery_dies", duration_s=6, report_every_s=1.0, replace_after=600)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not proc.api.get("/api/alerts").json():
            time.sleep(0.2)
        (sos,) = [a for a in proc.api.get("/api/alerts").json() if a["type"] == "sos"]
        time.sleep(1.0)
        for action, body in (("acknowledge", None), ("dispatch", {"responder": "Caregiver Zhou"}),
                             ("arrive", None), ("resolve", {"outcome": "false_alarm", "note": "pressed by mistake"})):
            assert proc.api.post(f"/api/alerts/{sos['id']}/{action}", json=body).status_code == 200
            time.sleep(0.5)
        time.sleep(12)  # a little history, then the writer's flush
    finally:
        sim.stop()
        proc.stop()
    yield influxdb1.url, db


def _variables(dashboard: dict, influx_url: str, db: str) -> dict[str, str]:
    values = {}
    for var in dashboard.get("templating", {}).get("list", []):
        series = _influxql(influx_url, db, var["query"])
        found = [row[-1] for s in series for row in s.get("values", [])]
        assert found, f"template variable {var['name']} has no values"
        values[var["name"]] = re.escape(str(found[0]))
    return values


def _expand(query: str, variables: dict[str, str]) -> str:
    query = query.replace("$timeFilter", "time > now() - 1h").replace("$__interval", "10s")
    for name, value in variables.items():
        query = query.replace(f"${name}", value)
    assert not re.search(r"\$(?!/)", query), f"unexpanded macro in {query}"  # '$/' ends a regex
    return query


def test_dashboards_exist_and_use_the_provisioned_influxql_datasource():
    names = [p.name for p in _dashboards()]
    assert names == ["alert-kpis.json", "device-health.json", "message-rates.json", "vitals.json"]
    datasource = (DASHBOARDS.parent / "provisioning" / "datasources" / "influxdb.yml").read_text()
    assert "uid: carehub-influxdb" in datasource and "type: influxdb" in datasource
    for path in _dashboards():
        dashboard = json.loads(path.read_text(encoding="utf-8"))
        for panel in dashboard["panels"]:
            assert panel["datasource"] == {"type": "influxdb", "uid": "carehub-influxdb"}, (path.name, panel["title"])
            for target in panel["targets"]:
                assert target["rawQuery"] is True and "FROM" in target["query"]


def test_every_dashboard_query_returns_data(filled):
    influx_url, db = filled
    checked, empty = 0, []
    for path in _dashboards():
        dashboard = json.loads(path.read_text(encoding="utf-8"))
        variables = _variables(dashboard, influx_url, db)
        for panel in dashboard["panels"]:
            for target in panel["targets"]:
                query = _expand(target["query"], variables)
                checked += 1
                if not _has_values(_influxql(influx_url, db, query)):
                    empty.append(f"{path.name} / {panel['title']}: {query}")
    print(f"\n{checked} dashboard queries checked against InfluxDB 1.x")
    assert not empty, "queries without data:\n" + "\n".join(empty)
    assert checked >= 16
