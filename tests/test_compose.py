"""Compose stack and Dockerfile agree with each other (no Docker engine here); the broker config enforces sign-in."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
import yaml

from hub.config import Settings
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
    assert set(SERVICES) == {"mosquitto", "influxdb", "grafana", "postgres", "hub", "simulator",
                             "hub-1", "hub-2", "lb"}
    assert SERVICES["influxdb"]["image"].startswith("influxdb:2.7")
    assert SERVICES["simulator"]["profiles"] == ["sim"]
    # `docker compose up -d` stays one hub: only the profile services are clustered.
    assert "profiles" not in SERVICES["hub"] and "CAREHUB_CLUSTER_ENABLED" not in _env("hub")
    for name in ("hub-1", "hub-2", "lb"):
        assert SERVICES[name]["profiles"] == ["cluster"], name
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


CLUSTER_HUBS = ("hub-1", "hub-2")
HAPROXY_CFG = ROOT / "deploy/haproxy/haproxy.cfg"


def _hub_settings(service: str, monkeypatch, tmp_path) -> Settings:
    """The Settings a hub container would load from its compose environment (unset variables at default)."""
    for var in [v for v in os.environ if v.startswith("CAREHUB_")]:
        monkeypatch.delenv(var)
    monkeypatch.setenv("CAREHUB_CONFIG", str(tmp_path / "absent.toml"))
    for var, value in _env(service).items():
        monkeypatch.setenv(var, _default(value))
    return Settings()


def _haproxy_sections() -> dict[str, list[list[str]]]:
    """haproxy.cfg as {"kind name": [directive words, ...]}, comments dropped."""
    sections: dict[str, list[list[str]]] = {}
    current: list[list[str]] = []
    for raw in HAPROXY_CFG.read_text().splitlines():
        words = raw.split("#", 1)[0].split()
        if not words:
            continue
        if not raw[0].isspace():
            current = sections.setdefault(" ".join(words), [])
        else:
            current.append(words)
    return sections


def _seconds(value: str) -> float:
    number, unit = re.fullmatch(r"(\d+)(ms|s|m|h|d)?", value).groups()
    return int(number) * {"ms": 0.001, None: 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}[unit]


def _timeouts(*lines: list[list[str]]) -> dict[str, float]:
    """`timeout` directives of the given sections, later sections overriding earlier ones."""
    return {w[1]: _seconds(w[2]) for section in lines for w in section if w[0] == "timeout"}


def test_the_cluster_hubs_are_the_single_hub_clustered(monkeypatch, tmp_path):
    single = _hub_settings("hub", monkeypatch, tmp_path)
    assert not single.cluster_enabled
    hubs = {name: _hub_settings(name, monkeypatch, tmp_path) for name in CLUSTER_HUBS}
    for name, settings in hubs.items():
        service = SERVICES[name]
        assert service["build"] == SERVICES["hub"]["build"] and service["command"] == SERVICES["hub"]["command"]
        assert settings.cluster_enabled and settings.hub_id == name
        assert settings.cluster_shards == {}  # one shard "main": hot standby
        # Same PostgreSQL, broker, MQTT session prefix and telemetry as the single hub.
        for field in ("database_url", "mqtt_url", "mqtt_username", "mqtt_password", "mqtt_client_id",
                      "influx_url", "influx_token", "http_host", "http_port"):
            assert getattr(settings, field) == getattr(single, field), (name, field)
        assert settings.database_url.startswith("postgresql")  # clustering refuses SQLite
        # Only lb is published: a hub reached directly would bypass its health check.
        assert "ports" not in service, name
    assert len({s.hub_id for s in hubs.values()}) == len(CLUSTER_HUBS)
    # A token one hub signs must verify on the other, whichever hub lb picks next.
    assert len({s.auth_secret for s in hubs.values()}) == 1 and hubs["hub-1"].auth_secret
    lb_port = SERVICES["lb"]["ports"][0].split(":")[0]
    assert {s.base_url for s in hubs.values()} == {f"http://localhost:{lb_port}"}
    data = [SERVICES[name]["volumes"] for name in ("hub", *CLUSTER_HUBS)]
    assert len({volume[0].split(":")[0] for volume in data}) == len(data), "each hub needs its own data volume"


def test_cluster_hubs_report_readiness_and_do_not_migrate_at_once():
    for name in CLUSTER_HUBS:
        check = " ".join(SERVICES[name]["healthcheck"]["test"])
        assert f"127.0.0.1:{_env(name)['CAREHUB_HTTP_PORT']}/readyz" in check, name
    assert SERVICES["hub-2"]["depends_on"]["hub-1"] == {"condition": "service_healthy"}
    assert {"mosquitto", "postgres"} <= set(SERVICES["hub-1"]["depends_on"]) & set(SERVICES["hub-2"]["depends_on"])


def test_lb_round_robins_over_both_hubs_checked_on_readyz():
    lb = SERVICES["lb"]
    assert re.fullmatch(r"haproxy:2\.8(\.\d+)?", lb["image"])
    assert set(lb["depends_on"]) == set(CLUSTER_HUBS) and len(lb["ports"]) == 1
    published, container_port = lb["ports"][0].split(":")
    assert f"./{HAPROXY_CFG.relative_to(ROOT)}:/usr/local/etc/haproxy/haproxy.cfg:ro" in lb["volumes"]
    cfg = _haproxy_sections()
    (frontend,) = [lines for name, lines in cfg.items() if name.startswith("frontend ")]
    assert ["bind", f":{container_port}"] in frontend
    backends = {name.split()[1]: lines for name, lines in cfg.items() if name.startswith("backend ")}
    used = {w[1] for w in frontend if w[0] in ("default_backend", "use_backend")}
    assert used == set(backends)
    hub_port = _env("hub-1")["CAREHUB_HTTP_PORT"]
    for name in used:
        servers = {w[1]: w[2:] for w in backends[name] if w[0] == "server"}
        assert servers.keys() == set(CLUSTER_HUBS), name
        for hub, words in servers.items():
            assert words[0] == f"{hub}:{hub_port}", (name, hub)
    checked = backends[next(w[1] for w in frontend if w[0] == "default_backend")]
    assert ["balance", "roundrobin"] in checked
    assert ["http-check", "send", "meth", "GET", "uri", "/readyz"] in checked
    assert ["http-check", "expect", "status", "200"] in checked
    assert any(w[0] == "default-server" and "check" in w for w in checked)
    # Every backend is health-checked, by its own check or by tracking the checked one's servers.
    for name, lines in backends.items():
        own = ["option", "httpchk"] in lines and any(w[0] == "default-server" and "check" in w for w in lines)
        tracks = all("track" in w for w in lines if w[0] == "server")
        assert own or tracks, name


def test_lb_keeps_the_alert_feed_open_and_unbuffered():
    cfg = _haproxy_sections()
    (frontend,) = [lines for name, lines in cfg.items() if name.startswith("frontend ")]
    route = next(w for w in frontend if w[0] == "use_backend")
    assert route[2:] == ["if", "{", "path", "/api/alerts/stream", "}"], route
    stream = _timeouts(cfg["defaults"], frontend, cfg[f"backend {route[1]}"])
    # The hub writes a keep-alive every 15 s; an hour leaves room for a busy hub and a slow console.
    assert stream["server"] >= 3600 and stream["client"] >= 3600 and stream["tunnel"] >= 3600
    # Long client timeouts must not let idle or half-sent requests hold connections for as long.
    assert stream["http-request"] <= 30 and stream["http-keep-alive"] <= 30
    directives = {w[0] for lines in cfg.values() for w in lines}
    assert not directives & {"compression", "filter"}, "compression buffers the event stream"
    # A feed on a hub taken out of rotation is closed, so the console reconnects to a ready hub.
    assert any(w[0] == "default-server" and "on-marked-down" in w for w in cfg[f"backend {route[1]}"])


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
