"""The one loader of run files: each bad JSON/NPZ/checkpoint is one ModelError naming the file and the problem."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from wnae.errors import ModelError, WnaeError
from wnae.models.run_files import (
    read_history,
    read_json,
    read_npz,
    read_run_info,
    read_training_state,
    read_working_points,
    restore_checkpoint,
)


def _one_line_naming(err: pytest.ExceptionInfo, path) -> str:
    text = str(err.value)
    assert isinstance(err.value, WnaeError)
    assert "\n" not in text
    assert text.startswith(f"{path}: "), text
    return text


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("{}", "missing keys 'model', 'deployed_output'"),
        ('{"model": "ae"}', "missing key 'deployed_output'"),
        ("{not json", "not valid JSON (Expecting property name enclosed in double quotes at line 1 column 2)"),
        ("", "empty file (truncated?)"),
        ('{"model": "ae", "deployed_output": "sco', "not valid JSON"),
        ("[1, 2]", "expected a JSON object, found a list"),
        ('{"model": 3, "deployed_output": "score"}', "'model' must be a string, found an integer"),
        (
            '{"model": "ae", "deployed_output": "energy"}',
            "'deployed_output' must be 'score' or 'latent', found 'energy'",
        ),
        ('{"model": "ae", "deployed_output": "score", "seed": true}', "'seed' must be an integer, found true/false"),
        ('{"model": "ae", "deployed_output": "score", "epochs": "4"}', "'epochs' must be an integer, found a string"),
        ('{"model": "", "deployed_output": "score"}', "'model' is empty"),
    ],
)
def test_run_info_problems(tmp_path, content, problem):
    path = tmp_path / "run.json"
    path.write_text(content)
    with pytest.raises(ModelError) as err:
        read_run_info(path)
    text = _one_line_naming(err, path)
    assert problem in text
    assert "wnae train --name <run> --resume" in text  # what to do about it


def test_run_info_good_and_binary_and_missing(tmp_path):
    path = tmp_path / "run.json"
    path.write_text(json.dumps({"model": "wnae", "deployed_output": "latent", "seed": 3, "extra": [1]}))
    assert read_run_info(path)["seed"] == 3
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ModelError, match="not UTF-8"):
        read_run_info(path)
    with pytest.raises(ModelError) as err:
        read_run_info(tmp_path / "none.json")
    assert "file not found" in _one_line_naming(err, tmp_path / "none.json")
    with pytest.raises(ModelError, match="is a directory"):
        read_json(tmp_path)


def test_history(tmp_path):
    path = tmp_path / "history.json"
    path.write_text(json.dumps({"loss": [1.0, 0.5], "energy_neg": [None, 2]}))
    history = read_history(path)
    assert history["loss"] == [1.0, 0.5]
    assert math.isnan(history["energy_neg"][0])
    for content, problem in [
        ("[1]", "expected a JSON object, found a list"),
        ('{"loss": 1.0}', "'loss' must be a list of per-epoch numbers, found a number"),
        ('{"loss": [1.0, "x"]}', "'loss' epoch 2 must be a number, found a string"),
        ('{"loss": [1.0], "val_loss": [1.0, 2.0]}', "different lengths (1, 2)"),
        ('{"loss": [1.0', "not valid JSON"),
    ]:
        path.write_text(content)
        with pytest.raises(ModelError) as err:
            read_history(path)
        assert problem in _one_line_naming(err, path)


def test_working_points(tmp_path):
    path = tmp_path / "working_points.json"
    path.write_text(
        json.dumps(
            {
                "working_points": [
                    {"name": "Loose", "threshold": 12.5, "rate_khz": 100},
                    {"name": "Tight", "threshold": 40},
                ]
            }
        )
    )
    assert read_working_points(path) == {"Loose": 12.5, "Tight": 40.0}
    for content, problem in [
        ("{}", "missing key 'working_points'"),
        ('{"working_points": {}}', "'working_points' must be a list, found an object"),
        ('{"working_points": []}', "no working points"),
        ('{"working_points": [3]}', "working_points[0] must be an object, found an integer"),
        ('{"working_points": [{"name": "L"}]}', "working_points[0] has no 'threshold'"),
        (
            '{"working_points": [{"name": "L", "threshold": "1"}]}',
            "working_points[0] 'threshold' must be a number, found a string",
        ),
        ('{"working_points": [{"name": "L", "threshold": NaN}]}', "threshold is not finite"),
        ("garbage", "not valid JSON"),
    ]:
        path.write_text(content)
        with pytest.raises(ModelError) as err:
            read_working_points(path)
        text = _one_line_naming(err, path)
        assert problem in text
        assert "wnae evaluate" in text


def _state(path, **arrays):
    base = {"history": json.dumps({"loss": [1.0, 0.5]}), "epoch": 2}
    with path.open("wb") as f:
        np.savez(f, **{**base, **arrays})
    return path


def test_npz_and_training_state(tmp_path):
    path = _state(tmp_path / "state.npz", replay_buffer=np.ones((3, 57), np.float32))
    state = read_training_state(path)
    assert state.epoch == 2
    assert state.history == {"loss": [1.0, 0.5]}
    assert set(state.extra) == {"replay_buffer"}
    data = path.read_bytes()
    for corrupt, problem in [
        (data[: len(data) // 2], "truncated or corrupt NPZ archive"),
        (data[:10], "truncated or corrupt NPZ archive"),
        (b"", "empty file (truncated?)"),
        (b"hello world, not a zip", "not a readable NPZ archive"),
    ]:
        path.write_bytes(corrupt)
        with pytest.raises(ModelError) as err:
            read_training_state(path)
        text = _one_line_naming(err, path)
        assert problem in text
        assert "delete the run directory's checkpoints/" in text
    for arrays, problem in [
        ({"epoch": 1}, "'history' has 2 epochs but 'epoch' says 1"),
        ({"epoch": 2.5}, "'epoch' must be a non-negative integer"),
        ({"history": "{bad"}, "'history' is not valid JSON"),
        ({"history": json.dumps({"loss": ["x", 1]})}, "'history': 'loss' epoch 1 must be a number"),
        ({"history": np.zeros(3)}, "'history' must be a JSON string"),
    ]:
        _state(path, **arrays)
        with pytest.raises(ModelError) as err:
            read_training_state(path)
        assert problem in _one_line_naming(err, path)
    with path.open("wb") as f:
        np.savez(f, epoch=2)
    with pytest.raises(ModelError, match="missing array 'history' \\(per-epoch metrics\\)"):
        read_training_state(path)
    with path.open("wb") as f:
        np.savez(f, epoch=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ModelError, match="not a readable NPZ archive"):
        read_npz(path)
    with pytest.raises(ModelError, match="file not found"):
        read_npz(tmp_path / "none.npz")


def test_restore_checkpoint_names_the_bad_file(tmp_path):
    import tensorflow as tf

    def objects():
        layer = tf.keras.layers.Dense(3)
        layer.build((None, 4))
        return tf.train.Checkpoint(layer=layer, rng=tf.random.Generator.from_seed(1))

    prefix = tmp_path / "ckpt-1"
    objects().write(str(prefix))
    restore_checkpoint(objects(), prefix)  # fine
    index = tmp_path / "ckpt-1.index"
    data_file = next(tmp_path.glob("ckpt-1.data-*"))
    good_index, good_data = index.read_bytes(), data_file.read_bytes()
    index.write_bytes(good_index[: len(good_index) // 2])
    with pytest.raises(ModelError) as err:
        restore_checkpoint(objects(), prefix)
    assert "cannot restore the TensorFlow checkpoint (OpError: not an sstable" in _one_line_naming(err, index)
    index.write_bytes(good_index)
    data_file.write_bytes(good_data[: len(good_data) // 2])
    with pytest.raises(ModelError) as err:
        restore_checkpoint(objects(), prefix)
    assert "cannot restore the TensorFlow checkpoint (IndexError" in _one_line_naming(err, f"{prefix}.{{index,data-*}}")
    data_file.unlink()
    with pytest.raises(ModelError, match="checkpoint data not found"):
        restore_checkpoint(objects(), prefix)
    with pytest.raises(ModelError) as err:
        restore_checkpoint(objects(), tmp_path / "ckpt-7")
    assert "checkpoint index not found" in _one_line_naming(err, tmp_path / "ckpt-7.index")
    objects().write(str(prefix))
    other = tf.keras.layers.Dense(5)
    other.build((None, 4))
    with pytest.raises(ModelError, match="cannot restore the TensorFlow checkpoint"):
        restore_checkpoint(tf.train.Checkpoint(layer=other), prefix)  # another architecture
