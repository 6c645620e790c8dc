"""Magnitude pruning of QDense kernels (Zhu & Gupta, "To prune, or not to prune", arXiv:1710.01878).

After every optimizer step of a layer, its ``n·s`` smallest-magnitude kernel entries are set to
zero, with the sparsity ``s`` on the polynomial schedule ``s_f·(1 − (1 − t)³)``, ``t`` going from 0 at
``begin`` to 1 at ``end`` epochs of the layer's own training (:class:`~wnae.models.config.PruningConfig`).
The mask is recomputed from the magnitudes at every step, so it needs no state of its own: the
weights in the checkpoint are all a resumed run needs, and a weight pruned early can come back if
training makes it large again.

Masks are applied by hand rather than with tensorflow-model-optimization's
``prune_low_magnitude``: its ``PruneLowMagnitude`` wrappers change the layer graph that the
deployed model, its checkpoints and the hls4ml / da4ml conversions share; zeros in a plain
``QDense`` kernel are what the firmware needs (da4ml drops them; hls4ml skips zero multiplications).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from wnae.errors import ConfigError

__all__ = ["MagnitudePruner", "PrunedLayer", "kernel_sparsity", "target_sparsity"]


def target_sparsity(final: float, trained: float, begin: float, end: float) -> float:
    """The schedule's sparsity after ``trained`` (fractional) epochs of a layer's training."""
    if final <= 0 or trained < begin:
        return 0.0
    t = 1.0 if end <= begin else min(1.0, (trained - begin) / (end - begin))
    return final * (1.0 - (1.0 - t) ** 3)


def kernel_sparsity(layer: Any) -> float:
    """Fraction of a QDense layer's *quantized* kernel entries that are zero (what goes on chip)."""
    kernel = layer.kernel
    if getattr(layer, "kernel_quantizer_internal", None) is not None:
        kernel = layer.kernel_quantizer_internal(kernel)
    return float(np.mean(np.asarray(kernel) == 0))


@dataclass
class PrunedLayer:
    """A layer to prune and the epochs ``[first_epoch, last_epoch)`` in which it trains."""

    layer: Any
    first_epoch: int
    last_epoch: int


class MagnitudePruner:
    """Prunes the kernels of ``layers`` after each training step (see the module docstring).

    Args:
        cfg: :class:`~wnae.models.config.PruningConfig`.
        layers: every candidate layer with its training epochs; ``cfg.layers`` (if given) selects
            by name, and a name that is not a candidate is a :class:`ConfigError`.
        steps_per_epoch: optimizer steps per epoch (for the progress within an epoch).
    """

    def __init__(self, cfg: Any, layers: list[PrunedLayer], steps_per_epoch: int) -> None:
        self.cfg = cfg
        self.steps_per_epoch = max(1, steps_per_epoch)
        names = {p.layer.name for p in layers}
        unknown = sorted(set(cfg.layers) - names)
        if unknown:
            msg = (
                f"pruning.layers: no prunable QDense layer named {', '.join(unknown)}; "
                f"the model has {', '.join(sorted(names))}"
            )
            raise ConfigError(msg)
        self.layers = [p for p in layers if not cfg.layers or p.layer.name in cfg.layers] if cfg.sparsity > 0 else []

    @property
    def active(self) -> bool:
        return bool(self.layers)

    def at_target(self, epoch: int) -> bool:
        """Whether, after epoch ``epoch`` (0-based), every pruned layer has its final sparsity (or has stopped training)."""
        done = epoch + 1
        return all(done - p.first_epoch >= self.cfg.end or done >= p.last_epoch for p in self.layers)

    def step(self, epoch: int, step: int) -> None:
        """Prune after optimizer step ``step`` (0-based, within ``epoch``) the layers training in ``epoch``."""
        for p in self.layers:
            if not p.first_epoch <= epoch < p.last_epoch:
                continue
            trained = epoch - p.first_epoch + (step + 1) / self.steps_per_epoch
            self._prune(p.layer, target_sparsity(self.cfg.sparsity, trained, self.cfg.begin, self.cfg.end))

    @staticmethod
    def _prune(layer: Any, sparsity: float) -> None:
        kernel = layer.kernel.numpy()
        n_zero = int(np.floor(sparsity * kernel.size))
        if n_zero == 0:
            return
        order = np.argsort(np.abs(kernel), axis=None, kind="stable")
        flat = kernel.reshape(-1).copy()
        flat[order[:n_zero]] = 0.0
        layer.kernel.assign(flat.reshape(kernel.shape))

    def sparsity_report(self) -> dict[str, float]:
        """Layer name → fraction of zeros of its quantized kernel, for every pruned layer."""
        return {p.layer.name: kernel_sparsity(p.layer) for p in self.layers}
