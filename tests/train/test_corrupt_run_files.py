"""Corrupt run files (run.json, history.json, working_points.json, state.npz, TF checkpoint, gmm.joblib):
one line naming the file and the problem, exit status 2, never a traceback; the run directory is left as it was."""

from __future__ import annotations

import json
import logging
import shutil

import numpy as np
import pytest

from tests.conftest import write_toy_data_dir
from wnae.cli import main
from wnae.config import parse_config
from wnae.errors import ModelError
from wnae.models.config import TrainConfig
from wnae.models.serialization import load_run, load_training_model
from wnae.train.loop import train


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return write_toy_data_dir(tmp_path_factory.mktemp("toy") / "data", n_background=200, n_zero_bias=200, n_signal=50)


@pytest.fixture(scope="module")
def finished(data_dir, tmp_path_factory):
    """A finished 2-epoch AE run (AE objective: it has a replay buffer in state.npz too)."""
    cfg = parse_config(
        TrainConfig, {"model": "ae", "epochs": 2, "batch_size": 128, "architecture": {"encoder": [8], "latent_dim": 2}}
    )
    return train(cfg, data_dir=data_dir, runs_dir=tmp_path_factory.mktemp("runs"), name="done", progress=False).run_dir


@pytest.fixture
def run_dir(finished, tmp_path):
    """A fresh copy of the finished run, to break."""
    return shutil.copytree(finished, tmp_path / "runs" / "done")


def _snapshot(run_dir) -> dict:
    return {p.relative_to(run_dir): p.read_bytes() for p in sorted(run_dir.rglob("*")) if p.is_file()}


def _one_error_line(capsys, command: str, path) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("wnae ")]
    assert len(lines) == 1, err
    assert lines[0].startswith(f"wnae {command}: error: {path}: "), err
    return lines[0]


@pytest.mark.parametrize(
    ("command", "content", "problem"),
    [
        ("convert", "{}", "missing keys 'model', 'deployed_output'"),
        ("convert", "{not json", "not valid JSON"),
        ("evaluate", "{}", "missing keys 'model', 'deployed_output'"),
        ("evaluate", '{"model": "ae", "deployed_output": "sc', "not valid JSON"),
        ("evaluate", '{"model": "ae", "deployed_output": 1}', "'deployed_output' must be a string, found an integer"),
        ("csim", "[]", "expected a JSON object, found a list"),
        ("csim", '{"model": "ae"}', "missing key 'deployed_output'"),
    ],
)
@pytest.mark.slow
def test_corrupt_run_json(command, content, problem, run_dir, data_dir, tmp_path, capsys):
    (run_dir / "run.json").write_text(content)
    args = [command, str(run_dir), "--data-dir", str(data_dir)]
    if command != "evaluate":
        args += ["--output-dir", str(tmp_path / "hls")]
    assert main(args) == 2
    line = _one_error_line(capsys, command, run_dir / "run.json")
    assert problem in line
    assert "rewrite it with 'wnae train --name <run> --resume'" in line


def test_resume_rewrites_a_corrupt_run_json(run_dir, data_dir, capsys):
    (run_dir / "run.json").write_text("{}")
    assert (
        main(["train", "--data-dir", str(data_dir), "--runs-dir", str(run_dir.parent), "--name", "done", "--resume"])
        == 0
    )
    assert "done: ae, 2 epochs" in capsys.readouterr().out
    assert load_run(run_dir).info["deployed_output"] == "score"


def _truncate(path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


@pytest.mark.parametrize(
    ("breakage", "named", "problem"),
    [
        (lambda ck: _truncate(ck / "state.npz"), "state.npz", "truncated or corrupt NPZ archive"),
        (lambda ck: (ck / "state.npz").write_bytes(b""), "state.npz", "empty file (truncated?)"),
        (
            lambda ck: _truncate(ck / "ckpt-2.index"),
            "ckpt-2.index",
            "cannot restore the TensorFlow checkpoint (OpError: not an sstable (bad magic number))",
        ),
        (lambda ck: (ck / "ckpt-2.index").unlink(), "ckpt-2.index", "checkpoint index not found"),
        (
            lambda ck: _truncate(next(ck.glob("ckpt-2.data-*"))),
            "ckpt-2.{index,data-*}",
            "cannot restore the TensorFlow checkpoint (IndexError: Read less bytes than requested)",
        ),
        (lambda ck: (ck / "state.npz").unlink(), "state.npz", "file not found, but"),
        (
            lambda ck: _rewrite_state(ck, replay_buffer=np.zeros((3, 5), np.float32)),
            "state.npz",
            "'replay_buffer' has shape (3, 5), expected (≤ 10000, 57)",
        ),
        (
            lambda ck: _rewrite_state(ck, replay_rng=np.array('{"state": 1}')),
            "state.npz",
            "'replay_rng' is not a PCG64 generator state",
        ),
        (lambda ck: _rewrite_state(ck, epoch=3), "state.npz", "'history' has 2 epochs but 'epoch' says 3"),
    ],
)
def test_resume_with_a_corrupt_checkpoint(breakage, named, problem, run_dir, data_dir, capsys):
    breakage(run_dir / "checkpoints")
    before = _snapshot(run_dir)
    assert (
        main(
            [
                "train",
                "--data-dir",
                str(data_dir),
                "--runs-dir",
                str(run_dir.parent),
                "--name",
                "done",
                "--resume",
                "--epochs",
                "3",
            ]
        )
        == 2
    )
    line = _one_error_line(capsys, "train", run_dir / "checkpoints" / named)
    assert problem in line
    assert "delete the run directory's checkpoints/ to train it again from the start" in line
    assert _snapshot(run_dir) == before  # run.json, config.yml (epochs: 2) and history untouched
    with pytest.raises(ModelError, match=str(run_dir / "checkpoints")):
        load_training_model(run_dir)  # the library's reader of the checkpoint says the same


def _rewrite_state(checkpoints, **changes) -> None:
    path = checkpoints / "state.npz"
    with np.load(path) as state:
        arrays = {k: state[k] for k in state.files}
    with path.open("wb") as f:
        np.savez(f, **{**arrays, **changes})


def test_corrupt_gmm(run_dir):
    info = json.loads((run_dir / "run.json").read_text())
    (run_dir / "run.json").write_text(json.dumps({**info, "deployed_output": "latent"}))
    (run_dir / "gmm.joblib").write_bytes(b"\x80\x04garbage")
    with pytest.raises(ModelError) as err:
        load_run(run_dir)
    assert str(err.value).startswith(f"{run_dir / 'gmm.joblib'}: cannot load the Gaussian mixture (")


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("[1, 2]", "expected a JSON object, found a list"),
        ('{"loss": [1.0, 0.5], "val_loss": [1.0]}', "different lengths (1, 2)"),
        ('{"loss": "1.0"}', "'loss' must be a list of per-epoch numbers, found a string"),
        ('{"loss": [1.0, 0.', "not valid JSON"),
    ],
)
def test_corrupt_history_is_a_warning_and_no_loss_plot(content, problem, tmp_path, caplog):
    from wnae.evaluate.plots import plot_loss

    path = tmp_path / "history.json"
    path.write_text(content)
    with caplog.at_level(logging.WARNING, logger="wnae.evaluate.plots"):
        assert plot_loss(path, tmp_path / "plots", ["png"]) == []
    assert len(caplog.records) == 1
    message = caplog.records[0].getMessage()
    assert message.startswith(f"{path}: ")
    assert problem in message
    assert message.endswith("; no loss plot")


class _Run:
    def __init__(self, path) -> None:
        self.path = path


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("{not json", "not valid JSON"),
        ("{}", "missing key 'working_points'"),
        ('{"working_points": [{"name": "Loose"}]}', "working_points[0] has no 'threshold'"),
        (
            '{"working_points": [{"name": "Loose", "threshold": "3"}]}',
            "working_points[0] 'threshold' must be a number, found a string",
        ),
    ],
)
def test_corrupt_working_points_in_csim(content, problem, tmp_path):
    """csim's thresholds (wnae.firmware.compare, called after the C simulation) from a corrupt working_points.json."""
    from wnae.firmware.compare import _thresholds

    path = tmp_path / "working_points.json"
    path.write_text(content)
    scores = np.linspace(0, 10, 100)
    with pytest.raises(ModelError) as err:
        _thresholds(_Run(tmp_path), "score", scores, np.ones(100, bool), False)
    assert str(err.value).startswith(f"{path}: {problem}")
    assert "run 'wnae evaluate' on the run again to rewrite it" in str(err.value)
    path.write_text(json.dumps({"working_points": [{"name": "Loose", "threshold": 3.5}]}))
    assert _thresholds(_Run(tmp_path), "score", scores, np.ones(100, bool), False)[0] == {"Loose": 3.5}
