"""Training streamed from HDF5 in chunks: same split, normaliser and batches as in memory; resumable."""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Iterable
from pathlib import Path

import h5py
import numpy as np
import pytest

from tests.conftest import write_toy_data_dir
from tests.train import test_resume
from tests.train.test_resume import assert_bit_identical
from wnae.config import parse_config
from wnae.errors import DataError
from wnae.models.config import TrainConfig
from wnae.train import data_source
from wnae.train.data_source import MemorySource, StreamSource, open_source, resolve_mode
from wnae.train.loop import train

#: One window holds the whole toy split (4 files of 500 events: 32 chunks of at most 64 events).
ONE_WINDOW = {"mode": "stream", "chunk_events": 64, "shuffle_chunks": 1000}
#: Eleven windows of three chunks (about 115 training events each) per epoch.
SMALL_WINDOWS = {"mode": "stream", "chunk_events": 64, "shuffle_chunks": 3}
TINY = {
    "batch_size": 100,
    "architecture": {"encoder": [16, 8], "latent_dim": 4},
    "mcmc": {"steps": 2, "buffer_size": 256, "pretrain_epochs": 0},
    "gmm": {"max_components": 2},
}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """1200 SM training and 400 validation events."""
    return write_toy_data_dir(tmp_path_factory.mktemp("toy") / "data", n_background=500, n_zero_bias=10, n_signal=10)


def _cfg(model: str = "ae", loading: dict | None = None, **extra) -> TrainConfig:
    return parse_config(
        TrainConfig, {"model": model, "epochs": 1, **TINY, "loading": loading or {"mode": "memory"}, **extra}
    )


def _rows(features: np.ndarray) -> np.ndarray:
    """The rows of ``features`` in lexicographic order: equal for two arrays with the same rows (a multiset)."""
    return features[np.lexsort(features.T[::-1])]


def _same_batches(a: Iterable[dict], b: Iterable[dict]) -> bool:
    a, b = list(a), list(b)
    return len(a) == len(b) and all(
        x.keys() == y.keys() and all(np.array_equal(x[k], y[k]) for k in x) for x, y in zip(a, b, strict=True)
    )


# ------------------------------------------------------------------------- the same as in memory


@pytest.mark.slow
@pytest.mark.parametrize("model", ["ae", "wnae", "mlp_encoder"])
def test_one_window_trains_exactly_as_in_memory(model, data_dir, tmp_path):
    memory = train(_cfg(model), data_dir=data_dir, runs_dir=tmp_path, name="m", progress=False)
    stream = train(_cfg(model, ONE_WINDOW), data_dir=data_dir, runs_dir=tmp_path, name="s", progress=False)
    assert stream.history["loss"] == memory.history["loss"]
    val_keys = [k for k in memory.history if k.startswith("val_")]
    assert val_keys
    assert all(stream.history[k] == memory.history[k] for k in val_keys)
    assert memory.metrics["loading"]["mode"] == "memory"
    assert stream.metrics["loading"] == ONE_WINDOW
    for key in ("train_events", "train_events_per_epoch", "validation_events"):
        assert stream.metrics[key] == memory.metrics[key], key
    assert (tmp_path / "s" / "normalisation.json").read_text() == (tmp_path / "m" / "normalisation.json").read_text()


def test_one_window_gives_the_in_memory_batches_views_and_samples(data_dir):
    memory, stream = MemorySource(data_dir, _cfg()), StreamSource(data_dir, _cfg(loading=ONE_WINDOW))
    assert len(stream.windows(0)) == 1
    assert stream.norm.to_dict() == memory.norm.to_dict()
    for kind in ("features", "views"):  # views: the same augmentations (same generator calls) and labels
        assert _same_batches(stream.epoch_batches(kind, 1), memory.epoch_batches(kind, 1)), kind
        assert _same_batches(stream.validation_batches(kind), memory.validation_batches(kind)), kind
    np.testing.assert_array_equal(stream.train_sample, memory.train_x)
    np.testing.assert_array_equal(stream.validation_sample, memory.val_x)


def test_max_train_events_keeps_the_same_events(data_dir):
    cfg = {"max_train_events": 700}
    memory = MemorySource(data_dir, _cfg(**cfg))
    stream = StreamSource(data_dir, _cfg(loading=SMALL_WINDOWS, **cfg))
    assert (stream.n_train, stream.n_validation) == (memory.n_train, memory.n_validation) == (700, 233)
    assert stream.norm.to_dict() == memory.norm.to_dict()
    np.testing.assert_array_equal(stream.train_sample, memory.train_x)
    np.testing.assert_array_equal(stream.validation_sample, memory.val_x)
    visited = np.concatenate(stream.epoch_indices(0))
    np.testing.assert_array_equal(np.sort(visited), np.arange(700))


# ------------------------------------------------------------------------------ small windows


@pytest.mark.parametrize("batch_size", [100, 128])
def test_small_windows_visit_every_training_event_once_per_epoch(batch_size, data_dir):
    memory = MemorySource(data_dir, _cfg(batch_size=batch_size))
    stream = StreamSource(data_dir, _cfg(loading=SMALL_WINDOWS, batch_size=batch_size))
    assert len(stream.windows(0)) == 11
    assert stream.norm.to_dict() == memory.norm.to_dict()  # bit for bit, fitted chunk by chunk
    n = memory.n_train
    for epoch in (0, 1):
        batches = stream.epoch_indices(epoch)
        assert all(len(b) == batch_size for b in batches)
        visited = np.concatenate(batches)
        assert len(visited) == stream.events_per_epoch == (n // batch_size) * batch_size
        assert len(np.unique(visited)) == len(visited)  # the left-over of a window carries over, none twice
        if n % batch_size == 0:
            np.testing.assert_array_equal(np.sort(visited), np.arange(n))
            features = np.concatenate([b["features"] for b in stream.epoch_batches("features", epoch)])
            np.testing.assert_array_equal(_rows(features), _rows(memory.train_x))
    assert not np.array_equal(stream.chunk_order(0), stream.chunk_order(1))
    again = StreamSource(data_dir, _cfg(loading=SMALL_WINDOWS, batch_size=batch_size))  # (seed, epoch) alone
    assert all(np.array_equal(a, b) for a, b in zip(again.epoch_indices(1), stream.epoch_indices(1), strict=True))


def test_small_windows_views_carry_each_event_with_its_label(data_dir):
    memory, stream = MemorySource(data_dir, _cfg()), StreamSource(data_dir, _cfg(loading=SMALL_WINDOWS))
    labels = np.concatenate([b["labels"] for b in stream.epoch_batches("views", 0)])
    np.testing.assert_array_equal(np.bincount(labels), np.bincount(memory.train_events.process_label))


def test_fewer_events_than_one_batch_is_one_batch_of_all(data_dir):
    cfg = {"batch_size": 2000}  # more than the 1200 training events, as in memory
    memory = MemorySource(data_dir, _cfg(**cfg))
    one, small = (
        StreamSource(data_dir, _cfg(loading=ONE_WINDOW, **cfg)),
        StreamSource(data_dir, _cfg(loading=SMALL_WINDOWS, **cfg)),
    )
    assert _same_batches(one.epoch_batches("features", 0), memory.epoch_batches("features", 0))
    (batch,) = small.epoch_indices(0)
    np.testing.assert_array_equal(np.sort(batch), np.arange(1200))


def test_standard_normaliser_agrees_to_rounding(data_dir):
    memory = MemorySource(data_dir, _cfg(normalisation="standard"))
    stream = StreamSource(data_dir, _cfg(loading=SMALL_WINDOWS, normalisation="standard"))
    np.testing.assert_allclose(stream.norm.mean, memory.norm.mean, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(stream.norm.std, memory.norm.std, rtol=1e-12)


def test_validation_in_pieces_as_in_memory(tmp_path):
    """8800 validation events: two pieces of 4400, each streamed over several chunks of each file."""
    data_dir = write_toy_data_dir(tmp_path / "data", n_background=11_000, n_zero_bias=10, n_signal=10)
    loading = {"mode": "stream", "chunk_events": 3000, "shuffle_chunks": 2}
    memory, stream = MemorySource(data_dir, _cfg()), StreamSource(data_dir, _cfg(loading=loading))
    assert [len(b["features"]) for b in stream.validation_batches("features")] == [4400, 4400]
    assert _same_batches(stream.validation_batches("features"), memory.validation_batches("features"))
    assert _same_batches(stream.validation_batches("views"), memory.validation_batches("views"))
    for n in (1, 4095, 8191, 8192, 12_289):
        assert data_source._piece_sizes(n) == [len(p) for p in np.array_split(np.arange(n), max(1, n // 4096))]


def test_samples_are_bounded(data_dir, monkeypatch):
    monkeypatch.setattr(data_source, "TRAIN_SAMPLE_EVENTS", 100)
    monkeypatch.setattr(data_source, "VALIDATION_SAMPLE_EVENTS", 50)
    memory, stream = MemorySource(data_dir, _cfg()), StreamSource(data_dir, _cfg(loading=SMALL_WINDOWS))
    np.testing.assert_array_equal(stream.train_sample, memory.train_x[::12])  # every 12th of 1200: 100
    np.testing.assert_array_equal(stream.validation_sample, memory.val_x[::8])  # every 8th of 400: 50


# ----------------------------------------------------------------------------- resume, choice


def _history_without_timings(run_dir: Path) -> dict:
    history = json.loads((run_dir / "history.json").read_text())
    return {k: v for k, v in history.items() if k not in ("seconds", "events_per_second") and not k.endswith("_ms")}


@pytest.mark.slow
def test_auto_streams_above_the_limit_and_resumes_bit_identical(data_dir, tmp_path, caplog, monkeypatch):
    """mode auto with a limit below the 1200 training events: streamed, in small windows; resumed after epoch 2."""
    monkeypatch.setattr(test_resume, "_history", _history_without_timings)  # step_ms, solver_ms: wall times
    loading = {**SMALL_WINDOWS, "mode": "auto", "memory_limit_events": 1000}

    def cfg(epochs: int) -> TrainConfig:
        return _cfg("wnae", loading, epochs=epochs, mcmc={"steps": 2, "buffer_size": 256, "pretrain_epochs": 1})

    with caplog.at_level(logging.INFO, logger="wnae.train.data_source"):
        full = train(cfg(3), data_dir=data_dir, runs_dir=tmp_path, name="full", progress=False)
    assert "loading: streaming 1200 SM training events" in caplog.text
    assert "(auto: the SM training split has more than memory_limit_events = 1000)" in caplog.text
    assert full.metrics["loading"]["mode"] == "stream"
    assert json.loads((full.run_dir / "metrics.json").read_text())["loading"]["mode"] == "stream"
    train(cfg(2), data_dir=data_dir, runs_dir=tmp_path, name="r", progress=False)
    train(None, data_dir=data_dir, runs_dir=tmp_path, name="r", resume=True, epochs=3, progress=False)
    assert_bit_identical(full.run_dir, tmp_path / "r")


def test_auto_choice(data_dir):
    def mode(limit: int, **extra) -> str:
        return resolve_mode(data_dir, _cfg(loading={"mode": "auto", "memory_limit_events": limit}, **extra))

    assert mode(1199) == "stream"
    assert mode(1200) == "memory"  # streams only above the limit
    assert mode(1000, max_train_events=1000) == "stream"  # in memory the whole split would be read first
    assert resolve_mode(data_dir, _cfg(loading={"mode": "stream", "memory_limit_events": 10**9})) == "stream"
    assert isinstance(open_source(data_dir, _cfg(loading={"mode": "auto", "memory_limit_events": 5})), StreamSource)


# ---------------------------------------------------------------------------------- bad files


@pytest.fixture
def own_data(data_dir, tmp_path):
    """A copy of the toy data directory that a test may break."""
    return shutil.copytree(data_dir, tmp_path / "data")


def test_missing_file_is_a_data_error(own_data, tmp_path):
    (own_data / "qcd.h5").unlink()
    with pytest.raises(DataError, match=r"qcd\.h5: sample 'qcd' is listed but its file is missing"):
        train(_cfg(loading=SMALL_WINDOWS), data_dir=own_data, runs_dir=tmp_path, name="x", progress=False)


def test_corrupt_file_is_a_data_error_naming_it(own_data):
    (own_data / "wjets.h5").write_bytes(b"not an HDF5 file" * 100)
    with pytest.raises(DataError, match=r"wjets\.h5: not a readable HDF5 file"):
        StreamSource(own_data, _cfg(loading={**SMALL_WINDOWS, "mode": "auto", "memory_limit_events": 1}))


def test_file_broken_while_training_is_a_data_error_naming_it(own_data):
    stream = StreamSource(own_data, _cfg(loading=SMALL_WINDOWS))
    (own_data / "ttbar.h5").write_bytes(b"\0" * 4096)
    with pytest.raises(DataError, match=r"ttbar\.h5: not a readable HDF5 file"):
        list(stream.epoch_batches("features", 0))


def test_bad_value_is_found_by_the_first_pass(own_data):
    with h5py.File(own_data / "dy.h5", "a") as f:
        f["Particles"][123, 9, 0] = 1e30  # a training event's leading jet
    with pytest.raises(DataError, match=r"dy\.h5:/Particles event 123: pT = 1e\+30 GeV"):
        StreamSource(own_data, _cfg(loading=SMALL_WINDOWS))
