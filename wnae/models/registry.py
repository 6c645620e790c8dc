"""Model families by name: a new model is one module that calls :func:`register_model`.

Example:
    >>> from wnae.models.registry import available_models
    >>> available_models()
    ['ae', 'mlp_encoder', 'nae', 'two_stage', 'vae', 'wnae']
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from wnae.errors import ModelError

__all__ = ["available_models", "build_model", "register_model"]

#: Modules that register the built-in families when imported (imported lazily: they need TensorFlow).
_BUILTIN_MODULES: dict[str, str] = {
    "ae": "wnae.models.wnae",
    "nae": "wnae.models.wnae",
    "wnae": "wnae.models.wnae",
    "vae": "wnae.models.vae",
    "mlp_encoder": "wnae.models.mlp_encoder",
    "two_stage": "wnae.models.two_stage",
}
_BUILDERS: dict[str, Callable[..., Any]] = {}


def register_model(name: str, builder: Callable[..., Any]) -> None:
    """Register ``builder(cfg, seed, *, n_classes, **options) -> ModelFamily`` under ``name``."""
    if name in _BUILDERS and _BUILDERS[name] is not builder:
        msg = f"model '{name}' is already registered"
        raise ModelError(msg)
    _BUILDERS[name] = builder


def available_models() -> list[str]:
    """Names of every known model family (built-in and registered)."""
    return sorted({*_BUILTIN_MODULES, *_BUILDERS})


def build_model(name: str, cfg: Any, seed: int, *, n_classes: int = 4, **options: Any) -> Any:
    """Build the family ``name`` from a :class:`~wnae.models.config.TrainConfig`.

    Args:
        name: a name from :func:`available_models`.
        cfg: the training config.
        seed: seed of the family's own random streams (replay buffer).
        n_classes: number of process labels (MLP encoder classification head).
        options: passed to the builder (``dim``, ``input_name``: an autoencoder family on a
            two-stage model's embedding).

    Raises:
        ModelError: unknown name.
    """
    if name not in _BUILDERS and name in _BUILTIN_MODULES:
        importlib.import_module(_BUILTIN_MODULES[name])
    if name not in _BUILDERS:
        msg = f"unknown model '{name}'; available: {', '.join(available_models())}"
        raise ModelError(msg)
    return _BUILDERS[name](cfg, seed, n_classes=n_classes, **options)
