"""``wnae hlt train | evaluate | compare`` end to end on a toy data set with PF candidates."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.conftest import write_toy_data_dir
from tests.evaluate.conftest import SumPtRun, make_run_dir
from wnae.cli import main
from wnae.data.io import read_events

R0 = 28_608.8


@pytest.fixture(scope="module")
def pf_data(tmp_path_factory):
    return write_toy_data_dir(
        tmp_path_factory.mktemp("hlt") / "data", n_background=300, n_zero_bias=600, n_signal=200, pf=True
    )


@pytest.fixture
def l1_run(tmp_path, pf_data, monkeypatch):
    """A fake L1 run (score = Σ pT) whose Medium working point seeds 120 of the 600 ZB events."""
    import wnae.evaluate.scores as scores_module

    monkeypatch.setattr(scores_module, "_load_model_run", lambda run_dir: SumPtRun(run_dir.name))
    run = make_run_dir(tmp_path / "runs", "l1-fake")
    zb = SumPtRun().anomaly_score(read_events(pf_data / "zero_bias.h5").particles)
    medium = float(np.sort(zb)[-121:-119].mean())  # exactly 120 events above
    doc = {
        "input_rate_khz": R0,
        "working_points": [
            {"name": "Loose", "threshold": float(np.quantile(zb, 0.5)), "target_rate_khz": R0 / 2},
            {"name": "Medium", "threshold": medium, "target_rate_khz": R0 / 5},
        ],
    }
    (run / "working_points.json").write_text(json.dumps(doc))
    return run


def _train(tmp_path, pf_data, kind: str, seed: int = 0) -> int:
    from wnae.commands.hlt import CONFIGS

    config = {
        "pf_mlp": "hlt_train.yml",
        "linformer": "hlt_linformer.yml",
        "deepsets": "hlt_deepsets.yml",
        "l1_mlp": "hlt_l1_mlp.yml",
    }[kind]
    return main(
        [
            "-q",
            "hlt",
            "train",
            "--config",
            str(CONFIGS / config),
            "--data-dir",
            str(pf_data),
            "--runs-dir",
            str(tmp_path / "hlt_runs"),
            "--epochs",
            "1",
            "--max-train-events",
            "400",
            "--seed",
            str(seed),
        ]
    )


@pytest.mark.slow
def test_train_and_two_level_evaluate(tmp_path, pf_data, l1_run, capsys) -> None:
    assert _train(tmp_path, pf_data, "deepsets") == 0
    run = tmp_path / "hlt_runs" / "deepsets-s0"
    assert {p.name for p in run.iterdir()} >= {
        "config.yml",
        "encoder.weights.h5",
        "gmm.joblib",
        "run.json",
        "history.json",
    }
    info = json.loads((run / "run.json").read_text())
    assert info["inputs"] == "pf_candidates" and info["train_events"] == 400
    seed_rate = R0 * 120 / 600
    rc = main(
        [
            "-q",
            "hlt",
            "evaluate",
            str(run),
            "--l1-run",
            str(l1_run),
            "--data-dir",
            str(pf_data),
            "--hlt-rate-khz",
            str(seed_rate / 4),
            "--hlt-score",
            "encoder",
        ]
    )
    assert rc == 0, capsys.readouterr().err
    doc = json.loads((run / "two_level" / "metrics.json").read_text())
    assert doc["l1_seed"]["n_zb_seeded"] == 120
    assert doc["l1_seed"]["rate_khz"] == pytest.approx(seed_rate)
    assert doc["hlt_working_point"]["n_zb_above"] == 30
    assert doc["hlt_fraction_of_seed"] == pytest.approx(0.25)
    for name in ("sig_a", "sig_b"):
        s = doc["signals"][name]
        assert 0 <= s["efficiency"] <= s["seed_efficiency"] <= 1
    plots = {p.name for p in (run / "two_level" / "plots").iterdir()}
    assert {"efficiency_vs_rate.png", "purity_vs_rate.png", "latent_tsne.png", "hlt_scores.png"} <= plots
    assert "Two-level trigger" in (run / "two_level" / "report.md").read_text()
    # the default decision keeps the L1 score: its own directory, the encoder's results untouched
    before = (run / "two_level" / "metrics.json").read_text()
    args = ["-q", "hlt", "evaluate", str(run), "--l1-run", str(l1_run), "--data-dir", str(pf_data)]
    assert main([*args, "--hlt-rate-khz", str(seed_rate / 4), "--no-plots"]) == 0
    combined = json.loads((run / "two_level_with_l1" / "metrics.json").read_text())
    assert combined["hlt_run"].endswith("+L1") and combined["hlt_working_point"]["n_zb_above"] == 30
    assert "or" in combined["hlt_path"]["rule"] and combined["hlt_path"]["l1_seed_above"] == doc["l1_seed"]["threshold"]
    for name in ("sig_a", "sig_b"):
        s = combined["signals"][name]
        assert 0 <= s["efficiency"] <= s["seed_efficiency"] <= 1
    assert (run / "two_level" / "metrics.json").read_text() == before


@pytest.mark.slow
def test_two_level_refusals(tmp_path, pf_data, l1_run, capsys) -> None:
    assert _train(tmp_path, pf_data, "l1_mlp") == 0
    run = tmp_path / "hlt_runs" / "l1_mlp-s0"
    rc = main(
        ["hlt", "evaluate", str(run), "--l1-run", str(l1_run), "--data-dir", str(pf_data), "--hlt-rate-khz", "1e5"]
    )
    assert rc == 2 and "below the L1 seed's rate" in capsys.readouterr().err
    rc = main(
        [
            "hlt",
            "evaluate",
            str(run),
            "--l1-run",
            str(l1_run),
            "--data-dir",
            str(pf_data),
            "--l1-working-point",
            "Tight",
        ]
    )
    assert rc == 2 and "no L1 working point 'Tight'" in capsys.readouterr().err
    (l1_run / "working_points.json").unlink()
    rc = main(["hlt", "evaluate", str(run), "--l1-run", str(l1_run), "--data-dir", str(pf_data)])
    assert rc == 2 and "run 'make evaluate" in capsys.readouterr().err
    assert not (run / "two_level").exists()


def test_pf_encoder_on_data_without_pf_candidates(tmp_path, capsys) -> None:
    data = write_toy_data_dir(tmp_path / "nopf", n_background=50, n_zero_bias=50, n_signal=20)
    rc = main(["hlt", "train", "--data-dir", str(data), "--runs-dir", str(tmp_path / "hlt_runs"), "--epochs", "1"])
    err = capsys.readouterr().err
    assert rc == 2 and "no 'PFCands' dataset" in err and "regenerate" in err
    assert not (tmp_path / "hlt_runs").exists() or not any((tmp_path / "hlt_runs").iterdir())


@pytest.mark.slow
def test_compare_over_seeds(tmp_path, pf_data, l1_run, capsys) -> None:
    from wnae.commands.hlt import CONFIGS

    cfg = tmp_path / "compare.yml"
    cfg.write_text(
        f"encoders: {{deepsets: {CONFIGS / 'hlt_deepsets.yml'}, l1_mlp: {CONFIGS / 'hlt_l1_mlp.yml'}}}\n"
        "seeds: [0, 1]\nepochs: 1\nmax_train_events: 300\n"
    )
    out = tmp_path / "cmp"
    rc = main(
        [
            "-q",
            "hlt",
            "compare",
            "--config",
            str(cfg),
            "--l1-run",
            str(l1_run),
            "--data-dir",
            str(pf_data),
            "--runs-dir",
            str(tmp_path / "hlt_runs"),
            "--hlt-rate-khz",
            str(R0 * 120 / 600 / 4),
            "--output",
            str(out),
        ]
    )
    assert rc == 0, capsys.readouterr().err
    doc = json.loads((out / "comparison.json").read_text())
    assert [e["encoder"] for e in doc["encoders"]] == ["deepsets", "l1_mlp"]
    for e in doc["encoders"]:
        assert e["runs"] == [f"{e['encoder']}-s0", f"{e['encoder']}-s1"]
        eff = e["efficiency"]["sig_a"]
        assert len(eff["per_seed"]) == 2 and eff["min"] <= eff["mean"] <= eff["max"]
        assert e["latency_ms"]["batch1_ms"]["mean"] > 0
        assert e["onnx_latency"]["onnx_batch1_ms"]["mean"] > 0  # the exported graph, timed in ONNX Runtime
    md = (out / "comparison.md").read_text()
    assert "± " in md and "## At 5 kHz" in md and "ONNX Runtime ms/event" in md
    assert set(doc["encoders"][0]["efficiency_at_rate_khz"]["5"]) == {"sig_a", "sig_b"}
    # per seed: the two-level efficiency beside the L1 run alone at the same rate, with intervals
    rate = f"{R0 * 120 / 600 / 4:g}"
    assert f"## Per seed at {rate} kHz" in md and f"| L1 run alone at {rate} kHz |" in md and "## Purity S/B" in md
    alone = doc["l1_alone"]
    for e in doc["encoders"]:
        ahead = doc["ahead_of_l1_alone"][e["encoder"]]
        assert len(ahead) == 2
        for i in range(2):
            expect = [n for n in ("sig_a", "sig_b") if e["efficiency"][n]["per_seed"][i] > alone[n][0]]
            assert ahead[i] == expect
            for n in ("sig_a", "sig_b"):
                lo, hi = e["interval"][n][i]
                assert lo <= e["efficiency"][n]["per_seed"][i] <= hi
        assert {rate, "5"} <= set(e["purity_at_rate_khz"])  # the HLT rate and the tabulated ones
        # every run's own zero-bias support of its threshold, as its two-level metrics give it
        support = e["zb_effective_above_at_rate_khz"][rate]
        own = [
            json.loads((tmp_path / "hlt_runs" / r / "two_level_with_l1" / "metrics.json").read_text())
            for r in e["runs"]
        ]
        assert support["per_seed"] == [m["hlt_working_point"]["n_zb_effective_above"] for m in own]
        assert support["resolved_per_seed"] == [m["hlt_working_point"]["resolved"] for m in own]
    n = [x for e in doc["encoders"] for x in e["zb_effective_above_at_rate_khz"][rate]["per_seed"]]
    assert f"thresholds from {min(n):.0f}–{max(n):.0f} effective ZB events over the 4 runs" in md
    for eff, lo, hi in alone.values():
        assert 0 <= lo <= eff <= hi <= 1
    # a second call reuses the runs (same configs)
    mtime = (tmp_path / "hlt_runs" / "deepsets-s0" / "encoder.weights.h5").stat().st_mtime_ns
    assert (
        main(
            [
                "-q",
                "hlt",
                "compare",
                "--config",
                str(cfg),
                "--l1-run",
                str(l1_run),
                "--data-dir",
                str(pf_data),
                "--runs-dir",
                str(tmp_path / "hlt_runs"),
                "--hlt-rate-khz",
                str(R0 * 120 / 600 / 4),
                "--output",
                str(out),
                "--no-timing",
            ]
        )
        == 0
    )
    assert (tmp_path / "hlt_runs" / "deepsets-s0" / "encoder.weights.h5").stat().st_mtime_ns == mtime


def _one_line(err: str, command: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"wnae {command}: error: "), err
    return lines[0]


def test_train_refuses_to_replace_a_finished_run(tmp_path, pf_data, capsys):
    """Training again under the same (default) name keeps the finished run and its two_level/ results;
    --retrain replaces it."""
    run = tmp_path / "hlt_runs" / "deepsets-s0"
    (run / "two_level").mkdir(parents=True)
    (run / "two_level" / "metrics.json").write_text("{}")
    assert _train(tmp_path, pf_data, "deepsets") == 2
    line = _one_line(capsys.readouterr().err, "hlt")
    for needle in (f"{run} exists", "--name", "--retrain"):
        assert needle in line
    assert (run / "two_level" / "metrics.json").read_text() == "{}"
    from wnae.commands.hlt import CONFIGS

    rc = main(
        [
            "-q",
            "hlt",
            "train",
            "--config",
            str(CONFIGS / "hlt_deepsets.yml"),
            "--data-dir",
            str(pf_data),
            "--runs-dir",
            str(tmp_path / "hlt_runs"),
            "--epochs",
            "1",
            "--max-train-events",
            "200",
            "--retrain",
        ]
    )
    assert rc == 0, capsys.readouterr().err
    assert (run / "encoder.weights.h5").is_file()
    assert not (run / "two_level").exists()


def test_compare_refuses_a_run_of_another_config_before_training(tmp_path, pf_data, l1_run, capsys):
    from wnae.commands.hlt import CONFIGS

    cfg = tmp_path / "compare.yml"
    cfg.write_text(f"encoders: {{deepsets: {CONFIGS / 'hlt_deepsets.yml'}}}\nseeds: [0]\nepochs: 1\n")
    run = tmp_path / "hlt_runs" / "deepsets-s0"
    (run / "two_level").mkdir(parents=True)
    (run / "config.yml").write_text("epochs: 7\n")
    rc = main(
        [
            "hlt",
            "compare",
            "--config",
            str(cfg),
            "--l1-run",
            str(l1_run),
            "--data-dir",
            str(pf_data),
            "--runs-dir",
            str(tmp_path / "hlt_runs"),
            "--output",
            str(tmp_path / "cmp"),
        ]
    )
    assert rc == 2
    line = _one_line(capsys.readouterr().err, "hlt")
    assert f"{run} exists with another config" in line
    assert "--retrain" in line
    assert (run / "config.yml").read_text() == "epochs: 7\n"
    assert (run / "two_level").is_dir()
    assert not (tmp_path / "cmp").exists()


@pytest.mark.parametrize("command", ["evaluate", "compare"])
def test_an_l1_run_that_does_not_exist_is_named_once_and_leaves_nothing(tmp_path, pf_data, capsys, command):
    missing = tmp_path / "runs" / "nope"
    out = tmp_path / "out" / "cmp"
    args = [str(tmp_path / "hlt_runs" / "deepsets-s0")] if command == "evaluate" else []
    rc = main(
        [
            "hlt",
            command,
            *args,
            "--l1-run",
            str(missing),
            "--data-dir",
            str(pf_data),
            "--runs-dir",
            str(tmp_path / "hlt_runs"),
            "--output",
            str(out),
        ]
    )
    assert rc == 2
    line = _one_line(capsys.readouterr().err, "hlt")
    assert "the L1 run does not exist" in line
    assert "working points" not in line
    assert line.count(str(missing)) == 1, line
    assert not (tmp_path / "out").exists()
    assert not (tmp_path / "hlt_runs").exists()


def test_purity_rises_compares_seed_means_and_says_when_there_is_no_background():
    from wnae.hlt.compare import EncoderSummary, purity_rises

    summary = EncoderSummary("deepsets", runs=["deepsets-s0", "deepsets-s1"])
    summary.purity_at = {
        10.0: {"up": [1.0, 3.0], "down": [4.0, 4.0], "empty": [None, None]},
        1.0: {"up": [2.0, 4.0], "down": [1.0, None], "empty": [2.0, None]},
    }
    assert purity_rises(summary, ["up", "down", "empty"], 10.0, 1.0) == {"up": True, "down": False, "empty": None}


def test_displacement_targets_count_the_displaced_candidates():
    from wnae.hlt.train import displacement_targets

    pf = np.zeros((2, 4, 6), np.float32)  # pT, η, φ, d_xy, d_xy/σ, class
    pf[0, :3, 0] = [10.0, 5.0, 0.5]
    pf[0, :3, 4] = [4.0, -6.0, 9.0]  # the third is displaced but softer than 1 GeV
    pf[1, :2, 0] = [20.0, 3.0]
    pf[1, :2, 4] = [1.0, 2.0]  # prompt
    y = displacement_targets(pf, min_significance=3.0, min_pt_gev=1.0)
    np.testing.assert_allclose(y, np.log1p([[15.0, 2.0], [0.0, 0.0]]), rtol=1e-6)


def test_training_with_the_displacement_target(tmp_path, pf_data):
    from wnae.config import parse_config
    from wnae.hlt.config import HltTrainConfig
    from wnae.hlt.train import train_hlt

    base = {"epochs": 2, "max_train_events": 400, "encoder": {"kind": "deepsets", "widths": [16], "pool_widths": [16]}}
    on = train_hlt(parse_config(HltTrainConfig, {**base, "displacement": {"weight": 1.0}}), pf_data, tmp_path / "on")
    mse = on.history["displacement_mse"]
    assert all(np.isfinite(mse)) and mse[0] > 0  # standardised targets: of order 1 at the start
    off = train_hlt(parse_config(HltTrainConfig, base), pf_data, tmp_path / "off")
    assert off.history["displacement_mse"] == [0.0, 0.0]  # off by default: no head, no term
    assert off.history["loss"] != on.history["loss"]
