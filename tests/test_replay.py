"""`replay accel` contract: JSON lines on stdout only, errors on stderr, other files still replayed."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from hub.detect.replay import replay_accel
from tests.test_fall_detector import IMPACT_S, clapping_stream, fall_stream

ROOT = Path(__file__).resolve().parents[1]


def write_csv(path: Path, t: np.ndarray, xyz: np.ndarray, header: str = "t,ax,ay,az") -> None:
    """Write a recording in the shared CSV format."""
    rows = "\n".join(f"{a:.4f},{x:.4f},{y:.4f},{z:.4f}" for a, (x, y, z) in zip(t, xyz, strict=True))
    path.write_text(f"{header}\n{rows}\n")


def test_replay_subprocess_contract(tmp_path: Path) -> None:
    write_csv(tmp_path / "fall.csv", *fall_stream(rate_hz=32, jitter=0.4))
    write_csv(tmp_path / "clap.csv", *clapping_stream())
    write_csv(tmp_path / "bad.csv", *fall_stream(), header="time,x,y,z")
    files = [str(tmp_path / "fall.csv"), str(tmp_path / "missing.csv"), str(tmp_path / "bad.csv"),
             "clap.csv", "./fall.csv"]
    proc = subprocess.run([sys.executable, "-m", "hub.detect.replay", "accel", *files], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert proc.returncode != 0
    assert "missing.csv" in proc.stderr and "bad.csv" in proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 2
    objs = [json.loads(line) for line in lines]
    for obj in objs:
        assert set(obj) == {"file", "t", "type", "confidence"}
        assert obj["type"] in ("fall", "fall_suspected")
        assert 0.0 <= obj["confidence"] <= 1.0
        assert abs(obj["t"] - IMPACT_S) <= 0.1
    assert [o["file"] for o in objs] == [files[0], "./fall.csv"]


def test_replay_in_process_all_good_exit_zero(tmp_path: Path) -> None:
    write_csv(tmp_path / "a.csv", *fall_stream(rate_hz=25))
    write_csv(tmp_path / "empty.csv", np.zeros(0), np.zeros((0, 3)))
    out = io.StringIO()
    assert replay_accel([str(tmp_path / "a.csv"), str(tmp_path / "empty.csv")], out) == 0
    (obj,) = [json.loads(line) for line in out.getvalue().splitlines()]
    assert obj["file"] == str(tmp_path / "a.csv") and obj["type"] == "fall"


def test_replay_usage_error_goes_to_stderr() -> None:
    proc = subprocess.run([sys.executable, "-m", "hub.detect.replay"], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 2 and proc.stdout == "" and "usage" in proc.stderr
