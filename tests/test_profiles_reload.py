"""Profile reload without a restart: a changed directory swaps the set in; a broken file changes nothing."""

from __future__ import annotations

import re
from pathlib import Path

from prometheus_client import generate_latest

from device_drivers.profiles.builtin import build_profiles
from device_drivers.profiles.declarative import DeclarativeProfile
from device_drivers.profiles.ha_discovery import HaDiscoveryProfile
from device_drivers.registry import ProfileSet
from hub.profiles.reload import ProfileReloader

GOOD = 'name = "vendor_a"\ntopics = ["va/{device}"]\n[[readings]]\nfield = "b"\nmetric = "battery"\n'
PUSHED = ('name = "vendor_b"\ndevice_field = "id"\n[push]\npath = "vb"\n'
          '[[events]]\nfield = "smoke"\nequals = 1\nkind = "smoke"\nstate = "active"\n')
BROKEN = 'name = "vendor_c"\ntopics = ["vc/{device}"]\n[[events]]\nfield = "s"\nkind = "smoke"\n'


def _errors() -> float:
    found = re.search(r'^carehub_profile_reloads_total\{result="error"\} (\S+)$', generate_latest().decode(), re.M)
    return float(found.group(1)) if found else 0.0


def _reloader(tmp_path: Path, swaps: list[ProfileSet]) -> ProfileReloader:
    profiles = build_profiles({}, [tmp_path])
    return ProfileReloader(profiles=profiles, profile_dirs=[tmp_path], on_swap=swaps.append, interval_s=0)


def _names(profiles: ProfileSet) -> list[str]:
    return [p.name for p in profiles.profiles if isinstance(p, DeclarativeProfile)]


def test_a_new_file_is_swapped_in_with_its_topics_and_push_path(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text(GOOD)
    swaps: list[ProfileSet] = []
    reloader = _reloader(tmp_path, swaps)
    assert reloader.poll() is None and swaps == []  # nothing changed since start-up
    (tmp_path / "b.toml").write_text(PUSHED)
    assert reloader.poll().ok
    (new,) = swaps
    assert reloader.profiles is new and _names(new) == ["vendor_a", "vendor_b"]
    assert new.push_paths["vb"].name == "vendor_b" and "va/+" in new.subscriptions
    assert reloader.poll() is None  # seen
    (tmp_path / "a.toml").unlink()
    assert reloader.poll().ok and _names(swaps[-1]) == ["vendor_b"]
    assert swaps[-1].route("va/x") is None


def test_a_broken_file_keeps_the_previous_profiles_and_is_counted_once(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text(GOOD)
    swaps: list[ProfileSet] = []
    reloader = _reloader(tmp_path, swaps)
    active, errors = reloader.profiles, _errors()
    (tmp_path / "b.toml").write_text(PUSHED)
    (tmp_path / "c.toml").write_text(BROKEN)
    result = reloader.poll()
    assert not result.ok and "c.toml:3: [[events]] #1: event on 's' needs exactly one of" in result.error
    assert swaps == [] and reloader.profiles is active  # b.toml is not half-applied either
    assert _names(reloader.profiles) == ["vendor_a"] and reloader.profiles.push_paths == {}
    status = reloader.status()
    assert status["current"] == "error" and status["failures"] == 1 and "c.toml" in status["last_error"]
    assert _errors() == errors + 1
    assert reloader.poll() is None and _errors() == errors + 1  # the same broken files: not retried per poll
    (tmp_path / "c.toml").write_text(BROKEN + "equals = 1\n")
    assert reloader.poll().ok
    assert _names(reloader.profiles) == ["vendor_a", "vendor_b", "vendor_c"]
    status = reloader.status()
    assert status["current"] == "ok" and "c.toml" in status["last_error"]  # the last error stays visible


def test_a_name_clash_with_a_built_in_profile_is_refused(tmp_path: Path) -> None:
    swaps: list[ProfileSet] = []
    reloader = _reloader(tmp_path, swaps)
    (tmp_path / "z.toml").write_text('name = "zigbee2mqtt"\ntopics = ["zz/{device}"]\n')
    result = reloader.reload()
    assert not result.ok and "already used by a built-in profile" in result.error and swaps == []


def test_built_in_profiles_keep_what_they_learnt(tmp_path: Path) -> None:
    swaps: list[ProfileSet] = []
    reloader = _reloader(tmp_path, swaps)
    before = reloader.profiles
    ha = next(p for p in before.profiles if isinstance(p, HaDiscoveryProfile))
    config = b'{"state_topic": "va/kitchen", "device_class": "smoke", "value_template": "{{ value_json.s }}", ' \
             b'"unique_id": "k1", "payload_on": true, "payload_off": false}'
    ha.decode("homeassistant/binary_sensor/k1/config", config, received_at=0)
    assert "va/kitchen" in before.subscriptions
    (tmp_path / "a.toml").write_text(GOOD)
    assert reloader.reload().ok
    after = swaps[-1]
    assert ha in after.profiles and after.profiles[-1] is ha  # same instance, still routed last
    # The learnt topic is now claimed by the new file: Home Assistant no longer lists it.
    assert after.route("va/kitchen").name == "vendor_a" and "va/kitchen" not in after.subscriptions
