"""Orientation-free impact features and the logistic fall score built on them.

The feature set follows the classic wrist/waist fall phases (Noury et al., "Fall detection —
principles and methods", IEEE EMBS 2007; Bourke et al., Gait & Posture 26:194, 2007): a drop in
magnitude before the impact (free fall), the impact peak, a change of the gravity direction across
the event (posture change) and low activity afterwards (lying still). Every feature uses only the
magnitude |a| or angles between gravity vectors, so the axes of the device do not matter.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

FEATURE_NAMES: tuple[str, ...] = (
    "peak_g",
    "freefall_min_g",
    "pre_max_g",
    "pre_std_g",
    "post_std_g",
    "post_dev_g",
    "post_max_g",
    "orientation_change_deg",
    "drop_velocity_ms",
    "impact_width_s",
)
# Features that need the seconds after the impact; a truncated window is scored without them.
POST_FEATURES: frozenset[str] = frozenset({"post_std_g", "post_dev_g", "post_max_g", "orientation_change_deg"})
PRE_MASK: tuple[bool, ...] = tuple(name not in POST_FEATURES for name in FEATURE_NAMES)
G = 9.80665


def impact_features(
    mag: np.ndarray,
    peak: np.ndarray,
    grav: np.ndarray,
    impact: int,
    fs: float,
    post_skip_s: float,
    post_end: int,
) -> dict[str, float]:
    """Return the features of the impact at index `impact` of the resampled window.

    `mag` is the interpolated magnitude, `peak` the per-sample maximum of the raw magnitude
    (so short spikes survive resampling), `grav` the low-passed xyz; the window starts at the
    first index available and `post_end` is the last index the decision may look at.
    A feature whose window holds no sample is NaN; the score treats NaN as "no evidence".
    """
    n = len(mag)
    second = int(round(fs))
    post_lo = min(impact + int(round(post_skip_s * fs)), post_end + 1)
    post = mag[post_lo:post_end + 1]
    post_peak = peak[impact + int(round(0.5 * fs)):post_end + 1]
    freefall = mag[max(impact - second, 0):max(impact - 1, 0)]
    pre = peak[max(impact - 3 * second, 0):max(impact - second // 2, 0)]
    pre_mag = mag[max(impact - 3 * second, 0):max(impact - second, 0)]
    g_pre = grav[max(impact - second, 0)]
    g_post = grav[min(post_end, n - 1)]
    # Bourke et al. 2008: integrating |a| - 1 g over the fall gives the velocity at impact.
    drop = np.cumsum(mag[max(impact - second, 0):impact] - 1.0) * (G / fs)
    half = 1.0 + 0.5 * (float(peak[impact]) - 1.0)
    near = peak[max(impact - second // 4, 0):impact + second // 4 + 1]
    return {
        "peak_g": float(peak[impact]),
        "freefall_min_g": float(freefall.min()) if len(freefall) else math.nan,
        "pre_max_g": float(pre.max()) if len(pre) else math.nan,
        "pre_std_g": float(pre_mag.std()) if len(pre_mag) >= 3 else math.nan,
        "post_std_g": float(post.std()) if len(post) >= 3 else math.nan,
        "post_dev_g": float(np.abs(post - 1.0).mean()) if len(post) >= 3 else math.nan,
        "post_max_g": float(post_peak.max()) if len(post_peak) else math.nan,
        "orientation_change_deg": _angle_deg(g_pre, g_post),
        "drop_velocity_ms": float(max(-drop.min(), 0.0)) if len(drop) else math.nan,
        "impact_width_s": float((near > half).sum()) / fs,
    }


def _angle_deg(a: np.ndarray, b: np.ndarray) -> float:
    na = float(np.linalg.norm(a))
    nb = float(np.linalg.norm(b))
    if na < 1e-6 or nb < 1e-6:
        return math.nan
    cos = float(np.dot(a, b)) / (na * nb)
    return math.degrees(math.acos(max(-1.0, min(1.0, cos))))


def model_inputs(features: Mapping[str, float]) -> np.ndarray:
    """Return the transformed feature vector the logistic model reads (logs tame heavy tails)."""
    f = features
    return np.array(
        [
            math.log(f["peak_g"]),
            f["freefall_min_g"],
            math.log(f["pre_max_g"]) if not math.isnan(f["pre_max_g"]) else math.nan,
            math.log(f["pre_std_g"] + 0.02),
            math.log(f["post_std_g"] + 0.02),
            math.log(f["post_dev_g"] + 0.02),
            math.log(f["post_max_g"]) if not math.isnan(f["post_max_g"]) else math.nan,
            f["orientation_change_deg"] / 90.0,
            math.log(f["drop_velocity_ms"] + 0.1),
            f["impact_width_s"],
        ],
        dtype=np.float64,
    )


def fall_score(
    features: Mapping[str, float],
    mean: Sequence[float],
    scale: Sequence[float],
    weights: Sequence[float],
    bias: float,
) -> float:
    """Return the logistic probability that the impact is a fall; a missing feature counts as average."""
    x = (model_inputs(features) - np.asarray(mean)) / np.asarray(scale)
    x = np.where(np.isnan(x), 0.0, x)
    z = float(np.dot(x, np.asarray(weights)) + bias)
    return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))
