"""How well a trained model's density exp(−E/T) fits the data, read from its run directory.

Every WNAE run (and an AE or NAE trained with the diagnostics on: its energy is measured the same
way) measures at its kept epoch the exact W (squared Euclidean, in the space the energy lives in)
between its sampler's samples and held-out data, over the two-sample floor (1 = as close as two
disjoint samples of the data): once on the chains of training (the larger of W and W after
``long_steps`` more steps, what ``keep_epoch: best_w`` minimises), and once after
``equilibrium_steps`` more steps, where the samples follow exp(−E/T) itself rather than the short
chains. Short chains can match the data while the energy's density does not; a multi-seed
comparison shows both (``wnae compare``, :mod:`wnae.evaluate.seeds`).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from wnae.models.run_files import read_json

__all__ = ["FIT_KEYS", "run_density_fit"]

#: The per-run values :func:`run_density_fit` returns, in table order.
FIT_KEYS = (
    "w_over_floor",
    "energy_ratio",
    "neg_std_ratio",
    "w_over_floor_equilibrium",
    "energy_ratio_equilibrium",
    "neg_std_ratio_equilibrium",
)

RUN_METRICS = "metrics.json"


def _value(section: dict[str, Any], key: str) -> float | None:
    value = section.get(key)
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


def run_density_fit(run_dir: str | Path) -> dict[str, Any] | None:
    """The density fit a run measured at its kept epoch, or None for a model without one (a VAE).

    Returns:
        ``{"w_over_floor", "energy_ratio", "neg_std_ratio"}`` of the trained chains (W over the
        floor: the larger of W and W after the long-chain steps; ⟨E₋⟩/⟨E₊⟩; the samples' spread
        over the data's), the same three after the equilibrium steps (``*_equilibrium``, None where
        the run did not measure them), and ``equilibrium_steps`` (0 where not measured).

    Raises:
        ModelError: ``metrics.json`` is missing, not a JSON object, or its ``kept`` or ``equilibrium``
            is not an object (named, by :func:`~wnae.models.run_files.read_json`).
    """
    metrics = read_json(
        Path(run_dir) / RUN_METRICS,
        optional={"kept": dict, "equilibrium": dict},
        hint="the run did not finish: train it again or resume it",
    )
    kept = metrics.get("kept") or {}
    short, long = _value(kept, "w_ratio"), _value(kept, "w_long_ratio")
    if short is None and long is None:
        return None
    equilibrium = metrics.get("equilibrium") or {}
    return {
        "w_over_floor": max(v for v in (short, long) if v is not None),
        "energy_ratio": _value(kept, "diag_energy_ratio"),
        "neg_std_ratio": _value(kept, "diag_neg_std_ratio"),
        "equilibrium_steps": int(equilibrium.get("steps", 0)),
        "w_over_floor_equilibrium": _value(equilibrium, "w_equilibrium_ratio"),
        "energy_ratio_equilibrium": _value(equilibrium, "diag_energy_ratio_equilibrium"),
        "neg_std_ratio_equilibrium": _value(equilibrium, "diag_neg_std_ratio_equilibrium"),
    }
