"""/openapi.json is the integrators' contract: every GET route answers without a server error, every route
declares its response, and every GET body validates against the schema it declares."""

from __future__ import annotations

import re

import pytest
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import TypeAdapter, ValidationError

from hub.detect.detection import DetectionType
from tests.workorders_env import close_env, make_env


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


def _api_routes(env) -> list[APIRoute]:
    # FastAPI keeps an included router as one entry holding the original router: walk into them.
    found, todo = [], list(env.client.app.routes)
    while todo:
        route = todo.pop()
        if isinstance(route, APIRoute):
            found.append(route)
        elif hasattr(route, "original_router"):
            todo += route.original_router.routes
    return found


def test_every_route_declares_its_response(env):
    # A JSON answer names its schema; files, pages, streams and 204s say what they are instead.
    untyped, routes = [], _api_routes(env)
    assert len(routes) > 100
    for route in routes:
        if route.response_model is None and route.status_code != 204 and route.response_class is JSONResponse \
                and route.include_in_schema:
            untyped.append(f"{sorted(route.methods)} {route.path}")
    assert untyped == []


def test_every_get_body_validates_against_its_declared_schema(env):
    headers = env.login("admin")
    checked, failures = 0, {}
    for route in _api_routes(env):
        if "GET" not in route.methods or route.response_model is None or route.path.endswith("/stream"):
            continue
        params = {p.alias: "z2m:sos-1" if p.alias == "device_key" else "battery"
                  for p in route.dependant.query_params if p.field_info.is_required()}
        response = env.client.get(_concrete(route.path), headers=headers, params=params)
        if response.status_code != 200 or not response.headers["content-type"].startswith("application/json"):
            continue  # 404 for an id that does not exist; 403/409 are not bodies of the schema
        checked += 1
        try:
            TypeAdapter(route.response_model).validate_python(response.json())
        except ValidationError as err:
            failures[route.path] = str(err)[:300]
    assert checked > 40 and failures == {}
