"""Fake runs for the evaluation tests: no dependency on wnae.models."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest


class SumPtRun:
    """Score = scalar sum of pT (GeV); latent = a fixed random projection of the 57 features."""

    def __init__(self, name: str = "fake", model: str = "ae", scale: float = 1.0, seed: int = 0) -> None:
        self.name = name
        self.info = {"model": model, "deployed_output": "score"}
        self.scale = scale
        self._projection = np.random.default_rng(seed).normal(size=(57, 3))

    def anomaly_score(self, particles: np.ndarray) -> np.ndarray:
        return self.scale * particles[..., 0].sum(axis=1).astype(np.float64)

    def latent(self, particles: np.ndarray) -> np.ndarray:
        return particles[:, :, :3].reshape(len(particles), 57) @ self._projection


def make_run_dir(runs_dir: Path, name: str, model: str = "ae", history: bool = True) -> Path:
    """A run directory the way the models step writes it (the model file is a placeholder)."""
    run = runs_dir / name
    run.mkdir(parents=True)
    (run / "run.json").write_text(json.dumps({"model": model, "deployed_output": "score"}))
    (run / "deploy.h5").write_bytes(b"placeholder")
    if history:
        (run / "history.json").write_text(json.dumps({"loss": [1.0, 0.5, 0.3], "val_loss": [1.1, 0.6, 0.4]}))
    return run


@pytest.fixture
def fake_models(monkeypatch):
    """Make ``load_scorer`` return a :class:`SumPtRun` for any run directory (model from run.json)."""
    import wnae.evaluate.scores as scores_module

    def load(run_dir: Path) -> SumPtRun:
        info = json.loads((run_dir / "run.json").read_text())
        return SumPtRun(run_dir.name, info["model"], scale=2.0 if info["model"] == "vae" else 1.0)

    monkeypatch.setattr(scores_module, "_load_model_run", load)
    return load
