"""How separable are fall and ADL recordings at the wrist at all? A dominance bound per dataset.

    .venv/bin/python -m tools.fall_limits [--data /work/shared/data/falls]

Four whole-recording measures, each oriented so that a larger value looks more like a fall:
the peak |a|, the largest change of the gravity direction between any two 1-s means, minus the
lowest |a| in the second before the peak (free fall), and minus the |a| standard deviation from
1 s after the peak to the end (stillness; a recording that ends within 1 s of the peak counts as
perfectly still, the most fall-like value). An ADL recording *dominates* a fall recording when it
is at least as fall-like on all four. Any detector whose alarm is monotone in these measures must
alarm on every ADL recording that dominates a fall it catches; so a fall dominated by more than
(1 - specificity) of the ADL recordings cannot be caught at that specificity, and the share of
falls that are not is an upper bound on sensitivity for such detectors. A detector using other
information (shape, frequency content) is not bounded by it.
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # evaluate imports this module for its report
    from tools.fall_evaluate import Trial

SPECIFICITY = 0.95
WEAK_G = 2.0  # "never exceeds 2 g": below the lowest gate any impact-triggered tuning picked
STILL_DEG = 30.0  # gravity direction never moves more than this within the recording


@dataclass(slots=True, frozen=True)
class Measures:
    """Whole-recording measures, each larger = more fall-like."""

    peak_g: float
    turn_deg: float
    neg_freefall_g: float
    neg_post_std_g: float
    seconds: float

    def as_array(self) -> np.ndarray:
        """Return the four dominance measures as a vector."""
        return np.array([self.peak_g, self.turn_deg, self.neg_freefall_g, self.neg_post_std_g])


def measures(tr: Trial) -> Measures:
    """Compute the dominance measures of one recording."""
    mag = np.linalg.norm(tr.xyz, axis=1)
    t = tr.t - tr.t[0]
    k = int(np.argmax(mag))
    before = mag[(t >= t[k] - 1.0) & (t < t[k])]
    after = mag[t >= t[k] + 1.0]
    bins = np.floor(t).astype(np.int64)
    sums = np.zeros((bins[-1] + 1, 3))
    np.add.at(sums, bins, tr.xyz)
    counts = np.bincount(bins)
    g = sums[counts > 0] / counts[counts > 0, None]
    g = g[np.linalg.norm(g, axis=1) > 1e-6]
    unit = g / np.linalg.norm(g, axis=1)[:, None]
    cos = np.clip(unit @ unit.T, -1.0, 1.0) if len(unit) > 1 else np.ones((1, 1))
    return Measures(
        peak_g=float(mag[k]),
        turn_deg=float(np.degrees(np.arccos(cos.min()))),
        neg_freefall_g=-float(before.min()) if len(before) else -float(mag[k]),
        neg_post_std_g=-float(after.std()) if len(after) >= 3 else 0.0,
        seconds=float(t[-1]),
    )


def bound(trials: list[Trial], specificity: float = SPECIFICITY) -> dict:
    """Return the dominance upper bound on sensitivity and the counts of weak, motionless falls."""
    m = [measures(tr) for tr in trials]
    is_fall = np.array([tr.label == "fall" for tr in trials])
    x = np.array([v.as_array() for v in m])
    falls, adl = x[is_fall], x[~is_fall]
    budget = math.floor((1.0 - specificity) * len(adl) + 1e-9)
    dominated_by = np.array([(adl >= f).all(axis=1).sum() for f in falls])
    fall_m = [v for v, f in zip(m, is_fall, strict=True) if f]
    weak = np.array([v.peak_g < WEAK_G for v in fall_m])
    motionless = weak & np.array([v.turn_deg < STILL_DEG for v in fall_m])
    return {
        "fall_trials": int(is_fall.sum()), "adl_trials": int((~is_fall).sum()),
        "specificity": specificity, "adl_budget": int(budget),
        "falls_dominated_beyond_budget": int((dominated_by > budget).sum()),
        "sensitivity_upper_bound": float((dominated_by <= budget).mean()),
        "falls_under_2g": int(weak.sum()),
        "falls_under_2g_turn_under_30deg": int(motionless.sum()),
        "adl_over_2g": int(sum(v.peak_g >= WEAK_G for v, f in zip(m, is_fall, strict=True) if not f)),
        "falls_under_3s": int(sum(v.seconds < 3.0 for v in fall_m)),
    }


def main(argv: list[str] | None = None) -> int:
    """Print the bound for each dataset."""
    from tools.fall_evaluate import DATA, load_trials

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DATA)
    args = ap.parse_args(argv)
    for name, trials in load_trials(args.data).items():
        print(name, bound(trials))
    return 0


if __name__ == "__main__":
    sys.exit(main())
