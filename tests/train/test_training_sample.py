"""Training on the weighted zero bias (``training_sample: zero_bias``) beside the SM cocktail."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import random_particles, write_toy_data_dir
from wnae.config import parse_config
from wnae.data.io import EventSet, write_events
from wnae.data.samples import SM_PROCESSES, SampleInfo, SampleRole, Split, write_manifest
from wnae.errors import ConfigError, DataError
from wnae.models.config import TrainConfig
from wnae.train.data_source import MemorySource, load_training_split, open_source


def _weighted_zero_bias_dir(data_dir, n_soft: int = 500, n_hard: int = 500, soft_share: float = 0.9):
    """Four SM processes (unweighted) and a weighted zero bias: a soft unbiased sample and a hard slice.

    The soft rows carry ``soft_share`` of the crossings, the hard slice the rest, per event
    ``share / n_generated``; hard events have pT × 20 so they can be told apart.
    """
    rows = []
    for i, (label, name) in enumerate(SM_PROCESSES.items()):
        p = random_particles(200, seed=10 + i)
        write_events(data_dir / f"{name}.h5", EventSet(p, np.full(len(p), label), np.full(len(p), name)))
        rows.append(SampleInfo(name, SampleRole.BACKGROUND, label, f"{name}.h5", len(p), len(p), 1e3, 1.0))
    soft = random_particles(n_soft, seed=20)
    soft[..., 0] = np.minimum(soft[..., 0], 10.0)
    hard = random_particles(n_hard, seed=21)
    hard[..., 0] = np.maximum(hard[..., 0], 0.5 * (hard[..., 0] > 0)) * 20.0
    for name, p, share in (("zero_bias", soft, soft_share), ("qcd_hard", hard, 1 - soft_share)):
        write_events(data_dir / f"{name}.h5", EventSet(p, np.full(len(p), -1), np.full(len(p), name)))
        rows.append(
            SampleInfo(
                name, SampleRole.ZERO_BIAS, -1, f"{name}.h5", len(p), len(p), 8e10, 1e8, zb_weight=share / len(p)
            )
        )
    write_manifest(data_dir, rows)
    return data_dir


def _cfg(**extra):
    return parse_config(
        TrainConfig,
        {
            "model": "ae",
            "batch_size": 50,
            "architecture": {"encoder": [8], "latent_dim": 2},
            "loading": {"mode": "memory"},
            **extra,
        },
    )


def test_the_zero_bias_sample_reads_the_weighted_rows_of_one_split_with_their_weights(tmp_path):
    data_dir = _weighted_zero_bias_dir(tmp_path)
    events, weights = load_training_split(data_dir, Split.TRAIN, "zero_bias")
    assert len(events) == 300 + 300  # 60 % of each zero-bias row, no SM row (they have no zb_weight here)
    assert set(np.unique(events.sample_name)) == {"zero_bias", "qcd_hard"}
    # each row's split stands for the row's share of the crossings: 0.9 and 0.1 over 300 events each
    np.testing.assert_allclose(np.unique(weights), sorted([0.9 / 300, 0.1 / 300]))
    assert float(np.sum(weights)) == pytest.approx(1.0)
    sm, sm_weights = load_training_split(data_dir, Split.TRAIN, "sm")
    assert sm_weights is None and set(np.unique(sm.sample_name)) == set(SM_PROCESSES.values())


def test_epochs_draw_zero_bias_events_at_their_weights(tmp_path):
    data_dir = _weighted_zero_bias_dir(tmp_path)
    source = MemorySource(data_dir, _cfg(training_sample="zero_bias", seed=3))
    names = source.train_events.sample_name
    drawn = np.concatenate([names[i] for e in range(20) for i in source.epoch_indices(e)])
    hard_share = np.mean(drawn == "qcd_hard")
    assert hard_share == pytest.approx(0.1, abs=0.02)  # half the events, a tenth of the crossings
    # the same epoch draws the same events (resume), another epoch others
    np.testing.assert_array_equal(np.concatenate(source.epoch_indices(4)), np.concatenate(source.epoch_indices(4)))
    assert not np.array_equal(np.concatenate(source.epoch_indices(4)), np.concatenate(source.epoch_indices(5)))
    # the held-out events for the diagnostics are at their weights too
    held_out = source.val_events.sample_name
    assert np.mean(held_out == "qcd_hard") < 0.3


def test_zero_bias_training_is_refused_where_it_cannot_work(tmp_path):
    with pytest.raises(ValueError, match="no SM process labels"):
        _cfg(model="mlp_encoder", training_sample="zero_bias")
    toy = write_toy_data_dir(tmp_path / "toy")  # a zero-bias row without zb_weight
    with pytest.raises(DataError, match="'nonesuch' is not a sample of .*manifest.json .*one of: dy, qcd"):
        MemorySource(toy, _cfg(training_sample="nonesuch"))
    with pytest.raises(ConfigError, match="read in memory only"):
        open_source(toy, _cfg(training_sample="zero_bias", loading={"mode": "stream"}))
    with pytest.raises(ValueError, match="training_sample"):
        _cfg(training_sample="../etc")
    sm_only = tmp_path / "sm_only"
    write_events(sm_only / "dy.h5", EventSet(random_particles(50, seed=1)))
    write_manifest(sm_only, [SampleInfo("dy", SampleRole.BACKGROUND, 0, "dy.h5", 50, 50)])
    with pytest.raises(DataError, match="training_sample zero_bias: .* has no zero_bias sample"):
        MemorySource(sm_only, _cfg(training_sample="zero_bias"))


def test_an_unweighted_zero_bias_or_any_one_sample_trains_unweighted_on_its_train_split(tmp_path):
    """An imported zero bias has no zb_weight: every event is one crossing; a sample is chosen by name too."""
    toy = write_toy_data_dir(tmp_path / "toy", n_zero_bias=600)
    source = MemorySource(toy, _cfg(training_sample="zero_bias"))
    assert source.train_weights is None
    assert set(np.unique(source.train_events.sample_name)) == {"zero_bias"}
    assert source.n_train == 360 and source.n_validation == 120  # 60 / 20 % of the 600 events
    qcd = MemorySource(toy, _cfg(training_sample="qcd"))
    assert set(np.unique(qcd.train_events.sample_name)) == {"qcd"} and qcd.n_train == 240


def test_a_union_of_samples_and_patterns_trains_unweighted_and_holds_out_every_part(tmp_path):
    from wnae.data.samples import load_manifest
    from wnae.evaluate.scores import trained_samples

    data_dir = _weighted_zero_bias_dir(tmp_path / "data")
    events, weights = load_training_split(data_dir, Split.TRAIN, "sm+qcd_*")
    assert weights is None  # a union is unweighted, even with weighted zero-bias rows in it
    assert set(np.unique(events.sample_name)) == {*SM_PROCESSES.values(), "qcd_hard"}
    assert len(events) == 4 * 120 + 300  # 60 % of each row
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "config.yml").write_text("model: ae\ntraining_sample: sm+qcd_*\n")
    assert trained_samples(run_dir, load_manifest(data_dir)) == {*SM_PROCESSES.values(), "qcd_hard"}
    with pytest.raises(DataError, match="'nomatch_\\*' is not a sample of"):
        load_training_split(data_dir, Split.TRAIN, "sm+nomatch_*")
    for bad in ("sm+", "+sm", "sm++qcd", "sm+../x"):
        with pytest.raises(ValueError, match="training_sample"):
            _cfg(training_sample=bad)


def test_evaluation_scores_only_the_test_split_of_what_a_run_trained_on(tmp_path):
    from tests.evaluate.conftest import SumPtRun
    from wnae.data.samples import load_manifest
    from wnae.evaluate.scores import score_samples, trained_samples

    toy = write_toy_data_dir(tmp_path / "toy", n_zero_bias=600)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    samples = load_manifest(toy)
    for sample, held in (("zero_bias", {"zero_bias"}), ("sig_a", {"sig_a"}), ("sm", {"dy", "qcd", "ttbar", "wjets"})):
        (run_dir / "config.yml").write_text(f"model: ae\ntraining_sample: {sample}\n")
        assert trained_samples(run_dir, samples) == held
    (run_dir / "config.yml").write_text("model: ae\ntraining_sample: zero_bias\n")
    scores = score_samples(SumPtRun(), toy, held_out=trained_samples(run_dir, samples))
    assert scores.samples["zero_bias"].n_scored == 120  # its test split: every 5th event
    assert scores.samples["sig_a"].n_scored == 200  # all of a sample not trained on


def test_a_run_trained_on_the_zero_bias_calibrates_its_rates_on_the_held_out_zero_bias(tmp_path):
    from tests.evaluate.conftest import SumPtRun
    from wnae.evaluate.scores import score_samples, trained_on_zero_bias

    data_dir = _weighted_zero_bias_dir(tmp_path / "data")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "config.yml").write_text("model: ae\ntraining_sample: zero_bias\n")
    assert trained_on_zero_bias(run_dir)
    assert not trained_on_zero_bias(tmp_path)  # no config: an external model
    held_out = score_samples(SumPtRun(), data_dir, held_out_zero_bias=True)
    everything = score_samples(SumPtRun(), data_dir)
    assert held_out.samples["zero_bias"].n_scored == 100  # the test split (every 5th event) of 500
    assert everything.samples["zero_bias"].n_scored == 500
    # the held-out events stand for all the crossings: the weights still add up to the same total
    for scores in (held_out, everything):
        mixture = scores.zero_bias_mixture()
        assert float(np.sum(mixture.weights)) == pytest.approx(1.0, rel=1e-6)
