"""Streaming wrist fall detector for many devices at once, state kept in NumPy arrays by slot.

Data path per batch (vectorised over every device in the batch):
  raw (t, xyz) at any rate, irregular  ->  linear interpolation onto a fixed grid (`fs`, 25 Hz)
  ->  ring buffers per slot (7.68 s, `FallParams.ring_size`): |a| interpolated, |a| peak per grid
  cell (a 1-sample spike survives resampling), gravity = 2nd-order Butterworth low-pass of xyz
  (`sosfilt` with per-slot `zi`)
  ->  candidate impact: peak above `impact_g`; the impact is the highest peak within `search_s`
  ->  `post_s` seconds later the orientation-free features (hub.detect.features) are scored by a
  logistic model; the probability is the confidence; `p_fall` / `p_suspect` pick the type. A post
  window cut short (end of data, silent wristband) is scored by a second model without post features.
  ->  optional impact-free trigger (`soft_enabled`): a fast turn of gravity, then stillness.

Only slots with a pending candidate or a new peak above the gate run Python code per slot, so
thousands of quiet wristbands cost a handful of array operations per batch. Everything is defined
per grid sample, so the decisions do not depend on how the stream is cut into batches.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
from scipy.signal import butter, sosfilt, sosfilt_zi

from hub.detect.features import FEATURE_NAMES, fall_score, impact_features

PARAMS_PATH = Path(__file__).with_name("fall_params.json")

FallType = Literal["fall", "fall_suspected"]


@dataclass(slots=True, frozen=True)
class FallParams:
    """Thresholds and model of the fall detector; the tuned set lives in fall_params.json."""

    fs: float = 25.0
    impact_g: float = 2.0
    search_s: float = 1.0
    post_s: float = 2.5
    post_skip_s: float = 1.0
    pre_s: float = 3.0
    refractory_s: float = 10.0
    max_gap_s: float = 1.0
    max_piece_s: float = 1.0  # longer batches are fed in pieces; with max_gap_s it sizes the ring (`ring_size`)
    lowpass_hz: float = 0.5
    stale_s: float = 5.0
    # Impact-free trigger (soft falls): a fast turn of the gravity direction, then stillness, no impact.
    soft_enabled: bool = False
    soft_turn_deg: float = 60.0
    soft_turn_s: float = 1.5
    soft_still_s: float = 2.0
    soft_still_g: float = 0.05
    soft_max_g: float = 2.0
    soft_confidence: float = 0.5
    p_fall: float = 0.8
    p_suspect: float = 0.5
    mean: tuple[float, ...] = (0.0,) * len(FEATURE_NAMES)
    scale: tuple[float, ...] = (1.0,) * len(FEATURE_NAMES)
    weights: tuple[float, ...] = (2.0, -1.0, 0.0, 0.0, -1.0, -1.0, 0.0, 1.0, 0.0, 0.0)
    bias: float = -3.0
    # Model and cut-offs for a post window cut short (end of file, silent wristband, gap): no post features.
    weights_partial: tuple[float, ...] = (2.0, -1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    bias_partial: float = -3.0
    p_fall_partial: float = 0.8
    p_suspect_partial: float = 0.5
    tuned_on: str = "untuned"

    @classmethod
    def load(cls, name: str = "default", path: Path | str = PARAMS_PATH) -> FallParams:
        """Load a named parameter set from the tuned-parameters file."""
        data = json.loads(Path(path).read_text())[name]
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FallParams:
        """Build parameters from a JSON-like dict, ignoring unknown keys."""
        names = {f.name for f in fields(cls)}
        clean = {k: (tuple(v) if isinstance(v, list) else v) for k, v in data.items() if k in names}
        return cls(**clean)

    def to_dict(self) -> dict[str, Any]:
        """Return the parameters as a JSON-ready dict."""
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items()}

    def thresholds(self) -> dict[str, float]:
        """Return the decision thresholds copied into every detection's evidence."""
        return {"impact_g": self.impact_g, "p_fall": self.p_fall, "p_suspect": self.p_suspect,
                "p_fall_partial": self.p_fall_partial, "p_suspect_partial": self.p_suspect_partial,
                "post_s": self.post_s, "search_s": self.search_s, "refractory_s": self.refractory_s}

    def ring_size(self) -> int:
        """Return the grid samples a slot must keep: the feature window plus the most one feed can add.

        A candidate is decided on the first feed that completes its post window, so the oldest sample
        still needed (impact - pre_s) is at most pre_s + post_s + (max_gap_s + max_piece_s) of grid
        behind the newest. Rounded up to a multiple of 16: 192 samples (7.68 s) for the shipped sets.
        """
        need = (round(self.pre_s * self.fs) + round(self.post_s * self.fs)
                + math.floor((self.max_gap_s + self.max_piece_s) * self.fs) + 2)
        soft = round((self.soft_turn_s + self.soft_still_s + 1.0) * self.fs) + math.floor(
            (self.max_gap_s + self.max_piece_s) * self.fs) + 2
        return -(-max(need, soft) // 16) * 16

    def with_(self, **changes: Any) -> FallParams:
        """Return a copy with some fields changed."""
        return replace(self, **changes)


@dataclass(slots=True, frozen=True)
class FallDetection:
    """One detected (or suspected) fall with the evidence an operator or auditor needs."""

    device_key: Hashable
    t: float  # impact time, same clock as the input timestamps
    type: FallType
    confidence: float
    features: dict[str, float]
    thresholds: dict[str, float]
    evidence: dict[str, Any]  # {"t0", "dt", "magnitude_g": [...], "peak_g": [...]} around the impact
    emitted_at: float = 0.0


@dataclass(slots=True)
class Candidate:
    """An impact the detector scored, kept for audit and tuning whatever the decision."""

    device_key: Hashable
    t: float
    features: dict[str, float]
    confidence: float
    type: FallType | None
    flushed: bool = field(default=False)


class FallDetector:
    """Streaming fall detector for up to `capacity` devices; one slot of state arrays per device."""

    def __init__(self, capacity: int, params: FallParams | None = None,
                 clock: Callable[[], float] | None = None, keep_candidates: bool = False) -> None:
        self.params = params if params is not None else FallParams.load()
        self.capacity = capacity
        self.clock = clock if clock is not None else time.time
        self.keep_candidates = keep_candidates
        self.candidates: list[Candidate] = []
        p = self.params
        self._dt = 1.0 / p.fs
        self._sos = butter(2, p.lowpass_hz, fs=p.fs, output="sos")
        self._zi_unit = sosfilt_zi(self._sos)  # (sections, 2): steady state for a unit input
        n_sec = self._sos.shape[0]
        self.ring = ring = p.ring_size()
        self._slots: dict[Hashable, int] = {}
        self._keys: list[Hashable | None] = [None] * capacity
        self._free = list(range(capacity - 1, -1, -1))
        self.mag = np.zeros((capacity, ring), np.float32)
        self.peak = np.zeros((capacity, ring), np.float32)
        self.grav = np.zeros((capacity, ring, 3), np.float32)
        self.zi = np.zeros((capacity, n_sec, 2, 3), np.float64)
        self.origin = np.zeros(capacity, np.float64)  # time of grid sample 0
        self.last_r = np.zeros(capacity, np.float64)  # last raw sample, seconds after origin
        self.last_val = np.zeros((capacity, 4), np.float64)  # last raw ax, ay, az, |a|
        self.cell_max = np.zeros(capacity, np.float32)  # raw |a| peak of the grid cell not yet closed
        self.n_seen = np.zeros(capacity, np.int64)  # grid samples produced since the stream started
        self.scan_k = np.zeros(capacity, np.int64)  # next grid sample to scan for an impact
        self.cand_k = np.full(capacity, -1, np.int64)  # first gate crossing of the pending candidate
        self.started = np.zeros(capacity, bool)
        self.last_clock = np.zeros(capacity, np.float64)
        self.soft_k = np.zeros(capacity, np.int64)  # first grid sample the impact-free trigger may fire at

    # ----------------------------------------------------------------- slots
    def slot(self, device_key: Hashable) -> int:
        """Return the slot of a device, allocating a fresh one on first sight."""
        s = self._slots.get(device_key)
        if s is None:
            if not self._free:
                raise RuntimeError(f"fall detector full ({self.capacity} devices)")
            s = self._free.pop()
            self._slots[device_key] = s
            self._keys[s] = device_key
            self._clear(s)
        return s

    def can_take(self, device_key: Hashable) -> bool:
        """Return True when the device has a slot or one is free."""
        return device_key in self._slots or bool(self._free)

    def reset(self, device_key: Hashable) -> None:
        """Forget a device's stream and pending candidate (no flush); its slot stays reserved."""
        s = self._slots.get(device_key)
        if s is not None:
            self._clear(s)

    def release(self, device_key: Hashable) -> None:
        """Free a device's slot without flushing."""
        s = self._slots.pop(device_key, None)
        if s is not None:
            self._keys[s] = None
            self._free.append(s)

    def _clear(self, s: int) -> None:
        self.started[s] = False
        self.n_seen[s] = 0
        self.scan_k[s] = 0
        self.cand_k[s] = -1
        self.cell_max[s] = 0.0
        self.soft_k[s] = 0

    def state_bytes_per_device(self) -> int:
        """Return the bytes of array state held per device slot."""
        arrays = (self.mag, self.peak, self.grav, self.zi, self.origin, self.last_r, self.last_val,
                  self.cell_max, self.n_seen, self.scan_k, self.cand_k, self.started, self.last_clock, self.soft_k)
        return sum(a.nbytes for a in arrays) // self.capacity

    # ----------------------------------------------------------------- feeding
    def update(self, device_key: Hashable, t: np.ndarray, xyz: np.ndarray) -> list[FallDetection]:
        """Feed one device's samples (t in s, xyz in g, shape (n, 3)); return detections that fired."""
        return self.update_many([(device_key, t, xyz)])

    def update_many(self, batches: Iterable[tuple[Hashable, np.ndarray, np.ndarray]]) -> list[FallDetection]:
        """Feed samples of many devices at once; return the detections that fired, device by device."""
        out: list[FallDetection] = []
        rounds: list[list[tuple[int, np.ndarray, np.ndarray]]] = []
        now = self.clock()
        merged: dict[Hashable, list[tuple[np.ndarray, np.ndarray]]] = {}
        for key, t, xyz in batches:
            merged.setdefault(key, []).append((np.asarray(t, np.float64).reshape(-1),
                                               np.asarray(xyz, np.float64).reshape(-1, 3)))
        for key, parts in merged.items():
            t = parts[0][0] if len(parts) == 1 else np.concatenate([a for a, _ in parts])
            xyz = parts[0][1] if len(parts) == 1 else np.concatenate([b for _, b in parts])
            if len(t) == 0:
                continue
            s = self.slot(key)
            self.last_clock[s] = now
            for r, (tp, xp) in enumerate(self._pieces(s, t, xyz)):
                if r == len(rounds):
                    rounds.append([])
                rounds[r].append((s, tp, xp))
        for pieces in rounds:
            out.extend(self._feed(pieces))
        return out

    def _pieces(self, s: int, t: np.ndarray, xyz: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """Split a batch at gaps (the stream restarts) and into pieces short enough for the ring."""
        p = self.params
        if self.started[s]:
            t = np.maximum(t, self.origin[s] + self.last_r[s])  # late samples never go back in time
        t = np.maximum.accumulate(t)
        gaps = np.flatnonzero(np.diff(t) > p.max_gap_s) + 1
        if t[-1] - t[0] <= p.max_piece_s and len(gaps) == 0:
            return [(t, xyz)]
        pieces = []
        for a, b in zip(np.r_[0, gaps], np.r_[gaps, len(t)], strict=True):
            n_cut = int((t[b - 1] - t[a]) / p.max_piece_s)
            cuts = np.searchsorted(t[a:b], t[a] + p.max_piece_s * np.arange(1, n_cut + 1), side="right") + a
            edges = np.unique(np.r_[a, cuts, b])
            pieces += [(t[i:j], xyz[i:j]) for i, j in zip(edges[:-1], edges[1:], strict=True) if j > i]
        return pieces

    def _feed(self, pieces: Sequence[tuple[int, np.ndarray, np.ndarray]]) -> list[FallDetection]:
        p = self.params
        dt = self._dt
        out: list[FallDetection] = []
        slots = np.fromiter((s for s, _, _ in pieces), np.int64, len(pieces))
        counts = np.fromiter((len(tp) for _, tp, _ in pieces), np.int64, len(pieces))
        t_raw = np.concatenate([tp for _, tp, _ in pieces])
        xyz_raw = np.concatenate([xp for _, _, xp in pieces])
        first = np.r_[0, np.cumsum(counts)[:-1]]

        # A gap longer than max_gap_s ends the stream: decide what is pending, then start afresh.
        gap = self.started[slots] & (t_raw[first] - (self.origin[slots] + self.last_r[slots]) > p.max_gap_s)
        for s in slots[gap]:
            out.extend(self._advance(int(s), flushing=True))
            self._clear(int(s))
        new = ~self.started[slots]
        if new.any():
            ns = slots[new]
            self.origin[ns] = t_raw[first[new]]
            self.last_r[ns] = 0.0
            v0 = xyz_raw[first[new]]
            self.last_val[ns, :3] = v0
            self.last_val[ns, 3] = np.linalg.norm(v0, axis=1)
            self.zi[ns] = self._zi_unit[None, :, :, None] * v0[:, None, None, :]
            self.started[ns] = True

        # Segment per device: previous raw sample, then the new ones; time relative to its origin.
        dev = np.repeat(np.arange(len(slots)), counts)
        r_new = t_raw - self.origin[slots][dev]
        mag_raw = np.linalg.norm(xyz_raw, axis=1)
        seg_counts = counts + 1
        seg_first = np.r_[0, np.cumsum(seg_counts)[:-1]]
        seg_dev = np.repeat(np.arange(len(slots)), seg_counts)
        seg_r = np.empty(len(seg_dev))
        seg_v = np.empty((len(seg_dev), 4))
        body = np.ones(len(seg_dev), bool)
        body[seg_first] = False
        seg_r[seg_first] = self.last_r[slots]
        seg_v[seg_first] = self.last_val[slots]
        seg_r[body] = r_new
        seg_v[body, :3] = xyz_raw
        seg_v[body, 3] = mag_raw
        r0 = seg_r[seg_first]
        r_last = seg_r[seg_first + seg_counts - 1]
        width = float(np.max(r_last - r0)) + 1.0
        seg_key = seg_dev * width + (seg_r - r0[seg_dev])

        # New grid samples k*dt in (last produced, r_last] per device.
        k_end = np.floor(r_last / dt).astype(np.int64)
        k_end -= (k_end * dt > r_last)
        k_end += ((k_end + 1) * dt <= r_last)
        n_new = np.maximum(k_end + 1 - self.n_seen[slots], 0)
        g_dev = np.repeat(np.arange(len(slots)), n_new)
        g_first = np.r_[0, np.cumsum(n_new)[:-1]]
        g_k = np.arange(len(g_dev)) - np.repeat(g_first, n_new) + self.n_seen[slots][g_dev]
        g_r = g_k * dt
        g_key = g_dev * width + (g_r - r0[g_dev])
        ia = np.searchsorted(seg_key, g_key, side="right") - 1
        seg_end = (seg_first + seg_counts - 1)[g_dev]
        ib = np.minimum(ia + 1, seg_end)
        ta, tb = seg_r[ia], seg_r[ib]
        span = tb - ta
        w = np.where(span > 0, (g_r - ta) / np.where(span > 0, span, 1.0), 0.0)
        g_v = seg_v[ia] + w[:, None] * (seg_v[ib] - seg_v[ia])

        # Peak per grid cell ((k-1)dt, k dt]: raw samples after the last new grid point carry over.
        g_peak = g_v[:, 3].copy()
        has_new = n_new > 0
        g_peak[g_first[has_new]] = np.maximum(g_peak[g_first[has_new]], self.cell_max[slots[has_new]])
        key_raw = seg_key[body]
        cell = np.searchsorted(g_key, key_raw, side="left")
        inside = cell < (g_first + n_new)[dev]
        np.maximum.at(g_peak, cell[inside], mag_raw[inside])
        carry = np.where(has_new, 0.0, self.cell_max[slots]).astype(np.float64)
        np.maximum.at(carry, dev[~inside], mag_raw[~inside])
        self.cell_max[slots] = carry

        # Gravity: Butterworth low-pass with per-slot state, one sosfilt call per batch length.
        g_grav = np.empty((len(g_dev), 3))
        for n in np.unique(n_new[has_new]):
            sel = np.flatnonzero(n_new == n)
            idx = g_first[sel][:, None] + np.arange(n)[None, :]
            zi = self.zi[slots[sel]].transpose(1, 0, 2, 3)
            y, zf = sosfilt(self._sos, g_v[idx, :3], axis=1, zi=zi)
            g_grav[idx] = y
            self.zi[slots[sel]] = zf.transpose(1, 0, 2, 3)

        g_slot = slots[g_dev]
        pos = g_k % self.ring
        self.mag[g_slot, pos] = g_v[:, 3]
        self.peak[g_slot, pos] = g_peak
        self.grav[g_slot, pos] = g_grav
        self.n_seen[slots] += n_new
        self.last_r[slots] = r_last
        self.last_val[slots] = seg_v[seg_first + seg_counts - 1]

        if p.soft_enabled:
            out.extend(self._soft(g_slot, g_k))

        # Only slots with a pending candidate or a peak over the gate need per-slot decisions.
        hot = np.zeros(len(slots), bool)
        hot[g_dev[g_peak > p.impact_g]] = True
        hot |= self.cand_k[slots] >= 0
        quiet = slots[~hot]
        self.scan_k[quiet] = np.maximum(self.scan_k[quiet], self.n_seen[quiet])
        for s in slots[hot]:
            out.extend(self._advance(int(s), flushing=False))
        return out

    def _soft(self, g_slot: np.ndarray, g_k: np.ndarray) -> list[FallDetection]:
        """Fire the impact-free trigger on new grid samples: fast turn, then stillness, and no impact."""
        p = self.params
        turn_n = int(round(p.soft_turn_s * p.fs))
        still_n = int(round(p.soft_still_s * p.fs))
        span = turn_n + still_n + int(round(p.fs))  # one more second before the turn must be impact-free
        ok = g_k >= span
        a = self.grav[g_slot, (g_k - still_n - turn_n) % self.ring]
        b = self.grav[g_slot, (g_k - still_n) % self.ring]
        cos = (a * b).sum(axis=1) / np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-9)
        hit = np.flatnonzero(ok & (cos <= math.cos(math.radians(p.soft_turn_deg))) & (g_k >= self.soft_k[g_slot]))
        if len(hit) == 0:
            return []
        win = (g_k[hit, None] - np.arange(still_n)[None, :]) % self.ring
        still = self.mag[g_slot[hit, None], win].std(axis=1)
        back = (g_k[hit, None] - np.arange(span)[None, :]) % self.ring
        calm = self.peak[g_slot[hit, None], back].max(axis=1) <= p.soft_max_g
        out: list[FallDetection] = []
        for i in hit[(still < p.soft_still_g) & calm]:
            s, k = int(g_slot[i]), int(g_k[i])
            if k < self.soft_k[s]:
                continue  # an earlier sample of this batch already fired
            self.soft_k[s] = k + int(round(p.refractory_s * p.fs))
            out.append(self._soft_detection(s, k, span, float(np.degrees(np.arccos(np.clip(cos[i], -1, 1))))))
        return out

    def _soft_detection(self, s: int, k: int, span: int, turn: float) -> FallDetection:
        p = self.params
        lo = k - span + 1
        mag, peak, _ = self._ring(s, lo, k + 1)
        still_n = int(round(p.soft_still_s * p.fs))
        feats = {"turn_deg": round(turn, 3), "still_std_g": round(float(mag[-still_n:].std()), 6),
                 "peak_g": round(float(peak.max()), 4)}
        thresholds = {"soft_turn_deg": p.soft_turn_deg, "soft_turn_s": p.soft_turn_s, "soft_still_s": p.soft_still_s,
                      "soft_still_g": p.soft_still_g, "soft_max_g": p.soft_max_g}
        evidence = {"trigger": "turn_then_still", "t0": float(self.origin[s] + lo * self._dt), "dt": self._dt,
                    "magnitude_g": [round(float(v), 4) for v in mag], "peak_g": [round(float(v), 4) for v in peak]}
        t_turn = float(self.origin[s] + (k - still_n) * self._dt)
        return FallDetection(self._keys[s], t_turn, "fall_suspected", p.soft_confidence, feats, thresholds,
                             evidence, emitted_at=self.clock())

    # ----------------------------------------------------------------- decisions
    def flush(self, device_key: Hashable) -> list[FallDetection]:
        """Decide a device's pending candidates with the data available (end of file, lost link)."""
        s = self._slots.get(device_key)
        if s is None or not self.started[s]:
            return []
        out = self._advance(s, flushing=True)
        self._clear(s)
        return out

    def poll(self) -> list[FallDetection]:
        """Flush devices with a pending candidate that sent nothing for `stale_s` of the clock."""
        now = self.clock()
        stale = np.flatnonzero((self.cand_k >= 0) & (now - self.last_clock > self.params.stale_s))
        out: list[FallDetection] = []
        for s in stale:
            out.extend(self.flush(self._keys[int(s)]))
        return out

    def _ring(self, s: int, a: int, b: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        idx = np.arange(a, b) % self.ring
        return self.mag[s, idx], self.peak[s, idx], self.grav[s, idx]

    def _advance(self, s: int, flushing: bool) -> list[FallDetection]:
        """Run slot s's candidate state machine over the grid samples it has not decided yet."""
        p = self.params
        fs = p.fs
        search_n = int(round(p.search_s * fs))
        post_n = int(round(p.post_s * fs))
        pre_n = int(round(p.pre_s * fs))
        n = int(self.n_seen[s])
        out: list[FallDetection] = []
        while True:
            if self.cand_k[s] < 0:
                start = max(int(self.scan_k[s]), n - self.ring)
                if start >= n:
                    break
                hits = np.flatnonzero(self._ring(s, start, n)[1] > p.impact_g)
                if len(hits) == 0:
                    self.scan_k[s] = n
                    break
                self.cand_k[s] = start + int(hits[0])
            c = int(self.cand_k[s])
            search_end = c + search_n
            if n < search_end and not flushing:
                break
            peaks = self._ring(s, c, min(search_end, n))[1]
            impact = c + int(np.argmax(peaks))
            post_end = impact + post_n
            if n <= post_end and not flushing:
                break
            post_end = min(post_end, n - 1)
            lo = max(impact - pre_n, 0)
            if lo < n - self.ring:
                raise AssertionError("fall detector ring overrun")  # pieces are cut to prevent it
            det = self._decide(s, lo, impact, post_end)
            self.cand_k[s] = -1
            if det is not None:
                out.append(det)
                self.scan_k[s] = impact + int(round(p.refractory_s * fs))
            else:
                self.scan_k[s] = min(search_end, n)
        return out

    def _decide(self, s: int, lo: int, impact: int, post_end: int) -> FallDetection | None:
        p = self.params
        mag, peak, grav = self._ring(s, lo, post_end + 1)
        feats = impact_features(mag, peak, grav, impact - lo, p.fs, p.post_skip_s, post_end - lo)
        truncated = post_end < impact + int(round(p.post_s * p.fs))
        if truncated:
            conf = fall_score(feats, p.mean, p.scale, p.weights_partial, p.bias_partial)
            cut_fall, cut_suspect = p.p_fall_partial, p.p_suspect_partial
        else:
            conf = fall_score(feats, p.mean, p.scale, p.weights, p.bias)
            cut_fall, cut_suspect = p.p_fall, p.p_suspect
        kind: FallType | None = None
        if conf >= cut_fall:
            kind = "fall"
        elif conf >= cut_suspect:
            kind = "fall_suspected"
        t_impact = float(self.origin[s] + impact * self._dt)
        key = self._keys[s]
        if self.keep_candidates:
            self.candidates.append(Candidate(key, t_impact, feats, conf, kind, flushed=truncated))
        if kind is None:
            return None
        evidence = {
            "trigger": "impact",
            "window": "truncated" if truncated else "complete",
            "t0": float(self.origin[s] + lo * self._dt),
            "dt": self._dt,
            "magnitude_g": [round(float(v), 4) for v in mag],
            "peak_g": [round(float(v), 4) for v in peak],
        }
        feats = {k: (None if math.isnan(v) else round(v, 6)) for k, v in feats.items()}
        return FallDetection(key, t_impact, kind, round(conf, 6), feats, p.thresholds(), evidence,
                             emitted_at=self.clock())


__all__ = ["FEATURE_NAMES", "Candidate", "FallDetection", "FallDetector", "FallParams", "PARAMS_PATH"]
