"""Tune the fall detector on one real dataset, test it on the other, both ways; print and save.

    .venv/bin/python -m tools.fall_evaluate [--data /work/shared/data/falls] [--no-write]

Every recording is replayed through the streaming detector exactly like `carehub replay accel`
(1-second chunks, fresh slot per file, pending candidate decided at end of file). Tuning sees only
the training dataset: candidate impacts are collected with a low gate, logistic models (complete and
truncated post window) are fitted on their features, and the design (feature set, impact-free
trigger on/off), the gate and the cut-offs are chosen from subject-grouped cross-validation inside
the training set. The test dataset is then replayed once with the frozen parameters. The naive
baseline (any raw sample |a| > 3 g means fall) uses the same files and the same per-trial
accounting; the separability bound of tools.fall_limits is added. Writes
hub/detect/fall_params.json, docs/detection_results.json and the results block of docs/detection.md.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

from hub.detect.fall import PARAMS_PATH, Candidate, FallDetection, FallParams
from hub.detect.features import FEATURE_NAMES, PRE_MASK, model_inputs
from hub.detect.replay import read_accel_csv, run_streams
from tools.fall_limits import bound

DATA = Path("/work/shared/data/falls")
ROOT = Path(__file__).resolve().parents[1]
RESULTS_JSON = ROOT / "docs" / "detection_results.json"
DOC = ROOT / "docs" / "detection.md"
DATASETS = {"umafall": "umafall_wrist", "smartfallmm": "smartfallmm_watch"}
GATES = (1.4, 1.6, 1.8, 2.0, 2.2, 2.5, 3.0)
COLLECT_GATE = min(GATES)
TARGET_SPEC = 0.96  # cross-validated specificity aimed for when picking the suspect cut-off
FALL_SPEC = 0.99  # ... and for the confident "fall" cut-off
RIDGE = 1.0
FOLDS = 5
PRE_MASK_A = np.array(PRE_MASK)
_BASE8 = np.array([n not in {"drop_velocity_ms", "impact_width_s"} for n in FEATURE_NAMES])
# Candidate designs, compared by cross-validation on the training set only (first wins a tie).
DESIGNS: dict[str, np.ndarray] = {"logistic_8": _BASE8, "logistic_10": np.ones(len(FEATURE_NAMES), bool)}


@dataclass(slots=True)
class Trial:
    """One recording of the index with its samples."""

    file: str
    dataset: str
    subject: str
    activity: str
    label: str
    group: str
    t: np.ndarray
    xyz: np.ndarray

    @property
    def hours(self) -> float:
        """Return the observed time in hours (gaps over 1 s, where the sensor sent nothing, excluded)."""
        d = np.diff(self.t)
        return float(d[d <= 1.0].sum()) / 3600.0


def load_trials(data: Path) -> dict[str, list[Trial]]:
    """Load every trial of the index, grouped by dataset short name."""
    out: dict[str, list[Trial]] = {k: [] for k in DATASETS}
    short = {v: k for k, v in DATASETS.items()}
    with open(data / "index.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            t, xyz = read_accel_csv(str(data / row["file"]))
            out[short[row["dataset"]]].append(Trial(row["file"], row["dataset"], row["subject"],
                                                    row["activity"], row["label"], row["group"], t, xyz))
    return out


# ---------------------------------------------------------------- tuning
def _fit_logistic(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    """Fit a class-balanced, ridge-penalised logistic regression; return (weights, bias)."""
    w_cls = np.where(y == 1, 0.5 / max(y.mean(), 1e-9), 0.5 / max(1 - y.mean(), 1e-9))

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        z = x @ theta[:-1] + theta[-1]
        pz = 1.0 / (1.0 + np.exp(-z))
        ll = w_cls * (np.logaddexp(0, z) - y * z)
        g = w_cls * (pz - y)
        grad = np.r_[x.T @ g, g.sum()] / len(y) + RIDGE / len(y) * np.r_[theta[:-1], 0.0]
        return float(ll.mean() + 0.5 * RIDGE / len(y) * theta[:-1] @ theta[:-1]), grad

    res = minimize(loss, np.zeros(x.shape[1] + 1), jac=True, method="L-BFGS-B")
    return res.x[:-1], float(res.x[-1])


@dataclass(slots=True)
class CandidateTable:
    """Model inputs of every candidate of a dataset, with the trial each came from."""

    x: np.ndarray  # (n, features), NaN where a window was empty
    peak: np.ndarray
    trial: np.ndarray
    target: np.ndarray  # 1 = the impact of a fall trial, 0 = ADL, -1 = other impacts in fall trials
    truncated: np.ndarray  # the post window was cut short (end of file or gap): scored by the partial model


def candidate_table(trials: list[Trial], cands: list[Candidate]) -> CandidateTable:
    """Label candidates: the highest impact of a fall trial is the fall; every ADL impact is not."""
    x = np.array([model_inputs(c.features) for c in cands]).reshape(-1, len(FEATURE_NAMES))
    peak = np.array([c.features["peak_g"] for c in cands])
    trial = np.array([int(c.device_key) for c in cands], np.int64)
    target = np.zeros(len(cands), np.int64)
    for i, tr in enumerate(trials):
        idx = np.flatnonzero(trial == i)
        if tr.label == "fall" and len(idx):
            target[idx] = -1
            target[idx[np.argmax(peak[idx])]] = 1
    return CandidateTable(x, peak, trial, target, np.array([c.flushed for c in cands], bool))


def _scores(tab: CandidateTable, rows: np.ndarray, mean: np.ndarray, scale: np.ndarray,
            w: np.ndarray, b: float) -> np.ndarray:
    z = (tab.x[rows] - mean) / scale
    z = np.where(np.isnan(z), 0.0, z)
    return 1.0 / (1.0 + np.exp(-(z @ w + b)))


def _fit(tab: CandidateTable, rows: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Fit the logistic model on the features in `mask` (other weights stay 0); return mean, scale, w, b."""
    train = rows[tab.target[rows] >= 0]
    mean = np.nanmean(tab.x[train], axis=0)
    scale = np.nanstd(tab.x[train], axis=0) + 1e-6
    z = np.where(np.isnan(tab.x[train]), 0.0, (tab.x[train] - mean) / scale)
    w = np.zeros(len(mask))
    w[mask], b = _fit_logistic(z[:, mask], tab.target[train].astype(np.float64))
    return mean, scale, w, b


def _cutoff(score: np.ndarray, is_fall: np.ndarray, spec: float, already: np.ndarray | None = None) -> float:
    """Return the lowest cut-off keeping specificity >= `spec`, given ADL trials `already` alarmed."""
    already = np.zeros(len(score), bool) if already is None else already
    n_adl = int((~is_fall).sum())
    allowed = int(math.floor((1.0 - spec) * n_adl + 1e-9)) - int((already & ~is_fall).sum())
    free = np.sort(score[~is_fall & ~already])[::-1]  # highest first; the top `allowed` may alarm
    if allowed < 0:
        return 1.0 + 1e-9  # the other model alone already spends the false-alarm budget
    if allowed >= len(free):
        return 1e-3
    return max(float(np.nextafter(free[allowed], np.inf)), 1e-3)


@dataclass(slots=True)
class CutOffs:
    """Suspect and fall cut-offs of the complete-window and the truncated-window model."""

    suspect: float
    fall: float
    suspect_partial: float
    fall_partial: float


def _cutoffs(tab: CandidateTable, rows: np.ndarray, full: np.ndarray, part: np.ndarray,
             is_fall: np.ndarray, soft: np.ndarray) -> CutOffs:
    """Pick cut-offs: the partial model as if every window were cut short, then the full model on the rest.

    `soft` marks trials the impact-free trigger alarms on; their false alarms are spent first.
    """
    n = len(is_fall)
    part_all = np.zeros(n)
    np.maximum.at(part_all, tab.trial[rows], part)
    cut = []
    for spec in (TARGET_SPEC, FALL_SPEC):
        c_part = _cutoff(part_all, is_fall, spec, soft)
        trunc = tab.truncated[rows]
        alarmed = soft.copy()
        alarmed[tab.trial[rows][trunc & (part >= c_part)]] = True
        score = np.zeros(n)
        np.maximum.at(score, tab.trial[rows][~trunc], full[~trunc])
        cut.append((_cutoff(score, is_fall, spec, alarmed), c_part))
    (s, sp), (f, fp) = cut
    return CutOffs(s, max(f, s), sp, max(fp, sp))


def _alarms(tab: CandidateTable, rows: np.ndarray, full: np.ndarray, part: np.ndarray, cut: CutOffs,
            n: int, soft: np.ndarray) -> np.ndarray:
    """Return which trials raise a fall or suspected-fall alarm."""
    trunc = tab.truncated[rows]
    fired = np.where(trunc, part >= cut.suspect_partial, full >= cut.suspect)
    out = np.zeros(n, bool)
    out[tab.trial[rows][fired]] = True
    return out | soft


def _cv(tab: CandidateTable, rows: np.ndarray, fold: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return out-of-fold scores of the full and the partial model for `rows`."""
    full, part = np.zeros(len(rows)), np.zeros(len(rows))
    fold_of_row = fold[tab.trial[rows]]
    for f in range(FOLDS):
        tr_rows, te = rows[fold_of_row != f], fold_of_row == f
        full[te] = _scores(tab, rows[te], *_fit(tab, tr_rows, mask))
        part[te] = _scores(tab, rows[te], *_fit(tab, tr_rows, mask & PRE_MASK_A))
    return full, part


def tune(trials: list[Trial], cands: list[Candidate], soft_found: np.ndarray, name: str,
         base: FallParams) -> tuple[FallParams, dict]:
    """Pick design, gate, models and cut-offs on `trials` only (subject-grouped CV); return params, report.

    `soft_found` marks the trials where the impact-free trigger fired; whether to enable it is a design choice.
    """
    tab = candidate_table(trials, cands)
    is_fall = np.array([tr.label == "fall" for tr in trials])
    subjects = sorted({f"{tr.group}/{tr.subject}" for tr in trials})
    fold_of_subject = {s: i % FOLDS for i, s in enumerate(subjects)}
    fold = np.array([fold_of_subject[f"{tr.group}/{tr.subject}"] for tr in trials])
    report: dict = {"trained_on": name, "designs": {}}
    best: tuple[float, float, str, float, bool] | None = None
    no_soft = np.zeros(len(trials), bool)
    for design, mask in DESIGNS.items():
        for soft_on in (False, True):
            soft = soft_found if soft_on else no_soft
            label = design + ("+soft" if soft_on else "")
            report["designs"][label] = {}
            for gate in GATES:
                rows = np.flatnonzero(tab.peak > gate)
                full, part = _cv(tab, rows, fold, mask)
                cut = _cutoffs(tab, rows, full, part, is_fall, soft)
                alarm = _alarms(tab, rows, full, part, cut, len(trials), soft)
                sens, spec = float(alarm[is_fall].mean()), float((~alarm[~is_fall]).mean())
                report["designs"][label][str(gate)] = {"cv_sensitivity": sens, "cv_specificity": spec}
                if best is None or sens + spec > best[0] + best[1] + 1e-9:
                    best = (sens, spec, design, gate, soft_on)
    assert best is not None
    sens, spec, design, gate, soft_on = best
    mask = DESIGNS[design]
    rows = np.flatnonzero(tab.peak > gate)
    cut = _cutoffs(tab, rows, *_cv(tab, rows, fold, mask), is_fall, soft_found if soft_on else no_soft)
    mean, scale, w, b = _fit(tab, rows, mask)
    _, _, wp, bp = _fit(tab, rows, mask & PRE_MASK_A)
    params = base.with_(impact_g=gate, mean=tuple(map(float, mean)), scale=tuple(map(float, scale)),
                        weights=tuple(map(float, w)), bias=b, weights_partial=tuple(map(float, wp)),
                        bias_partial=bp, soft_enabled=soft_on, p_suspect=cut.suspect, p_fall=cut.fall,
                        p_suspect_partial=cut.suspect_partial, p_fall_partial=cut.fall_partial, tuned_on=name)
    report.update(design=design + ("+soft" if soft_on else ""), gate=gate,
                  cutoffs={"suspect": cut.suspect, "fall": cut.fall, "suspect_partial": cut.suspect_partial,
                           "fall_partial": cut.fall_partial}, cv_sensitivity=sens, cv_specificity=spec,
        weights=dict(zip(FEATURE_NAMES, map(float, w), strict=True)),
        weights_partial=dict(zip(FEATURE_NAMES, map(float, wp), strict=True)))
    return params, report


# ---------------------------------------------------------------- measuring
def measure(trials: list[Trial], found: list[list[FallDetection]]) -> dict:
    """Return per-trial sensitivity/specificity and false alarms per hour, fall-only and any-type."""
    is_fall = np.array([tr.label == "fall" for tr in trials])
    hours = sum(tr.hours for tr in trials if tr.label == "adl")
    out: dict = {"fall_trials": int(is_fall.sum()), "adl_trials": int((~is_fall).sum()), "adl_hours": hours}
    for name, kinds in (("fall_or_suspected", {"fall", "fall_suspected"}), ("fall_only", {"fall"})):
        n = np.array([sum(d.type in kinds for d in f) for f in found])
        out[name] = _rates(is_fall, n, hours)
    return out


def naive(trials: list[Trial], threshold_g: float = 3.0) -> dict:
    """Measure the naive baseline: a trial alarms if any raw sample exceeds `threshold_g`."""
    is_fall = np.array([tr.label == "fall" for tr in trials])
    hours = sum(tr.hours for tr in trials if tr.label == "adl")
    n = np.array([_peaks_over(tr, threshold_g) for tr in trials])
    return _rates(is_fall, n, hours)


def _peaks_over(tr: Trial, threshold_g: float) -> int:
    """Count alarms of the naive detector: separate runs over the threshold, 10 s refractory."""
    over = np.flatnonzero(np.linalg.norm(tr.xyz, axis=1) > threshold_g)
    count, last = 0, -math.inf
    for t in tr.t[over]:
        if t - last >= 10.0:
            count, last = count + 1, t
    return count


def _rates(is_fall: np.ndarray, n: np.ndarray, hours: float) -> dict:
    fa = int(n[~is_fall].sum())
    return {"sensitivity": float((n[is_fall] > 0).mean()), "specificity": float((n[~is_fall] == 0).mean()),
            "detected_falls": int((n[is_fall] > 0).sum()), "alarmed_adl_trials": int((n[~is_fall] > 0).sum()),
            "adl_false_alarms": fa, "false_alarms_per_hour": fa / hours if hours else math.nan}


# ---------------------------------------------------------------- report
def _pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def render(results: dict) -> str:
    """Render the results block of docs/detection.md."""
    lines = ["| trained on | tested on | detector | sensitivity | specificity | FA / h ADL | falls "
             "| ADL trials |",
             "|---|---|---|---|---|---|---|---|"]
    for row in results["rows"]:
        for label, key in (("fall or suspected", "fall_or_suspected"), ("fall only", "fall_only")):
            r = row["detector"][key]
            lines.append(f"| {row['trained_on']} | {row['tested_on']} | CareHub, {label} "
                         f"| {_pct(r['sensitivity'])} | {_pct(r['specificity'])} "
                         f"| {r['false_alarms_per_hour']:.2f} "
                         f"| {r['detected_falls']}/{row['detector']['fall_trials']}"
                         f" | {r['alarmed_adl_trials']}/{row['detector']['adl_trials']} alarmed |")
        r = row["naive_3g"]
        lines.append(f"| — | {row['tested_on']} | naive peak > 3 g | {_pct(r['sensitivity'])} | "
                     f"{_pct(r['specificity'])} | {r['false_alarms_per_hour']:.2f} "
                     f"| {r['detected_falls']}/{row['detector']['fall_trials']} "
                     f"| {r['alarmed_adl_trials']}/{row['detector']['adl_trials']} alarmed |")
    lines.append("")
    lines.append("Tuning (training-set CV only): " + "; ".join(
        f"{k}: {v['design']}, gate {v['gate']} g, CV {_pct(v['cv_sensitivity'])} / {_pct(v['cv_specificity'])}"
        for k, v in results["tuning"].items()) + ".")
    lines.append("")
    for k, v in results["limits"].items():
        lines.append(f"Dominance bound ({k}, `tools.fall_limits`): {v['falls_dominated_beyond_budget']} of "
                     f"{v['fall_trials']} falls are matched or exceeded on all four wrist measures by more than "
                     f"{v['adl_budget']} ADL recordings (5 %), so sensitivity at 95 % specificity is at most "
                     f"{_pct(v['sensitivity_upper_bound'])} for a detector monotone in them; "
                     f"{v['falls_under_2g']} falls never exceed 2 g ({v['falls_under_2g_turn_under_30deg']} of them "
                     f"also turn < 30 deg), {v['falls_under_3s']} recordings are shorter than 3 s.")
        lines.append("")
    lines.append("ADL hours observed: " + ", ".join(f"{k} {v:.2f} h" for k, v in results["adl_hours"].items())
                 + f". Run time {results['seconds']:.0f} s (CPU {results['cpu_seconds']:.0f} s).")
    return "\n".join(lines)


def _write_doc(block: str) -> None:
    start, end = "<!-- results:start -->", "<!-- results:end -->"
    text = DOC.read_text() if DOC.exists() else f"# Fall detection\n\n{start}\n{end}\n"
    if start not in text:
        text += f"\n{start}\n{end}\n"
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    DOC.write_text(f"{head}{start}\n{block}\n{end}{tail}")


def main(argv: list[str] | None = None) -> int:
    """Tune both ways, test both ways, print the table; write parameters and results."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--no-write", action="store_true", help="print only; leave files untouched")
    args = ap.parse_args(argv)
    wall, cpu = time.perf_counter(), time.process_time()
    trials = load_trials(args.data)
    base = FallParams()
    # Collect every impact (never emitted: cut-offs above 1) and where the impact-free trigger fires.
    collect = base.with_(impact_g=COLLECT_GATE, p_fall=2.0, p_suspect=2.0, p_fall_partial=2.0,
                         p_suspect_partial=2.0, soft_enabled=True)
    cands, soft = {}, {}
    for name, tr in trials.items():
        found, cands[name] = run_streams([(x.t, x.xyz) for x in tr], collect, keep_candidates=True)
        soft[name] = np.array([len(f) > 0 for f in found])
        print(f"{name}: {len(tr)} trials, {len(cands[name])} candidate impacts over {COLLECT_GATE} g",
              file=sys.stderr)
    tuned: dict[str, FallParams] = {}
    reports = {}
    for name, tr in trials.items():
        tuned[name], reports[name] = tune(tr, cands[name], soft[name], name, base)
    # Shipped default: the same procedure on both datasets together (its in-sample figures are not evidence).
    both = trials["umafall"] + trials["smartfallmm"]
    offset = len(trials["umafall"])
    both_cands = cands["umafall"] + [Candidate(c.device_key + offset, c.t, c.features, c.confidence, c.type,
                                               c.flushed) for c in cands["smartfallmm"]]
    tuned["both"], reports["both"] = tune(both, both_cands, np.r_[soft["umafall"], soft["smartfallmm"]],
                                          "umafall+smartfallmm", base)

    rows = []
    for train in ("umafall", "smartfallmm"):
        for test in ("umafall", "smartfallmm"):
            found, _ = run_streams([(x.t, x.xyz) for x in trials[test]], tuned[train])
            rows.append({"trained_on": train, "tested_on": test, "cross": train != test,
                         "detector": measure(trials[test], found), "naive_3g": naive(trials[test])})
    results = {
        "rows": rows, "tuning": reports,
        "adl_hours": {k: sum(x.hours for x in v if x.label == "adl") for k, v in trials.items()},
        "limits": {k: bound(v) for k, v in trials.items()},
        "seconds": time.perf_counter() - wall, "cpu_seconds": time.process_time() - cpu,
    }
    block = render(results)
    print(block)
    if not args.no_write:
        PARAMS_PATH.write_text(json.dumps({"default": tuned["both"].to_dict(),
                                           "tuned_on_umafall": tuned["umafall"].to_dict(),
                                           "tuned_on_smartfallmm": tuned["smartfallmm"].to_dict()},
                                          indent=1) + "\n")
        RESULTS_JSON.write_text(json.dumps(results, indent=1) + "\n")
        _write_doc(block)
    return 0


if __name__ == "__main__":
    sys.exit(main())
