"""Compile da4ml's numba kernels once, at install time, so the first ``make train`` does not pay for it.

da4ml solves each layer's constant matrix-vector product with numba functions compiled on first use
and cached on disk (``@jit(cache=True)``, in da4ml's ``__pycache__``). On a fresh environment the first
trace takes ~110 s on 2 cores, later ones 3–4 s; ``make train`` traces its kept epoch
(``firmware_budget``), so without this step the first ``make train`` on a new machine takes ~3.7 min
instead of ~2. ``make install`` runs ``python -m wnae.firmware.rtl.warmup``: it traces a small
untrained two-stage model (the default's layer types and quantizers, fewer units) on ``gt_run3``,
which compiles the same kernels (numba specialises on argument types, not sizes).
"""

from __future__ import annotations

import sys
import time

from wnae.config import parse_config
from wnae.firmware.config import resolve_target
from wnae.firmware.rtl.flow import DesignEstimate, estimate_design
from wnae.models.config import TrainConfig
from wnae.models.registry import build_model
from wnae.models.serialization import as_deployed

__all__ = ["compile_kernels"]

#: A small two-stage model with the default's layer types and quantizers (57 L1 inputs → 8 → 4, head 4 → 2 → 4).
_SMALL_TWO_STAGE = {
    "model": "two_stage",
    "epochs": 2,
    "normalisation": "l1_hardware",
    "extractor": {"widths": [8], "embedding_dim": 4, "epochs": 1},
    "head": {"model": "wnae", "latent_dim": 2},
}


def compile_kernels(target: str = "gt_run3") -> tuple[DesignEstimate, float]:
    """Trace a small untrained two-stage model with da4ml on ``target``; returns its estimate and the seconds taken
    (the first call in an environment compiles and caches da4ml's kernels)."""
    cfg = parse_config(TrainConfig, _SMALL_TWO_STAGE)
    model = as_deployed(build_model(cfg.model, cfg, cfg.seed).deploy_model())
    start = time.perf_counter()
    estimate = estimate_design(model, resolve_target(target))
    return estimate, time.perf_counter() - start


if __name__ == "__main__":
    _, seconds = compile_kernels()
    sys.stdout.write(f"da4ml kernels compiled and cached ({seconds:.0f} s)\n")
