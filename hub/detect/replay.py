"""Replay accelerometer CSV files through the live fall detector, one fresh slot per file.

Contract of `carehub replay accel FILE.csv [FILE.csv ...]` (the lead wires it in hub/cli.py as
`def accel(files: list[str] = typer.Argument(...)) -> None: raise typer.Exit(replay_accel(files))`):
each CSV has the header `t,ax,ay,az` (seconds, g); it is cut into 1-second chunks by its own
timestamps, as a wristband would send them, and fed to `FallDetector.update_many`; at the end of the
file the pending candidate is decided with the data available (`FallDetector.flush`), exactly as
the hub does when a wristband stops sending. Stdout gets one JSON object per detection:
{"file": <path as given>, "t": <s from file start>, "type": "fall"|"fall_suspected", "confidence"}.
Errors go to stderr; the exit code is 1 if any file failed, the other files are still replayed.

Also runnable without the hub CLI: `python -m hub.detect.replay accel FILE...`.
"""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Sequence
from typing import TextIO

import numpy as np

from hub.detect.fall import Candidate, FallDetection, FallDetector, FallParams

HEADER = "t,ax,ay,az"
CHUNK_S = 1.0
GROUP = 512  # files replayed side by side, each in its own slot


class ReplayError(ValueError):
    """A file that cannot be replayed (missing, bad header, unparseable rows)."""


def read_accel_csv(path: str) -> tuple[np.ndarray, np.ndarray]:
    """Return (t, xyz) of an accelerometer CSV with header t,ax,ay,az; rows with NaN are dropped."""
    try:
        with open(path, encoding="utf-8") as fh:
            header = fh.readline().strip().replace(" ", "")
            if header != HEADER:
                raise ReplayError(f"{path}: header must be '{HEADER}', got '{header[:40]}'")
            body = fh.read()
            if not body.strip():
                return np.zeros(0), np.zeros((0, 3))
            try:
                data = np.loadtxt(io.StringIO(body), delimiter=",", dtype=np.float64, ndmin=2)
            except ValueError as exc:
                raise ReplayError(f"{path}: unparseable row: {exc}") from exc
    except OSError as exc:
        raise ReplayError(f"{path}: {exc.strerror or exc}") from exc
    if data.shape[1] != 4:
        raise ReplayError(f"{path}: expected 4 columns, got {data.shape[1]}")
    data = data[np.isfinite(data).all(axis=1)]
    return data[:, 0], data[:, 1:4]


def chunks(t: np.ndarray, xyz: np.ndarray, chunk_s: float = CHUNK_S) -> list[tuple[np.ndarray, np.ndarray]]:
    """Cut a recording into the non-empty `chunk_s` blocks a wristband would send."""
    if len(t) == 0:
        return []
    block = np.floor((t - t[0]) / chunk_s).astype(np.int64)
    cuts = np.flatnonzero(np.diff(block)) + 1
    return list(zip(np.split(t, cuts), np.split(xyz, cuts), strict=True))


def run_streams(streams: Sequence[tuple[np.ndarray, np.ndarray]], params: FallParams | None = None,
                keep_candidates: bool = False, group: int = GROUP,
                ) -> tuple[list[list[FallDetection]], list[Candidate]]:
    """Replay recordings side by side, each in a fresh slot; return detections per recording."""
    params = params if params is not None else FallParams.load()
    found: list[list[FallDetection]] = [[] for _ in streams]
    candidates: list[Candidate] = []
    for g0 in range(0, len(streams), group):
        ids = range(g0, min(g0 + group, len(streams)))
        det = FallDetector(len(ids), params, clock=lambda: 0.0, keep_candidates=keep_candidates)
        blocks = {i: chunks(*streams[i]) for i in ids}
        for j in range(max((len(b) for b in blocks.values()), default=0)):
            batch = [(i, *b[j]) for i, b in blocks.items() if j < len(b)]
            for d in det.update_many(batch):
                found[d.device_key].append(d)
            for i, b in blocks.items():
                if j == len(b) - 1:
                    for d in det.flush(i):
                        found[d.device_key].append(d)
                    det.release(i)
        candidates += det.candidates
    return found, candidates


def replay_accel(files: list[str], out: TextIO = sys.stdout, params: FallParams | None = None) -> int:
    """Replay CSV files through the fall detector, print detections as JSON lines; return exit code."""
    status = 0
    streams: list[tuple[np.ndarray, np.ndarray]] = []
    names: list[str] = []
    for path in files:
        try:
            streams.append(read_accel_csv(path))
            names.append(path)
        except ReplayError as exc:
            print(f"error: {exc}", file=sys.stderr)
            status = 1
    found, _ = run_streams(streams, params)
    for name, (t, _xyz), dets in zip(names, streams, found, strict=True):
        for d in sorted(dets, key=lambda d: d.t):
            line = {"file": name, "t": round(d.t - float(t[0]), 3), "type": d.type,
                    "confidence": round(d.confidence, 4)}
            out.write(json.dumps(line) + "\n")
    out.flush()
    print(f"replayed {len(names)} of {len(files)} files", file=sys.stderr)
    return status


def main(argv: Sequence[str]) -> int:
    """Parse `accel FILE...` like the CLI does and replay."""
    if len(argv) < 2 or argv[0] != "accel":
        print("usage: python -m hub.detect.replay accel FILE.csv [FILE.csv ...]", file=sys.stderr)
        return 2
    return replay_accel(list(argv[1:]))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
