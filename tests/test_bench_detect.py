"""The detector benchmark runs end to end on a tiny stream and finds the fall it injects."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_bench_detect_in_process_part_runs() -> None:
    result = subprocess.run([sys.executable, str(ROOT / "bench" / "detect.py"), "--devices", "60", "--seconds", "8",
                             "--no-mqtt"], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "falls detected: update_many 1/1 fallers, 0 other devices" in out
    assert "decode + detect (as wired)" in out and "state per device" in out
    assert "part 2, MQTT: skipped (--no-mqtt given)" in out
