"""The shipped generation presets: valid, and the rate-tail preset is the default with larger hard-QCD slices."""

from __future__ import annotations

from pathlib import Path

import yaml

from wnae.config import parse_config
from wnae.data.generate.config import GenerateConfig

CONFIGS = Path(__file__).resolve().parents[3] / "wnae" / "configs"


def _load(name: str) -> GenerateConfig:
    return parse_config(GenerateConfig, yaml.safe_load((CONFIGS / name).read_text()))


def test_the_rate_tail_preset_changes_only_the_output_and_the_slice_sizes():
    """Every other sample is the default event for event, so runs trained on data/ are evaluated on
    the same SM test split and signals, and only the zero bias that sets the rates grows."""
    default, tail = _load("generate_default.yml"), _load("generate_rate_tail.yml")
    assert tail.output_dir != default.output_dir
    assert tail.zero_bias_slices.pthat_edges_gev == default.zero_bias_slices.pthat_edges_gev
    grown = [t / d for t, d in zip(tail.zero_bias_slices.n_events, default.zero_bias_slices.n_events, strict=True)]
    assert grown[:3] == [12, 4, 2] and grown[3:] == [1, 1, 1, 1]
    same = {"output_dir": None, "zero_bias_slices": None}
    assert tail.model_copy(update=same) == default.model_copy(update=same)


def test_the_study_preset_is_the_rate_tail_preset_with_50k_events_per_sm_process():
    """The HLT study's scale: only the SM cocktail grows, so its zero bias, slices and signals are
    the rate-tail files, reused event for event."""
    tail, study = _load("generate_rate_tail.yml"), _load("generate_study.yml")
    assert study.output_dir not in (tail.output_dir, _load("generate_default.yml").output_dir)
    sm = ("dy", "qcd", "ttbar", "wjets")
    assert all(study.samples[p].n_events == 50_000 for p in sm)
    assert study.pf is not None
    others = {k: v for k, v in study.samples.items() if k not in sm}
    assert others == {k: v for k, v in tail.samples.items() if k not in sm}
    assert set(study.samples) == set(tail.samples)
    blank = {"output_dir": None, "samples": {}}
    assert study.model_copy(update=blank) == tail.model_copy(update=blank)
