"""Draw docs/pf_physics_checks.png: the VBF rapidity gap and CHS against pile-up (README, PF section).

    .venv/bin/python docs/pf_physics_checks.py      # reads data/ (make data); ~30 s
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from wnae.data.generate.pf import PFClass, PFConfig, build_pf_candidates
from wnae.data.generate.pileup import overlay_pileup
from wnae.data.generate.processes import PROCESSES
from wnae.data.generate.pythia import PythiaRunner
from wnae.data.io import read_events

TRACKS = (PFClass.ELECTRON, PFClass.MUON, PFClass.CHARGED_HADRON)


def widest_jet_pair_deta(sample: str) -> np.ndarray:
    """Δη of the widest pair of L1 jets with pT > 20 GeV, in events with two or more."""
    jets = read_events(Path("data") / f"{sample}.h5").particles[:, 9:]
    eta = np.where((jets[..., 3] == 4) & (jets[..., 0] > 20), jets[..., 1], np.nan)
    eta = eta[(~np.isnan(eta)).sum(axis=1) >= 2]
    return np.nanmax(eta, axis=1) - np.nanmin(eta, axis=1)


def track_multiplicity(mus: list[float], n: int = 100) -> dict[bool, list[float]]:
    """Mean PF track multiplicity of Drell-Yan events at each pile-up, with and without CHS."""
    hard = PythiaRunner(PROCESSES["dy"].settings, 9).next_batch(n)
    pool = PythiaRunner(PROCESSES["zero_bias"].settings, 10).next_batch(500)
    out: dict[bool, list[float]] = {True: [], False: []}
    for mu in mus:
        merged, _ = overlay_pileup(hard, pool, mu, [np.random.default_rng([1, i]) for i in range(n)])
        for chs in (True, False):
            pf = build_pf_candidates(merged, [np.random.default_rng([2, i]) for i in range(n)],
                                     PFConfig(n_max=1024, chs=chs), dtype=np.float32)
            out[chs].append(float(np.isin(pf[..., 5], TRACKS).sum(axis=1).mean()))
    return out


def main() -> None:
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    bins = np.linspace(0, 8, 33)
    for sample in ("vbf_htautau", "ttbar", "h0_tautau"):
        deta = widest_jet_pair_deta(sample)
        left.hist(deta, bins=bins, histtype="step", density=True, label=f"{sample} (median {np.median(deta):.2f})")
    left.set_xlabel(r"$\Delta\eta$ of the widest L1-jet pair ($p_T > 20$ GeV)")
    left.set_ylabel("fraction / bin width")
    left.legend(fontsize=8)
    mus = [0.0, 20.0, 40.0, 60.0, 80.0]
    mult = track_multiplicity(mus)
    right.plot(mus, mult[True], "o-", label="CHS")
    right.plot(mus, mult[False], "s--", label="no CHS")
    right.set_xlabel(r"pile-up $\mu$")
    right.set_ylabel("PF tracks per Drell-Yan event")
    right.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(Path(__file__).with_name("pf_physics_checks.png"), dpi=110)
    print("CHS", [round(x, 1) for x in mult[True]], "no CHS", [round(x, 1) for x in mult[False]])


if __name__ == "__main__":
    main()
