"""``learning_rate_schedule``: the rate each optimizer trains with, epoch by epoch, and resumes with."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from tests.conftest import write_toy_data_dir
from wnae.config import parse_config
from wnae.errors import ConfigError
from wnae.models.config import LearningRateScheduleConfig, TrainConfig, scheduled_learning_rate
from wnae.models.serialization import load_training_model
from wnae.models.vicreg import VicregFamily
from wnae.models.wnae import AutoencoderFamily
from wnae.train.loop import train

COSINE = {"kind": "cosine", "final_factor": 0.1}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return write_toy_data_dir(tmp_path_factory.mktemp("toy") / "data", n_background=300)


def test_constant_is_the_learning_rate_at_every_epoch():
    constant = LearningRateScheduleConfig()
    assert [scheduled_learning_rate(constant, 3e-3, e, 7) for e in range(7)] == [3e-3] * 7


def test_cosine_starts_at_the_rate_ends_at_its_final_factor_and_falls_in_between():
    cosine = LearningRateScheduleConfig(**COSINE)
    rates = [scheduled_learning_rate(cosine, 2e-3, e, 11) for e in range(11)]
    assert rates[0] == pytest.approx(2e-3)
    assert rates[-1] == pytest.approx(2e-4)
    assert rates[5] == pytest.approx(1.1e-3)  # half-way: the mean of the two ends
    assert all(a > b for a, b in itertools.pairwise(rates))
    assert scheduled_learning_rate(cosine, 2e-3, 0, 1) == 2e-3  # a one-epoch stage trains at the rate


def test_a_final_factor_outside_0_1_is_refused_with_the_option_named():
    with pytest.raises(ConfigError, match="final_factor"):
        parse_config(TrainConfig, {"learning_rate_schedule": {"kind": "cosine", "final_factor": 1.5}})
    with pytest.raises(ConfigError, match="kind"):
        parse_config(TrainConfig, {"learning_rate_schedule": {"kind": "linear"}})


def _recorded_rates(monkeypatch, family_class) -> dict[int, float]:
    """The optimizer's learning rate at the first step of every epoch the family trains."""
    seen: dict[int, float] = {}
    original = family_class.train_step

    def recording(self, batch, epoch):
        seen.setdefault(epoch, float(self.optimizer.learning_rate.numpy()))
        return original(self, batch, epoch)

    monkeypatch.setattr(family_class, "train_step", recording)
    return seen


def _cosine_head(e: int) -> float:
    """The head's rate at its epoch e of 4 under COSINE from 2e-3."""
    return 2e-4 + 1.8e-3 * 0.5 * (1 + math.cos(math.pi * e / 3))


@pytest.mark.slow
@pytest.mark.parametrize(
    ("head_extra", "head_rates"),
    [
        ({}, [_cosine_head(e) for e in range(4)]),  # the run's schedule, over the head's own 4 epochs
        ({"learning_rate_schedule": {"kind": "constant"}}, [2e-3] * 4),  # the head's own: the extractor alone decays
        ({"learning_rate": 5e-3, "learning_rate_schedule": {"kind": "constant"}}, [5e-3] * 4),  # its own rate too
    ],
)
def test_each_stage_of_a_two_stage_model_follows_its_schedule_over_its_own_epochs(
    head_extra, head_rates, data_dir, tmp_path, monkeypatch
):
    head = {"model": "wnae", "latent_dim": 2, **head_extra}
    cfg = parse_config(
        TrainConfig,
        {
            "model": "two_stage",
            "epochs": 6,
            "batch_size": 128,
            "learning_rate": 2e-3,
            "learning_rate_schedule": COSINE,
            "extractor": {"widths": [8], "embedding_dim": 4, "epochs": 2},
            "head": head,
            "mcmc": {"steps": 2, "buffer_size": 512, "pretrain_epochs": 1, "diagnostics": {"events": 0}},
        },
    )
    extractor_seen = _recorded_rates(monkeypatch, VicregFamily)
    head_seen = _recorded_rates(monkeypatch, AutoencoderFamily)
    train(cfg, data_dir=data_dir, runs_dir=tmp_path, name="cos", progress=False)
    assert extractor_seen == pytest.approx({0: 2e-3, 1: 2e-4})  # two epochs: first and last
    assert head_seen == pytest.approx(dict(enumerate(head_rates)))  # the head's epochs 0-3 (AE warm-up included)


@pytest.mark.slow
def test_a_cosine_run_interrupted_and_resumed_is_bit_identical(data_dir, tmp_path, monkeypatch):
    """The rate is set from the epoch at every epoch, so the resumed run continues the same schedule."""
    base = {
        "model": "wnae",
        "epochs": 3,
        "batch_size": 128,
        "learning_rate_schedule": COSINE,
        "architecture": {"encoder": [8], "latent_dim": 2},
        "mcmc": {"steps": 2, "buffer_size": 512, "pretrain_epochs": 1, "diagnostics": {"events": 0}},
    }
    cfg = parse_config(TrainConfig, base)
    reference = train(cfg, data_dir=data_dir, runs_dir=tmp_path, name="ref", progress=False)
    original, calls = AutoencoderFamily.train_step, {"n": 0}

    def interrupted(self, batch, epoch):
        if epoch == 2:
            calls["n"] += 1
            if calls["n"] == 2:
                raise KeyboardInterrupt
        return original(self, batch, epoch)

    monkeypatch.setattr(AutoencoderFamily, "train_step", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train(cfg, data_dir=data_dir, runs_dir=tmp_path, name="cut", progress=False)
    monkeypatch.setattr(AutoencoderFamily, "train_step", original)
    resumed = train(cfg, data_dir=data_dir, runs_dir=tmp_path, name="cut", resume=True, progress=False)
    assert resumed.history["loss"] == reference.history["loss"]
    before, after = (load_training_model(r.run_dir).networks["autoencoder"] for r in (reference, resumed))
    for a, b in zip(before.get_weights(), after.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
