"""The console benchmark runs end to end at tiny scale and prints sane figures."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("playwright.sync_api", reason="pip install -e '.[test]' installs playwright")

ROOT = Path(__file__).resolve().parents[1]


def _cells(out: str, row: str) -> tuple[list[float], list[float]]:
    """Return the numbers in the baseline and the full column of a table row."""
    line = next(x for x in out.splitlines() if x.startswith(row))
    *_label, base, full, _ratio = re.split(r"\s{2,}", line)
    return [float(n) for n in re.findall(r"\d+", base)], [float(n) for n in re.findall(r"\d+", full)]


def test_bench_console_tiny_run() -> None:
    result = subprocess.run([sys.executable, str(ROOT / "bench" / "console.py"), "--alerts", "20", "--devices", "200",
                             "--repeats", "3", "--burst", "10", "--viewports", "1440x900"],
                            capture_output=True, text=True, timeout=240, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "200 devices (21 SOS buttons, 21 rooms in 4 sites) imported from CSV" in out
    assert "1440x900:" in out and "1 open" in out and "20 open" in out

    load_base, load_full = _cells(out, "page load: navigation -> all rows + counter")
    assert all(0 < ms < 10_000 for ms in load_base + load_full)
    for row in ("SOS publish -> row shown", "API acknowledge -> row state shown", "API resolve -> row gone"):
        base, full = _cells(out, row)
        assert len(base) == len(full) == 3  # p50 / p95 / max
        assert all(0 < ms < 5_000 for ms in base + full), row
        assert base[0] <= base[1] <= base[2] and full[0] <= full[1] <= full[2], row
    _, elements = _cells(out, "elements in the duty-room page")
    assert elements[0] > 20 * 8  # every open alert is a row of several elements
    for what in ("duty-room burst", "floor burst"):
        base, full = _cells(out, f"{what}: first publish -> all changes shown")
        assert 0 < base[0] < 30_000 and 0 < full[0] < 30_000, what
    floor_base, floor_full = _cells(out, "floor page: navigation -> every device listed")
    assert all(0 < ms < 10_000 for ms in floor_base + floor_full)
    assert re.search(r"^targets \(load <= 2000 ms, update <= 1000 ms, long task <= 200 ms\): (met|missed: )", out,
                     re.MULTILINE)
