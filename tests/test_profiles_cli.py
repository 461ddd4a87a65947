"""`carehub profiles check FILE [--sample payload.json]` through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from device_drivers.profiles.builtin import EXAMPLES_DIR
from hub.cli import app
from hub.config import get_settings

PROFILE = """\
name = "acme_nb_smoke"
key_prefix = "imei"
device_field = "imei"
ignore = ["type"]

[push]
path = "acme-smoke"

[[events]]
field = "data.smoke"
equals = 1
kind = "smoke"
state = "active"
otherwise = "cleared"

[[readings]]
field = "data.bat"
metric = "battery"
"""


@pytest.fixture(autouse=True)
def installed(tmp_path, monkeypatch):
    """Settings with an (empty) installed profile directory; yield it."""
    directory = tmp_path / "installed"
    directory.mkdir()
    monkeypatch.setenv("CAREHUB_CONFIG", str(tmp_path / "absent.toml"))
    monkeypatch.setenv("CAREHUB_PROFILE_DIRS", json.dumps([str(directory)]))
    get_settings.cache_clear()
    yield directory
    get_settings.cache_clear()


def _check(*args: str):
    return CliRunner().invoke(app, ["profiles", "check", *args])


def test_a_good_file_prints_what_it_maps(tmp_path: Path) -> None:
    path = tmp_path / "nb.toml"
    path.write_text(PROFILE)
    result = _check(str(path))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == f"profile 'acme_nb_smoke' ({path})"
    assert "  device key    imei:<device>, from payload field 'imei'" in lines
    assert "  MQTT topics   (none)" in lines
    assert "  HTTP push     POST /api/push/p/acme-smoke (any integration API key)" in lines
    assert "  event         data.smoke equals 1 -> smoke active, otherwise cleared" in lines
    assert "  reading       data.bat -> battery [%]" in lines
    assert lines[-1] == "OK"


def test_the_shipped_example_checks() -> None:
    result = _check(str(EXAMPLES_DIR / "acme_wristband.toml"))
    assert result.exit_code == 0, result.output
    assert "  MQTT topics   acme/careband/+/up, acme/careband/+/lwt" in result.output


def test_a_sample_shows_the_canonical_messages(tmp_path: Path) -> None:
    path, sample = tmp_path / "nb.toml", tmp_path / "sample.json"
    path.write_text(PROFILE)
    sample.write_text(json.dumps({"imei": "865067101234563", "type": "report", "rsrp": -95,
                                  "data": {"smoke": 1, "bat": 87}}))
    result = _check(str(path), "--sample", str(sample))
    assert result.exit_code == 0, result.output
    assert f"{sample} as HTTP push -> 3 canonical message(s):" in result.output
    assert "  reading  imei:865067101234563 battery = 87 %" in result.output
    assert "  event    imei:865067101234563 smoke active  ALARM" in result.output
    assert "  unmapped imei:865067101234563 rsrp" in result.output


def test_a_sample_on_an_mqtt_topic(tmp_path: Path) -> None:
    sample = tmp_path / "up.json"
    sample.write_text(json.dumps({"hr": 70}))
    result = _check(str(EXAMPLES_DIR / "acme_wristband.toml"), "--sample", str(sample),
                    "--topic", "acme/careband/CB3-1/up")
    assert result.exit_code == 0, result.output
    assert "  reading  acme:CB3-1 heart_rate = 70 bpm" in result.output


def test_a_bad_file_exits_1_naming_the_line_and_field(tmp_path: Path) -> None:
    path = tmp_path / "nb.toml"
    path.write_text(PROFILE.replace('kind = "smoke"', 'kind = "smoek"'))
    result = _check(str(path))
    assert result.exit_code == 1
    assert f"error: {path}:12: [[events]] #1: kind 'smoek' is not an event kind" in result.output
    path.write_text(PROFILE.replace("[[readings]]\nfield", "[[readings]]\nfeild"))
    result = _check(str(path))
    assert result.exit_code == 1 and "nb.toml:17: [[readings]] #1: unknown key 'feild'" in result.output
    path.write_text("name = \n")
    result = _check(str(path))
    assert result.exit_code == 1 and "nb.toml" in result.output and "line 1" in result.output


def test_a_rejected_sample_exits_1_with_the_reason(tmp_path: Path) -> None:
    path, sample = tmp_path / "nb.toml", tmp_path / "sample.json"
    path.write_text(PROFILE)
    sample.write_text(json.dumps({"data": {"smoke": 1}}))
    result = _check(str(path), "--sample", str(sample))
    assert result.exit_code == 1
    assert "rejected as HTTP push: bad_device_id: no 'imei' in the payload" in result.output


def test_a_clash_with_an_installed_file_is_an_error(tmp_path: Path, installed: Path) -> None:
    (installed / "old.toml").write_text(PROFILE.replace('"acme_nb_smoke"', '"older"'))
    path = tmp_path / "nb.toml"
    path.write_text(PROFILE)
    result = _check(str(path))
    assert result.exit_code == 1 and "push path 'acme-smoke' already used by" in result.output
    assert str(installed / "old.toml") in result.output
    # Checking the installed copy of the same file is no clash with itself.
    (installed / "old.toml").unlink()
    (installed / "nb.toml").write_text(PROFILE)
    assert _check(str(installed / "nb.toml")).exit_code == 0
