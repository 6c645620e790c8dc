"""End-to-end training on a small data directory: run directory, reload, resume, NaN, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.conftest import random_particles, write_toy_data_dir
from wnae.cli import main
from wnae.config import parse_config
from wnae.errors import ConfigError, ModelError
from wnae.models.config import TrainConfig
from wnae.models.serialization import latest_run, load_run, load_training_model
from wnae.models.wnae import AutoencoderFamily
from wnae.train.loop import train


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return write_toy_data_dir(tmp_path_factory.mktemp("toy") / "data", n_background=500)


def _cfg(model: str, **extra) -> TrainConfig:  # extra keys replace the defaults
    base = {
        "model": model,
        "epochs": 2,
        "batch_size": 128,
        "architecture": {"encoder": [16, 8], "latent_dim": 4},
        "mcmc": {"steps": 2, "buffer_size": 512, "pretrain_epochs": 1},
        "gmm": {"max_components": 2},
    }
    return parse_config(TrainConfig, {**base, **extra})


@pytest.mark.slow
@pytest.mark.parametrize("model", ["wnae", "vae", "mlp_encoder"])
def test_run_directory_and_reload(model, data_dir, tmp_path):
    result = train(_cfg(model), data_dir=data_dir, runs_dir=tmp_path, name="r", progress=False)
    run_dir = result.run_dir
    for name in (
        "config.yml",
        "normalisation.json",
        "deploy.h5",
        "history.json",
        "history.csv",
        "metrics.json",
        "loss.png",
        "run.json",
    ):
        assert (run_dir / name).stat().st_size > 0, name
    info = json.loads((run_dir / "run.json").read_text())
    assert info["model"] == model
    assert info["deployed_output"] == ("latent" if model == "mlp_encoder" else "score")
    history = json.loads((run_dir / "history.json").read_text())
    assert len(history["loss"]) == 2
    run = load_run(run_dir)
    events = random_particles(100, 9)
    scores = run.anomaly_score(events)
    assert scores.shape == (100,)
    assert np.all(np.isfinite(scores))
    np.testing.assert_array_equal(scores, load_run(run_dir).anomaly_score(events))
    if model == "mlp_encoder":
        assert (run_dir / "gmm.joblib").is_file()
        assert run.latent(events).shape == (100, 4)
        assert run.mahalanobis_model.predict(run.features(events), verbose=0).shape == (100, 1)
    else:
        with pytest.raises(ModelError, match="no latent space"):
            run.latent(events)
    assert latest_run(tmp_path) == run_dir
    family = load_training_model(run_dir)  # the full training model from the last checkpoint
    if model == "wnae":  # its autoencoder gives the deployed score: Σ(x − x̂)² = 57 E(x) up to rounding
        features = run.features(events)
        energy = 57 * family.energy(features, training=False).numpy()
        np.testing.assert_allclose(scores, energy, rtol=0.05, atol=0.5)
        assert len(family.buffer.samples) > 0


@pytest.mark.slow
def test_two_stage_run_records_both_stages_and_the_sampler(data_dir, tmp_path, capsys):
    cfg = _cfg(
        "two_stage",
        epochs=4,
        extractor={"widths": [8], "embedding_dim": 4, "epochs": 2},
        head={"model": "wnae", "latent_dim": 2},
        pruning={"sparsity": 0.5, "begin": 0.0, "end": 1.0},
        mcmc={"steps": 2, "buffer_size": 512, "pretrain_epochs": 1, "bound": 6.0},
    )
    result = train(cfg, data_dir=data_dir, runs_dir=tmp_path, progress=False)
    assert result.run_dir.name.startswith("vicreg_wnae-")
    history = json.loads((result.run_dir / "history.json").read_text())
    assert history["invariance"][:2] == result.history["invariance"][:2] and history["invariance"][2:] == [None, None]
    assert history["variance"][0] is not None
    # the sampler diagnostics, in the WNAE epoch only (epoch 3 is the head's AE warm-up)
    for key in ("energy_neg", "neg_mean_shift", "neg_std_ratio", "neg_at_bound"):
        assert history[key][:3] == [None, None, None] and history[key][3] is not None, key
    assert history["energy_pos"][2] is not None
    assert 0 < history["neg_std_ratio"][3] < 10
    assert (result.run_dir / "negatives.png").stat().st_size > 0
    metrics = json.loads((result.run_dir / "metrics.json").read_text())
    assert set(metrics["kernel_sparsity"]) == {"ext_dense0", "embedding", "latent", "reconstruction"}
    assert min(metrics["kernel_sparsity"].values()) >= 0.5
    assert set(metrics["events_per_second_by_phase"]) == {"vicreg", "ae", "wnae"}
    assert json.loads((result.run_dir / "run.json").read_text())["model"] == "two_stage"
    run = load_run(result.run_dir)
    assert np.all(np.isfinite(run.anomaly_score(random_particles(50, 3))))


def test_fit_diagnostics_every_second_epoch_and_the_last(data_dir, tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    figures = []
    save = Figure.savefig
    monkeypatch.setattr(Figure, "savefig", lambda fig, *a, **k: (figures.append(fig), save(fig, *a, **k))[1])
    diagnostics = {"events": 100, "long_steps": 5, "every": 2, "equilibrium_steps": 30}
    mcmc = {"steps": 2, "buffer_size": 512, "pretrain_epochs": 0, "diagnostics": diagnostics}
    result = train(_cfg("wnae", epochs=3, mcmc=mcmc), data_dir=data_dir, runs_dir=tmp_path, progress=False)
    # loss.png draws the measured epochs as a line (not NaN-broken into nothing)
    fit_axes = [ax for fig in figures for ax in fig.axes if ax.get_title() == "fit to held-out data (exact W)"]
    (w_exact,) = [line for line in fit_axes[0].lines if line.get_label() == "w_exact"]
    assert list(w_exact.get_xdata()) == [2, 3]
    history = json.loads((result.run_dir / "history.json").read_text())
    measured = [v is not None for v in history["w_exact"]]
    assert measured == [False, True, True]  # epoch 2, and epoch 3 as the last
    assert all(v is not None for v in history["w_floor"][1:]) and history["selection_score"][0] is None
    metrics = json.loads((result.run_dir / "metrics.json").read_text())
    assert metrics["kept_epoch"] in (2, 3)
    # once, at the kept epoch: the fit of chains run 30 steps longer
    eq = metrics["equilibrium"]
    assert eq["steps"] == 30 and eq["epoch"] == metrics["kept_epoch"] and eq["w_exact_equilibrium"] > 0
    (star,) = [line for line in fit_axes[0].lines if line.get_label() == "w_exact after 30 more steps"]
    assert list(star.get_xdata()) == [eq["epoch"]] and list(star.get_ydata()) == [eq["w_exact_equilibrium"]]
    assert eq["w_equilibrium_ratio"] * history["w_floor"][-1] == pytest.approx(eq["w_exact_equilibrium"], rel=1e-4)


@pytest.mark.slow
def test_same_seed_same_model(data_dir, tmp_path):
    a = train(_cfg("ae"), data_dir=data_dir, runs_dir=tmp_path, name="a", progress=False)
    b = train(_cfg("ae"), data_dir=data_dir, runs_dir=tmp_path, name="b", progress=False)
    events = random_particles(50, 3)
    np.testing.assert_array_equal(load_run(a.run_dir).anomaly_score(events), load_run(b.run_dir).anomaly_score(events))


@pytest.mark.slow
def test_resume_continues_from_the_checkpoint(data_dir, tmp_path):
    no_warmup = {"steps": 2, "buffer_size": 512, "pretrain_epochs": 0}
    train(_cfg("wnae", epochs=1, mcmc=no_warmup), data_dir=data_dir, runs_dir=tmp_path, name="x", progress=False)
    (tmp_path / "x" / "run.json").unlink()  # as if interrupted after epoch 1
    buffer_before = np.load(tmp_path / "x" / "checkpoints" / "state.npz")["replay_buffer"]
    result = train(_cfg("wnae"), data_dir=data_dir, runs_dir=tmp_path, name="x", resume=True, epochs=3, progress=False)
    assert len(result.history["loss"]) == 3
    assert (tmp_path / "x" / "run.json").is_file()
    assert "epochs: 3" in (tmp_path / "x" / "config.yml").read_text()
    assert len(buffer_before) > 0  # the replay buffer is checkpointed with the weights
    with pytest.raises(ModelError, match="exists"):
        train(_cfg("wnae"), data_dir=data_dir, runs_dir=tmp_path, name="x", progress=False)


def test_nan_loss_stops_with_a_clear_message(data_dir, tmp_path, monkeypatch):
    original = AutoencoderFamily.train_step

    def diverging(self, batch, epoch):
        metrics = original(self, batch, epoch)
        return {**metrics, "loss": float("nan")} if epoch == 1 else metrics

    monkeypatch.setattr(AutoencoderFamily, "train_step", diverging)
    with pytest.raises(ModelError, match="non-finite loss at epoch 2") as info:
        train(_cfg("ae", epochs=3), data_dir=data_dir, runs_dir=tmp_path, name="nan", progress=False)
    assert "last good checkpoint (epoch 1)" in str(info.value)
    assert (tmp_path / "nan" / "checkpoints" / "state.npz").is_file()
    assert not (tmp_path / "nan" / "run.json").exists()


def test_input_precision_must_hold_the_normalisation(data_dir, tmp_path):
    cfg = _cfg("ae", quant={"input": {"bits": 8, "integer": 5}})
    with pytest.raises(ConfigError, match="fractional bits"):
        train(cfg, data_dir=data_dir, runs_dir=tmp_path, name="p", progress=False)


def test_cli_train_and_errors(data_dir, tmp_path, capsys):
    cfg = tmp_path / "c.yml"
    cfg.write_text("model: ae\nepochs: 1\nbatch_size: 128\narchitecture: {encoder: [8], latent_dim: 2}\n")
    assert (
        main(["train", "--config", str(cfg), "--data-dir", str(data_dir), "--runs-dir", str(tmp_path), "--name", "cli"])
        == 0
    )
    assert "cli: ae, 1 epochs" in capsys.readouterr().out
    assert (
        main(
            [
                "train",
                "--data-dir",
                str(data_dir),
                "--runs-dir",
                str(tmp_path),
                "--name",
                "cli",
                "--resume",
                "--epochs",
                "2",
            ]
        )
        == 0
    )  # a finished run trains on to the new total
    assert "cli: ae, 2 epochs" in capsys.readouterr().out
    assert main(["train", "--data-dir", str(data_dir), "--runs-dir", str(tmp_path), "--resume"]) == 2
    assert "--resume needs --name" in capsys.readouterr().err
    cfg.write_text("model: ae\nepochz: 1\n")
    assert main(["train", "--config", str(cfg), "--data-dir", str(data_dir)]) == 2
    assert "did you mean 'epochs'" in capsys.readouterr().err
    assert main(["train", "--model", "ae", "--data-dir", str(tmp_path / "none")]) == 2
    assert "generate the data first" in capsys.readouterr().err


def test_the_default_and_its_baseline_meet_on_equal_footing():
    """`make train`'s WNAE and `train_vicreg_vae.yml` see the same inputs, sample and extractor: at one seed
    they train the same extractor, so a paired difference isolates the head; both take the raw L1 hardware
    inputs that `wnae export cmssw` needs."""
    from pathlib import Path

    from wnae.config import load_config

    configs = Path(__file__).resolve().parents[2] / "wnae" / "configs"
    wnae = load_config(configs / "train_two_stage.yml", TrainConfig)
    vae = load_config(configs / "train_vicreg_vae.yml", TrainConfig)
    assert wnae.normalisation == vae.normalisation == "l1_hardware"
    for key in ("seed", "batch_size", "learning_rate", "weight_decay", "training_sample", "max_train_events"):
        assert getattr(wnae, key) == getattr(vae, key), key
    assert wnae.extractor == vae.extractor and wnae.vicreg == vae.vicreg
    assert wnae.quant == vae.quant and wnae.pruning == vae.pruning
    assert (wnae.head.model, vae.head.model) == ("wnae", "vae")
