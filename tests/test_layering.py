"""The data path stays visible: drivers and the simulator never reach into the hub."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _imported_modules(package: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in (ROOT / package).rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
        found[str(path.relative_to(ROOT))] = names
    return found


def test_device_drivers_never_import_hub():
    offenders = {f: sorted(m for m in mods if m == "hub" or m.startswith("hub."))
                 for f, mods in _imported_modules("device_drivers").items()}
    assert {f: m for f, m in offenders.items() if m} == {}


def test_firmware_sim_talks_to_the_hub_only_over_the_wire():
    offenders = {f: sorted(m for m in mods if m == "hub" or m.startswith("hub."))
                 for f, mods in _imported_modules("firmware_sim").items()}
    assert {f: m for f, m in offenders.items() if m} == {}


def test_the_scan_sees_imports(tmp_path):
    # Guard against a scan that passes because it reads nothing.
    mods = _imported_modules("hub")
    assert any("device_drivers.model" in m for m in mods.values())
