"""/openapi.json is the integrators' contract: every GET route answers without a server error, and the
routes moved to module-level routers declare their response schema."""

from __future__ import annotations

import re

import pytest

from hub.detect.detection import DetectionType
from tests.workorders_env import close_env, make_env

# Routes served by module-level routers with shared dependencies (hub/deps.py).
TYPED = ["/api/events", "/api/detections", "/api/devices/state", "/api/readings/latest", "/api/readings/history",
         "/api/ingest/undecoded", "/healthz"]


@pytest.fixture
def env(tmp_path, monkeypatch):
    env = make_env(tmp_path, monkeypatch)
    env.detect(DetectionType.SOS, device="z2m:sos-1")
    env.detect(DetectionType.FIRE, device="z2m:smoke-1")
    yield env
    close_env(env)


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


def test_every_get_route_answers_an_admin_without_a_server_error(env):
    headers = env.login("admin")
    spec = env.client.get("/openapi.json").json()
    failures = {}
    checked = 0
    for path, operations in spec["paths"].items():
        if "get" not in operations or path.endswith("/stream"):
            continue  # the SSE feed never ends; tests/test_e2e_alerts.py reads it
        params = {p["name"]: "z2m:sos-1" if p["name"] == "device_key" else "battery"
                  for p in operations["get"].get("parameters", []) if p.get("required") and p["in"] == "query"}
        response = env.client.get(_concrete(path), headers=headers, params=params)
        checked += 1
        if response.status_code >= 500:
            failures[path] = (response.status_code, response.text[:200])
    assert checked > 50 and failures == {}


def test_moved_routes_declare_their_response_schema(env):
    paths = env.client.get("/openapi.json").json()["paths"]
    for path in TYPED:
        schema = paths[path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        assert "$ref" in schema.get("items", schema), f"{path} answers an untyped {schema}"
