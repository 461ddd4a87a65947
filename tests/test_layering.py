"""The data path stays visible: drivers and the simulator never reach into the hub, and hub domains import
only downwards in the documented order (README "Layout"), with no cycle."""

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


# The hub's domain packages from the bottom up (README "Layout"): a package may import its own layer's
# neighbours and anything below, never above. Composition roots wire everything and are not layered.
LAYERS = [
    {"db", "write_turn", "config", "ports", "audit", "auth", "deps", "events", "cluster"},
    {"devices", "health", "telemetry"},
    {"ingest", "profiles", "detect"},
    {"alerts"},
    {"notifications", "duty"},
    {"escalation"},
    {"workorders"},
    {"ledgers"},
]
ROOTS = {"api", "runtime", "cli", "demo", "__main__", "schedules", "timers", "console", "migrate", "migrations", "ops",
         "embedded_broker", "pipeline", "shards"}


def _runtime_imports(tree: ast.AST) -> set[str]:
    """Return imported module names, leaving out `if TYPE_CHECKING:` blocks (annotations only)."""
    names: set[str] = set()

    def walk(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and isinstance(child.test, ast.Name) and child.test.id == "TYPE_CHECKING":
                for other in child.orelse:
                    walk(other)
                continue
            if isinstance(child, ast.Import):
                names.update(alias.name for alias in child.names)
            elif isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
                names.add(child.module)
            walk(child)

    walk(tree)
    return names


def _hub_graph() -> dict[str, dict[str, set[str]]]:
    """Return package -> imported package -> the files that import it, for packages and modules of hub/."""
    graph: dict[str, dict[str, set[str]]] = {}
    for path in (ROOT / "hub").rglob("*.py"):
        source = path.relative_to(ROOT / "hub").parts[0].removesuffix(".py")
        for module in _runtime_imports(ast.parse(path.read_text(encoding="utf-8"))):
            parts = module.split(".")
            if parts[0] == "hub" and len(parts) > 1 and parts[1] != source:
                graph.setdefault(source, {}).setdefault(parts[1], set()).add(str(path.relative_to(ROOT)))
    return graph


def test_every_hub_package_has_a_layer_or_is_a_composition_root():
    packages = {p.name.removesuffix(".py") for p in (ROOT / "hub").iterdir()
                if (p.is_dir() and (p / "__init__.py").exists()) or (p.suffix == ".py" and p.name != "__init__.py")}
    layered = set().union(*LAYERS)
    assert packages - layered - ROOTS - {"metrics"} == set(), "add new packages to LAYERS (and the README)"


def test_hub_domains_import_only_downwards():
    layer = {name: n for n, names in enumerate(LAYERS) for name in names}
    against = {f"{src} -> {dst}": sorted(files) for src, targets in _hub_graph().items() if src in layer
               for dst, files in targets.items() if dst in ROOTS or layer.get(dst, -1) > layer[src]}
    assert against == {}


def test_no_import_cycle_between_hub_domains():
    graph = {src: {dst for dst in targets if dst not in ROOTS} for src, targets in _hub_graph().items()
             if src not in ROOTS}
    seen: set[str] = set()

    def cycle_from(node: str, path: list[str]) -> list[str] | None:
        if node in path:
            return path[path.index(node):] + [node]
        if node in seen:
            return None
        seen.add(node)
        for nxt in sorted(graph.get(node, ())):
            found = cycle_from(nxt, [*path, node])
            if found:
                return found
        return None

    cycles = [c for start in sorted(graph) if (c := cycle_from(start, []))]
    assert cycles == []


def test_the_graph_scan_sees_the_known_edges():
    graph = _hub_graph()
    assert "devices" in graph["detect"] and "workorders" in graph["ledgers"]
