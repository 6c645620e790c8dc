"""``wnae export onnx``: an HLT run's whole score as one ONNX graph, the same numbers in ONNX Runtime."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from tests.conftest import random_pf_candidates, write_toy_data_dir
from wnae.cli import main
from wnae.hlt.inputs import candidate_inputs
from wnae.hlt.onnx import _candidate_transform, _gmm_arrays


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_gmm_arrays_give_scikit_learn_log_density(covariance_type) -> None:
    """The graph's mixture (means, Cholesky factors, log w + log|P|) is scikit-learn's density."""
    from sklearn.mixture import GaussianMixture

    rng = np.random.default_rng(0)
    z = np.concatenate([rng.normal(0, 1, (300, 3)), rng.normal(4, 0.3, (300, 3)) * [1, 2, 0.5]])
    gmm = GaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(z)
    means, factors, offsets = _gmm_arrays(gmm)
    probe = rng.normal(2, 3, (50, 3))
    y = np.einsum("nd,kde->nke", probe, factors) - np.einsum("kd,kde->ke", means, factors)
    log_prob = offsets - 0.5 * (3 * math.log(2 * math.pi) + (y**2).sum(-1))
    top = log_prob.max(1, keepdims=True)
    ours = (top + np.log(np.exp(log_prob - top).sum(1, keepdims=True)))[:, 0]
    np.testing.assert_allclose(ours, gmm.score_samples(probe), rtol=1e-12, atol=1e-10)


def test_candidate_transform_is_the_numpy_one() -> None:
    """The in-graph PF transforms equal :func:`candidate_inputs`, padding and odd values included."""
    import tensorflow as tf

    pf = random_pf_candidates(200, seed=3, n_max=16, displaced=True)
    pf[0, 0, 0] = -1.0  # negative pT is clipped
    pf[1, :, 5] = 0.0  # an empty event
    pf[2, 3, 5] = 2.4  # a class stored off-integer rounds
    want = candidate_inputs(pf, 16)
    got = _candidate_transform(tf, tf.constant(pf.astype(np.float32)), 16).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
    assert (got[1] == 0).all()


@pytest.fixture(scope="module")
def pf_data(tmp_path_factory):
    return write_toy_data_dir(
        tmp_path_factory.mktemp("onnx") / "data", n_background=200, n_zero_bias=300, n_signal=100, pf=True
    )


def _train(runs, pf_data, config: str) -> None:
    """One epoch of the shipped config; the Linformer shrunk (same layers and operators, fewer units)."""
    import yaml

    from wnae.commands.hlt import CONFIGS

    doc = yaml.safe_load((CONFIGS / config).read_text())
    if doc["encoder"]["kind"] == "linformer":
        doc["encoder"].update(embed_dim=16, n_layers=2, n_heads=2, ffn_dim=32)
    path = runs.parent / config
    path.write_text(yaml.safe_dump(doc))
    args = ["--epochs", "1", "--max-train-events", "300", "--seed", "0"]
    rc = main(["-q", "hlt", "train", "--config", str(path), "--data-dir", str(pf_data), "--runs-dir", str(runs), *args])
    assert rc == 0


@pytest.mark.slow
@pytest.mark.parametrize(
    ("config", "run_name"),
    [("hlt_linformer.yml", "linformer-s0"), ("hlt_train.yml", "pf_mlp-s0"), ("hlt_l1_mlp.yml", "l1_mlp-s0")],
)
def test_export_runs_in_onnx_runtime_with_tensorflow_scores(tmp_path, pf_data, capsys, config, run_name) -> None:
    import onnxruntime

    from wnae.hlt.model import load_hlt_run

    runs = tmp_path / "hlt_runs"
    _train(runs, pf_data, config)
    out = tmp_path / "exported"
    rc = main(["export", "onnx", run_name, "--runs-dir", str(runs), "--data-dir", str(pf_data), "--output", str(out)])
    assert rc == 0, capsys.readouterr().err
    check = json.loads((out / "check.json").read_text())
    assert check["agree"] and check["n_events"] >= 1000
    assert check["max_rel_diff"] <= check["tolerance"]
    assert check["batch1_ms"] > 0 and check["events_per_second"] > 0

    # the graph alone, fed raw inputs, gives the run's scores
    run = load_hlt_run(runs / run_name)
    session = onnxruntime.InferenceSession(str(out / f"{run_name}.onnx"), providers=["CPUExecutionProvider"])
    (feed,) = session.get_inputs()
    from wnae.data.io import read_events

    events = read_events(pf_data / "sig_b.h5", with_pf=True)
    raw = events.pf_cands if run.inputs == "pf_candidates" else events.particles
    if feed.name == "pf_candidates":  # zero-padded to the graph's slots
        x = np.pad(raw, ((0, 0), (0, feed.shape[1] - raw.shape[1]), (0, 0))).astype(np.float32)
    else:
        x = run.normaliser.transform(raw).astype(np.float32)
    score, latent = session.run(["score", "latent"], {feed.name: x})
    np.testing.assert_allclose(score, run.anomaly_score(raw), rtol=1e-4, atol=1e-4)
    assert latent.shape == (len(raw), run.config.encoder.latent_dim)

    # the timing compare and the benchmark use: one export in a temporary directory
    from wnae.hlt.onnx import measure_onnx_latency

    timing = measure_onnx_latency(run, raw[:64], batch_size=16)
    assert set(timing) == {"onnx_batch1_ms", "onnx_batch1_p90_ms", "onnx_events_per_second"}
    assert 0 < timing["onnx_batch1_ms"] <= timing["onnx_batch1_p90_ms"] and timing["onnx_events_per_second"] > 0

    # never overwritten without being asked
    rc = main(["export", "onnx", run_name, "--runs-dir", str(runs), "--output", str(out), "--no-check"])
    assert rc == 2 and "--overwrite" in capsys.readouterr().err


@pytest.mark.slow
def test_check_catches_a_wrong_graph(tmp_path, pf_data) -> None:
    """A graph whose mixture differs from the run's is caught: the check is not vacuous."""
    from wnae.hlt.model import load_hlt_run
    from wnae.hlt.onnx import check_onnx, export_onnx

    runs = tmp_path / "hlt_runs"
    _train(runs, pf_data, "hlt_deepsets.yml")
    run = load_hlt_run(runs / "deepsets-s0")
    run.gmm.means_ = run.gmm.means_ + 0.05  # the exported graph gets shifted components
    export = export_onnx(run, tmp_path / "wrong")
    check = check_onnx(load_hlt_run(runs / "deepsets-s0"), export, pf_data, n_events=500)
    assert not check.agree and check.max_rel_diff > 1e-3
    assert check.max_latent_diff < 1e-4  # the encoder itself is right
