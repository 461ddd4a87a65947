"""Tune the fall detector on one real dataset, test it on the other, both ways; print and save.

    .venv/bin/python -m hub.detect.evaluate [--data /work/shared/data/falls] [--no-write]

Every recording is replayed through the streaming detector exactly like `carehub replay accel`
(1-second chunks, fresh slot per file, pending candidate decided at end of file). Tuning sees only
the training dataset: candidate impacts are collected with a low gate, a logistic model is fitted
on their features, and the gate and the two probability cut-offs are chosen from subject-grouped
cross-validation inside the training set. The test dataset is then replayed once with the frozen
parameters. The naive baseline (any raw sample |a| > 3 g means fall) uses the same files and the
same per-trial accounting. Writes hub/detect/fall_params.json, docs/detection_results.json and the
results block of docs/detection.md.
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
from hub.detect.features import FEATURE_NAMES, model_inputs
from hub.detect.replay import read_accel_csv, run_streams

DATA = Path("/work/shared/data/falls")
ROOT = Path(__file__).resolve().parents[2]
RESULTS_JSON = ROOT / "docs" / "detection_results.json"
DOC = ROOT / "docs" / "detection.md"
DATASETS = {"umafall": "umafall_wrist", "smartfallmm": "smartfallmm_watch"}
GATES = (1.4, 1.6, 1.8, 2.0, 2.2, 2.5, 3.0)
COLLECT_GATE = min(GATES)
TARGET_SPEC = 0.96  # cross-validated specificity aimed for when picking the suspect cut-off
FALL_SPEC = 0.99  # ... and for the confident "fall" cut-off
RIDGE = 1.0
FOLDS = 5


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
    return CandidateTable(x, peak, trial, target)


def _scores(tab: CandidateTable, rows: np.ndarray, mean: np.ndarray, scale: np.ndarray,
            w: np.ndarray, b: float) -> np.ndarray:
    z = (tab.x[rows] - mean) / scale
    z = np.where(np.isnan(z), 0.0, z)
    return 1.0 / (1.0 + np.exp(-(z @ w + b)))


def _fit(tab: CandidateTable, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    train = rows[tab.target[rows] >= 0]
    mean = np.nanmean(tab.x[train], axis=0)
    scale = np.nanstd(tab.x[train], axis=0) + 1e-6
    z = np.where(np.isnan(tab.x[train]), 0.0, (tab.x[train] - mean) / scale)
    w, b = _fit_logistic(z, tab.target[train].astype(np.float64))
    return mean, scale, w, b


def _trial_scores(tab: CandidateTable, rows: np.ndarray, p: np.ndarray, n_trials: int) -> np.ndarray:
    score = np.zeros(n_trials)
    np.maximum.at(score, tab.trial[rows], p)
    return score


def _cutoff(score: np.ndarray, is_fall: np.ndarray, spec: float) -> float:
    """Return the lowest cut-off whose specificity on these trials reaches `spec`."""
    adl = np.sort(score[~is_fall])
    k = int(math.ceil(spec * len(adl)))  # at least k ADL trials must score below the cut-off
    return float(np.nextafter(adl[k - 1], np.inf)) if k >= 1 else 0.0


def tune(trials: list[Trial], cands: list[Candidate], name: str, base: FallParams) -> tuple[FallParams, dict]:
    """Pick gate, model and cut-offs on `trials` only (subject-grouped CV); return params and a report."""
    tab = candidate_table(trials, cands)
    is_fall = np.array([tr.label == "fall" for tr in trials])
    subjects = sorted({f"{tr.group}/{tr.subject}" for tr in trials})
    fold_of_subject = {s: i % FOLDS for i, s in enumerate(subjects)}
    fold = np.array([fold_of_subject[f"{tr.group}/{tr.subject}"] for tr in trials])
    report: dict = {"trained_on": name, "gates": {}}
    best: tuple[float, float, float, float] | None = None
    for gate in GATES:
        rows_all = np.flatnonzero(tab.peak > gate)
        oof = np.zeros(len(trials))
        for f in range(FOLDS):
            tr_rows = rows_all[fold[tab.trial[rows_all]] != f]
            te_rows = rows_all[fold[tab.trial[rows_all]] == f]
            mean, scale, w, b = _fit(tab, tr_rows)
            np.maximum.at(oof, tab.trial[te_rows], _scores(tab, te_rows, mean, scale, w, b))
        cut = max(_cutoff(oof, is_fall, TARGET_SPEC), 1e-3)
        sens = float((oof[is_fall] >= cut).mean())
        spec = float((oof[~is_fall] < cut).mean())
        report["gates"][str(gate)] = {"cv_sensitivity": sens, "cv_specificity": spec}
        if best is None or sens + spec > best[0] + best[1] + 1e-9:
            best = (sens, spec, gate, cut)
    assert best is not None
    _, _, gate, _ = best
    rows_all = np.flatnonzero(tab.peak > gate)
    oof = np.zeros(len(trials))
    for f in range(FOLDS):
        tr_rows = rows_all[fold[tab.trial[rows_all]] != f]
        te_rows = rows_all[fold[tab.trial[rows_all]] == f]
        np.maximum.at(oof, tab.trial[te_rows], _scores(tab, te_rows, *_fit(tab, tr_rows)))
    p_suspect = max(_cutoff(oof, is_fall, TARGET_SPEC), 1e-3)
    p_fall = max(_cutoff(oof, is_fall, FALL_SPEC), p_suspect)
    mean, scale, w, b = _fit(tab, rows_all)
    params = base.with_(impact_g=gate, mean=tuple(map(float, mean)), scale=tuple(map(float, scale)),
                        weights=tuple(map(float, w)), bias=b, p_suspect=p_suspect, p_fall=p_fall,
                        tuned_on=name)
    report.update(gate=gate, p_suspect=p_suspect, p_fall=p_fall,
                  cv_sensitivity=best[0], cv_specificity=best[1],
                  weights=dict(zip(FEATURE_NAMES, map(float, w), strict=True)))
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
    collect = base.with_(impact_g=COLLECT_GATE, p_fall=2.0, p_suspect=2.0)
    cands = {}
    for name, tr in trials.items():
        cands[name] = run_streams([(x.t, x.xyz) for x in tr], collect, keep_candidates=True)[1]
        print(f"{name}: {len(tr)} trials, {len(cands[name])} candidate impacts over {COLLECT_GATE} g",
              file=sys.stderr)
    tuned: dict[str, FallParams] = {}
    reports = {}
    for name, tr in trials.items():
        tuned[name], reports[name] = tune(tr, cands[name], name, base)
    # Shipped default: the same procedure on both datasets together (its in-sample figures are not evidence).
    both = trials["umafall"] + trials["smartfallmm"]
    offset = len(trials["umafall"])
    both_cands = cands["umafall"] + [Candidate(c.device_key + offset, c.t, c.features, c.confidence, c.type)
                                     for c in cands["smartfallmm"]]
    tuned["both"], reports["both"] = tune(both, both_cands, "umafall+smartfallmm", base)

    rows = []
    for train in ("umafall", "smartfallmm"):
        for test in ("umafall", "smartfallmm"):
            found, _ = run_streams([(x.t, x.xyz) for x in trials[test]], tuned[train])
            rows.append({"trained_on": train, "tested_on": test, "cross": train != test,
                         "detector": measure(trials[test], found), "naive_3g": naive(trials[test])})
    results = {
        "rows": rows, "tuning": reports,
        "adl_hours": {k: sum(x.hours for x in v if x.label == "adl") for k, v in trials.items()},
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
