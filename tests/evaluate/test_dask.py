"""Scoring as Dask tasks: a LocalCluster of two workers gives the same scores, latents and working points
as scoring in this process."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.conftest import write_toy_data_dir
from wnae.config import parse_config
from wnae.errors import ConfigError, ModelError
from wnae.evaluate.config import EvaluateConfig
from wnae.evaluate.run import evaluate_runs
from wnae.evaluate.scores import load_scorer, score_samples
from wnae.models.config import TrainConfig
from wnae.train.loop import train

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    data_dir = write_toy_data_dir(
        tmp_path_factory.mktemp("toy") / "data", n_background=500, n_zero_bias=700, n_signal=120
    )
    # the MLP encoder: its score is the GMM's, and it has a latent space to subsample
    cfg = parse_config(
        TrainConfig,
        {
            "model": "mlp_encoder",
            "epochs": 1,
            "batch_size": 128,
            "architecture": {"encoder": [8], "latent_dim": 2},
            "gmm": {"n_components": 2},
        },
    )
    run = train(cfg, data_dir=data_dir, runs_dir=tmp_path_factory.mktemp("runs"), name="enc", progress=False).run_dir
    return data_dir, run


def test_local_cluster_scores_the_same_numbers(trained, tmp_path):
    data_dir, run = trained
    cfg = EvaluateConfig(chunk_events=130, latent_events=150)  # several blocks per sample, latents in two
    here = score_samples(load_scorer(run), data_dir, chunk_events=130, latent_events=150)
    [dask_eval] = evaluate_runs([run], data_dir=data_dir, config=cfg, scheduler="local")
    there = dask_eval.scores
    assert list(there.samples) == list(here.samples)
    for name, s in here.samples.items():
        t = there.samples[name]
        np.testing.assert_array_equal(t.scores, s.scores, err_msg=name)
        assert t.n_scored == s.n_scored and t.n_generated == s.n_generated
        assert s.latent is not None and len(s.latent) == min(150, s.n_scored)
        np.testing.assert_array_equal(t.latent, s.latent, err_msg=name)
    dask_wp = json.loads((run / "working_points.json").read_text())
    [local_eval] = evaluate_runs([run], data_dir=data_dir, config=cfg)
    assert json.loads((run / "working_points.json").read_text()) == dask_wp
    assert local_eval.working_points == dask_eval.working_points


def test_bad_scheduler_and_missing_run_dir(trained):
    data_dir, run = trained
    with pytest.raises(ConfigError, match="scheduler 'udp://x'"):
        evaluate_runs([run], data_dir=data_dir, scheduler="udp://x")
    with pytest.raises(ModelError, match="needs the run directory"):
        score_samples(load_scorer(run), data_dir, client=object())
