"""Compose stack and Dockerfile agree with each other (no Docker engine here); the broker config enforces sign-in."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
import yaml

from hub.ports import free_port, wait_for_port
from tests.servers import require

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
SERVICES = COMPOSE["services"]


def _env(service: str) -> dict[str, str]:
    env = SERVICES[service].get("environment", {})
    return {k: str(v) for k, v in env.items()}


def _default(value: str) -> str:
    """Resolve `${VAR:-default}` the way compose does when VAR is unset."""
    return re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", value)


def test_services_images_and_profiles():
    assert set(SERVICES) == {"mosquitto", "influxdb", "grafana", "postgres", "hub", "simulator"}
    assert SERVICES["influxdb"]["image"].startswith("influxdb:2.7")
    assert SERVICES["simulator"]["profiles"] == ["sim"]
    assert SERVICES["hub"]["build"] == "." and SERVICES["simulator"]["build"] == "."
    for name, service in SERVICES.items():
        for dep in service.get("depends_on", []):
            assert dep in SERVICES, (name, dep)
    named = set(COMPOSE["volumes"])
    for name, service in SERVICES.items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), (name, source)
            else:
                assert source in named, (name, source)


def test_the_hub_reaches_each_server_with_matching_credentials():
    hub, influx, pg = _env("hub"), _env("influxdb"), _env("postgres")
    assert _default(hub["CAREHUB_INFLUX_TOKEN"]) == _default(influx["DOCKER_INFLUXDB_INIT_ADMIN_TOKEN"])
    assert hub["CAREHUB_INFLUX_ORG"] == influx["DOCKER_INFLUXDB_INIT_ORG"]
    assert hub["CAREHUB_INFLUX_BUCKET"] == influx["DOCKER_INFLUXDB_INIT_BUCKET"]
    url = _default(hub["CAREHUB_DATABASE_URL"])
    assert url == (f"postgresql+psycopg://{pg['POSTGRES_USER']}:{_default(pg['POSTGRES_PASSWORD'])}"
                   f"@postgres:5432/{pg['POSTGRES_DB']}")
    mqtt_env = _env("mosquitto")
    assert _default(hub["CAREHUB_MQTT_USERNAME"]) == _default(mqtt_env["MQTT_USERNAME"])
    assert _default(hub["CAREHUB_MQTT_PASSWORD"]) == _default(mqtt_env["MQTT_PASSWORD"])
    assert hub["CAREHUB_MQTT_URL"] == "mqtt://mosquitto:1883" and SERVICES["hub"]["ports"] == ["8000:8000"]


def test_grafana_is_provisioned_from_the_repository():
    grafana = SERVICES["grafana"]
    mounts = {v.split(":")[1]: v.split(":")[0] for v in grafana["volumes"] if v.startswith("./")}
    assert mounts["/etc/grafana/provisioning/datasources"] == "./dashboards/grafana/provisioning/datasources"
    provider = yaml.safe_load((ROOT / "dashboards/grafana/provisioning/dashboards/carehub.yml").read_text())
    path = provider["providers"][0]["options"]["path"]
    assert mounts[path] == "./dashboards/grafana/dashboards" and list((ROOT / mounts[path][2:]).glob("*.json"))
    datasource = yaml.safe_load((ROOT / "dashboards/grafana/provisioning/datasources/influxdb.yml").read_text())
    (source,) = datasource["datasources"]
    assert source["jsonData"]["version"] == "InfluxQL"
    env = _env("grafana")
    for var in re.findall(r"\$\{(\w+)\}", yaml.safe_dump(datasource)):
        assert var in env, f"datasource uses ${{{var}}}, which grafana's environment does not set"
    assert _default(env["CAREHUB_INFLUX_DATABASE"]) == _env("influxdb")["DOCKER_INFLUXDB_INIT_BUCKET"]


def test_dockerfile_copies_what_exists_and_serves_the_api():
    lines = (ROOT / "Dockerfile").read_text().splitlines()
    base = next(line for line in lines if line.startswith("FROM "))
    assert re.match(r"FROM python:3\.(1[1-9])", base)
    for line in lines:
        if line.startswith("COPY "):
            *sources, _dest = line.split()[1:]
            for source in sources:
                assert (ROOT / source).exists(), line
    copied = " ".join(line for line in lines if line.startswith("COPY "))
    for package in ("hub", "device_drivers", "firmware_sim", "dashboards"):
        assert package in copied, f"the image lacks {package}/"
    assert "EXPOSE 8000" in lines and any("carehub" in line and "serve" in line for line in lines if "CMD" in line)


@pytest.fixture
def compose_broker():
    """Mosquitto run with the compose stack's own config file (paths moved into a temp dir)."""
    # Mosquitto drops root for its own user, which cannot enter pytest's private temp root.
    tmp_path = Path(tempfile.mkdtemp(prefix="carehub-mq-"))
    tmp_path.chmod(0o755)
    port = free_port()
    conf = (ROOT / "deploy/mosquitto/mosquitto.conf").read_text()
    conf = conf.replace("listener 1883", f"listener {port} 127.0.0.1").replace("/mosquitto/", f"{tmp_path}/")
    (tmp_path / "passwd").mkdir()
    (tmp_path / "data").mkdir(mode=0o777)
    (tmp_path / "data").chmod(0o777)
    subprocess.run([require("mosquitto_passwd"), "-b", "-c", str(tmp_path / "passwd/passwd"), "carehub", "s3cret"],
                   check=True)
    (tmp_path / "mosquitto.conf").write_text(conf)
    proc = subprocess.Popen([require("mosquitto"), "-c", str(tmp_path / "mosquitto.conf")],
                            stderr=subprocess.DEVNULL)
    wait_for_port(port)
    yield port
    proc.terminate()
    proc.wait(10)
    shutil.rmtree(tmp_path, ignore_errors=True)


def _connect(port: int, username: str | None, password: str | None) -> mqtt.ReasonCode:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    if username:
        client.username_pw_set(username, password)
    result = {}
    client.on_connect = lambda c, u, flags, rc, props: result.setdefault("rc", rc)
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        for _ in range(100):
            if "rc" in result:
                break
            time.sleep(0.05)
    finally:
        client.loop_stop()
        client.disconnect()
    return result["rc"]


def test_the_compose_broker_refuses_anonymous_and_wrong_passwords(compose_broker):
    assert _connect(compose_broker, None, None).is_failure
    assert _connect(compose_broker, "carehub", "wrong").is_failure
    assert not _connect(compose_broker, "carehub", "s3cret").is_failure
