"""--resume is bit-identical to the uninterrupted run (every RNG and the optimizer restored); bad resumes refused."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from tests.conftest import write_toy_data_dir
from wnae.cli import main
from wnae.config import parse_config
from wnae.models.config import TrainConfig
from wnae.models.serialization import load_training_model
from wnae.models.wnae import AutoencoderFamily
from wnae.train.loop import train

EPOCHS = 3
#: (model, epochs before the interruption): the WNAE after its AE warm-up epoch, with a filled replay buffer
CASES = [("wnae", 2), ("ae", 1), ("vae", 1), ("mlp_encoder", 1), ("two_stage", 2), ("wnae_neural", 2)]
#: The two-stage case: a VICReg epoch, an AE warm-up epoch of the WNAE head, a WNAE epoch; pruned kernels.
TWO_STAGE = {
    "extractor": {"widths": [8], "embedding_dim": 4, "epochs": 1},
    "head": {"model": "wnae", "latent_dim": 2},
    "pruning": {"sparsity": 0.5, "begin": 0.0, "end": 1.0},
}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return write_toy_data_dir(tmp_path_factory.mktemp("toy") / "data", n_background=300)


def _cfg(model: str, epochs: int = EPOCHS) -> TrainConfig:
    """``wnae_neural``: the WNAE with the learned W estimator (its critic, critic optimizer and warm-up resumed too)."""
    mcmc = {"steps": 2, "buffer_size": 512, "pretrain_epochs": 1}
    if model == "wnae_neural":
        model, mcmc = "wnae", {**mcmc, "distance": "neural", "critic": {"widths": [16], "warmup_steps": 3}}
    return parse_config(
        TrainConfig,
        {
            "model": model,
            "epochs": epochs,
            "batch_size": 128,
            "architecture": {"encoder": [16, 8], "latent_dim": 4},
            "mcmc": mcmc,
            "gmm": {"max_components": 2},
            **(TWO_STAGE if model == "two_stage" else {}),
        },
    )


@pytest.fixture(scope="module")
def reference(data_dir, tmp_path_factory):
    """The uninterrupted run of each model, trained once for the module."""
    runs_dir, done = tmp_path_factory.mktemp("reference"), {}

    def get(model: str):
        if model not in done:
            done[model] = train(_cfg(model), data_dir=data_dir, runs_dir=runs_dir, name=model, progress=False).run_dir
        return done[model]

    return get


def _history(run_dir) -> dict:
    history = json.loads((run_dir / "history.json").read_text())
    return {
        k: v
        for k, v in history.items()  # timing differs
        if k not in ("seconds", "events_per_second") and not k.endswith("_ms")
    }


def assert_bit_identical(a, b) -> None:
    """Same losses every epoch (==), same weights, optimizer slots, replay buffer and generator states."""
    assert _history(a) == _history(b)
    fa, fb = load_training_model(a), load_training_model(b)
    for name, network in fa.networks.items():
        for wa, wb in zip(network.get_weights(), fb.networks[name].get_weights(), strict=True):
            np.testing.assert_array_equal(wa, wb)
    objects_a, objects_b = fa.checkpoint_objects(), fb.checkpoint_objects()
    for key in objects_a:  # every Keras model, the networks and e.g. a WNAE's critic
        if hasattr(objects_a[key], "layers"):
            for wa, wb in zip(objects_a[key].get_weights(), objects_b[key].get_weights(), strict=True):
                np.testing.assert_array_equal(wa, wb)
    optimizers = [key for key in objects_a if key.endswith("optimizer")]  # a two-stage model has one per stage
    assert optimizers
    for key in optimizers:
        for va, vb in zip(objects_a[key].variables, objects_b[key].variables, strict=True):
            np.testing.assert_array_equal(va.numpy(), vb.numpy())
    sa, sb = (np.load(run / "checkpoints" / "state.npz") for run in (a, b))
    assert set(sa.files) == set(sb.files)
    for key in sa.files:
        if key != "history":  # it holds the timings
            np.testing.assert_array_equal(sa[key], sb[key])
    assert (a / "deploy.h5").is_file()
    assert (b / "run.json").is_file()


@pytest.mark.slow
@pytest.mark.parametrize(("model", "first"), CASES)
def test_resume_is_bit_identical(model, first, data_dir, reference, tmp_path):
    train(_cfg(model, epochs=first), data_dir=data_dir, runs_dir=tmp_path, name="r", progress=False)
    result = train(
        _cfg(model), data_dir=data_dir, runs_dir=tmp_path, name="r", resume=True, epochs=EPOCHS, progress=False
    )
    assert len(result.history["loss"]) == EPOCHS
    assert_bit_identical(reference(model), tmp_path / "r")


@pytest.mark.slow
def test_interruption_mid_epoch_resumes_bit_identical(data_dir, reference, tmp_path, monkeypatch, caplog):
    original, calls = AutoencoderFamily.train_step, {"n": 0}

    def interrupted(self, batch, epoch):
        if epoch == 1:  # the first WNAE epoch, after the AE warm-up: Ctrl-C at its third batch
            calls["n"] += 1
            if calls["n"] == 3:
                raise KeyboardInterrupt
        return original(self, batch, epoch)

    monkeypatch.setattr(AutoencoderFamily, "train_step", interrupted)
    with caplog.at_level(logging.WARNING, logger="wnae.train.loop"), pytest.raises(KeyboardInterrupt):
        train(_cfg("wnae"), data_dir=data_dir, runs_dir=tmp_path, name="i", progress=False)
    assert "interrupted in epoch 2: the checkpoint of epoch 1 is kept" in caplog.text
    assert "'wnae train --name i --resume'" in caplog.text
    assert not (tmp_path / "i" / "run.json").exists()
    assert int(np.load(tmp_path / "i" / "checkpoints" / "state.npz")["epoch"]) == 1
    monkeypatch.setattr(AutoencoderFamily, "train_step", original)
    train(_cfg("wnae"), data_dir=data_dir, runs_dir=tmp_path, name="i", resume=True, progress=False)
    assert_bit_identical(reference("wnae"), tmp_path / "i")


@pytest.mark.slow
@pytest.mark.parametrize("killed_at", [2, 1])
def test_interruption_between_checkpoint_and_state(killed_at, data_dir, reference, tmp_path, monkeypatch, caplog):
    """Killed after the TF checkpoint of an epoch but before its state.npz: the previous pair (or none) is whole."""
    savez = np.savez

    def killed(file, **arrays):
        if int(arrays["epoch"]) == killed_at:
            raise KeyboardInterrupt
        return savez(file, **arrays)

    monkeypatch.setattr(np, "savez", killed)
    with caplog.at_level(logging.WARNING, logger="wnae.train.loop"), pytest.raises(KeyboardInterrupt):
        train(_cfg("wnae"), data_dir=data_dir, runs_dir=tmp_path, name="t", progress=False)
    kept = "the checkpoint of epoch 1 is kept" if killed_at == 2 else "no epoch was completed"
    assert f"interrupted in epoch {killed_at}: {kept}" in caplog.text
    monkeypatch.setattr(np, "savez", savez)
    checkpoints = tmp_path / "t" / "checkpoints"
    assert (checkpoints / f"ckpt-{killed_at}.index").is_file()
    if killed_at == 2:
        assert int(np.load(checkpoints / "state.npz")["epoch"]) == 1
    else:
        assert not (checkpoints / "state.npz").exists()
    train(_cfg("wnae"), data_dir=data_dir, runs_dir=tmp_path, name="t", resume=True, progress=False)
    assert_bit_identical(reference("wnae"), tmp_path / "t")


@pytest.fixture
def ae_run(data_dir, tmp_path):
    """A finished 2-epoch AE run trained through the CLI, and the CLI arguments to address it."""
    cfg = tmp_path / "c.yml"
    cfg.write_text("model: ae\nepochs: 2\nbatch_size: 128\narchitecture: {encoder: [8], latent_dim: 2}\n")
    args = ["train", "--data-dir", str(data_dir), "--runs-dir", str(tmp_path), "--name", "ae-run"]
    assert main([*args, "--config", str(cfg)]) == 0
    return tmp_path / "ae-run", args


def _snapshot(run_dir) -> dict:
    return {p.relative_to(run_dir): p.read_bytes() for p in sorted(run_dir.rglob("*")) if p.is_file()}


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            ["--epochs", "1"],
            "has already trained 2 epochs: --epochs 1 would not continue it (give --epochs 2 or more, "
            "or train under a new --name)",
        ),
        (
            ["--model", "vae"],
            "was trained as ae: --resume continues it as ae, not as vae (drop --model, or train the vae "
            "under a new --name)",
        ),
        (["--seed", "7"], "was trained with seed 0: --resume continues it with that seed, not 7"),
        (["--config", "c.yml"], "--resume continues run --name with its own config.yml: drop --config"),
    ],
)
def test_resume_refuses_what_it_would_ignore(ae_run, extra, message, capsys):
    run_dir, args = ae_run
    capsys.readouterr()
    before = _snapshot(run_dir)
    extra = [str(run_dir.parent / e) if e.endswith(".yml") else e for e in extra]
    assert main([*args, "--resume", *extra]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.count("\n") == 1, err
    assert err.startswith("wnae train: error: ")
    assert message in err
    assert _snapshot(run_dir) == before  # nothing changed: history of 2, run.json and config.yml as they were


@pytest.mark.slow
def test_resume_accepts_what_matches(ae_run, capsys):
    run_dir, args = ae_run
    assert main([*args, "--resume", "--model", "ae", "--seed", "0", "--epochs", "3"]) == 0
    assert "ae-run: ae, 3 epochs" in capsys.readouterr().out
    assert len(json.loads((run_dir / "history.json").read_text())["loss"]) == 3
    assert json.loads((run_dir / "run.json").read_text())["epochs"] == 3


def test_resume_refuses_training_data_that_changed(ae_run, tmp_path, capsys):
    """The normalisation is fitted again on resume: other data would silently train another model."""
    run_dir, args = ae_run
    other = write_toy_data_dir(tmp_path / "other-data", n_background=350)
    before = _snapshot(run_dir)
    capsys.readouterr()
    argv = [*args, "--resume", "--epochs", "3"]
    argv[argv.index("--data-dir") + 1] = str(other)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "normalisation.json: the training data in" in err and "gives another fixed_point normalisation" in err
    assert _snapshot(run_dir) == before
