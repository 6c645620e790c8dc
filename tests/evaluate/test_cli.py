"""``wnae evaluate`` end to end on the toy data with fake runs, and each bad-input error."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from tests.conftest import write_toy_data_dir
from tests.evaluate.conftest import make_run_dir
from wnae.cli import main

FAST = "input_rate_khz: 40000.0\nplots: true\nplot_formats: [png, pdf]\nlatent_events: 60\ntsne: true\ntail_fit_events: 50\n"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return write_toy_data_dir(
        tmp_path_factory.mktemp("evaluate") / "data", n_background=100, n_zero_bias=400, n_signal=60
    )


@pytest.fixture
def fast_config(tmp_path):
    path = tmp_path / "evaluate.yml"
    path.write_text(FAST + "working_points: {Loose: 4000.0, Medium: 1000.0, Tight: 10.0}\n")
    return path


@pytest.mark.slow
def test_evaluate_one_run_end_to_end(tmp_path, data_dir, fast_config, fake_models, capsys):
    run = make_run_dir(tmp_path / "runs", "wnae-1", model="wnae")
    rc = main(["evaluate", str(run), "--data-dir", str(data_dir), "--config", str(fast_config)])
    out = capsys.readouterr().out
    assert rc == 0
    wp = json.loads((run / "working_points.json").read_text())
    assert wp["input_rate_khz"] == 40_000.0  # as configured
    assert wp["zero_bias"]["weighted"] is False  # the toy data has no pT-hat slices
    names = [w["name"] for w in wp["working_points"]]
    assert names == ["Loose", "Medium", "Tight"]
    loose = wp["working_points"][0]
    assert loose["n_zb_above"] == 40  # 4000 kHz / 40 000 kHz × 400 ZB events
    assert loose["rate_khz"] == pytest.approx(4000.0)
    tight = wp["working_points"][2]
    assert tight["method"] == "tail_fit"  # 0.1 ZB events: extrapolated and flagged
    assert tight["resolved"] is False
    metrics = json.loads((run / "evaluation" / "metrics.json").read_text())
    assert set(metrics["signals"]) == {"sig_a", "sig_b"}
    assert metrics["sm_test_events"] == 4 * 20  # test split only: every 5th of 100 events per SM process
    assert metrics["n_zero_bias"] == 400  # all zero-bias events
    for sig in metrics["signals"].values():
        assert sig["auc"] > 0.8  # harder pT spectrum, score = ΣpT
        assert sig["n_generated"] == 120
        assert sig["efficiency"]["Loose"]["value"] <= 0.5  # S0 = 2 × stored events
        assert sig["auc_zero_bias"] > 0.8  # the toy zero bias is SM-like too
        for e in sig["efficiency"].values():  # every efficiency with its Clopper–Pearson interval
            assert e["low"] <= e["value"] <= e["high"]
        zb_tpr = sig["tpr_at_zero_bias_fpr"]
        assert zb_tpr["tpr"] is None or zb_tpr["tpr_low"] <= zb_tpr["tpr"] <= zb_tpr["tpr_high"]
    plots = run / "evaluation" / "plots"
    for stem in ("scores", "rate_vs_threshold", "efficiency_vs_rate", "roc", "latent_pca", "latent_tsne", "loss"):
        for ext in ("png", "pdf"):
            path = plots / f"{stem}.{ext}"
            assert path.stat().st_size > 1000, path
    assert (plots / "scores.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = (run / "report.md").read_text()
    assert "evaluation/plots/roc.png" in report
    assert "| Loose | 4000 |" in report
    assert "AUC (ZB)" in report
    assert "Clopper–Pearson intervals at 68.27 % CL" in report
    loose = metrics["signals"]["sig_a"]["efficiency"]["Loose"]
    assert f"{100 * loose['value']:.3g} [{100 * loose['low']:.3g}, {100 * loose['high']:.3g}]" in report
    assert "## wnae-1 (wnae)" in out
    assert "| sig_a |" in out
    assert "n/a*" in out  # 400 SM test events cannot reach FPR 1e-5


def test_latest_run_and_comparison(tmp_path, data_dir, fast_config, fake_models, capsys):
    runs = tmp_path / "runs"
    make_run_dir(runs, "ae-1", model="ae")
    make_run_dir(runs, "vae-1", model="vae", history=False)
    cfg = fast_config.read_text().replace("plots: true", "plots: false")
    fast_config.write_text(cfg)
    rc = main(["evaluate", "--runs-dir", str(runs), "--data-dir", str(data_dir), "--config", str(fast_config)])
    assert rc == 0
    assert sum((runs / n / "working_points.json").exists() for n in ("ae-1", "vae-1")) == 1
    capsys.readouterr()
    out_dir = tmp_path / "cmp"
    rc = main(
        [
            "evaluate",
            str(runs / "ae-1"),
            str(runs / "vae-1"),
            "--data-dir",
            str(data_dir),
            "--config",
            str(fast_config),
            "--output",
            str(out_dir),
        ]
    )
    out = capsys.readouterr().out
    assert rc == 0
    doc = json.loads((out_dir / "comparison.json").read_text())
    assert [r["run"] for r in doc["runs"]] == ["ae-1", "vae-1"]
    # the vae fake is 2 × the ae score: same ranking, same AUC, same efficiencies, doubled thresholds
    a, v = doc["signals"]["sig_a"]["ae-1"], doc["signals"]["sig_a"]["vae-1"]
    assert a["auc"] == pytest.approx(v["auc"])
    assert a["efficiency"] == pytest.approx(v["efficiency"])
    assert a["auc_zero_bias"] == pytest.approx(v["auc_zero_bias"])
    assert a["efficiency_interval"]["Medium"][0] <= a["efficiency"]["Medium"] <= a["efficiency_interval"]["Medium"][1]
    assert doc["best"]["sig_a"]["auc"] == []  # a tie picks nobody
    ta = doc["runs"][0]["working_points"]["Medium"]["threshold"]
    assert doc["runs"][1]["working_points"]["Medium"]["threshold"] == pytest.approx(2 * ta)
    assert "## Comparison" in out
    assert "| sig_a | vae-1 (vae) |" in out
    assert (out_dir / "comparison.md").read_text().startswith("# Comparison")


def test_comparison_plots(tmp_path, data_dir, fake_models):
    from wnae.evaluate.config import EvaluateConfig
    from wnae.evaluate.run import evaluate_runs

    runs = [make_run_dir(tmp_path / "runs", n) for n in ("a", "b")]
    cfg = EvaluateConfig(working_points={"Medium": 1000.0}, plots=True, plot_formats=("png",), latent_events=0)
    evaluate_runs(runs, data_dir=data_dir, config=cfg, comparison_dir=tmp_path / "cmp")
    for stem in ("compare_efficiency_vs_rate", "compare_roc"):
        assert (tmp_path / "cmp" / f"{stem}.png").stat().st_size > 1000


def _error(capsys, argv):
    rc = main(argv)
    err = capsys.readouterr().err
    assert rc == 2
    return err


def test_run_without_model_is_an_error(tmp_path, data_dir, capsys):
    run = tmp_path / "runs" / "empty"
    run.mkdir(parents=True)
    (run / "run.json").write_text("{}")
    err = _error(capsys, ["evaluate", str(run), "--data-dir", str(data_dir)])
    assert "not a trained run, missing deploy.h5" in err
    err = _error(capsys, ["evaluate", str(tmp_path / "nope"), "--data-dir", str(data_dir)])
    assert "run directory not found" in err
    err = _error(capsys, ["evaluate", "--runs-dir", str(tmp_path / "none"), "--data-dir", str(data_dir)])
    assert "no finished run" in err


def test_sample_missing_features_is_an_error(tmp_path, fake_models, fast_config, capsys):
    data = write_toy_data_dir(tmp_path / "data", n_background=20, n_zero_bias=20, n_signal=10)
    with h5py.File(data / "sig_a.h5", "a") as f:
        del f["Particles"]
    run = make_run_dir(tmp_path / "runs", "r")
    err = _error(capsys, ["evaluate", str(run), "--data-dir", str(data), "--config", str(fast_config)])
    assert "sig_a.h5" in err
    assert "missing dataset 'Particles'" in err


def test_empty_zero_bias_is_an_error(tmp_path, fake_models, fast_config, capsys):
    from wnae.data.io import EventSet, write_events

    data = write_toy_data_dir(tmp_path / "data", n_background=20, n_zero_bias=20, n_signal=10)
    write_events(data / "zero_bias.h5", EventSet(np.zeros((0, 19, 4), np.float32)))
    run = make_run_dir(tmp_path / "runs", "r")
    err = _error(capsys, ["evaluate", str(run), "--data-dir", str(data), "--config", str(fast_config)])
    assert "zero-bias sample 'zero_bias' has no events" in err


def test_target_rate_above_input_rate_is_an_error(tmp_path, data_dir, fake_models, capsys):
    cfg = tmp_path / "bad.yml"
    cfg.write_text("input_rate_khz: 6.0\nworking_points: {Medium: 10.0}\n")
    run = make_run_dir(tmp_path / "runs", "r")
    err = _error(capsys, ["evaluate", str(run), "--data-dir", str(data_dir), "--config", str(cfg)])
    assert "'Medium': target rate 10 kHz is above the input rate 6 kHz" in err
    err = _error(capsys, ["evaluate", str(run), "--data-dir", str(data_dir), "--input-rate-khz", "6"])
    assert "above the input rate" in err
