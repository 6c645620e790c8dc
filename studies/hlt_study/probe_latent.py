"""What an HLT encoder's latent keeps of simple event observables: linear and k-NN probes.

Reads trained HLT runs and the SM test split of a data set (PF candidates), and prints, per run, the
cross-validated R^2 of predicting each observable from z (ridge regression, and k nearest neighbours on
the standardised z), and the Spearman correlation of the anomaly score -log p(z) with the observable.
No signal is read: this asks which information each latent carries, not how a trigger does.

    .venv/bin/python studies/hlt_study/probe_latent.py --data-dir data_study \\
        hlt_runs_study/pf_mlp-s0 hlt_runs_study_linformer_displacement/linformer-s0
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr
from sklearn.linear_model import RidgeCV
from sklearn.model_selection import KFold, cross_val_score
from sklearn.neighbors import KNeighborsRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from wnae.hlt.model import load_hlt_run
from wnae.train.data_source import load_sm_split

# Stored candidate columns: pT (GeV), eta, phi (rad), d_xy (mm), d_xy/sigma, class (1 e, 2 mu, 3 gamma, 4 h+-, 5 h0).
PT, ETA, PHI, DXY, SIG, CLASS = range(6)


def observables(pf: np.ndarray) -> dict[str, np.ndarray]:
    """Per-event observables of the stored candidates (all slots, not just the encoder's)."""
    pt, cls = pf[..., PT], np.rint(pf[..., CLASS])
    filled = cls > 0
    lepton = (cls == 1) | (cls == 2)
    displaced = filled & (np.abs(pf[..., SIG]) > 3.0) & (pt > 1.0)
    px = np.where(filled, pt * np.cos(pf[..., PHI]), 0.0).sum(axis=1)
    py = np.where(filled, pt * np.sin(pf[..., PHI]), 0.0).sum(axis=1)
    return {
        "log(1 + leading candidate pT)": np.log1p(np.where(filled, pt, 0.0).max(axis=1)),
        "log(1 + leading lepton pT)": np.log1p(np.where(lepton, pt, 0.0).max(axis=1)),
        "log(1 + sum pT)": np.log1p(np.where(filled, pt, 0.0).sum(axis=1)),
        "log(1 + missing pT of the candidates)": np.log1p(np.hypot(px, py)),
        "number of candidates": filled.sum(axis=1).astype(float),
        "log(1 + displaced sum pT)": np.log1p(np.where(displaced, pt, 0.0).sum(axis=1)),
    }


def probe_table(
    z: np.ndarray, score: np.ndarray, obs: dict[str, np.ndarray], seed: int
) -> list[tuple[str, float, float, float]]:
    folds = KFold(5, shuffle=True, random_state=seed)
    linear = make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-3, 3, 13)))
    knn = make_pipeline(StandardScaler(), KNeighborsRegressor(n_neighbors=25))
    rows = []
    for name, y in obs.items():
        r2_lin = float(np.mean(cross_val_score(linear, z, y, cv=folds, scoring="r2")))
        r2_knn = float(np.mean(cross_val_score(knn, z, y, cv=folds, scoring="r2")))
        rho = float(spearmanr(score, y).statistic)
        rows.append((name, r2_lin, r2_knn, rho))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="HLT run directories")
    parser.add_argument("--data-dir", type=Path, default=Path("data_study"))
    parser.add_argument("--events", type=int, default=20000, help="SM test events (drawn with --seed)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    events = load_sm_split(args.data_dir, "test", args.events, args.seed, with_pf=True)
    assert events.pf_cands is not None
    obs = observables(events.pf_cands)
    print(f"{len(events.pf_cands)} SM test events of {args.data_dir} (seed {args.seed}); 5-fold CV")
    for run_dir in args.runs:
        run = load_hlt_run(run_dir)
        z = run.latent(events.pf_cands)
        score = run.anomaly_score(events.pf_cands)
        print(f"\n{run_dir} ({run.config.encoder.kind}, latent {z.shape[1]})")
        print("| observable | R^2 linear | R^2 k-NN | Spearman(score, obs) |")
        print("|---|---:|---:|---:|")
        for name, lin, knn, rho in probe_table(z, score, obs, args.seed):
            print(f"| {name} | {lin:.3f} | {knn:.3f} | {rho:+.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
