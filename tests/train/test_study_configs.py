"""The configs under ``studies/`` still load: a study's README command must run after the code moves on."""

from __future__ import annotations

from pathlib import Path

import pytest

from wnae.config import load_config
from wnae.evaluate.config import EvaluateConfig
from wnae.evaluate.seeds import SeedCompareConfig
from wnae.models.config import TrainConfig

STUDIES = Path(__file__).resolve().parents[2] / "studies"
TRAIN_CONFIGS = sorted(STUDIES.glob("*/train_*.yml"))
SEED_COMPARES = sorted(p for p in STUDIES.glob("*/*.yml") if "entries:" in p.read_text() and "hlt" not in p.parent.name)


def test_the_studies_are_found():
    assert len(TRAIN_CONFIGS) >= 10
    assert len(SEED_COMPARES) >= 5


@pytest.mark.parametrize("path", TRAIN_CONFIGS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_study_training_config_loads(path):
    cfg = load_config(path, TrainConfig)
    assert cfg.model in ("two_stage", "wnae", "ae", "nae", "vae", "mlp_encoder")


@pytest.mark.parametrize("path", SEED_COMPARES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_study_comparison_names_configs_that_load(path):
    """Every entry of a ``wnae compare`` study names a training config that exists and loads."""
    compare = load_config(path, SeedCompareConfig)
    for entry in compare.entries:
        cfg = load_config(path.parent / entry.config, TrainConfig, overrides={"seed": entry.seeds[0]})
        assert cfg.seed == entry.seeds[0]
    if compare.evaluate_config is not None:
        load_config(path.parent / compare.evaluate_config, EvaluateConfig)
