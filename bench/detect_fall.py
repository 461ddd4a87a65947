"""Benchmark: 5,000 wristbands at 50 Hz, 1-second batches, through FallDetector.update_many.

    .venv/bin/python bench/detect_fall.py [--devices 5000] [--seconds 20]

Prints CPU seconds per simulated second for the detector next to a baseline measured in the same
run on the same batches (computing |a| of every sample, the least any detector must do), and the
state bytes per device. Timestamps are irregular (±40 % jitter); 1 % of devices fall.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from hub.detect.fall import FallDetector, FallParams


def make_batches(devices: int, seconds: int, rate_hz: float, seed: int = 7) -> list[list[tuple]]:
    """Return per simulated second a list of (device_key, t, xyz) batches."""
    rng = np.random.default_rng(seed)
    t0 = 1_700_000_000.0
    n = int(rate_hz)
    falls = set(rng.choice(devices, devices // 100, replace=False).tolist())
    out = []
    for sec in range(seconds):
        batch = []
        jitter = rng.uniform(-0.4, 0.4, (devices, n)) / rate_hz
        base = t0 + sec + np.arange(n) / rate_hz
        noise = rng.normal(0, 0.05, (devices, n, 3)).astype(np.float32)
        for d in range(devices):
            xyz = noise[d] + np.float32([0.0, 0.0, 1.0])
            if d in falls and sec == seconds // 2:
                xyz[n // 2] = [0.5, 0.5, 4.5]
                xyz[n // 2 + 1:] = [1.0, 0.0, 0.0]
            elif d in falls and sec > seconds // 2:
                xyz[:] = [1.0, 0.0, 0.0]
            batch.append((f"wb-{d:05d}", np.sort(base + jitter[d]), xyz))
        out.append(batch)
    return out


def main() -> None:
    """Run the benchmark and print the figures."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--devices", type=int, default=5000)
    ap.add_argument("--seconds", type=int, default=20)
    ap.add_argument("--rate", type=float, default=50.0)
    args = ap.parse_args()
    batches = make_batches(args.devices, args.seconds, args.rate)

    c = time.process_time()
    for batch in batches:
        np.linalg.norm(np.concatenate([xyz for _, _, xyz in batch]), axis=1)
    baseline = (time.process_time() - c) / args.seconds

    det = FallDetector(args.devices, FallParams.load())
    fired = 0
    c = time.process_time()
    for batch in batches:
        fired += len(det.update_many(batch))
    detect = (time.process_time() - c) / args.seconds

    print(f"devices {args.devices} x {args.rate:.0f} Hz, {args.seconds} s simulated, 1-s batches")
    print(f"baseline |a| only : {baseline * 1000:8.1f} ms CPU per simulated second")
    print(f"FallDetector      : {detect * 1000:8.1f} ms CPU per simulated second "
          f"({detect / baseline:.1f}x baseline, budget 1000 ms incl. decode)")
    print(f"detections {fired} (devices made to fall: {args.devices // 100})")
    print(f"state bytes per device: {det.state_bytes_per_device()} (limit 8192)")


if __name__ == "__main__":
    main()
