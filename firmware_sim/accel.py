"""Vectorised synthesis of realistic wrist acceleration for many wristbands at once.

Model (per device, in a wrist frame: x along the forearm toward the hand, y across the wrist,
z out of the watch face). A wrist accelerometer at rest reads the *up* unit vector (1 g); motion
adds body acceleration. Each activity defines the up vector and the dynamics:

- sitting/resting: forearm on the lap, face up, physiological tremor; standing: arm hanging
  (up ≈ -x) with slow sway;
- walking: arm swing as a pendulum at stride frequency (cadence / 2) plus a vertical bounce at the
  step cadence (1.5–2.0 Hz), so the magnitude's dominant frequency is the cadence, as in the
  UMAFall/SmartFallMM wrist recordings (`/work/shared/data/falls`);
- sleeping: lying with gravity on another axis (side or face down), breathing micro-motion;
- eating: hand-to-mouth cycles every 6–14 s (forearm pitched up 55–85°);
- transitions (standing up / sitting down, getting out of bed): the up vector turns over 1.5–3 s
  with a vertical push;
- falls: pre-fall stagger, free fall (magnitude dips to 0.3–0.6 g), impact peak 3–8 g with ringing
  and a rebound, orientation change, then lying still at 1 g on another axis until recovery.

Sensor effects: per-device axis mounting (one of the 24 proper axis rotations plus a few degrees of
misalignment), per-axis offset and gain error, white noise, and a slow mean-reverting orientation
drift. Everything is a function of absolute time, so consecutive 1 s batches join without seams,
and it is deterministic for a seed. All arrays are indexed by device slot.
"""

from __future__ import annotations

from enum import IntEnum
from itertools import permutations, product

import numpy as np

TWO_PI = 2.0 * np.pi


class Activity(IntEnum):
    """What a wearer is doing; stored per device slot in `AccelBank.act`."""

    REST = 0
    STAND = 1
    WALK = 2
    SLEEP = 3
    EAT = 4
    TRANSITION = 5
    FALL = 6


def _proper_axis_rotations() -> np.ndarray:
    """Return the 24 signed permutation matrices with determinant +1."""
    mats = []
    for perm in permutations(range(3)):
        for signs in product((1, -1), repeat=3):
            m = np.zeros((3, 3))
            for row, (col, sign) in enumerate(zip(perm, signs, strict=True)):
                m[row, col] = sign
            if np.linalg.det(m) > 0:
                mats.append(m)
    return np.array(mats)


def _small_rotation(rng: np.random.Generator, n: int, max_deg: float) -> np.ndarray:
    """Return n random rotation matrices of at most `max_deg` degrees (Rodrigues)."""
    axis = rng.normal(size=(n, 3))
    axis /= np.linalg.norm(axis, axis=1, keepdims=True)
    ang = np.radians(rng.uniform(0, max_deg, n))[:, None, None]
    k = np.zeros((n, 3, 3))
    k[:, 0, 1], k[:, 0, 2], k[:, 1, 2] = -axis[:, 2], axis[:, 1], -axis[:, 0]
    k[:, 1, 0], k[:, 2, 0], k[:, 2, 1] = axis[:, 2], -axis[:, 1], axis[:, 0]
    return np.eye(3) + np.sin(ang) * k + (1 - np.cos(ang)) * (k @ k)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _rotate_y(u: np.ndarray, a: np.ndarray) -> np.ndarray:
    """Rotate vectors u (..., 3) about the wrist y axis by angles a (...)."""
    c, s = np.cos(a), np.sin(a)
    x, y, z = u[..., 0], u[..., 1], u[..., 2]
    return np.stack(np.broadcast_arrays(c * x + s * z, y, -s * x + c * z), axis=-1)


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


# Lying orientations of the wrist's up vector: on the side (±y) or face up/down (±z).
_LYING = np.array([[0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]], dtype=float)


class AccelBank:
    """Acceleration state for `n` wristbands sampled at `rate_hz`; call `generate(t0)` once per second."""

    def __init__(self, n: int, *, rate_hz: int = 50, seed: int = 0, jitter_fraction: float = 0.25) -> None:
        if not 25 <= rate_hz <= 100:
            raise ValueError("rate_hz must be within 25..100")
        self.n, self.rate_hz = n, rate_hz
        self.rng = np.random.default_rng(seed)
        rng = self.rng
        # Device-specific sensor mounting and calibration.
        rots = _proper_axis_rotations()
        self.mount = rots[rng.integers(0, len(rots), n)] @ _small_rotation(rng, n, 4.0)
        self.offset = rng.normal(0, 0.012, (n, 3))
        self.gain = 1 + rng.normal(0, 0.008, (n, 3))
        self.noise = rng.uniform(0.004, 0.010, n)
        # Devices that timestamp each sample (flag bit0) have jittered, sometimes missing samples.
        self.jittered = rng.random(n) < jitter_fraction
        # Posture bases in the wrist frame.
        self.rest_u = _unit(np.column_stack((rng.uniform(-0.35, 0.1, n), rng.uniform(-0.3, 0.3, n),
                                             np.ones(n))))
        self.hang_u = _unit(np.column_stack((-np.ones(n), rng.uniform(-0.25, 0.25, n),
                                             rng.uniform(-0.2, 0.3, n))))
        self.lying_u = _unit(_LYING[rng.integers(0, 4, n)] + rng.normal(0, 0.12, (n, 3)))
        # Gait and gesture parameters (older adults: slower cadence, smaller swing).
        self.cadence = rng.uniform(1.6, 2.0, n)
        self.swing = rng.uniform(0.18, 0.45, n)
        self.bounce = rng.uniform(0.12, 0.28, n)
        self.phase = rng.uniform(0, TWO_PI, n)
        self.eat_period = rng.uniform(6.0, 14.0, n)
        self.eat_lift = np.radians(rng.uniform(55, 85, n))
        self.tremor_f = rng.uniform(4.0, 6.5, n)
        self.tremor_a = rng.uniform(0.002, 0.012, n)
        # Slow orientation drift (Ornstein-Uhlenbeck), interpolated inside each batch.
        self.drift = rng.normal(0, 0.03, (n, 3))
        # Activity state.
        self.act = np.full(n, Activity.REST, dtype=np.int8)
        self.act_t0 = np.zeros(n)
        self.next_act = np.full(n, Activity.REST, dtype=np.int8)
        self.tr_from = self.rest_u.copy()
        self.tr_to = self.rest_u.copy()
        self.tr_dur = np.full(n, 2.0)
        self.tr_push = np.zeros(n)
        # Fall parameters (valid while act == FALL).
        self.fall_ff = np.zeros(n)
        self.fall_min = np.ones(n)
        self.fall_peak = np.ones(n)
        self.fall_width = np.full(n, 0.03)
        self.fall_ring_f = np.full(n, 9.0)
        self.fall_ring_tau = np.full(n, 0.15)
        self.fall_dir = np.zeros((n, 3))
        self.fall_amp = np.zeros(n)
        self.fall_ring_axis = np.zeros((n, 3))
        self.fall_pre_u = self.hang_u.copy()
        self.fall_post_u = self.lying_u.copy()

    # ------------------------------------------------------------ state changes

    def base_up(self, idx: np.ndarray | int) -> np.ndarray:
        """Return the current static up vector (wrist frame) of devices `idx`."""
        idx = np.atleast_1d(idx)
        act = self.act[idx]
        out = self.rest_u[idx].copy()
        stand = (act == Activity.STAND) | (act == Activity.WALK)
        out[stand] = self.hang_u[idx[stand]]
        out[act == Activity.SLEEP] = self.lying_u[idx[act == Activity.SLEEP]]
        tr = act == Activity.TRANSITION
        out[tr] = self.tr_to[idx[tr]]
        fall = act == Activity.FALL
        out[fall] = self.fall_post_u[idx[fall]]
        return out

    def _target_up(self, i: int, act: Activity) -> np.ndarray:
        if act in (Activity.STAND, Activity.WALK):
            return self.hang_u[i]
        if act == Activity.SLEEP:
            return self.lying_u[i]
        return self.rest_u[i]

    def set_activity(self, i: int, act: Activity, t: float, *, transition_s: float | None = None) -> None:
        """Switch device `i` to `act` at time `t`, through a posture transition when the posture changes."""
        act = Activity(act)
        cur_up = self.base_up(i)[0]
        target = self._target_up(i, act)
        if transition_s is None:
            transition_s = float(self.rng.uniform(1.5, 3.0)) if float(cur_up @ target) < 0.9 else 0.0
        if transition_s > 0:
            self.act[i] = Activity.TRANSITION
            self.tr_from[i], self.tr_to[i] = cur_up, target
            self.tr_dur[i] = transition_s
            # Standing up pushes the body upward first; sitting or lying down drops it first.
            self.tr_push[i] = 0.28 if act in (Activity.STAND, Activity.WALK) else -0.22
            self.next_act[i] = act
        else:
            self.act[i] = act
        self.act_t0[i] = t

    def fall(self, i: int, t_impact: float, *, peak_g: float | None = None) -> None:
        """Make device `i` fall with impact at `t_impact` (it then lies still until `set_activity`)."""
        rng = self.rng
        self.fall_pre_u[i] = self.base_up(i)[0]
        self.act[i] = Activity.FALL
        self.act_t0[i] = t_impact
        self.fall_ff[i] = rng.uniform(0.3, 0.5)
        self.fall_min[i] = rng.uniform(0.3, 0.6)
        self.fall_peak[i] = peak_g if peak_g is not None else rng.uniform(3.5, 8.0)
        self.fall_width[i] = rng.uniform(0.025, 0.035)
        self.fall_ring_f[i] = rng.uniform(7.0, 12.0)
        self.fall_ring_tau[i] = rng.uniform(0.1, 0.2)
        candidates = [v for v in _LYING if abs(float(v @ self.fall_pre_u[i])) < 0.5]
        post = candidates[int(rng.integers(0, len(candidates)))]
        self.fall_post_u[i] = _unit(post + rng.normal(0, 0.1, 3))
        # The impact pushes roughly along the wrist's up vector at impact time (half-way turned).
        mid = _unit(self.fall_pre_u[i] + self.fall_post_u[i])
        self.fall_dir[i] = _unit(mid + rng.normal(0, 0.3, 3))
        self.fall_amp[i] = self.fall_peak[i] - float(self.fall_dir[i] @ mid)
        self.fall_ring_axis[i] = _unit(rng.normal(size=3))

    # ------------------------------------------------------------ synthesis

    def sample_times(self, t0: float) -> tuple[np.ndarray, np.ndarray]:
        """Return (times (n, S) epoch s, keep mask (n, S)) for the batch starting at t0."""
        s = self.rate_hz
        base = np.arange(s) / s
        times = np.broadcast_to(t0 + base, (self.n, s)).copy()
        keep = np.ones((self.n, s), dtype=bool)
        j = np.nonzero(self.jittered)[0]
        if len(j):
            jit = self.rng.normal(0, 0.0015, (len(j), s))
            jit[:, 0] = np.abs(jit[:, 0])
            times[j] += np.clip(jit, -0.4 / s, 0.4 / s)
            keep[j] = self.rng.random((len(j), s)) > 0.01
            keep[j, 0] = True
        return times, keep

    def generate(self, t0: float, times: np.ndarray | None = None) -> np.ndarray:
        """Return the (n, S, 3) float32 acceleration in g, in each device's own axes, for times (n, S)."""
        if times is None:
            times = np.broadcast_to(t0 + np.arange(self.rate_hz) / self.rate_hz, (self.n, self.rate_hz))
        n, s = times.shape
        # Finished transitions become the target activity before this batch.
        done = (self.act == Activity.TRANSITION) & (t0 >= self.act_t0 + self.tr_dur)
        self.act[done] = self.next_act[done]
        # Orientation drift: one OU step per batch, linear in between.
        old = self.drift
        self.drift = old * 0.97 + self.rng.normal(0, 0.008, (n, 3))
        frac = np.clip(times - t0, 0, 1)[..., None]
        drift = old[:, None, :] + (self.drift - old)[:, None, :] * frac
        out = np.empty((n, s, 3))
        for code, fn in _SYNTH.items():
            idx = np.nonzero(self.act == code)[0]
            if len(idx):
                out[idx] = fn(self, idx, times[idx], drift[idx])
        out += self.rng.normal(0, 1, (n, s, 3)) * self.noise[:, None, None]
        out = np.einsum("nij,nsj->nsi", self.mount, out) * self.gain[:, None, :] + self.offset[:, None, :]
        return out.astype(np.float32)

    # Each synthesiser returns the wrist-frame reading (k, S, 3) for devices idx at times t (k, S).

    def _rest(self, idx, t, drift):
        u = _unit(self.rest_u[idx][:, None, :] + drift)
        tremor = (self.tremor_a[idx][:, None] * np.sin(TWO_PI * self.tremor_f[idx][:, None] * t))[..., None]
        return u * (1.0 + tremor)

    def _stand(self, idx, t, drift):
        sway = 0.03 * np.sin(TWO_PI * 0.4 * t + self.phase[idx][:, None])
        u = _unit(_rotate_y(self.hang_u[idx][:, None, :], sway) + drift)
        return u * (1.0 + 0.5 * self.tremor_a[idx][:, None, None])

    def _walk(self, idx, t, drift):
        step = TWO_PI * self.cadence[idx][:, None] * t + self.phase[idx][:, None]
        swing = self.swing[idx][:, None] * np.sin(0.5 * step)
        u = _unit(_rotate_y(self.hang_u[idx][:, None, :], swing) + drift)
        tangent = _rotate_y(self.hang_u[idx][:, None, :], swing + np.pi / 2)
        b = self.bounce[idx][:, None]
        bounce = b * (np.sin(step) + 0.35 * np.sin(2 * step + 0.7) + 0.15 * np.sin(3 * step + 1.9))
        # Tangential (pendulum) acceleration of the swing, at the stride frequency.
        tang = -0.6 * self.swing[idx][:, None] * np.sin(0.5 * step)
        return u * (1.0 + bounce)[..., None] + tangent * tang[..., None]

    def _sleep(self, idx, t, drift):
        u = _unit(self.lying_u[idx][:, None, :] + 0.3 * drift)
        breath = 0.003 * np.sin(TWO_PI * 0.25 * t + self.phase[idx][:, None])
        return u * (1.0 + breath)[..., None]

    def _eat(self, idx, t, drift):
        period = self.eat_period[idx][:, None]
        x = np.mod(t - self.act_t0[idx][:, None] + self.phase[idx][:, None], period) / period
        lifting = x < 0.35
        w = TWO_PI / (0.35 * period)
        beta = self.eat_lift[idx][:, None] * np.where(lifting, 0.5 * (1 - np.cos(TWO_PI * x / 0.35)), 0.0)
        beta_dd = self.eat_lift[idx][:, None] * np.where(lifting, 0.5 * w * w * np.cos(TWO_PI * x / 0.35),
                                                          0.0)
        u = _unit(_rotate_y(self.rest_u[idx][:, None, :], -beta) + drift)
        tangent = _rotate_y(self.rest_u[idx][:, None, :], -beta - np.pi / 2)
        # Forearm length ~0.3 m: tangential acceleration L·β'' in g, plus cutlery/chewing jitter.
        tang = 0.3 * beta_dd / 9.80665
        chew = 0.02 * np.sin(TWO_PI * 2.7 * t) * (~lifting)
        return u * (1.0 + chew)[..., None] + tangent * tang[..., None]

    def _transition(self, idx, t, drift):
        tau = (t - self.act_t0[idx][:, None]) / self.tr_dur[idx][:, None]
        s = _smoothstep(tau)[..., None]
        u = _unit((1 - s) * self.tr_from[idx][:, None, :] + s * self.tr_to[idx][:, None, :] + drift)
        inside = (tau >= 0) & (tau < 1)
        push = self.tr_push[idx][:, None] * np.sin(TWO_PI * np.clip(tau, 0, 1)) * inside
        return u * (1.0 + push)[..., None]

    def _fall(self, idx, t, drift):
        tau = t - self.act_t0[idx][:, None]  # time since impact
        ff = self.fall_ff[idx][:, None]
        pre_u = self.fall_pre_u[idx][:, None, :]
        post_u = self.fall_post_u[idx][:, None, :]
        # Stagger before the fall, then free fall: magnitude dips toward fall_min.
        x = np.clip((tau + ff) / ff, 0, 1)
        dip = 1 - (1 - self.fall_min[idx][:, None]) * _smoothstep(x / 0.6)
        stagger = 0.25 * np.sin(TWO_PI * 2.2 * tau) * ((tau > -ff - 0.8) & (tau < -ff))
        mag = np.where(tau < -ff, 1 + stagger, dip)
        turn = _smoothstep(np.where(tau < 0, 0.5 * x, 0.5 + np.clip(tau / 0.4, 0, 0.5)))[..., None]
        u = _unit((1 - turn) * pre_u + turn * post_u + 0.3 * drift)
        after = tau >= 0
        mag = np.where(after, 1.0, mag)
        # Impact pulse, a smaller rebound, and damped ringing of the wrist and band.
        width = self.fall_width[idx][:, None]
        amp = self.fall_amp[idx][:, None]
        pulse = amp * np.exp(-0.5 * (tau / width) ** 2)
        rebound = 0.35 * amp * np.exp(-0.5 * ((tau - 0.14) / (1.5 * width)) ** 2)
        ring = (0.25 * amp * np.exp(-np.clip(tau, 0, None) / self.fall_ring_tau[idx][:, None])
                * np.sin(TWO_PI * self.fall_ring_f[idx][:, None] * tau) * after)
        reading = u * mag[..., None]
        reading += self.fall_dir[idx][:, None, :] * (pulse + rebound)[..., None]
        reading += self.fall_ring_axis[idx][:, None, :] * ring[..., None]
        return reading


_SYNTH = {
    Activity.REST: AccelBank._rest,
    Activity.STAND: AccelBank._stand,
    Activity.WALK: AccelBank._walk,
    Activity.SLEEP: AccelBank._sleep,
    Activity.EAT: AccelBank._eat,
    Activity.TRANSITION: AccelBank._transition,
    Activity.FALL: AccelBank._fall,
}
